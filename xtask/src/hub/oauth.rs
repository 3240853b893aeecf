//! Sign-in: OAuth 2 authorization code with PKCE (S256), for public clients.
//!
//! - `GET /.well-known/openid-configuration`: the endpoints below;
//! - `GET /oauth/authorize?client_id&redirect_uri&response_type=code&scope&state&code_challenge&code_challenge_method=S256`:
//!   a plain sign-in page (a "Hugging Face username" field and an "Authorize"
//!   button, the scopes listed); there is no password, any name works — it is
//!   a local hub for tests and workshops. Its form posts back to the same
//!   path, which answers `302 Location: {redirect_uri}?code=…&state=…`;
//!   a bad request (no challenge, a method other than S256, a response type
//!   other than `code`) gets a 400 page;
//! - `POST /oauth/token` (form: `grant_type=authorization_code`, `code`,
//!   `redirect_uri`, `code_verifier`, and `client_id`, which, when sent, must
//!   be the authorize step's — `@huggingface/hub` does not send it): checks
//!   `base64url(sha256(code_verifier)) == code_challenge`; codes are single
//!   use and live 5 minutes. Answers `{"access_token", "token_type": "Bearer",
//!   "expires_in": 28800, "scope", "id_token"}` (the id token is an unsigned
//!   JWT with `sub`, `preferred_username`, `iss`, `aud`); failures are 400
//!   `{"error": "invalid_grant" | "invalid_request" | "unsupported_grant_type", "error_description"}`;
//! - `GET /oauth/userinfo` (Bearer): `{"sub", "name", "preferred_username",
//!   "picture", "profile", "isPro": false, "orgs": [{"sub", "name", "preferred_username", "picture", "isEnterprise": false, "roleInOrg"}]}`.

use super::http::{form_value, html_escape, now, percent_encode, HubError, Reply, Req};
use super::store::{random_string, State, Token, TOKEN_LIFETIME};
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

/// How long an authorization code may wait for its token request.
const CODE_LIFETIME: u64 = 300;

/// An issued, not yet exchanged, authorization code.
#[derive(Debug, Clone)]
pub struct Grant {
    pub user: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub challenge: String,
    pub expires_at: u64,
}

/// Codes waiting to be exchanged (in memory only: they live minutes).
pub type Codes = HashMap<String, Grant>;

/// Whether a PKCE verifier answers an S256 challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let digest = Sha256::digest(verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) == challenge
}

