//! Exact money: an amount in a currency, rounded and split without losing a cent.
//!
//! Commerce systems disagree about decimals (Shopify sends strings, ERPs send
//! numbers, some round half-up and some half-even), so seamwork keeps every
//! amount as a [`Decimal`] next to its ISO 4217 [`Currency`] and refuses to mix
//! currencies silently. Rounding is explicit ([`RoundingMode`]) and splitting an
//! amount ([`Money::allocate`]) always sums back to the original.
//!
//! ```
//! use rust_decimal::Decimal;
//! use seamwork::model::{Currency, Money, MoneyError};
//!
//! // Split 100.00 USD three ways: the extra cent goes to the first part.
//! let total = Money::parse("100.00", Currency::USD)?;
//! let parts = total.allocate(&[Decimal::ONE, Decimal::ONE, Decimal::ONE])?;
//! let shown: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
//! assert_eq!(shown, ["33.34 USD", "33.33 USD", "33.33 USD"]);
//! assert_eq!(Money::sum(Currency::USD, &parts)?, total);
//!
//! // Adding euros to dollars is an error, not a wrong number.
//! let euros = Money::parse("5", Currency::EUR)?;
//! let err = total.checked_add(euros).unwrap_err();
//! assert_eq!(
//!     err,
//!     MoneyError::CurrencyMismatch { left: Currency::USD, right: Currency::EUR }
//! );
//! assert_eq!(err.to_string(), "cannot combine USD and EUR amounts: the currencies differ");
//! # Ok::<(), MoneyError>(())
//! ```

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a money operation failed; every message names the values involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not an ISO 4217 currency code.
    #[error("unknown currency code {0:?}: not an ISO 4217 code")]
    UnknownCurrency(String),
    /// The code exists but has no minor unit (metals, funds, testing codes), so it cannot hold money.
    #[error(
        "currency {0} has no minor unit (metal, special or testing code) and cannot be used for money"
    )]
    NoMinorUnit(String),
    /// Two amounts in different currencies were combined.
    #[error("cannot combine {left} and {right} amounts: the currencies differ")]
    CurrencyMismatch {
        /// The currency of the left-hand (receiving) amount.
        left: Currency,
        /// The currency of the right-hand amount.
        right: Currency,
    },
    /// The result does not fit (in a [`Decimal`] or, for minor units, in an `i64`).
    #[error("arithmetic overflow in {operation}: the result is too large")]
    Overflow {
        /// The operation that overflowed (`add`, `to_minor`, `allocate`, ...).
        operation: &'static str,
    },
    /// The amount has more decimals than the currency's minor unit allows.
    #[error(
        "{amount} {currency} is not a whole number of minor units ({currency} has {} decimals)",
        .currency.minor_units()
    )]
    NotRounded {
        /// The amount that was not rounded.
        amount: Decimal,
        /// Its currency.
        currency: Currency,
    },
    /// The text is not a decimal number.
    #[error("invalid amount {0:?}: not a decimal number")]
    InvalidAmount(String),
    /// Allocation weights are empty, negative or sum to zero.
    #[error("invalid allocation weights: {0}")]
    InvalidWeights(String),
}

impl From<MoneyError> for crate::error::Error {
    fn from(e: MoneyError) -> Self {
        crate::error::Error::invalid_data(e.to_string())
    }
}

