//! The Prefab page: a Leptos client-side app with four places.
//!
//! Contribute (rate completions), Build (prompts → model pool → judge), Export
//! (TRL-ready datasets) and Settings. The page owns no model: a Web Worker
//! does (see [`model_worker`]), so the UI never freezes while a model runs.

pub mod build;
pub mod campaign;
pub mod campaign_publish;
pub mod collect;
pub mod contribute;
pub mod endpoints;
pub mod export;
pub mod file_read;
pub mod hub_account;
pub mod hub_import;
pub mod hub_publish;
pub mod local_model;
pub mod model_settings;
pub mod model_worker;
pub mod offline;
pub mod pager;
pub mod places;
pub mod pool_run;
pub mod project;
pub mod refine;
pub mod tabs;
pub mod time;

use leptos::ev;
use leptos::prelude::*;
use local_model::LocalModel;
use model_worker::{ModelWorker, WorkerStatus};
use places::Place;

/// The whole page: navigation, the current place, and the worker's status.
#[component]
pub fn App() -> impl IntoView {
    // First: a sign-in's answer leaves the address before the place is read from it.
    let account = hub_account::HubAccount::new();
    provide_context(account);
    let (place, set_place) = signal(place_in_address());
    let listener = window_event_listener(ev::hashchange, move |_| {
        let next = place_in_address();
        if next != place.get_untracked() {
            set_place.set(next);
            // Focus follows the person to the new place's heading, as after a
            // page load: a nav link keeps no focus that Enter would follow again.
            set_timeout(focus_place_title, std::time::Duration::ZERO);
        }
    });
    on_cleanup(move || listener.remove());
    provide_context(offline::Offline::start());
    let model = LocalModel::new(ModelWorker::new());
    provide_context(model);
    let project = project::Project::new();
    provide_context(project);
    tabs::listen_for_ratings(project);
    provide_context(pool_run::Runs::new());
    let campaign = campaign::Campaign::new();
    provide_context(campaign);
    leptos::task::spawn_local(async move {
        if let Err(message) = project.load().await {
            project.storage_error.set(Some(message));
        }
    });
    // A contributor's link opens its campaign, once the project is read.
    Effect::new(move |_| {
        place.track();
        if project.loaded.get() && place.get_untracked() == Place::Contribute {
            if let Some(link) = campaign::link_in_address() {
                campaign.open(link, project, account);
            }
        }
    });
    let worker = model.worker().status();
    // Build is where models run: its worker starts loading when Build opens.
    // A contributor who only rates never downloads it.
    Effect::new(move |_| {
        if place.get() == Place::Build {
            model.worker().warm_up();
        }
    });

    view! {
        <header class="top">
            <a class="brand" href=Place::Contribute.href()>"Prefab"</a>
            <nav aria-label="Places">
                {Place::ALL
                    .into_iter()
                    .map(|each| {
                        view! {
                            <a
                                href=each.href()
                                data-testid=format!("nav-{}", each.title().to_lowercase())
                                aria-current=move || (place.get() == each).then_some("page")
                            >
                                {each.title()}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
        </header>
        <offline::UpdateNotice />
        <main>
            <ErrorBoundary fallback=|errors| {
                view! {
                    <div role="alert" class="error">
                        <p>"Something went wrong on this page. Your saved work is safe."</p>
                        <ul>
                            {move || {
                                errors
                                    .get()
                                    .into_iter()
                                    .map(|(_, error)| view! { <li>{error.to_string()}</li> })
                                    .collect_view()
                            }}
                        </ul>
                    </div>
                }
            }>{move || place_view(place.get())}</ErrorBoundary>
        </main>
        <footer>
            <WorkerBadge status=worker />
            <offline::StorageLine />
        </footer>
    }
}

fn focus_place_title() {
    if let Some(title) = document().get_element_by_id("place-title").and_then(|title| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(title).ok()) {
        let _ = title.focus();
    }
}

fn place_in_address() -> Place {
    let hash = window().location().hash().unwrap_or_default();
    Place::from_hash(&hash)
}

fn place_view(place: Place) -> impl IntoView {
    let (testid, purpose) = match place {
        Place::Contribute => (
            "page-contribute",
            "Rate model completions: thumbs up or down, A versus B, 1 to 5, or a ranking.",
        ),
        Place::Build => (
            "page-build",
            "Bring prompts, run a pool of local and hosted models, and judge their completions.",
        ),
        Place::Export => (
            "page-export",
            "Download TRL-ready KTO and DPO datasets and the raw generations, as JSONL or Parquet, or publish them to the Hub.",
        ),
        Place::Settings => (
            "page-settings",
            "Choose the local model, add hosted endpoints, and sign in with Hugging Face.",
        ),
    };
    view! {
        <section data-testid=testid aria-labelledby="place-title">
            <h1 id="place-title" tabindex="-1">{place.title()}</h1>
            <p>{purpose}</p>
            {(place == Place::Contribute).then(|| view! { <WhenProjectOpen><contribute::Contribute /></WhenProjectOpen> })}
            {(place == Place::Build).then(|| view! { <WhenProjectOpen><build::Build /></WhenProjectOpen> })}
            {(place == Place::Export).then(|| view! { <WhenProjectOpen><export::Export /></WhenProjectOpen> })}
            {(place == Place::Settings)
                .then(|| view! {
                    <model_settings::ModelSettings />
                    <endpoints::EndpointSettings />
                    <hub_account::HubSettings />
                })}
        </section>
    }
}

/// Shows its children once the stored project has been read: a change made
/// before that would start from an empty project and overwrite the stored one.
#[component]
fn WhenProjectOpen(children: ChildrenFn) -> impl IntoView {
    let project = expect_context::<project::Project>();
    move || match (project.loaded.get(), project.storage_error.get()) {
        (true, _) => children().into_any(),
        (false, Some(message)) => {
            view! { <p class="error" role="alert">{format!("Your project could not be opened: {message}")}</p> }.into_any()
        }
        (false, None) => view! { <p role="status" data-testid="project-opening">"Opening your project…"</p> }.into_any(),
    }
}

/// A line in the footer saying whether the model worker is up.
#[component]
fn WorkerBadge(
    /// The worker's status, as [`ModelWorker::status`] reports it.
    status: ReadSignal<WorkerStatus>,
) -> impl IntoView {
    let text = move || match status.get() {
        WorkerStatus::Idle => "Model worker: starts when a model is needed".to_owned(),
        WorkerStatus::Starting => "Model worker: starting…".to_owned(),
        WorkerStatus::Ready { version, round_trip_ms } => {
            format!("Model worker: ready (v{version}, ping {round_trip_ms:.1} ms)")
        }
        WorkerStatus::Failed(reason) => format!("Model worker: {reason}"),
    };
    let state = move || match status.get() {
        WorkerStatus::Idle => "idle",
        WorkerStatus::Starting => "starting",
        WorkerStatus::Ready { .. } => "ready",
        WorkerStatus::Failed(_) => "failed",
    };
    view! {
        <p class="worker" data-testid="worker-status" data-state=state role="status">
            {text}
        </p>
    }
}
