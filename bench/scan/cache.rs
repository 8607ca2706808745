//! An on-disk cache of compiled automata (`--cache DIR`): determinizing the
//! 5 000-literal set takes minutes, and the GPU machine's commands are
//! time-limited, so tables compiled here can travel with the binary.
//!
//! A file is `magic (8 bytes) | compile seconds (f64 LE) | payload`, named
//! after what it holds and an FNV-1a-64 hash of the exact pattern list, so a
//! changed pattern set never loads a stale table. A payload that does not
//! load (a newer table format, corruption) is recompiled and rewritten.

use std::path::{Path, PathBuf};

/// FNV-1a-64 of every pattern (kind, length, bytes), in order.
pub fn pattern_hash(kind: &str, patterns: &[&[u8]]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(kind.as_bytes());
    for p in patterns {
        eat(&(p.len() as u64).to_le_bytes());
        eat(p);
    }
    hash
}

pub fn path(dir: &Path, what: &str, set: &str, hash: u64) -> PathBuf {
    dir.join(format!("bench-scan-{what}-{set}-{hash:016x}.bin"))
}

/// The payload and compile seconds stored at `path`, if it has this magic.
pub fn read(path: &Path, magic: &[u8; 8]) -> Option<(Vec<u8>, f64)> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < 16 || &bytes[..8] != magic {
        return None;
    }
    let seconds = f64::from_le_bytes(bytes[8..16].try_into().ok()?);
    Some((bytes[16..].to_vec(), seconds))
}

/// Store a payload; a cache that cannot be written is only a note.
pub fn write(path: &Path, magic: &[u8; 8], seconds: f64, payload: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut bytes = Vec::with_capacity(16 + payload.len());
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&seconds.to_le_bytes());
    bytes.extend_from_slice(payload);
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
