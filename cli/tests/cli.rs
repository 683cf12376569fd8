//! The CLI at its boundary: exit codes, stdout and stderr of real runs of the binary. The text
//! trace of the built-in example is a snapshot (`tests/snapshots/`; set UPDATE_SNAPSHOTS=1 to
//! rewrite it after an intended change).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn meshsim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the meshsim binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn snapshot(name: &str, actual: &str) {
    let path = root().join("cli/tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("snapshot written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        expected, actual,
        "snapshot {name} differs (UPDATE_SNAPSHOTS=1 rewrites it)"
    );
}

#[test]
fn builtin_example_headers_is_200_and_matches_the_snapshot() {
    let (code, out, _) = meshsim(&["trace", "curl -> httpbin.example.com/headers"]);
    assert_eq!(code, 0);
    assert!(out.contains("result: 200 OK"), "{out}");
    snapshot("trace-headers.txt", &out);
}

#[test]
fn builtin_example_get_is_404_and_exits_1() {
    let (code, out, _) = meshsim(&["trace", "curl", "httpbin.example.com/get"]);
    assert_eq!(code, 1);
    assert!(out.contains("result: 404 Not Found"), "{out}");
    assert!(out.contains("404 NR route_not_found"), "{out}");
    assert!(
        out.contains("30-httpbin-gateway.yaml:"),
        "the 404 names the route's file and line: {out}"
    );
}

