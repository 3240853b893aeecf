//! Reading GGUF files: the header, typed metadata, and weight tensors,
//! re-quantized where that makes them faster.
//!
//! GGUF is llama.cpp's single-file model format: a header of typed key/value
//! metadata (architecture, sizes, the tokenizer's vocabulary, the chat
//! template) followed by tensor descriptions and the aligned tensor data.
//! candle parses the header; this module turns every way that can fail into
//! an [`Error`] — bytes that are not GGUF, a file cut short by an interrupted
//! download, a key of the wrong type — and checks that every tensor lies
//! inside the file before any is read.
//!
//! The file is a [`FileBytes`]: the header is read through a window, and
//! each tensor's bytes only when that tensor is built, then dropped. So a
//! load holds the weights it has built and one tensor of the file, never
//! the whole file besides (in the browser the file stays in the cache or
//! the picked file, on disk).
//!
//! # Re-quantization
//!
//! candle's WebAssembly build has SIMD128 dot-product kernels for Q4_0, Q8_0,
//! Q2_K, Q4_K and Q6_K weights only; every other quantized type (Q4_1,
//! Q5_0, Q5_1, Q3_K, Q5_K) falls back to scalar code. Converting those
//! tensors to Q8_0 once, at load, made decoding 2.6–3.5× faster in the
//! browser. Q8_0 keeps 8 bits per weight plus one f16 scale per 32, and Q4_1
//! already rounded every weight to one of 16 levels per block, so little is
//! lost on the way: on the test prompts the next-token distribution moves by
//! a total variation of 0.01–0.09, the same size as the change the Q4_1
//! kernel's own rounding of activations to 8 bits makes, and the top token
//! stays the same wherever it clearly leads. Q4_0 would be smaller still,
//! but rounding twice to 4 bits leaves too little: the test model starts
//! repeating itself.
//!
//! Every Q8_0 matrix, the file's own or re-quantized, is then multiplied by
//! Prefab's kernel (`prefab_kernels::Q8Matrix`), which keeps each block's
//! scale as f32: 36 bytes per 32 weights.
//!
//! Q4_K, the Hub's most common type (`Q4_K_M`, `Q4_K_S` files), has a kernel
//! of Prefab's too (`prefab_kernels::Q4Matrix`): its weights are kept
//! exactly, unpacked into 24 bytes per 32 (the file's 18), and multiplied
//! several tokens per pass like Q8_0's. Q6_K, which those files use for a
//! few tensors (the output projection, some feed-forward), is re-quantized
//! to Q8_0 (1.4× its size): candle's SIMD128 kernel for it reads one token
//! per pass over the weights, so a prompt or a batch cost as many passes as
//! tokens. Q4_0 and Q2_K stay with candle's kernels.
//!
//! The cost is memory. Q4_1 stores 32 weights in 20 bytes and the engine's
//! Q8_0 in 36, so a re-quantized tensor takes 1.8× its size in the file
//! (Q5_0 and Q5_K: 1.64×, Q3_K: 2.6×). For SmolLM2-135M Q4_1 the 210 Q4_1
//! matrices grow from 66 MB to 119 MB, and the loaded weights to about
//! 151 MB. Conversion runs a few rows at a time, so it never holds more than
//! 64 Ki weights in f32 at once besides the Q8_0 result.
//!
//! Tensors that are not re-quantized: the norms and biases (f32 vectors,
//! used as they are), types that already have a fast kernel (f16 and bf16
//! matrices are not quantized at all: candle widens them to f32, doubling
//! their size), and the token
//! embedding table when it has such a type (Q8_0 in the test model). The
//! embedding is looked up row by row in its quantized form rather than
//! dequantized as a whole, which would take 113 MB of f32 for SmolLM2's
//! 49,152 × 576 table.

use std::borrow::Cow;
use std::collections::BTreeMap;

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::{ggml_file, GgmlDType, QTensor};
use candle_core::Device;
use prefab_kernels::{Q4Matrix, Q8Matrix};

