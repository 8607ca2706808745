//! The scanning engine (docs/ENGINE.md): rule sets loaded into the kernel's
//! rule buffer, an input arena, jobs split into DFA_SCAN parts published on
//! a resident megakernel, and one completion per job with its matches.
//!
//! Enqueue is lock-free: a job entry comes from a lock-free free list, its
//! parts go to the ring through the megakernel's compare-and-swap
//! reservations. Completions come back through the scan-state buffer: the
//! part that finishes a job last appends a completion record, which a
//! polling host thread reads in order (the consumer side is serialised by a
//! mutex; polls from several threads take turns).

mod io;
mod table;

use crate::backend::staging::Staging;
use crate::backend::BackendChoice;
use crate::error::{Error, ErrorKind, Result, VYRE_OK};
use crate::megakernel::{Megakernel, Options, Ticket};
use crate::protocol::abi::*;
use crate::protocol::scan::{sequence_word, Part, ScanBuffers, ScanLayout, MIN_COMPLETION_RECORDS};
use crate::protocol::{at, publish_barrier};
use crate::rules::RuleSet;
use crossbeam_queue::ArrayQueue;
pub use io::{ReadOutcome, ReadRequest, ReadTicket};
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Most jobs in flight at once.
pub const VYRE_ENGINE_MAX_QUEUE_DEPTH: u32 = 65_536;
/// Most rule sets one engine loads.
pub const VYRE_ENGINE_MAX_RULE_SETS: u32 = 1024;
/// Largest arena: 4 GiB - 16 bytes (one storage buffer of 32-bit offsets).
pub const VYRE_ENGINE_MAX_ARENA_BYTES: u64 = 0xFFFF_FFF0;
static_assertions::const_assert_eq!(VYRE_ENGINE_MAX_ARENA_BYTES, VYRE_SCAN_MAX_ARENA_WORDS as u64 * 4);
/// Longest job: byte offsets inside a job are 32-bit.
pub const VYRE_ENGINE_MAX_JOB_BYTES: u64 = u32::MAX as u64;

const DEFAULT_QUEUE_DEPTH: u32 = 1024;
const DEFAULT_MAX_HITS_PER_JOB: u32 = 4096;
const DEFAULT_ARENA_BYTES: u64 = 64 << 20;
const DEFAULT_RULE_TABLE_BYTES: u64 = 64 << 20;
/// Bytes of a job one lane scans before the next part begins: small enough
/// to spread a large file over many lanes, large enough that the overlap a
/// part re-reads (the longest match) stays a small fraction. A lane walks
/// a part alone, byte after byte, so the part size bounds how soon a large
/// job can finish: 16 KiB parts scanned 4 x 64 MiB on an H200 in 26 ms,
/// 64 KiB parts in 43 ms (bench/RESULTS.md).
const DEFAULT_PART_BYTES: u32 = 16 << 10;

/// Completion records `collect` reads from the device at once.
const COLLECT_BATCH: u32 = 32;

/// How long `wait` polls before it starts to sleep between polls.
const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(500);

/// Whether jobs run on a resident kernel (`VYRE_PERSISTENT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistent {
    /// Resident where the backend has a resident kernel (always, today).
    Auto,
    /// Resident or fail at creation.
    Force,
    /// One dispatch per batch of published work: the baseline.
    Disable,
}

/// Creation options; zero means "default" for every size.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    pub backend: BackendChoice,
    pub persistent: Persistent,
    /// Vulkan device index; `None` = default choice.
    pub device: Option<u32>,
    pub workers: u32,
    pub queue_depth: u32,
    pub max_hits_per_job: u32,
    pub arena_bytes: u64,
    pub rule_table_bytes: u64,
    pub part_bytes: u32,
    /// Vulkan: how long the kernel may show no progress while jobs are in
    /// flight before it is declared lost; `None` = `VYRE_WATCHDOG_MS` or the
    /// backend's default (10 s on a GPU, 60 s on a CPU device).
    pub watchdog: Option<Duration>,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            backend: BackendChoice::Auto,
            persistent: Persistent::Auto,
            device: None,
            workers: 0,
            queue_depth: 0,
            max_hits_per_job: 0,
            arena_bytes: 0,
            rule_table_bytes: 0,
            part_bytes: 0,
            watchdog: None,
        }
    }
}

/// One scan job, as C passes it (40 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(non_camel_case_types)]
pub struct vyre_work_item {
    /// First arena byte of the job.
    pub input_offset: u64,
    /// Bytes, below 4 GiB; 0 is valid (no matches).
    pub input_len: u64,
    /// From `vyre_engine_load_rule_set`.
    pub rule_set_id: u32,
    /// Reserved; must be 0.
    pub flags: u32,
    /// Returned in the completion and in every hit.
    pub user_data: u64,
    /// Leading bytes that are context only: scanned (what a match that
    /// ends later starts with, what `\b` or `(?m)^` look back at), but no
    /// match ending in them is reported or counted. For a caller that
    /// splits a stream into overlapping jobs: each match is reported by
    /// the one job whose own bytes it ends in. 0: none.
    pub context_before: u32,
    /// Trailing bytes that are context only: no match ending in them is
    /// reported or counted, and the job's end is not the end of the input
    /// (`$` and `\b` see these bytes). 0: none, the job ends the input.
    /// `context_before + context_after` is at most `input_len`.
    pub context_after: u32,
}

/// The end of one job (32 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(non_camel_case_types)]
pub struct vyre_completion {
    pub user_data: u64,
    /// Matches found: the true count, also when not all were stored.
    pub hit_count: u64,
    /// Index of the job's first hit in the hits array of the call.
    pub first_hit: u64,
    /// Hits stored there; below `hit_count` only with `VYRE_E_HITS_TRUNCATED`.
    pub hits_stored: u32,
    /// `VYRE_OK`, or why the job failed.
    pub status: i32,
}

