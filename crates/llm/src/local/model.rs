//! The transformer: a llama-family decoder over quantized weights.
//!
//! SmolLM2, Llama, Mistral and Qwen2 GGUFs share one shape: token embedding,
//! then per layer RMS-norm → grouped-query attention with rotary positions →
//! residual, RMS-norm → SwiGLU feed-forward → residual, then a final norm and
//! the output projection. They differ in details this module reads from the
//! file: Qwen2 adds biases to the attention projections and rotates the two
//! halves of each head (NeoX style) where llama GGUFs rotate adjacent pairs.
//!
//! candle's `quantized_llama` implements the same decoder; this one exists
//! because the engine needs control that one does not give: weights chosen
//! (and re-quantized) tensor by tensor, the embedding table kept quantized
//! and shared with a tied output projection instead of dequantized to f32,
//! attention biases, and the context length from the file. Two parts come
//! from `prefab_kernels` rather than candle: the Q8_0 matrix product, which
//! multiplies several tokens per pass over the weights (prefill was a third
//! of native llama.cpp's speed with candle's one dot product at a time), and
//! the attention over a cache of keys and values that grows by pushing and
//! sums in an order that does not depend on how the tokens were batched, so
//! a reused prefix gives the very logits a whole pass gives. A test checks
//! the decoder agrees with candle's on synthetic models' logits.

use std::cell::OnceCell;
use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use prefab_kernels::{Activations, KvCache};

use super::gguf::{Gguf, Matrix};
use crate::error::{Error, ErrorKind};

/// The architectures this decoder implements, by GGUF name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Architecture {
    /// `llama`: Llama, Mistral, SmolLM and friends.
    Llama,
    /// `qwen2`: Qwen2 and Qwen2.5.
    Qwen2,
}

impl Architecture {
    fn from_name(name: &str) -> Result<Architecture, Error> {
        match name {
            "llama" => Ok(Architecture::Llama),
            "qwen2" => Ok(Architecture::Qwen2),
            other => Err(Error::new(ErrorKind::UnsupportedArchitecture(other.to_owned()))),
        }
    }
}

/// The sizes of a model, read from its metadata.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) architecture: Architecture,
    pub(crate) layers: usize,
    pub(crate) heads: usize,
    pub(crate) kv_heads: usize,
    pub(crate) head_dim: usize,
    pub(crate) embedding: usize,
    pub(crate) rope_base: f64,
    pub(crate) rms_eps: f64,
    /// The context window the model was trained for.
    pub(crate) context_length: usize,
}

impl Config {
    /// Reads the sizes under the architecture's metadata prefix and checks
    /// they fit together.
    pub(crate) fn read(gguf: &Gguf<'_>) -> Result<Config, Error> {
        let name = gguf.str("general.architecture")?;
        let architecture = Architecture::from_name(name)?;
        let key = |suffix: &str| format!("{name}.{suffix}");
        let layers = gguf.usize(&key("block_count"))?;
        let heads = gguf.usize(&key("attention.head_count"))?;
        let kv_heads = gguf.opt_usize(&key("attention.head_count_kv"))?.unwrap_or(heads);
        let embedding = gguf.usize(&key("embedding_length"))?;
        let context_length = gguf.usize(&key("context_length"))?;
        let rope_base = gguf.opt_f64(&key("rope.freq_base"))?.unwrap_or(10_000.0);
        let rms_eps = gguf.opt_f64(&key("attention.layer_norm_rms_epsilon"))?.unwrap_or(1e-5);
        let invalid = |suffix: &str, expected: String| {
            Error::new(ErrorKind::InvalidMetadata { key: key(suffix), expected })
        };
        if layers == 0 {
            return Err(invalid("block_count", "at least 1".into()));
        }
        if heads == 0 || embedding % heads != 0 {
            return Err(invalid(
                "attention.head_count",
                format!("a divisor of the embedding length {embedding}"),
            ));
        }
        if kv_heads == 0 || heads % kv_heads != 0 {
            return Err(invalid(
                "attention.head_count_kv",
                format!("a divisor of the head count {heads}"),
            ));
        }
        let head_dim = embedding / heads;
        let rope_dim = gguf.opt_usize(&key("rope.dimension_count"))?.unwrap_or(head_dim);
        if rope_dim != head_dim || head_dim % 2 != 0 {
            // Partial rotary embeddings (Phi, StableLM) are another architecture.
            return Err(invalid(
                "rope.dimension_count",
                format!("the head dimension {head_dim}, an even number"),
            ));
        }
        if context_length == 0 {
            return Err(invalid("context_length", "at least 1".into()));
        }
        Ok(Config {
            architecture,
            layers,
            heads,
            kv_heads,
            head_dim,
            embedding,
            rope_base,
            rms_eps,
            context_length,
        })
    }
}

