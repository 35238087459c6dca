//! Writing entities to a JSON REST API, one request per record or per batch.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::header::ACCEPT;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::config::{HttpJsonConfig, check_pointers};
use super::source::id_at;
use crate::adapters::web::{client, status_error, transport_error};
use crate::connector::{Capability, Connector, EntityKind, Sink, WriteOutcome, WriteResult};
use crate::error::{Error, ErrorKind, Result};
use crate::mapping::{ApplyOptions, Mappable, MappingSpec};
use crate::model::SystemId;

/// Characters copied as they are into a path segment (RFC 3986 "unreserved").
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The HTTP method of a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteMethod {
    /// `POST` (create-or-update endpoints, batch endpoints).
    Post,
    /// `PUT` (idempotent upsert at the record's own URL).
    Put,
}

impl WriteMethod {
    fn method(self) -> Method {
        match self {
            WriteMethod::Post => Method::POST,
            WriteMethod::Put => Method::PUT,
        }
    }
}

/// One request for a whole batch: the payloads go out as an array and the
/// answer holds one result per record, in the same order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchWrite {
    /// Key of the request object that holds the array (`records`); `None` = the body is the array.
    pub wrap: Option<String>,
    /// JSON pointer to the results array in the answer (`""` = the body is the array).
    pub results_pointer: String,
    /// JSON pointer inside a result to its error message.
    pub message_pointer: String,
    /// Most records the API accepts per request.
    pub max_batch: usize,
}

impl BatchWrite {
    /// Batches of at most `max_batch` sent as a bare array, results as a bare array.
    pub fn new(max_batch: usize) -> Self {
        BatchWrite {
            wrap: None,
            results_pointer: String::new(),
            message_pointer: "/error".into(),
            max_batch: max_batch.max(1),
        }
    }

    /// Sends `{"<key>": [...]}` instead of a bare array.
    pub fn with_wrap(mut self, key: impl Into<String>) -> Self {
        self.wrap = Some(key.into());
        self
    }

    /// Reads the results array at `pointer`.
    pub fn with_results_at(mut self, pointer: impl Into<String>) -> Self {
        self.results_pointer = pointer.into();
        self
    }

    /// Reads a rejected result's message at `pointer`.
    pub fn with_message_at(mut self, pointer: impl Into<String>) -> Self {
        self.message_pointer = pointer.into();
        self
    }
}

/// How to write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Path below the base URL; `{field}` or `{/json/pointer}` placeholders
    /// are filled from the payload (`stock/{sku}/{site}`), one segment each.
    pub path: String,
    /// `POST` or `PUT`.
    pub method: WriteMethod,
    /// JSON pointer to the record's id in the answer (`/id`).
    pub answer_id_pointer: String,
    /// JSON pointer to the answer's outcome word (`created`, `updated`,
    /// `unchanged`, `rejected`); without one, 201 is created, other 2xx
    /// updated, 304 unchanged.
    pub outcome_pointer: Option<String>,
    /// JSON pointer to the record's id in the payload, used when the answer has none.
    pub payload_id_pointer: Option<String>,
    /// One request per batch instead of one per record.
    pub batch: Option<BatchWrite>,
}

impl WriteOptions {
    /// One `method` request per record at `path`.
    pub fn new(method: WriteMethod, path: impl Into<String>) -> Self {
        WriteOptions {
            path: path.into(),
            method,
            answer_id_pointer: "/id".into(),
            outcome_pointer: None,
            payload_id_pointer: None,
            batch: None,
        }
    }

    /// Reads the outcome word at `pointer` in each answer (or result).
    pub fn with_outcome_at(mut self, pointer: impl Into<String>) -> Self {
        self.outcome_pointer = Some(pointer.into());
        self
    }

    /// Reads the record's id at `pointer` in each answer (or result).
    pub fn with_answer_id_at(mut self, pointer: impl Into<String>) -> Self {
        self.answer_id_pointer = pointer.into();
        self
    }

