//! A verdict (`Detail::Verdict`, what `meshsim test` computes for a case that checks no
//! access-log line) must decide exactly as the full trace does: for every case under `tests/`
//! and `scenarios/`, and under `../shared/conformance` where it exists, the two traces agree on
//! everything but their words (steps, notes, explanation, decisions, rendered log lines).

use meshsim_core::sim::{trace_with, Detail, Trace};

/// The trace without its words, in a form that compares every remaining field.
fn decided(mut t: Trace) -> String {
    t.notes.clear();
    t.explanation.clear();
    for h in &mut t.hops {
        h.steps.clear();
        h.decision.clear();
        h.access_log = None;
    }
    // The log records (`envoy_log`, `ztunnel_log`) are the material of the access-log lines,
    // which a verdict leaves out; whether each hop answered by itself is compared.
    let replied: Vec<bool> = t.hops.iter().map(|h| h.replied).collect();
    format!(
        "{} {replied:?}",
        serde_json::to_string(&t).unwrap_or_default()
    )
}

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let mut dirs: Vec<String> = ["tests", "scenarios"]
        .iter()
        .map(|d| root.join(d).display().to_string())
        .collect();
    let shared = root.join("../shared/conformance");
    if shared.is_dir() {
        dirs.push(shared.display().to_string());
    } else {
        println!(
            "verdict: {} does not exist; checking the project's own cases only",
            shared.display()
        );
    }
    let files = meshsim_cli::cases::collect(&dirs).expect("case folders exist");
    let (mut same, mut differ) = (0, 0);
    for f in &files {
        let Ok(l) = meshsim_cli::cases::load_file(f) else {
            continue;
        };
        for c in &l.cases.cases {
            let req = c.to_request();
            let full = trace_with(&l.mesh, &req, Detail::Full).map(decided);
            let verdict = trace_with(&l.mesh, &req, Detail::Verdict).map(decided);
            match (full, verdict) {
                (Ok(a), Ok(b)) if a == b => same += 1,
                (Err(a), Err(b)) if a.to_string() == b.to_string() => same += 1,
                (a, b) => {
                    differ += 1;
                    println!("DIFFER {} :: {}", l.file, c.name);
                    println!("  full:    {a:?}");
                    println!("  verdict: {b:?}");
                }
            }
        }
    }
    println!("verdict: {same} cases agree with the full trace, {differ} differ");
    if differ > 0 || same == 0 {
        std::process::exit(1);
    }
}
