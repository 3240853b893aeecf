//! Running the project's model work: the pool's generations, EvolQuality's
//! rewrites and the judges' ratings, each item through the local worker or a
//! hosted endpoint, each stored as it changes.
//!
//! The three are [`Stage`]s of one runner. A stage's plan is split into
//! lanes ([`pool_plan::lanes`]) that run side by side, several items at a
//! time per model: the local worker decodes its items together, in one
//! pass over the weights per token.
//!
//! An item is stored as running before it is sent and as done (with its
//! generation or judgments) or failed (with the reason) after, so a reload
//! resumes exactly: done items are kept, an item found running was cut off
//! and is planned again. Pause and cancel stop the requests in flight at
//! once; their items go back to the plan. EvolQuality plans again after
//! each round, since each rewrite is of the one before.

use std::collections::HashMap;

use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::chat::ChatMessage;
use prefab_core::judge::{self, Judge, JudgeItem, Judged, Structured, LOGIT_ANSWER_PREFIX, RATING_TOKENS};
use prefab_core::pool_plan::{self, PoolEntry, PoolModel, RunProgress, WorkItem};
use prefab_core::record::{Backend, EvolvedFrom, Generation, JudgeMode, Prompt, Record, TokenCounts};
use prefab_core::tasks::evol_quality::{self, EvolItem, EvolQuality};
use prefab_core::tasks::text_generation;
use prefab_llm::hosted::browser::{Cancel, HostedClient, StreamEvent};
use prefab_llm::hosted::endpoint::Endpoint;
use prefab_llm::hosted::request::{ChatRequest, SchemaDialect};
use prefab_llm::protocol::WorkerResponse;
use prefab_llm::GenerationParams;

use crate::endpoints::session_token;
use crate::local_model::{LocalModel, ModelState};
use crate::project::{self, ItemState, Project};
use crate::tabs::{try_lock, TabLock};
use crate::time::now_ms;

/// The longest rationale a judge may write under a grammar that can cap it.
const MAX_RATIONALE_CHARS: usize = 300;

/// How to stop each request in flight, by item key.
type Stoppers = HashMap<String, Box<dyn Fn()>>;

/// What the run is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// Not running.
    Idle,
    /// Working.
    Running,
    /// Stopped by the person, to be resumed.
    Paused,
}

/// Which work a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// The pool: every prompt answered by every entry.
    Pool,
    /// EvolQuality: every completion rewritten, round after round.
    Evol,
    /// The judges: every completion rated.
    Judge,
}

impl Stage {
    /// Its name in sentences.
    pub fn title(self) -> &'static str {
        match self {
            Stage::Pool => "The model pool",
            Stage::Evol => "EvolQuality",
            Stage::Judge => "The judges' run",
        }
    }

    /// The Web Lock that keeps it to one tab ([`try_lock`]).
    fn lock_name(self) -> &'static str {
        match self {
            Stage::Pool => "prefab-run-pool",
            Stage::Evol => "prefab-run-evol",
            Stage::Judge => "prefab-run-judge",
        }
    }
}

/// The three runs of the page, one per stage; in the page's context.
#[derive(Clone, Copy)]
pub struct Runs {
    /// The pool's run.
    pub pool: PoolRun,
    /// EvolQuality's run.
    pub evol: PoolRun,
    /// The judges' run.
    pub judge: PoolRun,
}

impl Runs {
    /// Three runs that are not running.
    pub fn new() -> Runs {
        Runs { pool: PoolRun::new(Stage::Pool), evol: PoolRun::new(Stage::Evol), judge: PoolRun::new(Stage::Judge) }
    }
}

impl Default for Runs {
    fn default() -> Runs {
        Runs::new()
    }
}

