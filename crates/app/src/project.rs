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
use prefab_core::contribute::RatingMode;
use prefab_core::judge::{Judge, Judged};
use prefab_core::record::{assemble_records, ratings_with_renamed_ids, rename_annotator, renamed_generation_ids, Generation, HumanRating, Prompt, Record};
use prefab_core::tasks::evol_quality::EvolQuality;
use prefab_store::{Collection, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::endpoints::DATABASE;

const PROMPTS_KEY: &str = "prompts";
const REMOVED_PROMPTS_KEY: &str = "removed_prompts";
const POOL_KEY: &str = "pool";
const RATING_MODE_KEY: &str = "rating_mode";
const GUIDELINES_KEY: &str = "guidelines";
const ANNOTATOR_KEY: &str = "annotator";
const EVOL_KEY: &str = "evol_quality";
const JUDGES_KEY: &str = "judges";
/// The version of the stored ids: 2 is content ids for generations (1 hashed
/// the time of the import or the run too).
const IDENTITY_KEY: &str = "identity_version";
const IDENTITY_VERSION: u32 = 2;

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
    /// Judged: what the judge said about each generation it rated.
    Judged {
        /// One judgment per generation, parsed or not (with the raw output).
        judgments: Vec<Judged>,
    },
    /// It could not be generated or judged; the person may retry it.
    Failed {
        /// Why, for the person.
        reason: String,
    },
}

/// The item stored for the planned pool item `key` (see
/// `prefab_core::pool_plan::stored_item`: a local item stored before keys
/// named the model counts for the model that made it).
pub fn stored_item<'s>(items: &'s HashMap<String, ItemState>, key: &str) -> Option<&'s ItemState> {
    prefab_core::pool_plan::stored_item(key, |key| items.get(key), |state| match state {
        ItemState::Done { generation } => Some(generation.model_id.as_str()),
        _ => None,
    })
}

