//! The model worker: a Web Worker that owns the local model.
//!
//! Inference is long, CPU-bound work; in a worker it never freezes the page.
//! The worker reads [`WorkerRequest`]s from `postMessage` and answers each
//! with [`WorkerResponse`]s that carry the request's id.
//!
//! Two parts share the worker's one thread:
//! - the message handler answers pings at once, notes cancels, and queues
//!   every model request;
//! - one serving task takes queued requests in order and owns the
//!   [`Engine`]. Generations join a [`Batch`] (up to [`BATCH_SIZE`] decode
//!   together, one pass over the weights per token of all of them, while
//!   their attention caches stay under [`KV_BUDGET_BYTES`]); a
//!   `Score` runs between two of the batch's steps; a `Load` waits until the
//!   batch is empty. After every step the task returns to the event loop, so
//!   the handler can take a `Cancel` (or a ping, or another request)
//!   mid-generation.
//!
//! The same worker also reads files a person brings to import
//! (`ReadTable`): the page starts one for each file, so a file that
//! crashes the reader never takes the page, or the model, with it.
//!
//! A request that fails (a broken file, a prompt too long) is answered with
//! `Failed` and the worker goes on serving; a message it cannot read is
//! answered with `Error`. A `Load` that fails leaves the model that was
//! loaded in place: it is replaced only once the new one is ready, so a
//! wrong address never costs the organizer the model they were using.
//! A download goes straight into the cache (never whole into this
//! worker's memory) and the engine reads it from there a tensor at a time;
//! a file that does not load is deleted from the cache again, so nothing
//! that is not a model stays.

mod event_loop;

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::rc::Rc;

use futures::channel::mpsc::{unbounded, UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use js_sys::{Array, ArrayBuffer};
use prefab_llm::model_file::{self, BlobBytes};
use prefab_llm::protocol::{self, ModelSource, RequestId, WorkerRequest, WorkerResponse, BATCH_SIZE};
use prefab_llm::{Batch, BatchEvent, Engine, Error, LoadOptions, LoadStage, Prompt, KV_BUDGET_BYTES};
use wasm_bindgen::prelude::*;
use web_sys::{Blob, DedicatedWorkerGlobalScope, MessageEvent};

/// A model request waiting for the serving task, with the file that came
/// with it (a `Load` of a file the person picked).
struct Job {
    request: WorkerRequest,
    file: Option<Blob>,
}

/// Ids of generations asked to stop, shared by the handler and the task.
type Cancelled = Rc<RefCell<HashSet<RequestId>>>;

/// Starts serving requests, then tells the page the worker is up.
///
/// Messages the page posts before this runs (while the wasm is still being
/// fetched) would be lost, so the page waits for [`WorkerResponse::Started`].
pub fn run() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let cancelled = Cancelled::default();
    let (jobs, queue) = unbounded();
    let on_message = {
        let scope = scope.clone();
        let cancelled = cancelled.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            receive(&scope, &event.data(), &jobs, &cancelled);
        })
    };
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker does.
    on_message.forget();
    wasm_bindgen_futures::spawn_local(serve(queue, scope.clone(), cancelled));
    post(&scope, &protocol::started());
}

/// Handles one message from the page. Requests come as JSON text, or, for a
/// `Load` of a picked file, as `[json, File]`: the `File` is a handle on the
/// file where the browser keeps it, not its bytes.
fn receive(scope: &DedicatedWorkerGlobalScope, data: &JsValue, jobs: &UnboundedSender<Job>, cancelled: &Cancelled) {
    let (text, file) = match data.dyn_ref::<Array>() {
        Some(parts) => (parts.get(0).as_string(), parts.get(1).dyn_into::<Blob>().ok()),
        None => (data.as_string(), None),
    };
    let Some(text) = text else {
        let message = "the model worker reads requests as JSON text".to_owned();
        return post(scope, &WorkerResponse::Error { id: None, message });
    };
    let request = match protocol::decode::<WorkerRequest>(&text) {
        Ok(request) => request,
        Err(message) => return post(scope, &WorkerResponse::Error { id: None, message }),
    };
    match request {
        WorkerRequest::Ping { id } => post(scope, &protocol::pong(id, memory_bytes())),
        WorkerRequest::Cancel { id } => {
            cancelled.borrow_mut().insert(id);
        }
        request => {
            // The task only ends with the worker, so the queue stays open.
            let _ = jobs.unbounded_send(Job { request, file });
        }
    }
}

