//! The CPU engines and the loop that runs one on all cores.
//!
//! Every engine reports `(pattern id, end offset)` pairs through a callback;
//! the runner keeps those that end inside the unit's own range, counts them
//! and folds them into an order-independent checksum.

use super::cache;
use super::corpus::{match_hash, Corpus};
use super::hyperscan::{HsDatabase, ScratchSpace};
use aho_corasick::AhoCorasick;
use regex_automata::dfa::{dense, Automaton, OverlappingState};
use regex_automata::nfa::thompson;
use regex_automata::util::syntax;
use regex_automata::{Input, MatchKind};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use vyre::rules::RuleSet;

/// A piece of work for one thread: bytes `start..end` of a file, of which
/// only matches ending in `keep_lo < end <= keep_hi` count (file offsets).
/// A small file is one unit; a large one is cut into windows that re-read
/// `max_len` bytes before their own range and one byte after it, so that
/// every match (and its `\b` context) lies inside exactly one window's range.
pub struct Unit {
    pub file: usize,
    pub start: usize,
    pub end: usize,
    pub keep_lo: usize,
    pub keep_hi: usize,
}

/// Cut the corpus into units: files of up to `chunk` bytes whole, larger
/// ones into `chunk`-byte ranges when the patterns' longest match is known
/// (`max_len`), else whole.
pub fn units(corpus: &Corpus, chunk: usize, max_len: Option<usize>) -> Vec<Unit> {
    let mut out = Vec::new();
    for (file, &(_, len)) in corpus.files.iter().enumerate() {
        match max_len {
            Some(max_len) if len > chunk => {
                let mut lo = 0;
                while lo < len {
                    let hi = (lo + chunk).min(len);
                    out.push(Unit {
                        file,
                        start: lo.saturating_sub(max_len),
                        end: (hi + 1).min(len),
                        keep_lo: lo,
                        keep_hi: hi,
                    });
                    lo = hi;
                }
            }
            _ => out.push(Unit { file, start: 0, end: len, keep_lo: 0, keep_hi: len }),
        }
    }
    out
}

/// What a scan of a whole corpus found, and how long it took.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    pub seconds: f64,
    pub matches: u64,
    pub checksum: u64,
}

/// An engine's matcher, shared by every thread, with per-thread state.
pub trait Scanner: Sync {
    type State: Send;
    fn state(&self) -> Self::State;
    fn scan<F: FnMut(u32, usize)>(&self, state: &mut Self::State, haystack: &[u8], on_match: F);
}

/// vyre's own CPU walker (`RuleSet::scan`): the oracle the GPU is tested
/// against, one byte at a time through the flat table.
impl Scanner for RuleSet {
    type State = ();
    fn state(&self) {}
    fn scan<F: FnMut(u32, usize)>(&self, _: &mut (), haystack: &[u8], on_match: F) {
        RuleSet::scan(self, haystack, on_match);
    }
}

impl<'a> Scanner for HsDatabase<'a> {
    type State = ScratchSpace<'a>;
    fn state(&self) -> ScratchSpace<'a> {
        self.scratch()
    }
    fn scan<F: FnMut(u32, usize)>(&self, scratch: &mut ScratchSpace<'a>, haystack: &[u8], on_match: F) {
        HsDatabase::scan(self, scratch, haystack, on_match);
    }
}

/// aho-corasick, standard semantics, overlapping iteration: every
/// `(pattern, start, end)`; for distinct literals a `(pattern, end)` has
/// exactly one start, so this is the same set as vyre's.
impl Scanner for AhoCorasick {
    type State = ();
    fn state(&self) {}
    fn scan<F: FnMut(u32, usize)>(&self, _: &mut (), haystack: &[u8], mut on_match: F) {
        for m in self.find_overlapping_iter(haystack) {
            on_match(m.pattern().as_u32(), m.end());
        }
    }
}

/// regex-automata (the regex crate's engine) as a fully compiled dense DFA
/// with `MatchKind::All`, searched in overlapping mode: every
/// `(pattern, end)` once. The `regex` crate's own API cannot do this
/// (RegexSet gives no positions, Regex gives leftmost non-overlapping
/// matches of one pattern).
pub struct RegexDfa(dense::DFA<Vec<u32>>);

