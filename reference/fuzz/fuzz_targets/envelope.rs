//! Envelopes through follower and reader verification [ENV-1], [VERIFY-1], [VERIFY-2], with a fixed
//! thread, log and keys so that the fuzzer can reach the later steps from a seed corpus.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threads::envelope::Envelope;
use threads::id::{ThreadId, Variant};
use threads::keys::{FollowKey, IdentityKey, KeySet, ReadKey};
use threads::log::Log;
use threads::verify;

fuzz_target!(|data: &[u8]| {
    let Ok(envelope) = Envelope::from_bytes(data) else {
        return;
    };
    let thread = ThreadId::from_parts(Variant::Raw, &[7; 32]).expect("32 random bytes are valid");
    let log = IdentityKey::from_seed(&[1; 32]).log_id();
    let keys = KeySet {
        follow: FollowKey::from([2; 32]),
        read: Some(ReadKey::from([3; 32])),
    };
    if let Ok(record) = verify::verify_follower(&envelope, &thread, &log, &keys.follow) {
        let _ = Log::new().accept(&record);
        let _ = verify::verify_reader(&envelope, &thread, &log, &keys);
    }
});
