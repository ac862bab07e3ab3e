//! Writes the seed corpora for the fuzz targets from the shared vector corpus.
//!
//! Usage: `seed-corpus <tests/vectors/cases> <out dir>`; creates
//! `<out>/decode_bytes/` with every decode input (`input` or `input_hex`),
//! every evaluate `set` and every reducer step's `value`, one file each,
//! named by content hash so reruns are idempotent. The other targets take
//! structured input that libFuzzer builds from bytes, so they are seeded with
//! the same files (any bytes are a valid `arbitrary` input).

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(cases), Some(out)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: seed-corpus <cases dir> <out dir>");
        return ExitCode::from(2);
    };
    match run(Path::new(cases), Path::new(out)) {
        Ok(n) => {
            println!("seed-corpus: {n} inputs written under {out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed-corpus: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cases: &Path, out: &Path) -> Result<usize, String> {
    let mut inputs = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(cases)
        .map_err(|e| format!("{}: {e}", cases.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        for case in doc["cases"].as_array().into_iter().flatten() {
            inputs.extend(directive_fuzz::seed::case_inputs(case));
        }
    }
    let mut n = 0;
    for target in ["decode_bytes", "structured_set", "reducer_events"] {
        let dir = out.join(target);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for input in &inputs {
            let name = format!("seed-{:016x}", directive_core::sampling::fnv1a64(input));
            std::fs::write(dir.join(name), input).map_err(|e| format!("{}: {e}", dir.display()))?;
            n += 1;
        }
    }
    Ok(n)
}
