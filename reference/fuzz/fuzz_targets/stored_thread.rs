//! A peer restarted on a store holding arbitrary bytes [SYNC-13]: `Peer::open` reports
//! STORE_CORRUPT (or accepts what is valid), never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use threads::keys::IdentityKey;
use threads::store::{MemoryStore, Store};
use threads::sync::Peer;

fuzz_target!(|data: &[u8]| {
    // The first byte splits the input into a thread description and one stored record.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let (meta, record) = rest.split_at(usize::from(split).min(rest.len()));
    let thread = [0x01, 0x55]
        .iter()
        .chain([7u8; 32].iter())
        .copied()
        .collect::<Vec<u8>>();
    let log = IdentityKey::from_seed(&[1; 32]).log_id().to_bytes();
    let mut store = MemoryStore::new();
    store.put_thread(&thread, meta).expect("memory");
    store
        .put_records(&thread, &log, 1, &[record.to_vec()])
        .expect("memory");
    let rng = ChaCha20Rng::seed_from_u64(0);
    let _ = Peer::open(IdentityKey::from_seed(&[2; 32]), rng, store, 0);
});
