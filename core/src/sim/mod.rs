//! Sim: a request in, a trace out. The request walks the stages Envoy walks — listener, virtual
//! host, route, cluster, endpoint — at each proxy on its path, and every stage records what
//! matched and why the alternatives did not. The first failure stops the walk with a named
//! outcome; nothing here formats text for people (see `render`).

mod engine;
pub mod request;
pub mod route;
mod vhosts;

pub use engine::{trace, trace_with};
pub use request::{parse_request_line, Request, RequestError};

use compact_str::CompactString;
use serde::Serialize;
use std::collections::BTreeMap;

/// How much of a trace to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Everything: steps, notes, explanation, decisions and access-log lines.
    #[default]
    Full,
    /// What happened, without the words: what `meshsim test` needs for a case that checks no
    /// access-log line.
    Verdict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HopKind {
    Sidecar,
    Gateway,
    Waypoint,
    Ztunnel,
    Router,
}

impl HopKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            HopKind::Sidecar => "sidecar",
            HopKind::Gateway => "gateway",
            HopKind::Waypoint => "waypoint",
            HopKind::Ztunnel => "ztunnel",
            HopKind::Router => "router",
        }
    }
}

/// One stage of one hop: what was looked for, what was found, and what was tried and missed.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub stage: &'static str,
    pub result: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<Tried>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Tried {
    pub what: String,
    pub why: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pos: String,
}

/// The fields of one Envoy access-log line (`../shared/spec/formats.md`, section 1).
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnvoyLog {
    pub start_ms: u64,
    pub method: CompactString,
    pub path: CompactString,
    pub protocol: CompactString,
    pub response_code: u16,
    pub response_flags: CompactString,
    pub response_code_details: CompactString,
    pub connection_termination_details: Option<CompactString>,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub duration: u64,
    pub upstream_service_time: Option<u64>,
    pub x_forwarded_for: Option<CompactString>,
    pub user_agent: Option<CompactString>,
    pub request_id: Option<CompactString>,
    pub authority: Option<CompactString>,
    pub upstream_host: Option<CompactString>,
    pub upstream_cluster: Option<CompactString>,
    pub upstream_local_address: Option<CompactString>,
    pub downstream_local_address: CompactString,
    pub downstream_remote_address: CompactString,
    pub requested_server_name: Option<CompactString>,
    pub route_name: Option<CompactString>,
    /// A TCP proxy line (`"- - -" 0 ...`).
    pub tcp: bool,
}

/// The fields of one ztunnel access-log line (`formats.md`, section 6).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ZtunnelLog {
    pub start_us: u64,
    pub level: &'static str,
    pub message: &'static str,
    /// Ordered (field, value, quoted) triples; unknown fields are left out, as ztunnel does.
    pub fields: Vec<(&'static str, CompactString, bool)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    pub kind: HopKind,
    pub namespace: CompactString,
    pub name: CompactString,
    pub pod: CompactString,
    /// `outbound`, `inbound` or `gateway`.
    pub direction: &'static str,
    pub decision: String,
    pub steps: Vec<Step>,
    #[serde(skip)]
    pub envoy_log: Option<EnvoyLog>,
    #[serde(skip)]
    pub ztunnel_log: Option<ZtunnelLog>,
    /// The rendered access-log line, when access logging is on.
    pub access_log: Option<String>,
    /// This hop answered by itself or failed (the others relay the response).
    #[serde(skip)]
    pub replied: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Backend {
    /// `Service`, `ServiceEntry`, `Workload` or `External`.
    pub kind: &'static str,
    pub namespace: CompactString,
    pub name: CompactString,
    pub workload: Option<CompactString>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct UpstreamRequest {
    pub method: CompactString,
    pub scheme: CompactString,
    pub authority: CompactString,
    pub path: CompactString,
    pub headers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
}

/// The closed set of ways a trace ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The application (or a host outside the mesh) answered.
    Served,
    /// A proxy answered by itself (404 NR, 503 NC/UH, redirect, direct response, fault).
    LocalReply,
    /// The connection failed or was closed before any HTTP response.
    ConnectionFailed,
    /// The destination host name does not resolve.
    DnsFailure,
    /// The request came back to a proxy it had passed: a routing loop.
    RoutingLoop,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    /// Schema version of this JSON shape.
    pub schema: u32,
    pub request: TraceRequest,
    pub status: u16,
    pub flags: CompactString,
    pub details: CompactString,
    pub outcome: Outcome,
    pub backend: Option<Backend>,
    pub cluster: Option<String>,
    pub upstream_request: Option<UpstreamRequest>,
    pub response: Response,
    pub hops: Vec<Hop>,
    /// How the destination host was resolved, and other facts worth knowing.
    pub notes: Vec<String>,
    /// Why the request failed, in sentences, when it did.
    pub explanation: Vec<String>,
    /// When a route split traffic by weight: each backend and its weight.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<(String, u32)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TraceRequest {
    pub from: String,
    pub method: String,
    pub url: String,
    pub authority: String,
    pub headers: BTreeMap<String, String>,
}

impl Trace {
    pub fn access_logs(&self) -> Vec<&str> {
        self.hops
            .iter()
            .filter_map(|h| h.access_log.as_deref())
            .collect()
    }
}
