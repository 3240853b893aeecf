//! The record model: a prompt, its generations, their judgments, and the
//! ratings people gave.
//!
//! ```text
//! Record ─ Prompt (id = sha256 of the text)
//!        ├ Generation* (model, backend, rendered prompt, sampling, raw + cleaned text)
//!        │   └ Judgment* (judge, aspect, rating, rationale, raw output, parse status)
//!        └ HumanRating* (annotator, question, value, time)
//! ```
//!
//! Human ratings hang off the record rather than one generation because an
//! A-vs-B question or a ranking is about several generations at once; each
//! value names the generations it is about by id.
//!
//! Everything keeps its provenance so a dataset row can always be traced back
//! to the model, prompt and settings that produced it. A [`Record`] is
//! serialized with a `schema_version`, and [`Record::from_json`] migrates older
//! stored data forward.

use crate::{Error, ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// The version of the stored record format written by this Prefab.
pub const SCHEMA_VERSION: u32 = 1;

/// The id of a prompt: the SHA-256 of its text, in hex — the `prompt_id` of
/// distilabel and of `ultrafeedback_binarized`, so rows can be joined with theirs.
pub fn prompt_id(text: &str) -> String {
    sha256_hex(&[text.as_bytes()])
}

/// SHA-256 over the parts, in hex; parts are separated by a NUL byte so that
/// `("ab", "c")` and `("a", "bc")` differ.
pub(crate) fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part);
    }
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    hex
}

/// A prompt: the instruction models answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    /// [`prompt_id`] of the text.
    pub id: String,
    /// The prompt itself.
    pub text: String,
    /// A system prompt that came with this prompt in the source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// The id the source file gave this prompt, if it had an id column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
}

impl Prompt {
    /// A prompt with its id computed from the text.
    pub fn new(text: impl Into<String>) -> Prompt {
        let text = text.into();
        Prompt {
            id: prompt_id(&text),
            text,
            system_prompt: None,
            source_id: None,
        }
    }
}

/// Where a generation ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Backend {
    /// A local GGUF model in the page's Web Worker.
    #[default]
    Local,
    /// An OpenAI-compatible chat-completions endpoint.
    Hosted {
        /// The endpoint's base URL (never with a token in it).
        endpoint: String,
    },
    /// Brought in a file with the prompts, to be rated as it is.
    Imported {
        /// The file's name.
        file: String,
    },
}

/// The sampling settings a generation was made with; `None` is the backend's default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SamplingParams {
    /// Softmax temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k cut-off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// The most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<u32>,
    /// Penalty on repeated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// Strings that end the generation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
}

/// Token counts, when the backend reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TokenCounts {
    /// Tokens in the rendered prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<u32>,
    /// Tokens generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion: Option<u32>,
}

/// How an evolved generation was derived (EvolQuality).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvolvedFrom {
    /// The generation that was rewritten.
    pub generation_id: String,
    /// The mutation applied, e.g. `helpfulness`.
    pub mutation: String,
}

/// One model's answer to a prompt, with everything needed to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Generation {
    /// A content id; see [`Generation::compute_id`].
    pub id: String,
    /// The model, e.g. `Qwen/Qwen2.5-0.5B-Instruct` or a GGUF file name.
    pub model_id: String,
    /// Where it ran.
    pub backend: Backend,
    /// The exact text the model was given, after the chat template.
    pub rendered_prompt: String,
    /// The system prompt used, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_prompt: Option<String>,
    /// Sampling settings.
    #[serde(default)]
    pub params: SamplingParams,
    /// The sampling seed, when the backend takes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// What the model returned, untouched.
    pub raw_text: String,
    /// The completion after cleaning (see [`crate::tasks::text_generation::clean`]).
    pub text: String,
    /// Token counts.
    #[serde(default)]
    pub tokens: TokenCounts,
    /// When it finished, in Unix milliseconds (the caller's clock: this crate has none).
    pub created_at_ms: u64,
    /// How long it took, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Set when this generation is an EvolQuality rewrite of another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evolved_from: Option<EvolvedFrom>,
    /// What judges said about it.
    #[serde(default)]
    pub judgments: Vec<Judgment>,
}

