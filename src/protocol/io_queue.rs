//! The IO queue: a device asks the host to read a file range.
//!
//! One state machine, one meaning per state (upstream overloaded PUBLISHED
//! three ways and a failed request hung its lane):
//!
//! ```text
//! EMPTY --device: request--> REQUESTED --host: claim--> CLAIMED
//! CLAIMED --host: complete--> OK (BYTE_COUNT = bytes moved)
//!                         \-> ERROR (BYTE_COUNT = errno)
//! OK / ERROR --requester: take result--> EMPTY
//! ```
//!
//! Only the requester recycles a slot, after it has read the result, so an
//! error always reaches the lane that asked.

use super::abi::*;
use super::at;
use crate::error::{Error, ErrorKind, Result};
use crate::sync::atomic::{AtomicU32, Ordering};

/// A request as the device wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub slot: u32,
    pub op: u32,
    pub src: u32,
    pub dst: u32,
    pub offset: u64,
    pub byte_count: u32,
    pub tag: u32,
}

/// How the host finished a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Bytes moved.
    Ok(u32),
    /// Positive errno.
    Error(u32),
}

/// Words of an IO queue of `slots` slots, at most `VYRE_IO_SLOT_COUNT`.
pub fn words_for(slots: u32) -> Result<usize> {
    if slots == 0 || slots > VYRE_IO_SLOT_COUNT {
        return Err(Error::new(
            ErrorKind::QueueFull,
            format!(
                "an IO queue has 1..={VYRE_IO_SLOT_COUNT} slots (one GPU poll window), \
                 {slots} asked; split the requests over several queues"
            ),
        ));
    }
    Ok(at(slots) * at(VYRE_IO_SLOT_WORDS))
}

/// A live IO queue.
#[derive(Debug, Clone, Copy)]
pub struct IoQueue<'a> {
    words: &'a [AtomicU32],
    slots: u32,
}

