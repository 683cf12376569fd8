//! Parse: manifest text in, typed resources with positions and diagnostics out. Loading never
//! fails as a whole and never drops an object silently: each document becomes a resource, an
//! `Unknown` resource listed in a warning, or an error naming file, line and cause.

mod fields;
mod labels;
pub mod locate;
mod onepass;
mod schema;
mod source;
pub mod types;

use crate::diag::{self, Diagnostic};
use fields::{Checked, Track, UnknownField};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use types::*;

pub use source::SourceText;

/// One input file as bytes; the loader decides whether it is text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub bytes: Vec<u8>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        SourceFile {
            path: path.into(),
            bytes: bytes.into(),
        }
    }
}

/// Where an object came from: file, first line of its document, and the file's text so that
/// later stages can point at a field's line.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: usize,
    pub text: Arc<SourceText>,
    /// Byte range of the object's document within `text`.
    pub range: (usize, usize),
}

impl Origin {
    /// `file:line` for messages.
    pub fn pos(&self) -> String {
        crate::text::cat!(&*self.file, ':', self.line)
    }
    /// The line of a field inside the object (`["spec", "http", "1"]`), or the object's line.
    pub fn line_of(&self, path: &[&str]) -> usize {
        match self.with_document(|doc| locate::locate(doc, path)) {
            Some(l) => self.line + l,
            None => self.line,
        }
    }
    /// The line of a field, or of its deepest parent written in block style, or the
    /// object's line.
    pub fn line_of_nearest(&self, path: &[&str]) -> usize {
        match self.with_document(|doc| locate::locate_nearest(doc, path)) {
            Some(l) => self.line + l,
            None => self.line,
        }
    }
    /// Runs `f` on the object's document (empty if the text is shorter than the range,
    /// which loading never makes).
    pub fn with_document<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        self.text.with_range(self.range.0..self.range.1, f)
    }
    pub fn pos_of(&self, path: &[&str]) -> String {
        crate::text::cat!(&*self.file, ':', self.line_of(path))
    }
}

/// The kinds meshsim reads, each with its typed body.
#[derive(Debug, Clone)]
pub enum Body {
    Namespace,
    Pod(PodSpec, PodStatus),
    /// Deployment, StatefulSet, DaemonSet, ReplicaSet, Job.
    Workload(WorkloadSpec),
    Service(ServiceSpec, ServiceStatus),
    /// `discovery.k8s.io/v1` EndpointSlice, as a live cluster's dump holds them.
    EndpointSlice(EndpointSliceBody),
    ServiceAccount,
    ConfigMap(ConfigMapBody),
    VirtualService(VirtualServiceSpec),
    DestinationRule(DestinationRuleSpec),
    IstioGateway(IstioGatewaySpec),
    ServiceEntry(ServiceEntrySpec),
    Sidecar(SidecarSpec),
    WorkloadEntry(WorkloadEntrySpec),
    AuthorizationPolicy(AuthorizationPolicySpec),
    PeerAuthentication(PeerAuthenticationSpec),
    GatewayClass(GatewayClassSpec),
    Gateway(GatewaySpec),
    HttpRoute(HttpRouteSpec),
    GrpcRoute(GrpcRouteSpec),
    ReferenceGrant(ReferenceGrantSpec),
    OpenShiftRoute(OpenShiftRouteSpec),
    SailIstio(SailIstioSpec),
    IstioRevision(SailIstioSpec),
    IstioRevisionTag(IstioRevisionTagSpec),
    IstioCni(SailComponentSpec),
    ZTunnel(SailComponentSpec),
    SimulatedResponse(SimulatedResponseSpec),
    /// Kinds that are read and kept but change no routing (RBAC, autoscalers, budgets...).
    Kept(serde_yaml::Value),
    /// Kinds meshsim does not know: kept, listed in a warning.
    Unknown(serde_yaml::Value),
}

#[derive(Debug, Clone)]
pub struct Resource {
    pub api_version: String,
    pub kind: String,
    pub meta: ObjectMeta,
    pub origin: Origin,
    /// Boxed: a body is up to a few hundred bytes, and most resources move into the model
    /// soon after loading.
    pub body: Box<Body>,
}

impl Resource {
    pub fn name(&self) -> &str {
        self.meta.name.as_deref().unwrap_or("")
    }
    /// Namespace, or "" for cluster-scoped kinds.
    pub fn namespace(&self) -> &str {
        self.meta.namespace.as_deref().unwrap_or("")
    }
    pub fn group(&self) -> &str {
        group_of(&self.api_version)
    }
    /// `Kind namespace/name` (or `Kind name` when cluster-scoped), as messages name objects.
    pub fn display(&self) -> String {
        if self.namespace().is_empty() {
            format!("{} {}", self.kind, self.name())
        } else {
            format!("{} {}/{}", self.kind, self.namespace(), self.name())
        }
    }
}

/// Everything read from the inputs.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub resources: Vec<Resource>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

/// Options of loading, as `kubectl apply -n` gives a namespace to objects that name none.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub default_namespace: String,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            default_namespace: "default".into(),
        }
    }
}

pub fn group_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((g, _)) => g,
        None => "",
    }
}

fn version_of(api_version: &str) -> &str {
    match api_version.rsplit_once('/') {
        Some((_, v)) => v,
        None => api_version,
    }
}

/// Loads many files, then resolves duplicates across them: a later object with the same kind,
/// namespace and name replaces the earlier one, with a warning naming both places.
pub fn load(files: &[SourceFile], opts: &LoadOptions) -> Loaded {
    let split = split(files);
    let parsed = split.parse(0..split.len(), opts);
    split.assemble([parsed])
}

/// Input files decoded and cut into documents. Documents parse independently of each other,
/// so a caller with threads may parse ranges of them at once ([`Split::parse`]) and join the
/// results ([`Split::assemble`]); the outcome is the same as [`load`]'s, diagnostics and order
/// included. The core itself stays single-threaded (it also runs in the browser).
#[derive(Debug)]
pub struct Split {
    files: Vec<SplitFile>,
    /// Every document of every file in input order: (file index, document index in the file).
    documents: Vec<(usize, usize)>,
}

#[derive(Debug)]
struct SplitFile {
    path: Arc<str>,
    /// The plain text, while documents are parsed. Whoever parses the file's last document
    /// packs it and lets it go (see [`Split::parse`]).
    plain: std::sync::Mutex<Option<Arc<SourceText>>>,
    /// Documents that hold more than comments: (first line, byte start, byte end).
    documents: Vec<(usize, usize, usize)>,
    /// Why the file could not be read as text, if it could not.
    diagnostics: Vec<Diagnostic>,
    /// Objects the file stands for without documents to parse (a kustomization file).
    pre: Vec<Resource>,
}

/// Decodes each file and splits it into documents (a linear scan; no YAML is parsed yet).
pub fn split(files: &[SourceFile]) -> Split {
    let files: Vec<SplitFile> = files.iter().map(split_file).collect();
    let documents = files
        .iter()
        .enumerate()
        .flat_map(|(fi, f)| (0..f.documents.len()).map(move |di| (fi, di)))
        .collect();
    Split { files, documents }
}

