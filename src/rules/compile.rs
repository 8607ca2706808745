//! Patterns → one DFA → our flat table: an Aho-Corasick DFA (aho-corasick)
//! for a set of literals only, else a regex-automata dense DFA.

use super::{
    table_bytes, CompileOptions, Pattern, PatternKind, RuleSet, FLAG_CASE_INSENSITIVE, FLAG_MATCH_AT_LAST_BYTE,
    START_COUNT, VYRE_RULE_SET_MAX_MATCH_LEN, VYRE_RULE_SET_MAX_PATTERNS, VYRE_RULE_SET_MAX_PATTERN_LEN,
    VYRE_RULE_SET_MAX_STATES, VYRE_RULE_SET_MAX_TABLE_BYTES,
};
use crate::error::{Error, ErrorKind, Result};
use aho_corasick::automaton::Automaton as AcAutomaton;
use regex_automata::dfa::{dense, Automaton, StartKind};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::primitives::StateID;
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::{Hir, HirKind};
use std::collections::HashMap;
use std::fmt::Write as _;

fn internal(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Internal, message)
}

fn too_large(what: String) -> Error {
    Error::invalid(format!("the rule set is too large: {what}; split the patterns into several rule sets"))
}

/// A literal as regex text: every byte escaped, so the parser (and its
/// ASCII case folding) treats it as exactly these bytes.
pub(super) fn literal_regex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 4);
    for byte in bytes {
        let _ = write!(text, "\\x{byte:02X}");
    }
    text
}

fn check_length(index: usize, pattern: &Pattern) -> Result<()> {
    if pattern.bytes.is_empty() {
        return Err(Error::invalid(format!("pattern {index} is empty; an empty pattern would match at every offset")));
    }
    if pattern.bytes.len() > VYRE_RULE_SET_MAX_PATTERN_LEN as usize {
        return Err(Error::invalid(format!(
            "pattern {index} is {} bytes long; the limit is VYRE_RULE_SET_MAX_PATTERN_LEN ({VYRE_RULE_SET_MAX_PATTERN_LEN})",
            pattern.bytes.len()
        )));
    }
    Ok(())
}

fn parse(index: usize, pattern: &Pattern, config: &syntax::Config) -> Result<Hir> {
    check_length(index, pattern)?;
    let text = match pattern.kind {
        PatternKind::Literal => literal_regex(&pattern.bytes),
        PatternKind::Regex => String::from_utf8(pattern.bytes.clone()).map_err(|e| {
            Error::invalid(format!(
                "pattern {index} (regex) is not UTF-8 text (invalid byte at offset {}); write other bytes as \\xHH",
                e.utf8_error().valid_up_to()
            ))
        })?,
    };
    let hir = syntax::parse_with(&text, config)
        .map_err(|e| Error::invalid(format!("pattern {index} (regex) has a syntax error: {e}")))?;
    if hir.properties().minimum_len() == Some(0) {
        return Err(Error::invalid(format!(
            "pattern {index} (regex) can match the empty string, which would match at every offset; \
             make it match at least one byte"
        )));
    }
    if hir.properties().look_set().contains_word_unicode() {
        return Err(Error::invalid(format!(
            "pattern {index} (regex) uses a Unicode word boundary, which a DFA cannot express; \
             use an ASCII one, (?-u:\\b)"
        )));
    }
    Ok(hir)
}

/// The longest match of a parsed pattern, in bytes (of the UTF-8 encoding
/// where Unicode mode is on: the parsed form already holds the case-folded
/// classes and literals, so this is what the DFA built from it matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Longest {
    /// It can never match: an empty class (`[^\x00-\xFF]`) on every path.
    Never,
    /// At most this many bytes (saturating).
    Bytes(u64),
    /// No bound (`+`, `*`, `{n,}` of something non-empty).
    Unbounded,
}