impl Generation {
    /// A content-addressed id: SHA-256 over the prompt id, model, rendered
    /// prompt, seed and raw text — what the generation *is*, never when it
    /// was made — so the same completion imported twice, or on two devices,
    /// or stored and uploaded, keeps one id, and ratings of it meet.
    pub fn compute_id(&self, prompt_id: &str) -> String {
        let seed = self.seed.map(|s| s.to_string()).unwrap_or_default();
        sha256_hex(&[
            prompt_id.as_bytes(),
            self.model_id.as_bytes(),
            self.rendered_prompt.as_bytes(),
            seed.as_bytes(),
            self.raw_text.as_bytes(),
        ])
    }
}

/// What a judge rates, in UltraFeedback's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Aspect {
    /// Is the answer useful and informative?
    #[serde(rename = "helpfulness")]
    Helpfulness,
    /// Is the model honest about what it knows and how sure it is?
    #[serde(rename = "honesty")]
    Honesty,
    /// Does the answer do what the instruction asked?
    #[serde(rename = "instruction-following")]
    InstructionFollowing,
    /// Is it free of hallucination and factual error?
    #[serde(rename = "truthfulness")]
    Truthfulness,
    /// All of the above in one rating.
    #[serde(rename = "overall-rating")]
    OverallRating,
}

impl Aspect {
    /// Every aspect, in UltraFeedback's order.
    pub const ALL: [Aspect; 5] = [
        Aspect::Helpfulness,
        Aspect::Honesty,
        Aspect::InstructionFollowing,
        Aspect::Truthfulness,
        Aspect::OverallRating,
    ];

    /// The name distilabel uses: `helpfulness`, `instruction-following`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Aspect::Helpfulness => "helpfulness",
            Aspect::Honesty => "honesty",
            Aspect::InstructionFollowing => "instruction-following",
            Aspect::Truthfulness => "truthfulness",
            Aspect::OverallRating => "overall-rating",
        }
    }
}

/// Whether a judge's output could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ParseStatus {
    /// The rating was read.
    Parsed,
    /// It could not be; the judgment keeps the raw output so nothing is lost.
    Failed {
        /// What was missing or unreadable.
        reason: String,
    },
}

/// A judge model's rating of one generation on one aspect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgment {
    /// The judge model.
    pub judge_id: String,
    /// What was rated.
    pub aspect: Aspect,
    /// The rating, 1–5; `None` when it could not be read.
    pub rating: Option<f64>,
    /// The judge's reason, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    /// The judge's whole output (shared by every text judged in one call).
    pub raw_output: String,
    /// Whether the rating was read.
    pub status: ParseStatus,
    /// When, in Unix milliseconds.
    pub created_at_ms: u64,
    /// How the judge rated: a written critique, or the probabilities of the
    /// ratings as its next token.
    #[serde(default)]
    pub mode: JudgeMode,
    /// The version of Prefab's judge prompt it was asked with
    /// ([`crate::judge::PROMPT_VERSION`]); empty when unknown.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub prompt_version: String,
    /// For a logit judge: the probability of its most likely rating, among
    /// the five (how sure it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

impl Judgment {
    /// Who judged, and how: `"{model} · {mode} · {aspect}"`. Judgments with
    /// the same label come from one judge and are compared and averaged
    /// together.
    pub fn judge_label(&self) -> String {
        format!("{} · {} · {}", self.judge_id, self.mode.as_str(), self.aspect.as_str())
    }
}

/// How a judge rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum JudgeMode {
    /// It writes a rating and a rationale (UltraFeedback), parsed from its text.
    #[default]
    Critique,
    /// One forward pass: the probabilities of "1".."5" as its next token.
    Logit,
}