/// A weight matrix as the engine multiplies it: Q8_0 and Q4_K by Prefab's
/// kernels (`prefab_kernels`: several tokens per pass over the weights,
/// which is what makes prefill and batches fast), any other type by candle.
#[derive(Debug)]
enum Weights {
    Kernel(Arc<prefab_kernels::Matrix>),
    Candle(QMatMul),
}

impl Weights {
    /// `input · Wᵀ`: the input's last dimension becomes the weights' rows.
    fn forward(&self, input: &Input<'_>) -> candle_core::Result<Tensor> {
        match self {
            Weights::Candle(matmul) => matmul.forward(input.tensor),
            Weights::Kernel(matrix) => {
                let x = input.quantized()?;
                let mut out = vec![0.0; x.tokens() * matrix.rows()];
                matrix.matmul(x, &mut out);
                let mut dims = input.tensor.dims().to_vec();
                if let Some(last) = dims.last_mut() {
                    *last = matrix.rows();
                }
                Tensor::from_vec(out, dims, &Device::Cpu)
            }
        }
    }
}

/// The input of one or more weight matrices (q, k and v read the same
/// normed activations, so do gate and up), quantized for the Q8 kernel at
/// most once.
struct Input<'t> {
    tensor: &'t Tensor,
    quantized: OnceCell<Activations>,
}

impl<'t> Input<'t> {
    fn new(tensor: &'t Tensor) -> Input<'t> {
        Input { tensor, quantized: OnceCell::new() }
    }

    fn quantized(&self) -> candle_core::Result<&Activations> {
        if let Some(quantized) = self.quantized.get() {
            return Ok(quantized);
        }
        let columns = self.tensor.dims().last().copied().unwrap_or(0);
        let values = self.tensor.flatten_all()?.to_vec1::<f32>()?;
        Ok(self.quantized.get_or_init(|| Activations::quantize(&values, columns)))
    }
}

/// A weight matrix with an optional bias.
#[derive(Debug)]
struct Linear {
    weight: Weights,
    bias: Option<Tensor>,
}

impl Linear {
    fn forward(&self, input: &Input<'_>) -> candle_core::Result<Tensor> {
        let ys = self.weight.forward(input)?;
        match &self.bias {
            Some(bias) => ys.broadcast_add(bias),
            None => Ok(ys),
        }
    }
}

/// The token embedding table, kept in its quantized form and looked up row
/// by row.
#[derive(Debug)]
enum EmbeddingTable {
    Kernel(Arc<prefab_kernels::Matrix>),
    Candle(Arc<QTensor>),
}

impl EmbeddingTable {
    fn rows(&self) -> usize {
        match self {
            EmbeddingTable::Kernel(matrix) => matrix.rows(),
            EmbeddingTable::Candle(tensor) => tensor.shape().dims()[0],
        }
    }

    /// The tokens' embeddings, `(1, tokens, embedding)`.
    fn lookup(&self, tokens: &[u32]) -> candle_core::Result<Tensor> {
        match self {
            EmbeddingTable::Candle(tensor) => {
                tensor.embedding(&Tensor::new(tokens, &Device::Cpu)?)?.unsqueeze(0)
            }
            EmbeddingTable::Kernel(matrix) => {
                let width = matrix.columns();
                let mut values = vec![0.0; tokens.len() * width];
                for (&token, row) in tokens.iter().zip(values.chunks_exact_mut(width)) {
                    if token as usize >= matrix.rows() {
                        candle_core::bail!("token {token} is not in the vocabulary of {}", matrix.rows())
                    }
                    matrix.dequantize_row(token as usize, row);
                }
                Tensor::from_vec(values, (1, tokens.len(), width), &Device::Cpu)
            }
        }
    }

    /// The output projection when it is this table (tied embeddings).
    fn as_output(&self) -> candle_core::Result<Weights> {
        Ok(match self {
            EmbeddingTable::Kernel(matrix) => Weights::Kernel(matrix.clone()),
            EmbeddingTable::Candle(tensor) => Weights::Candle(QMatMul::from_arc(tensor.clone())?),
        })
    }
}

#[derive(Debug)]
struct Layer {
    attention_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: Tensor,
    gate: Weights,
    up: Weights,
    down: Weights,
}

/// What loading the weights reports, besides the model.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WeightStats {
    /// Tensors converted to Q8_0.
    pub(crate) requantized: usize,
    /// Bytes the weights take in memory.
    pub(crate) bytes: u64,
}