/// Like `hir.properties().maximum_len()`, except that a branch that can
/// never match does not make the whole pattern unbounded (regex-syntax
/// reports `None` for both) and the arithmetic saturates instead of giving
/// up. The recursion is bounded by the parser's nesting limit.
pub(super) fn longest(hir: &Hir) -> Longest {
    use Longest::{Bytes, Never, Unbounded};
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Bytes(0),
        HirKind::Literal(literal) => Bytes(literal.0.len() as u64),
        HirKind::Class(class) => class.maximum_len().map_or(Never, |len| Bytes(len as u64)),
        HirKind::Capture(capture) => longest(&capture.sub),
        HirKind::Repetition(rep) => match (longest(&rep.sub), rep.max) {
            (_, Some(0)) | (Bytes(0), _) => Bytes(0),
            (Never, _) if rep.min == 0 => Bytes(0),
            (Never, _) => Never,
            (Bytes(len), Some(max)) => Bytes(len.saturating_mul(u64::from(max))),
            (Bytes(_), None) | (Unbounded, _) => Unbounded,
        },
        HirKind::Concat(subs) => subs.iter().map(longest).fold(Bytes(0), |acc, sub| match (acc, sub) {
            (Never, _) | (_, Never) => Never,
            (Unbounded, _) | (_, Unbounded) => Unbounded,
            (Bytes(a), Bytes(b)) => Bytes(a.saturating_add(b)),
        }),
        HirKind::Alternation(subs) => subs.iter().map(longest).fold(Never, |acc, sub| match (acc, sub) {
            (Never, other) | (other, Never) => other,
            (Unbounded, _) | (_, Unbounded) => Unbounded,
            (Bytes(a), Bytes(b)) => Bytes(a.max(b)),
        }),
    }
}

/// The set's longest match over the patterns that appear in a match list
/// (the others can never match): `Some(0)` when none does, `None` when one
/// is unbounded or longer than `VYRE_RULE_SET_MAX_MATCH_LEN`.
pub(super) fn max_match_len(longest: &[Longest], match_ids: &[u32]) -> Result<Option<u32>> {
    let mut can_match = vec![false; longest.len()];
    for &id in match_ids {
        can_match[id as usize] = true;
    }
    let mut max = Some(0u32);
    for (index, len) in longest.iter().enumerate().filter(|&(index, _)| can_match[index]) {
        match *len {
            Longest::Never | Longest::Bytes(0) => {
                return Err(internal(format!(
                    "pattern {index} matches in the DFA but its parsed form cannot match a byte"
                )))
            }
            Longest::Bytes(len) if len <= u64::from(VYRE_RULE_SET_MAX_MATCH_LEN) => {
                max = max.map(|max| max.max(len as u32));
            }
            Longest::Bytes(_) | Longest::Unbounded => max = None,
        }
    }
    Ok(max)
}

pub(super) fn compile(patterns: &[Pattern], options: &CompileOptions) -> Result<RuleSet> {
    compile_limited(patterns, options, VYRE_RULE_SET_MAX_TABLE_BYTES)
}

