//! Rule sets: literal and regex patterns compiled into one dense DFA table
//! that a GPU lane (and, as the oracle, [`RuleSet::scan`] on the CPU) walks
//! one byte at a time.
//!
//! # Match semantics
//!
//! A scan reports **every match end of every pattern, overlapping**: for
//! each pattern `p` and each end offset `e` (exclusive, `1..=len`) such that
//! some start `s < e` makes `haystack[s..e]` match `p` on its own, the scan
//! reports `(p, e)` exactly once, however many starts match. Reports come in
//! order of `e`, and for one `e` in increasing pattern id. Patterns that could
//! match the empty string are rejected at compile time (they would match at
//! every offset).
//!
//! - Literals match as exact byte strings (any bytes, NUL included).
//! - Regexes use the `regex` crate's syntax on bytes: Unicode mode is off
//!   (`.` and classes match single bytes, `\xFF` is the byte 0xFF, `\w` is
//!   ASCII), `.` does not match `\n` unless `(?s)`, and `^` / `$` are the
//!   start and end of the scanned bytes (multi-line mode with `(?m)`).
//!   The pattern text must be UTF-8; write other bytes as `\xHH`. Unicode
//!   mode can be turned on inside a pattern with `(?u)`, except for Unicode
//!   word boundaries, which a DFA cannot express (use `(?-u:\b)`).
//! - [`CompileOptions::ascii_case_insensitive`] folds ASCII letters of every
//!   pattern, literal or regex (`(?-i)` inside a regex turns it off there).
//!
//! # The table
//!
//! One multi-pattern DFA is re-laid into this crate's own flat table;
//! docs/RULES.md describes every field. A set of literals only is built as
//! an Aho-Corasick automaton (the aho-corasick crate, standard semantics:
//! thousands of literals in about a second); any set with a regex as one
//! regex-automata DFA (`MatchKind::All`, unanchored, byte classes), whose
//! construction takes minutes beyond a few hundred literals. Walking it:
//! `state = start`; for each byte `i`, `state = transitions[state * stride +
//! class_of[byte]]`, and then every pattern of `state`'s match list ended at
//! offset `i + delay` ([`RuleSet::match_delay`]: 0 for a regex-automata
//! table, whose matches show one byte late, 1 for an Aho-Corasick table,
//! whose matches show at their last byte); after the last byte, `state =
//! transitions[state * stride + class_count]` (the end-of-input column)
//! reveals the matches ending at `len` (in an Aho-Corasick table that column
//! is all dead: nothing is left to reveal). `stride = class_count + 1`. State
//! 0 is the dead state: nothing can match any more, so a walker may stop
//! there.
//!
//! # Longest match
//!
//! [`RuleSet::max_match_len`] bounds how far back from its end a match can
//! start (or says there is no bound, `a.*b`): every reported `(p, e)` has a
//! start `s` with `e - s <= max_match_len`. A walk that starts at offset `t`
//! in [`RuleSet::start_state_after`]`(haystack[t - 1])` therefore reports
//! every match ending after `t + max_match_len - 1` exactly as a walk over
//! the whole input does: splitting a long input into parts needs
//! `max_match_len - 1` bytes of overlap.

mod compile;
mod format;
#[cfg(test)]
mod tests;

use crate::error::Result;
use std::ops::ControlFlow;

/// Most patterns in one rule set.
pub const VYRE_RULE_SET_MAX_PATTERNS: u32 = 65_536;
/// Longest pattern, in bytes.
pub const VYRE_RULE_SET_MAX_PATTERN_LEN: u32 = 65_536;
/// Most DFA states in one rule set.
pub const VYRE_RULE_SET_MAX_STATES: u32 = 1 << 22;
/// Largest rule-set table (`vyre_rule_set_info::table_bytes`), in bytes:
/// 256 MiB. Larger sets fail to compile; split them into several rule sets.
pub const VYRE_RULE_SET_MAX_TABLE_BYTES: u32 = 256 << 20;
/// Largest bounded `vyre_rule_set_info::max_match_len`, in bytes: 16 MiB
/// (256 × `VYRE_RULE_SET_MAX_PATTERN_LEN`). A pattern whose matches can be
/// longer counts as unbounded (and is in practice too large to compile).
pub const VYRE_RULE_SET_MAX_MATCH_LEN: u32 = 1 << 24;
/// `vyre_rule_set_info::max_match_len` (and the serialized field) when some
/// pattern's matches have no length bound (`a.*b`, `x+`).
pub const VYRE_MATCH_LEN_UNBOUNDED: u32 = u32::MAX;

/// What a pattern's bytes mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatternKind {
    /// An exact byte string.
    Literal,
    /// A regular expression (UTF-8 text, `regex` crate syntax on bytes).
    Regex,
}

