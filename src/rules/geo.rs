//! Great-circle distance between two coordinates, for routing by distance.
//!
//! The one place in `rules` that needs trigonometry, so the one place that
//! touches floating point: coordinates come in as `Decimal` degrees and the
//! distance goes out as whole metres.
//!
//! ```
//! use rust_decimal_macros::dec;
//! use seamwork::model::GeoPoint;
//! use seamwork::rules::haversine_metres;
//!
//! let new_york = GeoPoint { lat: dec!(40.7128), lon: dec!(-74.0060) };
//! let los_angeles = GeoPoint { lat: dec!(34.0522), lon: dec!(-118.2437) };
//! let km = haversine_metres(&new_york, &los_angeles) / 1000;
//! assert_eq!(km, 3935);
//! ```

use crate::model::GeoPoint;

/// Mean earth radius (IUGG), in metres.
const EARTH_RADIUS_M: u32 = 6_371_009;

/// Great-circle (haversine) distance between `a` and `b` in whole metres,
/// on a sphere of the mean earth radius (within about 0.5 % of the
/// ellipsoid, which is plenty to rank warehouses).
#[allow(
    clippy::disallowed_types,
    reason = "haversine needs sin/cos/asin; coordinates enter as Decimal and the distance leaves \
              as integer metres, so no float escapes this function"
)]
pub fn haversine_metres(a: &GeoPoint, b: &GeoPoint) -> u64 {
    /// Powers of ten exactly representable as f64.
    const POW10: [f64; 19] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18,
    ];
    // Degrees as f64, in radians: mantissa / 10^scale is one correctly rounded
    // division when both fit (always, for coordinates of up to 15 digits);
    // Decimal's general conversion is the fallback.
    let rad = |d: rust_decimal::Decimal| {
        let degrees = match (i64::try_from(d.mantissa()), POW10.get(d.scale() as usize)) {
            (Ok(m), Some(p)) if m.unsigned_abs() < 1 << 53 => m as f64 / p,
            _ => rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(0.0),
        };
        degrees.to_radians()
    };
    let (lat1, lat2) = (rad(a.lat), rad(b.lat));
    let d_lat = lat2 - lat1;
    let d_lon = rad(b.lon) - rad(a.lon);
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
    let central_angle = 2.0 * h.sqrt().clamp(0.0, 1.0).asin();
    // Finite, non-negative and below 2.1e7: adding one half and truncating rounds it.
    (f64::from(EARTH_RADIUS_M) * central_angle + 0.5) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn p(lat: rust_decimal::Decimal, lon: rust_decimal::Decimal) -> GeoPoint {
        GeoPoint { lat, lon }
    }

    #[test]
    fn known_distances() {
        let paris = p(dec!(48.8566), dec!(2.3522));
        let berlin = p(dec!(52.5200), dec!(13.4050));
        assert_eq!(haversine_metres(&paris, &berlin) / 1000, 877);
        assert_eq!(haversine_metres(&paris, &paris), 0);
        assert_eq!(
            haversine_metres(&paris, &berlin),
            haversine_metres(&berlin, &paris)
        );
        // Antipodes: half the circumference.
        let north = p(dec!(90), dec!(0));
        let south = p(dec!(-90), dec!(0));
        assert_eq!(haversine_metres(&north, &south) / 1000, 20_015);
        // Across the antimeridian is short, not long.
        let fiji = p(dec!(-17), dec!(179.9));
        let samoa = p(dec!(-17), dec!(-179.9));
        assert!(haversine_metres(&fiji, &samoa) < 25_000);
        // Long decimals take the general conversion and agree with short ones.
        let precise = p(dec!(48.856600000000000000001), dec!(2.3522));
        assert_eq!(
            haversine_metres(&precise, &berlin),
            haversine_metres(&paris, &berlin)
        );
    }
}
