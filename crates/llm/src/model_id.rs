//! The name a local model's generations carry in a dataset: their
//! `model_id`, the DIBT export's `generation_model`, the DPO export's
//! `chosen_model`.
//!
//! People reading a dataset look the model up, so the best name is its
//! Hugging Face Hub id (`HuggingFaceTB/SmolLM2-135M-Instruct`). A GGUF's own
//! `general.name` ("Smollm2 135M 8k Lc100K Mix1 Ep2") is a converter's guess
//! that names no repo. In order of preference:
//!
//! 1. the name the organizer gave the file in Settings (they know best, and
//!    the field shows what is used when they leave it empty);
//! 2. the repo the file's metadata names (`general.source.huggingface.repository`,
//!    written by llama.cpp's converter when it knows);
//! 3. the repo of the Hub address the file was loaded from
//!    (`https://huggingface.co/{owner}/{name}/resolve/{revision}/{path}`) —
//!    for a GGUF conversion that is the GGUF repo, still a Hub id people can
//!    open;
//! 4. the file's `general.name`, else its file name ([`ModelInfo::name`]).

use crate::model_info::ModelInfo;

/// Where a [`ModelId`] came from, so the page can say why it is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelIdSource {
    /// The organizer named the model in Settings.
    Organizer,
    /// The file's metadata names its Hub repo.
    FileMetadata,
    /// The file was loaded from a Hub address, which names the repo.
    Address,
    /// Nothing names a repo: the file's `general.name`, else its file name.
    FileName,
}

/// The id a local model's generations carry, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelId {
    /// The id itself.
    pub id: String,
    /// Why it is this one.
    pub source: ModelIdSource,
}

/// The id of the model `info` describes, loaded from `address` (the URL, or
/// the name of a picked file), named `organizer_name` in Settings if at all.
pub fn model_id(organizer_name: Option<&str>, info: &ModelInfo, address: &str) -> ModelId {
    let named = organizer_name.map(str::trim).filter(|name| !name.is_empty());
    if let Some(name) = named {
        return ModelId { id: name.to_owned(), source: ModelIdSource::Organizer };
    }
    // Already read as a repo id when the file was loaded (`hub_repo_of_metadata`).
    if let Some(repo) = &info.hub_repository {
        return ModelId { id: repo.clone(), source: ModelIdSource::FileMetadata };
    }
    if let Some(repo) = hub_repo_of_address(address) {
        return ModelId { id: repo, source: ModelIdSource::Address };
    }
    ModelId { id: info.name.clone(), source: ModelIdSource::FileName }
}

/// The Hub repo a `general.source.huggingface.repository` value names: an
/// id (`owner/name`) or the repo's address (`https://huggingface.co/owner/name`).
pub fn hub_repo_of_metadata(value: &str) -> Option<String> {
    let value = value.trim().trim_end_matches('/');
    let id = match strip_hub_host(value) {
        Some(path) => path,
        None if value.contains("://") => return None,
        None => value,
    };
    let mut parts = id.split('/');
    let repo = match (parts.next(), parts.next(), parts.next()) {
        (Some(owner), Some(name), None) if is_repo_part(owner) && is_repo_part(name) => format!("{owner}/{name}"),
        (Some(name), None, None) if is_repo_part(name) => name.to_owned(),
        _ => return None,
    };
    Some(repo)
}

/// The model repo a Hub file address names:
/// `https://huggingface.co/{owner}/{name}/resolve/{revision}/{path}` →
/// `owner/name` (a legacy repo without an owner, `…/gpt2/resolve/…`, → `gpt2`).
/// Datasets' and Spaces' addresses, and any other address, name none.
pub fn hub_repo_of_address(address: &str) -> Option<String> {
    let path = strip_hub_host(address.trim())?;
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').collect();
    let repo = match parts.as_slice() {
        [owner, name, "resolve", _revision, _file, ..] if is_repo_part(owner) && is_repo_part(name) => {
            if ["datasets", "spaces", "api"].contains(owner) {
                return None;
            }
            format!("{owner}/{name}")
        }
        [name, "resolve", _revision, _file, ..] if is_repo_part(name) => name.to_string(),
        _ => return None,
    };
    Some(repo)
}

