//! Diagnostics: every problem meshsim finds in its input, with a stable code, a severity, a
//! position and a hint. The registry below is the single list of codes; retired codes stay
//! reserved. `docs/diagnostics.md` documents the same list for users.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// One entry of the code registry.
pub struct Code {
    pub code: &'static str,
    pub severity: Severity,
    pub title: &'static str,
    pub explanation: &'static str,
}

macro_rules! codes {
    ($($ident:ident = $code:literal, $sev:ident, $title:literal, $expl:literal;)*) => {
        $(pub const $ident: &str = $code;)*
        /// Every diagnostic code meshsim can emit, in order.
        pub const REGISTRY: &[Code] = &[
            $(Code { code: $code, severity: Severity::$sev, title: $title, explanation: $expl },)*
        ];
    };
}

codes! {
    YAML_SYNTAX = "MS0101", Error, "YAML syntax error",
        "The document is not valid YAML; nothing in it can be read.";
    WRONG_TYPE = "MS0102", Error, "field has the wrong type",
        "A field holds a value of the wrong type (a string where a number belongs, a list where an object belongs).";
    MISSING_NAME = "MS0103", Error, "object has no name",
        "Every Kubernetes object needs metadata.name.";
    NOT_AN_OBJECT = "MS0104", Error, "document is not an object",
        "A manifest document must be a mapping with apiVersion, kind and metadata.";
    NOT_TEXT = "MS0105", Error, "file is not UTF-8 text",
        "The file contains bytes that are not UTF-8 text (binary data, or another encoding).";
    TAB_INDENT = "MS0106", Error, "tab in indentation",
        "YAML forbids tab characters in indentation.";
    INVALID_REGEX = "MS0107", Error, "invalid regular expression",
        "Envoy compiles this pattern with RE2, which rejects it; Istio would reject the resource.";
    TOO_COMPLEX = "MS0108", Error, "document too deeply nested or expands too much",
        "Deep nesting or alias expansion beyond safe limits is refused, as an API server would.";
    MISSING_KIND = "MS0109", Error, "document has no kind or apiVersion",
        "Without apiVersion and kind the document cannot be interpreted.";
    INVALID_VALUE = "MS0110", Error, "invalid field value",
        "A field holds a value its API does not allow.";
    REFUSED_BY_ISTIO = "MS0111", Error, "Istio's validation refuses the object",
        "istiod's validating webhook (validation.istio.io) denies the object: kubectl apply fails with 'admission webhook \"validation.istio.io\" denied the request: configuration is invalid', and the object does not exist in the cluster.";
    UNKNOWN_KIND = "MS0201", Warning, "kind not simulated",
        "meshsim keeps the object but does not simulate this kind.";
    DUPLICATE = "MS0202", Warning, "object defined twice",
        "A later document with the same kind, namespace and name replaces the earlier one, as kubectl apply would.";
    UNSERVED_VERSION = "MS0203", Warning, "API version not served",
        "The apiVersion is not one the API server serves for this kind; meshsim reads it as the served version.";
    SET_ASIDE = "MS0204", Note, "installation objects set aside",
        "CRDs, webhook configurations, access control, kustomize files and similar objects of an install folder or a cluster dump are read and kept but change no routing; one note counts them by kind.";
    UNKNOWN_FIELD = "MS0205", Warning, "field not in the kind's API",
        "The object writes a field its API does not define (a typo, or a field indented into the wrong place). kubectl apply refuses the object under its default strict field validation; applied without validation, the API server drops the field. meshsim reads the object without it.";
    NO_CONTROL_PLANE = "MS0301", Note, "no control plane declared",
        "No Istio, IstioRevision or istio ConfigMap is in the manifests: meshsim assumes a control plane whose default revision exists and supports sidecar and ambient modes.";
    MISSING_REVISION = "MS0302", Warning, "injection names a revision that does not exist",
        "The label asks for injection by a revision (or tag) that no control plane provides, so no proxy is injected.";
    IGNORED_LABEL = "MS0303", Warning, "label is not one Istio reads",
        "Istio ignores this label; its default applies. The intended label is named in the hint.";
    GATEWAY_NO_WORKLOAD = "MS0304", Warning, "Istio Gateway selects no gateway workload",
        "No gateway proxy carries the selector's labels, so the Gateway's servers exist nowhere.";
    UNKNOWN_GATEWAY_REF = "MS0305", Warning, "VirtualService names an unknown gateway",
        "The VirtualService is bound to a Gateway that does not exist; those bindings configure nothing.";
    NO_SELECTOR_MATCH = "MS0306", Note, "Service selects no workload",
        "The Service's selector matches no pod, so it has no endpoints: requests to it get 503 UH.";
    UNKNOWN_SUBSET = "MS0307", Warning, "route names a subset no DestinationRule defines",
        "Envoy has no cluster for this subset: requests routed to it get 503 NC.";
    INJECTION_DISAGREES = "MS0308", Warning, "pod's proxy differs from what its labels ask",
        "The pod runs a different proxy than the injection labels would give it today (it was created before a label changed).";
    AMBIENT_WITHOUT_ZTUNNEL = "MS0309", Warning, "ambient profile without ztunnel",
        "The control plane has the ambient profile but no ZTunnel resource is declared, so no pod is captured.";
    MISSING_WAYPOINT = "MS0310", Warning, "use-waypoint names no waypoint",
        "An istio.io/use-waypoint label names a waypoint (a Gateway of class istio-waypoint) that does not exist: traffic that should use it is refused.";
    SIDECAR_SELECTS_ALL = "MS0311", Warning, "Sidecar's workloadSelector has no labels",
        "The Sidecar's workloadSelector has no labels, so it applies to every workload of its namespace (Istio's validation warns so and admits it). Its selector takes labels; a matchLabels there is not a field of it: kubectl's strict field validation refuses it, and without validation the API server drops it.";
    UNUSED_RULE = "MS0312", Warning, "VirtualService rule never used",
        "An HTTP rule comes after a rule without matches, or every match of it repeats an earlier one: no request reaches it. istiod's validating webhook admits the VirtualService with this warning.";
    WEBHOOK_WARNING = "MS0313", Warning, "Istio's validation warns",
        "istiod's validating webhook admits the object with a warning (kubectl apply prints it as 'Warning: ...'), such as an IP address as an SNI host.";
}

