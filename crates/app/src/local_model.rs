//! The local model as the whole page sees it: which file, how far its load
//! has come, and whether it is ready.
//!
//! One [`LocalModel`] lives in the page's context. Settings → Model loads a
//! file through it; the model pool generates with it. The model itself lives
//! in the workers: this is their remote control.
//!
//! Every core works: a model is loaded in one engine worker per core the
//! browser reports (`prefab_llm::model_info::engine_count`: at most 4, and
//! no more copies of the weights than fit in 1 GiB). The first worker starts
//! when a model is first needed (see [`ModelWorker::warm_up`]) and loads the
//! file (downloading and caching it); once it is ready the others load it
//! too, from the cache or the picked file, and the model is ready when all
//! are. Each request goes to the worker with the
//! fewest in flight, where up to `protocol::BATCH_SIZE` generations decode
//! together.
//!
//! A load that fails keeps the model that was loaded (the worker swaps only
//! once the new one is ready), so the state can be "ready, and the last load
//! failed" ([`ModelState::Ready`] with a [`FailedLoad`]): the pool and "Try
//! it" go on with the old model while Settings says what went wrong.
//!
//! The id the generations carry ([`LocalModel::generation_model_id`]) is
//! picked by `prefab_llm::model_id` from the organizer's name for the file
//! (kept in IndexedDB, `settings` → `local_model_names`), the file's metadata
//! and its address.
//!
//! The last model that loaded is remembered (`settings` → `local_model`:
//! its file and id), so that after a reload the pool resumes with that
//! model rather than the default one: it loads it again from its address,
//! or, for a file picked from the computer (which a page cannot open again
//! by itself), asks for it to be picked again. The pool's local items are
//! keyed by that id until a model is loaded.

use std::collections::BTreeMap;

use futures::channel::mpsc::UnboundedReceiver;
use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_llm::model_id::{self, ModelId};
use prefab_llm::model_info::engine_count;
use prefab_llm::protocol::{ModelSource, RequestId, WorkerRequest, WorkerResponse};
use prefab_llm::{ChatMessage, GenerationParams, LoadOptions, LoadStage, ModelInfo, Prompt};

use crate::model_worker::ModelWorker;

/// The `settings` key of the organizer's names for model files: a map from
/// the file (its absolute address, or a picked file's name) to the name.
const NAMES_KEY: &str = "local_model_names";

/// The `settings` key of the last model that loaded ([`RememberedModel`]).
const REMEMBERED_KEY: &str = "local_model";

/// The last local model that loaded, kept across reloads.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RememberedModel {
    /// Its absolute address, or the name of the file picked.
    pub file: String,
    /// Whether it was a file picked from the computer.
    pub picked: bool,
    /// The id its generations carried.
    pub model_id: String,
}

/// The model that ships with the page: `cargo xtask serve` serves it under
/// `/models/`, and a Space can hold it in the same folder.
pub const DEFAULT_MODEL_URL: &str = "./models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Where the local model stands.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelState {
    /// Nothing loaded yet.
    NotLoaded,
    /// A file is being fetched or read.
    Loading {
        /// The file's name or address.
        file: String,
        /// The current step.
        stage: LoadStage,
        /// Units of the step done.
        done: u64,
        /// Units of the step in all (0 when unknown).
        total: u64,
    },
    /// Ready for requests.
    Ready {
        /// The file's name or address.
        file: String,
        /// What the worker reported about it.
        info: ModelInfo,
        /// A later load that failed, leaving this model loaded.
        failed_load: Option<FailedLoad>,
    },
    /// The last load failed; nothing is loaded.
    Failed {
        /// The file's name or address.
        file: String,
        /// Why, for the person.
        message: String,
    },
}

/// A load that failed while another model stayed loaded.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedLoad {
    /// The file's name or address.
    pub file: String,
    /// Why, for the person; it names the file.
    pub message: String,
}

/// A model file to load.
#[derive(Clone, Debug)]
pub enum ModelChoice {
    /// Fetched by the worker (and cached), relative to the page or absolute.
    Url(String),
    /// A file the person picked.
    File(web_sys::File),
}

