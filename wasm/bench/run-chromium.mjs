// Chromium half of scripts/bench-wasm.sh: serves the repository on
// 127.0.0.1 (cross-origin isolated, so performance.now() has 5 us
// resolution), loads each package's web build in headless Chromium
// (Debian's, through playwright-core) and times `validateJson` on DOC with
// the same loop as Node (harness.mjs). One JSON line per package.
//
//   node wasm/bench/run-chromium.mjs DOC NOW_MS RUNS EXPECTED_REPORT LABEL=PKG_DIR...
// PKG_DIRs and DOC must lie inside the repository.
import { createServer } from "node:http";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { extname, join, relative, resolve, sep } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const ROOT = resolve(new URL("../..", import.meta.url).pathname);
const [doc, nowArg, runsArg, expectedPath, ...specs] = process.argv.slice(2);
const url = (p) => "/" + relative(ROOT, resolve(p)).split(sep).join("/");
const TYPES = { ".js": "text/javascript", ".mjs": "text/javascript", ".wasm": "application/wasm", ".json": "application/json", ".html": "text/html" };

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
  const headers = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cache-Control": "no-store",
  };
  if (path === "/") {
    res.writeHead(200, { ...headers, "Content-Type": "text/html" });
    res.end("<!doctype html><title>bench</title>");
    return;
  }
  const file = resolve(ROOT, "." + path);
  if (!file.startsWith(ROOT + sep)) {
    res.writeHead(403).end();
    return;
  }
  try {
    const body = readFileSync(file);
    res.writeHead(200, { ...headers, "Content-Type": TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const origin = `http://127.0.0.1:${server.address().port}`;

const profile = mkdtempSync(join(tmpdir(), "bench-chromium-"));
// A fresh profile dir (Playwright passes it as --user-data-dir).
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = browser.pages()[0] ?? (await browser.newPage());
  await page.goto(origin + "/");
  const results = await page.evaluate(
    async ({ harness, pkgSpecs, docUrl, nowMs, runs, expectedUrl }) => {
      const { measure } = await import(harness);
      const pkgs = [];
      for (const [label, modUrl] of pkgSpecs) {
        const m = await import(modUrl);
        await m.default();
        pkgs.push({ label, validateJson: m.validateJson });
      }
      const text = await (await fetch(docUrl)).text();
      const expected = expectedUrl ? await (await fetch(expectedUrl)).text() : undefined;
      const rows = measure(pkgs, text, nowMs, runs, expected);
      return { rows, isolated: self.crossOriginIsolated, ua: navigator.userAgent };
    },
    {
      harness: url(new URL("harness.mjs", import.meta.url).pathname),
      pkgSpecs: specs.map((s) => {
        const [label, dir] = s.split("=");
        return [label, url(join(dir, "web/directive_wasm.js"))];
      }),
      docUrl: url(doc),
      nowMs: Number(nowArg),
      runs: Number(runsArg),
      expectedUrl: expectedPath && expectedPath !== "-" ? url(expectedPath) : null,
    },
  );
  const version = (results.ua.match(/Chrome\/([\d.]+)/) ?? [])[1];
  for (const r of results.rows) {
    console.log(JSON.stringify({ env: "chromium", chromium: version, isolated: results.isolated, ...r }));
  }
} finally {
  await browser.close();
  server.close();
  rmSync(profile, { recursive: true, force: true });
}
