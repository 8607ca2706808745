//! Hyperscan through its C API, loaded at run time with dlopen so that the
//! benchmark builds (and CI builds it) without Hyperscan installed: where
//! `libhs.so.5` is missing, the benchmark says so and runs the other
//! engines. Declarations written from hs_compile.h / hs_runtime.h of
//! Hyperscan 5.4 (Debian 12's libhyperscan5).
//!
//! Semantics used: block mode, flags 0 on every pattern: Hyperscan reports
//! every end offset of every pattern ("all matches", unordered), which is
//! vyre's "every match end of every pattern" for the patterns used here.

use std::ffi::{c_char, c_int, c_uint, c_ulonglong, c_void, CStr, CString};

const HS_SUCCESS: c_int = 0;
const HS_MODE_BLOCK: c_uint = 1;

#[repr(C)]
struct HsCompileError {
    message: *const c_char,
    expression: c_int,
}

type RawDatabase = c_void;
type Scratch = c_void;
type MatchHandler = unsafe extern "C" fn(c_uint, c_ulonglong, c_ulonglong, c_uint, *mut c_void) -> c_int;

type CompileMulti = unsafe extern "C" fn(
    *const *const c_char,
    *const c_uint,
    *const c_uint,
    c_uint,
    c_uint,
    *const c_void,
    *mut *mut RawDatabase,
    *mut *mut HsCompileError,
) -> c_int;
type CompileLitMulti = unsafe extern "C" fn(
    *const *const c_char,
    *const c_uint,
    *const c_uint,
    *const usize,
    c_uint,
    c_uint,
    *const c_void,
    *mut *mut RawDatabase,
    *mut *mut HsCompileError,
) -> c_int;
type FreeCompileError = unsafe extern "C" fn(*mut HsCompileError) -> c_int;
type FreeDatabase = unsafe extern "C" fn(*mut RawDatabase) -> c_int;
type AllocScratch = unsafe extern "C" fn(*const RawDatabase, *mut *mut Scratch) -> c_int;
type CloneScratch = unsafe extern "C" fn(*const Scratch, *mut *mut Scratch) -> c_int;
type FreeScratch = unsafe extern "C" fn(*mut Scratch) -> c_int;
type Scan = unsafe extern "C" fn(
    *const RawDatabase,
    *const c_char,
    c_uint,
    c_uint,
    *mut Scratch,
    MatchHandler,
    *mut c_void,
) -> c_int;
type Version = unsafe extern "C" fn() -> *const c_char;
type ValidPlatform = unsafe extern "C" fn() -> c_int;

/// The loaded library's entry points.
pub struct Hyperscan {
    compile_multi: CompileMulti,
    compile_lit_multi: CompileLitMulti,
    free_compile_error: FreeCompileError,
    free_database: FreeDatabase,
    alloc_scratch: AllocScratch,
    clone_scratch: CloneScratch,
    free_scratch: FreeScratch,
    scan: Scan,
    pub version: String,
}

// The entry points are plain C functions of a library that is never unloaded.
unsafe impl Send for Hyperscan {}
unsafe impl Sync for Hyperscan {}

