//! The scanning engine against the CPU oracle (`RuleSet::scan`), on both
//! backends: every match of every job, split or not, in resident and
//! per-batch modes, plus every error a job can end in. (Many threads at
//! once: tests/load.rs.)

mod common;

use std::collections::BTreeMap;
use std::time::Duration;
use vyre::backend::BackendChoice;
use vyre::engine::{Completion, Engine, EngineOptions, Hit, Persistent, WorkItem};
use vyre::error::ErrorKind;
use vyre::rules::{CompileOptions, Pattern, RuleSet};

use common::{engines, oracle, vulkan_engine, Matches, Rng, LONG};

/// A job: where its bytes go in the arena, the bytes, and its contexts
/// (`context_before`, `context_after`).
type Job = (u64, Vec<u8>, (u32, u32));

/// Run `jobs` through `engine` with rule set `id` and return each job's
/// status and matches, keyed by job index.
fn run_jobs(engine: &Engine, id: u32, jobs: &[Job]) -> BTreeMap<u64, (i32, u64, Matches)> {
    for (offset, bytes, _) in jobs {
        engine.write(*offset, bytes).unwrap();
    }
    let mut results = BTreeMap::new();
    let mut completions = vec![Completion::default(); 64];
    let mut hits = vec![Hit::default(); engine.info().max_hits_per_job as usize * 2];
    let mut next = 0;
    while results.len() < jobs.len() {
        while next < jobs.len() {
            let (offset, bytes, (context_before, context_after)) = &jobs[next];
            let item = WorkItem {
                input_offset: *offset,
                input_len: bytes.len() as u64,
                rule_set_id: id,
                flags: 0,
                user_data: next as u64,
                context_before: *context_before,
                context_after: *context_after,
            };
            match engine.enqueue(&item) {
                Ok(()) => next += 1,
                Err(e) if e.kind == ErrorKind::QueueFull => break,
                Err(e) => panic!("enqueue: {e}"),
            }
        }
        let (n, _) = engine.wait(&mut completions, &mut hits, LONG).unwrap();
        for c in &completions[..n] {
            let mine = &hits[c.first_hit as usize..(c.first_hit + u64::from(c.hits_stored)) as usize];
            assert!(mine.iter().all(|h| h.user_data == c.user_data && h.reserved == 0));
            let matches = mine.iter().map(|h| (h.end_offset, h.pattern_id)).collect();
            assert!(results.insert(c.user_data, (c.status, c.hit_count, matches)).is_none(), "two completions");
        }
    }
    results
}

fn literal_set(rng: &mut Rng, count: usize) -> Vec<Pattern> {
    (0..count)
        .map(|_| {
            let len = 1 + rng.below(6) as usize;
            Pattern::literal(rng.bytes(len, b"abcd"))
        })
        .collect()
}

fn check_against_oracle(options: EngineOptions, patterns: &[Pattern], compile: CompileOptions, seed: u64) {
    let rs = RuleSet::compile(patterns, &compile).unwrap();
    let mut rng = Rng(seed);
    for engine in engines(options) {
        let id = engine.load_rule_set(&rs).unwrap();
        let mut jobs = Vec::new();
        let mut offset = 0u64;
        for _ in 0..40 {
            let len = match rng.below(4) {
                0 => rng.below(3) as usize,
                1 => rng.below(64) as usize,
                _ => rng.below(3000) as usize,
            };
            let bytes = rng.bytes(len, b"abcdABCD \n");
            // Half the jobs are a stream's piece with context on either side.
            let before = if rng.below(2) == 0 { 0 } else { rng.below(len as u64 + 1) };
            let after = if rng.below(2) == 0 { 0 } else { rng.below(len as u64 - before + 1) };
            jobs.push((offset + rng.below(4), bytes, (before as u32, after as u32)));
            offset += 4096;
        }
        let results = run_jobs(&engine, id, &jobs);
        for (index, (_, bytes, context)) in jobs.iter().enumerate() {
            let (status, count, matches) = &results[&(index as u64)];
            let expected = owned(oracle(&rs, bytes), bytes.len(), *context);
            assert_eq!(*status, 0, "job {index} on {:?}", engine.info().backend);
            assert_eq!(*count, expected.len() as u64, "job {index} count on {:?}", engine.info().backend);
            assert_eq!(matches, &expected, "job {index} ({} bytes) on {:?}", bytes.len(), engine.info().backend);
        }
    }
}

/// The matches of a whole job that end in its own bytes, between its
/// contexts: what the job reports. (A match ending before the trailing
/// context never depends on where the input ends, so the oracle's walk of
/// the whole job, which ends the input there, gives the same matches.)
fn owned(matches: Matches, len: usize, (before, after): (u32, u32)) -> Matches {
    let last = (len - after as usize) as u64;
    matches.into_iter().filter(|&(end, _)| end > u64::from(before) && end <= last).collect()
}

