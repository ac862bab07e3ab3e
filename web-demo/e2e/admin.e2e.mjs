// End-to-end test of the admin UI in real (Debian) Chromium, driven by
// playwright-core, against `directivectl demo` started here.
//
//   node web-demo/e2e/admin.e2e.mjs
//
// Environment: DIRECTIVECTL (binary; default target/debug/directivectl),
// CHROMIUM_BIN (default /usr/bin/chromium), E2E_OUT (screenshots; default
// build-output/e2e), NODE_PATH including the folder holding playwright-core
// (scripts/env.sh sets it). Every wait is bounded; no fixed sleeps.

import { execFileSync, spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const require = createRequire(import.meta.url);
// ES modules ignore NODE_PATH: resolve playwright-core through it explicitly.
const searchPaths = [...(process.env.NODE_PATH || "").split(path.delimiter).filter(Boolean), path.join(ROOT, ".tools/node_modules")];
const { chromium } = require(require.resolve("playwright-core", { paths: searchPaths }));

const BIN = process.env.DIRECTIVECTL || path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, "target"), "debug/directivectl");
const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const OUT = process.env.E2E_OUT || path.join(ROOT, "build-output/e2e");
const INSTANCES = 5;
const T = 15_000; // the bound on every wait

fs.mkdirSync(OUT, { recursive: true });
for (const f of fs.readdirSync(OUT)) if (f.endsWith(".png")) fs.rmSync(path.join(OUT, f));

const log = (...a) => console.log("[e2e]", ...a);
let demo;
let browser;
let demoErr = "";
const results = {};

function startDemo() {
  return new Promise((resolve, reject) => {
    demo = spawn(BIN, ["demo", "--listen", "127.0.0.1:0", "--instances", String(INSTANCES)], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG || "warn" },
    });
    const timer = setTimeout(() => reject(new Error(`demo not ready within 60 s; stderr:\n${demoErr}`)), 60_000);
    demo.on("error", (e) => { clearTimeout(timer); reject(e); });
    demo.on("exit", (code, sig) => { clearTimeout(timer); reject(new Error(`demo exited early (${code ?? sig}); stderr:\n${demoErr}`)); });
    demo.stderr.setEncoding("utf8");
    demo.stderr.on("data", (chunk) => {
      demoErr += chunk;
      const url = /^\s*url:\s*(\S+)/m.exec(demoErr);
      const token = /^\s*token:\s*(\S+)/m.exec(demoErr);
      if (url && token) {
        clearTimeout(timer);
        demo.removeAllListeners("exit");
        resolve({ url: url[1].replace(/\/$/, ""), token: token[1] });
      }
    });
  });
}

