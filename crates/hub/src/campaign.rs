//! The Hub side of a campaign (see [`prefab_core::campaign`] for its shape):
//! the files the organizer commits, each contributor's one pull request, and
//! the reads Collect makes — as plain requests and answers.
//!
//! A contributor who cannot write to the campaign repo opens one pull request
//! (`POST …/discussions` with `pullRequest: true`) and pushes every batch onto
//! it as a commit to `refs/pr/N`, as `huggingface_hub`'s
//! `create_pull_request` + `upload_file(revision=pr.git_reference)` do.
//! Collect lists the open pull requests (closing one is how an organizer
//! turns a contribution down) and reads `contributions/` on `main` and on
//! each of them.

use crate::commit::{PlannedFile, RepoId};
use crate::error::{HubError, HubErrorKind};
use crate::http::{encode_component, HttpRequest, HttpResponse};
use prefab_core::campaign::{records_jsonl, Manifest, CONTRIBUTIONS_FOLDER, MANIFEST_PATH, RECORDS_PATH};
use prefab_core::record::Record;
use serde::Deserialize;
use serde_json::json;

fn api(hub_url: &str, repo: &RepoId) -> String {
    format!("{}/api/datasets/{}", hub_url.trim_end_matches('/'), repo.id())
}

/// The page address that opens a campaign for contributors: the page's own
/// address (without its fragment) and `#/contribute?campaign=ns/name`.
pub fn contribute_link(page_url: &str, repo: &RepoId) -> String {
    let base = page_url.split('#').next().unwrap_or(page_url);
    format!("{base}#/contribute?campaign={}", repo.id())
}

/// The files the organizer commits to `main`: the manifest, the records and
/// a card whose `configs:` let `datasets.load_dataset(repo, "records")` and
/// `…, "contributions")` read each part (they have different columns).
pub fn campaign_files(repo: &RepoId, manifest: &Manifest, records: &[Record]) -> Vec<PlannedFile> {
    let card = format!(
        "---\nconfigs:\n- config_name: records\n  data_files: {RECORDS_PATH}\n  default: true\n- config_name: contributions\n  data_files: {CONTRIBUTIONS_FOLDER}*/*.jsonl\ntags:\n- prefab\n- prefab-campaign\n- preference\n---\n\n# {title}\n\nA [Prefab](https://github.com/) rating campaign: people rate the completions in `{RECORDS_PATH}` \
         ({prompts} prompts) and each person's answers arrive as files under `{CONTRIBUTIONS_FOLDER}{{person}}/`, \
         through one pull request per person.\n\n- Question ({mode:?}): {question}\n- Each item should be rated by {overlap} people.\n- \
         Answers become labels by {policy}.\n- Manifest version {version}: `{MANIFEST_PATH}`.\n\nTo take part, open the campaign's link in Prefab \
         (`…#/contribute?campaign={id}`).\n",
        title = markdown_line(&manifest.title),
        prompts = records.len(),
        mode = manifest.mode,
        question = markdown_line(&manifest.question),
        overlap = manifest.overlap,
        policy = manifest.policy.describe(),
        version = manifest.version,
        id = repo.id(),
    );
    vec![
        PlannedFile::new(MANIFEST_PATH, manifest.to_json().into_bytes()),
        PlannedFile::new(RECORDS_PATH, records_jsonl(records).into_bytes()),
        PlannedFile::new("README.md", card.into_bytes()),
    ]
}

/// One line of text for the card: no line breaks, no HTML.
fn markdown_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").replace('<', "&lt;")
}

/// The request for a file's content at a revision.
pub fn file_request(hub_url: &str, repo: &RepoId, revision: &str, path: &str) -> HttpRequest {
    let path: Vec<String> = path.split('/').map(encode_component).collect();
    HttpRequest::get(format!("{}/datasets/{}/resolve/{}/{}", hub_url.trim_end_matches('/'), repo.id(), encode_component(revision), path.join("/")))
}

/// A file's text, from [`file_request`]'s answer.
pub fn read_file(response: &HttpResponse, hub_url: &str, repo: &RepoId, path: &str) -> Result<String, HubError> {
    if !response.ok() {
        let error = response.error(hub_url, Some(&repo.id()));
        return Err(match error.kind {
            HubErrorKind::NotFound => HubError::new(HubErrorKind::NotFound, format!("{} has no {path}: is it a Prefab campaign?", repo.id())),
            _ => error,
        });
    }
    String::from_utf8(response.body.clone()).map_err(|error| HubError::new(HubErrorKind::BadResponse, format!("{path} is not UTF-8 text ({error})")))
}

/// A pull request as the discussions list gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequest {
    /// Its number: its ref is `refs/pr/{num}`.
    pub num: u64,
    /// The account that opened it.
    pub author: String,
    /// `open`, `closed`, `merged` or `draft`.
    pub status: String,
}

