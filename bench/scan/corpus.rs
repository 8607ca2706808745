//! Deterministic inputs of the scanning benchmark: a seeded PRNG, the
//! literal pattern sets (nested: the first 10 of the 5 000 are the 10-set),
//! the secret-scanning regexes with a generator of a matching string for
//! each, and the corpora (pseudo-random text with planted occurrences).

use std::collections::HashSet;

/// SplitMix64: small, fast, good enough to make text and tokens.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.0)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    pub fn pick(&mut self, bytes: &[u8]) -> u8 {
        bytes[self.below(bytes.len() as u64) as usize]
    }

    /// `n` bytes drawn from `alphabet`.
    pub fn string(&mut self, alphabet: &[u8], n: usize) -> Vec<u8> {
        (0..n).map(|_| self.pick(alphabet)).collect()
    }
}

/// The SplitMix64 finalizer: a bijection of u64 that mixes every bit.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One match's contribution to a run's checksum: the checksum is the
/// wrapping sum over every `(job, pattern, end)`, so it does not depend on
/// the order in which an engine reports matches, and two engines that agree
/// on the count but not on the matches almost surely disagree on it.
#[inline]
pub fn match_hash(job: u64, pattern: u32, end: u64) -> u64 {
    mix64(job.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u64::from(pattern) << 40) ^ end)
}

pub const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
pub const DIGITS: &[u8] = b"0123456789";
pub const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const UPPER_DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
pub const HEX_LOWER: &[u8] = b"0123456789abcdef";
pub const HEX_MIXED: &[u8] = b"0123456789abcdefABCDEF";
pub const B64: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/";
pub const WORD: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
/// Bytes of the literal tokens: letters, digits and a little punctuation.
const TOKEN_BYTES: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:/";

/// The literal set sizes the benchmark measures; every set is a prefix of
/// the largest.
pub const LITERAL_SET_SIZES: [usize; 4] = [10, 100, 1_000, 5_000];
pub const MIN_TOKEN: usize = 8;
pub const MAX_TOKEN: usize = 24;

/// `count` distinct tokens of 8–24 bytes. Each one starts with a letter and
/// mixes cases, digits and punctuation, so ordinary text almost never
/// contains one by chance: the matches are the planted ones.
pub fn literal_tokens(count: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut seen = HashSet::with_capacity(count);
    let mut tokens = Vec::with_capacity(count);
    while tokens.len() < count {
        let len = rng.range(MIN_TOKEN as u64, MAX_TOKEN as u64) as usize;
        let mut token = vec![rng.pick(LOWER)];
        token.extend(rng.string(TOKEN_BYTES, len - 1));
        if seen.insert(token.clone()) {
            tokens.push(token);
        }
    }
    tokens
}

