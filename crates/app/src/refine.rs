//! Build's steps after the pool: improve the completions with EvolQuality,
//! then rate them with judges (UltraFeedback critiques, or the local model's
//! logit judge). Each step has its settings, its run (resumable, like the
//! pool's) and what it produced, shown as text.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::judge::{Judge, Structured};
use prefab_core::pool_plan::PoolModel;
use prefab_core::record::{Aspect, JudgeMode, ParseStatus};
use prefab_core::tasks::evol_quality::{EvolQuality, Mutation};

use crate::build::RunControls;
use crate::local_model::{LocalModel, ModelState};
use crate::pool_run::Runs;
use crate::project::{self, ItemState, Project};

/// How many rows the rewrites and judgments tables show.
const ROWS_SHOWN: usize = 100;

/// The model choices: the local model, then each endpoint of Settings.
#[component]
fn ModelSelect(testid: &'static str, selected: Signal<PoolModel>, on_pick: Callback<PoolModel>) -> impl IntoView {
    let endpoints = LocalResource::new(crate::endpoints::load_endpoints);
    let pick = move |event: leptos::ev::Event| {
        let value = event_target_value(&event);
        on_pick.run(if value == "local" { PoolModel::Local } else { PoolModel::Hosted { endpoint: value } });
    };
    view! {
        <label>
            "Model"
            <select data-testid=testid on:change=pick>
                <option value="local" selected=move || selected.get() == PoolModel::Local>"Local model (this page)"</option>
                {move || endpoints.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|endpoint| {
                    let label = endpoint.label();
                    let is_selected = {
                        let label = label.clone();
                        move || selected.get() == PoolModel::Hosted { endpoint: label.clone() }
                    };
                    view! { <option value=label.clone() selected=is_selected>{label.clone()}</option> }
                }).collect_view()}
            </select>
        </label>
    }
}

/// The local model as its generations name it, for descriptions (tracked).
pub(crate) fn local_name(model: LocalModel) -> String {
    model.state.track();
    model.names.track();
    match model.state.get_untracked() {
        ModelState::Ready { .. } => format!("local: {}", model.generation_model_id()),
        _ => "local model".to_owned(),
    }
}

/// Whether any completion is there to improve or judge.
fn has_completions(project: Project) -> bool {
    project.items.with(|items| items.values().any(|state| matches!(state, ItemState::Done { .. })))
}

/// A whole number typed in a field, within `range`, or an error naming the field.
fn whole_number(text: &str, field: &str, range: std::ops::RangeInclusive<u32>) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(number) if range.contains(&number) => Ok(number),
        _ => Err(format!("{field} must be a whole number from {} to {}.", range.start(), range.end())),
    }
}