/// The project in signals; `Copy`, for closures.
#[derive(Clone, Copy)]
pub struct Project {
    /// The prompts, in order.
    pub prompts: RwSignal<Vec<Prompt>>,
    /// The prompts the last "Clear prompts" removed, for its undo (their
    /// completions and ratings stay stored, out of view until restored).
    pub removed_prompts: RwSignal<Vec<Prompt>>,
    /// The model pool.
    pub pool: RwSignal<Vec<PoolEntry>>,
    /// EvolQuality's settings: who rewrites the pool's completions, and how.
    pub evol: RwSignal<EvolQuality>,
    /// The judges.
    pub judges: RwSignal<Vec<Judge>>,
    /// The work items of the pool, EvolQuality and the judges, by key.
    pub items: RwSignal<HashMap<String, ItemState>>,
    /// Ratings by id.
    pub ratings: RwSignal<HashMap<String, HumanRating>>,
    /// Bumped when another tab of the page stored or deleted a rating
    /// (see [`crate::tabs`]): a rating session is built again from
    /// [`Project::ratings`], so two tabs never ask for the same answer.
    pub ratings_from_other_tabs: RwSignal<u64>,
    /// How completions are rated.
    pub rating_mode: RwSignal<RatingMode>,
    /// The rating guidelines, in Markdown.
    pub guidelines: RwSignal<String>,
    /// The name kept with this browser's ratings.
    pub annotator: RwSignal<String>,
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
            removed_prompts: RwSignal::new(Vec::new()),
            pool: RwSignal::new(Vec::new()),
            evol: RwSignal::new(EvolQuality::default()),
            judges: RwSignal::new(Vec::new()),
            items: RwSignal::new(HashMap::new()),
            ratings: RwSignal::new(HashMap::new()),
            ratings_from_other_tabs: RwSignal::new(0),
            rating_mode: RwSignal::new(RatingMode::default()),
            guidelines: RwSignal::new(String::new()),
            annotator: RwSignal::new(String::new()),
            loaded: RwSignal::new(false),
            storage_error: RwSignal::new(None),
        }
    }

    /// Reads the stored project.
    pub async fn load(self) -> Result<(), String> {
        let store = open().await.map_err(|error| error.to_string())?;
        let text = |error: prefab_store::StoreError| error.to_string();
        let prompts: Vec<Prompt> = store.setting(PROMPTS_KEY).await.map_err(text)?.unwrap_or_default();
        let removed_prompts: Vec<Prompt> = store.setting(REMOVED_PROMPTS_KEY).await.map_err(text)?.unwrap_or_default();
        let pool: Vec<PoolEntry> = store.setting(POOL_KEY).await.map_err(text)?.unwrap_or_default();
        let evol: EvolQuality = store.setting(EVOL_KEY).await.map_err(text)?.unwrap_or_default();
        let judges: Vec<Judge> = store.setting(JUDGES_KEY).await.map_err(text)?.unwrap_or_default();
        let mode: RatingMode = store.setting(RATING_MODE_KEY).await.map_err(text)?.unwrap_or_default();
        let guidelines: Option<String> = store.setting(GUIDELINES_KEY).await.map_err(text)?;
        let annotator = match store.setting::<String>(ANNOTATOR_KEY).await.map_err(text)? {
            Some(name) => name,
            None => {
                // A name per browser, so ratings from two laptops at a
                // workshop stay apart until people type their own.
                let name = format!("anonymous-{:06x}", (js_sys::Math::random() * 16_777_216.0) as u32);
                store.put_setting(ANNOTATOR_KEY, &name).await.map_err(text)?;
                name
            }
        };
        let mut items: Vec<(String, ItemState)> = store.get_all(Collection::Items).await.map_err(text)?;
        let mut ratings: Vec<(String, HumanRating)> = store.get_all(Collection::Ratings).await.map_err(text)?;
        if store.setting::<u32>(IDENTITY_KEY).await.map_err(text)?.unwrap_or(1) < IDENTITY_VERSION {
            (items, ratings) = migrate_identity(&store, items, ratings).await.map_err(text)?;
        }
        // An item found running was cut off by the reload: it is planned
        // again, and shown as waiting, not as running.
        let mut interrupted = Vec::new();
        for (key, state) in &mut items {
            if matches!(state, ItemState::Running { .. }) {
                *state = ItemState::Pending;
                interrupted.push(key.clone());
            }
        }
        store.put_all(Collection::Items, interrupted.iter().map(|key| (key.as_str(), &ItemState::Pending))).await.map_err(text)?;
        self.prompts.set(prompts);
        self.removed_prompts.set(removed_prompts);
        self.pool.set(pool);
        self.evol.set(evol);
        self.judges.set(judges);
        self.rating_mode.set(mode);
        self.guidelines.set(guidelines.unwrap_or_else(|| DEFAULT_GUIDELINES.to_owned()));
        self.annotator.set(annotator);
        self.items.set(items.into_iter().collect());
        self.ratings.set(ratings.into_iter().collect());
        self.loaded.set(true);
        Ok(())
    }

    /// Every prompt with the generations the dataset shows (EvolQuality's
    /// settings say whether originals and every rewrite stay), their
    /// judgments, and the ratings: what the exports and the rating session read.
    pub fn records(&self) -> Vec<Record> {
        let evol = self.evol.get_untracked();
        let mut records = self.all_records();
        for record in &mut records {
            record.generations = evol.shown(std::mem::take(&mut record.generations));
        }
        let judged: Vec<Judged> = self.items.with_untracked(|items| {
            items
                .values()
                .filter_map(|state| match state {
                    ItemState::Judged { judgments } => Some(judgments.iter().cloned()),
                    _ => None,
                })
                .flatten()
                .collect()
        });
        prefab_core::judge::attach(&mut records, judged);
        records
    }

    /// Every prompt with all its finished generations (every EvolQuality
    /// rewrite and original) and its ratings, without judgments: what
    /// EvolQuality plans from.
    pub fn all_records(&self) -> Vec<Record> {
        let items = self.items.get_untracked();
        let mut done: Vec<(&String, &Generation)> = items
            .iter()
            .filter_map(|(key, state)| match state {
                ItemState::Done { generation } => Some((key, generation.as_ref())),
                _ => None,
            })
            .collect();
        // Keys are `prompt/entry/sample` (rewrites `prompt/evol/…`): sorted,
        // each prompt's generations come in pool order.
        done.sort_unstable_by_key(|(key, _)| *key);
        let generations = done.into_iter().map(|(key, generation)| {
            (key.split('/').next().unwrap_or_default().to_owned(), generation.clone())
        });
        let mut ratings: Vec<HumanRating> = self.ratings.with_untracked(|ratings| ratings.values().cloned().collect());
        ratings.sort_by_key(|rating| rating.created_at_ms);
        assemble_records(self.prompts.get_untracked(), generations, ratings).records
    }
}

