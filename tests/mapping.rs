//! Mapping specs end to end: the example specs, errors, versions, drift, round trips, golden files.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use seamwork::mapping::testing::{golden, read_records};
use seamwork::mapping::value::record_from_columns;
use seamwork::mapping::{
    ApplyOptions, DriftKind, DriftOptions, MappingSpec, MemoryCrossReferences, RecordDiff,
    SchemaDrift, SchemaProfile, SpecRegistry, compare,
};
use seamwork::model::{Order, Variant};
use serde_json::{Value, json};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("examples/mapping")
        .join(name)
}

fn order_spec() -> MappingSpec<Order> {
    MappingSpec::from_file(example("shopify_order.toml")).unwrap()
}

fn variant_spec() -> MappingSpec<Variant> {
    MappingSpec::from_file(example("erp_variant.toml")).unwrap()
}

fn xrefs() -> MemoryCrossReferences {
    let x = MemoryCrossReferences::new();
    x.load_crosswalks(&std::fs::read_to_string(example("crosswalks.toml")).unwrap())
        .unwrap();
    x
}

fn erp_rows() -> Vec<Value> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_path(example("erp_items.csv"))
        .unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            record_from_columns(headers.iter().zip(r.iter())).unwrap()
        })
        .collect()
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

#[test]
fn shopify_order_maps_and_the_bad_one_lists_every_field() {
    let spec = order_spec();
    let inputs = read_records(&example("shopify_orders.json")).unwrap();
    let outcome = spec.apply_batch(&inputs, &ApplyOptions::default(), None);
    assert_eq!(outcome.len(), 2, "nothing dropped");
    let order = &outcome.mapped[0].entity;
    assert_eq!(outcome.mapped[0].version, 1);
    assert_eq!(order.number, "#1001");
    assert_eq!(order.lines[0].quantity, 2);
    assert_eq!(
        order.lines[0].tax_lines[0].amount.amount().to_string(),
        "3.3"
    );
    assert_eq!(
        order.created_at,
        Utc.with_ymd_and_hms(2026, 3, 1, 15, 0, 0).unwrap()
    );
    assert_eq!(
        order.customer.as_ref().unwrap().id,
        "gid://shopify/Customer/7"
    );
    order.validate().unwrap();

    let err = &outcome.failed[0];
    assert_eq!(err.record, Some(1));
    let text = err.to_string();
    assert_eq!(err.failures.len(), 3, "{text}");
    assert!(text.contains("fulfillment_status (from /displayFulfillmentStatus = \"ON_HOLD\"): value \"ON_HOLD\" is not in the map"), "{text}");
    assert!(text.contains("created_at (from /createdAt = \"2026-03-01 10:10\"): \"2026-03-01 10:10\" matches none of the formats"), "{text}");
    assert!(
        text.contains(
            "lines[0].quantity (from /quantity = \"two\"): \"two\" is not a whole number"
        ),
        "{text}"
    );
}

#[test]
fn erp_rows_map_through_crosswalks_and_errors_name_the_source_values() {
    let spec = variant_spec();
    let x = xrefs();
    let opts = ApplyOptions::default().with_xrefs(&x).with_now(now());
    let outcome = spec.apply_batch(&erp_rows(), &opts, None);
    assert_eq!(outcome.mapped.len(), 2);
    let v = &outcome.mapped[0].entity;
    assert_eq!(v.sku.as_str(), "TEE-BLK-M");
    assert_eq!(v.title, "Classic Tee Black / M");
    assert_eq!(v.price.amount().to_string(), "19.99");
    assert_eq!(v.weight.unwrap().value.to_string(), "184.2719003125"); // 6.5 oz × 28.349523125 g
    assert_eq!(
        v.updated_at,
        Utc.with_ymd_and_hms(2026, 3, 1, 13, 5, 0).unwrap()
    );
    assert!(outcome.mapped[1].entity.barcodes.is_empty());

    let err = &outcome.failed[0];
    let text = err.to_string();
    assert_eq!(err.failures.len(), 5, "{text}");
    for needle in [
        "barcodes (from EAN = \"12345\"): GTIN \"12345\" has 5 digits",
        "sku (from ITEM_NO = \"100-999\"): no sku cross-reference for \"100-999\" in system erp",
        "weight.value (from WEIGHT_OZ = \"heavy\"): \"heavy\" is not a decimal number",
        "status (from STATUS = \"X\"): value \"X\" is not in the map (known: A, D, I)",
        "updated_at (from CHANGED = \"31.02.2026 14:05\")",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in {text}");
    }
}

