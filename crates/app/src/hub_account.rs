//! The Hugging Face account of this tab: signing in (OAuth with PKCE, or a
//! pasted token), which Hub to use, and Settings → Hugging Face.
//!
//! The session (token, expiry, who) lives in this tab's sessionStorage only
//! (see [`prefab_hub::browser`]); the Hub's address and an OAuth client id
//! typed in Settings are not secrets and live in localStorage. On a Space
//! with `hf_oauth: true` the client id and scopes come from the Space.

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_hub::browser::{self, Hub};
use prefab_hub::oauth::{hub_address, OAuthSettings, Session, DEFAULT_SCOPES};
use prefab_hub::HubError;

/// localStorage key of the Hub's address.
const HUB_URL_KEY: &str = "prefab.hub.url";
/// localStorage key of the OAuth client id typed in Settings.
const CLIENT_ID_KEY: &str = "prefab.hub.client_id";

/// The page-wide account state, provided as a context.
#[derive(Clone, Copy)]
pub struct HubAccount {
    /// Who is signed in, if anyone.
    pub session: RwSignal<Option<Session>>,
    /// The Hub's address, always in [`hub_address`]'s form.
    pub hub_url: RwSignal<String>,
    /// The OAuth app's client id when the page is not on a Space.
    pub client_id: RwSignal<String>,
    /// The last sign-in problem.
    pub problem: RwSignal<Option<HubError>>,
    /// Whether a sign-in is being finished or started.
    pub busy: RwSignal<bool>,
}

fn local(key: &str) -> Option<String> {
    window().local_storage().ok().flatten()?.get_item(key).ok().flatten().filter(|value| !value.trim().is_empty())
}

fn set_local(key: &str, value: &str) {
    if let Some(storage) = window().local_storage().ok().flatten() {
        let _ = if value.trim().is_empty() { storage.remove_item(key) } else { storage.set_item(key, value.trim()) };
    }
}

impl HubAccount {
    /// The account of this tab; finishes a sign-in if the provider just sent
    /// the browser back. Create it before reading the place from the address:
    /// it takes the sign-in's answer out of the address first.
    pub fn new() -> HubAccount {
        let space = browser::space_oauth_settings();
        let hub_url = hub_address(&local(HUB_URL_KEY).or_else(|| space.map(|s| s.provider_url)).unwrap_or_default());
        let account = HubAccount {
            session: RwSignal::new(browser::stored_session()),
            hub_url: RwSignal::new(hub_url),
            client_id: RwSignal::new(local(CLIENT_ID_KEY).unwrap_or_default()),
            problem: RwSignal::new(None),
            busy: RwSignal::new(false),
        };
        match browser::take_sign_in_answer() {
            Some(Ok((pending, callback))) => {
                account.busy.set(true);
                spawn_local(async move {
                    match browser::finish_sign_in(pending, callback).await {
                        Ok(session) => {
                            account.hub_url.set(session.hub_url.clone());
                            account.session.set(Some(session));
                            account.problem.set(None);
                        }
                        Err(error) => account.problem.set(Some(error)),
                    }
                    account.busy.set(false);
                });
            }
            Some(Err(error)) => account.problem.set(Some(error)),
            None => {}
        }
        account
    }

    /// The signed-in session, or the error that asks to sign in.
    pub fn require(&self) -> Result<Session, HubError> {
        match browser::stored_session() {
            Some(session) => Ok(session),
            None => {
                self.session.set(None);
                Err(HubError::new(prefab_hub::HubErrorKind::SignInNeeded, "not signed in (Settings → Hugging Face)"))
            }
        }
    }

    /// The Hub, with the token if signed in to it.
    pub fn hub(&self) -> Hub {
        let hub_url = self.hub_url.get_untracked();
        match browser::stored_session() {
            Some(session) if session.hub_url == hub_url => Hub::signed_in(&session),
            _ => Hub::new(&hub_url, None),
        }
    }

    /// Notes an error from any Hub call: one that needs a new sign-in signs out,
    /// so Settings offers to sign in again (nothing else is touched).
    pub fn note(&self, error: &HubError) {
        if error.needs_sign_in() {
            browser::sign_out();
            self.session.set(None);
        }
    }

    fn oauth_settings(&self) -> Result<OAuthSettings, HubError> {
        if let Some(space) = browser::space_oauth_settings() {
            return Ok(space);
        }
        let client_id = self.client_id.get_untracked();
        if client_id.trim().is_empty() {
            return Err(HubError::new(
                prefab_hub::HubErrorKind::SignInFailed,
                "this page is not on a Space with hf_oauth, so it needs an OAuth app's client id: create one at huggingface.co/settings/applications and type its id below, or paste an access token",
            ));
        }
        Ok(OAuthSettings { client_id: client_id.trim().to_owned(), scopes: DEFAULT_SCOPES.to_owned(), provider_url: self.hub_url.get_untracked() })
    }

