//! The serialized rule-set decoder: `RuleSet::from_bytes` on arbitrary
//! bytes, half of them with the checksum made right so that mutations reach
//! the structural validation behind it. What it accepts must re-encode to
//! the same bytes and walk any input without panicking, reporting only
//! pattern ids it has and ends inside the input, in order.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vyre::rules::{reseal_serialized, RuleSet};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode & 1 == 1 {
        reseal_serialized(&mut bytes);
    }
    let Ok(rule_set) = RuleSet::from_bytes(&bytes) else { return };
    assert_eq!(rule_set.to_bytes(), bytes, "the encoding is canonical");
    assert_eq!(RuleSet::from_bytes(&rule_set.to_bytes()).expect("re-encoded set decodes"), rule_set);

    // Walk the fuzz input itself: arbitrary bytes through a validated table.
    let haystack = &data[..data.len().min(512)];
    let mut last_end = 0;
    rule_set.scan(haystack, |id, end| {
        assert!(id < rule_set.pattern_count(), "match of pattern {id} in a set of {}", rule_set.pattern_count());
        assert!(end <= haystack.len() && end >= last_end, "end {end} after {last_end} in {} bytes", haystack.len());
        last_end = end;
    });
});
