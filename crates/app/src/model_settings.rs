//! Settings → Local model: choose the model file (the default, an address,
//! or a file on this computer), watch it download and load, try a prompt and
//! watch the answer stream with its speed, name the model for the dataset,
//! and manage the cached files.
//!
//! Every click gets an answer: the form does its own checks (`novalidate`,
//! so the browser's silent ones never swallow a click) and says what is
//! wrong next to the field; a failed load says why and that the model loaded
//! before is still in use; a disabled "Generate" says why next to it.
//!
//! Everything the model writes is shown as text, never as HTML.

use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_llm::address::check_address;
use prefab_llm::model_file::{self, CachedModel};
use prefab_llm::model_id::ModelIdSource;
use prefab_llm::protocol::WorkerResponse;
use prefab_llm::{ChatMessage, GenerationParams, GenerationStats, LoadOptions, LoadStage, ModelInfo, StopReason};
use wasm_bindgen::JsValue;

use crate::local_model::{LocalModel, LocalRequest, ModelChoice, ModelState, DEFAULT_MODEL_URL};

/// Where the model file comes from, as the radio buttons say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Default,
    Address,
    ThisComputer,
}

/// What keeps "Load model" from starting, said next to its field.
#[derive(Clone, Debug, PartialEq)]
enum ChoiceProblem {
    /// The typed address is empty or not an address.
    Address(String),
    /// "A file on this computer" with no file picked.
    File(String),
}

/// The local model section of Settings.
#[component]
pub fn ModelSettings() -> impl IntoView {
    let model = expect_context::<LocalModel>();
    let origin = RwSignal::new(Origin::Default);
    let address = RwSignal::new(String::new());
    let requantize = RwSignal::new(true);
    let picked = NodeRef::<leptos::html::Input>::new();
    let cached = RwSignal::new(Vec::<CachedModel>::new());
    let cache_error = RwSignal::new(None::<String>);
    let refresh_cache = move || {
        spawn_local(async move {
            match model_file::list().await {
                Ok(list) => {
                    cached.set(list);
                    cache_error.set(None);
                }
                Err(error) => cache_error.set(Some(error.to_string())),
            }
        })
    };
    refresh_cache();
    // A finished load may have added a file to the cache.
    Effect::new(move |_| {
        if matches!(model.state.get(), ModelState::Ready { .. }) {
            refresh_cache();
        }
    });

    let problem = RwSignal::new(None::<ChoiceProblem>);
    let load = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let choice = match origin.get_untracked() {
            Origin::Default => Ok(ModelChoice::Url(DEFAULT_MODEL_URL.to_owned())),
            Origin::Address => check_address(&address.get_untracked())
                .map(ModelChoice::Url)
                .map_err(|error| ChoiceProblem::Address(error.to_string())),
            Origin::ThisComputer => picked
                .get_untracked()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0))
                .map(ModelChoice::File)
                .ok_or_else(|| ChoiceProblem::File("Pick a .gguf file.".to_owned())),
        };
        match choice {
            Ok(choice) => {
                problem.set(None);
                let options = LoadOptions { requantize: requantize.get_untracked(), ..LoadOptions::default() };
                model.load(choice, options);
            }
            Err(found) => problem.set(Some(found)),
        }
    };
    // The problem of one field, shown under it.
    let problem_at = move |address_field: bool| {
        problem.get().and_then(|found| match (found, address_field) {
            (ChoiceProblem::Address(message), true) | (ChoiceProblem::File(message), false) => Some(message),
            _ => None,
        })
    };
    let field_message = move |address_field: bool| {
        problem_at(address_field).map(|message| {
            let id = if address_field { "model-address-problem" } else { "model-file-problem" };
            view! { <p class="error" role="alert" id=id data-testid="model-choice-error">{message}</p> }
        })
    };
    let loading = move || matches!(model.state.get(), ModelState::Loading { .. });

    view! {
        <section class="panel" aria-labelledby="model-title" data-testid="model-settings">
            <h2 id="model-title">"Local model"</h2>
            <p class="hint">
                "A small quantized GGUF model runs in this page, in a background worker: it pools completions and judges them without a server. The file is kept in the browser's cache, so the next load needs no network."
            </p>
            <form class="model-form" novalidate on:submit=load>
                <fieldset>
                    <legend>"Model file"</legend>
                    <label class="choice">
                        <input type="radio" name="model-origin" data-testid="model-origin-default"
                            prop:checked=move || origin.get() == Origin::Default
                            on:change=move |_| origin.set(Origin::Default) />
                        "SmolLM2-135M-Instruct, Q4_1 (98 MB, served with this page)"
                    </label>
                    <label class="choice">
                        <input type="radio" name="model-origin" data-testid="model-origin-address"
                            prop:checked=move || origin.get() == Origin::Address
                            on:change=move |_| origin.set(Origin::Address) />
                        "From an address"
                    </label>
                    <input type="url" aria-label="Model address" data-testid="model-address"
                        placeholder="https://huggingface.co/…/resolve/main/model.gguf"
                        aria-invalid=move || problem_at(true).is_some().then_some("true")
                        aria-describedby=move || problem_at(true).is_some().then_some("model-address-problem")
                        prop:value=address
                        on:input=move |event| { address.set(event_target_value(&event)); origin.set(Origin::Address); } />
                    {move || field_message(true)}
                    <label class="choice">
                        <input type="radio" name="model-origin" data-testid="model-origin-file"
                            prop:checked=move || origin.get() == Origin::ThisComputer
                            on:change=move |_| origin.set(Origin::ThisComputer) />
                        "A file on this computer"
                    </label>
                    <input type="file" accept=".gguf" aria-label="Model file" data-testid="model-file" node_ref=picked
                        aria-invalid=move || problem_at(false).is_some().then_some("true")
                        aria-describedby=move || problem_at(false).is_some().then_some("model-file-problem")
                        on:change=move |_| { origin.set(Origin::ThisComputer); problem.set(None); } />
                    {move || field_message(false)}
                </fieldset>
                <label class="choice">
                    <input type="checkbox" data-testid="model-requantize"
                        prop:checked=requantize
                        on:change=move |event| requantize.set(event_target_checked(&event)) />
                    "Re-quantize Q4_1, Q5, Q3_K, Q5_K and Q6_K weights to Q8_0: several times faster, about 1.5× their memory (Q8_0 and Q4_K run as they are)"
                </label>
                <div class="buttons">
                    <button type="submit" data-testid="model-load" disabled=loading>"Load model"</button>
                </div>
            </form>
            <ModelStatus state=model.state />
            <ModelName />
            <TryModel />
            <h3>"Cached model files"</h3>
            {move || cache_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            <CachedFiles cached refresh=refresh_cache />
        </section>
    }
}

