//! The host side of a megakernel: publishing slots, batches closed by
//! counting fences, waiting on tickets, reading results, shutting down.
//!
//! Host threads share the ring without locks. Each slot has a host word
//! (`host_slots`) holding its 32-bit generation, a BUSY bit while one host
//! thread writes it, and the outcome of the current generation once a
//! waiter has seen it. A publisher takes a slot by compare-and-swap on that
//! word, so two host threads never write one slot. Before a slot is reused,
//! the outcome of the generation it retires goes into a small per-slot
//! history, so a ticket `(slot, generation)` stays answerable until its slot
//! has been reused `VYRE_TICKET_HISTORY` times; after that it reports
//! `TicketExpired` instead of guessing.

use crate::backend::{self, Backend, BackendChoice, BackendConfig};
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::abi::*;
use crate::protocol::control::{opcode_owner, Control, Layout, Window};
use crate::protocol::debug_log::{self, Contents};
use crate::protocol::opcode::check_args;
use crate::protocol::scan::ScanLayout;
use crate::protocol::slot::{fault_name, Payload, Ring, Status};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Creation options; zero means "default" for every count.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub backend: BackendChoice,
    pub slot_count: u32,
    pub worker_count: u32,
    pub observable_count: u32,
    pub tenant_count: u32,
    pub debug_log_capacity: u32,
    /// Vulkan device index; `None` = default choice.
    pub device: Option<u32>,
    /// Vulkan slice length in loop iterations per lane; `None` = default.
    pub slice_budget: Option<u32>,
    /// Vulkan watchdog limit; `None` = `VYRE_WATCHDOG_MS` or 10 s.
    pub watchdog: Option<Duration>,
    /// Scanning buffers (the engine's); `ScanLayout::NONE` for a bare megakernel.
    pub scan: ScanLayout,
    /// Keep a kernel resident (the default), or run one dispatch per batch
    /// of published work (the engine's Disable mode, a baseline).
    pub resident: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            backend: BackendChoice::Auto,
            slot_count: 0,
            worker_count: 0,
            observable_count: 0,
            tenant_count: 0,
            debug_log_capacity: 0,
            device: None,
            slice_budget: None,
            watchdog: None,
            scan: ScanLayout::NONE,
            resident: true,
        }
    }
}

fn or_default(value: u32, default: u32) -> u32 {
    if value == 0 {
        default
    } else {
        value
    }
}

/// Names one publication of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub slot: u32,
    pub generation: u32,
}

/// One slot of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRequest<'a> {
    pub opcode: u32,
    pub tenant: u32,
    pub args: &'a [u32],
}

/// Counters of a megakernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub published: u64,
    pub done: u32,
    pub faulted: u32,
    pub cancelled: u64,
    pub epoch: u32,
    pub slot_count: u32,
    pub worker_count: u32,
    pub lane_count: u32,
    pub observable_count: u32,
    pub tenant_count: u32,
}

// Host slot word: generation << 32 | seen outcome << 1 | BUSY. Outcome
// bytes: 0 = none recorded, 1 = DONE, 2 + reason = FAULT. "Seen" is the
// outcome of the current generation, recorded by the first waiter that saw
// it final; it spares a read of the device's status word, which on a GPU
// costs a trip over PCIe.
const BUSY: u64 = 1;
const SEEN_SHIFT: u32 = 1;
/// Retired generations remembered per slot (history entry: generation << 32
/// | outcome byte, at index generation % HISTORY).
const HISTORY: u32 = VYRE_TICKET_HISTORY;
const OUTCOME_MASK: u64 = 0xFF;
const OUTCOME_DONE: u64 = 1;
const OUTCOME_FAULT_BASE: u64 = 2;

/// The outcome byte of a final status, 0 for one still in flight or EMPTY.
fn outcome_of(status: Status) -> u64 {
    match status.state {
        VYRE_SLOT_DONE => OUTCOME_DONE,
        VYRE_SLOT_FAULT => OUTCOME_FAULT_BASE + u64::from(status.reason),
        _ => 0,
    }
}

/// The ticket state an outcome byte records, if any.
fn state_of(outcome: u64) -> Option<TicketState> {
    match outcome {
        0 => None,
        OUTCOME_DONE => Some(TicketState::Done),
        fault => Some(TicketState::Fault((fault - OUTCOME_FAULT_BASE) as u32)),
    }
}

fn host_generation(word: u64) -> u32 {
    (word >> 32) as u32
}

// Fence table entry: FREE, SETTING_UP, or the fence slot's ticket + 1.
const FENCE_FREE: u64 = 0;
const FENCE_SETTING_UP: u64 = u64::MAX;

fn pack_ticket(ticket: Ticket) -> u64 {
    (u64::from(ticket.generation) << 32 | u64::from(ticket.slot)) + 1
}

fn unpack_ticket(value: u64) -> Ticket {
    let value = value - 1;
    Ticket { slot: value as u32, generation: (value >> 32) as u32 }
}

/// A slot this host thread holds BUSY until it publishes or gives it back.
struct Reservation {
    slot: u32,
    generation: u32,
    /// The host word before the reservation, restored if it is given back.
    original: u64,
}

/// Where a ticket's work stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TicketState {
    Pending,
    Done,
    Fault(u32),
    Expired,
}

const RUNNING: u32 = 0;
const DRAINING: u32 = 1;
const STOPPED: u32 = 2;

