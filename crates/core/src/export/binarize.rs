//! Binarization: from scored completions to one chosen/rejected pair.
//!
//! DPO needs pairs; judges and people give scores. Each generation of a prompt
//! gets a score from a [`ScoreSource`] (judge ratings, or human Likert scores,
//! rankings, A-vs-B answers or thumbs), then [`binarize`] picks the pair:
//!
//! - `chosen` is the best-scored generation (the first of them on a tie);
//! - `rejected` is the worst ([`PairStrategy::BestVsWorst`]) or a seeded
//!   random one of the lower-scored ones ([`PairStrategy::BestVsRandom`], the
//!   recipe of Zephyr and `ultrafeedback_binarized`, which keeps pairs from
//!   being too easy);
//! - only generations scored at least `min_margin` below the best may be
//!   rejected, and never one scored the same: a prompt whose generations all
//!   tie is dropped.
//!
//! The random choice is seeded per prompt, so the same seed gives the same
//! pairs whatever the order or number of other prompts.

use crate::prng::SplitMix64;
use crate::record::{Aspect, ParseStatus, RatingValue, Record, Verdict};
use serde::{Deserialize, Serialize};

/// Where a generation's score comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScoreSource {
    /// One judge's parsed ratings (`judge`, its [`crate::record::Judgment::judge_label`]),
    /// or the mean of a panel: every judge, on one aspect or on all of them.
    Judge {
        /// The aspect, or all of them.
        aspect: Option<Aspect>,
        /// One judge by its label, or every judge.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        judge: Option<String>,
    },
    /// The mean of people's 1–5 scores.
    Likert,
    /// The mean position in people's rankings, from 1 (always first) to 0 (always last).
    Ranking,
    /// The share of A-vs-B questions won; a tie counts half, "both bad" nothing.
    Pairwise,
    /// The share of 👍 among people's 👍/👎.
    Thumbs,
}

impl ScoreSource {
    /// A description for the dataset card.
    pub fn describe(&self) -> String {
        match self {
            ScoreSource::Judge { judge: Some(judge), .. } => format!("the UltraFeedback ratings of one judge ({judge})"),
            ScoreSource::Judge {
                aspect: Some(aspect),
                judge: None,
            } => format!("the mean of the judges' UltraFeedback ratings on {}", aspect.as_str()),
            ScoreSource::Judge { aspect: None, judge: None } => {
                "the mean of the judges' UltraFeedback ratings over all judges and aspects".to_string()
            }
            ScoreSource::Likert => "the mean of human 1–5 ratings".to_string(),
            ScoreSource::Ranking => {
                "the mean position in human rankings (1 = always first, 0 = always last)"
                    .to_string()
            }
            ScoreSource::Pairwise => {
                "the share of human A-vs-B comparisons won (a tie counts half)".to_string()
            }
            ScoreSource::Thumbs => "the share of human thumbs-up".to_string(),
        }
    }
}

/// How the rejected completion is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairStrategy {
    /// The lowest-scored generation.
    BestVsWorst,
    /// A seeded random choice among the lower-scored generations.
    BestVsRandom,
}

/// Everything that decides the pairs; it is recorded in the export and its card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinarizePolicy {
    /// Where scores come from.
    pub source: ScoreSource,
    /// How `rejected` is picked.
    pub strategy: PairStrategy,
    /// The smallest score difference between chosen and rejected; 0 still drops ties.
    pub min_margin: f64,
    /// The seed of [`PairStrategy::BestVsRandom`].
    pub seed: u64,
}

impl Default for BinarizePolicy {
    fn default() -> BinarizePolicy {
        BinarizePolicy {
            source: ScoreSource::Judge { aspect: None, judge: None },
            strategy: PairStrategy::BestVsRandom,
            min_margin: 0.0,
            seed: 42,
        }
    }
}

impl BinarizePolicy {
    /// A sentence for the dataset card.
    pub fn describe(&self) -> String {
        let rejected = match self.strategy {
            PairStrategy::BestVsWorst => "the lowest-scored one".to_string(),
            PairStrategy::BestVsRandom => {
                format!("a random lower-scored one (seed {}), as in Zephyr's UltraFeedback binarization", self.seed)
            }
        };
        format!(
            "Pairs were binarized from {}: chosen is the highest-scored completion, rejected is {rejected}; \
             the score margin is at least {}, and ties are dropped.",
            self.source.describe(),
            self.min_margin
        )
    }
}

