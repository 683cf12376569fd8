//! Model: resolves loaded resources once into an immutable, indexed snapshot of the mesh —
//! namespaces, workloads and the proxy each gets, Services with endpoints and protocols,
//! Istio and Gateway API configuration with hosts made fully qualified — so that the
//! simulator only reads indexes.

pub mod addr;
pub mod dump;
pub mod gwapi;
pub mod inject;
pub mod protocol;

use crate::diag::{self, Diagnostic};
use crate::parse::types::*;
use crate::parse::{Body, Loaded, Origin, Resource};
use crate::text::{cat, Piece};
use addr::AddressPool;
use compact_str::CompactString;
use dump::PendingWorkload;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use protocol::Protocol;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::BuildHasherDefault;

/// The model's indexes: hash maps with a word-at-a-time multiplicative hash ([`MapHasher`]),
/// not SipHash. Their keys are names and addresses from the manifests, read on every trace;
/// SipHash's resistance to chosen keys buys nothing offline and costs several times as much
/// for a short name. Nothing iterates these maps where order would show.
pub type HashMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<MapHasher>>;

/// The hash of the model's maps: eight bytes a step, each folded in with a rotation, an xor
/// and a multiplication by an odd constant (the scheme of rustc's FxHash), then a final
/// rotation. A host name of 35 bytes takes five steps where a byte-at-a-time hash such as
/// FNV-1a takes 35.
#[derive(Clone, Copy, Default)]
pub struct MapHasher(u64);

impl MapHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;

    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(Self::K);
    }
}

impl std::hash::Hasher for MapHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([
                c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
            ]));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // The tail's length goes in the byte it leaves free, so that "a" and "a\0" differ.
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            word[7] = rest.len() as u8;
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(n.into());
    }
    fn write_u16(&mut self, n: u16) {
        self.add(n.into());
    }
    fn write_u32(&mut self, n: u32) {
        self.add(n.into());
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    /// The product's high bits mix every bit of the key, its low bits only the key's low bits;
    /// hashbrown takes a bucket from the low bits, so the finish rotates the high ones down.
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}
use std::net::Ipv4Addr;

pub const DOMAIN: &str = "svc.cluster.local";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProxyKind {
    Sidecar,
    Gateway,
    Waypoint,
    Ambient,
    None,
}

impl ProxyKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            ProxyKind::Sidecar => "sidecar",
            ProxyKind::Gateway => "gateway",
            ProxyKind::Waypoint => "waypoint",
            ProxyKind::Ambient => "ambient",
            ProxyKind::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
    pub origin: Option<Origin>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pod {
    pub name: CompactString,
    pub ip: Ipv4Addr,
    pub ready: bool,
    /// The node it runs on, when the input says (a live cluster's dump).
    pub node: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub namespace: CompactString,
    pub name: CompactString,
    /// Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, Pod.
    pub kind: CompactString,
    pub labels: Labels,
    pub annotations: Labels,
    pub service_account: CompactString,
    pub proxy: ProxyKind,
    /// Why the proxy is what it is, in a sentence.
    pub proxy_reason: String,
    pub revision: Option<String>,
    pub pods: Vec<Pod>,
    pub container_ports: Vec<ContainerPort>,
    pub origin: Option<Origin>,
    /// The object that made Istio deploy this workload (a Gateway API Gateway).
    pub generated_by: Option<String>,
}

impl Workload {
    pub fn identity(&self, trust_domain: &str) -> String {
        format!(
            "spiffe://{trust_domain}/ns/{}/sa/{}",
            self.namespace, self.service_account
        )
    }
    pub fn display(&self) -> String {
        cat!(self)
    }
}

/// `namespace/name`, as `display` gives it, written into a `cat!`.
impl crate::text::Piece for Workload {
    fn push_to(&self, out: &mut String) {
        self.namespace.push_to(out);
        out.push('/');
        self.name.push_to(out);
    }
    fn size_hint(&self) -> usize {
        self.namespace.len() + 1 + self.name.len()
    }
}

#[derive(Debug, Clone)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

#[derive(Debug, Clone)]
pub struct ServicePortInfo {
    pub name: String,
    pub port: u16,
    pub target: TargetPort,
    pub protocol: Protocol,
    pub node_port: Option<u16>,
}

/// Pods, as (workload, pod) indexes into `Mesh::workloads`.
pub type Endpoints = Box<[(usize, usize)]>;

#[derive(Debug, Clone)]
pub struct Service {
    pub namespace: CompactString,
    pub name: CompactString,
    pub hostname: String,
    pub type_: String,
    /// None for a headless Service.
    pub cluster_ip: Option<Ipv4Addr>,
    /// The LoadBalancer address, when the type is LoadBalancer.
    pub external_ip: Option<Ipv4Addr>,
    pub external_hostname: Option<String>,
    pub ports: Vec<ServicePortInfo>,
    pub selector: Option<Labels>,
    /// Indexes into `Mesh::workloads` whose pods the selector picks.
    pub endpoints: Vec<usize>,
    /// The endpoints by pod, when EndpointSlices for the Service were read: they are then
    /// the truth (including which pods are ready), not the selector.
    pub endpoint_pods: Option<Vec<dump::SliceEndpoint>>,
    /// The ready pods (workload, pod), found once when the Service is built so that a trace
    /// reads one short list instead of each workload's labels and pods. A DestinationRule
    /// subset's are in [`Mesh::dr_subset_endpoints`].
    pub ready_endpoints: Endpoints,
    /// The DestinationRules for the Service's host, in precedence order (`Mesh::dr_by_host`
    /// for its host name), so that a trace routing to it does not look the host up again.
    pub destination_rules: Box<[usize]>,
    pub labels: Labels,
    pub annotations: Labels,
    pub external_name: Option<String>,
    pub origin: Option<Origin>,
    pub generated_by: Option<String>,
}

impl Service {
    pub fn port(&self, p: u16) -> Option<&ServicePortInfo> {
        self.ports.iter().find(|x| x.port == p)
    }
    pub fn display(&self) -> String {
        cat!(self)
    }
}

/// `namespace/name`, as `display` gives it, written into a `cat!`.
impl crate::text::Piece for Service {
    fn push_to(&self, out: &mut String) {
        self.namespace.push_to(out);
        out.push('/');
        self.name.push_to(out);
    }
    fn size_hint(&self) -> usize {
        self.namespace.len() + 1 + self.name.len()
    }
}

/// A ServiceEntry, one per host it declares.
#[derive(Debug, Clone)]
pub struct ServiceEntryHost {
    pub namespace: CompactString,
    pub name: CompactString,
    pub host: String,
    pub spec: ServiceEntrySpec,
    pub labels: Labels,
    pub origin: Origin,
    pub created: String,
}

impl ServiceEntryHost {
    pub fn protocol(&self, port: u16) -> Option<Protocol> {
        self.spec
            .ports
            .iter()
            .find(|p| p.number == port)
            .map(|p| Protocol::from_name(p.protocol.as_deref().unwrap_or(""), p.name.as_deref()))
    }
    pub fn external(&self) -> bool {
        self.spec.location.as_deref() != Some("MESH_INTERNAL")
    }
}

/// A configuration object with what every kind shares.
#[derive(Debug, Clone)]
pub struct Config<S> {
    pub namespace: CompactString,
    pub name: CompactString,
    pub labels: Labels,
    pub annotations: Labels,
    pub created: String,
    pub origin: Origin,
    pub spec: S,
}

impl Config<IstioGatewaySpec> {
    /// Whether the Gateway's selector picks gateway workload `w` (in any namespace, as Istio
    /// does by default); an empty selector picks none.
    pub fn selects(&self, w: &Workload) -> bool {
        w.proxy == ProxyKind::Gateway
            && !self.spec.selector.is_empty()
            && self.spec.selector.is_subset_of(&w.labels)
    }
}

impl<S> Config<S> {
    pub fn display(&self, kind: &str) -> String {
        format!("{kind} {}/{}", self.namespace, self.name)
    }
    /// Istio orders conflicting configuration by creation time, then namespace and name.
    pub fn precedence_key(&self) -> (&str, &str, &str) {
        (&self.created, &self.namespace, &self.name)
    }
}