impl JudgeMode {
    /// `critique` or `logit`.
    pub fn as_str(self) -> &'static str {
        match self {
            JudgeMode::Critique => "critique",
            JudgeMode::Logit => "logit",
        }
    }
}

/// The outcome of an A-vs-B question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A is better.
    A,
    /// B is better.
    B,
    /// Both are as good.
    Tie,
    /// Neither is acceptable.
    BothBad,
}

/// What a person answered; the variant is the kind of question asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RatingValue {
    /// KTO's question: is this completion desirable? 👍 / 👎.
    KtoThumbs {
        /// The generation rated.
        generation_id: String,
        /// `true` for thumbs up.
        up: bool,
    },
    /// Which of two completions is better?
    Pairwise {
        /// The generation shown as A.
        a: String,
        /// The generation shown as B.
        b: String,
        /// The answer.
        verdict: Verdict,
    },
    /// A score from 1 (worst) to 5 (best).
    Likert {
        /// The generation rated.
        generation_id: String,
        /// 1 to 5.
        score: u8,
    },
    /// Generations ordered from best to worst.
    Ranking {
        /// Best first.
        generation_ids: Vec<String>,
    },
}

impl RatingValue {
    /// The generations the answer is about, in the order they were shown.
    pub fn generation_ids(&self) -> Vec<&str> {
        match self {
            RatingValue::KtoThumbs { generation_id, .. }
            | RatingValue::Likert { generation_id, .. } => {
                vec![generation_id.as_str()]
            }
            RatingValue::Pairwise { a, b, .. } => vec![a.as_str(), b.as_str()],
            RatingValue::Ranking { generation_ids } => {
                generation_ids.iter().map(String::as_str).collect()
            }
        }
    }

    /// The same answer about generations renamed by `renamed` (old id → new
    /// id; ids it does not name stay): how stored ratings follow a change of
    /// generation ids.
    pub fn with_renamed_ids(&self, renamed: &HashMap<String, String>) -> RatingValue {
        let rename = |id: &String| renamed.get(id).unwrap_or(id).clone();
        match self {
            RatingValue::KtoThumbs { generation_id, up } => RatingValue::KtoThumbs { generation_id: rename(generation_id), up: *up },
            RatingValue::Likert { generation_id, score } => RatingValue::Likert { generation_id: rename(generation_id), score: *score },
            RatingValue::Pairwise { a, b, verdict } => RatingValue::Pairwise { a: rename(a), b: rename(b), verdict: *verdict },
            RatingValue::Ranking { generation_ids } => RatingValue::Ranking { generation_ids: generation_ids.iter().map(rename).collect() },
        }
    }

    /// The id of the question this answers — the same for everyone and on
    /// every device, whatever order the generations were shown in: what a
    /// campaign counts coverage by.
    pub fn question_id(&self) -> String {
        sha256_hex(&[self.subject().as_bytes()])
    }

    /// What the answer is about, the same for the same question whatever the
    /// order the generations were shown in.
    pub(crate) fn subject(&self) -> String {
        match self {
            RatingValue::KtoThumbs { generation_id, .. } => format!("kto_thumbs:{generation_id}"),
            RatingValue::Likert { generation_id, .. } => format!("likert:{generation_id}"),
            RatingValue::Pairwise { a, b, .. } => {
                let (x, y) = if a <= b { (a, b) } else { (b, a) };
                format!("pairwise:{x}:{y}")
            }
            RatingValue::Ranking { generation_ids } => {
                let mut ids: Vec<&str> = generation_ids.iter().map(String::as_str).collect();
                ids.sort_unstable();
                format!("ranking:{}", ids.join(":"))
            }
        }
    }
}

/// A person's answer to one question in the rating UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HumanRating {
    /// Who answered (a Hub user name, or a local name).
    pub annotator: String,
    /// The question as the UI showed it.
    pub question: String,
    /// The answer.
    pub value: RatingValue,
    /// When, in Unix milliseconds.
    pub created_at_ms: u64,
}