/// Gives stored generations today's content ids and carries the ratings of
/// them over (see [`renamed_generation_ids`]). New values are written before
/// old ones are deleted and the version is written last, so a crash midway
/// only means running it again: it converges on the same keys.
async fn migrate_identity(
    store: &Store,
    items: Vec<(String, ItemState)>,
    ratings: Vec<(String, HumanRating)>,
) -> Result<(Vec<(String, ItemState)>, Vec<(String, HumanRating)>), prefab_store::StoreError> {
    let done = items.iter().filter_map(|(key, state)| match state {
        ItemState::Done { generation } => Some((key.split('/').next().unwrap_or_default(), generation.as_ref())),
        _ => None,
    });
    let renamed = renamed_generation_ids(done);
    let mut kept_items: HashMap<String, ItemState> = HashMap::new();
    let mut stale_items = Vec::new();
    for (key, mut state) in items {
        let mut new_key = key.clone();
        if let ItemState::Done { generation } = &mut state {
            if let Some(id) = renamed.get(&generation.id) {
                // Imported items are keyed by their generation's id.
                new_key = key.replace(&generation.id, id);
                generation.id = id.clone();
            }
        }
        if new_key != key {
            stale_items.push(key);
        }
        kept_items.insert(new_key, state);
    }
    let old_rating_ids: Vec<String> = ratings.iter().map(|(id, _)| id.clone()).collect();
    let migrated: Vec<(String, HumanRating)> = ratings_with_renamed_ids(ratings.into_iter().map(|(_, rating)| rating), &renamed)
        .into_iter()
        .map(|rating| (rating.id(), rating))
        .collect();
    let kept_ids: std::collections::HashSet<&str> = migrated.iter().map(|(id, _)| id.as_str()).collect();
    let stale_ratings: Vec<String> = old_rating_ids.into_iter().filter(|id| !kept_ids.contains(id.as_str())).collect();
    let items: Vec<(String, ItemState)> = kept_items.into_iter().collect();
    store.put_all(Collection::Items, items.iter().map(|(key, state)| (key.as_str(), state))).await?;
    store.put_all(Collection::Ratings, migrated.iter().map(|(id, rating)| (id.as_str(), rating))).await?;
    for key in stale_items {
        store.delete(Collection::Items, &key).await?;
    }
    for id in stale_ratings {
        store.delete(Collection::Ratings, &id).await?;
    }
    store.put_setting(IDENTITY_KEY, &IDENTITY_VERSION).await?;
    Ok((items, migrated))
}

/// Writes a setting of the page's own (a campaign's cached files, its upload
/// state); returns once it is on disk.
pub async fn put_setting<T: Serialize>(key: &str, value: &T) -> Result<(), StoreError> {
    open().await?.put_setting(key, value).await
}

/// Reads a setting written by [`put_setting`].
pub async fn get_setting<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, StoreError> {
    open().await?.setting(key).await
}

impl Default for Project {
    fn default() -> Project {
        Project::new()
    }
}

/// Guidelines a new project starts with.
pub const DEFAULT_GUIDELINES: &str = "Prefer the completion that **answers the prompt**: correct, helpful and honest.\n\n- Thumbs up: you would be happy to get this answer.\n- Thumbs down: wrong, unhelpful, unsafe, or off-topic.\n- Tie: both are equally good; both bad: neither is acceptable.";

thread_local! {
    /// The page's one connection, opened on first use.
    static STORE: std::cell::RefCell<Option<Rc<Store>>> = const { std::cell::RefCell::new(None) };
}

