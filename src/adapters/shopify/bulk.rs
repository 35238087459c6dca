//! Bulk operations for large full reads of products (and their variants):
//! `bulkOperationRunQuery`, poll the operation with `node(id:)`, download
//! the JSONL result and re-nest child lines (`__parentId`) under their parent.
//!
//! Used when a full read (no cursor) would return more products than
//! [`ShopifyConfig::bulk_threshold`](super::ShopifyConfig::bulk_threshold):
//! one query instead of thousands of pages. The result is sorted by
//! (updated_at, id) before it is streamed, so its cursors resume exactly like
//! a paged read's.

use std::collections::HashMap;
use std::sync::Arc;

use futures::{StreamExt, stream};
use serde_json::{Value, json};

use super::Inner;
use super::json::Node;
use super::read::{TimeSorted, time_sorted};
use crate::adapters::web;
use crate::connector::{Entity, RecordStream};
use crate::error::{Error, Result};

const BULK_PRODUCTS: &str = "{
  products {
    edges {
      node {
        id handle title descriptionHtml vendor productType status tags createdAt updatedAt
        options { name optionValues { name } }
        variants {
          edges {
            node {
              id sku title price compareAtPrice barcode taxable createdAt updatedAt
              selectedOptions { name value }
              inventoryItem { measurement { weight { unit value } } }
            }
          }
        }
      }
    }
  }
}";

const RUN: &str = "mutation BulkProducts($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}";

const STATUS: &str = "query BulkStatus($id: ID!) {
  node(id: $id) { ... on BulkOperation { id status errorCode objectCount url } }
}";

const COUNT: &str = "query ProductsCount { productsCount { count } }";

/// Where each child type nests under its parent, by global id type.
fn child_key(gid: &str) -> Option<&'static str> {
    match gid.split('/').nth(3)? {
        "ProductVariant" => Some("variants"),
        _ => None,
    }
}

/// Re-nests a bulk operation's JSONL: every line is an object; a line with
/// `__parentId` is appended to `<key>.nodes` of that parent (which must come
/// earlier, as Shopify writes them). Returns the top-level objects in file
/// order. Errors name the line.
pub fn parse_bulk_lines(text: &str) -> Result<Vec<Value>> {
    let mut top: Vec<Value> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let bad =
            |why: String| Error::invalid_data(format!("Shopify bulk result line {line_no}: {why}"));
        let mut value: Value =
            serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
        let Value::Object(obj) = &mut value else {
            return Err(bad("not a JSON object".into()));
        };
        match obj.remove("__parentId") {
            None => {
                let id = obj
                    .get("id")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("has no `id` string".into()))?
                    .to_string();
                index.insert(id, top.len());
                top.push(value);
            }
            Some(Value::String(parent)) => {
                let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
                let key = child_key(id)
                    .ok_or_else(|| bad(format!("child {id:?} is of a type not read in bulk")))?;
                let at = *index.get(&parent).ok_or_else(|| {
                    bad(format!("parent {parent:?} did not come before its child"))
                })?;
                let Value::Object(p) = &mut top[at] else {
                    return Err(bad("parent is not an object".into()));
                };
                let conn = p.entry(key).or_insert_with(|| json!({"nodes": []}));
                match conn.get_mut("nodes").and_then(Value::as_array_mut) {
                    Some(list) => list.push(value),
                    None => {
                        return Err(bad(format!("parent's `{key}` is not a connection")));
                    }
                }
            }
            Some(other) => return Err(bad(format!("`__parentId` is {other}, expected a string"))),
        }
    }
    Ok(top)
}

