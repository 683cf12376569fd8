//! What the page asks of meshsim, in plain Rust (the wasm-bindgen layer in `lib.rs` only passes
//! JSON strings): the labs, the built-in example, and the evaluation of a state — diagnostics
//! for the editor, the trace as the CLI would print it, and a view of it for the diagram.

use crate::labs;
use crate::share::{File, State};
use meshsim_core::sim::{Outcome, Trace};
use meshsim_core::{build_mesh, Diagnostic, LoadOptions, Mesh, ModelOptions};
use serde::Serialize;
use std::cell::RefCell;
use std::hash::{Hash, Hasher};

/// The request the page shows on first visit: the README's quick start.
pub const DEFAULT_REQUEST: &str = "curl -> httpbin.example.com/headers";

#[derive(Serialize)]
pub struct Catalog {
    pub labs: Vec<labs::Lab>,
    /// The built-in example (`meshsim` with no `-f`), loaded on first visit.
    pub builtin: State,
    /// The example requests of the lab the built-in example is taken from.
    pub builtin_requests: Vec<labs::ExampleRequest>,
}

pub fn builtin_state(request: &str) -> State {
    State {
        v: 0,
        lab: None,
        files: meshsim_core::examples::BUILTIN
            .iter()
            .map(|(p, t)| File {
                path: p.to_string(),
                text: t.to_string(),
            })
            .collect(),
        request: request.to_string(),
    }
}

pub fn catalog() -> Catalog {
    let labs = labs::all();
    let builtin = builtin_state(DEFAULT_REQUEST);
    let builtin_paths: Vec<&str> = builtin.files.iter().map(|f| f.path.as_str()).collect();
    let builtin_requests = labs
        .iter()
        .find(|l| {
            l.files
                .iter()
                .map(String::as_str)
                .eq(builtin_paths.iter().copied())
        })
        .map(|l| l.requests.clone())
        .unwrap_or_default();
    Catalog {
        labs,
        builtin,
        builtin_requests,
    }
}

/// A lab's state: its manifests as they are in the repository, and its first example request.
pub fn lab_state(name: &str, request: Option<&str>) -> Option<State> {
    let lab = labs::find(name)?;
    let files = lab
        .files
        .iter()
        .map(|p| File {
            path: p.clone(),
            text: labs::file_text(p).unwrap_or_default().to_string(),
        })
        .collect();
    let request = match request {
        Some(r) => r.to_string(),
        None => lab
            .requests
            .first()
            .map(|r| r.line.clone())
            .unwrap_or_else(|| DEFAULT_REQUEST.to_string()),
    };
    Some(State {
        v: 0,
        lab: Some(lab.name),
        files,
        request,
    })
}

#[derive(Serialize, Default)]
pub struct Evaluation {
    pub diagnostics: Vec<Diagnostic>,
    /// Why nothing was traced: the manifests have errors, or the request cannot be read.
    pub error: Option<Problem>,
    /// The status, as the CLI's `result:` line gives it.
    pub status: Option<u16>,
    pub status_text: String,
    /// Exactly what `meshsim trace -o json` prints, less its final newline.
    pub json: Option<String>,
    /// Exactly what `meshsim trace` prints.
    pub text: Option<String>,
    pub diagram: Vec<Node>,
    pub explanation: Vec<String>,
    pub notes: Vec<String>,
    pub logs: Vec<LogLine>,
    /// The `meshsim trace` command line that gives the same answer from the repository.
    pub cli: String,
}

#[derive(Serialize)]
pub struct Problem {
    pub message: String,
    pub hint: Option<String>,
}

/// One box of the diagram.
#[derive(Serialize, Debug, PartialEq)]
pub struct Node {
    /// `client`, `hop`, `backend` or `end`.
    pub role: &'static str,
    /// `sidecar`, `gateway`...; for the client and the end, what they are.
    pub kind: String,
    pub title: String,
    pub detail: String,
    pub decision: String,
    /// `pass`, `reply` (a proxy answered by itself, not an error) or `fail`.
    pub state: &'static str,
    /// The word that says the state without colour.
    pub verdict: &'static str,
    /// Why a failed box failed.
    pub reason: Vec<String>,
    /// A proxy's stages (listener, virtual host, route, cluster...), as the trace records them.
    pub steps: Vec<NodeStep>,
}

