//! A live cluster's state (`kubectl get -A -o yaml`): groups Pods with the controllers that own
//! them so that each workload is listed once, reads the proxy each pod really runs, and turns
//! EndpointSlices into a Service's endpoints.
//!
//! Kubernetes links a Pod to its ReplicaSet, and a ReplicaSet to its Deployment, through
//! `metadata.ownerReferences` (the one with `controller: true`). Where the input holds pods,
//! they are the truth (names, addresses, readiness, containers); where it holds only a
//! controller (plain manifests), its template stands for `replicas` pods. A ReplicaSet that
//! a rollout left behind owns no pods and adds nothing; a finished pod (phase `Succeeded` or
//! `Failed`: a Job's) serves nothing.
//!
//! What a pod runs is read from its containers, as Istio 1.27's injector leaves them: a
//! container `istio-proxy` with args `proxy sidecar` (classic sidecar), `proxy router` (a
//! gateway) or `proxy waypoint`; an init container `istio-proxy` with `restartPolicy: Always`
//! (a native sidecar, Istio's default on Kubernetes 1.33); the annotation
//! `sidecar.istio.io/status` that the injector adds; and `ambient.istio.io/redirection:
//! enabled`, which istio-cni sets on pods it redirects to ztunnel. The injection webhook only
//! runs when a pod is created, so a pod created before its namespace was labelled keeps
//! running without a sidecar: then the pod wins, with a warning.

use super::inject::Decision;
use super::HashMap;
use super::{ProxyKind, Workload};
use crate::diag::{self, Diagnostic};
use crate::parse::types::*;
use crate::parse::{Body, Resource};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// One pod the input holds.
#[derive(Debug, Clone)]
pub struct PodSeed {
    pub name: String,
    pub ip: Option<Ipv4Addr>,
    pub ready: bool,
    pub node: Option<String>,
}

/// The proxy a live pod (or a template that carries its own proxy) shows.
#[derive(Debug, Clone)]
pub struct Observed {
    pub proxy: ProxyKind,
    /// What shows it, in a phrase ("container istio-proxy (proxy router)").
    pub how: String,
    /// The injector put it there (so the labels of today can be compared with it), as opposed
    /// to a proxy written into the pod template itself (Istio's Gateway API deployments).
    pub by_injection: bool,
    pub revision: Option<String>,
    /// The pod it was read from; None for a template.
    pub pod: Option<String>,
}

/// A workload before addresses and the injection decision.
#[derive(Debug, Clone)]
pub struct PendingWorkload {
    pub w: Workload,
    /// Pods to create from the template when the input holds none (`pods` is None).
    pub replicas: u32,
    /// The pods the input holds, finished ones left out: they are the truth.
    pub pods: Option<Vec<PodSeed>>,
    pub observed: Option<Observed>,
    /// Live pods of the workload that run another proxy than `observed` (a rollout half done).
    pub mixed: Vec<(String, ProxyKind)>,
}

impl PendingWorkload {
    /// A workload made from a template alone (manifests, or what Istio deploys itself).
    pub fn from_template(w: Workload, replicas: u32) -> Self {
        PendingWorkload {
            w,
            replicas,
            pods: None,
            observed: None,
            mixed: Vec::new(),
        }
    }
}

/// A controller or pod: namespace, kind, name, borrowed from the resources being grouped.
type Key<'a> = (&'a str, &'a str, &'a str);

fn key<'a>(ns: &'a str, kind: &'a str, name: &'a str) -> Key<'a> {
    (ns, kind, name)
}

/// The owner that controls an object: the reference with `controller: true`, else the first.
fn controller_ref(meta: &ObjectMeta) -> Option<&OwnerReference> {
    let owners = &meta.live().owner_references;
    owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())
}

/// True for an object as the API server returns it (it has been admitted: a webhook had its
/// chance to mutate it), false for a manifest still to be applied.
fn is_live(r: &Resource, status: Option<&PodStatus>) -> bool {
    r.meta.live().uid.is_some()
        || r.meta.live().creation_timestamp.is_some()
        || status.is_some_and(|s| s.phase.is_some())
}

fn pod_ready(meta: &ObjectMeta, status: &PodStatus) -> bool {
    meta.live().deletion_timestamp.is_none()
        && status.phase.as_deref().is_none_or(|p| p == "Running")
        && status
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .is_none_or(|c| c.status == "True")
}

fn finished(status: &PodStatus) -> bool {
    matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"))
}

