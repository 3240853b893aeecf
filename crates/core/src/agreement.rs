//! Annotator agreement: combining several people's labels into one, and
//! measuring how far they agree beyond chance.
//!
//! When several people rate the same completion, the KTO export needs one
//! label per completion. [`AgreementPolicy`] says how to get it — everyone
//! agrees, or a strict majority — and [`vote`] applies it. How reliable the
//! labels are is reported as a kappa: [`cohen_kappa`] for two annotators,
//! [`fleiss_kappa`] for more. Kappa is 1 for perfect agreement, 0 for the
//! agreement chance alone would give, and negative below that.
//!
//! Kappa only knows categories. Scores and ranks have an order and a
//! distance — a 4 against a 5 is a smaller disagreement than a 1 against a 5 —
//! so for them [`krippendorff_alpha`] measures the same thing with a
//! [`Metric`] saying how much each difference counts. It also takes units
//! rated by any number of people, which is how a campaign's ratings come.
//!
//! [`agreement_report`] turns a project's ratings, of whichever kind of
//! question it asks, into the right statistic plus each person's agreement
//! with the others' majority.

mod report;

pub use report::{agreement_report, AgreementReport, PersonAgreement, Statistic};

use serde::{Deserialize, Serialize};

/// How several annotators' labels of one item become one label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgreementPolicy {
    /// Keep an item only when every annotator gave the same label.
    Unanimous,
    /// Keep the label more than half of the annotators gave; drop ties.
    Majority,
}

impl AgreementPolicy {
    /// A short description for the dataset card.
    pub fn describe(self) -> &'static str {
        match self {
            AgreementPolicy::Unanimous => {
                "full agreement (an item is kept only when every annotator gave the same label)"
            }
            AgreementPolicy::Majority => {
                "majority vote (the label most annotators gave; ties are dropped)"
            }
        }
    }
}

/// The outcome of combining labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote<T> {
    /// One label won.
    Label(T),
    /// The annotators disagreed and the policy is [`AgreementPolicy::Unanimous`].
    Disagreement,
    /// No label had a strict majority.
    Tie,
}

/// Combines one item's labels under a policy; `labels` must not be empty.
pub fn vote<T: PartialEq + Copy>(labels: &[T], policy: AgreementPolicy) -> Vote<T> {
    let Some(&first) = labels.first() else {
        return Vote::Tie;
    };
    match policy {
        AgreementPolicy::Unanimous => {
            if labels.iter().all(|&l| l == first) {
                Vote::Label(first)
            } else {
                Vote::Disagreement
            }
        }
        AgreementPolicy::Majority => {
            // Few labels per item: counting each against all is cheap and needs no Hash.
            let winner = labels
                .iter()
                .map(|&l| (l, labels.iter().filter(|&&m| m == l).count()))
                .find(|&(_, count)| count * 2 > labels.len());
            winner.map_or(Vote::Tie, |(label, _)| Vote::Label(label))
        }
    }
}

/// Cohen's kappa for two annotators, over the items both labelled: `pairs`
/// holds (first annotator's label, second's).
///
/// `None` when it is undefined: no items, or chance agreement is already
/// total (both annotators always used the same single label).
pub fn cohen_kappa<T: PartialEq + Copy>(pairs: &[(T, T)]) -> Option<f64> {
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    let mut categories: Vec<T> = Vec::new();
    for &(a, b) in pairs {
        for label in [a, b] {
            if !categories.contains(&label) {
                categories.push(label);
            }
        }
    }
    let observed = pairs.iter().filter(|(a, b)| a == b).count() as f64 / n;
    let expected: f64 = categories
        .iter()
        .map(|&c| {
            let first = pairs.iter().filter(|(a, _)| *a == c).count() as f64 / n;
            let second = pairs.iter().filter(|(_, b)| *b == c).count() as f64 / n;
            first * second
        })
        .sum();
    if (1.0 - expected).abs() < f64::EPSILON {
        return None;
    }
    Some((observed - expected) / (1.0 - expected))
}