    /// Falls back to the id at `pointer` in the payload.
    pub fn with_payload_id_at(mut self, pointer: impl Into<String>) -> Self {
        self.payload_id_pointer = Some(pointer.into());
        self
    }

    /// Sends batches in one request each.
    pub fn with_batch(mut self, batch: BatchWrite) -> Self {
        self.batch = Some(batch);
        self
    }
}

/// A placeholder-or-literal piece of a path template.
#[derive(Debug)]
enum Piece {
    Text(String),
    /// A JSON pointer into the payload.
    Field(String),
}

/// Writes `E` to a JSON REST API through a mapping spec (see the [module docs](super)).
pub struct HttpJsonSink<E> {
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    config: HttpJsonConfig,
    options: WriteOptions,
    spec: Arc<MappingSpec<E>>,
    client: reqwest::Client,
    path: Vec<Piece>,
}

impl<E> std::fmt::Debug for HttpJsonSink<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpJsonSink")
            .field("config", &self.shared.config)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

impl<E> Clone for HttpJsonSink<E> {
    fn clone(&self) -> Self {
        HttpJsonSink {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<E: Mappable> HttpJsonSink<E> {
    /// A sink writing to the API in `config`, mapping entities back with `spec`.
    pub fn new(
        config: HttpJsonConfig,
        spec: impl Into<Arc<MappingSpec<E>>>,
        options: WriteOptions,
    ) -> Result<Self> {
        config.auth.check()?;
        let mut pointers = vec![("answer id", &options.answer_id_pointer)];
        if let Some(p) = &options.outcome_pointer {
            pointers.push(("outcome", p));
        }
        if let Some(p) = &options.payload_id_pointer {
            pointers.push(("payload id", p));
        }
        if let Some(b) = &options.batch {
            pointers.push(("results", &b.results_pointer));
            pointers.push(("message", &b.message_pointer));
        }
        check_pointers(&pointers)?;
        let path = template(&options.path)?;
        if options.batch.is_some() && path.iter().any(|p| matches!(p, Piece::Field(_))) {
            return Err(Error::config(format!(
                "batch writes go to one URL; the path {:?} has placeholders",
                options.path
            )));
        }
        config.url(&options.path.replace(['{', '}'], ""))?;
        Ok(HttpJsonSink {
            shared: Arc::new(Shared {
                client: client(config.timeout)?,
                config,
                options,
                spec: spec.into(),
                path,
            }),
        })
    }
}

/// Splits `stock/{sku}/{/site/code}` into text and payload pointers.
fn template(path: &str) -> Result<Vec<Piece>> {
    let mut out = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').map(|c| open + c).ok_or_else(|| {
            Error::config(format!("path template {path:?}: a '{{' is not closed"))
        })?;
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_string()));
        }
        let name = &rest[open + 1..close];
        if name.is_empty() {
            return Err(Error::config(format!(
                "path template {path:?}: an empty placeholder"
            )));
        }
        let pointer = if name.starts_with('/') {
            name.to_string()
        } else {
            format!("/{name}")
        };
        out.push(Piece::Field(pointer));
        rest = &rest[close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

impl<E: Mappable> Connector for HttpJsonSink<E> {
    fn system(&self) -> &SystemId {
        &self.shared.config.system
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        if kind != E::KIND {
            return Capability::new();
        }
        Capability::new().with_max_batch(self.shared.options.batch.as_ref().map(|b| b.max_batch))
    }
}

#[async_trait]
impl<E: Mappable> Sink<E> for HttpJsonSink<E> {
    async fn upsert(&self, batch: &[E]) -> Result<Vec<WriteOutcome>> {
        let shared = &*self.shared;
        let opts = ApplyOptions::default();
        // A record that cannot be mapped back is rejected here and not sent.
        let payloads: Vec<Result<Value>> = batch
            .iter()
            .map(|e| {
                shared
                    .spec
                    .to_payload(e, &opts)
                    .map_err(|m| shared.context(Error::from(m), e))
            })
            .collect();
        match &shared.options.batch {
            None => {
                let mut out = Vec::with_capacity(batch.len());
                for (entity, payload) in batch.iter().zip(payloads) {
                    let result = match payload {
                        Err(e) => WriteResult::rejected(e),
                        Ok(payload) => shared.write_one(entity, &payload).await?,
                    };
                    out.push(WriteOutcome::new(entity.key(), result));
                }
                Ok(out)
            }
            Some(b) => shared.write_batch(b, batch, payloads).await,
        }
    }
}

impl<E: Mappable> Shared<E> {
    fn context(&self, e: Error, entity: &E) -> Error {
        e.with_system(self.config.system.as_str())
            .with_entity(E::KIND.name())
            .with_key(entity.key().to_string())
    }

    /// The record's URL: the template with the payload's values, each one path segment.
    fn url_for(&self, payload: &Value) -> std::result::Result<Url, String> {
        let mut path = String::new();
        for piece in &self.path {
            match piece {
                Piece::Text(t) => path.push_str(t),
                Piece::Field(p) => {
                    let value = id_at(payload, p).ok_or_else(|| {
                        format!("the payload has no string or number at {p:?} for the URL")
                    })?;
                    for b in value.bytes() {
                        if unreserved(b) {
                            path.push(char::from(b));
                        } else {
                            path.push_str(&format!("%{b:02X}"));
                        }
                    }
                }
            }
        }
        self.config.url(&path).map_err(|e| e.message().to_string())
    }

    /// Sends one request. The outer `Err` is a transport failure (no answer);
    /// the inner one is the server's refusal.
    async fn send(&self, url: &Url, body: &Value) -> Result<Result<(StatusCode, Value)>> {
        let method = self.options.method.method();
        let what = format!("{method} {url}");
        let request = self
            .client
            .request(method, url.clone())
            .header(ACCEPT, "application/json")
            .json(body);
        let response = self
            .config
            .auth
            .apply(request)
            .send()
            .await
            .map_err(|e| transport_error(&what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| transport_error(&what, e))?;
        if !status.is_success() && status != StatusCode::NOT_MODIFIED {
            return Ok(Err(status_error(&what, status, &headers, &text)));
        }
        // An empty or non-JSON success body carries no details; the status says enough.
        let answer = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(Ok((status, answer)))
    }

    async fn write_one(&self, entity: &E, payload: &Value) -> Result<WriteResult> {
        let url = match self.url_for(payload) {
            Ok(url) => url,
            Err(why) => {
                let e = Error::invalid_data(format!("{}: {why}", entity.key()));
                return Ok(WriteResult::rejected(self.context(e, entity)));
            }
        };
        // No answer, or credentials refused, is not about this record: the whole call fails.
        match self
            .send(&url, payload)
            .await
            .map_err(|e| self.context(e, entity))?
        {
            Ok((status, answer)) => Ok(self.outcome(status, &answer, payload, entity)),
            Err(e) if e.kind() == &ErrorKind::Unauthorized => Err(self.context(e, entity)),
            Err(e) => Ok(WriteResult::rejected(self.context(e, entity))),
        }
    }

    /// The outcome an answer reports for one record.
    fn outcome(
        &self,
        status: StatusCode,
        answer: &Value,
        payload: &Value,
        entity: &E,
    ) -> WriteResult {
        let external_id = id_at(answer, &self.options.answer_id_pointer)
            .or_else(|| {
                self.options
                    .payload_id_pointer
                    .as_ref()
                    .and_then(|p| id_at(payload, p))
            })
            .unwrap_or_else(|| entity.key().to_string());
        let word = self
            .options
            .outcome_pointer
            .as_ref()
            .and_then(|p| answer.pointer(p))
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        match word.as_deref() {
            Some("created") => WriteResult::Created { external_id },
            Some("updated") => WriteResult::Updated { external_id },
            Some("unchanged") => WriteResult::Unchanged { external_id },
            Some(other) => {
                let message = self
                    .options
                    .batch
                    .as_ref()
                    .and_then(|b| answer.pointer(&b.message_pointer))
                    .map(|m| m.as_str().map_or_else(|| m.to_string(), str::to_string));
                let e = match (other, message) {
                    ("rejected" | "error" | "failed" | "invalid", Some(m)) => {
                        Error::invalid_data(format!("{} was rejected: {m}", entity.key()))
                    }
                    ("rejected" | "error" | "failed" | "invalid", None) => {
                        Error::invalid_data(format!("{} was rejected (no message)", entity.key()))
                    }
                    (word, _) => Error::new(
                        ErrorKind::Unexpected,
                        format!(
                            "{}: the answer's outcome {word:?} is none of created, updated, unchanged, rejected; not reported as written",
                            entity.key()
                        ),
                    ),
                };
                WriteResult::rejected(self.context(e, entity))
            }
            None if status == StatusCode::CREATED => WriteResult::Created { external_id },
            None if status == StatusCode::NOT_MODIFIED => WriteResult::Unchanged { external_id },
            None => WriteResult::Updated { external_id },
        }
    }

    async fn write_batch(
        &self,
        b: &BatchWrite,
        batch: &[E],
        payloads: Vec<Result<Value>>,
    ) -> Result<Vec<WriteOutcome>> {
        if batch.len() > b.max_batch {
            return Err(Error::invalid_data(format!(
                "a batch of {} is over the {} records the API accepts per request",
                batch.len(),
                b.max_batch
            ))
            .with_system(self.config.system.as_str()));
        }
        let sent: Vec<Value> = payloads
            .iter()
            .filter_map(|p| p.as_ref().ok().cloned())
            .collect();
        let mut answers = Vec::new();
        if !sent.is_empty() {
            let count = sent.len();
            let body = match &b.wrap {
                None => Value::Array(sent),
                Some(key) => serde_json::json!({ key: sent }),
            };
            let url = self.config.url(&self.options.path)?;
            let (_, mut answer) = self
                .send(&url, &body)
                .await
                .and_then(|answer| answer)
                .map_err(|e| e.with_system(self.config.system.as_str()))?;
            let bad = |why: String| {
                Error::new(
                    ErrorKind::Unexpected,
                    format!("{} {url}: {why}", self.options.method.method()),
                )
                .with_system(self.config.system.as_str())
            };
            answers = match answer.pointer_mut(&b.results_pointer).map(Value::take) {
                Some(Value::Array(a)) if a.len() == count => a,
                Some(Value::Array(a)) => {
                    return Err(bad(format!(
                        "{} results for {count} records; the effect on each is unknown",
                        a.len()
                    )));
                }
                _ => {
                    return Err(bad(format!(
                        "no results array at {:?} in the answer",
                        b.results_pointer
                    )));
                }
            };
        }
        let mut answers = answers.into_iter();
        let mut out = Vec::with_capacity(batch.len());
        for (entity, payload) in batch.iter().zip(payloads) {
            let result = match payload {
                Err(e) => WriteResult::rejected(e),
                Ok(payload) => {
                    let answer = answers.next().unwrap_or(Value::Null);
                    self.outcome(StatusCode::OK, &answer, &payload, entity)
                }
            };
            out.push(WriteOutcome::new(entity.key(), result));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_pointers() {
        let t = template("stock/{sku}/{/site/code}.json").unwrap();
        assert!(
            matches!(&t[..], [Piece::Text(a), Piece::Field(b), Piece::Text(c), Piece::Field(d), Piece::Text(e)]
            if a == "stock/" && b == "/sku" && c == "/" && d == "/site/code" && e == ".json")
        );
        assert!(template("stock/{sku").is_err());
        assert!(template("stock/{}").is_err());
    }
}
