//! The loader's error cases: each asserts the file and line named in the message.

use super::*;
use crate::diag;

fn load_one(text: &str) -> Loaded {
    load(
        &[SourceFile::new("m.yaml", text.as_bytes())],
        &LoadOptions::default(),
    )
}

fn only_error(l: &Loaded) -> &Diagnostic {
    let errs: Vec<&Diagnostic> = l.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(
        errs.len(),
        1,
        "expected one error, got {:#?}",
        l.diagnostics
    );
    errs[0]
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let l = load_one("apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b\n");
    let e = only_error(&l);
    assert_eq!(e.code, diag::YAML_SYNTAX);
    assert_eq!(e.file, "m.yaml");
    assert!(e.line >= 8, "{e}");
    assert!(e.hint.is_some());
    // The good document before it is kept.
    assert_eq!(l.resources.len(), 1);
}

#[test]
fn wrong_type_names_the_line_of_the_field() {
    let l = load_one("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - name: http\n    port: eighty\n");
    let e = only_error(&l);
    assert_eq!(e.code, diag::WRONG_TYPE);
    assert_eq!(e.line, 8, "{e}");
    assert!(e.to_string().contains("m.yaml:8"), "{e}");
    assert!(e.hint.as_deref().unwrap_or("").contains("number"), "{e}");
}

#[test]
fn missing_name_is_an_error_at_the_document() {
    let l = load_one("---\n# comment\napiVersion: v1\nkind: Service\nmetadata:\n  namespace: x\n");
    let e = only_error(&l);
    assert_eq!(e.code, diag::MISSING_NAME);
    assert_eq!(e.line, 2);
}

#[test]
fn invalid_regex_points_at_the_match() {
    let text = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\nspec:\n  hosts: [a]\n  http:\n  - match:\n    - uri:\n        regex: '(a'\n    route:\n    - destination: {host: a}\n";
    let l = load_one(text);
    let e = only_error(&l);
    assert_eq!(e.code, diag::INVALID_REGEX);
    assert_eq!(e.line, 9, "{e}");
    assert_eq!(e.object.as_deref(), Some("VirtualService default/r"));
}

/// A header's, a query parameter's and the scheme's regexes are checked at their own line;
/// in withoutHeaders, `*` is Istio's "present", not a regex.
#[test]
fn invalid_regexes_of_headers_point_at_the_header_and_star_means_present() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [a]
  http:
  - match:
    - headers:
        x-a:
          regex: '*'
      queryParams:
        q: {regex: '(b'}
      scheme: {regex: '[c'}
      withoutHeaders:
        x-b: {regex: '*'}
    route: [{destination: {host: a}}]
";
    let l = load_one(text);
    let got: Vec<(usize, &str)> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == diag::INVALID_REGEX)
        .map(|d| (d.line, d.message.split(':').next().unwrap_or("")))
        .collect();
    assert_eq!(
        got,
        vec![
            (13, "invalid regex \"[c\""),
            (9, "invalid regex \"*\""),
            (12, "invalid regex \"(b\""),
        ],
        "{:#?}",
        l.diagnostics
    );
}

#[test]
fn non_object_documents_are_errors() {
    let l = load_one("- a\n- b\n");
    assert_eq!(only_error(&l).code, diag::NOT_AN_OBJECT);
    let l = load_one("just a string\n");
    assert_eq!(only_error(&l).code, diag::NOT_AN_OBJECT);
}

#[test]
fn binary_and_invalid_utf8_are_errors_with_lines() {
    let l = load(
        &[SourceFile::new("bin.yaml", b"a: 1\n\x00\x01\x02".to_vec())],
        &LoadOptions::default(),
    );
    let e = only_error(&l);
    assert_eq!((e.code, e.line), (diag::NOT_TEXT, 2));
    let l = load(
        &[SourceFile::new(
            "latin1.yaml",
            b"kind: x\nname: caf\xe9\n".to_vec(),
        )],
        &LoadOptions::default(),
    );
    let e = only_error(&l);
    assert_eq!((e.code, e.line, e.column), (diag::NOT_TEXT, 2, Some(10)));
}

#[test]
fn tabs_in_indentation_are_named() {
    let l = load_one("apiVersion: v1\nkind: Namespace\nmetadata:\n\tname: x\n");
    let e = only_error(&l);
    assert_eq!((e.code, e.line), (diag::TAB_INDENT, 4));
}

#[test]
fn alias_bombs_and_deep_nesting_are_refused_without_hanging() {
    let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    let mut prev = 'a';
    for c in 'b'..='k' {
        bomb.push_str(&format!("{c}: &{c} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        prev = c;
    }
    bomb.push_str("kind: ConfigMap\napiVersion: v1\nmetadata: {name: x}\n");
    let l = load_one(&bomb);
    assert_eq!(only_error(&l).code, diag::TOO_COMPLEX);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let l = load_one(&deep);
    assert_eq!(only_error(&l).code, diag::TOO_COMPLEX);
}

#[test]
fn missing_kind_is_an_error() {
    let l = load_one("metadata:\n  name: x\n");
    assert_eq!(only_error(&l).code, diag::MISSING_KIND);
}

#[test]
fn unknown_kinds_are_kept_and_listed() {
    let l = load_one(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: ns\n",
    );
    assert!(!l.has_errors());
    assert_eq!(l.resources.len(), 1);
    let w = &l.diagnostics[0];
    assert_eq!(w.code, diag::UNKNOWN_KIND);
    assert!(
        w.message.contains("ignored: Widget example.com/v1 ns/w"),
        "{w}"
    );
}

#[test]
fn later_duplicates_replace_earlier_ones_with_a_warning() {
    let a = SourceFile::new(
        "a.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: ClusterIP}\n",
    );
    let b = SourceFile::new(
        "b.yaml",
        "\napiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {type: LoadBalancer}\n",
    );
    let l = load(&[a, b], &LoadOptions::default());
    assert_eq!(l.resources.len(), 1);
    assert!(
        matches!(&*l.resources[0].body, Body::Service(s, _) if s.type_.as_deref() == Some("LoadBalancer"))
    );
    let d = &l.diagnostics[0];
    assert_eq!(d.code, diag::DUPLICATE);
    assert_eq!((d.file.as_str(), d.line), ("b.yaml", 1));
    assert!(d.message.contains("a.yaml:1"), "{d}");
}

#[test]
fn bom_crlf_helm_comments_empty_documents_and_lists_load() {
    let text = "\u{feff}---\r\n# Source: chart/templates/svc.yaml\r\n---\r\napiVersion: v1\r\nkind: List\r\nitems:\r\n- apiVersion: v1\r\n  kind: Namespace\r\n  metadata:\r\n    name: a\r\n- apiVersion: v1\r\n  kind: Namespace\r\n  metadata:\r\n    name: b\r\n---\r\n";
    let l = load_one(text);
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    let names: Vec<&str> = l.resources.iter().map(|r| r.name()).collect();
    assert_eq!(names, vec!["a", "b"]);
    assert_eq!(l.resources[1].origin.line, 11);
}

#[test]
fn json_manifests_load() {
    let l = load(
        &[SourceFile::new(
            "x.json",
            br#"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"j"}}"#.to_vec(),
        )],
        &LoadOptions::default(),
    );
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    assert_eq!(l.resources[0].name(), "j");
}

/// A loading result as text, without the document texts the origins share.
pub(crate) fn summary(l: &Loaded) -> Vec<String> {
    let mut out: Vec<String> = l
        .resources
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {:?} {}:{} {:?} {:?}",
                r.api_version,
                r.kind,
                r.display(),
                r.meta,
                r.origin.file,
                r.origin.line,
                r.origin.range,
                r.body
            )
        })
        .collect();
    out.extend(l.diagnostics.iter().map(|d| format!("{d:?}")));
    out
}

/// Reads one document with the careful path only, and with the loader's usual path.
fn both_paths(doc: &str) -> (Vec<String>, Vec<String>) {
    let origin = Origin {
        file: Arc::from("d.yaml"),
        line: 3,
        text: Arc::new(SourceText::plain(doc)),
        range: (0, doc.len()),
    };
    let opts = LoadOptions::default();
    let mut careful = Loaded::default();
    if !has_tab_indent(doc, &origin, &mut careful) {
        parse_document_careful(doc, origin.clone(), &opts, &mut careful);
        // As `parse_document` does after either path.
        note_route_lines(doc, 0, &mut careful.resources);
    }
    let mut usual = Loaded::default();
    parse_document(doc, origin, &opts, &mut usual);
    (summary(&careful), summary(&usual))
}

