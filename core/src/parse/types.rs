//! Typed shapes of every resource kind meshsim understands, as the Kubernetes API, Istio, the
//! Gateway API, OpenShift and the Sail operator define them. Unknown fields are ignored, as the
//! API server prunes them; wrong types are errors with a position.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use super::labels::{Labels, Map};

/// A list without the growth slack of its deserialisation: serde_yaml gives no length ahead,
/// so a list grows by doubling and would keep up to half its capacity unused for as long as
/// the model lives (most lists here hold one or two large items).
fn compact<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    let mut v = Vec::<T>::deserialize(d)?;
    v.shrink_to_fit();
    Ok(v)
}

macro_rules! api_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
        #[serde(rename_all = "camelCase", default)]
        pub struct $name { $($body)* }
    };
}

/// An `int-or-string` field (`targetPort: 8080` or `targetPort: http`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    Str(String),
}

impl std::fmt::Display for IntOrString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::Str(s) => f.write_str(s),
        }
    }
}

// ---------------------------------------------------------------- Kubernetes core

/// An object's metadata. The fields the API server fills in (uid, timestamps, owners) and
/// `generateName` are rare in manifests: they are kept apart, boxed, so that the metadata of
/// every object and pod template is less than half as large.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(from = "ObjectMetaFields", into = "ObjectMetaFields")]
pub struct ObjectMeta {
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub labels: Labels,
    pub annotations: Labels,
    pub live: Option<Box<LiveMeta>>,
}

/// The rarer fields of [`ObjectMeta`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveMeta {
    pub generate_name: Option<String>,
    pub creation_timestamp: Option<String>,
    pub deletion_timestamp: Option<String>,
    pub owner_references: Vec<OwnerReference>,
    pub uid: Option<String>,
}

impl ObjectMeta {
    /// The rarer fields, empty when the object has none.
    pub fn live(&self) -> &LiveMeta {
        static NONE: LiveMeta = LiveMeta {
            generate_name: None,
            creation_timestamp: None,
            deletion_timestamp: None,
            owner_references: Vec::new(),
            uid: None,
        };
        self.live.as_deref().unwrap_or(&NONE)
    }
}

/// `metadata` as written: what [`ObjectMeta`] is read from and written as.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
struct ObjectMetaFields {
    name: Option<String>,
    generate_name: Option<String>,
    namespace: Option<String>,
    labels: Labels,
    annotations: Labels,
    creation_timestamp: Option<String>,
    deletion_timestamp: Option<String>,
    #[serde(deserialize_with = "compact")]
    owner_references: Vec<OwnerReference>,
    uid: Option<String>,
}

impl From<ObjectMetaFields> for ObjectMeta {
    fn from(f: ObjectMetaFields) -> Self {
        let live = LiveMeta {
            generate_name: f.generate_name,
            creation_timestamp: f.creation_timestamp,
            deletion_timestamp: f.deletion_timestamp,
            owner_references: f.owner_references,
            uid: f.uid,
        };
        ObjectMeta {
            name: f.name,
            namespace: f.namespace,
            labels: f.labels,
            annotations: f.annotations,
            live: (live != LiveMeta::default()).then(|| Box::new(live)),
        }
    }
}

impl From<ObjectMeta> for ObjectMetaFields {
    fn from(m: ObjectMeta) -> Self {
        let live = m.live.map(|l| *l).unwrap_or_default();
        ObjectMetaFields {
            name: m.name,
            generate_name: live.generate_name,
            namespace: m.namespace,
            labels: m.labels,
            annotations: m.annotations,
            creation_timestamp: live.creation_timestamp,
            deletion_timestamp: live.deletion_timestamp,
            owner_references: live.owner_references,
            uid: live.uid,
        }
    }
}

api_struct! {
    pub struct OwnerReference {
        pub api_version: Option<String>,
        pub kind: String,
        pub name: String,
        pub uid: Option<String>,
        pub controller: Option<bool>,
    }
}

api_struct! {
    pub struct LabelSelector {
        pub match_labels: Labels,
        #[serde(deserialize_with = "compact")]
        pub match_expressions: Vec<LabelSelectorRequirement>,
    }
}

api_struct! {
    pub struct LabelSelectorRequirement {
        pub key: String,
        pub operator: String,
        #[serde(deserialize_with = "compact")]
        pub values: Vec<String>,
    }
}

impl LabelSelector {
    /// Kubernetes label-selector semantics: every `matchLabels` pair and every expression must hold.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.match_labels.is_subset_of(labels)
            && self.match_expressions.iter().all(|e| {
                let have = labels.get(&e.key);
                match e.operator.as_str() {
                    "In" => have.is_some_and(|v| e.values.iter().any(|x| x == v)),
                    "NotIn" => !have.is_some_and(|v| e.values.iter().any(|x| x == v)),
                    "Exists" => have.is_some(),
                    "DoesNotExist" => have.is_none(),
                    _ => false,
                }
            })
    }
}

