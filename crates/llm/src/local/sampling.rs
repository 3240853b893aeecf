//! Choosing the next token from the model's logits.
//!
//! The steps, in llama.cpp's order: the repetition penalty on recently seen
//! tokens; then greedy choice at temperature 0; otherwise temperature
//! scaling, top-k, softmax, top-p (nucleus), and a draw from what is left.
//! The random numbers come from the dataset core's SplitMix64, seeded by the
//! caller: its sequence is fixed forever, where a library's generator may
//! change between versions, so a seed names the same generation on every
//! machine and in the browser.

use prefab_core::prng::SplitMix64;

use crate::generation::GenerationParams;

/// A seeded token sampler.
#[derive(Debug, Clone)]
pub(crate) struct Sampler {
    temperature: f64,
    top_k: usize,
    top_p: f64,
    repetition_penalty: f32,
    repeat_last_n: usize,
    rng: SplitMix64,
}

impl Sampler {
    /// A sampler for these (already validated) parameters.
    pub(crate) fn new(params: &GenerationParams) -> Sampler {
        Sampler {
            temperature: params.temperature,
            top_k: params.top_k,
            top_p: params.top_p,
            repetition_penalty: params.repetition_penalty,
            repeat_last_n: params.repeat_last_n,
            rng: SplitMix64::new(params.seed),
        }
    }

    /// Picks the next token given the logits and every token so far, prompt
    /// included. The logits are modified in place.
    pub(crate) fn sample(&mut self, logits: &mut [f32], history: &[u32]) -> u32 {
        for logit in logits.iter_mut() {
            if logit.is_nan() {
                *logit = f32::NEG_INFINITY;
            }
        }
        if self.repetition_penalty != 1.0 && self.repeat_last_n > 0 {
            let recent = &history[history.len().saturating_sub(self.repeat_last_n)..];
            penalize_repetitions(logits, recent, self.repetition_penalty);
        }
        if self.temperature == 0.0 || self.top_k == 1 {
            return argmax(logits);
        }

        // The candidates, likeliest first.
        let mut candidates: Vec<u32> = (0..logits.len() as u32).collect();
        let by_logit = |a: &u32, b: &u32| logits[*b as usize].total_cmp(&logits[*a as usize]);
        if self.top_k > 0 && self.top_k < candidates.len() {
            candidates.select_nth_unstable_by(self.top_k - 1, by_logit);
            candidates.truncate(self.top_k);
        }
        candidates.sort_unstable_by(by_logit);

        let max = f64::from(logits[candidates[0] as usize]);
        let mut weights: Vec<f64> = candidates
            .iter()
            .map(|&id| ((f64::from(logits[id as usize]) - max) / self.temperature).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        if self.top_p < 1.0 {
            let mut kept = 0.0;
            let mut keep = weights.len();
            for (i, weight) in weights.iter().enumerate() {
                kept += weight / total;
                if kept >= self.top_p {
                    keep = i + 1;
                    break;
                }
            }
            weights.truncate(keep);
        }
        let total: f64 = weights.iter().sum();
        let mut draw = unit(&mut self.rng) * total;
        for (i, weight) in weights.iter().enumerate() {
            if draw < *weight {
                return candidates[i];
            }
            draw -= weight;
        }
        // Rounding left the draw just past the last weight.
        candidates[weights.len() - 1]
    }
}

/// The index of the largest logit; the lowest index among equals.
pub(crate) fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, logit) in logits.iter().enumerate() {
        if *logit > logits[best] {
            best = i;
        }
    }
    best as u32
}

/// Makes each token in `recent` less likely: positive logits are divided by
/// the penalty and negative ones multiplied, once per distinct token.
fn penalize_repetitions(logits: &mut [f32], recent: &[u32], penalty: f32) {
    let mut seen = recent.to_vec();
    seen.sort_unstable();
    seen.dedup();
    for id in seen {
        if let Some(logit) = logits.get_mut(id as usize) {
            *logit = if *logit >= 0.0 { *logit / penalty } else { *logit * penalty };
        }
    }
}

/// A number in [0, 1) with 53 random bits.
fn unit(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(temperature: f64, top_k: usize, top_p: f64, seed: u64) -> Sampler {
        Sampler::new(&GenerationParams {
            temperature,
            top_k,
            top_p,
            seed,
            repetition_penalty: 1.0,
            ..GenerationParams::default()
        })
    }

    #[test]
    fn temperature_zero_is_greedy() {
        let mut s = sampler(0.0, 0, 1.0, 7);
        assert_eq!(s.sample(&mut [0.1, 2.0, f32::NAN, 1.9], &[]), 1);
        assert_eq!(argmax(&[3.0, 3.0, 1.0]), 0);
    }

    #[test]
    fn the_same_seed_draws_the_same_tokens() {
        let logits = [1.0f32, 1.2, 0.8, 1.1, 0.9];
        let draws = |seed| {
            let mut s = sampler(1.0, 0, 1.0, seed);
            (0..50).map(|_| s.sample(&mut logits.clone(), &[])).collect::<Vec<_>>()
        };
        assert_eq!(draws(42), draws(42));
        assert_ne!(draws(42), draws(43));
        // Every token is possible without top-k or top-p.
        let mut seen = draws(42);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn top_k_and_top_p_keep_only_the_likeliest() {
        let logits = [0.0f32, 5.0, 4.9, 1.0, 4.8];
        let mut top_k = sampler(1.0, 2, 1.0, 1);
        let mut top_p = sampler(1.0, 0, 0.5, 1);
        for _ in 0..200 {
            assert!(matches!(top_k.sample(&mut logits.clone(), &[]), 1 | 2));
            // Token 1 alone holds about 36 % and tokens 1 and 2 about 69 %.
            assert!(matches!(top_p.sample(&mut logits.clone(), &[]), 1 | 2));
        }
    }

    #[test]
    fn the_repetition_penalty_demotes_recent_tokens() {
        let mut logits = [2.0f32, 1.9, -1.0];
        penalize_repetitions(&mut logits, &[0, 0, 2], 2.0);
        assert_eq!(logits, [1.0, 1.9, -2.0]);
        let mut greedy = Sampler::new(&GenerationParams {
            temperature: 0.0,
            repetition_penalty: 1.5,
            repeat_last_n: 2,
            ..GenerationParams::default()
        });
        // Token 0 was seen within the last two tokens; token 1 wins.
        assert_eq!(greedy.sample(&mut [2.0, 1.9, 0.0], &[1, 0, 2]), 1);
        // Token 1 is further back than repeat_last_n: token 0 is demoted.
        assert_eq!(greedy.sample(&mut [2.0, 1.9, 0.0], &[1, 2, 0]), 1);
        assert_eq!(greedy.sample(&mut [2.0, 1.9, 0.0], &[0, 1, 2]), 0);
    }
}