/// The load's progress, or what the loaded model is.
#[component]
fn ModelStatus(state: RwSignal<ModelState>) -> impl IntoView {
    move || match state.get() {
        ModelState::NotLoaded => view! {
            <p class="status" role="status" data-testid="model-status" data-state="none">"No model loaded."</p>
        }
        .into_any(),
        ModelState::Loading { file, stage, done, total } => {
            let label = match stage {
                LoadStage::Download => format!("Downloading {file}: {}", amount(done, total, megabytes)),
                LoadStage::Cache => format!("Reading {file} from the cache: {}", megabytes(done)),
                LoadStage::Tokenizer => format!("Building the tokenizer of {file}"),
                LoadStage::Weights => format!("Loading the weights of {file}: {}", amount(done, total, |n| format!("{n} tensors"))),
            };
            view! {
                <div role="status" data-testid="model-status" data-state="loading" class="status">
                    <p>{label.clone()}</p>
                    <progress aria-label=label max=total.max(1) value=(total > 0).then_some(done)></progress>
                </div>
            }
            .into_any()
        }
        ModelState::Ready { file, info, failed_load: None } => view! {
            <div role="status" data-testid="model-status" data-state="ready" class="status">
                <p>"Ready: " <strong>{info.name.clone()}</strong> " from " <code>{file}</code></p>
                <ModelFacts info />
            </div>
        }
        .into_any(),
        // The new file failed and the worker kept the old model: say both.
        ModelState::Ready { file, info, failed_load: Some(failed) } => view! {
            <div data-testid="model-status" data-state="ready" class="status">
                <div role="alert" class="error" data-testid="model-load-failed" data-file=failed.file>
                    <p><strong>"Could not load the new model. "</strong>{failed.message}</p>
                </div>
                <p role="status">"Still loaded: " <strong>{info.name.clone()}</strong> " from " <code>{file}</code>
                    ". The model pool and “Try it” go on using it."</p>
                <ModelFacts info />
            </div>
        }
        .into_any(),
        // The message names the file, so it is not named again here.
        ModelState::Failed { file, message } => view! {
            <div role="alert" data-testid="model-status" data-state="failed" class="status error">
                <div data-testid="model-load-failed" data-file=file>
                    <p><strong>"Could not load the model. "</strong>{message}</p>
                </div>
                <p class="hint">"Nothing is loaded. The page keeps working; choose another file."</p>
            </div>
        }
        .into_any(),
    }
}

