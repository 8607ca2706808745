//! `vyre_rule_set`: compile patterns into a DFA table, serialize, load,
//! describe, and scan bytes on the CPU (the oracle for GPU scans).
#![allow(non_camel_case_types)] // C names: the header and Rust say the same thing.

use super::megakernel::{check_struct_size, read_sized};
use super::{guard, input, input_slice, optional_output, output, output_slice};
use crate::error::{vyre_status, Error, ErrorKind, Result};
use crate::rules::{
    CompileOptions, Pattern, PatternKind, RuleSet, VYRE_MATCH_LEN_UNBOUNDED, VYRE_RULE_SET_MAX_PATTERNS,
    VYRE_RULE_SET_MAX_PATTERN_LEN,
};
use std::ffi::{c_int, c_void};
use std::mem::{offset_of, size_of};
use std::ops::ControlFlow;

/// A compiled rule set: patterns turned into one DFA table (docs/RULES.md).
/// It never changes after creation.
///
/// Thread safety: every function taking a `const vyre_rule_set *` may be
/// called from any number of threads at once; `vyre_rule_set_destroy` must
/// be the last call on the handle and must not overlap any other.
pub struct vyre_rule_set {
    inner: RuleSet,
}

/// `vyre_rule_set_options::flags` bit: ASCII case-insensitive matching
/// (`a`-`z` and `A`-`Z` match each other) for every pattern.
pub const VYRE_RULE_CASE_INSENSITIVE: u32 = 1;
/// `vyre_pattern::kind`: the bytes are matched exactly (any bytes, NUL
/// included).
pub const VYRE_PATTERN_LITERAL: u32 = 0;
/// `vyre_pattern::kind`: the bytes are a regular expression, UTF-8 text in
/// the Rust `regex` crate's syntax, matched on bytes (Unicode mode off,
/// `\xHH` is a byte). Patterns that can match the empty string are rejected.
pub const VYRE_PATTERN_REGEX: u32 = 1;

const KNOWN_FLAGS: u32 = VYRE_RULE_CASE_INSENSITIVE;

/// Options for `vyre_rule_set_compile`. Initialise with
/// `vyre_rule_set_options_init`, then change what you need.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct vyre_rule_set_options {
    /// `sizeof(vyre_rule_set_options)`: lets the struct grow compatibly.
    pub struct_size: u32,
    /// `VYRE_RULE_*` bits; unknown bits are rejected.
    pub flags: u32,
}

/// One pattern; its id (reported with every match) is its index in the
/// array passed to `vyre_rule_set_compile`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct vyre_pattern {
    /// The pattern's bytes (not NUL-terminated; may be NULL only when `len`
    /// is 0, which is then rejected as an empty pattern).
    pub bytes: *const u8,
    /// Bytes in `bytes`, 1..=`VYRE_RULE_SET_MAX_PATTERN_LEN`.
    pub len: usize,
    /// `VYRE_PATTERN_LITERAL` or `VYRE_PATTERN_REGEX`.
    pub kind: u32,
}

/// What `vyre_rule_set_get_info` reports about a rule set.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct vyre_rule_set_info {
    /// Set to `sizeof(vyre_rule_set_info)` before the call.
    pub struct_size: u32,
    /// `VYRE_RULE_*` flags it was compiled with.
    pub flags: u32,
    /// Bytes of the DFA table a kernel walks (byte classes, start states,
    /// transitions, match lists); at most `VYRE_RULE_SET_MAX_TABLE_BYTES`.
    pub table_bytes: u64,
    /// Patterns (ids `0..pattern_count`).
    pub pattern_count: u32,
    /// DFA states, the dead state included.
    pub state_count: u32,
    /// Byte classes: the table has `class_count + 1` columns (the last for
    /// end of input).
    pub class_count: u32,
    /// Written as 0. (It keeps `max_match_len` past the 32 bytes of the
    /// struct before it, so `struct_size` tells the two apart.)
    pub reserved: u32,
    /// The longest a match of any pattern can be, in bytes: every match
    /// `(pattern_id, end_offset)` has a start within `max_match_len` bytes
    /// before `end_offset`, so a scan split into parts needs
    /// `max_match_len - 1` bytes of overlap (docs/RULES.md). At most
    /// `VYRE_RULE_SET_MAX_MATCH_LEN`; 0 when nothing can match (no
    /// patterns); `VYRE_MATCH_LEN_UNBOUNDED` (0xFFFFFFFF) when some pattern's
    /// matches have no bound (`a.*b`, `x+`). Added after the first 32 bytes:
    /// a `struct_size` of 32 (the struct before it) is still accepted, and
    /// a library that returns `struct_size` 32 did not write it.
    pub max_match_len: u32,
}

