//! Device-initiated reads (docs/PROTOCOL.md §12, docs/PUMP.md "Device
//! reads"): an IO_READ slot on the engine's kernel asks the host, through
//! the IO queue in the scan state, to read a file range into the arena; the
//! engine's pump services the queue. This is the host end that publishes
//! such slots and reads their outcome.
//!
//! The engine hands each request its own IO slot (one requester per slot,
//! as the queue's state machine requires) and takes it back once the ring
//! slot is final, by which time the lane has recycled it to EMPTY.

use super::Engine;
use crate::error::{Error, ErrorKind, Result};
use crate::megakernel::Ticket;
use crate::protocol::abi::*;
use crate::protocol::io_queue::{self, IoQueue, Request};
use crate::protocol::slot::{Payload, Ring};

/// What a device asks to read. Nothing here is checked on the host side of
/// the publish: like any device-written request, the pump validates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadRequest {
    /// Index from `Pump::register_fd` / `register_path`.
    pub source: u32,
    /// Arena byte offset the bytes land at.
    pub arena_offset: u32,
    pub file_offset: u64,
    pub byte_count: u32,
    /// Written to the request's TAG word.
    pub tag: u32,
}

/// A published IO_READ: its ring slot and generation. The IO slot is read
/// back from the slot's own arguments, so a ticket carries nothing a
/// caller could forge into freeing another request's IO slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTicket {
    pub(crate) ticket: Ticket,
}

/// How an IO_READ ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// DONE: bytes moved (fewer than asked at the end of the file).
    Done(u32),
    /// FAULT `VYRE_FAULT_IO`: the host's positive errno.
    Errno(u32),
    /// FAULT with another reason (`VYRE_FAULT_*`: cancelled, device lost).
    Fault(u32),
}

impl Engine {
    /// The IO queue in the scan state, which the pump services. Located
    /// from the host's own layout, never from header words the device can
    /// write (and that cost a PCIe read each on a GPU).
    pub(crate) fn io_queue(&self) -> IoQueue<'_> {
        let first = self.layout.io() as usize;
        let words = self.layout.io_slots() as usize * VYRE_IO_SLOT_WORDS as usize;
        IoQueue::new(&self.buffers().state[first..first + words])
            .expect("the engine's layout always holds a whole IO queue (ScanLayout::state_words checked it)")
    }

    /// Publish an IO_READ: a lane writes `request` into a free IO slot and
    /// the slot finishes once the pump has answered it. `QueueFull` when all
    /// `VYRE_IO_SLOT_COUNT` IO slots or the ring are taken.
    pub fn request_read(&self, request: &ReadRequest) -> Result<ReadTicket> {
        let Some(io_slot) = self.free_io.pop() else {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!(
                    "all {VYRE_IO_SLOT_COUNT} IO slots are in flight; collect results with read_result, then retry"
                ),
            ));
        };
        let args = io_queue::read_args(&Request {
            slot: io_slot,
            op: VYRE_IO_OP_READ,
            src: request.source,
            dst: request.arena_offset,
            offset: request.file_offset,
            byte_count: request.byte_count,
            tag: request.tag,
        });
        let mut ticket = [Ticket { slot: 0, generation: 0 }];
        if let Err(e) = self.megakernel.publish_owned(VYRE_OP_IO_READ, &[args], &mut ticket) {
            let _ = self.free_io.push(io_slot);
            return Err(e);
        }
        Ok(ReadTicket { ticket: ticket[0] })
    }

    /// The outcome of an IO_READ, or `None` while it is in flight. The
    /// first answer frees the ticket's IO slot and ring slot; a later call
    /// answers the same until the ring slot is reused, then
    /// `TicketExpired` (the generation is checked: never another request's
    /// outcome). A ticket whose slot holds no IO_READ (forged, or another
    /// kind of work) is `InvalidArgument` and changes nothing.
    pub fn read_result(&self, ticket: &ReadTicket) -> Result<Option<ReadOutcome>> {
        self.megakernel.backend_ref().health()?;
        let ring = Ring::new(self.megakernel.backend_ref().ring())?;
        let status = ring.status(ticket.ticket.slot)?;
        if status.generation != ticket.ticket.generation & VYRE_STATUS_GENERATION_MASK {
            return Err(Error::new(
                ErrorKind::TicketExpired,
                format!(
                    "ring slot {} has moved on to another request since this read (or the ticket was never \
                     issued); keep the outcome from the first answer",
                    ticket.ticket.slot
                ),
            ));
        }
        // Read after the status (acquire): final arguments when it is final.
        let payload = Payload::decode(self.megakernel.backend_ref().ring(), ticket.ticket.slot)?;
        if payload.opcode != VYRE_OP_IO_READ {
            return Err(Error::invalid(format!(
                "ring slot {} holds opcode {}, not an IO_READ: pass a ticket from request_read, unchanged",
                ticket.ticket.slot, payload.opcode
            )));
        }
        if !status.is_reusable() {
            return Ok(None);
        }
        // Another call with this ticket may have freed the slot and a new
        // request taken it while the arguments were read: then they are not ours.
        if ring.status(ticket.ticket.slot)? != status {
            return self.read_result(ticket);
        }
        let result = payload.args[VYRE_IO_ARG_RESULT as usize];
        let outcome = match (status.state, status.reason) {
            (VYRE_SLOT_DONE, _) => ReadOutcome::Done(result),
            (_, VYRE_FAULT_IO) => ReadOutcome::Errno(result),
            (_, reason) => ReadOutcome::Fault(reason),
        };
        // Only the first answer frees the slots.
        if !self.megakernel.mark_finished(ticket.ticket) {
            return Ok(Some(outcome));
        }
        // A request cancelled before the host answered may leave its IO
        // slot REQUESTED or CLAIMED: that slot is not reused.
        let io_slot = payload.args[VYRE_IO_ARG_SLOT as usize];
        if self.io_queue().state(io_slot).ok() == Some(VYRE_IO_EMPTY) {
            let _ = self.free_io.push(io_slot);
        }
        Ok(Some(outcome))
    }
}
