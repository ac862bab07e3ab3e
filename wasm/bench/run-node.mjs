// Node half of scripts/bench-wasm.sh: times `validateJson` of each package
// (LABEL=PKG_DIR, a wasm/pkg-shaped dir) on DOC; one JSON line per package.
//
//   node wasm/bench/run-node.mjs DOC NOW_MS RUNS EXPECTED_REPORT LABEL=PKG_DIR...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { measure } from "./harness.mjs";

const [doc, nowArg, runsArg, expectedPath, ...specs] = process.argv.slice(2);
const require = createRequire(import.meta.url);
const pkgs = specs.map((spec) => {
  const [label, dir] = spec.split("=");
  const m = require(resolve(dir, "node/directive_wasm.js"));
  return { label, validateJson: m.validateJson };
});
const expected = expectedPath && expectedPath !== "-" ? readFileSync(expectedPath, "utf8") : undefined;
for (const r of measure(pkgs, readFileSync(doc, "utf8"), Number(nowArg), Number(runsArg), expected)) {
  console.log(JSON.stringify({ env: "node", node: process.version, ...r }));
}