/// The revision an injected pod names: the injector's `istio.io/rev` annotation, else the
/// `revision` of `sidecar.istio.io/status`.
fn injected_revision(annotations: &Labels) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Status {
        #[serde(default)]
        revision: Option<String>,
    }
    annotations
        .get("istio.io/rev")
        .map(|r| r.to_string())
        .or_else(|| {
            annotations
                .get("sidecar.istio.io/status")
                .and_then(|s| serde_yaml::from_str::<Status>(s).ok())
                .and_then(|s| s.revision)
        })
}

/// The proxy a pod spec shows. `live`: the spec is a pod's as admitted (no proxy at all is
/// then a fact); otherwise only a proxy written into the template counts.
pub fn observe(meta: &ObjectMeta, spec: &PodSpec, live: bool) -> Option<Observed> {
    let injected = meta.annotations.contains_key("sidecar.istio.io/status");
    let revision = if injected {
        injected_revision(&meta.annotations)
    } else {
        None
    };
    let pod = if live { meta.name.clone() } else { None };
    let observed = |proxy, how: String, by_injection| Observed {
        proxy,
        how,
        by_injection,
        revision: revision.clone(),
        pod: pod.clone(),
    };
    // A native sidecar: an init container that keeps running (Kubernetes 1.29+ sidecars).
    if let Some(c) = spec
        .init_containers
        .iter()
        .find(|c| c.name == "istio-proxy")
    {
        if c.restart_policy.as_deref() == Some("Always") {
            return Some(observed(
                ProxyKind::Sidecar,
                "native sidecar (init container istio-proxy, restartPolicy: Always)".into(),
                true,
            ));
        }
    }
    // A proxy container: its args say which role pilot-agent plays. A template's placeholder
    // (`image: auto`, no args) is what gateway injection fills in, not a proxy yet.
    if let Some(c) = spec.containers.iter().find(|c| c.name == "istio-proxy") {
        let role = if c.args.first().map(String::as_str) == Some("proxy") {
            c.args.get(1).map(String::as_str)
        } else {
            None
        };
        let proxy = match role {
            Some("router") => Some(ProxyKind::Gateway),
            Some("waypoint") => Some(ProxyKind::Waypoint),
            Some("sidecar") => Some(ProxyKind::Sidecar),
            _ => None,
        };
        if let (Some(p), Some(role)) = (proxy, role) {
            return Some(observed(
                p,
                format!("container istio-proxy (proxy {role})"),
                injected,
            ));
        }
    }
    if !live {
        return None;
    }
    // Istio's injector never touches a pod on the host's network, whatever its labels say.
    if spec.host_network {
        return Some(observed(
            ProxyKind::None,
            "on the host network, which Istio never injects".into(),
            false,
        ));
    }
    if meta
        .annotations
        .get("ambient.istio.io/redirection")
        .is_some_and(|v| v == "enabled")
    {
        return Some(observed(
            ProxyKind::Ambient,
            "captured by ztunnel (annotation ambient.istio.io/redirection: enabled)".into(),
            true,
        ));
    }
    Some(observed(
        ProxyKind::None,
        "no istio-proxy container and no ambient redirection".into(),
        true,
    ))
}

struct Member<'a> {
    r: &'a Resource,
    /// Pods: spec and status. Controllers: their template.
    pod: Option<(&'a PodSpec, &'a PodStatus)>,
    template: Option<&'a WorkloadSpec>,
}