impl<'a> IoQueue<'a> {
    /// View `words` as a queue: whole slots, at most 64 of them.
    pub fn new(words: &'a [AtomicU32]) -> Result<IoQueue<'a>> {
        let slot_words = at(VYRE_IO_SLOT_WORDS);
        if words.len() % slot_words != 0 {
            return Err(Error::protocol(format!(
                "an IO queue of {} words is not a whole number of {slot_words}-word slots",
                words.len()
            )));
        }
        let slots = u32::try_from(words.len() / slot_words).unwrap_or(u32::MAX);
        words_for(slots)?;
        Ok(IoQueue { words, slots })
    }

    pub fn slot_count(&self) -> u32 {
        self.slots
    }

    fn word(&self, slot: u32, word: u32) -> &AtomicU32 {
        // Callers check `slot < self.slots`; `new` proved the length.
        &self.words[at(slot) * at(VYRE_IO_SLOT_WORDS) + at(word)]
    }

    fn check(&self, slot: u32) -> Result<()> {
        if slot >= self.slots {
            return Err(Error::out_of_range(format!(
                "IO slot {slot} does not exist; the queue has {} slots",
                self.slots
            )));
        }
        Ok(())
    }

    pub fn state(&self, slot: u32) -> Result<u32> {
        self.check(slot)?;
        Ok(self.word(slot, VYRE_IO_WORD_STATUS).load(Ordering::Acquire))
    }

    /// Device side: ask for `request` in its slot, which must be EMPTY.
    pub fn request(&self, request: &Request) -> Result<()> {
        let state = self.state(request.slot)?;
        if state != VYRE_IO_EMPTY {
            return Err(Error::new(
                ErrorKind::QueueFull,
                format!("IO slot {} is busy (state {state:#x}); take its result before reusing it", request.slot),
            ));
        }
        let fields = [
            (VYRE_IO_WORD_OP, request.op),
            (VYRE_IO_WORD_SRC, request.src),
            (VYRE_IO_WORD_DST, request.dst),
            (VYRE_IO_WORD_OFFSET_LO, request.offset as u32),
            (VYRE_IO_WORD_OFFSET_HI, (request.offset >> 32) as u32),
            (VYRE_IO_WORD_BYTE_COUNT, request.byte_count),
            (VYRE_IO_WORD_TAG, request.tag),
        ];
        for (word, value) in fields {
            self.word(request.slot, word).store(value, Ordering::Relaxed);
        }
        super::publish_barrier();
        self.word(request.slot, VYRE_IO_WORD_STATUS).store(VYRE_IO_REQUESTED, Ordering::Release);
        Ok(())
    }

    fn decode(&self, slot: u32) -> Request {
        let word = |w: u32| self.word(slot, w).load(Ordering::Relaxed);
        Request {
            slot,
            op: word(VYRE_IO_WORD_OP),
            src: word(VYRE_IO_WORD_SRC),
            dst: word(VYRE_IO_WORD_DST),
            offset: u64::from(word(VYRE_IO_WORD_OFFSET_LO)) | (u64::from(word(VYRE_IO_WORD_OFFSET_HI)) << 32),
            byte_count: word(VYRE_IO_WORD_BYTE_COUNT),
            tag: word(VYRE_IO_WORD_TAG),
        }
    }

    /// Host side: take every REQUESTED slot (REQUESTED → CLAIMED), appending
    /// them to `out` (cleared first). A slot is handed out exactly once.
    pub fn claim_requests(&self, out: &mut Vec<Request>) {
        out.clear();
        for slot in 0..self.slots {
            let status = self.word(slot, VYRE_IO_WORD_STATUS);
            // A plain load first: on a GPU these words are device memory
            // behind the BAR, where a locked read-modify-write costs far
            // more than a read, and most slots are EMPTY.
            if status.load(Ordering::Relaxed) == VYRE_IO_REQUESTED
                && status
                    .compare_exchange(VYRE_IO_REQUESTED, VYRE_IO_CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                out.push(self.decode(slot));
            }
        }
    }

    fn check_claimed(&self, slot: u32) -> Result<()> {
        let state = self.state(slot)?;
        if state != VYRE_IO_CLAIMED {
            return Err(Error::invalid(format!(
                "IO slot {slot} is in state {state:#x}, not CLAIMED; only a CLAIMED request \
                 can be completed (claim it first, and complete it once)"
            )));
        }
        Ok(())
    }

    fn write_completion(&self, slot: u32, completion: Completion) {
        let (state, value) = match completion {
            Completion::Ok(bytes) => (VYRE_IO_OK, bytes),
            Completion::Error(errno) => (VYRE_IO_ERROR, errno),
        };
        self.word(slot, VYRE_IO_WORD_BYTE_COUNT).store(value, Ordering::Relaxed);
        super::publish_barrier();
        self.word(slot, VYRE_IO_WORD_STATUS).store(state, Ordering::Release);
    }

    /// Host side: finish one CLAIMED request.
    pub fn complete(&self, slot: u32, completion: Completion) -> Result<()> {
        self.check_claimed(slot)?;
        self.write_completion(slot, completion);
        Ok(())
    }

    /// Host side: finish several requests; every slot is validated (CLAIMED,
    /// listed once) before any is written, so a bad batch changes nothing.
    pub fn complete_batch(&self, completions: &[(u32, Completion)]) -> Result<()> {
        for (i, &(slot, _)) in completions.iter().enumerate() {
            self.check_claimed(slot)?;
            if completions[..i].iter().any(|&(earlier, _)| earlier == slot) {
                return Err(Error::invalid(format!(
                    "IO slot {slot} appears twice in one completion batch; complete it once"
                )));
            }
        }
        for &(slot, completion) in completions {
            self.write_completion(slot, completion);
        }
        Ok(())
    }

    /// Requester side: the result of a finished request, recycling the slot
    /// to EMPTY; `None` while the host has not finished it.
    pub fn take_result(&self, slot: u32) -> Result<Option<(Request, Completion)>> {
        let state = self.state(slot)?;
        let completion = match state {
            VYRE_IO_OK => Completion::Ok(self.word(slot, VYRE_IO_WORD_BYTE_COUNT).load(Ordering::Relaxed)),
            VYRE_IO_ERROR => Completion::Error(self.word(slot, VYRE_IO_WORD_BYTE_COUNT).load(Ordering::Relaxed)),
            _ => return Ok(None),
        };
        let request = self.decode(slot);
        self.word(slot, VYRE_IO_WORD_STATUS).store(VYRE_IO_EMPTY, Ordering::Release);
        Ok(Some((request, completion)))
    }
}

/// The IO queue of a scan-state buffer, where its header places it; `None`
/// when the header names none (a bare megakernel) or a region past the
/// buffer's end.
pub fn in_scan_state(state: &[AtomicU32]) -> Option<IoQueue<'_>> {
    let header = |index: u32| state.get(at(index)).map(|w| w.load(Ordering::Acquire));
    let (slots, offset) = (header(VYRE_SCAN_HDR_IO_SLOTS)?, header(VYRE_SCAN_HDR_OFF_IO)?);
    if slots == 0 || slots > VYRE_IO_SLOT_COUNT {
        return None;
    }
    let end = at(offset).checked_add(at(slots) * at(VYRE_IO_SLOT_WORDS))?;
    IoQueue::new(state.get(at(offset)..end)?).ok()
}