/// An ISO 4217 currency that has a minor unit, so amounts in it can be rounded and counted in cents.
///
/// Ordered by code, serialized as the code (`"USD"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// US dollar (2 decimals).
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    /// Euro (2 decimals).
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);
    /// Pound sterling (2 decimals).
    pub const GBP: Currency = Currency(iso_currency::Currency::GBP);
    /// Canadian dollar (2 decimals).
    pub const CAD: Currency = Currency(iso_currency::Currency::CAD);
    /// Australian dollar (2 decimals).
    pub const AUD: Currency = Currency(iso_currency::Currency::AUD);
    /// Japanese yen (no decimals).
    pub const JPY: Currency = Currency(iso_currency::Currency::JPY);
    /// Swiss franc (2 decimals).
    pub const CHF: Currency = Currency(iso_currency::Currency::CHF);
    /// Swedish krona (2 decimals).
    pub const SEK: Currency = Currency(iso_currency::Currency::SEK);
    /// Kuwaiti dinar (3 decimals).
    pub const KWD: Currency = Currency(iso_currency::Currency::KWD);
    /// Bahraini dinar (3 decimals).
    pub const BHD: Currency = Currency(iso_currency::Currency::BHD);

    /// Looks up a code as systems send it (`"usd"`, `" EUR "`), refusing codes without a minor unit.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        // Fast path for the codes nearly every payload carries (the generic
        // lookup is a long string match).
        let common = match code.as_bytes() {
            b"USD" => Some(Self::USD),
            b"EUR" => Some(Self::EUR),
            b"GBP" => Some(Self::GBP),
            b"CAD" => Some(Self::CAD),
            b"AUD" => Some(Self::AUD),
            b"JPY" => Some(Self::JPY),
            b"CHF" => Some(Self::CHF),
            b"SEK" => Some(Self::SEK),
            b"KWD" => Some(Self::KWD),
            b"BHD" => Some(Self::BHD),
            _ => None,
        };
        if let Some(c) = common {
            return Ok(c);
        }
        let trimmed = code.trim();
        let upper = trimmed.to_ascii_uppercase();
        let iso = iso_currency::Currency::from_code(&upper)
            .ok_or_else(|| MoneyError::UnknownCurrency(trimmed.to_string()))?;
        if iso.exponent().is_none() {
            return Err(MoneyError::NoMinorUnit(upper));
        }
        Ok(Currency(iso))
    }

    /// The three-letter ISO 4217 code, for display and for the wire.
    pub fn code(&self) -> &'static str {
        self.0.code()
    }

    /// How many decimals the currency's minor unit has (JPY 0, USD 2, KWD 3, CLF 4).
    pub fn minor_units(&self) -> u32 {
        // Construction guarantees an exponent; 0 is only a defensive fallback.
        self.0.exponent().map_or(0, u32::from)
    }
}

impl PartialOrd for Currency {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Currency {
    fn cmp(&self, other: &Self) -> Ordering {
        self.code().cmp(other.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::from_code(s)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl serde::de::Visitor<'_> for CodeVisitor {
            type Value = Currency;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an ISO 4217 currency code such as \"USD\"")
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Currency, E> {
                Currency::from_code(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(CodeVisitor)
    }
}

/// How to round an amount that falls between two representable values.
///
/// Partners disagree (tax engines round half-up, banks half-even), so the
/// mode is always chosen explicitly. Serialized in snake_case (`"half_even"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoundingMode {
    /// Nearest, ties to the even neighbour (banker's rounding): 2.5 → 2, 3.5 → 4; unbiased over many values.
    HalfEven,
    /// Nearest, ties away from zero (commerce convention): 2.5 → 3, −2.5 → −3.
    HalfUp,
    /// Nearest, ties toward zero: 2.5 → 2, −2.5 → −2.
    HalfDown,
    /// Toward zero (truncate): 2.9 → 2, −2.9 → −2.
    Down,
    /// Away from zero: 2.1 → 3, −2.1 → −3.
    Up,
    /// Toward −∞: 2.9 → 2, −2.1 → −3.
    Floor,
    /// Toward +∞: 2.1 → 3, −2.9 → −2.
    Ceiling,
}

impl From<RoundingMode> for RoundingStrategy {
    fn from(mode: RoundingMode) -> Self {
        match mode {
            RoundingMode::HalfEven => RoundingStrategy::MidpointNearestEven,
            RoundingMode::HalfUp => RoundingStrategy::MidpointAwayFromZero,
            RoundingMode::HalfDown => RoundingStrategy::MidpointTowardZero,
            RoundingMode::Down => RoundingStrategy::ToZero,
            RoundingMode::Up => RoundingStrategy::AwayFromZero,
            RoundingMode::Floor => RoundingStrategy::ToNegativeInfinity,
            RoundingMode::Ceiling => RoundingStrategy::ToPositiveInfinity,
        }
    }
}

/// An exact amount in one currency.
///
/// The amount is kept as given (it may carry more decimals than the currency,
/// e.g. a unit price of 0.0125 USD) until [`Money::round`] is called.
/// Equality compares values, so 1.5 USD == 1.50 USD. Serialized as
/// `{"amount":"12.34","currency":"USD"}`; the amount may also be read from a
/// JSON number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    #[serde(with = "decimal_serde")]
    amount: Decimal,
    currency: Currency,
}

/// 10^exp as a `u128`, for the minor-unit arithmetic of [`Money::allocate`].
fn pow10(exp: u32) -> Option<u128> {
    10u128.checked_pow(exp)
}

impl Money {
    /// An amount in a currency, kept exactly as given.
    pub fn new(amount: Decimal, currency: Currency) -> Money {
        Money { amount, currency }
    }