/// One match (24 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(non_camel_case_types)]
pub struct vyre_hit {
    /// The job's `user_data`.
    pub user_data: u64,
    /// Exclusive end of the match, relative to the job's `input_offset`.
    pub end_offset: u64,
    /// Index of the pattern in its rule set.
    pub pattern_id: u32,
    /// Reserved (0).
    pub reserved: u32,
}

pub type WorkItem = vyre_work_item;
pub type Completion = vyre_completion;
pub type Hit = vyre_hit;

static_assertions::assert_eq_size!(vyre_work_item, [u8; 40]);
static_assertions::assert_eq_size!(vyre_completion, [u8; 32]);
static_assertions::assert_eq_size!(vyre_hit, [u8; 24]);

/// What an engine runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineInfo {
    pub backend: BackendChoice,
    pub resident: bool,
    pub lane_count: u32,
    pub queue_depth: u32,
    pub max_hits_per_job: u32,
    pub arena_bytes: u64,
    pub part_bytes: u32,
    pub device_name: String,
}

/// A loaded rule set.
struct Loaded {
    table: u32,
    start_state: u32,
    /// Longest match; `None` when unbounded (jobs are then never split).
    max_match_len: Option<u32>,
    /// `RuleSet::match_delay`: 0 when matches show one byte late, 1 at their
    /// last byte.
    match_delay: u32,
}

// Job entry states.
const JOB_FREE: u32 = 0;
/// Taken by an enqueuer that is still publishing its parts.
const JOB_PUBLISHING: u32 = 1;
const JOB_IN_FLIGHT: u32 = 2;
/// Finished on the host (an error found at enqueue, or the device lost).
const JOB_HOST_DONE: u32 = 3;

const NO_SLOT: u32 = u32::MAX;

/// Host-side record of a job entry.
struct Job {
    state: AtomicU32,
    user_data: AtomicU64,
    /// Status of a job finished on the host.
    host_status: AtomicI32,
    /// The first ring slot of its parts, chained through `Engine::next_slot`.
    first_slot: AtomicU32,
}

/// A completion record read from the device, waiting to be returned.
#[derive(Debug, Clone, Copy)]
struct Finished {
    job: u32,
    hits: u32,
    fault: u32,
    /// The record's inline hit records (all the job's stored hits when
    /// they are at most VYRE_SCAN_INLINE_HITS).
    inline: [u32; INLINE_WORDS],
}

const INLINE_WORDS: usize = (VYRE_SCAN_INLINE_HITS * VYRE_SCAN_HIT_WORDS) as usize;

struct Consumer {
    /// Completion records consumed so far.
    head: u32,
    /// Read but not yet returned (the caller's arrays were full).
    ready: VecDeque<Finished>,
    /// Hit records of one job, read from the device: raw words, then pairs.
    words: Vec<u32>,
    scratch: Vec<(u32, u32)>,
    /// Completion records as read from the device.
    batch: Vec<u32>,
}

/// A scanning engine over its own megakernel.
pub struct Engine {
    megakernel: Megakernel,
    layout: ScanLayout,
    arena_bytes: u64,
    queue_depth: u32,
    max_hits_per_job: u32,
    part_bytes: u32,
    max_parts: u32,
    jobs: Box<[Job]>,
    free_jobs: ArrayQueue<u32>,
    host_done: ArrayQueue<u32>,
    /// Ring slot → the next slot of the same job (or `NO_SLOT`), and the
    /// generation its part was published as.
    next_slot: Box<[AtomicU32]>,
    slot_generation: Box<[AtomicU32]>,
    rule_sets: Box<[OnceLock<Loaded>]>,
    rule_set_count: AtomicU32,
    /// Serialises loads: the next free word of the rule buffer.
    rule_cursor: Mutex<u32>,
    consumer: Mutex<Consumer>,
    /// Set while a pump serves this engine: a second one would take the
    /// first one's completions for its own (their tags overlap).
    pump_attached: AtomicBool,
    /// IO queue slots no IO_READ holds (src/engine/io.rs).
    free_io: ArrayQueue<u32>,
    /// The next device-read source id: ids are never reused over the
    /// engine's life, so a request left from a destroyed pump can never
    /// name a later pump's file.
    next_io_source: AtomicU32,
}

fn or_default<T: PartialEq + Default>(value: T, default: T) -> T {
    if value == T::default() {
        default
    } else {
        value
    }
}

fn check_option(what: &str, value: u64, min: u64, max: u64) -> Result<()> {
    if value < min || value > max {
        return Err(Error::invalid(format!("{what} is {value} but must be in {min}..={max}; pass 0 for the default")));
    }
    Ok(())
}

