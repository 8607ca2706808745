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
                let re = whole_match_regex(pattern, options);
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
        ("version", Box::new(|b| put(b, 8, 1))),
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
        ("max_match_len is 0", Box::new(|b| put(b, 32, 0))),
        ("exceeds VYRE_RULE_SET_MAX_MATCH_LEN", Box::new(|b| put(b, 32, VYRE_RULE_SET_MAX_MATCH_LEN + 1))),
        ("exceeds VYRE_RULE_SET_MAX_MATCH_LEN", Box::new(|b| put(b, 32, VYRE_MATCH_LEN_UNBOUNDED - 1))),
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

// ------------------------------------------------------------ max_match_len

fn max_len(patterns: &[Pattern], options: &CompileOptions) -> Option<u32> {
    RuleSet::compile(patterns, options).unwrap().max_match_len()
}

fn regex_max_len(text: &str, options: &CompileOptions) -> Option<u32> {
    max_len(&[Pattern::regex(text)], options)
}

/// Whether a whole byte string matches one pattern.
type Matcher = Box<dyn Fn(&[u8]) -> bool>;

/// Matches of `rs` (compiled from `patterns`) that no start within `bound`
/// bytes explains: `(id, end)` such that no `s` in `end - bound .. end`
/// makes `haystack[s..end]` match pattern `id` on its own (naive comparison
/// for literals, the regex crate for regexes). Patterns must not use
/// look-around (checked on the substring alone). Empty when `bound` is a
/// true bound on every match's length.
fn unexplained(
    rs: &RuleSet,
    patterns: &[Pattern],
    options: &CompileOptions,
    haystack: &[u8],
    bound: usize,
) -> Vec<(u32, usize)> {
    let matchers: Vec<Matcher> = patterns
        .iter()
        .map(|pattern| -> Matcher {
            match pattern.kind {
                PatternKind::Literal => {
                    let p = pattern.bytes.clone();
                    let ci = options.ascii_case_insensitive;
                    Box::new(move |s: &[u8]| if ci { s.eq_ignore_ascii_case(&p) } else { s == &p[..] })
                }
                PatternKind::Regex => {
                    let re = whole_match_regex(pattern, options);
                    Box::new(move |s: &[u8]| re.is_match(s))
                }
            }
        })
        .collect();
    rs.matches(haystack)
        .into_iter()
        .filter(|&(id, end)| !(end.saturating_sub(bound)..end).any(|s| matchers[id as usize](&haystack[s..end])))
        .collect()
}

#[test]
fn literal_sets_bound_by_their_longest_literal() {
    assert_eq!(max_len(&lits(&["ab", "abcde", "b"]), &SENSITIVE), Some(5));
    assert_eq!(max_len(&lits(&["ab", "abcde", "b"]), &INSENSITIVE), Some(5));
    assert_eq!(max_len(&[Pattern::literal(vec![0xFF, 0x00, 0xC3])], &SENSITIVE), Some(3));
    assert_eq!(max_len(&[Pattern::literal(vec![b'q'; 2000]), Pattern::literal(&b"q"[..])], &SENSITIVE), Some(2000));
    // Nothing to match: 0.
    assert_eq!(max_len(&[], &SENSITIVE), Some(0));
}

#[test]
fn unbounded_regexes_give_none() {
    for text in ["a.*b", "x+", "[0-9]{3,}", "(?:ab)*c", "a(?:b|c+)d", "(?s).+", r"\bword\w*"] {
        assert_eq!(regex_max_len(text, &SENSITIVE), None, "{text}");
        assert_eq!(regex_max_len(text, &INSENSITIVE), None, "{text}");
    }
    // One unbounded pattern makes the whole set unbounded.
    let mut patterns = lits(&["abc"]);
    patterns.push(Pattern::regex("[0-9]{2}"));
    assert_eq!(max_len(&patterns, &SENSITIVE), Some(3));
    patterns.push(Pattern::regex("z+"));
    assert_eq!(max_len(&patterns, &SENSITIVE), None);
}

