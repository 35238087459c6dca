//! Applying a spec: outside record → canonical entity, and back.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::drift::SchemaProfile;
use super::out::{Node, NodeDe};
use super::schema::{FieldType, Mappable};
use super::spec::{FieldMap, Group, MappingSpec, SourceKind, key_prefix};
use super::transform::{self, Ctx, DecimalFormat};
use super::value::Val;
use super::xref::CrossReferences;
use crate::error::Error;
use crate::model::Currency;

/// What applying a spec may use besides the record.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ApplyOptions<'a> {
    /// Cross-references for `lookup` transforms.
    pub xrefs: Option<&'a dyn CrossReferences>,
    /// The time `now = true` fields get (fixed per batch, so a batch is reproducible).
    pub now: DateTime<Utc>,
}

impl Default for ApplyOptions<'_> {
    fn default() -> Self {
        ApplyOptions {
            xrefs: None,
            now: Utc::now(),
        }
    }
}

impl<'a> ApplyOptions<'a> {
    /// Uses `xrefs` for lookups.
    pub fn with_xrefs(mut self, xrefs: &'a dyn CrossReferences) -> Self {
        self.xrefs = Some(xrefs);
        self
    }

    /// Fixes the time `now = true` fields get.
    pub fn with_now(mut self, now: DateTime<Utc>) -> Self {
        self.now = now;
        self
    }
}

impl fmt::Debug for ApplyOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApplyOptions")
            .field("xrefs", &self.xrefs.is_some())
            .field("now", &self.now)
            .finish()
    }
}

/// One field that could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldFailure {
    /// Target field (`lines[1].quantity`).
    pub target: String,
    /// Source path it was read from, when it has one.
    pub source: Option<String>,
    /// The source value as found, when there was one.
    pub value: Option<String>,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for FieldFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.target)?;
        if let Some(s) = &self.source {
            write!(f, " (from {s}")?;
            if let Some(v) = &self.value {
                write!(f, " = {v}")?;
            }
            f.write_str(")")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every field of one record that could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MappingError {
    /// The spec's system.
    pub system: String,
    /// The entity kind.
    pub entity: String,
    /// The spec version that was applied.
    pub version: u32,
    /// Position of the record in its batch, when mapped in a batch.
    pub record: Option<usize>,
    /// The failed fields, all of them.
    pub failures: Vec<FieldFailure>,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} mapping v{}",
            self.system, self.entity, self.version
        )?;
        if let Some(i) = self.record {
            write!(f, ", record #{i}")?;
        }
        write!(f, ": {} field(s) failed: ", self.failures.len())?;
        for (i, x) in self.failures.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{x}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MappingError {}

impl From<MappingError> for Error {
    fn from(e: MappingError) -> Self {
        let mut err = Error::invalid_data(e.to_string())
            .with_system(e.system.clone())
            .with_entity(e.entity.clone());
        if let [only] = e.failures.as_slice() {
            err = err.with_field(only.target.clone());
        }
        err
    }
}

/// A mapped entity and the spec version that produced it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Mapped<E> {
    /// The entity.
    pub entity: E,
    /// Version of the spec that mapped it.
    pub version: u32,
    /// Position in its batch (0 for a single record).
    pub record: usize,
}

/// The result of mapping a batch: every input is either mapped or failed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BatchOutcome<E> {
    /// Records that mapped, in input order.
    pub mapped: Vec<Mapped<E>>,
    /// Records that failed, in input order, each with every failed field.
    pub failed: Vec<MappingError>,
}

impl<E> BatchOutcome<E> {
    /// Number of inputs (mapped + failed): nothing is dropped.
    pub fn len(&self) -> usize {
        self.mapped.len() + self.failed.len()
    }

    /// True when the batch was empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One group's mapped fields (by field number; `None` where a field was
/// left out) and lists, before they go into an entity. A text list field
/// holds a `Val::List` of text (made an array only for the tree).
struct Filled<'s> {
    fields: Vec<Option<Node<'s>>>,
    lists: Vec<(&'s str, Node<'s>)>,
}