impl HumanRating {
    /// A stable id: SHA-256 over the annotator and what the question is
    /// about (not the answer, not the time).
    ///
    /// One person has one answer in force per question, so a store keyed by
    /// this id keeps that answer once however often it is written (a retry
    /// after a reload), and a changed mind replaces the old answer.
    pub fn id(&self) -> String {
        rating_id(&self.annotator, &self.value)
    }
}

/// The [`HumanRating::id`] of `annotator`'s answer of this kind about these
/// generations (the answer itself does not count).
pub fn rating_id(annotator: &str, value: &RatingValue) -> String {
    sha256_hex(&[annotator.as_bytes(), value.subject().as_bytes()])
}

/// Generation ids to change so that every stored generation has today's
/// [`Generation::compute_id`] (older Prefabs hashed the time too): old id →
/// new id, for the generations (each with its prompt's id) whose id differs.
pub fn renamed_generation_ids<'a>(generations: impl IntoIterator<Item = (&'a str, &'a Generation)>) -> HashMap<String, String> {
    generations
        .into_iter()
        .filter_map(|(prompt_id, generation)| {
            let id = generation.compute_id(prompt_id);
            (id != generation.id).then(|| (generation.id.clone(), id))
        })
        .collect()
}

/// Ratings carried over to renamed generation ids, one per [`HumanRating::id`]:
/// when two old generations became one (the same file imported twice), a
/// person's answers about both become one, the newest.
pub fn ratings_with_renamed_ids(ratings: impl IntoIterator<Item = HumanRating>, renamed: &HashMap<String, String>) -> Vec<HumanRating> {
    let mut newest: HashMap<String, HumanRating> = HashMap::new();
    for mut rating in ratings {
        rating.value = rating.value.with_renamed_ids(renamed);
        match newest.get(&rating.id()) {
            Some(kept) if kept.created_at_ms > rating.created_at_ms => {}
            _ => {
                newest.insert(rating.id(), rating);
            }
        }
    }
    let mut kept: Vec<HumanRating> = newest.into_values().collect();
    kept.sort_by(|x, y| x.created_at_ms.cmp(&y.created_at_ms).then_with(|| x.id().cmp(&y.id())));
    kept
}

/// What renaming a person changes in a store of ratings: `from`'s answers
/// carried to `to` (put these) and the old answers' ids (delete these).
///
/// When `to` already answered a question (a name used before), the newer of
/// the two answers stays, as a changed mind would replace the older one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Renamed {
    /// The answers under the new name, keyed by their new ids.
    pub put: Vec<HumanRating>,
    /// The ids of the old name's answers.
    pub delete: Vec<String>,
}

/// Carries `from`'s ratings over to the name `to` (see [`Renamed`]).
pub fn rename_annotator<'a>(ratings: impl IntoIterator<Item = &'a HumanRating>, from: &str, to: &str) -> Renamed {
    let ratings: Vec<&HumanRating> = ratings.into_iter().collect();
    if from == to {
        return Renamed::default();
    }
    let theirs: HashMap<String, u64> =
        ratings.iter().filter(|rating| rating.annotator == to).map(|rating| (rating.id(), rating.created_at_ms)).collect();
    let mut renamed = Renamed::default();
    for rating in ratings.into_iter().filter(|rating| rating.annotator == from) {
        renamed.delete.push(rating.id());
        let carried = HumanRating { annotator: to.to_owned(), ..rating.clone() };
        if theirs.get(&carried.id()).is_none_or(|&at| at < carried.created_at_ms) {
            renamed.put.push(carried);
        }
    }
    renamed
}

/// Records put together from what a store keeps apart.
#[derive(Debug, Clone, PartialEq)]
pub struct Assembled {
    /// One record per prompt, in the prompts' order.
    pub records: Vec<Record>,
    /// Generations whose prompt id names none of the prompts; left out.
    pub orphan_generations: usize,
    /// Ratings about no generation of any record; left out.
    pub orphan_ratings: usize,
}

