//! The local Hub in the test run: the fixtures the page tests read, and the
//! official clients run against it to show it behaves like the real one.
//!
//! Fixtures (all in the org `prefab-test`, where the user `organizer` writes):
//! - `prefab-test/prompts-1k`: 1,000 rows with a `prompt` column, as
//!   `data/train-00000-of-00001.parquet` (written by prefab-core) and a README with `configs:`;
//! - `prefab-test/gated`: 20 rows, gated (`manual`): files and rows only for granted users;
//! - `prefab-test/no-viewer`: 20 rows, the dataset viewer disabled.
//!
//! Client checks: `tests/python/hub_clients.py` (pytest; `huggingface_hub`
//! and `datasets` from `tests/python/hub_requirements.txt`, in their own
//! venv) and `tests/hub-js/hub_clients.test.mjs` (`node --test`,
//! `@huggingface/hub`). Both get `HF_ENDPOINT`, `HF_TOKEN` (user `alice`),
//! `PREFAB_HUB_TOKEN_BOB` (user `bob`, no write access to alice's repos) and
//! `PREFAB_HUB_TOKEN_ORGANIZER`.

use super::{LocalHub, SeedOptions};
use crate::Workspace;
use prefab_core::table::{DataType, Field, Table, Value};
use std::path::Path;
use std::process::Command;

/// The scopes the page asks for at sign-in.
pub const SCOPES: [&str; 4] = ["openid", "profile", "write-repos", "write-discussions"];

/// A Parquet file of `rows` prompts, written with Prefab's own writer.
pub fn prompts_parquet(rows: usize, label: &str) -> Result<Vec<u8>, String> {
    let mut table = Table::new(vec![Field::required("prompt", DataType::String), Field::required("id", DataType::Int64)]);
    for i in 0..rows {
        table.rows.push(vec![Value::str(format!("Prompt number {i}: {label}, say something about the number {i}.")), Value::Int(i as i64)]);
    }
    prefab_core::write::parquet::to_parquet(&table).map_err(|error| error.to_string())
}

fn readme(title: &str, extra: &str) -> Vec<u8> {
    format!(
        "---\nlicense: apache-2.0\n{extra}configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train-*\n---\n\n# {title}\n\nA fixture of Prefab's tests, served by the local Hub.\n"
    )
    .into_bytes()
}

/// Seeds the datasets and the organization the page tests use.
pub fn seed_fixtures(hub: &LocalHub) -> Result<(), String> {
    hub.add_org_member("prefab-test", "organizer");
    let data = "data/train-00000-of-00001.parquet";
    hub.seed_dataset(
        "prefab-test/prompts-1k",
        &[("README.md", readme("1,000 prompts", "")), (data, prompts_parquet(1000, "a prompt to answer")?)],
        SeedOptions::default(),
    )?;
    hub.seed_dataset(
        "prefab-test/gated",
        &[("README.md", readme("Gated prompts", "extra_gated_prompt: Accept the conditions to see the prompts.\n")), (data, prompts_parquet(20, "a gated prompt")?)],
        SeedOptions { gated: Some("manual".into()), ..SeedOptions::default() },
    )?;
    hub.seed_dataset(
        "prefab-test/no-viewer",
        &[("README.md", readme("No viewer", "viewer: false\n")), (data, prompts_parquet(20, "a prompt without viewer")?)],
        SeedOptions { viewer: false, ..SeedOptions::default() },
    )
}

/// The environment both client checks get.
fn client_env(command: &mut Command, hub: &LocalHub, home: &Path) {
    command
        .env("HF_ENDPOINT", hub.url())
        .env("HF_TOKEN", hub.issue_token("alice", &SCOPES))
        .env("PREFAB_HUB_TOKEN_BOB", hub.issue_token("bob", &SCOPES))
        .env("PREFAB_HUB_TOKEN_ORGANIZER", hub.issue_token("organizer", &SCOPES))
        .env("HF_HOME", home)
        .env("HF_HUB_OFFLINE", "0")
        .env("HF_DATASETS_OFFLINE", "0")
        // hf_xet comes with huggingface_hub; this hub speaks plain LFS only.
        .env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env("HF_HUB_ETAG_TIMEOUT", "30")
        .env("HF_HUB_DOWNLOAD_TIMEOUT", "30");
}

/// `huggingface_hub` and `datasets` against the hub, with pytest.
pub fn python_command(ws: &Workspace, hub: &LocalHub, python: &Path, scratch: &Path) -> Command {
    let mut command = Command::new(python);
    command
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--color=no"])
        .arg(ws.root.join("tests/python/hub_clients.py"))
        .current_dir(ws.root.join("tests/python"));
    client_env(&mut command, hub, &scratch.join("hf-home-python"));
    command
}

/// `@huggingface/hub` against the hub, with node's test runner.
pub fn js_command(ws: &Workspace, hub: &LocalHub, scratch: &Path) -> Command {
    let folder = ws.root.join("tests/hub-js");
    let mut command = Command::new("node");
    command.args(["--test", "--test-reporter=spec", "hub_clients.test.mjs"]).current_dir(&folder);
    client_env(&mut command, hub, &scratch.join("hf-home-js"));
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompts_fixture_reads_back() {
        let bytes = prompts_parquet(1000, "x").unwrap();
        let table = prefab_core::prompt_import::read_parquet(&bytes, "p.parquet").unwrap();
        assert_eq!(table.rows.len(), 1000);
        assert_eq!(table.rows[7][0], Value::str("Prompt number 7: x, say something about the number 7."));
    }
}
