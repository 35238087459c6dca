//! Currency conversion through a rate table, and price endings.

use rust_decimal::Decimal;

use super::config::{EndingDirection, PriceEnding, RateTable};
use crate::error::{Error, Result};
use crate::model::{Currency, Money, RoundingMode};

impl RateTable {
    /// Units of `currency` per unit of the base, if the table knows it.
    pub fn rate_of(&self, currency: Currency) -> Option<Decimal> {
        if currency == self.base {
            return Some(Decimal::ONE);
        }
        self.rates
            .iter()
            .find(|r| r.currency == currency)
            .map(|r| r.rate)
    }

    /// Converts `amount` to `to` and rounds it to `to`'s minor unit with `mode`.
    ///
    /// The amount is multiplied by the target's rate and divided by the
    /// source's, and rounded once at the end. Converting there and back
    /// returns within one minor unit of the coarser currency (a round trip
    /// USD → JPY → USD is within one cent; JPY → USD → JPY within the yen a
    /// cent is worth).
    pub fn convert(&self, amount: Money, to: Currency, mode: RoundingMode) -> Result<Money> {
        let from = amount.currency();
        let converted =
            convert_with(|c| self.rate_of(c), amount.amount(), from, to).ok_or_else(|| {
                Error::invalid_data(format!(
                    "cannot convert {amount} to {to}: the rate table (base {}) has no rate for {}",
                    self.base,
                    if self.rate_of(from).is_none() {
                        from
                    } else {
                        to
                    }
                ))
            })?;
        Ok(Money::new(converted, to).round(mode))
    }
}

/// The rate table as a small lookup (the base included).
#[derive(Debug, Clone, Default)]
pub(super) struct Rates {
    table: Vec<(Currency, Decimal)>,
}

impl Rates {
    pub(super) fn from_table(t: &RateTable) -> Self {
        let mut table = vec![(t.base, Decimal::ONE)];
        table.extend(
            t.rates
                .iter()
                .filter(|r| r.currency != t.base)
                .map(|r| (r.currency, r.rate)),
        );
        Rates { table }
    }

    pub(super) fn rate(&self, c: Currency) -> Option<Decimal> {
        self.table.iter().find(|(x, _)| *x == c).map(|(_, r)| *r)
    }

    /// `amount` in `from` expressed in `to`, unrounded; `None` without both rates or on overflow.
    pub(super) fn convert(&self, amount: Decimal, from: Currency, to: Currency) -> Option<Decimal> {
        convert_with(|c| self.rate(c), amount, from, to)
    }
}

/// `amount` in `from` expressed in `to` through `rate` (units per unit of
/// the base), unrounded; `None` without both rates or on overflow.
fn convert_with(
    rate: impl Fn(Currency) -> Option<Decimal>,
    amount: Decimal,
    from: Currency,
    to: Currency,
) -> Option<Decimal> {
    if from == to {
        return Some(amount);
    }
    let (rf, rt) = (rate(from)?, rate(to)?);
    amount.checked_mul(rt)?.checked_div(rf)
}

/// Moves a rounded price onto the ending's grid (`k × step + ending`); a zero
/// price stays zero, and a price the arithmetic cannot move stays as it is.
pub(super) fn apply_ending(price: Decimal, e: &PriceEnding, direction: EndingDirection) -> Decimal {
    if price.is_zero() {
        return price;
    }
    let grid = || -> Option<(Decimal, Decimal)> {
        let k = price.checked_sub(e.ending)?.checked_div(e.step)?.floor();
        let down = k.checked_mul(e.step)?.checked_add(e.ending)?;
        let up = if down == price {
            price
        } else {
            down.checked_add(e.step)?
        };
        Some((down, up))
    };
    let Some((down, up)) = grid() else {
        return price;
    };
    let down_ok = down >= Decimal::ZERO;
    match direction {
        EndingDirection::Up => up,
        EndingDirection::Down if down_ok => down,
        EndingDirection::Down => up,
        EndingDirection::Nearest if down_ok && price - down < up - price => down,
        EndingDirection::Nearest => up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn endings_on_a_grid() {
        let e99 = PriceEnding::new(Currency::USD, dec!(1), dec!(0.99));
        let at = |p, d| apply_ending(p, &e99, d);
        assert_eq!(at(dec!(19.20), EndingDirection::Up), dec!(19.99));
        assert_eq!(at(dec!(19.20), EndingDirection::Down), dec!(18.99));
        assert_eq!(at(dec!(19.20), EndingDirection::Nearest), dec!(18.99));
        assert_eq!(at(dec!(19.60), EndingDirection::Nearest), dec!(19.99));
        assert_eq!(at(dec!(19.49), EndingDirection::Nearest), dec!(19.99)); // tie: 0.50 each way, up
        assert_eq!(at(dec!(19.99), EndingDirection::Down), dec!(19.99));
        assert_eq!(at(dec!(0.50), EndingDirection::Down), dec!(0.99)); // nothing at or below
        let yen = PriceEnding::new(Currency::JPY, dec!(100), dec!(80));
        assert_eq!(
            apply_ending(dec!(1234), &yen, EndingDirection::Nearest),
            dec!(1280)
        );
        assert_eq!(
            apply_ending(dec!(1210), &yen, EndingDirection::Nearest),
            dec!(1180)
        );
        assert_eq!(at(dec!(0), EndingDirection::Nearest), dec!(0)); // free stays free
        assert_eq!(at(dec!(0), EndingDirection::Up), dec!(0));
        let near_max = Decimal::MAX - dec!(0.5);
        assert_eq!(at(near_max, EndingDirection::Up), near_max); // cannot move: kept
        let whole = PriceEnding::new(Currency::EUR, dec!(1), dec!(0));
        assert_eq!(
            apply_ending(dec!(12.50), &whole, EndingDirection::Nearest),
            dec!(13)
        );
    }

    #[test]
    fn conversion_through_the_base() {
        let t = RateTable::new(Currency::USD)
            .with_rate(Currency::EUR, dec!(0.92))
            .with_rate(Currency::JPY, dec!(150));
        let usd = Money::new(dec!(10.00), Currency::USD);
        assert_eq!(
            t.convert(usd, Currency::EUR, RoundingMode::HalfUp)
                .unwrap()
                .to_string(),
            "9.20 EUR"
        );
        let eur = Money::new(dec!(9.20), Currency::EUR);
        assert_eq!(
            t.convert(eur, Currency::JPY, RoundingMode::HalfUp)
                .unwrap()
                .to_string(),
            "1500 JPY"
        );
        assert_eq!(
            t.convert(eur, Currency::USD, RoundingMode::HalfUp).unwrap(),
            usd
        );
        let err = t
            .convert(usd, Currency::GBP, RoundingMode::HalfUp)
            .unwrap_err();
        assert!(err.message().contains("no rate for GBP"), "{err}");
        assert_eq!(t.rate_of(Currency::USD), Some(Decimal::ONE));
    }
}
