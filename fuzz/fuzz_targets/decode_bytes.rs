//! libFuzzer target `decode_bytes`: Arbitrary bytes into the decoder; an accepted set must survive its canonical re-encoding.
//! The body lives in `directive_fuzz` so the stable replay runs the same code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| directive_fuzz::decode_bytes(data));
