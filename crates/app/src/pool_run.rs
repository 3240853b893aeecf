//! Running the model pool: every planned item through the local worker or a
//! hosted endpoint, each stored as it changes.
//!
//! The plan is split into lanes ([`pool_plan::lanes`]) that run side by
//! side: the local model's items one after another, each hosted entry's
//! several at a time.
//!
//! An item is stored as running before it is sent and as done (with its
//! generation) or failed (with the reason) after, so a reload resumes
//! exactly: done items are kept, an item found running was cut off and is
//! planned again. Pause and cancel stop the generations in flight at once;
//! their items go back to the plan.

use std::collections::HashMap;

use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::pool_plan::{self, PoolEntry, PoolModel, RunProgress, WorkItem};
use prefab_core::record::{Generation, Prompt, TokenCounts};
use prefab_core::tasks::text_generation::clean;
use prefab_llm::hosted::browser::{Cancel, HostedClient, StreamEvent};
use prefab_llm::hosted::endpoint::Endpoint;
use prefab_llm::hosted::request::ChatRequest;
use prefab_llm::protocol::WorkerResponse;
use prefab_llm::GenerationParams;

use crate::endpoints::session_token;
use crate::local_model::{LocalModel, ModelChoice, ModelState, DEFAULT_MODEL_URL};
use crate::project::{self, ItemState, Project};
use crate::time::now_ms;

/// How to stop each generation in flight, by item key.
type Stoppers = HashMap<String, Box<dyn Fn()>>;

/// What the run is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Not running.
    Idle,
    /// Generating.
    Running,
    /// Stopped by the person, to be resumed.
    Paused,
}

/// The pool run's controls and live state; `Copy`, for closures.
#[derive(Clone, Copy)]
pub struct PoolRun {
    /// What the run is doing.
    pub state: RwSignal<RunState>,
    /// Progress for the bar.
    pub progress: RwSignal<RunProgress>,
    /// The text streaming in, by the key of the item being generated.
    pub live: RwSignal<HashMap<String, String>>,
    /// A problem that stopped the run (no model, no endpoint).
    pub problem: RwSignal<Option<String>>,
    /// Cancels the requests in flight, by item key.
    cancel: StoredValue<Stoppers, LocalStorage>,
}

impl PoolRun {
    /// A run that is not running.
    pub fn new() -> PoolRun {
        PoolRun {
            state: RwSignal::new(RunState::Idle),
            progress: RwSignal::new(RunProgress::default()),
            live: RwSignal::new(HashMap::new()),
            problem: RwSignal::new(None),
            cancel: StoredValue::new_local(HashMap::new()),
        }
    }

    /// Starts (or resumes) the run over `project`'s prompts and pool.
    pub fn start(self, project: Project, model: LocalModel) {
        if self.state.get_untracked() == RunState::Running {
            return;
        }
        self.problem.set(None);
        self.state.set(RunState::Running);
        spawn_local(async move {
            if let Err(problem) = self.run(project, model).await {
                self.problem.set(Some(problem));
            }
            self.live.set(HashMap::new());
            if self.state.get_untracked() == RunState::Running {
                self.state.set(RunState::Idle);
            }
        });
    }

    /// Stops the current generation; [`PoolRun::start`] resumes.
    pub fn pause(self) {
        self.stop(RunState::Paused);
    }

    /// Stops the run.
    pub fn cancel(self) {
        self.stop(RunState::Idle);
    }

    fn stop(self, state: RunState) {
        self.state.set(state);
        self.cancel.with_value(|cancels| cancels.values().for_each(|cancel| cancel()));
    }