#[test]
fn bounded_regexes_give_their_longest_match() {
    let cases: &[(&str, u32)] = &[
        ("[0-9]{3}-[0-9]{4}", 8),
        ("a{2,5}", 5),
        ("(?:ab|c){1,3}d?", 7),
        ("a|bcd|ef", 3),
        ("x(?:yz)?", 3),
        (r"\bab\b", 2), // look-around takes no bytes
        ("^a$", 1),
        (r"\xFF[\x00-\x10]", 2),
        ("(?s).", 1), // one byte: Unicode mode is off
        ("a[^x]b", 3),
        ("a|b$c{9}", 10), // an upper bound: look-around makes the long branch impossible
    ];
    for &(text, want) in cases {
        assert_eq!(regex_max_len(text, &SENSITIVE), Some(want), "{text}");
        assert_eq!(regex_max_len(text, &INSENSITIVE), Some(want), "{text} (case-insensitive)");
    }
}

#[test]
fn unicode_classes_count_utf8_bytes() {
    let cases: &[(&str, u32)] = &[
        ("(?u)é", 2),         // U+00E9: 2 bytes
        ("(?u)[αω]", 2),      // Greek: 2 bytes
        ("(?u)[a€]", 3),      // the longest member counts: € is 3 bytes
        ("(?u)\u{10348}", 4), // 4 bytes
        ("(?u).", 4),         // any scalar value up to U+10FFFF
        ("(?u:[é-ê])x", 3),
        ("é", 2), // a literal char in a byte-mode regex is its UTF-8 bytes
        ("(?-u:\\xE9)", 1),
    ];
    for &(text, want) in cases {
        assert_eq!(regex_max_len(text, &SENSITIVE), Some(want), "{text}");
    }
    // And the DFA really matches that many bytes: `(?u).` on a 4-byte char.
    let rs = RuleSet::compile(&[Pattern::regex("(?u)x.")], &SENSITIVE).unwrap();
    assert_eq!(rs.max_match_len(), Some(5));
    let haystack = "x\u{10348}".as_bytes();
    assert_eq!(rs.matches(haystack), vec![(0, 5)]);
    assert!(unexplained(&rs, &[Pattern::regex("(?u)x.")], &SENSITIVE, haystack, 5).is_empty());
    assert_eq!(unexplained(&rs, &[Pattern::regex("(?u)x.")], &SENSITIVE, haystack, 4), vec![(0, 5)]);
}

#[test]
fn case_insensitivity_counts_the_folded_forms() {
    // ASCII folding never changes a length.
    assert_eq!(regex_max_len("(?i)k", &SENSITIVE), Some(1));
    assert_eq!(regex_max_len("k", &INSENSITIVE), Some(1));
    assert_eq!(max_len(&lits(&["Kelvin"]), &INSENSITIVE), Some(6));
    // In Unicode mode, k folds to U+212A KELVIN SIGN (3 bytes) and s to
    // U+017F LONG S (2 bytes): whether the case folding comes from (?i) or
    // from the compile option.
    assert_eq!(regex_max_len("(?u)k", &SENSITIVE), Some(1));
    assert_eq!(regex_max_len("(?ui)k", &SENSITIVE), Some(3));
    assert_eq!(regex_max_len("(?u)k", &INSENSITIVE), Some(3));
    assert_eq!(regex_max_len("(?u)s", &INSENSITIVE), Some(2));
    assert_eq!(regex_max_len("(?u)(?-i)k", &INSENSITIVE), Some(1));
    let patterns = [Pattern::regex("(?u)ok")];
    let rs = RuleSet::compile(&patterns, &INSENSITIVE).unwrap();
    assert_eq!(rs.max_match_len(), Some(4));
    let haystack = "xO\u{212A}".as_bytes();
    assert_eq!(rs.matches(haystack), vec![(0, 5)]);
    assert!(unexplained(&rs, &patterns, &INSENSITIVE, haystack, 4).is_empty());
    assert_eq!(unexplained(&rs, &patterns, &INSENSITIVE, haystack, 3), vec![(0, 5)]);
}

