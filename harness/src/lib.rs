//! The conformance harness: drives any implementation as a subprocess over the protocol in
//! `spec/harness-protocol.md`.
//!
//! Not built yet: this crate is filled by the harness issue. It deliberately exports nothing, so
//! nothing can mistake it for a working harness.
