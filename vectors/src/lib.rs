//! Deterministic, signed test vectors for the Threads protocol.
//!
//! Not built yet: the generator, suites and signed manifest arrive with the vectors issue.
