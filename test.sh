#!/usr/bin/env bash
# The project's test command: the Rust test suite, then the browser playground's end-to-end
# test in headless Chromium. Where Node.js or Chromium is missing, the end-to-end test is
# skipped and says why (CI installs both first: see .ci/run).
set -euo pipefail
cd "$(dirname "$0")"

cargo test --workspace

chromium="${CHROMIUM:-/usr/bin/chromium}"
missing=()
command -v node >/dev/null 2>&1 || missing+=("node (Node.js)")
command -v npm >/dev/null 2>&1 || missing+=("npm")
[ -x "$chromium" ] || missing+=("Chromium at $chromium (apt-get install -y chromium)")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "playground end-to-end test: skipped, missing: ${missing[*]}"
  exit 0
fi

echo "== playground end-to-end test"
cargo build -q -p meshsim
bash web/build.sh
cd web
[ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund
npm test --silent