impl SplitFile {
    fn plain(&self) -> Option<Arc<SourceText>> {
        self.plain.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn release_plain(&self) {
        self.plain.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl Split {
    /// The number of documents.
    pub fn len(&self) -> usize {
        self.documents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.documents.is_empty()
    }

    /// The size in bytes of document `i`, to balance work between threads.
    pub fn document_len(&self, i: usize) -> usize {
        let (fi, di) = self.documents[i];
        let (_, start, end) = self.files[fi].documents[di];
        end - start
    }

    /// Parses documents `range` (of `0..len()`), in order. A file whose documents all lie in
    /// the range is packed as soon as they are parsed (its resources then point at the packed
    /// text, and the plain one is freed), so that loading never holds every plain text and
    /// every parsed object at once.
    pub fn parse(&self, range: std::ops::Range<usize>, opts: &LoadOptions) -> Parsed {
        let mut parsed = Parsed::default();
        let documents = &self.documents[range];
        let mut k = 0;
        while let Some(&(fi, _)) = documents.get(k) {
            let f = &self.files[fi];
            let in_file = documents[k..].iter().take_while(|(f, _)| *f == fi).count();
            // A document is one object (a List, several): sized so, the list keeps no growth
            // slack until it is merged.
            let mut out = Loaded {
                resources: Vec::with_capacity(in_file),
                diagnostics: Vec::new(),
            };
            if let Some(text) = f.plain() {
                for &(_, di) in &documents[k..k + in_file] {
                    let (line, start, end) = f.documents[di];
                    let origin = Origin {
                        file: f.path.clone(),
                        line,
                        text: text.clone(),
                        range: (start, end),
                    };
                    text.with(|t| parse_document(&t[start..end], origin, opts, &mut out));
                }
                if in_file == f.documents.len() {
                    pack(&text, &mut out.resources);
                    f.release_plain();
                }
            }
            parsed.pieces.push((fi, out));
            k += in_file;
        }
        parsed
    }

    /// Joins the results of [`Split::parse`] over consecutive ranges covering `0..len()`, in
    /// order, into what [`load`] returns. The texts of files whose documents were parsed in
    /// two ranges are packed here.
    pub fn assemble(self, parsed: impl IntoIterator<Item = Parsed>) -> Loaded {
        let mut per_file: Vec<Loaded> = Vec::with_capacity(self.files.len());
        let mut plain = Vec::with_capacity(self.files.len());
        for f in self.files {
            plain.push(f.plain.into_inner().unwrap_or_else(|e| e.into_inner()));
            per_file.push(Loaded {
                resources: f.pre,
                diagnostics: f.diagnostics,
            });
        }
        for parsed in parsed {
            for (fi, piece) in parsed.pieces {
                let out = &mut per_file[fi];
                out.diagnostics.extend(piece.diagnostics);
                if out.resources.is_empty() {
                    out.resources = piece.resources;
                } else {
                    out.resources.extend(piece.resources);
                }
            }
        }
        for (out, text) in per_file.iter_mut().zip(plain) {
            if let Some(text) = text {
                pack(&text, &mut out.resources);
            }
        }
        merge(per_file)
    }
}

/// Packs a file's text and points its resources' origins at the packed text.
fn pack(text: &SourceText, resources: &mut [Resource]) {
    let packed = Arc::new(text.packed());
    for r in resources {
        r.origin.text = packed.clone();
    }
}

/// What [`Split::parse`] read of a range of documents: per file it touched, its resources and
/// diagnostics in document order.
#[derive(Debug, Default)]
pub struct Parsed {
    pieces: Vec<(usize, Loaded)>,
}

/// Joins per-file results (which may have been parsed in parallel) in input order. A later
/// definition of the same object replaces the earlier one (as with `kubectl apply`), with a
/// warning after the diagnostics of the part that holds it. Resources are moved once, into one
/// list, and duplicates are found with keys borrowed from it: on a large mesh, copying the list
/// or the names of every object would add to loading's peak memory.
pub fn merge(parts: Vec<Loaded>) -> Loaded {
    let mut all: Vec<Resource> = Vec::with_capacity(parts.iter().map(|p| p.resources.len()).sum());
    let mut part_diagnostics = Vec::with_capacity(parts.len());
    let mut part_ends = Vec::with_capacity(parts.len());
    for part in parts {
        part_diagnostics.push(part.diagnostics);
        all.extend(part.resources);
        part_ends.push(all.len());
    }
    let mut keep = vec![true; all.len()];
    let mut duplicates: Vec<Vec<Diagnostic>> = part_ends.iter().map(|_| Vec::new()).collect();
    {
        let mut index: std::collections::HashMap<(&str, &str, &str, &str), usize> =
            std::collections::HashMap::with_capacity(all.len());
        let mut part = 0;
        for (i, r) in all.iter().enumerate() {
            while part_ends[part] <= i {
                part += 1;
            }
            let key = (r.group(), r.kind.as_str(), r.namespace(), r.name());
            if let Some(prev) = index.insert(key, i) {
                keep[prev] = false;
                duplicates[part].push(
                    Diagnostic::new(
                        diag::DUPLICATE,
                        format!("replaces the definition at {}", all[prev].origin.pos()),
                    )
                    .at(&r.origin.file, r.origin.line)
                    .object(r.display())
                    .hint("keep one definition; the later one wins, as with kubectl apply"),
                );
            }
        }
    }
    let mut out = Loaded::default();
    for (own, dups) in part_diagnostics.into_iter().zip(duplicates) {
        out.diagnostics.extend(own);
        out.diagnostics.extend(dups);
    }
    let mut kept = keep.into_iter();
    all.retain(|_| kept.next().unwrap_or(true));
    out.resources = all;
    if let Some(note) = set_aside_note(&out.resources) {
        out.diagnostics.push(note);
    }
    out
}

/// Kinds that make up an installation (the API's own machinery, access control, policy
/// plumbing) and never change how a request is routed. An install folder or a cluster dump
/// holds many; they are kept and counted in one note rather than listed one by one.
const SET_ASIDE: &[&str] = &[
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "APIService",
    "ClusterRole",
    "ClusterRoleBinding",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PriorityClass",
    "Lease",
    "IngressClass",
    "Node",
    "Event",
    "Kustomization",
    "Component",
    "HelmChart",
    "HelmValues",
];

/// One note counting the objects of `SET_ASIDE` kinds, by kind.
fn set_aside_note(resources: &[Resource]) -> Option<Diagnostic> {
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for r in resources {
        if matches!(*r.body, Body::Kept(_)) && SET_ASIDE.contains(&r.kind.as_str()) {
            *by_kind.entry(r.kind.as_str()).or_default() += 1;
        }
    }
    let total: usize = by_kind.values().sum();
    if total == 0 {
        return None;
    }
    let list: Vec<String> = by_kind.iter().map(|(k, n)| format!("{k} {n}")).collect();
    Some(
        Diagnostic::new(
            diag::SET_ASIDE,
            format!(
                "{total} object{} of the installation set aside ({}): they change no routing",
                if total == 1 { "" } else { "s" },
                list.join(", ")
            ),
        )
        .hint("nothing to do: CRDs, webhooks, access control and kustomize files are read and kept, not simulated"),
    )
}

/// kustomize reads `kustomization.yaml` (or `.yml`, or `Kustomization`) by file name; such a
/// file often has neither apiVersion, kind nor name.
/// Build files of an install folder that are not objects: kustomizations, and a Helm chart's
/// `Chart.yaml` and `values.yaml`. The kind they are set aside as, by file name.
fn install_file_kind(path: &str) -> Option<(&'static str, &'static str)> {
    let base = path.rsplit(['/', '\\']).next().unwrap_or(path);
    match base {
        "kustomization.yaml" | "kustomization.yml" | "Kustomization" => {
            Some(("kustomize.config.k8s.io/v1beta1", "Kustomization"))
        }
        "Chart.yaml" | "Chart.yml" => Some(("helm.sh/v2", "HelmChart")),
        "values.yaml" | "values.yml" => Some(("helm.sh/v2", "HelmValues")),
        _ => None,
    }
}

/// Splits a text into YAML documents: (first line, byte start, byte end), one-based lines.
fn split_documents(text: &str) -> Vec<(usize, usize, usize)> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let l = line.trim_end_matches(['\n', '\r']);
        let is_sep = l == "---" || l.starts_with("--- ") || l.starts_with("---\t") || l == "...";
        if is_sep {
            docs.push((start_line, start, offset));
            start = offset + line.len();
            start_line = i + 2;
        }
        offset += line.len();
    }
    docs.push((start_line, start, text.len()));
    docs
}

/// True when a document holds nothing but comments and blank lines (Helm emits such ones).
fn is_blank_document(doc: &str) -> bool {
    doc.lines().all(|l| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#') || t.starts_with('%')
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    #[serde(default)]
    api_version: Option<serde_yaml::Value>,
    #[serde(default)]
    kind: Option<serde_yaml::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Doc<S, T = serde::de::IgnoredAny> {
    #[serde(default = "Option::default")]
    spec: Option<S>,
    #[serde(default = "Option::default")]
    status: Option<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaOnly {
    #[serde(default)]
    metadata: ObjectMeta,
}

#[derive(Deserialize)]
struct ListDoc {
    #[serde(default)]
    items: Vec<serde_yaml::Value>,
}

/// Reads one file: decodes text, splits documents, parses each.
pub fn parse_file(file: &SourceFile, opts: &LoadOptions) -> Loaded {
    let split = split(std::slice::from_ref(file));
    let parsed = split.parse(0..split.len(), opts);
    let mut out = Loaded::default();
    for f in split.files {
        out.diagnostics.extend(f.diagnostics);
        out.resources.extend(f.pre);
    }
    for (_, piece) in parsed.pieces {
        out.diagnostics.extend(piece.diagnostics);
        out.resources.extend(piece.resources);
    }
    out
}

/// Decodes a file's text (refusing binary and invalid UTF-8, dropping a BOM, normalising line
/// ends) and finds its documents.
fn split_file(file: &SourceFile) -> SplitFile {
    let path = file.path.as_str();
    let mut out = SplitFile {
        path: Arc::from(path),
        plain: std::sync::Mutex::new(None),
        documents: Vec::new(),
        diagnostics: Vec::new(),
        pre: Vec::new(),
    };
    if let Some(pos) = file.bytes.iter().position(|&b| b == 0) {
        let line = 1 + file.bytes[..pos].iter().filter(|&&b| b == b'\n').count();
        out.diagnostics.push(
            Diagnostic::new(
                diag::NOT_TEXT,
                "the file contains NUL bytes: it looks binary",
            )
            .at(path, line)
            .hint("pass YAML or JSON manifests; a binary file cannot be a manifest"),
        );
        return out;
    }
    let text = match std::str::from_utf8(&file.bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = e.valid_up_to();
            let before = &file.bytes[..valid];
            let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
            let col = 1 + valid
                - before
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |p| p + 1);
            out.diagnostics.push(
                Diagnostic::new(diag::NOT_TEXT, format!("invalid UTF-8 at byte {valid}"))
                    .at(path, line)
                    .col(Some(col))
                    .hint("save the file as UTF-8; Kubernetes manifests must be UTF-8"),
            );
            return out;
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text: Box<str> = if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        text.into()
    };
    let install = install_file_kind(path);
    if install.is_none() {
        out.documents = split_documents(&text)
            .into_iter()
            .filter(|&(_, start, end)| !is_blank_document(&text[start..end]))
            .collect();
    }
    let text = Arc::new(SourceText::plain(text));
    if let Some((api_version, kind)) = install {
        // An install folder's build file, not an object: set aside.
        out.pre.push(Resource {
            api_version: api_version.into(),
            kind: kind.into(),
            meta: ObjectMeta {
                name: Some(kind.to_ascii_lowercase()),
                ..Default::default()
            },
            origin: Origin {
                file: out.path.clone(),
                line: 1,
                range: (0, text.len()),
                text: text.clone(),
            },
            body: Box::new(Body::Kept(serde_yaml::Value::Null)),
        });
    }
    out.plain = std::sync::Mutex::new(Some(text));
    out
}

fn yaml_error(e: &serde_yaml::Error, origin: &Origin, what: Option<&str>) -> Diagnostic {
    let msg = e.to_string();
    // serde_yaml appends " at line L column C" to messages; the position goes in our own fields.
    let msg = match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg,
    };
    let (line, col) = match e.location() {
        Some(l) => (origin.line + l.line().saturating_sub(1), Some(l.column())),
        None => (origin.line, None),
    };
    let (code, hint) = if msg.contains("recursion limit") || msg.contains("repetition limit") {
        (
            diag::TOO_COMPLEX,
            "manifests are never nested this deep nor expand aliases this much; check for a YAML alias bomb".to_string(),
        )
    } else if msg.contains("invalid type") || msg.contains("invalid value") {
        let h = if msg.contains("expected u16")
            || msg.contains("expected i64")
            || msg.contains("expected u32")
        {
            "this field takes a number, such as 8080".to_string()
        } else if msg.contains("expected a string") {
            "quote the value (\"true\", \"80\") so that it is a string".to_string()
        } else if msg.contains("expected a sequence") {
            "this field takes a list: start each item with '- '".to_string()
        } else {
            "see the kind's API reference for this field's type".to_string()
        };
        (diag::WRONG_TYPE, h)
    } else if msg.contains("missing field") || msg.contains("unknown variant") {
        (
            diag::INVALID_VALUE,
            "see the kind's API reference for the required fields and allowed values".to_string(),
        )
    } else {
        (
            diag::YAML_SYNTAX,
            "check indentation (spaces only) and that every 'key: value' is well formed"
                .to_string(),
        )
    };
    let mut d = Diagnostic::new(code, msg)
        .at(&origin.file, line)
        .col(col)
        .hint(hint);
    if let Some(w) = what {
        d = d.object(w);
    }
    d
}

fn scalar_string(v: &Option<serde_yaml::Value>) -> Option<String> {
    match v {
        Some(serde_yaml::Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn parse_document(doc: &str, origin: Origin, opts: &LoadOptions, out: &mut Loaded) {
    if has_tab_indent(doc, &origin, out) {
        return;
    }
    // Nearly every document is an object of a known kind whose `kind` precedes its `spec`:
    // one pass reads it. Anything else (an error to report with its position, a list, a kind
    // kept as a raw value) is read again by the careful path, which names the first problem.
    let first = out.resources.len();
    let doc_start = origin.range.0;
    // A document with YAML merge keys (`<<: *base`) is read as a value, merged, then typed:
    // the one pass would take `<<` for a field.
    if has_merge_key(doc) || !onepass::parse(doc, &origin, opts, out) {
        parse_document_careful(doc, origin, opts, out);
    }
    note_route_lines(
        doc,
        doc_start,
        out.resources.get_mut(first..).unwrap_or_default(),
    );
}

/// Notes the line of each `spec.http` item of a VirtualService while its text is plain: a
/// full trace names the line of the route it took, and reading it later would mean
/// unpacking the text (see [`SourceText`]) on a trace's path. `doc` starts at byte
/// `doc_start` of its file; each resource is looked for in its own part of it (a List's item,
/// or the whole document), as [`Origin::line_of`] does.
fn note_route_lines(doc: &str, doc_start: usize, resources: &mut [Resource]) {
    for r in resources {
        let Body::VirtualService(spec) = r.body.as_mut() else {
            continue;
        };
        if spec.http.is_empty() {
            continue;
        }
        let own = r.origin.range.0.checked_sub(doc_start).and_then(|from| {
            let to = r.origin.range.1.checked_sub(doc_start)?;
            doc.get(from..to)
        });
        let lines = locate::locate_items(own.unwrap_or(doc), &["spec", "http"]);
        for (route, line) in spec.http.iter_mut().zip(lines) {
            route.line = u32::try_from(line).unwrap_or(0);
        }
    }
}

/// Tabs in indentation are a YAML error; names the line before the parser's vaguer message.
fn has_tab_indent(doc: &str, origin: &Origin, out: &mut Loaded) -> bool {
    for (i, l) in doc.lines().enumerate() {
        let indent: &str = &l[..l.len() - l.trim_start().len()];
        if indent.contains('\t') {
            out.diagnostics.push(
                Diagnostic::new(diag::TAB_INDENT, "a tab character is used for indentation")
                    .at(&origin.file, origin.line + i)
                    .col(Some(indent.find('\t').unwrap_or(0) + 1))
                    .hint("indent YAML with spaces only"),
            );
            return true;
        }
    }
    false
}

/// Reads a document in several passes (its shape as a value, its header, its metadata, its
/// body), so that the first problem found is reported in a fixed order with its position.
fn parse_document_careful(doc: &str, origin: Origin, opts: &LoadOptions, out: &mut Loaded) {
    let mut value_kind = serde_yaml::from_str::<serde_yaml::Value>(doc);
    let merged = has_merge_key(doc);
    if merged {
        if let Ok(v) = &mut value_kind {
            if let Err(e) = v.apply_merge() {
                out.diagnostics.push(yaml_error(&e, &origin, None));
                return;
            }
        }
    }
    let header: Header = match value_kind {
        Err(e) => {
            out.diagnostics.push(yaml_error(&e, &origin, None));
            return;
        }
        Ok(ref v @ serde_yaml::Value::Mapping(_)) if merged => {
            match serde_yaml::from_value::<Header>(v.clone()) {
                Ok(h) => h,
                Err(e) => {
                    out.diagnostics.push(yaml_error(&e, &origin, None));
                    return;
                }
            }
        }
        Ok(serde_yaml::Value::Mapping(_)) => match serde_yaml::from_str::<Header>(doc) {
            Ok(h) => h,
            Err(e) => {
                out.diagnostics.push(yaml_error(&e, &origin, None));
                return;
            }
        },
        Ok(serde_yaml::Value::Null) => return,
        Ok(other) => {
            let what = match other {
                serde_yaml::Value::Sequence(_) => "a list",
                serde_yaml::Value::String(_) => "a string",
                serde_yaml::Value::Number(_) => "a number",
                serde_yaml::Value::Bool(_) => "a boolean",
                _ => "not a mapping",
            };
            out.diagnostics.push(
                Diagnostic::new(
                    diag::NOT_AN_OBJECT,
                    format!("the document is {what}, not an object"),
                )
                .at(&origin.file, origin.line)
                .hint("each document must be a mapping with apiVersion, kind, metadata (and usually spec)"),
            );
            return;
        }
    };
    let (api_version, kind) = match (
        scalar_string(&header.api_version),
        scalar_string(&header.kind),
    ) {
        (Some(a), Some(k)) => (a, k),
        (a, k) => {
            let missing = match (a.is_none(), k.is_none()) {
                (true, true) => "apiVersion and kind",
                (true, false) => "apiVersion",
                _ => "kind",
            };
            out.diagnostics.push(
                Diagnostic::new(diag::MISSING_KIND, format!("the document has no {missing}"))
                    .at(&origin.file, origin.line)
                    .hint(
                        "add e.g. 'apiVersion: v1' and 'kind: Service' at the top of the document",
                    ),
            );
            return;
        }
    };
    if kind == "List" || (kind.ends_with("List") && api_version == "v1") {
        parse_list(doc, origin, opts, out);
        return;
    }
    // Typed from the merged value, or from the text (positions exact) with the value at hand
    // for what needs the document as a whole.
    let (item, whole) = match value_kind {
        Ok(v) if merged => (Some(v), None),
        Ok(v) => (None, Some(v)),
        Err(_) => (None, None),
    };
    parse_object(doc, item, whole, api_version, kind, origin, opts, out);
}

/// Whether a document may use YAML merge keys (`<<: *base`), which the API server's YAML
/// reader applies (sigs.k8s.io/yaml, on go-yaml) and serde's typed reading does not.
fn has_merge_key(doc: &str) -> bool {
    doc.contains("<<")
}

/// A `kind: List` (as `kubectl get -o yaml` prints): each item becomes its own resource, its
/// line found in the text.
fn parse_list(doc: &str, origin: Origin, opts: &LoadOptions, out: &mut Loaded) {
    let list: ListDoc = match serde_yaml::from_str(doc) {
        Ok(l) => l,
        Err(e) => {
            out.diagnostics.push(yaml_error(&e, &origin, None));
            return;
        }
    };
    // Each item's own lines, found in one pass (a cluster's dump holds thousands of items);
    // when the text is not block style (a JSON List), items point at the List's first line.
    let spans = list_item_spans(doc);
    let spans = if spans.len() == list.items.len() {
        spans
    } else {
        Vec::new()
    };
    let merged = has_merge_key(doc);
    for (i, mut item) in list.items.into_iter().enumerate() {
        let item_origin = match spans.get(i) {
            Some(&(line, start, end)) => Origin {
                line: origin.line + line,
                range: (origin.range.0 + start, origin.range.0 + end),
                ..origin.clone()
            },
            None => origin.clone(),
        };
        let line = item_origin.line;
        if merged {
            if let Err(e) = item.apply_merge() {
                out.diagnostics.push(yaml_error(&e, &item_origin, None));
                continue;
            }
        }
        let header = match serde_yaml::from_value::<Header>(item.clone()) {
            Ok(h) => h,
            Err(_) => {
                out.diagnostics.push(
                    Diagnostic::new(
                        diag::NOT_AN_OBJECT,
                        format!("List item {i} is not an object"),
                    )
                    .at(&origin.file, line)
                    .hint("each item of a List must be a Kubernetes object"),
                );
                continue;
            }
        };
        match (
            scalar_string(&header.api_version),
            scalar_string(&header.kind),
        ) {
            (Some(a), Some(k)) => parse_object("", Some(item), None, a, k, item_origin, opts, out),
            _ => out.diagnostics.push(
                Diagnostic::new(
                    diag::MISSING_KIND,
                    format!("List item {i} has no apiVersion or kind"),
                )
                .at(&origin.file, line)
                .hint("each item of a List needs apiVersion and kind"),
            ),
        }
    }
}

/// The items of a block-style `items:` list at the top of a List document: for each, its
/// zero-based first line and byte range within `doc`. One pass over the text.
fn list_item_spans(doc: &str) -> Vec<(usize, usize, usize)> {
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut in_items = false;
    let mut item_indent: Option<usize> = None;
    let mut offset = 0usize;
    for (n, line) in doc.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        let l = line.trim_end_matches(['\n', '\r']);
        let t = l.trim_start();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let indent = l.len() - t.len();
        if !in_items {
            if indent == 0
                && (t == "items:" || t.starts_with("items: ") && t[6..].trim().is_empty())
            {
                in_items = true;
            }
            continue;
        }
        let is_item = t == "-" || t.starts_with("- ");
        match item_indent {
            None if is_item => item_indent = Some(indent),
            None => break,
            Some(ii) if indent < ii || (indent == ii && !is_item) => break,
            _ => {}
        }
        if is_item && Some(indent) == item_indent {
            if let Some(last) = spans.last_mut() {
                last.2 = start;
            }
            spans.push((n, start, doc.len()));
        } else if let Some(last) = spans.last_mut() {
            last.2 = offset;
        }
    }
    spans
}

/// Deserialises either from the document text (positions exact) or from a list item's value,
/// noting in `t` the fields the kind's API does not have.
fn typed<T: DeserializeOwned>(
    doc: &str,
    item: &Option<serde_yaml::Value>,
    t: &mut Track,
) -> Result<T, serde_yaml::Error> {
    match item {
        Some(v) => T::deserialize(Checked::new(v.clone(), t)),
        None => T::deserialize(Checked::new(serde_yaml::Deserializer::from_str(doc), t)),
    }
}

/// The top-level fields of an object of each shape (kinds kept as raw values are not
/// checked).
fn top_level_fields(shape: Shape) -> Option<&'static [&'static str]> {
    Some(match shape {
        Shape::Kept => return None,
        Shape::ConfigMap => &[
            "apiVersion",
            "kind",
            "metadata",
            "data",
            "binaryData",
            "immutable",
        ],
        Shape::ServiceAccount => &[
            "apiVersion",
            "kind",
            "metadata",
            "secrets",
            "imagePullSecrets",
            "automountServiceAccountToken",
        ],
        Shape::EndpointSlice => &[
            "apiVersion",
            "kind",
            "metadata",
            "addressType",
            "endpoints",
            "ports",
        ],
        _ => &["apiVersion", "kind", "metadata", "spec", "status"],
    })
}

/// Notes the top-level keys that are not fields of an object of this shape (`spc:` for
/// `spec:`). The one-pass reader leaves every document with such a key to the careful path,
/// so only this path looks.
fn check_top_level(value: Option<&serde_yaml::Value>, shape: Shape, t: &mut Track) {
    let Some(fields) = top_level_fields(shape) else {
        return;
    };
    let Some(map) = value.and_then(|v| v.as_mapping()) else {
        return;
    };
    for key in map.keys() {
        let Some(key) = key.as_str() else { continue };
        if !fields.contains(&key) {
            t.found.push(UnknownField {
                path: vec![key.to_string()],
                read: fields.to_vec(),
                unread: &[],
            });
        }
    }
}

/// Notes the keys of a free-form `value` at `path` that `shape` does not have.
fn check_value_shape(
    value: &serde_yaml::Value,
    shape: &'static schema::ValueShape,
    path: &mut Vec<String>,
    found: &mut Vec<UnknownField>,
) {
    use schema::ValueShape;
    match (shape, value) {
        (ValueShape::Object(fields), serde_yaml::Value::Mapping(m)) => {
            for (k, v) in m {
                let Some(k) = k.as_str() else { continue };
                path.push(k.to_string());
                match fields.iter().find(|(name, _)| *name == k) {
                    Some((_, inner)) => check_value_shape(v, inner, path, found),
                    None => found.push(UnknownField {
                        path: path.clone(),
                        read: fields.iter().map(|(name, _)| *name).collect(),
                        unread: &[],
                    }),
                }
                path.pop();
            }
        }
        (ValueShape::List(inner), serde_yaml::Value::Sequence(items)) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                check_value_shape(item, inner, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// The unknown fields of the parts of objects kept as free-form values: a DestinationRule's
/// traffic policies (`loadBalancer`, `connectionPool`, `outlierDetection`,
/// `portLevelSettings`), an AuthorizationPolicy's rules, a Sidecar's ingress listeners.
fn free_form_unknown_fields(r: &Resource) -> Vec<UnknownField> {
    let mut found = Vec::new();
    let listed = |what: &str, items: &[serde_yaml::Value], shape, found: &mut Vec<UnknownField>| {
        for (i, v) in items.iter().enumerate() {
            let mut path = vec!["spec".to_string(), what.to_string(), i.to_string()];
            check_value_shape(v, shape, &mut path, found);
        }
    };
    match &*r.body {
        Body::AuthorizationPolicy(ap) => {
            listed("rules", &ap.rules, &schema::AUTHORIZATION_RULE, &mut found);
            return found;
        }
        Body::Sidecar(sc) => {
            listed("ingress", &sc.ingress, &schema::SIDECAR_INGRESS, &mut found);
            return found;
        }
        _ => {}
    }
    let Body::DestinationRule(dr) = &*r.body else {
        return found;
    };
    let mut policies: Vec<(Vec<String>, &TrafficPolicy)> = Vec::new();
    if let Some(tp) = &dr.traffic_policy {
        policies.push((vec!["spec".into(), "trafficPolicy".into()], tp));
    }
    for (i, s) in dr.subsets.iter().enumerate() {
        if let Some(tp) = &s.traffic_policy {
            let at = vec![
                "spec".into(),
                "subsets".into(),
                i.to_string(),
                "trafficPolicy".into(),
            ];
            policies.push((at, tp));
        }
    }
    for (mut path, tp) in policies {
        let parts: [(
            &str,
            Option<&serde_yaml::Value>,
            &'static schema::ValueShape,
        ); 3] = [
            (
                "loadBalancer",
                tp.load_balancer.as_ref(),
                &schema::LOAD_BALANCER,
            ),
            (
                "connectionPool",
                tp.connection_pool.as_ref(),
                &schema::CONNECTION_POOL,
            ),
            (
                "outlierDetection",
                tp.outlier_detection.as_ref(),
                &schema::OUTLIER_DETECTION,
            ),
        ];
        for (name, value, shape) in parts {
            if let Some(v) = value {
                path.push(name.into());
                check_value_shape(v, shape, &mut path, &mut found);
                path.pop();
            }
        }
        path.push("portLevelSettings".into());
        for (i, v) in tp.port_level_settings.iter().enumerate() {
            path.push(i.to_string());
            check_value_shape(v, &schema::PORT_TRAFFIC_POLICY, &mut path, &mut found);
            path.pop();
        }
    }
    found
}

/// One warning for each field of `r` that its API does not define, in the order of their
/// lines.
fn report_unknown_fields(found: Vec<UnknownField>, r: &Resource, out: &mut Loaded) {
    let mut found: Vec<(usize, UnknownField)> = found
        .into_iter()
        .map(|f| {
            let segs: Vec<&str> = f.path.iter().map(String::as_str).collect();
            (r.origin.line_of_nearest(&segs), f)
        })
        .collect();
    found.sort_by_key(|(line, _)| *line);
    for (line, f) in found {
        let hint = match f.suggestion() {
            Some(s) => format!("did you mean {s:?}? Check the field's spelling and indentation"),
            None => {
                let mut all: Vec<&str> = f.read.iter().chain(f.unread).copied().collect();
                all.sort_unstable();
                format!(
                    "check the field's spelling and indentation; the fields here are: {}",
                    all.join(", ")
                )
            }
        };
        out.diagnostics.push(
            Diagnostic::new(
                diag::UNKNOWN_FIELD,
                format!(
                    "unknown field {:?}: the {} API has no such field, so meshsim reads the object without it (kubectl apply refuses it: strict decoding error)",
                    f.dotted(),
                    r.kind
                ),
            )
            .at(&r.origin.file, line)
            .object(r.display())
            .hint(hint),
        );
    }
}

const CLUSTER_SCOPED: &[&str] = &[
    "Namespace",
    "GatewayClass",
    "Istio",
    "IstioRevision",
    "IstioRevisionTag",
    "IstioCNI",
    "ZTunnel",
    "Node",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "APIService",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "IngressClass",
    "Kustomization",
    "Component",
];

/// Which kinds are known, by group, with the versions their API serves.
fn known(group: &str, kind: &str) -> Option<&'static [&'static str]> {
    const NET: &[&str] = &["v1", "v1beta1", "v1alpha3"];
    const SEC: &[&str] = &["v1", "v1beta1"];
    const GW: &[&str] = &["v1", "v1beta1"];
    const GW_ALPHA: &[&str] = &["v1", "v1beta1", "v1alpha2"];
    const V1: &[&str] = &["v1"];
    const SAIL: &[&str] = &["v1", "v1alpha1"];
    match (group, kind) {
        (
            "",
            "Namespace" | "Pod" | "Service" | "ServiceAccount" | "ConfigMap" | "Endpoints"
            | "Secret",
        ) => Some(V1),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet") => Some(V1),
        ("batch", "Job" | "CronJob") => Some(V1),
        ("autoscaling", "HorizontalPodAutoscaler") => Some(&["v1", "v2"]),
        ("policy", "PodDisruptionBudget") => Some(V1),
        (
            "rbac.authorization.k8s.io",
            "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding",
        ) => Some(V1),
        ("discovery.k8s.io", "EndpointSlice") => Some(V1),
        // The machinery of an installation: read and set aside (see `SET_ASIDE`).
        ("apiextensions.k8s.io", "CustomResourceDefinition") => Some(V1),
        (
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration"
            | "ValidatingWebhookConfiguration"
            | "ValidatingAdmissionPolicy"
            | "ValidatingAdmissionPolicyBinding",
        ) => Some(&["v1", "v1beta1"]),
        ("apiregistration.k8s.io", "APIService") => Some(V1),
        ("networking.k8s.io", "NetworkPolicy" | "IngressClass") => Some(V1),
        ("", "ResourceQuota" | "LimitRange" | "Node" | "Event") => Some(V1),
        ("events.k8s.io", "Event") => Some(V1),
        ("scheduling.k8s.io", "PriorityClass") => Some(V1),
        ("coordination.k8s.io", "Lease") => Some(V1),
        ("kustomize.config.k8s.io", "Kustomization") => Some(&["v1beta1"]),
        ("kustomize.config.k8s.io", "Component") => Some(&["v1alpha1"]),
        (
            "networking.istio.io",
            "Gateway" | "VirtualService" | "DestinationRule" | "ServiceEntry" | "Sidecar"
            | "WorkloadEntry",
        ) => Some(NET),
        (
            "security.istio.io",
            "AuthorizationPolicy" | "PeerAuthentication" | "RequestAuthentication",
        ) => Some(SEC),
        ("gateway.networking.k8s.io", "GatewayClass" | "Gateway" | "HTTPRoute") => Some(GW),
        ("gateway.networking.k8s.io", "GRPCRoute" | "ReferenceGrant" | "TLSRoute" | "TCPRoute") => {
            Some(GW_ALPHA)
        }
        ("route.openshift.io", "Route") => Some(V1),
        (
            "sailoperator.io",
            "Istio" | "IstioRevision" | "IstioRevisionTag" | "IstioCNI" | "ZTunnel",
        ) => Some(SAIL),
        ("meshsim.io", "SimulatedResponse") => Some(&["v1alpha1"]),
        _ => None,
    }
}

/// Reads an object from `item` when given (a List's item, a merged document), else from
/// the text `doc`, whose parsed value `whole` serves what needs the document as a whole.
#[allow(clippy::too_many_arguments)]
fn parse_object(
    doc: &str,
    item: Option<serde_yaml::Value>,
    whole: Option<serde_yaml::Value>,
    api_version: String,
    kind: String,
    origin: Origin,
    opts: &LoadOptions,
    out: &mut Loaded,
) {
    let group = group_of(&api_version).to_string();
    let mut track = Track::default();
    let meta: ObjectMeta = match typed::<MetaOnly>(doc, &item, &mut track) {
        Ok(m) => m.metadata,
        Err(e) => {
            out.diagnostics.push(yaml_error(&e, &origin, Some(&kind)));
            return;
        }
    };
    let mut meta = meta;
    // A Kustomization needs no name: kustomize finds it by its file name.
    if group == "kustomize.config.k8s.io" && meta.name.as_deref().unwrap_or("").is_empty() {
        meta.name = Some("kustomization".into());
    }
    if meta.name.as_deref().unwrap_or("").is_empty() {
        out.diagnostics.push(
            Diagnostic::new(diag::MISSING_NAME, format!("{kind} has no metadata.name"))
                .at(&origin.file, origin.line)
                .hint("add 'metadata: {name: <name>}'; every object needs a name"),
        );
        return;
    }
    default_namespace(&kind, &mut meta, opts);
    let versions = known(&group, &kind);
    let mut resource = Resource {
        api_version: api_version.clone(),
        kind: kind.clone(),
        meta,
        origin,
        body: Box::new(Body::Namespace),
    };
    let Some(versions) = versions else {
        out.diagnostics.push(
            Diagnostic::new(
                diag::UNKNOWN_KIND,
                format!("ignored: {} {} {}", kind, api_version, ns_name(&resource)),
            )
            .at(&resource.origin.file, resource.origin.line)
            .hint("meshsim keeps this object but does not simulate its kind"),
        );
        *resource.body = Body::Unknown(item.or(whole).unwrap_or_default());
        out.resources.push(resource);
        return;
    };
    check_version(&resource, &group, versions, out);
    let what = resource.display();
    macro_rules! spec {
        ($t:ty, $variant:expr) => {
            match typed::<Doc<$t>>(doc, &item, &mut track) {
                Ok(d) => $variant(d.spec.unwrap_or_default()),
                Err(e) => {
                    out.diagnostics
                        .push(yaml_error(&e, &resource.origin, Some(&what)));
                    return;
                }
            }
        };
    }
    let shape = shape(&group, &kind);
    check_top_level(item.as_ref().or(whole.as_ref()), shape, &mut track);
    let body = match shape {
        Shape::Namespace => Body::Namespace,
        Shape::Pod => match typed::<Doc<PodSpec, PodStatus>>(doc, &item, &mut track) {
            Ok(d) => Body::Pod(d.spec.unwrap_or_default(), d.status.unwrap_or_default()),
            Err(e) => {
                out.diagnostics
                    .push(yaml_error(&e, &resource.origin, Some(&what)));
                return;
            }
        },
        Shape::Workload => spec!(WorkloadSpec, Body::Workload),
        Shape::Service => match typed::<Doc<ServiceSpec, ServiceStatus>>(doc, &item, &mut track) {
            Ok(d) => Body::Service(d.spec.unwrap_or_default(), d.status.unwrap_or_default()),
            Err(e) => {
                out.diagnostics
                    .push(yaml_error(&e, &resource.origin, Some(&what)));
                return;
            }
        },
        Shape::ServiceAccount => Body::ServiceAccount,
        Shape::EndpointSlice => match typed::<EndpointSliceBody>(doc, &item, &mut track) {
            Ok(b) => Body::EndpointSlice(b),
            Err(e) => {
                out.diagnostics
                    .push(yaml_error(&e, &resource.origin, Some(&what)));
                return;
            }
        },
        Shape::ConfigMap => match typed::<ConfigMapBody>(doc, &item, &mut track) {
            Ok(c) => Body::ConfigMap(c),
            Err(e) => {
                out.diagnostics
                    .push(yaml_error(&e, &resource.origin, Some(&what)));
                return;
            }
        },
        Shape::VirtualService => spec!(VirtualServiceSpec, Body::VirtualService),
        Shape::DestinationRule => spec!(DestinationRuleSpec, Body::DestinationRule),
        Shape::IstioGateway => spec!(IstioGatewaySpec, Body::IstioGateway),
        Shape::ServiceEntry => spec!(ServiceEntrySpec, Body::ServiceEntry),
        Shape::Sidecar => spec!(SidecarSpec, Body::Sidecar),
        Shape::WorkloadEntry => spec!(WorkloadEntrySpec, Body::WorkloadEntry),
        Shape::AuthorizationPolicy => spec!(AuthorizationPolicySpec, Body::AuthorizationPolicy),
        Shape::PeerAuthentication => spec!(PeerAuthenticationSpec, Body::PeerAuthentication),
        Shape::GatewayClass => spec!(GatewayClassSpec, Body::GatewayClass),
        Shape::Gateway => match typed::<Doc<GatewaySpec, GatewayStatus>>(doc, &item, &mut track) {
            Ok(d) => {
                let mut spec = d.spec.unwrap_or_default();
                spec.status_addresses = d.status.unwrap_or_default().addresses;
                Body::Gateway(spec)
            }
            Err(e) => {
                out.diagnostics
                    .push(yaml_error(&e, &resource.origin, Some(&what)));
                return;
            }
        },
        Shape::HttpRoute => spec!(HttpRouteSpec, Body::HttpRoute),
        Shape::GrpcRoute => spec!(GrpcRouteSpec, Body::GrpcRoute),
        Shape::ReferenceGrant => spec!(ReferenceGrantSpec, Body::ReferenceGrant),
        Shape::OpenShiftRoute => spec!(OpenShiftRouteSpec, Body::OpenShiftRoute),
        Shape::SailIstio => spec!(SailIstioSpec, Body::SailIstio),
        Shape::IstioRevision => spec!(SailIstioSpec, Body::IstioRevision),
        Shape::IstioRevisionTag => spec!(IstioRevisionTagSpec, Body::IstioRevisionTag),
        Shape::IstioCni => spec!(SailComponentSpec, Body::IstioCni),
        Shape::ZTunnel => spec!(SailComponentSpec, Body::ZTunnel),
        Shape::SimulatedResponse => spec!(SimulatedResponseSpec, Body::SimulatedResponse),
        Shape::Kept => Body::Kept(item.or(whole).unwrap_or_default()),
    };
    *resource.body = body;
    let mut found = track.found;
    found.extend(free_form_unknown_fields(&resource));
    report_unknown_fields(found, &resource, out);
    validate(&resource, out);
    out.resources.push(resource);
}

/// How the body of a kind is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Namespace,
    Pod,
    Workload,
    Service,
    ServiceAccount,
    ConfigMap,
    VirtualService,
    DestinationRule,
    IstioGateway,
    ServiceEntry,
    Sidecar,
    WorkloadEntry,
    AuthorizationPolicy,
    PeerAuthentication,
    GatewayClass,
    Gateway,
    HttpRoute,
    GrpcRoute,
    ReferenceGrant,
    OpenShiftRoute,
    SailIstio,
    IstioRevision,
    IstioRevisionTag,
    IstioCni,
    ZTunnel,
    SimulatedResponse,
    EndpointSlice,
    /// Known, kept as a raw value, not simulated.
    Kept,
}

/// The shape of a known kind (see [`known`]) by API group and kind.
fn shape(group: &str, kind: &str) -> Shape {
    match (group, kind) {
        ("meshsim.io", "SimulatedResponse") => Shape::SimulatedResponse,
        ("discovery.k8s.io", "EndpointSlice") => Shape::EndpointSlice,
        ("", "Namespace") => Shape::Namespace,
        ("", "Pod") => Shape::Pod,
        ("apps", _) | ("batch", "Job") => Shape::Workload,
        ("", "Service") => Shape::Service,
        ("", "ServiceAccount") => Shape::ServiceAccount,
        ("", "ConfigMap") => Shape::ConfigMap,
        ("networking.istio.io", "VirtualService") => Shape::VirtualService,
        ("networking.istio.io", "DestinationRule") => Shape::DestinationRule,
        ("networking.istio.io", "Gateway") => Shape::IstioGateway,
        ("networking.istio.io", "ServiceEntry") => Shape::ServiceEntry,
        ("networking.istio.io", "Sidecar") => Shape::Sidecar,
        ("networking.istio.io", "WorkloadEntry") => Shape::WorkloadEntry,
        ("security.istio.io", "AuthorizationPolicy") => Shape::AuthorizationPolicy,
        ("security.istio.io", "PeerAuthentication") => Shape::PeerAuthentication,
        ("gateway.networking.k8s.io", "GatewayClass") => Shape::GatewayClass,
        ("gateway.networking.k8s.io", "Gateway") => Shape::Gateway,
        ("gateway.networking.k8s.io", "HTTPRoute") => Shape::HttpRoute,
        ("gateway.networking.k8s.io", "GRPCRoute") => Shape::GrpcRoute,
        ("gateway.networking.k8s.io", "ReferenceGrant") => Shape::ReferenceGrant,
        ("route.openshift.io", "Route") => Shape::OpenShiftRoute,
        ("sailoperator.io", "Istio") => Shape::SailIstio,
        ("sailoperator.io", "IstioRevision") => Shape::IstioRevision,
        ("sailoperator.io", "IstioRevisionTag") => Shape::IstioRevisionTag,
        ("sailoperator.io", "IstioCNI") => Shape::IstioCni,
        ("sailoperator.io", "ZTunnel") => Shape::ZTunnel,
        _ => Shape::Kept,
    }
}

/// As the API server does: cluster-scoped kinds have no namespace; namespaced ones that name
/// none get the default one.
fn default_namespace(kind: &str, meta: &mut ObjectMeta, opts: &LoadOptions) {
    if CLUSTER_SCOPED.contains(&kind) {
        meta.namespace = None;
    } else if meta.namespace.as_deref().unwrap_or("").is_empty() {
        meta.namespace = Some(opts.default_namespace.clone());
    }
}

/// Warns when the object's version is not one its API serves.
fn check_version(r: &Resource, group: &str, versions: &[&str], out: &mut Loaded) {
    if !versions.contains(&version_of(&r.api_version)) {
        out.diagnostics.push(
            Diagnostic::new(
                diag::UNSERVED_VERSION,
                format!("{} is not a served version of {}", r.api_version, r.kind),
            )
            .at(&r.origin.file, r.origin.line)
            .object(r.display())
            .hint(format!("use {group}/{}", versions[0])),
        );
    }
}

fn ns_name(r: &Resource) -> String {
    if r.namespace().is_empty() {
        r.name().to_string()
    } else {
        format!("{}/{}", r.namespace(), r.name())
    }
}

/// What the Gateway API's CRDs refuse through their validation rules (CEL, in the
/// experimental channel's CRDs of the Gateway API): an HTTPRoute rule that redirects and has
/// backends, that both redirects and rewrites, or repeats a filter; a filter without the
/// field of its type, or with another type's; a path match not starting with `/` or with
/// `//`, `/./`, `/../`, `%2f`, `#`; repeated rule names; a
/// Gateway with a repeated listener name, TLS on an HTTP, TCP or UDP listener, a mode other
/// than Terminate on an HTTPS one, or two listeners alike in port, protocol and hostname. The
/// message follows the API server's (`spec.rules[0]: Invalid value: "object": ...`).
/// A backendRef of an HTTPRoute or GRPCRoute rule, or of a RequestMirror filter, that names a
/// Service (no group, kind `Service`, the CRD's defaults) must have a port: "Must have port
/// for Service reference", in the CRDs since Gateway API v0.8.
fn check_gateway_api(r: &Resource, out: &mut Loaded) {
    let mut refuse = |path: &[&str], message: &str| {
        out.diagnostics.push(at_field(
            r,
            diag::INVALID_VALUE,
            format!(
                "{}: Invalid value: \"object\": {message} (the API server refuses the object)",
                fields::dotted(path)
            ),
            path,
            "see the Gateway API reference for this field's rules",
        ));
    };
    match &*r.body {
        Body::HttpRoute(hr) => {
            let mut names: Vec<&str> = Vec::new();
            for (i, rule) in hr.rules.iter().enumerate() {
                let i = i.to_string();
                let at = ["spec", "rules", &i];
                if let Some(n) = rule.name.as_deref() {
                    if names.contains(&n) {
                        refuse(
                            &["spec", "rules"],
                            "Rule name must be unique within the route",
                        );
                    }
                    names.push(n);
                }
                for below in portless_service_refs(&rule.filters, &rule.backend_refs) {
                    refuse(&under(&at, &below), "Must have port for Service reference");
                }
                let redirects = rule.filters.iter().any(|f| f.request_redirect.is_some());
                if redirects && !rule.backend_refs.is_empty() {
                    refuse(
                        &at,
                        "RequestRedirect filter must not be used together with backendRefs",
                    );
                }
                let has = |t: &str| rule.filters.iter().filter(|f| f.type_ == t).count();
                if has("RequestRedirect") > 0 && has("URLRewrite") > 0 {
                    refuse(
                        &[&at[..], &["filters"]].concat(),
                        "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both",
                    );
                }
                for t in [
                    "CORS",
                    "RequestHeaderModifier",
                    "ResponseHeaderModifier",
                    "RequestRedirect",
                    "URLRewrite",
                ] {
                    if has(t) > 1 {
                        refuse(
                            &[&at[..], &["filters"]].concat(),
                            &format!("{t} filter cannot be repeated"),
                        );
                    }
                }
                for (j, m) in rule.matches.iter().enumerate() {
                    let j = j.to_string();
                    let Some(p) = &m.path else { continue };
                    let kind = p.type_.as_deref().unwrap_or("PathPrefix");
                    if kind != "Exact" && kind != "PathPrefix" {
                        continue;
                    }
                    let value = p.value.as_deref().unwrap_or("/");
                    let path = [&at[..], &["matches", &j, "path"]].concat();
                    if !value.starts_with('/') {
                        refuse(&path, "value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']");
                    }
                    for bad in ["//", "/./", "/../", "%2f", "%2F", "#"] {
                        if value.contains(bad) {
                            refuse(&path, &format!("must not contain '{bad}' when type one of ['Exact', 'PathPrefix']"));
                        }
                    }
                    for bad in ["/..", "/."] {
                        if value.ends_with(bad) {
                            refuse(&path, &format!("must not end with '{bad}' when type one of ['Exact', 'PathPrefix']"));
                        }
                    }
                }
                for (below, filter) in rule_filters(rule) {
                    let path: Vec<&str> = at
                        .iter()
                        .copied()
                        .chain(below.iter().map(String::as_str))
                        .collect();
                    let fields = [
                        (
                            "RequestHeaderModifier",
                            "requestHeaderModifier",
                            filter.request_header_modifier.is_some(),
                        ),
                        (
                            "ResponseHeaderModifier",
                            "responseHeaderModifier",
                            filter.response_header_modifier.is_some(),
                        ),
                        (
                            "RequestMirror",
                            "requestMirror",
                            filter.request_mirror.is_some(),
                        ),
                        (
                            "RequestRedirect",
                            "requestRedirect",
                            filter.request_redirect.is_some(),
                        ),
                        ("URLRewrite", "urlRewrite", filter.url_rewrite.is_some()),
                        (
                            "ExtensionRef",
                            "extensionRef",
                            filter.extension_ref.is_some(),
                        ),
                    ];
                    for (t, field, present) in fields {
                        if present && filter.type_ != t {
                            refuse(
                                &path,
                                &format!(
                                    "filter.{field} must be nil if the filter.type is not {t}"
                                ),
                            );
                        }
                        if !present && filter.type_ == t {
                            refuse(
                                &path,
                                &format!("filter.{field} must be specified for {t} filter.type"),
                            );
                        }
                    }
                }
            }
        }
        Body::GrpcRoute(gr) => {
            for (i, rule) in gr.rules.iter().enumerate() {
                let i = i.to_string();
                for below in portless_service_refs(&rule.filters, &rule.backend_refs) {
                    refuse(
                        &under(&["spec", "rules", &i], &below),
                        "Must have port for Service reference",
                    );
                }
            }
        }
        Body::Gateway(gw) => {
            let at = ["spec", "listeners"];
            for (i, l) in gw.listeners.iter().enumerate() {
                if gw.listeners[..i].iter().any(|o| o.name == l.name) {
                    refuse(&at, "Listener name must be unique within the Gateway");
                }
                if gw.listeners[..i].iter().any(|o| {
                    o.port == l.port && o.protocol == l.protocol && o.hostname == l.hostname
                }) {
                    refuse(&at, "Combination of port, protocol and hostname must be unique for each listener");
                }
            }
            if gw
                .listeners
                .iter()
                .any(|l| ["HTTP", "TCP", "UDP"].contains(&l.protocol.as_str()) && l.tls.is_some())
            {
                refuse(
                    &at,
                    "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
                );
            }
            if gw.listeners.iter().any(|l| {
                l.protocol == "HTTPS"
                    && l.tls
                        .as_ref()
                        .and_then(|t| t.mode.as_deref())
                        .is_some_and(|m| !m.is_empty() && m != "Terminate")
            }) {
                refuse(&at, "tls mode must be Terminate for protocol HTTPS");
            }
        }
        _ => {}
    }
}

/// Every filter of an HTTPRoute rule, its own and then its backends', each with its path
/// below the rule (`["filters", "0"]`, `["backendRefs", "1", "filters", "0"]`).
fn rule_filters(rule: &HttpRouteRule) -> Vec<(Vec<String>, &HttpRouteFilter)> {
    filters_below(&rule.filters, &rule.backend_refs)
}

/// The filters of a rule (HTTPRoute or GRPCRoute), its own and then its backends', each with
/// its path below the rule.
fn filters_below<'a>(
    filters: &'a [HttpRouteFilter],
    backend_refs: &'a [HttpBackendRef],
) -> Vec<(Vec<String>, &'a HttpRouteFilter)> {
    let own = filters
        .iter()
        .enumerate()
        .map(|(f, x)| (vec!["filters".to_string(), f.to_string()], x));
    let backends = backend_refs.iter().enumerate().flat_map(|(b, br)| {
        br.filters.iter().enumerate().map(move |(f, x)| {
            let path = ["backendRefs", &b.to_string(), "filters", &f.to_string()];
            (path.iter().map(|s| s.to_string()).collect(), x)
        })
    });
    own.chain(backends).collect()
}

/// The references of a rule (HTTPRoute or GRPCRoute) to a Service without a port, by their
/// path below the rule: its backendRefs and its RequestMirror filters' backendRef. A
/// reference names a Service when its group is empty and its kind `Service`, the CRD's
/// defaults; the CRDs require a port for it ("Must have port for Service reference").
fn portless_service_refs(
    filters: &[HttpRouteFilter],
    backend_refs: &[HttpBackendRef],
) -> Vec<Vec<String>> {
    let service = |group: Option<&str>, kind: Option<&str>| {
        group.unwrap_or("").is_empty() && kind.unwrap_or("Service") == "Service"
    };
    let backends = backend_refs
        .iter()
        .enumerate()
        .filter(|(_, br)| service(br.group.as_deref(), br.kind.as_deref()) && br.port.is_none())
        .map(|(b, _)| vec!["backendRefs".to_string(), b.to_string()]);
    let mirrors = filters_below(filters, backend_refs)
        .into_iter()
        .filter_map(|(below, f)| {
            let to = &f.request_mirror.as_ref()?.backend_ref;
            (service(to.group.as_deref(), to.kind.as_deref()) && to.port.is_none()).then(|| {
                let mut path = below;
                path.extend(["requestMirror".to_string(), "backendRef".to_string()]);
                path
            })
        });
    backends.chain(mirrors).collect()
}

/// A diagnostic of `r` at the field at `path` (or its nearest written parent).
fn at_field(
    r: &Resource,
    code: &'static str,
    message: String,
    path: &[&str],
    hint: &str,
) -> Diagnostic {
    Diagnostic::new(code, message)
        .at(&r.origin.file, r.origin.line_of_nearest(path))
        .object(r.display())
        .hint(hint)
}

/// The path of a field `below` the field at `path`: a check of a part of an object names the
/// fields below that part, and the object's check where the part is.
fn under<'a>(path: &[&'a str], below: &'a [String]) -> Vec<&'a str> {
    path.iter()
        .copied()
        .chain(below.iter().map(String::as_str))
        .collect()
}

/// istiod's validating webhook denies `r`, for `message`, at the field at `path`.
fn refused(r: &Resource, message: String, path: &[&str]) -> Diagnostic {
    at_field(
        r,
        diag::REFUSED_BY_ISTIO,
        format!("admission webhook \"validation.istio.io\" denied the request: configuration is invalid: {message}"),
        path,
        "fix the object as the message says; until then it does not exist in the cluster",
    )
}

/// The Gateway API's hostname fields against their CRD pattern: lowercase DNS labels, a
/// leading `*.` where a wildcard is allowed (routes' hostnames, a listener's), no scheme,
/// port or path.
fn check_gateway_api_hostnames(r: &Resource, out: &mut Loaded) {
    const WILDCARD: &str =
        r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    const PLAIN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    let mut check = |h: &str, wildcard: bool, path: &[&str]| {
        let name = match h.strip_prefix("*.") {
            Some(rest) if wildcard => rest,
            _ => h,
        };
        let label_ok = |l: &str| {
            let b = l.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || *c == b'-')
        };
        if !h.is_empty() && h.len() <= 253 && name.split('.').all(label_ok) {
            return;
        }
        let dotted = fields::dotted(path);
        let pattern = if wildcard { WILDCARD } else { PLAIN };
        out.diagnostics.push(at_field(
            r,
            diag::INVALID_VALUE,
            format!("{dotted}: Invalid value: {h:?}: {dotted} in body should match '{pattern}' (the API server refuses the object)"),
            path,
            "a hostname is lowercase, with no scheme, port or path (api.example.com, *.example.com)",
        ));
    };
    match &*r.body {
        Body::HttpRoute(hr) => {
            for (i, h) in hr.hostnames.iter().enumerate() {
                check(h, true, &["spec", "hostnames", &i.to_string()]);
            }
            for (i, rule) in hr.rules.iter().enumerate() {
                let i = i.to_string();
                for (below, filter) in rule_filters(rule) {
                    let path: Vec<&str> = ["spec", "rules", &i]
                        .into_iter()
                        .chain(below.iter().map(String::as_str))
                        .collect();
                    if let Some(h) = filter
                        .request_redirect
                        .as_ref()
                        .and_then(|x| x.hostname.as_deref())
                    {
                        check(
                            h,
                            false,
                            &[&path[..], &["requestRedirect", "hostname"]].concat(),
                        );
                    }
                    if let Some(h) = filter
                        .url_rewrite
                        .as_ref()
                        .and_then(|x| x.hostname.as_deref())
                    {
                        check(h, false, &[&path[..], &["urlRewrite", "hostname"]].concat());
                    }
                }
            }
        }
        Body::GrpcRoute(gr) => {
            for (i, h) in gr.hostnames.iter().enumerate() {
                check(h, true, &["spec", "hostnames", &i.to_string()]);
            }
        }
        Body::Gateway(gw) => {
            for (i, l) in gw.listeners.iter().enumerate() {
                if let Some(h) = l.hostname.as_deref() {
                    check(h, true, &["spec", "listeners", &i.to_string(), "hostname"]);
                }
            }
        }
        _ => {}
    }
}

/// What istiod's validating webhook refuses in a VirtualService (Istio's
/// `pkg/config/validation/validation.go` ValidateVirtualService and
/// `virtualservice.go` validateHTTPRouteConflict): an HTTP route that both routes and
/// redirects (or answers directly), or does neither; a root route (with `delegate`) that
/// also routes or redirects; a delegate VirtualService (no hosts) with gateways, TCP or TLS
/// routes; no routes at all; `*` as a host of a VirtualService that applies to sidecars;
/// duplicate hosts. The message is the webhook's.
fn check_istio_validation(r: &Resource, out: &mut Loaded) {
    if let Body::DestinationRule(dr) = &*r.body {
        check_destination_rule(r, dr, out);
        return;
    }
    if let Body::ServiceEntry(se) = &*r.body {
        check_service_entry(r, se, out);
        return;
    }
    if let Body::IstioGateway(gw) = &*r.body {
        check_istio_gateway(r, gw, out);
        return;
    }
    if let Body::Sidecar(sc) = &*r.body {
        check_sidecar(r, sc, out);
        return;
    }
    let Body::VirtualService(vs) = &*r.body else {
        return;
    };
    warn_unused_rules(r, vs, out);
    let mut refuse =
        |message: String, path: &[&str]| out.diagnostics.push(refused(r, message, path));
    let delegate_vs = vs.hosts.is_empty();
    // A VirtualService Istio writes for Gateway API routes: its destinations are not checked.
    let gateway_semantics = r
        .meta
        .annotations
        .get("internal.istio.io/route-semantics")
        .is_some_and(|v| v == "gateway");
    if delegate_vs {
        if !vs.gateways.is_empty() {
            refuse(
                "delegate virtual service must have no gateways specified".into(),
                &["spec", "gateways"],
            );
        }
        if !vs.tls.is_empty() {
            refuse(
                "delegate virtual service must have no tls route specified".into(),
                &["spec", "tls"],
            );
        }
        if !vs.tcp.is_empty() {
            refuse(
                "delegate virtual service must have no tcp route specified".into(),
                &["spec", "tcp"],
            );
        }
    }
    let to_mesh = vs.gateways.is_empty() || vs.gateways.iter().any(|g| g == "mesh");
    // Hosts are domain names (or IP addresses). A VirtualService bound to gateways only, with
    // SNI matches, may also name the SNI Istio generates for AUTO_PASSTHROUGH
    // (`outbound_.80_._.host`).
    let sni = vs
        .tls
        .iter()
        .any(|t| t.r#match.iter().any(|m| !m.sni_hosts.is_empty()));
    // Duplicates are looked for only among valid hosts, as upstream.
    let mut all_valid = true;
    for h in &vs.hosts {
        let checked = if to_mesh {
            validate_wildcard_domain(h)
        } else {
            validate_gateway_vs_host(sni, h)
        };
        match checked {
            Err(e) if h.parse::<std::net::IpAddr>().is_err() => {
                refuse(e, &["spec", "hosts"]);
                all_valid = false;
            }
            Err(_) => {}
            Ok(()) if to_mesh && h == "*" => {
                refuse(
                    "wildcard host * is not allowed for virtual services bound to the mesh gateway"
                        .into(),
                    &["spec", "hosts"],
                );
                all_valid = false;
            }
            Ok(()) => {}
        }
    }
    for (i, a) in vs.hosts.iter().enumerate().filter(|_| all_valid) {
        for b in &vs.hosts[i + 1..] {
            if hosts_overlap(a, b) {
                refuse(
                    format!("duplicate hosts in virtual service: {a} & {b}"),
                    &["spec", "hosts"],
                );
            }
        }
    }
    if vs.http.is_empty() && vs.tcp.is_empty() && vs.tls.is_empty() {
        refuse(
            "http, tcp or tls must be provided in virtual service".into(),
            &["spec"],
        );
    }
    // What the webhook admits with a warning (MS0313): message and path.
    let mut warnings: Vec<(String, Vec<String>, &str)> = Vec::new();
    let owned = |path: &[&str]| path.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    let (refused_names, legacy) = gateway_name_faults(&vs.gateways, gateway_semantics);
    for e in refused_names {
        refuse(e, &["spec", "gateways"]);
    }
    if let Some(w) = legacy {
        warnings.push((
            w,
            owned(&["spec", "gateways"]),
            "write the gateway as <namespace>/<name>",
        ));
    }
    // Routing on JWT claims works on gateways only (ValidateVirtualService).
    for (i, h) in vs.http.iter().enumerate().filter(|_| to_mesh) {
        for (j, m) in h.r#match.iter().enumerate() {
            let more = m.more();
            let keys = m.headers.keys().chain(more.without_headers.keys());
            for key in keys.filter(|k| is_jwt_claim(k)) {
                refuse(
                    format!(
                        "JWT claim based routing (key: {key}) is only supported for gateway, found no gateways: [{}]",
                        vs.gateways.join(" ")
                    ),
                    &["spec", "http", &i.to_string(), "match", &j.to_string()],
                );
            }
        }
    }
    for (i, h) in vs.http.iter().enumerate() {
        let i = i.to_string();
        let path = ["spec", "http", &i];
        let more = h.more();
        let name = h.name.as_deref().unwrap_or("");
        if let Some(w) = more.fault.as_ref().and_then(fault_warning) {
            warnings.push((
                w.to_string(),
                owned(&[&path[..], &["fault", "abort"]].concat()),
                "give the abort an httpStatus or a grpcStatus",
            ));
        }
        let destinations = h.route.iter().map(|d| (&d.destination, d.weight));
        for (message, below) in http_route_header_errors(h)
            .into_iter()
            .chain(string_match_errors(h))
            .chain(route_destination_errors(destinations, gateway_semantics))
        {
            refuse(message, &under(&path, &below));
        }
        if let Some(m) = &more.mirror {
            for e in destination_errors(m) {
                refuse(e, &[&path[..], &["mirror"]].concat());
            }
        }
        // The share `mirror` copies (validateHTTPRoute).
        if let Some(p) = more.mirror_percent {
            if p > 100 {
                refuse(
                    format!("mirror_percent must have a max value of 100 (it has {p})"),
                    &[&path[..], &["mirrorPercent"]].concat(),
                );
            }
            warnings.push((
                "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead"
                    .into(),
                owned(&[&path[..], &["mirrorPercent"]].concat()),
                "write mirrorPercentage: {value: N}",
            ));
        }
        if let Some(v) = more.mirror_percentage.as_ref().map(|p| p.value) {
            let at = [&path[..], &["mirrorPercentage"]].concat();
            if v > 100.0 {
                refuse(
                    format!("mirror_percentage must have a max value of 100 (it has {v:.6})"),
                    &at,
                );
            }
            if v < 0.0 {
                refuse(
                    format!("mirror_percentage must have a min value of 0 (it has {v:.6})"),
                    &at,
                );
            }
        }
        // validateHTTPMirrors; and `mirror` and `mirrors` exclude each other.
        for (k, m) in more.mirrors.iter().enumerate() {
            let k = k.to_string();
            let at = [&path[..], &["mirrors", &k]].concat();
            let Some(d) = &m.destination else {
                refuse("destination is required for mirrors".into(), &at);
                continue;
            };
            for e in destination_errors(d) {
                refuse(e, &[&at[..], &["destination"]].concat());
            }
            let value = m.percentage.as_ref().map_or(0.0, |p| p.value);
            if value > 100.0 {
                refuse(
                    format!("mirror percentage must have a max value of 100 (it has {value:.6})"),
                    &at,
                );
            }
            if value < 0.0 {
                refuse(
                    format!("mirror percentage must have a min value of 0 (it has {value:.6})"),
                    &at,
                );
            }
        }
        if more.mirror.is_some() && !more.mirrors.is_empty() {
            refuse(
                "HTTP route cannot contain both mirror and mirrors".into(),
                &path,
            );
        }
        for (e, within) in http_route_behaviour_errors(more) {
            refuse(e, &[&path[..], &within[..]].concat());
        }
        if more.delegate.is_some() && !delegate_vs {
            if more.redirect.is_some() {
                refuse(
                    format!("root HTTP route {name} must not specify redirect"),
                    &path,
                );
            }
            if !h.route.is_empty() {
                refuse(
                    format!("root HTTP route {name} must not specify route"),
                    &path,
                );
            }
            continue;
        }
        if delegate_vs && more.delegate.is_some() {
            refuse("delegate HTTP route cannot contain delegate".into(), &path);
        }
        // validateHTTPRouteConflict: what a redirect, or else a direct response, excludes;
        // without either, a route is required.
        let conflicts: Vec<(bool, &str)> = if more.redirect.is_some() {
            vec![
                (
                    !h.route.is_empty(),
                    "HTTP route cannot contain both route and redirect",
                ),
                (
                    more.fault.is_some(),
                    "HTTP route cannot contain both fault and redirect",
                ),
                (
                    more.rewrite.is_some(),
                    "HTTP route rule cannot contain both rewrite and redirect",
                ),
                (
                    more.direct_response.is_some(),
                    "HTTP route rule cannot contain both direct_response and redirect",
                ),
            ]
        } else if more.direct_response.is_some() {
            vec![
                (
                    !h.route.is_empty(),
                    "HTTP route cannot contain both route and direct_response",
                ),
                (
                    more.fault.is_some(),
                    "HTTP route cannot contain both fault and direct_response",
                ),
                (
                    more.rewrite.is_some(),
                    "HTTP route rule cannot contain both rewrite and direct_response",
                ),
            ]
        } else {
            vec![(
                h.route.is_empty(),
                "HTTP route, redirect or direct_response is required",
            )]
        };
        for (hit, message) in conflicts {
            if hit {
                refuse(message.into(), &path);
            }
        }
    }
    // validateTLSRoute, validateTLSMatch, validateTCPRoute.
    for (i, t) in vs.tls.iter().enumerate() {
        let i = i.to_string();
        let path = ["spec", "tls", &i];
        if t.r#match.is_empty() {
            refuse(
                "TLS route must have at least one match condition".into(),
                &path,
            );
        }
        for (j, m) in t.r#match.iter().enumerate() {
            let j = j.to_string();
            let at = [&path[..], &["match", &j]].concat();
            if m.sni_hosts.is_empty() {
                refuse("TLS match must have at least one SNI host".into(), &at);
            }
            for sni in &m.sni_hosts {
                match sni_host_check(vs, sni) {
                    SniHost::Fine => {}
                    SniHost::Refused(e) => refuse(e, &[&at[..], &["sniHosts"]].concat()),
                    SniHost::Address => warnings.push((
                        format!("using an IP address ({sni:?}) goes against SNI spec and most clients do not support this"),
                        owned(&[&at[..], &["sniHosts"]].concat()),
                        "match the server name clients send (a DNS name), or route by address with a TCP route",
                    )),
                }
            }
        }
        if t.route.is_empty() {
            refuse("TLS route is required".into(), &path);
        }
        let destinations = t.route.iter().map(|d| (&d.destination, d.weight));
        for (message, below) in route_destination_errors(destinations, gateway_semantics) {
            refuse(message, &under(&path, &below));
        }
    }
    for (i, t) in vs.tcp.iter().enumerate() {
        let i = i.to_string();
        let path = ["spec", "tcp", &i];
        if t.route.is_empty() {
            refuse("TCP route is required".into(), &path);
        }
        let destinations = t.route.iter().map(|d| (&d.destination, d.weight));
        for (message, below) in route_destination_errors(destinations, gateway_semantics) {
            refuse(message, &under(&path, &below));
        }
    }
    for (message, path, hint) in warnings {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        out.diagnostics
            .push(at_field(r, diag::WEBHOOK_WARNING, message, &path, hint));
    }
}

