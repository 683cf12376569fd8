//! The fields of each API struct that meshsim reads no further than its name: together with
//! the fields a struct of `types` has, they are every field its API defines, so that any
//! other key is unknown (see [`super::fields`]).
//!
//! Sources: the Kubernetes API reference (core/v1, apps/v1, batch/v1, as of 1.34), Istio's
//! CRD schemas (`manifests/charts/base/files/crd-all.gen.yaml`, read on the 1.32 development
//! branch: a superset of 1.27's fields, so that no field of 1.27 is called unknown), the Gateway API's
//! experimental-channel CRDs (a superset of the standard channel's; fields of earlier
//! experimental releases are kept, such as a listener's `frontendValidation`) and OpenShift's
//! `route.openshift.io/v1`. A struct used in several places lists the fields of all of them.
//! Structs not listed here are not checked: status written by the API server, free-form
//! values, the Sail operator's Helm values.

/// For a struct of `types` (as serde names it), the API fields it does not read; `None` when
/// the struct is not checked.
pub fn api_fields(name: &str) -> Option<&'static [&'static str]> {
    API_FIELDS
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| API_FIELDS[i].1)
}

/// Sorted by struct name. Deployment, StatefulSet, DaemonSet, ReplicaSet and Job share
/// `WorkloadSpec`; `L4Match` is a TCP route's match and a TLS route's; `HttpRouteFilter`
/// serves HTTPRoute and GRPCRoute.
pub const API_FIELDS: &[(&str, &[&str])] = &[
    ("AllowedRoutes", &[]),
    ("AuthorizationPolicySpec", &[]),
    ("BackendObjectReference", &[]),
    (
        "ClientTls",
        &[
            "caCertificates",
            "caCrl",
            "clientCertificate",
            "insecureSkipVerify",
            "privateKey",
            "subjectAltNames",
        ],
    ),
    (
        "Container",
        &[
            "command",
            "workingDir",
            "envFrom",
            "env",
            "resources",
            "resizePolicy",
            "restartPolicyRules",
            "volumeMounts",
            "volumeDevices",
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "imagePullPolicy",
            "securityContext",
            "stdin",
            "stdinOnce",
            "tty",
        ],
    ),
    ("ContainerPort", &["hostPort", "hostIP"]),
    ("Delegate", &[]),
    ("Destination", &[]),
    ("DestinationRuleSpec", &[]),
    ("FaultAbort", &["http2Error"]),
    ("FaultDelay", &["exponentialDelay", "percent"]),
    ("Fraction", &[]),
    ("GatewayAddress", &[]),
    ("GatewayClassSpec", &["parametersRef"]),
    (
        "GatewaySpec",
        &[
            "allowedListeners",
            "defaultScope",
            "infrastructure",
            "tls",
            "backendTLS",
        ],
    ),
    ("GatewayTlsConfig", &["options", "frontendValidation"]),
    ("GrpcMethodMatch", &[]),
    ("GrpcRouteMatch", &[]),
    ("GrpcRouteRule", &["sessionPersistence"]),
    ("GrpcRouteSpec", &["useDefaultGateways"]),
    ("HeaderModifier", &[]),
    ("HeaderOperations", &[]),
    ("Headers", &[]),
    ("HttpBackendRef", &[]),
    ("HttpBody", &[]),
    ("HttpDirectResponse", &[]),
    ("HttpFault", &[]),
    ("HttpHeader", &[]),
    ("HttpMatchFields", &["statPrefix"]),
    ("HttpMirrorPolicy", &[]),
    ("HttpPathMatch", &[]),
    ("HttpPathModifier", &[]),
    ("HttpRedirect", &["prefixRewrite"]),
    (
        "HttpRetry",
        &[
            "backoff",
            "retryIgnorePreviousHosts",
            "retryRemoteLocalities",
        ],
    ),
    ("HttpRewrite", &[]),
    ("HttpRouteDestination", &[]),
    ("HttpRouteFields", &["corsPolicy", "mirror_percent"]),
    ("HttpRouteFilter", &["cors", "externalAuth"]),
    ("HttpRouteMatch", &[]),
    ("HttpRouteRule", &["retry", "sessionPersistence"]),
    ("HttpRouteSpec", &["useDefaultGateways"]),
    ("HttpRouteTimeouts", &[]),
    ("HttpValueMatch", &[]),
    ("IstioEgressListener", &[]),
    ("IstioGatewaySpec", &[]),
    ("L4Match", &["sourceNamespace", "sourceSubnet"]),
    ("LabelSelector", &[]),
    ("LabelSelectorRequirement", &[]),
    ("Listener", &[]),
    (
        "ObjectMetaFields",
        &[
            "selfLink",
            "resourceVersion",
            "generation",
            "deletionGracePeriodSeconds",
            "finalizers",
            "managedFields",
        ],
    ),
    ("OpenShiftRouteSpec", &["subdomain", "httpHeaders"]),
    ("OutboundTrafficPolicy", &["egressProxy"]),
    ("OwnerReference", &["blockOwnerDeletion"]),
    ("ParentReference", &[]),
    ("PeerAuthenticationMtls", &[]),
    ("PeerAuthenticationSpec", &[]),
    ("Percent", &[]),
    (
        "PodSpec",
        &[
            "volumes",
            "ephemeralContainers",
            "terminationGracePeriodSeconds",
            "activeDeadlineSeconds",
            "dnsPolicy",
            "nodeSelector",
            "automountServiceAccountToken",
            "shareProcessNamespace",
            "hostPID",
            "hostIPC",
            "securityContext",
            "imagePullSecrets",
            "hostname",
            "hostnameOverride",
            "subdomain",
            "affinity",
            "schedulerName",
            "tolerations",
            "hostAliases",
            "priorityClassName",
            "priority",
            "dnsConfig",
            "readinessGates",
            "runtimeClassName",
            "enableServiceLinks",
            "preemptionPolicy",
            "overhead",
            "topologySpreadConstraints",
            "setHostnameAsFQDN",
            "os",
            "hostUsers",
            "schedulingGates",
            "resourceClaims",
            "resources",
        ],
    ),
    ("PodTemplate", &[]),
    ("PolicyTargetReference", &[]),
    ("PortSelector", &[]),
    ("ReferenceGrantFrom", &[]),
    ("ReferenceGrantSpec", &[]),
    ("ReferenceGrantTo", &[]),
    ("RegexRewrite", &[]),
    ("RequestMirror", &[]),
    ("RequestRedirect", &[]),
    ("ResponseRule", &[]),
    ("RouteDestination", &[]),
    ("RouteGroupKind", &[]),
    ("RouteNamespaces", &[]),
    ("RoutePort", &[]),
    ("RouteTargetReference", &[]),
    (
        "RouteTls",
        &[
            "certificate",
            "key",
            "caCertificate",
            "destinationCACertificate",
            "externalCertificate",
        ],
    ),
    ("SePort", &[]),
    ("Server", &["defaultEndpoint"]),
    ("ServerPort", &[]),
    (
        "ServerTls",
        &[
            "caCertCredentialName",
            "caCertificates",
            "caCrl",
            "cipherSuites",
            "credentialNames",
            "ecdhCurves",
            "insecureSkipVerify",
            "maxProtocolVersion",
            "minProtocolVersion",
            "subjectAltNames",
            "tlsCertificates",
            "verifyCertificateHash",
            "verifyCertificateSpki",
        ],
    ),
    ("ServiceEntrySpec", &[]),
    ("ServicePort", &[]),
    (
        "ServiceSpec",
        &[
            "clusterIPs",
            "externalIPs",
            "sessionAffinity",
            "sessionAffinityConfig",
            "loadBalancerSourceRanges",
            "loadBalancerClass",
            "externalTrafficPolicy",
            "internalTrafficPolicy",
            "healthCheckNodePort",
            "publishNotReadyAddresses",
            "ipFamilies",
            "ipFamilyPolicy",
            "allocateLoadBalancerNodePorts",
            "trafficDistribution",
        ],
    ),
    ("SidecarPort", &["targetPort"]),
    ("SidecarSpec", &["inboundConnectionPool"]),
    ("SidecarWorkloadSelector", &[]),
    ("SimulatedResponseSpec", &[]),
    ("StringMatch", &[]),
    ("Subset", &[]),
    ("TcpRoute", &[]),
    ("TlsRoute", &[]),
    ("TrafficPolicy", &["proxyProtocol", "retryBudget", "tunnel"]),
    ("UrlRewrite", &[]),
    ("VirtualServiceSpec", &[]),
    ("WorkloadEntrySpec", &[]),
    ("WorkloadSelector", &[]),
    (
        "WorkloadSpec",
        &[
            "strategy",
            "minReadySeconds",
            "revisionHistoryLimit",
            "paused",
            "progressDeadlineSeconds",
            "serviceName",
            "volumeClaimTemplates",
            "podManagementPolicy",
            "updateStrategy",
            "persistentVolumeClaimRetentionPolicy",
            "ordinals",
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "podFailurePolicy",
            "successPolicy",
            "backoffLimit",
            "backoffLimitPerIndex",
            "maxFailedIndexes",
            "manualSelector",
            "ttlSecondsAfterFinished",
            "completionMode",
            "suspend",
            "podReplacementPolicy",
            "managedBy",
        ],
    ),
];

