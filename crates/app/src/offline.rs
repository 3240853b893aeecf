//! Offline-first: the service worker (`www/sw.js`) that keeps the page, and
//! the browser's storage: kept for good, how much is used, what is left.
//!
//! The service worker registers at start-up where the browser allows one
//! (https, or `localhost`; not a LAN address over plain http, where the page
//! still works, online). A new version waits beside the running one until
//! the person chooses "Reload to update" ([`UpdateNotice`]): the page never
//! reloads by itself, so nobody loses the rating they were giving.
//!
//! Storage: `navigator.storage.persist()` is asked for once a rating is
//! stored (so the browser does not clear ratings when the disk runs low),
//! and [`StorageLine`] shows `navigator.storage.estimate()` in the footer.

use leptos::prelude::*;
use prefab_core::byte_size::byte_size;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ServiceWorkerContainer, ServiceWorkerRegistration, StorageEstimate, StorageManager};

/// Where Trunk copies the service worker (see `www/index.html`).
const SERVICE_WORKER_URL: &str = "./sw.js";

/// The page-wide offline state, provided as a context.
#[derive(Clone, Copy)]
pub struct Offline {
    /// A new version is installed and waits for "Reload to update".
    pub update_ready: RwSignal<bool>,
    /// The storage figures; bumped after each stored rating.
    pub storage: RwSignal<Option<StorageUse>>,
    /// Whether this page has asked to keep its storage: once per visit,
    /// whatever the answer (a browser that asks the person, as Firefox
    /// does, must not ask again at every rating).
    asked_to_keep: RwSignal<bool>,
}

/// What `navigator.storage` says of this page's storage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StorageUse {
    /// Bytes used by this page (IndexedDB, caches, the model files).
    pub used: f64,
    /// Bytes this page may use in all.
    pub quota: f64,
    /// Whether the browser keeps it even when the disk runs low.
    pub persisted: bool,
}

impl Offline {
    /// Registers the service worker and reads the storage figures.
    pub fn start() -> Offline {
        let offline = Offline { update_ready: RwSignal::new(false), storage: RwSignal::new(None), asked_to_keep: RwSignal::new(false) };
        if let Some(container) = service_workers() {
            let update_ready = offline.update_ready;
            leptos::task::spawn_local(async move {
                if let Err(error) = register(container, update_ready).await {
                    web_sys::console::warn_1(&format!("Prefab will not open offline: the service worker did not register ({error:?})").into());
                }
            });
        }
        offline.refresh_storage();
        offline
    }

    /// Reads the storage figures again (after a write).
    pub fn refresh_storage(self) {
        let Some(manager) = storage_manager() else { return };
        let storage = self.storage;
        leptos::task::spawn_local(async move {
            if let Some(figures) = storage_use(&manager).await {
                storage.set(Some(figures));
            }
        });
    }

    /// Asks the browser to keep this page's storage for good (once a rating
    /// is stored, and once per visit; a browser may ask the person or decide
    /// by itself), then reads the figures again.
    pub fn keep_storage(self) {
        let Some(manager) = storage_manager() else { return };
        let ask = !self.asked_to_keep.get_untracked() && !self.storage.get_untracked().is_some_and(|figures| figures.persisted);
        self.asked_to_keep.set(true);
        leptos::task::spawn_local(async move {
            if ask {
                if let Ok(asked) = manager.persist() {
                    let _ = JsFuture::from(asked).await;
                }
            }
            self.refresh_storage();
        });
    }

    /// Switches to the waiting version: it takes over, then the page reloads.
    pub fn update_now(self) {
        let Some(container) = service_workers() else { return };
        let reload = Closure::once_into_js(|| {
            let _ = window().location().reload();
        });
        container.set_oncontrollerchange(Some(reload.unchecked_ref()));
        leptos::task::spawn_local(async move {
            if let Some(waiting) = registration(&container).await.and_then(|registration| registration.waiting()) {
                let _ = waiting.post_message(&"skip-waiting".into());
            }
        });
    }
}

