//! Embeds every lab under `scenarios/` (manifests, case files, the README's title) into the
//! playground at build time, so a lab added to the folder appears in the page's lab picker
//! with no change to the code.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest_dir.join("..");
    let scenarios = root.join("scenarios");
    // A folder given to rerun-if-changed is scanned whole: new labs and edits both rebuild.
    println!("cargo:rerun-if-changed={}", scenarios.display());
    let mut files = Vec::new();
    if let Err(e) = walk(&scenarios, &mut files) {
        println!("cargo:warning=cannot read {}: {e}", scenarios.display());
    }
    files.sort();
    let mut out = String::from(
        "/// Every file of every lab: (path from the repository root, text), in path order.\n\
         pub const SCENARIO_FILES: &[(&str, &str)] = &[\n",
    );
    for f in &files {
        let rel = f.strip_prefix(&root).unwrap_or(f);
        let rel: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let _ = writeln!(
            out,
            "    ({:?}, include_str!({:?})),",
            rel.join("/"),
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("scenarios.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("cannot write {}: {e}", dest.display());
    }
}

/// Manifests (`.yaml`, `.yml`, `.json`), case files and READMEs, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let wanted = name == "README.md"
                || matches!(
                    path.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                );
            // Only UTF-8 text can be embedded with include_str!; the loader reports others.
            if wanted && std::fs::read_to_string(&path).is_ok() {
                out.push(path);
            }
        }
    }
    Ok(())
}