#[test]
fn round_trip_canonical_payload_canonical() {
    let x = xrefs();
    let opts = ApplyOptions::default().with_xrefs(&x).with_now(now());

    let spec = order_spec();
    assert!(
        spec.one_way_fields().is_empty(),
        "{:?}",
        spec.one_way_fields()
    );
    let inputs = read_records(&example("shopify_orders.json")).unwrap();
    let order = spec.apply_with(&inputs[0], &opts).unwrap().entity;
    let payload = spec.to_payload(&order, &opts).unwrap();
    assert_eq!(payload["lineItems"]["nodes"][0]["sku"], json!("TEE-BLK-M"));
    assert_eq!(payload["displayFinancialStatus"], json!("PAID"));
    let back = spec.apply_with(&payload, &opts).unwrap().entity;
    assert_eq!(back, order);

    let spec = variant_spec();
    assert_eq!(spec.one_way_fields(), ["title"]);
    let variant = spec.apply_with(&erp_rows()[0], &opts).unwrap().entity;
    let payload = spec.to_payload(&variant, &opts).unwrap();
    assert_eq!(
        payload["ITEM_NO"],
        json!("100-200"),
        "SKU crosswalk reversed"
    );
    assert_eq!(payload["PRICE"], json!("19,99"));
    assert_eq!(payload["STATUS"], json!("A"));
    assert_eq!(payload["CHANGED"], json!("01.03.2026 14:05"));
    let mut payload = payload;
    payload["DESCRIPTION"] = json!("Classic Tee Black"); // the one-way title's inputs
    let back = spec.apply_with(&payload, &opts).unwrap().entity;
    assert_eq!(back, variant);
}

#[test]
fn two_versions_side_by_side() {
    let v1 = variant_spec();
    let text = std::fs::read_to_string(example("erp_variant.toml")).unwrap();
    let v2_text = text
        .replace("version = 1", "version = 2")
        .replace("I = \"archived\"", "I = \"draft\"")
        .replace("case = \"lower\"", "case = \"upper\"");
    let v2 = MappingSpec::<Variant>::from_toml(&v2_text, "erp_variant_v2.toml").unwrap();
    let x = xrefs();
    let opts = ApplyOptions::default().with_xrefs(&x).with_now(now());
    let mut rows = erp_rows();
    rows[1]["STATUS"] = json!("I");
    let cmp = compare(&v1, &v2, &rows, &opts);
    assert_eq!((cmp.records, cmp.same), (3, 1), "{cmp}"); // the bad row fails in both
    let RecordDiff::Changed { record, fields } = &cmp.differences[1] else {
        panic!("{cmp}")
    };
    assert_eq!(*record, 1);
    let changed: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(changed, ["product_handle", "status"]);
    assert!(
        cmp.to_string()
            .contains("record #1 status: \"archived\" -> \"draft\""),
        "{cmp}"
    );

    let mut registry = SpecRegistry::new();
    registry.insert(v1).unwrap();
    registry.insert(v2).unwrap();
    assert_eq!(registry.versions("erp"), [1, 2]);
    assert_eq!(registry.latest("erp").unwrap().version(), 2);
    let dup = registry.insert(variant_spec()).unwrap_err();
    assert!(
        dup.to_string().contains("version 1 is already registered"),
        "{dup}"
    );
}

