//! Times the dataset core's busiest steps natively (see `prefab_core::bench`).
//!
//! ```text
//! cargo run --release -p prefab-core --example bench_core [ROWS]
//! ```
//!
//! Both steps should be linear: doubling the rows (100,000 by default) should
//! roughly double the times.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rows: usize = std::env::args().nth(1).map_or(Ok(100_000), |n| n.parse())?;
    let started = Instant::now();
    for measurement in prefab_core::bench::run(rows, || started.elapsed().as_secs_f64())? {
        println!("native {}", measurement.line());
    }
    Ok(())
}
