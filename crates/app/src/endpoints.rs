//! Settings → Hosted endpoints: add, test, edit and remove the OpenAI-compatible
//! endpoints a model pool can use.
//!
//! Endpoints are kept in IndexedDB so they survive a reload. Their tokens are
//! not: a token lives in this tab's sessionStorage only (gone when the tab
//! closes), never in IndexedDB, localStorage, a URL, a log or an export.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_llm::hosted::browser::HostedClient;
use prefab_llm::hosted::endpoint::Endpoint;
use prefab_store::Store;

/// The IndexedDB database of the page.
pub const DATABASE: &str = "prefab";
/// The settings key of the endpoint list.
const ENDPOINTS_KEY: &str = "endpoints";
/// sessionStorage keys of tokens start with this, then the endpoint's label.
const TOKEN_PREFIX: &str = "prefab.token:";

/// The token typed for an endpoint in this tab, if any.
pub fn session_token(endpoint: &Endpoint) -> Option<String> {
    let storage = window().session_storage().ok().flatten()?;
    storage.get_item(&format!("{TOKEN_PREFIX}{}", endpoint.label())).ok().flatten()
}

fn set_session_token(endpoint: &Endpoint, token: &str) {
    let Some(storage) = window().session_storage().ok().flatten() else { return };
    let key = format!("{TOKEN_PREFIX}{}", endpoint.label());
    let _ = if token.trim().is_empty() { storage.remove_item(&key) } else { storage.set_item(&key, token.trim()) };
}

/// Which preset the form is showing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Preset {
    Router,
    Dedicated,
    Custom,
}

/// The endpoint form's fields.
#[derive(Clone, Copy)]
struct Form {
    preset: RwSignal<Preset>,
    model: RwSignal<String>,
    url: RwSignal<String>,
    token: RwSignal<String>,
    /// The index of the endpoint being edited; `None` when adding.
    editing: RwSignal<Option<usize>>,
}

impl Form {
    fn new() -> Form {
        Form {
            preset: RwSignal::new(Preset::Router),
            model: RwSignal::new(String::new()),
            url: RwSignal::new(String::new()),
            token: RwSignal::new(String::new()),
            editing: RwSignal::new(None),
        }
    }

    fn endpoint(&self) -> Endpoint {
        let (model, url) = (self.model.get_untracked(), self.url.get_untracked());
        match self.preset.get_untracked() {
            Preset::Router => Endpoint::HfRouter { model },
            Preset::Dedicated => Endpoint::InferenceEndpoint { url },
            Preset::Custom => Endpoint::Custom { base_url: url, model },
        }
    }

    fn load(&self, index: usize, endpoint: &Endpoint) {
        let (preset, model, url) = match endpoint {
            Endpoint::HfRouter { model } => (Preset::Router, model.clone(), String::new()),
            Endpoint::InferenceEndpoint { url } => (Preset::Dedicated, String::new(), url.clone()),
            Endpoint::Custom { base_url, model } => (Preset::Custom, model.clone(), base_url.clone()),
        };
        self.preset.set(preset);
        self.model.set(model);
        self.url.set(url);
        self.token.set(session_token(endpoint).unwrap_or_default());
        self.editing.set(Some(index));
    }

    fn clear(&self) {
        self.model.set(String::new());
        self.url.set(String::new());
        self.token.set(String::new());
        self.editing.set(None);
    }
}

async fn save(endpoints: Vec<Endpoint>) -> Result<(), String> {
    let store = Store::open(DATABASE).await.map_err(|error| error.to_string())?;
    store.put_setting(ENDPOINTS_KEY, &endpoints).await.map_err(|error| error.to_string())
}

/// Reads the saved endpoints.
pub async fn load_endpoints() -> Result<Vec<Endpoint>, String> {
    let store = Store::open(DATABASE).await.map_err(|error| error.to_string())?;
    Ok(store.setting(ENDPOINTS_KEY).await.map_err(|error| error.to_string())?.unwrap_or_default())
}

/// Tests an endpoint as configured, with its token, and says how it went.
async fn test_endpoint(endpoint: Endpoint, token: Option<String>) -> Result<String, String> {
    let models = HostedClient::new(endpoint, token).test_connection().await.map_err(|error| error.to_string())?;
    let shown: Vec<_> = models.iter().take(5).map(String::as_str).collect();
    let more = if models.len() > 5 { ", …" } else { "" };
    Ok(format!("Connected: {} model(s) served ({}{more})", models.len(), shown.join(", ")))
}

/// The outcome of the last "Test connection", shown under the form.
#[derive(Clone, Debug, PartialEq)]
enum TestOutcome {
    Idle,
    Testing,
    Passed(String),
    Failed(String),
}

