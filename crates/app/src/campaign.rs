//! A campaign in the page: the one a contributor's link opened, its upload
//! queue and the coverage that orders what they rate.
//!
//! Opening `#/contribute?campaign=ns/name` reads the campaign's manifest and
//! records from the Hub (and keeps a copy in IndexedDB, so a reload while the
//! Hub is out of reach still opens it). Ratings are stored exactly as in a
//! private project — in IndexedDB, on disk before the next item shows — and
//! then [`Campaign`]'s upload loop sends them in batches to the person's pull
//! request on the campaign repo. The batch being sent is written to IndexedDB
//! first (the "outbox") and sent again as the same file until the Hub takes
//! it, so a reload, a closed tab or a lost answer never sends a rating twice
//! under two names, and nothing waiting is lost. Every few seconds the loop
//! also reads everyone's contributions to count how many people rated each
//! item, which orders the queue least-covered first.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::backoff::RetryPolicy;
use prefab_core::campaign::{collect, contribution_file, question_ids, Coverage, Manifest};
use prefab_core::record::{HumanRating, Record};
use prefab_hub::browser::{self, sleep};
use prefab_hub::commit::{PlannedFile, RepoId};
use serde::{Deserialize, Serialize};

use crate::hub_account::HubAccount;
use crate::project::{self, Project};

/// At most this many ratings go in one file.
const BATCH: usize = 100;
/// A batch goes when this many ratings wait, or when the oldest has waited [`BATCH_AGE_MS`].
const BATCH_SOON: usize = 10;
const BATCH_AGE_MS: f64 = 3_000.0;
/// How often coverage is read again while rating: a few requests each time
/// (the pull requests, the heads, and only the trees that moved).
const COVERAGE_EVERY_MS: f64 = 5_000.0;

/// What a campaign link says: the repo, and the Hub it lives on when that is
/// not huggingface.co (a workshop's local Hub), with its OAuth client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignLink {
    /// `ns/name`.
    pub repo: String,
    /// The Hub's address, if given.
    pub hub: Option<String>,
    /// The OAuth app's client id, if given.
    pub client_id: Option<String>,
}

impl CampaignLink {
    /// Reads `#/contribute?campaign=ns/name&hub=…&client_id=…` (any place).
    pub fn from_hash(hash: &str) -> Option<CampaignLink> {
        let query = hash.split_once('?')?.1;
        let pairs = prefab_hub::http::query_pairs(query);
        let get = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone()).filter(|value| !value.is_empty());
        Some(CampaignLink { repo: get("campaign")?, hub: get("hub"), client_id: get("client_id") })
    }

    /// The link's fragment for `place` (`contribute`, `export`).
    pub fn fragment(&self, place: &str) -> String {
        let encode = prefab_hub::http::encode_component;
        let mut fragment = format!("#/{place}?campaign={}", self.repo);
        if let Some(hub) = &self.hub {
            fragment.push_str(&format!("&hub={}", encode(hub)));
        }
        if let Some(client_id) = &self.client_id {
            fragment.push_str(&format!("&client_id={}", encode(client_id)));
        }
        fragment
    }
}

/// The campaign link in the page's address, if any.
pub fn link_in_address() -> Option<CampaignLink> {
    CampaignLink::from_hash(&window().location().hash().unwrap_or_default())
}

/// A campaign as read from the Hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Opened {
    /// `ns/name`.
    pub repo: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// Its prompts and completions.
    pub records: Vec<Record>,
}

/// The upload queue's state, kept in IndexedDB per campaign.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
struct UploadState {
    /// The person's pull request, once known.
    pull_request: Option<u64>,
    /// Ratings sent, by rating id, with the time of the version sent (a
    /// changed answer is sent again).
    uploaded: HashMap<String, u64>,
    /// The batch being sent: sent again as this same file until it lands.
    outbox: Option<Outbox>,
}

