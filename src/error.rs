//! Status codes and the crate's error type.
//!
//! Codes are stable: C programs compare against them. Negative values in
//! `-999..=-1` are reserved for operating-system errors reported as `-errno`
//! (Linux errno values stay far below 999), so libvyre's own codes start at
//! -1001.

use std::ffi::CStr;
use std::fmt;

/// A status code returned by every fallible C entry point: 0 is success,
/// negative values are errors.
#[allow(non_camel_case_types)]
pub type vyre_status = i32;

/// Success.
pub const VYRE_OK: vyre_status = 0;
/// An argument is malformed: a size, flag, enum value or option is invalid.
pub const VYRE_E_INVALID_ARGUMENT: vyre_status = -1001;
/// A required pointer argument is NULL.
pub const VYRE_E_NULL_POINTER: vyre_status = -1002;
/// An index (slot, tenant, observable, record) is outside its range.
pub const VYRE_E_OUT_OF_RANGE: vyre_status = -1003;
/// The ring (or another bounded queue) is full; retry after work completes.
pub const VYRE_E_QUEUE_FULL: vyre_status = -1004;
/// The wait ended before the work completed; the work is still in flight.
pub const VYRE_E_TIMEOUT: vyre_status = -1005;
/// The handle is shut down and accepts no new work.
pub const VYRE_E_SHUTDOWN: vyre_status = -1006;
/// The backend or build lacks the requested capability.
pub const VYRE_E_UNSUPPORTED: vyre_status = -1007;
/// The slot ran and faulted (unknown opcode, tenant violation, bad args).
pub const VYRE_E_SLOT_FAULT: vyre_status = -1008;
/// The ticket's slot was reused `VYRE_TICKET_HISTORY` times since; its outcome is no longer known.
pub const VYRE_E_TICKET_EXPIRED: vyre_status = -1009;
/// The output buffer is too small; the call says how much is needed.
pub const VYRE_E_BUFFER_TOO_SMALL: vyre_status = -1010;
/// The device was lost; the handle accepts no more work.
pub const VYRE_E_DEVICE_LOST: vyre_status = -1011;
/// Memory could not be allocated.
pub const VYRE_E_OUT_OF_MEMORY: vyre_status = -1012;
/// The work was cancelled by shutdown or destroy before it ran.
pub const VYRE_E_CANCELLED: vyre_status = -1013;
/// A bug in libvyre panicked; the call was abandoned (please report it).
pub const VYRE_E_PANIC: vyre_status = -1014;
/// An internal invariant failed (please report it).
pub const VYRE_E_INTERNAL: vyre_status = -1015;
/// A buffer's contents violate the protocol (corrupt or foreign data).
pub const VYRE_E_PROTOCOL: vyre_status = -1016;
/// No object has that id (an engine job naming an unknown rule set).
pub const VYRE_E_NOT_FOUND: vyre_status = -1017;
/// A job had more matches than the engine stores per job: the completion
/// carries the true count and as many hits as were stored.
pub const VYRE_E_HITS_TRUNCATED: vyre_status = -1018;

/// The kind of an [`Error`], one per status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum ErrorKind {
    InvalidArgument = VYRE_E_INVALID_ARGUMENT,
    NullPointer = VYRE_E_NULL_POINTER,
    OutOfRange = VYRE_E_OUT_OF_RANGE,
    QueueFull = VYRE_E_QUEUE_FULL,
    Timeout = VYRE_E_TIMEOUT,
    Shutdown = VYRE_E_SHUTDOWN,
    Unsupported = VYRE_E_UNSUPPORTED,
    SlotFault = VYRE_E_SLOT_FAULT,
    TicketExpired = VYRE_E_TICKET_EXPIRED,
    BufferTooSmall = VYRE_E_BUFFER_TOO_SMALL,
    DeviceLost = VYRE_E_DEVICE_LOST,
    OutOfMemory = VYRE_E_OUT_OF_MEMORY,
    Cancelled = VYRE_E_CANCELLED,
    Panic = VYRE_E_PANIC,
    Internal = VYRE_E_INTERNAL,
    Protocol = VYRE_E_PROTOCOL,
    NotFound = VYRE_E_NOT_FOUND,
    HitsTruncated = VYRE_E_HITS_TRUNCATED,
}

impl ErrorKind {
    /// Every kind, for exhaustive tests and tables.
    pub const ALL: [ErrorKind; 18] = [
        ErrorKind::InvalidArgument,
        ErrorKind::NullPointer,
        ErrorKind::OutOfRange,
        ErrorKind::QueueFull,
        ErrorKind::Timeout,
        ErrorKind::Shutdown,
        ErrorKind::Unsupported,
        ErrorKind::SlotFault,
        ErrorKind::TicketExpired,
        ErrorKind::BufferTooSmall,
        ErrorKind::DeviceLost,
        ErrorKind::OutOfMemory,
        ErrorKind::Cancelled,
        ErrorKind::Panic,
        ErrorKind::Internal,
        ErrorKind::Protocol,
        ErrorKind::NotFound,
        ErrorKind::HitsTruncated,
    ];

    /// The C status code.
    pub fn code(self) -> vyre_status {
        self as vyre_status
    }

    /// A short static description, as `vyre_status_str` returns it.
    pub fn describe(self) -> &'static CStr {
        match self {
            ErrorKind::InvalidArgument => c"invalid argument",
            ErrorKind::NullPointer => c"required pointer is NULL",
            ErrorKind::OutOfRange => c"index out of range",
            ErrorKind::QueueFull => c"queue full (retry after work completes)",
            ErrorKind::Timeout => c"timed out (work still in flight)",
            ErrorKind::Shutdown => c"handle is shut down",
            ErrorKind::Unsupported => c"unsupported by this backend or build",
            ErrorKind::SlotFault => c"slot faulted",
            ErrorKind::TicketExpired => c"ticket expired (slot reused since)",
            ErrorKind::BufferTooSmall => c"output buffer too small",
            ErrorKind::DeviceLost => c"device lost",
            ErrorKind::OutOfMemory => c"out of memory",
            ErrorKind::Cancelled => c"cancelled before it ran",
            ErrorKind::Panic => c"internal panic (bug in libvyre)",
            ErrorKind::Internal => c"internal error (bug in libvyre)",
            ErrorKind::Protocol => c"protocol violation in buffer contents",
            ErrorKind::NotFound => c"no object with that id",
            ErrorKind::HitsTruncated => c"more matches than stored per job (true count reported)",
        }
    }

    /// The kind of a status code, if it is one of libvyre's own.
    pub fn from_code(code: vyre_status) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|kind| kind.code() == code)
    }
}

/// An error: a kind (the C status code) and a message that says what failed
/// and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub fn out_of_range(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::OutOfRange, message)
    }

    pub fn protocol(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Protocol, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.describe().to_string_lossy(), self.message)
    }
}

impl std::error::Error for Error {}

/// Result with the crate's error.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_negative_and_outside_the_errno_range() {
        let mut codes: Vec<i32> = ErrorKind::ALL.iter().map(|k| k.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
        assert!(codes.iter().all(|&c| c <= -1001), "{codes:?} overlap -errno");
    }

    #[test]
    fn from_code_round_trips_and_rejects_unknown_codes() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_code(kind.code()), Some(kind));
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(-2), None);
        assert_eq!(ErrorKind::from_code(-999_999), None);
    }
}
