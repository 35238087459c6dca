//! Tax-inclusive ↔ tax-exclusive amounts, and tax over order lines rounded
//! per line or per total.
//!
//! A store that rounds tax on every line and an ERP that rounds it once on
//! the total disagree by a cent or two on many orders. Both are right; the
//! difference is bounded, and [`tax_rounding_tolerance`] gives the bound so
//! reconciliation can accept exactly those differences and no others.

use std::fmt::Write as _;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{Currency, Money, RoundingMode};
use crate::rules::explain::Explanation;

/// Where tax is rounded to the minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaxRounding {
    /// Each line's tax is rounded; the total is their sum (most storefronts).
    PerLine,
    /// The tax of each rate's total is rounded once and allocated back to the lines (many ERPs, EU invoices).
    PerTotal,
}

/// An amount split into net, tax and gross, with `net + tax = gross` exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaxedAmount {
    /// Before tax.
    pub net: Money,
    /// The tax.
    pub tax: Money,
    /// After tax.
    pub gross: Money,
}

/// Adds tax at `rate` (0.19 for 19 %) to a net amount: `tax = round(net × rate)`.
pub fn add_tax(net: Money, rate: Decimal, mode: RoundingMode) -> Result<TaxedAmount> {
    check_rate(rate)?;
    check_rounded(net, "net amount")?;
    let tax = net.checked_mul(rate)?.round(mode);
    let gross = net.checked_add(tax)?;
    Ok(TaxedAmount { net, tax, gross })
}

/// Takes the tax at `rate` out of a tax-inclusive amount:
/// `net = round(gross / (1 + rate))`, `tax = gross − net`.
pub fn extract_tax(gross: Money, rate: Decimal, mode: RoundingMode) -> Result<TaxedAmount> {
    check_rate(rate)?;
    check_rounded(gross, "gross amount")?;
    let net = Money::new(
        Decimal::ONE
            .checked_add(rate)
            .and_then(|factor| gross.amount().checked_div(factor))
            .ok_or_else(|| Error::invalid_data(format!("{gross} / (1 + {rate}) overflows")))?,
        gross.currency(),
    )
    .round(mode);
    let tax = gross.checked_sub(net)?;
    Ok(TaxedAmount { net, tax, gross })
}

fn check_rate(rate: Decimal) -> Result<()> {
    if rate < Decimal::ZERO {
        return Err(Error::invalid_data(format!("tax rate {rate} is negative")).with_field("rate"));
    }
    Ok(())
}

fn check_rounded(m: Money, what: &str) -> Result<()> {
    if !m.is_rounded() {
        return Err(Error::invalid_data(format!(
            "{what} {m} is not a whole number of minor units; round it first"
        )));
    }
    Ok(())
}

/// Whether amounts include tax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TaxBasis {
    /// Amounts are net: tax is added on top.
    Exclusive,
    /// Amounts are gross: tax is taken out of them.
    Inclusive,
}

/// One line to tax: its amount (net, or gross when prices include tax) and its rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaxInput {
    /// The line amount, in whole minor units.
    pub amount: Money,
    /// The line's tax rate (0.19 for 19 %).
    #[serde(with = "crate::model::money::decimal_serde")]
    pub rate: Decimal,
}

impl TaxInput {
    /// A line of `amount` taxed at `rate`.
    pub fn new(amount: Money, rate: Decimal) -> Self {
        TaxInput { amount, rate }
    }
}

/// Tax over order lines: per line and in total, with the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaxSplit {
    /// One entry per input line; the lines' taxes add up to `total.tax` exactly.
    pub lines: Vec<TaxedAmount>,
    /// The totals.
    pub total: TaxedAmount,
    /// How it was rounded.
    pub rounding: TaxRounding,
    /// The rounding mode used.
    pub mode: RoundingMode,
    /// How many distinct rates there were.
    pub rate_groups: usize,
    explanation: Explanation,
}

impl TaxSplit {
    /// How it was computed, line by line (and rate by rate for per-total rounding).
    pub fn explain(&self) -> &Explanation {
        &self.explanation
    }

    /// The largest difference the other rounding choice (in the same mode)
    /// could produce for these lines (see [`tax_rounding_tolerance`]).
    pub fn tolerance(&self) -> Money {
        tax_rounding_tolerance(
            self.lines.len(),
            self.rate_groups,
            self.total.tax.currency(),
            self.mode,
        )
    }
}