/// One stage's controls and live state; `Copy`, for closures.
#[derive(Clone, Copy)]
pub struct PoolRun {
    /// The work it does.
    pub stage: Stage,
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

/// One item of a stage's plan.
enum Job {
    Pool(WorkItem),
    Evol(EvolItem),
    Judge(JudgeItem),
}

impl Job {
    fn key(&self) -> &str {
        match self {
            Job::Pool(item) => &item.key,
            Job::Evol(item) => &item.key,
            Job::Judge(item) => &item.key,
        }
    }
}

/// What a stage works from, read once per round.
struct Plan {
    prompts: Vec<Prompt>,
    pool: Vec<PoolEntry>,
    evol: EvolQuality,
    judges: Vec<Judge>,
    records: Vec<Record>,
    jobs: Vec<Job>,
    total: usize,
}

impl Plan {
    fn model(&self, job: &Job) -> PoolModel {
        match job {
            Job::Pool(item) => self.pool[item.entry_index].model.clone(),
            Job::Evol(_) => self.evol.model.clone(),
            Job::Judge(item) => self.judges[item.judge_index].model.clone(),
        }
    }
}

/// What a model was asked: the conversation and how to sample.
struct Ask {
    messages: Vec<ChatMessage>,
    temperature: f64,
    top_p: f64,
    max_tokens: u32,
    seed: u64,
    /// A JSON schema the answer must follow, and how the server wants it
    /// written (hosted servers only).
    schema: Option<(serde_json::Value, SchemaDialect)>,
}

/// What a model answered, with its provenance.
struct Answer {
    model_id: String,
    backend: Backend,
    /// The prompt as the model read it: the local model's chat template
    /// applied, or the messages sent to a hosted server, as JSON.
    rendered_prompt: String,
    raw_text: String,
    tokens: TokenCounts,
}

impl PoolRun {
    /// A run of `stage` that is not running.
    pub fn new(stage: Stage) -> PoolRun {
        PoolRun {
            stage,
            state: RwSignal::new(RunState::Idle),
            progress: RwSignal::new(RunProgress::default()),
            live: RwSignal::new(HashMap::new()),
            problem: RwSignal::new(None),
            cancel: StoredValue::new_local(HashMap::new()),
        }
    }

    /// Starts (or resumes) the run over `project`.
    pub fn start(self, project: Project, model: LocalModel) {
        if self.state.get_untracked() == RunState::Running {
            return;
        }
        self.problem.set(None);
        self.state.set(RunState::Running);
        spawn_local(async move {
            // Held until the run ends: another tab of the page cannot run this stage meanwhile.
            let _held = match try_lock(self.stage.lock_name()).await {
                TabLock::Busy => {
                    self.problem.set(Some(format!(
                        "{} is already running in another tab of this page: pause it there (or close that tab) to run it here.",
                        self.stage.title()
                    )));
                    self.state.set(RunState::Idle);
                    return;
                }
                TabLock::Held(held) => Some(held),
                TabLock::Unsupported => None,
            };
            if let Err(problem) = self.run(project, model).await {
                self.problem.set(Some(problem));
            }
            self.live.set(HashMap::new());
            if self.state.get_untracked() == RunState::Running {
                self.state.set(RunState::Idle);
            }
        });
    }

    /// Puts a failed item back in the plan and starts the run (a run
    /// under way takes it when it plans again): the tables' Retry.
    pub fn retry(self, project: Project, model: LocalModel, key: String) {
        spawn_local(async move {
            match project::save_item(project, &key, ItemState::Pending).await {
                Ok(()) => self.start(project, model),
                Err(error) => self.problem.set(Some(error.to_string())),
            }
        });
    }

    /// Stops the requests in flight; [`PoolRun::start`] resumes.
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

    /// How much of the stage is done and how much there is, from what is
    /// stored (tracked): what the status says when nothing is running, as
    /// after a reload.
    pub fn stored_progress(self, project: Project, model: LocalModel) -> (usize, usize) {
        project.prompts.track();
        project.pool.track();
        project.items.track();
        model.track_planning_model_id();
        match self.stage {
            Stage::Pool => {}
            Stage::Evol => project.evol.track(),
            Stage::Judge => {
                project.evol.track();
                project.judges.track();
            }
        }
        let plan = self.plan(project, model);
        (plan.total - plan.jobs.len().min(plan.total), plan.total)
    }

    /// The stage's plan as the project stands.
    fn plan(self, project: Project, model: LocalModel) -> Plan {
        let items = project.items;
        let local_model = model.planning_model_id();
        let settled = |key: &str| items.with_untracked(|items| matches!(project::stored_item(items, key), Some(ItemState::Done { .. } | ItemState::Judged { .. } | ItemState::Failed { .. })));
        let prompts = project.prompts.get_untracked();
        let pool = project.pool.get_untracked();
        let evol = project.evol.get_untracked();
        let judges = project.judges.get_untracked();
        let (records, jobs, total) = match self.stage {
            Stage::Pool => {
                let jobs = pool_plan::plan(&prompts, &pool, &local_model, settled).into_iter().map(Job::Pool).collect();
                (Vec::new(), jobs, pool_plan::total_items(&prompts, &pool))
            }
            Stage::Evol => {
                let records = project.all_records();
                let jobs = evol.plan(&records, settled).into_iter().map(Job::Evol).collect();
                let total = evol.total_items(&records);
                (records, jobs, total)
            }
            Stage::Judge => {
                let records = project.records();
                let all = judge::plan(&records, &judges, |_| false);
                let total = all.len();
                let jobs = all.into_iter().filter(|item| !settled(&item.key)).map(Job::Judge).collect();
                (records, jobs, total)
            }
        };
        Plan { prompts, pool, evol, judges, records, jobs, total }
    }

