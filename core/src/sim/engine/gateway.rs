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
        let services = &mesh.services_by_workload[wi];
        let mut servers: Vec<ServerRef> = Vec::new();
        let mut other_ports: Vec<String> = Vec::new();
        let selecting = mesh.istio_gateways_by_workload.get(&wi);
        for &gi in selecting.into_iter().flatten() {
            let gw = &mesh.istio_gateways[gi];
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
        let vhs = vhosts::gateway_vhosts(mesh, &servers, number, &msg.authority);
        let gws: Vec<String> = servers.iter().map(|s| s.qualified()).collect();
        let labels = w.labels.clone();
        let ns = w.namespace.clone();
        self.route_http(
            hop, vhs, number, &gws, log, pod_ip, None, msg, start, &labels, &ns, true,
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