api_struct! {
    pub struct ContainerPort {
        pub name: Option<String>,
        pub container_port: u16,
        pub protocol: Option<String>,
    }
}

api_struct! {
    pub struct Container {
        pub name: String,
        pub image: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub args: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub ports: Vec<ContainerPort>,
        pub restart_policy: Option<String>,
    }
}

api_struct! {
    pub struct PodSpec {
        #[serde(deserialize_with = "compact")]
        pub containers: Vec<Container>,
        #[serde(deserialize_with = "compact")]
        pub init_containers: Vec<Container>,
        pub service_account_name: Option<String>,
        pub service_account: Option<String>,
        pub host_network: bool,
        pub node_name: Option<String>,
        pub restart_policy: Option<String>,
    }
}

api_struct! {
    pub struct PodCondition {
        #[serde(rename = "type")]
        pub type_: String,
        pub status: String,
    }
}

api_struct! {
    pub struct PodStatus {
        pub phase: Option<String>,
        #[serde(rename = "podIP")]
        pub pod_ip: Option<String>,
        #[serde(rename = "hostIP")]
        pub host_ip: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub conditions: Vec<PodCondition>,
    }
}

api_struct! {
    pub struct PodTemplate {
        pub metadata: ObjectMeta,
        pub spec: PodSpec,
    }
}

api_struct! {
    /// The common shape of Deployment, StatefulSet, DaemonSet and ReplicaSet specs.
    pub struct WorkloadSpec {
        pub replicas: Option<u32>,
        pub selector: Option<LabelSelector>,
        pub template: PodTemplate,
    }
}

api_struct! {
    pub struct ServicePort {
        pub name: Option<String>,
        pub port: u16,
        pub target_port: Option<IntOrString>,
        pub protocol: Option<String>,
        pub app_protocol: Option<String>,
        pub node_port: Option<u16>,
    }
}

api_struct! {
    pub struct ServiceSpec {
        #[serde(rename = "type")]
        pub type_: Option<String>,
        pub selector: Option<Labels>,
        #[serde(deserialize_with = "compact")]
        pub ports: Vec<ServicePort>,
        #[serde(rename = "clusterIP")]
        pub cluster_ip: Option<String>,
        pub external_name: Option<String>,
        #[serde(rename = "loadBalancerIP")]
        pub load_balancer_ip: Option<String>,
    }
}

api_struct! {
    pub struct LoadBalancerIngress {
        pub ip: Option<String>,
        pub hostname: Option<String>,
    }
}

api_struct! {
    pub struct LoadBalancerStatus {
        #[serde(deserialize_with = "compact")]
        pub ingress: Vec<LoadBalancerIngress>,
    }
}

api_struct! {
    pub struct ServiceStatus {
        pub load_balancer: LoadBalancerStatus,
    }
}

api_struct! {
    /// `discovery.k8s.io/v1` EndpointSlice: its fields sit at the top level, not under `spec`.
    pub struct EndpointSliceBody {
        pub address_type: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub endpoints: Vec<SliceEndpoint>,
        #[serde(deserialize_with = "compact")]
        pub ports: Vec<SlicePort>,
    }
}

api_struct! {
    pub struct SliceEndpoint {
        #[serde(deserialize_with = "compact")]
        pub addresses: Vec<String>,
        pub conditions: EndpointConditions,
        pub target_ref: Option<ObjectReference>,
        pub node_name: Option<String>,
    }
}

api_struct! {
    /// Absent conditions mean "unknown", which consumers read as ready (the API's own advice).
    pub struct EndpointConditions {
        pub ready: Option<bool>,
        pub serving: Option<bool>,
        pub terminating: Option<bool>,
    }
}

api_struct! {
    pub struct ObjectReference {
        pub kind: Option<String>,
        pub name: Option<String>,
        pub namespace: Option<String>,
    }
}

api_struct! {
    pub struct SlicePort {
        pub name: Option<String>,
        pub port: Option<u16>,
        pub protocol: Option<String>,
        pub app_protocol: Option<String>,
    }
}

api_struct! {
    pub struct ConfigMapBody {
        pub data: BTreeMap<String, String>,
    }
}

// ---------------------------------------------------------------- Istio networking

api_struct! {
    /// Istio's `StringMatch`: one of exact, prefix or regex.
    pub struct StringMatch {
        pub exact: Option<CompactString>,
        pub prefix: Option<CompactString>,
        pub regex: Option<CompactString>,
    }
}

