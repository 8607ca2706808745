//! Library version: macros for compile time, functions for run time.

use std::ffi::c_char;

/// Major version of the headers; changes break the ABI (and the SONAME).
pub const VYRE_VERSION_MAJOR: u32 = 0;
/// Minor version of the headers; changes add to the ABI.
pub const VYRE_VERSION_MINOR: u32 = 1;
/// Patch version of the headers.
pub const VYRE_VERSION_PATCH: u32 = 0;

/// Major version of the loaded library.
#[no_mangle]
pub extern "C" fn vyre_version_major() -> u32 {
    VYRE_VERSION_MAJOR
}

/// Minor version of the loaded library.
#[no_mangle]
pub extern "C" fn vyre_version_minor() -> u32 {
    VYRE_VERSION_MINOR
}

/// Patch version of the loaded library.
#[no_mangle]
pub extern "C" fn vyre_version_patch() -> u32 {
    VYRE_VERSION_PATCH
}

/// "MAJOR.MINOR.PATCH" of the loaded library; static, never NULL, not to be freed.
#[no_mangle]
pub extern "C" fn vyre_version_string() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_constants_match_the_cargo_version() {
        assert_eq!(VYRE_VERSION_MAJOR.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert_eq!(VYRE_VERSION_MINOR.to_string(), env!("CARGO_PKG_VERSION_MINOR"));
        assert_eq!(VYRE_VERSION_PATCH.to_string(), env!("CARGO_PKG_VERSION_PATCH"));
        // SAFETY: vyre_version_string returns a static NUL-terminated string.
        let text = unsafe { std::ffi::CStr::from_ptr(vyre_version_string()) };
        assert_eq!(
            text.to_str().unwrap(),
            format!("{}.{}.{}", vyre_version_major(), vyre_version_minor(), vyre_version_patch())
        );
    }
}
