#!/usr/bin/env bash
# Builds the browser playground into web/dist/: meshsim-web compiled to WebAssembly, the
# wasm-bindgen glue, and the static page. Works from a fresh machine with rustup and cargo.
# Serve it with: python3 -m http.server -d web/dist
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir="${CARGO_TARGET_DIR:-target}"

rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32-unknown-unknown

# The wasm-bindgen CLI must be the very version of the crate the wasm was built with.
version="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [ -z "$version" ]; then
  echo "error: no wasm-bindgen in Cargo.lock" >&2
  exit 2
fi
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $version" ]; then
  echo "== installing wasm-bindgen-cli $version"
  cargo install wasm-bindgen-cli --version "$version"
fi

echo "== building meshsim-web for wasm32-unknown-unknown"
# The page is downloaded, so its release build optimises for size, whole-program; these
# settings apply to this build only (the workspace's release profile keeps debug info for
# the CLI).
CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
CARGO_PROFILE_RELEASE_LTO=true \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
CARGO_PROFILE_RELEASE_DEBUG=false \
CARGO_PROFILE_RELEASE_PANIC=abort \
  cargo build --release --target wasm32-unknown-unknown -p meshsim-web

dist=web/dist
rm -rf "$dist"
mkdir -p "$dist"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$dist" \
  "$target_dir/wasm32-unknown-unknown/release/meshsim_web.wasm"

# No wasm-opt pass: binaryen's wasm-opt -Oz (132, from npm) made the module 8% smaller but
# its gzipped size 8% larger, and took minutes.

cp web/static/index.html web/static/app.js web/static/style.css "$dist/"
build_id="$(cat "$dist"/*.wasm "$dist"/*.js "$dist"/*.html "$dist"/*.css | sha256sum | cut -c1-16)"
sed "s/__BUILD__/$build_id/" web/static/sw.js >"$dist/sw.js"

wasm_bytes="$(wc -c <"$dist/meshsim_web_bg.wasm")"
wasm_gz="$(gzip -9 -c "$dist/meshsim_web_bg.wasm" | wc -c)"
echo "== web/dist: meshsim_web_bg.wasm is $wasm_bytes bytes ($wasm_gz gzipped)"