/// EvolQuality: settings, run, and the rewrites made.
#[component]
pub fn EvolPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let run = expect_context::<Runs>().evol;
    let model = expect_context::<LocalModel>();
    let problem = RwSignal::new(None::<String>);
    let evolutions = RwSignal::new(String::new());
    let max_tokens = RwSignal::new(String::new());
    // The fields show the stored settings once they are read, and from then
    // on what the person types (a save landing must not reset a field mid-edit).
    Effect::new(move |_| {
        if project.loaded.get() {
            let evol = project.evol.get_untracked();
            evolutions.set(evol.num_evolutions.to_string());
            max_tokens.set(evol.max_new_tokens.to_string());
        }
    });
    let save = move |change: Box<dyn FnOnce(&mut EvolQuality) -> Result<(), String>>| {
        let mut evol = project.evol.get_untracked();
        match change(&mut evol) {
            Ok(()) => {
                // Cleared now, not when the write ends: a slower earlier write must not clear a newer error.
                problem.set(None);
                spawn_local(async move {
                    if let Err(error) = project::save_evol(project, evol).await {
                        problem.set(Some(error.to_string()));
                    }
                });
            }
            Err(message) => problem.set(Some(message)),
        }
    };
    let toggle_mutation = move |mutation: Mutation, on: bool| {
        save(Box::new(move |evol| {
            evol.mutations.retain(|kept| *kept != mutation);
            if on {
                evol.mutations.push(mutation);
                evol.mutations.sort_by_key(|m| Mutation::ALL.iter().position(|all| all == m));
            }
            if evol.mutations.is_empty() {
                return Err("Choose at least one mutation.".to_owned());
            }
            Ok(())
        }))
    };
    let rows = move || {
        let prompts = project.prompts.get();
        let mut rows: Vec<(String, ItemState)> = project.items.with(|items| items.iter().filter(|(key, _)| key.contains("/evol/")).map(|(key, state)| (key.clone(), state.clone())).collect());
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let total = rows.len();
        let shown = rows.into_iter().take(ROWS_SHOWN).map(|(key, state)| {
            let prompt_id = key.split('/').next().unwrap_or_default();
            let prompt = prompts.iter().find(|p| p.id == prompt_id).map(|p| p.text.clone()).unwrap_or_default();
            let (status, mutation, text) = match state {
                ItemState::Done { generation } => ("done", generation.evolved_from.map(|from| from.mutation).unwrap_or_default(), generation.text),
                ItemState::Failed { reason } => ("failed", String::new(), reason),
                ItemState::Running { .. } => ("running", String::new(), run.live.with(|live| live.get(&key).cloned().unwrap_or_default())),
                _ => ("pending", String::new(), String::new()),
            };
            let retry_key = key.clone();
            let retry = move |_| run.retry(project, model, retry_key.clone());
            view! {
                <tr data-testid="evol-row" data-state=status>
                    <td>{prompt}</td>
                    <td>{mutation}</td>
                    <td class="completion">{text}</td>
                    <td>{status}{(status == "failed").then(|| view! { <button type="button" on:click=retry>"Retry"</button> })}</td>
                </tr>
            }
        }).collect_view();
        (shown, (total > ROWS_SHOWN).then(|| view! { <p class="hint">{format!("The first {ROWS_SHOWN} of {total} rewrites.")}</p> }))
    };

    view! {
        <section class="panel" aria-labelledby="evol-title" data-testid="evol-panel">
            <h2 id="evol-title">"Improve (EvolQuality)"</h2>
            <p class="hint">"A model rewrites each completion to be better, by a mutation drawn per round; each round rewrites the last rewrite. Rewrites are new completions that name their original and mutation."</p>
            <ModelSelect testid="evol-model" selected=Signal::derive(move || project.evol.with(|evol| evol.model.clone())) on_pick=Callback::new(move |model| save(Box::new(move |evol| { evol.model = model; Ok(()) }))) />
            <fieldset>
                <legend>"Mutations"</legend>
                {Mutation::ALL.into_iter().map(|mutation| view! {
                    <label class="choice">
                        <input type="checkbox" data-testid=format!("evol-mutation-{}", mutation.name())
                            prop:checked=move || project.evol.with(|evol| evol.mutations.contains(&mutation))
                            on:change=move |event| toggle_mutation(mutation, event_target_checked(&event)) />
                        {mutation.method()}
                    </label>
                }).collect_view()}
            </fieldset>
            <label>"Rounds (num_evolutions)"
                <input data-testid="evol-rounds" inputmode="numeric" prop:value=evolutions on:input=move |e| evolutions.set(event_target_value(&e))
                    on:change=move |_| save(Box::new(move |evol| { evol.num_evolutions = whole_number(&evolutions.get_untracked(), "Rounds", 1..=5)?; Ok(()) })) />
            </label>
            <label>"Max tokens of a rewrite"
                <input data-testid="evol-max-tokens" inputmode="numeric" prop:value=max_tokens on:input=move |e| max_tokens.set(event_target_value(&e))
                    on:change=move |_| save(Box::new(move |evol| { evol.max_new_tokens = whole_number(&max_tokens.get_untracked(), "Max tokens", 1..=4096)?; Ok(()) })) />
            </label>
            <label class="choice"><input type="checkbox" data-testid="evol-keep-all" prop:checked=move || project.evol.with(|evol| evol.keep_evolutions)
                on:change=move |event| { let on = event_target_checked(&event); save(Box::new(move |evol| { evol.keep_evolutions = on; Ok(()) })) } />"Keep every round's rewrite (else only the last)"</label>
            <label class="choice"><input type="checkbox" data-testid="evol-keep-original" prop:checked=move || project.evol.with(|evol| evol.include_original)
                on:change=move |event| { let on = event_target_checked(&event); save(Box::new(move |evol| { evol.include_original = on; Ok(()) })) } />"Keep the original completion beside its rewrites"</label>
            {move || problem.get().map(|message| view! { <p class="error" role="alert" data-testid="evol-settings-problem">{message}</p> })}
            <RunControls run testid="evol" blocked=Signal::derive(move || (!has_completions(project)).then_some("Run the pool first: there are no completions to rewrite.")) />
            <div class="table-scroll" tabindex="0" role="region" aria-label="The rewrites">
                <table class="results" data-testid="evol-results">
                    <thead><tr><th scope="col">"Prompt"</th><th scope="col">"Mutation"</th><th scope="col">"Rewrite"</th><th scope="col">"State"</th></tr></thead>
                    <tbody>{move || rows().0}</tbody>
                </table>
            </div>
            {move || rows().1}
        </section>
    }
}

