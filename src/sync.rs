//! The atomics the protocol codecs (src/protocol/) are written against. The
//! loom models (tests/loom_*.rs) compile src/protocol/ into their own crate
//! next to a `sync` module that names loom's atomics instead, so what they
//! model-check is this very source, not a copy of it.
pub(crate) use std::sync::atomic;
