//! Quantized matrix kernels for the local engine.
//!
//! Nearly all of a transformer's time goes to multiplying weight matrices by
//! the activations of the tokens in flight: a whole prompt at prefill, one
//! token per sequence at decode, several sequences at once when they decode
//! together. This crate does that multiplication for Q8_0 weights (GGUF's
//! blocks of 32 signed bytes with one scale each, which the engine also
//! re-quantizes the slower types to), faster in WebAssembly than candle's
//! one-dot-product-at-a-time loop:
//!
//! - [`Q8Matrix`] keeps the block scales as f32, converted once at load,
//!   where candle converts two f16 scales in software for every block of
//!   every dot product (WebAssembly has no f16 instructions).
//! - [`Activations`] quantizes each token's activations to Q8 once, widened to
//!   i16, so that the SIMD dot product (`i32x4.dot_i16x8_s`) reads them with
//!   no conversion, and one quantization serves every weight matrix that
//!   reads the same input.
//! - [`Q8Matrix::matmul`] works in tiles: a weight block, once loaded and
//!   widened, is multiplied by several tokens, and the weight rows of a chunk
//!   stay in the first-level cache while every token passes over them. That
//!   is what makes prefill and batched decoding cheaper per token than one
//!   token at a time.
//!
//! [`KvCache`] holds a layer's keys and values and computes causal attention
//! in an order that does not depend on how the tokens were batched.
//!
//! [`Q4Matrix`] does the same for Q4_K weights (the Hub's most common type),
//! unpacked at load into blocks of 32 four-bit weights with an f32 scale and
//! offset each: 24 bytes per 32 weights, two thirds of Q8_0's.
//!
//! The SIMD128 tiles run in WebAssembly; elsewhere portable tiles with the
//! same arithmetic (which the compiler vectorizes) run the native tests.

mod attention;
mod q4;
mod tile;

pub use attention::KvCache;
pub use q4::{Q4Matrix, SUPER_BLOCK};

use std::fmt;
use std::ops::Range;

/// Weights per Q8_0 block.
pub const BLOCK: usize = 32;

/// Bytes of one GGUF Q8_0 block: an f16 scale, then 32 signed bytes.
const GGML_Q8_0_BLOCK_BYTES: usize = 2 + BLOCK;

/// Weight rows per chunk: every token of the input passes over a chunk
/// before the next, so the chunk's rows (a few kilobytes each) stay in the
/// first-level cache.
const ROW_CHUNK: usize = 16;

/// Tokens multiplied at once by each weight block loaded.
const TOKEN_TILE: usize = 4;

/// Weight rows multiplied at once by each token block loaded.
const ROW_TILE: usize = 1;

/// The same when one token is left (decoding one sequence).
const ROW_TILE_ONE_TOKEN: usize = 4;

/// Why bytes or values cannot be laid out as a matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// Rows must be whole blocks of 32 weights.
    NotWholeBlocks { columns: usize },
    /// Rows of Q4_K must be whole super-blocks of 256 weights.
    NotWholeSuperBlocks { columns: usize },
    /// The data is not as long as the shape says.
    WrongLength { expected: usize, found: usize },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::NotWholeBlocks { columns } => {
                write!(f, "rows of {columns} weights are not whole blocks of {BLOCK}")
            }
            LayoutError::NotWholeSuperBlocks { columns } => {
                write!(f, "rows of {columns} weights are not whole super-blocks of {SUPER_BLOCK}")
            }
            LayoutError::WrongLength { expected, found } => {
                write!(f, "expected {expected} bytes or values, found {found}")
            }
        }
    }
}

impl std::error::Error for LayoutError {}

/// A weight matrix in one of the kernels' formats.
#[derive(Debug, Clone)]
pub enum Matrix {
    Q8(Q8Matrix),
    Q4(Q4Matrix),
}

impl Matrix {
    pub fn rows(&self) -> usize {
        match self {
            Matrix::Q8(matrix) => matrix.rows(),
            Matrix::Q4(matrix) => matrix.rows(),
        }
    }

    pub fn columns(&self) -> usize {
        match self {
            Matrix::Q8(matrix) => matrix.columns(),
            Matrix::Q4(matrix) => matrix.columns(),
        }
    }

    /// The memory the weights take.
    pub fn size_in_bytes(&self) -> usize {
        match self {
            Matrix::Q8(matrix) => matrix.size_in_bytes(),
            Matrix::Q4(matrix) => matrix.size_in_bytes(),
        }
    }

