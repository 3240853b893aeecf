//! Model files in the browser: downloading them with progress, and keeping
//! them in Cache Storage so the next load needs no network.
//!
//! The worker downloads and caches; the Settings page lists and deletes what
//! is cached. Both see the same `caches` (a worker shares its page's
//! origin), so this module works in either: it reaches every browser API
//! through the global object, never through `window`.
//!
//! An entry is keyed by the file's absolute URL. Its response carries the
//! size and the server's ETag from the download, and the time it was stored,
//! in headers of its own: the size lets a read refuse an entry that is not
//! whole (a quota error half-way through a write), and all three are shown
//! to the person deciding what to delete.
//!
//! Only a model file is kept: a download whose answer is not 2xx, or is a
//! web page, fails before its body is read, and one that does not start as a
//! GGUF file is stopped before the cache keeps it (see
//! [`crate::model_check`]).
//!
//! A file goes from the network to the cache, and from the cache (or the
//! file the person picked) to the engine a tensor at a time
//! ([`BlobBytes`]): the worker's memory never holds the whole file, only
//! the weights made from it.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Blob, Cache, CacheStorage, Headers, ReadableStream, ReadableStreamDefaultReader, Request, RequestInit, Response,
    ResponseInit,
};

use crate::error::{Error, ErrorKind};
use crate::hosted::browser::js_message;
use crate::model_check;

/// The Cache Storage cache that holds model files. Its version changes if
/// the entries' format ever does.
pub const CACHE_NAME: &str = "prefab-models-v1";

const SIZE_HEADER: &str = "x-prefab-size";
const ETAG_HEADER: &str = "x-prefab-etag";
const STORED_AT_HEADER: &str = "x-prefab-stored-at";

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str, init: &RequestInit) -> js_sys::Promise;
}

/// A model file kept in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedModel {
    /// The address it was downloaded from: the cache key.
    pub url: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// The server's ETag for it, if the server sent one.
    pub etag: Option<String>,
    /// When it was stored, in Unix milliseconds.
    pub stored_at_ms: f64,
}

/// Downloads `url`, calling `progress(done, total)` as bytes arrive
/// (`total` is 0 when the server does not say), and returns the file.
///
/// The body goes from the network to the cache on disk without passing
/// through this worker's memory: the stream is split in two (`tee`), one
/// branch written by the cache, the other only counted here; the file
/// returned is the cache's. An answer that is a web page or does not start
/// as a GGUF file is stopped, and the cache keeps nothing of it
/// (`cache.put` keeps an entry only once its body has all arrived). A file
/// that later fails to load is for the caller to [`delete`].
///
/// A model that cannot be cached still loads: where the page has no
/// Cache Storage, or the cache refuses the file (a full disk), it is
/// downloaded (again) into a `Blob` in memory, outside wasm memory.
pub async fn download(url: &str, mut progress: impl FnMut(u64, u64)) -> Result<Blob, Error> {
    let Ok(cache) = open().await else {
        return download_to_memory(url, &mut progress).await;
    };
    download_to_cache(url, &cache, &mut progress).await?;
    match read(url).await {
        Ok(Some(kept)) => Ok(kept),
        // The cache refused it (`Ok(None)`: it lost it as it was written).
        Ok(None) | Err(_) => download_to_memory(url, &mut progress).await,
    }
}

/// A download under way: its body, and what the server said of it.
struct Answer {
    body: ReadableStream,
    total: u64,
    etag: Option<String>,
    /// Stops the download.
    abort: AbortController,
}

/// Asks for `url` and checks the answer is not an error or a web page.
async fn fetch(url: &str) -> Result<Answer, Error> {
    let abort = AbortController::new().map_err(|error| download_error(url, js_message(&error)))?;
    let init = RequestInit::new();
    init.set_signal(Some(&abort.signal()));
    let response: Response = JsFuture::from(global_fetch(url, &init))
        .await
        .map_err(|error| {
            download_error(
                url,
                format!(
                    "the server could not be reached ({}); check the address, the connection, and that the server allows this page (CORS)",
                    js_message(&error)
                ),
            )
        })?
        .unchecked_into();
    if !response.ok() {
        return Err(download_error(url, format!("the server answered {} {}", response.status(), response.status_text())));
    }
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    if model_check::is_web_page(header("content-type").as_deref()) {
        return Err(download_error(
            url,
            "the address answers with a web page, not a model file; use the address of the .gguf file itself (on the Hub: …/resolve/main/….gguf)"
                .to_owned(),
        ));
    }
    let total = header("content-length").and_then(|length| length.parse::<u64>().ok()).unwrap_or(0);
    let body = response.body().ok_or_else(|| download_error(url, "the answer has no body".to_owned()))?;
    Ok(Answer { body, total, etag: header("etag"), abort })
}