/// Groups Pods and controllers into workloads. `resources` are the Pods and the objects of
/// `Body::Workload`; anything else is ignored.
pub fn group<'a>(resources: &'a [Resource]) -> Vec<PendingWorkload> {
    let mut controllers: HashMap<Key<'a>, &'a Resource> = HashMap::default();
    for r in resources {
        if matches!(*r.body, Body::Workload(_)) {
            controllers.insert(key(r.namespace(), &r.kind, r.name()), r);
        }
    }
    // The top of an ownership chain, following controllers present in the input. A
    // ReplicaSet whose Deployment is absent still stands for that Deployment, named by the
    // `pod-template-hash` suffix Kubernetes appends.
    let top_of = |start: Key<'a>, hash: Option<&'a str>| -> Key<'a> {
        let mut k = start;
        for _ in 0..8 {
            let Some(r) = controllers.get(&k) else {
                break;
            };
            match controller_ref(&r.meta) {
                Some(o) if controllers.contains_key(&key(k.0, &o.kind, &o.name)) => {
                    k = key(k.0, &o.kind, &o.name);
                }
                Some(o) if o.kind == "Deployment" => return key(k.0, "Deployment", &o.name),
                _ => break,
            }
        }
        if k.1 == "ReplicaSet" && !controllers.contains_key(&k) {
            if let Some(h) = hash {
                if let Some(d) = k.2.strip_suffix(&format!("-{h}")) {
                    return key(k.0, "Deployment", d);
                }
            }
        }
        k
    };
    let mut groups: BTreeMap<Key, Vec<Member>> = BTreeMap::new();
    for r in resources {
        match &*r.body {
            Body::Workload(spec) => {
                let hash = spec.template.metadata.labels.get("pod-template-hash");
                let k = top_of(
                    key(r.namespace(), &r.kind, r.name()),
                    hash.map(|v| v.as_str()),
                );
                groups.entry(k).or_default().push(Member {
                    r,
                    pod: None,
                    template: Some(spec),
                });
            }
            Body::Pod(spec, status) => {
                let k = match controller_ref(&r.meta) {
                    // Static pods: the kubelet's mirror of a manifest on a node; each is its
                    // own workload.
                    Some(o) if o.kind != "Node" => top_of(
                        key(r.namespace(), &o.kind, &o.name),
                        r.meta.labels.get("pod-template-hash").map(|v| v.as_str()),
                    ),
                    _ => key(r.namespace(), "Pod", r.name()),
                };
                groups.entry(k).or_default().push(Member {
                    r,
                    pod: Some((spec, status)),
                    template: None,
                });
            }
            _ => {}
        }
    }
    groups
        .into_iter()
        .map(|(k, members)| build_group(k, members))
        .collect()
}

/// Revision order of a Deployment's ReplicaSets: the annotation the Deployment controller
/// sets, then creation time.
fn rs_order(r: &Resource) -> (u64, String) {
    (
        r.meta
            .annotations
            .get("deployment.kubernetes.io/revision")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        r.meta.live().creation_timestamp.clone().unwrap_or_default(),
    )
}

fn build_group((ns, kind, name): Key, members: Vec<Member>) -> PendingWorkload {
    let (ns, kind, name) = (ns.to_string(), kind.to_string(), name.to_string());
    // The template: the top controller's own, else the newest ReplicaSet's.
    let top = members
        .iter()
        .find(|m| m.template.is_some() && m.r.kind == kind && m.r.name() == name);
    let newest = members
        .iter()
        .filter(|m| m.template.is_some())
        .max_by_key(|m| rs_order(m.r));
    let template_member = top.or(newest);
    let mut pods: Vec<&Member> = members.iter().filter(|m| m.pod.is_some()).collect();
    pods.sort_by(|a, b| a.r.name().cmp(b.r.name()));
    let any_pods = !pods.is_empty();
    let active: Vec<&Member> = pods
        .into_iter()
        .filter(|m| m.pod.is_some_and(|(_, st)| !finished(st)))
        .collect();
    let seeds: Vec<PodSeed> = active
        .iter()
        .filter_map(|m| {
            let (spec, status) = m.pod?;
            Some(PodSeed {
                name: m.r.name().to_string(),
                ip: status.pod_ip.as_deref().and_then(|s| s.parse().ok()),
                ready: pod_ready(&m.r.meta, status),
                node: spec.node_name.clone(),
            })
        })
        .collect();
    // The pod that speaks for the workload: the first ready one, else the first.
    let rep = active
        .iter()
        .find(|m| m.pod.is_some_and(|(_, st)| pod_ready(&m.r.meta, st)))
        .or_else(|| active.first())
        .copied();
    let no_template = PodTemplate::default();
    let (meta, spec): (&ObjectMeta, &PodSpec) = match (rep.and_then(|m| m.pod), template_member) {
        (Some((spec, _)), _) => (rep.map_or(&no_template.metadata, |m| &m.r.meta), spec),
        (None, Some(t)) => {
            let tpl = t.template.map_or(&no_template, |s| &s.template);
            (&tpl.metadata, &tpl.spec)
        }
        (None, None) => (&no_template.metadata, &no_template.spec),
    };
    let (labels, annotations) = (&meta.labels, &meta.annotations);
    let observed = match rep {
        Some(m) => observe(meta, spec, is_live(m.r, m.pod.map(|p| p.1))),
        None => observe(meta, spec, false),
    };
    let mut mixed = Vec::new();
    if let Some(o) = &observed {
        for m in &active {
            if let Some((s, st)) = m.pod {
                if let Some(other) = observe(&m.r.meta, s, is_live(m.r, Some(st))) {
                    if other.proxy != o.proxy {
                        mixed.push((m.r.name().to_string(), other.proxy));
                    }
                }
            }
        }
    }
    let origin_member = template_member.or(rep).or(members.first());
    let generated_by = template_member.and_then(|t| {
        t.r.meta
            .live()
            .owner_references
            .iter()
            .find(|o| o.kind == "Gateway")
            .map(|o| format!("Gateway {ns}/{}", o.name))
    });
    let sa = spec
        .service_account_name
        .clone()
        .or_else(|| spec.service_account.clone())
        .unwrap_or_else(|| "default".into());
    // Sized exactly: a list grown by pushing keeps room for four, and there is one per workload.
    let mut ports = Vec::with_capacity(spec.containers.iter().map(|c| c.ports.len()).sum());
    for c in &spec.containers {
        ports.extend(c.ports.iter().cloned());
    }
    let replicas = match template_member.and_then(|t| t.template) {
        Some(_) if kind == "DaemonSet" => 1,
        Some(t) => t.replicas.unwrap_or(1),
        None => 1,
    };
    let w = Workload {
        namespace: ns.into(),
        name: name.into(),
        kind: kind.into(),
        labels: labels.clone(),
        annotations: annotations.clone(),
        service_account: sa.into(),
        proxy: ProxyKind::None,
        proxy_reason: String::new(),
        revision: None,
        pods: Vec::new(),
        container_ports: ports,
        origin: origin_member.map(|m| m.r.origin.clone()),
        generated_by,
    };
    PendingWorkload {
        w,
        replicas,
        pods: if any_pods { Some(seeds) } else { None },
        observed,
        mixed,
    }
}

