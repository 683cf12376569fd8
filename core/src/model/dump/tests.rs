//! Grouping of a cluster dump's Pods and controllers, and the proxy its pods really run.

use crate::diag;
use crate::model::{Mesh, ModelOptions, ProxyKind};
use crate::parse::{load, LoadOptions, SourceFile};

fn mesh(text: &str) -> Mesh {
    let loaded = load(
        &[SourceFile::new("dump.yaml", text.as_bytes())],
        &LoadOptions::default(),
    );
    assert!(!loaded.has_errors(), "{:#?}", loaded.diagnostics);
    Mesh::build(loaded, &ModelOptions::default())
}

const CONTROL_PLANE: &str = "apiVersion: sailoperator.io/v1
kind: Istio
metadata: {name: default}
spec: {namespace: istio-system}
---
";

fn pod(name: &str, ns: &str, owner: &str, extra_meta: &str, spec: &str, status: &str) -> String {
    format!(
        "---
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: {ns}
  uid: uid-{name}
  creationTimestamp: \"2026-01-05T10:00:00Z\"
{owner}{extra_meta}spec:
{spec}status:
{status}"
    )
}

fn owner(kind: &str, name: &str) -> String {
    format!(
        "  ownerReferences:\n  - apiVersion: apps/v1\n    kind: {kind}\n    name: {name}\n    uid: u\n    controller: true\n"
    )
}

const APP_SPEC: &str =
    "  containers:\n  - name: web\n    image: web\n    ports: [{containerPort: 8080}]\n";
const NODE_SPEC: &str = "  nodeName: worker-1\n  containers:\n  - name: web\n    image: web\n";

fn running(ip: &str) -> String {
    format!(
        "  phase: Running\n  podIP: {ip}\n  conditions:\n  - {{type: Ready, status: \"True\"}}\n"
    )
}

fn names(m: &Mesh) -> Vec<String> {
    m.workloads.iter().map(|w| w.display()).collect()
}

