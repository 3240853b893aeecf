//! The browser transport for hosted models: `fetch`, in the page or a worker.
//!
//! A thin shell around the pure parts: it sends what [`ChatRequest`] builds,
//! feeds the response body to [`SseParser`], asks [`RetryPolicy`] what to do
//! after a failure, and adds what only a browser can do — abort a request in
//! flight (cancel and timeouts both use an `AbortController`), wait without
//! blocking, and limit how many requests one endpoint has in flight.

use super::endpoint::Endpoint;
use super::errors::{HostedError, HostedErrorKind};
use super::request::ChatRequest;
use super::response::{parse_completion, parse_model_list, parse_stream_event, Completion, StreamItem};
use super::retry::{Decision, Failure, RetryPolicy};
use super::sse::SseParser;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, Request, RequestCache, RequestInit, Response};

#[wasm_bindgen]
extern "C" {
    // The global functions, which exist in windows and workers alike.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> js_sys::Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(callback: &js_sys::Function, milliseconds: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// Cancels the requests it was given to, including waits between retries.
#[derive(Clone, Default)]
pub struct Cancel {
    cancelled: Rc<Cell<bool>>,
    controllers: Rc<RefCell<Vec<AbortController>>>,
    sleepers: Rc<RefCell<Vec<js_sys::Function>>>,
}

impl Cancel {
    /// A handle that has not been cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Stops everything started with this handle, now.
    pub fn cancel(&self) {
        self.cancelled.set(true);
        for controller in self.controllers.borrow_mut().drain(..) {
            controller.abort();
        }
        for wake in self.sleepers.borrow_mut().drain(..) {
            let _ = wake.call0(&JsValue::NULL);
        }
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }

    fn cancelled_error() -> HostedError {
        HostedError::new(HostedErrorKind::Cancelled, "")
    }
}

/// Limits the requests in flight to one endpoint; later ones wait their turn.
struct Limiter {
    available: Cell<usize>,
    waiting: RefCell<VecDeque<js_sys::Function>>,
}

/// A turn to send a request; the next waiter goes when it is dropped.
struct Permit(Rc<Limiter>);

impl Limiter {
    async fn acquire(self: &Rc<Self>) -> Permit {
        if self.available.get() > 0 {
            self.available.set(self.available.get() - 1);
        } else {
            let turn = js_sys::Promise::new(&mut |resolve, _| self.waiting.borrow_mut().push_back(resolve));
            let _ = JsFuture::from(turn).await;
        }
        Permit(Rc::clone(self))
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        // Hand the turn straight to the next waiter, or give it back.
        match self.0.waiting.borrow_mut().pop_front() {
            Some(next) => drop(next.call0(&JsValue::NULL)),
            None => self.0.available.set(self.0.available.get() + 1),
        }
    }
}

/// Aborts a request that goes quiet for too long, and remembers that it did.
struct Watchdog {
    controller: AbortController,
    /// The cancel handle's list, which it leaves when the request is over.
    registered_in: Rc<RefCell<Vec<AbortController>>>,
    timeout_ms: f64,
    fired: Rc<Cell<bool>>,
    timer: RefCell<JsValue>,
    on_fire: Closure<dyn FnMut()>,
}

impl Watchdog {
    fn start(controller: &AbortController, cancel: &Cancel, timeout_ms: f64) -> Watchdog {
        cancel.controllers.borrow_mut().push(controller.clone());
        let fired = Rc::new(Cell::new(false));
        let on_fire = {
            let (fired, controller) = (Rc::clone(&fired), controller.clone());
            Closure::new(move || {
                fired.set(true);
                controller.abort();
            })
        };
        let watchdog = Watchdog {
            controller: controller.clone(),
            registered_in: Rc::clone(&cancel.controllers),
            timeout_ms,
            fired,
            timer: RefCell::new(JsValue::UNDEFINED),
            on_fire,
        };
        watchdog.rearm();
        watchdog
    }

    /// Starts the countdown again: called whenever the server shows it is alive.
    fn rearm(&self) {
        clear_timeout(&self.timer.borrow());
        *self.timer.borrow_mut() = set_timeout(self.on_fire.as_ref().unchecked_ref(), self.timeout_ms);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        clear_timeout(&self.timer.borrow());
        self.registered_in.borrow_mut().retain(|controller| controller != &self.controller);
    }
}

/// What a streamed completion reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent<'a> {
    /// New text.
    Token(&'a str),
    /// The attempt failed and a new one starts from scratch: drop the text so far.
    Restart {
        /// Why the last attempt failed.
        reason: &'a HostedError,
        /// How long the client waits before the next attempt, in milliseconds.
        wait_ms: f64,
    },
}

/// A client for one hosted endpoint.
pub struct HostedClient {
    endpoint: Endpoint,
    /// Sent as `Authorization: Bearer …`; never logged, never in a URL.
    token: Option<String>,
    headers: Vec<(String, String)>,
    policy: RetryPolicy,
    timeout_ms: f64,
    limiter: Rc<Limiter>,
}

impl fmt::Debug for HostedClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token stays out of every debug print.
        f.debug_struct("HostedClient")
            .field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("policy", &self.policy)
            .field("timeout_ms", &self.timeout_ms)
            .finish_non_exhaustive()
    }
}

