//! Engine work items: "scan bytes [offset, offset + len) with rule set R".
//!
//! The engine's work ring is a bounded multi-producer multi-consumer queue
//! with one sequence word per slot (Vyukov): slot `i` is free for the
//! producer at position `p` when its sequence equals `p`, holds an item for
//! the consumer at `p` when it equals `p + 1`, and is handed back for the
//! next lap with `p + slots`. Sequences are 32-bit and compared by wrapping
//! distance, so they may wrap freely.

use super::abi::*;
use super::{at, Words};
use crate::error::{Error, Result};

/// One scan job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkItem {
    pub input_offset: u64,
    pub input_len: u32,
    pub rule_set_id: u32,
    pub user_data: u64,
}

impl WorkItem {
    /// The item's words after the sequence word (`VYRE_WORK_WORD_OFFSET_LO..`).
    pub fn encode(&self) -> [u32; VYRE_WORK_ITEM_WORDS as usize - 1] {
        let mut words = [0u32; VYRE_WORK_ITEM_WORDS as usize - 1];
        let mut put = |word: u32, value: u32| words[at(word) - 1] = value;
        put(VYRE_WORK_WORD_OFFSET_LO, self.input_offset as u32);
        put(VYRE_WORK_WORD_OFFSET_HI, (self.input_offset >> 32) as u32);
        put(VYRE_WORK_WORD_LEN, self.input_len);
        put(VYRE_WORK_WORD_RULE_SET, self.rule_set_id);
        put(VYRE_WORK_WORD_USER_LO, self.user_data as u32);
        put(VYRE_WORK_WORD_USER_HI, (self.user_data >> 32) as u32);
        words
    }

    /// Decode the item in slot `slot` of a work ring.
    pub fn decode<W: Words + ?Sized>(words: &W, slot: u32) -> Result<WorkItem> {
        let base = at(slot) * at(VYRE_WORK_ITEM_WORDS);
        let word = |w: u32| words.word_or_err(base + at(w), "work ring");
        let wide = |lo: u32, hi: u32| -> Result<u64> { Ok(u64::from(word(lo)?) | (u64::from(word(hi)?) << 32)) };
        Ok(WorkItem {
            input_offset: wide(VYRE_WORK_WORD_OFFSET_LO, VYRE_WORK_WORD_OFFSET_HI)?,
            input_len: word(VYRE_WORK_WORD_LEN)?,
            rule_set_id: word(VYRE_WORK_WORD_RULE_SET)?,
            user_data: wide(VYRE_WORK_WORD_USER_LO, VYRE_WORK_WORD_USER_HI)?,
        })
    }

    /// The byte range the item covers, checked against an arena of
    /// `arena_len` bytes.
    pub fn range_in(&self, arena_len: u64) -> Result<std::ops::Range<u64>> {
        let end = self.input_offset.checked_add(u64::from(self.input_len));
        match end {
            Some(end) if end <= arena_len => Ok(self.input_offset..end),
            _ => Err(Error::out_of_range(format!(
                "bytes [{}, {}+{}) lie outside the {arena_len}-byte input arena; \
                 write the input inside the arena and pass its offset and length",
                self.input_offset, self.input_offset, self.input_len
            ))),
        }
    }
}

/// Where a slot's sequence stands relative to a ring position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceOrder {
    /// The slot is a lap behind: full (for a producer) or empty (for a consumer).
    Behind,
    /// The slot is ready for this position.
    Ready,
    /// Another thread already took this position; reload and retry.
    Ahead,
}

/// Compare `sequence` with `position` by wrapping distance.
pub fn sequence_order(sequence: u32, position: u32) -> SequenceOrder {
    match (sequence.wrapping_sub(position) as i32).cmp(&0) {
        std::cmp::Ordering::Less => SequenceOrder::Behind,
        std::cmp::Ordering::Equal => SequenceOrder::Ready,
        std::cmp::Ordering::Greater => SequenceOrder::Ahead,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sequence_order_survives_wrap_around() {
        assert_eq!(sequence_order(5, 5), SequenceOrder::Ready);
        assert_eq!(sequence_order(4, 5), SequenceOrder::Behind);
        assert_eq!(sequence_order(6, 5), SequenceOrder::Ahead);
        assert_eq!(sequence_order(0, u32::MAX), SequenceOrder::Ahead);
        assert_eq!(sequence_order(u32::MAX, 0), SequenceOrder::Behind);
    }

    #[test]
    fn ranges_outside_the_arena_are_rejected_without_overflow() {
        let item = |input_offset, input_len| WorkItem { input_offset, input_len, ..WorkItem::default() };
        assert_eq!(item(10, 6).range_in(16).unwrap(), 10..16);
        assert!(item(10, 7).range_in(16).is_err());
        assert!(item(u64::MAX, 1).range_in(u64::MAX).is_err());
        assert_eq!(item(16, 0).range_in(16).unwrap(), 16..16);
    }

    proptest! {
        #[test]
        fn work_items_round_trip(offset in any::<u64>(), len in any::<u32>(), rules in any::<u32>(), user in any::<u64>(), seq in any::<u32>()) {
            let item = WorkItem { input_offset: offset, input_len: len, rule_set_id: rules, user_data: user };
            let mut words = vec![seq];
            words.extend_from_slice(&item.encode());
            prop_assert_eq!(WorkItem::decode(&words[..], 0).unwrap(), item);
            prop_assert!(WorkItem::decode(&words[..], 1).is_err());
        }
    }
}
