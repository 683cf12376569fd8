//! Loading, model build and trace on generated meshes of 100, 1,000 and 10,000 services, with
//! serde_yaml's parse of the same documents into `serde_yaml::Value` as the baseline, in the
//! same run: `cargo bench -p meshsim-bench`. Filter with a name, as in
//! `cargo bench -p meshsim-bench -- trace`.
//!
//! The whole-mesh benchmarks take few samples (a 10,000-service mesh is 24 MB of YAML) so that
//! a run stays short on a shared machine.

/// The allocator the `meshsim` binary uses, set up as it sets it up (`main`), so that the
/// figures are the CLI's.
#[global_allocator]
static ALLOCATOR: meshsim_cli::alloc::Allocator = meshsim_cli::alloc::Allocator;

use divan::{black_box, Bencher};
use meshsim_bench::{cases, generate};
use meshsim_core::parse::{self, LoadOptions, Loaded};
use meshsim_core::sim::{trace_with, Detail};
use meshsim_core::{Mesh, ModelOptions, Request, SourceFile};
use serde::Deserialize;
use std::sync::Mutex;

const SIZES: &[usize] = &[100, 1000, 10_000];

/// The mesh sizes to run: `SIZES`, or those `MESHSIM_BENCH_SIZES` lists (`30000,100000`), to
/// see how a trace's time behaves beyond the target's size.
fn sizes() -> Vec<usize> {
    match std::env::var("MESHSIM_BENCH_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("MESHSIM_BENCH_SIZES: {n:?} is not a number"))
            })
            .collect(),
        Err(_) => SIZES.to_vec(),
    }
}

/// Generated cases per mesh size; each trace benchmark takes one sample per case, so that its
/// median is over every case, each traced once (a sample is one trace).
const CASES: usize = 600;

fn main() {
    meshsim_cli::inputs::small_pages();
    divan::main();
}

/// A generated mesh at each stage, made once per size.
struct Fixture {
    files: Vec<SourceFile>,
    loaded: Loaded,
    mesh: Mesh,
    requests: Vec<Request>,
}

fn fixture(services: usize) -> &'static Fixture {
    static CACHE: Mutex<Vec<(usize, &'static Fixture)>> = Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, f)) = cache.iter().find(|(n, _)| *n == services) {
        return f;
    }
    let files = generate(services).source_files("mesh");
    let loaded = parse::load(&files, &LoadOptions::default());
    let (mesh, diags) = meshsim_core::build_mesh(&files, &LoadOptions::default(), &model());
    assert!(
        !diags.iter().any(|d| d.is_error()),
        "the generated mesh has errors"
    );
    let requests = cases(services, CASES).iter().map(|c| c.request()).collect();
    let f: &'static Fixture = Box::leak(Box::new(Fixture {
        files,
        loaded,
        mesh,
        requests,
    }));
    cache.push((services, f));
    f
}

fn model() -> ModelOptions {
    ModelOptions::default()
}

/// Files to a model ready to trace.
mod load {
    use super::*;

    /// The baseline: serde_yaml parses every document into a `Value`, and nothing more.
    #[divan::bench(args = sizes(), sample_count = 3, sample_size = 1)]
    fn yaml_value_baseline(bencher: Bencher, services: usize) {
        let f = fixture(services);
        bencher.bench(|| {
            let mut n = 0usize;
            for file in &f.files {
                let text = std::str::from_utf8(&file.bytes).unwrap_or_default();
                for doc in serde_yaml::Deserializer::from_str(text) {
                    if serde_yaml::Value::deserialize(doc).is_ok() {
                        n += 1;
                    }
                }
            }
            n
        });
    }

    /// The core's loader on one thread (the browser's path), without the model.
    #[divan::bench(args = sizes(), sample_count = 3, sample_size = 1)]
    fn parse_one_thread(bencher: Bencher, services: usize) {
        let f = fixture(services);
        bencher.bench(|| parse::load(&f.files, &LoadOptions::default()));
    }

    /// Files to a model on one thread.
    #[divan::bench(args = sizes(), sample_count = 3, sample_size = 1)]
    fn to_model_one_thread(bencher: Bencher, services: usize) {
        let f = fixture(services);
        bencher.bench(|| meshsim_core::build_mesh(&f.files, &LoadOptions::default(), &model()));
    }

    /// Files to a model as the CLI does it: documents parsed on every core, their memory
    /// returned to the system as it is freed.
    #[divan::bench(args = sizes(), sample_count = 3, sample_size = 1)]
    fn to_model_all_cores(bencher: Bencher, services: usize) {
        let f = fixture(services);
        bencher
            .with_inputs(|| f.files.clone())
            .bench_values(|files| {
                meshsim_cli::inputs::build(files, &LoadOptions::default(), &model())
            });
    }
}

/// Loaded resources to a model.
#[divan::bench(args = sizes(), sample_count = 5, sample_size = 1)]
fn model_build(bencher: Bencher, services: usize) {
    let f = fixture(services);
    bencher
        .with_inputs(|| f.loaded.clone())
        .bench_values(|loaded| Mesh::build(loaded, &model()));
}

/// Traces the generated cases in turn (every shape: sidecar to sidecar by each kind of match,
/// ingress through the gateway, a ServiceEntry), one per iteration. Each VirtualService's
/// routes are compiled the first time a trace needs them and kept in the mesh: with
/// `repeated`, every case has been traced before (the steady state of the playground and of
/// re-run cases); without, the trace runs on a mesh of its own, just built, and each of the
/// cases is a first use, as in one `meshsim test` run.
fn cycle(bencher: Bencher, services: usize, detail: Detail, repeated: bool) {
    let f = fixture(services);
    let fresh;
    let mesh = if repeated {
        for r in &f.requests {
            black_box(trace_with(&f.mesh, r, detail)).ok();
        }
        &f.mesh
    } else {
        fresh = meshsim_core::build_mesh(&f.files, &LoadOptions::default(), &model()).0;
        &fresh
    };
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % f.requests.len();
        black_box(trace_with(mesh, &f.requests[i], detail))
    });
}

/// A full trace (steps, notes, explanation, access-log lines), first uses.
#[divan::bench(args = sizes(), sample_count = CASES as u32, sample_size = 1)]
fn trace(bencher: Bencher, services: usize) {
    cycle(bencher, services, Detail::Full, false);
}

/// A full trace of a case traced before.
#[divan::bench(args = sizes(), sample_count = CASES as u32, sample_size = 1)]
fn trace_warm(bencher: Bencher, services: usize) {
    cycle(bencher, services, Detail::Full, true);
}

/// A verdict (`Detail::Verdict`: what `meshsim test` computes for a case that checks no
/// access-log line), first uses.
#[divan::bench(args = sizes(), sample_count = CASES as u32, sample_size = 1)]
fn verdict(bencher: Bencher, services: usize) {
    cycle(bencher, services, Detail::Verdict, false);
}

/// A verdict of a case traced before.
#[divan::bench(args = sizes(), sample_count = CASES as u32, sample_size = 1)]
fn verdict_warm(bencher: Bencher, services: usize) {
    cycle(bencher, services, Detail::Verdict, true);
}
