// The directive-plane admin UI: validates with the WASM build of directive-core
// (the fleet's own decoder) on every keystroke and talks to the admin API.
// Plain ES modules; no framework, no external requests.

import { AdminApi } from "./api.js";
import { LineEditor } from "./editor.js";

const TOKEN_KEY = "directive-admin-token";
const PREVIEW_ROWS = 200;
const ENDPOINTS = [
  "IngestDoc", "IngestBulk", "Search", "MultiSearch", "Count", "GetById",
  "MultiGet", "DeleteById", "DeleteByQuery", "Cursor", "Admin", "Unknown",
];
const LEVELS = ["Off", "Shape", "ShapeTiming", "ShapeRewriteDiff"];
const SAMPLE = `{
  "directives": [
    {"id": "acme-timing", "level": "ShapeTiming", "ttl_secs": 1800, "tenant": "acme", "sample_per_mille": 250},
    {"id": "orders-search-diff", "level": "ShapeRewriteDiff", "ttl_secs": 600, "index": "orders", "endpoint": "Search"},
    {"id": "svc-breakglass", "level": "Shape", "ttl_secs": 300, "principal": "svc-billing", "ring_buffer": true}
  ]
}
`;

const $ = (id) => document.getElementById(id);

/** Creates an element; children are nodes or strings (always text, never HTML). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const fmtInt = (n) => Number(n).toLocaleString("en-US");
// Browsers coarsen performance.now() (Chromium: 0.1 ms without cross-origin isolation).
const fmtMs = (ms) => (ms < 0.1 ? "< 0.1 ms" : (ms < 10 ? ms.toFixed(1) : ms.toFixed(0)) + " ms");

function fmtRemaining(ms) {
  if (ms <= 0) return "expired";
  const s = Math.ceil(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const pad = (x) => String(x).padStart(2, "0");
  if (d > 0) return `${d}d ${pad(h)}h ${pad(m)}m`;
  if (h > 0) return `${h}h ${pad(m)}m ${pad(sec)}s`;
  if (m > 0) return `${m}m ${pad(sec)}s`;
  return `${sec}s`;
}

// One formatter, built once: toLocaleString(...) per call builds a new one (slow for 200 rows).
const DATE_FMT = new Intl.DateTimeFormat("en-GB", { dateStyle: "short", timeStyle: "medium", hour12: false });
function fmtTime(ms) {
  if (ms === null || ms === undefined) return "—";
  return DATE_FMT.format(new Date(ms));
}

// ---------------------------------------------------------------- state

const state = {
  wasm: null,
  api: null,
  events: null, // AbortController of the event stream
  loaded: null, // {revision, text}: what the editor was loaded from (If-Match)
  baseText: SAMPLE, // the text the editor is compared with to know if it is dirty
  report: null, // the latest local validation report
  reportJson: "",
  lastValidateMs: null,
  publishing: false,
  live: { revision: null, state: null, count: null, ids: [], at: null },
  // GET /api/fleet: {key_revision, rollout, instances, lost}
  fleet: { key_revision: 0, rollout: null, instances: [], lost: [] },
  source: null, // GET /api/directives' source: which etcd and key
  refused: null, // {revision, codes}: the stored value the store refused, until a later one applies
  conn: "offline",
  history: [],
};

let editor;

function dirty() {
  return editor.value !== state.baseText;
}

// ---------------------------------------------------------------- WASM

async function loadWasm() {
  try {
    const mod = await import("./pkg/directive_wasm.js");
    await mod.default();
    state.wasm = mod;
    $("wasm-version").textContent = `directive-core ${mod.version()} (WASM) · limits: ${fmtInt(mod.limits().max_directives)} directives, ${fmtInt(mod.limits().max_bytes)} bytes`;
    return true;
  } catch (e) {
    const s = $("validation-status");
    s.dataset.state = "invalid";
    s.textContent = "The WASM validator could not be loaded (build it with: bash scripts/build-wasm.sh). " + (e && e.message ? e.message : e);
    return false;
  }
}

// ---------------------------------------------------------------- validation

function validateNow() {
  editor.refreshGutter();
  if (!state.wasm) return;
  const text = editor.value;
  const start = performance.now();
  const t0 = performance.now();
  const json = state.wasm.validateJson(text);
  const dt = performance.now() - t0;
  const report = JSON.parse(json);
  state.report = report;
  state.reportJson = json;
  state.lastValidateMs = dt;
  renderValidation(report, dt);
  renderPreview(report);
  evaluateNow();
  updateLoadedLine();
  // The whole keystroke: validate, errors, marks, preview, evaluate (before paint).
  $("validation-status").dataset.totalMs = (performance.now() - start).toFixed(1);
}

function renderValidation(report, dt) {
  const status = $("validation-status");
  const textarea = $("editor");
  status.textContent = "";
  const timing = el("span", { class: "timing", id: "validate-time", dataset: { ms: dt.toFixed(4) } }, ` · validated in ${fmtMs(dt)} (WASM, in this browser)`);
  if (report.ok) {
    const n = report.directives.length;
    status.dataset.state = "valid";
    status.append(el("strong", {}, `valid, ${fmtInt(n)} directive${n === 1 ? "" : "s"}`), timing);
    textarea.setAttribute("aria-invalid", "false");
    $("errors-box").hidden = true;
    $("errors-list").textContent = "";
    editor.markLines([]);
    return;
  }
  const errs = report.errors;
  status.dataset.state = "invalid";
  status.append(
    el("strong", {}, `invalid: ${errs.length} error${errs.length === 1 ? "" : "s"}`),
    errs[0] ? ` — first: ${errs[0].code} at ${errs[0].path || "(document)"}${errs[0].line ? ` (line ${errs[0].line})` : ""}` : "",
    timing,
  );
  textarea.setAttribute("aria-invalid", "true");
  renderErrorList($("errors-list"), errs, true);
  $("errors-count").textContent = `(${errs.length})`;
  $("errors-box").hidden = false;
  editor.markLines(errs.map((e) => e.line).filter(Boolean));
}

function renderErrorList(list, errors, jump) {
  list.textContent = "";
  const frag = document.createDocumentFragment();
  for (const e of errors) {
    const loc = e.line ? `${e.line}:${e.column ?? 1}` : "—";
    const body = [
      el("code", { class: "err-code" }, e.code),
      el("code", { class: "err-path" }, e.path === "" ? "(document)" : e.path),
      el("span", { class: "err-loc" }, e.line ? `line ${loc}` : "no position"),
      el("span", { class: "err-msg" }, e.message),
    ];
    const item = jump
      ? el("button", {
          type: "button",
          class: "err-btn",
          dataset: { code: e.code, path: e.path, line: e.line ?? "" },
          "aria-label": `${e.code} at ${e.path || "the document"}${e.line ? `, line ${e.line} column ${e.column}` : ""}: ${e.message}`,
          onclick: () => e.line && editor.goTo(e.line, e.column ?? 1),
        }, body)
      : el("div", { class: "err-btn" }, body);
    frag.append(el("li", {}, item));
  }
  list.append(frag);
}

// ---------------------------------------------------------------- preview

function targetText(d) {
  const parts = [];
  for (const k of ["tenant", "index", "principal", "endpoint"]) if (d[k] !== undefined) parts.push(`${k}=${d[k]}`);
  return parts.length ? parts.join(" · ") : "* (every request)";
}

function renderPreview(report) {
  const body = $("preview-body");
  body.textContent = "";
  const note = $("preview-note");
  if (!report.ok) {
    body.append(el("tr", { class: "empty" }, el("td", { colspan: 6 }, "The set is invalid: the fleet would reject it and keep its last good set.")));
    note.textContent = "Decoded by the same WASM decoder the fleet runs.";
    return;
  }
  const ds = report.directives;
  if (ds.length === 0) {
    body.append(el("tr", { class: "empty" }, el("td", { colspan: 6 }, "Valid, empty set: nothing is traced.")));
  }
  const now = Date.now();
  const frag = document.createDocumentFragment();
  for (const d of ds.slice(0, PREVIEW_ROWS)) {
    const sp = d.sample_per_mille;
    const flags = [];
    if (d.ring_buffer) flags.push(el("span", { class: "tag" }, "ring_buffer"));
    if (d.capture) flags.push(el("span", { class: "tag" }, "capture"));
    frag.append(el("tr", { dataset: { id: d.id } },
      el("td", {}, el("code", {}, d.id)),
      el("td", {}, el("span", { class: `lvl lvl-${d.level}` }, d.level)),
      el("td", {}, targetText(d)),
      el("td", { class: "num" }, sp === 1000 ? "100%" : `${(sp / 10).toFixed(1)}% (${sp}‰)`),
      el("td", {}, flags.length ? flags : "—"),
      el("td", { class: "num countdown", dataset: { exp: d.expires_at_ms }, title: `expires ${fmtTime(d.expires_at_ms)}` }, fmtRemaining(d.expires_at_ms - now)),
    ));
  }
  body.append(frag);
  note.textContent = ds.length > PREVIEW_ROWS
    ? `Showing the first ${PREVIEW_ROWS} of ${fmtInt(ds.length)} directives.`
    : "Decoded by the same WASM decoder the fleet runs; expiry counts down live.";
}

function tickCountdowns() {
  const now = Date.now();
  for (const cell of document.querySelectorAll("td.countdown")) {
    const left = Number(cell.dataset.exp) - now;
    cell.textContent = fmtRemaining(left);
    cell.classList.toggle("expired", left <= 0);
    cell.classList.toggle("soon", left > 0 && left < 60_000);
  }
}

// ---------------------------------------------------------------- evaluate

function requestFromForm() {
  const tenant = $("ev-tenant").value;
  return {
    tenant: tenant === "" ? null : tenant,
    index: $("ev-index").value,
    principal: $("ev-principal").value,
    endpoint: $("ev-endpoint").value,
    request_id: $("ev-request").value,
  };
}

function evaluateNow() {
  const out = $("eval-result");
  out.textContent = "";
  if (!state.wasm || !state.report) return;
  if (!state.report.ok) {
    out.dataset.level = "";
    out.append("Fix the set's errors first: an invalid set is never applied.");
    return;
  }
  try {
    const x = state.wasm.evaluate(editor.value, requestFromForm());
    out.dataset.level = x.level;
    const flags = [x.ring_buffer ? "ring buffer" : null, x.capture ? "capture" : null].filter(Boolean);
    out.append(
      "Decision: ", el("strong", { id: "eval-level" }, x.level),
      flags.length ? ` · ${flags.join(" + ")}` : " · no ring buffer, no capture",
      el("br"),
      ...(x.matched.length ? ["Matched: ", el("code", { id: "eval-matched" }, x.matched.join(", "))] : ["No directive applies to this request."]),
    );
  } catch (e) {
    out.dataset.level = "";
    out.append(`Cannot evaluate: ${e && e.message ? e.message : e}`);
  }
}

// ---------------------------------------------------------------- documents

function generateDocument(n) {
  const lines = [];
  for (let i = 0; i < n; i++) {
    const o = { id: `gen-${String(i).padStart(4, "0")}`, level: LEVELS[i % 4], ttl_secs: 600 + (i % 3600) };
    switch (i % 5) {
      case 0: o.tenant = `tenant-${i % 97}`; break;
      case 1: o.index = `index-${i % 53}`; o.endpoint = ENDPOINTS[i % 11]; break;
      case 2: o.principal = `svc-${i % 31}`; o.ring_buffer = true; break;
      case 3: o.tenant = `tenant-${i % 89}`; o.index = `logs-${i % 7}`; o.sample_per_mille = (i * 7) % 1001; break;
      default: o.endpoint = ENDPOINTS[i % 12]; o.capture = true; o.sample_per_mille = 5;
    }
    lines.push("    " + JSON.stringify(o));
  }
  return `{\n  "directives": [\n${lines.join(",\n")}\n  ]\n}\n`;
}

function setEditorText(text, { base = text, loaded } = {}) {
  editor.value = text;
  state.baseText = base;
  if (loaded !== undefined) state.loaded = loaded;
  validateNow();
}

function updateLoadedLine() {
  const line = $("loaded-from");
  if (!state.loaded) {
    line.textContent = state.api ? "Not loaded from the server yet" : "Offline: validating locally only";
    return;
  }
  line.textContent = `Loaded from revision ${state.loaded.revision}${dirty() ? " · edited" : ""}`;
  line.dataset.revision = String(state.loaded.revision);
}

// ---------------------------------------------------------------- connection

function setConn(kind, text) {
  const c = $("conn-status");
  c.dataset.state = kind;
  c.textContent = text;
  state.conn = kind;
  renderHealth();
}

async function connect(token) {
  disconnect();
  state.api = new AdminApi(token);
  setConn("connecting", "Connecting…");
  let res;
  try {
    res = await state.api.directives();
  } catch (e) {
    setConn("error", `Cannot reach the server: ${e.message}`);
    return;
  }
  if (res.status === 401) {
    setConn("error", "Token refused (401)");
    state.api = null;
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  if (res.ok && res.json) {
    applyLiveFromReport(res.json);
    if (!dirty()) {
      loadFromResponse(res.json);
    } else if (!state.loaded) {
      // Typed before connecting: keep the edits, based on what is applied now.
      state.loaded = { revision: res.json.revision, stored: res.json.stored_revision };
      showResult("warn", [el("p", {}, `Your edits are kept; publishing them replaces revision ${res.json.revision} (applied now).`)]);
    }
  } else {
    setConn("error", `GET /api/directives: HTTP ${res.status}${res.json && res.json.error ? ` (${res.json.error})` : ""}`);
  }
  startEvents();
  refreshHistory();
  updateLoadedLine();
}

function disconnect() {
  if (state.events) state.events.abort();
  state.events = null;
  state.api = null;
}

function startEvents() {
  const ctl = new AbortController();
  state.events = ctl;
  const api = state.api;
  api.followEvents({
    signal: ctl.signal,
    onEvent: onServerEvent,
    onState: (s, detail) => {
      if (ctl.signal.aborted && s !== "closed") return;
      if (s === "live") setConn("live", "Connected · live events");
      else if (s === "connecting") setConn("connecting", "Connecting to the event stream…");
      else if (s === "retrying") setConn("error", `Event stream lost (${detail}); retrying…`);
      else if (s === "unauthorized") setConn("error", "Token refused (401)");
      else if (s === "closed" && state.events === ctl) setConn("offline", "Not connected");
    },
  });
}

function applyLiveFromReport(body) {
  if (body.source) showSource(body.source);
  state.live.revision = body.revision;
  state.live.count = body.directives.length;
  state.live.ids = body.directives.map((d) => d.id);
  state.live.state = body.status ? body.status.state : state.live.state;
  renderLive();
}

const EMPTY_DOCUMENT = `{\n  "directives": []\n}\n`;

/**
 * Loads the applied set exactly as the server reports it: `document` is the
 * canonical text of the applied set (null when nothing is applied).
 */