#[derive(Serialize, Debug, PartialEq)]
pub struct NodeStep {
    pub stage: String,
    pub result: String,
    /// What was tried and missed, with where it is defined and why it missed.
    pub tried: Vec<String>,
}

#[derive(Serialize)]
pub struct LogLine {
    pub source: String,
    pub line: String,
}

struct Cached {
    key: u64,
    mesh: Mesh,
    diagnostics: Vec<Diagnostic>,
}

thread_local! {
    /// The last model built: typing in the request bar re-traces without rebuilding it.
    static MESH: RefCell<Option<Cached>> = const { RefCell::new(None) };
}

fn model_options(lab: Option<&labs::Lab>) -> ModelOptions {
    match lab {
        Some(l) if l.mesh.is_some() => ModelOptions {
            mesh_config: l.mesh.clone(),
            mesh_config_source: l.case_file.as_ref().map(|f| format!("{f} (mesh:)")),
        },
        _ => ModelOptions::default(),
    }
}

fn mesh_key(state: &State) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    state.lab.hash(&mut h);
    for f in &state.files {
        f.path.hash(&mut h);
        f.text.hash(&mut h);
    }
    h.finish()
}

/// Loads the manifests (reusing the last model when they have not changed) and traces the
/// request as `meshsim trace` does: nothing is simulated when a diagnostic is an error.
pub fn evaluate(state: &State) -> Evaluation {
    let key = mesh_key(state);
    MESH.with(|cell| {
        // A borrow left behind by a call that panicked (a trap in the browser) must not wedge
        // the page: then this call builds its own model.
        let Ok(mut cached) = cell.try_borrow_mut() else {
            let (mesh, diagnostics) = build(state);
            return evaluate_on(&mesh, &diagnostics, state);
        };
        let stale = cached.as_ref().map(|c| c.key) != Some(key);
        if stale {
            let (mesh, diagnostics) = build(state);
            *cached = Some(Cached {
                key,
                mesh,
                diagnostics,
            });
        }
        match cached.as_ref() {
            Some(c) => evaluate_on(&c.mesh, &c.diagnostics, state),
            None => Evaluation::default(),
        }
    })
}

fn build(state: &State) -> (Mesh, Vec<Diagnostic>) {
    let lab = state.lab.as_deref().and_then(labs::find);
    let files: Vec<meshsim_core::SourceFile> = state
        .files
        .iter()
        .map(|f| meshsim_core::SourceFile::new(f.path.clone(), f.text.as_bytes()))
        .collect();
    build_mesh(
        &files,
        &LoadOptions::default(),
        &model_options(lab.as_ref()),
    )
}

fn evaluate_on(mesh: &Mesh, diagnostics: &[Diagnostic], state: &State) -> Evaluation {
    let mut ev = Evaluation {
        diagnostics: diagnostics.to_vec(),
        ..Evaluation::default()
    };
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        ev.error = Some(Problem {
            message: format!(
                "the manifests have {errors} error{}; nothing was simulated",
                if errors == 1 { "" } else { "s" }
            ),
            hint: Some("fix the lines marked in the editor".into()),
        });
        return ev;
    }
    let traced = meshsim_core::api::parse_request_command(&state.request)
        .inspect(|req| ev.cli = cli_command(state, req))
        .and_then(|req| meshsim_core::sim::trace(mesh, &req))
        .and_then(|t| meshsim_core::api::trace_to_json(&t).map(|json| (t, json)));
    match traced {
        Err(e) => {
            ev.error = Some(Problem {
                message: e.message,
                hint: e.hint,
            })
        }
        Ok((t, json)) => {
            ev.status = Some(t.status);
            ev.status_text = meshsim_core::render::text::status_text(t.status).to_string();
            ev.text = Some(meshsim_core::render::text::trace_text(&t));
            ev.json = Some(json);
            ev.diagram = diagram(&t);
            ev.explanation = t.explanation.clone();
            ev.notes = t.notes.clone();
            ev.logs = t
                .hops
                .iter()
                .filter_map(|h| {
                    h.access_log.as_ref().map(|l| LogLine {
                        source: format!(
                            "{} {}/{} ({})",
                            h.kind.as_str(),
                            h.namespace,
                            h.pod,
                            h.direction
                        ),
                        line: l.clone(),
                    })
                })
                .collect();
        }
    }
    ev
}

