//! The CLI and the playground read a request the same way: for every example request of the
//! labs, `meshsim trace -o json` given the request as shell words prints exactly the JSON that
//! the shared core path (`api::parse_request_command` on the one-line form the playground's
//! request bar shows, then `api::trace_json`) gives.

use meshsim_core::api::{parse_request_command, request_to_command, split_words, trace_json};
use meshsim_core::cases::parse_case_file;
use meshsim_core::{build_mesh, LoadOptions, ModelOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn case_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            case_files(&p, out);
        } else if p.to_string_lossy().ends_with(".cases.yaml") {
            out.push(p);
        }
    }
}

/// The words of a request line as a person passes them to the CLI: `'SRC -> DEST'` as one
/// argument (a bare `->` would be read as an option), then the flags.
fn as_shell_args(line: &str) -> Vec<String> {
    let mut words = split_words(line).expect("words");
    if let Some(i) = words.iter().position(|w| w == "->") {
        if i > 0 && i + 1 < words.len() {
            let joined = words[i - 1..=i + 1].join(" ");
            words.splice(i - 1..=i + 1, [joined]);
        }
    }
    words
}

#[test]
fn cli_json_equals_the_shared_core_path_for_every_lab_request() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    case_files(&root.join("scenarios"), &mut files);
    assert!(!files.is_empty(), "the labs have case files");
    let mut compared = 0;
    for file in files {
        let rel = file.strip_prefix(&root).unwrap_or(&file);
        let text = std::fs::read_to_string(&file).expect("case file is readable");
        let cf = parse_case_file(&rel.display().to_string(), &text).expect("case file parses");
        if cf.mesh.is_some() {
            // Its meshConfig would need --mesh-config; the playground applies it from the lab.
            continue;
        }
        let base = rel.parent().unwrap_or(Path::new(""));
        let manifest_paths: Vec<String> = cf
            .manifests
            .iter()
            .map(|m| base.join(m).display().to_string())
            .collect();
        let mut inputs = Vec::new();
        for p in &manifest_paths {
            inputs.push("-f".to_string());
            inputs.push(p.clone());
        }
        let cwd = std::env::current_dir().expect("cwd");
        std::env::set_current_dir(&root).expect("cd to the repository");
        let sources = meshsim_cli::inputs::read_paths(&manifest_paths).expect("manifests read");
        std::env::set_current_dir(cwd).expect("cd back");
        let (mesh, _) = build_mesh(&sources, &LoadOptions::default(), &ModelOptions::default());
        for case in &cf.cases {
            let line = request_to_command(&case.to_request());
            let expected = trace_json(&mesh, &parse_request_command(&line).expect("line reads"))
                .expect("traces");
            let out = Command::new(env!("CARGO_BIN_EXE_meshsim"))
                .current_dir(&root)
                .arg("trace")
                .arg("-o")
                .arg("json")
                .args(&inputs)
                .args(as_shell_args(&line))
                .output()
                .expect("meshsim runs");
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{}: {line}: {}",
                rel.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("{expected}\n"),
                "{}: {line}",
                rel.display()
            );
            compared += 1;
        }
    }
    assert!(compared > 0);
}
