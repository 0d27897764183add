//! What the recording layer reads off a request and an error: the operation's name
//! (given by the caller, low-cardinality), its statement's shape for the slow list,
//! and the outcome label of an error.

use std::borrow::Cow;

#[cfg(feature = "redis")]
use poolside_core::RedisError;
use poolside_core::{PgError, PgRequest};

use crate::labels::Outcome;

/// A request the [`MetricsLayer`](crate::MetricsLayer) can name.
///
/// The name becomes a label: keep it to a fixed set (`"get_product"`, `"create_sale"`),
/// never SQL text or values.
///
/// # Examples
///
/// ```
/// use poolside_metrics::Operation;
///
/// // A `(name, request)` pair names any request.
/// let request = ("get_product", 42_i64);
/// assert_eq!(request.operation(), "get_product");
/// ```
pub trait Operation {
    /// The operation's name, for the `operation` label.
    fn operation(&self) -> &'static str;

    /// The statement's text with its placeholders (`SELECT ... WHERE id = $1`), never
    /// its parameter values; kept for slow operations. Default: none.
    fn statement(&self) -> Option<Cow<'static, str>> {
        None
    }
}

impl<T> Operation for (&'static str, T) {
    fn operation(&self) -> &'static str {
        self.0
    }
}

impl Operation for PgRequest<'_> {
    fn operation(&self) -> &'static str {
        self.name()
    }

    fn statement(&self) -> Option<Cow<'static, str>> {
        Some(PgRequest::statement(self))
    }
}

impl Operation for &'static str {
    fn operation(&self) -> &'static str {
        self
    }
}

/// An error's `outcome` label.
pub trait OutcomeLabel {
    /// The outcome, such as [`Outcome::Failed`] with the error's kind.
    fn outcome(&self) -> Outcome;

    /// The server's own code for the failure (PostgreSQL's SQLSTATE), for a span's
    /// `db.response.status_code`. Default: none.
    fn status_code(&self) -> Option<&str> {
        None
    }
}

impl OutcomeLabel for PgError {
    fn outcome(&self) -> Outcome {
        Outcome::Failed(self.kind())
    }

    fn status_code(&self) -> Option<&str> {
        self.code().map(|code| code.code())
    }
}

#[cfg(feature = "redis")]
impl OutcomeLabel for RedisError {
    fn outcome(&self) -> Outcome {
        Outcome::Failed(self.kind())
    }
}

impl OutcomeLabel for std::convert::Infallible {
    fn outcome(&self) -> Outcome {
        match *self {}
    }
}