use crate::error::{Error, ErrorKind};
use crate::file_bytes::{FileBytes, FileReader};

/// A GGUF file's parsed header, reading the file's tensors when asked.
pub(crate) struct Gguf<'a> {
    file: &'a dyn FileBytes,
    content: Content,
}

/// A weight matrix as the engine multiplies it.
#[derive(Debug)]
pub(crate) enum Matrix {
    /// Q8_0 or Q4_K, multiplied by Prefab's kernels (`prefab_kernels`).
    Kernel(prefab_kernels::Matrix),
    /// Any other type, multiplied by candle.
    Other(QTensor),
}

/// The tensor types that stay as they are: with a kernel of Prefab's (Q8_0,
/// Q4_K), a SIMD128 kernel in candle that is worth keeping the file's
/// smaller size for (Q4_0, Q2_K, Q8_K), or no quantization at all.
fn is_fast_in_wasm(dtype: GgmlDType) -> bool {
    matches!(
        dtype,
        GgmlDType::F32
            | GgmlDType::F16
            | GgmlDType::BF16
            | GgmlDType::Q4_0
            | GgmlDType::Q8_0
            | GgmlDType::Q2K
            | GgmlDType::Q4K
            | GgmlDType::Q8K
    )
}

/// The bytes a tensor of `elements` weights of type `dtype` takes, or `None`
/// when the count is not a whole number of blocks or overflows.
fn tensor_bytes(dtype: GgmlDType, elements: u64) -> Option<u64> {
    let block = dtype.block_size() as u64;
    if !elements.is_multiple_of(block) {
        return None;
    }
    (elements / block).checked_mul(dtype.type_size() as u64)
}

/// Whether candle's error comes from reading past the end of the bytes:
/// either an I/O end-of-file or one of its checks that a declared length
/// exceeds what remains of the file.
fn is_end_of_file(error: &candle_core::Error) -> bool {
    match error {
        candle_core::Error::Io(io) => io.kind() == std::io::ErrorKind::UnexpectedEof,
        candle_core::Error::WithBacktrace { inner, .. }
        | candle_core::Error::Context { inner, .. }
        | candle_core::Error::WithPath { inner, .. } => is_end_of_file(inner),
        candle_core::Error::Msg(message) => message.contains("remaining"),
        _ => false,
    }
}

/// The first line of candle's message, without the backtrace it may carry.
fn first_line(error: &impl std::fmt::Display) -> String {
    error.to_string().lines().next().unwrap_or_default().to_owned()
}

