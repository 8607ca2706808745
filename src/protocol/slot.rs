//! Ring slots: the status word, payloads, and the slot state machine.
//!
//! A slot moves EMPTY/DONE/FAULT → PUBLISHED (host) → CLAIMED (any worker,
//! by compare-and-swap) → DONE or FAULT (that worker). A worker that cannot
//! finish a slot yet (a fence whose batch is still running) hands it back
//! CLAIMED → PUBLISHED. The generation in the status word changes on every
//! publish, so a stale ticket can never mistake a later use for its own.

use super::abi::*;
use super::{at, Words};
use crate::error::{Error, ErrorKind, Result};
use crate::sync::atomic::{AtomicU32, Ordering};

/// The decoded status word of a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// `VYRE_SLOT_*` state (4 bits).
    pub state: u32,
    /// `VYRE_FAULT_*` reason (4 bits; 0 unless FAULT).
    pub reason: u32,
    /// Generation (24 bits).
    pub generation: u32,
}

impl Status {
    pub fn new(state: u32, reason: u32, generation: u32) -> Status {
        Status {
            state: state & VYRE_STATUS_STATE_MASK,
            reason: reason & VYRE_STATUS_REASON_MASK,
            generation: generation & VYRE_STATUS_GENERATION_MASK,
        }
    }

    pub fn decode(word: u32) -> Status {
        Status {
            state: word & VYRE_STATUS_STATE_MASK,
            reason: (word >> VYRE_STATUS_REASON_SHIFT) & VYRE_STATUS_REASON_MASK,
            generation: (word >> VYRE_STATUS_GENERATION_SHIFT) & VYRE_STATUS_GENERATION_MASK,
        }
    }

    pub fn encode(self) -> u32 {
        (self.state & VYRE_STATUS_STATE_MASK)
            | ((self.reason & VYRE_STATUS_REASON_MASK) << VYRE_STATUS_REASON_SHIFT)
            | ((self.generation & VYRE_STATUS_GENERATION_MASK) << VYRE_STATUS_GENERATION_SHIFT)
    }

    /// Whether the host may publish into a slot in this state.
    pub fn is_reusable(self) -> bool {
        matches!(self.state, VYRE_SLOT_EMPTY | VYRE_SLOT_DONE | VYRE_SLOT_FAULT)
    }
}

/// The generation a slot gets on its next publish (24 bits, wrapping).
pub fn next_generation(generation: u32) -> u32 {
    generation.wrapping_add(1) & VYRE_STATUS_GENERATION_MASK
}

/// A state's name, for messages.
pub fn state_name(state: u32) -> &'static str {
    match state {
        VYRE_SLOT_EMPTY => "EMPTY",
        VYRE_SLOT_PUBLISHED => "PUBLISHED",
        VYRE_SLOT_CLAIMED => "CLAIMED",
        VYRE_SLOT_DONE => "DONE",
        VYRE_SLOT_WAIT_IO => "WAIT_IO",
        VYRE_SLOT_YIELD => "YIELD",
        VYRE_SLOT_REQUEUE => "REQUEUE",
        VYRE_SLOT_FAULT => "FAULT",
        _ => "unknown",
    }
}

/// A fault reason's description, for messages.
pub fn fault_name(reason: u32) -> &'static str {
    match reason {
        VYRE_FAULT_NONE => "no fault",
        VYRE_FAULT_UNKNOWN_OPCODE => "unknown opcode",
        VYRE_FAULT_BAD_TENANT => "tenant id out of range",
        VYRE_FAULT_OUT_OF_WINDOW => "index outside the tenant's observable window",
        VYRE_FAULT_OPCODE_NOT_ALLOWED => "opcode not allowed for this tenant",
        VYRE_FAULT_BAD_ARGS => "malformed arguments",
        VYRE_FAULT_CANCELLED => "cancelled before it ran",
        VYRE_FAULT_DEVICE_LOST => "device lost",
        VYRE_FAULT_BAD_BATCH => "batch tag names no fence of this tenant",
        VYRE_FAULT_IO => "the host could not perform the IO request (errno in VYRE_IO_ARG_RESULT)",
        _ => "unknown fault reason",
    }
}

