//! Build → Publish as a campaign: the project's prompts and completions, its
//! question and guidelines become a campaign repo on the Hub, and the page
//! gives the link (and a QR code for the room) that contributors open.
//!
//! Publishing again to the same repo is an edit: the manifest's version goes
//! up and new items are added; ratings already given point at content ids,
//! so they stay valid.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::agreement::AgreementPolicy;
use prefab_core::campaign::{Manifest, FORMAT, FORMAT_VERSION};
use prefab_hub::browser::PublishOptions;
use prefab_hub::campaign::campaign_files;
use prefab_hub::commit::RepoId;
use prefab_hub::HubError;

use crate::campaign::CampaignLink;
use crate::contribute::QuestionSelect;
use crate::hub_account::{HubAccount, SignedInLine};
use crate::project::Project;

/// The seed of A/B sides and ranking order a campaign gets: the project's.
const CAMPAIGN_SEED: u64 = 7;

/// Why a campaign was not published.
#[derive(Debug, Clone, PartialEq)]
enum PublishCampaignError {
    /// No prompt has a completion yet.
    NothingToRate,
    /// The overlap field is not a number from 1 to 50.
    Overlap(String),
    /// The Hub said no, or could not be reached.
    Hub(HubError),
}

impl std::fmt::Display for PublishCampaignError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishCampaignError::NothingToRate => write!(f, "Nothing to rate yet: run the model pool or import completions first."),
            PublishCampaignError::Overlap(text) => write!(f, "People per item: {text:?} is not a whole number from 1 to 50."),
            PublishCampaignError::Hub(error) => write!(f, "{error}"),
        }
    }
}

/// The address contributors open: this page, the campaign, and the Hub when
/// it is not huggingface.co (a workshop's own), with the client id to sign in.
fn contributor_link(repo: &RepoId, hub_url: &str, client_id: &str) -> String {
    let page = window().location().href().unwrap_or_default();
    let base = page.split('#').next().unwrap_or_default().to_owned();
    let on_the_hub = hub_url == prefab_hub::oauth::hub_address("");
    let link = CampaignLink {
        repo: repo.id(),
        hub: (!on_the_hub).then(|| hub_url.to_owned()),
        client_id: (!on_the_hub && !client_id.trim().is_empty()).then(|| client_id.trim().to_owned()),
    };
    format!("{base}{}", link.fragment("contribute"))
}

