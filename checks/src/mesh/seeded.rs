//! The covering plan's source of chance: SplitMix64 (Steele, Lea and Flood, 2014), a
//! 64-bit generator small enough to own. Owning it keeps a seed meaning the same plan
//! across tarmac versions and platforms, which `--mesh-seed` promises; a crate's
//! generator may change its stream in any release.

/// A deterministic stream of numbers from one seed.
#[derive(Debug, Clone)]
pub struct Seeded {
    state: u64,
}

impl Seeded {
    pub fn new(seed: u64) -> Seeded {
        Seeded { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is 0). Lemire's multiply-shift: the bias is below
    /// 2^-32 for any `n` a cluster has, which a plan cannot notice.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let wide = u128::from(self.next_u64()) * u128::from(n);
        // The high half is below `n`, which came from a usize.
        usize::try_from(wide >> 64).unwrap_or(0)
    }

    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_is_splitmix64() {
        // The reference implementation's first outputs for seed 1234567.
        let mut s = Seeded::new(1_234_567);
        assert_eq!(s.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(s.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn below_stays_in_range_and_shuffle_permutes() {
        let mut s = Seeded::new(7);
        assert!((0..1000).all(|_| s.below(3) < 3));
        assert_eq!(s.below(0), 0);
        let mut v: Vec<u32> = (0..50).collect();
        s.shuffle(&mut v);
        assert_ne!(v, (0..50).collect::<Vec<_>>());
        v.sort_unstable();
        assert_eq!(v, (0..50).collect::<Vec<_>>());
    }
}
