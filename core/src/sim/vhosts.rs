//! Which virtual hosts a proxy has for a request, built on demand from the model's indexes for
//! the one host asked about (never the whole mesh), in the order and shape Istio generates them.

use super::route::*;
use crate::model::{fqdn, host_matches, hosts_intersect, Config, Mesh, OutboundPolicy};
use crate::parse::types::*;

/// What a sidecar can see: Istio's SidecarScope, from the Sidecar resource that applies.
/// Egress listeners of a scope: (port or any, [(namespace pattern, host pattern)]).
pub type EgressHosts = Vec<(Option<u16>, Vec<(String, String)>)>;

pub struct Scope {
    pub namespace: String,
    /// (port or any, [(namespace pattern, host pattern)]).
    pub egress: EgressHosts,
    pub policy: OutboundPolicy,
    pub policy_source: String,
    /// `Sidecar ns/name (file:line)` when one applies.
    pub sidecar: Option<String>,
}

impl Scope {
    pub fn for_workload(mesh: &Mesh, ns: &str, labels: &Labels) -> Scope {
        // Istio picks the Sidecar of the workload's namespace whose selector matches, then the
        // namespace's selector-less one, then the root namespace's selector-less one.
        let root = mesh.control_plane.namespace.as_str();
        let chosen: Option<&Config<SidecarSpec>> = mesh
            .sidecars
            .iter()
            .find(|s| {
                s.namespace == ns
                    && s.spec.workload_selector.as_ref().is_some_and(|w| {
                        !w.match_labels.is_empty()
                            && w.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
                    })
            })
            .or_else(|| {
                mesh.sidecars.iter().find(|s| {
                    s.namespace == ns
                        && s.spec
                            .workload_selector
                            .as_ref()
                            .is_none_or(|w| w.match_labels.is_empty())
                })
            })
            .or_else(|| {
                mesh.sidecars.iter().find(|s| {
                    s.namespace == root
                        && s.spec
                            .workload_selector
                            .as_ref()
                            .is_none_or(|w| w.match_labels.is_empty())
                })
            });
        let mut egress = Vec::new();
        let mut policy = mesh.settings.outbound_policy;
        let mut policy_source = mesh.settings.outbound_policy_source.clone();
        if let Some(s) = chosen {
            for l in &s.spec.egress {
                let hosts = l
                    .hosts
                    .iter()
                    .map(|h| match h.split_once('/') {
                        Some((n, host)) => (n.to_string(), host.to_string()),
                        None => ("*".to_string(), h.to_string()),
                    })
                    .collect();
                egress.push((l.port.as_ref().map(|p| p.number), hosts));
            }
            if let Some(mode) = s
                .spec
                .outbound_traffic_policy
                .as_ref()
                .and_then(|p| p.mode.as_deref())
            {
                policy = if mode == "REGISTRY_ONLY" {
                    OutboundPolicy::RegistryOnly
                } else {
                    OutboundPolicy::AllowAny
                };
                policy_source = format!(
                    "Sidecar {}/{} ({})",
                    s.namespace,
                    s.name,
                    s.origin.pos_of(&["spec", "outboundTrafficPolicy"])
                );
            }
        }
        if egress.is_empty() {
            egress.push((None, vec![("*".to_string(), "*".to_string())]));
        }
        Scope {
            namespace: ns.to_string(),
            egress,
            policy,
            policy_source,
            sidecar: chosen
                .map(|s| format!("Sidecar {}/{} ({})", s.namespace, s.name, s.origin.pos())),
        }
    }

    fn listeners(&self, port: u16) -> impl Iterator<Item = &(String, String)> {
        let exact = self.egress.iter().any(|(p, _)| *p == Some(port));
        self.egress
            .iter()
            .filter(move |(p, _)| if exact { *p == Some(port) } else { p.is_none() })
            .flat_map(|(_, h)| h.iter())
    }

    fn ns_matches(&self, pattern: &str, ns: &str) -> bool {
        pattern == "*" || pattern == ns || (pattern == "." && ns == self.namespace)
    }

    /// A service host of namespace `ns` is imported when some egress host matches it.
    pub fn sees_host(&self, port: u16, ns: &str, host: &str) -> bool {
        self.listeners(port)
            .any(|(pn, ph)| self.ns_matches(pn, ns) && host_matches(ph, host))
    }

