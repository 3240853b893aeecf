//! The kernel against exact arithmetic, natively (the portable tile) and in
//! headless Chromium (the SIMD128 tile, `cargo xtask test`'s browser stage).
//!
//! The activations are chosen so that quantizing them loses nothing (each
//! block is integers times a power of two, its largest magnitude 127 times
//! that power), so the expected outputs are exact sums of integer products,
//! scaled: any difference beyond float rounding is a kernel error.

mod common;

use common::{activations, assert_within, Numbers};
use prefab_kernels::{Activations, LayoutError, Q8Matrix, BLOCK};

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

/// A GGUF Q8_0 matrix: its bytes, and each block's scale and integers.
struct Weights {
    bytes: Vec<u8>,
    scales: Vec<f32>,
    quants: Vec<i8>,
}

fn weights(rows: usize, columns: usize, numbers: &mut Numbers) -> Weights {
    let mut weights = Weights { bytes: Vec::new(), scales: Vec::new(), quants: Vec::new() };
    for _ in 0..rows * columns / BLOCK {
        let scale = half::f16::from_f32(numbers.int(1000) as f32 / 4096.0);
        weights.scales.push(scale.to_f32());
        weights.bytes.extend(scale.to_le_bytes());
        for _ in 0..BLOCK {
            let q = numbers.int(128).clamp(-128, 127) as i8;
            weights.quants.push(q);
            weights.bytes.push(q as u8);
        }
    }
    weights
}

/// Checks the kernel on `tokens × columns` activations and `rows` weights.
fn check(tokens: usize, rows: usize, columns: usize, seed: u64) {
    let mut numbers = Numbers(seed | 1);
    let w = weights(rows, columns, &mut numbers);
    let (values, ints, x_scales) = activations(tokens, columns, &mut numbers);
    let matrix = Q8Matrix::from_ggml_q8_0(&w.bytes, rows, columns).unwrap();
    let x = Activations::quantize(&values, columns);
    assert_eq!(x.tokens(), tokens);
    let mut out = vec![f32::NAN; tokens * rows];
    matrix.matmul(&x, &mut out);
    let blocks = columns / BLOCK;
    for t in 0..tokens {
        for r in 0..rows {
            let mut expected = 0.0f64;
            let mut magnitude = 0.0f64;
            for b in 0..blocks {
                let products: Vec<i64> = (0..BLOCK)
                    .map(|j| i64::from(w.quants[r * columns + b * BLOCK + j]) * ints[t * columns + b * BLOCK + j])
                    .collect();
                let scale = f64::from(w.scales[r * blocks + b]) * f64::from(x_scales[t * blocks + b]);
                expected += products.iter().sum::<i64>() as f64 * scale;
                // Bounds every partial sum, in whatever order a tile adds them.
                magnitude += products.iter().map(|p| p.abs()).sum::<i64>() as f64 * scale.abs();
            }
            assert_within(out[t * rows + r], expected, magnitude, 1e-6, format!("{tokens} tokens × {rows} rows × {columns}: token {t}, row {r}"));
        }
    }
}

#[test]
fn every_tile_shape_matches_exact_arithmetic() {
    // 1 to 9 tokens covers tiles of 4, 3, 2 and 1; 37 rows is two whole
    // chunks and a part; 96 columns is three blocks.
    for tokens in 1..=9 {
        check(tokens, 37, 96, tokens as u64 * 7919);
    }
}

#[test]
fn a_model_sized_matrix_matches_exact_arithmetic() {
    // SmolLM2-135M's feed-forward: 1536 × 576, a 13-token prompt.
    check(13, 1536, 576, 42);
}

#[test]
fn a_row_dequantizes_to_scale_times_integer() {
    let mut numbers = Numbers(5);
    let w = weights(3, 64, &mut numbers);
    let matrix = Q8Matrix::from_ggml_q8_0(&w.bytes, 3, 64).unwrap();
    let mut row = vec![0.0; 64];
    matrix.dequantize_row(2, &mut row);
    for (j, value) in row.iter().enumerate() {
        assert_eq!(*value, w.scales[4 + j / BLOCK] * f32::from(w.quants[128 + j]));
    }
    assert_eq!(matrix.size_in_bytes(), 3 * 64 + 6 * 4);
}

#[test]
fn quantizing_maps_each_blocks_largest_magnitude_to_127() {
    let mut values: Vec<f32> = (0..64).map(|i| i as f32 / 10.0 - 3.0).collect();
    values[40] = -12.7;
    let matrix = Q8Matrix::quantize(&values, 1, 64).unwrap();
    let mut row = vec![0.0; 64];
    matrix.dequantize_row(0, &mut row);
    // Kept but for the scale's rounding to f16 (11 significant bits).
    assert!((row[40] + 12.7).abs() <= 12.7 / 2048.0, "the largest is kept: {}", row[40]);
    assert!((row[31] - 0.1).abs() <= 3.1 / 127.0 / 2.0 + 1e-6, "within half a step: {}", row[31]);
    let zeros = Q8Matrix::quantize(&[0.0; 32], 1, 32).unwrap();
    zeros.dequantize_row(0, &mut row[..32]);
    assert!(row[..32].iter().all(|&v| v == 0.0), "an all-zero block stays zero, not NaN");
}

#[test]
fn activations_quantize_exactly_as_weights_do() {
    // Values of every size, halves that round away from zero once scaled
    // (each block's largest is 127, so a value scales to itself), zeros,
    // negative zeros, a NaN, and an all-zero block.
    let mut numbers = Numbers(11);
    let columns = 4 * BLOCK;
    let mut values: Vec<f32> = (0..3 * columns).map(|_| numbers.int(1 << 20) as f32 / 4096.0).collect();
    for (i, value) in values[..BLOCK].iter_mut().enumerate() {
        *value = if i == 0 { 127.0 } else { (i as f32 - 16.0) + 0.5 };
    }
    values[BLOCK + 3] = -0.0;
    values[2 * BLOCK + 5] = f32::NAN;
    values[3 * BLOCK..4 * BLOCK].fill(0.0);
    let x = Activations::quantize(&values, columns);
    let weights = Q8Matrix::quantize(&values, 3, columns).unwrap();
    let (mut token, mut row) = (vec![0.0; columns], vec![0.0; columns]);
    for t in 0..3 {
        x.dequantize_token(t, &mut token);
        weights.dequantize_row(t, &mut row);
        let bits = |values: &[f32]| values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&token), bits(&row), "token {t}");
    }
    x.dequantize_token(0, &mut token);
    let halves: Vec<f32> = token[1..BLOCK].to_vec();
    let expected: Vec<f32> = (1..BLOCK).map(|i| (i as f32 - 16.0 + 0.5).round()).collect();
    assert_eq!(halves, expected, "halves round away from zero");
}

#[test]
fn bad_shapes_are_refused() {
    assert_eq!(Q8Matrix::from_ggml_q8_0(&[0; 34], 1, 48).unwrap_err(), LayoutError::NotWholeBlocks { columns: 48 });
    assert_eq!(
        Q8Matrix::from_ggml_q8_0(&[0; 34], 2, 32).unwrap_err(),
        LayoutError::WrongLength { expected: 68, found: 34 }
    );
    assert_eq!(Q8Matrix::quantize(&[0.0; 31], 1, 32).unwrap_err(), LayoutError::WrongLength { expected: 32, found: 31 });
    assert_eq!(
        LayoutError::NotWholeBlocks { columns: 48 }.to_string(),
        "rows of 48 weights are not whole blocks of 32"
    );
}
