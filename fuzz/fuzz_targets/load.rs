//! Fuzzes the loader and the model: any bytes must load into resources and diagnostics and
//! build a mesh without panicking; a trace on it must not panic, and its verdict must decide
//! as the full trace does. Run with `cargo +nightly fuzz run load` from this folder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meshsim_core::{build_mesh, LoadOptions, ModelOptions, SourceFile};

fuzz_target!(|data: &[u8]| {
    let files = [SourceFile::new("fuzz.yaml", data.to_vec())];
    let (mesh, _) = build_mesh(&files, &LoadOptions::default(), &ModelOptions::default());
    let req = meshsim_core::Request { from: "external".into(), method: "GET".into(), url: "http://a.example.com/".into(), ..Default::default() };
    let full = meshsim_core::sim::trace(&mesh, &req);
    let verdict = meshsim_core::sim::trace_with(&mesh, &req, meshsim_core::sim::Detail::Verdict);
    if let (Ok(f), Ok(v)) = (&full, &verdict) {
        assert_eq!((f.status, &f.flags, &f.cluster), (v.status, &v.flags, &v.cluster));
    }
});
