//! Generates meshes of any size, and case files against them, for benchmarks and scale tests.
//! The output is a pure function of the size: the same size gives the same bytes.
//!
//! Per service: two Deployments (`v1`, `v2`), a Service, a DestinationRule with a subset per
//! version, and a VirtualService with header, prefix, exact and regex matches bound both to the
//! mesh and to the shared ingress Gateway. Ten services share a namespace; there is one
//! ServiceEntry for every ten services. The platform file holds the control plane, the ingress
//! gateway (Deployment, LoadBalancer Service, Istio Gateway for `*.example.com`) and a `curl`
//! client.

use meshsim_core::SourceFile;
use std::fmt::Write;

/// Services per namespace.
pub const SERVICES_PER_NAMESPACE: usize = 10;
/// One ServiceEntry for this many services.
pub const SERVICES_PER_SERVICE_ENTRY: usize = 10;

/// A generated mesh: manifest files (path relative to the mesh's folder, text).
pub struct GeneratedMesh {
    pub services: usize,
    pub files: Vec<(String, String)>,
}

impl GeneratedMesh {
    pub fn bytes(&self) -> usize {
        self.files.iter().map(|(_, t)| t.len()).sum()
    }

    pub fn documents(&self) -> usize {
        self.files
            .iter()
            .map(|(_, t)| 1 + t.lines().filter(|l| *l == "---").count())
            .sum()
    }

    /// The files as the core reads them, named as `meshsim -f <dir>` would name them.
    pub fn source_files(&self, dir: &str) -> Vec<SourceFile> {
        self.files
            .iter()
            .map(|(p, t)| SourceFile::new(format!("{dir}/{p}"), t.as_bytes()))
            .collect()
    }
}

fn width(n: usize) -> usize {
    n.max(1).to_string().len()
}

fn service_name(i: usize, services: usize) -> String {
    format!("svc-{i:0w$}", w = width(services))
}

fn namespace_of(i: usize, services: usize) -> String {
    let namespaces = services.div_ceil(SERVICES_PER_NAMESPACE);
    format!(
        "ns-{:0w$}",
        i / SERVICES_PER_NAMESPACE,
        w = width(namespaces)
    )
}

fn entry_host(k: usize, services: usize) -> String {
    let entries = services.div_ceil(SERVICES_PER_SERVICE_ENTRY);
    format!("ext-{k:0w$}.partner.example.net", w = width(entries))
}

/// The manifests of a mesh of `services` services.
pub fn generate(services: usize) -> GeneratedMesh {
    let mut files = vec![("00-platform.yaml".to_string(), platform())];
    let namespaces = services.div_ceil(SERVICES_PER_NAMESPACE);
    for n in 0..namespaces {
        let first = n * SERVICES_PER_NAMESPACE;
        let last = (first + SERVICES_PER_NAMESPACE).min(services);
        let ns = namespace_of(first, services);
        let mut text = format!(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels:\n    istio-injection: enabled\n"
        );
        for i in first..last {
            service_documents(&mut text, &service_name(i, services), &ns);
        }
        files.push((format!("{ns}.yaml"), text));
    }
    let mut entries = String::new();
    for k in 0..services.div_ceil(SERVICES_PER_SERVICE_ENTRY) {
        if k > 0 {
            entries.push_str("---\n");
        }
        service_entry(
            &mut entries,
            k,
            &entry_host(k, services),
            &namespace_of(k * SERVICES_PER_SERVICE_ENTRY, services),
        );
    }
    files.push(("zz-service-entries.yaml".to_string(), entries));
    GeneratedMesh { services, files }
}

