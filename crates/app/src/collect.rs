//! Export → Collect: read every contribution of a campaign — on `main` and on
//! each open pull request — merge them (each person's newest answer per
//! question; a file not its pull request's author's own is rejected and
//! shown), and show progress against the overlap target and how far people
//! agree. The merged records then feed Export's downloads and Publish.

use std::collections::{BTreeMap, HashSet};

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::agreement::AgreementReport;
use prefab_core::campaign::{collect, question_ids, tally, Manifest, Rejected, Tally};
use prefab_core::record::{assemble_records, Record};
use prefab_hub::commit::RepoId;
use prefab_hub::HubError;

use crate::campaign::link_in_address;
use crate::hub_account::HubAccount;

/// What Collect found.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// The campaign.
    pub repo: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// Its records with every accepted rating attached.
    pub records: Vec<Record>,
    /// Files read.
    pub files: usize,
    /// Open pull requests read, by number.
    pub pull_requests: Vec<u64>,
    /// Files left out.
    pub rejected: Vec<Rejected>,
    /// Ratings about questions the campaign does not ask (left out).
    pub foreign: usize,
    /// Answers per person.
    pub people: Vec<(String, usize)>,
    /// Items by number of people who rated them.
    pub histogram: Vec<(usize, usize)>,
    /// Agreement.
    pub agreement: AgreementReport,
}

/// Reads and merges a campaign's contributions.
async fn collect_campaign(account: HubAccount, repo: RepoId, report: &dyn Fn(String)) -> Result<Collection, HubError> {
    let hub = account.hub();
    let (manifest, records) = hub.read_campaign(&repo, report).await?;
    let cache = std::cell::RefCell::new(prefab_hub::browser::ContributionCache::default());
    let contributions = hub.read_contributions(&repo, &cache, report).await?;
    let collected = collect(contributions.files);
    let questions = question_ids(manifest.mode, manifest.seed, &records);
    let Tally { ratings, foreign, histogram, people, agreement } = tally(manifest.mode, &questions, collected.ratings);
    let prompts = records.iter().map(|record| record.prompt.clone());
    let generations = records.iter().flat_map(|record| record.generations.iter().map(|generation| (record.prompt.id.clone(), generation.clone())));
    let records = assemble_records(prompts, generations, ratings).records;
    Ok(Collection {
        repo: repo.id(),
        manifest,
        records,
        files: collected.files,
        pull_requests: contributions.pull_requests.iter().map(|pull| pull.num).collect(),
        rejected: collected.rejected,
        foreign,
        people,
        histogram,
        agreement,
    })
}

/// The Collect panel; `collected` receives the merged campaign for Export.
#[component]
pub fn CollectPanel(collected: RwSignal<Option<Collection>>) -> impl IntoView {
    let account = expect_context::<HubAccount>();
    let repo_text = RwSignal::new(link_in_address().map(|link| link.repo).unwrap_or_default());
    let busy = RwSignal::new(false);
    let progress = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<HubError>);
    let merged = RwSignal::new(None::<String>);

    let run = move |_| {
        let repo = match RepoId::parse(repo_text.get_untracked().trim()) {
            Ok(repo) => repo,
            Err(error) => return problem.set(Some(error)),
        };
        busy.set(true);
        problem.set(None);
        spawn_local(async move {
            match collect_campaign(account, repo, &|message| progress.set(Some(message))).await {
                Ok(collection) => collected.set(Some(collection)),
                Err(error) => {
                    account.note(&error);
                    problem.set(Some(error));
                }
            }
            progress.set(None);
            busy.set(false);
        });
    };
    let merge_all = move |_| {
        let Some(collection) = collected.get_untracked() else { return };
        let Ok(repo) = RepoId::parse(&collection.repo) else { return };
        // Only pull requests whose every file was accepted are merged.
        let refused: HashSet<u64> = collection
            .rejected
            .iter()
            .filter_map(|rejected| match &rejected.source {
                prefab_core::campaign::Source::PullRequest { num, .. } => Some(*num),
                prefab_core::campaign::Source::Main => None,
            })
            .collect();
        let to_merge: Vec<u64> = collection.pull_requests.iter().copied().filter(|num| !refused.contains(num)).collect();
        busy.set(true);
        spawn_local(async move {
            let hub = account.hub();
            let mut done = 0;
            for num in &to_merge {
                match hub.merge(&repo, *num, &|message| progress.set(Some(message))).await {
                    Ok(()) => done += 1,
                    Err(error) => {
                        account.note(&error);
                        problem.set(Some(error));
                        break;
                    }
                }
            }
            merged.set(Some(format!("Merged {done} of {} pull requests ({} left open: they have rejected files).", to_merge.len(), collection.pull_requests.len() - to_merge.len())));
            progress.set(None);
            busy.set(false);
        });
    };

    // Every person's answer as collected, one rating per line: what was
    // pressed, for an organizer's own analysis (Argilla's per-annotator responses).
    let download_ratings = move |_| {
        let Some(collection) = collected.get_untracked() else { return };
        let lines: String = collection
            .records
            .iter()
            .flat_map(|record| &record.ratings)
            .map(|rating| serde_json::to_string(rating).unwrap_or_default() + "\n")
            .collect();
        let name = format!("{}-ratings.jsonl", collection.repo.replace('/', "--"));
        if let Err(message) = crate::export::save_as(&name, lines.as_bytes()) {
            problem.set(Some(HubError::new(prefab_hub::HubErrorKind::BadResponse, message)));
        }
    };
    view! {
        <section class="panel" aria-labelledby="collect-title" data-testid="collect-panel">
            <h2 id="collect-title">"Collect a campaign"</h2>
            <p class="hint">"Reads every contribution (main and each open pull request), keeps each person's newest answer, and rejects files that are not their pull request's author's own. The dataset below then comes from the campaign."</p>
            <label>"Campaign repo" <input data-testid="collect-repo" prop:value=repo_text on:input=move |event| repo_text.set(event_target_value(&event)) placeholder="org/campaign" spellcheck="false" /></label>
            <div class="buttons">
                <button type="button" data-testid="collect-button" disabled=busy on:click=run>"Collect"</button>
                {move || collected.get().is_some().then(|| view! {
                    <button type="button" data-testid="collect-download-ratings" on:click=download_ratings>"Download every answer (JSONL)"</button>
                    <button type="button" data-testid="collect-merge" disabled=busy on:click=merge_all>"Merge the pull requests"</button>
                    <button type="button" data-testid="collect-clear" on:click=move |_| collected.set(None)>"Back to this browser's project"</button>
                })}
            </div>
            {move || progress.get().map(|message| view! { <p role="status">{message}</p> })}
            {move || problem.get().map(|error| view! { <p role="alert" class="error" data-testid="collect-problem">{error.to_string()}</p> })}
            {move || merged.get().map(|message| view! { <p role="status" data-testid="collect-merged">{message}</p> })}
            {move || collected.get().map(|collection| view! { <CollectionView collection /> })}
        </section>
    }
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |value| format!("{:.0}%", value * 100.0))
}