const DOCUMENTS: &[&str] = &[
    "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  labels: {app: web}\nspec:\n  selector: {app: web}\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\nstatus:\n  loadBalancer:\n    ingress: [{ip: 1.2.3.4}]\n",
    "kind: Pod\napiVersion: v1\nmetadata: {name: p, namespace: x}\nstatus: {phase: Pending, podIP: 10.0.0.9}\nspec:\n  containers: [{name: c, ports: [{containerPort: 80}]}]\n",
    "apiVersion: v1\nkind: Pod\nspec:\n  containers: []\nmetadata: {name: p}\n",
    "spec:\n  containers: []\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    accessLogFile: /dev/stdout\n",
    "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\nmetadata: {name: c}\n",
    "data: {a: b}\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: [1]}\n",
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n  labels: {istio-injection: enabled}\nspec: {finalizers: [kubernetes]}\n",
    "apiVersion: v1\nkind: Namespace\nmetadata: null\n",
    "apiVersion: v1\nkind: Namespace\nmetadata:\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: null\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nmetadata: {name: t}\n",
    "apiVersion: v1\nkind: Service\nkind: Service\nmetadata: {name: s}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: eighty}]}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s, labels: [a]}\nspec: {ports: [{port: 80}]}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {namespace: s}\n",
    "apiVersion: 1\nkind: Service\nmetadata: {name: s}\n",
    "apiVersion: v1\nkind: [Service]\nmetadata: {name: s}\n",
    "apiVersion: v1\nmetadata: {name: s}\n",
    "apiVersion: v1beta7\nkind: Service\nmetadata: {name: s}\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: n}\nspec:\n  replicas: 2\n  template:\n    metadata: {labels: {app: d}}\n    spec:\n      containers: [{name: c, image: x}]\n      volumes: [{name: v, emptyDir: {}}]\n",
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nextra: 1\nspec: {replicas: 1}\n",
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [a]\n  http:\n  - match:\n    - uri: {regex: '(a'}\n    route:\n    - destination: {host: a}\n",
    "apiVersion: networking.istio.io/v1alpha3\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [a]\n  http:\n  - match:\n    - headers: {x: {regex: 'a|b'}}\n    route:\n    - destination: {host: a, subset: v1}\n",
    "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: d, namespace: x}\nspec:\n  host: a\n  subsets: [{name: v1, labels: {version: v1}}]\n",
    "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: e}\nspec: {hosts: [a.example.com], ports: [{number: 80, name: http}], resolution: DNS}\n",
    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: h}\nspec:\n  rules:\n  - matches: [{path: {type: RegularExpression, value: '[z-a]'}}]\n",
    "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio, namespace: ignored}\nspec: {controllerName: istio.io/gateway-controller}\n",
    "apiVersion: sailoperator.io/v1\nkind: Istio\nmetadata: {name: default}\nspec: {namespace: istio-system, values: {meshConfig: {accessLogFile: /dev/stdout}}}\n",
    "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: []\n",
    "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {a: 1}\n",
    "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: a}\n",
    "- a\n- b\n",
    "just a string\n",
    "~\n",
    "apiVersion: v1\nkind: Service\nmetadata: &m {name: s}\nspec: {selector: *m}\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s\n",
    "apiVersion: v1\nkind: Service\nmetadata:\n\tname: s\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s, lables: {a: b}}\nspec: {selectr: {a: b}, ports: [{port: 80, prot: 8}]}\n",
    "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r}\nspec:\n  hosts: [a]\n  http:\n  - match: [{uri: {prefx: /}}]\n    route: [{destination: {host: a}, wieght: 1}]\n",
    "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspc: {ports: [{port: 80}]}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\nspec: {a: b}\nbinaryData: {}\n",
];

#[test]
fn one_pass_reads_what_the_careful_path_reads() {
    for doc in DOCUMENTS {
        let (careful, usual) = both_paths(doc);
        assert_eq!(careful, usual, "document:\n{doc}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const KEYS: &[&str] = &[
        "apiVersion: v1\n",
        "apiVersion: networking.istio.io/v1\n",
        "kind: Service\n",
        "kind: VirtualService\n",
        "kind: ConfigMap\n",
        "metadata: {name: x, namespace: n, labels: {a: b}}\n",
        "metadata: {namespace: n}\n",
        "metadata: {name: [x]}\n",
        "spec: {ports: [{port: 80, targetPort: 8080}], selector: {a: b}}\n",
        "spec: {ports: [{port: 80x}]}\n",
        "spec: {hosts: [a], http: [{route: [{destination: {host: a}}]}]}\n",
        "spec: {hosts: [a], http: [{match: [{uri: {regex: '(a'}}]}]}\n",
        "spec: null\n",
        "status: {loadBalancer: {ingress: [{ip: 1.2.3.4}]}}\n",
        "status: 7\n",
        "data: {k: v}\n",
        "data: [1]\n",
        "other: 1\n",
        "kind: 3\n",
    ];

    proptest! {
        /// Whatever the order and mix of top-level keys, both paths read a document alike.
        #[test]
        fn any_key_order(picks in proptest::collection::vec(0..KEYS.len(), 0..6)) {
            let doc: String = picks.iter().map(|&i| KEYS[i]).collect();
            let (careful, usual) = both_paths(&doc);
            prop_assert_eq!(careful, usual, "document:\n{}", doc);
        }
    }
}

#[test]
fn split_parse_and_assemble_in_pieces_equals_load() {
    let files = vec![
        SourceFile::new("a.yaml", DOCUMENTS[..20].join("---\n")),
        SourceFile::new("bin.yaml", b"a: 1\n\x00".to_vec()),
        SourceFile::new("b.yaml", DOCUMENTS[20..].join("---\n")),
        SourceFile::new("c.yaml", DOCUMENTS[..5].join("---\n")),
        SourceFile::new("empty.yaml", ""),
    ];
    let opts = LoadOptions::default();
    let whole = load(&files, &opts);
    for pieces in [1, 2, 3, 7] {
        let split = split(&files);
        let n = split.len();
        let parsed: Vec<Parsed> = (0..pieces)
            .map(|p| split.parse(n * p / pieces..n * (p + 1) / pieces, &opts))
            .collect();
        assert_eq!(summary(&split.assemble(parsed)), summary(&whole));
    }
}

#[test]
fn ordinary_objects_take_the_one_pass_path() {
    let taken: Vec<bool> = DOCUMENTS
        .iter()
        .map(|doc| {
            let origin = Origin {
                file: Arc::from("d.yaml"),
                line: 1,
                text: Arc::new(SourceText::plain(*doc)),
                range: (0, doc.len()),
            };
            onepass::parse(
                doc,
                &origin,
                &LoadOptions::default(),
                &mut Loaded::default(),
            )
        })
        .collect();
    // The Service with status, the Pod with status before spec, the Deployment, the
    // VirtualServices (one with an invalid regex: a diagnostic, not a parse failure), the
    // DestinationRule, the ServiceEntry, the Sail Istio.
    for i in [
        0, 1, 4, 5, 8, 11, 12, 21, 22, 24, 25, 26, 27, 28, 29, 30, 37,
    ] {
        assert!(
            taken[i],
            "document {i} left to the careful path:\n{}",
            DOCUMENTS[i]
        );
    }
    // Spec or data before kind, duplicates, wrong types, no name, lists, raw kinds, non-objects.
    for i in [
        3, 6, 7, 13, 14, 15, 16, 17, 18, 19, 20, 23, 31, 32, 33, 34, 35, 36, 38,
    ] {
        assert!(!taken[i], "document {i} taken:\n{}", DOCUMENTS[i]);
    }
}

#[test]
fn an_install_folder_is_set_aside_with_one_note() {
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: virtualservices.networking.istio.io}\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: istio-sidecar-injector}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: istiod}\n";
    let l = load(
        &[
            SourceFile::new("install/crds.yaml", crd),
            SourceFile::new("install/kustomization.yaml", "resources:\n- crds.yaml\n"),
        ],
        &LoadOptions::default(),
    );
    assert_eq!(l.resources.len(), 4);
    assert_eq!(l.diagnostics.len(), 1, "{:#?}", l.diagnostics);
    let d = &l.diagnostics[0];
    assert_eq!(d.code, diag::SET_ASIDE);
    assert!(
        d.message.contains("4 objects")
            && d.message.contains("CustomResourceDefinition 1")
            && d.message.contains("Kustomization 1"),
        "{d}"
    );
}