/// Sorts configuration in Istio's precedence order ([`Config::precedence_key`]), stably.
fn sort_by_precedence<S>(list: &mut [Config<S>]) {
    list.sort_by(|a, b| a.precedence_key().cmp(&b.precedence_key()));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OutboundPolicy {
    AllowAny,
    RegistryOnly,
}

#[derive(Debug, Clone)]
pub struct MeshSettings {
    pub access_log: bool,
    pub access_log_encoding_json: bool,
    pub outbound_policy: OutboundPolicy,
    /// Where the outbound policy was set, for explanations.
    pub outbound_policy_source: String,
    pub trust_domain: String,
}

#[derive(Debug, Clone, Default)]
pub struct ControlPlane {
    /// Revision names, as Sail names them.
    pub revisions: BTreeSet<String>,
    /// Revision tags: tag → revision.
    pub tags: BTreeMap<String, String>,
    /// True when nothing declared a control plane and one is assumed.
    pub assumed: bool,
    pub ambient: bool,
    pub namespace: String,
    /// Namespace of the ztunnel DaemonSet (the Sail `ZTunnel` resource's), when ambient.
    pub ztunnel_namespace: String,
    pub ztunnel_declared: bool,
}

impl ControlPlane {
    /// Resolves a revision or tag name to a revision.
    pub fn resolve(&self, rev: &str) -> Option<&str> {
        if let Some(r) = self.revisions.get(rev) {
            return Some(r.as_str());
        }
        self.tags.get(rev).map(String::as_str)
    }
}

/// What [`Mesh::vs_facts`] keeps of a VirtualService.
#[derive(Debug, Clone, Copy)]
pub struct VsFacts {
    /// Bound to no gateway or to `mesh`: it applies to sidecars.
    pub mesh_bound: bool,
    /// `exportTo` empty or `*`.
    pub exported_everywhere: bool,
    pub has_hosts: bool,
}

/// Nodes of the topology graph: who reaches whom through which proxies.
#[derive(Debug, Clone)]
pub enum TopoNode {
    Workload(usize),
    Service(usize),
    ServiceEntry(usize),
    IstioGateway(usize),
    VirtualService(usize),
    GatewayApi(usize),
    Route(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopoEdge {
    /// Service → workload it selects.
    Selects,
    /// Istio Gateway → gateway workload that serves it.
    ServedBy,
    /// VirtualService → Istio Gateway it binds to.
    BindsTo,
    /// Route (VirtualService or HTTPRoute) → Service it sends to.
    RoutesTo,
    /// HTTPRoute → its parent.
    AttachesTo,
}

pub struct Mesh {
    pub namespaces: BTreeMap<String, Namespace>,
    pub workloads: Vec<Workload>,
    pub services: Vec<Service>,
    pub service_entries: Vec<ServiceEntryHost>,
    pub virtual_services: Vec<Config<VirtualServiceSpec>>,
    pub destination_rules: Vec<Config<DestinationRuleSpec>>,
    pub istio_gateways: Vec<Config<IstioGatewaySpec>>,
    pub sidecars: Vec<Config<SidecarSpec>>,
    pub gateways: Vec<Config<GatewaySpec>>,
    pub gateway_classes: Vec<Config<GatewayClassSpec>>,
    pub http_routes: Vec<Config<HttpRouteSpec>>,
    pub grpc_routes: Vec<Config<GrpcRouteSpec>>,
    pub reference_grants: Vec<Config<ReferenceGrantSpec>>,
    pub openshift_routes: Vec<Config<OpenShiftRouteSpec>>,
    pub authorization_policies: Vec<Config<AuthorizationPolicySpec>>,
    pub peer_authentications: Vec<Config<PeerAuthenticationSpec>>,
    pub workload_entries: Vec<Config<WorkloadEntrySpec>>,
    /// Addresses Istio's IP auto-allocation gives ServiceEntry hosts without `addresses`
    /// (240.240.0.0/16), which ztunnel's DNS proxy answers with in ambient mode.
    pub se_auto_vip: HashMap<String, Ipv4Addr>,
    pub se_by_auto_vip: HashMap<Ipv4Addr, usize>,
    /// meshsim's `SimulatedResponse`s.
    pub responses: Vec<Config<SimulatedResponseSpec>>,
    /// Everything else that was read (RBAC, autoscalers, unknown kinds): kept, not simulated.
    pub other: Vec<Resource>,
    pub settings: MeshSettings,
    pub control_plane: ControlPlane,
    pub diagnostics: Vec<Diagnostic>,
    pub topology: StableDiGraph<TopoNode, TopoEdge>,
    // Indexes.
    pub service_by_host: HashMap<String, usize>,
    pub service_by_ip: HashMap<Ipv4Addr, usize>,
    pub service_by_external_ip: HashMap<Ipv4Addr, usize>,
    /// LoadBalancer host names (`status.loadBalancer.ingress[].hostname`), as a cloud's DNS
    /// would resolve them.
    pub service_by_external_hostname: HashMap<String, usize>,
    pub pod_by_ip: HashMap<Ipv4Addr, (usize, usize)>,
    pub pod_by_name: HashMap<String, (usize, usize)>,
    pub se_by_host: HashMap<String, Vec<usize>>,
    pub se_wildcards: Vec<usize>,
    pub se_by_address: HashMap<String, usize>,
    pub dr_by_host: HashMap<String, Vec<usize>>,
    /// Parallel to `destination_rules`: for each subset, the ready pods of the rule's host's
    /// Service that carry its labels (empty when the host is not a Service).
    pub dr_subset_endpoints: Vec<Box<[Endpoints]>>,
    /// Parallel to `virtual_services`: each one's hosts, fully qualified (Istio resolves a
    /// VirtualService's short host names once, when it builds its push context).
    pub vs_hosts: Vec<Box<[String]>>,
    /// Parallel to `virtual_services`: what a sidecar asks first of each one it considers, a
    /// few bytes each, so that rejecting one (or taking one exported everywhere) does not read
    /// the VirtualService itself.
    pub vs_facts: Vec<VsFacts>,
    /// VirtualServices by fully qualified host; wildcard hosts in `vs_wildcards`.
    pub vs_by_host: HashMap<String, Vec<usize>>,
    pub vs_wildcards: Vec<usize>,
    /// VirtualServices with `tls` routes, in precedence order.
    pub vs_with_tls: Vec<usize>,
    /// VirtualServices by `namespace/name` (delegates name theirs).
    pub vs_by_name: HashMap<String, usize>,
    /// The first Service (in model order) declaring each node port.
    pub service_by_node_port: HashMap<u16, usize>,
    pub gateway_workload_nodes: HashMap<usize, NodeIndex>,
    /// Services declaring a port with an HTTP protocol (or sniffed, without a VIP): a sidecar
    /// has a wildcard HTTP listener on each such port.
    pub http_services_by_port: HashMap<u16, Vec<usize>>,
    pub http_service_entries_by_port: HashMap<u16, Vec<usize>>,
    /// Every Service and ServiceEntry host declaring a port, by port.
    pub services_by_port: HashMap<u16, Vec<usize>>,
    pub service_entries_by_port: HashMap<u16, Vec<usize>>,
    /// The OpenShift router's external address, when Routes exist.
    pub router_ip: Ipv4Addr,
    /// What Istio's gateway controller makes of the Gateway API objects.
    pub gateway_api: gwapi::GatewayApi,
    // Indexes that keep a trace's cost independent of the mesh's size.
    /// The Services selecting each workload (the inverse of `Service::endpoints`).
    pub services_by_workload: Vec<Vec<usize>>,
    /// The Istio Gateways whose selector picks each gateway workload, and the reverse.
    pub istio_gateways_by_workload: HashMap<usize, Vec<usize>>,
    pub workloads_by_istio_gateway: Vec<Vec<usize>>,
    /// Istio Gateways by server host (without namespace prefix, lowercase, `*` left out);
    /// gateways with wildcard server hosts in `istio_gateway_wildcards`.
    pub istio_gateways_by_host: HashMap<String, Vec<usize>>,
    pub istio_gateway_wildcards: Vec<usize>,
    /// Sidecar resources by namespace, each list in precedence order: a sidecar's scope looks
    /// at its own namespace's and the root namespace's only.
    pub sidecars_by_namespace: HashMap<String, Vec<usize>>,
    /// Parallel to `sidecars`: each as a sidecar's scope reads it, prepared once.
    pub sidecar_scopes: Vec<SidecarScope>,
    /// The egress of a sidecar no Sidecar resource (or one without egress) applies to: every
    /// namespace's hosts on every port (Istio's default `*/*`).
    pub open_egress: Box<[EgressListener]>,
    /// OpenShift Routes by lowercase `spec.host`, and those with `wildcardPolicy: Subdomain`,
    /// each list in precedence order.
    pub openshift_routes_by_host: HashMap<String, Vec<usize>>,
    pub openshift_subdomain_routes: Vec<usize>,
    /// Gateway API Gateways of class `istio` by each host they expose (a listener's hostname,
    /// or a hostname of an HTTPRoute or GRPCRoute attached to them), as written; those
    /// exposing a wildcard pattern in `gateways_exposing_wildcards`, with the pattern. Each
    /// list in `gateways` order.
    pub gateways_by_exposed_host: HashMap<String, Vec<usize>>,
    pub gateways_exposing_wildcards: Vec<(usize, String)>,
    /// meshsim's SimulatedResponses by each host they answer for (as written, and fully
    /// qualified from the response's namespace), each list in `responses` order.
    pub responses_by_host: HashMap<String, Vec<usize>>,
    /// VirtualServices bound to an Istio Gateway (`ns/name`), by fully qualified lowercase host;
    /// those with wildcard hosts by gateway in `vs_wildcards_by_gateway`.
    pub vs_by_gateway_host: HashMap<(String, String), Vec<usize>>,
    pub vs_wildcards_by_gateway: HashMap<String, Vec<usize>>,
    pub vs_by_gateway: HashMap<String, Vec<usize>>,
    /// Workloads by name, by pod name and by `app` label, for naming a request's source.
    pub workloads_by_name: HashMap<String, Vec<usize>>,
    pub pods_by_bare_name: HashMap<String, Vec<(usize, usize)>>,
    pub workloads_by_app: HashMap<String, Vec<usize>>,
    /// Every regex of every route match, compiled once.
    pub regexes: Regexes,
    /// The Envoy routes of each VirtualService, written and generated, compiled by
    /// `sim::route` the first time a trace needs them and kept for the next.
    pub routes: crate::sim::route::RouteMemo,
}

/// Route-match regexes compiled once, as Envoy's `safe_regex` matches: the whole value.
#[derive(Debug, Default)]
pub struct Regexes(HashMap<String, Option<regex::Regex>>);

impl Regexes {
    fn add(&mut self, pattern: &str) {
        if !self.0.contains_key(pattern) {
            self.0.insert(
                pattern.to_string(),
                regex::Regex::new(&full_match(pattern)).ok(),
            );
        }
    }

    /// True when `pattern` matches all of `value`; a pattern that does not compile matches
    /// nothing (the loader reported it). Patterns not seen at build are compiled here.
    pub fn is_full_match(&self, pattern: &str, value: &str) -> bool {
        match self.0.get(pattern) {
            Some(re) => re.as_ref().is_some_and(|re| re.is_match(value)),
            None => regex::Regex::new(&full_match(pattern)).is_ok_and(|re| re.is_match(value)),
        }
    }
}

fn full_match(pattern: &str) -> String {
    format!("^(?:{pattern})$")
}

/// Makes a host fully qualified the way Istio does for a config in namespace `ns`: a short
/// name `reviews` becomes `reviews.ns.svc.cluster.local`; names with dots stay as written.
/// Borrowed when the name stays as written, which it nearly always does.
pub fn fqdn<'h>(host: &'h str, ns: &str) -> std::borrow::Cow<'h, str> {
    if host.contains('.') || host.contains('*') {
        host.into()
    } else {
        cat!(host, ".", ns, ".", DOMAIN).into()
    }
}

/// Istio's wildcard host match: `*.example.com` matches `a.example.com` (and `*` anything).
pub fn host_matches(pattern: &str, host: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        if let Some(hs) = host.strip_prefix('*') {
            return hs.ends_with(suffix);
        }
        return host.ends_with(suffix) && host.len() > suffix.len();
    }
    pattern == host
}

/// True when two host patterns can both match some host.
pub fn hosts_intersect(a: &str, b: &str) -> bool {
    host_matches(a, b) || host_matches(b, a)
}

fn creation(meta: &ObjectMeta) -> String {
    meta.live().creation_timestamp.clone().unwrap_or_default()
}

impl Mesh {
    /// The Gateway API Gateways of class `istio` exposing `host` (a listener's hostname or an
    /// attached route's hostname matching it), in `gateways` order, from the indexes.
    pub fn gateways_exposing(&self, host: &str) -> Vec<usize> {
        let mut exposing: Vec<usize> = listed(&self.gateways_by_exposed_host, host).to_vec();
        exposing.extend(
            self.gateways_exposing_wildcards
                .iter()
                .filter(|(_, pattern)| host_matches(pattern, host))
                .map(|(gi, _)| *gi),
        );
        exposing.sort_unstable();
        exposing.dedup();
        exposing
    }
}

