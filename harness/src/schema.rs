//! The JSON Schemas of `harness/schemas/` (spec/harness-protocol.md, H.1), compiled once and
//! applied to requests, replies and results.
//!
//! The runner checks every `hello` and node result against them before it reads it [HP-15],
//! [HP-43]; the tests check every request and reply of a run of the reference adapter.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::{Validator, ValidatorMap};
use serde_json::Value;

/// The schema of a request line [HP-7].
pub const REQUEST: &str = include_str!("../schemas/request.schema.json");
/// The schema of a reply line [HP-8], [HP-9].
pub const REPLY: &str = include_str!("../schemas/reply.schema.json");
/// The schema of the `hello` result [HP-14].
pub const HELLO_RESULT: &str = include_str!("../schemas/hello.result.schema.json");
/// The schemas of the node methods' results, one `$defs` entry per method [HP-31].
pub const NODE_RESULTS: &str = include_str!("../schemas/node-results.schema.json");

/// Whether members a schema does not name are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Members {
    /// Report them: what an adapter sends must have exactly the members of the spec.
    Exact,
    /// Ignore them, as the harness ignores a reply's extra members [HP-10]: used when judging.
    AllowExtra,
}

/// The compiled schemas.
pub struct Schemas {
    request: Validator,
    reply: Validator,
    hello: Validator,
    node_results: ValidatorMap,
}

/// The schemas, compiled on first use; `Err` only if a schema file of this crate is broken.
pub fn schemas() -> Result<&'static Schemas, String> {
    static SCHEMAS: OnceLock<Result<Schemas, String>> = OnceLock::new();
    SCHEMAS
        .get_or_init(Schemas::compile)
        .as_ref()
        .map_err(Clone::clone)
}

fn parse(name: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))
}

fn compile(name: &str, text: &str) -> Result<Validator, String> {
    jsonschema::validator_for(&parse(name, text)?).map_err(|e| format!("{name}: {e}"))
}

impl Schemas {
    fn compile() -> Result<Schemas, String> {
        let node_results = parse("node-results.schema.json", NODE_RESULTS)?;
        Ok(Schemas {
            request: compile("request.schema.json", REQUEST)?,
            reply: compile("reply.schema.json", REPLY)?,
            hello: compile("hello.result.schema.json", HELLO_RESULT)?,
            node_results: jsonschema::options()
                .build_map(&node_results)
                .map_err(|e| format!("node-results.schema.json: {e}"))?,
        })
    }

    /// Checks a request line [HP-7].
    pub fn check_request(&self, request: &Value) -> Result<(), String> {
        report(&self.request, request, Members::Exact)
    }

    /// Checks a reply line [HP-8], [HP-9].
    pub fn check_reply(&self, reply: &Value, members: Members) -> Result<(), String> {
        report(&self.reply, reply, members)
    }

    /// Checks the result of `method`: `hello` [HP-14] and the node methods [HP-31]. A `vector`
    /// result is the operation's output, which the vector suites' own schemas describe, so it is
    /// not checked here; nor is a method this appendix does not define.
    pub fn check_result(
        &self,
        method: &str,
        result: &Value,
        members: Members,
    ) -> Result<(), String> {
        if method == "hello" {
            return report(&self.hello, result, members);
        }
        match self.node_results.get(&format!("#/$defs/{method}")) {
            Some(validator) => report(validator, result, members),
            None => Ok(()),
        }
    }
}

/// Every error of `instance` against `validator`, one per line, each with its JSON pointer.
fn report(validator: &Validator, instance: &Value, members: Members) -> Result<(), String> {
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .filter(|e| {
            members == Members::Exact
                || !matches!(e.kind(), ValidationErrorKind::AdditionalProperties { .. })
        })
        .map(|e| match e.instance_path().as_str() {
            "" => e.to_string(),
            path => format!("{path}: {e}"),
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_schemas_compile_and_name_every_node_method() {
        let schemas = schemas().unwrap();
        for method in crate::protocol::Call::METHODS {
            if method != "vector" {
                assert!(
                    method == "hello"
                        || schemas
                            .node_results
                            .contains_key(&format!("#/$defs/{method}")),
                    "{method}"
                );
            }
        }
    }

    #[test]
    fn results_are_checked_and_extra_members_ignored_only_when_asked() {
        let s = schemas().unwrap();
        let peer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
        let ok = json!({"peer": peer});
        assert_eq!(s.check_result("node.create", &ok, Members::Exact), Ok(()));
        let wrong = json!({"peer": 1});
        assert!(
            s.check_result("node.create", &wrong, Members::AllowExtra)
                .is_err()
        );
        let extra = json!({"peer": peer, "x": 1});
        assert!(
            s.check_result("node.create", &extra, Members::Exact)
                .is_err()
        );
        assert_eq!(
            s.check_result("node.create", &extra, Members::AllowExtra),
            Ok(())
        );
        let upper = json!({"messages": [{"to": "a", "message": "0FF"}]});
        assert!(
            s.check_result("node.collect", &upper, Members::AllowExtra)
                .is_err()
        );
        let negative = json!({"logs": {peer: {"head": null, "counter": -1}}});
        let e = s
            .check_result("node.heads", &negative, Members::AllowExtra)
            .unwrap_err();
        assert!(e.contains("/logs/"), "{e}");
        assert!(
            s.check_result("node.stop", &json!([]), Members::AllowExtra)
                .is_err()
        );
        assert_eq!(s.check_result("vector", &json!(5), Members::Exact), Ok(()));
    }
}