impl Engine {
    /// Validate `options`, start a megakernel with scanning buffers.
    pub fn create(options: &EngineOptions) -> Result<Engine> {
        let queue_depth = or_default(options.queue_depth, DEFAULT_QUEUE_DEPTH);
        check_option("queue_depth", queue_depth.into(), 1, VYRE_ENGINE_MAX_QUEUE_DEPTH.into())?;
        let max_hits_per_job = or_default(options.max_hits_per_job, DEFAULT_MAX_HITS_PER_JOB);
        check_option("max_hits_per_job", max_hits_per_job.into(), 1, 1 << 24)?;
        // Checked before rounding up to whole 16-byte words: rounding a value
        // near u64::MAX overflowed (found by fuzz/fuzz_targets/c_api.rs). The
        // limit is a multiple of 16, so the rounded size stays within it.
        let arena_bytes = or_default(options.arena_bytes, DEFAULT_ARENA_BYTES);
        check_option("arena_bytes", arena_bytes, 1, VYRE_ENGINE_MAX_ARENA_BYTES)?;
        let arena_bytes = arena_bytes.div_ceil(16) * 16;
        let rule_table_bytes = or_default(options.rule_table_bytes, DEFAULT_RULE_TABLE_BYTES);
        check_option("rule_table_bytes", rule_table_bytes, 1024, 1 << 32)?;
        let part_bytes = or_default(options.part_bytes, DEFAULT_PART_BYTES);
        check_option("part_bytes", part_bytes.into(), 256, 1 << 30)?;
        let hit_records = u64::from(queue_depth) * u64::from(max_hits_per_job);
        let layout = ScanLayout {
            // Job entries and completion records: a power of two (see
            // ScanLayout::state_words); only `queue_depth` are ever in use.
            job_count: queue_depth.next_power_of_two().max(MIN_COMPLETION_RECORDS),
            hit_records: u32::try_from(hit_records).map_err(|_| {
                Error::invalid(format!(
                    "queue_depth {queue_depth} x max_hits_per_job {max_hits_per_job} = {hit_records} hit records, \
                     more than 2^32; lower one of them"
                ))
            })?,
            rule_words: (rule_table_bytes / 4) as u32,
            arena_words: (arena_bytes / 4) as u32,
        };
        layout.state_words()?;
        // Enough slots for every job in flight to have a few parts, and for
        // a large job to spread over many lanes.
        let slot_count = (queue_depth.saturating_mul(4)).clamp(1024, VYRE_MAX_SLOTS);
        let megakernel = Megakernel::create_owned(&Options {
            backend: options.backend,
            slot_count,
            worker_count: options.workers,
            observable_count: 1,
            tenant_count: 1,
            device: options.device,
            scan: layout,
            resident: options.persistent != Persistent::Disable,
            watchdog: options.watchdog,
            ..Options::default()
        })?;
        if options.persistent == Persistent::Force && !megakernel.backend_ref().resident() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "the backend has no resident kernel; use VYRE_PERSISTENT_AUTO",
            ));
        }
        let free_jobs = ArrayQueue::new(queue_depth as usize);
        for job in 0..queue_depth {
            let _ = free_jobs.push(job);
        }
        Ok(Engine {
            megakernel,
            layout,
            arena_bytes,
            queue_depth,
            max_hits_per_job,
            part_bytes,
            max_parts: slot_count / 4,
            jobs: (0..queue_depth)
                .map(|_| Job {
                    state: AtomicU32::new(JOB_FREE),
                    user_data: AtomicU64::new(0),
                    host_status: AtomicI32::new(0),
                    first_slot: AtomicU32::new(NO_SLOT),
                })
                .collect(),
            free_jobs,
            host_done: ArrayQueue::new(queue_depth as usize),
            next_slot: (0..slot_count).map(|_| AtomicU32::new(NO_SLOT)).collect(),
            slot_generation: (0..slot_count).map(|_| AtomicU32::new(0)).collect(),
            rule_sets: (0..VYRE_ENGINE_MAX_RULE_SETS).map(|_| OnceLock::new()).collect(),
            rule_set_count: AtomicU32::new(0),
            pump_attached: AtomicBool::new(false),
            next_io_source: AtomicU32::new(0),
            free_io: {
                let free = ArrayQueue::new(VYRE_IO_SLOT_COUNT as usize);
                (0..layout.io_slots()).for_each(|slot| {
                    let _ = free.push(slot);
                });
                free
            },
            rule_cursor: Mutex::new(0),
            consumer: Mutex::new(Consumer {
                head: 0,
                ready: VecDeque::new(),
                words: Vec::new(),
                scratch: Vec::new(),
                batch: Vec::new(),
            }),
        })
    }

    fn buffers(&self) -> ScanBuffers<'_> {
        self.megakernel.backend_ref().scan()
    }

    /// What the engine runs on.
    pub fn info(&self) -> EngineInfo {
        let backend = self.megakernel.backend_ref();
        EngineInfo {
            backend: backend.kind(),
            resident: backend.resident(),
            lane_count: backend.lane_count(),
            queue_depth: self.queue_depth,
            max_hits_per_job: self.max_hits_per_job,
            arena_bytes: self.arena_bytes,
            part_bytes: self.part_bytes,
            device_name: backend.device_name(),
        }
    }

    /// A Vulkan engine shaped by `options` whose watchdog calls a silent
    /// kernel lost after 2 s, for the crate's fault-injection tests; None
    /// (the test is skipped) where no Vulkan device exists.
    #[cfg(test)]
    pub(crate) fn hang_test_engine(options: EngineOptions) -> Option<Engine> {
        let options =
            EngineOptions { backend: BackendChoice::Vulkan, watchdog: Some(Duration::from_secs(2)), ..options };
        match Engine::create(&options) {
            Ok(engine) => Some(engine),
            Err(e) if e.kind == ErrorKind::Unsupported => {
                eprintln!("skipped: no Vulkan device ({e})");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// The engine's megakernel, for fault injection in the crate's tests.
    #[cfg(test)]
    pub(crate) fn megakernel_for_tests(&self) -> &Megakernel {
        &self.megakernel
    }

    /// Mark the engine as having a pump; false if it already has one.
    pub(crate) fn attach_pump(&self) -> bool {
        self.pump_attached.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// A device-read source id no source of this engine had before; None
    /// once all 2^32 are spent.
    pub(crate) fn new_io_source_id(&self) -> Option<u32> {
        self.next_io_source.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |id| id.checked_add(1)).ok()
    }

    pub(crate) fn detach_pump(&self) {
        self.pump_attached.store(false, Ordering::Release);
    }

    /// Jobs that can be in flight (and completions ready) at once.
    pub fn queue_depth(&self) -> u32 {
        self.queue_depth
    }

    /// Bytes in the arena.
    pub fn arena_len(&self) -> u64 {
        self.arena_bytes
    }

    /// The arena's first byte, for callers that write it in place. Writes
    /// must not touch the bytes of a job in flight.
    pub fn arena_ptr(&self) -> *mut u8 {
        // The arena is a slice of AtomicU8 (UnsafeCell inside), so writing
        // through a pointer derived from it is permitted.
        self.buffers().arena.as_ptr().cast::<u8>().cast_mut()
    }

    /// Staging memory and copies into the arena, from the backend (the
    /// pump's staged ingest path): `count` buffers of at least `bytes` each.
    pub(crate) fn staging(&self, count: usize, bytes: usize) -> Result<Box<dyn Staging + '_>> {
        self.megakernel.backend_ref().staging(count, bytes)
    }

    /// Copy `bytes` into the arena at `offset`.
    pub fn write(&self, offset: u64, bytes: &[u8]) -> Result<()> {
        let end = offset.checked_add(bytes.len() as u64).filter(|&end| end <= self.arena_bytes);
        if end.is_none() {
            return Err(Error::out_of_range(format!(
                "writing {} bytes at offset {offset} passes the end of the {}-byte arena",
                bytes.len(),
                self.arena_bytes
            )));
        }
        let arena = self.buffers().arena;
        // SAFETY: [offset, offset + len) lies inside the arena (checked
        // above), whose AtomicU8 cells permit writes through a shared
        // reference's pointer; the source is a distinct Rust slice, so the
        // regions do not overlap. Concurrent device reads of these bytes are
        // excluded by the API contract (no writes to a job in flight).
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                arena[offset as usize..].as_ptr().cast::<u8>().cast_mut(),
                bytes.len(),
            );
        }
        Ok(())
    }

    /// Load `rule_set`'s table into the rule buffer; returns its id.
    pub fn load_rule_set(&self, rule_set: &RuleSet) -> Result<u32> {
        let words = table::encode(rule_set)?;
        let mut cursor = self.rule_cursor.lock();
        let id = self.rule_set_count.load(Ordering::Acquire);
        if id >= VYRE_ENGINE_MAX_RULE_SETS {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                format!("this engine already holds VYRE_ENGINE_MAX_RULE_SETS ({VYRE_ENGINE_MAX_RULE_SETS}) rule sets"),
            ));
        }
        let start = *cursor;
        let room = self.layout.rule_words - start;
        if words.len() as u64 > u64::from(room) {
            return Err(Error::new(
                ErrorKind::OutOfMemory,
                format!(
                    "the rule set's table needs {} bytes but only {} of the engine's rule_table_bytes ({}) are free; \
                     create the engine with a larger rule_table_bytes",
                    words.len() * 4,
                    u64::from(room) * 4,
                    u64::from(self.layout.rule_words) * 4
                ),
            ));
        }
        let rules = self.buffers().rules;
        for (cell, &word) in rules[at(start)..].iter().zip(&words) {
            cell.store(word, Ordering::Relaxed);
        }
        // The table is complete before any job can name it.
        publish_barrier();
        *cursor = start + words.len() as u32;
        let loaded = Loaded {
            table: start,
            start_state: rule_set.start_state(),
            max_match_len: rule_set.max_match_len(),
            match_delay: rule_set.match_delay(),
        };
        let _ = self.rule_sets[at(id)].set(loaded);
        self.rule_set_count.store(id + 1, Ordering::Release);
        Ok(id)
    }

    /// The longest match of loaded rule set `id` (`None`: unbounded), for
    /// callers that split inputs into overlapping jobs themselves (the pump).
    pub fn max_match_len(&self, id: u32) -> Result<Option<u32>> {
        self.rule_set(id).map(|loaded| loaded.max_match_len).ok_or_else(|| {
            Error::new(ErrorKind::NotFound, format!("no rule set with id {id} is loaded; use an id from load_rule_set"))
        })
    }

    fn rule_set(&self, id: u32) -> Option<&Loaded> {
        if id >= self.rule_set_count.load(Ordering::Acquire) {
            return None;
        }
        self.rule_sets.get(at(id))?.get()
    }

    /// Accept one job (see docs/ENGINE.md for every outcome).
    pub fn enqueue(&self, item: &WorkItem) -> Result<()> {
        if item.flags != 0 {
            return Err(Error::invalid(format!("work item flags are {:#x}; none are defined, pass 0", item.flags)));
        }
        let context = u64::from(item.context_before) + u64::from(item.context_after);
        if context > item.input_len {
            return Err(Error::invalid(format!(
                "context_before {} + context_after {} exceed the job's {} bytes; the context is part of the job",
                item.context_before, item.context_after, item.input_len
            )));
        }
        self.megakernel.backend_ref().health()?;
        let Some(job) = self.free_jobs.pop() else {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!(
                    "all {} job entries are in flight; poll or wait for completions, then retry \
                     (or create the engine with a larger queue_depth)",
                    self.queue_depth
                ),
            ));
        };
        let entry = &self.jobs[at(job)];
        entry.state.store(JOB_PUBLISHING, Ordering::Release);
        entry.user_data.store(item.user_data, Ordering::Relaxed);
        let rule_set = self.rule_set(item.rule_set_id);
        let in_arena = item.input_offset.checked_add(item.input_len).is_some_and(|end| end <= self.arena_bytes);
        let host_status = match rule_set {
            None => Some(ErrorKind::NotFound),
            Some(_) if !in_arena || item.input_len > VYRE_ENGINE_MAX_JOB_BYTES => Some(ErrorKind::OutOfRange),
            Some(_) => None,
        };
        if let Some(kind) = host_status {
            self.finish_on_host(job, kind.code());
            return Ok(());
        }
        if context > 0 && context == item.input_len {
            // Context and nothing else: no match can be reported.
            self.finish_on_host(job, VYRE_OK);
            return Ok(());
        }
        let loaded = rule_set.expect("checked above");
        let parts = self.plan(item, job, loaded);
        self.write_job_entry(job, parts.len() as u32);
        let mut tickets = vec![Ticket { slot: 0, generation: 0 }; parts.len()];
        if let Err(e) = self.megakernel.publish_owned(VYRE_OP_DFA_SCAN, &parts, &mut tickets) {
            entry.state.store(JOB_FREE, Ordering::Release);
            let _ = self.free_jobs.push(job);
            return Err(e);
        }
        for (i, ticket) in tickets.iter().enumerate() {
            self.slot_generation[at(ticket.slot)].store(ticket.generation, Ordering::Relaxed);
            let next = tickets.get(i + 1).map_or(NO_SLOT, |t| t.slot);
            self.next_slot[at(ticket.slot)].store(next, Ordering::Relaxed);
        }
        entry.first_slot.store(tickets[0].slot, Ordering::Relaxed);
        entry.state.store(JOB_IN_FLIGHT, Ordering::Release);
        Ok(())
    }

    /// Accept a prefix of `items`: how many, and why the next was refused.
    pub fn enqueue_batch(&self, items: &[WorkItem]) -> (usize, Result<()>) {
        for (i, item) in items.iter().enumerate() {
            if let Err(e) = self.enqueue(item) {
                return (i, Err(Error::new(e.kind, format!("item {i}: {}", e.message))));
            }
        }
        (items.len(), Ok(()))
    }

    fn finish_on_host(&self, job: u32, status: i32) {
        let entry = &self.jobs[at(job)];
        entry.host_status.store(status, Ordering::Relaxed);
        entry.state.store(JOB_HOST_DONE, Ordering::Release);
        // Never full: at most queue_depth jobs exist.
        let _ = self.host_done.push(job);
    }

    /// The job's parts as DFA_SCAN arguments. The parts tile the job's
    /// reported bytes, between its contexts; a part owns the match ends in
    /// `(start, end]` of the job; it starts reading `max_match_len - 1`
    /// bytes earlier (the longest match ending inside it starts there; for
    /// unbounded matches, at the job's first byte) and, where matches show
    /// one byte late (match delay 0), reads one byte past its end. A match
    /// revealed at walk index `pos` ends at `walk + pos + delay`. Only a
    /// part that ends the job without context after it ends the input.
    fn plan(&self, item: &WorkItem, job: u32, loaded: &Loaded) -> Vec<[u32; VYRE_SLOT_MAX_ARGS as usize]> {
        let len = item.input_len;
        let (own_first, own_last) = (u64::from(item.context_before), len - u64::from(item.context_after));
        let reported = own_last - own_first;
        let splittable = loaded.max_match_len.is_some_and(|l| l <= self.part_bytes / 2);
        let count =
            if splittable { reported.div_ceil(u64::from(self.part_bytes)).clamp(1, self.max_parts.into()) } else { 1 };
        let part_len = reported.div_ceil(count).max(1);
        (0..count)
            .map(|k| {
                let start = (own_first + k * part_len).min(own_last);
                let end = (own_first + (k + 1) * part_len).min(own_last);
                let delay = u64::from(loaded.match_delay);
                let walk = loaded.max_match_len.map_or(0, |l| (start + 1).saturating_sub(l.into()).min(start));
                let walk_end = (end + 1 - delay).min(len);
                let first = item.input_offset + walk;
                Part {
                    job,
                    table: loaded.table,
                    base_word: (first / 4) as u32,
                    base_skew: (first % 4) as u32,
                    len: (walk_end - walk) as u32,
                    pos: 0,
                    state: if walk == 0 { loaded.start_state } else { VYRE_SCAN_STATE_AFTER_PREVIOUS },
                    report_from: (start + 1 - walk - delay) as u32,
                    end_bias: (walk + delay) as u32,
                    flags: if end == len { VYRE_SCAN_FLAG_EOI } else { 0 },
                }
                .to_args()
            })
            .collect()
    }

    fn write_job_entry(&self, job: u32, parts: u32) {
        let state = self.buffers().state;
        let base = self.layout.jobs() as usize + at(job) * at(VYRE_SCAN_JOB_WORDS);
        for (field, value) in [
            (VYRE_SCAN_JOB_PARTS_LEFT, parts),
            (VYRE_SCAN_JOB_HIT_COUNT, 0),
            (VYRE_SCAN_JOB_HIT_BASE, job * self.max_hits_per_job),
            (VYRE_SCAN_JOB_HIT_CAPACITY, self.max_hits_per_job),
            (VYRE_SCAN_JOB_FAULT, 0),
        ] {
            state[base + at(field)].store(value, Ordering::Relaxed);
        }
        // publish_owned's barrier orders these before the parts' status words.
    }

    /// Return finished jobs without blocking: completions in `completions`,
    /// their hits in `hits` (see docs/ENGINE.md). Returns how many of each.
    pub fn poll(&self, completions: &mut [Completion], hits: &mut [Hit]) -> Result<(usize, usize)> {
        let mut consumer = self.consumer.lock();
        self.collect(&mut consumer);
        let lost = self.finish_lost_jobs(&consumer);
        let (mut done, mut stored) = (0, 0);
        while done < completions.len() {
            let next = match self.host_done.pop() {
                Some(job) => {
                    let entry = &self.jobs[at(job)];
                    completions[done] = Completion {
                        user_data: entry.user_data.load(Ordering::Relaxed),
                        status: entry.host_status.load(Ordering::Relaxed),
                        ..Completion::default()
                    };
                    self.release(job, false);
                    done += 1;
                    continue;
                }
                None => consumer.ready.front().copied(),
            };
            let Some(finished) = next else { break };
            // A job whose enqueuer has not finished recording it waits.
            if self.jobs[at(finished.job)].state.load(Ordering::Acquire) != JOB_IN_FLIGHT {
                break;
            }
            let keep = finished.hits.min(self.max_hits_per_job) as usize;
            if keep > hits.len() - stored {
                if done == 0 {
                    return Err(Error::new(
                        ErrorKind::BufferTooSmall,
                        format!(
                            "the next completion has {keep} hits but the hits array holds {}; pass at least \
                             max_hits_per_job ({}) hits",
                            hits.len(),
                            self.max_hits_per_job
                        ),
                    ));
                }
                break;
            }
            consumer.ready.pop_front();
            let user_data = self.jobs[at(finished.job)].user_data.load(Ordering::Relaxed);
            let Consumer { words, scratch, .. } = &mut *consumer;
            if keep <= VYRE_SCAN_INLINE_HITS as usize {
                sorted_hits(&finished.inline[..keep * at(VYRE_SCAN_HIT_WORDS)], scratch);
            } else {
                self.read_hits(finished.job, keep, words, scratch);
            }
            for (hit, &(pattern_id, end)) in hits[stored..].iter_mut().zip(&consumer.scratch) {
                *hit = Hit { user_data, end_offset: u64::from(end), pattern_id, reserved: 0 };
            }
            completions[done] = Completion {
                user_data,
                hit_count: u64::from(finished.hits),
                first_hit: stored as u64,
                hits_stored: keep as u32,
                status: match (finished.fault, keep < finished.hits as usize) {
                    (0, false) => 0,
                    (0, true) => ErrorKind::HitsTruncated.code(),
                    _ => ErrorKind::Protocol.code(),
                },
            };
            stored += keep;
            done += 1;
            self.release(finished.job, true);
        }
        match lost {
            Some(error) if done == 0 => Err(error),
            _ => Ok((done, stored)),
        }
    }

    /// Block until at least one completion is returned or `timeout` passes.
    pub fn wait(&self, completions: &mut [Completion], hits: &mut [Hit], timeout: Duration) -> Result<(usize, usize)> {
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        loop {
            let got = self.poll(completions, hits)?;
            if got.0 > 0 || completions.is_empty() {
                return Ok(got);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::new(ErrorKind::Timeout, "no job finished before the timeout"));
            }
            // Keep polling for a while (a resident kernel answers a small job
            // in microseconds, and a sleep costs tens of them), then sleep.
            if start.elapsed() >= SPIN_BEFORE_SLEEP {
                std::thread::sleep(Duration::from_micros(50));
            }
        }
    }

    /// Read new completion records from the device, in order.
    fn collect(&self, consumer: &mut Consumer) {
        const WORDS: usize = VYRE_SCAN_COMPLETION_WORDS as usize;
        let state = self.buffers().state;
        let records = self.layout.completions() as usize;
        let Consumer { head, ready, batch, .. } = consumer;
        loop {
            // The records from `head` on, up to COLLECT_BATCH of them and not
            // past the end of the ring. Each read of device memory is a PCIe
            // round trip, so they are read together: once to see how many
            // are complete (their sequence words), then, after an acquire
            // fence, again for those (a record's other words are final once
            // its sequence word is, as the device writes that word last).
            let first = *head % self.layout.job_count;
            let count = (self.layout.job_count - first).min(COLLECT_BATCH) as usize;
            let span = &state[records + at(first) * WORDS..][..count * WORDS];
            batch.resize(count * WORDS, 0);
            if self.megakernel.backend() == BackendChoice::Vulkan {
                // The device writes these words, never a host thread: a
                // stale word is all a wide read can see (read_words).
                read_words(span, batch);
            } else {
                // The reference backend's workers are host threads storing
                // atomically: read atomically too (host memory, no PCIe).
                for (word, cell) in batch.iter_mut().zip(span) {
                    *word = cell.load(Ordering::Relaxed);
                }
            }
            let complete = (0..count)
                .take_while(|&k| {
                    batch[k * WORDS + at(VYRE_SCAN_COMPLETION_SEQ)] == sequence_word(head.wrapping_add(k as u32))
                })
                .count();
            if complete == 0 {
                return;
            }
            std::sync::atomic::fence(Ordering::Acquire);
            read_words(&span[..complete * WORDS], &mut batch[..complete * WORDS]);
            for record in batch[..complete * WORDS].chunks_exact(WORDS) {
                let inline = at(VYRE_SCAN_COMPLETION_INLINE);
                let finished = Finished {
                    job: record[at(VYRE_SCAN_COMPLETION_JOB)],
                    hits: record[at(VYRE_SCAN_COMPLETION_HITS)],
                    fault: record[at(VYRE_SCAN_COMPLETION_FAULT)],
                    inline: record[inline..inline + INLINE_WORDS].try_into().expect("the record holds them"),
                };
                if finished.job < self.queue_depth {
                    ready.push_back(finished);
                }
            }
            *head = head.wrapping_add(complete as u32);
            if complete < count {
                return;
            }
        }
    }

    /// The first `count` hit records of `job`, sorted by (end, pattern).
    fn read_hits(&self, job: u32, count: usize, words: &mut Vec<u32>, out: &mut Vec<(u32, u32)>) {
        let state = self.buffers().state;
        let first = self.layout.hits() as usize + at(job) * at(self.max_hits_per_job) * at(VYRE_SCAN_HIT_WORDS);
        words.clear();
        words.resize(count * at(VYRE_SCAN_HIT_WORDS), 0);
        read_words(&state[first..first + words.len()], words);
        sorted_hits(words, out);
    }

    /// Give a finished job's entry back; its parts' slots are final, which
    /// the megakernel learns here instead of reading the device.
    fn release(&self, job: u32, had_parts: bool) {
        let entry = &self.jobs[at(job)];
        if had_parts {
            let mut slot = entry.first_slot.load(Ordering::Relaxed);
            while slot != NO_SLOT {
                let generation = self.slot_generation[at(slot)].load(Ordering::Relaxed);
                self.megakernel.mark_finished(Ticket { slot, generation });
                slot = self.next_slot[at(slot)].load(Ordering::Relaxed);
            }
        }
        entry.state.store(JOB_FREE, Ordering::Release);
        let _ = self.free_jobs.push(job);
    }

    /// After a device loss, finish every job in flight whose record was not
    /// read with DEVICE_LOST (on the host: the device will never append
    /// their records). Returns the loss, if any.
    fn finish_lost_jobs(&self, consumer: &Consumer) -> Option<Error> {
        let error = self.megakernel.backend_ref().health().err()?;
        for (job, entry) in self.jobs.iter().enumerate() {
            let job = job as u32;
            if consumer.ready.iter().any(|f| f.job == job) {
                continue;
            }
            if entry.state.compare_exchange(JOB_IN_FLIGHT, JOB_PUBLISHING, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            {
                self.finish_on_host(job, ErrorKind::DeviceLost.code());
            }
        }
        Some(error)
    }
}

