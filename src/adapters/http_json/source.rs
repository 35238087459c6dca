//! Reading a paged JSON listing as a record stream.

use std::cmp::Ordering;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use reqwest::Url;
use reqwest::header::{ACCEPT, LINK};
use serde_json::Value;

use super::config::{HttpJsonConfig, Incremental, ReadOptions};
use super::paging::{ParsedPage, parse_page};
use crate::adapters::web::{client, status_error, transport_error};
use crate::connector::{
    Capability, Connector, Cursor, EntityKind, Record, RecordStream, Source, TimeIdCursor,
};
use crate::error::{Error, ErrorKind, Result};
use crate::mapping::{ApplyOptions, Mappable, MappingSpec};
use crate::model::{ExternalRef, SystemId};

/// Reads `E` from a JSON REST listing through a mapping spec (see the
/// [module docs](super) for pagination, incremental reads and bad records).
pub struct HttpJsonSource<E> {
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    config: HttpJsonConfig,
    options: ReadOptions,
    spec: Arc<MappingSpec<E>>,
    client: reqwest::Client,
    /// The listing's URL with the fixed query parameters.
    listing: Url,
}

impl<E> std::fmt::Debug for HttpJsonSource<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpJsonSource")
            .field("config", &self.shared.config)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

impl<E> Clone for HttpJsonSource<E> {
    fn clone(&self) -> Self {
        HttpJsonSource {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<E: Mappable> HttpJsonSource<E> {
    /// A source reading `options.path` of the API in `config`, mapping each
    /// record with `spec`. Checks the URL, pointers and credentials now.
    pub fn new(
        config: HttpJsonConfig,
        spec: impl Into<Arc<MappingSpec<E>>>,
        options: ReadOptions,
    ) -> Result<Self> {
        config.auth.check()?;
        options.check()?;
        let mut listing = config.url(&options.path)?;
        if !options.query.is_empty() {
            listing.query_pairs_mut().extend_pairs(&options.query);
        }
        Ok(HttpJsonSource {
            shared: Arc::new(Shared {
                client: client(config.timeout)?,
                config,
                options,
                spec: spec.into(),
                listing,
            }),
        })
    }
}

impl<E: Mappable> Connector for HttpJsonSource<E> {
    fn system(&self) -> &SystemId {
        &self.shared.config.system
    }

    fn capability(&self, kind: EntityKind) -> Capability {
        if kind != E::KIND {
            return Capability::new();
        }
        Capability::new()
            .with_incremental(self.shared.options.incremental.is_some())
            .with_max_page(self.shared.options.pagination.page_size())
    }
}

impl<E: Mappable> Source<E> for HttpJsonSource<E> {
    fn read(&self, since: Option<Cursor>) -> RecordStream<E> {
        let shared = Arc::clone(&self.shared);
        let start = match shared.start(since.as_ref()) {
            Ok(start) => start,
            Err(e) => return futures::stream::once(async move { Err(e) }).boxed(),
        };
        let first = shared.first_page(start.as_ref());
        let reader = Reader {
            shared,
            next: Some(first),
            fetched: HashSet::new(),
            pending: VecDeque::new(),
            after: start,
            last: None,
        };
        futures::stream::unfold(reader, |mut r| async move {
            let item = r.next_item().await?;
            Some((item, r))
        })
        .boxed()
    }
}

impl<E: Mappable> Shared<E> {
    fn context(&self, e: Error) -> Error {
        e.with_system(self.config.system.as_str())
            .with_entity(E::KIND.name())
    }

    /// Where an incremental read starts; `since` is ignored by full reads.
    fn start(&self, since: Option<&Cursor>) -> Result<Option<TimeIdCursor>> {
        match (&self.options.incremental, since) {
            (Some(_), Some(c)) => TimeIdCursor::decode(c)
                .map(Some)
                .map_err(|e| self.context(e)),
            _ => Ok(None),
        }
    }

    fn first_page(&self, start: Option<&TimeIdCursor>) -> Url {
        let mut url = self.listing.clone();
        if let (Some(inc), Some(start)) = (&self.options.incremental, start) {
            let back = chrono::Duration::from_std(inc.lookback).unwrap_or(chrono::Duration::MAX);
            let from = start
                .at
                .checked_sub_signed(back)
                .unwrap_or(DateTime::<Utc>::MIN_UTC);
            url.query_pairs_mut()
                .append_pair(&inc.param, &inc.query_value(from));
        }
        self.options.pagination.first_page(&url)
    }

    async fn fetch(&self, url: &Url) -> Result<ParsedPage> {
        let what = format!("GET {url}");
        let request = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/json");
        let response = self
            .config
            .auth
            .apply(request)
            .send()
            .await
            .map_err(|e| transport_error(&what, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(status_error(&what, status, &headers, &body));
        }
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(&what, e))?;
        // Several Link headers are one list (RFC 9110 field lines).
        let links: Vec<&str> = headers
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let link = (!links.is_empty()).then(|| links.join(", "));
        parse_page(
            url,
            &body,
            link.as_deref(),
            &self.options.records_pointer,
            &self.options.pagination,
        )
    }
}

/// The state of one read: the page to fetch, the records of the current
/// page still to yield, and where the read stands.
struct Reader<E> {
    shared: Arc<Shared<E>>,
    next: Option<Url>,
    fetched: HashSet<Url>,
    pending: VecDeque<Result<Record<E>>>,
    /// Records at or before this were delivered before (the resume point).
    after: Option<TimeIdCursor>,
    /// The last record yielded, to check the listing's order.
    last: Option<TimeIdCursor>,
}

impl<E: Mappable> Reader<E> {
    async fn next_item(&mut self) -> Option<Result<Record<E>>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                if item.is_err() {
                    self.finish();
                }
                return Some(item);
            }
            // No next page: the listing ended or the read stopped.
            let url = self.next.take()?;
            self.fetched.insert(url.clone());
            match self.shared.fetch(&url).await {
                Err(e) => {
                    self.finish();
                    return Some(Err(self.shared.context(e)));
                }
                Ok(page) => {
                    if let Some(next) = &page.next
                        && self.fetched.contains(next)
                    {
                        self.records(&url, page.records);
                        let e = Error::new(
                            ErrorKind::Unexpected,
                            format!(
                                "GET {url}: pagination did not advance: the next page is {next}, which was already fetched"
                            ),
                        );
                        self.pending.push_back(Err(self.shared.context(e)));
                        continue;
                    }
                    self.next = page.next;
                    self.records(&url, page.records);
                }
            }
        }
    }