    /// Zero in `currency`, the start of a sum.
    pub fn zero(currency: Currency) -> Money {
        Money::new(Decimal::ZERO, currency)
    }

    /// An amount given in minor units (cents), as payment APIs send it: 1234 USD cents → 12.34 USD.
    pub fn from_minor(minor: i64, currency: Currency) -> Money {
        // minor_units() is at most 4, far below Decimal's maximum scale of 28.
        Money::new(Decimal::new(minor, currency.minor_units()), currency)
    }

    /// Parses a decimal text (`"12.34"`, `" -5 "`, `"1.5e2"`) exactly, never through a float.
    pub fn parse(amount: &str, currency: Currency) -> Result<Money, MoneyError> {
        let text = amount.trim();
        let parsed = Decimal::from_str(text).or_else(|e| {
            if text.contains(['e', 'E']) {
                Decimal::from_scientific(text)
            } else {
                Err(e)
            }
        });
        parsed
            .map(|d| Money::new(d, currency))
            .map_err(|_| MoneyError::InvalidAmount(amount.to_string()))
    }

    /// The amount, exactly as stored.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount in minor units (cents) for payment APIs; refuses amounts that are not rounded.
    pub fn to_minor(&self) -> Result<i64, MoneyError> {
        if !self.is_rounded() {
            return Err(self.not_rounded());
        }
        let overflow = MoneyError::Overflow {
            operation: "to_minor",
        };
        // Rounded, so the normalized scale is at most the minor units.
        let normalized = self.amount.normalize();
        pow10(self.currency.minor_units() - normalized.scale())
            .and_then(|f| i128::try_from(f).ok())
            .and_then(|f| normalized.mantissa().checked_mul(f))
            .and_then(|minor| i64::try_from(minor).ok())
            .ok_or(overflow)
    }

    /// True when the amount is zero.
    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// True when the amount is below zero (a refund, a credit).
    pub fn is_negative(&self) -> bool {
        self.amount < Decimal::ZERO
    }

    /// True when the amount is above zero.
    pub fn is_positive(&self) -> bool {
        self.amount > Decimal::ZERO
    }

    /// The amount without its sign.
    pub fn abs(&self) -> Money {
        Money::new(self.amount.abs(), self.currency)
    }

    /// The amount with its sign flipped (a charge becomes a refund).
    pub fn neg(&self) -> Money {
        if self.amount.is_zero() {
            // Decimal keeps a sign on zero; never show "-0.00".
            return self.abs();
        }
        Money::new(-self.amount, self.currency)
    }

