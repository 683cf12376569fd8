//! Which virtual hosts a proxy has for a request, built on demand from the model's indexes for
//! the one host asked about (never the whole mesh), in the order and shape Istio generates them.

use super::route::*;
use crate::model::{host_matches, hosts_intersect, Config, EgressListener, Mesh, OutboundPolicy};
use crate::parse::types::*;
use crate::text::cat;
use std::sync::Arc;

/// What a sidecar can see: Istio's SidecarScope, from the Sidecar resource that applies,
/// borrowed from the model (`Mesh::sidecar_scopes`), so that making one allocates nothing.
pub struct Scope<'m> {
    /// Describe what is built (virtual host and route sources), for a full trace.
    pub words: bool,
    pub namespace: &'m str,
    pub egress: &'m [EgressListener],
    /// No Sidecar egress listener applies: every namespace's hosts on every port are
    /// imported (Istio's default `*/*`).
    pub open: bool,
    pub policy: OutboundPolicy,
    pub policy_source: &'m str,
    /// `Sidecar ns/name (file:line)` when one applies.
    pub sidecar: Option<&'m str>,
}

/// `text()` when `on`, else nothing: descriptions a verdict does not need.
pub(super) fn words(on: bool, text: impl FnOnce() -> String) -> String {
    if on {
        text()
    } else {
        String::new()
    }
}

