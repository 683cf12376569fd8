//! Runs case files: one model per file, every case against it, a report per case.

use crate::inputs;
use meshsim_core::cases::{check, parse_case_file, parse_cases, split_case_file, Case, CaseFile};
use meshsim_core::sim::{trace_with, Detail};
use meshsim_core::{LoadOptions, Mesh, ModelOptions, Severity};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct CaseResult {
    pub file: String,
    pub name: String,
    /// Empty when the case passed.
    pub failures: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Report {
    pub results: Vec<CaseResult>,
    /// Where the time went, per case file read.
    pub timings: Vec<FileTimings>,
}

/// Wall-clock time of the stages of one case file (`meshsim test --timings`).
#[derive(Debug, Clone)]
pub struct FileTimings {
    pub file: String,
    /// Reading the case file and parsing it: all of it when it is small, only what is not a
    /// case (manifests, mesh settings) when its cases are parsed part by part as they run.
    pub case_file: Duration,
    /// Reading the manifests and building the model.
    pub model: Duration,
    /// Tracing every case and checking its expectations (and parsing the cases of a file
    /// read part by part).
    pub cases: Duration,
    /// Of the threads' time during `cases`, added up, how much went to parsing cases (zero
    /// when the file was parsed whole before the model).
    pub parsing_cases: Duration,
    pub count: usize,
    /// How many threads ran the cases.
    pub threads: usize,
}

impl FileTimings {
    /// `FILE: case file 0.41 s, manifests to model 1.62 s, 20000 cases 0.16 s on 2 threads
    /// (15.5 µs of a thread a case)`: the cases' time times the threads, less the time the
    /// threads spent parsing cases, divided by the cases. A file whose cases are parsed as
    /// they run says so: `20000 cases 0.28 s on 2 threads, parsing them took 0.11 s of each
    /// (16.3 µs of a thread a case)`.
    pub fn line(&self) -> String {
        let threads = self.threads as f64;
        let per_case = if self.count == 0 {
            0.0
        } else {
            (self.cases.as_secs_f64() * threads - self.parsing_cases.as_secs_f64()).max(0.0) * 1e6
                / self.count as f64
        };
        let on = if self.threads == 1 {
            "a case"
        } else {
            "of a thread a case"
        };
        let parsing = if self.parsing_cases.is_zero() {
            String::new()
        } else {
            format!(
                ", parsing them took {:.2} s of {}",
                self.parsing_cases.as_secs_f64() / threads,
                if self.threads == 1 { "it" } else { "each" }
            )
        };
        format!(
            "{}: case file {:.2} s, manifests to model {:.2} s, {} cases {:.2} s on {} thread{}{parsing} ({per_case:.1} µs {on})",
            self.file,
            self.case_file.as_secs_f64(),
            self.model.as_secs_f64(),
            self.count,
            self.cases.as_secs_f64(),
            self.threads,
            if self.threads == 1 { "" } else { "s" },
        )
    }
}

impl Report {
    pub fn passed(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.failures.is_empty())
            .count()
    }
    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }
}

/// `*.cases.yaml` files under the given files and folders, sorted.
pub fn collect(paths: &[String]) -> Result<Vec<PathBuf>, inputs::InputError> {
    let mut out = Vec::new();
    for p in paths {
        let path = Path::new(p);
        if path.is_dir() {
            collect_dir(path, &mut out).map_err(|e| inputs::InputError {
                message: format!("cannot read folder {p}: {e}"),
                hint: "check the path".into(),
            })?;
        } else if path.exists() {
            out.push(path.to_path_buf());
        } else {
            return Err(inputs::InputError {
                message: format!("{p} does not exist"),
                hint: "give case files (*.cases.yaml) or folders holding them".into(),
            });
        }
    }
    Ok(out)
}

fn collect_dir(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_dir(&p, out)?;
        } else if p.to_string_lossy().ends_with(".cases.yaml") {
            out.push(p);
        }
    }
    Ok(())
}