/// The rules of a VirtualService no request reaches, as istiod's webhook warns of them
/// (Istio's `analyzeUnreachableHTTPRules`): any rule after one without matches, and a rule
/// each of whose matches repeats an earlier match (names aside). A match that repeats an
/// earlier one in a rule that has others is named on its own.
fn warn_unused_rules(r: &Resource, vs: &VirtualServiceSpec, out: &mut Loaded) {
    let rule_name = |i: usize| match vs.http[i].name.as_deref() {
        Some(n) if !n.is_empty() => format!("{n:?}"),
        _ => format!("#{i}"),
    };
    // Two matches alike but for their names (every other field listed, so that a new one
    // cannot be left out).
    let alike = |a: &HttpMatchRequest, b: &HttpMatchRequest| {
        let HttpMatchRequest {
            name: _,
            uri,
            headers,
            port,
            ignore_uri_case,
            more,
        } = a;
        *uri == b.uri
            && *headers == b.headers
            && *port == b.port
            && *ignore_uri_case == b.ignore_uri_case
            && *more == b.more
    };
    let mut seen: Vec<(&HttpMatchRequest, usize)> = Vec::new();
    let mut catch_all: Option<usize> = None;
    let mut warn = |i: usize, message: String| {
        let at = i.to_string();
        out.diagnostics.push(
            Diagnostic::new(diag::UNUSED_RULE, message)
                .at(&r.origin.file, r.origin.line_of(&["spec", "http", &at]))
                .object(r.display())
                .hint("move the rule before the one that takes its requests, or remove it"),
        );
    };
    for (i, route) in vs.http.iter().enumerate() {
        if route.r#match.is_empty() {
            if catch_all.is_some() {
                warn(
                    i,
                    format!(
                        "virtualService rule {} not used (only the last rule can have no matches)",
                        rule_name(i)
                    ),
                );
            }
            catch_all = Some(i);
            continue;
        }
        if catch_all.is_some() {
            warn(
                i,
                format!(
                    "virtualService rule {} not used (route without matches defined before)",
                    rule_name(i)
                ),
            );
            continue;
        }
        let mut repeated = 0;
        for (j, m) in route.r#match.iter().enumerate() {
            if let Some((_, earlier)) = seen.iter().find(|(s, _)| alike(s, m)) {
                let match_name = match route.r#match[j].name.as_deref() {
                    Some(n) if !n.is_empty() => format!("{n:?}"),
                    _ => format!("#{j}"),
                };
                if route.r#match.len() > 1 {
                    warn(i, format!("virtualService rule {} match {match_name} is not used (duplicate/overlapping match in rule {})", rule_name(i), rule_name(*earlier)));
                }
                repeated += 1;
                continue;
            }
            seen.push((m, i));
        }
        if repeated == route.r#match.len() {
            warn(
                i,
                format!(
                    "virtualService rule {} not used (all matches used by prior rules)",
                    rule_name(i)
                ),
            );
        }
    }
}

