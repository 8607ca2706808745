//! Loom model of the engine's completion protocol (docs/RELIABILITY.md):
//! jobs split into parts, the part that finishes last appends the job's
//! completion record with its sequence word, the host consumer reads the
//! records in order and frees the jobs, which are reused. Run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_completion`.
//!
//! The device side is the real `protocol::scan::finish_part` on a buffer
//! laid out by the real `ScanLayout` (src/protocol/ compiled here against
//! loom's atomics). The host side mirrors src/engine/mod.rs, which cannot
//! run without a megakernel: `Engine::write_job_entry` (PARTS_LEFT and the
//! other words, published before the parts), `Engine::collect` (read record
//! `head % job_count` once its sequence word is `sequence_word(head)`, then
//! the rest of it) and `Engine::release` (the job back on the free list).
//! The completion tail starts just below 2^32, so the records are reused
//! across the wrap of the sequence counter.
#![cfg(loom)]

mod sync {
    pub(crate) use loom::sync::atomic;
}
#[allow(dead_code)]
#[path = "../src/error.rs"]
mod error;
#[allow(dead_code)]
#[path = "../src/protocol/mod.rs"]
mod protocol;

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use protocol::abi::*;
use protocol::scan::{finish_part, sequence_word, ScanLayout};

/// Job entries and completion records (a power of two: see the report in
/// docs/RELIABILITY.md on the sequence wrap).
const JOBS: u32 = 4;
const FIRST_SEQUENCE: u32 = u32::MAX - 1;

fn layout() -> ScanLayout {
    ScanLayout { job_count: JOBS, hit_records: JOBS, rule_words: 0, arena_words: 0 }
}

struct Model {
    state: Vec<AtomicU32>,
}

impl Model {
    fn new() -> Model {
        let state = protocol::live_words(&layout().initial_words().expect("small layout"));
        state[VYRE_SCAN_HDR_COMPLETION_TAIL as usize].store(FIRST_SEQUENCE, Ordering::Relaxed);
        Model { state }
    }

    fn job_word(&self, job: u32, field: u32) -> &AtomicU32 {
        &self.state[(layout().jobs() + u64::from(job * VYRE_SCAN_JOB_WORDS + field)) as usize]
    }

    /// Engine::write_job_entry: the entry's words, published (barrier,
    /// then the parts' slots, here the lanes' spawn) before any part runs.
    fn arm(&self, job: u32, parts: u32, hits: u32) {
        self.job_word(job, VYRE_SCAN_JOB_PARTS_LEFT).store(parts, Ordering::Relaxed);
        self.job_word(job, VYRE_SCAN_JOB_HIT_COUNT).store(hits, Ordering::Relaxed);
        self.job_word(job, VYRE_SCAN_JOB_FAULT).store(0, Ordering::Relaxed);
        protocol::publish_barrier();
    }

    /// Engine::collect: the next record in order, once it is complete.
    fn collect(&self, head: u32) -> Option<(u32, u32)> {
        let record = (layout().completions() + u64::from(head % JOBS * VYRE_SCAN_COMPLETION_WORDS)) as usize;
        let field = |f: u32| self.state[record + f as usize].load(Ordering::Acquire);
        (field(VYRE_SCAN_COMPLETION_SEQ) == sequence_word(head))
            .then(|| (field(VYRE_SCAN_COMPLETION_JOB), field(VYRE_SCAN_COMPLETION_HITS)))
    }
}

/// A device lane with one part of `job`: counts it done (finish_part
/// appends the job's record if it was the last part).
fn part(model: &Arc<Model>, job: u32) -> thread::JoinHandle<()> {
    let model = model.clone();
    thread::spawn(move || finish_part(&model.state, job))
}

/// Engine::poll's consumer loop: the record at `head`, once written.
fn next_record(model: &Model, head: u32) -> (u32, u32) {
    loop {
        if let Some(record) = model.collect(head) {
            return record;
        }
        thread::yield_now();
    }
}

#[test]
fn the_last_part_appends_one_record_and_the_host_reads_them_in_order() {
    loom::model(|| {
        let model = Arc::new(Model::new());
        // Job 0 has two parts (two lanes race to finish it), job 1 one.
        model.arm(0, 2, 10);
        model.arm(1, 1, 11);
        let lanes = [part(&model, 0), part(&model, 0), part(&model, 1)];

        // Two completions, in the order they were appended.
        let mut seen = vec![next_record(&model, FIRST_SEQUENCE), next_record(&model, FIRST_SEQUENCE.wrapping_add(1))];
        for lane in lanes {
            lane.join().expect("lane");
        }
        seen.sort_unstable();
        assert_eq!(seen, vec![(0, 10), (1, 11)], "each job completes once, with its own words");

        // Engine::release then enqueue: job 0's entry is reused; its record
        // is the third, appended after the sequence counter wrapped.
        model.arm(0, 1, 12);
        let reuse = part(&model, 0);
        let head = FIRST_SEQUENCE.wrapping_add(2);
        assert_eq!(next_record(&model, head), (0, 12), "the reused job's record, not a stale one");
        reuse.join().expect("lane");
        let tail = model.state[VYRE_SCAN_HDR_COMPLETION_TAIL as usize].load(Ordering::Acquire);
        assert_eq!(tail, FIRST_SEQUENCE.wrapping_add(3));
    });
}
