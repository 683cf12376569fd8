//! The share link: the playground's whole state (lab, manifests, request) as JSON, compressed
//! with raw DEFLATE and written in base64url, so that it fits in a URL fragment (which never
//! leaves the browser) and a link reproduces the page exactly.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// A state larger than this when inflated is refused: a link is not a way to exhaust memory.
const MAX_STATE_BYTES: usize = 16 << 20;

/// Format version written first in every link, so that old links stay readable.
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct File {
    pub path: String,
    pub text: String,
}

/// Everything a person can change on the page.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub v: u32,
    /// The lab the manifests came from; none for the built-in example or one's own.
    #[serde(default)]
    pub lab: Option<String>,
    pub files: Vec<File>,
    #[serde(default)]
    pub request: String,
}

pub fn encode(state: &State) -> String {
    let mut state = state.clone();
    state.v = VERSION;
    let json = serde_json::to_vec(&state).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(&json, 9))
}

pub fn decode(text: &str) -> Result<State, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim().trim_end_matches('='))
        .map_err(|e| format!("the link's state is not base64url: {e}"))?;
    let json = miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes, MAX_STATE_BYTES)
        .map_err(|e| format!("the link's state cannot be inflated: {e}"))?;
    let state: State = serde_json::from_slice(&json)
        .map_err(|e| format!("the link's state is not a playground state: {e}"))?;
    if state.v > VERSION {
        return Err(format!(
            "the link was made by a newer playground (state version {})",
            state.v
        ));
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_survives_the_link() {
        let s = State {
            v: VERSION,
            lab: Some("istio-gateway-ingress".into()),
            files: vec![File {
                path: "a.yaml".into(),
                text: "kind: Namespace\nmetadata: {name: é}\n".repeat(50),
            }],
            request: "curl -> a/b -H 'Host: x'".into(),
        };
        let link = encode(&s);
        assert!(link
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let raw = serde_json::to_string(&s).unwrap().len();
        assert!(link.len() * 4 < raw, "{} of {raw} bytes", link.len());
        assert_eq!(decode(&link).unwrap(), s);
    }

    #[test]
    fn broken_links_are_errors_not_panics() {
        for bad in ["", "!!!", "AAAA", &URL_SAFE_NO_PAD.encode(b"not deflate")] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
    }

    proptest::proptest! {
        /// A link is input from anywhere: any text, and any bytes that do inflate, are read
        /// into a state or an error, never a panic.
        #[test]
        fn any_link_decodes_or_errs(text in "[A-Za-z0-9_=-]{0,200}", bytes in proptest::collection::vec(0u8.., 0..300)) {
            let _ = decode(&text);
            let _ = decode(&URL_SAFE_NO_PAD.encode(miniz_oxide::deflate::compress_to_vec(&bytes, 1)));
        }
    }
}
