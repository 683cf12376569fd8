// Benchmark (not a test): how long the playground takes, in headless Chromium, to load a
// generated mesh (the manifests as the editor holds them) and answer a request: the model
// built from the texts, a trace, its JSON, text and diagram. `npm run bench:load [services]`.
//
// Needs: web/dist (bash web/build.sh), meshsim-gen (cargo build --release -p meshsim-bench),
// Chromium at /usr/bin/chromium (or CHROMIUM) and playwright-core (npm ci).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const dist = path.join(root, "web", "dist");
const targetDir = process.env.CARGO_TARGET_DIR ? path.resolve(root, process.env.CARGO_TARGET_DIR) : path.join(root, "target");
const gen = process.env.MESHSIM_GEN || path.join(targetDir, "release", "meshsim-gen");
const services = Number(process.argv[2] || 1000);
const ROUNDS = 5;

for (const [what, p] of [["web/dist (bash web/build.sh)", dist], ["meshsim-gen (cargo build --release -p meshsim-bench)", gen]]) {
  if (!fs.existsSync(p)) {
    console.error(`error: ${p} does not exist: build ${what} first`);
    process.exit(2);
  }
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), "meshsim-load-bench-"));
const made = spawnSync(gen, ["--services", String(services), "--cases", "1", "--out", out], { encoding: "utf8" });
if (made.status !== 0) {
  console.error(made.stderr);
  process.exit(2);
}
const dir = path.join(out, "manifests");
const files = fs.readdirSync(dir).sort().map((f) => ({ path: `manifests/${f}`, text: fs.readFileSync(path.join(dir, f), "utf8") }));
const bytes = files.reduce((n, f) => n + f.text.length, 0);
const request = "curl -> http://svc-0001.ns-000.svc.cluster.local/api/users";

const MIME = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".wasm": "application/wasm" };
const server = http.createServer((req, res) => {
  const rel = decodeURIComponent(new URL(req.url, "http://localhost").pathname).replace(/^\/+/, "") || "index.html";
  const file = path.resolve(dist, rel);
  if (!file.startsWith(dist + path.sep) || !fs.existsSync(file)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": MIME[path.extname(file)] ?? "application/octet-stream" });
  fs.createReadStream(file).pipe(res);
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/`);
  await page.waitForSelector("body[data-ready=true]");
  const times = await page.evaluate(
    async ({ state, rounds }) => {
      const m = await import("./meshsim_web.js");
      await m.default();
      const times = [];
      for (let i = 0; i < rounds; i++) {
        // The page keeps the model while the manifests stay the same (a new request is only a
        // trace); a comment that differs each round makes every round load anew.
        const files = state.files.map((f, k) => (k === 0 ? { ...f, text: `${f.text}\n# round ${i}\n` } : f));
        const json = JSON.stringify({ ...state, files });
        const t0 = performance.now();
        const answer = JSON.parse(m.evaluate(json));
        times.push(performance.now() - t0);
        if (answer.error) throw new Error(JSON.stringify(answer.error));
      }
      return times;
    },
    { state: { v: 1, files, request }, rounds: ROUNDS },
  );
  times.sort((a, b) => a - b);
  console.log(
    `${services} services, ${files.length} files, ${(bytes / 1e6).toFixed(1)} MB of YAML: ` +
      `load and answer in the browser, median of ${ROUNDS}: ${times[Math.floor(ROUNDS / 2)].toFixed(0)} ms ` +
      `(all: ${times.map((t) => t.toFixed(0)).join(", ")} ms)`,
  );
} finally {
  await browser.close();
  server.close();
  fs.rmSync(out, { recursive: true, force: true });
}
