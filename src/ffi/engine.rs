//! `vyre_engine`: the scanning engine (docs/ENGINE.md).
#![allow(non_camel_case_types)] // C names: the header and Rust say the same thing.

use super::megakernel::{backend_from_c, backend_to_c, millis, read_sized, VYRE_DEVICE_DEFAULT};
use super::{guard, input, input_slice, optional_output, output, output_slice, write_counts};
use crate::engine::{vyre_completion, vyre_hit, vyre_work_item, Engine, EngineOptions, Persistent};
use crate::error::{vyre_status, Error, Result};
use std::ffi::c_void;

/// A scanning engine: a resident megakernel with an input arena, loaded
/// rule sets, and a completion queue.
///
/// Thread safety: every function taking a `vyre_engine *` may be called from
/// any number of threads at once (enqueue is lock-free; polls take turns),
/// except `vyre_engine_destroy`, which must be the last call on the handle
/// and must not overlap any other.
pub struct vyre_engine {
    pub(crate) inner: Engine,
}

/// Resident kernel where the backend has one (the default).
pub const VYRE_PERSISTENT_AUTO: u32 = 0;
/// Resident kernel, or `vyre_engine_create` fails with `VYRE_E_UNSUPPORTED`.
pub const VYRE_PERSISTENT_FORCE: u32 = 1;
/// One dispatch per batch of published work (the baseline the benchmark
/// compares against); same results, no resident kernel.
pub const VYRE_PERSISTENT_DISABLE: u32 = 2;

/// Options for `vyre_engine_create`. Initialise with
/// `vyre_engine_options_init`, then change what you need; every size left
/// at 0 takes its default.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct vyre_engine_options {
    /// `sizeof(vyre_engine_options)`: lets the struct grow compatibly.
    pub struct_size: u32,
    /// `VYRE_BACKEND_*` (default `VYRE_BACKEND_AUTO`).
    pub backend: u32,
    /// `VYRE_PERSISTENT_*` (default `VYRE_PERSISTENT_AUTO`).
    pub persistent: u32,
    /// A Vulkan device index below `vyre_device_count`, or `VYRE_DEVICE_DEFAULT`.
    pub device_index: u32,
    /// Worker threads (reference) or workgroups (Vulkan); 0 = the default
    /// (Vulkan on a GPU: 16 workgroups per SM, so that DFA walks waiting on
    /// memory overlap).
    pub worker_count: u32,
    /// Jobs in flight, 1..=`VYRE_ENGINE_MAX_QUEUE_DEPTH` (default 1024).
    pub queue_depth: u32,
    /// Hits stored per job, 1..=2^24 (default 4096); more are counted, and
    /// the job completes with `VYRE_E_HITS_TRUNCATED`.
    pub max_hits_per_job: u32,
    /// Bytes of a job one lane scans before the next lane takes over,
    /// 256..=2^30 (default 16 KiB).
    pub part_bytes: u32,
    /// Input arena bytes, up to `VYRE_ENGINE_MAX_ARENA_BYTES` (default 64 MiB).
    pub arena_bytes: u64,
    /// Room for loaded rule-set tables, 1 KiB..=4 GiB (default 64 MiB).
    pub rule_table_bytes: u64,
    /// Reserved; must be 0.
    pub flags: u32,
    /// Reserved; must be 0.
    pub reserved: u32,
}

/// What `vyre_engine_get_info` reports.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct vyre_engine_info {
    /// Set to `sizeof(vyre_engine_info)` before the call.
    pub struct_size: u32,
    /// `VYRE_BACKEND_REFERENCE` or `VYRE_BACKEND_VULKAN`.
    pub backend: u32,
    /// 1: a resident kernel serves the jobs; 0: a dispatch per batch.
    pub resident: u32,
    /// Lanes (GPU invocations or host threads) scanning.
    pub lane_count: u32,
    pub queue_depth: u32,
    pub max_hits_per_job: u32,
    pub arena_bytes: u64,
    pub part_bytes: u32,
    pub reserved: u32,
    /// NUL-terminated: the Vulkan device's name, or "reference".
    pub device_name: [u8; 256],
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<vyre_engine_options>() == 56 && align_of::<vyre_engine_options>() == 8);
    assert!(offset_of!(vyre_engine_options, arena_bytes) == 32);
    assert!(size_of::<vyre_engine_info>() == 296);
    assert!(offset_of!(vyre_engine_info, device_name) == 40);
    assert!(size_of::<vyre_work_item>() == 40 && offset_of!(vyre_work_item, user_data) == 24);
    assert!(offset_of!(vyre_work_item, context_before) == 32 && offset_of!(vyre_work_item, context_after) == 36);
    assert!(size_of::<vyre_completion>() == 32 && offset_of!(vyre_completion, status) == 28);
    assert!(size_of::<vyre_hit>() == 24 && offset_of!(vyre_hit, pattern_id) == 16);
};