/// Istio's `HTTPMatchRequest`. The conditions most matches leave out (scheme, method,
/// authority, source labels and namespace, gateways, query parameters, absent headers) are kept
/// apart, boxed: a match is 136 bytes instead of 272, and a VirtualService holds many.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(from = "HttpMatchFields", into = "HttpMatchFields")]
pub struct HttpMatchRequest {
    pub name: Option<String>,
    pub uri: Option<StringMatch>,
    pub headers: Map<StringMatch>,
    pub port: Option<u16>,
    pub ignore_uri_case: bool,
    pub more: Option<Box<MoreMatch>>,
}

/// The rarer conditions of an [`HttpMatchRequest`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MoreMatch {
    pub scheme: Option<StringMatch>,
    pub method: Option<StringMatch>,
    pub authority: Option<StringMatch>,
    pub source_labels: Labels,
    pub gateways: Vec<String>,
    pub query_params: Map<StringMatch>,
    pub without_headers: Map<StringMatch>,
    pub source_namespace: Option<String>,
}

impl HttpMatchRequest {
    /// The rarer conditions, empty when the match has none.
    pub fn more(&self) -> &MoreMatch {
        static NONE: MoreMatch = MoreMatch {
            scheme: None,
            method: None,
            authority: None,
            source_labels: Map::new(),
            gateways: Vec::new(),
            query_params: Map::new(),
            without_headers: Map::new(),
            source_namespace: None,
        };
        self.more.as_deref().unwrap_or(&NONE)
    }
    /// The rarer conditions, to set one.
    pub fn more_mut(&mut self) -> &mut MoreMatch {
        self.more.get_or_insert_with(Default::default)
    }
}

/// `HTTPMatchRequest` as written: what [`HttpMatchRequest`] is read from and written as.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
struct HttpMatchFields {
    name: Option<String>,
    uri: Option<StringMatch>,
    scheme: Option<StringMatch>,
    method: Option<StringMatch>,
    authority: Option<StringMatch>,
    headers: Map<StringMatch>,
    port: Option<u16>,
    source_labels: Labels,
    #[serde(deserialize_with = "compact")]
    gateways: Vec<String>,
    query_params: Map<StringMatch>,
    ignore_uri_case: bool,
    without_headers: Map<StringMatch>,
    source_namespace: Option<String>,
}

impl From<HttpMatchFields> for HttpMatchRequest {
    fn from(f: HttpMatchFields) -> Self {
        let more = MoreMatch {
            scheme: f.scheme,
            method: f.method,
            authority: f.authority,
            source_labels: f.source_labels,
            gateways: f.gateways,
            query_params: f.query_params,
            without_headers: f.without_headers,
            source_namespace: f.source_namespace,
        };
        HttpMatchRequest {
            name: f.name,
            uri: f.uri,
            headers: f.headers,
            port: f.port,
            ignore_uri_case: f.ignore_uri_case,
            more: (more != MoreMatch::default()).then(|| Box::new(more)),
        }
    }
}

impl From<HttpMatchRequest> for HttpMatchFields {
    fn from(m: HttpMatchRequest) -> Self {
        let more = m.more.map(|b| *b).unwrap_or_default();
        HttpMatchFields {
            name: m.name,
            uri: m.uri,
            scheme: more.scheme,
            method: more.method,
            authority: more.authority,
            headers: m.headers,
            port: m.port,
            source_labels: more.source_labels,
            gateways: more.gateways,
            query_params: more.query_params,
            ignore_uri_case: m.ignore_uri_case,
            without_headers: more.without_headers,
            source_namespace: more.source_namespace,
        }
    }
}

api_struct! {
    pub struct PortSelector {
        pub number: Option<u16>,
    }
}

api_struct! {
    pub struct Destination {
        pub host: CompactString,
        pub subset: Option<CompactString>,
        pub port: Option<PortSelector>,
    }
}

api_struct! {
    pub struct HeaderOperations {
        pub set: BTreeMap<String, String>,
        pub add: BTreeMap<String, String>,
        #[serde(deserialize_with = "compact")]
        pub remove: Vec<String>,
    }
}

api_struct! {
    pub struct Headers {
        pub request: Option<HeaderOperations>,
        pub response: Option<HeaderOperations>,
    }
}

api_struct! {
    pub struct HttpRouteDestination {
        pub destination: Destination,
        pub weight: Option<i64>,
        pub headers: Option<Box<Headers>>,
    }
}

api_struct! {
    pub struct HttpRedirect {
        pub uri: Option<String>,
        pub authority: Option<String>,
        pub port: Option<u16>,
        pub derive_port: Option<String>,
        pub scheme: Option<String>,
        pub redirect_code: Option<u16>,
    }
}

api_struct! {
    pub struct HttpBody {
        pub string: Option<String>,
        pub bytes: Option<String>,
    }
}

api_struct! {
    pub struct HttpDirectResponse {
        pub status: u16,
        pub body: Option<HttpBody>,
    }
}

api_struct! {
    pub struct RegexRewrite {
        pub r#match: Option<String>,
        pub rewrite: Option<String>,
    }
}