/// The shape of a field kept as a free-form value (`serde_yaml::Value`), for the fields of it
/// that are checked all the same: an object with these fields, a list of such, or anything.
pub enum ValueShape {
    Any,
    Object(&'static [(&'static str, ValueShape)]),
    List(&'static ValueShape),
}

use ValueShape::{Any, List, Object};

const FROM_TO: ValueShape = Object(&[("from", Any), ("to", Any)]);

/// A DestinationRule's `loadBalancer` (Istio's `LoadBalancerSettings`).
pub const LOAD_BALANCER: ValueShape = Object(&[
    ("simple", Any),
    (
        "consistentHash",
        Object(&[
            ("httpHeaderName", Any),
            (
                "httpCookie",
                Object(&[
                    ("name", Any),
                    ("path", Any),
                    ("ttl", Any),
                    (
                        "attributes",
                        List(&Object(&[("name", Any), ("value", Any)])),
                    ),
                ]),
            ),
            ("useSourceIp", Any),
            ("httpQueryParameterName", Any),
            ("ringHash", Object(&[("minimumRingSize", Any)])),
            ("maglev", Object(&[("tableSize", Any)])),
            ("minimumRingSize", Any),
        ]),
    ),
    (
        "localityLbSetting",
        Object(&[
            ("distribute", List(&FROM_TO)),
            ("failover", List(&FROM_TO)),
            ("failoverPriority", Any),
            ("enabled", Any),
        ]),
    ),
    ("warmupDurationSecs", Any),
    (
        "warmup",
        Object(&[
            ("duration", Any),
            ("minimumPercent", Any),
            ("aggression", Any),
        ]),
    ),
    ("backendUtilization", Any),
    ("zoneAwareLbSetting", Any),
]);

