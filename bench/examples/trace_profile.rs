//! Traces a generated mesh's cases twice, so that a profiler can count the repeated traces
//! alone: `repeated_traces` is the function to collect, as in
//!
//! ```sh
//! cargo build --release -p meshsim-bench --example trace_profile
//! valgrind --tool=callgrind --toggle-collect='trace_profile::repeated_traces' \
//!     target/release/examples/trace_profile 1000 200 [verdict]
//! ```
//!
//! The figure callgrind prints, divided by the number of cases, is a repeated trace's
//! instruction count.

/// The allocator the `meshsim` binary uses, so that the figures are the CLI's.
#[global_allocator]
static ALLOCATOR: meshsim_cli::alloc::Allocator = meshsim_cli::alloc::Allocator;

use meshsim_core::parse::LoadOptions;
use meshsim_core::sim::{trace_with, Detail};
use meshsim_core::{Mesh, ModelOptions, Request};
use std::hint::black_box;

fn main() {
    meshsim_cli::inputs::small_pages();
    let mut args = std::env::args().skip(1);
    let services = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let count = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let detail = match args.next().as_deref() {
        Some("verdict") => Detail::Verdict,
        _ => Detail::Full,
    };
    let files = meshsim_bench::generate(services).source_files("mesh");
    let (mesh, _) =
        meshsim_core::build_mesh(&files, &LoadOptions::default(), &ModelOptions::default());
    let requests: Vec<Request> = meshsim_bench::cases(services, count)
        .iter()
        .map(|c| c.request())
        .collect();
    first_traces(&mesh, &requests, detail);
    let ok = repeated_traces(&mesh, &requests, detail);
    eprintln!("traced {} cases twice; {ok} gave a trace", requests.len());
}

#[inline(never)]
fn first_traces(mesh: &Mesh, requests: &[Request], detail: Detail) {
    for r in requests {
        black_box(trace_with(mesh, r, detail)).ok();
    }
}

/// Counts what it traces, so that it is not folded into `first_traces`.
#[inline(never)]
fn repeated_traces(mesh: &Mesh, requests: &[Request], detail: Detail) -> usize {
    requests
        .iter()
        .filter(|r| black_box(trace_with(mesh, r, detail)).is_ok())
        .count()
}