#[test]
fn schema_drift_across_two_runs() {
    let spec = order_spec();
    let base = read_records(&example("shopify_orders.json"))
        .unwrap()
        .remove(0);
    let mut last_run = SchemaProfile::new();
    let old: Vec<Value> = (0..10)
        .map(|_| {
            let mut o = base.clone();
            o["totalPriceUsd"] = json!("48.27");
            o
        })
        .collect();
    spec.apply_batch(&old, &ApplyOptions::default(), Some(&mut last_run));

    // The next API version drops the received amount and adds duties.
    let new: Vec<Value> = (0..10)
        .map(|_| {
            let mut o = base.clone();
            o.as_object_mut().unwrap().remove("totalReceivedSet");
            o["currentTotalDutiesSet"] = json!({"shopMoney": {"amount": "0.0"}});
            o["lineItems"]["nodes"][0]["quantity"] = json!("2");
            o["lineItems"]["nodes"][0]["discountedTotalSet"] =
                json!({"shopMoney": {"amount": "39.98"}});
            o["totalPriceSet"]["presentmentMoney"] = json!({"amount": "48.27"});
            o
        })
        .collect();
    let mut this_run = SchemaProfile::new();
    let outcome = spec.apply_batch(&new, &ApplyOptions::default(), Some(&mut this_run));
    assert_eq!(outcome.failed.len(), 10, "paid is required");

    let drift = SchemaDrift::compare(&last_run, &this_run, &DriftOptions::default());
    let text = drift.to_string();
    assert!(text.contains("`/totalReceivedSet/shopMoney/amount` missing in 100% of records this run, present in 100% last run"), "{text}");
    assert!(
        text.contains("new field `currentTotalDutiesSet` in 100% of records"),
        "{text}"
    );
    assert!(
        text.contains("field `totalPriceUsd` no longer appears"),
        "{text}"
    );
    assert!(text.contains("`lineItems/nodes[]/quantity` is mostly string this run (100%), was number last run (100%)"), "{text}");
    // Shares of list-element fields are shares of elements; nested objects are searched too.
    assert!(text.contains("new field `lineItems/nodes[]/discountedTotalSet` in 100% of `lineItems/nodes[]` elements"), "{text}");
    assert!(
        text.contains("new field `totalPriceSet/presentmentMoney` in 100% of records"),
        "{text}"
    );
    assert_eq!(drift.findings[0].kind, DriftKind::Disappearing);
    assert!(SchemaDrift::compare(&last_run, &last_run, &DriftOptions::default()).is_empty());
}

