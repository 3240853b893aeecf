//! The model worker: a Web Worker that owns the local model.
//!
//! Inference is long, CPU-bound work; in a worker it never freezes the page.
//! The worker reads [`WorkerRequest`]s from `postMessage`, answers each with
//! [`WorkerResponse`]s that carry the request's id, and reports a request it
//! cannot read as an error value instead of dying.

use prefab_llm::protocol::{self, WorkerRequest, WorkerResponse};
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// Starts serving requests, then tells the page the worker is up.
///
/// Messages the page posts before this runs (while the wasm is still being
/// fetched) would be lost, so the page waits for [`WorkerResponse::Started`].
pub fn run() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let replies = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let response = match event.data().as_string() {
            Some(text) => match protocol::decode::<WorkerRequest>(&text) {
                Ok(request) => protocol::answer(&request),
                Err(message) => WorkerResponse::Error { id: None, message },
            },
            None => WorkerResponse::Error {
                id: None,
                message: "the model worker reads requests as JSON text".to_owned(),
            },
        };
        post(&replies, &response);
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();
    post(&scope, &protocol::started());
}

fn post(scope: &DedicatedWorkerGlobalScope, response: &WorkerResponse) {
    // Posting a string cannot fail: it needs no structured cloning.
    let _ = scope.post_message(&JsValue::from_str(&protocol::encode(response)));
}