fn options_from_c(c: &vyre_engine_options) -> Result<EngineOptions> {
    if c.flags != 0 || c.reserved != 0 {
        return Err(Error::invalid("vyre_engine_options.flags and .reserved must be 0"));
    }
    let persistent = match c.persistent {
        VYRE_PERSISTENT_AUTO => Persistent::Auto,
        VYRE_PERSISTENT_FORCE => Persistent::Force,
        VYRE_PERSISTENT_DISABLE => Persistent::Disable,
        other => {
            return Err(Error::invalid(format!(
                "persistent is {other}; use VYRE_PERSISTENT_AUTO, VYRE_PERSISTENT_FORCE or VYRE_PERSISTENT_DISABLE"
            )))
        }
    };
    Ok(EngineOptions {
        backend: backend_from_c(c.backend)?,
        persistent,
        device: (c.device_index != VYRE_DEVICE_DEFAULT).then_some(c.device_index),
        workers: c.worker_count,
        watchdog: None,
        queue_depth: c.queue_depth,
        max_hits_per_job: c.max_hits_per_job,
        arena_bytes: c.arena_bytes,
        rule_table_bytes: c.rule_table_bytes,
        part_bytes: c.part_bytes,
    })
}

/// The engine behind a handle.
///
/// # Safety
/// A non-NULL `engine` must come from `vyre_engine_create` and not be destroyed.
pub(super) unsafe fn handle<'a>(engine: *const vyre_engine) -> Result<&'a Engine> {
    // SAFETY: forwarded to the caller's contract.
    unsafe { input(engine, "engine") }.map(|e| &e.inner)
}

/// Fill `opts` with the defaults (and `struct_size`).
///
/// # Safety
/// `opts` must be NULL (an error) or point to a writable options struct.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_options_init(opts: *mut vyre_engine_options) -> vyre_status {
    guard("vyre_engine_options_init", || {
        output(opts, "opts")?.write(vyre_engine_options {
            struct_size: std::mem::size_of::<vyre_engine_options>() as u32,
            backend: 0,
            persistent: VYRE_PERSISTENT_AUTO,
            device_index: VYRE_DEVICE_DEFAULT,
            worker_count: 0,
            queue_depth: 0,
            max_hits_per_job: 0,
            part_bytes: 0,
            arena_bytes: 0,
            rule_table_bytes: 0,
            flags: 0,
            reserved: 0,
        });
        Ok(())
    })
}

/// Create an engine: a resident megakernel (or, with
/// `VYRE_PERSISTENT_DISABLE`, one that dispatches per batch) with an input
/// arena and room for rule tables. `opts` may be NULL for all defaults.
///
/// # Safety
/// `opts`, if not NULL, must point to `opts->struct_size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_create(
    opts: *const vyre_engine_options,
    out: *mut *mut vyre_engine,
) -> vyre_status {
    guard("vyre_engine_create", || {
        let out = output(out, "out")?;
        let options = if opts.is_null() {
            EngineOptions::default()
        } else {
            // SAFETY: non-NULL, and the caller guarantees struct_size readable bytes.
            options_from_c(&unsafe { read_sized(opts, "vyre_engine_options") }?)?
        };
        let inner = Engine::create(&options)?;
        out.write(Box::into_raw(Box::new(vyre_engine { inner })));
        Ok(())
    })
}

