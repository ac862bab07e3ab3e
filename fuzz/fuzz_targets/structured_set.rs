//! libFuzzer target `structured_set`: Structured directive sets, valid and invalid, rendered to JSON: the decoder must agree with the generator's verdict.
//! The body lives in `directive_fuzz` so the stable replay runs the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|set: directive_fuzz::ArbSet| directive_fuzz::structured_set(&set));