/// The arguments of an IO_READ slot asking for `request` (phase NEW).
pub fn read_args(request: &Request) -> [u32; VYRE_SLOT_MAX_ARGS as usize] {
    let mut args = [0u32; VYRE_SLOT_MAX_ARGS as usize];
    args[at(VYRE_IO_ARG_SLOT)] = request.slot;
    args[at(VYRE_IO_ARG_SRC)] = request.src;
    args[at(VYRE_IO_ARG_DST)] = request.dst;
    args[at(VYRE_IO_ARG_OFFSET_LO)] = request.offset as u32;
    args[at(VYRE_IO_ARG_OFFSET_HI)] = (request.offset >> 32) as u32;
    args[at(VYRE_IO_ARG_BYTE_COUNT)] = request.byte_count;
    args[at(VYRE_IO_ARG_TAG)] = request.tag;
    args
}

/// The request an IO_READ slot's arguments ask for (`read_args` inverted).
fn request_of(args: &[u32; VYRE_SLOT_MAX_ARGS as usize]) -> Request {
    let arg = |index: u32| args[at(index)];
    Request {
        slot: arg(VYRE_IO_ARG_SLOT),
        op: VYRE_IO_OP_READ,
        src: arg(VYRE_IO_ARG_SRC),
        dst: arg(VYRE_IO_ARG_DST),
        offset: u64::from(arg(VYRE_IO_ARG_OFFSET_LO)) | u64::from(arg(VYRE_IO_ARG_OFFSET_HI)) << 32,
        byte_count: arg(VYRE_IO_ARG_BYTE_COUNT),
        tag: arg(VYRE_IO_ARG_TAG),
    }
}

/// What one claim of an IO_READ slot did (the shader's `io_read` mirrors it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneStep {
    /// Not answered yet (or the IO slot is still busy): hand the slot back;
    /// the arguments changed when the request was just written.
    HandBack { args_changed: bool },
    /// OK: the slot completes DONE with `VYRE_IO_ARG_RESULT` = bytes moved.
    Done,
    /// ERROR: the slot completes FAULT `VYRE_FAULT_IO` with
    /// `VYRE_IO_ARG_RESULT` = errno.
    Failed,
    /// Malformed arguments: the slot completes FAULT with this reason.
    Fault(u32),
}

