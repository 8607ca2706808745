//! `vyre_pump`: the io_uring reader that feeds files into an engine (docs/PUMP.md).
#![allow(non_camel_case_types)] // C names: the header and Rust say the same thing.

use super::engine::vyre_engine;
use super::megakernel::{check_struct_size, millis, read_sized};
use super::{guard, input, optional_output, output, output_slice, write_counts};
use crate::engine::vyre_hit;
use crate::error::{vyre_status, Error, Result};
use crate::pump::{vyre_pump_result, IngestPath, Pump, PumpOptions};
use parking_lot::Mutex;
use std::ffi::{c_char, CStr};

/// A pump: reads files with io_uring into its share of an engine's input
/// arena and enqueues their scan jobs.
///
/// Thread safety: calls on one pump may come from any thread; they take
/// turns. `vyre_pump_destroy` must be the last call on the handle and must
/// come before `vyre_engine_destroy` of its engine.
pub struct vyre_pump {
    inner: Mutex<Pump<'static>>,
}

impl vyre_pump {
    /// A new handle owning `pump`, for `vyre_pump_destroy` to free.
    pub(super) fn into_raw(pump: Pump<'static>) -> *mut vyre_pump {
        Box::into_raw(Box::new(vyre_pump { inner: Mutex::new(pump) }))
    }
}

/// The default ingest path: `VYRE_PUMP_PATH_DIRECT`, the faster of the two
/// on an H200 (docs/PUMP.md, "Ingest paths").
pub const VYRE_PUMP_PATH_AUTO: u32 = 0;
/// io_uring READ straight into the engine's mapped arena (on a GPU, device
/// memory through the BAR; the kernel copies into it).
pub const VYRE_PUMP_PATH_DIRECT: u32 = 1;
/// io_uring READ_FIXED into registered system-memory staging buffers, then a
/// copy into the arena (on a GPU, on a transfer queue; the resident kernel
/// keeps running). `vyre_pump_create` returns `VYRE_E_UNSUPPORTED` where the
/// device or the kernel cannot provide such buffers.
pub const VYRE_PUMP_PATH_STAGED: u32 = 2;
/// `vyre_pump_options.flags`: a kernel thread submits the pump's reads
/// (io_uring's SQPOLL) and, with a warm page cache, copies their bytes, on
/// another core; it also opens and closes the files submitted by path, so
/// the calling thread only hands over scan jobs and collects results, and
/// copies every second large read (256 KiB or more) of cached pages itself,
/// so that two cores copy at once. The thread polls while reads keep coming
/// and sleeps after 10 ms without any (the next submit wakes it), so it
/// costs a second core only while the pump is busy. `vyre_pump_create` returns
/// `VYRE_E_UNSUPPORTED` where the kernel refuses it (before Linux 5.11 it
/// needs privileges).
pub const VYRE_PUMP_FLAG_SQPOLL: u32 = 1;

/// Options for `vyre_pump_create`. Initialise with `vyre_pump_options_init`,
/// then change what you need; every size left at 0 takes its default.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct vyre_pump_options {
    /// `sizeof(vyre_pump_options)`: lets the struct grow compatibly.
    pub struct_size: u32,
    /// `VYRE_PUMP_PATH_*` (default `VYRE_PUMP_PATH_AUTO`).
    pub path: u32,
    /// Reads in flight, 1..=`VYRE_PUMP_MAX_QUEUE_DEPTH` (default 64).
    pub queue_depth: u32,
    /// `VYRE_PUMP_FLAG_*` (default 0).
    pub flags: u32,
    /// Arena bytes of one chunk: one read and one scan job. A file larger
    /// than a chunk is split into chunks that overlap by the rule set's
    /// longest match + 1. Default: a quarter of the share, at most 4 MiB.
    pub chunk_bytes: u64,
    /// First arena byte of the pump's share (default 0).
    pub arena_offset: u64,
    /// Bytes of the share; 0 = from `arena_offset` to the end of the arena.
    /// The caller may write and enqueue the rest of the arena itself.
    pub arena_bytes: u64,
}