async fn run_bulk(inner: &Inner) -> Result<Vec<Value>> {
    let data = inner
        .client
        .execute("BulkProducts", RUN, json!({"query": BULK_PRODUCTS}))
        .await?;
    let payload = Node::root(&data, "data").obj("bulkOperationRunQuery")?;
    if let Some(e) = payload.list("userErrors")?.first() {
        let message = format!("Shopify refused the bulk query: {}", e.str("message")?);
        // One bulk query per shop at a time: another one running (ours from
        // a crashed run, or another app's) clears by itself; the rest do not.
        let busy = matches!(
            e.opt_str("code")?,
            Some("OPERATION_IN_PROGRESS" | "LIMIT_REACHED")
        );
        return Err(if busy {
            Error::unavailable(message)
        } else {
            Error::invalid_data(message)
        });
    }
    let id = payload.obj("bulkOperation")?.str("id")?.to_string();
    let url = loop {
        let data = inner
            .client
            .execute("BulkStatus", STATUS, json!({"id": id}))
            .await?;
        let op = Node::root(&data, "data").obj("node")?;
        match op.str("status")? {
            "CREATED" | "RUNNING" => tokio::time::sleep(inner.config.bulk_poll).await,
            "COMPLETED" => break op.opt_str("url")?.map(str::to_string),
            other => {
                let code = op.opt_str("errorCode")?.unwrap_or("none");
                let message =
                    format!("Shopify bulk operation {id} ended {other} (error code {code})");
                // A timeout or internal error may pass; denied access or a
                // cancel (by a person or another app) will not by retrying.
                let lasting = code == "ACCESS_DENIED" || matches!(other, "CANCELED" | "CANCELING");
                return Err(if lasting {
                    Error::new(crate::error::ErrorKind::Unauthorized, message)
                        .with_retryability(crate::error::Retryability::Permanent)
                } else {
                    Error::unavailable(message)
                });
            }
        }
    };
    // No url: the query matched nothing.
    let Some(url) = url else {
        return Ok(Vec::new());
    };
    let what = "Shopify bulk result download";
    let answer = inner
        .client
        .http()
        .get(&url)
        .send()
        .await
        .map_err(|e| web::transport_error(what, e))?;
    let status = answer.status();
    let headers = answer.headers().clone();
    let text = answer
        .text()
        .await
        .map_err(|e| web::transport_error(what, e))?;
    if !status.is_success() {
        return Err(web::status_error(what, status, &headers, &text));
    }
    parse_bulk_lines(&text)
}

/// A full read of products (or their variants): paged when the shop has at
/// most `threshold` products, else one bulk operation.
pub(crate) fn products_or_bulk<E: Entity>(
    inner: Arc<Inner>,
    threshold: usize,
    spec: TimeSorted<E>,
) -> RecordStream<E> {
    stream::once(async move {
        let data = inner
            .client
            .execute("ProductsCount", COUNT, json!({}))
            .await?;
        let count = Node::root(&data, "data")
            .obj("productsCount")?
            .i64("count")?;
        if usize::try_from(count).is_ok_and(|c| c <= threshold) {
            return Ok::<_, Error>(time_sorted(inner, None, spec));
        }
        tracing::info!(count, threshold, "Shopify products read in bulk");
        let nodes = run_bulk(&inner).await?;
        let mut items = Vec::new();
        for (i, v) in nodes.iter().enumerate() {
            let node = Node::root(v, format!("bulk[{i}]"));
            items.extend((spec.map)(&inner, &node)?);
        }
        items.sort_by(|a, b| a.position.cmp(&b.position));
        let records: Vec<_> = items
            .into_iter()
            .map(|it| Ok(inner.record(it.entity, &it.gid, it.position.encode(), it.changed_at)))
            .collect();
        Ok(stream::iter(records).boxed())
    })
    .map(|r| match r {
        Ok(s) => s,
        Err(e) => stream::once(async move { Err(e) }).boxed(),
    })
    .flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_nest_under_their_parent() {
        let text = r#"{"id":"gid://shopify/Product/1","handle":"a"}
{"id":"gid://shopify/ProductVariant/11","sku":"A-1","__parentId":"gid://shopify/Product/1"}
{"id":"gid://shopify/Product/2","handle":"b"}
{"id":"gid://shopify/ProductVariant/12","sku":"A-2","__parentId":"gid://shopify/Product/1"}
"#;
        let top = parse_bulk_lines(text).unwrap();
        assert_eq!(top.len(), 2);
        assert_eq!(top[0]["variants"]["nodes"].as_array().unwrap().len(), 2);
        assert!(top[1].get("variants").is_none());
    }

    #[test]
    fn broken_lines_are_named() {
        let e = parse_bulk_lines("{\"id\":\"gid://shopify/Product/1\"}\n{oops").unwrap_err();
        assert!(e.message().contains("line 2"), "{e}");
        let e = parse_bulk_lines(
            r#"{"id":"gid://shopify/ProductVariant/1","__parentId":"gid://shopify/Product/9"}"#,
        )
        .unwrap_err();
        assert!(e.message().contains("did not come before"), "{e}");
    }
}
