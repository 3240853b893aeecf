//! Build: bring prompts (demo, pasted, a file in any format the core
//! reads, or a Hub dataset), configure the model pool, run it, and watch the results come in.
//!
//! Prompts and model output are shown as text, never as HTML.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::pool_plan::{PoolEntry, PoolModel, Setting, SettingError, DEMO_PROMPTS, MAX_GENERATIONS_PER_PROMPT};
use prefab_core::byte_size::byte_size;
use prefab_core::prompt_import::{ColumnMapping, SourceTable};
use prefab_core::record::Prompt;

use std::cell::Cell;
use std::rc::Rc;

use crate::file_read::{read_table, FileRead, ReadError};
use crate::hub_account::HubAccount;
use crate::pager::{thousands, Pager, Paging};
use crate::hub_import::{HubPicker, HubSource};
use crate::local_model::LocalModel;
use crate::pool_run::{PoolRun, RunState, Runs};
use crate::project::{self, ItemState, Project};

/// The Build place.
#[component]
pub fn Build() -> impl IntoView {
    view! {
        <PromptsPanel />
        <PoolPanel />
        <RunPanel />
        <crate::refine::EvolPanel />
        <crate::refine::JudgesPanel />
        <GuidelinesPanel />
        <crate::campaign_publish::CampaignPublish />
    }
}

/// Shows a storage or input problem under a panel.
fn report(slot: RwSignal<Option<String>>, outcome: Result<(), impl std::fmt::Display>) {
    slot.set(outcome.err().map(|error| error.to_string()));
}

