//! Dividing one location's units (sellable, incoming, a backorder allowance)
//! between the channels it feeds.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};

use super::config::{ChannelSplit, SplitMode};

/// How units are divided, with channel names resolved to indices and
/// percentages to fractions.
#[derive(Debug, Clone)]
pub(super) enum CompiledSplit {
    /// No split rule: evenly, the units that do not divide one each to the
    /// first channels in rule order.
    Even,
    /// Every channel sees every unit (not an allocation).
    Shared,
    /// A split rule's shares.
    Shares(Shares),
}

/// The shares of an allocating [`ChannelSplit`].
#[derive(Debug, Clone)]
pub(super) struct Shares {
    /// Fixed shares (channel, units), in file order.
    pub(super) fixed: Vec<(u16, u64)>,
    /// Percentage shares (channel, fraction of what is left after fixed shares), in file order.
    pub(super) percent: Vec<(u16, Decimal)>,
    /// The channel that gets the remainder (`u16::MAX` when unknown).
    pub(super) remainder_to: u16,
    /// Rounding of percentage shares.
    pub(super) rounding: RoundingStrategy,
}

impl CompiledSplit {
    /// Resolves channel names with `channel`; the rules were validated, so every name exists.
    pub(super) fn new(split: Option<&ChannelSplit>, channel: impl Fn(&str) -> Option<u16>) -> Self {
        let Some(split) = split else {
            return CompiledSplit::Even;
        };
        if split.mode == SplitMode::Shared {
            return CompiledSplit::Shared;
        }
        let mut fixed = Vec::new();
        let mut percent = Vec::new();
        for share in &split.shares {
            let Some(ch) = channel(&share.channel) else {
                continue;
            };
            match (share.quantity, share.percent) {
                (Some(q), _) => fixed.push((ch, q)),
                (None, Some(p)) => {
                    if let Some(f) = p.checked_div(Decimal::ONE_HUNDRED) {
                        percent.push((ch, f));
                    }
                }
                (None, None) => {}
            }
        }
        CompiledSplit::Shares(Shares {
            fixed,
            percent,
            remainder_to: split
                .remainder_to
                .as_deref()
                .and_then(&channel)
                .unwrap_or(u16::MAX),
            rounding: split.rounding.into(),
        })
    }

    /// True when every unit goes to one channel (the channels' numbers add up to the units).
    pub(super) fn allocates(&self) -> bool {
        !matches!(self, CompiledSplit::Shared)
    }
}