/// The list an index holds for `key`, or none; an empty index (a mesh without objects of
/// its kind) answers without hashing the key.
pub fn listed<'m>(index: &'m HashMap<String, Vec<usize>>, key: &str) -> &'m [usize] {
    if index.is_empty() {
        return &[];
    }
    index.get(key).map_or(&[], Vec::as_slice)
}

/// A new list of an index, room for one: most keys of the model's indexes (a name, a host, a
/// port) have a single entry, and a list grown by pushing would keep room for four.
fn list<T>() -> Vec<T> {
    Vec::with_capacity(1)
}

/// The configuration object a resource is, its spec moved out of the resource.
fn config<S>(r: Resource, spec: S) -> Config<S> {
    Config {
        namespace: r.meta.namespace.unwrap_or_default().into(),
        name: r.meta.name.unwrap_or_default().into(),
        labels: r.meta.labels,
        annotations: r.meta.annotations,
        created: r
            .meta
            .live
            .and_then(|l| l.creation_timestamp)
            .unwrap_or_default(),
        origin: r.origin,
        spec,
    }
}

/// Options that change the model, as `--mesh-config` does.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    pub mesh_config: Option<MeshConfig>,
    pub mesh_config_source: Option<String>,
}

impl Mesh {
    pub fn build(loaded: Loaded, opts: &ModelOptions) -> Mesh {
        build(loaded, opts)
    }

    pub fn namespace_labels(&self, ns: &str) -> Option<&Labels> {
        self.namespaces.get(ns).map(|n| &n.labels)
    }

    /// A Service by fully qualified host name.
    pub fn service(&self, host: &str) -> Option<&Service> {
        self.service_by_host.get(host).map(|&i| &self.services[i])
    }

    /// The ServiceEntries declaring `host`, exactly or by wildcard, oldest first.
    pub fn service_entries_for(&self, host: &str) -> Vec<usize> {
        let mut v: Vec<usize> = self.se_by_host.get(host).cloned().unwrap_or_default();
        for &i in &self.se_wildcards {
            if host_matches(&self.service_entries[i].host, host) {
                v.push(i);
            }
        }
        v
    }

    /// Ready pods of a Service's endpoints whose labels carry `subset_labels`.
    pub fn endpoints<'a>(
        &'a self,
        svc: &'a Service,
        subset_labels: &Labels,
    ) -> Cow<'a, [(usize, usize)]> {
        if subset_labels.is_empty() {
            Cow::Borrowed(&svc.ready_endpoints)
        } else {
            Cow::Owned(self.select_endpoints(svc, subset_labels))
        }
    }

    /// The ready pods of subset `k` of DestinationRule `dr`: its host's Service's pods that
    /// carry the subset's labels. None when the host is not a Service.
    pub fn subset_endpoints(&self, dr: usize, k: usize) -> Option<&[(usize, usize)]> {
        self.dr_subset_endpoints.get(dr)?.get(k).map(|e| &e[..])
    }

    /// [`Mesh::endpoints`], found from the workloads.
    fn select_endpoints(&self, svc: &Service, subset_labels: &Labels) -> Vec<(usize, usize)> {
        let carries = |wi: usize| {
            let w: &Workload = &self.workloads[wi];
            subset_labels.is_subset_of(&w.labels)
        };
        if let Some(eps) = &svc.endpoint_pods {
            return eps
                .iter()
                .filter(|e| e.ready && carries(e.workload))
                .map(|e| (e.workload, e.pod))
                .collect();
        }
        let mut out = Vec::new();
        for &wi in &svc.endpoints {
            let w = &self.workloads[wi];
            if subset_labels.is_subset_of(&w.labels) {
                for (pi, p) in w.pods.iter().enumerate() {
                    if p.ready {
                        out.push((wi, pi));
                    }
                }
            }
        }
        out
    }

    pub fn gateway_workloads(&self) -> impl Iterator<Item = (usize, &Workload)> {
        self.workloads
            .iter()
            .enumerate()
            .filter(|(_, w)| w.proxy == ProxyKind::Gateway)
    }

    /// The Services selecting a workload.
    pub fn services_of_workload(&self, wi: usize) -> Vec<usize> {
        self.services_by_workload
            .get(wi)
            .cloned()
            .unwrap_or_default()
    }
}

fn mesh_settings(
    loaded: &Loaded,
    opts: &ModelOptions,
    diags: &mut Vec<Diagnostic>,
) -> MeshSettings {
    let mut mc = MeshConfig::default();
    let mut policy_source = "Istio's default (ALLOW_ANY)".to_string();
    let mut apply = |m: &MeshConfig, source: String, mc: &mut MeshConfig| {
        if m.access_log_file.is_some() {
            mc.access_log_file = m.access_log_file.clone();
        }
        if m.access_log_encoding.is_some() {
            mc.access_log_encoding = m.access_log_encoding.clone();
        }
        if m.trust_domain.is_some() {
            mc.trust_domain = m.trust_domain.clone();
        }
        if m.outbound_traffic_policy
            .as_ref()
            .and_then(|p| p.mode.as_ref())
            .is_some()
        {
            mc.outbound_traffic_policy = m.outbound_traffic_policy.clone();
            policy_source = source;
        }
    };
    for r in &loaded.resources {
        match &*r.body {
            Body::ConfigMap(cm) if r.name() == "istio" || r.name().starts_with("istio-") => {
                if let Some(mesh) = cm.data.get("mesh") {
                    match serde_yaml::from_str::<MeshConfig>(mesh) {
                        Ok(m) => apply(
                            &m,
                            format!(
                                "ConfigMap {}/{} ({})",
                                r.namespace(),
                                r.name(),
                                r.origin.pos()
                            ),
                            &mut mc,
                        ),
                        Err(e) => diags.push(
                            Diagnostic::new(
                                diag::WRONG_TYPE,
                                format!("data.mesh is not a valid meshConfig: {e}"),
                            )
                            .at(&r.origin.file, r.origin.line_of(&["data", "mesh"]))
                            .object(r.display())
                            .hint("data.mesh holds meshConfig as YAML inside a string"),
                        ),
                    }
                }
            }
            Body::SailIstio(s) | Body::IstioRevision(s) => {
                if let Some(m) = s.values.as_ref().and_then(|v| v.mesh_config.as_ref()) {
                    apply(
                        m,
                        format!(
                            "{} ({})",
                            r.display(),
                            r.origin.pos_of(&["spec", "values", "meshConfig"])
                        ),
                        &mut mc,
                    );
                }
            }
            _ => {}
        }
    }
    if let Some(m) = &opts.mesh_config {
        apply(
            m,
            opts.mesh_config_source
                .clone()
                .unwrap_or_else(|| "--mesh-config".into()),
            &mut mc,
        );
    }
    let mode = mc
        .outbound_traffic_policy
        .as_ref()
        .and_then(|p| p.mode.clone())
        .unwrap_or_default();
    MeshSettings {
        access_log: mc.access_log_file.as_deref().is_some_and(|f| !f.is_empty()),
        access_log_encoding_json: mc.access_log_encoding.as_deref() == Some("JSON"),
        outbound_policy: if mode == "REGISTRY_ONLY" {
            OutboundPolicy::RegistryOnly
        } else {
            OutboundPolicy::AllowAny
        },
        outbound_policy_source: policy_source,
        trust_domain: mc.trust_domain.unwrap_or_else(|| "cluster.local".into()),
    }
}

/// Default Istio version of a Sail `Istio` without `spec.version` (OpenShift Service Mesh 3.2).
pub const DEFAULT_ISTIO_VERSION: &str = "v1.27.3";

fn control_plane(loaded: &Loaded, diags: &mut Vec<Diagnostic>) -> ControlPlane {
    let mut cp = ControlPlane {
        namespace: "istio-system".into(),
        ..Default::default()
    };
    let mut declared = false;
    for r in &loaded.resources {
        match &*r.body {
            Body::SailIstio(s) => {
                declared = true;
                let strategy = s
                    .update_strategy
                    .as_ref()
                    .and_then(|u| u.type_.clone())
                    .unwrap_or_else(|| "InPlace".into());
                let rev = if strategy == "RevisionBased" {
                    let v = s
                        .version
                        .clone()
                        .unwrap_or_else(|| DEFAULT_ISTIO_VERSION.into());
                    format!("{}-{}", r.name(), v.replace('.', "-"))
                } else {
                    r.name().to_string()
                };
                cp.revisions.insert(rev);
                if let Some(ns) = &s.namespace {
                    cp.namespace = ns.clone();
                }
                let profile = s
                    .profile
                    .clone()
                    .or_else(|| s.values.as_ref().and_then(|v| v.profile.clone()));
                if profile.as_deref() == Some("ambient") {
                    cp.ambient = true;
                }
            }
            Body::IstioRevision(s) => {
                declared = true;
                cp.revisions.insert(r.name().to_string());
                if s.profile.as_deref() == Some("ambient") {
                    cp.ambient = true;
                }
            }
            Body::ZTunnel(z) => {
                cp.ztunnel_declared = true;
                cp.ztunnel_namespace = z.namespace.clone().unwrap_or_else(|| "ztunnel".into());
            }
            Body::IstioRevisionTag(t) => {
                declared = true;
                cp.tags
                    .insert(r.name().to_string(), t.target_ref.name.clone());
            }
            Body::ConfigMap(_) if r.name() == "istio" => {
                declared = true;
                cp.revisions.insert("default".into());
            }
            _ => {}
        }
    }
    // A tag that points at an Istio resource resolves to that resource's revision.
    let revs = cp.revisions.clone();
    for target in cp.tags.values_mut() {
        if !revs.contains(target.as_str()) {
            if let Some(r) = revs.iter().find(|r| r.starts_with(&format!("{target}-v"))) {
                *target = r.clone();
            }
        }
    }
    if cp.ztunnel_namespace.is_empty() {
        cp.ztunnel_namespace = "ztunnel".into();
    }
    if declared && cp.ambient && !cp.ztunnel_declared {
        diags.push(
            Diagnostic::new(diag::AMBIENT_WITHOUT_ZTUNNEL, "the control plane has the ambient profile but no ZTunnel resource is declared: no pod is captured")
                .hint("add a sailoperator.io/v1 ZTunnel resource, as the ambient procedure's prerequisites say"),
        );
        cp.ambient = false;
    }
    if !declared {
        cp.assumed = true;
        cp.ambient = true;
        cp.revisions.insert("default".into());
        diags.push(Diagnostic::new(
            diag::NO_CONTROL_PLANE,
            "no Istio control plane is declared: assuming one whose default revision exists and that supports sidecar and ambient modes",
        ).hint("add the Sail operator's Istio resource to the manifests to simulate a specific control plane"));
    }
    cp
}