    /// A VirtualService is imported when an egress host of its namespace intersects its hosts.
    pub fn sees_vs(&self, port: u16, vs: &Config<VirtualServiceSpec>) -> bool {
        exported_to(&vs.spec.export_to, &vs.namespace, &self.namespace)
            && self.listeners(port).any(|(pn, ph)| {
                self.ns_matches(pn, &vs.namespace)
                    && vs
                        .spec
                        .hosts
                        .iter()
                        .any(|h| hosts_intersect(ph, &fqdn(h, &vs.namespace)))
            })
    }
}

/// Istio's `exportTo`: empty means everywhere; `.` the object's own namespace; `*` everywhere.
pub fn exported_to(export_to: &[String], own_ns: &str, client_ns: &str) -> bool {
    export_to.is_empty()
        || export_to
            .iter()
            .any(|e| e == "*" || (e == "." && own_ns == client_ns) || e == client_ns)
}

pub fn service_exported(mesh: &Mesh, host: &str, client_ns: &str) -> bool {
    match mesh.service(host) {
        Some(s) => match s.annotations.get("networking.istio.io/exportTo") {
            Some(v) => {
                let list: Vec<String> = v.split(',').map(|x| x.trim().to_string()).collect();
                exported_to(&list, &s.namespace, client_ns)
            }
            None => true,
        },
        None => true,
    }
}

/// The names a proxy in `client_ns` may use for a host: Kubernetes DNS search paths.
pub fn service_candidates(host: &str, client_ns: &str) -> Vec<String> {
    let parts = host.split('.').count();
    let mut v = Vec::new();
    if host.ends_with(".svc.cluster.local") {
        v.push(host.to_string());
    } else if host.ends_with(".svc") && parts == 3 {
        v.push(format!("{host}.cluster.local"));
    } else if parts == 2 {
        v.push(format!("{host}.svc.cluster.local"));
    } else if parts == 1 {
        v.push(format!("{host}.{client_ns}.svc.cluster.local"));
    }
    v
}

fn mesh_bound(vs: &Config<VirtualServiceSpec>) -> bool {
    vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == "mesh")
}

/// Keeps the routes (and the matches within them) that apply to this proxy and port, as Istio
/// does when it translates a VirtualService for one listener.
pub fn filter_routes(routes: Vec<Route>, port: u16, gateway: &str) -> Vec<Route> {
    routes
        .into_iter()
        .filter_map(|mut r| {
            if r.matches.is_empty() {
                return Some(r);
            }
            r.matches.retain(|m| {
                m.port.is_none_or(|p| p == port)
                    && (m.gateways.is_empty() || m.gateways.iter().any(|g| g == gateway))
            });
            (!r.matches.is_empty()).then_some(r)
        })
        .collect()
}

/// The VirtualService (oldest first; an exact host before a wildcard) that a sidecar applies to
/// `host` on `port`.
pub fn mesh_vs_for_host<'m>(
    mesh: &'m Mesh,
    scope: &Scope,
    port: u16,
    host: &str,
) -> Option<&'m Config<VirtualServiceSpec>> {
    let exact = mesh
        .vs_by_host
        .get(host)
        .into_iter()
        .flatten()
        .map(|&i| &mesh.virtual_services[i])
        .find(|vs| mesh_bound(vs) && scope.sees_vs(port, vs));
    exact.or_else(|| {
        mesh.vs_wildcards
            .iter()
            .map(|&i| &mesh.virtual_services[i])
            .filter(|vs| mesh_bound(vs) && scope.sees_vs(port, vs))
            .find(|vs| {
                vs.spec
                    .hosts
                    .iter()
                    .any(|h| host_matches(&fqdn(h, &vs.namespace), host))
            })
    })
}

fn routes_for_host(mesh: &Mesh, scope: &Scope, port: u16, host: &str) -> (Vec<Route>, String) {
    if let Some(vs) = mesh_vs_for_host(mesh, scope, port, host) {
        let routes = filter_routes(compile_virtual_service(vs), port, "mesh");
        if !routes.is_empty() {
            return (
                routes,
                format!(
                    "VirtualService {}/{} ({})",
                    vs.namespace,
                    vs.name,
                    vs.origin.pos()
                ),
            );
        }
    }
    (
        vec![Route::default_for(host, port)],
        format!("default routes of {host}"),
    )
}