/// Looks a code up in the registry.
pub fn lookup(code: &str) -> Option<&'static Code> {
    REGISTRY.iter().find(|c| c.code == code)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub code: &'static str,
    pub severity: Severity,
    /// File the problem is in; empty for problems of the mesh as a whole.
    pub file: String,
    /// One-based line; 0 when unknown.
    pub line: usize,
    /// One-based column, where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The object concerned, as `Kind namespace/name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        let severity = lookup(code).map(|c| c.severity).unwrap_or(Severity::Error);
        Diagnostic {
            code,
            severity,
            file: String::new(),
            line: 0,
            column: None,
            object: None,
            message: message.into(),
            hint: None,
        }
    }
    pub fn at(mut self, file: &str, line: usize) -> Self {
        self.file = file.to_string();
        self.line = line;
        self
    }
    pub fn col(mut self, column: Option<usize>) -> Self {
        self.column = column;
        self
    }
    pub fn object(mut self, object: impl Into<String>) -> Self {
        self.object = Some(object.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `error[MS0102]: file.yaml:12:7: Service default/x: invalid type ...` then a `hint:` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]: ", self.severity, self.code)?;
        if !self.file.is_empty() {
            write!(f, "{}", self.file)?;
            if self.line > 0 {
                write!(f, ":{}", self.line)?;
                if let Some(c) = self.column {
                    write!(f, ":{c}")?;
                }
            }
            write!(f, ": ")?;
        }
        if let Some(o) = &self.object {
            write!(f, "{o}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_codes_are_unique_and_ordered() {
        let codes: Vec<&str> = REGISTRY.iter().map(|c| c.code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
    }
}

#[cfg(test)]
mod docs_tests {
    #[test]
    fn every_code_is_documented() {
        let doc = include_str!("../../docs/diagnostics.md");
        for c in super::REGISTRY {
            assert!(
                doc.contains(&format!("| {} | {} | {} |", c.code, c.severity, c.title)),
                "docs/diagnostics.md lacks {} ({})",
                c.code,
                c.title
            );
        }
    }
}
