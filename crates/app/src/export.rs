//! Export: the project's ratings as TRL-ready KTO and DPO datasets, or the
//! raw generations, in JSONL or Parquet, each downloaded with its dataset
//! card, or published to a Hub dataset repo; with counts and small charts of
//! what was rated.

use std::collections::BTreeMap;

use leptos::prelude::*;
use prefab_core::agreement::AgreementPolicy;
use prefab_core::export::binarize::{self, BinarizePolicy, PairStrategy, ScoreSource};
use prefab_core::judge;
use prefab_core::export::card::{CardConfig, DatasetCard};
use prefab_core::export::dpo::{self, DpoOptions};
use prefab_core::export::kto::{self, KtoOptions};
use prefab_core::export::{raw, Style};
use prefab_core::record::{RatingValue, Record, Verdict};
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
    let min_margin = RwSignal::new("0".to_owned());
    let style = RwSignal::new(Style::Standard);
    // `None`: the campaign's policy when collected, else majority.
    let kto_policy = RwSignal::new(None::<AgreementPolicy>);
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
    let kto_options = move || KtoOptions { policy: kto_policy.get_untracked().unwrap_or_else(|| agreement.get_untracked()), style: style.get_untracked() };
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

    let margin = move || match min_margin.get_untracked().trim().parse::<f64>() {
        Ok(margin) if (0.0..=5.0).contains(&margin) => Ok(margin),
        _ => Err("The minimum margin must be a number from 0 to 5.".to_owned()),
    };
    let policy = move |records: &[Record], min_margin: f64| BinarizePolicy {
        source: source.get_untracked().unwrap_or_else(|| dpo_source(records)),
        strategy: strategy.get_untracked(),
        min_margin,
        ..BinarizePolicy::default()
    };
    let download = move |_| {
        let records = records.get_untracked();
        let policy = match margin() {
            Ok(min_margin) => policy(&records, min_margin),
            Err(message) => return outcome.set(Some(Err(message))),
        };
        let (name, table, report) = match kind.get_untracked() {
            Kind::Kto => {
                let export = kto::kto(&records, &kto_options());
                ("kto", export.table, export.report.describe())
            }
            Kind::Dpo => {
                let export = dpo::dpo(&records, &DpoOptions { policy, style: style.get_untracked() });
                ("dpo", export.table, export.report.describe())
            }
            Kind::Raw => {
                let judges = raw_source(&policy);
                ("generations", raw::raw_generations(&records, &judges), format!("Ratings and rationales from {}.", judges.describe()))
            }
        };
        let policies: Vec<String> = provenance().into_iter().chain((!report.is_empty()).then(|| report.clone())).chain(judges_line(&records)).collect();
        let result = write_files(name, &table, &records, policies, parquet.get_untracked()).map(|(file, card)| {
            format!("Downloaded {file} ({} rows) and its card {card}. {report}", table.len())
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
                <label class="choice"><input type="radio" name="kind" data-testid="export-kto" prop:checked=move || kind.get() == Kind::Kto on:change=move |_| kind.set(Kind::Kto) />"KTO: prompt, completion, label (from 👍 Good / 👎 Bad)"</label>
                <label class="choice"><input type="radio" name="kind" data-testid="export-dpo" prop:checked=move || kind.get() == Kind::Dpo on:change=move |_| kind.set(Kind::Dpo) />"DPO: prompt, chosen, rejected (from A vs B, a ranking, 1–5 or 👍 Good / 👎 Bad)"</label>
                <label class="choice"><input type="radio" name="kind" data-testid="export-raw" prop:checked=move || kind.get() == Kind::Raw on:change=move |_| kind.set(Kind::Raw) />
                    "Raw generations, DIBT style: "{raw_columns()}" — the ratings and rationales are the judges' (the judge DPO scores come from, else every judge's mean), null where no judge rated"</label>
            </fieldset>
            <label>
                "Style"
                <select data-testid="export-style" on:change=move |event| style.set(if event_target_value(&event) == "conversational" { Style::Conversational } else { Style::Standard })>
                    <option value="standard">"Standard: prompt and completions as text"</option>
                    <option value="conversational">"Conversational: lists of {role, content} messages"</option>
                </select>
            </label>
            <label>
                "KTO labels from several people"
                <select data-testid="export-kto-policy" on:change=move |event| kto_policy.set(match event_target_value(&event).as_str() {
                    "majority" => Some(AgreementPolicy::Majority),
                    "full" => Some(AgreementPolicy::Unanimous),
                    _ => None,
                })>
                    <option value="auto">{move || format!("As the campaign says, else majority ({})", agreement.get().describe())}</option>
                    <option value="majority">"Majority vote (ties dropped)"</option>
                    <option value="full">"Full agreement only"</option>
                </select>
            </label>
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
                    "panel" => Some(ScoreSource::Judge { aspect: None, judge: None }),
                    "auto" => None,
                    label => Some(ScoreSource::Judge { aspect: None, judge: Some(label.trim_start_matches("judge:").to_owned()) }),
                })>
                    <option value="auto">"What was rated (A vs B, else ranking, else 1–5, else 👍 Good / 👎 Bad, else the judges)"</option>
                    <option value="pairwise">"A vs B answers"</option>
                    <option value="ranking">"Rankings"</option>
                    <option value="likert">"1–5 scores"</option>
                    <option value="thumbs">"👍 Good / 👎 Bad"</option>
                    <option value="panel">"Judges: the mean of every judge"</option>
                    {move || judge::labels(&records.get()).into_iter().map(|label| view! { <option value=format!("judge:{label}")>{format!("Judge: {label}")}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Minimum score margin between chosen and rejected"
                <input data-testid="export-margin" inputmode="decimal" prop:value=min_margin on:input=move |event| min_margin.set(event_target_value(&event)) />
            </label>
            <label class="choice"><input type="checkbox" data-testid="export-parquet" prop:checked=parquet on:change=move |event| parquet.set(event_target_checked(&event)) />"Parquet (else JSONL)"</label>
            <div class="buttons"><button type="button" data-testid="export-download" on:click=download>"Download"</button></div>
            {move || outcome.get().map(|outcome| match outcome {
                Ok(message) => view! { <p role="status" data-testid="export-outcome">{message}</p> }.into_any(),
                Err(message) => view! { <p role="alert" class="error" data-testid="export-outcome">{message}</p> }.into_any(),
            })}
        </section>
        <PublishPanel records tables=Callback::new(move |records: Vec<Record>| {
            // Publish has no place for the margin's error: an unreadable margin is 0 there, as before.
            let policy = policy(&records, margin().unwrap_or(0.0));
            let (configs, mut policies) = publishable(&records, policy, kto_options());
            policies.extend(provenance());
            policies.extend(judges_line(&records));
            (configs, policies)
        }) />
        <section class="panel" aria-labelledby="counts-title">
            <h2 id="counts-title">"What was rated"</h2>
            {move || charts(&records.get())}
            {move || judge_charts(&records.get())}
        </section>
    }
}

/// The raw export's columns as the file has them, each as code.
fn raw_columns() -> impl IntoView {
    raw::COLUMNS
        .iter()
        .enumerate()
        .map(|(index, column)| view! { {(index > 0).then_some(", ")}<code>{*column}</code> })
        .collect_view()
}

/// What Publish sends: KTO, DPO with `policy`, and the raw generations, with
/// the card's lines on how the rows were made.
fn publishable(records: &[Record], policy: BinarizePolicy, kto_options: KtoOptions) -> (Vec<PublishedConfig>, Vec<String>) {
    let kto = kto::kto(records, &kto_options);
    let dpo = dpo::dpo(records, &DpoOptions { policy: policy.clone(), style: kto_options.style });
    let policies = vec![format!("KTO: {}", kto.report.describe()), format!("DPO: {} {}", policy.describe(), dpo.report.describe())];
    let configs = vec![
        PublishedConfig { name: "kto".into(), table: kto.table, description: "TRL KTO rows: prompt, completion, label".into() },
        PublishedConfig { name: "dpo".into(), table: dpo.table, description: "TRL DPO pairs: prompt, chosen, rejected".into() },
        PublishedConfig { name: "generations".into(), table: raw::raw_generations(records, &raw_source(&policy)), description: "every generation with its model, prompt as given, and ratings (the DIBT raw format)".into() },
    ];
    (configs, policies)
}

/// DPO pairs come from A-vs-B answers when there are any, else rankings,
/// else 1–5, else thumbs, else the mean of the judges.
fn dpo_source(records: &[Record]) -> ScoreSource {
    let has = |wanted: fn(&RatingValue) -> bool| records.iter().flat_map(|r| &r.ratings).any(|rating| wanted(&rating.value));
    if has(|value| matches!(value, RatingValue::Pairwise { .. })) {
        ScoreSource::Pairwise
    } else if has(|value| matches!(value, RatingValue::Ranking { .. })) {
        ScoreSource::Ranking
    } else if has(|value| matches!(value, RatingValue::Likert { .. })) {
        ScoreSource::Likert
    } else if has(|value| matches!(value, RatingValue::KtoThumbs { .. })) || judge::labels(records).is_empty() {
        ScoreSource::Thumbs
    } else {
        ScoreSource::Judge { aspect: None, judge: None }
    }
}

/// The raw export's ratings: the judges DPO reads, else every judge's mean
/// (the DIBT columns are a judge's).
fn raw_source(policy: &BinarizePolicy) -> ScoreSource {
    match &policy.source {
        judge @ ScoreSource::Judge { .. } => judge.clone(),
        _ => ScoreSource::Judge { aspect: None, judge: None },
    }
}

/// The card's line naming the judges, their prompt and how they rated.
fn judges_line(records: &[Record]) -> Option<String> {
    let labels = judge::labels(records);
    (!labels.is_empty()).then(|| {
        format!(
            "Judges (model · mode · aspect), asked with Prefab's UltraFeedback prompt {}: {}. A critique judge wrote a rating and a rationale; a logit judge's rating is the expected value of its probabilities of \"1\"…\"5\".",
            judge::PROMPT_VERSION,
            labels.join("; ")
        )
    })
}

/// Each judge's ratings as bars, and how far judges agree with each other
/// and with people.
fn judge_charts(records: &[Record]) -> impl IntoView {
    let distributions = judge::distribution(records);
    if distributions.is_empty() {
        return ().into_any();
    }
    let labels: Vec<String> = distributions.keys().cloned().collect();
    let scores: Vec<std::collections::HashMap<String, f64>> = labels
        .iter()
        .map(|label| binarize::scores_by_generation(records, &ScoreSource::Judge { aspect: None, judge: Some(label.clone()) }))
        .collect();
    let mut pairs = Vec::new();
    for i in 0..labels.len() {
        for j in i + 1..labels.len() {
            pairs.push((format!("{} vs {}", labels[i], labels[j]), judge::agreement_between(&scores[i], &scores[j])));
        }
    }
    // People's scores on the same 1–5 footing where they rated 1–5, else the share of 👍.
    let people_source = if records.iter().flat_map(|r| &r.ratings).any(|r| matches!(r.value, RatingValue::Likert { .. })) { ScoreSource::Likert } else { ScoreSource::Thumbs };
    let people = binarize::scores_by_generation(records, &people_source);
    if !people.is_empty() {
        for (label, judged) in labels.iter().zip(&scores) {
            pairs.push((format!("{label} vs people"), judge::agreement_between(judged, &people)));
        }
    }
    let alpha = |agreement: &judge::Agreement| match agreement.alpha {
        Some(alpha) if agreement.items > 1 => format!("α = {alpha:.2} over {} completions", agreement.items),
        _ => format!("not enough overlap ({} completions)", agreement.items),
    };
    view! {
        <h3>"Judges' ratings"</h3>
        {distributions.into_iter().map(|(label, found)| {
            let most = found.counts.iter().copied().max().unwrap_or(1).max(1);
            view! {
                <h4>{format!("{label}: mean {}, {} unparsed", found.mean.map_or("–".to_owned(), |m| format!("{m:.2}")), found.unparsed)}</h4>
                <ul class="bars" data-testid="judge-chart">
                    {found.counts.into_iter().enumerate().map(|(i, count)| view! {
                        <li><span class="bar-label">{format!("{}", i + 1)}</span><span class="bar" style=format!("width: {}%", 100 * count / most)></span><span>{count}</span></li>
                    }).collect_view()}
                </ul>
            }
        }).collect_view()}
        {(!pairs.is_empty()).then(|| view! {
            <h3>"Agreement (Krippendorff's α, interval)"</h3>
            <ul data-testid="judge-agreement">{pairs.into_iter().map(|(name, agreement)| view! { <li>{format!("{name}: {}", alpha(&agreement))}</li> }).collect_view()}</ul>
        })}
    }
    .into_any()
}

/// Builds the file and its card and hands both to the browser as downloads;
/// returns their names. The card is named after the file
/// (`generations.jsonl` → `generations.README.md`), so the cards of several
/// exports in one downloads folder neither overwrite each other nor become
/// `README (1).md`; it is the repo's `README.md` once uploaded.
fn write_files(name: &str, table: &Table, records: &[Record], policies: Vec<String>, parquet: bool) -> Result<(String, String), String> {
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
    let card_file = card_file_name(name);
    save_as(&file, &bytes)?;
    save_as(&card_file, card.render().as_bytes())?;
    Ok((file, card_file))
}

/// The card's file name for the export `name` (`kto`, `dpo`, `generations`).
fn card_file_name(name: &str) -> String {
    format!("{name}.README.md")
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
                RatingValue::KtoThumbs { up: true, .. } => "👍 Good",
                RatingValue::KtoThumbs { up: false, .. } => "👎 Bad",
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