#[test]
fn a_dump_list_with_server_fields_loads_cleanly() {
    let text = "apiVersion: v1\nkind: List\nmetadata: {resourceVersion: \"\"}\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: web\n    namespace: shop\n    uid: 0b6e\n    resourceVersion: \"4411\"\n    creationTimestamp: \"2026-01-05T10:00:00Z\"\n    managedFields:\n    - {manager: kubectl-client-side-apply, operation: Update, fieldsType: FieldsV1, fieldsV1: {f:spec: {}}}\n    annotations:\n      kubectl.kubernetes.io/last-applied-configuration: |\n        {\"apiVersion\":\"v1\",\"kind\":\"Service\"}\n  spec:\n    clusterIP: 10.96.0.10\n    clusterIPs: [10.96.0.10]\n    ipFamilies: [IPv4]\n    ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}]\n  status:\n    loadBalancer: {}\n- apiVersion: discovery.k8s.io/v1\n  kind: EndpointSlice\n  metadata:\n    name: web-abcde\n    namespace: shop\n    labels: {kubernetes.io/service-name: web}\n    ownerReferences: [{apiVersion: v1, kind: Service, name: web, uid: 0b6e, controller: true, blockOwnerDeletion: true}]\n  addressType: IPv4\n  endpoints: [{addresses: [10.244.0.5], conditions: {ready: true, serving: true, terminating: false}}]\n  ports: [{name: http, port: 8080, protocol: TCP}]\n";
    let l = load_one(text);
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    assert_eq!(l.resources.len(), 2);
    assert!(matches!(*l.resources[1].body, Body::EndpointSlice(_)));
    assert_eq!(
        l.resources[0].meta.live().creation_timestamp.as_deref(),
        Some("2026-01-05T10:00:00Z")
    );
}

#[test]
fn metadata_keeps_the_server_fields_apart_and_writes_them_back() {
    let live: ObjectMeta = serde_yaml::from_str(
        "{name: web-1, generateName: web-, namespace: shop, labels: {app: web}, uid: 0b6e, creationTimestamp: \"2026-01-05T10:00:00Z\", deletionTimestamp: \"2026-01-06T10:00:00Z\", ownerReferences: [{kind: ReplicaSet, name: web, controller: true}]}",
    )
    .unwrap();
    let l = live.live();
    assert_eq!(l.generate_name.as_deref(), Some("web-"));
    assert_eq!(l.uid.as_deref(), Some("0b6e"));
    assert_eq!(
        l.deletion_timestamp.as_deref(),
        Some("2026-01-06T10:00:00Z")
    );
    assert_eq!(l.owner_references[0].name, "web");
    let again: ObjectMeta = serde_yaml::from_str(&serde_yaml::to_string(&live).unwrap()).unwrap();
    assert_eq!(again, live);
    let plain: ObjectMeta = serde_yaml::from_str("{name: web, labels: {app: web}}").unwrap();
    assert!(plain.live.is_none(), "a manifest's metadata boxes nothing");
    assert!(plain.live().owner_references.is_empty());
}

#[test]
fn a_match_keeps_its_rarer_conditions_apart_and_writes_them_back() {
    let full: HttpMatchRequest = serde_yaml::from_str(
        "{name: m, uri: {prefix: /a}, scheme: {exact: https}, method: {exact: GET}, authority: {regex: 'a.*'}, headers: {x: {exact: '1'}}, port: 8080, sourceLabels: {app: c}, gateways: [mesh], queryParams: {q: {exact: v}}, ignoreUriCase: true, withoutHeaders: {y: {}}, sourceNamespace: ns}",
    )
    .unwrap();
    let more = full.more();
    assert_eq!(
        more.method.as_ref().and_then(|m| m.exact.as_deref()),
        Some("GET")
    );
    assert_eq!(more.gateways, ["mesh"]);
    assert_eq!(more.source_namespace.as_deref(), Some("ns"));
    assert!(more.without_headers.contains_key("y"));
    let again: HttpMatchRequest =
        serde_yaml::from_str(&serde_yaml::to_string(&full).unwrap()).unwrap();
    assert_eq!(again, full);
    let plain: HttpMatchRequest =
        serde_yaml::from_str("{uri: {prefix: /}, headers: {x: {exact: '1'}}}").unwrap();
    assert!(plain.more.is_none(), "a path and headers box nothing");
    assert!(plain.more().query_params.is_empty());
}

#[test]
fn loaded_objects_find_their_fields_lines_in_the_packed_text() {
    let text = "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  selector: {app: a}\n  ports:\n  - port: 80\n---\napiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec:\n  ports:\n  - port: 81\n";
    let files = [
        SourceFile::new("one.yaml", text),
        SourceFile::new(
            "two.yaml",
            text.replace("name: a", "name: c")
                .replace("name: b", "name: d"),
        ),
    ];
    let split = split(&files);
    // Two ranges, the second starting inside the second file: the first file is packed while
    // parsing, the second when the ranges are joined.
    let parsed = [
        split.parse(0..3, &LoadOptions::default()),
        split.parse(3..4, &LoadOptions::default()),
    ];
    let l = split.assemble(parsed);
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    let lines: Vec<(String, usize, usize)> = l
        .resources
        .iter()
        .map(|r| {
            (
                r.name().to_string(),
                r.origin.line_of(&["spec", "ports"]),
                r.origin.text.len(),
            )
        })
        .collect();
    let n = text.len();
    assert_eq!(
        lines,
        [
            ("a".into(), 6, n),
            ("b".into(), 13, n),
            ("c".into(), 6, n),
            ("d".into(), 13, n)
        ]
    );
    assert!(l
        .resources
        .iter()
        .all(|r| format!("{:?}", r.origin.text).contains("packed")));
}

#[test]
fn a_route_keeps_its_rarer_parts_apart_and_writes_them_back() {
    let full: HttpRoute = serde_yaml::from_str(
        "{name: r, match: [{uri: {prefix: /a}}], route: [{destination: {host: a}}], redirect: {uri: /b}, directResponse: {status: 418}, delegate: {name: d}, rewrite: {uri: /c}, timeout: 5s, retries: {attempts: 3}, fault: {abort: {httpStatus: 503}}, mirror: {host: m}, headers: {request: {set: {x: '1'}}}}",
    )
    .unwrap();
    let more = full.more();
    assert_eq!(more.timeout.as_deref(), Some("5s"));
    assert_eq!(more.direct_response.as_ref().map(|d| d.status), Some(418));
    assert_eq!(more.mirror.as_ref().map(|m| m.host.as_str()), Some("m"));
    let again: HttpRoute = serde_yaml::from_str(&serde_yaml::to_string(&full).unwrap()).unwrap();
    assert_eq!(again, full);
    let plain: HttpRoute =
        serde_yaml::from_str("{match: [{uri: {prefix: /}}], route: [{destination: {host: a}}]}")
            .unwrap();
    assert!(plain.more.is_none(), "matches and destinations box nothing");
    assert!(plain.more().redirect.is_none());
}

#[test]
fn list_items_point_at_their_own_lines_and_fields() {
    let text = "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: a, namespace: x}\n  spec:\n    selector: {app: a}\n- apiVersion: v1\n  kind: Service\n  metadata:\n    name: b\n    namespace: x\n  spec:\n    ports: [{port: 80}]\n    selector: {app: b}\nkind: List\nmetadata: {resourceVersion: \"\"}\n";
    let l = load_one(text);
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
    let b = &l.resources[1];
    assert_eq!(b.origin.line, 8);
    assert_eq!(b.origin.line_of(&["spec", "selector"]), 15);
    assert_eq!(l.resources[0].origin.line_of(&["spec", "selector"]), 7);
}

#[test]
fn a_helm_chart_s_build_files_are_set_aside_not_errors() {
    let l = load(
        &[
            SourceFile::new(
                "chart/Chart.yaml",
                "apiVersion: v2\nname: mesh\nversion: 1.0.0\n",
            ),
            SourceFile::new("chart/values.yaml", "replicas: 2\n"),
        ],
        &LoadOptions::default(),
    );
    assert!(!l.has_errors(), "{:#?}", l.diagnostics);
    assert_eq!(l.resources.len(), 2);
    assert_eq!(l.diagnostics.len(), 1);
    assert_eq!(l.diagnostics[0].code, diag::SET_ASIDE);
}

fn unknown_fields(l: &Loaded) -> Vec<(usize, String, Option<String>)> {
    l.diagnostics
        .iter()
        .filter(|d| d.code == diag::UNKNOWN_FIELD)
        .map(|d| {
            let field = d.message.split('"').nth(1).unwrap_or("").to_string();
            (d.line, field, d.hint.clone())
        })
        .collect()
}

/// The line and path of each unknown field (MS0205).
fn unknown_field_paths(l: &Loaded) -> Vec<(usize, String)> {
    unknown_fields(l)
        .into_iter()
        .map(|(l, f, _)| (l, f))
        .collect()
}

/// kubectl's strict field validation (its default) refuses these objects with `strict decoding
/// error: unknown field "spec.hostss"`; meshsim names each field with its path and line, and
/// reads the object as the API server stores it without validation, without the field.
#[test]
fn unknown_fields_are_named_with_their_path_line_and_nearest_field() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  lables: {app: reviews}
spec:
  hostss: [reviews]
  hosts: [reviews]
  http:
  - match:
    - uri:
        prefx: /api
      statPrefix: api
    route:
    - destination: {host: reviews, subset: v1}
      wieght: 10
    corsPolicy: {allowOrigins: [{exact: x}]}
  - route:
    - destination:
        host: reviews
        port: {numbr: 9080}
