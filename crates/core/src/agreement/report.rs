//! How far the people rating a project agree, for each kind of question.
//!
//! Every kind of answer is turned into units (what was rated) and one small
//! integer value per person and unit, so one path serves all four kinds;
//! only the statistic differs, chosen by what the values mean:
//!
//! | mode | unit | value | statistic |
//! |---|---|---|---|
//! | 👍/👎 | the generation | down 0, up 1 | Fleiss' κ |
//! | pairwise | the unordered pair | lower id wins, higher wins, tie, both bad | α nominal |
//! | Likert | the generation | the score | α interval |
//! | ranking | the set ranked, and one generation in it | its place, 1 = best | α ordinal |

use super::{fleiss_kappa, krippendorff_alpha, Metric};
use crate::contribute::RatingMode;
use crate::record::{HumanRating, RatingValue, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which agreement statistic a report holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// Fleiss' kappa, for categories; units may have different numbers of raters.
    FleissKappa,
    /// Krippendorff's alpha with the given metric.
    KrippendorffAlpha(Metric),
}

impl Statistic {
    /// The statistic a mode's answers are measured with: categories get a
    /// kappa or a nominal alpha, scores an interval alpha, places in a
    /// ranking an ordinal alpha (place 2 is between 1 and 3, but the steps
    /// need not be equal).
    pub fn for_mode(mode: RatingMode) -> Statistic {
        match mode {
            RatingMode::KtoThumbs => Statistic::FleissKappa,
            RatingMode::Pairwise => Statistic::KrippendorffAlpha(Metric::Nominal),
            RatingMode::Likert => Statistic::KrippendorffAlpha(Metric::Interval),
            RatingMode::Ranking => Statistic::KrippendorffAlpha(Metric::Ordinal),
        }
    }

    /// The name to show, e.g. "Fleiss' κ" or "Krippendorff's α (interval)".
    pub fn name(self) -> &'static str {
        match self {
            Statistic::FleissKappa => "Fleiss' κ",
            Statistic::KrippendorffAlpha(Metric::Nominal) => "Krippendorff's α (nominal)",
            Statistic::KrippendorffAlpha(Metric::Ordinal) => "Krippendorff's α (ordinal)",
            Statistic::KrippendorffAlpha(Metric::Interval) => "Krippendorff's α (interval)",
        }
    }
}

/// How far the people who rated a project agree.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementReport {
    /// What [`AgreementReport::value`] is.
    pub statistic: Statistic,
    /// The statistic; `None` when fewer than two people rated the same thing,
    /// or when it is undefined because every answer was the same (nothing
    /// was left to chance, so there is no agreement beyond it to measure).
    pub value: Option<f64>,
    /// How many units at least two people rated: what the value rests on.
    pub units: usize,
    /// Everyone who answered a question of the project's kind, sorted by name.
    pub people: Vec<PersonAgreement>,
}

/// How often one person gave the answer most of the others gave.
///
/// A person far below everyone else is likely rating carelessly (or
/// reading the guidelines differently), which the overall statistic hides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonAgreement {
    /// The person.
    pub annotator: String,
    /// Units this person rated where at least two others did too and the
    /// others had a single most common answer.
    pub compared: usize,
    /// Of those, how many where this person gave that answer.
    pub agreed: usize,
}

impl PersonAgreement {
    /// `agreed / compared`; `None` when nothing could be compared.
    pub fn rate(&self) -> Option<f64> {
        (self.compared > 0).then(|| self.agreed as f64 / self.compared as f64)
    }
}

/// What one value is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Unit {
    /// The question's generations, sorted, so that the order they were shown
    /// in does not make two people's answers to it different units.
    generations: Vec<String>,
    /// For a ranking, the one generation whose place this is.
    ranked: Option<String>,
}

/// Pairwise verdicts, relative to the pair sorted by id rather than to the
/// A/B order one person happened to see. The numbers are codes, not amounts.
const LOWER_WINS: u32 = 0;
const HIGHER_WINS: u32 = 1;
const TIE: u32 = 2;
const BOTH_BAD: u32 = 3;