/// `vyre_rule_set_info::struct_size` of the struct before `max_match_len`.
const INFO_SIZE_BEFORE_MAX_MATCH_LEN: u32 = offset_of!(vyre_rule_set_info, max_match_len) as u32;

/// Called by `vyre_rule_set_scan_cpu` once per match: `ctx` is the pointer
/// given to it, `pattern_id` the pattern's index, `end_offset` the match's
/// exclusive end in the scanned bytes. Return 0 to go on, anything else to
/// stop the scan.
pub type vyre_match_callback =
    Option<unsafe extern "C" fn(ctx: *mut c_void, pattern_id: u32, end_offset: u64) -> c_int>;

// The C layout, mirrored by _Static_assert in c_tests/test_rules.c.
mod layout {
    use super::*;
    use static_assertions::const_assert_eq;
    use std::mem::align_of;

    const_assert_eq!(size_of::<vyre_rule_set_options>(), 8);
    const_assert_eq!(offset_of!(vyre_rule_set_options, flags), 4);
    const_assert_eq!(size_of::<vyre_rule_set_info>(), 40);
    const_assert_eq!(align_of::<vyre_rule_set_info>(), 8);
    const_assert_eq!(offset_of!(vyre_rule_set_info, table_bytes), 8);
    const_assert_eq!(offset_of!(vyre_rule_set_info, pattern_count), 16);
    const_assert_eq!(offset_of!(vyre_rule_set_info, state_count), 20);
    const_assert_eq!(offset_of!(vyre_rule_set_info, class_count), 24);
    const_assert_eq!(offset_of!(vyre_rule_set_info, reserved), 28);
    const_assert_eq!(offset_of!(vyre_rule_set_info, max_match_len), 32);
    const_assert_eq!(INFO_SIZE_BEFORE_MAX_MATCH_LEN, 32);
    #[cfg(target_pointer_width = "64")]
    const _: () = {
        const_assert_eq!(size_of::<vyre_pattern>(), 24);
        const_assert_eq!(offset_of!(vyre_pattern, len), 8);
        const_assert_eq!(offset_of!(vyre_pattern, kind), 16);
    };
}

/// The rule set behind a handle.
///
/// # Safety
/// A non-NULL `rs` must come from `vyre_rule_set_compile` or
/// `vyre_rule_set_deserialize` and not be destroyed.
pub(crate) unsafe fn handle<'a>(rs: *const vyre_rule_set) -> Result<&'a RuleSet> {
    // SAFETY: forwarded to the caller's contract.
    unsafe { input(rs, "rs") }.map(|rs| &rs.inner)
}

fn boxed(inner: RuleSet) -> *mut vyre_rule_set {
    Box::into_raw(Box::new(vyre_rule_set { inner }))
}

