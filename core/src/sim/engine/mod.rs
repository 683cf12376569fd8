//! The walk itself: client → proxies → application, recording a hop per proxy.
//!
//! Everything a trace says in words — steps, notes, explanations, each hop's decision — goes
//! through the macros below, which evaluate their text only when the trace is detailed
//! (`Detail::Full`). A verdict (`Detail::Verdict`) walks the same path and decides the same
//! way without writing any of it.

/// Records a step of a hop: `step!(ctx, hop, stage, result, tried)`.
macro_rules! step {
    ($ctx:expr, $hop:expr, $stage:expr, $result:expr, $tried:expr $(,)?) => {
        if $ctx.full {
            let (hop, stage, result, tried) = ($hop, $stage, $result, $tried);
            $ctx.push_step(hop, stage, result, tried);
        }
    };
}

/// Adds a line to the explanation of why the request ended as it did.
macro_rules! explain {
    ($ctx:expr, $line:expr $(,)?) => {
        if $ctx.full {
            $ctx.explanation.push($line);
        }
    };
}

/// Adds a note (how a name resolved, which policy applied, ...).
macro_rules! note {
    ($ctx:expr, $line:expr $(,)?) => {
        if $ctx.full {
            $ctx.notes.push($line.into());
        }
    };
}

/// Sets a hop's decision, the one-line summary of what it did.
macro_rules! decide {
    ($ctx:expr, $hop:expr, $what:expr $(,)?) => {
        if $ctx.full {
            $ctx.hops[$hop].decision = $what;
        }
    };
}

mod ambient;
mod gateway;
mod http;
mod router;
mod sidecar;
mod tls;

use super::request::{err, parse_url};
use super::vhosts::{self};
use super::*;
use crate::model::addr::{ephemeral_port, fnv64, fnv64_continue, internet_ip, uuid_of_hash};
use crate::model::protocol::Protocol;
use crate::model::{Mesh, ProxyKind, Service, TargetPort, Workload};
use crate::text::{cat, Piece, Quoted};
use std::net::{Ipv4Addr, SocketAddrV4};

const DEFAULT_USER_AGENT: &str = "curl/8.16.0";
const MAX_HOPS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Client {
    External,
    Pod(usize, usize),
}

/// The request as it travels; proxies rewrite it.
#[derive(Debug, Clone)]
struct Msg {
    method: CompactString,
    scheme: CompactString,
    authority: CompactString,
    path: CompactString,
    headers: Vec<(String, String)>,
    /// Protocol on the current connection.
    protocol: &'static str,
    xff: Option<CompactString>,
    /// TLS server name the client sends (curl: the URL's host), for https:// URLs.
    sni: Option<CompactString>,
}

impl Msg {
    /// The request as the backend receives it.
    pub(super) fn into_upstream(self) -> UpstreamRequest {
        UpstreamRequest {
            method: self.method,
            scheme: self.scheme,
            authority: self.authority,
            path: self.path,
            headers: self.headers.into_iter().collect(),
        }
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What comes back to a hop.
#[derive(Debug, Clone)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: u64,
    /// Set by the hop that answered by itself or failed: (flags, details, outcome).
    decided: Option<(&'static str, &'static str, Outcome)>,
}

impl Resp {
    pub(super) fn local(
        status: u16,
        flags: &'static str,
        details: &'static str,
        outcome: Outcome,
        body: u64,
    ) -> Resp {
        Resp {
            status,
            headers: vec![],
            body,
            decided: Some((flags, details, outcome)),
        }
    }
}

/// The downstream side of a connection into a hop.
#[derive(Debug, Clone)]
struct Conn {
    /// The address the connection comes from.
    remote: SocketAddrV4,
    /// SNI when the caller is a mesh proxy speaking mTLS.
    sni: Option<CompactString>,
    from_mesh: bool,
}

impl Conn {
    /// A plaintext connection from a client (or proxy) that is not speaking mTLS.
    fn plain(remote: SocketAddrV4) -> Conn {
        Conn {
            remote,
            sni: None,
            from_mesh: false,
        }
    }
}

struct Ctx<'m> {
    mesh: &'m Mesh,
    /// Write the trace's words (steps, notes, explanation, decisions, access-log lines).
    full: bool,
    hops: Vec<Hop>,
    clock: u64,
    request_id: String,
    seed_key: String,
    /// `fnv64(seed_key)`.
    seed_hash: u64,
    ports_used: u32,
    notes: Vec<String>,
    explanation: Vec<String>,
    cluster: Option<String>,
    backend: Option<Backend>,
    /// The Service or ServiceEntry the last routing decision chose.
    routed_service: Option<Backend>,
    upstream: Option<UpstreamRequest>,
    split: Vec<(String, u32)>,
    seed: Option<u64>,
    visited: Vec<(usize, usize, u16)>,
    /// Set while a waypoint routes: its clusters are `inbound-vip|...` and it reaches pods
    /// over HBONE.
    in_waypoint: bool,
    /// The client is an ambient pod: ztunnel's DNS proxy answers for ServiceEntry hosts.
    client_ambient: bool,
    /// Status of Envoy's cluster_not_found reply for the route being followed (503; 500 for
    /// Gateway API routes).
    cluster_not_found_code: u16,
    /// The client speaks gRPC (`content-type: application/grpc`): local replies become
    /// `200` with a `grpc-status`, as Envoy sends them.
    grpc: bool,
}

