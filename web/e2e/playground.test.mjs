// End-to-end test of the playground in real headless Chromium: serves web/dist on a loopback
// port, drives the page as a person would, and compares its JSON with the CLI's.
//
// Needs: web/dist (bash web/build.sh), the meshsim binary (cargo build -p meshsim; or
// MESHSIM_BIN), Chromium at /usr/bin/chromium (or CHROMIUM) and playwright-core (npm ci).
import { test, before, after, afterEach } from "node:test";
import assert from "node:assert/strict";
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
const meshsimBin = process.env.MESHSIM_BIN || path.join(targetDir, "debug", "meshsim");
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";

const LAB = "istio-gateway-ingress";
const VS_FILE = `scenarios/${LAB}/manifests/30-httpbin-gateway.yaml`;
const GATEWAY_URL = "http://istio-ingressgateway.istio-ingress.svc.cluster.local/headers";
// The same request, as the request bar takes it and as argv for the CLI.
const REQUEST_LINE = `curl/curl -> ${GATEWAY_URL} -H 'Host: httpbin.example.com'`;
const REQUEST_ARGV = [`curl/curl -> ${GATEWAY_URL}`, "-H", "Host: httpbin.example.com"];

// No step of a test waits on the page for long; a hung page fails its test instead of the run.
const TIMEOUT = { timeout: 60_000 };

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
};

let server;
let base;
let context;
let page;
let userDataDir;
let served = 0;
const pageErrors = [];

