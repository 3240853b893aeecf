//! Build: bring prompts (demo, pasted, or a file in any format the core
//! reads), configure the model pool, run it, and watch the results come in.
//!
//! Prompts and model output are shown as text, never as HTML.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::pool_plan::{PoolEntry, PoolModel, DEMO_PROMPTS};
use prefab_core::prompt_import::{read_source, ColumnMapping, SourceTable};
use prefab_core::record::Prompt;
use wasm_bindgen_futures::JsFuture;

use crate::local_model::{LocalModel, ModelState};
use crate::pool_run::{PoolRun, RunState};
use crate::project::{self, ItemState, Project};

/// The Build place.
#[component]
pub fn Build() -> impl IntoView {
    view! {
        <PromptsPanel />
        <PoolPanel />
        <RunPanel />
    }
}

/// Shows a storage or input problem under a panel.
fn report(slot: RwSignal<Option<String>>, outcome: Result<(), String>) {
    slot.set(outcome.err());
}

#[component]
fn PromptsPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let problem = RwSignal::new(None::<String>);
    let pasted = RwSignal::new(String::new());
    let source = RwSignal::new(None::<SourceTable>);
    let column = RwSignal::new(0usize);
    let picked = NodeRef::<leptos::html::Input>::new();

    let replace = move |prompts: Vec<Prompt>| spawn_local(async move { report(problem, project::save_prompts(project, prompts).await) });
    let use_demo = move |_| replace(DEMO_PROMPTS.iter().map(|text| Prompt::new(*text)).collect());
    let add_pasted = move |_| {
        let mut prompts = project.prompts.get_untracked();
        for line in pasted.get_untracked().lines().map(str::trim).filter(|line| !line.is_empty()) {
            let prompt = Prompt::new(line);
            if !prompts.iter().any(|existing| existing.id == prompt.id) {
                prompts.push(prompt);
            }
        }
        pasted.set(String::new());
        replace(prompts);
    };
    let read_file = move |_| {
        let Some(file) = picked.get_untracked().and_then(|input| input.files()).and_then(|files| files.get(0)) else { return };
        spawn_local(async move {
            let name = file.name();
            let bytes = match JsFuture::from(file.array_buffer()).await {
                Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
                Err(error) => return problem.set(Some(format!("could not read {name}: {error:?}"))),
            };
            match read_source(&bytes, &name, None) {
                Ok(table) => {
                    let suggested = table
                        .suggest_mapping()
                        .ok()
                        .and_then(|mapping| table.columns().iter().position(|c| c.name == mapping.prompt))
                        .unwrap_or(0);
                    column.set(suggested);
                    source.set(Some(table));
                    problem.set(None);
                }
                Err(error) => {
                    source.set(None);
                    problem.set(Some(error.to_string()));
                }
            }
        });
    };
    let take_file = move |_| {
        let Some(table) = source.get_untracked() else { return };
        let Some(name) = table.columns().get(column.get_untracked()).map(|c| c.name.clone()) else { return };
        match table.prompts(&ColumnMapping::prompt(&name)) {
            Ok(imported) => {
                let mut prompts = project.prompts.get_untracked();
                for prompt in imported.prompts {
                    if !prompts.iter().any(|existing| existing.id == prompt.id) {
                        prompts.push(prompt);
                    }
                }
                source.set(None);
                replace(prompts);
            }
            Err(error) => problem.set(Some(error.to_string())),
        }
    };

    view! {
        <section class="panel" aria-labelledby="prompts-title" data-testid="prompts-panel">
            <h2 id="prompts-title">"Prompts"</h2>
            <div class="buttons">
                <button type="button" data-testid="use-demo" on:click=use_demo>"Use the 10 demo prompts"</button>
                <button type="button" data-testid="clear-prompts" on:click=move |_| replace(Vec::new())>"Clear prompts"</button>
            </div>
            <label>
                "Paste prompts, one per line"
                <textarea rows="3" data-testid="paste-prompts" prop:value=pasted
                    on:input=move |event| pasted.set(event_target_value(&event))></textarea>
            </label>
            <div class="buttons">
                <button type="button" data-testid="add-pasted" on:click=add_pasted>"Add pasted prompts"</button>
            </div>
            <label>
                "Or a file: JSONL, JSON, CSV, TSV, Parquet or text"
                <input type="file" data-testid="prompt-file" node_ref=picked on:change=read_file
                    accept=".jsonl,.json,.csv,.tsv,.parquet,.txt" />
            </label>
            {move || source.get().map(|table| view! { <FilePreview table column /> <div class="buttons"><button type="button" data-testid="use-file" on:click=take_file>"Use this column"</button></div> })}
            {move || problem.get().map(|message| view! { <p class="error" role="alert" data-testid="prompts-error">{message}</p> })}
            <p data-testid="prompt-count">{move || format!("{} prompts", project.prompts.with(Vec::len))}</p>
            <ol class="prompt-list">
                {move || project.prompts.get().into_iter().take(10).map(|prompt| view! { <li>{prompt.text}</li> }).collect_view()}
            </ol>
        </section>
    }
}

