//! Golden records: one customer built from a cluster, field by field, by
//! survivorship rules, keeping every system's [`ExternalRef`](crate::model::ExternalRef).
//!
//! Each field has a rule: the value from the most trusted source
//! ([`Survivorship::SourcePriority`]), the most recently updated record, the
//! most complete value, or the value most records agree on. Contacts are
//! merged: the chosen email, phone and address come first, the other
//! distinct ones follow, so nothing a system knew is lost. A
//! [`merge_preview`] lists, per source record, what would change.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use seamwork::identity::golden::{GoldenOptions, Survivorship, golden_record, merge_preview};
//! use seamwork::model::{Customer, ExternalRef};
//!
//! let t = |d| Utc.with_ymd_and_hms(2024, 1, d, 0, 0, 0).unwrap();
//! let mut store = Customer::new("s-1", t(1));
//! store.first_name = Some("Bob".into());
//! store.emails.push("bob@example.com".into());
//! store.external_refs.push(ExternalRef::new("store", "s-1"));
//! let mut erp = Customer::new("e-9", t(5));
//! erp.first_name = Some("Robert".into());
//! erp.last_name = Some("Smith".into());
//! erp.external_refs.push(ExternalRef::new("erp", "e-9"));
//!
//! let options = GoldenOptions::default().with_rule("first_name", Survivorship::SourcePriority(vec!["erp".into()]));
//! let golden = golden_record("cust-1", &[&store, &erp], &options);
//! assert_eq!(golden.customer.first_name.as_deref(), Some("Robert"));
//! assert_eq!(golden.customer.last_name.as_deref(), Some("Smith"));
//! assert_eq!(golden.customer.external_refs.len(), 2);
//! let changes = merge_preview(&[&store, &erp], &golden);
//! assert!(changes.iter().any(|c| c.record == "s-1" && c.field == "first_name"));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::normalize::{
    EmailRules, fold_text, normalize_address_line, normalize_email, normalize_phone,
};
use crate::model::{Address, Customer};

/// How one field's surviving value is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Survivorship {
    /// From the first system in this list that has a value (then most recent).
    SourcePriority(Vec<String>),
    /// From the most recently updated record that has a value.
    MostRecent,
    /// The most complete value (longest name, address with most parts).
    MostComplete,
    /// The value most records agree on (compared folded), then most recent.
    MostFrequent,
}

/// Survivorship per field, with a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GoldenOptions {
    /// Rule for fields without their own.
    pub default: Survivorship,
    /// Rules by field: `first_name`, `last_name`, `email`, `phone`, `address`, `marketing`.
    pub fields: BTreeMap<String, Survivorship>,
    /// Region for phones written without a country code when telling two
    /// numbers apart (ISO 3166-1 alpha-2), as in matching.
    pub default_region: String,
}

impl Default for GoldenOptions {
    /// Most frequent names, most recent contacts, most complete address,
    /// most recent marketing consent; most recent otherwise.
    fn default() -> Self {
        let mut fields = BTreeMap::new();
        fields.insert("first_name".into(), Survivorship::MostFrequent);
        fields.insert("last_name".into(), Survivorship::MostFrequent);
        fields.insert("address".into(), Survivorship::MostComplete);
        GoldenOptions {
            default: Survivorship::MostRecent,
            fields,
            default_region: "US".to_string(),
        }
    }
}

impl GoldenOptions {
    /// The same with `rule` for `field`.
    pub fn with_rule(mut self, field: &str, rule: Survivorship) -> Self {
        self.fields.insert(field.to_string(), rule);
        self
    }

    fn rule(&self, field: &str) -> &Survivorship {
        self.fields.get(field).unwrap_or(&self.default)
    }
}

/// Which record a golden field came from and by which rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldDecision {
    /// The field.
    pub field: String,
    /// The rule applied.
    pub rule: Survivorship,
    /// The id of the record the value came from (`None`: no record had one).
    pub from: Option<String>,
}

/// A golden customer and how each field was chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct GoldenRecord {
    /// The merged customer, with every member's external refs.
    pub customer: Customer,
    /// One decision per chosen field.
    pub decisions: Vec<FieldDecision>,
}