/// Copy the C patterns (at most `VYRE_RULE_SET_MAX_PATTERNS`, checked by
/// the caller), validating kinds and lengths before any copying.
///
/// # Safety
/// Every `patterns[i].bytes` must be NULL or point to `patterns[i].len` readable bytes.
unsafe fn patterns_from_c(patterns: &[vyre_pattern]) -> Result<Vec<Pattern>> {
    let mut out = Vec::with_capacity(patterns.len());
    for (i, pattern) in patterns.iter().enumerate() {
        let kind = match pattern.kind {
            VYRE_PATTERN_LITERAL => PatternKind::Literal,
            VYRE_PATTERN_REGEX => PatternKind::Regex,
            other => {
                return Err(Error::invalid(format!(
                    "pattern {i}: kind is {other}; use VYRE_PATTERN_LITERAL ({VYRE_PATTERN_LITERAL}) \
                     or VYRE_PATTERN_REGEX ({VYRE_PATTERN_REGEX})"
                )))
            }
        };
        if pattern.len > VYRE_RULE_SET_MAX_PATTERN_LEN as usize {
            return Err(Error::invalid(format!(
                "pattern {i} is {} bytes long; the limit is VYRE_RULE_SET_MAX_PATTERN_LEN ({VYRE_RULE_SET_MAX_PATTERN_LEN})",
                pattern.len
            )));
        }
        // SAFETY: the caller guarantees `len` readable bytes at a non-NULL `bytes`.
        let bytes = unsafe { input_slice(pattern.bytes, pattern.len, &format!("patterns[{i}].bytes")) }?;
        out.push(Pattern { bytes: bytes.to_vec(), kind });
    }
    Ok(out)
}

/// Fill `opts` with the defaults (and `struct_size`): no flags.
///
/// # Safety
/// `opts` must be NULL (an error) or point to a writable options struct.
#[no_mangle]
pub unsafe extern "C" fn vyre_rule_set_options_init(opts: *mut vyre_rule_set_options) -> vyre_status {
    guard("vyre_rule_set_options_init", || {
        output(opts, "opts")?.write(vyre_rule_set_options {
            struct_size: std::mem::size_of::<vyre_rule_set_options>() as u32,
            flags: 0,
        });
        Ok(())
    })
}

/// Compile `count` patterns into one rule set; pattern ids are their
/// indices. `opts` may be NULL for the defaults. `count` may be 0 (a rule
/// set that matches nothing; `patterns` may then be NULL). Matches are every
/// match end of every pattern, overlapping (docs/RULES.md).
///
/// Returns `VYRE_E_INVALID_ARGUMENT` for an unknown flag or pattern kind, an
/// empty or too long pattern, a regex that is not UTF-8, has a syntax error
/// or can match the empty string (the message names the pattern index and
/// the reason), or a set whose table would exceed
/// `VYRE_RULE_SET_MAX_STATES` / `VYRE_RULE_SET_MAX_TABLE_BYTES`.
/// On success `*out` receives the handle, to be released with
/// `vyre_rule_set_destroy`.
///
/// # Safety
/// `opts`, if not NULL, must point to `opts->struct_size` readable bytes;
/// `patterns` must hold `count` patterns whose `bytes` hold `len` bytes each.
#[no_mangle]
pub unsafe extern "C" fn vyre_rule_set_compile(
    opts: *const vyre_rule_set_options,
    patterns: *const vyre_pattern,
    count: usize,
    out: *mut *mut vyre_rule_set,
) -> vyre_status {
    guard("vyre_rule_set_compile", || {
        let out = output(out, "out")?;
        let flags = if opts.is_null() {
            0
        } else {
            // SAFETY: non-NULL, and the caller guarantees struct_size readable bytes.
            unsafe { read_sized(opts, "vyre_rule_set_options") }?.flags
        };
        if flags & !KNOWN_FLAGS != 0 {
            return Err(Error::invalid(format!(
                "flags has unknown bits {:#x}; the only flag is VYRE_RULE_CASE_INSENSITIVE",
                flags & !KNOWN_FLAGS
            )));
        }
        if count > VYRE_RULE_SET_MAX_PATTERNS as usize {
            return Err(Error::invalid(format!(
                "count is {count}; the limit is VYRE_RULE_SET_MAX_PATTERNS ({VYRE_RULE_SET_MAX_PATTERNS}); \
                 split the patterns into several rule sets"
            )));
        }
        // SAFETY: caller contract.
        let patterns = unsafe { input_slice(patterns, count, "patterns") }?;
        // SAFETY: caller contract.
        let patterns = unsafe { patterns_from_c(patterns) }?;
        let options = CompileOptions { ascii_case_insensitive: flags & VYRE_RULE_CASE_INSENSITIVE != 0 };
        out.write(boxed(RuleSet::compile(&patterns, &options)?));
        Ok(())
    })
}

