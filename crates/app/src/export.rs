//! Export: the project's ratings as TRL-ready KTO and DPO datasets, or the
//! raw generations, in JSONL or Parquet, each downloaded with its dataset
//! card, or published to a Hub dataset repo; with counts and small charts of
//! what was rated.

use std::collections::BTreeMap;

use leptos::prelude::*;
use prefab_core::agreement::AgreementPolicy;
use prefab_core::export::binarize::{BinarizePolicy, PairStrategy, ScoreSource};
use prefab_core::export::card::{CardConfig, DatasetCard};
use prefab_core::export::dpo::{self, DpoOptions};
use prefab_core::export::kto::{self, KtoOptions};
use prefab_core::export::{raw, Style};
use prefab_core::record::{Aspect, RatingValue, Record, Verdict};
use prefab_core::table::Table;
use prefab_core::write::{jsonl::to_jsonl, parquet::to_parquet};
use wasm_bindgen::JsCast;

use prefab_hub::layout::PublishedConfig;

use crate::collect::{CollectPanel, Collection};
use crate::hub_publish::PublishPanel;
use crate::project::Project;

/// Which dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Kto,
    Dpo,
    Raw,
}

/// The Export place.
#[component]
pub fn Export() -> impl IntoView {
    let project = expect_context::<Project>();
    let kind = RwSignal::new(Kind::Kto);
    let parquet = RwSignal::new(false);
    let strategy = RwSignal::new(PairStrategy::BestVsWorst);
    // `None`: the richest kind of rating the project has.
    let source = RwSignal::new(None::<ScoreSource>);
    let outcome = RwSignal::new(None::<Result<String, String>>);
    // A collected campaign, when there is one, else this browser's project.
    let collected = RwSignal::new(None::<Collection>);
    let records = Memo::new(move |_| {
        if let Some(collection) = collected.get() {
            return collection.records;
        }
        project.items.track();
        project.ratings.track();
        project.prompts.track();
        project.records()
    });
    let agreement = Memo::new(move |_| collected.with(|collected| collected.as_ref().map_or(AgreementPolicy::Majority, |collection| collection.manifest.policy)));
    let kto_options = move || KtoOptions { policy: agreement.get_untracked(), ..KtoOptions::default() };
    // What the card says about where the labels came from, for a collected campaign.
    let provenance = move || {
        collected.with_untracked(|collected| {
            collected.as_ref().map(|collection| {
                format!(
                    "Labels from the Prefab campaign {}: {} people, {} per item asked, several people's labels combined by {}.",
                    collection.repo,
                    collection.people.len(),
                    collection.manifest.overlap,
                    collection.manifest.policy.describe()
                )
            })
        })
    };

    let policy = move |records: &[Record]| BinarizePolicy {
        source: source.get_untracked().unwrap_or_else(|| dpo_source(records)),
        strategy: strategy.get_untracked(),
        ..BinarizePolicy::default()
    };
    let download = move |_| {
        let records = records.get_untracked();
        let (name, table, report) = match kind.get_untracked() {
            Kind::Kto => {
                let export = kto::kto(&records, &kto_options());
                ("kto", export.table, export.report.describe())
            }
            Kind::Dpo => {
                let export = dpo::dpo(&records, &DpoOptions { policy: policy(&records), style: Style::Standard });
                ("dpo", export.table, export.report.describe())
            }
            Kind::Raw => ("generations", raw::raw_generations(&records, Aspect::OverallRating), String::new()),
        };
        let policies: Vec<String> = provenance().into_iter().chain((!report.is_empty()).then(|| report.clone())).collect();
        let result = write_files(name, &table, &records, policies, parquet.get_untracked()).map(|file| {
            format!("Downloaded {file} ({} rows) and README.md. {report}", table.len())
        });
        outcome.set(Some(result));
    };

    view! {
        <CollectPanel collected />
        <section class="panel" aria-labelledby="export-title" data-testid="export-panel">
            {move || collected.get().map(|collection| view! { <p class="hint" data-testid="export-from">{format!("From the campaign {} ({} people, labels by {}).", collection.repo, collection.people.len(), collection.manifest.policy.describe())}</p> })}
            <h2 id="export-title">"Dataset"</h2>
            <fieldset>
                <legend>"Format"</legend>
                <label class="choice"><input type="radio" name="kind" data-testid="export-kto" prop:checked=move || kind.get() == Kind::Kto on:change=move |_| kind.set(Kind::Kto) />"KTO: prompt, completion, label (from 👍/👎)"</label>
                <label class="choice"><input type="radio" name="kind" data-testid="export-dpo" prop:checked=move || kind.get() == Kind::Dpo on:change=move |_| kind.set(Kind::Dpo) />"DPO: prompt, chosen, rejected (from A vs B, a ranking, 1–5 or 👍/👎)"</label>
                <label class="choice"><input type="radio" name="kind" data-testid="export-raw" prop:checked=move || kind.get() == Kind::Raw on:change=move |_| kind.set(Kind::Raw) />"Raw generations (input, generation_models, generations, ratings)"</label>
            </fieldset>
            <label>
                "DPO pairs"
                <select data-testid="export-strategy" on:change=move |event| strategy.set(if event_target_value(&event) == "random" { PairStrategy::BestVsRandom } else { PairStrategy::BestVsWorst })>
                    <option value="worst">"Best versus worst"</option>
                    <option value="random">"Best versus a random lower one"</option>
                </select>
            </label>
            <label>
                "DPO scores from"
                <select data-testid="export-source" on:change=move |event| source.set(match event_target_value(&event).as_str() {
                    "pairwise" => Some(ScoreSource::Pairwise),
                    "ranking" => Some(ScoreSource::Ranking),
                    "likert" => Some(ScoreSource::Likert),
                    "thumbs" => Some(ScoreSource::Thumbs),
                    _ => None,
                })>
                    <option value="auto">"What was rated (A vs B, else ranking, else 1–5, else 👍/👎)"</option>
                    <option value="pairwise">"A vs B answers"</option>
                    <option value="ranking">"Rankings"</option>
                    <option value="likert">"1–5 scores"</option>
                    <option value="thumbs">"👍/👎"</option>
                </select>
            </label>
            <label class="choice"><input type="checkbox" data-testid="export-parquet" prop:checked=parquet on:change=move |event| parquet.set(event_target_checked(&event)) />"Parquet (else JSONL)"</label>
            <div class="buttons"><button type="button" data-testid="export-download" on:click=download>"Download"</button></div>
            {move || outcome.get().map(|outcome| match outcome {
                Ok(message) => view! { <p role="status" data-testid="export-outcome">{message}</p> }.into_any(),
                Err(message) => view! { <p role="alert" class="error" data-testid="export-outcome">{message}</p> }.into_any(),
            })}
        </section>
        <PublishPanel records tables=Callback::new(move |records: Vec<Record>| {
            let (configs, mut policies) = publishable(&records, policy(&records), kto_options());
            policies.extend(provenance());
            (configs, policies)
        }) />
        <section class="panel" aria-labelledby="counts-title">
            <h2 id="counts-title">"What was rated"</h2>
            {move || charts(&records.get())}
        </section>
    }
}