    fn finish(&mut self) {
        self.next = None;
        self.pending.clear();
    }

    /// Turns one page's raw records into pending items, stopping at the first bad one.
    fn records(&mut self, url: &Url, raw: Vec<Value>) {
        let now = Utc::now();
        for (index, value) in raw.into_iter().enumerate() {
            match self.record(url, index, value, now) {
                Ok(Some(record)) => self.pending.push_back(Ok(record)),
                Ok(None) => {}
                Err(e) => {
                    self.pending.push_back(Err(self.shared.context(e)));
                    self.next = None;
                    return;
                }
            }
        }
    }

    /// One raw record: `None` when it was delivered before (at or before the resume point).
    fn record(
        &mut self,
        url: &Url,
        index: usize,
        value: Value,
        now: DateTime<Utc>,
    ) -> Result<Option<Record<E>>> {
        let shared = &*self.shared;
        let page = self.fetched.len();
        let place = format!("GET {url} (page {page}), record #{index}");
        let id = id_at(&value, &shared.options.id_pointer).ok_or_else(|| {
            Error::invalid_data(format!(
                "{place}: no id (a non-empty string or a number) at {:?}",
                shared.options.id_pointer
            ))
        })?;
        let place = format!("{place} (id {id})");
        let (changed_at, cursor) = match &shared.options.incremental {
            None => (now, Cursor::new(id.clone())),
            Some(inc) => {
                let at = time_at(&value, inc)
                    .map_err(|why| Error::invalid_data(format!("{place}: {why}")))
                    .map_err(|e| e.with_external_id(id.clone()))?;
                let here = TimeIdCursor::new(at, id.clone());
                let unordered = |other: &TimeIdCursor| {
                    Error::invalid_data(format!(
                        "{place}: id {id:?} and id {:?} cannot be ordered as {:?} ids",
                        other.id, inc.id_order
                    ))
                };
                if let Some(after) = &self.after {
                    match inc.id_order.compare_places(&here, after) {
                        None => return Err(unordered(after)),
                        Some(Ordering::Less | Ordering::Equal) => return Ok(None),
                        Some(Ordering::Greater) => {}
                    }
                }
                if let Some(last) = &self.last {
                    match inc.id_order.compare_places(&here, last) {
                        None => return Err(unordered(last)),
                        Some(Ordering::Less) => {
                            return Err(Error::new(
                                ErrorKind::Unexpected,
                                format!(
                                    "{place}: changed {at} comes before the previous record (id {}, changed {}); the API must list records by change time, then id, or resuming could skip records",
                                    last.id, last.at
                                ),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                let cursor = here.encode();
                self.last = Some(here);
                (at, cursor)
            }
        };
        let mapped = shared
            .spec
            .apply_with(&value, &ApplyOptions::default().with_now(now))
            .map_err(|e| {
                let field = match e.failures.as_slice() {
                    [only] => Some(only.target.clone()),
                    _ => None,
                };
                let err = Error::invalid_data(format!("{place}: {e}")).with_external_id(id.clone());
                match field {
                    Some(f) => err.with_field(f),
                    None => err,
                }
            })?;
        let external = ExternalRef::try_new(shared.config.system.as_str(), id)?;
        Ok(Some(Record::new(
            mapped.entity,
            external,
            cursor,
            changed_at,
        )))
    }
}

/// A record's id: a non-empty string or a number at `pointer`.
pub(crate) fn id_at(value: &Value, pointer: &str) -> Option<String> {
    match value.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A record's change time: RFC 3339 text or whole Unix seconds.
fn time_at(value: &Value, inc: &Incremental) -> std::result::Result<DateTime<Utc>, String> {
    let p = &inc.changed_pointer;
    match value.pointer(p) {
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| format!("change time {s:?} at {p:?} is not RFC 3339: {e}")),
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|s| DateTime::from_timestamp(s, 0))
            .ok_or_else(|| format!("change time {n} at {p:?} is not whole Unix seconds")),
        Some(other) => Err(format!("change time at {p:?} is {other}, not a time")),
        None => Err(format!("no change time at {p:?}")),
    }
}