/// The system of a record: its first external ref's system, or empty.
fn system(c: &Customer) -> &str {
    c.external_refs.first().map_or("", |r| r.system.as_str())
}

/// Picks the index of the member whose value wins, among members with a value.
fn choose<'a, T>(
    members: &[&'a Customer],
    value: impl Fn(&'a Customer) -> Option<T>,
    rule: &Survivorship,
    completeness: impl Fn(&T) -> usize,
    key: impl Fn(&T) -> String,
) -> Option<usize> {
    let with: Vec<(usize, T)> = members
        .iter()
        .enumerate()
        .filter_map(|(i, c)| value(c).map(|v| (i, v)))
        .collect();
    // Ties go to the most recent record, then the earlier member.
    let recency = |i: usize| (members[i].updated_at, std::cmp::Reverse(i));
    match rule {
        Survivorship::MostRecent => with.iter().max_by_key(|(i, _)| recency(*i)).map(|p| p.0),
        Survivorship::MostComplete => with
            .iter()
            .max_by_key(|(i, v)| (completeness(v), recency(*i)))
            .map(|p| p.0),
        Survivorship::MostFrequent => {
            let mut counts: BTreeMap<String, usize> = BTreeMap::new();
            for (_, v) in &with {
                *counts.entry(key(v)).or_default() += 1;
            }
            with.iter()
                .max_by_key(|(i, v)| (counts[&key(v)], recency(*i)))
                .map(|p| p.0)
        }
        Survivorship::SourcePriority(order) => with
            .iter()
            .max_by_key(|(i, _)| {
                let rank = order
                    .iter()
                    .position(|s| s == system(members[*i]))
                    .map_or(0, |p| order.len() - p);
                (rank, recency(*i))
            })
            .map(|p| p.0),
    }
}

fn non_empty(s: &Option<String>) -> Option<&String> {
    s.as_ref().filter(|v| !v.trim().is_empty())
}

fn address_parts(a: &Address) -> usize {
    [
        Some(&a.line1),
        a.line2.as_ref(),
        Some(&a.city),
        a.region.as_ref(),
        a.postcode.as_ref(),
        a.name.as_ref(),
        a.company.as_ref(),
        a.phone.as_ref(),
    ]
    .iter()
    .filter(|p| p.is_some_and(|s| !s.trim().is_empty()))
    .count()
}

/// A contact list: the primary of the member `rule` picks first, then every
/// other distinct value (by `key`) of every member, in member order.
#[allow(clippy::too_many_arguments)]
fn merge_list<'a, T: Clone + 'a>(
    members: &[&'a Customer],
    list: impl Fn(&'a Customer) -> &'a Vec<T>,
    rule: &Survivorship,
    completeness: impl Fn(&T) -> usize,
    key: impl Fn(&T) -> String,
    decide: &mut dyn FnMut(&str, Option<usize>) -> Option<usize>,
    field: &str,
) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    let pick = choose(
        members,
        |c| list(c).first(),
        rule,
        |v| completeness(v),
        |v| key(v),
    );
    if let Some(i) = decide(field, pick) {
        out.extend(list(members[i]).first().cloned());
    }
    for v in members.iter().flat_map(|c| list(c)) {
        if !out.iter().any(|x| key(x) == key(v)) {
            out.push(v.clone());
        }
    }
    out
}

/// Builds the golden customer `id` from a cluster's `members`.
pub fn golden_record(id: &str, members: &[&Customer], options: &GoldenOptions) -> GoldenRecord {
    let created = members.iter().map(|c| c.created_at).min();
    let updated = members.iter().map(|c| c.updated_at).max();
    let mut g = Customer::new(id, created.unwrap_or_default());
    g.updated_at = updated.unwrap_or(g.created_at);
    let mut decisions = Vec::new();
    let mut decide = |field: &str, pick: Option<usize>| {
        decisions.push(FieldDecision {
            field: field.to_string(),
            rule: options.rule(field).clone(),
            from: pick.map(|i| members[i].id.clone()),
        });
        pick
    };
    let name_key = |v: &&String| fold_text(v);
    let name_len = |v: &&String| v.trim().chars().count();
    let first = choose(
        members,
        |c| non_empty(&c.first_name),
        options.rule("first_name"),
        name_len,
        name_key,
    );
    g.first_name = decide("first_name", first).and_then(|i| members[i].first_name.clone());
    let last = choose(
        members,
        |c| non_empty(&c.last_name),
        options.rule("last_name"),
        name_len,
        name_key,
    );
    g.last_name = decide("last_name", last).and_then(|i| members[i].last_name.clone());

    // Contacts: the chosen primary first, then every other distinct one.
    let email_key = |e: &String| {
        normalize_email(e, EmailRules::Basic).unwrap_or_else(|| e.trim().to_lowercase())
    };
    g.emails = merge_list(
        members,
        |c| &c.emails,
        options.rule("email"),
        |e| e.len(),
        email_key,
        &mut decide,
        "email",
    );
    let region = options.default_region.as_str();
    let phone_key = |p: &String| normalize_phone(p, region).unwrap_or_else(|| p.clone());
    g.phones = merge_list(
        members,
        |c| &c.phones,
        options.rule("phone"),
        |p| p.len(),
        phone_key,
        &mut decide,
        "phone",
    );
    let addr_key = |a: &Address| {
        format!(
            "{}|{}",
            normalize_address_line(&a.line1).unwrap_or_default(),
            a.postcode.as_deref().map(fold_text).unwrap_or_default()
        )
    };
    g.addresses = merge_list(
        members,
        |c| &c.addresses,
        options.rule("address"),
        address_parts,
        addr_key,
        &mut decide,
        "address",
    );
    // Marketing consent: by default the newest change wins.
    let marketing_rule = options
        .fields
        .get("marketing")
        .cloned()
        .unwrap_or(Survivorship::MostRecent);
    let consent = match marketing_rule {
        Survivorship::MostRecent => members
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (c.marketing.updated_at, c.updated_at, std::cmp::Reverse(*i)))
            .map(|p| p.0),
        ref rule => choose(
            members,
            |c| Some(&c.marketing),
            rule,
            |_| 0,
            |m| format!("{:?}{:?}", m.email, m.sms),
        ),
    };
    decisions.push(FieldDecision {
        field: "marketing".into(),
        rule: marketing_rule,
        from: consent.map(|i| members[i].id.clone()),
    });
    if let Some(i) = consent {
        g.marketing = members[i].marketing.clone();
    }
    for c in members {
        for r in &c.external_refs {
            if !g.external_refs.contains(r) {
                g.external_refs.push(r.clone());
            }
        }
        g.tags.extend(c.tags.iter().cloned());
    }
    GoldenRecord {
        customer: g,
        decisions,
    }
}

/// One field of one source record that the merge would change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldChange {
    /// The source record's id.
    pub record: String,
    /// The field.
    pub field: String,
    /// Its value now (as shown).
    pub before: String,
    /// Its value in the golden record.
    pub after: String,
}

