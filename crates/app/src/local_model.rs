//! The local model as the whole page sees it: which file, how far its load
//! has come, and whether it is ready.
//!
//! One [`LocalModel`] lives in the page's context. Settings → Model loads a
//! file through it; the model pool generates with it. The model itself lives
//! in the worker: this is its remote control.

use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_llm::protocol::{ModelSource, RequestId, WorkerRequest, WorkerResponse};
use prefab_llm::{ChatMessage, GenerationParams, LoadOptions, LoadStage, ModelInfo, Prompt};
use wasm_bindgen_futures::JsFuture;

use crate::model_worker::ModelWorker;

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
    },
    /// The last load failed; nothing is loaded.
    Failed {
        /// The file's name or address.
        file: String,
        /// Why, for the person.
        message: String,
    },
}

/// A model file to load.
#[derive(Clone, Debug)]
pub enum ModelChoice {
    /// Fetched by the worker (and cached), relative to the page or absolute.
    Url(String),
    /// A file the person picked.
    File(web_sys::File),
}

/// The page's remote control of its local model; `Copy`, for closures.
#[derive(Clone, Copy)]
pub struct LocalModel {
    worker: StoredValue<ModelWorker, LocalStorage>,
    /// Where the model stands.
    pub state: RwSignal<ModelState>,
}

impl LocalModel {
    /// Wraps the page's worker.
    pub fn new(worker: ModelWorker) -> LocalModel {
        LocalModel { worker: StoredValue::new_local(worker), state: RwSignal::new(ModelState::NotLoaded) }
    }

    /// The worker, for its status.
    pub fn worker(&self) -> ModelWorker {
        self.worker.get_value()
    }

    /// Loads `choice` in the worker, replacing any loaded model, and tracks
    /// progress in [`LocalModel::state`].
    pub fn load(self, choice: ModelChoice, options: LoadOptions) {
        // Loading from this call on, not from when the task first runs: a
        // caller that waits for the state must not see the previous one.
        let file = match &choice {
            ModelChoice::Url(url) => absolute(url),
            ModelChoice::File(file) => file.name(),
        };
        self.state.set(ModelState::Loading { file, stage: LoadStage::Download, done: 0, total: 0 });
        spawn_local(async move {
            let (file, source, bytes) = match choice {
                ModelChoice::Url(url) => {
                    let url = absolute(&url);
                    (url.clone(), ModelSource::Url { url }, None)
                }
                ModelChoice::File(file) => {
                    let name = file.name();
                    self.state.set(ModelState::Loading { file: name.clone(), stage: LoadStage::Cache, done: 0, total: file.size() as u64 });
                    match JsFuture::from(file.array_buffer()).await {
                        Ok(buffer) => (name.clone(), ModelSource::Bytes { name }, Some(buffer.into())),
                        Err(error) => {
                            let message = format!("could not read {name}: {error:?}");
                            return self.state.set(ModelState::Failed { file: name, message });
                        }
                    }
                }
            };
            self.state.set(ModelState::Loading { file: file.clone(), stage: LoadStage::Download, done: 0, total: 0 });
            let (_, mut answers) = self.worker().send(|id| WorkerRequest::Load { id, source, options }, bytes);
            while let Some(answer) = answers.next().await {
                let file = file.clone();
                match answer {
                    WorkerResponse::Progress { stage, done, total, .. } => {
                        self.state.set(ModelState::Loading { file, stage, done, total })
                    }
                    WorkerResponse::Ready { model, .. } => return self.state.set(ModelState::Ready { file, info: model }),
                    WorkerResponse::Failed { message, .. } => {
                        return self.state.set(ModelState::Failed { file, message })
                    }
                    _ => {}
                }
            }
            let message = "the model worker stopped before the model was ready".to_owned();
            self.state.set(ModelState::Failed { file, message });
        });
    }

    /// Starts generating the answer to `messages`; the answers are `Token`s,
    /// then `Done` (or `Failed`).
    pub fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> (RequestId, futures::channel::mpsc::UnboundedReceiver<WorkerResponse>) {
        self.worker().send(|id| WorkerRequest::Generate { id, messages, params }, None)
    }

    /// Asks for the probabilities of `candidates` as the next token after
    /// `prompt`; answered by `Scores` (or `Failed`).
    pub fn score(
        &self,
        prompt: Prompt,
        candidates: Vec<String>,
    ) -> futures::channel::mpsc::UnboundedReceiver<WorkerResponse> {
        self.worker().send(|id| WorkerRequest::Score { id, prompt, candidates }, None).1
    }

    /// Stops a generation early.
    pub fn cancel(&self, id: RequestId) {
        self.worker().cancel(id);
    }
}

/// `url` resolved against the page's address: the worker lives elsewhere
/// (its script's folder), and the cache is keyed by absolute addresses.
pub fn absolute(url: &str) -> String {
    let base = document().base_uri().ok().flatten().unwrap_or_default();
    web_sys::Url::new_with_base(url.trim(), &base).map(|url| url.href()).unwrap_or_else(|_| url.trim().to_owned())
}
