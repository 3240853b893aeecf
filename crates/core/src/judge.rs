//! Judges: models that rate the pool's completions, and what their ratings add up to.
//!
//! A [`Judge`] is a model (the local one or a hosted endpoint), an
//! UltraFeedback [`Aspect`] and a [`JudgeMode`]:
//!
//! - **critique**: the UltraFeedback prompt with all of a prompt's
//!   completions in one request; the judge writes a rating and a rationale
//!   for each ([`crate::tasks::ultrafeedback`] reads them, as text or as JSON
//!   when the server takes a schema). One work item per prompt.
//! - **logit** (the local model): one forward pass over the rubric and one
//!   completion, ending with `Rating: `; the probabilities of "1".."5" as the
//!   next token give the expected rating and how sure the judge was
//!   ([`logit_judgment`]). No text is generated. One work item per completion.
//!
//! Like the pool, judging is planned as keyed work items ([`plan`]), so a
//! run resumes where it stopped and a prompt whose completions changed (an
//! EvolQuality rewrite was added) is judged again. Stored judgments are put
//! back on their generations by [`attach`]; [`distribution`] and
//! [`agreement_between`] are what Export charts.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::agreement::{krippendorff_alpha, Metric};
use crate::chat::ChatMessage;
use crate::pool_plan::PoolModel;
use crate::record::{sha256_hex, Aspect, JudgeMode, Judgment, ParseStatus, Record};
use crate::tasks::ultrafeedback::{UltraFeedback, SYSTEM_PROMPT};

/// The version of Prefab's judge prompts, stored with every judgment: a
/// change of wording is a new version, so judgments made with different
/// prompts can be told apart.
pub const PROMPT_VERSION: &str = "prefab-ultrafeedback-1";

/// What a logit judge's answer starts with; the next token is the rating.
pub const LOGIT_ANSWER_PREFIX: &str = "Rating: ";

/// The candidate next tokens of a logit judge, in rating order.
pub const RATING_TOKENS: [&str; 5] = ["1", "2", "3", "4", "5"];

/// One judge of the project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judge {
    /// A short id, unique in the project and never reused: part of its work items' keys.
    pub id: String,
    /// The model.
    pub model: PoolModel,
    /// How it rates.
    pub mode: JudgeMode,
    /// What it rates.
    pub aspect: Aspect,
    /// Critique on a hosted server: ask for JSON under a schema rather than
    /// the `#### Output for Text i` sections.
    #[serde(default)]
    pub structured: Structured,
}

/// Whether, and how, a critique asks for JSON under a schema: servers
/// write the request two ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Structured {
    /// Plain text sections.
    #[default]
    Off,
    /// OpenAI's `{"type": "json_schema", …}`: OpenAI, vLLM, TGI, llama.cpp's own server.
    JsonSchema,
    /// `{"type": "json_object", "schema": …}`: llama-cpp-python's server.
    JsonObject,
}

impl Judge {
    /// A one-line summary: model, mode and aspect.
    pub fn describe(&self, local_model: &str) -> String {
        let model = match &self.model {
            PoolModel::Local => local_model,
            PoolModel::Hosted { endpoint } => endpoint,
        };
        let structured = if self.structured != Structured::Off && self.mode == JudgeMode::Critique { ", JSON" } else { "" };
        format!("{model} · {}{structured} · {}", self.mode.as_str(), self.aspect.as_str())
    }

    /// The request for a critique of `texts`, answers to `instruction`.
    pub fn critique_messages(&self, instruction: &str, texts: &[&str]) -> Vec<ChatMessage> {
        let task = UltraFeedback::new(self.aspect);
        if self.structured != Structured::Off {
            task.messages_json(instruction, texts)
        } else {
            task.messages(instruction, texts)
        }
    }

    /// Reads a critique of `n` texts into one judgment each, in order; what
    /// cannot be read is a judgment marked unparsed, with the raw output.
    pub fn read_critique(&self, judge_model: &str, output: &str, n: usize, created_at_ms: u64) -> Vec<Judgment> {
        let task = UltraFeedback::new(self.aspect);
        let parsed = if self.structured != Structured::Off { task.parse_json(output, n) } else { task.parse(output, n) };
        task.judgments(judge_model, output, parsed, created_at_ms)
    }
}

/// One judging request to make: a judge and the completions of one prompt
/// it rates (all of them for a critique, one for a logit judge).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JudgeItem {
    /// The record's index.
    pub record_index: usize,
    /// The judge's index.
    pub judge_index: usize,
    /// The generations judged, in the record's order.
    pub generation_ids: Vec<String>,
    /// `"{prompt id}/judge-{judge id}/{what}"`: stable across reloads, and
    /// new when the completions judged change.
    pub key: String,
}

