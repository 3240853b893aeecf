//! The Q4_K kernel against GGUF's definition of Q4_K, natively (the portable
//! tile) and in headless Chromium (the SIMD128 tile).
//!
//! The expected weights are decoded here straight from the format's
//! description (ggml's `dequantize_row_q4_K`), bit by bit; the activations
//! quantize exactly (see `common`), so the expected products are exact sums
//! and any difference beyond float rounding is a kernel error.

mod common;

use common::{activations, assert_within, Numbers};
use prefab_kernels::{Activations, LayoutError, Q4Matrix, BLOCK, SUPER_BLOCK};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// Random GGUF Q4_K bytes for `rows × columns` weights, and every weight
/// they stand for, decoded from the format's description.
fn q4_k(rows: usize, columns: usize, numbers: &mut Numbers) -> (Vec<u8>, Vec<f32>) {
    let (mut bytes, mut weights) = (Vec::new(), Vec::new());
    for _ in 0..rows * columns / SUPER_BLOCK {
        let d = half::f16::from_f32(numbers.int(1000) as f32 / 65536.0);
        let dmin = half::f16::from_f32(numbers.int(1000).abs() as f32 / 65536.0);
        let packed: Vec<u8> = (0..12).map(|_| numbers.next() as u8).collect();
        let nibbles: Vec<u8> = (0..SUPER_BLOCK / 2).map(|_| numbers.next() as u8).collect();
        bytes.extend(d.to_le_bytes());
        bytes.extend(dmin.to_le_bytes());
        bytes.extend(&packed);
        bytes.extend(&nibbles);
        // Sub-block j's 6-bit scale and min: j < 4 from the low 6 bits of
        // bytes j and j + 4; j ≥ 4 from the nibbles of byte j + 4 and the
        // top 2 bits of bytes j − 4 and j.
        let scale_min = |j: usize| -> (u8, u8) {
            if j < 4 {
                (packed[j] & 0x3F, packed[j + 4] & 0x3F)
            } else {
                ((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
            }
        };
        for j in 0..SUPER_BLOCK / BLOCK {
            let (sc, m) = scale_min(j);
            let (scale, min) = (d.to_f32() * f32::from(sc), dmin.to_f32() * f32::from(m));
            // 32 bytes per pair of sub-blocks: low nibbles first, then high.
            let group = &nibbles[(j / 2) * 32..][..32];
            for &byte in group {
                let q = if j % 2 == 0 { byte & 0xF } else { byte >> 4 };
                weights.push(scale * f32::from(q) - min);
            }
        }
    }
    (bytes, weights)
}

#[test]
fn rows_dequantize_to_the_formats_weights() {
    let mut numbers = Numbers(0x5eed);
    let (rows, columns) = (5, 2 * SUPER_BLOCK);
    let (bytes, weights) = q4_k(rows, columns, &mut numbers);
    let matrix = Q4Matrix::from_ggml_q4_k(&bytes, rows, columns).unwrap();
    assert_eq!((matrix.rows(), matrix.columns()), (rows, columns));
    assert_eq!(matrix.size_in_bytes(), rows * columns / BLOCK * 24, "24 bytes per 32 weights");
    let mut row = vec![0.0; columns];
    for r in 0..rows {
        matrix.dequantize_row(r, &mut row);
        assert_eq!(row, weights[r * columns..][..columns], "row {r}");
    }
}

#[test]
fn every_tile_shape_matches_exact_arithmetic() {
    let columns = 2 * SUPER_BLOCK;
    for tokens in 1..=9 {
        let mut numbers = Numbers(tokens as u64 * 104_729);
        // 37 rows: two whole chunks of rows and a part, tiles of 4 and 1.
        let rows = 37;
        let (bytes, weights) = q4_k(rows, columns, &mut numbers);
        let (values, ..) = activations(tokens, columns, &mut numbers);
        let matrix = Q4Matrix::from_ggml_q4_k(&bytes, rows, columns).unwrap();
        let mut out = vec![f32::NAN; tokens * rows];
        matrix.matmul(&Activations::quantize(&values, columns), &mut out);
        for t in 0..tokens {
            for r in 0..rows {
                let pairs = weights[r * columns..][..columns].iter().zip(&values[t * columns..][..columns]);
                let expected: f64 = pairs.clone().map(|(&w, &x)| f64::from(w) * f64::from(x)).sum();
                let magnitude: f64 = pairs.map(|(&w, &x)| (f64::from(w) * f64::from(x)).abs()).sum();
                assert_within(out[t * rows + r], expected, magnitude, 1e-5, format!("{tokens} tokens: token {t}, row {r}"));
            }
        }
    }
}

#[test]
fn bad_shapes_are_refused() {
    let mut numbers = Numbers(7);
    let (bytes, _) = q4_k(2, SUPER_BLOCK, &mut numbers);
    assert_eq!(
        Q4Matrix::from_ggml_q4_k(&bytes, 2, 128).unwrap_err(),
        LayoutError::NotWholeSuperBlocks { columns: 128 }
    );
    assert_eq!(
        Q4Matrix::from_ggml_q4_k(&bytes[1..], 2, SUPER_BLOCK).unwrap_err(),
        LayoutError::WrongLength { expected: bytes.len(), found: bytes.len() - 1 }
    );
}