/// Taxes `lines`, whose amounts are net ([`TaxBasis::Exclusive`]) or gross
/// ([`TaxBasis::Inclusive`]), rounding per line or per total. Either way every line has
/// `net + tax = gross` and the line taxes add up exactly to the total tax.
///
/// Per total, lines are grouped by rate; each group's tax is rounded once
/// and allocated back to its lines in proportion to their amounts with
/// [`Money::allocate`] (largest remainder), which needs non-negative amounts.
pub fn compute_taxes(
    lines: &[TaxInput],
    basis: TaxBasis,
    rounding: TaxRounding,
    mode: RoundingMode,
) -> Result<TaxSplit> {
    let Some(first) = lines.first() else {
        return Err(Error::invalid_data("no lines to tax"));
    };
    let currency = first.amount.currency();
    for (i, l) in lines.iter().enumerate() {
        let field = || format!("lines[{i}]");
        if l.amount.currency() != currency {
            return Err(Error::invalid_data(format!(
                "line {i} is in {}, line 0 in {currency}",
                l.amount.currency()
            ))
            .with_field(field()));
        }
        check_rate(l.rate).map_err(|e| e.with_field(format!("lines[{i}].rate")))?;
        check_rounded(l.amount, "line amount").map_err(|e| e.with_field(field()))?;
        if rounding == TaxRounding::PerTotal && l.amount.is_negative() {
            return Err(Error::invalid_data(format!(
                "line {i} is {}: per-total rounding allocates by amount and needs amounts of at least 0",
                l.amount
            ))
            .with_field(field()));
        }
    }
    let prices_include_tax = basis == TaxBasis::Inclusive;
    let basis = if prices_include_tax { "gross" } else { "net" };
    let mut x = Explanation::new(format!(
        "tax on {} line(s), prices {} tax, rounded {rounding:?} {mode:?}",
        lines.len(),
        if prices_include_tax {
            "include"
        } else {
            "exclude"
        }
    ));
    let one_line = |l: &TaxInput| {
        if prices_include_tax {
            extract_tax(l.amount, l.rate, mode)
        } else {
            add_tax(l.amount, l.rate, mode)
        }
    };

    let mut rates: Vec<Decimal> = Vec::new();
    for l in lines {
        if !rates.contains(&l.rate) {
            rates.push(l.rate);
        }
    }
    let mut out: Vec<Option<TaxedAmount>> = vec![None; lines.len()];
    match rounding {
        TaxRounding::PerLine => {
            for (i, l) in lines.iter().enumerate() {
                let t = one_line(l)?;
                x.add(
                    format!("lines[{i}]"),
                    format!("{basis} {} at {}", l.amount, l.rate),
                    format!("net {}, tax {}, gross {}", t.net, t.tax, t.gross),
                    "tax rounded on the line",
                );
                out[i] = Some(t);
            }
        }
        TaxRounding::PerTotal => {
            for rate in &rates {
                let members: Vec<usize> = (0..lines.len())
                    .filter(|&i| lines[i].rate == *rate)
                    .collect();
                let group_total = Money::sum(currency, members.iter().map(|&i| &lines[i].amount))?;
                let t = one_line(&TaxInput::new(group_total, *rate))?;
                let weights: Vec<Decimal> =
                    members.iter().map(|&i| lines[i].amount.amount()).collect();
                let taxes = if weights.iter().all(Decimal::is_zero) {
                    vec![Money::zero(currency).round(mode); members.len()]
                } else {
                    t.tax.allocate(&weights)?
                };
                let mut parts = String::new();
                for (k, &i) in members.iter().enumerate() {
                    let tax = taxes[k];
                    let amount = lines[i].amount;
                    let (net, gross) = if prices_include_tax {
                        (amount.checked_sub(tax)?, amount)
                    } else {
                        (amount, amount.checked_add(tax)?)
                    };
                    let _ = write!(parts, "{}lines[{i}] {tax}", if k == 0 { "" } else { ", " });
                    out[i] = Some(TaxedAmount { net, tax, gross });
                }
                x.add(
                    format!("rate {rate}"),
                    format!("{basis} total {group_total} of {} line(s)", members.len()),
                    format!("tax {}", t.tax),
                    "tax rounded once on the rate's total",
                );
                x.add(
                    format!("allocate rate {rate}"),
                    format!("tax {}", t.tax),
                    parts,
                    "largest remainder by line amount: the parts add up exactly",
                );
            }
        }
    }
    let lines: Vec<TaxedAmount> = out.into_iter().flatten().collect();
    let total = TaxedAmount {
        net: Money::sum(currency, lines.iter().map(|l| &l.net))?,
        tax: Money::sum(currency, lines.iter().map(|l| &l.tax))?,
        gross: Money::sum(currency, lines.iter().map(|l| &l.gross))?,
    };
    x.add(
        "total",
        format!("{} line(s)", lines.len()),
        format!(
            "net {}, tax {}, gross {}",
            total.net, total.tax, total.gross
        ),
        "sum of the lines",
    );
    Ok(TaxSplit {
        lines,
        total,
        rounding,
        mode,
        rate_groups: rates.len(),
        explanation: x,
    })
}