impl<'a> Gguf<'a> {
    /// Parses the header of a GGUF file and checks that each tensor it
    /// describes lies within the file.
    pub(crate) fn parse(file: &'a dyn FileBytes) -> Result<Gguf<'a>, Error> {
        let start = file.read(0, file.size().min(crate::model_check::START_BYTES as u64) as usize)?;
        crate::model_check::check_start(&start)?;
        let mut reader = FileReader::new(file);
        let content = Content::read(&mut reader).map_err(|error| {
            if let Some(failure) = reader.failure.take() {
                failure
            } else if is_end_of_file(&error) {
                Error::new(ErrorKind::Truncated { len: file.size(), needed: None })
            } else {
                Error::new(ErrorKind::Malformed(first_line(&error)))
            }
        })?;
        let gguf = Gguf { file, content };
        gguf.check_tensor_extents()?;
        Ok(gguf)
    }

    /// Checks every tensor is a whole number of blocks and ends inside the
    /// file, so that reading one later cannot fail halfway through loading.
    fn check_tensor_extents(&self) -> Result<(), Error> {
        let mut needed = 0u64;
        for (name, info) in &self.content.tensor_infos {
            let elements = info
                .shape
                .dims()
                .iter()
                .try_fold(1u64, |count, &dim| count.checked_mul(dim as u64));
            let size = elements.and_then(|elements| tensor_bytes(info.ggml_dtype, elements));
            let end = size.and_then(|size| {
                self.content.tensor_data_offset.checked_add(info.offset)?.checked_add(size)
            });
            let Some(end) = end else {
                return Err(Error::new(ErrorKind::InvalidTensor {
                    name: name.clone(),
                    message: format!(
                        "shape {:?} is not a whole number of {:?} blocks",
                        info.shape.dims(),
                        info.ggml_dtype
                    ),
                }));
            };
            needed = needed.max(end);
        }
        let len = self.file.size();
        if needed > len {
            return Err(Error::new(ErrorKind::Truncated { len, needed: Some(needed) }));
        }
        Ok(())
    }

    /// The raw metadata value under `key`.
    pub(crate) fn value(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    /// A required metadata value.
    fn required(&self, key: &str) -> Result<&Value, Error> {
        self.value(key).ok_or_else(|| Error::new(ErrorKind::MissingMetadata(key.to_owned())))
    }

    /// An optional unsigned integer, whatever integer type the file used.
    pub(crate) fn opt_usize(&self, key: &str) -> Result<Option<usize>, Error> {
        self.value(key).map(|value| as_usize(key, value)).transpose()
    }

    /// A required unsigned integer.
    pub(crate) fn usize(&self, key: &str) -> Result<usize, Error> {
        as_usize(key, self.required(key)?)
    }

    /// An optional float, whatever float type the file used.
    pub(crate) fn opt_f64(&self, key: &str) -> Result<Option<f64>, Error> {
        self.value(key)
            .map(|value| match value {
                Value::F32(v) => Ok(f64::from(*v)),
                Value::F64(v) => Ok(*v),
                _ => Err(invalid(key, "a floating-point number")),
            })
            .transpose()
    }

    /// An optional boolean.
    pub(crate) fn opt_bool(&self, key: &str) -> Result<Option<bool>, Error> {
        self.value(key)
            .map(|value| match value {
                Value::Bool(v) => Ok(*v),
                _ => Err(invalid(key, "a boolean")),
            })
            .transpose()
    }

    /// An optional string.
    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&str>, Error> {
        self.value(key)
            .map(|value| match value {
                Value::String(v) => Ok(v.as_str()),
                _ => Err(invalid(key, "a string")),
            })
            .transpose()
    }

    /// A required string.
    pub(crate) fn str(&self, key: &str) -> Result<&str, Error> {
        self.required(key)?;
        Ok(self.opt_str(key)?.unwrap_or_default())
    }

    /// A required array of strings.
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<&str>, Error> {
        match self.required(key)? {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.as_str()),
                    _ => Err(invalid(key, "an array of strings")),
                })
                .collect(),
            _ => Err(invalid(key, "an array of strings")),
        }
    }

    /// An optional array of unsigned integers.
    pub(crate) fn opt_usizes(&self, key: &str) -> Result<Option<Vec<usize>>, Error> {
        self.value(key)
            .map(|value| match value {
                Value::Array(items) => items.iter().map(|item| as_usize(key, item)).collect(),
                _ => Err(invalid(key, "an array of integers")),
            })
            .transpose()
    }

    /// Whether the file has a tensor of this name.
    pub(crate) fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    /// The shape of a tensor, rows first (candle's order, the reverse of
    /// GGUF's).
    pub(crate) fn shape(&self, name: &str) -> Result<&[usize], Error> {
        self.content
            .tensor_infos
            .get(name)
            .map(|info| info.shape.dims())
            .ok_or_else(|| Error::new(ErrorKind::MissingTensor(name.to_owned())))
    }

    /// The raw bytes and description of a tensor, already checked to lie
    /// within the file: read now, from wherever the file is.
    fn raw(&self, name: &str) -> Result<(Cow<'a, [u8]>, GgmlDType, &[usize]), Error> {
        let info = self
            .content
            .tensor_infos
            .get(name)
            .ok_or_else(|| Error::new(ErrorKind::MissingTensor(name.to_owned())))?;
        let elements = info.shape.elem_count() as u64;
        // Both conversions were checked by `check_tensor_extents`.
        let size = tensor_bytes(info.ggml_dtype, elements).unwrap_or_default() as usize;
        let start = self.content.tensor_data_offset + info.offset;
        let raw = self.file.read(start, size)?;
        Ok((raw, info.ggml_dtype, info.shape.dims()))
    }

    /// A tensor as stored in the file.
    pub(crate) fn tensor(&self, name: &str) -> Result<QTensor, Error> {
        let (raw, dtype, dims) = self.raw(name)?;
        candle_tensor(name, &raw, dtype, dims)
    }

    /// A weight matrix: as Prefab's kernels read it when it is Q8_0, Q4_K,
    /// or re-quantized to Q8_0 (when `requantize` is on and its type has no
    /// fast WebAssembly kernel), else as stored, for candle. Also says
    /// whether it was re-quantized.
    pub(crate) fn matrix(&self, name: &str, requantize: bool) -> Result<(Matrix, bool), Error> {
        let (raw, dtype, dims) = self.raw(name)?;
        let &[rows, columns] = dims else {
            return Err(Error::new(ErrorKind::InvalidTensor {
                name: name.to_owned(),
                message: format!("expected a matrix, found shape {dims:?}"),
            }));
        };
        if dtype == GgmlDType::Q8_0 {
            let matrix = Q8Matrix::from_ggml_q8_0(&raw, rows, columns)
                .map_err(|error| tensor_error(name, &error))?;
            return Ok((Matrix::Kernel(prefab_kernels::Matrix::Q8(matrix)), false));
        }
        if dtype == GgmlDType::Q4K {
            let matrix = Q4Matrix::from_ggml_q4_k(&raw, rows, columns)
                .map_err(|error| tensor_error(name, &error))?;
            return Ok((Matrix::Kernel(prefab_kernels::Matrix::Q4(matrix)), false));
        }
        if !requantize || is_fast_in_wasm(dtype) || columns % prefab_kernels::BLOCK != 0 {
            return Ok((Matrix::Other(candle_tensor(name, &raw, dtype, dims)?), false));
        }
        let matrix =
            to_q8_0(&raw, dtype, rows, columns).map_err(|error| tensor_error(name, &error))?;
        Ok((Matrix::Kernel(prefab_kernels::Matrix::Q8(matrix)), true))
    }

    /// How many tensors of each type the file holds.
    pub(crate) fn tensor_types(&self) -> BTreeMap<String, usize> {
        let mut types = BTreeMap::new();
        for info in self.content.tensor_infos.values() {
            *types.entry(format!("{:?}", info.ggml_dtype)).or_insert(0) += 1;
        }
        types
    }

    /// How many tensors the file holds.
    pub(crate) fn tensor_count(&self) -> usize {
        self.content.tensor_infos.len()
    }

    /// How many weights the file holds in all.
    pub(crate) fn parameters(&self) -> u64 {
        self.content.tensor_infos.values().map(|info| info.shape.elem_count() as u64).sum()
    }
}