/// Traces a request in full: every step, note, explanation and access-log line.
pub fn trace(mesh: &Mesh, req: &Request) -> Result<Trace, RequestError> {
    trace_with(mesh, req, Detail::Full)
}

/// Traces a request with the detail asked for. A verdict has the same outcome, status, flags,
/// details, backend, cluster, hops, upstream request and response as the full trace, and none
/// of its words: no steps, notes, explanation, decisions or access-log lines.
pub fn trace_with(mesh: &Mesh, req: &Request, detail: Detail) -> Result<Trace, RequestError> {
    let client = resolve_source(mesh, &req.from)?;
    let url = parse_url(&req.url)?;
    let default_port = if url.scheme == "https" { 443 } else { 80 };
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut authority = if url.explicit_port && url.port != default_port {
        let mut a = url.host.clone();
        a.push(':');
        a.push_str(itoa::Buffer::new().format(url.port));
        a
    } else {
        url.host.clone()
    };
    for (k, v) in &req.headers {
        if k.eq_ignore_ascii_case("host") {
            authority = v.trim().into();
        } else {
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    if !headers.iter().any(|(k, _)| k == "user-agent") {
        headers.push(("user-agent".into(), DEFAULT_USER_AGENT.into()));
    }
    if !headers.iter().any(|(k, _)| k == "accept") {
        headers.push(("accept".into(), "*/*".into()));
    }
    let method = if req.method.is_empty() {
        CompactString::const_new("GET")
    } else {
        let mut m = CompactString::from(req.method.as_str());
        m.make_ascii_uppercase();
        m
    };
    let seed_key = seed_key(&req.from, &method, &req.url, &authority, &req.headers);
    let seed_hash = fnv64(&seed_key);
    let mut ctx = Ctx {
        mesh,
        full: detail == Detail::Full,
        // Most paths cross two to four proxies; a hop is large, so growing costs copies.
        hops: Vec::with_capacity(4),
        clock: seed_hash % 3_600_000,
        request_id: uuid_of_hash(seed_hash),
        seed_hash,
        seed_key,
        ports_used: 0,
        notes: Vec::new(),
        explanation: Vec::new(),
        cluster: None,
        backend: None,
        routed_service: None,
        upstream: None,
        split: Vec::new(),
        seed: req.seed,
        visited: Vec::new(),
        in_waypoint: false,
        client_ambient: false,
        cluster_not_found_code: 503,
        grpc: false,
    };
    // gRPC clients speak HTTP/2 with `content-type: application/grpc[+proto]`.
    ctx.grpc = headers
        .iter()
        .any(|(k, v)| k == "content-type" && v.starts_with("application/grpc"));
    // Where the client connects: the URL's host, or --connect-to's.
    let (dial_host, dial_port) = match &req.connect_to {
        Some(ct) => {
            let (h, p) = ct.rsplit_once(':').ok_or_else(|| {
                err(
                    format!("--connect-to {ct:?} has no port"),
                    "write HOST:PORT",
                )
            })?;
            let p: u16 = p.parse().map_err(|_| {
                err(
                    format!("--connect-to {ct:?}: invalid port"),
                    "write HOST:PORT",
                )
            })?;
            (CompactString::from(h.to_ascii_lowercase()), p)
        }
        None => (url.host.clone(), url.port),
    };
    let msg = Msg {
        method: method.clone(),
        sni: (url.scheme == "https").then_some(url.host),
        scheme: url.scheme,
        authority: authority.clone(),
        path: url.path,
        headers,
        protocol: if ctx.grpc { "HTTP/2" } else { "HTTP/1.1" },
        xff: None,
    };
    let client_ns = match client {
        Client::Pod(wi, _) => mesh.workloads[wi].namespace.clone(),
        Client::External => CompactString::default(),
    };
    if let Client::Pod(wi, _) = client {
        ctx.client_ambient = mesh.workloads[wi].proxy == ProxyKind::Ambient;
    }
    let resp = match ctx.resolve(&dial_host, &client_ns, client == Client::External) {
        None => {
            explain!(ctx, format!("{dial_host} does not resolve: no Service, ServiceEntry address, ingress host or internet name matches it (curl: Could not resolve host)"));
            Resp::local(0, "-", "dns_resolution_failed", Outcome::DnsFailure, 0)
        }
        Some(ip) => match client {
            Client::External => ctx.client_outside(ip, dial_port, msg),
            Client::Pod(wi, pi) => ctx.client_pod(wi, pi, ip, dial_port, msg),
        },
    };
    Ok(ctx.finish(req, &method, &authority, resp))
}

/// The text a trace's pseudo-random choices (clock, request id, ports, weighted picks) are
/// hashed from: `from|method|url|authority|headers`, the headers as Rust's `Debug` writes the
/// list.
fn seed_key(
    from: &str,
    method: &str,
    url: &str,
    authority: &str,
    headers: &[(String, String)],
) -> String {
    let mut out = cat!(from, '|', method, '|', url, '|', authority, "|[");
    for (i, (k, v)) in headers.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push('(');
        Quoted(k).push_to(&mut out);
        out.push_str(", ");
        Quoted(v).push_to(&mut out);
        out.push(')');
    }
    out.push(']');
    out
}

fn resolve_source(mesh: &Mesh, from: &str) -> Result<Client, RequestError> {
    let from = from.trim();
    if from.is_empty() || from == "external" || from == "outside" {
        return Ok(Client::External);
    }
    let (ns, name) = match from.split_once('/') {
        Some((n, m)) => (Some(n), m),
        None => (None, from),
    };
    // Workloads named so, else the first of their pods named so; in workload order.
    let in_ns = |wi: &usize| ns.is_none_or(|n| n == mesh.workloads[*wi].namespace);
    // The workloads an index lists under `name`, in the namespace if one is given.
    let listed = |index: &crate::model::HashMap<String, Vec<usize>>| -> Vec<(usize, usize)> {
        let list = index.get(name).map(Vec::as_slice).unwrap_or_default();
        list.iter()
            .copied()
            .filter(in_ns)
            .map(|wi| (wi, 0))
            .collect()
    };
    let mut found = listed(&mesh.workloads_by_name);
    for &(wi, pi) in mesh.pods_by_bare_name.get(name).into_iter().flatten() {
        if in_ns(&wi) && !found.iter().any(|&(w, _)| w == wi) {
            found.push((wi, pi));
        }
    }
    found.sort_unstable();
    found.dedup_by_key(|(wi, _)| *wi);
    // `curl` also names the `curl` app label, as `oc get pods -l app=curl` would.
    if found.is_empty() {
        found = listed(&mesh.workloads_by_app);
    }
    match found.len() {
        0 => Err(err(
            format!("no workload named {from:?}"),
            "name a Deployment or Pod as NAME or NAMESPACE/NAME (see 'meshsim get workloads'), or use 'external'",
        )),
        1 => {
            let (wi, pi) = found[0];
            if mesh.workloads[wi].pods.is_empty() {
                return Err(err(format!("workload {from:?} has no pods (replicas: 0)"), "scale it up, or pick another client"));
            }
            Ok(Client::Pod(wi, pi))
        }
        _ => {
            let names: Vec<String> = found.iter().map(|&(wi, _)| mesh.workloads[wi].display()).collect();
            Err(err(
                format!("{from:?} is ambiguous: {}", names.join(", ")),
                "qualify it with its namespace, e.g. NAMESPACE/NAME",
            ))
        }
    }
}

/// Names under the cluster domain, single labels and the TLDs reserved as never resolvable
/// (RFC 2606, RFC 6761) have no public DNS record.
fn public_name(host: &str) -> bool {
    const UNRESOLVABLE: &[&str] = &[
        ".cluster.local",
        ".svc",
        ".invalid",
        ".test",
        ".example",
        ".localhost",
        ".local",
        ".internal",
    ];
    host.contains('.') && !UNRESOLVABLE.iter().any(|t| host.ends_with(t))
}

fn fmt_ip(ip: Ipv4Addr, port: u16) -> CompactString {
    crate::text::socket_address(ip, port)
}

fn fmt_addr(addr: SocketAddrV4) -> CompactString {
    fmt_ip(*addr.ip(), addr.port())
}

impl<'m> Ctx<'m> {
    pub(super) fn now(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    pub(super) fn eph(&mut self) -> u16 {
        self.ports_used += 1;
        // The port of the seed `<seed_key>#<n>`, hashed on from the seed key's hash.
        let n = cat!('#', self.ports_used);
        ephemeral_port(fnv64_continue(self.seed_hash, n.as_bytes()))
    }

    // ------------------------------------------------------------ name resolution

    /// DNS as the client sees it. Returns the address, noting which rule applied.
    pub(super) fn resolve(
        &mut self,
        host: &str,
        client_ns: &str,
        external: bool,
    ) -> Option<Ipv4Addr> {
        let mesh = self.mesh;
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            note!(self, format!("{host} is an IP address"));
            return Some(ip);
        }
        let cands = if external {
            vhosts::service_candidates(host, "")
                .into_iter()
                .filter(|c| c == host || c.starts_with(host))
                .collect()
        } else {
            vhosts::service_candidates(host, client_ns)
        };
        for c in cands {
            if let Some(s) = mesh.service(&c) {
                if let Some(en) = &s.external_name {
                    note!(
                        self,
                        format!(
                            "{host} is ExternalName Service {} → CNAME {en}",
                            s.display()
                        )
                    );
                    let en = en.clone();
                    return self.resolve(&en, client_ns, external);
                }
                if external {
                    if let Some(ip) = s.external_ip {
                        note!(self, format!("{host} is Service {} ({}); from outside the cluster its LoadBalancer address {ip} is used", s.display(), s.type_));
                        return Some(ip);
                    }
                }
                match s.cluster_ip {
                    Some(ip) => {
                        note!(
                            self,
                            cat!(host, " resolved by Kubernetes DNS: Service ", s, " at ", ip)
                        );
                        return Some(ip);
                    }
                    None => {
                        let eps = mesh.endpoints(s, &Default::default());
                        if let Some(&(wi, pi)) = eps.first() {
                            let ip = mesh.workloads[wi].pods[pi].ip;
                            note!(
                                self,
                                format!(
                                    "{host} is headless Service {}: DNS returns pod address {ip}",
                                    s.display()
                                )
                            );
                            return Some(ip);
                        }
                        note!(
                            self,
                            format!(
                            "{host} is headless Service {} with no ready pods: DNS has no address",
                            s.display()
                        )
                        );
                        return None;
                    }
                }
            }
        }
        // A cloud load balancer's host name (a Service's `status.loadBalancer.ingress`).
        if let Some(&si) = mesh.service_by_external_hostname.get(host) {
            let s = &mesh.services[si];
            if let Some(ip) = s.external_ip.or(s.cluster_ip) {
                note!(
                    self,
                    format!(
                        "{host} is the load balancer of Service {}: it resolves to {ip}",
                        s.display()
                    )
                );
                return Some(ip);
            }
        }
        if let Some((n, ip)) = mesh.nodes().into_iter().find(|(n, _)| *n == host) {
            note!(self, format!("{host} is node {n} at {ip}"));
            return Some(ip);
        }
        // The OpenShift router's own Service, when Routes exist and the manifests do not
        // declare it.
        if !mesh.openshift_routes.is_empty() && host.starts_with("router-default.openshift-ingress")
        {
            let ip = mesh.router_ip;
            note!(
                self,
                format!("{host} is the OpenShift router (router-default): {ip}")
            );
            return Some(ip);
        }
        // In ambient mode ztunnel's DNS proxy answers for ServiceEntry hosts with the address
        // Istio allocated to them (240.240.0.0/16), so that the connection reaches ztunnel as
        // a service address.
        if self.client_ambient {
            if let Some(ip) = mesh.se_auto_vip.get(host) {
                note!(self, format!("{host} is a ServiceEntry host; ztunnel's DNS proxy answers with its allocated address {ip}"));
                return Some(*ip);
            }
        }
        // ServiceEntry hosts: their first address (Istio's DNS proxy answers with it); else a
        // MESH_EXTERNAL host is resolved by public DNS.
        for i in mesh.service_entries_for(host) {
            let se = &mesh.service_entries[i];
            if let Some(ip) = se
                .spec
                .addresses
                .iter()
                .find_map(|a| a.parse::<Ipv4Addr>().ok())
            {
                note!(
                    self,
                    cat!(
                        host,
                        " is ServiceEntry ",
                        se.namespace,
                        '/',
                        se.name,
                        " with address ",
                        ip
                    )
                );
                return Some(ip);
            }
        }
        if let Some(&i) = mesh.service_entries_for(host).first() {
            let se = &mesh.service_entries[i];
            if se.external() && public_name(host) {
                let ip = internet_ip(host);
                note!(
                    self,
                    cat!(
                        host,
                        " is a host of ServiceEntry ",
                        se.namespace,
                        '/',
                        se.name,
                        " (",
                        se.origin.pos(),
                        "); public DNS resolves it to ",
                        ip,
                        " (simulated)"
                    )
                );
                return Some(ip);
            }
        }
        // Hosts exposed by an ingress resolve to it, as a DNS record for them would.
        if let Some((ip, why)) = self.ingress_address(host, external) {
            note!(
                self,
                cat!(host, " is exposed by ", why, ": it resolves to ", ip)
            );
            return Some(ip);
        }
        if !public_name(host) {
            return None;
        }
        let ip = internet_ip(host);
        note!(
            self,
            cat!(
                host,
                " is not in the cluster: resolved by public DNS to ",
                ip,
                " (simulated)"
            )
        );
        Some(ip)
    }

    /// `text()` for a full trace; nothing for a verdict, which keeps no words.
    pub(super) fn words(&self, text: impl FnOnce() -> String) -> String {
        vhosts::words(self.full, text)
    }

    /// The address of an ingress (Istio Gateway server host, Gateway API listener or route
    /// hostname, OpenShift Route host) that exposes `host`, and what it is (in a full trace).
    pub(super) fn ingress_address(&self, host: &str, external: bool) -> Option<(Ipv4Addr, String)> {
        let mesh = self.mesh;
        let by_host = match mesh.openshift_routes.is_empty() {
            true => &[][..],
            false => {
                crate::model::listed(&mesh.openshift_routes_by_host, &host.to_ascii_lowercase())
            }
        };
        for r in by_host.iter().map(|&i| &mesh.openshift_routes[i]) {
            if r.spec.host.as_deref() == Some(host) {
                return Some((
                    mesh.router_ip,
                    self.words(|| {
                        cat!(
                            "OpenShift Route ",
                            r.namespace,
                            '/',
                            r.name,
                            " (the router)"
                        )
                    }),
                ));
            }
        }
        let svc_addr = |s: &Service| -> Option<Ipv4Addr> {
            s.external_ip.or(if external { None } else { s.cluster_ip })
        };
        // Candidates from the index by server host (exact, then any wildcard), in order.
        let mut candidates: Vec<usize> = mesh
            .istio_gateways_by_host
            .get(&host.to_ascii_lowercase())
            .into_iter()
            .flatten()
            .chain(&mesh.istio_gateway_wildcards)
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        for gi in candidates {
            let gw = &mesh.istio_gateways[gi];
            let exposes = gw.spec.servers.iter().any(|s| {
                s.hosts.iter().any(|h| {
                    let h = h.split_once('/').map(|x| x.1).unwrap_or(h);
                    h != "*" && crate::model::host_matches(h, host)
                })
            });
            if !exposes {
                continue;
            }
            for &wi in &mesh.workloads_by_istio_gateway[gi] {
                for &si in &mesh.services_by_workload[wi] {
                    if let Some(ip) = svc_addr(&mesh.services[si]) {
                        return Some((
                            ip,
                            self.words(|| {
                                cat!(
                                    "Gateway ",
                                    gw.namespace,
                                    '/',
                                    gw.name,
                                    " on Service ",
                                    mesh.services[si]
                                )
                            }),
                        ));
                    }
                }
            }
        }
        // A Gateway API Gateway of class `istio` exposes its listeners' hostnames and the
        // hostnames of the HTTPRoutes and GRPCRoutes Istio attached to it: those exposing the
        // host itself or a wildcard, from the model's index, in `gateways` order.
        let exposing = mesh.gateways_exposing(host);
        for gi in exposing {
            let gw = &mesh.gateways[gi];
            if let Some(s) = mesh.service(&cat!(
                gw.name,
                "-istio.",
                gw.namespace,
                '.',
                crate::model::DOMAIN
            )) {
                if let Some(ip) = svc_addr(s) {
                    return Some((
                        ip,
                        self.words(|| {
                            cat!("Gateway ", gw.namespace, '/', gw.name, " (Service ", s, ')')
                        }),
                    ));
                }
            }
        }
        None
    }

    // ------------------------------------------------------------ clients

    pub(super) fn client_outside(&mut self, ip: Ipv4Addr, port: u16, msg: Msg) -> Resp {
        let mesh = self.mesh;
        let remote = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 7), self.eph());
        if let Some(&si) = mesh.service_by_external_ip.get(&ip) {
            let s = &mesh.services[si];
            return self.via_service_vip(si, port, Conn::plain(remote), msg, || {
                cat!("LoadBalancer Service ", s)
            });
        }
        if ip == mesh.router_ip && !mesh.openshift_routes.is_empty() {
            return self.router(port, Conn::plain(remote), msg);
        }
        // A node's address and a node port: the NodePort (or LoadBalancer) Service behind it.
        if mesh.nodes().iter().any(|(_, n)| *n == ip) {
            if let Some(&si) = mesh.service_by_node_port.get(&port) {
                let s = &mesh.services[si];
                let sp = s
                    .ports
                    .iter()
                    .find(|p| p.node_port == Some(port))
                    .map(|p| p.port)
                    .unwrap_or(port);
                note!(
                    self,
                    format!(
                        "{ip}:{port} is a node port of Service {} (port {sp})",
                        s.display()
                    )
                );
                return self.via_service_vip(si, sp, Conn::plain(remote), msg, || {
                    format!("{} Service {} (node port {port})", s.type_, s.display())
                });
            }
            explain!(
                self,
                format!("no Service has node port {port}: the node refuses the connection")
            );
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        }
        if let Some(&si) = mesh.service_by_ip.get(&ip) {
            let s = &mesh.services[si];
            explain!(self, format!(
                "Service {} is of type {}: its address {ip} is reachable only inside the cluster, so a client outside gets no connection",
                s.display(),
                s.type_
            ));
            explain!(
                self,
                "expose it with type LoadBalancer, a NodePort, or an OpenShift Route".into()
            );
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        }
        if mesh.pod_by_ip.contains_key(&ip) {
            explain!(
                self,
                format!("{ip} is a pod address, reachable only inside the cluster")
            );
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        }
        self.internet(ip, port, None, msg)
    }

    pub(super) fn client_pod(
        &mut self,
        wi: usize,
        pi: usize,
        ip: Ipv4Addr,
        port: u16,
        msg: Msg,
    ) -> Resp {
        let w = &self.mesh.workloads[wi];
        match w.proxy {
            ProxyKind::Sidecar => self.sidecar_outbound(wi, pi, ip, port, msg),
            ProxyKind::Ambient => self.ztunnel_outbound(wi, pi, ip, port, msg),
            _ => {
                let remote = SocketAddrV4::new(w.pods[pi].ip, self.eph());
                note!(
                    self,
                    cat!(
                        "client ",
                        w,
                        " has no sidecar: it connects to ",
                        ip,
                        ':',
                        port,
                        " directly"
                    )
                );
                self.connect(ip, port, Conn::plain(remote), msg)
            }
        }
    }

    /// A plain connection to an address, as the kernel (and kube-proxy) would make it.
    pub(super) fn connect(&mut self, ip: Ipv4Addr, port: u16, conn: Conn, msg: Msg) -> Resp {
        let mesh = self.mesh;
        if let Some(&(wi, pi)) = mesh.pod_by_ip.get(&ip) {
            return self.deliver(wi, pi, port, conn, msg, None);
        }
        if let Some(&si) = mesh.service_by_ip.get(&ip) {
            let s = &mesh.services[si];
            return self.via_service_vip(si, port, conn, msg, || cat!("Service ", s));
        }
        if let Some(&si) = mesh.service_by_external_ip.get(&ip) {
            let s = &mesh.services[si];
            return self.via_service_vip(si, port, conn, msg, || cat!("LoadBalancer Service ", s));
        }
        if ip == mesh.router_ip && !mesh.openshift_routes.is_empty() {
            return self.router(port, conn, msg);
        }
        self.internet(ip, port, None, msg)
    }

    /// kube-proxy: a Service address and port to one ready pod and its target port. `what`
    /// names the address for the trace's words.
    pub(super) fn via_service_vip(
        &mut self,
        si: usize,
        port: u16,
        conn: Conn,
        msg: Msg,
        what: impl Fn() -> String,
    ) -> Resp {
        let mesh = self.mesh;
        let s = &mesh.services[si];
        let Some(sp) = s
            .ports
            .iter()
            .find(|p| p.port == port || (p.node_port == Some(port) && s.type_ == "NodePort"))
        else {
            let ports: Vec<String> = s.ports.iter().map(|p| p.port.to_string()).collect();
            explain!(
                self,
                format!(
                    "{} has no port {port} (ports: {}): the connection is refused",
                    what(),
                    ports.join(", ")
                )
            );
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        };
        let eps = mesh.endpoints(s, &Default::default());
        let Some(&(wi, pi)) = eps.first() else {
            explain!(
                self,
                format!(
                    "{} has no ready endpoints: the connection is refused",
                    what()
                )
            );
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        };
        let tp = target_port(&mesh.workloads[wi], sp.target.clone(), sp.port);
        note!(
            self,
            cat!(
                what(),
                " port ",
                port,
                " → pod ",
                mesh.workloads[wi].pods[pi].name,
                " port ",
                tp
            )
        );
        if self.routed_service.is_none() {
            self.routed_service = Some(Backend {
                kind: "Service",
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                workload: None,
            });
        }
        self.deliver(wi, pi, tp, conn, msg, Some(sp.protocol))
    }

    /// A connection arrives at a pod: its proxy (if any) takes it, else the application.
    pub(super) fn deliver(
        &mut self,
        wi: usize,
        pi: usize,
        port: u16,
        conn: Conn,
        msg: Msg,
        proto: Option<Protocol>,
    ) -> Resp {
        if self.hops.len() >= MAX_HOPS || self.visited.contains(&(wi, pi, port)) {
            let w = &self.mesh.workloads[wi];
            explain!(self, format!("the request came back to {} port {port}, which it had already passed: a routing loop", w.display()));
            return Resp::local(0, "-", "routing_loop", Outcome::RoutingLoop, 0);
        }
        self.visited.push((wi, pi, port));
        let proxy = self.mesh.workloads[wi].proxy;
        match proxy {
            ProxyKind::Sidecar => self.sidecar_inbound(wi, pi, port, conn, msg, proto),
            ProxyKind::Gateway => self.gateway(wi, pi, port, conn, msg),
            // Captured by ztunnel: plain traffic from outside the mesh is inbound passthrough.
            ProxyKind::Ambient => self.ztunnel_inbound(wi, pi, port, conn, None, msg),
            _ => self.app(wi, pi, port, msg),
        }
    }

    // ------------------------------------------------------------ the application

    pub(super) fn app(&mut self, wi: usize, pi: usize, port: u16, msg: Msg) -> Resp {
        let mesh = self.mesh;
        let w = &mesh.workloads[wi];
        self.clock += 1;
        let path_only = msg.path.split('?').next().unwrap_or("/");
        // httpbin answers /status/CODE with CODE, as the sample application does.
        let status = path_only
            .strip_prefix("/status/")
            .and_then(|c| c.split(['/', ',']).next())
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| (100..600).contains(c))
            .unwrap_or(200);
        let mut body = if status == 200 {
            200 + (msg.headers.len() as u64 * 40) + path_only.len() as u64
        } else {
            0
        };
        let mut status = status;
        let content_type = if self.grpc {
            "application/grpc"
        } else {
            "application/json"
        };
        let mut headers = vec![("content-type".to_string(), content_type.to_string())];
        let host = match &self.routed_service {
            Some(b) if b.kind == "Service" => {
                cat!(b.name, '.', b.namespace, '.', crate::model::DOMAIN)
            }
            _ => String::new(),
        };
        if let Some((r, rule)) = mesh.declared_response(&host, port, &msg.method, &msg.path) {
            status = rule.status;
            body = rule.body_bytes.unwrap_or(0);
            headers.extend(
                rule.headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
            );
            note!(
                self,
                format!(
                    "SimulatedResponse {}/{} ({}) declares this answer",
                    r.namespace,
                    r.name,
                    r.origin.pos()
                )
            );
        }
        let mut backend = self.routed_service.clone().unwrap_or(Backend {
            kind: "Workload",
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            workload: None,
        });
        backend.workload = Some(w.pods[pi].name.clone());
        self.backend = Some(backend);
        self.upstream = Some(msg.into_upstream());
        note!(
            self,
            cat!(
                "application ",
                w,
                " (pod ",
                w.pods[pi].name,
                ") answered on port ",
                port,
                " with ",
                status
            )
        );
        Resp {
            status,
            headers,
            body,
            decided: None,
        }
    }

    pub(super) fn internet(
        &mut self,
        ip: Ipv4Addr,
        port: u16,
        host: Option<&str>,
        msg: Msg,
    ) -> Resp {
        self.clock += 20;
        let host = host
            .map(str::to_string)
            .unwrap_or_else(|| crate::sim::route::strip_port(&msg.authority).to_string());
        let (status, headers, body) = match self.mesh.declared_response(
            &host,
            port,
            &msg.method,
            &msg.path,
        ) {
            Some((r, rule)) => {
                note!(self, format!(
                    "{host} ({ip}:{port}) is outside the mesh; SimulatedResponse {}/{} ({}) says it answers {}",
                    r.namespace,
                    r.name,
                    r.origin.pos(),
                    rule.status
                ));
                let mut h = vec![("content-type".to_string(), "text/html".to_string())];
                h.extend(
                    rule.headers
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
                );
                (rule.status, h, rule.body_bytes.unwrap_or(0))
            }
            None => {
                note!(
                    self,
                    cat!(
                        host,
                        " (",
                        ip,
                        ':',
                        port,
                        ") is outside the mesh; it answers 200 (simulated)"
                    )
                );
                (
                    200,
                    vec![("content-type".to_string(), "text/html".to_string())],
                    1256,
                )
            }
        };
        if self.backend.is_none() {
            self.backend = Some(self.routed_service.clone().unwrap_or(Backend {
                kind: "External",
                namespace: CompactString::default(),
                name: host.clone().into(),
                workload: None,
            }));
        }
        self.upstream = Some(msg.into_upstream());
        Resp {
            status,
            headers,
            body,
            decided: None,
        }
    }

    // ------------------------------------------------------------ hops

    pub(super) fn push_hop(
        &mut self,
        kind: HopKind,
        wi: usize,
        pi: usize,
        direction: &'static str,
    ) -> usize {
        let w = &self.mesh.workloads[wi];
        let (ns, name, pod) = (w.namespace.clone(), w.name.clone(), w.pods[pi].name.clone());
        self.push_named_hop(kind, ns, name, pod, direction)
    }

    /// A hop of a proxy that is not a workload of the manifests (the OpenShift router, ztunnel).
    pub(super) fn push_named_hop(
        &mut self,
        kind: HopKind,
        namespace: CompactString,
        name: CompactString,
        pod: CompactString,
        direction: &'static str,
    ) -> usize {
        self.hops.push(Hop {
            kind,
            namespace,
            name,
            pod,
            direction,
            decision: String::new(),
            steps: Vec::new(),
            envoy_log: None,
            ztunnel_log: None,
            access_log: None,
            replied: false,
        });
        self.hops.len() - 1
    }

    /// The local end of a connection the proxy of the pod at `pod_ip` opens to `upstream`:
    /// the pod's address and a fresh ephemeral port. A full trace writes both ends into the
    /// proxy's access-log record.
    pub(super) fn upstream_from(
        &mut self,
        log: &mut EnvoyLog,
        pod_ip: Ipv4Addr,
        upstream: (Ipv4Addr, u16),
    ) -> SocketAddrV4 {
        let local = SocketAddrV4::new(pod_ip, self.eph());
        if self.full {
            log.upstream_host = Some(fmt_ip(upstream.0, upstream.1));
            log.upstream_local_address = Some(fmt_addr(local));
        }
        local
    }

    /// The request fields every HTTP access-log line shares, for a hop that started at `start`
    /// on a connection from `remote` to `local`.
    pub(super) fn request_log(
        &self,
        msg: &Msg,
        start: u64,
        local: (Ipv4Addr, u16),
        remote: SocketAddrV4,
    ) -> EnvoyLog {
        if !self.full {
            // A verdict keeps no log record (see `finish`): the addresses are not written.
            return EnvoyLog::default();
        }
        let (local, remote) = (fmt_ip(local.0, local.1), fmt_addr(remote));
        EnvoyLog {
            start_ms: start,
            method: msg.method.clone(),
            path: msg.path.clone(),
            protocol: msg.protocol.into(),
            user_agent: msg.header("user-agent").map(CompactString::from),
            request_id: Some(self.request_id.as_str().into()),
            authority: Some(msg.authority.clone()),
            downstream_local_address: local,
            downstream_remote_address: remote,
            ..Default::default()
        }
    }

    pub(super) fn push_step(
        &mut self,
        hop: usize,
        stage: &'static str,
        result: impl Into<String>,
        tried: Vec<Tried>,
    ) {
        self.hops[hop].steps.push(Step {
            stage,
            result: result.into(),
            tried,
        });
    }

    pub(super) fn finish_envoy(&mut self, hop: usize, mut log: EnvoyLog, resp: &Resp, start: u64) {
        let end = self.clock + 1;
        self.clock = end;
        let decided_here = resp.decided.is_some() && !self.decided_below(hop);
        if !self.full {
            // A verdict keeps no log record; it needs only to know which hop answered.
            self.hops[hop].replied = decided_here;
            return;
        }
        log.response_code = grpc_status(self.grpc, resp)
            .map(|_| 200)
            .unwrap_or(resp.status);
        let (flags, details) = match (&resp.decided, decided_here) {
            (Some((f, d, _)), true) => (*f, *d),
            _ => (
                "-",
                if resp.status == 0 {
                    "-"
                } else {
                    "via_upstream"
                },
            ),
        };
        if decided_here {
            self.hops[hop].replied = true;
            step!(
                self,
                hop,
                "reply",
                cat!(resp.status, ' ', flags, ' ', details),
                vec![]
            );
        }
        log.response_flags = flags.into();
        log.response_code_details = if log.tcp { "-" } else { details }.into();
        if log.tcp {
            log.response_code = 0;
        }
        log.bytes_sent = resp.body;
        log.duration = end - start;
        log.upstream_service_time = if decided_here {
            None
        } else {
            Some((end - start).saturating_sub(1))
        };
        if log.tcp {
            log.upstream_service_time = None;
            if decided_here {
                log.bytes_sent = 0;
            } else {
                log.bytes_received = 78;
            }
        }
        self.hops[hop].envoy_log = Some(log);
    }

    /// True when a later hop already decided the response (so this hop relays it).
    pub(super) fn decided_below(&self, hop: usize) -> bool {
        self.hops[hop + 1..].iter().any(|h| h.replied)
    }

    pub(super) fn finish(
        mut self,
        req: &Request,
        method: &str,
        authority: &str,
        resp: Resp,
    ) -> Trace {
        let mut resp = resp;
        if let Some(code) = grpc_status(self.grpc, &resp) {
            // Envoy answers a gRPC request's local reply as gRPC: HTTP 200 with the status in
            // `grpc-status` (`Grpc::Utility::httpToGrpcStatus`).
            note!(self, format!(
                "the request is gRPC: Envoy turns its {} local reply into 200 with grpc-status {code}",
                resp.status
            ));
            resp.status = 200;
            resp.headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
            resp.headers
                .push(("content-type".into(), "application/grpc".into()));
            resp.headers.push(("grpc-status".into(), code.to_string()));
        }
        let (flags, details, outcome) = match resp.decided.take() {
            Some(decided) => decided,
            None => ("-", "via_upstream", Outcome::Served),
        };
        if outcome != Outcome::Served {
            self.backend = None;
        }
        let mut response_headers: std::collections::BTreeMap<String, String> = resp
            .headers
            .into_iter()
            .map(|(mut k, v)| {
                k.make_ascii_lowercase();
                (k, v)
            })
            .collect();
        if !self.hops.is_empty() && resp.status != 0 {
            response_headers.insert("server".into(), "istio-envoy".into());
        }
        if !self.mesh.settings.access_log && !self.hops.is_empty() {
            note!(self, "access logging is off (meshConfig.accessLogFile is empty): proxies print no access-log lines; the lines shown are what they would print with accessLogFile: /dev/stdout");
        }
        if !self.full {
            // The log records are the material of the access-log lines, which a verdict leaves
            // out (ztunnel's error field quotes the explanation).
            for hop in &mut self.hops {
                hop.envoy_log = None;
                hop.ztunnel_log = None;
            }
        } else {
            let json = self.mesh.settings.access_log_encoding_json;
            for hop in &mut self.hops {
                if let Some(z) = &hop.ztunnel_log {
                    hop.access_log = Some(crate::render::log::ztunnel_line(z));
                }
                if let Some(l) = &hop.envoy_log {
                    hop.access_log = Some(crate::render::log::envoy_line(l, json));
                }
            }
        }
        Trace {
            schema: 1,
            request: TraceRequest {
                from: req.from.clone(),
                method: method.to_string(),
                url: req.url.clone(),
                authority: authority.to_string(),
                headers: req
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect(),
            },
            status: resp.status,
            flags: flags.into(),
            details: details.into(),
            outcome,
            backend: self.backend,
            cluster: self.cluster,
            upstream_request: self.upstream,
            response: Response {
                status: resp.status,
                headers: response_headers,
            },
            hops: self.hops,
            notes: self.notes,
            explanation: self.explanation,
            split: self.split,
        }
    }
}

