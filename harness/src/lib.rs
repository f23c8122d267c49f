//! The conformance harness: drives any implementation as a subprocess over the protocol in
//! `spec/harness-protocol.md`.
//!
//! - [`adapter`]: the reference implementation behind that protocol (`threads-reference-adapter`).
//! - [`catalogue`]: the reference with one bug (`--fault NAME`), to prove the suite catches it.
//! - [`json`]: one protocol line read as JSON by RFC 8259's grammar, lone surrogates included.
//! - [`protocol`]: the protocol's messages as serde types, shared by both and by the simulator.
//! - [`runner`]: the conformance runner behind `threads-conform run`.
//! - [`schema`]: the JSON Schemas of `harness/schemas/`, applied to requests, replies and results.

pub mod adapter;
pub mod catalogue;
pub mod json;
pub mod protocol;
pub mod runner;
pub mod schema;