/// One claim of an IO_READ slot. A lane never waits inside it: the first
/// claim writes the request and hands the slot back; later claims hand it
/// back until the host has answered, then recycle the IO slot and finish.
pub fn lane_step(state: &[AtomicU32], args: &mut [u32; VYRE_SLOT_MAX_ARGS as usize]) -> LaneStep {
    let request = request_of(args);
    let slot = request.slot;
    let Some(queue) = in_scan_state(state).filter(|q| slot < q.slot_count()) else {
        return LaneStep::Fault(VYRE_FAULT_BAD_ARGS);
    };
    match args[at(VYRE_IO_ARG_PHASE)] {
        VYRE_IO_PHASE_NEW => {
            // A busy IO slot (not yet recycled by its last requester) is
            // waited for by handing back, like an unanswered request.
            let asked = queue.request(&request).is_ok();
            if asked {
                args[at(VYRE_IO_ARG_PHASE)] = VYRE_IO_PHASE_REQUESTED;
            }
            LaneStep::HandBack { args_changed: asked }
        }
        VYRE_IO_PHASE_REQUESTED => match queue.take_result(slot) {
            Ok(Some((_, Completion::Ok(bytes)))) => {
                args[at(VYRE_IO_ARG_RESULT)] = bytes;
                LaneStep::Done
            }
            Ok(Some((_, Completion::Error(errno)))) => {
                args[at(VYRE_IO_ARG_RESULT)] = errno;
                LaneStep::Failed
            }
            _ => LaneStep::HandBack { args_changed: false },
        },
        _ => LaneStep::Fault(VYRE_FAULT_BAD_ARGS),
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::protocol::{live_words, snapshot, zeroed_words};
    use proptest::prelude::*;

    fn queue(slots: u32) -> Vec<AtomicU32> {
        zeroed_words(words_for(slots).unwrap())
    }

    fn read_request(slot: u32, tag: u32) -> Request {
        Request { slot, op: VYRE_IO_OP_READ, src: 5, dst: 6, offset: 0x1_0000_1000, byte_count: 4096, tag }
    }

    #[test]
    fn a_request_travels_the_whole_state_machine() {
        let words = queue(4);
        let q = IoQueue::new(&words).unwrap();
        q.request(&read_request(1, 42)).unwrap();
        let mut claimed = Vec::new();
        q.claim_requests(&mut claimed);
        assert_eq!(claimed, vec![read_request(1, 42)]);
        q.claim_requests(&mut claimed);
        assert!(claimed.is_empty(), "a claimed request is handed out once");
        assert_eq!(q.take_result(1).unwrap(), None);
        q.complete(1, Completion::Ok(4000)).unwrap();
        let (request, completion) = q.take_result(1).unwrap().unwrap();
        assert_eq!((request.tag, completion), (42, Completion::Ok(4000)));
        assert_eq!(q.state(1).unwrap(), VYRE_IO_EMPTY);
        q.request(&read_request(1, 43)).unwrap();
    }

    #[test]
    fn errors_reach_the_requester_with_their_errno() {
        let words = queue(1);
        let q = IoQueue::new(&words).unwrap();
        q.request(&read_request(0, 1)).unwrap();
        q.claim_requests(&mut Vec::new());
        q.complete(0, Completion::Error(5)).unwrap();
        assert_eq!(q.take_result(0).unwrap().unwrap().1, Completion::Error(5));
    }

    #[test]
    fn completion_of_an_unclaimed_slot_is_rejected() {
        let words = queue(2);
        let q = IoQueue::new(&words).unwrap();
        let err = q.complete(0, Completion::Ok(1)).unwrap_err();
        assert!(err.message.contains("only a CLAIMED request"));
        q.request(&read_request(0, 1)).unwrap();
        assert!(q.complete(0, Completion::Ok(1)).is_err(), "REQUESTED is not CLAIMED");
    }

    #[test]
    fn batch_completion_is_validated_before_anything_is_written() {
        let words = queue(3);
        let q = IoQueue::new(&words).unwrap();
        q.request(&read_request(0, 1)).unwrap();
        q.request(&read_request(1, 2)).unwrap();
        q.claim_requests(&mut Vec::new());
        let before = snapshot(&words);
        assert!(q.complete_batch(&[(0, Completion::Ok(1)), (2, Completion::Ok(1))]).is_err());
        assert!(q.complete_batch(&[(0, Completion::Ok(1)), (0, Completion::Ok(1))]).is_err());
        assert_eq!(snapshot(&words), before);
        q.complete_batch(&[(0, Completion::Ok(9)), (1, Completion::Error(2))]).unwrap();
        assert_eq!(q.state(0).unwrap(), VYRE_IO_OK);
        assert_eq!(q.state(1).unwrap(), VYRE_IO_ERROR);
    }

    #[test]
    fn the_sixty_fifth_slot_is_rejected() {
        assert!(words_for(VYRE_IO_SLOT_COUNT).is_ok());
        assert_eq!(words_for(VYRE_IO_SLOT_COUNT + 1).unwrap_err().kind, ErrorKind::QueueFull);
        assert!(IoQueue::new(&zeroed_words(at(VYRE_IO_SLOT_WORDS) * 65)).is_err());
        let words = queue(VYRE_IO_SLOT_COUNT);
        let q = IoQueue::new(&words).unwrap();
        assert_eq!(q.request(&read_request(64, 0)).unwrap_err().kind, ErrorKind::OutOfRange);
        assert!(IoQueue::new(&zeroed_words(9)).is_err());
    }

    #[test]
    fn a_busy_slot_cannot_be_requested_again() {
        let words = queue(1);
        let q = IoQueue::new(&words).unwrap();
        q.request(&read_request(0, 1)).unwrap();
        assert_eq!(q.request(&read_request(0, 2)).unwrap_err().kind, ErrorKind::QueueFull);
    }

    /// A scan state with an IO queue of `slots` slots and nothing else.
    fn state_with_queue(slots: u32) -> Vec<AtomicU32> {
        let words = zeroed_words(16 + words_for(slots).unwrap());
        words[at(VYRE_SCAN_HDR_IO_SLOTS)].store(slots, Ordering::Relaxed);
        words[at(VYRE_SCAN_HDR_OFF_IO)].store(16, Ordering::Relaxed);
        words
    }

    fn io_args(slot: u32) -> [u32; VYRE_SLOT_MAX_ARGS as usize] {
        let mut args = [0; VYRE_SLOT_MAX_ARGS as usize];
        args[at(VYRE_IO_ARG_SLOT)] = slot;
        args[at(VYRE_IO_ARG_SRC)] = 3;
        args[at(VYRE_IO_ARG_BYTE_COUNT)] = 100;
        args[at(VYRE_IO_ARG_TAG)] = 9;
        args
    }

    #[test]
    fn a_lane_asks_once_hands_back_until_answered_then_recycles() {
        let state = state_with_queue(2);
        let mut args = io_args(1);
        assert_eq!(lane_step(&state, &mut args), LaneStep::HandBack { args_changed: true });
        assert_eq!(args[at(VYRE_IO_ARG_PHASE)], VYRE_IO_PHASE_REQUESTED);
        let q = in_scan_state(&state).unwrap();
        let mut claimed = Vec::new();
        q.claim_requests(&mut claimed);
        assert_eq!((claimed[0].slot, claimed[0].src, claimed[0].tag), (1, 3, 9));
        assert_eq!(lane_step(&state, &mut args), LaneStep::HandBack { args_changed: false }, "CLAIMED: wait");
        q.complete(1, Completion::Error(5)).unwrap();
        assert_eq!(lane_step(&state, &mut args), LaneStep::Failed);
        assert_eq!((args[at(VYRE_IO_ARG_RESULT)], q.state(1).unwrap()), (5, VYRE_IO_EMPTY));
        // A second requester of a busy slot waits for it.
        let (mut first, mut second) = (io_args(0), io_args(0));
        lane_step(&state, &mut first);
        assert_eq!(lane_step(&state, &mut second), LaneStep::HandBack { args_changed: false });
        assert_eq!(second[at(VYRE_IO_ARG_PHASE)], VYRE_IO_PHASE_NEW);
    }

    #[test]
    fn a_lane_faults_bad_slots_phases_and_missing_queues() {
        let state = state_with_queue(2);
        assert_eq!(lane_step(&state, &mut io_args(2)), LaneStep::Fault(VYRE_FAULT_BAD_ARGS));
        let mut args = io_args(0);
        args[at(VYRE_IO_ARG_PHASE)] = 7;
        assert_eq!(lane_step(&state, &mut args), LaneStep::Fault(VYRE_FAULT_BAD_ARGS));
        // A header that places the queue past the buffer's end.
        state[at(VYRE_SCAN_HDR_OFF_IO)].store(u32::MAX - 3, Ordering::Relaxed);
        assert_eq!(lane_step(&state, &mut io_args(0)), LaneStep::Fault(VYRE_FAULT_BAD_ARGS));
        assert_eq!(lane_step(&zeroed_words(16), &mut io_args(0)), LaneStep::Fault(VYRE_FAULT_BAD_ARGS));
    }

    proptest! {
        /// The fuzz target's property (fuzz/fuzz_targets/io_queue.rs), in CI.
        #[test]
        fn a_lane_step_over_any_words_never_panics_and_a_fault_writes_nothing(
            words in proptest::collection::vec(any::<u32>(), 0..64),
            args in proptest::array::uniform12(any::<u32>()),
            io_slots in 0u32..=2, phase in 0u32..3,
        ) {
            let mut words = words;
            if words.len() >= 16 {
                words[at(VYRE_SCAN_HDR_IO_SLOTS)] = io_slots;
                words[at(VYRE_SCAN_HDR_OFF_IO)] = 16;
            }
            let state = live_words(&words);
            let mut stepped = args;
            stepped[at(VYRE_IO_ARG_SLOT)] %= 3;
            stepped[at(VYRE_IO_ARG_PHASE)] = phase;
            let before = stepped;
            if let LaneStep::Fault(reason) = lane_step(&state, &mut stepped) {
                prop_assert_eq!(reason, VYRE_FAULT_BAD_ARGS);
                prop_assert_eq!(snapshot(&state), words);
                prop_assert_eq!(stepped, before);
            }
        }

        #[test]
        fn any_request_round_trips_and_any_completion_reaches_the_requester(
            slot in 0u32..VYRE_IO_SLOT_COUNT, src in any::<u32>(), dst in any::<u32>(),
            offset in any::<u64>(), byte_count in any::<u32>(), tag in any::<u32>(),
            ok in any::<bool>(), value in any::<u32>(),
        ) {
            let words = queue(VYRE_IO_SLOT_COUNT);
            let q = IoQueue::new(&words).unwrap();
            let request = Request { slot, op: VYRE_IO_OP_READ, src, dst, offset, byte_count, tag };
            q.request(&request).unwrap();
            let mut claimed = Vec::new();
            q.claim_requests(&mut claimed);
            prop_assert_eq!(&claimed, &vec![request]);
            let completion = if ok { Completion::Ok(value) } else { Completion::Error(value) };
            q.complete(slot, completion).unwrap();
            let (seen, got) = q.take_result(slot).unwrap().unwrap();
            prop_assert_eq!(got, completion);
            prop_assert_eq!(seen.tag, tag);
            prop_assert_eq!(q.state(slot).unwrap(), VYRE_IO_EMPTY);
        }
    }
}
