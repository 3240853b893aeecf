//! The model pool's entries (which models answer, with what settings) and
//! the plan of work that follows — one item per prompt, pool entry and
//! sample.
//!
//! Each work item has a stable key, so a run that stopped (a reload, a
//! closed tab) resumes by planning again and leaving out the keys that are
//! done. Each item's sampling seed comes from its key, so redoing an item
//! that was cut off mid-generation reproduces it exactly on a local model.
//! A local entry's keys name the local model (the `model_id` its
//! generations carry): loading another model plans new items beside the
//! first model's, which stay as they are.

use serde::{Deserialize, Serialize};

use crate::chat::ChatMessage;
use crate::prng::SplitMix64;
use crate::record::{Backend, Prompt, SamplingParams};
use crate::tasks::text_generation::TextGeneration;

/// Which model a pool entry runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PoolModel {
    /// The local model loaded in the page's worker.
    Local,
    /// A hosted endpoint from Settings, by its label.
    Hosted {
        /// The endpoint's label (its model or address), as Settings shows it.
        endpoint: String,
    },
}

/// One model of the pool with its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolEntry {
    /// A short id, unique in the pool and never reused: part of every work
    /// item's key.
    pub id: String,
    /// The model.
    pub model: PoolModel,
    /// The system prompt, if any (a prompt's own system prompt wins).
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// Softmax temperature.
    pub temperature: f64,
    /// Nucleus sampling mass.
    pub top_p: f64,
    /// The most tokens to generate.
    pub max_new_tokens: u32,
    /// How many completions of each prompt.
    pub generations_per_prompt: u32,
}

impl PoolEntry {
    /// The conversation sent for `prompt`.
    pub fn messages(&self, prompt: &Prompt) -> Vec<ChatMessage> {
        TextGeneration { system_prompt: self.system_prompt.clone() }.messages(prompt)
    }

    /// The sampling settings, as recorded with each generation.
    pub fn sampling(&self) -> SamplingParams {
        SamplingParams {
            temperature: Some(self.temperature),
            top_p: Some(self.top_p),
            max_new_tokens: Some(self.max_new_tokens),
            ..SamplingParams::default()
        }
    }

    /// Where its generations run.
    pub fn backend(&self, endpoint_url: impl FnOnce(&str) -> String) -> Backend {
        match &self.model {
            PoolModel::Local => Backend::Local,
            PoolModel::Hosted { endpoint } => Backend::Hosted { endpoint: endpoint_url(endpoint) },
        }
    }

    /// A one-line summary: model and settings.
    pub fn describe(&self, local_model: &str) -> String {
        let model = match &self.model {
            PoolModel::Local => local_model,
            PoolModel::Hosted { endpoint } => endpoint,
        };
        format!(
            "{model} · temperature {} · top_p {} · {} tokens · ×{}",
            self.temperature, self.top_p, self.max_new_tokens, self.generations_per_prompt
        )
    }
}

/// One generation to make: a prompt, a pool entry, and which of its samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// The prompt's index in the project's prompts.
    pub prompt_index: usize,
    /// The entry's index in the pool.
    pub entry_index: usize,
    /// Which sample of this prompt and entry, from 0.
    pub sample: u32,
    /// `"{prompt id}/{entry id}/{sample}"`, and for a local entry
    /// `"…/{sample}@{model}"` (see [`item_key`]): stable across reloads.
    pub key: String,
}

impl WorkItem {
    /// The item's sampling seed, derived from its key. It keeps 53 bits:
    /// it is stored in IndexedDB as a JSON number, which holds no more
    /// exactly.
    pub fn seed(&self) -> u64 {
        SplitMix64::for_key(0x5052_4546_4142, &self.key).next_u64() >> 11
    }
}

/// The key of the item for `prompt`, `entry` and `sample`. A local
/// entry's key ends with `@` and the local model's id (`local_model`, as
/// its generations' `model_id`), with `%`, `/` and `@` written `%25`, `%2F`
/// and `%40` so that the key's parts stay apart.
pub fn item_key(prompt: &Prompt, entry: &PoolEntry, sample: u32, local_model: &str) -> String {
    match entry.model {
        PoolModel::Local => format!("{}/{}/{sample}@{}", prompt.id, entry.id, escape_model(local_model)),
        PoolModel::Hosted { .. } => format!("{}/{}/{sample}", prompt.id, entry.id),
    }
}

fn escape_model(model: &str) -> String {
    model.replace('%', "%25").replace('/', "%2F").replace('@', "%40")
}

