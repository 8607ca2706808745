//! Soak: one engine kept busy for a long time (issue 6 asks for 10 minutes
//! on the GPU machine) while memory is sampled, to show nothing grows and
//! nothing is lost.
//!
//! cargo run --release --example soak -- [--seconds N] [--backend auto|vulkan|reference]
//!     [--threads N] [--items N] [--files N] [--sample-secs N] [--max-growth-mib N] [--csv PATH]
//!
//! Rounds repeat until --seconds have passed; each round checks every result:
//!   direct  --threads producers enqueue --items jobs in all (single and
//!           batched) into a long-lived engine while all of them poll;
//!           each job must complete exactly once with the oracle's hit count
//!   pump    a pump is created on that engine, reads --files files of
//!           1 KiB..1 MiB (several chunks each) and is destroyed; each
//!           file's matches must equal the oracle's
//!   churn   a second engine with its own rule set and pump is created,
//!           scans a few jobs and a file, and is destroyed
//! Every --sample-secs (between rounds) it records RSS (/proc/self/status)
//! and the GPU's used memory (`nvidia-smi`, whole GPU; "-" without one).
//! Memory is flat if neither grew by more than --max-growth-mib from the
//! first sample after a tenth of the run (warm-up: allocators and driver
//! caches settle) to the last. Exit status: 0 flat and every check passed,
//! 1 memory grew (a check that fails panics: 101).

use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vyre::backend::BackendChoice;
use vyre::engine::{Completion, Engine, EngineOptions, Hit, WorkItem};
use vyre::error::ErrorKind;
use vyre::pump::{Pump, PumpOptions, PumpResult, VYRE_PUMP_RESULT_LAST, VYRE_PUMP_TO_EOF};
use vyre::rules::{Pattern, RuleSet};

#[path = "../tests/common/load.rs"]
mod load;
use load::{Load, INPUTS};

const USAGE: &str = "soak [--seconds N] [--backend auto|vulkan|reference] [--threads N] [--items N] [--files N] \
                     [--sample-secs N] [--max-growth-mib N] [--csv PATH] (see bench/soak.rs)";
const JOB_BYTES: u64 = 1024;
const PUMP_SHARE: u64 = 16 << 20;
const PUMP_CHUNK: u64 = 256 << 10;
const MAX_FILE: u64 = 1 << 20;
const ALPHABET: &[u8] = b"abcdefgh tokn=_";
const WAIT: Duration = Duration::from_secs(120);

struct Config {
    seconds: u64,
    backend: BackendChoice,
    threads: u64,
    items: u64,
    files: usize,
    sample_secs: u64,
    max_growth_mib: u64,
    csv: Option<PathBuf>,
}

fn parse_args() -> Result<Config, String> {
    let mut config = Config {
        seconds: 600,
        backend: BackendChoice::Auto,
        threads: 8,
        items: 100_000,
        files: 64,
        sample_secs: 10,
        max_growth_mib: 16,
        csv: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--seconds" => config.seconds = number(value()?)?,
            "--threads" => config.threads = number(value()?)?.max(1),
            "--items" => config.items = number(value()?)?.max(1),
            "--files" => config.files = number(value()?)? as usize,
            "--sample-secs" => config.sample_secs = number(value()?)?.max(1),
            "--max-growth-mib" => config.max_growth_mib = number(value()?)?,
            "--csv" => config.csv = Some(PathBuf::from(value()?)),
            "--backend" => {
                config.backend = value()?.parse().map_err(|e: vyre::error::Error| format!("--backend: {e}"))?
            }
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    Ok(config)
}

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn bytes(&mut self, len: u64) -> Vec<u8> {
        (0..len).map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize]).collect()
    }
}

/// Literals and a regex, so both table builders are soaked.
fn rule_set(regex: bool) -> RuleSet {
    let mut patterns: Vec<Pattern> = ["ab", "bca", "tokn=", "hgf", "dead", "e_e"].map(Pattern::literal).into();
    if regex {
        patterns.push(Pattern::regex("tokn=[a-h]{4}"));
    }
    RuleSet::compile(&patterns, &Default::default()).expect("soak rule set")
}

fn hit_count(rs: &RuleSet, bytes: &[u8]) -> u64 {
    rs.matches(bytes).len() as u64
}

fn direct_round(engine: &Engine, rule_set: u32, expected: &[u64], config: &Config) -> u64 {
    Load::new(engine, rule_set, JOB_BYTES, expected, config.items).run(config.threads);
    config.items
}

/// Files on disk with their oracle hit counts.
struct Corpus {
    dir: PathBuf,
    paths: Vec<CString>,
    expected: Vec<u64>,
}

