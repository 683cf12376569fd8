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

/// A case file cut so that its cases can be parsed in parts, on several threads (the core has
/// none; the CLI brings them). Parsing `rest` as a case file and each of `parts` as a list of
/// cases ([`parse_cases`]), then joining the lists, gives what [`parse_case_file`] gives for
/// the whole file.
#[derive(Debug)]
pub struct CaseFileParts<'t> {
    /// The file without its `cases:` list: the manifests, the mesh settings.
    pub rest: String,
    /// Consecutive runs of the list's items, each a YAML sequence of its own.
    pub parts: Vec<&'t str>,
}

/// Cuts a case file's `cases:` list into up to `parts` runs of whole items of about equal
/// size. None when the file is not cut safely this way, and is to be parsed whole: no
/// top-level `cases:` key followed by a block list, the key twice, several documents, tabs
/// for indentation, a line after the list that is not a top-level key, or what may be an
/// anchor or an alias (one item may refer to another).
pub fn split_case_file(text: &str, parts: usize) -> Option<CaseFileParts<'_>> {
    if parts < 2 || may_have_anchors(text) {
        return None;
    }
    // (byte offset, line) of every line.
    let mut lines = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        lines.push((at, line.trim_end_matches(['\n', '\r'])));
        at += line.len();
    }
    let blank = |l: &str| {
        let t = l.trim_start_matches(' ');
        t.is_empty() || t.starts_with('#')
    };
    let mut key = None;
    for (i, (_, l)) in lines.iter().enumerate() {
        if l.starts_with("---") || l.starts_with("...") || l.starts_with('\t') {
            return None;
        }
        let after = l.strip_prefix("cases:");
        if after.is_some_and(|a| blank(a) && (a.is_empty() || a.starts_with([' ', '#']))) {
            if key.is_some() {
                return None;
            }
            key = Some(i);
        }
    }
    let key = key?;
    let first = (key + 1..lines.len()).find(|&i| !blank(lines[i].1))?;
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let depth = indent(lines[first].1);
    let item = |l: &str| {
        let t = &l[depth..];
        t == "-" || t.starts_with("- ")
    };
    if !item(lines[first].1) {
        return None;
    }
    let mut items = Vec::new();
    let mut end = text.len();
    for &(offset, l) in &lines[first..] {
        if blank(l) {
            continue;
        }
        let d = indent(l);
        if l[d..].starts_with('\t') {
            return None;
        }
        if d == depth && item(l) {
            items.push(offset);
        } else if d <= depth {
            // The list ends at the next top-level key.
            let top_level_key = d == 0
                && l.split_once(':').is_some_and(|(k, v)| {
                    !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                        && (v.is_empty() || v.starts_with(' '))
                });
            if !top_level_key {
                return None;
            }
            end = offset;
            break;
        }
    }
    let list = &text[items[0]..end];
    let parts = parts.min(items.len());
    let mut cuts = vec![items[0]];
    for &start in &items[1..] {
        // Cut before the item that would take part k past its share of the list.
        let k = cuts.len();
        if k < parts && (start - items[0]) * parts >= list.len() * k {
            cuts.push(start);
        }
    }
    cuts.push(end);
    let mut rest = String::with_capacity(text.len() - list.len());
    rest.push_str(&text[..lines[key].0]);
    rest.push_str(&text[end..]);
    Some(CaseFileParts {
        rest,
        parts: cuts.windows(2).map(|w| &text[w[0]..w[1]]).collect(),
    })
}

/// True when `text` may hold a YAML anchor (`&a`) or alias (`*a`): an `&` or `*` starting a
/// token, followed by more than a space. `"*.example.com"` and `a & b` are not.
fn may_have_anchors(text: &str) -> bool {
    let b = text.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        (c == b'&' || c == b'*')
            && (i == 0 || matches!(b[i - 1], b' ' | b'\n' | b'[' | b'{' | b',' | b'-' | b':'))
            && b.get(i + 1).is_some_and(|n| !n.is_ascii_whitespace())
    })
}