/// [`compile`] with a smaller table limit (tests reach it quickly).
pub(super) fn compile_limited(patterns: &[Pattern], options: &CompileOptions, max_table_bytes: u32) -> Result<RuleSet> {
    // regex-automata pads its rows to a power of two (up to twice ours) and
    // needs scratch space, so its own limits are looser than our table limit,
    // which is checked on the result.
    let build_limit = 2 * max_table_bytes as usize + (16 << 20);
    if patterns.len() > VYRE_RULE_SET_MAX_PATTERNS as usize {
        return Err(Error::invalid(format!(
            "{} patterns; the limit is VYRE_RULE_SET_MAX_PATTERNS ({VYRE_RULE_SET_MAX_PATTERNS})",
            patterns.len()
        )));
    }
    if !patterns.is_empty() && patterns.iter().all(|p| p.kind == PatternKind::Literal) {
        return literal_set(patterns, options, max_table_bytes);
    }
    let config = syntax::Config::new().unicode(false).utf8(false).case_insensitive(options.ascii_case_insensitive);
    let hirs = patterns
        .iter()
        .enumerate()
        .map(|(index, pattern)| parse(index, pattern, &config))
        .collect::<Result<Vec<Hir>>>()?;
    let longest = hirs.iter().map(longest).collect::<Vec<Longest>>();
    let nfa = thompson::Compiler::new()
        .configure(
            thompson::Config::new()
                .utf8(false)
                .shrink(false)
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(build_limit)),
        )
        .build_many_from_hir(&hirs)
        .map_err(|e| too_large(format!("building the NFA failed: {e}")))?;
    let dfa = dense::Builder::new()
        .configure(
            dense::Config::new()
                .match_kind(MatchKind::All)
                .start_kind(StartKind::Unanchored)
                .byte_classes(true)
                .accelerate(false)
                .minimize(false)
                .unicode_word_boundary(false)
                .dfa_size_limit(Some(build_limit))
                .determinize_size_limit(Some(build_limit)),
        )
        .build_from_nfa(&nfa)
        .map_err(|e| too_large(format!("building the DFA failed: {e}")))?;
    let flags = if options.ascii_case_insensitive { FLAG_CASE_INSENSITIVE } else { 0 };
    let mut rs = flatten(&dfa, patterns.len() as u32, flags, max_table_bytes)?;
    rs.max_match_len = max_match_len(&longest, &rs.match_ids)?;
    Ok(rs)
}

/// A DFA that `relay` can re-lay as our table.
trait Source {
    type Id: Copy + Eq + std::hash::Hash;
    /// Whether `id` is the dead state; an error if the walk must never reach it.
    fn is_dead(&self, id: Self::Id) -> Result<bool>;
    fn next(&self, id: Self::Id, byte: u8) -> Self::Id;
    /// The state after the end of input, or `None` for the dead state.
    fn next_eoi(&self, id: Self::Id) -> Option<Self::Id>;
    /// The patterns of `id`'s match list, in any order, repeats allowed.
    fn matches(&self, id: Self::Id) -> Vec<u32>;
}

impl Source for dense::DFA<Vec<u32>> {
    type Id = StateID;
    fn is_dead(&self, id: StateID) -> Result<bool> {
        if self.is_quit_state(id) {
            return Err(internal("the DFA has a quit state although no quit bytes were set"));
        }
        Ok(self.is_dead_state(id))
    }
    fn next(&self, id: StateID, byte: u8) -> StateID {
        self.next_state(id, byte)
    }
    fn next_eoi(&self, id: StateID) -> Option<StateID> {
        Some(self.next_eoi_state(id))
    }
    fn matches(&self, id: StateID) -> Vec<u32> {
        if !self.is_match_state(id) {
            return Vec::new();
        }
        (0..self.match_len(id)).map(|i| self.match_pattern(id, i).as_u32()).collect()
    }
}

impl Source for aho_corasick::dfa::DFA {
    type Id = aho_corasick::automaton::StateID;
    fn is_dead(&self, id: Self::Id) -> Result<bool> {
        Ok(AcAutomaton::is_dead(self, id))
    }
    fn next(&self, id: Self::Id, byte: u8) -> Self::Id {
        self.next_state(aho_corasick::Anchored::No, id, byte)
    }
    fn next_eoi(&self, _: Self::Id) -> Option<Self::Id> {
        None // matches show at their last byte: nothing is left at the end
    }
    fn matches(&self, id: Self::Id) -> Vec<u32> {
        if !AcAutomaton::is_match(self, id) {
            return Vec::new();
        }
        (0..self.match_len(id)).map(|i| self.match_pattern(id, i).as_u32()).collect()
    }
}

/// Distinct prefixes of the patterns (as `fold` maps their bytes), the
/// empty one included: sorted, each pattern adds its bytes past the prefix
/// it shares with the one before it.
pub(super) fn distinct_prefixes(patterns: &[Pattern], fold: impl Fn(u8) -> u8) -> u64 {
    let mut folded: Vec<Vec<u8>> = patterns.iter().map(|p| p.bytes.iter().map(|&b| fold(b)).collect()).collect();
    folded.sort_unstable();
    let shared: u64 =
        folded.windows(2).map(|w| w[0].iter().zip(&w[1]).take_while(|(a, b)| a == b).count() as u64).sum();
    1 + folded.iter().map(|p| p.len() as u64).sum::<u64>() - shared
}

