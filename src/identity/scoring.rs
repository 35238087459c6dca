//! Fellegi–Sunter scoring: each field's agreement level weighs for or against
//! a match by log₂(m/u), where m is the chance of that level among true
//! matches and u among non-matches; the sum plus the prior is the match
//! weight, and the weight gives the match probability.
//!
//! An exact agreement on a field with term-frequency adjustment weighs by the
//! value's own frequency instead of the field's average u: agreeing on
//! "smith" says less than agreeing on "zwicky".
// Probabilities and log-odds are statistics, not money or quantities.
#![allow(clippy::disallowed_types)]

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::compare::{Comparator, Value};
use super::record::{AttributeKind, PreparedRecord};

/// At most this many compared fields.
pub const MAX_FIELDS: usize = 16;

/// A missing value (the field says nothing about this pair).
pub const MISSING: u8 = u8::MAX;

/// The agreement level of each field for one pair; unused slots are [`MISSING`].
pub type Levels = [u8; MAX_FIELDS];

/// A customer field that can be compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Field {
    /// Given name.
    FirstName,
    /// Family name.
    LastName,
    /// Any of the emails.
    Email,
    /// Any of the phones.
    Phone,
    /// Any address's postcode.
    Postcode,
    /// Any address's street lines.
    Address,
    /// Any address's city.
    City,
    /// An extra column (a birth date, a loyalty number).
    Attribute {
        /// The column's name in the spec.
        name: String,
        /// How it is normalized.
        #[serde(default)]
        kind: AttributeKind,
    },
}

impl Field {
    /// The field's name in reports (`first_name`, or the attribute's name).
    pub fn name(&self) -> &str {
        match self {
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Postcode => "postcode",
            Field::Address => "address",
            Field::City => "city",
            Field::Attribute { name, .. } => name,
        }
    }
}

/// How one field is compared and weighed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct FieldConfig {
    /// Which field.
    pub field: Field,
    /// How its values are graded.
    pub comparator: Comparator,
    /// Weigh exact agreement by the value's frequency.
    #[serde(default)]
    pub term_frequency: bool,
    /// Configured m per level (different … exact); learned by EM when absent.
    #[serde(default)]
    pub m: Option<Vec<f64>>,
    /// Configured u per level; estimated from random pairs when absent.
    #[serde(default)]
    pub u: Option<Vec<f64>>,
}

impl FieldConfig {
    /// A field compared with `comparator`, weights learned.
    pub fn new(field: Field, comparator: Comparator) -> Self {
        FieldConfig {
            field,
            comparator,
            term_frequency: false,
            m: None,
            u: None,
        }
    }

    /// The same with term-frequency adjustment on.
    pub fn with_term_frequency(mut self) -> Self {
        self.term_frequency = true;
        self
    }

    /// The default fields: names (Jaro-Winkler, term frequencies), email
    /// (exact: `jsmith1@` and `jsmith2@` are usually two people), phone
    /// (Levenshtein ≤ 2 for a slipped digit), postcode (exact, term
    /// frequencies), street line (Jaro-Winkler).
    pub fn defaults() -> Vec<FieldConfig> {
        vec![
            FieldConfig::new(Field::FirstName, Comparator::jaro_winkler(&[0.92, 0.8]))
                .with_term_frequency(),
            FieldConfig::new(Field::LastName, Comparator::jaro_winkler(&[0.92, 0.8]))
                .with_term_frequency(),
            FieldConfig::new(Field::Email, Comparator::Exact),
            FieldConfig::new(Field::Phone, Comparator::levenshtein(&[2])),
            FieldConfig::new(Field::Postcode, Comparator::Exact).with_term_frequency(),
            FieldConfig::new(Field::Address, Comparator::jaro_winkler(&[0.9])),
        ]
    }
}

/// The learned (or configured) probabilities of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldModel {
    /// The field's name.
    pub name: String,
    /// P(level | match), per level (different … exact).
    pub m: Vec<f64>,
    /// P(level | non-match), per level.
    pub u: Vec<f64>,
}

impl FieldModel {
    /// log₂(m/u) of a level.
    pub fn weight(&self, level: u8) -> f64 {
        let l = usize::from(level);
        (self.m[l] / self.u[l]).log2()
    }
}