/// A tensor of the file's type, for candle.
fn candle_tensor(name: &str, raw: &[u8], dtype: GgmlDType, dims: &[usize]) -> Result<QTensor, Error> {
    ggml_file::qtensor_from_ggml(dtype, raw, dims.to_vec(), &Device::Cpu).map_err(|error| tensor_error(name, &error))
}

/// Converts a quantized matrix to Q8_0, a slice of rows at a time so that
/// only those rows are ever held as f32.
fn to_q8_0(raw: &[u8], dtype: GgmlDType, rows: usize, columns: usize) -> Result<Q8Matrix, String> {
    const ELEMENTS_PER_SLICE: usize = 1 << 16;
    let row_bytes = columns / dtype.block_size() * dtype.type_size();
    let rows_per_slice = (ELEMENTS_PER_SLICE / columns).max(1);
    let mut matrix = Q8Matrix::with_columns(columns).map_err(|error| error.to_string())?;
    let mut first = 0;
    while first < rows {
        let count = rows_per_slice.min(rows - first);
        let slice = &raw[first * row_bytes..(first + count) * row_bytes];
        let weights = ggml_file::qtensor_from_ggml(dtype, slice, vec![count, columns], &Device::Cpu)
            .and_then(|tensor| tensor.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>())
            .map_err(|error| error.to_string())?;
        matrix.push_rows(&weights).map_err(|error| error.to_string())?;
        first += count;
    }
    Ok(matrix)
}

