//! Sign in with Hugging Face from a static page: OAuth 2 authorization code
//! with PKCE (S256), no client secret and no server.
//!
//! The flow, step by step (the transport does the redirects and requests):
//! 1. [`OAuthSettings`] come from the Space (`window.huggingface.variables`
//!    when the Space has `hf_oauth: true`) or from Settings elsewhere;
//! 2. the provider's endpoints come from its `/.well-known/openid-configuration`
//!    ([`Discovery`]);
//! 3. [`PendingSignIn::new`] draws a verifier and a `state`, and is kept in
//!    sessionStorage while the browser visits [`PendingSignIn::authorize_url`];
//! 4. the provider sends the browser back with `?code=…&state=…`;
//!    [`Callback::from_query`] reads them, [`PendingSignIn::check`] refuses a
//!    `state` that is not ours, and [`PendingSignIn::token_request`] exchanges
//!    the code with the verifier;
//! 5. [`Session`] holds the access token and its expiry (sessionStorage only),
//!    and `userinfo` gives the [`Account`].

use crate::error::{HubError, HubErrorKind};
use crate::http::{form, query_pairs, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The scopes Prefab asks for: who you are, reading gated and private
/// datasets, creating dataset repos and writing to your own, and opening
/// pull requests on datasets you cannot write to (campaign contributions).
pub const DEFAULT_SCOPES: &str = "openid profile read-repos write-repos contribute-repos write-discussions";

/// The Hub's address.
pub const HUGGING_FACE: &str = "https://huggingface.co";

/// A Hub's address as typed or stored: trimmed, without a trailing `/`; an
/// empty one is the Hugging Face Hub.
pub fn hub_address(text: &str) -> String {
    let address = text.trim().trim_end_matches('/');
    if address.is_empty() { HUGGING_FACE.to_owned() } else { address.to_owned() }
}

/// Which OAuth app, with which scopes, at which provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OAuthSettings {
    /// The OAuth app's client id.
    pub client_id: String,
    /// Space-separated scopes.
    pub scopes: String,
    /// The provider (the Hub's address), e.g. `https://huggingface.co`.
    pub provider_url: String,
}

impl OAuthSettings {
    /// Reads a Space's `window.huggingface.variables` (as JSON): `OAUTH_CLIENT_ID`,
    /// `OAUTH_SCOPES` and `OPENID_PROVIDER_URL`. `None` when the Space has no OAuth.
    pub fn from_space_variables(variables: &serde_json::Value) -> Option<OAuthSettings> {
        let text = |key: &str| variables.get(key).and_then(|v| v.as_str()).map(str::trim).filter(|v| !v.is_empty());
        let client_id = text("OAUTH_CLIENT_ID")?.to_owned();
        let mut scopes: Vec<&str> = text("OAUTH_SCOPES").unwrap_or("openid profile").split_whitespace().collect();
        for needed in ["openid", "profile"] {
            if !scopes.contains(&needed) {
                scopes.insert(0, needed);
            }
        }
        Some(OAuthSettings {
            client_id,
            scopes: scopes.join(" "),
            provider_url: hub_address(text("OPENID_PROVIDER_URL").unwrap_or_default()),
        })
    }
}

/// The provider's endpoints, from its OpenID configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discovery {
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where the code is exchanged for a token.
    pub token_endpoint: String,
    /// Where the signed-in person's name and avatar are read.
    pub userinfo_endpoint: String,
}

impl Discovery {
    /// The request for the configuration.
    pub fn request(provider_url: &str) -> HttpRequest {
        HttpRequest { authorized: false, ..HttpRequest::get(format!("{}/.well-known/openid-configuration", provider_url.trim_end_matches('/'))) }
    }

    /// Reads the configuration.
    pub fn read(response: &HttpResponse, provider_url: &str) -> Result<Discovery, HubError> {
        if !response.ok() {
            return Err(response.error(provider_url, None));
        }
        response.json("the OpenID configuration")
    }
}