#[test]
fn patterns_that_never_match_count_for_nothing() {
    // regex-syntax calls these unbounded (an empty class poisons its
    // maximum); they can never match, so they do not bound anything.
    assert_eq!(regex_max_len(r"[^\x00-\xFF]", &SENSITIVE), Some(0));
    assert_eq!(regex_max_len(r"ab|c[^\x00-\xFF]+", &SENSITIVE), Some(2));
    assert_eq!(regex_max_len(r"a(?:[^\x00-\xFF])?b", &SENSITIVE), Some(2));
    let mut patterns = vec![Pattern::regex(r"[^\x00-\xFF]x+"), Pattern::regex("a$b")];
    let rs = RuleSet::compile(&patterns, &SENSITIVE).unwrap();
    assert_eq!(rs.max_match_len(), Some(0));
    assert!(rs.match_ids().is_empty() && rs.matches(b"xxa$b ab").is_empty());
    assert_eq!(RuleSet::from_bytes(&rs.to_bytes()).unwrap(), rs);
    patterns.push(Pattern::literal(&b"xyz"[..]));
    assert_eq!(max_len(&patterns, &SENSITIVE), Some(3));
}

#[test]
fn longest_follows_the_parsed_pattern() {
    use compile::{longest, Longest};
    let parse = |text: &str| {
        regex_automata::util::syntax::parse_with(
            text,
            &regex_automata::util::syntax::Config::new().unicode(false).utf8(false),
        )
        .unwrap()
    };
    // Wherever no class is empty it agrees with regex-syntax.
    for text in ["a{2,5}", "(?:ab|c){1,3}d?", "x+", "(?u)[a€]", r"\b(?:ab){0}c", "(?:a|bc)*", "(?:){3}a"] {
        let hir = parse(text);
        let want = hir.properties().maximum_len().map_or(Longest::Unbounded, |n| Longest::Bytes(n as u64));
        assert_eq!(longest(&hir), want, "{text}");
    }
    assert_eq!(longest(&parse(r"[^\x00-\xFF]")), Longest::Never);
    assert_eq!(longest(&parse(r"[^\x00-\xFF]{0,3}")), Longest::Bytes(0));
    // Bounded but too long to be useful (and to compile): counts as unbounded.
    let huge = parse("(?s:.){100000}{1000}");
    assert_eq!(longest(&huge), Longest::Bytes(100_000_000));
    let limit = VYRE_RULE_SET_MAX_MATCH_LEN;
    assert_eq!(compile::max_match_len(&[Longest::Bytes(u64::from(limit))], &[0]).unwrap(), Some(limit));
    assert_eq!(compile::max_match_len(&[Longest::Bytes(u64::from(limit) + 1)], &[0]).unwrap(), None);
    assert_eq!(compile::max_match_len(&[Longest::Unbounded, Longest::Bytes(3)], &[1]).unwrap(), Some(3));
    assert_eq!(compile::max_match_len(&[Longest::Unbounded, Longest::Bytes(3)], &[0, 1]).unwrap(), None);
    assert!(compile::max_match_len(&[Longest::Never], &[0]).is_err());
}

#[test]
fn serialization_keeps_max_match_len() {
    let unbounded = sample();
    assert_eq!(unbounded.max_match_len(), None);
    let bounded =
        RuleSet::compile(&[Pattern::regex("(?u)[0-9]{3}-é"), Pattern::literal(&b"ab"[..])], &SENSITIVE).unwrap();
    assert_eq!(bounded.max_match_len(), Some(6));
    let empty = RuleSet::compile(&[], &SENSITIVE).unwrap();
    for (rs, stored) in [(unbounded, VYRE_MATCH_LEN_UNBOUNDED), (bounded, 6), (empty, 0)] {
        let bytes = rs.to_bytes();
        assert_eq!(bytes[32..36], stored.to_le_bytes(), "the header field at offset 32");
        let back = RuleSet::from_bytes(&bytes).unwrap();
        assert_eq!(back.max_match_len(), rs.max_match_len());
        assert_eq!(back, rs);
    }
}