/// A DestinationRule's `connectionPool` (`ConnectionPoolSettings`).
pub const CONNECTION_POOL: ValueShape = Object(&[
    (
        "tcp",
        Object(&[
            ("maxConnections", Any),
            ("connectTimeout", Any),
            (
                "tcpKeepalive",
                Object(&[("probes", Any), ("time", Any), ("interval", Any)]),
            ),
            ("maxConnectionDuration", Any),
            ("idleTimeout", Any),
        ]),
    ),
    (
        "http",
        Object(&[
            ("http1MaxPendingRequests", Any),
            ("http2MaxRequests", Any),
            ("maxRequestsPerConnection", Any),
            ("maxRetries", Any),
            ("idleTimeout", Any),
            ("h2UpgradePolicy", Any),
            ("useClientProtocol", Any),
            ("maxConcurrentStreams", Any),
            (
                "http2KeepAlive",
                Object(&[("interval", Any), ("timeout", Any)]),
            ),
        ]),
    ),
]);

/// A DestinationRule's `outlierDetection` (`OutlierDetection`).
pub const OUTLIER_DETECTION: ValueShape = Object(&[
    ("baseEjectionTime", Any),
    ("consecutive5xxErrors", Any),
    ("consecutiveErrors", Any),
    ("consecutiveGatewayErrors", Any),
    ("consecutiveLocalOriginFailures", Any),
    ("interval", Any),
    ("maxEjectionPercent", Any),
    ("minHealthPercent", Any),
    ("outlierDetectionHttpErrorCodes", Any),
    ("splitExternalLocalOriginErrors", Any),
]);

