//! Sidecar hops: outbound (listener, virtual host, route) and inbound (to the application).

use super::*;
use crate::model::protocol::Protocol;
use crate::model::OutboundPolicy;
use crate::sim::vhosts::{self, Scope};
use crate::sim::*;
use crate::text::cat;
use std::net::{Ipv4Addr, SocketAddrV4};

impl Ctx<'_> {
    pub(super) fn sidecar_outbound(
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
        let client_port = self.eph();
        let scope = Scope::for_workload(mesh, &w.namespace, &w.labels, self.full);
        if let Some(s) = &scope.sidecar {
            step!(
                self,
                hop,
                "scope",
                format!("{s} limits what this sidecar sees"),
                vec![],
            );
        }
        let dst_local = fmt_ip(ip, port);
        let mut log = EnvoyLog {
            ..self.request_log(
                &msg,
                start,
                (ip, port),
                SocketAddrV4::new(pod_ip, client_port),
            )
        };
        if msg.sni.is_some() {
            return self.sidecar_tls_outbound(hop, wi, pi, ip, port, msg, log, &scope, start);
        }
        // Listener: the address's own listener (a Service VIP, a headless Service's pod, a
        // ServiceEntry address), else the wildcard HTTP listener of the port, else the
        // passthrough chain.
        let vip_service = mesh
            .service_by_ip
            .get(&ip)
            .copied()
            .or_else(|| {
                // Headless Services get a listener per endpoint address for non-HTTP ports.
                let &(dwi, _) = mesh.pod_by_ip.get(&ip)?;
                mesh.services_of_workload(dwi).into_iter().find(|&si| {
                    let s = &mesh.services[si];
                    s.cluster_ip.is_none() && s.port(port).is_some_and(|p| !p.protocol.is_http())
                })
            })
            .filter(|&si| {
                let s = &mesh.services[si];
                s.port(port).is_some()
                    && scope.sees_host(port, &s.namespace, &s.hostname)
                    && vhosts::service_exported(mesh, &s.hostname, &w.namespace)
            });
        let vip_proto = vip_service
            .and_then(|si| mesh.services[si].port(port))
            .map(|p| p.protocol);
        if vip_proto == Some(Protocol::Unknown) {
            if let Some(reg) = vip_service.and_then(|si| {
                vhosts::registry_host(mesh, &scope, port, &mesh.services[si].hostname)
            }) {
                // Protocol sniffing: the request is HTTP, so the listener's HTTP chain routes it
                // with the route configuration `<host>:<port>`, which holds only this Service.
                step!(self,
                    hop,
                    "listener",
                    format!("{dst_local}: {} port {port} has no declared protocol; sniffed as HTTP, route configuration \"{}:{port}\"", reg.what, reg.host),
                    vec![],
                );
                let vhs = vhosts::sniffed_vhosts(mesh, &scope, port, &reg);
                return self.route_outbound(hop, wi, pod_ip, vhs, (ip, port), log, msg, start);
            }
        }
        let http = match vip_proto {
            Some(p) => p.is_http(),
            None => vhosts::has_wildcard_http_listener(mesh, &scope, port),
        };
        if !http {
            if let Some(si) = vip_service {
                let s = &mesh.services[si];
                step!(
                    self,
                    hop,
                    "listener",
                    format!(
                        "{dst_local}: TCP proxy for Service {} (port {port} is {})",
                        s.display(),
                        vip_proto.map(|p| p.as_str()).unwrap_or("TCP")
                    ),
                    vec![],
                );
                let cluster = cat!("outbound|", port, "||", s.hostname);
                return self.tcp_to_service(hop, si, port, cluster, log, pod_ip, msg);
            }
            // No listener: the virtual outbound listener's passthrough chain.
            log.tcp = true;
            let what = format!("no listener for {dst_local}");
            let unknown = format!("{dst_local} is not a known Service port");
            return self.passthrough_chain(hop, ip, port, log, pod_ip, msg, &scope, start, "TCP", &what, &unknown, "declare the destination with a ServiceEntry, or allow it in the Sidecar's egress hosts");
        }
        step!(
            self,
            hop,
            "listener",
            match vip_service {
                Some(si) => cat!(
                    dst_local,
                    ": HTTP route configuration \"",
                    port,
                    "\" (Service ",
                    mesh.services[si],
                    ')'
                ),
                None => cat!("0.0.0.0:", port, ": HTTP route configuration \"", port, '"'),
            },
            vec![],
        );
        let vhs = vhosts::sidecar_vhosts(mesh, &scope, port, &msg.authority);
        self.route_outbound(hop, wi, pod_ip, vhs, (ip, port), log, msg, start)
    }

    /// HTTP routing at the sidecar of workload `wi`'s pod at `pod_ip` for a connection to
    /// `dst`, with the virtual hosts of the route configuration its listener chose.
    #[allow(clippy::too_many_arguments)]
    fn route_outbound(
        &mut self,
        hop: usize,
        wi: usize,
        pod_ip: Ipv4Addr,
        vhs: Vec<crate::sim::route::VirtualHost>,
        dst: (Ipv4Addr, u16),
        log: EnvoyLog,
        msg: Msg,
        start: u64,
    ) -> Resp {
        let w = &self.mesh.workloads[wi];
        self.route_http(
            hop,
            vhs,
            dst.1,
            &["mesh".to_string()],
            log,
            pod_ip,
            Some(dst),
            msg,
            start,
            &w.labels,
            &w.namespace,
            false,
        )
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn tcp_to_service(
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
            kind: "Service",
            namespace: s.namespace.clone(),
            name: s.name.clone(),
            workload: None,
        });
        log.upstream_cluster = Some(cluster.as_str().into());
        let eps = mesh.endpoints(s, &Default::default());
        let Some(&(dwi, dpi)) = eps.first() else {
            explain!(
                self,
                format!(
                    "Service {} has no ready endpoints: cluster {cluster} has no healthy upstream",
                    s.display()
                )
            );
            let resp = Resp::local(0, "UH", "-", Outcome::ConnectionFailed, 0);
            decide!(self, hop, format!("{cluster}: no healthy upstream"));
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        };
        let sp = s.port(port).cloned();
        let tp = sp
            .as_ref()
            .map(|p| target_port(&mesh.workloads[dwi], p.target.clone(), port))
            .unwrap_or(port);
        let dip = mesh.workloads[dwi].pods[dpi].ip;
        let local = self.upstream_from(&mut log, pod_ip, (dip, tp));
        decide!(
            self,
            hop,
            format!("TCP proxy to {cluster} → {}", fmt_ip(dip, tp))
        );
        let sni = format!("outbound_.{port}_._.{}", s.hostname);
        let resp = self.deliver(
            dwi,
            dpi,
            tp,
            Conn {
                remote: local,
                sni: Some(sni.into()),
                from_mesh: true,
            },
            msg,
            sp.map(|p| p.protocol),
        );
        self.finish_envoy(hop, log, &resp, start);
        resp
    }

    pub(super) fn sidecar_inbound(
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
        let cluster = cat!("inbound|", port, "||");
        let local_port = self.eph();
        let full = self.full;
        let log = EnvoyLog {
            upstream_cluster: Some(cluster.as_str().into()),
            upstream_host: full.then(|| fmt_ip(pod_ip, port)),
            upstream_local_address: full.then(|| fmt_ip(Ipv4Addr::new(127, 0, 0, 6), local_port)),
            requested_server_name: conn.sni.clone(),
            route_name: if tcp { None } else { Some("default".into()) },
            x_forwarded_for: msg.xff.clone(),
            tcp,
            ..self.request_log(&msg, start, (pod_ip, port), conn.remote)
        };
        step!(
            self,
            hop,
            "listener",
            cat!(
                "inbound ",
                fmt_ip(pod_ip, port),
                " (",
                if conn.from_mesh {
                    "mTLS from a mesh proxy"
                } else {
                    "plaintext, accepted in PERMISSIVE mode"
                },
                ')',
                if tcp { ", TCP proxy" } else { "" }
            ),
            vec![],
        );
        step!(self, hop, "cluster", cluster.clone(), vec![]);
        if self.cluster.is_none() {
            self.cluster = Some(cluster.clone());
        }
        decide!(
            self,
            hop,
            cat!("to the application on port ", port, " (", cluster, ')')
        );
        let resp = self.app(wi, pi, port, msg);
        self.finish_envoy(hop, log, &resp, start);
        resp
    }
}