/// A case file read, with the model of its manifests built.
pub struct LoadedCases {
    pub file: String,
    pub mesh: Mesh,
    pub cases: CaseFile,
}

/// Reads a case file and builds the model of its manifests; the error says what is wrong with
/// the file itself.
pub fn load_file(path: &Path) -> Result<LoadedCases, String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cf = parse_on_threads(&file, &text, available).map_err(|d| d.to_string())?;
    drop(text);
    let mesh = build_model(path, &file, &cf)?;
    Ok(LoadedCases {
        file,
        mesh,
        cases: cf,
    })
}

/// The model of a case file's manifests (`manifests:`, with its `mesh:` settings), or what is
/// wrong with them.
fn build_model(path: &Path, file: &str, cf: &CaseFile) -> Result<Mesh, String> {
    let base = path.parent().unwrap_or(Path::new("."));
    let paths: Vec<String> = cf
        .manifests
        .iter()
        .map(|m| base.join(m).display().to_string())
        .collect();
    let files = inputs::read_paths(&paths).map_err(|e| e.to_string())?;
    let model = ModelOptions {
        mesh_config: cf.mesh.clone(),
        mesh_config_source: Some(format!("{file} (mesh:)")),
    };
    let (mesh, diags) = inputs::build(files, &LoadOptions::default(), &model);
    let errors: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.to_string())
        .collect();
    if !errors.is_empty() {
        return Err(format!("the manifests have errors:\n{}", errors.join("\n")));
    }
    Ok(mesh)
}

/// Below this many bytes of case file per thread, starting a thread costs more than it saves.
const MIN_BYTES_PER_THREAD: usize = 64 * 1024;

/// Parses a case file as [`parse_case_file`] does, its cases in parts on up to `threads`
/// threads when the file is large and can be cut safely ([`plan_cases`]). When a part does
/// not parse, the whole file is parsed again, for the error and its line.
pub fn parse_on_threads(
    file: &str,
    text: &str,
    threads: usize,
) -> Result<CaseFile, Box<meshsim_core::diag::Diagnostic>> {
    let mut plan = plan_cases(file, text, threads)?;
    if plan.parts.is_empty() {
        return Ok(plan.header);
    }
    let runs = across_threads(&plan.parts, plan.threads, |run| {
        run.iter()
            .map(|part| parse_cases(part))
            .collect::<Result<Vec<_>, _>>()
    });
    match runs.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(runs) => {
            plan.header.cases = runs.into_iter().flatten().flatten().collect();
            Ok(plan.header)
        }
        Err(_) => parse_case_file(file, text),
    }
}