#[test]
fn forged_max_match_len_is_rejected() {
    let forge = |rs: &RuleSet, value: u32| {
        let mut bytes = rs.to_bytes();
        put(&mut bytes, 32, value);
        reseal(&mut bytes);
        RuleSet::from_bytes(&bytes)
    };
    let bounded = RuleSet::compile(&lits(&["abc", "de"]), &SENSITIVE).unwrap();
    let empty = RuleSet::compile(&[], &SENSITIVE).unwrap();
    let cases: &[(&RuleSet, u32, &str)] = &[
        (&bounded, 0, "max_match_len is 0 but some state matches"),
        (&bounded, VYRE_RULE_SET_MAX_MATCH_LEN + 1, "exceeds VYRE_RULE_SET_MAX_MATCH_LEN"),
        (&bounded, 0x8000_0000, "exceeds VYRE_RULE_SET_MAX_MATCH_LEN"),
        (&empty, 1, "must be 0"),
        (&empty, VYRE_MATCH_LEN_UNBOUNDED, "must be 0"),
    ];
    for &(rs, value, what) in cases {
        let err = forge(rs, value).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Protocol);
        assert!(err.message.contains(what), "{value}: {err}");
    }
    // Within what compiling can store, a value cannot be checked against the
    // table; it is accepted (and only an engine that splits inputs by it
    // would be misled).
    assert_eq!(forge(&bounded, 2).unwrap().max_match_len(), Some(2));
    assert_eq!(forge(&bounded, VYRE_MATCH_LEN_UNBOUNDED).unwrap().max_match_len(), None);
    assert_eq!(
        forge(&bounded, VYRE_RULE_SET_MAX_MATCH_LEN).unwrap().max_match_len(),
        Some(VYRE_RULE_SET_MAX_MATCH_LEN)
    );
    // And a version-1 table (no max_match_len) asks for a recompile.
    let mut old = bounded.to_bytes();
    put(&mut old, 8, 1);
    reseal(&mut old);
    let err = RuleSet::from_bytes(&old).unwrap_err();
    assert!(err.message.contains("format version 1") && err.message.contains("recompile"), "{err}");
}

/// A walk that starts at `from` (mid-buffer: in the start state after the
/// byte before it) and reports the matches ending in `after + 1 ..= to`,
/// reading the byte at `to` (or the end of input) to see those ending there.
/// This is how an engine scans one part of a split input.
fn scan_part(rs: &RuleSet, haystack: &[u8], from: usize, after: usize, to: usize) -> Vec<(u32, usize)> {
    let stride = rs.class_count() as usize + 1;
    let mut state = if from == 0 { rs.start_state() } else { rs.start_state_after(haystack[from - 1]) } as usize;
    let mut out = Vec::new();
    // A table whose matches show at their last byte needs no byte past `to`.
    let delay = rs.match_delay() as usize;
    for i in from..to + 1 - delay {
        let column = if i < haystack.len() { usize::from(rs.class_of()[usize::from(haystack[i])]) } else { stride - 1 };
        state = rs.transitions()[state * stride + column] as usize;
        if state == 0 {
            break;
        }
        let ids = &rs.match_ids()[rs.match_offsets()[state] as usize..rs.match_offsets()[state + 1] as usize];
        if i + delay > after {
            out.extend(ids.iter().map(|&id| (id, i + delay)));
        }
    }
    out
}

/// Scan `haystack` in parts ending at `cuts` (then at its end), each
/// re-reading `overlap` bytes before it.
fn scan_in_parts(rs: &RuleSet, haystack: &[u8], cuts: &[usize], overlap: usize) -> Vec<(u32, usize)> {
    let mut bounds: Vec<usize> = cuts.iter().map(|&c| c.min(haystack.len())).collect();
    bounds.push(haystack.len());
    bounds.sort_unstable();
    bounds.dedup();
    let mut out = Vec::new();
    let mut after = 0usize;
    for to in bounds {
        out.extend(scan_part(rs, haystack, after.saturating_sub(overlap), after, to));
        after = to;
    }
    out
}

