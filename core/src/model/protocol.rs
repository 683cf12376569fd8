//! Istio's protocol selection: `appProtocol` first, then the port name's prefix
//! (`http`, `http-web`, `grpc-api`...); anything else is detected by sniffing at run time.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
    GrpcWeb,
    Https,
    Tls,
    Tcp,
    Mongo,
    Redis,
    Mysql,
    Udp,
    Hbone,
    /// Not declared: a sidecar sniffs the first bytes to tell HTTP from TCP.
    Unknown,
}

impl Protocol {
    /// A protocol name, in any ASCII case (Istio lowercases it before it compares).
    fn parse(s: &str) -> Option<Protocol> {
        const NAMES: [(&str, Protocol); 15] = [
            ("http", Protocol::Http),
            ("http2", Protocol::Http2),
            ("kubernetes.io/h2c", Protocol::Http2),
            ("grpc", Protocol::Grpc),
            ("grpc-web", Protocol::GrpcWeb),
            ("https", Protocol::Https),
            ("kubernetes.io/wss", Protocol::Https),
            ("tls", Protocol::Tls),
            ("tcp", Protocol::Tcp),
            ("mongo", Protocol::Mongo),
            ("redis", Protocol::Redis),
            ("mysql", Protocol::Mysql),
            ("udp", Protocol::Udp),
            ("hbone", Protocol::Hbone),
            ("kubernetes.io/ws", Protocol::Http),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(s))
            .map(|&(_, p)| p)
    }

    /// A Kubernetes Service port: `appProtocol`, else the name's prefix before the first `-`,
    /// else UDP/SCTP from `protocol`, else unknown (sniffed).
    pub fn for_service_port(
        app_protocol: Option<&str>,
        name: Option<&str>,
        l4: Option<&str>,
    ) -> Protocol {
        if l4 == Some("UDP") {
            return Protocol::Udp;
        }
        if let Some(p) = app_protocol.and_then(Protocol::parse) {
            return p;
        }
        if let Some(n) = name {
            let prefix = n.split('-').next().unwrap_or("");
            if let Some(p) = Protocol::parse(prefix) {
                return p;
            }
        }
        Protocol::Unknown
    }

    /// Istio API ports (Gateway servers, ServiceEntry ports) carry an explicit protocol name.
    pub fn from_name(protocol: &str, name: Option<&str>) -> Protocol {
        Protocol::parse(protocol).unwrap_or_else(|| Protocol::for_service_port(None, name, None))
    }

    /// True for protocols a sidecar routes as HTTP.
    pub fn is_http(&self) -> bool {
        matches!(
            self,
            Protocol::Http | Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb
        )
    }

    /// True when the proxy toward this port speaks HTTP/2 upstream.
    pub fn is_h2(&self) -> bool {
        matches!(self, Protocol::Http2 | Protocol::Grpc | Protocol::GrpcWeb)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Protocol::Http => "HTTP",
            Protocol::Http2 => "HTTP2",
            Protocol::Grpc => "GRPC",
            Protocol::GrpcWeb => "GRPC-Web",
            Protocol::Https => "HTTPS",
            Protocol::Tls => "TLS",
            Protocol::Tcp => "TCP",
            Protocol::Mongo => "Mongo",
            Protocol::Redis => "Redis",
            Protocol::Mysql => "MySQL",
            Protocol::Udp => "UDP",
            Protocol::Hbone => "HBONE",
            Protocol::Unknown => "auto",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Protocol;

    #[test]
    fn istio_protocol_selection_prefers_app_protocol_then_name_prefix() {
        assert_eq!(
            Protocol::for_service_port(Some("http"), Some("tcp-x"), None),
            Protocol::Http
        );
        assert_eq!(
            Protocol::for_service_port(None, Some("http2"), None),
            Protocol::Http2
        );
        assert_eq!(
            Protocol::for_service_port(None, Some("http-web"), None),
            Protocol::Http
        );
        assert_eq!(
            Protocol::for_service_port(None, Some("status-port"), None),
            Protocol::Unknown
        );
        assert_eq!(
            Protocol::for_service_port(None, Some("httpx"), None),
            Protocol::Unknown
        );
        assert_eq!(
            Protocol::for_service_port(None, None, None),
            Protocol::Unknown
        );
    }

    /// Istio lowercases a protocol name before it reads it (`protocol.Parse`,
    /// pkg/config/protocol/instance.go in 1.27): a Gateway server's `HTTP2` or `GRPC-Web` is
    /// h2 or gRPC-Web, an `appProtocol` of `Kubernetes.io/H2C` is h2.
    #[test]
    fn protocol_names_are_read_in_any_case() {
        assert_eq!(Protocol::from_name("HTTP2", None), Protocol::Http2);
        assert_eq!(Protocol::from_name("GRPC-Web", None), Protocol::GrpcWeb);
        assert_eq!(Protocol::from_name("Tcp", None), Protocol::Tcp);
        assert_eq!(
            Protocol::for_service_port(Some("Kubernetes.io/H2C"), None, None),
            Protocol::Http2
        );
        assert_eq!(
            Protocol::for_service_port(None, Some("GRPC-api"), None),
            Protocol::Grpc
        );
        assert_eq!(Protocol::from_name("HTTP/2", None), Protocol::Unknown);
    }
}