fn platform() -> String {
    r#"# The control plane (Sail's Istio resource) with access logging on.
apiVersion: sailoperator.io/v1
kind: Istio
metadata:
  name: default
spec:
  namespace: istio-system
  updateStrategy:
    type: InPlace
  values:
    meshConfig:
      accessLogFile: /dev/stdout
---
apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: v1
kind: Namespace
metadata:
  name: istio-ingress
---
# The ingress gateway, by gateway injection.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: istio-ingressgateway
  namespace: istio-ingress
spec:
  selector:
    matchLabels:
      istio: ingressgateway
  template:
    metadata:
      annotations:
        inject.istio.io/templates: gateway
      labels:
        istio: ingressgateway
        sidecar.istio.io/inject: "true"
    spec:
      containers:
      - name: istio-proxy
        image: auto
---
apiVersion: v1
kind: Service
metadata:
  name: istio-ingressgateway
  namespace: istio-ingress
spec:
  type: LoadBalancer
  selector:
    istio: ingressgateway
  ports:
  - name: status-port
    port: 15021
    targetPort: 15021
  - name: http2
    port: 80
    targetPort: 80
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: public
  namespace: istio-ingress
spec:
  selector:
    istio: ingressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - "*.example.com"
---
apiVersion: v1
kind: Namespace
metadata:
  name: client
  labels:
    istio-injection: enabled
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: curl
  namespace: client
spec:
  selector:
    matchLabels:
      app: curl
  template:
    metadata:
      labels:
        app: curl
    spec:
      containers:
      - name: curl
        image: docker.io/curlimages/curl:8.16.0
        command: ["/bin/sleep", "infinity"]
"#
    .to_string()
}

fn service_documents(out: &mut String, name: &str, ns: &str) {
    for version in ["v1", "v2"] {
        let _ = write!(
            out,
            r#"---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}-{version}
  namespace: {ns}
  labels:
    app: {name}
    version: {version}
spec:
  replicas: 1
  selector:
    matchLabels:
      app: {name}
      version: {version}
  template:
    metadata:
      labels:
        app: {name}
        version: {version}
    spec:
      serviceAccountName: {name}
      containers:
      - name: app
        image: registry.example.com/{name}:{version}
        ports:
        - name: http
          containerPort: 8080
"#
        );
    }
    let _ = write!(
        out,
        r#"---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
  labels:
    app: {name}
spec:
  selector:
    app: {name}
  ports:
  - name: http
    port: 80
    targetPort: http
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: {name}
  namespace: {ns}
spec:
  host: {name}
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {name}
  namespace: {ns}
spec:
  hosts:
  - {name}
  - {name}.example.com
  gateways:
  - mesh
  - istio-ingress/public
  http:
  - name: canary
    match:
    - headers:
        x-canary:
          exact: "true"
    route:
    - destination:
        host: {name}
        subset: v2
  - name: api
    match:
    - uri:
        prefix: /api/
    route:
    - destination:
        host: {name}
        subset: v1
  - name: health
    match:
    - uri:
        exact: /health
    route:
    - destination:
        host: {name}
        subset: v1
  - name: items
    match:
    - uri:
        regex: /items/[0-9]+
    route:
    - destination:
        host: {name}
        subset: v2
  - name: default
    route:
    - destination:
        host: {name}
        subset: v1
"#
    );
}

fn service_entry(out: &mut String, k: usize, host: &str, ns: &str) {
    let _ = write!(
        out,
        r#"apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: partner-{k}
  namespace: {ns}
spec:
  hosts:
  - {host}
  location: MESH_EXTERNAL
  resolution: DNS
  ports:
  - number: 80
    name: http
    protocol: HTTP
  - number: 443
    name: tls
    protocol: TLS
"#
    );
}

/// One request of a generated case file, with what must come of it.
#[derive(Debug, Clone)]
pub struct GeneratedCase {
    pub name: String,
    pub from: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub cluster: String,
    pub hops: &'static [&'static str],
}

impl GeneratedCase {
    pub fn request(&self) -> meshsim_core::Request {
        meshsim_core::Request {
            from: self.from.clone(),
            url: self.url.clone(),
            headers: self.headers.clone(),
            ..Default::default()
        }
    }
}