/// Free a rule set. NULL is a no-op.
///
/// # Safety
/// `rs` must be NULL or a live handle, used by no other call now or later.
#[no_mangle]
pub unsafe extern "C" fn vyre_rule_set_destroy(rs: *mut vyre_rule_set) {
    // SAFETY: forwarded to the caller's contract.
    unsafe { super::destroy_handle("vyre_rule_set_destroy", rs) }
}

/// Serialize a rule set into `buf` (format in docs/RULES.md) so it can be
/// loaded with `vyre_rule_set_deserialize` without compiling again.
///
/// - `*needed`, if `needed` is not NULL, receives the serialized size, on
///   success and on `VYRE_E_BUFFER_TOO_SMALL` alike.
/// - Returns `VYRE_E_BUFFER_TOO_SMALL` (writing nothing to `buf`) when `len`
///   is smaller than that size: pass NULL and 0 to ask for the size.
///
/// # Safety
/// `rs` must be a live handle; `buf` must be NULL or point to `len` writable
/// bytes; `needed` must be NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn vyre_rule_set_serialize(
    rs: *const vyre_rule_set,
    buf: *mut u8,
    len: usize,
    needed: *mut usize,
) -> vyre_status {
    guard("vyre_rule_set_serialize", || {
        // SAFETY: caller contract.
        let rs = unsafe { handle(rs) }?;
        // SAFETY: caller contract: len writable bytes (NULL with len > 0 is rejected).
        let out = unsafe { output_slice(buf, len, "buf") }?;
        let bytes = rs.to_bytes();
        if let Some(needed) = optional_output(needed) {
            needed.write(bytes.len());
        }
        let Some(dst) = out.get_mut(..bytes.len()) else {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!("buf holds {len} bytes but the rule set needs {}; *needed says how many", bytes.len()),
            ));
        };
        dst.copy_from_slice(&bytes);
        Ok(())
    })
}

/// Load a rule set from `len` bytes written by `vyre_rule_set_serialize`.
/// Everything is validated first: a truncated, corrupt, foreign or forged
/// input (wrong magic, format version, sizes, checksum, or any out-of-range
/// state, class, offset or pattern id) returns `VYRE_E_PROTOCOL` with a
/// message saying what is wrong. On success `*out` receives a new handle.
///
/// # Safety
/// `bytes` must be NULL (only with `len` 0) or point to `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn vyre_rule_set_deserialize(
    bytes: *const u8,
    len: usize,
    out: *mut *mut vyre_rule_set,
) -> vyre_status {
    guard("vyre_rule_set_deserialize", || {
        let out = output(out, "out")?;
        // SAFETY: caller contract.
        let bytes = unsafe { input_slice(bytes, len, "bytes") }?;
        out.write(boxed(RuleSet::from_bytes(bytes)?));
        Ok(())
    })
}

