//! The pump (docs/PUMP.md): reads files with io_uring straight into the
//! engine's input arena and enqueues each chunk's scan job as soon as its
//! read completes.
//!
//! Every read and every scan job carries a tag naming its chunk (slot and
//! generation), so completions are matched by tag, never by order. A file
//! larger than a chunk is split into chunks that overlap by the rule set's
//! longest match plus one byte each side; each chunk keeps only the matches
//! ending in the range it owns, so the owned ranges partition the file and
//! every match is reported once. Regular files are read with positioned
//! reads (all chunks of a file may be in flight at once); pipes, FIFOs and
//! other streams are read in sequence, the overlap carried from one chunk to
//! the next on the host.

mod io_service;
mod megakernel_feed;
mod space;
mod staged;

pub use megakernel_feed::*;

use crate::engine::{Completion, Engine, Hit, WorkItem};
use crate::error::{Error, ErrorKind, Result};
pub use io_service::VYRE_PUMP_MAX_IO_SOURCES;
use io_service::{IoService, DEVICE_READ_TAG};
use io_uring::{opcode, squeue, types, IoUring};
use space::Space;
use staged::Staged;
use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// A request length meaning "up to the end of the file".
pub const VYRE_PUMP_TO_EOF: u64 = u64::MAX;
/// Result flag: the request's last result; nothing more comes for it.
pub const VYRE_PUMP_RESULT_LAST: u32 = 1;
/// Result flag: the completion of a job the caller enqueued on the engine
/// directly, passed through unchanged.
pub const VYRE_PUMP_RESULT_DIRECT: u32 = 2;
/// Bit of an engine job's `user_data` that marks the pump's own jobs: jobs
/// the caller enqueues directly on an engine with a pump must leave it clear.
pub const VYRE_PUMP_JOB_TAG: u64 = 0x8000_0000_0000_0000;

/// Most reads in flight at once (io_uring submission entries).
pub const VYRE_PUMP_MAX_QUEUE_DEPTH: u32 = 4096;
/// How long a SQPOLL pump's kernel thread keeps polling for submissions
/// after the last one before it sleeps (the next submit wakes it).
const SQPOLL_IDLE_MS: u32 = 10;
/// How long a push waits for a SQPOLL kernel thread to make room in a full
/// submission queue on a kernel without IORING_ENTER_SQ_WAIT.
const SQ_ROOM_PATIENCE: Duration = Duration::from_millis(100);
/// Reads of a regular file at least this long that a SQPOLL pump shares
/// between the kernel thread and the caller's thread: every second one the
/// caller copies itself from cached pages, while the kernel thread copies
/// the one before (one core copies into the BAR at about 7 GB/s;
/// docs/PUMP.md, "A kernel thread for submissions").
const CALLER_READ_MIN: u32 = 256 << 10;
/// How long destroy waits for the closes it sends (they take microseconds).
const CLOSE_PATIENCE: Duration = Duration::from_secs(1);

const DEFAULT_QUEUE_DEPTH: u32 = 64;
const DEFAULT_CHUNK_BYTES: u64 = 4 << 20;
const MIN_CHUNK_BYTES: u64 = 64;
/// `user_data` of cancel requests (never a chunk's tag: generations stay below 2^30).
const CANCEL_TAG: u64 = u64::MAX;
/// `user_data` of the closes of files the pump opened (likewise never a chunk's tag).
const CLOSE_TAG: u64 = u64::MAX - 1;
/// Marks the `user_data` of an open sent through the ring (a SQPOLL pump's
/// `submit_path`): with an `opening` key's tag, whose generation stays
/// below 2^30, so the bit is free (device reads use bit 63).
const OPEN_TAG: u64 = 1 << 62;
/// How long `drain` polls before it starts to sleep between polls (as the engine's wait).
const SPIN_BEFORE_SLEEP: Duration = Duration::from_micros(500);
/// The longest single sleep of `drain` while only reads are in flight.
const READ_WAIT_SLICE: Duration = Duration::from_millis(10);
/// How long destroy waits for the pump's scan jobs (its reads it waits out whole).
const DESTROY_PATIENCE: Duration = Duration::from_secs(10);
/// Read bytes one io_uring submit may ask for before `advance` submits,
/// reaps and enqueues what has completed, then starts more. The kernel
/// copies a read of cached pages inside the submit call, so an unbounded
/// batch (a whole share) would hold back every chunk's scan until the last
/// chunk is copied (docs/PUMP.md, "Reads and completions").
const SUBMIT_BYTES: u64 = 4 << 20;

/// How bytes get into the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestPath {
    /// The default: `Direct`, the faster path on an H200 (docs/PUMP.md, "Ingest paths").
    Auto,
    /// io_uring READ straight into the mapped arena (on a GPU, through the BAR).
    Direct,
    /// io_uring READ_FIXED into registered system-memory staging buffers,
    /// then a copy into the arena (on a GPU, on a transfer queue).
    Staged,
}

/// Creation options; zero means "default" for every size.
#[derive(Debug, Clone, Copy)]
pub struct PumpOptions {
    pub path: IngestPath,
    /// Reads in flight, 1..=`VYRE_PUMP_MAX_QUEUE_DEPTH` (default 64).
    pub queue_depth: u32,
    /// Arena bytes of one chunk (one read, one scan job); default 4 MiB,
    /// at most a quarter of the share.
    pub chunk_bytes: u64,
    /// First arena byte of the pump's share.
    pub arena_offset: u64,
    /// Bytes of the share; 0 = to the end of the arena.
    pub arena_bytes: u64,
    /// Submit reads from a kernel thread (io_uring SQPOLL) on another core;
    /// see `VYRE_PUMP_FLAG_SQPOLL`.
    pub sqpoll: bool,
}

impl Default for PumpOptions {
    fn default() -> PumpOptions {
        PumpOptions {
            path: IngestPath::Auto,
            queue_depth: 0,
            chunk_bytes: 0,
            arena_offset: 0,
            arena_bytes: 0,
            sqpoll: false,
        }
    }
}

/// One result of a request (56 bytes): the scan of one chunk, or the error
/// that ended the request, or a direct job's completion passed through.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(non_camel_case_types)]
pub struct vyre_pump_result {
    /// The request's `user_data` (a direct job's, with `VYRE_PUMP_RESULT_DIRECT`).
    pub user_data: u64,
    /// Chunk results: the matches ending in `(file_offset, file_offset +
    /// length]` are this result's (the ranges of a request's chunks
    /// partition its bytes). Errors: the file offset where it failed.
    pub file_offset: u64,
    pub length: u64,
    /// Matches ending in this result's range: the exact count, also with
    /// `VYRE_E_HITS_TRUNCATED` (the chunk's overlap is its job's context).
    pub hit_count: u64,
    /// Index of the first hit in the hits array of the call.
    pub first_hit: u64,
    pub hits_stored: u32,
    /// `VYRE_OK`, `-errno` (open, stat or read failed), or a `VYRE_E_*` code.
    pub status: i32,
    /// `VYRE_PUMP_RESULT_*`.
    pub flags: u32,
    /// Megakernel pumps: the chunk's slot's `VYRE_FAULT_*` reason when it
    /// faulted (`status` `VYRE_E_SLOT_FAULT`, `VYRE_E_CANCELLED` or
    /// `VYRE_E_DEVICE_LOST`); otherwise 0.
    pub fault_reason: u32,
}

pub type PumpResult = vyre_pump_result;

static_assertions::assert_eq_size!(vyre_pump_result, [u8; 56]);

/// What a pump runs with, and what it has in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PumpInfo {
    pub path: IngestPath,
    pub queue_depth: u32,
    pub chunk_bytes: u64,
    pub arena_offset: u64,
    pub arena_bytes: u64,
    /// Requests not finished yet (their last result not yet returned).
    pub requests: u64,
    pub reads_in_flight: u64,
    /// Scan jobs of the pump the engine has accepted and not completed.
    pub jobs_in_flight: u64,
    /// Bytes read into the arena so far (overlaps of split files counted once per read).
    pub bytes_read: u64,
    /// io_uring submit calls that sent reads, since the pump was created
    /// (this and the next three say where its time went; bench-pump prints them).
    pub submits: u64,
    /// Bytes the reads sent by those calls asked for (re-reads of short reads included).
    pub submitted_bytes: u64,
    /// Time inside those calls: the kernel copies a read of cached pages
    /// inside the call that submits it, so with warm files this is mostly copying.
    pub submit_time: Duration,
    /// Time `drain` slept waiting for reads or scan jobs.
    pub wait_time: Duration,
    /// Whether a kernel thread submits the reads (`PumpOptions::sqpoll`).
    pub sqpoll: bool,
    /// Bytes the caller's thread read itself from cached pages (a SQPOLL
    /// pump shares large reads with it; `CALLER_READ_MIN`).
    pub caller_read_bytes: u64,
}

/// A slab: entries addressed by index and generation, so a stale tag never
/// reaches a reused entry.
struct Slab<T> {
    entries: Vec<(u32, Option<T>)>,
    free: Vec<u32>,
    live: usize,
}

impl<T> Slab<T> {
    fn new() -> Slab<T> {
        Slab { entries: Vec::new(), free: Vec::new(), live: 0 }
    }

