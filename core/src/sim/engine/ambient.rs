//! Ambient mode: ztunnel as the L4 hop on the client's and the server's node (HBONE on port
//! 15008 with SPIFFE identities, plain passthrough where the peer is not in the mesh), and
//! waypoints as the L7 hop for Services and ServiceEntries that use one. ztunnel does no HTTP
//! routing and applies no L7 policy.

use super::*;
use crate::model::{ProxyKind, WaypointChoice};
use crate::sim::route::{generated_routes, Route, VirtualHost};
use crate::sim::vhosts::filter_routes;
use crate::sim::*;
use compact_str::{format_compact, ToCompactString};
use std::net::{Ipv4Addr, SocketAddrV4};

/// What a ztunnel or waypoint is carrying the connection to.
#[derive(Debug, Clone)]
pub(super) enum Target {
    Service(usize),
    Entry(usize),
    /// A pod's own address (workload-addressed traffic).
    Pod(usize, usize),
}

impl Ctx<'_> {
    fn ztunnel_hop(&mut self, wi: usize, pi: usize, direction: &'static str) -> usize {
        let mesh = self.mesh;
        let pod = mesh.workloads[wi].pods[pi].name.clone();
        let (node, zt) = mesh.node_of(&pod);
        let h = self.push_named_hop(
            HopKind::Ztunnel,
            mesh.control_plane.ztunnel_namespace.as_str().into(),
            "ztunnel".into(),
            zt.into(),
            direction,
        );
        step!(
            self,
            h,
            "node",
            format!("ztunnel of node {node}, where pod {pod} runs"),
            vec![],
        );
        h
    }

    fn identity(&self, wi: usize) -> String {
        self.mesh.workloads[wi].identity(&self.mesh.settings.trust_domain)
    }

    /// Source fields of a ztunnel line.
    fn zt_src(
        &self,
        wi: usize,
        pi: usize,
        addr: SocketAddrV4,
        mtls: bool,
    ) -> Vec<(&'static str, CompactString, bool)> {
        let w = &self.mesh.workloads[wi];
        let mut f = vec![
            ("src.addr", fmt_addr(addr), false),
            ("src.workload", w.pods[pi].name.clone(), true),
            ("src.namespace", w.namespace.clone(), true),
        ];
        if mtls {
            f.push(("src.identity", self.identity(wi).into(), true));
        }
        f
    }

    fn finish_ztunnel(
        &mut self,
        hop: usize,
        mut fields: Vec<(&'static str, CompactString, bool)>,
        direction: &str,
        resp: &Resp,
        start: u64,
        msg_bytes: u64,
    ) {
        let end = self.clock + 1;
        self.clock = end;
        fields.push(("direction", direction.into(), true));
        let failed = resp.status == 0 && resp.decided.is_some();
        if !failed {
            fields.push(("bytes_sent", msg_bytes.to_compact_string(), false));
            fields.push(("bytes_recv", (resp.body + 150).to_compact_string(), false));
        }
        fields.push(("duration", format_compact!("{}ms", end - start), true));
        let mut level = "info";
        if failed {
            level = "error";
            let why = self
                .explanation
                .first()
                .cloned()
                .unwrap_or_else(|| "connection failed".into());
            fields.push(("error", why.replace('"', "'").into(), true));
        }
        self.hops[hop].ztunnel_log = Some(ZtunnelLog {
            start_us: start * 1000 + 182,
            level,
            message: "connection complete",
            fields,
        });
    }

    /// An ambient pod's outbound connection, taken by its node's ztunnel.
    pub(super) fn ztunnel_outbound(
        &mut self,
        wi: usize,
        pi: usize,
        ip: Ipv4Addr,
        port: u16,
        msg: Msg,
    ) -> Resp {
        let mesh = self.mesh;
        let hop = self.ztunnel_hop(wi, pi, "outbound");
        let start = self.now();
        let w = &mesh.workloads[wi];
        let src = SocketAddrV4::new(w.pods[pi].ip, self.eph());
        let bytes = 78 + msg.path.len() as u64;
        // What the address is.
        let target = if let Some(&si) = mesh.service_by_ip.get(&ip) {
            Some(Target::Service(si))
        } else {
            mesh.se_by_auto_vip
                .get(&ip)
                .map(|&i| Target::Entry(i))
                .or_else(|| {
                    mesh.se_by_address
                        .get(&ip.to_string())
                        .map(|&i| Target::Entry(i))
                })
                .or_else(|| {
                    mesh.pod_by_ip
                        .get(&ip)
                        .filter(|(dwi, _)| mesh.workloads[*dwi].proxy == ProxyKind::Ambient)
                        .map(|&(dwi, dpi)| Target::Pod(dwi, dpi))
                })
        };
        let choice = match &target {
            Some(Target::Service(si)) => {
                let s = &mesh.services[*si];
                mesh.waypoint_for(
                    &s.namespace,
                    &s.labels,
                    &format!("Service {}", s.display()),
                    false,
                )
            }
            Some(Target::Entry(i)) => {
                let e = &mesh.service_entries[*i];
                mesh.waypoint_for(
                    &e.namespace,
                    &e.labels,
                    &format!("ServiceEntry {}/{}", e.namespace, e.name),
                    false,
                )
            }
            // Traffic to a pod's own address uses a waypoint only where the pod (or its
            // namespace) names one that serves workload traffic (`istio.io/waypoint-for`
            // workload or all).
            Some(Target::Pod(dwi, _)) => {
                let d = &mesh.workloads[*dwi];
                mesh.waypoint_for(
                    &d.namespace,
                    &d.labels,
                    &format!("pod of {}", d.display()),
                    true,
                )
            }
            None => WaypointChoice::None(
                "the destination is not a Service or ServiceEntry address".into(),
            ),
        };
        match choice {
            WaypointChoice::Use {
                workload,
                gateway,
                why,
            } => {
                let (vip, host) = self.target_vip_host(target.as_ref(), ip);
                let wp = &mesh.workloads[workload];
                let Some(wpi) = wp.pods.iter().position(|p| p.ready) else {
                    explain!(self, format!("waypoint {gateway} has no ready pod"));
                    let resp =
                        Resp::local(0, "-", "waypoint_unavailable", Outcome::ConnectionFailed, 0);
                    let f = self.zt_src(wi, pi, src, true);
                    self.finish_ztunnel(hop, f, "outbound", &resp, start, 0);
                    return resp;
                };
                let wp_ip = wp.pods[wpi].ip;
                step!(
                    self,
                    hop,
                    "waypoint",
                    format!("{host} uses waypoint {gateway} ({why})"),
                    vec![],
                );
                decide!(
                    self,
                    hop,
                    format!("HBONE to waypoint {gateway} at {wp_ip}:15008 for {vip}:{port}")
                );
                let mut f = self.zt_src(wi, pi, src, true);
                f.push(("dst.addr", format_compact!("{wp_ip}:15008"), false));
                f.push(("dst.hbone_addr", format_compact!("{vip}:{port}"), false));
                if !matches!(target, Some(Target::Pod(..))) {
                    f.push(("dst.service", host.clone().into(), true));
                }
                f.push(("dst.workload", wp.pods[wpi].name.clone(), true));
                f.push(("dst.namespace", wp.namespace.clone(), true));
                f.push(("dst.identity", self.identity(workload).into(), true));
                let conn = Conn {
                    remote: src,
                    sni: None,
                    from_mesh: true,
                };
                let resp = self.waypoint(workload, wpi, target.clone(), vip, port, conn, msg);
                self.finish_ztunnel(hop, f, "outbound", &resp, start, bytes);
                resp
            }
            WaypointChoice::Missing {
                name,
                namespace,
                why,
            } => {
                explain!(self, format!("{why}, but no waypoint {namespace}/{name} (a Gateway of class istio-waypoint) exists: ztunnel has no waypoint to send the connection to and refuses it"));
                explain!(self, format!("create the waypoint (istioctl waypoint apply -n {namespace} --name {name}) or fix the label"));
                step!(
                    self,
                    hop,
                    "waypoint",
                    format!("waypoint {namespace}/{name} does not exist"),
                    vec![],
                );
                decide!(
                    self,
                    hop,
                    "connection refused: the waypoint does not exist".into()
                );
                let resp = Resp::local(0, "-", "waypoint_not_found", Outcome::ConnectionFailed, 0);
                let mut f = self.zt_src(wi, pi, src, true);
                f.push(("dst.addr", fmt_ip(ip, port), false));
                self.finish_ztunnel(hop, f, "outbound", &resp, start, 0);
                resp
            }
            WaypointChoice::WrongTrafficType {
                gateway,
                traffic,
                why,
            } => {
                step!(self, hop, "waypoint", format!("{why}, but waypoint {gateway} serves {traffic} traffic only: not used for a Service address"), vec![]);
                self.ztunnel_direct(hop, wi, pi, ip, port, target, src, msg, start, bytes)
            }
            WaypointChoice::None(why) => {
                step!(self, hop, "waypoint", format!("no waypoint: {why}"), vec![]);
                let host = self.target_vip_host(target.as_ref(), ip).1;
                let unapplied = self.unapplied_routes(&host);
                if !unapplied.is_empty() {
                    note!(self, format!(
                        "routes attached to {host} ({}) have no effect here: ztunnel does no HTTP routing, and {host} uses no waypoint (label it istio.io/use-waypoint)",
                        unapplied.join(", ")
                    ));
                    step!(
                        self,
                        hop,
                        "L7",
                        format!("ignored: {} (no waypoint)", unapplied.join(", ")),
                        vec![],
                    );
                }
                self.ztunnel_direct(hop, wi, pi, ip, port, target, src, msg, start, bytes)
            }
        }
    }

    fn target_vip_host(&self, target: Option<&Target>, ip: Ipv4Addr) -> (Ipv4Addr, String) {
        let mesh = self.mesh;
        match target {
            Some(Target::Service(si)) => (
                mesh.services[*si].cluster_ip.unwrap_or(ip),
                mesh.services[*si].hostname.clone(),
            ),
            Some(Target::Entry(i)) => (ip, mesh.service_entries[*i].host.clone()),
            Some(Target::Pod(dwi, dpi)) => (ip, mesh.workloads[*dwi].pods[*dpi].name.to_string()),
            None => (ip, ip.to_string()),
        }
    }

    /// ztunnel without a waypoint: to a Service's endpoint (HBONE when the pod is in the ambient
    /// mesh, plain TCP otherwise), or to the address itself.
    #[allow(clippy::too_many_arguments)]
    fn ztunnel_direct(
        &mut self,
        hop: usize,
        wi: usize,
        pi: usize,
        ip: Ipv4Addr,
        port: u16,
        target: Option<Target>,
        src: SocketAddrV4,
        msg: Msg,
        start: u64,
        bytes: u64,
    ) -> Resp {
        let mesh = self.mesh;
        let (dwi, dpi, tport, svc_host) = match &target {
            Some(Target::Service(si)) => {
                let s = &mesh.services[*si];
                let Some(sp) = s.port(port).cloned() else {
                    explain!(self, format!("Service {} has no port {port}", s.display()));
                    let resp =
                        Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
                    let f = self.zt_src(wi, pi, src, true);
                    self.finish_ztunnel(hop, f, "outbound", &resp, start, 0);
                    return resp;
                };
                let eps = mesh.endpoints(s, &Default::default());
                let Some(&(dwi, dpi)) = eps.first() else {
                    explain!(
                        self,
                        format!(
                            "Service {} has no ready endpoints: ztunnel cannot connect",
                            s.display()
                        )
                    );
                    let resp =
                        Resp::local(0, "-", "no_healthy_upstream", Outcome::ConnectionFailed, 0);
                    let f = self.zt_src(wi, pi, src, true);
                    self.finish_ztunnel(hop, f, "outbound", &resp, start, 0);
                    return resp;
                };
                self.routed_service = Some(Backend {
                    kind: "Service",
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                    workload: None,
                });
                let tp = target_port(&mesh.workloads[dwi], sp.target.clone(), port);
                (dwi, dpi, tp, Some(s.hostname.clone()))
            }
            _ => match mesh.pod_by_ip.get(&ip) {
                Some(&(dwi, dpi)) => (dwi, dpi, port, None),
                None => {
                    // Outside the mesh: plain TCP to the address. A ServiceEntry host without a
                    // waypoint is resolved by DNS to its own address first.
                    let ip = match &target {
                        Some(Target::Entry(i)) if mesh.se_by_auto_vip.contains_key(&ip) => {
                            crate::model::addr::internet_ip(&mesh.service_entries[*i].host)
                        }
                        _ => ip,
                    };
                    if let Some(Target::Entry(i)) = &target {
                        let e = &mesh.service_entries[*i];
                        self.routed_service = Some(Backend {
                            kind: "ServiceEntry",
                            namespace: e.namespace.clone(),
                            name: e.name.clone(),
                            workload: None,
                        });
                    }
                    decide!(
                        self,
                        hop,
                        format!("passthrough to {} (not in the mesh)", fmt_ip(ip, port))
                    );
                    let mut f = self.zt_src(wi, pi, src, false);
                    f.push(("dst.addr", fmt_ip(ip, port), false));
                    if let Some(Target::Entry(i)) = &target {
                        f.push((
                            "dst.service",
                            mesh.service_entries[*i].host.clone().into(),
                            true,
                        ));
                    }
                    let local = SocketAddrV4::new(mesh.workloads[wi].pods[pi].ip, self.eph());
                    let resp = self.connect(ip, port, Conn::plain(local), msg);
                    self.finish_ztunnel(hop, f, "outbound", &resp, start, bytes);
                    return resp;
                }
            },
        };
        let dw = &mesh.workloads[dwi];
        let dip = dw.pods[dpi].ip;
        let hbone = dw.proxy == ProxyKind::Ambient;
        let mut f = self.zt_src(wi, pi, src, hbone);
        if hbone {
            f.push(("dst.addr", format_compact!("{dip}:15008"), false));
            f.push(("dst.hbone_addr", fmt_ip(dip, tport), false));
        } else {
            f.push(("dst.addr", fmt_ip(dip, tport), false));
        }
        if let Some(h) = &svc_host {
            f.push(("dst.service", h.clone().into(), true));
        }
        f.push(("dst.workload", dw.pods[dpi].name.clone(), true));
        f.push(("dst.namespace", dw.namespace.clone(), true));
        if hbone {
            f.push(("dst.identity", self.identity(dwi).into(), true));
        }
        decide!(
            self,
            hop,
            if hbone {
                format!("HBONE to {dip}:15008 for {}", fmt_ip(dip, tport))
            } else {
                format!(
                    "plain TCP to {} (the pod is not in the ambient mesh)",
                    fmt_ip(dip, tport)
                )
            }
        );
        let resp = if hbone {
            let conn = Conn {
                remote: src,
                sni: None,
                from_mesh: true,
            };
            let id = self.identity(wi);
            self.ztunnel_inbound(dwi, dpi, tport, conn, Some(id), msg)
        } else {
            let local = SocketAddrV4::new(mesh.workloads[wi].pods[pi].ip, self.eph());
            self.deliver(dwi, dpi, tport, Conn::plain(local), msg, None)
        };
        self.finish_ztunnel(hop, f, "outbound", &resp, start, bytes);
        resp
    }

    /// The destination node's ztunnel delivers to an ambient pod: HBONE (from a ztunnel or a
    /// waypoint, with the peer's identity) or inbound passthrough (plain TCP from outside).
    pub(super) fn ztunnel_inbound(
        &mut self,
        wi: usize,
        pi: usize,
        port: u16,
        conn: Conn,
        peer_identity: Option<String>,
        msg: Msg,
    ) -> Resp {
        let mesh = self.mesh;
        let hop = self.ztunnel_hop(wi, pi, "inbound");
        let start = self.now();
        let w = &mesh.workloads[wi];
        let dip = w.pods[pi].ip;
        let bytes = 78 + msg.path.len() as u64;
        let mut f: Vec<(&'static str, CompactString, bool)> =
            vec![("src.addr", fmt_addr(conn.remote), false)];
        // The source workload, when the address is a pod's.
        if let Some(&(swi, spi)) = mesh.pod_by_ip.get(conn.remote.ip()) {
            f.push((
                "src.workload",
                mesh.workloads[swi].pods[spi].name.clone(),
                true,
            ));
            f.push(("src.namespace", mesh.workloads[swi].namespace.clone(), true));
        }
        if let Some(id) = &peer_identity {
            f.push(("src.identity", id.clone().into(), true));
            f.push(("dst.addr", format_compact!("{dip}:15008"), false));
            f.push(("dst.hbone_addr", fmt_ip(dip, port), false));
        } else {
            f.push(("dst.addr", fmt_ip(dip, port), false));
        }
        if let Some(b) = &self.routed_service {
            if b.kind == "Service" {
                f.push((
                    "dst.service",
                    format_compact!("{}.{}.{}", b.name, b.namespace, crate::model::DOMAIN),
                    true,
                ));
            }
        }
        f.push(("dst.workload", w.pods[pi].name.clone(), true));
        f.push(("dst.namespace", w.namespace.clone(), true));
        if peer_identity.is_some() {
            f.push(("dst.identity", self.identity(wi).into(), true));
        }
        step!(
            self,
            hop,
            "inbound",
            if peer_identity.is_some() {
                format!("HBONE from {} to {}", conn.remote, fmt_ip(dip, port))
            } else {
                format!(
                    "inbound passthrough (plain TCP from outside the mesh) to {}",
                    fmt_ip(dip, port)
                )
            },
            vec![],
        );
        decide!(self, hop, format!("to pod {} port {port}", w.pods[pi].name));
        // ztunnel enforces L4 authorization only: L7 rules (paths, methods, request headers) of
        // policies selecting the pod need a waypoint. Only a note says so: a verdict skips it.
        let policies = if self.full {
            &mesh.authorization_policies[..]
        } else {
            &[]
        };
        for ap in policies {
            let selects = ap.namespace == w.namespace
                && ap.spec.selector.as_ref().is_some_and(|sel| {
                    !sel.match_labels.is_empty() && sel.match_labels.is_subset_of(&w.labels)
                });
            let l7 = selects
                && ap.spec.rules.iter().any(|r| {
                    let t = serde_yaml::to_string(r).unwrap_or_default();
                    [
                        "paths:",
                        "methods:",
                        "hosts:",
                        "request.headers",
                        "notPaths:",
                        "notMethods:",
                    ]
                    .iter()
                    .any(|k| t.contains(k))
                });
            if selects && l7 {
                note!(self, format!(
                    "AuthorizationPolicy {}/{} ({}) has L7 rules: ztunnel cannot enforce them (only a waypoint can); authorization is not simulated by meshsim yet",
                    ap.namespace,
                    ap.name,
                    ap.origin.pos()
                ));
            }
        }
        let resp = self.app(wi, pi, port, msg);
        self.finish_ztunnel(hop, f, "inbound", &resp, start, bytes);
        resp
    }

    /// A waypoint: HTTP routing for the Service or ServiceEntry the connection was addressed to
    /// (its default route, or the routes attached to it), then HBONE to the chosen endpoint.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn waypoint(
        &mut self,
        wi: usize,
        pi: usize,
        target: Option<Target>,
        vip: Ipv4Addr,
        port: u16,
        conn: Conn,
        msg: Msg,
    ) -> Resp {
        let mesh = self.mesh;
        let hop = self.push_hop(HopKind::Waypoint, wi, pi, "waypoint");
        let start = self.now();
        let w = &mesh.workloads[wi];
        let pod_ip = w.pods[pi].ip;
        let log = EnvoyLog {
            ..self.request_log(&msg, start, (vip, port), conn.remote)
        };
        if let Some(Target::Pod(dwi, dpi)) = target {
            // Workload-addressed traffic: the waypoint's direct pod chain, cluster `encap`,
            // then HBONE to the pod.
            let mut log = log;
            step!(
                self,
                hop,
                "listener",
                format!(
                    "HBONE terminated; direct pod chain for {}",
                    fmt_ip(vip, port)
                ),
                vec![],
            );
            self.cluster = Some("encap".into());
            log.route_name = Some("default".into());
            log.upstream_cluster = Some("encap".into());
            log.upstream_host = Some(format_compact!(
                "envoy://connect_originate/{}",
                fmt_ip(vip, port)
            ));
            log.upstream_local_address = Some("envoy://internal_client_address/".into());
            decide!(
                self,
                hop,
                format!("to pod {} (encap)", mesh.workloads[dwi].pods[dpi].name)
            );
            let id = Some(self.identity(wi));
            let remote = SocketAddrV4::new(pod_ip, self.eph());
            let resp = self.ztunnel_inbound(
                dwi,
                dpi,
                port,
                Conn {
                    remote,
                    sni: None,
                    from_mesh: true,
                },
                id,
                msg,
            );
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        }
        let host = match &target {
            Some(Target::Service(si)) => mesh.services[*si].hostname.clone(),
            Some(Target::Entry(i)) => mesh.service_entries[*i].host.clone(),
            Some(Target::Pod(..)) | None => vip.to_string(),
        };
        step!(
            self,
            hop,
            "listener",
            format!("HBONE terminated; connection for {vip}:{port} ({host})"),
            vec![],
        );
        let vhs = self.waypoint_vhosts(&host, port);
        let (labels, ns) = (
            mesh.workloads[wi].labels.clone(),
            mesh.workloads[wi].namespace.clone(),
        );
        let saved = self.in_waypoint;
        self.in_waypoint = true;
        let resp = self.route_http(
            hop,
            vhs,
            port,
            &["mesh".to_string()],
            log,
            pod_ip,
            Some((vip, port)),
            msg,
            start,
            &labels,
            &ns,
            false,
        );
        self.in_waypoint = saved;
        resp
    }

    /// The virtual hosts of a waypoint for one Service or ServiceEntry host: the routes
    /// attached to it, else its default route.
    fn waypoint_vhosts(&self, host: &str, port: u16) -> Vec<VirtualHost> {
        let mesh = self.mesh;
        // HTTPRoutes and GRPCRoutes whose parent is the Service or ServiceEntry (GAMMA), as
        // Istio converts them; the oldest generated VirtualService first.
        for &i in mesh
            .gateway_api
            .mesh_vs_by_host
            .get(host)
            .into_iter()
            .flatten()
        {
            let g = &mesh.gateway_api.virtual_services[i];
            let routes = filter_routes(generated_routes(mesh, i), port, "mesh");
            if !routes.is_empty() {
                let parents =
                    g.vs.annotations
                        .get(crate::model::gwapi::PARENTS)
                        .cloned()
                        .unwrap_or_default();
                return vec![VirtualHost {
                    name: format!("inbound|http|{port}"),
                    domains: vec!["*".into()],
                    routes,
                    require_tls: false,
                    source: format!("routes attached to {host}: {parents}"),
                }];
            }
        }
        vec![VirtualHost {
            name: format!("inbound|http|{port}"),
            domains: vec!["*".into()],
            routes: std::sync::Arc::new([Route::default_for(host, port)]),
            require_tls: false,
            source: format!("default route of {host}"),
        }]
    }

    /// Routes attached to a host that only a waypoint (or a sidecar) would apply.
    fn unapplied_routes(&self, host: &str) -> Vec<String> {
        let mesh = self.mesh;
        let mut out = Vec::new();
        for &i in mesh
            .gateway_api
            .mesh_vs_by_host
            .get(host)
            .into_iter()
            .flatten()
        {
            if let Some(p) = mesh.gateway_api.virtual_services[i]
                .vs
                .annotations
                .get(crate::model::gwapi::PARENTS)
            {
                out.push(p.to_string());
            }
        }
        out
    }
}
