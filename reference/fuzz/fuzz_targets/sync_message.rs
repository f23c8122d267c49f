//! Sync messages: decoding never panics, and what decodes re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threads::sync::Message;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = Message::from_bytes(data) {
        assert_eq!(message.to_bytes(), data);
    }
});
