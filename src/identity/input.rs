//! Customer CSV files described by a spec: which columns make which
//! canonical field, which extra columns are compared as attributes, which
//! column is the record id, and the matching model.
//!
//! ```
//! use seamwork::identity::input::DedupeSpec;
//!
//! let spec = DedupeSpec::from_toml_str(r#"
//!     id = "customer_id"
//!     [fields]
//!     first_name = "First"
//!     last_name = "Last"
//!     email = "Email"
//!     line1 = ["House", "Street"]   # joined with a space
//!     postcode = "Zip"
//!     [[attributes]]
//!     name = "birth_date"
//!     columns = "DOB"
//!     kind = "date"
//!     comparator = { kind = "date", max_days = [1, 31] }
//! "#).unwrap();
//! let csv = "customer_id,First,Last,Email,House,Street,Zip,DOB\n\
//!            7,Ada,Lovelace,ada@example.com,12,Main St,02134,1815-12-10\n\
//!            ,No,Id,x@example.com,1,A St,1,\n";
//! let read = spec.read_csv(csv.as_bytes(), "a.csv", 0).unwrap();
//! assert_eq!(read.records.len(), 1);
//! assert_eq!(read.records[0].address_lines, ["12 main st"]);
//! assert!(read.rejected[0].to_string().contains("line 3"));
//! ```

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::cluster::ClusterOptions;
use super::compare::Comparator;
use super::linker::{LinkOptions, par_chunks};
use super::record::{AttributeKind, PreparedRecord};
use super::scoring::{Field, FieldConfig};
use crate::error::Error;
use crate::model::{Address, Customer};

/// One column or several joined with a space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Columns {
    /// One column.
    One(String),
    /// Several columns, joined with a space (empty parts skipped).
    Many(Vec<String>),
}

impl Columns {
    fn names(&self) -> Vec<&str> {
        match self {
            Columns::One(c) => vec![c.as_str()],
            Columns::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// An extra column compared as an attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AttributeSpec {
    /// The attribute's name in reports.
    pub name: String,
    /// Its column(s).
    pub columns: Columns,
    /// How it is normalized.
    #[serde(default)]
    pub kind: AttributeKind,
    /// How it is compared (default: exact).
    #[serde(default = "exact")]
    pub comparator: Comparator,
}

fn exact() -> Comparator {
    Comparator::Exact
}

/// The canonical fields a spec may fill.
pub const SPEC_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone",
    "line1",
    "line2",
    "city",
    "region",
    "postcode",
    "country",
    "created_at",
    "updated_at",
];

/// How customer CSV files are read and matched (`SPEC.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DedupeSpec {
    /// The record-id column.
    pub id: String,
    /// Canonical field → column(s); see [`SPEC_FIELDS`].
    #[serde(default)]
    pub fields: BTreeMap<String, Columns>,
    /// Country of addresses without a country column (ISO alpha-2).
    #[serde(default = "us")]
    pub default_country: String,
    /// Extra columns compared as attributes.
    #[serde(default)]
    pub attributes: Vec<AttributeSpec>,
    /// A column holding each row's true entity (labelled or generated data),
    /// for measuring precision and recall; not used for matching.
    #[serde(default)]
    pub truth: Option<String>,
    /// The matching model.
    #[serde(default)]
    pub model: LinkOptions,
    /// How matched pairs become clusters.
    #[serde(default)]
    pub cluster: ClusterOptions,
}

/// Rows normalized together (in parallel).
const BATCH: usize = 16_384;

fn us() -> String {
    "US".into()
}

/// A file read: prepared records and the rows refused, each with its line.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ReadOutcome {
    /// Rows that became records.
    pub records: Vec<PreparedRecord>,
    /// Rows refused (CSV errors, empty or repeated ids), naming file and line.
    pub rejected: Vec<Error>,
    /// Each record's truth column value, when the spec names one.
    pub truth: Vec<String>,
}

impl DedupeSpec {
    /// Parses and checks a spec; errors name the field.
    pub fn from_toml_str(text: &str) -> Result<Self, Error> {
        let mut spec: DedupeSpec = toml::from_str(text)
            .map_err(|e| Error::config(format!("dedupe spec: {}", e.message())).with_source(e))?;
        for name in spec.fields.keys() {
            if !SPEC_FIELDS.contains(&name.as_str()) {
                return Err(Error::config(format!(
                    "dedupe spec: fields.{name} is not a customer field; expected one of {}",
                    SPEC_FIELDS.join(", ")
                ))
                .with_field(format!("fields.{name}")));
            }
        }
        if spec.id.trim().is_empty() {
            return Err(
                Error::config("dedupe spec: id must name the record-id column").with_field("id"),
            );
        }
        let mut seen = HashSet::new();
        for (i, a) in spec.attributes.iter().enumerate() {
            if !seen.insert(a.name.as_str()) {
                return Err(Error::config(format!(
                    "dedupe spec: attributes[{i}].name {:?} is used twice",
                    a.name
                )));
            }
            if let Err(e) = a.comparator.check() {
                return Err(Error::config(format!(
                    "dedupe spec: attributes[{i}].comparator: {e}"
                )));
            }
        }
        // Attributes are compared after the model's own fields, in spec order.
        spec.model
            .fields
            .retain(|f| !matches!(f.field, Field::Attribute { .. }));
        for a in &spec.attributes {
            spec.model.fields.push(FieldConfig::new(
                Field::Attribute {
                    name: a.name.clone(),
                    kind: a.kind,
                },
                a.comparator.clone(),
            ));
        }
        spec.model.check()?;
        Ok(spec)
    }

