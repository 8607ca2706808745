//! The ring decoder: slot status words, payloads and the argument codecs
//! of the opcodes that carry structure (PACKED_SLOT, DFA_SCAN), then the
//! slot state machine driven from whatever state the words hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vyre::protocol::abi::*;
use vyre::protocol::opcode::{check_args, decode_packed, encode_packed};
use vyre::protocol::scan::Part;
use vyre::protocol::slot::{next_generation, slot_count_for_words, Outcome, Payload, Ring, Status};
use vyre::protocol::{live_words, words_from_le_bytes, zeroed_words};

fuzz_target!(|data: &[u8]| {
    let words = words_from_le_bytes(&data[..data.len() / 4 * 4]).expect("whole words");
    let Ok(slots) = slot_count_for_words(words.len()) else { return };
    let live = live_words(&words);
    let ring = Ring::new(&live).expect("slot_count_for_words accepted the length");
    assert_eq!(ring.slot_count(), slots);
    assert!(ring.status(slots).is_err() && ring.try_claim(slots).is_none());

    for slot in 0..slots {
        let word = words[(slot * VYRE_SLOT_WORDS) as usize];
        // The status fields cover all 32 bits: decoding loses nothing.
        let status = Status::decode(word);
        assert_eq!(status.encode(), word);
        assert_eq!(ring.status(slot).expect("in range"), status);

        let payload = Payload::decode(&words[..], slot).expect("in range");
        let _ = check_args(payload.opcode, &payload.args);
        if let Ok(packed) = decode_packed(&payload.args) {
            assert_eq!(encode_packed(packed.ops()).expect("decoded ops re-encode"), payload.args);
        }
        let part = Part::from_args(&payload.args);
        assert_eq!(Part::from_args(&part.to_args()), part);

        // Republishing the decoded payload reproduces the slot's words.
        let copy = zeroed_words(VYRE_SLOT_WORDS as usize);
        let single = Ring::new(&copy).expect("one slot");
        single.publish(0, status.generation, &payload).expect("a zeroed slot is EMPTY");
        assert_eq!(Payload::decode(&copy[..], 0).expect("one slot"), payload);

        // The state machine from the decoded state: only PUBLISHED can be
        // claimed, a claim keeps the generation, and completion frees it.
        match ring.try_claim(slot) {
            Some(claimed) => {
                assert_eq!(status.state, VYRE_SLOT_PUBLISHED);
                assert_eq!((claimed.generation, claimed.payload), (status.generation, payload));
                assert!(ring.try_claim(slot).is_none(), "a claimed slot is handed out once");
                assert!(ring.publish(slot, 0, &payload).is_err(), "an in-flight slot is never overwritten");
                ring.complete(&claimed, Outcome::Fault(VYRE_FAULT_BAD_ARGS));
                let done = ring.status(slot).expect("in range");
                assert_eq!((done.state, done.reason, done.generation), (VYRE_SLOT_FAULT, VYRE_FAULT_BAD_ARGS, status.generation));
            }
            None => assert_ne!(status.state, VYRE_SLOT_PUBLISHED),
        }
        let reusable = ring.status(slot).expect("in range").is_reusable();
        let next = next_generation(status.generation);
        assert_eq!(ring.publish(slot, next, &payload).is_ok(), reusable);
        if reusable {
            let republished = ring.status(slot).expect("in range");
            assert_eq!((republished.state, republished.generation), (VYRE_SLOT_PUBLISHED, next));
            assert!(ring.abandon(slot, VYRE_FAULT_CANCELLED));
        }
    }
});