/// A request sent to one of the engine workers, to cancel it there.
#[derive(Clone)]
pub struct LocalRequest {
    worker: ModelWorker,
    id: RequestId,
}

impl LocalRequest {
    /// Stops the generation early; it still ends with `Done`.
    pub fn cancel(&self) {
        self.worker.cancel(self.id);
    }
}

/// The page's remote control of its local model; `Copy`, for closures.
#[derive(Clone, Copy)]
pub struct LocalModel {
    /// The engine workers, the page's first; more start when a model loads.
    workers: StoredValue<Vec<ModelWorker>, LocalStorage>,
    /// How many of `workers` (the first ones) hold the model of `state`.
    pub engines: RwSignal<usize>,
    /// Where the model stands.
    pub state: RwSignal<ModelState>,
    /// The organizer's names for model files, by file (see [`NAMES_KEY`]).
    pub names: RwSignal<BTreeMap<String, String>>,
    /// The last model that loaded, in this visit or an earlier one.
    pub remembered: RwSignal<Option<RememberedModel>>,
}

impl LocalModel {
    /// Wraps the page's worker, and reads the organizer's names for model
    /// files from IndexedDB.
    pub fn new(worker: ModelWorker) -> LocalModel {
        let model = LocalModel {
            workers: StoredValue::new_local(vec![worker]),
            engines: RwSignal::new(0),
            state: RwSignal::new(ModelState::NotLoaded),
            names: RwSignal::new(BTreeMap::new()),
            remembered: RwSignal::new(None),
        };
        spawn_local(async move {
            match crate::project::get_setting::<BTreeMap<String, String>>(NAMES_KEY).await {
                Ok(names) => model.names.set(names.unwrap_or_default()),
                // The generations then carry the proposed id; nothing is lost.
                Err(error) => web_sys::console::warn_1(&format!("could not read the local model's names: {error}").into()),
            }
            match crate::project::get_setting::<RememberedModel>(REMEMBERED_KEY).await {
                // A model loaded meanwhile is newer.
                Ok(remembered) => model.remembered.update(|now| *now = now.take().or(remembered)),
                // The pool then starts with the default model, as on a first visit.
                Err(error) => web_sys::console::warn_1(&format!("could not read the last local model: {error}").into()),
            }
        });
        model
    }

    /// The id the pool's local items are planned under: the loaded model's,
    /// else the last one's (which the pool loads again before it runs).
    /// Not tracked.
    pub fn planning_model_id(&self) -> String {
        match (self.state.get_untracked(), self.remembered.get_untracked()) {
            (ModelState::Ready { .. }, _) | (_, None) => self.generation_model_id(),
            (_, Some(remembered)) => remembered.model_id,
        }
    }

    /// Tracks what [`LocalModel::planning_model_id`] reads, for a view or
    /// memo that plans.
    pub fn track_planning_model_id(&self) {
        self.state.track();
        self.remembered.track();
    }

    /// What the pool loads when no model is ready: the last model that
    /// loaded, else the default one; an error that says what to do when the
    /// last one was a picked file.
    pub fn choice_to_resume(&self) -> Result<ModelChoice, String> {
        match self.remembered.get_untracked() {
            None => Ok(ModelChoice::Url(DEFAULT_MODEL_URL.to_owned())),
            Some(RememberedModel { file, picked: false, .. }) => Ok(ModelChoice::Url(file)),
            Some(RememberedModel { file, picked: true, model_id }) => Err(format!(
                "the local model of this run ({model_id}) was the file {file}, picked from this computer; a page cannot open it again by itself: pick it again in Settings → Local model, then start the run again"
            )),
        }
    }

    /// Keeps the loaded model as the last one, in IndexedDB.
    fn remember(self, file: String, picked: bool) {
        let remembered = RememberedModel { file, picked, model_id: self.generation_model_id() };
        self.remembered.set(Some(remembered.clone()));
        spawn_local(async move {
            if let Err(error) = crate::project::put_setting(REMEMBERED_KEY, &remembered).await {
                // The pool then resumes with the default model after a reload.
                web_sys::console::warn_1(&format!("could not keep the last local model: {error}").into());
            }
        });
    }

