//! The conformance harness: drives any implementation as a subprocess over the protocol in
//! `spec/harness-protocol.md`.
//!
//! - [`adapter`]: the reference implementation behind that protocol (`threads-reference-adapter`).

pub mod adapter;