/// A running megakernel: a backend plus the host-side bookkeeping.
pub struct Megakernel {
    backend: Box<dyn Backend>,
    layout: Layout,
    host_slots: Box<[AtomicU64]>,
    history: Box<[AtomicU64]>,
    fences: Box<[AtomicU64]>,
    /// Members of the batch each fence counter serves.
    fence_members: Box<[AtomicU32]>,
    cursor: AtomicU32,
    fence_cursor: AtomicU32,
    state: AtomicU32,
    publishing: AtomicU32,
    /// A SHUTDOWN slot of tenant 0 was published: the kernel is stopping,
    /// so no more work is accepted. (Only the host publishes, so it knows
    /// without reading the device's SHUTDOWN word.)
    shutdown_published: AtomicBool,
    published: AtomicU64,
    cancelled: AtomicU64,
    registry: Mutex<()>,
    /// Only its owner (the engine) publishes, and it reports every slot's
    /// end through `mark_finished`: a slot with no recorded outcome is in
    /// flight, so reserving one never reads the device's status word.
    owner_tracks_outcomes: bool,
}

impl Megakernel {
    /// Validate `options`, start the backend and return the running megakernel.
    pub fn create(options: &Options) -> Result<Megakernel> {
        let slot_count = or_default(options.slot_count, VYRE_DEFAULT_SLOTS);
        // A batch takes at least one member and its fence, so more counters
        // than half the ring could never be in use at once.
        let fence_count = (slot_count / 2).clamp(1, VYRE_MAX_FENCES);
        let layout = Layout::new(
            slot_count,
            or_default(options.tenant_count, 1),
            or_default(options.observable_count, VYRE_DEFAULT_OBSERVABLES),
            fence_count,
        )?;
        let debug_log_capacity = or_default(options.debug_log_capacity, VYRE_DEFAULT_DEBUG_RECORDS);
        debug_log::words_for(debug_log_capacity)?;
        let config = BackendConfig {
            layout,
            debug_log_capacity,
            workers: options.worker_count,
            device: options.device,
            slice_budget: options.slice_budget,
            watchdog: options.watchdog,
            scan: options.scan,
            resident: options.resident,
        };
        Megakernel::on_backend(backend::start(options.backend, &config)?, layout)
    }

    /// A megakernel only `crate::engine` publishes to (see `owner_tracks_outcomes`).
    pub(crate) fn create_owned(options: &Options) -> Result<Megakernel> {
        let mut megakernel = Megakernel::create(options)?;
        megakernel.owner_tracks_outcomes = true;
        Ok(megakernel)
    }

    /// The host side over a started backend whose buffers follow `layout`.
    pub(crate) fn on_backend(backend: Box<dyn Backend>, layout: Layout) -> Result<Megakernel> {
        let declared = Control::new(backend.control())?.layout().to_owned();
        if declared != layout {
            return Err(Error::new(
                ErrorKind::Internal,
                "the backend's control buffer does not match the requested layout",
            ));
        }
        let (slot_count, fence_count) = (layout.slot_count, layout.fence_count);
        Ok(Megakernel {
            backend,
            layout,
            host_slots: (0..slot_count).map(|_| AtomicU64::new(0)).collect(),
            history: (0..slot_count * HISTORY).map(|_| AtomicU64::new(0)).collect(),
            fences: (0..fence_count).map(|_| AtomicU64::new(FENCE_FREE)).collect(),
            fence_members: (0..fence_count).map(|_| AtomicU32::new(0)).collect(),
            cursor: AtomicU32::new(0),
            fence_cursor: AtomicU32::new(0),
            state: AtomicU32::new(RUNNING),
            publishing: AtomicU32::new(0),
            shutdown_published: AtomicBool::new(false),
            published: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            registry: Mutex::new(()),
            owner_tracks_outcomes: false,
        })
    }

