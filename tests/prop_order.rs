//! Property: orders built by the rules validate, their totals add up, and
//! any total off by one minor unit is reported.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use seamwork::connector::memory::{Dataset, SeedOptions};
use seamwork::model::{
    Currency, DiscountAllocation, DiscountTarget, FinancialStatus, Money, Order, OrderDiscount,
    OrderLine, Refund, RoundingMode, ShippingLine, Sku, TaxLine,
};

#[derive(Debug, Clone)]
struct Spec {
    currency: Currency,
    lines: Vec<(i64, u32)>,
    discount_percent: u32,
    tax_rate_bp: u32,
    shipping: Vec<i64>,
    taxes_included: bool,
    payment: u8,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::sample::select(vec![
            Currency::USD,
            Currency::JPY,
            Currency::KWD,
            Currency::EUR,
        ]),
        prop::collection::vec((0i64..1_000_000, 1u32..20), 1..8),
        0u32..60,
        prop::sample::select(vec![0u32, 500, 725, 825, 1900, 2000]),
        prop::collection::vec(0i64..5_000, 0..3),
        any::<bool>(),
        0u8..4,
    )
        .prop_map(
            |(
                currency,
                lines,
                discount_percent,
                tax_rate_bp,
                shipping,
                taxes_included,
                payment,
            )| Spec {
                currency,
                lines,
                discount_percent,
                tax_rate_bp,
                shipping,
                taxes_included,
                payment,
            },
        )
}

/// Builds an order the way a storefront does: allocate the discount, round tax per line.
fn build(s: &Spec) -> Order {
    let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let m = |minor: i64| Money::from_minor(minor, s.currency);
    let mut o = Order::new("#1", s.currency, at);
    o.taxes_included = s.taxes_included;
    for (i, (price, qty)) in s.lines.iter().enumerate() {
        o.lines.push(OrderLine::new(
            (i + 1).to_string(),
            Sku::new(format!("S{i}")).unwrap(),
            *qty,
            m(*price),
        ));
    }
    let gross: Vec<Money> = o.lines.iter().map(|l| l.gross().unwrap()).collect();
    let gross_total = Money::sum(s.currency, gross.iter()).unwrap();
    if s.discount_percent > 0 && gross_total.is_positive() {
        let amount = gross_total
            .checked_mul(Decimal::new(s.discount_percent.into(), 2))
            .unwrap()
            .round(RoundingMode::HalfEven);
        let weights: Vec<Decimal> = gross.iter().map(|g| g.amount()).collect();
        for (line, part) in o.lines.iter_mut().zip(amount.allocate(&weights).unwrap()) {
            line.discount_allocations.push(DiscountAllocation {
                discount: 0,
                amount: part,
            });
        }
        o.discounts.push(OrderDiscount {
            code: None,
            title: "promo".into(),
            target: DiscountTarget::Order,
            amount,
        });
    }
    let rate = Decimal::new(s.tax_rate_bp.into(), 4);
    for line in &mut o.lines {
        let tax = line
            .net()
            .unwrap()
            .checked_mul(rate)
            .unwrap()
            .round(RoundingMode::HalfUp);
        line.tax_lines.push(TaxLine {
            title: "tax".into(),
            rate,
            amount: tax,
        });
    }
    for (i, price) in s.shipping.iter().enumerate() {
        o.shipping_lines
            .push(ShippingLine::new(format!("ship {i}"), m(*price)));
    }
    let total = o.computed_totals(m(0)).unwrap().total;
    let (status, paid, refund) = match (s.payment, total.is_positive()) {
        (0, _) | (_, false) => (FinancialStatus::Pending, m(0), None),
        (1, true) => (FinancialStatus::Paid, total, None),
        (2, true) => (FinancialStatus::Refunded, total, Some(total)),
        _ => {
            let half = total.allocate_evenly(2).unwrap()[1];
            if half.is_positive() {
                (FinancialStatus::PartiallyRefunded, total, Some(half))
            } else {
                (FinancialStatus::Paid, total, None)
            }
        }
    };
    o.financial_status = status;
    o.totals = o.computed_totals(paid).unwrap();
    if let Some(amount) = refund {
        o.refunds.push(Refund::new("r", at, amount));
    }
    o
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn built_orders_validate_and_totals_add_up(s in spec()) {
        let o = build(&s);
        if let Err(e) = o.validate() {
            return Err(TestCaseError::fail(format!("{e}")));
        }
        let t = &o.totals;
        let mut expected = t.subtotal.checked_add(t.shipping_total).unwrap();
        if !o.taxes_included {
            expected = expected.checked_add(t.tax_total).unwrap();
        }
        prop_assert_eq!(expected, t.total);
        // The discount allocations sum exactly to the discount.
        prop_assert_eq!(t.discount_total, Money::sum(o.currency, o.discounts.iter().map(|d| &d.amount)).unwrap());
        // JSON round trip keeps every value.
        let json = serde_json::to_string(&o).unwrap();
        prop_assert_eq!(serde_json::from_str::<Order>(&json).unwrap(), o);
    }

    #[test]
    fn a_total_off_by_one_minor_unit_is_reported(s in spec(), which in 0usize..5) {
        let mut o = build(&s);
        let one = Money::from_minor(1, o.currency);
        let (field, slot) = match which {
            0 => ("totals.subtotal", &mut o.totals.subtotal),
            1 => ("totals.discount_total", &mut o.totals.discount_total),
            2 => ("totals.shipping_total", &mut o.totals.shipping_total),
            3 => ("totals.tax_total", &mut o.totals.tax_total),
            _ => ("totals.total", &mut o.totals.total),
        };
        *slot = slot.checked_add(one).unwrap();
        let e = o.validate().unwrap_err();
        prop_assert!(e.has_field(field), "{} not reported in {}", field, e);
        let v = e.violation(field).unwrap();
        prop_assert!(v.expected.is_some() && v.actual.is_some());
    }

    #[test]
    fn generated_datasets_are_valid(seed in any::<u64>()) {
        let data = Dataset::generate(&SeedOptions::small().with_seed(seed)).unwrap();
        for o in &data.orders {
            if let Err(e) = o.validate() {
                return Err(TestCaseError::fail(format!("seed {seed}: {e}")));
            }
        }
        for v in &data.variants {
            prop_assert!(v.validate().is_ok());
        }
        for l in &data.inventory {
            prop_assert!(l.validate().is_ok());
        }
    }
}