/// The largest difference between per-line and per-total rounded tax over
/// `lines` lines in `rate_groups` distinct rates, in `currency`.
///
/// For the round-to-nearest modes each rounding moves a value by at most
/// half a minor unit, so the two totals differ by at most
/// ⌊(lines + rate_groups) / 2⌋ minor units; for the directed modes (up,
/// down, floor, ceiling) by less than max(lines, rate_groups) units. A
/// reconciliation that accepts differences up to this amount accepts
/// exactly the rounding choice and nothing else. When every rate has a
/// single line both ways compute the same number, and the tolerance is zero.
pub fn tax_rounding_tolerance(
    lines: usize,
    rate_groups: usize,
    currency: Currency,
    mode: RoundingMode,
) -> Money {
    if lines <= rate_groups {
        // Every rate has one line: both ways round the same single value.
        return Money::from_minor(0, currency);
    }
    let units = match mode {
        RoundingMode::HalfEven | RoundingMode::HalfUp | RoundingMode::HalfDown => {
            (lines + rate_groups) / 2
        }
        _ => lines.max(rate_groups).saturating_sub(1),
    };
    Money::from_minor(i64::try_from(units).unwrap_or(i64::MAX), currency)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn usd(a: Decimal) -> Money {
        Money::new(a, Currency::USD)
    }

    #[test]
    fn inclusive_and_exclusive() {
        let t = add_tax(usd(dec!(10.00)), dec!(0.0725), RoundingMode::HalfUp).unwrap();
        assert_eq!(
            (t.tax.amount(), t.gross.amount()),
            (dec!(0.73), dec!(10.73))
        );
        let t = extract_tax(usd(dec!(10.73)), dec!(0.0725), RoundingMode::HalfUp).unwrap();
        assert_eq!((t.net.amount(), t.tax.amount()), (dec!(10.00), dec!(0.73)));
        let t = extract_tax(
            Money::new(dec!(1000), Currency::JPY),
            dec!(0.10),
            RoundingMode::HalfEven,
        )
        .unwrap();
        assert_eq!((t.net.amount(), t.tax.amount()), (dec!(909), dec!(91)));
        assert!(add_tax(usd(dec!(1.001)), dec!(0.1), RoundingMode::HalfUp).is_err());
        assert!(add_tax(usd(dec!(1)), dec!(-0.1), RoundingMode::HalfUp).is_err());
    }

    #[test]
    fn a_rate_too_large_for_a_decimal_is_an_error_not_a_panic() {
        // Review B: `Decimal::ONE + rate` overflowed.
        let err = extract_tax(usd(dec!(1.00)), Decimal::MAX, RoundingMode::HalfUp).unwrap_err();
        assert!(err.message().contains("overflows"), "{err}");
        let lines = [TaxInput::new(usd(dec!(1.00)), Decimal::MAX)];
        for rounding in [TaxRounding::PerLine, TaxRounding::PerTotal] {
            assert!(
                compute_taxes(&lines, TaxBasis::Inclusive, rounding, RoundingMode::HalfUp).is_err()
            );
        }
    }

    #[test]
    fn a_split_remembers_its_rounding_mode() {
        let lines = [TaxInput::new(usd(dec!(0.35)), dec!(0.10)); 3];
        let down = compute_taxes(
            &lines,
            TaxBasis::Exclusive,
            TaxRounding::PerLine,
            RoundingMode::Down,
        )
        .unwrap();
        assert_eq!(down.mode, RoundingMode::Down);
        assert_eq!(
            down.tolerance(),
            tax_rounding_tolerance(3, 1, Currency::USD, RoundingMode::Down)
        );
    }

    #[test]
    fn per_line_and_per_total_differ_by_the_classic_cent() {
        // Three lines of 0.35 at 10%: per line 0.035 -> 0.04 each = 0.12; per total 1.05 -> 0.105 -> 0.11.
        let lines = [TaxInput::new(usd(dec!(0.35)), dec!(0.10)); 3];
        let per_line = compute_taxes(
            &lines,
            TaxBasis::Exclusive,
            TaxRounding::PerLine,
            RoundingMode::HalfUp,
        )
        .unwrap();
        let per_total = compute_taxes(
            &lines,
            TaxBasis::Exclusive,
            TaxRounding::PerTotal,
            RoundingMode::HalfUp,
        )
        .unwrap();
        assert_eq!(per_line.total.tax.amount(), dec!(0.12));
        assert_eq!(per_total.total.tax.amount(), dec!(0.11));
        let taxes: Vec<Decimal> = per_total.lines.iter().map(|l| l.tax.amount()).collect();
        assert_eq!(taxes, [dec!(0.04), dec!(0.04), dec!(0.03)]);
        let diff = per_line
            .total
            .tax
            .checked_sub(per_total.total.tax)
            .unwrap()
            .abs();
        assert!(diff.amount() <= per_line.tolerance().amount());
        assert_eq!(per_line.tolerance().amount(), dec!(0.02));
        assert!(
            per_total
                .explain()
                .to_string()
                .contains("tax rounded once on the rate's total")
        );
    }

    #[test]
    fn per_total_groups_by_rate_and_handles_included_prices() {
        let lines = [
            TaxInput::new(usd(dec!(11.90)), dec!(0.19)),
            TaxInput::new(usd(dec!(10.70)), dec!(0.07)),
            TaxInput::new(usd(dec!(5.95)), dec!(0.19)),
        ];
        let s = compute_taxes(
            &lines,
            TaxBasis::Inclusive,
            TaxRounding::PerTotal,
            RoundingMode::HalfUp,
        )
        .unwrap();
        assert_eq!(s.rate_groups, 2);
        // 19%: 17.85 gross -> net 15.00, tax 2.85 split 1.90 / 0.95; 7%: 10.70 -> 10.00 + 0.70.
        let taxes: Vec<Decimal> = s.lines.iter().map(|l| l.tax.amount()).collect();
        assert_eq!(taxes, [dec!(1.90), dec!(0.70), dec!(0.95)]);
        for l in &s.lines {
            assert_eq!(l.net.checked_add(l.tax).unwrap(), l.gross);
        }
        assert_eq!(s.total.gross.amount(), dec!(28.55));
    }

    #[test]
    fn per_total_refuses_negative_lines_and_mixed_currencies() {
        let neg = [TaxInput::new(usd(dec!(-1)), dec!(0.1))];
        let err = compute_taxes(
            &neg,
            TaxBasis::Exclusive,
            TaxRounding::PerTotal,
            RoundingMode::HalfUp,
        )
        .unwrap_err();
        assert_eq!(err.context().field.as_deref(), Some("lines[0]"));
        assert!(
            compute_taxes(
                &neg,
                TaxBasis::Exclusive,
                TaxRounding::PerLine,
                RoundingMode::HalfUp
            )
            .is_ok()
        );
        let mixed = [
            TaxInput::new(usd(dec!(1)), dec!(0.1)),
            TaxInput::new(Money::new(dec!(1), Currency::EUR), dec!(0.1)),
        ];
        assert!(
            compute_taxes(
                &mixed,
                TaxBasis::Exclusive,
                TaxRounding::PerLine,
                RoundingMode::HalfUp
            )
            .is_err()
        );
        assert!(
            compute_taxes(
                &[],
                TaxBasis::Exclusive,
                TaxRounding::PerLine,
                RoundingMode::HalfUp
            )
            .is_err()
        );
    }

    #[test]
    fn tolerance_by_mode() {
        assert_eq!(
            tax_rounding_tolerance(3, 1, Currency::USD, RoundingMode::HalfEven).amount(),
            dec!(0.02)
        );
        assert_eq!(
            tax_rounding_tolerance(1, 1, Currency::USD, RoundingMode::HalfUp).amount(),
            dec!(0.00)
        );
        assert_eq!(
            tax_rounding_tolerance(2, 1, Currency::USD, RoundingMode::HalfUp).amount(),
            dec!(0.01)
        );
        assert_eq!(
            tax_rounding_tolerance(3, 1, Currency::USD, RoundingMode::Down).amount(),
            dec!(0.02)
        );
        assert_eq!(
            tax_rounding_tolerance(4, 2, Currency::JPY, RoundingMode::HalfUp).amount(),
            dec!(3)
        );
    }
}
