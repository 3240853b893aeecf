//! The project the page works on — prompts, the model pool, the pool's work
//! items and people's ratings — held in signals and written through to
//! IndexedDB.
//!
//! Every change is written before the page shows it as done: a rating is
//! in the store (transaction complete, strict durability) before the next
//! item appears, and a generation is stored the moment it finishes. The
//! project is read once when the page opens; a reload or a closed tab loses
//! nothing that was shown as saved.

use std::collections::HashMap;
use std::rc::Rc;

use leptos::prelude::*;
use prefab_core::pool_plan::PoolEntry;
use prefab_core::record::{Generation, HumanRating, Prompt, Record, SCHEMA_VERSION};
use prefab_store::{Collection, Store};
use serde::{Deserialize, Serialize};

use crate::endpoints::DATABASE;

const PROMPTS_KEY: &str = "prompts";
const POOL_KEY: &str = "pool";
const RATING_MODE_KEY: &str = "rating_mode";
const GUIDELINES_KEY: &str = "guidelines";

/// Where a work item of the pool is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ItemState {
    /// Planned again (it was stopped by the person).
    Pending,
    /// Sent to a model. Found in this state after a reload, it was cut off
    /// and is redone.
    Running {
        /// When it was sent, in Unix milliseconds.
        started_at_ms: u64,
    },
    /// Finished, with its generation.
    Done {
        /// The model's answer and its provenance.
        generation: Box<Generation>,
    },
    /// It could not be generated; the person may retry it.
    Failed {
        /// Why, for the person.
        reason: String,
    },
}

/// What the person rates, as the project chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RatingMode {
    /// 👍 / 👎 on one completion at a time (KTO).
    #[default]
    Thumbs,
    /// A versus B (DPO).
    Pairwise,
    /// 1 to 5.
    Likert,
    /// Order all completions of a prompt.
    Ranking,
}

/// The project in signals; `Copy`, for closures.
#[derive(Clone, Copy)]
pub struct Project {
    /// The prompts, in order.
    pub prompts: RwSignal<Vec<Prompt>>,
    /// The model pool.
    pub pool: RwSignal<Vec<PoolEntry>>,
    /// The pool's work items by key.
    pub items: RwSignal<HashMap<String, ItemState>>,
    /// Ratings by id.
    pub ratings: RwSignal<HashMap<String, HumanRating>>,
    /// How completions are rated.
    pub rating_mode: RwSignal<RatingMode>,
    /// The rating guidelines, in Markdown.
    pub guidelines: RwSignal<String>,
    /// Whether the stored project has been read.
    pub loaded: RwSignal<bool>,
    /// The last storage failure, for the person.
    pub storage_error: RwSignal<Option<String>>,
}

impl Project {
    /// An empty project, filled by [`Project::load`].
    pub fn new() -> Project {
        Project {
            prompts: RwSignal::new(Vec::new()),
            pool: RwSignal::new(Vec::new()),
            items: RwSignal::new(HashMap::new()),
            ratings: RwSignal::new(HashMap::new()),
            rating_mode: RwSignal::new(RatingMode::default()),
            guidelines: RwSignal::new(String::new()),
            loaded: RwSignal::new(false),
            storage_error: RwSignal::new(None),
        }
    }

    /// Reads the stored project.
    pub async fn load(self) -> Result<(), String> {
        let store = open().await?;
        let text = |error: prefab_store::StoreError| error.to_string();
        let prompts: Vec<Prompt> = store.setting(PROMPTS_KEY).await.map_err(text)?.unwrap_or_default();
        let pool: Vec<PoolEntry> = store.setting(POOL_KEY).await.map_err(text)?.unwrap_or_default();
        let mode: RatingMode = store.setting(RATING_MODE_KEY).await.map_err(text)?.unwrap_or_default();
        let guidelines: Option<String> = store.setting(GUIDELINES_KEY).await.map_err(text)?;
        let items: Vec<(String, ItemState)> = store.get_all(Collection::Items).await.map_err(text)?;
        let ratings: Vec<(String, HumanRating)> = store.get_all(Collection::Ratings).await.map_err(text)?;
        self.prompts.set(prompts);
        self.pool.set(pool);
        self.rating_mode.set(mode);
        self.guidelines.set(guidelines.unwrap_or_else(|| DEFAULT_GUIDELINES.to_owned()));
        self.items.set(items.into_iter().collect());
        self.ratings.set(ratings.into_iter().collect());
        self.loaded.set(true);
        Ok(())
    }

    /// Every prompt with its finished generations and its ratings: what the
    /// exports read.
    pub fn records(&self) -> Vec<Record> {
        let items = self.items.get_untracked();
        let ratings = self.ratings.get_untracked();
        let mut by_prompt: HashMap<&str, Vec<&Generation>> = HashMap::new();
        let mut keys: Vec<&String> = items.keys().collect();
        keys.sort();
        for key in keys {
            if let Some(ItemState::Done { generation }) = items.get(key) {
                let prompt_id = key.split('/').next().unwrap_or_default();
                by_prompt.entry(prompt_id).or_default().push(generation);
            }
        }
        self.prompts
            .get_untracked()
            .into_iter()
            .map(|prompt| {
                let generations: Vec<Generation> =
                    by_prompt.get(prompt.id.as_str()).map(|list| list.iter().map(|g| (*g).clone()).collect()).unwrap_or_default();
                let ids: Vec<&str> = generations.iter().map(|g| g.id.as_str()).collect();
                let mut rated: Vec<HumanRating> = ratings
                    .values()
                    .filter(|rating| rating_generations(rating).iter().any(|id| ids.contains(id)))
                    .cloned()
                    .collect();
                rated.sort_by_key(|rating| rating.created_at_ms);
                Record { schema_version: SCHEMA_VERSION, prompt, generations, ratings: rated }
            })
            .collect()
    }
}

