//! The conformance harness: drives any implementation as a subprocess over the protocol in
//! `spec/harness-protocol.md`.
//!
//! - [`adapter`]: the reference implementation behind that protocol (`threads-reference-adapter`).
//! - [`runner`]: the conformance runner behind `threads-conform run`.

pub mod adapter;
pub mod runner;
