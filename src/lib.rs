//! libvyre: a resident GPU work engine with a C ABI.
//!
//! Layers, bottom up: `protocol` holds the buffer layouts and codecs (the
//! single source of truth for every word and number), `backend` the
//! executors that run slots, `megakernel` the host side that publishes and
//! waits, `rules` the pattern sets compiled into DFA tables (docs/RULES.md),
//! `pump` the io_uring reader that feeds files into the engine (docs/PUMP.md),
//! `ffi` the C ABI declared in `include/vyre.h`. docs/PROTOCOL.md
//! describes the buffers word by word.

pub mod backend;
pub mod engine;
pub mod error;
pub mod ffi;
pub mod megakernel;
pub mod protocol;
pub mod pump;
pub mod rules;
mod sync;
