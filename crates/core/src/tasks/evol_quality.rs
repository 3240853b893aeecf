//! EvolQuality: make a response better by rewriting it, a few times over.
//!
//! From "What Makes Good Data for Alignment?" (Liu et al., 2023) as distilabel
//! implements it: a model rewrites a response following one of five mutations
//! (more helpful, more relevant, deeper, more creative, more detailed), and
//! the rewrite is rewritten again, `num_evolutions` times. The mutation of each
//! step is a seeded random choice, so a run can be repeated exactly.
//!
//! Generation is asynchronous and lives elsewhere, so the step is planned
//! like the pool: [`EvolQuality::plan`] lists the next rewrite of every chain
//! (an original completion and its rewrites so far) as keyed work items, the
//! page runs them and stores each rewrite as a generation whose
//! `evolved_from` names its parent and mutation, and plans again for the next
//! round. Nothing is kept in memory between rounds, so a reload resumes.
//! [`EvolQuality::shown`] picks what the dataset shows (every rewrite or the
//! last, with or without the original).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::chat::ChatMessage;
use crate::pool_plan::PoolModel;
use crate::prng::SplitMix64;
use crate::record::{Generation, Record};
use crate::tasks::text_generation;

/// One way of improving a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mutation {
    /// More useful to the person who asked.
    Helpfulness,
    /// Closer to what the prompt asks.
    Relevance,
    /// Deeper into the subject.
    Deepening,
    /// More creative.
    Creativity,
    /// More detailed.
    Details,
}

impl Mutation {
    /// All five mutations.
    pub const ALL: [Mutation; 5] = [
        Mutation::Helpfulness,
        Mutation::Relevance,
        Mutation::Deepening,
        Mutation::Creativity,
        Mutation::Details,
    ];

    /// The name stored with an evolved generation, e.g. `helpfulness`.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::Helpfulness => "helpfulness",
            Mutation::Relevance => "relevance",
            Mutation::Deepening => "deepening",
            Mutation::Creativity => "creativity",
            Mutation::Details => "details",
        }
    }

    /// The method the rewriter is told to use.
    pub fn method(self) -> &'static str {
        match self {
            Mutation::Helpfulness => "Make the response more helpful to the person who asked.",
            Mutation::Relevance => "Make the response more relevant to the #Given Prompt#.",
            Mutation::Deepening => "Make the response go deeper into its subject.",
            Mutation::Creativity => "Make the response more creative.",
            Mutation::Details => "Add more useful detail to the response.",
        }
    }
}

/// The rewriting instructions; `{method}`, `{prompt}` and `{response}` are filled in.
const TEMPLATE: &str = "\
You are improving an AI assistant's answer by rewriting it. Rewrite the #Given Response# \
to the #Given Prompt# using this method: {method}

Keep every part that is not plain prose, such as tables, code and lists, and keep what the \
prompt provides. The rewrite must stay reasonable and easy for people to understand. Do not \
make it verbose: add no more than 10 to 20 words to the #Given Response#. Do not write \
'#Given Response#', '#Rewritten Response#', 'given response' or 'rewritten response' in it.

#Given Prompt#:
{prompt}

#Given Response#:
{response}

#Rewritten Response#:
";

/// The EvolQuality step of a project: which model rewrites, how, and what is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvolQuality {
    /// The rewriting model.
    pub model: PoolModel,
    /// The mutations to draw from (all five when empty).
    pub mutations: Vec<Mutation>,
    /// How many times each completion is rewritten, each rewrite of the last.
    pub num_evolutions: u32,
    /// Keep every rewrite in the dataset, not only the last.
    pub keep_evolutions: bool,
    /// Keep the original completion beside its rewrites.
    pub include_original: bool,
    /// The seed of the mutation draws.
    pub seed: u64,
    /// The most tokens a rewrite may have.
    pub max_new_tokens: u32,
    /// Softmax temperature of the rewrites.
    pub temperature: f64,
}

impl Default for EvolQuality {
    fn default() -> EvolQuality {
        EvolQuality {
            model: PoolModel::Local,
            mutations: Mutation::ALL.to_vec(),
            num_evolutions: 1,
            keep_evolutions: true,
            include_original: true,
            seed: 42,
            max_new_tokens: 128,
            temperature: 0.7,
        }
    }
}

