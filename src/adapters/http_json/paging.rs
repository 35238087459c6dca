//! Reading one answer: the records array at a JSON pointer, and where the
//! next page is (a cursor in the body, a page number, an offset, or an
//! RFC 8288 `Link` header with `rel="next"`).
//!
//! Pure functions over bytes, so they are fuzzed (`fuzz_targets/http_json_page.rs`)
//! and tested without a server.

use reqwest::Url;
use serde_json::Value;

use crate::error::{Error, Result};

/// How an API splits a listing into pages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pagination {
    /// One answer holds every record.
    None,
    /// The body names the next page's token (`{"next_cursor": "abc"}`); it is
    /// sent back in `param`. A missing, null or empty token ends the listing.
    Cursor {
        /// Query parameter that carries the token (`cursor`).
        param: String,
        /// JSON pointer to the token in the body (`/meta/next_cursor`).
        next_pointer: String,
    },
    /// Numbered pages (`page=1,2,…`); a page shorter than `size` is the last,
    /// so `size` must not exceed the API's own maximum page size (an API that
    /// quietly caps it would end the listing after the first page).
    PageNumber {
        /// Query parameter of the page number (`page`).
        param: String,
        /// Number of the first page (usually 1, some APIs 0).
        first: u64,
        /// Query parameter of the page size (`per_page`).
        size_param: String,
        /// Records asked for per page.
        size: usize,
    },
    /// Offset and limit (`offset=0&limit=100`); a page shorter than `limit`
    /// is the last, so `limit` must not exceed the API's maximum either.
    Offset {
        /// Query parameter of the offset (`offset`).
        param: String,
        /// Query parameter of the limit (`limit`).
        limit_param: String,
        /// Records asked for per page.
        limit: usize,
    },
    /// The `Link` header's `rel="next"` target (GitHub, WooCommerce, Shopify REST).
    LinkHeader,
}

impl Pagination {
    /// A token in the body at `next_pointer`, sent back as `param`.
    pub fn cursor(param: impl Into<String>, next_pointer: impl Into<String>) -> Self {
        Pagination::Cursor {
            param: param.into(),
            next_pointer: next_pointer.into(),
        }
    }

    /// Page numbers from 1 in `param`, `size` records per page in `size_param`.
    pub fn page_number(
        param: impl Into<String>,
        size_param: impl Into<String>,
        size: usize,
    ) -> Self {
        Pagination::PageNumber {
            param: param.into(),
            first: 1,
            size_param: size_param.into(),
            size: size.max(1),
        }
    }

    /// Offsets from 0 in `param`, `limit` records per page in `limit_param`.
    pub fn offset(param: impl Into<String>, limit_param: impl Into<String>, limit: usize) -> Self {
        Pagination::Offset {
            param: param.into(),
            limit_param: limit_param.into(),
            limit: limit.max(1),
        }
    }

    /// The page size this strategy asks for, when it sets one.
    pub fn page_size(&self) -> Option<usize> {
        match self {
            Pagination::PageNumber { size, .. } => Some(*size),
            Pagination::Offset { limit, .. } => Some(*limit),
            _ => None,
        }
    }

    /// The first page's URL: `url` with the strategy's start parameters set.
    pub fn first_page(&self, url: &Url) -> Url {
        match self {
            Pagination::PageNumber {
                param,
                first,
                size_param,
                size,
            } => with_params(
                url,
                &[(param, first.to_string()), (size_param, size.to_string())],
            ),
            Pagination::Offset {
                param,
                limit_param,
                limit,
            } => with_params(
                url,
                &[(param, "0".into()), (limit_param, limit.to_string())],
            ),
            Pagination::None | Pagination::Cursor { .. } | Pagination::LinkHeader => url.clone(),
        }
    }
}

/// The records of one answer and the next page's URL (`None` on the last page).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParsedPage {
    /// The records, in the order the server sent them.
    pub records: Vec<Value>,
    /// Where the next page is.
    pub next: Option<Url>,
}