/// What istiod's webhook refuses in a DestinationRule (`ValidateDestinationRule`): a host
/// that is not a domain name, and subsets without a name, with a name that is not a DNS
/// label, or with the name of an earlier subset.
fn check_destination_rule(r: &Resource, dr: &DestinationRuleSpec, out: &mut Loaded) {
    let mut refuse =
        |message: String, path: &[&str]| out.diagnostics.push(refused(r, message, path));
    if let Err(e) = validate_wildcard_domain(&dr.host) {
        refuse(e, &["spec", "host"]);
    }
    for (i, subset) in dr.subsets.iter().enumerate() {
        let at = i.to_string();
        let path = ["spec", "subsets", &at, "name"];
        if dr.subsets[..i].iter().any(|s| s.name == subset.name) {
            refuse(format!("duplicate subset names: {}", subset.name), &path);
        }
        if subset.name.is_empty() {
            refuse("subset name cannot be empty".into(), &path);
        } else if !is_dns1123_label(&subset.name) {
            refuse(format!("subset name is invalid: {}", subset.name), &path);
        }
    }
}

/// A DNS label as Istio's `labels.IsDNS1123Label` takes it: 1 to 63 letters, digits and
/// hyphens, starting and ending with a letter or digit (either case).
fn is_dns1123_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Istio's `agent.ValidateWildcardDomain`: a domain name whose first label may be `*`, or
/// start with `*` or `*-`; the message is Istio's.
/// Istio's `agent.ValidateWildcardDomainForVirtualServiceBoundToGateway`: a host of a
/// VirtualService bound to gateways only. As [`validate_wildcard_domain`], except that with
/// SNI matches (`sni`) a host may be the SNI Istio generates for AUTO_PASSTHROUGH,
/// `outbound_.<PORT>_._.<HOSTNAME>`, whose port must hold a digit and hostname a letter.
fn validate_gateway_vs_host(sni: bool, domain: &str) -> Result<(), String> {
    const FORMAT: &str = "outbound_.<PORT>_._.<HOSTNAME>";
    if !(sni && domain.len() <= 255 && domain.starts_with("outbound_")) {
        return validate_wildcard_domain(domain);
    }
    let parts: Vec<&str> = domain.split('_').collect();
    if parts.len() < 4 {
        return Err(format!(
            "domain name {domain} invalid, should follow '{FORMAT}' format"
        ));
    }
    let port = parts[1].trim_matches('.');
    let hostname = parts[3].trim_matches('.');
    if !port.bytes().any(|b| b.is_ascii_digit()) {
        return Err(format!(
            "domain name {domain:?} invalid (label {port:?} invalid). should follow {FORMAT} format"
        ));
    }
    if !hostname.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "domain name {domain:?} invalid (label {hostname:?} invalid). should follow {FORMAT} format"
        ));
    }
    Ok(())
}

