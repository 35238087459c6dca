//! Invariants of the retrying sink against a scripted sink that fails at
//! random: whole calls (after writing part of the batch), records refused
//! for now, and records refused for good.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use proptest::prelude::*;
use seamwork::connector::memory::{Dataset, SeedOptions};
use seamwork::connector::{
    Capability, Connector, Entity, EntityKey, EntityKind, Sink, WriteOutcome, WriteResult,
};
use seamwork::layers::{LayerExt, RetryLayer, RetryOptions};
use seamwork::model::{SystemId, Variant};
use seamwork::{Error, ErrorKind, Result, Retryability};

/// Chances in per-mille, drawn from one seeded generator.
struct Script {
    system: SystemId,
    rng: Mutex<fastrand::Rng>,
    call_fails: u32,
    busy: u32,
    bad: HashSet<EntityKey>,
    /// Keys sent per call, and keys written.
    calls: Mutex<Vec<Vec<EntityKey>>>,
    written: Mutex<HashMap<EntityKey, usize>>,
}

impl Script {
    fn roll(&self, per_mille: u32) -> bool {
        self.rng.lock().unwrap().u32(0..1000) < per_mille
    }
}

impl Connector for Script {
    fn system(&self) -> &SystemId {
        &self.system
    }

    fn capability(&self, _: EntityKind) -> Capability {
        Capability::new()
    }
}

#[async_trait]
impl Sink<Variant> for Script {
    async fn upsert(&self, batch: &[Variant]) -> Result<Vec<WriteOutcome>> {
        self.calls
            .lock()
            .unwrap()
            .push(batch.iter().map(Entity::key).collect());
        let fails = self.roll(self.call_fails);
        let mut out = Vec::new();
        for v in batch {
            let key = v.key();
            let result = if self.bad.contains(&key) {
                WriteResult::rejected(Error::invalid_data("bad record"))
            } else if self.roll(self.busy) {
                WriteResult::rejected(Error::new(ErrorKind::Conflict, "row locked"))
            } else {
                *self.written.lock().unwrap().entry(key.clone()).or_default() += 1;
                WriteResult::Updated {
                    external_id: key.to_string(),
                }
            };
            out.push(WriteOutcome::new(key, result));
            // A failing call stops part-way through the batch.
            if fails && self.roll(300) {
                break;
            }
        }
        if fails {
            return Err(Error::unavailable("connection reset"));
        }
        Ok(out)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn every_record_gets_one_true_outcome_in_batch_order(
        seed in any::<u64>(),
        call_fails in 0u32..600,
        busy in 0u32..600,
        bad_mask in any::<u32>(),
        attempts in 1u32..8,
    ) {
        let variants = Dataset::generate(&SeedOptions::small()).unwrap().variants;
        let bad: HashSet<EntityKey> = variants
            .iter()
            .enumerate()
            .filter(|(i, _)| bad_mask & (1 << (i % 32)) != 0 && i % 3 == 0)
            .map(|(_, v)| v.key())
            .collect();
        let script = std::sync::Arc::new(Script {
            system: SystemId::new("erp").unwrap(),
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            call_fails,
            busy,
            bad: bad.clone(),
            calls: Mutex::default(),
            written: Mutex::default(),
        });
        let sink = std::sync::Arc::clone(&script).layer(RetryLayer::new(
            RetryOptions::default()
                .with_max_attempts(attempts)
                .with_delays(Duration::from_millis(1), Duration::from_millis(5))
                .with_jitter_seed(seed),
        ));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let result = rt.block_on(sink.upsert(&variants));
        let calls = script.calls.lock().unwrap().clone();
        let written = script.written.lock().unwrap().clone();
        prop_assert!(calls.len() <= attempts as usize);
        match result {
            Err(e) => {
                // Only when no call ever answered: every call failed.
                prop_assert_eq!(calls.len(), attempts as usize);
                prop_assert!(calls.iter().all(|c| c.len() == variants.len()));
                prop_assert_eq!(e.retryability(), Retryability::PersistentAfterRetries);
            }
            Ok(outcomes) => {
                let keys: Vec<EntityKey> = outcomes.iter().map(|o| o.key.clone()).collect();
                let want: Vec<EntityKey> = variants.iter().map(Entity::key).collect();
                prop_assert_eq!(keys, want, "one outcome per record, in batch order");
                for o in &outcomes {
                    match o.result.rejection() {
                        None => prop_assert!(written.contains_key(&o.key), "{} reported written but never was", o.key),
                        Some(e) if bad.contains(&o.key) => {
                            prop_assert_eq!(e.retryability(), Retryability::Permanent);
                        }
                        Some(e) => {
                            // Refused for now until the attempts ran out.
                            prop_assert_eq!(calls.len(), attempts as usize);
                            prop_assert_eq!(e.retryability(), Retryability::PersistentAfterRetries);
                        }
                    }
                }
            }
        }
        // What is sent only shrinks: a record a call answered for good is never sent again.
        for pair in calls.windows(2) {
            let before: HashSet<&EntityKey> = pair[0].iter().collect();
            prop_assert!(pair[1].iter().all(|k| before.contains(k)), "a retry sent a settled record");
            for key in &pair[1] {
                prop_assert!(!bad.contains(key) || pair[0].len() == variants.len() && pair[1].len() == variants.len(),
                    "the permanently bad {key} was sent again after an answer");
            }
        }
    }
}
