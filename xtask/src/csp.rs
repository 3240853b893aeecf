//! The page's Content-Security-Policy, written into `dist/index.html` as a
//! `<meta>` after Trunk builds it, so `cargo xtask serve`, a copy of `dist/`
//! and a static Space all carry it.
//!
//! Scripts run only from the page's own files and the one inline module
//! Trunk writes to start the app (allowed by its SHA-256, so an injected
//! inline script or `eval` is refused); WebAssembly needs
//! `'wasm-unsafe-eval'`. Hosted endpoints and the Hub are anywhere, so
//! `connect-src` allows http(s); avatars come from the Hub. Style attributes
//! (the charts' bar widths) need `'unsafe-inline'` styles, which run no code.

use base64::Engine;
use sha2::{Digest, Sha256};

/// The policy for a page whose inline scripts are `inline_scripts`.
pub fn policy(inline_scripts: &[&str]) -> String {
    let hashes: String = inline_scripts
        .iter()
        .map(|script| format!(" 'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()))))
        .collect();
    [
        "default-src 'self'".to_owned(),
        format!("script-src 'self' 'wasm-unsafe-eval'{hashes}"),
        "style-src 'self' 'unsafe-inline'".to_owned(),
        "img-src 'self' data: blob: https: http:".to_owned(),
        "connect-src 'self' https: http:".to_owned(),
        "worker-src 'self'".to_owned(),
        "object-src 'none'".to_owned(),
        "base-uri 'self'".to_owned(),
        "form-action 'self'".to_owned(),
    ]
    .join("; ")
}

/// `html` with its policy as the first element of `<head>` (a `<meta>`
/// policy covers only what comes after it); an existing one is replaced,
/// so running it twice changes nothing.
pub fn with_policy(html: &str) -> Result<String, String> {
    const META: &str = "<meta http-equiv=\"Content-Security-Policy\" content=\"";
    let written = format!("\n    {META}");
    let html = match html.find(&written) {
        Some(start) => {
            let end = html[start..].find("\">").map(|end| start + end + 2).ok_or("an unterminated Content-Security-Policy meta")?;
            format!("{}{}", &html[..start], &html[end..])
        }
        None => html.to_owned(),
    };
    let scripts = inline_scripts(&html);
    let head = html.find("<head>").ok_or("dist/index.html has no <head>")? + "<head>".len();
    Ok(format!("{}{written}{}\">{}", &html[..head], policy(&scripts), &html[head..]))
}

/// The text of each `<script>` without a `src`.
fn inline_scripts(html: &str) -> Vec<&str> {
    let mut scripts = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find("<script") {
        let Some(tag_end) = rest[open..].find('>').map(|end| open + end) else { break };
        let Some(close) = rest[tag_end..].find("</script>").map(|close| tag_end + close) else { break };
        if !rest[open..tag_end].contains(" src=") {
            scripts.push(&rest[tag_end + 1..close]);
        }
        rest = &rest[close + "</script>".len()..];
    }
    scripts
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\" />\n<script type=\"module\">\nimport init from './app.js';\nawait init();\n</script>\n<script src=\"./other.js\"></script>\n  </head>\n</html>\n";

    #[test]
    fn the_inline_script_is_allowed_by_its_hash_and_nothing_else_inline() {
        let html = with_policy(PAGE).unwrap();
        let script = "\nimport init from './app.js';\nawait init();\n";
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(script.as_bytes()));
        assert!(html.contains(&format!("script-src 'self' 'wasm-unsafe-eval' 'sha256-{hash}';")), "{html}");
        assert!(!html.contains("script-src 'self' 'unsafe-inline'"));
        // First in <head>, before any script; applying it twice changes nothing.
        assert!(html.find("Content-Security-Policy").unwrap() < html.find("<script").unwrap());
        assert_eq!(with_policy(&html).unwrap(), html);
    }

    #[test]
    fn a_page_without_head_is_an_error() {
        assert!(with_policy("<html></html>").is_err());
    }
}
