//! What the kernel tests share: deterministic numbers, and activations
//! that quantize exactly.

use prefab_kernels::BLOCK;

/// A deterministic stream of numbers (xorshift).
pub struct Numbers(pub u64);

impl Numbers {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// An integer in `-limit..=limit`.
    pub fn int(&mut self, limit: i64) -> i64 {
        (self.next() % (2 * limit as u64 + 1)) as i64 - limit
    }
}

/// Activations that quantize exactly: per block, integers whose largest
/// magnitude is 127, times 2^k. Returns the values, the integers and scales.
pub fn activations(tokens: usize, columns: usize, numbers: &mut Numbers) -> (Vec<f32>, Vec<i64>, Vec<f32>) {
    let (mut values, mut ints, mut scales) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..tokens * columns / BLOCK {
        let scale = 2f32.powi(numbers.int(6) as i32);
        let first = ints.len();
        ints.extend((0..BLOCK).map(|_| numbers.int(126)));
        ints[first + (numbers.next() as usize % BLOCK)] = if numbers.next() % 2 == 0 { 127 } else { -127 };
        values.extend(ints[first..].iter().map(|&q| q as f32 * scale));
        scales.push(scale);
    }
    (values, ints, scales)
}


/// Asserts a kernel's output `got` is `expected` within `relative` of the
/// `magnitude` of the terms summed (at least 1), which bounds every partial
/// sum in whatever order a tile adds them.
pub fn assert_within(got: f32, expected: f64, magnitude: f64, relative: f64, what: impl std::fmt::Display) {
    let got = f64::from(got);
    assert!((got - expected).abs() <= relative * magnitude.max(1.0), "{what}: {got} ≠ {expected}");
}
