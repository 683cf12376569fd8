//! Reads `-f` paths as kubectl does: files, folders (recursively `*.yaml`, `*.yml`, `*.json`,
//! in name order) and `-` for standard input; loads them with a thread per core.

use meshsim_core::parse::{self, LoadOptions, Loaded};
use meshsim_core::SourceFile;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct InputError {
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error: {}\n  hint: {}", self.message, self.hint)
    }
}

fn manifest_ext(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// Every manifest file under `dir`, sorted, recursively.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if manifest_ext(&p) && !p.to_string_lossy().ends_with(".cases.yaml") {
            out.push(p);
        }
    }
    Ok(())
}

pub fn read_paths(paths: &[String]) -> Result<Vec<SourceFile>, InputError> {
    let mut files = Vec::new();
    for p in paths {
        if p == "-" {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf).map_err(|e| InputError { message: format!("cannot read standard input: {e}"), hint: "pipe manifests in, e.g. kubectl get ... -o yaml | meshsim get workloads -f -".into() })?;
            files.push(SourceFile::new("<stdin>", buf));
            continue;
        }
        let path = Path::new(p);
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found).map_err(|e| InputError {
                message: format!("cannot read folder {p}: {e}"),
                hint: "check the path and its permissions".into(),
            })?;
            for f in found {
                files.push(read_file(&f)?);
            }
        } else {
            files.push(read_file(path)?);
        }
    }
    Ok(files)
}

pub fn read_file(path: &Path) -> Result<SourceFile, InputError> {
    match std::fs::read(path) {
        Ok(b) => Ok(SourceFile::new(path.display().to_string(), b)),
        Err(e) => Err(InputError {
            message: format!("cannot read {}: {e}", path.display()),
            hint: if e.kind() == std::io::ErrorKind::NotFound {
                "check the path; -f takes files, folders or - for standard input".into()
            } else {
                "check the file's permissions".into()
            },
        }),
    }
}

/// Loads files and builds the model, as `meshsim_core::build_mesh` does; until the model is
/// built, memory goes back to the system as soon as it is freed (see [`returning_memory`]).
/// The build frees the loaded resources as it moves them into the model: with mimalloc's
/// delay, the peak at 10,000 services was 108 MB when the machine was busy and up to 140 MB
/// when it was not (the build then ran inside the delay); returned at once, it is 100–104 MB
/// either way, for no measurable change in time.
pub fn build(
    files: Vec<SourceFile>,
    load_opts: &LoadOptions,
    model: &meshsim_core::ModelOptions,
) -> (meshsim_core::Mesh, Vec<meshsim_core::Diagnostic>) {
    returning_memory(|| meshsim_core::build_mesh_from(load(files, load_opts), model))
}

/// Runs `f` with mimalloc returning freed memory to the system at once, then restores its
/// default delay. Parsing on several threads frees much of what it allocates (the parser's own
/// nodes and buffers) in heaps the model, built on the main thread, does not reuse; returned at
/// once, the peak stays near what is live (on the 10,000-service mesh about 270 MB -> 195 MB,
/// for some 15% more time spent loading). A large case file's parts are run the same way
/// (`cases::run_parts`): each part's parsed cases are freed once run. Traces otherwise keep
/// the delay: returning their short-lived pages on every trace would cost system calls and
/// page faults.
pub fn returning_memory<T>(f: impl FnOnce() -> T) -> T {
    // `mi_option_purge_delay` in mimalloc's `mi_option_e` (v2 and v3), in milliseconds; 10 is
    // mimalloc's default.
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_option_set only stores an option value; any value is valid for this option.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) };
    let out = f();
    // SAFETY: as above.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 10) };
    out
}

/// Turns transparent huge pages off for the process. mimalloc asks for them on the memory it
/// reserves (`madvise`), and where the system grants them on request (`/sys/kernel/mm/
/// transparent_hugepage/enabled` set to `madvise`, as on most distributions) a 2 MiB page is
/// resident in full as soon as one object in it is: the model's million small objects then
/// leave many pages partly used. On the 10,000-service mesh the peak is some 20 MB lower
/// without them, for no measurable change in time. mimalloc's own option for this
/// (`allow_thp`) is read when it starts, before `main`; `PR_SET_THP_DISABLE` also covers the
/// memory it has already reserved, as the kernel checks it on every page fault.
pub fn small_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE takes one integer argument and only sets a flag
    // of the process; its result (an error on kernels before 3.15) changes nothing here.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Loads files as `meshsim_core::parse::load` does, with the same result (resources and
