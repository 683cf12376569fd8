//! `meshsim-gen`: writes a generated mesh and a case file against it into a folder.
//!
//! ```sh
//! meshsim-gen --services 10000 --cases 20000 --out /tmp/mesh-10k
//! meshsim test /tmp/mesh-10k        # runs /tmp/mesh-10k/mesh.cases.yaml
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: meshsim-gen --services N [--cases M] --out DIR
  writes DIR/manifests/*.yaml (a mesh of N services) and DIR/mesh.cases.yaml (M cases; default 2 per service)";

fn main() -> ExitCode {
    let mut services: Option<usize> = None;
    let mut cases: Option<usize> = None;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let value = args.next();
        let parsed = match (a.as_str(), value) {
            ("--services", Some(v)) => v.parse().map(|n| services = Some(n)).is_ok(),
            ("--cases", Some(v)) => v.parse().map(|n| cases = Some(n)).is_ok(),
            ("--out", Some(v)) => {
                out = Some(PathBuf::from(v));
                true
            }
            _ => false,
        };
        if !parsed {
            eprintln!("error: unexpected argument {a:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    let (Some(services), Some(out)) = (services, out) else {
        eprintln!("error: --services and --out are required\n{USAGE}");
        return ExitCode::from(2);
    };
    let mesh = meshsim_bench::generate(services);
    let cases = meshsim_bench::cases(services, cases.unwrap_or(2 * services));
    let manifests = out.join("manifests");
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(&manifests)?;
        for (path, text) in &mesh.files {
            std::fs::write(manifests.join(path), text)?;
        }
        std::fs::write(
            out.join("mesh.cases.yaml"),
            meshsim_bench::case_file(&cases),
        )
    };
    if let Err(e) = write() {
        eprintln!("error: cannot write {}: {e}", out.display());
        return ExitCode::from(2);
    }
    eprintln!(
        "wrote {} services: {} documents, {} bytes in {} files, and {} cases",
        services,
        mesh.documents(),
        mesh.bytes(),
        mesh.files.len(),
        cases.len()
    );
    ExitCode::SUCCESS
}
