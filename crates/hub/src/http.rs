//! The requests the Hub client sends and the answers it reads, as plain data.
//!
//! Every other module builds [`HttpRequest`]s and reads [`HttpResponse`]s
//! without doing I/O, so the whole protocol is tested natively; the browser
//! transport ([`crate::browser`]) only sends them.

use crate::error::{ErrorHeaders, HubError, HubErrorKind};
use serde::de::DeserializeOwned;

/// One HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PUT`…
    pub method: &'static str,
    /// The absolute URL.
    pub url: String,
    /// Headers other than `Authorization`, which the transport adds when the
    /// request goes to the Hub (never to an upload URL on another host).
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
    /// Whether to send the signed-in token with it.
    pub authorized: bool,
}

impl HttpRequest {
    /// A `GET` with the token.
    pub fn get(url: impl Into<String>) -> HttpRequest {
        HttpRequest { method: "GET", url: url.into(), headers: Vec::new(), body: None, authorized: true }
    }

    /// A `POST` of a JSON value, with the token.
    pub fn post_json(url: impl Into<String>, value: &serde_json::Value) -> HttpRequest {
        HttpRequest {
            method: "POST",
            url: url.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Some(value.to_string().into_bytes()),
            authorized: true,
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

impl HttpRequest {
    /// How long to wait for the whole answer before giving up on this
    /// attempt: a minute, plus the time to send the body at 50 kB/s (a slow
    /// upload on a crowded workshop Wi-Fi), so a server that went silent
    /// fails the attempt and the retry policy takes over.
    pub fn timeout_ms(&self) -> f64 {
        let body = self.body.as_ref().map_or(0, Vec::len) as f64;
        60_000.0 + body / 50_000.0 * 1000.0
    }
}

/// One HTTP answer, read in full.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The error headers, when there are any.
    pub error_headers: ErrorHeaders,
    /// The body.
    pub body: Vec<u8>,
    /// The `Link` header: the Hub pages long lists (a repo's tree) with a
    /// `rel="next"` address.
    pub link: Option<String>,
}

impl HttpResponse {
    /// Whether the status is 2xx.
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The next page's address, from a `Link: <url>; rel="next"` header.
    pub fn next_page(&self) -> Option<String> {
        self.link.as_deref()?.split(',').find_map(|part| {
            let (url, params) = part.split_once(';')?;
            params.split(';').any(|param| param.trim().replace(' ', "") == "rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
        })
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The error this answer means; `repo` names the repository asked about.
    pub fn error(&self, hub_url: &str, repo: Option<&str>) -> HubError {
        HubError::from_response(self.status, &self.error_headers, &self.text(), hub_url, repo)
    }

    /// The body as JSON of type `T`, for a 2xx answer; `what` says what was asked for.
    pub fn json<T: DeserializeOwned>(&self, what: &str) -> Result<T, HubError> {
        serde_json::from_slice(&self.body)
            .map_err(|error| HubError::new(HubErrorKind::BadResponse, format!("{what}: {error}")))
    }
}

/// Percent-encodes a URL component: everything but RFC 3986's unreserved characters.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Decodes a percent-encoded form component (`+` is a space).
pub fn decode_component(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(value) => {
                        out.push(value);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `key=value&…`, each part encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(key, value)| format!("{}={}", encode_component(key), encode_component(value))).collect::<Vec<_>>().join("&")
}

/// The pairs of a query string (`a=1&b=2`, with or without the leading `?`), decoded.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .trim_start_matches('?')
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((key, value)) => (decode_component(key), decode_component(value)),
            None => (decode_component(part), String::new()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_page_comes_from_the_link_header() {
        let page = |link: &str| HttpResponse { status: 200, link: Some(link.to_owned()), ..HttpResponse::default() };
        let link = r#"<https://hf.co/api/datasets/a/b/tree/main?recursive=true&cursor=ZXg>; rel="next", <https://hf.co/x>; rel="prev""#;
        assert_eq!(page(link).next_page().as_deref(), Some("https://hf.co/api/datasets/a/b/tree/main?recursive=true&cursor=ZXg"));
        assert_eq!(page(r#"<https://hf.co/x>; rel="prev""#).next_page(), None);
        assert_eq!(HttpResponse::default().next_page(), None);
    }

    #[test]
    fn components_round_trip() {
        let text = "a b/c?d=e&f+g~h.é%";
        assert_eq!(encode_component(text), "a%20b%2Fc%3Fd%3De%26f%2Bg~h.%C3%A9%25");
        assert_eq!(decode_component(&encode_component(text)), text);
        assert_eq!(decode_component("a+b%2"), "a b%2");
    }

    #[test]
    fn big_bodies_get_more_time() {
        assert_eq!(HttpRequest::get("http://h").timeout_ms(), 60_000.0);
        let upload = HttpRequest { body: Some(vec![0; 100_000_000]), ..HttpRequest::get("http://h") };
        assert_eq!(upload.timeout_ms(), 60_000.0 + 2_000_000.0);
    }

    #[test]
    fn queries_are_read_with_or_without_the_question_mark() {
        assert_eq!(
            query_pairs("?code=abc%2Fd&state=x+y&flag"),
            vec![("code".into(), "abc/d".into()), ("state".into(), "x y".into()), ("flag".into(), String::new())]
        );
        assert_eq!(form(&[("redirect_uri", "http://h/p?x")]), "redirect_uri=http%3A%2F%2Fh%2Fp%3Fx");
    }
}
