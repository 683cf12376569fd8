//! `meshsim get`: tables (comfy-table) and JSON/YAML views of the model.

use comfy_table::{presets, Table};
use meshsim_core::model::gwapi::RouteKind;
use meshsim_core::model::{host_matches, Mesh, ProxyKind};
use serde_json::{json, Value};

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(headers.to_vec());
    t
}

fn in_ns(filter: Option<&str>, ns: &str) -> bool {
    filter.is_none_or(|f| f == ns)
}

/// Gateway API objects as `kubectl get -o yaml|json` prints them: the manifest with the
/// status Istio's controller writes, in a `kind: List`.
fn objects(mesh: &Mesh, what: &str, ns: Option<&str>) -> Option<Vec<Value>> {
    use meshsim_core::model::gwapi;
    let items = match what {
        "gateways" | "gateway" | "gtw" | "gw" => {
            let mut items: Vec<Value> = (0..mesh.gateways.len())
                .filter(|&i| in_ns(ns, &mesh.gateways[i].namespace))
                .map(|i| gwapi::gateway_object(mesh, i))
                .collect();
            items.extend(
                mesh.istio_gateways
                    .iter()
                    .filter(|g| in_ns(ns, &g.namespace))
                    .map(|g| {
                        g.origin
                            .with_document(|doc| serde_yaml::from_str::<Value>(doc))
                            .unwrap_or(Value::Null)
                    }),
            );
            items
        }
        "httproutes" | "httproute" => (0..mesh.http_routes.len())
            .filter(|&i| in_ns(ns, &mesh.http_routes[i].namespace))
            .map(|i| gwapi::route_object(mesh, RouteKind::Http, i))
            .collect(),
        "grpcroutes" | "grpcroute" => (0..mesh.grpc_routes.len())
            .filter(|&i| in_ns(ns, &mesh.grpc_routes[i].namespace))
            .map(|i| gwapi::route_object(mesh, RouteKind::Grpc, i))
            .collect(),
        _ => return None,
    };
    // kubectl lists objects by namespace, then name.
    let key = |v: &Value| {
        let m = v.get("metadata");
        let f = |k: &str| {
            m.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        (f("namespace"), f("name"))
    };
    let mut items = items;
    items.sort_by_key(key);
    Some(items)
}

pub fn run(mesh: &Mesh, what: &str, ns: Option<&str>, output: &str) -> Result<String, String> {
    if output == "yaml" || output == "json" {
        if let Some(items) = objects(mesh, what, ns) {
            let list = json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}});
            return Ok(if output == "json" {
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                )
            } else {
                serde_yaml::to_string(&list).unwrap_or_default()
            });
        }
    }
    let rows: Vec<Value> = match what {
        "workloads" | "workload" | "wl" | "pods" => workloads(mesh, ns),
        "services" | "service" | "svc" => services(mesh, ns),
        "gateways" | "gateway" | "gw" | "gtw" => gateways(mesh, ns),
        "routes" | "route" | "virtualservices" | "vs" => routes(mesh, ns),
        "httproutes" | "httproute" => only_kind(routes(mesh, ns), "HTTPRoute"),
        "grpcroutes" | "grpcroute" => only_kind(routes(mesh, ns), "GRPCRoute"),
        "serviceentries" | "serviceentry" | "se" => service_entries(mesh, ns),
        "waypoints" | "waypoint" => waypoints(mesh, ns),
        other => {
            return Err(format!(
                "error: unknown resource type {other:?}\n  hint: one of workloads, services, gateways, routes, httproutes, grpcroutes, serviceentries, waypoints"
            ))
        }
    };
    match output {
        "json" => Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        )),
        "yaml" => Ok(serde_yaml::to_string(&rows).unwrap_or_default()),
        "table" | "wide" => Ok(render_table(what, &rows, output == "wide")),
        other => Err(format!(
            "error: unknown output format {other:?}\n  hint: use -o table, wide, json or yaml"
        )),
    }
}

fn only_kind(rows: Vec<Value>, kind: &str) -> Vec<Value> {
    rows.into_iter()
        .filter(|r| r.get("kind").and_then(Value::as_str) == Some(kind))
        .collect()
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(Value::Array(a)) => {
            if a.is_empty() {
                "-".into()
            } else {
                a.iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| x.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            }
        }
        Some(x) => x.to_string(),
    }
}