    fn control(&self) -> Control<'_> {
        // `create` validated the buffer's header once; a failure here is a
        // libvyre bug surfaced as a panic that the C boundary turns into
        // VYRE_E_PANIC.
        Control::with_layout(self.backend.control(), self.layout).expect("control buffer matches its layout")
    }

    fn ring(&self) -> Ring<'_> {
        Ring::new(self.backend.ring()).expect("ring matches its layout")
    }

    /// The backend actually running.
    pub fn backend(&self) -> BackendChoice {
        self.backend.kind()
    }

    /// Check that new work is accepted, and count this thread as publishing
    /// until the guard drops (shutdown waits for publishers to leave).
    fn enter_publish(&self) -> Result<PublishGuard<'_>> {
        self.publishing.fetch_add(1, Ordering::AcqRel);
        let guard = PublishGuard(self);
        if self.state.load(Ordering::Acquire) != RUNNING || self.shutdown_published.load(Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::Shutdown,
                "the megakernel is shut down (by vyre_megakernel_shutdown or a SHUTDOWN slot) \
                 and accepts no new slots; create a new one",
            ));
        }
        self.backend.health()?;
        Ok(guard)
    }

    pub(crate) fn check_request(&self, opcode: u32, tenant: u32, args: &[u32]) -> Result<Payload> {
        let payload = Payload::new(opcode, tenant, args)?;
        if opcode == VYRE_OP_DFA_SCAN {
            return Err(Error::invalid(
                "DFA_SCAN slots are published by the scanning engine; scan with vyre_engine_enqueue",
            ));
        }
        if opcode == VYRE_OP_IO_READ {
            return Err(Error::invalid(
                "IO_READ slots need the engine's arena and IO queue; they are published by the engine \
                 (Engine::request_read) and serviced by its pump",
            ));
        }
        if tenant >= self.layout.tenant_count {
            return Err(Error::out_of_range(format!(
                "tenant {tenant} does not exist; this megakernel has {} tenants (0..{}); \
                 create it with a larger tenant_count",
                self.layout.tenant_count, self.layout.tenant_count
            )));
        }
        if let Err((_, message)) = check_args(opcode, &payload.args) {
            return Err(Error::invalid(message));
        }
        if opcode_owner(opcode).is_some() && self.control().tenant_opcode(tenant, opcode).is_none() {
            return Err(Error::invalid(format!(
                "opcode {opcode:#x} is not registered for tenant {tenant}; register it with \
                 vyre_megakernel_register_tenant_opcode first"
            )));
        }
        Ok(payload)
    }

    /// A fence's epoch observable must be in its tenant's window (or none),
    /// checked before anything is published.
    fn check_epoch_observable(&self, tenant: u32, epoch_observable: u32) -> Result<()> {
        let window = self.control().tenant_window(tenant);
        if epoch_observable != VYRE_NO_OBSERVABLE && window.and_then(|w| w.resolve(epoch_observable)).is_none() {
            return Err(Error::out_of_range(format!(
                "epoch_observable {epoch_observable} is outside tenant {tenant}'s window of {} \
                 observables; pass a window index or VYRE_NO_OBSERVABLE",
                window.map_or(0, |w| w.len)
            )));
        }
        Ok(())
    }

    /// Reserve a free slot for this thread: bumps its generation and sets
    /// BUSY.
    fn reserve_slot(&self, ring: &Ring) -> Option<Reservation> {
        let slots = self.layout.slot_count;
        let start = self.cursor.fetch_add(1, Ordering::Relaxed) % slots;
        (0..slots).find_map(|k| self.try_reserve(ring, (start + k) % slots))
    }

    /// Reserve `slot` if it is free.
    fn try_reserve(&self, ring: &Ring, slot: u32) -> Option<Reservation> {
        let host = &self.host_slots[slot as usize];
        let word = host.load(Ordering::Acquire);
        if word & BUSY != 0 {
            return None;
        }
        // A waiter may already have seen this generation finish, and a
        // slot never published is EMPTY; otherwise read the device's
        // status. Read after the host word: if the CAS below succeeds, no
        // other host thread published in between, and the device only
        // ever moves a slot towards DONE/FAULT, so a reusable status
        // stays so.
        let current = host_generation(word);
        let seen = (word >> SEEN_SHIFT) & OUTCOME_MASK;
        if current != 0 {
            let outcome = if seen != 0 {
                seen
            } else if self.owner_tracks_outcomes {
                return None;
            } else {
                let status = ring.status(slot).ok()?;
                // A status of a later generation means another thread
                // republished the slot after our read of the host word.
                if !status.is_reusable() || status.generation != current & VYRE_STATUS_GENERATION_MASK {
                    return None;
                }
                outcome_of(status)
            };
            // Recorded before the generation moves on, so a waiter that
            // sees the new generation finds the old one's outcome. It is
            // a fact about `current` whoever wins the CAS below.
            self.history[self.history_index(slot, current)]
                .store(u64::from(current) << 32 | outcome, Ordering::Release);
        }
        let generation = current.wrapping_add(1).max(1);
        let reserved = u64::from(generation) << 32 | BUSY;
        host.compare_exchange(word, reserved, Ordering::AcqRel, Ordering::Relaxed).ok().map(|original| Reservation {
            slot,
            generation,
            original,
        })
    }

    fn history_index(&self, slot: u32, generation: u32) -> usize {
        (slot * HISTORY + generation % HISTORY) as usize
    }

    /// Clear BUSY after the slot was published (or give up a reservation).
    fn release_slot(&self, slot: u32) {
        self.host_slots[slot as usize].fetch_and(!BUSY, Ordering::AcqRel);
    }

    fn queue_full(&self, needed: usize) -> Error {
        Error::new(
            ErrorKind::QueueFull,
            format!(
                "no {needed} free slot(s) among {} right now; wait for earlier slots (or retry), \
                 or create the megakernel with a larger slot_count",
                self.layout.slot_count
            ),
        )
    }

    /// Publish one slot. `VYRE_OP_BATCH_FENCE` here must have no members
    /// (`args[1] == 0`): it then just advances the epoch.
    pub fn publish(&self, opcode: u32, tenant: u32, args: &[u32]) -> Result<Ticket> {
        let _guard = self.enter_publish()?;
        let payload = self.check_request(opcode, tenant, args)?;
        if opcode == VYRE_OP_BATCH_FENCE && (args.len() != 3 || payload.args[1] != 0) {
            return Err(Error::invalid(
                "a lone BATCH_FENCE takes exactly 3 arguments [0, 0, epoch_observable or \
                 VYRE_NO_OBSERVABLE]; a fence with members is published by \
                 vyre_megakernel_publish_batch, which tags the members",
            ));
        }
        if opcode == VYRE_OP_BATCH_FENCE {
            self.check_epoch_observable(tenant, payload.args[2])?;
        }
        let ring = self.ring();
        let reservation = self.reserve_slot(&ring).ok_or_else(|| self.queue_full(1))?;
        let ticket = self.write_slot(&ring, &reservation, &payload);
        if opcode == VYRE_OP_SHUTDOWN && tenant == 0 {
            self.shutdown_published.store(true, Ordering::Release);
        }
        self.backend.notify(1);
        Ok(ticket)
    }

    /// Publish one tenant-0 slot of `opcode` per entry of `args`, all or
    /// none (`QueueFull` when the ring has no room for all), filling
    /// `tickets`. For the engine: no argument checks beyond the executor's.
    pub(crate) fn publish_owned(
        &self,
        opcode: u32,
        args: &[[u32; VYRE_SLOT_MAX_ARGS as usize]],
        tickets: &mut [Ticket],
    ) -> Result<()> {
        let _guard = self.enter_publish()?;
        if args.len() > tickets.len() || args.len() > self.layout.slot_count as usize {
            return Err(Error::new(
                ErrorKind::Internal,
                format!(
                    "{} slots asked of a ring of {} with room for {} tickets",
                    args.len(),
                    self.layout.slot_count,
                    tickets.len()
                ),
            ));
        }
        let ring = self.ring();
        let reserved = self.reserve_slots(&ring, args.len()).ok_or_else(|| self.queue_full(args.len()))?;
        let slots: Vec<(u32, u32, Payload)> = reserved
            .iter()
            .zip(args)
            .map(|(r, &args)| (r.slot, r.generation, Payload { opcode, tenant: 0, batch: 0, args }))
            .collect();
        // All of them behind one barrier (see Ring::publish_reserved_all).
        ring.publish_reserved_all(&slots);
        self.after_publish(&reserved, tickets);
        self.backend.notify(args.len() as u32);
        Ok(())
    }

    /// Record that `ticket`'s slot finished DONE, as its owner learnt from
    /// the device another way (`owner_tracks_outcomes`); no-op if the slot
    /// has moved on. Returns whether this call recorded it.
    pub(crate) fn mark_finished(&self, ticket: Ticket) -> bool {
        let host = &self.host_slots[ticket.slot as usize];
        let word = host.load(Ordering::Acquire);
        host_generation(word) == ticket.generation
            && word & BUSY == 0
            && (word >> SEEN_SHIFT) & OUTCOME_MASK == 0
            && host
                .compare_exchange(word, word | OUTCOME_DONE << SEEN_SHIFT, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// The backend, for the engine's scanning buffers.
    pub(crate) fn backend_ref(&self) -> &dyn Backend {
        self.backend.as_ref()
    }

    fn write_slot(&self, ring: &Ring, reservation: &Reservation, payload: &Payload) -> Ticket {
        // The reservation guarantees the slot is reusable and ours alone.
        ring.publish_reserved(reservation.slot, reservation.generation, payload);
        let mut ticket = [Ticket { slot: 0, generation: 0 }];
        self.after_publish(std::slice::from_ref(reservation), &mut ticket);
        ticket[0]
    }

    /// Reserved slots' bookkeeping once their status words are published:
    /// their tickets in `tickets`.
    fn after_publish(&self, reserved: &[Reservation], tickets: &mut [Ticket]) {
        for (reservation, ticket) in reserved.iter().zip(tickets) {
            self.release_slot(reservation.slot);
            *ticket = Ticket { slot: reservation.slot, generation: reservation.generation };
        }
        // One add for them all: with an add per slot on this shared line,
        // four threads enqueueing 16 384-part jobs took twice as long
        // (bench/RESULTS.md, fifth session).
        self.published.fetch_add(reserved.len() as u64, Ordering::Relaxed);
    }

    /// Publish `requests` followed by a BATCH_FENCE that completes only once
    /// every one of them has finished, then advances the epoch and writes it
    /// to the tenant's observable `epoch_observable` (or nowhere, for
    /// `VYRE_NO_OBSERVABLE`). Everything is validated and every slot
    /// reserved before anything is written: on error nothing was published.
    /// Returns the fence's ticket and fills `member_tickets` if given.
    pub fn publish_batch(
        &self,
        requests: &[SlotRequest],
        epoch_observable: u32,
        member_tickets: Option<&mut [Ticket]>,
    ) -> Result<Ticket> {
        let _guard = self.enter_publish()?;
        let tenant = requests.first().map_or(0, |r| r.tenant);
        let mut payloads = Vec::with_capacity(requests.len());
        for (i, request) in requests.iter().enumerate() {
            if request.tenant != tenant {
                return Err(Error::invalid(format!(
                    "request {i} is for tenant {} but request 0 for tenant {tenant}; a batch and \
                     its fence belong to one tenant",
                    request.tenant
                )));
            }
            if matches!(request.opcode, VYRE_OP_BATCH_FENCE | VYRE_OP_SHUTDOWN) {
                return Err(Error::invalid(format!(
                    "request {i} is a BATCH_FENCE or SHUTDOWN, which cannot be a batch member; \
                     the batch's own fence is added for you"
                )));
            }
            let payload = self
                .check_request(request.opcode, tenant, request.args)
                .map_err(|e| Error::new(e.kind, format!("request {i}: {}", e.message)))?;
            payloads.push(payload);
        }
        if let Some(tickets) = &member_tickets {
            if tickets.len() < requests.len() {
                return Err(Error::invalid(format!(
                    "member_tickets holds {} tickets but the batch has {} requests",
                    tickets.len(),
                    requests.len()
                )));
            }
        }
        if tenant >= self.layout.tenant_count {
            return Err(Error::out_of_range(format!("tenant {tenant} does not exist")));
        }
        self.check_epoch_observable(tenant, epoch_observable)?;
        let needed = requests.len() + 1;
        if needed > self.layout.slot_count as usize {
            return Err(Error::invalid(format!(
                "a batch of {} requests needs {needed} slots (members + fence) but the ring has \
                 only {}; split the batch or create a larger ring",
                requests.len(),
                self.layout.slot_count
            )));
        }
        let mut fence_payload =
            Payload::new(VYRE_OP_BATCH_FENCE, tenant, &[0, requests.len() as u32, epoch_observable])?;
        let ring = self.ring();
        let fence = self.reserve_fence().ok_or_else(|| {
            Error::new(
                ErrorKind::QueueFull,
                format!(
                    "all {} fence counters are in use by unfinished batches; wait for one",
                    self.layout.fence_count
                ),
            )
        })?;
        fence_payload.args[0] = fence;
        let Some(reserved) = self.reserve_slots(&ring, needed) else {
            self.fences[fence as usize].store(FENCE_FREE, Ordering::Release);
            return Err(self.queue_full(needed));
        };
        let control = self.control();
        if let Some((counter, owner)) = control.fence(fence) {
            owner.store(tenant, Ordering::Release);
            counter.store(0, Ordering::Release);
        }
        self.fence_members[fence as usize].store(requests.len() as u32, Ordering::Release);
        let mut tickets = member_tickets.into_iter().flatten();
        for (reservation, mut payload) in reserved.iter().zip(payloads) {
            payload.batch = fence + 1;
            let ticket = self.write_slot(&ring, reservation, &payload);
            if let Some(out) = tickets.next() {
                *out = ticket;
            }
        }
        // The fence goes last so no worker can see it before its members.
        let fence_ticket = self.write_slot(&ring, &reserved[requests.len()], &fence_payload);
        self.fences[fence as usize].store(pack_ticket(fence_ticket), Ordering::Release);
        self.backend.notify(needed as u32);
        Ok(fence_ticket)
    }

    /// Reserve `count` slots, all or none (the ones taken are given back).
    /// The cursor moves once for all of them, so that publishers reserving
    /// many slots at once (the engine's parts) take runs of their own rather
    /// than fight over the cursor for every slot; a slot of the run that is
    /// not free is made up by a search.
    fn reserve_slots(&self, ring: &Ring, count: usize) -> Option<Vec<Reservation>> {
        let slots = self.layout.slot_count;
        let start = self.cursor.fetch_add(count as u32, Ordering::Relaxed) % slots;
        let mut reserved: Vec<Reservation> =
            (0..count as u32).filter_map(|k| self.try_reserve(ring, (start + k) % slots)).collect();
        while reserved.len() < count {
            match self.reserve_slot(ring) {
                Some(slot) => reserved.push(slot),
                None => {
                    self.unreserve(&reserved);
                    return None;
                }
            }
        }
        Some(reserved)
    }

    /// Give back reserved slots untouched, exactly as they were.
    fn unreserve(&self, reserved: &[Reservation]) {
        for reservation in reserved {
            self.host_slots[reservation.slot as usize].store(reservation.original, Ordering::Release);
        }
    }

    /// Take a fence counter whose previous batch is finished: its fence
    /// slot is final *and* every member has reported (a fence that faulted
    /// early must not hand its counter to a new batch while old members
    /// still run).
    fn reserve_fence(&self) -> Option<u32> {
        let count = self.layout.fence_count;
        let control = self.control();
        let start = self.fence_cursor.fetch_add(1, Ordering::Relaxed) % count;
        (0..count).find_map(|k| {
            let fence = (start + k) % count;
            let entry = &self.fences[fence as usize];
            let value = entry.load(Ordering::Acquire);
            let free = value == FENCE_FREE
                || (value != FENCE_SETTING_UP
                    && !matches!(self.ticket_state(unpack_ticket(value)), Ok(TicketState::Pending))
                    && control.fence(fence).is_some_and(|(counter, _)| {
                        counter.load(Ordering::Acquire) >= self.fence_members[fence as usize].load(Ordering::Acquire)
                    }));
            (free && entry.compare_exchange(value, FENCE_SETTING_UP, Ordering::AcqRel, Ordering::Relaxed).is_ok())
                .then_some(fence)
        })
    }

    fn ticket_state(&self, ticket: Ticket) -> Result<TicketState> {
        let host = self.host_slots.get(ticket.slot as usize).ok_or_else(|| {
            Error::out_of_range(format!(
                "ticket names slot {} but the ring has {} slots; pass a ticket this megakernel issued",
                ticket.slot, self.layout.slot_count
            ))
        })?;
        loop {
            let word = host.load(Ordering::Acquire);
            let current = host_generation(word);
            let behind = current.wrapping_sub(ticket.generation);
            if ticket.generation == 0 || behind > u32::MAX / 2 {
                return Err(Error::invalid(format!(
                    "ticket (slot {}, generation {}) was never issued: the slot is at generation {current}",
                    ticket.slot, ticket.generation
                )));
            }
            return Ok(match behind {
                0 if word & BUSY != 0 => TicketState::Pending,
                0 => {
                    if let Some(state) = state_of((word >> SEEN_SHIFT) & OUTCOME_MASK) {
                        return Ok(state);
                    }
                    let status = self.ring().status(ticket.slot)?;
                    // Another thread may have republished the slot between the
                    // two reads: then the host word moved on; read it again.
                    if host.load(Ordering::Acquire) != word {
                        continue;
                    }
                    if status.generation != ticket.generation & VYRE_STATUS_GENERATION_MASK {
                        return Err(Error::new(
                            ErrorKind::Internal,
                            format!(
                                "slot {} holds generation {} on the device but the host published \
                                 generation {} (low 24 bits {})",
                                ticket.slot,
                                status.generation,
                                ticket.generation,
                                ticket.generation & VYRE_STATUS_GENERATION_MASK
                            ),
                        ));
                    }
                    let outcome = outcome_of(status);
                    if outcome != 0 {
                        // Record it for later waiters and the next publisher;
                        // losing this race to a republish is harmless.
                        let recorded = word | outcome << SEEN_SHIFT;
                        let _ = host.compare_exchange(word, recorded, Ordering::AcqRel, Ordering::Relaxed);
                    }
                    state_of(outcome).unwrap_or(TicketState::Pending)
                }
                behind if behind < HISTORY => {
                    let entry =
                        self.history[self.history_index(ticket.slot, ticket.generation)].load(Ordering::Acquire);
                    if host_generation(entry) == ticket.generation {
                        state_of(entry & OUTCOME_MASK).unwrap_or(TicketState::Expired)
                    } else {
                        TicketState::Expired
                    }
                }
                _ => TicketState::Expired,
            });
        }
    }

    /// Once every worker has exited, nothing will run what is still in the
    /// ring: fault it CANCELLED (or DEVICE_LOST after a failure) so waiters
    /// get an answer instead of a timeout.
    fn sweep_if_stopped(&self) {
        if !self.backend.stopped() {
            return;
        }
        let reason = if self.backend.health().is_err() { VYRE_FAULT_DEVICE_LOST } else { VYRE_FAULT_CANCELLED };
        let ring = self.ring();
        let swept = (0..self.layout.slot_count).filter(|&slot| ring.abandon(slot, reason)).count();
        self.cancelled.fetch_add(swept as u64, Ordering::Relaxed);
    }

    /// Wait until the ticket's slot finished, `timeout` passed, or the
    /// megakernel stopped. DONE is `Ok`; a fault, cancellation or device
    /// loss is the matching error.
    pub fn wait(&self, ticket: Ticket, timeout: Duration) -> Result<()> {
        let deadline = Instant::now().checked_add(timeout);
        let mut backoff = Backoff::default();
        loop {
            match self.ticket_state(ticket)? {
                TicketState::Done => return Ok(()),
                TicketState::Fault(reason) => return Err(fault_error(ticket.slot, reason)),
                TicketState::Expired => return Err(expired(ticket.slot)),
                TicketState::Pending => {}
            }
            self.sweep_if_stopped();
            if let Err(e) = self.backend.health() {
                if !self.backend.stopped() {
                    return Err(e);
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "slot {} did not finish within {} ms; it is still in flight, wait again",
                        ticket.slot,
                        timeout.as_millis()
                    ),
                ));
            }
            backoff.pause();
        }
    }

    /// Whether every slot is finished and no publisher is mid-publish.
    fn idle(&self) -> bool {
        self.publishing.load(Ordering::Acquire) == 0
            && (0..self.layout.slot_count).all(|slot| {
                let generation = host_generation(self.host_slots[slot as usize].load(Ordering::Acquire));
                generation == 0 || !matches!(self.ticket_state(Ticket { slot, generation }), Ok(TicketState::Pending))
            })
    }

    /// Wait until every published slot has finished. After a device loss
    /// this reports `DeviceLost` (every slot in flight was failed).
    pub fn wait_idle(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now().checked_add(timeout);
        let mut backoff = Backoff::default();
        while !self.idle() {
            self.sweep_if_stopped();
            self.backend.health()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::new(
                    ErrorKind::Timeout,
                    format!("slots are still in flight after {} ms; wait again", timeout.as_millis()),
                ));
            }
            backoff.pause();
        }
        // Nothing is in flight; after a device loss that is because it was
        // all failed, which the caller must hear about.
        self.backend.health()
    }

    /// Stop accepting work, let published slots finish for up to
    /// `drain_timeout`, stop the workers and cancel whatever did not run.
    /// `Ok` if everything drained; `Cancelled` if some slots were cancelled
    /// (the megakernel is stopped either way); `Shutdown` if it was already.
    pub fn shutdown(&self, drain_timeout: Duration) -> Result<()> {
        if self.state.compare_exchange(RUNNING, DRAINING, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(Error::new(
                ErrorKind::Shutdown,
                "the megakernel is already shut down; destroy it (shutting down twice does nothing)",
            ));
        }
        let before = self.cancelled.load(Ordering::Relaxed);
        // A drain timeout or a failed backend is reported through the
        // cancellation count below, not as an error of its own.
        let _ = self.wait_idle(drain_timeout);
        self.stop_workers();
        let cancelled = self.cancelled.load(Ordering::Relaxed) - before;
        if cancelled > 0 {
            return Err(Error::new(
                ErrorKind::Cancelled,
                format!(
                    "the megakernel stopped, but {cancelled} slot(s) had not finished within the \
                     drain timeout and were cancelled; pass a longer timeout to let them finish"
                ),
            ));
        }
        Ok(())
    }

    fn stop_workers(&self) {
        self.control().request_shutdown();
        // Workers leave within one slot's work; an hour is a hang detector,
        // not a budget.
        self.backend.join(Duration::from_secs(3600));
        // Publishers that passed the state check before DRAINING finish
        // their writes before the final sweep.
        while self.publishing.load(Ordering::Acquire) != 0 {
            std::thread::yield_now();
        }
        self.sweep_if_stopped();
        self.state.store(STOPPED, Ordering::Release);
    }

    pub fn epoch(&self) -> u32 {
        self.control().epoch()
    }

    /// Copy observables `[first, first + out.len())` (absolute indices).
    pub fn read_observables(&self, first: u32, out: &mut [u32]) -> Result<()> {
        let control = self.control();
        let count = self.layout.observable_count;
        let in_range =
            u32::try_from(out.len()).ok().and_then(|len| first.checked_add(len)).is_some_and(|end| end <= count);
        if !in_range {
            return Err(Error::out_of_range(format!(
                "observables [{first}, {first}+{}) run past the {count} observables",
                out.len()
            )));
        }
        for (i, value) in out.iter_mut().enumerate() {
            *value = control.observable(first + i as u32).map_or(0, |w| w.load(Ordering::Acquire));
        }
        Ok(())
    }

    /// Every metric bucket, indexed by `VYRE_METRIC_*`.
    pub fn metrics(&self) -> [u32; VYRE_METRIC_COUNT as usize] {
        let control = self.control();
        std::array::from_fn(|i| control.metric(i as u32).unwrap_or(0))
    }

    /// Debug-log records from index `first` on, with the dropped count.
    pub fn debug_log(&self, first: u32) -> Result<Contents> {
        debug_log::read(self.backend.debug_log(), first)
    }

    pub fn set_tenant_window(&self, tenant: u32, base: u32, len: u32) -> Result<()> {
        let _registry = self.registry.lock();
        self.control().set_tenant_window(tenant, Window { base, len })
    }

    pub fn register_tenant_opcode(&self, tenant: u32, opcode: u32, builtin: u32) -> Result<()> {
        let _registry = self.registry.lock();
        self.control().register_tenant_opcode(tenant, opcode, builtin)
    }

    pub fn stats(&self) -> Stats {
        let control = self.control();
        Stats {
            published: self.published.load(Ordering::Relaxed),
            done: control.done_count(),
            faulted: control.fault_count(),
            cancelled: self.cancelled.load(Ordering::Relaxed),
            epoch: control.epoch(),
            slot_count: self.layout.slot_count,
            worker_count: self.backend.worker_count(),
            lane_count: self.backend.lane_count(),
            observable_count: self.layout.observable_count,
            tenant_count: self.layout.tenant_count,
        }
    }

    /// The observable words, for the pump, which reads files into a share
    /// of them (docs/PUMP.md, "Feeding a bare megakernel").
    pub(crate) fn observables(&self) -> &[AtomicU32] {
        let first = self.layout.observables as usize;
        &self.backend.control()[first..first + self.layout.observable_count as usize]
    }

    pub(crate) fn tenant_window(&self, tenant: u32) -> Option<Window> {
        self.control().tenant_window(tenant)
    }

    /// A ticket's outcome without waiting: `None` while in flight, else
    /// `VYRE_FAULT_NONE` for DONE or the fault reason (a sweep's
    /// CANCELLED or DEVICE_LOST included). Expired tickets and a failed
    /// backend whose workers still run are errors, as in `wait`.
    pub(crate) fn poll_ticket(&self, ticket: Ticket) -> Result<Option<u32>> {
        for attempt in 0..2 {
            match self.ticket_state(ticket)? {
                TicketState::Done => return Ok(Some(VYRE_FAULT_NONE)),
                TicketState::Fault(reason) => return Ok(Some(reason)),
                TicketState::Expired => return Err(expired(ticket.slot)),
                TicketState::Pending if attempt == 0 => self.sweep_if_stopped(),
                TicketState::Pending => {}
            }
        }
        self.backend.health().map(|()| None)
    }

    /// Control header word `index` (`VYRE_CTRL_*`), for diagnostics: slice
    /// count, stop reason, heartbeat.
    pub fn control_header(&self, index: u32) -> Option<u32> {
        self.control().header_word(index).map(|w| w.load(Ordering::Acquire))
    }
}

