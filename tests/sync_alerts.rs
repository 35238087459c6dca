//! Alerts reach the owner over HTTP: a halted flow posts its alert, as JSON,
//! to a real local server; a server that keeps failing is retried and the
//! flow still finishes.

mod common;

use std::sync::Arc;

use common::{system, variant_flow, variants};
use seamwork::connector::memory::FaultOptions;
use seamwork::store::MemoryStore;
use seamwork::sync::{Engine, FailurePolicy, WebhookAlertSink};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_halted_flow_posts_its_alert_to_the_owners_webhook() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/alerts"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let mut all = variants(8, 3);
    all[3].price = -all[3].price;
    source.put_all(all);
    let alerts = Arc::new(WebhookAlertSink::new(format!("{}/alerts", server.uri())).unwrap());
    let engine = Engine::new(Arc::new(MemoryStore::new())).with_alerts(alerts);
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::halt());
    let report = engine.run_once(&flow).await.unwrap();
    assert!(report.halted.is_some());

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&received[0].body).unwrap();
    assert_eq!(body["flow"], "variants");
    assert_eq!(body["owner"]["team"], "erp-integration");
    assert_eq!(body["owner"]["contact"], "erp-oncall@example.com");
    assert_eq!(body["what"]["alert"], "halted");
    assert!(
        body["what"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("price")
    );
}

#[tokio::test]
async fn a_failing_alert_endpoint_is_retried_and_never_fails_the_flow() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .expect(2)
        .mount(&server)
        .await;
    let source = system("store", FaultOptions::none(), 1);
    let sink = system("erp", FaultOptions::none(), 2);
    let mut all = variants(8, 4);
    all[0].price = -all[0].price;
    source.put_all(all);
    let alerts = WebhookAlertSink::new(server.uri())
        .unwrap()
        .with_attempts(2);
    let engine = Engine::new(Arc::new(MemoryStore::new())).with_alerts(Arc::new(alerts));
    let flow = variant_flow("variants", &source, &sink, FailurePolicy::halt());
    let report = engine.run_once(&flow).await.unwrap();
    assert!(
        report.halted.is_some(),
        "the run itself completes and reports the halt"
    );
}