fn render_table(what: &str, rows: &[Value], wide: bool) -> String {
    if rows.is_empty() {
        return "No resources found.\n".into();
    }
    let cols: Vec<(&str, &str)> = match what {
        "workloads" | "workload" | "wl" | "pods" => {
            let mut c = vec![
                ("NAMESPACE", "namespace"),
                ("NAME", "name"),
                ("KIND", "kind"),
                ("PROXY", "proxy"),
                ("REVISION", "revision"),
                ("SERVICE-ACCOUNT", "service_account"),
                ("READY", "ready"),
            ];
            if wide {
                c.push(("ADDRESSES", "addresses"));
                c.push(("NODES", "nodes"));
                c.push(("WHY", "proxy_reason"));
            }
            c
        }
        "services" | "service" | "svc" => vec![
            ("NAMESPACE", "namespace"),
            ("NAME", "name"),
            ("TYPE", "type"),
            ("CLUSTER-IP", "cluster_ip"),
            ("EXTERNAL-IP", "external_ip"),
            ("PORTS", "ports"),
            ("ENDPOINTS", "endpoints"),
        ],
        "gateways" | "gateway" | "gw" | "gtw" => vec![
            ("NAMESPACE", "namespace"),
            ("NAME", "name"),
            ("KIND", "kind"),
            ("CLASS/SELECTOR", "class"),
            ("LISTENERS", "listeners"),
            ("PROXIES", "workloads"),
            ("ADDRESS", "address"),
            ("ROUTES", "routes"),
        ],
        "serviceentries" | "serviceentry" | "se" => vec![
            ("NAMESPACE", "namespace"),
            ("NAME", "name"),
            ("HOSTS", "hosts"),
            ("ADDRESSES", "addresses"),
            ("PORTS", "ports"),
            ("LOCATION", "location"),
            ("RESOLUTION", "resolution"),
        ],
        "waypoints" | "waypoint" => vec![
            ("NAMESPACE", "namespace"),
            ("NAME", "name"),
            ("TRAFFIC-TYPE", "traffic_type"),
            ("ADDRESS", "address"),
            ("USED-BY", "used_by"),
        ],
        _ => vec![
            ("KIND", "kind"),
            ("NAMESPACE", "namespace"),
            ("NAME", "name"),
            ("HOSTS", "hosts"),
            ("PARENTS", "parents"),
            ("BACKENDS", "backends"),
        ],
    };
    let mut t = table(&cols.iter().map(|c| c.0).collect::<Vec<_>>());
    for r in rows {
        t.add_row(cols.iter().map(|c| s(r, c.1)).collect::<Vec<_>>());
    }
    format!("{t}\n")
}

fn workloads(mesh: &Mesh, ns: Option<&str>) -> Vec<Value> {
    mesh.workloads
        .iter()
        .filter(|w| in_ns(ns, &w.namespace))
        .map(|w| {
            json!({
                "namespace": w.namespace,
                "name": w.name,
                "kind": w.kind,
                "proxy": w.proxy.as_str(),
                "proxy_reason": w.proxy_reason,
                "revision": w.revision,
                "service_account": w.service_account,
                "identity": w.identity(&mesh.settings.trust_domain),
                "ready": format!("{}/{}", w.pods.iter().filter(|p| p.ready).count(), w.pods.len()),
                "pods": w.pods.iter().map(|p| json!({"name": p.name, "ip": p.ip.to_string(), "ready": p.ready, "node": p.node})).collect::<Vec<_>>(),
                "addresses": w.pods.iter().map(|p| p.ip.to_string()).collect::<Vec<_>>(),
                "nodes": pod_nodes(w),
                "generated_by": w.generated_by,
            })
        })
        .collect()
}

/// The nodes a workload's pods run on, each once, when the input says (a cluster's dump).
fn pod_nodes(w: &meshsim_core::model::Workload) -> Vec<&str> {
    let mut n: Vec<&str> = w.pods.iter().filter_map(|p| p.node.as_deref()).collect();
    n.sort_unstable();
    n.dedup();
    n
}

fn services(mesh: &Mesh, ns: Option<&str>) -> Vec<Value> {
    mesh.services
        .iter()
        .filter(|s| in_ns(ns, &s.namespace))
        .map(|s| {
            let ports: Vec<String> = s
                .ports
                .iter()
                .map(|p| {
                    let target = match &p.target {
                        meshsim_core::model::TargetPort::Number(n) => n.to_string(),
                        meshsim_core::model::TargetPort::Name(n) => n.clone(),
                    };
                    match p.node_port {
                        Some(np) => format!("{}:{np}/{}→{}", p.port, p.protocol.as_str(), target),
                        None => format!("{}/{}→{}", p.port, p.protocol.as_str(), target),
                    }
                })
                .collect();
            let eps: Vec<String> = mesh.endpoints(s, &Default::default()).iter().map(|&(wi, pi)| mesh.workloads[wi].pods[pi].ip.to_string()).collect();
            json!({
                "namespace": s.namespace,
                "name": s.name,
                "hostname": s.hostname,
                "type": s.type_,
                "cluster_ip": s.cluster_ip.map(|i| i.to_string()).unwrap_or_else(|| if s.external_name.is_some() { "-".into() } else { "None".into() }),
                "external_ip": s.external_ip.map(|i| i.to_string()).or(s.external_hostname.clone()).or(s.external_name.clone()),
                "ports": ports,
                "endpoints": eps,
                "generated_by": s.generated_by,
            })
        })
        .collect()
}

