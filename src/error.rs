//! One error type for the whole crate.
//!
//! Every failure is an [`Error`] with an [`ErrorKind`] (what went wrong), a
//! [`Retryability`] (what the caller should do about it) and an
//! [`ErrorContext`] (which system, entity, record and field it concerns). The
//! message always names the input that failed, so an operator reading a dead
//! letter or a log line knows where to look without a debugger.
//!
//! ```
//! use seamwork::error::{Error, ErrorKind};
//! use std::time::Duration;
//!
//! let err = Error::new(
//!     ErrorKind::RateLimited { retry_after: Some(Duration::from_secs(2)) },
//!     "shop throttled the products query",
//! )
//! .with_system("shopify")
//! .with_external_id("gid://shopify/Product/1");
//! assert!(err.is_retryable());
//! assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
//! assert!(err.to_string().contains("gid://shopify/Product/1"));
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Result alias used across seamwork.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The record or resource does not exist in the remote system.
    NotFound,
    /// A concurrent change prevented the write (optimistic lock, record
    /// locked by another writer); retrying later may succeed. A uniqueness
    /// violation that retrying cannot fix is `InvalidData`, or a `Conflict`
    /// marked [`Retryability::Permanent`].
    Conflict,
    /// The remote system throttled us; wait `retry_after` if it said how long.
    RateLimited {
        /// How long the server asked us to wait, when it said so.
        #[serde(default, with = "opt_duration_ms")]
        retry_after: Option<Duration>,
    },
    /// Credentials are missing, wrong or lack a scope.
    Unauthorized,
    /// The data itself is wrong (fails validation, cannot be parsed or mapped).
    InvalidData,
    /// The system cannot do what was asked (missing capability, unsupported version).
    Unsupported,
    /// seamwork or a connector was configured wrongly.
    Config,
    /// The remote system is down, timed out or answered 5xx.
    Unavailable,
    /// A bug or an answer nobody anticipated.
    Unexpected,
}

impl ErrorKind {
    /// The retryability an error of this kind has unless said otherwise.
    pub fn default_retryability(&self) -> Retryability {
        match self {
            ErrorKind::RateLimited { .. } | ErrorKind::Unavailable | ErrorKind::Conflict => {
                Retryability::Temporary
            }
            _ => Retryability::Permanent,
        }
    }

    /// A short lowercase name (`rate_limited`, `invalid_data`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::RateLimited { .. } => "rate_limited",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::InvalidData => "invalid_data",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Config => "config",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unexpected => "unexpected",
        }
    }
}

/// Whether trying again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Retryability {
    /// Trying again with the same input fails the same way.
    Permanent,
    /// Trying again later may succeed.
    Temporary,
    /// It was temporary, but retries ran out; now it needs a person or a replay.
    PersistentAfterRetries,
}

/// Where an error happened: which system, entity, record, field and place in a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorContext {
    /// The system that failed or that the data came from (`shopify`, `erp`).
    pub system: Option<String>,
    /// The entity kind (`order`, `variant`, ...).
    pub entity: Option<String>,
    /// The record's id in `system`.
    pub external_id: Option<String>,
    /// The record's canonical key (SKU, order number, ...).
    pub key: Option<String>,
    /// The field path (`lines[2].quantity`).
    pub field: Option<String>,
    /// The file the data came from.
    pub file: Option<String>,
    /// 1-based line in `file`.
    pub line: Option<u64>,
    /// 1-based column in `file`.
    pub column: Option<u64>,
}

impl ErrorContext {
    /// True when no context has been attached.
    pub fn is_empty(&self) -> bool {
        *self == ErrorContext::default()
    }
}

impl fmt::Display for ErrorContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        let mut push = |name: &str, value: &Option<String>| {
            if let Some(v) = value {
                parts.push(format!("{name}={v}"));
            }
        };
        push("system", &self.system);
        push("entity", &self.entity);
        push("external_id", &self.external_id);
        push("key", &self.key);
        push("field", &self.field);
        if let Some(file) = &self.file {
            let mut place = file.clone();
            if let Some(line) = self.line {
                place.push_str(&format!(":{line}"));
                if let Some(col) = self.column {
                    place.push_str(&format!(":{col}"));
                }
            }
            parts.push(format!("at {place}"));
        } else if let Some(line) = self.line {
            parts.push(format!("line={line}"));
        }
        write!(f, "{}", parts.join(", "))
    }
}