fn validate_wildcard_domain(domain: &str) -> Result<(), String> {
    dns1123_preconditions(domain)?;
    let (first, rest) = match domain.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (domain, None),
    };
    let wildcard_label = first.len() <= 63
        && (first == "*"
            || is_dns1123_label(first)
            || first
                .strip_prefix("*-")
                .or_else(|| first.strip_prefix('*'))
                .is_some_and(is_dns1123_label));
    if !wildcard_label {
        return Err(format!(
            "domain name {domain:?} invalid (label {first:?} invalid)"
        ));
    }
    match rest {
        Some(rest) => validate_dns1123_labels(rest),
        None => Ok(()),
    }
}

/// Istio's `agent.CheckDNS1123Preconditions`: a domain name is not empty and at most 255
/// characters long.
fn dns1123_preconditions(domain: &str) -> Result<(), String> {
    if domain.len() > 255 {
        return Err(format!("domain name {domain:?} too long (max 255)"));
    }
    if domain.is_empty() {
        return Err("empty domain name not allowed".into());
    }
    Ok(())
}

/// Istio's `agent.ValidateDNS1123Labels`: every label a DNS label (the last may be empty, as
/// in `istio.io.`), the last not all digits.
fn validate_dns1123_labels(domain: &str) -> Result<(), String> {
    let parts: Vec<&str> = domain.split('.').collect();
    let tld = parts[parts.len() - 1];
    if !tld.is_empty() && tld.parse::<i64>().is_ok() {
        return Err(format!(
            "domain name {domain:?} invalid (top level domain {tld:?} cannot be all-numeric)"
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        if i == parts.len() - 1 && label.is_empty() {
            return Ok(());
        }
        if !is_dns1123_label(label) {
            return Err(format!(
                "domain name {domain:?} invalid (label {label:?} invalid)"
            ));
        }
    }
    Ok(())
}

/// Istio's `agent.ValidateNamespaceSlashWildcardHostname`, for a Sidecar's egress host
/// (`namespace/dnsName` required) or a Gateway server's (`dnsName` alone allowed): the
/// errors, in Istio's words.
fn namespace_slash_host_errors(host: &str, gateway: bool) -> Vec<String> {
    let mut errs = Vec::new();
    let (ns, name) = match host.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None if gateway => (None, host),
        None => return vec!["host must be of form namespace/dnsName".into()],
    };
    if let Some(ns) = ns {
        if ns.is_empty() || name.is_empty() {
            errs.push("config namespace and dnsName in host entry cannot be empty".into());
        }
        if gateway {
            if ns != "*" && ns != "." && !is_dns1123_label(ns) {
                errs.push(format!("invalid namespace value {ns:?} in gateway"));
            }
        } else {
            let bare = ns.strip_prefix('~').unwrap_or(ns);
            if !bare.is_empty() && bare != "*" && bare != "." && !is_dns1123_label(bare) {
                errs.push(format!("invalid namespace value {ns:?} in sidecar"));
            }
        }
    }
    // validateSidecarOrGatewayHostnamePart
    if name != "*" && !name.contains('.') {
        errs.push("short names (non FQDN) are not allowed".into());
    }
    if let Err(e) = validate_wildcard_domain(name) {
        if !gateway || name.parse::<std::net::IpAddr>().is_err() {
            errs.push(e);
        }
    }
    errs
}

/// What istiod's webhook refuses in a Sidecar's egress (`ValidateSidecar`): listeners
/// without hosts, hosts not written `namespace/dnsName`, short names, and a listener without
/// a port that is not the last, or not the only one.
fn check_sidecar(r: &Resource, sc: &SidecarSpec, out: &mut Loaded) {
    let mut refuse =
        |message: String, path: &[&str]| out.diagnostics.push(refused(r, message, path));
    let mut catch_all = false;
    for (i, e) in sc.egress.iter().enumerate() {
        let at = i.to_string();
        let path = ["spec", "egress", &at];
        if e.port.is_none() {
            if catch_all {
                refuse(
                    "sidecar: egress can have only one listener with empty port".into(),
                    &path,
                );
            } else if i + 1 == sc.egress.len() {
                catch_all = true;
            } else {
                refuse(
                    "sidecar: the egress listener with empty port should be the last listener in the list".into(),
                    &path,
                );
            }
        }
        if e.hosts.is_empty() {
            refuse(
                "sidecar: egress listener must contain at least one host".into(),
                &path,
            );
        }
        for h in &e.hosts {
            for err in namespace_slash_host_errors(h, false) {
                refuse(err, &[&path[..], &["hosts"]].concat());
            }
        }
    }
}

/// What istiod's webhook refuses in an Istio Gateway (`ValidateGateway`, `validateServer`,
/// `validateServerPort`): no servers; a server without hosts, with a protocol Istio does not
/// know, without a port name, with a targetPort; HTTPS or TLS without TLS settings; TLS
/// settings that terminate on a plain-text port; two servers with one port name.
fn check_istio_gateway(r: &Resource, gw: &IstioGatewaySpec, out: &mut Loaded) {
    let mut refuse =
        |message: String, path: &[&str]| out.diagnostics.push(refused(r, message, path));
    if gw.servers.is_empty() {
        refuse("gateway must have at least one server".into(), &["spec"]);
    }
    for (i, server) in gw.servers.iter().enumerate() {
        let at = i.to_string();
        let path = ["spec", "servers", &at];
        if server.hosts.is_empty() {
            refuse("server config must contain at least one host".into(), &path);
        }
        for h in &server.hosts {
            for err in namespace_slash_host_errors(h, true) {
                refuse(err, &[&path[..], &["hosts"]].concat());
            }
        }
        let port = &server.port;
        let protocol = port.protocol.as_deref().unwrap_or("").to_ascii_lowercase();
        // Istio's protocol.Parse: what a Gateway server may speak.
        const KNOWN: &[&str] = &[
            "tcp",
            "udp",
            "grpc",
            "grpc-web",
            "http",
            "http_proxy",
            "http2",
            "https",
            "tls",
            "mongo",
            "redis",
            "mysql",
        ];
        let known = KNOWN.contains(&protocol.as_str());
        if !known {
            refuse(
                format!("invalid protocol {:?}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP", port.protocol.as_deref().unwrap_or("")),
                &[&path[..], &["port", "protocol"]].concat(),
            );
        }
        if port.target_port.is_some_and(|t| t > 0) {
            refuse(
                "targetPort has no impact on Gateways".into(),
                &[&path[..], &["port", "targetPort"]].concat(),
            );
        }
        if port.name.as_deref().unwrap_or("").is_empty() {
            refuse(
                "port name must be set".into(),
                &[&path[..], &["port"]].concat(),
            );
        }
        if known {
            let tls_protocol = protocol == "https" || protocol == "tls";
            let http =
                ["http", "http2", "grpc", "grpc-web", "http_proxy"].contains(&protocol.as_str());
            match &server.tls {
                None if tls_protocol => refuse(
                    "server must have TLS settings for HTTPS/TLS protocols".into(),
                    &path,
                ),
                Some(tls) if !tls_protocol => {
                    // The mode's default is PASSTHROUGH: `tls: {httpsRedirect: true}` passes.
                    let passthrough = matches!(
                        tls.mode.as_deref(),
                        None | Some("PASSTHROUGH") | Some("AUTO_PASSTHROUGH")
                    );
                    let certificates =
                        tls.private_key.is_some() || tls.server_certificate.is_some();
                    if !http {
                        refuse(
                            "server cannot have TLS settings for non HTTPS/TLS ports".into(),
                            &[&path[..], &["tls"]].concat(),
                        );
                    } else if !passthrough || certificates {
                        refuse(
                            "server cannot have TLS settings for plain text HTTP ports".into(),
                            &[&path[..], &["tls"]].concat(),
                        );
                    }
                }
                _ => {}
            }
        }
        let name = port.name.as_deref().unwrap_or("");
        if gw.servers[..i]
            .iter()
            .any(|o| o.port.name.as_deref().unwrap_or("") == name)
        {
            refuse(
                format!("port names in servers must be unique: duplicate name {name}"),
                &[&path[..], &["port", "name"]].concat(),
            );
        }
    }
}

/// What istiod's webhook refuses in a ServiceEntry (`ValidateServiceEntry`): no hosts, `*` or
/// a name that is not a domain as a host, both a workloadSelector and endpoints, CIDR
/// addresses with DNS resolution, repeated port names or numbers, endpoints with resolution
/// NONE, and, with DNS resolution and no endpoints, hosts that are not plain domain names
/// (a wildcard host has no name to resolve).
fn check_service_entry(r: &Resource, se: &ServiceEntrySpec, out: &mut Loaded) {
    let mut refuse =
        |message: String, path: &[&str]| out.diagnostics.push(refused(r, message, path));
    let resolution = se.resolution.as_deref().unwrap_or("NONE");
    if se.workload_selector.is_some() && !se.endpoints.is_empty() {
        refuse(
            "only one of WorkloadSelector or Endpoints is allowed in Service Entry".into(),
            &["spec", "endpoints"],
        );
    }
    if se.hosts.is_empty() {
        refuse(
            "service entry must have at least one host".into(),
            &["spec"],
        );
    }
    for h in &se.hosts {
        if h == "*" {
            refuse(format!("invalid host {h}"), &["spec", "hosts"]);
        } else if let Err(e) = validate_wildcard_domain(h) {
            refuse(e, &["spec", "hosts"]);
        }
    }
    let cidr = se.addresses.iter().any(|a| a.contains('/'));
    if cidr && resolution != "NONE" && resolution != "STATIC" {
        refuse(
            "CIDR addresses are allowed only for NONE/STATIC resolution types".into(),
            &["spec", "addresses"],
        );
    }
    for (i, p) in se.ports.iter().enumerate() {
        let at = i.to_string();
        let earlier = &se.ports[..i];
        if earlier.iter().any(|e| e.name == p.name) {
            let name = p.name.as_deref().unwrap_or("");
            refuse(
                format!("service entry port name {name:?} already defined"),
                &["spec", "ports", &at],
            );
        }
        if earlier.iter().any(|e| e.number == p.number) {
            refuse(
                format!("service entry port {} already defined", p.number),
                &["spec", "ports", &at],
            );
        }
    }
    match resolution {
        "NONE" if !se.endpoints.is_empty() => refuse(
            "no endpoints should be provided for resolution type none".into(),
            &["spec", "endpoints"],
        ),
        "DNS" | "DNS_ROUND_ROBIN" => {
            if se.endpoints.is_empty() {
                let bad = se
                    .hosts
                    .iter()
                    .find_map(|h| validate_dns1123_labels(h).err());
                if let Some(e) = bad {
                    refuse(
                        format!("hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode {resolution}, {e}"),
                        &["spec", "hosts"],
                    );
                }
            }
            if resolution == "DNS_ROUND_ROBIN" && se.endpoints.len() > 1 {
                refuse(
                    format!("there must only be 0 or 1 endpoint for resolution mode {resolution}"),
                    &["spec", "endpoints"],
                );
            }
        }
        _ => {}
    }
}

/// What istiod's webhook refuses in the headers of an HTTP route (Istio's
/// `validateHTTPRouteMatchRequest`, the header operations of `validateHTTPRoute` and
/// `validateHTTPRouteDestinations`, `validateAuthorityRewrite`), each with its path below the
/// route: a header name to match that is not a token (`@request.auth.claims...` and the
/// pseudo-headers aside); a header to set or add on requests starting with `:` (but
/// `:authority`); `Host` or a `:` name to remove, or to change on responses; a value with
/// control characters or a malformed `%VARIABLE%`; the authority set twice.
fn http_route_header_errors(h: &HttpRoute) -> Vec<(String, Vec<String>)> {
    let mut errs = Vec::new();
    let at = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
    for (j, m) in h.r#match.iter().enumerate() {
        let j = j.to_string();
        let more = m.more();
        for (field, names) in [
            ("headers", m.headers.keys().collect::<Vec<_>>()),
            ("withoutHeaders", more.without_headers.keys().collect()),
        ] {
            for name in names {
                if let Err(e) = header_name_or_claim(name) {
                    errs.push((e, at(&["match", &j, field])));
                }
            }
        }
    }
    let mut operations = |ops: &Headers, below: &[&str]| {
        for (side, set) in [("request", &ops.request), ("response", &ops.response)] {
            let Some(set) = set else { continue };
            let named = |op: &str, name: &str| {
                if side == "request" && op != "remove" {
                    header_to_add_on_requests(name)
                } else {
                    header_to_change(name)
                }
            };
            for (op, pairs) in [("set", &set.set), ("add", &set.add)] {
                for (name, value) in pairs {
                    let path = at(&[below, &["headers", side, op]].concat());
                    if let Err(e) = named(op, name) {
                        errs.push((e, path.clone()));
                    }
                    if let Err(e) = header_value(value) {
                        errs.push((e, path));
                    }
                }
            }
            for name in &set.remove {
                if let Err(e) = named("remove", name) {
                    errs.push((e, at(&[below, &["headers", side, "remove"]].concat())));
                }
            }
        }
    };
    let more = h.more();
    if let Some(ops) = &more.headers {
        operations(ops, &[]);
    }
    for (k, d) in h.route.iter().enumerate() {
        if let Some(ops) = &d.headers {
            operations(ops, &["route", &k.to_string()]);
        }
    }
    // validateAuthorityRewrite: the rewrite's authority, then each request header that sets
    // it; the second one found is refused.
    let mut current = more
        .rewrite
        .as_ref()
        .and_then(|rw| rw.authority.clone())
        .unwrap_or_default();
    if let Some(request) = more.headers.as_ref().and_then(|x| x.request.as_ref()) {
        for (name, value) in request.set.iter().chain(&request.add) {
            if !(name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host")) {
                continue;
            }
            if !current.is_empty() {
                errs.push((
                    format!("authority header cannot be set multiple times: have {current:?}, attempting to set {value:?}"),
                    at(&["headers", "request"]),
                ));
                break;
            }
            current = value.clone();
        }
    }
    errs
}