/// The code verifier for 32 random bytes: 43 characters of base64url.
pub fn code_verifier(random: &[u8; 32]) -> String {
    URL_SAFE_NO_PAD.encode(random)
}

/// The S256 challenge of a verifier: base64url(sha256(verifier)).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A sign-in under way, kept in sessionStorage across the redirect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// Our random `state`, which must come back unchanged.
    pub state: String,
    /// The PKCE code verifier (its challenge went to the provider).
    pub verifier: String,
    /// Where the provider sends the browser back: this page, without query or fragment.
    pub redirect_uri: String,
    /// The page's fragment when the sign-in began (`#/export`), restored afterwards.
    pub return_fragment: String,
    /// The app and scopes.
    pub settings: OAuthSettings,
    /// The provider's endpoints.
    pub discovery: Discovery,
}

impl PendingSignIn {
    /// A new sign-in from 48 random bytes (32 for the verifier, 16 for the state).
    pub fn new(settings: OAuthSettings, discovery: Discovery, page_url: &str, random: &[u8; 48]) -> PendingSignIn {
        let (without_fragment, fragment) = page_url.split_once('#').unwrap_or((page_url, ""));
        let redirect_uri = without_fragment.split('?').next().unwrap_or_default().to_owned();
        let verifier: [u8; 32] = random[..32].try_into().expect("32 bytes");
        PendingSignIn {
            state: URL_SAFE_NO_PAD.encode(&random[32..]),
            verifier: code_verifier(&verifier),
            redirect_uri,
            return_fragment: if fragment.is_empty() { String::new() } else { format!("#{fragment}") },
            settings,
            discovery,
        }
    }

    /// Where to send the browser to sign in.
    pub fn authorize_url(&self) -> String {
        let query = form(&[
            ("client_id", &self.settings.client_id),
            ("redirect_uri", &self.redirect_uri),
            ("response_type", "code"),
            ("scope", &self.settings.scopes),
            ("state", &self.state),
            ("code_challenge", &code_challenge(&self.verifier)),
            ("code_challenge_method", "S256"),
        ]);
        let separator = if self.discovery.authorization_endpoint.contains('?') { '&' } else { '?' };
        format!("{}{separator}{query}", self.discovery.authorization_endpoint)
    }

    /// Checks that the provider answered this sign-in, and returns the code.
    pub fn check(&self, callback: &Callback) -> Result<String, HubError> {
        match callback {
            Callback::Refused { error, description } => {
                Err(HubError::new(HubErrorKind::SignInFailed, format!("{error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())))
            }
            Callback::Code { state, .. } if state != &self.state => Err(HubError::new(
                HubErrorKind::SignInFailed,
                "the answer did not come from the sign-in this page started (its state differs); sign in again",
            )),
            Callback::Code { code, .. } => Ok(code.clone()),
        }
    }

    /// The token request for `code`: a form POST with the verifier and no secret.
    pub fn token_request(&self, code: &str) -> HttpRequest {
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.redirect_uri),
            ("client_id", &self.settings.client_id),
            ("code_verifier", &self.verifier),
        ]);
        HttpRequest {
            method: "POST",
            url: self.discovery.token_endpoint.clone(),
            headers: vec![("Content-Type".into(), "application/x-www-form-urlencoded".into())],
            body: Some(body.into_bytes()),
            authorized: false,
        }
    }
}

/// What the provider put in the page's query when it sent the browser back.
#[derive(Debug, Clone, PartialEq)]
pub enum Callback {
    /// Signed in: a code to exchange.
    Code {
        /// The authorization code.
        code: String,
        /// The state it was given.
        state: String,
    },
    /// The person declined, or the provider refused.
    Refused {
        /// The OAuth error code, e.g. `access_denied`.
        error: String,
        /// Its description, if any.
        description: Option<String>,
    },
}