async fn open() -> Result<Rc<Store>, StoreError> {
    if let Some(store) = STORE.with(|store| store.borrow().clone()) {
        return Ok(store);
    }
    let store = Rc::new(Store::open(DATABASE).await?);
    STORE.with(|cached| *cached.borrow_mut() = Some(store.clone()));
    Ok(store)
}

/// Replaces the prompts.
pub async fn save_prompts(project: Project, prompts: Vec<Prompt>) -> Result<(), StoreError> {
    write(|store| async move { store.put_setting(PROMPTS_KEY, &prompts).await.map(|_| prompts) }, move |prompts| {
        project.prompts.set(prompts)
    })
    .await
}

/// Removes every prompt, keeping them for [`restore_prompts`]: the removed
/// list is written before the prompts are cleared, so a crash in between
/// leaves them listed twice, never lost.
pub async fn clear_prompts(project: Project) -> Result<(), StoreError> {
    let removed = project.prompts.get_untracked();
    write(
        |store| async move {
            store.put_setting(REMOVED_PROMPTS_KEY, &removed).await?;
            store.put_setting(PROMPTS_KEY, &Vec::<Prompt>::new()).await.map(|_| removed)
        },
        move |removed| {
            project.removed_prompts.set(removed);
            project.prompts.set(Vec::new());
        },
    )
    .await
}

/// Brings the prompts the last clear removed back, after any added since
/// (with their completions and ratings, which stayed stored).
pub async fn restore_prompts(project: Project) -> Result<(), StoreError> {
    let mut prompts = project.prompts.get_untracked();
    for prompt in project.removed_prompts.get_untracked() {
        if !prompts.iter().any(|existing| existing.id == prompt.id) {
            prompts.push(prompt);
        }
    }
    write(
        |store| async move {
            store.put_setting(PROMPTS_KEY, &prompts).await?;
            store.put_setting(REMOVED_PROMPTS_KEY, &Vec::<Prompt>::new()).await.map(|_| prompts)
        },
        move |prompts| {
            project.prompts.set(prompts);
            project.removed_prompts.set(Vec::new());
        },
    )
    .await
}

/// Replaces the rating guidelines (Markdown).
pub async fn save_guidelines(project: Project, guidelines: String) -> Result<(), StoreError> {
    write(|store| async move { store.put_setting(GUIDELINES_KEY, &guidelines).await.map(|_| guidelines) }, move |guidelines| {
        project.guidelines.set(guidelines)
    })
    .await
}

/// Renames the person rating in this browser: their ratings are carried to
/// the new name (see [`rename_annotator`](prefab_core::record::rename_annotator)).
/// The new answers and the name are written before the old answers are
/// deleted, so a crash midway leaves them under both names, never neither.
pub async fn save_annotator(project: Project, name: String) -> Result<(), StoreError> {
    let old = project.annotator.get_untracked();
    let renamed = project.ratings.with_untracked(|ratings| rename_annotator(ratings.values(), &old, &name));
    let put: Vec<(String, HumanRating)> = renamed.put.into_iter().map(|rating| (rating.id(), rating)).collect();
    let delete = renamed.delete;
    write(
        |store| async move {
            store.put_all(Collection::Ratings, put.iter().map(|(id, rating)| (id.as_str(), rating))).await?;
            store.put_setting(ANNOTATOR_KEY, &name).await?;
            for id in &delete {
                store.delete(Collection::Ratings, id).await?;
            }
            Ok((name, put, delete))
        },
        move |(name, put, delete)| {
            project.ratings.update(|ratings| {
                for id in &delete {
                    ratings.remove(id);
                }
                ratings.extend(put);
            });
            project.annotator.set(name);
        },
    )
    .await
}

/// Replaces the pool.
pub async fn save_pool(project: Project, pool: Vec<PoolEntry>) -> Result<(), StoreError> {
    write(|store| async move { store.put_setting(POOL_KEY, &pool).await.map(|_| pool) }, move |pool| project.pool.set(pool)).await
}