api_struct! {
    pub struct HttpRewrite {
        pub uri: Option<String>,
        pub authority: Option<String>,
        pub uri_regex_rewrite: Option<RegexRewrite>,
    }
}

api_struct! {
    pub struct Percent {
        pub value: f64,
    }
}

api_struct! {
    pub struct FaultAbort {
        pub http_status: Option<u16>,
        pub grpc_status: Option<String>,
        pub percentage: Option<Percent>,
    }
}

api_struct! {
    pub struct FaultDelay {
        pub fixed_delay: Option<String>,
        pub percentage: Option<Percent>,
    }
}

api_struct! {
    pub struct HttpFault {
        pub abort: Option<FaultAbort>,
        pub delay: Option<FaultDelay>,
    }
}

api_struct! {
    pub struct Delegate {
        pub name: String,
        pub namespace: Option<String>,
    }
}

api_struct! {
    pub struct HttpRetry {
        pub attempts: Option<i64>,
        pub per_try_timeout: Option<String>,
        pub retry_on: Option<String>,
    }
}

/// Istio's `HTTPRoute`. What most routes leave out (redirect, direct response, delegation,
/// rewrite, timeout, retries, fault, mirror, header changes) is kept apart, boxed: a route is
/// 80 bytes instead of 160.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(from = "HttpRouteFields", into = "HttpRouteFields")]
pub struct HttpRoute {
    pub name: Option<CompactString>,
    pub r#match: Vec<HttpMatchRequest>,
    pub route: Vec<HttpRouteDestination>,
    pub more: Option<Box<MoreRoute>>,
    /// The item's line within its document, counted from 0 (the document's first line, and
    /// the value where it is not known). The loader notes it while the file's text is plain.
    pub line: u32,
}

/// The rarer parts of an [`HttpRoute`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MoreRoute {
    pub redirect: Option<HttpRedirect>,
    pub direct_response: Option<HttpDirectResponse>,
    pub delegate: Option<Delegate>,
    pub rewrite: Option<HttpRewrite>,
    pub timeout: Option<String>,
    pub retries: Option<HttpRetry>,
    pub fault: Option<HttpFault>,
    pub mirror: Option<Destination>,
    /// The share of requests `mirror` copies (`mirrorPercentage`, or the deprecated
    /// `mirrorPercent`, a whole number); all when neither is set.
    pub mirror_percentage: Option<Percent>,
    pub mirror_percent: Option<u32>,
    /// Istio's `mirrors`: several mirror destinations, each with its share.
    pub mirrors: Vec<HttpMirrorPolicy>,
    pub headers: Option<Headers>,
}

api_struct! {
    pub struct HttpMirrorPolicy {
        pub destination: Option<Destination>,
        pub percentage: Option<Percent>,
    }
}

impl HttpRoute {
    /// The rarer parts, empty when the route has none.
    pub fn more(&self) -> &MoreRoute {
        static NONE: MoreRoute = MoreRoute {
            redirect: None,
            direct_response: None,
            delegate: None,
            rewrite: None,
            timeout: None,
            retries: None,
            fault: None,
            mirror: None,
            mirror_percentage: None,
            mirror_percent: None,
            mirrors: Vec::new(),
            headers: None,
        };
        self.more.as_deref().unwrap_or(&NONE)
    }
    /// The rarer parts, to set one.
    pub fn more_mut(&mut self) -> &mut MoreRoute {
        self.more.get_or_insert_with(Default::default)
    }
}

/// `HTTPRoute` as written: what [`HttpRoute`] is read from and written as.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", default)]
struct HttpRouteFields {
    name: Option<CompactString>,
    #[serde(deserialize_with = "compact")]
    r#match: Vec<HttpMatchRequest>,
    #[serde(deserialize_with = "compact")]
    route: Vec<HttpRouteDestination>,
    redirect: Option<HttpRedirect>,
    direct_response: Option<HttpDirectResponse>,
    delegate: Option<Delegate>,
    rewrite: Option<HttpRewrite>,
    timeout: Option<String>,
    retries: Option<HttpRetry>,
    fault: Option<HttpFault>,
    mirror: Option<Destination>,
    mirror_percentage: Option<Percent>,
    mirror_percent: Option<u32>,
    #[serde(deserialize_with = "compact")]
    mirrors: Vec<HttpMirrorPolicy>,
    headers: Option<Headers>,
}

impl From<HttpRouteFields> for HttpRoute {
    fn from(f: HttpRouteFields) -> Self {
        let more = MoreRoute {
            redirect: f.redirect,
            direct_response: f.direct_response,
            delegate: f.delegate,
            rewrite: f.rewrite,
            timeout: f.timeout,
            retries: f.retries,
            fault: f.fault,
            mirror: f.mirror,
            mirror_percentage: f.mirror_percentage,
            mirror_percent: f.mirror_percent,
            mirrors: f.mirrors,
            headers: f.headers,
        };
        HttpRoute {
            name: f.name,
            r#match: f.r#match,
            route: f.route,
            more: (more != MoreRoute::default()).then(|| Box::new(more)),
            line: 0,
        }
    }
}