/// One rewrite to make.
#[derive(Debug, Clone, PartialEq)]
pub struct EvolItem {
    /// The record's index.
    pub record_index: usize,
    /// The generation rewritten: the original, or the previous round's rewrite.
    pub parent: Generation,
    /// The original completion of the chain.
    pub original_id: String,
    /// Which rewrite of the chain, from 0.
    pub round: u32,
    /// The mutation drawn for it.
    pub mutation: Mutation,
    /// `"{prompt id}/evol/{original id}/{round}"`: stable across reloads.
    pub key: String,
}

impl EvolItem {
    /// The rewrite's sampling seed, from its key (53 bits, as a pool item's).
    pub fn seed(&self) -> u64 {
        SplitMix64::for_key(0x4556_4f4c, &self.key).next_u64() >> 11
    }
}

impl EvolQuality {
    /// The rewriting request for one mutation.
    pub fn render(mutation: Mutation, prompt: &str, response: &str) -> String {
        // Filled one after the other so a `{…}` inside the prompt or response
        // is never taken for a placeholder.
        let (head, tail) = TEMPLATE.split_once("{prompt}").unwrap_or((TEMPLATE, ""));
        let (middle, end) = tail.split_once("{response}").unwrap_or((tail, ""));
        format!(
            "{}{prompt}{middle}{response}{end}",
            head.replace("{method}", mutation.method())
        )
    }

    /// The conversation sent for a rewrite.
    pub fn messages(item: &EvolItem, prompt: &str) -> Vec<ChatMessage> {
        vec![ChatMessage::user(EvolQuality::render(item.mutation, prompt, &item.parent.text))]
    }

    /// The mutation of round `round` of the chain that starts at
    /// `original_id`: a seeded draw, the same on every run and device.
    pub fn mutation(&self, original_id: &str, round: u32) -> Mutation {
        let choices = if self.mutations.is_empty() { &Mutation::ALL[..] } else { &self.mutations[..] };
        choices[SplitMix64::for_key(self.seed, &format!("{original_id}/{round}")).below(choices.len())]
    }

    /// The next rewrite of every chain not yet done: a chain is an original
    /// completion (one that is not itself a rewrite) followed by its
    /// rewrites, each of the one before. Rounds depend on each other, so
    /// plan again after each round is stored for the next.
    pub fn plan(&self, records: &[Record], is_done: impl Fn(&str) -> bool) -> Vec<EvolItem> {
        let mut items = Vec::new();
        for (record_index, record) in records.iter().enumerate() {
            for original in record.generations.iter().filter(|g| g.evolved_from.is_none()) {
                let mut parent = original;
                for round in 0..self.num_evolutions {
                    let key = format!("{}/evol/{}/{round}", record.prompt.id, original.id);
                    let child = record.generations.iter().find(|g| g.evolved_from.as_ref().is_some_and(|from| from.generation_id == parent.id));
                    match child {
                        Some(child) => parent = child,
                        None => {
                            if !is_done(&key) {
                                let mutation = self.mutation(&original.id, round);
                                items.push(EvolItem { record_index, parent: parent.clone(), original_id: original.id.clone(), round, mutation, key });
                            }
                            break;
                        }
                    }
                }
            }
        }
        items
    }

    /// How many rewrites the step makes in all.
    pub fn total_items(&self, records: &[Record]) -> usize {
        let originals = records.iter().flat_map(|r| &r.generations).filter(|g| g.evolved_from.is_none()).count();
        originals * self.num_evolutions as usize
    }

    /// The generations a dataset shows: rewrites replace their parents
    /// unless the original or every evolution is kept.
    pub fn shown(&self, generations: Vec<Generation>) -> Vec<Generation> {
        let rewritten: HashSet<String> = generations.iter().filter_map(|g| g.evolved_from.as_ref().map(|from| from.generation_id.clone())).collect();
        generations
            .into_iter()
            .filter(|g| {
                if !rewritten.contains(&g.id) {
                    return true;
                }
                match g.evolved_from {
                    None => self.include_original,
                    Some(_) => self.keep_evolutions,
                }
            })
            .collect()
    }
}

