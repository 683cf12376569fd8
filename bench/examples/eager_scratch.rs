#[global_allocator]
static ALLOCATOR: meshsim_cli::alloc::Allocator = meshsim_cli::alloc::Allocator;
use meshsim_core::parse::LoadOptions;
use meshsim_core::sim::{trace_with, Detail};
use meshsim_core::{ModelOptions, Request};
use std::hint::black_box;
fn main() {
    meshsim_cli::inputs::small_pages();
    let mut args = std::env::args().skip(1);
    let services = args.next().and_then(|a| a.parse().ok()).unwrap_or(10000);
    let count = args.next().and_then(|a| a.parse().ok()).unwrap_or(600);
    let detail = match args.next().as_deref() {
        Some("verdict") => Detail::Verdict,
        _ => Detail::Full,
    };
    let files = meshsim_bench::generate(services).source_files("mesh");
    let (mesh, _) =
        meshsim_core::build_mesh(&files, &LoadOptions::default(), &ModelOptions::default());
    if std::env::var("EAGER").is_ok() {
        for i in 0..mesh.virtual_services.len() {
            black_box(meshsim_core::sim::route::vs_routes(&mesh, i));
        }
    }
    let requests: Vec<Request> = meshsim_bench::cases(services, count)
        .iter()
        .map(|c| c.request())
        .collect();
    let mut times = Vec::new();
    for r in &requests {
        let t = std::time::Instant::now();
        black_box(trace_with(&mesh, r, detail)).ok();
        times.push(t.elapsed().as_nanos() as u64);
    }
    times.sort();
    eprintln!(
        "{} median {:.2} us",
        if std::env::var("EAGER").is_ok() {
            "eager"
        } else {
            "lazy "
        },
        times[times.len() / 2] as f64 / 1000.0
    );
}