#[component]
fn PromptsPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let problem = RwSignal::new(None::<String>);
    let note = RwSignal::new(None::<String>);
    let pasted = RwSignal::new(String::new());
    let source = RwSignal::new(None::<SourceTable>);
    let columns = FileColumns { prompt: RwSignal::new(0), completion: RwSignal::new(None), model: RwSignal::new(None) };
    let picked = NodeRef::<leptos::html::Input>::new();
    let dragging = RwSignal::new(false);
    let account = expect_context::<HubAccount>();
    let hub_source = RwSignal::new(None::<HubSource>);
    // The cancel flag of a Hub read under way.
    let hub_reading = RwSignal::new_local(None::<Rc<Cell<bool>>>);

    let replace = move |prompts: Vec<Prompt>| spawn_local(async move { report(problem, project::save_prompts(project, prompts).await) });
    // New prompts go after the ones there, each once.
    let add = move |new: Vec<Prompt>| {
        let mut prompts = project.prompts.get_untracked();
        for prompt in new {
            if !prompts.iter().any(|existing| existing.id == prompt.id) {
                prompts.push(prompt);
            }
        }
        replace(prompts);
    };
    let use_demo = move |_| add(DEMO_PROMPTS.iter().map(|text| Prompt::new(*text)).collect());
    let add_pasted = move |_| {
        add(pasted.get_untracked().lines().map(str::trim).filter(|line| !line.is_empty()).map(Prompt::new).collect());
        pasted.set(String::new());
    };
    // Clearing asks first, and can be undone (even after a reload).
    let confirming_clear = RwSignal::new(false);
    let clear = move |_| {
        confirming_clear.set(false);
        spawn_local(async move { report(problem, project::clear_prompts(project).await) });
    };
    let undo_clear = move |_| spawn_local(async move { report(problem, project::restore_prompts(project).await) });
    // Offers a table for the column choice, with the columns guessed.
    let offer = move |table: SourceTable| {
        let position = |name: Option<&str>| name.and_then(|name| table.columns().iter().position(|c| c.name == name));
        let suggested = table.suggest_mapping().ok();
        columns.prompt.set(position(suggested.as_ref().map(|mapping| mapping.prompt.as_str())).unwrap_or(0));
        columns.completion.set(position(table.suggest_completion_column()));
        columns.model.set(position(table.suggest_model_column()));
        source.set(Some(table));
        problem.set(None);
    };
    // The file being read in its worker: its name, bytes read, its size; and how to stop it.
    let reading = RwSignal::new(None::<(String, u64, u64)>);
    let read_handle = StoredValue::new_local(None::<FileRead>);
    let read_file = move |file: web_sys::File| {
        // A second file replaces a read under way.
        if let Some(earlier) = read_handle.get_value() {
            earlier.cancel();
        }
        let name = file.name();
        let size = file.size() as u64;
        problem.set(None);
        note.set(None);
        reading.set(Some((name.clone(), 0, size)));
        let (handle, read) = read_table(file, move |done, total| reading.set(Some((name.clone(), done, total))));
        let this_read = handle.clone();
        read_handle.set_value(Some(handle));
        spawn_local(async move {
            let outcome = read.await;
            // A read a later file replaced says nothing: the later one owns
            // the progress line, its Cancel and the messages (and after
            // Build is left, nothing is shown at all).
            let still_current = read_handle.try_with_value(|now| now.as_ref().is_some_and(|now| now.same(&this_read))).unwrap_or(false);
            if !still_current {
                return;
            }
            reading.set(None);
            read_handle.set_value(None);
            match outcome {
                Ok(table) => {
                    hub_source.set(None);
                    offer(table);
                }
                Err(cancelled @ ReadError::Cancelled { .. }) => note.set(Some(cancelled.to_string())),
                Err(error) => {
                    source.set(None);
                    problem.set(Some(error.to_string()));
                }
            }
        });
    };
    // Leaving Build stops a read under way: its result would have nowhere to go.
    on_cleanup(move || {
        if let Some(Some(handle)) = read_handle.try_get_value() {
            handle.cancel();
        }
    });
    let cancel_read = move |_| {
        if let Some(handle) = read_handle.get_value() {
            handle.cancel();
        }
    };
    let on_hub_preview = Callback::new(move |hub: HubSource| {
        offer(hub.first.table.clone());
        note.set(Some(format!("{} rows in {} {}/{}; the preview shows the first {}.", hub.total(), hub.dataset.as_str(), hub.split.config, hub.split.split, hub.first.table.len())));
        hub_source.set(Some(hub));
    });
    let on_pick = move |_| {
        if let Some(file) = picked.get_untracked().and_then(|input| input.files()).and_then(|files| files.get(0)) {
            read_file(file);
        }
    };
    let on_drop = move |event: leptos::ev::DragEvent| {
        event.prevent_default();
        dragging.set(false);
        if let Some(file) = event.data_transfer().and_then(|transfer| transfer.files()).and_then(|files| files.get(0)) {
            read_file(file);
        }
    };
    let import_table = move |table: SourceTable| {
        let name = |index: usize| table.columns().get(index).map(|c| c.name.clone());
        let Some(prompt_column) = name(columns.prompt.get_untracked()) else { return };
        let mapping = ColumnMapping::prompt(&prompt_column);
        match columns.completion.get_untracked().and_then(name) {
            Some(completion) => {
                let model = columns.model.get_untracked().and_then(name);
                match table.completions(&mapping, &completion, model.as_deref(), js_sys::Date::now() as u64) {
                    Ok(imported) => {
                        let dropped = imported.empty_dropped + imported.duplicates_dropped;
                        let count = imported.generations.len();
                        source.set(None);
                        spawn_local(async move {
                            let saved = project::save_imported(project, imported.prompts, imported.generations).await;
                            if saved.is_ok() {
                                note.set(Some(format!("{count} completions added to rate in Contribute{}.", skipped(dropped))));
                            }
                            report(problem, saved);
                        });
                    }
                    Err(error) => problem.set(Some(error.to_string())),
                }
            }
            None => match table.prompts(&mapping) {
                Ok(imported) => {
                    let dropped = imported.empty_dropped + imported.duplicates_dropped;
                    note.set((dropped > 0).then(|| format!("Prompts added{}.", skipped(dropped))));
                    source.set(None);
                    add(imported.prompts);
                }
                Err(error) => problem.set(Some(error.to_string())),
            },
        }
    };

    let take_file = move |_| {
        let Some(table) = source.get_untracked() else { return };
        let Some(hub) = hub_source.get_untracked() else { return import_table(table) };
        if hub.total() <= table.len() as u64 {
            hub_source.set(None);
            return import_table(table);
        }
        let cancelled = Rc::new(Cell::new(false));
        hub_reading.set(Some(Rc::clone(&cancelled)));
        spawn_local(async move {
            let read = hub.read_all(account, cancelled, |message| note.set(Some(message))).await;
            hub_reading.set(None);
            match read {
                Ok(table) => {
                    hub_source.set(None);
                    note.set(None);
                    import_table(table);
                }
                Err(error) => {
                    note.set(None);
                    problem.set(Some(error.to_string()));
                }
            }
        });
    };
    let cancel_hub = move |_| {
        if let Some(cancelled) = hub_reading.get_untracked() {
            cancelled.set(true);
        }
    };

    view! {
        <section class="panel" aria-labelledby="prompts-title" data-testid="prompts-panel">
            <h2 id="prompts-title">"Prompts"</h2>
            <div class="buttons">
                <button type="button" data-testid="use-demo" on:click=use_demo>"Add the 10 demo prompts"</button>
                <button type="button" data-testid="clear-prompts"
                    on:click=move |_| if project.prompts.with_untracked(Vec::is_empty) { problem.set(Some("There are no prompts to clear.".to_owned())) } else { confirming_clear.set(true) }
                    aria-disabled=move || project.prompts.with(Vec::is_empty).to_string()
                    title=move || project.prompts.with(Vec::is_empty).then_some("There are no prompts to clear")
                    hidden=confirming_clear>"Clear prompts"</button>
            </div>
            {move || (confirming_clear.get() && !project.prompts.with(Vec::is_empty)).then(|| view! {
                <div class="confirm" role="alertdialog" aria-labelledby="clear-question" data-testid="clear-confirm">
                    <p id="clear-question">{format!("Remove all {} prompts from the project? Their completions and ratings stay stored, and Undo brings them back.", project.prompts.with_untracked(Vec::len))}</p>
                    <div class="buttons">
                        <button type="button" class="danger" data-testid="clear-confirm-yes" on:click=clear>"Remove the prompts"</button>
                        <button type="button" data-testid="clear-confirm-no" on:click=move |_| confirming_clear.set(false)>"Keep them"</button>
                    </div>
                </div>
            })}
            {move || { let removed = project.removed_prompts.with(Vec::len); (removed > 0).then(|| view! {
                <p role="status" data-testid="clear-undo-note">
                    {format!("{removed} prompts were removed. ")}
                    <button type="button" data-testid="clear-undo" on:click=undo_clear>"Undo: bring them back"</button>
                </p>
            }) }}
            <label>
                "Paste prompts, one per line"
                <textarea rows="3" data-testid="paste-prompts" prop:value=pasted
                    on:input=move |event| pasted.set(event_target_value(&event))></textarea>
            </label>
            <div class="buttons">
                <button type="button" data-testid="add-pasted" on:click=add_pasted>"Add pasted prompts"</button>
            </div>
            <div class="drop-zone" data-testid="drop-zone" class:dragging=dragging
                on:dragover=move |event: leptos::ev::DragEvent| { event.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=on_drop>
                <label>
                    "Or drop a file here, or pick one: JSONL, JSON, CSV, TSV, Parquet or text"
                    <input type="file" data-testid="prompt-file" node_ref=picked on:change=on_pick
                        accept=".jsonl,.json,.csv,.tsv,.parquet,.txt" />
                </label>
            </div>
            {move || reading.get().map(|(name, done, total)| view! {
                <p role="status" data-testid="file-reading">
                    {format!("Reading {name}: {} of {}… ", byte_size(done as f64), byte_size(total as f64))}
                    <button type="button" data-testid="file-read-cancel" on:click=cancel_read>"Cancel"</button>
                </p>
            })}
            <HubPicker on_preview=on_hub_preview />
            {move || source.get().map(|table| view! {
                <FilePreview table columns />
                <div class="buttons">
                    <button type="button" data-testid="use-file" prop:disabled=move || hub_reading.with(Option::is_some) on:click=take_file>
                        {move || if hub_source.with(Option::is_some) { "Use these rows" } else { "Use this file" }}
                    </button>
                    {move || hub_reading.with(Option::is_some).then(|| view! { <button type="button" data-testid="hub-cancel" on:click=cancel_hub>"Cancel"</button> })}
                </div>
            })}
            {move || problem.get().map(|message| view! { <p class="error" role="alert" data-testid="prompts-error">{message}</p> })}
            {move || note.get().map(|message| view! { <p role="status" data-testid="prompts-note">{message}</p> })}
            <PromptList />
        </section>
    }
}