impl Ctx<'_> {
    /// PassthroughCluster: the connection goes on, in plaintext, to the address the client
    /// dialled, from the proxy's pod.
    pub(super) fn pass_to_original_destination(
        &mut self,
        ip: Ipv4Addr,
        port: u16,
        log: &mut EnvoyLog,
        pod_ip: Ipv4Addr,
        msg: Msg,
    ) -> Resp {
        self.cluster = Some("PassthroughCluster".into());
        log.upstream_cluster = Some("PassthroughCluster".into());
        let local = self.upstream_from(log, pod_ip, (ip, port));
        self.connect(ip, port, Conn::plain(local), msg)
    }

    /// The virtual outbound listener's passthrough chain, for what no listener or filter chain
    /// took: ALLOW_ANY sends it to PassthroughCluster (the original destination), REGISTRY_ONLY
    /// to BlackHoleCluster, which closes the connection (flag UH). The step names where the
    /// policy was set.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn passthrough_chain(
        &mut self,
        hop: usize,
        ip: Ipv4Addr,
        port: u16,
        mut log: EnvoyLog,
        pod_ip: Ipv4Addr,
        msg: Msg,
        scope: &Scope,
        start: u64,
        kind: &str,
        what: &str,
        unknown: &str,
        hint: &str,
    ) -> Resp {
        let dst = fmt_ip(ip, port);
        match scope.policy {
            OutboundPolicy::AllowAny => {
                step!(
                    self,
                    hop,
                    "listener",
                    format!(
                        "{what}: passthrough (ALLOW_ANY, set by {})",
                        scope.policy_source
                    ),
                    vec![],
                );
                decide!(self, hop, format!("{kind} passthrough to {dst}"));
                let resp = self.pass_to_original_destination(ip, port, &mut log, pod_ip, msg);
                self.finish_envoy(hop, log, &resp, start);
                resp
            }
            OutboundPolicy::RegistryOnly => {
                step!(
                    self,
                    hop,
                    "listener",
                    format!(
                        "{what}: BlackHoleCluster (REGISTRY_ONLY, set by {})",
                        scope.policy_source
                    ),
                    vec![],
                );
                self.cluster = Some("BlackHoleCluster".into());
                log.upstream_cluster = Some("BlackHoleCluster".into());
                explain!(self, format!(
                    "{unknown} and the outbound traffic policy is REGISTRY_ONLY ({}): the sidecar sends the connection to BlackHoleCluster, which closes it",
                    scope.policy_source
                ));
                explain!(self, hint.to_string());
                decide!(self, hop, "BlackHoleCluster: connection closed".into());
                let resp = Resp::local(0, "UH", "-", Outcome::ConnectionFailed, 0);
                self.finish_envoy(hop, log, &resp, start);
                resp
            }
        }
    }
}