/// Tells the service worker to keep the model worker's files, which the
/// page has just started to use (it may have done so before the service
/// worker controlled it, so the fetches went past it).
pub fn keep_model_worker() {
    let Some(container) = service_workers() else { return };
    leptos::task::spawn_local(async move {
        if let Some(active) = registration(&container).await.and_then(|registration| registration.active()) {
            let _ = active.post_message(&"keep-model-worker".into());
        }
    });
}

/// `navigator[name]`, where the browser offers it: service workers,
/// storage and Web Locks exist only in a secure context (https, or
/// `localhost`), so a page over plain http on a LAN address has none.
pub(crate) fn navigator_api(name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(&window().navigator(), &name.into()).ok().filter(|api| !api.is_undefined())
}

/// `navigator.serviceWorker`, where the browser offers it.
fn service_workers() -> Option<ServiceWorkerContainer> {
    navigator_api("serviceWorker").map(JsCast::unchecked_into)
}

/// `navigator.storage`, where the browser offers it.
fn storage_manager() -> Option<StorageManager> {
    navigator_api("storage").map(JsCast::unchecked_into)
}

/// The active registration, once there is one.
async fn registration(container: &ServiceWorkerContainer) -> Option<ServiceWorkerRegistration> {
    let ready = container.ready().ok()?;
    JsFuture::from(ready).await.ok().map(JsCast::unchecked_into)
}

async fn register(container: ServiceWorkerContainer, update_ready: RwSignal<bool>) -> Result<(), JsValue> {
    let registration: ServiceWorkerRegistration = JsFuture::from(container.register(SERVICE_WORKER_URL)).await?.unchecked_into();
    // A version that installed while no page was open, or while this one loaded.
    let controlled = container.controller().is_some();
    if controlled && registration.waiting().is_some() {
        update_ready.set(true);
    }
    // One that installs from now on: it waits once installed, if a version
    // already controls the page (the very first install takes over at once).
    let watched = registration.clone();
    let on_update = Closure::<dyn FnMut()>::new(move || {
        let Some(installing) = watched.installing() else { return };
        let container = container.clone();
        let watched = installing.clone();
        let on_state = Closure::<dyn FnMut()>::new(move || {
            if watched.state() == web_sys::ServiceWorkerState::Installed && container.controller().is_some() {
                update_ready.set(true);
            }
        });
        installing.set_onstatechange(Some(on_state.as_ref().unchecked_ref()));
        on_state.forget();
    });
    registration.set_onupdatefound(Some(on_update.as_ref().unchecked_ref()));
    // The registration lives as long as the page.
    on_update.forget();
    Ok(())
}

async fn storage_use(manager: &StorageManager) -> Option<StorageUse> {
    let estimate: StorageEstimate = JsFuture::from(manager.estimate().ok()?).await.ok()?.unchecked_into();
    let persisted = match manager.persisted() {
        Ok(asked) => JsFuture::from(asked).await.ok().and_then(|answer| answer.as_bool()).unwrap_or(false),
        Err(_) => false,
    };
    Some(StorageUse { used: estimate.get_usage()?, quota: estimate.get_quota()?, persisted })
}

/// "A new version is ready", with the button that switches to it.
#[component]
pub fn UpdateNotice() -> impl IntoView {
    let offline = expect_context::<Offline>();
    move || {
        offline.update_ready.get().then(|| {
            view! {
                <p class="update" role="status" data-testid="update-ready">
                    "A new version of Prefab is ready. "
                    <button type="button" data-testid="update-reload" on:click=move |_| offline.update_now()>
                        "Reload to update"
                    </button>
                </p>
            }
        })
    }
}

/// "Stored on this device: 1.2 MB of 9.8 GB; kept until you clear it".
#[component]
pub fn StorageLine() -> impl IntoView {
    let offline = expect_context::<Offline>();
    move || {
        offline.storage.get().map(|figures| {
            let kept = if figures.persisted { "kept until you clear it" } else { "the browser may clear it when the disk is full" };
            view! {
                <p class="storage" data-testid="storage-use" data-persisted=figures.persisted.to_string()>
                    {format!("Stored on this device: {} of {} available; {kept}.", byte_size(figures.used), byte_size(figures.quota))}
                </p>
            }
        })
    }
}