/// The prompts, a page at a time, with a count and a search.
#[component]
fn PromptList() -> impl IntoView {
    let project = expect_context::<Project>();
    let search = RwSignal::new(String::new());
    let paging = Paging::new(PROMPTS_PER_PAGE);
    // The prompts that match, by position in the list.
    let matching = Memo::new(move |_| {
        let needle = search.get().trim().to_lowercase();
        project.prompts.with(|prompts| {
            prompts.iter().enumerate().filter(|(_, prompt)| needle.is_empty() || prompt.text.to_lowercase().contains(&needle)).map(|(index, _)| index).collect::<Vec<_>>()
        })
    });
    let total = Signal::derive(move || matching.with(Vec::len));
    view! {
        <p data-testid="prompt-count">{move || {
            let all = project.prompts.with(Vec::len);
            let prompts = if all == 1 { "prompt" } else { "prompts" };
            if search.with(|search| search.trim().is_empty()) { format!("{} {prompts}", thousands(all)) } else { format!("{} of {} {prompts} match", thousands(total.get()), thousands(all)) }
        }}</p>
        {move || project.prompts.with(|prompts| prompts.len() > PROMPTS_PER_PAGE).then(|| view! {
            <label>
                "Search the prompts"
                <input type="search" data-testid="prompt-search" prop:value=search
                    on:input=move |event| { search.set(event_target_value(&event)); paging.page.set(0); } />
            </label>
        })}
        <ol class="prompt-list" data-testid="prompt-list">
            {move || {
                let range = paging.range(total.get());
                let shown: Vec<usize> = matching.with(|matching| matching[range].to_vec());
                project.prompts.with(|prompts| shown.into_iter().map(|index| view! { <li value=index + 1>{prompts[index].text.clone()}</li> }).collect_view())
            }}
        </ol>
        <Pager paging total testid="prompt-pages" noun="Prompts" />
    }
}