/// What `vyre_pump_get_info` reports.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct vyre_pump_info {
    /// Set to `sizeof(vyre_pump_info)` before the call.
    pub struct_size: u32,
    /// The ingest path in use: `VYRE_PUMP_PATH_DIRECT` or `VYRE_PUMP_PATH_STAGED`
    /// (never `AUTO`: it reports what `AUTO` chose).
    pub path: u32,
    pub queue_depth: u32,
    /// The `VYRE_PUMP_FLAG_*` in effect.
    pub flags: u32,
    pub chunk_bytes: u64,
    pub arena_offset: u64,
    pub arena_bytes: u64,
    /// Requests whose last result has not been returned yet.
    pub requests_in_flight: u64,
    pub reads_in_flight: u64,
    /// The pump's scan jobs on the engine (a megakernel pump: its slots
    /// published and not yet final).
    pub jobs_in_flight: u64,
    /// Bytes read into the arena so far.
    pub bytes_read: u64,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<vyre_pump_options>() == 40 && align_of::<vyre_pump_options>() == 8);
    assert!(offset_of!(vyre_pump_options, chunk_bytes) == 16);
    assert!(size_of::<vyre_pump_info>() == 72 && offset_of!(vyre_pump_info, requests_in_flight) == 40);
    assert!(size_of::<vyre_pump_result>() == 56 && offset_of!(vyre_pump_result, status) == 44);
};

pub(super) fn options_from_c(c: &vyre_pump_options) -> Result<PumpOptions> {
    if c.flags & !VYRE_PUMP_FLAG_SQPOLL != 0 {
        return Err(Error::invalid(format!(
            "vyre_pump_options.flags is {:#x}; the only flag is VYRE_PUMP_FLAG_SQPOLL ({VYRE_PUMP_FLAG_SQPOLL:#x})",
            c.flags
        )));
    }
    let path = match c.path {
        VYRE_PUMP_PATH_AUTO => IngestPath::Auto,
        VYRE_PUMP_PATH_DIRECT => IngestPath::Direct,
        VYRE_PUMP_PATH_STAGED => IngestPath::Staged,
        other => {
            return Err(Error::invalid(format!(
                "path is {other}; use VYRE_PUMP_PATH_AUTO, VYRE_PUMP_PATH_DIRECT or VYRE_PUMP_PATH_STAGED"
            )))
        }
    };
    Ok(PumpOptions {
        path,
        queue_depth: c.queue_depth,
        chunk_bytes: c.chunk_bytes,
        arena_offset: c.arena_offset,
        arena_bytes: c.arena_bytes,
        sqpoll: c.flags & VYRE_PUMP_FLAG_SQPOLL != 0,
    })
}

/// The pump behind a handle, locked for this call.
///
/// # Safety
/// A non-NULL `pump` must come from `vyre_pump_create` and not be destroyed.
pub(super) unsafe fn handle<'a>(pump: *mut vyre_pump) -> Result<parking_lot::MutexGuard<'a, Pump<'static>>> {
    // SAFETY: forwarded to the caller's contract.
    unsafe { input(pump.cast_const(), "pump") }.map(|p| p.inner.lock())
}

/// Fill `opts` with the defaults (and `struct_size`).
///
/// # Safety
/// `opts` must be NULL (an error) or point to a writable options struct.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_options_init(opts: *mut vyre_pump_options) -> vyre_status {
    guard("vyre_pump_options_init", || {
        output(opts, "opts")?.write(vyre_pump_options {
            struct_size: std::mem::size_of::<vyre_pump_options>() as u32,
            path: VYRE_PUMP_PATH_AUTO,
            queue_depth: 0,
            flags: 0,
            chunk_bytes: 0,
            arena_offset: 0,
            arena_bytes: 0,
        });
        Ok(())
    })
}