    async fn run(self, project: Project, model: LocalModel) -> Result<(), String> {
        let run_started = now_ms();
        let mut first_round = true;
        loop {
            let mut plan = self.plan(project, model);
            if self.state.get_untracked() == RunState::Running && plan.jobs.iter().any(|job| plan.model(job) == PoolModel::Local) {
                ensure_local_model(model).await?;
                // The model loaded may not be the one planned for.
                plan = self.plan(project, model);
            }
            let left = plan.jobs.len();
            if first_round {
                self.progress.set(RunProgress { done: plan.total - left.min(plan.total), total: plan.total, ..RunProgress::default() });
                first_round = false;
            } else {
                self.progress.update(|progress| progress.total = plan.total);
            }
            if plan.jobs.is_empty() || self.state.get_untracked() != RunState::Running {
                return Ok(());
            }
            let endpoints = crate::endpoints::load_endpoints().await?;
            let jobs: Vec<&Job> = plan.jobs.iter().collect();
            let local = model.engines.get_untracked().max(1) * prefab_llm::protocol::BATCH_SIZE;
            let concurrency = pool_plan::Concurrency { local, hosted: pool_plan::HOSTED_CONCURRENCY };
            let lanes = pool_plan::lanes(jobs, |job| plan.model(job), concurrency);
            let lanes = lanes.into_iter().map(|lane| {
                let (plan, endpoints) = (&plan, &endpoints);
                async move {
                    for job in lane {
                        if self.state.get_untracked() != RunState::Running {
                            break;
                        }
                        self.run_job(project, model, plan, endpoints, job, run_started).await?;
                    }
                    Ok::<(), String>(())
                }
            });
            // A storage failure in one lane is reported; the others finish
            // their item and stop at the next check.
            let outcomes: Result<(), String> = futures::future::join_all(lanes).await.into_iter().collect();
            outcomes?;
            // Plan again: EvolQuality's next round rewrites this one, and an
            // item retried while the run was busy is now waiting.
        }
    }