/// `count` requests spread over the mesh's services, cycling through six shapes: each match of
/// the VirtualService from the `curl` client and from another service's pod, ingress through
/// the gateway from outside, and a ServiceEntry host.
pub fn cases(services: usize, count: usize) -> Vec<GeneratedCase> {
    let mut out = Vec::with_capacity(count);
    let entries = services.div_ceil(SERVICES_PER_SERVICE_ENTRY);
    for i in 0..count {
        // A stride coprime with most sizes spreads consecutive cases over the mesh.
        let s = (i.wrapping_mul(7919)) % services.max(1);
        let name = service_name(s, services);
        let ns = namespace_of(s, services);
        let host = format!("{name}.{ns}.svc.cluster.local");
        let cluster = |subset: &str| format!("outbound|80|{subset}|{host}");
        let sidecar_hops: &'static [&'static str] = &["sidecar", "sidecar"];
        let case = match i % 6 {
            0 => GeneratedCase {
                name: format!("{i}: curl -> {name} /api/ (prefix) -> v1"),
                from: "client/curl".into(),
                url: format!("http://{host}/api/users"),
                headers: vec![],
                status: 200,
                cluster: cluster("v1"),
                hops: sidecar_hops,
            },
            1 => GeneratedCase {
                name: format!("{i}: curl -> {name} with x-canary (header) -> v2"),
                from: "client/curl".into(),
                url: format!("http://{name}.{ns}/api/users"),
                headers: vec![("x-canary".into(), "true".into())],
                status: 200,
                cluster: cluster("v2"),
                hops: sidecar_hops,
            },
            2 => GeneratedCase {
                name: format!("{i}: curl -> {name} /items/42 (regex) -> v2"),
                from: "client/curl".into(),
                url: format!("http://{host}/items/42"),
                headers: vec![],
                status: 200,
                cluster: cluster("v2"),
                hops: sidecar_hops,
            },
            3 => {
                // From the neighbour in the same namespace, by its short name.
                let peer = service_name(
                    (s / SERVICES_PER_NAMESPACE) * SERVICES_PER_NAMESPACE
                        + (s + 1) % SERVICES_PER_NAMESPACE,
                    services,
                );
                let peer = if (s / SERVICES_PER_NAMESPACE) * SERVICES_PER_NAMESPACE
                    + (s + 1) % SERVICES_PER_NAMESPACE
                    >= services
                {
                    name.clone()
                } else {
                    peer
                };
                GeneratedCase {
                    name: format!("{i}: {peer}-v1 -> {name}/health (exact) -> v1"),
                    from: format!("{ns}/{peer}-v1"),
                    url: format!("http://{name}/health"),
                    headers: vec![],
                    status: 200,
                    cluster: cluster("v1"),
                    hops: sidecar_hops,
                }
            }
            4 => GeneratedCase {
                name: format!(
                    "{i}: external -> {name}.example.com through the ingress gateway -> v1"
                ),
                from: "external".into(),
                url: format!("http://{name}.example.com/api/orders"),
                headers: vec![],
                status: 200,
                cluster: cluster("v1"),
                hops: &["gateway", "sidecar"],
            },
            _ => {
                let e = entry_host(s % entries.max(1), services);
                GeneratedCase {
                    name: format!("{i}: curl -> ServiceEntry {e}"),
                    from: "client/curl".into(),
                    url: format!("http://{e}/status/200"),
                    headers: vec![],
                    status: 200,
                    cluster: format!("outbound|80||{e}"),
                    hops: &["sidecar"],
                }
            }
        };
        out.push(case);
    }
    out
}

/// A case file (`docs/cases.md`) holding `cases`, whose manifests are in `manifests/` beside it.
pub fn case_file(cases: &[GeneratedCase]) -> String {
    let mut out = String::from("# Generated by meshsim-gen.\nmanifests:\n- manifests/\ncases:\n");
    for c in cases {
        let _ = writeln!(out, "- name: {:?}", c.name);
        let _ = writeln!(out, "  from: {}", c.from);
        let _ = writeln!(out, "  request:\n    url: {}", c.url);
        if !c.headers.is_empty() {
            let h: Vec<String> = c
                .headers
                .iter()
                .map(|(k, v)| format!("{k}: {v:?}"))
                .collect();
            let _ = writeln!(out, "    headers: {{{}}}", h.join(", "));
        }
        let _ = writeln!(
            out,
            "  expect:\n    status: {}\n    cluster: {:?}\n    hops: [{}]",
            c.status,
            c.cluster,
            c.hops.join(", ")
        );
    }
    out
}
