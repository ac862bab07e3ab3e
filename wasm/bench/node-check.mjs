// Checks the built package (wasm/pkg, release profile + wasm-opt) in Node and
// measures validation of a 1,000-directive document.
//
//   node wasm/bench/node-check.mjs [expected.json]
//
// With expected.json (written by wasm/parity/build.rs), every generated set's
// report from the *shipped* module must equal the native one byte for byte:
// the wasm-bindgen-test suites test a debug build, this tests the artifact.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { performance } from "node:perf_hooks";

const require = createRequire(import.meta.url);
const pkg = require("../pkg/node/directive_wasm.js");
const { validate, validateJson, evaluate, canonicalize, schema, limits, version } = pkg;

function assert(cond, what) {
  if (!cond) {
    console.error(`node-check: FAILED: ${what}`);
    process.exit(1);
  }
}

// Smoke: every export answers as documented.
const sample = readFileSync(new URL("../../examples/sample.json", import.meta.url), "utf8");
const now = Date.now();
const report = validate(sample, now);
assert(report.ok === true, `examples/sample.json validates (${JSON.stringify(report.errors)})`);
assert(JSON.stringify(report) === validateJson(sample, now), "validate = JSON.parse(validateJson)");
const canonical = canonicalize(sample, now);
assert(validate(canonical, now).ok, "the canonical document validates");
const decision = evaluate(sample, { index: "orders", principal: "alice", endpoint: "Search", request_id: "r" }, now);
assert(Array.isArray(decision.matched), "evaluate returns an explanation");
assert(schema().$defs.directive.properties.level.enum.length === 4, "schema lists the levels");
assert(limits().max_directives === 10000, "limits");
assert(typeof version() === "string", "version");
let threw = null;
try {
  evaluate("{", { index: "i", principal: "p", endpoint: "Search", request_id: "r" }, now);
} catch (e) {
  threw = e;
}
assert(threw && threw.name === "InvalidDirectiveSetError" && threw.report.ok === false, "invalid set throws with report");

// Parity of the shipped artifact on the generated sets.
let parity = 0;
if (process.argv[2]) {
  const expected = JSON.parse(readFileSync(process.argv[2], "utf8"));
  for (const [i, c] of expected.generated.entries()) {
    const got = validateJson(Buffer.from(c.input_hex, "hex"), c.now_ms);
    assert(got === c.report, `generated #${i}: native ${c.report} != wasm ${got}`);
    parity += 1;
  }
}

// Timing: a 1,000-directive document, valid, and one broken in every directive.
const levels = ["Off", "Shape", "ShapeTiming", "ShapeRewriteDiff"];
const endpoints = ["Search", "IngestDoc", "Count", "GetById"];
const directives = Array.from({ length: 1000 }, (_, i) => ({
  id: `directive-${i}`,
  level: levels[i % 4],
  ttl_secs: 60 + (i % 3600),
  ...(i % 2 ? { tenant: `tenant-${i % 50}` } : {}),
  ...(i % 3 ? { index: `index-${i % 20}` } : {}),
  ...(i % 5 === 0 ? { principal: `user-${i}` } : {}),
  ...(i % 7 === 0 ? { endpoint: endpoints[i % 4] } : {}),
  sample_per_mille: (i * 37) % 1001,
  ring_buffer: i % 11 === 0,
  capture: i % 13 === 0,
}));
const valid = JSON.stringify({ published_at: now, directives }, null, 2);
const broken = valid.replaceAll('"ttl_secs": ', '"ttl_secs": -');

function time(label, fn, runs = 60) {
  for (let i = 0; i < 5; i++) fn();
  const t = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  const median = t[Math.floor(runs / 2)];
  const p95 = t[Math.floor(runs * 0.95)];
  console.log(`${label}: median ${median.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms (${runs} runs)`);
}
assert(validate(valid, now).directives.length === 1000, "the 1,000-directive document validates");
assert(validate(broken, now).ok === false, "the broken document is rejected");
console.log(`node ${process.version}; document ${valid.length} bytes`);
time("validateJson, 1,000 valid directives", () => validateJson(valid, now));
time("validate (object), 1,000 valid directives", () => validate(valid, now));
time("validate (object), 1,000 broken directives", () => validate(broken, now));
console.log(`node-check: smoke ok${parity ? `, ${parity} generated reports byte-identical (release build)` : ""}`);