/// One pattern of a rule set; its id is its index in the compiled list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern {
    pub bytes: Vec<u8>,
    pub kind: PatternKind,
}

impl Pattern {
    /// An exact byte string.
    pub fn literal(bytes: impl Into<Vec<u8>>) -> Pattern {
        Pattern { bytes: bytes.into(), kind: PatternKind::Literal }
    }

    /// A regular expression.
    pub fn regex(text: impl Into<Vec<u8>>) -> Pattern {
        Pattern { bytes: text.into(), kind: PatternKind::Regex }
    }
}

/// How patterns are compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CompileOptions {
    /// Fold ASCII letters (`a`-`z` match `A`-`Z` and back) in every pattern.
    pub ascii_case_insensitive: bool,
}

/// A compiled rule set: the flat DFA table (see the module docs and
/// docs/RULES.md). Every instance is valid: made by [`RuleSet::compile`] or
/// checked field by field by [`RuleSet::from_bytes`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    pub(crate) pattern_count: u32,
    pub(crate) flags: u32,
    pub(crate) class_of: [u8; 256],
    pub(crate) class_count: u32,
    pub(crate) state_count: u32,
    /// Start state after each possible look-behind: `[0]` at the start of
    /// the input, `[1 + b]` after the byte `b`.
    pub(crate) starts: Vec<u32>,
    /// `state_count * (class_count + 1)` next states.
    pub(crate) transitions: Vec<u32>,
    /// `state_count + 1` offsets into `match_ids`; state `s` matches the
    /// patterns `match_ids[match_offsets[s]..match_offsets[s + 1]]`.
    pub(crate) match_offsets: Vec<u32>,
    pub(crate) match_ids: Vec<u32>,
    /// [`RuleSet::max_match_len`]: at most `VYRE_RULE_SET_MAX_MATCH_LEN`;
    /// `Some(0)` exactly when `match_ids` is empty (nothing can match).
    pub(crate) max_match_len: Option<u32>,
}

/// `RuleSet::flags` bit: compiled with ASCII case folding (informational).
pub(crate) const FLAG_CASE_INSENSITIVE: u32 = 1;
/// `RuleSet::flags` bit: match lists belong to the byte just read
/// ([`RuleSet::match_delay`] 1), and the end-of-input column is all dead.
pub(crate) const FLAG_MATCH_AT_LAST_BYTE: u32 = 2;

/// Entries of `RuleSet::starts`: the start of input, then one per byte.
pub(crate) const START_COUNT: usize = 257;

impl RuleSet {
    /// Compile `patterns` (ids are their indices) into one table. Errors
    /// (`InvalidArgument`) name the pattern index and the reason: empty or
    /// too long patterns, patterns that match the empty string, regex syntax
    /// errors, non-UTF-8 regex text; or say which limit a too large set
    /// exceeds. An empty list is valid and matches nothing.
    pub fn compile(patterns: &[Pattern], options: &CompileOptions) -> Result<RuleSet> {
        compile::compile(patterns, options)
    }

    /// Call `on_match(pattern_id, end)` for every match end of every pattern
    /// in `haystack` (see the module docs), in increasing `end`. This walks
    /// the flat table exactly as the GPU does: it is the oracle for the
    /// kernel.
    pub fn scan(&self, haystack: &[u8], mut on_match: impl FnMut(u32, usize)) {
        let _: ControlFlow<()> = self.scan_until(haystack, |id, end| {
            on_match(id, end);
            ControlFlow::Continue(())
        });
    }

    /// [`RuleSet::scan`] that stops as soon as `on_match` returns
    /// `ControlFlow::Break`, returning that break (or `Continue` when the
    /// whole haystack was scanned).
    pub fn scan_until<B>(
        &self,
        haystack: &[u8],
        mut on_match: impl FnMut(u32, usize) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let stride = self.class_count as usize + 1;
        let delay = self.match_delay() as usize;
        let mut state = self.starts[0] as usize;
        for (i, &byte) in haystack.iter().enumerate() {
            state = self.transitions[state * stride + usize::from(self.class_of[usize::from(byte)])] as usize;
            if state == 0 {
                return ControlFlow::Continue(());
            }
            self.report(state, i + delay, &mut on_match)?;
        }
        state = self.transitions[state * stride + self.class_count as usize] as usize;
        self.report(state, haystack.len(), &mut on_match)
    }

    fn report<B>(
        &self,
        state: usize,
        end: usize,
        on_match: &mut impl FnMut(u32, usize) -> ControlFlow<B>,
    ) -> ControlFlow<B> {
        let (first, last) = (self.match_offsets[state] as usize, self.match_offsets[state + 1] as usize);
        for &id in &self.match_ids[first..last] {
            on_match(id, end)?;
        }
        ControlFlow::Continue(())
    }