/// The crate's error: kind, retryability, context, message and an optional cause.
///
/// Cheap to clone (the cause is shared), so it can be stored with a dead letter
/// and reported more than once. Boxed inside, so `Result<T, Error>` stays small.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    retryability: Retryability,
    message: String,
    context: ErrorContext,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// A new error of `kind` whose retryability follows the kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let retryability = kind.default_retryability();
        Error {
            inner: Box::new(Inner {
                kind,
                retryability,
                message: message.into(),
                context: ErrorContext::default(),
                source: None,
            }),
        }
    }

    /// Shorthand for an [`ErrorKind::InvalidData`] error.
    pub fn invalid_data(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidData, message)
    }

    /// Shorthand for an [`ErrorKind::Config`] error.
    pub fn config(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Config, message)
    }

    /// Shorthand for an [`ErrorKind::Unavailable`] error.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, message)
    }

    /// Shorthand for an [`ErrorKind::RateLimited`] error.
    pub fn rate_limited(retry_after: Option<Duration>, message: impl Into<String>) -> Self {
        Error::new(ErrorKind::RateLimited { retry_after }, message)
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// Whether trying again can help.
    pub fn retryability(&self) -> Retryability {
        self.inner.retryability
    }

    /// True when a retry may succeed (the error is [`Retryability::Temporary`]).
    pub fn is_retryable(&self) -> bool {
        self.inner.retryability == Retryability::Temporary
    }

    /// The wait the server asked for, when the error is a rate limit that said so.
    pub fn retry_after(&self) -> Option<Duration> {
        match &self.inner.kind {
            ErrorKind::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// The message without context.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Where the error happened.
    pub fn context(&self) -> &ErrorContext {
        &self.inner.context
    }

    /// Overrides the retryability.
    pub fn with_retryability(mut self, retryability: Retryability) -> Self {
        self.inner.retryability = retryability;
        self
    }

    /// Marks a temporary error as one whose retries ran out; other errors are unchanged.
    pub fn retries_exhausted(mut self) -> Self {
        if self.inner.retryability == Retryability::Temporary {
            self.inner.retryability = Retryability::PersistentAfterRetries;
        }
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// Names the system.
    pub fn with_system(mut self, system: impl Into<String>) -> Self {
        self.inner.context.system = Some(system.into());
        self
    }

    /// Names the entity kind.
    pub fn with_entity(mut self, entity: impl Into<String>) -> Self {
        self.inner.context.entity = Some(entity.into());
        self
    }

    /// Names the record's id in its system.
    pub fn with_external_id(mut self, id: impl Into<String>) -> Self {
        self.inner.context.external_id = Some(id.into());
        self
    }

    /// Names the record's canonical key.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.inner.context.key = Some(key.into());
        self
    }

    /// Names the field.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.inner.context.field = Some(field.into());
        self
    }

    /// Names the file and, optionally, the line and column.
    pub fn with_file(
        mut self,
        file: impl Into<String>,
        line: Option<u64>,
        column: Option<u64>,
    ) -> Self {
        self.inner.context.file = Some(file.into());
        self.inner.context.line = line;
        self.inner.context.column = column;
        self
    }

    /// Fills every context field that is still empty from `other`.
    pub fn with_context_defaults(mut self, other: &ErrorContext) -> Self {
        let c = &mut self.inner.context;
        macro_rules! fill {
            ($($f:ident),*) => { $( if c.$f.is_none() { c.$f = other.$f.clone(); } )* };
        }
        fill!(system, entity, external_id, key, field, file, line, column);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind.name(), self.inner.message)?;
        if let Some(wait) = self.retry_after() {
            write!(f, " (retry after {} ms)", wait.as_millis())?;
        }
        if !self.inner.context.is_empty() {
            write!(f, " [{}]", self.inner.context)?;
        }
        if let Some(src) = &self.inner.source {
            write!(f, ": {src}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.inner.kind)
            .field("retryability", &self.inner.retryability)
            .field("message", &self.inner.message)
            .field("context", &self.inner.context)
            .field("source", &self.inner.source.as_ref().map(|s| s.to_string()))
            .finish()
    }
}

impl PartialEq for Error {
    /// Two errors are equal when kind, retryability, message and context agree;
    /// the cause is compared by its text.
    fn eq(&self, other: &Self) -> bool {
        self.inner.kind == other.inner.kind
            && self.inner.retryability == other.inner.retryability
            && self.inner.message == other.inner.message
            && self.inner.context == other.inner.context
            && self.inner.source.as_ref().map(|s| s.to_string())
                == other.inner.source.as_ref().map(|s| s.to_string())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

mod stored {
    //! serde's `flatten` buffers values in a type that can hold floats, which
    //! the crate-wide float ban flags; no money passes through here.
    #![allow(clippy::disallowed_types)]

    use serde::{Deserialize, Serialize};

    use super::{ErrorContext, ErrorKind, Retryability};

    /// The stored form of an [`Error`]: everything but the live cause, which is kept as text.
    #[derive(Serialize, Deserialize)]
    pub(super) struct StoredError {
        #[serde(flatten)]
        pub(super) kind: ErrorKind,
        pub(super) retryability: Retryability,
        pub(super) message: String,
        #[serde(default, skip_serializing_if = "ErrorContext::is_empty")]
        pub(super) context: ErrorContext,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub(super) cause: Option<String>,
    }
}
use stored::StoredError;

/// A cause read back from storage: only its text survives.
#[derive(Debug)]
struct StoredCause(String);

impl fmt::Display for StoredCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StoredCause {}

/// Errors serialize so that a dead letter or a failed outcome can be stored
/// and shown later; the cause is kept as its text.
impl Serialize for Error {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        StoredError {
            kind: self.inner.kind.clone(),
            retryability: self.inner.retryability,
            message: self.inner.message.clone(),
            context: self.inner.context.clone(),
            cause: self.inner.source.as_ref().map(|c| c.to_string()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Error {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let stored = StoredError::deserialize(d)?;
        let mut err =
            Error::new(stored.kind, stored.message).with_retryability(stored.retryability);
        err.inner.context = stored.context;
        if let Some(cause) = stored.cause {
            err = err.with_source(StoredCause(cause));
        }
        Ok(err)
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        let line = (e.line() > 0).then_some(e.line() as u64);
        let column = (e.column() > 0).then_some(e.column() as u64);
        let mut err = Error::invalid_data(format!("JSON could not be read: {e}"));
        err.inner.context.line = line;
        err.inner.context.column = column;
        err
    }
}

/// Serializes an optional [`Duration`] as whole milliseconds.
mod opt_duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryability_follows_kind() {
        assert!(Error::unavailable("down").is_retryable());
        assert!(Error::new(ErrorKind::Conflict, "locked").is_retryable());
        assert!(!Error::invalid_data("bad").is_retryable());
        assert!(!Error::new(ErrorKind::Unauthorized, "no").is_retryable());
    }

    #[test]
    fn exhausted_retries_become_persistent() {
        let e = Error::unavailable("down").retries_exhausted();
        assert_eq!(e.retryability(), Retryability::PersistentAfterRetries);
        assert!(!e.is_retryable());
        let p = Error::invalid_data("bad").retries_exhausted();
        assert_eq!(p.retryability(), Retryability::Permanent);
    }

    #[test]
    fn display_names_the_input() {
        let e = Error::invalid_data("quantity must not be negative")
            .with_system("erp")
            .with_entity("inventory_level")
            .with_key("SKU-1@DC-EAST")
            .with_field("on_hand")
            .with_file("stock.csv", Some(12), Some(3));
        let s = e.to_string();
        assert_eq!(
            s,
            "invalid_data: quantity must not be negative [system=erp, entity=inventory_level, \
             key=SKU-1@DC-EAST, field=on_hand, at stock.csv:12:3]"
        );
    }

    #[test]
    fn json_errors_carry_line_and_column() {
        let e: Error = serde_json::from_str::<serde_json::Value>("{\n  \"a\": }")
            .unwrap_err()
            .into();
        assert_eq!(e.kind(), &ErrorKind::InvalidData);
        assert_eq!(e.context().line, Some(2));
    }

    #[test]
    fn errors_round_trip_through_json_with_their_cause() {
        let io = std::io::Error::other("connection reset");
        let e = Error::unavailable("erp down")
            .with_system("erp")
            .with_key("SKU-1")
            .with_source(io)
            .retries_exhausted();
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""kind":"unavailable""#), "{json}");
        let back: Error = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert_eq!(back.retryability(), Retryability::PersistentAfterRetries);
    }

    #[test]
    fn kind_serializes_with_retry_after() {
        let k = ErrorKind::RateLimited {
            retry_after: Some(Duration::from_millis(1500)),
        };
        let json = serde_json::to_string(&k).unwrap();
        assert_eq!(json, r#"{"kind":"rate_limited","retry_after":1500}"#);
        assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), k);
    }
}
