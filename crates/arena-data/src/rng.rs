//! The deterministic random stream behind every seeded draw.
//!
//! Validators must agree on samples bit for bit, so the algorithm is part of the protocol and
//! written out here instead of borrowed from `rand`'s distributions (whose value streams may
//! change between versions):
//!
//! * key = SHA-256(`"arena-data/v1"` ‖ seed (32 bytes) ‖ u32-LE length of `stream` ‖ `stream`
//!   ‖ u64-LE `index`), where `stream` names the use (a task name, `"corpus-pages"`, …);
//! * the stream is ChaCha20 (`rand_chacha::ChaCha20Rng::from_seed(key)`, whose output is
//!   stable across versions), read as little-endian `u64` words;
//! * `below(n)` rejects words ≥ the largest multiple of `n` (no modulo bias);
//! * shuffles are Fisher–Yates from the last position down, each swap index `below(i + 1)`.

use arena_core::seed::Seed;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// Domain tag mixed into every stream key, so seeds used elsewhere never collide with ours.
const DOMAIN: &[u8] = b"arena-data/v1";

/// A seeded stream of random choices (see the module documentation for the exact algorithm).
pub struct DrawRng(ChaCha20Rng);

impl DrawRng {
    /// The stream for item `index` of `stream` under `seed`. Each item has its own stream, so
    /// sample 7 is the same whether a validator draws 10 samples or 10,000.
    pub fn new(seed: &Seed, stream: &str, index: u64) -> DrawRng {
        let mut hasher = Sha256::new();
        hasher.update(DOMAIN);
        hasher.update(seed.0);
        hasher.update((stream.len() as u32).to_le_bytes());
        hasher.update(stream.as_bytes());
        hasher.update(index.to_le_bytes());
        DrawRng(ChaCha20Rng::from_seed(hasher.finalize().into()))
    }

    /// A stream from fresh operating-system entropy: for producers, whose data must be
    /// unpredictable rather than reproducible.
    pub fn from_entropy() -> DrawRng {
        DrawRng(ChaCha20Rng::from_entropy())
    }

    /// The next raw 64-bit word.
    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// Uniform in `0..n`; `n == 0` yields 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let limit = u64::MAX - (u64::MAX % n);
        loop {
            let word = self.next_u64();
            if word < limit {
                return word % n;
            }
        }
    }

    /// Uniform in `lo..=hi` (returns `lo` when `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// Uniform index into a slice of `len` items.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// One item of a non-empty slice (`None` for an empty one).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get(self.index(items.len()))
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// Fisher–Yates shuffle in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// `k` distinct indices of `0..n` in random order (all of them when `k ≥ n`).
    pub fn distinct(&mut self, n: usize, k: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..n).collect();
        let k = k.min(n);
        // Partial Fisher–Yates from the front: position i takes a random remaining item.
        for i in 0..k {
            let j = i + self.below((n - i) as u64) as usize;
            all.swap(i, j);
        }
        all.truncate(k);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_separate() {
        let seed = Seed([7; 32]);
        let words = |mut rng: DrawRng| -> Vec<u64> { (0..4).map(|_| rng.next_u64()).collect() };
        let a = words(DrawRng::new(&seed, "t", 1));
        let b = words(DrawRng::new(&seed, "t", 1));
        assert_eq!(a, b);
        assert_ne!(DrawRng::new(&seed, "t", 2).next_u64(), a[0]);
        assert_ne!(DrawRng::new(&seed, "u", 1).next_u64(), a[0]);
        assert_ne!(DrawRng::new(&Seed([8; 32]), "t", 1).next_u64(), a[0]);
    }

    #[test]
    fn below_and_distinct_stay_in_range() {
        let mut rng = DrawRng::new(&Seed([1; 32]), "range", 0);
        let mut seen = [0u32; 6];
        for _ in 0..6000 {
            seen[rng.below(6) as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
        let picked = rng.distinct(10, 4);
        assert_eq!(picked.len(), 4);
        let mut sorted = picked.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        assert!(picked.iter().all(|&i| i < 10));
        assert_eq!(rng.distinct(3, 9).len(), 3);
        assert_eq!(rng.range(5, 5), 5);
        assert!((2..=20).contains(&rng.range(2, 20)));
    }
}
