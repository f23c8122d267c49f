//! Deterministic, signed test vectors for the Threads protocol (vectors/README.md).
//!
//! - [`format`]: the Wycheproof-style file layout.
//! - [`ops`]: every vector operation, executed by the reference.
//! - [`generate`]: the deterministic generator.
//! - [`schema`]: the JSON Schema of each suite.
//! - [`manifest`]: the signed manifest (C2SP signed note) and its verification.
//! - [`lint`]: consistency checks over the files and the spec.
//! - [`run`]: runs the reference against the vector files.

pub mod format;
pub mod generate;
pub mod lint;
pub mod manifest;
pub mod ops;
pub mod run;
pub mod schema;