impl UploadState {
    /// Whether this version of the rating is on the Hub.
    fn has_sent(&self, rating: &HumanRating) -> bool {
        self.uploaded.get(&rating.id()) == Some(&rating.created_at_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Outbox {
    path: String,
    content: String,
    /// The ratings in it: id and time.
    ratings: Vec<(String, u64)>,
}

/// What the status line says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UploadStatus {
    /// The campaign's ratings stored in this browser.
    pub saved: usize,
    /// Of those, not yet on the Hub.
    pub waiting: usize,
    /// Of those, on the Hub.
    pub uploaded: usize,
    /// Why uploads are not going right now, if they are not.
    pub blocked: Option<Blocked>,
}

/// Why ratings wait.
#[derive(Debug, Clone, PartialEq)]
pub enum Blocked {
    /// Nobody is signed in.
    SignIn,
    /// The browser is offline.
    Offline,
    /// The last attempt failed; the next comes after a wait.
    Retrying(String),
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blocked::SignIn => write!(f, "sign in to upload them"),
            Blocked::Offline => write!(f, "offline: they go when the connection is back"),
            Blocked::Retrying(reason) => write!(f, "trying again soon ({reason})"),
        }
    }
}

/// Why a campaign could not be opened.
#[derive(Debug, Clone, PartialEq)]
pub enum CampaignError {
    /// The address does not name a repo.
    BadName(String),
    /// The Hub could not give it, and no copy is stored.
    Hub(prefab_hub::HubError),
}

impl std::fmt::Display for CampaignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CampaignError::BadName(message) => write!(f, "The campaign link is not right: {message}"),
            CampaignError::Hub(error) => write!(f, "The campaign could not be opened: {error}"),
        }
    }
}

/// The page's campaign; `Copy`, for closures.
#[derive(Clone, Copy)]
pub struct Campaign {
    /// The campaign opened, once read.
    pub opened: RwSignal<Option<Arc<Opened>>>,
    /// The ids of the questions it asks.
    questions: RwSignal<Arc<HashSet<String>>>,
    /// Why it could not be opened.
    pub problem: RwSignal<Option<CampaignError>>,
    /// Everyone's ratings as last read, counted per question.
    pub coverage: RwSignal<Arc<Coverage>>,
    /// What was sent, and the batch being sent.
    state: RwSignal<UploadState>,
    /// Why the last upload failed, until one succeeds.
    retrying: RwSignal<Option<String>>,
    /// `navigator.onLine`, kept by the `online` and `offline` events.
    online: RwSignal<bool>,
    running: StoredValue<bool>,
}

fn state_key(repo: &str) -> String {
    format!("campaign-upload:{repo}")
}

fn copy_key(repo: &str) -> String {
    format!("campaign:{repo}")
}

impl Campaign {
    /// No campaign yet.
    pub fn new() -> Campaign {
        let online = RwSignal::new(window().navigator().on_line());
        // For the page's lifetime: the status line follows the connection at once.
        std::mem::forget(window_event_listener(leptos::ev::online, move |_| online.set(true)));
        std::mem::forget(window_event_listener(leptos::ev::offline, move |_| online.set(false)));
        Campaign {
            opened: RwSignal::new(None),
            questions: RwSignal::new(Arc::new(HashSet::new())),
            problem: RwSignal::new(None),
            coverage: RwSignal::new(Arc::new(Coverage::default())),
            state: RwSignal::new(UploadState::default()),
            retrying: RwSignal::new(None),
            online,
            running: StoredValue::new(false),
        }
    }

    fn set_opened(self, opened: Opened) {
        self.questions.set(Arc::new(question_ids(opened.manifest.mode, opened.manifest.seed, &opened.records)));
        self.opened.set(Some(Arc::new(opened)));
    }

    /// This browser's ratings of the campaign (by its local name), tracked.
    fn mine(self, project: Project) -> Vec<HumanRating> {
        let questions = self.questions.get();
        let annotator = project.annotator.get();
        project.ratings.with(|ratings| {
            ratings.values().filter(|rating| rating.annotator == annotator && questions.contains(&rating.value.question_id())).cloned().collect()
        })
    }

