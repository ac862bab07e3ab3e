//! Deterministic request sampling, bit-compatible with the upstream.
//!
//! A request is in a directive's sample when the FNV-1a 64-bit hash of its
//! request id, modulo 1000, is below `sample_per_mille`. No RNG: the same
//! request id gets the same decision on every instance, and the same decision
//! the upstream would make, which lets a mixed fleet agree during migration.

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits, over the request id's bytes.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME)
    })
}

/// The request's sampling bucket, `0..1000`.
pub fn bucket(request_id: &str) -> u16 {
    // The remainder is below 1000, so it always fits.
    (fnv1a64(request_id.as_bytes()) % 1000) as u16
}

/// True when a request with this id is in a sample of `per_mille`.
pub fn in_sample(per_mille: u16, request_id: &str) -> bool {
    match per_mille {
        0 => false,
        p if p >= 1000 => true,
        p => bucket(request_id) < p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_reference_values() {
        // Reference values of FNV-1a 64 from the algorithm's published test suite.
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn edges_ignore_the_hash() {
        assert!(!in_sample(0, "anything"));
        assert!(in_sample(1000, "anything"));
    }
}
