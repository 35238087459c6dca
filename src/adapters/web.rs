//! HTTP plumbing shared by the HTTP adapters: one client set-up and one
//! mapping from HTTP answers to [`Error`] kinds, so every adapter retries,
//! waits and gives up for the same reasons.
//!
//! | answer | error kind | retried by the engine |
//! |---|---|---|
//! | connection refused, reset, timed out | `Unavailable` | yes |
//! | 429 (with `Retry-After` seconds or HTTP date) | `RateLimited` | yes, after the wait |
//! | 500–599, 408 | `Unavailable` | yes |
//! | 401, 403 | `Unauthorized` | no |
//! | 404 | `NotFound` | no |
//! | 409 | `Conflict` | yes (per the kind's default) |
//! | other 4xx | `InvalidData` | no |

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::error::{Error, ErrorKind, Result};

/// Longest piece of an error body quoted in an error message.
const BODY_QUOTE: usize = 300;

/// A client with a per-request timeout and a `seamwork/<version>` user
/// agent. It does not follow redirects: a 302 to a write would be replayed
/// as a GET whose 200 reads like a successful write; a redirect is an
/// answer the adapter reports.
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("seamwork/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::config(format!("HTTP client: {e}")).with_source(e))
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date
/// (a date in the past means "now"). `None` when absent or unreadable.
pub(crate) fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    // Shopify sends "2.0"; the RFC says whole seconds. Both are exact decimals.
    if let Ok(seconds) = text.parse::<rust_decimal::Decimal>() {
        let millis = (seconds * rust_decimal::Decimal::ONE_THOUSAND).trunc();
        return u64::try_from(millis).ok().map(Duration::from_millis);
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// A transport failure (no answer): the call's effect is unknown, retrying is safe.
pub(crate) fn transport_error(what: &str, e: reqwest::Error) -> Error {
    let why = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    Error::unavailable(format!("{what} {why}: {e}")).with_source(e)
}

/// The error for a non-success answer; `body` is quoted (shortened) so the
/// message says what the server said.
pub(crate) fn status_error(
    what: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
) -> Error {
    let mut quote: String = body.trim().chars().take(BODY_QUOTE).collect();
    if quote.len() < body.trim().len() {
        quote.push('…');
    }
    let message = format!("{what} answered {status}: {quote}");
    match status.as_u16() {
        429 => Error::rate_limited(retry_after(headers, Utc::now()), message),
        401 | 403 => Error::new(ErrorKind::Unauthorized, message),
        404 => Error::new(ErrorKind::NotFound, message),
        409 => Error::new(ErrorKind::Conflict, message),
        408 | 500..=599 => Error::unavailable(message),
        _ => Error::invalid_data(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_str(retry).unwrap());
        h
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            retry_after(&headers("2"), now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after(&headers("1.5"), now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            retry_after(&headers("Fri, 27 Nov 2026 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Fri, 27 Nov 2026 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&headers("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn statuses_map_to_kinds_that_retry_only_when_it_helps() {
        let none = HeaderMap::new();
        let e = status_error(
            "GET /orders",
            StatusCode::TOO_MANY_REQUESTS,
            &headers("3"),
            "slow down",
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
        assert!(e.is_retryable());
        assert!(status_error("x", StatusCode::BAD_GATEWAY, &none, "").is_retryable());
        assert!(status_error("x", StatusCode::REQUEST_TIMEOUT, &none, "").is_retryable());
        for permanent in [302, 400, 401, 403, 404, 422] {
            let status = StatusCode::from_u16(permanent).unwrap();
            assert!(
                !status_error("x", status, &none, "").is_retryable(),
                "{permanent}"
            );
        }
        let e = status_error(
            "GET /orders",
            StatusCode::BAD_REQUEST,
            &none,
            &"x".repeat(1000),
        );
        assert!(
            e.message()
                .starts_with("GET /orders answered 400 Bad Request: xxx")
        );
        assert!(e.message().ends_with('…') && e.message().len() < 400);
    }
}