    /// Generations stay below 2^30 so a tag leaves bits 62 and 63 free
    /// (`OPEN_TAG`, `DEVICE_READ_TAG`, `VYRE_PUMP_JOB_TAG`).
    fn insert(&mut self, value: T) -> Key {
        self.live += 1;
        if let Some(index) = self.free.pop() {
            let entry = &mut self.entries[index as usize];
            entry.0 = (entry.0 + 1) & GENERATION_MASK;
            entry.1 = Some(value);
            return Key { index, generation: entry.0 };
        }
        self.entries.push((0, Some(value)));
        Key { index: (self.entries.len() - 1) as u32, generation: 0 }
    }

    fn get(&mut self, key: Key) -> Option<&mut T> {
        match self.entries.get_mut(key.index as usize) {
            Some((generation, Some(value))) if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    fn remove(&mut self, key: Key) -> Option<T> {
        let entry = self.entries.get_mut(key.index as usize).filter(|e| e.0 == key.generation)?;
        let value = entry.1.take()?;
        self.free.push(key.index);
        self.live -= 1;
        Some(value)
    }

    /// Keys of the entries for which `pick` holds.
    fn keys_where(&self, pick: impl Fn(&T) -> bool) -> Vec<Key> {
        let picked = self.entries.iter().enumerate().filter(|(_, e)| e.1.as_ref().is_some_and(&pick));
        picked.map(|(i, e)| Key { index: i as u32, generation: e.0 }).collect()
    }
}

const GENERATION_MASK: u32 = 0x3FFF_FFFF;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    fn tag(self) -> u64 {
        u64::from(self.generation) << 32 | u64::from(self.index)
    }

    fn from_tag(tag: u64) -> Key {
        Key { index: tag as u32, generation: (tag >> 32) as u32 & GENERATION_MASK }
    }
}

/// How a request's chunks overlap (`None` in a request: never split).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Overlap {
    /// Bytes before a chunk's owned range that it reads too (a scan's
    /// longest match).
    before: u64,
    /// Bytes after a chunk's owned range that it reads too (a scan's
    /// look-ahead byte).
    after: u64,
}

/// What a submit asks for: `length` bytes (or `VYRE_PUMP_TO_EOF`) from
/// `offset`, scanned with `rule_set_id`, results tagged `user_data`.
#[derive(Clone, Copy)]
struct Ask {
    offset: u64,
    length: u64,
    rule_set_id: u32,
    user_data: u64,
}

/// What `submit` does when the request's first chunk finds no room.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WhenFull {
    /// Refuse the request (`QueueFull`): the caller drains and retries.
    Refuse,
    /// Keep it; a later drain starts it (its submit call has returned).
    Wait,
}

/// A `submit_path` whose open is in the ring (a SQPOLL pump): the request
/// starts when the open completes.
struct Opening {
    /// Not read here: the kernel reads it until the open completes.
    _path: CString,
    ask: Ask,
}

struct Request {
    user_data: u64,
    fd: RawFd,
    /// Opened by the pump (`submit_path`): closed when the request ends.
    owns_fd: bool,
    /// The rule set (engine) or slot template (megakernel) of its chunks.
    rule_set_id: u32,
    overlap: Option<Overlap>,
    /// Positioned reads (a regular file); else one read after the other.
    seekable: bool,
    /// A SQPOLL pump's caller's thread may read its cached pages itself: a
    /// regular file not opened with O_DIRECT (whose RWF_NOWAIT reads go to
    /// the disk).
    caller_may_read: bool,
    start: u64,
    /// Exclusive end: the caller's, clipped to a regular file's size at
    /// submit; `u64::MAX` for a stream read to its end.
    end: u64,
    /// Match ends after this offset belong to chunks not started yet.
    next_owned: u64,
    /// No more chunks will start.
    reading_done: bool,
    /// A stream chunk is being read (the next must wait for its tail).
    reading: bool,
    /// A stream's overlap: the bytes the next chunk begins with.
    carry: Vec<u8>,
    chunks: u32,
    /// The first error: status and file offset; ends the request.
    error: Option<(i32, u64)>,
    /// Accepted without room for its first chunk (a SQPOLL pump's open
    /// completed); counted in `Pump::parked` until that chunk starts.
    parked: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Reading,
    /// Read completely; its staging buffer is being copied into the arena.
    Copying,
    /// Read (and copied) completely; the engine's queue was full.
    Unqueued,
    Scanning,
}

struct Chunk {
    request: Key,
    state: ChunkState,
    /// Arena offset of the chunk's first byte, and the bytes reserved there.
    at: u64,
    reserved: u64,
    /// The staging buffer its bytes are read into (staged path), held until
    /// they are copied into the arena.
    staging: Option<u32>,
    /// File offset of the chunk's first byte.
    file_pos: u64,
    want: u64,
    have: u64,
    /// The chunk reports the matches ending in (own_from, own_to].
    own_from: u64,
    own_to: u64,
}

enum Start {
    Started,
    /// No room in the arena share or the ring: retry after completions.
    Blocked,
    /// This request cannot start a chunk now (done, or its stream is busy).
    Idle,
}

/// What a pump feeds its chunks to.
enum Consumer<'e> {
    /// Scan jobs on an engine, over its input arena.
    Engine(&'e Engine),
    /// Slots of a bare megakernel, over its observables.
    Megakernel(Feed<'e>),
}

impl<'e> Consumer<'e> {
    /// The engine, for a pump that feeds one (device reads need its IO queue).
    fn engine(&self) -> Option<&'e Engine> {
        match self {
            Consumer::Engine(engine) => Some(*engine),
            Consumer::Megakernel(_) => None,
        }
    }

    /// Byte 0 of the memory the pump's share is in.
    fn arena_ptr(&self) -> *mut u8 {
        match self {
            Consumer::Engine(engine) => engine.arena_ptr(),
            Consumer::Megakernel(feed) => feed.arena_ptr(),
        }
    }
}

/// An io_uring reader feeding one engine or megakernel.
pub struct Pump<'e> {
    consumer: Consumer<'e>,
    ring: IoUring,
    /// The staged path's buffers; declared after `ring`, so the ring (and
    /// its registration of them) goes first on drop.
    staged: Option<Staged<'e>>,
    path: IngestPath,
    queue_depth: u32,
    chunk_bytes: u64,
    share: (u64, u64),
    space: Space,
    requests: Slab<Request>,
    /// `submit_path`s of a SQPOLL pump whose open is in the ring.
    opening: Slab<Opening>,
    /// Requests whose open completed but whose first chunk has not started:
    /// with the opens in the ring they bound the files a pump holds open.
    parked: u32,
    chunks: Slab<Chunk>,
    /// Requests that may start more chunks, taken in turn.
    active: VecDeque<Key>,
    /// Chunks whose scan job the engine refused for a full queue.
    unqueued: VecDeque<Key>,
    /// Results made on the host (errors, empty requests), not yet returned.
    host_results: VecDeque<PumpResult>,
    reads_in_flight: u32,
    /// Reads the caller's thread did itself (counted in `reads_in_flight`),
    /// with their results, for `reap` to take like ring completions.
    caller_done: VecDeque<(Key, i32)>,
    /// Whether the caller's thread takes the next large read (a SQPOLL
    /// pump; they alternate with the kernel thread).
    caller_turn: bool,
    /// Set on a SQPOLL pump; cleared where the kernel or the file system
    /// has no RWF_NOWAIT reads.
    caller_reads: bool,
    caller_read_bytes: u64,
    /// Bytes the caller's thread read since the last submit: they count
    /// against the round's `SUBMIT_BYTES` as the ring's queued reads do.
    round_caller_bytes: u64,
    /// Closes of finished requests' files sent through the ring, not yet
    /// completed (destroy waits for them).
    closes_in_flight: u32,
    jobs_in_flight: u32,
    bytes_read: u64,
    /// Bytes asked for by the reads queued in the ring and not submitted yet.
    unsubmitted: u64,
    /// `PumpInfo`'s time accounting.
    submits: u64,
    submitted_bytes: u64,
    submit_time: Duration,
    wait_time: Duration,
    completions: Vec<Completion>,
    /// Device reads: the engine's IO queue (io_service.rs).
    io: IoService,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

/// Open `path` for blocking reads; the errno on failure. O_NONBLOCK only
/// while opening: a FIFO must not wait for a writer, but reads block as usual.
fn open_for_read(path: &CStr) -> std::result::Result<RawFd, i32> {
    // SAFETY: path is a NUL-terminated string that outlives the call.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY | libc::O_NONBLOCK) };
    // SAFETY: fcntl on a descriptor we just opened (or -1, which fails cleanly).
    if fd < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, 0) } != 0 {
        let error = errno();
        if fd >= 0 {
            // SAFETY: fd was opened above and is not used after this.
            unsafe { libc::close(fd) };
        }
        return Err(error);
    }
    Ok(fd)
}