impl Scanner for RegexDfa {
    type State = ();
    fn state(&self) {}
    fn scan<F: FnMut(u32, usize)>(&self, _: &mut (), haystack: &[u8], mut on_match: F) {
        let input = Input::new(haystack);
        let mut state = OverlappingState::start();
        loop {
            self.0.try_search_overlapping_fwd(&input, &mut state).expect("a DFA without quit bytes cannot fail");
            match state.get_match() {
                Some(m) => on_match(m.pattern().as_u32(), m.offset()),
                None => break,
            }
        }
    }
}

/// Escape a literal into regex text that means exactly its bytes.
pub fn literal_regex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\x{b:02X}")).collect()
}

impl RegexDfa {
    /// [`RegexDfa::build`], kept in `cache_file` when given: returns the DFA,
    /// the seconds its build took (then, if loaded) and whether it was loaded.
    pub fn build_cached(regexes: &[String], cache_file: Option<&Path>) -> Result<(RegexDfa, f64, bool), String> {
        const MAGIC: &[u8; 8] = b"RADENSE1";
        if let Some((payload, seconds)) = cache_file.and_then(|f| cache::read(f, MAGIC)) {
            // DFA::from_bytes wants 4-byte alignment: copy into u32s.
            let mut words = vec![0u32; payload.len().div_ceil(4)];
            for (word, chunk) in words.iter_mut().zip(payload.chunks(4)) {
                let mut b = [0u8; 4];
                b[..chunk.len()].copy_from_slice(chunk);
                *word = u32::from_ne_bytes(b);
            }
            // SAFETY: a u32 slice viewed as its bytes (alignment 1, same length in bytes).
            let bytes = unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), payload.len()) };
            if let Ok((dfa, _)) = dense::DFA::from_bytes(bytes) {
                return Ok((RegexDfa(dfa.to_owned()), seconds, true));
            }
        }
        let start = Instant::now();
        let dfa = RegexDfa::build(regexes)?;
        let seconds = start.elapsed().as_secs_f64();
        if let Some(f) = cache_file {
            let (bytes, pad) = dfa.0.to_bytes_native_endian();
            if let Err(e) = cache::write(f, MAGIC, seconds, &bytes[pad..]) {
                eprintln!("bench-scan: cannot write the cache: {e}");
            }
        }
        Ok((dfa, seconds, false))
    }

    /// Same syntax as vyre's rule sets: bytes, Unicode off, `.` not `\n`.
    pub fn build(regexes: &[String]) -> Result<RegexDfa, String> {
        dense::Builder::new()
            .configure(dense::Config::new().match_kind(MatchKind::All))
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .thompson(thompson::Config::new().utf8(false))
            .build_many(regexes)
            .map(RegexDfa)
            .map_err(|e| format!("regex-automata: {e}"))
    }
}

/// aho-corasick, standard match kind (the only one that iterates
/// overlapping matches); it picks its own automaton (a DFA for small sets).
pub fn aho_corasick(literals: &[Vec<u8>]) -> Result<AhoCorasick, String> {
    AhoCorasick::builder().build(literals).map_err(|e| format!("aho-corasick: {e}"))
}

/// Scan every unit on `threads` threads (dynamic: each takes the next unit);
/// per-thread state is made before the clock starts.
pub fn run<S: Scanner>(scanner: &S, corpus: &Corpus, units: &[Unit], threads: usize) -> Outcome {
    let next = AtomicUsize::new(0);
    let states: Vec<S::State> = (0..threads).map(|_| scanner.state()).collect();
    let start = Instant::now();
    let parts: Vec<(u64, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = states
            .into_iter()
            .map(|mut state| {
                let next = &next;
                scope.spawn(move || {
                    let (mut matches, mut checksum) = (0u64, 0u64);
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(unit) = units.get(i) else { break };
                        let file = corpus.file(unit.file);
                        scanner.scan(&mut state, &file[unit.start..unit.end], |pattern, end| {
                            let end = unit.start + end;
                            if end > unit.keep_lo && end <= unit.keep_hi {
                                matches += 1;
                                checksum = checksum.wrapping_add(match_hash(unit.file as u64, pattern, end as u64));
                            }
                        });
                    }
                    (matches, checksum)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("scan thread")).collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let (matches, checksum) = parts.iter().fold((0u64, 0u64), |(m, c), &(pm, pc)| (m + pm, c.wrapping_add(pc)));
    Outcome { seconds, matches, checksum }
}
