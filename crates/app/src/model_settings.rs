//! Settings → Local model: choose the model file (the default, an address,
//! or a file on this computer), watch it download and load, try a prompt and
//! watch the answer stream with its speed, and manage the cached files.
//!
//! Everything the model writes is shown as text, never as HTML.

use futures::StreamExt;
use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_llm::model_file::{self, CachedModel};
use prefab_llm::protocol::{RequestId, WorkerResponse};
use prefab_llm::{ChatMessage, GenerationParams, GenerationStats, LoadOptions, LoadStage, ModelInfo, StopReason};
use wasm_bindgen::JsValue;

use crate::local_model::{LocalModel, ModelChoice, ModelState, DEFAULT_MODEL_URL};

/// Where the model file comes from, as the radio buttons say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Default,
    Address,
    ThisComputer,
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

    let choice_error = RwSignal::new(None::<String>);
    let load = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let choice = match origin.get_untracked() {
            Origin::Default => Ok(ModelChoice::Url(DEFAULT_MODEL_URL.to_owned())),
            Origin::Address => match address.get_untracked().trim() {
                "" => Err("Type the address of a .gguf file.".to_owned()),
                url => Ok(ModelChoice::Url(url.to_owned())),
            },
            Origin::ThisComputer => picked
                .get_untracked()
                .and_then(|input| input.files())
                .and_then(|files| files.get(0))
                .map(ModelChoice::File)
                .ok_or_else(|| "Pick a .gguf file.".to_owned()),
        };
        match choice {
            Ok(choice) => {
                choice_error.set(None);
                let options = LoadOptions { requantize: requantize.get_untracked(), ..LoadOptions::default() };
                model.load(choice, options);
            }
            Err(message) => choice_error.set(Some(message)),
        }
    };
    let loading = move || matches!(model.state.get(), ModelState::Loading { .. });

    view! {
        <section class="panel" aria-labelledby="model-title" data-testid="model-settings">
            <h2 id="model-title">"Local model"</h2>
            <p class="hint">
                "A small quantized GGUF model runs in this page, in a background worker: it pools completions and judges them without a server. The file is kept in the browser's cache, so the next load needs no network."
            </p>
            <form class="model-form" on:submit=load>
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
                        prop:value=address
                        on:input=move |event| { address.set(event_target_value(&event)); origin.set(Origin::Address); } />
                    <label class="choice">
                        <input type="radio" name="model-origin" data-testid="model-origin-file"
                            prop:checked=move || origin.get() == Origin::ThisComputer
                            on:change=move |_| origin.set(Origin::ThisComputer) />
                        "A file on this computer"
                    </label>
                    <input type="file" accept=".gguf" aria-label="Model file" data-testid="model-file" node_ref=picked
                        on:change=move |_| origin.set(Origin::ThisComputer) />
                </fieldset>
                <label class="choice">
                    <input type="checkbox" data-testid="model-requantize"
                        prop:checked=requantize
                        on:change=move |event| requantize.set(event_target_checked(&event)) />
                    "Re-quantize Q4_1, Q5 and K-quant weights to Q8_0: several times faster, about 1.5× their memory"
                </label>
                <div class="buttons">
                    <button type="submit" data-testid="model-load" disabled=loading>"Load model"</button>
                </div>
                {move || choice_error.get().map(|message| view! { <p class="error" role="alert">{message}</p> })}
            </form>
            <ModelStatus state=model.state />
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
        ModelState::Ready { file, info } => view! {
            <div role="status" data-testid="model-status" data-state="ready" class="status">
                <p>"Ready: " <strong>{info.name.clone()}</strong> " from " <code>{file}</code></p>
                <ModelFacts info />
            </div>
        }
        .into_any(),
        ModelState::Failed { file, message } => view! {
            <div role="alert" data-testid="model-status" data-state="failed" class="status error">
                <p>"Could not load " <code>{file}</code> ": " {message}</p>
                <p class="hint">"Nothing is loaded. The page keeps working; choose another file."</p>
            </div>
        }
        .into_any(),
    }
}

/// A few facts about the loaded model.
#[component]
fn ModelFacts(info: ModelInfo) -> impl IntoView {
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
    let running = RwSignal::new(None::<RequestId>);
    let ready = move || matches!(model.state.get(), ModelState::Ready { .. });

    let generate = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        output.set(String::new());
        stats.set(None);
        failure.set(None);
        let params = GenerationParams { max_new_tokens: 256, ..GenerationParams::default() };
        let (id, mut answers) = model.generate(vec![ChatMessage::user(prompt.get_untracked())], params);
        running.set(Some(id));
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
        if let Some(id) = running.get_untracked() {
            model.cancel(id);
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
                <button type="submit" data-testid="try-generate" disabled=move || !ready() || running.get().is_some()>
                    "Generate"
                </button>
                <button type="button" data-testid="try-stop" disabled=move || running.get().is_none() on:click=stop>
                    "Stop"
                </button>
            </div>
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
    format!(
        "{} prompt tokens read at {:.0} tok/s · {} tokens written at {:.1} tok/s · {why}",
        stats.prompt_tokens, stats.prefill_tokens_per_second, stats.generated_tokens, stats.decode_tokens_per_second
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
