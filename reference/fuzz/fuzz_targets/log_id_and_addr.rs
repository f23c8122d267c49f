//! Log IDs and log addresses [LOGID-1]..[LOGID-3], [ADDR-1], [ADDR-2].
#![no_main]

use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use threads::addr::LogAddr;
use threads::id::LogId;

fuzz_target!(|data: &[u8]| {
    if let Ok(log) = LogId::from_bytes(data) {
        assert_eq!(log.to_bytes(), data);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = LogId::from_str(text);
        if let Ok(addr) = LogAddr::from_str(text) {
            assert_eq!(LogAddr::from_str(&addr.to_string()).ok(), Some(addr));
        }
    }
});
