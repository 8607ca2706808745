//! Status strings and the thread-local last-error message.

use crate::error::{vyre_status, Error, ErrorKind, VYRE_OK};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Record `error` as this thread's last error, prefixed by the function.
pub(crate) fn set_last_error(function: &str, error: &Error) {
    let text = format!("{function}: {}", error.message);
    // Interior NULs would cut the C string short; replace them.
    let message = CString::new(text.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|last| *last.borrow_mut() = message);
}

fn describe(code: vyre_status) -> &'static CStr {
    match code {
        VYRE_OK => c"success",
        -999..=-1 => c"operating-system error (the code is -errno)",
        _ => ErrorKind::from_code(code).map_or(c"unknown status code", ErrorKind::describe),
    }
}

/// A static, NUL-terminated description of a status code. Never NULL,
/// also for codes libvyre does not define. The string must not be freed.
#[no_mangle]
pub extern "C" fn vyre_status_str(code: vyre_status) -> *const c_char {
    describe(code).as_ptr()
}

/// Copy this thread's last error message (what failed and how to fix it)
/// into `buf` as a NUL-terminated string.
///
/// The message belongs to the most recent call on this thread that returned
/// an error; successful calls leave it unchanged. It is empty ("") if no call
/// on this thread has failed.
///
/// - `buf` may be NULL only when `len` is 0.
/// - `needed`, if not NULL, receives the buffer size the whole message
///   needs, terminating NUL included.
/// - Returns `VYRE_OK` if the whole message fit, `VYRE_E_BUFFER_TOO_SMALL`
///   if it was cut (the copied prefix is still NUL-terminated when `len`
///   is at least 1), `VYRE_E_NULL_POINTER` for a NULL `buf` with `len > 0`.
///
/// This function never changes the last error message itself.
///
/// # Safety
/// `buf` must be NULL or point to `len` writable bytes; `needed` must be
/// NULL or point to a writable `size_t`.
#[no_mangle]
pub unsafe extern "C" fn vyre_last_error_message(buf: *mut c_char, len: usize, needed: *mut usize) -> vyre_status {
    let copied = std::panic::catch_unwind(|| {
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let bytes = last.as_bytes_with_nul();
            if let Some(needed) = super::optional_output(needed) {
                needed.write(bytes.len());
            }
            if len == 0 {
                return if bytes.len() <= 1 { VYRE_OK } else { ErrorKind::BufferTooSmall.code() };
            }
            if buf.is_null() {
                return ErrorKind::NullPointer.code();
            }
            let take = (bytes.len() - 1).min(len - 1);
            // SAFETY: buf is non-NULL and the caller guarantees `len` writable
            // bytes; take + 1 <= len.
            unsafe {
                std::ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), buf, take);
                buf.add(take).write(0);
            }
            if take + 1 < bytes.len() {
                ErrorKind::BufferTooSmall.code()
            } else {
                VYRE_OK
            }
        })
    });
    copied.unwrap_or(ErrorKind::Panic.code())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(code: vyre_status) -> String {
        // SAFETY: vyre_status_str always returns a static NUL-terminated string.
        unsafe { CStr::from_ptr(vyre_status_str(code)) }.to_string_lossy().into_owned()
    }

    #[test]
    fn every_code_has_a_distinct_static_description() {
        let mut seen: Vec<String> = ErrorKind::ALL.iter().map(|k| text(k.code())).collect();
        seen.push(text(VYRE_OK));
        let count = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), count);
        assert_eq!(text(-2), "operating-system error (the code is -errno)");
        assert_eq!(text(12345), "unknown status code");
        assert_eq!(text(i32::MIN), "unknown status code");
    }

    fn copy_message(buf: *mut c_char, len: usize, needed: *mut usize) -> vyre_status {
        // SAFETY: every caller passes a buffer of `len` bytes or NULL, and a
        // valid or NULL `needed`.
        unsafe { vyre_last_error_message(buf, len, needed) }
    }

    #[test]
    fn last_error_is_copied_truncated_and_sized() {
        set_last_error("vyre_test", &Error::invalid("bad\0thing"));
        let mut needed = 0usize;
        assert_eq!(copy_message(std::ptr::null_mut(), 0, &mut needed), ErrorKind::BufferTooSmall.code());
        let expected = "vyre_test: bad thing";
        assert_eq!(needed, expected.len() + 1);
        let mut buf = vec![0 as c_char; needed];
        assert_eq!(copy_message(buf.as_mut_ptr(), buf.len(), std::ptr::null_mut()), VYRE_OK);
        // SAFETY: the function NUL-terminated buf.
        assert_eq!(unsafe { CStr::from_ptr(buf.as_ptr()) }.to_str().unwrap(), expected);
        let mut small = [0 as c_char; 5];
        assert_eq!(copy_message(small.as_mut_ptr(), 5, std::ptr::null_mut()), ErrorKind::BufferTooSmall.code());
        // SAFETY: as above.
        assert_eq!(unsafe { CStr::from_ptr(small.as_ptr()) }.to_str().unwrap(), "vyre");
        assert_eq!(copy_message(std::ptr::null_mut(), 3, std::ptr::null_mut()), ErrorKind::NullPointer.code());
    }
}
