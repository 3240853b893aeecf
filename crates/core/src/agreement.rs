//! Annotator agreement: combining several people's labels into one, and
//! measuring how far they agree beyond chance.
//!
//! When several people rate the same completion, the KTO export needs one
//! label per completion. [`AgreementPolicy`] says how to get it — everyone
//! agrees, or a strict majority — and [`vote`] applies it. How reliable the
//! labels are is reported as a kappa: [`cohen_kappa`] for two annotators,
//! [`fleiss_kappa`] for more. Kappa is 1 for perfect agreement, 0 for the
//! agreement chance alone would give, and negative below that.

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
    fn policy_descriptions_name_the_rule() {
        assert!(AgreementPolicy::Unanimous
            .describe()
            .starts_with("full agreement"));
        assert!(AgreementPolicy::Majority
            .describe()
            .contains("ties are dropped"));
    }
}
