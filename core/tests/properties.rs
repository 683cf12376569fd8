//! Invariants of the simulator, checked with generated inputs: every request ends in an
//! outcome within the hop limit; document order changes no answer; an unrelated resource
//! changes no answer.

use meshsim_core::{build_mesh, LoadOptions, ModelOptions, Request, SourceFile};
use proptest::prelude::*;

const BASE: &[&str] = &[
    include_str!("../../scenarios/istio-gateway-ingress/manifests/00-control-plane.yaml"),
    include_str!("../../scenarios/istio-gateway-ingress/manifests/10-gateway.yaml"),
    include_str!("../../scenarios/istio-gateway-ingress/manifests/20-httpbin.yaml"),
    include_str!("../../scenarios/istio-gateway-ingress/manifests/30-httpbin-gateway.yaml"),
    include_str!("../../scenarios/istio-gateway-ingress/manifests/40-curl.yaml"),
];

/// Every document of the built-in example, one string each.
fn documents() -> Vec<String> {
    BASE.iter()
        .flat_map(|f| f.split("\n---\n").map(str::to_string))
        .filter(|d| d.lines().any(|l| l.starts_with("kind:")))
        .collect()
}

fn answer(docs: &[String], req: &Request) -> String {
    let files: Vec<SourceFile> = docs
        .iter()
        .enumerate()
        .map(|(i, d)| SourceFile::new(format!("doc{i}.yaml"), d.as_bytes()))
        .collect();
    let (mesh, _) = build_mesh(&files, &LoadOptions::default(), &ModelOptions::default());
    match meshsim_core::sim::trace(&mesh, req) {
        Ok(t) => {
            // Positions name files, which differ between orders; compare everything else.
            let mut v = serde_json::to_value(&t).unwrap_or_default();
            strip_positions(&mut v);
            v.to_string()
        }
        Err(e) => format!("error: {e}"),
    }
}

fn strip_positions(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => {
            if let Some(i) = s.find("doc") {
                s.truncate(i);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_positions),
        serde_json::Value::Object(o) => o.values_mut().for_each(strip_positions),
        _ => {}
    }
}

fn request_strategy() -> impl Strategy<Value = Request> {
    let from = prop::sample::select(vec![
        "curl",
        "curl/curl",
        "httpbin",
        "external",
        "istio-ingress/istio-ingressgateway",
    ]);
    let host = prop::sample::select(vec![
        "httpbin.example.com",
        "httpbin.httpbin",
        "httpbin.httpbin.svc.cluster.local:8000",
        "istio-ingressgateway.istio-ingress.svc.cluster.local",
        "curl.curl:80",
        "docs.redhat.com",
        "10.0.0.1:9999",
        "nowhere.svc.cluster.local",
    ]);
    let path = prop::sample::select(vec![
        "/",
        "/headers",
        "/get",
        "/status/503",
        "/status/201?x=1",
    ]);
    let hosthdr = prop::option::of(prop::sample::select(vec![
        "httpbin.example.com",
        "other.example.com",
    ]));
    let method = prop::sample::select(vec!["GET", "POST", "HEAD"]);
    (from, host, path, hosthdr, method).prop_map(|(f, h, p, hh, m)| Request {
        from: f.to_string(),
        method: m.to_string(),
        url: format!("http://{h}{p}"),
        headers: hh
            .map(|v| vec![("Host".to_string(), v.to_string())])
            .unwrap_or_default(),
        connect_to: None,
        seed: None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn every_request_ends_in_an_outcome_within_the_hop_limit(req in request_strategy()) {
        let files = meshsim_core::examples::builtin_files();
        let (mesh, _) = build_mesh(&files, &LoadOptions::default(), &ModelOptions::default());
        if let Ok(t) = meshsim_core::sim::trace(&mesh, &req) {
            prop_assert!(t.hops.len() <= 16);
            prop_assert!(t.status == 0 || (100..600).contains(&t.status));
            // A request that failed at a proxy or never got an answer explains itself.
            if t.status == 0 || t.flags != "-" {
                prop_assert!(!t.explanation.is_empty() || t.hops.iter().any(|h| !h.decision.is_empty()), "{:?}", t);
            }
        }
    }

    #[test]
    fn document_order_changes_no_answer(req in request_strategy(), seed in any::<u64>()) {
        let docs = documents();
        let mut shuffled = docs.clone();
        // A deterministic shuffle from the seed (xorshift).
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(answer(&docs, &req), answer(&shuffled, &req));
    }

    #[test]
    fn an_unrelated_resource_changes_no_answer(req in request_strategy(), n in 0u32..50) {
        let docs = documents();
        let mut more = docs.clone();
        more.push(format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: unrelated-{n}\n"));
        more.push(format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other-{n}\n  namespace: unrelated-{n}\nspec:\n  selector:\n    matchLabels: {{app: other}}\n  template:\n    metadata:\n      labels: {{app: other}}\n    spec:\n      containers:\n      - name: app\n        image: x\n"));
        more.push(format!("apiVersion: v1\nkind: Service\nmetadata:\n  name: other-{n}\n  namespace: unrelated-{n}\nspec:\n  selector: {{app: other}}\n  ports:\n  - name: grpc\n    port: 9090\n"));
        prop_assert_eq!(answer(&docs, &req), answer(&more, &req));
    }
}