fn build(loaded: Loaded, opts: &ModelOptions) -> Mesh {
    let mut diags = Vec::new();
    let settings = mesh_settings(&loaded, opts, &mut diags);
    let control_plane = control_plane(&loaded, &mut diags);
    let mut namespaces: BTreeMap<String, Namespace> = BTreeMap::new();
    let mut mesh = Mesh {
        namespaces: BTreeMap::new(),
        workloads: Vec::new(),
        services: Vec::new(),
        service_entries: Vec::new(),
        virtual_services: Vec::new(),
        destination_rules: Vec::new(),
        istio_gateways: Vec::new(),
        sidecars: Vec::new(),
        gateways: Vec::new(),
        gateway_classes: Vec::new(),
        http_routes: Vec::new(),
        grpc_routes: Vec::new(),
        reference_grants: Vec::new(),
        openshift_routes: Vec::new(),
        authorization_policies: Vec::new(),
        peer_authentications: Vec::new(),
        workload_entries: Vec::new(),
        responses: Vec::new(),
        se_auto_vip: HashMap::default(),
        se_by_auto_vip: HashMap::default(),
        other: Vec::new(),
        settings,
        control_plane,
        diagnostics: Vec::new(),
        topology: StableDiGraph::new(),
        service_by_host: HashMap::default(),
        service_by_ip: HashMap::default(),
        service_by_external_ip: HashMap::default(),
        service_by_external_hostname: HashMap::default(),
        pod_by_ip: HashMap::default(),
        pod_by_name: HashMap::default(),
        se_by_host: HashMap::default(),
        se_wildcards: Vec::new(),
        se_by_address: HashMap::default(),
        dr_by_host: HashMap::default(),
        dr_subset_endpoints: Vec::new(),
        vs_hosts: Vec::new(),
        vs_facts: Vec::new(),
        vs_by_host: HashMap::default(),
        vs_wildcards: Vec::new(),
        vs_with_tls: Vec::new(),
        vs_by_name: HashMap::default(),
        service_by_node_port: HashMap::default(),
        gateway_workload_nodes: HashMap::default(),
        http_services_by_port: HashMap::default(),
        http_service_entries_by_port: HashMap::default(),
        services_by_port: HashMap::default(),
        service_entries_by_port: HashMap::default(),
        router_ip: Ipv4Addr::new(203, 0, 113, 2),
        gateway_api: gwapi::GatewayApi::default(),
        services_by_workload: Vec::new(),
        istio_gateways_by_workload: HashMap::default(),
        workloads_by_istio_gateway: Vec::new(),
        istio_gateways_by_host: HashMap::default(),
        istio_gateway_wildcards: Vec::new(),
        sidecars_by_namespace: HashMap::default(),
        sidecar_scopes: Vec::new(),
        open_egress: Box::new([EgressListener {
            port: None,
            hosts: Box::new([("*".to_string(), "*".to_string())]),
        }]),
        openshift_routes_by_host: HashMap::default(),
        openshift_subdomain_routes: Vec::new(),
        gateways_by_exposed_host: HashMap::default(),
        gateways_exposing_wildcards: Vec::new(),
        responses_by_host: HashMap::default(),
        vs_by_gateway_host: HashMap::default(),
        vs_wildcards_by_gateway: HashMap::default(),
        vs_by_gateway: HashMap::default(),
        workloads_by_name: HashMap::default(),
        pods_by_bare_name: HashMap::default(),
        workloads_by_app: HashMap::default(),
        regexes: Regexes::default(),
        routes: Default::default(),
    };
    // Pods and their controllers are grouped into workloads by `dump::group`; EndpointSlices
    // become Service endpoints below.
    // Lists are sized by a count first: grown by doubling, they would hold up to twice their
    // objects' room, and copy it on each growth, at loading's peak of memory.
    let count = |f: fn(&Body) -> bool| loaded.resources.iter().filter(|r| f(&r.body)).count();
    let mut pod_objects: Vec<Resource> =
        Vec::with_capacity(count(|b| matches!(b, Body::Pod(..) | Body::Workload(_))));
    let mut svc_specs: Vec<(Resource, ServiceSpec, ServiceStatus)> =
        Vec::with_capacity(count(|b| matches!(b, Body::Service(..))));
    mesh.virtual_services = Vec::with_capacity(count(|b| matches!(b, Body::VirtualService(_))));
    mesh.destination_rules = Vec::with_capacity(count(|b| matches!(b, Body::DestinationRule(_))));
    let mut slices = dump::Slices::default();
    for mut r in loaded.resources {
        let ns = r.namespace().to_string();
        if !ns.is_empty() && !namespaces.contains_key(&ns) {
            namespaces.insert(
                ns.clone(),
                Namespace {
                    name: ns.clone(),
                    labels: Labels::from([("kubernetes.io/metadata.name".to_string(), ns.clone())]),
                    origin: None,
                },
            );
        }
        // The spec moves out of the resource into the model; the rest of it is moved or dropped.
        match std::mem::replace(&mut *r.body, Body::Namespace) {
            Body::Namespace => {
                let mut labels = r.meta.labels.clone();
                labels.insert("kubernetes.io/metadata.name", r.name().to_string());
                namespaces.insert(
                    r.name().to_string(),
                    Namespace {
                        name: r.name().to_string(),
                        labels,
                        origin: Some(r.origin.clone()),
                    },
                );
            }
            body @ (Body::Pod(..) | Body::Workload(_)) => {
                *r.body = body;
                pod_objects.push(r)
            }
            Body::EndpointSlice(b) => slices.add(&r, b),
            Body::Service(spec, status) => svc_specs.push((r, spec, status)),
            Body::VirtualService(s) => mesh.virtual_services.push(config(r, s)),
            Body::DestinationRule(s) => mesh.destination_rules.push(config(r, s)),
            Body::IstioGateway(s) => mesh.istio_gateways.push(config(r, s)),
            Body::Sidecar(s) => mesh.sidecars.push(config(r, s)),
            Body::Gateway(s) => mesh.gateways.push(config(r, s)),
            Body::GatewayClass(s) => mesh.gateway_classes.push(config(r, s)),
            Body::HttpRoute(s) => mesh.http_routes.push(config(r, s)),
            Body::GrpcRoute(s) => mesh.grpc_routes.push(config(r, s)),
            Body::ReferenceGrant(s) => mesh.reference_grants.push(config(r, s)),
            Body::OpenShiftRoute(s) => mesh.openshift_routes.push(config(r, s)),
            Body::AuthorizationPolicy(s) => mesh.authorization_policies.push(config(r, s)),
            Body::PeerAuthentication(s) => mesh.peer_authentications.push(config(r, s)),
            Body::WorkloadEntry(s) => mesh.workload_entries.push(config(r, s)),
            Body::SimulatedResponse(s) => mesh.responses.push(config(r, s)),
            Body::ServiceEntry(ref s) => {
                for h in &s.hosts {
                    mesh.service_entries.push(ServiceEntryHost {
                        namespace: r.namespace().into(),
                        name: r.name().into(),
                        host: h.clone(),
                        spec: s.clone(),
                        labels: r.meta.labels.clone(),
                        origin: r.origin.clone(),
                        created: creation(&r.meta),
                    });
                }
            }
            body => {
                *r.body = body;
                mesh.other.push(r)
            }
        }
    }
    mesh.namespaces = namespaces;
    let mut pending: Vec<PendingWorkload> = dump::group(&pod_objects);
    drop(pod_objects);

    // Gateway API Gateways: Istio deploys a proxy and a Service for each (class istio: name
    // `<gateway>-istio`; class istio-waypoint: the Gateway's own name).
    gateway_deployments(&mesh, &mut pending, &mut svc_specs);

    // Workloads, sorted by identity so that document order never changes an answer.
    pending.sort_by(|a, b| (&a.w.namespace, &a.w.name).cmp(&(&b.w.namespace, &b.w.name)));
    let mut pod_pool = AddressPool::new(Ipv4Addr::new(10, 128, 0, 0), 14);
    for p in &pending {
        for ip in p.pods.iter().flatten().filter_map(|s| s.ip) {
            pod_pool.reserve(ip);
        }
    }
    mesh.workloads.reserve_exact(pending.len());
    for mut p in pending {
        let ns_labels = mesh
            .namespaces
            .get(p.w.namespace.as_str())
            .map(|n| n.labels.clone())
            .unwrap_or_default();
        let decision = inject::decide(
            &ns_labels,
            &p.w.labels,
            &p.w.annotations,
            &mesh.control_plane,
            p.w.proxy,
        );
        let warning = decision.warning.clone();
        dump::settle_proxy(&mut p, decision, &mut mesh.diagnostics);
        if let Some(w) = warning {
            let mut d = Diagnostic::new(diag::MISSING_REVISION, w).object(format!(
                "{} {}",
                p.w.kind,
                p.w.display()
            ));
            if let Some(o) = &p.w.origin {
                d = d.at(&o.file, o.line);
            }
            mesh.diagnostics.push(d.hint("name an existing revision or tag (see IstioRevision and IstioRevisionTag resources)"));
        }
        p.w.pods = match p.pods.take() {
            // The pods the input holds; one without an address yet (pending) gets one.
            Some(seeds) => seeds
                .into_iter()
                .map(|s| Pod {
                    ip: s.ip.unwrap_or_else(|| {
                        pod_pool.assign(&format!("{}/{}", p.w.namespace, s.name))
                    }),
                    name: s.name.into(),
                    ready: s.ready,
                    node: s.node,
                })
                .collect(),
            None => template_pods(&p, &mut pod_pool),
        };
        let wi = mesh.workloads.len();
        for (pi, pod) in p.w.pods.iter().enumerate() {
            mesh.pod_by_ip.insert(pod.ip, (wi, pi));
            mesh.pod_by_name
                .insert(format!("{}/{}", p.w.namespace, pod.name), (wi, pi));
        }
        mesh.workloads.push(p.w);
    }

    // Services.
    svc_specs.sort_by(|a, b| (a.0.namespace(), a.0.name()).cmp(&(b.0.namespace(), b.0.name())));
    let mut svc_pool = AddressPool::new(Ipv4Addr::new(172, 30, 0, 0), 16);
    let mut lb_pool = AddressPool::new(Ipv4Addr::new(203, 0, 113, 0), 24);
    lb_pool.reserve(mesh.router_ip);
    for (_, spec, _) in &svc_specs {
        if let Some(ip) = spec.cluster_ip.as_deref().and_then(|s| s.parse().ok()) {
            svc_pool.reserve(ip);
        }
    }
    // A Service selects pods of its own namespace only.
    let mut workloads_by_namespace: HashMap<&str, Vec<usize>> = HashMap::default();
    for (wi, w) in mesh.workloads.iter().enumerate() {
        workloads_by_namespace
            .entry(w.namespace.as_str())
            .or_insert_with(list)
            .push(wi);
    }
    let mut services: Vec<Service> = Vec::with_capacity(svc_specs.len());
    let mut svc_diags = Vec::new();
    for (r, spec, status) in svc_specs {
        let ns = r.namespace().to_string();
        let name = r.name().to_string();
        let hostname = format!("{name}.{ns}.{DOMAIN}");
        let type_ = spec.type_.clone().unwrap_or_else(|| "ClusterIP".into());
        let cluster_ip = match spec.cluster_ip.as_deref() {
            Some("None") => None,
            Some(s) if s.parse::<Ipv4Addr>().is_ok() => s.parse().ok(),
            _ if type_ == "ExternalName" => None,
            _ => Some(svc_pool.assign(&format!("{ns}/{name}"))),
        };
        let ingress = &status.load_balancer.ingress;
        let lb_ips: Vec<Ipv4Addr> = ingress
            .iter()
            .filter_map(|i| i.ip.as_deref().and_then(|s| s.parse().ok()))
            .collect();
        let lb_hostnames: Vec<String> = ingress.iter().filter_map(|i| i.hostname.clone()).collect();
        let external_ip = if type_ == "LoadBalancer" {
            lb_ips
                .first()
                .copied()
                .or_else(|| {
                    spec.load_balancer_ip
                        .as_deref()
                        .and_then(|s| s.parse().ok())
                })
                .or_else(|| Some(lb_pool.assign(&format!("{ns}/{name}"))))
        } else {
            None
        };
        let ports: Vec<ServicePortInfo> = spec
            .ports
            .iter()
            .map(|p| ServicePortInfo {
                name: p.name.clone().unwrap_or_default(),
                port: p.port,
                target: match &p.target_port {
                    Some(IntOrString::Int(i)) => TargetPort::Number(*i as u16),
                    Some(IntOrString::Str(s)) => match s.parse::<u16>() {
                        Ok(n) => TargetPort::Number(n),
                        Err(_) => TargetPort::Name(s.clone()),
                    },
                    None => TargetPort::Number(p.port),
                },
                protocol: Protocol::for_service_port(
                    p.app_protocol.as_deref(),
                    p.name.as_deref(),
                    p.protocol.as_deref(),
                ),
                // Kubernetes allocates a node port (30000-32767) to NodePort and LoadBalancer
                // Services that declare none; here it is derived from the port's identity.
                node_port: p.node_port.or_else(|| {
                    (type_ == "NodePort" || type_ == "LoadBalancer").then(|| {
                        30000 + (addr::fnv64(&format!("{ns}/{name}/{}", p.port)) % 2768) as u16
                    })
                }),
            })
            .collect();
        let endpoint_pods = slices.endpoints(&ns, &name, &mesh.pod_by_name, &mesh.pod_by_ip);
        let endpoints: Vec<usize> = match (&endpoint_pods, &spec.selector) {
            (Some(eps), _) => {
                let mut v: Vec<usize> = eps.iter().map(|e| e.workload).collect();
                v.dedup();
                v
            }
            (None, Some(sel)) if !sel.is_empty() => workloads_by_namespace
                .get(ns.as_str())
                .into_iter()
                .flatten()
                .copied()
                .filter(|&wi| {
                    let w = &mesh.workloads[wi];
                    sel.is_subset_of(&w.labels)
                })
                .collect(),
            _ => Vec::new(),
        };
        if endpoint_pods.is_none()
            && spec.selector.as_ref().is_some_and(|s| !s.is_empty())
            && endpoints.is_empty()
        {
            svc_diags.push(
                Diagnostic::new(diag::NO_SELECTOR_MATCH, "the selector matches no pod")
                    .at(&r.origin.file, r.origin.line_of(&["spec", "selector"]))
                    .object(r.display())
                    .hint("check the selector against the pod template labels of the Deployment"),
            );
        }
        let si = services.len();
        if let Some(ip) = cluster_ip {
            mesh.service_by_ip.insert(ip, si);
        }
        if type_ == "LoadBalancer" {
            for ip in external_ip.iter().chain(&lb_ips) {
                mesh.service_by_external_ip.insert(*ip, si);
            }
            for h in &lb_hostnames {
                mesh.service_by_external_hostname.insert(h.clone(), si);
            }
        }
        mesh.service_by_host.insert(hostname.clone(), si);
        for np in ports.iter().filter_map(|p| p.node_port) {
            mesh.service_by_node_port.entry(np).or_insert(si);
        }
        let generated_by = r
            .meta
            .annotations
            .get("meshsim.io/generated-by")
            .map(|g| g.to_string());
        let mut service = Service {
            namespace: ns.into(),
            name: name.into(),
            hostname,
            type_,
            cluster_ip,
            external_ip,
            external_hostname: lb_hostnames.first().cloned(),
            ports,
            selector: spec.selector.clone(),
            endpoints,
            endpoint_pods,
            ready_endpoints: Box::default(),
            destination_rules: Box::default(),
            labels: r.meta.labels.clone(),
            annotations: r.meta.annotations.clone(),
            external_name: spec.external_name.clone(),
            origin: if generated_by.is_some() {
                None
            } else {
                Some(r.origin.clone())
            },
            generated_by,
        };
        service.ready_endpoints = mesh.select_endpoints(&service, &Labels::new()).into();
        services.push(service);
    }
    mesh.services = services;
    mesh.diagnostics.extend(svc_diags);

    dump::gateway_status_addresses(&mut mesh);

    // Configuration indexes.
    mesh.service_entries.sort_by(|a, b| {
        (&a.created, &a.namespace, &a.name, &a.host).cmp(&(
            &b.created,
            &b.namespace,
            &b.name,
            &b.host,
        ))
    });
    for (i, se) in mesh.service_entries.iter().enumerate() {
        if se.host.starts_with('*') {
            mesh.se_wildcards.push(i);
        } else {
            mesh.se_by_host
                .entry(se.host.clone())
                .or_insert_with(list)
                .push(i);
        }
        for a in &se.spec.addresses {
            mesh.se_by_address.entry(a.clone()).or_insert(i);
        }
    }
    let mut auto_pool = AddressPool::new(Ipv4Addr::new(240, 240, 0, 0), 16);
    for (i, se) in mesh.service_entries.iter().enumerate() {
        if se.spec.addresses.is_empty()
            && !se.host.contains('*')
            && !mesh.se_auto_vip.contains_key(&se.host)
        {
            let ip = auto_pool.assign(&se.host);
            mesh.se_auto_vip.insert(se.host.clone(), ip);
            mesh.se_by_auto_vip.insert(ip, i);
        }
    }
    sort_by_precedence(&mut mesh.virtual_services);
    mesh.vs_hosts = mesh
        .virtual_services
        .iter()
        .map(|vs| {
            vs.spec
                .hosts
                .iter()
                .map(|h| fqdn(h, &vs.namespace).into_owned())
                .collect()
        })
        .collect();
    mesh.vs_facts = mesh
        .virtual_services
        .iter()
        .map(|vs| VsFacts {
            mesh_bound: vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == "mesh"),
            exported_everywhere: vs.spec.export_to.is_empty()
                || vs.spec.export_to.iter().any(|e| e == "*"),
            has_hosts: !vs.spec.hosts.is_empty(),
        })
        .collect();
    for (i, (vs, hosts)) in mesh.virtual_services.iter().zip(&mesh.vs_hosts).enumerate() {
        if !vs.spec.tls.is_empty() {
            mesh.vs_with_tls.push(i);
        }
        mesh.vs_by_name
            .entry(cat!(vs.namespace, '/', vs.name))
            .or_insert(i);
        for h in hosts.iter() {
            if h.contains('*') {
                if !mesh.vs_wildcards.contains(&i) {
                    mesh.vs_wildcards.push(i);
                }
            } else {
                mesh.vs_by_host
                    .entry(h.clone())
                    .or_insert_with(list)
                    .push(i);
            }
        }
    }
    sort_by_precedence(&mut mesh.destination_rules);
    for (i, dr) in mesh.destination_rules.iter().enumerate() {
        mesh.dr_by_host
            .entry(fqdn(&dr.spec.host, &dr.namespace).into_owned())
            .or_insert_with(list)
            .push(i);
    }
    sort_by_precedence(&mut mesh.istio_gateways);
    sort_by_precedence(&mut mesh.sidecars);
    mesh.gateways
        .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    sort_by_precedence(&mut mesh.http_routes);
    sort_by_precedence(&mut mesh.grpc_routes);
    sort_by_precedence(&mut mesh.openshift_routes);
    for (i, s) in mesh.sidecars.iter().enumerate() {
        mesh.sidecars_by_namespace
            .entry(s.namespace.to_string())
            .or_insert_with(list)
            .push(i);
    }
    mesh.sidecar_scopes = mesh.sidecars.iter().map(SidecarScope::of).collect();
    for (i, r) in mesh.openshift_routes.iter().enumerate() {
        if let Some(h) = &r.spec.host {
            mesh.openshift_routes_by_host
                .entry(h.to_ascii_lowercase())
                .or_insert_with(list)
                .push(i);
        }
        if r.spec.wildcard_policy.as_deref() == Some("Subdomain") {
            mesh.openshift_subdomain_routes.push(i);
        }
    }

    for (si, s) in mesh.services.iter().enumerate() {
        for p in &s.ports {
            mesh.services_by_port
                .entry(p.port)
                .or_insert_with(list)
                .push(si);
            if p.protocol.is_http() || (p.protocol == Protocol::Unknown && s.cluster_ip.is_none()) {
                mesh.http_services_by_port
                    .entry(p.port)
                    .or_insert_with(list)
                    .push(si);
            }
        }
    }
    for (i, se) in mesh.service_entries.iter().enumerate() {
        for p in &se.spec.ports {
            mesh.service_entries_by_port
                .entry(p.number)
                .or_insert_with(list)
                .push(i);
            let proto = Protocol::from_name(p.protocol.as_deref().unwrap_or(""), p.name.as_deref());
            if proto.is_http() || (proto == Protocol::Unknown && se.spec.addresses.is_empty()) {
                mesh.http_service_entries_by_port
                    .entry(p.number)
                    .or_insert_with(list)
                    .push(i);
            }
        }
    }
    index_workloads(&mut mesh);
    validate_config(&mut mesh);
    build_topology(&mut mesh);
    mesh.gateway_api = gwapi::build(&mesh);
    build_trace_indexes(&mut mesh);
    mesh.diagnostics.splice(0..0, diags);
    mesh
}

