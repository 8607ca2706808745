//! The serialized rule set (docs/RULES.md, "Serialization"): a fixed
//! little-endian header, the arrays, and an FNV-1a-64 checksum of everything
//! before it. Loading checks every byte before trusting any of it.

use super::{
    table_bytes, RuleSet, FLAG_CASE_INSENSITIVE, FLAG_MATCH_AT_LAST_BYTE, START_COUNT, VYRE_MATCH_LEN_UNBOUNDED,
    VYRE_RULE_SET_MAX_MATCH_LEN, VYRE_RULE_SET_MAX_PATTERNS, VYRE_RULE_SET_MAX_STATES, VYRE_RULE_SET_MAX_TABLE_BYTES,
};
use crate::error::{Error, Result};

/// The first 8 bytes of every serialized rule set.
pub(crate) const MAGIC: [u8; 8] = *b"VYRERULE";
/// The format version this libvyre writes and reads. Version 1 had no
/// `max_match_len`; it is not read (recompile the patterns).
pub(crate) const FORMAT_VERSION: u32 = 2;
/// Header bytes: magic, version, flags, pattern_count, state_count,
/// class_count, match_id_count, max_match_len.
pub(crate) const HEADER_LEN: usize = 36;
/// Checksum bytes at the end.
const CHECKSUM_LEN: usize = 8;
/// Flags a serialized set may carry.
const KNOWN_FLAGS: u32 = FLAG_CASE_INSENSITIVE | FLAG_MATCH_AT_LAST_BYTE;

/// FNV-1a, 64 bits. Every single-byte change of the input changes it: each
/// step is a bijection of the running hash for a fixed byte.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

fn put_u32s(out: &mut Vec<u8>, values: &[u32]) {
    for value in values {
        out.extend_from_slice(&value.to_le_bytes());
    }
}

pub(super) fn to_bytes(rs: &RuleSet) -> Vec<u8> {
    let total = serialized_len(rs.state_count, rs.class_count, rs.match_ids.len() as u32).unwrap_or(0);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    put_u32s(
        &mut out,
        &[
            FORMAT_VERSION,
            rs.flags,
            rs.pattern_count,
            rs.state_count,
            rs.class_count,
            rs.match_ids.len() as u32,
            rs.max_match_len.unwrap_or(VYRE_MATCH_LEN_UNBOUNDED),
        ],
    );
    out.extend_from_slice(&rs.class_of);
    put_u32s(&mut out, &rs.starts);
    put_u32s(&mut out, &rs.transitions);
    put_u32s(&mut out, &rs.match_offsets);
    put_u32s(&mut out, &rs.match_ids);
    let checksum = fnv1a64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    debug_assert_eq!(out.len(), total);
    out
}

/// Total serialized bytes for these counts, or None if not representable.
fn serialized_len(state_count: u32, class_count: u32, match_id_count: u32) -> Option<usize> {
    let states = u64::from(state_count);
    let transitions = states.checked_mul(u64::from(class_count) + 1)?;
    let words = (START_COUNT as u64)
        .checked_add(transitions)?
        .checked_add(states + 1)?
        .checked_add(u64::from(match_id_count))?;
    let total = (HEADER_LEN as u64 + 256 + CHECKSUM_LEN as u64).checked_add(words.checked_mul(4)?)?;
    usize::try_from(total).ok()
}

fn corrupt(message: impl std::fmt::Display) -> Error {
    Error::protocol(format!("not a valid serialized rule set: {message}"))
}

/// Reads little-endian words from a slice whose length was checked.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8]> {
        if self.bytes.len() < len {
            return Err(corrupt("it ends early"));
        }
        let (head, tail) = self.bytes.split_at(len);
        self.bytes = tail;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn u32s(&mut self, count: usize) -> Result<Vec<u32>> {
        let bytes = self.take(count.checked_mul(4).ok_or_else(|| corrupt("an array is impossibly long"))?)?;
        Ok(bytes.chunks_exact(4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]])).collect())
    }
}

