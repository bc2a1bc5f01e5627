//! A small timing helper for the `cargo bench` programs: the median over rounds of the time
//! per iteration.
use std::hint::black_box;
use std::time::Instant;

/// Iterations per round; the `DETUNNEL_BENCH_ITERATIONS` variable lowers it (e.g. under
/// callgrind).
pub fn iterations(default: usize) -> usize {
    std::env::var("DETUNNEL_BENCH_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Median nanoseconds per iteration of `f(iterations)` over `rounds` rounds.
pub fn median_ns(rounds: usize, iterations: usize, mut f: impl FnMut(usize) -> u64) -> f64 {
    let mut runs: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let t = Instant::now();
            black_box(f(iterations));
            t.elapsed().as_nanos() as f64 / iterations.max(1) as f64
        })
        .collect();
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[runs.len() / 2]
}