/// An item of a DestinationRule's `portLevelSettings` (`PortTrafficPolicy`).
pub const PORT_TRAFFIC_POLICY: ValueShape = Object(&[
    ("port", Object(&[("number", Any)])),
    ("loadBalancer", LOAD_BALANCER),
    ("connectionPool", CONNECTION_POOL),
    ("outlierDetection", OUTLIER_DETECTION),
    (
        "tls",
        Object(&[
            ("caCertificates", Any),
            ("caCrl", Any),
            ("clientCertificate", Any),
            ("credentialName", Any),
            ("insecureSkipVerify", Any),
            ("mode", Any),
            ("privateKey", Any),
            ("sni", Any),
            ("subjectAltNames", Any),
        ]),
    ),
]);

/// An item of an AuthorizationPolicy's `rules` (Istio's `Rule`).
pub const AUTHORIZATION_RULE: ValueShape = Object(&[
    (
        "from",
        List(&Object(&[(
            "source",
            Object(&[
                ("principals", Any),
                ("notPrincipals", Any),
                ("requestPrincipals", Any),
                ("notRequestPrincipals", Any),
                ("namespaces", Any),
                ("notNamespaces", Any),
                ("serviceAccounts", Any),
                ("notServiceAccounts", Any),
                ("ipBlocks", Any),
                ("notIpBlocks", Any),
                ("remoteIpBlocks", Any),
                ("notRemoteIpBlocks", Any),
                ("trustDomains", Any),
                ("notTrustDomains", Any),
            ]),
        )])),
    ),
    (
        "to",
        List(&Object(&[(
            "operation",
            Object(&[
                ("hosts", Any),
                ("notHosts", Any),
                ("ports", Any),
                ("notPorts", Any),
                ("methods", Any),
                ("notMethods", Any),
                ("paths", Any),
                ("notPaths", Any),
            ]),
        )])),
    ),
    (
        "when",
        List(&Object(&[
            ("key", Any),
            ("values", Any),
            ("notValues", Any),
        ])),
    ),
]);