impl HostedClient {
    /// A client with the default retry policy, 60 s of allowed silence and 4 requests at once.
    pub fn new(endpoint: Endpoint, token: Option<String>) -> HostedClient {
        HostedClient {
            endpoint,
            token: token.filter(|token| !token.trim().is_empty()),
            headers: Vec::new(),
            policy: RetryPolicy::default(),
            timeout_ms: 60_000.0,
            limiter: Rc::new(Limiter { available: Cell::new(4), waiting: RefCell::new(VecDeque::new()) }),
        }
    }

    /// Adds a header to every request (some gateways want their own).
    pub fn with_header(mut self, name: &str, value: &str) -> HostedClient {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the retry policy.
    pub fn with_policy(mut self, policy: RetryPolicy) -> HostedClient {
        self.policy = policy;
        self
    }

    /// How long the server may stay silent (before answering, or between two chunks).
    pub fn with_timeout_ms(mut self, timeout_ms: f64) -> HostedClient {
        self.timeout_ms = timeout_ms;
        self
    }

    /// How many requests may be in flight to this endpoint at once.
    pub fn with_concurrency(self, limit: usize) -> HostedClient {
        self.limiter.available.set(limit.max(1));
        self
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// A whole completion, retried as the policy says.
    pub async fn complete(&self, request: &ChatRequest, cancel: &Cancel) -> Result<Completion, HostedError> {
        let request = ChatRequest { model: self.endpoint.model().to_owned(), stream: false, ..request.clone() };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                let (response, _watchdog) = self.send("POST", &self.endpoint.chat_completions_url(), Some(&request), cancel).await?;
                let body = read_text(&response).await.map_err(failure)?;
                parse_completion(&body).map_err(failure)
            }
            .await;
            match result {
                Ok(completion) => return Ok(completion),
                Err(failed) => {
                    self.wait_or_give_up(attempt, failed, cancel, |_, _| {}).await?;
                }
            }
        }
    }

    /// A completion streamed token by token, retried as the policy says.
    pub async fn stream(
        &self,
        request: &ChatRequest,
        cancel: &Cancel,
        mut on_event: impl FnMut(StreamEvent<'_>),
    ) -> Result<Completion, HostedError> {
        let request = ChatRequest { model: self.endpoint.model().to_owned(), stream: true, ..request.clone() };
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.stream_once(&request, cancel, &mut on_event).await {
                Ok(completion) => return Ok(completion),
                Err(failed) => {
                    self.wait_or_give_up(attempt, failed, cancel, |reason, wait_ms| {
                        on_event(StreamEvent::Restart { reason, wait_ms })
                    })
                    .await?;
                }
            }
        }
    }