/// What istiod's webhook refuses in the string matches of an HTTP route's matches (Istio's
/// `validateStringMatch`, `validateStringMatchRegexp`): an empty regex anywhere, a regex
/// longer than 1,024 characters, an empty prefix but on the URI (which may be empty), a
/// `withoutHeaders` regex `*` aside (Istio reads it as "present"). Regex syntax is MS0107's.
fn string_match_errors(h: &HttpRoute) -> Vec<(String, Vec<String>)> {
    let mut errs = Vec::new();
    for (j, m) in h.r#match.iter().enumerate() {
        let j = j.to_string();
        let more = m.more();
        let mut check = |sm: &StringMatch, field: &str, prefix_may_be_empty: bool| {
            let message = if sm.prefix.as_deref() == Some("") && !prefix_may_be_empty {
                Some("prefix string match should not be empty")
            } else if sm.regex.as_deref() == Some("") {
                Some("regex string match should not be empty")
            } else if sm.regex.as_ref().is_some_and(|r| r.len() > 1024) {
                Some("regex is too large, max length allowed is 1024")
            } else {
                None
            };
            if let Some(message) = message {
                let path = ["match", &j, field].iter().map(|p| p.to_string()).collect();
                errs.push((format!("{field:?}: {message}"), path));
            }
        };
        // The URI is only checked as a regex.
        if let Some(uri) = &m.uri {
            check(uri, "uri", true);
        }
        for (field, sm) in [
            ("scheme", &more.scheme),
            ("method", &more.method),
            ("authority", &more.authority),
        ] {
            if let Some(sm) = sm {
                check(sm, field, false);
            }
        }
        for sm in m.headers.values() {
            check(sm, "headers", false);
        }
        for sm in more.query_params.values() {
            check(sm, "queryParams", false);
        }
        for sm in more.without_headers.values() {
            if sm.regex.as_deref() != Some("*") {
                check(sm, "withoutHeaders", false);
            }
        }
    }
    errs
}