impl<'s> Filled<'s> {
    /// Drops the mapped fields, skipping the drop of the values that own
    /// nothing (most of them): each such drop is otherwise a call.
    fn release(self) {
        for slot in self.fields {
            match slot {
                Some(Node::Leaf(v) | Node::Fixed(v)) if v.owns_nothing() => std::mem::forget(v),
                other => drop(other),
            }
        }
    }

    /// The mapped record as a tree keyed by target names, for serde: fields
    /// in spec order (dotted targets nested), then the lists.
    fn into_tree(self, g: &'s Group) -> Node<'s> {
        let mut out = Node::for_group(g);
        for (f, node) in g.fields.iter().zip(self.fields) {
            match node {
                // A list of text left in its slot is an array in the tree.
                Some(Node::Leaf(Val::List(items))) => out.set(
                    &f.target_keys,
                    Node::Array(items.into_iter().map(Node::Leaf).collect()),
                ),
                Some(node) => out.set(&f.target_keys, node),
                None => {}
            }
        }
        if let Node::Object(children) = &mut out {
            children.extend(self.lists);
        }
        out
    }
}

struct Run<'a> {
    opts: &'a ApplyOptions<'a>,
    system: &'a str,
    failures: Vec<FieldFailure>,
}

impl<E: Mappable> MappingSpec<E> {
    /// Maps one outside record with default options (no cross-references; `now` = the current time).
    pub fn apply(&self, input: &Value) -> Result<Mapped<E>, MappingError> {
        self.apply_with(input, &ApplyOptions::default())
    }

    /// Maps one outside record. The error lists every failed field with the
    /// source value, then every rule the resulting entity breaks.
    pub fn apply_with(
        &self,
        input: &Value,
        opts: &ApplyOptions<'_>,
    ) -> Result<Mapped<E>, MappingError> {
        self.apply_one(input, opts, None)
    }

    /// Maps a batch: every input ends up mapped or failed, never dropped. When
    /// `profile` is given, the inputs are also profiled for schema drift.
    pub fn apply_batch(
        &self,
        inputs: &[Value],
        opts: &ApplyOptions<'_>,
        mut profile: Option<&mut SchemaProfile>,
    ) -> BatchOutcome<E> {
        let mut out = BatchOutcome {
            mapped: Vec::with_capacity(inputs.len()),
            failed: Vec::new(),
        };
        for (i, input) in inputs.iter().enumerate() {
            if let Some(p) = profile.as_deref_mut() {
                p.observe(&self.root, input);
            }
            match self.apply_one(input, opts, Some(i)) {
                Ok(m) => out.mapped.push(m),
                Err(e) => out.failed.push(e),
            }
        }
        out
    }

    fn error(&self, record: Option<usize>, failures: Vec<FieldFailure>) -> MappingError {
        MappingError {
            system: self.system.clone(),
            entity: E::KIND.name().to_string(),
            version: self.version,
            record,
            failures,
        }
    }

