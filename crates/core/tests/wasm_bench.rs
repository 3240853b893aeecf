//! The dataset core's benchmarks in headless Chromium (see `prefab_core::bench`).
//! Run by `cargo xtask bench`, in release mode; they print, they assert no time.
//! `cargo xtask bench core` runs the first, `cargo xtask bench collect` the second
//! (the runner's name filter picks one).
#![cfg(target_arch = "wasm32")]

use prefab_core::bench::{
    campaign_files, collect_chain, collect_line, CountingAllocator, COLLECT_BATCH, COLLECT_PEOPLE, COLLECT_PROMPTS, COLLECT_RATINGS_EACH,
};
use wasm_bindgen_test::*;
use web_sys::js_sys::Reflect;

wasm_bindgen_test_configure!(run_in_browser);

/// Counts the heap for the Collect benchmark's memory figure; a few counter
/// updates per allocation, nothing the timings notice.
#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

#[wasm_bindgen_test]
fn dataset_core_rows_per_second_in_wasm() {
    let performance = web_sys::window().unwrap().performance().unwrap();
    let measured = prefab_core::bench::run(100_000, || performance.now() / 1000.0).unwrap();
    assert_eq!(measured.len(), 3, "every step ran");
    for measurement in measured {
        console_log!("wasm {}", measurement.line());
    }
}

#[wasm_bindgen_test]
fn collect_campaign_in_wasm() {
    let performance = web_sys::window().unwrap().performance().unwrap();
    let clock = || performance.now() / 1000.0;
    // The wasm instance's linear memory (`memory.buffer.byteLength`): it only grows.
    let wasm_memory = || core::arch::wasm32::memory_size::<0>() as f64 * 65536.0 / 1e6;
    // Chromium's `performance.memory.usedJSHeapSize` (not standard; coarse
    // unless Chromium runs with --enable-precise-memory-info).
    let js_heap = || {
        Reflect::get(&performance, &"memory".into())
            .and_then(|memory| Reflect::get(&memory, &"usedJSHeapSize".into()))
            .ok()
            .and_then(|used| used.as_f64())
            .map(|bytes| bytes / 1e6)
    };
    let wasm_at_start = wasm_memory();
    let started = clock();
    let campaign = campaign_files(COLLECT_PROMPTS, COLLECT_PEOPLE, COLLECT_RATINGS_EACH, COLLECT_BATCH).unwrap();
    let generated = clock() - started;
    let (wasm_before, js_before) = (wasm_memory(), js_heap());

    collect_chain(&campaign, campaign.files.clone(), clock);
    let mut runs = Vec::new();
    let (mut live_before, mut peak) = (0, 0);
    for _ in 0..5 {
        let files = campaign.files.clone();
        live_before = HEAP.reset_peak();
        runs.push(collect_chain(&campaign, files, clock));
        peak = peak.max(HEAP.peak() - live_before);
    }
    let (wasm_after, js_after) = (wasm_memory(), js_heap());
    assert_eq!(runs.last().unwrap().rejected, 2, "the forgeries are rejected");

    let js = match (js_before, js_after) {
        (Some(before), Some(after)) => format!(", JS heap (usedJSHeapSize) {before:.1} → {after:.1} MB"),
        _ => ", no performance.memory".to_owned(),
    };
    let memory = format!(
        "; heap peak while collecting +{:.1} MB over {:.1} MB live before (the files and the campaign), \
         wasm memory {wasm_before:.1} → {wasm_after:.1} MB ({wasm_at_start:.1} MB before the files were generated){js}; \
         files generated in {generated:.2} s",
        peak as f64 / 1e6,
        live_before as f64 / 1e6,
    );
    console_log!("wasm {}", collect_line(&campaign, &runs, &memory));
}
