//! Access-log lines in Istio's default formats (`../shared/spec/formats.md`): Envoy's
//! `EnvoyTextLogFormat` (or its JSON encoding) and ztunnel's "connection complete" line.

use crate::sim::{EnvoyLog, ZtunnelLog};
use crate::text::Piece;
use compact_str::CompactString;

/// A fixed origin for simulated time, so every run prints the same lines.
const BASE: (u32, u32, u32, u32) = (2026, 1, 5, 10);

/// `2026-01-05T10:MM:SS.mmmZ` for `ms` milliseconds after 10:00.
pub fn timestamp_ms(ms: u64) -> String {
    let mut out = String::with_capacity(24);
    push_timestamp_ms(&mut out, ms);
    out
}

fn push_timestamp_ms(out: &mut String, ms: u64) {
    let (y, mo, d, h) = BASE;
    let ms = ms % 3_600_000;
    // `YYYY-MM-DDTHH:MM:SS.mmmZ`: every field has a fixed width, so each digit has its place.
    let mut buf = *b"0000-00-00T00:00:00.000Z";
    for (n, end) in [
        (u64::from(y), 4),
        (u64::from(mo), 7),
        (u64::from(d), 10),
        (u64::from(h), 13),
        (ms / 60_000, 16),
        ((ms / 1000) % 60, 19),
        (ms % 1000, 23),
    ] {
        let mut n = n;
        let mut i = end;
        while n > 0 {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    // Digits and separators: always ASCII, so the check cannot fail.
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// ztunnel prints microseconds.
pub fn timestamp_us(us: u64) -> String {
    let (y, mo, d, h) = BASE;
    let us = us % 3_600_000_000;
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{:02}:{:02}.{:06}Z",
        us / 60_000_000,
        (us / 1_000_000) % 60,
        us % 1_000_000
    )
}

fn dash(v: &Option<CompactString>) -> &str {
    v.as_deref().unwrap_or("-")
}

pub fn envoy_line<'a>(l: &'a EnvoyLog, json: bool) -> String {
    if json {
        return envoy_json(l);
    }
    let (method, path, protocol) = if l.tcp {
        ("-", "-", "-")
    } else {
        (l.method.as_str(), l.path.as_str(), l.protocol.as_str())
    };
    let code = if l.tcp { 0 } else { l.response_code };
    let none = None;
    let request = |v| if l.tcp { &none } else { v };
    let or_dash = |s: &'a str| if s.is_empty() { "-" } else { s };
    // Istio's default format, field by field (formats.md, section 1).
    let mut out = String::with_capacity(512);
    out.push('[');
    push_timestamp_ms(&mut out, l.start_ms);
    out.push_str("] \"");
    for (i, part) in [method, path, protocol].into_iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(part);
    }
    out.push_str("\" ");
    code.push_to(&mut out);
    for part in [
        or_dash(&l.response_flags),
        or_dash(&l.response_code_details),
        dash(&l.connection_termination_details),
    ] {
        out.push(' ');
        out.push_str(part);
    }
    out.push_str(" \"-\" ");
    for n in [l.bytes_received, l.bytes_sent, l.duration] {
        n.push_to(&mut out);
        out.push(' ');
    }
    match l.upstream_service_time {
        Some(v) => v.push_to(&mut out),
        None => out.push('-'),
    }
    for part in [
        request(&l.x_forwarded_for),
        request(&l.user_agent),
        request(&l.request_id),
        request(&l.authority),
        &l.upstream_host,
    ] {
        out.push_str(" \"");
        out.push_str(dash(part));
        out.push('"');
    }
    for part in [
        dash(&l.upstream_cluster),
        dash(&l.upstream_local_address),
        &l.downstream_local_address,
        &l.downstream_remote_address,
        dash(&l.requested_server_name),
        dash(&l.route_name),
    ] {
        out.push(' ');
        out.push_str(part);
    }
    out
}

fn envoy_json(l: &EnvoyLog) -> String {
    let opt = |v: &Option<CompactString>| match v {
        Some(s) => serde_json::Value::String(s.to_string()),
        None => serde_json::Value::Null,
    };
    let v = serde_json::json!({
        "start_time": timestamp_ms(l.start_ms),
        "route_name": opt(&l.route_name),
        "method": if l.tcp { serde_json::Value::Null } else { l.method.as_str().into() },
        "path": if l.tcp { serde_json::Value::Null } else { l.path.as_str().into() },
        "protocol": if l.tcp { serde_json::Value::Null } else { l.protocol.as_str().into() },
        "response_code": if l.tcp { 0 } else { l.response_code },
        "response_flags": l.response_flags.as_str(),
        "response_code_details": l.response_code_details.as_str(),
        "connection_termination_details": opt(&l.connection_termination_details),
        "bytes_received": l.bytes_received,
        "bytes_sent": l.bytes_sent,
        "duration": l.duration,
        "upstream_service_time": l.upstream_service_time.map(|v| v.to_string()),
        "x_forwarded_for": opt(&l.x_forwarded_for),
        "user_agent": opt(&l.user_agent),
        "request_id": opt(&l.request_id),
        "authority": opt(&l.authority),
        "upstream_host": opt(&l.upstream_host),
        "upstream_cluster": opt(&l.upstream_cluster),
        "upstream_local_address": opt(&l.upstream_local_address),
        "downstream_local_address": l.downstream_local_address.as_str(),
        "downstream_remote_address": l.downstream_remote_address.as_str(),
        "requested_server_name": opt(&l.requested_server_name),
        "upstream_transport_failure_reason": serde_json::Value::Null,
    });
    v.to_string()
}