function loadFromResponse(body, now = Date.now()) {
  const text = body.document === null || body.document === undefined ? EMPTY_DOCUMENT : body.document;
  // `revision` is what the fleet applies (what the live view compares
  // with); `stored` is what the key holds now, what a publish replaces and
  // so what If-Match names: with a refused value in the key they differ,
  // and only the stored one lets a publish replace it.
  setEditorText(text, { loaded: { revision: body.revision, stored: body.stored_revision } });
  const notes = [];
  if (body.stored_differs) {
    notes.push(el("p", { id: "stored-differs" }, body.stored_revision
      ? `The key holds revision ${body.stored_revision}, which the fleet does not apply (refused, or not applied yet): the editor shows the set the fleet applies. Publishing replaces the value in the key.`
      : "The key was deleted but the deletion is not applied yet: the editor shows the applied set."));
  }
  const expired = body.directives.filter((d) => d.expires_at_ms <= now).length;
  if (expired) {
    notes.push(el("p", {}, `${expired} directive${expired === 1 ? " has" : "s have"} expired; publishing this text re-arms ${expired === 1 ? "it" : "them"} for the full ttl_secs (every publish restarts the TTLs).`));
  }
  if (notes.length) showResult("warn", notes);
}

async function loadApplied() {
  if (!state.api) return needToken();
  const res = await state.api.directives();
  if (!res.ok) return showResult("error", [el("p", {}, `Could not load: HTTP ${res.status}`)]);
  applyLiveFromReport(res.json);
  $("publish-result").hidden = true;
  loadFromResponse(res.json);
  $("live-warning").hidden = true;
}