/// The columns of a file just read, the chosen one's first rows.
#[component]
fn FilePreview(table: SourceTable, column: RwSignal<usize>) -> impl IntoView {
    let names: Vec<String> = table.columns().iter().map(|c| c.name.clone()).collect();
    let rows = table.len();
    let preview = move || {
        let index = column.get();
        (0..rows.min(5)).map(|row| view! { <li>{{ let cell = table.cell(row, index); cell.as_str().map(str::to_owned).unwrap_or_else(|| cell.describe()) }}</li> }).collect_view()
    };
    view! {
        <label>
            "Prompt column"
            <select data-testid="prompt-column" on:change=move |event| column.set(event_target_value(&event).parse().unwrap_or(0))>
                {names.into_iter().enumerate().map(|(index, name)| view! {
                    <option value=index.to_string() selected=move || column.get() == index>{name}</option>
                }).collect_view()}
            </select>
        </label>
        <p class="hint">{format!("{rows} rows; the first ones:")}</p>
        <ul class="preview" data-testid="prompt-preview">{preview}</ul>
    }
}

#[component]
fn PoolPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let model = expect_context::<LocalModel>();
    let problem = RwSignal::new(None::<String>);
    let endpoints = LocalResource::new(|| crate::endpoints::load_endpoints());
    let choice = RwSignal::new("local".to_owned());
    let system = RwSignal::new(String::new());
    let temperature = RwSignal::new("0.7".to_owned());
    let top_p = RwSignal::new("0.9".to_owned());
    let max_tokens = RwSignal::new("128".to_owned());
    let samples = RwSignal::new("1".to_owned());

    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let number = |signal: RwSignal<String>, name: &str| -> Result<f64, String> {
            signal.get_untracked().trim().parse::<f64>().map_err(|_| format!("{name} must be a number"))
        };
        let entry = (|| -> Result<PoolEntry, String> {
            let temperature = number(temperature, "Temperature")?;
            let top_p = number(top_p, "top_p")?;
            let max_new_tokens = number(max_tokens, "Max tokens")?;
            let generations = number(samples, "Generations per prompt")?;
            if !(0.0..=2.0).contains(&temperature) || !(0.0..=1.0).contains(&top_p) || max_new_tokens < 1.0 || generations < 1.0 {
                return Err("Temperature is 0–2, top_p 0–1, max tokens and generations at least 1.".to_owned());
            }
            let pool = project.pool.get_untracked();
            let next = pool.iter().filter_map(|entry| entry.id.strip_prefix('m')?.parse::<u32>().ok()).max().map_or(1, |n| n + 1);
            let choice = choice.get_untracked();
            Ok(PoolEntry {
                id: format!("m{next}"),
                model: if choice == "local" { PoolModel::Local } else { PoolModel::Hosted { endpoint: choice } },
                system_prompt: Some(system.get_untracked()).filter(|text| !text.trim().is_empty()),
                temperature,
                top_p,
                max_new_tokens: max_new_tokens as u32,
                generations_per_prompt: generations as u32,
            })
        })();
        match entry {
            Ok(entry) => {
                let mut pool = project.pool.get_untracked();
                pool.push(entry);
                spawn_local(async move { report(problem, project::save_pool(project, pool).await) });
            }
            Err(message) => problem.set(Some(message)),
        }
    };
    let remove = move |index: usize| {
        let mut pool = project.pool.get_untracked();
        pool.remove(index);
        spawn_local(async move { report(problem, project::save_pool(project, pool).await) });
    };
    let local_name = move || match model.state.get() {
        ModelState::Ready { info, .. } => format!("local: {}", info.name),
        _ => "local model".to_owned(),
    };

    view! {
        <section class="panel" aria-labelledby="pool-title" data-testid="pool-panel">
            <h2 id="pool-title">"Model pool"</h2>
            <ul class="endpoint-list" data-testid="pool-list">
                {move || project.pool.get().into_iter().enumerate().map(|(index, entry)| view! {
                    <li data-testid="pool-entry">
                        <span class="endpoint-label">{entry.describe(&local_name())}</span>
                        {entry.system_prompt.clone().map(|system| view! { <span class="hint">{format!("system: {system}")}</span> })}
                        <button type="button" on:click=move |_| remove(index) aria-label=format!("Remove pool entry {}", index + 1)>"Remove"</button>
                    </li>
                }).collect_view()}
            </ul>
            <form class="endpoint-form" on:submit=add>
                <label>
                    "Model"
                    <select data-testid="pool-model" on:change=move |event| choice.set(event_target_value(&event))>
                        <option value="local">"Local model (this page)"</option>
                        {move || endpoints.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|endpoint| {
                            let label = endpoint.label();
                            view! { <option value=label.clone()>{label.clone()}</option> }
                        }).collect_view()}
                    </select>
                </label>
                <label>"Temperature"<input data-testid="pool-temperature" inputmode="decimal" prop:value=temperature on:input=move |e| temperature.set(event_target_value(&e)) /></label>
                <label>"top_p"<input data-testid="pool-top-p" inputmode="decimal" prop:value=top_p on:input=move |e| top_p.set(event_target_value(&e)) /></label>
                <label>"Max tokens"<input data-testid="pool-max-tokens" inputmode="numeric" prop:value=max_tokens on:input=move |e| max_tokens.set(event_target_value(&e)) /></label>
                <label>"Generations per prompt"<input data-testid="pool-samples" inputmode="numeric" prop:value=samples on:input=move |e| samples.set(event_target_value(&e)) /></label>
                <label>"System prompt (optional)"<input data-testid="pool-system" prop:value=system on:input=move |e| system.set(event_target_value(&e)) /></label>
                <div class="buttons"><button type="submit" data-testid="pool-add">"Add to pool"</button></div>
            </form>
            {move || problem.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
}