/// Why a prompt gave no pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Fewer than two generations have a score.
    TooFew,
    /// Every scored generation has the best score.
    Tie,
    /// Lower-scored generations exist, but none by the minimum margin.
    BelowMargin,
}

/// Picks `(chosen, rejected)` indices from per-generation scores (`None`
/// for unscored). `key` (the prompt id) seeds the random choice.
pub fn binarize(
    scores: &[Option<f64>],
    policy: &BinarizePolicy,
    key: &str,
) -> Result<(usize, usize), Dropped> {
    let scored: Vec<(usize, f64)> = scores
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.filter(|s| s.is_finite()).map(|s| (i, s)))
        .collect();
    if scored.len() < 2 {
        return Err(Dropped::TooFew);
    }
    // The first of the best, so the choice does not depend on float noise in sorting.
    let (chosen, best) =
        scored.iter().copied().fold(
            scored[0],
            |top, (i, s)| if s > top.1 { (i, s) } else { top },
        );
    if scored.iter().all(|&(_, s)| s >= best) {
        return Err(Dropped::Tie);
    }
    let eligible: Vec<(usize, f64)> = scored
        .into_iter()
        .filter(|&(_, s)| s < best && best - s >= policy.min_margin)
        .collect();
    if eligible.is_empty() {
        return Err(Dropped::BelowMargin);
    }
    let rejected = match policy.strategy {
        PairStrategy::BestVsWorst => {
            eligible
                .iter()
                .copied()
                .fold(
                    eligible[0],
                    |low, (i, s)| if s < low.1 { (i, s) } else { low },
                )
                .0
        }
        PairStrategy::BestVsRandom => {
            eligible[SplitMix64::for_key(policy.seed, key).below(eligible.len())].0
        }
    };
    Ok((chosen, rejected))
}

/// Each generation's score from a source, in generation order; `None` for
/// a generation the source says nothing about.
pub fn scores(record: &Record, source: &ScoreSource) -> Vec<Option<f64>> {
    let position = record.generation_positions();
    // Per generation: (sum, count) of the values that make its score.
    let mut sums = vec![(0.0f64, 0usize); record.generations.len()];
    let mut add = |id: &str, value: f64| {
        if let Some(&i) = position.get(id) {
            sums[i].0 += value;
            sums[i].1 += 1;
        }
    };
    match source {
        ScoreSource::Judge { aspect, judge } => {
            for g in &record.generations {
                for j in &g.judgments {
                    let chosen = match judge {
                        Some(label) => j.judge_label() == *label,
                        None => aspect.is_none_or(|a| a == j.aspect),
                    };
                    if j.status == ParseStatus::Parsed && chosen {
                        if let Some(rating) = j.rating {
                            add(&g.id, rating);
                        }
                    }
                }
            }
        }
        _ => {
            for rating in record.current_ratings() {
                match (&rating.value, source) {
                    (
                        RatingValue::Likert {
                            generation_id,
                            score,
                        },
                        ScoreSource::Likert,
                    ) => {
                        add(generation_id, f64::from(*score));
                    }
                    (RatingValue::KtoThumbs { generation_id, up }, ScoreSource::Thumbs) => {
                        add(generation_id, if *up { 1.0 } else { 0.0 });
                    }
                    (RatingValue::Ranking { generation_ids }, ScoreSource::Ranking)
                        if generation_ids.len() > 1 =>
                    {
                        let last = (generation_ids.len() - 1) as f64;
                        for (place, id) in generation_ids.iter().enumerate() {
                            add(id, 1.0 - place as f64 / last);
                        }
                    }
                    (RatingValue::Pairwise { a, b, verdict }, ScoreSource::Pairwise) => {
                        let (score_a, score_b) = match verdict {
                            Verdict::A => (1.0, 0.0),
                            Verdict::B => (0.0, 1.0),
                            Verdict::Tie => (0.5, 0.5),
                            Verdict::BothBad => (0.0, 0.0),
                        };
                        add(a, score_a);
                        add(b, score_b);
                    }
                    _ => {}
                }
            }
        }
    }
    sums.into_iter()
        .map(|(sum, count)| (count > 0).then(|| sum / count as f64))
        .collect()
}

