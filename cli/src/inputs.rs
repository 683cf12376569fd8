//! Reads `-f` paths as kubectl does: files, folders (recursively `*.yaml`, `*.yml`, `*.json`,
//! in name order) and `-` for standard input.

use meshsim_core::SourceFile;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct InputError {
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error: {}\n  hint: {}", self.message, self.hint)
    }
}

fn manifest_ext(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Every manifest file under `dir`, sorted, recursively.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if manifest_ext(&p) && !p.to_string_lossy().ends_with(".cases.yaml") {
            out.push(p);
        }
    }
    Ok(())
}

pub fn read_paths(paths: &[String]) -> Result<Vec<SourceFile>, InputError> {
    let mut files = Vec::new();
    for p in paths {
        if p == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| InputError { message: format!("cannot read standard input: {e}"), hint: "pipe manifests in, e.g. kubectl get ... -o yaml | meshsim get workloads -f -".into() })?;
            files.push(SourceFile::new("<stdin>", buf));
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|e| InputError {
                message: format!("cannot read folder {p}: {e}"),
                hint: "check the path and its permissions".into(),
            })?;
            for f in found {
                files.push(read_file(&f)?);
            }
        } else {
            files.push(read_file(path)?);
        }
    }
    Ok(files)
}

pub fn read_file(path: &Path) -> Result<SourceFile, InputError> {
    match std::fs::read(path) {
        Ok(b) => Ok(SourceFile::new(path.display().to_string(), b)),
        Err(e) => Err(InputError {
            message: format!("cannot read {}: {e}", path.display()),
            hint: if e.kind() == std::io::ErrorKind::NotFound {
                "check the path; -f takes files, folders or - for standard input".into()
            } else {
                "check the file's permissions".into()
            },
        }),
    }
}
