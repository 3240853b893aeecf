//! The innermost loop: one weight row against up to four tokens, block by
//! block. The weight block is loaded and widened once and multiplied by each
//! token's block; each product of 32 pairs is summed exactly in integers and
//! scaled once by the two blocks' scales.
//!
//! In WebAssembly with SIMD128 the 32 products of a block are four
//! `i32x4.dot_i16x8_s` (eight pairs each, summed in pairs), the weights
//! widened from bytes as they load (`i16x8.load8x8_s`). Elsewhere the same
//! sums are written plainly, for the native tests.

/// `[make(0), …, make(N − 1)]`, always inlined: `std::array::from_fn` was
/// left a call in the tiles' hot loops (a few percent of a decoding step).
#[inline(always)]
pub(crate) fn array<T: Copy, const N: usize>(mut make: impl FnMut(usize) -> T) -> [T; N] {
    let mut out = [make(0); N];
    for (i, slot) in out.iter_mut().enumerate().skip(1) {
        *slot = make(i);
    }
    out
}

/// One weight row: its quantized weights and its block scales.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    pub(crate) quants: &'a [i8],
    pub(crate) scales: &'a [f32],
}

/// One token's activations: quantized, widened, their block scales, and
/// each block's scale times the sum of its integers.
#[derive(Clone, Copy)]
pub(crate) struct Token<'a> {
    pub(crate) quants: &'a [i16],
    pub(crate) scales: &'a [f32],
    pub(crate) sums: &'a [f32],
}

/// One Q4 weight row: 16 bytes per block of 32 (byte `k` holds weight `k`
/// in its low nibble and weight `k + 16` in its high one), and each block's
/// scale and offset: weight = scale × nibble − min.
#[derive(Clone, Copy)]
pub(crate) struct Q4Row<'a> {
    pub(crate) quants: &'a [u8],
    pub(crate) scales: &'a [f32],
    pub(crate) mins: &'a [f32],
}

/// The dot products of each of the Q4 `rows` with each of `tokens`:
/// `[row][token]`. Per block, `scale × Σ nibble·x − min × Σ x`, the first
/// sum exact in integers.
#[inline(always)]
pub(crate) fn dot_q4<const R: usize, const T: usize>(rows: &[Q4Row<'_>; R], tokens: &[Token<'_>; T]) -> [[f32; T]; R] {
    let blocks = rows[0].scales.len();
    for row in rows {
        assert!(row.quants.len() == blocks * super::BLOCK / 2 && row.scales.len() == blocks && row.mins.len() == blocks);
    }
    for token in tokens {
        assert!(token.quants.len() == blocks * super::BLOCK && token.scales.len() == blocks && token.sums.len() == blocks);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: as for `dot`: block `b` is bytes `16 b .. 16 b + 16` of a
        // row and values `32 b .. 32 b + 32` of a token, lengths checked.
        unsafe { simd128::dot_q4(rows, tokens, blocks) }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        portable::dot_q4(rows, tokens, blocks)
    }
}

/// The dot products of each of `rows` with each of `tokens`: `[row][token]`.
/// Every slice is as long as the rows (the caller cut them from one shape).
#[inline(always)]
pub(crate) fn dot<const R: usize, const T: usize>(rows: &[Row<'_>; R], tokens: &[Token<'_>; T]) -> [[f32; T]; R] {
    let (columns, blocks) = (rows[0].quants.len(), rows[0].scales.len());
    assert_eq!(columns, blocks * super::BLOCK);
    for row in rows {
        assert!(row.quants.len() == columns && row.scales.len() == blocks);
    }
    for token in tokens {
        assert!(token.quants.len() == columns && token.scales.len() == blocks);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: every pointer read below is within a slice whose length
        // was checked above (block `b` of a row is `32 b .. 32 b + 32`).
        unsafe { simd128::dot(rows, tokens, blocks) }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        portable::dot(rows, tokens, blocks)
    }
}