/// What Publish sends: KTO, DPO with `policy`, and the raw generations, with
/// the card's lines on how the rows were made.
fn publishable(records: &[Record], policy: BinarizePolicy, kto_options: KtoOptions) -> (Vec<PublishedConfig>, Vec<String>) {
    let kto = kto::kto(records, &kto_options);
    let dpo = dpo::dpo(records, &DpoOptions { policy: policy.clone(), style: Style::Standard });
    let policies = vec![format!("KTO: {}", kto.report.describe()), format!("DPO: {} {}", policy.describe(), dpo.report.describe())];
    let configs = vec![
        PublishedConfig { name: "kto".into(), table: kto.table, description: "TRL KTO rows: prompt, completion, label".into() },
        PublishedConfig { name: "dpo".into(), table: dpo.table, description: "TRL DPO pairs: prompt, chosen, rejected".into() },
        PublishedConfig { name: "generations".into(), table: raw::raw_generations(records, Aspect::OverallRating), description: "every generation with its model and ratings (the DIBT raw format)".into() },
    ];
    (configs, policies)
}

/// DPO pairs come from A-vs-B answers when there are any, else rankings,
/// else 1–5, else thumbs.
fn dpo_source(records: &[Record]) -> ScoreSource {
    let has = |wanted: fn(&RatingValue) -> bool| records.iter().flat_map(|r| &r.ratings).any(|rating| wanted(&rating.value));
    if has(|value| matches!(value, RatingValue::Pairwise { .. })) {
        ScoreSource::Pairwise
    } else if has(|value| matches!(value, RatingValue::Ranking { .. })) {
        ScoreSource::Ranking
    } else if has(|value| matches!(value, RatingValue::Likert { .. })) {
        ScoreSource::Likert
    } else {
        ScoreSource::Thumbs
    }
}

