//! The C ABI: one file per C object. Every export runs its body through
//! [`guard`], which catches panics, turns errors into status codes and
//! records a message for `vyre_last_error_message`. Pointer and size checks
//! live here once, in [`input`], [`input_slice`] and [`output`].

pub mod device;
pub mod engine;
pub mod engine_io;
pub mod megakernel;
pub mod pump;
pub mod pump_io;
pub mod pump_megakernel;
pub mod rules;
pub mod status;
pub mod version;

use crate::error::{vyre_status, Error, ErrorKind, Result, VYRE_OK};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Run an export's body: `Ok` → `VYRE_OK`; `Err` → its code, with the
/// message recorded under the function's name; a panic → `VYRE_E_PANIC`.
pub(crate) fn guard(function: &str, body: impl FnOnce() -> Result<()>) -> vyre_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => VYRE_OK,
        Ok(Err(error)) => {
            status::set_last_error(function, &error);
            error.kind.code()
        }
        Err(payload) => {
            let error = Error::new(
                ErrorKind::Panic,
                format!(
                    "{} (a bug in libvyre; the call was abandoned, please report it)",
                    panic_message(payload.as_ref())
                ),
            );
            status::set_last_error(function, &error);
            error.kind.code()
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic with a non-string payload")
}

fn null(what: &str) -> Error {
    Error::new(ErrorKind::NullPointer, format!("`{what}` is NULL; pass a valid pointer"))
}

/// Free a handle made by `Box::into_raw`, inside the panic guard; NULL is a
/// no-op. Shared by every `vyre_*_destroy`.
///
/// # Safety
/// `handle` must be NULL or come from `Box::into_raw` and not be used by any
/// other call now or later.
pub(crate) unsafe fn destroy_handle<T>(function: &str, handle: *mut T) {
    if handle.is_null() {
        return;
    }
    guard(function, || {
        // SAFETY: the caller passes a live handle from Box::into_raw, used by no one else now.
        drop(unsafe { Box::from_raw(handle) });
        Ok(())
    });
}

/// Borrow a required input.
///
/// # Safety
/// A non-NULL `ptr` must point to a valid, initialised `T` that stays alive
/// and unmodified for `'a` (the duration of the C call).
pub(crate) unsafe fn input<'a, T>(ptr: *const T, what: &str) -> Result<&'a T> {
    // SAFETY: the caller guarantees a non-NULL ptr is valid; as_ref maps NULL to None.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(what))
}

/// Borrow `len` elements; NULL is accepted only when `len` is 0.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` valid, initialised `T`s that stay
/// alive and unmodified for `'a`.
pub(crate) unsafe fn input_slice<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::new(
            ErrorKind::NullPointer,
            format!("`{what}` is NULL but its length is {len}; pass an array or a length of 0"),
        ));
    }
    check_len::<T>(len, what)?;
    // SAFETY: ptr is non-NULL and the caller guarantees len valid elements;
    // check_len proved the byte size fits isize.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Borrow `len` writable elements; NULL is accepted only when `len` is 0.
///
/// # Safety
/// A non-NULL `ptr` must point to `len` writable `T`s, unaliased for `'a`.
pub(crate) unsafe fn output_slice<'a, T>(ptr: *mut T, len: usize, what: &str) -> Result<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Error::new(
            ErrorKind::NullPointer,
            format!("`{what}` is NULL but its length is {len}; pass an array or a length of 0"),
        ));
    }
    check_len::<T>(len, what)?;
    // SAFETY: as in input_slice, plus the caller guarantees exclusive access.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

fn check_len<T>(len: usize, what: &str) -> Result<()> {
    if len.checked_mul(std::mem::size_of::<T>().max(1)).map_or(true, |bytes| bytes > isize::MAX as usize) {
        return Err(Error::invalid(format!("`{what}` length {len} is impossibly large")));
    }
    Ok(())
}

/// A required output pointer, checked before any work so outputs are
/// written only on success.
pub(crate) struct Output<T>(*mut T);

impl<T> Output<T> {
    /// Write the result.
    pub(crate) fn write(self, value: T) {
        // SAFETY: `output` checked the pointer is non-NULL, and the C caller
        // guarantees it points to writable memory for a T.
        unsafe { self.0.write(value) }
    }
}

/// Check a required output pointer.
pub(crate) fn output<T>(ptr: *mut T, what: &str) -> Result<Output<T>> {
    if ptr.is_null() {
        return Err(null(what));
    }
    Ok(Output(ptr))
}

/// An optional output pointer: NULL means "not wanted".
pub(crate) fn optional_output<T>(ptr: *mut T) -> Option<Output<T>> {
    (!ptr.is_null()).then_some(Output(ptr))
}

/// Report what a poll, wait or drain returned: how many entries and hits
/// (0 and 0 when it failed) into `out_count` and, if wanted, `out_hits`.
pub(crate) fn write_counts(
    got: Result<(usize, usize)>,
    out_count: Output<usize>,
    out_hits: Option<Output<usize>>,
) -> Result<()> {
    let (count, stored) = got.as_ref().map_or((0, 0), |&got| got);
    out_count.write(count);
    if let Some(out) = out_hits {
        out.write(stored);
    }
    got.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{VYRE_E_INVALID_ARGUMENT, VYRE_E_PANIC};

    fn last_error() -> String {
        let mut buf = vec![0 as std::ffi::c_char; 512];
        // SAFETY: buf holds buf.len() writable bytes; `needed` is not wanted.
        unsafe { status::vyre_last_error_message(buf.as_mut_ptr(), buf.len(), std::ptr::null_mut()) };
        // SAFETY: vyre_last_error_message NUL-terminated buf.
        unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
    }

    #[test]
    fn guard_maps_errors_and_panics_to_codes_and_messages() {
        assert_eq!(guard("vyre_ok", || Ok(())), VYRE_OK);
        assert_eq!(guard("vyre_bad", || Err(Error::invalid("fix it"))), VYRE_E_INVALID_ARGUMENT);
        assert_eq!(last_error(), "vyre_bad: fix it");
        assert_eq!(guard("vyre_boom", || panic!("kaboom")), VYRE_E_PANIC);
        assert!(last_error().starts_with("vyre_boom: kaboom"), "{}", last_error());
    }

    #[test]
    fn slices_accept_null_only_when_empty() {
        // SAFETY: NULL with length 0 is the documented empty case.
        assert!(unsafe { input_slice::<u32>(std::ptr::null(), 0, "a") }.unwrap().is_empty());
        // SAFETY: NULL is rejected before any access.
        let err = unsafe { input_slice::<u32>(std::ptr::null(), 3, "a") }.unwrap_err();
        assert_eq!(err.kind, ErrorKind::NullPointer);
        let data = [1u32];
        // SAFETY: the length is rejected before any access.
        let err = unsafe { input_slice(data.as_ptr(), usize::MAX, "a") }.unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidArgument);
        assert!(output::<u32>(std::ptr::null_mut(), "o").is_err());
    }
}