/// The Build panel that publishes the campaign.
#[component]
pub fn CampaignPublish() -> impl IntoView {
    let project = expect_context::<Project>();
    let account = expect_context::<HubAccount>();
    let repo_text = RwSignal::new(String::new());
    let title = RwSignal::new("Rate these answers".to_owned());
    let overlap = RwSignal::new("3".to_owned());
    let unanimous = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let progress = RwSignal::new(None::<String>);
    let outcome = RwSignal::new(None::<Result<(String, String), PublishCampaignError>>);
    let mode_problem = RwSignal::new(None::<String>);

    let publish = move |_| {
        let session = match account.require() {
            Ok(session) => session,
            Err(error) => return outcome.set(Some(Err(PublishCampaignError::Hub(error)))),
        };
        let repo = match RepoId::parse(repo_text.get_untracked().trim()) {
            Ok(repo) => repo,
            Err(error) => return outcome.set(Some(Err(PublishCampaignError::Hub(error)))),
        };
        let overlap = match overlap.get_untracked().trim().parse::<u32>() {
            Ok(value @ 1..=50) => value,
            _ => return outcome.set(Some(Err(PublishCampaignError::Overlap(overlap.get_untracked())))),
        };
        let records: Vec<_> = project.records().into_iter().filter(|record| !record.generations.is_empty()).collect();
        if records.is_empty() {
            return outcome.set(Some(Err(PublishCampaignError::NothingToRate)));
        }
        let mode = project.rating_mode.get_untracked();
        busy.set(true);
        outcome.set(None);
        spawn_local(async move {
            let hub = prefab_hub::browser::Hub::signed_in(&session);
            let report = |message: String| progress.set(Some(message));
            // Publishing again is an edit: the next version of the manifest.
            let version = match hub.read_campaign(&repo, &report).await {
                Ok((earlier, _)) => earlier.version + 1,
                Err(_) => 1,
            };
            let manifest = Manifest {
                format: FORMAT.to_owned(),
                format_version: FORMAT_VERSION,
                version,
                title: title.get_untracked().trim().to_owned(),
                mode,
                question: mode.default_question().to_owned(),
                guidelines: project.guidelines.get_untracked(),
                overlap,
                seed: CAMPAIGN_SEED,
                policy: if unanimous.get_untracked() { AgreementPolicy::Unanimous } else { AgreementPolicy::Majority },
                prompts: records.len(),
                updated_at_ms: js_sys::Date::now() as u64,
            };
            let files = campaign_files(&repo, &manifest, &records);
            let options = PublishOptions { summary: "Publish a Prefab campaign", revision: "main", managed: &[], create: true, private: false };
            let result = hub.publish(&repo, &files, &session.account, options, &report).await;
            if let Err(error) = &result {
                account.note(error);
            }
            progress.set(None);
            busy.set(false);
            outcome.set(Some(result.map_err(PublishCampaignError::Hub).map(|_| {
                let link = contributor_link(&repo, &hub.hub_url, &account.client_id.get_untracked());
                (link, format!("Version {version} of {} · {} prompts · {} people per item.", repo.id(), manifest.prompts, overlap))
            })));
        });
    };
    Effect::new(move |_| {
        if let Some(session) = account.session.get() {
            if repo_text.get_untracked().is_empty() {
                repo_text.set(format!("{}/prefab-campaign", session.account.username));
            }
        }
    });

    view! {
        <section class="panel" aria-labelledby="campaign-title" data-testid="campaign-publish">
            <h2 id="campaign-title">"Publish as a campaign"</h2>
            <p class="hint">"Many people rate these completions from their own browser, each with a Hugging Face account; their ratings arrive on the Hub as pull requests, and Export → Collect gathers them."</p>
            <SignedInLine />
            <label>"Dataset repo" <input data-testid="campaign-repo" prop:value=repo_text on:input=move |event| repo_text.set(event_target_value(&event)) placeholder="you/my-campaign" spellcheck="false" /></label>
            <label>"Title" <input data-testid="campaign-name" prop:value=title on:input=move |event| title.set(event_target_value(&event)) /></label>
            <label>"Question"
                <QuestionSelect testid="campaign-mode" selected=Signal::derive(move || project.rating_mode.get()) problem=mode_problem />
            </label>
            {move || mode_problem.get().map(|message| view! { <p role="alert" class="error">{message}</p> })}
            <label>"People per item" <input data-testid="campaign-overlap" type="number" min="1" max="50" prop:value=overlap on:input=move |event| overlap.set(event_target_value(&event)) /></label>
            <label class="choice"><input type="checkbox" data-testid="campaign-unanimous" prop:checked=unanimous on:change=move |event| unanimous.set(event_target_checked(&event)) />"Keep a label only when everyone agrees (else: the majority)"</label>
            <div class="buttons"><button type="button" data-testid="campaign-publish-button" disabled=busy on:click=publish>"Publish as a campaign"</button></div>
            {move || progress.get().map(|message| view! { <p role="status">{message}</p> })}
            {move || outcome.get().map(|outcome| match outcome {
                Ok((link, summary)) => view! {
                    <div data-testid="campaign-published">
                        <p role="status">{summary}</p>
                        <label>"Link for contributors" <input readonly data-testid="campaign-link" prop:value=link.clone() /></label>
                        <QrCode text=link />
                    </div>
                }.into_any(),
                Err(error) => view! { <p role="alert" class="error" data-testid="campaign-publish-error">{error.to_string()}</p> }.into_any(),
            })}
        </section>
    }
}

/// A QR code of `text`, drawn as one SVG path of its dark modules (with the
/// quiet zone the standard asks for), so phones in the room can scan the link.
#[component]
pub fn QrCode(text: String) -> impl IntoView {
    let Ok(code) = qrcode::QrCode::new(text.as_bytes()) else {
        return view! { <p class="hint">"The link is too long for a QR code."</p> }.into_any();
    };
    let width = code.width();
    let mut path = String::new();
    for (index, color) in code.to_colors().into_iter().enumerate() {
        if color == qrcode::Color::Dark {
            path.push_str(&format!("M{} {}h1v1h-1z", index % width + 4, index / width + 4));
        }
    }
    let size = width + 8;
    view! {
        <svg class="qr" data-testid="campaign-qr" role="img" aria-label="QR code of the link" viewBox=format!("0 0 {size} {size}") width="220" height="220">
            <rect width=size.to_string() height=size.to_string() fill="#fff" />
            <path d=path fill="#000" />
        </svg>
    }
    .into_any()
}
