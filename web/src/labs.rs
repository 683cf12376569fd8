//! The labs of `scenarios/`, embedded at build time (see `build.rs`), read as `meshsim test`
//! reads them: a lab is a folder under `scenarios/`; each case file in it names the manifests
//! it uses and its requests make the example requests. The lab's own entry is its
//! `lab.cases.yaml` (or its first case file); every other case file is a variant `LAB/STEM`.

use meshsim_core::api::request_to_command;
use meshsim_core::cases::parse_case_file;
use meshsim_core::parse::types::MeshConfig;
use serde::Serialize;
use std::path::Path;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/scenarios.rs"));
}

pub use embedded::SCENARIO_FILES;

/// One entry of the lab picker.
#[derive(Debug, Clone, Serialize)]
pub struct Lab {
    /// `istio-gateway-ingress`, or `istio-gateway-ingress/loadbalancer` for a variant.
    pub name: String,
    /// The README's first heading (less a leading `Lab:`), or the name.
    pub title: String,
    /// The case file it comes from, when it has one.
    pub case_file: Option<String>,
    /// Manifest paths, from the repository root, in the order `meshsim -f` reads them.
    pub files: Vec<String>,
    pub requests: Vec<ExampleRequest>,
    #[serde(skip)]
    pub mesh: Option<MeshConfig>,
    /// Problems with the lab itself (an unreadable case file, a manifest path that is absent).
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExampleRequest {
    pub name: String,
    /// The request in the request bar's syntax.
    pub line: String,
}

/// The text of an embedded file.
pub fn file_text(path: &str) -> Option<&'static str> {
    SCENARIO_FILES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, t)| *t)
}

fn is_manifest(path: &str) -> bool {
    (path.ends_with(".yaml") || path.ends_with(".yml") || path.ends_with(".json"))
        && !path.ends_with(".cases.yaml")
}

/// Joins `base/rel` and folds `.` and `..`, as a path on disk would resolve.
fn join(base: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for p in rel.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The manifests a case file's `manifests:` entry names: a file, or every manifest under a
/// folder, recursively in path order (as the CLI walks a folder).
fn resolve(base: &str, entry: &str) -> Option<Vec<String>> {
    let path = join(base, entry);
    if file_text(&path).is_some() {
        return Some(vec![path]);
    }
    let prefix = format!("{path}/");
    let mut found: Vec<String> = SCENARIO_FILES
        .iter()
        .map(|(p, _)| *p)
        .filter(|p| p.starts_with(&prefix) && is_manifest(p))
        .map(str::to_string)
        .collect();
    found.sort_by(|a, b| Path::new(a).cmp(Path::new(b)));
    (!found.is_empty()).then_some(found)
}

fn title(lab_dir: &str, name: &str) -> String {
    file_text(&format!("{lab_dir}/README.md"))
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("# ")))
        // The picker already says these are labs.
        .map(|t| t.trim().trim_start_matches("Lab:").trim().to_string())
        .unwrap_or_else(|| name.to_string())
}

fn lab_from_case_file(name: String, title: String, dir: &str, case_file: &str) -> Lab {
    let mut lab = Lab {
        name,
        title,
        case_file: Some(case_file.to_string()),
        files: Vec::new(),
        requests: Vec::new(),
        mesh: None,
        problems: Vec::new(),
    };
    let text = file_text(case_file).unwrap_or_default();
    match parse_case_file(case_file, text) {
        Ok(cf) => {
            for m in &cf.manifests {
                match resolve(dir, m) {
                    Some(found) => lab.files.extend(found),
                    None => lab
                        .problems
                        .push(format!("{case_file}: manifests entry {m:?} names nothing")),
                }
            }
            lab.mesh = cf.mesh;
            lab.requests = cf
                .cases
                .iter()
                .map(|c| ExampleRequest {
                    name: c.name.clone(),
                    line: request_to_command(&c.to_request()),
                })
                .collect();
        }
        Err(d) => lab.problems.push(d.to_string()),
    }
    lab
}

/// Every lab and variant, in name order.
pub fn all() -> Vec<Lab> {
    let mut dirs: Vec<&str> = SCENARIO_FILES
        .iter()
        .filter_map(|(p, _)| {
            let rest = p.strip_prefix("scenarios/")?;
            let (dir, _) = rest.split_once('/')?;
            Some(&p[..("scenarios/".len() + dir.len())])
        })
        .collect();
    dirs.dedup();
    let mut labs = Vec::new();
    for dir in dirs {
        let name = dir.trim_start_matches("scenarios/").to_string();
        let title = title(dir, &name);
        let mut case_files: Vec<&str> = SCENARIO_FILES
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| {
                p.strip_prefix(dir)
                    .and_then(|r| r.strip_prefix('/'))
                    .is_some_and(|r| !r.contains('/') && r.ends_with(".cases.yaml"))
            })
            .collect();
        // The lab's own entry first: lab.cases.yaml when there is one.
        case_files.sort_by_key(|p| (!p.ends_with("/lab.cases.yaml"), *p));
        if case_files.is_empty() {
            if let Some(files) = resolve(dir, "manifests") {
                labs.push(Lab {
                    name,
                    title,
                    case_file: None,
                    files,
                    requests: Vec::new(),
                    mesh: None,
                    problems: Vec::new(),
                });
            }
            continue;
        }
        for (i, cf) in case_files.iter().enumerate() {
            let entry_name = if i == 0 {
                name.clone()
            } else {
                let stem = cf
                    .rsplit('/')
                    .next()
                    .unwrap_or(cf)
                    .trim_end_matches(".cases.yaml");
                format!("{name}/{stem}")
            };
            labs.push(lab_from_case_file(entry_name, title.clone(), dir, cf));
        }
    }
    labs
}

/// The lab or variant of this name.
pub fn find(name: &str) -> Option<Lab> {
    all().into_iter().find(|l| l.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lab_folder_is_listed_with_its_manifests_and_requests() {
        let labs = all();
        let lab = labs
            .iter()
            .find(|l| l.name == "istio-gateway-ingress")
            .expect("the first lab is embedded");
        assert!(lab.problems.is_empty(), "{:?}", lab.problems);
        assert_eq!(
            lab.files.first().map(String::as_str),
            Some("scenarios/istio-gateway-ingress/manifests/00-control-plane.yaml")
        );
        assert!(!lab.requests.is_empty());
        let variant = labs
            .iter()
            .find(|l| l.name == "istio-gateway-ingress/loadbalancer")
            .expect("a second case file is a variant");
        assert!(variant
            .files
            .iter()
            .any(|f| f.ends_with("loadbalancer/gateway-service-lb.yaml")));
        for l in &labs {
            assert!(l.problems.is_empty(), "{}: {:?}", l.name, l.problems);
        }
    }

    #[test]
    fn paths_resolve_as_on_disk() {
        assert_eq!(join("scenarios/a", "./manifests/"), "scenarios/a/manifests");
        assert_eq!(join("scenarios/a", "../b/x.yaml"), "scenarios/b/x.yaml");
    }
}
