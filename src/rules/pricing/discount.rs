//! Spreading an order-level discount over the order lines so the parts add
//! up to the discount exactly.

use rust_decimal::Decimal;

use crate::error::{Error, Result};
use crate::model::Money;
use crate::rules::explain::Explanation;

/// A discount spread over lines, with the trace.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiscountSplit {
    /// One part per line, in line order; they add up to the discount exactly
    /// and no part exceeds its line.
    pub parts: Vec<Money>,
    explanation: Explanation,
}

impl DiscountSplit {
    /// How each part was computed.
    pub fn explain(&self) -> &Explanation {
        &self.explanation
    }
}

/// Spreads `discount` over `lines` (their amounts before the discount) in
/// proportion to the amounts, with [`Money::allocate`]: each part is within
/// one minor unit of its exact share, the parts add up to the discount, and
/// none exceeds its line.
///
/// Errors ([`crate::ErrorKind::InvalidData`]): no lines, mixed currencies, a
/// negative or unrounded discount or line, a discount above the lines' total.
///
/// ```
/// use rust_decimal_macros::dec;
/// use seamwork::model::{Currency, Money};
/// use seamwork::rules::allocate_discount;
///
/// let usd = |a| Money::new(a, Currency::USD);
/// let split = allocate_discount(usd(dec!(10.00)), &[usd(dec!(20.00)), usd(dec!(20.00)), usd(dec!(20.00))])?;
/// let parts: Vec<_> = split.parts.iter().map(|p| p.amount()).collect();
/// assert_eq!(parts, [dec!(3.34), dec!(3.33), dec!(3.33)]);
/// # Ok::<(), seamwork::Error>(())
/// ```
pub fn allocate_discount(discount: Money, lines: &[Money]) -> Result<DiscountSplit> {
    let currency = discount.currency();
    if lines.is_empty() {
        return Err(Error::invalid_data("no lines to spread the discount over"));
    }
    if discount.is_negative() || !discount.is_rounded() {
        return Err(Error::invalid_data(format!(
            "discount {discount} must be at least 0 and a whole number of minor units"
        ))
        .with_field("discount"));
    }
    for (i, l) in lines.iter().enumerate() {
        if l.currency() != currency || l.is_negative() || !l.is_rounded() {
            return Err(Error::invalid_data(format!(
                "line {i} is {l}: lines must be in {currency}, at least 0 and whole minor units"
            ))
            .with_field(format!("lines[{i}]")));
        }
    }
    let total = Money::sum(currency, lines)?;
    if discount.amount() > total.amount() {
        return Err(Error::invalid_data(format!(
            "discount {discount} is more than the lines' total {total}"
        ))
        .with_field("discount"));
    }
    let mut x = Explanation::new(format!(
        "discount {discount} over {} line(s) totalling {total}",
        lines.len()
    ));
    let weights: Vec<Decimal> = lines.iter().map(Money::amount).collect();
    let parts = if discount.is_zero() {
        vec![Money::zero(currency); lines.len()]
    } else {
        discount.allocate(&weights)?
    };
    for (i, (line, part)) in lines.iter().zip(&parts).enumerate() {
        x.add(
            format!("lines[{i}]"),
            line.to_string(),
            part.to_string(),
            format!("in proportion to {line} of {total}; largest remainder keeps the sum exact"),
        );
    }
    Ok(DiscountSplit {
        parts,
        explanation: x,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Currency;
    use rust_decimal_macros::dec;

    fn usd(a: Decimal) -> Money {
        Money::new(a, Currency::USD)
    }

    #[test]
    fn sums_exactly_and_never_exceeds_a_line() {
        let lines = [usd(dec!(0.01)), usd(dec!(0.01)), usd(dec!(9.98))];
        let s = allocate_discount(usd(dec!(10.00)), &lines).unwrap();
        assert_eq!(s.parts, lines); // the whole total: each line fully
        let s = allocate_discount(usd(dec!(0.05)), &[usd(dec!(1)), usd(dec!(1)), usd(dec!(1))])
            .unwrap();
        let parts: Vec<Decimal> = s.parts.iter().map(Money::amount).collect();
        assert_eq!(parts, [dec!(0.02), dec!(0.02), dec!(0.01)]);
        assert_eq!(s.explain().len(), 3);
        assert_eq!(
            s.explain().steps[0].why,
            "in proportion to 1 USD of 3 USD; largest remainder keeps the sum exact"
        );
    }

    #[test]
    fn amounts_near_the_decimal_limit_are_explained_without_overflow() {
        // Review B: the explanation computed discount × line / total unchecked.
        let big = Decimal::from_i128_with_scale(30_000_000_000_000_000_000_000_000_000, 2);
        let lines = [usd(big), usd(big)];
        match allocate_discount(usd(big), &lines) {
            Ok(s) => {
                assert_eq!(Money::sum(Currency::USD, &s.parts).unwrap(), usd(big));
                assert_eq!(s.explain().len(), 2);
            }
            Err(e) => assert_eq!(e.kind(), &crate::ErrorKind::InvalidData),
        }
    }

    #[test]
    fn refuses_what_cannot_be_spread() {
        assert!(allocate_discount(usd(dec!(5)), &[usd(dec!(4))]).is_err());
        assert!(allocate_discount(usd(dec!(-1)), &[usd(dec!(4))]).is_err());
        assert!(allocate_discount(usd(dec!(0.001)), &[usd(dec!(4))]).is_err());
        assert!(allocate_discount(usd(dec!(1)), &[]).is_err());
        let err = allocate_discount(
            usd(dec!(1)),
            &[usd(dec!(4)), Money::new(dec!(4), Currency::EUR)],
        )
        .unwrap_err();
        assert_eq!(err.context().field.as_deref(), Some("lines[1]"));
        let zero = allocate_discount(usd(dec!(0)), &[usd(dec!(0)), usd(dec!(0))]).unwrap();
        assert!(zero.parts.iter().all(Money::is_zero));
    }
}
