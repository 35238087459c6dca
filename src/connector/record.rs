//! What flows through a connector: records read, outcomes written.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::cursor::Cursor;
use super::entity::EntityKey;
use crate::error::Error;
use crate::model::ExternalRef;

/// One change read from a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Record<E> {
    /// The entity as the source has it now.
    pub entity: E,
    /// Where it lives in the source.
    pub external_ref: ExternalRef,
    /// Resuming from this cursor never skips a later record (it may repeat
    /// records when the source delivers out of order).
    pub cursor: Cursor,
    /// When the source says it changed; the start of the SLA lag clock and
    /// part of the idempotency key.
    pub changed_at: DateTime<Utc>,
    /// When this process read it.
    pub observed_at: DateTime<Utc>,
}

impl<E> Record<E> {
    /// A record observed now.
    pub fn new(
        entity: E,
        external_ref: ExternalRef,
        cursor: Cursor,
        changed_at: DateTime<Utc>,
    ) -> Self {
        Record {
            entity,
            external_ref,
            cursor,
            changed_at,
            observed_at: Utc::now(),
        }
    }
}

/// What a sink did with one record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WriteResult {
    /// It did not exist and was created with this id.
    Created {
        /// Id in the sink's system.
        external_id: String,
    },
    /// It existed and was changed.
    Updated {
        /// Id in the sink's system.
        external_id: String,
    },
    /// It existed with exactly this content; nothing was written.
    Unchanged {
        /// Id in the sink's system.
        external_id: String,
    },
    /// It was refused; the error says why. Never silently dropped.
    Rejected {
        /// Why.
        error: Error,
    },
}

impl WriteResult {
    /// A rejection for `error`.
    pub fn rejected(error: Error) -> Self {
        WriteResult::Rejected { error }
    }

    /// The error, when rejected.
    pub fn rejection(&self) -> Option<&Error> {
        match self {
            WriteResult::Rejected { error } => Some(error),
            _ => None,
        }
    }

    /// True for created, updated and unchanged.
    pub fn is_ok(&self) -> bool {
        !matches!(self, WriteResult::Rejected { .. })
    }

    /// The sink's id, unless rejected.
    pub fn external_id(&self) -> Option<&str> {
        match self {
            WriteResult::Created { external_id }
            | WriteResult::Updated { external_id }
            | WriteResult::Unchanged { external_id } => Some(external_id),
            WriteResult::Rejected { .. } => None,
        }
    }
}

/// The outcome for one record of a batch, in batch order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WriteOutcome {
    /// The record's canonical key.
    pub key: EntityKey,
    /// What happened.
    pub result: WriteResult,
}

impl WriteOutcome {
    /// An outcome for `key`.
    pub fn new(key: EntityKey, result: WriteResult) -> Self {
        WriteOutcome { key, result }
    }
}
