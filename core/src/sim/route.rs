//! The route table a proxy evaluates, in Envoy's terms: virtual hosts with domains, routes with
//! matches and actions. Istio VirtualServices (and, later, Gateway API routes) compile into this
//! one shape, so the matching below is written once.

use crate::model::{fqdn, Config, Mesh, Regexes};
use crate::parse::types::*;
use crate::text::{cat, Piece, Quoted};
use compact_str::CompactString;
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, PartialEq)]
pub enum StrMatch {
    Exact(CompactString),
    Prefix(CompactString),
    Regex(CompactString),
    /// Gateway API `PathPrefix`: matches whole path segments only.
    PathPrefix(CompactString),
    Present,
}

impl StrMatch {
    pub fn from_istio(m: &StringMatch) -> Option<StrMatch> {
        if let Some(e) = &m.exact {
            Some(StrMatch::Exact(e.clone()))
        } else if let Some(p) = &m.prefix {
            Some(StrMatch::Prefix(p.clone()))
        } else {
            m.regex.as_ref().map(|r| StrMatch::Regex(r.clone()))
        }
    }

    /// Compiles a regex for each call; routing uses [`StrMatch::matches_in`] with the model's
    /// compiled regexes.
    pub fn matches(&self, value: &str, ignore_case: bool) -> bool {
        self.matches_in(value, ignore_case, None)
    }

    pub fn matches_in(&self, value: &str, ignore_case: bool, regexes: Option<&Regexes>) -> bool {
        match self {
            StrMatch::Exact(e) => {
                if ignore_case {
                    e.eq_ignore_ascii_case(value)
                } else {
                    e == value
                }
            }
            StrMatch::Prefix(p) => {
                if ignore_case {
                    value.len() >= p.len()
                        && value.is_char_boundary(p.len())
                        && value[..p.len()].eq_ignore_ascii_case(p)
                } else {
                    value.starts_with(p.as_str())
                }
            }
            StrMatch::PathPrefix(p) => {
                let p = p.trim_end_matches('/');
                p.is_empty()
                    || value == p
                    || (value.starts_with(p) && value[p.len()..].starts_with('/'))
            }
            // Envoy's safe_regex matches the whole value (RE2 full match).
            StrMatch::Regex(r) => match regexes {
                Some(compiled) => compiled.is_full_match(r, value),
                None => Regexes::default().is_full_match(r, value),
            },
            StrMatch::Present => true,
        }
    }

    pub fn describe(&self) -> String {
        self.to_string()
    }
}

/// `exact "/api"`, `prefix "/"`, `regex "..."`, `present`: how a trace names a condition.
impl Piece for StrMatch {
    fn push_to(&self, out: &mut String) {
        let (kind, value) = match self {
            StrMatch::Exact(e) => ("exact ", e),
            StrMatch::Prefix(p) | StrMatch::PathPrefix(p) => ("prefix ", p),
            StrMatch::Regex(r) => ("regex ", r),
            StrMatch::Present => return out.push_str("present"),
        };
        out.push_str(kind);
        Quoted(value).push_to(out);
        if matches!(self, StrMatch::PathPrefix(_)) {
            out.push_str(" (whole segments)");
        }
    }
    fn size_hint(&self) -> usize {
        32
    }
}

impl std::fmt::Display for StrMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&cat!(self))
    }
}

/// A compiled match. Routing reads the matches of every route it passes, so what most
/// matches use (path, headers, port) is kept in one cache line and the rest is boxed in
/// [`MoreRouteMatch`], absent when unused.
#[derive(Debug, Clone, Default)]
pub struct RouteMatch {
    pub path: Option<StrMatch>,
    pub headers: Vec<(CompactString, StrMatch)>,
    pub port: Option<u16>,
    pub ignore_case: bool,
    more: Option<Box<MoreRouteMatch>>,
}

/// The rarer conditions of a [`RouteMatch`].
#[derive(Debug, Clone, Default)]
pub struct MoreRouteMatch {
    /// The match's name, which Envoy's access log prints as the route name.
    pub name: Option<String>,
    pub method: Option<StrMatch>,
    pub authority: Option<StrMatch>,
    pub scheme: Option<StrMatch>,
    pub without_headers: Vec<(CompactString, StrMatch)>,
    pub query: Vec<(CompactString, StrMatch)>,
    pub source_labels: Labels,
    pub source_namespace: Option<String>,
    /// Istio per-match gateways (`mesh`, `ns/name`); empty = the VirtualService's own list.
    pub gateways: Vec<String>,
}

impl MoreRouteMatch {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.method.is_none()
            && self.authority.is_none()
            && self.scheme.is_none()
            && self.without_headers.is_empty()
            && self.query.is_empty()
            && self.source_labels.is_empty()
            && self.source_namespace.is_none()
            && self.gateways.is_empty()
    }
}

/// What a request looks like to route matching.
pub struct MatchInput<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub authority: &'a str,
    pub scheme: &'a str,
    pub headers: &'a [(String, String)],
    pub port: u16,
    pub source_labels: Option<&'a Labels>,
    pub source_namespace: Option<&'a str>,
    /// The gateway evaluating the route (`ns/name`), or "mesh" for sidecars.
    pub gateway: &'a [String],
    /// The model's compiled regexes.
    pub regexes: &'a Regexes,
}

impl<'a> MatchInput<'a> {
    fn header(&self, name: &str) -> Option<&'a str> {
        if name.eq_ignore_ascii_case(":authority") || name.eq_ignore_ascii_case("host") {
            return Some(self.authority);
        }
        if name.eq_ignore_ascii_case(":method") {
            return Some(self.method);
        }
        if name.eq_ignore_ascii_case(":path") {
            return Some(self.path);
        }
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn query(&self, name: &str) -> Option<String> {
        let q = self.path.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k == name).then(|| v.to_string())
        })
    }
    fn path_only(&self) -> &'a str {
        self.path.split(['?', '#']).next().unwrap_or("")
    }
}