function needToken() {
  showResult("error", [el("p", {}, "Enter the admin token first (top of the page).")]);
  $("token-input").focus();
}

// ---------------------------------------------------------------- events

let historyTimer = null;

function onServerEvent(ev) {
  state.live.at = Date.now();
  switch (ev.event) {
    case "state":
      state.live.revision = ev.revision;
      state.live.count = ev.directives;
      state.live.ids = ev.ids || [];
      state.live.state = ev.status ? ev.status.state : state.live.state;
      break;
    case "applied":
      if (state.refused && ev.revision > state.refused.revision) state.refused = null;
      state.live.revision = ev.revision;
      state.live.count = ev.directives;
      state.live.ids = ev.ids || [];
      clearTimeout(historyTimer);
      historyTimer = setTimeout(refreshHistory, 150);
      flash("live-revision");
      break;
    case "rejected": {
      state.refused = { revision: ev.revision, codes: (ev.errors || []).map((e) => e.code) };
      const w = $("live-warning");
      w.hidden = false;
      w.textContent = `Revision ${ev.revision} was rejected by the store (${(ev.errors || []).map((e) => `${e.code} at ${e.path || "(document)"}`).join(", ")}); the fleet keeps revision ${state.live.revision}.`;
      break;
    }
    case "status":
      state.live.state = ev.state;
      break;
    case "fleet":
      state.fleet = { key_revision: ev.key_revision, rollout: ev.rollout, instances: ev.instances || [], lost: ev.lost || [] };
      renderFleet();
      break;
    case "lagged":
      if (state.api) {
        state.api.directives().then((r) => r.ok && applyLiveFromReport(r.json));
        state.api.fleet().then((r) => { if (r.ok) { state.fleet = r.json; renderFleet(); } });
      }
      break;
    default:
      break;
  }
  renderLive();
  followApplied();
}

