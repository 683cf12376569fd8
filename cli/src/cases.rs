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
    /// Reading and parsing the case file.
    pub case_file: Duration,
    /// Reading the manifests and building the model.
    pub model: Duration,
    /// Tracing every case and checking its expectations.
    pub cases: Duration,
    pub count: usize,
    /// How many threads ran the cases.
    pub threads: usize,
}

impl FileTimings {
    /// `FILE: case file 0.41 s, manifests to model 1.62 s, 20000 cases 0.16 s on 2 threads
    /// (15.5 µs of a thread a case)`: the cases' time times the threads, divided by the cases.
    pub fn line(&self) -> String {
        let per_case = if self.count == 0 {
            0.0
        } else {
            self.cases.as_secs_f64() * 1e6 * self.threads as f64 / self.count as f64
        };
        let on = if self.threads == 1 {
            "a case"
        } else {
            "of a thread a case"
        };
        format!(
            "{}: case file {:.2} s, manifests to model {:.2} s, {} cases {:.2} s on {} thread{} ({per_case:.1} µs {on})",
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
    load_file_timed(path).map(|(l, _)| l)
}

/// `load_file`, and how long the case file and the model took.
fn load_file_timed(path: &Path) -> Result<(LoadedCases, [Duration; 2]), String> {
    let start = Instant::now();
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cf = parse_on_threads(&file, &text, available).map_err(|d| d.to_string())?;
    drop(text);
    let case_file = start.elapsed();
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
    Ok((
        LoadedCases {
            file,
            mesh,
            cases: cf,
        },
        [case_file, start.elapsed() - case_file],
    ))
}

/// Below this many bytes of case file per thread, starting a thread costs more than it saves.
const MIN_BYTES_PER_THREAD: usize = 64 * 1024;

/// Parses a case file as [`parse_case_file`] does, its cases in parts on up to `threads`
/// threads when the file is large and can be cut safely ([`split_case_file`]). When a part
/// does not parse, the whole file is parsed again, for the error and its line.
pub fn parse_on_threads(
    file: &str,
    text: &str,
    threads: usize,
) -> Result<CaseFile, Box<meshsim_core::diag::Diagnostic>> {
    let threads = threads.min(text.len() / MIN_BYTES_PER_THREAD);
    let Some(split) = split_case_file(text, threads) else {
        return parse_case_file(file, text);
    };
    let (rest, parts) = std::thread::scope(|scope| {
        let handles: Vec<_> = split
            .parts
            .iter()
            .map(|part| scope.spawn(|| parse_cases(part)))
            .collect();
        let rest = parse_case_file(file, &split.rest);
        let parts: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect();
        (rest, parts)
    });
    match (rest, parts.into_iter().collect::<Result<Vec<_>, _>>()) {
        (Ok(mut cf), Ok(parts)) if cf.cases.is_empty() => {
            cf.cases = parts.into_iter().flatten().collect();
            Ok(cf)
        }
        _ => parse_case_file(file, text),
    }
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
    let (l, [case_file, model]) = match load_file_timed(path) {
        Ok(l) => l,
        Err(why) => {
            let failed = CaseResult {
                file: path.display().to_string(),
                name: "(file)".into(),
                failures: vec![why],
            };
            return (vec![failed], None);
        }
    };
    let start = Instant::now();
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = case_threads(l.cases.cases.len(), available);
    let results = run_cases(&l, threads);
    let timings = FileTimings {
        file: l.file.clone(),
        case_file,
        model,
        cases: start.elapsed(),
        count: results.len(),
        threads,
    };
    (results, Some(timings))
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
    let cases = &l.cases.cases;
    let run = |c: &Case| {
        let failures = match trace_with(&l.mesh, &c.to_request(), detail_for(c)) {
            Ok(t) => check(&t, &c.expect),
            Err(e) => vec![format!("request error: {e}")],
        };
        CaseResult {
            file: l.file.clone(),
            name: c.name.clone(),
            failures,
        }
    };
    if threads <= 1 {
        return cases.iter().map(run).collect();
    }
    let per_thread = cases.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .chunks(per_thread)
            .map(|part| scope.spawn(|| part.iter().map(run).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
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
