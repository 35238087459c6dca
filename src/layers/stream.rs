//! Hand-written record-stream wrappers for the layers' read paths.
//!
//! Records can be large (an order with its lines and addresses), and a
//! stream built with `unfold` moves each one several times per layer; these
//! wrappers pass an item through with one move and allocate nothing on the
//! fast path (no timer, no boxed future, unless the layer must wait).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, Stream, StreamExt};
use tokio::time::{Instant, Sleep};

use crate::connector::{Entity, Record, RecordStream};
use crate::error::{Error, Result};

type Item<E> = Result<Record<E>>;

/// Shows each item to `hook`, then `None` once at the end of the stream;
/// the inner stream is polled inside `span`.
pub(crate) struct Watch<E, F> {
    inner: Option<RecordStream<E>>,
    span: tracing::Span,
    hook: F,
}

impl<E: Entity, F: FnMut(Option<&Item<E>>) + Send + Unpin + 'static> Watch<E, F> {
    pub(crate) fn boxed(inner: RecordStream<E>, span: tracing::Span, hook: F) -> RecordStream<E> {
        Watch {
            inner: Some(inner),
            span,
            hook,
        }
        .boxed()
    }
}

impl<E: Entity, F: FnMut(Option<&Item<E>>) + Unpin> Stream for Watch<E, F> {
    type Item = Item<E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<E>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = {
            let _entered = this.span.enter();
            inner.poll_next_unpin(cx)
        };
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(item)) => {
                (this.hook)(Some(&item));
                Poll::Ready(Some(item))
            }
            Poll::Ready(None) => {
                this.inner = None;
                (this.hook)(None);
                Poll::Ready(None)
            }
        }
    }
}

/// What a gate holds while an item is pulled; told when no record came.
pub(crate) trait Hold: Send + Unpin + 'static {
    /// The stream ended or failed instead of giving the record this was taken for.
    fn unused(self)
    where
        Self: Sized,
    {
    }
}

impl Hold for () {}

impl Hold for Option<tokio::sync::OwnedSemaphorePermit> {}

/// What a gate says before the next item is pulled.
pub(crate) enum Admit<G> {
    /// Pull at once.
    Pass,
    /// Pull at once, holding this until the item arrives.
    Now(G),
    /// Wait for this first, then hold its output until the item arrives.
    Wait(BoxFuture<'static, G>),
}

/// Asks `gate` (with the number of items pulled so far) before pulling each item.
pub(crate) struct Gated<E, G, F> {
    inner: Option<RecordStream<E>>,
    gate: F,
    waiting: Option<BoxFuture<'static, G>>,
    held: Option<G>,
    admitted: bool,
    pulled: u64,
}

impl<E, G, F> Gated<E, G, F>
where
    E: Entity,
    G: Hold,
    F: FnMut(u64) -> Admit<G> + Send + Unpin + 'static,
{
    pub(crate) fn boxed(inner: RecordStream<E>, gate: F) -> RecordStream<E> {
        Gated {
            inner: Some(inner),
            gate,
            waiting: None,
            held: None,
            admitted: false,
            pulled: 0,
        }
        .boxed()
    }
}

impl<E: Entity, G: Hold, F: FnMut(u64) -> Admit<G> + Unpin> Stream for Gated<E, G, F> {
    type Item = Item<E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<E>>> {
        let this = self.get_mut();
        if this.inner.is_none() {
            return Poll::Ready(None);
        }
        if !this.admitted && this.waiting.is_none() {
            match (this.gate)(this.pulled) {
                Admit::Pass => this.admitted = true,
                Admit::Now(g) => {
                    this.held = Some(g);
                    this.admitted = true;
                }
                Admit::Wait(f) => this.waiting = Some(f),
            }
        }
        if let Some(wait) = this.waiting.as_mut() {
            match wait.poll_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(g) => {
                    this.held = Some(g);
                    this.waiting = None;
                    this.admitted = true;
                }
            }
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(item) => {
                let held = this.held.take();
                this.admitted = false;
                this.pulled += 1;
                if item.is_none() {
                    this.inner = None;
                }
                if !matches!(item, Some(Ok(_)))
                    && let Some(g) = held
                {
                    g.unused();
                }
                Poll::Ready(item)
            }
        }
    }
}

/// Ends the stream with `on_timeout(records delivered)` when the next item
/// takes longer than `limit`. The timer is armed only when the inner stream
/// makes the caller wait, and re-armed, not re-created, per item.
pub(crate) struct Deadline<E, F> {
    inner: Option<RecordStream<E>>,
    limit: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    armed: bool,
    delivered: u64,
    on_timeout: F,
}

impl<E: Entity, F: Fn(u64) -> Error + Send + Unpin + 'static> Deadline<E, F> {
    pub(crate) fn boxed(inner: RecordStream<E>, limit: Duration, on_timeout: F) -> RecordStream<E> {
        Deadline {
            inner: Some(inner),
            limit,
            sleep: None,
            armed: false,
            delivered: 0,
            on_timeout,
        }
        .boxed()
    }
}

impl<E: Entity, F: Fn(u64) -> Error + Unpin> Stream for Deadline<E, F> {
    type Item = Item<E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item<E>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(item) = inner.poll_next_unpin(cx) {
            this.armed = false;
            match &item {
                Some(Ok(_)) => this.delivered += 1,
                Some(Err(_)) | None => this.inner = None,
            }
            return Poll::Ready(item);
        }
        let deadline = Instant::now() + this.limit;
        // Created on the first wait, so building the stream needs no runtime.
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !this.armed {
            sleep.as_mut().reset(deadline);
            this.armed = true;
        }
        match sleep.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                this.inner = None;
                Poll::Ready(Some(Err((this.on_timeout)(this.delivered))))
            }
        }
    }
}
