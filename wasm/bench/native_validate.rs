//! Native side of the same-run WASM comparison (`scripts/bench-wasm.sh`):
//! `validate(bytes, now_ms, &Limits::DEFAULT).to_json()` on one file, timed
//! in-process, without criterion, so that the number is directly comparable
//! with the `validateJson` medians taken in Node and Chromium.
//!
//! ```text
//! cargo bench -p directive-wasm-parity --bench native_validate -- \
//!     FILE [NOW_MS] [RUNS] [REPORT_OUT]
//! ```
//!
//! Prints one JSON line: the median, p10 and p90 of `validate + to_json`
//! and, separately, of `validate` alone and of `to_json` alone (where the
//! time goes), in milliseconds. With REPORT_OUT, writes the report text
//! there, so the WASM runs can check they produce the same bytes.

#![allow(missing_docs)]

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use directive_core::{validate, Limits};

const WARMUP: usize = 20;

fn main() -> ExitCode {
    // `cargo bench` appends `--bench`; ignore it.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let Some(path) = args.first() else {
        eprintln!("usage: native_validate FILE [NOW_MS] [RUNS] [REPORT_OUT]");
        return ExitCode::from(2);
    };
    let now_ms: u64 = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_700_000_000_000);
    let runs: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("native_validate: cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };

    let limits = Limits::DEFAULT;
    let report = validate(&bytes, now_ms, &limits).to_json();
    if let Some(out) = args.get(3) {
        if let Err(e) = std::fs::write(out, &report) {
            eprintln!("native_validate: cannot write {out}: {e}");
            return ExitCode::FAILURE;
        }
    }
    for _ in 0..WARMUP {
        black_box(validate(black_box(&bytes), now_ms, &limits).to_json());
    }

    let mut total = Vec::with_capacity(runs);
    let mut decode = Vec::with_capacity(runs);
    let mut serialize = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        let r = validate(black_box(&bytes), now_ms, &limits);
        let t1 = Instant::now();
        let json = r.to_json();
        let t2 = Instant::now();
        black_box(json);
        total.push((t2 - t0).as_secs_f64() * 1e3);
        decode.push((t1 - t0).as_secs_f64() * 1e3);
        serialize.push((t2 - t1).as_secs_f64() * 1e3);
    }
    println!(
        "{{\"bytes\":{},\"report_bytes\":{},\"runs\":{runs},\"median_ms\":{:.4},\"p10_ms\":{:.4},\"p90_ms\":{:.4},\"validate_ms\":{:.4},\"to_json_ms\":{:.4}}}",
        bytes.len(),
        report.len(),
        quantile(&mut total, 0.5),
        quantile(&mut total, 0.1),
        quantile(&mut total, 0.9),
        quantile(&mut decode, 0.5),
        quantile(&mut serialize, 0.5),
    );
    ExitCode::SUCCESS
}

fn quantile(samples: &mut [f64], q: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
    samples.get(i).copied().unwrap_or(f64::NAN)
}