impl<'m> Scope<'m> {
    pub fn for_workload(mesh: &'m Mesh, ns: &'m str, labels: &Labels, words: bool) -> Scope<'m> {
        // Istio picks the Sidecar of the workload's namespace whose selector matches, then the
        // namespace's selector-less one, then the root namespace's selector-less one.
        let root = mesh.control_plane.namespace.as_str();
        // The Sidecars of a namespace, from the index, in precedence order.
        let of = |namespace: &str| {
            crate::model::listed(&mesh.sidecars_by_namespace, namespace)
                .iter()
                .map(|&i| (i, &mesh.sidecars[i]))
        };
        let selectorless = |(_, s): &(usize, &Config<SidecarSpec>)| {
            s.spec
                .workload_selector
                .as_ref()
                .is_none_or(|w| w.labels.is_empty())
        };
        let chosen = of(ns)
            .find(|(_, s)| {
                s.spec
                    .workload_selector
                    .as_ref()
                    .is_some_and(|w| !w.labels.is_empty() && w.labels.is_subset_of(labels))
            })
            .or_else(|| of(ns).find(selectorless))
            .or_else(|| of(root).find(selectorless))
            .map(|(i, _)| &mesh.sidecar_scopes[i]);
        let egress = chosen.map(|c| &c.egress[..]).filter(|e| !e.is_empty());
        let (policy, policy_source) = match chosen.and_then(|c| c.policy.as_ref()) {
            Some((policy, source)) => (*policy, source.as_str()),
            None => (
                mesh.settings.outbound_policy,
                mesh.settings.outbound_policy_source.as_str(),
            ),
        };
        Scope {
            words,
            namespace: ns,
            egress: egress.unwrap_or(&mesh.open_egress),
            open: egress.is_none(),
            policy,
            policy_source,
            sidecar: chosen.map(|c| c.description.as_str()),
        }
    }

    fn listeners(&self, port: u16) -> impl Iterator<Item = &'m (String, String)> {
        let egress = self.egress;
        let exact = egress.iter().any(|l| l.port == Some(port));
        egress
            .iter()
            .filter(move |l| {
                if exact {
                    l.port == Some(port)
                } else {
                    l.port.is_none()
                }
            })
            .flat_map(|l| l.hosts.iter())
    }

    fn ns_matches(&self, pattern: &str, ns: &str) -> bool {
        pattern == "*" || pattern == ns || (pattern == "." && ns == self.namespace)
    }

    /// A service host of namespace `ns` is imported when some egress host matches it.
    pub fn sees_host(&self, port: u16, ns: &str, host: &str) -> bool {
        self.listeners(port)
            .any(|(pn, ph)| self.ns_matches(pn, ns) && host_matches(ph, host))
    }

    /// A VirtualService is imported when an egress host of its namespace intersects its
    /// hosts (`hosts`: fully qualified, `Mesh::vs_hosts`).
    pub fn sees_vs(&self, mesh: &Mesh, port: u16, vi: usize) -> bool {
        let (vs, hosts) = (&mesh.virtual_services[vi], &mesh.vs_hosts[vi]);
        let facts = mesh.vs_facts[vi];
        if self.open && facts.exported_everywhere && facts.has_hosts {
            return true;
        }
        exported_to(&vs.spec.export_to, &vs.namespace, self.namespace)
            && self.listeners(port).any(|(pn, ph)| {
                self.ns_matches(pn, &vs.namespace) && hosts.iter().any(|h| hosts_intersect(ph, h))
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
    let parts = host.bytes().filter(|&b| b == b'.').count() + 1;
    let mut v = Vec::new();
    if host.ends_with(".svc.cluster.local") {
        v.push(host.to_string());
    } else if host.ends_with(".svc") && parts == 3 {
        v.push(cat!(host, ".cluster.local"));
    } else if parts == 2 {
        v.push(cat!(host, ".svc.cluster.local"));
    } else if parts == 1 {
        v.push(cat!(host, '.', client_ns, ".svc.cluster.local"));
    }
    v
}

/// Whether a VirtualService applies to sidecars: bound to no gateway, or to `mesh`.
pub(super) fn mesh_bound(mesh: &Mesh, vi: usize) -> bool {
    mesh.vs_facts[vi].mesh_bound
}

/// Whether a route match applies to this proxy and port, as Istio decides when it translates a
/// VirtualService for one listener.
fn match_applies(m: &RouteMatch, port: u16, gateway: &str) -> bool {
    let gateways = &m.more().gateways;
    m.port.is_none_or(|p| p == port)
        && (gateways.is_empty() || gateways.iter().any(|g| g == gateway))
}

/// Keeps the routes (and the matches within them) that apply to this proxy and port, as Istio
/// does when it translates a VirtualService for one listener.
pub fn filter_routes(compiled: &Compiled, port: u16, gateway: &str) -> Arc<[Route]> {
    let routes = &compiled.routes;
    if !compiled.selective
        || routes
            .iter()
            .all(|r| r.matches.iter().all(|m| match_applies(m, port, gateway)))
    {
        return routes.clone();
    }
    routes
        .iter()
        .filter_map(|r| {
            if r.matches.iter().all(|m| match_applies(m, port, gateway)) {
                return Some(r.clone());
            }
            let matches: Vec<RouteMatch> = r
                .matches
                .iter()
                .filter(|m| match_applies(m, port, gateway))
                .cloned()
                .collect();
            (!matches.is_empty()).then(|| Route {
                matches,
                ..r.clone()
            })
        })
        .collect()
}

/// True when `filter_routes` would keep some route.
fn any_route_applies(compiled: &Compiled, port: u16, gateway: &str) -> bool {
    if !compiled.selective {
        return !compiled.routes.is_empty();
    }
    compiled
        .routes
        .iter()
        .any(|r| r.matches.is_empty() || r.matches.iter().any(|m| match_applies(m, port, gateway)))
}

/// The VirtualService generated from a mesh (GAMMA) HTTPRoute or GRPCRoute that a sidecar in
/// the scope's namespace applies to `host`, if it takes precedence over `regular`. Istio
/// favours routes in the client's own namespace (consumer routes), then takes the oldest of
/// the producer routes (in the host's namespace) and the VirtualServices.
fn gamma_vs_for_host<'m>(
    mesh: &'m Mesh,
    scope: &Scope,
    host: &str,
    regular: Option<&Config<VirtualServiceSpec>>,
) -> Option<(usize, &'m crate::model::gwapi::GeneratedVs)> {
    let list = mesh.gateway_api.mesh_vs_by_host.get(host)?;
    let gen = |i: &usize| (*i, &mesh.gateway_api.virtual_services[*i]);
    if let Some(g) = list
        .iter()
        .map(gen)
        .find(|(_, g)| g.vs.namespace == scope.namespace)
    {
        return Some(g);
    }
    let host_ns = mesh
        .service(host)
        .map(|s| s.namespace.clone())
        .or_else(|| {
            mesh.service_entries_for(host)
                .first()
                .map(|&i| mesh.service_entries[i].namespace.clone())
        })?;
    let producer = list
        .iter()
        .map(gen)
        .find(|(_, g)| g.vs.namespace == host_ns)?;
    match regular {
        Some(vs) if vs.precedence_key() < producer.1.vs.precedence_key() => None,
        _ => Some(producer),
    }
}

fn passthrough_vhost(scope: &Scope) -> VirtualHost {
    let (name, policy, action) = match scope.policy {
        OutboundPolicy::AllowAny => (
            "allow_any",
            "ALLOW_ANY",
            Action::to_host("PassthroughCluster", None),
        ),
        OutboundPolicy::RegistryOnly => (
            "block_all",
            "REGISTRY_ONLY",
            Action::Direct {
                status: 502,
                body: String::new(),
            },
        ),
    };
    let source = words(scope.words, || {
        cat!(
            "outbound traffic policy ",
            policy,
            " (",
            scope.policy_source,
            ')'
        )
    });
    VirtualHost {
        name: name.into(),
        domains: vec!["*".into()],
        routes: Arc::new([Route::built(name, action, source)]),
        require_tls: false,
        source: words(scope.words, || {
            cat!(policy, ", set by ", scope.policy_source)
        }),
    }
}

/// True when a sidecar routes HTTP for `port` on a wildcard (0.0.0.0) listener: some visible
/// Service or ServiceEntry declares `port` with an HTTP protocol.
pub fn has_wildcard_http_listener(mesh: &Mesh, scope: &Scope, port: u16) -> bool {
    if let Some(list) = mesh.http_services_by_port.get(&port) {
        for &si in list {
            let s = &mesh.services[si];
            if scope.sees_host(port, &s.namespace, &s.hostname)
                && service_exported(mesh, &s.hostname, scope.namespace)
            {
                return true;
            }
        }
    }
    if let Some(list) = mesh.http_service_entries_by_port.get(&port) {
        for &i in list {
            let se = &mesh.service_entries[i];
            if scope.sees_host(port, &se.namespace, &se.host)
                && exported_to(&se.spec.export_to, &se.namespace, scope.namespace)
            {
                return true;
            }
        }
    }
    false
}

/// A host a sidecar's registry holds on one port: a Service (with its ExternalName aliases) or
/// a ServiceEntry host (possibly a wildcard).
#[derive(Debug, Clone)]
pub struct RegistryHost {
    pub host: String,
    pub protocol: crate::model::protocol::Protocol,
    /// `Service ns/name` or `ServiceEntry ns/name (file:line)`.
    pub what: String,
}

/// True when some registry host this sidecar imports on `port` matches a wildcard pattern.
fn registry_matching(mesh: &Mesh, scope: &Scope, port: u16, pattern: &str) -> bool {
    if let Some(list) = mesh.services_by_port.get(&port) {
        for &si in list {
            let s = &mesh.services[si];
            if host_matches(pattern, &s.hostname)
                && scope.sees_host(port, &s.namespace, &s.hostname)
                && service_exported(mesh, &s.hostname, scope.namespace)
            {
                return true;
            }
        }
    }
    if let Some(list) = mesh.service_entries_by_port.get(&port) {
        for &i in list {
            let se = &mesh.service_entries[i];
            if hosts_intersect(pattern, &se.host)
                && scope.sees_host(port, &se.namespace, &se.host)
                && exported_to(&se.spec.export_to, &se.namespace, scope.namespace)
            {
                return true;
            }
        }
    }
    false
}

/// The registry entry for a fully qualified host on `port`, if this sidecar imports it.
pub fn registry_host(mesh: &Mesh, scope: &Scope, port: u16, host: &str) -> Option<RegistryHost> {
    registry_host_described(mesh, scope, port, host, scope.words)
}

/// `registry_host`, saying what the host is (`what`) only when `describe`.
fn registry_host_described(
    mesh: &Mesh,
    scope: &Scope,
    port: u16,
    host: &str,
    describe: bool,
) -> Option<RegistryHost> {
    if let Some(s) = mesh.service(host) {
        if s.external_name.is_none() {
            let p = s.port(port)?;
            if scope.sees_host(port, &s.namespace, &s.hostname)
                && service_exported(mesh, &s.hostname, scope.namespace)
            {
                return Some(RegistryHost {
                    host: s.hostname.clone(),
                    protocol: p.protocol,
                    what: words(describe, || cat!("Service ", s)),
                });
            }
            return None;
        }
    }
    for i in mesh.se_by_host.get(host).into_iter().flatten().chain(
        mesh.se_wildcards
            .iter()
            .filter(|&&i| mesh.service_entries[i].host == host),
    ) {
        let se = &mesh.service_entries[*i];
        if let Some(proto) = se.protocol(port) {
            if scope.sees_host(port, &se.namespace, &se.host)
                && exported_to(&se.spec.export_to, &se.namespace, scope.namespace)
            {
                return Some(RegistryHost {
                    host: se.host.clone(),
                    protocol: proto,
                    what: words(describe, || {
                        cat!(
                            "ServiceEntry ",
                            se.namespace,
                            '/',
                            se.name,
                            " (",
                            se.origin.pos(),
                            ')'
                        )
                    }),
                });
            }
        }
    }
    None
}

/// Whether this sidecar imports a VirtualService for `port`: Istio's egress-listener selection
/// (exportTo, egress hosts), then, on ports other than 80, only VirtualServices with a host in
/// the registry (`selectVirtualServices` in pilot/pkg/networking/core/httproute.go).
fn imported_vs(mesh: &Mesh, scope: &Scope, port: u16, vi: usize) -> bool {
    if !mesh_bound(mesh, vi) || !scope.sees_vs(mesh, port, vi) {
        return false;
    }
    if port == 80 {
        return true;
    }
    mesh.vs_hosts[vi].iter().any(|h| {
        if h.contains('*') {
            registry_matching(mesh, scope, port, h)
        } else {
            registry_host(mesh, scope, port, h).is_some()
                || mesh.se_wildcards.iter().any(|&i| {
                    host_matches(&mesh.service_entries[i].host, h)
                        && mesh.service_entries[i].protocol(port).is_some()
                })
        }
    })
}

/// The VirtualService whose host most specifically matches `host` (exact first, then the
/// longest wildcard; the oldest on ties) among those imported: Istio's
/// `mostSpecificWildcardVsIndex`.
fn most_specific_vs(mesh: &Mesh, scope: &Scope, port: u16, host: &str) -> Option<usize> {
    if let Some(&i) = mesh
        .vs_by_host
        .get(host)
        .into_iter()
        .flatten()
        .find(|&&i| imported_vs(mesh, scope, port, i))
    {
        return Some(i);
    }
    let mut best: Option<(usize, usize)> = None;
    for &i in &mesh.vs_wildcards {
        if !imported_vs(mesh, scope, port, i) {
            continue;
        }
        for h in mesh.vs_hosts[i].iter() {
            if h.contains('*') && host_matches(h, host) && best.is_none_or(|(len, _)| h.len() > len)
            {
                best = Some((h.len(), i));
            }
        }
    }
    best.map(|(_, i)| i)
}

/// The VirtualServices that claim a registry host, in precedence order — every imported one
/// naming it exactly, else the most specific wildcard one — each with its routes for `port`
/// (a VirtualService without routes for the port claims nothing).
fn claiming_vs(mesh: &Mesh, scope: &Scope, port: u16, host: &str) -> Vec<(usize, Arc<[Route]>)> {
    let exact: Vec<usize> = mesh
        .vs_by_host
        .get(host)
        .into_iter()
        .flatten()
        .copied()
        .filter(|&i| imported_vs(mesh, scope, port, i))
        .collect();
    let list: Vec<usize> = if exact.is_empty() {
        most_specific_vs(mesh, scope, port, host)
            .into_iter()
            .collect()
    } else {
        exact
    };
    let mut out = Vec::new();
    for i in list {
        let routes = filter_routes(vs_routes(mesh, i), port, "mesh");
        if !routes.is_empty() {
            out.push((i, routes));
        }
    }
    out
}

/// The virtual host a registry host gets: its VirtualService's routes, or the default route.
fn registry_vhost(
    mesh: &Mesh,
    scope: &Scope,
    port: u16,
    reg: &RegistryHost,
    domain: &str,
) -> (Option<usize>, VirtualHost) {
    let claims = claiming_vs(mesh, scope, port, &reg.host);
    // The virtual host `<host>:<port>`, with its routes and where they come from.
    let vhost = |routes: Arc<[Route]>, source: String| VirtualHost {
        name: cat!(reg.host, ':', port),
        domains: vec![domain.to_string()],
        routes,
        require_tls: false,
        source,
    };
    // A mesh (GAMMA) route for the host may take precedence over the VirtualServices.
    let regular = claims.first().map(|(i, _)| &mesh.virtual_services[*i]);
    if let Some((gi, g)) = gamma_vs_for_host(mesh, scope, &reg.host, regular) {
        let routes = filter_routes(generated_routes(mesh, gi), port, "mesh");
        if !routes.is_empty() {
            let source = words(scope.words, || {
                let parents = g.vs.annotations.get(crate::model::gwapi::PARENTS);
                format!(
                    "{} — generated VirtualService {}/{} from {}",
                    reg.what,
                    g.vs.namespace,
                    g.vs.name,
                    parents.map(|v| v.as_str()).unwrap_or_default()
                )
            });
            return (Some(0), vhost(routes, source));
        }
    }
    match claims.into_iter().next() {
        Some((i, routes)) => {
            let vs = &mesh.virtual_services[i];
            let source = words(scope.words, || {
                cat!(
                    reg.what,
                    " — VirtualService ",
                    vs.namespace,
                    '/',
                    vs.name,
                    " (",
                    vs.origin.pos(),
                    ')'
                )
            });
            (Some(i), vhost(routes, source))
        }
        None => (
            None,
            vhost(
                Arc::new([Route::default_for(&reg.host, port)]),
                words(scope.words, || cat!(reg.what, " — default route")),
            ),
        ),
    }
}

/// The Services a Host header names from a sidecar in `scope.namespace`: the names Istio puts
/// in a Service's virtual-host domains (FQDN, `name.ns.svc`, `name.ns`, `name` in the same
/// namespace, the cluster IP), the same names of its ExternalName aliases (Istio's
/// ENABLE_EXTERNAL_NAME_ALIAS makes an ExternalName Service pointing at a mesh Service an alias
/// of it).
fn services_named(mesh: &Mesh, scope: &Scope, host: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut names: Vec<String> = service_candidates(host, scope.namespace);
    if let Ok(ip) = host.parse::<std::net::Ipv4Addr>() {
        if let Some(&si) = mesh.service_by_ip.get(&ip) {
            names.push(mesh.services[si].hostname.clone());
        }
    }
    for n in names {
        if let Some(s) = mesh.service(&n) {
            match &s.external_name {
                Some(target) if mesh.service(target).is_some() => out.push(target.clone()),
                Some(_) => {}
                None => out.push(s.hostname.clone()),
            }
        }
    }
    out
}

/// The virtual hosts of a sidecar's outbound route configuration `port` that could match
/// `authority`, in Istio's order — VirtualService wrappers first (a VirtualService's hosts
/// outside the registry, then the registry hosts it claims), then the registry hosts' default
/// virtual hosts; the first to claim a domain keeps it — plus the catch-all.
pub fn sidecar_vhosts(mesh: &Mesh, scope: &Scope, port: u16, authority: &str) -> Vec<VirtualHost> {
    use crate::model::protocol::Protocol;
    let host = strip_port(authority)
        .to_ascii_lowercase()
        .trim_end_matches('.')
        .to_string();
    let defaults = usize::MAX;
    let mut cands: Vec<(usize, usize, VirtualHost)> = Vec::new();
    let sniffable = |p: Protocol| p.is_http() || p == Protocol::Unknown;
    for h in services_named(mesh, scope, &host) {
        if let Some(reg) = registry_host(mesh, scope, port, &h).filter(|r| sniffable(r.protocol)) {
            let (vsi, vh) = registry_vhost(mesh, scope, port, &reg, &host);
            cands.push((vsi.unwrap_or(defaults), 1, vh));
        }
    }
    for i in mesh.service_entries_for(&host) {
        let se = &mesh.service_entries[i];
        if let Some(reg) =
            registry_host(mesh, scope, port, &se.host).filter(|r| sniffable(r.protocol))
        {
            let domain = if se.host.contains('*') {
                se.host.clone()
            } else {
                host.clone()
            };
            let (vsi, vh) = registry_vhost(mesh, scope, port, &reg, &domain);
            cands.push((vsi.unwrap_or(defaults), 1, vh));
        }
    }
    // VirtualService hosts outside the registry: a virtual host of their own on port 80, or
    // where the VirtualService also claims a registry host on this port.
    let mut vs_candidates: Vec<usize> = mesh.vs_by_host.get(&host).cloned().unwrap_or_default();
    vs_candidates.extend(mesh.vs_wildcards.iter().copied());
    vs_candidates.sort_unstable();
    vs_candidates.dedup();
    for i in vs_candidates {
        let vs = &mesh.virtual_services[i];
        if !imported_vs(mesh, scope, port, i) {
            continue;
        }
        let mut claims_registry = false;
        let mut own: Vec<&str> = Vec::new();
        for h in mesh.vs_hosts[i].iter() {
            let in_registry = if h.contains('*') {
                registry_matching(mesh, scope, port, h)
            } else {
                registry_host_described(mesh, scope, port, h, false).is_some()
            };
            if in_registry {
                claims_registry = true;
            } else if host_matches(h, &host) {
                own.push(h);
            }
        }
        if own.is_empty() || !(port == 80 || claims_registry) {
            continue;
        }
        let routes = filter_routes(vs_routes(mesh, i), port, "mesh");
        if routes.is_empty() {
            continue;
        }
        for h in own {
            cands.push((
                i,
                0,
                VirtualHost {
                    name: cat!(h, ':', port),
                    domains: vec![h.to_string()],
                    routes: routes.clone(),
                    require_tls: false,
                    source: words(scope.words, || {
                        cat!(
                            "VirtualService ",
                            vs.namespace,
                            '/',
                            vs.name,
                            " (",
                            vs.origin.pos(),
                            "), host ",
                            h,
                            " outside the registry"
                        )
                    }),
                },
            ));
        }
    }
    cands.sort_by_key(|(k, sub, _)| (*k, *sub));
    // The first virtual host to claim a domain keeps it (Istio's dedupeDomains).
    let mut seen: Vec<String> = Vec::new();
    let mut out: Vec<VirtualHost> = Vec::new();
    for (_, _, mut vh) in cands {
        vh.domains.retain(|d| !seen.contains(d));
        if vh.domains.is_empty() {
            continue;
        }
        seen.extend(vh.domains.iter().cloned());
        out.push(vh);
    }
    out.push(passthrough_vhost(scope));
    out
}

/// The route configuration of a sniffed (protocol `auto`) Service port: only that Service's
/// virtual host, matching any Host (`getVirtualHostsForSniffedServicePort`).
pub fn sniffed_vhosts(
    mesh: &Mesh,
    scope: &Scope,
    port: u16,
    reg: &RegistryHost,
) -> Vec<VirtualHost> {
    let (_, vh) = registry_vhost(mesh, scope, port, reg, "*");
    vec![vh]
}

/// A server of an Istio Gateway as a gateway proxy has it.
pub struct ServerRef<'m> {
    pub gateway: &'m Config<IstioGatewaySpec>,
    pub server: &'m Server,
    pub index: usize,
}