";
    let l = load_one(text);
    let found = unknown_fields(&l);
    let fields: Vec<(usize, &str)> = found.iter().map(|(l, f, _)| (*l, f.as_str())).collect();
    assert_eq!(
        fields,
        vec![
            (5, "metadata.lables"),
            (7, "spec.hostss"),
            (12, "spec.http[0].match[0].uri.prefx"),
            (16, "spec.http[0].route[0].wieght"),
            (21, "spec.http[1].route[0].destination.port.numbr"),
        ],
        "statPrefix and corsPolicy are Istio fields meshsim does not read: not reported"
    );
    let hints: Vec<&str> = found.iter().filter_map(|(_, _, h)| h.as_deref()).collect();
    for (hint, near) in hints
        .iter()
        .zip(["labels", "hosts", "prefix", "weight", "number"])
    {
        assert!(
            hint.starts_with(&format!("did you mean {near:?}?")),
            "{hint}"
        );
    }
    // Without `numbr`, the port selector is empty: port 0 to istiod's webhook, which refuses
    // the object (applied without strict field validation, the API server drops the field
    // before the webhook sees the object).
    assert_eq!(
        refusals(&l),
        vec![(19, "port number 0 must be in the range 1..65535")],
        "{:#?}",
        l.diagnostics
    );
    assert_eq!(
        l.diagnostics[0].object.as_deref(),
        Some("VirtualService default/reviews")
    );
    // The rest of the object reads as written.
    let Body::VirtualService(vs) = &*l.resources[0].body else {
        panic!("a VirtualService");
    };
    assert_eq!(vs.hosts, ["reviews"]);
    assert_eq!(vs.http[0].route[0].weight, None);
    assert_eq!(
        vs.http[0].r#match[0].uri,
        Some(StringMatch::default()),
        "the match's only condition is dropped: it matches every path"
    );
}

#[test]
fn a_field_with_no_near_name_lists_the_fields_of_its_place() {
    let l = load_one("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports:\n  - port: 80\n    sessionAffinity: None\n");
    let found = unknown_fields(&l);
    assert_eq!(found.len(), 1, "{:#?}", l.diagnostics);
    assert_eq!(found[0].1, "spec.ports[0].sessionAffinity");
    assert_eq!(
        found[0].2.as_deref(),
        Some("check the field's spelling and indentation; the fields here are: appProtocol, name, nodePort, port, protocol, targetPort")
    );
}

/// Each kind's place of the template: a pod template's metadata and containers, a List's
/// items, a top-level key, the Gateway API and OpenShift.
#[test]
fn unknown_fields_are_found_in_templates_lists_top_level_and_every_api() {
    let text = "\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      lables: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        resources: {limits: {cpu: 1}}
        prots: [{containerPort: 80}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web}
  spc: {selector: {app: web}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRefs: [{name: gw}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /}}]
    backendRef: [{name: web, port: 80}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: r}
spec:
  to: {kind: Service, name: web}
  tls: {termination: edge, insecureEdgeTermination: Redirect}
";
    let l = load_one(text);
    let fields = unknown_field_paths(&l);
    assert_eq!(
        fields,
        vec![
            (8, "spec.template.metadata.lables".to_string()),
            (14, "spec.template.spec.containers[0].prots".to_string()),
            (22, "spc".to_string()),
            (31, "spec.rules[0].backendRef".to_string()),
            (38, "spec.tls.insecureEdgeTermination".to_string()),
        ],
        "{:#?}",
        l.diagnostics
    );
}

#[test]
fn objects_written_as_the_apis_define_them_raise_no_unknown_field() {
    let text = "\
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, finalizers: [x], generation: 2}
spec:
  serviceName: db
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      terminationGracePeriodSeconds: 5
      tolerations: [{key: a, operator: Exists}]
      containers:
      - name: db
        command: [run]
        env: [{name: A, value: b}]
        readinessProbe: {httpGet: {path: /, port: 80}}
        ports: [{containerPort: 80, hostPort: 8080}]
  volumeClaimTemplates: []
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: d
  trafficPolicy: {tunnel: {protocol: CONNECT, targetHost: x, targetPort: 1}, tls: {mode: SIMPLE, caCertificates: /c}}
  subsets: [{name: v1, labels: {v: '1'}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g}
spec:
  gatewayClassName: istio
  infrastructure: {labels: {a: b}}
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes: {namespaces: {from: Selector, selector: {matchLabels: {a: b}}}}
";
    let l = load_one(text);
    assert!(unknown_fields(&l).is_empty(), "{:#?}", l.diagnostics);
}

/// YAML merge keys (`<<: *base`), which the API server's YAML reader applies: an object
/// written with them loads as the object written out in full.
#[test]
fn merge_keys_load_as_the_mapping_written_out() {
    let bodies = |l: &Loaded| -> Vec<String> {
        l.resources
            .iter()
            .map(|r| format!("{} {:?} {:?}", r.display(), r.meta, r.body))
            .collect()
    };
    let merged = "\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: &l {app: web}
spec:
  selector:
    <<: *l
    tier: front
  ports:
  - &p {port: 80, name: http, targetPort: 8080}
  - <<: *p
    port: 81
    name: http2
---
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: d}
  spec:
    host: web
    subsets:
    - &s {name: v1, labels: {version: v1}}
    - <<: [{name: v2}, *s]
";
    let full = "\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  selector: {app: web, tier: front}
  ports:
  - {port: 80, name: http, targetPort: 8080}
  - {port: 81, name: http2, targetPort: 8080}
---
apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1
  kind: DestinationRule
  metadata: {name: d}
  spec:
    host: web
    subsets:
    - {name: v1, labels: {version: v1}}
    - {name: v2, labels: {version: v1}}
";
    let (a, b) = (load_one(merged), load_one(full));
    assert!(a.diagnostics.is_empty(), "{:#?}", a.diagnostics);
    assert_eq!(a.resources.len(), 2);
    assert_eq!(bodies(&a), bodies(&b));
}

#[test]
fn a_merge_of_a_scalar_is_a_yaml_error() {
    let l = load_one("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  <<: 5\n");
    assert_eq!(only_error(&l).code, diag::YAML_SYNTAX);
}

/// Enumerated fields: the API server checks each against its CRD's enum and refuses the
/// object, so these are errors, each naming the field, the value and the nearest allowed one.
#[test]
fn values_an_enumerated_field_does_not_allow_are_errors_at_their_line() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se}
spec:
  hosts: [api.example.com]
  resolution: dns
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr}
spec:
  host: a
  subsets:
  - name: v1
    trafficPolicy:
      tls: {mode: SIMPLEE}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - matches:
    - path: {type: Prefix, value: /}
      headers: [{name: x, value: y, type: exact}]
    backendRefs:
    - name: web
      filters:
      - type: RequestRedirect
        requestRedirect: {statusCode: 304}
      port: 80