/// Create a pump bound to `engine` (an io_uring instance and a share of the
/// engine's arena). `opts` may be NULL for all defaults.
/// `VYRE_E_UNSUPPORTED` when io_uring is not available, or, for
/// `VYRE_PUMP_PATH_STAGED`, when no staging memory can be allocated and
/// registered (the message says why; use `VYRE_PUMP_PATH_DIRECT`).
///
/// While the pump exists, collect the engine's completions only through
/// `vyre_pump_drain` (it returns those of jobs you enqueue directly too,
/// flagged `VYRE_PUMP_RESULT_DIRECT`), leave `VYRE_PUMP_JOB_TAG` clear in
/// their `user_data`, and do not write into the pump's share.
///
/// # Safety
/// `engine` must be a live handle that outlives the pump; `opts`, if not
/// NULL, must point to `opts->struct_size` readable bytes; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_create(
    engine: *mut vyre_engine,
    opts: *const vyre_pump_options,
    out: *mut *mut vyre_pump,
) -> vyre_status {
    guard("vyre_pump_create", || {
        let out = output(out, "out")?;
        // SAFETY: the caller guarantees a live engine that outlives the pump
        // (vyre_pump_destroy comes before vyre_engine_destroy), so extending
        // the borrow to 'static never lets the pump see a freed engine.
        let engine: &'static vyre_engine = unsafe { input(engine.cast_const(), "engine") }?;
        let options = if opts.is_null() {
            PumpOptions::default()
        } else {
            // SAFETY: non-NULL, and the caller guarantees struct_size readable bytes.
            options_from_c(&unsafe { read_sized(opts, "vyre_pump_options") }?)?
        };
        let inner = Pump::create(&engine.inner, &options)?;
        out.write(vyre_pump::into_raw(inner));
        Ok(())
    })
}

/// End the pump: cancel its reads in flight and wait for them, wait for its
/// scan jobs (their results are dropped; so are the completions of direct
/// jobs that arrive meanwhile: drain until `requests_in_flight` is 0 first
/// to keep everything), close the files it opened. Each wait is bounded (10
/// s), so it never hangs. NULL is a no-op.
///
/// # Safety
/// `pump` must be NULL or a handle from `vyre_pump_create` not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_destroy(pump: *mut vyre_pump) {
    // SAFETY: forwarded to the caller's contract.
    unsafe { super::destroy_handle("vyre_pump_destroy", pump) }
}

/// Scan `length` bytes of the open file `fd` from `offset` (or
/// `VYRE_PUMP_TO_EOF`: to its end; a regular file is read up to its size
/// now) with rule set `rule_set_id` (a megakernel pump: with slot template
/// `rule_set_id`); results carry `user_data`. The pump
/// does not close `fd`: keep it open until the request's last result.
/// Pipes, FIFOs and sockets are read from where they stand (`offset` 0).
///
/// `VYRE_OK`: accepted; results follow (a file error, such as `-EBADF`, is
/// the request's last result). `VYRE_E_QUEUE_FULL`: no room in the ring or
/// the arena share now; drain, then retry. `VYRE_E_NOT_FOUND`: no such rule
/// set (or template). `VYRE_E_OUT_OF_RANGE`: the file must be split but its rule set's
/// matches are unbounded (or longer than a chunk).
///
/// # Safety
/// `pump` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_submit_fd(
    pump: *mut vyre_pump,
    fd: i32,
    offset: u64,
    length: u64,
    rule_set_id: u32,
    user_data: u64,
) -> vyre_status {
    guard("vyre_pump_submit_fd", || {
        // SAFETY: caller contract.
        let mut pump = unsafe { handle(pump) }?;
        pump.submit_fd(fd, offset, length, rule_set_id, user_data)
    })
}

/// As `vyre_pump_submit_fd`, for the file at `path`, which the pump opens
/// and closes. A failed open is the request's result (`-ENOENT`, ...). A
/// FIFO is opened without waiting for a writer.
///
/// On a pump created with `VYRE_PUMP_FLAG_SQPOLL` the kernel thread opens
/// the file: the call returns once the open is queued (`VYRE_E_QUEUE_FULL`
/// when reads, opens and opened files waiting for room number
/// `queue_depth`), a FIFO waits for its
/// writer, and what depends on the file itself (its kind and size: a
/// directory, a pipe with an `offset`, a file too long for an unbounded
/// rule set) comes back as the request's result status rather than as
/// this call's.
///
/// # Safety
/// `pump` must be a live handle; `path` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_submit_path(
    pump: *mut vyre_pump,
    path: *const c_char,
    offset: u64,
    length: u64,
    rule_set_id: u32,
    user_data: u64,
) -> vyre_status {
    guard("vyre_pump_submit_path", || {
        // SAFETY: caller contract.
        let mut pump = unsafe { handle(pump) }?;
        // SAFETY: caller contract.
        pump.submit_path(unsafe { file_path(path) }?, offset, length, rule_set_id, user_data)
    })
}