#[test]
fn json_output_has_the_case_format_fields() {
    let (code, out, _) = meshsim(&[
        "trace",
        "-o",
        "json",
        "--from",
        "curl/curl",
        "-H",
        "Host: httpbin.example.com",
        "istio-ingressgateway.istio-ingress.svc.cluster.local/headers",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["status"], 200);
    assert_eq!(v["flags"], "-");
    assert_eq!(v["details"], "via_upstream");
    assert_eq!(v["backend"]["namespace"], "httpbin");
    assert_eq!(v["backend"]["name"], "httpbin");
    assert_eq!(
        v["cluster"],
        "outbound|8000||httpbin.httpbin.svc.cluster.local"
    );
    assert_eq!(v["upstream_request"]["path"], "/headers");
    let kinds: Vec<&str> = v["hops"]
        .as_array()
        .expect("hops")
        .iter()
        .map(|h| h["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, vec!["sidecar", "gateway", "sidecar"]);
}

#[test]
fn a_missing_destination_explains_the_shell_redirection() {
    let (code, _, err) = meshsim(&["trace", "curl"]);
    assert_eq!(code, 2);
    assert!(err.contains("redirection"), "{err}");
    let (code, _, err) = meshsim(&["trace", "curl ->"]);
    assert_eq!(code, 2);
    assert!(err.contains("quote"), "{err}");
}

#[test]
fn an_ambiguous_or_unknown_source_is_an_error_with_a_hint() {
    let (code, _, err) = meshsim(&["trace", "nobody -> httpbin.example.com/"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no workload named") && err.contains("hint:"),
        "{err}"
    );
}

#[test]
fn bad_manifests_exit_2_naming_file_and_line() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path();
    let f = dir.join("bad.yaml");
    std::fs::write(&f, "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  ports:\n  - port: eighty\n").expect("write");
    let (code, _, err) = meshsim(&["get", "services", "-f", f.to_str().unwrap_or("")]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.yaml:7"), "{err}");
    assert!(
        err.contains("error[MS0102]") && err.contains("hint:"),
        "{err}"
    );
    let (code, _, err) = meshsim(&[
        "get",
        "services",
        "-f",
        dir.join("missing.yaml").to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.yaml"), "{err}");
}

#[test]
fn get_workloads_json_shows_the_proxy_of_each_workload() {
    let (code, out, _) = meshsim(&["get", "workloads", "-A", "-o", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let proxy = |name: &str| {
        v.as_array()
            .and_then(|a| a.iter().find(|w| w["name"] == name))
            .map(|w| w["proxy"].clone())
    };
    assert_eq!(proxy("istio-ingressgateway"), Some("gateway".into()));
    assert_eq!(proxy("httpbin"), Some("sidecar".into()));
    assert_eq!(proxy("curl"), Some("sidecar".into()));
    for w in v.as_array().expect("array") {
        for k in [
            "namespace",
            "name",
            "kind",
            "proxy",
            "service_account",
            "addresses",
        ] {
            assert!(w.get(k).is_some(), "{k} missing in {w}");
        }
    }
}

#[test]
fn test_command_counts_and_exits_1_on_failure() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path();
    let manifests = root().join("scenarios/istio-gateway-ingress/manifests");
    let f = dir.join("x.cases.yaml");
    std::fs::write(
        &f,
        format!("manifests: [{}]\ncases:\n- name: right\n  from: curl\n  request: {{url: http://httpbin.example.com/headers}}\n  expect: {{status: 200}}\n- name: wrong on purpose\n  from: curl\n  request: {{url: http://httpbin.example.com/get}}\n  expect: {{status: 200}}\n", manifests.display()),
    )
    .expect("write");
    let junit = dir.join("r.xml");
    let (code, out, _) = meshsim(&[
        "test",
        f.to_str().unwrap_or(""),
        "--junit",
        junit.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("status: expected 200, got 404"), "{out}");
    assert!(out.trim_end().ends_with("1 passed, 1 failed"), "{out}");
    let xml = std::fs::read_to_string(&junit).expect("junit written");
    assert!(xml.contains("tests=\"2\" failures=\"1\""), "{xml}");
    // --timings adds one line per case file on stderr; the report itself is unchanged.
    let (code, timed, err) = meshsim(&["test", "--timings", f.to_str().unwrap_or("")]);
    assert_eq!(code, 1);
    assert_eq!(timed, out);
    let line = err
        .lines()
        .find(|l| l.contains("x.cases.yaml: case file "))
        .unwrap_or("");
    assert!(
        line.contains(" s, manifests to model ")
            && line.contains(" s, 2 cases ")
            && line.ends_with(" µs a case)"),
        "{err}"
    );
}

#[test]
fn requests_file_traces_many_json_lines() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meshsim"))
        .args(["trace", "--requests", "-", "-o", "json"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let lines = "{\"from\":\"curl\",\"url\":\"http://httpbin.example.com/headers\"}\n{\"from\":\"curl\",\"url\":\"http://httpbin.example.com/status/503\"}\n";
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    let statuses: Vec<i64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| v["status"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(statuses, vec![200, 503]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failed request makes the run a negative answer"
    );
}

#[test]
fn version_and_help_work() {
    let (code, out, _) = meshsim(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("meshsim "), "{out}");
    for cmd in ["trace", "get", "test", "analyze"] {
        let (code, out, _) = meshsim(&[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(
            out.contains("Examples:"),
            "{cmd} --help has examples: {out}"
        );
    }
}

#[test]
fn waypoint_list_and_status_mirror_istioctl() {
    let args = [
        "-f",
        "scenarios/egress-ambient-waypoint/manifests",
        "-f",
        "scenarios/egress-ambient-waypoint/after",
        "-q",
    ];
    let (code, out, _) =
        meshsim(&[&["waypoint", "list", "-n", "egress-gateway"][..], &args[..]].concat());
    assert_eq!(code, 0);
    assert!(
        out.contains("NAME")
            && out.contains("PROGRAMMED")
            && out.contains("waypoint")
            && out.contains("True"),
        "{out}"
    );
    assert!(
        out.contains("ServiceEntry egress-gateway/httpbin-ext"),
        "{out}"
    );
    let (code, out, _) = meshsim(
        &[
            &[
                "waypoint",
                "status",
                "-n",
                "egress-gateway",
                "--name",
                "waypoint",
            ][..],
            &args[..],
        ]
        .concat(),
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("assigned to service(s) waypoint.egress-gateway.svc.cluster.local:15008"),
        "{out}"
    );
    let (code, _, err) = meshsim(
        &[
            &[
                "waypoint",
                "status",
                "-n",
                "egress-gateway",
                "--name",
                "nope",
            ][..],
            &args[..],
        ]
        .concat(),
    );
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn mesh_config_file_changes_the_outbound_policy() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let dir = scratch.path();
    let mc = dir.join("mesh.yaml");
    std::fs::write(&mc, "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n").expect("write");
    let (code, out, _) = meshsim(&["trace", "curl -> http://www.example.org/", "-o", "json"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = meshsim(&[
        "trace",
        "curl -> http://www.example.org/",
        "-o",
        "json",
        "--mesh-config",
        mc.to_str().unwrap_or(""),
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["status"], 502);
    assert_eq!(v["details"], "direct_response");
    let text = v.to_string();
    assert!(
        text.contains("--mesh-config"),
        "the trace says where the policy was set: {text}"
    );
}

#[test]
fn an_unresolvable_host_is_a_dns_failure() {
    let (code, out, _) = meshsim(&[
        "trace",
        "curl -> http://nothing.svc.cluster.local/",
        "-o",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["status"], 0);
    assert_eq!(v["outcome"], "dns_failure");
}