/// Reads one answer from `url`: parses `body`, takes the array at
/// `records_pointer` (`""` = the body itself is the array) and works out the
/// next page from the body, `link` (the `Link` header) or `url`.
///
/// Every error is `InvalidData` and names the URL and what was expected.
pub fn parse_page(
    url: &Url,
    body: &[u8],
    link: Option<&str>,
    records_pointer: &str,
    pagination: &Pagination,
) -> Result<ParsedPage> {
    let bad = |why: String| Error::invalid_data(format!("GET {url}: {why}"));
    let mut value: Value = serde_json::from_slice(body).map_err(|e| {
        bad(format!(
            "the answer is not JSON ({e}; {} bytes)",
            body.len()
        ))
    })?;
    let next_token = match pagination {
        Pagination::Cursor { next_pointer, .. } => token(&value, next_pointer)
            .map_err(|why| bad(format!("next-page cursor at {next_pointer:?} {why}")))?,
        _ => None,
    };
    let records = match value.pointer_mut(records_pointer).map(Value::take) {
        Some(Value::Array(records)) => records,
        Some(other) => {
            return Err(bad(format!(
                "expected an array of records at {records_pointer:?}, found {}",
                kind(&other)
            )));
        }
        None => {
            return Err(bad(format!(
                "no records array at {records_pointer:?} (the body's top level is {})",
                kind(&value)
            )));
        }
    };
    let next = match pagination {
        Pagination::None => None,
        Pagination::Cursor { param, .. } => next_token.map(|t| with_params(url, &[(param, t)])),
        Pagination::PageNumber {
            param, first, size, ..
        } => {
            if records.len() < *size {
                None
            } else {
                let current = number_param(url, param)
                    .map_err(|why| bad(format!("page parameter {param:?} {why}")))?
                    .unwrap_or(*first);
                let next = current
                    .checked_add(1)
                    .ok_or_else(|| bad(format!("page number {current} cannot grow")))?;
                Some(with_params(url, &[(param, next.to_string())]))
            }
        }
        Pagination::Offset { param, limit, .. } => {
            if records.len() < *limit {
                None
            } else {
                let current = number_param(url, param)
                    .map_err(|why| bad(format!("offset parameter {param:?} {why}")))?
                    .unwrap_or(0);
                let next = u64::try_from(records.len())
                    .ok()
                    .and_then(|n| current.checked_add(n))
                    .ok_or_else(|| bad(format!("offset {current} cannot grow")))?;
                Some(with_params(url, &[(param, next.to_string())]))
            }
        }
        Pagination::LinkHeader => match link.and_then(next_link) {
            None => None,
            Some(target) => Some(url.join(target).map_err(|e| {
                bad(format!(
                    "the Link header's rel=\"next\" target {target:?} is not a URL: {e}"
                ))
            })?),
        },
    };
    Ok(ParsedPage { records, next })
}

/// The next-page token at `pointer`: a non-empty string or a number; absent,
/// null, `false` or `""` mean "no next page".
fn token(body: &Value, pointer: &str) -> std::result::Result<Option<String>, String> {
    match body.pointer(pointer) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(format!("is {}, expected a string", kind(other))),
    }
}

/// The value of query parameter `name` as a number, `None` when absent.
fn number_param(url: &Url, name: &str) -> std::result::Result<Option<u64>, String> {
    match url.query_pairs().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("is {v:?}, not a whole number")),
    }
}

/// `url` with each `(name, value)` set, replacing earlier values of that name.
pub(crate) fn with_params<N: AsRef<str>>(url: &Url, params: &[(N, String)]) -> Url {
    let mut out = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(n, _)| n.as_ref() == k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    {
        let mut q = out.query_pairs_mut();
        q.clear();
        q.extend_pairs(kept);
        for (n, v) in params {
            q.append_pair(n.as_ref(), v);
        }
    }
    out
}

/// The target of the first link whose `rel` includes `next` in an RFC 8288
/// `Link` header value (`<https://x/?page=2>; rel="next", <…>; rel="last"`).
///
/// Follows the grammar: link-values separated by commas outside `<…>` and
/// quoted strings, parameters separated by `;`, `rel` a space-separated list
/// compared case-insensitively, quoted values with `\` escapes.
pub fn next_link(header: &str) -> Option<&str> {
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let inner = rest.strip_prefix('<')?;
        let end = inner.find('>')?;
        let target = &inner[..end];
        rest = &inner[end + 1..];
        let mut is_next = false;
        // Parameters until the next comma outside quotes.
        loop {
            rest = rest.trim_start();
            let Some(after) = rest.strip_prefix(';') else {
                break;
            };
            let (name, value, after) = param(after)?;
            rest = after;
            if name.eq_ignore_ascii_case("rel")
                && value
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
            {
                is_next = true;
            }
        }
        if is_next {
            return Some(target.trim());
        }
        // Skip anything malformed up to the next link-value.
        rest = rest.trim_start();
        if !rest.is_empty() && !rest.starts_with(',') {
            let comma = rest.find(',')?;
            rest = &rest[comma..];
        }
        if rest.is_empty() {
            return None;
        }
    }
}