    /// Adds an amount in the same currency; a different currency or an overflow is an error.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        self.amount
            .checked_add(other.amount)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow { operation: "add" })
    }

    /// Subtracts an amount in the same currency; a different currency or an overflow is an error.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(&other)?;
        self.amount
            .checked_sub(other.amount)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow {
                operation: "subtract",
            })
    }

    /// Multiplies by a factor (quantity, tax rate) without rounding; call [`Money::round`] after.
    ///
    /// The product keeps every decimal that fits in a [`Decimal`] (28 digits).
    pub fn checked_mul(self, factor: Decimal) -> Result<Money, MoneyError> {
        self.amount
            .checked_mul(factor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow {
                operation: "multiply",
            })
    }

    /// Compares two amounts in the same currency; comparing across currencies is an error.
    pub fn checked_cmp(&self, other: &Money) -> Result<Ordering, MoneyError> {
        self.same_currency(other)?;
        Ok(self.amount.cmp(&other.amount))
    }

    /// Sums amounts that must all be in `currency` (zero when there are none).
    pub fn sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, MoneyError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(*m))
    }

    /// Rounds to the currency's minor unit (2 decimals for USD, 0 for JPY), padding to that scale.
    pub fn round(self, mode: RoundingMode) -> Money {
        self.round_dp(self.currency.minor_units(), mode)
    }

    /// Rounds to `dp` decimals (e.g. unit prices kept at 4 decimals), padding to that scale when it fits.
    pub fn round_dp(self, dp: u32, mode: RoundingMode) -> Money {
        let mut amount = self.amount.round_dp_with_strategy(dp, mode.into());
        if amount.is_zero() {
            // -0.001 rounds to zero, not to "-0.00".
            amount = amount.abs();
        }
        if amount.scale() < dp {
            // Only adds trailing zeros (1.5 → 1.50); the value never changes.
            amount.rescale(dp);
        }
        Money::new(amount, self.currency)
    }

    /// True when the amount is a whole number of minor units (no sub-cent part).
    pub fn is_rounded(&self) -> bool {
        self.amount.normalize().scale() <= self.currency.minor_units()
    }

    /// Splits the amount in proportion to `weights` so the parts sum exactly to it.
    ///
    /// Uses the largest-remainder method: each part gets the floor of its
    /// exact share in minor units, and the minor units left over go one each
    /// to the parts with the largest remainder (ties to the lower index). So
    /// every part is within one minor unit of its exact share and zero weights
    /// get zero. A negative amount is split like its absolute value, negated.
    ///
    /// Errors: [`MoneyError::NotRounded`] when the amount has sub-minor-unit
    /// decimals, [`MoneyError::InvalidWeights`] when the weights are empty,
    /// negative or sum to zero, [`MoneyError::Overflow`] when the numbers are
    /// too large to split exactly.
    pub fn allocate(&self, weights: &[Decimal]) -> Result<Vec<Money>, MoneyError> {
        if !self.is_rounded() {
            return Err(self.not_rounded());
        }
        if weights.is_empty() {
            return Err(MoneyError::InvalidWeights(
                "no weights given; at least one is needed".to_string(),
            ));
        }
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| **w < Decimal::ZERO)
        {
            return Err(MoneyError::InvalidWeights(format!(
                "weight #{i} is {w}; weights must not be negative"
            )));
        }
        let overflow = || MoneyError::Overflow {
            operation: "allocate",
        };
        let minor = self.currency.minor_units();

        // The absolute amount as an integer count of minor units.
        let abs = self.amount.abs().normalize();
        let units = pow10(minor - abs.scale())
            .and_then(|f| abs.mantissa().unsigned_abs().checked_mul(f))
            .ok_or_else(overflow)?;

        let int_weights = integer_weights(weights, units).ok_or_else(overflow)?;
        let total_weight: u128 = int_weights.iter().sum();
        if total_weight == 0 {
            return Err(MoneyError::InvalidWeights(format!(
                "the {} weights sum to zero; at least one must be positive",
                weights.len()
            )));
        }

        // Floor of each exact share, and its remainder (in 1/total_weight units).
        let mut parts = Vec::with_capacity(int_weights.len());
        let mut remainders = Vec::with_capacity(int_weights.len());
        for w in &int_weights {
            let product = units.checked_mul(*w).ok_or_else(overflow)?;
            parts.push(product / total_weight);
            remainders.push(product % total_weight);
        }
        let allocated = parts
            .iter()
            .try_fold(0u128, |acc, p| acc.checked_add(*p))
            .ok_or_else(overflow)?;
        // Each remainder is below one unit, so fewer units than parts are left.
        let leftover = usize::try_from(units - allocated).map_err(|_| overflow())?;
        let mut order: Vec<usize> = (0..parts.len()).collect();
        order.sort_by(|&a, &b| remainders[b].cmp(&remainders[a]).then(a.cmp(&b)));
        for &i in order.iter().take(leftover) {
            parts[i] += 1;
        }

        let negative = self.is_negative();
        parts
            .into_iter()
            .map(|p| {
                let signed = i128::try_from(p).map_err(|_| overflow())?;
                let signed = if negative { -signed } else { signed };
                Decimal::try_from_i128_with_scale(signed, minor)
                    .map(|a| Money::new(a, self.currency))
                    .map_err(|_| overflow())
            })
            .collect()
    }

    /// Splits the amount into `parts` equal shares (earlier parts get the extra minor units).
    pub fn allocate_evenly(&self, parts: usize) -> Result<Vec<Money>, MoneyError> {
        if parts == 0 {
            return Err(MoneyError::InvalidWeights(
                "cannot split into zero parts".to_string(),
            ));
        }
        self.allocate(&vec![Decimal::ONE; parts])
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }

    fn not_rounded(&self) -> MoneyError {
        MoneyError::NotRounded {
            amount: self.amount,
            currency: self.currency,
        }
    }
}

/// Significant digits kept when weights are too precise to scale exactly.
const WEIGHT_DIGITS: u32 = 18;