    /// Row `row` as f32 (see [`Q8Matrix::dequantize_row`]).
    pub fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        match self {
            Matrix::Q8(matrix) => matrix.dequantize_row(row, out),
            Matrix::Q4(matrix) => matrix.dequantize_row(row, out),
        }
    }

    /// `x · Wᵀ` into `out[t × rows + r]` (see [`Q8Matrix::matmul`]).
    pub fn matmul(&self, x: &Activations, out: &mut [f32]) {
        match self {
            Matrix::Q8(matrix) => matrix.matmul(x, out),
            Matrix::Q4(matrix) => matrix.matmul(x, out),
        }
    }
}

/// A weight matrix in Q8_0: each row is blocks of 32 signed bytes, and
/// weight `j` of block `b` of row `r` is `scales[r][b] * quants[r][32 b + j]`.
#[derive(Debug, Clone)]
pub struct Q8Matrix {
    rows: usize,
    columns: usize,
    /// `rows × columns / 32` block scales, row by row.
    scales: Vec<f32>,
    /// `rows × columns` quantized weights, row by row.
    quants: Vec<i8>,
}

impl Q8Matrix {
    /// Reads a GGUF (ggml) Q8_0 tensor of `rows × columns` weights.
    pub fn from_ggml_q8_0(bytes: &[u8], rows: usize, columns: usize) -> Result<Q8Matrix, LayoutError> {
        check_columns(columns)?;
        let blocks = rows * columns / BLOCK;
        let expected = blocks * GGML_Q8_0_BLOCK_BYTES;
        if bytes.len() != expected {
            return Err(LayoutError::WrongLength { expected, found: bytes.len() });
        }
        let mut scales = Vec::with_capacity(blocks);
        let mut quants = Vec::with_capacity(rows * columns);
        for block in bytes.chunks_exact(GGML_Q8_0_BLOCK_BYTES) {
            scales.push(half::f16::from_le_bytes([block[0], block[1]]).to_f32());
            quants.extend(block[2..].iter().map(|&byte| byte as i8));
        }
        Ok(Q8Matrix { rows, columns, scales, quants })
    }

    /// Quantizes `rows × columns` values, row by row, as GGUF's Q8_0 does:
    /// each block scaled so that its largest magnitude becomes 127.
    pub fn quantize(values: &[f32], rows: usize, columns: usize) -> Result<Q8Matrix, LayoutError> {
        if values.len() != rows * columns {
            return Err(LayoutError::WrongLength { expected: rows * columns, found: values.len() });
        }
        let mut matrix = Q8Matrix::with_columns(columns)?;
        matrix.push_rows(values)?;
        Ok(matrix)
    }

    /// A matrix with no rows yet, to fill with [`Q8Matrix::push_rows`] a
    /// slice at a time (a converted model file is never all f32 at once).
    pub fn with_columns(columns: usize) -> Result<Q8Matrix, LayoutError> {
        check_columns(columns)?;
        Ok(Q8Matrix { rows: 0, columns, scales: Vec::new(), quants: Vec::new() })
    }

    /// Quantizes whole rows of values onto the end of the matrix.
    pub fn push_rows(&mut self, values: &[f32]) -> Result<(), LayoutError> {
        if values.len() % self.columns != 0 {
            let expected = values.len().next_multiple_of(self.columns);
            return Err(LayoutError::WrongLength { expected, found: values.len() });
        }
        self.scales.reserve(values.len() / BLOCK);
        self.quants.reserve(values.len());
        for block in values.chunks_exact(BLOCK) {
            self.scales.push(quantize_block(block, |q| self.quants.push(q as i8)));
        }
        self.rows += values.len() / self.columns;
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The memory the weights take.
    pub fn size_in_bytes(&self) -> usize {
        self.quants.len() + self.scales.len() * std::mem::size_of::<f32>()
    }

    /// Row `row` as f32 (an embedding table's lookup). Panics when `row` is
    /// out of range or `out` is not one row long.
    pub fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        assert!(row < self.rows, "row {row} of a matrix of {} rows", self.rows);
        assert_eq!(out.len(), self.columns, "one row is {} values", self.columns);
        let blocks = self.columns / BLOCK;
        dequantize_blocks(&self.quants[row * self.columns..][..self.columns], &self.scales[row * blocks..][..blocks], out);
    }

    /// `out[t × rows + r]` = row `r` of the weights · token `t`'s
    /// activations: every token's output row by row, as `x · Wᵀ`. Panics
    /// when the shapes disagree.
    pub fn matmul(&self, x: &Activations, out: &mut [f32]) {
        matmul_in_tiles(self, x, out);
    }
}

impl Tiles for Q8Matrix {
    fn shape(&self) -> (usize, usize) {
        (self.rows, self.columns)
    }