/// Describe a rule set. Set `out->struct_size` to
/// `sizeof(vyre_rule_set_info)` first; 32, the size before `max_match_len`
/// was added, is accepted too and fills only those 32 bytes (and
/// `struct_size` says 32).
///
/// # Safety
/// `rs` must be a live handle; `out` must point to `out->struct_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn vyre_rule_set_get_info(rs: *const vyre_rule_set, out: *mut vyre_rule_set_info) -> vyre_status {
    guard("vyre_rule_set_get_info", || {
        // SAFETY: caller contract.
        let rs = unsafe { handle(rs) }?;
        // SAFETY: caller contract (only the leading struct_size is read).
        let declared = *unsafe { input(out.cast_const().cast::<u32>(), "out") }?;
        let size = if declared == INFO_SIZE_BEFORE_MAX_MATCH_LEN {
            declared
        } else {
            check_struct_size::<vyre_rule_set_info>(declared, "vyre_rule_set_info").map_err(|e| {
                Error::invalid(format!(
                    "{} (or {INFO_SIZE_BEFORE_MAX_MATCH_LEN}, its size before max_match_len)",
                    e.message
                ))
            })?
        };
        let info = vyre_rule_set_info {
            struct_size: size,
            flags: if rs.ascii_case_insensitive() { VYRE_RULE_CASE_INSENSITIVE } else { 0 },
            table_bytes: rs.table_bytes(),
            pattern_count: rs.pattern_count(),
            state_count: rs.state_count(),
            class_count: rs.class_count(),
            reserved: 0,
            max_match_len: rs.max_match_len().unwrap_or(VYRE_MATCH_LEN_UNBOUNDED),
        };
        // SAFETY: `out` is not NULL (read above); `info` is a local of
        // size_of::<vyre_rule_set_info>() >= `size` bytes, and the caller
        // guarantees `declared` >= `size` writable bytes at `out`, which
        // cannot overlap a local.
        unsafe {
            std::ptr::copy_nonoverlapping(std::ptr::from_ref(&info).cast::<u8>(), out.cast::<u8>(), size as usize);
        }
        Ok(())
    })
}