    /// The id the loaded model's generations carry (see `prefab_llm::model_id`);
    /// "local model" when none is loaded. Not tracked: read when a generation
    /// is made.
    pub fn generation_model_id(&self) -> String {
        match self.state.get_untracked() {
            ModelState::Ready { file, info, .. } => {
                let names = self.names.get_untracked();
                model_id::model_id(names.get(&file).map(String::as_str), &info, &file).id
            }
            _ => "local model".to_owned(),
        }
    }

    /// The id the loaded model's generations get when the organizer names
    /// nothing, and why; `None` when no model is ready. Tracked.
    pub fn proposed_model_id(&self) -> Option<ModelId> {
        match self.state.get() {
            ModelState::Ready { file, info, .. } => Some(model_id::model_id(None, &info, &file)),
            _ => None,
        }
    }

    /// Names the model `file` holds for its generations (an empty name
    /// removes it), and keeps the name in IndexedDB.
    pub async fn name_model(self, file: String, name: String) -> Result<(), String> {
        let mut names = self.names.get_untracked();
        match name.trim() {
            "" => names.remove(&file),
            name => names.insert(file, name.to_owned()),
        };
        crate::project::put_setting(NAMES_KEY, &names).await.map_err(|error| error.to_string())?;
        self.names.set(names);
        // The last model's id changes with its name.
        if let ModelState::Ready { file: loaded, .. } = self.state.get_untracked() {
            let picked = self.remembered.get_untracked().is_some_and(|remembered| remembered.file == loaded && remembered.picked);
            self.remember(loaded, picked);
        }
        Ok(())
    }

    /// The page's first worker, for its status.
    pub fn worker(&self) -> ModelWorker {
        self.workers.with_value(|workers| workers[0].clone())
    }

    /// The engine worker holding the model with the fewest requests in
    /// flight (the first before any model is loaded: it answers that none
    /// is).
    fn least_busy(&self) -> ModelWorker {
        let engines = self.engines.get_untracked().max(1);
        self.workers.with_value(|workers| {
            workers[..engines.min(workers.len())].iter().min_by_key(|worker| worker.in_flight()).cloned().unwrap_or_else(|| workers[0].clone())
        })
    }

    /// Loads `choice` in the worker, replacing any loaded model, and tracks
    /// progress in [`LocalModel::state`].
    pub fn load(self, choice: ModelChoice, options: LoadOptions) {
        // The model loaded now stays loaded in the worker if this load fails.
        let previous = match self.state.get_untracked() {
            ModelState::Ready { file, info, .. } => Some((file, info)),
            _ => None,
        };
        let fail = move |file: String, message: String| match previous.clone() {
            Some((kept, info)) => self.state.set(ModelState::Ready { file: kept, info, failed_load: Some(FailedLoad { file, message }) }),
            None => self.state.set(ModelState::Failed { file, message }),
        };
        // Loading from this call on, not from when the task first runs: a
        // caller that waits for the state must not see the previous one.
        let file = match &choice {
            ModelChoice::Url(url) => absolute(url),
            ModelChoice::File(file) => file.name(),
        };
        self.state.set(ModelState::Loading { file, stage: LoadStage::Download, done: 0, total: 0 });
        let choice_file = match &choice {
            ModelChoice::File(file) => Some(file.clone()),
            ModelChoice::Url(_) => None,
        };
        spawn_local(async move {
            let (file, source) = match choice {
                ModelChoice::Url(url) => {
                    let url = absolute(&url);
                    (url.clone(), ModelSource::Url { url })
                }
                ModelChoice::File(file) => {
                    let name = file.name();
                    (name.clone(), ModelSource::File { name })
                }
            };
            self.state.set(ModelState::Loading { file: file.clone(), stage: LoadStage::Download, done: 0, total: 0 });
            let (_, mut answers) = self.worker().send(|id| WorkerRequest::Load { id, source: source.clone(), options: options.clone() }, choice_file.clone());
            while let Some(answer) = answers.next().await {
                let file = file.clone();
                match answer {
                    WorkerResponse::Progress { stage, done, total, .. } => {
                        self.state.set(ModelState::Loading { file, stage, done, total })
                    }
                    WorkerResponse::Ready { model, .. } => {
                        // Only the first worker holds this model now.
                        self.engines.set(1);
                        self.load_in_more_engines(&model, &source, &options, &choice_file).await;
                        self.state.set(ModelState::Ready { file: file.clone(), info: model, failed_load: None });
                        return self.remember(file, choice_file.is_some());
                    }
                    WorkerResponse::Failed { message, .. } => return fail(file, message),
                    _ => {}
                }
            }
            // The worker is gone, and the old model with it.
            let message = "the model worker stopped before the model was ready".to_owned();
            self.state.set(ModelState::Failed { file, message });
        });
    }