/// `work` on consecutive runs of `items`, a run a thread on up to `threads` threads; the
/// runs' answers in the items' order.
fn across_threads<I: Sync, T: Send>(
    items: &[I],
    threads: usize,
    work: impl Fn(&[I]) -> T + Sync,
) -> Vec<T> {
    if threads <= 1 || items.len() <= 1 {
        return vec![work(items)];
    }
    let per_thread = items.len().div_ceil(threads);
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per_thread)
            .map(|run| scope.spawn(move || work(run)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The detail a case needs: a verdict, unless it checks access-log lines.
pub fn detail_for(case: &Case) -> Detail {
    if case.expect.logs.is_empty() {
        Detail::Verdict
    } else {
        Detail::Full
    }
}

/// Runs one case file; problems with the file itself fail each of its cases (or one
/// pseudo-case when it cannot be read).
pub fn run_file(path: &Path) -> Vec<CaseResult> {
    run_file_timed(path).0
}

fn run_file_timed(path: &Path) -> (Vec<CaseResult>, Option<FileTimings>) {
    let file = path.display().to_string();
    let failed = |file: &str, why: String| {
        let failed = CaseResult {
            file: file.to_string(),
            name: "(file)".into(),
            failures: vec![why],
        };
        (vec![failed], None)
    };
    let start = Instant::now();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return failed(&file, format!("cannot read: {e}")),
    };
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = match plan_cases(&file, &text, available) {
        Ok(p) => p,
        Err(d) => return failed(&file, d.to_string()),
    };
    let case_file = start.elapsed();
    let mesh = match build_model(path, &file, &plan.header) {
        Ok(m) => m,
        // The whole file is read before its manifests, as it is when its cases are parsed
        // up front: a mistake in a case is the answer, not the manifests' errors.
        Err(why) if plan.parts.is_empty() => return failed(&file, why),
        Err(why) => {
            let why = parse_case_file(&file, &text)
                .err()
                .map_or(why, |d| d.to_string());
            return failed(&file, why);
        }
    };
    let model = start.elapsed() - case_file;
    let start = Instant::now();
    let mut l = LoadedCases {
        file,
        mesh,
        cases: plan.header,
    };
    let (results, threads, parsing_cases) = if plan.parts.is_empty() {
        let threads = case_threads(l.cases.cases.len(), available);
        (run_cases(&l, threads), threads, Duration::ZERO)
    } else {
        let threads = plan.threads;
        // Each part's parsed cases are freed once run; returned at once, their pages do not
        // pile up (20,000 cases on the 10,000-service mesh, two threads: a peak of 133-136 MB
        // instead of 162-167, for about a tenth more time running the cases).
        match crate::inputs::returning_memory(|| run_parts(&l, &plan.parts, threads)) {
            Ok((results, parsing)) => (results, threads, parsing),
            // A part that does not parse alone: the whole file says what is wrong and where,
            // or, if it parses whole after all, runs as one.
            Err(()) => match parse_case_file(&l.file, &text) {
                Err(d) => return failed(&l.file, d.to_string()),
                Ok(cf) => {
                    l.cases = cf;
                    let threads = case_threads(l.cases.cases.len(), available);
                    (run_cases(&l, threads), threads, Duration::ZERO)
                }
            },
        }
    };
    let timings = FileTimings {
        file: l.file.clone(),
        case_file,
        model,
        cases: start.elapsed(),
        parsing_cases,
        count: results.len(),
        threads,
    };
    (results, Some(timings))
}

/// Of a large case file, this many bytes at most are parsed at once by a thread: a case
/// parsed takes several times its text, so a file of many cases is not held parsed whole.
const PART_BYTES: usize = 256 * 1024;

/// How a case file's cases are to be read: `header` is the file without its cases (its
/// manifests and mesh settings) when `parts` holds the `cases:` list cut into runs of whole
/// items, each parsed on one of `threads` threads just before its cases run; otherwise it is
/// the whole file, parsed, and `parts` is empty.
struct CasePlan<'t> {
    header: CaseFile,
    parts: Vec<&'t str>,
    threads: usize,
}

fn plan_cases<'t>(
    file: &str,
    text: &'t str,
    available: usize,
) -> Result<CasePlan<'t>, Box<meshsim_core::diag::Diagnostic>> {
    let threads = available.min(text.len() / MIN_BYTES_PER_THREAD).max(1);
    let parts = threads.max(text.len().div_ceil(PART_BYTES));
    let whole = |header| CasePlan {
        header,
        parts: Vec::new(),
        threads,
    };
    // Fewer than two parts are not cut.
    let Some(split) = split_case_file(text, parts) else {
        return parse_case_file(file, text).map(whole);
    };
    match parse_case_file(file, &split.rest) {
        Ok(header) if header.cases.is_empty() => Ok(CasePlan {
            header,
            parts: split.parts,
            threads: threads.min(parts),
        }),
        _ => parse_case_file(file, text).map(whole),
    }
}

