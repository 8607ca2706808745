//! Device reads from C (docs/PUMP.md "Device reads"): publish an IO_READ on
//! the engine's kernel and collect its outcome; the pump that serves the
//! engine answers it inside `vyre_pump_drain`.
#![allow(non_camel_case_types)] // C names: the header and Rust say the same thing.

use super::engine::{handle, vyre_engine};
use super::megakernel::read_sized;
use super::{guard, input, output};
use crate::engine::{ReadOutcome, ReadRequest, ReadTicket};
use crate::error::{vyre_status, Error, ErrorKind};
use crate::megakernel::Ticket;

/// `vyre_read_outcome.kind`: the read finished; `value` is the bytes moved
/// (fewer than asked at the end of the file).
pub const VYRE_READ_DONE: u32 = 1;
/// `vyre_read_outcome.kind`: the pump refused or failed the read; `value`
/// is the positive errno (`EBADF`: unknown source, `EFAULT`: outside the
/// source's window, ...).
pub const VYRE_READ_ERRNO: u32 = 2;
/// `vyre_read_outcome.kind`: the slot never ran to an answer; `value` is
/// its `VYRE_FAULT_*` reason (cancelled, device lost).
pub const VYRE_READ_FAULT: u32 = 3;

/// What `vyre_engine_request_read` asks the pump to read: the same fields an
/// IO_READ lane writes (docs/PROTOCOL.md §12), so they are as untrusted as a
/// device's and the pump checks every one when it serves the request.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct vyre_read_request {
    /// `sizeof(vyre_read_request)`: lets the struct grow compatibly.
    pub struct_size: u32,
    /// Index from `vyre_pump_register_fd` / `vyre_pump_register_path`.
    pub source: u32,
    /// Arena byte offset the bytes land at, inside the source's window
    /// (32 bits, as the device's request word).
    pub arena_offset: u32,
    /// Bytes wanted.
    pub byte_count: u32,
    /// File offset (0 for a pipe or FIFO).
    pub file_offset: u64,
    /// Copied to the IO queue's TAG word.
    pub tag: u32,
    /// Reserved; must be 0.
    pub flags: u32,
}

/// Names one published device read; pass it to `vyre_engine_read_result`
/// unchanged. Opaque: a plain value, copy it freely.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct vyre_read_ticket {
    pub slot: u32,
    pub generation: u32,
}

/// How a device read ended (`vyre_engine_read_result`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct vyre_read_outcome {
    /// `VYRE_READ_DONE`, `VYRE_READ_ERRNO` or `VYRE_READ_FAULT`.
    pub kind: u32,
    /// Bytes moved, errno or fault reason, as `kind` says.
    pub value: u32,
}

// Mirrored by _Static_assert in c_tests/test_pump.c.
mod layout {
    use super::*;
    use static_assertions::const_assert_eq;
    use std::mem::{align_of, offset_of, size_of};

    const_assert_eq!(size_of::<vyre_read_request>(), 32);
    const_assert_eq!(align_of::<vyre_read_request>(), 8);
    const_assert_eq!(offset_of!(vyre_read_request, byte_count), 12);
    const_assert_eq!(offset_of!(vyre_read_request, file_offset), 16);
    const_assert_eq!(offset_of!(vyre_read_request, flags), 28);
    const_assert_eq!(size_of::<vyre_read_ticket>(), 8);
    const_assert_eq!(offset_of!(vyre_read_ticket, generation), 4);
    const_assert_eq!(size_of::<vyre_read_outcome>(), 8);
    const_assert_eq!(offset_of!(vyre_read_outcome, value), 4);
}

/// Publish a device read: an IO_READ slot whose lane asks, through the
/// engine's IO queue, for `req->byte_count` bytes of source `req->source`
/// from `req->file_offset` into the arena at `req->arena_offset`. A pump on
/// this engine with the source registered serves it inside
/// `vyre_pump_drain`; `*out_ticket` names it for `vyre_engine_read_result`.
/// The request's fields are checked when the pump serves it (a bad one is
/// answered `VYRE_READ_ERRNO`), not here.
///
/// `VYRE_E_QUEUE_FULL`: all `VYRE_IO_SLOT_COUNT` IO slots or the ring are
/// taken; collect outcomes (draining the pump), then retry.
/// `VYRE_E_INVALID_ARGUMENT`: a bad `struct_size` or non-zero `flags`.
///
/// # Safety
/// `engine` must be a live handle; `req` must point to `req->struct_size`
/// readable bytes; `out_ticket` writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_request_read(
    engine: *mut vyre_engine,
    req: *const vyre_read_request,
    out_ticket: *mut vyre_read_ticket,
) -> vyre_status {
    guard("vyre_engine_request_read", || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        let out = output(out_ticket, "out_ticket")?;
        if req.is_null() {
            return Err(super::null("req"));
        }
        // SAFETY: non-NULL, and the caller guarantees struct_size readable bytes.
        let req = unsafe { read_sized(req, "vyre_read_request") }?;
        if req.flags != 0 {
            return Err(Error::invalid(format!(
                "vyre_read_request.flags is {:#x}; none are defined, pass 0",
                req.flags
            )));
        }
        let ticket = engine.request_read(&ReadRequest {
            source: req.source,
            arena_offset: req.arena_offset,
            file_offset: req.file_offset,
            byte_count: req.byte_count,
            tag: req.tag,
        })?;
        out.write(vyre_read_ticket { slot: ticket.ticket.slot, generation: ticket.ticket.generation });
        Ok(())
    })
}

/// The outcome of a device read, without blocking. `VYRE_OK`: `*out` holds
/// it; the first answer frees the read's slots, and asking again answers
/// the same until a later request reuses the slot. `VYRE_E_TIMEOUT`: still
/// in flight (`*out` untouched); call `vyre_pump_drain`, then ask again.
/// `VYRE_E_TICKET_EXPIRED`: the slot has moved on to a later request.
/// `VYRE_E_INVALID_ARGUMENT` / `VYRE_E_OUT_OF_RANGE`: the ticket names no
/// device read (it did not come from `vyre_engine_request_read`).
/// `VYRE_E_DEVICE_LOST` once the device is gone.
///
/// # Safety
/// `engine` must be a live handle; `ticket` readable; `out` writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_engine_read_result(
    engine: *mut vyre_engine,
    ticket: *const vyre_read_ticket,
    out: *mut vyre_read_outcome,
) -> vyre_status {
    guard("vyre_engine_read_result", || {
        // SAFETY: caller contract.
        let engine = unsafe { handle(engine) }?;
        // SAFETY: caller contract.
        let ticket = unsafe { input(ticket, "ticket") }?;
        let out = output(out, "out")?;
        let ticket = ReadTicket { ticket: Ticket { slot: ticket.slot, generation: ticket.generation } };
        let outcome = engine.read_result(&ticket)?.ok_or_else(|| {
            Error::new(
                ErrorKind::Timeout,
                "the read is still in flight; call vyre_pump_drain (a pump serves device reads), then ask again",
            )
        })?;
        out.write(match outcome {
            ReadOutcome::Done(bytes) => vyre_read_outcome { kind: VYRE_READ_DONE, value: bytes },
            ReadOutcome::Errno(errno) => vyre_read_outcome { kind: VYRE_READ_ERRNO, value: errno },
            ReadOutcome::Fault(reason) => vyre_read_outcome { kind: VYRE_READ_FAULT, value: reason },
        });
        Ok(())
    })
}
