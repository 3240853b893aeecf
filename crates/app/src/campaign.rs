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
use prefab_core::campaign::{collect, contribution_file, Coverage, Manifest};
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
/// How often coverage is read again while rating.
const COVERAGE_EVERY_MS: f64 = 15_000.0;

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

impl Opened {
    /// The ids of every question the campaign asks.
    pub fn question_ids(&self) -> HashSet<String> {
        let targets = self.records.iter().map(prefab_core::contribute::Target::from);
        let options = prefab_core::contribute::SessionOptions {
            mode: self.manifest.mode,
            annotator: "-".into(),
            question: String::new(),
            seed: self.manifest.seed,
        };
        prefab_core::contribute::Session::new(options, targets, [])
            .map(|session| session.items().iter().map(|item| item.question_id(self.manifest.mode)).collect())
            .unwrap_or_default()
    }
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
    /// Why it could not be opened.
    pub problem: RwSignal<Option<CampaignError>>,
    /// Everyone's ratings as last read, counted per question.
    pub coverage: RwSignal<Arc<Coverage>>,
    /// The status line.
    pub status: RwSignal<UploadStatus>,
    state: StoredValue<UploadState>,
    running: StoredValue<bool>,
    refresh_now: RwSignal<bool>,
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
        Campaign {
            opened: RwSignal::new(None),
            problem: RwSignal::new(None),
            coverage: RwSignal::new(Arc::new(Coverage::default())),
            status: RwSignal::new(UploadStatus::default()),
            state: StoredValue::new(UploadState::default()),
            running: StoredValue::new(false),
            refresh_now: RwSignal::new(false),
        }
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
                self.state.set_value(state);
            }
            if let Ok(Some(copy)) = project::get_setting::<Opened>(&copy_key(&id)).await {
                self.opened.set(Some(Arc::new(copy)));
            }
            match account.hub().read_campaign(&repo, &|_| {}).await {
                Ok((manifest, records)) => {
                    let fresh = Opened { repo: id.clone(), manifest, records };
                    if self.opened.with_untracked(|opened| opened.as_deref() != Some(&fresh)) {
                        let _ = project::put_setting(&copy_key(&id), &fresh).await;
                        self.opened.set(Some(Arc::new(fresh)));
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

    /// Asks the loop to read coverage again now.
    pub fn refresh(self) {
        self.refresh_now.set(true);
    }

    /// The upload and coverage loop; runs while the page is open.
    async fn run(self, project: Project, account: HubAccount) {
        let policy = RetryPolicy { max_attempts: u32::MAX, base_delay_ms: 1_000.0, max_delay_ms: 60_000.0 };
        let mut failures = 0u32;
        let mut retry_at = 0.0;
        let mut coverage_at = 0.0;
        let mut first_waiting_at: Option<f64> = None;
        let coverage_cache = std::cell::RefCell::new(HashMap::new());
        loop {
            let Some(opened) = self.opened.get_untracked() else {
                sleep(500.0).await;
                continue;
            };
            let repo = RepoId::parse(&opened.repo).expect("an opened campaign's repo was parsed");
            let questions = opened.question_ids();
            let now = js_sys::Date::now();
            let hub = account.hub();
            if now >= coverage_at || self.refresh_now.get_untracked() {
                self.refresh_now.set(false);
                coverage_at = now + COVERAGE_EVERY_MS;
                if let Ok(contributions) = hub.read_contributions(&repo, &coverage_cache, &|_| {}).await {
                    let collected = collect(contributions.files);
                    let mine: Vec<HumanRating> = project.ratings.with_untracked(|ratings| ratings.values().cloned().collect());
                    let mut coverage = Coverage::of(collected.ratings.iter().filter(|rating| questions.contains(&rating.value.question_id())));
                    coverage.add(mine.iter().filter(|rating| questions.contains(&rating.value.question_id())));
                    self.coverage.set(Arc::new(coverage));
                }
            }
            let annotator = project.annotator.get_untracked();
            let mut state = self.state.get_value();
            let mine: Vec<HumanRating> = project.ratings.with_untracked(|ratings| {
                ratings.values().filter(|rating| rating.annotator == annotator && questions.contains(&rating.value.question_id())).cloned().collect()
            });
            let waiting: Vec<HumanRating> = mine.iter().filter(|rating| state.uploaded.get(&rating.id()) != Some(&rating.created_at_ms)).cloned().collect();
            if waiting.is_empty() {
                first_waiting_at = None;
            } else if first_waiting_at.is_none() {
                first_waiting_at = Some(now);
            }
            let session = browser::stored_session().filter(|session| session.hub_url == hub.hub_url);
            let online = window().navigator().on_line();
            let mut blocked = match (&session, online) {
                (None, _) if !waiting.is_empty() || state.outbox.is_some() => Some(Blocked::SignIn),
                (_, false) if !waiting.is_empty() || state.outbox.is_some() => Some(Blocked::Offline),
                _ => self.status.with_untracked(|status| status.blocked.clone()).filter(|blocked| matches!(blocked, Blocked::Retrying(_))),
            };
            let due = waiting.len() >= BATCH_SOON || first_waiting_at.is_some_and(|at| now - at >= BATCH_AGE_MS) || state.outbox.is_some();
            if let (Some(session), true, true, true) = (session, online, due, now >= retry_at) {
                if state.outbox.is_none() {
                    let batch: Vec<HumanRating> = waiting.iter().take(BATCH).cloned().collect();
                    match contribution_file(&session.account.username, &batch) {
                        Ok((path, content)) => {
                            state.outbox = Some(Outbox { path, content, ratings: batch.iter().map(|rating| (rating.id(), rating.created_at_ms)).collect() });
                            // The batch is on disk before it is sent: it is sent as this file until it lands.
                            if project::put_setting(&state_key(&opened.repo), &state).await.is_err() {
                                state.outbox = None;
                            }
                        }
                        Err(error) => blocked = Some(Blocked::Retrying(error.to_string())),
                    }
                }
                if let Some(outbox) = state.outbox.clone() {
                    let file = PlannedFile::new(outbox.path.clone(), outbox.content.clone().into_bytes());
                    match hub.contribute(&repo, &session.account, state.pull_request, &file, &|_| {}).await {
                        Ok(num) => {
                            state.pull_request = Some(num);
                            state.uploaded.extend(outbox.ratings.iter().cloned());
                            state.outbox = None;
                            let _ = project::put_setting(&state_key(&opened.repo), &state).await;
                            failures = 0;
                            blocked = None;
                            coverage_at = 0.0;
                        }
                        Err(error) => {
                            account.note(&error);
                            failures += 1;
                            retry_at = js_sys::Date::now() + policy.backoff_ms(failures, js_sys::Math::random());
                            blocked = Some(Blocked::Retrying(error.to_string()));
                        }
                    }
                }
                self.state.set_value(state.clone());
            }
            let uploaded = mine.iter().filter(|rating| state.uploaded.get(&rating.id()) == Some(&rating.created_at_ms)).count();
            let status = UploadStatus { saved: mine.len(), waiting: mine.len() - uploaded, uploaded, blocked };
            if self.status.with_untracked(|current| *current != status) {
                self.status.set(status);
            }
            sleep(if failures == 0 && due { 50.0 } else { 1_000.0 }).await;
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
    let line = move || {
        let status = campaign.status.get();
        let mut text = format!("{} saved on this device · {} waiting · {} uploaded", status.saved, status.waiting, status.uploaded);
        if let Some(blocked) = &status.blocked {
            text.push_str(&format!(" — {blocked}"));
        }
        text
    };
    let needs_sign_in = move || campaign.status.with(|status| status.blocked == Some(Blocked::SignIn));
    view! {
        <p class="hint" role="status" data-testid="campaign-status">{line}</p>
        {move || needs_sign_in().then(|| view! {
            <button type="button" data-testid="campaign-sign-in" on:click=move |_| account.sign_in()>"Sign in to upload your ratings"</button>
        })}
    }
}
