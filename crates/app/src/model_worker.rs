//! The page's side of the model worker: start it, talk to it, watch it.
//!
//! The worker is started once per page. Until it says it has started, any
//! message to it could be lost (its wasm is still loading), so the page waits
//! for [`WorkerResponse::Started`] and then pings it.

use leptos::prelude::*;
use prefab_llm::protocol::{self, WorkerRequest, WorkerResponse};
use wasm_bindgen::prelude::*;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// Where Trunk puts the worker's loader (see `www/index.html`).
const WORKER_URL: &str = "./prefab-worker_loader.js";

/// What the page knows of its model worker.
#[derive(Clone, Debug, PartialEq)]
pub enum WorkerStatus {
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

/// Starts the model worker and returns a signal of its status.
pub fn start_model_worker() -> ReadSignal<WorkerStatus> {
    let (status, set_status) = signal(WorkerStatus::Starting);
    let worker = match Worker::new(WORKER_URL) {
        Ok(worker) => worker,
        Err(error) => {
            set_status.set(WorkerStatus::Failed(format!("the model worker could not start: {error:?}")));
            return status;
        }
    };
    let pinged_at = StoredValue::new(0.0_f64);
    let sender = worker.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let Some(text) = event.data().as_string() else { return };
        match protocol::decode::<WorkerResponse>(&text) {
            Ok(WorkerResponse::Started { version }) if version != prefab_core::VERSION => {
                set_status.set(WorkerStatus::Failed(format!(
                    "the model worker is version {version}, the page {}: reload the page",
                    prefab_core::VERSION
                )));
            }
            Ok(WorkerResponse::Started { .. }) => {
                pinged_at.set_value(now_ms());
                let ping = protocol::encode(&WorkerRequest::Ping { id: 1 });
                let _ = sender.post_message(&JsValue::from_str(&ping));
            }
            Ok(WorkerResponse::Pong { version, .. }) => set_status.set(WorkerStatus::Ready {
                version,
                round_trip_ms: now_ms() - pinged_at.get_value(),
            }),
            Ok(WorkerResponse::Error { message, .. }) => set_status.set(WorkerStatus::Failed(message)),
            // Answers to model requests (load, generate, score), which the
            // page does not send yet.
            Ok(_) => {}
            Err(message) => set_status.set(WorkerStatus::Failed(message)),
        }
    });
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
        set_status.set(WorkerStatus::Failed(format!("the model worker failed: {}", event.message())));
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    // The worker and its handlers live as long as the page.
    on_message.forget();
    on_error.forget();
    std::mem::forget(worker);
    status
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|window| window.performance()).map_or(0.0, |p| p.now())
}