/// What a slot asks for: everything but the status word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Payload {
    pub opcode: u32,
    pub tenant: u32,
    /// 0, or fence counter + 1 for batch members.
    pub batch: u32,
    pub args: [u32; VYRE_SLOT_MAX_ARGS as usize],
}

impl Payload {
    /// A payload with `args` followed by zeros (stale arguments of a reused
    /// slot never leak into the next use). More than 12 arguments is an error.
    pub fn new(opcode: u32, tenant: u32, args: &[u32]) -> Result<Payload> {
        if args.len() > VYRE_SLOT_MAX_ARGS as usize {
            return Err(Error::invalid(format!(
                "{} arguments given but a slot carries at most {VYRE_SLOT_MAX_ARGS}; \
                 split the work or pack small operations with VYRE_OP_PACKED_SLOT",
                args.len()
            )));
        }
        let mut padded = [0u32; VYRE_SLOT_MAX_ARGS as usize];
        padded[..args.len()].copy_from_slice(args);
        Ok(Payload { opcode, tenant, batch: 0, args: padded })
    }

    /// Decode a slot's payload words (everything after the status word).
    pub fn decode<W: Words + ?Sized>(words: &W, slot: u32) -> Result<Payload> {
        let base = slot_base(slot);
        let word = |w: u32| words.word_or_err(base + at(w), "ring slot");
        let mut args = [0u32; VYRE_SLOT_MAX_ARGS as usize];
        for (i, arg) in args.iter_mut().enumerate() {
            *arg = word(VYRE_SLOT_WORD_ARG0 + i as u32)?;
        }
        Ok(Payload {
            opcode: word(VYRE_SLOT_WORD_OPCODE)?,
            tenant: word(VYRE_SLOT_WORD_TENANT)?,
            batch: word(VYRE_SLOT_WORD_BATCH)?,
            args,
        })
    }
}

fn slot_base(slot: u32) -> usize {
    at(slot) * at(VYRE_SLOT_WORDS)
}

/// Slots in a ring of `word_count` words, or why that is not a ring.
pub fn slot_count_for_words(word_count: usize) -> Result<u32> {
    let slot_words = at(VYRE_SLOT_WORDS);
    if word_count == 0 || word_count % slot_words != 0 {
        return Err(Error::protocol(format!(
            "a ring of {word_count} words is not a whole, non-zero number of \
             {slot_words}-word slots; allocate slot_count * {slot_words} words"
        )));
    }
    let slots = word_count / slot_words;
    if slots > at(VYRE_MAX_SLOTS) {
        return Err(Error::protocol(format!(
            "a ring of {slots} slots exceeds VYRE_MAX_SLOTS ({VYRE_MAX_SLOTS}); use fewer slots"
        )));
    }
    Ok(slots as u32)
}

/// A slot a worker claimed: it alone may complete it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub slot: u32,
    pub generation: u32,
    pub payload: Payload,
}

/// How a claimed slot ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    Fault(u32),
}

/// A live ring of slots.
#[derive(Debug, Clone, Copy)]
pub struct Ring<'a> {
    words: &'a [AtomicU32],
    slots: u32,
}

