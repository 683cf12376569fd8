//! HTTP routing shared by every proxy kind: virtual host, route, action, cluster, endpoint.

use super::*;
use crate::model::addr::internet_ip;
use crate::model::ProxyKind;
use crate::sim::route::*;
use crate::sim::vhosts::{self};
use crate::sim::*;
use crate::text::{cat, Piece};
use std::net::Ipv4Addr;

impl<'m> Ctx<'m> {
    /// HTTP routing at a proxy: virtual host, route, action, cluster, endpoint, onward.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn route_http(
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
        let _mesh = self.mesh;
        let Some(vh) = select_vhost(&vhs, &msg.authority) else {
            step!(
                self,
                hop,
                "virtual host",
                format!("none matches {}", msg.authority),
                vhs.iter()
                    .map(|v| Tried {
                        what: format!("virtual host {} (domains {})", v.name, v.domains.join(", ")),
                        why: v.source.clone(),
                        pos: String::new(),
                    })
                    .collect(),
            );
            explain!(
                self,
                format!(
                    "no virtual host of route configuration {listener_port} matches host {:?}",
                    strip_port(&msg.authority)
                )
            );
            for v in &vhs {
                explain!(
                    self,
                    format!(
                        "  tried {} (domains {}) from {}",
                        v.name,
                        v.domains.join(", "),
                        v.source
                    )
                );
            }
            decide!(self, hop, "404: no virtual host for the host".into());
            let resp = Resp::local(404, "NR", "route_not_found", Outcome::LocalReply, 0);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        };
        step!(
            self,
            hop,
            "virtual host",
            cat!(
                vh.name,
                " (domains ",
                vh.domains.join(", "),
                ") from ",
                vh.source
            ),
            vec![],
        );
        if vh.require_tls && msg.scheme != "https" {
            let loc = format!("https://{}{}", msg.authority, msg.path);
            step!(
                self,
                hop,
                "route",
                "httpsRedirect: TLS is required on this host".to_string(),
                vec![],
            );
            decide!(self, hop, format!("301 to {loc} (httpsRedirect)"));
            let mut resp = Resp::local(301, "-", "direct_response", Outcome::LocalReply, 0);
            resp.headers.push(("location".into(), loc));
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        }
        // Route: the first whose match list has a hit.
        let mut tried = Vec::new();
        let mut chosen: Option<(&Route, Option<String>)> = None;
        for r in vh.routes.iter() {
            let input = MatchInput {
                method: &msg.method,
                path: &msg.path,
                authority: &msg.authority,
                scheme: &msg.scheme,
                headers: &msg.headers,
                port: listener_port,
                source_labels: Some(source_labels),
                source_namespace: Some(source_ns),
                gateway,
                regexes: &self.mesh.regexes,
            };
            if r.matches.is_empty() {
                chosen = Some((r, None));
                break;
            }
            if !self.full {
                if let Some(m) = r.matches.iter().find(|m| m.hits(&input)) {
                    chosen = Some((r, m.more().name.clone()));
                    break;
                }
                continue;
            }
            let mut misses = Vec::new();
            let mut hit = None;
            for m in &r.matches {
                match m.miss(&input) {
                    None => {
                        hit = Some(m.more().name.clone());
                        break;
                    }
                    Some(why) => misses.push(why),
                }
            }
            if let Some(name) = hit {
                chosen = Some((r, name));
                break;
            }
            let mut what = String::with_capacity(128);
            r.source.push_to(&mut what);
            what.push_str(" (");
            for (i, m) in r.matches.iter().enumerate() {
                if i > 0 {
                    what.push_str(" OR ");
                }
                m.describe_to(&mut what);
            }
            what.push(')');
            tried.push(Tried {
                what,
                why: misses.join("; "),
                pos: r.source.pos(),
            });
        }
        let Some((route, match_name)) = chosen else {
            explain!(
                self,
                format!(
                    "virtual host {} has no route matching {} {}",
                    vh.name, msg.method, msg.path
                )
            );
            for t in &tried {
                explain!(
                    self,
                    format!(
                        "  {} at {}: {}",
                        t.what,
                        if t.pos.is_empty() { "-" } else { &t.pos },
                        t.why
                    )
                );
            }
            if vh.routes.is_empty() {
                explain!(
                    self,
                    format!("  the virtual host has no routes: {}", vh.source)
                );
            }
            step!(
                self,
                hop,
                "route",
                format!("none of {} routes matches", vh.routes.len()),
                tried,
            );
            decide!(self, hop, "404: no route matches".into());
            let resp = Resp::local(404, "NR", "route_not_found", Outcome::LocalReply, 0);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        };
        let route_name = route.name.as_ref().map(|n| match &match_name {
            Some(m) if !n.is_empty() => cat!(n, '.', m),
            _ => n.to_string(),
        });
        log.route_name = route_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(CompactString::from);
        step!(
            self,
            hop,
            "route",
            match route.source.pos() {
                p if p.is_empty() => cat!(route.source),
                p => cat!(route.source, " (", p, ')'),
            },
            tried,
        );
        if let Some(status) = route.fault_abort {
            decide!(self, hop, format!("fault injection aborts with {status}"));
            let resp = Resp::local(status, "FI", "fault_filter_abort", Outcome::LocalReply, 18);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        }
        route.request_headers.apply(&mut msg.headers);
        match &route.action {
            Action::Direct { status, body } => {
                let what = if route.name.as_deref() == Some("block_all") {
                    explain!(self, format!(
                        "host {:?} is not in the service registry and the outbound traffic policy is REGISTRY_ONLY: the sidecar's block_all route answers 502",
                        strip_port(&msg.authority)
                    ));
                    explain!(self, "add a ServiceEntry for the host to allow it".into());
                    "block_all: REGISTRY_ONLY answers 502".to_string()
                } else {
                    format!("direct response {status}")
                };
                decide!(self, hop, what);
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
                decide!(self, hop, format!("{} redirect to {loc}", rd.code));
                let mut resp = Resp::local(rd.code, "-", "direct_response", Outcome::LocalReply, 0);
                resp.headers.push(("location".into(), loc));
                route.response_headers.apply(&mut resp.headers);
                self.finish_envoy(hop, log, &resp, start);
                resp
            }
            Action::Route(backends) => {
                let b = self.pick_backend(backends);
                let Some(b) = b else {
                    decide!(self, hop, "500: the route has no backend".into());
                    explain!(self, format!("{} has no usable backend", route.source));
                    let resp = Resp::local(500, "-", "direct_response", Outcome::LocalReply, 0);
                    self.finish_envoy(hop, log, &resp, start);
                    return resp;
                };
                // Istio answers 500 instead of 503 when a Gateway API route's cluster is
                // missing (`cluster_not_found_response_code: INTERNAL_SERVER_ERROR`).
                self.cluster_not_found_code = if route.gateway_api { 500 } else { 503 };
                if let BackendKind::Invalid(why) = &b.kind {
                    self.cluster = Some(b.host.clone());
                    let resp = self.no_cluster(hop, &b.host, why.clone());
                    self.finish_envoy(hop, log, &resp, start);
                    return resp;
                }
                for m in &route.mirrors {
                    step!(
                        self,
                        hop,
                        "mirror",
                        format!("a copy of the request goes to {m} (its response is ignored)"),
                        vec![],
                    );
                    note!(self, format!("{} mirrors the request to {m}", route.source));
                }
                b.request_headers.apply(&mut msg.headers);
                if let Some(rw) = &route.rewrite {
                    apply_rewrite(rw, &mut msg, route);
                    if log.path != msg.path {
                        // %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% keeps the original path.
                    }
                }
                if b.host == "PassthroughCluster" {
                    let (ip, port) = original_dst.unwrap_or((Ipv4Addr::UNSPECIFIED, listener_port));
                    step!(
                        self,
                        hop,
                        "cluster",
                        format!(
                            "PassthroughCluster: original destination {}",
                            fmt_ip(ip, port)
                        ),
                        vec![],
                    );
                    decide!(
                        self,
                        hop,
                        format!("allow_any: passthrough to {}", fmt_ip(ip, port))
                    );
                    let resp = self.pass_to_original_destination(ip, port, &mut log, pod_ip, msg);
                    let resp = self.respond(resp, route, b);
                    self.finish_envoy(hop, log, &resp, start);
                    return resp;
                }
                let resp = self.forward_to_cluster(
                    hop,
                    b,
                    listener_port,
                    source_ns,
                    &mut log,
                    pod_ip,
                    msg,
                    is_gateway,
                );
                let resp = self.respond(resp, route, b);
                self.finish_envoy(hop, log, &resp, start);
                resp
            }
        }
    }

    pub(super) fn respond(&self, mut resp: Resp, route: &Route, b: &WeightedBackend) -> Resp {
        b.response_headers.apply(&mut resp.headers);
        route.response_headers.apply(&mut resp.headers);
        resp
    }

    pub(super) fn pick_backend<'b>(
        &mut self,
        backends: &'b [WeightedBackend],
    ) -> Option<&'b WeightedBackend> {
        if backends.is_empty() {
            return None;
        }
        if backends.len() == 1 {
            return backends.first();
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
                let mut x =
                    (crate::model::addr::seeded(seed, &self.seed_key) % total as u64) as u32;
                for b in backends {
                    if x < b.weight {
                        return Some(b);
                    }
                    x -= b.weight;
                }
                backends.last()
            }
            _ => {
                let best = backends.iter().max_by_key(|b| b.weight);
                note!(self, format!("the route splits traffic by weight ({}); without --seed the heaviest backend is followed", self.split.iter().map(|(h, w)| format!("{h}: {w}")).collect::<Vec<_>>().join(", ")));
                best
            }
        }
    }

    /// Cluster and endpoint for a backend, then onward to the chosen endpoint.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_to_cluster(
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
        // A waypoint's clusters are per service VIP: `inbound-vip|<port>|http[/<subset>]|<host>`.
        let cluster = if self.in_waypoint {
            let kind = if subset.is_empty() {
                "http".to_string()
            } else {
                cat!("http/", subset)
            };
            cat!("inbound-vip|", port, '|', kind, '|', b.host)
        } else {
            cat!("outbound|", port, '|', subset, '|', b.host)
        };
        self.cluster = Some(cluster.clone());
        let _ = is_gateway;
        // Kubernetes Service.
        if let Some(s) = svc {
            if let Some(en) = &s.external_name {
                // ExternalName: Envoy's cluster resolves the CNAME target by DNS.
                log.upstream_cluster = Some(cluster.as_str().into());
                step!(
                    self,
                    hop,
                    "cluster",
                    format!("{cluster} (ExternalName Service → {en})"),
                    vec![],
                );
                let ip = internet_ip(en);
                self.upstream_from(log, pod_ip, (ip, port));
                self.routed_service = Some(Backend {
                    kind: "Service",
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                    workload: None,
                });
                decide!(self, hop, cat!("routed to ", cluster));
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
            static ANY: crate::parse::types::Labels = crate::parse::types::Labels::new();
            let (labels, subset_eps) = if subset.is_empty() {
                (&ANY, None)
            } else {
                match self.subset_of(&b.host, Some(&s.destination_rules), &subset, client_ns, &s.namespace) {
                    Some((dr, k, l)) => (l, mesh.subset_endpoints(dr, k)),
                    None => {
                        return self.no_cluster(
                            hop,
                            &cluster,
                            format!("no DestinationRule for {} defines subset {subset:?}, so Envoy has no cluster {cluster}", b.host),
                        )
                    }
                }
            };
            log.upstream_cluster = Some(cluster.as_str().into());
            self.routed_service = Some(Backend {
                kind: "Service",
                namespace: s.namespace.clone(),
                name: s.name.clone(),
                workload: None,
            });
            let eps = match subset_eps {
                Some(eps) => std::borrow::Cow::Borrowed(eps),
                None => mesh.endpoints(s, labels),
            };
            let Some(&(dwi, dpi)) = eps.first() else {
                step!(
                    self,
                    hop,
                    "endpoints",
                    format!("{cluster}: no ready endpoints"),
                    vec![],
                );
                explain!(
                    self,
                    if labels.is_empty() {
                        format!("Service {} selects no ready pod: cluster {cluster} has no healthy upstream", s.display())
                    } else {
                        format!("no ready pod of Service {} carries the labels of subset {subset} ({labels:?}): cluster {cluster} has no healthy upstream", s.display())
                    }
                );
                decide!(self, hop, format!("503: {cluster} has no healthy upstream"));
                return Resp::local(503, "UH", "no_healthy_upstream", Outcome::LocalReply, 19);
            };
            let dw = &mesh.workloads[dwi];
            let tp = target_port(dw, sp.target.clone(), port);
            let dip = dw.pods[dpi].ip;
            step!(
                self,
                hop,
                "cluster",
                cat!(
                    cluster,
                    " → endpoint ",
                    fmt_ip(dip, tp),
                    " (pod ",
                    dw.pods[dpi].name,
                    ')'
                ),
                vec![],
            );
            decide!(self, hop, cat!("routed to ", cluster));
            let local = self.upstream_from(log, pod_ip, (dip, tp));
            let mut next = msg;
            next.protocol = if sp.protocol.is_h2() {
                "HTTP/2"
            } else {
                "HTTP/1.1"
            };
            // Auto mTLS: only workloads labelled `security.istio.io/tlsMode: istio` (injected
            // sidecars) get mTLS; Istio's gateway templates set no such label, so a gateway is
            // called in plaintext unless a DestinationRule asks for ISTIO_MUTUAL.
            let meshy = dw.proxy == ProxyKind::Sidecar
                || self
                    .dr_tls_mode(&b.host, &subset, port, client_ns, &s.namespace)
                    .as_deref()
                    == Some("ISTIO_MUTUAL");
            let sni = meshy.then(|| cat!("outbound_.", port, "_.", subset, "_.", b.host));
            if dw.proxy == ProxyKind::Ambient {
                // An ambient pod is reached over HBONE through its node's ztunnel; a waypoint
                // does so through its internal `connect_originate` listener.
                // The identity of this hop's proxy: the workload of the pod it runs in.
                let id = mesh
                    .pod_by_ip
                    .get(&pod_ip)
                    .map(|&(wi, _)| mesh.workloads[wi].identity(&mesh.settings.trust_domain));
                if self.in_waypoint {
                    log.upstream_host = Some(compact_str::format_compact!(
                        "envoy://connect_originate/{}",
                        fmt_ip(dip, tp)
                    ));
                    log.upstream_local_address = Some("envoy://internal_client_address/".into());
                }
                return self.ztunnel_inbound(
                    dwi,
                    dpi,
                    tp,
                    Conn {
                        remote: local,
                        sni: None,
                        from_mesh: true,
                    },
                    id,
                    next,
                );
            }
            return self.deliver(
                dwi,
                dpi,
                tp,
                Conn {
                    remote: local,
                    sni: sni.map(CompactString::from),
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
                    .subset_of(&b.host, None, &subset, client_ns, &e.namespace)
                    .is_none()
            {
                return self.no_cluster(hop, &cluster, format!("no DestinationRule for {} defines subset {subset:?}, so Envoy has no cluster {cluster}", b.host));
            }
            log.upstream_cluster = Some(cluster.as_str().into());
            self.routed_service = Some(Backend {
                kind: "ServiceEntry",
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
                step!(
                    self,
                    hop,
                    "endpoints",
                    format!("{cluster}: no endpoints"),
                    vec![]
                );
                explain!(
                    self,
                    format!(
                        "ServiceEntry {}/{} has resolution STATIC but no endpoint addresses",
                        e.namespace, e.name
                    )
                );
                decide!(self, hop, format!("503: {cluster} has no healthy upstream"));
                return Resp::local(503, "UH", "no_healthy_upstream", Outcome::LocalReply, 19);
            };
            step!(
                self,
                hop,
                "cluster",
                cat!(
                    cluster,
                    if e.external() {
                        " (MESH_EXTERNAL ServiceEntry "
                    } else {
                        " (MESH_INTERNAL ServiceEntry "
                    },
                    e.namespace,
                    '/',
                    e.name,
                    ", resolution ",
                    resolution,
                    ") → ",
                    ip,
                    ':',
                    port
                ),
                vec![],
            );
            decide!(self, hop, cat!("routed to ", cluster));
            let local = self.upstream_from(log, pod_ip, (ip, port));
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
            let mut msg = msg;
            if let Some(mode) = self
                .dr_tls_mode(&b.host, &subset, port, client_ns, &e.namespace)
                .filter(|m| m == "SIMPLE" || m == "MUTUAL")
            {
                // TLS origination: the proxy opens TLS ({mode}) to the external host.
                step!(self, hop, "tls", format!("DestinationRule for {host} sets tls.mode {mode}: the proxy originates TLS to {}", fmt_ip(ip, port)), vec![]);
                msg.scheme = "https".into();
            }
            return self.internet(ip, port, Some(&host), msg);
        }
        self.no_cluster(hop, &cluster, format!("{} is neither a Service nor a ServiceEntry host, so Envoy has no cluster {cluster}", b.host))
    }

    pub(super) fn no_cluster(&mut self, hop: usize, cluster: &str, why: String) -> Resp {
        step!(
            self,
            hop,
            "cluster",
            format!("{cluster}: not found"),
            vec![]
        );
        explain!(self, why);
        let code = self.cluster_not_found_code;
        decide!(self, hop, format!("{code}: no cluster {cluster}"));
        Resp::local(code, "NC", "cluster_not_found", Outcome::LocalReply, 0)
    }

    /// The DestinationRule that applies to a host for a client, looked up as Istio does: the
    /// client's namespace, then the host's, then the root namespace; the oldest first.
    pub(super) fn destination_rule(
        &self,
        host: &str,
        client_ns: &str,
        host_ns: &str,
    ) -> Option<&'m crate::model::Config<crate::parse::types::DestinationRuleSpec>> {
        let i = self.destination_rule_index(host, None, client_ns, host_ns)?;
        Some(&self.mesh.destination_rules[i])
    }

    /// [`Ctx::destination_rule`], as an index into `Mesh::destination_rules`; `listed`: the
    /// rules for the host when the caller has them (a Service's).
    fn destination_rule_index(
        &self,
        host: &str,
        listed: Option<&[usize]>,
        client_ns: &str,
        host_ns: &str,
    ) -> Option<usize> {
        let mesh = self.mesh;
        let drs = match listed {
            Some(drs) => drs,
            None => mesh.dr_by_host.get(host)?,
        };
        let root = mesh.control_plane.namespace.as_str();
        for ns in [client_ns, host_ns, root] {
            for &i in drs {
                let dr = &mesh.destination_rules[i];
                if dr.namespace == ns
                    && vhosts::exported_to(&dr.spec.export_to, &dr.namespace, client_ns)
                {
                    return Some(i);
                }
            }
        }
        None
    }

    /// The DestinationRule subset named `subset` of the rule that applies: (rule index,
    /// subset index, labels); None when that rule does not define it.
    pub(super) fn subset_of(
        &self,
        host: &str,
        listed: Option<&[usize]>,
        subset: &str,
        client_ns: &str,
        host_ns: &str,
    ) -> Option<(usize, usize, &'m crate::parse::types::Labels)> {
        let i = self.destination_rule_index(host, listed, client_ns, host_ns)?;
        let subsets = &self.mesh.destination_rules[i].spec.subsets;
        let k = subsets.iter().position(|s| s.name == subset)?;
        Some((i, k, &subsets[k].labels))
    }

    /// The client TLS mode a DestinationRule sets for a host's subset and port (subset policy,
    /// then port-level, then the rule's own), e.g. `SIMPLE` for TLS origination.
    pub(super) fn dr_tls_mode(
        &self,
        host: &str,
        subset: &str,
        port: u16,
        client_ns: &str,
        host_ns: &str,
    ) -> Option<String> {
        let dr = self.destination_rule(host, client_ns, host_ns)?;
        let from_policy = |p: &crate::parse::types::TrafficPolicy| -> Option<String> {
            for pl in &p.port_level_settings {
                let n = pl
                    .get("port")
                    .and_then(|x| x.get("number"))
                    .and_then(|x| x.as_u64());
                if n == Some(port as u64) {
                    if let Some(m) = pl
                        .get("tls")
                        .and_then(|t| t.get("mode"))
                        .and_then(|m| m.as_str())
                    {
                        return Some(m.to_string());
                    }
                }
            }
            p.tls.as_ref().and_then(|t| t.mode.clone())
        };
        let sub = dr
            .spec
            .subsets
            .iter()
            .find(|s| s.name == subset)
            .and_then(|s| s.traffic_policy.as_deref())
            .and_then(from_policy);
        sub.or_else(|| dr.spec.traffic_policy.as_deref().and_then(from_policy))
    }
}

pub(super) fn apply_rewrite(rw: &Rewrite, msg: &mut Msg, route: &Route) {
    let (path, query) = match msg.path.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (msg.path.to_string(), None),
    };
    let mut new_path = path.clone();
    if let Some(full) = &rw.full_path {
        new_path = full.clone();
    } else if let Some((prefix, repl)) = &rw.prefix {
        new_path = envoy_prefix_rewrite(&path, prefix, repl);
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
            .push(("x-envoy-original-path".into(), msg.path.to_string()));
    }
    msg.path = match query {
        Some(q) => compact_str::format_compact!("{new_path}?{q}"),
        None => new_path.into(),
    };
    if let Some(a) = &rw.authority {
        msg.authority = a.as_str().into();
    }
}