    /// The entity from the mapped fields: straight from the field slots when
    /// a typed builder takes the spec and the record, else from the mapped
    /// tree through serde.
    fn entity<'s>(
        &'s self,
        mut filled: Filled<'s>,
        record: Option<usize>,
    ) -> Result<E, MappingError> {
        if let Some(entity) = self
            .plan
            .as_ref()
            .and_then(|plan| super::build::build::<E>(plan, &mut filled.fields))
        {
            filled.release();
            return Ok(entity);
        }
        self.deserialize(&filled.into_tree(&self.root), record)
    }

    /// The entity from the mapped tree through serde: for entities without a
    /// typed builder, and for every shape a builder does not take.
    fn deserialize(&self, out: &Node<'_>, record: Option<usize>) -> Result<E, MappingError> {
        E::deserialize(NodeDe(out)).map_err(|e| {
            self.error(
                record,
                vec![FieldFailure {
                    target: E::KIND.name().to_string(),
                    source: None,
                    value: None,
                    message: format!("the mapped fields do not make a {}: {e}", E::KIND.name()),
                }],
            )
        })
    }

    /// The mapped tree of one record, before it becomes an entity (for tests).
    #[cfg(test)]
    pub(crate) fn mapped_tree<'s>(&'s self, input: &'s Value) -> Node<'s> {
        let opts = ApplyOptions::default();
        let mut run = Run {
            opts: &opts,
            system: &self.system,
            failures: Vec::new(),
        };
        let filled = run.group(&self.root, input, input, &mut String::new());
        assert!(run.failures.is_empty(), "{:?}", run.failures);
        filled.into_tree(&self.root)
    }

    /// What the typed builder makes of one record, if it takes it (for tests).
    #[cfg(test)]
    pub(crate) fn built(&self, input: &Value) -> Option<E> {
        let opts = ApplyOptions::default();
        let mut run = Run {
            opts: &opts,
            system: &self.system,
            failures: Vec::new(),
        };
        let mut filled = run.group(&self.root, input, input, &mut String::new());
        assert!(run.failures.is_empty(), "{:?}", run.failures);
        super::build::build::<E>(self.plan.as_ref()?, &mut filled.fields)
    }

    fn apply_one(
        &self,
        input: &Value,
        opts: &ApplyOptions<'_>,
        record: Option<usize>,
    ) -> Result<Mapped<E>, MappingError> {
        let mut run = Run {
            opts,
            system: &self.system,
            failures: Vec::new(),
        };
        let filled = run.group(&self.root, input, input, &mut String::new());
        if !run.failures.is_empty() {
            return Err(self.error(record, run.failures));
        }
        let entity = self.entity(filled, record)?;
        if let Err(v) = entity.validate() {
            let failures = v
                .violations
                .into_iter()
                .map(|v| FieldFailure {
                    target: v.field.clone(),
                    source: None,
                    value: v.actual.clone(),
                    message: match v.expected {
                        Some(exp) => format!("{} (expected {exp})", v.rule),
                        None => v.rule,
                    },
                })
                .collect();
            return Err(self.error(record, failures));
        }
        Ok(Mapped {
            entity,
            version: self.version,
            record: record.unwrap_or(0),
        })
    }

    /// Maps an entity back to an outside payload for a sink: each field whose
    /// steps can be undone is written at its source path. Computed fields and
    /// one-way transforms are left out (see [`MappingSpec::one_way_fields`]).
    pub fn to_payload(&self, entity: &E, opts: &ApplyOptions<'_>) -> Result<Value, MappingError> {
        let canonical = serde_json::to_value(entity).map_err(|e| {
            self.error(
                None,
                vec![FieldFailure {
                    target: E::KIND.name().to_string(),
                    source: None,
                    value: None,
                    message: format!("cannot serialize: {e}"),
                }],
            )
        })?;
        let mut run = Run {
            opts,
            system: &self.system,
            failures: Vec::new(),
        };
        let mut out = Value::Object(Map::new());
        run.ungroup(&self.root, &canonical, &mut out, "");
        if run.failures.is_empty() {
            Ok(out)
        } else {
            Err(self.error(None, run.failures))
        }
    }
}