/// Writes into `out[ch]` the units each channel in `fed` gets from `quantity`
/// (`fed` in rule order, without repeats).
///
/// Shared: every fed channel sees all units. Otherwise a single fed channel
/// gets all of them, and several divide them so the parts add up to exactly
/// `quantity`: evenly without a split rule; with one, fixed shares first,
/// then percentages of what is left, each capped at what remains, and the
/// rest to `remainder_to` when it is fed here, else to the first fed channel.
pub(super) fn split_units(split: &CompiledSplit, quantity: u64, fed: &[u16], out: &mut [u64]) {
    for &ch in fed {
        out[usize::from(ch)] = 0;
    }
    let s = match (split, fed) {
        (_, []) => return,
        (CompiledSplit::Shared, _) | (_, [_]) => {
            for &ch in fed {
                out[usize::from(ch)] = quantity;
            }
            return;
        }
        (CompiledSplit::Even, _) => {
            let n = fed.len() as u64;
            let (each, extra) = (quantity / n, quantity % n);
            for (i, &ch) in fed.iter().enumerate() {
                out[usize::from(ch)] = each + u64::from((i as u64) < extra);
            }
            return;
        }
        (CompiledSplit::Shares(s), _) => s,
    };
    let mut remaining = quantity;
    for &(ch, units) in &s.fixed {
        if fed.contains(&ch) {
            let give = units.min(remaining);
            out[usize::from(ch)] += give;
            remaining -= give;
        }
    }
    let base = Decimal::from(remaining);
    for &(ch, fraction) in &s.percent {
        if fed.contains(&ch) {
            let share = base
                .checked_mul(fraction)
                .map(|d| d.round_dp_with_strategy(0, s.rounding))
                .and_then(|d| d.to_u64())
                .unwrap_or(0);
            let give = share.min(remaining);
            out[usize::from(ch)] += give;
            remaining -= give;
        }
    }
    let to = if fed.contains(&s.remainder_to) {
        s.remainder_to
    } else {
        fed[0]
    };
    out[usize::from(to)] += remaining;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RoundingMode;
    use crate::rules::availability::config::ChannelShare;
    use rust_decimal_macros::dec;

    fn compiled(rounding: RoundingMode) -> CompiledSplit {
        let split = ChannelSplit::new("web")
            .with_rounding(rounding)
            .with_share(ChannelShare::fixed("wholesale", 5))
            .with_share(ChannelShare::percent("marketplace", dec!(30)))
            .with_share(ChannelShare::percent("outlet", dec!(25)));
        let names = ["web", "wholesale", "marketplace", "outlet"];
        CompiledSplit::new(Some(&split), |n| {
            names.iter().position(|x| *x == n).map(|i| i as u16)
        })
    }

    #[test]
    fn fixed_then_percent_then_remainder() {
        let s = compiled(RoundingMode::Down);
        let mut out = [0u64; 4];
        split_units(&s, 17, &[0, 1, 2, 3], &mut out);
        // 5 fixed; 12 left: 30% = 3.6 -> 3, 25% = 3; remainder 17 - 11 = 6.
        assert_eq!(out, [6, 5, 3, 3]);
    }

    #[test]
    fn rounding_up_never_exceeds_the_pool() {
        let s = compiled(RoundingMode::Up);
        let mut out = [0u64; 4];
        split_units(&s, 6, &[0, 1, 2, 3], &mut out);
        // 5 fixed, 1 left: 30% of 1 -> 1 (up), 25% of the 1 -> capped at 0.
        assert_eq!(out, [0, 5, 1, 0]);
        split_units(&s, 3, &[0, 1, 2, 3], &mut out);
        assert_eq!(out, [0, 3, 0, 0]);
    }

    #[test]
    fn remainder_to_the_first_fed_channel_when_its_channel_is_not_fed() {
        let s = compiled(RoundingMode::HalfUp);
        let mut out = [0u64; 4];
        split_units(&s, 10, &[2, 3], &mut out);
        // No fixed share here: 30% of 10 = 3, 25% of 10 = 2.5 -> 3; 4 left, web not fed.
        assert_eq!(out, [0, 0, 7, 3]);
    }

    #[test]
    fn a_single_fed_channel_gets_everything() {
        let s = compiled(RoundingMode::Down);
        let mut out = [0u64; 4];
        split_units(&s, 10, &[2], &mut out);
        assert_eq!(out, [0, 0, 10, 0]);
    }

    #[test]
    fn without_a_split_rule_units_are_divided_evenly() {
        let even = CompiledSplit::new(None, |_| None);
        assert!(even.allocates());
        let mut out = [9u64; 4];
        split_units(&even, 7, &[0, 2, 3], &mut out);
        // 7 = 3 + 2 + 2: the unit that does not divide goes to the first channel.
        assert_eq!(out, [3, 9, 2, 2]);
        split_units(&even, 1, &[0, 2, 3], &mut out);
        assert_eq!(out, [1, 9, 0, 0]);
    }

    #[test]
    fn shared_pool_only_when_asked_for() {
        let shared = CompiledSplit::new(Some(&ChannelSplit::shared()), |_| None);
        assert!(!shared.allocates());
        let mut out = [9u64; 3];
        split_units(&shared, 7, &[0, 2], &mut out);
        assert_eq!(out, [7, 9, 7]);
    }
}