    /// Every `(pattern_id, end)` of [`RuleSet::scan`], collected.
    pub fn matches(&self, haystack: &[u8]) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        self.scan(haystack, |id, end| out.push((id, end)));
        out
    }

    /// Patterns compiled in (ids `0..pattern_count`).
    pub fn pattern_count(&self) -> u32 {
        self.pattern_count
    }

    /// DFA states, the dead state 0 included.
    pub fn state_count(&self) -> u32 {
        self.state_count
    }

    /// Byte classes (1..=256); the table has `class_count + 1` columns, the
    /// last one for end of input.
    pub fn class_count(&self) -> u32 {
        self.class_count
    }

    /// The longest a match of any pattern can be, in bytes: every `(id,
    /// end)` that [`RuleSet::scan`] reports has a start `s` with `end - s <=`
    /// this. `None` when some pattern's matches are unbounded (`a.*b`,
    /// `x+`). Literals count their length; regexes the longest match of
    /// their parsed form, in bytes (of the UTF-8 encoding in Unicode mode),
    /// after case folding (`(?ui)k` also matches the 3-byte KELVIN SIGN).
    /// Patterns that can never match (`[^\x00-\xFF]`) count for nothing, so
    /// `Some(0)` means nothing can match (e.g. no patterns). At most
    /// [`VYRE_RULE_SET_MAX_MATCH_LEN`]: a longer bound counts as unbounded.
    pub fn max_match_len(&self) -> Option<u32> {
        self.max_match_len
    }

    /// What to add to the index of the byte just read to get the end of the
    /// matches in the new state's list: 0 when matches show one byte late
    /// (regex-automata tables, which need look-ahead for `\b` and `$`), 1
    /// when they show at their last byte (Aho-Corasick tables of literals).
    pub fn match_delay(&self) -> u32 {
        u32::from(self.flags & FLAG_MATCH_AT_LAST_BYTE != 0)
    }

    /// Whether it was compiled ASCII case-insensitive.
    pub fn ascii_case_insensitive(&self) -> bool {
        self.flags & FLAG_CASE_INSENSITIVE != 0
    }

    /// The byte → class map.
    pub fn class_of(&self) -> &[u8; 256] {
        &self.class_of
    }

    /// The start state at the beginning of the input.
    pub fn start_state(&self) -> u32 {
        self.starts[0]
    }

    /// The start state for a walk that begins right after the byte
    /// `previous` (it matters only for look-behind assertions: `^` with
    /// `(?m)`, `\b`).
    pub fn start_state_after(&self, previous: u8) -> u32 {
        self.starts[1 + usize::from(previous)]
    }

    /// `state_count * (class_count + 1)` next states, row by row.
    pub fn transitions(&self) -> &[u32] {
        &self.transitions
    }

    /// `state_count + 1` offsets into [`RuleSet::match_ids`].
    pub fn match_offsets(&self) -> &[u32] {
        &self.match_offsets
    }

    /// Pattern ids of every state's match list, back to back.
    pub fn match_ids(&self) -> &[u32] {
        &self.match_ids
    }

    /// Bytes of the table a kernel needs: `class_of`, start states,
    /// transitions, match offsets and match ids.
    pub fn table_bytes(&self) -> u64 {
        table_bytes(self.transitions.len() as u64, u64::from(self.state_count), self.match_ids.len() as u64)
    }

    /// Serialize (see docs/RULES.md); [`RuleSet::from_bytes`] loads it.
    pub fn to_bytes(&self) -> Vec<u8> {
        format::to_bytes(self)
    }

    /// Load a serialized rule set, validating everything: a corrupt,
    /// truncated, foreign or malicious input is rejected with a `Protocol`
    /// error saying what is wrong, never trusted and never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<RuleSet> {
        format::from_bytes(bytes)
    }
}

/// Rewrite the checksum that ends serialized rule-set `bytes` to match the
/// bytes before it (too short: left alone). For the fuzzer
/// (fuzz/fuzz_targets/rule_set.rs): mutated bytes then reach the
/// structural validation that a wrong checksum would hide.
#[doc(hidden)]
pub fn reseal_serialized(bytes: &mut [u8]) {
    if let Some(body) = bytes.len().checked_sub(8) {
        let checksum = format::fnv1a64(&bytes[..body]);
        bytes[body..].copy_from_slice(&checksum.to_le_bytes());
    }
}

/// Table bytes for these counts (see [`RuleSet::table_bytes`]).
pub(crate) fn table_bytes(transitions: u64, states: u64, match_ids: u64) -> u64 {
    256 + 4 * (START_COUNT as u64 + transitions + states + 1 + match_ids)
}
