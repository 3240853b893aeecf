//! Reading a Hub dataset as prompts, through datasets-server.
//!
//! The page asks [`splits`](DatasetsServer::splits_request) for the
//! dataset's configs and splits, reads the first `/rows` page as a preview
//! (it also says how many rows there are), then either pages through `/rows`
//! 100 rows at a time or, for big splits, downloads the split's Parquet files
//! listed by `/parquet` and reads them with the core's Parquet reader
//! ([`ReadPlan`]). The token goes with every request, for gated and private
//! datasets. Pages are read by [`prefab_core::prompt_import::rows_api`].
//!
//! datasets-server lives at `https://datasets-server.huggingface.co` for the
//! real Hub, and at `{hub}/datasets-server` for any other Hub (the local one
//! the tests and workshops use).

use crate::error::{HubError, HubErrorKind};
use crate::http::{encode_component, HttpRequest, HttpResponse};
use serde::Deserialize;

/// `/rows` gives at most this many rows a request.
pub const ROWS_PER_PAGE: u64 = 100;

/// Splits with more rows than this are read from their Parquet files rather
/// than 100 rows at a time (one request per 100 rows would be slow and
/// would meet the rate limit).
pub const PAGING_LIMIT: u64 = 5_000;

/// A dataset id, checked: `name` or `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetId(String);

impl DatasetId {
    /// Reads what a person typed or pasted: an id, or a dataset's address on
    /// the Hub (`https://huggingface.co/datasets/ns/name/viewer/…`).
    pub fn parse(text: &str) -> Result<DatasetId, HubError> {
        let text = text.trim().trim_end_matches('/');
        let id = match text.find("/datasets/") {
            Some(at) if text.contains("://") => {
                let rest = &text[at + "/datasets/".len()..];
                rest.split('/').take(2).collect::<Vec<_>>().join("/")
            }
            _ => text.to_owned(),
        };
        let parts: Vec<&str> = id.split('/').collect();
        let part_ok = |part: &&str| {
            !part.is_empty()
                && part.len() <= 96
                && !part.starts_with(['-', '.'])
                && !part.contains("--")
                && !part.contains("..")
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if parts.is_empty() || parts.len() > 2 || !parts.iter().all(part_ok) {
            return Err(HubError::new(
                HubErrorKind::Refused,
                format!("“{text}” is not a dataset id: expected namespace/name (letters, digits, -, _ and .), e.g. HuggingFaceH4/ultrafeedback_binarized"),
            ));
        }
        Ok(DatasetId(id))
    }

    /// The id, e.g. `ns/name`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where datasets-server is for a Hub.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetsServer {
    /// Its base address, without a trailing slash.
    pub base: String,
    /// The Hub's address, for error links.
    pub hub_url: String,
}

/// One config and split of a dataset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Split {
    /// The config name.
    pub config: String,
    /// The split name.
    pub split: String,
}

#[derive(Deserialize)]
struct SplitsAnswer {
    splits: Vec<Split>,
}

/// One Parquet file of a split.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ParquetFile {
    /// Its config.
    pub config: String,
    /// Its split.
    pub split: String,
    /// Where to download it.
    pub url: String,
    /// Its file name.
    pub filename: String,
    /// Its size in bytes.
    #[serde(default)]
    pub size: u64,
}

#[derive(Deserialize)]
struct ParquetAnswer {
    parquet_files: Vec<ParquetFile>,
}

/// How to read a whole split.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadPlan {
    /// `/rows` at these offsets (the first page, already read, is not repeated).
    Pages(Vec<u64>),
    /// The split's Parquet files.
    Parquet,
}

impl ReadPlan {
    /// The plan for a split of `total` rows whose first page (of `first_page_rows`) is read.
    pub fn for_split(total: u64, first_page_rows: u64) -> ReadPlan {
        if total > PAGING_LIMIT {
            return ReadPlan::Parquet;
        }
        ReadPlan::Pages((first_page_rows.max(1)..total).step_by(ROWS_PER_PAGE as usize).collect())
    }
}

impl DatasetsServer {
    /// datasets-server for the Hub at `hub_url`.
    pub fn for_hub(hub_url: &str) -> DatasetsServer {
        let hub_url = hub_url.trim_end_matches('/').to_owned();
        let base = if hub_url == crate::oauth::HUGGING_FACE || hub_url == "https://www.huggingface.co" {
            "https://datasets-server.huggingface.co".to_owned()
        } else {
            format!("{hub_url}/datasets-server")
        };
        DatasetsServer { base, hub_url }
    }

    /// `/splits` of a dataset.
    pub fn splits_request(&self, dataset: &DatasetId) -> HttpRequest {
        HttpRequest::get(format!("{}/splits?dataset={}", self.base, encode_component(dataset.as_str())))
    }