/// Every judging request not yet done, prompt by prompt, then judge by judge.
pub fn plan(records: &[Record], judges: &[Judge], is_done: impl Fn(&str) -> bool) -> Vec<JudgeItem> {
    let mut items = Vec::new();
    for (record_index, record) in records.iter().enumerate() {
        if record.generations.is_empty() {
            continue;
        }
        for (judge_index, judge) in judges.iter().enumerate() {
            let groups: Vec<(String, Vec<String>)> = match judge.mode {
                JudgeMode::Critique => {
                    let ids: Vec<String> = record.generations.iter().map(|g| g.id.clone()).collect();
                    let parts: Vec<&[u8]> = ids.iter().map(|id| id.as_bytes()).collect();
                    vec![(sha256_hex(&parts)[..16].to_string(), ids)]
                }
                JudgeMode::Logit => record.generations.iter().map(|g| (g.id.clone(), vec![g.id.clone()])).collect(),
            };
            for (what, generation_ids) in groups {
                let key = format!("{}/judge-{}/{what}", record.prompt.id, judge.id);
                if !is_done(&key) {
                    items.push(JudgeItem { record_index, judge_index, generation_ids, key });
                }
            }
        }
    }
    items
}

/// The logit judge's prompt for one completion: the rubric and the output
/// format, then the instruction, then the text, and the answer opened with
/// [`LOGIT_ANSWER_PREFIX`]. What changes least comes first, so consecutive
/// records share the longest beginning, which the engine reads only once.
pub fn logit_messages(aspect: Aspect, instruction: &str, text: &str) -> Vec<ChatMessage> {
    let user = format!(
        "{}\n\n## Output format\n\nAnswer with the rating only, a whole number from 1 to 5, as \"Rating: <number>\".\n\n\
         ## Input\n\nInstruction: {instruction}\n\nText:\n<text 1> {text}",
        UltraFeedback::new(aspect).rubric()
    );
    vec![ChatMessage::system(SYSTEM_PROMPT), ChatMessage::user(user)]
}

/// A logit judgment from the probabilities of "1".."5" as the next token:
/// the rating is their expected value once renormalized, the confidence the
/// probability of the likeliest rating. When the five have (almost) no
/// probability at all, the judge was not answering with a rating: the
/// judgment is unparsed.
pub fn logit_judgment(judge_model: &str, aspect: Aspect, probs: &[f64], created_at_ms: u64) -> Judgment {
    let mass: f64 = probs.iter().filter(|p| p.is_finite()).sum();
    let raw_output = format!(
        "P(1..5) = {}",
        probs.iter().map(|p| format!("{p:.4}")).collect::<Vec<_>>().join(" ")
    );
    let (rating, confidence, status) = if probs.len() != RATING_TOKENS.len() || !(mass > 1e-6) {
        let reason = format!("the ratings 1–5 had {mass:.2e} of the next token's probability");
        (None, None, ParseStatus::Failed { reason })
    } else {
        let expected = probs.iter().enumerate().map(|(i, p)| (i + 1) as f64 * p).sum::<f64>() / mass;
        let likeliest = probs.iter().copied().fold(0.0, f64::max) / mass;
        (Some(expected), Some(likeliest), ParseStatus::Parsed)
    };
    Judgment {
        judge_id: judge_model.to_string(),
        aspect,
        rating,
        rationale: None,
        raw_output,
        status,
        created_at_ms,
        mode: JudgeMode::Logit,
        prompt_version: PROMPT_VERSION.to_string(),
        confidence,
    }
}

/// A judgment with the generation it is about, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judged {
    /// The generation judged.
    pub generation_id: String,
    /// What the judge said.
    pub judgment: Judgment,
}

/// Puts stored judgments on their generations; of several by the same judge
/// (its [`Judgment::judge_label`]) about one generation, the newest wins.
pub fn attach(records: &mut [Record], judged: impl IntoIterator<Item = Judged>) {
    let mut newest: HashMap<(String, String), Judgment> = HashMap::new();
    for Judged { generation_id, judgment } in judged {
        let key = (generation_id, judgment.judge_label());
        match newest.get(&key) {
            Some(kept) if kept.created_at_ms > judgment.created_at_ms => {}
            _ => {
                newest.insert(key, judgment);
            }
        }
    }
    let mut by_generation: HashMap<String, Vec<Judgment>> = HashMap::new();
    for ((generation_id, _), judgment) in newest {
        by_generation.entry(generation_id).or_default().push(judgment);
    }
    for generation in records.iter_mut().flat_map(|record| record.generations.iter_mut()) {
        if let Some(mut judgments) = by_generation.remove(&generation.id) {
            judgments.sort_by(|a, b| a.judge_label().cmp(&b.judge_label()));
            generation.judgments.retain(|kept| !judgments.iter().any(|new| new.judge_label() == kept.judge_label()));
            generation.judgments.extend(judgments);
        }
    }
}

