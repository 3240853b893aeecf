//! Times Export → Collect natively on issue #12's campaign (see
//! `prefab_core::bench::campaign_files`): 100 people × 200 ratings in 2,000
//! contribution files, merged, counted and measured for agreement.
//!
//! ```text
//! cargo run --release -p prefab-core --example bench_collect [REPETITIONS]
//! ```
//!
//! Prints the median of REPETITIONS runs (5 by default) after one warm-up,
//! the heap's peak while Collect runs (counted by the allocator) and the
//! process's peak resident set (`VmHWM`, generation of the files included).

use prefab_core::bench::{
    campaign_files, collect_chain, collect_line, CountingAllocator, COLLECT_BATCH, COLLECT_PEOPLE, COLLECT_PROMPTS, COLLECT_RATINGS_EACH,
};
use std::time::Instant;

#[global_allocator]
static HEAP: CountingAllocator = CountingAllocator::new();

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let repetitions: usize = std::env::args().nth(1).map_or(Ok(5), |n| n.parse())?;
    let started = Instant::now();
    let clock = || started.elapsed().as_secs_f64();
    let campaign = campaign_files(COLLECT_PROMPTS, COLLECT_PEOPLE, COLLECT_RATINGS_EACH, COLLECT_BATCH)?;
    let generated = clock();

    collect_chain(&campaign, campaign.files.clone(), clock);
    let mut runs = Vec::new();
    let (mut live_before, mut peak) = (0, 0);
    for _ in 0..repetitions.max(1) {
        // The files as read from the Hub: live before Collect starts, freed as it goes.
        let files = campaign.files.clone();
        live_before = HEAP.reset_peak();
        runs.push(collect_chain(&campaign, files, clock));
        peak = peak.max(HEAP.peak() - live_before);
    }
    let rss = vm_hwm().map_or_else(String::new, |kb| format!(", process peak resident set (VmHWM) {:.1} MB", kb as f64 * 1024.0 / 1e6));
    let memory = format!(
        "; heap peak while collecting +{:.1} MB over {:.1} MB live before (the files and the campaign){rss}; files generated in {:.2} s",
        peak as f64 / 1e6,
        live_before as f64 / 1e6,
        generated
    );
    println!("native {}", collect_line(&campaign, &runs, &memory));
    Ok(())
}

/// The process's peak resident set in KiB (what `kB` there means), from `/proc/self/status` (Linux).
fn vm_hwm() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
