//! Scanning benchmark: vyre's scan engine against Hyperscan, aho-corasick
//! and regex-automata on the same corpora and pattern sets, in one run.
//!
//! cargo run --release --example bench-scan -- [--quick] [--engines LIST] [--threads N]
//!     [--vyre-submitters N] [--csv PATH] [--svg PATH] [--cache DIR] [--reps N] [--sets LIST]
//!     [--headline-jobs N] [--small-mib N] [--large-files N] [--large-mib N] [--chunk-kib N]
//!
//! 1. Headline: 10 000 jobs of 1 KiB with 1 000 literals, vyre's resident
//!    kernel (Persistent::Auto) against Persistent::Disable (one dispatch
//!    per batch), data already in the arena: total time and jobs/s.
//! 2. Every engine on two corpora, 64 MiB of small files (1–4 KiB) and
//!    4 files of 64 MiB, with 10, 100, 1 000 and 5 000 literals (8–24 bytes)
//!    and 20 secret-scanning regexes: GB/s (1 GB = 10^9 bytes), jobs/s,
//!    match counts. Every engine must find the same `(file, pattern, end)`
//!    set (count and an order-independent checksum): a MISMATCH line and
//!    exit status 1 otherwise.
//! 3. The targets, printed next to the measurements.
//!
//! Engines (`--engines`, comma-separated; default all; an engine that
//! cannot run is skipped with a note unless it was named):
//!   vyre          the GPU engine (vyre::engine): "in GPU" = the corpus
//!                 already in the arena; "from host" = streamed through
//!                 Engine::write into arena regions, writes in the time
//!   hyperscan     Hyperscan 5 block mode (dlopen of libhs.so.5), all cores,
//!                 one scratch per thread
//!   aho-corasick  the aho-corasick crate, overlapping iteration (literal
//!                 sets only), all cores
//!   regex         regex-automata (the regex crate's engine) as a dense DFA,
//!                 MatchKind::All, overlapping search, all cores
//!   vyre-cpu      vyre's CPU table walker (RuleSet::scan, the oracle; the
//!                 reference of the count check), all cores
//! CPU engines scan small files whole and large files in windows of
//! --chunk-kib (default 1024) that overlap by the longest match, so all
//! cores work on a few large files too; vyre gets every file as one job.
//!
//! `--quick` (a smoke run for a 2-core machine): 4 MiB of small files,
//! 2 files of 4 MiB, 2 000 headline jobs, one repetition, and only the 10-,
//! 100-literal and regex sets (the headline then uses the 100-literal set):
//! compiling 1 000 literals into one DFA takes minutes there, 5 000 far
//! longer. `--cache DIR` keeps compiled tables between runs.
//!
//! On the GPU machine (../shared/GPU.md): build here, then
//!   ../shared/gpu/pack.sh target/release/examples/bench-scan /usr/lib/x86_64-linux-gnu/libhs.so.5
//! and there `. .gpu/env.sh && bench-scan --csv $OUT/scan.csv --svg $OUT/scan.svg`
//! (without libhs.so.5, from Debian's libhyperscan5, Hyperscan is skipped).

#[path = "scan/cache.rs"]
mod cache;
#[path = "scan/corpus.rs"]
mod corpus;
#[path = "scan/cpu.rs"]
mod cpu;
#[path = "scan/hyperscan.rs"]
mod hyperscan;
#[path = "scan/report.rs"]
mod report;
#[path = "scan/vyre_gpu.rs"]
mod vyre_gpu;

use corpus::{Corpus, Plants, LITERAL_SET_SIZES};
use report::Row;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use vyre::rules::{CompileOptions, Pattern, RuleSet};

const MIB: usize = 1 << 20;

/// What a run measures.
pub struct Config {
    pub engines: Vec<String>,
    pub engines_given: bool,
    pub threads: usize,
    /// Threads enqueueing vyre jobs (one more polls completions).
    pub vyre_submitters: usize,
    pub reps: usize,
    pub sets: Vec<String>,
    pub headline_jobs: usize,
    pub small_bytes: usize,
    pub large_files: usize,
    pub large_bytes: usize,
    pub chunk: usize,
    pub csv: Option<String>,
    pub svg: Option<String>,
    /// Where compiled automata are kept between runs (`--cache DIR`).
    pub cache: Option<PathBuf>,
    /// vyre's engine shape: workgroups (0: the engine's default), bytes per
    /// part (0: default) and queue depth, to explore what the GPU needs.
    pub workers: u32,
    pub part_bytes: u32,
    pub queue_depth: u32,
}

