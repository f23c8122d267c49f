//! Chapter 1, Thread IDs: a hand parser and hand base32.

use serde_json::Value;

use crate::common::{base32, cases, decode_tid_text, hex_of, load, parse_tid};

fn outcome_code(case: &Value) -> Option<&str> {
    case["errorCode"].as_str()
}

#[test]
fn tid_vectors_agree_with_a_hand_parser_and_hand_base32() {
    let mut checked = 0;
    for (op, inputs, case) in cases(&load("tid")) {
        let expected = &case["expected"];
        if case["result"] == "valid" {
            let bytes = hex_of(&expected["bytes"]);
            let (variant, random) = parse_tid(&bytes).unwrap();
            assert_eq!(expected["variant"], variant);
            assert_eq!(hex_of(&expected["random"]), random);
            assert_eq!(
                expected["text"].as_str().unwrap(),
                format!("b{}", base32(&bytes))
            );
        }
        match op.as_str() {
            "tid.decodeBytes" => {
                let got = parse_tid(&hex_of(&inputs["bytes"]));
                match outcome_code(&case) {
                    Some(code) => assert_eq!(got.err(), Some(code), "tcId {}", case["tcId"]),
                    None => {
                        assert_eq!(hex_of(&case["expected"]["bytes"]), hex_of(&inputs["bytes"]))
                    }
                }
            }
            "tid.encode" if case["result"] == "valid" => {
                let code = if inputs["variant"] == "raw" {
                    0x55
                } else {
                    0x70
                };
                let want = [&[1u8, code][..], &hex_of(&inputs["random"])].concat();
                assert_eq!(hex_of(&expected["bytes"]), want);
            }
            "tid.decode" => {
                // [TID-7], [TID-9] by hand, then the binary rules.
                let got = decode_tid_text(inputs["text"].as_str().unwrap())
                    .and_then(|bytes| parse_tid(&bytes).map(|_| bytes));
                match outcome_code(&case) {
                    Some(code) => assert_eq!(got.err(), Some(code), "tcId {}", case["tcId"]),
                    None => assert_eq!(
                        got.as_deref().ok(),
                        Some(hex_of(&expected["bytes"]).as_slice()),
                        "tcId {}",
                        case["tcId"]
                    ),
                }
                if inputs["text"].as_str().unwrap().starts_with('b') && case["result"] == "valid" {
                    assert_eq!(
                        inputs["text"], expected["text"],
                        "base32 input is already canonical"
                    );
                }
            }
            _ => {}
        }
        checked += 1;
    }
    assert!(checked > 50);
}