#[test]
fn parts_overlapping_by_max_match_len_minus_one_find_every_match() {
    let patterns =
        vec![Pattern::literal(&b"abcd"[..]), Pattern::regex(r"\bcd\b"), Pattern::regex("^ab"), Pattern::regex("d$")];
    let rs = RuleSet::compile(&patterns, &SENSITIVE).unwrap();
    assert_eq!(rs.max_match_len(), Some(4));
    let haystack = b"abcd cd abcd";
    let whole = rs.matches(haystack);
    assert_eq!(whole, vec![(2, 2), (0, 4), (1, 7), (0, 12), (3, 12)]);
    assert_eq!(rs.matches(b"xabcd cd"), vec![(0, 5), (1, 8), (3, 8)]);
    for cut in 0..=haystack.len() {
        assert_eq!(scan_in_parts(&rs, haystack, &[cut], 3), whole, "cut {cut}");
    }
    // One byte less of overlap loses the abcd that spans the cut.
    assert_eq!(scan_in_parts(&rs, haystack, &[11], 2), vec![(2, 2), (0, 4), (1, 7), (3, 12)]);
}

/// A random regex built from pieces whose longest match is known, so the
/// expected `max_match_len` is computed without regex-syntax.
#[derive(Debug, Clone)]
enum Re {
    /// Text, then its longest match in bytes case-sensitive and
    /// case-insensitive, then a longest match for each.
    Atom(&'static str, u64, u64, &'static [u8], &'static [u8]),
    Concat(Vec<Re>),
    Alt(Vec<Re>),
    Repeat(Box<Re>, u32, Option<u32>),
}

const ATOMS: &[Re] = &[
    Re::Atom("a", 1, 1, b"a", b"A"),
    Re::Atom("b", 1, 1, b"b", b"b"),
    Re::Atom("0", 1, 1, b"0", b"0"),
    Re::Atom("-", 1, 1, b"-", b"-"),
    Re::Atom("[ab]", 1, 1, b"b", b"B"),
    Re::Atom("[0-9]", 1, 1, b"5", b"5"),
    Re::Atom(".", 1, 1, b"x", b"x"),
    Re::Atom(r"\xFF", 1, 1, b"\xFF", b"\xFF"),
    Re::Atom("(?u:é)", 2, 2, "é".as_bytes(), "É".as_bytes()),
    Re::Atom("(?u:[a€])", 3, 3, "€".as_bytes(), "€".as_bytes()),
    Re::Atom("(?u:k)", 1, 3, b"k", "\u{212A}".as_bytes()),
    Re::Atom("(?u:.)", 4, 4, "\u{10348}".as_bytes(), "\u{10348}".as_bytes()),
];

impl Re {
    fn text(&self) -> String {
        match self {
            Re::Atom(text, ..) => text.to_string(),
            Re::Concat(subs) => subs.iter().map(|s| format!("(?:{})", s.text())).collect(),
            Re::Alt(subs) => format!("(?:{})", subs.iter().map(Re::text).collect::<Vec<_>>().join("|")),
            Re::Repeat(sub, min, max) => {
                let sub = sub.text();
                match (min, max) {
                    (0, None) => format!("(?:{sub})*"),
                    (1, None) => format!("(?:{sub})+"),
                    (0, Some(1)) => format!("(?:{sub})?"),
                    (min, None) => format!("(?:{sub}){{{min},}}"),
                    (min, Some(max)) => format!("(?:{sub}){{{min},{max}}}"),
                }
            }
        }
    }

    fn min_len(&self) -> u64 {
        match self {
            Re::Atom(..) => 1,
            Re::Concat(subs) => subs.iter().map(Re::min_len).sum(),
            Re::Alt(subs) => subs.iter().map(Re::min_len).min().unwrap_or(0),
            Re::Repeat(sub, min, _) => sub.min_len() * u64::from(*min),
        }
    }