/// Puts prompts, generations (each with its prompt's id) and ratings back
/// together as the [`Record`]s the exports read.
///
/// Generations keep the order they come in; a rating joins the record of the
/// first generation it names. What belongs to no prompt is counted, not
/// silently dropped, so the page can say so.
pub fn assemble_records(
    prompts: impl IntoIterator<Item = Prompt>,
    generations: impl IntoIterator<Item = (String, Generation)>,
    ratings: impl IntoIterator<Item = HumanRating>,
) -> Assembled {
    let mut records: Vec<Record> = prompts.into_iter().map(Record::new).collect();
    let by_prompt: HashMap<String, usize> = records
        .iter()
        .enumerate()
        .map(|(index, record)| (record.prompt.id.clone(), index))
        .collect();
    let mut by_generation: HashMap<String, usize> = HashMap::new();
    let mut orphan_generations = 0;
    for (prompt_id, generation) in generations {
        match by_prompt.get(&prompt_id) {
            // Ids are content hashes: the same id twice is the same completion
            // (the same file imported twice), shown and exported once.
            Some(_) if by_generation.contains_key(&generation.id) => {}
            Some(&index) => {
                by_generation.insert(generation.id.clone(), index);
                records[index].generations.push(generation);
            }
            None => orphan_generations += 1,
        }
    }
    let mut orphan_ratings = 0;
    for rating in ratings {
        let home = rating
            .value
            .generation_ids()
            .into_iter()
            .find_map(|id| by_generation.get(id).copied());
        match home {
            Some(index) => records[index].ratings.push(rating),
            None => orphan_ratings += 1,
        }
    }
    Assembled {
        records,
        orphan_generations,
        orphan_ratings,
    }
}

/// A prompt with everything attached to it: the unit stored and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The stored format's version; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The prompt.
    pub prompt: Prompt,
    /// Its generations.
    #[serde(default)]
    pub generations: Vec<Generation>,
    /// What people said about them.
    #[serde(default)]
    pub ratings: Vec<HumanRating>,
}

impl Record {
    /// Each generation's index, by generation id.
    pub fn generation_positions(&self) -> HashMap<&str, usize> {
        self.generations
            .iter()
            .enumerate()
            .map(|(index, generation)| (generation.id.as_str(), index))
            .collect()
    }

    /// A record for a prompt, with nothing attached yet.
    pub fn new(prompt: Prompt) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            prompt,
            generations: Vec::new(),
            ratings: Vec::new(),
        }
    }

    /// The generation with this id.
    pub fn generation(&self, id: &str) -> Option<&Generation> {
        self.generations.iter().find(|g| g.id == id)
    }

    /// The ratings in force: when a person answered the same question more
    /// than once (they changed their mind), only their latest answer counts.
    pub fn current_ratings(&self) -> Vec<&HumanRating> {
        let mut latest: HashMap<(&str, String), usize> = HashMap::new();
        for (index, rating) in self.ratings.iter().enumerate() {
            let key = (rating.annotator.as_str(), rating.value.subject());
            match latest.get(&key) {
                Some(&kept) if self.ratings[kept].created_at_ms > rating.created_at_ms => {}
                _ => {
                    latest.insert(key, index);
                }
            }
        }
        let mut kept: Vec<usize> = latest.into_values().collect();
        kept.sort_unstable();
        kept.into_iter().map(|i| &self.ratings[i]).collect()
    }

    /// The record as JSON, with its `schema_version`.
    pub fn to_json(&self) -> String {
        // Serializing plain structs of strings and numbers cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a stored record, migrating it from an older `schema_version`.
    pub fn from_json(text: &str) -> Result<Record, Error> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::new(ErrorKind::Json {
                message: e.to_string(),
                expected: "a stored record",
            })
        })?;
        let version = match value.get("schema_version") {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        let Some(version) = version else {
            return Err(Error::new(ErrorKind::UnexpectedJson {
                expected: "a record with a numeric \"schema_version\"",
                found: "none".to_string(),
            })
            .in_column("schema_version"));
        };
        let value = migrate(value, version)?;
        serde_json::from_value(value).map_err(|e| {
            Error::new(ErrorKind::Json {
                message: e.to_string(),
                expected: "a stored record",
            })
        })
    }
}

