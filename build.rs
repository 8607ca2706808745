//! Sets the shared library's SONAME to `libvyre.so.<major>` so C programs
//! link against the ABI version, not the file name.
fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libvyre.so.{major}");
    println!("cargo:rerun-if-changed=build.rs");
}