/** A clean editor follows the applied set; an edited one is warned that it is stale. */
function followApplied() {
  if (state.publishing) return;
  const live = state.live.revision;
  if (!state.api || !state.loaded || live === null || live === state.loaded.revision) {
    if (state.loaded && live === state.loaded.revision) $("live-warning").hidden = true;
    return;
  }
  if (!dirty()) {
    state.api.directives().then((r) => {
      if (r.ok && !dirty()) {
        loadFromResponse(r.json);
        $("live-warning").hidden = true;
      }
    });
    return;
  }
  const w = $("live-warning");
  w.hidden = false;
  w.textContent = `The applied set moved to revision ${live} since you loaded revision ${state.loaded.revision}; publishing your edits will conflict.`;
  w.append(el("button", { type: "button", class: "small", onclick: loadApplied }, "Reload (discard edits)"));
}

function flash(id) {
  const n = $(id);
  n.classList.remove("flash");
  void n.offsetWidth;
  n.classList.add("flash");
}

function renderLive() {
  const l = state.live;
  $("live-revision").textContent = l.revision ?? "—";
  $("live-state").textContent = l.state ?? "—";
  $("live-count").textContent = l.count ?? "—";
  $("live-last").textContent = l.at ? new Date(l.at).toLocaleTimeString("en-GB", { hour12: false }) : "—";
  const ids = l.ids.slice(0, 30).join(", ") + (l.ids.length > 30 ? `, … (+${l.ids.length - 30})` : "");
  $("live-ids").textContent = l.ids.length ? `ids: ${ids}` : "";
  renderFleet();
}

/** `14:05:01Z`: times in UTC, as the CLI prints them. */
function utcTime(ms) {
  return ms === null || ms === undefined ? "—" : new Date(ms).toISOString().slice(11, 19) + "Z";
}

/** Why an instance does not have the rolled-out revision, for people. */
const PROGRESS_TEXT = {
  refused: "refused the stored value",
  stale: "cut off from etcd, applying its last good set",
  initializing: "starting: has not read the key yet",
  lagging: "applying…",
  stopped: "stopping",
  lost: "no report: killed, or cut off from etcd",
};

/** Amber or red for a straggler: refusals and losses are red, the rest amber. */
function stragglerLevel(progress) {
  return progress === "refused" || progress === "lost" ? "bad" : progress === "lagging" ? "" : "warn";
}