/// Istio's `ValidateHTTPHeaderNameOrJwtClaimRoute`: a header name to match is an HTTP token
/// (RFC 7230's `tchar`s), a pseudo-header, or a JWT claim (`@request.auth.claims.a.b`,
/// `@request.auth.claims[a][b]`).
fn header_name_or_claim(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if is_jwt_claim(name) {
        return Ok(());
    }
    if [":method", ":scheme", ":authority", ":path", ":status"].contains(&name) {
        return Ok(());
    }
    let tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    if name.bytes().all(tchar) {
        Ok(())
    } else {
        Err(format!("header name {name} is not a valid header name"))
    }
}

/// Istio's `jwt.ToRoutingClaim(name).Match`: `@request.auth.claims.a.b` or
/// `@request.auth.claims[a][b]` (the prefix in any case).
fn is_jwt_claim(name: &str) -> bool {
    const CLAIM: &str = "@request.auth.claims";
    let Some(rest) = name
        .get(..CLAIM.len())
        .filter(|p| p.eq_ignore_ascii_case(CLAIM))
        .map(|_| &name[CLAIM.len()..])
    else {
        return false;
    };
    (rest.len() > 1 && rest.starts_with('.'))
        || (rest.len() > 2 && rest.starts_with('[') && rest.ends_with(']'))
}

/// Istio's `ValidateHTTPHeaderWithAuthorityOperationName`: a header set or added on requests
/// may not be a `:` pseudo-header other than `:authority` (`Host` is the authority too).
fn header_to_add_on_requests(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    let authority = name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host");
    if name.starts_with(':') && !authority {
        return Err(format!(
            "invalid header {name:?}: header cannot have \":\" prefix"
        ));
    }
    Ok(())
}

/// Istio's `ValidateHTTPHeaderOperationName`: a header removed from requests, or changed on
/// responses, may be neither `Host` nor a `:` pseudo-header.
fn header_to_change(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("header name cannot be empty".into());
    }
    if name.eq_ignore_ascii_case("host") {
        return Err(format!("invalid header {name:?}: cannot set Host header"));
    }
    if name.starts_with(':') {
        return Err(format!(
            "invalid header {name:?}: header cannot have \":\" prefix"
        ));
    }
    Ok(())
}

/// Istio's `ValidateHTTPHeaderValue`: no control characters (tab aside), and every `%` either
/// doubled (`%%`) or opening a complete `%VARIABLE%` or `%VARIABLE(args)%` of Envoy's header
/// formatter, whose arguments are a bare string or a list of quoted strings. The messages are
/// Istio's, written for the first fault found, scanning left to right.
fn header_value(value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_ascii_control() && c != '\t') {
        return Err(format!("header value configuration {value} is invalid"));
    }
    header_formatter(value.as_bytes()).map_err(|e| {
        let e = match e {
            Formatter::LoneSign => "Un-escaped %".to_string(),
            Formatter::Expected(what) => what.to_string(),
            Formatter::Unterminated => {
                format!("Un-terminated variable expression '{value}'")
            }
        };
        format!("header value configuration: invalid header configuration. {e}")
    })
}

/// A fault of a header value as Envoy's header formatter reads it.
enum Formatter {
    /// A `%` at the end of the value, neither doubled nor opening a variable.
    LoneSign,
    /// Istio's words for what should have come next.
    Expected(&'static str),
    /// The value ends inside a variable.
    Unterminated,
}

/// Reads a header value as Istio's port of Envoy's header formatter does (`header_parser.cc`;
/// Istio's `validateHeaderValue`), one byte at a time: literal text; `%%`; `%NAME%`; or
/// `%NAME(ARGS)%`, ARGS being a `[...]` list of `"..."` strings or a bare string, with
/// spaces allowed between the parts. Its quirks are kept: the first byte of a bare argument
/// is taken without being looked at, and a `)` ends the arguments even inside quotes.
fn header_formatter(v: &[u8]) -> Result<(), Formatter> {
    #[derive(PartialEq)]
    enum At {
        Text,
        Name,
        ArgsStart,
        ListItem,
        Argument,
        AfterItem,
        ArgsEnd,
        End,
    }
    let mut at = At::Text;
    let mut i = 0;
    while i < v.len() {
        let c = v[i];
        let space = c == b' ';
        at = match at {
            At::Text if c != b'%' => At::Text,
            At::Text => match v.get(i + 1) {
                None => return Err(Formatter::LoneSign),
                Some(b'%') => {
                    i += 1;
                    At::Text
                }
                Some(_) => At::Name,
            },
            At::Name => match c {
                b'%' => At::Text,
                b'(' => At::ArgsStart,
                _ => At::Name,
            },
            At::ArgsStart if c == b'[' => At::ListItem,
            At::ArgsStart if space => At::ArgsStart,
            At::ArgsStart => At::Argument,
            At::ListItem if c == b'"' => At::Argument,
            At::ListItem if space => At::ListItem,
            At::ListItem => return Err(Formatter::Expected("Expecting '\"'")),
            At::Argument => match c {
                b'\\' if i + 1 >= v.len() => {
                    return Err(Formatter::Expected(
                        "Un-terminated backslash in JSON string",
                    ))
                }
                b'\\' => {
                    i += 1;
                    At::Argument
                }
                b')' => At::End,
                b'"' => At::AfterItem,
                _ => At::Argument,
            },
            At::AfterItem => match c {
                b',' => At::ListItem,
                b']' => At::ArgsEnd,
                b' ' => At::AfterItem,
                _ => return Err(Formatter::Expected("Expecting ',', ']', or whitespace")),
            },
            At::ArgsEnd if c == b')' => At::End,
            At::ArgsEnd if space => At::ArgsEnd,
            At::ArgsEnd => {
                // Istio's message, placeholders and all.
                return Err(Formatter::Expected(
                    "Expecting ')' or whitespace after '{}', but found '{}'",
                ));
            }
            At::End if c == b'%' => At::Text,
            At::End if space => At::End,
            At::End => return Err(Formatter::Expected("Expecting '%' or whitespace after")),
        };
        i += 1;
    }
    if at == At::Text {
        Ok(())
    } else {
        Err(Formatter::Unterminated)
    }
}

/// Istio's `validateGatewayNames` for a VirtualService's gateways: `namespace/name`, both DNS
/// labels (the name may be any with Gateway API route semantics), or a domain name, the
/// legacy `name.namespace.svc.cluster.local` form admitted with a warning. As upstream, the
/// check ends at the first name without a `/`. The refusals, and the warning.
fn gateway_name_faults(names: &[String], gateway_semantics: bool) -> (Vec<String>, Option<String>) {
    let mut refused = Vec::new();
    for name in names {
        let Some((ns, gw)) = name.split_once('/') else {
            // A name with a dot is the legacy form; Istio resolves it to namespace/name.
            let legacy = name.contains('.').then(|| {
                format!(
                    "using legacy gatewayName format {name:?}; prefer the <namespace>/<name> format: {:?}",
                    crate::sim::route::qualify_gateway(name, "")
                )
            });
            if let Err(e) = dns1123_preconditions(name).and_then(|()| validate_dns1123_labels(name))
            {
                refused.push(e);
            }
            return (refused, legacy);
        };
        if ns.is_empty() || gw.is_empty() {
            refused.push("config namespace and gateway name cannot be empty".into());
        }
        if !is_dns1123_label(ns) {
            refused.push(format!("invalid value for namespace: {ns:?}"));
        }
        if !is_dns1123_label(gw) && !gateway_semantics {
            refused.push(format!("invalid value for gateway name: {gw:?}"));
        }
    }
    (refused, None)
}

/// What istiod's webhook refuses in an HTTP route's redirect (`validateHTTPRedirect`: a 3xx
/// code, an `http` or `https` scheme), retries ([`retry_errors`]), direct response
/// (`validateHTTPDirectResponse`: a status of 200 to 600, a body under 1 MB), fault
/// ([`fault_errors`]) and rewrite (`validateHTTPRewrite`: something to rewrite, not both
/// `uri` and `uriRegexRewrite`, a regex rewrite with both of its fields), each with the path
/// of the field it is about within the route (`["fault", "abort", "httpStatus"]`), so that the
/// error points at that field's line. Redirects that name nothing to change are not refused
/// here: Istio 1.27 would refuse one with only `prefixRewrite` (a field it does not have),
/// later releases accept it, and meshsim does not read that field.
fn http_route_behaviour_errors(more: &MoreRoute) -> Vec<(String, Vec<&'static str>)> {
    let mut errs = Vec::new();
    if let Some(rd) = &more.redirect {
        // Upstream stops at the first fault of a redirect.
        let code = rd
            .redirect_code
            .filter(|c| *c != 0 && !(300..=399).contains(c));
        let scheme = rd
            .scheme
            .as_deref()
            .filter(|s| !s.is_empty() && *s != "http" && *s != "https");
        if let Some(code) = code {
            errs.push((
                format!("{code} is not a valid redirect code, must be 3xx"),
                vec!["redirect", "redirectCode"],
            ));
        } else if scheme.is_some() {
            errs.push((
                "invalid redirect scheme, must be \"http\" or \"https\"".into(),
                vec!["redirect", "scheme"],
            ));
        }
    }
    if let Some(retries) = &more.retries {
        errs.extend(
            retry_errors(retries)
                .into_iter()
                .map(|(e, field)| (e, vec!["retries", field])),
        );
    }
    if let Some(dr) = &more.direct_response {
        // `bytes` is base64: three bytes in every four characters.
        let size = dr.body.as_ref().map_or(0, |b| match (&b.string, &b.bytes) {
            (Some(s), _) => s.len(),
            (None, Some(b64)) => b64.trim_end_matches('=').len() * 3 / 4,
            (None, None) => 0,
        });
        if size > 1024 * 1024 {
            errs.push((
                "large direct_responses may impact control plane performance, must be less than 1MB"
                    .into(),
                vec!["directResponse", "body"],
            ));
        }
        if !(200..=600).contains(&dr.status) {
            errs.push((
                format!("HTTP status {} is not in range 200-599", dr.status),
                vec!["directResponse", "status"],
            ));
        }
    }
    if let Some(fault) = &more.fault {
        errs.extend(
            fault_errors(fault)
                .into_iter()
                .map(|(e, within)| (e, [&["fault"][..], within].concat())),
        );
    }
    if let Some(rw) = &more.rewrite {
        let uri = rw.uri.as_deref().is_some_and(|u| !u.is_empty());
        let authority = rw.authority.as_deref().is_some_and(|a| !a.is_empty());
        let regex = rw.uri_regex_rewrite.as_ref();
        let message = if uri && regex.is_some() {
            Some((
                "rewrite may only contain one of URI or UriRegexRewrite".to_string(),
                vec!["rewrite"],
            ))
        } else if !uri && regex.is_none() && !authority {
            Some(("rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified".to_string(), vec!["rewrite"]))
        } else {
            regex
                .filter(|x| {
                    x.r#match.as_deref().unwrap_or("").is_empty()
                        || x.rewrite.as_deref().unwrap_or("").is_empty()
                })
                .map(|_| {
                    ("UriRegexRewrite has errors\nUriRegexRewrite requires both Rewrite and Match fields to be specified".to_string(), vec!["rewrite", "uriRegexRewrite"])
                })
        };
        errs.extend(message);
    }
    errs
}

/// Istio's `validateHTTPRetry`: attempts not negative, and not zero (or left out) with a
/// per-try timeout or retry conditions; each `retryOn` condition one Envoy knows, or an HTTP
/// status code (one Go's `net/http` has a text for), as written between the commas. Each
/// with the field it is about.
fn retry_errors(retries: &HttpRetry) -> Vec<(String, &'static str)> {
    const CONDITIONS: &[&str] = &[
        "5xx",
        "gateway-error",
        "reset",
        "reset-before-request",
        "connect-failure",
        "retriable-4xx",
        "refused-stream",
        "retriable-status-codes",
        "retriable-headers",
        "envoy-ratelimited",
        "http3-post-connect-failure",
        "cancelled",
        "deadline-exceeded",
        "internal",
        "resource-exhausted",
        "unavailable",
    ];
    let known_status = |code: i64| {
        matches!(
            code,
            100..=103
                | 200..=208
                | 226
                | 300..=305
                | 307
                | 308
                | 400..=418
                | 421..=426
                | 428
                | 429
                | 431
                | 451
                | 500..=508
                | 510
                | 511
        )
    };
    let mut errs = Vec::new();
    let attempts = retries.attempts.unwrap_or(0);
    if attempts < 0 {
        errs.push(("attempts cannot be negative".to_string(), "attempts"));
    }
    let retry_on = retries.retry_on.as_deref().unwrap_or("");
    if attempts == 0 && (retries.per_try_timeout.is_some() || !retry_on.is_empty()) {
        errs.push((
            "http retry policy configured when attempts are set to 0 (disabled)".into(),
            "attempts",
        ));
    }
    if !retry_on.is_empty() {
        for policy in retry_on.split(',') {
            let status = policy.parse::<i64>().is_ok_and(known_status);
            if !status && !CONDITIONS.contains(&policy) {
                errs.push((
                    format!("{policy:?} is not a valid retryOn policy"),
                    "retryOn",
                ));
            }
        }
    }
    errs
}

/// Istio's `validateHTTPFaultInjection`: an abort or a delay; percentages of 0 or 0.0001 to
/// 100; an abort's HTTP status from 200 to 600, or a gRPC status Istio knows. (An abort
/// without a status is admitted with a warning, [`fault_warning`].) Each with the path of the
/// field it is about within the fault.
fn fault_errors(fault: &HttpFault) -> Vec<(String, &'static [&'static str])> {
    const GRPC: &[&str] = &[
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    let mut errs = Vec::new();
    if fault.abort.is_none() && fault.delay.is_none() {
        errs.push((
            "HTTP fault injection must have an abort and/or a delay".to_string(),
            &[][..],
        ));
    }
    let percentage = |p: Option<&Percent>, at: &'static [&'static str], errs: &mut Vec<_>| {
        if let Some(v) = p.map(|p| p.value) {
            if !(0.0..=100.0).contains(&v) || (v > 0.0 && v < 0.0001) {
                errs.push((
                    format!(
                        "percentage {} is neither 0.0, nor in range [0.0001, 100.0]",
                        go_float(v)
                    ),
                    at,
                ));
            }
        }
    };
    if let Some(abort) = &fault.abort {
        percentage(
            abort.percentage.as_ref(),
            &["abort", "percentage"],
            &mut errs,
        );
        if let Some(status) = abort.http_status {
            if !(200..=600).contains(&status) {
                errs.push((
                    format!("HTTP status {status} is not in range 200-599"),
                    &["abort", "httpStatus"],
                ));
            }
        } else if let Some(g) = &abort.grpc_status {
            if !GRPC.contains(&g.as_str()) {
                errs.push((format!("gRPC status {g:?} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'"), &["abort", "grpcStatus"]));
            }
        }
    }
    if let Some(delay) = &fault.delay {
        percentage(
            delay.percentage.as_ref(),
            &["delay", "percentage"],
            &mut errs,
        );
    }
    errs
}

/// A number as Go's `%v` writes a float64: the shortest digits that read back the same, in
/// exponent form (`1e-05`, `1.5e+06`) when the exponent is below -4 or 6 and above.
fn go_float(v: f64) -> String {
    let sci = format!("{v:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if v == 0.0 || !v.is_finite() || (-4..6).contains(&exp) {
        return format!("{v}");
    }
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// The webhook's warning for an abort fault with neither an HTTP nor a gRPC status.
fn fault_warning(fault: &HttpFault) -> Option<&'static str> {
    fault
        .abort
        .as_ref()
        .filter(|a| a.http_status.is_none() && a.grpc_status.is_none())
        .map(|_| "abort configured, but error type not set")
}

/// Istio's `validateDestination`: a route's destination host is a domain name (not `*`), its
/// subset a DNS label, its port in range.
fn destination_errors(d: &Destination) -> Vec<String> {
    let mut errs = Vec::new();
    if d.host == "*" {
        errs.push(format!("invalid destination host {}", d.host));
    } else if let Err(e) = validate_wildcard_domain(&d.host) {
        errs.push(e);
    }
    match d.subset.as_deref() {
        Some("") | None => {}
        Some(s) if !is_dns1123_label(s) => errs.push(format!("subset name is invalid: {s}")),
        Some(_) => {}
    }
    // A port selector without a number is port 0 to upstream.
    if d.port.as_ref().is_some_and(|p| p.number.unwrap_or(0) == 0) {
        errs.push("port number 0 must be in the range 1..65535".into());
    }
    errs
}