impl<'e> Pump<'e> {
    /// A pump over `engine`'s arena share `[arena_offset, arena_offset + arena_bytes)`.
    pub fn create(engine: &'e Engine, options: &PumpOptions) -> Result<Pump<'e>> {
        let share = share_of(engine.arena_len(), "the engine's", options)?;
        let pump = Pump::start(Consumer::Engine(engine), share, options.chunk_bytes, options)?;
        // Last, so that no error above leaves the engine marked.
        if !engine.attach_pump() {
            return Err(Error::invalid(
                "this engine already has a pump; create one pump per engine (a second would take the first \
                 one's completions for its own), or destroy the first pump before creating another",
            ));
        }
        Ok(pump)
    }

    /// The parts every consumer shares: sizes checked, io_uring set up.
    fn start(consumer: Consumer<'e>, share: (u64, u64), chunk_bytes: u64, options: &PumpOptions) -> Result<Pump<'e>> {
        let (offset, share) = share;
        let queue_depth = if options.queue_depth == 0 { DEFAULT_QUEUE_DEPTH } else { options.queue_depth };
        if queue_depth > VYRE_PUMP_MAX_QUEUE_DEPTH {
            return Err(Error::invalid(format!(
                "queue_depth is {queue_depth} but must be in 1..={VYRE_PUMP_MAX_QUEUE_DEPTH}; pass 0 for the default"
            )));
        }
        // The largest chunk: a stream whose matches are unbounded probes one
        // byte past a chunk to learn whether it fits.
        let max_chunk = share.saturating_sub(space::GRAIN).min(u64::from(u32::MAX) - 1);
        let chunk_bytes = match chunk_bytes {
            0 => (share / 4).clamp(MIN_CHUNK_BYTES, DEFAULT_CHUNK_BYTES).min(max_chunk),
            bytes => bytes,
        };
        if share < MIN_CHUNK_BYTES + space::GRAIN || !(MIN_CHUNK_BYTES..=max_chunk).contains(&chunk_bytes) {
            return Err(Error::invalid(format!(
                "chunk_bytes is {chunk_bytes} with an arena share of {share} bytes; chunk_bytes must be in \
                 {MIN_CHUNK_BYTES}..=share - {} (and below 4 GiB): pass 0 for the default or a larger share",
                space::GRAIN
            )));
        }
        // Submission entries for the reads and as many again for opens,
        // closes and cancels; four times as many completions, so that the
        // closes of requests ended between two reaps do not overflow them
        // (the kernel keeps an overflow aside until an enter gets events).
        let mut builder = IoUring::builder();
        builder.setup_cqsize(8 * queue_depth);
        if options.sqpoll {
            builder.setup_sqpoll(SQPOLL_IDLE_MS);
        }
        let ring = builder.build(2 * queue_depth).map_err(|e| {
            let (call, hint) = if options.sqpoll {
                (
                    "io_uring_setup with SQPOLL",
                    "this kernel or its policy refuses a submission thread (it needs Linux 5.11 or later for an \
                     unprivileged process); create the pump without VYRE_PUMP_FLAG_SQPOLL",
                )
            } else {
                (
                    "io_uring_setup",
                    "the pump needs io_uring (Linux 5.11 or later, not disabled by /proc/sys/kernel/io_uring_disabled \
                     or a seccomp filter)",
                )
            };
            Error::new(ErrorKind::Unsupported, format!("{call} failed: {e}; {hint}"))
        })?;
        if !ring.params().is_feature_ext_arg() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "this kernel's io_uring cannot wait with a timeout (IORING_FEAT_EXT_ARG, Linux 5.11); the pump \
                 needs a newer kernel",
            ));
        }
        let path = if options.path == IngestPath::Auto { IngestPath::Direct } else { options.path };
        let staged = match (path, &consumer) {
            // One buffer per read in flight, but no more than chunks fit the
            // share (the arena bounds what can be in flight anyway); + 1 byte:
            // an unbounded stream's probe.
            (IngestPath::Staged, Consumer::Engine(engine)) => {
                let count = u64::from(queue_depth).min(share.div_ceil(chunk_bytes)) as usize;
                Some(Staged::new(engine, &ring, count, chunk_bytes as usize + 1)?)
            }
            (IngestPath::Staged, Consumer::Megakernel(_)) => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "the staged path copies into an engine's arena; a pump feeding a bare megakernel reads \
                     straight into its observables: use VYRE_PUMP_PATH_DIRECT (or AUTO)",
                ))
            }
            _ => None,
        };
        Ok(Pump {
            consumer,
            ring,
            staged,
            path,
            queue_depth,
            chunk_bytes,
            share: (offset, share),
            space: Space::new(offset, share),
            requests: Slab::new(),
            opening: Slab::new(),
            parked: 0,
            chunks: Slab::new(),
            active: VecDeque::new(),
            unqueued: VecDeque::new(),
            host_results: VecDeque::new(),
            reads_in_flight: 0,
            caller_done: VecDeque::new(),
            caller_turn: false,
            caller_reads: options.sqpoll,
            caller_read_bytes: 0,
            round_caller_bytes: 0,
            closes_in_flight: 0,
            jobs_in_flight: 0,
            bytes_read: 0,
            unsubmitted: 0,
            submits: 0,
            submitted_bytes: 0,
            submit_time: Duration::ZERO,
            wait_time: Duration::ZERO,
            completions: Vec::new(),
            io: IoService::new(),
        })
    }

    pub fn info(&self) -> PumpInfo {
        PumpInfo {
            path: self.path,
            queue_depth: self.queue_depth,
            chunk_bytes: self.chunk_bytes,
            arena_offset: self.share.0,
            arena_bytes: self.share.1,
            requests: (self.requests.live + self.opening.live) as u64
                + self.host_results.iter().filter(|r| r.flags & VYRE_PUMP_RESULT_LAST != 0).count() as u64,
            reads_in_flight: self.reads_in_flight.into(),
            jobs_in_flight: self.jobs_in_flight.into(),
            bytes_read: self.bytes_read,
            submits: self.submits,
            submitted_bytes: self.submitted_bytes,
            submit_time: self.submit_time,
            wait_time: self.wait_time,
            sqpoll: self.ring.params().is_setup_sqpoll(),
            caller_read_bytes: self.caller_read_bytes,
        }
    }

    /// Scan `length` bytes (or `VYRE_PUMP_TO_EOF`) of `fd` from `offset`
    /// with rule set `rule_set_id`. The pump does not close `fd`, which must
    /// stay open until the request's last result. Errors of the file itself
    /// come back as results; `QueueFull` means drain, then retry.
    pub fn submit_fd(&mut self, fd: RawFd, offset: u64, length: u64, rule_set_id: u32, user_data: u64) -> Result<()> {
        if fd < 0 {
            return Err(Error::invalid(format!("fd is {fd}; pass an open file descriptor")));
        }
        // SAFETY: F_GETFL reads the descriptor's flags; a bad fd fails with
        // EBADF, which the request then reports as its result.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags >= 0 && flags & libc::O_NONBLOCK != 0 {
            // io_uring answers EAGAIN at once for such a descriptor with no
            // data, and retrying would spin a core until data comes.
            return Err(Error::invalid(format!(
                "fd {fd} is non-blocking (O_NONBLOCK); clear the flag (fcntl F_SETFL) or pass a blocking descriptor"
            )));
        }
        self.submit(fd, false, Ask { offset, length, rule_set_id, user_data }, WhenFull::Refuse)
    }

    /// As `submit_fd`, for a file the pump opens (and closes); a failed open
    /// is the request's result (`-ENOENT`, `-EACCES`, ...).
    pub fn submit_path(
        &mut self,
        path: &CStr,
        offset: u64,
        length: u64,
        rule_set_id: u32,
        user_data: u64,
    ) -> Result<()> {
        self.overlap_for(rule_set_id)?;
        let ask = Ask { offset, length, rule_set_id, user_data };
        if self.ring.params().is_setup_sqpoll() {
            return self.open_in_ring(path, ask);
        }
        let fd = match open_for_read(path) {
            Ok(fd) => fd,
            Err(errno) => {
                self.host_results.push_back(error_result(user_data, offset, -errno));
                return Ok(());
            }
        };
        let submitted = self.submit(fd, true, ask, WhenFull::Refuse);
        if submitted.is_err() {
            // SAFETY: the request was refused, so no one else holds fd.
            unsafe { libc::close(fd) };
        }
        submitted
    }

    fn submit(&mut self, fd: RawFd, owns_fd: bool, ask: Ask, when_full: WhenFull) -> Result<()> {
        let Ask { offset, length, rule_set_id, user_data } = ask;
        let overlap = self.overlap_for(rule_set_id)?;
        if let Some(e) = self.staged.as_ref().and_then(Staged::lost) {
            return Err(Error::new(
                e.kind,
                format!("every staging buffer was lost to failed copies ({}); destroy the pump", e.message),
            ));
        }
        let end = request_end(offset, length)?;
        // SAFETY: libc::stat is plain old data, for which all zeroes is a valid value.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: fstat writes one stat struct into `stat`; a bad fd fails with EBADF.
        if unsafe { libc::fstat(fd, &mut stat) } != 0 {
            return self.finish_early(fd, owns_fd, error_result(user_data, offset, -errno()));
        }
        let kind = stat.st_mode & libc::S_IFMT;
        if kind == libc::S_IFDIR {
            return self.finish_early(fd, owns_fd, error_result(user_data, offset, -libc::EISDIR));
        }
        let seekable = kind == libc::S_IFREG;
        if !seekable && offset != 0 {
            return Err(Error::invalid(format!(
                "offset is {offset} but fd {fd} is not a regular file (a pipe, FIFO, socket or device) and is read \
                 from where it stands; pass offset 0"
            )));
        }
        let end = if seekable { end.min(stat.st_size as u64) } else { end };
        if seekable && offset >= end {
            let empty =
                PumpResult { user_data, file_offset: offset, flags: VYRE_PUMP_RESULT_LAST, ..PumpResult::default() };
            return self.finish_early(fd, owns_fd, empty);
        }
        let bytes = end - offset;
        match overlap {
            None if seekable && bytes > self.chunk_bytes => {
                return Err(Error::out_of_range(format!(
                    "the request covers {bytes} bytes but its rule set has matches of unbounded length (like a.*b), \
                     so it cannot be split into chunks and must fit one chunk of {} bytes; create the pump with a \
                     larger chunk_bytes (and arena share) or use bounded patterns",
                    self.chunk_bytes
                )))
            }
            Some(Overlap { before, after })
                if self.chunk_bytes <= before + after && (!seekable || bytes > self.chunk_bytes) =>
            {
                return Err(Error::out_of_range(format!(
                    "the rule set's matches are up to {before} bytes long, so chunks overlap by {} bytes, more than \
                     a chunk of {} bytes holds; create the pump with a larger chunk_bytes",
                    before + after,
                    self.chunk_bytes
                )))
            }
            _ => {}
        }
        // The pump opens files without O_DIRECT; a caller's descriptor may have it.
        let caller_may_read = self.caller_reads && seekable && (owns_fd || !opened_for_direct_io(fd));
        let key = self.requests.insert(Request {
            user_data,
            fd,
            owns_fd,
            rule_set_id,
            overlap,
            seekable,
            caller_may_read,
            start: offset,
            end,
            next_owned: offset,
            reading_done: false,
            reading: false,
            carry: Vec::new(),
            chunks: 0,
            error: None,
            parked: false,
        });
        match self.start_chunk(key)? {
            Start::Started => {
                self.active.push_back(key);
                // The request is accepted and its read queued whatever this
                // returns: a submit that fails (EBUSY, EAGAIN, EINTR) leaves
                // the read in the submission queue for the next drain.
                let _ = self.submit_queued();
                Ok(())
            }
            Start::Blocked | Start::Idle if when_full == WhenFull::Wait => {
                // Its first chunk starts when a drain finds room.
                self.requests.get(key).expect("inserted above").parked = true;
                self.parked += 1;
                self.active.push_back(key);
                Ok(())
            }
            Start::Blocked | Start::Idle => {
                self.requests.remove(key);
                Err(Error::new(
                    ErrorKind::QueueFull,
                    format!(
                        "the pump is full ({} of {} reads in flight, {} of the {}-byte arena share free{}); call \
                         vyre_pump_drain, then retry",
                        self.reads_in_flight,
                        self.queue_depth,
                        self.space.free_bytes(),
                        self.share.1,
                        self.staged.as_ref().map_or(String::new(), |s| {
                            let (busy, count) = s.busy();
                            format!(", {busy} of {count} staging buffers busy")
                        })
                    ),
                ))
            }
        }
    }

    /// End a request at submit with `result` (no read needed).
    fn finish_early(&mut self, fd: RawFd, owns_fd: bool, result: PumpResult) -> Result<()> {
        if owns_fd {
            // SAFETY: the pump opened fd for this request, which ends here.
            unsafe { libc::close(fd) };
        }
        self.host_results.push_back(result);
        Ok(())
    }

    /// Reserve arena space for the request's next chunk and start its read.
    fn start_chunk(&mut self, key: Key) -> Result<Start> {
        if self.reads_in_flight >= self.queue_depth {
            return Ok(Start::Blocked);
        }
        let chunk_bytes = self.chunk_bytes;
        let Some(request) = self.requests.get(key) else { return Ok(Start::Idle) };
        if request.reading_done || request.reading {
            return Ok(Start::Idle);
        }
        let owned = request.next_owned;
        // A later chunk starts early enough to hold the longest match
        // ending just after `owned`, and the byte before that match.
        let file_pos = match request.overlap {
            Some(o) if owned > request.start => owned.saturating_sub(o.before).max(request.start),
            _ => owned,
        };
        let probe = u64::from(!request.seekable && request.overlap.is_none());
        let want = (chunk_bytes + probe).min(request.end - file_pos);
        let Some(at) = self.space.take(want) else { return Ok(Start::Blocked) };
        let staging = match self.staged.as_mut().map(Staged::take) {
            Some(None) => {
                self.space.give(at, want);
                // Every buffer abandoned after failed copies: none comes back.
                if let Some(e) = self.staged.as_ref().and_then(Staged::lost) {
                    let request = self.requests.get(key).expect("looked up above");
                    request.error.get_or_insert((e.kind.code(), file_pos));
                    request.reading_done = true;
                    self.finish_if_done(key);
                    return Ok(Start::Idle);
                }
                return Ok(Start::Blocked);
            }
            taken => taken.flatten(),
        };
        let landing = self.landing(at, staging);
        let request = self.requests.get(key).expect("looked up above");
        let have = request.carry.len() as u64;
        // SAFETY: the landing place (arena reservation [at, at + want) or
        // staging buffer of at least chunk_bytes + 1 >= want bytes) was just
        // taken for this chunk (carry holds at most L + 1 < want bytes), so
        // nothing else reads or writes it; the source is a host Vec.
        unsafe { std::ptr::copy_nonoverlapping(request.carry.as_ptr(), landing, request.carry.len()) };
        // An unbounded request's stream keeps its probe byte out of the chunk.
        let after = request.overlap.map_or(1, |o| o.after);
        let own_to = if file_pos + want == request.end { request.end } else { file_pos + want - after };
        let chunk = Chunk {
            request: key,
            state: ChunkState::Reading,
            at,
            reserved: want,
            staging,
            file_pos,
            want,
            have,
            own_from: owned,
            own_to,
        };
        let chunk_key = self.chunks.insert(chunk);
        if !self.push_read(chunk_key) {
            self.chunks.remove(chunk_key);
            self.space.give(at, want);
            if let (Some(staged), Some(index)) = (self.staged.as_mut(), staging) {
                staged.give(index);
            }
            return Ok(Start::Blocked);
        }
        let request = self.requests.get(key).expect("looked up above");
        request.chunks += 1;
        if std::mem::take(&mut request.parked) {
            self.parked -= 1;
        }
        request.carry.clear();
        if request.seekable {
            request.next_owned = own_to;
            request.reading_done = own_to == request.end;
        } else {
            request.reading = true;
        }
        Ok(Start::Started)
    }

    /// Where a chunk's bytes land: its staging buffer, else its arena reservation at `at`.
    fn landing(&self, at: u64, staging: Option<u32>) -> *mut u8 {
        match (&self.staged, staging) {
            (Some(staged), Some(index)) => staged.buffer(index),
            // SAFETY: `at` is the start of a reservation inside the arena.
            _ => unsafe { self.consumer.arena_ptr().add(at as usize) },
        }
    }

    /// Queue the read of a chunk's missing bytes; false if the ring is full.
    fn push_read(&mut self, key: Key) -> bool {
        let chunk = self.chunks.get(key).expect("a live chunk");
        let (at, have, want, file_pos, request) = (chunk.at, chunk.have, chunk.want, chunk.file_pos, chunk.request);
        let staging = chunk.staging;
        let request = self.requests.get(request).expect("a chunk's request lives");
        // -1: the file's current position. Pipes and sockets ignore offsets,
        // but a block device or character device would otherwise be read
        // from 0 again at every read.
        let offset = if request.seekable { file_pos + have } else { u64::MAX };
        let (fd, caller_may_read) = (types::Fd(request.fd), request.caller_may_read);
        // SAFETY: have < want, and the landing place holds want bytes.
        let buf = unsafe { self.landing(at, staging).add(have as usize) };
        let len = (want - have) as u32;
        if staging.is_none() && caller_may_read && self.caller_reads && len >= CALLER_READ_MIN {
            self.caller_turn = !self.caller_turn;
            if !self.caller_turn {
                if let Some(result) = self.read_here(fd.0, buf, len, offset) {
                    self.caller_done.push_back((key, result));
                    self.reads_in_flight += 1;
                    return true;
                }
            }
        }
        let entry = match staging {
            // The staging buffers are registered with the ring in their order.
            Some(index) => opcode::ReadFixed::new(fd, buf, len, index as u16).offset(offset).build(),
            None => opcode::Read::new(fd, buf, len).offset(offset).build(),
        }
        .user_data(key.tag());
        if !self.push(&entry, len) {
            return false;
        }
        self.reads_in_flight += 1;
        true
    }

    /// A read done on the caller's thread, of cached pages only
    /// (RWF_NOWAIT): its byte count (0 at the end of the file), or `None`
    /// for the ring to do it (pages not cached, or any error, which the
    /// ring's read then reports as usual).
    fn read_here(&mut self, fd: RawFd, buf: *mut u8, len: u32, offset: u64) -> Option<i32> {
        // Wake the kernel thread if it sleeps, so that it copies the reads
        // queued before this one meanwhile (not `submit_queued`: the round
        // goes on, within its budget).
        if !self.ring.submission().is_empty() {
            let _ = self.ring.submit();
        }
        let iov = libc::iovec { iov_base: buf.cast(), iov_len: len as usize };
        // SAFETY: `buf` holds `len` bytes of the chunk's landing place, which
        // the chunk owns until its read is taken by `reap`; `iov` lives
        // across the call.
        let got = unsafe { libc::preadv2(fd, &iov, 1, offset as libc::off_t, libc::RWF_NOWAIT) };
        if got >= 0 {
            self.caller_read_bytes += got as u64;
            self.round_caller_bytes += got as u64;
            return Some(got as i32);
        }
        if matches!(errno(), libc::EOPNOTSUPP | libc::ENOSYS) {
            // No RWF_NOWAIT here (a kernel before 4.14 or a file system
            // without it): the ring reads everything from now on.
            self.caller_reads = false;
        }
        None
    }

    /// Queue an entry (a read of `bytes`), submitting what is queued first
    /// if the ring is full.
    fn push(&mut self, entry: &squeue::Entry, bytes: u32) -> bool {
        for attempt in 0..2 {
            // SAFETY: a read's buffer is a reservation of the arena or a
            // staging buffer, held by its chunk until the read's completion
            // is reaped (destroy waits for that too); the engine and the
            // staging memory outlive the ring. An open's path is its
            // Opening's string, held in `opening` likewise. Cancel and close
            // entries hold no memory.
            if unsafe { self.ring.submission().push(entry) }.is_ok() {
                self.unsubmitted += u64::from(bytes);
                return true;
            }
            // The queue is full: submit it to make room. If that fails too
            // (EBUSY, EAGAIN, EINTR), the entry is not queued and the caller
            // treats the ring as full, rather than leaving state half built.
            if attempt == 0 && (self.submit_queued().is_err() || !self.wait_for_room()) {
                break;
            }
        }
        false
    }

    /// `submit_path` on a SQPOLL pump: the open goes through the ring too,
    /// so the kernel thread opens the file and the caller's thread only
    /// takes the result (`opened`). Blocking, unlike `open_for_read`: a FIFO
    /// without a writer waits for one in the kernel (destroy cancels it).
    fn open_in_ring(&mut self, path: &CStr, ask: Ask) -> Result<()> {
        request_end(ask.offset, ask.length)?;
        // As many files waiting to be read as a pump without SQPOLL would
        // accept: one whose open completed without room for its first chunk
        // still holds its descriptor (found in review: 313 files open at
        // once with queue_depth 16, EMFILE under a low RLIMIT_NOFILE).
        let waiting = self.reads_in_flight as usize + self.opening.live + self.parked as usize;
        if waiting >= self.queue_depth as usize {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!(
                    "the pump is full ({} reads, {} opens and {} opened files waiting for room, queue_depth {}); \
                     call vyre_pump_drain, then retry",
                    self.reads_in_flight, self.opening.live, self.parked, self.queue_depth
                ),
            ));
        }
        let path = path.to_owned();
        // The string's bytes stay where they are when the slab moves it.
        let name = path.as_ptr();
        let key = self.opening.insert(Opening { _path: path, ask });
        let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOCTTY;
        let open =
            opcode::OpenAt::new(types::Fd(libc::AT_FDCWD), name).flags(flags).build().user_data(OPEN_TAG | key.tag());
        if !self.push(&open, 0) {
            self.opening.remove(key);
            return Err(Error::new(
                ErrorKind::QueueFull,
                "the pump's submission queue is full; call vyre_pump_drain, then retry",
            ));
        }
        let _ = self.submit_queued();
        Ok(())
    }

    /// An open sent by `open_in_ring` completed: start its request, or end
    /// it with the error (the open's errno, or what `submit` refused).
    fn opened(&mut self, key: Key, result: i32) {
        let Some(Opening { ask, .. }) = self.opening.remove(key) else { return };
        if result < 0 {
            self.host_results.push_back(error_result(ask.user_data, ask.offset, result));
            return;
        }
        if let Err(e) = self.submit(result, true, ask, WhenFull::Wait) {
            // SAFETY: the kernel opened this fd for the request, which ends here.
            unsafe { libc::close(result) };
            self.host_results.push_back(error_result(ask.user_data, ask.offset, e.kind.code()));
        }
    }

    /// Close `fd`, which the pump opened and nothing reads any more, with an
    /// io_uring CLOSE sent with the next submit: with a SQPOLL ring the
    /// kernel thread closes it, off the caller's core. Closed at once if the
    /// ring has no room.
    fn close_in_ring(&mut self, fd: RawFd) {
        let close = opcode::Close::new(types::Fd(fd)).build().user_data(CLOSE_TAG);
        // Closes never take the half of the queue that reads may need.
        let room = self.ring.submission().len() < self.queue_depth as usize;
        if room && self.push(&close, 0) {
            self.closes_in_flight += 1;
        } else {
            // SAFETY: the pump opened fd for a request that has ended; no read uses it.
            unsafe { libc::close(fd) };
        }
    }

    /// After a submit of a full queue: on a SQPOLL ring that only woke the
    /// kernel thread, so wait until it has taken entries (IORING_ENTER_SQ_WAIT,
    /// Linux 5.13; before that, by yielding, for at most `SQ_ROOM_PATIENCE`).
    /// False if the queue is still full.
    fn wait_for_room(&mut self) -> bool {
        if !self.ring.params().is_setup_sqpoll() {
            return true;
        }
        if self.ring.submitter().squeue_wait().is_err() {
            let deadline = Instant::now() + SQ_ROOM_PATIENCE;
            while self.ring.submission().is_full() && Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
        !self.ring.submission().is_full()
    }

    /// Submit the queued entries, counting the call and its time when it
    /// sends reads.
    fn submit_queued(&mut self) -> std::io::Result<usize> {
        // A new round: `advance` reaps what this one read before starting more.
        self.round_caller_bytes = 0;
        if self.ring.submission().is_empty() {
            // Still entered: the call also runs the ring's pending task work.
            return self.ring.submit();
        }
        let start = Instant::now();
        let submitted = self.ring.submit();
        self.submit_time += start.elapsed();
        if submitted.is_ok() {
            self.submits += 1;
            self.submitted_bytes += std::mem::take(&mut self.unsubmitted);
        }
        submitted
    }

    /// Return results: chunk scans and request errors, and the completions
    /// of jobs enqueued directly on the engine. Waits up to `timeout` for at
    /// least one while the pump has requests in flight; with none, returns
    /// at once (possibly with nothing).
    pub fn drain(&mut self, results: &mut [PumpResult], hits: &mut [Hit], timeout: Duration) -> Result<(usize, usize)> {
        let start = Instant::now();
        loop {
            self.advance()?;
            let got = self.collect(results, hits)?;
            if got.0 > 0 || results.is_empty() || self.requests.live + self.opening.live == 0 {
                // The requests that just ended queued their files' closes:
                // send them now, not whenever the caller drains again.
                if !self.ring.submission().is_empty() {
                    let _ = self.submit_queued();
                }
                return Ok(got);
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    "no result before the timeout; the requests are still in flight",
                ));
            }
            let copies = self.staged.as_ref().map_or(0, Staged::copies_in_flight);
            let only_reads = self.jobs_in_flight == 0
                && self.unqueued.is_empty()
                && copies == 0
                && (self.reads_in_flight > 0 || self.opening.live > 0);
            if only_reads {
                self.wait_for_reads((timeout - elapsed).min(READ_WAIT_SLICE))?;
            } else if elapsed >= SPIN_BEFORE_SLEEP {
                // Scan jobs are in flight: sleep briefly, in the ring if reads are too.
                self.wait_for_reads(Duration::from_micros(50))?;
            }
        }
    }

    /// Submit what is queued and wait in the ring for a completion, at most `limit`.
    fn enter_and_wait(&self, limit: Duration) -> std::io::Result<usize> {
        let ts = types::Timespec::from(limit);
        self.ring.submitter().submit_with_args(1, &types::SubmitArgs::new().timespec(&ts))
    }

    /// Sleep until a read completes or `limit` passes.
    fn wait_for_reads(&mut self, limit: Duration) -> Result<()> {
        let start = Instant::now();
        if self.reads_in_flight == 0 && self.opening.live == 0 {
            std::thread::sleep(limit);
            self.wait_time += start.elapsed();
            return Ok(());
        }
        let waited = self.enter_and_wait(limit);
        self.wait_time += start.elapsed();
        match waited {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)) => Ok(()),
            Err(e) => Err(Error::new(ErrorKind::Internal, format!("io_uring wait: {e}"))),
        }
    }

    /// Reap reads, enqueue finished chunks, start new ones, submit; again
    /// while the submit budget (`SUBMIT_BYTES`) is what stopped the starts,
    /// so that chunks read inside one submit are scanning while the next
    /// ones are read.
    fn advance(&mut self) -> Result<()> {
        self.reap()?;
        self.service_io();
        loop {
            self.settle();
            let more = self.start_chunks()?;
            self.submit_queued().map_err(|e| Error::new(ErrorKind::Internal, format!("io_uring submit: {e}")))?;
            // A consumer whose queue is full frees room only when `collect`
            // polls it: go back to the caller rather than read on.
            if !more || !self.unqueued.is_empty() {
                // Reads done here are over: their chunks go to the engine
                // now, not after the next wait.
                return self.take_caller_reads();
            }
            self.reap()?;
        }
    }

    /// Take the reads the caller's thread did (`read_here`) as completions.
    fn take_caller_reads(&mut self) -> Result<()> {
        // A short one's re-read may be done here again: taken in this loop.
        while let Some((key, result)) = self.caller_done.pop_front() {
            self.read_done(key, result)?;
        }
        Ok(())
    }

    /// Take the ring's completions, and the caller's own reads: reads done,
    /// more to read, or failed.
    fn reap(&mut self) -> Result<()> {
        self.take_caller_reads()?;
        let reaped: Vec<(u64, i32)> = self.ring.completion().map(|cqe| (cqe.user_data(), cqe.result())).collect();
        for (tag, result) in reaped {
            if tag == CANCEL_TAG {
                continue;
            }
            if tag == CLOSE_TAG {
                self.closes_in_flight -= 1;
                continue;
            }
            if tag & DEVICE_READ_TAG != 0 {
                self.device_read_done(tag, result);
            } else if tag & OPEN_TAG != 0 {
                self.opened(Key::from_tag(tag & !OPEN_TAG), result);
            } else {
                self.read_done(Key::from_tag(tag), result)?;
            }
        }
        Ok(())
    }

    /// Enqueue the chunks whose bytes are all in the arena: finished copies
    /// (staged path), then those the engine's full queue refused before.
    fn settle(&mut self) {
        let copied = self.staged.as_mut().map(Staged::finished).unwrap_or_default();
        for (key, outcome) in copied {
            // The buffer went back to the free list, or is abandoned with a failed copy.
            let chunk = self.chunks.get(key).expect("a copying chunk lives");
            chunk.staging = None;
            match outcome {
                Ok(()) => self.ready(key),
                Err(e) => {
                    let own_from = chunk.own_from;
                    self.fail_chunk(key, e.kind.code(), own_from);
                }
            }
        }
        while let Some(&key) = self.unqueued.front() {
            if !self.enqueue(key) {
                break;
            }
            self.unqueued.pop_front();
        }
    }

    /// Start the active requests' chunks in turn until the share, the ring
    /// or the submit budget stops them. True when the budget stopped chunks
    /// started here: more may start after a submit. (Re-reads queued while
    /// reaping count against the budget but never ask for another round, so
    /// a read that keeps answering EAGAIN cannot keep `advance` from
    /// returning.)
    fn start_chunks(&mut self) -> Result<bool> {
        let mut started = false;
        for _ in 0..self.active.len() {
            let key = self.active.pop_front().expect("counted");
            let blocked = loop {
                if self.unsubmitted + self.round_caller_bytes >= SUBMIT_BYTES {
                    // This request goes on first after the submit, as it would have.
                    self.active.push_front(key);
                    return Ok(started);
                }
                match self.start_chunk(key)? {
                    Start::Started => started = true,
                    Start::Blocked => break true,
                    Start::Idle => break false,
                }
            };
            if self.requests.get(key).is_some_and(|r| !r.reading_done) {
                self.active.push_back(key);
            }
            if blocked {
                break;
            }
        }
        Ok(false)
    }

    /// One read's completion: more to read, the end of the file, an error,
    /// or a full chunk.
    fn read_done(&mut self, key: Key, result: i32) -> Result<()> {
        let Some(chunk) = self.chunks.get(key) else { return Ok(()) };
        self.reads_in_flight -= 1;
        if result == -libc::EINTR || result == -libc::EAGAIN {
            return self.reread(key);
        }
        if result < 0 {
            let offset = chunk.file_pos + chunk.have;
            self.fail_chunk(key, result, offset);
            return Ok(());
        }
        chunk.have += result as u64;
        self.bytes_read += result as u64;
        let (have, want) = (chunk.have, chunk.want);
        if result > 0 && have < want {
            return self.reread(key);
        }
        self.chunk_read(key, have < want)
    }

    /// Read the rest of a chunk (a short read); fails the chunk if the ring is full.
    fn reread(&mut self, key: Key) -> Result<()> {
        if !self.push_read(key) {
            let chunk = self.chunks.get(key).expect("a live chunk");
            let offset = chunk.file_pos + chunk.have;
            self.fail_chunk(key, ErrorKind::QueueFull.code(), offset);
        }
        Ok(())
    }

    /// A chunk has all its bytes, or met the end of the file: settle what it
    /// owns, start the next stream chunk's overlap, enqueue its scan.
    fn chunk_read(&mut self, key: Key, eof: bool) -> Result<()> {
        let chunk = self.chunks.get(key).expect("a live chunk");
        let (at, staging) = (chunk.at, chunk.staging);
        let landing = self.landing(at, staging);
        let chunk = self.chunks.get(key).expect("a live chunk");
        let (file_pos, have) = (chunk.file_pos, chunk.have);
        let request = self.requests.get(chunk.request).expect("a chunk's request lives");
        let end_of_data = file_pos + have;
        if eof {
            if request.seekable && request.error.is_none() {
                // The size at submit promised more: the file shrank while read.
                request.error = Some((-libc::ENODATA, end_of_data));
            }
            request.reading_done = true;
            request.reading = false;
            chunk.own_to = chunk.own_to.min(end_of_data).max(chunk.own_from);
            self.space.shrink(at, chunk.reserved, have);
            chunk.reserved = have;
        } else if !request.seekable {
            request.reading = false;
            if end_of_data == request.end {
                chunk.own_to = request.end;
                request.reading_done = true;
            } else if let Some(o) = request.overlap {
                // Keep the look-ahead bytes after the owned ends (what `$`
                // and `\b` look at); the next chunk begins with the overlap.
                chunk.own_to = end_of_data - o.after;
                request.next_owned = chunk.own_to;
                let from = chunk.own_to.saturating_sub(o.before).max(request.start);
                let len = (end_of_data - from) as usize;
                request.carry.resize(len, 0);
                // SAFETY: [from - file_pos, + len) lies in the chunk's landing
                // place, whose read has completed; no one writes it now.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        landing.add((from - file_pos) as usize),
                        request.carry.as_mut_ptr(),
                        len,
                    )
                };
            } else {
                let start = request.start;
                let status = ErrorKind::OutOfRange.code();
                self.fail_chunk(key, status, start);
                return Ok(());
            }
        }
        match (self.staged.as_mut(), staging) {
            (Some(staged), Some(index)) if have > 0 => {
                self.chunks.get(key).expect("a live chunk").state = ChunkState::Copying;
                if let Err(e) = staged.copy(key, index, at, have) {
                    // Not started: fail_chunk gives the buffer back.
                    self.fail_chunk(key, e.kind.code(), file_pos);
                }
            }
            (Some(staged), Some(index)) => {
                // Nothing to copy (the file ended where the chunk starts).
                staged.give(index);
                self.chunks.get(key).expect("a live chunk").staging = None;
                self.ready(key);
            }
            _ => self.ready(key),
        }
        Ok(())
    }

    /// A chunk's bytes are all in the arena: enqueue its scan job, or queue
    /// it for a later try if the engine's queue is full.
    fn ready(&mut self, key: Key) {
        self.chunks.get(key).expect("a live chunk").state = ChunkState::Unqueued;
        if !self.enqueue(key) {
            self.unqueued.push_back(key);
        }
    }

    /// Hand a read chunk to the consumer; false if its queue is full.
    fn enqueue(&mut self, key: Key) -> bool {
        let engine = match &self.consumer {
            Consumer::Engine(engine) => *engine,
            Consumer::Megakernel(_) => return self.publish_slot(key),
        };
        let chunk = self.chunks.get(key).expect("a live chunk");
        let (at, have, file_pos, request) = (chunk.at, chunk.have, chunk.file_pos, chunk.request);
        // The chunk reports the matches ending in its own bytes, (own_from,
        // own_to]; the overlap around them is context. (A file that ended
        // inside the overlap leaves no own bytes: all context.)
        let own_from = (chunk.own_from - file_pos).min(have);
        let own_to = (chunk.own_to - file_pos).clamp(own_from, have);
        let rule_set_id = self.requests.get(request).expect("a chunk's request lives").rule_set_id;
        let item = WorkItem {
            input_offset: at,
            input_len: have,
            rule_set_id,
            flags: 0,
            user_data: VYRE_PUMP_JOB_TAG | key.tag(),
            context_before: own_from as u32,
            context_after: (have - own_to) as u32,
        };
        let taken = engine.enqueue(&item);
        self.handed_over(key, taken, file_pos)
    }

    /// Settle a chunk its consumer was asked to take (a job enqueued, a
    /// slot published): false if the consumer's queue was full; any other
    /// refusal ends the request.
    fn handed_over(&mut self, key: Key, taken: Result<()>, file_pos: u64) -> bool {
        match taken {
            Ok(()) => {
                self.chunks.get(key).expect("a live chunk").state = ChunkState::Scanning;
                self.jobs_in_flight += 1;
                true
            }
            Err(e) if e.kind == ErrorKind::QueueFull => false,
            Err(e) => {
                self.fail_chunk(key, e.kind.code(), file_pos);
                true
            }
        }
    }

    /// Drop a chunk that failed; its request ends with the first error.
    fn fail_chunk(&mut self, key: Key, status: i32, offset: u64) {
        let chunk = self.chunks.remove(key).expect("a live chunk");
        self.space.give(chunk.at, chunk.reserved);
        if let (Some(staged), Some(index)) = (self.staged.as_mut(), chunk.staging) {
            staged.give(index);
        }
        let request = self.requests.get(chunk.request).expect("a chunk's request lives");
        request.error.get_or_insert((status, offset));
        request.reading_done = true;
        request.reading = false;
        request.chunks -= 1;
        self.finish_if_done(chunk.request);
    }

    /// End a request whose chunks are all back. Returns true when the
    /// caller's result is the last (no error result follows).
    fn finish_if_done(&mut self, key: Key) -> bool {
        let request = self.requests.get(key).expect("a live request");
        if !request.reading_done || request.chunks > 0 {
            return false;
        }
        let request = self.requests.remove(key).expect("a live request");
        self.parked -= u32::from(request.parked);
        if request.owns_fd {
            self.close_in_ring(request.fd);
        }
        match request.error {
            Some((status, offset)) => {
                self.host_results.push_back(error_result(request.user_data, offset, status));
                false
            }
            None => true,
        }
    }

    /// Fill `results`: host results first, then the engine's completions.
    fn collect(&mut self, results: &mut [PumpResult], hits: &mut [Hit]) -> Result<(usize, usize)> {
        let mut count = 0;
        while count < results.len() {
            let Some(result) = self.host_results.pop_front() else { break };
            results[count] = result;
            count += 1;
        }
        let engine = match &self.consumer {
            Consumer::Engine(engine) => *engine,
            // Results already taken from host_results must reach the caller
            // even when the megakernel fails now.
            Consumer::Megakernel(_) => {
                return match self.collect_slots(&mut results[count..]) {
                    Ok(n) => Ok((count + n, 0)),
                    Err(_) if count > 0 => Ok((count, 0)),
                    Err(e) => Err(e),
                }
            }
        };
        // No more completions can be ready than jobs in flight: a caller's
        // huge capacity must not become a huge allocation.
        let room = (results.len() - count).min(engine.queue_depth() as usize);
        if room == 0 {
            return Ok((count, 0));
        }
        let mut completions = std::mem::take(&mut self.completions);
        completions.resize(room, Completion::default());
        let polled = engine.poll(&mut completions, hits);
        let (done, _) = match polled {
            Ok(got) => got,
            Err(_) if count > 0 => (0, 0),
            Err(e) => {
                self.completions = completions;
                return Err(e);
            }
        };
        let mut kept = 0;
        for completion in &completions[..done] {
            if let Some(result) = self.translate(completion, hits, &mut kept) {
                results[count] = result;
                count += 1;
            }
        }
        self.completions = completions;
        Ok((count, kept))
    }

    /// One engine completion as a result; its hits move down to `*kept`.
    /// None for a pump job that failed: its request then ends with that
    /// error as its last result, queued in `host_results`.
    fn translate(&mut self, completion: &Completion, hits: &mut [Hit], kept: &mut usize) -> Option<PumpResult> {
        let first = completion.first_hit as usize;
        let mine = (completion.user_data & VYRE_PUMP_JOB_TAG != 0)
            .then(|| Key::from_tag(completion.user_data & !VYRE_PUMP_JOB_TAG))
            .filter(|&key| self.chunks.get(key).is_some_and(|c| c.state == ChunkState::Scanning));
        let Some(key) = mine else {
            let first_kept = *kept;
            hits.copy_within(first..first + completion.hits_stored as usize, first_kept);
            *kept += completion.hits_stored as usize;
            return Some(PumpResult {
                user_data: completion.user_data,
                hit_count: completion.hit_count,
                first_hit: first_kept as u64,
                hits_stored: completion.hits_stored,
                status: completion.status,
                flags: VYRE_PUMP_RESULT_DIRECT,
                ..PumpResult::default()
            });
        };
        self.jobs_in_flight -= 1;
        if completion.status != 0 && completion.status != ErrorKind::HitsTruncated.code() {
            // DEVICE_LOST, PROTOCOL, ...: the request fails here; the
            // chunk's hits, incomplete, are dropped.
            let own_from = self.chunks.get(key).expect("checked above").own_from;
            self.fail_chunk(key, completion.status, own_from);
            return None;
        }
        let (chunk, user_data) = self.retire(key);
        let first_kept = *kept;
        // The engine reported only the chunk's own matches (its job's
        // context is the overlap): file offsets in (own_from, own_to].
        for index in first..first + completion.hits_stored as usize {
            let end_offset = chunk.file_pos + hits[index].end_offset;
            hits[*kept] = Hit { user_data, end_offset, pattern_id: hits[index].pattern_id, reserved: 0 };
            *kept += 1;
        }
        let last = self.finish_if_done(chunk.request);
        Some(PumpResult {
            user_data,
            file_offset: chunk.own_from,
            length: chunk.own_to - chunk.own_from,
            hit_count: completion.hit_count,
            first_hit: first_kept as u64,
            hits_stored: completion.hits_stored,
            status: completion.status,
            flags: if last { VYRE_PUMP_RESULT_LAST } else { 0 },
            fault_reason: 0,
        })
    }

    /// A chunk its consumer is done with: its share freed, counted off its
    /// request. Returns it and the request's `user_data`.
    fn retire(&mut self, key: Key) -> (Chunk, u64) {
        let chunk = self.chunks.remove(key).expect("a live chunk");
        self.space.give(chunk.at, chunk.reserved);
        let request = self.requests.get(chunk.request).expect("a chunk's request lives");
        request.chunks -= 1;
        (chunk, request.user_data)
    }

    /// The overlap of `rule_set_id`'s chunks, or why it cannot be used.
    fn overlap_for(&self, rule_set_id: u32) -> Result<Option<Overlap>> {
        match &self.consumer {
            Consumer::Engine(engine) => {
                Ok(engine.max_match_len(rule_set_id)?.map(|l| Overlap { before: u64::from(l), after: 1 }))
            }
            Consumer::Megakernel(feed) => feed.template(rule_set_id).map(|_| Some(Overlap { before: 0, after: 0 })),
        }
    }
}