";
    let l = load_one(text);
    let errs: Vec<(usize, &str, Option<&str>)> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == diag::INVALID_VALUE)
        .map(|d| {
            (
                d.line,
                d.message.split(": Unsupported").next().unwrap_or(""),
                d.hint.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        errs,
        vec![
            (
                6,
                "spec.resolution",
                Some("did you mean \"DNS\"? The values are case-sensitive")
            ),
            (
                16,
                "spec.subsets[0].trafficPolicy.tls.mode",
                Some("did you mean \"SIMPLE\"? The values are case-sensitive")
            ),
            (
                24,
                "spec.rules[0].matches[0].path.type",
                Some("use one of \"Exact\", \"PathPrefix\", \"RegularExpression\"")
            ),
            (
                25,
                "spec.rules[0].matches[0].headers[0].type",
                Some("did you mean \"Exact\"? The values are case-sensitive")
            ),
            (
                30,
                "spec.rules[0].backendRefs[0].filters[0].requestRedirect.statusCode",
                Some("use one of 301, 302, 303, 307, 308")
            ),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// The line and the webhook's own words of each refusal by istiod (MS0111).
/// The line and message of each diagnostic of `code`.
fn lines_of<'l>(l: &'l Loaded, code: &str) -> Vec<(usize, &'l str)> {
    l.diagnostics
        .iter()
        .filter(|d| d.code == code)
        .map(|d| (d.line, d.message.as_str()))
        .collect()
}

fn refusals(l: &Loaded) -> Vec<(usize, &str)> {
    l.diagnostics
        .iter()
        .filter(|d| d.code == diag::REFUSED_BY_ISTIO)
        .map(|d| {
            let m = d.message.rsplit("configuration is invalid: ").next();
            (d.line, m.unwrap_or(""))
        })
        .collect()
}

/// istiod's validating webhook refuses these VirtualServices (Istio's
/// `pkg/config/validation`); Istio's own analyzer test data says of a VirtualService with
/// hosts and no routes: "this will cause a schema validation error".
#[test]
fn virtual_services_istio_s_webhook_refuses_are_errors_with_its_message() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: both}
spec:
  hosts: [a, a]
  http:
  - redirect: {uri: /b}
    route: [{destination: {host: a}}]
  - directResponse: {status: 503}
    fault: {abort: {httpStatus: 500}}
  - name: nothing
    match: [{uri: {prefix: /}}]
  - name: root
    delegate: {name: d}
    route: [{destination: {host: a}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: star}
spec:
  hosts: ['*', '*.example.com', api.example.com]
  gateways: [mesh]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: d}
spec:
  gateways: [gw]
  http:
  - delegate: {name: e}
";
    let l = load_one(text);
    let refused = refusals(&l);
    let expected: Vec<(usize, &str)> = vec![
        (5, "duplicate hosts in virtual service: a & a"),
        (7, "HTTP route cannot contain both route and redirect"),
        (
            9,
            "HTTP route cannot contain both fault and direct_response",
        ),
        (11, "HTTP route, redirect or direct_response is required"),
        (13, "root HTTP route root must not specify route"),
        (
            21,
            "wildcard host * is not allowed for virtual services bound to the mesh gateway",
        ),
        // With a host refused, upstream looks for no duplicates (`allHostsValid`).
        (20, "http, tcp or tls must be provided in virtual service"),
        (
            28,
            "delegate virtual service must have no gateways specified",
        ),
        (30, "delegate HTTP route cannot contain delegate"),
        // Upstream goes on to the conflict checks after that one: no route either.
        (30, "HTTP route, redirect or direct_response is required"),
    ];
    assert_eq!(refused, expected, "{:#?}", l.diagnostics);
}

/// Hosts of a VirtualService bound to gateways only (Istio's
/// `ValidateWildcardDomainForVirtualServiceBoundToGateway`, since 1.23): domain names as for
/// sidecars, `*` allowed, and with SNI matches the SNI Istio generates for AUTO_PASSTHROUGH.
/// Duplicates are looked for once every host is valid.
#[test]
fn hosts_of_virtual_services_bound_to_gateways_are_checked_as_istio_s_webhook_does() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: plain}
spec:
  hosts: [bad..host, '*']
  gateways: [gw]
  http:
  - route: [{destination: {host: a}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: star}
spec:
  hosts: ['*', '*.example.com', api.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: a}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sni}
spec:
  hosts: [db.example.com, outbound_.443_._.db.example.com, outbound_.x_._.db, outbound_.1]
  gateways: [gw]
  tls:
  - match: [{port: 443, sniHosts: [db.example.com]}]
    route: [{destination: {host: db.example.com}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: no-sni}
spec:
  hosts: [outbound_.443_._.db.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: a}}]
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (5, "domain name \".host\" invalid (label \"\" invalid)"),
            (14, "duplicate hosts in virtual service: * & *.example.com"),
            (14, "duplicate hosts in virtual service: * & api.example.com"),
            (14, "duplicate hosts in virtual service: *.example.com & api.example.com"),
            (23, "domain name \"outbound_.x_._.db\" invalid (label \"x\" invalid). should follow outbound_.<PORT>_._.<HOSTNAME> format"),
            (23, "domain name outbound_.1 invalid, should follow 'outbound_.<PORT>_._.<HOSTNAME>' format"),
            (33, "domain name \"outbound_.443_._.db.example.com\" invalid (label \"outbound_\" invalid)"),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// SNI hosts of TLS matches (Istio's `validateSniHost`): domain names within one of the
/// VirtualService's hosts as written. An IP address is admitted with a warning.
#[test]
fn sni_hosts_outside_the_virtual_service_s_hosts_are_refused() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh}
spec:
  hosts: [db.example.com, '*.internal.example.com']
  gateways: [mesh]
  tls:
  - match:
    - sniHosts: [db.example.com, a.internal.example.com, 10.0.0.1]
    - sniHosts: [other.example.com, bad..sni, outbound_.443_._.db.example.com]
    route: [{destination: {host: db.example.com}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: short}
spec:
  hosts: [db]
  tls:
  - match: [{sniHosts: [db.default.svc.cluster.local]}]
    route: [{destination: {host: db}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: gw}
spec:
  hosts: ['*.example.com']
  gateways: [gw]
  tls:
  - match: [{sniHosts: ['*.example.com', '*.a.example.com', '*']}]
    route: [{destination: {host: db.example.com}}]
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (10, "SNI host \"other.example.com\" is not a compatible subset of any of the virtual service hosts: [db.example.com, *.internal.example.com]"),
            (10, "domain name \".sni\" invalid (label \"\" invalid)"),
            (10, "domain name \"outbound_.443_._.db.example.com\" invalid (label \"outbound_\" invalid)"),
            (19, "SNI host \"db.default.svc.cluster.local\" is not a compatible subset of any of the virtual service hosts: [db]"),
            (29, "SNI host \"*\" is not a compatible subset of any of the virtual service hosts: [*.example.com]"),
        ],
        "{:#?}",
        l.diagnostics
    );
    let warned = lines_of(&l, diag::WEBHOOK_WARNING);
    assert_eq!(
        warned,
        vec![(
            9,
            "using an IP address (\"10.0.0.1\") goes against SNI spec and most clients do not support this"
        )]
    );
}

/// Header values as istiod's webhook reads them: Istio's own cases
/// (`TestValidateHTTPHeaderValue`), then the faults its parser names.
#[test]
fn header_values_follow_envoy_s_formatter() {
    for ok in [
        "foo",
        "%HOSTNAME%",
        "100%%",
        "prefix %HOSTNAME% suffix",
        "%DOWNSTREAM_PEER_CERT_V_END(%b %d %H:%M:%S %Y %Z)%",
        "%DYNAMIC_METADATA(com.test.my_filter)%",
        "%REQ( [ \"x-a\" , \"x-b\" ] ) %",
        "tab\there",
        "",
    ] {
        assert_eq!(super::header_value(ok), Ok(()), "{ok:?}");
    }
    let prefix = "header value configuration: invalid header configuration. ";
    for (bad, why) in [
        ("%START_TIME%%", "Un-escaped %"),
        ("50%", "Un-escaped %"),
        ("abc%123", "Un-terminated variable expression 'abc%123'"),
        ("%VAR()%", "Un-terminated variable expression '%VAR()%'"),
        ("%VAR([x])%", "Expecting '\"'"),
        ("%VAR([\"x\" y])%", "Expecting ',', ']', or whitespace"),
        (
            "%VAR([\"x\"] y)%",
            "Expecting ')' or whitespace after '{}', but found '{}'",
        ),
        ("%VAR(x) y%", "Expecting '%' or whitespace after"),
        ("%VAR(x\\", "Un-terminated backslash in JSON string"),
    ] {
        assert_eq!(
            super::header_value(bad),
            Err(format!("{prefix}{why}")),
            "{bad:?}"
        );
    }
    assert_eq!(
        super::header_value("a\nb"),
        Err("header value configuration a\nb is invalid".to_string())
    );
}

/// Header names and operations of HTTP routes and their destinations, and the authority set
/// twice, as istiod's webhook refuses them.
#[test]
fn header_names_and_operations_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [a]
  http:
  - match:
    - headers:
        x-ok: {exact: a}
        '@request.auth.claims.group': {exact: b}
        ':authority': {exact: c}
        bad header: {exact: d}
      withoutHeaders:
        'no:colon': {exact: e}
    rewrite: {authority: b.example.com}
    headers:
      request:
        set: {':path': /x, host: c.example.com, x-fine: '%HOSTNAME%'}
        remove: [Host]
      response:
        add: {':status': '200', x-pct: 50%}
    route:
    - destination: {host: a}
      headers:
        response: {remove: [':status']}