    /// The longest match, None if unbounded.
    fn max_len(&self, ci: bool) -> Option<u64> {
        match self {
            Re::Atom(_, sensitive, insensitive, ..) => Some(if ci { *insensitive } else { *sensitive }),
            Re::Concat(subs) => subs.iter().map(|s| s.max_len(ci)).sum(),
            Re::Alt(subs) => subs.iter().map(|s| s.max_len(ci)).collect::<Option<Vec<u64>>>()?.into_iter().max(),
            Re::Repeat(sub, _, max) => Some(sub.max_len(ci)? * u64::from((*max)?)),
        }
    }

    /// A match of the longest length (when bounded; else a long one).
    fn witness(&self, ci: bool) -> Vec<u8> {
        match self {
            Re::Atom(.., sensitive, insensitive) => if ci { insensitive } else { sensitive }.to_vec(),
            Re::Concat(subs) => subs.iter().flat_map(|s| s.witness(ci)).collect(),
            Re::Alt(subs) => {
                subs.iter().max_by_key(|s| s.max_len(ci).unwrap_or(u64::MAX)).map(|s| s.witness(ci)).unwrap_or_default()
            }
            Re::Repeat(sub, min, max) => sub.witness(ci).repeat(max.unwrap_or(min + 2) as usize),
        }
    }
}

fn re_strategy() -> impl Strategy<Value = Re> {
    let leaf = prop::sample::select(ATOMS);
    let re = leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Re::Concat),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Re::Alt),
            (inner, 0..3u32, prop::option::weighted(0.7, 0..3u32)).prop_map(|(sub, min, extra)| Re::Repeat(
                Box::new(sub),
                min,
                extra.map(|e| min + e.max(1))
            )),
        ]
    });
    // Patterns that can match the empty string are rejected: end those with a byte.
    re.prop_map(|re| if re.min_len() == 0 { Re::Concat(vec![re, ATOMS[1].clone()]) } else { re })
}

