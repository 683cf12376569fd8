//! The calls every shell of meshsim shares: turning what a person typed into a [`Request`] and
//! a trace into the JSON the CLI prints. The CLI and the browser playground both go through
//! here, so the same input gives byte-identical output in both.

use crate::model::Mesh;
use crate::sim::request::err;
use crate::sim::{parse_request_line, Request, RequestError, Trace};

/// A request as a command line gives it, before assembly: the positional words (`SRC -> DEST`,
/// `SRC DEST`, or `DEST` with `from`) and curl's flags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestArgs {
    pub words: Vec<String>,
    pub from: Option<String>,
    /// `-X`; GET when absent.
    pub method: Option<String>,
    /// `-I`: send HEAD.
    pub head: bool,
    /// `-H 'Name: value'`, as typed.
    pub headers: Vec<String>,
    pub connect_to: Option<String>,
    pub seed: Option<u64>,
}

/// Assembles a request from its command-line parts.
pub fn request_from_args(args: &RequestArgs) -> Result<Request, RequestError> {
    let (from, url) = split_source_destination(&args.words, args.from.clone())?;
    let mut headers = Vec::with_capacity(args.headers.len());
    for h in &args.headers {
        match h.split_once(':') {
            Some((k, v)) => headers.push((k.trim().to_string(), v.trim().to_string())),
            None => {
                return Err(err(
                    format!("header {h:?} has no ':'"),
                    "write -H 'Name: value'",
                ))
            }
        }
    }
    let method = if args.head {
        "HEAD".to_string()
    } else {
        args.method.clone().unwrap_or_else(|| "GET".to_string())
    };
    Ok(Request {
        from,
        method,
        url,
        headers,
        connect_to: args.connect_to.clone(),
        seed: args.seed,
    })
}

fn split_source_destination(
    words: &[String],
    from: Option<String>,
) -> Result<(String, String), RequestError> {
    let joined = words.join(" ");
    if joined.contains("->") {
        return parse_request_line(&joined);
    }
    match (words, from) {
        ([dest], Some(f)) => Ok((f, dest.trim().to_string())),
        ([src, dest], None) if src.trim().is_empty() || dest.trim().is_empty() => Err(err(
            "the source or the destination is empty",
            "write 'curl -> httpbin.example.com/headers' (quoted on a shell line: a bare -> is a shell redirection)",
        )),
        // As in the `SRC -> DEST` form, surrounding white space is not part of either.
        ([src, dest], None) => Ok((src.trim().to_string(), dest.trim().to_string())),
        ([], _) => Err(err(
            "no request given",
            "write 'curl -> httpbin.example.com/headers' (quoted on a shell line: a bare -> is a shell redirection)",
        )),
        ([dest], None) => Err(err(
            format!("{dest:?} names a destination but no source"),
            "add the source: 'curl -> DEST' (quoted on a shell line: a bare -> is a shell redirection), or --from curl",
        )),
        _ => Err(err(
            format!("too many arguments: {joined}"),
            "write 'SRC -> DEST', or SRC DEST",
        )),
    }
}

