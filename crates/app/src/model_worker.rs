//! The page's side of the model worker: start it, send it requests, and
//! route its answers to whoever asked.
//!
//! The page's first worker starts when a model is first needed (a request,
//! or Build opened: [`ModelWorker::warm_up`]), not with the page: a
//! contributor who only rates never downloads its wasm. Until it says it has
//! started, a message to it could be lost (its wasm is still loading), so
//! requests made before [`WorkerResponse::Started`] wait in a queue. Each request gets a
//! fresh id and a channel; the answers with that id go down the channel,
//! which closes after the request's last answer (`Ready`, `Done`, `Scores`,
//! `Failed`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use leptos::prelude::*;
use prefab_llm::protocol::{self, RequestId, WorkerRequest, WorkerResponse};
use prefab_llm::ErrorCode;
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

use crate::time::now_ms;

/// Where Trunk puts the worker's loader (see `www/index.html`).
const WORKER_URL: &str = "./prefab-worker_loader.js";

/// What the page knows of its model worker.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerStatus {
    /// Not started: no model was needed yet.
    Idle,
    /// Started, not yet answered.
    Starting,
    /// Answered a ping.
    Ready {
        /// The worker's version.
        version: String,
        /// Milliseconds from ping to pong.
        round_trip_ms: f64,
    },
    /// Could not start, or is not the version of this page.
    Failed(String),
}

/// A handle on the page's model worker; cheap to clone.
#[derive(Clone)]
pub struct ModelWorker {
    inner: Rc<Inner>,
}

struct Inner {
    /// `None` until it is started, or when the browser refused to start it.
    worker: RefCell<Option<Worker>>,
    status: RwSignal<WorkerStatus>,
    next_id: Cell<RequestId>,
    started: Cell<bool>,
    /// Messages posted before the worker started.
    queued: RefCell<Vec<JsValue>>,
    /// Where the answers to each request in flight go.
    waiting: RefCell<HashMap<RequestId, UnboundedSender<WorkerResponse>>>,
    pinged_at: Cell<f64>,
}

impl ModelWorker {
    /// A model worker that starts when first needed.
    pub fn new() -> ModelWorker {
        let inner = Rc::new(Inner {
            worker: RefCell::new(None),
            status: RwSignal::new(WorkerStatus::Idle),
            next_id: Cell::new(1),
            started: Cell::new(false),
            queued: RefCell::default(),
            waiting: RefCell::default(),
            pinged_at: Cell::new(0.0),
        });
        ModelWorker { inner }
    }

    /// A model worker, started now.
    pub fn start() -> ModelWorker {
        let worker = ModelWorker::new();
        worker.warm_up();
        worker
    }

    /// Starts the worker if it has not started: its wasm loads while the
    /// person looks at the page, so the first request does not wait for it.
    pub fn warm_up(&self) {
        let status = self.inner.status;
        // Started (or tried to) once it is no longer idle.
        if status.get_untracked() != WorkerStatus::Idle {
            return;
        }
        status.set(WorkerStatus::Starting);
        let worker = match Worker::new(WORKER_URL) {
            Ok(worker) => worker,
            Err(error) => return status.set(WorkerStatus::Failed(format!("the model worker could not start: {error:?}"))),
        };
        let receiver = Rc::downgrade(&self.inner);
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            // JSON text, or `[json, text]` when a long text travels beside it (a table).
            let data = event.data();
            let (text, payload) = match data.dyn_ref::<js_sys::Array>() {
                Some(parts) => (parts.get(0).as_string(), parts.get(1).as_string()),
                None => (data.as_string(), None),
            };
            if let (Some(inner), Some(text)) = (receiver.upgrade(), text) {
                inner.receive(&text, payload);
            }
        });
        let crashed = Rc::downgrade(&self.inner);
        let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
            let message = format!("the worker stopped: {}", event.message());
            status.set(WorkerStatus::Failed(message.clone()));
            // It answers nothing more: every request waiting on it ends now.
            if let Some(inner) = crashed.upgrade() {
                inner.fail_all(&message);
            }
        });
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        // The handlers live as long as the page.
        on_message.forget();
        on_error.forget();
        *self.inner.worker.borrow_mut() = Some(worker);
        // Its files are now worth keeping for offline use.
        crate::offline::keep_model_worker();
    }

    /// The worker's status, for the footer.
    pub fn status(&self) -> ReadSignal<WorkerStatus> {
        self.inner.status.read_only()
    }

    /// Sends the request `make(id)`, with `file` (a picked model file: a
    /// handle, not its bytes) along, and returns its id and the channel of
    /// its answers.
    pub fn send(
        &self,
        make: impl FnOnce(RequestId) -> WorkerRequest,
        file: Option<web_sys::File>,
    ) -> (RequestId, UnboundedReceiver<WorkerResponse>) {
        self.warm_up();
        let id = self.inner.next_id.get();
        self.inner.next_id.set(id + 1);
        let (answers, receiver) = unbounded();
        if self.inner.worker.borrow().is_none() {
            let message = "the model worker could not start in this browser".to_owned();
            let _ = answers.unbounded_send(WorkerResponse::Failed { id, kind: ErrorCode::Inference, message });
            return (id, receiver);
        }
        self.inner.waiting.borrow_mut().insert(id, answers);
        let text = JsValue::from_str(&protocol::encode(&make(id)));
        match file {
            None => self.inner.post(text),
            Some(file) => self.inner.post(js_sys::Array::of2(&text, &file).into()),
        }
        (id, receiver)
    }

    /// How many requests wait for their last answer.
    pub fn in_flight(&self) -> usize {
        self.inner.waiting.borrow().len()
    }

    /// Stops the worker for good, and with it its model's memory. Requests
    /// still waiting end without a last answer (their channels close).
    pub fn stop(&self) {
        self.inner.waiting.borrow_mut().clear();
        if let Some(worker) = &*self.inner.worker.borrow() {
            worker.terminate();
        }
    }

    /// Whether both handles are of the same worker.
    pub fn same(&self, other: &ModelWorker) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }

    /// Asks the worker to stop the generation `id`; it still ends with `Done`.
    pub fn cancel(&self, id: RequestId) {
        let text = protocol::encode(&WorkerRequest::Cancel { id });
        self.inner.post(JsValue::from_str(&text));
    }
}