/// Settles a workload's proxy: what its pods run wins over what the labels would decide
/// today, and a difference between the two is reported (`MS0308`).
pub fn settle_proxy(p: &mut PendingWorkload, decision: Decision, diags: &mut Vec<Diagnostic>) {
    let Some(o) = p.observed.clone() else {
        if p.w.generated_by.is_none() {
            p.w.proxy = decision.proxy;
            p.w.proxy_reason = decision.reason;
            p.w.revision = decision.revision;
        }
        return;
    };
    let what = format!("{} {}", p.w.kind, p.w.display());
    let at = |d: Diagnostic| match &p.w.origin {
        Some(o) => d.at(&o.file, o.line),
        None => d,
    };
    let pod = o
        .pod
        .as_deref()
        .map(|n| format!("pod {n}"))
        .unwrap_or_else(|| "its template".into());
    if o.by_injection && p.w.generated_by.is_none() && o.proxy != decision.proxy {
        let hint = match (o.proxy, decision.proxy) {
            (ProxyKind::None, ProxyKind::Sidecar | ProxyKind::Gateway) => format!(
                "the injection webhook runs only when a pod is created: restart the workload (kubectl rollout restart -n {} {}/{}) to get the proxy",
                p.w.namespace, p.w.kind.to_ascii_lowercase(), p.w.name
            ),
            (ProxyKind::Sidecar | ProxyKind::Gateway, ProxyKind::None) => format!(
                "the pods keep their proxy until they are recreated: restart the workload (kubectl rollout restart -n {} {}/{}) or restore the label",
                p.w.namespace, p.w.kind.to_ascii_lowercase(), p.w.name
            ),
            (_, ProxyKind::Ambient) | (ProxyKind::Ambient, _) => "istio-cni redirects running pods when their namespace is labelled; check istio-cni and ztunnel on the pod's node".to_string(),
            _ => "recreate the pods so that they match their labels, or fix the labels".to_string(),
        };
        diags.push(
            at(Diagnostic::new(
                diag::INJECTION_DISAGREES,
                format!(
                    "{pod} runs {} ({}), but its labels today give {} ({})",
                    proxy_phrase(o.proxy),
                    o.how,
                    proxy_phrase(decision.proxy),
                    decision.reason
                ),
            ))
            .object(what.clone())
            .hint(hint),
        );
    }
    if !p.mixed.is_empty() {
        let others: Vec<String> = p
            .mixed
            .iter()
            .map(|(n, k)| format!("{n} runs {}", proxy_phrase(*k)))
            .collect();
        diags.push(
            at(Diagnostic::new(
                diag::INJECTION_DISAGREES,
                format!(
                    "its pods run different proxies: {pod} runs {}, {}; meshsim simulates {}",
                    proxy_phrase(o.proxy),
                    others.join(", "),
                    proxy_phrase(o.proxy)
                ),
            ))
            .object(what)
            .hint(
                "a rollout is under way or was interrupted: wait for it, or restart the workload",
            ),
        );
    }
    p.w.revision = o.revision.clone().or(if o.proxy == decision.proxy {
        decision.revision
    } else {
        None
    });
    p.w.proxy = o.proxy;
    p.w.proxy_reason = format!("{}: {}", pod, o.how);
}