/// Fleiss' kappa for any number of annotators: `counts[i][j]` is how many
/// annotators put item `i` in category `j`.
///
/// Items may have different numbers of annotators (people skip items); the
/// per-item agreement is computed over each item's own count, and items with
/// fewer than two labels are left out. `None` when undefined, as for
/// [`cohen_kappa`].
pub fn fleiss_kappa(counts: &[Vec<usize>]) -> Option<f64> {
    let items: Vec<&Vec<usize>> = counts
        .iter()
        .filter(|c| c.iter().sum::<usize>() >= 2)
        .collect();
    if items.is_empty() {
        return None;
    }
    let categories = items.iter().map(|c| c.len()).max().unwrap_or(0);
    let total: usize = items.iter().map(|c| c.iter().sum::<usize>()).sum();
    let observed = items
        .iter()
        .map(|c| {
            let n = c.iter().sum::<usize>() as f64;
            let agreeing: f64 = c.iter().map(|&k| (k * k) as f64).sum::<f64>() - n;
            agreeing / (n * (n - 1.0))
        })
        .sum::<f64>()
        / items.len() as f64;
    let expected: f64 = (0..categories)
        .map(|j| {
            let share = items
                .iter()
                .map(|c| c.get(j).copied().unwrap_or(0))
                .sum::<usize>() as f64
                / total as f64;
            share * share
        })
        .sum();
    if (1.0 - expected).abs() < f64::EPSILON {
        return None;
    }
    Some((observed - expected) / (1.0 - expected))
}

/// How much a difference between two values counts as disagreement in
/// [`krippendorff_alpha`] (Krippendorff's δ², the "difference function").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Categories without order: any two different values disagree equally
    /// (pairwise verdicts, 👍/👎).
    Nominal,
    /// Ranks: only the order counts. Two values are as far apart as how many
    /// values were given between them, so a step both raters rarely use
    /// costs little (positions in a ranking).
    Ordinal,
    /// Numbers on an equal-step scale: disagreement is the squared difference
    /// (Likert scores).
    Interval,
}

impl Metric {
    /// The metric's name, lower case, for display ("interval").
    pub fn name(self) -> &'static str {
        match self {
            Metric::Nominal => "nominal",
            Metric::Ordinal => "ordinal",
            Metric::Interval => "interval",
        }
    }
}

