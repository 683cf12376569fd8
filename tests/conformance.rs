//! Runs the shared conformance suites (`../shared/conformance`: cases derived from the Gateway
//! API conformance suite and from Istio's own simulation tests) when they are present, and
//! skips with a printed reason where they are not (a user's fresh clone has no `../shared`).
//!
//! Every case must pass except those listed in `conformance-known-failures.txt`, and every case
//! listed there must still fail: the list is a ratchet that only shrinks.

use std::collections::BTreeSet;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let shared = root.join("../shared/conformance");
    if !shared.is_dir() {
        println!("conformance: skipped: {} does not exist (the shared suites are only beside the project's own checkout)", shared.display());
        println!("conformance: 0 passed, 0 failed, 1 skipped");
        return;
    }
    let known_text = std::fs::read_to_string(root.join("tests/conformance-known-failures.txt"))
        .unwrap_or_default();
    let known: BTreeSet<String> = known_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    let files = meshsim_cli::cases::collect(&[shared.display().to_string()])
        .expect("conformance folder readable");
    let report = meshsim_cli::cases::run(&files);
    let prefix = format!("{}/", shared.display());
    let mut unexpected = 0;
    let mut fixed = Vec::new();
    for r in &report.results {
        let key = format!(
            "{} :: {}",
            r.file.strip_prefix(&prefix).unwrap_or(&r.file),
            r.name
        );
        let listed = known.contains(&key);
        match (r.failures.is_empty(), listed) {
            (true, true) => fixed.push(key),
            (false, false) => {
                unexpected += 1;
                println!("FAIL {key}");
                for f in &r.failures {
                    println!("    {f}");
                }
            }
            _ => {}
        }
    }
    for k in &fixed {
        println!("FIXED (remove from tests/conformance-known-failures.txt): {k}");
    }
    println!(
        "conformance: {} passed, {} failed ({} of them known)",
        report.passed(),
        report.failed(),
        report.failed() - unexpected
    );
    if unexpected > 0 || !fixed.is_empty() {
        std::process::exit(1);
    }
}
