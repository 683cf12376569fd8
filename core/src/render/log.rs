//! Access-log lines in Istio's default formats (`../shared/spec/formats.md`): Envoy's
//! `EnvoyTextLogFormat` (or its JSON encoding) and ztunnel's "connection complete" line.

use crate::sim::{EnvoyLog, ZtunnelLog};

/// A fixed origin for simulated time, so every run prints the same lines.
const BASE: (u32, u32, u32, u32) = (2026, 1, 5, 10);

/// `2026-01-05T10:MM:SS.mmmZ` for `ms` milliseconds after 10:00.
pub fn timestamp_ms(ms: u64) -> String {
    let (y, mo, d, h) = BASE;
    let ms = ms % 3_600_000;
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{:02}:{:02}.{:03}Z",
        ms / 60_000,
        (ms / 1000) % 60,
        ms % 1000
    )
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

fn dash(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

pub fn envoy_line(l: &EnvoyLog, json: bool) -> String {
    if json {
        return envoy_json(l);
    }
    let (method, path, protocol) = if l.tcp {
        ("-".to_string(), "-".to_string(), "-".to_string())
    } else {
        (l.method.clone(), l.path.clone(), l.protocol.clone())
    };
    let code = if l.tcp { 0 } else { l.response_code };
    let ust = l
        .upstream_service_time
        .map(|v| v.to_string())
        .unwrap_or_else(|| "-".into());
    let (xff, ua, rid, auth) = if l.tcp {
        (None, None, None, None)
    } else {
        (
            l.x_forwarded_for.clone(),
            l.user_agent.clone(),
            l.request_id.clone(),
            l.authority.clone(),
        )
    };
    format!(
        "[{}] \"{} {} {}\" {} {} {} {} \"{}\" {} {} {} {} \"{}\" \"{}\" \"{}\" \"{}\" \"{}\" {} {} {} {} {} {}",
        timestamp_ms(l.start_ms),
        method,
        path,
        protocol,
        code,
        if l.response_flags.is_empty() { "-" } else { &l.response_flags },
        if l.response_code_details.is_empty() { "-" } else { &l.response_code_details },
        dash(&l.connection_termination_details),
        "-",
        l.bytes_received,
        l.bytes_sent,
        l.duration,
        ust,
        dash(&xff),
        dash(&ua),
        dash(&rid),
        dash(&auth),
        dash(&l.upstream_host),
        dash(&l.upstream_cluster),
        dash(&l.upstream_local_address),
        l.downstream_local_address,
        l.downstream_remote_address,
        dash(&l.requested_server_name),
        dash(&l.route_name),
    )
}

fn envoy_json(l: &EnvoyLog) -> String {
    let opt = |v: &Option<String>| match v {
        Some(s) => serde_json::Value::String(s.clone()),
        None => serde_json::Value::Null,
    };
    let v = serde_json::json!({
        "start_time": timestamp_ms(l.start_ms),
        "route_name": opt(&l.route_name),
        "method": if l.tcp { serde_json::Value::Null } else { l.method.clone().into() },
        "path": if l.tcp { serde_json::Value::Null } else { l.path.clone().into() },
        "protocol": if l.tcp { serde_json::Value::Null } else { l.protocol.clone().into() },
        "response_code": if l.tcp { 0 } else { l.response_code },
        "response_flags": l.response_flags,
        "response_code_details": l.response_code_details,
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
        "downstream_local_address": l.downstream_local_address,
        "downstream_remote_address": l.downstream_remote_address,
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