impl Drop for Megakernel {
    fn drop(&mut self) {
        if self.state.swap(STOPPED, Ordering::AcqRel) != STOPPED {
            self.stop_workers();
        }
    }
}

struct PublishGuard<'a>(&'a Megakernel);

impl Drop for PublishGuard<'_> {
    fn drop(&mut self) {
        self.0.publishing.fetch_sub(1, Ordering::AcqRel);
    }
}

fn expired(slot: u32) -> Error {
    Error::new(
        ErrorKind::TicketExpired,
        format!(
            "slot {slot} was reused {HISTORY} or more times since this ticket; its outcome is no longer \
             recorded. Wait on tickets sooner, or use a larger slot_count"
        ),
    )
}

pub(crate) fn fault_error(slot: u32, reason: u32) -> Error {
    let kind = match reason {
        VYRE_FAULT_CANCELLED => ErrorKind::Cancelled,
        VYRE_FAULT_DEVICE_LOST => ErrorKind::DeviceLost,
        _ => ErrorKind::SlotFault,
    };
    Error::new(kind, format!("slot {slot} faulted: {} (reason {reason})", fault_name(reason)))
}

/// Spin briefly, then yield, then sleep in growing steps up to 100 µs:
/// prompt for short waits, cheap for long ones.
#[derive(Default)]
struct Backoff {
    round: u32,
}

