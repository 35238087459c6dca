//! Customers as known across systems.
//!
//! A canonical customer keeps every system's [`ExternalRef`], so that "the same
//! person in the store, the ERP and the CRM" is one record with three refs, not
//! three records.
//!
//! ```
//! use chrono::Utc;
//! use seamwork::model::{Customer, ExternalRef};
//!
//! let mut c = Customer::new("cust-1", Utc::now());
//! c.emails.push("Ada@Example.com".into());
//! c.external_refs.push(ExternalRef::new("shopify", "gid://shopify/Customer/7"));
//! assert!(c.validate().is_ok());
//! c.emails.push("not-an-email".into());
//! assert!(c.validate().unwrap_err().has_field("emails[1]"));
//! ```

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::address::Address;
use super::ids::ExternalRef;
use super::validation::{ValidationErrors, Validator};

/// A customer's marketing consent on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConsentState {
    /// Never asked or never agreed.
    #[default]
    NotSubscribed,
    /// Asked, confirmation outstanding (double opt-in).
    Pending,
    /// Agreed.
    Subscribed,
    /// Withdrew consent; must not be contacted.
    Unsubscribed,
}

/// Marketing consent per channel, with when it last changed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MarketingConsent {
    /// Email marketing.
    #[serde(default)]
    pub email: ConsentState,
    /// SMS marketing.
    #[serde(default)]
    pub sms: ConsentState,
    /// When consent last changed (the newest wins when systems disagree).
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// A customer, keyed by a canonical id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Customer {
    /// Canonical id: the key.
    pub id: String,
    /// Given name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub last_name: Option<String>,
    /// Email addresses, the primary first, as given.
    #[serde(default)]
    pub emails: Vec<String>,
    /// Phone numbers, the primary first, as given.
    #[serde(default)]
    pub phones: Vec<String>,
    /// Postal addresses, the default first.
    #[serde(default)]
    pub addresses: Vec<Address>,
    /// Where this customer exists in each system.
    #[serde(default)]
    pub external_refs: Vec<ExternalRef>,
    /// Marketing consent.
    #[serde(default)]
    pub marketing: MarketingConsent,
    /// Free tags.
    #[serde(default)]
    pub tags: BTreeSet<String>,
    /// When first seen.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

impl Customer {
    /// A customer with only an id.
    pub fn new(id: impl Into<String>, at: DateTime<Utc>) -> Self {
        Customer {
            id: id.into(),
            first_name: None,
            last_name: None,
            emails: Vec::new(),
            phones: Vec::new(),
            addresses: Vec::new(),
            external_refs: Vec::new(),
            marketing: MarketingConsent::default(),
            tags: BTreeSet::new(),
            created_at: at,
            updated_at: at,
        }
    }

    /// The external ref in `system`, if any.
    pub fn ref_in(&self, system: &str) -> Option<&ExternalRef> {
        self.external_refs
            .iter()
            .find(|r| r.system.as_str() == system)
    }

    /// Checks id, email and phone shapes, addresses, refs and timestamps.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = Validator::new("customer", &self.id);
        v.check(!self.id.trim().is_empty(), "id", "must not be empty");
        for (i, e) in self.emails.iter().enumerate() {
            v.check_value(
                looks_like_email(e),
                format_args!("emails[{i}]"),
                "must look like local@domain without spaces",
                e,
            );
        }
        for (i, p) in self.phones.iter().enumerate() {
            v.check_value(
                looks_like_phone(p),
                format_args!("phones[{i}]"),
                "must hold 4-15 digits and only + ( ) - . / spaces besides",
                p,
            );
        }
        for (i, a) in self.addresses.iter().enumerate() {
            v.nested(format_args!("addresses[{i}]"), |v| a.validate_into(v));
        }
        let mut seen = HashSet::new();
        for (i, r) in self.external_refs.iter().enumerate() {
            v.check_value(
                seen.insert(r),
                format_args!("external_refs[{i}]"),
                "must not repeat",
                r,
            );
        }
        v.check_timestamps(self.created_at, self.updated_at);
        v.finish()
    }
}

/// A deliberately loose shape check; real normalization is in `identity`.
fn looks_like_email(e: &str) -> bool {
    let e = e.trim();
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

fn looks_like_phone(p: &str) -> bool {
    let digits = p.chars().filter(char::is_ascii_digit).count();
    (4..=15).contains(&digits)
        && p.chars()
            .all(|c| c.is_ascii_digit() || " +()-./".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_and_phone_shapes() {
        for ok in ["a@b.co", "first.last+tag@example.com"] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in ["a@b", "@b.co", "a b@c.de", "a@b@c.de", "a@.com"] {
            assert!(!looks_like_email(bad), "{bad}");
        }
        for ok in ["+1 (415) 555-0100", "030 1234567"] {
            assert!(looks_like_phone(ok), "{ok}");
        }
        for bad in ["12", "call me", "+1234567890123456"] {
            assert!(!looks_like_phone(bad), "{bad}");
        }
    }

    #[test]
    fn duplicate_refs_are_reported() {
        let mut c = Customer::new("c1", Utc::now());
        c.external_refs.push(ExternalRef::new("erp", "1"));
        c.external_refs.push(ExternalRef::new("erp", "1"));
        assert!(c.validate().unwrap_err().has_field("external_refs[1]"));
    }
}