/// Prompts listed on a page of Build's list.
const PROMPTS_PER_PAGE: usize = 20;

fn skipped(dropped: usize) -> String {
    if dropped == 0 { String::new() } else { format!("; {dropped} empty or repeated rows skipped") }
}

/// The columns chosen in a file just read.
#[derive(Clone, Copy)]
struct FileColumns {
    prompt: RwSignal<usize>,
    /// Completions to rate as they are, if the file has them.
    completion: RwSignal<Option<usize>>,
    /// The model of each completion.
    model: RwSignal<Option<usize>>,
}

/// The columns of a file just read, the chosen one's first rows.
#[component]
fn FilePreview(table: SourceTable, columns: FileColumns) -> impl IntoView {
    let names: Vec<String> = table.columns().iter().map(|c| c.name.clone()).collect();
    let rows = table.len();
    let preview = move || {
        let index = columns.prompt.get();
        (0..rows.min(5)).map(|row| view! { <li>{{ let cell = table.cell(row, index); cell.as_str().map(str::to_owned).unwrap_or_else(|| cell.describe()) }}</li> }).collect_view()
    };
    let optional_select = move |label: &'static str, testid: &'static str, signal: RwSignal<Option<usize>>, names: Vec<String>| {
        view! {
            <label>
                {label}
                <select data-testid=testid on:change=move |event| signal.set(event_target_value(&event).parse().ok())>
                    <option value="none" selected=move || signal.get().is_none()>"none"</option>
                    {names.into_iter().enumerate().map(|(index, name)| view! {
                        <option value=index.to_string() selected=move || signal.get() == Some(index)>{name}</option>
                    }).collect_view()}
                </select>
            </label>
        }
    };
    view! {
        <label>
            "Prompt column"
            <select data-testid="prompt-column" on:change=move |event| columns.prompt.set(event_target_value(&event).parse().unwrap_or(0))>
                {names.clone().into_iter().enumerate().map(|(index, name)| view! {
                    <option value=index.to_string() selected=move || columns.prompt.get() == index>{name}</option>
                }).collect_view()}
            </select>
        </label>
        {optional_select("Completions to rate as they are (optional)", "completion-column", columns.completion, names.clone())}
        {move || columns.completion.get().is_some().then(|| optional_select("Model column (optional)", "model-column", columns.model, names.clone()))}
        <p class="hint">{format!("{rows} rows; the first prompts:")}</p>
        <ul class="preview" data-testid="prompt-preview">{preview}</ul>
    }
}

