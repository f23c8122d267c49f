//! ACL documents, anchors and event bodies [ACL-3], [ACL-11], [ACL-12]: only canonical encodings
//! decode, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threads::acl::{AclAnchor, AclDocument, AclEvent};

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = AclDocument::from_bytes(data) {
        assert_eq!(document.to_bytes(), data);
    }
    if let Ok(anchor) = AclAnchor::from_bytes(data) {
        assert_eq!(anchor.to_bytes(), data);
    }
    let _ = AclEvent::classify(data);
});
