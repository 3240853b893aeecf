//! The HTTP plumbing of the local Hub: a request read whole, a reply built as
//! data, and the headers every answer carries.
//!
//! Every reply is cross-origin friendly, because the page that talks to the
//! Hub runs on another origin and is cross-origin isolated (COEP
//! `require-corp`): `Access-Control-Allow-Origin` echoes the caller's origin
//! (or `*`), preflights name what they asked for, the headers clients read
//! (`X-Error-Code`, `X-Repo-Commit`, `ETag`, …) are exposed, and
//! `Cross-Origin-Resource-Policy: cross-origin` lets even no-cors loads in.
//!
//! Errors are [`HubError`]s: JSON `{"error": "..."}` plus the `X-Error-Code`
//! and `X-Error-Message` headers that `huggingface_hub`'s `hf_raise_for_status`
//! and `@huggingface/hub`'s `createApiError` read.

use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

/// A request, its body read in full (up to a limit).
#[derive(Debug, Clone, Default)]
pub struct Req {
    pub method: String,
    /// The raw path and query, as sent.
    pub url: String,
    /// The path split on `/`, each segment percent-decoded (so `refs%2Fpr%2F1` is one segment).
    pub segments: Vec<String>,
    /// Query parameters, decoded; a repeated key keeps every value.
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    /// Parses a method, URL and headers; the body is added separately.
    pub fn new(method: &str, url: &str, headers: Vec<(String, String)>) -> Req {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = path.split('#').next().unwrap_or_default();
        let segments = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
        let headers = headers.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
        Req { method: method.to_ascii_uppercase(), url: url.to_owned(), segments, query: parse_form(query), headers, body: Vec::new() }
    }

    /// Reads a tiny_http request, refusing bodies over `limit` bytes.
    pub fn read(request: &mut tiny_http::Request, limit: u64) -> Result<Req, HubError> {
        let headers = request.headers().iter().map(|h| (h.field.as_str().as_str().to_owned(), h.value.as_str().to_owned())).collect();
        let mut req = Req::new(request.method().as_str(), request.url(), headers);
        if request.body_length().is_some_and(|length| length as u64 > limit) {
            return Err(HubError::new(413, None, format!("the request body is larger than {} MiB", limit >> 20)));
        }
        request
            .as_reader()
            .take(limit + 1)
            .read_to_end(&mut req.body)
            .map_err(|error| HubError::bad_request(format!("could not read the request body: {error}")))?;
        if req.body.len() as u64 > limit {
            return Err(HubError::new(413, None, format!("the request body is larger than {} MiB", limit >> 20)));
        }
        Ok(req)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// The first value of a query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A query flag: `1`, `true` (any case) or present without a value.
    pub fn flag(&self, name: &str) -> bool {
        self.param(name).is_some_and(|value| value.is_empty() || value == "1" || value.eq_ignore_ascii_case("true"))
    }

    /// The bearer token of the `Authorization` header.
    pub fn bearer(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|token| !token.is_empty())
    }

    pub fn json(&self) -> Result<serde_json::Value, HubError> {
        serde_json::from_slice(&self.body).map_err(|error| HubError::bad_request(format!("the body is not valid JSON: {error}")))
    }

    /// A form-encoded body (`application/x-www-form-urlencoded`).
    pub fn form(&self) -> Vec<(String, String)> {
        parse_form(&String::from_utf8_lossy(&self.body))
    }
}

/// An answer, as data; [`Reply::into_response`] turns it into tiny_http's.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// For HEAD: the length the GET would have, sent as Content-Length without a body.
    pub head_length: Option<usize>,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
        Reply { status, headers: vec![("Content-Type".into(), content_type.into())], body, head_length: None }
    }

    pub fn json(value: &serde_json::Value) -> Reply {
        Reply::json_status(200, value)
    }

    pub fn json_status(status: u16, value: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json; charset=utf-8", value.to_string().into_bytes())
    }

    pub fn html(status: u16, body: String) -> Reply {
        Reply::new(status, "text/html; charset=utf-8", body.into_bytes())
    }

    pub fn redirect(location: &str) -> Reply {
        Reply::new(302, "text/plain; charset=utf-8", Vec::new()).with_header("Location", location)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), header_safe(value)));
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The reply to a HEAD request: the same headers, no body.
    pub fn into_head(mut self) -> Reply {
        self.head_length = Some(self.body.len());
        self.body = Vec::new();
        self
    }

    /// Adds the cross-origin headers for a request from `origin`.
    pub fn with_cors(mut self, req: &Req) -> Reply {
        for (name, value) in cors_headers(req) {
            if self.header(&name).is_none() {
                self.headers.push((name, value));
            }
        }
        self
    }

    pub fn into_response(self) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
        let headers = self
            .headers
            .iter()
            .filter_map(|(name, value)| tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok())
            .collect();
        let length = self.head_length.unwrap_or(self.body.len());
        tiny_http::Response::new(tiny_http::StatusCode(self.status), headers, std::io::Cursor::new(self.body), Some(length), None)
            .with_chunked_threshold(usize::MAX)
    }
}

