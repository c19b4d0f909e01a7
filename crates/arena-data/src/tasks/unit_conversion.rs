//! Unit conversions with the answer rounded to three decimal places.
//!
//! Factors are exact by definition (SI prefixes, the international yard and pound of 1959,
//! the imperial gallon, the US liquid gallon); temperatures are affine.

use crate::rng::DrawRng;
use crate::sample::Sample;

/// A unit: its plural name and how to reach the category's base unit.
#[derive(Debug, Clone, Copy)]
pub struct Unit {
    /// Plural English name, as the prompt writes it.
    pub name: &'static str,
    /// base = value · scale + offset.
    pub scale: f64,
    /// Zero point shift (temperatures only).
    pub offset: f64,
}

const fn unit(name: &'static str, scale: f64) -> Unit {
    Unit {
        name,
        scale,
        offset: 0.0,
    }
}

/// Categories of mutually convertible units.
pub const CATEGORIES: &[&[Unit]] = &[
    // Length, base metre.
    &[
        unit("millimetres", 0.001),
        unit("centimetres", 0.01),
        unit("metres", 1.0),
        unit("kilometres", 1000.0),
        unit("inches", 0.0254),
        unit("feet", 0.3048),
        unit("yards", 0.9144),
        unit("miles", 1609.344),
    ],
    // Mass, base gram.
    &[
        unit("milligrams", 0.001),
        unit("grams", 1.0),
        unit("kilograms", 1000.0),
        unit("tonnes", 1_000_000.0),
        unit("ounces", 28.349523125),
        unit("pounds", 453.59237),
    ],
    // Volume, base millilitre.
    &[
        unit("millilitres", 1.0),
        unit("litres", 1000.0),
        unit("cubic metres", 1_000_000.0),
        unit("US gallons", 3785.411784),
        unit("imperial gallons", 4546.09),
    ],
    // Time, base second.
    &[
        unit("seconds", 1.0),
        unit("minutes", 60.0),
        unit("hours", 3600.0),
        unit("days", 86400.0),
        unit("weeks", 604800.0),
    ],
    // Temperature, base kelvin.
    &[
        Unit {
            name: "degrees Celsius",
            scale: 1.0,
            offset: 273.15,
        },
        Unit {
            name: "degrees Fahrenheit",
            scale: 5.0 / 9.0,
            offset: 273.15 - 32.0 * 5.0 / 9.0,
        },
        unit("kelvins", 1.0),
    ],
];

/// Converts `value` from one unit to another of the same category.
pub fn convert(value: f64, from: &Unit, to: &Unit) -> f64 {
    let base = value * from.scale + from.offset;
    (base - to.offset) / to.scale
}

/// `value` rounded half away from zero to three decimals, without trailing zeros.
pub fn format_3dp(value: f64) -> String {
    let rounded = (value * 1000.0).round() / 1000.0;
    let text = format!("{rounded:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// One conversion: a value with up to two decimals between two distinct units.
pub fn generate(rng: &mut DrawRng, id: String) -> Sample {
    let category = CATEGORIES[rng.index(CATEGORIES.len())];
    let picked = rng.distinct(category.len(), 2);
    let (from, to) = (&category[picked[0]], &category[picked[1]]);
    // Integers half the time, otherwise two decimals; magnitudes spread over 0.01–99,999.
    let magnitude = 10u64.pow(rng.range(2, 5) as u32);
    let value = if rng.chance(1, 2) {
        rng.range(1, magnitude - 1) as f64
    } else {
        rng.range(1, magnitude * 100 - 1) as f64 / 100.0
    };
    let shown = format_3dp(value);
    let answer = format_3dp(convert(value, from, to));
    Sample::new(
        id,
        "unit_conversion",
        format!(
            "Convert {shown} {} to {}. Round the answer to three decimal places.",
            from.name, to.name
        ),
        format!("{answer} {}", to.name),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_conversions() {
        let length = CATEGORIES[0];
        assert_eq!(format_3dp(convert(1.0, &length[7], &length[3])), "1.609");
        let temp = CATEGORIES[4];
        assert_eq!(format_3dp(convert(100.0, &temp[0], &temp[1])), "212");
        assert_eq!(format_3dp(convert(32.0, &temp[1], &temp[0])), "0");
        assert_eq!(format_3dp(convert(0.0, &temp[0], &temp[2])), "273.15");
        assert_eq!(format_3dp(2.5), "2.5");
        assert_eq!(format_3dp(-0.0001), "0");
    }
}