pub fn openid_configuration(base: &str) -> Reply {
    Reply::json(&json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "userinfo_endpoint": format!("{base}/oauth/userinfo"),
        "jwks_uri": format!("{base}/oauth/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email", "read-repos", "write-repos", "manage-repos", "write-discussions", "read-billing", "inference-api"],
        "claims_supported": ["sub", "name", "preferred_username", "picture", "profile", "email", "email_verified", "isPro", "orgs"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

/// The authorize request's parameters, checked.
struct AuthorizeRequest {
    client_id: String,
    redirect_uri: String,
    scope: String,
    state: Option<String>,
    challenge: String,
}

fn authorize_request(params: &[(String, String)]) -> Result<AuthorizeRequest, String> {
    let get = |name| form_value(params, name).filter(|value| !value.is_empty());
    let client_id = get("client_id").ok_or("client_id is missing")?;
    let redirect_uri = get("redirect_uri").ok_or("redirect_uri is missing")?;
    if !(redirect_uri.starts_with("http://") || redirect_uri.starts_with("https://")) {
        return Err("redirect_uri must be an http(s) address".into());
    }
    if get("response_type") != Some("code") {
        return Err("response_type must be code".into());
    }
    let challenge = get("code_challenge").ok_or("code_challenge is missing: PKCE is required")?;
    if get("code_challenge_method") != Some("S256") {
        return Err("code_challenge_method must be S256".into());
    }
    Ok(AuthorizeRequest {
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        scope: get("scope").unwrap_or("openid profile").to_owned(),
        state: get("state").map(str::to_owned),
        challenge: challenge.to_owned(),
    })
}

fn error_page(message: &str) -> Reply {
    Reply::html(
        400,
        format!("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>Sign-in error</title><h1>Sign-in error</h1><p>{}</p></html>", html_escape(message)),
    )
}

/// `GET /oauth/authorize`: the sign-in page.
pub fn authorize_page(req: &Req) -> Reply {
    let request = match authorize_request(&req.query) {
        Ok(request) => request,
        Err(message) => return error_page(&message),
    };
    let hidden: String = req
        .query
        .iter()
        .map(|(name, value)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", html_escape(name), html_escape(value)))
        .collect();
    let scopes: String = request.scope.split_whitespace().map(|scope| format!("<li>{}</li>", html_escape(scope))).collect();
    Reply::html(
        200,
        format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\"><title>Sign in to the local Hub</title>\
             <style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}</style>\
             <h1>Sign in to the local Hub</h1>\
             <p>The application <strong>{client}</strong> asks to act for you, with these scopes:</p><ul>{scopes}</ul>\
             <form method=\"post\" action=\"/oauth/authorize\">{hidden}\
             <p><label for=\"username\">Hugging Face username</label><br>\
             <input id=\"username\" name=\"username\" autocomplete=\"username\" required pattern=\"[A-Za-z0-9][A-Za-z0-9_.\\-]*\"></p>\
             <p><button type=\"submit\">Authorize</button></p></form>\
             <p><small>It will come back to {redirect}</small></p></html>",
            client = html_escape(&request.client_id),
            redirect = html_escape(&request.redirect_uri),
        ),
    )
}

/// `POST /oauth/authorize`: issues a code and sends the browser back.
pub fn authorize_submit(req: &Req, state: &State, codes: &mut Codes) -> Reply {
    let form = req.form();
    let request = match authorize_request(&form) {
        Ok(request) => request,
        Err(message) => return error_page(&message),
    };
    let user = form_value(&form, "username").unwrap_or_default().trim();
    if !super::store::valid_name(user) {
        return error_page("Type a username: letters, digits, '-', '_' or '.'.");
    }
    if state.is_org(user) {
        return error_page(&format!("{user} is an organization, not a user."));
    }
    let code = random_string(32);
    codes.retain(|_, grant| grant.expires_at > now());
    codes.insert(
        code.clone(),
        Grant {
            user: user.to_owned(),
            client_id: request.client_id,
            redirect_uri: request.redirect_uri.clone(),
            scope: request.scope,
            challenge: request.challenge,
            expires_at: now() + CODE_LIFETIME,
        },
    );
    let separator = if request.redirect_uri.contains('?') { '&' } else { '?' };
    let mut location = format!("{}{separator}code={code}", request.redirect_uri);
    if let Some(client_state) = request.state {
        location.push_str(&format!("&state={}", percent_encode(&client_state)));
    }
    Reply::redirect(&location)
}

fn grant_error(error: &str, description: &str) -> Reply {
    Reply::json_status(400, &json!({"error": error, "error_description": description}))
}

/// `POST /oauth/token`: a code and its verifier for an access token.
pub fn token(req: &Req, base: &str, state: &mut State, codes: &mut Codes) -> Reply {
    let form = req.form();
    let get = |name| form_value(&form, name).unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return grant_error("unsupported_grant_type", "grant_type must be authorization_code");
    }
    // Single use: the code is gone whatever happens next.
    let Some(grant) = codes.remove(get("code")) else {
        return grant_error("invalid_grant", "The authorization code is unknown or was already used");
    };
    if grant.expires_at <= now() {
        return grant_error("invalid_grant", "The authorization code has expired");
    }
    if get("redirect_uri") != grant.redirect_uri {
        return grant_error("invalid_grant", "redirect_uri is not the one of the authorization request");
    }
    if form_value(&form, "client_id").is_some_and(|client| client != grant.client_id) {
        return grant_error("invalid_grant", "client_id is not the one of the authorization request");
    }
    if get("code_verifier").is_empty() {
        return grant_error("invalid_request", "code_verifier is missing");
    }
    if !pkce_matches(get("code_verifier"), &grant.challenge) {
        return grant_error("invalid_grant", "code_verifier does not match the code_challenge");
    }
    let access_token = format!("hf_oauth_{}", random_string(34));
    let scopes = grant.scope.split_whitespace().map(str::to_owned).collect();
    state
        .users
        .tokens
        .insert(access_token.clone(), Token { user: grant.user.clone(), scopes, expires_at: now() + TOKEN_LIFETIME, name: format!("oauth {}", grant.client_id) });
    if let Err(error) = state.save_users() {
        return HubError::new(500, None, error).reply();
    }
    let id_token = unsigned_jwt(&json!({
        "iss": base, "sub": user_sub(&grant.user), "aud": grant.client_id, "preferred_username": grant.user,
        "name": grant.user, "iat": now(), "exp": now() + TOKEN_LIFETIME,
    }));
    Reply::json(&json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "scope": grant.scope,
        "id_token": id_token,
    }))
}

/// `GET /oauth/userinfo`.
pub fn userinfo(req: &Req, base: &str, state: &State) -> Reply {
    let Some(token) = state.token(req.bearer()) else { return HubError::unauthorized().reply() };
    let orgs: Vec<_> = state
        .orgs_of(&token.user)
        .into_iter()
        .map(|org| json!({"sub": user_sub(&org), "name": org, "preferred_username": org, "picture": avatar(base, &org), "isEnterprise": false, "roleInOrg": "write"}))
        .collect();
    Reply::json(&json!({
        "sub": user_sub(&token.user),
        "name": token.user,
        "preferred_username": token.user,
        "picture": avatar(base, &token.user),
        "profile": format!("{base}/{}", token.user),
        "website": null,
        "isPro": false,
        "canPay": false,
        "orgs": orgs,
    }))
}