fn gateways(mesh: &Mesh, ns: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    for g in mesh
        .istio_gateways
        .iter()
        .filter(|g| in_ns(ns, &g.namespace))
    {
        let workloads: Vec<String> = mesh
            .gateway_workloads()
            .filter(|(_, w)| {
                !g.spec.selector.is_empty()
                    && g.spec
                        .selector
                        .iter()
                        .all(|(k, v)| w.labels.get(k) == Some(v))
            })
            .map(|(_, w)| w.display())
            .collect();
        let listeners: Vec<String> = g
            .spec
            .servers
            .iter()
            .map(|s| {
                format!(
                    "{}/{} {}",
                    s.port.number,
                    s.port.protocol.as_deref().unwrap_or("?"),
                    s.hosts.join("|")
                )
            })
            .collect();
        let routes: Vec<String> = mesh
            .virtual_services
            .iter()
            .filter(|vs| {
                vs.spec.gateways.iter().any(|x| {
                    meshsim_core::sim::route::qualify_gateway(x, &vs.namespace)
                        == format!("{}/{}", g.namespace, g.name)
                })
            })
            .map(|vs| format!("VirtualService {}/{}", vs.namespace, vs.name))
            .collect();
        out.push(json!({
            "namespace": g.namespace, "name": g.name, "kind": "Gateway (networking.istio.io)",
            "class": g.spec.selector.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "listeners": listeners, "workloads": workloads, "address": Value::Null, "routes": routes,
        }));
    }
    for g in mesh.gateways.iter().filter(|g| in_ns(ns, &g.namespace)) {
        let svc_name = if g.spec.gateway_class_name == "istio-waypoint" {
            g.name.to_string()
        } else {
            format!("{}-istio", g.name)
        };
        let svc = mesh.service(&format!("{svc_name}.{}.svc.cluster.local", g.namespace));
        let address = svc
            .and_then(|s| s.external_ip.or(s.cluster_ip))
            .map(|i| i.to_string());
        let listeners: Vec<String> = g
            .spec
            .listeners
            .iter()
            .map(|l| {
                format!(
                    "{} {}/{} {}",
                    l.name,
                    l.port,
                    l.protocol,
                    l.hostname.as_deref().unwrap_or("*")
                )
            })
            .collect();
        // Routes Istio attached to one of the Gateway's listeners.
        let gi = mesh
            .gateways
            .iter()
            .position(|x| x.namespace == g.namespace && x.name == g.name);
        let routes: Vec<String> = gi
            .into_iter()
            .flat_map(|gi| mesh.gateway_api.routes_attached_to(gi))
            .map(|(kind, ri)| {
                let (ns, name) = match kind {
                    RouteKind::Http => {
                        (&mesh.http_routes[ri].namespace, &mesh.http_routes[ri].name)
                    }
                    RouteKind::Grpc => {
                        (&mesh.grpc_routes[ri].namespace, &mesh.grpc_routes[ri].name)
                    }
                };
                format!("{} {ns}/{name}", kind.as_str())
            })
            .collect();
        out.push(json!({
            "namespace": g.namespace, "name": g.name, "kind": "Gateway (gateway.networking.k8s.io)",
            "class": g.spec.gateway_class_name, "listeners": listeners,
            "workloads": vec![format!("{}/{}", g.namespace, svc_name)], "address": address, "routes": routes,
        }));
    }
    out
}