/// The hosted-endpoints section of Settings.
#[component]
pub fn EndpointSettings() -> impl IntoView {
    let endpoints = RwSignal::new(Vec::<Endpoint>::new());
    let problem = RwSignal::new(None::<String>);
    let outcome = RwSignal::new(TestOutcome::Idle);
    let form = Form::new();

    spawn_local(async move {
        match load_endpoints().await {
            Ok(saved) => endpoints.set(saved),
            Err(error) => problem.set(Some(error)),
        }
    });

    let persist = move |list: Vec<Endpoint>| {
        endpoints.set(list.clone());
        spawn_local(async move {
            if let Err(error) = save(list).await {
                problem.set(Some(format!("The endpoints could not be saved: {error}")));
            }
        });
    };

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let endpoint = form.endpoint();
        if let Err(message) = endpoint.validate() {
            problem.set(Some(message));
            return;
        }
        problem.set(None);
        set_session_token(&endpoint, &form.token.get_untracked());
        let mut list = endpoints.get_untracked();
        match form.editing.get_untracked() {
            Some(index) if index < list.len() => list[index] = endpoint,
            _ => list.push(endpoint),
        }
        form.clear();
        outcome.set(TestOutcome::Idle);
        persist(list);
    };

    let test_form = move |_| {
        let endpoint = form.endpoint();
        if let Err(message) = endpoint.validate() {
            outcome.set(TestOutcome::Failed(message));
            return;
        }
        let token = Some(form.token.get_untracked()).filter(|token| !token.trim().is_empty());
        outcome.set(TestOutcome::Testing);
        spawn_local(async move {
            outcome.set(match test_endpoint(endpoint, token).await {
                Ok(message) => TestOutcome::Passed(message),
                Err(message) => TestOutcome::Failed(message),
            });
        });
    };

    let remove = move |index: usize| {
        let mut list = endpoints.get_untracked();
        if index < list.len() {
            set_session_token(&list.remove(index), "");
            if form.editing.get_untracked() == Some(index) {
                form.clear();
            }
            persist(list);
        }
    };

    let needs_model = move || form.preset.get() != Preset::Dedicated;
    let needs_url = move || form.preset.get() != Preset::Router;

    view! {
        <section class="panel" aria-labelledby="endpoints-title" data-testid="endpoint-settings">
            <h2 id="endpoints-title">"Hosted endpoints"</h2>
            <p class="hint">
                "Any OpenAI-compatible chat-completions API: the Hugging Face router, an Inference Endpoint, TGI, vLLM, Ollama or a llama.cpp server. "
                "Tokens stay in this tab only and are never saved or exported."
            </p>
            <ul class="endpoint-list" data-testid="endpoint-list">
                <For
                    each=move || endpoints.get().into_iter().enumerate()
                    key=|(index, endpoint)| (*index, endpoint.clone())
                    children=move |(index, endpoint)| {
                        let shown = endpoint.label();
                        let edited = endpoint.clone();
                        view! {
                            <li data-testid="endpoint-row">
                                <span class="endpoint-label">{shown}</span>
                                <button type="button" on:click=move |_| form.load(index, &edited)>"Edit"</button>
                                <button type="button" on:click=move |_| remove(index)>"Remove"</button>
                            </li>
                        }
                    }
                />
            </ul>
            <form class="endpoint-form" on:submit=submit data-testid="endpoint-form">
                <label>
                    "Kind "
                    <select
                        data-testid="endpoint-kind"
                        on:change=move |event| {
                            form.preset.set(match event_target_value(&event).as_str() {
                                "dedicated" => Preset::Dedicated,
                                "custom" => Preset::Custom,
                                _ => Preset::Router,
                            })
                        }
                        prop:value=move || match form.preset.get() {
                            Preset::Router => "router",
                            Preset::Dedicated => "dedicated",
                            Preset::Custom => "custom",
                        }
                    >
                        <option value="router">"Hugging Face router"</option>
                        <option value="dedicated">"Inference Endpoint"</option>
                        <option value="custom">"Custom OpenAI-compatible URL"</option>
                    </select>
                </label>
                <Show when=needs_url>
                    <label>
                        {move || if form.preset.get() == Preset::Dedicated { "Endpoint URL " } else { "Base URL " }}
                        <input
                            type="url"
                            data-testid="endpoint-url"
                            placeholder=move || if form.preset.get() == Preset::Dedicated { "https://….endpoints.huggingface.cloud" } else { "http://127.0.0.1:8000/v1" }
                            prop:value=move || form.url.get()
                            on:input=move |event| form.url.set(event_target_value(&event))
                        />
                    </label>
                </Show>
                <Show when=needs_model>
                    <label>
                        "Model "
                        <input
                            type="text"
                            data-testid="endpoint-model"
                            placeholder="HuggingFaceTB/SmolLM2-1.7B-Instruct"
                            prop:value=move || form.model.get()
                            on:input=move |event| form.model.set(event_target_value(&event))
                        />
                    </label>
                </Show>
                <label>
                    "Token "
                    <input
                        type="password"
                        autocomplete="off"
                        data-testid="endpoint-token"
                        placeholder="hf_… (optional)"
                        prop:value=move || form.token.get()
                        on:input=move |event| form.token.set(event_target_value(&event))
                    />
                </label>
                <div class="buttons">
                    <button type="button" data-testid="endpoint-test" on:click=test_form>"Test connection"</button>
                    <button type="submit" data-testid="endpoint-save">
                        {move || if form.editing.get().is_some() { "Save" } else { "Add" }}
                    </button>
                    <Show when=move || form.editing.get().is_some()>
                        <button type="button" on:click=move |_| form.clear()>"Cancel"</button>
                    </Show>
                </div>
            </form>
            <p class="outcome" role="status" data-testid="endpoint-outcome" data-state=move || match outcome.get() {
                TestOutcome::Idle => "idle",
                TestOutcome::Testing => "testing",
                TestOutcome::Passed(_) => "passed",
                TestOutcome::Failed(_) => "failed",
            }>
                {move || match outcome.get() {
                    TestOutcome::Idle => String::new(),
                    TestOutcome::Testing => "Testing…".to_owned(),
                    TestOutcome::Passed(message) | TestOutcome::Failed(message) => message,
                }}
            </p>
            <Show when=move || problem.get().is_some()>
                <p class="error" role="alert" data-testid="endpoint-problem">{move || problem.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