/// The weights as integers on one scale such that `units × Σ weights` fits in
/// a `u128`, so every share below is exact integer arithmetic.
///
/// Exact when the weights' own digits fit; otherwise (say a weight of 1/3 with
/// 28 decimals next to 100) each weight is rounded to [`WEIGHT_DIGITS`]
/// significant digits relative to the largest, which moves a share by at most
/// `units × 10^-18` of a minor unit. `None` when even that does not fit.
fn integer_weights(weights: &[Decimal], units: u128) -> Option<Vec<u128>> {
    let fits = |ws: &[u128]| {
        ws.iter()
            .try_fold(0u128, |acc, w| acc.checked_add(*w))
            .and_then(|total| units.checked_mul(total))
            .is_some()
    };
    let normalized: Vec<Decimal> = weights.iter().map(|w| w.abs().normalize()).collect();
    let scale = normalized.iter().map(Decimal::scale).max().unwrap_or(0);
    let exact: Option<Vec<u128>> = normalized
        .iter()
        .map(|w| pow10(scale - w.scale()).and_then(|f| w.mantissa().unsigned_abs().checked_mul(f)))
        .collect();
    if let Some(ws) = exact.filter(|ws| fits(ws)) {
        return Some(ws);
    }
    let max = normalized.iter().copied().max().filter(|m| !m.is_zero())?;
    let one = Decimal::from(10u64.pow(WEIGHT_DIGITS));
    let approx: Option<Vec<u128>> = normalized
        .iter()
        .map(|w| {
            let r = (*w / max).checked_mul(one)?.round();
            u128::try_from(r.mantissa()).ok()
        })
        .collect();
    approx.filter(|ws| fits(ws))
}

impl std::ops::Neg for Money {
    type Output = Money;

