//! The reference implementation behind the harness protocol (spec/harness-protocol.md).
//!
//! [`Adapter::handle`] maps one request to one reply; [`serve`] runs it over newline-delimited
//! JSON. The `threads-reference-adapter` binary is `serve` on stdin and stdout.

mod authfault;
mod dbfault;
pub(crate) mod dbjson;
mod noderng;
mod nodes;
mod restart;

use std::io::{self, BufRead, Write};
use std::process::ExitCode;

use serde_json::{Value, json};
use threads::{Error, ErrorCode};
use threads_vectors::ops;

use crate::protocol::{
    Call, Capabilities, ErrorBody, HelloParams, HelloResult, Outcome, PROTOCOL, RawRequest, Reply,
    Request, VectorParams,
};

pub use authfault::AuthFault;
pub use dbfault::DbFault;
pub use noderng::AppendFault;
pub use nodes::Nodes;
pub(crate) use nodes::query_of;
pub use restart::RestartFault;

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

    /// Plants a database bug of the catalogue in every node [HP-86].
    pub fn set_db_fault(&mut self, fault: DbFault) {
        self.nodes.set_fault(fault);
    }

    /// Switches on a storage bug of the catalogue: `node.stop` restarts a node on the store the
    /// bug leaves [SYNC-12], [SYNC-13], [HP-86].
    pub fn set_restart_fault(&mut self, fault: RestartFault) {
        self.nodes.set_restart_fault(fault);
    }

    /// Switches on a membership bug of the catalogue: a verifier that takes proofs over nonces
    /// [SYNC-19] does not let it take [HP-86].
    pub fn set_auth_fault(&mut self, fault: AuthFault) {
        self.nodes.set_auth_fault(fault);
    }

    /// Switches on a writer bug of the catalogue: appends that reuse randomness [LOG-1],
    /// [HP-86].
    pub fn set_append_fault(&mut self, fault: AppendFault) {
        self.nodes.set_append_fault(fault);
    }

    /// Handles one request line; always returns exactly one reply [HP-23].
    pub fn handle_line(&mut self, line: &str) -> Reply {
        // Unpaired surrogate escapes read as U+FFFD, as the harness reads them [HP-80].
        match crate::json::parse(line) {
            Ok((request, _)) => self.handle(request),
            Err(e) => failure(
                None,
                &Error::new(ErrorCode::BadRequest, format!("not JSON: {e}")),
                None,
            ),
        }
    }

    /// Handles one decoded request. A value that is not a request is BAD_REQUEST, replied to with
    /// its `id` if that is an unsigned integer and `null` otherwise [HP-11].
    pub fn handle(&mut self, request: Value) -> Reply {
        let id = request.get("id").and_then(Value::as_u64);
        let request = serde_json::from_value::<RawRequest>(request)
            .map_err(|e| Error::new(ErrorCode::BadRequest, format!("not a request: {e}")))
            .and_then(Request::decode);
        match request {
            Err(e) => failure(id, &e, None),
            Ok(Request { id, call }) => match self.dispatch(call) {
                Ok(result) => Reply {
                    id: Some(id),
                    outcome: Outcome::Result(result),
                },
                Err(f) => failure(Some(id), &f.error, f.state),
            },
        }
    }

    fn dispatch(&mut self, call: Call) -> Result<Value, ops::Failure> {
        match call {
            Call::Hello(params) => hello(&params).map_err(ops::Failure::from),
            Call::Vector(VectorParams { operation, inputs }) => ops::execute(&operation, &inputs),
            Call::Shutdown(_) => {
                self.done = true;
                Ok(json!({}))
            }
            node_call => self.nodes.handle(node_call).map_err(ops::Failure::from),
        }
    }
}

fn failure(id: Option<u64>, error: &Error, state: Option<Value>) -> Reply {
    Reply {
        id,
        outcome: Outcome::Error(ErrorBody::new(error, state)),
    }
}

/// The `hello` result [HP-14]; BAD_REQUEST for another protocol number [HP-15].
fn hello(params: &HelloParams) -> Result<Value, Error> {
    if params.protocol != PROTOCOL {
        return Err(Error::new(
            ErrorCode::BadRequest,
            format!("this adapter speaks protocol {PROTOCOL}"),
        ));
    }
    let result = HelloResult {
        protocol: PROTOCOL,
        implementation: "threads-reference".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        capabilities: Capabilities {
            operations: ops::OPERATIONS.iter().map(|op| op.name.into()).collect(),
            scenarios: ["nodes", "acl", "ticks", "db"].map(String::from).to_vec(),
        },
    };
    serde_json::to_value(result).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
}

/// Serves requests from `input` until `shutdown` or end of input, one reply line per request line.
pub fn serve(input: impl BufRead, mut output: impl Write, adapter: &mut Adapter) -> io::Result<()> {
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = adapter.handle_line(&line);
        serde_json::to_writer(&mut output, &reply)?;
        writeln!(output)?;
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
