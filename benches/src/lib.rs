//! Criterion benchmarks of the Threads protocol, each reported beside its physical bound.
//!
//! Not built yet: sync throughput benchmarks arrive with the sync issue. It deliberately exports
//! nothing.