/// The guidelines raters see in Contribute: Markdown, edited here and
/// previewed as it will be shown (built as elements, never as HTML).
#[component]
fn GuidelinesPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let draft = RwSignal::new(project.guidelines.get_untracked());
    let problem = RwSignal::new(None::<String>);
    let saved = move || draft.with(|draft| project.guidelines.with(|stored| draft == stored));
    let save = move |_| spawn_local(async move { report(problem, project::save_guidelines(project, draft.get_untracked()).await) });
    view! {
        <section class="panel" aria-labelledby="guidelines-title" data-testid="guidelines-panel">
            <h2 id="guidelines-title">"Rating guidelines"</h2>
            <label>
                "Guidelines for raters (Markdown: paragraphs, - lists, **bold**)"
                <textarea rows="5" data-testid="guidelines-text" prop:value=draft on:input=move |event| draft.set(event_target_value(&event))></textarea>
            </label>
            <div class="buttons">
                <button type="button" data-testid="guidelines-save" on:click=save disabled=saved>
                    {move || if saved() { "Saved" } else { "Save guidelines" }}
                </button>
            </div>
            {move || problem.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <details>
                <summary>"Preview"</summary>
                <div data-testid="guidelines-preview">{move || crate::contribute::markdown(&draft.get())}</div>
            </details>
        </section>
    }
}

#[component]
fn PoolPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let model = expect_context::<LocalModel>();
    let problem = RwSignal::new(None::<String>);
    let endpoints = LocalResource::new(crate::endpoints::load_endpoints);
    let choice = RwSignal::new("local".to_owned());
    let system = RwSignal::new(String::new());
    let temperature = SettingField::new("0.7", "pool-temperature");
    let top_p = SettingField::new("0.9", "pool-top-p");
    let max_tokens = SettingField::new("128", "pool-max-tokens");
    let samples = SettingField::new("1", "pool-samples");
    // One pool change at a time: each starts from the stored pool, so a
    // second click before the first is saved would otherwise drop one.
    let saving = RwSignal::new(false);
    let save = move |pool: Vec<PoolEntry>| {
        saving.set(true);
        spawn_local(async move {
            report(problem, project::save_pool(project, pool).await);
            saving.set(false);
        });
    };

    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if saving.get_untracked() {
            return;
        }
        let fields = [(temperature, Setting::Temperature), (top_p, Setting::TopP), (max_tokens, Setting::MaxTokens), (samples, Setting::Generations)];
        let read: Vec<Result<f64, SettingError>> = fields.iter().map(|(field, setting)| setting.read(&field.text.get_untracked())).collect();
        if let Some(position) = read.iter().position(Result::is_err) {
            // Each field shows its own problem; the first takes the focus.
            fields.iter().for_each(|(field, _)| field.shown.set(true));
            problem.set(None);
            if let Some(input) = document().query_selector(&format!("[data-testid=\"{}\"]", fields[position].0.testid)).ok().flatten() {
                let _ = wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(input).map(|input| input.focus());
            }
            return;
        }
        let [temperature, top_p, max_new_tokens, generations] = [0, 1, 2, 3].map(|index| read[index].clone().unwrap_or_default());
        let mut pool = project.pool.get_untracked();
        let next = pool.iter().filter_map(|entry| entry.id.strip_prefix('m')?.parse::<u32>().ok()).max().map_or(1, |n| n + 1);
        let choice = choice.get_untracked();
        pool.push(PoolEntry {
            id: format!("m{next}"),
            model: if choice == "local" { PoolModel::Local } else { PoolModel::Hosted { endpoint: choice } },
            system_prompt: Some(system.get_untracked()).filter(|text| !text.trim().is_empty()),
            temperature,
            top_p,
            max_new_tokens: max_new_tokens as u32,
            generations_per_prompt: generations as u32,
        });
        save(pool);
    };
    let remove = move |index: usize| {
        if saving.get_untracked() {
            return;
        }
        let mut pool = project.pool.get_untracked();
        pool.remove(index);
        save(pool);
    };
    let local_name = move || crate::refine::local_name(model);

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
                <SettingInput label="Temperature (0–2)" field=temperature setting=Setting::Temperature inputmode="decimal" />
                <SettingInput label="top_p (above 0, up to 1)" field=top_p setting=Setting::TopP inputmode="decimal" />
                <SettingInput label="Max tokens" field=max_tokens setting=Setting::MaxTokens inputmode="numeric" />
                <SettingInput label=format!("Generations per prompt (1–{MAX_GENERATIONS_PER_PROMPT})") field=samples setting=Setting::Generations inputmode="numeric" />
                <label>"System prompt (optional)"<input data-testid="pool-system" prop:value=system on:input=move |e| system.set(event_target_value(&e)) /></label>
                <div class="buttons"><button type="submit" data-testid="pool-add" disabled=move || saving.get()>"Add to pool"</button></div>
            </form>
            {move || problem.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        </section>
    }
}