/// The item stored for the planned `key`: under the key itself, or for a
/// local item, under the key it had before keys named the model (then
/// `"{prompt id}/{entry id}/{sample}"`), if that item's generation is the
/// model's (`model_of`: its generation's `model_id`, if done). So a project
/// begun before keys named models resumes where it was with the same model,
/// and plans new items with another.
pub fn stored_item<'s, S>(key: &str, get: impl Fn(&str) -> Option<&'s S>, model_of: impl Fn(&S) -> Option<&str>) -> Option<&'s S> {
    if let Some(state) = get(key) {
        return Some(state);
    }
    let (unnamed, model) = key.rsplit_once('@')?;
    get(unnamed).filter(|state| model_of(state).is_some_and(|made_by| escape_model(made_by) == model))
}

/// Every item not yet done, prompt by prompt (so completions of a prompt
/// arrive together and can be rated early), then entry by entry; local
/// entries' items are those of `local_model` (see [`item_key`]).
pub fn plan(prompts: &[Prompt], pool: &[PoolEntry], local_model: &str, is_done: impl Fn(&str) -> bool) -> Vec<WorkItem> {
    let mut items = Vec::new();
    for (prompt_index, prompt) in prompts.iter().enumerate() {
        for (entry_index, entry) in pool.iter().enumerate() {
            for sample in 0..entry.generations_per_prompt {
                let key = item_key(prompt, entry, sample, local_model);
                if !is_done(&key) {
                    items.push(WorkItem { prompt_index, entry_index, sample, key });
                }
            }
        }
    }
    items
}

/// The planned items at positions `range` of the whole plan (done or not),
/// without building the rest: a table of 100,000 planned items draws one
/// page of them.
pub fn items_in(prompts: &[Prompt], pool: &[PoolEntry], local_model: &str, range: std::ops::Range<usize>) -> Vec<WorkItem> {
    let per_prompt: usize = pool.iter().map(|entry| entry.generations_per_prompt as usize).sum();
    let mut items = Vec::new();
    if per_prompt == 0 {
        return items;
    }
    let mut position = range.start;
    while position < range.end.min(prompts.len() * per_prompt) {
        let (prompt_index, mut offset) = (position / per_prompt, position % per_prompt);
        let prompt = &prompts[prompt_index];
        for (entry_index, entry) in pool.iter().enumerate() {
            let count = entry.generations_per_prompt as usize;
            if offset < count {
                let sample = offset as u32;
                items.push(WorkItem { prompt_index, entry_index, sample, key: item_key(prompt, entry, sample, local_model) });
                break;
            }
            offset -= count;
        }
        position += 1;
    }
    items
}

/// A pool entry's setting as typed in the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Softmax temperature, 0 to 2.
    Temperature,
    /// Nucleus sampling mass, above 0 up to 1.
    TopP,
    /// The most tokens to generate, a whole number.
    MaxTokens,
    /// Completions of each prompt, a whole number.
    Generations,
}

/// The most tokens an entry may ask for: more than any model's context here.
pub const MAX_NEW_TOKENS: u32 = 32_768;
/// The most completions of one prompt by one entry: enough for best-of-n,
/// and a plan people can still look through.
pub const MAX_GENERATIONS_PER_PROMPT: u32 = 100;

/// Why a typed setting was refused, said at its field.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingError {
    /// The setting.
    pub setting: Setting,
    /// What the field holds.
    pub typed: String,
}

impl std::fmt::Display for SettingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let typed = self.typed.trim();
        let what = if typed.is_empty() { "is empty".to_owned() } else { format!("is “{typed}”") };
        match self.setting {
            Setting::Temperature => write!(f, "Temperature {what}: type a number from 0 to 2."),
            Setting::TopP => write!(f, "top_p {what}: type a number above 0, up to 1."),
            Setting::MaxTokens => write!(f, "Max tokens {what}: type a whole number from 1 to {MAX_NEW_TOKENS}."),
            Setting::Generations => write!(f, "Generations per prompt {what}: type a whole number from 1 to {MAX_GENERATIONS_PER_PROMPT}."),
        }
    }
}

impl std::error::Error for SettingError {}

