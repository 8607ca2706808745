//! Sources for device reads: files an IO_READ lane may ask the pump to read
//! into the arena (docs/PUMP.md "Device reads").

use super::pump::{file_path, handle, vyre_pump};
use super::{guard, output};
use crate::error::vyre_status;

/// Register the open, blocking descriptor `fd` as a source of device reads
/// into the arena window `[arena_offset, arena_offset + arena_bytes)`, and
/// write its id (what an IO_READ names; ids are unique over the engine's
/// life, so a request left from a destroyed pump is answered `EBADF`) to
/// `*out_source`. The window
/// must be non-empty, inside the engine's arena and outside the pump's
/// share (`VYRE_E_OUT_OF_RANGE`: create the pump with a smaller share). The
/// descriptor stays yours: keep it open until `vyre_pump_destroy`.
/// `VYRE_E_INVALID_ARGUMENT`: a negative, closed or `O_NONBLOCK` descriptor;
/// `VYRE_E_OUT_OF_MEMORY`: `VYRE_PUMP_MAX_IO_SOURCES` already registered;
/// `VYRE_E_UNSUPPORTED`: a pump feeding a bare megakernel (it has no IO queue).
///
/// # Safety
/// `pump` must be a live handle; `out_source` writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_register_fd(
    pump: *mut vyre_pump,
    fd: i32,
    arena_offset: u64,
    arena_bytes: u64,
    out_source: *mut u32,
) -> vyre_status {
    guard("vyre_pump_register_fd", || {
        // SAFETY: caller contract.
        let mut pump = unsafe { handle(pump) }?;
        let out = output(out_source, "out_source")?;
        out.write(pump.register_fd(fd, arena_offset, arena_bytes)?);
        Ok(())
    })
}

/// As `vyre_pump_register_fd`, for the file at `path`, which the pump opens
/// now (`VYRE_E_NOT_FOUND` if it does not exist, `VYRE_E_INVALID_ARGUMENT`
/// if it cannot be opened) and closes at `vyre_pump_destroy`.
///
/// # Safety
/// `pump` must be a live handle; `path` a NUL-terminated string;
/// `out_source` writable.
#[no_mangle]
pub unsafe extern "C" fn vyre_pump_register_path(
    pump: *mut vyre_pump,
    path: *const std::ffi::c_char,
    arena_offset: u64,
    arena_bytes: u64,
    out_source: *mut u32,
) -> vyre_status {
    guard("vyre_pump_register_path", || {
        // SAFETY: caller contract.
        let mut pump = unsafe { handle(pump) }?;
        let out = output(out_source, "out_source")?;
        // SAFETY: caller contract.
        let path = unsafe { file_path(path) }?;
        out.write(pump.register_path(path, arena_offset, arena_bytes)?);
        Ok(())
    })
}