/// Fills `gateways_by_exposed_host` and `gateways_exposing_wildcards` from the listeners of
/// each `istio` Gateway and the routes Istio attached to it.
fn index_exposed_hosts(mesh: &mut Mesh) {
    let mut exposed: Vec<Vec<&str>> = vec![Vec::new(); mesh.gateways.len()];
    for (gi, gw) in mesh.gateways.iter().enumerate() {
        if gw.spec.gateway_class_name == "istio" {
            exposed[gi].extend(
                gw.spec
                    .listeners
                    .iter()
                    .filter_map(|l| l.hostname.as_deref()),
            );
        }
    }
    let api = &mesh.gateway_api;
    let http = api.http_routes.iter().zip(&mesh.http_routes);
    let grpc = api.grpc_routes.iter().zip(&mesh.grpc_routes);
    let routes = http
        .map(|(info, r)| (info, &r.spec.hostnames))
        .chain(grpc.map(|(info, r)| (info, &r.spec.hostnames)));
    for (info, hostnames) in routes {
        for gi in info.attached_gateways() {
            if let Some(hosts) = exposed.get_mut(gi) {
                hosts.extend(hostnames.iter().map(String::as_str));
            }
        }
    }
    let mut by_host: HashMap<String, Vec<usize>> = HashMap::default();
    let mut wildcards = Vec::new();
    for (gi, hosts) in exposed.iter().enumerate() {
        if mesh.gateways[gi].spec.gateway_class_name != "istio" {
            continue;
        }
        for h in hosts {
            if h.starts_with('*') {
                wildcards.push((gi, h.to_string()));
            } else {
                let list = by_host.entry(h.to_string()).or_insert_with(list);
                if list.last() != Some(&gi) {
                    list.push(gi);
                }
            }
        }
    }
    mesh.gateways_by_exposed_host = by_host;
    mesh.gateways_exposing_wildcards = wildcards;
}