    /// Reads a CSV with a header row: every good row becomes a record of
    /// input `source`; bad rows are refused with their line and skipped.
    ///
    /// A header without a column the spec names is an error for the whole file.
    pub fn read_csv(
        &self,
        input: impl Read,
        file: &str,
        source: u16,
    ) -> Result<ReadOutcome, Error> {
        let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(input);
        let header = reader
            .headers()
            .map_err(|e| {
                Error::invalid_data(format!("{file}: cannot read the header: {e}")).with_file(
                    file,
                    Some(1),
                    None,
                )
            })?
            .clone();
        let col = |name: &str| {
            header.iter().position(|h| h.trim() == name).ok_or_else(|| {
                Error::config(format!(
                    "{file}: the spec names column {name:?}, which the header does not have (columns: {})",
                    header.iter().collect::<Vec<_>>().join(", ")
                ))
                .with_file(file, Some(1), None)
            })
        };
        let id_col = col(&self.id)?;
        let truth_col = self.truth.as_deref().map(col).transpose()?;
        let mut fields: Vec<(&str, Vec<usize>)> = Vec::new();
        for (name, columns) in &self.fields {
            let idx = columns
                .names()
                .into_iter()
                .map(col)
                .collect::<Result<Vec<_>, _>>()?;
            fields.push((name.as_str(), idx));
        }
        let mut attrs: Vec<(AttributeKind, Vec<usize>)> = Vec::new();
        for a in &self.attributes {
            let idx = a
                .columns
                .names()
                .into_iter()
                .map(col)
                .collect::<Result<Vec<_>, _>>()?;
            attrs.push((a.kind, idx));
        }
        let mut out = ReadOutcome::default();
        let mut ids = HashSet::new();
        let mut pending = Vec::with_capacity(BATCH);
        let mut row = csv::StringRecord::new();
        loop {
            let line = reader.position().line();
            match reader.read_record(&mut row) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map_or(line, |p| p.line());
                    out.rejected.push(
                        Error::invalid_data(format!("{file} line {line}: {e}; row skipped"))
                            .with_file(file, Some(line), None),
                    );
                    if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                        break;
                    }
                    continue;
                }
            }
            let line = row.position().map_or(line, |p| p.line());
            let get = |idx: &[usize]| {
                let parts: Vec<&str> = idx
                    .iter()
                    .filter_map(|&i| row.get(i))
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .collect();
                parts.join(" ")
            };
            let id = row.get(id_col).unwrap_or("").trim();
            if id.is_empty() {
                out.rejected.push(
                    Error::invalid_data(format!(
                        "{file} line {line}: column {:?} (the record id) is empty; row skipped",
                        self.id
                    ))
                    .with_file(file, Some(line), None)
                    .with_field(self.id.clone()),
                );
                continue;
            }
            if !ids.insert(id.to_string()) {
                out.rejected.push(
                    Error::invalid_data(format!(
                        "{file} line {line}: record id {id:?} repeats an earlier row; row skipped"
                    ))
                    .with_file(file, Some(line), None)
                    .with_external_id(id),
                );
                continue;
            }
            let value = |name: &str| {
                fields
                    .iter()
                    .find(|f| f.0 == name)
                    .map(|f| get(&f.1))
                    .filter(|v| !v.is_empty())
            };
            let customer = self.customer(id, &value);
            let raw_attributes: Vec<String> = attrs.iter().map(|(_, idx)| get(idx)).collect();
            if let Some(t) = truth_col {
                out.truth.push(row.get(t).unwrap_or("").trim().to_string());
            }
            pending.push((customer, raw_attributes));
            if pending.len() == BATCH {
                self.prepare(&mut pending, &attrs, source, &mut out.records);
            }
        }
        self.prepare(&mut pending, &attrs, source, &mut out.records);
        Ok(out)
    }

    /// Normalizes a batch of rows on every core, in order.
    fn prepare(
        &self,
        pending: &mut Vec<(Customer, Vec<String>)>,
        attrs: &[(AttributeKind, Vec<usize>)],
        source: u16,
        out: &mut Vec<PreparedRecord>,
    ) {
        let options = &self.model.normalize;
        let threads = self.model.worker_threads();
        let batch: &[(Customer, Vec<String>)] = pending;
        let parts = par_chunks(batch.len(), threads, 512, |range| {
            batch[range]
                .iter()
                .map(|(c, raw)| {
                    let attributes = attrs
                        .iter()
                        .zip(raw)
                        .map(|((kind, _), v)| kind.normalize(v, options))
                        .collect();
                    PreparedRecord::from_customer(c, source, attributes, options)
                })
                .collect::<Vec<_>>()
        });
        out.extend(parts.into_iter().flatten());
        pending.clear();
    }

    /// The canonical customer of one row.
    fn customer(&self, id: &str, value: &dyn Fn(&str) -> Option<String>) -> Customer {
        let time = |name: &str| {
            value(name).and_then(|v| {
                DateTime::parse_from_rfc3339(&v)
                    .map(|t| t.with_timezone(&Utc))
                    .ok()
                    .or_else(|| {
                        NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                            .ok()
                            .and_then(|d| d.and_hms_opt(0, 0, 0))
                            .map(|t| t.and_utc())
                    })
            })
        };
        let updated = time("updated_at")
            .or_else(|| time("created_at"))
            .unwrap_or_default();
        let mut c = Customer::new(id, time("created_at").unwrap_or(updated));
        c.updated_at = updated;
        c.first_name = value("first_name");
        c.last_name = value("last_name");
        c.emails.extend(value("email"));
        c.phones.extend(value("phone"));
        let line1 = value("line1");
        let postcode = value("postcode");
        if line1.is_some() || postcode.is_some() {
            let country = value("country").unwrap_or_else(|| self.default_country.clone());
            let mut a = Address::new(
                line1.unwrap_or_default(),
                value("city").unwrap_or_default(),
                country,
            );
            a.line2 = value("line2");
            a.region = value("region");
            a.postcode = postcode;
            c.addresses.push(a);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r#"
        id = "id"
        [fields]
        first_name = "first"
        last_name = "last"
        email = "email"
        phone = "phone"
        line1 = "street"
        postcode = "zip"
    "#;

    #[test]
    fn bad_rows_are_reported_with_lines_and_skipped() {
        let spec = DedupeSpec::from_toml_str(SPEC).unwrap();
        let csv = "id,first,last,email,phone,street,zip\n\
                   1,Ann,Lee,ann@x.com,(415) 555-0132,1 Main Street,02134\n\
                   2,Bob,Ray\n\
                   ,Cy,Oh,c@x.com,,,\n\
                   1,Dup,Row,d@x.com,,,\n\
                   3,\"Quoted, Name\",Z,z@x.com,,,\n";
        let out = spec.read_csv(csv.as_bytes(), "in.csv", 2).unwrap();
        let ids: Vec<_> = out.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["1", "3"]);
        assert_eq!(out.records[0].phones, ["+14155550132"]);
        assert_eq!(out.records[0].source, 2);
        let msgs: Vec<String> = out.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].contains("line 3"), "{}", msgs[0]);
        assert!(
            msgs[1].contains("line 4") && msgs[1].contains("empty"),
            "{}",
            msgs[1]
        );
        assert!(
            msgs[2].contains("line 5") && msgs[2].contains("repeats"),
            "{}",
            msgs[2]
        );
    }

    #[test]
    fn missing_columns_and_bad_specs_are_errors() {
        let spec = DedupeSpec::from_toml_str(SPEC).unwrap();
        let e = spec
            .read_csv("id,first\n1,a\n".as_bytes(), "x.csv", 0)
            .unwrap_err();
        assert!(
            e.to_string().contains("which the header does not have"),
            "{e}"
        );
        let e =
            DedupeSpec::from_toml_str("id = \"id\"\n[fields]\nshoe_size = \"s\"\n").unwrap_err();
        assert!(e.to_string().contains("fields.shoe_size"), "{e}");
        assert!(DedupeSpec::from_toml_str("id = \"\"").is_err());
        assert!(DedupeSpec::from_toml_str("id = 3").is_err());
        let e = DedupeSpec::from_toml_str("id = \"id\"\n[model]\nthreshold = 2.0\n").unwrap_err();
        assert!(e.to_string().contains("threshold"), "{e}");
    }

    #[test]
    fn attributes_join_the_model() {
        let spec = DedupeSpec::from_toml_str(&format!(
            "{SPEC}\n[[attributes]]\nname = \"dob\"\ncolumns = [\"y\", \"m\", \"d\"]\nkind = \"text\"\n"
        ))
        .unwrap();
        assert_eq!(spec.model.fields.last().unwrap().field.name(), "dob");
        let csv = "id,first,last,email,phone,street,zip,y,m,d\n1,A,B,,,,,1985,03,07\n";
        let out = spec.read_csv(csv.as_bytes(), "x.csv", 0).unwrap();
        assert_eq!(
            out.records[0].attributes,
            vec![Some(super::super::compare::Value::Text(
                "1985 03 07".into()
            ))]
        );
    }
}
