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
//! web page, fails before its body is read, and [`store`] refuses bytes that
//! do not start as a GGUF file (see [`crate::model_check`]).

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, CacheStorage, Headers, ReadableStreamDefaultReader, Request, Response, ResponseInit};

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
    fn global_fetch(url: &str) -> js_sys::Promise;
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

/// A downloaded file with what the server said about it.
#[derive(Debug)]
pub struct Download {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The server's ETag, if any.
    pub etag: Option<String>,
}

/// Downloads `url`, calling `progress(done, total)` as bytes arrive (`total`
/// is 0 when the server does not say).
pub async fn download(url: &str, mut progress: impl FnMut(u64, u64)) -> Result<Download, Error> {
    let failed = |message: String| Error::new(ErrorKind::Download(format!("could not download {url}: {message}")));
    let response: Response = JsFuture::from(global_fetch(url))
        .await
        .map_err(|error| {
            failed(format!(
                "the server could not be reached ({}); check the address, the connection, and that the server allows this page (CORS)",
                js_message(&error)
            ))
        })?
        .unchecked_into();
    if !response.ok() {
        return Err(failed(format!("the server answered {} {}", response.status(), response.status_text())));
    }
    let headers = response.headers();
    let header = |name: &str| headers.get(name).ok().flatten();
    if model_check::is_web_page(header("content-type").as_deref()) {
        return Err(failed(
            "the address answers with a web page, not a model file; use the address of the .gguf file itself (on the Hub: …/resolve/main/….gguf)"
                .to_owned(),
        ));
    }
    let total = header("content-length").and_then(|length| length.parse::<u64>().ok()).unwrap_or(0);
    let etag = header("etag");
    let body = response.body().ok_or_else(|| failed("the answer has no body".to_owned()))?;
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut bytes = Vec::with_capacity(total as usize);
    progress(0, total);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|error| {
            failed(format!("the download stopped after {} of {} bytes: {}", bytes.len(), total, js_message(&error)))
        })?;
        if js_sys::Reflect::get(&chunk, &"done".into()).ok().and_then(|done| done.as_bool()).unwrap_or(true) {
            break;
        }
        let value: Uint8Array = js_sys::Reflect::get(&chunk, &"value".into())
            .map_err(|error| failed(js_message(&error)))?
            .unchecked_into();
        let start = bytes.len();
        bytes.resize(start + value.length() as usize, 0);
        value.copy_to(&mut bytes[start..]);
        progress(bytes.len() as u64, total);
    }
    if total != 0 && bytes.len() as u64 != total {
        return Err(failed(format!("the download stopped after {} of {} bytes", bytes.len(), total)));
    }
    Ok(Download { bytes, etag })
}

/// Keeps a downloaded model file under its URL, replacing any older copy.
/// Bytes that do not start as a GGUF file are refused, never kept.
pub async fn store(url: &str, download: &Download) -> Result<(), Error> {
    model_check::check_start(&download.bytes).map_err(|error| error.in_file(url))?;
    let failed = |error: JsValue| cache_error(&format!("keep {url}"), &error);
    let headers = Headers::new().map_err(failed)?;
    headers.set("content-type", "application/octet-stream").map_err(failed)?;
    headers.set(SIZE_HEADER, &download.bytes.len().to_string()).map_err(failed)?;
    headers.set(STORED_AT_HEADER, &js_sys::Date::now().to_string()).map_err(failed)?;
    if let Some(etag) = &download.etag {
        headers.set(ETAG_HEADER, etag).map_err(failed)?;
    }
    let init = ResponseInit::new();
    init.set_headers(&headers);
    // The response copies the bytes out of wasm memory when it is built.
    let body = Uint8Array::from(download.bytes.as_slice());
    let response = Response::new_with_opt_buffer_source_and_init(Some(&body), &init).map_err(failed)?;
    JsFuture::from(open().await?.put_with_str(url, &response)).await.map_err(failed)?;
    Ok(())
}

/// Reads the cached copy of `url`, if there is a whole one.
pub async fn read(url: &str) -> Result<Option<Download>, Error> {
    let failed = |error: JsValue| cache_error(&format!("read {url}"), &error);
    let found = JsFuture::from(open().await?.match_with_str(url)).await.map_err(failed)?;
    if found.is_undefined() {
        return Ok(None);
    }
    let response: Response = found.unchecked_into();
    let entry = describe(url, &response.headers());
    let buffer = JsFuture::from(response.array_buffer().map_err(failed)?).await.map_err(failed)?;
    let bytes = Uint8Array::new(&buffer).to_vec();
    if bytes.len() as u64 != entry.bytes {
        // Not whole: forget it, so the file is downloaded again.
        delete(url).await?;
        return Ok(None);
    }
    Ok(Some(Download { bytes, etag: entry.etag }))
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