impl Hyperscan {
    /// Loads `libhs.so.5` (or `libhs.so`) from the usual library path
    /// (`LD_LIBRARY_PATH` included); the error says why it could not.
    pub fn load() -> Result<Hyperscan, String> {
        let mut why = String::new();
        for name in [c"libhs.so.5", c"libhs.so"] {
            // SAFETY: dlopen with a NUL-terminated name; the handle is kept for the process.
            let handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
            if handle.is_null() {
                // SAFETY: dlerror returns NULL or a NUL-terminated message.
                let err = unsafe { libc::dlerror() };
                if !err.is_null() && why.is_empty() {
                    why = unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned();
                }
                continue;
            }
            let symbol = |name: &CStr| -> Result<*mut c_void, String> {
                // SAFETY: dlsym on a live handle with a NUL-terminated name.
                let p = unsafe { libc::dlsym(handle, name.as_ptr()) };
                if p.is_null() {
                    Err(format!("libhs has no symbol {}", name.to_string_lossy()))
                } else {
                    Ok(p)
                }
            };
            // SAFETY: each symbol is the C function whose prototype the type
            // alias declares (hs_compile.h, hs_runtime.h, hs_common.h).
            let hs = unsafe {
                Hyperscan {
                    compile_multi: std::mem::transmute::<*mut c_void, CompileMulti>(symbol(c"hs_compile_multi")?),
                    compile_lit_multi: std::mem::transmute::<*mut c_void, CompileLitMulti>(symbol(
                        c"hs_compile_lit_multi",
                    )?),
                    free_compile_error: std::mem::transmute::<*mut c_void, FreeCompileError>(symbol(
                        c"hs_free_compile_error",
                    )?),
                    free_database: std::mem::transmute::<*mut c_void, FreeDatabase>(symbol(c"hs_free_database")?),
                    alloc_scratch: std::mem::transmute::<*mut c_void, AllocScratch>(symbol(c"hs_alloc_scratch")?),
                    clone_scratch: std::mem::transmute::<*mut c_void, CloneScratch>(symbol(c"hs_clone_scratch")?),
                    free_scratch: std::mem::transmute::<*mut c_void, FreeScratch>(symbol(c"hs_free_scratch")?),
                    scan: std::mem::transmute::<*mut c_void, Scan>(symbol(c"hs_scan")?),
                    version: {
                        let f = std::mem::transmute::<*mut c_void, Version>(symbol(c"hs_version")?);
                        CStr::from_ptr(f()).to_string_lossy().into_owned()
                    },
                }
            };
            // SAFETY: hs_valid_platform takes nothing and returns a status.
            let valid = unsafe { std::mem::transmute::<*mut c_void, ValidPlatform>(symbol(c"hs_valid_platform")?)() };
            if valid != HS_SUCCESS {
                return Err(format!("Hyperscan {} does not support this CPU (hs_valid_platform: {valid})", hs.version));
            }
            return Ok(hs);
        }
        Err(format!(
            "libhs.so.5 not found ({why}); install Debian's libhyperscan5 or put libhs.so.5 on LD_LIBRARY_PATH"
        ))
    }

    fn compile_error(&self, what: &str, status: c_int, error: *mut HsCompileError) -> String {
        if error.is_null() {
            return format!("{what} failed with status {status}");
        }
        // SAFETY: a non-NULL error from a compile call is a valid hs_compile_error_t until freed.
        let message = unsafe {
            let e = &*error;
            let text = if e.message.is_null() { "?".into() } else { CStr::from_ptr(e.message).to_string_lossy() };
            format!("{what} failed: pattern {}: {text}", e.expression)
        };
        unsafe { (self.free_compile_error)(error) };
        message
    }

    /// A block-mode database of exact byte strings (`hs_compile_lit_multi`),
    /// pattern id = index.
    pub fn compile_literals<'a>(&'a self, literals: &[Vec<u8>]) -> Result<HsDatabase<'a>, String> {
        let ptrs: Vec<*const c_char> = literals.iter().map(|l| l.as_ptr().cast()).collect();
        let lens: Vec<usize> = literals.iter().map(Vec::len).collect();
        let flags = vec![0 as c_uint; literals.len()];
        let ids: Vec<c_uint> = (0..literals.len() as c_uint).collect();
        let (mut db, mut error) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: every array has `literals.len()` elements that outlive the call.
        let status = unsafe {
            (self.compile_lit_multi)(
                ptrs.as_ptr(),
                flags.as_ptr(),
                ids.as_ptr(),
                lens.as_ptr(),
                literals.len() as c_uint,
                HS_MODE_BLOCK,
                std::ptr::null(),
                &mut db,
                &mut error,
            )
        };
        if status != HS_SUCCESS {
            return Err(self.compile_error("hs_compile_lit_multi", status, error));
        }
        self.finish(db)
    }

    /// A block-mode database of regexes (`hs_compile_multi`, flags 0),
    /// pattern id = index.
    pub fn compile_regexes<'a>(&'a self, regexes: &[&str]) -> Result<HsDatabase<'a>, String> {
        let texts: Vec<CString> = regexes
            .iter()
            .map(|r| CString::new(*r).map_err(|_| format!("regex {r:?} contains NUL")))
            .collect::<Result<_, _>>()?;
        let ptrs: Vec<*const c_char> = texts.iter().map(|t| t.as_ptr()).collect();
        let flags = vec![0 as c_uint; regexes.len()];
        let ids: Vec<c_uint> = (0..regexes.len() as c_uint).collect();
        let (mut db, mut error) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: every array has `regexes.len()` elements that outlive the call.
        let status = unsafe {
            (self.compile_multi)(
                ptrs.as_ptr(),
                flags.as_ptr(),
                ids.as_ptr(),
                regexes.len() as c_uint,
                HS_MODE_BLOCK,
                std::ptr::null(),
                &mut db,
                &mut error,
            )
        };
        if status != HS_SUCCESS {
            return Err(self.compile_error("hs_compile_multi", status, error));
        }
        self.finish(db)
    }

    fn finish<'a>(&'a self, db: *mut RawDatabase) -> Result<HsDatabase<'a>, String> {
        let mut scratch = std::ptr::null_mut();
        // SAFETY: db is a live database; scratch receives a new allocation.
        let status = unsafe { (self.alloc_scratch)(db, &mut scratch) };
        if status != HS_SUCCESS {
            unsafe { (self.free_database)(db) };
            return Err(format!("hs_alloc_scratch failed with status {status}"));
        }
        Ok(HsDatabase { hs: self, db, prototype: ScratchSpace { hs: self, ptr: scratch } })
    }
}

