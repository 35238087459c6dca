//! Turning "fetch one page" into a record stream.
//!
//! Most APIs are paged (GraphQL `pageInfo.endCursor`, REST `Link` headers, SQL
//! keyset pages). [`paginate`] calls your page function with the cursor to
//! continue from until it says there is no next page, and guards against a
//! server that returns the same cursor forever.
//!
//! ```
//! use futures::{StreamExt, TryStreamExt};
//! use seamwork::connector::{paginate, Cursor, Page, Record};
//! use seamwork::model::{ExternalRef, Location, LocationId, LocationKind};
//!
//! # tokio_test_block(async {
//! let stream = paginate(None, |since: Option<Cursor>| async move {
//!     let n: usize = since.map(|c| c.as_str().parse().unwrap()).unwrap_or(0);
//!     let id = LocationId::new(format!("L{n}")).unwrap();
//!     let loc = Location::new(id, "x", LocationKind::Store);
//!     let rec = Record::new(loc, ExternalRef::new("demo", n.to_string()), Cursor::new((n + 1).to_string()), chrono::Utc::now());
//!     Ok(Page::new(vec![rec], (n < 2).then(|| Cursor::new((n + 1).to_string()))))
//! });
//! let all: Vec<_> = stream.try_collect().await.unwrap();
//! assert_eq!(all.len(), 3);
//! # });
//! # fn tokio_test_block<F: std::future::Future>(f: F) -> F::Output { futures::executor::block_on(f) }
//! ```

use std::collections::HashSet;
use std::future::Future;

use futures::{StreamExt, TryStreamExt, stream};

use super::cursor::Cursor;
use super::entity::Entity;
use super::record::Record;
use super::traits::RecordStream;
use crate::error::{Error, ErrorKind, Result};

/// One page of a paged read.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Page<E> {
    /// The records of this page, in order.
    pub records: Vec<Record<E>>,
    /// Where the next page starts; `None` when this was the last page.
    pub next: Option<Cursor>,
}

impl<E> Page<E> {
    /// A page.
    pub fn new(records: Vec<Record<E>>, next: Option<Cursor>) -> Self {
        Page { records, next }
    }
}

/// Streams every record of every page, starting after `since`.
///
/// The first `Err` from `fetch` is yielded and ends the stream. A page whose
/// next cursor was already fetched (a server ignoring the cursor, or a cycle)
/// is an [`ErrorKind::Unexpected`] error rather than an endless loop.
pub fn paginate<E, F, Fut>(since: Option<Cursor>, fetch: F) -> RecordStream<E>
where
    E: Entity,
    F: FnMut(Option<Cursor>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<E>>> + Send + 'static,
{
    struct State<F> {
        fetch: F,
        next: Option<Cursor>,
        done: bool,
        asked: HashSet<Cursor>,
    }
    let state = State {
        fetch,
        next: since,
        done: false,
        asked: HashSet::new(),
    };
    stream::try_unfold(state, |mut st| async move {
        if st.done {
            return Ok(None);
        }
        let asked = st.next.clone();
        let page = (st.fetch)(asked.clone()).await?;
        if let Some(c) = &asked {
            st.asked.insert(c.clone());
        }
        if let Some(next) = page.next.as_ref().filter(|n| st.asked.contains(*n)) {
            return Err(Error::new(
                ErrorKind::Unexpected,
                format!(
                    "pagination did not advance: a page pointed back at cursor {:?}, which was already fetched",
                    next.as_str()
                ),
            ));
        }
        st.done = page.next.is_none();
        st.next = page.next;
        Ok(Some((page.records, st)))
    })
    .map_ok(|records| stream::iter(records.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ExternalRef, Location, LocationId, LocationKind};
    use futures::executor::block_on;

    fn record(n: usize) -> Record<Location> {
        let loc = Location::new(
            LocationId::new(format!("L{n}")).unwrap(),
            "x",
            LocationKind::Store,
        );
        Record::new(
            loc,
            ExternalRef::new("t", n.to_string()),
            Cursor::new(n.to_string()),
            chrono::Utc::now(),
        )
    }

    #[test]
    fn a_page_pointing_back_at_itself_is_an_error_not_a_loop() {
        let stream = paginate::<Location, _, _>(Some(Cursor::new("5")), |since| async move {
            Ok(Page::new(Vec::new(), since))
        });
        let items: Vec<_> = block_on(stream.collect::<Vec<_>>());
        assert_eq!(items.len(), 1);
        let err = items[0].as_ref().unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::Unexpected);
        assert!(err.to_string().contains("did not advance"), "{err}");
    }

    #[test]
    fn a_server_that_ignores_the_cursor_is_stopped() {
        // Non-empty pages that always point at the same next cursor.
        let stream = paginate::<Location, _, _>(None, |_| async move {
            Ok(Page::new(vec![record(1)], Some(Cursor::new("1"))))
        });
        let items: Vec<_> = block_on(stream.collect::<Vec<_>>());
        assert_eq!(items.len(), 2, "the first page, then the error");
        assert!(
            items[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("already fetched")
        );
    }

    #[test]
    fn a_cycle_of_cursors_is_stopped() {
        let stream = paginate::<Location, _, _>(None, |since| async move {
            let next = match since.as_ref().map(Cursor::as_str) {
                None => "A",
                Some("A") => "B",
                _ => "A",
            };
            Ok(Page::new(vec![record(1)], Some(Cursor::new(next))))
        });
        let items: Vec<_> = block_on(stream.collect::<Vec<_>>());
        assert!(items.last().unwrap().is_err());
        assert_eq!(
            items.len(),
            3,
            "pages from None and A, then B points back at A"
        );
    }

    #[test]
    fn an_error_ends_the_stream_after_the_records_before_it() {
        let stream = paginate::<Location, _, _>(None, |since| async move {
            match since {
                None => Ok(Page::new(
                    vec![record(1), record(2)],
                    Some(Cursor::new("2")),
                )),
                Some(_) => Err(Error::unavailable("page 2 timed out")),
            }
        });
        let items: Vec<_> = block_on(stream.collect::<Vec<_>>());
        assert_eq!(items.len(), 3);
        assert!(items[0].is_ok() && items[1].is_ok());
        assert!(items[2].as_ref().unwrap_err().is_retryable());
    }

    #[test]
    fn empty_source_yields_nothing() {
        let stream =
            paginate::<Location, _, _>(None, |_| async { Ok(Page::new(Vec::new(), None)) });
        assert!(block_on(stream.collect::<Vec<_>>()).is_empty());
    }
}