";
    let l = load_one(text);
    let refused = refusals(&l);
    assert_eq!(
        refused,
        vec![
            // A claim is a valid header name, but routing on it needs a gateway.
            (8, "JWT claim based routing (key: @request.auth.claims.group) is only supported for gateway, found no gateways: []"),
            (8, "header name bad header is not a valid header name"),
            (13, "header name no:colon is not a valid header name"),
            (18, "invalid header \":path\": header cannot have \":\" prefix"),
            (19, "invalid header \"Host\": cannot set Host header"),
            (21, "invalid header \":status\": header cannot have \":\" prefix"),
            (21, "header value configuration: invalid header configuration. Un-escaped %"),
            (25, "invalid header \":status\": header cannot have \":\" prefix"),
            (17, "authority header cannot be set multiple times: have \"b.example.com\", attempting to set \"c.example.com\""),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// Route destinations and weights (Istio's `validateDestination`, `validateWeight` and the
/// totals of `validateHTTPRouteDestinations` and `validateRouteDestinations`).
#[test]
fn destinations_and_weights_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [a]
  http:
  - route:
    - destination: {host: 'reviews:9080', subset: v_1}
      weight: 0
    - destination: {host: '*'}
    mirror: {host: a, port: {}}
  - route:
    - destination: {host: a}
      weight: -5
    - destination: {host: b}
      weight: 105
  - route:
    - destination: {host: only, port: {number: 9080}}
      weight: 0
  tcp:
  - route:
    - destination: {host: db}
    - destination: {host: db2}
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (
                8,
                "domain name \"reviews:9080\" invalid (label \"reviews:9080\" invalid)"
            ),
            (8, "subset name is invalid: v_1"),
            (10, "invalid destination host *"),
            (7, "total destination weight = 0"),
            (11, "port number 0 must be in the range 1..65535"),
            (12, "weight -5 < 0"),
            (21, "total destination weight = 0"),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// Redirects, direct responses and rewrites istiod's webhook refuses (Istio's
/// `validateHTTPRedirect`, `validateHTTPDirectResponse`, `validateHTTPRewrite`).
#[test]
fn redirects_direct_responses_and_rewrites_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [a]
  http:
  - match: [{uri: {prefix: /a}}]
    redirect: {uri: /b, redirectCode: 200, scheme: ftp}
  - match: [{uri: {prefix: /b}}]
    directResponse: {status: 700}
  - match: [{uri: {prefix: /c}}]
    rewrite: {uri: /x, uriRegexRewrite: {match: '^/c(.*)', rewrite: '/x\\1'}}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /d}}]
    rewrite: {uriRegexRewrite: {match: '^/d'}}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /e}}]
    rewrite: {}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /f}}]
    redirect: {authority: b.example.com, redirectCode: 308, scheme: https}
  - match: [{uri: {prefix: /g}}]
    redirect: {authority: b.example.com, scheme: ftp}
  - directResponse: {status: 600, body: {string: ok}}
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            // Upstream stops at the first fault of a redirect: the scheme is not reached.
            (8, "200 is not a valid redirect code, must be 3xx"),
            (10, "HTTP status 700 is not in range 200-599"),
            (12, "rewrite may only contain one of URI or UriRegexRewrite"),
            (15, "UriRegexRewrite has errors\nUriRegexRewrite requires both Rewrite and Match fields to be specified"),
            (18, "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified"),
            (23, "invalid redirect scheme, must be \"http\" or \"https\""),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// Retry policies as istiod's webhook checks them (Istio's `validateHTTPRetry`).
#[test]
fn retry_policies_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [a]
  http:
  - match: [{uri: {prefix: /a}}]
    retries: {attempts: 3, retryOn: '5xx,connect-failure,503,retriable-4xx'}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /b}}]
    retries: {retryOn: gateway-error}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /c}}]
    retries: {attempts: -1, retryOn: '5XX, reset,599,connect_failure'}
    route: [{destination: {host: a}}]
  - retries: {attempts: 0}
    route: [{destination: {host: a}}]
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (
                11,
                "http retry policy configured when attempts are set to 0 (disabled)"
            ),
            (14, "attempts cannot be negative"),
            (14, "\"5XX\" is not a valid retryOn policy"),
            (14, "\" reset\" is not a valid retryOn policy"),
            (14, "\"599\" is not a valid retryOn policy"),
            (14, "\"connect_failure\" is not a valid retryOn policy"),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// String matches istiod's webhook refuses (Istio's `validateStringMatch`): empty
/// prefixes (but the URI's), empty or oversized regexes; `withoutHeaders` regex `*` means
/// "present".
#[test]
fn empty_and_oversized_string_matches_are_refused() {
    let long = "a".repeat(1025);
    let text = format!(
        "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: v}}
spec:
  hosts: [a]
  http:
  - match:
    - uri: {{prefix: ''}}
      headers: {{x-a: {{prefix: ''}}, x-b: {{regex: ''}}}}
      withoutHeaders: {{x-c: {{regex: '*'}}}}
    - uri: {{regex: ''}}
      method: {{regex: '{long}'}}
      queryParams: {{q: {{prefix: ''}}}}
    route: [{{destination: {{host: a}}}}]
"
    );
    let l = load_one(&text);
    assert_eq!(
        refusals(&l),
        vec![
            (9, "\"headers\": prefix string match should not be empty"),
            (9, "\"headers\": regex string match should not be empty"),
            (11, "\"uri\": regex string match should not be empty"),
            (
                12,
                "\"method\": regex is too large, max length allowed is 1024"
            ),
            (
                13,
                "\"queryParams\": prefix string match should not be empty"
            ),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// A VirtualService's gateway names as istiod's webhook checks them (Istio's
/// `validateGatewayNames`): `namespace/name` of DNS labels, or a domain name; the legacy
/// FQDN form is warned of; the check ends at the first name without a `/`.
#[test]
fn gateway_names_istio_s_webhook_refuses_or_warns_of() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: [a.example.com]
  gateways: [ns_1/gw, ./gw, other/gw_2]
  http:
  - route: [{destination: {host: a}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: legacy}
spec:
  hosts: [a.example.com]
  gateways: [gw.istio-ingress.svc.cluster.local, bad_ns/gw]
  http:
  - route: [{destination: {host: a}}]
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (6, "invalid value for namespace: \"ns_1\""),
            (6, "invalid value for namespace: \".\""),
            (6, "invalid value for gateway name: \"gw_2\""),
        ],
        "{:#?}",
        l.diagnostics
    );
    let warned = lines_of(&l, diag::WEBHOOK_WARNING);
    assert_eq!(
        warned,
        vec![(
            15,
            "using legacy gatewayName format \"gw.istio-ingress.svc.cluster.local\"; prefer the <namespace>/<name> format: \"istio-ingress/gw\""
        )]
    );
}

/// Mirrors as istiod's webhook checks them (Istio's `validateHTTPMirrors`): a destination,
/// a percentage of at most 100 and not below 0; not both `mirror` and `mirrors`.
#[test]
fn mirrors_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [a]
  http:
  - mirror: {host: b}
    mirrors:
    - percentage: {value: 50}
    - destination: {host: 'c:80'}
      percentage: {value: 101}
    route: [{destination: {host: a}}]
  - mirror: {host: b}
    mirrorPercentage: {value: 150}
    route: [{destination: {host: a}}]
  - mirror: {host: b}
    mirrorPercent: 200
    route: [{destination: {host: a}}]
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (9, "destination is required for mirrors"),
            (10, "domain name \"c:80\" invalid (label \"c:80\" invalid)"),
            (
                10,
                "mirror percentage must have a max value of 100 (it has 101.000000)"
            ),
            (7, "HTTP route cannot contain both mirror and mirrors"),
            (
                14,
                "mirror_percentage must have a max value of 100 (it has 150.000000)"
            ),
            (
                17,
                "mirror_percent must have a max value of 100 (it has 200)"
            ),
        ],
        "{:#?}",
        l.diagnostics
    );
    assert_eq!(
        lines_of(&l, diag::WEBHOOK_WARNING),
        vec![(
            17,
            "using deprecated setting \"mirrorPercent\", use \"mirrorPercentage\" instead"
        )]
    );
}

/// Routing on a JWT claim is refused unless the VirtualService applies to gateways only.
#[test]
fn jwt_claim_routing_needs_a_gateway() {
    let vs = |gateways: &str| {
        format!(
            "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: v}}
spec:
  hosts: [a.example.com]
  gateways: {gateways}
  http:
  - match:
    - headers: {{'@request.auth.claims[group]': {{exact: admin}}}}
    route: [{{destination: {{host: a}}}}]
"
        )
    };
    assert_eq!(refusals(&load_one(&vs("[gw]"))), vec![]);
    assert_eq!(
        refusals(&load_one(&vs("[gw, mesh]"))),
        vec![(9, "JWT claim based routing (key: @request.auth.claims[group]) is only supported for gateway, found no gateways: [gw mesh]")]
    );
}

