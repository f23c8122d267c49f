//! Key sets [KEY-5]: only the canonical encoding decodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threads::keys::KeySet;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = KeySet::from_bytes(data) {
        assert_eq!(keys.to_bytes(), data);
    }
});