/// A number field of the pool's form: what is typed, and whether its
/// problem is shown yet (from the first edit, or a refused Add).
#[derive(Clone, Copy)]
struct SettingField {
    text: RwSignal<String>,
    shown: RwSignal<bool>,
    testid: &'static str,
}

impl SettingField {
    fn new(initial: &str, testid: &'static str) -> SettingField {
        SettingField { text: RwSignal::new(initial.to_owned()), shown: RwSignal::new(false), testid }
    }
}

/// One of the pool's number fields, checked as it is typed: its problem
/// (the range, what was typed) is said at the field.
#[component]
fn SettingInput(#[prop(into)] label: String, field: SettingField, setting: Setting, inputmode: &'static str) -> impl IntoView {
    let error = move || field.shown.get().then(|| setting.read(&field.text.get()).err()).flatten().map(|error| error.to_string());
    let described = format!("{}-problem", field.testid);
    view! {
        <label>
            {label}
            <input data-testid=field.testid inputmode=inputmode prop:value=field.text aria-describedby=described.clone()
                aria-invalid=move || error().is_some().to_string()
                on:input=move |event| { field.text.set(event_target_value(&event)); field.shown.set(true); } />
            <span id=described class="error" data-testid=format!("{}-problem", field.testid)>{error}</span>
        </label>
    }
}

#[component]
fn RunPanel() -> impl IntoView {
    let project = expect_context::<Project>();
    let model = expect_context::<LocalModel>();
    let run = expect_context::<Runs>().pool;
    let retry = move |key: String| run.retry(project, model, key);
    view! {
        <section class="panel" aria-labelledby="run-title" data-testid="run-panel">
            <h2 id="run-title">"Run"</h2>
            <RunControls run testid="run" blocked=Signal::derive(move || {
                if project.prompts.with(Vec::is_empty) {
                    Some("Add prompts first.")
                } else if project.pool.with(Vec::is_empty) {
                    Some("Add a model to the pool first.")
                } else {
                    None
                }
            }) />
            <ResultsTable retry />
        </section>
    }
}

