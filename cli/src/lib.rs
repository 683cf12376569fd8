//! The CLI's file-facing half: reading manifests from paths (files, folders, stdin) and running
//! case files. The binary (`main.rs`) parses flags and prints; the `tests` harness reuses this.

pub mod alloc;
pub mod cases;
pub mod inputs;
