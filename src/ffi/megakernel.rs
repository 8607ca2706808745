//! `vyre_megakernel`: create, publish, wait, read, shut down.
#![allow(non_camel_case_types)] // C names: the header and Rust say the same thing.

use super::{guard, input, input_slice, optional_output, output, output_slice};
use crate::backend::BackendChoice;
use crate::error::{vyre_status, Error, ErrorKind, Result};
use crate::megakernel::{Megakernel, Options, SlotRequest, Ticket};
use crate::protocol::abi::{VYRE_METRIC_COUNT, VYRE_PRINTF_MAX_VALUES, VYRE_SLOT_MAX_ARGS};
use std::time::Duration;

/// A running megakernel: a ring of slots that workers (host threads on the
/// reference backend, GPU lanes on a GPU backend) claim and execute.
///
/// Thread safety: every function taking a `vyre_megakernel *` may be called
/// from any number of threads at once, except `vyre_megakernel_destroy`,
/// which must be the last call on the handle and must not overlap any other.
pub struct vyre_megakernel {
    pub(crate) inner: Megakernel,
}

/// Pick the best available backend: Vulkan (the first GPU, else lavapipe)
/// where a Vulkan device exists, else the reference backend. The
/// `VYRE_BACKEND` environment variable (`vulkan`, `reference` or `auto`)
/// overrides this choice, and only this one.
pub const VYRE_BACKEND_AUTO: u32 = 0;
/// The CPU reference backend: host worker threads, the specification.
pub const VYRE_BACKEND_REFERENCE: u32 = 1;
/// The resident Vulkan megakernel: the first GPU, else lavapipe.
pub const VYRE_BACKEND_VULKAN: u32 = 2;
/// `device_index` value that leaves the device choice to libvyre.
pub const VYRE_DEVICE_DEFAULT: u32 = 0xFFFF_FFFF;
/// `timeout_ms` value that waits without limit.
pub const VYRE_WAIT_FOREVER: u32 = 0xFFFF_FFFF;

/// Options for `vyre_megakernel_create`. Initialise with
/// `vyre_megakernel_options_init`, then change what you need. Every count
/// left at 0 takes its default.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct vyre_megakernel_options {
    /// `sizeof(vyre_megakernel_options)`: lets the struct grow compatibly.
    pub struct_size: u32,
    /// `VYRE_BACKEND_*`.
    pub backend: u32,
    /// Ring slots, 1..=`VYRE_MAX_SLOTS` (default `VYRE_DEFAULT_SLOTS`).
    pub slot_count: u32,
    /// Reference backend: worker threads, 1..=64 (default: one per core, up
    /// to 4). Vulkan: workgroups, 1..=4096 (default: one per SM on NVIDIA,
    /// one per core on lavapipe, 16 elsewhere).
    pub worker_count: u32,
    /// Observable words, 1..=`VYRE_MAX_OBSERVABLES` (default `VYRE_DEFAULT_OBSERVABLES`).
    pub observable_count: u32,
    /// Tenants, 1..=`VYRE_MAX_TENANTS` (default 1). Observables are split
    /// evenly between tenants until `vyre_megakernel_set_tenant_window`.
    pub tenant_count: u32,
    /// Debug-log records, 1..=`VYRE_MAX_DEBUG_RECORDS` (default `VYRE_DEFAULT_DEBUG_RECORDS`).
    pub debug_log_capacity: u32,
    /// Reserved; must be 0.
    pub flags: u32,
    /// Vulkan device to use (an index below `vyre_device_count`), or
    /// `VYRE_DEVICE_DEFAULT`: the `VYRE_DEVICE` environment variable if set,
    /// else the first GPU, else lavapipe.
    pub device_index: u32,
}

/// Names one publication of one slot; pass it to `vyre_megakernel_wait`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct vyre_ticket {
    /// Ring slot index.
    pub slot: u32,
    /// Publication number of that slot (never 0 in an issued ticket).
    pub generation: u32,
}

/// One slot of a batch (`vyre_megakernel_publish_batch`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct vyre_slot_request {
    /// `VYRE_OP_*` or a registered tenant opcode.
    pub opcode: u32,
    /// Tenant; all requests of one batch must share it.
    pub tenant: u32,
    /// Arguments used, 0..=`VYRE_SLOT_MAX_ARGS`; the rest are sent as 0.
    pub arg_count: u32,
    /// Arguments.
    pub args: [u32; 12],
}