    async fn run(self, project: Project, model: LocalModel) -> Result<(), String> {
        let prompts = project.prompts.get_untracked();
        let pool = project.pool.get_untracked();
        let items = project.items;
        let plan = pool_plan::plan(&prompts, &pool, |key| {
            items.with_untracked(|items| matches!(items.get(key), Some(ItemState::Done { .. } | ItemState::Failed { .. })))
        });
        let total = pool_plan::total_items(&prompts, &pool);
        self.progress.set(RunProgress { done: total - plan.len(), total, ..RunProgress::default() });
        if plan.is_empty() {
            return Ok(());
        }
        if pool.iter().any(|entry| entry.model == PoolModel::Local) {
            ensure_local_model(model).await?;
        }
        let endpoints = crate::endpoints::load_endpoints().await?;
        let run_started = now_ms();
        let lanes = pool_plan::lanes(plan, &pool, pool_plan::HOSTED_CONCURRENCY);
        let lanes = lanes.into_iter().map(|lane| {
            let (prompts, pool, endpoints) = (&prompts, &pool, &endpoints);
            async move {
                for item in lane {
                    if self.state.get_untracked() != RunState::Running {
                        break;
                    }
                    self.run_item(project, model, &prompts[item.prompt_index], &pool[item.entry_index], endpoints, &item, run_started).await?;
                }
                Ok::<(), String>(())
            }
        });
        // A storage failure in one lane is reported; the others finish
        // their item and stop at the next check.
        let outcomes = futures::future::join_all(lanes).await;
        outcomes.into_iter().collect()
    }

    /// Generates one item and stores how it ended.
    #[allow(clippy::too_many_arguments)]
    async fn run_item(
        self,
        project: Project,
        model: LocalModel,
        prompt: &Prompt,
        entry: &PoolEntry,
        endpoints: &[Endpoint],
        item: &WorkItem,
        run_started: f64,
    ) -> Result<(), String> {
        project::save_item(project, &item.key, ItemState::Running { started_at_ms: js_sys::Date::now() as u64 }).await?;
        self.live.update(|live| drop(live.insert(item.key.clone(), String::new())));
        let started = now_ms();
        let outcome = match &entry.model {
            PoolModel::Local => self.generate_locally(model, prompt, entry, item).await,
            PoolModel::Hosted { endpoint } => match endpoints.iter().find(|e| &e.label() == endpoint) {
                Some(endpoint) => self.generate_hosted(endpoint, prompt, entry, item).await,
                None => Err(Outcome::Failed(format!("the endpoint {endpoint} is no longer in Settings"))),
            },
        };
        self.cancel.update_value(|cancels| drop(cancels.remove(&item.key)));
        self.live.update(|live| drop(live.remove(&item.key)));
        let mut tokens = 0;
        let state = match outcome {
            Ok(mut generation) => {
                generation.duration_ms = Some((now_ms() - started) as u64);
                tokens = u64::from(generation.tokens.completion.unwrap_or(0));
                generation.id = generation.compute_id(&prompt.id);
                ItemState::Done { generation: Box::new(generation) }
            }
            Err(Outcome::Failed(reason)) => ItemState::Failed { reason },
            // Stopped by the person: back to the plan.
            Err(Outcome::Stopped) => ItemState::Pending,
        };
        let finished = !matches!(state, ItemState::Pending);
        project::save_item(project, &item.key, state).await?;
        if finished {
            self.progress.update(|progress| {
                progress.done += 1;
                progress.done_this_run += 1;
                progress.tokens_this_run += tokens;
                progress.seconds_this_run = (now_ms() - run_started) / 1000.0;
            });
        }
        Ok(())
    }

    async fn generate_locally(
        self,
        model: LocalModel,
        prompt: &Prompt,
        entry: &PoolEntry,
        item: &WorkItem,
    ) -> Result<Generation, Outcome> {
        let params = GenerationParams {
            temperature: entry.temperature,
            top_p: entry.top_p,
            max_new_tokens: entry.max_new_tokens as usize,
            seed: item.seed(),
            ..GenerationParams::default()
        };
        let (id, mut answers) = model.generate(entry.messages(prompt), params);
        self.cancel.update_value(|cancels| drop(cancels.insert(item.key.clone(), Box::new(move || model.cancel(id)))));
        let model_id = match model.state.get_untracked() {
            ModelState::Ready { info, .. } => info.name,
            _ => "local model".to_owned(),
        };
        while let Some(answer) = answers.next().await {
            match answer {
                WorkerResponse::Token { text, .. } => self.append_live(&item.key, &text),
                WorkerResponse::Done { stats, .. } if stats.stop_reason == prefab_llm::StopReason::Cancelled => {
                    return Err(Outcome::Stopped)
                }
                WorkerResponse::Done { text, stats, .. } => {
                    return Ok(generation(prompt, entry, model_id, prefab_core::record::Backend::Local, text, Some(item.seed()), TokenCounts {
                        prompt: Some(stats.prompt_tokens as u32),
                        completion: Some(stats.generated_tokens as u32),
                    }))
                }
                WorkerResponse::Failed { message, .. } => return Err(Outcome::Failed(message)),
                _ => {}
            }
        }
        Err(Outcome::Failed("the model worker stopped".to_owned()))
    }

