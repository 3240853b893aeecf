//! The innermost loop: one weight row against up to four tokens, block by
//! block. The weight block is loaded and widened once and multiplied by each
//! token's block; each product of 32 pairs is summed exactly in integers and
//! scaled once by the two blocks' scales.
//!
//! In WebAssembly with SIMD128 the 32 products of a block are four
//! `i32x4.dot_i16x8_s` (eight pairs each, summed in pairs), the weights
//! widened from bytes as they load (`i16x8.load8x8_s`). Elsewhere the same
//! sums are written plainly, for the native tests.

/// One weight row: its quantized weights and its block scales.
pub(crate) struct Row<'a> {
    pub(crate) quants: &'a [i8],
    pub(crate) scales: &'a [f32],
}

/// One token's activations: quantized, widened, and their block scales.
pub(crate) struct Token<'a> {
    pub(crate) quants: &'a [i16],
    pub(crate) scales: &'a [f32],
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

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use super::{Row, Token};
    use crate::BLOCK;
    use core::arch::wasm32::*;

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
                let w: [v128; R] = std::array::from_fn(|r| i16x8_load_extend_i8x8(rows[r].quants.as_ptr().add(at + 8 * part)));
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
        sums.map(|row| {
            row.map(|sum| {
                f32x4_extract_lane::<0>(sum)
                    + f32x4_extract_lane::<1>(sum)
                    + f32x4_extract_lane::<2>(sum)
                    + f32x4_extract_lane::<3>(sum)
            })
        })
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod portable {
    use super::{Row, Token};
    use crate::BLOCK;

    pub(super) fn dot<const R: usize, const T: usize>(
        rows: &[Row<'_>; R],
        tokens: &[Token<'_>; T],
        blocks: usize,
    ) -> [[f32; T]; R] {
        let mut sums = [[0.0f32; T]; R];
        for (row, sums) in rows.iter().zip(&mut sums) {
            for (token, sum) in tokens.iter().zip(sums) {
                for b in 0..blocks {
                    let w = &row.quants[b * BLOCK..][..BLOCK];
                    let x = &token.quants[b * BLOCK..][..BLOCK];
                    let products: i32 = w.iter().zip(x).map(|(&w, &x)| i32::from(w) * i32::from(x)).sum();
                    *sum += products as f32 * (row.scales[b] * token.scales[b]);
                }
            }
        }
        sums
    }
}