#[test]
fn golden_files() {
    golden::<Order>(
        example("shopify_order.toml"),
        example("shopify_orders.json"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/shopify_orders.expected.json"),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // A wrong expectation produces a readable, field-level report.
    let dir = std::env::temp_dir().join(format!("seamwork-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let expected = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/shopify_orders.expected.json"),
    )
    .unwrap()
    .replacen("\"#1001\"", "\"#9999\"", 1);
    let wrong = dir.join("wrong.json");
    std::fs::write(&wrong, expected).unwrap();
    let failure = golden::<Order>(
        example("shopify_order.toml"),
        example("shopify_orders.json"),
        &wrong,
    )
    .unwrap_err()
    .to_string();
    assert!(
        failure.contains("record #0 number: expected \"#9999\", got \"#1001\""),
        "{failure}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn specs_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MappingSpec<Order>>();
}

#[test]
fn blanks_guests_partial_parts_and_missing_lists() {
    let x = xrefs();
    let opts = ApplyOptions::default().with_xrefs(&x).with_now(now());
    let spec = variant_spec();

    // An empty optional cell is a missing value, not an error; the constant
    // weight unit alone does not make a weight.
    let mut row = erp_rows()[0].clone();
    row["WEIGHT_OZ"] = json!("");
    row["EAN"] = json!("");
    let v = spec.apply_with(&row, &opts).unwrap().entity;
    assert_eq!(v.weight, None);
    assert!(v.barcodes.is_empty());

    // A guest order has no customer: the constant system does not invent one.
    let order_spec = order_spec();
    let mut guest = read_records(&example("shopify_orders.json"))
        .unwrap()
        .remove(0);
    guest.as_object_mut().unwrap().remove("customer");
    let order = order_spec.apply(&guest).unwrap().entity;
    assert_eq!(order.customer, None);

    // Half an address is reported by name, not as a serde error.
    let mut half = read_records(&example("shopify_orders.json"))
        .unwrap()
        .remove(0);
    half["shippingAddress"]["city"] = json!(null);
    let err = order_spec.apply(&half).unwrap_err().to_string();
    assert!(
        err.contains("shipping_address: is only partly mapped: city missing"),
        "{err}"
    );

    // A renamed list is an error, an empty one is not.
    let mut renamed = read_records(&example("shopify_orders.json"))
        .unwrap()
        .remove(0);
    let nodes = renamed["lineItems"]["nodes"].take();
    renamed["lineItems"] = json!({ "edges": nodes });
    let err = order_spec.apply(&renamed).unwrap_err().to_string();
    assert!(
        err.contains("lines (from /lineItems/nodes): the source list is missing"),
        "{err}"
    );

    // A negative quantity is a field failure with its source value.
    let mut negative = read_records(&example("shopify_orders.json"))
        .unwrap()
        .remove(0);
    negative["lineItems"]["nodes"][0]["quantity"] = json!(-2);
    let err = order_spec.apply(&negative).unwrap_err().to_string();
    assert!(
        err.contains("lines[0].quantity (from /quantity = -2): -2 is negative"),
        "{err}"
    );
}

#[test]
fn specs_that_cannot_work_are_refused_at_load() {
    let text = std::fs::read_to_string(example("erp_variant.toml")).unwrap();
    let bad = text
        .replace(
            r#"taxable = { from = "TAXABLE", transforms = ["bool"] }"#,
            r#"taxable = { value = "maybe" }"#,
        )
        .replace(
            r#""price.currency" = "CURRENCY""#,
            r#""price.currency" = { value = "EURO" }"#,
        )
        .replace(r#"I = "archived""#, r#"I = "archivd""#)
        .replace(
            r#"product_handle = { from = "GROUP""#,
            r#"product_handle = { required = false, from = "GROUP""#,
        )
        .replace(
            r#"sku = { from = "ITEM_NO", transforms = ["trim", { lookup = "sku" }] }"#,
            r#"sku = { from = "ITEM_NO", transforms = ["trimm", { regex = { pattern = "(" } }] }"#,
        );
    let e = MappingSpec::<Variant>::from_toml(&bad, "bad.toml")
        .unwrap_err()
        .to_string();
    for needle in [
        "fields.taxable: type mismatch: the value ends as text, but `taxable` is bool; add a `bool` transform",
        "fields.\"price.currency\".value: unknown currency",
        "the map produces \"archivd\", which is not one of active, draft, archived",
        "`product_handle` is required by the entity; it cannot be optional here",
        "fields.sku.transforms[0]: not a transform: unknown variant `trimm`",
        "fields.sku.transforms[1]: regex:",
    ] {
        assert!(e.contains(needle), "missing {needle:?} in {e}");
    }
}

#[test]
fn records_both_versions_refuse_differently_are_differences() {
    let v1 = variant_spec();
    let text = std::fs::read_to_string(example("erp_variant.toml")).unwrap();
    let v2 = MappingSpec::<Variant>::from_toml(
        &text
            .replace("version = 1", "version = 2")
            .replace("X = ", "Y = "),
        "v2.toml",
    )
    .unwrap();
    let x = xrefs();
    let opts = ApplyOptions::default().with_xrefs(&x).with_now(now());
    let mut rows = erp_rows();
    rows[2]["STATUS"] = json!("D"); // v1 and v2 still both fail this row, on other fields
    let v2_more = MappingSpec::<Variant>::from_toml(
        &text
            .replace("version = 1", "version = 3")
            .replace(r#"D = "draft""#, r#"E = "draft""#),
        "v3.toml",
    )
    .unwrap();
    assert_eq!(compare(&v1, &v2, &rows, &opts).differences.len(), 0);
    let cmp = compare(&v1, &v2_more, &rows, &opts);
    assert!(
        cmp.differences
            .iter()
            .any(|d| matches!(d, RecordDiff::FailsDifferently { record: 2, .. })),
        "{cmp}"
    );
    assert!(
        cmp.to_string().contains("fails in both, differently"),
        "{cmp}"
    );
}