/// Whether `fd` was opened with O_DIRECT (false if that cannot be told).
fn opened_for_direct_io(fd: RawFd) -> bool {
    // SAFETY: F_GETFL only reads the descriptor's status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags != -1 && flags & libc::O_DIRECT != 0
}

/// The exclusive end of a request of `length` bytes (or `VYRE_PUMP_TO_EOF`)
/// from `offset`.
fn request_end(offset: u64, length: u64) -> Result<u64> {
    if length == VYRE_PUMP_TO_EOF {
        return Ok(u64::MAX);
    }
    offset.checked_add(length).ok_or_else(|| {
        Error::invalid(format!("offset {offset} + length {length} overflows; use VYRE_PUMP_TO_EOF for \"to the end\""))
    })
}

/// The share `[arena_offset, arena_offset + arena_bytes)` of an arena of
/// `arena` bytes (`whose`: "the engine's", ...), checked.
fn share_of(arena: u64, whose: &str, options: &PumpOptions) -> Result<(u64, u64)> {
    let offset = options.arena_offset;
    if offset >= arena {
        return Err(Error::out_of_range(format!(
            "arena_offset {offset} is not inside {whose} {arena}-byte arena; pass an offset below {arena}"
        )));
    }
    let share = if options.arena_bytes == 0 { arena - offset } else { options.arena_bytes };
    if share > arena - offset {
        return Err(Error::out_of_range(format!(
            "the share [{offset}, {offset} + {share}) passes the end of {whose} {arena}-byte arena; \
             lower arena_bytes (0 = to the end)"
        )));
    }
    Ok((offset, share))
}