    /// After the first worker loaded `model`, loads it in as many more as
    /// the cores and memory allow ([`engine_count`]), side by side: from the
    /// cache the first filled, or from the picked `file`. A
    /// worker that fails is left out; the model runs on the others.
    async fn load_in_more_engines(self, model: &ModelInfo, source: &ModelSource, options: &LoadOptions, file: &Option<web_sys::File>) {
        let cores = web_sys::window().map_or(1, |window| window.navigator().hardware_concurrency() as usize);
        let wanted = engine_count(model.weights_bytes, cores);
        self.workers.update_value(|workers| {
            while workers.len() < wanted {
                workers.push(ModelWorker::start());
            }
        });
        let extra = self.workers.with_value(|workers| workers[1..wanted].to_vec());
        let loads = extra.into_iter().map(|worker| {
            let (source, options) = (source.clone(), options.clone());
            let file = file.clone();
            async move {
                let (_, mut answers) = worker.send(|id| WorkerRequest::Load { id, source, options }, file);
                while let Some(answer) = answers.next().await {
                    match answer {
                        WorkerResponse::Ready { .. } => return Some(worker),
                        WorkerResponse::Failed { message, .. } => {
                            web_sys::console::warn_1(&format!("an engine worker could not load the model: {message}").into());
                            return None;
                        }
                        _ => {}
                    }
                }
                None
            }
        });
        let loaded: Vec<ModelWorker> = futures::future::join_all(loads).await.into_iter().flatten().collect();
        // The workers that hold the model stay; any other (one that failed,
        // or one a smaller model had and this one does not get) is stopped,
        // giving its memory back.
        self.workers.update_value(|workers| {
            let first = workers.remove(0);
            for surplus in workers.iter().filter(|worker| !loaded.iter().any(|ready| ready.same(worker))) {
                surplus.stop();
            }
            *workers = std::iter::once(first).chain(loaded.iter().cloned()).collect();
        });
        self.engines.set(1 + loaded.len());
    }

    /// Starts generating the answer to `messages`; the answers are `Token`s,
    /// then `Done` (or `Failed`).
    pub fn generate(&self, messages: Vec<ChatMessage>, params: GenerationParams) -> (LocalRequest, UnboundedReceiver<WorkerResponse>) {
        let worker = self.least_busy();
        let (id, answers) = worker.send(|id| WorkerRequest::Generate { id, messages, params }, None);
        (LocalRequest { worker, id }, answers)
    }

    /// Asks for the probabilities of `candidates` as the next token after
    /// `prompt`; answered by `Scores` (or `Failed`).
    pub fn score(&self, prompt: Prompt, candidates: Vec<String>) -> UnboundedReceiver<WorkerResponse> {
        self.least_busy().send(|id| WorkerRequest::Score { id, prompt, candidates }, None).1
    }
}

/// `url` resolved against the page's address: the worker lives elsewhere
/// (its script's folder), and the cache is keyed by absolute addresses.
pub fn absolute(url: &str) -> String {
    let base = document().base_uri().ok().flatten().unwrap_or_default();
    web_sys::Url::new_with_base(url.trim(), &base).map(|url| url.href()).unwrap_or_else(|_| url.trim().to_owned())
}