fn passthrough_vhost(scope: &Scope) -> VirtualHost {
    match scope.policy {
        OutboundPolicy::AllowAny => VirtualHost {
            name: "allow_any".into(),
            domains: vec!["*".into()],
            routes: vec![Route {
                name: Some("allow_any".into()),
                matches: vec![],
                action: Action::Route(vec![WeightedBackend {
                    host: "PassthroughCluster".into(),
                    subset: None,
                    port: None,
                    weight: 100,
                    request_headers: HeaderOps::default(),
                    response_headers: HeaderOps::default(),
                    kind: BackendKind::Host,
                }]),
                rewrite: None,
                request_headers: HeaderOps::default(),
                response_headers: HeaderOps::default(),
                fault_abort: None,
                mirror: None,
                source: format!(
                    "outbound traffic policy ALLOW_ANY ({})",
                    scope.policy_source
                ),
                pos: String::new(),
                timeout: None,
                retries: None,
            }],
            require_tls: false,
            source: format!("ALLOW_ANY, set by {}", scope.policy_source),
        },
        OutboundPolicy::RegistryOnly => VirtualHost {
            name: "block_all".into(),
            domains: vec!["*".into()],
            routes: vec![Route {
                name: Some("block_all".into()),
                matches: vec![],
                action: Action::Direct {
                    status: 502,
                    body: String::new(),
                },
                rewrite: None,
                request_headers: HeaderOps::default(),
                response_headers: HeaderOps::default(),
                fault_abort: None,
                mirror: None,
                source: format!(
                    "outbound traffic policy REGISTRY_ONLY ({})",
                    scope.policy_source
                ),
                pos: String::new(),
                timeout: None,
                retries: None,
            }],
            require_tls: false,
            source: format!("REGISTRY_ONLY, set by {}", scope.policy_source),
        },
    }
}

/// True when a sidecar routes HTTP for `port` on a wildcard (0.0.0.0) listener: some visible
/// Service or ServiceEntry declares `port` with an HTTP protocol.
pub fn has_wildcard_http_listener(mesh: &Mesh, scope: &Scope, port: u16) -> bool {
    if let Some(list) = mesh.http_services_by_port.get(&port) {
        for &si in list {
            let s = &mesh.services[si];
            if scope.sees_host(port, &s.namespace, &s.hostname)
                && service_exported(mesh, &s.hostname, &scope.namespace)
            {
                return true;
            }
        }
    }
    if let Some(list) = mesh.http_service_entries_by_port.get(&port) {
        for &i in list {
            let se = &mesh.service_entries[i];
            if scope.sees_host(port, &se.namespace, &se.host)
                && exported_to(&se.spec.export_to, &se.namespace, &scope.namespace)
            {
                return true;
            }
        }
    }
    false
}