fn error_result(user_data: u64, file_offset: u64, status: i32) -> PumpResult {
    PumpResult { user_data, file_offset, status, flags: VYRE_PUMP_RESULT_LAST, ..PumpResult::default() }
}

impl Drop for Pump<'_> {
    /// Cancel the reads in flight and wait for every one to end: the kernel
    /// writes into the arena until it does, so returning earlier could let
    /// it write into memory the engine frees (cancelled reads of pipes,
    /// sockets and files end at once; only storage that never answers, whose
    /// read the kernel cannot cancel, keeps destroy waiting). Then wait for
    /// the pump's scan jobs (bounded: the share is free for reuse when
    /// destroy returns) and close the files the pump opened.
    fn drop(&mut self) {
        // Reads the caller's thread did are over (left here by a submit
        // call that did one, or by an error): nothing to wait for.
        let done_here: Vec<Key> = self.caller_done.drain(..).map(|(key, _)| key).collect();
        let mut reading: Vec<u64> = self
            .chunks
            .keys_where(|c| c.state == ChunkState::Reading)
            .into_iter()
            .filter(|key| !done_here.contains(key))
            .map(Key::tag)
            .collect();
        reading.extend(self.io.tags_in_flight());
        // Opens too: a FIFO's waits for a writer; one that completes hands
        // over a descriptor to close.
        reading.extend(self.opening.keys_where(|_| true).into_iter().map(|key| OPEN_TAG | key.tag()));
        let mut pending = reading.len();
        let mut to_cancel = reading.clone();
        while pending > 0 {
            // A cancel that finds no room in the ring is sent on a later turn.
            to_cancel.retain(|&tag| !self.push(&opcode::AsyncCancel::new(tag).build().user_data(CANCEL_TAG), 0));
            let _ = self.wait_for_reads(Duration::from_millis(100));
            let reaped: Vec<(u64, i32)> = self.ring.completion().map(|cqe| (cqe.user_data(), cqe.result())).collect();
            for &(tag, result) in &reaped {
                if tag == CLOSE_TAG {
                    self.closes_in_flight -= 1;
                } else if tag != CANCEL_TAG && reading.contains(&tag) {
                    pending -= 1;
                    if tag & OPEN_TAG != 0 && tag & DEVICE_READ_TAG == 0 && result >= 0 {
                        // SAFETY: the open completed for a request that will never start.
                        unsafe { libc::close(result) };
                    }
                }
            }
            self.reads_in_flight = pending as u32;
        }
        // Copies write into the share, which is free once destroy returns.
        if let Some(staged) = self.staged.as_mut() {
            staged.wait_all(DESTROY_PATIENCE);
            staged.unregister(&self.ring);
        }
        self.close_io();
        let deadline = Instant::now() + DESTROY_PATIENCE;
        let engine = match &self.consumer {
            Consumer::Engine(engine) => *engine,
            Consumer::Megakernel(feed) => {
                feed.wait_published(deadline);
                self.close_files();
                self.finish_closes();
                return;
            }
        };
        let mut hits = vec![Hit::default(); engine.info().max_hits_per_job as usize];
        let mut completions = vec![Completion::default(); 64];
        while self.jobs_in_flight > 0 && Instant::now() < deadline {
            match engine.wait(&mut completions, &mut hits, Duration::from_millis(100)) {
                Ok((done, _)) => {
                    let mine = completions[..done]
                        .iter()
                        .filter(|c| c.user_data & VYRE_PUMP_JOB_TAG != 0)
                        .filter(|c| self.chunks.remove(Key::from_tag(c.user_data & !VYRE_PUMP_JOB_TAG)).is_some())
                        .count();
                    self.jobs_in_flight -= mine as u32;
                }
                Err(e) if e.kind == ErrorKind::Timeout => {}
                Err(_) => break,
            }
        }
        self.close_files();
        self.finish_closes();
        engine.detach_pump();
    }
}