function renderFleet() {
  const body = $("fleet-body");
  body.textContent = "";
  const f = state.fleet;
  const rollout = f.rollout;
  const viewStale = state.live.state === "stale";
  const bar = $("rollout");
  if (!f.instances.length && !f.lost.length) {
    body.append(el("tr", { class: "empty" }, el("td", { colspan: 5 }, "No instance reports on this key (instances report when their store opts in with StoreOptions::with_instance).")));
    $("fleet-summary").textContent = "";
    bar.hidden = true;
    renderHealth();
    return;
  }
  const why = new Map((rollout ? rollout.stragglers : []).map((s) => [s.id, s]));
  for (const i of f.instances) {
    if (i.invalid !== undefined) {
      body.append(el("tr", { dataset: { instance: i.id, level: "bad", progress: "invalid" } },
        el("td", {}, i.id), el("td", {}, "—"), el("td", {}, "invalid"), el("td", {}, "—"),
        el("td", { class: "note" }, `invalid report: ${i.invalid}`)));
      continue;
    }
    const s = why.get(i.id);
    const progress = s ? s.progress : "applied";
    let level = s ? stragglerLevel(progress) : "";
    let note = s ? PROGRESS_TEXT[progress] + (s.codes && s.codes.length ? ` (${s.codes.join(", ")})` : "") : "";
    if (viewStale) {
      // The admin server cannot read etcd: no row can be confirmed.
      level = level || "warn";
      note = `unconfirmed: this server is cut off from etcd${note ? `; ${note}` : ""}`;
    }
    const labels = Object.entries(i.labels || {}).map(([k, v]) => `${k}=${v}`).join(" ");
    const since = i.state === "stale" ? i.stale_since_ms : i.applied_at_ms;
    body.append(el("tr", { dataset: { instance: i.id, revision: i.applied_revision, progress, level } },
      el("td", {}, i.id, labels ? el("span", { class: "count" }, ` ${labels}`) : ""),
      el("td", { class: "num" }, String(i.applied_revision), " ",
        el("span", { class: progress === "applied" ? "sync-ok" : "sync-behind" }, progress === "applied" ? "✓" : "behind")),
      el("td", {}, i.state),
      el("td", { class: "num" }, utcTime(since)),
      el("td", { class: "note" }, note)));
  }
  for (const l of f.lost) {
    body.append(el("tr", { dataset: { lost: l.id, level: "bad", progress: "lost" } },
      el("td", {}, l.id), el("td", { class: "num" }, String(l.applied_revision)), el("td", {}, "lost"),
      el("td", { class: "num" }, utcTime(l.since_ms)), el("td", { class: "note" }, PROGRESS_TEXT.lost)));
  }
  const total = rollout ? rollout.instances : 0;
  const applied = rollout ? rollout.applied : 0;
  const rev = rollout ? rollout.revision : f.key_revision;
  const s = $("fleet-summary");
  s.textContent = `(${applied} of ${total} at revision ${rev})`;
  s.dataset.inSync = String(applied);
  s.dataset.total = String(total);
  bar.hidden = false;
  const progress = $("rollout-bar");
  progress.max = Math.max(total, 1);
  progress.value = applied;
  $("rollout-text").textContent = `${applied} of ${total} at r${rev}`;
  bar.dataset.applied = String(applied);
  bar.dataset.total = String(total);
  renderHealth();
}

function showSource(source) {
  state.source = source;
  const p = $("source");
  p.hidden = false;
  p.textContent = source.backend === "etcd"
    ? `etcd ${source.endpoints.join(", ")} · key ${source.key}`
    : "in-memory key (not shared with any fleet)";
}

/**
 * The header's one-glance verdict: red when this server is cut off from
 * etcd, the stored value is refused, or an instance refused or was lost;
 * amber when an instance is stale or starting; green otherwise.
 */
function renderHealth() {
  const h = $("health");
  if (!state.api || state.conn === "offline") { h.hidden = true; return; }
  h.hidden = false;
  const bad = [];
  const warn = [];
  if (state.conn === "error") bad.push("event stream lost");
  if (state.live.state === "stale") bad.push("this server is cut off from etcd");
  if (state.refused) bad.push(`revision ${state.refused.revision} refused (${state.refused.codes.join(", ")})`);
  const stragglers = state.fleet.rollout ? state.fleet.rollout.stragglers : [];
  for (const s of stragglers) {
    const what = `${s.id} ${s.progress}${s.since_ms ? ` since ${utcTime(s.since_ms)}` : ""}`;
    if (stragglerLevel(s.progress) === "bad") bad.push(what);
    else if (stragglerLevel(s.progress) === "warn") warn.push(what);
  }
  const invalid = state.fleet.instances.filter((i) => i.invalid !== undefined).length;
  if (invalid) warn.push(`${invalid} invalid report${invalid === 1 ? "" : "s"}`);
  const level = bad.length ? "bad" : warn.length ? "warn" : "ok";
  h.dataset.level = level;
  const r = state.fleet.rollout;
  h.textContent = level === "ok"
    ? `Healthy${r && r.instances ? ` · ${r.applied} of ${r.instances} at r${r.revision}` : ""}`
    : `${level === "bad" ? "Unhealthy" : "Degraded"}: ${[...bad, ...warn].join("; ")}`;
}

// ---------------------------------------------------------------- publish

function showResult(kind, children) {
  const box = $("publish-result");
  box.hidden = false;
  box.dataset.kind = kind;
  box.textContent = "";
  box.append(...children);
}

/** The list items of a diff (`wasm.diff`): `+` added, `−` removed, `~` changed with each field. */
function diffItems(d) {
  const describe = (o) => Object.entries(o).filter(([k]) => k !== "id").map(([k, v]) => `${k}=${v}`).join(", ");
  return [
    ...d.added.map((a) => el("li", { class: "added" }, `+ ${a.id} (${describe(a)})`)),
    ...d.removed.map((r) => el("li", { class: "removed" }, `− ${r.id} (${describe(r)})`)),
    ...d.changed.map((c) => el("li", { class: "changed" },
      `~ ${c.id}: ${c.fields.map((f) => `${f.field} ${JSON.stringify(f.before)} → ${JSON.stringify(f.after)}`).join(", ")}`)),
  ];
}