/// One PRINTF record of the debug log.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct vyre_debug_record {
    /// Tenant of the PRINTF slot.
    pub tenant: u32,
    /// The slot's format id (args[0]).
    pub format_id: u32,
    /// Values used, 0..=`VYRE_PRINTF_MAX_VALUES`.
    pub value_count: u32,
    /// Values; unused ones are 0.
    pub values: [u32; 8],
}

/// Counters of a megakernel (`vyre_megakernel_read_stats`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct vyre_megakernel_stats {
    /// Set to `sizeof(vyre_megakernel_stats)` before the call.
    pub struct_size: u32,
    /// `VYRE_BACKEND_*` actually running (never AUTO).
    pub backend: u32,
    pub slot_count: u32,
    pub worker_count: u32,
    pub observable_count: u32,
    pub tenant_count: u32,
    /// Completed BATCH_FENCEs (wraps at 2^32).
    pub epoch: u32,
    /// Slots that completed DONE (wraps at 2^32).
    pub done_count: u32,
    /// Slots that a worker faulted (wraps at 2^32).
    pub fault_count: u32,
    /// Lanes polling the ring: `worker_count` times the lanes per worker
    /// (1 on the reference backend, a subgroup per workgroup on a GPU).
    pub lane_count: u32,
    /// Slots published, batch fences included.
    pub published_count: u64,
    /// Slots cancelled by shutdown, destroy or device loss.
    pub cancelled_count: u64,
}

/// Largest `struct_size` accepted: bigger values are surely not a size.
const MAX_STRUCT_SIZE: u32 = 4096;

// cbindgen needs literal array lengths; these pin them to the protocol.
static_assertions::const_assert_eq!(VYRE_SLOT_MAX_ARGS, 12);
static_assertions::const_assert_eq!(VYRE_PRINTF_MAX_VALUES, 8);

// The C layout of every public struct, mirrored by _Static_assert in
// c_tests/test_layout.c: a field moved on either side breaks a build.
mod layout {
    use super::*;
    use static_assertions::const_assert_eq;
    use std::mem::{align_of, offset_of, size_of};

    const_assert_eq!(size_of::<vyre_megakernel_options>(), 36);
    const_assert_eq!(offset_of!(vyre_megakernel_options, device_index), 32);
    const_assert_eq!(offset_of!(vyre_megakernel_options, backend), 4);
    const_assert_eq!(offset_of!(vyre_megakernel_options, debug_log_capacity), 24);
    const_assert_eq!(offset_of!(vyre_megakernel_options, flags), 28);
    const_assert_eq!(size_of::<vyre_ticket>(), 8);
    const_assert_eq!(offset_of!(vyre_ticket, generation), 4);
    const_assert_eq!(size_of::<vyre_slot_request>(), 60);
    const_assert_eq!(offset_of!(vyre_slot_request, args), 12);
    const_assert_eq!(size_of::<vyre_debug_record>(), 44);
    const_assert_eq!(offset_of!(vyre_debug_record, values), 12);
    const_assert_eq!(size_of::<vyre_megakernel_stats>(), 56);
    const_assert_eq!(align_of::<vyre_megakernel_stats>(), 8);
    const_assert_eq!(offset_of!(vyre_megakernel_stats, fault_count), 32);
    const_assert_eq!(offset_of!(vyre_megakernel_stats, published_count), 40);
    const_assert_eq!(offset_of!(vyre_megakernel_stats, cancelled_count), 48);
}

/// Read a versioned options struct: `struct_size` must cover this version's
/// struct, and any larger tail (fields of a newer header) must be zero.
///
/// # Safety
/// `ptr` must point to at least `struct_size` readable bytes, its first
/// field being that `struct_size` (a `u32`).
pub(crate) unsafe fn read_sized<T: Copy>(ptr: *const T, what: &str) -> Result<T> {
    let base = ptr.cast::<u8>();
    // SAFETY: every sized struct starts with a u32 struct_size; ptr is non-NULL (checked by the caller).
    let declared = unsafe { base.cast::<u32>().read_unaligned() };
    let size = check_struct_size::<T>(declared, what)?;
    // SAFETY: the caller guarantees `declared` readable bytes.
    let tail = unsafe { std::slice::from_raw_parts(base.add(size as usize), (declared - size) as usize) };
    if tail.iter().any(|&b| b != 0) {
        return Err(Error::invalid(format!(
            "{what} sets fields this libvyre ({}) does not know; upgrade libvyre or leave them 0",
            env!("CARGO_PKG_VERSION")
        )));
    }
    // SAFETY: at least size_of::<T>() bytes are readable, and T is plain old data.
    Ok(unsafe { ptr.read_unaligned() })
}