/// The path after `https://huggingface.co/` (or `hf.co`, or `www.`), if the
/// address is the Hub's.
fn strip_hub_host(address: &str) -> Option<&str> {
    let rest = address.strip_prefix("https://").or_else(|| address.strip_prefix("http://"))?;
    let (host, path) = rest.split_once('/')?;
    matches!(host.to_ascii_lowercase().as_str(), "huggingface.co" | "www.huggingface.co" | "hf.co").then_some(path)
}

/// A Hub owner or repo name: letters, digits, `-`, `_` and `.`, not only dots.
fn is_repo_part(part: &str) -> bool {
    !part.is_empty()
        && part.len() <= 96
        && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && part.chars().any(|c| c != '.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str, hub_repository: Option<&str>) -> ModelInfo {
        ModelInfo {
            name: name.into(),
            architecture: "llama".into(),
            parameters: 1,
            context_length: 1,
            vocab_size: 1,
            file_bytes: 1,
            weights_bytes: 1,
            file_tensor_types: Default::default(),
            requantized_tensors: 0,
            chat_template_from_file: true,
            hub_repository: hub_repository.map(str::to_owned),
        }
    }

    const GENERAL_NAME: &str = "Smollm2 135M 8k Lc100K Mix1 Ep2";
    const HUB_ADDRESS: &str = "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/resolve/main/smollm2-135m-instruct-q8_0.gguf?download=true";

    #[test]
    fn the_organizer_s_name_wins_then_the_file_then_the_address_then_general_name() {
        let plain = info(GENERAL_NAME, None);
        let tagged = info(GENERAL_NAME, Some("HuggingFaceTB/SmolLM2-135M-Instruct"));
        let served = "http://127.0.0.1:8000/models/SmolLM2-135M-Instruct.Q4_1.gguf";
        let id = |name, info: &ModelInfo, address| model_id(name, info, address);
        assert_eq!(id(Some(" mine/model "), &tagged, HUB_ADDRESS), ModelId { id: "mine/model".into(), source: ModelIdSource::Organizer });
        assert_eq!(id(None, &tagged, HUB_ADDRESS), ModelId { id: "HuggingFaceTB/SmolLM2-135M-Instruct".into(), source: ModelIdSource::FileMetadata });
        assert_eq!(id(Some("  "), &plain, HUB_ADDRESS), ModelId { id: "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF".into(), source: ModelIdSource::Address });
        // The test model: served with the page, its metadata names no repo.
        assert_eq!(id(None, &plain, served), ModelId { id: GENERAL_NAME.into(), source: ModelIdSource::FileName });
        assert_eq!(id(None, &plain, "picked.gguf").source, ModelIdSource::FileName);
    }

    #[test]
    fn hub_addresses_name_their_model_repo_and_no_other_does() {
        assert_eq!(hub_repo_of_address(HUB_ADDRESS).as_deref(), Some("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF"));
        assert_eq!(hub_repo_of_address("https://hf.co/owner/repo.v2/resolve/abc123/sub/dir/m.gguf").as_deref(), Some("owner/repo.v2"));
        assert_eq!(hub_repo_of_address("https://huggingface.co/gpt2/resolve/main/model.gguf").as_deref(), Some("gpt2"));
        for other in [
            "https://huggingface.co/datasets/owner/name/resolve/main/x.gguf",
            "https://huggingface.co/spaces/owner/name/resolve/main/x.gguf",
            "https://huggingface.co/owner/name/blob/main/x.gguf",
            "https://huggingface.co/owner/name",
            "https://example.org/owner/name/resolve/main/x.gguf",
            "https://huggingface.co.evil.example/owner/name/resolve/main/x.gguf",
            "./models/x.gguf",
            "x.gguf",
        ] {
            assert_eq!(hub_repo_of_address(other), None, "{other}");
        }
    }

    #[test]
    fn metadata_names_a_repo_as_an_id_or_an_address() {
        assert_eq!(hub_repo_of_metadata("HuggingFaceTB/SmolLM2-135M-Instruct").as_deref(), Some("HuggingFaceTB/SmolLM2-135M-Instruct"));
        assert_eq!(hub_repo_of_metadata("https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct/").as_deref(), Some("Qwen/Qwen2.5-0.5B-Instruct"));
        for other in ["", "a/b/c", "https://github.com/owner/name", "owner/na me", ".../x"] {
            assert_eq!(hub_repo_of_metadata(other), None, "{other:?}");
        }
    }
}
