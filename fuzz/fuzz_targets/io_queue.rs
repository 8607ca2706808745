//! The IO queue decoder: a queue in whatever state the words hold, driven
//! through its state machine (claim, complete, take result, request again);
//! and an IO_READ lane's step (`lane_step`) over the same words read as a
//! scan state with the first twelve as the slot's arguments.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vyre::protocol::abi::*;
use vyre::protocol::io_queue::{lane_step, Completion, IoQueue, LaneStep, Request};
use vyre::protocol::{live_words, words_from_le_bytes};

/// A request to post into a slot that has been emptied.
const PROBE: Request = Request { slot: 0, op: VYRE_IO_OP_READ, src: 1, dst: 2, offset: u64::MAX, byte_count: 3, tag: 4 };

fuzz_target!(|data: &[u8]| {
    let words = words_from_le_bytes(&data[..data.len() / 4 * 4]).expect("whole words");
    lane(&words);
    let live = live_words(&words);
    let Ok(queue) = IoQueue::new(&live) else { return };
    let slots = queue.slot_count();
    assert_eq!(slots as usize * VYRE_IO_SLOT_WORDS as usize, words.len());
    assert!(queue.state(slots).is_err() && queue.take_result(slots).is_err());
    let state_of = |slot: u32| words[(slot * VYRE_IO_SLOT_WORDS + VYRE_IO_WORD_STATUS) as usize];

    // Exactly the REQUESTED slots are claimed, once, with the words they hold.
    let mut claimed = Vec::new();
    queue.claim_requests(&mut claimed);
    let requested: Vec<u32> = (0..slots).filter(|&s| state_of(s) == VYRE_IO_REQUESTED).collect();
    assert_eq!(claimed.iter().map(|r| r.slot).collect::<Vec<_>>(), requested);
    let mut again = Vec::new();
    queue.claim_requests(&mut again);
    assert!(again.is_empty());

    // A batch naming a slot twice, or one not CLAIMED, changes nothing.
    if let Some(&first) = claimed.first() {
        let twice = [(first.slot, Completion::Ok(1)), (first.slot, Completion::Ok(2))];
        assert!(queue.complete_batch(&twice).is_err());
        assert_eq!(queue.state(first.slot).expect("in range"), VYRE_IO_CLAIMED);
    }
    let unclaimed = (0..slots).find(|&s| queue.state(s).expect("in range") != VYRE_IO_CLAIMED);
    if let Some(slot) = unclaimed {
        assert!(queue.complete(slot, Completion::Ok(0)).is_err());
    }
    let batch: Vec<(u32, Completion)> = claimed
        .iter()
        .map(|r| (r.slot, if r.tag % 2 == 0 { Completion::Ok(r.byte_count) } else { Completion::Error(r.tag) }))
        .collect();
    queue.complete_batch(&batch).expect("every slot CLAIMED, each once");

    // Every finished slot hands its result to the requester once and is
    // EMPTY afterwards; a request into it then travels the same way.
    for slot in 0..slots {
        let state = queue.state(slot).expect("in range");
        let finished = matches!(state, VYRE_IO_OK | VYRE_IO_ERROR);
        let result = queue.take_result(slot).expect("in range");
        assert_eq!(result.is_some(), finished);
        if let Some((request, completion)) = result {
            if let Some(&(_, expected)) = batch.iter().find(|(s, _)| *s == slot) {
                assert_eq!(completion, expected);
                // BYTE_COUNT now carries the result (bytes moved or errno).
                let (Completion::Ok(value) | Completion::Error(value)) = completion;
                let asked = claimed.iter().find(|r| r.slot == slot).expect("claimed above");
                assert_eq!(request, Request { byte_count: value, ..*asked });
            }
            assert_eq!(queue.state(slot).expect("in range"), VYRE_IO_EMPTY);
            assert_eq!(queue.take_result(slot).expect("in range"), None);
        }
        if queue.state(slot).expect("in range") == VYRE_IO_EMPTY {
            let request = Request { slot, ..PROBE };
            queue.request(&request).expect("EMPTY slot");
            assert!(queue.request(&request).is_err(), "a busy slot is refused");
            let mut taken = Vec::new();
            queue.claim_requests(&mut taken);
            assert_eq!(taken, vec![request]);
        } else {
            assert!(queue.request(&Request { slot, ..PROBE }).is_err(), "only an EMPTY slot takes a request");
        }
    }
});

/// A lane's step never panics whatever the header and arguments say, and
/// one that faults writes nothing.
fn lane(words: &[u32]) {
    let mut args = [0u32; VYRE_SLOT_MAX_ARGS as usize];
    for (arg, &word) in args.iter_mut().zip(words) {
        *arg = word;
    }
    let state = live_words(words);
    let before = args;
    let step = lane_step(&state, &mut args);
    let after: Vec<u32> = state.iter().map(|w| w.load(std::sync::atomic::Ordering::Relaxed)).collect();
    if let LaneStep::Fault(reason) = step {
        assert_eq!(reason, VYRE_FAULT_BAD_ARGS);
        assert_eq!(after, words, "a faulted step wrote the scan state");
        assert_eq!(args, before, "a faulted step changed its arguments");
    }
}