    fn neg(self) -> Money {
        Money::neg(&self)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

/// Significant digits a JSON number carries exactly: serde_json holds
/// fractional numbers as f64, which keeps any decimal of up to 15 digits.
const MAX_EXACT_DIGITS: usize = 15;

/// The decimal a JSON number's text stands for, given as its shortest text
/// (`0.1`, `1e20`). Up to 15 significant digits that text is exactly what the
/// sender wrote; beyond, digits may already be lost, so the number is refused
/// rather than silently changed. Every reader of outside JSON numbers uses this.
pub(crate) fn decimal_from_json_number(text: &str) -> Result<Decimal, String> {
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    if significant > MAX_EXACT_DIGITS {
        return Err(format!(
            "number {text} has more than {MAX_EXACT_DIGITS} significant digits and may have \
             lost precision in JSON; send it as a string"
        ));
    }
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .map_err(|_| format!("number {text} cannot be represented as a decimal"))
}

/// A decimal on the wire: written as a string, read from a string or a JSON
/// number. Used for every `Decimal` field of the model, because ERPs and REST
/// APIs send rates, weights and coordinates as numbers.
pub(crate) mod decimal_serde {
    use std::fmt;
    use std::str::FromStr;

    use rust_decimal::Decimal;
    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(amount)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(AmountVisitor)
    }

    struct AmountVisitor;

    impl Visitor<'_> for AmountVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a decimal amount as a string (\"12.34\") or a number")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
            let text = v.trim();
            Decimal::from_str(text)
                .or_else(|_| Decimal::from_scientific(text))
                .map_err(|_| E::custom(format!("invalid amount {v:?}: not a decimal number")))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Decimal, E> {
            Decimal::try_from_i128_with_scale(v, 0)
                .map_err(|_| E::custom(format!("amount {v} is too large")))
        }

        #[allow(
            clippy::disallowed_types,
            reason = "serde hands non-integer JSON numbers over as f64; it is converted through its \
                      shortest decimal text, never used for arithmetic"
        )]
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            super::decimal_from_json_number(&v.to_string()).map_err(E::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocate_survives_very_precise_weights() {
        let third = Decimal::ONE / Decimal::from(3);
        let total = m("1000000000.00", Currency::USD);
        let parts = total.allocate(&[third, Decimal::from(100)]).unwrap();
        assert_eq!(Money::sum(Currency::USD, parts.iter()).unwrap(), total);
        // 1/3 : 100 → 0.3322259...% of the total
        assert_eq!(parts[0].amount(), d("3322259.14"));
    }

    #[test]
    fn json_numbers_that_may_have_lost_digits_are_refused() {
        let ok: Money = serde_json::from_str(r#"{"amount":12.34,"currency":"USD"}"#).unwrap();
        assert_eq!(ok.amount(), d("12.34"));
        let err =
            serde_json::from_str::<Money>(r#"{"amount":12345678901234567.89,"currency":"USD"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("send it as a string"), "{err}");
        let big: Money = serde_json::from_str(r#"{"amount":1e20,"currency":"USD"}"#).unwrap();
        assert_eq!(big.amount(), d("100000000000000000000"));
    }

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn m(s: &str, c: Currency) -> Money {
        Money::parse(s, c).unwrap()
    }

    fn strs(parts: &[Money]) -> Vec<String> {
        parts.iter().map(|p| p.amount().to_string()).collect()
    }

    #[test]
    fn currency_codes() {
        assert_eq!(Currency::from_code(" usd ").unwrap(), Currency::USD);
        assert_eq!("eur".parse::<Currency>().unwrap(), Currency::EUR);
        assert_eq!(
            Currency::from_code("ABC"),
            Err(MoneyError::UnknownCurrency("ABC".into()))
        );
        assert_eq!(
            Currency::from_code("xau"),
            Err(MoneyError::NoMinorUnit("XAU".into()))
        );
        assert_eq!(
            Currency::from_code("XXX"),
            Err(MoneyError::NoMinorUnit("XXX".into()))
        );
        assert_eq!(Currency::JPY.minor_units(), 0);
        assert_eq!(Currency::USD.minor_units(), 2);
        assert_eq!(Currency::KWD.minor_units(), 3);
        assert_eq!(Currency::BHD.minor_units(), 3);
        assert_eq!(Currency::from_code("CLF").unwrap().minor_units(), 4);
        assert_eq!(Currency::GBP.to_string(), "GBP");
        assert!(Currency::AUD < Currency::CAD && Currency::CHF < Currency::EUR);
        let mut sorted = [Currency::USD, Currency::SEK, Currency::AUD, Currency::JPY];
        sorted.sort();
        let codes: Vec<&str> = sorted.iter().map(Currency::code).collect();
        assert_eq!(codes, ["AUD", "JPY", "SEK", "USD"]);
    }

    #[test]
    fn common_codes_read_as_the_general_lookup() {
        for c in [
            Currency::USD,
            Currency::EUR,
            Currency::GBP,
            Currency::CAD,
            Currency::AUD,
            Currency::JPY,
            Currency::CHF,
            Currency::SEK,
            Currency::KWD,
            Currency::BHD,
        ] {
            let general = iso_currency::Currency::from_code(c.code()).map(Currency);
            assert_eq!(Currency::from_code(c.code()).ok(), general, "{}", c.code());
            assert_eq!(Currency::from_code(&c.code().to_lowercase()).ok(), general);
        }
    }

    #[test]
    fn rounding_per_currency() {
        let r = |s: &str, c| m(s, c).round(RoundingMode::HalfEven).to_string();
        assert_eq!(r("1234.5", Currency::JPY), "1234 JPY");
        assert_eq!(r("1235.5", Currency::JPY), "1236 JPY");
        assert_eq!(r("1.2345", Currency::KWD), "1.234 KWD");
        assert_eq!(r("1.2355", Currency::KWD), "1.236 KWD");
        assert_eq!(r("1.005", Currency::USD), "1.00 USD");
        assert_eq!(r("1.015", Currency::USD), "1.02 USD");
        // Rounding pads to the currency's decimals.
        assert_eq!(r("1.5", Currency::USD), "1.50 USD");
        assert_eq!(r("7", Currency::KWD), "7.000 KWD");
        assert_eq!(
            m("0.0125", Currency::USD)
                .round_dp(3, RoundingMode::HalfUp)
                .to_string(),
            "0.013 USD"
        );
    }

    #[test]
    fn rounding_modes_on_ties_and_negatives() {
        use RoundingMode::*;
        let cases: [(RoundingMode, [&str; 6]); 7] = [
            // inputs:  2.5,  3.5,   -2.5,  -3.5,  2.1,  -2.9
            (HalfEven, ["2", "4", "-2", "-4", "2", "-3"]),
            (HalfUp, ["3", "4", "-3", "-4", "2", "-3"]),
            (HalfDown, ["2", "3", "-2", "-3", "2", "-3"]),
            (Down, ["2", "3", "-2", "-3", "2", "-2"]),
            (Up, ["3", "4", "-3", "-4", "3", "-3"]),
            (Floor, ["2", "3", "-3", "-4", "2", "-3"]),
            (Ceiling, ["3", "4", "-2", "-3", "3", "-2"]),
        ];
        let inputs = ["2.5", "3.5", "-2.5", "-3.5", "2.1", "-2.9"];
        for (mode, expected) in cases {
            for (input, want) in inputs.iter().zip(expected) {
                let got = m(input, Currency::JPY).round(mode);
                assert_eq!(got.amount(), d(want), "{mode:?} of {input}");
                // The same on cents.
                let cents = m(
                    &format!("{}", d(input) / Decimal::ONE_HUNDRED),
                    Currency::USD,
                )
                .round(mode);
                assert_eq!(
                    cents.amount(),
                    d(want) / Decimal::ONE_HUNDRED,
                    "{mode:?} of {input} cents"
                );
            }
        }
    }

    #[test]
    fn rounding_mode_serde() {
        assert_eq!(
            serde_json::to_string(&RoundingMode::HalfEven).unwrap(),
            "\"half_even\""
        );
        assert_eq!(
            serde_json::from_str::<RoundingMode>("\"ceiling\"").unwrap(),
            RoundingMode::Ceiling
        );
    }

    #[test]
    fn minor_units_round_trip() {
        assert_eq!(
            Money::from_minor(1234, Currency::USD).to_string(),
            "12.34 USD"
        );
        assert_eq!(Money::from_minor(-5, Currency::KWD).amount(), d("-0.005"));
        assert_eq!(Money::from_minor(500, Currency::JPY).to_string(), "500 JPY");
        assert_eq!(m("12.3", Currency::USD).to_minor(), Ok(1230));
        assert_eq!(m("-0.01", Currency::USD).to_minor(), Ok(-1));
        assert_eq!(
            m("12.345", Currency::USD).to_minor(),
            Err(MoneyError::NotRounded {
                amount: d("12.345"),
                currency: Currency::USD
            })
        );
        // Trailing zeros beyond the minor unit are fine.
        assert_eq!(m("12.3400", Currency::USD).to_minor(), Ok(1234));
        assert_eq!(
            m("100000000000000000000", Currency::USD).to_minor(),
            Err(MoneyError::Overflow {
                operation: "to_minor"
            })
        );
    }

    #[test]
    fn arithmetic_and_signs() {
        let a = m("10.00", Currency::EUR);
        let b = m("2.50", Currency::EUR);
        assert_eq!(a.checked_add(b).unwrap().to_string(), "12.50 EUR");
        assert_eq!(b.checked_sub(a).unwrap().to_string(), "-7.50 EUR");
        assert_eq!(a.checked_mul(d("0.075")).unwrap().amount(), d("0.75000"));
        assert_eq!(a.checked_cmp(&b), Ok(Ordering::Greater));
        let usd = m("1", Currency::USD);
        assert_eq!(
            a.checked_sub(usd),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::EUR,
                right: Currency::USD
            })
        );
        assert!(a.checked_cmp(&usd).is_err());
        assert_eq!(
            Money::new(Decimal::MAX, Currency::EUR).checked_add(a),
            Err(MoneyError::Overflow { operation: "add" })
        );
        assert!((-a).is_negative() && a.is_positive() && !a.is_zero());
        assert_eq!((-a).abs(), a);
        assert_eq!(a.neg().amount(), d("-10"));
        assert!(Money::zero(Currency::EUR).is_zero());
        assert_eq!(
            Money::sum(Currency::EUR, &[a, b, b]).unwrap().amount(),
            d("15")
        );
        assert_eq!(
            Money::sum(Currency::EUR, &[]).unwrap(),
            Money::zero(Currency::EUR)
        );
        assert!(Money::sum(Currency::EUR, &[a, usd]).is_err());
        assert_eq!(m("1.5", Currency::USD), m("1.50", Currency::USD));
        // Zero never shows a sign.
        assert_eq!(
            Money::from_minor(0, Currency::USD).neg().to_string(),
            "0.00 USD"
        );
        for mode in [
            RoundingMode::Ceiling,
            RoundingMode::Down,
            RoundingMode::HalfEven,
        ] {
            assert_eq!(
                m("-0.001", Currency::USD).round(mode).to_string(),
                "0.00 USD"
            );
        }
    }

    #[test]
    fn allocate_examples() {
        let usd = |s| m(s, Currency::USD);
        let one = Decimal::ONE;
        assert_eq!(
            strs(&usd("100.00").allocate(&[one, one, one]).unwrap()),
            ["33.34", "33.33", "33.33"]
        );
        assert_eq!(
            strs(&usd("0.05").allocate(&[d("3"), d("7")]).unwrap()),
            ["0.02", "0.03"] // exact 0.015 / 0.035: tie on remainders goes to the lower index
        );
        assert_eq!(
            strs(
                &usd("10")
                    .allocate(&[d("0.5"), d("0.25"), d("0.25")])
                    .unwrap()
            ),
            ["5.00", "2.50", "2.50"]
        );
        // Negative totals split symmetrically.
        assert_eq!(
            strs(&usd("-100.00").allocate(&[one, one, one]).unwrap()),
            ["-33.34", "-33.33", "-33.33"]
        );
        // Zero weights get zero, never a leftover cent.
        assert_eq!(
            strs(
                &usd("0.10")
                    .allocate(&[Decimal::ZERO, one, one, one, Decimal::ZERO])
                    .unwrap()
            ),
            ["0.00", "0.04", "0.03", "0.03", "0.00"]
        );
        assert_eq!(
            strs(&m("1000", Currency::JPY).allocate_evenly(3).unwrap()),
            ["334", "333", "333"]
        );
        assert_eq!(
            strs(&m("1", Currency::KWD).allocate_evenly(3).unwrap()),
            ["0.334", "0.333", "0.333"]
        );
        assert_eq!(
            strs(&Money::zero(Currency::USD).allocate_evenly(2).unwrap()),
            ["0.00", "0.00"]
        );
        // Largest remainder beats lower index.
        assert_eq!(
            strs(&usd("0.10").allocate(&[d("1"), d("2")]).unwrap()),
            ["0.03", "0.07"]
        );
    }

    #[test]
    fn allocate_errors() {
        let usd = m("10.00", Currency::USD);
        assert!(matches!(
            usd.allocate(&[]),
            Err(MoneyError::InvalidWeights(_))
        ));
        assert!(matches!(
            usd.allocate_evenly(0),
            Err(MoneyError::InvalidWeights(_))
        ));
        let err = usd.allocate(&[Decimal::ONE, d("-1")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid allocation weights: weight #1 is -1; weights must not be negative"
        );
        assert!(matches!(
            usd.allocate(&[Decimal::ZERO, Decimal::ZERO]),
            Err(MoneyError::InvalidWeights(_))
        ));
        assert_eq!(
            m("10.005", Currency::USD).allocate_evenly(2),
            Err(MoneyError::NotRounded {
                amount: d("10.005"),
                currency: Currency::USD
            })
        );
        assert_eq!(
            Money::new(Decimal::MAX, Currency::USD).allocate(&[Decimal::MAX]),
            Err(MoneyError::Overflow {
                operation: "allocate"
            })
        );
    }

    #[test]
    fn serde_shape_and_round_trip() {
        let price = m("12.34", Currency::USD);
        let json = serde_json::to_string(&price).unwrap();
        assert_eq!(json, r#"{"amount":"12.34","currency":"USD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), price);
        let from_number: Money =
            serde_json::from_str(r#"{"amount":12.34,"currency":"usd"}"#).unwrap();
        assert_eq!(from_number.amount().to_string(), "12.34");
        let from_int: Money = serde_json::from_str(r#"{"amount":-7,"currency":"JPY"}"#).unwrap();
        assert_eq!(from_int, Money::from_minor(-7, Currency::JPY));
        assert!(serde_json::from_str::<Money>(r#"{"amount":"abc","currency":"USD"}"#).is_err());
        let err = serde_json::from_str::<Money>(r#"{"amount":"1","currency":"XAU"}"#).unwrap_err();
        assert!(err.to_string().contains("XAU"), "{err}");
        assert_eq!(serde_json::to_string(&Currency::KWD).unwrap(), "\"KWD\"");
    }

    #[test]
    fn parse_errors_and_display() {
        assert_eq!(
            Money::parse("12,34", Currency::USD),
            Err(MoneyError::InvalidAmount("12,34".into()))
        );
        assert!(Money::parse("", Currency::USD).is_err());
        assert!(Money::parse("1.2.3", Currency::USD).is_err());
        assert_eq!(
            MoneyError::InvalidAmount("x".into()).to_string(),
            "invalid amount \"x\": not a decimal number"
        );
        assert_eq!(m(" -5 ", Currency::USD).amount(), d("-5"));
        assert_eq!(m("1.5e2", Currency::USD).amount(), d("150"));
        // Display keeps the stored scale.
        assert_eq!(m("12.3456", Currency::USD).to_string(), "12.3456 USD");
        assert_eq!(
            MoneyError::NotRounded {
                amount: d("1.234"),
                currency: Currency::USD
            }
            .to_string(),
            "1.234 USD is not a whole number of minor units (USD has 2 decimals)"
        );
    }

    #[test]
    fn converts_to_crate_error() {
        let e: crate::error::Error = MoneyError::Overflow { operation: "add" }.into();
        assert_eq!(e.kind(), &crate::error::ErrorKind::InvalidData);
        assert_eq!(
            e.message(),
            "arithmetic overflow in add: the result is too large"
        );
    }
}