    async fn generate_hosted(
        self,
        endpoint: &Endpoint,
        prompt: &Prompt,
        entry: &PoolEntry,
        item: &WorkItem,
    ) -> Result<Generation, Outcome> {
        let client = HostedClient::new(endpoint.clone(), session_token(endpoint));
        let cancel = Cancel::new();
        let stopper = cancel.clone();
        self.cancel.update_value(|cancels| drop(cancels.insert(item.key.clone(), Box::new(move || stopper.cancel()))));
        let request = ChatRequest {
            messages: entry.messages(prompt),
            temperature: Some(entry.temperature as f32),
            top_p: Some(entry.top_p as f32),
            max_tokens: Some(entry.max_new_tokens),
            seed: Some(item.seed()),
            ..ChatRequest::default()
        };
        let completion = client
            .stream(&request, &cancel, |event| match event {
                StreamEvent::Token(text) => self.append_live(&item.key, text),
                StreamEvent::Restart { .. } => self.live.update(|live| {
                    if let Some(text) = live.get_mut(&item.key) {
                        text.clear();
                    }
                }),
            })
            .await;
        match completion {
            Ok(completion) => {
                let usage = completion.usage.as_ref();
                let tokens = TokenCounts {
                    prompt: usage.map(|usage| usage.prompt_tokens as u32),
                    completion: usage.map(|usage| usage.completion_tokens as u32),
                };
                let backend = prefab_core::record::Backend::Hosted { endpoint: endpoint.base_url() };
                Ok(generation(prompt, entry, endpoint.model().to_owned(), backend, completion.text, Some(item.seed()), tokens))
            }
            Err(_) if cancel.is_cancelled() => Err(Outcome::Stopped),
            Err(error) => Err(Outcome::Failed(error.to_string())),
        }
    }

    fn append_live(self, key: &str, text: &str) {
        self.live.update(|live| {
            if let Some(live) = live.get_mut(key) {
                live.push_str(text);
            }
        });
    }
}

impl Default for PoolRun {
    fn default() -> PoolRun {
        PoolRun::new()
    }
}

/// How an item ended when it did not produce a generation.
enum Outcome {
    Failed(String),
    Stopped,
}

fn generation(
    prompt: &Prompt,
    entry: &PoolEntry,
    model_id: String,
    backend: prefab_core::record::Backend,
    raw_text: String,
    seed: Option<u64>,
    tokens: TokenCounts,
) -> Generation {
    Generation {
        model_id,
        backend,
        rendered_prompt: prompt.text.clone(),
        system_prompt: entry.system_prompt.clone().filter(|system| !system.trim().is_empty()),
        params: entry.sampling(),
        seed,
        text: clean(&raw_text),
        raw_text,
        tokens,
        created_at_ms: js_sys::Date::now() as u64,
        ..Generation::default()
    }
}

/// Loads the default local model if none is ready, and waits for it.
async fn ensure_local_model(model: LocalModel) -> Result<(), String> {
    // A load already under way (started in Settings) is waited for, not
    // started again.
    if matches!(model.state.get_untracked(), ModelState::NotLoaded | ModelState::Failed { .. }) {
        model.load(ModelChoice::Url(DEFAULT_MODEL_URL.to_owned()), Default::default());
    }
    loop {
        match model.state.get_untracked() {
            ModelState::Ready { .. } => return Ok(()),
            ModelState::Failed { message, .. } => return Err(format!("the local model could not load: {message}")),
            _ => crate::time::sleep_ms(100).await,
        }
    }
}

