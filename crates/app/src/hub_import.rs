//! Build → From the Hub: a Hub dataset's config and split as prompts.
//!
//! The dataset's splits come from datasets-server; the first `/rows` page is
//! the preview (with the same column choice as a file), and "Use these rows"
//! reads the rest — 100 rows a request, or the split's Parquet files when it
//! is big — with progress and a cancel. The token goes along for gated and
//! private datasets; every failure is named (no such dataset, gated with the
//! link to accept, no viewer, rate-limited with the retries shown).

use std::cell::Cell;
use std::rc::Rc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use prefab_core::prompt_import::rows_api::RowsPage;
use prefab_core::prompt_import::SourceTable;
use prefab_hub::dataset::{DatasetId, Split};
use prefab_hub::HubError;

use crate::hub_account::{HubAccount, SignedInLine};

/// A split whose first page is shown, to be read in full on use.
#[derive(Clone, Debug)]
pub struct HubSource {
    /// The dataset.
    pub dataset: DatasetId,
    /// Its config and split.
    pub split: Split,
    /// The first page, already read.
    pub first: RowsPage,
}

impl HubSource {
    /// Rows in the whole split.
    pub fn total(&self) -> u64 {
        self.first.total_rows()
    }

    /// Reads the whole split; `progress` hears how far it got.
    pub async fn read_all(self, account: HubAccount, cancelled: Rc<Cell<bool>>, progress: impl Fn(String)) -> Result<SourceTable, HubError> {
        let hub = account.hub();
        let result = hub.read_split(&self.dataset, &self.split, self.first, cancelled, &progress).await;
        if let Err(error) = &result {
            account.note(error);
        }
        result
    }
}

/// The dataset id, the split choice and the preview's loading.
#[component]
pub fn HubPicker(
    /// Called with the first page and where it came from.
    on_preview: Callback<HubSource>,
) -> impl IntoView {
    let account = expect_context::<HubAccount>();
    let dataset_text = RwSignal::new(String::new());
    let splits = RwSignal::new(Vec::<Split>::new());
    let chosen = RwSignal::new(0usize);
    let status = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<HubError>);
    let busy = RwSignal::new(false);

    let fail = move |error: HubError| {
        account.note(&error);
        problem.set(Some(error));
        status.set(None);
        busy.set(false);
    };
    let look_up = move || {
        let dataset = match DatasetId::parse(&dataset_text.get_untracked()) {
            Ok(dataset) => dataset,
            Err(error) => return problem.set(Some(error)),
        };
        busy.set(true);
        problem.set(None);
        splits.set(Vec::new());
        status.set(Some(format!("Looking up {}…", dataset.as_str())));
        spawn_local(async move {
            let hub = account.hub();
            match hub.splits(&dataset, &|message| status.set(Some(message))).await {
                Ok(found) => {
                    chosen.set(found.iter().position(|s| s.split == "train").unwrap_or(0));
                    splits.set(found);
                    status.set(None);
                    busy.set(false);
                }
                Err(error) => fail(error),
            }
        });
    };
    let preview = move |_| {
        let Ok(dataset) = DatasetId::parse(&dataset_text.get_untracked()) else { return };
        let Some(split) = splits.with_untracked(|splits| splits.get(chosen.get_untracked()).cloned()) else { return };
        busy.set(true);
        problem.set(None);
        status.set(Some(format!("Reading the first rows of {} {}/{}…", dataset.as_str(), split.config, split.split)));
        spawn_local(async move {
            let hub = account.hub();
            match hub.rows_page(&dataset, &split, 0, &|message| status.set(Some(message))).await {
                Ok(first) => {
                    status.set(None);
                    busy.set(false);
                    on_preview.run(HubSource { dataset, split, first });
                }
                Err(error) => fail(error),
            }
        });
    };

    view! {
        <fieldset class="hub-picker" data-testid="hub-picker">
            <legend>"From the Hub"</legend>
            <SignedInLine />
            <label>
                "Dataset id or address (e.g. HuggingFaceH4/ultrafeedback_binarized)"
                <input type="text" data-testid="hub-dataset" prop:value=dataset_text autocomplete="off"
                    on:input=move |event| dataset_text.set(event_target_value(&event))
                    on:keydown=move |event: leptos::ev::KeyboardEvent| if event.key() == "Enter" { look_up() } />
            </label>
            <div class="buttons">
                <button type="button" data-testid="hub-look-up" prop:disabled=busy on:click=move |_| look_up()>"Look up"</button>
            </div>
            {move || (!splits.with(Vec::is_empty)).then(|| view! {
                <label>
                    "Config and split"
                    <select data-testid="hub-split" on:change=move |event| chosen.set(event_target_value(&event).parse().unwrap_or(0))>
                        {splits.get().into_iter().enumerate().map(|(index, split)| view! {
                            <option value=index.to_string() selected=move || chosen.get() == index>{format!("{} / {}", split.config, split.split)}</option>
                        }).collect_view()}
                    </select>
                </label>
                <div class="buttons"><button type="button" data-testid="hub-preview" prop:disabled=busy on:click=preview>"Preview"</button></div>
            })}
            {move || status.get().map(|message| view! { <p role="status" data-testid="hub-status">{message}</p> })}
            {move || problem.get().map(|error| view! { <p class="error" role="alert" data-testid="hub-error">{error.to_string()}</p> })}
        </fieldset>
    }
}