/// Quantizes one block of 32 activations into `out` as Q8_0 does (see
/// `crate::quantize_block`), returning its scale and the sum of its
/// integers. The SIMD128 version gives the very same numbers.
#[inline(always)]
pub(crate) fn quantize_block(block: &[f32], out: &mut [i16]) -> (f32, i32) {
    assert!(block.len() == super::BLOCK && out.len() == super::BLOCK);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        // SAFETY: both slices are one block long (checked above).
        unsafe { simd128::quantize_block(block, out) }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let (mut sum, mut at) = (0, 0);
        let scale = crate::quantize_block(block, |q| {
            out[at] = q;
            at += 1;
            sum += i32::from(q);
        });
        (scale, sum)
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use super::{array, Q4Row, Row, Token};
    use crate::BLOCK;
    use core::arch::wasm32::*;

    /// [`super::quantize_block`] four values at a time. Rounding halves
    /// away from zero is `trunc`, then one step away where the fraction
    /// left is at least a half, as `crate::round_half_away` does.
    #[inline(always)]
    pub(super) unsafe fn quantize_block(block: &[f32], out: &mut [i16]) -> (f32, i32) {
        let mut v = [f32x4_splat(0.0); BLOCK / 4];
        for (i, v) in v.iter_mut().enumerate() {
            *v = v128_load(block.as_ptr().add(4 * i) as *const v128);
        }
        // `pmax(a, b)` is `a < b ? b : a`: a NaN is skipped, as in the scalar fold.
        let mut largest = f32x4_splat(0.0);
        for &v in &v {
            largest = f32x4_pmax(largest, f32x4_abs(v));
        }
        let lanes = [
            f32x4_extract_lane::<0>(largest),
            f32x4_extract_lane::<1>(largest),
            f32x4_extract_lane::<2>(largest),
            f32x4_extract_lane::<3>(largest),
        ];
        let largest = lanes.into_iter().fold(0.0f32, |max, v| if v > max { v } else { max });
        let (inverse, scale) = crate::block_scale(largest);
        let (inverse, half, sign, one) = (f32x4_splat(inverse), f32x4_splat(0.5), f32x4_splat(-0.0), f32x4_splat(1.0));
        let round = |x: v128| {
            let whole = f32x4_trunc(x);
            let away = f32x4_ge(f32x4_abs(f32x4_sub(x, whole)), half);
            f32x4_add(whole, v128_and(away, v128_or(v128_and(x, sign), one)))
        };
        let mut sum = i32x4_splat(0);
        for i in 0..BLOCK / 8 {
            let low = i32x4_trunc_sat_f32x4(round(f32x4_mul(v[2 * i], inverse)));
            let high = i32x4_trunc_sat_f32x4(round(f32x4_mul(v[2 * i + 1], inverse)));
            sum = i32x4_add(sum, i32x4_add(low, high));
            v128_store(out.as_mut_ptr().add(8 * i) as *mut v128, i16x8_narrow_i32x4(low, high));
        }
        let sum = i32x4_extract_lane::<0>(sum) + i32x4_extract_lane::<1>(sum) + i32x4_extract_lane::<2>(sum) + i32x4_extract_lane::<3>(sum);
        (scale, sum)
    }

    #[inline(always)]
    pub(super) unsafe fn dot<const R: usize, const T: usize>(
        rows: &[Row<'_>; R],
        tokens: &[Token<'_>; T],
        blocks: usize,
    ) -> [[f32; T]; R] {
        let mut sums = [[f32x4_splat(0.0); T]; R];
        for b in 0..blocks {
            let at = b * BLOCK;
            // The integer products of block `b`, eight weights at a time.
            let mut products = [[i32x4_splat(0); T]; R];
            for part in 0..BLOCK / 8 {
                let w: [v128; R] = array(|r| i16x8_load_extend_i8x8(rows[r].quants.as_ptr().add(at + 8 * part)));
                for (t, token) in tokens.iter().enumerate() {
                    let x = v128_load(token.quants.as_ptr().add(at + 8 * part) as *const v128);
                    for r in 0..R {
                        products[r][t] = i32x4_add(products[r][t], i32x4_dot_i16x8(w[r], x));
                    }
                }
            }
            for r in 0..R {
                let row_scale = *rows[r].scales.get_unchecked(b);
                for (t, token) in tokens.iter().enumerate() {
                    let scale = f32x4_splat(row_scale * *token.scales.get_unchecked(b));
                    sums[r][t] = f32x4_add(sums[r][t], f32x4_mul(f32x4_convert_i32x4(products[r][t]), scale));
                }
            }
        }
        sums.map(|row| row.map(lane_sum))
    }

    /// The four lanes of `sum` added, first to last.
    #[inline(always)]
    fn lane_sum(sum: v128) -> f32 {
        f32x4_extract_lane::<0>(sum) + f32x4_extract_lane::<1>(sum) + f32x4_extract_lane::<2>(sum) + f32x4_extract_lane::<3>(sum)
    }

    #[inline(always)]
    pub(super) unsafe fn dot_q4<const R: usize, const T: usize>(
        rows: &[Q4Row<'_>; R],
        tokens: &[Token<'_>; T],
        blocks: usize,
    ) -> [[f32; T]; R] {
        let mut sums = [[f32x4_splat(0.0); T]; R];
        let mut offsets = [[0.0f32; T]; R];
        let low_nibbles = u8x16_splat(0x0F);
        for b in 0..blocks {
            let at = b * BLOCK;
            // Each row's 32 nibbles, widened to i16 in four vectors of 8:
            // weights 0–7, 8–15 (low nibbles), 16–23, 24–31 (high nibbles).
            let w: [[v128; 4]; R] = array(|r| {
                let bytes = v128_load(rows[r].quants.as_ptr().add(b * BLOCK / 2) as *const v128);
                let (low, high) = (v128_and(bytes, low_nibbles), u8x16_shr(bytes, 4));
                [u16x8_extend_low_u8x16(low), u16x8_extend_high_u8x16(low), u16x8_extend_low_u8x16(high), u16x8_extend_high_u8x16(high)]
            });
            for (t, token) in tokens.iter().enumerate() {
                let x: [v128; 4] = array(|part| v128_load(token.quants.as_ptr().add(at + 8 * part) as *const v128));
                let token_scale = *token.scales.get_unchecked(b);
                let token_sum = *token.sums.get_unchecked(b);
                for r in 0..R {
                    let mut products = i32x4_dot_i16x8(w[r][0], x[0]);
                    for part in 1..4 {
                        products = i32x4_add(products, i32x4_dot_i16x8(w[r][part], x[part]));
                    }
                    let scale = f32x4_splat(*rows[r].scales.get_unchecked(b) * token_scale);
                    sums[r][t] = f32x4_add(sums[r][t], f32x4_mul(f32x4_convert_i32x4(products), scale));
                    offsets[r][t] += *rows[r].mins.get_unchecked(b) * token_sum;
                }
            }
        }
        array(|r| array(|t| lane_sum(sums[r][t]) - offsets[r][t]))
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod portable {
    use super::{Q4Row, Row, Token};
    use crate::BLOCK;

    /// `[row][token]`: `pair` of each row with each token.
    fn each_pair<W, const R: usize, const T: usize>(
        rows: &[W; R],
        tokens: &[Token<'_>; T],
        pair: impl Fn(&W, &Token<'_>) -> f32,
    ) -> [[f32; T]; R] {
        std::array::from_fn(|r| std::array::from_fn(|t| pair(&rows[r], &tokens[t])))
    }

    pub(super) fn dot<const R: usize, const T: usize>(
        rows: &[Row<'_>; R],
        tokens: &[Token<'_>; T],
        blocks: usize,
    ) -> [[f32; T]; R] {
        each_pair(rows, tokens, |row, token| {
            (0..blocks).fold(0.0, |sum, b| {
                let w = &row.quants[b * BLOCK..][..BLOCK];
                let x = &token.quants[b * BLOCK..][..BLOCK];
                let products: i32 = w.iter().zip(x).map(|(&w, &x)| i32::from(w) * i32::from(x)).sum();
                sum + products as f32 * (row.scales[b] * token.scales[b])
            })
        })
    }

    pub(super) fn dot_q4<const R: usize, const T: usize>(
        rows: &[Q4Row<'_>; R],
        tokens: &[Token<'_>; T],
        blocks: usize,
    ) -> [[f32; T]; R] {
        each_pair(rows, tokens, |row, token| {
            let (sum, offset) = (0..blocks).fold((0.0f32, 0.0f32), |(sum, offset), b| {
                let bytes = &row.quants[b * BLOCK / 2..][..BLOCK / 2];
                let x = &token.quants[b * BLOCK..][..BLOCK];
                let nibble = |k: usize| i32::from(if k < 16 { bytes[k] & 0x0F } else { bytes[k - 16] >> 4 });
                let products: i32 = (0..BLOCK).map(|k| nibble(k) * i32::from(x[k])).sum();
                (sum + products as f32 * (row.scales[b] * token.scales[b]), offset + row.mins[b] * token.sums[b])
            });
            sum - offset
        })
    }
}
