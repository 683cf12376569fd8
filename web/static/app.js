// The playground's page logic: the DOM and the URL. Every answer comes from meshsim-core in
// WebAssembly (meshsim_web.js); this file only keeps the state, calls it, and draws the result.
import init, * as meshsim from "./meshsim_web.js";

const $ = (id) => document.getElementById(id);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "testid") node.dataset.testid = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
};

let catalog = null;
let state = null; // { lab, files: [{path, text}], request }
let current = 0; // index of the file in the editor
let lastEvaluation = null;

// ---- calls into the core ----------------------------------------------------------------

function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (e) {
    const why = meshsim.last_panic() || String(e);
    showError({ message: `meshsim hit an internal error: ${why}`, hint: "please report it with the share link" });
    return null;
  }
}

function evaluate() {
  const started = performance.now();
  const out = call(meshsim.evaluate, JSON.stringify(state));
  const elapsed = performance.now() - started;
  if (out === null) return;
  lastEvaluation = JSON.parse(out);
  render(lastEvaluation, elapsed);
  scheduleUrlUpdate();
}

// Typing fires many events a frame; evaluate once per frame.
let frame = 0;
function scheduleEvaluate() {
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    evaluate();
  });
}

// ---- state from the URL ------------------------------------------------------------------

function stateFromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (params.has("s")) {
    const decoded = JSON.parse(meshsim.decode_state(params.get("s")));
    if (decoded.state) return { state: decoded.state };
    return { state: builtin(), error: { message: decoded.error, hint: "the link may be cut short; the built-in example is shown" } };
  }
  const req = params.get("req");
  if (params.has("lab")) {
    const lab = JSON.parse(meshsim.lab_state(params.get("lab"), req ?? undefined));
    if (lab) return { state: lab };
    return { state: builtin(req), error: { message: `no lab is named ${JSON.stringify(params.get("lab"))}`, hint: "pick one from the Lab list" } };
  }
  return { state: builtin(req) };
}

function builtin(request) {
  const s = structuredClone(catalog.builtin);
  if (request) s.request = request;
  return s;
}

let urlTimer = 0;
function scheduleUrlUpdate() {
  clearTimeout(urlTimer);
  urlTimer = setTimeout(updateUrl, 250);
}

function shareUrl() {
  const blob = meshsim.encode_state(JSON.stringify(state));
  return `${location.origin}${location.pathname}#s=${blob}`;
}

function updateUrl() {
  const url = shareUrl();
  if (url !== location.href) history.replaceState(null, "", url);
}

// ---- loading a state into the page --------------------------------------------------------

function load(next, error) {
  state = next;
  current = 0;
  $("lab").value = state.lab ?? (isBuiltin(state) ? "" : "(own)");
  $("request").value = state.request;
  fillExamples();
  showFile();
  evaluate();
  if (error) showError(error);
}

function isBuiltin(s) {
  const b = catalog.builtin.files;
  return s.files.length === b.length && s.files.every((f, i) => f.path === b[i].path);
}

function fillLabs() {
  const select = $("lab");
  select.replaceChildren(
    el("option", { value: "" }, "Built-in example"),
    ...catalog.labs.map((l) => el("option", { value: l.name }, `${l.name} — ${l.title}`)),
    el("option", { value: "(blank)" }, "Blank: paste your own manifests"),
    el("option", { value: "(own)", hidden: "" }, "Your manifests"),
  );
}

function examplesFor(s) {
  if (s.lab) return catalog.labs.find((l) => l.name === s.lab)?.requests ?? [];
  return isBuiltin(s) ? catalog.builtin_requests : [];
}

function fillExamples() {
  const examples = examplesFor(state);
  $("examples").replaceChildren(
    el("option", { value: "" }, examples.length ? "Example requests…" : "No example requests"),
    ...examples.map((r) => el("option", { value: r.line, title: r.line }, r.name)),
  );
}

// ---- the editor ---------------------------------------------------------------------------