fn small_parts() -> EngineOptions {
    EngineOptions {
        part_bytes: 256,
        arena_bytes: 1 << 20,
        queue_depth: 16,
        max_hits_per_job: 8192,
        ..Default::default()
    }
}

#[test]
fn literal_sets_match_the_cpu_oracle_across_split_points() {
    for seed in 1..=3u64 {
        let mut rng = Rng(seed * 7919);
        let count = 1 + rng.below(12) as usize;
        let patterns = literal_set(&mut rng, count);
        check_against_oracle(small_parts(), &patterns, CompileOptions::default(), seed);
    }
}

#[test]
fn case_insensitive_literals_and_regexes_match_the_oracle() {
    let patterns = [
        Pattern::literal(&b"abc"[..]),
        Pattern::regex(&br"\bda+b\b"[..]),
        Pattern::regex(&br"(?m)^cd"[..]),
        Pattern::regex(&br"a[bc]{2,5}d$"[..]),
    ];
    check_against_oracle(small_parts(), &patterns, CompileOptions { ascii_case_insensitive: true }, 11);
}

#[test]
fn unbounded_regexes_are_scanned_whole_in_continued_claims() {
    let patterns = [Pattern::regex(&b"a[^\\n]*b"[..]), Pattern::literal(&b"dd"[..])];
    check_against_oracle(small_parts(), &patterns, CompileOptions::default(), 5);
}

#[test]
fn a_job_of_several_mib_is_scanned_completely() {
    // Far past lavapipe's 65 535 loop iterations: every part runs in many
    // claims, and every split point is crossed by planted matches.
    let rs =
        RuleSet::compile(&[Pattern::literal(&b"needle"[..]), Pattern::regex(&b"x[0-9]{3}y"[..])], &Default::default())
            .unwrap();
    let mut rng = Rng(42);
    let mut bytes = rng.bytes(3 << 20, b"abcdefghij0123456789xy");
    for k in 0..2000usize {
        let at = (k * 1571) % (bytes.len() - 8);
        bytes[at..at + 6].copy_from_slice(b"needle");
    }
    let options =
        EngineOptions { arena_bytes: 4 << 20, queue_depth: 4, max_hits_per_job: 1 << 16, ..Default::default() };
    for engine in engines(options) {
        let id = engine.load_rule_set(&rs).unwrap();
        let results = run_jobs(&engine, id, &[(0, bytes.clone(), (0, 0))]);
        let (status, count, matches) = &results[&0];
        let expected = oracle(&rs, &bytes);
        assert!(expected.len() > 2000);
        assert_eq!((*status, *count), (0, expected.len() as u64), "{:?}", engine.info().backend);
        assert_eq!(matches, &expected, "{:?}", engine.info().backend);
    }
}

/// A lane keeps room for a whole match list before each byte; with a list
/// of 3 200 patterns (the limit is 4 096) a walk must still advance within
/// lavapipe's slices of 5 000 iterations, not hand its part back unmoved.
#[test]
fn a_walk_with_a_long_match_list_still_advances() {
    let patterns: Vec<Pattern> = (1..=3200).map(|n| Pattern::literal(vec![b'b'; n])).collect();
    let rs = RuleSet::compile(&patterns, &CompileOptions::default()).unwrap();
    let input = b"aabbbabbbbbb".to_vec();
    let expected = oracle(&rs, &input);
    for engine in engines(EngineOptions { arena_bytes: 4096, queue_depth: 8, ..Default::default() }) {
        let id = engine.load_rule_set(&rs).unwrap();
        let results = run_jobs(&engine, id, &[(0, input.clone(), (0, 0))]);
        assert_eq!(results[&0], (0, expected.len() as u64, expected.clone()), "{:?}", engine.info().backend);
    }
}

