//! Load: many producer threads enqueue (one item at a time and in batches)
//! while every one of them also polls, on both backends; every work item
//! must complete exactly once, with its user_data, its own hits and the hit
//! count the CPU oracle gives. Sizes are small in CI (lavapipe on two
//! cores); `VYRE_LOAD_ITEMS_PER_THREAD` scales the big test up (the GPU
//! machine runs 16 x 1 000 000).

mod common;

use common::{engines, oracle, Rng};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::time::Instant;
use vyre::engine::{Completion, Engine, EngineOptions, Hit, WorkItem};
use vyre::error::ErrorKind;
use vyre::rules::{Pattern, RuleSet};

/// Distinct inputs in the arena; item `k` scans input `k % INPUTS`.
const INPUTS: u64 = 256;
/// Items a producer hands to `enqueue_batch` at once (every other round).
const BATCH: usize = 32;

struct Load<'a> {
    engine: &'a Engine,
    rule_set: u32,
    job_len: u64,
    /// Hit count of each input, from the oracle.
    expected: Vec<u64>,
    /// Times each item completed (must end at exactly 1).
    seen: Vec<AtomicU8>,
    completed: AtomicU64,
}

impl Load<'_> {
    fn item(&self, k: u64) -> WorkItem {
        WorkItem {
            input_offset: (k % INPUTS) * self.job_len,
            input_len: self.job_len,
            rule_set_id: self.rule_set,
            flags: 0,
            user_data: k,
        }
    }

    /// Collect what is ready, checking each completion; how many.
    fn drain(&self, completions: &mut [Completion], hits: &mut [Hit]) -> usize {
        let (got, _) = self.engine.poll(completions, hits).unwrap();
        for c in &completions[..got] {
            let k = c.user_data;
            assert_eq!(c.status, 0, "item {k}");
            assert_eq!(c.hit_count, self.expected[(k % INPUTS) as usize], "item {k}");
            let mine = &hits[c.first_hit as usize..][..c.hits_stored as usize];
            assert!(mine.iter().all(|h| h.user_data == k), "item {k} got another item's hits");
            let before = self.seen[k as usize].fetch_add(1, Ordering::Relaxed);
            assert_eq!(before, 0, "item {k} completed twice");
        }
        self.completed.fetch_add(got as u64, Ordering::Relaxed);
        got
    }

    /// Producer `t` enqueues items `t * per_thread ..`, alternating single
    /// enqueues and batches, polling whenever the queue is full; then it
    /// keeps polling until every producer's items are in.
    fn produce(&self, t: u64, per_thread: u64, total: u64) {
        let mut completions = vec![Completion::default(); 64];
        let mut hits = vec![Hit::default(); self.engine.info().max_hits_per_job as usize * 4];
        let (first, end) = (t * per_thread, (t + 1) * per_thread);
        let mut next = first;
        let mut round = 0u64;
        while next < end {
            round += 1;
            let accepted = if round % 2 == 0 {
                let batch: Vec<WorkItem> = (next..end.min(next + BATCH as u64)).map(|k| self.item(k)).collect();
                match self.engine.enqueue_batch(&batch) {
                    (n, Ok(())) => n,
                    (n, Err(e)) if e.kind == ErrorKind::QueueFull => n,
                    (_, Err(e)) => panic!("enqueue_batch: {e}"),
                }
            } else {
                match self.engine.enqueue(&self.item(next)) {
                    Ok(()) => 1,
                    Err(e) if e.kind == ErrorKind::QueueFull => 0,
                    Err(e) => panic!("enqueue: {e}"),
                }
            };
            next += accepted as u64;
            if accepted == 0 && self.drain(&mut completions, &mut hits) == 0 {
                std::thread::yield_now();
            }
        }
        while self.completed.load(Ordering::Relaxed) < total {
            if self.drain(&mut completions, &mut hits) == 0 {
                std::thread::yield_now();
            }
        }
    }
}

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
        let load = Load {
            engine: &engine,
            rule_set,
            job_len,
            expected: inputs.iter().map(|input| oracle(&rs, input).len() as u64).collect(),
            seen: (0..total).map(|_| AtomicU8::new(0)).collect(),
            completed: AtomicU64::new(0),
        };
        let start = Instant::now();
        std::thread::scope(|scope| {
            for t in 0..threads {
                let load = &load;
                scope.spawn(move || load.produce(t, per_thread, total));
            }
        });
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!(load.completed.load(Ordering::Relaxed), total);
        let missing = load.seen.iter().position(|s| s.load(Ordering::Relaxed) != 1);
        assert_eq!(missing, None, "an item never completed");
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