/// The pods a controller's template stands for, named as Kubernetes names them (StatefulSets
/// by ordinal, Deployments `<name>-<template hash>-<suffix>`), addressed from the pool.
fn template_pods(p: &PendingWorkload, pool: &mut AddressPool) -> Vec<Pod> {
    let hash = addr::template_hash(&p.w.display());
    (0..p.replicas as usize)
        .map(|i| {
            let suffix = || addr::name_suffix(&format!("{}#{i}", p.w.display()), 5);
            let name = match p.w.kind.as_str() {
                "StatefulSet" => format!("{}-{i}", p.w.name),
                "DaemonSet" | "Job" | "ReplicaSet" => format!("{}-{}", p.w.name, suffix()),
                _ => format!("{}-{}-{}", p.w.name, hash, suffix()),
            };
            Pod {
                ip: pool.assign(&format!("{}/{}", p.w.namespace, name)),
                name: name.into(),
                ready: true,
                node: None,
            }
        })
        .collect()
}

/// What Istio's deployment controller creates for Gateway API Gateways.
fn gateway_deployments(
    mesh: &Mesh,
    pending: &mut Vec<PendingWorkload>,
    svcs: &mut Vec<(Resource, ServiceSpec, ServiceStatus)>,
) {
    for gw in &mesh.gateways {
        let class = gw.spec.gateway_class_name.as_str();
        let (name, proxy, sa) = match class {
            "istio" => (
                compact_str::format_compact!("{}-istio", gw.name),
                ProxyKind::Gateway,
                compact_str::format_compact!("{}-istio", gw.name),
            ),
            "istio-waypoint" => (gw.name.clone(), ProxyKind::Waypoint, gw.name.clone()),
            _ => continue,
        };
        let by = format!("Gateway {}/{}", gw.namespace, gw.name);
        // A dump that already holds the deployed proxy keeps it.
        if pending
            .iter()
            .any(|p| p.w.namespace == gw.namespace && p.w.name == name)
        {
            continue;
        }
        let mut labels = Labels::new();
        labels.insert("gateway.networking.k8s.io/gateway-name", gw.name.clone());
        labels.insert(
            "gateway.networking.k8s.io/gateway-class-name",
            class.to_string(),
        );
        labels.insert("istio.io/gateway-name", gw.name.clone());
        let reason = if proxy == ProxyKind::Waypoint {
            format!("waypoint deployed by Istio for {by} (class istio-waypoint)")
        } else {
            format!("gateway deployed by Istio for {by} (class istio)")
        };
        pending.push(PendingWorkload::from_template(
            Workload {
                namespace: gw.namespace.clone(),
                name: name.clone(),
                kind: "Deployment".into(),
                labels: labels.clone(),
                annotations: Labels::new(),
                service_account: sa,
                proxy,
                proxy_reason: reason,
                revision: None,
                pods: Vec::new(),
                container_ports: Vec::new(),
                origin: None,
                generated_by: Some(by.clone()),
            },
            1,
        ));
        if svcs
            .iter()
            .any(|(r, _, _)| r.namespace() == gw.namespace && r.name() == name)
        {
            continue;
        }
        let mut ports: Vec<ServicePort> = Vec::new();
        if proxy == ProxyKind::Waypoint {
            ports.push(ServicePort {
                name: Some("status-port".into()),
                port: 15021,
                target_port: Some(IntOrString::Int(15021)),
                ..Default::default()
            });
            ports.push(ServicePort {
                name: Some("mesh".into()),
                port: 15008,
                target_port: Some(IntOrString::Int(15008)),
                ..Default::default()
            });
        } else {
            ports.push(ServicePort {
                name: Some("status-port".into()),
                port: 15021,
                target_port: Some(IntOrString::Int(15021)),
                app_protocol: Some("tcp".into()),
                ..Default::default()
            });
            for l in &gw.spec.listeners {
                if ports.iter().any(|p| p.port == l.port) {
                    continue;
                }
                let proto = match l.protocol.as_str() {
                    "HTTP" => "http",
                    "HTTPS" => "https",
                    "TLS" => "tls",
                    "TCP" => "tcp",
                    _ => "tcp",
                };
                ports.push(ServicePort {
                    name: Some(format!("{}-{}", proto, l.port)),
                    port: l.port,
                    target_port: Some(IntOrString::Int(l.port as i64)),
                    app_protocol: Some(proto.into()),
                    ..Default::default()
                });
            }
        }
        let type_ = if proxy == ProxyKind::Waypoint {
            "ClusterIP".to_string()
        } else {
            gw.annotations
                .get("networking.istio.io/service-type")
                .map_or_else(|| "LoadBalancer".into(), |t| t.to_string())
        };
        let mut annotations = Labels::new();
        annotations.insert("meshsim.io/generated-by", by.clone());
        let meta = ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(gw.namespace.to_string()),
            labels: labels.clone(),
            annotations,
            ..Default::default()
        };
        let spec = ServiceSpec {
            type_: Some(type_),
            selector: Some(Labels::from([(
                "gateway.networking.k8s.io/gateway-name".to_string(),
                gw.name.clone(),
            )])),
            ports,
            ..Default::default()
        };
        let status = ServiceStatus {
            load_balancer: LoadBalancerStatus {
                ingress: gw
                    .spec
                    .addresses
                    .iter()
                    .chain(&gw.spec.status_addresses)
                    .map(|a| LoadBalancerIngress {
                        ip: Some(a.value.clone()).filter(|v| v.parse::<Ipv4Addr>().is_ok()),
                        hostname: Some(a.value.clone()).filter(|v| v.parse::<Ipv4Addr>().is_err()),
                    })
                    .collect(),
            },
        };
        svcs.push((
            Resource {
                api_version: "v1".into(),
                kind: "Service".into(),
                meta,
                origin: gw.origin.clone(),
                body: Box::new(Body::ServiceAccount),
            },
            spec,
            status,
        ));
    }
}

/// Cross-object checks that produce warnings (the loader already checked each object alone).
fn validate_config(mesh: &mut Mesh) {
    let mut out = Vec::new();
    // Only gateway proxies can serve an Istio Gateway: a handful among the workloads.
    let gateway_proxies: Vec<&Workload> = mesh
        .workloads
        .iter()
        .filter(|w| w.proxy == ProxyKind::Gateway)
        .collect();
    for gw in &mesh.istio_gateways {
        let served = gateway_proxies.iter().any(|w| gw.selects(w));
        if !served {
            out.push(
                Diagnostic::new(diag::GATEWAY_NO_WORKLOAD, format!("selector {:?} matches no gateway proxy", gw.spec.selector))
                    .at(&gw.origin.file, gw.origin.line_of(&["spec", "selector"]))
                    .object(gw.display("Gateway"))
                    .hint("deploy a gateway (gateway injection) whose pod labels carry the selector, or fix the selector"),
            );
        }
    }
    let known: std::collections::HashSet<(&str, &str)> = mesh
        .istio_gateways
        .iter()
        .map(|x| (x.namespace.as_str(), x.name.as_str()))
        .collect();
    for vs in &mesh.virtual_services {
        for g in &vs.spec.gateways {
            if g == "mesh" {
                continue;
            }
            let qualified = crate::sim::route::qualify_gateway(g, &vs.namespace);
            let (ns, name) = qualified.split_once('/').unwrap_or(("", &qualified));
            if !known.contains(&(ns, name)) {
                out.push(
                    Diagnostic::new(diag::UNKNOWN_GATEWAY_REF, format!("gateway {ns}/{name} does not exist"))
                        .at(&vs.origin.file, vs.origin.line_of(&["spec", "gateways"]))
                        .object(vs.display("VirtualService"))
                        .hint("name the Gateway as <namespace>/<name>, or as <name> when it is in the VirtualService's namespace"),
                );
            }
        }
    }
    // Istio's ValidateSidecar (pkg/config/validation/validation.go) warns of a workloadSelector
    // without labels and admits the Sidecar, which then applies to the whole namespace.
    for sc in &mesh.sidecars {
        let Some(sel) = sc
            .spec
            .workload_selector
            .as_ref()
            .filter(|s| s.labels.is_empty())
        else {
            continue;
        };
        let (message, hint) = if sel.match_labels.is_some() {
            (
                "workloadSelector has matchLabels, which a Sidecar's selector does not have: kubectl refuses the unknown field; applied without validation, the Sidecar selects every workload of its namespace",
                "write workloadSelector: {labels: {app: ...}}",
            )
        } else {
            (
                "workloadSelector has no labels: the Sidecar applies to every workload of its namespace",
                "add labels to the workloadSelector, or remove it to make the namespace's default Sidecar",
            )
        };
        out.push(
            Diagnostic::new(diag::SIDECAR_SELECTS_ALL, message)
                .at(
                    &sc.origin.file,
                    sc.origin.line_of(&["spec", "workloadSelector"]),
                )
                .object(sc.display("Sidecar"))
                .hint(hint),
        );
    }
    for gw in &mesh.gateways {
        if gw.labels.contains_key("istio.io/gateway-for") {
            out.push(
                Diagnostic::new(diag::IGNORED_LABEL, "istio.io/gateway-for is not a label Istio reads: the waypoint serves its default traffic type (service)")
                    .at(&gw.origin.file, gw.origin.line_of(&["metadata", "labels"]))
                    .object(gw.display("Gateway"))
                    .hint("use istio.io/waypoint-for: service|workload|all|none"),
            );
        }
    }
    // istio.io/use-waypoint labels must name an existing waypoint.
    let mut check = |labels: &Labels, ns: &str, what: String, origin: Option<&Origin>| {
        if let WaypointChoice::Missing {
            name,
            namespace,
            why,
        } = mesh.waypoint_for(ns, labels, &what, false)
        {
            if !labels.contains_key("istio.io/use-waypoint") {
                return;
            }
            let mut d = Diagnostic::new(
                diag::MISSING_WAYPOINT,
                format!("{why}, but waypoint {namespace}/{name} does not exist"),
            )
            .object(what);
            if let Some(o) = origin {
                d = d.at(&o.file, o.line_of(&["metadata", "labels"]));
            }
            out.push(d.hint(format!("create it (a Gateway of class istio-waypoint named {name} in namespace {namespace}), or remove the label")));
        }
    };
    for n in mesh.namespaces.values() {
        check(
            &n.labels,
            &n.name,
            format!("Namespace {}", n.name),
            n.origin.as_ref(),
        );
    }
    for s in &mesh.services {
        check(
            &s.labels,
            &s.namespace,
            format!("Service {}", s.display()),
            s.origin.as_ref(),
        );
    }
    let mut seen = BTreeSet::new();
    for e in &mesh.service_entries {
        if seen.insert((e.namespace.clone(), e.name.clone())) {
            check(
                &e.labels,
                &e.namespace,
                format!("ServiceEntry {}/{}", e.namespace, e.name),
                Some(&e.origin),
            );
        }
    }
    mesh.diagnostics.extend(out);
}