/// Hit records (PATTERN, END words) as (pattern, end) pairs sorted by (end, pattern).
fn sorted_hits(words: &[u32], out: &mut Vec<(u32, u32)>) {
    out.clear();
    out.extend(
        words
            .chunks_exact(at(VYRE_SCAN_HIT_WORDS))
            .map(|record| (record[at(VYRE_SCAN_HIT_PATTERN)], record[at(VYRE_SCAN_HIT_END)])),
    );
    out.sort_unstable_by_key(|&(pattern, end)| (end, pattern));
}

/// Copy `src` into `dst` (same length) 16 bytes at a time where possible.
/// On a GPU the words are device memory behind PCIe, where every CPU read is
/// a round trip of about a microsecond whatever its width: wide reads cut
/// the cost of a completion record or a job's hits by up to 4x, and where
/// the CPU has SSE4.1, streaming loads (MOVNTDQA) fetch each 64-byte line
/// of write-combined memory (the BAR) once for its four 16-byte parts.
///
/// Words no host thread writes meanwhile (a device may): one the device
/// writes reads as its old or its new value (each aligned 4-byte part of an
/// x86_64 load is single-copy atomic), and the words of one read are not
/// ordered among themselves, so callers use only words known to be final
/// (a finished job's hits, the records `collect` reads again after seeing
/// their sequence words).
fn read_words(src: &[AtomicU32], dst: &mut [u32]) {
    assert_eq!(src.len(), dst.len(), "read_words: lengths differ");
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.1") {
            // SAFETY: the CPU has SSE4.1 (checked just above).
            i = unsafe { stream_words(src, dst) };
        }
        while i + 4 <= src.len() {
            // SAFETY: src[i..i + 4] are 16 readable bytes of one slice (checked
            // by the loop bound); SSE2 is part of x86_64; the load is unaligned.
            // No host thread writes these cells meanwhile (the caller's promise),
            // so the plain read races with no atomic access of this program; a
            // device's write can only make a word read stale, and every bit
            // pattern is a valid u32.
            let chunk = unsafe { std::arch::x86_64::_mm_loadu_si128(src[i..].as_ptr().cast()) };
            // SAFETY: __m128i and [u32; 4] have the same size; every bit pattern is a valid u32.
            let words: [u32; 4] = unsafe { std::mem::transmute(chunk) };
            dst[i..i + 4].copy_from_slice(&words);
            i += 4;
        }
        if i + 2 <= src.len() {
            // SAFETY: as above, for the 8 bytes of src[i..i + 2] (a hit record:
            // one read over PCIe instead of two).
            let pair = unsafe { std::arch::x86_64::_mm_loadl_epi64(src[i..].as_ptr().cast()) };
            // SAFETY: the low 8 bytes of an __m128i are two valid u32s.
            let words: [u32; 4] = unsafe { std::mem::transmute(pair) };
            dst[i..i + 2].copy_from_slice(&words[..2]);
            i += 2;
        }
    }
    for (d, s) in dst[i..].iter_mut().zip(&src[i..]) {
        *d = s.load(Ordering::Acquire);
    }
}

