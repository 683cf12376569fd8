//! Human-readable output: a trace as a numbered list of hops with the decision at each stage,
//! the result, the explanation of a failure, then the access-log lines.

use crate::sim::{Outcome, Trace};
use std::fmt::Write;

pub fn status_text(code: u16) -> &'static str {
    match code {
        0 => "no response",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

pub fn trace_text(t: &Trace) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} {} from {} (Host: {})",
        t.request.method,
        t.request.url,
        if t.request.from.is_empty() {
            "external"
        } else {
            &t.request.from
        },
        t.request.authority
    );
    for n in &t.notes {
        let _ = writeln!(s, "  · {n}");
    }
    if t.hops.is_empty() {
        let _ = writeln!(s, "\n(no proxy on the path)");
    }
    for (i, h) in t.hops.iter().enumerate() {
        let _ = writeln!(
            s,
            "\n{}. {} {}/{} ({}, pod {})",
            i + 1,
            h.kind.as_str(),
            h.namespace,
            h.name,
            h.direction,
            h.pod
        );
        for st in &h.steps {
            let _ = writeln!(s, "     {:<13} {}", st.stage, st.result);
            for tr in &st.tried {
                let pos = if tr.pos.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", tr.pos)
                };
                let _ = writeln!(s, "     {:<13}   ✗ {}{}: {}", "", tr.what, pos, tr.why);
            }
        }
        if !h.decision.is_empty() {
            let _ = writeln!(s, "     ⇒ {}", h.decision);
        }
    }
    let _ = writeln!(s);
    let outcome = match t.outcome {
        Outcome::Served => "served",
        Outcome::LocalReply => "answered by a proxy",
        Outcome::ConnectionFailed => "connection failed",
        Outcome::DnsFailure => "host not resolved",
        Outcome::RoutingLoop => "routing loop",
    };
    let _ = writeln!(
        s,
        "result: {} {} — {} (flags {}, details {})",
        t.status,
        status_text(t.status),
        outcome,
        t.flags,
        t.details
    );
    if let Some(b) = &t.backend {
        let _ = writeln!(
            s,
            "served by: {} {}{}{}",
            b.kind,
            if b.namespace.is_empty() {
                String::new()
            } else {
                format!("{}/", b.namespace)
            },
            b.name,
            b.workload
                .as_ref()
                .map(|w| format!(" (pod {w})"))
                .unwrap_or_default()
        );
    }
    if let Some(c) = &t.cluster {
        let _ = writeln!(s, "cluster: {c}");
    }
    if let Some(u) = &t.upstream_request {
        let _ = writeln!(
            s,
            "backend received: {} {} (authority {})",
            u.method, u.path, u.authority
        );
    }
    if let Some(l) = t.response.headers.get("location") {
        let _ = writeln!(s, "location: {l}");
    }
    if !t.split.is_empty() {
        let parts: Vec<String> = t.split.iter().map(|(h, w)| format!("{h}: {w}")).collect();
        let _ = writeln!(s, "split: {}", parts.join(", "));
    }
    if !t.explanation.is_empty() {
        let _ = writeln!(s, "\nwhy:");
        for e in &t.explanation {
            let _ = writeln!(s, "  {e}");
        }
    }
    let logs: Vec<(usize, &str)> = t
        .hops
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.access_log.as_deref().map(|l| (i, l)))
        .collect();
    if !logs.is_empty() {
        let _ = writeln!(s, "\naccess log:");
        for (i, l) in logs {
            let h = &t.hops[i];
            let _ = writeln!(
                s,
                "  # {} {}/{} ({})",
                h.kind.as_str(),
                h.namespace,
                h.pod,
                h.direction
            );
            let _ = writeln!(s, "  {l}");
        }
    }
    s
}
