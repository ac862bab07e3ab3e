// The timing loop shared by the Node and Chromium runners (the Chromium
// runner ships this function's source into the page): each package's
// `validateJson` is warmed up, then timed call by call, packages interleaved
// in blocks so that machine noise hits all of them alike. Returns, per
// package, the median/p10/p90 in ms for a string input (what the web demo
// passes) and for pre-encoded bytes (no JS string -> UTF-8 step), and
// whether the report text equals the native one.
export function measure(pkgs, docText, nowMs, runs, expected) {
  const now = () => performance.now();
  const docBytes = new TextEncoder().encode(docText);
  const q = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.round((s.length - 1) * p)];
  };
  const state = pkgs.map(() => ({ str: [], bytes: [] }));
  for (const p of pkgs) for (let i = 0; i < 20; i++) p.validateJson(docText, nowMs);
  const block = 10;
  for (let done = 0; done < runs; done += block) {
    for (const [k, p] of pkgs.entries()) {
      for (let i = 0; i < block; i++) {
        const t0 = now();
        p.validateJson(docText, nowMs);
        state[k].str.push(now() - t0);
      }
      for (let i = 0; i < block; i++) {
        const t0 = now();
        p.validateJson(docBytes, nowMs);
        state[k].bytes.push(now() - t0);
      }
    }
  }
  return pkgs.map((p, k) => {
    const out = p.validateJson(docText, nowMs);
    return {
      pkg: p.label,
      median_ms: q(state[k].str, 0.5),
      p10_ms: q(state[k].str, 0.1),
      p90_ms: q(state[k].str, 0.9),
      bytes_input_median_ms: q(state[k].bytes, 0.5),
      identical: expected === undefined ? null : out === expected,
      report_bytes: out.length,
    };
  });
}
