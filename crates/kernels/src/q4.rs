//! Q4_K weights: GGUF's most common type on the Hub (`Q4_K_M` and `Q4_K_S`
//! files), multiplied without converting them to another quantization.
//!
//! A GGUF Q4_K super-block holds 256 weights in 144 bytes: an f16 scale `d`
//! and an f16 `dmin`, eight 6-bit sub-scales and eight 6-bit sub-mins packed
//! into 12 bytes, and 128 bytes of 4-bit weights. Weight `j` of sub-block
//! `s` (32 weights) is `d·sc[s] · q_j − dmin·m[s]`, `q_j` in `0..16`.
//!
//! [`Q4Matrix`] unpacks each super-block once, at load, into what the tile
//! reads with no decoding: per block of 32, the products `d·sc` and
//! `dmin·m` as f32 (computed in f32 as ggml computes them) and 16 bytes of
//! nibbles laid out so that one SIMD `and` and one shift give weights 0–15
//! and 16–31. That is 24 bytes per 32 weights (Q4_K: 18, the engine's
//! Q8_0: 36), and the same weights exactly: nothing is re-quantized.

use std::ops::Range;

use crate::{check_columns, matmul_in_tiles, tile, write_tile, Activations, LayoutError, Tiles, BLOCK};

/// Weights per Q4_K super-block.
pub const SUPER_BLOCK: usize = 256;

/// Bytes of one GGUF Q4_K super-block: `d`, `dmin`, 12 bytes of sub-scales
/// and sub-mins, 128 bytes of nibbles.
const GGML_Q4_K_BLOCK_BYTES: usize = 2 + 2 + 12 + SUPER_BLOCK / 2;

/// A weight matrix of 4-bit weights: weight `j` of block `b` of row `r` is
/// `scales[r][b] × q_j − mins[r][b]`.
#[derive(Debug, Clone)]
pub struct Q4Matrix {
    rows: usize,
    columns: usize,
    /// `rows × columns / 32` block scales, row by row.
    scales: Vec<f32>,
    /// The blocks' offsets, likewise.
    mins: Vec<f32>,
    /// 16 bytes per block: byte `k` holds weight `k` (low nibble) and
    /// weight `k + 16` (high nibble).
    quants: Vec<u8>,
}

impl Q4Matrix {
    /// Reads a GGUF (ggml) Q4_K tensor of `rows × columns` weights.
    pub fn from_ggml_q4_k(bytes: &[u8], rows: usize, columns: usize) -> Result<Q4Matrix, LayoutError> {
        check_columns(columns)?;
        if columns % SUPER_BLOCK != 0 {
            return Err(LayoutError::NotWholeSuperBlocks { columns });
        }
        let super_blocks = rows * columns / SUPER_BLOCK;
        let expected = super_blocks * GGML_Q4_K_BLOCK_BYTES;
        if bytes.len() != expected {
            return Err(LayoutError::WrongLength { expected, found: bytes.len() });
        }
        let blocks = rows * columns / BLOCK;
        let mut matrix = Q4Matrix {
            rows,
            columns,
            scales: Vec::with_capacity(blocks),
            mins: Vec::with_capacity(blocks),
            quants: Vec::with_capacity(blocks * BLOCK / 2),
        };
        for block in bytes.chunks_exact(GGML_Q4_K_BLOCK_BYTES) {
            let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
            let dmin = half::f16::from_le_bytes([block[2], block[3]]).to_f32();
            let packed: &[u8; 12] = block[4..16].try_into().expect("12 bytes");
            let nibbles = &block[16..];
            // Each 32 bytes of nibbles hold two sub-blocks: the low nibbles
            // are sub-block 2g, the high ones 2g + 1 (ggml's layout).
            for (group, bytes) in nibbles.chunks_exact(BLOCK).enumerate() {
                for (part, shift) in [(0, 0), (1, 4)] {
                    let (sc, m) = scale_and_min(2 * group + part, packed);
                    matrix.scales.push(d * f32::from(sc));
                    matrix.mins.push(dmin * f32::from(m));
                    let q = |k: usize| (bytes[k] >> shift) & 0x0F;
                    matrix.quants.extend((0..BLOCK / 2).map(|k| q(k) | (q(k + BLOCK / 2) << 4)));
                }
            }
        }
        Ok(matrix)
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn columns(&self) -> usize {
        self.columns
    }

    /// The memory the weights take.
    pub fn size_in_bytes(&self) -> usize {
        self.quants.len() + (self.scales.len() + self.mins.len()) * std::mem::size_of::<f32>()
    }

    /// Row `row` as f32 (an embedding table's lookup). Panics when `row` is
    /// out of range or `out` is not one row long.
    pub fn dequantize_row(&self, row: usize, out: &mut [f32]) {
        assert!(row < self.rows, "row {row} of a matrix of {} rows", self.rows);
        assert_eq!(out.len(), self.columns, "one row is {} values", self.columns);
        let blocks = self.row_blocks(row);
        for ((out, b), bytes) in out.chunks_exact_mut(BLOCK).zip(blocks.clone()).zip(self.quants[blocks.start * 16..].chunks_exact(16)) {
            for (k, out) in out.iter_mut().enumerate() {
                let q = if k < 16 { bytes[k] & 0x0F } else { bytes[k - 16] >> 4 };
                *out = self.scales[b] * f32::from(q) - self.mins[b];
            }
        }
    }

    /// `out[t × rows + r]` = row `r` of the weights · token `t`'s
    /// activations, as [`crate::Q8Matrix::matmul`]. Panics when the shapes
    /// disagree.
    pub fn matmul(&self, x: &Activations, out: &mut [f32]) {
        matmul_in_tiles(self, x, out);
    }

    /// The blocks of row `row`.
    fn row_blocks(&self, row: usize) -> Range<usize> {
        let per_row = self.columns / BLOCK;
        row * per_row..(row + 1) * per_row
    }
}

impl Tiles for Q4Matrix {
    fn shape(&self) -> (usize, usize) {
        (self.rows, self.columns)
    }

    #[inline(always)]
    fn tile<const R: usize, const T: usize>(&self, x: &Activations, r: usize, t: usize, out: &mut [f32]) {
        let rows = tile::array(|i| {
            let blocks = self.row_blocks(r + i);
            tile::Q4Row {
                quants: &self.quants[blocks.start * BLOCK / 2..blocks.end * BLOCK / 2],
                scales: &self.scales[blocks.clone()],
                mins: &self.mins[blocks],
            }
        });
        let sums = tile::dot_q4::<R, T>(&rows, &x.tokens_at::<T>(t));
        write_tile(&sums, self.rows, r, t, out);
    }
}

/// Sub-block `j`'s 6-bit scale and min from Q4_K's 12 packed bytes (ggml's
/// `get_scale_min_k4`): the first four pairs are the low 6 bits of bytes
/// 0–3 and 4–7; the last four put 4 bits in bytes 8–11 and their top 2 bits
/// in the spare high bits of bytes 0–7.
fn scale_and_min(j: usize, packed: &[u8; 12]) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        ((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
    }
}
