//! Export → Publish to the Hub: the KTO, DPO and raw tables as one commit to a
//! dataset repo, laid out for `load_dataset` and the viewer, with the card.
//!
//! The repo is created if asked; an account that cannot write there opens a
//! pull request instead; publishing the same export again makes no commit;
//! a concurrent change is a clear conflict, never an overwrite. Nothing in
//! IndexedDB is touched, so a failure loses nothing: "Try again" publishes anew.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::export::card::DatasetCard;
use prefab_core::record::Record;
use prefab_hub::browser::{PublishOptions, Published};
use prefab_hub::commit::RepoId;
use prefab_hub::layout::{dataset_files, PublishedConfig};
use prefab_hub::HubError;

use crate::hub_account::{HubAccount, SignedInLine};

/// Why a publish did not happen.
#[derive(Debug, Clone, PartialEq)]
enum PublishError {
    /// Nothing rated yet.
    Empty,
    /// The tables could not be written.
    Write(String),
    /// The Hub said no, or could not be reached.
    Hub(HubError),
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Empty => write!(f, "Nothing to publish yet: rate some completions in Contribute first."),
            PublishError::Write(message) => write!(f, "The dataset could not be written: {message}"),
            PublishError::Hub(error) => write!(f, "{error}"),
        }
    }
}

/// An address the Hub answered, as a link only when it is `http(s)`: a
/// `javascript:` address from a server is shown as text, never followed.
#[component]
fn HubLink(url: String) -> impl IntoView {
    if url.starts_with("https://") || url.starts_with("http://") {
        let text = url.clone();
        view! { <a href=url target="_blank" rel="noopener">{text}</a> }.into_any()
    } else {
        view! { <span>{url}</span> }.into_any()
    }
}

/// The Publish panel. `tables` gives the configs to publish and the card's
/// policy lines, from the Export choices of the moment.
#[component]
pub fn PublishPanel(
    /// The project's records.
    records: Memo<Vec<Record>>,
    /// The tables to publish, and the policies that made them.
    tables: Callback<Vec<Record>, (Vec<PublishedConfig>, Vec<String>)>,
) -> impl IntoView {
    let account = expect_context::<HubAccount>();
    let repo_text = RwSignal::new(String::new());
    let private = RwSignal::new(false);
    let create = RwSignal::new(true);
    let busy = RwSignal::new(false);
    let status = RwSignal::new(None::<String>);
    let outcome = RwSignal::new(None::<Result<Published, PublishError>>);
    // Suggest a repo in the signed-in account's namespace.
    Effect::new(move |_| {
        if let Some(session) = account.session.get() {
            if repo_text.get_untracked().is_empty() {
                repo_text.set(format!("{}/prefab-preferences", session.account.username));
            }
        }
    });

    let publish = move |_| {
        let session = match account.require() {
            Ok(session) => session,
            Err(error) => return outcome.set(Some(Err(PublishError::Hub(error)))),
        };
        let repo = match RepoId::parse(&repo_text.get_untracked()) {
            Ok(repo) => repo,
            Err(error) => return outcome.set(Some(Err(PublishError::Hub(error)))),
        };
        let records = records.get_untracked();
        let (configs, policies) = tables.run(records.clone());
        if configs.iter().all(|config| config.table.is_empty()) {
            return outcome.set(Some(Err(PublishError::Empty)));
        }
        let mut card = DatasetCard::new(&format!("{} (Prefab)", repo.name), &records);
        card.policies = policies;
        let files = match dataset_files(&repo, &configs, card) {
            Ok(files) => files,
            Err(error) => return outcome.set(Some(Err(PublishError::Write(error.to_string())))),
        };
        busy.set(true);
        outcome.set(None);
        spawn_local(async move {
            let hub = prefab_hub::browser::Hub::signed_in(&session);
            let options = PublishOptions {
                summary: "Publish the preference dataset from Prefab",
                revision: "main",
                managed: &prefab_hub::layout::MANAGED_FOLDERS,
                create: create.get_untracked(),
                private: private.get_untracked(),
            };
            let result = hub.publish(&repo, &files, &session.account, options, &|message| status.set(Some(message))).await;
            if let Err(error) = &result {
                account.note(error);
            }
            status.set(None);
            busy.set(false);
            outcome.set(Some(result.map_err(PublishError::Hub)));
        });
    };

    view! {
        <section class="panel" aria-labelledby="publish-title" data-testid="publish-panel">
            <h2 id="publish-title">"Publish to the Hub"</h2>
            <SignedInLine />
            <p class="hint">"KTO, DPO (with the choices above) and the raw generations, as Parquet under data/, with the dataset card: ready for load_dataset and the dataset viewer."</p>
            <label>
                "Dataset repository (namespace/name)"
                <input type="text" data-testid="publish-repo" prop:value=repo_text autocomplete="off" on:input=move |event| repo_text.set(event_target_value(&event)) />
            </label>
            <label class="choice"><input type="checkbox" data-testid="publish-create" prop:checked=create on:change=move |event| create.set(event_target_checked(&event)) />"Create it if it does not exist"</label>
            <label class="choice"><input type="checkbox" data-testid="publish-private" prop:checked=private on:change=move |event| private.set(event_target_checked(&event)) />"Private (when created)"</label>
            <div class="buttons">
                <button type="button" data-testid="publish" prop:disabled=busy on:click=publish>
                    {move || if matches!(outcome.get(), Some(Err(PublishError::Hub(_)))) { "Try again" } else { "Publish" }}
                </button>
            </div>
            {move || status.get().map(|message| view! { <p role="status" data-testid="publish-status">{message}</p> })}
            {move || outcome.get().map(|outcome| match outcome {
                Ok(Published::Committed { commit, url }) => view! {
                    <p role="status" data-testid="publish-outcome" data-outcome="committed">
                        {format!("Published as commit {}: ", commit.chars().take(10).collect::<String>())}<HubLink url=url.clone() />
                    </p>
                }.into_any(),
                Ok(Published::PullRequest { url }) => view! {
                    <p role="status" data-testid="publish-outcome" data-outcome="pull-request">
                        "You cannot write to this repository, so a pull request was opened: "<HubLink url=url.clone() />
                    </p>
                }.into_any(),
                Ok(Published::Unchanged { commit }) => view! {
                    <p role="status" data-testid="publish-outcome" data-outcome="unchanged">
                        {format!("Already published: the repository holds exactly this export (commit {}); no new commit.", commit.chars().take(10).collect::<String>())}
                    </p>
                }.into_any(),
                Err(error) => view! {
                    <p role="alert" class="error" data-testid="publish-outcome" data-outcome="error">{error.to_string()}</p>
                }.into_any(),
            })}
        </section>
    }
}
