//! Property tests for `Money`: allocation never loses or invents a minor unit,
//! rounding behaves as each mode promises, and add/sub are inverse.

use proptest::prelude::*;
use rust_decimal::Decimal;
use seamwork::model::{Currency, Money, MoneyError, RoundingMode};

const MODES: [RoundingMode; 7] = [
    RoundingMode::HalfEven,
    RoundingMode::HalfUp,
    RoundingMode::HalfDown,
    RoundingMode::Down,
    RoundingMode::Up,
    RoundingMode::Floor,
    RoundingMode::Ceiling,
];

fn currency() -> impl Strategy<Value = Currency> {
    prop_oneof![
        Just(Currency::USD),
        Just(Currency::JPY),
        Just(Currency::KWD),
        Just(Currency::EUR),
    ]
}

/// One minor unit of `c` (0.01 for USD, 1 for JPY).
fn minor_unit(c: Currency) -> Decimal {
    Decimal::new(1, c.minor_units())
}

/// 1..50 weights in 0..10^6, some of them zero, at least one positive.
fn weights() -> impl Strategy<Value = Vec<Decimal>> {
    let weight = prop_oneof![
        1 => Just(Decimal::ZERO),
        3 => (0i64..1_000_000).prop_map(Decimal::from),
        1 => (0i64..1_000_000_000).prop_map(|m| Decimal::new(m, 3)),
    ];
    (
        prop::collection::vec(weight, 1..50),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut ws, idx)| {
            if ws.iter().all(|w| w.is_zero()) {
                let i = idx.index(ws.len());
                ws[i] = Decimal::ONE;
            }
            ws
        })
}

/// Two different currencies from the tested set.
fn distinct_currencies() -> impl Strategy<Value = (Currency, Currency)> {
    const SET: [Currency; 4] = [Currency::USD, Currency::JPY, Currency::KWD, Currency::EUR];
    (0usize..4, 1usize..4).prop_map(|(i, k)| (SET[i], SET[(i + k) % 4]))
}

/// An amount with up to 8 decimals.
fn amount() -> impl Strategy<Value = Decimal> {
    (-10_000_000_000_000i64..10_000_000_000_000, 0u32..=8).prop_map(|(m, s)| Decimal::new(m, s))
}

proptest! {
    #[test]
    fn allocate_sums_exactly_and_stays_within_one_minor_unit(
        c in currency(),
        total_minor in -1_000_000_000_000i64..1_000_000_000_000,
        ws in weights(),
    ) {
        let total = Money::from_minor(total_minor, c);
        let parts = total.allocate(&ws).unwrap();
        prop_assert_eq!(parts.len(), ws.len());
        prop_assert_eq!(Money::sum(c, &parts).unwrap(), total);

        let weight_sum: Decimal = ws.iter().copied().sum();
        let unit = minor_unit(c);
        for (part, w) in parts.iter().zip(&ws) {
            prop_assert_eq!(part.currency(), c);
            prop_assert!(part.is_rounded(), "{} is not rounded", part);
            let share = total.amount() * *w / weight_sum;
            prop_assert!(
                (part.amount() - share).abs() < unit,
                "part {} is a minor unit or more from its share {}", part, share
            );
            if w.is_zero() {
                prop_assert!(part.is_zero());
            }
        }
    }

    #[test]
    fn allocate_is_symmetric_for_negative_totals(
        c in currency(),
        total_minor in 0i64..1_000_000_000_000,
        ws in weights(),
    ) {
        let total = Money::from_minor(total_minor, c);
        let pos = total.allocate(&ws).unwrap();
        let neg = (-total).allocate(&ws).unwrap();
        let negated: Vec<Money> = pos.iter().map(|p| -*p).collect();
        prop_assert_eq!(neg, negated);
    }

    #[test]
    fn rounding_obeys_each_mode(c in currency(), x in amount()) {
        let unit = minor_unit(c);
        let half = unit / Decimal::TWO;
        let original = Money::new(x, c);
        for mode in MODES {
            let r = original.round(mode);
            prop_assert!(r.is_rounded(), "{:?} of {} gave {}", mode, original, r);
            prop_assert_eq!(r.currency(), c);
            let diff = (r.amount() - x).abs();
            prop_assert!(diff < unit, "{:?} of {} moved by {}", mode, original, diff);
            match mode {
                RoundingMode::HalfEven | RoundingMode::HalfUp | RoundingMode::HalfDown => {
                    prop_assert!(diff <= half, "{:?} of {} moved by {}", mode, original, diff);
                }
                RoundingMode::Down => prop_assert!(r.amount().abs() <= x.abs()),
                RoundingMode::Up => prop_assert!(r.amount().abs() >= x.abs()),
                RoundingMode::Floor => prop_assert!(r.amount() <= x),
                RoundingMode::Ceiling => prop_assert!(r.amount() >= x),
            }
            prop_assert_eq!(r.round(mode), r, "{:?} is not idempotent", mode);
            if original.is_rounded() {
                prop_assert_eq!(r, original);
            }
            prop_assert!(r.to_minor().is_ok());
        }
        let floor = original.round(RoundingMode::Floor).amount();
        let ceiling = original.round(RoundingMode::Ceiling).amount();
        prop_assert!(floor <= x && x <= ceiling);
    }

    #[test]
    fn add_sub_round_trip(c in currency(), a in amount(), b in amount()) {
        let a = Money::new(a, c);
        let b = Money::new(b, c);
        let sum = a.checked_add(b).unwrap();
        prop_assert_eq!(sum.checked_sub(b).unwrap(), a);
        prop_assert_eq!(sum.checked_sub(a).unwrap(), b);
        prop_assert_eq!(a.checked_sub(a).unwrap(), Money::zero(c));
        prop_assert_eq!(a.checked_add(-a).unwrap(), Money::zero(c));
    }

    #[test]
    fn mixed_currencies_are_refused(a in amount(), b in amount(), (l, r) in distinct_currencies()) {
        let left = Money::new(a, l);
        let right = Money::new(b, r);
        let mismatch = MoneyError::CurrencyMismatch { left: l, right: r };
        prop_assert_eq!(left.checked_add(right), Err(mismatch.clone()));
        prop_assert_eq!(left.checked_sub(right), Err(mismatch.clone()));
        prop_assert_eq!(left.checked_cmp(&right), Err(mismatch));
        prop_assert!(Money::sum(l, &[left, right]).is_err());
    }

    #[test]
    fn minor_units_round_trip(c in currency(), minor in any::<i64>()) {
        prop_assert_eq!(Money::from_minor(minor, c).to_minor(), Ok(minor));
    }
}
