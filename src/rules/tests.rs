//! The table walker against independent oracles (a naive literal search and
//! the `regex` crate on every substring), and the serialized format against
//! corruption.

use super::format::{fnv1a64, HEADER_LEN};
use super::*;
use crate::error::ErrorKind;
use proptest::prelude::*;

/// Every `(pattern, end)` by brute force, sorted by end then pattern: what
/// `scan` must report, in that order.
fn oracle(patterns: &[Pattern], options: &CompileOptions, haystack: &[u8]) -> Vec<(u32, usize)> {
    let mut out = Vec::new();
    for (id, pattern) in patterns.iter().enumerate() {
        let mut ends = vec![false; haystack.len() + 1];
        match pattern.kind {
            PatternKind::Literal => {
                let p = &pattern.bytes;
                for s in 0..haystack.len() {
                    let rest = &haystack[s..];
                    let hit = if options.ascii_case_insensitive {
                        rest.len() >= p.len() && rest[..p.len()].eq_ignore_ascii_case(p)
                    } else {
                        rest.starts_with(p)
                    };
                    if hit {
                        ends[s + p.len()] = true;
                    }
                }
            }
            PatternKind::Regex => {
                let text = std::str::from_utf8(&pattern.bytes).unwrap();
                let re = regex::bytes::RegexBuilder::new(&format!("^(?:{text})$"))
                    .unicode(false)
                    .case_insensitive(options.ascii_case_insensitive)
                    .build()
                    .unwrap();
                for (e, end) in ends.iter_mut().enumerate() {
                    *end = (0..e).any(|s| re.is_match(&haystack[s..e]));
                }
            }
        }
        out.extend(ends.iter().enumerate().filter(|(_, &hit)| hit).map(|(e, _)| (id as u32, e)));
    }
    out.sort_by_key(|&(id, end)| (end, id));
    out
}

fn check(patterns: &[Pattern], options: &CompileOptions, haystack: &[u8]) {
    let rs = RuleSet::compile(patterns, options).unwrap();
    assert_eq!(rs.matches(haystack), oracle(patterns, options, haystack), "{patterns:?} {options:?} {haystack:?}");
}

const SENSITIVE: CompileOptions = CompileOptions { ascii_case_insensitive: false };
const INSENSITIVE: CompileOptions = CompileOptions { ascii_case_insensitive: true };

fn lits(list: &[&str]) -> Vec<Pattern> {
    list.iter().map(|p| Pattern::literal(p.as_bytes())).collect()
}

#[test]
fn overlapping_literals_and_prefixes_report_every_end() {
    let patterns = lits(&["ab", "abc", "b"]);
    let rs = RuleSet::compile(&patterns, &SENSITIVE).unwrap();
    assert_eq!(rs.matches(b"xabcab"), vec![(0, 3), (2, 3), (1, 4), (0, 6), (2, 6)]);
    let aa = RuleSet::compile(&lits(&["aa"]), &SENSITIVE).unwrap();
    assert_eq!(aa.matches(b"aaaa"), vec![(0, 2), (0, 3), (0, 4)]);
    check(&patterns, &SENSITIVE, b"abcabcbbab");
    check(&patterns, &INSENSITIVE, b"ABcaBCbBab");
}

#[test]
fn empty_and_one_byte_haystacks() {
    let patterns = lits(&["a", "ab", "\u{0}", "Z"]);
    for options in [SENSITIVE, INSENSITIVE] {
        let rs = RuleSet::compile(&patterns, &options).unwrap();
        assert!(rs.matches(b"").is_empty());
        for byte in 0..=255u8 {
            assert_eq!(rs.matches(&[byte]), oracle(&patterns, &options, &[byte]), "byte {byte}");
        }
    }
    let re = RuleSet::compile(&[Pattern::regex("[0-9]+")], &SENSITIVE).unwrap();
    assert!(re.matches(b"").is_empty());
    assert_eq!(re.matches(b"7"), vec![(0, 1)]);
}

#[test]
fn literals_are_bytes_not_syntax() {
    let patterns = vec![
        Pattern::literal(&b"a.b"[..]),
        Pattern::literal(&b"(x*"[..]),
        Pattern::literal(vec![0xFF, 0x00, 0xC3]),
        Pattern::literal(&b"\\x41"[..]),
    ];
    let haystack = b"a.b axb (x* (xx \xFF\x00\xC3 \\x41 A";
    check(&patterns, &SENSITIVE, haystack);
    check(&patterns, &INSENSITIVE, haystack);
    let rs = RuleSet::compile(&patterns, &SENSITIVE).unwrap();
    assert!(rs.matches(b"axb (xx A").is_empty());
}

#[test]
fn regexes_report_every_end() {
    let patterns = vec![Pattern::regex("[0-9]{3}-[0-9]{4}"), Pattern::regex("a.*b"), Pattern::regex("(?i)foo|bar")];
    check(&patterns, &SENSITIVE, b"call 555-1234 or 555-12345, aXbYb a\nb FoObar");
    let rs = RuleSet::compile(&patterns[1..2], &SENSITIVE).unwrap();
    // a.*b ends at every b after an a on the same line.
    assert_eq!(rs.matches(b"abab\nb"), vec![(0, 2), (0, 4)]);
    check(&[Pattern::regex(r"\xFF[\x00-\x10]"), Pattern::regex("(?s)a.b")], &SENSITIVE, b"\xFF\x05 a\nb \xFF\xFF");
}