/// Floats in the webhook's messages are written as Go's `%v` writes them.
#[test]
fn floats_are_written_as_go_writes_them() {
    for (v, go) in [
        (0.0, "0"),
        (101.0, "101"),
        (100.5, "100.5"),
        (-5.0, "-5"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (0.000012345, "1.2345e-05"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e21, "1e+21"),
    ] {
        assert_eq!(super::go_float(v), go, "{v}");
    }
}

/// Fault injection as istiod's webhook checks it (Istio's `validateHTTPFaultInjection`).
#[test]
fn faults_istio_s_webhook_refuses_are_errors_and_one_it_warns_of_a_warning() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [a]
  http:
  - match: [{uri: {prefix: /a}}]
    fault: {}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /b}}]
    fault:
      abort: {httpStatus: 700, percentage: {value: 101}}
      delay: {fixedDelay: 1s, percentage: {value: 0.00001}}
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /c}}]
    fault:
      abort: {grpcStatus: NOTFOUND}
    route: [{destination: {host: a}}]
  - fault:
      abort: {percentage: {value: 50}}
    route: [{destination: {host: a}}]
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            // Each at the line of the field it is about: here the abort's or the delay's,
            // whose own fields are written inline.
            (8, "HTTP fault injection must have an abort and/or a delay"),
            (12, "percentage 101 is neither 0.0, nor in range [0.0001, 100.0]"),
            (12, "HTTP status 700 is not in range 200-599"),
            (13, "percentage 1e-05 is neither 0.0, nor in range [0.0001, 100.0]"),
            (17, "gRPC status \"NOTFOUND\" is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'"),
        ],
        "{:#?}",
        l.diagnostics
    );
    let warned = lines_of(&l, diag::WEBHOOK_WARNING);
    assert_eq!(
        warned,
        vec![(20, "abort configured, but error type not set")]
    );
}

/// A refusal of a redirect, a retry policy, a direct response or a fault points at the line
/// of the field it is about, not at the line of the route's `redirect:` or `fault:`.
#[test]
fn refusals_of_route_behaviour_point_at_their_field() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [a]
  http:
  - match: [{uri: {prefix: /a}}]
    redirect:
      uri: /b
      redirectCode: 200
  - match: [{uri: {prefix: /b}}]
    retries:
      attempts: 2
      retryOn: 5xx,bogus
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /c}}]
    directResponse:
      body: {string: gone}
      status: 700
  - fault:
      abort:
        percentage: {value: 50}
        httpStatus: 99
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /d}}]
    rewrite:
      uriRegexRewrite:
        match: ^/d
    route: [{destination: {host: a}}]
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (10, "200 is not a valid redirect code, must be 3xx"),
            (14, "\"bogus\" is not a valid retryOn policy"),
            (19, "HTTP status 700 is not in range 200-599"),
            (23, "HTTP status 99 is not in range 200-599"),
            (27, "UriRegexRewrite has errors\nUriRegexRewrite requires both Rewrite and Match fields to be specified"),
        ],
        "{:#?}",
        l.diagnostics
    );
}

#[test]
fn delegating_and_delegate_virtual_services_written_correctly_pass_istio_s_validation() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root}
spec:
  hosts: [shop.example.com]
  gateways: [istio-ingress/gw]
  http:
  - match: [{uri: {prefix: /cart}}]
    delegate: {name: cart}
  - match: [{uri: {exact: /basket}}]
    redirect: {uri: /cart}
  - directResponse: {status: 404}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart}
spec:
  http:
  - route: [{destination: {host: cart}}]
    fault: {delay: {fixedDelay: 1s}}
";
    let l = load_one(text);
    assert!(l.diagnostics.is_empty(), "{:#?}", l.diagnostics);
}

/// istiod's webhook admits these with a warning each (`kubectl apply` prints it); Istio's
/// own bookinfo sample `fault-injection-details-v1.yaml` has the first kind.
#[test]
fn rules_no_request_reaches_are_warned_of_as_istio_s_webhook_does() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [a]
  http:
  - match: [{uri: {prefix: /a}, name: first}]
    route: [{destination: {host: a}}]
  - name: again
    match: [{uri: {prefix: /a}, name: other-name}]
    route: [{destination: {host: b}}]
  - match: [{uri: {prefix: /b}}, {uri: {prefix: /a}}]
    route: [{destination: {host: b}}]
  - route: [{destination: {host: a}}]
  - name: late
    match: [{uri: {prefix: /c}}]
    route: [{destination: {host: c}}]
  - route: [{destination: {host: c}}]
";
    let l = load_one(text);
    let warned: Vec<(usize, &str)> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == diag::UNUSED_RULE)
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    assert_eq!(
        warned,
        vec![
            (9, "virtualService rule \"again\" not used (all matches used by prior rules)"),
            (12, "virtualService rule #2 match #1 is not used (duplicate/overlapping match in rule #0)"),
            (15, "virtualService rule \"late\" not used (route without matches defined before)"),
            (18, "virtualService rule #5 not used (only the last rule can have no matches)"),
        ],
        "{:#?}",
        l.diagnostics
    );
    assert!(!l.has_errors());
}

#[test]
fn destination_rules_and_hosts_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: reviews_v1.default.svc.cluster.local
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v1
  - name: V_2
  - name: ''
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [reviews, 10.0.0.1, '*.example.com', bad..host, ratings.123]
  http:
  - route: [{destination: {host: reviews}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: at-gateway}
spec:
  hosts: [SHOP.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: shop}}]
";
    let l = load_one(text);
    let refused = refusals(&l);
    assert_eq!(
        refused,
        vec![
            (5, "domain name \"reviews_v1.default.svc.cluster.local\" invalid (label \"reviews_v1\" invalid)"),
            (9, "duplicate subset names: v1"),
            (10, "subset name is invalid: V_2"),
            (11, "subset name cannot be empty"),
            (17, "domain name \".host\" invalid (label \"\" invalid)"),
            (17, "domain name \"123\" invalid (top level domain \"123\" cannot be all-numeric)"),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// The Gateway API CRDs' validation rules (CEL) refuse these.
#[test]
fn routes_and_gateways_the_gateway_api_crds_refuse_are_errors() {
    let text = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - name: a
    matches: [{path: {type: PathPrefix, value: api}}, {path: {value: /a//b}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https}
    - type: URLRewrite
    backendRefs: [{name: web, port: 80}]
  - name: a
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x, value: y}]}
      urlRewrite: {hostname: x}
    - type: RequestHeaderModifier
      requestHeaderModifier: {remove: [z]}
    backendRefs: [{name: web, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, tls: {mode: Terminate}}
  - {name: http, port: 80, protocol: HTTP}
  - {name: https, port: 443, protocol: HTTPS, tls: {mode: Passthrough}}
";
    let l = load_one(text);
    let got: Vec<(usize, &str)> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == diag::INVALID_VALUE)
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    let suffix = " (the API server refuses the object)";
    let expected: Vec<(usize, String)> = [
        (7, "spec.rules[0].matches[0].path: Invalid value: \"object\": value must be an absolute path and start with '/' when type one of ['Exact', 'PathPrefix']"),
        (7, "spec.rules[0].matches[1].path: Invalid value: \"object\": must not contain '//' when type one of ['Exact', 'PathPrefix']"),
        (6, "spec.rules[0]: Invalid value: \"object\": RequestRedirect filter must not be used together with backendRefs"),
        (8, "spec.rules[0].filters: Invalid value: \"object\": May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both"),
        (11, "spec.rules[0].filters[1]: Invalid value: \"object\": filter.urlRewrite must be specified for URLRewrite filter.type"),
        (5, "spec.rules: Invalid value: \"object\": Rule name must be unique within the route"),
        (14, "spec.rules[1].filters: Invalid value: \"object\": RequestHeaderModifier filter cannot be repeated"),
        (15, "spec.rules[1].filters[0]: Invalid value: \"object\": filter.urlRewrite must be nil if the filter.type is not URLRewrite"),
        (27, "spec.listeners: Invalid value: \"object\": Listener name must be unique within the Gateway"),
        (27, "spec.listeners: Invalid value: \"object\": Combination of port, protocol and hostname must be unique for each listener"),
        (27, "spec.listeners: Invalid value: \"object\": tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']"),
        (27, "spec.listeners: Invalid value: \"object\": tls mode must be Terminate for protocol HTTPS"),
    ]
    .iter()
    .map(|(l, m)| (*l, format!("{m}{suffix}")))
    .collect();
    let expected: Vec<(usize, &str)> = expected.iter().map(|(l, m)| (*l, m.as_str())).collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(got_sorted, expected_sorted, "{:#?}", l.diagnostics);
}

/// The Gateway API CRDs require a port on every reference to a Service (no group, kind
/// `Service`, both the defaults): rule backendRefs and RequestMirror backendRefs, of
/// HTTPRoutes and GRPCRoutes. Other kinds, and Services with a port, are left alone.
#[test]
fn service_references_without_a_port_are_refused_as_the_crds_do() {
    let text = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - backendRefs:
    - {name: web, port: 80}
    - name: web
      filters:
      - type: RequestMirror
        requestMirror: {backendRef: {name: shadow}}
    - {name: bucket, group: example.com, kind: Bucket}
    - {name: se, group: networking.istio.io, kind: ServiceEntry}
  - filters:
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, kind: Service, group: ''}}
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x, value: y}]}
    backendRefs: [{name: web, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: g}
spec:
  rules:
  - backendRefs: [{name: grpc}]
";
    let l = load_one(text);
    let got = lines_of(&l, diag::INVALID_VALUE);
    let message = |path: &str| {
        format!("{path}: Invalid value: \"object\": Must have port for Service reference (the API server refuses the object)")
    };
    let expected = [
        (8, message("spec.rules[0].backendRefs[1]")),
        (
            11,
            message("spec.rules[0].backendRefs[1].filters[0].requestMirror.backendRef"),
        ),
        (
            16,
            message("spec.rules[1].filters[0].requestMirror.backendRef"),
        ),
        (26, message("spec.rules[0].backendRefs[0]")),
    ];
    let expected: Vec<(usize, &str)> = expected.iter().map(|(l, m)| (*l, m.as_str())).collect();
    assert_eq!(got, expected, "{:#?}", l.diagnostics);
}

