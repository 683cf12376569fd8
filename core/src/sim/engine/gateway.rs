//! Gateway hops: Istio Gateway servers bound to a gateway pod's port, then HTTP routing.

use super::*;
use crate::model::protocol::Protocol;
use crate::model::{Mesh, Workload};
use crate::sim::vhosts::{self, ServerRef};
use crate::sim::*;

impl Ctx<'_> {
    /// A gateway proxy (injected, or deployed for a Gateway API Gateway).
    pub(super) fn gateway(
        &mut self,
        wi: usize,
        pi: usize,
        port: u16,
        conn: Conn,
        mut msg: Msg,
    ) -> Resp {
        let mesh = self.mesh;
        let w = &mesh.workloads[wi];
        let hop = self.push_hop(HopKind::Gateway, wi, pi, "gateway");
        let start = self.now();
        let pod_ip = w.pods[pi].ip;
        // Gateways append the downstream address to X-Forwarded-For (use_remote_address).
        msg.xff = Some(match &msg.xff {
            Some(x) => compact_str::format_compact!("{x},{}", conn.remote.ip()),
            None => cat!(*conn.remote.ip()).into(),
        });
        let log = EnvoyLog {
            x_forwarded_for: msg.xff.clone(),
            ..self.request_log(&msg, start, (pod_ip, port), conn.remote)
        };
        // Servers of Istio Gateways selecting this workload, bound to this pod port.
        let services = &mesh.services_by_workload[wi];
        let mut servers: Vec<ServerRef> = Vec::new();
        let mut other_ports: Vec<String> = Vec::new();
        // Istio Gateways selecting this workload (indexed at model build), and the ones Istio
        // generates per listener of a Gateway API Gateway (bound to that Gateway's own
        // deployment, in its namespace).
        let indexed = mesh
            .istio_gateways_by_workload
            .get(&wi)
            .into_iter()
            .flatten()
            .map(|&gi| &mesh.istio_gateways[gi]);
        let generated = mesh
            .gateway_api
            .istio_gateways
            .iter()
            .filter(|(g, _)| g.namespace == w.namespace)
            .map(|(g, _)| g)
            .filter(|g| g.selects(w));
        for gw in indexed.chain(generated) {
            for (i, s) in gw.spec.servers.iter().enumerate() {
                let pod_port = server_pod_port(mesh, services, w, s.port.number);
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
            step!(
                self,
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
            explain!(self, format!("gateway {} has no listener on port {port}: no Gateway server is bound to it, so the connection is refused", w.display()));
            if other_ports.is_empty() {
                explain!(
                    self,
                    "no Istio Gateway selects this gateway workload".into()
                );
            }
            decide!(self, hop, "no listener: connection refused".into());
            let resp = Resp::local(0, "-", "connection_refused", Outcome::ConnectionFailed, 0);
            // Envoy logs nothing for a connection no listener accepted.
            self.hops[hop].envoy_log = None;
            return resp;
        }
        if msg.sni.is_some() {
            return self.gateway_tls(hop, wi, pi, port, servers, log, msg, start);
        }
        // Plain HTTP is served by the HTTP servers of the port only.
        servers.retain(|s| {
            Protocol::from_name(
                s.server.port.protocol.as_deref().unwrap_or(""),
                s.server.port.name.as_deref(),
            )
            .is_http()
                || servers_all_tls_free(s)
        });
        if servers.is_empty() {
            explain!(self, format!("every Gateway server on port {port} expects TLS (HTTPS or TLS), and the request is plain HTTP: the connection is reset"));
            decide!(self, hop, "plain HTTP to a TLS-only port".into());
            return Resp::local(
                0,
                "-",
                "filter_chain_not_found",
                Outcome::ConnectionFailed,
                0,
            );
        }
        let number = servers[0].server.port.number;
        let proto = Protocol::from_name(
            servers[0].server.port.protocol.as_deref().unwrap_or(""),
            servers[0].server.port.name.as_deref(),
        );
        let names: Vec<String> = servers
            .iter()
            .map(|s| cat!(s.qualified(), " server ", s.index))
            .collect();
        step!(
            self,
            hop,
            "listener",
            cat!(
                pod_ip,
                ':',
                port,
                " → route configuration http.",
                number,
                " (servers: ",
                names.join(", "),
                ')'
            ),
            vec![],
        );
        if !(proto.is_http()) {
            explain!(
                self,
                format!(
                    "the Gateway server on port {number} speaks {} and the request is plain HTTP",
                    proto.as_str()
                )
            );
            decide!(
                self,
                hop,
                format!(
                    "server protocol {} does not accept plain HTTP",
                    proto.as_str()
                )
            );
            return Resp::local(
                0,
                "-",
                "filter_chain_not_found",
                Outcome::ConnectionFailed,
                0,
            );
        }
        self.route_at_gateway(hop, wi, &servers, number, log, pod_ip, msg, start)
    }

    /// HTTP routing at gateway workload `wi` with the route configuration of `servers` on
    /// port `number`.
    #[allow(clippy::too_many_arguments)]
    fn route_at_gateway(
        &mut self,
        hop: usize,
        wi: usize,
        servers: &[ServerRef],
        number: u16,
        log: EnvoyLog,
        pod_ip: Ipv4Addr,
        msg: Msg,
        start: u64,
    ) -> Resp {
        let mesh = self.mesh;
        let vhs = vhosts::gateway_vhosts(mesh, servers, number, &msg.authority, self.full);
        let gws: Vec<String> = servers.iter().map(|s| s.qualified()).collect();
        let w = &mesh.workloads[wi];
        self.route_http(
            hop,
            vhs,
            number,
            &gws,
            log,
            pod_ip,
            None,
            msg,
            start,
            &w.labels,
            &w.namespace,
            true,
        )
    }
}

/// Istio binds a Gateway server's port to the gateway pod's port: the target port of the
/// gateway Service port with that number, or the number itself when no Service port has it.
pub(super) fn server_pod_port(mesh: &Mesh, services: &[usize], w: &Workload, number: u16) -> u16 {
    for &si in services {
        if let Some(p) = mesh.services[si].port(number) {
            return target_port(w, p.target.clone(), number);
        }
    }
    number
}

/// A server that declares no TLS settings and no TLS protocol still takes plain HTTP.
fn servers_all_tls_free(s: &ServerRef) -> bool {
    s.server.tls.is_none()
        && !matches!(
            s.server.port.protocol.as_deref(),
            Some("HTTPS") | Some("TLS")
        )
}

impl Ctx<'_> {
    /// TLS at a gateway: the filter chain whose server hosts match the SNI either terminates
    /// TLS (`tls.mode` SIMPLE, MUTUAL, ISTIO_MUTUAL) and routes the HTTP inside, or passes the
    /// stream through (PASSTHROUGH) by the VirtualServices' `tls` routes.
    #[allow(clippy::too_many_arguments)]
    fn gateway_tls(
        &mut self,
        hop: usize,
        wi: usize,
        pi: usize,
        port: u16,
        servers: Vec<ServerRef>,
        mut log: EnvoyLog,
        mut msg: Msg,
        start: u64,
    ) -> Resp {
        let mesh = self.mesh;
        let pod_ip = mesh.workloads[wi].pods[pi].ip;
        let sni = msg.sni.clone().unwrap_or_default();
        let host_of = |h: &str| h.split_once('/').map(|x| x.1).unwrap_or(h).to_string();
        let matching: Vec<ServerRef> = servers
            .into_iter()
            .filter(|s| {
                s.server.tls.is_some()
                    || matches!(
                        s.server.port.protocol.as_deref(),
                        Some("HTTPS") | Some("TLS")
                    )
            })
            .filter(|s| {
                s.server
                    .hosts
                    .iter()
                    .any(|h| crate::model::host_matches(&host_of(h), &sni))
            })
            .collect();
        let Some(first) = matching.first() else {
            step!(
                self,
                hop,
                "listener",
                format!(
                    "no TLS filter chain on {} for SNI {sni}",
                    fmt_ip(pod_ip, port)
                ),
                vec![],
            );
            explain!(
                self,
                format!(
                    "no Gateway server on port {port} takes TLS for {sni}: the TLS handshake fails"
                )
            );
            decide!(
                self,
                hop,
                "no filter chain for the SNI: connection reset".into()
            );
            return Resp::local(
                0,
                "-",
                "filter_chain_not_found",
                Outcome::ConnectionFailed,
                0,
            );
        };
        let mode = first
            .server
            .tls
            .as_ref()
            .and_then(|t| t.mode.clone())
            .unwrap_or_else(|| "SIMPLE".into());
        let gname = first.qualified();
        if mode == "PASSTHROUGH" || mode == "AUTO_PASSTHROUGH" {
            step!(
                self,
                hop,
                "listener",
                format!(
                    "{}:{port}: TLS passthrough for SNI {sni} ({gname} server {})",
                    pod_ip, first.index
                ),
                vec![],
            );
            log.tcp = true;
            log.requested_server_name = Some(sni.clone());
            for vs in mesh
                .vs_with_tls
                .iter()
                .map(|&vi| &mesh.virtual_services[vi])
            {
                if !vs
                    .spec
                    .gateways
                    .iter()
                    .any(|g| crate::sim::route::qualify_gateway(g, &vs.namespace) == gname)
                {
                    continue;
                }
                for (i, r) in vs.spec.tls.iter().enumerate() {
                    let hit = r.r#match.iter().any(|m| {
                        let hosts = if m.sni_hosts.is_empty() {
                            &vs.spec.hosts
                        } else {
                            &m.sni_hosts
                        };
                        hosts.iter().any(|h| {
                            crate::model::host_matches(&crate::model::fqdn(h, &vs.namespace), &sni)
                        }) && m.port.is_none_or(|p| p == first.server.port.number)
                    });
                    let Some(d) = r
                        .route
                        .iter()
                        .max_by_key(|d| d.weight.unwrap_or(100))
                        .filter(|_| hit)
                    else {
                        continue;
                    };
                    let host = crate::model::fqdn(&d.destination.host, &vs.namespace);
                    let dport = d
                        .destination
                        .port
                        .as_ref()
                        .and_then(|p| p.number)
                        .unwrap_or(first.server.port.number);
                    let subset = d.destination.subset.clone().unwrap_or_default();
                    step!(
                        self,
                        hop,
                        "route",
                        format!(
                            "VirtualService {}/{} tls[{i}] ({})",
                            vs.namespace,
                            vs.name,
                            vs.origin.pos_of(&["spec", "tls", &i.to_string()])
                        ),
                        vec![],
                    );
                    let cluster = format!("outbound|{dport}|{subset}|{host}");
                    return self.tls_to_host(hop, &host, dport, cluster, log, pod_ip, msg, start);
                }
            }
            explain!(self, format!("Gateway {gname} passes TLS for {sni} through, but no VirtualService bound to it has a tls route for that SNI"));
            decide!(self, hop, "no tls route: connection closed".into());
            let resp = Resp::local(0, "NR", "-", Outcome::ConnectionFailed, 0);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        }
        // Terminate TLS, then route the HTTP request inside on the servers that matched.
        let number = first.server.port.number;
        let cred = first
            .server
            .tls
            .as_ref()
            .and_then(|t| {
                t.credential_name
                    .clone()
                    .or_else(|| t.server_certificate.clone())
            })
            .unwrap_or_else(|| "-".into());
        let route_config = format!(
            "https.{number}.{}.{}.{}",
            first.server.name.clone().unwrap_or_else(|| first
                .server
                .port
                .name
                .clone()
                .unwrap_or_default()),
            first.gateway.name,
            first.gateway.namespace
        );
        step!(self, hop, "listener", format!("{}:{port}: TLS {mode} terminated for SNI {sni} (certificate {cred}) → route configuration {route_config}", pod_ip), vec![]);
        log.requested_server_name = Some(sni);
        msg.sni = None;
        self.route_at_gateway(hop, wi, &matching, number, log, pod_ip, msg, start)
    }
}