/// Stop the engine and free it. Jobs still in flight are abandoned (their
/// completions are never returned). NULL is a no-op.
///
/// # Safety
/// `engine` must be NULL or a handle from `vyre_engine_create` not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_destroy(engine: *mut vyre_engine) {
    // SAFETY: forwarded to the caller's contract.
    unsafe { super::destroy_handle("vyre_engine_destroy", engine) }
}

/// Describe the engine. Set `out->struct_size` to `sizeof(vyre_engine_info)` first.
///
/// # Safety
/// `engine` must be a live handle; `out` must point to a writable `vyre_engine_info`.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_get_info(engine: *const vyre_engine, out: *mut vyre_engine_info) -> vyre_status {
    guard("vyre_engine_get_info", || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: caller contract (only the leading struct_size is read).
        let declared = *unsafe { input(out.cast_const().cast::<u32>(), "out") }?;
        let size = super::megakernel::check_struct_size::<vyre_engine_info>(declared, "vyre_engine_info")?;
        let info = engine.info();
        let mut device_name = [0u8; 256];
        for (dst, &src) in device_name.iter_mut().zip(info.device_name.as_bytes().iter().take(255)) {
            *dst = src;
        }
        output(out, "out")?.write(vyre_engine_info {
            struct_size: size,
            backend: backend_to_c(info.backend),
            resident: u32::from(info.resident),
            lane_count: info.lane_count,
            queue_depth: info.queue_depth,
            max_hits_per_job: info.max_hits_per_job,
            arena_bytes: info.arena_bytes,
            part_bytes: info.part_bytes,
            reserved: 0,
            device_name,
        });
        Ok(())
    })
}

/// The arena's first byte and its length. Write job bytes there directly
/// (on a GPU it is device memory mapped write-combined: write it
/// sequentially, do not read it back), never into the bytes of a job in
/// flight.
///
/// # Safety
/// `engine` must be a live handle; the outputs must be writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_arena(
    engine: *mut vyre_engine,
    out_base: *mut *mut u8,
    out_len: *mut u64,
) -> vyre_status {
    guard("vyre_engine_arena", || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        let (base, len) = (output(out_base, "out_base")?, output(out_len, "out_len")?);
        base.write(engine.arena_ptr());
        len.write(engine.arena_len());
        Ok(())
    })
}

/// Copy `len` bytes into the arena at `offset`; `VYRE_E_OUT_OF_RANGE` if
/// they do not fit.
///
/// # Safety
/// `engine` must be a live handle; `data` must hold `len` readable bytes
/// (NULL only with `len` 0).
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_write(
    engine: *mut vyre_engine,
    offset: u64,
    data: *const c_void,
    len: usize,
) -> vyre_status {
    guard("vyre_engine_write", || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: caller contract.
        let bytes = unsafe { input_slice(data.cast::<u8>(), len, "data") }?;
        engine.write(offset, bytes)
    })
}

/// Load a compiled rule set into the engine; `*out_id` receives the id jobs
/// name. The rule set can be destroyed afterwards (the engine keeps its own
/// copy of the table). Loaded sets stay until the engine is destroyed.
/// `VYRE_E_OUT_OF_MEMORY` when `rule_table_bytes` is used up;
/// `VYRE_E_INVALID_ARGUMENT` when more than
/// `VYRE_TABLE_MAX_MATCHES_PER_STATE` patterns can end at one byte.
///
/// # Safety
/// `engine` and `rs` must be live handles; `out_id` writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_load_rule_set(
    engine: *mut vyre_engine,
    rs: *const super::rules::vyre_rule_set,
    out_id: *mut u32,
) -> vyre_status {
    guard("vyre_engine_load_rule_set", || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: caller contract.
        let rule_set = unsafe { super::rules::handle(rs) }?;
        let out = output(out_id, "out_id")?;
        out.write(engine.load_rule_set(rule_set)?);
        Ok(())
    })
}