impl Backoff {
    fn pause(&mut self) {
        self.round = self.round.saturating_add(1);
        match self.round {
            0..=64 => std::hint::spin_loop(),
            65..=128 => std::thread::yield_now(),
            n => std::thread::sleep(Duration::from_micros(u64::from((n - 128).min(100)))),
        }
    }
}

/// A megakernel whose device dies on request, for the crate's fault tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::backend::reference::ReferenceBackend;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// A reference backend whose device is lost once `lost` is set. With
    /// `reports_stopped` false it never says its workers stopped: the window
    /// in which a Vulkan backend's driver thread, after VK_ERROR_DEVICE_LOST
    /// or a watchdog verdict, still winds down.
    struct LosableBackend {
        inner: ReferenceBackend,
        lost: Arc<AtomicBool>,
        reports_stopped: bool,
    }

    impl Backend for LosableBackend {
        fn kind(&self) -> BackendChoice {
            self.inner.kind()
        }
        fn worker_count(&self) -> u32 {
            self.inner.worker_count()
        }
        fn control(&self) -> &[AtomicU32] {
            self.inner.control()
        }
        fn ring(&self) -> &[AtomicU32] {
            self.inner.ring()
        }
        fn debug_log(&self) -> &[AtomicU32] {
            self.inner.debug_log()
        }
        fn scan(&self) -> crate::protocol::scan::ScanBuffers<'_> {
            self.inner.scan()
        }
        fn device_name(&self) -> String {
            self.inner.device_name()
        }
        fn notify(&self, published: u32) {
            self.inner.notify(published)
        }
        fn health(&self) -> Result<()> {
            if self.lost.load(Ordering::Acquire) {
                return Err(Error::new(ErrorKind::DeviceLost, "the test lost the device"));
            }
            self.inner.health()
        }
        fn stopped(&self) -> bool {
            self.reports_stopped && self.inner.stopped()
        }
        fn join(&self, timeout: Duration) -> bool {
            self.inner.join(timeout)
        }
    }

    /// A megakernel of `observables` words on a losable backend, and the
    /// switch that loses its device.
    pub(crate) fn losable(observables: u32, reports_stopped: bool) -> (Megakernel, Arc<AtomicBool>) {
        let layout = Layout::new(16, 1, observables, 8).unwrap();
        let config = BackendConfig {
            layout,
            debug_log_capacity: 4,
            workers: 1,
            device: None,
            slice_budget: None,
            watchdog: None,
            scan: crate::protocol::scan::ScanLayout::NONE,
            resident: true,
        };
        let lost = Arc::new(AtomicBool::new(false));
        let inner = ReferenceBackend::start(&config).unwrap();
        let backend = LosableBackend { inner, lost: Arc::clone(&lost), reports_stopped };
        (Megakernel::on_backend(Box::new(backend), layout).unwrap(), lost)
    }

    /// Stop the device's workers: published slots are never run.
    pub(crate) fn halt(mk: &Megakernel) {
        mk.control().request_shutdown();
        assert!(mk.backend.join(Duration::from_secs(60)));
    }

    /// Lose the device: stop its workers, then report the loss.
    pub(crate) fn lose(mk: &Megakernel, lost: &AtomicBool) {
        halt(mk);
        lost.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testing::{losable, lose};

    #[test]
    fn a_lost_device_fails_every_slot_in_flight_and_refuses_new_work() {
        let (mk, lost) = losable(16, true);
        let done = mk.publish(VYRE_OP_STORE_U32, 0, &[0, 1]).unwrap();
        mk.wait(done, Duration::from_secs(60)).unwrap();
        lose(&mk, &lost);
        // Published after the workers died: nothing will ever run them.
        let stranded: Vec<Ticket> = (0..5).map(|i| mk.ring_publish_for_test(i)).collect();
        for ticket in stranded {
            let err = mk.wait(ticket, Duration::from_secs(60)).unwrap_err();
            assert_eq!(err.kind, ErrorKind::DeviceLost, "{err}");
        }
        mk.wait(done, Duration::ZERO).unwrap();
        assert_eq!(mk.publish(VYRE_OP_NOP, 0, &[]).unwrap_err().kind, ErrorKind::DeviceLost);
        assert_eq!(mk.wait_idle(Duration::from_secs(60)).unwrap_err().kind, ErrorKind::DeviceLost);
        assert_eq!(mk.stats().cancelled, 5, "every stranded slot was failed, none dropped");
        // A new megakernel works.
        let (fresh, _) = losable(16, true);
        let ticket = fresh.publish(VYRE_OP_NOP, 0, &[]).unwrap();
        fresh.wait(ticket, Duration::from_secs(60)).unwrap();
    }

    impl Megakernel {
        /// Publish a STORE bypassing the health check, as a publisher that
        /// raced the device's loss would have.
        fn ring_publish_for_test(&self, index: u32) -> Ticket {
            let ring = self.ring();
            let reservation = self.reserve_slot(&ring).expect("a free slot");
            let payload = Payload::new(VYRE_OP_STORE_U32, 0, &[index, 7]).unwrap();
            self.write_slot(&ring, &reservation, &payload)
        }
    }
}