/// Check a caller's `struct_size` against this version's struct; returns
/// this version's size.
pub(crate) fn check_struct_size<T>(declared: u32, what: &str) -> Result<u32> {
    let size = std::mem::size_of::<T>() as u32;
    if declared < size || declared > MAX_STRUCT_SIZE {
        return Err(Error::invalid(format!(
            "{what}.struct_size is {declared} but this libvyre needs {size}..={MAX_STRUCT_SIZE}; \
             set it to sizeof({what})"
        )));
    }
    Ok(size)
}

pub(crate) fn backend_to_c(choice: BackendChoice) -> u32 {
    match choice {
        BackendChoice::Auto => VYRE_BACKEND_AUTO,
        BackendChoice::Reference => VYRE_BACKEND_REFERENCE,
        BackendChoice::Vulkan => VYRE_BACKEND_VULKAN,
    }
}

/// A `VYRE_BACKEND_*` value.
pub(crate) fn backend_from_c(backend: u32) -> Result<BackendChoice> {
    match backend {
        VYRE_BACKEND_AUTO => Ok(BackendChoice::Auto),
        VYRE_BACKEND_REFERENCE => Ok(BackendChoice::Reference),
        VYRE_BACKEND_VULKAN => Ok(BackendChoice::Vulkan),
        other => Err(Error::invalid(format!(
            "backend {other} is not a VYRE_BACKEND_* value this build supports \
             (VYRE_BACKEND_AUTO, VYRE_BACKEND_REFERENCE, VYRE_BACKEND_VULKAN)"
        ))),
    }
}

fn options_from_c(c: &vyre_megakernel_options) -> Result<Options> {
    let backend = backend_from_c(c.backend)?;
    if c.flags != 0 {
        return Err(Error::invalid(format!("flags is {:#x}; no flags are defined, pass 0", c.flags)));
    }
    Ok(Options {
        backend,
        slot_count: c.slot_count,
        worker_count: c.worker_count,
        observable_count: c.observable_count,
        tenant_count: c.tenant_count,
        debug_log_capacity: c.debug_log_capacity,
        device: (c.device_index != VYRE_DEVICE_DEFAULT).then_some(c.device_index),
        ..Options::default()
    })
}

/// The megakernel behind a handle.
///
/// # Safety
/// A non-NULL `mk` must come from `vyre_megakernel_create` and not be destroyed.
unsafe fn handle<'a>(mk: *const vyre_megakernel) -> Result<&'a Megakernel> {
    // SAFETY: forwarded to the caller's contract.
    unsafe { input(mk, "mk") }.map(|mk| &mk.inner)
}

pub(crate) fn millis(timeout_ms: u32) -> Duration {
    if timeout_ms == VYRE_WAIT_FOREVER {
        Duration::MAX
    } else {
        Duration::from_millis(u64::from(timeout_ms))
    }
}

fn ticket_to_c(ticket: Ticket) -> vyre_ticket {
    vyre_ticket { slot: ticket.slot, generation: ticket.generation }
}

/// Fill `opts` with the defaults (and `struct_size`).
///
/// # Safety
/// `opts` must be NULL (an error) or point to a writable options struct.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_options_init(opts: *mut vyre_megakernel_options) -> vyre_status {
    guard("vyre_megakernel_options_init", || {
        output(opts, "opts")?.write(vyre_megakernel_options {
            struct_size: std::mem::size_of::<vyre_megakernel_options>() as u32,
            backend: VYRE_BACKEND_AUTO,
            slot_count: 0,
            worker_count: 0,
            observable_count: 0,
            tenant_count: 0,
            debug_log_capacity: 0,
            flags: 0,
            device_index: VYRE_DEVICE_DEFAULT,
        });
        Ok(())
    })
}

/// Create a megakernel and start its workers. `opts` may be NULL for all
/// defaults. On success `*out` receives the handle, to be released with
/// `vyre_megakernel_destroy`.
///
/// # Safety
/// `opts`, if not NULL, must point to `opts->struct_size` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_create(
    opts: *const vyre_megakernel_options,
    out: *mut *mut vyre_megakernel,
) -> vyre_status {
    guard("vyre_megakernel_create", || {
        let out = output(out, "out")?;
        let options = if opts.is_null() {
            Options::default()
        } else {
            // SAFETY: non-NULL, and the caller guarantees struct_size readable bytes.
            options_from_c(&unsafe { read_sized(opts, "vyre_megakernel_options") }?)?
        };
        let inner = Megakernel::create(&options)?;
        out.write(Box::into_raw(Box::new(vyre_megakernel { inner })));
        Ok(())
    })
}