const TOKENS: &[&[u8]] = &[
    b"a",
    b"b",
    b"A",
    b"B",
    b"0",
    b"5",
    b"-",
    b"x",
    b"\n",
    b"\xFF",
    b"ab",
    "é".as_bytes(),
    "É".as_bytes(),
    b"k",
    b"K",
    "\u{212A}".as_bytes(),
    "€".as_bytes(),
    "\u{10348}".as_bytes(),
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every match has a start within max_match_len of its end (checked
    /// against the naive search and the regex crate), and the value is the
    /// longest literal or what the regex's pieces add up to.
    #[test]
    fn every_match_starts_within_max_match_len(
        literals in prop::collection::vec(literal_strategy(), 0..4),
        regexes in prop::collection::vec(re_strategy(), 0..3),
        tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..14),
        plant in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        ci in any::<bool>(),
    ) {
        prop_assume!(!literals.is_empty() || !regexes.is_empty());
        let options = CompileOptions { ascii_case_insensitive: ci };
        let mut patterns: Vec<Pattern> = literals.iter().map(|l| Pattern::literal(l.clone())).collect();
        patterns.extend(regexes.iter().map(|r| Pattern::regex(r.text())));
        let mut expected: Vec<Option<u64>> = literals.iter().map(|l| Some(l.len() as u64)).collect();
        expected.extend(regexes.iter().map(|r| r.max_len(ci)));
        // A longest match of one pattern, somewhere in the haystack.
        let planted = plant.index(patterns.len());
        let witness = if planted < literals.len() { literals[planted].clone() } else { regexes[planted - literals.len()].witness(ci) };
        let mut haystack: Vec<u8> = Vec::new();
        let split = at.index(tokens.len() + 1);
        tokens[..split].iter().for_each(|t| haystack.extend_from_slice(t));
        haystack.extend_from_slice(&witness);
        tokens[split..].iter().for_each(|t| haystack.extend_from_slice(t));

        let rs = RuleSet::compile(&patterns, &options).unwrap();
        let want = expected.iter().try_fold(0u64, |max, len| len.map(|len| max.max(len)));
        prop_assert_eq!(rs.max_match_len().map(u64::from), want, "{:?}", patterns);
        let bound = rs.max_match_len().map_or(haystack.len(), |len| len as usize);
        prop_assert_eq!(unexplained(&rs, &patterns, &options, &haystack, bound), vec![]);
        // Each pattern on its own: its own bound explains its matches.
        for (pattern, want) in patterns.iter().zip(&expected) {
            let alone = RuleSet::compile(std::slice::from_ref(pattern), &options).unwrap();
            prop_assert_eq!(alone.max_match_len().map(u64::from), *want, "{:?}", pattern);
            let bound = alone.max_match_len().map_or(haystack.len(), |len| len as usize);
            prop_assert_eq!(unexplained(&alone, std::slice::from_ref(pattern), &options, &haystack, bound), vec![]);
        }
        // The planted witness is a match exactly that long: the value is no
        // overestimate.
        if let Some(len) = expected[planted] {
            prop_assert_eq!(witness.len() as u64, len);
            let end = split_end(&tokens, split) + witness.len();
            prop_assert!(rs.matches(&haystack).contains(&(planted as u32, end)));
        }
    }

    /// Scanning in parts that each re-read max_match_len - 1 bytes finds
    /// exactly the matches of one whole scan.
    #[test]
    fn parts_overlapping_by_max_match_len_match_the_whole_scan(
        literals in prop::collection::vec(literal_strategy(), 0..4),
        regexes in prop::collection::vec(re_strategy(), 0..3),
        tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..20),
        cuts in prop::collection::vec(0..40usize, 0..5),
        ci in any::<bool>(),
    ) {
        let options = CompileOptions { ascii_case_insensitive: ci };
        let mut patterns: Vec<Pattern> = literals.into_iter().map(Pattern::literal).collect();
        patterns.extend(regexes.iter().map(|r| Pattern::regex(r.text())));
        let rs = RuleSet::compile(&patterns, &options).unwrap();
        let haystack: Vec<u8> = tokens.concat();
        let overlap = rs.max_match_len().map_or(haystack.len(), |len| (len as usize).saturating_sub(1));
        prop_assert_eq!(scan_in_parts(&rs, &haystack, &cuts, overlap), rs.matches(&haystack));
    }
}

/// Bytes of `tokens[..split]`.
fn split_end(tokens: &[&[u8]], split: usize) -> usize {
    tokens[..split].iter().map(|t| t.len()).sum()
}

/// The regex crate's matcher for `pattern` (a regex) matching a whole
/// string, with the rule set's byte semantics: the independent oracle.
fn whole_match_regex(pattern: &Pattern, options: &CompileOptions) -> regex::bytes::Regex {
    let text = std::str::from_utf8(&pattern.bytes).unwrap();
    regex::bytes::RegexBuilder::new(&format!("^(?:{text})$"))
        .unicode(false)
        .case_insensitive(options.ascii_case_insensitive)
        .build()
        .unwrap()
}