impl From<HttpRoute> for HttpRouteFields {
    fn from(r: HttpRoute) -> Self {
        let more = r.more.map(|b| *b).unwrap_or_default();
        HttpRouteFields {
            name: r.name,
            r#match: r.r#match,
            route: r.route,
            redirect: more.redirect,
            direct_response: more.direct_response,
            delegate: more.delegate,
            rewrite: more.rewrite,
            timeout: more.timeout,
            retries: more.retries,
            fault: more.fault,
            mirror: more.mirror,
            mirror_percentage: more.mirror_percentage,
            mirror_percent: more.mirror_percent,
            mirrors: more.mirrors,
            headers: more.headers,
        }
    }
}

api_struct! {
    pub struct L4Match {
        #[serde(deserialize_with = "compact")]
        pub destination_subnets: Vec<String>,
        pub port: Option<u16>,
        pub source_labels: Labels,
        #[serde(deserialize_with = "compact")]
        pub gateways: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub sni_hosts: Vec<String>,
    }
}

api_struct! {
    pub struct RouteDestination {
        pub destination: Destination,
        pub weight: Option<i64>,
    }
}

api_struct! {
    pub struct TcpRoute {
        #[serde(deserialize_with = "compact")]
        pub r#match: Vec<L4Match>,
        #[serde(deserialize_with = "compact")]
        pub route: Vec<RouteDestination>,
    }
}

api_struct! {
    pub struct TlsRoute {
        #[serde(deserialize_with = "compact")]
        pub r#match: Vec<L4Match>,
        #[serde(deserialize_with = "compact")]
        pub route: Vec<RouteDestination>,
    }
}

api_struct! {
    pub struct VirtualServiceSpec {
        #[serde(deserialize_with = "compact")]
        pub hosts: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub gateways: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub http: Vec<HttpRoute>,
        #[serde(deserialize_with = "compact")]
        pub tcp: Vec<TcpRoute>,
        #[serde(deserialize_with = "compact")]
        pub tls: Vec<TlsRoute>,
        #[serde(deserialize_with = "compact")]
        pub export_to: Vec<String>,
    }
}

api_struct! {
    pub struct ServerPort {
        pub number: u16,
        pub name: Option<String>,
        pub protocol: Option<String>,
        pub target_port: Option<u16>,
    }
}

api_struct! {
    pub struct ServerTls {
        pub https_redirect: bool,
        pub mode: Option<String>,
        pub credential_name: Option<String>,
        pub server_certificate: Option<String>,
        pub private_key: Option<String>,
    }
}

api_struct! {
    pub struct Server {
        pub port: ServerPort,
        #[serde(deserialize_with = "compact")]
        pub hosts: Vec<String>,
        pub tls: Option<ServerTls>,
        pub name: Option<String>,
        pub bind: Option<String>,
    }
}

api_struct! {
    pub struct IstioGatewaySpec {
        pub selector: Labels,
        #[serde(deserialize_with = "compact")]
        pub servers: Vec<Server>,
    }
}

api_struct! {
    pub struct ClientTls {
        pub mode: Option<String>,
        pub sni: Option<String>,
        pub credential_name: Option<String>,
    }
}

api_struct! {
    pub struct TrafficPolicy {
        pub tls: Option<ClientTls>,
        pub load_balancer: Option<serde_yaml::Value>,
        pub connection_pool: Option<serde_yaml::Value>,
        pub outlier_detection: Option<serde_yaml::Value>,
        #[serde(deserialize_with = "compact")]
        pub port_level_settings: Vec<serde_yaml::Value>,
    }
}

api_struct! {
    pub struct Subset {
        pub name: String,
        pub labels: Labels,
        /// Boxed, as below: most subsets and rules set none, and a policy is large.
        pub traffic_policy: Option<Box<TrafficPolicy>>,
    }
}

api_struct! {
    /// A policy's `selector` (istio.type.v1beta1's `WorkloadSelector`): `matchLabels`.
    pub struct WorkloadSelector {
        pub match_labels: Labels,
    }
}

api_struct! {
    /// A Sidecar's `workloadSelector` (networking/v1's `WorkloadSelector`): `labels`, as istiod
    /// reads them (`GetWorkloadSelector().GetLabels()`, pilot/pkg/model/push_context.go).
    pub struct SidecarWorkloadSelector {
        pub labels: Labels,
        /// Not a field of this selector (it is a policy selector's): read only so that
        /// meshsim can say so.
        #[serde(skip_serializing)]
        pub match_labels: Option<serde::de::IgnoredAny>,
    }
}