/// A path argument: not NULL, not empty.
///
/// # Safety
/// A non-NULL `path` must be a NUL-terminated string alive for `'a`.
pub(super) unsafe fn file_path<'a>(path: *const c_char) -> Result<&'a CStr> {
    if path.is_null() {
        return Err(super::null("path"));
    }
    // SAFETY: non-NULL, and the caller guarantees a NUL-terminated string.
    let path = unsafe { CStr::from_ptr(path) };
    if path.is_empty() {
        return Err(Error::invalid("path is empty; pass the name of a file"));
    }
    Ok(path)
}

/// Reap reads, enqueue their scan jobs, and return up to `capacity`
/// results with their hits (each result's `first_hit` and `hits_stored`
/// say where in `hits`; a hit's `end_offset` is a file offset, its
/// `user_data` the request's). Every request ends with exactly one result
/// flagged `VYRE_PUMP_RESULT_LAST`. Completions of jobs enqueued on the
/// engine directly come back too, unchanged, flagged `VYRE_PUMP_RESULT_DIRECT`.
///
/// Waits up to `timeout_ms` (`VYRE_WAIT_FOREVER`: no limit; 0: never) for
/// a result while requests are in flight, then `VYRE_E_TIMEOUT`; returns
/// `VYRE_OK` at once, possibly with nothing, when none are.
/// `VYRE_E_BUFFER_TOO_SMALL` if the next result's hits do not fit an empty
/// `hits` (give at least the engine's `max_hits_per_job`).
///
/// # Safety
/// `pump` must be a live handle; `results` must hold `capacity` writable
/// entries and `hits` `hits_capacity` (either may be NULL with a capacity
/// of 0); `out_results` writable; `out_hits` NULL or writable.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vyre_pump_drain(
    pump: *mut vyre_pump,
    results: *mut vyre_pump_result,
    capacity: usize,
    hits: *mut vyre_hit,
    hits_capacity: usize,
    out_results: *mut usize,
    out_hits: *mut usize,
    timeout_ms: u32,
) -> vyre_status {
    guard("vyre_pump_drain", || {
        // SAFETY: caller contract.
        let mut pump = unsafe { handle(pump) }?;
        let (out_results, out_hits) = (output(out_results, "out_results")?, optional_output(out_hits));
        // SAFETY: caller contract.
        let results = unsafe { output_slice(results, capacity, "results") }?;
        // SAFETY: caller contract.
        let hits = unsafe { output_slice(hits, hits_capacity, "hits") }?;
        write_counts(pump.drain(results, hits, millis(timeout_ms)), out_results, out_hits)
    })
}

/// Describe the pump: its ingest path, sizes, and what it has in flight.
/// Set `out->struct_size` to `sizeof(vyre_pump_info)` first.
///
/// # Safety
/// `pump` must be a live handle; `out` must point to a writable `vyre_pump_info`.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_get_info(pump: *mut vyre_pump, out: *mut vyre_pump_info) -> vyre_status {
    guard("vyre_pump_get_info", || {
        // SAFETY: caller contract.
        let pump = unsafe { handle(pump) }?;
        // SAFETY: caller contract (only the leading struct_size is read).
        let declared = *unsafe { input(out.cast_const().cast::<u32>(), "out") }?;
        let size = check_struct_size::<vyre_pump_info>(declared, "vyre_pump_info")?;
        let info = pump.info();
        output(out, "out")?.write(vyre_pump_info {
            struct_size: size,
            path: match info.path {
                IngestPath::Auto | IngestPath::Direct => VYRE_PUMP_PATH_DIRECT,
                IngestPath::Staged => VYRE_PUMP_PATH_STAGED,
            },
            queue_depth: info.queue_depth,
            flags: if info.sqpoll { VYRE_PUMP_FLAG_SQPOLL } else { 0 },
            chunk_bytes: info.chunk_bytes,
            arena_offset: info.arena_offset,
            arena_bytes: info.arena_bytes,
            requests_in_flight: info.requests,
            reads_in_flight: info.reads_in_flight,
            jobs_in_flight: info.jobs_in_flight,
            bytes_read: info.bytes_read,
        });
        Ok(())
    })
}