#[test]
fn service_entries_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wild}
spec:
  hosts: ['*.example.com']
  ports: [{number: 443, name: tls, protocol: TLS}, {number: 443, name: tls}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: none}
spec:
  hosts: ['*']
  addresses: [10.0.0.0/24]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
  endpoints: [{address: 10.0.0.1}]
  workloadSelector: {labels: {app: x}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: fine}
spec:
  hosts: ['*.example.org']
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: NONE
";
    let l = load_one(text);
    let refused = refusals(&l);
    assert_eq!(
        refused,
        vec![
            (6, "service entry port name \"tls\" already defined"),
            (6, "service entry port 443 already defined"),
            (5, "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS, domain name \"*.example.com\" invalid (label \"*\" invalid)"),
            (17, "only one of WorkloadSelector or Endpoints is allowed in Service Entry"),
            (13, "invalid host *"),
            (14, "CIDR addresses are allowed only for NONE/STATIC resolution types"),
        ],
        "{:#?}",
        l.diagnostics
    );
}

#[test]
fn istio_gateways_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ['*']
  - port: {number: 80, name: https, protocol: HTTP}
    hosts: ['*']
    tls: {mode: SIMPLE, credentialName: cert}
  - port: {number: 8080, name: web, protocol: WEB, targetPort: 8081}
  - port: {number: 9000, name: tcp, protocol: TCP}
    hosts: ['*']
    tls: {mode: PASSTHROUGH}
  - port: {number: 8000, name: redirect, protocol: HTTP}
    hosts: ['*']
    tls: {httpsRedirect: true}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: empty}
spec:
  selector: {istio: ingressgateway}
";
    let l = load_one(text);
    let refused = refusals(&l);
    assert_eq!(
        refused,
        vec![
            (7, "server must have TLS settings for HTTPS/TLS protocols"),
            (11, "server cannot have TLS settings for plain text HTTP ports"),
            (9, "port names in servers must be unique: duplicate name https"),
            (12, "server config must contain at least one host"),
            (12, "invalid protocol \"WEB\", supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP"),
            (12, "targetPort has no impact on Gateways"),
            (15, "server cannot have TLS settings for non HTTPS/TLS ports"),
            (23, "gateway must have at least one server"),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// The Gateway API CRDs' hostname pattern: lowercase DNS labels, `*.` where wildcards are
/// allowed, no scheme, port or path.
#[test]
fn gateway_api_hostnames_outside_the_crd_pattern_are_errors() {
    let text = "\
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  hostnames: [api.example.com, '*.example.com', Shop.example.com, 'http://x.example.com', 'x.example.com:8080']
  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {hostname: '*.example.com'}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: g}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: '*.Example.com'}
";
    let l = load_one(text);
    let got: Vec<(usize, String)> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == diag::INVALID_VALUE)
        .map(|d| {
            (
                d.line,
                d.message.split(" in body").next().unwrap_or("").to_string(),
            )
        })
        .collect();
    let expected: Vec<(usize, &str)> = vec![
        (5, "spec.hostnames[2]: Invalid value: \"Shop.example.com\": spec.hostnames[2]"),
        (5, "spec.hostnames[3]: Invalid value: \"http://x.example.com\": spec.hostnames[3]"),
        (5, "spec.hostnames[4]: Invalid value: \"x.example.com:8080\": spec.hostnames[4]"),
        (9, "spec.rules[0].filters[0].requestRedirect.hostname: Invalid value: \"*.example.com\": spec.rules[0].filters[0].requestRedirect.hostname"),
        (17, "spec.listeners[0].hostname: Invalid value: \"*.Example.com\": spec.listeners[0].hostname"),
    ];
    let got: Vec<(usize, &str)> = got.iter().map(|(l, m)| (*l, m.as_str())).collect();
    assert_eq!(got, expected, "{:#?}", l.diagnostics);
}

/// A Sidecar's egress hosts are `namespace/dnsName`; a Gateway server's may leave out the
/// namespace; neither takes a short name (Istio's ValidateNamespaceSlashWildcardHostname).
#[test]
fn sidecar_and_gateway_hosts_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s}
spec:
  egress:
  - hosts: ['*.example.com']
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [./httpbin, 'Bad_NS/api.example.com', istio-system/*]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [httpbin, 'shop/*.example.com', 'x.example.com', '10.0.0.1']
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (6, "sidecar: the egress listener with empty port should be the last listener in the list"),
            (6, "host must be of form namespace/dnsName"),
            (8, "short names (non FQDN) are not allowed"),
            (8, "invalid namespace value \"Bad_NS\" in sidecar"),
            (17, "short names (non FQDN) are not allowed"),
        ],
        "{:#?}",
        l.diagnostics
    );
}

/// A DestinationRule's traffic policies are kept as free-form values, and their fields are
/// checked all the same (`consecutiveErrors` is still an API field; `consecutive5xxError` is
/// not).
#[test]
fn unknown_fields_of_traffic_policies_kept_as_values_are_named() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: d}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      http: {http1MaxPendingRequest: 10, maxRetries: 3}
    outlierDetection: {consecutive5xxError: 5, consecutiveErrors: 5, interval: 10s}
    loadBalancer:
      consistentHash: {httpCookie: {name: u, ttl: 0s, attributes: [{name: a, valu: b}]}}
    portLevelSettings:
    - port: {numbr: 80}
      loadBalancer: {simple: ROUND_ROBIN}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {simpel: LEAST_REQUEST}
";
    let l = load_one(text);
    let got: Vec<(usize, String, Option<String>)> = unknown_fields(&l);
    let fields: Vec<(usize, &str, Option<&str>)> = got
        .iter()
        .map(|(l, f, h)| (*l, f.as_str(), h.as_deref()))
        .collect();
    assert_eq!(
        fields,
        vec![
            (8, "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequest", Some("did you mean \"http1MaxPendingRequests\"? Check the field's spelling and indentation")),
            (9, "spec.trafficPolicy.outlierDetection.consecutive5xxError", Some("did you mean \"consecutive5xxErrors\"? Check the field's spelling and indentation")),
            (11, "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes[0].valu", Some("did you mean \"value\"? Check the field's spelling and indentation")),
            (13, "spec.trafficPolicy.portLevelSettings[0].port.numbr", Some("did you mean \"number\"? Check the field's spelling and indentation")),
            (19, "spec.subsets[0].trafficPolicy.loadBalancer.simpel", Some("did you mean \"simple\"? Check the field's spelling and indentation")),
        ],
        "{:#?}",
        l.diagnostics
    );
}

#[test]
fn unknown_fields_of_authorization_rules_and_sidecar_ingress_are_named() {
    let text = "\
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a}
spec:
  rules:
  - from: [{source: {principal: [cluster.local/ns/a/sa/b]}}]
    to: [{operation: {methods: [GET], path: [/x]}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s}
spec:
  ingress:
  - port: {number: 9080, protocol: HTTP, name: http}
    defaultEndpoints: 127.0.0.1:8080
";
    let l = load_one(text);
    let fields = unknown_field_paths(&l);
    assert_eq!(
        fields,
        vec![
            (6, "spec.rules[0].from[0].source.principal".to_string()),
            (7, "spec.rules[0].to[0].operation.path".to_string()),
            (15, "spec.ingress[0].defaultEndpoints".to_string()),
        ],
        "{:#?}",
        l.diagnostics
    );
}

#[test]
fn tls_and_tcp_routes_istio_s_webhook_refuses_are_errors() {
    let text = "\
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v}
spec:
  hosts: [api.example.com]
  tls:
  - match: [{port: 443}]
  - route: [{destination: {host: api.example.com}}]
  tcp:
  - match: [{port: 9000}]
";
    let l = load_one(text);
    assert_eq!(
        refusals(&l),
        vec![
            (7, "TLS match must have at least one SNI host"),
            (7, "TLS route is required"),
            (8, "TLS route must have at least one match condition"),
            (10, "TCP route is required"),
        ],
        "{:#?}",
        l.diagnostics
    );
}