/// The first condition of a match that a request does not meet, which
/// [`RouteMatch::miss`] words.
enum Miss<'a> {
    /// The gateways the match applies to, and the one evaluating it.
    Gateways(&'a [String], &'a str),
    /// The match's port, and the request's.
    Port(u16, u16),
    /// `path `, `method `, `authority ` or `scheme `: the request's value and the condition.
    Value(&'static str, &'a str, &'a StrMatch),
    Header(&'a str, &'a str, &'a StrMatch),
    HeaderAbsent(&'a str),
    WithoutHeader(&'a str, &'a StrMatch),
    Query(&'a str, String, &'a StrMatch),
    QueryAbsent(&'a str),
    SourceLabels(&'a Labels),
    SourceNamespace(&'a str),
}

impl Miss<'_> {
    fn text(&self) -> String {
        match self {
            Miss::Gateways(gateways, at) => {
                format!("match applies to gateways {gateways:?}, not {at}")
            }
            Miss::Port(p, got) => cat!("port ", p, " ≠ ", got),
            Miss::Value(what, value, m) => cat!(what, value, " does not match ", m),
            Miss::Header(name, v, m) => {
                cat!("header ", name, ": ", Quoted(v), " does not match ", m)
            }
            Miss::HeaderAbsent(name) => cat!("header ", name, " is absent"),
            Miss::WithoutHeader(name, m) => cat!(
                "header ",
                name,
                " is present and matches ",
                m,
                " (withoutHeaders)"
            ),
            Miss::Query(name, v, m) => {
                cat!("query ", name, '=', Quoted(v), " does not match ", m)
            }
            Miss::QueryAbsent(name) => cat!("query parameter ", name, " is absent"),
            Miss::SourceLabels(labels) => {
                format!("source labels {labels:?} not carried by the client")
            }
            Miss::SourceNamespace(ns) => cat!("source namespace is not ", ns),
        }
    }
}

impl RouteMatch {
    /// The rarer conditions, empty when the match has none.
    pub fn more(&self) -> &MoreRouteMatch {
        static NONE: MoreRouteMatch = MoreRouteMatch {
            name: None,
            method: None,
            authority: None,
            scheme: None,
            without_headers: Vec::new(),
            query: Vec::new(),
            source_labels: Labels::new(),
            source_namespace: None,
            gateways: Vec::new(),
        };
        self.more.as_deref().unwrap_or(&NONE)
    }

    pub fn more_mut(&mut self) -> &mut MoreRouteMatch {
        self.more.get_or_insert_with(Default::default)
    }

    /// None when it matches, or the first reason it does not.
    pub fn miss(&self, r: &MatchInput) -> Option<String> {
        self.test(r).map(|why| why.text())
    }

    /// True when the request matches; `miss` without the reason.
    pub fn hits(&self, r: &MatchInput) -> bool {
        self.test(r).is_none()
    }

    /// None when it matches, or the first condition that does not hold: its words are
    /// written only by `miss`.
    fn test<'a>(&'a self, r: &MatchInput<'a>) -> Option<Miss<'a>> {
        let more = self.more();
        if !more.gateways.is_empty() && !more.gateways.iter().any(|g| r.gateway.contains(g)) {
            let at = r.gateway.first().map(String::as_str).unwrap_or("mesh");
            return Some(Miss::Gateways(&more.gateways, at));
        }
        if let Some(p) = self.port {
            if p != r.port {
                return Some(Miss::Port(p, r.port));
            }
        }
        if let Some(m) = &self.path {
            if !m.matches_in(r.path_only(), self.ignore_case, Some(r.regexes)) {
                return Some(Miss::Value("path ", r.path_only(), m));
            }
        }
        for (what, m, value) in [
            ("method ", &more.method, r.method),
            ("authority ", &more.authority, r.authority),
            ("scheme ", &more.scheme, r.scheme),
        ] {
            if let Some(m) = m {
                if !m.matches_in(value, false, Some(r.regexes)) {
                    return Some(Miss::Value(what, value, m));
                }
            }
        }
        for (name, m) in &self.headers {
            match r.header(name) {
                Some(v) if m.matches_in(v, false, Some(r.regexes)) => {}
                Some(v) => return Some(Miss::Header(name, v, m)),
                None => return Some(Miss::HeaderAbsent(name)),
            }
        }
        for (name, m) in &more.without_headers {
            if let Some(v) = r.header(name) {
                if m.matches_in(v, false, Some(r.regexes)) {
                    return Some(Miss::WithoutHeader(name, m));
                }
            }
        }
        for (name, m) in &more.query {
            match r.query(name) {
                Some(v) if m.matches_in(&v, false, Some(r.regexes)) => {}
                Some(v) => return Some(Miss::Query(name, v, m)),
                None => return Some(Miss::QueryAbsent(name)),
            }
        }
        if !more.source_labels.is_empty() {
            let ok = r
                .source_labels
                .is_some_and(|l| more.source_labels.is_subset_of(l));
            if !ok {
                return Some(Miss::SourceLabels(&more.source_labels));
            }
        }
        if let Some(ns) = &more.source_namespace {
            if r.source_namespace != Some(ns.as_str()) {
                return Some(Miss::SourceNamespace(ns));
            }
        }
        None
    }

    pub fn describe(&self) -> String {
        let mut out = String::with_capacity(48);
        self.describe_to(&mut out);
        out
    }

    /// Appends [`RouteMatch::describe`]'s text to `out`: a full trace describes each route it
    /// passes, so the parts are written in place rather than joined.
    pub fn describe_to(&self, out: &mut String) {
        let start = out.len();
        let more = self.more();
        let part = |out: &mut String, pieces: &[&dyn Piece]| {
            if out.len() > start {
                out.push_str(", ");
            }
            for p in pieces {
                p.push_to(out);
            }
        };
        if let Some(p) = &self.path {
            part(out, &[&"path ", p]);
        }
        if let Some(m) = &more.method {
            part(out, &[&"method ", m]);
        }
        for (h, m) in &self.headers {
            part(out, &[&"header ", h, &' ', m]);
        }
        for (q, m) in &more.query {
            part(out, &[&"query ", q, &' ', m]);
        }
        if let Some(p) = self.port {
            part(out, &[&"port ", &p]);
        }
        if !more.gateways.is_empty() {
            part(out, &[&format!("gateways {:?}", more.gateways)]);
        }
        if out.len() == start {
            out.push_str("any request");
        }
    }
}

/// Header changes of a route or a backend: none on most, so the lists are boxed and a route
/// without any carries one word.
#[derive(Debug, Clone, Default)]
pub struct HeaderOps(Option<Box<HeaderLists>>);

#[derive(Debug, Clone, Default)]
struct HeaderLists {
    set: Vec<(String, String)>,
    add: Vec<(String, String)>,
    remove: Vec<String>,
}

impl HeaderOps {
    pub fn from_istio(h: Option<&HeaderOperations>) -> HeaderOps {
        match h {
            Some(h) if !(h.set.is_empty() && h.add.is_empty() && h.remove.is_empty()) => {
                HeaderOps(Some(Box::new(HeaderLists {
                    set: h.set.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    add: h.add.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    remove: h.remove.clone(),
                })))
            }
            _ => HeaderOps::default(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
    /// Applies to a header list: remove, then set (replace), then add (append).
    pub fn apply(&self, headers: &mut Vec<(String, String)>) {
        if let Some(lists) = &self.0 {
            lists.apply(headers);
        }
    }
}

impl HeaderLists {
    fn apply(&self, headers: &mut Vec<(String, String)>) {
        headers.retain(|(k, _)| !self.remove.iter().any(|r| r.eq_ignore_ascii_case(k)));
        for (k, v) in &self.set {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(k));
            headers.push((k.to_ascii_lowercase(), v.clone()));
        }
        for (k, v) in &self.add {
            match headers.iter_mut().find(|(h, _)| h.eq_ignore_ascii_case(k)) {
                Some((_, existing)) => {
                    existing.push(',');
                    existing.push_str(v);
                }
                None => headers.push((k.to_ascii_lowercase(), v.clone())),
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BackendKind {
    /// A Service or ServiceEntry host (cluster `outbound|port|subset|host`).
    Host,
    /// A Gateway API backendRef Istio could not resolve (cluster `UnknownService`? no: 500).
    Invalid(String),
}

#[derive(Debug, Clone)]
pub struct WeightedBackend {
    pub host: String,
    pub subset: Option<CompactString>,
    pub port: Option<u16>,
    pub weight: u32,
    pub request_headers: HeaderOps,
    pub response_headers: HeaderOps,
    pub kind: BackendKind,
}

#[derive(Debug, Clone)]
pub struct Redirect {
    pub scheme: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub path: Option<String>,
    /// Gateway API ReplacePrefixMatch: (matched prefix, replacement).
    pub prefix_rewrite: Option<(String, String)>,
    pub code: u16,
    /// Istio's `derivePort`: `FROM_REQUEST_PORT` (the listener's port) or
    /// `FROM_PROTOCOL_DEFAULT`.
    pub derive_port: Option<String>,
    /// Generated from a Gateway API RequestRedirect: the Location is built as Envoy's
    /// `RedirectAction` does (see `engine::http::redirect_location`).
    pub gateway_api: bool,
}

#[derive(Debug, Clone)]
pub enum Action {
    Route(Vec<WeightedBackend>),
    /// Boxed: a redirect is five times the size of the other actions, and rare.
    Redirect(Box<Redirect>),
    Direct {
        status: u16,
        body: String,
    },
}

impl Action {
    /// The whole weight to one host (and port).
    pub fn to_host(host: &str, port: Option<u16>) -> Action {
        Action::Route(vec![WeightedBackend {
            host: host.to_string(),
            subset: None,
            port,
            weight: 100,
            request_headers: HeaderOps::default(),
            response_headers: HeaderOps::default(),
            kind: BackendKind::Host,
        }])
    }
}

#[derive(Debug, Clone, Default)]
pub struct Rewrite {
    pub uri: Option<String>,
    /// Gateway API ReplacePrefixMatch / Istio uri rewrite on a prefix match: (matched prefix, new).
    pub prefix: Option<(String, String)>,
    pub full_path: Option<String>,
    pub regex: Option<(String, String)>,
    pub authority: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Route {
    /// Envoy route name as the access log prints it; None prints `-`.
    pub name: Option<CompactString>,
    pub matches: Vec<RouteMatch>,
    pub action: Action,
    pub rewrite: Option<Box<Rewrite>>,
    pub request_headers: HeaderOps,
    pub response_headers: HeaderOps,
    pub fault_abort: Option<u16>,
    /// Where copies of the request go (`mirror`, then each of `mirrors` not set to 0%): the
    /// cluster, or the host when no port is named.
    pub mirrors: Vec<String>,
    /// Where the route is written: `VirtualService ns/name http[0]` and its line.
    pub source: RouteSource,
    /// Generated from a Gateway API route: Istio sets `cluster_not_found_response_code: 500`.
    pub gateway_api: bool,
}

/// Where a route comes from, for a trace to name it (`VirtualService ns/name http[2]`) and
/// show its line. The routes of one VirtualService share one [`WrittenVs`], which holds the
/// lines the loader noted; `file:line` is written only when a trace shows it.
#[derive(Debug, Clone)]
pub enum RouteSource {
    /// Built by meshsim (a default or passthrough route), written nowhere: what it is.
    Built(String),
    /// The `index`th item of a VirtualService's `spec.http`.
    HttpItem { vs: Arc<WrittenVs>, index: u32 },
    /// Named in full, with its `file:line` (a Gateway API rule).
    At(Box<(String, String)>),
    /// A delegate VirtualService's route (the first), reached through a route of the root
    /// VirtualService (the second).
    Delegated(Box<(RouteSource, RouteSource)>),
}

/// A VirtualService as the sources of its compiled routes name it.
#[derive(Debug)]
pub struct WrittenVs {
    namespace: CompactString,
    name: CompactString,
    origin: crate::parse::Origin,
    /// The line of each item of its `spec.http` within its document, as the loader noted it.
    lines: Box<[u32]>,
}

impl RouteSource {
    /// `file:line`, or "" for a route written nowhere.
    pub fn pos(&self) -> String {
        match self {
            RouteSource::Built(_) => String::new(),
            RouteSource::At(at) => at.1.clone(),
            RouteSource::HttpItem { vs, index } => {
                let line = vs.lines.get(*index as usize).copied().unwrap_or(0) as usize;
                cat!(&*vs.origin.file, ':', vs.origin.line + line)
            }
            RouteSource::Delegated(d) => d.0.pos(),
        }
    }
}

impl crate::text::Piece for RouteSource {
    fn push_to(&self, out: &mut String) {
        match self {
            RouteSource::Built(what) => out.push_str(what),
            RouteSource::At(at) => out.push_str(&at.0),
            RouteSource::HttpItem { vs, index } => {
                for piece in [
                    "VirtualService ",
                    vs.namespace.as_str(),
                    "/",
                    vs.name.as_str(),
                    " http[",
                ] {
                    out.push_str(piece);
                }
                index.push_to(out);
                out.push(']');
            }
            RouteSource::Delegated(d) => {
                d.0.push_to(out);
                out.push_str(" via delegate ");
                d.1.push_to(out);
            }
        }
    }
    fn size_hint(&self) -> usize {
        64
    }
}

impl std::fmt::Display for RouteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&cat!(self))
    }
}

impl Route {
    /// A route Istio builds itself, written in no manifest: named `name`, matching every
    /// request, doing `action` and nothing else.
    pub fn built(name: &str, action: Action, source: String) -> Route {
        Route {
            name: Some(name.into()),
            matches: vec![],
            action,
            rewrite: None,
            request_headers: HeaderOps::default(),
            response_headers: HeaderOps::default(),
            fault_abort: None,
            mirrors: Vec::new(),
            source: RouteSource::Built(source),
            gateway_api: false,
        }
    }

    /// The route Istio builds for a Service without a VirtualService.
    pub fn default_for(host: &str, port: u16) -> Route {
        let action = Action::to_host(host, Some(port));
        Route::built("default", action, cat!("default route to ", host))
    }
}

#[derive(Debug, Clone)]
pub struct VirtualHost {
    pub name: String,
    pub domains: Vec<String>,
    /// Shared with the compiled VirtualService when the proxy keeps all of its routes.
    pub routes: Arc<[Route]>,
    /// Gateway servers with `httpsRedirect`: every request gets a 301 to https.
    pub require_tls: bool,
    pub source: String,
}

/// Envoy's virtual-host choice: exact domain, then the longest suffix wildcard (`*.a.com`),
/// then the longest prefix wildcard (`a.*`), then `*`. Hosts are compared without port (Istio
/// sets `ignore_port_in_host_matching`) and case-insensitively.
pub fn select_vhost<'v>(vhosts: &'v [VirtualHost], authority: &str) -> Option<&'v VirtualHost> {
    let host = strip_port(authority).as_bytes();
    // ASCII case is ignored by comparing bytes, so that no name is copied to lower it.
    let same = |a: &[u8], b: &[u8]| a.eq_ignore_ascii_case(b);
    let mut best: Option<(u8, usize, &VirtualHost)> = None;
    for vh in vhosts {
        for d in &vh.domains {
            let d = d.as_bytes();
            let rank = if same(d, host) {
                Some((0u8, usize::MAX))
            } else if d == b"*" {
                Some((3, 0))
            } else if let Some(suffix) = d.strip_prefix(b"*") {
                (host.len() > suffix.len() && same(&host[host.len() - suffix.len()..], suffix))
                    .then_some((1, suffix.len()))
            } else if let Some(prefix) = d.strip_suffix(b"*") {
                (host.len() > prefix.len() && same(&host[..prefix.len()], prefix))
                    .then_some((2, prefix.len()))
            } else {
                None
            };
            if let Some((tier, len)) = rank {
                let better = match &best {
                    None => true,
                    Some((bt, bl, _)) => tier < *bt || (tier == *bt && len > *bl),
                };
                if better {
                    best = Some((tier, len, vh));
                }
            }
        }
    }
    best.map(|(_, _, v)| v)
}

pub fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority
            .split(']')
            .next()
            .map(|s| &authority[..s.len() + 1])
            .unwrap_or(authority);
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    }
}

fn parse_match(m: &HttpMatchRequest) -> RouteMatch {
    let sm = |x: Option<&StringMatch>| x.and_then(StrMatch::from_istio);
    // A header or query parameter match without a value, or with the regex `*`, is Envoy's
    // present_match (Istio's canBeConvertedToPresentMatch: `*` is not read as a regex).
    let list = |x: &crate::parse::types::Map<StringMatch>| {
        x.iter()
            .map(|(k, v)| {
                let m = match v.regex.as_deref() {
                    Some("*") => StrMatch::Present,
                    _ => StrMatch::from_istio(v).unwrap_or(StrMatch::Present),
                };
                (k.clone(), m)
            })
            .collect::<Vec<_>>()
    };
    // Most matches have neither a name nor a rare condition: nothing to build.
    let rare = (m.name.is_some() || m.more.is_some()).then(|| {
        let more = m.more();
        MoreRouteMatch {
            name: m.name.clone(),
            method: sm(more.method.as_ref()),
            authority: sm(more.authority.as_ref()),
            scheme: sm(more.scheme.as_ref()),
            without_headers: list(&more.without_headers),
            query: list(&more.query_params),
            source_labels: more.source_labels.clone(),
            source_namespace: more.source_namespace.clone(),
            gateways: more.gateways.clone(),
        }
    });
    RouteMatch {
        path: sm(m.uri.as_ref()),
        headers: list(&m.headers),
        port: m.port,
        ignore_case: m.ignore_uri_case,
        more: rare.filter(|r| !r.is_empty()).map(Box::new),
    }
}

/// True for a VirtualService Istio generated from Gateway API routes (annotation
/// `internal.istio.io/route-semantics: gateway`).
pub fn gateway_semantics(vs: &Config<VirtualServiceSpec>) -> bool {
    vs.annotations
        .get(crate::model::gwapi::ROUTE_SEMANTICS)
        .is_some_and(|v| v == "gateway")
}

/// The path Envoy counts as matched for prefix rewrites: the prefix of a prefix match (a
/// path-separated prefix under gateway semantics), or the whole path of an exact match.
fn matched_prefix(m: Option<&RouteMatch>) -> String {
    match m.and_then(|m| m.path.as_ref()) {
        Some(StrMatch::Prefix(p)) | Some(StrMatch::Exact(p)) => p.to_string(),
        Some(StrMatch::PathPrefix(p)) => p.trim_end_matches('/').to_string(),
        _ => String::new(),
    }
}

/// Compiles a VirtualService's HTTP routes, the way Istio's route builder translates them
/// (`pilot/pkg/networking/core/route/route.go`), including the differences Istio applies to
/// VirtualServices generated from Gateway API routes.
pub fn compile_virtual_service(vs: &Config<VirtualServiceSpec>) -> Vec<Route> {
    read_ahead(vs);
    let gw = gateway_semantics(vs);
    let mut out = Vec::with_capacity(vs.spec.http.len());
    let written = Arc::new(WrittenVs {
        namespace: vs.namespace.clone(),
        name: vs.name.clone(),
        origin: vs.origin.clone(),
        lines: vs.spec.http.iter().map(|r| r.line).collect(),
    });
    for (i, r) in vs.spec.http.iter().enumerate() {
        let mut matches: Vec<RouteMatch> = r.r#match.iter().map(parse_match).collect();
        for m in &mut matches {
            if let Some(more) = m.more.as_deref_mut() {
                more.gateways = more
                    .gateways
                    .iter()
                    .map(|g| qualify_gateway(g, &vs.namespace))
                    .collect();
            }
            if gw {
                // Gateway semantics: a prefix other than `/` becomes Envoy's
                // path_separated_prefix (whole segments only).
                if let Some(StrMatch::Prefix(p)) = &m.path {
                    if p != "/" {
                        m.path = Some(StrMatch::PathPrefix(p.trim_end_matches('/').into()));
                    }
                }
            }
        }
        // Only a Gateway API redirect or rewrite reads it.
        let prefix = || matched_prefix(matches.first());
        let more = r.more();
        let action = if let Some(rd) = &more.redirect {
            // Istio 1.27 marks a Gateway API ReplacePrefixMatch as `%PREFIX()%<replacement>`.
            let prefix_rewrite = rd
                .uri
                .as_deref()
                .filter(|_| gw)
                .and_then(|u| u.strip_prefix("%PREFIX()%"))
                .map(|x| (prefix(), x.to_string()));
            Action::Redirect(Box::new(Redirect {
                scheme: rd.scheme.clone(),
                host: rd.authority.clone(),
                port: rd.port,
                path: if prefix_rewrite.is_some() {
                    None
                } else {
                    rd.uri.clone()
                },
                prefix_rewrite,
                code: rd.redirect_code.unwrap_or(301),
                derive_port: rd.derive_port.clone(),
                gateway_api: gw,
            }))
        } else if let Some(dr) = &more.direct_response {
            Action::Direct {
                status: dr.status,
                body: dr
                    .body
                    .as_ref()
                    .and_then(|b| b.string.clone())
                    .unwrap_or_default(),
            }
        } else {
            let single = r.route.len() == 1;
            // Collected from an iterator of known length, so that the list is the size of
            // the route's destinations (a filtered iterator's list has room for four).
            let mut backends: Vec<WeightedBackend> = r
                .route
                .iter()
                .map(|d| WeightedBackend {
                    host: if gw && d.destination.host.is_empty() {
                        "UnknownService".to_string()
                    } else {
                        fqdn(&d.destination.host, &vs.namespace).into_owned()
                    },
                    subset: d.destination.subset.clone(),
                    port: d.destination.port.as_ref().and_then(|p| p.number),
                    weight: match d.weight {
                        // One destination takes all traffic whatever its weight.
                        _ if single => 100,
                        Some(w) => w.max(0) as u32,
                        None => 0,
                    },
                    request_headers: HeaderOps::from_istio(
                        d.headers.as_ref().and_then(|h| h.request.as_ref()),
                    ),
                    response_headers: HeaderOps::from_istio(
                        d.headers.as_ref().and_then(|h| h.response.as_ref()),
                    ),
                    // Istio points a Gateway API backendRef it could not resolve at the
                    // cluster `UnknownService`, which does not exist.
                    kind: if gw && d.destination.host.is_empty() {
                        BackendKind::Invalid(format!(
                            "{} has a backendRef Istio could not resolve: it routes to the cluster UnknownService, which does not exist",
                            r.name.as_deref().unwrap_or("the route")
                        ))
                    } else {
                        BackendKind::Host
                    },
                })
                .collect();
            backends.retain(|b| single || b.weight > 0 || !gw);
            backends.shrink_to_fit();
            Action::Route(backends)
        };
        let rewrite = more.rewrite.as_ref().map(|rw| {
            let mut out = Rewrite {
                uri: rw.uri.clone(),
                prefix: None,
                full_path: None,
                regex: rw.uri_regex_rewrite.as_ref().and_then(|x| {
                    Some((x.r#match.clone()?, x.rewrite.clone().unwrap_or_default()))
                }),
                authority: rw.authority.clone(),
            };
            if gw {
                if let Some(uri) = out.uri.take() {
                    if uri == "/" {
                        // Removing the prefix: Istio writes a regex that keeps one `/`.
                        out.regex = Some((
                            format!("^{}(/?)(.*)", regex::escape(&prefix())),
                            "/\\2".to_string(),
                        ));
                    } else {
                        out.prefix = Some((prefix(), uri));
                    }
                }
            }
            Box::new(out)
        });
        let headers = more.headers.as_ref();
        out.push(Route {
            name: r.name.clone(),
            matches,
            action,
            rewrite,
            request_headers: HeaderOps::from_istio(headers.and_then(|h| h.request.as_ref())),
            response_headers: HeaderOps::from_istio(headers.and_then(|h| h.response.as_ref())),
            fault_abort: more
                .fault
                .as_ref()
                .and_then(|f| f.abort.as_ref())
                .filter(|a| a.percentage.as_ref().is_none_or(|p| p.value >= 100.0))
                .and_then(|a| a.http_status),
            // Istio's MirrorPercent and MirrorPercentByPolicy: a share of 0% mirrors nothing.
            mirrors: more
                .mirror
                .iter()
                .filter(|_| match (&more.mirror_percentage, more.mirror_percent) {
                    (Some(p), _) => p.value > 0.0,
                    (None, Some(p)) => p > 0,
                    (None, None) => true,
                })
                .chain(
                    more.mirrors
                        .iter()
                        .filter(|m| m.percentage.as_ref().is_none_or(|p| p.value > 0.0))
                        .filter_map(|m| m.destination.as_ref()),
                )
                .map(|m| {
                    let host = fqdn(&m.host, &vs.namespace).into_owned();
                    match m.port.as_ref().and_then(|p| p.number) {
                        Some(p) => format!("outbound|{p}||{host}"),
                        None => host,
                    }
                })
                .collect(),
            source: RouteSource::HttpItem {
                vs: written.clone(),
                index: i as u32,
            },
            gateway_api: gw,
        });
    }
    out
}

/// Reads one word of each block of `vs.spec.http` that compiling it reads, in one short loop
/// with nothing else to do. A VirtualService is first compiled long after it was loaded, when
/// its blocks are no longer in the caches; the reads of different routes do not depend on one
/// another, so the processor fetches their blocks from memory together, where the compile,
/// which does a route's work between them, would fetch them one after another.
fn read_ahead(vs: &Config<VirtualServiceSpec>) {
    let mut seen = 0usize;
    for r in &vs.spec.http {
        seen ^= r.more.as_ref().map_or(0, |m| m.timeout.is_some() as usize);
        for m in &r.r#match {
            seen ^= m.headers.len();
            seen ^= m.more.as_ref().map_or(0, |m| m.gateways.len());
            for (k, v) in m.headers.iter() {
                seen ^= k.as_bytes().first().copied().unwrap_or(0) as usize;
                seen ^= v.exact.as_ref().map_or(0, |x| x.len());
            }
        }
        for d in &r.route {
            seen ^= d.destination.host.as_bytes().first().copied().unwrap_or(0) as usize;
            seen ^= d
                .headers
                .as_ref()
                .map_or(0, |h| h.request.is_some() as usize);
        }
    }
    std::hint::black_box(seen);
}

/// Compiles a VirtualService generated from Gateway API routes, naming each route after the
/// HTTPRoute or GRPCRoute rule it comes from.
pub fn compile_generated(g: &crate::model::gwapi::GeneratedVs) -> Vec<Route> {
    let mut routes = compile_virtual_service(&g.vs);
    for (r, (src, pos)) in routes.iter_mut().zip(&g.origins) {
        r.source = RouteSource::At(Box::new((src.clone(), pos.clone())));
    }
    routes
}

/// A gateway as a VirtualService of namespace `ns` names it, as `namespace/name` (Istio's
/// `resolveGatewayName`, pilot/pkg/model/config.go): `name` is `ns/name`; the legacy
/// `name.namespace.svc.cluster.local` (or `name.namespace`) is `namespace/name`; `./name` is
/// `ns/name`; `mesh` stays `mesh`.
pub fn qualify_gateway(g: &str, ns: &str) -> String {
    if g == "mesh" {
        return g.to_string();
    }
    match g.split_once('/') {
        Some((".", name)) => format!("{ns}/{name}"),
        Some(_) => g.to_string(),
        None => match g.split_once('.') {
            None => format!("{ns}/{g}"),
            Some((name, rest)) => {
                let namespace = rest.split('.').next().unwrap_or(rest);
                format!("{namespace}/{name}")
            }
        },
    }
}

/// Compiles a VirtualService and expands its delegated routes: a route with `delegate` is
/// replaced by the delegate VirtualService's routes, each matching only where both the root's
/// match and its own hold, named `<root>-<delegate>` (Istio's mergeHTTPRoutes).
pub fn compile_vs(mesh: &Mesh, vs: &Config<VirtualServiceSpec>) -> Vec<Route> {
    let compiled = compile_virtual_service(vs);
    if vs.spec.http.iter().all(|r| r.more().delegate.is_none()) {
        return compiled;
    }
    let mut out = Vec::new();
    for (root, spec) in compiled.into_iter().zip(&vs.spec.http) {
        let Some(d) = &spec.more().delegate else {
            out.push(root);
            continue;
        };
        let ns = d.namespace.as_deref().unwrap_or(&vs.namespace);
        let Some(dvs) = mesh
            .vs_by_name
            .get(&cat!(ns, '/', d.name))
            .map(|&i| &mesh.virtual_services[i])
        else {
            // A missing delegate contributes no routes.
            continue;
        };
        for mut r in compile_virtual_service(dvs) {
            r.matches = merge_matches(&root.matches, &r.matches);
            if !root.matches.is_empty() && r.matches.is_empty() {
                continue;
            }
            r.name = match (&root.name, &r.name) {
                (Some(a), Some(b)) => Some(cat!(a, '-', b).into()),
                (Some(a), None) => Some(a.clone()),
                (None, b) => b.clone(),
            };
            r.source = RouteSource::Delegated(Box::new((r.source, root.source.clone())));
            out.push(r);
        }
    }
    out
}

/// The compiled routes of every VirtualService of a mesh: one slot per written VirtualService
/// (parallel to `Mesh::virtual_services`) and per generated one (parallel to
/// `GatewayApi::virtual_services`), each filled the first time a trace reads it. The answer
/// depends on the mesh only; filling on demand keeps the model's build and memory to what is
/// traced.
#[derive(Debug, Default)]
pub struct RouteMemo {
    written: Vec<OnceLock<Compiled>>,
    generated: Vec<OnceLock<Compiled>>,
}

/// A VirtualService's compiled routes.
#[derive(Debug)]
pub struct Compiled {
    pub routes: Arc<[Route]>,
    /// Some match names a port or gateways, so the routes a listener keeps depend on it
    /// (`vhosts::filter_routes`); when none does, every listener keeps them all, and a trace
    /// need not read each match to know it.
    pub selective: bool,
}

impl From<Vec<Route>> for Compiled {
    fn from(routes: Vec<Route>) -> Compiled {
        let selective = routes.iter().any(|r| {
            r.matches
                .iter()
                .any(|m| m.port.is_some() || !m.more().gateways.is_empty())
        });
        Compiled {
            routes: routes.into(),
            selective,
        }
    }
}

impl RouteMemo {
    pub fn new(written: usize, generated: usize) -> RouteMemo {
        RouteMemo {
            written: (0..written).map(|_| OnceLock::new()).collect(),
            generated: (0..generated).map(|_| OnceLock::new()).collect(),
        }
    }
}

/// The routes of `mesh.virtual_services[i]`, delegates expanded (`compile_vs`), compiled once.
pub fn vs_routes(mesh: &Mesh, i: usize) -> &Compiled {
    mesh.routes.written[i].get_or_init(|| compile_vs(mesh, &mesh.virtual_services[i]).into())
}

/// The routes of `mesh.gateway_api.virtual_services[i]` (`compile_generated`), compiled once.
pub fn generated_routes(mesh: &Mesh, i: usize) -> &Compiled {
    mesh.routes.generated[i]
        .get_or_init(|| compile_generated(&mesh.gateway_api.virtual_services[i]).into())
}

/// Every pair of a root match and a delegate match whose conditions can both hold; the
/// delegate's path wins when it is within the root's.
fn merge_matches(root: &[RouteMatch], delegate: &[RouteMatch]) -> Vec<RouteMatch> {
    if root.is_empty() {
        return delegate.to_vec();
    }
    if delegate.is_empty() {
        return root.to_vec();
    }
    let mut out = Vec::new();
    for r in root {
        for d in delegate {
            let path = match (&r.path, &d.path) {
                (Some(rp), Some(dp)) => {
                    let within = match (rp, dp) {
                        (StrMatch::Prefix(a), StrMatch::Prefix(b))
                        | (StrMatch::Prefix(a), StrMatch::Exact(b)) => b.starts_with(a.as_str()),
                        (a, b) => a == b,
                    };
                    if !within {
                        continue;
                    }
                    Some(dp.clone())
                }
                (a, b) => b.clone().or_else(|| a.clone()),
            };
            let mut m = d.clone();
            m.path = path;
            m.headers.extend(r.headers.iter().cloned());
            m.port = d.port.or(r.port);
            let (dm, rm) = (d.more(), r.more());
            let more = m.more_mut();
            more.query.extend(rm.query.iter().cloned());
            more.method = dm.method.clone().or_else(|| rm.method.clone());
            more.gateways = if dm.gateways.is_empty() {
                rm.gateways.clone()
            } else {
                dm.gateways.clone()
            };
            if more.is_empty() {
                m.more = None;
            }
            out.push(m);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mesh_of;

    fn vh(name: &str, domains: &[&str]) -> VirtualHost {
        VirtualHost {
            name: name.into(),
            domains: domains.iter().map(|s| s.to_string()).collect(),
            routes: Arc::new([]),
            require_tls: false,
            source: String::new(),
        }
    }

    /// What a full trace says of each route it passes: the first condition the request
    /// misses, its value quoted as Rust's `Debug` writes it.
    #[test]
    fn a_miss_names_the_first_condition_that_fails() {
        let exact = |v: &str| StrMatch::Exact(v.into());
        let mut m = RouteMatch {
            path: Some(StrMatch::Prefix("/api".into())),
            headers: vec![("x-canary".into(), exact("true"))],
            ..RouteMatch::default()
        };
        m.more_mut().method = Some(exact("POST"));
        m.more_mut().query = vec![("v".into(), exact("2"))];
        let regexes = Regexes::default();
        let headers = vec![("X-Canary".to_string(), "say \"no\"".to_string())];
        let input = |path, method, headers| MatchInput {
            method,
            path,
            authority: "a.example.com",
            scheme: "http",
            headers,
            port: 80,
            source_labels: None,
            source_namespace: None,
            gateway: &[],
            regexes: &regexes,
        };
        let miss = |path, method, headers| m.miss(&input(path, method, headers));
        assert_eq!(
            miss("/web", "GET", &[]).as_deref(),
            Some(r#"path /web does not match prefix "/api""#)
        );
        assert_eq!(
            miss("/api/x?v=1", "GET", &[]).as_deref(),
            Some(r#"method GET does not match exact "POST""#)
        );
        assert_eq!(
            miss("/api/x?v=1", "POST", &[]).as_deref(),
            Some("header x-canary is absent")
        );
        assert_eq!(
            miss("/api/x?v=1", "POST", &headers).as_deref(),
            Some(r#"header x-canary: "say \"no\"" does not match exact "true""#)
        );
        let yes = vec![("x-canary".to_string(), "true".to_string())];
        assert_eq!(
            miss("/api/x?v=1", "POST", &yes).as_deref(),
            Some(r#"query v="1" does not match exact "2""#)
        );
        assert_eq!(miss("/api/x?v=2", "POST", &yes), None);
        assert!(m.hits(&input("/api/x?v=2", "POST", &yes)));
        assert_eq!(
            m.describe(),
            r#"path prefix "/api", method exact "POST", header x-canary exact "true", query v exact "2""#
        );
    }

    /// Envoy matches domains without regard to ASCII case; so does `select_vhost`, which
    /// compares bytes rather than lowering copies. The reference lowers both sides first.
    fn select_by_lowering<'v>(vhosts: &'v [VirtualHost], authority: &str) -> Option<&'v str> {
        let host = strip_port(authority).to_ascii_lowercase();
        let mut best: Option<(u8, usize, &str)> = None;
        for vh in vhosts {
            for d in &vh.domains {
                let d = d.to_ascii_lowercase();
                let rank = if d == host {
                    Some((0u8, usize::MAX))
                } else if d == "*" {
                    Some((3, 0))
                } else if let Some(s) = d.strip_prefix('*') {
                    (host.ends_with(s) && host.len() > s.len()).then_some((1, s.len()))
                } else if let Some(p) = d.strip_suffix('*') {
                    (host.starts_with(p) && host.len() > p.len()).then_some((2, p.len()))
                } else {
                    None
                };
                if let Some((tier, len)) = rank {
                    if best.is_none_or(|(bt, bl, _)| tier < bt || (tier == bt && len > bl)) {
                        best = Some((tier, len, vh.name.as_str()));
                    }
                }
            }
        }
        best.map(|(_, _, name)| name)
    }

    proptest::proptest! {
        #[test]
        fn domains_match_as_lowered_copies_would(
            domains in proptest::collection::vec("[*]?[aAbB.]{0,4}[*]?", 1..6),
            host in "[aAbB.é]{0,5}(:80)?",
        ) {
            let v: Vec<VirtualHost> = domains
                .iter()
                .enumerate()
                .map(|(i, d)| vh(&i.to_string(), &[d.as_str()]))
                .collect();
            proptest::prop_assert_eq!(
                select_vhost(&v, &host).map(|v| v.name.as_str()),
                select_by_lowering(&v, &host)
            );
        }
    }

    #[test]
    fn domains_match_in_any_ascii_case() {
        let v = vec![
            vh("suffix", &["*.Example.COM"]),
            vh("exact", &["API.example.com"]),
        ];
        let pick = |a| select_vhost(&v, a).map(|v| v.name.as_str());
        assert_eq!(pick("api.EXAMPLE.com:8080"), Some("exact"));
        assert_eq!(pick("www.example.com"), Some("suffix"));
        assert_eq!(pick("example.com"), None);
    }

    #[test]
    fn envoy_domain_order_exact_then_suffix_then_prefix_then_any() {
        let v = vec![
            vh("any", &["*"]),
            vh("prefix", &["foo.*"]),
            vh("suffix", &["*.example.com"]),
            vh("longer", &["*.b.example.com"]),
            vh("exact", &["foo.example.com"]),
        ];
        assert_eq!(
            select_vhost(&v, "foo.example.com").map(|v| v.name.as_str()),
            Some("exact")
        );
        assert_eq!(
            select_vhost(&v, "a.b.example.com:80").map(|v| v.name.as_str()),
            Some("longer")
        );
        assert_eq!(
            select_vhost(&v, "foo.bar").map(|v| v.name.as_str()),
            Some("prefix")
        );
        assert_eq!(
            select_vhost(&v, "zzz").map(|v| v.name.as_str()),
            Some("any")
        );
    }

    #[test]
    fn gateway_api_path_prefix_respects_segments() {
        let m = StrMatch::PathPrefix("/foo".into());
        assert!(m.matches("/foo", false));
        assert!(m.matches("/foo/bar", false));
        assert!(!m.matches("/foobar", false));
        assert!(StrMatch::Prefix("/foo".into()).matches("/foobar", false));
    }

    /// A listener keeps a route match only for its port and gateway (Istio translates a
    /// VirtualService per listener); compiled routes without such matches skip the check.
    #[test]
    fn listeners_keep_the_matches_for_their_port_and_gateway() {
        use crate::sim::vhosts::filter_routes;
        let route = |m: RouteMatch| Route {
            matches: vec![m],
            ..Route::default_for("a.ns.svc.cluster.local", 80)
        };
        let plain = Compiled::from(vec![route(RouteMatch::default())]);
        assert!(!plain.selective);
        assert_eq!(filter_routes(&plain, 8080, "ns/gw").len(), 1);
        let on_8080 = RouteMatch {
            port: Some(8080),
            ..RouteMatch::default()
        };
        let mut via_gw = RouteMatch::default();
        via_gw.more_mut().gateways = vec!["ns/gw".into()];
        let picky = Compiled::from(vec![
            route(on_8080),
            route(via_gw),
            route(RouteMatch::default()),
        ]);
        assert!(picky.selective);
        assert_eq!(filter_routes(&picky, 8080, "mesh").len(), 2);
        assert_eq!(filter_routes(&picky, 80, "ns/gw").len(), 2);
        assert_eq!(filter_routes(&picky, 80, "mesh").len(), 1);
    }

    /// `mirror` and each of `mirrors` become a copy's destination, but a policy of 0% (Istio's
    /// MirrorPercentByPolicy), each by its cluster when it names a port.
    #[test]
    fn mirrors_name_their_clusters_and_zero_percent_mirrors_nothing() {
        let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: a}
spec:
  hosts: [r]
  http:
  - name: one
    mirror: {host: shadow, port: {number: 8080}}
    route: [{destination: {host: r}}]
  - name: two
    mirrors:
    - destination: {host: copy-a}
    - destination: {host: copy-b, port: {number: 9000}}
      percentage: {value: 25}
    - destination: {host: never}
      percentage: {value: 0}
    route: [{destination: {host: r}}]
  - name: three
    mirror: {host: none}
    mirrorPercentage: {value: 0}
    route: [{destination: {host: r}}]
  - name: four
    mirror: {host: half}
    mirrorPercent: 50
    route: [{destination: {host: r}}]
";
        let mesh = mesh_of(text);
        let mirrors: Vec<Vec<String>> = vs_routes(&mesh, 0)
            .routes
            .iter()
            .map(|r| r.mirrors.clone())
            .collect();
        assert_eq!(
            mirrors,
            vec![
                vec!["outbound|8080||shadow.a.svc.cluster.local".to_string()],
                vec![
                    "copy-a.a.svc.cluster.local".to_string(),
                    "outbound|9000||copy-b.a.svc.cluster.local".to_string()
                ],
                vec![],
                vec!["half.a.svc.cluster.local".to_string()],
            ]
        );
    }

    /// A route names the line of its `http` item (noted while loading, before the text is
    /// packed), in block and flow style alike, in the second document of a file.
    #[test]
    fn a_route_names_the_line_of_its_http_item() {
        let text = "\
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
# routes
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: a}
spec:
  hosts: [r]
  http:
  - name: one
    match:
    - uri: {prefix: /one}
    route:
    - destination: {host: r}

  - {name: two, route: [{destination: {host: r}}]}
  -   name: three
      route:
      - destination:
          host: r
";
        let mesh = mesh_of(text);
        let positions: Vec<String> = vs_routes(&mesh, 0)
            .routes
            .iter()
            .map(|r| r.source.pos())
            .collect();
        assert_eq!(positions, ["f.yaml:12", "f.yaml:18", "f.yaml:19"]);
    }

    /// The VirtualServices of a `kind: List` (as `kubectl get -o yaml` prints them) each name
    /// the lines of their own `http` items, not those of the list's first item.
    #[test]
    fn the_routes_of_a_list_item_name_that_item_s_lines() {
        let text = "\
apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: first, namespace: a}
  spec:
    hosts: [one]
    http:
    - route:
      - destination: {host: one}
- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata: {name: second, namespace: a}
  spec:
    hosts: [two]
    http:
    - name: x
      match:
      - uri: {prefix: /x}
      route:
      - destination: {host: two}
    - route:
      - destination: {host: two}
";
        let mesh = mesh_of(text);
        let positions = |name: &str| -> Vec<String> {
            let i = mesh
                .virtual_services
                .iter()
                .position(|v| v.name == name)
                .expect("loaded");
            vs_routes(&mesh, i)
                .routes
                .iter()
                .map(|r| r.source.pos())
                .collect()
        };
        assert_eq!(positions("first"), ["f.yaml:14"]);
        assert_eq!(positions("second"), ["f.yaml:22", "f.yaml:27"]);
    }

    /// A compiled route keeps its destinations in a list of their number: the routes of
    /// every VirtualService a run crosses stay in memory, and a list with room for four
    /// destinations held one was 288 bytes of nothing each.
    #[test]
    fn compiled_destinations_take_no_spare_room() {
        let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: a}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r}}]
  - route: [{destination: {host: r, subset: v1}, weight: 90}, {destination: {host: s}, weight: 10}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: g
  namespace: a
  annotations: {internal.istio.io/route-semantics: gateway}
spec:
  hosts: [g]
  http:
  - route: [{destination: {host: r}, weight: 0}, {destination: {host: s}, weight: 1}, {destination: {host: t}, weight: 1}]
";
        let mesh = mesh_of(text);
        let mut lists = Vec::new();
        for vs in 0..2 {
            for r in vs_routes(&mesh, vs).routes.iter() {
                if let Action::Route(b) = &r.action {
                    lists.push((b.len(), b.capacity()));
                }
            }
        }
        lists.sort();
        // Gateway semantics leave out the destination of weight 0.
        assert_eq!(lists, [(1, 1), (2, 2), (2, 2)]);
    }

    #[test]
    fn a_match_describes_its_conditions_in_order() {
        assert_eq!(RouteMatch::default().describe(), "any request");
        let m = RouteMatch {
            path: Some(StrMatch::Prefix("/a".into())),
            headers: vec![("x".into(), StrMatch::Exact("1".into()))],
            port: Some(80),
            ..RouteMatch::default()
        };
        assert_eq!(
            m.describe(),
            r#"path prefix "/a", header x exact "1", port 80"#
        );
        let mut out = String::from("(");
        m.describe_to(&mut out);
        assert_eq!(out, r#"(path prefix "/a", header x exact "1", port 80"#);
        let mut out = String::from("(");
        RouteMatch::default().describe_to(&mut out);
        assert_eq!(out, "(any request");
    }

    #[test]
    fn regex_is_a_full_match_as_in_envoy() {
        assert!(StrMatch::Regex("/a.*".into()).matches("/abc", false));
        assert!(!StrMatch::Regex("/a".into()).matches("/abc", false));
    }
}
#[cfg(test)]
mod layout {
    use super::*;

    /// Routing reads the matches of each route it passes and copies the chosen backend: the
    /// rare parts are boxed so that these stay within a few cache lines (they were 304, 224
    /// and 696 bytes).
    #[test]
    fn routing_records_stay_small() {
        assert!(std::mem::size_of::<RouteMatch>() <= 128);
        assert!(std::mem::size_of::<WeightedBackend>() <= 128);
        assert!(std::mem::size_of::<Route>() <= 256);
        assert!(std::mem::size_of::<HeaderOps>() <= std::mem::size_of::<usize>());
    }
}