async function stopDemo() {
  if (!demo || demo.exitCode !== null || demo.signalCode !== null) return;
  // Resolve on the 'exit' event or, should it be missed, on a poll of the
  // exit status; the interval also keeps the event loop alive meanwhile.
  const exited = new Promise((resolve) => {
    const done = () => { clearInterval(poll); resolve(); };
    const poll = setInterval(() => {
      if (demo.exitCode !== null || demo.signalCode !== null) done();
    }, 100);
    demo.once("exit", done);
  });
  demo.kill("SIGTERM");
  const t = setTimeout(() => demo.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(t);
}

let shot = 0;
async function screenshot(page, name) {
  shot += 1;
  const file = path.join(OUT, `${String(shot).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  log("screenshot", path.relative(ROOT, file));
}

function expect(cond, what) {
  if (!cond) throw new Error(`expectation failed: ${what}`);
  log("ok:", what);
}

/** Replaces the editor's whole text by typing it (an input event per keystroke). */
async function typeInto(page, text) {
  const ed = page.locator("#editor");
  await ed.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await ed.pressSequentially(text, { delay: 0 });
}

/** Waits until every fleet row shows `revision`. */
async function fleetAt(page, revision) {
  await page.waitForFunction(
    ([rev, n]) => {
      const rows = [...document.querySelectorAll("#fleet-body tr[data-instance]")];
      return rows.length === n && rows.every((r) => r.dataset.revision === String(rev));
    },
    [revision, INSTANCES],
    { timeout: T },
  );
}

async function api(base, token, method, p, body, headers = {}) {
  const res = await fetch(base + p, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}), ...headers },
    body,
  });
  return { status: res.status, json: await res.json().catch(() => null) };
}

async function main() {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} missing: cargo build -p directivectl`);
  if (!fs.existsSync(path.join(ROOT, "web-demo/pkg/directive_wasm.js"))) throw new Error("web-demo/pkg missing: run scripts/test-e2e.sh (it links wasm/pkg/web there)");
  const { url, token } = await startDemo();
  log("demo at", url);

  // launch() gives Chromium a fresh, empty profile of its own in TMPDIR.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  const external = [];
  page.on("request", (r) => { if (!r.url().startsWith(url)) external.push(r.url()); });
  const consoleErrors = [];
  // 400 and 409 answers are part of the script; the network listener checks for missing files.
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) consoleErrors.push(m.text()); });
  const missing = [];
  page.on("response", (r) => { if (r.status() === 404) missing.push(r.url()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  // 1. Open the UI; the WASM validator loads (offline state).
  await page.goto(url + "/", { timeout: T });
  await page.waitForSelector("body[data-ready=true]", { timeout: T });
  await page.locator("#validation-status[data-state=valid]").waitFor({ timeout: T });
  await screenshot(page, "opened");

  // 2. Token entry: connect, the applied set loads, live view and fleet fill in.
  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Connect" }).click();
  await page.locator("#conn-status[data-state=live]").waitFor({ timeout: T });
  await page.locator("#loaded-from[data-revision]").waitFor({ timeout: T });
  const seedRev = Number(await page.locator("#loaded-from").getAttribute("data-revision"));
  await fleetAt(page, seedRev);
  expect(await page.evaluate(() => sessionStorage.getItem("directive-admin-token") !== null), "token kept in sessionStorage");
  expect(await page.evaluate(() => localStorage.length === 0), "nothing in localStorage");
  await screenshot(page, "connected");

  // 3. Type an invalid set: the error appears at its path, line marked.
  const invalid = `{"directives": [
  {"id": "e2e-a", "level": "ShapeTiming", "ttl_secs": 600, "tenant": "acme"},
  {"id": "e2e-b", "level": "Verbose", "ttl_secs": 0, "index": "orders"}
]}`;
  await typeInto(page, invalid);
  await page.locator("#validation-status[data-state=invalid]").waitFor({ timeout: T });
  await page.locator('#errors-list [data-path="/directives/1/level"][data-code="unknown_level"]').waitFor({ timeout: T });
  await page.locator('#errors-list [data-path="/directives/1/ttl_secs"][data-code="zero_ttl"]').waitFor({ timeout: T });
  await page.locator('#editor-marks .mark[data-line="3"]').waitFor({ state: "attached", timeout: T });
  const errText = await page.locator("#errors-list").innerText();
  expect(/unknown_level/.test(errText) && /line 3:/.test(errText), "error listed with code, path and line:column");
  await screenshot(page, "invalid");

  // 3b. Publishing it anyway: the server's 400 report equals the one shown.
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.locator("#server-report-match").waitFor({ timeout: T });
  expect((await page.locator("#server-report-match").getAttribute("data-same")) === "true", "server 400 report byte-identical to the WASM report");
  await screenshot(page, "server-400");

  // 4. Fix it: valid, preview shows the decoded directives.
  const fixed = invalid.replace('"Verbose", "ttl_secs": 0', '"ShapeRewriteDiff", "ttl_secs": 900');
  await typeInto(page, fixed);
  await page.locator("#validation-status[data-state=valid]").waitFor({ timeout: T });
  expect(/valid, 2 directives/.test(await page.locator("#validation-status").innerText()), "status says valid, 2 directives");
  await page.locator('#preview-body tr[data-id="e2e-b"]').waitFor({ timeout: T });
  const row = await page.locator('#preview-body tr[data-id="e2e-b"]').innerText();
  expect(/ShapeRewriteDiff/.test(row) && /index=orders/.test(row) && /1[45]m/.test(row), "preview row: level, target, countdown");
  // What applies: tenant acme, Search on orders → e2e-a and e2e-b.
  await page.getByLabel("Tenant").fill("acme");
  await page.getByLabel("Index").fill("orders");
  await page.locator("#eval-level").waitFor({ timeout: T });
  expect((await page.locator("#eval-level").innerText()) === "ShapeRewriteDiff", "decision computed in WASM: ShapeRewriteDiff");
  expect((await page.locator("#eval-matched").innerText()) === "e2e-a, e2e-b", "matched ids e2e-a, e2e-b");
  await page.getByLabel("Tenant").fill("");
  await page.getByLabel("Index").fill("logs");
  await page.waitForFunction(() => document.querySelector("#eval-result").textContent.includes("No directive applies"), null, { timeout: T });
  await page.getByLabel("Tenant").fill("acme");
  await screenshot(page, "valid-preview");

  // 5. Publish (with a reason): new revision; the live view and every instance reach it.
  // Publish opens a review of what changes (the same diff as the CLI, in
  // WASM); cancel writes nothing; confirm publishes with the reason.
  await page.getByLabel("Why (recorded in history with your name)").fill("e2e: trace acme");
  const revBefore = await page.locator("#live-revision").innerText();
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.locator("#review:not([hidden])").waitFor({ timeout: T });
  const diffText = await page.locator("#review-diff").innerText();
  expect(/\+ e2e-a|~ e2e-a|\+ e2e-b|~ e2e-b/.test(diffText), `the review lists the changes (${diffText.replace(/\n/g, " | ")})`);
  expect((await page.locator("#review-message").inputValue()) === "e2e: trace acme", "the review carries the reason");
  await screenshot(page, "review");
  await page.getByRole("button", { name: "Cancel", exact: true }).click();
  await page.locator("#publish-cancelled").waitFor({ timeout: T });
  expect((await page.locator("#live-revision").innerText()) === revBefore, "cancel wrote nothing");
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.locator("#review:not([hidden])").waitFor({ timeout: T });
  await page.getByRole("button", { name: "Publish these changes" }).click();
  await page.locator("#publish-ok").waitFor({ timeout: T });
  const pubRev = Number(await page.locator("#publish-ok").getAttribute("data-revision"));
  expect(pubRev > seedRev, `published revision ${pubRev} > ${seedRev}`);
  await page.waitForFunction((r) => document.querySelector("#live-revision").textContent === String(r), pubRev, { timeout: T });
  await fleetAt(page, pubRev);
  expect((await page.locator("#fleet-summary").innerText()).includes(`${INSTANCES} of ${INSTANCES} at revision ${pubRev}`), "every fleet instance at the new revision");
  // The rollout bar reaches 5/5 from the instances' own reports; the header says healthy and names the key.
  await page.locator(`#rollout[data-applied="${INSTANCES}"][data-total="${INSTANCES}"]`).waitFor({ timeout: T });
  expect((await page.locator("#rollout-text").innerText()) === `${INSTANCES} of ${INSTANCES} at r${pubRev}`, "rollout bar at 5 of 5");
  await page.locator("#health[data-level=ok]").waitFor({ timeout: T });
  expect(/^etcd http:\/\/127\.0\.0\.1:\d+ · key \S+$/.test(await page.locator("#source").innerText()), "the header names the etcd endpoint and key");
  await page.locator(`#history-body tr[data-revision="${pubRev}"]`).waitFor({ timeout: T });
  const by = await page.locator(`#history-body tr[data-revision="${pubRev}"] td.by`).innerText();
  expect(by.includes("admin") && by.includes("(ui, publish)") && by.includes("e2e: trace acme"), `history names the author, source and reason (${by.replace(/\n/g, " ")})`);
  expect(await page.locator("#live-warning").isHidden(), "no stale-editor warning after our own publish");
  await screenshot(page, "published-fleet-converged");

  // 6. Stale: edit, someone else publishes, our publish conflicts.
  await page.locator("#editor").click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type(" ");
  const other = await api(url, token, "PUT", "/api/directives",
    JSON.stringify({ directives: [{ id: "someone-else", level: "Shape", ttl_secs: 300 }] }), { "If-Match": `"${pubRev}"` });
  expect(other.status === 200, `concurrent publish from another client (revision ${other.json && other.json.revision})`);
  const otherRev = other.json.revision;
  await page.locator("#live-warning:not([hidden])").waitFor({ timeout: T });
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.getByRole("button", { name: "Publish these changes" }).click();
  await page.locator("#conflict-msg").waitFor({ timeout: T });
  expect((await page.locator("#conflict-msg").getAttribute("data-current")) === String(otherRev), `409 conflict names current revision ${otherRev}`);
  await page.getByRole("button", { name: "Compare with the applied set" }).click();
  await page.locator("#btn-publish-over").waitFor({ timeout: T });
  const cmp = await page.locator("#compare-box").innerText();
  expect(cmp.includes("someone-else") && cmp.includes("e2e-a"), "compare lists both sides' ids");
  await screenshot(page, "conflict-compare");
  await page.getByRole("button", { name: "Reload the applied set (discard my edits)" }).click();
  await page.waitForFunction((r) => document.querySelector("#loaded-from").dataset.revision === String(r), otherRev, { timeout: T });
  await fleetAt(page, otherRev);

  // 7. Roll back to the UI's publish: a new revision with its set, fleet follows.
  const rb = page.locator(`#history-body button[data-rollback="${pubRev}"]`);
  await rb.waitFor({ timeout: T });
  await rb.click();
  await page.locator("#review:not([hidden])").waitFor({ timeout: T });
  await page.locator("#btn-review-confirm").click();
  await page.locator("#history-result[data-revision]").waitFor({ timeout: T });
  const rbRev = Number(await page.locator("#history-result").getAttribute("data-revision"));
  expect(rbRev > otherRev, `rollback published as revision ${rbRev}`);
  await fleetAt(page, rbRev);
  await page.locator(`#history-body tr[data-revision="${rbRev}"]`).waitFor({ timeout: T });
  // The clean editor follows the applied set: e2e-a and e2e-b are back.
  await page.waitForFunction((r) => document.querySelector("#loaded-from").dataset.revision === String(r), rbRev, { timeout: T });
  await page.locator('#preview-body tr[data-id="e2e-b"]').waitFor({ timeout: T });
  expect((await page.locator("#live-ids").innerText()).includes("e2e-a, e2e-b"), "live view shows the rolled-back set");
  const applied = await api(url, token, "GET", "/api/directives");
  expect(applied.json.revision === rbRev && typeof applied.json.document === "string", "GET /api/directives carries the applied document");
  expect((await page.locator("#editor").inputValue()) === applied.json.document, "the editor holds the applied document verbatim");
  await screenshot(page, "rolled-back");

  // 8. Validation time of a 1,000-directive document in Chromium.
  await page.getByRole("button", { name: "Generate 1,000 directives" }).click();
  await page.waitForFunction(() => /valid, 1,000 directives/.test(document.querySelector("#validation-status").textContent), null, { timeout: T });
  const uiMs = Number(await page.locator("#validate-time").getAttribute("data-ms"));
  const m = await page.evaluate(() => {
    const text = window.directiveDemo.generateDocument(1000);
    return window.directiveDemo.measure(text, 50);
  });
  expect(m.ok && m.directives === 1000, "1,000-directive document validates");
  results.validate1000 = { first_in_ui_ms: uiMs, ...m };
  log(`VALIDATION TIME (1,000 directives, ${m.bytes} bytes, Chromium): median ${m.median.toFixed(3)} ms, min ${m.min.toFixed(3)} ms, max ${m.max.toFixed(3)} ms over ${m.runs} runs; first keystroke-path run in the UI ${uiMs.toFixed(3)} ms`);
  // One keystroke at the end of the big document: the time the status line shows.
  await page.locator("#editor").click();
  await page.keyboard.press("Control+End");
  await page.keyboard.type(" ");
  await page.waitForFunction(() => document.querySelector("#validate-time"), null, { timeout: T });
  results.validate1000.keystroke_ms = Number(await page.locator("#validate-time").getAttribute("data-ms"));
  results.validate1000.keystroke_handler_ms = Number(await page.locator("#validation-status").getAttribute("data-total-ms"));
  log(`keystroke on the 1,000-directive document: validate ${results.validate1000.keystroke_ms.toFixed(1)} ms, whole input handler (validate + errors + preview + evaluate) ${results.validate1000.keystroke_handler_ms} ms`);
  await screenshot(page, "validate-1000");

  // 9. Narrow screen and keyboard access.
  // A reload restores the token from sessionStorage and reconnects by itself.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload({ timeout: T });
  await page.locator("#conn-status[data-state=live]").waitFor({ timeout: T });
  await fleetAt(page, rbRev);
  await page.locator("#validation-status[data-state=valid]").waitFor({ timeout: T });
  await screenshot(page, "narrow");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow <= 0, `no horizontal page scroll at 390 px (overflow ${overflow}px)`);
  // Keyboard: from the top, Tab reaches the skip link, then the token field.
  await page.keyboard.press("Tab");
  expect((await page.evaluate(() => document.activeElement.className)) === "skip-link", "first Tab focuses the skip link");
  await page.keyboard.press("Tab");
  expect((await page.evaluate(() => document.activeElement.id)) === "token-input", "second Tab focuses the token field");

  // 10. Preview a history version (keyboard), read-only, then roll back from the preview.
  await page.setViewportSize({ width: 1280, height: 900 });
  const pv = page.locator(`#history-body button[data-preview="${otherRev}"]`);
  await pv.waitFor({ timeout: T });
  expect((await pv.getAttribute("aria-label")) === `Preview revision ${otherRev}`, "Preview button is labelled");
  await pv.focus();
  await page.keyboard.press("Enter");
  await page.locator("#history-preview[data-ok=true]").waitFor({ timeout: T });
  expect((await page.evaluate(() => document.activeElement.id)) === "history-preview-h", "the preview takes the focus");
  const version = await api(url, token, "GET", `/api/history/${otherRev}`);
  expect(version.status === 200 && version.json.report.ok, `GET /api/history/${otherRev}: 200, valid`);
  expect((await page.locator("#history-preview-doc").innerText()) === version.json.document, "preview shows the stored document verbatim");
  await page.locator("#history-preview-changes:not([hidden])").waitFor({ timeout: T });
  const changes = await page.locator("#history-preview-changes").innerText();
  expect(changes.includes("+ someone-else") && changes.includes("− e2e-a"), `preview shows what the version changed (${changes.replace(/\n/g, " | ")})`);
  expect(/valid, 1 directive — someone-else/.test(await page.locator("#history-preview-verdict").innerText()), "preview shows the verdict and ids");
  expect(await page.evaluate(() => document.querySelector("#history-preview-doc").tagName === "PRE"), "preview is read-only");
  expect((await page.locator("#live-revision").innerText()) === String(rbRev), "previewing changes nothing");
  await screenshot(page, "history-preview");
  // Escape closes it and gives the focus back to its button.
  await page.keyboard.press("Escape");
  await page.locator("#history-preview").waitFor({ state: "hidden", timeout: T });
  expect((await page.evaluate(() => document.activeElement.dataset.preview)) === String(otherRev), "Escape returns the focus to the Preview button");
  await pv.click();
  await page.locator("#btn-preview-rollback").waitFor({ timeout: T });
  await page.locator("#btn-preview-rollback").click();
  await page.locator("#btn-review-confirm").click();
  await page.waitForFunction((r) => Number(document.querySelector("#history-result").dataset.revision) > r, rbRev, { timeout: T });
  const pvRev = Number(await page.locator("#history-result").getAttribute("data-revision"));
  await fleetAt(page, pvRev);
  expect((await page.locator("#live-ids").innerText()).includes("someone-else"), `rolled back from the preview (revision ${pvRev})`);

  // 8b. A value the fleet refuses, written around the API with etcdctl: the
  // UI says so, and one reviewed publish replaces it (If-Match names the
  // stored revision, not the applied one, so there is no 409 loop).
  const where = /private etcd at (\S+) \(auth on: --user (\S+) --password-file ([^;]+);/.exec(demoErr);
  expect(where !== null, "the demo names its etcd and password file");
  const password = fs.readFileSync(where[3].trim(), "utf8").trim();
  execFileSync("etcdctl", [`--endpoints=${where[1]}`, `--user=${where[2]}:${password}`, "put", "osproxy/directives",
    '{"directives":[{"id":"x","level":"Loud","ttl_secs":5}]}'], { env: { ...process.env, ETCDCTL_API: "3" }, stdio: "ignore" });
  await page.waitForFunction(() => {
    const h = document.querySelector("#health");
    return h.dataset.level === "bad" && h.textContent.includes("refused (unknown_level)");
  }, null, { timeout: T });
  expect(true, "the header turns red naming the refused revision and its code");
  await page.getByRole("button", { name: "Load applied set" }).click();
  await page.locator("#stored-differs").waitFor({ timeout: T });
  const refusedRev = Number((await page.locator("#stored-differs").innerText()).match(/revision (\d+)/)[1]);
  await page.getByRole("button", { name: "Publish", exact: true }).click();
  await page.locator("#review:not([hidden])").waitFor({ timeout: T });
  await page.locator("#btn-review-confirm").click();
  await page.waitForFunction((r) => {
    const ok = document.querySelector("#publish-ok");
    return ok && Number(ok.dataset.revision) > r;
  }, refusedRev, { timeout: T });
  const fixedRev = Number(await page.locator("#publish-ok").getAttribute("data-revision"));
  await fleetAt(page, fixedRev);
  expect(true, `the refused revision ${refusedRev} was replaced by revision ${fixedRev} in one reviewed publish`);

  // 9. etcd freezes (SIGSTOP): the header turns red with the reason, every
  // row turns amber as unconfirmed; after SIGCONT it all comes back green.
  const etcdPid = execFileSync("pgrep", ["-P", String(demo.pid), "-x", "etcd"], { encoding: "utf8" }).trim().split("\n")[0];
  expect(/^\d+$/.test(etcdPid), `found the demo's etcd (pid ${etcdPid})`);
  frozen = Number(etcdPid);
  process.kill(frozen, "SIGSTOP");
  await page.waitForFunction(() => {
    const h = document.querySelector("#health");
    return h.dataset.level === "bad" && h.textContent.includes("cut off from etcd");
  }, null, { timeout: 45_000 });
  await page.locator('#fleet-body tr[data-level="warn"] .note', { hasText: "unconfirmed" }).first().waitFor({ timeout: T });
  expect(true, "frozen etcd: header red with the reason, rows amber and unconfirmed");
  await screenshot(page, "etcd-frozen");
  process.kill(frozen, "SIGCONT");
  frozen = null;
  await page.locator("#health[data-level=ok]").waitFor({ timeout: 60_000 });
  await page.locator(`#rollout[data-applied="${INSTANCES}"][data-total="${INSTANCES}"]`).waitFor({ timeout: T });
  expect(true, "etcd resumed: healthy again, every instance reporting");

  expect(external.length === 0, `no external requests (${external.join(", ") || "none"})`);
  expect(missing.length === 0, `no 404s (${missing.join(", ") || "none"})`);
  expect(consoleErrors.length === 0, `no console errors (${consoleErrors.join(" | ") || "none"})`);
  fs.writeFileSync(path.join(OUT, "results.json"), JSON.stringify(results, null, 2) + "\n");
  log("PASS; screenshots in", path.relative(ROOT, OUT));
}

let failed = false;
let frozen = null; // the pid of an etcd stopped with SIGSTOP, to resume whatever happens
try {
  await main();
} catch (e) {
  failed = true;
  console.error("[e2e] FAIL:", e && e.stack ? e.stack : e);
  if (demoErr) console.error("[e2e] demo stderr (tail):\n" + demoErr.split("\n").slice(-30).join("\n"));
  try {
    const pages = browser ? browser.contexts().flatMap((c) => c.pages()) : [];
    if (pages[0]) await pages[0].screenshot({ path: path.join(OUT, "failure.png"), fullPage: true });
  } catch { /* best effort */ }
} finally {
  if (frozen) try { process.kill(frozen, "SIGCONT"); } catch { /* gone */ }
  if (browser) await browser.close().catch(() => {});
  await stopDemo();
}
process.exit(failed ? 1 : 0);