const ALL_ENGINES: [&str; 5] = ["vyre", "hyperscan", "aho-corasick", "regex", "vyre-cpu"];
const USAGE: &str = "usage: bench-scan [--quick] [--engines vyre,hyperscan,aho-corasick,regex,vyre-cpu] \
[--threads N] [--vyre-submitters N] [--csv PATH] [--svg PATH] [--cache DIR] [--reps N] [--sets 10,100,1000,5000,regex] [--headline-jobs N] \
[--small-mib N] [--large-files N] [--large-mib N] [--chunk-kib N] [--workers N] [--part-kib N] [--queue-depth N]";

fn parse_args() -> Result<Config, String> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut config = Config {
        engines: ALL_ENGINES.iter().map(|s| s.to_string()).collect(),
        engines_given: false,
        threads,
        vyre_submitters: if threads > 4 { 4 } else { 1 },
        reps: 3,
        sets: vec!["10".into(), "100".into(), "1000".into(), "5000".into(), "regex".into()],
        headline_jobs: 10_000,
        small_bytes: 64 * MIB,
        large_files: 4,
        large_bytes: 64 * MIB,
        chunk: MIB,
        csv: None,
        svg: None,
        cache: None,
        workers: 0,
        part_bytes: 0,
        queue_depth: 4096,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    // --quick first, so explicit sizes given with it win.
    if args.iter().any(|a| a == "--quick") {
        // Compiling 1 000 literals takes minutes on two cores: not in a smoke run.
        config.sets = vec!["10".into(), "100".into(), "regex".into()];
        config.reps = 1;
        config.headline_jobs = 2_000;
        config.small_bytes = 4 * MIB;
        config.large_files = 2;
        config.large_bytes = 4 * MIB;
    }
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        let number = |text: String, name: &str| -> Result<usize, String> {
            text.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name}: {text:?} is not a positive number"))
        };
        match arg.as_str() {
            "--quick" => {}
            "--engines" => {
                let list = value("--engines")?;
                config.engines = list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                for engine in &config.engines {
                    if !ALL_ENGINES.contains(&engine.as_str()) {
                        return Err(format!("unknown engine {engine:?}; known: {}", ALL_ENGINES.join(",")));
                    }
                }
                config.engines_given = true;
            }
            "--threads" => config.threads = number(value("--threads")?, "--threads")?,
            "--vyre-submitters" => config.vyre_submitters = number(value("--vyre-submitters")?, "--vyre-submitters")?,
            "--reps" => config.reps = number(value("--reps")?, "--reps")?,
            "--csv" => config.csv = Some(value("--csv")?),
            "--svg" => config.svg = Some(value("--svg")?),
            "--cache" => config.cache = Some(PathBuf::from(value("--cache")?)),
            "--sets" => {
                let list = value("--sets")?;
                config.sets = list.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                for set in &config.sets {
                    let known = set == "regex" || LITERAL_SET_SIZES.iter().any(|n| n.to_string() == *set);
                    if !known {
                        return Err(format!("unknown set {set:?}; known: 10,100,1000,5000,regex"));
                    }
                }
            }
            "--headline-jobs" => config.headline_jobs = number(value("--headline-jobs")?, "--headline-jobs")?,
            "--small-mib" => config.small_bytes = number(value("--small-mib")?, "--small-mib")? * MIB,
            "--large-files" => config.large_files = number(value("--large-files")?, "--large-files")?,
            "--large-mib" => config.large_bytes = number(value("--large-mib")?, "--large-mib")? * MIB,
            "--chunk-kib" => config.chunk = number(value("--chunk-kib")?, "--chunk-kib")? * 1024,
            "--workers" => config.workers = number(value("--workers")?, "--workers")? as u32,
            "--part-kib" => config.part_bytes = (number(value("--part-kib")?, "--part-kib")? * 1024) as u32,
            "--queue-depth" => config.queue_depth = number(value("--queue-depth")?, "--queue-depth")? as u32,
            "--help" | "-h" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(config)
}