    /// Reads `/splits`; a dataset with none is an error that says so.
    pub fn read_splits(&self, response: &HttpResponse, dataset: &DatasetId) -> Result<Vec<Split>, HubError> {
        if !response.ok() {
            return Err(self.error(response, dataset));
        }
        let answer: SplitsAnswer = response.json("datasets-server /splits")?;
        if answer.splits.is_empty() {
            return Err(HubError::new(HubErrorKind::NotFound, format!("{} has no splits datasets-server can read", dataset.as_str())));
        }
        Ok(answer.splits)
    }

    /// One `/rows` page.
    pub fn rows_request(&self, dataset: &DatasetId, split: &Split, offset: u64) -> HttpRequest {
        HttpRequest::get(format!(
            "{}/rows?dataset={}&config={}&split={}&offset={offset}&length={ROWS_PER_PAGE}",
            self.base,
            encode_component(dataset.as_str()),
            encode_component(&split.config),
            encode_component(&split.split)
        ))
    }

    /// `/parquet` of a dataset.
    pub fn parquet_request(&self, dataset: &DatasetId) -> HttpRequest {
        HttpRequest::get(format!("{}/parquet?dataset={}", self.base, encode_component(dataset.as_str())))
    }

    /// The Parquet files of one split, in order.
    pub fn read_parquet_files(&self, response: &HttpResponse, dataset: &DatasetId, split: &Split) -> Result<Vec<ParquetFile>, HubError> {
        if !response.ok() {
            return Err(self.error(response, dataset));
        }
        let answer: ParquetAnswer = response.json("datasets-server /parquet")?;
        let mut files: Vec<ParquetFile> = answer.parquet_files.into_iter().filter(|f| f.config == split.config && f.split == split.split).collect();
        files.sort_by(|a, b| a.filename.cmp(&b.filename));
        if files.is_empty() {
            return Err(HubError::new(HubErrorKind::NotFound, format!("datasets-server lists no Parquet files for {} {}/{}", dataset.as_str(), split.config, split.split)));
        }
        Ok(files)
    }

    /// The error an answer about `dataset` means.
    pub fn error(&self, response: &HttpResponse, dataset: &DatasetId) -> HubError {
        let mut error = response.error(&self.hub_url, Some(dataset.as_str()));
        if error.kind == HubErrorKind::NotFound {
            error.message = format!("no dataset {} (or it is private and you are not signed in with access): {}", dataset.as_str(), error.message);
        }
        error
    }

    /// The Hub's own page on the dataset, asked when datasets-server refuses:
    /// datasets-server answers a missing, a private and a gated dataset alike
    /// (401 without a token, 404 with one), the Hub tells them apart.
    pub fn info_request(&self, dataset: &DatasetId) -> HttpRequest {
        HttpRequest::get(format!("{}/api/datasets/{}", self.hub_url, dataset.as_str()))
    }

    /// Names datasets-server's refusal with what the Hub says of the dataset:
    /// gated (with the link to accept its conditions), or not there (or
    /// private); with a token the Hub refuses (401), the sign-in has expired
    /// or was revoked. Other refusals stay as they were.
    pub fn explain(&self, refusal: HubError, info: &HttpResponse, dataset: &DatasetId, signed_in: bool) -> HubError {
        if !matches!(refusal.kind, HubErrorKind::SignInNeeded | HubErrorKind::NotFound | HubErrorKind::NoAccess) {
            return refusal;
        }
        if !info.ok() {
            return match info.status {
                401 if signed_in => info.error(&self.hub_url, Some(dataset.as_str())),
                401 | 403 | 404 => HubError::new(
                    HubErrorKind::NotFound,
                    format!("no dataset {} (or it is private and you are not signed in with access)", dataset.as_str()),
                ),
                _ => refusal,
            };
        }
        let gated = serde_json::from_slice::<serde_json::Value>(&info.body)
            .ok()
            .and_then(|value| value.get("gated").cloned())
            .is_some_and(|gated| gated.as_bool() != Some(false) && !gated.is_null());
        if gated {
            HubError::new(HubErrorKind::Gated { url: format!("{}/datasets/{}", self.hub_url, dataset.as_str()) }, refusal.message)
        } else {
            refusal
        }
    }