/// Builds the file and its card and hands both to the browser as downloads.
fn write_files(name: &str, table: &Table, records: &[Record], policies: Vec<String>, parquet: bool) -> Result<String, String> {
    if table.is_empty() {
        return Err("Nothing to export yet: rate some completions in Contribute first.".to_owned());
    }
    let (file, bytes) = if parquet {
        (format!("{name}.parquet"), to_parquet(table).map_err(|error| error.to_string())?)
    } else {
        (format!("{name}.jsonl"), to_jsonl(table))
    };
    let mut card = DatasetCard::new("Prefab preference dataset", records);
    card.policies = policies;
    card.configs.push(CardConfig {
        name: name.to_owned(),
        path: file.clone(),
        schema: table.schema.clone(),
        num_rows: table.len(),
        description: format!("{name} rows made with Prefab"),
    });
    save_as(&file, &bytes)?;
    save_as("README.md", card.render().as_bytes())?;
    Ok(file)
}

/// Offers bytes as a file download.
pub(crate) fn save_as(name: &str, bytes: &[u8]) -> Result<(), String> {
    let fail = |error: wasm_bindgen::JsValue| format!("could not offer {name}: {error:?}");
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let link: web_sys::HtmlAnchorElement = document().create_element("a").map_err(fail)?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The download has started from the URL; it can be let go.
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(())
}

/// Counts of answers and a win rate per model, as bars.
fn charts(records: &[Record]) -> impl IntoView {
    let mut answers: BTreeMap<&'static str, usize> = BTreeMap::new();
    // Per model: (wins, comparisons); a tie counts half.
    let mut wins: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for record in records {
        let model = |id: &str| record.generations.iter().find(|g| g.id == id).map(|g| g.model_id.clone()).unwrap_or_default();
        for rating in &record.ratings {
            let answer = match &rating.value {
                RatingValue::KtoThumbs { up: true, .. } => "👍",
                RatingValue::KtoThumbs { up: false, .. } => "👎",
                RatingValue::Likert { score, .. } => ["1", "2", "3", "4", "5"][(*score as usize).clamp(1, 5) - 1],
                RatingValue::Pairwise { a, b, verdict } => {
                    let (score_a, score_b) = match verdict {
                        Verdict::A => (1.0, 0.0),
                        Verdict::B => (0.0, 1.0),
                        Verdict::Tie => (0.5, 0.5),
                        Verdict::BothBad => (0.0, 0.0),
                    };
                    for (id, score) in [(a, score_a), (b, score_b)] {
                        let entry = wins.entry(model(id)).or_default();
                        entry.0 += score;
                        entry.1 += 1;
                    }
                    match verdict {
                        Verdict::A | Verdict::B => "A or B",
                        Verdict::Tie => "tie",
                        Verdict::BothBad => "both bad",
                    }
                }
                RatingValue::Ranking { .. } => "ranking",
            };
            *answers.entry(answer).or_default() += 1;
        }
    }
    let generations: usize = records.iter().map(|r| r.generations.len()).sum();
    let most = answers.values().copied().max().unwrap_or(1).max(1);
    view! {
        <p data-testid="export-counts">{format!("{} prompts · {generations} completions · {} ratings", records.len(), answers.values().sum::<usize>())}</p>
        <h3>"Answers"</h3>
        <ul class="bars" data-testid="answer-chart">
            {answers.into_iter().map(|(answer, count)| view! {
                <li><span class="bar-label">{answer}</span><span class="bar" style=format!("width: {}%", 100 * count / most)></span><span>{count}</span></li>
            }).collect_view()}
        </ul>
        <h3>"Win rate per model (A vs B)"</h3>
        <ul class="bars" data-testid="winrate-chart">
            {wins.into_iter().map(|(model, (won, played))| {
                let rate = if played == 0 { 0.0 } else { won / played as f64 };
                view! { <li><span class="bar-label">{model}</span><span class="bar" style=format!("width: {:.0}%", rate * 100.0)></span><span>{format!("{:.0}% of {played}", rate * 100.0)}</span></li> }
            }).collect_view()}
        </ul>
    }
}