/// Scan `len` bytes with the rule set on the CPU, calling `cb(ctx,
/// pattern_id, end_offset)` for every match in the order of docs/RULES.md
/// (every match end of every pattern, overlapping; increasing `end_offset`,
/// then increasing `pattern_id`). This walks the same table the GPU does,
/// one thread, in the calling thread: it is the oracle GPU scans are
/// checked against.
///
/// - If `cb` returns non-zero, the scan stops at once (no further calls)
///   and the function still returns `VYRE_OK`: stopping is not an error.
/// - `cb` runs on the calling thread, before this function returns. It may
///   call other `vyre_*` functions, scan again, even with `rs`, but must not
///   call `vyre_rule_set_destroy` on `rs`.
/// - Returns `VYRE_E_NULL_POINTER` if `rs` or `cb` is NULL, or `data` is
///   NULL while `len` is not 0 (a NULL `data` with `len` 0 scans nothing and
///   calls nothing).
///
/// # Safety
/// `rs` must be a live handle; `data` must be NULL (only with `len` 0) or
/// point to `len` readable bytes that do not change during the call; `cb`
/// must be safe to call with `ctx`.
#[no_mangle]
pub unsafe extern "C" fn vyre_rule_set_scan_cpu(
    rs: *const vyre_rule_set,
    data: *const u8,
    len: usize,
    cb: vyre_match_callback,
    ctx: *mut c_void,
) -> vyre_status {
    guard("vyre_rule_set_scan_cpu", || {
        // SAFETY: caller contract.
        let rs = unsafe { handle(rs) }?;
        let Some(cb) = cb else {
            return Err(Error::new(ErrorKind::NullPointer, "`cb` is NULL; pass a function to receive the matches"));
        };
        // SAFETY: caller contract: len readable bytes (NULL with len > 0 is rejected).
        let data = unsafe { input_slice(data, len, "data") }?;
        let _ = rs.scan_until(data, |pattern_id, end| {
            // SAFETY: the caller guarantees cb may be called with ctx; the
            // offsets fit (usize is at most 64 bits).
            let verdict = unsafe { cb(ctx, pattern_id, end as u64) };
            if verdict == 0 {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        });
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{
        VYRE_E_BUFFER_TOO_SMALL, VYRE_E_INVALID_ARGUMENT, VYRE_E_NULL_POINTER, VYRE_E_PROTOCOL, VYRE_OK,
    };
    use std::ptr::{null, null_mut};

    fn pattern(bytes: &[u8], kind: u32) -> vyre_pattern {
        vyre_pattern { bytes: bytes.as_ptr(), len: bytes.len(), kind }
    }

    #[test]
    fn compile_serialize_deserialize_info() {
        let patterns = [pattern(b"ab", VYRE_PATTERN_LITERAL), pattern(b"[0-9]+x", VYRE_PATTERN_REGEX)];
        let opts = vyre_rule_set_options { struct_size: 8, flags: VYRE_RULE_CASE_INSENSITIVE };
        let mut rs = null_mut();
        // SAFETY: every pointer is valid for the call.
        unsafe {
            assert_eq!(vyre_rule_set_compile(&opts, patterns.as_ptr(), 2, &mut rs), VYRE_OK);
            let mut needed = 0;
            assert_eq!(vyre_rule_set_serialize(rs, null_mut(), 0, &mut needed), VYRE_E_BUFFER_TOO_SMALL);
            let mut buf = vec![0u8; needed];
            assert_eq!(vyre_rule_set_serialize(rs, buf.as_mut_ptr(), buf.len(), null_mut()), VYRE_OK);
            let mut back = null_mut();
            assert_eq!(vyre_rule_set_deserialize(buf.as_ptr(), buf.len(), &mut back), VYRE_OK);
            assert_eq!((*back).inner, (*rs).inner);
            assert_eq!((*back).inner.matches(b"AB 12X"), vec![(0, 2), (1, 6)]);
            let mut info = vyre_rule_set_info { struct_size: 40, ..Default::default() };
            assert_eq!(vyre_rule_set_get_info(back, &mut info), VYRE_OK);
            assert_eq!((info.pattern_count, info.flags), (2, VYRE_RULE_CASE_INSENSITIVE));
            assert_eq!(info.table_bytes, (*rs).inner.table_bytes());
            assert_eq!((info.struct_size, info.max_match_len), (40, VYRE_MATCH_LEN_UNBOUNDED));
            buf[40] ^= 1;
            assert_eq!(vyre_rule_set_deserialize(buf.as_ptr(), buf.len(), &mut back), VYRE_E_PROTOCOL);
            vyre_rule_set_destroy(back);
            vyre_rule_set_destroy(rs);
            vyre_rule_set_destroy(null_mut());
        }
    }

    #[test]
    fn bad_inputs_are_rejected() {
        let mut rs = null_mut();
        let bad_kind = [pattern(b"a", VYRE_PATTERN_LITERAL), pattern(b"b", 7)];
        let opts = vyre_rule_set_options { struct_size: 8, flags: 2 };
        // SAFETY: every pointer is valid or NULL for the call.
        unsafe {
            assert_eq!(vyre_rule_set_compile(null(), bad_kind.as_ptr(), 2, &mut rs), VYRE_E_INVALID_ARGUMENT);
            assert_eq!(vyre_rule_set_compile(&opts, null(), 0, &mut rs), VYRE_E_INVALID_ARGUMENT);
            assert_eq!(vyre_rule_set_compile(null(), null(), 1, &mut rs), VYRE_E_NULL_POINTER);
            assert_eq!(vyre_rule_set_compile(null(), null(), 0, null_mut()), VYRE_E_NULL_POINTER);
            assert!(rs.is_null());
            assert_eq!(vyre_rule_set_deserialize(null(), 0, &mut rs), VYRE_E_PROTOCOL);
            assert_eq!(vyre_rule_set_serialize(null(), null_mut(), 0, null_mut()), VYRE_E_NULL_POINTER);
            assert!(rs.is_null());
        }
    }

    #[test]
    fn info_accepts_the_size_before_max_match_len() {
        let patterns = [pattern(b"abc", VYRE_PATTERN_LITERAL), pattern(b"[0-9]{2}", VYRE_PATTERN_REGEX)];
        let mut rs = null_mut();
        // SAFETY: every pointer is valid for the call; `info` has 40 writable bytes.
        unsafe {
            assert_eq!(vyre_rule_set_compile(null(), patterns.as_ptr(), 2, &mut rs), VYRE_OK);
            let mut info = vyre_rule_set_info { struct_size: 40, ..Default::default() };
            assert_eq!(vyre_rule_set_get_info(rs, &mut info), VYRE_OK);
            assert_eq!(info.max_match_len, 3);
            let mut old = vyre_rule_set_info { struct_size: 32, max_match_len: 0x5A5A_5A5A, ..Default::default() };
            assert_eq!(vyre_rule_set_get_info(rs, &mut old), VYRE_OK);
            assert_eq!((old.struct_size, old.pattern_count, old.max_match_len), (32, 2, 0x5A5A_5A5A));
            for bad in [0, 8, 31, 33, 36, 39] {
                let mut info = vyre_rule_set_info { struct_size: bad, ..Default::default() };
                assert_eq!(vyre_rule_set_get_info(rs, &mut info), VYRE_E_INVALID_ARGUMENT, "struct_size {bad}");
                assert_eq!(info.pattern_count, 0);
            }
            vyre_rule_set_destroy(rs);
        }
    }

    unsafe extern "C" fn collect(ctx: *mut c_void, pattern_id: u32, end_offset: u64) -> c_int {
        // SAFETY: the tests pass a live (Vec, stop-after) pair as ctx.
        let (seen, stop_after) = unsafe { &mut *ctx.cast::<(Vec<(u32, usize)>, usize)>() };
        seen.push((pattern_id, end_offset as usize));
        c_int::from(seen.len() >= *stop_after)
    }

    #[test]
    fn scan_cpu_reports_what_scan_does_and_stops_early() {
        let patterns = [pattern(b"ab", VYRE_PATTERN_LITERAL), pattern(b"abc", VYRE_PATTERN_LITERAL), pattern(b"b", 0)];
        let haystack = b"xabcab";
        let mut rs = null_mut();
        // SAFETY: every pointer is valid (or NULL where tested) for the call;
        // ctx is the live pair `collect` expects.
        unsafe {
            assert_eq!(vyre_rule_set_compile(null(), patterns.as_ptr(), 3, &mut rs), VYRE_OK);
            let all = (*rs).inner.matches(haystack);
            assert_eq!(all, vec![(0, 3), (2, 3), (1, 4), (0, 6), (2, 6)]);
            for stop_after in 1..=all.len() + 1 {
                let mut ctx: (Vec<(u32, usize)>, usize) = (Vec::new(), stop_after);
                let ctx_ptr = std::ptr::from_mut(&mut ctx).cast::<c_void>();
                let status = vyre_rule_set_scan_cpu(rs, haystack.as_ptr(), haystack.len(), Some(collect), ctx_ptr);
                assert_eq!(status, VYRE_OK);
                assert_eq!(ctx.0, all[..stop_after.min(all.len())]);
            }
            let mut ctx: (Vec<(u32, usize)>, usize) = (Vec::new(), usize::MAX);
            let ctx_ptr = std::ptr::from_mut(&mut ctx).cast::<c_void>();
            assert_eq!(vyre_rule_set_scan_cpu(rs, null(), 0, Some(collect), ctx_ptr), VYRE_OK);
            assert_eq!(vyre_rule_set_scan_cpu(rs, null(), 3, Some(collect), ctx_ptr), VYRE_E_NULL_POINTER);
            assert_eq!(vyre_rule_set_scan_cpu(rs, haystack.as_ptr(), 6, None, ctx_ptr), VYRE_E_NULL_POINTER);
            assert_eq!(
                vyre_rule_set_scan_cpu(null(), haystack.as_ptr(), 6, Some(collect), ctx_ptr),
                VYRE_E_NULL_POINTER
            );
            assert!(ctx.0.is_empty());
            vyre_rule_set_destroy(rs);
        }
    }
}
