//! How a flow fails: the code, a message safe to show, optional details.

use serde_json::Value;
use walletd_egress::EgressError;
use walletd_protocol::ErrorCode;

/// A flow's failure; becomes its one `flow_error`.
#[derive(Debug, Clone)]
pub struct FlowFailure {
    /// Error code.
    pub code: ErrorCode,
    /// Human-readable, without secrets.
    pub message: String,
    /// Structured details (`{"error":"invalid_grant"}`).
    pub details: Option<Value>,
}

impl FlowFailure {
    /// A failure with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        FlowFailure {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// An egress failure: blocked requests keep `EGRESS_BLOCKED`, everything else gets `code` (the step's code).
    pub fn egress(code: ErrorCode, what: &str, e: &EgressError) -> Self {
        match e {
            EgressError::Blocked(_) | EgressError::InvalidUrl(_) => {
                FlowFailure::new(ErrorCode::EgressBlocked, format!("{what}: {e}"))
            }
            _ => FlowFailure::new(code, format!("{what}: {e}")).with_details(serde_json::json!({"egress": e.code()})),
        }
    }
}

/// Shorthand for flow results.
pub type FlowResult<T> = Result<T, FlowFailure>;