api_struct! {
    pub struct DestinationRuleSpec {
        pub host: String,
        #[serde(deserialize_with = "compact")]
        pub subsets: Vec<Subset>,
        pub traffic_policy: Option<Box<TrafficPolicy>>,
        #[serde(deserialize_with = "compact")]
        pub export_to: Vec<String>,
        pub workload_selector: Option<WorkloadSelector>,
    }
}

api_struct! {
    pub struct SePort {
        pub number: u16,
        pub protocol: Option<String>,
        pub name: Option<String>,
        pub target_port: Option<u16>,
    }
}

api_struct! {
    pub struct WorkloadEntrySpec {
        pub address: Option<String>,
        pub ports: BTreeMap<String, u16>,
        pub labels: Labels,
        pub network: Option<String>,
        pub locality: Option<String>,
        pub weight: Option<u32>,
        pub service_account: Option<String>,
    }
}

api_struct! {
    pub struct ServiceEntrySpec {
        #[serde(deserialize_with = "compact")]
        pub hosts: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub addresses: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub ports: Vec<SePort>,
        pub location: Option<String>,
        pub resolution: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub endpoints: Vec<WorkloadEntrySpec>,
        pub workload_selector: Option<WorkloadSelector>,
        #[serde(deserialize_with = "compact")]
        pub export_to: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub subject_alt_names: Vec<String>,
    }
}

api_struct! {
    pub struct OutboundTrafficPolicy {
        pub mode: Option<String>,
    }
}

api_struct! {
    pub struct SidecarPort {
        pub number: u16,
        pub protocol: Option<String>,
        pub name: Option<String>,
    }
}

api_struct! {
    pub struct IstioEgressListener {
        pub port: Option<SidecarPort>,
        pub bind: Option<String>,
        pub capture_mode: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub hosts: Vec<String>,
    }
}

api_struct! {
    pub struct SidecarSpec {
        pub workload_selector: Option<SidecarWorkloadSelector>,
        #[serde(deserialize_with = "compact")]
        pub egress: Vec<IstioEgressListener>,
        #[serde(deserialize_with = "compact")]
        pub ingress: Vec<serde_yaml::Value>,
        pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
    }
}

api_struct! {
    pub struct PolicyTargetReference {
        pub group: Option<String>,
        pub kind: String,
        pub name: String,
        pub namespace: Option<String>,
    }
}

api_struct! {
    pub struct AuthorizationPolicySpec {
        pub selector: Option<WorkloadSelector>,
        pub target_ref: Option<PolicyTargetReference>,
        #[serde(deserialize_with = "compact")]
        pub target_refs: Vec<PolicyTargetReference>,
        pub action: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub rules: Vec<serde_yaml::Value>,
        pub provider: Option<serde_yaml::Value>,
    }
}

api_struct! {
    pub struct PeerAuthenticationMtls {
        pub mode: Option<String>,
    }
}

api_struct! {
    pub struct PeerAuthenticationSpec {
        pub selector: Option<WorkloadSelector>,
        pub mtls: Option<PeerAuthenticationMtls>,
        pub port_level_mtls: BTreeMap<String, PeerAuthenticationMtls>,
    }
}

// ---------------------------------------------------------------- Gateway API

api_struct! {
    pub struct GatewayClassSpec {
        pub controller_name: String,
        pub description: Option<String>,
    }
}

api_struct! {
    pub struct RouteNamespaces {
        pub from: Option<String>,
        pub selector: Option<LabelSelector>,
    }
}

api_struct! {
    pub struct RouteGroupKind {
        pub group: Option<String>,
        pub kind: String,
    }
}

api_struct! {
    pub struct AllowedRoutes {
        pub namespaces: Option<RouteNamespaces>,
        #[serde(deserialize_with = "compact")]
        pub kinds: Vec<RouteGroupKind>,
    }
}

api_struct! {
    pub struct GatewayTlsConfig {
        pub mode: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub certificate_refs: Vec<serde_yaml::Value>,
    }
}

api_struct! {
    pub struct Listener {
        pub name: String,
        pub hostname: Option<String>,
        pub port: u16,
        pub protocol: String,
        pub tls: Option<GatewayTlsConfig>,
        pub allowed_routes: Option<AllowedRoutes>,
    }
}

api_struct! {
    pub struct GatewayAddress {
        #[serde(rename = "type")]
        pub type_: Option<String>,
        pub value: String,
    }
}

api_struct! {
    pub struct GatewaySpec {
        pub gateway_class_name: String,
        #[serde(deserialize_with = "compact")]
        pub listeners: Vec<Listener>,
        #[serde(deserialize_with = "compact")]
        pub addresses: Vec<GatewayAddress>,
        /// Not a spec field: the loader copies `status.addresses` here (the addresses Istio
        /// reported for the deployed gateway, present in a live cluster's dump).
        #[serde(skip)]
        #[serde(deserialize_with = "compact")]
        pub status_addresses: Vec<GatewayAddress>,
    }
}