/// Brings a stored record from `version` up to [`SCHEMA_VERSION`].
///
/// Each future format change adds one step here (`1 => …to 2…`), so data
/// saved in a person's browser by any older Prefab still opens.
fn migrate(value: serde_json::Value, version: u64) -> Result<serde_json::Value, Error> {
    match version {
        1 => Ok(value),
        found => Err(Error::new(ErrorKind::UnsupportedSchemaVersion {
            found,
            supported: SCHEMA_VERSION,
        })
        .in_column("schema_version")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thumb(annotator: &str, generation_id: &str, up: bool, at: u64) -> HumanRating {
        HumanRating {
            annotator: annotator.into(),
            question: "Is this a good answer?".into(),
            value: RatingValue::KtoThumbs { generation_id: generation_id.into(), up },
            created_at_ms: at,
        }
    }

    #[test]
    fn renaming_carries_every_answer_and_keeps_the_newer_of_two() {
        let ratings = vec![
            thumb("anonymous-1", "g1", true, 10),
            thumb("anonymous-1", "g2", false, 20),
            // The new name answered g2 before (older) and g3 (someone else's question).
            thumb("ana", "g2", true, 5),
            thumb("ana", "g3", true, 30),
            thumb("bob", "g1", false, 40),
        ];
        let renamed = rename_annotator(&ratings, "anonymous-1", "ana");
        assert_eq!(renamed.put, vec![thumb("ana", "g1", true, 10), thumb("ana", "g2", false, 20)]);
        assert_eq!(renamed.delete, vec![ratings[0].id(), ratings[1].id()]);
        // A newer answer under the new name stays.
        let newer = vec![thumb("anonymous-1", "g2", false, 20), thumb("ana", "g2", true, 50)];
        let renamed = rename_annotator(&newer, "anonymous-1", "ana");
        assert!(renamed.put.is_empty());
        assert_eq!(renamed.delete, vec![newer[0].id()]);
        assert_eq!(rename_annotator(&ratings, "ana", "ana"), Renamed::default());
    }

    fn sample() -> Record {
        let mut record = Record::new(Prompt::new("What is 2+2?"));
        let mut generation = Generation {
            model_id: "m".into(),
            backend: Backend::Hosted {
                endpoint: "https://router.example/v1".into(),
            },
            rendered_prompt: "<|user|>What is 2+2?".into(),
            seed: Some(3),
            raw_text: "4</s>".into(),
            text: "4".into(),
            created_at_ms: 1_700_000_000_000,
            ..Default::default()
        };
        generation.id = generation.compute_id(&record.prompt.id);
        generation.judgments.push(Judgment {
            judge_id: "judge".into(),
            aspect: Aspect::InstructionFollowing,
            rating: Some(5.0),
            rationale: Some("Correct.".into()),
            raw_output: "Rating: 5".into(),
            status: ParseStatus::Parsed,
            created_at_ms: 1,
            mode: JudgeMode::Critique,
            prompt_version: String::new(),
            confidence: None,
        });
        record.ratings.push(HumanRating {
            annotator: "ann".into(),
            question: "Is this a good answer?".into(),
            value: RatingValue::KtoThumbs {
                generation_id: generation.id.clone(),
                up: true,
            },
            created_at_ms: 2,
        });
        record.generations.push(generation);
        record
    }

    #[test]
    fn prompt_id_is_the_sha256_of_the_text() {
        // sha256("hello") — the value `hashlib.sha256(b"hello").hexdigest()` gives.
        assert_eq!(
            prompt_id("hello"),
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(Prompt::new("hello").id, prompt_id("hello"));
    }

    #[test]
    fn generation_id_depends_on_content() {
        let record = sample();
        let g = &record.generations[0];
        assert_eq!(g.id.len(), 64);
        let mut other = g.clone();
        other.raw_text.push('!');
        assert_ne!(other.compute_id(&record.prompt.id), g.id);
        assert_eq!(record.generation(&g.id), Some(g));
    }

    #[test]
    fn generation_id_is_the_same_whenever_it_was_made() {
        let record = sample();
        let mut later = record.generations[0].clone();
        later.created_at_ms += 86_400_000;
        later.duration_ms = Some(5);
        assert_eq!(later.compute_id(&record.prompt.id), record.generations[0].id);
    }

    #[test]
    fn old_time_stamped_ids_migrate_and_their_ratings_follow() {
        let record = sample();
        let current = record.generations[0].clone();
        // Two imports of one file by an older Prefab: two ids for one completion.
        let (mut first, mut second) = (current.clone(), current.clone());
        first.id = "old-1".into();
        second.id = "old-2".into();
        let renamed = renamed_generation_ids([(record.prompt.id.as_str(), &first), (record.prompt.id.as_str(), &second), (record.prompt.id.as_str(), &current)]);
        assert_eq!(renamed.len(), 2, "an id that is already right is left alone");
        assert!(renamed.values().all(|id| *id == current.id));
        let thumbs = |generation_id: &str, up: bool, at: u64| HumanRating {
            annotator: "ann".into(),
            question: "ok?".into(),
            value: RatingValue::KtoThumbs { generation_id: generation_id.into(), up },
            created_at_ms: at,
        };
        let pair = HumanRating {
            annotator: "ann".into(),
            question: "which?".into(),
            value: RatingValue::Pairwise { a: "other".into(), b: "old-2".into(), verdict: Verdict::B },
            created_at_ms: 4,
        };
        let migrated = ratings_with_renamed_ids([thumbs("old-2", false, 3), thumbs("old-1", true, 1), pair], &renamed);
        assert_eq!(migrated.len(), 2, "two answers about one completion become the newest: {migrated:?}");
        assert_eq!(migrated[0], thumbs(&current.id, false, 3));
        assert_eq!(migrated[1].value, RatingValue::Pairwise { a: "other".into(), b: current.id.clone(), verdict: Verdict::B });
        let assembled = assemble_records([record.prompt.clone()], [(record.prompt.id.clone(), current.clone()), (record.prompt.id.clone(), current.clone())], migrated);
        assert_eq!(assembled.records[0].generations.len(), 1, "one id is one completion");
    }

    #[test]
    fn json_round_trip_with_schema_version() {
        let record = sample();
        let json = record.to_json();
        assert!(json.starts_with(r#"{"schema_version":1,"#));
        assert!(json.contains(r#""aspect":"instruction-following""#));
        assert!(json.contains(r#""kind":"kto_thumbs""#));
        assert!(
            json.contains(r#""backend":{"kind":"hosted","endpoint":"https://router.example/v1"}"#)
        );
        assert_eq!(Record::from_json(&json).unwrap(), record);
    }

    #[test]
    fn a_later_answer_replaces_an_earlier_one() {
        let mut record = sample();
        let id = record.generations[0].id.clone();
        let thumbs = |annotator: &str, up: bool, at: u64| HumanRating {
            annotator: annotator.into(),
            question: "ok?".into(),
            value: RatingValue::KtoThumbs {
                generation_id: id.clone(),
                up,
            },
            created_at_ms: at,
        };
        record.ratings = vec![
            thumbs("ann", true, 10),
            thumbs("bob", false, 11),
            thumbs("ann", false, 12),
        ];
        let current = record.current_ratings();
        assert_eq!(current.len(), 2);
        assert_eq!(current[0].annotator, "bob");
        assert_eq!(
            current[1].value,
            RatingValue::KtoThumbs {
                generation_id: id.clone(),
                up: false
            }
        );
        // A pairwise answer with A and B swapped is the same question.
        let pair = |a: &str, b: &str, verdict, at| HumanRating {
            annotator: "ann".into(),
            question: "which?".into(),
            value: RatingValue::Pairwise {
                a: a.into(),
                b: b.into(),
                verdict,
            },
            created_at_ms: at,
        };
        record.ratings = vec![
            pair("x", "y", Verdict::A, 1),
            pair("y", "x", Verdict::Tie, 2),
        ];
        assert_eq!(record.current_ratings().len(), 1);
        assert_eq!(record.current_ratings()[0].created_at_ms, 2);
    }

    #[test]
    fn a_rating_id_names_the_question_not_the_answer() {
        let record = sample();
        let rating = &record.ratings[0];
        let mut changed_mind = rating.clone();
        changed_mind.value = RatingValue::KtoThumbs {
            generation_id: record.generations[0].id.clone(),
            up: false,
        };
        changed_mind.created_at_ms += 1000;
        assert_eq!(changed_mind.id(), rating.id());
        let mut someone_else = rating.clone();
        someone_else.annotator = "bob".into();
        assert_ne!(someone_else.id(), rating.id());
        // The same generations asked about on another scale is another question.
        let likert = RatingValue::Likert {
            generation_id: record.generations[0].id.clone(),
            score: 4,
        };
        assert_ne!(rating_id("ann", &likert), rating.id());
        // A vs B is one question whichever side each was shown on.
        let ab = RatingValue::Pairwise {
            a: "x".into(),
            b: "y".into(),
            verdict: Verdict::A,
        };
        let ba = RatingValue::Pairwise {
            a: "y".into(),
            b: "x".into(),
            verdict: Verdict::Tie,
        };
        assert_eq!(rating_id("ann", &ab), rating_id("ann", &ba));
        assert_eq!(ab.generation_ids(), ["x", "y"]);
    }

    #[test]
    fn assembling_puts_generations_and_ratings_under_their_prompts() {
        let original = sample();
        let mut second = Record::new(Prompt::new("Name a colour."));
        let mut blue = original.generations[0].clone();
        blue.text = "Blue".into();
        blue.id = blue.compute_id(&second.prompt.id);
        second.generations.push(blue.clone());
        let mut stray = blue.clone();
        stray.id = "stray".into();
        let mut orphan = original.ratings[0].clone();
        orphan.value = RatingValue::KtoThumbs {
            generation_id: "nowhere".into(),
            up: true,
        };

        let assembled = assemble_records(
            [original.prompt.clone(), second.prompt.clone()],
            [
                (second.prompt.id.clone(), blue),
                (original.prompt.id.clone(), original.generations[0].clone()),
                ("unknown prompt".to_string(), stray),
            ],
            original.ratings.iter().cloned().chain([orphan]),
        );
        assert_eq!(assembled.records, vec![original, second]);
        assert_eq!(assembled.orphan_generations, 1);
        assert_eq!(assembled.orphan_ratings, 1);
    }

    #[test]
    fn newer_schema_version_is_refused_clearly() {
        let json = sample()
            .to_json()
            .replace(r#""schema_version":1"#, r#""schema_version":9"#);
        let err = Record::from_json(&json).unwrap_err();
        assert_eq!(
            err.kind(),
            &ErrorKind::UnsupportedSchemaVersion {
                found: 9,
                supported: 1
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("column \"schema_version\""), "{msg}");
        assert!(msg.contains("schema_version 9 is newer"), "{msg}");
    }

    #[test]
    fn missing_schema_version_is_refused_clearly() {
        let err = Record::from_json(r#"{"prompt":{"id":"x","text":"y"}}"#).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("expected a record with a numeric \"schema_version\""),
            "{msg}"
        );
    }

    #[test]
    fn malformed_record_json_says_what_was_expected() {
        let err = Record::from_json(r#"{"schema_version":1,"prompt":{"id":"x"}}"#).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("missing field `text`"), "{msg}");
        assert!(msg.contains("expected a stored record"), "{msg}");
    }
}
