//! A customer prepared for matching: every field normalized once.

use serde::{Deserialize, Serialize};

use super::compare::Value;
use super::normalize::{
    DateOrder, EmailRules, fold_text, normalize_address_line, normalize_date, normalize_email,
    normalize_given_name, normalize_name, normalize_phone, normalize_postcode,
};
use crate::model::Customer;

/// How raw customer fields are normalized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct NormalizeOptions {
    /// Region for phone numbers written without a country code (ISO 3166-1 alpha-2).
    pub default_region: String,
    /// Provider rules for emails (Gmail dots and `+tags`).
    pub email_rules: EmailRules,
    /// Map common nicknames to formal given names (`Bill` → `william`).
    pub nicknames: bool,
    /// How `03/04/1985` is read.
    pub date_order: DateOrder,
}

impl Default for NormalizeOptions {
    /// US phones, provider email rules, nicknames on, month-first dates.
    fn default() -> Self {
        NormalizeOptions {
            default_region: "US".into(),
            email_rules: EmailRules::Provider,
            nicknames: true,
            date_order: DateOrder::MonthFirst,
        }
    }
}

/// How an extra attribute column is normalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AttributeKind {
    /// Folded text (case, accents, punctuation).
    #[default]
    Text,
    /// A date in any shape [`normalize_date`] reads.
    Date,
    /// A decimal number.
    Number,
}

impl AttributeKind {
    /// The normalized value of `raw`, or `None` when it is empty or unreadable.
    pub fn normalize(self, raw: &str, options: &NormalizeOptions) -> Option<Value> {
        let raw = raw.trim();
        if raw.is_empty() {
            return None;
        }
        match self {
            AttributeKind::Text => {
                let t = fold_text(raw);
                (!t.is_empty()).then_some(Value::Text(t))
            }
            AttributeKind::Date => normalize_date(raw, options.date_order).map(Value::Date),
            AttributeKind::Number => raw.parse().ok().map(Value::Number),
        }
    }
}

/// One customer with every compared field normalized; what blocking and
/// scoring read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PreparedRecord {
    /// The record's id in its source.
    pub id: String,
    /// Which input (system) it came from, as an index.
    pub source: u16,
    /// Given name (nicknames mapped when enabled).
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Normalized emails.
    pub emails: Vec<String>,
    /// Phones in E.164.
    pub phones: Vec<String>,
    /// Postcodes of the addresses.
    pub postcodes: Vec<String>,
    /// Street lines (line1 and line2 joined) of the addresses.
    pub address_lines: Vec<String>,
    /// Cities of the addresses.
    pub cities: Vec<String>,
    /// Extra attributes, in the order the model names them.
    pub attributes: Vec<Option<Value>>,
}

fn push_unique(v: &mut Vec<String>, s: Option<String>) {
    if let Some(s) = s
        && !v.contains(&s)
    {
        v.push(s);
    }
}

impl PreparedRecord {
    /// Normalizes `customer` (from input `source`) with its extra `attributes`
    /// already normalized.
    pub fn from_customer(
        customer: &Customer,
        source: u16,
        attributes: Vec<Option<Value>>,
        options: &NormalizeOptions,
    ) -> Self {
        let mut r = PreparedRecord {
            id: customer.id.clone(),
            source,
            first_name: customer
                .first_name
                .as_deref()
                .and_then(|n| normalize_given_name(n, options.nicknames)),
            last_name: customer.last_name.as_deref().and_then(normalize_name),
            attributes,
            ..PreparedRecord::default()
        };
        for e in &customer.emails {
            push_unique(&mut r.emails, normalize_email(e, options.email_rules));
        }
        let address_phones = customer.addresses.iter().filter_map(|a| a.phone.as_ref());
        for p in customer.phones.iter().chain(address_phones) {
            push_unique(&mut r.phones, normalize_phone(p, &options.default_region));
        }
        for a in &customer.addresses {
            let country = Some(a.country.as_str());
            push_unique(
                &mut r.postcodes,
                a.postcode
                    .as_deref()
                    .and_then(|p| normalize_postcode(p, country)),
            );
            let line = match &a.line2 {
                Some(l2) if !l2.trim().is_empty() => format!("{} {l2}", a.line1),
                _ => a.line1.clone(),
            };
            push_unique(&mut r.address_lines, normalize_address_line(&line));
            push_unique(&mut r.cities, normalize_name(&a.city));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Address;
    use chrono::Utc;

    #[test]
    fn a_messy_customer_is_normalized_field_by_field() {
        let mut c = Customer::new("c1", Utc::now());
        c.first_name = Some(" BOB ".into());
        c.last_name = Some("O'Neil".into());
        c.emails = vec!["Bob.ONeil+shop@Gmail.com".into(), "bobo@gmail.com".into()];
        c.phones = vec!["(415) 555-0132".into()];
        let mut a = Address::new("12 Main Street", "San Francisco", "US");
        a.line2 = Some("Apt. 4".into());
        a.postcode = Some("94103-1234".into());
        a.phone = Some("+1 415 555 0132".into());
        c.addresses.push(a);
        let r = PreparedRecord::from_customer(&c, 1, vec![], &NormalizeOptions::default());
        assert_eq!(r.first_name.as_deref(), Some("robert"));
        assert_eq!(r.last_name.as_deref(), Some("oneil"));
        assert_eq!(r.emails, ["boboneil@gmail.com", "bobo@gmail.com"]);
        assert_eq!(r.phones, ["+14155550132"]); // the address phone is the same number
        assert_eq!(r.postcodes, ["94103"]);
        assert_eq!(r.address_lines, ["12 main st apt 4"]);
        assert_eq!(r.cities, ["san francisco"]);
        assert_eq!(r.source, 1);
    }

    #[test]
    fn attributes_by_kind() {
        let o = NormalizeOptions::default();
        assert_eq!(
            AttributeKind::Date.normalize("March 7, 1985", &o),
            chrono::NaiveDate::from_ymd_opt(1985, 3, 7).map(Value::Date)
        );
        assert_eq!(
            AttributeKind::Number.normalize(" 12.5 ", &o),
            Some(Value::Number("12.5".parse().unwrap()))
        );
        assert_eq!(
            AttributeKind::Text.normalize(" Gold-Tier ", &o),
            Some(Value::Text("gold tier".into()))
        );
        assert_eq!(AttributeKind::Date.normalize("unknown", &o), None);
        assert_eq!(AttributeKind::Text.normalize("  ", &o), None);
    }
}
