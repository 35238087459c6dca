//! Webhook intake: signatures, repeated deliveries, and webhook + poll
//! converging on the same versions so nothing is written twice or moved back.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::{system, variant_flow, variants};
use futures::TryStreamExt;
use hmac::{Hmac, KeyInit, Mac};
use seamwork::ErrorKind;
use seamwork::connector::memory::FaultOptions;
use seamwork::connector::{Entity, Record, Source};
use seamwork::model::Variant;
use seamwork::store::{DeadLetterFilter, MemoryStore, StateStore};
use seamwork::sync::{
    Engine, FailurePolicy, Intake, ReplayOutcome, SignatureEncoding, WebhookDelivery,
    WebhookIntake, WebhookSecret,
};

const SECRET: &str = "shpss_test_secret";

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn intake(store: Arc<dyn StateStore>) -> WebhookIntake<Variant> {
    WebhookIntake::new(
        "variants",
        WebhookSecret::new(SECRET),
        SignatureEncoding::Base64,
        store,
        Duration::from_secs(48 * 3600),
        |body| Ok(serde_json::from_slice::<Record<Variant>>(body)?),
    )
}

#[tokio::test]
async fn bad_signatures_are_refused_and_repeated_deliveries_acknowledged_once() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let source = system("store", FaultOptions::none(), 1);
    source.put_all(variants(4, 2));
    let records: Vec<Record<Variant>> = source.read(None).try_collect().await.unwrap();
    let body = serde_json::to_vec(&records[0]).unwrap();
    let hooks = intake(store);

    let forged = hooks
        .receive(WebhookDelivery::new("d-1", &sign(b"other body"), &body))
        .await;
    assert_eq!(forged.unwrap_err().kind(), &ErrorKind::Unauthorized);
    let garbage = hooks
        .receive(WebhookDelivery::new("d-1", "not base64!", &body))
        .await;
    assert_eq!(garbage.unwrap_err().kind(), &ErrorKind::Unauthorized);
    assert_eq!(hooks.queued(), 0);

    let signature = sign(&body);
    let first = hooks
        .receive(WebhookDelivery::new("d-1", &signature, &body))
        .await
        .unwrap();
    let again = hooks
        .receive(WebhookDelivery::new("d-1", &signature, &body))
        .await
        .unwrap();
    assert_eq!((first, again), (Intake::Queued, Intake::Duplicate));
    assert_eq!(hooks.queued(), 1);

    let bad_body = b"{\"not\": \"a record\"}";
    let refused = hooks
        .receive(WebhookDelivery::new("d-2", &sign(bad_body), bad_body))
        .await;
    let err = refused.unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InvalidData);
    assert_eq!(err.context().external_id.as_deref(), Some("d-2"));
    assert!(
        !format!("{hooks:?}").contains(SECRET),
        "the secret never prints"
    );

    // One id reused for another body (WooCommerce's ids have one-second
    // granularity) is a different delivery; a delivery without an id is refused.
    let other = serde_json::to_vec(&records[1]).unwrap();
    let reused = hooks
        .receive(WebhookDelivery::new("d-1", &sign(&other), &other))
        .await
        .unwrap();
    assert_eq!(reused, Intake::Queued);
    assert_eq!(hooks.queued(), 2);
    let anonymous = hooks
        .receive(WebhookDelivery::new(" ", &sign(&other), &other))
        .await;
    assert_eq!(anonymous.unwrap_err().kind(), &ErrorKind::InvalidData);
}

#[tokio::test]
async fn an_empty_secret_verifies_nothing() {
    let body = b"{}";
    let unkeyed = {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"").unwrap();
        mac.update(body);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    };
    let refused = seamwork::sync::verify_signature(
        &WebhookSecret::new(""),
        body,
        &unkeyed,
        SignatureEncoding::Base64,
    );
    assert_eq!(refused.unwrap_err().kind(), &ErrorKind::Config);
}

#[tokio::test]
async fn webhook_then_poll_writes_each_version_once_and_never_moves_back() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let all = variants(400, 3);
    source.put_all(all.clone());
    let engine = Engine::new(store.clone());
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(100));
    let hooks = intake(store.clone());

    // 30 webhooks arrive first (one of them delivered twice by the provider).
    let records: Vec<Record<Variant>> = source.read(None).try_collect().await.unwrap();
    for (i, record) in records.iter().take(30).enumerate() {
        let body = serde_json::to_vec(record).unwrap();
        hooks
            .receive(WebhookDelivery::new(&format!("d-{i}"), &sign(&body), &body))
            .await
            .unwrap();
    }
    let body = serde_json::to_vec(&records[0]).unwrap();
    hooks
        .receive(WebhookDelivery::new("d-0", &sign(&body), &body))
        .await
        .unwrap();
    let pushed = engine
        .deliver(&flow, hooks.drain(usize::MAX))
        .await
        .unwrap();
    assert_eq!(pushed.created, 30);

    // The polling sweep converges on the same versions: nothing written twice.
    let polled = engine.run_once(&flow).await.unwrap();
    assert_eq!(polled.already_delivered, 30);
    assert_eq!(polled.created, 370);
    assert_eq!(sink.stats().records_created, 400);

    // A newer version arrives by poll; the provider then redelivers the old one late.
    let mut newer = all[5].clone();
    newer.title = format!("{} (renamed)", newer.title);
    source.put(newer.clone());
    engine.run_once(&flow).await.unwrap();
    let stale = records
        .iter()
        .find(|r| r.entity.key() == newer.key())
        .unwrap();
    let body = serde_json::to_vec(stale).unwrap();
    hooks
        .receive(WebhookDelivery::new("late", &sign(&body), &body))
        .await
        .unwrap();
    let late = engine.deliver(&flow, hooks.drain(10)).await.unwrap();
    assert_eq!((late.already_delivered, late.updated), (1, 0));
    assert_eq!(
        sink.get::<Variant>(&newer.key()).unwrap().title,
        newer.title
    );
}

#[tokio::test]
async fn a_dead_letter_overtaken_by_a_newer_version_is_not_replayed() {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let mut all = variants(8, 4);
    all[2].price = -all[2].price;
    source.put_all(all.clone());
    let engine = Engine::new(store.clone());
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::dead_letter(1000));
    engine.run_once(&flow).await.unwrap();
    let letter = store
        .dead_letters(&DeadLetterFilter::open("variants"))
        .await
        .unwrap()
        .remove(0);

    // The source is fixed and the fixed version syncs before anyone replays.
    all[2].price = -all[2].price;
    source.put(all[2].clone());
    assert_eq!(engine.run_once(&flow).await.unwrap().created, 1);
    match engine.replay(&flow, letter.id).await.unwrap() {
        ReplayOutcome::Superseded(why) => assert!(why.contains("superseded"), "{why}"),
        other => panic!("a stale letter must not be replayed: {other:?}"),
    }
    assert!(
        store
            .dead_letters(&DeadLetterFilter::open("variants"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(sink.get::<Variant>(&all[2].key()).as_ref(), Some(&all[2]));
}