/// The judges: the panel, its run, and what each judge said.
#[component]
pub fn JudgesPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let model = expect_context::<LocalModel>();
    let run = expect_context::<Runs>().judge;
    let problem = RwSignal::new(None::<String>);
    let choice = RwSignal::new(PoolModel::Local);
    let mode = RwSignal::new(JudgeMode::Critique);
    let aspect = RwSignal::new(Aspect::OverallRating);
    let structured = RwSignal::new(Structured::Off);
    let save = move |judges: Vec<Judge>| {
        problem.set(None);
        spawn_local(async move {
            if let Err(error) = project::save_judges(project, judges).await {
                problem.set(Some(error.to_string()));
            }
        })
    };
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let model = choice.get_untracked();
        let mode = mode.get_untracked();
        if mode == JudgeMode::Logit && model != PoolModel::Local {
            return problem.set(Some("A logit judge reads the next token's probabilities, which only the local model gives: choose the local model, or a critique.".to_owned()));
        }
        let mut judges = project.judges.get_untracked();
        let next = judges.iter().filter_map(|judge| judge.id.strip_prefix('j')?.parse::<u32>().ok()).max().map_or(1, |n| n + 1);
        let structured = if mode == JudgeMode::Critique && model != PoolModel::Local { structured.get_untracked() } else { Structured::Off };
        judges.push(Judge { id: format!("j{next}"), model, mode, aspect: aspect.get_untracked(), structured });
        save(judges);
    };
    let remove = move |index: usize| {
        let mut judges = project.judges.get_untracked();
        judges.remove(index);
        save(judges);
    };
    let rows = move || {
        let prompts = project.prompts.get();
        let judges = project.judges.get();
        let mut rows: Vec<(String, ItemState)> = project.items.with(|items| items.iter().filter(|(key, _)| key.contains("/judge-")).map(|(key, state)| (key.clone(), state.clone())).collect());
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        rows.into_iter().take(ROWS_SHOWN).map(|(key, state)| {
            let mut parts = key.split('/');
            let prompt_id = parts.next().unwrap_or_default();
            let judge_id = parts.next().unwrap_or_default().trim_start_matches("judge-");
            let prompt = prompts.iter().find(|p| p.id == prompt_id).map(|p| p.text.clone()).unwrap_or_default();
            let judge = judges.iter().find(|judge| judge.id == judge_id).map(|judge| judge.describe(&local_name(model))).unwrap_or_else(|| judge_id.to_owned());
            let retry_key = key.clone();
            let (status, said) = match state {
                ItemState::Judged { judgments } => {
                    let unparsed = judgments.iter().any(|j| j.judgment.status != ParseStatus::Parsed);
                    let said = judgments.into_iter().map(|judged| {
                        let j = judged.judgment;
                        match &j.status {
                            ParseStatus::Parsed => view! {
                                <li data-testid="judgment" data-state="parsed">
                                    {format!("{:.2}", j.rating.unwrap_or_default())}
                                    {j.confidence.map(|c| format!(" (confidence {:.0}%)", c * 100.0))}
                                    {j.rationale.map(|r| format!(" — {r}"))}
                                </li>
                            }.into_any(),
                            ParseStatus::Failed { reason } => view! {
                                <li data-testid="judgment" data-state="unparsed">
                                    {format!("unparsed: {reason}")}
                                    <details><summary>"What the judge said"</summary><pre class="raw-output">{j.raw_output.clone()}</pre></details>
                                </li>
                            }.into_any(),
                        }
                    }).collect_view();
                    (if unparsed { "unparsed" } else { "judged" }, view! { <ul class="judgments">{said}</ul> }.into_any())
                }
                ItemState::Failed { reason } => ("failed", view! { <span>{reason}</span> }.into_any()),
                ItemState::Running { .. } => ("running", view! { <span>{move || run.live.with(|live| live.get(&key).cloned().unwrap_or_default())}</span> }.into_any()),
                _ => ("pending", ().into_any()),
            };
            view! {
                <tr data-testid="judge-row" data-state=status>
                    <td>{prompt}</td>
                    <td>{judge}</td>
                    <td>{said}</td>
                    <td>{status}{(status == "failed").then(|| view! { <button type="button" data-testid="judge-retry" on:click=move |_| run.retry(project, model, retry_key.clone())>"Retry"</button> })}</td>
                </tr>
            }
        }).collect_view()
    };

    view! {
        <section class="panel" aria-labelledby="judges-title" data-testid="judges-panel">
            <h2 id="judges-title">"Judges"</h2>
            <p class="hint">"A critique judge writes a 1–5 rating and a rationale for every completion of a prompt (UltraFeedback); a logit judge reads the local model's probabilities of \"1\"…\"5\" in one pass, without writing anything. Export can build DPO pairs from their scores."</p>
            <ul class="endpoint-list" data-testid="judge-list">
                {move || project.judges.get().into_iter().enumerate().map(|(index, judge)| view! {
                    <li data-testid="judge-entry">
                        <span class="endpoint-label">{judge.describe(&local_name(model))}</span>
                        <button type="button" on:click=move |_| remove(index) aria-label=format!("Remove judge {}", index + 1)>"Remove"</button>
                    </li>
                }).collect_view()}
            </ul>
            <form class="endpoint-form" on:submit=add>
                <ModelSelect testid="judge-model" selected=choice.into() on_pick=Callback::new(move |picked| choice.set(picked)) />
                <label>"Mode"
                    <select data-testid="judge-mode" on:change=move |event| mode.set(if event_target_value(&event) == "logit" { JudgeMode::Logit } else { JudgeMode::Critique })>
                        <option value="critique">"Critique: a rating and a rationale (UltraFeedback)"</option>
                        <option value="logit">"Logit: probabilities of 1–5 (local model, fast)"</option>
                    </select>
                </label>
                <label>"Aspect"
                    <select data-testid="judge-aspect" on:change=move |event| {
                        let value = event_target_value(&event);
                        if let Some(picked) = Aspect::ALL.into_iter().find(|a| a.as_str() == value) { aspect.set(picked) }
                    }>
                        {Aspect::ALL.into_iter().map(|a| view! { <option value=a.as_str() selected=a == Aspect::OverallRating>{a.as_str()}</option> }).collect_view()}
                    </select>
                </label>
                <label>"Structured output (hosted critique)"
                    <select data-testid="judge-structured" on:change=move |event| structured.set(match event_target_value(&event).as_str() {
                        "json_schema" => Structured::JsonSchema,
                        "json_object" => Structured::JsonObject,
                        _ => Structured::Off,
                    })>
                        <option value="off">"Off: text sections"</option>
                        <option value="json_schema">"JSON schema (OpenAI, vLLM, TGI, llama.cpp server)"</option>
                        <option value="json_object">"JSON object with schema (llama-cpp-python)"</option>
                    </select>
                </label>
                <div class="buttons"><button type="submit" data-testid="judge-add">"Add judge"</button></div>
            </form>
            {move || problem.get().map(|message| view! { <p class="error" role="alert" data-testid="judge-settings-problem">{message}</p> })}
            <RunControls run testid="judge" blocked=Signal::derive(move || {
                if !has_completions(project) {
                    Some("Run the pool first: there are no completions to judge.")
                } else if project.judges.with(Vec::is_empty) {
                    Some("Add a judge first.")
                } else {
                    None
                }
            }) />
            <div class="table-scroll" tabindex="0" role="region" aria-label="The judgments">
                <table class="results" data-testid="judge-results">
                    <thead><tr><th scope="col">"Prompt"</th><th scope="col">"Judge"</th><th scope="col">"Ratings"</th><th scope="col">"State"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}
