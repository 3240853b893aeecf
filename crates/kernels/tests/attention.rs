//! Attention against a plain f64 reference, and the same result however the
//! tokens are split into passes.

use prefab_kernels::KvCache;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

const KV_HEADS: usize = 2;
const HEADS: usize = 6;
const D: usize = 20;

fn values(count: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2001) as f32 / 1000.0 - 1.0
        })
        .collect()
}

/// Softmax attention of query `t` (position `start + t`) in f64.
fn reference(queries: &[f32], keys: &[f32], vals: &[f32], start: usize) -> Vec<f64> {
    let tokens = queries.len() / (HEADS * D);
    let mut out = Vec::new();
    for t in 0..tokens {
        for h in 0..HEADS {
            let g = h / (HEADS / KV_HEADS);
            let q = &queries[(t * HEADS + h) * D..][..D];
            let scores: Vec<f64> = (0..=start + t)
                .map(|p| {
                    let k = &keys[(p * KV_HEADS + g) * D..][..D];
                    q.iter().zip(k).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>() / (D as f64).sqrt()
                })
                .collect();
            let largest = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let exps: Vec<f64> = scores.iter().map(|s| (s - largest).exp()).collect();
            let total: f64 = exps.iter().sum();
            for i in 0..D {
                out.push(exps.iter().enumerate().map(|(p, e)| e / total * f64::from(vals[(p * KV_HEADS + g) * D + i])).sum());
            }
        }
    }
    out
}

#[test]
fn attention_matches_the_definition() {
    let positions = 13;
    let (keys, vals) = (values(positions * KV_HEADS * D, 1), values(positions * KV_HEADS * D, 2));
    let queries = values(5 * HEADS * D, 3);
    let mut cache = KvCache::new(KV_HEADS, D);
    cache.append(&keys, &vals);
    assert_eq!(cache.len(), positions);
    let mut out = vec![0.0; queries.len()];
    cache.attend(&queries, HEADS, &mut out);
    let expected = reference(&queries, &keys, &vals, positions - 5);
    for (got, want) in out.iter().zip(&expected) {
        assert!((f64::from(*got) - want).abs() < 1e-5, "{got} ≠ {want}");
    }
}

#[test]
fn splitting_the_tokens_into_passes_changes_no_bit() {
    let positions = 40;
    let (keys, vals) = (values(positions * KV_HEADS * D, 4), values(positions * KV_HEADS * D, 5));
    let queries = values(positions * HEADS * D, 6);
    let width = KV_HEADS * D;
    let mut whole = KvCache::new(KV_HEADS, D);
    whole.append(&keys, &vals);
    let mut expected = vec![0.0; queries.len()];
    whole.attend(&queries, HEADS, &mut expected);
    for split in [1, 7, 25, 39] {
        // A first pass that read other tokens after `split`, forgotten.
        let mut cache = KvCache::new(KV_HEADS, D);
        cache.append(&keys[..split * width], &vals[..split * width]);
        cache.append(&values(3 * width, 7), &values(3 * width, 8));
        cache.truncate(split);
        cache.append(&keys[split * width..], &vals[split * width..]);
        let rest = &queries[split * HEADS * D..];
        let mut out = vec![0.0; rest.len()];
        cache.attend(rest, HEADS, &mut out);
        assert_eq!(out, expected[split * HEADS * D..], "split at {split}");

        // A second sequence that starts from a copy of the whole one's
        // beginning reads the same.
        let mut copy = whole.prefix(split);
        assert_eq!(copy.len(), split);
        copy.append(&keys[split * width..], &vals[split * width..]);
        let mut out = vec![0.0; rest.len()];
        copy.attend(rest, HEADS, &mut out);
        assert_eq!(out, expected[split * HEADS * D..], "copy of the first {split}");
    }
    assert_eq!(whole.prefix(positions + 5).len(), positions, "a prefix is at most the whole");
}
