//! The walk itself: client → proxies → application, recording a hop per proxy.

use super::request::{err, parse_url, Url};
use super::route::*;
use super::vhosts::{self, Scope, ServerRef};
use super::*;
use crate::model::addr::{ephemeral_port, fnv64, internet_ip, uuid};
use crate::model::protocol::Protocol;
use crate::model::{Mesh, OutboundPolicy, ProxyKind, Service, TargetPort, Workload};
use std::net::Ipv4Addr;

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
    method: String,
    scheme: String,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
    /// Protocol on the current connection.
    protocol: &'static str,
    xff: Option<String>,
}

impl Msg {
    fn header(&self, name: &str) -> Option<&str> {
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
    decided: Option<(String, String, Outcome)>,
}

impl Resp {
    fn local(status: u16, flags: &str, details: &str, outcome: Outcome, body: u64) -> Resp {
        Resp {
            status,
            headers: vec![],
            body,
            decided: Some((flags.to_string(), details.to_string(), outcome)),
        }
    }
}

/// The downstream side of a connection into a hop.
#[derive(Debug, Clone)]
struct Conn {
    remote: String,
    /// SNI when the caller is a mesh proxy speaking mTLS.
    sni: Option<String>,
    from_mesh: bool,
}

struct Ctx<'m> {
    mesh: &'m Mesh,
    hops: Vec<Hop>,
    clock: u64,
    request_id: String,
    user_agent: Option<String>,
    seed_key: String,
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
}