impl Default for Project {
    fn default() -> Project {
        Project::new()
    }
}

/// A rating's stable id: one per annotator and question (the same pair of
/// completions in either order is one question), so writing it again after
/// a reload replaces rather than duplicates, and a changed mind replaces
/// the old answer.
pub fn rating_id(rating: &HumanRating) -> String {
    let mut generations = rating_generations(rating);
    generations.sort_unstable();
    let kind = match rating.value {
        prefab_core::record::RatingValue::KtoThumbs { .. } => "thumbs",
        prefab_core::record::RatingValue::Pairwise { .. } => "pairwise",
        prefab_core::record::RatingValue::Likert { .. } => "likert",
        prefab_core::record::RatingValue::Ranking { .. } => "ranking",
    };
    prefab_core::record::prompt_id(&format!("{}\0{kind}\0{}", rating.annotator, generations.join("\0")))
}

/// The generations a rating is about.
pub fn rating_generations(rating: &HumanRating) -> Vec<&str> {
    use prefab_core::record::RatingValue;
    match &rating.value {
        RatingValue::KtoThumbs { generation_id, .. } | RatingValue::Likert { generation_id, .. } => vec![generation_id],
        RatingValue::Pairwise { a, b, .. } => vec![a, b],
        RatingValue::Ranking { generation_ids } => generation_ids.iter().map(String::as_str).collect(),
    }
}

/// Guidelines a new project starts with.
pub const DEFAULT_GUIDELINES: &str = "Prefer the completion that **answers the prompt**: correct, helpful and honest.\n\n- Thumbs up: you would be happy to get this answer.\n- Thumbs down: wrong, unhelpful, unsafe, or off-topic.\n- Tie: both are equally good; both bad: neither is acceptable.";

thread_local! {
    /// The page's one connection, opened on first use.
    static STORE: std::cell::RefCell<Option<Rc<Store>>> = const { std::cell::RefCell::new(None) };
}

async fn open() -> Result<Rc<Store>, String> {
    if let Some(store) = STORE.with(|store| store.borrow().clone()) {
        return Ok(store);
    }
    let store = Rc::new(Store::open(DATABASE).await.map_err(|error| error.to_string())?);
    STORE.with(|cached| *cached.borrow_mut() = Some(store.clone()));
    Ok(store)
}

/// Replaces the prompts.
pub async fn save_prompts(project: Project, prompts: Vec<Prompt>) -> Result<(), String> {
    write(|store| async move { store.put_setting(PROMPTS_KEY, &prompts).await.map(|_| prompts) }, move |prompts| {
        project.prompts.set(prompts)
    })
    .await
}

/// Replaces the pool.
pub async fn save_pool(project: Project, pool: Vec<PoolEntry>) -> Result<(), String> {
    write(|store| async move { store.put_setting(POOL_KEY, &pool).await.map(|_| pool) }, move |pool| project.pool.set(pool)).await
}

/// Sets the rating mode.
pub async fn save_rating_mode(project: Project, mode: RatingMode) -> Result<(), String> {
    write(|store| async move { store.put_setting(RATING_MODE_KEY, &mode).await.map(|_| mode) }, move |mode| {
        project.rating_mode.set(mode)
    })
    .await
}

/// Records a work item's new state.
pub async fn save_item(project: Project, key: &str, state: ItemState) -> Result<(), String> {
    let key = key.to_owned();
    write(
        |store| async move { store.put(Collection::Items, &key, &state).await.map(|_| (key, state)) },
        move |(key, state)| project.items.update(|items| drop(items.insert(key, state))),
    )
    .await
}

/// Stores a rating; returns once it is on disk.
pub async fn save_rating(project: Project, rating: HumanRating) -> Result<(), String> {
    let id = rating_id(&rating);
    write(
        |store| async move { store.put(Collection::Ratings, &id, &rating).await.map(|_| (id, rating)) },
        move |(id, rating)| project.ratings.update(|ratings| drop(ratings.insert(id, rating))),
    )
    .await
}

/// Deletes a rating (undo); returns once it is gone from disk.
pub async fn delete_rating(project: Project, id: String) -> Result<(), String> {
    write(
        |store| async move { store.delete(Collection::Ratings, &id).await.map(|_| id) },
        move |id| project.ratings.update(|ratings| drop(ratings.remove(&id))),
    )
    .await
}

/// Opens the store, writes, and only then applies the change to the
/// signals; a failure is shown and returned, and the signals keep the old
/// value.
async fn write<T, F: std::future::Future<Output = Result<T, prefab_store::StoreError>>>(
    write: impl FnOnce(Rc<Store>) -> F,
    apply: impl FnOnce(T),
) -> Result<(), String> {
    match write(open().await?).await {
        Ok(value) => {
            apply(value);
            Ok(())
        }
        Err(error) => Err(error.to_string()),
    }
}