/// A stage's Run (or Resume), Pause and Cancel, its progress bar and
/// status line, and the problem that stopped it; `testid` prefixes the
/// elements' test ids (`{testid}-start`, `{testid}-status`, …). `blocked`
/// says why the run cannot start (shown beside the button), if it cannot.
///
/// When nothing runs, the counts are the stored ones, so a reload shows
/// where the work stands and offers to resume it.
#[component]
pub fn RunControls(run: PoolRun, testid: &'static str, #[prop(into)] blocked: Signal<Option<&'static str>>) -> impl IntoView {
    let project = expect_context::<Project>();
    let model = expect_context::<LocalModel>();
    let state = run.state;
    let progress = run.progress;
    let stored = Memo::new(move |_| (state.get() != RunState::Running).then(|| run.stored_progress(project, model)));
    let counts = move || stored.get().unwrap_or_else(|| progress.with(|progress| (progress.done, progress.total)));
    let summary = move || {
        let (done, total) = counts();
        if state.get() != RunState::Running {
            return format!("{done} of {total} done");
        }
        let progress = progress.get();
        let left = progress.seconds_left().map(|s| format!(" · about {:.0} s left", s)).unwrap_or_default();
        let speed = if progress.tokens_this_run > 0 { format!(" · {:.1} tok/s", progress.tokens_per_second()) } else { String::new() };
        format!("{done} of {total} done{speed}{left}")
    };
    // Part done and not running: paused, or cut off by a reload.
    let resumable = move || state.get() == RunState::Paused || stored.get().is_some_and(|(done, total)| done > 0 && done < total);
    let why_not = move || match state.get() {
        RunState::Running => Some("It is running"),
        _ => blocked.get(),
    };
    view! {
        <div class="buttons">
            <button type="button" data-testid=format!("{testid}-start") on:click=move |_| run.start(project, model)
                disabled=move || why_not().is_some() title=why_not>
                {move || if resumable() { "Resume" } else { "Run" }}
            </button>
            <button type="button" data-testid=format!("{testid}-pause") on:click=move |_| run.pause()
                disabled=move || state.get() != RunState::Running title=move || (state.get() != RunState::Running).then_some("Nothing is running")>"Pause"</button>
            <button type="button" data-testid=format!("{testid}-cancel") on:click=move |_| run.cancel()
                disabled=move || state.get() == RunState::Idle title=move || (state.get() == RunState::Idle).then_some("Nothing is running or paused")>"Cancel"</button>
        </div>
        {move || (state.get() != RunState::Running).then(|| blocked.get()).flatten().map(|why| view! { <p class="hint" data-testid=format!("{testid}-why")>{why}</p> })}
        <progress aria-label=format!("{testid} progress") max=move || counts().1.max(1) value=move || counts().0></progress>
        <p role="status" data-testid=format!("{testid}-status") data-state=move || format!("{:?}", state.get()).to_lowercase()>{summary}</p>
        {move || run.problem.get().map(|message| view! { <p class="error" role="alert" data-testid=format!("{testid}-problem")>{message}</p> })}
    }
}

/// Rows on a page of the results table.
const RESULT_ROWS_PER_PAGE: usize = 50;

/// The planned items with their prompt, model and completion or failure,
/// a page at a time: only the page's items are planned and drawn, so a run
/// of 100,000 items redraws 50 rows when one finishes.
#[component]
fn ResultsTable(retry: impl Fn(String) + Copy + Send + Sync + 'static) -> impl IntoView {
    let project = expect_context::<Project>();
    let run = expect_context::<Runs>().pool;
    let paging = Paging::new(RESULT_ROWS_PER_PAGE);
    let total = Signal::derive(move || project.prompts.with(|prompts| project.pool.with(|pool| prefab_core::pool_plan::total_items(prompts, pool))));
    let model = expect_context::<LocalModel>();
    let rows = move || {
        let prompts = project.prompts.get();
        let pool = project.pool.get();
        let items = project.items.get();
        model.track_planning_model_id();
        prefab_core::pool_plan::items_in(&prompts, &pool, &model.planning_model_id(), paging.range(total.get()))
            .into_iter()
            .map(|item| {
                let key = item.key.clone();
                let live_key = key.clone();
                let state = crate::project::stored_item(&items, &key).cloned();
                let status = match &state {
                    Some(ItemState::Done { .. }) => "done",
                    Some(ItemState::Failed { .. }) => "failed",
                    Some(ItemState::Running { .. }) => "running",
                    _ => "pending",
                };
                let completion = move || match &state {
                    Some(ItemState::Done { generation }) => generation.text.clone(),
                    Some(ItemState::Failed { reason }) => reason.clone(),
                    _ => run.live.with(|live| live.get(&live_key).cloned().unwrap_or_default()),
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
        <Pager paging total testid="result-pages" noun="Items" />
        <div class="table-scroll" tabindex="0" role="region" aria-label="The pool's results">
            <table class="results" data-testid="results">
                <thead><tr><th scope="col">"Prompt"</th><th scope="col">"Model"</th><th scope="col">"Completion"</th><th scope="col">"State"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}