impl<'a> Ring<'a> {
    /// View `words` as a ring; its length must be a whole number of slots.
    pub fn new(words: &'a [AtomicU32]) -> Result<Ring<'a>> {
        let slots = slot_count_for_words(words.len())?;
        Ok(Ring { words, slots })
    }

    pub fn slot_count(&self) -> u32 {
        self.slots
    }

    fn check(&self, slot: u32) -> Result<()> {
        if slot >= self.slots {
            return Err(Error::out_of_range(format!(
                "slot {slot} does not exist; the ring has {} slots (0..{})",
                self.slots, self.slots
            )));
        }
        Ok(())
    }

    fn word(&self, slot: u32, word: u32) -> &AtomicU32 {
        // `check` or the slot loop bound `slot < self.slots` precedes every call,
        // and `Ring::new` proved slots * SLOT_WORDS == words.len().
        &self.words[slot_base(slot) + at(word)]
    }

    /// The status of `slot`.
    pub fn status(&self, slot: u32) -> Result<Status> {
        self.check(slot)?;
        Ok(Status::decode(self.word(slot, VYRE_SLOT_WORD_STATUS).load(Ordering::Acquire)))
    }

    /// Publish `payload` into `slot` as `generation`: arguments and header
    /// first, then the status word with release ordering, so a worker that
    /// sees PUBLISHED sees the whole payload. A slot that is still in flight
    /// (PUBLISHED or CLAIMED) is refused, never overwritten.
    pub fn publish(&self, slot: u32, generation: u32, payload: &Payload) -> Result<()> {
        let current = self.status(slot)?;
        if !current.is_reusable() {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!(
                    "slot {slot} is still in flight ({}); wait for it to complete before \
                     publishing into it again",
                    state_name(current.state)
                ),
            ));
        }
        self.publish_reserved(slot, generation, payload);
        Ok(())
    }

    /// [`Ring::publish`] without reading the status word first, for a caller
    /// that already knows the slot is reusable and is its only host-side
    /// writer (the megakernel's slot reservation guarantees both). On a GPU
    /// that read is a trip over PCIe on every publish. `slot` must be in range.
    pub fn publish_reserved(&self, slot: u32, generation: u32, payload: &Payload) {
        self.publish_reserved_all(&[(slot, generation, *payload)]);
    }

    /// [`Ring::publish_reserved`] of several `(slot, generation, payload)`
    /// behind one barrier: every payload, the barrier, then every status
    /// word. On a GPU each barrier drains the CPU's write-combining buffers
    /// into PCIe; one per slot made publishing a job of 16 384 parts take
    /// about 10 ms on an H200.
    pub fn publish_reserved_all(&self, slots: &[(u32, u32, Payload)]) {
        let slots = || slots.iter().filter(|(slot, _, _)| *slot < self.slots);
        for (slot, _, payload) in slots() {
            for (i, &arg) in payload.args.iter().enumerate() {
                self.word(*slot, VYRE_SLOT_WORD_ARG0 + i as u32).store(arg, Ordering::Relaxed);
            }
            self.word(*slot, VYRE_SLOT_WORD_OPCODE).store(payload.opcode, Ordering::Relaxed);
            self.word(*slot, VYRE_SLOT_WORD_TENANT).store(payload.tenant, Ordering::Relaxed);
            self.word(*slot, VYRE_SLOT_WORD_BATCH).store(payload.batch, Ordering::Relaxed);
        }
        super::publish_barrier();
        for (slot, generation, _) in slots() {
            let status = Status::new(VYRE_SLOT_PUBLISHED, VYRE_FAULT_NONE, *generation);
            self.word(*slot, VYRE_SLOT_WORD_STATUS).store(status.encode(), Ordering::Release);
        }
    }

    /// Claim `slot` if it is PUBLISHED. Any worker may claim any slot; the
    /// compare-and-swap makes exactly one of them win.
    pub fn try_claim(&self, slot: u32) -> Option<Claimed> {
        if slot >= self.slots {
            return None;
        }
        let status_word = self.word(slot, VYRE_SLOT_WORD_STATUS);
        let seen = status_word.load(Ordering::Acquire);
        let status = Status::decode(seen);
        if status.state != VYRE_SLOT_PUBLISHED {
            return None;
        }
        let claimed = Status::new(VYRE_SLOT_CLAIMED, VYRE_FAULT_NONE, status.generation);
        status_word.compare_exchange(seen, claimed.encode(), Ordering::AcqRel, Ordering::Relaxed).ok()?;
        let payload = Payload::decode(self.words, slot).ok()?;
        Some(Claimed { slot, generation: status.generation, payload })
    }

    /// Finish a claimed slot (release: its effects are visible to whoever
    /// sees the new status).
    pub fn complete(&self, claimed: &Claimed, outcome: Outcome) {
        let status = match outcome {
            Outcome::Done => Status::new(VYRE_SLOT_DONE, VYRE_FAULT_NONE, claimed.generation),
            Outcome::Fault(reason) => Status::new(VYRE_SLOT_FAULT, reason, claimed.generation),
        };
        self.word(claimed.slot, VYRE_SLOT_WORD_STATUS).store(status.encode(), Ordering::Release);
    }

    /// Overwrite a claimed slot's arguments (a DFA_SCAN part stores its
    /// progress before [`Ring::unclaim`] hands it back).
    pub fn store_args(&self, slot: u32, args: &[u32; VYRE_SLOT_MAX_ARGS as usize]) {
        if slot >= self.slots {
            return;
        }
        for (i, &arg) in args.iter().enumerate() {
            self.word(slot, VYRE_SLOT_WORD_ARG0 + i as u32).store(arg, Ordering::Relaxed);
        }
    }

    /// Hand a claimed slot back unexecuted, for any worker to claim again.
    pub fn unclaim(&self, claimed: &Claimed) {
        let status = Status::new(VYRE_SLOT_PUBLISHED, VYRE_FAULT_NONE, claimed.generation);
        self.word(claimed.slot, VYRE_SLOT_WORD_STATUS).store(status.encode(), Ordering::Release);
    }

    /// Fault a slot that never ran with `reason` (cancellation, device loss).
    /// Only valid once no worker can touch the ring any more. Returns whether
    /// the slot was in flight.
    pub fn abandon(&self, slot: u32, reason: u32) -> bool {
        if slot >= self.slots {
            return false;
        }
        let status_word = self.word(slot, VYRE_SLOT_WORD_STATUS);
        let status = Status::decode(status_word.load(Ordering::Acquire));
        if !matches!(status.state, VYRE_SLOT_PUBLISHED | VYRE_SLOT_CLAIMED) {
            return false;
        }
        let faulted = Status::new(VYRE_SLOT_FAULT, reason, status.generation);
        status_word.store(faulted.encode(), Ordering::Release);
        true
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::protocol::{snapshot, zeroed_words};
    use proptest::prelude::*;

    fn ring(slots: u32) -> Vec<AtomicU32> {
        zeroed_words(at(slots * VYRE_SLOT_WORDS))
    }

    #[test]
    fn status_word_round_trips_and_masks_each_field() {
        let s = Status::new(VYRE_SLOT_FAULT, VYRE_FAULT_BAD_ARGS, 0x12_3456);
        assert_eq!(Status::decode(s.encode()), s);
        assert_eq!(s.encode() & VYRE_STATUS_STATE_MASK, VYRE_SLOT_FAULT);
        let wide = Status::new(0xFF, 0xFF, 0xFFFF_FFFF);
        assert_eq!(wide.state, 0xF);
        assert_eq!(wide.generation, VYRE_STATUS_GENERATION_MASK);
        assert_eq!(next_generation(VYRE_STATUS_GENERATION_MASK), 0);
    }

    #[test]
    fn thirteen_args_are_rejected_and_short_args_are_zero_filled() {
        let err = Payload::new(VYRE_OP_NOP, 0, &[0; 13]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(err.message.contains("at most 12"));
        assert!(Payload::new(VYRE_OP_NOP, 0, &[1; 12]).is_ok());

        let words = ring(2);
        let r = Ring::new(&words).unwrap();
        r.publish(1, 1, &Payload::new(VYRE_OP_STORE_U32, 0, &[9; 12]).unwrap()).unwrap();
        let c = r.try_claim(1).unwrap();
        r.complete(&c, Outcome::Done);
        r.publish(1, 2, &Payload::new(VYRE_OP_STORE_U32, 0, &[5]).unwrap()).unwrap();
        let c = r.try_claim(1).unwrap();
        assert_eq!(c.payload.args, [5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn ring_length_must_be_whole_slots() {
        assert!(Ring::new(&zeroed_words(17)).is_err());
        assert!(Ring::new(&zeroed_words(0)).is_err());
        assert!(slot_count_for_words(at(VYRE_SLOT_WORDS) * (at(VYRE_MAX_SLOTS) + 1)).is_err());
        assert_eq!(Ring::new(&zeroed_words(32)).unwrap().slot_count(), 2);
    }

    #[test]
    fn in_flight_slot_republish_is_rejected() {
        let words = ring(1);
        let r = Ring::new(&words).unwrap();
        let p = Payload::new(VYRE_OP_NOP, 0, &[]).unwrap();
        r.publish(0, 1, &p).unwrap();
        let before = snapshot(&words);
        assert_eq!(r.publish(0, 2, &p).unwrap_err().kind, ErrorKind::QueueFull);
        assert_eq!(snapshot(&words), before, "a refused publish writes nothing");
        let c = r.try_claim(0).unwrap();
        assert_eq!(r.publish(0, 2, &p).unwrap_err().kind, ErrorKind::QueueFull);
        r.complete(&c, Outcome::Fault(VYRE_FAULT_BAD_ARGS));
        r.publish(0, 2, &p).unwrap();
    }

    #[test]
    fn out_of_range_slots_are_errors_not_panics() {
        let words = ring(2);
        let r = Ring::new(&words).unwrap();
        let p = Payload::new(VYRE_OP_NOP, 0, &[]).unwrap();
        assert_eq!(r.publish(2, 1, &p).unwrap_err().kind, ErrorKind::OutOfRange);
        assert_eq!(r.status(u32::MAX).unwrap_err().kind, ErrorKind::OutOfRange);
        assert!(r.try_claim(9).is_none());
        assert!(!r.abandon(9, VYRE_FAULT_CANCELLED));
    }

    #[test]
    fn exactly_one_of_many_claimers_wins_each_slot() {
        let words = ring(64);
        let r = Ring::new(&words).unwrap();
        for slot in 0..64 {
            r.publish(slot, 1, &Payload::new(VYRE_OP_NOP, 0, &[slot]).unwrap()).unwrap();
        }
        let wins: Vec<Vec<u32>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| s.spawn(|| (0..64).filter_map(|slot| r.try_claim(slot)).map(|c| c.slot).collect()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<u32> = wins.into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, (0..64).collect::<Vec<_>>());
    }

    #[test]
    fn unclaim_returns_the_slot_with_its_generation() {
        let words = ring(1);
        let r = Ring::new(&words).unwrap();
        r.publish(0, 7, &Payload::new(VYRE_OP_BATCH_FENCE, 0, &[]).unwrap()).unwrap();
        let c = r.try_claim(0).unwrap();
        r.unclaim(&c);
        assert_eq!(r.status(0).unwrap(), Status::new(VYRE_SLOT_PUBLISHED, 0, 7));
        assert_eq!(r.try_claim(0).unwrap().generation, 7);
    }

    #[test]
    fn abandon_faults_only_slots_in_flight() {
        let words = ring(3);
        let r = Ring::new(&words).unwrap();
        let p = Payload::new(VYRE_OP_NOP, 0, &[]).unwrap();
        r.publish(0, 1, &p).unwrap();
        r.publish(1, 1, &p).unwrap();
        r.try_claim(1).unwrap();
        assert!(r.abandon(0, VYRE_FAULT_CANCELLED));
        assert!(r.abandon(1, VYRE_FAULT_DEVICE_LOST));
        assert!(!r.abandon(2, VYRE_FAULT_CANCELLED));
        assert_eq!(r.status(0).unwrap(), Status::new(VYRE_SLOT_FAULT, VYRE_FAULT_CANCELLED, 1));
        assert_eq!(r.status(1).unwrap().reason, VYRE_FAULT_DEVICE_LOST);
    }

    proptest! {
        #[test]
        fn any_status_word_decodes_and_re_encodes_identically(word in any::<u32>()) {
            prop_assert_eq!(Status::decode(word).encode(), word);
        }

        #[test]
        fn payloads_round_trip_through_a_ring(
            opcode in any::<u32>(), tenant in any::<u32>(),
            args in proptest::collection::vec(any::<u32>(), 0..=12),
            slot in 0u32..4, generation in any::<u32>(),
        ) {
            let words = ring(4);
            let r = Ring::new(&words).unwrap();
            let p = Payload::new(opcode, tenant, &args).unwrap();
            r.publish(slot, generation, &p).unwrap();
            let c = r.try_claim(slot).unwrap();
            prop_assert_eq!(c.payload, p);
            prop_assert_eq!(c.generation, generation & VYRE_STATUS_GENERATION_MASK);
            prop_assert_eq!(&c.payload.args[..args.len()], &args[..]);
        }

        #[test]
        fn decoding_arbitrary_snapshots_never_panics(
            words in proptest::collection::vec(any::<u32>(), 0..80), slot in any::<u32>(),
        ) {
            let _ = Payload::decode(&words[..], slot);
            let _ = slot_count_for_words(words.len());
        }
    }
}
