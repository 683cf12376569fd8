//! meshsim-web: the browser playground's bridge to meshsim-core. The page calls these
//! functions with JSON strings and gets JSON strings back; all the work happens in the
//! core and in [`playground`], which are plain Rust and tested natively. Nothing here does
//! I/O: the page's state lives in the page and in its URL fragment.

pub mod labs;
pub mod playground;
pub mod share;

use share::State;
use std::sync::Mutex;
use wasm_bindgen::prelude::*;

/// The message of the last panic, for the page to show: the core never panics on input by
/// design, so a panic is a bug, and the person should see it rather than a frozen page.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    fn console_error(message: &str);
}

#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = info.to_string();
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(message.clone());
        }
        console_error(&format!("meshsim: internal error: {message}"));
    }));
}

/// The message of the last panic, if one happened (then the call that panicked threw).
#[wasm_bindgen]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut p| p.take())
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        serde_json::json!({ "error": { "message": e.to_string() } }).to_string()
    })
}

/// The labs, the built-in example and its example requests.
#[wasm_bindgen]
pub fn catalog() -> String {
    to_json(&playground::catalog())
}

/// A lab's state (its manifests, and `request` or its first example request); `null` when no
/// lab has that name.
#[wasm_bindgen]
pub fn lab_state(name: &str, request: Option<String>) -> String {
    to_json(&playground::lab_state(name, request.as_deref()))
}

/// Diagnostics, trace, JSON, text, diagram and log lines for a state.
#[wasm_bindgen]
pub fn evaluate(state_json: &str) -> String {
    match serde_json::from_str::<State>(state_json) {
        Ok(state) => to_json(&playground::evaluate(&state)),
        Err(e) => to_json(&serde_json::json!({
            "error": { "message": format!("the page sent a malformed state: {e}") }
        })),
    }
}

/// The state as the compact text of a share link.
#[wasm_bindgen]
pub fn encode_state(state_json: &str) -> String {
    serde_json::from_str::<State>(state_json)
        .map(|s| share::encode(&s))
        .unwrap_or_default()
}

/// `{"state": ...}` from a share link's text, or `{"error": "..."}`.
#[wasm_bindgen]
pub fn decode_state(text: &str) -> String {
    match share::decode(text) {
        Ok(state) => to_json(&serde_json::json!({ "state": state })),
        Err(e) => to_json(&serde_json::json!({ "error": e })),
    }
}
