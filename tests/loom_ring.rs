//! Loom model of the megakernel ring (docs/RELIABILITY.md): two host
//! threads publish three slots into a ring of two, a worker claims and
//! completes them, and every slot is reused with a new generation — across
//! the 24-bit wrap of the device's generation field. Run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --test loom_ring`.
//!
//! The device side is the real `protocol::slot::Ring` (src/protocol/ is
//! compiled here against loom's atomics). The host side mirrors the
//! slot-reservation words of src/megakernel/mod.rs, which cannot run without
//! a backend: `Megakernel::reserve_slot` (CAS on the host word: BUSY and the
//! next 32-bit generation, only over a reusable slot of the current
//! generation), `write_slot` (publish, then `release_slot` clears BUSY) and
//! `ticket_state` (a ticket of the current generation is final once the
//! device status of that generation is DONE).
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

use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;
use protocol::abi::*;
use protocol::slot::{Outcome, Payload, Ring};
use protocol::zeroed_words;

const SLOTS: u32 = 2;
const BUSY: u64 = 1;
/// Host generations start just below the device's 24-bit wrap.
const FIRST_GENERATION: u32 = VYRE_STATUS_GENERATION_MASK - 1;
/// Slots the two publishers put in flight: more than the ring holds.
const PUBLISHES: [u32; 2] = [2, 1];
const TOTAL: u32 = 3;

struct Model {
    ring: Vec<AtomicU32>,
    /// The megakernel's `host_slots`: generation << 32 | BUSY.
    host: Vec<AtomicU64>,
    /// Work the worker did, per payload id (each must run exactly once).
    ran: Vec<AtomicU32>,
}

impl Model {
    fn new() -> Model {
        let ring = zeroed_words((SLOTS * VYRE_SLOT_WORDS) as usize);
        // Each slot already finished FIRST_GENERATION.
        let done = protocol::slot::Status::new(VYRE_SLOT_DONE, VYRE_FAULT_NONE, FIRST_GENERATION).encode();
        for slot in 0..SLOTS {
            ring[(slot * VYRE_SLOT_WORDS) as usize].store(done, Ordering::Relaxed);
        }
        let host = (0..SLOTS).map(|_| AtomicU64::new(u64::from(FIRST_GENERATION) << 32)).collect();
        Model { ring, host, ran: (0..TOTAL).map(|_| AtomicU32::new(0)).collect() }
    }

    fn ring(&self) -> Ring<'_> {
        Ring::new(&self.ring).expect("whole slots")
    }

    /// Megakernel::reserve_slot: a slot whose device status is reusable and
    /// of the host word's generation, taken by CAS to the next generation.
    fn reserve(&self) -> Option<(u32, u32, u64)> {
        (0..SLOTS).find_map(|slot| {
            let host = &self.host[slot as usize];
            let word = host.load(Ordering::Acquire);
            if word & BUSY != 0 {
                return None;
            }
            let current = (word >> 32) as u32;
            let status = self.ring().status(slot).ok()?;
            if !status.is_reusable() || status.generation != current & VYRE_STATUS_GENERATION_MASK {
                return None;
            }
            let generation = current.wrapping_add(1).max(1);
            host.compare_exchange(word, u64::from(generation) << 32 | BUSY, Ordering::AcqRel, Ordering::Relaxed)
                .ok()
                .map(|original| (slot, generation, original))
        })
    }

    /// Megakernel::publish: reserve (retrying while the ring is full), then
    /// write_slot: publish_reserved, release_slot. Returns the ticket.
    fn publish(&self, id: u32) -> (u32, u32) {
        let (slot, generation) = loop {
            if let Some((slot, generation, _)) = self.reserve() {
                break (slot, generation);
            }
            thread::yield_now();
        };
        let payload = Payload::new(VYRE_OP_STORE_U32, 0, &[id]).expect("one argument");
        self.ring().publish_reserved(slot, generation, &payload);
        self.host[slot as usize].fetch_and(!BUSY, Ordering::AcqRel);
        (slot, generation)
    }

    /// A worker lane: claim whatever is PUBLISHED, run it, complete it.
    fn work(&self, count: u32) {
        let ring = self.ring();
        let mut done = 0;
        while done < count {
            let claimed = (0..SLOTS).find_map(|slot| ring.try_claim(slot));
            let Some(claimed) = claimed else {
                thread::yield_now();
                continue;
            };
            let id = claimed.payload.args[0];
            assert!(id < TOTAL, "a claim saw a half-written payload: {:?}", claimed.payload);
            assert_eq!(self.ran[id as usize].fetch_add(1, Ordering::AcqRel), 0, "payload {id} ran twice");
            ring.complete(&claimed, Outcome::Done);
            done += 1;
        }
    }

    /// Megakernel::ticket_state for the last ticket of a slot: the host
    /// word is at its generation, not BUSY, and the device says DONE for it.
    fn finished(&self, slot: u32, generation: u32) -> bool {
        let word = self.host[slot as usize].load(Ordering::Acquire);
        let status = self.ring().status(slot).expect("in range");
        word == u64::from(generation) << 32
            && status.generation == generation & VYRE_STATUS_GENERATION_MASK
            && status.state == VYRE_SLOT_DONE
    }
}

#[test]
fn publishers_and_a_worker_share_a_small_ring_across_the_generation_wrap() {
    loom::model(|| {
        let model = Arc::new(Model::new());
        let worker = {
            let model = model.clone();
            thread::spawn(move || model.work(TOTAL))
        };
        let second = {
            let model = model.clone();
            thread::spawn(move || (0..PUBLISHES[1]).map(|k| model.publish(PUBLISHES[0] + k)).collect::<Vec<_>>())
        };
        let mut tickets: Vec<(u32, u32)> = (0..PUBLISHES[0]).map(|id| model.publish(id)).collect();
        tickets.extend(second.join().expect("publisher"));
        worker.join().expect("worker");

        // Every ticket names a distinct publication, and each generation is
        // one past the slot's previous one (32-bit on the host, wrapping
        // through 0 in the device's 24 bits).
        for (i, a) in tickets.iter().enumerate() {
            assert!(tickets[..i].iter().all(|b| b != a), "ticket {a:?} issued twice");
        }
        for slot in 0..SLOTS {
            let mut generations: Vec<u32> = tickets.iter().filter(|t| t.0 == slot).map(|t| t.1).collect();
            generations.sort_unstable();
            for (k, generation) in generations.iter().enumerate() {
                assert_eq!(*generation, FIRST_GENERATION + 1 + k as u32);
            }
            let last = generations.last().copied().unwrap_or(FIRST_GENERATION);
            assert!(model.finished(slot, last), "slot {slot} did not end DONE at generation {last:#x}");
        }
        assert!(model.ran.iter().all(|r| r.load(Ordering::Acquire) == 1), "every payload ran exactly once");
    });
}