pub(super) fn from_bytes(bytes: &[u8]) -> Result<RuleSet> {
    if bytes.len() < HEADER_LEN {
        return Err(corrupt(format!(
            "{} bytes is shorter than the {HEADER_LEN}-byte header (truncated?)",
            bytes.len()
        )));
    }
    let mut reader = Reader { bytes };
    if reader.take(8)? != MAGIC {
        return Err(corrupt("the magic bytes are not \"VYRERULE\" (not a libvyre rule set)"));
    }
    let version = reader.u32()?;
    if version != FORMAT_VERSION {
        return Err(corrupt(format!(
            "format version {version}; this libvyre reads version {FORMAT_VERSION} (recompile the rule set)"
        )));
    }
    let flags = reader.u32()?;
    let pattern_count = reader.u32()?;
    let state_count = reader.u32()?;
    let class_count = reader.u32()?;
    let match_id_count = reader.u32()?;
    let max_match_len = reader.u32()?;
    if flags & !KNOWN_FLAGS != 0 {
        return Err(corrupt(format!("unknown flags {:#x}", flags & !KNOWN_FLAGS)));
    }
    if pattern_count > VYRE_RULE_SET_MAX_PATTERNS {
        return Err(corrupt(format!("pattern_count {pattern_count} exceeds {VYRE_RULE_SET_MAX_PATTERNS}")));
    }
    if state_count == 0 || state_count > VYRE_RULE_SET_MAX_STATES {
        return Err(corrupt(format!("state_count {state_count} is not in 1..={VYRE_RULE_SET_MAX_STATES}")));
    }
    if class_count == 0 || class_count > 256 {
        return Err(corrupt(format!("class_count {class_count} is not in 1..=256")));
    }
    let transition_count = u64::from(state_count) * (u64::from(class_count) + 1);
    if table_bytes(transition_count, u64::from(state_count), u64::from(match_id_count))
        > u64::from(VYRE_RULE_SET_MAX_TABLE_BYTES)
    {
        return Err(corrupt(format!("its table exceeds {VYRE_RULE_SET_MAX_TABLE_BYTES} bytes")));
    }
    let expected = serialized_len(state_count, class_count, match_id_count)
        .ok_or_else(|| corrupt("its counts give an impossible size"))?;
    if bytes.len() != expected {
        return Err(corrupt(format!(
            "it is {} bytes but its header describes {expected} bytes ({})",
            bytes.len(),
            if bytes.len() < expected { "truncated" } else { "trailing bytes" }
        )));
    }
    let (body, stored) = bytes.split_at(expected - CHECKSUM_LEN);
    let stored = u64::from_le_bytes(stored.try_into().map_err(|_| corrupt("no checksum"))?);
    let computed = fnv1a64(body);
    if stored != computed {
        return Err(corrupt(format!("checksum mismatch (stored {stored:#018x}, computed {computed:#018x})")));
    }

    let mut class_of = [0u8; 256];
    class_of.copy_from_slice(reader.take(256)?);
    let starts = reader.u32s(START_COUNT)?;
    let transitions = reader.u32s(transition_count as usize)?;
    let match_offsets = reader.u32s(state_count as usize + 1)?;
    let match_ids = reader.u32s(match_id_count as usize)?;
    let rs = RuleSet {
        pattern_count,
        flags,
        class_of,
        class_count,
        state_count,
        starts,
        transitions,
        match_offsets,
        match_ids,
        max_match_len: (max_match_len != VYRE_MATCH_LEN_UNBOUNDED).then_some(max_match_len),
    };
    validate(&rs)?;
    Ok(rs)
}