fn build_topology(mesh: &mut Mesh) {
    let mut g = StableDiGraph::new();
    let wnodes: Vec<NodeIndex> = (0..mesh.workloads.len())
        .map(|i| g.add_node(TopoNode::Workload(i)))
        .collect();
    let snodes: Vec<NodeIndex> = (0..mesh.services.len())
        .map(|i| g.add_node(TopoNode::Service(i)))
        .collect();
    for (si, s) in mesh.services.iter().enumerate() {
        for &wi in &s.endpoints {
            g.add_edge(snodes[si], wnodes[wi], TopoEdge::Selects);
        }
    }
    let gnodes: Vec<NodeIndex> = (0..mesh.istio_gateways.len())
        .map(|i| g.add_node(TopoNode::IstioGateway(i)))
        .collect();
    for (gi, gw) in mesh.istio_gateways.iter().enumerate() {
        for (wi, w) in mesh.workloads.iter().enumerate() {
            if gw.selects(w) {
                g.add_edge(gnodes[gi], wnodes[wi], TopoEdge::ServedBy);
                mesh.gateway_workload_nodes.insert(wi, wnodes[wi]);
            }
        }
    }
    for (vi, vs) in mesh.virtual_services.iter().enumerate() {
        let vn = g.add_node(TopoNode::VirtualService(vi));
        for gname in &vs.spec.gateways {
            let qualified = crate::sim::route::qualify_gateway(gname, &vs.namespace);
            let (ns, name) = qualified.split_once('/').unwrap_or(("", &qualified));
            if let Some(gi) = mesh
                .istio_gateways
                .iter()
                .position(|x| x.namespace == ns && x.name == name)
            {
                g.add_edge(vn, gnodes[gi], TopoEdge::BindsTo);
            }
        }
        for r in &vs.spec.http {
            for d in &r.route {
                let h = fqdn(&d.destination.host, &vs.namespace);
                if let Some(&si) = mesh.service_by_host.get(&*h) {
                    g.add_edge(vn, snodes[si], TopoEdge::RoutesTo);
                }
            }
        }
    }
    for (ri, hr) in mesh.http_routes.iter().enumerate() {
        let rn = g.add_node(TopoNode::Route(ri));
        for rule in &hr.spec.rules {
            for b in &rule.backend_refs {
                if b.kind.as_deref().unwrap_or("Service") == "Service" {
                    let ns = b.namespace.as_deref().unwrap_or(&hr.namespace);
                    if let Some(&si) = mesh
                        .service_by_host
                        .get(&format!("{}.{ns}.{DOMAIN}", b.name))
                    {
                        g.add_edge(rn, snodes[si], TopoEdge::RoutesTo);
                    }
                }
            }
        }
        for p in &hr.spec.parent_refs {
            let ns = p.namespace.as_deref().unwrap_or(&hr.namespace);
            if p.kind.as_deref().unwrap_or("Gateway") == "Gateway" {
                if let Some(gi) = mesh
                    .gateways
                    .iter()
                    .position(|x| x.namespace == ns && x.name == p.name)
                {
                    let gn = g.add_node(TopoNode::GatewayApi(gi));
                    g.add_edge(rn, gn, TopoEdge::AttachesTo);
                }
            }
        }
    }
    mesh.topology = g;
}

/// Workloads by name, pod name and `app` label (checks of `istio.io/use-waypoint` labels use
/// the first).
fn index_workloads(mesh: &mut Mesh) {
    for (wi, w) in mesh.workloads.iter().enumerate() {
        mesh.workloads_by_name
            .entry(w.name.to_string())
            .or_insert_with(list)
            .push(wi);
        for (pi, p) in w.pods.iter().enumerate() {
            mesh.pods_by_bare_name
                .entry(p.name.to_string())
                .or_insert_with(list)
                .push((wi, pi));
        }
        if let Some(app) = w.labels.get("app") {
            mesh.workloads_by_app
                .entry(app.to_string())
                .or_insert_with(list)
                .push(wi);
        }
    }
}

