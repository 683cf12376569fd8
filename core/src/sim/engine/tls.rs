//! TLS from the client (an `https://` URL): a sidecar does no HTTP routing on it. The outbound
//! listener picks a filter chain by destination address and SNI — a Service's own listener, a
//! VirtualService `tls` route, a ServiceEntry host declared with a TLS or HTTPS port — and
//! proxies the stream (a TCP access-log line carrying the SNI), else the passthrough chain.

use super::*;
use crate::model::{fqdn, host_matches};
use crate::sim::route::qualify_gateway;
use crate::sim::vhosts::{self, Scope};
use crate::sim::*;
use std::net::Ipv4Addr;

impl Ctx<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn sidecar_tls_outbound(
        &mut self,
        hop: usize,
        wi: usize,
        pi: usize,
        ip: Ipv4Addr,
        port: u16,
        msg: Msg,
        mut log: EnvoyLog,
        scope: &Scope,
        start: u64,
    ) -> Resp {
        let mesh = self.mesh;
        let w = &mesh.workloads[wi];
        let pod_ip = w.pods[pi].ip;
        let sni = msg.sni.clone().unwrap_or_default();
        log.tcp = true;
        log.requested_server_name = Some(sni.clone());
        let dst = fmt_ip(ip, port);
        // 1. A Service's own listener for its address.
        if let Some(&si) = mesh.service_by_ip.get(&ip) {
            let s = &mesh.services[si];
            if s.port(port).is_some() && scope.sees_host(port, &s.namespace, &s.hostname) {
                step!(
                    self,
                    hop,
                    "listener",
                    format!(
                        "{dst}: TLS stream (SNI {sni}) to Service {}: proxied as TCP",
                        s.display()
                    ),
                    vec![],
                );
                let cluster = format!("outbound|{port}||{}", s.hostname);
                return self.tcp_to_service(hop, si, port, cluster, log, pod_ip, msg);
            }
        }
        // 2. A VirtualService tls route whose sniHosts match.
        for &vi in &mesh.vs_with_tls {
            let vs = &mesh.virtual_services[vi];
            if !vhosts::mesh_bound(mesh, vi) || !scope.sees_vs(mesh, port, vi) {
                continue;
            }
            for (i, r) in vs.spec.tls.iter().enumerate() {
                let hit = r.r#match.iter().any(|m| {
                    let hosts: Vec<String> = if m.sni_hosts.is_empty() {
                        vs.spec.hosts.clone()
                    } else {
                        m.sni_hosts.clone()
                    };
                    hosts
                        .iter()
                        .any(|h| host_matches(&fqdn(h, &vs.namespace), &sni))
                        && m.port.is_none_or(|p| p == port)
                        && (m.gateways.is_empty()
                            || m.gateways
                                .iter()
                                .any(|g| qualify_gateway(g, &vs.namespace) == "mesh"))
                });
                if !hit {
                    continue;
                }
                let Some(d) = r.route.iter().max_by_key(|d| d.weight.unwrap_or(100)) else {
                    continue;
                };
                let host = fqdn(&d.destination.host, &vs.namespace);
                let dport = d
                    .destination
                    .port
                    .as_ref()
                    .and_then(|p| p.number)
                    .unwrap_or(port);
                let subset = d.destination.subset.clone().unwrap_or_default();
                let cluster = format!("outbound|{dport}|{subset}|{host}");
                step!(
                    self,
                    hop,
                    "route",
                    format!(
                        "VirtualService {}/{} tls[{i}] matches SNI {sni} ({})",
                        vs.namespace,
                        vs.name,
                        vs.origin.pos_of(&["spec", "tls", &i.to_string()])
                    ),
                    vec![],
                );
                return self.tls_to_host(hop, &host, dport, cluster, log, pod_ip, msg, start);
            }
        }
        // 3. A ServiceEntry host with a TLS or HTTPS port matching the SNI.
        for i in mesh.service_entries_for(&sni) {
            let se = &mesh.service_entries[i];
            let tlsish = se.protocol(port).is_some_and(|p| {
                matches!(
                    p,
                    crate::model::protocol::Protocol::Tls
                        | crate::model::protocol::Protocol::Https
                        | crate::model::protocol::Protocol::Tcp
                        | crate::model::protocol::Protocol::Unknown
                )
            });
            if !tlsish
                || !scope.sees_host(port, &se.namespace, &se.host)
                || !vhosts::exported_to(&se.spec.export_to, &se.namespace, &w.namespace)
            {
                continue;
            }
            step!(
                self,
                hop,
                "listener",
                format!(
                    "0.0.0.0:{port}: filter chain for SNI {} (ServiceEntry {}/{}, {})",
                    se.host,
                    se.namespace,
                    se.name,
                    se.origin.pos()
                ),
                vec![],
            );
            let cluster = format!("outbound|{port}||{}", se.host);
            let host = se.host.clone();
            return self.tls_to_host(hop, &host, port, cluster, log, pod_ip, msg, start);
        }
        // 4. The passthrough chain.
        let what = format!("no filter chain for {dst} (SNI {sni})");
        let unknown = format!("{sni}:{port} is not in the registry");
        let hint =
            format!("add a ServiceEntry for {sni} with port {port} and protocol TLS (or HTTPS)");
        self.passthrough_chain(
            hop, ip, port, log, pod_ip, msg, scope, start, "TLS", &what, &unknown, &hint,
        )
    }

    /// Proxies a TLS stream to a host's cluster: a Service's pods, or a ServiceEntry's address.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn tls_to_host(
        &mut self,
        hop: usize,
        host: &str,
        port: u16,
        cluster: String,
        mut log: EnvoyLog,
        pod_ip: Ipv4Addr,
        msg: Msg,
        start: u64,
    ) -> Resp {
        let mesh = self.mesh;
        if let Some(si) = mesh.service_by_host.get(host).copied() {
            return self.tcp_to_service(hop, si, port, cluster, log, pod_ip, msg);
        }
        let Some(&sei) = mesh.service_entries_for(host).first() else {
            self.cluster = Some(cluster.clone());
            explain!(self, format!("{host} is neither a Service nor a ServiceEntry host, so Envoy has no cluster {cluster}: the connection is closed"));
            decide!(self, hop, format!("no cluster {cluster}"));
            let resp = Resp::local(0, "NC", "-", Outcome::ConnectionFailed, 0);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        };
        let se = &mesh.service_entries[sei];
        self.cluster = Some(cluster.clone());
        self.routed_service = Some(Backend {
            kind: "ServiceEntry",
            namespace: se.namespace.clone(),
            name: se.name.clone(),
            workload: None,
        });
        let sni = msg.sni.clone().unwrap_or_default();
        let target = if host.contains('*') {
            sni.to_string()
        } else {
            host.to_string()
        };
        let ip = match se.spec.resolution.as_deref() {
            Some("STATIC") => se
                .spec
                .endpoints
                .iter()
                .find_map(|e| e.address.as_deref().and_then(|a| a.parse().ok())),
            _ => Some(crate::model::addr::internet_ip(&target)),
        };
        let Some(ip) = ip else {
            explain!(
                self,
                format!(
                    "ServiceEntry {}/{} has resolution STATIC but no endpoint addresses",
                    se.namespace, se.name
                )
            );
            let resp = Resp::local(0, "UH", "-", Outcome::ConnectionFailed, 0);
            self.finish_envoy(hop, log, &resp, start);
            return resp;
        };
        log.upstream_cluster = Some(cluster.as_str().into());
        self.upstream_from(&mut log, pod_ip, (ip, port));
        decide!(
            self,
            hop,
            format!("TLS proxied to {cluster} → {}", fmt_ip(ip, port))
        );
        let resp = self.internet(ip, port, Some(&target), msg);
        self.finish_envoy(hop, log, &resp, start);
        resp
    }
}