/// A stable id for a user or org (the Hub's are 24 hex digits).
pub fn user_sub(name: &str) -> String {
    super::repo::hex(&Sha256::digest(name.as_bytes())[..12])
}

pub fn avatar(base: &str, name: &str) -> String {
    format!("{base}/avatars/{}.svg", percent_encode(name))
}

fn unsigned_jwt(claims: &serde_json::Value) -> String {
    let encode = |value: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string());
    format!("{}.{}.", encode(&json!({"alg": "none", "typ": "JWT"})), encode(claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> (State, Codes) {
        let dir = std::env::temp_dir().join(format!("prefab-hub-oauth-{}", random_string(8)));
        (State::load(&dir).unwrap(), Codes::new())
    }

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn authorize_query(extra: &str) -> String {
        format!(
            "/oauth/authorize?client_id=app&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F&response_type=code&scope=openid+profile+write-repos&state=%7B%22s%22%3A1%7D{extra}"
        )
    }

    #[test]
    fn pkce_s256_as_in_rfc_7636() {
        assert!(pkce_matches(VERIFIER, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches("wrong", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn the_page_escapes_what_it_echoes_and_refuses_bad_requests() {
        let page = authorize_page(&Req::new("GET", &(authorize_query("&code_challenge=c&code_challenge_method=S256") + "&x=%3Cscript%3E"), vec![]));
        let html = String::from_utf8(page.body).unwrap();
        assert_eq!(page.status, 200);
        assert!(html.contains("Hugging Face username") && html.contains("name=\"username\"") && html.contains(">Authorize</button>"));
        assert!(html.contains("<li>write-repos</li>"));
        assert!(!html.contains("<script>") && html.contains("&lt;script&gt;"));
        for bad in ["", "&code_challenge=c&code_challenge_method=plain"] {
            assert_eq!(authorize_page(&Req::new("GET", &authorize_query(bad), vec![])).status, 400, "{bad}");
        }
        let wrong_type = authorize_query("&code_challenge=c&code_challenge_method=S256").replace("response_type=code", "response_type=token");
        assert_eq!(authorize_page(&Req::new("GET", &wrong_type, vec![])).status, 400);
    }

    fn sign_in(state: &State, codes: &mut Codes) -> String {
        let query = authorize_query("&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256");
        let mut req = Req::new("POST", "/oauth/authorize", vec![]);
        req.body = format!("{}&username=alice", query.split_once('?').unwrap().1).into_bytes();
        let reply = authorize_submit(&req, state, codes);
        assert_eq!(reply.status, 302);
        let location = reply.header("Location").unwrap().to_owned();
        assert!(location.starts_with("http://127.0.0.1:8080/?code="), "{location}");
        assert!(location.ends_with("&state=%7B%22s%22%3A1%7D"), "{location}");
        location.split("code=").nth(1).unwrap().split('&').next().unwrap().to_owned()
    }

    fn exchange(state: &mut State, codes: &mut Codes, code: &str, verifier: &str) -> Reply {
        let mut req = Req::new("POST", "/oauth/token", vec![]);
        req.body = format!("grant_type=authorization_code&code={code}&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F&client_id=app&code_verifier={verifier}").into_bytes();
        token(&req, "http://hub", state, codes)
    }

    #[test]
    fn a_code_is_exchanged_once_with_the_right_verifier() {
        let (mut state, mut codes) = hub();
        let code = sign_in(&state, &mut codes);
        let reply = exchange(&mut state, &mut codes, &code, VERIFIER);
        assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
        let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 28800);
        assert_eq!(body["scope"], "openid profile write-repos");
        let access = body["access_token"].as_str().unwrap();
        assert_eq!(state.token(Some(access)).unwrap().user, "alice");
        // Single use.
        let again: serde_json::Value = serde_json::from_slice(&exchange(&mut state, &mut codes, &code, VERIFIER).body).unwrap();
        assert_eq!(again["error"], "invalid_grant");
        // A wrong verifier burns the code too.
        let code = sign_in(&state, &mut codes);
        let wrong = exchange(&mut state, &mut codes, &code, "not-the-verifier");
        assert_eq!(wrong.status, 400);
        assert!(String::from_utf8(wrong.body).unwrap().contains("invalid_grant"));
        assert_eq!(exchange(&mut state, &mut codes, &code, VERIFIER).status, 400);
        let _ = std::fs::remove_dir_all(&state.dir);
    }
}