fn as_usize(key: &str, value: &Value) -> Result<usize, Error> {
    let number = match value {
        Value::U8(v) => Some(u64::from(*v)),
        Value::U16(v) => Some(u64::from(*v)),
        Value::U32(v) => Some(u64::from(*v)),
        Value::U64(v) => Some(*v),
        Value::I8(v) => u64::try_from(*v).ok(),
        Value::I16(v) => u64::try_from(*v).ok(),
        Value::I32(v) => u64::try_from(*v).ok(),
        Value::I64(v) => u64::try_from(*v).ok(),
        _ => None,
    };
    number
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| invalid(key, "a non-negative integer"))
}

fn invalid(key: &str, expected: &str) -> Error {
    Error::new(ErrorKind::InvalidMetadata { key: key.to_owned(), expected: expected.to_owned() })
}

fn tensor_error(name: &str, error: &impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidTensor { name: name.to_owned(), message: first_line(error) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    /// A minimal GGUF v3 file: the header, one string key, one f32 tensor of
    /// `len` elements (whose data is written only when `with_data`).
    fn tiny_gguf(len: u64, with_data: bool) -> Vec<u8> {
        let mut file = Vec::new();
        file.extend(b"GGUF");
        file.extend(3u32.to_le_bytes()); // version
        file.extend(1u64.to_le_bytes()); // tensors
        file.extend(1u64.to_le_bytes()); // metadata entries
        let key = b"general.architecture";
        file.extend((key.len() as u64).to_le_bytes());
        file.extend(key);
        file.extend(8u32.to_le_bytes()); // string
        file.extend(5u64.to_le_bytes());
        file.extend(b"llama");
        let name = b"w";
        file.extend((name.len() as u64).to_le_bytes());
        file.extend(name);
        file.extend(1u32.to_le_bytes()); // dimensions
        file.extend(len.to_le_bytes());
        file.extend(0u32.to_le_bytes()); // F32
        file.extend(0u64.to_le_bytes()); // offset
        while file.len() % 32 != 0 {
            file.push(0);
        }
        if with_data {
            for i in 0..len {
                file.extend((i as f32).to_le_bytes());
            }
        }
        file
    }

    #[test]
    fn a_complete_file_reads_its_metadata_and_tensors() {
        let file = tiny_gguf(4, true);
        let gguf = Gguf::parse(&file).unwrap();
        assert_eq!(gguf.str("general.architecture").unwrap(), "llama");
        assert_eq!(gguf.shape("w").unwrap(), [4]);
        let w = gguf.tensor("w").unwrap().dequantize(&Device::Cpu).unwrap();
        assert_eq!(w.to_vec1::<f32>().unwrap(), [0.0, 1.0, 2.0, 3.0]);
        assert_eq!(gguf.parameters(), 4);
    }

    #[test]
    fn missing_tensor_data_is_a_truncation_with_both_lengths() {
        let file = tiny_gguf(4, false);
        let error = Gguf::parse(&file).err().unwrap();
        let len = file.len() as u64;
        assert_eq!(error.kind(), &ErrorKind::Truncated { len, needed: Some(len + 16) });
    }

    #[test]
    fn a_header_cut_anywhere_is_a_truncation() {
        let file = tiny_gguf(4, true);
        for cut in 1..file.len() - 16 {
            let error = Gguf::parse(&&file[..cut]).err().unwrap();
            assert_eq!(error.code(), ErrorCode::Truncated, "cut at {cut}: {error}");
        }
    }

    #[test]
    fn other_bytes_are_not_gguf() {
        for bytes in [&b""[..], b"{\"a\": 1}", b"PK\x03\x04rest"] {
            let error = Gguf::parse(&bytes).err().unwrap();
            assert_eq!(error.code(), ErrorCode::NotGguf, "{bytes:?}");
        }
    }

    #[test]
    fn keys_of_the_wrong_type_are_invalid_metadata() {
        let file = tiny_gguf(4, true);
        let gguf = Gguf::parse(&file).unwrap();
        let error = gguf.usize("general.architecture").unwrap_err();
        assert_eq!(error.code(), ErrorCode::InvalidMetadata);
        assert_eq!(gguf.usize("llama.block_count").unwrap_err().code(), ErrorCode::MissingMetadata);
    }

    #[test]
    fn q4_1_rows_convert_to_q8_0_closely() {
        let weights: Vec<f32> =
            (0..64 * 96).map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0).collect();
        let original = candle_core::Tensor::from_vec(weights, (64, 96), &Device::Cpu).unwrap();
        let q4_1 = QTensor::quantize(&original, GgmlDType::Q4_1).unwrap();
        let raw = q4_1.data().unwrap();
        let q8_0 = to_q8_0(&raw, GgmlDType::Q4_1, 64, 96).unwrap();
        assert_eq!((q8_0.rows(), q8_0.columns()), (64, 96));
        let before = q4_1.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap();
        let before = before.to_vec1::<f32>().unwrap();
        let mut after = vec![0.0; 64 * 96];
        for (row, out) in after.chunks_exact_mut(96).enumerate() {
            q8_0.dequantize_row(row, out);
        }
        let worst = before.iter().zip(&after).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        // Q8_0's step is max|w|/127 per block; these weights stay under 2.1.
        assert!(worst <= 2.1 / 127.0, "worst difference {worst}");
    }

    #[test]
    fn q4_k_is_read_as_it_is_and_agrees_with_candle() {
        // candle quantizes to Q4_K as llama.cpp does; its bytes are a GGUF
        // tensor's.
        let (rows, columns) = (24, 512);
        let weights: Vec<f32> = (0..rows * columns).map(|i| ((i * 53 % 211) as f32 - 105.0) / 70.0).collect();
        let original = candle_core::Tensor::from_vec(weights, (rows, columns), &Device::Cpu).unwrap();
        let q4_k = QTensor::quantize(&original, GgmlDType::Q4K).unwrap();
        let matrix = Q4Matrix::from_ggml_q4_k(&q4_k.data().unwrap(), rows, columns).unwrap();
        let theirs = q4_k.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut ours = vec![0.0; rows * columns];
        for (row, out) in ours.chunks_exact_mut(columns).enumerate() {
            matrix.dequantize_row(row, out);
        }
        assert_eq!(ours, theirs, "the same weights, bit for bit: nothing is re-quantized");

        // The product agrees with candle's Q4_K kernel on three tokens.
        let input: Vec<f32> = (0..3 * columns).map(|i| ((i * 29 % 97) as f32 - 48.0) / 40.0).collect();
        let x = candle_core::Tensor::from_vec(input.clone(), (3, columns), &Device::Cpu).unwrap();
        let reference = candle_core::quantized::QMatMul::from_qtensor(q4_k).unwrap();
        let theirs = candle_core::Module::forward(&reference, &x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut ours = vec![0.0; 3 * rows];
        matrix.matmul(&prefab_kernels::Activations::quantize(&input, columns), &mut ours);
        let scale = theirs.iter().fold(0.0f32, |max, v| max.max(v.abs()));
        let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        // Both round the activations to 8 bits (candle per 256, we per 32).
        assert!(worst <= 0.02 * scale, "worst difference {worst} of outputs up to {scale}");
    }
}