    #[inline(always)]
    fn tile<const R: usize, const T: usize>(&self, x: &Activations, r: usize, t: usize, out: &mut [f32]) {
        let blocks = self.columns / BLOCK;
        let rows = tile::array(|i| tile::Row {
            quants: &self.quants[(r + i) * self.columns..][..self.columns],
            scales: &self.scales[(r + i) * blocks..][..blocks],
        });
        let sums = tile::dot::<R, T>(&rows, &x.tokens_at::<T>(t));
        write_tile(&sums, self.rows, r, t, out);
    }
}

/// A weight matrix the kernels multiply in tiles: `R` rows by `T` tokens at
/// a time.
trait Tiles {
    /// `(rows, columns)`.
    fn shape(&self) -> (usize, usize);

    /// Rows `r..r + R` times tokens `t..t + T`, into `out`.
    fn tile<const R: usize, const T: usize>(&self, x: &Activations, r: usize, t: usize, out: &mut [f32]);
}

/// `out[t × rows + r]` = row `r` · token `t`, chunk of rows by chunk: every
/// token passes over a chunk's rows, [`TOKEN_TILE`] at a time, before the
/// next chunk. Panics when the shapes disagree.
fn matmul_in_tiles<M: Tiles>(matrix: &M, x: &Activations, out: &mut [f32]) {
    let (rows, columns) = matrix.shape();
    assert_eq!(x.columns, columns, "the activations' width is the weights' columns");
    assert_eq!(out.len(), x.tokens * rows, "one output per token and weight row");
    for chunk_start in (0..rows).step_by(ROW_CHUNK) {
        let chunk = chunk_start..(chunk_start + ROW_CHUNK).min(rows);
        let mut t = 0;
        while t + TOKEN_TILE <= x.tokens {
            tiles::<M, ROW_TILE, TOKEN_TILE>(matrix, x, chunk.clone(), t, out);
            t += TOKEN_TILE;
        }
        while t < x.tokens {
            tiles::<M, ROW_TILE_ONE_TOKEN, 1>(matrix, x, chunk.clone(), t, out);
            t += 1;
        }
    }
}

/// Multiplies `rows` by tokens `t..t + T`, `R` rows at a time.
fn tiles<M: Tiles, const R: usize, const T: usize>(matrix: &M, x: &Activations, rows: Range<usize>, t: usize, out: &mut [f32]) {
    let mut r = rows.start;
    while r < rows.end {
        if r + R <= rows.end {
            matrix.tile::<R, T>(x, r, t, out);
            r += R;
        } else {
            matrix.tile::<1, T>(x, r, t, out);
            r += 1;
        }
    }
}

/// Writes a tile's `[row][token]` sums to `out[(t + j) × rows + r + i]`.
#[inline(always)]
fn write_tile<const R: usize, const T: usize>(sums: &[[f32; T]; R], rows: usize, r: usize, t: usize, out: &mut [f32]) {
    for (i, row) in sums.iter().enumerate() {
        for (j, &sum) in row.iter().enumerate() {
            out[(t + j) * rows + r + i] = sum;
        }
    }
}

/// Tokens' activations quantized to Q8 per block of 32, widened to i16.
#[derive(Debug, Clone)]
pub struct Activations {
    tokens: usize,
    columns: usize,
    scales: Vec<f32>,
    quants: Vec<i16>,
    /// Per block, its scale times the sum of its integers: what a block of
    /// weights with an offset (Q4_K's `- min`) multiplies the offset by.
    sums: Vec<f32>,
}

impl Activations {
    /// Quantizes `tokens × columns` values, token by token. Panics when
    /// `columns` is not whole blocks or `values` not whole rows: the engine
    /// checked both when it loaded the weights.
    pub fn quantize(values: &[f32], columns: usize) -> Activations {
        assert!(columns > 0 && columns % BLOCK == 0, "rows of {columns} are not whole blocks of {BLOCK}");
        assert_eq!(values.len() % columns, 0, "{} values are not whole rows of {columns}", values.len());
        let blocks = values.len() / BLOCK;
        let mut scales = Vec::with_capacity(blocks);
        let mut sums = Vec::with_capacity(blocks);
        let mut quants = vec![0; values.len()];
        for (block, out) in values.chunks_exact(BLOCK).zip(quants.chunks_exact_mut(BLOCK)) {
            let (scale, sum) = tile::quantize_block(block, out);
            scales.push(scale);
            sums.push(scale * sum as f32);
        }
        Activations { tokens: values.len() / columns, columns, scales, quants, sums }
    }