/// The serving task: takes model requests in order and owns the model.
async fn serve(mut queue: UnboundedReceiver<Job>, scope: DedicatedWorkerGlobalScope, cancelled: Cancelled) {
    let mut engine: Option<Engine> = None;
    let mut batch = Batch::new();
    // The rendered prompt of each generation in the batch, for its `Done`.
    let mut prompts: HashMap<RequestId, String> = HashMap::new();
    // Requests taken from the queue, in order, that cannot run yet: a
    // generation while the batch is full, a load while it is not empty, and
    // whatever came after them.
    let mut waiting: VecDeque<Job> = VecDeque::new();
    loop {
        if batch.is_empty() && waiting.is_empty() {
            match queue.next().await {
                Some(job) => waiting.push_back(job),
                // The handler holds the sender for the worker's life.
                None => return,
            }
        }
        while let Ok(job) = queue.try_recv() {
            waiting.push_back(job);
        }
        while let Some(job) = waiting.pop_front() {
            let runs_now = match &job.request {
                WorkerRequest::Generate { .. } => {
                    batch.is_empty() || (batch.len() < BATCH_SIZE && batch.cache_bytes() < KV_BUDGET_BYTES)
                }
                WorkerRequest::Load { .. } => batch.is_empty(),
                _ => true,
            };
            if !runs_now {
                waiting.push_front(job);
                break;
            }
            let id = job.request.id();
            let outcome = match job.request {
                WorkerRequest::Load { id, source, options } => {
                    // The old model stays until the new one is ready: a failed
                    // load must leave the page a model to work with. The cost is
                    // both in memory for the moments of the swap.
                    batch.forget_kept();
                    match load(&scope, id, source, options, job.file).await {
                        Ok(loaded) => {
                            post(&scope, &WorkerResponse::Ready { id, model: loaded.info().clone() });
                            engine = Some(loaded);
                            Ok(())
                        }
                        Err(error) => Err(error),
                    }
                }
                WorkerRequest::Generate { id, messages, params } => match engine.as_ref() {
                    Some(engine) => engine.render_chat(&messages, true).and_then(|prompt| {
                        batch.start(engine, id, &prompt, &params, &event_loop::seconds)?;
                        prompts.insert(id, prompt);
                        Ok(())
                    }),
                    None => Err(Error::new(prefab_llm::ErrorKind::NoModelLoaded)),
                },
                WorkerRequest::Score { id, prompt, candidates } => match engine.as_mut() {
                    Some(engine) => score(engine, &prompt, &candidates)
                        .map(|probs| post(&scope, &WorkerResponse::Scores { id, probs })),
                    None => Err(Error::new(prefab_llm::ErrorKind::NoModelLoaded)),
                },
                WorkerRequest::ReadTable { id, name } => read_table(&scope, id, &name, job.file).await,
                // Answered by the message handler; never queued.
                WorkerRequest::Ping { .. } | WorkerRequest::Cancel { .. } => Ok(()),
            };
            if let Err(error) = outcome {
                post(&scope, &WorkerResponse::failed(id, &error));
            }
            if !batch.contains(&id) {
                cancelled.borrow_mut().remove(&id);
            }
        }
        if let Some(engine) = engine.as_ref() {
            step(&scope, engine, &mut batch, &mut prompts, &cancelled);
        }
        // Take pending messages (a cancel, another request) before the next
        // token.
        event_loop::next_turn().await;
    }
}

/// Loads a model from the cache, the network or the file the page sent.
async fn load(
    scope: &DedicatedWorkerGlobalScope,
    id: RequestId,
    source: ModelSource,
    mut options: LoadOptions,
    file: Option<Blob>,
) -> Result<Engine, Error> {
    let progress = |stage: LoadStage, done: u64, total: u64| {
        post(scope, &WorkerResponse::Progress { id, stage, done, total });
    };
    match source {
        ModelSource::File { name } => {
            options.file_name.get_or_insert(name.clone());
            let file = file.ok_or_else(|| {
                Error::new(prefab_llm::ErrorKind::Download(format!("the file {name} did not reach the model worker")))
            })?;
            parse(file, &options, &progress).await.map_err(|error| error.in_file(name))
        }
        ModelSource::Url { url } => {
            options.file_name.get_or_insert_with(|| file_name(&url));
            let file = cached_or_downloaded(&url, &progress).await?;
            let loaded = parse(file, &options, &progress).await;
            if loaded.is_err() {
                // A file that does not load (a broken download, or one an
                // older page kept) is forgotten, so the next try downloads
                // it again.
                let _ = model_file::delete(&url).await;
            }
            loaded
        }
    }
}

/// Builds the engine from a file, read a tensor at a time.
async fn parse(file: Blob, options: &LoadOptions, progress: &impl Fn(LoadStage, u64, u64)) -> Result<Engine, Error> {
    // Let the page paint the last download progress before the long,
    // synchronous parse.
    event_loop::next_turn().await;
    let file = BlobBytes::new(file)?;
    Engine::load(&file, options, |step| progress(step.stage, step.done, step.total))
}

/// How much of a file to import is read at a time, between two progress messages.
const READ_CHUNK: u64 = 8 << 20;

