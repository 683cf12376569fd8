//! Prints the resident memory after each phase of loading a generated mesh the way the CLI
//! does (read, parse on every core, model build), to find which phase sets the peak:
//!
//! ```sh
//! cargo run --release -p meshsim-bench --bin meshsim-gen -- --services 10000 --out target/mesh-10000
//! cargo run --release -p meshsim-bench --example memory_phases -- target/mesh-10000
//! ```
//!
//! Figures come from `/proc/self/status` (Linux): `VmRSS` now and `VmHWM`, the peak so far;
//! and from counting what is allocated: the heap now, in how many blocks, and its peak during
//! the phase.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// mimalloc, as the CLI uses, counting the bytes asked for: what is live and its peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static BLOCKS: AtomicUsize = AtomicUsize::new(0);
static FREED: AtomicUsize = AtomicUsize::new(0);
static FREES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to mimalloc unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(live, Relaxed);
        BLOCKS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract is GlobalAlloc's.
        unsafe { meshsim_cli::alloc::Allocator.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        BLOCKS.fetch_sub(1, Relaxed);
        FREED.fetch_add(layout.size(), Relaxed);
        FREES.fetch_add(1, Relaxed);
        // SAFETY: as above.
        unsafe { meshsim_cli::alloc::Allocator.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        let live = LIVE.fetch_add(new, Relaxed) + new;
        LIVE.fetch_sub(layout.size(), Relaxed);
        PEAK.fetch_max(live, Relaxed);
        // SAFETY: as above.
        unsafe { meshsim_cli::alloc::Allocator.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

use meshsim_core::parse::LoadOptions;
use meshsim_core::ModelOptions;

fn status(phase: &str) {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    eprintln!(
        "{phase:<7} rss {:>3} MB  peak {:>3} MB | heap {:>3} MB in {:>7} blocks, peak {:>3} MB; freed {:>4} MB in {:>8} blocks",
        field("VmRSS:"),
        field("VmHWM:"),
        LIVE.load(Relaxed) >> 20,
        BLOCKS.load(Relaxed),
        PEAK.swap(LIVE.load(Relaxed), Relaxed) >> 20,
        FREED.swap(0, Relaxed) >> 20,
        FREES.swap(0, Relaxed),
    );
}

fn main() {
    meshsim_cli::inputs::small_pages();
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: memory_phases DIR (a mesh from meshsim-gen, such as target/mesh-10000)");
        std::process::exit(2);
    };
    let files = match meshsim_cli::inputs::read_paths(&[format!("{dir}/manifests")]) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let yaml: usize = files.iter().map(|f| f.bytes.len()).sum();
    eprintln!("{} files, {:.1} MB of YAML", files.len(), yaml as f64 / 1e6);
    status("read");
    let loaded = meshsim_cli::inputs::returning_memory(|| {
        meshsim_cli::inputs::load(files, &LoadOptions::default())
    });
    status("loaded");
    let (mesh, diags) = meshsim_core::build_mesh_from(loaded, &ModelOptions::default());
    status("model");
    eprintln!(
        "{} workloads, {} diagnostics",
        mesh.workloads.len(),
        diags.len()
    );
    drop(mesh);
    status("dropped");
}
