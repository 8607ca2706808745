//! Producer threads that enqueue (one item at a time and in batches) while
//! every one of them also polls, with every item accounted for: shared by
//! tests/load.rs and the soak (bench/soak.rs).

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use vyre::engine::{Completion, Engine, Hit, WorkItem};
use vyre::error::ErrorKind;

/// Distinct inputs in the arena: item `k` scans input `k % INPUTS`, the
/// `job_len` bytes at `(k % INPUTS) * job_len`.
pub const INPUTS: u64 = 256;
/// Items a producer hands to `enqueue_batch` at once (every other round).
const BATCH: usize = 32;

pub struct Load<'a> {
    engine: &'a Engine,
    rule_set: u32,
    job_len: u64,
    /// Hit count of each input, from the oracle.
    expected: &'a [u64],
    /// Times each item completed (must end at exactly 1).
    seen: Vec<AtomicU8>,
    completed: AtomicU64,
}

impl<'a> Load<'a> {
    /// `total` items over the `INPUTS` inputs already written to `engine`.
    pub fn new(engine: &'a Engine, rule_set: u32, job_len: u64, expected: &'a [u64], total: u64) -> Load<'a> {
        assert_eq!(expected.len() as u64, INPUTS);
        Load {
            engine,
            rule_set,
            job_len,
            expected,
            seen: (0..total).map(|_| AtomicU8::new(0)).collect(),
            completed: AtomicU64::new(0),
        }
    }

    fn item(&self, k: u64) -> WorkItem {
        WorkItem {
            input_offset: (k % INPUTS) * self.job_len,
            input_len: self.job_len,
            rule_set_id: self.rule_set,
            flags: 0,
            user_data: k,
            ..Default::default()
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

    /// Enqueue items `first..end`, alternating single enqueues and batches,
    /// polling whenever the queue is full; then keep polling until all
    /// `total` items of every producer are in.
    fn produce(&self, first: u64, end: u64, total: u64) {
        let mut completions = vec![Completion::default(); 64];
        let mut hits = vec![Hit::default(); self.engine.info().max_hits_per_job as usize * 4];
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

    /// All items from `threads` producers (an equal share each); panics
    /// unless every item completed exactly once.
    pub fn run(&self, threads: u64) {
        let total = self.seen.len() as u64;
        let share = total.div_ceil(threads.max(1));
        std::thread::scope(|scope| {
            for t in 0..threads.max(1) {
                let (first, end) = ((t * share).min(total), ((t + 1) * share).min(total));
                scope.spawn(move || self.produce(first, end, total));
            }
        });
        assert_eq!(self.completed.load(Ordering::Relaxed), total);
        let missing = self.seen.iter().position(|s| s.load(Ordering::Relaxed) != 1);
        assert_eq!(missing, None, "an item never completed");
    }
}
