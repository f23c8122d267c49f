//! Why the simulator could not go on: a node refused a step of the script, or the adapter broke.
//!
//! These are not verdicts. A run that hits one is reported as failed with the error, because a
//! node that refuses a step the scenario relies on (an append, an invite) is itself a finding.

/// An error driving a node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// The node refused a request with a registry code (spec/errors.md).
    #[error("{code}: {message}")]
    Refused {
        /// The error code's name.
        code: String,
        /// What the node said.
        message: String,
    },
    /// The subprocess broke the harness protocol, timed out or crashed.
    #[error("adapter: {0}")]
    Adapter(String),
    /// The nodes cannot do what was asked (e.g. crash a subprocess node).
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A bad command line or scenario parameter.
    #[error("{0}")]
    Usage(String),
}

impl From<threads::Error> for SimError {
    fn from(e: threads::Error) -> SimError {
        SimError::Refused {
            code: e.code.name().to_string(),
            message: e.detail,
        }
    }
}

/// The simulator's result type.
pub type Result<T, E = SimError> = std::result::Result<T, E>;