function shortName(path) {
  return path.replace(/^scenarios\/[^/]+\//, "");
}

function showFile() {
  if (current >= state.files.length) current = Math.max(0, state.files.length - 1);
  const file = state.files[current];
  $("source").value = file ? file.text : "";
  drawTabs();
  drawGutter();
}

function drawTabs() {
  const diags = lastEvaluation?.diagnostics ?? [];
  const tabs = state.files.map((f, i) => {
    const errors = diags.filter((d) => d.file === f.path && d.severity === "error").length;
    const warnings = diags.filter((d) => d.file === f.path && d.severity === "warning").length;
    const tab = el("button", {
      type: "button", role: "tab", "aria-selected": String(i === current),
      title: f.path, testid: "tab", class: errors ? "tab has-error" : "tab",
    }, shortName(f.path));
    if (errors) tab.append(el("span", { class: "badge error" }, `✗ ${errors}`));
    else if (warnings) tab.append(el("span", { class: "badge warning" }, `! ${warnings}`));
    tab.addEventListener("click", () => { current = i; showFile(); });
    return tab;
  });
  const add = el("button", { type: "button", class: "tab add", title: "Add a file" }, "+ file");
  add.addEventListener("click", () => {
    let n = state.files.length + 1;
    while (state.files.some((f) => f.path === `manifests/new-${n}.yaml`)) n++;
    state.files.push({ path: `manifests/new-${n}.yaml`, text: "" });
    markOwn();
    current = state.files.length - 1;
    showFile();
    $("source").focus();
  });
  $("tabs").replaceChildren(...tabs, add);
}

function drawGutter() {
  const file = state.files[current];
  const lines = ($("source").value.match(/\n/g)?.length ?? 0) + 1;
  const marks = new Map();
  for (const d of lastEvaluation?.diagnostics ?? []) {
    if (!file || d.file !== file.path || !d.line) continue;
    const worst = marks.get(d.line);
    if (!worst || d.severity === "error") marks.set(d.line, d);
  }
  const rows = [];
  for (let n = 1; n <= lines; n++) {
    const d = marks.get(n);
    if (d) {
      const sign = d.severity === "error" ? "✗" : d.severity === "warning" ? "!" : "i";
      rows.push(el("span", { class: `mark ${d.severity}`, title: `${d.severity}[${d.code}]: ${d.message}` }, `${sign}${n}`));
    } else rows.push(String(n));
    rows.push("\n");
  }
  $("gutter").replaceChildren(...rows);
  $("gutter").scrollTop = $("source").scrollTop;
}

function markOwn() {
  // Edited lab manifests keep the lab (its mesh settings still apply); a blank start is one's own.
  if (!state.lab && !isBuiltin(state)) $("lab").value = "(own)";
}

function jumpTo(file, line) {
  const i = state.files.findIndex((f) => f.path === file);
  if (i < 0) return;
  current = i;
  showFile();
  const text = $("source").value;
  let start = 0;
  for (let n = 1; n < line && start >= 0; n++) start = text.indexOf("\n", start) + 1;
  const end = text.indexOf("\n", start);
  const source = $("source");
  source.focus();
  source.setSelectionRange(start, end < 0 ? text.length : end);
  const lineHeight = parseFloat(getComputedStyle(source).lineHeight) || 18;
  source.scrollTop = Math.max(0, (line - 5) * lineHeight);
}

// ---- the result ---------------------------------------------------------------------------

function showError(problem) {
  const box = $("error");
  if (!problem) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  box.hidden = false;
  box.replaceChildren(
    el("strong", {}, "error: "), problem.message,
    ...(problem.hint ? [el("br"), el("span", { class: "hint" }, `hint: ${problem.hint}`)] : []),
  );
}

function render(ev, elapsed) {
  showError(ev.error);
  drawTabs();
  drawGutter();
  drawDiagnostics(ev.diagnostics ?? []);
  const traced = ev.status !== null && ev.status !== undefined;
  document.body.classList.toggle("stale", !traced);
  $("status").textContent = traced ? String(ev.status) : "–";
  $("status").className = !traced ? "" : ev.status === 0 || ev.status >= 400 ? "fail" : "pass";
  $("status-text").textContent = traced
    ? `${ev.status === 0 ? "no response" : ev.status_text}${ev.status === 0 || ev.status >= 400 ? " ✗" : " ✓"}`
    : "not traced";
  $("timing").textContent = `answered in ${elapsed.toFixed(1)} ms`;
  if (!traced) return; // keep the last trace on screen, dimmed, while the input is fixed
  drawDiagram(ev.diagram);
  drawExplanation(ev);
  $("logs").textContent = ev.logs.length
    ? ev.logs.map((l) => `# ${l.source}\n${l.line}`).join("\n")
    : "(no access-log line: logging is off, or no proxy saw the request)";
  $("text").textContent = ev.text;
  $("json").textContent = ev.json;
  $("cli").textContent = ev.cli;
}

function drawDiagnostics(diags) {
  const items = diags.map((d) => {
    const where = d.file ? `${d.file}${d.line ? `:${d.line}` : ""}` : "";
    const item = el("li", { class: d.severity, testid: "diagnostic" },
      el("span", { class: "sev" }, `${d.severity}[${d.code}]`), " ",
      where ? el("a", { href: "#", class: "where" }, where) : null, where ? ": " : "",
      d.object ? `${d.object}: ` : "", ...linkify(d.message),
      d.hint ? el("div", { class: "hint" }, `hint: ${d.hint}`) : null);
    item.querySelector("a")?.addEventListener("click", (e) => { e.preventDefault(); jumpTo(d.file, d.line); });
    return item;
  });
  $("diagnostics").replaceChildren(...items);
}

const MARK = { pass: "✓", reply: "↩", fail: "✗" };

// Positions the core writes (`path:line`) become links to that line of the editor.
function linkify(text) {
  // Longest first, so that a path which is a prefix of another does not cut it short.
  const paths = [...state.files].sort((a, b) => b.path.length - a.path.length).map((f) => f.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!paths.length) return [text];
  const re = new RegExp(`(${paths.join("|")}):(\\d+)`, "g");
  const out = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    out.push(text.slice(last, m.index));
    const link = el("a", { href: "#", class: "where" }, m[0]);
    link.addEventListener("click", (e) => { e.preventDefault(); jumpTo(m[1], Number(m[2])); });
    out.push(link);
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

function drawDiagram(nodes) {
  const items = nodes.map((n) => {
    const steps = n.steps.length
      ? el("details", { class: "steps" },
        el("summary", {}, `${n.steps.length} stages`),
        el("dl", {}, ...n.steps.flatMap((st) => [
          el("dt", {}, st.stage),
          el("dd", {}, ...linkify(st.result),
            ...st.tried.map((t) => el("div", { class: "tried" }, "✗ ", ...linkify(t)))),
        ])))
      : null;
    return el("li", { class: `node ${n.role} ${n.state}`, testid: n.role === "hop" ? "hop" : n.role, "data-state": n.state },
      el("div", { class: "verdict" }, el("span", { class: "mark", "aria-hidden": "true" }, MARK[n.state]), ` ${n.verdict}`),
      el("div", { class: "body" },
        el("div", { class: "head" },
          el("span", { class: "kind" }, n.kind), " ",
          el("span", { class: "title" }, n.title), " ",
          n.detail ? el("span", { class: "detail" }, n.detail) : null),
        n.decision ? el("div", { class: "decision" }, ...linkify(n.decision)) : null,
        n.reason.length ? el("ul", { class: "reason" }, ...n.reason.map((r) => el("li", {}, ...linkify(r.trim())))) : null,
        steps));
  });
  $("diagram").replaceChildren(...items);
}

function drawExplanation(ev) {
  const parts = [];
  if (ev.explanation.length) {
    parts.push(el("ul", { class: "why" }, ...ev.explanation.map((e) => el("li", { class: e.startsWith("  ") ? "sub" : "" }, ...linkify(e.trim())))));
  } else {
    const served = ev.diagram.find((n) => n.role === "backend");
    parts.push(el("p", {}, served ? `Served by ${served.kind} ${served.title}: ${served.decision}.` : "Nothing failed."));
  }
  if (ev.notes.length) parts.push(el("ul", { class: "notes" }, ...ev.notes.map((n) => el("li", {}, ...linkify(n)))));
  $("explanation").replaceChildren(...parts);
}

// ---- wiring -------------------------------------------------------------------------------

function wire() {
  $("request").addEventListener("input", (e) => { state.request = e.target.value; scheduleEvaluate(); });
  $("examples").addEventListener("change", (e) => {
    if (!e.target.value) return;
    state.request = e.target.value;
    $("request").value = state.request;
    e.target.value = "";
    evaluate();
  });
  $("source").addEventListener("input", (e) => {
    if (!state.files.length) state.files.push({ path: "manifests.yaml", text: "" });
    state.files[current].text = e.target.value;
    markOwn();
    drawGutter();
    scheduleEvaluate();
  });
  $("source").addEventListener("scroll", (e) => { $("gutter").scrollTop = e.target.scrollTop; });
  $("source").addEventListener("keydown", (e) => {
    // Tab indents (YAML forbids tab characters, so two spaces) rather than leaving the editor.
    if (e.key === "Tab" && !e.shiftKey && !e.ctrlKey && !e.altKey && !e.metaKey) {
      e.preventDefault();
      document.execCommand("insertText", false, "  ");
    }
  });
  $("lab").addEventListener("change", (e) => {
    const v = e.target.value;
    if (v === "") load(builtin());
    else if (v === "(blank)") load({ lab: null, files: [{ path: "manifests.yaml", text: "" }], request: state.request });
    else if (v !== "(own)") load(JSON.parse(meshsim.lab_state(v)));
  });
  $("share").addEventListener("click", async () => {
    const url = shareUrl();
    history.replaceState(null, "", url);
    try {
      await navigator.clipboard.writeText(url);
      $("share-done").textContent = "Link copied.";
    } catch {
      $("share-done").textContent = "The link is in the address bar.";
    }
    setTimeout(() => { $("share-done").textContent = ""; }, 3000);
  });
  window.addEventListener("hashchange", () => {
    if (location.href === shareUrl()) return;
    const { state: s, error } = stateFromFragment();
    load(s, error);
  });
}

async function main() {
  await init();
  catalog = JSON.parse(meshsim.catalog());
  fillLabs();
  wire();
  const { state: s, error } = stateFromFragment();
  load(s, error);
  document.body.dataset.ready = "true";
  if ("serviceWorker" in navigator && location.protocol !== "file:") {
    navigator.serviceWorker.register("sw.js").catch(() => {});
  }
}

main().catch((e) => {
  showError({ message: `the playground could not start: ${e}`, hint: "it needs a browser with WebAssembly; the meshsim command line gives the same answers" });
});