/// Every scored generation's score from a source, by generation id, over
/// all records: what the agreement charts compare.
pub fn scores_by_generation(records: &[Record], source: &ScoreSource) -> std::collections::HashMap<String, f64> {
    records
        .iter()
        .flat_map(|record| record.generations.iter().zip(scores(record, source)).filter_map(|(g, score)| score.map(|score| (g.id.clone(), score))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::fixtures;
    use crate::record::HumanRating;
    use proptest::prelude::*;

    fn policy(strategy: PairStrategy, min_margin: f64, seed: u64) -> BinarizePolicy {
        BinarizePolicy {
            source: ScoreSource::Judge { aspect: None, judge: None },
            strategy,
            min_margin,
            seed,
        }
    }

    #[test]
    fn best_vs_worst() {
        let scores = [Some(3.0), Some(5.0), Some(1.0), Some(4.0)];
        assert_eq!(
            binarize(&scores, &policy(PairStrategy::BestVsWorst, 0.0, 0), "p"),
            Ok((1, 2))
        );
    }

    #[test]
    fn best_vs_random_picks_among_lower_ones() {
        let scores = [Some(3.0), Some(5.0), Some(1.0), Some(4.0)];
        let mut seen = std::collections::HashSet::new();
        for seed in 0..50 {
            let (chosen, rejected) =
                binarize(&scores, &policy(PairStrategy::BestVsRandom, 0.0, seed), "p").unwrap();
            assert_eq!(chosen, 1);
            seen.insert(rejected);
        }
        assert_eq!(seen, [0, 2, 3].into_iter().collect());
    }

    #[test]
    fn drops_ties_too_few_and_small_margins() {
        let p = policy(PairStrategy::BestVsWorst, 0.0, 0);
        assert_eq!(
            binarize(&[Some(4.0), Some(4.0)], &p, "p"),
            Err(Dropped::Tie)
        );
        assert_eq!(binarize(&[Some(4.0), None], &p, "p"), Err(Dropped::TooFew));
        assert_eq!(
            binarize(&[Some(f64::NAN), Some(2.0)], &p, "p"),
            Err(Dropped::TooFew)
        );
        let wide = policy(PairStrategy::BestVsWorst, 1.5, 0);
        assert_eq!(
            binarize(&[Some(4.0), Some(3.0)], &wide, "p"),
            Err(Dropped::BelowMargin)
        );
        assert_eq!(
            binarize(&[Some(4.0), Some(3.0), Some(2.0)], &wide, "p"),
            Ok((0, 2))
        );
    }

    #[test]
    fn the_first_best_is_chosen_on_a_tie_at_the_top() {
        let p = policy(PairStrategy::BestVsWorst, 0.0, 0);
        assert_eq!(
            binarize(&[Some(2.0), Some(5.0), Some(5.0)], &p, "p"),
            Ok((1, 0))
        );
    }

    #[test]
    fn judge_scores_by_aspect_or_mean_skipping_failures() {
        let mut record = fixtures::judged("q", &[4.0, 2.0]);
        let mut failed = record.generations[0].judgments[0].clone();
        failed.status = ParseStatus::Failed { reason: "x".into() };
        failed.rating = Some(1.0);
        record.generations[0].judgments.push(failed);
        let mut honesty = record.generations[1].judgments[0].clone();
        honesty.aspect = Aspect::Honesty;
        honesty.rating = Some(4.0);
        record.generations[1].judgments.push(honesty);
        assert_eq!(
            scores(&record, &ScoreSource::Judge { aspect: None, judge: None }),
            [Some(4.0), Some(3.0)]
        );
        assert_eq!(
            scores(
                &record,
                &ScoreSource::Judge {
                    aspect: Some(Aspect::Honesty),
                    judge: None,
                }
            ),
            [None, Some(4.0)]
        );
        // One judge of the panel, by its label.
        let one = ScoreSource::Judge { aspect: None, judge: Some("judge · critique · honesty".into()) };
        assert_eq!(scores(&record, &one), [None, Some(4.0)]);
        assert!(one.describe().contains("one judge (judge · critique · honesty)"));
    }

    #[test]
    fn human_scores_from_each_kind_of_question() {
        let mut record = fixtures::judged("q", &[1.0, 1.0, 1.0]);
        let ids: Vec<String> = record.generations.iter().map(|g| g.id.clone()).collect();
        let rating = |annotator: &str, value: RatingValue| HumanRating {
            annotator: annotator.into(),
            question: String::new(),
            value,
            created_at_ms: 0,
        };
        record.ratings = vec![
            rating(
                "a",
                RatingValue::Likert {
                    generation_id: ids[0].clone(),
                    score: 5,
                },
            ),
            rating(
                "b",
                RatingValue::Likert {
                    generation_id: ids[0].clone(),
                    score: 4,
                },
            ),
            rating(
                "a",
                RatingValue::Ranking {
                    generation_ids: vec![ids[2].clone(), ids[0].clone(), ids[1].clone()],
                },
            ),
            rating(
                "a",
                RatingValue::Pairwise {
                    a: ids[0].clone(),
                    b: ids[1].clone(),
                    verdict: Verdict::A,
                },
            ),
            rating(
                "b",
                RatingValue::Pairwise {
                    a: ids[1].clone(),
                    b: ids[0].clone(),
                    verdict: Verdict::Tie,
                },
            ),
            rating(
                "a",
                RatingValue::KtoThumbs {
                    generation_id: ids[1].clone(),
                    up: true,
                },
            ),
            rating(
                "b",
                RatingValue::KtoThumbs {
                    generation_id: ids[1].clone(),
                    up: false,
                },
            ),
            rating(
                "c",
                RatingValue::KtoThumbs {
                    generation_id: "unknown".into(),
                    up: true,
                },
            ),
        ];
        assert_eq!(
            scores(&record, &ScoreSource::Likert),
            [Some(4.5), None, None]
        );
        assert_eq!(
            scores(&record, &ScoreSource::Ranking),
            [Some(0.5), Some(0.0), Some(1.0)]
        );
        assert_eq!(
            scores(&record, &ScoreSource::Pairwise),
            [Some(0.75), Some(0.25), None]
        );
        assert_eq!(
            scores(&record, &ScoreSource::Thumbs),
            [None, Some(0.5), None]
        );
    }

    #[test]
    fn policy_description_names_source_strategy_seed_and_margin() {
        let text = BinarizePolicy {
            min_margin: 1.0,
            ..Default::default()
        }
        .describe();
        assert!(
            text.contains("mean of the judges' UltraFeedback ratings over all judges"),
            "{text}"
        );
        assert!(text.contains("random lower-scored one (seed 42)"), "{text}");
        assert!(text.contains("margin is at least 1"), "{text}");
    }

    fn score() -> impl Strategy<Value = Option<f64>> {
        // Half-point ratings, as judges and Likert means give, so ties are common.
        prop_oneof![1 => Just(None), 6 => (2u8..=10).prop_map(|h| Some(f64::from(h) / 2.0))]
    }

    proptest! {
        #[test]
        fn pairs_respect_the_invariants(
            scores in proptest::collection::vec(score(), 0..8),
            margin in prop_oneof![Just(0.0), Just(0.5), Just(1.0), Just(2.5)],
            random in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let strategy = if random { PairStrategy::BestVsRandom } else { PairStrategy::BestVsWorst };
            let p = policy(strategy, margin, seed);
            match binarize(&scores, &p, "prompt") {
                Ok((chosen, rejected)) => {
                    prop_assert_ne!(chosen, rejected);
                    let (c, r) = (scores[chosen].unwrap(), scores[rejected].unwrap());
                    prop_assert!(c > r);
                    prop_assert!(c - r >= margin);
                    prop_assert!(scores.iter().flatten().all(|&s| s <= c));
                    // Deterministic for a seed.
                    prop_assert_eq!(binarize(&scores, &p, "prompt"), Ok((chosen, rejected)));
                }
                Err(Dropped::TooFew) => prop_assert!(scores.iter().flatten().count() < 2),
                Err(Dropped::Tie) => {
                    let values: Vec<f64> = scores.iter().flatten().copied().collect();
                    prop_assert!(values.windows(2).all(|w| w[0] == w[1]));
                }
                Err(Dropped::BelowMargin) => {
                    let values: Vec<f64> = scores.iter().flatten().copied().collect();
                    let best = values.iter().copied().fold(f64::MIN, f64::max);
                    prop_assert!(values.iter().all(|&s| s == best || best - s < margin));
                }
            }
        }
    }
}
