//! Load: many producer threads enqueue (one item at a time and in batches)
//! while every one of them also polls, on both backends; every work item
//! must complete exactly once, with its user_data, its own hits and the hit
//! count the CPU oracle gives. Sizes are small in CI (lavapipe on two
//! cores); `VYRE_LOAD_ITEMS_PER_THREAD` scales the big test up (the GPU
//! machine runs 16 x 1 000 000).

mod common;

use common::load::{Load, INPUTS};
use common::{engines, oracle, Rng};
use std::time::Instant;
use vyre::engine::EngineOptions;
use vyre::rules::{Pattern, RuleSet};

/// `threads` producers of `per_thread` items of `job_len` bytes each, on
/// every backend.
fn run(threads: u64, per_thread: u64, job_len: u64, options: EngineOptions) {
    let rs =
        RuleSet::compile(&[Pattern::literal(&b"ab"[..]), Pattern::literal(&b"bca"[..])], &Default::default()).unwrap();
    for engine in engines(EngineOptions { arena_bytes: INPUTS * job_len, ..options }) {
        let rule_set = engine.load_rule_set(&rs).unwrap();
        let mut rng = Rng(3);
        let inputs: Vec<Vec<u8>> = (0..INPUTS).map(|_| rng.bytes(job_len as usize, b"abc")).collect();
        for (i, input) in inputs.iter().enumerate() {
            engine.write(i as u64 * job_len, input).unwrap();
        }
        let total = threads * per_thread;
        let expected: Vec<u64> = inputs.iter().map(|input| oracle(&rs, input).len() as u64).collect();
        let start = Instant::now();
        Load::new(&engine, rule_set, job_len, &expected, total).run(threads);
        let seconds = start.elapsed().as_secs_f64();
        // A figure for docs/RELIABILITY.md, not an assertion.
        eprintln!(
            "load: {} ({:?}): {threads} x {per_thread} items of {job_len} bytes, every one completed once, in \
             {seconds:.1} s ({:.0} items/s)",
            engine.info().device_name,
            engine.info().backend,
            total as f64 / seconds
        );
    }
}

#[test]
fn eight_threads_of_one_kib_jobs_each_complete_once() {
    run(8, 500, 1024, EngineOptions { queue_depth: 256, max_hits_per_job: 512, ..Default::default() });
}

#[test]
fn sixteen_producers_account_for_every_item() {
    let per_thread = std::env::var("VYRE_LOAD_ITEMS_PER_THREAD").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    run(16, per_thread, 64, EngineOptions { queue_depth: 1024, max_hits_per_job: 64, ..Default::default() });
}