fn proxy_phrase(k: ProxyKind) -> &'static str {
    match k {
        ProxyKind::Sidecar => "a sidecar",
        ProxyKind::Gateway => "a gateway proxy",
        ProxyKind::Waypoint => "a waypoint proxy",
        ProxyKind::Ambient => "in ambient mode",
        ProxyKind::None => "no proxy",
    }
}

/// One endpoint of a Service, from its EndpointSlices: which pod, and whether it is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceEndpoint {
    pub workload: usize,
    pub pod: usize,
    pub ready: bool,
}

/// EndpointSlices by the Service they belong to (label `kubernetes.io/service-name`).
#[derive(Debug, Default)]
pub struct Slices {
    by_service: BTreeMap<(String, String), Vec<EndpointSliceBody>>,
}

impl Slices {
    pub fn add(&mut self, r: &Resource, body: EndpointSliceBody) {
        if let Some(svc) = r.meta.labels.get("kubernetes.io/service-name") {
            self.by_service
                .entry((r.namespace().to_string(), svc.to_string()))
                .or_default()
                .push(body);
        }
    }

    /// The endpoints of Service `ns/name` when slices for it exist (they are then the truth),
    /// resolved to pods by target reference or address; addresses of no known pod are left
    /// out. Ready follows `conditions.ready`, absent meaning ready.
    pub fn endpoints(
        &self,
        ns: &str,
        name: &str,
        pod_by_name: &HashMap<String, (usize, usize)>,
        pod_by_ip: &HashMap<Ipv4Addr, (usize, usize)>,
    ) -> Option<Vec<SliceEndpoint>> {
        let slices = self.by_service.get(&(ns.to_string(), name.to_string()))?;
        let mut out: Vec<SliceEndpoint> = Vec::new();
        for s in slices {
            if s.address_type.as_deref().is_some_and(|t| t != "IPv4") {
                continue;
            }
            for e in &s.endpoints {
                let by_ref = e
                    .target_ref
                    .as_ref()
                    .filter(|t| t.kind.as_deref().is_none_or(|k| k == "Pod"))
                    .and_then(|t| {
                        let pns = t.namespace.as_deref().unwrap_or(ns);
                        pod_by_name.get(&format!("{pns}/{}", t.name.as_deref()?))
                    });
                let by_ip = || {
                    e.addresses
                        .iter()
                        .find_map(|a| a.parse::<Ipv4Addr>().ok())
                        .and_then(|ip| pod_by_ip.get(&ip))
                };
                if let Some(&(wi, pi)) = by_ref.or_else(by_ip) {
                    let ready = e.conditions.ready.unwrap_or(true)
                        && e.conditions.terminating != Some(true);
                    if !out.iter().any(|x| x.workload == wi && x.pod == pi) {
                        out.push(SliceEndpoint {
                            workload: wi,
                            pod: pi,
                            ready,
                        });
                    }
                }
            }
        }
        out.sort_by_key(|e| (e.workload, e.pod));
        Some(out)
    }
}

/// The addresses a live Gateway API Gateway reports in `status.addresses` reach the Service
/// Istio deployed for it (`<gateway>-istio`), even where that Service's own status was not
/// part of the input.
pub fn gateway_status_addresses(mesh: &mut super::Mesh) {
    let mut add_ips = Vec::new();
    let mut add_names = Vec::new();
    for gw in &mesh.gateways {
        let host = format!("{}-istio.{}.{}", gw.name, gw.namespace, super::DOMAIN);
        let Some(&si) = mesh.service_by_host.get(&host) else {
            continue;
        };
        for a in &gw.spec.status_addresses {
            match a.value.parse::<Ipv4Addr>() {
                Ok(ip) if mesh.services[si].cluster_ip != Some(ip) => add_ips.push((ip, si)),
                Ok(_) => {}
                Err(_) if a.value != host => add_names.push((a.value.clone(), si)),
                Err(_) => {}
            }
        }
    }
    for (ip, si) in add_ips {
        mesh.service_by_external_ip.entry(ip).or_insert(si);
        if mesh.services[si].external_ip.is_none() {
            mesh.services[si].external_ip = Some(ip);
        }
    }
    for (name, si) in add_names {
        mesh.service_by_external_hostname.entry(name).or_insert(si);
    }
}

#[cfg(test)]
mod tests;