/// Reads a file a person brought into a table (the page's import), posting
/// progress; the table goes back as its transfer text beside the answer's
/// JSON. A file the reader cannot make sense of is a `Failed` naming the
/// file and the line or row; one that crashes it ends this worker, which
/// the page started for this file alone.
async fn read_table(scope: &DedicatedWorkerGlobalScope, id: RequestId, name: &str, file: Option<Blob>) -> Result<(), Error> {
    let file = file.ok_or_else(|| Error::new(prefab_llm::ErrorKind::Download(format!("the file {name} did not reach the worker"))))?;
    let reader = BlobBytes::new(file).map_err(|error| error.in_file(name))?;
    let size = prefab_llm::FileBytes::size(&reader);
    let mut bytes = Vec::with_capacity(size as usize);
    while (bytes.len() as u64) < size {
        let offset = bytes.len() as u64;
        let length = READ_CHUNK.min(size - offset) as usize;
        bytes.extend_from_slice(&prefab_llm::FileBytes::read(&reader, offset, length).map_err(|error| error.in_file(name))?);
        post(scope, &WorkerResponse::Reading { id, done: bytes.len() as u64, total: size });
        // The page paints the progress meanwhile.
        event_loop::next_turn().await;
    }
    match prefab_core::prompt_import::read_source(&bytes, name, None) {
        Ok(table) => post_with_payload(scope, WorkerResponse::Table { id, table: table.to_transfer() }),
        Err(error) => post(scope, &WorkerResponse::Failed { id, kind: prefab_llm::ErrorCode::Import, message: error.to_string() }),
    }
    Ok(())
}

/// The file at `url`: the cache's when it holds a whole copy, else
/// downloaded (into the cache when it can; progress at most every 1% or so).
async fn cached_or_downloaded(url: &str, progress: &impl Fn(LoadStage, u64, u64)) -> Result<Blob, Error> {
    if let Some(cached) = model_file::read(url).await? {
        let size = cached.size() as u64;
        progress(LoadStage::Cache, size, size);
        return Ok(cached);
    }
    let mut reported = 0;
    model_file::download(url, |done, total| {
        if done == 0 || done == total || done - reported >= (total / 100).max(1 << 20) {
            reported = done;
            progress(LoadStage::Download, done, total);
        }
    })
    .await
}

/// Stops the generations asked to stop, then gives every other one its
/// next token, posting the text and the ends.
fn step(
    scope: &DedicatedWorkerGlobalScope,
    engine: &Engine,
    batch: &mut Batch<RequestId>,
    prompts: &mut HashMap<RequestId, String>,
    cancelled: &Cancelled,
) {
    let clock = event_loop::seconds;
    let stopping: Vec<RequestId> = cancelled.borrow().iter().copied().filter(|id| batch.contains(id)).collect();
    for id in stopping {
        if let Some(generation) = batch.cancel(&id, &clock) {
            done(scope, id, generation, prompts, cancelled);
        }
    }
    if batch.is_empty() {
        return;
    }
    match batch.step(engine, &clock) {
        Ok(events) => {
            for (id, event) in events {
                match event {
                    BatchEvent::Text(text) => post(scope, &WorkerResponse::Token { id, text }),
                    BatchEvent::Done(generation) => done(scope, id, generation, prompts, cancelled),
                }
            }
        }
        Err(error) => {
            for id in batch.abandon() {
                prompts.remove(&id);
                cancelled.borrow_mut().remove(&id);
                post(scope, &WorkerResponse::failed(id, &error));
            }
        }
    }
}

/// Posts a generation's end.
fn done(
    scope: &DedicatedWorkerGlobalScope,
    id: RequestId,
    generation: prefab_llm::Generation,
    prompts: &mut HashMap<RequestId, String>,
    cancelled: &Cancelled,
) {
    cancelled.borrow_mut().remove(&id);
    let prompt = prompts.remove(&id).unwrap_or_default();
    post(scope, &WorkerResponse::Done { id, text: generation.text, stats: generation.stats, prompt });
}

fn score(engine: &mut Engine, prompt: &Prompt, candidates: &[String]) -> Result<Vec<f64>, Error> {
    let text = engine.render(prompt)?;
    engine.score(&text, candidates)
}

/// The last path segment of a URL, without its query: a name for messages.
fn file_name(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/').find(|segment| !segment.is_empty()).unwrap_or(path).to_owned()
}

/// The size of this worker's wasm memory: its peak, as it never shrinks.
fn memory_bytes() -> u64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    memory.buffer().unchecked_into::<ArrayBuffer>().byte_length() as u64
}

/// Posts `response` with the text that travels beside its JSON (a
/// table's): `[json, text]`.
fn post_with_payload(scope: &DedicatedWorkerGlobalScope, mut response: WorkerResponse) {
    let payload = response.take_payload().unwrap_or_default();
    let message = Array::of2(&JsValue::from_str(&protocol::encode(&response)), &JsValue::from_str(&payload));
    let _ = scope.post_message(&message);
}

fn post(scope: &DedicatedWorkerGlobalScope, response: &WorkerResponse) {
    // Posting a string cannot fail: it needs no structured cloning.
    let _ = scope.post_message(&JsValue::from_str(&protocol::encode(response)));
}
