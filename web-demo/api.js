// The admin HTTP API client (`directivectl serve` / `directivectl demo`).
//
// Every /api route needs `Authorization: Bearer <token>`. EventSource cannot
// send that header (and the server refuses tokens in the query string), so
// the event stream is read with fetch() and parsed here.

/** An HTTP answer: status, parsed JSON body (or null) and the raw text. */
export class ApiResponse {
  constructor(status, text, headers) {
    this.status = status;
    this.text = text;
    this.headers = headers;
    try {
      this.json = text ? JSON.parse(text) : null;
    } catch {
      this.json = null;
    }
  }
  get ok() {
    return this.status >= 200 && this.status < 300;
  }
}

export class AdminApi {
  constructor(token, base = "") {
    this.token = token;
    this.base = base;
  }

  async request(method, path, { body, headers = {}, signal } = {}) {
    const h = { Authorization: `Bearer ${this.token}`, ...headers };
    if (body !== undefined) h["Content-Type"] = "application/json";
    const res = await fetch(this.base + path, { method, headers: h, body, signal, cache: "no-store" });
    return new ApiResponse(res.status, await res.text(), res.headers);
  }

  directives() {
    return this.request("GET", "/api/directives");
  }
  /** PUT with If-Match of the revision the text was loaded from. */
  publish(text, ifMatchRevision, message) {
    const headers = { "If-Match": `"${ifMatchRevision}"`, "X-Change-Source": "ui" };
    if (message) headers["X-Change-Message"] = encodeURIComponent(message);
    return this.request("PUT", "/api/directives", { body: text, headers });
  }
  validate(text) {
    return this.request("POST", "/api/validate", { body: text });
  }
  history(limit = 20) {
    return this.request("GET", `/api/history?limit=${limit}`);
  }
  /** One version: {revision, published_at, document (as stored), report}. */
  version(revision) {
    return this.request("GET", `/api/history/${encodeURIComponent(revision)}`);
  }
  rollback(revision, expectRevision, message) {
    const body = { revision };
    if (expectRevision !== undefined && expectRevision !== null) body.expect_revision = expectRevision;
    if (message) body.message = message;
    return this.request("POST", "/api/rollback", { body: JSON.stringify(body), headers: { "X-Change-Source": "ui" } });
  }
  fleet() {
    return this.request("GET", "/api/fleet");
  }

  /**
   * Follows `GET /api/events` until `signal` aborts, reconnecting with a
   * bounded backoff. Calls `onEvent(obj)` for each `data:` JSON object,
   * `onState(state, detail)` with "connecting" | "live" | "retrying" |
   * "unauthorized" | "closed".
   */
  async followEvents({ onEvent, onState, signal }) {
    let delay = 500;
    while (!signal.aborted) {
      onState("connecting");
      try {
        const res = await fetch(this.base + "/api/events", {
          headers: { Authorization: `Bearer ${this.token}`, Accept: "text/event-stream" },
          signal,
          cache: "no-store",
        });
        if (res.status === 401) {
          onState("unauthorized");
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        onState("live");
        delay = 500;
        await readSse(res.body, onEvent, signal);
        if (signal.aborted) break;
        onState("retrying", "stream ended");
      } catch (e) {
        if (signal.aborted) break;
        onState("retrying", String(e && e.message ? e.message : e));
      }
      await sleep(delay, signal);
      delay = Math.min(delay * 2, 10_000);
    }
    onState("closed");
  }
}

/** Parses a text/event-stream body: events end at a blank line; data lines join with \n. */
export async function readSse(body, onEvent, signal) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const abort = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", abort, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      buffer = buffer.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) continue; // comments (keep-alives) and empty events
        let obj;
        try {
          obj = JSON.parse(data);
        } catch {
          continue;
        }
        onEvent(obj);
      }
    }
  } finally {
    signal.removeEventListener("abort", abort);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });
}
