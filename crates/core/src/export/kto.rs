//! TRL KTO rows: `prompt`, `completion`, `label`, from people's 👍/👎.
//!
//! Each completion rated by several people gets one label under an
//! [`AgreementPolicy`]; the report says how many were kept, how many were
//! dropped for disagreement or a tie, and how well the annotators agreed
//! (Cohen's kappa for two annotators, Fleiss' for more).

use super::Style;
use crate::agreement::{cohen_kappa, fleiss_kappa, vote, AgreementPolicy, Vote};
use crate::record::{RatingValue, Record};
use crate::table::{DataType, Field, Table, Value};
use std::collections::{BTreeSet, HashMap};

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KtoOptions {
    /// How several annotators' labels become one.
    pub policy: AgreementPolicy,
    /// Standard or conversational rows.
    pub style: Style,
}

impl Default for KtoOptions {
    fn default() -> KtoOptions {
        KtoOptions {
            policy: AgreementPolicy::Majority,
            style: Style::Standard,
        }
    }
}

/// Which kappa was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KappaMethod {
    /// Cohen's kappa: exactly two annotators.
    Cohen,
    /// Fleiss' kappa: three or more.
    Fleiss,
}

/// An inter-annotator agreement figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Kappa {
    /// Which kappa.
    pub method: KappaMethod,
    /// Its value, from -1 to 1.
    pub value: f64,
    /// How many completions it was computed over (those rated by at least two).
    pub items: usize,
}

/// What was exported and what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct KtoReport {
    /// The agreement policy.
    pub policy: AgreementPolicy,
    /// The style of the rows.
    pub style: Style,
    /// Rows written.
    pub rows: usize,
    /// Rows labelled desirable (`true`).
    pub desirable: usize,
    /// Rows labelled undesirable (`false`).
    pub undesirable: usize,
    /// Completions dropped because annotators disagreed (full agreement policy).
    pub dropped_disagreement: usize,
    /// Completions dropped on a tied vote (majority policy).
    pub dropped_tie: usize,
    /// Distinct annotators.
    pub annotators: usize,
    /// Agreement beyond chance; `None` with fewer than two annotators or when undefined.
    pub kappa: Option<Kappa>,
}

impl KtoReport {
    /// A paragraph for the dataset card.
    pub fn describe(&self) -> String {
        let kappa = match self.kappa {
            Some(Kappa {
                method: KappaMethod::Cohen,
                value,
                items,
            }) => {
                format!(" Cohen's kappa between the two annotators: {value:.3} over {items} completions.")
            }
            Some(Kappa {
                method: KappaMethod::Fleiss,
                value,
                items,
            }) => {
                format!(" Fleiss' kappa: {value:.3} over {items} completions.")
            }
            None => String::new(),
        };
        format!(
            "KTO labels come from human thumbs-up/down ratings by {} annotator(s), combined by {}. \
             {} rows (TRL {} format): {} desirable, {} undesirable; {} completions dropped for disagreement, \
             {} for a tied vote.{kappa}",
            self.annotators,
            self.policy.describe(),
            self.rows,
            self.style.name(),
            self.desirable,
            self.undesirable,
            self.dropped_disagreement,
            self.dropped_tie,
        )
    }
}

/// The KTO table and its report.
#[derive(Debug, Clone, PartialEq)]
pub struct KtoExport {
    /// The rows.
    pub table: Table,
    /// What was kept and dropped, and the agreement.
    pub report: KtoReport,
}

/// The columns of a KTO table in a style.
pub fn schema(style: Style) -> Vec<Field> {
    vec![
        Field::required("prompt", style.data_type()),
        Field::required("completion", style.data_type()),
        Field::required("label", DataType::Bool),
    ]
}

/// One KTO row per completion with 👍/👎 ratings that agree under the policy.
pub fn kto(records: &[Record], options: &KtoOptions) -> KtoExport {
    let mut table = Table::new(schema(options.style));
    let mut report = KtoReport {
        policy: options.policy,
        style: options.style,
        rows: 0,
        desirable: 0,
        undesirable: 0,
        dropped_disagreement: 0,
        dropped_tie: 0,
        annotators: 0,
        kappa: None,
    };
    let mut annotators = BTreeSet::new();
    // Per rated completion: each annotator's current label, for the kappa.
    let mut items: Vec<HashMap<String, bool>> = Vec::new();

    for record in records {
        let mut labels: Vec<Vec<(&str, bool)>> = vec![Vec::new(); record.generations.len()];
        let position = record.generation_positions();
        for rating in record.current_ratings() {
            if let RatingValue::KtoThumbs { generation_id, up } = &rating.value {
                if let Some(&i) = position.get(generation_id.as_str()) {
                    labels[i].push((rating.annotator.as_str(), *up));
                    annotators.insert(rating.annotator.clone());
                }
            }
        }
        for (generation, votes) in record.generations.iter().zip(labels) {
            if votes.is_empty() {
                continue;
            }
            items.push(votes.iter().map(|&(a, up)| (a.to_string(), up)).collect());
            let ups: Vec<bool> = votes.iter().map(|&(_, up)| up).collect();
            let label = match vote(&ups, options.policy) {
                Vote::Label(label) => label,
                Vote::Disagreement => {
                    report.dropped_disagreement += 1;
                    continue;
                }
                Vote::Tie => {
                    report.dropped_tie += 1;
                    continue;
                }
            };
            if label {
                report.desirable += 1;
            } else {
                report.undesirable += 1;
            }
            table.rows.push(vec![
                options.style.prompt(record, generation),
                options.style.completion(generation),
                Value::Bool(label),
            ]);
        }
    }
    report.rows = table.len();
    report.annotators = annotators.len();
    report.kappa = kappa(&annotators, &items);
    KtoExport { table, report }
}

