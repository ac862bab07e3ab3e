//! libFuzzer target `reducer_events`: Arbitrary etcd event sequences into the reducer, with its invariants checked after every step.
//! The body lives in `directive_fuzz` so the stable replay runs the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|events: Vec<directive_fuzz::ArbEvent>| directive_fuzz::reducer_events(&events));