/// Splits a command line into words as a POSIX shell would for the quoting people use in
/// curl commands: single quotes, double quotes (with `\"` and `\\` escapes) and backslashes.
pub fn split_words(line: &str) -> Result<Vec<String>, RequestError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => word.push(x),
                        None => return Err(unterminated('\'')),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x @ ('"' | '\\' | '$' | '`')) => word.push(x),
                            Some(x) => {
                                word.push('\\');
                                word.push(x);
                            }
                            None => return Err(unterminated('"')),
                        },
                        Some(x) => word.push(x),
                        None => return Err(unterminated('"')),
                    }
                }
            }
            '\\' => {
                in_word = true;
                // A backslash quotes the next character; a trailing one stands for itself.
                word.push(chars.next().unwrap_or('\\'));
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

fn unterminated(quote: char) -> RequestError {
    err(
        format!("unterminated {quote} quote"),
        format!("close the quote, e.g. -H {quote}Host: httpbin.example.com{quote}"),
    )
}

/// Reads the request flags of `meshsim trace` (`-X`, `-I`, `-H`, `--from`, `--connect-to`,
/// `--seed`, in the forms `-X POST`, `-XPOST`, `--request=POST`) from words; the rest are
/// positional. A leading `meshsim trace` is skipped, so a copied command line works.
pub fn parse_request_words(words: &[String]) -> Result<RequestArgs, RequestError> {
    let mut rest = words;
    if rest.first().map(String::as_str) == Some("meshsim") {
        rest = &rest[1..];
    }
    if rest.first().map(String::as_str) == Some("trace") {
        rest = &rest[1..];
    }
    let mut args = RequestArgs::default();
    let mut i = 0;
    while i < rest.len() {
        let w = rest[i].as_str();
        i += 1;
        let (flag, inline) = match w.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (w, None),
        };
        let short_inline = |short: &str| {
            w.strip_prefix(short)
                .filter(|v| !v.is_empty() && !w.starts_with("--"))
                .map(str::to_string)
        };
        let mut value = |name: &str| -> Result<String, RequestError> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            match rest.get(i) {
                Some(v) => {
                    i += 1;
                    Ok(v.clone())
                }
                None => Err(err(
                    format!("{name} needs a value"),
                    "e.g. -H 'Host: httpbin.example.com', -X POST, --from curl",
                )),
            }
        };
        match flag {
            "-X" | "--request" => args.method = Some(value(flag)?),
            "-H" | "--header" => args.headers.push(value(flag)?),
            "-I" | "--head" => args.head = true,
            "--from" => args.from = Some(value(flag)?),
            "--connect-to" => args.connect_to = Some(value(flag)?),
            "--seed" => {
                let v = value(flag)?;
                args.seed = Some(v.parse().map_err(|_| {
                    err(
                        format!("--seed {v:?} is not a number"),
                        "give a whole number, e.g. --seed 1",
                    )
                })?);
            }
            "->" => args.words.push(w.to_string()),
            _ if short_inline("-X").is_some() => args.method = short_inline("-X"),
            _ if short_inline("-H").is_some() => args.headers.push(w[2..].to_string()),
            _ if w.starts_with('-') && !w.starts_with("->") && w.len() > 1 => {
                return Err(err(
                    format!("unknown option {w}"),
                    "a request takes -X METHOD, -I, -H 'Name: value', --from SRC, --connect-to HOST:PORT and --seed N",
                ))
            }
            _ => args.words.push(w.to_string()),
        }
    }
    Ok(args)
}

/// A request from one line in the CLI's syntax:
/// `curl -> httpbin.example.com/headers -X POST -H 'Host: x'`.
pub fn parse_request_command(line: &str) -> Result<Request, RequestError> {
    request_from_args(&parse_request_words(&split_words(line)?)?)
}

/// Quotes a word for a POSIX shell when it needs it (the inverse of [`split_words`]).
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:@%+=,".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A request as one line of the request bar (and of `meshsim trace`):
/// `curl -> http://host/path -X POST -H 'Name: value'`; [`parse_request_command`] reads it back.
pub fn request_to_command(request: &Request) -> String {
    let (from, url) = (&request.from, &request.url);
    // A word that starts with '-' reads as an option, quoted or not: such a source or
    // destination goes inside one quoted `SRC -> DEST` word, led by a space when the source
    // is the one (reading trims both).
    let pair = if from.starts_with('-') || url.starts_with('-') {
        let lead = if from.starts_with('-') { " " } else { "" };
        shell_quote(&format!("{lead}{from} -> {url}"))
    } else {
        format!("{} -> {}", shell_quote(from), shell_quote(url))
    };
    format!("{pair}{}", request_flags(request))
}

/// The flags of a request (` -X POST -H 'Name: value'`...), each with a leading space.
pub fn request_flags(request: &Request) -> String {
    let mut flags = String::new();
    if request.method != "GET" {
        flags.push_str(&format!(" -X {}", shell_quote(&request.method)));
    }
    for (k, v) in &request.headers {
        flags.push_str(&format!(" -H {}", shell_quote(&format!("{k}: {v}"))));
    }
    if let Some(c) = &request.connect_to {
        flags.push_str(&format!(" --connect-to {}", shell_quote(c)));
    }
    if let Some(s) = request.seed {
        flags.push_str(&format!(" --seed {s}"));
    }
    flags
}

/// The JSON `meshsim trace -o json` prints for a trace (without the final newline).
pub fn trace_to_json(trace: &Trace) -> Result<String, RequestError> {
    serde_json::to_string_pretty(trace).map_err(|e| {
        err(
            format!("the trace cannot be written as JSON: {e}"),
            "this is a bug in meshsim; please report it with the manifests and request",
        )
    })
}