impl Setting {
    /// Reads `typed` as this setting: a number in its range, whole where it
    /// counts something (2.5 generations is refused, not rounded).
    pub fn read(self, typed: &str) -> Result<f64, SettingError> {
        let refuse = || SettingError { setting: self, typed: typed.to_owned() };
        let value: f64 = typed.trim().parse().map_err(|_| refuse())?;
        let whole = value.fract() == 0.0;
        let fits = match self {
            Setting::Temperature => (0.0..=2.0).contains(&value),
            Setting::TopP => value > 0.0 && value <= 1.0,
            Setting::MaxTokens => whole && (1.0..=f64::from(MAX_NEW_TOKENS)).contains(&value),
            Setting::Generations => whole && (1.0..=f64::from(MAX_GENERATIONS_PER_PROMPT)).contains(&value),
        };
        if fits { Ok(value) } else { Err(refuse()) }
    }
}

/// How many items the whole run has.
pub fn total_items(prompts: &[Prompt], pool: &[PoolEntry]) -> usize {
    prompts.len() * pool.iter().map(|entry| entry.generations_per_prompt as usize).sum::<usize>()
}

/// How many requests one hosted pool entry keeps in flight. Hosted servers
/// batch concurrent requests (vLLM, TGI, the HF router), so a few at once
/// finish far sooner than one after another, without tripping rate limits.
pub const HOSTED_CONCURRENCY: usize = 4;

/// How many requests each kind of model keeps in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concurrency {
    /// For the local model: as many as the worker decodes together (the
    /// samples of a prompt share its prefill and one pass over the weights
    /// per token).
    pub local: usize,
    /// For each hosted endpoint.
    pub hosted: usize,
}

/// Splits a plan into lanes that run side by side, each in its own order:
/// the local model gets `concurrency.local` lanes and each hosted model
/// `concurrency.hosted`, their items dealt round-robin (so the samples of
/// one prompt run at the same time, in different lanes). `model` names an
/// item's model: `PoolModel::Local`, or a hosted endpoint (the pool's
/// entries, EvolQuality's rewriter, the judges alike). Every item is in
/// exactly one lane, and a lane keeps the plan's order.
pub fn lanes<T>(plan: Vec<T>, model: impl Fn(&T) -> PoolModel, concurrency: Concurrency) -> Vec<Vec<T>> {
    let mut lanes: Vec<Vec<T>> = Vec::new();
    // (the endpoint, or `None` for the local model; lane within it) → lane.
    let mut lane_of: std::collections::HashMap<(Option<String>, usize), usize> = std::collections::HashMap::new();
    let mut dealt: std::collections::HashMap<Option<String>, usize> = std::collections::HashMap::new();
    for item in plan {
        let (endpoint, width) = match model(&item) {
            PoolModel::Local => (None, concurrency.local),
            PoolModel::Hosted { endpoint } => (Some(endpoint), concurrency.hosted),
        };
        let count = dealt.entry(endpoint.clone()).or_default();
        let key = (endpoint, *count % width.max(1));
        *count += 1;
        let lane = *lane_of.entry(key).or_insert_with(|| {
            lanes.push(Vec::new());
            lanes.len() - 1
        });
        lanes[lane].push(item);
    }
    lanes
}

/// A run's progress, for the progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RunProgress {
    /// Items done, including those done before this run.
    pub done: usize,
    /// Items in all.
    pub total: usize,
    /// Items done in this run.
    pub done_this_run: usize,
    /// Tokens generated in this run.
    pub tokens_this_run: u64,
    /// Seconds since this run started, by the wall clock (lanes run side
    /// by side, so per-item times would add up to more).
    pub seconds_this_run: f64,
}

impl RunProgress {
    /// Tokens per second in this run, 0 before any.
    pub fn tokens_per_second(&self) -> f64 {
        if self.seconds_this_run > 0.0 {
            self.tokens_this_run as f64 / self.seconds_this_run
        } else {
            0.0
        }
    }

    /// Seconds left at this run's pace; `None` before the first item.
    pub fn seconds_left(&self) -> Option<f64> {
        if self.done_this_run == 0 {
            return None;
        }
        let per_item = self.seconds_this_run / self.done_this_run as f64;
        Some(per_item * self.total.saturating_sub(self.done) as f64)
    }
}

