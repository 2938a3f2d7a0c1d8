//! The simulator's one source of randomness: a seeded SplitMix64 kept in state.

/// SplitMix64: tiny, fast, and identical on every platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prng {
    state: u64,
}

/// Probabilities are kept in parts per million so that no float touches a decision.
pub const PPM_ONE: u32 = 1_000_000;

impl Prng {
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `low..=high`.
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high);
        let span = high - low;
        if span == u64::MAX {
            return self.next_u64();
        }
        low + self.next_u64() % (span + 1)
    }

    /// True with probability `ppm / 1_000_000`.
    pub fn chance_ppm(&mut self, ppm: u32) -> bool {
        ppm > 0 && (ppm >= PPM_ONE || (self.next_u64() % PPM_ONE as u64) < ppm as u64)
    }

    /// A fresh generator for a sub-component, so that adding draws in one place does not
    /// shift every other random choice.
    pub fn fork(&mut self) -> Prng {
        Prng::new(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = Prng::new(42);
        let mut b = Prng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(Prng::new(1).next_u64(), Prng::new(2).next_u64());
    }

    #[test]
    fn range_and_chance_bounds() {
        let mut prng = Prng::new(7);
        for _ in 0..1000 {
            let v = prng.range_inclusive(3, 5);
            assert!((3..=5).contains(&v));
        }
        assert!(!prng.chance_ppm(0));
        assert!(prng.chance_ppm(PPM_ONE));
        let hits = (0..10_000).filter(|_| prng.chance_ppm(500_000)).count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
    }
}