/// The virtual hosts of a sidecar's outbound route configuration `port` that could match
/// `authority`, plus the catch-all.
pub fn sidecar_vhosts(mesh: &Mesh, scope: &Scope, port: u16, authority: &str) -> Vec<VirtualHost> {
    let host = strip_port(authority).to_ascii_lowercase();
    let mut out: Vec<VirtualHost> = Vec::new();
    let mut service_hosts: Vec<String> = Vec::new();
    let mut cands = service_candidates(&host, &scope.namespace);
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        if let Some(&si) = mesh.service_by_ip.get(&ip) {
            cands.push(mesh.services[si].hostname.clone());
        }
    }
    for c in cands {
        if let Some(svc) = mesh.service(&c) {
            let Some(p) = svc.port(port) else { continue };
            if !(p.protocol.is_http() || p.protocol == crate::model::protocol::Protocol::Unknown) {
                continue;
            }
            if !scope.sees_host(port, &svc.namespace, &svc.hostname)
                || !service_exported(mesh, &svc.hostname, &scope.namespace)
            {
                continue;
            }
            let (routes, source) = routes_for_host(mesh, scope, port, &svc.hostname);
            service_hosts.push(svc.hostname.clone());
            out.push(VirtualHost {
                name: format!("{}:{port}", svc.hostname),
                domains: vec![host.clone()],
                routes,
                require_tls: false,
                source: format!("Service {} — {source}", svc.display()),
            });
        }
    }
    // ServiceEntry hosts, exact and wildcard.
    for i in mesh.service_entries_for(&host) {
        let se = &mesh.service_entries[i];
        if se
            .protocol(port)
            .is_none_or(|p| !(p.is_http() || p == crate::model::protocol::Protocol::Unknown))
        {
            continue;
        }
        if !scope.sees_host(port, &se.namespace, &se.host)
            || !exported_to(&se.spec.export_to, &se.namespace, &scope.namespace)
        {
            continue;
        }
        if service_hosts.contains(&se.host) {
            continue;
        }
        let (routes, source) = routes_for_host(mesh, scope, port, &se.host);
        service_hosts.push(se.host.clone());
        out.push(VirtualHost {
            name: format!("{}:{port}", se.host),
            domains: vec![se.host.clone()],
            routes,
            require_tls: false,
            source: format!(
                "ServiceEntry {}/{} ({}) — {source}",
                se.namespace,
                se.name,
                se.origin.pos()
            ),
        });
    }
    // VirtualService hosts that are not services: their own virtual host.
    let mut vs_candidates: Vec<usize> = mesh.vs_by_host.get(&host).cloned().unwrap_or_default();
    vs_candidates.extend(mesh.vs_wildcards.iter().copied());
    let mut seen_domains: Vec<String> = Vec::new();
    for i in vs_candidates {
        let vs = &mesh.virtual_services[i];
        if !mesh_bound(vs) || !scope.sees_vs(port, vs) {
            continue;
        }
        for h in &vs.spec.hosts {
            let h = fqdn(h, &vs.namespace);
            if !host_matches(&h, &host) || service_hosts.contains(&h) || seen_domains.contains(&h) {
                continue;
            }
            if mesh.service(&h).is_some()
                || !mesh.service_entries_for(&h).is_empty() && !h.contains('*')
            {
                continue;
            }
            // The non-service host must itself be imported by the Sidecar's egress hosts.
            if !scope.sees_host(port, &vs.namespace, &h) {
                continue;
            }
            let routes = filter_routes(compile_virtual_service(vs), port, "mesh");
            if routes.is_empty() {
                continue;
            }
            seen_domains.push(h.clone());
            out.push(VirtualHost {
                name: format!("{h}:{port}"),
                domains: vec![h.clone()],
                routes,
                require_tls: false,
                source: format!(
                    "VirtualService {}/{} ({})",
                    vs.namespace,
                    vs.name,
                    vs.origin.pos()
                ),
            });
        }
    }
    out.push(passthrough_vhost(scope));
    out
}

/// A server of an Istio Gateway as a gateway proxy has it.
pub struct ServerRef<'m> {
    pub gateway: &'m Config<IstioGatewaySpec>,
    pub server: &'m Server,
    pub index: usize,
}

impl ServerRef<'_> {
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.gateway.namespace, self.gateway.name)
    }
}

/// Splits a server host `ns/host` into (namespace pattern, host); no prefix means any namespace.
fn server_host(h: &str) -> (&str, &str) {
    match h.split_once('/') {
        Some((n, host)) => (n, host),
        None => ("*", h),
    }
}

/// The more specific of two intersecting host patterns.
fn narrower<'a>(a: &'a str, b: &'a str) -> &'a str {
    if host_matches(a, b) {
        b
    } else {
        a
    }
}