impl Run<'_> {
    fn fail(&mut self, prefix: &str, f: &FieldMap, value: Option<&Val>, message: String) {
        self.failures.push(FieldFailure {
            target: format!("{prefix}{}", f.target),
            source: match &f.source {
                SourceKind::Path(p) => Some(p.to_string()),
                SourceKind::Expr(_) => Some("expr".into()),
                _ => None,
            },
            value: value
                .filter(|v| !matches!(v, Val::Null))
                .map(ToString::to_string),
            message,
        });
    }

    /// The value a field starts from, before its transforms.
    fn raw<'x>(
        &self,
        f: &'x FieldMap,
        record: &'x Value,
        root: &'x Value,
    ) -> Result<Val<'x>, String> {
        Ok(match &f.source {
            SourceKind::Path(p) => p.get(record, root).map_or(Val::Null, Val::from_json),
            SourceKind::Const(v) => v.borrowed(),
            SourceKind::Now => Val::Time(self.opts.now),
            SourceKind::Expr(e) => e.eval(record, root)?,
        })
    }

    /// One field of a record, mapped into `slot`: its node, or `None` when
    /// it is left out (blank) or failed (the failure is recorded). `found`
    /// is its column's value when the one pass over the record met it. The
    /// value is made in its slot and changed there, step by step: moving
    /// the value enum costs more than most steps.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    fn field<'s>(
        &mut self,
        slot: &mut Option<Node<'s>>,
        f: &'s FieldMap,
        found: Option<&'s Value>,
        record: &'s Value,
        root: &'s Value,
        ctx: &Ctx<'_>,
        prefix: &str,
    ) {
        // A key the pass did not find is looked up: the pass only ever
        // finds a key's own value, so the result never depends on it.
        // Each way writes the slot itself: a value built elsewhere and
        // copied in is read back before its parts are stored, which stalls.
        match found {
            Some(Value::String(s)) => *slot = Some(Node::Leaf(Val::Text(Cow::Borrowed(s)))),
            Some(other) => *slot = Some(Node::Leaf(Val::from_json(other))),
            None => match self.raw(f, record, root) {
                Ok(v) => *slot = Some(Node::Leaf(v)),
                Err(msg) => {
                    self.fail(prefix, f, None, msg);
                    return;
                }
            },
        }
        let Some(Node::Leaf(v)) = slot else {
            unreachable!("just made a leaf")
        };
        let mut failure = None;
        for t in &f.transforms {
            if let Err(msg) = t.apply_mut(v, ctx) {
                failure = Some(msg);
                break;
            }
        }
        let failure = match failure {
            Some(msg) => Some(msg),
            None if v.is_blank() => {
                if !f.required {
                    *slot = None;
                    return;
                }
                Some("is required but missing or empty".to_string())
            }
            None if finished(v, f.ty) => None,
            None => {
                let taken = std::mem::replace(v, Val::Null);
                match finish(taken, f.ty) {
                    Ok(node) => {
                        *slot = Some(node);
                        None
                    }
                    Err(msg) => Some(msg),
                }
            }
        };
        if let Some(msg) = failure {
            *slot = None;
            // Read the source again only now, to show it in the message.
            let raw = self.raw(f, record, root).ok();
            self.fail(prefix, f, raw.as_ref(), msg);
            return;
        }
        // A constant's leaf is marked as one (a list stays as it is).
        if matches!(f.source, SourceKind::Const(_))
            && matches!(slot, Some(Node::Leaf(v)) if !matches!(v, Val::List(_)))
            && let Some(Node::Leaf(v)) = slot.take()
        {
            *slot = Some(Node::Fixed(v));
        }
    }

    fn group<'s>(
        &mut self,
        g: &'s Group,
        record: &'s Value,
        root: &'s Value,
        prefix: &mut String,
    ) -> Filled<'s> {
        let mut out = Filled {
            fields: Vec::with_capacity(g.fields.len()),
            lists: Vec::new(),
        };
        let ctx = Ctx {
            record,
            root,
            system: self.system,
            xrefs: self.opts.xrefs,
        };
        let mut found = [None; COLUMNS];
        let columns = read_columns(&g.columns, &g.column_prefixes, record, &mut found);
        for f in &g.fields {
            let found = if columns {
                f.column.and_then(|i| found[i])
            } else {
                None
            };
            out.fields.push(None);
            if let Some(slot) = out.fields.last_mut() {
                self.field(slot, f, found, record, root, &ctx, prefix);
            }
        }
        for l in &g.lists {
            let items = match l.source.get(record, root) {
                None if l.required => {
                    self.failures.push(FieldFailure {
                        target: format!("{prefix}{}", l.target),
                        source: Some(l.source.to_string()),
                        value: None,
                        message: "the source list is missing (an empty list must be sent as []; \
                                  set `required = false` on the list if it may be left out)"
                            .into(),
                    });
                    continue;
                }
                None | Some(Value::Null) => continue,
                Some(Value::Array(items)) => items,
                Some(other) => {
                    self.failures.push(FieldFailure {
                        target: format!("{prefix}{}", l.target),
                        source: Some(l.source.to_string()),
                        value: Some(Val::from_json(other).to_string()),
                        message: "expected an array".into(),
                    });
                    continue;
                }
            };
            let mut mapped = Vec::with_capacity(items.len());
            // One prefix buffer for the whole record: no allocation per element.
            let outer = prefix.len();
            for (i, item) in items.iter().enumerate() {
                use std::fmt::Write as _;
                let _ = write!(prefix, "{}[{i}].", l.target);
                let elem = self.group(&l.group, item, root, prefix);
                prefix.truncate(outer);
                mapped.push(elem.into_tree(&l.group));
            }
            out.lists.push((l.target.as_str(), Node::Array(mapped)));
        }
        self.check_parts(g, &mut out.fields, prefix);
        out
    }

    /// Drops optional parts that hold only constants (a guest order gets no
    /// customer ref just because the spec names the system) and reports parts
    /// that are only half mapped.
    fn check_parts(&mut self, g: &Group, fields: &mut [Option<Node<'_>>], prefix: &str) {
        for ((part, members), under) in g.parts.iter().zip(&g.part_fields) {
            let mut written = false;
            let mut only_fixed = true;
            // Members found, as bits (a part has a few; see `index_parts`).
            let mut found = 0u64;
            for &(i, member) in under {
                if let Some(node) = &fields[i] {
                    written = true;
                    only_fixed &= node.only_fixed();
                    if let Some(m) = member {
                        found |= 1 << m;
                    }
                }
            }
            if !written {
                continue;
            }
            if only_fixed {
                for &(i, _) in under {
                    fields[i] = None;
                }
                continue;
            }
            let missing: Vec<&str> = members
                .iter()
                .enumerate()
                .filter(|(m, _)| found & (1 << m) == 0)
                .map(|(_, name)| *name)
                .collect();
            if !missing.is_empty() {
                self.failures.push(FieldFailure {
                    target: format!("{prefix}{part}"),
                    source: None,
                    value: None,
                    message: format!(
                        "is only partly mapped: {} missing (map them, or none of `{part}`)",
                        missing.join(", ")
                    ),
                });
            }
        }
    }

    fn ungroup(&mut self, g: &Group, canonical: &Value, out: &mut Value, prefix: &str) {
        let ctx = Ctx {
            record: canonical,
            root: canonical,
            system: self.system,
            xrefs: self.opts.xrefs,
        };
        for f in g.fields.iter().filter(|f| f.reversible()) {
            let SourceKind::Path(source) = &f.source else {
                continue;
            };
            if source.from_root() {
                continue;
            }
            let Some(found) = f.target_path.get(canonical, canonical) else {
                continue;
            };
            let start = typed(found, f.ty);
            if matches!(start, Val::Null) {
                continue;
            }
            match f
                .transforms
                .iter()
                .rev()
                .try_fold(start.clone(), |v, t| t.undo(v, &ctx))
            {
                Ok(v) => {
                    if let Err(msg) = source.set(out, v.to_json()) {
                        self.fail(prefix, f, Some(&start), msg);
                    }
                }
                Err(msg) => self.fail(prefix, f, Some(&start), msg),
            }
        }
        for l in &g.lists {
            let Some(Value::Array(items)) = canonical.get(&l.target) else {
                continue;
            };
            let mut payload = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let mut elem = Value::Object(Map::new());
                self.ungroup(
                    &l.group,
                    item,
                    &mut elem,
                    &format!("{prefix}{}[{i}].", l.target),
                );
                payload.push(elem);
            }
            if !l.source.from_root()
                && let Err(message) = l.source.set(out, Value::Array(payload))
            {
                self.failures.push(FieldFailure {
                    target: format!("{prefix}{}", l.target),
                    source: Some(l.source.to_string()),
                    value: None,
                    message,
                });
            }
        }
    }
}