fn download_error(url: &str, message: String) -> Error {
    Error::new(ErrorKind::Download(format!("could not download {url}: {message}")))
}

/// Downloads `url` into `cache`. A failure to write is a `Download` error
/// like a failure to read; [`download`] tells them apart by what follows.
async fn download_to_cache(url: &str, cache: &Cache, progress: &mut impl FnMut(u64, u64)) -> Result<(), Error> {
    let Answer { body, total, etag, abort } = fetch(url).await?;
    let branches = body.tee();
    let (to_cache, to_count): (ReadableStream, ReadableStream) =
        (branches.get(0).unchecked_into(), branches.get(1).unchecked_into());
    let entry = Response::new_with_opt_readable_stream_and_init(Some(&to_cache), &entry_init(url, total, etag.as_deref())?)
        .map_err(|error| cache_error(&format!("keep {url}"), &error))?;
    // Runs while the other branch is counted below.
    let stored = JsFuture::from(cache.put_with_str(url, &entry));
    let done = match count(&to_count, total, progress, None).await {
        Ok(done) => done,
        Err(stopped) => {
            // The cache's branch fails with the download and keeps nothing;
            // a short body may have been kept whole already, so it goes too
            // (nothing was cached under this address before: the caller
            // downloads only what the cache lacks).
            abort.abort();
            let _ = stored.await;
            let _ = delete(url).await;
            return Err(stopped.into_error(url));
        }
    };
    if let Err(error) = stored.await {
        // Read again into memory by `download`; said in the console.
        web_sys::console::warn_1(&format!("the browser's cache could not keep {url}: {}", js_message(&error)).into());
        return Ok(());
    }
    if total == 0 {
        // The size is known only now: keep it with the entry, as every
        // entry has it (the cache copies on disk).
        if let Some(kept) = read(url).await? {
            let entry = Response::new_with_opt_blob_and_init(Some(&kept), &entry_init(url, done, etag.as_deref())?)
                .map_err(|error| cache_error(&format!("keep {url}"), &error))?;
            JsFuture::from(cache.put_with_str(url, &entry)).await.map_err(|error| cache_error(&format!("keep {url}"), &error))?;
        }
    }
    Ok(())
}

/// Downloads `url` into a `Blob` held by the browser, for when the cache
/// cannot keep it.
async fn download_to_memory(url: &str, progress: &mut impl FnMut(u64, u64)) -> Result<Blob, Error> {
    let answer = fetch(url).await?;
    let chunks = Array::new();
    count(&answer.body, answer.total, progress, Some(&chunks)).await.map_err(|stopped| stopped.into_error(url))?;
    Blob::new_with_u8_array_sequence(&chunks).map_err(|error| download_error(url, js_message(&error)))
}

/// Why counting a download stopped.
enum Counted {
    /// The network failed, or the file ended early.
    Failed(String),
    /// The file does not start as a GGUF file.
    NotGguf(Error),
}

impl Counted {
    fn into_error(self, url: &str) -> Error {
        match self {
            Counted::Failed(message) => download_error(url, message),
            Counted::NotGguf(error) => error.in_file(url),
        }
    }
}

