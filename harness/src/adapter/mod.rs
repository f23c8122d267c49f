//! The reference implementation behind the harness protocol (spec/harness-protocol.md).
//!
//! [`Adapter::handle`] maps one request to one reply; [`serve`] runs it over newline-delimited
//! JSON. The `threads-reference-adapter` binary is `serve` on stdin and stdout.

mod nodes;

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use serde_json::{Map, Value, json};
use threads::{Error, ErrorCode};
use threads_vectors::ops;

pub use nodes::Nodes;

/// Prefixes of the node methods (spec/harness-protocol.md, node methods).
const NODE_METHOD_PREFIXES: &[&str] = &["node.", "thread.", "log.", "invite.", "acl."];

/// The harness protocol version this adapter speaks.
pub const PROTOCOL: u64 = 1;

/// What a request asked for, decoded.
struct Request<'a> {
    id: Value,
    method: &'a str,
    params: Map<String, Value>,
}

/// The reference behind the harness protocol: vector operations and node instances.
#[derive(Default)]
pub struct Adapter {
    nodes: Nodes,
    done: bool,
}

impl Adapter {
    /// Whether a `shutdown` request was handled.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Handles one request line; always returns exactly one reply.
    pub fn handle_line(&mut self, line: &str) -> Value {
        match serde_json::from_str::<Value>(line) {
            Ok(request) => self.handle(&request),
            Err(e) => error_reply(
                Value::Null,
                &Error::new(ErrorCode::BadRequest, format!("not JSON: {e}")),
                None,
            ),
        }
    }

    /// Handles one decoded request.
    pub fn handle(&mut self, request: &Value) -> Value {
        let request = match parse_request(request) {
            Ok(r) => r,
            Err(e) => {
                return error_reply(request.get("id").cloned().unwrap_or(Value::Null), &e, None);
            }
        };
        match self.dispatch(&request) {
            Ok(result) => json!({"id": request.id, "result": result}),
            Err(failure) => error_reply(request.id, &failure.error, failure.state),
        }
    }

    fn dispatch(&mut self, request: &Request) -> Result<Value, ops::Failure> {
        match request.method {
            "hello" => hello(&request.params).map_err(ops::Failure::from),
            "vector" => vector(&request.params),
            "shutdown" => {
                self.done = true;
                Ok(json!({}))
            }
            method if NODE_METHOD_PREFIXES.iter().any(|p| method.starts_with(p)) => self
                .nodes
                .handle(method, &request.params)
                .map_err(ops::Failure::from),
            other => {
                Err(Error::new(ErrorCode::Unsupported, format!("unknown method {other}")).into())
            }
        }
    }
}

fn parse_request(request: &Value) -> Result<Request<'_>, Error> {
    let bad = |why: &str| Error::new(ErrorCode::BadRequest, why.to_string());
    let id = request
        .get("id")
        .filter(|id| id.is_u64())
        .ok_or_else(|| bad("id must be an unsigned integer"))?;
    let method = request
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("method must be a string"))?;
    let params = match request.get("params") {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(bad("params must be an object")),
    };
    Ok(Request {
        id: id.clone(),
        method,
        params,
    })
}

fn error_reply(id: Value, error: &Error, state: Option<Value>) -> Value {
    let mut body = json!({"code": error.code.name(), "message": error.detail});
    if let Some(state) = state {
        body["state"] = state;
    }
    json!({"id": id, "error": body})
}

fn hello(params: &Map<String, Value>) -> Result<Value, Error> {
    if params.get("protocol").and_then(Value::as_u64) != Some(PROTOCOL) {
        return Err(Error::new(
            ErrorCode::BadRequest,
            format!("this adapter speaks protocol {PROTOCOL}"),
        ));
    }
    let operations: Vec<&str> = ops::OPERATIONS.iter().map(|op| op.name).collect();
    Ok(json!({
        "protocol": PROTOCOL,
        "implementation": "threads-reference",
        "version": env!("CARGO_PKG_VERSION"),
        "capabilities": {"operations": operations, "scenarios": ["nodes", "acl", "ticks"]},
    }))
}

fn vector(params: &Map<String, Value>) -> Result<Value, ops::Failure> {
    let bad = |why: &str| ops::Failure::from(Error::new(ErrorCode::BadRequest, why.to_string()));
    let operation = params
        .get("operation")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("operation must be a string"))?;
    let inputs = params
        .get("inputs")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("inputs must be an object"))?;
    ops::execute(operation, inputs)
}

/// Serves requests from `input` until `shutdown` or end of input, one reply line per request line.
pub fn serve(input: impl BufRead, mut output: impl Write, adapter: &mut Adapter) -> io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = adapter.handle_line(&line);
        writeln!(output, "{reply}")?;
        output.flush()?;
        if adapter.done() {
            break;
        }
    }
    Ok(())
}

/// Serves the reference adapter on this process's stdin and stdout: the body of
/// `threads-reference-adapter` and of `threads-conform reference-adapter`.
pub fn serve_stdio() -> ExitCode {
    let mut adapter = Adapter::default();
    match serve(io::stdin().lock(), io::stdout().lock(), &mut adapter) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reference adapter: {e}");
            ExitCode::from(2)
        }
    }
}