impl Callback {
    /// Reads a page's query (`?code=…&state=…`); `None` when it is not a sign-in's return.
    pub fn from_query(query: &str) -> Option<Callback> {
        let pairs = query_pairs(query);
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        if let Some(error) = get("error") {
            return Some(Callback::Refused { error, description: get("error_description") });
        }
        Some(Callback::Code { code: get("code")?, state: get("state")? })
    }
}

/// The page's address without the sign-in's `code`, `state` and error
/// parameters (other parameters are kept), with `fragment` put back.
pub fn clean_address(path: &str, query: &str, fragment: &str) -> String {
    const SIGN_IN: [&str; 5] = ["code", "state", "error", "error_description", "iss"];
    let kept: Vec<&str> = query
        .trim_start_matches('?')
        .split('&')
        .filter(|part| !part.is_empty() && !SIGN_IN.contains(&part.split('=').next().unwrap_or_default()))
        .collect();
    let query = if kept.is_empty() { String::new() } else { format!("?{}", kept.join("&")) };
    format!("{path}{query}{fragment}")
}

/// A signed-in session: the token and when it stops working.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The access token (sent only in `Authorization` headers).
    pub access_token: String,
    /// When it expires, in milliseconds since the epoch; `None` if unknown (a pasted token).
    pub expires_at_ms: Option<f64>,
    /// The Hub's address it belongs to.
    pub hub_url: String,
    /// Who it belongs to.
    pub account: Account,
}

impl Session {
    /// Whether it has expired at `now_ms` (a minute early, so a request does not fail halfway).
    pub fn expired(&self, now_ms: f64) -> bool {
        self.expires_at_ms.is_some_and(|expires| now_ms + 60_000.0 >= expires)
    }
}

/// The token endpoint's answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Its lifetime in seconds.
    #[serde(default)]
    pub expires_in: Option<f64>,
    /// The scopes granted.
    #[serde(default)]
    pub scope: Option<String>,
}

impl TokenResponse {
    /// Reads the token endpoint's answer; a refusal (a wrong verifier, a used
    /// code) is a [`HubErrorKind::SignInFailed`] with the provider's words.
    pub fn read(response: &HttpResponse, provider_url: &str) -> Result<TokenResponse, HubError> {
        if !response.ok() {
            let error = response.error(provider_url, None);
            return Err(HubError::new(HubErrorKind::SignInFailed, format!("the code was not accepted: {}", error.message)));
        }
        response.json("the token endpoint's answer")
    }

    /// When it expires, from the time it was received.
    pub fn expires_at_ms(&self, now_ms: f64) -> Option<f64> {
        self.expires_in.map(|seconds| now_ms + seconds * 1000.0)
    }
}

/// Who is signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Account {
    /// The username (the namespace of their repos).
    pub username: String,
    /// The full name, if given.
    pub full_name: Option<String>,
    /// The avatar's address.
    pub avatar_url: Option<String>,
    /// Organizations the account can write to.
    pub writable_orgs: Vec<String>,
}

impl Account {
    /// The `userinfo` request.
    pub fn userinfo_request(endpoint: &str) -> HttpRequest {
        HttpRequest::get(endpoint)
    }

    /// Reads OpenID `userinfo`: `preferred_username`, `name`, `picture`, `orgs`.
    pub fn from_userinfo(response: &HttpResponse, hub_url: &str) -> Result<Account, HubError> {
        if !response.ok() {
            return Err(response.error(hub_url, None));
        }
        let value: serde_json::Value = response.json("userinfo")?;
        let text = |value: &serde_json::Value, key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let username = text(&value, "preferred_username")
            .ok_or_else(|| HubError::new(HubErrorKind::BadResponse, "userinfo has no preferred_username"))?;
        Ok(Account {
            username,
            full_name: text(&value, "name"),
            avatar_url: text(&value, "picture"),
            writable_orgs: writable_orgs(&value, "preferred_username"),
        })
    }

    /// The `whoami-v2` request, for a pasted token.
    pub fn whoami_request(hub_url: &str) -> HttpRequest {
        HttpRequest::get(format!("{}/api/whoami-v2", hub_url.trim_end_matches('/')))
    }

