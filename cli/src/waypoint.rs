//! `meshsim waypoint list|status`, mirroring `istioctl waypoint list|status`.

use comfy_table::{presets, Table};
use meshsim_core::model::{Mesh, ProxyKind};

fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING);
    t.set_header(headers.to_vec());
    t
}

/// Waypoints (Gateways of class istio-waypoint) in a namespace, or all.
fn waypoints<'m>(
    mesh: &'m Mesh,
    ns: Option<&'m str>,
    name: Option<&'m str>,
) -> impl Iterator<
    Item = (
        usize,
        &'m meshsim_core::model::Config<meshsim_core::parse::types::GatewaySpec>,
    ),
> + 'm {
    mesh.gateways.iter().enumerate().filter(move |(_, g)| {
        g.spec.gateway_class_name == "istio-waypoint"
            && ns.is_none_or(|n| n == g.namespace)
            && name.is_none_or(|n| n == g.name)
    })
}

fn condition(mesh: &Mesh, gi: usize, ty: &str) -> Option<(String, String, String)> {
    mesh.gateway_api
        .gateways
        .get(gi)
        .and_then(|g| g.conditions.iter().find(|c| c.type_ == ty))
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// `istioctl waypoint list`: NAME, REVISION, PROGRAMMED (and the traffic type and who uses it).
pub fn list(mesh: &Mesh, ns: Option<&str>) -> String {
    let mut headers = vec![];
    if ns.is_none() {
        headers.push("NAMESPACE");
    }
    headers.extend(["NAME", "REVISION", "PROGRAMMED", "TRAFFIC-TYPE", "USED-BY"]);
    let mut t = table(&headers);
    let mut any = false;
    for (gi, g) in waypoints(mesh, ns, None) {
        any = true;
        let programmed = condition(mesh, gi, "Programmed")
            .map(|c| c.0)
            .unwrap_or_else(|| "Unknown".into());
        let revision = mesh
            .workloads
            .iter()
            .find(|w| {
                w.namespace == g.namespace && w.name == g.name && w.proxy == ProxyKind::Waypoint
            })
            .and_then(|w| w.revision.clone())
            .or_else(|| mesh.control_plane.resolve("default").map(str::to_string))
            .unwrap_or_else(|| "default".into());
        let traffic = g
            .labels
            .get("istio.io/waypoint-for")
            .cloned()
            .unwrap_or_else(|| "service".into());
        let used = used_by(mesh, &g.namespace, &g.name);
        let mut row = vec![];
        if ns.is_none() {
            row.push(g.namespace.to_string());
        }
        row.extend([
            g.name.to_string(),
            revision,
            programmed,
            traffic.to_string(),
            if used.is_empty() {
                "-".into()
            } else {
                used.join(", ")
            },
        ]);
        t.add_row(row);
    }
    if !any {
        return match ns {
            Some(n) => format!("No waypoints found in namespace {n}.\n"),
            None => "No waypoints found.\n".into(),
        };
    }
    format!("{t}\n")
}

/// What uses a waypoint: namespaces, Services and ServiceEntries labelled with it.
fn used_by(mesh: &Mesh, ns: &str, name: &str) -> Vec<String> {
    let names = |labels: &meshsim_core::parse::types::Labels, own_ns: &str| {
        labels
            .get("istio.io/use-waypoint")
            .is_some_and(|n| n == name)
            && labels
                .get("istio.io/use-waypoint-namespace")
                .map(|v| v.as_str())
                .unwrap_or(own_ns)
                == ns
    };
    let mut out = Vec::new();
    for n in mesh.namespaces.values() {
        if names(&n.labels, &n.name) {
            out.push(format!("namespace {}", n.name));
        }
    }
    for s in &mesh.services {
        if names(&s.labels, &s.namespace) {
            out.push(format!("Service {}", s.display()));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for e in &mesh.service_entries {
        if names(&e.labels, &e.namespace) && seen.insert((e.namespace.clone(), e.name.clone())) {
            out.push(format!("ServiceEntry {}/{}", e.namespace, e.name));
        }
    }
    out
}

/// `istioctl waypoint status`: the Programmed condition of each waypoint.
pub fn status(mesh: &Mesh, ns: Option<&str>, name: Option<&str>) -> Result<String, String> {
    let mut t = table(&["NAMESPACE", "NAME", "STATUS", "TYPE", "REASON", "MESSAGE"]);
    let mut any = false;
    for (gi, g) in waypoints(mesh, ns, name) {
        any = true;
        let (status, reason, message) = condition(mesh, gi, "Programmed").unwrap_or_else(|| {
            (
                "Unknown".into(),
                "Pending".into(),
                "no status computed".into(),
            )
        });
        t.add_row(vec![
            g.namespace.to_string(),
            g.name.to_string(),
            status,
            "Programmed".into(),
            reason,
            message,
        ]);
    }
    if !any {
        return Err(match (ns, name) {
            (Some(n), Some(w)) => format!("error: waypoint {n}/{w} not found\n  hint: meshsim waypoint list -A shows the waypoints"),
            (Some(n), None) => format!("error: no waypoints in namespace {n}\n  hint: meshsim waypoint list -A shows the waypoints"),
            _ => "error: no waypoints found\n  hint: a waypoint is a Gateway of class istio-waypoint".into(),
        });
    }
    Ok(format!("{t}\n"))
}