/// The name the loaded model's generations carry in the dataset: the Hub id
/// when the file or its address tells it, else what the organizer types.
#[component]
fn ModelName() -> impl IntoView {
    let model = expect_context::<LocalModel>();
    let typed = RwSignal::new(String::new());
    let saved = RwSignal::new(None::<Result<String, String>>);
    let ready_file = Memo::new(move |_| match model.state.get() {
        ModelState::Ready { file, .. } => Some(file),
        _ => None,
    });
    // The field shows the loaded file's stored name (read at start, or just saved).
    Effect::new(move |_| {
        if let Some(file) = ready_file.get() {
            typed.set(model.names.get().get(&file).cloned().unwrap_or_default());
        }
    });
    // A "saved" line is about the file it was saved for.
    Effect::new(move |_| {
        ready_file.track();
        saved.set(None);
    });
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let ModelState::Ready { file, .. } = model.state.get_untracked() else { return };
        let name = typed.get_untracked();
        spawn_local(async move {
            let outcome = model.name_model(file, name).await.map(|()| model.generation_model_id());
            saved.set(Some(outcome));
        });
    };
    move || {
        let proposed = model.proposed_model_id()?;
        let hint = match proposed.source {
            ModelIdSource::FileMetadata => format!("The file names its Hub repo: its generations are named {}.", proposed.id),
            ModelIdSource::Address => format!("The address names its Hub repo: its generations are named {}.", proposed.id),
            // `proposed_model_id` never reads the organizer's name.
            ModelIdSource::FileName | ModelIdSource::Organizer => format!(
                "The file and its address name no Hub repo: its generations are named “{}” (the file's own name for itself) unless you give its Hub id here, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.",
                proposed.id
            ),
        };
        Some(view! {
            <form class="model-name-form" novalidate on:submit=save>
                <label>
                    "Name in the dataset"
                    <input data-testid="model-id" placeholder=proposed.id.clone() prop:value=typed
                        on:input=move |event| { typed.set(event_target_value(&event)); saved.set(None); } />
                </label>
                <button type="submit" data-testid="model-id-save">"Save name"</button>
                <p class="hint" data-testid="model-id-hint">{hint}</p>
                {move || saved.get().map(|outcome| match outcome {
                    Ok(id) => view! { <p role="status" data-testid="model-id-saved">{format!("Saved: this file's generations are named {id}.")}</p> }.into_any(),
                    Err(message) => view! { <p role="alert" class="error">{format!("Could not keep the name: {message}")}</p> }.into_any(),
                })}
            </form>
        })
    }
}

/// A few facts about the loaded model.
#[component]
fn ModelFacts(info: ModelInfo) -> impl IntoView {
    let model = expect_context::<LocalModel>();
    let weights = info.weights_bytes;
    let engines = move || match model.engines.get() {
        0 | 1 => "1 engine worker (one core)".to_owned(),
        n => format!("{n} engine workers (a core each): the weights {n} times, {} in all", megabytes(n as u64 * weights)),
    };
    let types = info.file_tensor_types.iter().map(|(kind, count)| format!("{count} {kind}")).collect::<Vec<_>>().join(", ");
    let requantized = match info.requantized_tensors {
        0 => "none".to_owned(),
        n => format!("{n} tensors, to Q8_0"),
    };
    view! {
        <dl class="facts">
            <dt>"Architecture"</dt><dd>{info.architecture}</dd>
            <dt>"Parameters"</dt><dd>{format!("{:.0} M", info.parameters as f64 / 1e6)}</dd>
            <dt>"Context"</dt><dd>{format!("{} tokens", info.context_length)}</dd>
            <dt>"File"</dt><dd>{megabytes(info.file_bytes)} " (" {types} ")"</dd>
            <dt>"Weights in memory"</dt><dd data-testid="model-memory">{megabytes(info.weights_bytes)}</dd>
            <dt>"Runs in"</dt><dd data-testid="model-engines">{engines}</dd>
            <dt>"Re-quantized"</dt><dd>{requantized}</dd>
            <dt>"Chat template"</dt><dd>{if info.chat_template_from_file { "from the file" } else { "ChatML (the file has none)" }}</dd>
        </dl>
    }
}