/**
 * The review before a write: what `afterText` changes from what the fleet
 * applies now, per directive (the same diff as `directivectl diff`, computed
 * by the same code in WASM), and the reason to record. Resolves true on
 * confirm, false on cancel (nothing is written).
 */
async function review(title, afterText, confirmLabel) {
  const box = $("review");
  const list = $("review-diff");
  $("publish-result").hidden = true; // an earlier answer is not about this change
  const cur = await state.api.directives();
  const before = cur.ok ? cur.json.document : null;
  let d;
  try {
    d = state.wasm.diff(before, afterText);
  } catch (e) {
    return true; // not decodable: nothing to review, the server answers with its report
  }
  $("review-h").textContent = title;
  list.textContent = "";
  list.append(...diffItems(d));
  const empty = !d.added.length && !d.removed.length && !d.changed.length;
  $("review-summary").textContent = empty
    ? `No change to the ${d.unchanged} directive(s) the fleet applies (every TTL restarts from now).`
    : `${d.added.length} added, ${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged.`;
  box.dataset.added = String(d.added.length);
  box.dataset.removed = String(d.removed.length);
  box.dataset.changed = String(d.changed.length);
  $("review-message").value = $("change-message").value;
  $("btn-review-confirm").textContent = confirmLabel;
  box.hidden = false;
  $("review-message").focus();
  return new Promise((resolve) => {
    const done = (ok) => {
      box.hidden = true;
      $("btn-review-confirm").onclick = null;
      $("btn-review-cancel").onclick = null;
      box.onkeydown = null;
      if (ok) $("change-message").value = $("review-message").value;
      resolve(ok);
    };
    $("btn-review-confirm").onclick = () => done(true);
    $("btn-review-cancel").onclick = () => done(false);
    box.onkeydown = (ev) => { if (ev.key === "Escape") done(false); };
  });
}

async function publish(ifMatch) {
  if (!state.api) return needToken();
  if (!state.loaded && ifMatch === undefined) {
    return showResult("error", [el("p", {}, "Load the applied set first: publishing needs the revision your edits start from.")]);
  }
  const expected = ifMatch ?? state.loaded.stored ?? state.loaded.revision;
  const text = editor.value;
  const localJson = state.wasm ? state.wasm.validateJson(text) : null;
  if (ifMatch === undefined && state.wasm && !(await review("Review: publish", text, "Publish these changes"))) {
    return showResult("warn", [el("p", { id: "publish-cancelled" }, "Publish cancelled: nothing was written.")]);
  }
  const btn = $("btn-publish");
  btn.disabled = true;
  state.publishing = true; // our own write's events may arrive before its answer
  let res;
  try {
    res = await state.api.publish(text, expected, $("change-message").value.trim());
  } catch (e) {
    return showResult("error", [el("p", {}, `Publish failed: ${e.message}`)]);
  } finally {
    btn.disabled = false;
    state.publishing = false;
  }
  if (res.status === 200) {
    const rev = res.json.revision;
    state.loaded = { revision: rev };
    state.baseText = text;
    updateLoadedLine();
    $("live-warning").hidden = true;
    followApplied();
    refreshHistory();
    $("change-message").value = ""; // a reason belongs to one change
    showResult("ok", [el("p", { id: "publish-ok", dataset: { revision: rev } }, el("strong", {}, `Published revision ${rev}`), ` (If-Match "${expected}"). The fleet picks it up through its watch; see the live view.`)]);
    return;
  }
  if (res.status === 409) return showConflict(expected, res.json ? res.json.current_revision : "?");
  if (res.status === 400 && res.json && Array.isArray(res.json.errors)) {
    const same = localJson !== null && res.text === localJson;
    const list = el("ol", { id: "server-errors" });
    renderErrorList(list, res.json.errors, false);
    showResult("error", [
      el("p", {}, el("strong", {}, "The server refused the set (400); nothing was written.")),
      el("p", { id: "server-report-match", dataset: { same: String(same) } },
        same ? "Its report is byte-for-byte the one shown above (same decoder)." : "Its report differs from the one shown above."),
      list,
    ]);
    return;
  }
  const code = res.json && res.json.error ? res.json.error : "";
  const why = {
    401: "the token was refused",
    413: "the document is larger than the server's limit",
    415: "wrong content type",
    428: "If-Match is required",
    502: "etcd failed the request",
    503: "the server's store is not ready yet",
  }[res.status] || "unexpected answer";
  showResult("error", [el("p", {}, `Publish failed: HTTP ${res.status} ${code ? `(${code})` : ""} — ${why}.`)]);
}

function showConflict(expected, current) {
  const compareBox = el("div", { class: "compare", id: "compare-box" });
  showResult("conflict", [
    el("p", { id: "conflict-msg", dataset: { current } }, el("strong", {}, "Conflict (409): "),
      `you loaded revision ${expected}, but the key is now at revision ${current}. Nothing was written.`),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "btn-conflict-reload", onclick: loadApplied }, "Reload the applied set (discard my edits)"),
      el("button", { type: "button", id: "btn-conflict-compare", onclick: () => compare(compareBox, current) }, "Compare with the applied set"),
    ),
    compareBox,
  ]);
}


