//! The OpenShift router (HAProxy): Routes by host and path, TLS termination, then straight to
//! the endpoints of the Route's Service (the router does not go through kube-proxy).

use super::*;
use crate::model::TargetPort;
use crate::parse::types::IntOrString;
use crate::sim::route::strip_port;
use crate::sim::*;

/// The router's own pod address, outside the mesh.
const ROUTER_POD_IP: Ipv4Addr = Ipv4Addr::new(10, 131, 0, 2);

impl Ctx<'_> {
    pub(super) fn router(&mut self, port: u16, conn: Conn, mut msg: Msg) -> Resp {
        let mesh = self.mesh;
        let hop = self.push_named_hop(
            HopKind::Router,
            "openshift-ingress".into(),
            "router-default".into(),
            format!(
                "router-default-{}",
                crate::model::addr::name_suffix("router-default", 5)
            )
            .into(),
            "ingress",
        );
        let host = strip_port(&msg.authority).to_ascii_lowercase();
        let https = msg.scheme == "https";
        // Routes for the host, the longest path first (the router's order): those for the
        // host itself and those for its subdomain, from the indexes, in precedence order.
        let mut candidates: Vec<usize> =
            crate::model::listed(&mesh.openshift_routes_by_host, &host)
                .iter()
                .chain(&mesh.openshift_subdomain_routes)
                .copied()
                .collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut routes: Vec<&crate::model::Config<crate::parse::types::OpenShiftRouteSpec>> =
            candidates
                .into_iter()
                .map(|i| &mesh.openshift_routes[i])
                .filter(|r| {
                    let rh = r.spec.host.as_deref().unwrap_or("").to_ascii_lowercase();
                    rh == host
                        || (r.spec.wildcard_policy.as_deref() == Some("Subdomain")
                            && host.split_once('.').is_some_and(|(_, d)| {
                                rh.split_once('.').is_some_and(|(_, rd)| rd == d)
                            }))
                })
                .filter(|r| {
                    let p = r.spec.path.as_deref().unwrap_or("");
                    msg.path.starts_with(p)
                })
                .collect();
        routes.sort_by_key(|r| std::cmp::Reverse(r.spec.path.as_deref().unwrap_or("").len()));
        let Some(route) = routes.first().copied() else {
            step!(
                self,
                hop,
                "route",
                format!("no Route admits host {host} and path {}", msg.path),
                vec![],
            );
            explain!(self, format!("no OpenShift Route has host {host} (with a path prefixing {}): the router answers 503 \"Application is not available\"", msg.path));
            decide!(self, hop, "503: no Route for the host".into());
            return Resp::local(503, "-", "no_route", Outcome::LocalReply, 0);
        };
        let what = format!(
            "Route {}/{} ({})",
            route.namespace,
            route.name,
            route.origin.pos()
        );
        step!(self, hop, "route", what.clone(), vec![]);
        let termination = route.spec.tls.as_ref().and_then(|t| t.termination.clone());
        match (termination.as_deref(), https) {
            (None, true) => {
                explain!(
                    self,
                    format!("{what} has no TLS: the router serves it on port 80 only")
                );
                decide!(self, hop, "TLS to a Route without TLS".into());
                return Resp::local(0, "-", "tls_not_configured", Outcome::ConnectionFailed, 0);
            }
            (Some("edge") | Some("reencrypt"), false) => {
                let policy = route
                    .spec
                    .tls
                    .as_ref()
                    .and_then(|t| t.insecure_edge_termination_policy.clone())
                    .unwrap_or_else(|| "None".into());
                match policy.as_str() {
                    "Redirect" => {
                        let loc = format!("https://{host}{}", msg.path);
                        decide!(
                            self,
                            hop,
                            format!("302 to {loc} (insecureEdgeTerminationPolicy: Redirect)")
                        );
                        let mut r =
                            Resp::local(302, "-", "router_redirect", Outcome::LocalReply, 0);
                        r.headers.push(("location".into(), loc));
                        return r;
                    }
                    "Allow" => {}
                    _ => {
                        explain!(self, format!("{what} terminates TLS ({}) and its insecureEdgeTerminationPolicy is {policy}: plain HTTP is not served", termination.as_deref().unwrap_or("")));
                        decide!(self, hop, "503: plain HTTP to a TLS-only Route".into());
                        return Resp::local(503, "-", "no_route", Outcome::LocalReply, 0);
                    }
                }
            }
            (Some("passthrough"), false) => {
                explain!(
                    self,
                    format!("{what} is TLS passthrough: plain HTTP is not served")
                );
                decide!(self, hop, "503: plain HTTP to a passthrough Route".into());
                return Resp::local(503, "-", "no_route", Outcome::LocalReply, 0);
            }
            (Some(t), true) => {
                step!(self, hop, "tls", format!("TLS {t}: {}", match t {
                    "edge" => "the router terminates TLS and forwards plain HTTP",
                    "reencrypt" => "the router terminates TLS and opens a new TLS connection to the pod",
                    _ => "the router forwards the TLS stream by SNI without decrypting it",
                }), vec![]);
                if t == "edge" {
                    msg.scheme = "http".into();
                    msg.sni = None;
                }
            }
            _ => {}
        }
        // Backend: `to` and `alternateBackends` by weight.
        let mut backends = vec![&route.spec.to];
        backends.extend(route.spec.alternate_backends.iter());
        let weights: Vec<u32> = backends.iter().map(|b| b.weight.unwrap_or(100)).collect();
        let total: u32 = weights.iter().sum();
        if backends.len() > 1 {
            self.split = backends
                .iter()
                .zip(&weights)
                .map(|(b, w)| (b.name.clone(), *w))
                .collect();
        }
        let chosen = match self.seed {
            Some(seed) if total > 0 => {
                let mut x =
                    (crate::model::addr::seeded(seed, &self.seed_key) % total as u64) as u32;
                let mut pick = 0;
                for (i, w) in weights.iter().enumerate() {
                    if x < *w {
                        pick = i;
                        break;
                    }
                    x -= w;
                }
                pick
            }
            _ => weights
                .iter()
                .enumerate()
                .max_by_key(|(i, w)| (**w, std::cmp::Reverse(*i)))
                .map(|(i, _)| i)
                .unwrap_or(0),
        };
        let to = backends[chosen];
        let svc_host = format!("{}.{}.{}", to.name, route.namespace, crate::model::DOMAIN);
        let Some(svc) = mesh.service(&svc_host) else {
            explain!(
                self,
                format!(
                    "{what} sends to Service {}/{}, which does not exist",
                    route.namespace, to.name
                )
            );
            decide!(self, hop, "503: the Route's Service does not exist".into());
            return Resp::local(503, "-", "no_service", Outcome::LocalReply, 0);
        };
        // `port.targetPort` names a Service port (by name) or a target port number.
        let sp = match route.spec.port.as_ref().and_then(|p| p.target_port.clone()) {
            None => svc.ports.first(),
            Some(IntOrString::Str(name)) => svc.ports.iter().find(|p| p.name == name),
            Some(IntOrString::Int(n)) => svc.ports.iter().find(|p| {
                matches!(p.target, TargetPort::Number(t) if t as i64 == n) || p.port as i64 == n
            }),
        };
        let Some(sp) = sp.cloned() else {
            explain!(
                self,
                format!(
                    "{what}: Service {} has no port matching port.targetPort",
                    svc.display()
                )
            );
            decide!(self, hop, "503: no such Service port".into());
            return Resp::local(503, "-", "no_service_port", Outcome::LocalReply, 0);
        };
        let eps = mesh.endpoints(svc, &Default::default());
        let Some(&(wi, pi)) = eps.first() else {
            explain!(
                self,
                format!(
                    "Service {} has no ready endpoints: the router answers 503",
                    svc.display()
                )
            );
            decide!(self, hop, "503: no endpoints".into());
            return Resp::local(503, "-", "no_endpoints", Outcome::LocalReply, 0);
        };
        let w = &mesh.workloads[wi];
        let tp = target_port(w, sp.target.clone(), sp.port);
        let _ = (port, &conn);
        decide!(
            self,
            hop,
            format!(
                "to Service {} port {} → pod {} port {tp}",
                svc.display(),
                sp.name,
                w.pods[pi].name
            )
        );
        self.routed_service = Some(Backend {
            kind: "Service",
            namespace: svc.namespace.clone(),
            name: svc.name.clone(),
            workload: None,
        });
        // HAProxy adds the client to X-Forwarded-For.
        let client_ip = cat!(*conn.remote.ip());
        msg.headers.retain(|(k, _)| k != "x-forwarded-for");
        msg.headers
            .push(("x-forwarded-for".into(), client_ip.clone()));
        msg.xff = Some(client_ip.into());
        let remote = SocketAddrV4::new(ROUTER_POD_IP, self.eph());
        self.deliver(wi, pi, tp, Conn::plain(remote), msg, Some(sp.protocol))
    }
}