/// A prompt box: the answer streams in as the model writes it.
#[component]
fn TryModel() -> impl IntoView {
    let model = expect_context::<LocalModel>();
    let prompt = RwSignal::new("Write a haiku about mountains.".to_owned());
    let output = RwSignal::new(String::new());
    let stats = RwSignal::new(None::<GenerationStats>);
    let failure = RwSignal::new(None::<String>);
    let running = RwSignal::new_local(None::<LocalRequest>);
    // Why "Generate" cannot be used now, if it cannot: said next to it.
    let why_not = move || {
        if running.get().is_some() {
            return Some("Generating…");
        }
        match model.state.get() {
            ModelState::Ready { .. } => None,
            ModelState::Loading { .. } => Some("Wait for the model to finish loading."),
            ModelState::NotLoaded | ModelState::Failed { .. } => Some("Load a model first."),
        }
    };

    let generate = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        // The button is disabled then; this is for a submit by other means.
        if running.get_untracked().is_some() || !matches!(model.state.get_untracked(), ModelState::Ready { .. }) {
            return;
        }
        output.set(String::new());
        stats.set(None);
        failure.set(None);
        let params = GenerationParams { max_new_tokens: 256, ..GenerationParams::default() };
        let (request, mut answers) = model.generate(vec![ChatMessage::user(prompt.get_untracked())], params);
        running.set(Some(request));
        spawn_local(async move {
            while let Some(answer) = answers.next().await {
                match answer {
                    WorkerResponse::Token { text, .. } => output.update(|output| output.push_str(&text)),
                    WorkerResponse::Done { text, stats: done, .. } => {
                        output.set(text);
                        stats.set(Some(done));
                    }
                    WorkerResponse::Failed { message, .. } => failure.set(Some(message)),
                    _ => {}
                }
            }
            running.set(None);
        });
    };
    let stop = move |_| {
        if let Some(request) = running.get_untracked() {
            request.cancel();
        }
    };

    view! {
        <h3>"Try it"</h3>
        <form class="try-form" on:submit=generate>
            <label>
                "Prompt"
                <textarea rows="3" data-testid="try-prompt" prop:value=prompt
                    on:input=move |event| prompt.set(event_target_value(&event))></textarea>
            </label>
            <div class="buttons">
                <button type="submit" data-testid="try-generate" disabled=move || why_not().is_some() title=why_not>
                    "Generate"
                </button>
                <button type="button" data-testid="try-stop" disabled=move || running.get().is_none() on:click=stop>
                    "Stop"
                </button>
            </div>
            {move || why_not().map(|why| view! { <p class="hint" data-testid="try-why">{why}</p> })}
        </form>
        <pre class="output" data-testid="try-output" aria-live="polite"
            data-state=move || if running.get().is_some() { "running" } else { "idle" }>{output}</pre>
        {move || failure.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
        {move || stats.get().map(|stats| view! { <p class="hint" data-testid="try-stats">{describe(&stats)}</p> })}
    }
}

/// The cache's files, each with a delete button.
#[component]
fn CachedFiles(cached: RwSignal<Vec<CachedModel>>, refresh: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let delete = move |url: String| {
        spawn_local(async move {
            if let Err(error) = model_file::delete(&url).await {
                web_sys::console::error_1(&error.to_string().into());
            }
            refresh();
        })
    };
    move || {
        let files = cached.get();
        if files.is_empty() {
            return view! { <p class="hint" data-testid="cache-empty">"No model file is cached."</p> }.into_any();
        }
        view! {
            <ul class="cache-list" data-testid="cache-list">
                {files
                    .into_iter()
                    .map(|file| {
                        let url = file.url.clone();
                        let stored = js_sys::Date::new(&file.stored_at_ms.into()).to_locale_string("default", &JsValue::UNDEFINED);
                        let etag = file.etag.clone().map(|etag| format!(" · ETag {etag}")).unwrap_or_default();
                        view! {
                            <li data-testid="cache-entry">
                                <span class="endpoint-label">{file.url.clone()}</span>
                                <span class="hint">{format!("{}{etag} · stored {}", megabytes(file.bytes), String::from(stored))}</span>
                                <button type="button" aria-label=format!("Delete {} from the cache", file.url)
                                    on:click=move |_| delete(url.clone())>"Delete"</button>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    }
}

/// One line about a finished generation.
fn describe(stats: &GenerationStats) -> String {
    let why = match stats.stop_reason {
        StopReason::EndOfSequence => "the model finished",
        StopReason::MaxTokens => "token limit reached",
        StopReason::StopString => "stop string",
        StopReason::ContextFull => "context full",
        StopReason::Cancelled => "stopped",
    };
    let read = stats.prompt_tokens.saturating_sub(stats.cached_prompt_tokens);
    let cached = match stats.cached_prompt_tokens {
        0 => String::new(),
        n => format!(" ({n} more from the cache of a prompt that began the same)"),
    };
    format!(
        "{read} prompt tokens read at {:.0} tok/s{cached} · {} tokens written at {:.1} tok/s · {why}",
        stats.prefill_tokens_per_second, stats.generated_tokens, stats.decode_tokens_per_second
    )
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// "done of total" in the given unit, or just done when total is unknown.
fn amount(done: u64, total: u64, unit: impl Fn(u64) -> String) -> String {
    if total == 0 {
        unit(done)
    } else {
        format!("{} of {}", unit(done), unit(total))
    }
}