/// What would change for each member if the golden record replaced it.
pub fn merge_preview(members: &[&Customer], golden: &GoldenRecord) -> Vec<FieldChange> {
    let g = &golden.customer;
    let show_opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let show_list = |v: &[String]| v.join(", ");
    let show_addr = |v: &[Address]| {
        v.iter()
            .map(|a| {
                format!(
                    "{}, {} {}",
                    a.line1,
                    a.postcode.as_deref().unwrap_or(""),
                    a.city
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let show_refs = |c: &Customer| {
        c.external_refs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = Vec::new();
    for c in members {
        let fields = [
            (
                "first_name",
                show_opt(&c.first_name),
                show_opt(&g.first_name),
            ),
            ("last_name", show_opt(&c.last_name), show_opt(&g.last_name)),
            ("emails", show_list(&c.emails), show_list(&g.emails)),
            ("phones", show_list(&c.phones), show_list(&g.phones)),
            (
                "addresses",
                show_addr(&c.addresses),
                show_addr(&g.addresses),
            ),
            ("external_refs", show_refs(c), show_refs(g)),
        ];
        for (field, before, after) in fields {
            if before != after {
                out.push(FieldChange {
                    record: c.id.clone(),
                    field: field.into(),
                    before,
                    after,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ExternalRef;
    use chrono::{TimeZone, Utc};

    fn customer(id: &str, system: &str, day: u32, first: &str, email: &str) -> Customer {
        let at = Utc.with_ymd_and_hms(2024, 1, day, 0, 0, 0).unwrap();
        let mut c = Customer::new(id, at);
        c.first_name = Some(first.into());
        c.emails.push(email.into());
        c.external_refs.push(ExternalRef::new(system, id));
        c
    }

    #[test]
    fn each_rule_picks_its_value() {
        let a = customer("a", "store", 1, "Bob", "bob@x.com");
        let b = customer("b", "crm", 3, "Robert", "ROBERT@x.com");
        let c = customer("c", "erp", 2, "bob", "bob@X.com");
        let m = [&a, &b, &c];
        let pick = |rule: Survivorship| {
            let o = GoldenOptions::default().with_rule("first_name", rule);
            golden_record("g", &m, &o).customer.first_name.unwrap()
        };
        assert_eq!(pick(Survivorship::MostRecent), "Robert");
        assert_eq!(pick(Survivorship::MostComplete), "Robert");
        assert_eq!(pick(Survivorship::MostFrequent), "bob"); // Bob/bob agree; c is newer than a
        assert_eq!(
            pick(Survivorship::SourcePriority(vec![
                "store".into(),
                "erp".into()
            ])),
            "Bob"
        );
        assert_eq!(
            pick(Survivorship::SourcePriority(vec!["nowhere".into()])),
            "Robert"
        );
    }

    #[test]
    fn contacts_and_refs_are_all_kept() {
        let mut a = customer("a", "store", 1, "Ann", "ann@x.com");
        let mut b = customer("b", "erp", 2, "Ann", "ANN@x.com");
        a.phones.push("(415) 555-0132".into());
        b.phones.push("+1 415 555 0132".into());
        b.phones.push("+1 212 555 0100".into());
        let mut addr = Address::new("1 Main St", "Springfield", "US");
        addr.postcode = Some("12345".into());
        a.addresses.push(addr.clone());
        let mut fuller = addr.clone();
        fuller.line1 = "1 Main Street".into();
        fuller.region = Some("IL".into());
        b.addresses.push(fuller);
        let g = golden_record("g", &[&a, &b], &GoldenOptions::default());
        assert_eq!(g.customer.emails, ["ANN@x.com"]); // same address, most recent spelling
        assert_eq!(g.customer.phones, ["+1 415 555 0132", "+1 212 555 0100"]);
        assert_eq!(g.customer.addresses.len(), 1);
        assert_eq!(g.customer.addresses[0].region.as_deref(), Some("IL")); // most complete
        assert_eq!(g.customer.external_refs.len(), 2);
        assert!(g.customer.validate().is_ok());
        assert_eq!(g.customer.created_at, a.created_at);
        assert_eq!(g.customer.updated_at, b.updated_at);
        let from: Vec<_> = g
            .decisions
            .iter()
            .map(|d| (d.field.as_str(), d.from.as_deref()))
            .collect();
        assert!(from.contains(&("address", Some("b"))));
    }

    #[test]
    fn preview_lists_changes_per_record() {
        let a = customer("a", "store", 1, "Ann", "ann@x.com");
        let b = customer("b", "erp", 2, "Anne", "anne@y.com");
        let g = golden_record(
            "g",
            &[&a, &b],
            &GoldenOptions::default().with_rule("first_name", Survivorship::MostRecent),
        );
        let changes = merge_preview(&[&a, &b], &g);
        let of = |r: &str, f: &str| {
            changes
                .iter()
                .find(|c| c.record == r && c.field == f)
                .cloned()
        };
        assert_eq!(of("a", "first_name").unwrap().after, "Anne");
        assert!(of("b", "first_name").is_none());
        assert_eq!(of("a", "emails").unwrap().after, "anne@y.com, ann@x.com");
        assert!(of("b", "external_refs").is_some());
    }

    #[test]
    fn empty_cluster_is_an_empty_customer() {
        let g = golden_record("g", &[], &GoldenOptions::default());
        assert!(g.customer.first_name.is_none());
        assert!(g.decisions.iter().all(|d| d.from.is_none()));
    }
}