api_struct! {
    pub struct GatewayStatus {
        #[serde(deserialize_with = "compact")]
        pub addresses: Vec<GatewayAddress>,
    }
}

api_struct! {
    pub struct ParentReference {
        pub group: Option<String>,
        pub kind: Option<String>,
        pub namespace: Option<String>,
        pub name: String,
        pub section_name: Option<String>,
        pub port: Option<u16>,
    }
}

api_struct! {
    pub struct HttpPathMatch {
        #[serde(rename = "type")]
        pub type_: Option<String>,
        pub value: Option<String>,
    }
}

api_struct! {
    /// Header and query-parameter matches share this shape.
    pub struct HttpValueMatch {
        #[serde(rename = "type")]
        pub type_: Option<String>,
        pub name: String,
        pub value: String,
    }
}

api_struct! {
    pub struct HttpRouteMatch {
        pub path: Option<HttpPathMatch>,
        #[serde(deserialize_with = "compact")]
        pub headers: Vec<HttpValueMatch>,
        #[serde(deserialize_with = "compact")]
        pub query_params: Vec<HttpValueMatch>,
        pub method: Option<String>,
    }
}

api_struct! {
    pub struct HttpHeader {
        pub name: String,
        pub value: String,
    }
}

api_struct! {
    pub struct HeaderModifier {
        #[serde(deserialize_with = "compact")]
        pub set: Vec<HttpHeader>,
        #[serde(deserialize_with = "compact")]
        pub add: Vec<HttpHeader>,
        #[serde(deserialize_with = "compact")]
        pub remove: Vec<String>,
    }
}

api_struct! {
    pub struct HttpPathModifier {
        #[serde(rename = "type")]
        pub type_: String,
        pub replace_full_path: Option<String>,
        pub replace_prefix_match: Option<String>,
    }
}

api_struct! {
    pub struct RequestRedirect {
        pub scheme: Option<String>,
        pub hostname: Option<String>,
        pub path: Option<HttpPathModifier>,
        pub port: Option<u16>,
        pub status_code: Option<u16>,
    }
}

api_struct! {
    pub struct UrlRewrite {
        pub hostname: Option<String>,
        pub path: Option<HttpPathModifier>,
    }
}

api_struct! {
    pub struct BackendObjectReference {
        pub group: Option<String>,
        pub kind: Option<String>,
        pub name: String,
        pub namespace: Option<String>,
        pub port: Option<u16>,
    }
}

api_struct! {
    pub struct Fraction {
        pub numerator: u32,
        pub denominator: Option<u32>,
    }
}

api_struct! {
    pub struct RequestMirror {
        pub backend_ref: BackendObjectReference,
        pub percent: Option<u32>,
        pub fraction: Option<Fraction>,
    }
}

api_struct! {
    pub struct HttpRouteFilter {
        #[serde(rename = "type")]
        pub type_: String,
        pub request_header_modifier: Option<HeaderModifier>,
        pub response_header_modifier: Option<HeaderModifier>,
        pub request_redirect: Option<RequestRedirect>,
        pub url_rewrite: Option<UrlRewrite>,
        pub request_mirror: Option<RequestMirror>,
        pub extension_ref: Option<serde_yaml::Value>,
    }
}

api_struct! {
    pub struct HttpBackendRef {
        pub group: Option<String>,
        pub kind: Option<String>,
        pub name: String,
        pub namespace: Option<String>,
        pub port: Option<u16>,
        pub weight: Option<u32>,
        #[serde(deserialize_with = "compact")]
        pub filters: Vec<HttpRouteFilter>,
    }
}

api_struct! {
    pub struct HttpRouteTimeouts {
        pub request: Option<String>,
        pub backend_request: Option<String>,
    }
}

api_struct! {
    pub struct HttpRouteRule {
        pub name: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub matches: Vec<HttpRouteMatch>,
        #[serde(deserialize_with = "compact")]
        pub filters: Vec<HttpRouteFilter>,
        #[serde(deserialize_with = "compact")]
        pub backend_refs: Vec<HttpBackendRef>,
        pub timeouts: Option<HttpRouteTimeouts>,
    }
}

api_struct! {
    pub struct HttpRouteSpec {
        #[serde(deserialize_with = "compact")]
        pub parent_refs: Vec<ParentReference>,
        #[serde(deserialize_with = "compact")]
        pub hostnames: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub rules: Vec<HttpRouteRule>,
    }
}

api_struct! {
    pub struct GrpcMethodMatch {
        #[serde(rename = "type")]
        pub type_: Option<String>,
        pub service: Option<String>,
        pub method: Option<String>,
    }
}