/// A secret-scanning rule: its regex (valid for the `regex` crate with
/// Unicode off and for Hyperscan/PCRE alike: no `$`, no `\s`, no `.`, ASCII
/// `\b` only) and a generator of a string it matches.
pub struct SecretRule {
    pub name: &'static str,
    pub regex: &'static str,
    pub sample: fn(&mut Rng) -> Vec<u8>,
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// About twenty realistic secret-scanning regexes. Every repeat is bounded,
/// so each has a maximum match length (the CPU engines split large files
/// into overlapping windows with it), and none lets a fresh match start
/// inside a bounded run of its own class more than a few times (the DFA
/// would otherwise track every combination of counters).
pub fn secret_rules() -> Vec<SecretRule> {
    vec![
        SecretRule {
            name: "aws_access_key_id",
            regex: r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
            sample: |r| {
                let prefix: &[u8] = [&b"AKIA"[..], b"ASIA", b"ABIA", b"ACCA"][r.below(4) as usize];
                cat(&[prefix, &r.string(UPPER_DIGITS, 16)])
            },
        },
        SecretRule {
            name: "aws_secret_access_key",
            regex: r#"(?i)\baws_?secret_?access_?key[ \t]{0,4}[:=][ \t]{0,4}["']?[A-Za-z0-9/+]{40}"#,
            sample: |r| cat(&[b"aws_secret_access_key = \"", &r.string(B64, 40), b"\""]),
        },
        SecretRule {
            name: "github_pat",
            regex: r"\bghp_[A-Za-z0-9]{36}\b",
            sample: |r| cat(&[b"ghp_", &r.string(ALNUM, 36)]),
        },
        SecretRule {
            name: "github_oauth",
            regex: r"\bgho_[A-Za-z0-9]{36}\b",
            sample: |r| cat(&[b"gho_", &r.string(ALNUM, 36)]),
        },
        SecretRule {
            name: "github_app_token",
            regex: r"\b(?:ghu|ghs)_[A-Za-z0-9]{36}\b",
            sample: |r| cat(&[if r.below(2) == 0 { b"ghu_" } else { b"ghs_" }, &r.string(ALNUM, 36)]),
        },
        SecretRule {
            name: "github_refresh_token",
            regex: r"\bghr_[A-Za-z0-9]{36}\b",
            sample: |r| cat(&[b"ghr_", &r.string(ALNUM, 36)]),
        },
        SecretRule {
            name: "github_fine_grained_pat",
            regex: r"\bgithub_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}\b",
            sample: |r| cat(&[b"github_pat_", &r.string(ALNUM, 22), b"_", &r.string(ALNUM, 59)]),
        },
        SecretRule {
            name: "gitlab_pat",
            regex: r"\bglpat-[A-Za-z0-9_]{20}\b",
            sample: |r| cat(&[b"glpat-", &r.string(WORD, 20)]),
        },
        SecretRule {
            name: "slack_token",
            regex: r"\bxox[baprs]-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24,32}\b",
            sample: |r| {
                let kind = [r.pick(b"baprs")];
                let (a, b, c) = (r.range(10, 13) as usize, r.range(10, 13) as usize, r.range(24, 32) as usize);
                cat(&[b"xox", &kind, b"-", &r.string(DIGITS, a), b"-", &r.string(DIGITS, b), b"-", &r.string(ALNUM, c)])
            },
        },
        SecretRule {
            name: "slack_webhook",
            regex: r"\bhttps://hooks\.slack\.com/services/T[A-Z0-9]{8,10}/B[A-Z0-9]{8,10}/[A-Za-z0-9]{24}",
            sample: |r| {
                let (t, b) = (r.range(8, 10) as usize, r.range(8, 10) as usize);
                cat(&[
                    b"https://hooks.slack.com/services/T",
                    &r.string(UPPER_DIGITS, t),
                    b"/B",
                    &r.string(UPPER_DIGITS, b),
                    b"/",
                    &r.string(ALNUM, 24),
                ])
            },
        },
        SecretRule {
            name: "private_key_header",
            regex: r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----",
            sample: |r| {
                let kinds: [&[u8]; 7] = [b"", b"RSA ", b"EC ", b"DSA ", b"OPENSSH ", b"PGP ", b"ENCRYPTED "];
                let kind = kinds[r.below(7) as usize];
                let block: &[u8] = if kind == b"PGP " { b" BLOCK" } else { b"" };
                cat(&[b"-----BEGIN ", kind, b"PRIVATE KEY", block, b"-----"])
            },
        },
        SecretRule {
            name: "stripe_live_key",
            regex: r"\b(?:sk|rk)_live_[0-9A-Za-z]{24,99}\b",
            sample: |r| {
                let n = r.range(24, 40) as usize;
                cat(&[if r.below(2) == 0 { b"sk_live_" } else { b"rk_live_" }, &r.string(ALNUM, n)])
            },
        },
        SecretRule {
            name: "stripe_test_key",
            regex: r"\bsk_test_[0-9A-Za-z]{24,99}\b",
            sample: |r| {
                let n = r.range(24, 40) as usize;
                cat(&[b"sk_test_", &r.string(ALNUM, n)])
            },
        },
        SecretRule {
            name: "google_api_key",
            // Real keys may hold '-'; leaving it out keeps the DFA small (a
            // '-' is a word boundary, where a new match could start).
            regex: r"\bAIza[0-9A-Za-z_]{35}\b",
            sample: |r| cat(&[b"AIza", &r.string(WORD, 35)]),
        },
        SecretRule {
            name: "jwt",
            regex: r"\beyJ[A-Za-z0-9_]{10,100}\.eyJ[A-Za-z0-9_]{10,300}\.[A-Za-z0-9_]{10,100}",
            sample: |r| {
                let (a, b, c) = (r.range(10, 40) as usize, r.range(20, 80) as usize, r.range(20, 43) as usize);
                cat(&[b"eyJ", &r.string(WORD, a), b".eyJ", &r.string(WORD, b), b".", &r.string(WORD, c)])
            },
        },
        SecretRule {
            name: "twilio_api_key",
            regex: r"\bSK[0-9a-fA-F]{32}\b",
            sample: |r| cat(&[b"SK", &r.string(HEX_MIXED, 32)]),
        },
        SecretRule {
            name: "sendgrid_api_key",
            regex: r"\bSG\.[A-Za-z0-9_]{22}\.[A-Za-z0-9_]{43}\b",
            sample: |r| cat(&[b"SG.", &r.string(WORD, 22), b".", &r.string(WORD, 43)]),
        },
        SecretRule {
            name: "mailgun_api_key",
            regex: r"\bkey-[0-9a-f]{32}\b",
            sample: |r| cat(&[b"key-", &r.string(HEX_LOWER, 32)]),
        },
        SecretRule {
            name: "generic_api_key",
            regex: r#"(?i)\b(?:api|access|auth|client)[_-]?(?:key|token|secret)[ \t]{0,4}[:=][ \t]{0,4}["']?[A-Za-z0-9_]{16,64}\b"#,
            sample: |r| {
                let names: [&[u8]; 4] = [b"api_key", b"ACCESS_TOKEN", b"authSecret", b"client-key"];
                let name = names[r.below(4) as usize];
                let n = r.range(16, 48) as usize;
                cat(&[name, b": '", &r.string(ALNUM, n), b"'"])
            },
        },
        SecretRule {
            name: "password_assignment",
            regex: r#"(?i)\bpassword[ \t]{0,4}[:=][ \t]{0,4}["'][A-Za-z0-9_!@#$%^&*+]{8,64}["']"#,
            sample: |r| {
                let n = r.range(8, 30) as usize;
                cat(&[
                    b"password = \"",
                    &r.string(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_!@#$%^&*+", n),
                    b"\"",
                ])
            },
        },
    ]
}

/// A corpus: files back to back in one buffer (that is also how they are
/// laid out in the GPU arena).
pub struct Corpus {
    pub name: &'static str,
    pub data: Vec<u8>,
    /// `(offset, len)` of each file in `data`.
    pub files: Vec<(usize, usize)>,
}

impl Corpus {
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    pub fn file(&self, index: usize) -> &[u8] {
        let (offset, len) = self.files[index];
        &self.data[offset..offset + len]
    }

    pub fn largest_file(&self) -> usize {
        self.files.iter().map(|f| f.1).max().unwrap_or(0)
    }
}

/// What is planted into the text.
pub struct Plants<'a> {
    pub tokens: &'a [Vec<u8>],
    pub secrets: &'a [SecretRule],
}

/// One planted literal per this many bytes, one planted secret per
/// `SECRET_EVERY` bytes, on average.
const LITERAL_EVERY: u64 = 1024;
const SECRET_EVERY: u64 = 4096;

/// Pseudo-random prose: lowercase words of 1–4 syllables, spaces,
/// punctuation and line breaks.
fn fill_text(rng: &mut Rng, out: &mut [u8]) {
    const ONSETS: &[&[u8]] = &[
        b"b", b"c", b"d", b"f", b"g", b"h", b"j", b"k", b"l", b"m", b"n", b"p", b"r", b"s", b"t", b"v", b"w", b"z",
        b"st", b"tr", b"ch", b"sh", b"pl", b"gr", b"",
    ];
    const VOWELS: &[&[u8]] = &[b"a", b"e", b"i", b"o", b"u", b"ea", b"ou", b"ie"];
    const CODAS: &[&[u8]] = &[b"", b"", b"n", b"r", b"s", b"t", b"l", b"nd", b"ck"];
    let mut i = 0;
    while i < out.len() {
        let mut word = Vec::with_capacity(16);
        for _ in 0..rng.range(1, 4) {
            word.extend_from_slice(ONSETS[rng.below(ONSETS.len() as u64) as usize]);
            word.extend_from_slice(VOWELS[rng.below(VOWELS.len() as u64) as usize]);
            word.extend_from_slice(CODAS[rng.below(CODAS.len() as u64) as usize]);
        }
        match rng.below(40) {
            0 => word.extend_from_slice(b".\n"),
            1..=3 => word.extend_from_slice(b", "),
            4..=5 => word.extend_from_slice(b". "),
            _ => word.push(b' '),
        }
        let n = word.len().min(out.len() - i);
        out[i..i + n].copy_from_slice(&word[..n]);
        i += n;
    }
}

/// Write `what` at a random place of `file`, between spaces so that `\b`
/// holds on both sides (an earlier plant may be partly overwritten: the
/// engines are compared with each other, not with the plant count).
fn plant(rng: &mut Rng, file: &mut [u8], what: &[u8]) {
    if what.len() + 2 > file.len() {
        return;
    }
    let at = rng.below((file.len() - what.len() - 1) as u64) as usize;
    file[at] = b' ';
    file[at + 1..at + 1 + what.len()].copy_from_slice(what);
    if at + 1 + what.len() < file.len() {
        file[at + 1 + what.len()] = b' ';
    }
}

/// A planted literal: a size tier is drawn first, then a token of that
/// tier's set, so every set (10 … 5 000) gets a fair share of matches.
fn pick_token<'a>(rng: &mut Rng, tokens: &'a [Vec<u8>]) -> &'a [u8] {
    let tier = LITERAL_SET_SIZES[rng.below(LITERAL_SET_SIZES.len() as u64) as usize].min(tokens.len());
    &tokens[rng.below(tier as u64) as usize]
}

