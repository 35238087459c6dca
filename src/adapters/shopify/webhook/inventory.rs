//! `inventory_levels/update` payloads → canonical [`InventoryLevel`].
//!
//! The payload is `{inventory_item_id, location_id, available, updated_at,
//! admin_graphql_api_id}`: no SKU, no location code, and only the
//! `available` quantity. The SKU and the canonical location come from cross
//! references (namespaces `inventory_item` and `location` for this system),
//! looked up by GraphQL id (`gid://shopify/InventoryItem/<id>`) first, then
//! by the bare numeric id; an unbound id is a `NotFound` error naming it
//! (bind it and let Shopify retry). The level is the smallest state
//! consistent with `available`: `on_hand = max(available, 0)`,
//! `committed = max(-available, 0)`, every other state 0, overselling allowed
//! only when `available` is negative.

use super::json::Node;
use crate::error::{Error, ErrorKind, Result};
use crate::mapping::CrossReferences;
use crate::model::{InventoryLevel, LocationId, Sku, SystemId};

/// The cross-reference namespace of inventory item id → SKU.
pub(crate) const INVENTORY_ITEM_NAMESPACE: &str = "inventory_item";
/// The cross-reference namespace of location id → canonical location.
pub(crate) const LOCATION_NAMESPACE: &str = "location";

/// Builds the level from the payload root.
pub(crate) fn level(
    root: &Node<'_>,
    system: &SystemId,
    xrefs: &dyn CrossReferences,
) -> Result<InventoryLevel> {
    let item_node = root.get("inventory_item_id");
    let location_node = root.get("location_id");
    let item = item_node.id()?;
    let location = location_node.id()?;
    let lookup = |namespace: &str, resource: &str, id: u64| {
        xrefs
            .to_canonical(
                namespace,
                system.as_str(),
                &format!("gid://shopify/{resource}/{id}"),
            )
            .or_else(|| xrefs.to_canonical(namespace, system.as_str(), &id.to_string()))
    };
    let unknown = |node: &Node<'_>, what: &str, namespace: &str| {
        let base = node.bad(format_args!(
            "{what} is not bound in cross references (namespace `{namespace}`, system `{system}`) \
             for inventory item {item} at location {location}"
        ));
        Error::new(ErrorKind::NotFound, base.message().to_string())
            .with_context_defaults(base.context())
    };
    let sku_text = lookup(INVENTORY_ITEM_NAMESPACE, "InventoryItem", item).ok_or_else(|| {
        unknown(
            &item_node,
            &format!("inventory item {item}"),
            INVENTORY_ITEM_NAMESPACE,
        )
    })?;
    let location_text = lookup(LOCATION_NAMESPACE, "Location", location).ok_or_else(|| {
        unknown(
            &location_node,
            &format!("location {location}"),
            LOCATION_NAMESPACE,
        )
    })?;
    let sku = Sku::new(&sku_text).map_err(|e| item_node.bad(e.message()))?;
    let location_id =
        LocationId::new(&location_text).map_err(|e| location_node.bad(e.message()))?;
    let mut level = InventoryLevel::new(sku, location_id, root.get("updated_at").time()?);
    let available = root.get("available").int()?;
    level.available = available;
    level.on_hand = available.max(0);
    level.committed = available.checked_neg().unwrap_or(i64::MAX).max(0);
    level.oversell_allowed = available < 0;
    Ok(level)
}