pub fn trace(mesh: &Mesh, req: &Request) -> Result<Trace, RequestError> {
    let client = resolve_source(mesh, &req.from)?;
    let url = parse_url(&req.url)?;
    let default_port = if url.scheme == "https" { 443 } else { 80 };
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut authority = if url.explicit_port && url.port != default_port {
        format!("{}:{}", url.host, url.port)
    } else {
        url.host.clone()
    };
    for (k, v) in &req.headers {
        if k.eq_ignore_ascii_case("host") {
            authority = v.trim().to_string();
        } else {
            headers.push((k.to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let user_agent = match headers.iter().find(|(k, _)| k == "user-agent") {
        Some((_, v)) => Some(v.clone()),
        None => {
            headers.push(("user-agent".into(), DEFAULT_USER_AGENT.into()));
            Some(DEFAULT_USER_AGENT.to_string())
        }
    };
    if !headers.iter().any(|(k, _)| k == "accept") {
        headers.push(("accept".into(), "*/*".into()));
    }
    let method = if req.method.is_empty() {
        "GET".to_string()
    } else {
        req.method.to_ascii_uppercase()
    };
    let seed_key = format!(
        "{}|{}|{}|{}|{:?}",
        req.from, method, req.url, authority, req.headers
    );
    let mut ctx = Ctx {
        mesh,
        hops: Vec::new(),
        clock: fnv64(&seed_key) % 3_600_000,
        request_id: uuid(&seed_key),
        user_agent,
        seed_key: seed_key.clone(),
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
    };
    let msg = Msg {
        method: method.clone(),
        scheme: url.scheme.clone(),
        authority: authority.clone(),
        path: url.path.clone(),
        headers,
        protocol: "HTTP/1.1",
        xff: None,
    };
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
            (h.to_ascii_lowercase(), p)
        }
        None => (url.host.clone(), url.port),
    };
    let client_ns = match client {
        Client::Pod(wi, _) => mesh.workloads[wi].namespace.clone(),
        Client::External => String::new(),
    };
    let resp = match ctx.resolve(&dial_host, &client_ns, client == Client::External) {
        None => {
            ctx.explanation.push(format!("{dial_host} does not resolve: no Service, ServiceEntry address, ingress host or internet name matches it (curl: Could not resolve host)"));
            Resp::local(0, "-", "dns_resolution_failed", Outcome::DnsFailure, 0)
        }
        Some(ip) => match client {
            Client::External => ctx.from_outside(ip, dial_port, msg),
            Client::Pod(wi, pi) => ctx.from_pod(wi, pi, ip, dial_port, &url, msg),
        },
    };
    Ok(ctx.finish(req, &method, &authority, resp))
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
    let mut found: Vec<(usize, usize)> = Vec::new();
    for (wi, w) in mesh.workloads.iter().enumerate() {
        if ns.is_some_and(|n| n != w.namespace) {
            continue;
        }
        if w.name == name {
            found.push((wi, 0));
        } else if let Some(pi) = w.pods.iter().position(|p| p.name == name) {
            found.push((wi, pi));
        }
    }
    // `curl` also names the `curl` app label, as `oc get pods -l app=curl` would.
    if found.is_empty() {
        for (wi, w) in mesh.workloads.iter().enumerate() {
            if ns.is_none_or(|n| n == w.namespace) && w.labels.get("app").is_some_and(|a| a == name)
            {
                found.push((wi, 0));
            }
        }
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

fn fmt_ip(ip: Ipv4Addr, port: u16) -> String {
    format!("{ip}:{port}")
}

impl<'m> Ctx<'m> {
    fn now(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn eph(&mut self) -> u16 {
        self.ports_used += 1;
        ephemeral_port(&format!("{}#{}", self.seed_key, self.ports_used))
    }

    fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    // ------------------------------------------------------------ name resolution

    /// DNS as the client sees it. Returns the address, noting which rule applied.
    fn resolve(&mut self, host: &str, client_ns: &str, external: bool) -> Option<Ipv4Addr> {
        let mesh = self.mesh;
        if let Ok(ip) = host.parse::<Ipv4Addr>() {
            self.note(format!("{host} is an IP address"));
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
                    self.note(format!(
                        "{host} is ExternalName Service {} → CNAME {en}",
                        s.display()
                    ));
                    let en = en.clone();
                    return self.resolve(&en, client_ns, external);
                }
                if external {
                    if let Some(ip) = s.external_ip {
                        self.note(format!("{host} is Service {} ({}); from outside the cluster its LoadBalancer address {ip} is used", s.display(), s.type_));
                        return Some(ip);
                    }
                }
                match s.cluster_ip {
                    Some(ip) => {
                        self.note(format!(
                            "{host} resolved by Kubernetes DNS: Service {} at {ip}",
                            s.display()
                        ));
                        return Some(ip);
                    }
                    None => {
                        let eps = mesh.endpoints(s, &Default::default());
                        if let Some(&(wi, pi)) = eps.first() {
                            let ip = mesh.workloads[wi].pods[pi].ip;
                            self.note(format!(
                                "{host} is headless Service {}: DNS returns pod address {ip}",
                                s.display()
                            ));
                            return Some(ip);
                        }
                        self.note(format!(
                            "{host} is headless Service {} with no ready pods: DNS has no address",
                            s.display()
                        ));
                        return None;
                    }
                }
            }
        }
        if let Some(&i) = mesh.se_by_address.get(host) {
            let _ = i;
        }
        // ServiceEntry hosts: their first address (Istio's DNS proxy answers with it), else DNS.
        for i in mesh.service_entries_for(host) {
            let se = &mesh.service_entries[i];
            if let Some(ip) = se
                .spec
                .addresses
                .iter()
                .find_map(|a| a.parse::<Ipv4Addr>().ok())
            {
                self.note(format!(
                    "{host} is ServiceEntry {}/{} with address {ip}",
                    se.namespace, se.name
                ));
                return Some(ip);
            }
        }
        // Hosts exposed by an ingress resolve to it, as a DNS record for them would.
        if let Some((ip, why)) = self.ingress_address(host, external) {
            self.note(format!("{host} is exposed by {why}: it resolves to {ip}"));
            return Some(ip);
        }
        if host.ends_with(".cluster.local") || host.ends_with(".svc") || !host.contains('.') {
            return None;
        }
        let ip = internet_ip(host);
        self.note(format!(
            "{host} is not in the cluster: resolved by public DNS to {ip} (simulated)"
        ));
        Some(ip)
    }

    /// The address of an ingress (Istio Gateway server host, Gateway API listener or route
    /// hostname, OpenShift Route host) that exposes `host`.
    fn ingress_address(&self, host: &str, external: bool) -> Option<(Ipv4Addr, String)> {
        let mesh = self.mesh;
        for r in &mesh.openshift_routes {
            if r.spec.host.as_deref() == Some(host) {
                return Some((
                    mesh.router_ip,
                    format!("OpenShift Route {}/{} (the router)", r.namespace, r.name),
                ));
            }
        }
        let svc_addr = |s: &Service| -> Option<Ipv4Addr> {
            s.external_ip.or(if external { None } else { s.cluster_ip })
        };
        for gw in &mesh.istio_gateways {
            let exposes = gw.spec.servers.iter().any(|s| {
                s.hosts.iter().any(|h| {
                    let h = h.split_once('/').map(|x| x.1).unwrap_or(h);
                    h != "*" && crate::model::host_matches(h, host)
                })
            });
            if !exposes {
                continue;
            }
            for (wi, _) in mesh.gateway_workloads() {
                if vhosts::gateway_selects(gw, mesh, wi) {
                    for si in mesh.services_of_workload(wi) {
                        if let Some(ip) = svc_addr(&mesh.services[si]) {
                            return Some((
                                ip,
                                format!(
                                    "Gateway {}/{} on Service {}",
                                    gw.namespace,
                                    gw.name,
                                    mesh.services[si].display()
                                ),
                            ));
                        }
                    }
                }
            }
        }
        for gw in &mesh.gateways {
            if gw.spec.gateway_class_name != "istio" {
                continue;
            }
            let mut exposes = gw.spec.listeners.iter().any(|l| {
                l.hostname
                    .as_deref()
                    .is_some_and(|h| crate::model::host_matches(h, host))
            });
            if !exposes {
                exposes = mesh.http_routes.iter().any(|r| {
                    r.spec
                        .hostnames
                        .iter()
                        .any(|h| crate::model::host_matches(h, host))
                        && r.spec.parent_refs.iter().any(|p| {
                            p.name == gw.name
                                && p.namespace.as_deref().unwrap_or(&r.namespace) == gw.namespace
                                && p.kind.as_deref().unwrap_or("Gateway") == "Gateway"
                        })
                });
            }
            if exposes {
                if let Some(s) = mesh.service(&format!(
                    "{}-istio.{}.{}",
                    gw.name,
                    gw.namespace,
                    crate::model::DOMAIN
                )) {
                    if let Some(ip) = svc_addr(s) {
                        return Some((
                            ip,
                            format!(
                                "Gateway {}/{} (Service {})",
                                gw.namespace,
                                gw.name,
                                s.display()
                            ),
                        ));
                    }
                }
            }
        }
        None
    }

    // ------------------------------------------------------------ clients

    fn from_outside(&mut self, ip: Ipv4Addr, port: u16, msg: Msg) -> Resp {
        let mesh = self.mesh;
        let remote = format!("198.51.100.7:{}", self.eph());
        if let Some(&si) = mesh.service_by_external_ip.get(&ip) {
            let s = &mesh.services[si];
            return self.to_service_vip(
                si,
                port,
                Conn {
                    remote,
                    sni: None,
                    from_mesh: false,
                },
                msg,
                &format!("LoadBalancer Service {}", s.display()),
            );
        }
        if ip == mesh.router_ip && !mesh.openshift_routes.is_empty() {
            return self.router(
                port,
                Conn {
                    remote,
                    sni: None,
                    from_mesh: false,
                },
                msg,
            );
        }
        if let Some(&si) = mesh.service_by_ip.get(&ip) {
            let s = &mesh.services[si];
            if s.type_ == "NodePort" {
                return self.to_service_vip(
                    si,
                    port,
                    Conn {
                        remote,
                        sni: None,
                        from_mesh: false,
                    },
                    msg,
                    &format!("NodePort Service {}", s.display()),
                );
            }
            self.explanation.push(format!(
                "Service {} is of type {}: its address {ip} is reachable only inside the cluster, so a client outside gets no connection",
                s.display(),
                s.type_
            ));
            self.explanation
                .push("expose it with type LoadBalancer, a NodePort, or an OpenShift Route".into());
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        }
        if mesh.pod_by_ip.contains_key(&ip) {
            self.explanation.push(format!(
                "{ip} is a pod address, reachable only inside the cluster"
            ));
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        }
        self.internet(ip, port, None, msg)
    }

    fn from_pod(
        &mut self,
        wi: usize,
        pi: usize,
        ip: Ipv4Addr,
        port: u16,
        url: &Url,
        msg: Msg,
    ) -> Resp {
        let w = &self.mesh.workloads[wi];
        let _ = url;
        match w.proxy {
            ProxyKind::Sidecar => self.sidecar_outbound(wi, pi, ip, port, msg),
            _ => {
                let remote = fmt_ip(w.pods[pi].ip, self.eph());
                self.note(format!(
                    "client {} has no sidecar: it connects to {ip}:{port} directly",
                    w.display()
                ));
                self.connect(
                    ip,
                    port,
                    Conn {
                        remote,
                        sni: None,
                        from_mesh: false,
                    },
                    msg,
                )
            }
        }
    }

    /// A plain connection to an address, as the kernel (and kube-proxy) would make it.
    fn connect(&mut self, ip: Ipv4Addr, port: u16, conn: Conn, msg: Msg) -> Resp {
        let mesh = self.mesh;
        if let Some(&(wi, pi)) = mesh.pod_by_ip.get(&ip) {
            return self.deliver(wi, pi, port, conn, msg, None);
        }
        if let Some(&si) = mesh.service_by_ip.get(&ip) {
            let s = &mesh.services[si];
            return self.to_service_vip(si, port, conn, msg, &format!("Service {}", s.display()));
        }
        if let Some(&si) = mesh.service_by_external_ip.get(&ip) {
            let s = &mesh.services[si];
            return self.to_service_vip(
                si,
                port,
                conn,
                msg,
                &format!("LoadBalancer Service {}", s.display()),
            );
        }
        if ip == mesh.router_ip && !mesh.openshift_routes.is_empty() {
            return self.router(port, conn, msg);
        }
        self.internet(ip, port, None, msg)
    }

    /// kube-proxy: a Service address and port to one ready pod and its target port.
    fn to_service_vip(&mut self, si: usize, port: u16, conn: Conn, msg: Msg, what: &str) -> Resp {
        let mesh = self.mesh;
        let s = &mesh.services[si];
        let Some(sp) = s
            .ports
            .iter()
            .find(|p| p.port == port || (p.node_port == Some(port) && s.type_ == "NodePort"))
        else {
            let ports: Vec<String> = s.ports.iter().map(|p| p.port.to_string()).collect();
            self.explanation.push(format!(
                "{what} has no port {port} (ports: {}): the connection is refused",
                ports.join(", ")
            ));
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        };
        let eps = mesh.endpoints(s, &Default::default());
        let Some(&(wi, pi)) = eps.first() else {
            self.explanation.push(format!(
                "{what} has no ready endpoints: the connection is refused"
            ));
            return Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
        };
        let tp = target_port(&mesh.workloads[wi], sp.target.clone(), sp.port);
        self.note(format!(
            "{what} port {port} → pod {} port {tp}",
            mesh.workloads[wi].pods[pi].name
        ));
        if self.routed_service.is_none() {
            self.routed_service = Some(Backend {
                kind: "Service".into(),
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                workload: None,
            });
        }
        self.deliver(wi, pi, tp, conn, msg, Some(sp.protocol))
    }

    /// A connection arrives at a pod: its proxy (if any) takes it, else the application.
    fn deliver(
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
            self.explanation.push(format!("the request came back to {} port {port}, which it had already passed: a routing loop", w.display()));
            return Resp::local(0, "-", "routing_loop", Outcome::RoutingLoop, 0);
        }
        self.visited.push((wi, pi, port));
        let proxy = self.mesh.workloads[wi].proxy;
        match proxy {
            ProxyKind::Sidecar => self.sidecar_inbound(wi, pi, port, conn, msg, proto),
            ProxyKind::Gateway => self.gateway(wi, pi, port, conn, msg),
            _ => self.app(wi, pi, port, msg),
        }
    }

    // ------------------------------------------------------------ the application

    fn app(&mut self, wi: usize, pi: usize, port: u16, msg: Msg) -> Resp {
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
        let body = if status == 200 {
            200 + (msg.headers.len() as u64 * 40) + path_only.len() as u64
        } else {
            0
        };
        let mut backend = self.routed_service.clone().unwrap_or(Backend {
            kind: "Workload".into(),
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            workload: None,
        });
        backend.workload = Some(w.pods[pi].name.clone());
        self.backend = Some(backend);
        self.upstream = Some(UpstreamRequest {
            method: msg.method.clone(),
            scheme: msg.scheme.clone(),
            authority: msg.authority.clone(),
            path: msg.path.clone(),
            headers: msg
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        });
        self.note(format!(
            "application {} (pod {}) answered on port {port} with {status}",
            w.display(),
            w.pods[pi].name
        ));
        Resp {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
            decided: None,
        }
    }

    fn internet(&mut self, ip: Ipv4Addr, port: u16, host: Option<&str>, msg: Msg) -> Resp {
        self.clock += 20;
        let host = host
            .map(str::to_string)
            .unwrap_or_else(|| crate::sim::route::strip_port(&msg.authority).to_string());
        self.note(format!(
            "{host} ({ip}:{port}) is outside the mesh; it answers 200 (simulated)"
        ));
        if self.backend.is_none() {
            self.backend = Some(self.routed_service.clone().unwrap_or(Backend {
                kind: "External".into(),
                namespace: String::new(),
                name: host.clone(),
                workload: None,
            }));
        }
        self.upstream = Some(UpstreamRequest {
            method: msg.method.clone(),
            scheme: msg.scheme.clone(),
            authority: msg.authority.clone(),
            path: msg.path.clone(),
            headers: msg
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        });
        Resp {
            status: 200,
            headers: vec![("content-type".into(), "text/html".into())],
            body: 1256,
            decided: None,
        }
    }

    // ------------------------------------------------------------ hops

    fn push_hop(&mut self, kind: HopKind, wi: usize, pi: usize, direction: &str) -> usize {
        let w = &self.mesh.workloads[wi];
        self.hops.push(Hop {
            kind,
            namespace: w.namespace.clone(),
            name: w.name.clone(),
            pod: w.pods[pi].name.clone(),
            direction: direction.to_string(),
            decision: String::new(),
            steps: Vec::new(),
            envoy_log: None,
            ztunnel_log: None,
            access_log: None,
        });
        self.hops.len() - 1
    }

    fn step(&mut self, hop: usize, stage: &str, result: impl Into<String>, tried: Vec<Tried>) {
        self.hops[hop].steps.push(Step {
            stage: stage.to_string(),
            result: result.into(),
            tried,
        });
    }

    fn sidecar_outbound(
        &mut self,
        wi: usize,
        pi: usize,
        ip: Ipv4Addr,
        port: u16,
        msg: Msg,
    ) -> Resp {
        let mesh = self.mesh;
        let w = &mesh.workloads[wi];
        let hop = self.push_hop(HopKind::Sidecar, wi, pi, "outbound");
        let start = self.now();
        let pod_ip = w.pods[pi].ip;
        let client_remote = fmt_ip(pod_ip, self.eph());
        let scope = Scope::for_workload(mesh, &w.namespace, &w.labels);
        if let Some(s) = &scope.sidecar {
            self.step(
                hop,
                "scope",
                format!("{s} limits what this sidecar sees"),
                vec![],
            );
        }
        let dst_local = fmt_ip(ip, port);
        let mut log = EnvoyLog {
            start_ms: start,
            method: msg.method.clone(),
            path: msg.path.clone(),
            protocol: msg.protocol.to_string(),
            user_agent: msg.header("user-agent").map(str::to_string),
            request_id: Some(self.request_id.clone()),
            authority: Some(msg.authority.clone()),
            downstream_local_address: dst_local.clone(),
            downstream_remote_address: client_remote.clone(),
            ..Default::default()
        };
        // Listener: a Service VIP's own listener, else the wildcard HTTP listener of the port,
        // else the passthrough chain.
        let vip_service = mesh.service_by_ip.get(&ip).copied().filter(|&si| {
            let s = &mesh.services[si];
            s.port(port).is_some()
                && scope.sees_host(port, &s.namespace, &s.hostname)
                && vhosts::service_exported(mesh, &s.hostname, &w.namespace)
        });
        let vip_proto = vip_service
            .and_then(|si| mesh.services[si].port(port))
            .map(|p| p.protocol);
        let http = match vip_proto {
            Some(p) => p.is_http() || p == Protocol::Unknown,
            None => vhosts::has_wildcard_http_listener(mesh, &scope, port),
        };
        if !http {
            if let Some(si) = vip_service {
                let s = &mesh.services[si];
                self.step(
                    hop,
                    "listener",
                    format!(
                        "{dst_local}: TCP proxy for Service {} (port {port} is {})",
                        s.display(),
                        vip_proto.map(|p| p.as_str()).unwrap_or("TCP")
                    ),
                    vec![],
                );
                let cluster = format!("outbound|{port}||{}", s.hostname);
                return self.tcp_to_service(hop, si, port, cluster, log, pod_ip, msg);
            }
            // No listener: the virtual outbound listener's passthrough chain.
            log.tcp = true;
            return match scope.policy {
                OutboundPolicy::AllowAny => {
                    self.step(
                        hop,
                        "listener",
                        format!(
                            "no listener for {dst_local}: passthrough (ALLOW_ANY, set by {})",
                            scope.policy_source
                        ),
                        vec![],
                    );
                    self.cluster = Some("PassthroughCluster".into());
                    log.upstream_cluster = Some("PassthroughCluster".into());
                    log.upstream_host = Some(dst_local.clone());
                    let local = fmt_ip(pod_ip, self.eph());
                    log.upstream_local_address = Some(local.clone());
                    self.hops[hop].decision = format!("TCP passthrough to {dst_local}");
                    let resp = self.connect(
                        ip,
                        port,
                        Conn {
                            remote: local,
                            sni: None,
                            from_mesh: false,
                        },
                        msg,
                    );
                    self.finish_envoy(hop, log, &resp, start);
                    resp
                }
                OutboundPolicy::RegistryOnly => {
                    self.step(hop, "listener", format!("no listener for {dst_local}: BlackHoleCluster (REGISTRY_ONLY, set by {})", scope.policy_source), vec![]);
                    self.cluster = Some("BlackHoleCluster".into());
                    log.upstream_cluster = Some("BlackHoleCluster".into());
                    self.explanation.push(format!(
                        "{dst_local} is not a known Service port and the outbound traffic policy is REGISTRY_ONLY ({}): the sidecar sends the connection to BlackHoleCluster, which closes it",
                        scope.policy_source
                    ));
                    self.explanation.push("declare the destination with a ServiceEntry, or allow it in the Sidecar's egress hosts".into());
                    self.hops[hop].decision = "BlackHoleCluster: connection closed".into();
                    let resp = Resp::local(0, "UH", "-", Outcome::ConnectionFailed, 0);
                    self.finish_envoy(hop, log, &resp, start);
                    resp
                }
            };
        }
        self.step(
            hop,
            "listener",
            match vip_service {
                Some(si) => format!(
                    "{dst_local}: HTTP route configuration \"{port}\" (Service {})",
                    mesh.services[si].display()
                ),
                None => format!("0.0.0.0:{port}: HTTP route configuration \"{port}\""),
            },
            vec![],
        );
        let vhs = vhosts::sidecar_vhosts(mesh, &scope, port, &msg.authority);
        self.route_http(
            hop,
            vhs,
            port,
            &["mesh".to_string()],
            log,
            pod_ip,
            Some((ip, port)),
            msg,
            start,
            &w.labels.clone(),
            &w.namespace.clone(),
            false,
        )
    }

    fn tcp_to_service(
        &mut self,
        hop: usize,
        si: usize,
        port: u16,
        cluster: String,
        mut log: EnvoyLog,
        pod_ip: Ipv4Addr,
        msg: Msg,
    ) -> Resp {
        let mesh = self.mesh;
        let s = &mesh.services[si];
        let start = log.start_ms;
        log.tcp = true;
        self.cluster = Some(cluster.clone());
        self.routed_service = Some(Backend {
            kind: "Service".into(),
            namespace: s.namespace.clone(),
            name: s.name.clone(),
            workload: None,
        });
        log.upstream_cluster = Some(cluster.clone());
        let eps = mesh.endpoints(s, &Default::default());
        let Some(&(dwi, dpi)) = eps.first() else {
            self.explanation.push(format!(
                "Service {} has no ready endpoints: cluster {cluster} has no healthy upstream",
                s.display()
            ));
            let resp = Resp::local(0, "UH", "-", Outcome::ConnectionFailed, 0);
            self.hops[hop].decision = format!("{cluster}: no healthy upstream");
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        };
        let sp = s.port(port).cloned();
        let tp = sp
            .as_ref()
            .map(|p| target_port(&mesh.workloads[dwi], p.target.clone(), port))
            .unwrap_or(port);
        let dip = mesh.workloads[dwi].pods[dpi].ip;
        log.upstream_host = Some(fmt_ip(dip, tp));
        let local = fmt_ip(pod_ip, self.eph());
        log.upstream_local_address = Some(local.clone());
        self.hops[hop].decision = format!("TCP proxy to {cluster} → {}", fmt_ip(dip, tp));
        let sni = format!("outbound_.{port}_._.{}", s.hostname);
        let resp = self.deliver(
            dwi,
            dpi,
            tp,
            Conn {
                remote: local,
                sni: Some(sni),
                from_mesh: true,
            },
            msg,
            sp.map(|p| p.protocol),
        );
        self.finish_envoy(hop, log, &resp, start);
        resp
    }

    /// HTTP routing at a proxy: virtual host, route, action, cluster, endpoint, onward.
    #[allow(clippy::too_many_arguments)]
    fn route_http(
        &mut self,
        hop: usize,
        vhs: Vec<VirtualHost>,
        listener_port: u16,
        gateway: &[String],
        mut log: EnvoyLog,
        pod_ip: Ipv4Addr,
        original_dst: Option<(Ipv4Addr, u16)>,
        mut msg: Msg,
        start: u64,
        source_labels: &crate::parse::types::Labels,
        source_ns: &str,
        is_gateway: bool,
    ) -> Resp {
        let mesh = self.mesh;
        let tried_vh: Vec<Tried> = vhs
            .iter()
            .map(|v| Tried {
                what: format!("virtual host {} (domains {})", v.name, v.domains.join(", ")),
                why: v.source.clone(),
                pos: String::new(),
            })
            .collect();
        let Some(vh) = select_vhost(&vhs, &msg.authority).cloned() else {
            self.step(
                hop,
                "virtual host",
                format!("none matches {}", msg.authority),
                tried_vh,
            );
            self.explanation.push(format!(
                "no virtual host of route configuration {listener_port} matches host {:?}",
                strip_port(&msg.authority)
            ));
            for v in &vhs {
                self.explanation.push(format!(
                    "  tried {} (domains {}) from {}",
                    v.name,
                    v.domains.join(", "),
                    v.source
                ));
            }
            self.hops[hop].decision = "404: no virtual host for the host".into();
            let resp = Resp::local(404, "NR", "route_not_found", Outcome::LocalReply, 0);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        };
        self.step(
            hop,
            "virtual host",
            format!(
                "{} (domains {}) from {}",
                vh.name,
                vh.domains.join(", "),
                vh.source
            ),
            vec![],
        );
        if vh.require_tls && msg.scheme != "https" {
            let loc = format!("https://{}{}", msg.authority, msg.path);
            self.step(
                hop,
                "route",
                "httpsRedirect: TLS is required on this host".to_string(),
                vec![],
            );
            self.hops[hop].decision = format!("301 to {loc} (httpsRedirect)");
            let mut resp = Resp::local(301, "-", "direct_response", Outcome::LocalReply, 0);
            resp.headers.push(("location".into(), loc));
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        }
        // Route: the first whose match list has a hit.
        let input_headers = msg.headers.clone();
        let mut tried = Vec::new();
        let mut chosen: Option<(Route, Option<String>)> = None;
        for r in &vh.routes {
            let input = MatchInput {
                method: &msg.method,
                path: &msg.path,
                authority: &msg.authority,
                scheme: &msg.scheme,
                headers: &input_headers,
                port: listener_port,
                source_labels: Some(source_labels),
                source_namespace: Some(source_ns),
                gateway,
            };
            if r.matches.is_empty() {
                chosen = Some((r.clone(), None));
                break;
            }
            let mut misses = Vec::new();
            let mut hit = None;
            for m in &r.matches {
                match m.miss(&input) {
                    None => {
                        hit = Some(m.name.clone());
                        break;
                    }
                    Some(why) => misses.push(why),
                }
            }
            if let Some(name) = hit {
                chosen = Some((r.clone(), name));
                break;
            }
            tried.push(Tried {
                what: format!(
                    "{} ({})",
                    r.source,
                    r.matches
                        .iter()
                        .map(|m| m.describe())
                        .collect::<Vec<_>>()
                        .join(" OR ")
                ),
                why: misses.join("; "),
                pos: r.pos.clone(),
            });
        }
        let Some((route, match_name)) = chosen else {
            self.explanation.push(format!(
                "virtual host {} has no route matching {} {}",
                vh.name, msg.method, msg.path
            ));
            for t in &tried {
                self.explanation.push(format!(
                    "  {} at {}: {}",
                    t.what,
                    if t.pos.is_empty() { "-" } else { &t.pos },
                    t.why
                ));
            }
            if vh.routes.is_empty() {
                self.explanation
                    .push(format!("  the virtual host has no routes: {}", vh.source));
            }
            self.step(
                hop,
                "route",
                format!("none of {} routes matches", vh.routes.len()),
                tried,
            );
            self.hops[hop].decision = "404: no route matches".into();
            let resp = Resp::local(404, "NR", "route_not_found", Outcome::LocalReply, 0);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        };
        let route_name = route.name.as_ref().map(|n| match &match_name {
            Some(m) if !n.is_empty() => format!("{n}.{m}"),
            _ => n.clone(),
        });
        log.route_name = route_name.clone().filter(|n| !n.is_empty());
        self.step(
            hop,
            "route",
            format!(
                "{}{}",
                route.source,
                if route.pos.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", route.pos)
                }
            ),
            tried,
        );
        if let Some(status) = route.fault_abort {
            self.hops[hop].decision = format!("fault injection aborts with {status}");
            let resp = Resp::local(status, "FI", "fault_filter_abort", Outcome::LocalReply, 18);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        }
        route.request_headers.apply(&mut msg.headers);
        match &route.action {
            Action::Direct { status, body } => {
                let what = if route.name.as_deref() == Some("block_all") {
                    self.explanation.push(format!(
                        "host {:?} is not in the service registry and the outbound traffic policy is REGISTRY_ONLY: the sidecar's block_all route answers 502",
                        strip_port(&msg.authority)
                    ));
                    self.explanation
                        .push("add a ServiceEntry for the host to allow it".into());
                    "block_all: REGISTRY_ONLY answers 502".to_string()
                } else {
                    format!("direct response {status}")
                };
                self.hops[hop].decision = what;
                let mut resp = Resp::local(
                    *status,
                    "-",
                    "direct_response",
                    Outcome::LocalReply,
                    body.len() as u64,
                );
                route.response_headers.apply(&mut resp.headers);
                self.finish_envoy(hop, log, &resp, start);
                resp
            }
            Action::Redirect(rd) => {
                let loc = redirect_location(rd, &msg, listener_port);
                self.hops[hop].decision = format!("{} redirect to {loc}", rd.code);
                let mut resp = Resp::local(rd.code, "-", "direct_response", Outcome::LocalReply, 0);
                resp.headers.push(("location".into(), loc));
                route.response_headers.apply(&mut resp.headers);
                self.finish_envoy(hop, log, &resp, start);
                resp
            }
            Action::Route(backends) => {
                let b = self.pick_backend(backends);
                let Some(b) = b else {
                    self.hops[hop].decision = "500: the route has no backend".into();
                    self.explanation
                        .push(format!("{} has no usable backend", route.source));
                    let resp = Resp::local(500, "-", "direct_response", Outcome::LocalReply, 0);
                    self.finish_envoy(hop, log, &resp, start);
                    return resp;
                };
                if let BackendKind::Invalid(why) = &b.kind {
                    self.hops[hop].decision = "500: invalid backend".into();
                    self.explanation.push(why.clone());
                    let resp = Resp::local(500, "-", "direct_response", Outcome::LocalReply, 0);
                    self.finish_envoy(hop, log, &resp, start);
                    return resp;
                }
                b.request_headers.apply(&mut msg.headers);
                if let Some(rw) = &route.rewrite {
                    apply_rewrite(rw, &mut msg, &route);
                    if log.path != msg.path {
                        // %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% keeps the original path.
                    }
                }
                if b.host == "PassthroughCluster" {
                    let (ip, port) = original_dst.unwrap_or((Ipv4Addr::UNSPECIFIED, listener_port));
                    self.cluster = Some("PassthroughCluster".into());
                    self.step(
                        hop,
                        "cluster",
                        format!(
                            "PassthroughCluster: original destination {}",
                            fmt_ip(ip, port)
                        ),
                        vec![],
                    );
                    self.hops[hop].decision =
                        format!("allow_any: passthrough to {}", fmt_ip(ip, port));
                    log.upstream_cluster = Some("PassthroughCluster".into());
                    log.upstream_host = Some(fmt_ip(ip, port));
                    let local = fmt_ip(pod_ip, self.eph());
                    log.upstream_local_address = Some(local.clone());
                    let resp = self.connect(
                        ip,
                        port,
                        Conn {
                            remote: local,
                            sni: None,
                            from_mesh: false,
                        },
                        msg,
                    );
                    let resp = self.respond(resp, &route, &b);
                    self.finish_envoy(hop, log, &resp, start);
                    return resp;
                }
                let resp = self.to_cluster(
                    hop,
                    &b,
                    listener_port,
                    source_ns,
                    &mut log,
                    pod_ip,
                    msg,
                    is_gateway,
                );
                let resp = self.respond(resp, &route, &b);
                self.finish_envoy(hop, log, &resp, start);
                resp
            }
        }
    }

    fn respond(&self, mut resp: Resp, route: &Route, b: &WeightedBackend) -> Resp {
        b.response_headers.apply(&mut resp.headers);
        route.response_headers.apply(&mut resp.headers);
        resp
    }

    fn pick_backend(&mut self, backends: &[WeightedBackend]) -> Option<WeightedBackend> {
        if backends.is_empty() {
            return None;
        }
        if backends.len() == 1 {
            return Some(backends[0].clone());
        }
        let total: u32 = backends.iter().map(|b| b.weight).sum();
        self.split = backends
            .iter()
            .map(|b| {
                (
                    format!(
                        "{}{}",
                        b.host,
                        b.subset
                            .as_ref()
                            .map(|s| format!(" subset {s}"))
                            .unwrap_or_default()
                    ),
                    b.weight,
                )
            })
            .collect();
        match self.seed {
            Some(seed) if total > 0 => {
                let mut x = (fnv64(&format!("{seed}/{}", self.seed_key)) % total as u64) as u32;
                for b in backends {
                    if x < b.weight {
                        return Some(b.clone());
                    }
                    x -= b.weight;
                }
                backends.last().cloned()
            }
            _ => {
                let best = backends.iter().max_by_key(|b| b.weight).cloned();
                self.note(format!("the route splits traffic by weight ({}); without --seed the heaviest backend is followed", self.split.iter().map(|(h, w)| format!("{h}: {w}")).collect::<Vec<_>>().join(", ")));
                best
            }
        }
    }

    /// Cluster and endpoint for a backend, then onward to the chosen endpoint.
    #[allow(clippy::too_many_arguments)]
    fn to_cluster(
        &mut self,
        hop: usize,
        b: &WeightedBackend,
        listener_port: u16,
        client_ns: &str,
        log: &mut EnvoyLog,
        pod_ip: Ipv4Addr,
        msg: Msg,
        is_gateway: bool,
    ) -> Resp {
        let mesh = self.mesh;
        let svc = mesh.service(&b.host);
        let port = b.port.unwrap_or_else(|| match svc {
            Some(s) if s.ports.len() == 1 => s.ports[0].port,
            _ => listener_port,
        });
        let subset = b.subset.clone().unwrap_or_default();
        let cluster = format!("outbound|{port}|{subset}|{}", b.host);
        self.cluster = Some(cluster.clone());
        let _ = is_gateway;
        // Kubernetes Service.
        if let Some(s) = svc {
            if let Some(en) = &s.external_name {
                // ExternalName: Envoy's cluster resolves the CNAME target by DNS.
                log.upstream_cluster = Some(cluster.clone());
                self.step(
                    hop,
                    "cluster",
                    format!("{cluster} (ExternalName Service → {en})"),
                    vec![],
                );
                let ip = internet_ip(en);
                log.upstream_host = Some(fmt_ip(ip, port));
                log.upstream_local_address = Some(fmt_ip(pod_ip, self.eph()));
                self.routed_service = Some(Backend {
                    kind: "Service".into(),
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                    workload: None,
                });
                self.hops[hop].decision = format!("routed to {cluster}");
                let en = en.clone();
                return self.internet(ip, port, Some(&en), msg);
            }
            let Some(sp) = s.port(port) else {
                return self.no_cluster(
                    hop,
                    &cluster,
                    format!(
                        "Service {} has no port {port}, so Envoy has no cluster {cluster}",
                        s.display()
                    ),
                );
            };
            let sp = sp.clone();
            let labels = if subset.is_empty() {
                Default::default()
            } else {
                match self.subset_labels(&b.host, &subset, client_ns, &s.namespace) {
                    Some(l) => l,
                    None => {
                        return self.no_cluster(
                            hop,
                            &cluster,
                            format!("no DestinationRule for {} defines subset {subset:?}, so Envoy has no cluster {cluster}", b.host),
                        )
                    }
                }
            };
            log.upstream_cluster = Some(cluster.clone());
            self.routed_service = Some(Backend {
                kind: "Service".into(),
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                workload: None,
            });
            let eps = mesh.endpoints(s, &labels);
            let Some(&(dwi, dpi)) = eps.first() else {
                self.step(
                    hop,
                    "endpoints",
                    format!("{cluster}: no ready endpoints"),
                    vec![],
                );
                self.explanation.push(if labels.is_empty() {
                    format!("Service {} selects no ready pod: cluster {cluster} has no healthy upstream", s.display())
                } else {
                    format!("no ready pod of Service {} carries the labels of subset {subset} ({labels:?}): cluster {cluster} has no healthy upstream", s.display())
                });
                self.hops[hop].decision = format!("503: {cluster} has no healthy upstream");
                return Resp::local(503, "UH", "no_healthy_upstream", Outcome::LocalReply, 19);
            };
            let dw = &mesh.workloads[dwi];
            let tp = target_port(dw, sp.target.clone(), port);
            let dip = dw.pods[dpi].ip;
            self.step(
                hop,
                "cluster",
                format!(
                    "{cluster} → endpoint {} (pod {})",
                    fmt_ip(dip, tp),
                    dw.pods[dpi].name
                ),
                vec![],
            );
            self.hops[hop].decision = format!("routed to {cluster}");
            log.upstream_host = Some(fmt_ip(dip, tp));
            let local = fmt_ip(pod_ip, self.eph());
            log.upstream_local_address = Some(local.clone());
            let mut next = msg;
            next.protocol = if sp.protocol.is_h2() {
                "HTTP/2"
            } else {
                "HTTP/1.1"
            };
            let meshy = matches!(
                dw.proxy,
                ProxyKind::Sidecar | ProxyKind::Gateway | ProxyKind::Waypoint
            );
            let sni = meshy.then(|| format!("outbound_.{port}_.{subset}_.{}", b.host));
            return self.deliver(
                dwi,
                dpi,
                tp,
                Conn {
                    remote: local,
                    sni,
                    from_mesh: true,
                },
                next,
                Some(sp.protocol),
            );
        }
        // ServiceEntry host (exactly as declared).
        let se = mesh
            .se_by_host
            .get(&b.host)
            .and_then(|v| v.first())
            .or_else(|| {
                mesh.se_wildcards
                    .iter()
                    .find(|&&i| mesh.service_entries[i].host == b.host)
            });
        if let Some(&sei) = se {
            let e = &mesh.service_entries[sei];
            if e.protocol(port).is_none() {
                return self.no_cluster(hop, &cluster, format!("ServiceEntry {}/{} declares no port {port}, so Envoy has no cluster {cluster}", e.namespace, e.name));
            }
            if !subset.is_empty()
                && self
                    .subset_labels(&b.host, &subset, client_ns, &e.namespace)
                    .is_none()
            {
                return self.no_cluster(hop, &cluster, format!("no DestinationRule for {} defines subset {subset:?}, so Envoy has no cluster {cluster}", b.host));
            }
            log.upstream_cluster = Some(cluster.clone());
            self.routed_service = Some(Backend {
                kind: "ServiceEntry".into(),
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                workload: None,
            });
            let resolution = e.spec.resolution.clone().unwrap_or_else(|| "NONE".into());
            let ip = match resolution.as_str() {
                "STATIC" => e.spec.endpoints.iter().find_map(|ep| {
                    ep.address
                        .as_deref()
                        .and_then(|a| a.parse::<Ipv4Addr>().ok())
                }),
                "NONE" => msg_original_ip(&msg).or(Some(internet_ip(&b.host))),
                _ => Some(internet_ip(
                    e.spec
                        .endpoints
                        .iter()
                        .find_map(|ep| ep.address.clone())
                        .as_deref()
                        .unwrap_or(&b.host),
                )),
            };
            let Some(ip) = ip else {
                self.step(hop, "endpoints", format!("{cluster}: no endpoints"), vec![]);
                self.explanation.push(format!(
                    "ServiceEntry {}/{} has resolution STATIC but no endpoint addresses",
                    e.namespace, e.name
                ));
                self.hops[hop].decision = format!("503: {cluster} has no healthy upstream");
                return Resp::local(503, "UH", "no_healthy_upstream", Outcome::LocalReply, 19);
            };
            self.step(
                hop,
                "cluster",
                format!(
                    "{cluster} ({} {}, resolution {resolution}) → {}",
                    if e.external() {
                        "MESH_EXTERNAL"
                    } else {
                        "MESH_INTERNAL"
                    },
                    format_args!("ServiceEntry {}/{}", e.namespace, e.name),
                    fmt_ip(ip, port)
                ),
                vec![],
            );
            self.hops[hop].decision = format!("routed to {cluster}");
            log.upstream_host = Some(fmt_ip(ip, port));
            let local = fmt_ip(pod_ip, self.eph());
            log.upstream_local_address = Some(local.clone());
            if let Some(&(dwi, dpi)) = mesh.pod_by_ip.get(&ip) {
                return self.deliver(
                    dwi,
                    dpi,
                    port,
                    Conn {
                        remote: local,
                        sni: None,
                        from_mesh: true,
                    },
                    msg,
                    e.protocol(port),
                );
            }
            let host = b.host.clone();
            return self.internet(ip, port, Some(&host), msg);
        }
        self.no_cluster(hop, &cluster, format!("{} is neither a Service nor a ServiceEntry host, so Envoy has no cluster {cluster}", b.host))
    }

    fn no_cluster(&mut self, hop: usize, cluster: &str, why: String) -> Resp {
        self.step(hop, "cluster", format!("{cluster}: not found"), vec![]);
        self.explanation.push(why);
        self.hops[hop].decision = format!("503: no cluster {cluster}");
        Resp::local(503, "NC", "cluster_not_found", Outcome::LocalReply, 0)
    }

    /// Labels of a DestinationRule subset, looked up as Istio does: the client's namespace,
    /// then the host's, then the root namespace.
    fn subset_labels(
        &self,
        host: &str,
        subset: &str,
        client_ns: &str,
        host_ns: &str,
    ) -> Option<crate::parse::types::Labels> {
        let mesh = self.mesh;
        let drs = mesh.dr_by_host.get(host)?;
        let root = mesh.control_plane.namespace.as_str();
        for ns in [client_ns, host_ns, root] {
            for &i in drs {
                let dr = &mesh.destination_rules[i];
                if dr.namespace != ns
                    || !vhosts::exported_to(&dr.spec.export_to, &dr.namespace, client_ns)
                {
                    continue;
                }
                if let Some(s) = dr.spec.subsets.iter().find(|s| s.name == subset) {
                    return Some(s.labels.clone());
                }
                // The first visible DestinationRule for the host is the one that applies.
                return None;
            }
        }
        None
    }

    fn sidecar_inbound(
        &mut self,
        wi: usize,
        pi: usize,
        port: u16,
        conn: Conn,
        msg: Msg,
        proto: Option<Protocol>,
    ) -> Resp {
        let mesh = self.mesh;
        let w = &mesh.workloads[wi];
        let hop = self.push_hop(HopKind::Sidecar, wi, pi, "inbound");
        let start = self.now();
        let pod_ip = w.pods[pi].ip;
        let tcp = proto.is_some_and(|p| !(p.is_http() || p == Protocol::Unknown));
        let cluster = format!("inbound|{port}||");
        let local = format!("127.0.0.6:{}", self.eph());
        let log = EnvoyLog {
            start_ms: start,
            method: msg.method.clone(),
            path: msg.path.clone(),
            protocol: msg.protocol.to_string(),
            user_agent: msg.header("user-agent").map(str::to_string),
            request_id: Some(self.request_id.clone()),
            authority: Some(msg.authority.clone()),
            downstream_local_address: fmt_ip(pod_ip, port),
            downstream_remote_address: conn.remote.clone(),
            upstream_cluster: Some(cluster.clone()),
            upstream_host: Some(fmt_ip(pod_ip, port)),
            upstream_local_address: Some(local),
            requested_server_name: conn.sni.clone(),
            route_name: if tcp { None } else { Some("default".into()) },
            x_forwarded_for: msg.xff.clone(),
            tcp,
            ..Default::default()
        };
        self.step(
            hop,
            "listener",
            format!(
                "inbound {}:{port} ({}){}",
                pod_ip,
                if conn.from_mesh {
                    "mTLS from a mesh proxy"
                } else {
                    "plaintext, accepted in PERMISSIVE mode"
                },
                if tcp { ", TCP proxy" } else { "" }
            ),
            vec![],
        );
        self.step(hop, "cluster", cluster.clone(), vec![]);
        if self.cluster.is_none() {
            self.cluster = Some(cluster.clone());
        }
        self.hops[hop].decision = format!("to the application on port {port} ({cluster})");
        let resp = self.app(wi, pi, port, msg);
        self.finish_envoy(hop, log, &resp, start);
        resp
    }

    /// A gateway proxy (injected, or deployed for a Gateway API Gateway).
    fn gateway(&mut self, wi: usize, pi: usize, port: u16, conn: Conn, mut msg: Msg) -> Resp {
        let mesh = self.mesh;
        let w = &mesh.workloads[wi];
        let hop = self.push_hop(HopKind::Gateway, wi, pi, "gateway");
        let start = self.now();
        let pod_ip = w.pods[pi].ip;
        // Gateways append the downstream address to X-Forwarded-For (use_remote_address).
        let remote_ip = conn
            .remote
            .rsplit_once(':')
            .map(|x| x.0.to_string())
            .unwrap_or_default();
        msg.xff = Some(match &msg.xff {
            Some(x) => format!("{x},{remote_ip}"),
            None => remote_ip,
        });
        let log = EnvoyLog {
            start_ms: start,
            method: msg.method.clone(),
            path: msg.path.clone(),
            protocol: msg.protocol.to_string(),
            user_agent: msg.header("user-agent").map(str::to_string),
            request_id: Some(self.request_id.clone()),
            authority: Some(msg.authority.clone()),
            downstream_local_address: fmt_ip(pod_ip, port),
            downstream_remote_address: conn.remote.clone(),
            x_forwarded_for: msg.xff.clone(),
            ..Default::default()
        };
        // Servers of Istio Gateways selecting this workload, bound to this pod port.
        let services = mesh.services_of_workload(wi);
        let mut servers: Vec<ServerRef> = Vec::new();
        let mut other_ports: Vec<String> = Vec::new();
        for gw in &mesh.istio_gateways {
            if !vhosts::gateway_selects(gw, mesh, wi) {
                continue;
            }
            for (i, s) in gw.spec.servers.iter().enumerate() {
                let pod_port = server_pod_port(mesh, &services, w, s.port.number);
                if pod_port == port {
                    servers.push(ServerRef {
                        gateway: gw,
                        server: s,
                        index: i,
                    });
                } else {
                    other_ports.push(format!(
                        "Gateway {}/{} server {} on port {} (pod port {pod_port})",
                        gw.namespace, gw.name, i, s.port.number
                    ));
                }
            }
        }
        if servers.is_empty() {
            self.step(
                hop,
                "listener",
                format!("no listener on {}", fmt_ip(pod_ip, port)),
                other_ports
                    .iter()
                    .map(|o| Tried {
                        what: o.clone(),
                        why: "other port".into(),
                        pos: String::new(),
                    })
                    .collect(),
            );
            self.explanation.push(format!("gateway {} has no listener on port {port}: no Gateway server is bound to it, so the connection is refused", w.display()));
            if other_ports.is_empty() {
                self.explanation
                    .push("no Istio Gateway selects this gateway workload".into());
            }
            self.hops[hop].decision = "no listener: connection refused".into();
            let resp = Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
            // Envoy logs nothing for a connection no listener accepted.
            self.hops[hop].envoy_log = None;
            return resp;
        }
        let number = servers[0].server.port.number;
        let proto = Protocol::from_name(
            servers[0].server.port.protocol.as_deref().unwrap_or(""),
            servers[0].server.port.name.as_deref(),
        );
        let names: Vec<String> = servers
            .iter()
            .map(|s| format!("{} server {}", s.qualified(), s.index))
            .collect();
        self.step(
            hop,
            "listener",
            format!(
                "{}:{port} → route configuration http.{number} (servers: {})",
                pod_ip,
                names.join(", ")
            ),
            vec![],
        );
        if !(proto.is_http()) {
            self.explanation.push(format!(
                "the Gateway server on port {number} speaks {} and the request is plain HTTP",
                proto.as_str()
            ));
            self.hops[hop].decision = format!(
                "server protocol {} does not accept plain HTTP",
                proto.as_str()
            );
            return Resp::local(
                0,
                "-",
                "filter_chain_not_found",
                Outcome::ConnectionFailed,
                0,
            );
        }
        let vhs = vhosts::gateway_vhosts(mesh, &servers, number);
        let gws: Vec<String> = servers.iter().map(|s| s.qualified()).collect();
        let labels = w.labels.clone();
        let ns = w.namespace.clone();
        self.route_http(
            hop, vhs, number, &gws, log, pod_ip, None, msg, start, &labels, &ns, true,
        )
    }

    fn router(&mut self, port: u16, conn: Conn, msg: Msg) -> Resp {
        let _ = (port, conn);
        self.explanation
            .push("the OpenShift router is not simulated yet".into());
        let _ = msg;
        Resp::local(503, "-", "router_not_simulated", Outcome::LocalReply, 0)
    }

    fn finish_envoy(&mut self, hop: usize, mut log: EnvoyLog, resp: &Resp, start: u64) {
        let end = self.clock + 1;
        self.clock = end;
        log.response_code = resp.status;
        if let Some((f, d, _)) = &resp.decided {
            // Only the hop that decided carries the flags; others pass the upstream's status on.
            if self.hops[hop].decision.is_empty() || log.response_flags.is_empty() {
                let _ = f;
            }
        }
        let decided_here = resp.decided.is_some() && !self.decided_below(hop);
        let (flags, details) = match (&resp.decided, decided_here) {
            (Some((f, d, _)), true) => (f.clone(), d.clone()),
            _ => (
                "-".to_string(),
                if resp.status == 0 {
                    "-".to_string()
                } else {
                    "via_upstream".to_string()
                },
            ),
        };
        if decided_here {
            self.hops[hop].steps.push(Step {
                stage: "reply".into(),
                result: format!("{} {} {}", resp.status, flags, details),
                tried: vec![],
            });
        }
        log.response_flags = flags;
        log.response_code_details = if log.tcp { "-".into() } else { details };
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
    fn decided_below(&self, hop: usize) -> bool {
        self.hops[hop + 1..]
            .iter()
            .any(|h| h.steps.iter().any(|s| s.stage == "reply"))
    }

    fn finish(mut self, req: &Request, method: &str, authority: &str, resp: Resp) -> Trace {
        let (flags, details, outcome) = match &resp.decided {
            Some((f, d, o)) => (f.clone(), d.clone(), o.clone()),
            None => ("-".to_string(), "via_upstream".to_string(), Outcome::Served),
        };
        if outcome != Outcome::Served {
            self.backend = None;
        }
        let mut response_headers: std::collections::BTreeMap<String, String> = resp
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        if !self.hops.is_empty() && resp.status != 0 {
            response_headers.insert("server".into(), "istio-envoy".into());
        }
        for hop in &mut self.hops {
            if let Some(l) = &hop.envoy_log {
                if self.mesh.settings.access_log {
                    hop.access_log = Some(crate::render::log::envoy_line(
                        l,
                        self.mesh.settings.access_log_encoding_json,
                    ));
                }
            }
        }
        if !self.mesh.settings.access_log && !self.hops.is_empty() {
            self.notes.push("access logging is off (meshConfig.accessLogFile is empty): proxies print no access-log lines; the lines shown are what they would print with accessLogFile: /dev/stdout".into());
            for hop in &mut self.hops {
                if let Some(l) = &hop.envoy_log {
                    hop.access_log = Some(crate::render::log::envoy_line(
                        l,
                        self.mesh.settings.access_log_encoding_json,
                    ));
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
            flags,
            details,
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

/// Istio binds a Gateway server's port to the gateway pod's port: the target port of the
/// gateway Service port with that number, or the number itself when no Service port has it.
fn server_pod_port(mesh: &Mesh, services: &[usize], w: &Workload, number: u16) -> u16 {
    for &si in services {
        if let Some(p) = mesh.services[si].port(number) {
            return target_port(w, p.target.clone(), number);
        }
    }
    number
}

fn apply_rewrite(rw: &Rewrite, msg: &mut Msg, route: &Route) {
    let (path, query) = match msg.path.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (msg.path.clone(), None),
    };
    let mut new_path = path.clone();
    if let Some(full) = &rw.full_path {
        new_path = full.clone();
    } else if let Some((prefix, repl)) = &rw.prefix {
        new_path = replace_prefix(&path, prefix, repl);
    } else if let Some(uri) = &rw.uri {
        // Istio's uri rewrite replaces the matched prefix (or the whole path for exact/regex).
        let prefix = route.matches.iter().find_map(|m| match &m.path {
            Some(StrMatch::Prefix(p)) | Some(StrMatch::PathPrefix(p))
                if path.starts_with(p.as_str()) =>
            {
                Some(p.clone())
            }
            _ => None,
        });
        new_path = match prefix {
            Some(p) => format!("{uri}{}", &path[p.len()..]),
            None => uri.clone(),
        };
    } else if let Some((re, repl)) = &rw.regex {
        if let Ok(r) = regex::Regex::new(re) {
            new_path = r
                .replace_all(&path, repl.replace("\\", "$").as_str())
                .to_string();
        }
    }
    if new_path != path {
        msg.headers
            .push(("x-envoy-original-path".into(), msg.path.clone()));
    }
    msg.path = match query {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    if let Some(a) = &rw.authority {
        msg.authority = a.clone();
    }
}

/// Gateway API ReplacePrefixMatch: swap the matched prefix, keeping segment boundaries.
pub fn replace_prefix(path: &str, prefix: &str, repl: &str) -> String {
    let rest = &path[prefix.trim_end_matches('/').len().min(path.len())..];
    let repl = repl.trim_end_matches('/');
    let joined = format!("{repl}{rest}");
    if joined.is_empty() {
        "/".into()
    } else if !joined.starts_with('/') {
        format!("/{joined}")
    } else {
        joined
    }
}

fn redirect_location(rd: &Redirect, msg: &Msg, listener_port: u16) -> String {
    let scheme = rd.scheme.clone().unwrap_or_else(|| msg.scheme.clone());
    let orig_host = strip_port(&msg.authority).to_string();
    let orig_port: Option<u16> = msg
        .authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok());
    let host = rd.host.clone().unwrap_or(orig_host);
    let default_port = |s: &str| if s == "https" { 443 } else { 80 };
    let port = if rd.gateway_api {
        // Gateway API: an explicit port wins; else a scheme change drops the port; else the
        // listener's port, omitted when it is the scheme's default.
        match rd.port {
            Some(p) => Some(p),
            None if rd.scheme.is_some() => None,
            None => Some(orig_port.unwrap_or(listener_port)),
        }
    } else {
        rd.port
            .or(if rd.scheme.is_some() { None } else { orig_port })
    };
    let port = port.filter(|&p| p != default_port(&scheme));
    let path = match (&rd.path, &rd.prefix_rewrite) {
        (Some(p), _) => p.clone(),
        (None, Some((prefix, repl))) => {
            let (p, q) = match msg.path.split_once('?') {
                Some((p, q)) => (p.to_string(), Some(q)),
                None => (msg.path.clone(), None),
            };
            let np = replace_prefix(&p, prefix, repl);
            match q {
                Some(q) => format!("{np}?{q}"),
                None => np,
            }
        }
        _ => msg.path.clone(),
    };
    match port {
        Some(p) => format!("{scheme}://{host}:{p}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}
