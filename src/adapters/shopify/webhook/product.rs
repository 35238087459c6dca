//! `products/create` and `products/update` payloads (REST JSON) → canonical
//! [`Product`] with its [`Variant`]s.
//!
//! | canonical | Shopify REST field |
//! |---|---|
//! | `handle` (the key) | `handle` |
//! | `description`, `vendor`, `product_type` | `body_html`, `vendor`, `product_type` |
//! | `status` | `status` (`active`, `draft`, `archived`) |
//! | `tags` | `tags` (comma-separated text, trimmed) |
//! | `options[]` | `options[]` (`name`, `values`) in payload order; Shopify's placeholder `Title: Default Title` is no option |
//! | `variants[].sku` (the variant key) | `variants[].sku` (required) |
//! | `variants[].options` | `option1..option3` by the product's option names |
//! | `variants[].price`, `compare_at_price` | decimal strings, in the shop currency |
//! | `variants[].barcodes` | `barcode` as a GTIN (empty: none) |
//! | `variants[].weight` | `weight` + `weight_unit`, when both are present |
//! | `variants[].status`, `tags` | the product's |

use super::json::{Node, tags};
use crate::error::Result;
use crate::model::{
    Currency, Gtin, Product, ProductOption, ProductStatus, Sku, Variant, Weight, WeightUnit,
};

/// Builds the product from the payload root; prices are in `currency` (the
/// shop's: the product payload does not carry one).
pub(crate) fn product(root: &Node<'_>, currency: Currency) -> Result<Product> {
    let handle = root.get("handle").text()?.to_string();
    let mut product = Product::new(
        handle.clone(),
        root.get("title").str()?,
        root.get("created_at").time()?,
    );
    product.updated_at = root.get("updated_at").time()?;
    product.description = root.get("body_html").opt_text()?;
    product.vendor = root.get("vendor").opt_text()?;
    product.product_type = root.get("product_type").opt_text()?;
    product.status = status(&root.get("status"))?;
    product.tags = tags(&root.get("tags"))?;
    for node in root.get("options").items()? {
        let values = node
            .get("values")
            .items()?
            .iter()
            .map(|v| v.str().map(str::to_string))
            .collect::<Result<Vec<_>>>()?;
        product.options.push(ProductOption {
            name: node.get("name").text()?.to_string(),
            values,
        });
    }
    // A product without options has Shopify's implied "Title: Default
    // Title": no option at all, as the GraphQL poller maps it.
    let placeholder = product.options.len() == 1
        && product.options[0].name == "Title"
        && product.options[0].values == ["Default Title"];
    if placeholder {
        product.options.clear();
    }
    for node in root.get("variants").items()? {
        let variant = variant(&node, &product, currency)?;
        product.variants.push(variant);
    }
    Ok(product)
}

/// The `(gid://shopify/InventoryItem/<id>, SKU)` pair of every variant.
pub(crate) fn inventory_items(root: &Node<'_>) -> Result<Vec<(String, Sku)>> {
    root.get("variants")
        .items()?
        .iter()
        .map(|node| {
            let item = node.get("inventory_item_id").id()?;
            Ok((format!("gid://shopify/InventoryItem/{item}"), sku(node)?))
        })
        .collect()
}

fn sku(node: &Node<'_>) -> Result<Sku> {
    let sku_node = node.get("sku");
    let sku_text = sku_node
        .opt_str()?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| sku_node.bad("is missing or empty: every canonical variant needs a SKU"))?;
    Sku::new(sku_text).map_err(|e| sku_node.bad(e.message()))
}

fn variant(node: &Node<'_>, product: &Product, currency: Currency) -> Result<Variant> {
    let sku = sku(node)?;
    let mut v = Variant::new(
        sku,
        product.handle.clone(),
        node.get("price").money(currency)?,
        node.get("created_at").time()?,
    );
    v.updated_at = node.get("updated_at").time()?;
    v.title = node.get("title").opt_str()?.unwrap_or("").to_string();
    for (i, option) in product.options.iter().enumerate() {
        let field = node.get(&format!("option{}", i + 1));
        if let Some(value) = field.opt_str()? {
            v.options.insert(option.name.clone(), value.to_string());
        }
    }
    v.compare_at_price = node.get("compare_at_price").opt_money(currency)?;
    let barcode = node.get("barcode");
    if let Some(text) = barcode.opt_text()? {
        v.barcodes
            .push(Gtin::parse(text.trim()).map_err(|e| barcode.bad(e.message()))?);
    }
    let unit_node = node.get("weight_unit");
    if let (Some(value), Some(unit)) = (
        node.get("weight").opt_plain_decimal()?,
        unit_node.opt_str()?,
    ) {
        let unit = match unit {
            "g" => WeightUnit::G,
            "kg" => WeightUnit::Kg,
            "oz" => WeightUnit::Oz,
            "lb" => WeightUnit::Lb,
            other => {
                return Err(unit_node.bad(format_args!("{other:?} is not g, kg, oz or lb")));
            }
        };
        v.weight = Some(Weight { value, unit });
    }
    v.status = product.status;
    v.tags = product.tags.clone();
    v.taxable = node.get("taxable").bool_or(true)?;
    Ok(v)
}

fn status(node: &Node<'_>) -> Result<ProductStatus> {
    Ok(match node.opt_str()? {
        None | Some("active") => ProductStatus::Active,
        Some("draft") => ProductStatus::Draft,
        Some("archived") => ProductStatus::Archived,
        Some(other) => {
            return Err(node.bad(format_args!(
                "{other:?} is not a known product status (active, draft, archived)"
            )));
        }
    })
}
