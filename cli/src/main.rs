//! `meshsim`: the command-line shell around meshsim-core. Flags are parsed once into plain
//! options; data goes to stdout, diagnostics to stderr; exit 0 success, 1 a negative answer
//! (a failed request or case), 2 bad input or usage.

/// A trace allocates hundreds of small strings and lists; mimalloc serves them in a fraction of
/// the instructions the system allocator takes.
#[global_allocator]
static ALLOCATOR: meshsim_cli::alloc::Allocator = meshsim_cli::alloc::Allocator;

/// Writes to stdout; a closed pipe (`meshsim ... | head`) ends the program quietly instead of
/// panicking, as Unix tools do.
fn emit(s: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(s.as_bytes()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

macro_rules! emitln {
    ($($arg:tt)*) => {
        emit(&format!("{}\n", format!($($arg)*)))
    };
}

macro_rules! emitf {
    ($($arg:tt)*) => {
        emit(&format!($($arg)*))
    };
}

mod get;
mod waypoint;

use clap::{Parser, Subcommand};
use meshsim_cli::{cases, inputs};
use meshsim_core::diag::Severity;
use meshsim_core::{LoadOptions, Mesh, ModelOptions, Request};
use std::process::ExitCode;

const AFTER_HELP: &str = "Examples:
  meshsim trace 'curl -> httpbin.example.com/headers'      # the built-in example
  meshsim get workloads -A -f manifests/
  meshsim test scenarios/
  meshsim wait --for=condition=programmed gateway/httpbin-gateway -n httpbin -f manifests/

With no -f, meshsim uses its built-in example: the httpbin and curl samples behind an injected
ingress gateway with an Istio Gateway and VirtualService (scenarios/istio-gateway-ingress).

Exit codes: 0 success, 1 a negative answer (a failed request or case), 2 bad input or usage.";

#[derive(Parser)]
#[command(name = "meshsim", version, about = "Offline traffic-routing simulator for Istio service meshes and the Gateway API", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Inputs {
    /// Manifests: a file, a folder (recursively *.yaml, *.yml, *.json) or - for stdin. Repeatable.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<String>,
    /// meshConfig document applied over the manifests' own (as istioctl's --meshConfigFile).
    #[arg(long = "mesh-config", value_name = "FILE")]
    mesh_config: Option<String>,
    /// Namespace for objects that name none (as kubectl apply -n).
    #[arg(
        long = "default-namespace",
        value_name = "NS",
        default_value = "default"
    )]
    default_namespace: String,
    /// Print no warnings or notes about the manifests.
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List what the model holds: workloads, services, gateways, routes, serviceentries, waypoints.
    #[command(after_help = "Examples:
  meshsim get workloads -A                    # every workload of the built-in example and its proxy
  meshsim get services -n httpbin -o json
  meshsim get gateways -f gateway-api/ -o yaml")]
    Get {
        /// workloads | services | gateways | routes | httproutes | serviceentries | waypoints
        what: String,
        /// Only this namespace.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// All namespaces (the default when -n is not given).
        #[arg(short = 'A', long = "all-namespaces")]
        all: bool,
        /// table | json | yaml | wide
        #[arg(short = 'o', long, default_value = "table")]
        output: String,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Trace a request hop by hop: meshsim trace 'SRC -> DEST' (quote it: a bare -> is a shell redirection).
    #[command(after_help = "Examples:
  meshsim trace 'curl -> httpbin.example.com/headers'
  meshsim trace curl httpbin.example.com/get
  meshsim trace --from curl/curl -H 'Host: httpbin.example.com' istio-ingressgateway.istio-ingress.svc.cluster.local/headers
  meshsim trace --from external -o json http://203.0.113.10/headers -H Host:httpbin.example.com
  meshsim trace --requests requests.jsonl     # one JSON object a line: {\"from\":..,\"url\":..,\"method\":..,\"headers\":{..}}

SRC is a workload (name, namespace/name, a pod name) or 'external'. DEST is host[:port][/path][?query] or a URL.")]
    Trace {
        /// 'SRC -> DEST', or SRC DEST, or DEST alone with --from.
        request: Vec<String>,
        /// The client: a workload, namespace/workload, a pod, or 'external'.
        #[arg(long)]
        from: Option<String>,
        /// HTTP method.
        #[arg(short = 'X', long = "request", default_value = "GET")]
        method: String,
        /// Send HEAD (as curl -I).
        #[arg(short = 'I', long = "head")]
        head: bool,
        /// Request header 'Name: value' (repeatable); Host overrides the URL's authority.
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Connect to HOST:PORT instead of the URL's host (as curl --connect-to ::HOST:PORT).
        #[arg(long = "connect-to", value_name = "HOST:PORT")]
        connect_to: Option<String>,
        /// Pick among weighted backends with this seed (without it the split is reported).
        #[arg(long)]
        seed: Option<u64>,
        /// text | json
        #[arg(short = 'o', long, default_value = "text")]
        output: String,
        /// Trace many requests: a file of JSON lines (- for stdin).
        #[arg(long, value_name = "FILE")]
        requests: Option<String>,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Run case files (*.cases.yaml): print what differs for each failing case, then 'N passed, M failed'.
    #[command(after_help = "Examples:
  meshsim test scenarios/
  meshsim test ../shared/conformance --junit report.xml")]
    Test {
        /// Case files or folders holding them.
        #[arg(required = true)]
        paths: Vec<String>,
        /// Also write a JUnit XML report.
        #[arg(long, value_name = "FILE")]
        junit: Option<String>,
        /// Print every case, not only failures.
        #[arg(short, long)]
        verbose: bool,
        /// Print, per case file, how long reading it, building the model of its manifests
        /// and running its cases took (to stderr).
        #[arg(long)]
        timings: bool,
    },
    /// Wait for a condition, as kubectl/oc wait: meshsim wait --for=condition=programmed gateway/NAME -n NS.
    #[command(after_help = "Examples:
  meshsim wait --for=condition=programmed gateway/httpbin-gateway -n httpbin -f manifests/
  meshsim wait --for=condition=programmed gtw httpbin-gateway -n httpbin -f manifests/

The model is computed once, so the answer is immediate: the condition is met (exit 0), or it
never will be and meshsim prints the error oc wait prints at its timeout (exit 1).")]
    Wait {
        /// TYPE/NAME, or TYPE NAME (gateway, gtw, gateways.gateway.networking.k8s.io).
        #[arg(required = true)]
        resource: Vec<String>,
        /// condition=NAME[=VALUE] (VALUE defaults to True).
        #[arg(long = "for", value_name = "condition=NAME")]
        for_: String,
        /// The namespace of the object.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        /// Accepted for compatibility with oc wait; the answer does not depend on it.
        #[arg(long, default_value = "30s")]
        timeout: String,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Waypoints, as istioctl waypoint shows them: list | status.
    #[command(after_help = "Examples:
  meshsim waypoint list -A -f scenarios/ambient-mesh/manifests -f scenarios/ambient-mesh/waypoint
  meshsim waypoint status -n ambient --name waypoint -f ...")]
    Waypoint {
        /// list | status
        action: String,
        /// Only this namespace.
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// All namespaces (the default when -n is not given).
        #[arg(short = 'A', long = "all-namespaces")]
        all: bool,
        /// Only the waypoint of this name (status).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        inputs: Inputs,
    },
    /// Print the diagnostics of the manifests (as istioctl analyze); exit 2 on errors.
    #[command(after_help = "Examples:
  meshsim analyze -f manifests/
  meshsim analyze --codes        # the registry of diagnostic codes")]
    Analyze {
        /// List every diagnostic code with its title.
        #[arg(long)]
        codes: bool,
        #[command(flatten)]
        inputs: Inputs,
    },
}

fn main() -> ExitCode {
    meshsim_cli::inputs::small_pages();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Get {
            what,
            namespace,
            all,
            output,
            inputs,
        } => {
            let Some(mesh) = load(&inputs) else {
                return ExitCode::from(2);
            };
            let ns = if all { None } else { namespace };
            match get::run(&mesh, &what, ns.as_deref(), &output) {
                Ok(s) => {
                    emitf!("{s}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Trace {
            request,
            from,
            method,
            head,
            headers,
            connect_to,
            seed,
            output,
            requests,
            inputs,
        } => {
            let Some(mesh) = load(&inputs) else {
                return ExitCode::from(2);
            };
            if let Some(file) = requests {
                return trace_many(&mesh, &file, &output);
            }
            let args = meshsim_core::api::RequestArgs {
                words: request,
                from,
                method: Some(method),
                head,
                headers,
                connect_to,
                seed,
            };
            let req = match meshsim_core::api::request_from_args(&args) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            match meshsim_core::sim::trace(&mesh, &req) {
                Ok(t) => {
                    match output.as_str() {
                        "json" => match meshsim_core::api::trace_to_json(&t) {
                            Ok(json) => emitln!("{json}"),
                            Err(e) => {
                                eprintln!("error: {e}");
                                return ExitCode::from(2);
                            }
                        },
                        "text" => emitf!("{}", meshsim_core::render::text::trace_text(&t)),
                        other => {
                            eprintln!("error: unknown output format {other:?}\n  hint: use -o text or -o json");
                            return ExitCode::from(2);
                        }
                    }
                    if t.status == 0 || t.status >= 400 {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Test {
            paths,
            junit,
            verbose,
            timings,
        } => {
            let files = match cases::collect(&paths) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            };
            if files.is_empty() {
                eprintln!("error: no case files (*.cases.yaml) under {}\n  hint: give case files or folders holding them", paths.join(", "));
                return ExitCode::from(2);
            }
            let report = cases::run(&files);
            for r in &report.results {
                if !r.failures.is_empty() {
                    emitln!("FAIL {} :: {}", r.file, r.name);
                    for f in &r.failures {
                        emitln!("    {f}");
                    }
                } else if verbose {
                    emitln!("ok   {} :: {}", r.file, r.name);
                }
            }
            if let Some(j) = junit {
                if let Err(e) = std::fs::write(&j, cases::junit(&report)) {
                    eprintln!("error: cannot write {j}: {e}");
                    return ExitCode::from(2);
                }
            }
            if timings {
                for t in &report.timings {
                    eprintln!("{}", t.line());
                }
            }
            emitln!("{} passed, {} failed", report.passed(), report.failed());
            if report.failed() > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Wait {
            resource,
            for_,
            namespace,
            timeout,
            inputs,
        } => {
            let _ = timeout;
            let Some(mesh) = load(&inputs) else {
                return ExitCode::from(2);
            };
            match wait(&mesh, &resource, &for_, &namespace) {
                Ok(line) => {
                    emitln!("{line}");
                    ExitCode::SUCCESS
                }
                Err((msg, code)) => {
                    eprintln!("{msg}");
                    ExitCode::from(code)
                }
            }
        }
        Command::Waypoint {
            action,
            namespace,
            all,
            name,
            inputs,
        } => {
            let Some(mesh) = load(&inputs) else {
                return ExitCode::from(2);
            };
            let ns = if all { None } else { namespace };
            match action.as_str() {
                "list" => {
                    emit(&waypoint::list(&mesh, ns.as_deref()));
                    ExitCode::SUCCESS
                }
                "status" => match waypoint::status(&mesh, ns.as_deref(), name.as_deref()) {
                    Ok(s) => {
                        emit(&s);
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        ExitCode::from(1)
                    }
                },
                other => {
                    eprintln!("error: unknown waypoint action {other:?}\n  hint: meshsim waypoint list | status");
                    ExitCode::from(2)
                }
            }
        }
        Command::Analyze { codes, inputs } => {
            if codes {
                for c in meshsim_core::diag::REGISTRY {
                    emitln!(
                        "{}  {:<7}  {}\n         {}",
                        c.code,
                        c.severity.to_string(),
                        c.title,
                        c.explanation
                    );
                }
                return ExitCode::SUCCESS;
            }
            let files = match read_inputs(&inputs) {
                Ok(f) => f,
                Err(code) => return code,
            };
            let model = match model_options(&inputs) {
                Ok(m) => m,
                Err(code) => return code,
            };
            let (_, diags) = inputs::build(
                files,
                &LoadOptions {
                    default_namespace: inputs.default_namespace.clone(),
                },
                &model,
            );
            for d in &diags {
                emitln!("{d}");
            }
            if diags.iter().any(|d| d.is_error()) {
                ExitCode::from(2)
            } else {
                if diags.is_empty() {
                    emitln!("no problems found");
                }
                ExitCode::SUCCESS
            }
        }
    }
}

/// `oc wait --for=condition=...` on a Gateway: the line it prints when the condition holds,
/// or the error it prints (and its exit code) when it does not.
fn wait(
    mesh: &Mesh,
    resource: &[String],
    for_: &str,
    namespace: &str,
) -> Result<String, (String, u8)> {
    let usage = |m: String| (format!("error: {m}"), 2u8);
    let (kind, name) = match resource {
        [one] => match one.split_once('/') {
            Some((k, n)) => (k.to_string(), n.to_string()),
            None => return Err(usage(format!("{one:?}: write TYPE/NAME or TYPE NAME"))),
        },
        [k, n] => (k.clone(), n.clone()),
        _ => return Err(usage("one resource: TYPE/NAME or TYPE NAME".into())),
    };
    let kind_l = kind.to_ascii_lowercase();
    if !matches!(
        kind_l.as_str(),
        "gateway"
            | "gateways"
            | "gtw"
            | "gateway.gateway.networking.k8s.io"
            | "gateways.gateway.networking.k8s.io"
    ) {
        return Err(usage(format!(
            "meshsim waits on Gateway API Gateways only, not {kind:?}\n  hint: meshsim wait --for=condition=programmed gateway/NAME -n NS"
        )));
    }
    let Some(cond) = for_.strip_prefix("condition=") else {
        return Err(usage(format!(
            "--for={for_}: only condition=NAME[=VALUE] is supported"
        )));
    };
    let (cond, want) = cond.split_once('=').unwrap_or((cond, "True"));
    let Some(gi) = mesh
        .gateways
        .iter()
        .position(|g| g.namespace == namespace && g.name == name)
    else {
        return Err((
            format!("Error from server (NotFound): gateways.gateway.networking.k8s.io {name:?} not found"),
            1,
        ));
    };
    match meshsim_core::model::gwapi::gateway_condition(mesh, gi, cond) {
        Some(c) if c.status.eq_ignore_ascii_case(want) => Ok(format!(
            "gateway.gateway.networking.k8s.io/{name} condition met"
        )),
        found => {
            let why = match found {
                Some(c) => format!("{} is {} ({}: {})", c.type_, c.status, c.reason, c.message),
                None => format!("the Gateway has no condition {cond}"),
            };
            Err((
                format!(
                    "error: timed out waiting for the condition on gateways/{name}\n  hint: {why}"
                ),
                1,
            ))
        }
    }
}

fn read_inputs(inputs: &Inputs) -> Result<Vec<meshsim_core::SourceFile>, ExitCode> {
    if inputs.files.is_empty() {
        return Ok(meshsim_core::examples::builtin_files());
    }
    inputs::read_paths(&inputs.files).map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(2)
    })
}

fn model_options(inputs: &Inputs) -> Result<ModelOptions, ExitCode> {
    let mut model = ModelOptions::default();
    if let Some(mc) = &inputs.mesh_config {
        let text = std::fs::read_to_string(mc).map_err(|e| {
            eprintln!(
                "error: cannot read {mc}: {e}\n  hint: --mesh-config takes a meshConfig YAML file"
            );
            ExitCode::from(2)
        })?;
        match meshsim_core::parse_mesh_config(mc, &text) {
            Ok(m) => {
                model.mesh_config = Some(m);
                model.mesh_config_source = Some(format!("--mesh-config {mc}"));
            }
            Err(d) => {
                eprintln!("{d}");
                return Err(ExitCode::from(2));
            }
        }
    }
    Ok(model)
}

/// Loads and builds; prints diagnostics to stderr; None (exit 2) when any is an error.
fn load(inputs: &Inputs) -> Option<Mesh> {
    let files = read_inputs(inputs).ok()?;
    let model = model_options(inputs).ok()?;
    let (mesh, diags) = inputs::build(
        files,
        &LoadOptions {
            default_namespace: inputs.default_namespace.clone(),
        },
        &model,
    );
    let errors = diags.iter().any(|d| d.is_error());
    for d in &diags {
        if d.is_error()
            || (!inputs.quiet && d.severity != Severity::Note)
            || (!inputs.quiet && !inputs.files.is_empty())
        {
            eprintln!("{d}");
        }
    }
    if errors {
        eprintln!("error: the manifests have errors; nothing was simulated");
        return None;
    }
    Some(mesh)
}

fn trace_many(mesh: &Mesh, file: &str, output: &str) -> ExitCode {
    let text = if file == "-" {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut s);
        s
    } else {
        match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: cannot read {file}: {e}");
                return ExitCode::from(2);
            }
        }
    };
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(default)]
        from: Option<String>,
        url: String,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        headers: std::collections::BTreeMap<String, String>,
        #[serde(default)]
        connect_to: Option<String>,
        #[serde(default)]
        seed: Option<u64>,
    }
    let mut failed = false;
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        let line: Line = match serde_json::from_str(l) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {file}:{}: {e}\n  hint: one JSON object a line, e.g. {{\"from\":\"curl\",\"url\":\"httpbin:8000/get\"}}", i + 1);
                return ExitCode::from(2);
            }
        };
        let req = Request {
            from: line.from.unwrap_or_else(|| "external".into()),
            method: line.method.unwrap_or_else(|| "GET".into()),
            url: line.url,
            headers: line.headers.into_iter().collect(),
            connect_to: line.connect_to,
            seed: line.seed,
        };
        match meshsim_core::sim::trace(mesh, &req) {
            Ok(t) => {
                failed |= t.status == 0 || t.status >= 400;
                if output == "json" {
                    emitln!("{}", serde_json::to_string(&t).unwrap_or_default());
                } else {
                    emitln!("{}", meshsim_core::render::text::trace_text(&t));
                }
            }
            Err(e) => {
                eprintln!("error: {file}:{}: {e}", i + 1);
                return ExitCode::from(2);
            }
        }
    }
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