fn codes(m: &Mesh, code: &str) -> usize {
    m.diagnostics.iter().filter(|d| d.code == code).count()
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, uid: d1, creationTimestamp: \"2026-01-01T00:00:00Z\"}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: web}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-5d8f9c7b6
  namespace: shop
  annotations: {deployment.kubernetes.io/revision: \"2\"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
spec:
  replicas: 2
  template:
    metadata: {labels: {app: web, pod-template-hash: 5d8f9c7b6}}
    spec:
      containers: [{name: web, image: web}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web-6b7c8d9f4
  namespace: shop
  annotations: {deployment.kubernetes.io/revision: \"1\"}
  ownerReferences: [{apiVersion: apps/v1, kind: Deployment, name: web, uid: d1, controller: true}]
spec:
  replicas: 0
  template:
    metadata: {labels: {app: web, pod-template-hash: 6b7c8d9f4}}
    spec:
      containers: [{name: web, image: web}]
";

#[test]
fn a_deployment_its_replicasets_and_pods_are_one_workload() {
    let labels = "  labels: {app: web, pod-template-hash: 5d8f9c7b6}\n";
    let text = format!(
        "{DEPLOYMENT}{}{}",
        pod(
            "web-5d8f9c7b6-abcde",
            "shop",
            &owner("ReplicaSet", "web-5d8f9c7b6"),
            labels,
            APP_SPEC,
            &running("10.244.1.7")
        ),
        pod(
            "web-5d8f9c7b6-fghjk",
            "shop",
            &owner("ReplicaSet", "web-5d8f9c7b6"),
            labels,
            APP_SPEC,
            &running("10.244.2.9")
        ),
    );
    let m = mesh(&text);
    assert_eq!(names(&m), vec!["shop/web"]);
    let w = &m.workloads[0];
    assert_eq!(w.kind, "Deployment");
    let pods: Vec<(String, String)> = w
        .pods
        .iter()
        .map(|p| (p.name.to_string(), p.ip.to_string()))
        .collect();
    assert_eq!(
        pods,
        vec![
            ("web-5d8f9c7b6-abcde".to_string(), "10.244.1.7".to_string()),
            ("web-5d8f9c7b6-fghjk".to_string(), "10.244.2.9".to_string()),
        ]
    );
}

#[test]
fn old_replicasets_without_pods_add_nothing_and_templates_stand_in_without_pods() {
    // No pods in the input: the Deployment's template stands for its two replicas; the old
    // ReplicaSet (replicas 0) and the current one add no workload of their own.
    let m = mesh(DEPLOYMENT);
    assert_eq!(names(&m), vec!["shop/web"]);
    assert_eq!(m.workloads[0].pods.len(), 2);
}

#[test]
fn pods_whose_controllers_are_missing_group_under_the_deployment_name() {
    let labels = "  labels: {app: web, pod-template-hash: 5d8f9c7b6}\n";
    let text = [
        pod(
            "web-5d8f9c7b6-abcde",
            "shop",
            &owner("ReplicaSet", "web-5d8f9c7b6"),
            labels,
            APP_SPEC,
            &running("10.244.1.7"),
        ),
        pod(
            "web-5d8f9c7b6-fghjk",
            "shop",
            &owner("ReplicaSet", "web-5d8f9c7b6"),
            labels,
            APP_SPEC,
            &running("10.244.2.9"),
        ),
    ]
    .concat();
    let m = mesh(&text);
    assert_eq!(names(&m), vec!["shop/web"]);
    assert_eq!(m.workloads[0].kind, "Deployment");
    assert_eq!(m.workloads[0].pods.len(), 2);
}

#[test]
fn a_finished_job_pod_serves_nothing() {
    let text = format!(
        "apiVersion: batch/v1
kind: Job
metadata: {{name: migrate, namespace: shop, uid: j1}}
spec:
  template:
    metadata: {{labels: {{app: migrate}}}}
    spec:
      containers: [{{name: m, image: m}}]
---
apiVersion: v1
kind: Service
metadata: {{name: migrate, namespace: shop}}
spec:
  selector: {{app: migrate}}
  ports: [{{port: 80}}]
{}",
        pod(
            "migrate-x7k2p",
            "shop",
            &owner("Job", "migrate").replace("apps/v1", "batch/v1"),
            "  labels: {app: migrate}\n",
            APP_SPEC,
            "  phase: Succeeded\n  podIP: 10.244.1.30\n"
        )
    );
    let m = mesh(&text);
    assert_eq!(names(&m), vec!["shop/migrate"]);
    assert!(m.workloads[0].pods.is_empty());
    let svc = m
        .service("migrate.shop.svc.cluster.local")
        .expect("service");
    assert!(m.endpoints(svc, &Default::default()).is_empty());
}

#[test]
fn static_pods_and_daemonset_pods() {
    let node_owner = "  ownerReferences:\n  - {apiVersion: v1, kind: Node, name: cp-1, uid: n1, controller: true}\n";
    let text = format!(
        "apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent, namespace: ops, uid: ds1}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:
      containers: [{{name: a, image: a}}]
{}{}{}",
        pod(
            "kube-apiserver-cp-1",
            "kube-system",
            node_owner,
            "",
            NODE_SPEC,
            &running("192.168.1.10")
        ),
        pod(
            "agent-2xk9p",
            "ops",
            &owner("DaemonSet", "agent"),
            "  labels: {app: agent}\n",
            NODE_SPEC,
            &running("10.244.1.2")
        ),
        pod(
            "agent-7qz4m",
            "ops",
            &owner("DaemonSet", "agent"),
            "  labels: {app: agent}\n",
            &NODE_SPEC.replace("worker-1", "worker-2"),
            &running("10.244.2.2")
        ),
    );
    let m = mesh(&text);
    assert_eq!(
        names(&m),
        vec!["kube-system/kube-apiserver-cp-1", "ops/agent"]
    );
    assert_eq!(m.workloads[0].kind, "Pod");
    let agent = &m.workloads[1];
    assert_eq!(agent.kind, "DaemonSet");
    let nodes: Vec<Option<&str>> = agent.pods.iter().map(|p| p.node.as_deref()).collect();
    assert_eq!(nodes, vec![Some("worker-1"), Some("worker-2")]);
}

const INJECTED_NS: &str = "apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {istio-injection: enabled}}
";

#[test]
fn a_native_sidecar_is_read_from_the_pod() {
    let spec = "  containers:
  - {name: web, image: web}
  initContainers:
  - {name: istio-validation, image: proxyv2}
  - name: istio-proxy
    image: proxyv2
    restartPolicy: Always
    args: [proxy, sidecar, --domain, $(POD_NAMESPACE).svc.cluster.local]
";
    let meta = "  annotations:\n    istio.io/rev: default\n    sidecar.istio.io/status: '{\"initContainers\":[\"istio-validation\",\"istio-proxy\"],\"containers\":null,\"revision\":\"default\"}'\n";
    let text = format!(
        "{CONTROL_PLANE}{INJECTED_NS}{}",
        pod("web", "shop", "", meta, spec, &running("10.244.1.7"))
    );
    let m = mesh(&text);
    let w = &m.workloads[0];
    assert_eq!(w.proxy, ProxyKind::Sidecar);
    assert!(
        w.proxy_reason.contains("native sidecar"),
        "{}",
        w.proxy_reason
    );
    assert_eq!(w.revision.as_deref(), Some("default"));
    assert_eq!(codes(&m, diag::INJECTION_DISAGREES), 0);
}

#[test]
fn a_pod_created_before_its_namespace_was_labelled_has_no_sidecar_and_is_reported() {
    let text = format!(
        "{CONTROL_PLANE}{INJECTED_NS}{}",
        pod("web", "shop", "", "", APP_SPEC, &running("10.244.1.7"))
    );
    let m = mesh(&text);
    assert_eq!(m.workloads[0].proxy, ProxyKind::None);
    let d: Vec<_> = m
        .diagnostics
        .iter()
        .filter(|d| d.code == diag::INJECTION_DISAGREES)
        .collect();
    assert_eq!(d.len(), 1, "{:#?}", m.diagnostics);
    assert!(d[0].message.contains("runs no proxy"), "{}", d[0]);
    assert!(d[0].message.contains("a sidecar"), "{}", d[0]);
    assert!(d[0]
        .hint
        .as_deref()
        .unwrap_or("")
        .contains("rollout restart"));
}

#[test]
fn a_host_network_pod_is_never_injected_and_not_reported() {
    let spec = format!("  hostNetwork: true\n{APP_SPEC}");
    let text = format!(
        "{CONTROL_PLANE}{INJECTED_NS}{}",
        pod("agent", "shop", "", "", &spec, &running("10.0.0.5"))
    );
    let m = mesh(&text);
    assert_eq!(m.workloads[0].proxy, ProxyKind::None);
    assert_eq!(codes(&m, diag::INJECTION_DISAGREES), 0);
}

#[test]
fn a_manifest_pod_is_still_decided_by_its_labels() {
    // No uid, creationTimestamp or status: not admitted yet, so the injector will run.
    let text = format!(
        "{CONTROL_PLANE}{INJECTED_NS}---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: shop}}
spec:
{APP_SPEC}"
    );
    let m = mesh(&text);
    assert_eq!(m.workloads[0].proxy, ProxyKind::Sidecar);
    assert_eq!(codes(&m, diag::INJECTION_DISAGREES), 0);
}

#[test]
fn ambient_redirection_is_read_from_the_pod() {
    let text = format!(
        "{}apiVersion: v1
kind: Namespace
metadata: {{name: shop, labels: {{istio.io/dataplane-mode: ambient}}}}
{}",
        // Ambient needs the ambient profile and a ZTunnel, as the seed's prerequisites say.
        CONTROL_PLANE.replace(
            "namespace: istio-system",
            "namespace: istio-system, profile: ambient"
        ) + "apiVersion: sailoperator.io/v1alpha1\nkind: ZTunnel\nmetadata: {name: default}\nspec: {namespace: ztunnel}\n---\n",
        pod(
            "web",
            "shop",
            "",
            "  annotations: {ambient.istio.io/redirection: enabled}\n",
            APP_SPEC,
            &running("10.244.1.7")
        ),
    );
    let m = mesh(&text);
    assert_eq!(m.workloads[0].proxy, ProxyKind::Ambient);
    assert_eq!(codes(&m, diag::INJECTION_DISAGREES), 0);
}

#[test]
fn a_gateway_deployed_by_istio_is_kept_once_with_its_proxy() {
    let text = format!(
        "{CONTROL_PLANE}apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: gw, namespace: infra, uid: g1}}
spec:
  gatewayClassName: istio
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
status:
  addresses: [{{type: IPAddress, value: 192.0.2.50}}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: gw-istio
  namespace: infra
  uid: d1
  ownerReferences: [{{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, name: gw, uid: g1}}]
spec:
  selector: {{matchLabels: {{gateway.networking.k8s.io/gateway-name: gw}}}}
  template:
    metadata:
      labels: {{gateway.networking.k8s.io/gateway-name: gw, sidecar.istio.io/inject: \"false\"}}
    spec:
      containers:
      - {{name: istio-proxy, image: proxyv2, args: [proxy, router, --domain, x]}}
---
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: gw-istio-7f9d8c6b5
  namespace: infra
  ownerReferences: [{{apiVersion: apps/v1, kind: Deployment, name: gw-istio, uid: d1, controller: true}}]
spec:
  template:
    metadata:
      labels: {{gateway.networking.k8s.io/gateway-name: gw, pod-template-hash: 7f9d8c6b5}}
    spec:
      containers:
      - {{name: istio-proxy, image: proxyv2, args: [proxy, router]}}
---
apiVersion: v1
kind: Service
metadata: {{name: gw-istio, namespace: infra}}
spec:
  type: LoadBalancer
  clusterIP: 10.96.0.40
  selector: {{gateway.networking.k8s.io/gateway-name: gw}}
  ports: [{{name: http, port: 80}}]
{}",
        pod(
            "gw-istio-7f9d8c6b5-q2w4e",
            "infra",
            &owner("ReplicaSet", "gw-istio-7f9d8c6b5"),
            "  labels: {gateway.networking.k8s.io/gateway-name: gw, sidecar.istio.io/inject: \"false\", pod-template-hash: 7f9d8c6b5}\n",
            "  containers:\n  - {name: istio-proxy, image: proxyv2, args: [proxy, router]}\n",
            &running("10.244.3.3")
        )
    );
    let m = mesh(&text);
    assert_eq!(names(&m), vec!["infra/gw-istio"]);
    let w = &m.workloads[0];
    assert_eq!(w.proxy, ProxyKind::Gateway);
    assert_eq!(w.generated_by.as_deref(), Some("Gateway infra/gw"));
    assert_eq!(codes(&m, diag::INJECTION_DISAGREES), 0);
    assert_eq!(m.services.len(), 1);
    // The Gateway's status address reaches the Service Istio deployed.
    let ip: std::net::Ipv4Addr = "192.0.2.50".parse().expect("ip");
    assert_eq!(m.service_by_external_ip.get(&ip), Some(&0));
}

#[test]
fn endpoint_slices_are_the_truth_for_endpoints() {
    let slice = |name: &str, eps: &str| {
        format!(
            "---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}
  namespace: shop
  labels: {{kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{{name: http, port: 8080, protocol: TCP}}]
endpoints:
{eps}"
        )
    };
    let base = format!(
        "apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  clusterIP: 10.96.5.5
  selector: {{app: web}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
{}{}",
        pod(
            "web-a",
            "shop",
            "",
            "  labels: {app: web}\n",
            APP_SPEC,
            &running("10.244.1.7")
        ),
        pod(
            "web-b",
            "shop",
            "",
            "  labels: {app: web}\n",
            APP_SPEC,
            "  phase: Running\n  podIP: 10.244.1.8\n  conditions:\n  - {type: Ready, status: \"False\"}\n"
        ),
    );
    let ep = |ip: &str, pod: &str, ready: bool| {
        format!("- addresses: [{ip}]\n  conditions: {{ready: {ready}}}\n  targetRef: {{kind: Pod, name: {pod}, namespace: shop}}\n")
    };
    // One ready, one not: only the ready pod is an endpoint.
    let m = mesh(&format!(
        "{base}{}",
        slice(
            "web-x1",
            &[
                ep("10.244.1.7", "web-a", true),
                ep("10.244.1.8", "web-b", false)
            ]
            .concat()
        )
    ));
    let svc = m.service("web.shop.svc.cluster.local").expect("service");
    let eps: Vec<String> = m
        .endpoints(svc, &Default::default())
        .iter()
        .map(|&(wi, pi)| m.workloads[wi].pods[pi].name.to_string())
        .collect();
    assert_eq!(eps, vec!["web-a"]);
    // The only endpoint not ready: none, although the selector matches a ready pod.
    let m = mesh(&format!(
        "{base}{}",
        slice("web-x1", &ep("10.244.1.7", "web-a", false))
    ));
    let svc = m.service("web.shop.svc.cluster.local").expect("service");
    assert!(m.endpoints(svc, &Default::default()).is_empty());
}

#[test]
fn namespaces_carry_the_name_label_the_api_server_adds() {
    let m = mesh(
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, uid: n1, labels: {team: a}}\n",
    );
    let labels = m.namespace_labels("shop").expect("namespace");
    let sel = crate::parse::types::LabelSelector {
        match_labels: [(
            "kubernetes.io/metadata.name".to_string(),
            "shop".to_string(),
        )]
        .into_iter()
        .collect(),
        match_expressions: vec![],
    };
    assert!(sel.matches(labels));
}

#[test]
fn the_oldest_virtual_service_comes_first_whatever_the_names() {
    let vs = |name: &str, ts: &str| {
        format!(
            "---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {name}
  namespace: shop
  resourceVersion: \"123\"
  generation: 1
  creationTimestamp: \"{ts}\"
  managedFields: [{{manager: kubectl, operation: Update}}]
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{{\"kind\":\"VirtualService\"}}'
spec:
  hosts: [web]
  http: [{{route: [{{destination: {{host: web}}}}]}}]
"
        )
    };
    let m = mesh(&format!(
        "{}{}",
        vs("a-newer", "2026-03-01T00:00:00Z"),
        vs("z-older", "2025-12-31T23:59:59Z")
    ));
    let order: Vec<&str> = m.virtual_services.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(order, vec!["z-older", "a-newer"]);
}

#[test]
fn the_mesh_config_is_read_from_the_istio_config_map_of_a_dump() {
    let m = mesh(
        "apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata:
    name: istio
    namespace: istio-system
    uid: c1
    resourceVersion: \"77\"
    creationTimestamp: \"2026-01-05T09:00:00Z\"
    labels: {istio.io/rev: default}
  data:
    mesh: |-
      accessLogFile: /dev/stdout
      defaultConfig:
        discoveryAddress: istiod.istio-system.svc:15012
      outboundTrafficPolicy:
        mode: REGISTRY_ONLY
    meshNetworks: 'networks: {}'
",
    );
    assert!(m.settings.access_log);
    assert_eq!(
        m.settings.outbound_policy,
        crate::model::OutboundPolicy::RegistryOnly
    );
    assert!(m.control_plane.revisions.contains("default"));
}
