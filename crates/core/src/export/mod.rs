//! Exports: records as the tables people train on.
//!
//! - [`raw`]: every generation, DIBT style (`input`, `generation_model[]`,
//!   `generations[]`, …, plus `ratings[]` and `rationales[]` when judged);
//! - [`kto`]: TRL's unpaired format (`prompt`, `completion`, `label`), labels
//!   combined from many annotators;
//! - [`dpo`]: TRL's paired format (`prompt`, `chosen`, `rejected`, scores and
//!   models), pairs chosen by [`binarize`] from judge scores or human ratings;
//! - [`card`]: the dataset card (README.md) describing what was exported.
//!
//! KTO and DPO come in TRL's two styles: standard (`prompt` and completions
//! are strings) and conversational (lists of `{role, content}` messages,
//! which can carry the system prompt).

pub mod binarize;
pub mod card;
pub mod dpo;
pub mod kto;
pub mod raw;

use crate::record::{Generation, Record};
use crate::table::{DataType, Value};

/// TRL's two dataset styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// `prompt` and completions are plain strings.
    #[default]
    Standard,
    /// `prompt` and completions are lists of `{role, content}` messages.
    Conversational,
}

impl Style {
    /// The column type of prompts and completions in this style.
    fn data_type(self) -> DataType {
        match self {
            Style::Standard => DataType::String,
            Style::Conversational => DataType::messages(),
        }
    }

    /// The prompt column's value: the text, or the system prompt the
    /// generation was made with (if any) followed by the user turn.
    fn prompt(self, record: &Record, generation: &Generation) -> Value {
        match self {
            Style::Standard => Value::str(record.prompt.text.as_str()),
            Style::Conversational => {
                let mut messages = Vec::with_capacity(2);
                let system = generation
                    .system_prompt
                    .as_deref()
                    .or(record.prompt.system_prompt.as_deref());
                if let Some(system) = system.filter(|s| !s.trim().is_empty()) {
                    messages.push(Value::message("system", system));
                }
                messages.push(Value::message("user", &record.prompt.text));
                Value::List(messages)
            }
        }
    }

    /// A completion column's value: the text, or one assistant turn.
    fn completion(self, generation: &Generation) -> Value {
        match self {
            Style::Standard => Value::str(generation.text.as_str()),
            Style::Conversational => {
                Value::List(vec![Value::message("assistant", &generation.text)])
            }
        }
    }

    /// "standard" or "conversational", for descriptions.
    pub fn name(self) -> &'static str {
        match self {
            Style::Standard => "standard",
            Style::Conversational => "conversational",
        }
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Records for the export tests.

    use crate::record::*;

    /// A generation with a content id and, if given, one judgment.
    pub fn generation(
        prompt: &Prompt,
        model: &str,
        text: &str,
        judged: Option<(Aspect, f64)>,
    ) -> Generation {
        let mut g = Generation {
            model_id: model.into(),
            rendered_prompt: format!("<user>{}</user>", prompt.text),
            system_prompt: Some("Be kind.".into()),
            raw_text: format!("{text}</s>"),
            text: text.into(),
            created_at_ms: 1,
            ..Default::default()
        };
        g.id = g.compute_id(&prompt.id);
        if let Some((aspect, rating)) = judged {
            g.judgments.push(Judgment {
                judge_id: "judge".into(),
                aspect,
                rating: Some(rating),
                rationale: Some(format!("rated {rating}")),
                raw_output: String::new(),
                status: ParseStatus::Parsed,
                created_at_ms: 2,
                mode: JudgeMode::Critique,
                prompt_version: String::new(),
                confidence: None,
            });
        }
        g
    }

    /// A record whose generations are rated by the judge with these scores.
    pub fn judged(prompt: &str, scores: &[f64]) -> Record {
        let mut record = Record::new(Prompt::new(prompt));
        for (i, &score) in scores.iter().enumerate() {
            let g = generation(
                &record.prompt,
                &format!("model-{i}"),
                &format!("answer {i}"),
                Some((Aspect::OverallRating, score)),
            );
            record.generations.push(g);
        }
        record
    }

    /// A 👍/👎 rating.
    pub fn thumbs(annotator: &str, generation_id: &str, up: bool) -> HumanRating {
        HumanRating {
            annotator: annotator.into(),
            question: "Is this a good answer?".into(),
            value: RatingValue::KtoThumbs {
                generation_id: generation_id.into(),
                up,
            },
            created_at_ms: 3,
        }
    }
}