/// One `name[=value]` link parameter after its `;`: the name, the value
/// (unquoted, escapes kept as written), and what follows.
fn param(text: &str) -> Option<(&str, std::borrow::Cow<'_, str>, &str)> {
    let text = text.trim_start();
    let name_end = text
        .find(|c: char| c == '=' || c == ';' || c == ',' || c.is_whitespace())
        .unwrap_or(text.len());
    let name = &text[..name_end];
    let rest = text[name_end..].trim_start();
    let Some(rest) = rest.strip_prefix('=') else {
        return Some((name, "".into(), rest));
    };
    let rest = rest.trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => value.push(chars.next()?.1),
                '"' => return Some((name, value.into(), &quoted[i + 1..])),
                c => value.push(c),
            }
        }
        None
    } else {
        let end = rest.find([';', ',']).unwrap_or(rest.len());
        Some((name, rest[..end].trim().into(), &rest[end..]))
    }
}

/// A JSON value's kind, for messages.
fn kind(v: &Value) -> &'static str {
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

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn next_link_follows_rfc_8288() {
        let h = r#"<https://api.example.com/items?page=1>; rel="prev", <https://api.example.com/items?page=3>; rel="next""#;
        assert_eq!(next_link(h), Some("https://api.example.com/items?page=3"));
        assert_eq!(next_link(r#"</p2>; rel="last next""#), Some("/p2"));
        assert_eq!(next_link("</p2>; REL=Next"), Some("/p2"));
        assert_eq!(
            next_link(r#"</a>; title="x, y; rel=next", </b>; rel=next"#),
            Some("/b")
        );
        assert_eq!(next_link(r#"</a>; rel="prev""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link(r#"</a>; rel="next"#), None, "unclosed quote");
    }

    #[test]
    fn page_numbers_and_offsets_advance_until_a_short_page() {
        let p = Pagination::page_number("page", "per_page", 2);
        let first = p.first_page(&url("http://h/items?sort=id"));
        assert_eq!(first.as_str(), "http://h/items?sort=id&page=1&per_page=2");
        let full = parse_page(&first, b"[1,2]", None, "", &p).unwrap();
        assert_eq!(
            full.next.unwrap().as_str(),
            "http://h/items?sort=id&per_page=2&page=2"
        );
        assert_eq!(parse_page(&first, b"[1]", None, "", &p).unwrap().next, None);

        let o = Pagination::offset("offset", "limit", 2);
        let first = o.first_page(&url("http://h/items"));
        let page = parse_page(&first, br#"{"data":[{},{}]}"#, None, "/data", &o).unwrap();
        assert_eq!(page.records.len(), 2);
        assert_eq!(
            page.next.unwrap().as_str(),
            "http://h/items?limit=2&offset=2"
        );
    }

    #[test]
    fn cursor_tokens_end_on_null_or_empty() {
        let c = Pagination::cursor("cursor", "/next");
        let u = url("http://h/items?cursor=a");
        let page = parse_page(&u, br#"{"items":[],"next":"b c"}"#, None, "/items", &c).unwrap();
        assert_eq!(page.next.unwrap().as_str(), "http://h/items?cursor=b+c");
        for end in [
            r#"{"items":[],"next":null}"#,
            r#"{"items":[],"next":""}"#,
            r#"{"items":[]}"#,
        ] {
            assert_eq!(
                parse_page(&u, end.as_bytes(), None, "/items", &c)
                    .unwrap()
                    .next,
                None
            );
        }
        let err = parse_page(&u, br#"{"items":[],"next":{}}"#, None, "/items", &c).unwrap_err();
        assert!(err.message().contains("is an object"), "{err}");
    }

    #[test]
    fn errors_name_the_url_and_the_pointer() {
        let u = url("http://h/stock?page=3");
        let err = parse_page(&u, b"<html>", None, "/data", &Pagination::None).unwrap_err();
        assert!(
            err.message()
                .starts_with("GET http://h/stock?page=3: the answer is not JSON"),
            "{err}"
        );
        let err = parse_page(&u, br#"{"items":[]}"#, None, "/data", &Pagination::None).unwrap_err();
        assert!(
            err.message().contains(r#"no records array at "/data""#),
            "{err}"
        );
        let err = parse_page(&u, br#"{"data":{}}"#, None, "/data", &Pagination::None).unwrap_err();
        assert!(err.message().contains("found an object"), "{err}");
    }

    #[test]
    fn relative_link_targets_resolve_against_the_request() {
        let u = url("http://h/v1/items?page=1");
        let page = parse_page(
            &u,
            b"[]",
            Some(r#"</v1/items?page=2>; rel="next""#),
            "",
            &Pagination::LinkHeader,
        )
        .unwrap();
        assert_eq!(page.next.unwrap().as_str(), "http://h/v1/items?page=2");
    }
}