/// A compiled database and the scratch prototype every thread clones.
pub struct HsDatabase<'a> {
    hs: &'a Hyperscan,
    db: *mut RawDatabase,
    prototype: ScratchSpace<'a>,
}

// A database is immutable after compilation and may be scanned from many
// threads at once, each with its own scratch (Hyperscan's documented rule).
unsafe impl Send for HsDatabase<'_> {}
unsafe impl Sync for HsDatabase<'_> {}

impl Drop for HsDatabase<'_> {
    fn drop(&mut self) {
        // SAFETY: the database was made by a compile call and is freed once.
        unsafe { (self.hs.free_database)(self.db) };
    }
}

/// One thread's scratch space (`hs_clone_scratch` of the prototype).
pub struct ScratchSpace<'a> {
    hs: &'a Hyperscan,
    ptr: *mut Scratch,
}

// Scratch is used by one thread at a time; moving it between threads is fine.
unsafe impl Send for ScratchSpace<'_> {}

impl Drop for ScratchSpace<'_> {
    fn drop(&mut self) {
        // SAFETY: allocated by hs_alloc_scratch / hs_clone_scratch, freed once.
        unsafe { (self.hs.free_scratch)(self.ptr) };
    }
}

unsafe extern "C" fn trampoline<F: FnMut(u32, usize)>(
    id: c_uint,
    _from: c_ulonglong,
    to: c_ulonglong,
    _flags: c_uint,
    context: *mut c_void,
) -> c_int {
    // SAFETY: `context` is the `&mut F` that `scan` passed for this call.
    let on_match = unsafe { &mut *context.cast::<F>() };
    on_match(id, to as usize);
    0
}

impl<'a> HsDatabase<'a> {
    pub fn scratch(&self) -> ScratchSpace<'a> {
        let mut ptr = std::ptr::null_mut();
        // SAFETY: the prototype is a live scratch; ptr receives a clone.
        let status = unsafe { (self.hs.clone_scratch)(self.prototype.ptr, &mut ptr) };
        assert_eq!(status, HS_SUCCESS, "hs_clone_scratch");
        ScratchSpace { hs: self.hs, ptr }
    }

    /// Every `(pattern id, end offset)` in `data` (block mode, < 4 GiB).
    pub fn scan<F: FnMut(u32, usize)>(&self, scratch: &mut ScratchSpace<'a>, data: &[u8], mut on_match: F) {
        let len = c_uint::try_from(data.len()).expect("hs_scan takes less than 4 GiB");
        // SAFETY: data and the callback context outlive the call; the scratch
        // belongs to this thread and was made for this database.
        let status = unsafe {
            (self.hs.scan)(
                self.db,
                data.as_ptr().cast(),
                len,
                0,
                scratch.ptr,
                trampoline::<F>,
                (&mut on_match as *mut F).cast(),
            )
        };
        assert_eq!(status, HS_SUCCESS, "hs_scan");
    }
}