/// A Fellegi–Sunter model: per-field m/u and the prior match probability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FsModel {
    /// Per compared field, in configuration order.
    pub fields: Vec<FieldModel>,
    /// Prior probability that two records drawn at random match (the prior
    /// that goes with u estimated from random pairs).
    pub lambda: f64,
}

/// The smallest probability used (keeps every weight finite).
pub(crate) const FLOOR: f64 = 1e-9;

/// Compares records and scores pairs with a [`FsModel`].
#[derive(Debug, Clone)]
pub struct Scorer {
    fields: Vec<FieldConfig>,
    model: FsModel,
    /// Per field: value → share of records holding it (term frequencies).
    tf: Vec<Option<HashMap<String, f64>>>,
    /// Cached weights per field and level.
    weights: Vec<Vec<f64>>,
    prior: f64,
    names: Option<(usize, usize)>,
    slots: Vec<usize>,
}

/// Each field's values in a record, borrowed.
#[derive(Clone, Copy)]
enum Values<'a> {
    Texts(&'a [String]),
    Attr(Option<&'a Value>),
}

fn values<'a>(field: &Field, attr_index: usize, r: &'a PreparedRecord) -> Values<'a> {
    match field {
        Field::FirstName => Values::Texts(r.first_name.as_slice()),
        Field::LastName => Values::Texts(r.last_name.as_slice()),
        Field::Email => Values::Texts(&r.emails),
        Field::Phone => Values::Texts(&r.phones),
        Field::Postcode => Values::Texts(&r.postcodes),
        Field::Address => Values::Texts(&r.address_lines),
        Field::City => Values::Texts(&r.cities),
        Field::Attribute { .. } => {
            Values::Attr(r.attributes.get(attr_index).and_then(Option::as_ref))
        }
    }
}

/// Per field, the index of its attribute among the attribute fields.
pub(crate) fn attribute_slots(fields: &[FieldConfig]) -> Vec<usize> {
    let mut next = 0;
    fields
        .iter()
        .map(|f| {
            let slot = next;
            if matches!(f.field, Field::Attribute { .. }) {
                next += 1;
            }
            slot
        })
        .collect()
}

/// Whether given and family name look swapped between two records: the
/// crosswise Jaro-Winkler similarities are high (≥ 0.9 on average) and
/// higher than the straight ones (`Smith John` vs `Jon Smith`).
fn names_swapped(a: &PreparedRecord, b: &PreparedRecord) -> bool {
    let (Some(af), Some(al), Some(bf), Some(bl)) =
        (&a.first_name, &a.last_name, &b.first_name, &b.last_name)
    else {
        return false;
    };
    if af == bf || al == bl {
        return false;
    }
    // Cheap test first: a swap keeps at least one crosswise initial.
    if af.as_bytes().first() != bl.as_bytes().first()
        && al.as_bytes().first() != bf.as_bytes().first()
    {
        return false;
    }
    use super::compare::jaro_winkler_upper_bound as bound;
    if bound(af, bl) < 0.8 || bound(al, bf) < 0.8 {
        return false; // the crosswise sum cannot reach 1.8
    }
    let cross = strsim::jaro_winkler(af, bl) + strsim::jaro_winkler(al, bf);
    cross >= 1.8 && cross > strsim::jaro_winkler(af, bf) + strsim::jaro_winkler(al, bl)
}

/// Compares two records field by field; the flag says names were swapped.
pub(crate) fn compare_records(
    fields: &[FieldConfig],
    a: &PreparedRecord,
    b: &PreparedRecord,
) -> (Levels, bool) {
    let mut levels = [MISSING; MAX_FIELDS];
    let swapped = names_swapped(a, b);
    let mut attr = 0;
    for (slot, fc) in levels.iter_mut().zip(fields) {
        let (va, vb) = match (&fc.field, swapped) {
            (Field::FirstName, true) => (
                Values::Texts(a.first_name.as_slice()),
                Values::Texts(b.last_name.as_slice()),
            ),
            (Field::LastName, true) => (
                Values::Texts(a.last_name.as_slice()),
                Values::Texts(b.first_name.as_slice()),
            ),
            (f, _) => (values(f, attr, a), values(f, attr, b)),
        };
        if matches!(fc.field, Field::Attribute { .. }) {
            attr += 1;
        }
        *slot = match (va, vb) {
            (Values::Texts(x), Values::Texts(y)) => {
                fc.comparator.compare_best(x, y).unwrap_or(MISSING)
            }
            (Values::Attr(Some(x)), Values::Attr(Some(y))) => fc.comparator.compare(x, y),
            _ => MISSING,
        };
    }
    (levels, swapped)
}