impl Default for ModelWorker {
    fn default() -> ModelWorker {
        ModelWorker::new()
    }
}

impl Inner {
    fn post(&self, message: JsValue) {
        if !self.started.get() {
            self.queued.borrow_mut().push(message);
            return;
        }
        let worker = self.worker.borrow();
        let Some(worker) = &*worker else { return };
        if let Err(error) = worker.post_message(&message) {
            self.status.set(WorkerStatus::Failed(format!("could not reach the model worker: {error:?}")));
        }
    }

    /// Ends every request waiting for an answer with `WorkerStopped`.
    fn fail_all(&self, message: &str) {
        for (id, answers) in self.waiting.take() {
            let _ = answers.unbounded_send(WorkerResponse::Failed { id, kind: ErrorCode::WorkerStopped, message: message.to_owned() });
        }
    }

    fn receive(&self, text: &str, payload: Option<String>) {
        let response = match protocol::decode::<WorkerResponse>(text) {
            Ok(response) => response.with_payload(payload),
            Err(message) => return self.status.set(WorkerStatus::Failed(message)),
        };
        match response {
            WorkerResponse::Started { version } if version != prefab_core::VERSION => {
                self.status.set(WorkerStatus::Failed(format!(
                    "the model worker is version {version}, the page {}: reload the page",
                    prefab_core::VERSION
                )));
            }
            WorkerResponse::Started { .. } => {
                self.started.set(true);
                self.pinged_at.set(now_ms());
                // Id 0 is never given to a request: it is the start-up ping.
                self.post(JsValue::from_str(&protocol::encode(&WorkerRequest::Ping { id: 0 })));
                for message in self.queued.take() {
                    self.post(message);
                }
            }
            WorkerResponse::Pong { id: 0, version, .. } => self.status.set(WorkerStatus::Ready {
                version,
                round_trip_ms: now_ms() - self.pinged_at.get(),
            }),
            WorkerResponse::Error { id: None, message } => {
                web_sys::console::error_1(&format!("model worker: {message}").into());
            }
            response => self.route(response),
        }
    }

    /// Hands an answer to its request's channel; the last one closes it.
    fn route(&self, response: WorkerResponse) {
        let (id, last) = match &response {
            WorkerResponse::Progress { id, .. } | WorkerResponse::Token { id, .. } | WorkerResponse::Reading { id, .. } => (*id, false),
            WorkerResponse::Ready { id, .. }
            | WorkerResponse::Table { id, .. }
            | WorkerResponse::Done { id, .. }
            | WorkerResponse::Scores { id, .. }
            | WorkerResponse::Failed { id, .. }
            | WorkerResponse::Pong { id, .. }
            | WorkerResponse::Error { id: Some(id), .. } => (*id, true),
            WorkerResponse::Started { .. } | WorkerResponse::Error { id: None, .. } => return,
        };
        let mut waiting = self.waiting.borrow_mut();
        if let Some(answers) = waiting.get(&id) {
            let _ = answers.unbounded_send(response);
        }
        if last {
            waiting.remove(&id);
        }
    }
}