impl PullRequest {
    /// Its git ref.
    pub fn git_ref(&self) -> String {
        format!("refs/pr/{}", self.num)
    }
}

/// The request for one page (from 0) of the repo's pull requests with this
/// status, by `author` if given.
pub fn pull_requests_request(hub_url: &str, repo: &RepoId, author: Option<&str>, status: &str, page: u32) -> HttpRequest {
    let mut url = format!("{}/discussions?type=pull_request&status={}&p={page}", api(hub_url, repo), encode_component(status));
    if let Some(author) = author {
        url.push_str(&format!("&author={}", encode_component(author)));
    }
    HttpRequest::get(url)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiscussionsPage {
    discussions: Vec<RawDiscussion>,
    count: u64,
    start: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDiscussion {
    num: u64,
    #[serde(default)]
    is_pull_request: bool,
    #[serde(default)]
    status: String,
    #[serde(default)]
    author: Option<RawAuthor>,
}

#[derive(Deserialize)]
struct RawAuthor {
    name: String,
}

/// One page of pull requests, and whether another page follows.
pub fn read_pull_requests(response: &HttpResponse, hub_url: &str, repo: &RepoId) -> Result<(Vec<PullRequest>, bool), HubError> {
    if !response.ok() {
        return Err(response.error(hub_url, Some(&repo.id())));
    }
    let page: DiscussionsPage = response.json("the repo's pull requests")?;
    let more = page.start + (page.discussions.len() as u64) < page.count && !page.discussions.is_empty();
    let pulls = page
        .discussions
        .into_iter()
        .filter(|discussion| discussion.is_pull_request)
        // A deleted account has no author: nothing vouches for its files.
        .filter_map(|discussion| Some(PullRequest { num: discussion.num, author: discussion.author?.name, status: discussion.status }))
        .collect();
    Ok((pulls, more))
}

/// The request for the repo's branches and pull requests with their head
/// commits: what tells Collect which trees changed since it last read them.
pub fn refs_request(hub_url: &str, repo: &RepoId) -> HttpRequest {
    HttpRequest::get(format!("{}/refs?include_prs=1", api(hub_url, repo)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRefs {
    #[serde(default)]
    branches: Vec<RawRef>,
    #[serde(default)]
    pull_requests: Vec<RawRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRef {
    name: String,
    #[serde(rename = "ref", default)]
    git_ref: String,
    target_commit: String,
}

/// Each revision's head commit, by the revision Prefab reads it at (`main`, `refs/pr/N`).
pub fn read_refs(response: &HttpResponse, hub_url: &str, repo: &RepoId) -> Result<std::collections::HashMap<String, String>, HubError> {
    if !response.ok() {
        return Err(response.error(hub_url, Some(&repo.id())));
    }
    let refs: RawRefs = response.json("the repo's refs")?;
    let branches = refs.branches.into_iter().map(|branch| (branch.name, branch.target_commit));
    let pulls = refs.pull_requests.into_iter().map(|pull| {
        let name = if pull.git_ref.starts_with("refs/pr/") { pull.git_ref } else { format!("refs/pr/{}", pull.name.trim_start_matches("refs/pr/")) };
        (name, pull.target_commit)
    });
    Ok(branches.chain(pulls).collect())
}

/// The request that opens an empty pull request to push batches onto.
pub fn open_pull_request_request(hub_url: &str, repo: &RepoId, author: &str) -> HttpRequest {
    HttpRequest::post_json(
        format!("{}/discussions", api(hub_url, repo)),
        &json!({
            "title": format!("Ratings by {author}"),
            "description": "Ratings sent by Prefab, in batches. Each file under contributions/ is one batch, named by its content.",
            "pullRequest": true,
        }),
    )
}

#[derive(Deserialize)]
struct Opened {
    num: u64,
}

/// The new pull request's number.
pub fn read_opened(response: &HttpResponse, hub_url: &str, repo: &RepoId) -> Result<u64, HubError> {
    if !response.ok() {
        return Err(response.error(hub_url, Some(&repo.id())));
    }
    Ok(response.json::<Opened>("the new pull request")?.num)
}

/// The request that marks a pull request ready (`open`): one opened empty
/// through the discussions API starts as a draft, and the Hub merges open ones.
pub fn ready_request(hub_url: &str, repo: &RepoId, num: u64) -> HttpRequest {
    HttpRequest::post_json(format!("{}/discussions/{num}/status", api(hub_url, repo)), &json!({"status": "open", "comment": "Ready to merge."}))
}

/// The request that merges a pull request (organizer).
pub fn merge_request(hub_url: &str, repo: &RepoId, num: u64) -> HttpRequest {
    HttpRequest::post_json(format!("{}/discussions/{num}/merge", api(hub_url, repo)), &json!({"comment": "Collected by Prefab."}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prefab_core::agreement::AgreementPolicy;
    use prefab_core::contribute::RatingMode;

    fn repo() -> RepoId {
        RepoId::parse("prefab-test/campaign").unwrap()
    }

    #[test]
    fn the_link_keeps_the_page_and_names_the_repo() {
        assert_eq!(
            contribute_link("https://ada-prefab.static.hf.space/index.html#/build", &repo()),
            "https://ada-prefab.static.hf.space/index.html#/contribute?campaign=prefab-test/campaign"
        );
    }

    #[test]
    fn the_campaign_files_carry_the_manifest_records_and_a_card_with_configs() {
        let manifest = Manifest {
            format: prefab_core::campaign::FORMAT.into(),
            format_version: prefab_core::campaign::FORMAT_VERSION,
            version: 2,
            title: "Kind <b>answers</b>".into(),
            mode: RatingMode::KtoThumbs,
            question: "Good?".into(),
            guidelines: String::new(),
            overlap: 3,
            seed: 1,
            policy: AgreementPolicy::Majority,
            prompts: 1,
            updated_at_ms: 0,
        };
        let records = [Record::new(prefab_core::record::Prompt::new("Hi"))];
        let files = campaign_files(&repo(), &manifest, &records);
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        assert_eq!(paths, ["prefab-campaign.json", "campaign/records.jsonl", "README.md"]);
        assert_eq!(Manifest::parse(&String::from_utf8_lossy(&files[0].bytes)).unwrap(), manifest);
        let card = String::from_utf8_lossy(&files[2].bytes);
        assert!(card.contains("data_files: contributions/*/*.jsonl") && card.contains("by 3 people"), "{card}");
        assert!(card.contains("# Kind &lt;b>answers&lt;/b>"), "{card}");
    }

    #[test]
    fn pull_requests_are_paged_and_authored() {
        let request = pull_requests_request("https://hf.co", &repo(), Some("ada lovelace"), "open", 1);
        assert_eq!(request.url, "https://hf.co/api/datasets/prefab-test/campaign/discussions?type=pull_request&status=open&p=1&author=ada%20lovelace");
        let body = r#"{"discussions":[{"num":3,"isPullRequest":true,"status":"open","author":{"name":"ada"}},{"num":4,"isPullRequest":false,"status":"open","author":{"name":"bob"}},{"num":5,"isPullRequest":true,"status":"open","author":null}],"count":53,"start":0}"#;
        let response = HttpResponse { status: 200, body: body.as_bytes().to_vec(), ..HttpResponse::default() };
        let (pulls, more) = read_pull_requests(&response, "https://hf.co", &repo()).unwrap();
        assert_eq!(pulls, [PullRequest { num: 3, author: "ada".into(), status: "open".into() }]);
        assert_eq!(pulls[0].git_ref(), "refs/pr/3");
        assert!(more);
        let opened = HttpResponse { status: 200, body: br#"{"num":7,"pullRequest":true}"#.to_vec(), ..HttpResponse::default() };
        assert_eq!(read_opened(&opened, "https://hf.co", &repo()).unwrap(), 7);
        let body = open_pull_request_request("https://hf.co", &repo(), "ada").body.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"pullRequest\":true"));
    }

    #[test]
    fn heads_are_read_by_revision() {
        let body = r#"{"branches":[{"name":"main","ref":"refs/heads/main","targetCommit":"aaa"}],"converts":[],"tags":[],"pullRequests":[{"name":"refs/pr/2","ref":"refs/pr/2","targetCommit":"bbb"},{"name":"3","targetCommit":"ccc"}]}"#;
        let response = HttpResponse { status: 200, body: body.as_bytes().to_vec(), ..HttpResponse::default() };
        let heads = read_refs(&response, "https://hf.co", &repo()).unwrap();
        assert_eq!(heads.get("main").map(String::as_str), Some("aaa"));
        assert_eq!(heads.get("refs/pr/2").map(String::as_str), Some("bbb"));
        assert_eq!(heads.get("refs/pr/3").map(String::as_str), Some("ccc"));
        assert_eq!(refs_request("https://hf.co", &repo()).url, "https://hf.co/api/datasets/prefab-test/campaign/refs?include_prs=1");
    }

    #[test]
    fn files_are_read_at_a_revision_with_each_segment_encoded() {
        let request = file_request("https://hf.co/", &repo(), "refs/pr/2", "contributions/ada/ab.jsonl");
        assert_eq!(request.url, "https://hf.co/datasets/prefab-test/campaign/resolve/refs%2Fpr%2F2/contributions/ada/ab.jsonl");
        let missing = HttpResponse { status: 404, body: br#"{"error":"Entry not found"}"#.to_vec(), ..HttpResponse::default() };
        let error = read_file(&missing, "https://hf.co", &repo(), "prefab-campaign.json").unwrap_err().to_string();
        assert!(error.contains("is it a Prefab campaign"), "{error}");
    }
}