/// One pattern set, compiled for vyre (the CPU engines compile their own
/// form of it when they run).
pub struct PatternSet {
    /// `10`, `100`, `1000`, `5000` or `regex` (the --sets name).
    pub key: String,
    /// For tables: "1000 literals", "20 regexes".
    pub label: String,
    pub literals: Vec<Vec<u8>>,
    pub regexes: Vec<&'static str>,
    /// Longest possible match, when every pattern has one.
    pub max_len: Option<usize>,
    pub rules: RuleSet,
    /// Seconds RuleSet::compile took (when it ran; else what the cache recorded).
    pub compile_seconds: f64,
    pub from_cache: bool,
    /// FNV-1a-64 of the pattern list: the cache key.
    pub hash: u64,
}

impl PatternSet {
    /// Patterns in the set.
    pub fn count(&self) -> usize {
        self.literals.len() + self.regexes.len()
    }

    pub fn is_literal(&self) -> bool {
        self.regexes.is_empty()
    }

    /// The patterns as regex text (literals escaped), for regex-automata.
    fn regex_texts(&self) -> Vec<String> {
        if self.is_literal() {
            self.literals.iter().map(|l| cpu::literal_regex(l)).collect()
        } else {
            self.regexes.iter().map(|r| r.to_string()).collect()
        }
    }
}

/// Longest match of a regex in vyre's syntax (bytes, Unicode off), if bounded.
fn regex_max_len(regex: &str) -> Option<usize> {
    let hir = regex_syntax::ParserBuilder::new().unicode(false).utf8(false).build().parse(regex).ok()?;
    hir.properties().maximum_len()
}

fn build_set(
    key: &str,
    tokens: &[Vec<u8>],
    secrets: &[corpus::SecretRule],
    cache_dir: Option<&Path>,
) -> Result<PatternSet, String> {
    let (label, literals, regexes): (String, Vec<Vec<u8>>, Vec<&'static str>) = if key == "regex" {
        (format!("{} regexes", secrets.len()), Vec::new(), secrets.iter().map(|s| s.regex).collect())
    } else {
        let n: usize = key.parse().expect("validated set name");
        (format!("{n} literals"), tokens[..n].to_vec(), Vec::new())
    };
    let patterns: Vec<Pattern> = if regexes.is_empty() {
        literals.iter().map(|l| Pattern::literal(l.clone())).collect()
    } else {
        regexes.iter().map(|r| Pattern::regex(*r)).collect()
    };
    let max_len = if regexes.is_empty() {
        literals.iter().map(Vec::len).max()
    } else {
        regexes.iter().map(|r| regex_max_len(r)).collect::<Option<Vec<usize>>>().and_then(|v| v.into_iter().max())
    };
    let raw: Vec<&[u8]> = if regexes.is_empty() {
        literals.iter().map(Vec::as_slice).collect()
    } else {
        regexes.iter().map(|r| r.as_bytes()).collect()
    };
    let hash = cache::pattern_hash(if regexes.is_empty() { "literal" } else { "regex" }, &raw);
    const MAGIC: &[u8; 8] = b"VYRERS01";
    let file = cache_dir.map(|dir| cache::path(dir, "vyre", key, hash));
    let cached = file
        .as_deref()
        .and_then(|f| cache::read(f, MAGIC))
        .and_then(|(bytes, seconds)| RuleSet::from_bytes(&bytes).ok().map(|rs| (rs, seconds)));
    let (rules, compile_seconds, from_cache) = match cached {
        Some((rules, seconds)) => (rules, seconds, true),
        None => {
            let start = Instant::now();
            let rules = RuleSet::compile(&patterns, &CompileOptions::default())
                .map_err(|e| format!("vyre compile of {label}: {e}"))?;
            let seconds = start.elapsed().as_secs_f64();
            if let Some(f) = &file {
                if let Err(e) = cache::write(f, MAGIC, seconds, &rules.to_bytes()) {
                    progress(&format!("cannot write the cache: {e}"));
                }
            }
            (rules, seconds, false)
        }
    };
    Ok(PatternSet { key: key.to_string(), label, literals, regexes, max_len, rules, compile_seconds, from_cache, hash })
}

/// Every sample generator must produce a string its own regex matches
/// (checked with the regex crate), or the regex set would have no matches.
fn check_secret_samples(secrets: &[corpus::SecretRule]) -> Result<(), String> {
    let mut rng = corpus::Rng::new(7);
    for rule in secrets {
        let re = regex::bytes::RegexBuilder::new(rule.regex)
            .unicode(false)
            .build()
            .map_err(|e| format!("secret rule {}: {e}", rule.name))?;
        for _ in 0..20 {
            let sample = (rule.sample)(&mut rng);
            let padded = [&b" "[..], &sample, b" "].concat();
            if !re.is_match(&padded) {
                return Err(format!(
                    "secret rule {}: its own sample {:?} does not match {}",
                    rule.name,
                    String::from_utf8_lossy(&sample),
                    rule.regex
                ));
            }
        }
    }
    Ok(())
}

