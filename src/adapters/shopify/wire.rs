//! The GraphQL answer envelope: `data`, `errors` and `extensions.cost`, read
//! from raw bytes with errors that say what was wrong and where.

use serde_json::Value;

use crate::error::{Error, ErrorKind, Result};

/// One entry of a GraphQL `errors` array.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GraphqlError {
    /// The server's message.
    pub message: String,
    /// `extensions.code` (`THROTTLED`, `ACCESS_DENIED`, ...), when given.
    pub code: Option<String>,
    /// The response path the error belongs to, joined with dots.
    pub path: Option<String>,
}

/// A parsed GraphQL answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GraphqlResponse {
    /// The `data` object; `None` when absent or null.
    pub data: Option<Value>,
    /// The `errors` array (empty when absent).
    pub errors: Vec<GraphqlError>,
    /// `extensions.cost`, the query-cost report the pacer feeds on.
    pub cost: Option<Value>,
}

impl GraphqlResponse {
    /// True when the server refused the query for lack of budget.
    pub fn is_throttled(&self) -> bool {
        self.errors.iter().any(|e| {
            e.code.as_deref() == Some("THROTTLED") || e.message.eq_ignore_ascii_case("throttled")
        })
    }

    /// The error for the `errors` array (none when it is empty); the kind
    /// follows the first error's code, the message quotes them all.
    pub fn error(&self, operation: &str) -> Option<Error> {
        let first = self.errors.first()?;
        let listed: Vec<String> = self
            .errors
            .iter()
            .map(|e| {
                let mut s = e.message.clone();
                if let Some(code) = &e.code {
                    s.push_str(&format!(" [{code}]"));
                }
                if let Some(path) = &e.path {
                    s.push_str(&format!(" at {path}"));
                }
                s
            })
            .collect();
        let partial = if self.data.as_ref().is_some_and(|d| !d.is_null()) {
            " (partial data discarded)"
        } else {
            ""
        };
        let message = format!(
            "Shopify {operation} answered with GraphQL errors{partial}: {}",
            listed.join("; ")
        );
        let kind = match first.code.as_deref() {
            Some("ACCESS_DENIED") | Some("UNAUTHORIZED") => ErrorKind::Unauthorized,
            Some("INTERNAL_SERVER_ERROR") | Some("SERVICE_UNAVAILABLE") => ErrorKind::Unavailable,
            Some("NOT_FOUND") => ErrorKind::NotFound,
            _ => ErrorKind::InvalidData,
        };
        Some(Error::new(kind, message))
    }
}

/// Parses a GraphQL answer body. A body that is not JSON, not an object, or
/// whose `errors`/`extensions` have the wrong shape is an `InvalidData` error
/// naming the position or the field.
pub fn parse_response(body: &[u8]) -> Result<GraphqlResponse> {
    let root: Value = serde_json::from_slice(body).map_err(|e| {
        Error::invalid_data(format!(
            "Shopify answer is not JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(mut root) = root else {
        return Err(Error::invalid_data(format!(
            "Shopify answer is not a JSON object: {}",
            kind_of(&root)
        )));
    };
    let data = match root.remove("data") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v),
        Some(other) => {
            return Err(Error::invalid_data(format!(
                "Shopify answer field `data` is {}, expected an object",
                kind_of(&other)
            ))
            .with_field("data"));
        }
    };
    let errors = match root.remove("errors") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, e)| graphql_error(i, e))
            .collect::<Result<_>>()?,
        // REST-style `{"errors": "message"}` (e.g. a bad token).
        Some(Value::String(message)) => vec![GraphqlError {
            message,
            code: None,
            path: None,
        }],
        Some(other) => {
            return Err(Error::invalid_data(format!(
                "Shopify answer field `errors` is {}, expected an array",
                kind_of(&other)
            ))
            .with_field("errors"));
        }
    };
    let cost = match root.remove("extensions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(mut ext)) => ext.remove("cost").filter(|c| !c.is_null()),
        Some(other) => {
            return Err(Error::invalid_data(format!(
                "Shopify answer field `extensions` is {}, expected an object",
                kind_of(&other)
            ))
            .with_field("extensions"));
        }
    };
    if data.is_none() && errors.is_empty() {
        return Err(Error::invalid_data(
            "Shopify answer has neither `data` nor `errors`",
        ));
    }
    Ok(GraphqlResponse { data, errors, cost })
}

fn graphql_error(i: usize, e: &Value) -> Result<GraphqlError> {
    let field = format!("errors[{i}]");
    let message = e
        .get("message")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Error::invalid_data(format!("Shopify answer {field} has no `message` string"))
                .with_field(format!("{field}.message"))
        })?
        .to_string();
    let code = e
        .get("extensions")
        .and_then(|x| x.get("code"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let path = e.get("path").and_then(Value::as_array).map(|parts| {
        parts
            .iter()
            .map(|p| match p {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(".")
    });
    Ok(GraphqlError {
        message,
        code,
        path,
    })
}

/// A short name of a JSON value's type, for messages.
pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_answers_are_recognised_with_their_cost() {
        let body = br#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],
            "extensions":{"cost":{"requestedQueryCost":752,"actualQueryCost":null,
            "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":666,"restoreRate":50.0}}}}"#;
        let r = parse_response(body).unwrap();
        assert!(r.is_throttled());
        assert!(r.cost.is_some());
        assert!(r.data.is_none());
    }

    #[test]
    fn malformed_bodies_are_clear_errors() {
        let e = parse_response(b"{\"data\": {").unwrap_err();
        assert!(e.message().contains("not JSON (line 1"), "{e}");
        let e = parse_response(b"[1]").unwrap_err();
        assert!(e.message().contains("not a JSON object"), "{e}");
        let e = parse_response(br#"{"data": 3}"#).unwrap_err();
        assert!(e.message().contains("`data` is a number"), "{e}");
        let e = parse_response(br#"{"extensions": {}}"#).unwrap_err();
        assert!(e.message().contains("neither"), "{e}");
        let e = parse_response(br#"{"errors": [{"msg": "x"}]}"#).unwrap_err();
        assert!(e.message().contains("errors[0] has no `message`"), "{e}");
    }

    #[test]
    fn errors_map_to_kinds_and_quote_every_message() {
        let r = parse_response(
            br#"{"data":{"a":null},"errors":[{"message":"no","extensions":{"code":"ACCESS_DENIED"},"path":["a",0]},{"message":"also"}]}"#,
        )
        .unwrap();
        let e = r.error("products").unwrap();
        assert_eq!(e.kind(), &ErrorKind::Unauthorized);
        assert!(
            e.message().contains("no [ACCESS_DENIED] at a.0; also"),
            "{e}"
        );
        assert!(e.message().contains("partial data discarded"), "{e}");
    }
}