/// The structural rules every table obeys (docs/RULES.md, "Validation"),
/// checked even when the checksum is right: a checksum proves no accident,
/// not good intent.
pub(crate) fn validate(rs: &RuleSet) -> Result<()> {
    let stride = rs.class_count as usize + 1;
    if let Some((byte, class)) = rs.class_of.iter().enumerate().find(|(_, &c)| u32::from(c) >= rs.class_count) {
        return Err(corrupt(format!("byte {byte:#04x} has class {class}, not below class_count {}", rs.class_count)));
    }
    let mut used = vec![false; rs.class_count as usize];
    for &class in &rs.class_of {
        used[usize::from(class)] = true;
    }
    if let Some(class) = used.iter().position(|&u| !u) {
        return Err(corrupt(format!("class {class} has no byte")));
    }
    if let Some((i, s)) = rs.starts.iter().enumerate().find(|(_, &s)| s >= rs.state_count) {
        return Err(corrupt(format!("start state {i} is {s}, not below state_count {}", rs.state_count)));
    }
    if let Some((i, t)) = rs.transitions.iter().enumerate().find(|(_, &t)| t >= rs.state_count) {
        return Err(corrupt(format!(
            "state {} class {} goes to state {t}, not below state_count {}",
            i / stride,
            i % stride,
            rs.state_count
        )));
    }
    if rs.transitions[..stride].iter().any(|&t| t != 0) {
        return Err(corrupt("state 0 (dead) leaves itself"));
    }
    // A table whose matches show at their last byte has nothing left to
    // reveal at the end of the input: one there would be reported at an
    // offset past it.
    if rs.match_delay() == 1 {
        if let Some(state) = (0..rs.state_count as usize).find(|s| rs.transitions[s * stride + stride - 1] != 0) {
            return Err(corrupt(format!(
                "state {state} leaves the dead state at the end of the input, in a table whose matches show at \
                 their last byte"
            )));
        }
    }
    if rs.match_offsets[0] != 0 {
        return Err(corrupt(format!("match_offsets[0] is {}, not 0", rs.match_offsets[0])));
    }
    if let Some(i) = rs.match_offsets.windows(2).position(|w| w[0] > w[1]) {
        return Err(corrupt(format!("match_offsets decrease at state {i}")));
    }
    let last = rs.match_offsets[rs.state_count as usize];
    if last as usize != rs.match_ids.len() {
        return Err(corrupt(format!("match_offsets end at {last} but there are {} match ids", rs.match_ids.len())));
    }
    if rs.match_offsets[1] != 0 {
        return Err(corrupt("state 0 (dead) has matches"));
    }
    if let Some(&id) = rs.match_ids.iter().find(|&&id| id >= rs.pattern_count) {
        return Err(corrupt(format!("pattern id {id} is not below pattern_count {}", rs.pattern_count)));
    }
    for (state, w) in rs.match_offsets.windows(2).enumerate() {
        let ids = &rs.match_ids[w[0] as usize..w[1] as usize];
        if ids.windows(2).any(|p| p[0] >= p[1]) {
            return Err(corrupt(format!("the match list of state {state} is not strictly increasing")));
        }
    }
    // max_match_len cannot be checked against the table (that would take
    // the patterns), only for consistency: 0 exactly when nothing can match,
    // and no bounded value beyond what compiling ever stores. (A forged but
    // plausible value cannot make a walk go out of bounds; an engine that
    // trusts it to split inputs may miss matches across split points.)
    match rs.max_match_len {
        Some(0) if !rs.match_ids.is_empty() => {
            return Err(corrupt("max_match_len is 0 but some state matches a pattern"));
        }
        Some(len) if len != 0 && rs.match_ids.is_empty() => {
            return Err(corrupt(format!("max_match_len is {len} but no state matches any pattern (it must be 0)")));
        }
        None if rs.match_ids.is_empty() => {
            return Err(corrupt("max_match_len is unbounded but no state matches any pattern (it must be 0)"));
        }
        Some(len) if len > VYRE_RULE_SET_MAX_MATCH_LEN => {
            return Err(corrupt(format!(
                "max_match_len {len} exceeds VYRE_RULE_SET_MAX_MATCH_LEN ({VYRE_RULE_SET_MAX_MATCH_LEN}) \
                 and is not VYRE_MATCH_LEN_UNBOUNDED"
            )));
        }
        _ => {}
    }
    Ok(())
}