/// The inputs shared by every engine.
pub struct Inputs {
    pub headline: Corpus,
    pub corpora: Vec<Corpus>,
    pub sets: Vec<PatternSet>,
    /// Index in `sets` of the headline's rules: the 1 000-literal set, else
    /// the largest literal set measured.
    pub headline_set: Option<usize>,
}

fn progress(what: &str) {
    eprintln!("bench-scan: {what}");
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("bench-scan: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Scan every corpus with one compiled engine, `reps` times each; a row per
/// corpus with the median time (the repetitions must agree exactly).
fn measure_cpu(
    config: &Config,
    inputs: &Inputs,
    set: &PatternSet,
    engine: &str,
    compile_s: f64,
    scan: &dyn Fn(&Corpus, &[cpu::Unit]) -> cpu::Outcome,
) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for corpus in &inputs.corpora {
        progress(&format!("{engine}, {} on {}", set.label, corpus.name));
        let units = cpu::units(corpus, config.chunk, set.max_len);
        let outcomes: Vec<cpu::Outcome> = (0..config.reps).map(|_| scan(corpus, &units)).collect();
        let first = outcomes[0];
        if let Some(bad) = outcomes.iter().find(|o| o.matches != first.matches || o.checksum != first.checksum) {
            return Err(format!(
                "{engine}, {} on {}: repetitions disagree ({first:?} vs {bad:?})",
                set.label, corpus.name
            ));
        }
        rows.push(Row {
            section: "scan",
            corpus: corpus.name.to_string(),
            set: set.label.clone(),
            patterns: set.count(),
            engine: engine.to_string(),
            threads: config.threads,
            bytes: corpus.bytes() as u64,
            jobs: corpus.files.len() as u64,
            seconds: median(outcomes.iter().map(|o| o.seconds).collect()),
            matches: first.matches,
            checksum: Some(first.checksum),
            compile_s: Some(compile_s),
            check: String::new(),
            note: String::new(),
        });
    }
    Ok(rows)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs everything; Ok(false) when engines disagreed.
fn run(config: &Config) -> Result<bool, String> {
    let wants = |engine: &str| config.engines.iter().any(|e| e == engine);
    let host_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut notes: Vec<String> = Vec::new();

    // ---------------------------------------------------------------- inputs
    let tokens = corpus::literal_tokens(*LITERAL_SET_SIZES.last().unwrap(), 0x7679_7265);
    let secrets = corpus::secret_rules();
    check_secret_samples(&secrets)?;
    // Every set compiles on its own thread (determinizing a large literal
    // set takes long, and the corpora are generated meanwhile).
    progress(&format!("compiling the sets ({}) for vyre, generating the corpora", config.sets.join(", ")));
    let plants = Plants { tokens: &tokens, secrets: &secrets };
    let (sets, (headline, small, large)) = std::thread::scope(|scope| {
        let handles: Vec<_> = config
            .sets
            .iter()
            .map(|key| {
                let (tokens, secrets) = (&tokens, &secrets);
                scope.spawn(move || {
                    let set = build_set(key, tokens, secrets, config.cache.as_deref());
                    if let Ok(set) = &set {
                        progress(&format!("compiled {} in {:.2} s", set.label, set.compile_seconds));
                    }
                    set
                })
            })
            .collect();
        let large = scope.spawn(|| {
            corpus::build(
                "large files",
                config.large_files * config.large_bytes,
                config.large_bytes,
                config.large_bytes,
                33,
                &plants,
            )
        });
        let headline = corpus::build("headline", config.headline_jobs * 1024, 1024, 1024, 11, &plants);
        let small = corpus::build("small files", config.small_bytes, 1024, 4096, 22, &plants);
        let large = large.join().expect("corpus thread");
        let sets: Result<Vec<PatternSet>, String> =
            handles.into_iter().map(|h| h.join().expect("compile thread")).collect();
        (sets, (headline, small, large))
    });
    let sets = sets?;
    // The headline's rules: the 1 000-literal set, else the largest literal set measured.
    let headline_set = sets.iter().position(|s| s.key == "1000").or_else(|| {
        sets.iter().enumerate().filter(|(_, s)| s.is_literal()).max_by_key(|(_, s)| s.count()).map(|(i, _)| i)
    });
    let inputs = Inputs { headline, corpora: vec![small, large], sets, headline_set };

    // ------------------------------------------------------------ CPU engines
    let hyperscan = if wants("hyperscan") {
        match hyperscan::Hyperscan::load() {
            Ok(hs) => Some(hs),
            Err(e) if config.engines_given => return Err(format!("hyperscan was asked for: {e}")),
            Err(e) => {
                notes.push(format!("hyperscan skipped: {e}"));
                None
            }
        }
    } else {
        None
    };
    let mut rows: Vec<Row> = Vec::new();
    let cpu_engines: Vec<&str> =
        ["hyperscan", "aho-corasick", "regex", "vyre-cpu"].into_iter().filter(|e| wants(e)).collect();
    for set in &inputs.sets {
        for &engine in &cpu_engines {
            // Compile once (timed), then scan each corpus `reps` times.
            let label = format!("{engine}, {}", set.label);
            let start = Instant::now();
            let measure = |scanner: &dyn Fn(&Corpus, &[cpu::Unit]) -> cpu::Outcome, compile_s: f64| {
                measure_cpu(config, &inputs, set, engine, compile_s, scanner)
            };
            let measured = match engine {
                "hyperscan" => {
                    let Some(hs) = hyperscan.as_ref() else { continue };
                    let db = if set.is_literal() {
                        hs.compile_literals(&set.literals)
                    } else {
                        hs.compile_regexes(&set.regexes)
                    }
                    .map_err(|e| format!("{label}: {e}"))?;
                    let compile = start.elapsed().as_secs_f64();
                    progress(&format!("{label} (compiled in {compile:.2} s)"));
                    measure(&|c, u| cpu::run(&db, c, u, config.threads), compile)
                }
                "aho-corasick" => {
                    if !set.is_literal() {
                        continue;
                    }
                    let ac = cpu::aho_corasick(&set.literals)?;
                    let compile = start.elapsed().as_secs_f64();
                    progress(&format!("{label} (built in {compile:.2} s)"));
                    measure(&|c, u| cpu::run(&ac, c, u, config.threads), compile)
                }
                "regex" => {
                    let file =
                        config.cache.as_deref().map(|dir| cache::path(dir, "regex-automata", &set.key, set.hash));
                    let cached = file.as_deref().is_some_and(Path::exists);
                    if set.compile_seconds > 60.0 && !cached && !config.engines_given {
                        notes.push(format!(
                            "regex skipped for {}: its dense DFA is the same determinization as vyre's compile, which \
                             took {:.0} s; pass --engines with regex to include it",
                            set.label, set.compile_seconds
                        ));
                        continue;
                    }
                    let (dfa, compile, cached) = cpu::RegexDfa::build_cached(&set.regex_texts(), file.as_deref())?;
                    progress(&format!("{label} (built in {compile:.2} s{})", if cached { ", cached" } else { "" }));
                    measure(&|c, u| cpu::run(&dfa, c, u, config.threads), compile)
                }
                "vyre-cpu" => {
                    progress(&label);
                    measure(&|c, u| cpu::run(&set.rules, c, u, config.threads), set.compile_seconds)
                }
                _ => unreachable!(),
            };
            rows.extend(measured?);
        }
    }

    // ------------------------------------------------------------------- vyre
    let mut gpu = None;
    if wants("vyre") {
        match vyre_gpu::run(config, &inputs) {
            Ok(report) => gpu = Some(report),
            Err(e) if config.engines_given => return Err(format!("vyre: {e}")),
            Err(e) => notes.push(format!("vyre (GPU engine) skipped: {e}")),
        }
    }
    if let Some(report) = &gpu {
        rows.extend(report.rows.iter().cloned());
        notes.extend(report.notes.iter().cloned());
    }
    // Headline rows first, then by corpus, set and engine.
    let corpus_rank = |r: &Row| inputs.corpora.iter().position(|c| c.name == r.corpus).unwrap_or(usize::MAX);
    let set_rank = |r: &Row| inputs.sets.iter().position(|s| s.label == r.set).unwrap_or(usize::MAX);
    let engine_rank = |r: &Row| report::ENGINE_ORDER.iter().position(|e| *e == r.engine).unwrap_or(usize::MAX);
    rows.sort_by_key(|r| (r.section != "headline", corpus_rank(r), set_rank(r), engine_rank(r)));

    // --------------------------------------------------------------- checking
    // The reference of each (corpus, set): vyre-cpu where measured, else the
    // first engine measured. The headline rows are checked against vyre-cpu
    // on the headline corpus, computed here whatever --engines says.
    let mut agree = true;
    if let Some(set) = inputs.headline_set.map(|i| &inputs.sets[i]) {
        if rows.iter().any(|r| r.section == "headline") {
            let units = cpu::units(&inputs.headline, config.chunk, set.max_len);
            let oracle = cpu::run(&set.rules, &inputs.headline, &units, config.threads);
            for row in rows.iter_mut().filter(|r| r.section == "headline") {
                agree &= row.check_against(oracle.matches, oracle.checksum, "vyre-cpu");
            }
        }
    }
    let keys: Vec<(String, String)> =
        rows.iter().filter(|r| r.section == "scan").map(|r| (r.corpus.clone(), r.set.clone())).collect();
    let mut done: Vec<(String, String)> = Vec::new();
    for key in keys {
        if done.contains(&key) {
            continue;
        }
        let group: Vec<usize> = (0..rows.len())
            .filter(|&i| rows[i].section == "scan" && rows[i].corpus == key.0 && rows[i].set == key.1)
            .collect();
        let reference = group
            .iter()
            .copied()
            .find(|&i| rows[i].engine == "vyre-cpu")
            .or_else(|| group.iter().copied().find(|&i| rows[i].checksum.is_some()))
            .unwrap_or(group[0]);
        let (matches, checksum, name) =
            (rows[reference].matches, rows[reference].checksum.unwrap_or(0), rows[reference].engine.clone());
        for &i in &group {
            if i == reference {
                rows[i].check = "ref".into();
            } else {
                agree &= rows[i].check_against(matches, checksum, &name);
            }
        }
        done.push(key);
    }

    // ----------------------------------------------------------------- output
    let device = gpu.as_ref().map_or("none (vyre not measured)".to_string(), |g| g.device.clone());
    println!("vyre device: {device}");
    println!(
        "host: {host_threads} hardware threads; CPU engines on {} threads{}; reps: {} (median time reported)",
        config.threads,
        hyperscan.as_ref().map_or(String::new(), |hs| format!("; Hyperscan {}", hs.version)),
        config.reps
    );
    println!(
        "corpora: {} = {} files, {:.1} MiB (1-4 KiB each); {} = {} files, {:.1} MiB; headline = {} jobs x 1 KiB",
        inputs.corpora[0].name,
        inputs.corpora[0].files.len(),
        inputs.corpora[0].bytes() as f64 / MIB as f64,
        inputs.corpora[1].name,
        inputs.corpora[1].files.len(),
        inputs.corpora[1].bytes() as f64 / MIB as f64,
        inputs.headline.files.len(),
    );
    println!(
        "semantics: every match end of every pattern, overlapping; counts are (file, pattern, end) triples. \
         regex = regex-automata dense DFA (MatchKind::All, overlapping search): the regex crate's API \
         cannot report every match of a set with positions. Large files: CPU engines scan {} KiB windows \
         overlapping by the longest match; vyre gets each file as one job.",
        config.chunk / 1024
    );
    for set in &inputs.sets {
        println!(
            "set {}: vyre table {} states x {} classes, {:.1} MiB, compiled in {:.2} s{}; longest match {}",
            set.label,
            set.rules.state_count(),
            set.rules.class_count(),
            set.rules.table_bytes() as f64 / MIB as f64,
            set.compile_seconds,
            if set.from_cache { " (loaded from the cache)" } else { "" },
            set.max_len.map_or("unbounded".into(), |n| format!("{n} bytes"))
        );
    }
    println!();
    report::print_table(&rows);
    println!();
    report::print_targets(&rows, gpu.as_ref().and_then(|g| g.h2d_gbps), config.threads);
    for note in &notes {
        println!("note: {note}");
    }
    if let Some(path) = &config.csv {
        report::write_csv(path, &device, &rows).map_err(|e| format!("writing {path}: {e}"))?;
        println!("wrote {path}");
    }
    if let Some(path) = &config.svg {
        report::write_svg(path, &device, &rows).map_err(|e| format!("writing {path}: {e}"))?;
        println!("wrote {path}");
    }
    if !agree {
        println!("MISMATCH: engines disagree on the matches (see the check column); exit status 1");
    }
    Ok(agree)
}