    /// Runs one item and stores how it ended.
    async fn run_job(self, project: Project, model: LocalModel, plan: &Plan, endpoints: &[Endpoint], job: &Job, run_started: f64) -> Result<(), String> {
        let key = job.key().to_owned();
        project::save_item(project, &key, ItemState::Running { started_at_ms: js_sys::Date::now() as u64 }).await.map_err(|error| error.to_string())?;
        self.live.update(|live| drop(live.insert(key.clone(), String::new())));
        let started = now_ms();
        let target = plan.model(job);
        let outcome = match job {
            Job::Pool(item) => {
                let (prompt, entry) = (&plan.prompts[item.prompt_index], &plan.pool[item.entry_index]);
                let ask = Ask { messages: entry.messages(prompt), temperature: entry.temperature, top_p: entry.top_p, max_tokens: entry.max_new_tokens, seed: item.seed(), schema: None };
                self.ask(model, &target, endpoints, &key, ask).await.map(|answer| {
                    let text = text_generation::clean(&answer.raw_text);
                    let system_prompt = entry.system_prompt.clone().filter(|system| !system.trim().is_empty());
                    done(prompt, generation(answer, text, Some(item.seed()), entry.sampling(), system_prompt, None), started)
                })
            }
            Job::Evol(item) => {
                let prompt = &plan.records[item.record_index].prompt;
                let evol = &plan.evol;
                let ask = Ask { messages: EvolQuality::messages(item, &prompt.text), temperature: evol.temperature, top_p: 1.0, max_tokens: evol.max_new_tokens, seed: item.seed(), schema: None };
                self.ask(model, &target, endpoints, &key, ask).await.map(|answer| {
                    let text = evol_quality::clean(&answer.raw_text);
                    let sampling = prefab_core::record::SamplingParams { temperature: Some(evol.temperature), max_new_tokens: Some(evol.max_new_tokens), ..Default::default() };
                    let from = EvolvedFrom { generation_id: item.parent.id.clone(), mutation: item.mutation.name().to_owned() };
                    done(prompt, generation(answer, text, Some(item.seed()), sampling, None, Some(from)), started)
                })
            }
            Job::Judge(item) => self.judge(model, &target, endpoints, plan, item).await,
        };
        self.cancel.update_value(|cancels| drop(cancels.remove(&key)));
        self.live.update(|live| drop(live.remove(&key)));
        let tokens = match &outcome {
            Ok(ItemState::Done { generation }) => u64::from(generation.tokens.completion.unwrap_or(0)),
            _ => 0,
        };
        let state = match outcome {
            Ok(state) => state,
            Err(Outcome::Failed(reason)) => ItemState::Failed { reason },
            // Stopped by the person: back to the plan.
            Err(Outcome::Stopped) => ItemState::Pending,
        };
        let finished = !matches!(state, ItemState::Pending);
        project::save_item(project, &key, state).await.map_err(|error| error.to_string())?;
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

    /// Rates a judge item's completions: a critique (generated, then
    /// parsed; what cannot be read is kept unparsed with the raw output) or
    /// the logit judge's one forward pass.
    async fn judge(self, model: LocalModel, target: &PoolModel, endpoints: &[Endpoint], plan: &Plan, item: &JudgeItem) -> Result<ItemState, Outcome> {
        let record = &plan.records[item.record_index];
        let judge = &plan.judges[item.judge_index];
        let texts: Vec<&str> = item.generation_ids.iter().filter_map(|id| record.generation(id)).map(|g| g.text.as_str()).collect();
        let now = || js_sys::Date::now() as u64;
        let judgments = match judge.mode {
            JudgeMode::Critique => {
                let dialect = match judge.structured {
                    Structured::Off => None,
                    Structured::JsonSchema => Some(SchemaDialect::OpenAi),
                    Structured::JsonObject => Some(SchemaDialect::JsonObject),
                };
                // llama-cpp-python's grammars honour `maxLength`; OpenAI's strict mode refuses it.
                let schema = dialect.map(|dialect| {
                    let max_rationale = (dialect == SchemaDialect::JsonObject).then_some(MAX_RATIONALE_CHARS);
                    (prefab_core::tasks::ultrafeedback::UltraFeedback::json_schema(texts.len(), max_rationale), dialect)
                });
                // Room for a rationale of a few sentences per text.
                let max_tokens = 96 + 160 * texts.len() as u32;
                let ask = Ask { messages: judge.critique_messages(&record.prompt.text, &texts), temperature: 0.0, top_p: 1.0, max_tokens, seed: 0, schema };
                let answer = self.ask(model, target, endpoints, &item.key, ask).await?;
                judge.read_critique(&answer.model_id, &answer.raw_text, texts.len(), now())
            }
            JudgeMode::Logit => {
                if *target != PoolModel::Local {
                    return Err(Outcome::Failed("a logit judge reads the next token's probabilities: it runs on the local model only".to_owned()));
                }
                let prompt = prefab_llm::Prompt::Chat { messages: judge::logit_messages(judge.aspect, &record.prompt.text, texts.first().copied().unwrap_or_default()), answer_prefix: LOGIT_ANSWER_PREFIX.to_owned() };
                let mut answers = model.score(prompt, RATING_TOKENS.iter().map(|token| (*token).to_owned()).collect());
                let probs = loop {
                    match answers.next().await {
                        Some(WorkerResponse::Scores { probs, .. }) => break probs,
                        Some(WorkerResponse::Failed { message, .. }) => return Err(Outcome::Failed(message)),
                        Some(_) => {}
                        None => return Err(Outcome::Failed("the model worker stopped".to_owned())),
                    }
                };
                vec![judge::logit_judgment(&model.generation_model_id(), judge.aspect, &probs, now())]
            }
        };
        let judgments = item.generation_ids.iter().cloned().zip(judgments).map(|(generation_id, judgment)| Judged { generation_id, judgment }).collect();
        Ok(ItemState::Judged { judgments })
    }

    /// Sends one request to the local model or a hosted endpoint, streaming
    /// its text into [`PoolRun::live`].
    async fn ask(self, model: LocalModel, target: &PoolModel, endpoints: &[Endpoint], key: &str, ask: Ask) -> Result<Answer, Outcome> {
        match target {
            PoolModel::Local => self.ask_locally(model, key, ask).await,
            PoolModel::Hosted { endpoint } => match endpoints.iter().find(|e| &e.label() == endpoint) {
                Some(endpoint) => self.ask_hosted(endpoint, key, ask).await,
                None => Err(Outcome::Failed(format!("the endpoint {endpoint} is no longer in Settings"))),
            },
        }
    }

    async fn ask_locally(self, model: LocalModel, key: &str, ask: Ask) -> Result<Answer, Outcome> {
        let params = GenerationParams { temperature: ask.temperature, top_p: ask.top_p, max_new_tokens: ask.max_tokens as usize, seed: ask.seed, ..GenerationParams::default() };
        let (request, mut answers) = model.generate(ask.messages, params);
        self.cancel.update_value(|cancels| drop(cancels.insert(key.to_owned(), Box::new(move || request.cancel()))));
        while let Some(answer) = answers.next().await {
            match answer {
                WorkerResponse::Token { text, .. } => self.append_live(key, &text),
                WorkerResponse::Done { stats, .. } if stats.stop_reason == prefab_llm::StopReason::Cancelled => return Err(Outcome::Stopped),
                WorkerResponse::Done { text, stats, prompt, .. } => {
                    return Ok(Answer {
                        model_id: model.generation_model_id(),
                        backend: Backend::Local,
                        rendered_prompt: prompt,
                        raw_text: text,
                        tokens: TokenCounts { prompt: Some(stats.prompt_tokens as u32), completion: Some(stats.generated_tokens as u32) },
                    })
                }
                WorkerResponse::Failed { message, .. } => return Err(Outcome::Failed(message)),
                _ => {}
            }
        }
        Err(Outcome::Failed("the model worker stopped".to_owned()))
    }

    async fn ask_hosted(self, endpoint: &Endpoint, key: &str, ask: Ask) -> Result<Answer, Outcome> {
        let client = HostedClient::new(endpoint.clone(), session_token(endpoint));
        let cancel = Cancel::new();
        let stopper = cancel.clone();
        self.cancel.update_value(|cancels| drop(cancels.insert(key.to_owned(), Box::new(move || stopper.cancel()))));
        // What the server receives is what the model was given: its own
        // template is applied there, out of sight.
        let rendered_prompt = serde_json::to_string(&ask.messages).unwrap_or_default();
        let (json_schema, schema_dialect) = match ask.schema {
            Some((schema, dialect)) => (Some(schema), dialect),
            None => (None, SchemaDialect::default()),
        };
        let request = ChatRequest {
            messages: ask.messages,
            temperature: Some(ask.temperature as f32),
            top_p: Some(ask.top_p as f32),
            max_tokens: Some(ask.max_tokens),
            seed: Some(ask.seed),
            json_schema,
            schema_dialect,
            ..ChatRequest::default()
        };
        let live = |event: StreamEvent| match event {
            StreamEvent::Token(text) => self.append_live(key, text),
            StreamEvent::Restart { .. } => self.live.update(|live| {
                if let Some(text) = live.get_mut(key) {
                    text.clear();
                }
            }),
        };
        match client.stream(&request, &cancel, live).await {
            Ok(completion) => {
                let usage = completion.usage.as_ref();
                Ok(Answer {
                    model_id: endpoint.model().to_owned(),
                    backend: Backend::Hosted { endpoint: endpoint.base_url() },
                    rendered_prompt,
                    raw_text: completion.text,
                    tokens: TokenCounts { prompt: usage.map(|usage| usage.prompt_tokens as u32), completion: usage.map(|usage| usage.completion_tokens as u32) },
                })
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

/// How an item ended when it did not produce a result.
enum Outcome {
    Failed(String),
    Stopped,
}


/// A generation from a model's answer, with its provenance.
fn generation(answer: Answer, text: String, seed: Option<u64>, params: prefab_core::record::SamplingParams, system_prompt: Option<String>, evolved_from: Option<EvolvedFrom>) -> Generation {
    Generation {
        model_id: answer.model_id,
        backend: answer.backend,
        rendered_prompt: answer.rendered_prompt,
        system_prompt,
        params,
        seed,
        text,
        raw_text: answer.raw_text,
        tokens: answer.tokens,
        created_at_ms: js_sys::Date::now() as u64,
        evolved_from,
        ..Generation::default()
    }
}

/// The finished item of a generation: its duration and content id set.
fn done(prompt: &Prompt, mut generation: Generation, started: f64) -> ItemState {
    generation.duration_ms = Some((now_ms() - started) as u64);
    generation.id = generation.compute_id(&prompt.id);
    ItemState::Done { generation: Box::new(generation) }
}

/// Loads the last model that loaded (after a reload: the run's own), else
/// the default one, if none is ready, and waits for it.
async fn ensure_local_model(model: LocalModel) -> Result<(), String> {
    // A load already under way (started in Settings) is waited for, not
    // started again.
    if matches!(model.state.get_untracked(), ModelState::NotLoaded | ModelState::Failed { .. }) {
        model.load(model.choice_to_resume()?, Default::default());
    }
    loop {
        match model.state.get_untracked() {
            ModelState::Ready { .. } => return Ok(()),
            ModelState::Failed { message, .. } => return Err(format!("the local model could not load: {message}")),
            _ => crate::time::sleep_ms(100).await,
        }
    }
}