impl Corpus {
    fn new(count: usize, rs: &RuleSet) -> Corpus {
        let dir = std::env::temp_dir().join(format!("vyre-soak-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("soak corpus directory");
        let mut rng = Rng(0x5eed);
        let (mut paths, mut expected) = (Vec::new(), Vec::new());
        for i in 0..count {
            let len = 1024 + rng.below(MAX_FILE - 1024);
            let bytes = rng.bytes(len);
            let path = dir.join(format!("{i}.txt"));
            std::fs::write(&path, &bytes).expect("write soak file");
            expected.push(hit_count(rs, &bytes));
            paths.push(CString::new(path.as_os_str().as_bytes()).expect("no NUL in a temp path"));
        }
        Corpus { dir, paths, expected }
    }
}

impl Drop for Corpus {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Read `paths` through a fresh pump on `engine`; each file's hits must be
/// its `expected` count. Returns the files read.
fn pump_round(engine: &Engine, rule_set: u32, paths: &[CString], expected: &[u64], share_offset: u64) -> u64 {
    let options = PumpOptions {
        chunk_bytes: PUMP_CHUNK,
        arena_offset: share_offset,
        arena_bytes: PUMP_SHARE,
        ..Default::default()
    };
    let mut pump = Pump::create(engine, &options).expect("pump");
    let mut results = vec![PumpResult::default(); 64];
    let mut hits = vec![Hit::default(); engine.info().max_hits_per_job as usize * 4];
    let mut counted = vec![0u64; paths.len()];
    let mut finished = 0;
    let mut drain = |pump: &mut Pump, finished: &mut usize| {
        let (n, _) = pump.drain(&mut results, &mut hits, WAIT).expect("drain");
        assert!(n > 0, "drain timed out with requests pending");
        for r in &results[..n] {
            assert_eq!((r.status, u64::from(r.hits_stored)), (0, r.hit_count), "file {}", r.user_data);
            counted[r.user_data as usize] += r.hit_count;
            if r.flags & VYRE_PUMP_RESULT_LAST != 0 {
                *finished += 1;
            }
        }
    };
    for (i, path) in paths.iter().enumerate() {
        loop {
            match pump.submit_path(path, 0, VYRE_PUMP_TO_EOF, rule_set, i as u64) {
                Ok(()) => break,
                Err(e) if e.kind == ErrorKind::QueueFull => drain(&mut pump, &mut finished),
                Err(e) => panic!("submit_path: {e}"),
            }
        }
    }
    while finished < paths.len() {
        drain(&mut pump, &mut finished);
    }
    assert_eq!(counted, expected, "files' hit counts (index = file)");
    paths.len() as u64
}

fn engine_options(backend: BackendChoice) -> EngineOptions {
    EngineOptions {
        backend,
        arena_bytes: INPUTS * JOB_BYTES + PUMP_SHARE,
        queue_depth: 1024,
        max_hits_per_job: 8192,
        ..Default::default()
    }
}

/// The direct jobs' inputs, written into `engine`'s arena.
fn write_inputs(engine: &Engine, inputs: &[Vec<u8>]) {
    for (i, input) in inputs.iter().enumerate() {
        engine.write(i as u64 * JOB_BYTES, input).expect("write input");
    }
}

/// A second engine, used and destroyed (creation and teardown must not
/// leak): one job per input, then the first file through its own pump.
fn churn_round(config: &Config, rs: &RuleSet, inputs: &[Vec<u8>], expected: &[u64], corpus: &Corpus) {
    let engine = Engine::create(&engine_options(config.backend)).expect("churn engine");
    let rule_set = engine.load_rule_set(rs).expect("churn rule set");
    write_inputs(&engine, inputs);
    let items: Vec<WorkItem> = (0..INPUTS)
        .map(|k| WorkItem {
            input_offset: k * JOB_BYTES,
            input_len: JOB_BYTES,
            rule_set_id: rule_set,
            flags: 0,
            user_data: k,
            ..Default::default()
        })
        .collect();
    let mut completions = vec![Completion::default(); 64];
    let mut hits = vec![Hit::default(); engine.info().max_hits_per_job as usize * 4];
    let (mut accepted, mut done) = (0, 0);
    while done < items.len() {
        if accepted < items.len() {
            let (n, result) = engine.enqueue_batch(&items[accepted..]);
            accepted += n;
            if let Err(e) = result {
                assert_eq!(e.kind, ErrorKind::QueueFull, "enqueue_batch: {e}");
            }
        }
        let (got, _) = engine.wait(&mut completions, &mut hits, WAIT).expect("wait");
        for c in &completions[..got] {
            assert_eq!((c.status, c.hit_count), (0, expected[c.user_data as usize]), "churn job {}", c.user_data);
        }
        done += got;
    }
    pump_round(&engine, rule_set, &corpus.paths[..1], &corpus.expected[..1], INPUTS * JOB_BYTES);
}

/// Resident set size in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The GPU's used memory in MiB (whole device), if nvidia-smi answers.
fn gpu_used_mib() -> Option<u64> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=memory.used", "--format=csv,noheader,nounits"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().next()?.trim().parse().ok()
}

struct Sample {
    seconds: f64,
    rounds: u64,
    jobs: u64,
    files: u64,
    engines: u64,
    rss_kib: u64,
    gpu_mib: Option<u64>,
}

/// Growth from the first sample at or after a tenth of the run to the last,
/// in MiB: (RSS, GPU).
fn growth(samples: &[Sample], seconds: u64) -> (f64, Option<f64>) {
    let warm = samples.iter().position(|s| s.seconds >= seconds as f64 / 10.0).unwrap_or(0);
    let (first, last) = (&samples[warm], samples.last().expect("at least one sample"));
    let rss = (last.rss_kib as f64 - first.rss_kib as f64) / 1024.0;
    let gpu = first.gpu_mib.zip(last.gpu_mib).map(|(a, b)| b as f64 - a as f64);
    (rss, gpu)
}

fn main() -> ExitCode {
    let config = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rs = rule_set(true);
    let mut rng = Rng(7);
    let inputs: Vec<Vec<u8>> = (0..INPUTS).map(|_| rng.bytes(JOB_BYTES)).collect();
    let expected: Vec<u64> = inputs.iter().map(|input| hit_count(&rs, input)).collect();
    let corpus = Corpus::new(config.files, &rs);
    let engine = Engine::create(&engine_options(config.backend)).expect("engine");
    let rule_set = engine.load_rule_set(&rs).expect("load rule set");
    write_inputs(&engine, &inputs);
    let info = engine.info();
    println!(
        "soak: {} ({:?}), {} s; rounds of {} direct jobs from {} threads, {} files through a pump, one engine created \
         and destroyed",
        info.device_name, info.backend, config.seconds, config.items, config.threads, config.files
    );
    println!(
        "{:>8} {:>7} {:>12} {:>9} {:>8} {:>10} {:>9}",
        "seconds", "rounds", "jobs", "files", "engines", "rss MiB", "gpu MiB"
    );
    let start = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    let (mut rounds, mut jobs, mut files, mut engines) = (0u64, 0u64, 0u64, 1u64);
    let mut next_sample = Duration::ZERO;
    loop {
        let elapsed = start.elapsed();
        if elapsed >= next_sample || elapsed.as_secs() >= config.seconds {
            let sample = Sample {
                seconds: elapsed.as_secs_f64(),
                rounds,
                jobs,
                files,
                engines,
                rss_kib: rss_kib(),
                gpu_mib: gpu_used_mib(),
            };
            println!(
                "{:>8.1} {:>7} {:>12} {:>9} {:>8} {:>10.1} {:>9}",
                sample.seconds,
                sample.rounds,
                sample.jobs,
                sample.files,
                sample.engines,
                sample.rss_kib as f64 / 1024.0,
                sample.gpu_mib.map_or("-".into(), |m| m.to_string())
            );
            let _ = std::io::stdout().flush();
            samples.push(sample);
            next_sample += Duration::from_secs(config.sample_secs);
        }
        if elapsed.as_secs() >= config.seconds {
            break;
        }
        jobs += direct_round(&engine, rule_set, &expected, &config);
        files += pump_round(&engine, rule_set, &corpus.paths, &corpus.expected, INPUTS * JOB_BYTES);
        churn_round(&config, &rs, &inputs, &expected, &corpus);
        files += 1;
        jobs += INPUTS;
        engines += 1;
        rounds += 1;
    }
    if let Some(path) = &config.csv {
        let mut csv = String::from("seconds,rounds,jobs,files,engines,rss_kib,gpu_used_mib\n");
        for s in &samples {
            csv += &format!(
                "{:.1},{},{},{},{},{},{}\n",
                s.seconds,
                s.rounds,
                s.jobs,
                s.files,
                s.engines,
                s.rss_kib,
                s.gpu_mib.map_or(String::new(), |m| m.to_string())
            );
        }
        std::fs::write(path, csv).expect("write CSV");
    }
    let (rss, gpu) = growth(&samples, config.seconds);
    let limit = config.max_growth_mib as f64;
    let flat = rss <= limit && gpu.map_or(true, |g| g <= limit);
    println!(
        "soak: {rounds} rounds, {jobs} jobs and {files} files each checked, {engines} engines; after warm-up RSS grew \
         {rss:+.1} MiB, GPU memory {}: {} (limit {limit} MiB)",
        gpu.map_or("not sampled".into(), |g| format!("{g:+.0} MiB")),
        if flat { "flat" } else { "GREW" }
    );
    if flat {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