/// `<time>\t<level>\taccess\t<message>\tfield=value ...`
pub fn ztunnel_line(l: &ZtunnelLog) -> String {
    let fields: Vec<String> = l
        .fields
        .iter()
        .map(|(k, v, quoted)| {
            if *quoted {
                format!("{k}=\"{v}\"")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    format!(
        "{}\t{}\taccess\t{}\t{}",
        timestamp_us(l.start_us),
        l.level,
        l.message,
        fields.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Istio's default text format written with `format!`, field by field: the reference the
    /// line builder must match.
    fn reference_line(l: &EnvoyLog) -> String {
        let d = |v: &Option<CompactString>| v.as_deref().unwrap_or("-").to_string();
        let req = |v: &Option<CompactString>| if l.tcp { "-".to_string() } else { d(v) };
        let (m, p, pr) = if l.tcp {
            ("-", "-", "-")
        } else {
            (l.method.as_str(), l.path.as_str(), l.protocol.as_str())
        };
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_string()
            } else {
                s.to_string()
            }
        };
        format!(
            "[{}] \"{m} {p} {pr}\" {} {} {} {} \"-\" {} {} {} {} \"{}\" \"{}\" \"{}\" \"{}\" \"{}\" {} {} {} {} {} {}",
            timestamp_ms(l.start_ms),
            if l.tcp { 0 } else { l.response_code },
            or_dash(&l.response_flags),
            or_dash(&l.response_code_details),
            d(&l.connection_termination_details),
            l.bytes_received,
            l.bytes_sent,
            l.duration,
            l.upstream_service_time.map_or("-".to_string(), |v| v.to_string()),
            req(&l.x_forwarded_for),
            req(&l.user_agent),
            req(&l.request_id),
            req(&l.authority),
            d(&l.upstream_host),
            d(&l.upstream_cluster),
            d(&l.upstream_local_address),
            l.downstream_local_address,
            l.downstream_remote_address,
            d(&l.requested_server_name),
            d(&l.route_name),
        )
    }

    /// Words of up to 30 bytes: some held inline, some on the heap.
    fn word() -> impl Strategy<Value = CompactString> {
        "[a-z0-9./:|-]{0,30}".prop_map(CompactString::from)
    }

    fn some_word() -> impl Strategy<Value = Option<CompactString>> {
        prop::option::of(word())
    }

    proptest! {
        #[test]
        fn text_lines_are_istios_default_format(
            nums in (any::<u64>(), any::<u16>(), any::<u64>(), any::<u64>(), any::<u64>(), prop::option::of(any::<u64>()), any::<bool>()),
            words in (word(), word(), word(), word(), word(), word(), word()),
            opts in (some_word(), some_word(), some_word(), some_word(), some_word(), some_word(), some_word(), some_word(), some_word(), some_word()),
        ) {
            let l = EnvoyLog {
                start_ms: nums.0,
                response_code: nums.1,
                bytes_received: nums.2,
                bytes_sent: nums.3,
                duration: nums.4,
                upstream_service_time: nums.5,
                tcp: nums.6,
                method: words.0,
                path: words.1,
                protocol: words.2,
                response_flags: words.3,
                response_code_details: words.4,
                downstream_local_address: words.5,
                downstream_remote_address: words.6,
                connection_termination_details: opts.0,
                x_forwarded_for: opts.1,
                user_agent: opts.2,
                request_id: opts.3,
                authority: opts.4,
                upstream_host: opts.5,
                upstream_cluster: opts.6,
                upstream_local_address: opts.7,
                requested_server_name: opts.8,
                route_name: opts.9,
            };
            prop_assert_eq!(envoy_line(&l, false), reference_line(&l));
        }

        #[test]
        fn timestamps_read_as_format_writes_them(ms: u64) {
            let m = ms % 3_600_000;
            let expected = format!(
                "2026-01-05T10:{:02}:{:02}.{:03}Z",
                m / 60_000,
                (m / 1000) % 60,
                m % 1000
            );
            prop_assert_eq!(timestamp_ms(ms), expected);
        }
    }

    #[test]
    fn timestamps_are_utc_with_millis() {
        assert_eq!(timestamp_ms(0), "2026-01-05T10:00:00.000Z");
        assert_eq!(timestamp_ms(61_234), "2026-01-05T10:01:01.234Z");
        assert_eq!(timestamp_us(1_500_001), "2026-01-05T10:00:01.500001Z");
    }

    #[test]
    fn envoy_line_has_the_24_fields_of_the_default_format() {
        let l = EnvoyLog {
            method: "GET".into(),
            path: "/headers".into(),
            protocol: "HTTP/1.1".into(),
            response_code: 200,
            response_flags: "-".into(),
            response_code_details: "via_upstream".into(),
            downstream_local_address: "10.0.0.1:80".into(),
            downstream_remote_address: "10.0.0.2:4000".into(),
            ..Default::default()
        };
        let line = envoy_line(&l, false);
        assert!(line.starts_with("[2026-01-05T10:00:00.000Z] \"GET /headers HTTP/1.1\" 200 - via_upstream - \"-\" 0 0 0 - \"-\""), "{line}");
        assert!(
            line.ends_with("- - 10.0.0.1:80 10.0.0.2:4000 - -"),
            "{line}"
        );
    }
}
