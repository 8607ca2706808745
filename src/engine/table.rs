//! A rule set laid out as the table the kernel walks (docs/PROTOCOL.md,
//! "Scanning"): header, class map, start states, transitions whose entries
//! are target states flagged when the target has matches, match offsets, match ids.

use crate::error::{Error, Result};
use crate::protocol::abi::*;
use crate::rules::RuleSet;

/// Tables start on their own 256-byte line (64 words): the kernel reads
/// them through a non-coherent cache, which must never hold a line that a
/// later load rewrites.
pub(crate) const TABLE_ALIGN_WORDS: u32 = 64;

/// The kernel's table for `rs`, padded to `TABLE_ALIGN_WORDS`.
pub fn encode(rs: &RuleSet) -> Result<Vec<u32>> {
    let states = rs.state_count();
    let offsets = rs.match_offsets();
    let list_len = |state: u32| offsets[state as usize + 1] - offsets[state as usize];
    let max_list = (0..states).map(list_len).max().unwrap_or(0);
    if max_list > VYRE_TABLE_MAX_MATCHES_PER_STATE {
        return Err(Error::invalid(format!(
            "{max_list} patterns of this rule set can end at the same byte; the engine allows at most \
             VYRE_TABLE_MAX_MATCHES_PER_STATE ({VYRE_TABLE_MAX_MATCHES_PER_STATE}); split it into several rule sets"
        )));
    }
    let flagged = |state: u32| {
        let flag = if list_len(state) > 0 { VYRE_TABLE_MATCH_FLAG } else { 0 };
        state | flag
    };
    let starts = VYRE_TABLE_HEADER_WORDS + VYRE_TABLE_CLASS_MAP_WORDS;
    let transitions = starts + 257;
    let match_offsets = transitions as u64 + rs.transitions().len() as u64;
    let match_ids = match_offsets + offsets.len() as u64;
    let total = match_ids + rs.match_ids().len() as u64;
    let padded = total.div_ceil(u64::from(TABLE_ALIGN_WORDS)) * u64::from(TABLE_ALIGN_WORDS);
    // Rule sets are at most VYRE_RULE_SET_MAX_TABLE_BYTES (256 MiB), so states
    // and offsets fit 31 bits, below the match flag.
    let (Ok(match_offsets), Ok(match_ids), Ok(total)) =
        (u32::try_from(match_offsets), u32::try_from(match_ids), u32::try_from(total))
    else {
        return Err(Error::invalid("the rule set's table does not fit 32-bit word offsets"));
    };
    let mut words = Vec::with_capacity(padded as usize);
    let mut header = [0u32; VYRE_TABLE_HEADER_WORDS as usize];
    for (index, value) in [
        (VYRE_TABLE_MAGIC_WORD, VYRE_TABLE_MAGIC),
        (VYRE_TABLE_CLASSES, rs.class_count()),
        (VYRE_TABLE_STATES, states),
        (VYRE_TABLE_OFF_TRANSITIONS, transitions),
        (VYRE_TABLE_OFF_MATCH_OFFSETS, match_offsets),
        (VYRE_TABLE_OFF_MATCH_IDS, match_ids),
        (VYRE_TABLE_TOTAL_WORDS, total),
        (VYRE_TABLE_MAX_MATCH_LIST, max_list),
        (VYRE_TABLE_OFF_STARTS, starts),
    ] {
        header[index as usize] = value;
    }
    words.extend_from_slice(&header);
    words.extend(rs.class_of().chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
    words.push(rs.start_state());
    words.extend((0..=255u8).map(|byte| rs.start_state_after(byte)));
    words.extend(rs.transitions().iter().map(|&target| flagged(target)));
    words.extend_from_slice(offsets);
    words.extend_from_slice(rs.match_ids());
    words.resize(padded as usize, 0);
    Ok(words)
}
