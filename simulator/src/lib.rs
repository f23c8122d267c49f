//! The seeded network simulator: partitions, offline peers and follower catch-up over the sans-IO
//! `Peer` of `threads-reference`.
//!
//! Not built yet: this crate is filled by the simulator issue, once the sync chapter and the `Peer`
//! exist. It deliberately exports nothing.