/// Reads a download's bytes as they arrive, keeping them only in `keep`
/// (as they came, outside wasm memory) when given: checks that they start
/// as a GGUF file, reports progress, and says how many came.
async fn count(stream: &ReadableStream, total: u64, progress: &mut impl FnMut(u64, u64), keep: Option<&Array>) -> Result<u64, Counted> {
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let mut start = Vec::new();
    let mut done = 0u64;
    progress(0, total);
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|error| Counted::Failed(format!("the download stopped after {done} of {total} bytes: {}", js_message(&error))))?;
        if js_sys::Reflect::get(&chunk, &"done".into()).ok().and_then(|done| done.as_bool()).unwrap_or(true) {
            break;
        }
        let value: Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
            .map_err(|error| Counted::Failed(js_message(&error)))?
            .unchecked_into();
        if start.len() < model_check::START_BYTES {
            let wanted = (model_check::START_BYTES - start.len()).min(value.length() as usize);
            start.extend(value.subarray(0, wanted as u32).to_vec());
            if start.len() == model_check::START_BYTES {
                model_check::check_start(&start).map_err(Counted::NotGguf)?;
            }
        }
        done += u64::from(value.length());
        if let Some(keep) = keep {
            keep.push(&value);
        }
        progress(done, total);
    }
    if start.len() < model_check::START_BYTES {
        model_check::check_start(&start).map_err(Counted::NotGguf)?;
    }
    if total != 0 && done != total {
        return Err(Counted::Failed(format!("the download stopped after {done} of {total} bytes")));
    }
    Ok(done)
}

/// The response options of a cache entry: its size, ETag and time stored.
fn entry_init(url: &str, size: u64, etag: Option<&str>) -> Result<ResponseInit, Error> {
    let failed = |error: JsValue| cache_error(&format!("keep {url}"), &error);
    let headers = Headers::new().map_err(failed)?;
    headers.set("content-type", "application/octet-stream").map_err(failed)?;
    if size != 0 {
        headers.set(SIZE_HEADER, &size.to_string()).map_err(failed)?;
    }
    headers.set(STORED_AT_HEADER, &js_sys::Date::now().to_string()).map_err(failed)?;
    if let Some(etag) = etag {
        headers.set(ETAG_HEADER, etag).map_err(failed)?;
    }
    let init = ResponseInit::new();
    init.set_headers(&headers);
    Ok(init)
}

/// The cached copy of `url`, if there is a whole one: a `Blob` the browser
/// reads from disk as it is asked for ranges of it ([`BlobBytes`]).
pub async fn read(url: &str) -> Result<Option<Blob>, Error> {
    let failed = |error: JsValue| cache_error(&format!("read {url}"), &error);
    let found = JsFuture::from(open().await?.match_with_str(url)).await.map_err(failed)?;
    if found.is_undefined() {
        return Ok(None);
    }
    let response: Response = found.unchecked_into();
    let entry = describe(url, &response.headers());
    let blob: Blob = JsFuture::from(response.blob().map_err(failed)?).await.map_err(failed)?.unchecked_into();
    if entry.bytes != 0 && blob.size() as u64 != entry.bytes {
        // Not whole: forget it, so the file is downloaded again.
        delete(url).await?;
        return Ok(None);
    }
    Ok(Some(blob))
}

/// A model file the browser keeps — a cache entry or a picked file — read a
/// range at a time with `FileReaderSync` (a dedicated worker's synchronous
/// reader), so that the engine, which loads synchronously, never needs the
/// whole file in memory.
///
/// Each read asks the browser's blob store, so small ranges (norms, the
/// header's windows: most of a model's tensors) are served from one range
/// of [`READ_AHEAD`] bytes read ahead, kept outside wasm memory; a range of
/// half that or more is read on its own.
#[cfg(feature = "local")]
pub struct BlobBytes {
    blob: Blob,
    reader: web_sys::FileReaderSync,
    /// The last range read ahead: where it starts, and its bytes.
    ahead: std::cell::RefCell<Option<(u64, Uint8Array)>>,
}

/// How much [`BlobBytes`] reads ahead for small ranges.
#[cfg(feature = "local")]
const READ_AHEAD: u64 = 8 << 20;

#[cfg(feature = "local")]
impl BlobBytes {
    /// Reads `blob`; only in a dedicated worker, where `FileReaderSync` is.
    pub fn new(blob: Blob) -> Result<BlobBytes, Error> {
        let reader = web_sys::FileReaderSync::new()
            .map_err(|error| Error::new(ErrorKind::Unreadable { offset: 0, message: js_message(&error) }))?;
        Ok(BlobBytes { blob, reader, ahead: Default::default() })
    }