/// Headers clients must be able to read from a cross-origin answer.
const EXPOSED: &str = "X-Error-Code, X-Error-Message, Retry-After, X-Repo-Commit, ETag, X-Linked-Etag, X-Linked-Size, \
                       Link, Location, Content-Range, Content-Length, Accept-Ranges, X-Request-Id";
/// Request headers a preflight allows when it does not say which it wants.
const ALLOWED_HEADERS: &str = "Authorization, Content-Type, Accept, Range, X-Requested-With, X-Request-Id, User-Agent, Cache-Control";

/// The CORS (and CORP) headers for an answer to `req`; for a preflight, the allowances too.
pub fn cors_headers(req: &Req) -> Vec<(String, String)> {
    let origin = req.header("origin").map_or("*".to_owned(), header_safe);
    let mut headers = vec![
        ("Access-Control-Allow-Origin".to_owned(), origin),
        ("Vary".to_owned(), "Origin".to_owned()),
        ("Access-Control-Expose-Headers".to_owned(), EXPOSED.to_owned()),
        ("Cross-Origin-Resource-Policy".to_owned(), "cross-origin".to_owned()),
    ];
    if req.method == "OPTIONS" {
        let asked = req.header("access-control-request-headers").map(header_safe);
        headers.push(("Access-Control-Allow-Methods".into(), "GET, HEAD, POST, PUT, DELETE, OPTIONS".into()));
        headers.push(("Access-Control-Allow-Headers".into(), asked.unwrap_or_else(|| ALLOWED_HEADERS.to_owned())));
        headers.push(("Access-Control-Max-Age".into(), "600".into()));
        if req.header("access-control-request-private-network").is_some() {
            // A workshop page on a LAN address calling a hub on another one.
            headers.push(("Access-Control-Allow-Private-Network".into(), "true".into()));
        }
    }
    headers
}

/// An error answer: a status, the Hub's `X-Error-Code` when it has one, and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct HubError {
    pub status: u16,
    pub code: Option<&'static str>,
    pub message: String,
    /// More fields for the JSON body (e.g. `url` on a 409 from repo creation).
    pub extra: Vec<(String, serde_json::Value)>,
}

impl HubError {
    pub fn new(status: u16, code: Option<&'static str>, message: impl Into<String>) -> HubError {
        HubError { status, code, message: message.into(), extra: Vec::new() }
    }
    pub fn bad_request(message: impl Into<String>) -> HubError {
        HubError::new(400, None, message)
    }
    pub fn forbidden(message: impl Into<String>) -> HubError {
        HubError::new(403, None, message)
    }
    /// No token, or one that is unknown or expired.
    pub fn unauthorized() -> HubError {
        HubError::new(401, None, "Invalid credentials in Authorization header")
    }
    pub fn with(mut self, key: &str, value: serde_json::Value) -> HubError {
        self.extra.push((key.to_owned(), value));
        self
    }

    pub fn reply(&self) -> Reply {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.message.clone().into());
        for (key, value) in &self.extra {
            body.insert(key.clone(), value.clone());
        }
        let mut reply = Reply::json_status(self.status, &body.into()).with_header("X-Error-Message", &self.message);
        if let Some(code) = self.code {
            reply = reply.with_header("X-Error-Code", code);
        }
        reply
    }
}

/// A header value without the characters a header cannot hold.
fn header_safe(value: &str) -> String {
    value.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { ' ' }).collect()
}

/// `%XX` decoding (and nothing else: `+` stays `+` in paths).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but unreserved characters (as `encodeURIComponent` does, and more).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes a repository path, keeping its slashes.
pub fn encode_path(path: &str) -> String {
    path.split('/').map(percent_encode).collect::<Vec<_>>().join("/")
}

/// `a=1&b=x+y` into pairs (`+` is a space, as in forms and query strings).
pub fn parse_form(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(&key.replace('+', " ")), percent_decode(&value.replace('+', " ")))
        })
        .collect()
}