/// Most top-level keys a group reads in one pass (more are looked up one by one).
const COLUMNS: usize = 32;

/// Reads the values of `columns` (sorted, unique) from `record` in one pass
/// over its keys, which are kept sorted too: far fewer key comparisons than
/// a lookup per field. `prefixes[i]` is [`key_prefix`] of `columns[i]`: most
/// keys are ordered by it alone, without comparing text. `found[i]` gets the
/// value of `columns[i]` when the pass meets it; a column left `None` is
/// looked up by the caller, so even a map iterated out of order gives the
/// right values. False (nothing read) when the pass would not pay: too many
/// columns, a record that is not an object, or one with many more keys than
/// are read.
fn read_columns<'v>(
    columns: &[String],
    prefixes: &[u64],
    record: &'v Value,
    found: &mut [Option<&'v Value>],
) -> bool {
    debug_assert_eq!(columns.len(), prefixes.len());
    if columns.is_empty() || columns.len() > found.len() || columns.len() != prefixes.len() {
        return false;
    }
    let Value::Object(m) = record else {
        return false;
    };
    if m.len() > 4 * columns.len() + 8 {
        return false;
    }
    let mut at = 0;
    for (key, value) in m {
        let kp = key_prefix(key);
        while at < columns.len() {
            let order = match prefixes[at].cmp(&kp) {
                Ordering::Equal => order_after_prefix(&columns[at], key),
                order => order,
            };
            match order {
                Ordering::Less => at += 1,
                Ordering::Equal => {
                    found[at] = Some(value);
                    at += 1;
                    break;
                }
                Ordering::Greater => break,
            }
        }
        if at == columns.len() {
            break;
        }
    }
    true
}

