//! The data-driven harness: runs every `*.cases.yaml` under `tests/` and `scenarios/` and ends
//! with the standard summary line `N passed, M failed`.

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let dirs: Vec<String> = ["tests", "scenarios"]
        .iter()
        .map(|d| root.join(d).display().to_string())
        .collect();
    let files = meshsim_cli::cases::collect(&dirs).expect("case folders exist");
    let report = meshsim_cli::cases::run(&files);
    for r in &report.results {
        if r.failures.is_empty() {
            println!("ok   {} :: {}", r.file, r.name);
        } else {
            println!("FAIL {} :: {}", r.file, r.name);
            for f in &r.failures {
                println!("    {f}");
            }
        }
    }
    println!(
        "cases: {} passed, {} failed",
        report.passed(),
        report.failed()
    );
    if report.failed() > 0 || report.results.is_empty() {
        std::process::exit(1);
    }
}