/// The judges found in records, by label, in order.
pub fn labels(records: &[Record]) -> Vec<String> {
    let mut labels: Vec<String> = records
        .iter()
        .flat_map(|r| &r.generations)
        .flat_map(|g| &g.judgments)
        .map(Judgment::judge_label)
        .collect();
    labels.sort();
    labels.dedup();
    labels
}

/// One judge's ratings: how many of each (rounded to a whole number), and
/// how many it could not read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Distribution {
    /// Ratings rounded to 1..5, by rating − 1.
    pub counts: [usize; 5],
    /// Judgments marked unparsed.
    pub unparsed: usize,
    /// The mean rating, when there is any.
    pub mean: Option<f64>,
}

/// Each judge's rating distribution, by label.
pub fn distribution(records: &[Record]) -> BTreeMap<String, Distribution> {
    let mut found: BTreeMap<String, (Distribution, f64)> = BTreeMap::new();
    for judgment in records.iter().flat_map(|r| &r.generations).flat_map(|g| &g.judgments) {
        let (entry, sum) = found.entry(judgment.judge_label()).or_default();
        match (judgment.rating, &judgment.status) {
            (Some(rating), ParseStatus::Parsed) => {
                entry.counts[(rating.round().clamp(1.0, 5.0) as usize) - 1] += 1;
                *sum += rating;
            }
            _ => entry.unparsed += 1,
        }
    }
    found
        .into_iter()
        .map(|(label, (mut entry, sum))| {
            let rated: usize = entry.counts.iter().sum();
            entry.mean = (rated > 0).then(|| sum / rated as f64);
            (label, entry)
        })
        .collect()
}

/// Agreement between two raters of the same completions.
#[derive(Debug, Clone, PartialEq)]
pub struct Agreement {
    /// Krippendorff's α, interval level; `None` when undefined (no variation).
    pub alpha: Option<f64>,
    /// How many completions both rated.
    pub items: usize,
}

