//! Canonical entities as rows: each entity is flattened to dotted columns
//! (`price.amount`, `lines[0].sku`) and diffed like any other record set.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::diff::{DiffOptions, DiffReport, diff_tables};
use super::spec::DiffSpec;
use super::table::Table;
use crate::connector::Entity;
use crate::error::Result;

/// Flattens a JSON tree into `column → text` (objects by `.`, lists by `[i]`,
/// null as empty text).
pub fn flatten(value: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten_into(value, &mut String::new(), &mut out);
    out
}

fn flatten_into(value: &Value, path: &mut String, out: &mut BTreeMap<String, String>) {
    let len = path.len();
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                flatten_into(v, path, out);
                path.truncate(len);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                flatten_into(v, path, out);
                path.truncate(len);
            }
        }
        Value::Null => {
            out.insert(path.clone(), String::new());
        }
        Value::String(s) => {
            out.insert(path.clone(), s.clone());
        }
        other => {
            out.insert(path.clone(), other.to_string());
        }
    }
}

/// Both sides' entities as tables sharing one column set (a field only some
/// records carry is empty in the others).
pub fn entity_tables<E: Entity>(
    left: &[E],
    right: &[E],
    spec: &DiffSpec,
) -> Result<(Table, Table)> {
    let flat = |xs: &[E]| -> Result<Vec<BTreeMap<String, String>>> {
        xs.iter()
            .map(|e| Ok(flatten(&serde_json::to_value(e)?)))
            .collect()
    };
    let (l, r) = (flat(left)?, flat(right)?);
    let columns: Vec<String> = l
        .iter()
        .chain(&r)
        .flat_map(|m| m.keys().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let table = |name: &str, rows: &[BTreeMap<String, String>]| {
        let values = rows
            .iter()
            .map(|m| columns.iter().map(|c| m.get(c).map_or("", String::as_str)));
        Table::from_rows(name, &columns, values, spec)
    };
    let name = E::KIND.name();
    Ok((
        table(&format!("left {name}"), &l)?,
        table(&format!("right {name}"), &r)?,
    ))
}

/// Diffs two sets of canonical entities with `spec` (see [`DiffSpec::for_entity`]).
///
/// ```
/// use chrono::Utc;
/// use seamwork::connector::{Entity, EntityKind};
/// use seamwork::model::{InventoryLevel, LocationId, Sku};
/// use seamwork::reconcile::{diff_entities, DiffSpec};
///
/// let at = Utc::now();
/// let mut erp = InventoryLevel::new(Sku::new("TEE").unwrap(), LocationId::new("DC").unwrap(), at);
/// erp.on_hand = 5;
/// let mut store = erp.clone();
/// store.on_hand = 7;
/// let spec = DiffSpec::for_entity(EntityKind::InventoryLevel);
/// let report = diff_entities(&[erp], &[store], &spec).unwrap();
/// assert_eq!(report.differences[0].fields[0].field, "on_hand");
/// ```
pub fn diff_entities<E: Entity>(left: &[E], right: &[E], spec: &DiffSpec) -> Result<DiffReport> {
    let (l, r) = entity_tables(left, right, spec)?;
    diff_tables(&l, &r, spec, &DiffOptions::default().with_threads(1))
}
