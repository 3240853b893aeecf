//! What a model address typed in Settings must look like.
//!
//! The page resolves an address against its own, so `./models/x.gguf` names a
//! file served with the page; but resolved that way any text becomes an
//! address (`not a url` → `https://page/not%20a%20url`), and the person would
//! see a download fail instead of being told what they typed is not one. So
//! an address is checked as typed: an `http(s)://` URL with a host, or a path
//! that says it is one (`/`, `./`, `../`), and no spaces.

use std::fmt;

/// Why a typed model address cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing was typed.
    Empty,
    /// The text is not an address; it is kept to be shown back.
    NotAnAddress(String),
}

impl std::error::Error for AddressError {}

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressError::Empty => f.write_str("Type the address of a .gguf file."),
            AddressError::NotAnAddress(text) => write!(
                f,
                "\"{text}\" is not an address: type one that starts with https:// (or ./ for a \
                 file served with this page)."
            ),
        }
    }
}

/// The typed address, trimmed, if it is one.
pub fn check_address(typed: &str) -> Result<String, AddressError> {
    let address = typed.trim();
    if address.is_empty() {
        return Err(AddressError::Empty);
    }
    let not_one = || AddressError::NotAnAddress(address.to_owned());
    if address.chars().any(char::is_whitespace) {
        return Err(not_one());
    }
    let lower = address.to_ascii_lowercase();
    let after_scheme = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match after_scheme {
        // A host must follow the scheme.
        Some(rest) if rest.split(['/', '?', '#']).next().is_some_and(|host| !host.is_empty()) => Ok(address.to_owned()),
        Some(_) => Err(not_one()),
        None if ["/", "./", "../"].iter().any(|start| address.starts_with(start)) => Ok(address.to_owned()),
        None => Err(not_one()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_page_paths_are_addresses() {
        for address in [
            "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/resolve/main/x.gguf",
            "http://127.0.0.1:8000/models/x.gguf",
            "HTTPS://Example.org/m.gguf",
            "./models/x.gguf",
            "../x.gguf",
            "/models/x.gguf",
        ] {
            assert_eq!(check_address(&format!("  {address}\n")), Ok(address.to_owned()));
        }
    }

    #[test]
    fn other_text_is_refused_and_shown_back() {
        assert_eq!(check_address(" \t"), Err(AddressError::Empty));
        for text in ["not a url", "model.gguf", "huggingface.co/x/y", "https://", "https:///path", "ftp://host/x.gguf", "./my model.gguf"] {
            let error = check_address(text).unwrap_err();
            assert_eq!(error, AddressError::NotAnAddress(text.to_owned()));
            assert!(error.to_string().starts_with(&format!("\"{text}\" is not an address")), "{error}");
        }
    }
}
