//! Causal grouped-query attention over a growing cache of keys and values.
//!
//! Each query reads exactly the positions up to its own, in order, so its
//! result does not depend on how the tokens were split into forward passes:
//! a prompt read whole, a prompt read after a reused prefix, and (later) a
//! sequence decoded beside others give bit-identical outputs. A general
//! matrix product over the masked scores does not: its sums are grouped by
//! the cache's length, and the engine's 8-bit activations turn those last-bit
//! differences into visibly different logits.

/// One layer's keys and values for every position so far, position by
/// position (`[position][kv_head][head_dim]`), so that appending is a push
/// and forgetting the end is a truncation.
#[derive(Debug, Clone)]
pub struct KvCache {
    kv_heads: usize,
    head_dim: usize,
    keys: Vec<f32>,
    values: Vec<f32>,
}

impl KvCache {
    pub fn new(kv_heads: usize, head_dim: usize) -> KvCache {
        assert!(kv_heads > 0 && head_dim > 0, "a cache needs heads of some size");
        KvCache { kv_heads, head_dim, keys: Vec::new(), values: Vec::new() }
    }

    /// How many positions the cache holds.
    pub fn len(&self) -> usize {
        self.keys.len() / (self.kv_heads * self.head_dim)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The memory the keys and values take.
    pub fn size_in_bytes(&self) -> usize {
        (self.keys.len() + self.values.len()) * std::mem::size_of::<f32>()
    }

    /// Forgets every position from `len` on.
    pub fn truncate(&mut self, len: usize) {
        let width = self.kv_heads * self.head_dim;
        self.keys.truncate(len * width);
        self.values.truncate(len * width);
    }

    /// A copy of the first `len` positions (all of them when there are
    /// fewer), for a sequence that starts as another began.
    pub fn prefix(&self, len: usize) -> KvCache {
        let width = self.kv_heads * self.head_dim;
        let end = (len * width).min(self.keys.len());
        KvCache {
            kv_heads: self.kv_heads,
            head_dim: self.head_dim,
            keys: self.keys[..end].to_vec(),
            values: self.values[..end].to_vec(),
        }
    }

    /// Appends positions' keys and values, each `[position][kv_head][head_dim]`.
    pub fn append(&mut self, keys: &[f32], values: &[f32]) {
        let width = self.kv_heads * self.head_dim;
        assert!(keys.len() == values.len() && keys.len() % width == 0, "whole positions of keys and values");
        self.keys.extend_from_slice(keys);
        self.values.extend_from_slice(values);
    }

    /// Attention for the last `tokens` positions of the cache (already
    /// appended): `queries` and `out` are `[token][head][head_dim]`, with
    /// `heads` a multiple of the cache's key heads (consecutive query heads
    /// share a key head).
    pub fn attend(&self, queries: &[f32], heads: usize, out: &mut [f32]) {
        let d = self.head_dim;
        assert!(heads % self.kv_heads == 0, "{heads} query heads over {} key heads", self.kv_heads);
        assert_eq!(queries.len() % (heads * d), 0, "whole tokens of queries");
        assert_eq!(out.len(), queries.len(), "one output per query");
        let tokens = queries.len() / (heads * d);
        let len = self.len();
        assert!(tokens <= len, "the queries' positions are in the cache");
        let group = heads / self.kv_heads;
        let scale = 1.0 / (d as f32).sqrt();
        let mut weights = vec![0.0f32; len];
        for t in 0..tokens {
            // Query `t` is position `len - tokens + t` and sees up to it.
            let seen = len - tokens + t + 1;
            for h in 0..heads {
                let g = h / group;
                let query = &queries[(t * heads + h) * d..][..d];
                let at = |position: usize| (position * self.kv_heads + g) * d;
                let mut largest = f32::NEG_INFINITY;
                for (position, weight) in weights[..seen].iter_mut().enumerate() {
                    *weight = dot(query, &self.keys[at(position)..][..d]) * scale;
                    // Not `f32::max`: a call in wasm, whose NaN rule differs.
                    if *weight > largest {
                        largest = *weight;
                    }
                }
                let mut total = 0.0;
                for weight in &mut weights[..seen] {
                    *weight = (*weight - largest).exp();
                    total += *weight;
                }
                let output = &mut out[(t * heads + h) * d..][..d];
                output.fill(0.0);
                for (position, &weight) in weights[..seen].iter().enumerate() {
                    let weight = weight / total;
                    for (o, &v) in output.iter_mut().zip(&self.values[at(position)..][..d]) {
                        *o += weight * v;
                    }
                }
            }
        }
    }
}

/// A dot product in eight running sums, a fixed order the compiler can
/// still vectorize (a single running sum it may not reorder).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(a, b)| a * b).sum();
    for (a, b) in a_chunks.zip(b_chunks) {
        for i in 0..8 {
            sums[i] += a[i] * b[i];
        }
    }
    sums.iter().sum::<f32>() + tail
}