/// A set of literals only, as an Aho-Corasick DFA (standard semantics: every
/// state lists every pattern that ends at it, suffixes included).
fn literal_set(patterns: &[Pattern], options: &CompileOptions, max_table_bytes: u32) -> Result<RuleSet> {
    for (index, pattern) in patterns.iter().enumerate() {
        check_length(index, pattern)?;
    }
    // Bytes that occur in no pattern (after case folding) lead every state
    // where no pattern byte does: they share one class. Each byte that
    // occurs gets its own, shared with its other case when folding.
    let fold = |byte: u8| if options.ascii_case_insensitive { byte.to_ascii_lowercase() } else { byte };
    let mut occurs = [false; 256];
    for pattern in patterns {
        for &byte in &pattern.bytes {
            occurs[usize::from(fold(byte))] = true;
        }
    }
    let has_other = (0..=255u8).any(|byte| !occurs[usize::from(fold(byte))]);
    let mut class_of = [0u8; 256];
    let mut class_of_folded = [None::<u8>; 256];
    let mut classes = u32::from(has_other); // class 0: the bytes in no pattern, if any
    for byte in 0..=255u8 {
        let folded = usize::from(fold(byte));
        if occurs[folded] {
            class_of[usize::from(byte)] = *class_of_folded[folded].get_or_insert_with(|| {
                classes += 1;
                (classes - 1) as u8
            });
        }
    }
    // The automaton has one state per distinct prefix (the trie's nodes),
    // plus our dead state: count them first, so a set whose table cannot fit
    // is refused before the builder spends memory on it.
    let prefixes = distinct_prefixes(patterns, fold);
    if prefixes >= u64::from(VYRE_RULE_SET_MAX_STATES) {
        return Err(too_large(format!(
            "{} automaton states, more than VYRE_RULE_SET_MAX_STATES ({VYRE_RULE_SET_MAX_STATES})",
            prefixes + 1
        )));
    }
    if table_bytes((prefixes + 1) * (u64::from(classes) + 1), prefixes + 1, 0) > u64::from(max_table_bytes) {
        return Err(too_large(format!(
            "the table would exceed {max_table_bytes} bytes (VYRE_RULE_SET_MAX_TABLE_BYTES): {} states x {} columns",
            prefixes + 1,
            classes + 1
        )));
    }
    let dfa = aho_corasick::dfa::DFA::builder()
        .match_kind(aho_corasick::MatchKind::Standard)
        .start_kind(aho_corasick::StartKind::Unanchored)
        .ascii_case_insensitive(options.ascii_case_insensitive)
        // Its own classes keep its rows (and memory) near our table's size.
        .byte_classes(true)
        .build(patterns.iter().map(|p| &p.bytes))
        .map_err(|e| too_large(format!("building the Aho-Corasick automaton failed: {e}")))?;
    let start =
        dfa.start_state(aho_corasick::Anchored::No).map_err(|e| internal(format!("no unanchored start state: {e}")))?;
    let starts = [start; START_COUNT];
    let mut rs = relay(&dfa, class_of, &starts, patterns.len() as u32, max_table_bytes)?;
    rs.flags = FLAG_MATCH_AT_LAST_BYTE | if options.ascii_case_insensitive { FLAG_CASE_INSENSITIVE } else { 0 };
    rs.max_match_len = Some(if rs.match_ids.is_empty() {
        0
    } else {
        patterns.iter().map(|p| p.bytes.len() as u32).max().unwrap_or(0)
    });
    Ok(rs)
}