/// Cohen's kappa over the items both of two annotators rated, or Fleiss'
/// over items rated by at least two of three or more.
fn kappa(annotators: &BTreeSet<String>, items: &[HashMap<String, bool>]) -> Option<Kappa> {
    match annotators.len() {
        0 | 1 => None,
        2 => {
            let mut names = annotators.iter();
            let (first, second) = (names.next()?, names.next()?);
            let pairs: Vec<(bool, bool)> = items
                .iter()
                .filter_map(|item| Some((*item.get(first)?, *item.get(second)?)))
                .collect();
            cohen_kappa(&pairs).map(|value| Kappa {
                method: KappaMethod::Cohen,
                value,
                items: pairs.len(),
            })
        }
        _ => {
            let counts: Vec<Vec<usize>> = items
                .iter()
                .filter(|item| item.len() >= 2)
                .map(|item| {
                    let up = item.values().filter(|&&up| up).count();
                    vec![item.len() - up, up]
                })
                .collect();
            fleiss_kappa(&counts).map(|value| Kappa {
                method: KappaMethod::Fleiss,
                value,
                items: counts.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::fixtures::{judged, thumbs};

    /// Four completions rated by the given annotators' labels, one list per completion.
    fn rated(labels: &[&[(&str, bool)]]) -> Vec<Record> {
        let mut record = judged("prompt", &vec![3.0; labels.len()]);
        for (g, votes) in labels.iter().enumerate() {
            let id = record.generations[g].id.clone();
            for &(annotator, up) in votes.iter() {
                record.ratings.push(thumbs(annotator, &id, up));
            }
        }
        vec![record]
    }

    #[test]
    fn standard_rows() {
        let records = rated(&[&[("a", true)], &[("a", false)], &[]]);
        let export = kto(&records, &KtoOptions::default());
        assert_eq!(
            export.table.column_names(),
            ["prompt", "completion", "label"]
        );
        assert_eq!(
            export.table.rows,
            vec![
                vec![
                    Value::str("prompt"),
                    Value::str("answer 0"),
                    Value::Bool(true)
                ],
                vec![
                    Value::str("prompt"),
                    Value::str("answer 1"),
                    Value::Bool(false)
                ],
            ]
        );
        assert_eq!((export.report.desirable, export.report.undesirable), (1, 1));
        assert_eq!(export.report.kappa, None);
    }

    #[test]
    fn conversational_rows() {
        let records = rated(&[&[("a", true)]]);
        let export = kto(
            &records,
            &KtoOptions {
                style: Style::Conversational,
                ..Default::default()
            },
        );
        assert_eq!(
            export.table.rows[0][0],
            Value::List(vec![
                Value::message("system", "Be kind."),
                Value::message("user", "prompt"),
            ])
        );
        assert_eq!(
            export.table.rows[0][1],
            Value::List(vec![Value::message("assistant", "answer 0")])
        );
    }

    #[test]
    fn majority_vote_drops_ties_and_reports_cohen() {
        let records = rated(&[
            &[("a", true), ("b", true)],
            &[("a", false), ("b", false)],
            &[("a", true), ("b", false)],
            &[("a", false), ("b", true)],
        ]);
        let export = kto(&records, &KtoOptions::default());
        let r = &export.report;
        assert_eq!(
            (r.rows, r.dropped_tie, r.dropped_disagreement, r.annotators),
            (2, 2, 0, 2)
        );
        let kappa = r.kappa.unwrap();
        assert_eq!((kappa.method, kappa.items), (KappaMethod::Cohen, 4));
        assert!(
            kappa.value.abs() < 1e-9,
            "50% observed vs 50% chance agreement is kappa 0"
        );
    }

    #[test]
    fn full_agreement_drops_any_disagreement_and_reports_fleiss() {
        let records = rated(&[
            &[("a", true), ("b", true), ("c", true)],
            &[("a", false), ("b", false), ("c", true)],
            &[("a", false), ("b", false), ("c", false)],
        ]);
        let unanimous = kto(
            &records,
            &KtoOptions {
                policy: AgreementPolicy::Unanimous,
                ..Default::default()
            },
        );
        assert_eq!(
            (unanimous.report.rows, unanimous.report.dropped_disagreement),
            (2, 1)
        );
        let majority = kto(&records, &KtoOptions::default());
        assert_eq!(majority.report.rows, 3);
        assert_eq!(majority.table.rows[1][2], Value::Bool(false));
        let kappa = majority.report.kappa.unwrap();
        assert_eq!((kappa.method, kappa.items), (KappaMethod::Fleiss, 3));
        assert!((kappa.value - 0.55).abs() < 1e-9, "{}", kappa.value);
    }

    #[test]
    fn report_describes_policy_counts_and_kappa() {
        let records = rated(&[&[("a", true), ("b", true)], &[("a", false), ("b", true)]]);
        let text = kto(&records, &KtoOptions::default()).report.describe();
        assert!(
            text.contains("by 2 annotator(s), combined by majority vote"),
            "{text}"
        );
        assert!(
            text.contains("1 rows (TRL standard format): 1 desirable, 0 undesirable"),
            "{text}"
        );
        assert!(text.contains("1 for a tied vote"), "{text}");
    }
}