/// Stop the megakernel and free it: slots still in flight are cancelled
/// and every worker is joined. NULL is a no-op. No other call on `mk` may
/// overlap this one or follow it.
///
/// # Safety
/// `mk` must be NULL or a handle from `vyre_megakernel_create` not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_destroy(mk: *mut vyre_megakernel) {
    // SAFETY: forwarded to the caller's contract.
    unsafe { super::destroy_handle("vyre_megakernel_destroy", mk) }
}

/// Publish one slot: `opcode` for `tenant` with `arg_count` arguments
/// (at most `VYRE_SLOT_MAX_ARGS`; unused ones are sent as 0). Returns
/// `VYRE_E_QUEUE_FULL` when no slot is free (retry after work completes).
/// On success `*out_ticket` names the publication.
///
/// # Safety
/// `mk` must be a live handle; `args` must hold `arg_count` values (may be
/// NULL when `arg_count` is 0).
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_publish(
    mk: *mut vyre_megakernel,
    opcode: u32,
    tenant: u32,
    args: *const u32,
    arg_count: usize,
    out_ticket: *mut vyre_ticket,
) -> vyre_status {
    guard("vyre_megakernel_publish", || {
        // SAFETY: caller contract.
        let mk = unsafe { handle(mk) }?;
        let out = output(out_ticket, "out_ticket")?;
        // SAFETY: caller contract.
        let args = unsafe { input_slice(args, arg_count, "args") }?;
        out.write(ticket_to_c(mk.publish(opcode, tenant, args)?));
        Ok(())
    })
}

/// Publish `count` requests followed by a BATCH_FENCE that completes only
/// after all of them finished; it then advances the epoch and writes the new
/// epoch to the tenant's observable `epoch_observable` (window index, or
/// `VYRE_NO_OBSERVABLE`). All requests must share one tenant. Nothing is
/// published unless everything validates and `count + 1` slots are free
/// (`VYRE_E_QUEUE_FULL` otherwise). `out_member_tickets`, if not NULL,
/// receives `count` tickets; `*out_fence_ticket` the fence's.
///
/// # Safety
/// `mk` must be a live handle; `requests` must hold `count` requests;
/// `out_member_tickets` must be NULL or hold `count` tickets.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_publish_batch(
    mk: *mut vyre_megakernel,
    requests: *const vyre_slot_request,
    count: usize,
    epoch_observable: u32,
    out_member_tickets: *mut vyre_ticket,
    out_fence_ticket: *mut vyre_ticket,
) -> vyre_status {
    guard("vyre_megakernel_publish_batch", || {
        // SAFETY: caller contract.
        let mk = unsafe { handle(mk) }?;
        let out = output(out_fence_ticket, "out_fence_ticket")?;
        // SAFETY: caller contract.
        let requests = unsafe { input_slice(requests, count, "requests") }?;
        // Before allocating anything in proportion to `count`.
        if count >= crate::protocol::abi::VYRE_MAX_SLOTS as usize {
            return Err(Error::invalid(format!(
                "a batch of {count} slots and its fence cannot fit any ring (at most VYRE_MAX_SLOTS = \
                 {} slots); split it into several batches",
                crate::protocol::abi::VYRE_MAX_SLOTS
            )));
        }
        let mut slot_requests = Vec::with_capacity(requests.len());
        for (i, request) in requests.iter().enumerate() {
            let Some(args) = request.args.get(..request.arg_count as usize) else {
                return Err(Error::invalid(format!(
                    "requests[{i}].arg_count is {} but a slot carries at most {VYRE_SLOT_MAX_ARGS} arguments",
                    request.arg_count
                )));
            };
            slot_requests.push(SlotRequest { opcode: request.opcode, tenant: request.tenant, args });
        }
        let mut members = vec![Ticket { slot: 0, generation: 0 }; requests.len()];
        let fence = mk.publish_batch(&slot_requests, epoch_observable, Some(&mut members))?;
        if !out_member_tickets.is_null() {
            // SAFETY: caller contract: count writable tickets.
            let tickets = unsafe { output_slice(out_member_tickets, count, "out_member_tickets") }?;
            for (out, &ticket) in tickets.iter_mut().zip(&members) {
                *out = ticket_to_c(ticket);
            }
        }
        out.write(ticket_to_c(fence));
        Ok(())
    })
}

