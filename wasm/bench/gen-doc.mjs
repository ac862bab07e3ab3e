// The benchmark document: the web demo's "Generate 1,000 directives" button
// (web-demo/app.js, generateDocument), reproduced exactly, so the same-run
// comparison measures the document the demo's figure was taken on.
//
//   node wasm/bench/gen-doc.mjs [n=1000] [out=build-output/bench/doc-1000.json]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const ENDPOINTS = [
  "IngestDoc", "IngestBulk", "Search", "MultiSearch", "Count", "GetById",
  "MultiGet", "DeleteById", "DeleteByQuery", "Cursor", "Admin", "Unknown",
];
const LEVELS = ["Off", "Shape", "ShapeTiming", "ShapeRewriteDiff"];

/** Same text as web-demo/app.js generateDocument(n). */
export function generateDocument(n) {
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 1000);
  const out = process.argv[3] ?? "build-output/bench/doc-1000.json";
  mkdirSync(dirname(out), { recursive: true });
  const text = generateDocument(n);
  writeFileSync(out, text);
  console.error(`gen-doc: ${n} directives, ${Buffer.byteLength(text)} bytes -> ${out}`);
}
