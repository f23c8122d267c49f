//! The run's randomness: one seeded stream for the network, and seeds derived from the run seed
//! for everything else (peers, the scenario's own choices), so that a run is a pure function of
//! its seed.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// Parts per million: probabilities are integers so that plans print and compare exactly.
pub type Ppm = u32;

/// One million: a certainty, in [`Ppm`].
pub const MILLION: u32 = 1_000_000;

/// A seeded random stream with the few draws the simulator needs.
pub struct SimRng(ChaCha20Rng);

impl SimRng {
    /// The stream for `seed` and a purpose, so that two purposes never share draws.
    pub fn new(seed: u64, purpose: &str) -> SimRng {
        SimRng(ChaCha20Rng::from_seed(derive_seed(seed, purpose)))
    }

    /// A uniform draw in `0..n`; 0 when `n` is 0. (A multiply-shift: its bias is below 2^-32
    /// for the small ranges used here, and it never loops.)
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform draw in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo).saturating_add(1))
    }

    /// A uniform signed draw in `-spread..=spread`.
    pub fn signed(&mut self, spread: u64) -> i64 {
        let spread = i64::try_from(spread).unwrap_or(i64::MAX / 2);
        i64::try_from(self.between(0, 2 * spread as u64)).unwrap_or(0) - spread
    }

    /// True with probability `ppm` / 10^6. Draws nothing when the probability is 0, so that turning
    /// a fault off does not shift the draws of the others more than needed.
    pub fn chance(&mut self, ppm: Ppm) -> bool {
        ppm > 0 && self.below(u64::from(MILLION)) < u64::from(ppm)
    }
}

/// A 32-byte seed for `label` under the run seed: SHA-256 of `threads-sim/<seed>/<label>`.
pub fn derive_seed(seed: u64, label: &str) -> [u8; 32] {
    Sha256::digest(format!("threads-sim/{seed}/{label}").as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_range_and_repeat_for_the_same_seed() {
        let (mut a, mut b) = (SimRng::new(7, "net"), SimRng::new(7, "net"));
        for n in [1, 2, 10, 1000] {
            let (x, y) = (a.below(n), b.below(n));
            assert_eq!(x, y);
            assert!(x < n);
        }
        assert_eq!(a.below(0), 0);
        assert!((-5..=5).contains(&a.signed(5)));
        assert!(!a.chance(0));
        assert!(a.chance(MILLION));
        assert_ne!(derive_seed(1, "a"), derive_seed(1, "b"));
    }
}