impl ServerRef<'_> {
    pub fn qualified(&self) -> String {
        cat!(self.gateway.namespace, '/', self.gateway.name)
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

/// Virtual hosts of a gateway's route configuration for the HTTP servers on one port that
/// could match `authority`: VirtualServices bound to each server's Gateway (those Istio
/// generates from Gateway API routes first, then the others, found through the model's
/// indexes by gateway and host), merged per host in precedence order. With `describe`, each
/// virtual host says where it comes from (a full trace's words).
pub fn gateway_vhosts(
    mesh: &Mesh,
    servers: &[ServerRef],
    port_number: u16,
    authority: &str,
    describe: bool,
) -> Vec<VirtualHost> {
    let host = strip_port(authority).to_ascii_lowercase();
    let mut out: Vec<VirtualHost> = Vec::new();
    // For each virtual host of `out`, the VirtualServices merged into it: (generated, index).
    let mut merged: Vec<Vec<(bool, usize)>> = Vec::new();
    for s in servers {
        let gname = s.qualified();
        if s.server.tls.as_ref().is_some_and(|t| t.https_redirect) {
            for h in &s.server.hosts {
                let (_, host) = server_host(h);
                if let Some(v) = out.iter_mut().find(|v| v.domains.iter().any(|d| d == host)) {
                    v.require_tls = true;
                    continue;
                }
                out.push(VirtualHost {
                    name: cat!(host, ':', port_number),
                    domains: vec![host.to_string()],
                    routes: Arc::new([]),
                    require_tls: true,
                    source: words(describe, || {
                        format!(
                            "Gateway {gname} server {} with httpsRedirect ({})",
                            s.index,
                            s.gateway
                                .origin
                                .pos_of(&["spec", "servers", &s.index.to_string()])
                        )
                    }),
                });
                merged.push(Vec::new());
            }
        }
        // Istio's order (`VirtualServicesForGateway`): VirtualServices generated from Gateway
        // API routes in the gateway's namespace, then the other generated ones, then the rest.
        let generated: Vec<(usize, &crate::model::gwapi::GeneratedVs)> = mesh
            .gateway_api
            .vs_by_gateway
            .get(&gname)
            .into_iter()
            .flatten()
            .map(|&i| (i, &mesh.gateway_api.virtual_services[i]))
            .collect();
        let mut regular: Vec<usize> = mesh
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
        regular.sort_unstable();
        regular.dedup();
        // (VirtualService, its qualified hosts, generated, index in its list).
        let bound = generated
            .iter()
            .filter(|(_, g)| g.vs.namespace == s.gateway.namespace)
            .chain(
                generated
                    .iter()
                    .filter(|(_, g)| g.vs.namespace != s.gateway.namespace),
            )
            .map(|&(i, g)| (&g.vs, &g.hosts, true, i))
            .chain(
                regular
                    .iter()
                    .map(|&vi| (&mesh.virtual_services[vi], &mesh.vs_hosts[vi], false, vi)),
            );
        for (vs, hosts, is_generated, i) in bound {
            let domains = server_domains(vs, hosts, s);
            if domains.is_empty() {
                continue;
            }
            let (kind, compiled) = if is_generated {
                ("generated VirtualService", generated_routes(mesh, i))
            } else {
                ("VirtualService", vs_routes(mesh, i))
            };
            let routes = filter_routes(compiled, port_number, &gname);
            for domain in domains {
                match out.iter().position(|v| v.domains.contains(&domain)) {
                    Some(at) => {
                        // Istio merges VirtualServices for one host on a gateway; routes keep
                        // the precedence order of their VirtualServices.
                        if !merged[at].contains(&(is_generated, i)) {
                            merged[at].push((is_generated, i));
                            let v = &mut out[at];
                            v.routes = v.routes.iter().chain(routes.iter()).cloned().collect();
                            if describe {
                                v.source.push_str(&format!(
                                    " + {kind} {}/{} ({})",
                                    vs.namespace,
                                    vs.name,
                                    vs.origin.pos()
                                ));
                            }
                        }
                    }
                    None => {
                        out.push(VirtualHost {
                            name: cat!(domain, ':', port_number),
                            domains: vec![domain.clone()],
                            routes: routes.clone(),
                            require_tls: false,
                            source: words(describe, || {
                                cat!(
                                    kind,
                                    ' ',
                                    vs.namespace,
                                    '/',
                                    vs.name,
                                    " (",
                                    vs.origin.pos(),
                                    ") on Gateway ",
                                    gname
                                )
                            }),
                        });
                        merged.push(vec![(is_generated, i)]);
                    }
                }
            }
        }
    }
    for v in &mut out {
        v.routes = sort_vhost_routes(&v.routes);
    }
    let serves_something = out.iter().any(|v| !v.routes.is_empty() || v.require_tls)
        || any_bound_routes(mesh, servers, port_number);
    if !serves_something {
        // No VirtualService for any server on the port: Istio's `blackhole:<port>` virtual host.
        out.push(VirtualHost {
            name: cat!("blackhole:", port_number),
            domains: vec!["*".into()],
            routes: Arc::new([]),
            require_tls: false,
            source: "no VirtualService is bound to the Gateway servers on this port".into(),
        });
    }
    out
}

/// The domains a VirtualService bound to a server's Gateway gives that server: each of its
/// hosts (`hosts`, fully qualified) that intersects a server host open to its namespace,
/// narrowed to the more specific.
fn server_domains(vs: &Config<VirtualServiceSpec>, hosts: &[String], s: &ServerRef) -> Vec<String> {
    let mut out = Vec::new();
    for sh in &s.server.hosts {
        let (sns, shost) = server_host(sh);
        let ns_ok = sns == "*"
            || sns == vs.namespace
            || (sns == "." && vs.namespace == s.gateway.namespace);
        if !ns_ok {
            continue;
        }
        for vh in hosts {
            if hosts_intersect(vh, shost) {
                let d = narrower(vh, shost).to_string();
                if !out.contains(&d) {
                    out.push(d);
                }
            }
        }
    }
    out
}

/// True when some VirtualService bound to the servers' Gateways (written or generated) has
/// routes for the port, for any host: it decides whether the port is a blackhole.
fn any_bound_routes(mesh: &Mesh, servers: &[ServerRef], port_number: u16) -> bool {
    servers.iter().any(|s| {
        let gname = s.qualified();
        let written = mesh
            .vs_by_gateway
            .get(&gname)
            .into_iter()
            .flatten()
            .any(|&vi| {
                !server_domains(&mesh.virtual_services[vi], &mesh.vs_hosts[vi], s).is_empty()
                    && any_route_applies(vs_routes(mesh, vi), port_number, &gname)
            });
        written
            || mesh
                .gateway_api
                .vs_by_gateway
                .get(&gname)
                .into_iter()
                .flatten()
                .any(|&i| {
                    let g = &mesh.gateway_api.virtual_services[i];
                    !server_domains(&g.vs, &g.hosts, s).is_empty()
                        && any_route_applies(generated_routes(mesh, i), port_number, &gname)
                })
    })
}

/// Istio's `IsCatchAllRoute`: a prefix `/` (or regex `.*`) without header or query matches
/// (a method match is a header match in Envoy).
fn catch_all(m: &RouteMatch) -> bool {
    let path = match &m.path {
        None => true,
        Some(StrMatch::Prefix(p)) | Some(StrMatch::PathPrefix(p)) => p == "/",
        Some(StrMatch::Regex(r)) => r == ".*",
        _ => false,
    };
    let more = m.more();
    path && m.headers.is_empty()
        && more.query.is_empty()
        && more.method.is_none()
        && more.authority.is_none()
        && more.scheme.is_none()
        && more.without_headers.is_empty()
}

/// Istio's `SortVHostRoutes` on a gateway: catch-all routes move to the end, the others keep
/// their order. Each match is its own Envoy route, so a route whose matches mix both is split.
pub fn sort_vhost_routes(routes: &Arc<[Route]>) -> Arc<[Route]> {
    // Already in order (nothing catch-all before a route that is not, no route mixing both):
    // the list is shared as it is.
    let last = |r: &Route| r.matches.is_empty() || r.matches.iter().all(catch_all);
    let mixed = |r: &Route| !last(r) && r.matches.iter().any(catch_all);
    let first_last = routes.iter().position(last).unwrap_or(routes.len());
    if !routes.iter().any(mixed) && routes[first_last..].iter().all(last) {
        return routes.clone();
    }
    let mut rest = Vec::new();
    let mut last = Vec::new();
    for r in routes.iter() {
        if r.matches.is_empty() {
            last.push(r.clone());
            continue;
        }
        if r.matches.iter().all(catch_all) {
            last.push(r.clone());
        } else if r.matches.iter().any(catch_all) {
            let (all, other): (Vec<RouteMatch>, Vec<RouteMatch>) =
                r.matches.iter().cloned().partition(catch_all);
            rest.push(Route {
                matches: other,
                ..r.clone()
            });
            last.push(Route {
                matches: all,
                ..r.clone()
            });
        } else {
            rest.push(r.clone());
        }
    }
    rest.extend(last);
    rest.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Istio's choice of a workload's Sidecar (`PushContext.getSidecarScope`): its namespace's
    /// Sidecar whose selector matches, else its namespace's Sidecar without a selector, else
    /// the root namespace's; others' Sidecars never apply, whichever comes first.
    #[test]
    fn a_workload_takes_its_namespace_s_sidecar_then_the_root_namespace_s() {
        let sidecar = |ns: &str, name: &str, selector: &str| {
            format!(
                "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n{selector}  egress:\n  - hosts: [\"./*\"]\n"
            )
        };
        let app = |a: &str| format!("  workloadSelector:\n    labels: {{app: {a}}}\n");
        let text = [
            sidecar("other", "picky", &app("x")),
            sidecar("other", "plain", ""),
            sidecar("a", "plain", ""),
            sidecar("a", "picky", &app("x")),
            sidecar("istio-system", "root", ""),
            sidecar("istio-system", "root-picky", &app("y")),
        ]
        .concat();
        let mesh = crate::mesh_of(&text);
        let chosen = |ns: &str, a: &str| {
            let mut labels = Labels::default();
            labels.insert("app", a);
            let scope = Scope::for_workload(&mesh, ns, &labels, true);
            let sidecar = scope.sidecar.unwrap_or_default();
            sidecar.split(" (").next().unwrap_or_default().to_string()
        };
        assert_eq!(chosen("a", "x"), "Sidecar a/picky");
        assert_eq!(chosen("a", "y"), "Sidecar a/plain");
        assert_eq!(chosen("b", "x"), "Sidecar istio-system/root");
        assert_eq!(chosen("b", "y"), "Sidecar istio-system/root");
        assert_eq!(
            chosen("istio-system", "y"),
            "Sidecar istio-system/root-picky"
        );
    }

    /// A Sidecar selector written as a policy's (`matchLabels`) has no labels to Istio: the
    /// Sidecar applies to every workload of its namespace, and meshsim warns at its line.
    #[test]
    fn a_sidecar_selector_with_match_labels_selects_every_workload_with_a_warning() {
        let text = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: a}\nspec:\n  workloadSelector:\n    matchLabels: {app: x}\n  egress:\n  - hosts: [\"./*\"]\n";
        let mesh = crate::mesh_of(text);
        let warning = mesh
            .diagnostics
            .iter()
            .find(|d| d.code == crate::diag::SIDECAR_SELECTS_ALL)
            .expect("a warning");
        assert_eq!(warning.line, 5, "{warning}");
        assert!(warning.message.contains("matchLabels"), "{warning}");
        let mut labels = Labels::default();
        labels.insert("app", "y");
        let scope = Scope::for_workload(&mesh, "a", &labels, true);
        assert!(scope.sidecar.is_some_and(|s| s.starts_with("Sidecar a/s ")));
    }

    proptest::proptest! {
        /// The Sidecar a workload takes, found through the index by namespace, is the one
        /// Istio's rule picks walking every Sidecar in precedence order: its namespace's with
        /// a matching selector, else its namespace's without one, else the root namespace's
        /// without one.
        #[test]
        fn the_indexed_sidecar_is_the_one_the_walk_finds(
            sidecars in proptest::collection::vec((0..3usize, 0..3usize), 0..8),
            ns in 0..4usize,
            app in 0..3usize,
        ) {
            const NS: [&str; 4] = ["a", "b", "istio-system", "c"];
            const APP: [&str; 3] = ["x", "y", "z"];
            let mut text = String::new();
            for (i, (n, selector)) in sidecars.iter().enumerate() {
                let selector = match selector {
                    0 => String::new(),
                    s => format!("  workloadSelector:\n    labels: {{app: {}}}\n", APP[s - 1]),
                };
                text.push_str(&format!(
                    "---\napiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {{name: s{i}, namespace: {}}}\nspec:\n{selector}  egress:\n  - hosts: [\"./*\"]\n",
                    NS[*n]
                ));
            }
            let mesh = crate::mesh_of(&text);
            let mut labels = Labels::default();
            labels.insert("app", APP[app]);
            let ns = NS[ns];
            let selectorless = |s: &&Config<SidecarSpec>| {
                s.spec.workload_selector.as_ref().is_none_or(|w| w.labels.is_empty())
            };
            let walked = mesh
                .sidecars
                .iter()
                .find(|s| {
                    s.namespace == ns
                        && s.spec.workload_selector.as_ref().is_some_and(|w| {
                            !w.labels.is_empty() && w.labels.is_subset_of(&labels)
                        })
                })
                .or_else(|| mesh.sidecars.iter().filter(|s| s.namespace == ns).find(selectorless))
                .or_else(|| {
                    mesh.sidecars
                        .iter()
                        .filter(|s| s.namespace == "istio-system")
                        .find(selectorless)
                })
                .map(|s| format!("Sidecar {}/{} ", s.namespace, s.name));
            let indexed = Scope::for_workload(&mesh, ns, &labels, true).sidecar;
            proptest::prop_assert_eq!(
                indexed.map(|s| s.split("(").next().unwrap_or_default()),
                walked.as_deref()
            );
        }
    }
}