/// One sequence's attention cache: the keys and values of every position
/// read so far, per layer. The model's weights are shared by every
/// sequence; each sequence has its own cache, so several can be read in one
/// pass ([`Model::forward_batch`]) and one can start from a copy of
/// another's beginning ([`Cache::prefix`]).
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    layers: Vec<KvCache>,
}

impl Cache {
    /// How many positions the cache holds.
    pub(crate) fn len(&self) -> usize {
        self.layers.first().map_or(0, KvCache::len)
    }

    /// Forgets every position from `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        for layer in &mut self.layers {
            layer.truncate(len);
        }
    }

    /// The memory the keys and values take.
    pub(crate) fn size_in_bytes(&self) -> usize {
        self.layers.iter().map(KvCache::size_in_bytes).sum()
    }

    /// A copy of the first `len` positions (at most all of them).
    pub(crate) fn prefix(&self, len: usize) -> Cache {
        Cache { layers: self.layers.iter().map(|layer| layer.prefix(len)).collect() }
    }
}

/// A loaded model: the weights, which every sequence shares.
#[derive(Debug)]
pub(crate) struct Model {
    config: Config,
    /// The token embedding table, in its quantized form.
    embedding: EmbeddingTable,
    layers: Vec<Layer>,
    output_norm: Tensor,
    output: Weights,
    /// The rotary angle per position of each pair of a head's dimensions,
    /// `(1, head_dim / 2)`. Angles are computed per forward pass for the
    /// positions it covers rather than tabulated for the whole context,
    /// which for a 128K-context model would take tens of megabytes.
    inverse_frequencies: Tensor,
    /// The context window the engine allows, at most the model's own.
    context: usize,
}

/// Loads tensors while counting what they cost and reporting progress.
struct Loader<'g, 'a, 'p> {
    gguf: &'g Gguf<'a>,
    requantize: bool,
    stats: WeightStats,
    progress: &'p mut dyn FnMut(u64, u64),
    done: u64,
}