    /// The status line's numbers and why ratings wait, tracked: it changes
    /// the moment a rating is stored, a batch lands or the connection drops.
    pub fn status(self, project: Project, account: HubAccount) -> UploadStatus {
        let mine = self.mine(project);
        let uploaded = self.state.with(|state| mine.iter().filter(|rating| state.has_sent(rating)).count());
        let waiting = mine.len() - uploaded;
        let blocked = if waiting == 0 {
            None
        } else if account.session.with(Option::is_none) {
            Some(Blocked::SignIn)
        } else if !self.online.get() {
            Some(Blocked::Offline)
        } else {
            self.retrying.get().map(Blocked::Retrying)
        };
        UploadStatus { saved: mine.len(), waiting, uploaded, blocked }
    }

    /// Opens the campaign a link names (once the project is loaded): the
    /// stored copy first, then the Hub's, then starts the upload loop.
    pub fn open(self, link: CampaignLink, project: Project, account: HubAccount) {
        if self.opened.with_untracked(|opened| opened.as_ref().is_some_and(|opened| opened.repo == link.repo)) {
            return;
        }
        if let Some(hub) = &link.hub {
            account.use_hub(hub, link.client_id.as_deref());
        }
        let repo = match RepoId::parse(&link.repo) {
            Ok(repo) => repo,
            Err(error) => return self.problem.set(Some(CampaignError::BadName(error.to_string()))),
        };
        spawn_local(async move {
            let id = repo.id();
            if let Ok(Some(state)) = project::get_setting::<UploadState>(&state_key(&id)).await {
                self.state.set(state);
            }
            if let Ok(Some(copy)) = project::get_setting::<Opened>(&copy_key(&id)).await {
                self.set_opened(copy);
            }
            match account.hub().read_campaign(&repo, &|_| {}).await {
                Ok((manifest, records)) => {
                    let fresh = Opened { repo: id.clone(), manifest, records };
                    if self.opened.with_untracked(|opened| opened.as_deref() != Some(&fresh)) {
                        let _ = project::put_setting(&copy_key(&id), &fresh).await;
                        self.set_opened(fresh);
                    }
                    self.problem.set(None);
                }
                Err(error) if self.opened.with_untracked(Option::is_none) => self.problem.set(Some(CampaignError::Hub(error))),
                // The stored copy will do until the Hub is back.
                Err(_) => {}
            }
            if !self.running.get_value() {
                self.running.set_value(true);
                spawn_local(self.run(project, account));
            }
        });
    }

    /// The upload and coverage loop; runs while the page is open.
    async fn run(self, project: Project, account: HubAccount) {
        let policy = RetryPolicy { max_attempts: u32::MAX, base_delay_ms: 1_000.0, max_delay_ms: 60_000.0 };
        let mut failures = 0u32;
        let mut retry_at = 0.0;
        let mut coverage_at = 0.0;
        let mut first_waiting_at: Option<f64> = None;
        let coverage_cache = std::cell::RefCell::new(browser::ContributionCache::default());
        loop {
            let Some(opened) = self.opened.get_untracked() else {
                sleep(500.0).await;
                continue;
            };
            let repo = RepoId::parse(&opened.repo).expect("an opened campaign's repo was parsed");
            let questions = self.questions.get_untracked();
            let online = self.online.get_untracked();
            let hub = account.hub();
            if online && js_sys::Date::now() >= coverage_at {
                coverage_at = js_sys::Date::now() + COVERAGE_EVERY_MS;
                if let Ok(contributions) = hub.read_contributions(&repo, &coverage_cache, &|_| {}).await {
                    let collected = collect(contributions.files);
                    let mut coverage = Coverage::of(collected.ratings.iter().filter(|rating| questions.contains(&rating.value.question_id())));
                    coverage.add(&untrack(|| self.mine(project)));
                    self.coverage.set(Arc::new(coverage));
                }
            }
            let mut state = self.state.get_untracked();
            let waiting: Vec<HumanRating> = untrack(|| self.mine(project))
                .into_iter()
                .filter(|rating| !state.has_sent(rating))
                .collect();
            let now = js_sys::Date::now();
            if waiting.is_empty() {
                first_waiting_at = None;
            } else if first_waiting_at.is_none() {
                first_waiting_at = Some(now);
            }
            let session = browser::stored_session().filter(|session| session.hub_url == hub.hub_url);
            let due = waiting.len() >= BATCH_SOON || first_waiting_at.is_some_and(|at| now - at >= BATCH_AGE_MS) || state.outbox.is_some();
            let sent = match (session, online && due && now >= retry_at) {
                (Some(session), true) => Some(self.send_batch(&hub, &repo, account, &session.account, &mut state, waiting).await),
                _ => None,
            };
            let (tried, landed) = (sent.is_some(), matches!(sent, Some(Ok(()))));
            match sent {
                Some(Ok(())) => {
                    failures = 0;
                    self.retrying.set(None);
                    coverage_at = 0.0;
                }
                Some(Err(reason)) => {
                    failures += 1;
                    retry_at = js_sys::Date::now() + policy.backoff_ms(failures, js_sys::Math::random());
                    self.retrying.set(Some(reason));
                }
                None => {}
            }
            if tried {
                self.state.set(state);
            }
            // Right after a batch lands, the next one may be waiting already.
            sleep(if landed { 50.0 } else { 1_000.0 }).await;
        }
    }