/// A rewrite without the `#Rewritten Response#:` label models often repeat.
pub fn clean(raw: &str) -> String {
    let text = text_generation::clean(raw);
    let trimmed = text.trim_start();
    for label in [
        "#Rewritten Response#:",
        "#Rewritten Response#",
        "Rewritten Response:",
    ] {
        if let Some(rest) = trimmed.strip_prefix(label) {
            return rest.trim().to_string();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{EvolvedFrom, Prompt};

    fn rewrite(record: &Record, item: &EvolItem, text: &str) -> Generation {
        let mut g = Generation {
            model_id: "rewriter".into(),
            raw_text: text.into(),
            text: text.into(),
            seed: Some(item.seed()),
            evolved_from: Some(EvolvedFrom { generation_id: item.parent.id.clone(), mutation: item.mutation.name().into() }),
            ..Generation::default()
        };
        g.id = g.compute_id(&record.prompt.id);
        g
    }

    fn record() -> Record {
        let mut record = Record::new(Prompt::new("Explain rust ownership"));
        for text in ["It is about memory.", "Borrowing."] {
            let mut g = Generation { model_id: "m".into(), raw_text: text.into(), text: text.into(), ..Generation::default() };
            g.id = g.compute_id(&record.prompt.id);
            record.generations.push(g);
        }
        record
    }

    #[test]
    fn render_fills_method_prompt_and_response() {
        let text = EvolQuality::render(Mutation::Details, "What is {x}?", "It is {y}.");
        assert!(text.contains("using this method: Add more useful detail to the response."));
        assert!(text.contains("#Given Prompt#:\nWhat is {x}?\n"));
        assert!(text.contains("#Given Response#:\nIt is {y}.\n"));
        assert!(text.ends_with("#Rewritten Response#:\n"));
    }

    #[test]
    fn each_round_rewrites_the_last_rewrite_until_all_are_made() {
        let task = EvolQuality { num_evolutions: 3, ..EvolQuality::default() };
        let mut records = vec![record()];
        assert_eq!(task.total_items(&records), 6);
        let mut rounds = 0;
        loop {
            let items = task.plan(&records, |_| false);
            if items.is_empty() {
                break;
            }
            for item in items {
                assert_eq!(item.round, rounds);
                let messages = EvolQuality::messages(&item, &records[0].prompt.text);
                assert!(messages[0].content.contains(&format!("#Given Response#:\n{}\n", item.parent.text)));
                let g = rewrite(&records[0], &item, &format!("{} v{}", item.parent.text, item.round + 1));
                records[0].generations.push(g);
            }
            rounds += 1;
        }
        assert_eq!(rounds, 3);
        assert_eq!(records[0].generations.len(), 2 + 6);
        assert!(records[0].generations.iter().any(|g| g.text == "Borrowing. v1 v2 v3"));
    }

    #[test]
    fn mutations_are_seeded_per_chain_and_round() {
        let task = EvolQuality { num_evolutions: 8, ..EvolQuality::default() };
        let draws = |task: &EvolQuality| (0..8).map(|round| task.mutation("g", round)).collect::<Vec<_>>();
        assert_eq!(draws(&task), draws(&task));
        assert_ne!(draws(&task), draws(&EvolQuality { seed: 8, ..task.clone() }));
        let only = EvolQuality { mutations: vec![Mutation::Creativity], ..task };
        assert!(draws(&only).iter().all(|&m| m == Mutation::Creativity));
    }

    #[test]
    fn a_failed_round_is_not_planned_again_until_retried() {
        let task = EvolQuality::default();
        let records = vec![record()];
        let first = task.plan(&records, |_| false)[0].key.clone();
        assert_eq!(task.plan(&records, |key| key == first).len(), 1);
    }

    #[test]
    fn shown_keeps_what_the_settings_ask() {
        let mut record = record();
        let task = EvolQuality { num_evolutions: 2, ..EvolQuality::default() };
        for _ in 0..2 {
            for item in task.plan(&[record.clone()], |_| false) {
                let g = rewrite(&record, &item, &format!("{} +", item.parent.text));
                record.generations.push(g);
            }
        }
        let texts = |task: &EvolQuality| task.shown(record.generations.clone()).into_iter().map(|g| g.text).collect::<Vec<_>>();
        assert_eq!(texts(&task).len(), 6);
        let last_only = EvolQuality { keep_evolutions: false, include_original: false, ..task.clone() };
        assert_eq!(texts(&last_only), ["It is about memory. + +", "Borrowing. + +"]);
        let with_original = EvolQuality { keep_evolutions: false, ..task };
        assert_eq!(texts(&with_original).len(), 4);
    }

    #[test]
    fn clean_drops_the_label() {
        assert_eq!(
            clean("#Rewritten Response#:\n Better answer.</s>"),
            "Better answer."
        );
        assert_eq!(clean("Plain answer"), "Plain answer");
    }
}
