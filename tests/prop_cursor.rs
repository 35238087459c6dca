//! Property: resuming from any cursor yields exactly the later records, even
//! when many records share one change time.

use std::time::Duration;

use futures::TryStreamExt;
use proptest::prelude::*;
use proptest::sample::Index;
use seamwork::connector::memory::{MemoryOptions, MemorySystem};
use seamwork::connector::{Entity, EntityKey, Record, Source, TimeIdCursor};
use seamwork::model::{InventoryLevel, LocationId, Sku, SystemId};

fn read(
    store: &MemorySystem,
    since: Option<seamwork::connector::Cursor>,
) -> Vec<Record<InventoryLevel>> {
    futures::executor::block_on(Source::<InventoryLevel>::read(store, since).try_collect()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Groups of records written at the same instant, keys inserted in random
    /// order, read in pages of any size.
    #[test]
    fn resume_from_any_cursor_with_colliding_timestamps(
        groups in prop::collection::vec(prop::collection::vec(0u32..100_000, 1..250), 1..6),
        page_size in 1usize..80,
        picks in prop::collection::vec(any::<Index>(), 1..12),
    ) {
        let store = MemorySystem::new(
            SystemId::new("store").unwrap(),
            MemoryOptions::default().with_tick(Duration::ZERO).with_page_size(page_size),
        );
        let sku = Sku::new("SKU").unwrap();
        let mut keys = std::collections::HashSet::new();
        for group in &groups {
            for n in group {
                let level = InventoryLevel::new(sku.clone(), LocationId::new(format!("L{n}")).unwrap(), store.now());
                keys.insert(level.key());
                store.put(level);
            }
            store.advance_clock(Duration::from_secs(1));
        }

        let full = read(&store, None);
        let full_keys: Vec<EntityKey> = full.iter().map(|r| r.entity.key()).collect();
        // Exactly once each.
        prop_assert_eq!(full_keys.len(), keys.len());
        prop_assert_eq!(full_keys.iter().collect::<std::collections::HashSet<_>>().len(), keys.len());

        for pick in picks {
            let i = pick.index(full.len());
            let resumed: Vec<EntityKey> = read(&store, Some(full[i].cursor.clone()))
                .iter()
                .map(|r| r.entity.key())
                .collect();
            prop_assert_eq!(&resumed[..], &full_keys[i + 1..]);
        }
    }

    /// Encoding a time/id cursor and decoding it gives the same cursor, and
    /// the order of cursors is the order of (time, id).
    #[test]
    fn time_id_cursor_round_trips_and_orders(
        a in (0i64..4_000_000_000, 0u32..1_000_000_000, "[ -~]{0,20}"),
        b in (0i64..4_000_000_000, 0u32..1_000_000_000, "[ -~]{0,20}"),
    ) {
        let make = |(s, n, id): (i64, u32, String)| {
            TimeIdCursor::new(chrono::DateTime::from_timestamp(s, n).unwrap(), id)
        };
        let (x, y) = (make(a), make(b));
        prop_assert_eq!(TimeIdCursor::decode(&x.encode()).unwrap(), x.clone());
        prop_assert_eq!(x.cmp(&y), (x.at, &x.id).cmp(&(y.at, &y.id)));
    }
}

proptest! {
    /// The hand-written encoder writes exactly what chrono's RFC 3339
    /// formatter writes, and decodes back to the same instant, for any time
    /// (years outside 0–9999 take chrono's path).
    #[test]
    fn encoding_matches_chrono_for_any_time(
        seconds in -70_000_000_000i64..300_000_000_000,
        nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        id in "[A-Za-z0-9|-]{0,12}",
    ) {
        let at = chrono::DateTime::from_timestamp(seconds, nanos).unwrap();
        let cursor = TimeIdCursor::new(at, id.clone()).encode();
        let expected = format!("{}|{id}", at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        prop_assert_eq!(cursor.as_str(), expected.as_str());
        // chrono's RFC 3339 parser reads years 0–9999 only.
        if (0..=9999).contains(&chrono::Datelike::year(&at)) {
            prop_assert_eq!(TimeIdCursor::decode(&cursor).unwrap(), TimeIdCursor::new(at, id));
        }
    }
}