#[component]
fn CollectionView(collection: Collection) -> impl IntoView {
    let overlap = collection.manifest.overlap as usize;
    let items: usize = collection.histogram.iter().map(|(_, items)| items).sum();
    let filled: usize = collection.histogram.iter().filter(|(ratings, _)| *ratings >= overlap).map(|(_, items)| items).sum();
    let ratings: usize = collection.people.iter().map(|(_, count)| count).sum();
    let agreement_of: BTreeMap<String, (usize, usize)> =
        collection.agreement.people.iter().map(|person| (person.annotator.clone(), (person.agreed, person.compared))).collect();
    let statistic = collection.agreement.statistic.name();
    let value = collection.agreement.value.map_or_else(|| "not enough overlap yet".to_owned(), |value| format!("{value:.3}"));
    view! {
        <div data-testid="collection">
            <p role="status" data-testid="collect-summary">
                {format!("{} ratings by {} people from {} files ({} open pull requests) · {filled} of {items} items have {overlap} or more ratings.",
                    ratings, collection.people.len(), collection.files, collection.pull_requests.len())}
            </p>
            <p data-testid="collect-agreement">{format!("Agreement: {statistic} = {value} over {} items rated by two or more.", collection.agreement.units)}</p>
            {(collection.foreign > 0).then(|| view! { <p class="hint">{format!("{} ratings are about items this campaign no longer asks, and were left out.", collection.foreign)}</p> })}
            {(!collection.rejected.is_empty()).then(|| view! {
                <div role="alert" class="error" data-testid="collect-rejected">
                    <p>{format!("{} files were rejected:", collection.rejected.len())}</p>
                    <ul>{collection.rejected.iter().map(|rejected| view! { <li>{rejected.to_string()}</li> }).collect_view()}</ul>
                </div>
            })}
            <h3>"Items by number of ratings"</h3>
            <table data-testid="collect-histogram">
                <thead><tr><th>"Ratings"</th><th>"Items"</th></tr></thead>
                <tbody>{collection.histogram.iter().map(|(count, items)| view! { <tr><td>{count.to_string()}</td><td>{items.to_string()}</td></tr> }).collect_view()}</tbody>
            </table>
            <h3>"People"</h3>
            <table data-testid="collect-people">
                <thead><tr><th>"Person"</th><th>"Ratings"</th><th>"Agrees with the others' majority"</th></tr></thead>
                <tbody>{collection.people.iter().map(|(name, count)| {
                    let (agreed, compared) = agreement_of.get(name).copied().unwrap_or_default();
                    let rate = (compared > 0).then(|| agreed as f64 / compared as f64);
                    view! { <tr><td>{name.clone()}</td><td>{count.to_string()}</td><td>{format!("{} ({agreed} of {compared})", percent(rate))}</td></tr> }
                }).collect_view()}</tbody>
            </table>
        </div>
    }
}