/// Replaces EvolQuality's settings.
pub async fn save_evol(project: Project, evol: EvolQuality) -> Result<(), StoreError> {
    write(|store| async move { store.put_setting(EVOL_KEY, &evol).await.map(|_| evol) }, move |evol| project.evol.set(evol)).await
}

/// Replaces the judges.
pub async fn save_judges(project: Project, judges: Vec<Judge>) -> Result<(), StoreError> {
    write(|store| async move { store.put_setting(JUDGES_KEY, &judges).await.map(|_| judges) }, move |judges| project.judges.set(judges)).await
}

/// Sets the rating mode.
pub async fn save_rating_mode(project: Project, mode: RatingMode) -> Result<(), StoreError> {
    write(|store| async move { store.put_setting(RATING_MODE_KEY, &mode).await.map(|_| mode) }, move |mode| {
        project.rating_mode.set(mode)
    })
    .await
}

/// Adds prompts brought with their completions (imported to be rated as
/// they are): the completions are stored as finished items first, then the
/// prompts, so a crash in between leaves nothing half-shown.
pub async fn save_imported(project: Project, prompts: Vec<Prompt>, generations: Vec<(String, Generation)>) -> Result<(), StoreError> {
    let items: Vec<(String, ItemState)> = generations
        .into_iter()
        .map(|(prompt_id, generation)| {
            (format!("{prompt_id}/imported/{}", generation.id), ItemState::Done { generation: Box::new(generation) })
        })
        .collect();
    let mut all_prompts = project.prompts.get_untracked();
    let known: std::collections::HashSet<String> = all_prompts.iter().map(|prompt| prompt.id.clone()).collect();
    all_prompts.extend(prompts.into_iter().filter(|prompt| !known.contains(&prompt.id)));
    write(
        |store| async move {
            store.put_all(Collection::Items, items.iter().map(|(key, state)| (key.as_str(), state))).await?;
            store.put_setting(PROMPTS_KEY, &all_prompts).await.map(|_| (items, all_prompts))
        },
        move |(items, prompts)| {
            project.items.update(|stored| stored.extend(items));
            project.prompts.set(prompts);
        },
    )
    .await
}

/// Records a work item's new state.
pub async fn save_item(project: Project, key: &str, state: ItemState) -> Result<(), StoreError> {
    let key = key.to_owned();
    write(
        |store| async move { store.put(Collection::Items, &key, &state).await.map(|_| (key, state)) },
        move |(key, state)| project.items.update(|items| drop(items.insert(key, state))),
    )
    .await
}

/// Stores a rating; returns once it is on disk. The page's other tabs are told.
pub async fn save_rating(project: Project, rating: HumanRating) -> Result<(), StoreError> {
    let id = rating.id();
    write(
        |store| async move { store.put(Collection::Ratings, &id, &rating).await.map(|_| (id, rating)) },
        move |(id, rating)| {
            crate::tabs::announce_rating(&id);
            project.ratings.update(|ratings| drop(ratings.insert(id, rating)));
        },
    )
    .await
}

/// Deletes a rating (undo); returns once it is gone from disk. The page's other tabs are told.
pub async fn delete_rating(project: Project, id: String) -> Result<(), StoreError> {
    write(
        |store| async move { store.delete(Collection::Ratings, &id).await.map(|_| id) },
        move |id| {
            crate::tabs::announce_rating(&id);
            project.ratings.update(|ratings| drop(ratings.remove(&id)));
        },
    )
    .await
}

/// Reads one rating as stored now (another tab may have written or deleted it).
pub async fn stored_rating(id: &str) -> Result<Option<HumanRating>, StoreError> {
    open().await?.get(Collection::Ratings, id).await
}

/// Opens the store, writes, and only then applies the change to the
/// signals; a failure is shown and returned, and the signals keep the old
/// value.
async fn write<T, F: std::future::Future<Output = Result<T, prefab_store::StoreError>>>(
    write: impl FnOnce(Rc<Store>) -> F,
    apply: impl FnOnce(T),
) -> Result<(), StoreError> {
    match write(open().await?).await {
        Ok(value) => {
            apply(value);
            Ok(())
        }
        Err(error) => Err(error),
    }
}
