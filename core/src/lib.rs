//! meshsim-core: the pure heart of meshsim. Manifests in (as bytes, with their names), a model
//! of the mesh, simulated traces, and their renderings out. It reads no files, environment or
//! clock and prints nothing, so the CLI and the browser give identical answers.
//!
//! Data flows one way: [`parse`] → [`model`] → [`sim`] → [`render`].

mod text;

pub mod api;
pub mod cases;
pub mod diag;
pub mod examples;
pub mod model;
pub mod parse;
pub mod render;
pub mod sim;

pub use diag::{Diagnostic, Severity};
pub use model::{Mesh, ModelOptions};
pub use parse::{LoadOptions, Loaded, SourceFile};
pub use sim::{Request, RequestError, Trace};

/// Loads files and builds the model in one call; diagnostics of both stages are returned with
/// the mesh (the caller decides which are fatal).
pub fn build_mesh(
    files: &[SourceFile],
    load: &LoadOptions,
    model: &ModelOptions,
) -> (Mesh, Vec<Diagnostic>) {
    build_mesh_from(parse::load(files, load), model)
}

/// Builds the model from loaded resources (from [`parse::load`], or from a caller that parsed
/// documents in parallel); diagnostics of loading come first, then the model's.
pub fn build_mesh_from(mut loaded: Loaded, model: &ModelOptions) -> (Mesh, Vec<Diagnostic>) {
    let mut diags = std::mem::take(&mut loaded.diagnostics);
    let mesh = Mesh::build(loaded, model);
    diags.extend(mesh.diagnostics.iter().cloned());
    (mesh, diags)
}

/// The model of one file's manifests, `f.yaml`, for the core's tests.
#[cfg(test)]
pub(crate) fn mesh_of(text: &str) -> Mesh {
    let files = [SourceFile::new("f.yaml", text)];
    build_mesh(&files, &LoadOptions::default(), &ModelOptions::default()).0
}

/// Reads a meshConfig document (as istioctl's `--meshConfigFile`).
pub fn parse_mesh_config(
    path: &str,
    text: &str,
) -> Result<parse::types::MeshConfig, Box<Diagnostic>> {
    serde_yaml::from_str(text).map_err(|e| {
        let (line, col) = e.location().map(|l| (l.line(), Some(l.column()))).unwrap_or((0, None));
        Diagnostic::new(diag::WRONG_TYPE, format!("invalid meshConfig: {}", e.to_string().split(" at line ").next().unwrap_or("")))
            .at(path, line)
            .col(col)
            .hint("a meshConfig document has keys such as accessLogFile and outboundTrafficPolicy: {mode: REGISTRY_ONLY}")
        .into()
    })
}
