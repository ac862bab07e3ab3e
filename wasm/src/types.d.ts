/** A diagnostics level, lowest to highest. */
export type DiagLevel = "Off" | "Shape" | "ShapeTiming" | "ShapeRewriteDiff";

/** The endpoint kinds a directive can target and a request has. */
export type EndpointKind =
  | "IngestDoc" | "IngestBulk" | "Search" | "MultiSearch" | "Count" | "GetById"
  | "MultiGet" | "DeleteById" | "DeleteByQuery" | "Cursor" | "Admin" | "Unknown";

/** The stable error codes of the decoder (docs/vectors.md). */
export type ErrorCode =
  | "invalid_json" | "not_an_object" | "unknown_field" | "missing_directives"
  | "missing_id" | "missing_level" | "unknown_level" | "missing_ttl_secs"
  | "zero_ttl" | "bad_sample_rate" | "bad_endpoint" | "unknown_endpoint"
  | "input_too_large" | "invalid_utf8" | "byte_order_mark" | "duplicate_key"
  | "bad_published_at" | "too_many_directives" | "empty_id" | "id_too_long"
  | "duplicate_id" | "ttl_too_long" | "bad_target" | "empty_target"
  | "target_too_long" | "bad_flag" | "too_many_errors";

/** One decode error. `line`/`column` (1-based, column in characters) when known. */
export interface ValidationError {
  code: ErrorCode;
  /** JSON Pointer to the offending element; "" for the whole document. */
  path: string;
  /** A short explanation; never contains input values. */
  message: string;
  line?: number;
  column?: number;
}

/** One accepted directive, defaults filled in; optional targets omitted when unset. */
export interface DirectiveReport {
  id: string;
  level: DiagLevel;
  tenant?: string;
  index?: string;
  principal?: string;
  endpoint?: EndpointKind;
  sample_per_mille: number;
  ring_buffer: boolean;
  capture: boolean;
  /** Absolute expiry, unix milliseconds. */
  expires_at_ms: number;
}

/** An accepted document's report. */
export interface AcceptedReport {
  ok: true;
  errors: [];
  directives: DirectiveReport[];
}

/** A rejected document's report: every error, in document order. */
export interface RejectedReport {
  ok: false;
  errors: ValidationError[];
  directives: [];
}

/** The validation report, the shape `directivectl validate --json` prints. */
export type ValidationReport = AcceptedReport | RejectedReport;

/** A request to evaluate (the corpus and CLI vocabulary; unknown keys are a TypeError). */
export interface EvaluationRequest {
  /** The resolved tenant; absent or null when unresolved (then no tenant target matches). */
  tenant?: string | null;
  index: string;
  principal: string;
  endpoint: EndpointKind;
  /** Drives sampling (FNV-1a 64 of its UTF-8 bytes). */
  request_id: string;
}

/** What applies to a request, and which directives (ids, in set order) produced it. */
export interface Explanation {
  level: DiagLevel;
  ring_buffer: boolean;
  capture: boolean;
  matched: string[];
}

/** The decoder's limits. */
export interface Limits {
  max_bytes: number;
  max_directives: number;
  max_ttl_secs: number;
  max_id_len: number;
  max_target_len: number;
  max_errors: number;
}

/** A JSON Schema document (draft 2020-12). */
export type JsonSchema = { [key: string]: unknown };

/** One field of one directive, before and after (defaults spelled out). */
export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

/** What one set changes from another, per directive id (`diff`). */
export interface SetDiff {
  /** Directives only in the second set (their wire objects). */
  added: Array<{ id: string; [field: string]: unknown }>;
  /** Directives only in the first set (their wire objects). */
  removed: Array<{ id: string; [field: string]: unknown }>;
  /** Directives in both whose fields differ. */
  changed: Array<{ id: string; fields: FieldChange[] }>;
  /** How many directives are in both and equal. */
  unchanged: number;
}

/** Thrown by `evaluate`, `evaluateJson`, `canonicalize`, `stamp` and `diff` when the set does not decode. */
export interface InvalidDirectiveSetError extends Error {
  name: "InvalidDirectiveSetError";
  report: RejectedReport;
}