/// The values both sides share (for a multi-valued field, every one),
/// without allocating: this runs for every agreeing pair.
fn common_values<'a>(va: &Values<'a>, vb: &Values<'a>) -> impl Iterator<Item = &'a str> {
    let (texts, other, attr): (&[String], &[String], Option<&str>) = match (*va, *vb) {
        (Values::Texts(x), Values::Texts(y)) => (x, y, None),
        (Values::Attr(Some(Value::Text(x))), Values::Attr(Some(Value::Text(y)))) if x == y => {
            (&[], &[], Some(x.as_str()))
        }
        _ => (&[], &[], None),
    };
    texts
        .iter()
        .filter(move |v| other.contains(v))
        .map(String::as_str)
        .chain(attr)
}

/// Term frequencies of every field that asks for them.
pub(crate) fn term_frequencies(
    fields: &[FieldConfig],
    records: &[PreparedRecord],
) -> Vec<Option<HashMap<String, f64>>> {
    let slots = attribute_slots(fields);
    fields
        .iter()
        .zip(slots)
        .map(|(fc, slot)| {
            if !fc.term_frequency {
                return None;
            }
            let mut counts: HashMap<String, u64> = HashMap::new();
            let mut total = 0u64;
            for r in records {
                match values(&fc.field, slot, r) {
                    Values::Texts(vs) => {
                        for v in vs {
                            *counts.entry(v.clone()).or_default() += 1;
                            total += 1;
                        }
                    }
                    Values::Attr(Some(Value::Text(v))) => {
                        *counts.entry(v.clone()).or_default() += 1;
                        total += 1;
                    }
                    Values::Attr(_) => {}
                }
            }
            let total = total.max(1) as f64;
            Some(
                counts
                    .into_iter()
                    .map(|(k, c)| (k, c as f64 / total))
                    .collect(),
            )
        })
        .collect()
}

/// A field's part in a pair's score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldExplanation {
    /// The field.
    pub field: String,
    /// Its level, or `None` when a value was missing.
    pub level: Option<u8>,
    /// What the level means (`exact`, `jaro-winkler >= 0.92`, `missing`).
    pub meaning: String,
    /// The left record's values.
    pub left: String,
    /// The right record's values.
    pub right: String,
    /// log₂ Bayes factor added to the weight.
    pub weight: f64,
    /// Set when the weight used the agreed value's frequency instead of u.
    pub term_frequency: Option<f64>,
}