    /// Reads `whoami-v2`: `name`, `fullname`, `avatarUrl`, `orgs`.
    pub fn from_whoami(response: &HttpResponse, hub_url: &str) -> Result<Account, HubError> {
        if !response.ok() {
            return Err(response.error(hub_url, None));
        }
        let value: serde_json::Value = response.json("whoami")?;
        let text = |key: &str| value.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let username = text("name").ok_or_else(|| HubError::new(HubErrorKind::BadResponse, "whoami has no name"))?;
        let avatar = text("avatarUrl").map(|url| if url.starts_with('/') { format!("{}{url}", hub_url.trim_end_matches('/')) } else { url });
        Ok(Account { username, full_name: text("fullname"), avatar_url: avatar, writable_orgs: writable_orgs(&value, "name") })
    }

    /// Whether this account can commit straight to repositories of `namespace`.
    pub fn can_write(&self, namespace: &str) -> bool {
        namespace == self.username || self.writable_orgs.iter().any(|org| org == namespace)
    }
}

/// Organizations where the role allows writing (or no role is given, which
/// older answers omit: the commit then decides).
fn writable_orgs(value: &serde_json::Value, name_key: &str) -> Vec<String> {
    let Some(orgs) = value.get("orgs").and_then(|v| v.as_array()) else { return Vec::new() };
    orgs.iter()
        .filter(|org| org.get("roleInOrg").and_then(|r| r.as_str()).is_none_or(|role| matches!(role, "admin" | "write" | "contributor")))
        .filter_map(|org| org.get(name_key).or_else(|| org.get("name")).and_then(|v| v.as_str()).map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending() -> PendingSignIn {
        let settings = OAuthSettings { client_id: "app-1".into(), scopes: "openid profile write-discussions".into(), provider_url: "http://hub".into() };
        let discovery = Discovery {
            authorization_endpoint: "http://hub/oauth/authorize".into(),
            token_endpoint: "http://hub/oauth/token".into(),
            userinfo_endpoint: "http://hub/oauth/userinfo".into(),
        };
        PendingSignIn::new(settings, discovery, "http://page:8080/app/?x=1#/export", &[7; 48])
    }

    #[test]
    fn the_challenge_is_rfc_7636s_example() {
        // RFC 7636, appendix B.
        assert_eq!(code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let verifier = code_verifier(&[0xAB; 32]);
        assert_eq!(verifier.len(), 43);
        assert!(verifier.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn the_authorize_url_carries_the_challenge_not_the_verifier() {
        let pending = pending();
        assert_eq!(pending.redirect_uri, "http://page:8080/app/");
        assert_eq!(pending.return_fragment, "#/export");
        let url = pending.authorize_url();
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, "http://hub/oauth/authorize");
        let pairs = query_pairs(query);
        let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
        assert_eq!(get("client_id"), Some("app-1"));
        assert_eq!(get("redirect_uri"), Some("http://page:8080/app/"));
        assert_eq!(get("response_type"), Some("code"));
        assert_eq!(get("scope"), Some("openid profile write-discussions"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("code_challenge"), Some(code_challenge(&pending.verifier).as_str()));
        assert_eq!(get("state"), Some(pending.state.as_str()));
        assert!(!url.contains(&pending.verifier));
    }

    #[test]
    fn a_foreign_state_or_a_refusal_is_not_a_sign_in() {
        let pending = pending();
        let ours = Callback::from_query(&format!("?code=c1&state={}", pending.state)).unwrap();
        assert_eq!(pending.check(&ours).unwrap(), "c1");
        let theirs = Callback::from_query("?code=c1&state=forged").unwrap();
        assert_eq!(pending.check(&theirs).unwrap_err().kind, HubErrorKind::SignInFailed);
        let refused = Callback::from_query("?error=access_denied&error_description=The+user+declined").unwrap();
        let error = pending.check(&refused).unwrap_err();
        assert!(error.message.contains("access_denied: The user declined"), "{}", error.message);
        assert_eq!(Callback::from_query("?campaign=a/b"), None);
    }

    #[test]
    fn the_token_request_sends_the_verifier_and_no_secret() {
        let pending = pending();
        let request = pending.token_request("c1");
        assert_eq!(request.method, "POST");
        assert!(!request.authorized);
        let body = String::from_utf8(request.body.unwrap()).unwrap();
        let pairs = query_pairs(&body);
        assert!(pairs.contains(&("code_verifier".into(), pending.verifier.clone())));
        assert!(pairs.contains(&("grant_type".into(), "authorization_code".into())));
        assert!(pairs.contains(&("redirect_uri".into(), "http://page:8080/app/".into())));
        assert!(!body.contains("secret"));
    }

    #[test]
    fn the_address_loses_the_code_and_keeps_the_rest() {
        assert_eq!(clean_address("/app/", "?code=c&state=s", "#/export"), "/app/#/export");
        assert_eq!(clean_address("/", "?campaign=a%2Fb&code=c&state=s", ""), "/?campaign=a%2Fb");
        assert_eq!(clean_address("/", "", "#/build"), "/#/build");
    }

    #[test]
    fn hub_addresses_are_kept_in_one_form() {
        assert_eq!(hub_address(" http://127.0.0.1:9000/ "), "http://127.0.0.1:9000");
        assert_eq!(hub_address(""), HUGGING_FACE);
    }

    #[test]
    fn space_variables_give_the_settings() {
        let variables = serde_json::json!({"OAUTH_CLIENT_ID": "abc", "OAUTH_SCOPES": "write-discussions read-repos", "OPENID_PROVIDER_URL": "https://huggingface.co/"});
        let settings = OAuthSettings::from_space_variables(&variables).unwrap();
        assert_eq!(settings.client_id, "abc");
        assert_eq!(settings.scopes, "profile openid write-discussions read-repos");
        assert_eq!(settings.provider_url, "https://huggingface.co");
        assert_eq!(OAuthSettings::from_space_variables(&serde_json::json!({"SPACE_ID": "a/b"})), None);
    }

    #[test]
    fn accounts_come_from_userinfo_and_whoami() {
        let userinfo = HttpResponse {
            status: 200,
            body: br#"{"sub":"1","name":"Ada L","preferred_username":"ada","picture":"https://x/a.png","orgs":[{"preferred_username":"lab","roleInOrg":"write"},{"preferred_username":"club","roleInOrg":"read"}]}"#.to_vec(),
            ..Default::default()
        };
        let account = Account::from_userinfo(&userinfo, "h").unwrap();
        assert_eq!(account.username, "ada");
        assert_eq!(account.writable_orgs, vec!["lab"]);
        assert!(account.can_write("ada") && account.can_write("lab") && !account.can_write("club"));
        let whoami = HttpResponse {
            status: 200,
            body: br#"{"type":"user","name":"bob","fullname":"Bob","avatarUrl":"/avatars/b.png","orgs":[{"name":"lab"}]}"#.to_vec(),
            ..Default::default()
        };
        let account = Account::from_whoami(&whoami, "http://hub").unwrap();
        assert_eq!((account.username.as_str(), account.avatar_url.as_deref()), ("bob", Some("http://hub/avatars/b.png")));
        assert_eq!(account.writable_orgs, vec!["lab"]);
        let refused = HttpResponse { status: 401, body: br#"{"error":"Invalid credentials"}"#.to_vec(), ..Default::default() };
        assert!(Account::from_whoami(&refused, "h").unwrap_err().needs_sign_in());
    }

    #[test]
    fn sessions_expire_a_minute_early() {
        let session = Session { access_token: "t".into(), expires_at_ms: Some(100_000.0), hub_url: "h".into(), account: Account::default() };
        assert!(!session.expired(39_000.0));
        assert!(session.expired(40_000.0));
        let pasted = Session { expires_at_ms: None, ..session };
        assert!(!pasted.expired(f64::MAX));
    }
}