/// How `a` and `b` are ordered as text when their [`key_prefix`]es are
/// equal: their first eight bytes agree (a shorter key's missing bytes read
/// as zero bytes of the longer), so only what follows is compared.
#[inline]
fn order_after_prefix(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() <= 8 || b.len() <= 8 {
        // One ends within the prefix: the rest of the other is zero bytes.
        a.len().cmp(&b.len())
    } else {
        a[8..].cmp(&b[8..])
    }
}

/// A canonical JSON value read with the type of its target field.
fn typed(v: &Value, ty: FieldType) -> Val<'_> {
    match (ty, v) {
        (FieldType::Decimal, Value::String(s)) => Decimal::from_str(s)
            .map(Val::Dec)
            .unwrap_or_else(|_| Val::Text(s.as_str().into())),
        (FieldType::DateTime, Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Val::Time(t.with_timezone(&Utc)))
            .unwrap_or_else(|_| Val::Text(s.as_str().into())),
        _ => Val::from_json(v),
    }
}

/// Whether `v` can fill a target of type `ty` (used to check constants when a spec loads).
pub(crate) fn check_value(v: Val, ty: FieldType) -> Result<(), String> {
    finish(v, ty).map(|_| ())
}

/// Puts the usual values into the canonical form of their target type
/// where they are, and tells whether that was done; `false` leaves the
/// value as it was for [`finish`] (every other value, and every error).
#[inline]
fn finished(v: &mut Val<'_>, ty: FieldType) -> bool {
    match (ty, &mut *v) {
        (FieldType::Text | FieldType::TextMap, Val::Text(_))
        | (FieldType::Decimal, Val::Dec(_))
        | (FieldType::DateTime, Val::Time(_))
        | (FieldType::Bool, Val::Bool(_))
        | (FieldType::Integer, Val::Int(_)) => true,
        (FieldType::Enum(values), Val::Text(s)) => values.contains(&s.as_ref()),
        (FieldType::Sku, Val::Text(s)) => {
            matches!(crate::model::Sku::check(s), Ok(checked) if checked.len() == s.len())
        }
        // Lists stay lists of text (see `Filled::into_tree`), barcodes in canonical form.
        (FieldType::TextList, Val::List(items)) => items.iter().all(|i| matches!(i, Val::Text(_))),
        (FieldType::GtinList, Val::List(items)) => items.iter_mut().all(|item| match item {
            Val::Text(s) => match crate::model::Gtin::digits(s) {
                Ok(Cow::Borrowed(_)) => true,
                Ok(Cow::Owned(digits)) => {
                    *s = Cow::Owned(digits);
                    true
                }
                Err(_) => false,
            },
            _ => false,
        }),
        (FieldType::Currency, Val::Text(s)) => match Currency::from_code(s) {
            Ok(c) => {
                *s = Cow::Borrowed(c.code());
                true
            }
            Err(_) => false,
        },
        _ => false,
    }
}