#[component]
fn RunPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let model = expect_context::<LocalModel>();
    let run = expect_context::<PoolRun>();
    let state = run.state;
    let progress = run.progress;
    let summary = move || {
        let progress = progress.get();
        let left = progress.seconds_left().map(|s| format!(" · about {:.0} s left", s)).unwrap_or_default();
        format!("{} of {} done · {:.1} tok/s{left}", progress.done, progress.total, progress.tokens_per_second())
    };
    let retry = move |key: String| {
        spawn_local(async move {
            if project::save_item(project, &key, ItemState::Pending).await.is_ok() {
                run.start(project, model);
            }
        })
    };
    view! {
        <section class="panel" aria-labelledby="run-title" data-testid="run-panel">
            <h2 id="run-title">"Run"</h2>
            <div class="buttons">
                <button type="button" data-testid="run-start" on:click=move |_| run.start(project, model)
                    disabled=move || state.get() == RunState::Running || project.prompts.with(Vec::is_empty) || project.pool.with(Vec::is_empty)>
                    {move || if state.get() == RunState::Paused { "Resume" } else { "Run" }}
                </button>
                <button type="button" data-testid="run-pause" on:click=move |_| run.pause() disabled=move || state.get() != RunState::Running>"Pause"</button>
                <button type="button" data-testid="run-cancel" on:click=move |_| run.cancel() disabled=move || state.get() == RunState::Idle>"Cancel"</button>
            </div>
            <progress aria-label="Pool progress" max=move || progress.get().total.max(1) value=move || progress.get().done></progress>
            <p role="status" data-testid="run-status" data-state=move || format!("{:?}", state.get()).to_lowercase()>{summary}</p>
            {move || run.problem.get().map(|message| view! { <p class="error" role="alert" data-testid="run-problem">{message}</p> })}
            <ResultsTable retry />
        </section>
    }
}

/// Every planned item with its prompt, model and completion or failure.
#[component]
fn ResultsTable(retry: impl Fn(String) + Copy + Send + Sync + 'static) -> impl IntoView {
    let project = expect_context::<Project>();
    let run = expect_context::<PoolRun>();
    let rows = move || {
        let prompts = project.prompts.get();
        let pool = project.pool.get();
        let items = project.items.get();
        prefab_core::pool_plan::plan(&prompts, &pool, |_| false)
            .into_iter()
            .map(|item| {
                let key = item.key.clone();
                let live_key = key.clone();
                let state = items.get(&key).cloned();
                let status = match &state {
                    Some(ItemState::Done { .. }) => "done",
                    Some(ItemState::Failed { .. }) => "failed",
                    Some(ItemState::Running { .. }) => "running",
                    _ => "pending",
                };
                let completion = move || match &state {
                    Some(ItemState::Done { generation }) => generation.text.clone(),
                    Some(ItemState::Failed { reason }) => reason.clone(),
                    _ => run.live.with(|live| match live {
                        Some((key, text)) if *key == live_key => text.clone(),
                        _ => String::new(),
                    }),
                };
                let retry_key = key.clone();
                view! {
                    <tr data-testid="result-row" data-state=status>
                        <td>{prompts[item.prompt_index].text.clone()}</td>
                        <td>{format!("{} #{}", pool[item.entry_index].id, item.sample + 1)}</td>
                        <td class="completion">{completion}</td>
                        <td>
                            {status}
                            {(status == "failed").then(|| view! { <button type="button" on:click=move |_| retry(retry_key.clone())>"Retry"</button> })}
                        </td>
                    </tr>
                }
            })
            .collect_view()
    };
    view! {
        <div class="table-scroll">
            <table class="results" data-testid="results">
                <thead><tr><th scope="col">"Prompt"</th><th scope="col">"Model"</th><th scope="col">"Completion"</th><th scope="col">"State"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