/// The first value of `name` in form pairs.
pub fn form_value<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs())
}

/// `2024-05-01T12:00:00.000Z` for a Unix time, as the Hub writes dates.
pub fn iso_date(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.000Z", rest / 3600, rest / 60 % 60, rest % 60)
}

/// The byte range a `Range: bytes=…` header asks for, within `size`: `Ok(None)`
/// for the whole file, `Err(())` for an unsatisfiable range.
pub fn byte_range(header: Option<&str>, size: usize) -> Result<Option<(usize, usize)>, ()> {
    let Some(spec) = header.and_then(|value| value.trim().strip_prefix("bytes=")) else { return Ok(None) };
    if spec.contains(',') {
        return Ok(None); // Multiple ranges: answer the whole file, which HTTP allows.
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let suffix: usize = suffix.parse().map_err(|_| ())?;
            (size.saturating_sub(suffix), size.checked_sub(1).ok_or(())?)
        }
        (start, "") => (start.parse().map_err(|_| ())?, size.checked_sub(1).ok_or(())?),
        (start, end) => (start.parse().map_err(|_| ())?, end.parse::<usize>().map_err(|_| ())?.min(size.saturating_sub(1))),
    };
    if start >= size || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn segments_are_decoded_one_by_one() {
        let req = Req::new("get", "/api/datasets/a/b/tree/refs%2Fpr%2F1/x%20y?recursive=true&expand=1", vec![]);
        assert_eq!(req.segments, ["api", "datasets", "a", "b", "tree", "refs/pr/1", "x y"]);
        assert!(req.flag("recursive") && req.flag("expand") && !req.flag("other"));
        assert_eq!(req.method, "GET");
    }

    #[test]
    fn forms_and_percent_encoding_round_trip() {
        let text = r#"{"nonce":"n","redirectUri":"http://x/?a=1"} é+"#;
        let encoded = format!("state={}&scope=openid+profile", percent_encode(text));
        let form = parse_form(&encoded);
        assert_eq!(form_value(&form, "state"), Some(text));
        assert_eq!(form_value(&form, "scope"), Some("openid profile"));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(encode_path("data/a b.parquet"), "data/a%20b.parquet");
    }

    #[test]
    fn dates_are_iso_8601() {
        assert_eq!(iso_date(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_date(1_714_564_800), "2024-05-01T12:00:00.000Z");
        assert_eq!(iso_date(951_782_400), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn ranges_within_the_file() {
        assert_eq!(byte_range(None, 10), Ok(None));
        assert_eq!(byte_range(Some("bytes=0-0"), 10), Ok(Some((0, 0))));
        assert_eq!(byte_range(Some("bytes=2-"), 10), Ok(Some((2, 9))));
        assert_eq!(byte_range(Some("bytes=-3"), 10), Ok(Some((7, 9))));
        assert_eq!(byte_range(Some("bytes=5-100"), 10), Ok(Some((5, 9))));
        assert_eq!(byte_range(Some("bytes=10-"), 10), Err(()));
        assert_eq!(byte_range(Some("bytes=0-0"), 0), Err(()));
    }

    #[test]
    fn errors_carry_the_hub_headers() {
        let reply = HubError::new(404, Some("RepoNotFound"), "Repository not found").reply();
        assert_eq!(reply.status, 404);
        assert_eq!(reply.header("X-Error-Code"), Some("RepoNotFound"));
        assert_eq!(reply.header("X-Error-Message"), Some("Repository not found"));
        assert_eq!(String::from_utf8(reply.body).unwrap(), r#"{"error":"Repository not found"}"#);
    }

    #[test]
    fn preflights_allow_what_they_ask_for() {
        let req = Req::new(
            "OPTIONS",
            "/api/whoami-v2",
            vec![("Origin".into(), "http://127.0.0.1:8080".into()), ("Access-Control-Request-Headers".into(), "authorization,x-custom".into())],
        );
        let headers: BTreeMap<_, _> = cors_headers(&req).into_iter().collect();
        assert_eq!(headers["Access-Control-Allow-Origin"], "http://127.0.0.1:8080");
        assert_eq!(headers["Access-Control-Allow-Headers"], "authorization,x-custom");
        for exposed in ["X-Error-Code", "X-Repo-Commit", "Link"] {
            assert!(headers["Access-Control-Expose-Headers"].split(", ").any(|name| name.trim() == exposed), "{exposed}");
        }
        assert_eq!(headers["Cross-Origin-Resource-Policy"], "cross-origin");
    }
}