/// Wait up to `timeout_ms` (or `VYRE_WAIT_FOREVER`) for a ticket's slot.
/// Returns `VYRE_OK` when it completed DONE; `VYRE_E_SLOT_FAULT` when it
/// faulted (the message says why); `VYRE_E_CANCELLED` or
/// `VYRE_E_DEVICE_LOST` when it never ran; `VYRE_E_TIMEOUT` when still in
/// flight; `VYRE_E_TICKET_EXPIRED` when the slot was reused `VYRE_TICKET_HISTORY`
/// times since (its outcome is no longer recorded).
///
/// # Safety
/// `mk` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_wait(
    mk: *mut vyre_megakernel,
    ticket: vyre_ticket,
    timeout_ms: u32,
) -> vyre_status {
    guard("vyre_megakernel_wait", || {
        // SAFETY: caller contract.
        let mk = unsafe { handle(mk) }?;
        mk.wait(Ticket { slot: ticket.slot, generation: ticket.generation }, millis(timeout_ms))
    })
}

/// Wait up to `timeout_ms` until every published slot has finished.
///
/// # Safety
/// `mk` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_wait_idle(mk: *mut vyre_megakernel, timeout_ms: u32) -> vyre_status {
    guard("vyre_megakernel_wait_idle", || {
        // SAFETY: caller contract.
        unsafe { handle(mk) }?.wait_idle(millis(timeout_ms))
    })
}

/// Stop accepting slots, let published ones finish for up to
/// `drain_timeout_ms`, then stop the workers and cancel what did not run.
/// Returns `VYRE_OK` if everything finished, `VYRE_E_CANCELLED` if some
/// slots were cancelled (the megakernel is stopped in both cases), and
/// `VYRE_E_SHUTDOWN` if this function already ran on it. After a SHUTDOWN
/// slot stopped the workers it still returns `VYRE_OK` or
/// `VYRE_E_CANCELLED`, cancelling what did not run. Reads stay valid after
/// shutdown; publishes fail with `VYRE_E_SHUTDOWN`.
///
/// # Safety
/// `mk` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_shutdown(mk: *mut vyre_megakernel, drain_timeout_ms: u32) -> vyre_status {
    guard("vyre_megakernel_shutdown", || {
        // SAFETY: caller contract.
        unsafe { handle(mk) }?.shutdown(millis(drain_timeout_ms))
    })
}

/// The epoch: how many BATCH_FENCEs have completed.
///
/// # Safety
/// `mk` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_epoch(mk: *mut vyre_megakernel, out_epoch: *mut u32) -> vyre_status {
    guard("vyre_megakernel_epoch", || {
        // SAFETY: caller contract.
        let mk = unsafe { handle(mk) }?;
        output(out_epoch, "out_epoch")?.write(mk.epoch());
        Ok(())
    })
}

/// Copy observables `[first, first + count)` (absolute indices, across all
/// tenants' windows) into `out`.
///
/// # Safety
/// `mk` must be a live handle; `out` must hold `count` values.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_read_observables(
    mk: *mut vyre_megakernel,
    first: u32,
    out: *mut u32,
    count: usize,
) -> vyre_status {
    guard("vyre_megakernel_read_observables", || {
        // SAFETY: caller contract.
        let mk = unsafe { handle(mk) }?;
        // SAFETY: caller contract.
        let out = unsafe { output_slice(out, count, "out") }?;
        // Checks the range before writing anything.
        mk.read_observables(first, out)
    })
}

/// Copy the per-opcode execution counts into `counts`, indexed by
/// `VYRE_METRIC_*` (`VYRE_METRIC_COUNT` values; `len` must be at least that).
///
/// # Safety
/// `mk` must be a live handle; `counts` must hold `len` values.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_read_metrics(
    mk: *mut vyre_megakernel,
    counts: *mut u32,
    len: usize,
) -> vyre_status {
    guard("vyre_megakernel_read_metrics", || {
        // SAFETY: caller contract.
        let mk = unsafe { handle(mk) }?;
        if len < VYRE_METRIC_COUNT as usize {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("counts holds {len} values but there are VYRE_METRIC_COUNT ({VYRE_METRIC_COUNT}) metrics"),
            ));
        }
        // SAFETY: caller contract.
        let out = unsafe { output_slice(counts, VYRE_METRIC_COUNT as usize, "counts") }?;
        out.copy_from_slice(&mk.metrics());
        Ok(())
    })
}