/// The gRPC status Envoy sends instead of a local reply's HTTP status to a gRPC client
/// (`Grpc::Utility::httpToGrpcStatus`), or None when the response is not such a reply.
fn grpc_status(grpc: bool, resp: &Resp) -> Option<u32> {
    if !grpc || resp.decided.is_none() || resp.status < 300 {
        return None;
    }
    Some(match resp.status {
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502..=504 => 14,
        _ => 2,
    })
}

fn msg_original_ip(_msg: &Msg) -> Option<Ipv4Addr> {
    None
}

/// The pod port a Service target port names: a number, or a container port's name.
fn target_port(w: &Workload, t: TargetPort, service_port: u16) -> u16 {
    match t {
        TargetPort::Number(n) => n,
        TargetPort::Name(name) => w
            .container_ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str()))
            .map(|p| p.container_port)
            .unwrap_or(service_port),
    }
}

#[cfg(test)]
mod seed_tests {
    use super::seed_key;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_seed_key_is_what_format_writes(
            from in "[a-z/]{0,12}",
            url in "\\PC{0,20}",
            headers in proptest::collection::vec(("[ -~]{0,8}", "(\\PC|[\"\\\\\t]){0,8}"), 0..4),
        ) {
            let want = format!("{}|{}|{}|{}|{:?}", from, "GET", url, "a:1", headers);
            prop_assert_eq!(seed_key(&from, "GET", &url, "a:1", &headers), want);
        }
    }
}
