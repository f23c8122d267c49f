//! Thread IDs from bytes and from text [TID-1]..[TID-7]: a value or a registry error, never a panic.
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use threads::id::ThreadId;

fuzz_target!(|data: &[u8]| {
    if let Ok(tid) = ThreadId::from_bytes(data) {
        // A decoded ID re-encodes to the same bytes and round-trips through its text form.
        assert_eq!(tid.as_bytes(), data);
        assert_eq!(ThreadId::from_str(&tid.to_string()).ok(), Some(tid));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ThreadId::from_str(text);
    }
});
