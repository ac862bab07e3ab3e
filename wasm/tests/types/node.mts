// Type-checked by scripts/test-wasm.sh with `tsc --noEmit` (moduleResolution
// "nodenext": the package's Node entry, node/, imported from an ES module).
import { evaluate, validate, validateJson } from "@directive-plane/directive-wasm";
import type { Explanation, ValidationReport } from "@directive-plane/directive-wasm";

const report: ValidationReport = validate('{"directives":[]}', 0);
const text: string = validateJson(new Uint8Array([123, 125]));
const x: Explanation = evaluate('{"directives":[]}', {
  index: "orders", principal: "alice", endpoint: "Admin", request_id: "r",
});
void [report, text, x];