    async fn stream_once(
        &self,
        request: &ChatRequest,
        cancel: &Cancel,
        on_event: &mut impl FnMut(StreamEvent<'_>),
    ) -> Result<Completion, Failure> {
        let (response, watchdog) = self.send("POST", &self.endpoint.chat_completions_url(), Some(request), cancel).await?;
        let body = response.body().ok_or_else(|| failure(HostedError::new(HostedErrorKind::BadResponse, "the answer has no body")))?;
        let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
        let mut parser = SseParser::new();
        let mut completion = Completion { text: String::new(), finish_reason: None, usage: None, model: None, logprobs: Vec::new() };
        loop {
            watchdog.rearm();
            let chunk = JsFuture::from(reader.read()).await.map_err(|error| {
                let cut = HostedError::new(HostedErrorKind::StreamCut, js_message(&error));
                failure(classify_abort(cancel, &watchdog, cut))
            })?;
            let chunk: web_sys::ReadableStreamReadResult = chunk.unchecked_into();
            if chunk.get_done().unwrap_or(true) {
                // The body ended without `[DONE]`: the connection was cut.
                return Err(failure(HostedError::new(HostedErrorKind::StreamCut, "the stream ended without [DONE]")));
            }
            let bytes = js_sys::Uint8Array::new(&chunk.get_value()).to_vec();
            for event in parser.feed(&bytes) {
                match parse_stream_event(&event).map_err(failure)? {
                    StreamItem::Delta { text, finish_reason, usage, logprobs } => {
                        if !text.is_empty() {
                            on_event(StreamEvent::Token(&text));
                            completion.text.push_str(&text);
                        }
                        completion.finish_reason = finish_reason.or(completion.finish_reason);
                        completion.usage = usage.or(completion.usage);
                        completion.logprobs.extend(logprobs);
                    }
                    StreamItem::Done => {
                        let _ = reader.cancel();
                        return Ok(completion);
                    }
                }
            }
        }
    }

    /// The models the endpoint serves (`GET /models`), retried as the policy says.
    pub async fn list_models(&self, cancel: &Cancel) -> Result<Vec<String>, HostedError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = async {
                let (response, _watchdog) = self.send("GET", &self.endpoint.models_url(), None, cancel).await?;
                parse_model_list(&read_text(&response).await.map_err(failure)?).map_err(failure)
            }
            .await;
            match result {
                Ok(models) => return Ok(models),
                Err(failed) => self.wait_or_give_up(attempt, failed, cancel, |_, _| {}).await?,
            }
        }
    }

    /// "Test connection": lists the models, or names the reason it cannot —
    /// no answer (down, or CORS), a refused token, or a model the server does not serve.
    ///
    /// A refused CORS request and a server that is down look the same to a
    /// page: `fetch` fails with no detail. (A `no-cors` probe could tell them
    /// apart, but not on a cross-origin isolated page like Prefab's, where an
    /// opaque answer is blocked too.) So that failure names both causes and
    /// the origin the server must allow.
    pub async fn test_connection(&self) -> Result<Vec<String>, HostedError> {
        self.endpoint.validate().map_err(|message| HostedError::new(HostedErrorKind::BadRequest, message))?;
        let quick = HostedClient { policy: RetryPolicy { max_attempts: 1, ..self.policy }, ..self.clone_settings() };
        let models = match quick.list_models(&Cancel::new()).await {
            Err(error) if error.kind == HostedErrorKind::Unreachable => {
                return Err(HostedError::new(
                    HostedErrorKind::Unreachable,
                    format!("{} ({}); if it is running, it must allow the origin {}", self.endpoint.models_url(), error.message, page_origin()),
                ))
            }
            other => other?,
        };
        let wanted = self.endpoint.model();
        // The router accepts `model:provider`; a dedicated endpoint serves one model, whatever its name.
        let wanted_base = wanted.split(':').next().unwrap_or(wanted);
        let listed = models.iter().any(|model| model == wanted || model == wanted_base);
        if matches!(self.endpoint, Endpoint::InferenceEndpoint { .. }) || listed {
            Ok(models)
        } else {
            let shown: Vec<_> = models.iter().take(10).map(String::as_str).collect();
            Err(HostedError::new(
                HostedErrorKind::UnknownModel,
                format!("{wanted:?} is not among the {} it serves ({}{})", models.len(), shown.join(", "), if models.len() > 10 { ", …" } else { "" }),
            ))
        }
    }

    fn clone_settings(&self) -> HostedClient {
        HostedClient {
            endpoint: self.endpoint.clone(),
            token: self.token.clone(),
            headers: self.headers.clone(),
            policy: self.policy,
            timeout_ms: self.timeout_ms,
            limiter: Rc::clone(&self.limiter),
        }
    }

    /// Sends one request and waits for its status; a non-2xx status is a failure.
    async fn send(&self, method: &str, url: &str, body: Option<&ChatRequest>, cancel: &Cancel) -> Result<(Response, Watchdog), Failure> {
        if cancel.is_cancelled() {
            return Err(failure(Cancel::cancelled_error()));
        }
        let _permit = self.limiter.acquire().await;
        let controller = AbortController::new().map_err(|error| failure(js_error(HostedErrorKind::BadRequest, &error)))?;
        let watchdog = Watchdog::start(&controller, cancel, self.timeout_ms);

        let headers = Headers::new().map_err(|error| failure(js_error(HostedErrorKind::BadRequest, &error)))?;
        let set = |name: &str, value: &str| {
            headers.set(name, value).map_err(|_| failure(HostedError::new(HostedErrorKind::BadRequest, format!("the header {name:?} has a value a browser refuses"))))
        };
        set("Accept", if body.is_some_and(|request| request.stream) { "text/event-stream" } else { "application/json" })?;
        if let Some(token) = &self.token {
            set("Authorization", &format!("Bearer {}", token.trim()))?;
        }
        for (name, value) in &self.headers {
            set(name, value)?;
        }
        let init = RequestInit::new();
        init.set_method(method);
        // API answers are never cached; and the HTTP cache would queue identical GETs one after another.
        init.set_cache(RequestCache::NoStore);
        init.set_signal(Some(&controller.signal()));
        if let Some(body) = body {
            set("Content-Type", "application/json")?;
            init.set_body(&JsValue::from_str(&body.to_json().to_string()));
        }
        init.set_headers(&headers);
        let request = Request::new_with_str_and_init(url, &init).map_err(|error| failure(js_error(HostedErrorKind::BadRequest, &error)))?;
        let response: Response = JsFuture::from(global_fetch(&request))
            .await
            .map_err(|error| {
                // fetch rejects with a TypeError for a refused connection and for CORS alike.
                let unreachable = HostedError::new(HostedErrorKind::Unreachable, js_message(&error));
                failure(classify_abort(cancel, &watchdog, unreachable))
            })?
            .unchecked_into();
        if response.ok() {
            return Ok((response, watchdog));
        }
        let retry_after = response.headers().get("Retry-After").ok().flatten();
        let body = read_text(&response).await.unwrap_or_default();
        Err(Failure { error: HostedError::from_status(response.status(), &body), retry_after, body })
    }

    /// Waits as the policy says (cancellably), or returns the error to give up with.
    async fn wait_or_give_up(
        &self,
        attempt: u32,
        failed: Failure,
        cancel: &Cancel,
        mut before_waiting: impl FnMut(&HostedError, f64),
    ) -> Result<(), HostedError> {
        if cancel.is_cancelled() {
            return Err(Cancel::cancelled_error());
        }
        match self.policy.decide(attempt, &failed, js_sys::Math::random()) {
            Decision::GiveUp => Err(failed.error),
            Decision::RetryAfterMs(wait_ms) => {
                before_waiting(&failed.error, wait_ms);
                sleep(wait_ms, cancel).await;
                if cancel.is_cancelled() { Err(Cancel::cancelled_error()) } else { Ok(()) }
            }
        }
    }
}