/// Ten short prompts to try the whole flow with.
pub const DEMO_PROMPTS: [&str; 10] = [
    "Write a haiku about mountains.",
    "Write a haiku about the sea at night.",
    "Write a haiku about a city waking up.",
    "Write a haiku about autumn leaves.",
    "Write a haiku about a cup of tea.",
    "Write a haiku about snow falling on a quiet street.",
    "Write a haiku about a cat in the sun.",
    "Write a haiku about the first day of spring.",
    "Write a haiku about an old library.",
    "Write a haiku about a thunderstorm.",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_of_the_plan_is_the_same_slice_of_the_whole() {
        let prompts: Vec<Prompt> = (0..7).map(|n| Prompt::new(format!("prompt {n}"))).collect();
        let entry = |id: &str, generations_per_prompt| PoolEntry {
            id: id.into(),
            model: PoolModel::Local,
            system_prompt: None,
            temperature: 0.7,
            top_p: 0.9,
            max_new_tokens: 8,
            generations_per_prompt,
        };
        let pool = vec![entry("m1", 2), entry("m2", 3)];
        let whole = plan(&prompts, &pool, "m", |_| false);
        assert_eq!(whole.len(), total_items(&prompts, &pool));
        for range in [0..5, 3..11, 30..35, 33..100, 40..40] {
            let page = items_in(&prompts, &pool, "m", range.clone());
            let expected = &whole[range.start.min(whole.len())..range.end.min(whole.len())];
            assert_eq!(page.iter().map(|item| &item.key).collect::<Vec<_>>(), expected.iter().map(|item| &item.key).collect::<Vec<_>>());
        }
        assert!(items_in(&prompts, &[], "m", 0..10).is_empty());
    }

    #[test]
    fn settings_are_read_in_range_and_whole_where_they_count() {
        assert_eq!(Setting::Temperature.read(" 0.7 "), Ok(0.7));
        assert_eq!(Setting::TopP.read("1"), Ok(1.0));
        assert_eq!(Setting::MaxTokens.read("128"), Ok(128.0));
        assert_eq!(Setting::Generations.read("100"), Ok(100.0));
        for (setting, typed) in [
            (Setting::Temperature, "2.5"),
            (Setting::Temperature, "warm"),
            (Setting::TopP, "0"),
            (Setting::MaxTokens, "1e12"),
            (Setting::MaxTokens, "0"),
            (Setting::Generations, "2.5"),
            (Setting::Generations, "1000000"),
            (Setting::Generations, ""),
        ] {
            let error = setting.read(typed).unwrap_err();
            assert_eq!(error.setting, setting);
            assert!(!error.to_string().is_empty());
        }
        assert_eq!(
            Setting::Generations.read("2.5").unwrap_err().to_string(),
            "Generations per prompt is “2.5”: type a whole number from 1 to 100."
        );
        assert_eq!(Setting::MaxTokens.read(" ").unwrap_err().to_string(), "Max tokens is empty: type a whole number from 1 to 32768.");
    }

    fn entry(id: &str, samples: u32) -> PoolEntry {
        PoolEntry {
            id: id.into(),
            model: PoolModel::Local,
            system_prompt: None,
            temperature: 0.7,
            top_p: 0.9,
            max_new_tokens: 64,
            generations_per_prompt: samples,
        }
    }

    #[test]
    fn the_plan_covers_every_prompt_entry_and_sample_once() {
        let prompts: Vec<Prompt> = DEMO_PROMPTS[..3].iter().map(|text| Prompt::new(*text)).collect();
        let pool = [entry("a", 2), entry("b", 1)];
        let items = plan(&prompts, &pool, "m", |_| false);
        assert_eq!(items.len(), total_items(&prompts, &pool));
        assert_eq!(items.len(), 9);
        let mut keys: Vec<&str> = items.iter().map(|item| item.key.as_str()).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), 9, "keys are unique");
        // Prompt by prompt.
        assert!(items.windows(2).all(|pair| pair[0].prompt_index <= pair[1].prompt_index));
    }

    #[test]
    fn planning_again_leaves_out_what_is_done() {
        let prompts: Vec<Prompt> = DEMO_PROMPTS.iter().map(|text| Prompt::new(*text)).collect();
        let pool = [entry("a", 1), entry("b", 1)];
        let first = plan(&prompts, &pool, "m", |_| false);
        let done: std::collections::HashSet<String> = first[..7].iter().map(|item| item.key.clone()).collect();
        let rest = plan(&prompts, &pool, "m", |key| done.contains(key));
        assert_eq!(rest, first[7..].to_vec());
    }

    #[test]
    fn local_keys_name_the_model_and_another_model_plans_new_items() {
        let prompts = [Prompt::new("x")];
        let hosted = PoolEntry { model: PoolModel::Hosted { endpoint: "gpt".into() }, ..entry("h", 1) };
        let pool = [entry("a", 1), hosted];
        let keys = |model: &str| plan(&prompts, &pool, model, |_| false).into_iter().map(|item| item.key).collect::<Vec<_>>();
        let id = &prompts[0].id;
        assert_eq!(keys("HuggingFaceTB/SmolLM2@q4 100%"), [format!("{id}/a/0@HuggingFaceTB%2FSmolLM2%40q4 100%25"), format!("{id}/h/0")]);
        // The first model's items stay done; the second model's are new.
        let done: std::collections::HashSet<String> = keys("one").into_iter().collect();
        let second = plan(&prompts, &pool, "two", |key| done.contains(key));
        assert_eq!(second.iter().map(|item| item.key.as_str()).collect::<Vec<_>>(), [format!("{id}/a/0@two")]);
        assert_ne!(second[0].seed(), plan(&prompts, &pool, "one", |_| false)[0].seed());
    }

    #[test]
    fn an_item_stored_before_keys_named_models_counts_for_its_own_model_only() {
        // Stored states: (key, the model that made its generation).
        let stored: std::collections::HashMap<&str, Option<&str>> =
            [("p/a/0", Some("org/m")), ("p/a/1", None), ("p/b/0@org%2Fm", Some("org/m"))].into_iter().collect();
        let found = |key: &str| stored_item(key, |key| stored.get(key), |made_by| *made_by).is_some();
        assert!(found("p/a/0@org%2Fm"), "made by the model: still done");
        assert!(!found("p/a/0@other"), "another model's: a new item");
        assert!(!found("p/a/1@org%2Fm"), "not done (failed or running): planned again");
        assert!(found("p/b/0@org%2Fm"));
        assert!(!found("p/c/0"), "a hosted key has no older form");
    }

    #[test]
    fn seeds_follow_keys() {
        let prompts = [Prompt::new("x")];
        let pool = [entry("a", 2)];
        let items = plan(&prompts, &pool, "m", |_| false);
        assert_eq!(items[0].seed(), plan(&prompts, &pool, "m", |_| false)[0].seed());
        assert_ne!(items[0].seed(), items[1].seed());
        assert!(items.iter().all(|item| item.seed() < 1 << 53), "seeds survive JSON numbers");
    }

    #[test]
    fn progress_reports_speed_and_time_left() {
        let progress = RunProgress { done: 6, total: 10, done_this_run: 2, tokens_this_run: 100, seconds_this_run: 4.0 };
        assert_eq!(progress.tokens_per_second(), 25.0);
        assert_eq!(progress.seconds_left(), Some(8.0));
        assert_eq!(RunProgress::default().seconds_left(), None);
        assert_eq!(RunProgress::default().tokens_per_second(), 0.0);
    }

    #[test]
    fn local_and_hosted_models_each_get_their_lanes() {
        let prompts: Vec<Prompt> = DEMO_PROMPTS.iter().map(|text| Prompt::new(*text)).collect();
        let mut hosted = entry("h", 1);
        hosted.model = PoolModel::Hosted { endpoint: "router".into() };
        let pool = [entry("a", 1), hosted, entry("b", 1)];
        let all = plan(&prompts, &pool, "m", |_| false);
        let concurrency = Concurrency { local: 2, hosted: 4 };
        let lanes = lanes(all.clone(), |item: &WorkItem| pool[item.entry_index].model.clone(), concurrency);
        // Two local lanes (entries a and b share the worker) and four hosted.
        assert_eq!(lanes.len(), 6);
        let local: Vec<&Vec<WorkItem>> = lanes.iter().filter(|lane| pool[lane[0].entry_index].model == PoolModel::Local).collect();
        assert_eq!(local.iter().map(|lane| lane.len()).collect::<Vec<_>>(), [10, 10]);
        // A prompt's items go to different lanes, to run side by side.
        assert_eq!((local[0][0].prompt_index, local[1][0].prompt_index), (0, 0));
        let hosted_sizes: Vec<usize> = lanes.iter().filter(|lane| lane[0].entry_index == 1).map(Vec::len).collect();
        assert_eq!(hosted_sizes, [3, 3, 2, 2]);
        // Every item once, each lane in plan order.
        let position = |item: &WorkItem| all.iter().position(|planned| planned == item).unwrap();
        let mut seen: Vec<usize> = lanes.iter().flatten().map(position).collect();
        assert!(lanes.iter().all(|lane| lane.windows(2).all(|pair| position(&pair[0]) < position(&pair[1]))));
        seen.sort_unstable();
        assert_eq!(seen, (0..all.len()).collect::<Vec<_>>());
    }
}