/// `read_words`' streaming part: the words of `src` up to its last whole
/// 16-byte-aligned block, read with MOVNTDQA after an MFENCE (which the
/// Intel SDM asks for so that streaming loads see other agents' writes
/// rather than a line an earlier streaming load fetched). Returns how many
/// words it copied; the rest is the caller's.
///
/// # Safety
/// The CPU must have SSE4.1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.1")]
unsafe fn stream_words(src: &[AtomicU32], dst: &mut [u32]) -> usize {
    use std::arch::x86_64::{__m128i, _mm_mfence};
    // Words before the first 16-byte boundary are read one by one.
    let head = (src.as_ptr().align_offset(16)).min(src.len());
    for (d, s) in dst[..head].iter_mut().zip(&src[..head]) {
        *d = s.load(Ordering::Acquire);
    }
    _mm_mfence();
    let mut i = head;
    while i + 4 <= src.len() {
        let chunk: __m128i;
        // SAFETY: src[i..i + 4] are 16 readable bytes of one slice, 16-byte
        // aligned (i starts at the boundary and moves by 16 bytes), as
        // MOVNTDQA requires; the CPU has SSE4.1 (this function's contract);
        // the instruction only reads that memory. Data races as in
        // read_words: only a device writes these words. (MOVNTDQA through
        // asm: its intrinsic is newer than this crate's minimum Rust.)
        unsafe {
            std::arch::asm!(
                "movntdqa {chunk}, xmmword ptr [{at}]",
                chunk = out(xmm_reg) chunk,
                at = in(reg) src[i..].as_ptr(),
                options(nostack, readonly, preserves_flags),
            );
        }
        // SAFETY: __m128i and [u32; 4] have the same size; every bit pattern is a valid u32.
        let words: [u32; 4] = unsafe { std::mem::transmute(chunk) };
        dst[i..i + 4].copy_from_slice(&words);
        i += 4;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Pattern;

    /// A real Vulkan kernel (lavapipe in CI) that stops answering with jobs
    /// in flight: every job still completes exactly once (with its matches
    /// if it ran before the hang, else DEVICE_LOST), enqueue then refuses
    /// with DEVICE_LOST, destroying the engine does not hang, and a new
    /// engine works.
    /// Every start and length, so that the streaming loads' aligned middle,
    /// the word-by-word head and the 16- and 8-byte tails are all covered.
    #[test]
    fn read_words_copies_every_word_whatever_the_alignment() {
        let cells: Vec<AtomicU32> = (0..64u32).map(|i| AtomicU32::new(i.wrapping_mul(0x9E37_79B9))).collect();
        for start in 0..8 {
            for len in 0..40 {
                let src = &cells[start..start + len];
                let mut dst = vec![0u32; len];
                read_words(src, &mut dst);
                let expected: Vec<u32> = src.iter().map(|c| c.load(Ordering::Relaxed)).collect();
                assert_eq!(dst, expected, "start {start}, {len} words");
            }
        }
    }

    #[test]
    fn a_device_that_stops_answering_fails_exactly_the_jobs_in_flight() {
        let options =
            EngineOptions { queue_depth: 64, max_hits_per_job: 64, arena_bytes: 1 << 16, ..EngineOptions::default() };
        let Some(engine) = Engine::hang_test_engine(options) else { return };
        let rs = RuleSet::compile(&[Pattern::literal(&b"ab"[..])], &Default::default()).unwrap();
        let id = engine.load_rule_set(&rs).unwrap();
        let input = b"xxabxxab".repeat(16);
        engine.write(0, &input).unwrap();
        let expected = rs.matches(&input).len() as u64;
        let item = |user_data| WorkItem {
            input_offset: 0,
            input_len: input.len() as u64,
            rule_set_id: id,
            flags: 0,
            user_data,
            ..Default::default()
        };
        let mut completions = vec![Completion::default(); 64];
        let mut hits = vec![Hit::default(); 64 * 64];
        let long = Duration::from_secs(60);
        engine.enqueue(&item(1000)).unwrap();
        let (got, _) = engine.wait(&mut completions, &mut hits, long).unwrap();
        assert_eq!((got, completions[0].status, completions[0].hit_count), (1, 0, expected));

        assert!(engine.megakernel_for_tests().backend_ref().stop_answering());
        // Jobs go in four at a time, each group collected before the next:
        // the slices queued before the hang still run some; then the
        // watchdog fails the group that is stranded.
        let mut seen: Vec<u32> = Vec::new();
        let (mut ran, mut lost) = (0, 0);
        while lost == 0 {
            assert!(seen.len() < 100_000, "the watchdog never declared the device lost");
            for _ in 0..4 {
                engine.enqueue(&item(seen.len() as u64)).unwrap();
                seen.push(0);
            }
            while seen.contains(&0) {
                match engine.wait(&mut completions, &mut hits, long) {
                    Ok((got, _)) => {
                        for c in &completions[..got] {
                            seen[c.user_data as usize] += 1;
                            if c.status == 0 {
                                assert_eq!(c.hit_count, expected, "job {} ran before the hang", c.user_data);
                                ran += 1;
                            } else {
                                assert_eq!(c.status, ErrorKind::DeviceLost.code(), "job {}", c.user_data);
                                lost += 1;
                            }
                        }
                    }
                    Err(e) => assert_eq!(e.kind, ErrorKind::DeviceLost, "{e}"),
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "every job completed exactly once ({ran} ran, {lost} lost)");
        assert_eq!(engine.enqueue(&item(99)).unwrap_err().kind, ErrorKind::DeviceLost);
        drop(engine); // must not hang; the abandoned device is leaked, not freed

        let fresh = Engine::create(&EngineOptions { backend: BackendChoice::Vulkan, ..options }).unwrap();
        let id = fresh.load_rule_set(&rs).unwrap();
        fresh.write(0, &input).unwrap();
        fresh.enqueue(&WorkItem { rule_set_id: id, ..item(7) }).unwrap();
        let (got, _) = fresh.wait(&mut completions, &mut hits, long).unwrap();
        assert_eq!((got, completions[0].status, completions[0].hit_count), (1, 0, expected));
    }
}
