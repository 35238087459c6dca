//! `customers/create` and `customers/update` payloads (REST JSON) →
//! canonical [`Customer`].
//!
//! | canonical | Shopify REST field |
//! |---|---|
//! | `id` (the key) | the canonical id bound to the customer's GraphQL id in cross references (namespace `customer`), else that GraphQL id (`gid://shopify/Customer/<id>`) |
//! | `first_name`, `last_name` | same names |
//! | `emails`, `phones` | `email`, `phone` (one each, when present) |
//! | `addresses` | `addresses[]`, the one marked `default` first |
//! | `external_refs` | `[<system>: admin_graphql_api_id]` |
//! | `marketing` | `email_marketing_consent.state`, `sms_marketing_consent.state`; `updated_at` = the later `consent_updated_at` |
//! | `tags` | `tags` (comma-separated text) |

use super::json::{Node, tags};
use super::order::address;
use crate::error::Result;
use crate::mapping::CrossReferences;
use crate::model::{ConsentState, Customer, ExternalRef, SystemId};

/// The cross-reference namespace of customers.
pub(crate) const NAMESPACE: &str = "customer";

/// Builds the customer from the payload root.
pub(crate) fn customer(
    root: &Node<'_>,
    system: &SystemId,
    xrefs: &dyn CrossReferences,
) -> Result<Customer> {
    let gid = root.gid("Customer")?;
    let id = xrefs
        .to_canonical(NAMESPACE, system.as_str(), &gid)
        .unwrap_or_else(|| gid.clone());
    let mut c = Customer::new(id, root.get("created_at").time()?);
    c.updated_at = root.get("updated_at").time()?;
    c.first_name = root.get("first_name").opt_text()?;
    c.last_name = root.get("last_name").opt_text()?;
    c.emails.extend(root.get("email").opt_text()?);
    c.phones.extend(root.get("phone").opt_text()?);
    let mut defaults = Vec::new();
    let mut others = Vec::new();
    for node in root.get("addresses").items()? {
        let is_default = node.get("default").bool_or(false)?;
        if let Some(a) = address(&node)? {
            if is_default {
                defaults.push(a);
            } else {
                others.push(a);
            }
        }
    }
    c.addresses = defaults.into_iter().chain(others).collect();
    c.external_refs
        .push(ExternalRef::try_new(system.as_str(), gid).map_err(|e| root.bad(e.message()))?);
    let email = root.get("email_marketing_consent");
    let sms = root.get("sms_marketing_consent");
    c.marketing.email = consent(&email.get("state"))?;
    c.marketing.sms = consent(&sms.get("state"))?;
    c.marketing.updated_at = email
        .get("consent_updated_at")
        .opt_time()?
        .into_iter()
        .chain(sms.get("consent_updated_at").opt_time()?)
        .max();
    c.tags = tags(&root.get("tags"))?;
    Ok(c)
}

fn consent(node: &Node<'_>) -> Result<ConsentState> {
    Ok(match node.opt_str()? {
        None | Some("not_subscribed") | Some("invalid") => ConsentState::NotSubscribed,
        Some("pending") => ConsentState::Pending,
        Some("subscribed") => ConsentState::Subscribed,
        // Redacted contact data must not be contacted either.
        Some("unsubscribed") | Some("redacted") => ConsentState::Unsubscribed,
        Some(other) => {
            return Err(node.bad(format_args!("{other:?} is not a known consent state")));
        }
    })
}