    /// Sends the outbox — made from `waiting` and stored first if there is
    /// none — to the person's pull request; on success the ratings in it
    /// count as uploaded.
    async fn send_batch(
        self,
        hub: &browser::Hub,
        repo: &RepoId,
        signed_in: HubAccount,
        account: &prefab_hub::oauth::Account,
        state: &mut UploadState,
        waiting: Vec<HumanRating>,
    ) -> Result<(), String> {
        let key = state_key(&repo.id());
        if state.outbox.is_none() {
            let batch: Vec<HumanRating> = waiting.into_iter().take(BATCH).collect();
            let (path, content) = contribution_file(&account.username, &batch).map_err(|error| error.to_string())?;
            state.outbox = Some(Outbox { path, content, ratings: batch.iter().map(|rating| (rating.id(), rating.created_at_ms)).collect() });
            // On disk before it is sent: it is sent as this same file until it lands.
            if let Err(message) = project::put_setting(&key, &*state).await {
                state.outbox = None;
                return Err(message.to_string());
            }
        }
        let Some(outbox) = state.outbox.clone() else { return Ok(()) };
        let file = PlannedFile::new(outbox.path.clone(), outbox.content.clone().into_bytes());
        match hub.contribute(repo, account, state.pull_request, &file, &|_| {}).await {
            Ok(num) => {
                state.pull_request = Some(num);
                state.uploaded.extend(outbox.ratings.iter().cloned());
                state.outbox = None;
                project::put_setting(&key, &*state).await.map_err(|error| error.to_string())
            }
            Err(error) => {
                // An expired sign-in signs out, so the status line asks again.
                signed_in.note(&error);
                Err(error.to_string())
            }
        }
    }
}

impl Default for Campaign {
    fn default() -> Campaign {
        Campaign::new()
    }
}

/// The line under the rating: saved on this device · N waiting · N uploaded.
#[component]
pub fn CampaignStatus() -> impl IntoView {
    let campaign = expect_context::<Campaign>();
    let account = expect_context::<HubAccount>();
    let project = expect_context::<Project>();
    let status = Memo::new(move |_| campaign.status(project, account));
    let line = move || {
        let status = status.get();
        let mut text = format!("{} saved on this device · {} waiting · {} uploaded", status.saved, status.waiting, status.uploaded);
        if let Some(blocked) = &status.blocked {
            text.push_str(&format!(" — {blocked}"));
        }
        text
    };
    let needs_sign_in = move || status.with(|status| status.blocked == Some(Blocked::SignIn));
    view! {
        <p class="hint" role="status" data-testid="campaign-status">{line}</p>
        {move || needs_sign_in().then(|| view! {
            <button type="button" data-testid="campaign-sign-in" on:click=move |_| account.sign_in()>"Sign in to upload your ratings"</button>
        })}
    }
}
