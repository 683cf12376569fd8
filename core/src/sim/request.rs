//! A request as a user states it: `curl -> httpbin.example.com/headers`, or the parts
//! (`--from`, `-X`, `-H`, `--connect-to`, URL) the CLI and case files give.

use compact_str::CompactString;
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// `external`, `ns/workload`, a workload name or a pod name.
    pub from: String,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// curl's `--connect-to HOST:PORT`: dial this instead of the URL's host.
    pub connect_to: Option<String>,
    /// Picks among weighted backends; None reports the split and takes the heaviest.
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

pub fn err(message: impl Into<String>, hint: impl Into<String>) -> RequestError {
    RequestError {
        message: message.into(),
        hint: Some(hint.into()),
    }
}

/// The parts of a URL meshsim needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Url {
    pub scheme: CompactString,
    pub host: CompactString,
    pub port: u16,
    pub explicit_port: bool,
    /// Path with query, always starting with `/`.
    pub path: CompactString,
}

pub fn parse_url(url: &str) -> Result<Url, RequestError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(err(
            "the destination is empty",
            "give a host, e.g. httpbin.example.com/headers",
        ));
    }
    // Byte searches: a URL is short, and `str` pattern searchers cost more to set up than the
    // scan itself.
    let (scheme, rest) = match url.as_bytes().windows(3).position(|w| w == b"://") {
        Some(i) => (lowercase(&url[..i]), &url[i + 3..]),
        None => (CompactString::const_new("http"), url),
    };
    if scheme != "http" && scheme != "https" {
        return Err(err(
            format!("unsupported scheme {scheme:?}"),
            "use http:// or https://",
        ));
    }
    let split = rest
        .bytes()
        .position(|b| b == b'/' || b == b'?')
        .unwrap_or(rest.len());
    let (hostport, path) = rest.split_at(split);
    let path = if path.is_empty() {
        CompactString::const_new("/")
    } else if path.starts_with('?') {
        compact_str::format_compact!("/{path}")
    } else {
        CompactString::from(path)
    };
    let default_port = if scheme == "https" { 443 } else { 80 };
    let (host, port, explicit) = if let Some(h) = hostport.strip_prefix('[') {
        let (h, after) = h
            .split_once(']')
            .ok_or_else(|| err("unterminated IPv6 address", "write [::1]:8080"))?;
        match after.strip_prefix(':') {
            Some(p) => (h, parse_port(p)?, true),
            None => (h, default_port, false),
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, parse_port(p)?, true),
            None => (hostport, default_port, false),
        }
    };
    if host.is_empty() {
        return Err(err(
            format!("no host in {url:?}"),
            "give a host, e.g. http://httpbin.example.com/headers",
        ));
    }
    Ok(Url {
        scheme,
        host: lowercase(host),
        port,
        explicit_port: explicit,
        path,
    })
}

/// `s` in ASCII lower case, held inline when it is short.
fn lowercase(s: &str) -> CompactString {
    let mut out = CompactString::from(s);
    out.make_ascii_lowercase();
    out
}

fn parse_port(p: &str) -> Result<u16, RequestError> {
    p.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(|| {
        err(
            format!("invalid port {p:?}"),
            "a port is a number from 1 to 65535",
        )
    })
}

/// Splits `SRC -> DEST` (one argument) into source and destination.
pub fn parse_request_line(line: &str) -> Result<(String, String), RequestError> {
    match line.split_once("->") {
        Some((src, dst)) => {
            let (src, dst) = (src.trim(), dst.trim());
            if src.is_empty() {
                return Err(err("no source before '->'", "write 'curl -> httpbin.example.com/headers'"));
            }
            if dst.is_empty() {
                return Err(err(
                    "no destination after '->'",
                    "quote the whole request: meshsim trace 'curl -> host/path' (a bare -> is a shell redirection)",
                ));
            }
            Ok((src.to_string(), dst.to_string()))
        }
        None => Err(err(
            format!("{line:?} has no '->'"),
            "write 'SRC -> DEST' in quotes (a bare -> is a shell redirection), or give SRC and DEST as two arguments",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_default_scheme_port_and_path() {
        let u = parse_url("httpbin.example.com/headers?a=1").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.host.as_str(), u.port, u.path.as_str()),
            ("http", "httpbin.example.com", 80, "/headers?a=1")
        );
        let u = parse_url("https://x:8443").unwrap();
        assert_eq!(
            (u.port, u.path.as_str(), u.explicit_port),
            (8443, "/", true)
        );
        assert!(parse_url("x:eighty").is_err());
        assert!(parse_url("ftp://x").is_err());
    }

    #[test]
    fn request_line_needs_both_sides() {
        assert_eq!(
            parse_request_line("curl -> a/b").unwrap(),
            ("curl".into(), "a/b".into())
        );
        let e = parse_request_line("curl ->").unwrap_err();
        assert!(e.hint.unwrap().contains("quote"));
    }
}