/// The same literals as escaped regexes: the regex-automata path.
fn as_regexes(patterns: &[Pattern]) -> Vec<Pattern> {
    patterns.iter().map(|p| Pattern::regex(compile::literal_regex(&p.bytes))).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// A literal-only set (Aho-Corasick, matches at their last byte) and the
    /// same literals as regexes (regex-automata, matches one byte late)
    /// report the same matches, whole and in overlapping parts.
    #[test]
    fn aho_corasick_tables_match_regex_automata_tables(
        literals in prop::collection::vec(literal_strategy(), 1..8),
        haystack in haystack_strategy(64),
        cuts in prop::collection::vec(0..64usize, 0..5),
        ci in any::<bool>(),
    ) {
        let options = CompileOptions { ascii_case_insensitive: ci };
        let patterns: Vec<Pattern> = literals.into_iter().map(Pattern::literal).collect();
        let ac = RuleSet::compile(&patterns, &options).unwrap();
        let dfa = RuleSet::compile(&as_regexes(&patterns), &options).unwrap();
        prop_assert_eq!((ac.match_delay(), dfa.match_delay()), (1, 0));
        // One state per distinct prefix, plus the dead state: what the
        // compiler counts to refuse oversized sets before building them.
        let fold = |b: u8| if ci { b.to_ascii_lowercase() } else { b };
        prop_assert_eq!(u64::from(ac.state_count()), compile::distinct_prefixes(&patterns, fold) + 1);
        prop_assert_eq!(ac.max_match_len(), dfa.max_match_len());
        let whole = dfa.matches(&haystack);
        prop_assert_eq!(&ac.matches(&haystack), &whole);
        let overlap = ac.max_match_len().unwrap() as usize - 1;
        prop_assert_eq!(&scan_in_parts(&ac, &haystack, &cuts, overlap), &whole);
    }
}

/// A deterministic stream of bytes (xorshift64*), for large fixed inputs.
fn pseudo_random_bytes(seed: u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            alphabet[(x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as usize % alphabet.len()]
        })
        .collect()
}

/// Thousands of literals (beyond what regex-automata determinizes in
/// minutes) compile as Aho-Corasick and find every planted one.
#[test]
fn five_thousand_literals_match_the_naive_search() {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789_";
    let stream = pseudo_random_bytes(7, 5000 * 12, alphabet);
    let patterns: Vec<Pattern> =
        stream.chunks(12).enumerate().map(|(i, c)| Pattern::literal(&c[..4 + i % 9])).collect();
    for options in [SENSITIVE, INSENSITIVE] {
        let rs = RuleSet::compile(&patterns, &options).unwrap();
        assert_eq!(rs.match_delay(), 1);
        let mut haystack = pseudo_random_bytes(11, 3000, b"abcdefghijklmnopqrstuvwxyz0123456789_ -ABC");
        for (k, pattern) in patterns.iter().step_by(97).enumerate() {
            let at = (k * 53) % (haystack.len() - 16);
            haystack[at..at + pattern.bytes.len()].copy_from_slice(&pattern.bytes);
        }
        let found = rs.matches(&haystack);
        assert!(found.len() >= 40, "{} matches", found.len());
        assert_eq!(found, oracle(&patterns, &options, &haystack));
        assert_eq!(RuleSet::from_bytes(&rs.to_bytes()).unwrap(), rs);
    }
}

#[test]
fn a_table_revealing_matches_after_the_end_is_rejected() {
    let rs = RuleSet::compile(&lits(&["ab", "b"]), &SENSITIVE).unwrap();
    assert_eq!(rs.match_delay(), 1);
    let stride = rs.class_count as usize + 1;
    let mut bytes = rs.to_bytes();
    let transitions = HEADER_LEN + 256 + 4 * START_COUNT;
    // State 1's end-of-input column.
    put(&mut bytes, transitions + 4 * (stride + stride - 1), 1);
    reseal(&mut bytes);
    let err = RuleSet::from_bytes(&bytes).unwrap_err();
    assert!(err.message.contains("leaves the dead state at the end of the input"), "{err}");
}

#[test]
fn an_oversized_literal_set_is_refused_before_it_is_built() {
    let patterns: Vec<Pattern> =
        pseudo_random_bytes(5, 64 * 512, b"abcdefghijklmnopqrstuvwxyz").chunks(512).map(Pattern::literal).collect();
    let err = compile::compile_limited(&patterns, &SENSITIVE, 1 << 20).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidArgument);
    assert!(err.message.contains("VYRE_RULE_SET_MAX_TABLE_BYTES") && err.message.contains("states x"), "{err}");
    // The same set within a limit that fits compiles.
    assert!(compile::compile_limited(&patterns, &SENSITIVE, 64 << 20).is_ok());
}