/// Why a pair scored what it scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Explanation {
    /// The prior's log₂ odds.
    pub prior_weight: f64,
    /// One entry per field.
    pub fields: Vec<FieldExplanation>,
    /// Given and family names were compared crosswise.
    pub names_swapped: bool,
    /// Total match weight.
    pub weight: f64,
    /// Match probability.
    pub probability: f64,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "match probability {:.4} (weight {:+.2}, prior {:+.2}{})",
            self.probability,
            self.weight,
            self.prior_weight,
            if self.names_swapped {
                ", names swapped"
            } else {
                ""
            }
        )?;
        for e in &self.fields {
            write!(
                f,
                "  {:<12} {:>+7.2}  {} ({:?} vs {:?})",
                e.field, e.weight, e.meaning, e.left, e.right
            )?;
            if let Some(tf) = e.term_frequency {
                write!(f, " [value frequency {tf:.5}]")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Match probability of a log₂-odds weight.
pub fn probability(weight: f64) -> f64 {
    1.0 / (1.0 + (-weight).exp2())
}

impl Scorer {
    /// A scorer from fields, their model and term frequencies.
    pub(crate) fn new(
        fields: Vec<FieldConfig>,
        model: FsModel,
        tf: Vec<Option<HashMap<String, f64>>>,
    ) -> Self {
        let weights = model
            .fields
            .iter()
            .map(|fm| (0..fm.m.len()).map(|l| fm.weight(l as u8)).collect())
            .collect();
        let lambda = model.lambda.clamp(FLOOR, 1.0 - FLOOR);
        let pos = |f: Field| fields.iter().position(|c| c.field == f);
        let names = pos(Field::FirstName).zip(pos(Field::LastName));
        Scorer {
            slots: attribute_slots(&fields),
            prior: (lambda / (1.0 - lambda)).log2(),
            fields,
            model,
            tf,
            weights,
            names,
        }
    }

    /// The model in use.
    pub fn model(&self) -> &FsModel {
        &self.model
    }

    /// The compared fields.
    pub fn fields(&self) -> &[FieldConfig] {
        &self.fields
    }

    /// The agreement levels of a pair.
    pub fn levels(&self, a: &PreparedRecord, b: &PreparedRecord) -> Levels {
        compare_records(&self.fields, a, b).0
    }

    /// The match weight (log₂ odds) of a pair.
    pub fn weight(&self, a: &PreparedRecord, b: &PreparedRecord) -> f64 {
        let (levels, swapped) = compare_records(&self.fields, a, b);
        let mut w = self.prior;
        for (i, &level) in levels.iter().take(self.fields.len()).enumerate() {
            if level == MISSING {
                continue;
            }
            w += self.field_weight(i, level, a, b, swapped).0;
        }
        w
    }

    /// The match probability of a pair.
    pub fn score(&self, a: &PreparedRecord, b: &PreparedRecord) -> f64 {
        probability(self.weight(a, b))
    }

    fn field_weight(
        &self,
        i: usize,
        level: u8,
        a: &PreparedRecord,
        b: &PreparedRecord,
        swapped: bool,
    ) -> (f64, Option<f64>) {
        let top = (self.weights[i].len() - 1) as u8;
        // Swapped names skip term frequencies: which table the value belongs
        // to is exactly what is in doubt.
        let swapped_name = swapped && self.names.is_some_and(|(f, l)| i == f || i == l);
        if swapped_name && let Some((f, l)) = self.names {
            // With first and last names crossed, which field's weights a
            // comparison takes would depend on which record comes first:
            // each crossed comparison takes the mean of the two.
            let (wf, wl) = (&self.weights[f], &self.weights[l]);
            if let (Some(x), Some(y)) = (wf.get(usize::from(level)), wl.get(usize::from(level))) {
                return ((x + y) / 2.0, None);
            }
        }
        if level == top
            && !swapped_name
            && let Some(tf) = &self.tf[i]
        {
            let (va, vb) = self.pair_values(i, self.slots[i], a, b, swapped);
            // The rarest shared value is the evidence: the same whichever
            // record comes first (picking the first shared value made a
            // pair's weight depend on the order of the two records).
            let rarest = common_values(&va, &vb)
                .filter_map(|v| tf.get(v).copied())
                .min_by(f64::total_cmp);
            if let Some(freq) = rarest {
                let m = self.model.fields[i].m[usize::from(top)];
                let u = freq.max(FLOOR);
                return ((m / u).log2(), Some(freq));
            }
        }
        (self.weights[i][usize::from(level)], None)
    }

    fn pair_values<'a>(
        &self,
        i: usize,
        slot: usize,
        a: &'a PreparedRecord,
        b: &'a PreparedRecord,
        swapped: bool,
    ) -> (Values<'a>, Values<'a>) {
        let field = &self.fields[i].field;
        if swapped && let Some((first, last)) = self.names {
            if i == first {
                return (
                    Values::Texts(a.first_name.as_slice()),
                    Values::Texts(b.last_name.as_slice()),
                );
            }
            if i == last {
                return (
                    Values::Texts(a.last_name.as_slice()),
                    Values::Texts(b.first_name.as_slice()),
                );
            }
        }
        (values(field, slot, a), values(field, slot, b))
    }

    /// The pair's score with every field's part in it.
    pub fn explain(&self, a: &PreparedRecord, b: &PreparedRecord) -> Explanation {
        let (levels, swapped) = compare_records(&self.fields, a, b);
        let slots = &self.slots;
        let show = |v: &Values<'_>| match v {
            Values::Texts(t) => t.join(" | "),
            Values::Attr(a) => a.map(ToString::to_string).unwrap_or_default(),
        };
        let mut total = self.prior;
        let mut fields = Vec::new();
        for (i, fc) in self.fields.iter().enumerate() {
            let level = levels[i];
            let (va, vb) = self.pair_values(i, slots[i], a, b, swapped);
            let (weight, tf) = if level == MISSING {
                (0.0, None)
            } else {
                self.field_weight(i, level, a, b, swapped)
            };
            total += weight;
            fields.push(FieldExplanation {
                field: fc.field.name().to_string(),
                level: (level != MISSING).then_some(level),
                meaning: if level == MISSING {
                    "missing".into()
                } else {
                    fc.comparator.describe(level)
                },
                left: show(&va),
                right: show(&vb),
                weight,
                term_frequency: tf,
            });
        }
        Explanation {
            prior_weight: self.prior,
            fields,
            names_swapped: swapped,
            weight: total,
            probability: probability(total),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(first: &str, last: &str, email: &str) -> PreparedRecord {
        PreparedRecord {
            first_name: Some(first.into()),
            last_name: Some(last.into()),
            emails: vec![email.into()],
            ..PreparedRecord::default()
        }
    }

    fn scorer(records: &[PreparedRecord]) -> Scorer {
        let fields = vec![
            FieldConfig::new(Field::FirstName, Comparator::jaro_winkler(&[0.9])),
            FieldConfig::new(Field::LastName, Comparator::jaro_winkler(&[0.9]))
                .with_term_frequency(),
            FieldConfig::new(Field::Email, Comparator::Exact),
        ];
        let fm = |name: &str, m: &[f64], u: &[f64]| FieldModel {
            name: name.into(),
            m: m.to_vec(),
            u: u.to_vec(),
        };
        let model = FsModel {
            fields: vec![
                fm("first_name", &[0.05, 0.15, 0.8], &[0.9, 0.08, 0.02]),
                fm("last_name", &[0.05, 0.15, 0.8], &[0.9, 0.08, 0.02]),
                fm("email", &[0.2, 0.8], &[0.999, 0.001]),
            ],
            lambda: 0.01,
        };
        let tf = term_frequencies(&model_fields(&fields), records);
        Scorer::new(fields, model, tf)
    }

    fn model_fields(f: &[FieldConfig]) -> Vec<FieldConfig> {
        f.to_vec()
    }

    #[test]
    fn weights_add_up_and_explain_themselves() {
        let mut records: Vec<_> = (0..8)
            .map(|i| rec("x", "smith", &format!("{i}@x.com")))
            .collect();
        records.push(rec("ada", "lovelace", "ada@x.com"));
        records.push(rec("ada", "lovelace", "ada@x.com"));
        let s = scorer(&records);
        let e = s.explain(&records[8], &records[9]);
        assert!((e.weight - s.weight(&records[8], &records[9])).abs() < 1e-9);
        assert!(e.probability > 0.99, "{e}");
        let rare = e.fields[1].weight;
        // "smith" is common: agreeing on it weighs less than on "lovelace".
        let common = s.explain(&records[0], &records[1]).fields[1].weight;
        assert!(rare > common, "{rare} vs {common}");
        assert_eq!(e.fields[2].meaning, "exact");
        assert!(e.to_string().contains("email"));
    }

    #[test]
    fn swapped_names_compare_crosswise_and_missing_is_neutral() {
        let records = vec![
            rec("john", "smith", "a@x.com"),
            rec("smith", "john", "a@x.com"),
        ];
        let s = scorer(&records);
        let e = s.explain(&records[0], &records[1]);
        assert!(e.names_swapped);
        assert_eq!(e.fields[0].level, Some(2));
        let mut no_email = records[1].clone();
        no_email.emails.clear();
        let e = s.explain(&records[0], &no_email);
        assert_eq!(e.fields[2].level, None);
        assert_eq!(e.fields[2].weight, 0.0);
        assert_eq!(e.fields[2].meaning, "missing");
    }
}