/// The units and values in one answer; empty when it is not of `mode`'s kind.
fn unit_values(mode: RatingMode, value: &RatingValue) -> Vec<(Unit, u32)> {
    let single = |id: &str| Unit {
        generations: vec![id.to_owned()],
        ranked: None,
    };
    match (mode, value) {
        (RatingMode::KtoThumbs, RatingValue::KtoThumbs { generation_id, up }) => {
            vec![(single(generation_id), u32::from(*up))]
        }
        (
            RatingMode::Likert,
            RatingValue::Likert {
                generation_id,
                score,
            },
        ) => {
            vec![(single(generation_id), u32::from(*score))]
        }
        (RatingMode::Pairwise, RatingValue::Pairwise { a, b, verdict }) => {
            // Two people shown x/y and y/x who both prefer x must agree, so
            // "A is better" becomes "the lower id is better" or "the higher".
            let a_is_lower = a <= b;
            let code = match verdict {
                Verdict::A if a_is_lower => LOWER_WINS,
                Verdict::A => HIGHER_WINS,
                Verdict::B if a_is_lower => HIGHER_WINS,
                Verdict::B => LOWER_WINS,
                Verdict::Tie => TIE,
                Verdict::BothBad => BOTH_BAD,
            };
            let (lower, higher) = if a_is_lower { (a, b) } else { (b, a) };
            let unit = Unit {
                generations: vec![lower.clone(), higher.clone()],
                ranked: None,
            };
            vec![(unit, code)]
        }
        (RatingMode::Ranking, RatingValue::Ranking { generation_ids }) => {
            let mut set = generation_ids.clone();
            set.sort_unstable();
            set.dedup();
            // A generation listed twice has no one place; the session never
            // produces that, and a malformed answer is better left out than
            // half counted.
            if set.len() != generation_ids.len() {
                return Vec::new();
            }
            generation_ids
                .iter()
                .zip(1..)
                .map(|(id, place)| {
                    let unit = Unit {
                        generations: set.clone(),
                        ranked: Some(id.clone()),
                    };
                    (unit, place)
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The value given strictly more often than any other; `None` on a tie.
fn plurality(values: impl IntoIterator<Item = u32>) -> Option<u32> {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let most = *counts.values().max()?;
    let mut winners = counts.iter().filter(|&(_, &c)| c == most);
    let (&winner, _) = winners.next()?;
    winners.next().is_none().then_some(winner)
}

/// How far the people who answered `mode`'s questions agree: the statistic
/// for the mode ([`Statistic::for_mode`]) over every unit at least two people
/// rated, and each person's agreement with the majority of the others.
///
/// `ratings` should hold one answer per person and question (the newest);
/// answers of another kind than `mode` are ignored. Should a person still
/// have two answers about the same unit, the newer counts, so no one is
/// counted twice.
///
/// A person's agreement is taken over the units they rated that at least
/// two others rated too: against the others' strict plurality, leaving the
/// person out so they do not vote for themselves. Units where the others tie
/// are skipped, as there is no majority to agree with.
pub fn agreement_report(mode: RatingMode, ratings: &[HumanRating]) -> AgreementReport {
    let statistic = Statistic::for_mode(mode);
    // unit → person → (when, value). Sorted maps keep the report the same
    // whatever order the store returned the ratings in.
    let mut units: BTreeMap<Unit, BTreeMap<&str, (u64, u32)>> = BTreeMap::new();
    let mut people: BTreeMap<&str, PersonAgreement> = BTreeMap::new();
    for rating in ratings {
        let values = unit_values(mode, &rating.value);
        if values.is_empty() {
            continue;
        }
        let person = rating.annotator.as_str();
        people.entry(person).or_insert_with(|| PersonAgreement {
            annotator: person.to_owned(),
            compared: 0,
            agreed: 0,
        });
        for (unit, value) in values {
            let slot = units
                .entry(unit)
                .or_default()
                .entry(person)
                .or_insert((rating.created_at_ms, value));
            if rating.created_at_ms >= slot.0 {
                *slot = (rating.created_at_ms, value);
            }
        }
    }

    let shared: Vec<Vec<u32>> = units
        .values()
        .filter(|by| by.len() >= 2)
        .map(|by| by.values().map(|&(_, v)| v).collect())
        .collect();
    let value = match statistic {
        Statistic::FleissKappa => {
            let categories = shared.iter().flatten().max().map_or(0, |&m| m as usize + 1);
            let counts: Vec<Vec<usize>> = shared
                .iter()
                .map(|unit| {
                    let mut row = vec![0; categories];
                    for &v in unit {
                        row[v as usize] += 1;
                    }
                    row
                })
                .collect();
            fleiss_kappa(&counts)
        }
        Statistic::KrippendorffAlpha(metric) => {
            let values: Vec<Vec<f64>> = shared
                .iter()
                .map(|unit| unit.iter().map(|&v| f64::from(v)).collect())
                .collect();
            krippendorff_alpha(&values, metric)
        }
    };

    // The person plus at least two others: with one other, "the majority"
    // is just that one person, and a disagreement says nothing about who
    // was careless.
    for by in units.values().filter(|by| by.len() >= 3) {
        for (&person, &(_, mine)) in by {
            let others = by
                .iter()
                .filter(|&(&other, _)| other != person)
                .map(|(_, &(_, v))| v);
            if let Some(majority) = plurality(others) {
                let entry = people
                    .get_mut(person)
                    .expect("everyone in a unit is listed");
                entry.compared += 1;
                if mine == majority {
                    entry.agreed += 1;
                }
            }
        }
    }

    AgreementReport {
        statistic,
        value,
        units: shared.len(),
        people: people.into_values().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    fn rating(annotator: &str, value: RatingValue, at: u64) -> HumanRating {
        HumanRating {
            annotator: annotator.to_owned(),
            question: "?".to_owned(),
            value,
            created_at_ms: at,
        }
    }

    fn thumbs(annotator: &str, generation: &str, up: bool) -> HumanRating {
        let value = RatingValue::KtoThumbs {
            generation_id: generation.to_owned(),
            up,
        };
        rating(annotator, value, 0)
    }

    fn pair(annotator: &str, a: &str, b: &str, verdict: Verdict) -> HumanRating {
        let value = RatingValue::Pairwise {
            a: a.to_owned(),
            b: b.to_owned(),
            verdict,
        };
        rating(annotator, value, 0)
    }

    fn likert(annotator: &str, generation: &str, score: u8, at: u64) -> HumanRating {
        let value = RatingValue::Likert {
            generation_id: generation.to_owned(),
            score,
        };
        rating(annotator, value, at)
    }

    fn ranking(annotator: &str, best_first: &[&str]) -> HumanRating {
        let value = RatingValue::Ranking {
            generation_ids: best_first.iter().map(|&g| g.to_owned()).collect(),
        };
        rating(annotator, value, 0)
    }

    /// (annotator, compared, agreed) for each person, in the report's order.
    fn tallies(report: &AgreementReport) -> Vec<(&str, usize, usize)> {
        report
            .people
            .iter()
            .map(|p| (p.annotator.as_str(), p.compared, p.agreed))
            .collect()
    }

    #[test]
    fn thumbs_use_fleiss_kappa_and_the_others_majority() {
        let ratings = vec![
            thumbs("carol", "g1", true),
            thumbs("alice", "g1", true),
            thumbs("bob", "g1", true),
            thumbs("alice", "g2", false),
            thumbs("bob", "g2", false),
            thumbs("carol", "g2", true),
            // Only one person: not a unit.
            thumbs("alice", "g3", true),
            // Another kind of question: ignored, and dave is not listed.
            likert("dave", "g1", 5, 0),
        ];
        let report = agreement_report(RatingMode::KtoThumbs, &ratings);
        assert_eq!(report.statistic, Statistic::FleissKappa);
        assert_eq!(report.units, 2);
        // [down, up]: g1 [0, 3], g2 [2, 1]. P̄ = (1 + 1/3) / 2 = 2/3;
        // p = (2/6, 4/6) → P_e = 5/9; κ = (2/3 − 5/9) / (4/9) = 1/4.
        assert!(close(report.value.unwrap(), 0.25));
        // g1: everyone matches the other two. g2: alice's and bob's others
        // tie (one down, one up), so only carol is compared, and she differs.
        assert_eq!(
            tallies(&report),
            vec![("alice", 1, 1), ("bob", 1, 1), ("carol", 2, 1)]
        );
        assert_eq!(report.people[2].rate(), Some(0.5));
    }

    #[test]
    fn pairwise_verdicts_follow_the_completion_not_the_side() {
        // alice sees x as A and prefers it; bob sees x as B and prefers it.
        // Likewise both call u/v a tie whatever the order.
        let ratings = vec![
            pair("alice", "x", "y", Verdict::A),
            pair("bob", "y", "x", Verdict::B),
            pair("alice", "u", "v", Verdict::Tie),
            pair("bob", "v", "u", Verdict::Tie),
        ];
        let report = agreement_report(RatingMode::Pairwise, &ratings);
        assert_eq!(
            report.statistic,
            Statistic::KrippendorffAlpha(Metric::Nominal)
        );
        assert_eq!(report.units, 2);
        assert!(close(report.value.unwrap(), 1.0));

        // Had bob picked A on y/x, he would prefer y: no agreement on that pair.
        let mut disagree = ratings.clone();
        disagree[1] = pair("bob", "y", "x", Verdict::A);
        let report = agreement_report(RatingMode::Pairwise, &disagree);
        assert!(report.value.unwrap() < 1.0);
    }

    #[test]
    fn a_careless_rater_agrees_with_no_majority() {
        // carol is shown y/x and picks A (y), against everyone's x; on u/v she
        // says both are bad where everyone else says tie.
        let ratings = vec![
            pair("alice", "x", "y", Verdict::A),
            pair("bob", "y", "x", Verdict::B),
            pair("carol", "y", "x", Verdict::A),
            pair("dave", "x", "y", Verdict::A),
            pair("alice", "u", "v", Verdict::Tie),
            pair("bob", "v", "u", Verdict::Tie),
            pair("carol", "u", "v", Verdict::BothBad),
            pair("dave", "v", "u", Verdict::Tie),
        ];
        let report = agreement_report(RatingMode::Pairwise, &ratings);
        // Units [lower, lower, higher, lower] and [tie, tie, both bad, tie]:
        // n = 8, marginals 3, 1, 3, 1. Σ o δ² = 2 per unit (3·1·2 ordered
        // disagreeing pairs / 3) = 4; Σ n_c n_k δ² = 8² − (9+1+9+1) = 44.
        // α = 1 − 7 · 4/44 = 4/11.
        assert!(close(report.value.unwrap(), 4.0 / 11.0));
        assert_eq!(
            tallies(&report),
            vec![
                ("alice", 2, 2),
                ("bob", 2, 2),
                ("carol", 2, 0),
                ("dave", 2, 2)
            ]
        );
        assert_eq!(report.people[2].rate(), Some(0.0));
    }

    #[test]
    fn likert_scores_use_interval_alpha() {
        let ratings = vec![
            likert("alice", "g1", 4, 0),
            likert("bob", "g1", 5, 0),
            likert("carol", "g1", 4, 0),
            likert("alice", "g2", 1, 0),
            likert("bob", "g2", 2, 0),
            likert("carol", "g2", 1, 0),
        ];
        let report = agreement_report(RatingMode::Likert, &ratings);
        assert_eq!(
            report.statistic,
            Statistic::KrippendorffAlpha(Metric::Interval)
        );
        assert_eq!(report.statistic.name(), "Krippendorff's α (interval)");
        // Units [4, 5, 4] and [1, 2, 1]: n = 6, marginals 1:2, 2:1, 4:2, 5:1.
        // Σ o δ² = 2 per unit (4 ordered pairs with δ² 1, / 2) = 4.
        // Σ n_c n_k δ² = 2 · (2·1·1 + 2·2·9 + 2·1·16 + 1·2·4 + 1·1·9 + 2·1·1) = 178.
        // α = 1 − 5 · 4/178 = 79/89.
        assert!(close(report.value.unwrap(), 79.0 / 89.0));
        // bob is one point above the others both times; alice's and carol's
        // others split (4 and 5, 1 and 2), so they are not compared.
        assert_eq!(
            tallies(&report),
            vec![("alice", 0, 0), ("bob", 2, 0), ("carol", 0, 0)]
        );
        assert_eq!(report.people[0].rate(), None);
    }

    #[test]
    fn a_second_answer_about_the_same_unit_counts_once_the_newer() {
        let ratings = vec![
            likert("alice", "g1", 5, 20),
            likert("alice", "g1", 1, 10),
            likert("bob", "g1", 5, 0),
            likert("alice", "g2", 2, 0),
            likert("bob", "g2", 3, 0),
        ];
        let report = agreement_report(RatingMode::Likert, &ratings);
        assert_eq!(report.units, 2);
        // Units [5, 5] and [2, 3]: n = 4. Σ o δ² = 2; Σ n_c n_k δ² =
        // 2 · (1·1·1 + 1·2·9 + 1·2·4) = 54. α = 1 − 3 · 2/54 = 8/9.
        assert!(close(report.value.unwrap(), 8.0 / 9.0));
    }

    #[test]
    fn rankings_use_ordinal_alpha_over_places() {
        let ratings = vec![
            ranking("alice", &["x", "y", "z"]),
            ranking("bob", &["x", "z", "y"]),
            // Another set: its own units, rated by carol alone.
            ranking("carol", &["x", "y"]),
            // A generation twice: no place for it; left out.
            ranking("dave", &["x", "x", "z"]),
        ];
        let report = agreement_report(RatingMode::Ranking, &ratings);
        assert_eq!(
            report.statistic,
            Statistic::KrippendorffAlpha(Metric::Ordinal)
        );
        assert_eq!(report.units, 3);
        // Units x [1, 1], y [2, 3], z [3, 2]: marginals 2 each.
        // δ²(1,2) = δ²(2,3) = (4 − 2)² = 4, δ²(1,3) = (6 − 2)² = 16.
        // Σ o δ² = 8 (y) + 8 (z) = 16; Σ n_c n_k δ² = 2 · 4 · (4 + 4 + 16) = 192.
        // α = 1 − 5 · 16/192 = 7/12.
        assert!(close(report.value.unwrap(), 7.0 / 12.0));
        let names: Vec<&str> = report.people.iter().map(|p| p.annotator.as_str()).collect();
        assert_eq!(names, vec!["alice", "bob", "carol"]);
    }

    #[test]
    fn no_overlap_means_no_value() {
        let ratings = vec![thumbs("alice", "g1", true), thumbs("bob", "g2", false)];
        let report = agreement_report(RatingMode::KtoThumbs, &ratings);
        assert_eq!(report.value, None);
        assert_eq!(report.units, 0);
        assert_eq!(tallies(&report), vec![("alice", 0, 0), ("bob", 0, 0)]);

        let report = agreement_report(RatingMode::Ranking, &ratings);
        assert_eq!(report.value, None);
        assert!(report.people.is_empty());

        // Everyone agrees on everything, all thumbs up: κ is undefined.
        let ratings = vec![thumbs("alice", "g1", true), thumbs("bob", "g1", true)];
        assert_eq!(
            agreement_report(RatingMode::KtoThumbs, &ratings).value,
            None
        );
    }

    #[test]
    fn plurality_is_strict() {
        assert_eq!(plurality([1, 1, 2]), Some(1));
        assert_eq!(plurality([1, 2]), None);
        assert_eq!(plurality([1, 1, 2, 2, 3]), None);
        assert_eq!(plurality([]), None);
    }

    #[test]
    fn statistic_names() {
        assert_eq!(
            Statistic::for_mode(RatingMode::KtoThumbs).name(),
            "Fleiss' κ"
        );
        assert_eq!(
            Statistic::for_mode(RatingMode::Ranking).name(),
            "Krippendorff's α (ordinal)"
        );
    }
}