/// Traces a request and writes the trace as [`trace_to_json`] does.
pub fn trace_json(mesh: &Mesh, request: &Request) -> Result<String, RequestError> {
    trace_to_json(&crate::sim::trace(mesh, request)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn shell_quoting_as_people_write_curl() {
        assert_eq!(
            split_words(r#"curl -> a/b -H 'Host: x' -H "X-A: \"q\"" one\ word"#).unwrap(),
            words(&[
                "curl",
                "->",
                "a/b",
                "-H",
                "Host: x",
                "-H",
                "X-A: \"q\"",
                "one word"
            ])
        );
        assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
        assert_eq!(split_words("''").unwrap(), words(&[""]));
        assert!(split_words("-H 'Host: x").is_err());
    }

    #[test]
    fn request_line_with_method_and_headers() {
        let r = parse_request_command(
            "meshsim trace 'curl -> httpbin.example.com/headers' -XPOST -H 'Host: x' --header=A:b --seed 3",
        )
        .unwrap();
        assert_eq!(r.from, "curl");
        assert_eq!(r.url, "httpbin.example.com/headers");
        assert_eq!(r.method, "POST");
        assert_eq!(
            r.headers,
            vec![("Host".into(), "x".into()), ("A".into(), "b".into())]
        );
        assert_eq!(r.seed, Some(3));
        let r = parse_request_command("--from curl/curl -I gw/x").unwrap();
        assert_eq!((r.from.as_str(), r.method.as_str()), ("curl/curl", "HEAD"));
        let r = parse_request_command("curl->a/b").unwrap();
        assert_eq!((r.from.as_str(), r.url.as_str()), ("curl", "a/b"));
    }

    #[test]
    fn a_request_written_as_a_line_reads_back_the_same() {
        let r = Request {
            from: "curl/curl".into(),
            method: "POST".into(),
            url: "http://h.example.com/a?b=1&c='d'".into(),
            headers: vec![("Host".into(), "x.example.com".into())],
            connect_to: Some("gw:80".into()),
            seed: Some(7),
        };
        let line = request_to_command(&r);
        assert_eq!(
            line,
            r#"curl/curl -> 'http://h.example.com/a?b=1&c='\''d'\''' -X POST -H 'Host: x.example.com' --connect-to gw:80 --seed 7"#
        );
        assert_eq!(parse_request_command(&line).unwrap(), r);
    }

    #[test]
    fn request_line_errors_have_hints() {
        for bad in [
            "",
            "a/b",
            "curl -> a -H",
            "curl -> a -H nocolon",
            "curl -> a --bogus",
            "curl -> a --seed x",
        ] {
            let e = parse_request_command(bad).unwrap_err();
            assert!(e.hint.is_some(), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_trailing_backslash_round_trips() {
        // Found by the property below: `# \` read as a request but did not read back.
        let r = parse_request_command("# \\").expect("reads");
        assert_eq!(parse_request_command(&request_to_command(&r)), Ok(r));
    }

    #[test]
    fn a_source_or_destination_that_starts_with_a_dash_round_trips() {
        // Found by `lines_of_quotes_and_backslashes_round_trip`: `a \ -a` reads as a request
        // to `-a`, which was written back as `a -> -a`, an unknown option.
        for line in ["a \\ -a", "\\ -b \\ -a", "\\ -b x"] {
            let r = parse_request_command(line).expect("reads");
            assert!(r.from.starts_with('-') || r.url.starts_with('-'), "{r:?}");
            let written = request_to_command(&r);
            assert_eq!(parse_request_command(&written), Ok(r), "{written}");
        }
    }

    proptest::proptest! {
        /// Whatever a person types in the request bar, reading it returns; it never panics,
        /// and a request written back as a line reads back the same.
        #[test]
        fn any_request_line_reads_without_panicking(line in "\\PC{0,60}") {
            if let Ok(r) = parse_request_command(&line) {
                proptest::prop_assert_eq!(parse_request_command(&request_to_command(&r)), Ok(r));
            }
        }

        #[test]
        fn lines_of_quotes_and_backslashes_round_trip(line in "[#\\\\ ab'\"-]{0,8}") {
            if let Ok(r) = parse_request_command(&line) {
                proptest::prop_assert_eq!(parse_request_command(&request_to_command(&r)), Ok(r));
            }
        }

        #[test]
        fn request_like_lines_read_without_panicking(
            line in "(meshsim |trace |curl|->| |-X|-H|-I|--from|--seed|=|'|\"|\\\\|x|:|/|é)*"
        ) {
            let _ = parse_request_command(&line);
        }
    }
}
