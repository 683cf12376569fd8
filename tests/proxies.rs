//! `meshsim get workloads` shows the right proxy for every workload of each procedure of the
//! seed documents (the labs in `scenarios/`), as Istio's injector, Sail and the Gateway API
//! deployment controller decide it.

use meshsim_core::model::ProxyKind;
use meshsim_core::{build_mesh, LoadOptions, ModelOptions};
use std::path::Path;

fn proxies(paths: &[&str]) -> Vec<(String, ProxyKind)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let paths: Vec<String> = paths
        .iter()
        .map(|p| root.join(p).display().to_string())
        .collect();
    let files = meshsim_cli::inputs::read_paths(&paths).expect("lab manifests readable");
    let (mesh, diags) = build_mesh(&files, &LoadOptions::default(), &ModelOptions::default());
    assert!(diags.iter().all(|d| !d.is_error()), "{diags:#?}");
    mesh.workloads
        .iter()
        .map(|w| (w.display(), w.proxy))
        .collect()
}

fn assert_proxies(paths: &[&str], expected: &[(&str, ProxyKind)]) {
    let got = proxies(paths);
    for (name, kind) in expected {
        let found = got.iter().find(|(n, _)| n == name);
        assert_eq!(found.map(|(_, k)| *k), Some(*kind), "{name} in {got:?}");
    }
}

#[test]
fn gateway_injection_and_istio_gateway_ingress() {
    assert_proxies(
        &["scenarios/istio-gateway-ingress/manifests"],
        &[
            ("istio-ingress/istio-ingressgateway", ProxyKind::Gateway),
            ("httpbin/httpbin", ProxyKind::Sidecar),
            ("curl/curl", ProxyKind::Sidecar),
        ],
    );
}

#[test]
fn egress_gateway_with_istio_apis() {
    assert_proxies(
        &[
            "scenarios/istio-gateway-ingress/manifests/00-control-plane.yaml",
            "scenarios/istio-gateway-ingress/manifests/40-curl.yaml",
            "scenarios/egress-istio-api/manifests",
            "scenarios/egress-istio-api/after",
        ],
        &[
            ("istio-egress/istio-egressgateway", ProxyKind::Gateway),
            ("curl/curl", ProxyKind::Sidecar),
        ],
    );
}

#[test]
fn ambient_egress_through_a_waypoint() {
    assert_proxies(
        &[
            "scenarios/egress-ambient-waypoint/manifests",
            "scenarios/egress-ambient-waypoint/after",
        ],
        &[
            ("egress-gateway/test-pod", ProxyKind::Ambient),
            ("egress-gateway/waypoint", ProxyKind::Waypoint),
        ],
    );
}

#[test]
fn mixed_ambient_and_sidecar_namespaces() {
    assert_proxies(
        &["scenarios/ambient-mesh/manifests"],
        &[
            ("ambient/httpbin", ProxyKind::Ambient),
            ("sidecar/httpbin", ProxyKind::Sidecar),
            ("plain/curl", ProxyKind::None),
        ],
    );
}

#[test]
fn gateway_api_ingress_deploys_the_gateway_proxy() {
    let got = proxies(&[
        "scenarios/istio-gateway-ingress/manifests/00-control-plane.yaml",
        "scenarios/istio-gateway-ingress/manifests/20-httpbin.yaml",
        "scenarios/istio-gateway-ingress/manifests/40-curl.yaml",
        "scenarios/gateway-api-ingress/manifests",
    ]);
    let gw = got
        .iter()
        .find(|(n, _)| n.ends_with("-istio"))
        .expect("a <gateway>-istio workload");
    assert_eq!(gw.1, ProxyKind::Gateway, "{got:?}");
    assert!(
        got.iter()
            .any(|(n, k)| n == "httpbin/httpbin" && *k == ProxyKind::Sidecar),
        "{got:?}"
    );
}

#[test]
fn gateway_api_egress_deploys_a_gateway_and_injects_the_test_pod() {
    assert_proxies(
        &[
            "scenarios/istio-gateway-ingress/manifests/00-control-plane.yaml",
            "scenarios/egress-gateway-api/manifests",
            "scenarios/egress-gateway-api/after",
        ],
        &[
            (
                "egress-gateway/httpbin-egress-gateway-istio",
                ProxyKind::Gateway,
            ),
            ("egress-gateway/test-pod", ProxyKind::Sidecar),
        ],
    );
}
