//! Which proxy a pod gets, decided as Istio's injection webhooks and ambient enrollment do.
//!
//! Istio 1.27's chart installs, per revision R, a webhook matching namespaces labelled
//! `istio.io/rev=R` (without `istio-injection`) and one matching pods labelled
//! `istio.io/rev=R` in namespaces with neither label; the revision or tag named `default`
//! also matches namespaces labelled `istio-injection=enabled` and pods labelled
//! `sidecar.istio.io/inject=true` in unlabelled namespaces. `sidecar.istio.io/inject=false`
//! on a pod opts it out everywhere. The `gateway` template turns the sidecar into a gateway.

use super::{ControlPlane, ProxyKind};
use crate::parse::types::Labels;

pub struct Decision {
    pub proxy: ProxyKind,
    pub reason: String,
    pub revision: Option<String>,
    pub warning: Option<String>,
}

fn decision(proxy: ProxyKind, reason: String, revision: Option<String>) -> Decision {
    Decision {
        proxy,
        reason,
        revision,
        warning: None,
    }
}

pub fn decide(
    ns: &Labels,
    pod: &Labels,
    annotations: &Labels,
    cp: &ControlPlane,
    preset: ProxyKind,
) -> Decision {
    if preset != ProxyKind::None {
        return decision(preset, String::new(), None);
    }
    let pod_inject = pod.get("sidecar.istio.io/inject").map(|v| v.as_str());
    let ns_injection = ns.get("istio-injection").map(|v| v.as_str());
    let ns_rev = ns.get("istio.io/rev").map(|v| v.as_str());
    let pod_rev = pod.get("istio.io/rev").map(|v| v.as_str());
    let gateway_template = annotations
        .get("inject.istio.io/templates")
        .is_some_and(|t| t.split(',').any(|x| x.trim() == "gateway"));
    let mut warning = None;

    // Which webhook (if any) injects, and why.
    let injected: Option<(String, String)> = if pod_inject == Some("false") {
        None
    } else if let Some(v) = ns_injection {
        if v == "enabled" {
            match cp.resolve("default") {
                Some(r) => Some((
                    r.to_string(),
                    "namespace label istio-injection=enabled (default revision)".to_string(),
                )),
                None => {
                    warning = Some("namespace label istio-injection=enabled needs a revision or tag named 'default', and none exists".to_string());
                    None
                }
            }
        } else {
            None
        }
    } else if let Some(rev) = ns_rev {
        match cp.resolve(rev) {
            Some(r) => Some((r.to_string(), format!("namespace label istio.io/rev={rev}"))),
            None => {
                warning = Some(format!(
                    "namespace label istio.io/rev={rev} names no existing revision or tag"
                ));
                None
            }
        }
    } else if let Some(rev) = pod_rev {
        match cp.resolve(rev) {
            Some(r) => Some((r.to_string(), format!("pod label istio.io/rev={rev}"))),
            None => {
                warning = Some(format!(
                    "pod label istio.io/rev={rev} names no existing revision or tag"
                ));
                None
            }
        }
    } else if pod_inject == Some("true") {
        match cp.resolve("default") {
            Some(r) => Some((
                r.to_string(),
                "pod label sidecar.istio.io/inject=true (default revision)".to_string(),
            )),
            None => {
                warning = Some("pod label sidecar.istio.io/inject=true needs a revision or tag named 'default', and none exists".to_string());
                None
            }
        }
    } else {
        None
    };

    if let Some((rev, why)) = injected {
        let (kind, what) = if gateway_template {
            (
                ProxyKind::Gateway,
                "gateway proxy (inject.istio.io/templates: gateway)",
            )
        } else {
            (ProxyKind::Sidecar, "sidecar")
        };
        return Decision {
            proxy: kind,
            reason: format!("{what} injected by revision {rev}: {why}"),
            revision: Some(rev),
            warning,
        };
    }

    // Not injected: ambient enrollment, where the pod does not opt out.
    let pod_mode = pod.get("istio.io/dataplane-mode").map(|v| v.as_str());
    let ns_mode = ns.get("istio.io/dataplane-mode").map(|v| v.as_str());
    let ambient = match pod_mode {
        Some("ambient") => Some("pod label istio.io/dataplane-mode=ambient"),
        Some("none") => None,
        _ if ns_mode == Some("ambient") => Some("namespace label istio.io/dataplane-mode=ambient"),
        _ => None,
    };
    if let Some(why) = ambient {
        if cp.ambient {
            return Decision {
                proxy: ProxyKind::Ambient,
                reason: format!("captured by ztunnel: {why}"),
                revision: None,
                warning,
            };
        }
        warning = Some(format!(
            "{why}, but the control plane has no ambient profile: the pod is not captured"
        ));
    }
    let reason = if pod_inject == Some("false") {
        "pod label sidecar.istio.io/inject=false opts out".to_string()
    } else if ns_injection == Some("disabled") {
        "namespace label istio-injection=disabled".to_string()
    } else if warning.is_some() {
        "the injection label names no existing revision".to_string()
    } else {
        "no injection or ambient label on the namespace or pod".to_string()
    };
    Decision {
        proxy: ProxyKind::None,
        reason,
        revision: None,
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn cp(revs: &[&str], tags: &[(&str, &str)]) -> ControlPlane {
        ControlPlane {
            revisions: revs.iter().map(|s| s.to_string()).collect(),
            tags: tags
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            assumed: false,
            ambient: false,
            namespace: "istio-system".into(),
            ..Default::default()
        }
    }

    #[test]
    fn istio_injection_enabled_needs_a_default_revision() {
        let ns = labels(&[("istio-injection", "enabled")]);
        let d = decide(
            &ns,
            &Labels::new(),
            &Labels::new(),
            &cp(&["default"], &[]),
            ProxyKind::None,
        );
        assert_eq!(d.proxy, ProxyKind::Sidecar);
        let d = decide(
            &ns,
            &Labels::new(),
            &Labels::new(),
            &cp(&["prod"], &[]),
            ProxyKind::None,
        );
        assert_eq!(d.proxy, ProxyKind::None);
        assert!(d.warning.is_some());
        let d = decide(
            &ns,
            &Labels::new(),
            &Labels::new(),
            &cp(&["prod"], &[("default", "prod")]),
            ProxyKind::None,
        );
        assert_eq!(d.proxy, ProxyKind::Sidecar);
    }

    #[test]
    fn revision_label_on_namespace_selects_that_revision() {
        let ns = labels(&[("istio.io/rev", "default-v1-24-3")]);
        let d = decide(
            &ns,
            &Labels::new(),
            &Labels::new(),
            &cp(&["default-v1-24-3"], &[]),
            ProxyKind::None,
        );
        assert_eq!(d.proxy, ProxyKind::Sidecar);
        assert_eq!(d.revision.as_deref(), Some("default-v1-24-3"));
    }

    #[test]
    fn pod_opt_out_and_gateway_template() {
        let ns = labels(&[("istio-injection", "enabled")]);
        let c = cp(&["default"], &[]);
        let d = decide(
            &ns,
            &labels(&[("sidecar.istio.io/inject", "false")]),
            &Labels::new(),
            &c,
            ProxyKind::None,
        );
        assert_eq!(d.proxy, ProxyKind::None);
        let ann = labels(&[("inject.istio.io/templates", "gateway")]);
        let d = decide(
            &Labels::new(),
            &labels(&[("sidecar.istio.io/inject", "true")]),
            &ann,
            &c,
            ProxyKind::None,
        );
        assert_eq!(d.proxy, ProxyKind::Gateway);
    }

    #[test]
    fn disabled_namespace_wins_over_pod_label() {
        let ns = labels(&[("istio-injection", "disabled")]);
        let d = decide(
            &ns,
            &labels(&[("sidecar.istio.io/inject", "true")]),
            &Labels::new(),
            &cp(&["default"], &[]),
            ProxyKind::None,
        );
        assert_eq!(d.proxy, ProxyKind::None);
    }

    #[test]
    fn ambient_namespace_and_opt_out() {
        let ns = labels(&[("istio.io/dataplane-mode", "ambient")]);
        let mut c = cp(&["default"], &[]);
        c.ambient = true;
        assert_eq!(
            decide(&ns, &Labels::new(), &Labels::new(), &c, ProxyKind::None).proxy,
            ProxyKind::Ambient
        );
        let pod = labels(&[("istio.io/dataplane-mode", "none")]);
        assert_eq!(
            decide(&ns, &pod, &Labels::new(), &c, ProxyKind::None).proxy,
            ProxyKind::None
        );
        // A sidecar wins over ambient enrollment.
        let pod = labels(&[("sidecar.istio.io/inject", "true")]);
        assert_eq!(
            decide(&ns, &pod, &Labels::new(), &c, ProxyKind::None).proxy,
            ProxyKind::Sidecar
        );
    }
}