    /// Token `token`'s activations as the kernels see them: each block's
    /// scale times its integers. Panics when `token` is out of range or
    /// `out` is not one token long.
    pub fn dequantize_token(&self, token: usize, out: &mut [f32]) {
        assert!(token < self.tokens, "token {token} of {}", self.tokens);
        assert_eq!(out.len(), self.columns, "one token is {} values", self.columns);
        let blocks = self.columns / BLOCK;
        dequantize_blocks(&self.quants[token * self.columns..][..self.columns], &self.scales[token * blocks..][..blocks], out);
    }

    pub fn tokens(&self) -> usize {
        self.tokens
    }

    /// Tokens `t..t + T`, as the tiles read them.
    #[inline(always)]
    fn tokens_at<const T: usize>(&self, t: usize) -> [tile::Token<'_>; T] {
        let blocks = self.columns / BLOCK;
        tile::array(|j| tile::Token {
            quants: &self.quants[(t + j) * self.columns..][..self.columns],
            scales: &self.scales[(t + j) * blocks..][..blocks],
            sums: &self.sums[(t + j) * blocks..][..blocks],
        })
    }
}

/// `out` = each block's scale times its integers, block by block.
fn dequantize_blocks<Q: Copy + Into<f32>>(quants: &[Q], scales: &[f32], out: &mut [f32]) {
    for ((out, quants), &scale) in out.chunks_exact_mut(BLOCK).zip(quants.chunks_exact(BLOCK)).zip(scales) {
        for (out, &q) in out.iter_mut().zip(quants) {
            *out = scale * q.into();
        }
    }
}

fn check_columns(columns: usize) -> Result<(), LayoutError> {
    if columns == 0 || columns % BLOCK != 0 {
        return Err(LayoutError::NotWholeBlocks { columns });
    }
    Ok(())
}

/// Quantizes one block to integers in −127..=127, handing each to `push`,
/// and returns the block's scale.
///
/// Exactly as ggml (llama.cpp) and candle quantize Q8_0, scale rounded to
/// f16 included, though this crate keeps it as f32: the engine's results
/// then match theirs to float rounding, and a re-quantized matrix is the
/// one a Q8_0 file would hold.
fn quantize_block(block: &[f32], mut push: impl FnMut(i16)) -> f32 {
    // `f32::max` would be a call in wasm (its NaN rule is not wasm's);
    // a comparison skips NaN just the same.
    let largest = block.iter().fold(0.0f32, |max, v| if v.abs() > max { v.abs() } else { max });
    let (inverse, scale) = block_scale(largest);
    for &value in block {
        push(round_half_away(value * inverse) as i16);
    }
    scale
}

/// For a block whose largest magnitude is `largest`: what its values are
/// multiplied by before rounding, and the scale kept (rounded through f16).
#[inline(always)]
fn block_scale(largest: f32) -> (f32, f32) {
    let scale = largest / 127.0;
    let inverse = if scale > 0.0 { 1.0 / scale } else { 0.0 };
    (inverse, half::f16::from_f32(scale).to_f32())
}

/// `x.round()` (halves away from zero, as C's `roundf` that ggml uses),
/// from instructions wasm has: `f32::round` is a call to `roundf` there,
/// and was a tenth of a batched decoding step. `x - trunc(x)` is exact.
#[inline(always)]
fn round_half_away(x: f32) -> f32 {
    let whole = x.trunc();
    if (x - whole).abs() >= 0.5 { whole + 1.0f32.copysign(x) } else { whole }
}


#[cfg(test)]
mod tests {
    use super::round_half_away;

    #[test]
    fn rounding_halves_away_from_zero_is_rounds_exactly() {
        let check = |x: f32| {
            assert_eq!(round_half_away(x).to_bits(), x.round().to_bits(), "{x:e}");
            assert_eq!(round_half_away(-x).to_bits(), (-x).round().to_bits(), "{:e}", -x);
        };
        // Every float from 1/4 to 4, where the fractions that matter are.
        let mut x = 0.25f32;
        while x < 4.0 {
            check(x);
            x = f32::from_bits(x.to_bits() + 1);
        }
        // Around every half and whole number a quantized value can reach.
        for k in 0..=128 {
            for centre in [k as f32, k as f32 + 0.5] {
                let bits = centre.to_bits();
                for bits in bits.saturating_sub(64)..bits + 64 {
                    check(f32::from_bits(bits));
                }
            }
        }
        for x in [0.0, f32::MIN_POSITIVE, 1e-30, 0.1, 126.5, 127.0, 1e9, f32::MAX, f32::INFINITY] {
            check(x);
        }
    }
}