/// Runs the cases of `parts` (see [`CasePlan`]) on `threads` threads, each taking a
/// consecutive run of parts and parsing one part at a time; the results come in the file's
/// order. `Err` when a part does not parse.
fn run_parts(
    l: &LoadedCases,
    parts: &[&str],
    threads: usize,
) -> Result<(Vec<CaseResult>, Duration), ()> {
    let run_run = |run: &[&str]| -> Result<(Vec<CaseResult>, Duration), ()> {
        let mut results = Vec::new();
        let mut parsing = Duration::ZERO;
        for part in run {
            let start = Instant::now();
            let cases = parse_cases(part).map_err(|_| ())?;
            parsing += start.elapsed();
            results.extend(cases.iter().map(|c| run_case(l, c)));
        }
        Ok((results, parsing))
    };
    let mut results = Vec::new();
    let mut parsing = Duration::ZERO;
    for run in across_threads(parts, threads, run_run) {
        let (r, p) = run?;
        results.extend(r);
        parsing += p;
    }
    Ok((results, parsing))
}

/// One case traced and checked.
fn run_case(l: &LoadedCases, c: &Case) -> CaseResult {
    let failures = match trace_with(&l.mesh, &c.to_request(), detail_for(c)) {
        Ok(t) => check(&t, &c.expect),
        Err(e) => vec![format!("request error: {e}")],
    };
    CaseResult {
        file: l.file.clone(),
        name: c.name.clone(),
        failures,
    }
}

/// Below this many cases per thread, starting a thread costs more than it saves.
const MIN_CASES_PER_THREAD: usize = 256;

/// How many threads run `cases` cases, with `available` cores.
fn case_threads(cases: usize, available: usize) -> usize {
    available.min(cases.div_ceil(MIN_CASES_PER_THREAD)).max(1)
}