/// Virtual hosts of a gateway's route configuration for the HTTP servers on one port, as far
/// as they could match `authority`: VirtualServices bound to each server's Gateway, merged per
/// host in precedence order. Only VirtualServices naming the request's host or a wildcard host
/// are read (from the model's indexes), so the cost does not grow with their number; the
/// others' virtual hosts could not match the request.
pub fn gateway_vhosts(
    mesh: &Mesh,
    servers: &[ServerRef],
    port_number: u16,
    authority: &str,
) -> Vec<VirtualHost> {
    let host = strip_port(authority).to_ascii_lowercase();
    let mut out: Vec<VirtualHost> = Vec::new();
    for s in servers {
        let gname = s.qualified();
        if s.server.tls.as_ref().is_some_and(|t| t.https_redirect) {
            for h in &s.server.hosts {
                let (_, host) = server_host(h);
                if out.iter().any(|v| v.domains.iter().any(|d| d == host)) {
                    if let Some(v) = out.iter_mut().find(|v| v.domains.iter().any(|d| d == host)) {
                        v.require_tls = true;
                    }
                    continue;
                }
                out.push(VirtualHost {
                    name: format!("{host}:{port_number}"),
                    domains: vec![host.to_string()],
                    routes: vec![],
                    require_tls: true,
                    source: format!(
                        "Gateway {gname} server {} with httpsRedirect ({})",
                        s.index,
                        s.gateway
                            .origin
                            .pos_of(&["spec", "servers", &s.index.to_string()])
                    ),
                });
            }
        }
        let mut candidates: Vec<usize> = mesh
            .vs_by_gateway_host
            .get(&(gname.clone(), host.clone()))
            .into_iter()
            .flatten()
            .chain(
                mesh.vs_wildcards_by_gateway
                    .get(&gname)
                    .into_iter()
                    .flatten(),
            )
            .copied()
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        for vi in candidates {
            let vs = &mesh.virtual_services[vi];
            let domains = server_domains(vs, s);
            if domains.is_empty() {
                continue;
            }
            let routes = filter_routes(compile_virtual_service(vs), port_number, &gname);
            for domain in domains {
                match out.iter_mut().find(|v| v.domains.contains(&domain)) {
                    Some(v) => {
                        // Istio merges VirtualServices for one host on a gateway; routes keep
                        // the precedence order of their VirtualServices.
                        if !v
                            .source
                            .contains(&format!("VirtualService {}/{}", vs.namespace, vs.name))
                        {
                            v.routes.extend(routes.iter().cloned());
                            v.source.push_str(&format!(
                                " + VirtualService {}/{} ({})",
                                vs.namespace,
                                vs.name,
                                vs.origin.pos()
                            ));
                        }
                    }
                    None => out.push(VirtualHost {
                        name: format!("{domain}:{port_number}"),
                        domains: vec![domain.clone()],
                        routes: routes.clone(),
                        require_tls: false,
                        source: format!(
                            "VirtualService {}/{} ({}) on Gateway {gname}",
                            vs.namespace,
                            vs.name,
                            vs.origin.pos()
                        ),
                    }),
                }
            }
        }
    }
    let serves_something = out.iter().any(|v| !v.routes.is_empty() || v.require_tls)
        || any_bound_routes(mesh, servers, port_number);
    if !serves_something {
        // No VirtualService for any server on the port: Istio's `blackhole:<port>` virtual host.
        out.push(VirtualHost {
            name: format!("blackhole:{port_number}"),
            domains: vec!["*".into()],
            routes: vec![],
            require_tls: false,
            source: "no VirtualService is bound to the Gateway servers on this port".into(),
        });
    }
    out
}

/// The domains a VirtualService bound to a server's Gateway gives that server: each of its
/// hosts that intersects a server host open to its namespace, narrowed to the more specific.
fn server_domains(vs: &Config<VirtualServiceSpec>, s: &ServerRef) -> Vec<String> {
    let mut out = Vec::new();
    for sh in &s.server.hosts {
        let (sns, shost) = server_host(sh);
        let ns_ok = sns == "*"
            || sns == vs.namespace
            || (sns == "." && vs.namespace == s.gateway.namespace);
        if !ns_ok {
            continue;
        }
        for vh in &vs.spec.hosts {
            let vh = fqdn(vh, &vs.namespace);
            if hosts_intersect(&vh, shost) {
                out.push(narrower(&vh, shost).to_string());
            }
        }
    }
    out
}

/// True when some VirtualService bound to the servers' Gateways has routes for the port, for
/// any host. Usually the first one read does; it decides whether the port is a blackhole.
fn any_bound_routes(mesh: &Mesh, servers: &[ServerRef], port_number: u16) -> bool {
    servers.iter().any(|s| {
        let gname = s.qualified();
        mesh.vs_by_gateway
            .get(&gname)
            .into_iter()
            .flatten()
            .map(|&vi| &mesh.virtual_services[vi])
            .any(|vs| {
                !server_domains(vs, s).is_empty()
                    && !filter_routes(compile_virtual_service(vs), port_number, &gname).is_empty()
            })
    })
}