    /// Bytes `start..end` of the file, as the browser hands them over.
    fn range(&self, start: u64, end: u64) -> Result<Uint8Array, Error> {
        let unreadable = |error: JsValue| Error::new(ErrorKind::Unreadable { offset: start, message: js_message(&error) });
        let range = self.blob.slice_with_f64_and_f64(start as f64, end as f64).map_err(unreadable)?;
        let bytes = Uint8Array::new(&self.reader.read_as_array_buffer(&range).map_err(unreadable)?.into());
        if u64::from(bytes.length()) != end - start {
            let message = format!("{} bytes came of the {} asked for", bytes.length(), end - start);
            return Err(Error::new(ErrorKind::Unreadable { offset: start, message }));
        }
        Ok(bytes)
    }
}

#[cfg(feature = "local")]
impl crate::file_bytes::FileBytes for BlobBytes {
    fn size(&self) -> u64 {
        self.blob.size() as u64
    }

    fn read(&self, offset: u64, len: usize) -> Result<std::borrow::Cow<'_, [u8]>, Error> {
        let end = offset + len as u64;
        if len as u64 >= READ_AHEAD / 2 {
            return Ok(std::borrow::Cow::Owned(self.range(offset, end)?.to_vec()));
        }
        let held = |ahead: &Option<(u64, Uint8Array)>| {
            let (start, bytes) = ahead.as_ref()?;
            let inside = offset >= *start && end <= start + u64::from(bytes.length());
            inside.then(|| bytes.subarray((offset - start) as u32, (end - start) as u32).to_vec())
        };
        if let Some(bytes) = held(&self.ahead.borrow()) {
            return Ok(std::borrow::Cow::Owned(bytes));
        }
        let ahead = Some((offset, self.range(offset, (offset + READ_AHEAD).min(self.size()).max(end))?));
        let bytes = held(&ahead).unwrap_or_default();
        *self.ahead.borrow_mut() = ahead;
        Ok(std::borrow::Cow::Owned(bytes))
    }
}

/// Every cached model file, oldest first.
pub async fn list() -> Result<Vec<CachedModel>, Error> {
    let failed = |error: JsValue| cache_error("list the cached models", &error);
    let cache = open().await?;
    let requests: Array = JsFuture::from(cache.keys()).await.map_err(failed)?.unchecked_into();
    let mut models = Vec::new();
    for request in requests.iter() {
        let request: Request = request.unchecked_into();
        let found = JsFuture::from(cache.match_with_request(&request)).await.map_err(failed)?;
        if let Some(response) = found.dyn_ref::<Response>() {
            models.push(describe(&request.url(), &response.headers()));
        }
    }
    models.sort_by(|a, b| a.stored_at_ms.total_cmp(&b.stored_at_ms));
    Ok(models)
}

/// Deletes the cached copy of `url`; says whether there was one.
pub async fn delete(url: &str) -> Result<bool, Error> {
    let failed = |error: JsValue| cache_error(&format!("delete {url}"), &error);
    let deleted = JsFuture::from(open().await?.delete_with_str(url)).await.map_err(failed)?;
    Ok(deleted.as_bool().unwrap_or(false))
}

fn describe(url: &str, headers: &Headers) -> CachedModel {
    let header = |name: &str| headers.get(name).ok().flatten();
    CachedModel {
        url: url.to_owned(),
        bytes: header(SIZE_HEADER).and_then(|size| size.parse().ok()).unwrap_or(0),
        etag: header(ETAG_HEADER),
        stored_at_ms: header(STORED_AT_HEADER).and_then(|at| at.parse().ok()).unwrap_or(0.0),
    }
}

async fn open() -> Result<Cache, Error> {
    let failed = |error: JsValue| cache_error("open the model cache", &error);
    let caches = js_sys::Reflect::get(&js_sys::global(), &"caches".into()).map_err(failed)?;
    if caches.is_undefined() {
        return Err(cache_error("open the model cache", &"this page is not a secure context (https or localhost)".into()));
    }
    let caches: CacheStorage = caches.unchecked_into();
    Ok(JsFuture::from(caches.open(CACHE_NAME)).await.map_err(failed)?.unchecked_into())
}

fn cache_error(action: &str, error: &JsValue) -> Error {
    Error::new(ErrorKind::Download(format!("could not {action} in the browser's cache: {}", js_message(error))))
}