impl Pump<'_> {
    /// Send the closes still queued and wait for them (destroy): a close
    /// left in the ring when it goes would leave its file open.
    fn finish_closes(&mut self) {
        let deadline = Instant::now() + CLOSE_PATIENCE;
        let _ = self.submit_queued();
        loop {
            let reaped = self.ring.completion().filter(|cqe| cqe.user_data() == CLOSE_TAG).count();
            self.closes_in_flight -= reaped as u32;
            if self.closes_in_flight == 0 || Instant::now() >= deadline {
                return;
            }
            // An enter that gets events: it also moves completions the
            // kernel kept aside while the completion queue was full.
            let _ = self.enter_and_wait(Duration::from_millis(10));
        }
    }

    /// Close the files the pump opened (destroy, once nothing reads them).
    fn close_files(&mut self) {
        for key in self.requests.keys_where(|_| true) {
            let request = self.requests.remove(key).expect("listed");
            if request.owns_fd {
                // SAFETY: the pump opened this fd; nothing uses it after destroy.
                unsafe { libc::close(request.fd) };
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::backend::BackendChoice;
    use crate::engine::EngineOptions;
    use crate::rules::{Pattern, RuleSet};

    /// With a share that holds most of a file, one `advance` starts its
    /// chunks in rounds of at most `SUBMIT_BYTES` per io_uring submit (the
    /// completed ones taken and enqueued between rounds), not in one submit
    /// inside which the kernel would copy them all before any is scanned
    /// (that one submit would ask for 23 MiB here).
    #[test]
    fn advance_submits_a_share_of_reads_in_rounds_of_the_budget() {
        let options = EngineOptions {
            backend: BackendChoice::Reference,
            arena_bytes: 32 << 20,
            queue_depth: 256,
            ..EngineOptions::default()
        };
        let engine = Engine::create(&options).unwrap();
        let rs = RuleSet::compile(&[Pattern::literal(&b"ab"[..])], &Default::default()).unwrap();
        let id = engine.load_rule_set(&rs).unwrap();
        let path = std::env::temp_dir().join(format!("vyre-pump-rounds-{}", std::process::id()));
        std::fs::write(&path, b"xxab".repeat(6 << 20)).unwrap();
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let options =
            PumpOptions { path: IngestPath::Direct, chunk_bytes: 1 << 20, queue_depth: 64, ..Default::default() };
        let mut pump = Pump::create(&engine, &options).unwrap();
        pump.submit_path(&c_path, 0, VYRE_PUMP_TO_EOF, id, 7).unwrap();
        let before = pump.info();
        pump.advance().unwrap();
        let after = pump.info();
        let rounds = after.submits - before.submits;
        let bytes = after.submitted_bytes - before.submitted_bytes;
        // Rounds go on until the share is full or, here, the engine holds
        // as many 1 MiB jobs as its ring takes (more than 4 MiB of them).
        assert!(bytes > SUBMIT_BYTES, "one advance started more than one budget's worth: {after:?}");
        assert!(bytes <= rounds * SUBMIT_BYTES, "{rounds} submits asked for {bytes} bytes: {after:?}");
        drop(pump);
        // On a SQPOLL pump the caller's thread copies every second read: one
        // round keeps to the budget too, its reads and the ring's together
        // (found in review: the caller's reads restarted the budget, and one
        // round read the whole 24 MiB, half of it on the caller's thread).
        let chunk = 512 << 10;
        match Pump::create(&engine, &PumpOptions { chunk_bytes: chunk, sqpoll: true, ..options }) {
            Ok(mut pump) => {
                let file = std::fs::File::open(&path).unwrap();
                pump.submit_fd(std::os::fd::AsRawFd::as_raw_fd(&file), 0, VYRE_PUMP_TO_EOF, id, 8).unwrap();
                pump.submit_queued().unwrap();
                let before = pump.info();
                assert!(pump.start_chunks().unwrap(), "the budget, not the file's end, stops the round");
                let after = pump.info();
                let started = (after.reads_in_flight - before.reads_in_flight) * chunk;
                assert!(
                    after.caller_read_bytes > before.caller_read_bytes,
                    "no read on the caller's thread: {after:?}"
                );
                assert!(started <= SUBMIT_BYTES + chunk, "one round started {started} bytes of reads: {after:?}");
            }
            Err(e) => eprintln!("SQPOLL refused here, not tested: {e}"),
        }
        let _ = std::fs::remove_file(&path);
    }

    /// A scan job that fails (here: the device stops answering, on a real
    /// Vulkan device, lavapipe in CI) ends its request: one last result
    /// with the engine's status, after any chunk results; nothing follows.
    #[test]
    fn a_failed_scan_job_ends_its_request_with_the_engine_status() {
        [IngestPath::Direct, IngestPath::Staged].into_iter().for_each(failed_scan_job_on);
    }

    fn failed_scan_job_on(ingest: IngestPath) {
        let Some(engine) = Engine::hang_test_engine(EngineOptions { arena_bytes: 1 << 20, ..EngineOptions::default() })
        else {
            return;
        };
        let rs = RuleSet::compile(&[Pattern::literal(&b"ab"[..])], &Default::default()).unwrap();
        let id = engine.load_rule_set(&rs).unwrap();
        let path = std::env::temp_dir().join(format!("vyre-pump-fail-{}", std::process::id()));
        std::fs::write(&path, b"xxab".repeat(16 << 10)).unwrap();
        let c_path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        let mut pump = Pump::create(
            &engine,
            &PumpOptions { path: ingest, chunk_bytes: 4096, arena_bytes: 64 << 10, ..Default::default() },
        )
        .unwrap();
        assert!(engine.megakernel_for_tests().backend_ref().stop_answering());
        pump.submit_path(&c_path, 0, VYRE_PUMP_TO_EOF, id, 42).unwrap();
        let mut results = vec![PumpResult::default(); 64];
        let mut hits = vec![Hit::default(); 1 << 16];
        let mut ended = Vec::new();
        let mut chunks_ok = 0;
        while ended.is_empty() {
            let (got, _) = match pump.drain(&mut results, &mut hits, Duration::from_secs(60)) {
                Ok(got) => got,
                Err(e) if e.kind == ErrorKind::DeviceLost => (0, 0),
                Err(e) => panic!("{e}"),
            };
            for result in &results[..got] {
                assert_eq!(result.user_data, 42);
                if result.flags & VYRE_PUMP_RESULT_LAST != 0 {
                    ended.push(result.status);
                } else {
                    assert_eq!(result.status, 0, "a chunk result before the end is a good one");
                    chunks_ok += 1;
                }
            }
        }
        assert_eq!(ended, [ErrorKind::DeviceLost.code()], "{chunks_ok} chunks scanned before the hang");
        let (got, _) = pump.drain(&mut results, &mut hits, Duration::from_millis(10)).unwrap_or((0, 0));
        assert_eq!(got, 0, "nothing follows the last result");
        drop(pump);
        let _ = std::fs::remove_file(&path);
    }
}