function serve(dir) {
  return http.createServer((req, res) => {
    served++;
    const url = new URL(req.url, "http://localhost");
    const rel = decodeURIComponent(url.pathname).replace(/^\/+/, "") || "index.html";
    const file = path.resolve(dir, rel);
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": MIME[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
}

before(async () => {
  for (const [what, p, how] of [
    ["the built page", path.join(dist, "index.html"), "bash web/build.sh"],
    ["the meshsim binary", meshsimBin, "cargo build -p meshsim"],
    ["Chromium", chromiumPath, "apt-get install -y chromium"],
  ]) {
    assert.ok(fs.existsSync(p), `${what} is missing at ${p}; run: ${how}`);
  }
  server = serve(dist);
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}/`;
  userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "meshsim-e2e-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
}, TIMEOUT);

after(async () => {
  await context?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()));
  if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
}, TIMEOUT);

afterEach(() => {
  const errors = pageErrors.splice(0);
  assert.deepEqual(errors, [], "the page logged no error");
});

async function open(fragment = "") {
  // A fresh document each time: a new fragment alone would only fire hashchange.
  await page.goto("about:blank");
  await page.goto(base + fragment);
  await page.waitForSelector("body[data-ready=true]");
}

const status = () => page.getByTestId("status").textContent();

async function expectStatus(code) {
  await page.waitForFunction(
    (c) => document.querySelector("[data-testid=status]")?.textContent === c,
    String(code),
    { timeout: 5000 },
  ).catch(() => {});
  assert.equal(await status(), String(code));
}

async function setRequest(line) {
  await page.getByTestId("request").fill(line);
}

async function openTab(path) {
  await page.locator(`[data-testid=tab][title="${path}"]`).click();
}

async function editFile(path, edit) {
  await openTab(path);
  const editor = page.getByTestId("editor");
  const text = await editor.inputValue();
  const changed = edit(text);
  assert.notEqual(changed, text, "the edit changes the file");
  await editor.fill(changed);
  return changed;
}

function runCli(args, cwd = root) {
  const r = spawnSync(meshsimBin, ["trace", "-o", "json", ...args], { cwd, encoding: "utf8" });
  assert.ok(r.status === 0 || r.status === 1, `meshsim exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

test("the built-in example is loaded on first visit and answers 200", TIMEOUT, async () => {
  await open();
  assert.equal(await page.getByTestId("request").inputValue(), "curl -> httpbin.example.com/headers");
  await expectStatus(200);
  assert.equal(await page.getByTestId("hop").count(), 3);
  const states = await page.getByTestId("hop").evaluateAll((hops) => hops.map((h) => h.dataset.state));
  assert.deepEqual(states, ["pass", "pass", "pass"]);
});

test("every lab of scenarios/ is in the lab picker", TIMEOUT, async () => {
  await open();
  const options = await page.getByTestId("lab").locator("option").evaluateAll((os) => os.map((o) => o.value));
  for (const entry of fs.readdirSync(path.join(root, "scenarios"), { withFileTypes: true })) {
    if (entry.isDirectory() && fs.existsSync(path.join(root, "scenarios", entry.name, "manifests"))) {
      assert.ok(options.includes(entry.name), `lab ${entry.name} is listed: ${options}`);
    }
  }
});

test("pick a lab, run a request, see 200 and the access log", TIMEOUT, async () => {
  await open();
  await page.getByTestId("lab").selectOption(LAB);
  await setRequest(REQUEST_LINE);
  await expectStatus(200);
  const logs = await page.getByTestId("logs").textContent();
  assert.match(logs, /"GET \/headers HTTP\/1\.1" 200 - via_upstream .* outbound\|8000\|\|httpbin\.httpbin\.svc\.cluster\.local/);
  assert.equal(await page.getByTestId("hop").count(), 3);
  // The lab's case files give the example requests; picking one runs it.
  const examples = page.getByTestId("examples");
  const get = await examples.locator("option", { hasText: "/get" }).first().getAttribute("value");
  await examples.selectOption(get);
  assert.equal(await page.getByTestId("request").inputValue(), get);
  await expectStatus(404);
});

test("a lab's variant from its second case file: the LoadBalancer answers from outside", TIMEOUT, async () => {
  await open();
  await page.getByTestId("lab").selectOption(`${LAB}/loadbalancer`);
  await setRequest(`external -> ${GATEWAY_URL} -H 'Host: httpbin.example.com'`);
  await expectStatus(200);
  const kinds = await page.getByTestId("hop").locator(".kind").allTextContents();
  assert.deepEqual(kinds, ["gateway", "sidecar"]);
});

test("edit the VirtualService so the path no longer matches: 404, and the page says why", TIMEOUT, async () => {
  await open();
  await page.getByTestId("lab").selectOption(LAB);
  await setRequest(REQUEST_LINE);
  await expectStatus(200);
  await editFile(VS_FILE, (t) => t.replace("prefix: /headers", "prefix: /anything"));
  await expectStatus(404);
  const last = page.getByTestId("hop").last();
  assert.equal(await last.getAttribute("data-state"), "fail");
  assert.match(await last.textContent(), /failed/);
  assert.match(await last.textContent(), /does not match prefix "\/anything"/);
  assert.match(await page.getByTestId("explanation").textContent(), /has no route matching GET \/headers/);
});

test("diagnostics appear at their lines as one types, and nothing is traced until fixed", TIMEOUT, async () => {
  await open();
  const broken = await editFile(VS_FILE, (t) => `${t}---\nkind: VirtualService\nmetadata: [\n`);
  const line = broken.split("\n").length - 1;
  await page.waitForSelector("#gutter .mark.error");
  const mark = await page.locator("#gutter .mark.error").first().textContent();
  // The unclosed flow sequence opened on `line` is reported there or where the input ends.
  assert.match(mark, new RegExp(`^✗(${line}|${line + 1})$`), `the error is marked at line ${line}: ${mark}`);
  assert.match(await page.getByTestId("diagnostics").textContent(), /error\[MS0101\].*30-httpbin-gateway\.yaml:\d+/);
  assert.equal(await status(), "–");
  assert.match(await page.getByTestId("error").textContent(), /nothing was simulated/);
  await editFile(VS_FILE, (t) => t.replace(/---\nkind: VirtualService\nmetadata: \[\n$/, ""));
  await expectStatus(200);
  assert.equal(await page.locator("#gutter .mark.error").count(), 0);
});

test("a share link reproduces the state", TIMEOUT, async () => {
  await open();
  await page.getByTestId("lab").selectOption(LAB);
  await setRequest(REQUEST_LINE);
  await editFile(VS_FILE, (t) => t.replace("prefix: /headers", "prefix: /anything"));
  await expectStatus(404);
  await page.getByTestId("share").click();
  const link = page.url();
  assert.match(link, /#s=[A-Za-z0-9_-]+$/);
  const json = await page.getByTestId("json").textContent();
  await open(link.slice(base.length));
  await expectStatus(404);
  assert.equal(await page.getByTestId("request").inputValue(), REQUEST_LINE);
  assert.equal(await page.getByTestId("lab").inputValue(), LAB);
  await openTab(VS_FILE);
  assert.match(await page.getByTestId("editor").inputValue(), /prefix: \/anything/);
  assert.equal(await page.getByTestId("json").textContent(), json);
});

test("#lab=NAME&req=REQUEST opens a lab with a request; #req= alone uses the built-in example", TIMEOUT, async () => {
  await open(`#lab=${LAB}/loadbalancer&req=${encodeURIComponent("external -> httpbin.example.com/get")}`);
  assert.equal(await page.getByTestId("lab").inputValue(), `${LAB}/loadbalancer`);
  await expectStatus(404);
  await open(`#req=${encodeURIComponent("curl -> httpbin.example.com/status/418")}`);
  assert.equal(await page.getByTestId("lab").inputValue(), "");
  await expectStatus(418);
  await open(`#lab=no-such-lab`);
  assert.match(await page.getByTestId("error").textContent(), /no lab is named "no-such-lab"/);
  await open(`#s=cut-short`);
  assert.match(await page.getByTestId("error").textContent(), /the link's state/);
  await expectStatus(200);
});

test("the page's JSON is byte for byte the CLI's, for a lab and for edited manifests", TIMEOUT, async () => {
  await open(`#lab=${LAB}&req=${encodeURIComponent(REQUEST_LINE)}`);
  await expectStatus(200);
  const pageJson = await page.getByTestId("json").textContent();
  assert.equal(`${pageJson}\n`, runCli(["-f", `scenarios/${LAB}/manifests`, ...REQUEST_ARGV]));

  const edited = await editFile(VS_FILE, (t) => t.replace("prefix: /headers", "prefix: /anything"));
  await expectStatus(404);
  const editedJson = await page.getByTestId("json").textContent();
  // The CLI reads the same files under the same names from a copy of the lab.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "meshsim-e2e-lab-"));
  try {
    const manifests = path.join(copy, "scenarios", LAB, "manifests");
    fs.cpSync(path.join(root, "scenarios", LAB, "manifests"), manifests, { recursive: true });
    fs.writeFileSync(path.join(copy, VS_FILE), edited);
    assert.equal(`${editedJson}\n`, runCli(["-f", `scenarios/${LAB}/manifests`, ...REQUEST_ARGV], copy));
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
});

// How fast the page answers is measured by `npm run bench:load` (and the Rust benchmarks),
// not asserted here: a test fails on wrong answers, not on a busy machine.
test("re-tracing after each change of the request answers that request", TIMEOUT, async () => {
  await open(`#lab=${LAB}`);
  const times = [];
  for (const p of ["/headers", "/get", "/status/418", "/headers?x=1", "/status/200"]) {
    await setRequest(`curl -> httpbin.example.com${p}`);
    await page.waitForFunction((p) => document.querySelector("[data-testid=json]")?.textContent.includes(p), p);
    times.push(parseFloat((await page.getByTestId("timing").textContent()).replace(/[^0-9.]/g, "")));
  }
  assert.ok(times.every((t) => Number.isFinite(t)), `every answer shows its time: ${times.join(", ")}`);
  console.log(`     trace times (ms): ${times.join(", ")}`);
});

test("works offline once loaded", TIMEOUT, async () => {
  await open();
  await page.evaluate(() => navigator.serviceWorker.ready);
  await open(); // the second load is controlled by the service worker
  assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null));
  const before = served;
  await context.setOffline(true);
  try {
    await open(`#lab=${LAB}&req=${encodeURIComponent("curl -> httpbin.example.com/status/418")}`);
    await expectStatus(418);
  } finally {
    await context.setOffline(false);
  }
  assert.equal(served, before, "no request reached the server while offline");
});
