//! The dataset core's benchmark in headless Chromium (see `prefab_core::bench`).
//! Run by `cargo xtask bench`, in release mode; it prints, it asserts no time.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn dataset_core_rows_per_second_in_wasm() {
    let performance = web_sys::window().unwrap().performance().unwrap();
    let measured = prefab_core::bench::run(100_000, || performance.now() / 1000.0).unwrap();
    assert_eq!(measured.len(), 3, "every step ran");
    for measurement in measured {
        console_log!("wasm {}", measurement.line());
    }
}
