//! Stable replay of the fuzz targets' bodies.
//!
//! Runs where libFuzzer cannot (no nightly): every file of the seed corpus
//! (and of `fuzz/corpus/<target>/` when libFuzzer has grown it), then
//! `FUZZ_REPLAY_CASES` (default 3000) generated inputs per target from a fixed
//! seed, through exactly the code the libFuzzer binaries run. This is a
//! regression net, not a fuzzer: it finds nothing new on its own.

use std::path::{Path, PathBuf};

use arbitrary::{Arbitrary, Unstructured};
use directive_fuzz::{decode_bytes, reducer_events, structured_set, ArbEvent, ArbSet};

/// SplitMix64: a fixed, dependency-free source of bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = (self.next() as usize) % (max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn cases() -> usize {
    std::env::var("FUZZ_REPLAY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000)
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Decoder inputs from the vector corpus (the seed corpus, computed afresh).
fn seeds() -> Vec<Vec<u8>> {
    let dir = root().join("../tests/vectors/cases");
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("vector cases dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for f in files {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&f).expect("read case file"))
                .expect("case file is JSON");
        for case in doc["cases"].as_array().into_iter().flatten() {
            out.extend(directive_fuzz::seed::case_inputs(case));
        }
    }
    assert!(out.len() > 300, "seed corpus too small: {}", out.len());
    out
}

/// Files libFuzzer left in `corpus/<target>/` and `artifacts/<target>/`.
fn grown(target: &str) -> Vec<Vec<u8>> {
    ["corpus", "artifacts"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root().join(d).join(target)).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect()
}

/// Byte-level mutations of a seed: flips, truncation, splicing, insertion.
fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut b = seeds[(rng.next() as usize) % seeds.len()].clone();
    for _ in 0..(rng.next() % 4) {
        match rng.next() % 5 {
            0 if !b.is_empty() => {
                let i = (rng.next() as usize) % b.len();
                b[i] ^= 1 << (rng.next() % 8);
            }
            1 if !b.is_empty() => b.truncate((rng.next() as usize) % b.len()),
            2 => {
                let other = &seeds[(rng.next() as usize) % seeds.len()];
                let cut = (rng.next() as usize) % (other.len() + 1);
                b.extend_from_slice(&other[cut..]);
            }
            3 => {
                let i = (rng.next() as usize) % (b.len() + 1);
                let tok: &[u8] = [&b"null"[..], b"\"\"", b"{", b"]", b",", b"1e999", b"\xff"]
                    [(rng.next() as usize) % 7];
                b.splice(i..i, tok.iter().copied());
            }
            _ => b = rng.bytes(256),
        }
    }
    b
}

#[test]
fn replay_decode_bytes() {
    let seeds = seeds();
    for s in seeds.iter().chain(grown("decode_bytes").iter()) {
        decode_bytes(s);
    }
    let mut rng = Rng(0xdec0de);
    for _ in 0..cases() {
        decode_bytes(&mutate(&mut rng, &seeds));
    }
}

#[test]
fn replay_structured_set() {
    let mut inputs = grown("structured_set");
    let mut rng = Rng(0x5e7);
    inputs.extend((0..cases()).map(|_| rng.bytes(512)));
    let mut valid = 0;
    for data in &inputs {
        if let Ok(set) = ArbSet::arbitrary(&mut Unstructured::new(data)) {
            let limits = directive_core::Limits::default();
            valid += usize::from(directive_fuzz::render_set(&set, &limits).1);
            structured_set(&set);
        }
    }
    eprintln!(
        "structured_set: {} inputs, {valid} valid documents",
        inputs.len()
    );
}

#[test]
fn replay_reducer_events() {
    let mut inputs = grown("reducer_events");
    let mut rng = Rng(0x4ed);
    inputs.extend((0..cases()).map(|_| rng.bytes(1024)));
    for data in &inputs {
        if let Ok(events) = Vec::<ArbEvent>::arbitrary(&mut Unstructured::new(data)) {
            if std::panic::catch_unwind(|| reducer_events(&events)).is_err() {
                panic!("reducer invariant broken by: {events:#?}");
            }
        }
    }
}