/// Enqueue one job. Thread-safe and lock-free. `VYRE_OK` means it was
/// accepted and exactly one completion will follow (with an error status
/// for a range outside the arena or an unknown rule set);
/// `VYRE_E_QUEUE_FULL` means poll or wait, then retry.
///
/// # Safety
/// `engine` must be a live handle; `item` must point to a `vyre_work_item`.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_enqueue(engine: *mut vyre_engine, item: *const vyre_work_item) -> vyre_status {
    guard("vyre_engine_enqueue", || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: caller contract.
        engine.enqueue(unsafe { input(item, "item") }?)
    })
}

/// Enqueue `count` jobs in order, stopping at the first that is refused;
/// `*out_accepted` (optional) says how many were accepted, the status why
/// the next was not (`VYRE_OK` if all were).
///
/// # Safety
/// `engine` must be a live handle; `items` must hold `count` items.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_enqueue_batch(
    engine: *mut vyre_engine,
    items: *const vyre_work_item,
    count: usize,
    out_accepted: *mut usize,
) -> vyre_status {
    guard("vyre_engine_enqueue_batch", || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: caller contract.
        let items = unsafe { input_slice(items, count, "items") }?;
        let (accepted, result) = engine.enqueue_batch(items);
        if let Some(out) = optional_output(out_accepted) {
            out.write(accepted);
        }
        result
    })
}

/// The shared body of poll and wait.
///
/// # Safety
/// As for `vyre_engine_poll`.
#[allow(clippy::too_many_arguments)]
unsafe fn collect(
    function: &str,
    engine: *mut vyre_engine,
    completions: *mut vyre_completion,
    capacity: usize,
    hits: *mut vyre_hit,
    hits_capacity: usize,
    out_completions: *mut usize,
    out_hits: *mut usize,
    timeout_ms: Option<u32>,
) -> vyre_status {
    guard(function, || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        let (out_completions, out_hits) = (output(out_completions, "out_completions")?, optional_output(out_hits));
        // SAFETY: caller contract.
        let completions = unsafe { output_slice(completions, capacity, "completions") }?;
        // SAFETY: caller contract.
        let hits = unsafe { output_slice(hits, hits_capacity, "hits") }?;
        let result = match timeout_ms {
            None => engine.poll(completions, hits),
            Some(ms) => engine.wait(completions, hits, millis(ms)),
        };
        write_counts(result, out_completions, out_hits)
    })
}

/// Return finished jobs without blocking: up to `capacity` completions,
/// their hits copied into `hits` (each completion's `first_hit` and
/// `hits_stored` say where). `*out_completions` and `*out_hits` (optional)
/// say how many. A completion whose hits do not fit stays for the next
/// call; `VYRE_E_BUFFER_TOO_SMALL` if not even the first fits an empty
/// `hits` (give at least `max_hits_per_job`). `VYRE_E_DEVICE_LOST` once the
/// device is gone and every job in flight has been returned with that status.
///
/// # Safety
/// `engine` must be a live handle; `completions` must hold `capacity`
/// writable entries and `hits` `hits_capacity` (either may be NULL with a
/// capacity of 0); `out_completions` writable; `out_hits` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_poll(
    engine: *mut vyre_engine,
    completions: *mut vyre_completion,
    capacity: usize,
    hits: *mut vyre_hit,
    hits_capacity: usize,
    out_completions: *mut usize,
    out_hits: *mut usize,
) -> vyre_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        collect("vyre_engine_poll", engine, completions, capacity, hits, hits_capacity, out_completions, out_hits, None)
    }
}

/// Like `vyre_engine_poll`, but block until at least one completion is
/// returned or `timeout_ms` (`VYRE_WAIT_FOREVER`: no limit) passes, then
/// `VYRE_E_TIMEOUT` with nothing returned.
///
/// # Safety
/// As for `vyre_engine_poll`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn vyre_engine_wait(
    engine: *mut vyre_engine,
    completions: *mut vyre_completion,
    capacity: usize,
    hits: *mut vyre_hit,
    hits_capacity: usize,
    out_completions: *mut usize,
    out_hits: *mut usize,
    timeout_ms: u32,
) -> vyre_status {
    // SAFETY: forwarded to the caller's contract.
    unsafe {
        collect(
            "vyre_engine_wait",
            engine,
            completions,
            capacity,
            hits,
            hits_capacity,
            out_completions,
            out_hits,
            Some(timeout_ms),
        )
    }
}