impl Loader<'_, '_, '_> {
    /// Counts one more tensor loaded, out of all the file's tensors.
    fn loaded(&mut self) {
        self.done += 1;
        (self.progress)(self.done, self.gguf.tensor_count() as u64);
    }

    fn matrix(&mut self, name: &str, shape: (usize, usize)) -> Result<Matrix, Error> {
        check_shape(self.gguf, name, &[shape.0, shape.1])?;
        let (matrix, requantized) = self.gguf.matrix(name, self.requantize)?;
        self.stats.requantized += usize::from(requantized);
        self.stats.bytes += match &matrix {
            Matrix::Kernel(matrix) => matrix.size_in_bytes(),
            Matrix::Other(tensor) => tensor.storage_size_in_bytes(),
        } as u64;
        self.loaded();
        Ok(matrix)
    }

    fn matmul(&mut self, name: &str, shape: (usize, usize)) -> Result<Weights, Error> {
        Ok(match self.matrix(name, shape)? {
            Matrix::Kernel(matrix) => Weights::Kernel(Arc::new(matrix)),
            Matrix::Other(tensor) => {
                Weights::Candle(QMatMul::from_qtensor(tensor).map_err(|error| inference(&error))?)
            }
        })
    }

    /// A vector (a norm's scale or a bias) as f32.
    fn vector(&mut self, name: &str, len: usize) -> Result<Tensor, Error> {
        check_shape(self.gguf, name, &[len])?;
        let tensor = self.gguf.tensor(name)?;
        self.stats.bytes += (len * 4) as u64;
        self.loaded();
        tensor.dequantize(&Device::Cpu).map_err(|error| inference(&error))
    }

    fn linear(&mut self, prefix: &str, shape: (usize, usize)) -> Result<Linear, Error> {
        let weight = self.matmul(&format!("{prefix}.weight"), shape)?;
        let bias_name = format!("{prefix}.bias");
        let bias = if self.gguf.has_tensor(&bias_name) {
            Some(self.vector(&bias_name, shape.0)?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }
}

fn check_shape(gguf: &Gguf<'_>, name: &str, expected: &[usize]) -> Result<(), Error> {
    let found = gguf.shape(name)?;
    if found != expected {
        return Err(Error::new(ErrorKind::InvalidTensor {
            name: name.to_owned(),
            message: format!("expected shape {expected:?}, found {found:?}"),
        }));
    }
    Ok(())
}

fn inference(error: &candle_core::Error) -> Error {
    Error::new(ErrorKind::Inference(error.to_string().lines().next().unwrap_or_default().into()))
}

impl Model {
    /// Loads the weights, calling `progress(done, total)` after each tensor.
    pub(crate) fn load(
        gguf: &Gguf<'_>,
        config: Config,
        max_context: Option<usize>,
        requantize: bool,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(Model, WeightStats), Error> {
        let mut loader = Loader {
            gguf,
            requantize,
            stats: WeightStats::default(),
            progress: &mut progress,
            done: 0,
        };
        let Config { embedding: n_embd, heads, kv_heads, head_dim, .. } = config;
        let vocab = *gguf.shape("token_embd.weight")?.first().unwrap_or(&0);
        let feed_forward = *gguf.shape("blk.0.ffn_gate.weight")?.first().unwrap_or(&0);
        let tied = !gguf.has_tensor("output.weight");
        if vocab == 0 {
            return Err(Error::new(ErrorKind::InvalidTensor {
                name: "token_embd.weight".into(),
                message: "the embedding table has no rows".into(),
            }));
        }

        let embedding = match loader.matrix("token_embd.weight", (vocab, n_embd))? {
            Matrix::Kernel(matrix) => EmbeddingTable::Kernel(Arc::new(matrix)),
            Matrix::Other(tensor) => EmbeddingTable::Candle(Arc::new(tensor)),
        };
        let output = if tied {
            // The output projection is the embedding table itself: share it.
            embedding.as_output().map_err(|error| inference(&error))?
        } else {
            loader.matmul("output.weight", (vocab, n_embd))?
        };
        let output_norm = loader.vector("output_norm.weight", n_embd)?;

        let mut layers = Vec::with_capacity(config.layers);
        for i in 0..config.layers {
            let name = |part: &str| format!("blk.{i}.{part}");
            let attention_norm = loader.vector(&name("attn_norm.weight"), n_embd)?;
            let q = loader.linear(&name("attn_q"), (heads * head_dim, n_embd))?;
            let k = loader.linear(&name("attn_k"), (kv_heads * head_dim, n_embd))?;
            let v = loader.linear(&name("attn_v"), (kv_heads * head_dim, n_embd))?;
            let o = loader.linear(&name("attn_output"), (n_embd, heads * head_dim))?;
            let ffn_norm = loader.vector(&name("ffn_norm.weight"), n_embd)?;
            let gate = loader.matmul(&name("ffn_gate.weight"), (feed_forward, n_embd))?;
            let up = loader.matmul(&name("ffn_up.weight"), (feed_forward, n_embd))?;
            let down = loader.matmul(&name("ffn_down.weight"), (n_embd, feed_forward))?;
            layers.push(Layer {
                attention_norm,
                q,
                k,
                v,
                o,
                ffn_norm,
                gate,
                up,
                down,
            });
        }

        let context =
            max_context.map_or(config.context_length, |max| max.min(config.context_length));
        let inverse_frequencies =
            inverse_frequencies(&config, gguf).map_err(|error| inference(&error))?;
        // Tensors read outside the loader (`rope_freqs`) count as done too.
        let total = gguf.tensor_count() as u64;
        (loader.progress)(total, total);
        let stats = loader.stats;
        let model = Model {
            config,
            embedding,
            layers,
            output_norm,
            output,
            inverse_frequencies,
            context,
        };
        Ok((model, stats))
    }

    /// The context window the engine allows.
    pub(crate) fn context(&self) -> usize {
        self.context
    }

    /// How many rows the embedding table has: the largest token id plus one.
    pub(crate) fn vocab_size(&self) -> usize {
        self.embedding.rows()
    }

    /// An empty attention cache for a new sequence.
    pub(crate) fn new_cache(&self) -> Cache {
        let Config { layers, kv_heads, head_dim, .. } = self.config;
        Cache { layers: (0..layers).map(|_| KvCache::new(kv_heads, head_dim)).collect() }
    }

    /// Runs `tokens` through the model after the positions `cache` holds,
    /// appending theirs, and returns the logits for the token that follows.
    pub(crate) fn forward(&self, cache: &mut Cache, tokens: &[u32]) -> Result<Vec<f32>, Error> {
        let mut logits = self.forward_batch(&mut [(cache, tokens)])?;
        Ok(logits.pop().unwrap_or_default())
    }

    /// Runs several sequences' next tokens in one pass over the weights:
    /// each `(cache, tokens)` reads its tokens after its cache's positions.
    /// Returns the logits that follow each sequence, in order.
    ///
    /// Every token's arithmetic is the same whatever else is in the pass
    /// (the matrix kernel and the attention sum in a fixed order per token),
    /// so a sequence read beside others gets the very logits it gets alone.
    pub(crate) fn forward_batch(&self, sequences: &mut [(&mut Cache, &[u32])]) -> Result<Vec<Vec<f32>>, Error> {
        for (cache, tokens) in sequences.iter() {
            if tokens.is_empty() || cache.len() + tokens.len() > self.context {
                return Err(Error::new(ErrorKind::PromptTooLong {
                    prompt_tokens: cache.len() + tokens.len(),
                    context: self.context,
                }));
            }
        }
        if sequences.is_empty() {
            return Ok(Vec::new());
        }
        let before: Vec<usize> = sequences.iter().map(|(cache, _)| cache.len()).collect();
        self.forward_inner(sequences).map_err(|error| {
            // A pass that failed part way leaves no half-read tokens behind.
            for ((cache, _), &len) in sequences.iter_mut().zip(&before) {
                cache.truncate(len);
            }
            inference(&error)
        })
    }

    fn forward_inner(&self, sequences: &mut [(&mut Cache, &[u32])]) -> candle_core::Result<Vec<Vec<f32>>> {
        let tokens: Vec<u32> = sequences.iter().flat_map(|(_, tokens)| tokens.iter().copied()).collect();
        let positions: Vec<f32> = sequences
            .iter()
            .flat_map(|(cache, tokens)| (cache.len()..cache.len() + tokens.len()).map(|p| p as f32))
            .collect();
        let rows = tokens.len();
        let mut x = self.embedding.lookup(&tokens)?;
        let angles = Tensor::from_vec(positions, (rows, 1), &Device::Cpu)?
            .broadcast_mul(&self.inverse_frequencies)?;
        let (cos, sin) = (angles.cos()?, angles.sin()?);
        let eps = self.config.rms_eps as f32;
        for (index, layer) in self.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attention_norm, eps)?;
            let attention = attend(&self.config, layer, index, sequences, &h, &cos, &sin)?;
            x = (x + attention)?;
            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, eps)?;
            let input = Input::new(&h);
            let gate = candle_nn::ops::silu(&layer.gate.forward(&input)?)?;
            let product = (gate * layer.up.forward(&input)?)?;
            let feed_forward = layer.down.forward(&Input::new(&product))?;
            x = (x + feed_forward)?;
        }
        // Each sequence's last row gives its next token.
        let mut last_rows = Vec::with_capacity(sequences.len());
        let mut end = 0;
        for (_, tokens) in sequences.iter() {
            end += tokens.len();
            last_rows.push((end - 1) as u32);
        }
        let last = x.squeeze(0)?.index_select(&Tensor::new(last_rows.as_slice(), &Device::Cpu)?, 0)?;
        let last = candle_nn::ops::rms_norm(&last, &self.output_norm, eps)?;
        self.output.forward(&Input::new(&last))?.to_dtype(DType::F32)?.to_vec2::<f32>()
    }
}

