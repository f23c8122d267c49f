//! Invites [INV-3], [INV-6]: decoding and the whole opening order, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threads::invite::Invite;
use threads::keys::IdentityKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(invite) = Invite::from_bytes(data) {
        assert_eq!(invite.to_bytes(), data);
    }
    let _ = Invite::open(data, &IdentityKey::from_seed(&[4; 32]));
});