#[test]
fn every_failing_job_still_completes_once_with_its_error() {
    let rs = RuleSet::compile(&[Pattern::literal(&b"a"[..])], &Default::default()).unwrap();
    let options = EngineOptions { arena_bytes: 4096, queue_depth: 8, max_hits_per_job: 10, ..Default::default() };
    for engine in engines(options) {
        let id = engine.load_rule_set(&rs).unwrap();
        engine.write(0, &[b'a'; 100]).unwrap();
        let item = |offset: u64, len: u64, rule_set_id: u32, user_data: u64| WorkItem {
            input_offset: offset,
            input_len: len,
            rule_set_id,
            flags: 0,
            user_data,
            ..Default::default()
        };
        let bad_flags = WorkItem { flags: 1, ..item(0, 1, id, 9) };
        assert_eq!(engine.enqueue(&bad_flags).unwrap_err().kind, ErrorKind::InvalidArgument);
        let more_context_than_bytes = WorkItem { context_before: 3, context_after: 3, ..item(0, 5, id, 9) };
        assert_eq!(engine.enqueue(&more_context_than_bytes).unwrap_err().kind, ErrorKind::InvalidArgument);
        for job in [
            item(0, 100, id, 1),      // 100 matches, 10 stored
            item(4000, 200, id, 2),   // past the arena's end
            item(u64::MAX, 2, id, 3), // offset + len overflows
            item(0, 5, id + 7, 4),    // no such rule set
            item(0, 5, id, 5),        // fine
            // 50 own matches, 10 stored: the count leaves out the contexts'.
            WorkItem { context_before: 40, context_after: 10, ..item(0, 100, id, 6) },
            WorkItem { context_before: 2, context_after: 3, ..item(0, 5, id, 7) }, // context only
        ] {
            engine.enqueue(&job).unwrap();
        }
        let mut completions = vec![Completion::default(); 8];
        let mut hits = vec![Hit::default(); 10];
        let mut got = BTreeMap::new();
        while got.len() < 7 {
            let (n, _) = engine.wait(&mut completions, &mut hits, LONG).unwrap();
            for c in &completions[..n] {
                assert!(got.insert(c.user_data, *c).is_none());
            }
        }
        assert_eq!(
            (got[&1].status, got[&1].hit_count, got[&1].hits_stored),
            (ErrorKind::HitsTruncated.code(), 100, 10)
        );
        assert_eq!(got[&2].status, ErrorKind::OutOfRange.code());
        assert_eq!(got[&3].status, ErrorKind::OutOfRange.code());
        assert_eq!(got[&4].status, ErrorKind::NotFound.code());
        assert_eq!((got[&5].status, got[&5].hit_count), (0, 5));
        assert_eq!((got[&6].status, got[&6].hit_count, got[&6].hits_stored), (ErrorKind::HitsTruncated.code(), 50, 10));
        assert_eq!((got[&7].status, got[&7].hit_count), (0, 0));
        assert_eq!(engine.poll(&mut completions, &mut hits).unwrap(), (0, 0), "nothing more");
        let err = engine.wait(&mut completions, &mut hits, Duration::from_millis(20)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Timeout);
        // A hits array smaller than one job's hits is refused, not truncated.
        engine.enqueue(&item(0, 100, id, 8)).unwrap();
        let mut tiny = vec![Hit::default(); 3];
        let deadline = std::time::Instant::now() + LONG;
        loop {
            match engine.poll(&mut completions, &mut tiny) {
                Err(e) if e.kind == ErrorKind::BufferTooSmall => break,
                Ok((0, _)) if std::time::Instant::now() < deadline => std::thread::yield_now(),
                other => panic!("{other:?}"),
            }
        }
        let (n, stored) = engine.wait(&mut completions, &mut hits, LONG).unwrap();
        assert_eq!((n, stored, completions[0].user_data), (1, 10, 8));
    }
}

#[test]
fn disable_mode_dispatches_per_batch_with_the_same_results() {
    let patterns = [Pattern::literal(&b"abc"[..]), Pattern::regex(&b"d[ab]+c"[..])];
    let disabled = EngineOptions { persistent: Persistent::Disable, ..small_parts() };
    for engine in engines(disabled) {
        let resident = engine.info().backend == BackendChoice::Reference;
        assert_eq!(engine.info().resident, resident, "only the reference backend's workers stay");
    }
    check_against_oracle(disabled, &patterns, CompileOptions::default(), 77);
}

#[test]
fn an_arena_size_near_u64_max_is_refused_with_its_own_value() {
    // Rounding it up to whole words used to overflow (a panic in debug
    // builds, a refusal of "arena_bytes 0" in release).
    let options =
        EngineOptions { backend: BackendChoice::Reference, arena_bytes: u64::MAX - 3, ..EngineOptions::default() };
    let error = Engine::create(&options).err().expect("refused");
    assert_eq!(error.kind, ErrorKind::InvalidArgument);
    assert!(error.message.contains(&(u64::MAX - 3).to_string()), "{}", error.message);
}

/// A request past the device's limits fails at creation, and the message
/// names the buffer and the options that make it smaller. (A 4 GiB scan
/// state is past every device's maxStorageBufferRange.)
#[test]
fn a_buffer_too_large_for_the_device_names_the_options_that_shrink_it() {
    let options = EngineOptions { queue_depth: 8192, max_hits_per_job: 65536, ..Default::default() };
    match vulkan_engine(options) {
        None => {}
        Some(Err(e)) => {
            assert_eq!(e.kind, ErrorKind::OutOfMemory, "{e}");
            assert!(e.message.contains("scan state") && e.message.contains("max_hits_per_job"), "{e}");
        }
        Some(Ok(_)) => panic!("a scan state of 4 GiB was accepted"),
    }
}
