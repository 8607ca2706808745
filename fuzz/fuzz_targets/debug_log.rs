//! The debug-log decoder: `debug_log::read` on arbitrary words from an
//! arbitrary first record, checked against a log rebuilt by `append`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vyre::protocol::abi::*;
use vyre::protocol::debug_log::{self, DebugLog};
use vyre::protocol::{live_words, words_from_le_bytes};

fuzz_target!(|data: &[u8]| {
    let Some((first, data)) = data.split_first_chunk::<4>() else { return };
    let first = u32::from_le_bytes(*first);
    let words = words_from_le_bytes(&data[..data.len() / 4 * 4]).expect("whole words");
    let Ok(contents) = debug_log::read(&words[..], first) else { return };

    let cursor = words[VYRE_DEBUG_CURSOR as usize];
    let capacity = words[VYRE_DEBUG_CAPACITY as usize];
    assert!(cursor <= capacity);
    assert_eq!(contents.dropped, words[VYRE_DEBUG_DROPPED as usize]);
    let after_first = cursor - first.min(cursor);
    assert_eq!(contents.records.len() as u32 + contents.pending, after_first);
    assert!(contents.records.iter().all(|r| r.value_count <= VYRE_PRINTF_MAX_VALUES));

    // A live view accepts what the decoder accepted; reading it live gives
    // the same contents.
    let live = live_words(&words);
    let log = DebugLog::new(&live).expect("read accepted the header");
    assert_eq!(log.capacity(), capacity);
    assert_eq!(debug_log::read(&live[..], first).expect("same words"), contents);

    // Appending the decoded records to a fresh log reproduces them (values
    // past value_count are not part of a record and come back zero).
    let fresh = live_words(&debug_log::initial_words(capacity).expect("capacity was accepted"));
    let rebuilt = DebugLog::new(&fresh).expect("fresh log");
    for record in &contents.records {
        assert!(rebuilt.append(record.tenant, record.format_id, &record.values[..record.value_count as usize]));
    }
    let again = debug_log::read(&fresh[..], 0).expect("fresh log");
    assert_eq!((again.pending, again.dropped), (0, 0));
    assert_eq!(again.records.len(), contents.records.len());
    for (a, b) in again.records.iter().zip(&contents.records) {
        let n = b.value_count as usize;
        assert_eq!((a.tenant, a.format_id, a.value_count, &a.values[..n]), (b.tenant, b.format_id, b.value_count, &b.values[..n]));
        assert!(a.values[n..].iter().all(|&v| v == 0));
    }
    // A full log counts what it drops instead of overrunning.
    if contents.records.len() as u32 == capacity {
        assert!(!rebuilt.append(0, 0, &[]));
        assert_eq!(debug_log::read(&fresh[..], 0).expect("fresh log").dropped, 1);
    }
});
