//! The store against the real IndexedDB of headless Chromium.

use prefab_store::Store;
use serde::{Deserialize, Serialize};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Question {
    kind: String,
    scale: Vec<u8>,
}

#[wasm_bindgen_test]
async fn a_setting_survives_closing_and_reopening_the_database() {
    let question = Question { kind: "rating".into(), scale: vec![1, 2, 3, 4, 5] };
    let store = Store::open("prefab-test-reopen").await.unwrap();
    store.put_setting("question", &question).await.unwrap();
    store.close();

    let reopened = Store::open("prefab-test-reopen").await.unwrap();
    assert_eq!(reopened.setting::<Question>("question").await.unwrap(), Some(question));
}

#[wasm_bindgen_test]
async fn a_missing_setting_is_none_and_a_rewrite_replaces_the_old_value() {
    let store = Store::open("prefab-test-rewrite").await.unwrap();
    assert_eq!(store.setting::<String>("never-written").await.unwrap(), None);
    store.put_setting("annotator", &"ada").await.unwrap();
    store.put_setting("annotator", &"grace").await.unwrap();
    assert_eq!(store.setting::<String>("annotator").await.unwrap().as_deref(), Some("grace"));
}

#[wasm_bindgen_test]
async fn a_value_of_the_wrong_shape_is_a_clear_error_naming_its_key() {
    let store = Store::open("prefab-test-shape").await.unwrap();
    store.put_setting("question", &"not a question").await.unwrap();
    let error = store.setting::<Question>("question").await.unwrap_err();
    assert!(error.to_string().contains("\"question\""), "{error}");
}