    /// Sends the browser to the provider to sign in.
    pub fn sign_in(&self) {
        let account = *self;
        let settings = match self.oauth_settings() {
            Ok(settings) => settings,
            Err(error) => return self.problem.set(Some(error)),
        };
        self.busy.set(true);
        spawn_local(async move {
            let page = window().location().href().unwrap_or_default();
            match browser::begin_sign_in(settings, &page).await {
                Ok(url) => {
                    let _ = window().location().set_href(&url);
                }
                Err(error) => {
                    account.problem.set(Some(error));
                    account.busy.set(false);
                }
            }
        });
    }

    /// Signs in with a pasted token.
    pub fn use_token(&self, token: String) {
        let account = *self;
        self.busy.set(true);
        spawn_local(async move {
            match browser::sign_in_with_token(&account.hub_url.get_untracked(), &token).await {
                Ok(session) => {
                    account.session.set(Some(session));
                    account.problem.set(None);
                }
                Err(error) => account.problem.set(Some(error)),
            }
            account.busy.set(false);
        });
    }

    /// Uses the Hub a campaign link names (a workshop's local Hub) and its
    /// OAuth client id, remembered like the ones typed in Settings.
    pub fn use_hub(&self, hub_url: &str, client_id: Option<&str>) {
        let hub_url = hub_address(hub_url);
        set_local(HUB_URL_KEY, &hub_url);
        self.hub_url.set(hub_url);
        if let Some(client_id) = client_id {
            set_local(CLIENT_ID_KEY, client_id);
            self.client_id.set(client_id.to_owned());
        }
    }

    /// Signs out of this tab.
    pub fn sign_out(&self) {
        browser::sign_out();
        self.session.set(None);
    }
}

impl Default for HubAccount {
    fn default() -> HubAccount {
        HubAccount::new()
    }
}

/// One line that says who is signed in, for the places that use the Hub.
#[component]
pub fn SignedInLine() -> impl IntoView {
    let account = expect_context::<HubAccount>();
    move || match account.session.get() {
        Some(session) => view! { <p class="hint" data-testid="hub-signed-in-line">{format!("Signed in to {} as {}.", session.hub_url, session.account.username)}</p> }.into_any(),
        None => view! { <p class="hint" data-testid="hub-signed-in-line">"Not signed in: "<a href="#/settings">"sign in with Hugging Face in Settings"</a>" (public datasets can be read without)."</p> }.into_any(),
    }
}

/// Settings → Hugging Face.
#[component]
pub fn HubSettings() -> impl IntoView {
    let account = expect_context::<HubAccount>();
    let on_space = browser::space_oauth_settings().is_some();
    let token = RwSignal::new(String::new());
    let use_token = move |_| {
        let typed = token.get_untracked();
        token.set(String::new());
        if !typed.trim().is_empty() {
            account.use_token(typed);
        }
    };
    view! {
        <section class="panel" aria-labelledby="hub-title" data-testid="hub-settings">
            <h2 id="hub-title">"Hugging Face"</h2>
            {move || match account.session.get() {
                Some(session) => view! {
                    <p data-testid="hub-account" role="status">
                        {session.account.avatar_url.clone().map(|url| view! { <img class="avatar" src=url alt="" crossorigin="anonymous" referrerpolicy="no-referrer" width="24" height="24" /> })}
                        {format!("Signed in as {}", session.account.username)}
                        {session.account.full_name.clone().map(|name| format!(" ({name})"))}
                        {format!(" on {}.", session.hub_url)}
                    </p>
                    <div class="buttons"><button type="button" data-testid="hub-sign-out" on:click=move |_| account.sign_out()>"Sign out"</button></div>
                }.into_any(),
                None => view! {
                    <p>"Sign in to read gated and private datasets, publish datasets and send your ratings to a campaign. The token stays in this tab only."</p>
                    <div class="buttons">
                        <button type="button" data-testid="hub-sign-in" prop:disabled=move || account.busy.get() on:click=move |_| account.sign_in()>"Sign in with Hugging Face"</button>
                    </div>
                }.into_any(),
            }}
            {move || account.problem.get().map(|error| view! { <p class="error" role="alert" data-testid="hub-problem">{error.to_string()}</p> })}
            <details>
                <summary>"Another Hub, an OAuth app, or an access token"</summary>
                <label>
                    "Hub address"
                    <input type="url" data-testid="hub-url" prop:value=account.hub_url
                        on:change=move |event| { let url = event_target_value(&event); set_local(HUB_URL_KEY, &url); account.hub_url.set(hub_address(&url)); } />
                </label>
                {(!on_space).then(|| view! {
                    <label>
                        "OAuth app client id (from huggingface.co/settings/applications; its redirect URL is this page's address)"
                        <input type="text" data-testid="hub-client-id" prop:value=account.client_id autocomplete="off"
                            on:change=move |event| { let id = event_target_value(&event); set_local(CLIENT_ID_KEY, &id); account.client_id.set(id.trim().to_owned()); } />
                    </label>
                })}
                <label>
                    "Or paste an access token (kept in this tab only)"
                    <input type="password" data-testid="hub-token" autocomplete="off" prop:value=token on:input=move |event| token.set(event_target_value(&event)) />
                </label>
                <div class="buttons"><button type="button" data-testid="hub-use-token" on:click=use_token>"Use this token"</button></div>
            </details>
        </section>
    }
}