fn fill_file(rng: &mut Rng, file: &mut [u8], plants: &Plants) {
    fill_text(rng, file);
    let len = file.len() as u64;
    // Poisson-ish counts: the expectation, randomly rounded.
    let count = |rng: &mut Rng, every: u64| len / every + u64::from(rng.below(every) < len % every);
    if !plants.tokens.is_empty() {
        for _ in 0..count(rng, LITERAL_EVERY) {
            let token = pick_token(rng, plants.tokens).to_vec();
            plant(rng, file, &token);
        }
    }
    if !plants.secrets.is_empty() {
        for _ in 0..count(rng, SECRET_EVERY) {
            let rule = &plants.secrets[rng.below(plants.secrets.len() as u64) as usize];
            let sample = (rule.sample)(rng);
            plant(rng, file, &sample);
        }
    }
}

/// Files of `min_len..=max_len` bytes (multiples of nothing in particular)
/// until `total` bytes; each file is generated from its own seed, so a file
/// does not depend on the sizes of the others.
pub fn build(name: &'static str, total: usize, min_len: usize, max_len: usize, seed: u64, plants: &Plants) -> Corpus {
    let mut sizes = Rng::new(seed ^ 0x5151_5151);
    let mut files = Vec::new();
    let mut offset = 0;
    while offset < total {
        let len = (sizes.range(min_len as u64, max_len as u64) as usize).min(total - offset);
        files.push((offset, len));
        offset += len;
    }
    let mut data = vec![0u8; total];
    for (index, &(offset, len)) in files.iter().enumerate() {
        let mut rng = Rng::new(mix64(seed.wrapping_add(index as u64)));
        fill_file(&mut rng, &mut data[offset..offset + len], plants);
    }
    Corpus { name, data, files }
}