/// Runs a file's cases, in consecutive runs of about equal length on `threads` threads
/// (a model is shared: a VirtualService's routes are compiled once, by the first trace that
/// needs them); the results come in the file's order.
fn run_cases(l: &LoadedCases, threads: usize) -> Vec<CaseResult> {
    across_threads(&l.cases.cases, threads, |run: &[Case]| {
        run.iter().map(|c| run_case(l, c)).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect()
}

pub fn run(paths: &[PathBuf]) -> Report {
    let mut r = Report::default();
    for p in paths {
        let (results, timings) = run_file_timed(p);
        r.results.extend(results);
        r.timings.extend(timings);
    }
    r
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML, one test suite per case file.
pub fn junit(report: &Report) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"meshsim\" tests=\"{}\" failures=\"{}\">\n",
        report.results.len(),
        report.failed()
    ));
    let mut files: Vec<&str> = report.results.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    for f in files {
        let cases: Vec<&CaseResult> = report.results.iter().filter(|r| r.file == f).collect();
        let failed = cases.iter().filter(|c| !c.failures.is_empty()).count();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\">\n",
            xml_escape(f),
            cases.len()
        ));
        for c in cases {
            if c.failures.is_empty() {
                out.push_str(&format!(
                    "    <testcase classname=\"{}\" name=\"{}\"/>\n",
                    xml_escape(f),
                    xml_escape(&c.name)
                ));
            } else {
                out.push_str(&format!(
                    "    <testcase classname=\"{}\" name=\"{}\">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml_escape(f),
                    xml_escape(&c.name),
                    xml_escape(c.failures.first().map(String::as_str).unwrap_or("")),
                    xml_escape(&c.failures.join("\n"))
                ));
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases run on several threads give the results of one thread, in the file's order.
    #[test]
    fn cases_on_threads_come_back_in_order() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/gateway-api/filters.cases.yaml");
        let l = load_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let one = run_cases(&l, 1);
        assert_eq!(one.len(), l.cases.cases.len());
        assert!(one.len() >= 8, "the file has enough cases to split");
        for threads in [2, 3, 8] {
            let many = run_cases(&l, threads);
            let shown = |r: &[CaseResult]| -> Vec<String> {
                r.iter()
                    .map(|c| format!("{} {:?}", c.name, c.failures))
                    .collect()
            };
            assert_eq!(shown(&many), shown(&one), "{threads} threads");
        }
    }

    /// A case file of `copies` copies of `tests/gateway-api/filters.cases.yaml`'s cases, each
    /// renamed, written to a file of its own; one copy's status expectation is wrong, so
    /// that failures are carried too. `manifests` replaces the file's list of manifests. The
    /// folder holding the file is removed when the returned guard is dropped.
    fn large_case_file(
        tag: &str,
        copies: usize,
        manifests: &[String],
    ) -> (tempfile::TempDir, PathBuf) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/gateway-api");
        let text = std::fs::read_to_string(root.join("filters.cases.yaml")).expect("readable");
        let (_, list) = text.split_once("\ncases:\n").expect("a cases: list");
        let mut out = String::from("manifests:\n");
        for m in manifests {
            out.push_str(&format!("- {m}\n"));
        }
        out.push_str("cases:\n");
        for i in 0..copies {
            let mut copy = list.replace("- name: ", &format!("- name: copy {i} / "));
            if i == copies / 2 {
                copy = copy.replacen("status: 200", "status: 201", 1);
            }
            out.push_str(&copy);
        }
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join(format!("{tag}.cases.yaml"));
        std::fs::write(&path, out).expect("writable");
        (dir, path)
    }

    /// How many cases `tests/gateway-api/filters.cases.yaml` lists: each copy in
    /// [`large_case_file`] has them all.
    fn filters_cases() -> usize {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/gateway-api");
        let text = std::fs::read_to_string(root.join("filters.cases.yaml")).expect("readable");
        text.lines().filter(|l| l.starts_with("- name: ")).count()
    }

    fn filters_manifests() -> Vec<String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        [
            "tests/gateway-api/filters/",
            "scenarios/istio-gateway-ingress/manifests/00-control-plane.yaml",
        ]
        .iter()
        .map(|m| root.join(m).display().to_string())
        .collect()
    }

    /// A large case file, its cases parsed part by part on the threads that run them, gives
    /// the results of the whole file parsed up front and run on one thread.
    #[test]
    fn a_large_case_file_run_part_by_part_gives_the_results_of_the_whole() {
        let (_dir, path) = large_case_file("large", 300, &filters_manifests());
        let text = std::fs::read_to_string(&path).expect("readable");
        for available in [1, 2, 3] {
            let plan = plan_cases("large", &text, available).expect("parses");
            assert!(plan.parts.len() >= 4, "cut in {} parts", plan.parts.len());
        }
        let whole = load_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let one = run_cases(&whole, 1);
        assert_eq!(one.len(), 300 * filters_cases());
        assert_eq!(one.iter().filter(|r| !r.failures.is_empty()).count(), 1);
        let shown = |r: &[CaseResult]| -> Vec<String> {
            r.iter()
                .map(|c| format!("{} {} {:?}", c.file, c.name, c.failures))
                .collect()
        };
        let (parts, timings) = run_file_timed(&path);
        assert_eq!(shown(&parts), shown(&one));
        assert_eq!(timings.map(|t| t.count), Some(one.len()));
        for threads in [1, 2, 3] {
            let plan = plan_cases("large", &text, 1).expect("parses");
            let (run, _) = run_parts(&whole, &plan.parts, threads).expect("every part parses");
            assert_eq!(shown(&run), shown(&one), "{threads} threads");
        }
    }

    /// A mistake in a case of a later part of a large file is reported as when the file is
    /// parsed whole, at its line, and before what is wrong with the manifests.
    #[test]
    fn a_mistake_in_a_later_part_is_reported_at_its_line() {
        for (tag, manifests) in [
            ("mistake", filters_manifests()),
            (
                "mistake-and-missing-manifests",
                vec!["no-such-folder/".to_string()],
            ),
        ] {
            let (_dir, path) = large_case_file(tag, 300, &manifests);
            let text = std::fs::read_to_string(&path).expect("readable");
            let at = text.rfind("  request:").expect("a request");
            let broken = format!(
                "{}  reqest:{}",
                &text[..at],
                &text[at + "  request:".len()..]
            );
            std::fs::write(&path, &broken).expect("writable");
            let file = path.display().to_string();
            let want = parse_case_file(&file, &broken)
                .expect_err("the misspelt key is an error")
                .to_string();
            assert!(want.contains("reqest"), "{want}");
            let (results, timings) = run_file_timed(&path);
            assert!(timings.is_none());
            assert_eq!(results.len(), 1, "{tag}");
            assert_eq!(results[0].name, "(file)");
            assert_eq!(results[0].failures, vec![want], "{tag}");
        }
    }

    /// Every case file of the project, and of `../shared/conformance` where it exists, cut in
    /// parts parses as the whole file does.
    #[test]
    fn case_files_cut_in_parts_parse_as_whole() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut dirs = vec![
            root.join("tests").display().to_string(),
            root.join("scenarios").display().to_string(),
        ];
        let shared = root.join("../shared/conformance");
        if shared.is_dir() {
            dirs.push(shared.display().to_string());
        } else {
            println!(
                "{} does not exist: the project's case files only",
                shared.display()
            );
        }
        let files = collect(&dirs).expect("case folders exist");
        let mut cut = 0;
        for f in &files {
            let text = std::fs::read_to_string(f).expect("readable");
            let name = f.display().to_string();
            let Ok(whole) = parse_case_file(&name, &text) else {
                continue;
            };
            for parts in [2, 3] {
                let Some(split) = split_case_file(&text, parts) else {
                    continue;
                };
                cut += 1;
                let mut cf = parse_case_file(&name, &split.rest)
                    .unwrap_or_else(|d| panic!("{name}: the rest: {d}"));
                for p in &split.parts {
                    cf.cases
                        .extend(parse_cases(p).unwrap_or_else(|e| panic!("{name}: {e}")));
                }
                assert_eq!(
                    format!("{cf:?}"),
                    format!("{whole:?}"),
                    "{name} in {parts} parts"
                );
            }
        }
        assert!(
            cut > files.len(),
            "most files cut: {cut} cuts of {} files",
            files.len()
        );
    }

    /// A large case file parses on threads as it does whole; a mistake in a later part is
    /// reported at its line in the file.
    #[test]
    fn a_large_case_file_parses_on_threads_as_whole() {
        let case = |i: usize| {
            format!(
                "- name: case {i}\n  from: client/curl\n  request:\n    url: http://svc-{i}/\n  expect:\n    status: 200\n"
            )
        };
        let mut text = String::from("manifests:\n- m/\ncases:\n");
        for i in 0..4000 {
            text.push_str(&case(i));
        }
        assert!(text.len() > 3 * MIN_BYTES_PER_THREAD);
        let whole = parse_case_file("big", &text).map(|cf| format!("{cf:?}"));
        let threaded = parse_on_threads("big", &text, 3).map(|cf| format!("{cf:?}"));
        assert_eq!(threaded.ok(), whole.ok());
        let broken = text.replacen(
            "  from: client/curl\n  request:\n    url: http://svc-3500/",
            "  form: client/curl\n  request:\n    url: http://svc-3500/",
            1,
        );
        let error = |r: Result<CaseFile, Box<meshsim_core::diag::Diagnostic>>| match r {
            Ok(_) => panic!("the misspelt key parses"),
            Err(d) => d.to_string(),
        };
        let want = error(parse_case_file("big", &broken));
        assert!(want.contains("big:") && want.contains("form"), "{want}");
        assert_eq!(error(parse_on_threads("big", &broken, 3)), want);
    }
}