/// Indexes the simulator reads instead of scanning workloads, Services, Gateways or
/// VirtualServices, so that a trace costs the same whatever the mesh's size.
fn build_trace_indexes(mesh: &mut Mesh) {
    index_exposed_hosts(mesh);
    for (i, r) in mesh.responses.iter().enumerate() {
        let h = r.spec.host.as_str();
        for key in [h.to_string(), response_host(h, &r.namespace)] {
            let list = mesh.responses_by_host.entry(key).or_insert_with(list);
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    for s in &mut mesh.services {
        if let Some(drs) = mesh.dr_by_host.get(&s.hostname) {
            s.destination_rules = drs.as_slice().into();
        }
    }
    mesh.dr_subset_endpoints = mesh
        .destination_rules
        .iter()
        .map(
            |dr| match mesh.service(&fqdn(&dr.spec.host, &dr.namespace)) {
                Some(s) => dr
                    .spec
                    .subsets
                    .iter()
                    .map(|subset| mesh.select_endpoints(s, &subset.labels).into())
                    .collect(),
                None => Box::default(),
            },
        )
        .collect();
    mesh.services_by_workload = vec![Vec::new(); mesh.workloads.len()];
    for (si, s) in mesh.services.iter().enumerate() {
        for &wi in &s.endpoints {
            mesh.services_by_workload[wi].push(si);
        }
    }
    mesh.workloads_by_istio_gateway = vec![Vec::new(); mesh.istio_gateways.len()];
    for (wi, w) in mesh.workloads.iter().enumerate() {
        if w.proxy != ProxyKind::Gateway {
            continue;
        }
        for (gi, gw) in mesh.istio_gateways.iter().enumerate() {
            if gw.selects(w) {
                mesh.workloads_by_istio_gateway[gi].push(wi);
                mesh.istio_gateways_by_workload
                    .entry(wi)
                    .or_insert_with(list)
                    .push(gi);
            }
        }
    }
    for (gi, gw) in mesh.istio_gateways.iter().enumerate() {
        for server in &gw.spec.servers {
            for h in &server.hosts {
                let h = h.split_once('/').map(|x| x.1).unwrap_or(h);
                if h == "*" {
                    continue;
                }
                let list = if h.contains('*') {
                    &mut mesh.istio_gateway_wildcards
                } else {
                    mesh.istio_gateways_by_host
                        .entry(h.to_ascii_lowercase())
                        .or_insert_with(list)
                };
                if list.last() != Some(&gi) {
                    list.push(gi);
                }
            }
        }
    }
    for (vi, vs) in mesh.virtual_services.iter().enumerate() {
        for g in &vs.spec.gateways {
            if g == "mesh" {
                continue;
            }
            let gname = crate::sim::route::qualify_gateway(g, &vs.namespace);
            let all = mesh.vs_by_gateway.entry(gname.clone()).or_insert_with(list);
            if all.last() == Some(&vi) {
                continue;
            }
            all.push(vi);
            for h in &vs.spec.hosts {
                let h = fqdn(h, &vs.namespace).to_ascii_lowercase();
                let list = if h.contains('*') {
                    mesh.vs_wildcards_by_gateway
                        .entry(gname.clone())
                        .or_insert_with(list)
                } else {
                    mesh.vs_by_gateway_host
                        .entry((gname.clone(), h))
                        .or_insert_with(list)
                };
                if list.last() != Some(&vi) {
                    list.push(vi);
                }
            }
        }
    }
    let mut regexes = Regexes::default();
    for vs in &mesh.virtual_services {
        for route in &vs.spec.http {
            for m in &route.r#match {
                let fields = [
                    m.uri.as_ref(),
                    m.more().scheme.as_ref(),
                    m.more().method.as_ref(),
                    m.more().authority.as_ref(),
                ];
                let maps = m
                    .headers
                    .values()
                    .chain(m.more().query_params.values())
                    .chain(m.more().without_headers.values());
                for sm in fields.into_iter().flatten().chain(maps) {
                    if let Some(re) = sm.regex.as_deref() {
                        regexes.add(re);
                    }
                }
            }
        }
    }
    for hr in &mesh.http_routes {
        for rule in &hr.spec.rules {
            for m in &rule.matches {
                if let Some(p) = &m.path {
                    if p.type_.as_deref() == Some("RegularExpression") {
                        regexes.add(p.value.as_deref().unwrap_or(""));
                    }
                }
                for h in m.headers.iter().chain(&m.query_params) {
                    if h.type_.as_deref() == Some("RegularExpression") {
                        regexes.add(&h.value);
                    }
                }
            }
        }
    }
    mesh.regexes = regexes;
    mesh.routes = crate::sim::route::RouteMemo::new(
        mesh.virtual_services.len(),
        mesh.gateway_api.virtual_services.len(),
    );
}

impl Mesh {
    /// Names of the objects that route to a Service, found through the topology graph.
    pub fn routes_to_service(&self, si: usize) -> Vec<String> {
        let mut out = Vec::new();
        for n in self.topology.node_indices() {
            if let Some(TopoNode::Service(i)) = self.topology.node_weight(n) {
                if *i != si {
                    continue;
                }
                for e in self
                    .topology
                    .neighbors_directed(n, petgraph::Direction::Incoming)
                {
                    match self.topology.node_weight(e) {
                        Some(TopoNode::VirtualService(v)) => {
                            out.push(self.virtual_services[*v].display("VirtualService"))
                        }
                        Some(TopoNode::Route(r)) => {
                            out.push(self.http_routes[*r].display("HTTPRoute"))
                        }
                        _ => {}
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

impl Mesh {
    /// The declared answer of `host` (a Service's FQDN or an external name) to a request.
    pub fn declared_response(
        &self,
        host: &str,
        port: u16,
        method: &str,
        path: &str,
    ) -> Option<(&Config<SimulatedResponseSpec>, &ResponseRule)> {
        let path = path.split('?').next().unwrap_or("/");
        for &i in listed(&self.responses_by_host, host) {
            let r = &self.responses[i];
            if r.spec.port.is_some_and(|p| p != port) {
                continue;
            }
            for rule in &r.spec.rules {
                let path_ok = match (&rule.path, &rule.path_prefix) {
                    (Some(p), _) => p == path,
                    (None, Some(pre)) => path.starts_with(pre.as_str()),
                    (None, None) => true,
                };
                if path_ok
                    && rule
                        .method
                        .as_deref()
                        .is_none_or(|m| m.eq_ignore_ascii_case(method))
                {
                    return Some((r, rule));
                }
            }
        }
        None
    }
}

/// One egress listener of a Sidecar: its port (none: any), and its hosts as (namespace
/// pattern, host pattern) pairs (`ns/host`; a host without a namespace is `*/host`).
#[derive(Debug, Clone, PartialEq)]
pub struct EgressListener {
    pub port: Option<u16>,
    pub hosts: Box<[(String, String)]>,
}

/// A Sidecar resource as a sidecar's scope reads it, prepared while the model is built so
/// that a trace borrows it.
#[derive(Debug, Clone)]
pub struct SidecarScope {
    /// Its egress listeners; empty when it has none (the scope is then open).
    pub egress: Box<[EgressListener]>,
    /// The outbound traffic policy it sets, and where it sets it.
    pub policy: Option<(OutboundPolicy, String)>,
    /// `Sidecar ns/name (file:line)`.
    pub description: String,
}

impl SidecarScope {
    fn of(s: &Config<SidecarSpec>) -> SidecarScope {
        let egress = s
            .spec
            .egress
            .iter()
            .map(|l| EgressListener {
                port: l.port.as_ref().map(|p| p.number),
                hosts: l
                    .hosts
                    .iter()
                    .map(|h| match h.split_once('/') {
                        Some((n, host)) => (n.to_string(), host.to_string()),
                        None => ("*".to_string(), h.to_string()),
                    })
                    .collect(),
            })
            .collect();
        let policy = s
            .spec
            .outbound_traffic_policy
            .as_ref()
            .and_then(|p| p.mode.as_deref())
            .map(|mode| {
                let policy = if mode == "REGISTRY_ONLY" {
                    OutboundPolicy::RegistryOnly
                } else {
                    OutboundPolicy::AllowAny
                };
                let source = format!(
                    "Sidecar {}/{} ({})",
                    s.namespace,
                    s.name,
                    s.origin.pos_of(&["spec", "outboundTrafficPolicy"])
                );
                (policy, source)
            });
        SidecarScope {
            egress,
            policy,
            description: format!("Sidecar {}/{} ({})", s.namespace, s.name, s.origin.pos()),
        }
    }
}

/// The host a SimulatedResponse's `host` names besides itself: Service short forms are
/// relative to the response's namespace.
fn response_host(h: &str, namespace: &str) -> String {
    if h.ends_with(".svc") {
        format!("{h}.cluster.local")
    } else if !h.contains('.') {
        format!("{h}.{namespace}.{DOMAIN}")
    } else {
        format!("{h}.{DOMAIN}")
    }
}

/// Which waypoint (if any) serves traffic addressed to a Service or ServiceEntry, decided from
/// `istio.io/use-waypoint` (and `istio.io/use-waypoint-namespace`) on the object, else on its
/// namespace; `none` opts out. The waypoint must exist and accept service traffic
/// (`istio.io/waypoint-for`: service, the default, or all).
#[derive(Debug, Clone)]
pub enum WaypointChoice {
    None(String),
    Use {
        workload: usize,
        gateway: String,
        why: String,
    },
    Missing {
        name: String,
        namespace: String,
        why: String,
    },
    WrongTrafficType {
        gateway: String,
        traffic: String,
        why: String,
    },
}

impl Mesh {
    pub fn waypoint_for(
        &self,
        ns: &str,
        labels: &Labels,
        what: &str,
        for_workload: bool,
    ) -> WaypointChoice {
        let ns_labels = self.namespace_labels(ns);
        let (name, where_) = match labels.get("istio.io/use-waypoint") {
            Some(n) => (
                n.to_string(),
                format!("label istio.io/use-waypoint={n} on {what}"),
            ),
            None => match ns_labels.and_then(|l| l.get("istio.io/use-waypoint")) {
                Some(n) => (
                    n.to_string(),
                    format!("label istio.io/use-waypoint={n} on namespace {ns}"),
                ),
                None => {
                    return WaypointChoice::None(format!(
                        "no istio.io/use-waypoint label on {what} or namespace {ns}"
                    ))
                }
            },
        };
        if name == "none" {
            return WaypointChoice::None(format!("{where_} opts out"));
        }
        let wp_ns = labels
            .get("istio.io/use-waypoint-namespace")
            .or_else(|| {
                if labels.contains_key("istio.io/use-waypoint") {
                    None
                } else {
                    ns_labels.and_then(|l| l.get("istio.io/use-waypoint-namespace"))
                }
            })
            .map_or_else(|| ns.to_string(), |n| n.to_string());
        // `gateways` is sorted by namespace and name, each pair once (later duplicates
        // replace earlier ones while loading).
        let found = self
            .gateways
            .binary_search_by(|g| (g.namespace.as_str(), g.name.as_str()).cmp(&(&wp_ns, &name)))
            .ok()
            .map(|i| &self.gateways[i]);
        let Some(gw) = found.filter(|g| g.spec.gateway_class_name == "istio-waypoint") else {
            return WaypointChoice::Missing {
                name,
                namespace: wp_ns,
                why: where_,
            };
        };
        let traffic = gw
            .labels
            .get("istio.io/waypoint-for")
            .map_or("service", |t| t.as_str());
        let ok = traffic == "all"
            || (traffic == "service" && !for_workload)
            || (traffic == "workload" && for_workload);
        let gname = format!("{}/{}", gw.namespace, gw.name);
        if !ok {
            return WaypointChoice::WrongTrafficType {
                gateway: gname,
                traffic: traffic.to_string(),
                why: where_,
            };
        }
        let deployed = self.workloads_by_name.get(gw.name.as_str());
        match deployed.into_iter().flatten().copied().find(|&wi| {
            let w = &self.workloads[wi];
            w.namespace == gw.namespace && w.proxy == ProxyKind::Waypoint
        }) {
            Some(wi) => WaypointChoice::Use {
                workload: wi,
                gateway: gname,
                why: where_,
            },
            None => WaypointChoice::Missing {
                name,
                namespace: wp_ns,
                why: where_,
            },
        }
    }

    /// The simulated cluster's worker nodes and their addresses.
    pub fn nodes(&self) -> [(&'static str, Ipv4Addr); 3] {
        [
            ("worker-0", Ipv4Addr::new(10, 0, 1, 10)),
            ("worker-1", Ipv4Addr::new(10, 0, 1, 11)),
            ("worker-2", Ipv4Addr::new(10, 0, 1, 12)),
        ]
    }

    /// The node a pod runs on (one of [`Mesh::nodes`], by the pod's name) and that node's
    /// ztunnel pod.
    pub fn node_of(&self, pod: &str) -> (String, String) {
        let (node, _) = self.nodes()[(addr::fnv64(pod) % 3) as usize];
        let node = node.to_string();
        let zt = format!("ztunnel-{}", addr::name_suffix(&node, 5));
        (node, zt)
    }
}

#[cfg(test)]
mod hasher_tests {
    use super::MapHasher;
    use std::hash::{Hash, Hasher};

    fn hash(key: impl Hash) -> u64 {
        let mut h = MapHasher::default();
        key.hash(&mut h);
        h.finish()
    }

    #[test]
    fn every_byte_of_a_key_counts() {
        let base = "svc-0001.ns-0001.svc.cluster.local";
        let mut seen = std::collections::HashSet::new();
        seen.insert(hash(base));
        // A change at any position, in a full eight-byte word or in the tail, changes the hash.
        for i in 0..base.len() {
            let mut b = base.as_bytes().to_vec();
            b[i] ^= 1;
            let k = String::from_utf8(b).unwrap_or_default();
            assert!(seen.insert(hash(&k)), "{k}");
        }
        assert_ne!(hash("a"), hash("a\0"));
        assert_ne!(hash((8080u16, 1usize)), hash((8081u16, 1usize)));
    }

    /// hashbrown picks a key's bucket from the hash's low bits and its tag from the top seven.
    /// A multiplicative hash leaves the low bits of its last product depending only on the low
    /// bits of the last word, so keys that differ only in later bytes (addresses of one /16, as
    /// `10.96.x.y`) would share a few buckets and be found by long probes; the finish must
    /// bring the well-mixed high bits down. 10,000 keys over 16,384 buckets: random hashes
    /// fill about 7,500.
    #[test]
    fn keys_spread_over_buckets_and_tags() {
        fn spread(keys: Vec<u64>) -> (usize, usize) {
            let buckets: std::collections::HashSet<u64> = keys.iter().map(|h| h & 0x3fff).collect();
            let tags: std::collections::HashSet<u64> = keys.iter().map(|h| h >> 57).collect();
            (buckets.len(), tags.len())
        }
        let addresses = (0..10_000u32)
            .map(|i| {
                hash(std::net::Ipv4Addr::new(
                    10,
                    96,
                    (i / 250) as u8,
                    (i % 250) as u8,
                ))
            })
            .collect();
        let hosts = (0..10_000)
            .map(|i| {
                hash(format!(
                    "svc-{:04}.ns-{:04}.svc.cluster.local",
                    i % 10,
                    i / 10
                ))
            })
            .collect();
        let ports = (0..10_000u64).map(|i| hash((i as u16, i / 7))).collect();
        for (what, keys) in [("addresses", addresses), ("hosts", hosts), ("ports", ports)] {
            let (buckets, tags) = spread(keys);
            assert!(buckets > 6_500, "{what}: {buckets} buckets of 16,384");
            assert!(tags > 120, "{what}: {tags} tags of 128");
        }
    }
}
