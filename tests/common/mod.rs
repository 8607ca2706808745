//! Helpers shared by the engine's integration tests.

#![allow(dead_code)] // each test binary uses its own subset

pub mod load;

use std::time::Duration;
use vyre::backend::BackendChoice;
use vyre::engine::{Engine, EngineOptions};
use vyre::error::ErrorKind;
use vyre::rules::RuleSet;

pub const LONG: Duration = Duration::from_secs(120);

/// Both backends; Vulkan only where a device exists, unless
/// VYRE_CONFORMANCE_REQUIRE_VULKAN demands it.
pub fn engines(options: EngineOptions) -> Vec<Engine> {
    let mut out = vec![Engine::create(&EngineOptions { backend: BackendChoice::Reference, ..options }).unwrap()];
    if let Some(vulkan) = vulkan_engine(options) {
        out.push(vulkan.unwrap_or_else(|e| panic!("Vulkan engine: {e}")));
    }
    out
}

/// An engine on Vulkan, or how creating it failed; None where no device
/// exists, unless VYRE_CONFORMANCE_REQUIRE_VULKAN demands one.
pub fn vulkan_engine(options: EngineOptions) -> Option<vyre::error::Result<Engine>> {
    match Engine::create(&EngineOptions { backend: BackendChoice::Vulkan, ..options }) {
        Err(e) if e.kind == ErrorKind::Unsupported && std::env::var_os("VYRE_CONFORMANCE_REQUIRE_VULKAN").is_none() => {
            eprintln!("Vulkan skipped: {e}");
            None
        }
        created => Some(created),
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn bytes(&mut self, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len).map(|_| alphabet[self.below(alphabet.len() as u64) as usize]).collect()
    }
}

/// Hits of one job as (end, pattern), sorted.
pub type Matches = Vec<(u64, u32)>;

pub fn oracle(rs: &RuleSet, bytes: &[u8]) -> Matches {
    let mut out: Matches = rs.matches(bytes).into_iter().map(|(p, e)| (e as u64, p)).collect();
    out.sort_unstable();
    out
}