api_struct! {
    pub struct GrpcRouteMatch {
        pub method: Option<GrpcMethodMatch>,
        #[serde(deserialize_with = "compact")]
        pub headers: Vec<HttpValueMatch>,
    }
}

api_struct! {
    pub struct GrpcRouteRule {
        pub name: Option<String>,
        #[serde(deserialize_with = "compact")]
        pub matches: Vec<GrpcRouteMatch>,
        #[serde(deserialize_with = "compact")]
        pub filters: Vec<HttpRouteFilter>,
        #[serde(deserialize_with = "compact")]
        pub backend_refs: Vec<HttpBackendRef>,
    }
}

api_struct! {
    pub struct GrpcRouteSpec {
        #[serde(deserialize_with = "compact")]
        pub parent_refs: Vec<ParentReference>,
        #[serde(deserialize_with = "compact")]
        pub hostnames: Vec<String>,
        #[serde(deserialize_with = "compact")]
        pub rules: Vec<GrpcRouteRule>,
    }
}

api_struct! {
    pub struct ReferenceGrantFrom {
        pub group: String,
        pub kind: String,
        pub namespace: String,
    }
}

api_struct! {
    pub struct ReferenceGrantTo {
        pub group: String,
        pub kind: String,
        pub name: Option<String>,
    }
}

api_struct! {
    pub struct ReferenceGrantSpec {
        #[serde(deserialize_with = "compact")]
        pub from: Vec<ReferenceGrantFrom>,
        #[serde(deserialize_with = "compact")]
        pub to: Vec<ReferenceGrantTo>,
    }
}

// ---------------------------------------------------------------- OpenShift

api_struct! {
    pub struct RouteTargetReference {
        pub kind: Option<String>,
        pub name: String,
        pub weight: Option<u32>,
    }
}

api_struct! {
    pub struct RoutePort {
        pub target_port: Option<IntOrString>,
    }
}

api_struct! {
    pub struct RouteTls {
        pub termination: Option<String>,
        pub insecure_edge_termination_policy: Option<String>,
    }
}

api_struct! {
    pub struct OpenShiftRouteSpec {
        pub host: Option<String>,
        pub path: Option<String>,
        pub port: Option<RoutePort>,
        pub to: RouteTargetReference,
        #[serde(deserialize_with = "compact")]
        pub alternate_backends: Vec<RouteTargetReference>,
        pub tls: Option<RouteTls>,
        pub wildcard_policy: Option<String>,
    }
}

// ---------------------------------------------------------------- Sail operator and mesh config

api_struct! {
    /// The parts of Istio's `MeshConfig` that change routing or logging.
    pub struct MeshConfig {
        pub access_log_file: Option<String>,
        pub access_log_encoding: Option<String>,
        pub access_log_format: Option<String>,
        pub outbound_traffic_policy: Option<OutboundTrafficPolicy>,
        pub trust_domain: Option<String>,
        pub root_namespace: Option<String>,
    }
}

api_struct! {
    pub struct UpdateStrategy {
        #[serde(rename = "type")]
        pub type_: Option<String>,
    }
}

api_struct! {
    pub struct IstioValues {
        pub mesh_config: Option<MeshConfig>,
        pub profile: Option<String>,
    }
}

api_struct! {
    pub struct SailIstioSpec {
        pub version: Option<String>,
        pub namespace: Option<String>,
        pub profile: Option<String>,
        pub update_strategy: Option<UpdateStrategy>,
        pub values: Option<IstioValues>,
    }
}

api_struct! {
    pub struct RevisionTargetRef {
        pub kind: Option<String>,
        pub name: String,
    }
}

api_struct! {
    pub struct IstioRevisionTagSpec {
        pub target_ref: RevisionTargetRef,
    }
}

api_struct! {
    pub struct SailComponentSpec {
        pub version: Option<String>,
        pub namespace: Option<String>,
        pub profile: Option<String>,
    }
}

// ---------------------------------------------------------------- meshsim's own kind

api_struct! {
    /// `meshsim.io/v1alpha1` `SimulatedResponse`: how an application or a host outside the
    /// mesh answers, for labs that need more than "200 OK" (a redirect from an internet host,
    /// an application error).
    pub struct SimulatedResponseSpec {
        /// A Service host (`name`, `name.namespace`, the FQDN) or an external host name.
        pub host: String,
        /// Only on this port; any port when absent.
        pub port: Option<u16>,
        #[serde(deserialize_with = "compact")]
        pub rules: Vec<ResponseRule>,
    }
}

api_struct! {
    pub struct ResponseRule {
        /// Exact path (query excluded); with `pathPrefix`, the first rule whose prefix matches.
        pub path: Option<String>,
        pub path_prefix: Option<String>,
        pub method: Option<String>,
        pub status: u16,
        pub headers: BTreeMap<String, String>,
        /// Body length in bytes, for access logs.
        pub body_bytes: Option<u64>,
    }
}
