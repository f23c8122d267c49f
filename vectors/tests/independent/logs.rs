//! Chapter 4, logs: an independent log model.

use serde_json::Value;

use crate::common::{cases, context, hex_of, load};
use crate::raw::raw_verify;

#[test]
fn logs_vectors_agree_with_an_independent_log_model() {
    for (_, inputs, case) in cases(&load("logs")) {
        let (thread, log) = context(&inputs);
        let follow = hex_of(&inputs["followKey"]);
        let mut held: Vec<String> = Vec::new();
        let mut outcomes = Vec::new();
        for delivery in inputs["deliveries"].as_array().unwrap() {
            let outcome = match raw_verify(&thread, &log, &follow, None, &hex_of(delivery)) {
                Err(code) => code.to_string(),
                Ok(r) => {
                    let seq = r["seq"].as_u64().unwrap() as usize;
                    let cid = r["recordCid"].as_str().unwrap().to_string();
                    if seq <= held.len() {
                        if held[seq - 1] == cid {
                            "duplicate"
                        } else {
                            "LOG_FORK"
                        }
                        .to_string()
                    } else if seq > held.len() + 1 {
                        "LOG_GAP".to_string()
                    } else if r["prev"].as_str() != held.last().map(String::as_str) {
                        "LOG_BROKEN_LINK".to_string()
                    } else {
                        held.push(cid);
                        "appended".to_string()
                    }
                }
            };
            outcomes.push(outcome);
        }
        let expected = &case["expected"];
        assert_eq!(
            expected["outcomes"],
            serde_json::json!(outcomes),
            "tcId {}",
            case["tcId"]
        );
        assert_eq!(expected["counter"], held.len());
        assert_eq!(
            expected["head"],
            held.last().map_or(Value::Null, |h| h.clone().into())
        );
        let first_error = outcomes
            .iter()
            .find(|o| o.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        assert_eq!(
            case["errorCode"].as_str(),
            first_error.map(String::as_str),
            "tcId {}",
            case["tcId"]
        );
    }
}