/// After an abort, says whether it was a cancel, a timeout, or the error given.
fn classify_abort(cancel: &Cancel, watchdog: &Watchdog, otherwise: HostedError) -> HostedError {
    if cancel.is_cancelled() {
        Cancel::cancelled_error()
    } else if watchdog.fired.get() {
        HostedError::new(HostedErrorKind::Timeout, format!("the server was silent for {} s", watchdog.timeout_ms / 1000.0))
    } else {
        otherwise
    }
}

/// This page's origin, which a server must allow (CORS) to answer it.
fn page_origin() -> String {
    js_sys::Reflect::get(&js_sys::global(), &"origin".into()).ok().and_then(|origin| origin.as_string()).unwrap_or_default()
}

async fn sleep(milliseconds: f64, cancel: &Cancel) {
    let done = js_sys::Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, milliseconds);
        cancel.sleepers.borrow_mut().push(resolve);
    });
    let _ = JsFuture::from(done).await;
}

async fn read_text(response: &Response) -> Result<String, HostedError> {
    let promise = response.text().map_err(|error| js_error(HostedErrorKind::BadResponse, &error))?;
    let text = JsFuture::from(promise).await.map_err(|error| js_error(HostedErrorKind::StreamCut, &error))?;
    Ok(text.as_string().unwrap_or_default())
}

fn failure(error: HostedError) -> Failure {
    Failure { error, retry_after: None, body: String::new() }
}

fn js_error(kind: HostedErrorKind, error: &JsValue) -> HostedError {
    HostedError::new(kind, js_message(error))
}

/// The message of a JS exception or rejection, whatever its type.
pub(crate) fn js_message(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| format!("{error:?}"))
}
