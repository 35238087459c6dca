//! Writes customers' own fields (names, default email and phone, tags) with
//! `customerCreate` / `customerUpdate`, after comparing with what the shop has.
//!
//! A customer is found by its ref in this system (the Shopify global id),
//! else by its first email; one found nowhere is created. A customer with
//! neither cannot be upserted idempotently and is rejected.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Inner;
use super::json::Node;
use super::write::{quote, rejected, user_errors};
use crate::connector::{Entity, WriteOutcome, WriteResult};
use crate::error::{ErrorKind, Result};
use crate::model::Customer;

const FIELDS: &str = "id firstName lastName tags defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber }";

/// The fields this sink owns, as the shop has them.
#[derive(Debug, PartialEq, Eq)]
struct Owned {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    tags: BTreeSet<String>,
}

impl Owned {
    fn of(c: &Customer) -> Self {
        Owned {
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            email: c.emails.first().cloned(),
            phone: c.phones.first().cloned(),
            tags: c.tags.clone(),
        }
    }

    fn read(node: &Node<'_>) -> Result<Self> {
        let email = match node.opt_obj("defaultEmailAddress")? {
            Some(e) => e.opt_str("emailAddress")?.map(str::to_string),
            None => None,
        };
        let phone = match node.opt_obj("defaultPhoneNumber")? {
            Some(p) => p.opt_str("phoneNumber")?.map(str::to_string),
            None => None,
        };
        Ok(Owned {
            first_name: node.opt_str("firstName")?.map(str::to_string),
            last_name: node.opt_str("lastName")?.map(str::to_string),
            email,
            phone,
            tags: node.strings("tags")?.into_iter().collect(),
        })
    }

    fn input(&self) -> Value {
        json!({
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
            "phone": self.phone,
            "tags": self.tags,
        })
    }
}

/// Finds the customer in the shop: by id when given, else by email.
async fn find(
    inner: &Inner,
    gid: Option<&str>,
    email: Option<&str>,
) -> Result<Option<(String, Owned)>> {
    let data = match (gid, email) {
        (Some(id), _) => {
            let q = format!("query CustomerById($id: ID!) {{ customer(id: $id) {{ {FIELDS} }} }}");
            inner
                .client
                .execute("CustomerById", &q, json!({"id": id}))
                .await?
        }
        (None, Some(email)) => {
            let q = format!(
                "query CustomerByEmail($query: String!) {{ customers(first: 1, query: $query) {{ nodes {{ {FIELDS} }} }} }}"
            );
            let query = format!("email:{}", quote(email));
            inner
                .client
                .execute("CustomerByEmail", &q, json!({"query": query}))
                .await?
        }
        (None, None) => return Ok(None),
    };
    let root = Node::root(&data, "data");
    let node = match gid {
        Some(_) => root.opt_obj("customer")?,
        None => root.nodes("customers")?.into_iter().next(),
    };
    match node {
        None => Ok(None),
        Some(n) => Ok(Some((n.str("id")?.to_string(), Owned::read(&n)?))),
    }
}

fn user_error_text(payload: &Node<'_>) -> Result<Option<String>> {
    let errors = user_errors(payload, "")?;
    Ok((!errors.is_empty()).then(|| {
        let texts: Vec<String> = errors.into_iter().map(|(_, message)| message).collect();
        texts.join("; ")
    }))
}

/// Upserts customers one by one (Shopify has no bulk customer mutation).
pub(crate) async fn customers(inner: &Inner, batch: &[Customer]) -> Result<Vec<WriteOutcome>> {
    let system = inner.config.system.as_str();
    let mut out = Vec::with_capacity(batch.len());
    for c in batch {
        let key = c.key();
        let result = upsert_one(inner, system, c).await?;
        out.push(WriteOutcome::new(key, result));
    }
    Ok(out)
}

async fn upsert_one(inner: &Inner, system: &str, c: &Customer) -> Result<WriteResult> {
    if let Err(e) = c.validate() {
        return Ok(rejected(ErrorKind::InvalidData, e.to_string(), &c.id));
    }
    let gid = c.ref_in(system).map(|r| r.id.clone()).or_else(|| {
        c.id.starts_with("gid://shopify/Customer/")
            .then(|| c.id.clone())
    });
    let email = c.emails.first().map(String::as_str);
    if gid.is_none() && email.is_none() {
        return Ok(rejected(
            ErrorKind::InvalidData,
            "a customer needs a Shopify ref or an email to be upserted without duplicates".into(),
            &c.id,
        ));
    }
    let want = Owned::of(c);
    match find(inner, gid.as_deref(), email).await? {
        Some((id, have)) if have == want => Ok(WriteResult::Unchanged { external_id: id }),
        Some((id, _)) => {
            let mut input = want.input();
            input["id"] = json!(id);
            let q = "mutation CustomerUpdate($input: CustomerInput!) { customerUpdate(input: $input) { customer { id } userErrors { field message } } }";
            let data = inner
                .client
                .execute("CustomerUpdate", q, json!({"input": input}))
                .await?;
            let payload = Node::root(&data, "data").obj("customerUpdate")?;
            Ok(match user_error_text(&payload)? {
                Some(m) => rejected(
                    ErrorKind::InvalidData,
                    format!("Shopify refused the customer: {m}"),
                    &c.id,
                ),
                None => WriteResult::Updated { external_id: id },
            })
        }
        None if gid.is_some() => Ok(rejected(
            ErrorKind::NotFound,
            format!("Shopify has no customer {}", gid.unwrap_or_default()),
            &c.id,
        )),
        None => {
            let q = "mutation CustomerCreate($input: CustomerInput!) { customerCreate(input: $input) { customer { id } userErrors { field message } } }";
            let data = inner
                .client
                .execute("CustomerCreate", q, json!({"input": want.input()}))
                .await?;
            let payload = Node::root(&data, "data").obj("customerCreate")?;
            if let Some(m) = user_error_text(&payload)? {
                return Ok(rejected(
                    ErrorKind::InvalidData,
                    format!("Shopify refused the customer: {m}"),
                    &c.id,
                ));
            }
            let id = payload.obj("customer")?.str("id")?.to_string();
            Ok(WriteResult::Created { external_id: id })
        }
    }
}