async function compare(box, current) {
  box.textContent = "Loading the applied set…";
  const res = await state.api.directives();
  if (!res.ok) { box.textContent = `Could not load: HTTP ${res.status}`; return; }
  // The same diff as the review step and `directivectl diff` (WASM): every
  // wire field, defaults spelled out, so a TTL change is never "none".
  let d = { added: [], removed: res.json.directives.map((x) => ({ id: x.id })), changed: [] };
  try {
    d = state.wasm.diff(res.json.document, editor.value);
  } catch { /* your set is invalid: only the applied ids are listed */ }
  const onlyMine = d.added.map((x) => x.id);
  const onlyTheirs = d.removed.map((x) => x.id);
  const changed = d.changed.map((c) => `${c.id}: ${c.fields.map((f) => `${f.field}: applied ${JSON.stringify(f.before)} → yours ${JSON.stringify(f.after)}`).join("; ")}`);
  const section = (title, items) => [el("h4", {}, `${title} (${items.length})`), items.length ? el("ul", {}, items.map((t) => el("li", {}, el("code", {}, t)))) : el("p", {}, "none")];
  box.textContent = "";
  box.append(
    el("p", {}, `Applied revision ${res.json.revision} vs. your editor${state.report && state.report.ok ? "" : " (your set is invalid: only the applied ids are listed)"}:`),
    ...section("Only in yours", onlyMine),
    ...section("Only in the applied set", onlyTheirs),
    ...section("Changed", changed),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "btn-publish-over", class: "primary", onclick: () => publish(res.json.stored_revision) },
        `Publish mine over revision ${res.json.stored_revision}`)),
  );
}

// ---------------------------------------------------------------- history

async function refreshHistory() {
  if (!state.api) return;
  const res = await state.api.history(20);
  const body = $("history-body");
  if (!res.ok) {
    body.textContent = "";
    body.append(el("tr", { class: "empty" }, el("td", { colspan: 5 }, `History unavailable: HTTP ${res.status}`)));
    return;
  }
  state.history = res.json.entries;
  body.textContent = "";
  for (const e of state.history) {
    if (e.kind === "delete") {
      // A delete is listed so that no version can be hidden behind one; it
      // has nothing to preview or roll back to.
      body.append(el("tr", { class: "deleted", dataset: { revision: e.revision } },
        el("td", { class: "num" }, String(e.revision)),
        el("td", {}, "—"),
        el("td", {}, "key deleted"),
        byCell(e.attribution),
        el("td", {})));
      continue;
    }
    const current = e.revision === state.live.revision;
    body.append(el("tr", { dataset: { revision: e.revision } },
      el("td", { class: "num" }, String(e.revision), current ? el("span", { class: "tag tag-applied" }, "applied") : null),
      el("td", {}, fmtTime(e.published_at)),
      el("td", { class: "num" }, e.directives === null ? "invalid" : String(e.directives)),
      byCell(e.attribution),
      el("td", { class: "row-actions" },
        el("button", {
          type: "button", class: "small secondary", dataset: { preview: e.revision },
          "aria-label": `Preview revision ${e.revision}`, "aria-controls": "history-preview",
          onclick: (ev) => previewVersion(e.revision, ev.currentTarget),
        }, "Preview"),
        current || e.directives === null ? null : el("button", {
          type: "button", class: "small", dataset: { rollback: e.revision },
          "aria-label": `Roll back to revision ${e.revision}`,
          onclick: () => rollback(e.revision),
        }, "Roll back")),
    ));
  }
  if (!state.history.length) body.append(el("tr", { class: "empty" }, el("td", { colspan: 5 }, "No versions.")));
}

/**
 * What version `v` changed from the version listed before it (the same diff
 * as `history --diff`): the previous write's document, or nothing after a
 * delete or for the oldest version listed.
 */
async function showChanges(v) {
  const list = $("history-preview-changes");
  list.hidden = true;
  list.textContent = "";
  if (!state.wasm || !v.report.ok) return;
  const i = state.history.findIndex((e) => e.revision === v.revision);
  const prev = i >= 0 ? state.history[i + 1] : undefined;
  let before = null;
  if (prev && prev.kind !== "delete") {
    const res = await state.api.version(prev.revision);
    if (res.ok && res.json) before = res.json.document;
  }
  if ($("history-preview").dataset.revision !== String(v.revision)) return;
  const d = state.wasm.diff(before, v.document);
  list.append(el("li", { class: "count" }, prev ? `Changes from revision ${prev.revision}:` : "Changes from nothing:"));
  list.append(...diffItems(d));
  if (!d.added.length && !d.removed.length && !d.changed.length) list.append(el("li", {}, "no change (a re-publish restarts every TTL)"));
  list.hidden = false;
}

/** Who made a change, from where, and why (blank for a write made around the publisher). */
function byCell(a) {
  if (!a) return el("td", { class: "by" }, "—");
  const what = a.op === "rollback" && a.restored_revision ? `rollback of ${a.restored_revision}` : a.op;
  return el("td", { class: "by", dataset: { author: a.author } },
    el("span", { class: "author" }, a.author),
    el("span", { class: "count" }, ` (${a.source}, ${what})`),
    a.message ? el("div", { class: "message" }, a.message) : null);
}