/// Attention for layer `index` over `x`, `(1, rows, embedding)`: the rows
/// of every sequence in the pass, one after another. Each sequence's keys
/// and values are appended to its own cache, and its queries read only that.
fn attend(
    config: &Config,
    layer: &Layer,
    index: usize,
    sequences: &mut [(&mut Cache, &[u32])],
    x: &Tensor,
    cos: &Tensor,
    sin: &Tensor,
) -> candle_core::Result<Tensor> {
    let (batch, rows, _) = x.dims3()?;
    let Config { heads, kv_heads, head_dim, .. } = *config;
    // Rotary positions are applied with heads first, `(1, heads, rows, d)`;
    // the cache and the attention read tokens first, `[token][head][d]`.
    let rotate = |t: Tensor, n: usize| -> candle_core::Result<Vec<f32>> {
        let t = t.reshape((batch, rows, n, head_dim))?.transpose(1, 2)?.contiguous()?;
        let t = match config.architecture {
            Architecture::Llama => candle_nn::rotary_emb::rope_i(&t, cos, sin)?,
            Architecture::Qwen2 => candle_nn::rotary_emb::rope(&t, cos, sin)?,
        };
        t.transpose(1, 2)?.flatten_all()?.to_vec1::<f32>()
    };
    let input = Input::new(x);
    let q = rotate(layer.q.forward(&input)?, heads)?;
    let k = rotate(layer.k.forward(&input)?, kv_heads)?;
    let v = layer.v.forward(&input)?.flatten_all()?.to_vec1::<f32>()?;
    let (q_width, kv_width) = (heads * head_dim, kv_heads * head_dim);
    let mut y = vec![0.0; q.len()];
    let mut row = 0;
    for (cache, tokens) in sequences.iter_mut() {
        let span = row..row + tokens.len();
        let kv = span.start * kv_width..span.end * kv_width;
        let queries = span.start * q_width..span.end * q_width;
        let cache = &mut cache.layers[index];
        cache.append(&k[kv.clone()], &v[kv]);
        cache.attend(&q[queries.clone()], heads, &mut y[queries]);
        row = span.end;
    }
    let y = Tensor::from_vec(y, (batch, rows, heads * head_dim), &Device::Cpu)?;
    layer.o.forward(&Input::new(&y))
}