/// `meshsim trace` with the state's manifests (their folders, or none for the built-in
/// example) and the request, quoted for a shell.
fn cli_command(state: &State, req: &meshsim_core::Request) -> String {
    use meshsim_core::api::{request_flags, shell_quote};
    let builtin = state.lab.is_none()
        && state
            .files
            .iter()
            .map(|f| f.path.as_str())
            .eq(meshsim_core::examples::BUILTIN.iter().map(|(p, _)| *p));
    let mut line = String::from("meshsim trace");
    if !builtin {
        let mut dirs: Vec<&str> = Vec::new();
        for f in &state.files {
            let dir = f.path.rsplit_once('/').map(|(d, _)| d).unwrap_or(&f.path);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        for d in dirs {
            line.push_str(&format!(" -f {}", shell_quote(d)));
        }
    }
    // `SRC -> DEST` is one shell word: a bare `->` is a redirection.
    line.push_str(&format!(
        " {}{}",
        shell_quote(&format!("{} -> {}", req.from, req.url)),
        request_flags(req)
    ));
    line
}

/// The trace as boxes: the client, each proxy with the decision it took, then the backend that
/// answered or the failure that ended the walk.
pub fn diagram(t: &Trace) -> Vec<Node> {
    let failed = t.status == 0 || t.status >= 400;
    let why: Vec<String> = if t.explanation.is_empty() {
        vec![format!("{} {}", t.flags, t.details)]
    } else {
        t.explanation.clone()
    };
    let mut nodes = vec![Node {
        role: "client",
        kind: "client".into(),
        title: if t.request.from.is_empty() {
            "external".into()
        } else {
            t.request.from.clone()
        },
        detail: format!("{} {}", t.request.method, t.request.url),
        decision: format!("Host: {}", t.request.authority),
        state: "pass",
        verdict: "sent",
        reason: Vec::new(),
        steps: Vec::new(),
    }];
    let last = t.hops.len().checked_sub(1);
    for (i, h) in t.hops.iter().enumerate() {
        let answered_here = Some(i) == last && t.outcome != Outcome::Served;
        let (state, verdict) = match (answered_here, failed) {
            (false, _) => ("pass", "forwarded"),
            (true, false) => ("reply", "answered"),
            (true, true) => ("fail", "failed"),
        };
        nodes.push(Node {
            role: "hop",
            kind: h.kind.as_str().to_string(),
            title: format!("{}/{}", h.namespace, h.name),
            detail: format!("{}, pod {}", h.direction, h.pod),
            decision: h.decision.clone(),
            state,
            verdict,
            reason: if state == "fail" {
                why.clone()
            } else {
                Vec::new()
            },
            steps: h
                .steps
                .iter()
                .map(|st| NodeStep {
                    stage: st.stage.to_string(),
                    result: st.result.clone(),
                    tried: st
                        .tried
                        .iter()
                        .map(|t| {
                            if t.pos.is_empty() {
                                format!("{}: {}", t.what, t.why)
                            } else {
                                format!("{} [{}]: {}", t.what, t.pos, t.why)
                            }
                        })
                        .collect(),
                })
                .collect(),
        });
    }
    match (&t.backend, t.outcome.clone()) {
        (Some(b), _) => nodes.push(Node {
            role: "backend",
            kind: b.kind.to_string(),
            title: if b.namespace.is_empty() {
                b.name.to_string()
            } else {
                format!("{}/{}", b.namespace, b.name)
            },
            detail: b
                .workload
                .as_ref()
                .map(|w| format!("pod {w}"))
                .unwrap_or_default(),
            decision: format!(
                "answered {} {}",
                t.status,
                meshsim_core::render::text::status_text(t.status)
            )
            .trim_end()
            .to_string(),
            state: if failed { "fail" } else { "pass" },
            verdict: if failed { "failed" } else { "served" },
            reason: if failed { why.clone() } else { Vec::new() },
            steps: Vec::new(),
        }),
        (None, Outcome::Served) => {}
        (None, Outcome::LocalReply) if !t.hops.is_empty() => {}
        (None, outcome) => {
            let what = match outcome {
                Outcome::ConnectionFailed => "connection failed",
                Outcome::DnsFailure => "host not resolved",
                Outcome::RoutingLoop => "routing loop",
                Outcome::LocalReply => "no proxy answered",
                Outcome::Served => "served",
            };
            nodes.push(Node {
                role: "end",
                kind: "failure".into(),
                title: what.into(),
                detail: format!("{} {}", t.flags, t.details).trim().to_string(),
                decision: String::new(),
                state: "fail",
                verdict: "failed",
                reason: why,
                steps: Vec::new(),
            });
        }
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(state: &State) -> Evaluation {
        evaluate(state)
    }

    #[test]
    fn the_builtin_example_answers_as_the_cli_does() {
        let ev = eval(&builtin_state(DEFAULT_REQUEST));
        assert!(ev.error.is_none(), "{:?}", ev.error.map(|e| e.message));
        assert_eq!(ev.status, Some(200));
        let mesh = build_mesh(
            &meshsim_core::examples::builtin_files(),
            &LoadOptions::default(),
            &ModelOptions::default(),
        )
        .0;
        let req = meshsim_core::api::parse_request_command(DEFAULT_REQUEST).unwrap();
        assert_eq!(
            ev.json.as_deref(),
            Some(meshsim_core::api::trace_json(&mesh, &req).unwrap().as_str())
        );
        let kinds: Vec<&str> = ev.diagram.iter().map(|n| n.role).collect();
        assert_eq!(kinds, ["client", "hop", "hop", "hop", "backend"]);
        assert!(ev.diagram.iter().all(|n| n.state == "pass"));
        assert_eq!(ev.logs.len(), 3);
    }

    #[test]
    fn a_route_that_misses_fails_at_the_gateway_and_says_why() {
        let ev = eval(&builtin_state("curl -> httpbin.example.com/get"));
        assert_eq!(ev.status, Some(404));
        let last = ev.diagram.last().unwrap();
        assert_eq!((last.kind.as_str(), last.state), ("gateway", "fail"));
        assert!(last.reason.iter().any(|r| r.contains("/get")));
    }

    #[test]
    fn errors_in_manifests_or_request_are_reported_not_traced() {
        let mut s = builtin_state("curl -> ");
        let ev = eval(&s);
        assert!(ev.error.unwrap().hint.is_some());
        s.request = DEFAULT_REQUEST.into();
        s.files[0].text.push_str("\n---\nkind: [\n");
        let ev = eval(&s);
        assert!(ev.json.is_none());
        assert!(ev
            .diagnostics
            .iter()
            .any(|d| d.is_error() && d.file == s.files[0].path && d.line > 0));
    }

    #[test]
    fn every_lab_example_request_traces() {
        for lab in labs::all() {
            for r in &lab.requests {
                let state = lab_state(&lab.name, Some(&r.line)).unwrap();
                let ev = eval(&state);
                assert!(
                    ev.error.is_none(),
                    "{} {:?}: {:?}",
                    lab.name,
                    r.line,
                    ev.error.map(|e| e.message)
                );
            }
        }
    }
}
