//! Case files (`*.cases.yaml`, format in `../shared/spec/cases.md`): which manifests make a
//! mesh, which requests to send, and what must come of them. Reading the manifests is the
//! caller's job; this module parses case files and compares traces with expectations.

use crate::diag::{self, Diagnostic};
use crate::parse::types::MeshConfig;
use crate::sim::{Request, Trace};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    pub manifests: Vec<String>,
    #[serde(default)]
    pub mesh: Option<MeshConfig>,
    #[serde(default)]
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default = "external")]
    pub from: String,
    pub request: CaseRequest,
    #[serde(default)]
    pub expect: Expect,
}

fn external() -> String {
    "external".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    #[serde(default)]
    pub method: Option<String>,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub connect_to: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectBackend {
    pub namespace: Option<String>,
    pub service: Option<String>,
    pub name: Option<String>,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: Option<u16>,
    pub backend: Option<ExpectBackend>,
    pub cluster: Option<String>,
    pub flags: Option<String>,
    pub details: Option<String>,
    pub location: Option<String>,
    pub path: Option<String>,
    pub host: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub absent_headers: Vec<String>,
    #[serde(default)]
    pub response_headers: BTreeMap<String, String>,
    pub hops: Option<Vec<String>>,
    #[serde(default)]
    pub logs: Vec<String>,
}

impl Case {
    pub fn to_request(&self) -> Request {
        Request {
            from: self.from.clone(),
            method: self.request.method.clone().unwrap_or_else(|| "GET".into()),
            url: self.request.url.clone(),
            headers: self
                .request
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            connect_to: self.request.connect_to.clone(),
            seed: self.request.seed,
        }
    }
}

pub fn parse_case_file(path: &str, text: &str) -> Result<CaseFile, Box<Diagnostic>> {
    serde_yaml::from_str::<CaseFile>(text).map_err(|e| {
        let (line, col) = e.location().map(|l| (l.line(), Some(l.column()))).unwrap_or((0, None));
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Diagnostic::new(diag::INVALID_VALUE, format!("invalid case file: {msg}"))
            .at(path, line)
            .col(col)
            .hint("see the case-file format: manifests, optional mesh, cases with name, from, request, expect")
        .into()
    })
}

/// What differs between a trace and an expectation, one line per difference.
pub fn check(t: &Trace, e: &Expect) -> Vec<String> {
    let mut d = Vec::new();
    if let Some(s) = e.status {
        if t.status != s {
            d.push(format!("status: expected {s}, got {}", t.status));
        }
    }
    if let Some(f) = &e.flags {
        if &t.flags != f {
            d.push(format!("flags: expected {f}, got {}", t.flags));
        }
    }
    if let Some(x) = &e.details {
        if &t.details != x {
            d.push(format!("details: expected {x}, got {}", t.details));
        }
    }
    if let Some(c) = &e.cluster {
        if t.cluster.as_deref() != Some(c.as_str()) {
            d.push(format!(
                "cluster: expected {c}, got {}",
                t.cluster.as_deref().unwrap_or("(none)")
            ));
        }
    }
    if let Some(b) = &e.backend {
        match &t.backend {
            None => {
                d.push("backend: expected one, got none (no workload served the request)".into())
            }
            Some(got) => {
                let name = b.service.as_ref().or(b.name.as_ref());
                if b.namespace.as_ref().is_some_and(|n| *n != got.namespace)
                    || name.is_some_and(|n| *n != got.name)
                    || b.kind.as_ref().is_some_and(|k| k != got.kind)
                {
                    d.push(format!(
                        "backend: expected {}/{}, got {} {}/{}",
                        b.namespace.as_deref().unwrap_or("*"),
                        name.map(String::as_str).unwrap_or("*"),
                        got.kind,
                        got.namespace,
                        got.name
                    ));
                }
            }
        }
    }
    if let Some(l) = &e.location {
        if t.response.headers.get("location") != Some(l) {
            d.push(format!(
                "location: expected {l}, got {}",
                t.response
                    .headers
                    .get("location")
                    .map(String::as_str)
                    .unwrap_or("(none)")
            ));
        }
    }
    let up = t.upstream_request.as_ref();
    if let Some(p) = &e.path {
        if up.map(|u| &u.path) != Some(p) {
            d.push(format!(
                "path: expected {p}, got {}",
                up.map(|u| u.path.as_str())
                    .unwrap_or("(no upstream request)")
            ));
        }
    }
    if let Some(h) = &e.host {
        if up.map(|u| &u.authority) != Some(h) {
            d.push(format!(
                "host: expected {h}, got {}",
                up.map(|u| u.authority.as_str())
                    .unwrap_or("(no upstream request)")
            ));
        }
    }
    for (k, v) in &e.headers {
        let got = up.and_then(|u| {
            u.headers
                .iter()
                .find(|(hk, _)| hk.eq_ignore_ascii_case(k))
                .map(|(_, hv)| hv)
        });
        if got != Some(v) {
            d.push(format!(
                "header {k}: expected {v:?}, got {}",
                got.map(|g| format!("{g:?}")).unwrap_or("(absent)".into())
            ));
        }
    }
    for k in &e.absent_headers {
        if let Some(v) = up.and_then(|u| {
            u.headers
                .iter()
                .find(|(hk, _)| hk.eq_ignore_ascii_case(k))
                .map(|(_, hv)| hv)
        }) {
            d.push(format!("header {k}: expected absent, got {v:?}"));
        }
    }
    for (k, v) in &e.response_headers {
        let got = t
            .response
            .headers
            .iter()
            .find(|(hk, _)| hk.eq_ignore_ascii_case(k))
            .map(|(_, hv)| hv);
        if got != Some(v) {
            d.push(format!(
                "response header {k}: expected {v:?}, got {}",
                got.map(|g| format!("{g:?}")).unwrap_or("(absent)".into())
            ));
        }
    }
    if let Some(h) = &e.hops {
        let got: Vec<&str> = t.hops.iter().map(|h| h.kind.as_str()).collect();
        if got != h.iter().map(String::as_str).collect::<Vec<_>>() {
            d.push(format!(
                "hops: expected [{}], got [{}]",
                h.join(", "),
                got.join(", ")
            ));
        }
    }
    let logs = t.access_logs();
    let mut from = 0;
    for pat in &e.logs {
        match regex::Regex::new(pat) {
            Err(err) => d.push(format!("logs: invalid regex {pat:?}: {err}")),
            Ok(re) => match logs[from..].iter().position(|l| re.is_match(l)) {
                Some(i) => from += i + 1,
                None => d.push(format!(
                    "logs: no access-log line (in order) matches {pat:?}; lines:\n{}",
                    logs.iter()
                        .map(|l| format!("      {l}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )),
            },
        }
    }
    d
}