fn routes(mesh: &Mesh, ns: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    for vs in mesh
        .virtual_services
        .iter()
        .filter(|v| in_ns(ns, &v.namespace))
    {
        let backends: Vec<String> = vs
            .spec
            .http
            .iter()
            .flat_map(|r| {
                r.route.iter().map(|d| {
                    format!(
                        "{}{}",
                        d.destination.host,
                        d.destination
                            .port
                            .as_ref()
                            .and_then(|p| p.number)
                            .map(|p| format!(":{p}"))
                            .unwrap_or_default()
                    )
                })
            })
            .collect();
        out.push(json!({"kind": "VirtualService", "namespace": vs.namespace, "name": vs.name, "hosts": vs.spec.hosts, "parents": if vs.spec.gateways.is_empty() { vec!["mesh".to_string()] } else { vs.spec.gateways.clone() }, "backends": backends, "position": vs.origin.pos()}));
    }
    for r in mesh.http_routes.iter().filter(|v| in_ns(ns, &v.namespace)) {
        let backends: Vec<String> = r
            .spec
            .rules
            .iter()
            .flat_map(|x| {
                x.backend_refs.iter().map(|b| {
                    format!(
                        "{}{}",
                        b.name,
                        b.port.map(|p| format!(":{p}")).unwrap_or_default()
                    )
                })
            })
            .collect();
        let parents: Vec<String> = r
            .spec
            .parent_refs
            .iter()
            .map(|p| format!("{}/{}", p.kind.as_deref().unwrap_or("Gateway"), p.name))
            .collect();
        out.push(json!({"kind": "HTTPRoute", "namespace": r.namespace, "name": r.name, "hosts": r.spec.hostnames, "parents": parents, "backends": backends, "position": r.origin.pos()}));
    }
    for r in mesh.grpc_routes.iter().filter(|v| in_ns(ns, &v.namespace)) {
        let backends: Vec<String> = r
            .spec
            .rules
            .iter()
            .flat_map(|x| x.backend_refs.iter().map(|b| b.name.clone()))
            .collect();
        let parents: Vec<String> = r.spec.parent_refs.iter().map(|p| p.name.clone()).collect();
        out.push(json!({"kind": "GRPCRoute", "namespace": r.namespace, "name": r.name, "hosts": r.spec.hostnames, "parents": parents, "backends": backends, "position": r.origin.pos()}));
    }
    for r in mesh
        .openshift_routes
        .iter()
        .filter(|v| in_ns(ns, &v.namespace))
    {
        let mut backends = vec![r.spec.to.name.clone()];
        backends.extend(r.spec.alternate_backends.iter().map(|b| b.name.clone()));
        out.push(json!({"kind": "Route", "namespace": r.namespace, "name": r.name, "hosts": r.spec.host.iter().collect::<Vec<_>>(), "parents": ["router"], "backends": backends, "position": r.origin.pos()}));
    }
    out
}

fn service_entries(mesh: &Mesh, ns: Option<&str>) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for se in mesh
        .service_entries
        .iter()
        .filter(|s| in_ns(ns, &s.namespace))
    {
        if !seen.insert((se.namespace.clone(), se.name.clone())) {
            continue;
        }
        let ports: Vec<String> = se
            .spec
            .ports
            .iter()
            .map(|p| format!("{}/{}", p.number, p.protocol.as_deref().unwrap_or("?")))
            .collect();
        out.push(json!({
            "namespace": se.namespace, "name": se.name, "hosts": se.spec.hosts, "addresses": se.spec.addresses, "ports": ports,
            "location": se.spec.location.clone().unwrap_or_else(|| "MESH_EXTERNAL".into()),
            "resolution": se.spec.resolution.clone().unwrap_or_else(|| "NONE".into()),
        }));
    }
    out
}

fn waypoints(mesh: &Mesh, ns: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    for g in mesh
        .gateways
        .iter()
        .filter(|g| g.spec.gateway_class_name == "istio-waypoint" && in_ns(ns, &g.namespace))
    {
        let svc = mesh.service(&format!("{}.{}.svc.cluster.local", g.name, g.namespace));
        let traffic = g
            .labels
            .get("istio.io/waypoint-for")
            .cloned()
            .unwrap_or_else(|| "service".into());
        let mut used_by = Vec::new();
        for n in mesh.namespaces.values() {
            if n.labels
                .get("istio.io/use-waypoint")
                .is_some_and(|w| *w == g.name)
                && n.labels
                    .get("istio.io/use-waypoint-namespace")
                    .is_none_or(|x| *x == g.namespace)
                && (n.name == g.namespace
                    || n.labels.contains_key("istio.io/use-waypoint-namespace"))
            {
                used_by.push(format!("Namespace {}", n.name));
            }
        }
        for s in &mesh.services {
            if s.labels
                .get("istio.io/use-waypoint")
                .is_some_and(|w| *w == g.name)
            {
                used_by.push(format!("Service {}", s.display()));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for se in &mesh.service_entries {
            if se
                .labels
                .get("istio.io/use-waypoint")
                .is_some_and(|w| *w == g.name)
                && seen.insert(se.name.clone())
            {
                used_by.push(format!("ServiceEntry {}/{}", se.namespace, se.name));
            }
        }
        let _ = host_matches;
        let _ = ProxyKind::Waypoint;
        out.push(json!({"namespace": g.namespace, "name": g.name, "traffic_type": traffic, "address": svc.and_then(|s| s.cluster_ip).map(|i| i.to_string()), "used_by": used_by}));
    }
    out
}
