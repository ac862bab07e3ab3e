// Type-checked by scripts/test-wasm.sh with `tsc --noEmit` (moduleResolution
// "bundler": the package's browser entry, web/). Never run.
import init, {
  canonicalize, diff, evaluate, evaluateJson, limits, schema, validate, validateJson, version,
} from "@directive-plane/directive-wasm";
import type {
  DiagLevel, DirectiveReport, EndpointKind, ErrorCode, EvaluationRequest, Explanation,
  FieldChange, InvalidDirectiveSetError, JsonSchema, Limits, SetDiff, ValidationError,
  ValidationReport,
} from "@directive-plane/directive-wasm";

export async function check(text: string, bytes: Uint8Array): Promise<void> {
  await init();
  const report: ValidationReport = validate(text);
  if (report.ok) {
    const d: DirectiveReport[] = report.directives;
    const level: DiagLevel = d[0].level;
    const endpoint: EndpointKind | undefined = d[0].endpoint;
    const expires: number = d[0].expires_at_ms;
    void [level, endpoint, expires];
  } else {
    const e: ValidationError = report.errors[0];
    const code: ErrorCode = e.code;
    const line: number | undefined = e.line;
    void [code, line];
  }
  const json: string = validateJson(bytes, Date.now());
  const request: EvaluationRequest = {
    tenant: null, index: "orders", principal: "alice", endpoint: "Search", request_id: "r",
  };
  const x: Explanation = evaluate(text, request, 1_800_000_000_000);
  const matched: string[] = x.matched;
  const xs: string = evaluateJson(text, { ...request, tenant: "acme" });
  const canonical: string = canonicalize(text);
  const d2: SetDiff = diff(null, text);
  const changedFields: FieldChange[] = d2.changed.length ? d2.changed[0].fields : [];
  const unchanged: number = diff(text, text, Date.now()).unchanged;
  void [changedFields, unchanged];
  const s: JsonSchema = schema();
  const l: Limits = limits();
  const maxDirectives: number = l.max_directives;
  const v: string = version();
  try {
    evaluate(text, request);
  } catch (err) {
    const invalid = err as InvalidDirectiveSetError;
    const rejected: false = invalid.report.ok;
    void rejected;
  }
  // @ts-expect-error endpoint must be an EndpointKind name
  evaluate(text, { index: "i", principal: "p", endpoint: "search", request_id: "r" });
  // @ts-expect-error request_id is required
  evaluate(text, { index: "i", principal: "p", endpoint: "Search" });
  // @ts-expect-error nowMs is a number
  validate(text, "now");
  void [json, matched, xs, canonical, s, maxDirectives, v];
}