/// Envoy's `prefix_rewrite`: the matched prefix is replaced by the new one, the rest of the
/// path kept as it is (`/one` + `/two` for `/prefix/one/two` matched by `/prefix/one`).
pub fn envoy_prefix_rewrite(path: &str, prefix: &str, repl: &str) -> String {
    match path.strip_prefix(prefix) {
        Some(rest) => format!("{repl}{rest}"),
        None => path.to_string(),
    }
}

pub(super) fn redirect_location(rd: &Redirect, msg: &Msg, listener_port: u16) -> String {
    if rd.gateway_api {
        return envoy_redirect_location(rd, msg, listener_port);
    }
    let scheme = rd.scheme.clone().unwrap_or_else(|| msg.scheme.to_string());
    let orig_host = strip_port(&msg.authority).to_string();
    let orig_port: Option<u16> = msg
        .authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok());
    let host = rd.host.clone().unwrap_or(orig_host);
    let default_port = |s: &str| if s == "https" { 443 } else { 80 };
    let port = rd
        .port
        .or(if rd.scheme.is_some() { None } else { orig_port });
    let port = port.filter(|&p| p != default_port(&scheme));
    let path = match &rd.path {
        Some(p) => p.clone(),
        None => msg.path.to_string(),
    };
    match port {
        Some(p) => format!("{scheme}://{host}:{p}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

/// The Location of a redirect generated from a Gateway API RequestRedirect, built as Istio
/// configures Envoy's `RedirectAction` (`ApplyRedirect`) and as Envoy composes the URI:
/// - port: an explicit port; else, without a scheme change, the listener's port
///   (`FROM_REQUEST_PORT`); else none. Istio drops 80 for http and 443 for https.
/// - host: the redirect hostname, else the request's Host without its port when a port is
///   set, or when the scheme changes and the port was the old scheme's default.
/// - path: ReplaceFullPath replaces the path (the query is kept), ReplacePrefixMatch swaps
///   the matched prefix (Envoy's `prefix_rewrite`).
fn envoy_redirect_location(rd: &Redirect, msg: &Msg, listener_port: u16) -> String {
    let scheme = rd.scheme.clone().unwrap_or_else(|| msg.scheme.to_string());
    let mut port = match (rd.port, rd.derive_port.as_deref()) {
        (Some(p), _) => Some(p),
        (None, Some("FROM_REQUEST_PORT")) => Some(listener_port),
        _ => None,
    };
    if port == Some(80) && scheme == "http" || port == Some(443) && scheme == "https" {
        port = None;
    }
    let host = match &rd.host {
        Some(h) => h.clone(),
        None => {
            let auth = msg.authority.as_str();
            let bare = strip_port(auth);
            let req_port = &auth[bare.len()..];
            let remove = port.is_some()
                || (scheme != msg.scheme
                    && ((msg.scheme == "https" && req_port == ":443")
                        || (msg.scheme == "http" && req_port == ":80")));
            if remove {
                bare.to_string()
            } else {
                auth.to_string()
            }
        }
    };
    let (orig_path, query) = match msg.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (msg.path.as_str(), None),
    };
    let with_query = |p: String| match query {
        Some(q) => format!("{p}?{q}"),
        None => p,
    };
    let path = match (&rd.path, &rd.prefix_rewrite) {
        (Some(p), _) if p.contains('?') => p.clone(),
        (Some(p), _) => with_query(p.clone()),
        (None, Some((prefix, repl))) => with_query(envoy_prefix_rewrite(orig_path, prefix, repl)),
        _ => msg.path.to_string(),
    };
    match port {
        Some(p) => format!("{scheme}://{host}:{p}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(authority: &str, path: &str) -> Msg {
        Msg {
            method: "GET".into(),
            scheme: "http".into(),
            authority: authority.into(),
            path: path.into(),
            headers: vec![],
            protocol: "HTTP/1.1",
            xff: None,
            sni: None,
        }
    }

    fn redirect(scheme: Option<&str>, host: Option<&str>, port: Option<u16>) -> Redirect {
        Redirect {
            scheme: scheme.map(str::to_string),
            host: host.map(str::to_string),
            port,
            path: None,
            prefix_rewrite: None,
            code: 302,
            // As Istio derives it from a Gateway API RequestRedirect without a port.
            derive_port: port.is_none().then(|| {
                if scheme.is_some() {
                    "FROM_PROTOCOL_DEFAULT".to_string()
                } else {
                    "FROM_REQUEST_PORT".to_string()
                }
            }),
            gateway_api: true,
        }
    }

    #[test]
    fn gateway_api_redirect_uses_the_listener_port_unless_the_scheme_changes() {
        // HTTPRouteRedirectPortAndScheme (Gateway API conformance), listener on 8080.
        let m = msg("10.0.0.1:8080", "/scheme-nil-and-port-nil");
        let rd = redirect(None, Some("example.org"), None);
        assert_eq!(
            redirect_location(&rd, &m, 8080),
            "http://example.org:8080/scheme-nil-and-port-nil"
        );
        let rd = redirect(Some("https"), Some("example.org"), None);
        assert_eq!(
            redirect_location(&rd, &m, 8080),
            "https://example.org/scheme-nil-and-port-nil"
        );
        let rd = redirect(None, Some("example.org"), Some(80));
        assert_eq!(
            redirect_location(&rd, &m, 8080),
            "http://example.org/scheme-nil-and-port-nil"
        );
    }

    #[test]
    fn envoy_keeps_a_non_default_request_port_when_only_the_scheme_changes() {
        // processRequestHost strips :80 when leaving http, not other ports.
        let rd = redirect(Some("https"), None, None);
        assert_eq!(
            redirect_location(&rd, &msg("a.com:80", "/x"), 80),
            "https://a.com/x"
        );
        assert_eq!(
            redirect_location(&rd, &msg("a.com:8080", "/x"), 8080),
            "https://a.com:8080/x"
        );
    }

    #[test]
    fn prefix_replacement_swaps_the_matched_prefix_only() {
        let mut rd = redirect(None, None, None);
        rd.prefix_rewrite = Some(("/original-prefix".into(), "/replacement-prefix".into()));
        assert_eq!(
            redirect_location(&rd, &msg("a.com", "/original-prefix/lemon?x=1"), 80),
            "http://a.com/replacement-prefix/lemon?x=1"
        );
        assert_eq!(
            envoy_prefix_rewrite("/prefix/one/two", "/prefix/one", "/one"),
            "/one/two"
        );
    }
}