/// How fast each pair of a head's dimensions rotates with position: pair
/// `i` turns by `base^(-2i / head_dim)` per position, divided by the file's
/// `rope_freqs` factors when it has them (Llama 3's long-context scaling).
fn inverse_frequencies(config: &Config, gguf: &Gguf<'_>) -> candle_core::Result<Tensor> {
    let half = config.head_dim / 2;
    let mut frequencies: Vec<f32> = (0..half)
        .map(|i| 1.0 / config.rope_base.powf(2.0 * i as f64 / config.head_dim as f64) as f32)
        .collect();
    if gguf.has_tensor("rope_freqs.weight") {
        let factors = gguf
            .tensor("rope_freqs.weight")
            .map_err(|error| candle_core::Error::Msg(error.to_string()))?
            .dequantize(&Device::Cpu)?
            .to_vec1::<f32>()?;
        if factors.len() != half {
            candle_core::bail!("rope_freqs.weight has {} factors, expected {half}", factors.len())
        }
        for (frequency, factor) in frequencies.iter_mut().zip(factors) {
            *frequency /= factor;
        }
    }
    Tensor::from_vec(frequencies, (1, half), &Device::Cpu)
}

/// The probabilities of a softmax over `logits`, computed in f64 so that
/// tiny probabilities do not vanish before they are compared.
pub(crate) fn softmax(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&l| f64::from(l - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.into_iter().map(|e| e / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::gguf_file::{self, Value};
    use candle_core::quantized::GgmlDType;
    use std::io::Cursor;

    const LAYERS: usize = 2;
    const EMBEDDING: usize = 64;
    const HEADS: usize = 4;
    const KV_HEADS: usize = 2;
    const FEED_FORWARD: usize = 128;
    /// The matrices' weights are in ±this.
    const MATRIX_SCALE: f32 = 0.3;
    const VOCAB: usize = 96;

    /// Deterministic weights in [-scale, scale).
    fn weights(count: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..count)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    /// A tiny random model of the given architecture, as GGUF bytes: Q8_0
    /// matrices, f32 norms, and for Qwen2 attention biases and an untied
    /// output projection.
    fn synthetic_gguf(architecture: &str) -> Vec<u8> {
        synthetic_gguf_of(architecture, GgmlDType::Q8_0, EMBEDDING, FEED_FORWARD)
    }

    /// The same with the layers' matrices of type `matrices`, and the
    /// embedding and feed-forward widths given.
    fn synthetic_gguf_of(architecture: &str, matrices: GgmlDType, embedding: usize, feed_forward: usize) -> Vec<u8> {
        let qwen2 = architecture == "qwen2";
        let mut tensors: Vec<(String, QTensor)> = Vec::new();
        let mut seed = 0;
        let mut add = |name: String, shape: &[usize], dtype: GgmlDType, scale: f32, offset: f32| {
            seed += 1;
            let values: Vec<f32> =
                weights(shape.iter().product(), seed, scale).iter().map(|w| w + offset).collect();
            let tensor = Tensor::from_vec(values, shape, &Device::Cpu).unwrap();
            tensors.push((name, QTensor::quantize(&tensor, dtype).unwrap()));
        };
        let head_dim = embedding / HEADS;
        add("token_embd.weight".into(), &[VOCAB, embedding], GgmlDType::Q8_0, 1.0, 0.0);
        add("output_norm.weight".into(), &[embedding], GgmlDType::F32, 0.1, 1.0);
        if qwen2 {
            add("output.weight".into(), &[VOCAB, embedding], GgmlDType::Q8_0, MATRIX_SCALE, 0.0);
        }
        for i in 0..LAYERS {
            let name = |part: &str| format!("blk.{i}.{part}");
            add(name("attn_norm.weight"), &[embedding], GgmlDType::F32, 0.1, 1.0);
            add(name("ffn_norm.weight"), &[embedding], GgmlDType::F32, 0.1, 1.0);
            for (part, rows) in [
                ("attn_q", HEADS * head_dim),
                ("attn_k", KV_HEADS * head_dim),
                ("attn_v", KV_HEADS * head_dim),
            ] {
                add(name(&format!("{part}.weight")), &[rows, embedding], matrices, MATRIX_SCALE, 0.0);
                if qwen2 {
                    add(name(&format!("{part}.bias")), &[rows], GgmlDType::F32, 0.5, 0.0);
                }
            }
            add(name("attn_output.weight"), &[embedding, embedding], matrices, MATRIX_SCALE, 0.0);
            add(name("ffn_gate.weight"), &[feed_forward, embedding], matrices, MATRIX_SCALE, 0.0);
            add(name("ffn_up.weight"), &[feed_forward, embedding], matrices, MATRIX_SCALE, 0.0);
            add(name("ffn_down.weight"), &[embedding, feed_forward], matrices, MATRIX_SCALE, 0.0);
        }
        let key = |suffix: &str| format!("{architecture}.{suffix}");
        let metadata: Vec<(String, Value)> = vec![
            ("general.architecture".into(), Value::String(architecture.into())),
            (key("block_count"), Value::U32(LAYERS as u32)),
            (key("embedding_length"), Value::U32(embedding as u32)),
            (key("attention.head_count"), Value::U32(HEADS as u32)),
            (key("attention.head_count_kv"), Value::U32(KV_HEADS as u32)),
            (key("rope.dimension_count"), Value::U32(head_dim as u32)),
            (key("context_length"), Value::U32(64)),
            (key("rope.freq_base"), Value::F32(10_000.0)),
            (key("attention.layer_norm_rms_epsilon"), Value::F32(1e-5)),
        ];
        let metadata: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let mut file = Cursor::new(Vec::new());
        gguf_file::write(&mut file, &metadata, &tensors).unwrap();
        file.into_inner()
    }

    /// Runs a prompt then three single tokens through both our decoder and
    /// candle's reference for the architecture, comparing every logit.
    fn agrees_with_reference(architecture: &str, reference: impl FnMut(&[u32], usize) -> Vec<f32>) {
        for (position, worst, _) in differences(&synthetic_gguf(architecture), 4, reference) {
            assert!(worst < 1e-3, "{architecture} at position {position}: logits differ by {worst}");
        }
    }

    /// The first `passes` of a prompt and three single tokens through our
    /// decoder and candle's `reference` for the model in `bytes`: after each,
    /// the position, the largest difference of a logit, and the largest
    /// logit of the reference's (at least 1).
    fn differences(
        bytes: &[u8],
        passes: usize,
        mut reference: impl FnMut(&[u32], usize) -> Vec<f32>,
    ) -> Vec<(usize, f32, f32)> {
        let gguf = Gguf::parse(&bytes).unwrap();
        let config = Config::read(&gguf).unwrap();
        let (model, _) = Model::load(&gguf, config, None, false, |_, _| {}).unwrap();
        let mut cache = model.new_cache();
        let steps: [&[u32]; 4] = [&[3, 14, 15, 92, 65, 35], &[8], &[9], &[79]];
        let mut position = 0;
        let mut found = Vec::new();
        for tokens in steps.into_iter().take(passes) {
            let ours = model.forward(&mut cache, tokens).unwrap();
            let theirs = reference(tokens, position);
            position += tokens.len();
            assert_eq!(ours.len(), VOCAB);
            let worst = ours.iter().zip(&theirs).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            let largest = theirs.iter().fold(1.0f32, |max, v| max.max(v.abs()));
            found.push((position, worst, largest));
        }
        found
    }

    fn reference_input(tokens: &[u32]) -> Tensor {
        Tensor::new(tokens, &Device::Cpu).unwrap().unsqueeze(0).unwrap()
    }

    #[test]
    fn a_llama_model_matches_candles_quantized_llama() {
        use candle_transformers::models::quantized_llama::ModelWeights;
        let bytes = synthetic_gguf("llama");
        let mut reader = Cursor::new(&bytes);
        let content = gguf_file::Content::read(&mut reader).unwrap();
        let mut reference = ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).unwrap();
        agrees_with_reference("llama", |tokens, position| {
            let logits = reference.forward(&reference_input(tokens), position).unwrap();
            logits.squeeze(0).unwrap().to_vec1().unwrap()
        });
    }

    #[test]
    fn a_q4_k_model_agrees_with_candles_as_closely_as_its_q8_0_twin() {
        use candle_transformers::models::quantized_llama::ModelWeights;
        // Q4_K rows are whole super-blocks of 256. At this width the random
        // layers amplify the two decoders' different roundings (8-bit
        // activations per 32 here; for Q4_K per 256 in candle) to a few
        // percent of the largest logit after the prompt, Q8_0 included, and
        // more with every token after; so the prompt's pass is compared,
        // and the Q4_K kernel must do no worse than the Q8_0 one.
        let worst = |matrices: GgmlDType| {
            let bytes = synthetic_gguf_of("llama", matrices, 256, 512);
            let gguf = Gguf::parse(&bytes).unwrap();
            let (_, requantized) = gguf.matrix("blk.0.attn_q.weight", true).unwrap();
            assert!(!requantized, "{matrices:?} is multiplied as it is");
            let mut reader = Cursor::new(&bytes);
            let content = gguf_file::Content::read(&mut reader).unwrap();
            let mut reference = ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).unwrap();
            let prompt_pass = differences(&bytes, 1, |tokens, position| {
                let logits = reference.forward(&reference_input(tokens), position).unwrap();
                logits.squeeze(0).unwrap().to_vec1().unwrap()
            });
            let (_, worst, largest) = prompt_pass[0];
            assert!(worst < 0.1 * largest, "{matrices:?}: logits differ by {worst} (largest {largest})");
            worst / largest
        };
        let (q4_k, q8_0) = (worst(GgmlDType::Q4K), worst(GgmlDType::Q8_0));
        assert!(q4_k <= q8_0 * 1.5, "Q4_K differs by {q4_k} of the largest logit, Q8_0 by {q8_0}");
    }

    #[test]
    fn a_qwen2_model_matches_candles_quantized_qwen2() {
        use candle_transformers::models::quantized_qwen2::ModelWeights;
        let bytes = synthetic_gguf("qwen2");
        let mut reader = Cursor::new(&bytes);
        let content = gguf_file::Content::read(&mut reader).unwrap();
        let mut reference = ModelWeights::from_gguf(content, &mut reader, &Device::Cpu).unwrap();
        agrees_with_reference("qwen2", |tokens, position| {
            let logits = reference.forward(&reference_input(tokens), position).unwrap();
            logits.squeeze(0).unwrap().to_vec1().unwrap()
        });
    }

    #[test]
    fn sequences_read_in_one_pass_get_the_logits_they_get_alone() {
        let bytes = synthetic_gguf("qwen2");
        let gguf = Gguf::parse(&bytes).unwrap();
        let config = Config::read(&gguf).unwrap();
        let (model, _) = Model::load(&gguf, config, None, false, |_, _| {}).unwrap();
        let prompts: [&[u32]; 3] = [&[3, 14, 15, 92, 65], &[7], &[3, 14, 15, 9, 2, 6, 5, 35]];
        let mut alone: Vec<Cache> = prompts.iter().map(|_| model.new_cache()).collect();
        let mut together: Vec<Cache> = prompts.iter().map(|_| model.new_cache()).collect();
        // A prefill of each, then three decoding steps of all three, and a
        // pass that mixes a prefill with single tokens.
        let steps: [[&[u32]; 3]; 5] = [prompts, [&[8], &[9], &[10]], [&[11], &[12], &[13]], [&[14], &[1, 2, 3], &[15]], [&[4], &[5], &[6]]];
        for step in steps {
            let expected: Vec<Vec<f32>> =
                alone.iter_mut().zip(step).map(|(cache, tokens)| model.forward(cache, tokens).unwrap()).collect();
            let mut batch: Vec<(&mut Cache, &[u32])> = together.iter_mut().zip(step).collect();
            let got = model.forward_batch(&mut batch).unwrap();
            assert_eq!(got, expected, "bit for bit");
        }
        let lengths: Vec<usize> = together.iter().map(Cache::len).collect();
        assert_eq!(lengths, [5 + 4, 1 + 6, 8 + 4]);

        // One sequence that cannot go on refuses the whole pass and leaves
        // every cache as it was.
        let mut long = model.new_cache();
        model.forward(&mut long, &[1; 60]).unwrap();
        let (first, rest) = together.split_at_mut(1);
        let mut batch: Vec<(&mut Cache, &[u32])> = vec![(&mut first[0], &[1]), (&mut long, &[1; 5]), (&mut rest[0], &[2])];
        assert!(model.forward_batch(&mut batch).is_err());
        assert_eq!((together[0].len(), long.len()), (9, 60));
    }

    #[test]
    fn a_prompt_beyond_the_context_is_refused_not_run() {
        let bytes = synthetic_gguf("llama");
        let gguf = Gguf::parse(&bytes).unwrap();
        let config = Config::read(&gguf).unwrap();
        let (model, _) = Model::load(&gguf, config, Some(8), false, |_, _| {}).unwrap();
        assert_eq!(model.context(), 8);
        let mut cache = model.new_cache();
        model.forward(&mut cache, &[1; 6]).unwrap();
        let error = model.forward(&mut cache, &[1; 3]).unwrap_err();
        assert_eq!(error.kind(), &ErrorKind::PromptTooLong { prompt_tokens: 9, context: 8 });
        assert_eq!(cache.len(), 6, "a refused step leaves the cache as it was");
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let probabilities = softmax(&[1.0, 3.0, 2.0, f32::NEG_INFINITY]);
        assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(probabilities[1] > probabilities[2] && probabilities[2] > probabilities[0]);
        assert_eq!(probabilities[3], 0.0);
    }
}