/// Converts a mapped value into the canonical form of its target type.
fn finish<'s>(v: Val<'s>, ty: FieldType) -> Result<Node<'s>, String> {
    let wrong = |v: &Val| format!("a {} value {v} cannot fill a {} field", v.kind(), ty.name());
    let leaf = |v: Val<'s>| Ok(Node::Leaf(v));
    match ty {
        FieldType::Text | FieldType::TextMap => match v {
            Val::Text(_) => leaf(v),
            Val::Int(_) | Val::Dec(_) | Val::Bool(_) | Val::Time(_) => match v.to_json() {
                Value::String(s) => leaf(Val::Text(s.into())),
                other => leaf(Val::Text(other.to_string().into())),
            },
            other => Err(wrong(&other)),
        },
        FieldType::Count => match finish(v, FieldType::Integer)? {
            Node::Leaf(Val::Int(i)) if i < 0 => Err(format!("{i} is negative; a count cannot be")),
            Node::Leaf(Val::Int(i)) if i > i64::from(u32::MAX) => {
                Err(format!("{i} is too large for a count"))
            }
            node => Ok(node),
        },
        FieldType::Sku => match v {
            // A valid SKU is its text trimmed: keep borrowing it.
            Val::Text(s) => match crate::model::Sku::check(&s) {
                Ok(checked) if checked.len() == s.len() => leaf(Val::Text(s)),
                Ok(_) => leaf(Val::Text(match s {
                    Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
                    Cow::Owned(o) => Cow::Owned(o.trim().to_string()),
                })),
                Err(e) => Err(e.message().to_string()),
            },
            other => finish(other, FieldType::Text).and_then(|n| match n {
                Node::Leaf(v) => finish(v, FieldType::Sku),
                n => Ok(n),
            }),
        },
        FieldType::GtinList => {
            let items = match finish(v, FieldType::TextList)? {
                Node::Array(items) => items,
                other => vec![other],
            };
            items
                .into_iter()
                .map(|n| match n {
                    Node::Leaf(Val::Text(s)) => match crate::model::Gtin::digits(&s) {
                        // Already in canonical form (the usual case): keep borrowing it.
                        Ok(Cow::Borrowed(_)) => Ok(Node::Leaf(Val::Text(s))),
                        Ok(Cow::Owned(digits)) => Ok(Node::Leaf(Val::Text(digits.into()))),
                        Err(e) => Err(e.message().to_string()),
                    },
                    other => Ok(other),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Node::Array)
        }
        FieldType::Integer => match v {
            Val::Int(_) => leaf(v),
            Val::Dec(d) if d.fract().is_zero() => leaf(Val::Int(
                i64::try_from(d).map_err(|_| format!("{d} is out of range"))?,
            )),
            Val::Text(s) => leaf(Val::Int(s.trim().parse::<i64>().map_err(|_| {
                format!("{s:?} is not a whole number; add an `integer` transform")
            })?)),
            other => Err(wrong(&other)),
        },
        FieldType::Decimal => leaf(Val::Dec(
            transform::decimal(&v, &DecimalFormat::default())
                .map_err(|e| format!("{e}; add a `decimal` transform with the right separator"))?,
        )),
        FieldType::Bool => match v {
            Val::Bool(_) => leaf(v),
            Val::Int(0) => leaf(Val::Bool(false)),
            Val::Int(1) => leaf(Val::Bool(true)),
            Val::Text(ref s) if s.eq_ignore_ascii_case("true") => leaf(Val::Bool(true)),
            Val::Text(ref s) if s.eq_ignore_ascii_case("false") => leaf(Val::Bool(false)),
            other => Err(format!("{}; add a `bool` transform", wrong(&other))),
        },
        FieldType::DateTime => leaf(Val::Time(
            transform::datetime(&v, &[transform::TimeFormat::Rfc3339], None)
                .map_err(|e| format!("{e}; add a `datetime` transform with the source's format"))?,
        )),
        FieldType::Currency => match &v {
            Val::Text(s) => leaf(Val::Text(
                Currency::from_code(s)
                    .map_err(|e| e.to_string())?
                    .code()
                    .into(),
            )),
            other => Err(wrong(other)),
        },
        FieldType::Enum(values) => match v {
            Val::Text(ref s) if values.contains(&s.as_ref()) => leaf(v),
            Val::Text(s) => Err(format!(
                "{s:?} is not one of {}; add a `map` transform",
                values.join(", ")
            )),
            other => Err(wrong(&other)),
        },
        FieldType::TextList => match v {
            Val::List(items) => Ok(Node::Array(
                items
                    .into_iter()
                    .map(|i| finish(i, FieldType::Text))
                    .collect::<Result<_, _>>()?,
            )),
            Val::Text(_) => Ok(Node::Array(vec![Node::Leaf(v)])),
            other => Err(wrong(&other)),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn one_pass_reads_what_lookups_read() {
        let pass = |columns: &[String], record: &Value| {
            let prefixes: Vec<u64> = columns.iter().map(|c| key_prefix(c)).collect();
            let mut found = [None; COLUMNS];
            assert!(read_columns(columns, &prefixes, record, &mut found));
            for (i, c) in columns.iter().enumerate() {
                assert_eq!(found[i], record.get(c), "{c}");
            }
        };
        let columns: Vec<String> = ["A", "B b", "C", "Z"].map(String::from).to_vec();
        let record = json!({"0": 1, "A": "a", "B b": null, "Ä": 2, "Y": [1], "Z": {"x": 1}});
        pass(&columns, &record);
        // Keys that share their first eight bytes are told apart by their text.
        let mut long: Vec<String> = [
            "WEIGHT_OZ",
            "WEIGHT_OZZ",
            "WEIGHT_O",
            "A\0",
            "A",
            "ÄÖÜ1",
            "ÄÖÜ2",
        ]
        .map(String::from)
        .to_vec();
        long.sort_unstable();
        let record = json!({"A": 1, "A\0": 2, "A\0\0": 3, "WEIGHT_O": 4, "WEIGHT_OZ": 5,
            "WEIGHT_OZY": 6, "WEIGHT_OZZ": 7, "ÄÖÜ2": 8, "ÄÖÜ3": 9});
        pass(&long, &record);
        // Not worth a pass (or nothing to pass over): the caller looks each up.
        let prefixes: Vec<u64> = columns.iter().map(|c| key_prefix(c)).collect();
        let wide = Value::Object((0..100).map(|i| (format!("k{i}"), json!(i))).collect());
        let list = json!(["A"]);
        let mut unused = [None; COLUMNS];
        assert!(!read_columns(&columns, &prefixes, &wide, &mut unused));
        assert!(!read_columns(&columns, &prefixes, &list, &mut unused));
        assert!(!read_columns(&[], &[], &record, &mut unused));
    }

    proptest::proptest! {
        /// Keys with equal prefixes order as their text.
        #[test]
        fn order_after_prefix_is_text_order(a in "[A\\x00_]{0,11}", b in "[A\\x00_]{0,11}") {
            if key_prefix(&a) == key_prefix(&b) {
                proptest::prop_assert_eq!(order_after_prefix(&a, &b), a.cmp(&b));
            }
        }
    }

    #[test]
    fn key_prefixes_order_keys_as_their_text() {
        let keys = [
            "",
            "\0",
            "A",
            "A\0",
            "A\0\0",
            "AB",
            "ABCDEFG",
            "ABCDEFGH",
            "ABCDEFGH\0",
            "ABCDEFGHI",
            "ABCDEFGI",
            "Ä",
            "ÄB",
            "Z",
            "ITEM_NO",
            "ITEM_NO_2",
            "CREATED",
            "CHANGED",
        ];
        for a in keys {
            for b in keys {
                let (pa, pb) = (key_prefix(a), key_prefix(b));
                if pa != pb {
                    assert_eq!(pa.cmp(&pb), a.cmp(b), "{a:?} vs {b:?}");
                }
                if a == b {
                    assert_eq!(pa, pb);
                }
            }
        }
    }
}