/** Shows one version read-only (its stored document and its verdict now) before any rollback. */
async function previewVersion(revision, opener) {
  const box = $("history-preview");
  const verdict = $("history-preview-verdict");
  const errors = $("history-preview-errors");
  const doc = $("history-preview-doc");
  const actions = $("history-preview-actions");
  const close = () => {
    box.hidden = true;
    if (opener && opener.isConnected) opener.focus();
  };
  box.hidden = false;
  box.dataset.revision = String(revision);
  delete box.dataset.ok;
  $("history-preview-h").textContent = `Revision ${revision}`;
  verdict.textContent = "Loading…";
  verdict.dataset.state = "";
  errors.hidden = true;
  errors.textContent = "";
  doc.textContent = "";
  actions.textContent = "";
  actions.append(el("button", { type: "button", class: "small secondary", id: "btn-preview-close", onclick: close }, "Close preview"));
  box.onkeydown = (e) => { if (e.key === "Escape") { e.preventDefault(); close(); } };
  $("history-preview-h").focus();
  const res = await state.api.version(revision);
  if (box.dataset.revision !== String(revision)) return; // another preview was opened meanwhile
  if (!res.ok || !res.json) {
    verdict.dataset.state = "invalid";
    verdict.textContent = res.status === 410
      ? `Revision ${revision} is compacted away: it cannot be shown or rolled back to.`
      : `Could not load revision ${revision}: HTTP ${res.status}${res.json && res.json.error ? ` (${res.json.error})` : ""}.`;
    return;
  }
  const v = res.json;
  const report = v.report;
  box.dataset.ok = String(report.ok);
  $("history-preview-h").textContent = `Revision ${v.revision} · published ${fmtTime(v.published_at)}`;
  doc.textContent = v.document;
  if (report.ok) {
    const n = report.directives.length;
    const ids = report.directives.slice(0, 10).map((d) => d.id).join(", ") + (n > 10 ? `, … (+${n - 10})` : "");
    verdict.dataset.state = "valid";
    verdict.textContent = "";
    verdict.append(el("strong", {}, `valid, ${fmtInt(n)} directive${n === 1 ? "" : "s"}`), n ? ` — ${ids}` : "");
  } else {
    verdict.dataset.state = "invalid";
    verdict.textContent = "";
    verdict.append(el("strong", {}, `invalid: ${report.errors.length} error${report.errors.length === 1 ? "" : "s"}`), " — it cannot be rolled back to.");
    renderErrorList(errors, report.errors, false);
    errors.hidden = false;
  }
  showChanges(v).catch(() => { /* best effort: the document is shown anyway */ });
  if (report.ok && v.revision !== state.live.revision) {
    actions.prepend(el("button", {
      type: "button", class: "small", id: "btn-preview-rollback",
      onclick: () => { box.hidden = true; rollback(v.revision); },
    }, `Roll back to revision ${v.revision}`));
  }
}

async function rollback(revision) {
  const out = $("history-result");
  const version = await state.api.version(revision);
  if (version.ok && state.wasm && !(await review(`Review: roll back to revision ${revision}`, version.json.document, "Roll back"))) {
    out.textContent = "Rollback cancelled: nothing was written.";
    return;
  }
  out.textContent = `Rolling back to revision ${revision}…`;
  const res = await state.api.rollback(revision, state.live.revision, $("change-message").value.trim());
  if (res.ok) {
    $("change-message").value = ""; // a reason belongs to one change
    out.textContent = `Rolled back: revision ${revision}'s set is now published as revision ${res.json.revision}.`;
    out.dataset.revision = String(res.json.revision);
    refreshHistory();
  } else if (res.status === 409) {
    out.textContent = `Not rolled back: the key moved on (now revision ${res.json.current_revision}). Refresh and try again.`;
  } else {
    out.textContent = `Not rolled back: HTTP ${res.status}${res.json && res.json.error ? ` (${res.json.error})` : ""}.`;
  }
}

// ---------------------------------------------------------------- wiring

/** For the e2e test and the curious: time validate() over `runs` runs of `text`. */
function measure(text, runs = 30) {
  const times = [];
  let report;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    report = state.wasm.validate(text);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { runs, min: times[0], median: times[Math.floor(runs / 2)], max: times[runs - 1], ok: report.ok, directives: report.directives.length, bytes: new TextEncoder().encode(text).length };
}

async function main() {
  editor = new LineEditor({ textarea: $("editor"), gutter: $("gutter"), marks: $("editor-marks") });
  const sel = $("ev-endpoint");
  for (const e of ENDPOINTS) sel.append(el("option", { value: e, selected: e === "Search" }, e));

  editor.value = SAMPLE;
  const ok = await loadWasm();
  $("editor").addEventListener("input", validateNow);
  $("eval-form").addEventListener("input", evaluateNow);
  $("eval-form").addEventListener("submit", (e) => { e.preventDefault(); evaluateNow(); });
  $("btn-load").addEventListener("click", loadApplied);
  $("btn-sample").addEventListener("click", () => { editor.value = SAMPLE; validateNow(); });
  $("btn-gen1000").addEventListener("click", () => { editor.value = generateDocument(1000); validateNow(); });
  $("btn-publish").addEventListener("click", () => publish());
  $("btn-history").addEventListener("click", refreshHistory);
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("token-input").value.trim();
    if (t) connect(t);
  });
  $("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    $("token-input").value = "";
    disconnect();
    setConn("offline", "Not connected");
    updateLoadedLine();
  });
  // Ctrl/Cmd+Enter publishes from the editor.
  $("editor").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); publish(); }
  });
  setInterval(tickCountdowns, 1000);

  window.directiveDemo = { measure, generateDocument, state };
  if (ok) validateNow();
  document.body.dataset.ready = ok ? "true" : "wasm-missing";

  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    $("token-input").value = saved;
    connect(saved);
  } else {
    updateLoadedLine();
  }
}

main();