/// diagnostics, in the same order), parsing documents on every core. The core itself has no
/// threads, as it also runs in the browser; the CLI brings them. Takes the files so that their
/// bytes are freed once the loader holds the text.
pub fn load(files: Vec<SourceFile>, opts: &LoadOptions) -> Loaded {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    load_on_threads(files, opts, threads)
}

/// [`load`] with at most `threads` threads.
pub fn load_on_threads(files: Vec<SourceFile>, opts: &LoadOptions, threads: usize) -> Loaded {
    let split = parse::split(&files);
    drop(files);
    let ranges = balanced_ranges(&split, threads);
    let parsed: Vec<parse::Parsed> = if ranges.len() <= 1 {
        vec![split.parse(0..split.len(), opts)]
    } else {
        std::thread::scope(|scope| {
            let split = &split;
            let handles: Vec<_> = ranges
                .into_iter()
                .map(|range| scope.spawn(move || split.parse(range, opts)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };
    split.assemble(parsed)
}

/// Below this many bytes of YAML per thread, starting a thread costs more than it saves.
const MIN_BYTES_PER_THREAD: usize = 64 * 1024;

/// Cuts the documents into at most `threads` consecutive ranges of about equal size in bytes.
fn balanced_ranges(split: &parse::Split, threads: usize) -> Vec<Range<usize>> {
    let total: usize = (0..split.len()).map(|i| split.document_len(i)).sum();
    let threads = threads.min(total / MIN_BYTES_PER_THREAD).max(1);
    let mut ranges = Vec::with_capacity(threads);
    let mut start = 0;
    let mut bytes = 0;
    for i in 0..split.len() {
        bytes += split.document_len(i);
        // Close range k once it holds its share: (k + 1) / threads of the total.
        if bytes * threads >= total * (ranges.len() + 1) && ranges.len() + 1 < threads {
            ranges.push(start..i + 1);
            start = i + 1;
        }
    }
    ranges.push(start..split.len());
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(l: &Loaded) -> Vec<String> {
        let mut out: Vec<String> = l
            .resources
            .iter()
            .map(|r| {
                format!(
                    "{} {}:{} {:?}",
                    r.display(),
                    r.origin.file,
                    r.origin.line,
                    r.body
                )
            })
            .collect();
        out.extend(l.diagnostics.iter().map(|d| format!("{d:?}")));
        out
    }

    /// Files with errors, duplicates across and within files, binary and empty files.
    fn files() -> Vec<SourceFile> {
        let svc = |name: &str, extra: &str| {
            format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{ports: [{{port: 80}}]}}\n{extra}")
        };
        let mut files = Vec::new();
        for f in 0..30 {
            let mut docs = Vec::new();
            for d in 0..120 {
                docs.push(match (f * 7 + d) % 9 {
                    0 => svc(&format!("dup-{}", d % 5), ""),
                    1 => "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: {ports: [{port: x}]}\n".into(),
                    2 => "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n".into(),
                    3 => "- not an object\n".into(),
                    _ => svc(&format!("s-{f}-{d}"), "# padding padding padding padding padding\n"),
                });
            }
            files.push(SourceFile::new(format!("f{f}.yaml"), docs.join("---\n")));
        }
        files.insert(3, SourceFile::new("bin.yaml", b"\x00".to_vec()));
        files.insert(9, SourceFile::new("empty.yaml", ""));
        files
    }

    #[test]
    fn the_parallel_loader_yields_what_the_sequential_one_does() {
        let opts = LoadOptions::default();
        let sequential = summary(&parse::load(&files(), &opts));
        assert!(files().iter().map(|f| f.bytes.len()).sum::<usize>() > 4 * MIN_BYTES_PER_THREAD);
        for threads in [1, 2, 3, 16] {
            assert_eq!(
                summary(&load_on_threads(files(), &opts, threads)),
                sequential,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn ranges_cover_every_document_once_in_order() {
        let split = parse::split(&files());
        for threads in [1, 2, 3, 5, 64] {
            let ranges = balanced_ranges(&split, threads);
            assert!(ranges.len() <= threads);
            assert_eq!(ranges.first().map(|r| r.start), Some(0));
            assert_eq!(ranges.last().map(|r| r.end), Some(split.len()));
            assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        }
    }
}