/// An item of a Sidecar's `ingress` (Istio's `IstioIngressListener`).
pub const SIDECAR_INGRESS: ValueShape = Object(&[
    (
        "port",
        Object(&[
            ("number", Any),
            ("protocol", Any),
            ("name", Any),
            ("targetPort", Any),
        ]),
    ),
    ("bind", Any),
    ("captureMode", Any),
    ("defaultEndpoint", Any),
    ("tls", Any),
    ("connectionPool", CONNECTION_POOL),
]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::types::*;
    use serde::de::{self, Deserializer, Visitor};
    use serde::Deserialize;

    /// A deserializer that answers only what struct is asked for, with its fields.
    #[derive(Default)]
    struct Grab(Option<(&'static str, &'static [&'static str])>);

    impl<'de> Deserializer<'de> for &mut Grab {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = Some((name, fields));
            Err(de::Error::custom("grabbed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }

    fn grab<'de, T: Deserialize<'de>>() -> (&'static str, &'static [&'static str]) {
        let mut g = Grab::default();
        let _ = T::deserialize(&mut g);
        g.0.expect("a struct")
    }

    /// Every struct the table names, as serde names it, with the fields meshsim reads.
    fn checked_structs() -> Vec<(&'static str, &'static [&'static str])> {
        macro_rules! all {
            ($($t:ty),* $(,)?) => { vec![$(grab::<$t>()),*] };
        }
        all![
            ObjectMeta,
            OwnerReference,
            LabelSelector,
            LabelSelectorRequirement,
            ContainerPort,
            Container,
            PodSpec,
            PodTemplate,
            WorkloadSpec,
            ServicePort,
            ServiceSpec,
            VirtualServiceSpec,
            StringMatch,
            PortSelector,
            Destination,
            HeaderOperations,
            Headers,
            HttpRouteDestination,
            HttpBody,
            HttpDirectResponse,
            RegexRewrite,
            HttpRewrite,
            HttpMirrorPolicy,
            Percent,
            HttpFault,
            Delegate,
            RouteDestination,
            TcpRoute,
            TlsRoute,
            ServerPort,
            IstioGatewaySpec,
            Subset,
            WorkloadSelector,
            SidecarWorkloadSelector,
            DestinationRuleSpec,
            SePort,
            WorkloadEntrySpec,
            ServiceEntrySpec,
            IstioEgressListener,
            PolicyTargetReference,
            AuthorizationPolicySpec,
            PeerAuthenticationMtls,
            PeerAuthenticationSpec,
            HttpRoute,
            HttpMatchRequest,
            HttpRedirect,
            FaultAbort,
            FaultDelay,
            HttpRetry,
            L4Match,
            Server,
            ServerTls,
            ClientTls,
            TrafficPolicy,
            OutboundTrafficPolicy,
            SidecarPort,
            SidecarSpec,
            RouteNamespaces,
            RouteGroupKind,
            AllowedRoutes,
            Listener,
            GatewayAddress,
            ParentReference,
            HttpPathMatch,
            HttpValueMatch,
            HttpRouteMatch,
            HttpHeader,
            HeaderModifier,
            HttpPathModifier,
            RequestRedirect,
            UrlRewrite,
            BackendObjectReference,
            Fraction,
            RequestMirror,
            HttpBackendRef,
            HttpRouteTimeouts,
            GrpcMethodMatch,
            GrpcRouteMatch,
            ReferenceGrantFrom,
            ReferenceGrantTo,
            ReferenceGrantSpec,
            GatewayClassSpec,
            GatewayTlsConfig,
            GatewaySpec,
            HttpRouteFilter,
            HttpRouteRule,
            GrpcRouteRule,
            HttpRouteSpec,
            GrpcRouteSpec,
            RouteTargetReference,
            RoutePort,
            RouteTls,
            OpenShiftRouteSpec,
            SimulatedResponseSpec,
            ResponseRule,
        ]
    }

    #[test]
    fn the_table_is_sorted_and_names_each_struct_once() {
        for pair in API_FIELDS.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
    }

    /// The table's names are the names serde gives the structs (a renamed struct would
    /// silently stop being checked), and a field is either read or listed, not both.
    #[test]
    fn each_listed_struct_is_a_struct_of_types_and_lists_only_fields_it_does_not_read() {
        let structs = checked_structs();
        for (name, unread) in API_FIELDS {
            let Some((_, read)) = structs.iter().find(|(n, _)| n == name) else {
                panic!("{name} is listed but no struct of types has that name");
            };
            for f in *unread {
                assert!(!read.contains(f), "{name} reads {f} and also lists it");
            }
        }
        for (name, _) in &structs {
            assert!(api_fields(name).is_some(), "{name} is not in the table");
        }
    }
}