#[test]
fn look_around_uses_the_whole_input() {
    let rs = RuleSet::compile(&[Pattern::regex("^ab"), Pattern::regex("ab$"), Pattern::regex(r"\bcd\b")], &SENSITIVE)
        .unwrap();
    assert_eq!(rs.matches(b"abab"), vec![(0, 2), (1, 4)]);
    assert_eq!(rs.matches(b"cab cd xcd"), vec![(2, 6)]);
    assert_eq!(rs.start_state(), rs.starts[0]);
    assert_ne!(rs.start_state_after(b'x'), rs.start_state_after(b' '), "\\b depends on the previous byte");
}

#[test]
fn zero_patterns_match_nothing() {
    let rs = RuleSet::compile(&[], &SENSITIVE).unwrap();
    assert_eq!(rs.pattern_count(), 0);
    assert!(rs.matches(b"anything at all").is_empty());
    assert_eq!(RuleSet::from_bytes(&rs.to_bytes()).unwrap(), rs);
}

fn compile_error(patterns: &[Pattern]) -> String {
    let err = RuleSet::compile(patterns, &SENSITIVE).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument, "{err}");
    err.message
}

#[test]
fn bad_patterns_are_rejected_with_their_index() {
    let ok = Pattern::literal(&b"ok"[..]);
    let message = compile_error(&[ok.clone(), Pattern::literal(Vec::new())]);
    assert!(message.contains("pattern 1") && message.contains("empty"), "{message}");
    let message = compile_error(&[ok.clone(), ok.clone(), Pattern::regex("a(b")]);
    assert!(message.contains("pattern 2") && message.contains("syntax"), "{message}");
    let message = compile_error(&[Pattern::regex("x*")]);
    assert!(message.contains("pattern 0") && message.contains("empty string"), "{message}");
    let message = compile_error(&[ok.clone(), Pattern::regex(vec![b'a', 0xFF])]);
    assert!(message.contains("pattern 1") && message.contains("UTF-8"), "{message}");
    let message = compile_error(&[Pattern::regex(r"(?u)\bword")]);
    assert!(message.contains("pattern 0") && message.contains("Unicode word boundary"), "{message}");
    let long = Pattern::literal(vec![b'a'; VYRE_RULE_SET_MAX_PATTERN_LEN as usize + 1]);
    let message = compile_error(&[ok.clone(), long]);
    assert!(message.contains("pattern 1") && message.contains("VYRE_RULE_SET_MAX_PATTERN_LEN"), "{message}");
    let many = vec![ok; VYRE_RULE_SET_MAX_PATTERNS as usize + 1];
    assert!(compile_error(&many).contains("VYRE_RULE_SET_MAX_PATTERNS"));
}

#[test]
fn exploding_regexes_hit_a_limit_not_the_memory() {
    // [ab]*a[ab]{N} needs 2^N DFA states: under a 1 MiB limit, either
    // regex-automata's limits or ours stop it.
    let patterns = [Pattern::regex("[ab]*a[ab]{30}")];
    let err = compile::compile_limited(&patterns, &SENSITIVE, 1 << 20).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(err.message.contains("too large"), "{err}");
    // Our own check on the flat table, below what regex-automata allows.
    let patterns = [Pattern::regex("[ab]*a[ab]{8}")];
    let full = RuleSet::compile(&patterns, &SENSITIVE).unwrap();
    let err = compile::compile_limited(&patterns, &SENSITIVE, full.table_bytes() as u32 - 1).unwrap_err();
    assert!(err.message.contains("VYRE_RULE_SET_MAX_TABLE_BYTES"), "{err}");
    assert_eq!(compile::compile_limited(&patterns, &SENSITIVE, full.table_bytes() as u32).unwrap(), full);
}

fn sample() -> RuleSet {
    let patterns = vec![
        Pattern::literal(&b"ab"[..]),
        Pattern::literal(&b"abc"[..]),
        Pattern::literal(&b"b"[..]),
        Pattern::regex("[0-9]{3}-[0-9]{4}"),
        Pattern::regex(r"\bx+y"),
    ];
    RuleSet::compile(&patterns, &INSENSITIVE).unwrap()
}

#[test]
fn serialization_round_trips() {
    let rs = sample();
    let bytes = rs.to_bytes();
    let back = RuleSet::from_bytes(&bytes).unwrap();
    assert_eq!(back, rs);
    assert!(back.ascii_case_insensitive());
    let haystack = b"ABC 555-1234 xxy zxy abcab";
    assert_eq!(back.matches(haystack), rs.matches(haystack));
    assert!(!rs.matches(haystack).is_empty());
    assert_eq!(back.to_bytes(), bytes);
    assert_eq!(rs.table_bytes() as usize, bytes.len() - HEADER_LEN - 8);
}