/// The weights of a route's destinations (Istio's `validateWeight` and the total check of
/// `validateHTTPRouteDestinations`): none negative, and not all zero when there are several.
fn weight_errors(weights: impl Iterator<Item = Option<i64>>) -> Vec<String> {
    let (mut errs, mut total, mut count) = (Vec::new(), 0i64, 0usize);
    for w in weights {
        let w = w.unwrap_or(0);
        if w < 0 {
            errs.push(format!("weight {w} < 0"));
        }
        total += w;
        count += 1;
    }
    if count > 1 && total == 0 {
        errs.push("total destination weight = 0".into());
    }
    errs
}

/// Istio's `validateHTTPRouteDestinations` and `validateRouteDestinations` (for TCP and TLS
/// routes), given each destination of a route with its weight: each destination (not with
/// Gateway API route semantics), then the weights, with the path of each fault below the
/// route.
fn route_destination_errors<'d>(
    route: impl Iterator<Item = (&'d Destination, Option<i64>)>,
    gateway_semantics: bool,
) -> Vec<(String, Vec<String>)> {
    let route: Vec<_> = route.collect();
    let mut errs = Vec::new();
    if !gateway_semantics {
        for (k, (d, _)) in route.iter().enumerate() {
            for e in destination_errors(d) {
                let at = ["route", &k.to_string(), "destination"];
                errs.push((e, at.iter().map(|s| s.to_string()).collect()));
            }
        }
    }
    for e in weight_errors(route.iter().map(|(_, w)| *w)) {
        errs.push((e, vec!["route".to_string()]));
    }
    errs
}

/// What istiod's webhook says of an SNI host of a VirtualService's TLS match.
enum SniHost {
    Fine,
    /// Denied, with the webhook's message.
    Refused(String),
    /// An IP address: admitted with a warning.
    Address,
}

/// Istio's `validateSniHost`: an SNI host must be a domain name (one of a VirtualService that
/// does not name the `mesh` gateway may be the SNI Istio generates for AUTO_PASSTHROUGH),
/// within one of the VirtualService's hosts as written (`host.Name.SubsetOf`; a short host
/// does not cover its full name). An IP address is admitted with a warning.
fn sni_host_check(vs: &VirtualServiceSpec, sni: &str) -> SniHost {
    // Upstream's `isGateway`: true unless `mesh` is named, even with no gateways at all.
    let gatewayish = !vs.gateways.iter().any(|g| g == "mesh");
    let checked = if gatewayish {
        validate_gateway_vs_host(true, sni)
    } else {
        validate_wildcard_domain(sni)
    };
    if let Err(e) = checked {
        return match sni.parse::<std::net::IpAddr>() {
            Ok(_) => SniHost::Address,
            Err(_) => SniHost::Refused(e),
        };
    }
    if vs.hosts.iter().any(|h| host_subset_of(sni, h)) {
        return SniHost::Fine;
    }
    SniHost::Refused(format!(
        "SNI host {sni:?} is not a compatible subset of any of the virtual service hosts: [{}]",
        vs.hosts.join(", ")
    ))
}

/// Istio's `host.Name.SubsetOf`: every name `n` covers, `o` covers too.
fn host_subset_of(n: &str, o: &str) -> bool {
    match (n.strip_prefix('*'), o.strip_prefix('*')) {
        (Some(ns), Some(os)) => n.len() >= o.len() && ns.ends_with(os),
        (Some(_), None) => false,
        (None, Some(os)) => n.ends_with(os),
        (None, None) => n == o,
    }
}

/// Whether two VirtualService hosts overlap, as Istio's `host.Name.Matches` decides: equal,
/// or one a wildcard (`*.example.com`, `*`) that covers the other.
fn hosts_overlap(a: &str, b: &str) -> bool {
    let covers = |w: &str, h: &str| match w.strip_prefix('*') {
        Some(suffix) => h.ends_with(suffix),
        None => false,
    };
    a == b || covers(a, b) || covers(b, a)
}

/// Values an enumerated field does not allow. The API server checks them against the CRD's
/// schema (Istio's CRDs, the Gateway API's experimental channel) and refuses the object:
/// `spec.resolution: Unsupported value: "DNSS": supported values: "NONE", ...`.
fn check_enums(r: &Resource, out: &mut Loaded) {
    const ISTIO_CLIENT_TLS: &[&str] = &["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"];
    const ISTIO_SERVER_TLS: &[&str] = &[
        "PASSTHROUGH",
        "SIMPLE",
        "MUTUAL",
        "AUTO_PASSTHROUGH",
        "ISTIO_MUTUAL",
        "OPTIONAL_MUTUAL",
    ];
    const GW_FILTERS: &[&str] = &[
        "RequestHeaderModifier",
        "ResponseHeaderModifier",
        "RequestMirror",
        "RequestRedirect",
        "URLRewrite",
        "ExtensionRef",
        "CORS",
        "ExternalAuth",
    ];
    const GRPC_FILTERS: &[&str] = &[
        "ResponseHeaderModifier",
        "RequestHeaderModifier",
        "RequestMirror",
        "ExtensionRef",
    ];
    const PATH_MODIFIERS: &[&str] = &["ReplaceFullPath", "ReplacePrefixMatch"];
    const VALUE_MATCHES: &[&str] = &["Exact", "RegularExpression"];
    let mut bad = |value: Option<&str>, allowed: &[&str], path: &[&str]| {
        let Some(value) = value else { return };
        if allowed.contains(&value) {
            return;
        }
        let dotted = fields::dotted(path);
        // Numbers are written bare, as the API server writes them, and are not typos of one
        // another.
        let numeric = value.bytes().all(|b| b.is_ascii_digit());
        let quote = |v: &str| {
            if numeric {
                v.to_string()
            } else {
                format!("{v:?}")
            }
        };
        let listed: Vec<String> = allowed.iter().map(|a| quote(a)).collect();
        let near = fields::nearest(value, allowed.iter().copied()).filter(|_| !numeric);
        let hint = match near {
            Some(near) => format!("did you mean {near:?}? The values are case-sensitive"),
            None => format!("use one of {}", listed.join(", ")),
        };
        out.diagnostics.push(at_field(
            r,
            diag::INVALID_VALUE,
            format!(
                "{dotted}: Unsupported value: {}: supported values: {} (the API server refuses the object)",
                quote(value),
                listed.join(", ")
            ),
            path,
            &hint,
        ));
    };
    match &*r.body {
        Body::ServiceEntry(se) => {
            bad(
                se.location.as_deref(),
                &["MESH_EXTERNAL", "MESH_INTERNAL"],
                &["spec", "location"],
            );
            bad(
                se.resolution.as_deref(),
                &["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"],
                &["spec", "resolution"],
            );
        }
        Body::DestinationRule(dr) => {
            let mode = |tp: &Option<Box<TrafficPolicy>>| {
                tp.as_ref()
                    .and_then(|tp| tp.tls.as_ref())
                    .and_then(|t| t.mode.clone())
            };
            bad(
                mode(&dr.traffic_policy).as_deref(),
                ISTIO_CLIENT_TLS,
                &["spec", "trafficPolicy", "tls", "mode"],
            );
            for (i, s) in dr.subsets.iter().enumerate() {
                let i = i.to_string();
                bad(
                    mode(&s.traffic_policy).as_deref(),
                    ISTIO_CLIENT_TLS,
                    &["spec", "subsets", &i, "trafficPolicy", "tls", "mode"],
                );
            }
        }
        Body::IstioGateway(gw) => {
            for (i, s) in gw.servers.iter().enumerate() {
                let i = i.to_string();
                bad(
                    s.tls.as_ref().and_then(|t| t.mode.as_deref()),
                    ISTIO_SERVER_TLS,
                    &["spec", "servers", &i, "tls", "mode"],
                );
            }
        }
        Body::Sidecar(sc) => {
            for (i, e) in sc.egress.iter().enumerate() {
                let i = i.to_string();
                bad(
                    e.capture_mode.as_deref(),
                    &["DEFAULT", "IPTABLES", "NONE"],
                    &["spec", "egress", &i, "captureMode"],
                );
            }
            bad(
                sc.outbound_traffic_policy
                    .as_ref()
                    .and_then(|o| o.mode.as_deref()),
                &["REGISTRY_ONLY", "ALLOW_ANY"],
                &["spec", "outboundTrafficPolicy", "mode"],
            );
        }
        Body::VirtualService(vs) => {
            for (i, route) in vs.http.iter().enumerate() {
                let i = i.to_string();
                bad(
                    route
                        .more()
                        .redirect
                        .as_ref()
                        .and_then(|rd| rd.derive_port.as_deref()),
                    &["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"],
                    &["spec", "http", &i, "redirect", "derivePort"],
                );
            }
        }
        Body::Gateway(gw) => {
            for (i, l) in gw.listeners.iter().enumerate() {
                let i = i.to_string();
                bad(
                    l.tls.as_ref().and_then(|t| t.mode.as_deref()),
                    &["Terminate", "Passthrough"],
                    &["spec", "listeners", &i, "tls", "mode"],
                );
                bad(
                    l.allowed_routes
                        .as_ref()
                        .and_then(|a| a.namespaces.as_ref())
                        .and_then(|n| n.from.as_deref()),
                    &["All", "Selector", "Same"],
                    &[
                        "spec",
                        "listeners",
                        &i,
                        "allowedRoutes",
                        "namespaces",
                        "from",
                    ],
                );
            }
        }
        Body::HttpRoute(hr) => {
            for (i, rule) in hr.rules.iter().enumerate() {
                let i = i.to_string();
                for (j, m) in rule.matches.iter().enumerate() {
                    let j = j.to_string();
                    let at = ["spec", "rules", &i, "matches", &j];
                    bad(
                        m.path.as_ref().and_then(|p| p.type_.as_deref()),
                        &["Exact", "PathPrefix", "RegularExpression"],
                        &[&at[..], &["path", "type"]].concat(),
                    );
                    for (list, what) in [(&m.headers, "headers"), (&m.query_params, "queryParams")]
                    {
                        for (k, h) in list.iter().enumerate() {
                            let k = k.to_string();
                            bad(
                                h.type_.as_deref(),
                                VALUE_MATCHES,
                                &[&at[..], &[what, &k, "type"]].concat(),
                            );
                        }
                    }
                    bad(
                        m.method.as_deref(),
                        &[
                            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
                            "PATCH",
                        ],
                        &[&at[..], &["method"]].concat(),
                    );
                }
                for (below, filter) in rule_filters(rule) {
                    let at: Vec<&str> = ["spec", "rules", &i]
                        .into_iter()
                        .chain(below.iter().map(String::as_str))
                        .collect();
                    bad(
                        Some(&filter.type_),
                        GW_FILTERS,
                        &[&at[..], &["type"]].concat(),
                    );
                    if let Some(rd) = &filter.request_redirect {
                        bad(
                            rd.scheme.as_deref(),
                            &["http", "https"],
                            &[&at[..], &["requestRedirect", "scheme"]].concat(),
                        );
                        let code = rd.status_code.map(|c| c.to_string());
                        bad(
                            code.as_deref(),
                            &["301", "302", "303", "307", "308"],
                            &[&at[..], &["requestRedirect", "statusCode"]].concat(),
                        );
                        bad(
                            rd.path.as_ref().map(|p| p.type_.as_str()),
                            PATH_MODIFIERS,
                            &[&at[..], &["requestRedirect", "path", "type"]].concat(),
                        );
                    }
                    if let Some(rw) = &filter.url_rewrite {
                        bad(
                            rw.path.as_ref().map(|p| p.type_.as_str()),
                            PATH_MODIFIERS,
                            &[&at[..], &["urlRewrite", "path", "type"]].concat(),
                        );
                    }
                }
            }
        }
        Body::GrpcRoute(gr) => {
            for (i, rule) in gr.rules.iter().enumerate() {
                let i = i.to_string();
                for (j, m) in rule.matches.iter().enumerate() {
                    let j = j.to_string();
                    bad(
                        m.method.as_ref().and_then(|x| x.type_.as_deref()),
                        VALUE_MATCHES,
                        &["spec", "rules", &i, "matches", &j, "method", "type"],
                    );
                    for (k, h) in m.headers.iter().enumerate() {
                        let k = k.to_string();
                        bad(
                            h.type_.as_deref(),
                            VALUE_MATCHES,
                            &["spec", "rules", &i, "matches", &j, "headers", &k, "type"],
                        );
                    }
                }
                for (f, filter) in rule.filters.iter().enumerate() {
                    let f = f.to_string();
                    bad(
                        Some(&filter.type_),
                        GRPC_FILTERS,
                        &["spec", "rules", &i, "filters", &f, "type"],
                    );
                }
            }
        }
        _ => {}
    }
}

// The validation below follows istiod's `pkg/config/validation` and the CRDs as read on
// Istio's 1.32 development branch and the Gateway API's v1.6 experimental channel. The checks
// reproduced are older than Istio 1.27 and Gateway API 1.2; where a later release added a
// value or a field, the list here has it too, so that nothing 1.27 takes is refused.

/// Checks that types alone cannot express: regexes compile (Envoy uses RE2, which, like the
/// `regex` crate, has no look-around or back-references), required values are present.
fn validate(r: &Resource, out: &mut Loaded) {
    check_enums(r, out);
    check_gateway_api(r, out);
    check_gateway_api_hostnames(r, out);
    check_istio_validation(r, out);
    // Parsing is enough to find what `regex::Regex::new` would refuse (the model compiles each
    // pattern once), and costs a fraction of compiling.
    let mut bad_regex = |pattern: &str, path: &[&str]| {
        if let Err(e) = regex_syntax::Parser::new().parse(pattern) {
            let first = e
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_string();
            out.diagnostics.push(
                Diagnostic::new(
                    diag::INVALID_REGEX,
                    format!("invalid regex {pattern:?}: {first}"),
                )
                .at(&r.origin.file, r.origin.line_of_nearest(path))
                .object(r.display())
                .hint("Envoy uses RE2 syntax: no look-around, no back-references"),
            );
        }
    };
    match &*r.body {
        Body::VirtualService(vs) => {
            for (i, route) in vs.http.iter().enumerate() {
                let i = i.to_string();
                for (j, m) in route.r#match.iter().enumerate() {
                    let j = j.to_string();
                    let mut check = |sm: Option<&StringMatch>, field: &str| {
                        if let Some(re) = sm.and_then(|s| s.regex.as_deref()) {
                            bad_regex(re, &["spec", "http", &i, "match", &j, field]);
                        }
                    };
                    check(m.uri.as_ref(), "uri");
                    check(m.more().authority.as_ref(), "authority");
                    check(m.more().method.as_ref(), "method");
                    check(m.more().scheme.as_ref(), "scheme");
                    let more = m.more();
                    for (field, map) in [
                        ("headers", &m.headers),
                        ("queryParams", &more.query_params),
                        ("withoutHeaders", &more.without_headers),
                    ] {
                        for (k, sm) in map.iter() {
                            // In withoutHeaders, `*` is not a regex: Istio reads it as
                            // "present" and does not compile it.
                            let present =
                                field == "withoutHeaders" && sm.regex.as_deref() == Some("*");
                            if let Some(re) = sm.regex.as_deref().filter(|_| !present) {
                                bad_regex(re, &["spec", "http", &i, "match", &j, field, k]);
                            }
                        }
                    }
                }
            }
        }
        Body::HttpRoute(hr) => {
            for (i, rule) in hr.rules.iter().enumerate() {
                let i = i.to_string();
                for (j, m) in rule.matches.iter().enumerate() {
                    let j = j.to_string();
                    if let Some(p) = &m.path {
                        if p.type_.as_deref() == Some("RegularExpression") {
                            bad_regex(
                                p.value.as_deref().unwrap_or(""),
                                &["spec", "rules", &i, "matches", &j, "path"],
                            );
                        }
                    }
                    for h in m.headers.iter().chain(&m.query_params) {
                        if h.type_.as_deref() == Some("RegularExpression") {
                            bad_regex(&h.value, &["spec", "rules", &i, "matches", &j]);
                        }
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