/// Krippendorff's alpha: `1 − observed disagreement / expected disagreement`.
///
/// Each unit is the list of values the people who rated it gave; a person
/// who did not rate a unit is simply absent from it, so units may hold any
/// number of values. Units with fewer than two values cannot be compared and
/// are ignored, and so are values that are not finite (treated as missing).
/// Computed through the coincidence matrix, as in Krippendorff (2011),
/// "Computing Krippendorff's Alpha-Reliability".
///
/// 1 is perfect agreement, 0 what chance alone gives, below 0 systematic
/// disagreement. `None` when there is no unit with two values, or when the
/// expected disagreement is 0 (every value the same: there was nothing to
/// disagree about, so agreement says nothing).
pub fn krippendorff_alpha(units: &[Vec<f64>], metric: Metric) -> Option<f64> {
    // `+ 0.0` turns −0.0 into 0.0, which `total_cmp` would otherwise keep apart.
    let pairable: Vec<Vec<f64>> = units
        .iter()
        .map(|unit| {
            unit.iter()
                .filter(|v| v.is_finite())
                .map(|&v| v + 0.0)
                .collect::<Vec<f64>>()
        })
        .filter(|unit| unit.len() >= 2)
        .collect();
    if pairable.is_empty() {
        return None;
    }

    // The distinct values, ascending (the ordinal and interval metrics need
    // the order), and n_c, the coincidence matrix's marginals. In a unit of m
    // values each value is paired with the m − 1 others, each pair weighted
    // 1/(m − 1), so every value given adds exactly 1 to its n_c.
    let mut values: Vec<f64> = pairable.iter().flatten().copied().collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    let index = |v: f64| {
        values
            .binary_search_by(|x| x.total_cmp(&v))
            .expect("every value given is among the distinct values")
    };
    let mut marginals = vec![0.0_f64; values.len()];
    for &v in pairable.iter().flatten() {
        marginals[index(v)] += 1.0;
    }
    let n: f64 = marginals.iter().sum();
    // before[i] = n_0 + … + n_(i−1), so a run of marginals sums in O(1).
    let before: Vec<f64> = std::iter::once(0.0)
        .chain(marginals.iter().scan(0.0, |sum, &m| {
            *sum += m;
            Some(*sum)
        }))
        .collect();

    let delta2 = |c: usize, k: usize| -> f64 {
        if c == k {
            return 0.0;
        }
        match metric {
            Metric::Nominal => 1.0,
            Metric::Ordinal => {
                let (lo, hi) = (c.min(k), c.max(k));
                let between = before[hi + 1] - before[lo];
                (between - (marginals[lo] + marginals[hi]) / 2.0).powi(2)
            }
            Metric::Interval => (values[c] - values[k]).powi(2),
        }
    };

    // Σ_c Σ_k o_ck δ²(c,k), summed straight from each unit's pairs rather
    // than through a values × values matrix, which continuous data would make
    // huge. Pairs are ordered: (c,k) and (k,c) both count.
    let observed: f64 = pairable
        .iter()
        .map(|unit| {
            let at: Vec<usize> = unit.iter().map(|&v| index(v)).collect();
            let pairs: f64 = at
                .iter()
                .enumerate()
                .flat_map(|(i, &c)| at[i + 1..].iter().map(move |&k| (c, k)))
                .map(|(c, k)| 2.0 * delta2(c, k))
                .sum();
            pairs / (at.len() - 1) as f64
        })
        .sum();
    // Σ_c Σ_k n_c n_k δ²(c,k): the disagreement if values were paired at random.
    let expected: f64 = (0..values.len())
        .flat_map(|c| (c + 1..values.len()).map(move |k| (c, k)))
        .map(|(c, k)| 2.0 * marginals[c] * marginals[k] * delta2(c, k))
        .sum();
    if expected <= 0.0 {
        return None;
    }
    // D_o = observed / n and D_e = expected / (n (n − 1)).
    Some(1.0 - (n - 1.0) * observed / expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-4
    }

    #[test]
    fn unanimous_needs_everyone() {
        assert_eq!(
            vote(&[true, true, true], AgreementPolicy::Unanimous),
            Vote::Label(true)
        );
        assert_eq!(
            vote(&[true, false, true], AgreementPolicy::Unanimous),
            Vote::Disagreement
        );
    }

    #[test]
    fn majority_needs_more_than_half() {
        assert_eq!(
            vote(&[true, false, true], AgreementPolicy::Majority),
            Vote::Label(true)
        );
        assert_eq!(vote(&[true, false], AgreementPolicy::Majority), Vote::Tie);
        assert_eq!(
            vote(&[false], AgreementPolicy::Majority),
            Vote::Label(false)
        );
        assert_eq!(vote::<bool>(&[], AgreementPolicy::Majority), Vote::Tie);
    }

    #[test]
    fn cohen_kappa_matches_the_textbook_example() {
        // Wikipedia's example: 50 items, yes/yes 20, yes/no 5, no/yes 10, no/no 15 → κ = 0.4.
        let mut pairs = Vec::new();
        pairs.extend(std::iter::repeat_n((true, true), 20));
        pairs.extend(std::iter::repeat_n((true, false), 5));
        pairs.extend(std::iter::repeat_n((false, true), 10));
        pairs.extend(std::iter::repeat_n((false, false), 15));
        assert!(close(cohen_kappa(&pairs).unwrap(), 0.4));
    }

    #[test]
    fn cohen_kappa_extremes() {
        assert!(close(
            cohen_kappa(&[(true, true), (false, false)]).unwrap(),
            1.0
        ));
        assert!(close(
            cohen_kappa(&[(true, false), (false, true)]).unwrap(),
            -1.0
        ));
        assert_eq!(cohen_kappa(&[(true, true), (true, true)]), None);
        assert_eq!(cohen_kappa::<bool>(&[]), None);
    }

    #[test]
    fn fleiss_kappa_matches_the_textbook_example() {
        // Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories → κ ≈ 0.210.
        let counts = vec![
            vec![0, 0, 0, 0, 14],
            vec![0, 2, 6, 4, 2],
            vec![0, 0, 3, 5, 6],
            vec![0, 3, 9, 2, 0],
            vec![2, 2, 8, 1, 1],
            vec![7, 7, 0, 0, 0],
            vec![3, 2, 6, 3, 0],
            vec![2, 5, 3, 2, 2],
            vec![6, 5, 2, 1, 0],
            vec![0, 2, 2, 3, 7],
        ];
        assert!(close(fleiss_kappa(&counts).unwrap(), 0.2099));
    }

    #[test]
    fn fleiss_kappa_skips_single_labels_and_handles_perfect_agreement() {
        let counts = vec![vec![3, 0], vec![0, 3], vec![1, 0]];
        assert!(close(fleiss_kappa(&counts).unwrap(), 1.0));
        assert_eq!(fleiss_kappa(&[vec![1, 0]]), None);
        assert_eq!(fleiss_kappa(&[vec![3, 0], vec![2, 0]]), None);
    }

    #[test]
    fn fleiss_kappa_with_different_numbers_of_raters() {
        // By hand. Kept units: [2,0] (n=2), [1,2] (n=3), [1,3] (n=4); [1,0] has one label.
        // P_i = (Σ n_ij² − n_i) / (n_i (n_i − 1)): 2/2 = 1, 2/6 = 1/3, 6/12 = 1/2 → P̄ = 11/18.
        // p_j over the 9 kept labels: 4/9, 5/9 → P_e = 41/81.
        // κ = (11/18 − 41/81) / (1 − 41/81) = (17/162) / (40/81) = 17/80.
        let counts = vec![vec![2, 0], vec![1, 2], vec![1, 3], vec![1, 0]];
        assert!(close(fleiss_kappa(&counts).unwrap(), 17.0 / 80.0));
    }

    /// Krippendorff (2011), section C: 4 observers × 12 units, values 1–5,
    /// `None` where an observer gave no value. Unit 12 has one value.
    fn krippendorff_example() -> Vec<Vec<f64>> {
        let a = [
            Some(1),
            Some(2),
            Some(3),
            Some(3),
            Some(2),
            Some(1),
            Some(4),
            Some(1),
            Some(2),
            None,
            None,
            None,
        ];
        let b = [
            Some(1),
            Some(2),
            Some(3),
            Some(3),
            Some(2),
            Some(2),
            Some(4),
            Some(1),
            Some(2),
            Some(5),
            None,
            Some(3),
        ];
        let c = [
            None,
            Some(3),
            Some(3),
            Some(3),
            Some(2),
            Some(3),
            Some(4),
            Some(2),
            Some(2),
            Some(5),
            Some(1),
            None,
        ];
        let d = [
            Some(1),
            Some(2),
            Some(3),
            Some(3),
            Some(2),
            Some(4),
            Some(4),
            Some(1),
            Some(2),
            Some(5),
            Some(1),
            None,
        ];
        (0..12)
            .map(|u| {
                [a[u], b[u], c[u], d[u]]
                    .into_iter()
                    .flatten()
                    .map(f64::from)
                    .collect()
            })
            .collect()
    }

    fn round3(x: f64) -> f64 {
        (x * 1000.0).round() / 1000.0
    }

    #[test]
    fn krippendorff_alpha_matches_the_published_example() {
        let units = krippendorff_example();
        assert_eq!(
            round3(krippendorff_alpha(&units, Metric::Nominal).unwrap()),
            0.743
        );
        assert_eq!(
            round3(krippendorff_alpha(&units, Metric::Ordinal).unwrap()),
            0.815
        );
        assert_eq!(
            round3(krippendorff_alpha(&units, Metric::Interval).unwrap()),
            0.849
        );
    }

    #[test]
    fn krippendorff_alpha_does_not_depend_on_order() {
        let mut units = krippendorff_example();
        units.reverse();
        for unit in &mut units {
            unit.reverse();
        }
        assert_eq!(
            round3(krippendorff_alpha(&units, Metric::Ordinal).unwrap()),
            0.815
        );
    }

    #[test]
    fn krippendorff_alpha_is_one_for_perfect_agreement() {
        // Unequal unit sizes, and a lone value that must not count.
        let units = vec![
            vec![1.0, 1.0],
            vec![2.0, 2.0, 2.0],
            vec![5.0, 5.0],
            vec![3.0],
        ];
        for metric in [Metric::Nominal, Metric::Ordinal, Metric::Interval] {
            assert!(close(krippendorff_alpha(&units, metric).unwrap(), 1.0));
        }
    }

    #[test]
    fn krippendorff_alpha_by_hand() {
        // Two raters, units [1,2] and [2,1]: n = 4, n_1 = n_2 = 2.
        // Observed Σ o δ² = 4 (each unit: 2 ordered pairs / (2 − 1)); expected
        // Σ n_c n_k δ² = 2·2·2 = 8, so α = 1 − 3 · 4/8 = −0.5 for every metric
        // (the interval and nominal δ² are 1; the ordinal one is (4 − 2)² = 4
        // in both sums, which cancels).
        let units = vec![vec![1.0, 2.0], vec![2.0, 1.0]];
        for metric in [Metric::Nominal, Metric::Ordinal, Metric::Interval] {
            assert!(close(krippendorff_alpha(&units, metric).unwrap(), -0.5));
        }
    }

    #[test]
    fn krippendorff_alpha_is_none_when_undefined() {
        // Nothing pairable.
        assert_eq!(krippendorff_alpha(&[], Metric::Nominal), None);
        assert_eq!(
            krippendorff_alpha(&[vec![1.0], vec![2.0], vec![]], Metric::Interval),
            None
        );
        // A missing value (NaN) leaves a unit with one value.
        assert_eq!(
            krippendorff_alpha(&[vec![1.0, f64::NAN]], Metric::Interval),
            None
        );
        // Every value the same: no expected disagreement.
        assert_eq!(
            krippendorff_alpha(&[vec![4.0, 4.0], vec![4.0, 4.0, 4.0]], Metric::Ordinal),
            None
        );
    }

    #[test]
    fn metric_names() {
        assert_eq!(Metric::Interval.name(), "interval");
    }

    #[test]
    fn policy_descriptions_name_the_rule() {
        assert!(AgreementPolicy::Unanimous
            .describe()
            .starts_with("full agreement"));
        assert!(AgreementPolicy::Majority
            .describe()
            .contains("ties are dropped"));
    }
}