/// Krippendorff's α (interval) between two sets of scores by generation id,
/// over the generations both scored: judge against judge, or a judge
/// against people's mean score.
pub fn agreement_between(first: &HashMap<String, f64>, second: &HashMap<String, f64>) -> Agreement {
    let mut ids: Vec<&String> = first.keys().filter(|id| second.contains_key(*id)).collect();
    ids.sort();
    let units: Vec<Vec<f64>> = ids.iter().map(|id| vec![first[*id], second[*id]]).collect();
    Agreement { alpha: krippendorff_alpha(&units, Metric::Interval), items: units.len() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::fixtures;

    fn judge(id: &str, mode: JudgeMode) -> Judge {
        Judge { id: id.into(), model: PoolModel::Local, mode, aspect: Aspect::Helpfulness, structured: Structured::Off }
    }

    #[test]
    fn a_critique_is_one_item_per_prompt_and_a_logit_judge_one_per_completion() {
        let records = vec![fixtures::judged("a", &[1.0, 2.0]), fixtures::judged("b", &[3.0]), crate::record::Record::new(crate::record::Prompt::new("none"))];
        let judges = [judge("j1", JudgeMode::Critique), judge("j2", JudgeMode::Logit)];
        let items = plan(&records, &judges, |_| false);
        assert_eq!(items.len(), 2 + 3);
        assert_eq!(items[0].generation_ids.len(), 2);
        assert!(items[0].key.starts_with(&format!("{}/judge-j1/", records[0].prompt.id)));
        assert_eq!(items[1].key, format!("{}/judge-j2/{}", records[0].prompt.id, records[0].generations[0].id));
        // Done items are left out; a new completion makes the critique a new item.
        let done = items[0].key.clone();
        assert_eq!(plan(&records, &judges, |key| key == done).len(), 4);
        let mut grown = records.clone();
        let added = fixtures::generation(&grown[0].prompt, "m9", "new", None);
        grown[0].generations.push(added);
        assert!(plan(&grown, &judges, |key| key == done).iter().any(|item| item.judge_index == 0 && item.record_index == 0));
    }

    #[test]
    fn a_logit_judgment_is_the_expected_rating_and_its_confidence() {
        let judgment = logit_judgment("smol", Aspect::Helpfulness, &[0.0, 0.0, 0.1, 0.2, 0.2], 5);
        assert_eq!(judgment.status, ParseStatus::Parsed);
        // Renormalized: 0.2, 0.4, 0.4 on 3, 4, 5.
        assert!((judgment.rating.unwrap() - 4.2).abs() < 1e-9);
        assert!((judgment.confidence.unwrap() - 0.4).abs() < 1e-9);
        assert_eq!(judgment.mode, JudgeMode::Logit);
        assert_eq!(judgment.prompt_version, PROMPT_VERSION);
        assert!(judgment.raw_output.starts_with("P(1..5) = 0.0000 0.0000 0.1000"));
        let silent = logit_judgment("smol", Aspect::Helpfulness, &[0.0; 5], 5);
        assert_eq!(silent.rating, None);
        assert!(matches!(silent.status, ParseStatus::Failed { .. }));
    }

    #[test]
    fn the_logit_prompt_has_the_rubric_and_one_text() {
        let messages = logit_messages(Aspect::Honesty, "Name a colour", "Blue");
        assert_eq!(messages[0].content, SYSTEM_PROMPT);
        assert!(messages[1].content.starts_with("# Honesty"));
        assert!(messages[1].content.ends_with("Instruction: Name a colour\n\nText:\n<text 1> Blue"));
        // Two answers to one prompt differ only at the end.
        let other = logit_messages(Aspect::Honesty, "Name a colour", "Red");
        assert_eq!(messages[1].content.strip_suffix("Blue"), other[1].content.strip_suffix("Red"));
    }

    #[test]
    fn a_critique_reads_text_or_json_and_marks_garbage_unparsed() {
        let mut critic = judge("j", JudgeMode::Critique);
        let read = critic.read_critique("m", "#### Output for Text 1\nRating: high\n#### Output for Text 2\nRating: 4\n", 2, 1);
        assert_eq!(read[0].rating, None);
        assert!(matches!(read[0].status, ParseStatus::Failed { .. }));
        assert_eq!(read[1].rating, Some(4.0));
        assert_eq!(read[1].prompt_version, PROMPT_VERSION);
        critic.structured = Structured::JsonObject;
        assert!(critic.critique_messages("q", &["a"])[1].content.contains("JSON"));
        let json = critic.read_critique("m", r#"{"ratings":[{"rationale":"ok","rating":5}]}"#, 1, 1);
        assert_eq!((json[0].rating, json[0].rationale.as_deref()), (Some(5.0), Some("ok")));
    }

    #[test]
    fn attached_judgments_replace_the_same_judges_older_ones() {
        let mut records = vec![fixtures::judged("a", &[1.0, 2.0])];
        let id = records[0].generations[0].id.clone();
        let first = logit_judgment("smol", Aspect::Helpfulness, &[1.0, 0.0, 0.0, 0.0, 0.0], 1);
        let second = logit_judgment("smol", Aspect::Helpfulness, &[0.0, 0.0, 0.0, 0.0, 1.0], 2);
        attach(&mut records, [Judged { generation_id: id.clone(), judgment: second.clone() }, Judged { generation_id: id.clone(), judgment: first }, Judged { generation_id: "elsewhere".into(), judgment: second }]);
        let judgments = &records[0].generations[0].judgments;
        // The fixture's own judgment, and the newest of the logit judge's two.
        assert_eq!(judgments.len(), 2);
        assert_eq!(judgments[1].rating, Some(5.0));
        assert_eq!(labels(&records), ["judge · critique · overall-rating", "smol · logit · helpfulness"]);
    }

    #[test]
    fn distributions_and_agreement() {
        let mut records = vec![fixtures::judged("a", &[1.0, 2.0, 4.6]), fixtures::judged("b", &[5.0])];
        records[1].generations[0].judgments[0].status = ParseStatus::Failed { reason: "x".into() };
        let found = distribution(&records);
        let judge = &found["judge · critique · overall-rating"];
        assert_eq!(judge.counts, [1, 1, 0, 0, 1]);
        assert_eq!(judge.unparsed, 1);
        assert!((judge.mean.unwrap() - 7.6 / 3.0).abs() < 1e-9);
        let source = crate::export::binarize::ScoreSource::Judge { aspect: None, judge: Some("judge · critique · overall-rating".into()) };
        let scores = crate::export::binarize::scores_by_generation(&records, &source);
        assert_eq!(scores.len(), 3);
        let same = agreement_between(&scores, &scores);
        assert_eq!((same.alpha, same.items), (Some(1.0), 3));
        let reversed: HashMap<String, f64> = scores.iter().map(|(id, s)| (id.clone(), 6.0 - s)).collect();
        assert!(agreement_between(&scores, &reversed).alpha.unwrap() < 0.0);
        assert_eq!(agreement_between(&scores, &HashMap::new()).items, 0);
    }
}