#[test]
fn every_single_byte_corruption_is_rejected() {
    let bytes = sample().to_bytes();
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xFF] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            let err = RuleSet::from_bytes(&bad).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Protocol, "byte {i}: {err}");
        }
    }
}

#[test]
fn truncated_and_extended_inputs_are_rejected() {
    let bytes = sample().to_bytes();
    for len in 0..bytes.len() {
        let err = RuleSet::from_bytes(&bytes[..len]).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol, "length {len}: {err}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(RuleSet::from_bytes(&longer).unwrap_err().message.contains("trailing"));
}

/// Rewrite the checksum so only the structural checks stand between a
/// forged table and the walker.
fn reseal(bytes: &mut [u8]) {
    let body = bytes.len() - 8;
    let sum = fnv1a64(&bytes[..body]);
    bytes[body..].copy_from_slice(&sum.to_le_bytes());
}

fn put(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn forged_tables_with_a_good_checksum_are_rejected() {
    let rs = sample();
    let bytes = rs.to_bytes();
    let starts = HEADER_LEN + 256;
    let transitions = starts + 4 * START_COUNT;
    let offsets = transitions + 4 * rs.transitions.len();
    let ids = offsets + 4 * (rs.state_count as usize + 1);
    let stride = rs.class_count as usize + 1;
    type Forge = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, Forge)> = vec![
        ("magic", Box::new(|b| b[0] = b'X')),
        ("version", Box::new(|b| put(b, 8, 2))),
        ("unknown flags", Box::new(|b| put(b, 12, 6))),
        ("state_count", Box::new(|b| put(b, 20, 0))),
        ("class_count", Box::new(|b| put(b, 24, 257))),
        ("class", Box::new(move |b| b[HEADER_LEN + 7] = rs.class_count as u8)),
        ("start state", Box::new(move |b| put(b, starts + 4, rs.state_count))),
        ("goes to state", Box::new(move |b| put(b, transitions + 4 * stride, u32::MAX))),
        ("dead", Box::new(move |b| put(b, transitions, 1))),
        ("match_offsets[0]", Box::new(move |b| put(b, offsets, 1))),
        ("decrease", Box::new(move |b| put(b, offsets + 8, 1_000))),
        ("pattern id", Box::new(move |b| put(b, ids, 5))),
        ("pattern_count", Box::new(|b| put(b, 16, VYRE_RULE_SET_MAX_PATTERNS + 1))),
    ];
    for (what, forge) in cases {
        let mut bad = bytes.clone();
        forge(&mut bad);
        reseal(&mut bad);
        let err = RuleSet::from_bytes(&bad).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
        assert!(err.message.contains(what), "{what}: {err}");
    }
}

fn literal_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"abAB\x00"[..]), 1..5)
}

fn haystack_strategy(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(&b"abABc\x00\n-0123"[..]), 0..max)
}

const REGEXES: &[&str] = &["[0-9]{3}-[0-9]{4}", "a.*b", "a[bB]+", "(ab|ba)c?", "[^a]b", "0[0-9]?1", r"\x00+a"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn literal_sets_match_the_naive_search(
        patterns in prop::collection::vec(literal_strategy(), 1..10),
        haystack in haystack_strategy(64),
        ci in any::<bool>(),
    ) {
        let patterns: Vec<Pattern> = patterns.into_iter().map(Pattern::literal).collect();
        let options = CompileOptions { ascii_case_insensitive: ci };
        let rs = RuleSet::compile(&patterns, &options).unwrap();
        prop_assert_eq!(rs.matches(&haystack), oracle(&patterns, &options, &haystack));
    }

    #[test]
    fn mixed_sets_match_the_regex_crate(
        literals in prop::collection::vec(literal_strategy(), 0..4),
        regexes in prop::collection::vec(prop::sample::select(REGEXES), 1..4),
        haystack in haystack_strategy(24),
        ci in any::<bool>(),
    ) {
        let mut patterns: Vec<Pattern> = regexes.iter().map(|r| Pattern::regex(r.as_bytes())).collect();
        patterns.extend(literals.into_iter().map(Pattern::literal));
        let options = CompileOptions { ascii_case_insensitive: ci };
        let rs = RuleSet::compile(&patterns, &options).unwrap();
        prop_assert_eq!(rs.matches(&haystack), oracle(&patterns, &options, &haystack));
        let back = RuleSet::from_bytes(&rs.to_bytes()).unwrap();
        prop_assert_eq!(back.matches(&haystack), rs.matches(&haystack));
    }

    #[test]
    fn from_bytes_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = RuleSet::from_bytes(&bytes);
    }

    #[test]
    fn forged_tables_are_rejected_or_safe_to_walk(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        haystack in haystack_strategy(64),
    ) {
        let mut bytes = sample().to_bytes();
        for (at, value) in edits {
            let i = at.index(bytes.len() - 8);
            bytes[i] = value;
        }
        reseal(&mut bytes);
        if let Ok(rs) = RuleSet::from_bytes(&bytes) {
            // Whatever passed validation can be walked without a panic.
            let _ = rs.matches(&haystack);
        }
    }
}