/// Copy committed debug-log records from record index `first` on into
/// `out` (at most `capacity`); `*out_count` receives how many were copied
/// (0 once `first` reaches the end) and `*out_dropped`, if not NULL, how
/// many PRINTFs found the log full. Page through the log by advancing
/// `first` by `*out_count`.
///
/// # Safety
/// `mk` must be a live handle; `out` must hold `capacity` records (may be
/// NULL when `capacity` is 0).
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_read_debug_log(
    mk: *mut vyre_megakernel,
    first: u32,
    out: *mut vyre_debug_record,
    capacity: usize,
    out_count: *mut usize,
    out_dropped: *mut u32,
) -> vyre_status {
    guard("vyre_megakernel_read_debug_log", || {
        // SAFETY: caller contract.
        let mk = unsafe { handle(mk) }?;
        let count_out = output(out_count, "out_count")?;
        // SAFETY: caller contract.
        let out = unsafe { output_slice(out, capacity, "out") }?;
        let contents = mk.debug_log(first)?;
        let copied = out.len().min(contents.records.len());
        for (dst, record) in out.iter_mut().zip(&contents.records) {
            *dst = vyre_debug_record {
                tenant: record.tenant,
                format_id: record.format_id,
                value_count: record.value_count,
                values: record.values,
            };
        }
        count_out.write(copied);
        if let Some(dropped) = optional_output(out_dropped) {
            dropped.write(contents.dropped);
        }
        Ok(())
    })
}

/// Give `tenant` the observables `[base, base + len)`: its STORE/ADD/LOAD/
/// CAS/MEMCPY indices are relative to `base` and must stay below `len`.
/// Takes effect for slots claimed afterwards.
///
/// # Safety
/// `mk` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_set_tenant_window(
    mk: *mut vyre_megakernel,
    tenant: u32,
    base: u32,
    len: u32,
) -> vyre_status {
    guard("vyre_megakernel_set_tenant_window", || {
        // SAFETY: caller contract.
        unsafe { handle(mk) }?.set_tenant_window(tenant, base, len)
    })
}

/// Let `tenant` publish `opcode` (from its own window:
/// `VYRE_TENANT_OPCODE_BASE + tenant * VYRE_TENANT_OPCODE_WINDOW + n`), which
/// then runs the data built-in `builtin` (NOP, STORE_U32, ATOMIC_ADD,
/// LOAD_U32, COMPARE_SWAP, MEMCPY or PRINTF) inside the tenant's window.
///
/// # Safety
/// `mk` must be a live handle.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_register_tenant_opcode(
    mk: *mut vyre_megakernel,
    tenant: u32,
    opcode: u32,
    builtin: u32,
) -> vyre_status {
    guard("vyre_megakernel_register_tenant_opcode", || {
        // SAFETY: caller contract.
        unsafe { handle(mk) }?.register_tenant_opcode(tenant, opcode, builtin)
    })
}

/// Fill `*out` with the megakernel's counters. Set `out->struct_size` to
/// `sizeof(vyre_megakernel_stats)` first.
///
/// # Safety
/// `mk` must be a live handle; `out` must point to `out->struct_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn vyre_megakernel_read_stats(
    mk: *mut vyre_megakernel,
    out: *mut vyre_megakernel_stats,
) -> vyre_status {
    guard("vyre_megakernel_read_stats", || {
        // SAFETY: caller contract.
        let mk = unsafe { handle(mk) }?;
        // SAFETY: caller contract (input only reads the leading struct_size).
        let declared = unsafe { input(out.cast_const().cast::<u32>(), "out") }?;
        check_struct_size::<vyre_megakernel_stats>(*declared, "vyre_megakernel_stats")?;
        let out = output(out, "out")?;
        let stats = mk.stats();
        out.write(vyre_megakernel_stats {
            struct_size: std::mem::size_of::<vyre_megakernel_stats>() as u32,
            backend: backend_to_c(mk.backend()),
            slot_count: stats.slot_count,
            worker_count: stats.worker_count,
            observable_count: stats.observable_count,
            tenant_count: stats.tenant_count,
            epoch: stats.epoch,
            done_count: stats.done,
            fault_count: stats.faulted,
            lane_count: stats.lane_count,
            published_count: stats.published,
            cancelled_count: stats.cancelled,
        });
        Ok(())
    })
}