/// Re-lay a regex-automata DFA (see `relay`).
fn flatten(dfa: &dense::DFA<Vec<u32>>, pattern_count: u32, flags: u32, max_table_bytes: u32) -> Result<RuleSet> {
    let classes = dfa.byte_classes();
    let mut class_of = [0u8; 256];
    for (byte, class) in class_of.iter_mut().enumerate() {
        *class = classes.get(byte as u8);
    }
    let starts = std::iter::once(None)
        .chain((0..=255u8).map(Some))
        .map(|previous| {
            let config = start::Config::new().anchored(Anchored::No).look_behind(previous);
            dfa.start_state(&config).map_err(|e| internal(format!("no unanchored start state: {e}")))
        })
        .collect::<Result<Vec<StateID>>>()?;
    let mut rs = relay(dfa, class_of, &starts, pattern_count, max_table_bytes)?;
    rs.flags = flags;
    Ok(rs)
}

/// Re-lay a DFA whose byte classes are `class_of` (every byte of a class
/// leads every state to the same state) as our table: state 0 is dead, the
/// rest numbered in breadth-first order from the start states. Flags and
/// max_match_len are the caller's to set.
fn relay<S: Source>(
    dfa: &S,
    class_of: [u8; 256],
    starts: &[S::Id],
    pattern_count: u32,
    max_table_bytes: u32,
) -> Result<RuleSet> {
    let class_count = class_of.iter().map(|&c| u32::from(c)).max().unwrap_or(0) + 1;
    let stride = class_count as usize + 1;
    // One representative byte per class.
    let mut representative = vec![0u8; class_count as usize];
    for byte in (0..=255u8).rev() {
        representative[usize::from(class_of[usize::from(byte)])] = byte;
    }

    let mut index: HashMap<S::Id, u32> = HashMap::new();
    let mut order: Vec<Option<S::Id>> = vec![None]; // our state 0: dead
    let mut number = |id: Option<S::Id>, order: &mut Vec<Option<S::Id>>| -> Result<u32> {
        let Some(id) = id else { return Ok(0) };
        if dfa.is_dead(id)? {
            return Ok(0);
        }
        if let Some(&n) = index.get(&id) {
            return Ok(n);
        }
        if order.len() >= VYRE_RULE_SET_MAX_STATES as usize {
            return Err(too_large(format!(
                "more than VYRE_RULE_SET_MAX_STATES ({VYRE_RULE_SET_MAX_STATES}) DFA states"
            )));
        }
        let n = order.len() as u32;
        index.insert(id, n);
        order.push(Some(id));
        Ok(n)
    };

    let starts = starts.iter().map(|&id| number(Some(id), &mut order)).collect::<Result<Vec<u32>>>()?;
    let mut transitions: Vec<u32> = vec![0; stride]; // the dead row
    let mut match_offsets = vec![0u32, 0];
    let mut match_ids: Vec<u32> = Vec::new();
    let mut next = 1;
    while next < order.len() {
        let Some(id) = order[next] else {
            return Err(internal("a DFA state without an id"));
        };
        for &byte in &representative {
            let target = number(Some(dfa.next(id, byte)), &mut order)?;
            transitions.push(target);
        }
        let target = number(dfa.next_eoi(id), &mut order)?;
        transitions.push(target);
        let mut ids = dfa.matches(id);
        ids.sort_unstable();
        ids.dedup();
        match_ids.extend_from_slice(&ids);
        match_offsets.push(u32::try_from(match_ids.len()).map_err(|_| too_large("too many match entries".into()))?);
        let bytes = table_bytes(transitions.len() as u64, order.len() as u64, match_ids.len() as u64);
        if bytes > u64::from(max_table_bytes) {
            return Err(too_large(format!(
                "the table would exceed {max_table_bytes} bytes (VYRE_RULE_SET_MAX_TABLE_BYTES)"
            )));
        }
        next += 1;
    }
    Ok(RuleSet {
        pattern_count,
        flags: 0,
        class_of,
        class_count,
        state_count: order.len() as u32,
        starts,
        transitions,
        match_offsets,
        match_ids,
        max_match_len: Some(0), // set by the caller
    })
}