    /// A name for a page in errors: `ns/name config/split rows 200–299`.
    pub fn page_name(dataset: &DatasetId, split: &Split, offset: u64) -> String {
        format!("{} {}/{} rows {}–{}", dataset.as_str(), split.config, split.split, offset, offset + ROWS_PER_PAGE - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_addresses_are_read() {
        assert_eq!(DatasetId::parse(" HuggingFaceH4/ultrafeedback_binarized ").unwrap().as_str(), "HuggingFaceH4/ultrafeedback_binarized");
        assert_eq!(DatasetId::parse("squad").unwrap().as_str(), "squad");
        assert_eq!(DatasetId::parse("https://huggingface.co/datasets/a-b/c.d/viewer/default/train").unwrap().as_str(), "a-b/c.d");
        for bad in ["", "a/b/c", "a b/c", "../x", "a/-b", "a//b"] {
            assert_eq!(DatasetId::parse(bad).unwrap_err().kind, HubErrorKind::Refused, "{bad:?}");
        }
    }

    #[test]
    fn the_viewer_is_found_for_each_hub() {
        assert_eq!(DatasetsServer::for_hub("https://huggingface.co/").base, "https://datasets-server.huggingface.co");
        assert_eq!(DatasetsServer::for_hub("http://127.0.0.1:9000").base, "http://127.0.0.1:9000/datasets-server");
    }

    #[test]
    fn requests_are_encoded_and_paged_at_100() {
        let server = DatasetsServer::for_hub("http://h");
        let id = DatasetId::parse("a/b").unwrap();
        let split = Split { config: "de fault".into(), split: "train".into() };
        assert_eq!(server.rows_request(&id, &split, 200).url, "http://h/datasets-server/rows?dataset=a%2Fb&config=de%20fault&split=train&offset=200&length=100");
        assert_eq!(ReadPlan::for_split(1000, 100), ReadPlan::Pages(vec![100, 200, 300, 400, 500, 600, 700, 800, 900]));
        assert_eq!(ReadPlan::for_split(50, 50), ReadPlan::Pages(vec![]));
        assert_eq!(ReadPlan::for_split(250, 100), ReadPlan::Pages(vec![100, 200]));
        assert_eq!(ReadPlan::for_split(1_000_000, 100), ReadPlan::Parquet);
    }

    #[test]
    fn the_hub_tells_gated_from_missing() {
        let server = DatasetsServer::for_hub("http://hub");
        let id = DatasetId::parse("a/b").unwrap();
        let refusal = || HubError::new(HubErrorKind::SignInNeeded, "not accessible without authentication (private or gated)");
        let info = |status: u16, body: &str| HttpResponse { status, body: body.as_bytes().to_vec(), ..Default::default() };
        let gated = server.explain(refusal(), &info(200, r#"{"id":"a/b","gated":"manual"}"#), &id, false);
        assert_eq!(gated.kind, HubErrorKind::Gated { url: "http://hub/datasets/a/b".into() });
        assert!(gated.to_string().contains("accept its conditions at http://hub/datasets/a/b"));
        let missing = server.explain(refusal(), &info(404, r#"{"error":"Repository not found"}"#), &id, true);
        assert_eq!(missing.kind, HubErrorKind::NotFound);
        assert!(missing.to_string().contains("no dataset a/b"));
        assert_eq!(server.explain(refusal(), &info(200, r#"{"id":"a/b","gated":false}"#), &id, false).kind, HubErrorKind::SignInNeeded);
        // Without a token, 401 is the Hub's "not found or private"; with one, the token is refused.
        assert_eq!(server.explain(refusal(), &info(401, r#"{"error":"Invalid username or password."}"#), &id, false).kind, HubErrorKind::NotFound);
        assert_eq!(server.explain(refusal(), &info(401, r#"{"error":"Invalid credentials in Authorization header"}"#), &id, true).kind, HubErrorKind::SignInNeeded);
        let viewer = HubError::new(HubErrorKind::ViewerDisabled, "disabled");
        assert_eq!(server.explain(viewer, &info(200, "{}"), &id, true).kind, HubErrorKind::ViewerDisabled);
    }

    #[test]
    fn answers_and_errors_are_read() {
        let server = DatasetsServer::for_hub("https://huggingface.co");
        let id = DatasetId::parse("a/b").unwrap();
        let ok = HttpResponse { status: 200, body: br#"{"splits":[{"dataset":"a/b","config":"default","split":"train"}],"pending":[],"failed":[]}"#.to_vec(), ..Default::default() };
        assert_eq!(server.read_splits(&ok, &id).unwrap(), vec![Split { config: "default".into(), split: "train".into() }]);
        let missing = HttpResponse { status: 404, body: br#"{"error":"Not found."}"#.to_vec(), ..Default::default() };
        let error = server.read_splits(&missing, &id).unwrap_err();
        assert_eq!(error.kind, HubErrorKind::NotFound);
        assert!(error.to_string().contains("no dataset a/b"));
        let parquet = HttpResponse {
            status: 200,
            body: br#"{"parquet_files":[{"dataset":"a/b","config":"default","split":"train","url":"u2","filename":"0001.parquet","size":2},{"dataset":"a/b","config":"default","split":"test","url":"t","filename":"0000.parquet","size":1},{"dataset":"a/b","config":"default","split":"train","url":"u1","filename":"0000.parquet","size":1}],"pending":[],"failed":[],"partial":false}"#.to_vec(),
            ..Default::default()
        };
        let split = Split { config: "default".into(), split: "train".into() };
        let urls: Vec<String> = server.read_parquet_files(&parquet, &id, &split).unwrap().into_iter().map(|f| f.url).collect();
        assert_eq!(urls, vec!["u1", "u2"]);
    }
}