/// Parses one part of a case file's `cases:` list ([`split_case_file`]).
pub fn parse_cases(part: &str) -> Result<Vec<Case>, serde_yaml::Error> {
    serde_yaml::from_str(part)
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
        if t.flags != f {
            d.push(format!("flags: expected {f}, got {}", t.flags));
        }
    }
    if let Some(x) = &e.details {
        if t.details != x {
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
        if up.map(|u| u.path.as_str()) != Some(p.as_str()) {
            d.push(format!(
                "path: expected {p}, got {}",
                up.map(|u| u.path.as_str())
                    .unwrap_or("(no upstream request)")
            ));
        }
    }
    if let Some(h) = &e.host {
        if up.map(|u| u.authority.as_str()) != Some(h.as_str()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The file parsed in parts, as `meshsim test` does on several threads.
    fn in_parts(text: &str, parts: usize) -> Option<String> {
        let split = split_case_file(text, parts)?;
        assert!(split.parts.len() <= parts);
        let mut cf = parse_case_file("f", &split.rest).ok()?;
        for p in &split.parts {
            cf.cases.extend(parse_cases(p).ok()?);
        }
        Some(format!("{cf:?}"))
    }

    fn whole(text: &str) -> String {
        match parse_case_file("f", text) {
            Ok(cf) => format!("{cf:?}"),
            Err(d) => panic!("{d}\n{text}"),
        }
    }

    fn cases(n: usize, indent: &str) -> String {
        (0..n)
            .map(|i| {
                format!(
                    "{indent}- name: case {i}\n{indent}  from: client/curl\n{indent}  request:\n{indent}    url: http://a{i}/\n{indent}    headers: {{x-i: \"{i}\"}}\n{indent}  expect:\n{indent}    status: 200\n{indent}    hops: [sidecar]\n\n# between\n"
                )
            })
            .collect()
    }

    #[test]
    fn a_case_list_cut_in_parts_parses_as_the_whole_file() {
        for (indent, before, after) in [
            ("", "# head\nmanifests:\n- m/\ncases:\n", ""),
            (
                "  ",
                "manifests: [m/]\ncases: # the cases\n\n",
                "mesh:\n  outboundTrafficPolicy:\n    mode: REGISTRY_ONLY\n",
            ),
            ("", "cases:\n", "manifests:\n  - m/\n"),
        ] {
            let text = format!("{before}{}{after}", cases(7, indent));
            let want = whole(&text);
            assert!(want.contains("case 6"), "{want}");
            for parts in [2, 3, 7, 20] {
                let split = split_case_file(&text, parts).expect("cut");
                assert_eq!(split.parts.len(), parts.min(7));
                assert_eq!(
                    in_parts(&text, parts).as_deref(),
                    Some(want.as_str()),
                    "{parts} parts of:\n{text}"
                );
            }
        }
    }

    #[test]
    fn a_case_file_that_may_not_cut_safely_is_parsed_whole() {
        let list = cases(4, "");
        for text in [
            // An anchor and an alias: one item refers to another.
            format!("manifests: [m/]\ncases:\n- &one\n  name: a\n  request: {{url: http://a/}}\n- *one\n{list}"),
            // Several documents.
            format!("---\nmanifests: [m/]\ncases:\n{list}"),
            // A flow list.
            "manifests: [m/]\ncases: [{name: a, request: {url: http://a/}}]\n".to_string(),
            // The key twice.
            format!("manifests: [m/]\ncases:\n{list}cases:\n{list}"),
            // After the list, a line that is not a top-level key.
            format!("manifests: [m/]\ncases:\n{list}stray\n"),
            // No cases.
            "manifests: [m/]\n".to_string(),
        ] {
            assert!(split_case_file(&text, 2).is_none(), "{text}");
        }
        // Asterisks and ampersands in values are not anchors.
        let text = format!("manifests: [m/]\ncases:\n- name: \"*.example.com & co\"\n  request: {{url: http://a/}}\n{list}");
        assert!(split_case_file(&text, 2).is_some());
    }
}
