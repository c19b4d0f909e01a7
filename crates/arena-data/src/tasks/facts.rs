//! Facts that are computed rather than looked up, shared by the multiple-choice and IFEval
//! generators: Gregorian calendar dates and weekdays, exact unit ratios, primes and binomial
//! coefficients (for counting question spaces).
//!
//! Everything here is exact integer arithmetic, so every answer built from it is certainly
//! right; the tests cross-check it against independent methods and known dates.

/// Weekday names, Monday first (ISO 8601 order).
pub const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Month names, January first.
pub const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// First year of the dates questions ask about.
pub const FIRST_YEAR: i64 = 1900;
/// Last year of the dates questions ask about.
pub const LAST_YEAR: i64 = 2099;

/// A Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    /// Year (1900–2099 for generated questions).
    pub year: i64,
    /// Month, 1–12.
    pub month: u32,
    /// Day of the month, 1–31.
    pub day: u32,
}

impl Date {
    /// British written form without commas, e.g. `4 July 1976`.
    pub fn written(&self) -> String {
        format!(
            "{} {} {}",
            self.day,
            MONTHS[self.month as usize - 1],
            self.year
        )
    }

    /// Days since 1970-01-01 (negative before it).
    pub fn days(&self) -> i64 {
        // Era-based day count (March-first years, so the leap day ends the year).
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date { year, month, day }
    }

    /// Index into [`WEEKDAYS`] (1970-01-01 was a Thursday).
    pub fn weekday(&self) -> usize {
        (self.days() + 3).rem_euclid(7) as usize
    }
}

/// Number of dates from 1 January [`FIRST_YEAR`] to 31 December [`LAST_YEAR`].
pub fn date_count() -> u64 {
    (last_date().days() - first_date().days() + 1) as u64
}

/// Date `index` (0-based) of the range [`date_count`] counts.
pub fn nth_date(index: u64) -> Date {
    Date::from_days(first_date().days() + index as i64)
}

fn first_date() -> Date {
    Date {
        year: FIRST_YEAR,
        month: 1,
        day: 1,
    }
}

fn last_date() -> Date {
    Date {
        year: LAST_YEAR,
        month: 12,
        day: 31,
    }
}

/// An exact ratio between two units of one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitPair {
    /// The larger unit, plural (`metres`).
    pub big: &'static str,
    /// The larger unit, singular (`metre`).
    pub big_one: &'static str,
    /// The smaller unit, plural (`centimetres`).
    pub small: &'static str,
    /// How many of the smaller unit make one of the larger (exact by definition).
    pub factor: u64,
}

/// Unit pairs whose ratio is exact by definition.
pub const UNIT_PAIRS: [UnitPair; 12] = [
    unit("kilometres", "kilometre", "metres", 1000),
    unit("metres", "metre", "centimetres", 100),
    unit("centimetres", "centimetre", "millimetres", 10),
    unit("kilograms", "kilogram", "grams", 1000),
    unit("litres", "litre", "millilitres", 1000),
    unit("hours", "hour", "minutes", 60),
    unit("minutes", "minute", "seconds", 60),
    unit("days", "day", "hours", 24),
    unit("weeks", "week", "days", 7),
    unit("feet", "foot", "inches", 12),
    unit("yards", "yard", "feet", 3),
    unit("pounds", "pound", "ounces", 16),
];

const fn unit(
    big: &'static str,
    big_one: &'static str,
    small: &'static str,
    factor: u64,
) -> UnitPair {
    UnitPair {
        big,
        big_one,
        small,
        factor,
    }
}

/// Smallest amount of the larger unit asked about (plural, so at least 2).
pub const UNIT_MIN: u64 = 2;
/// Largest amount of the larger unit asked about.
pub const UNIT_MAX: u64 = 999;

/// Whether `n` is prime (trial division; generated numbers are small).
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}

/// The binomial coefficient `n` choose `k` (0 when `k > n`).
pub fn choose(n: u128, k: u128) -> u128 {
    if k > n {
        return 0;
    }
    (0..k).fold(1u128, |acc, i| acc * (n - i) / (i + 1))
}

/// English ordinal of a small number: `1st`, `2nd`, `3rd`, `4th`, `11th`, `22nd`.
pub fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zeller's congruence, an independent weekday rule (0 = Saturday).
    fn zeller(year: i64, month: u32, day: u32) -> usize {
        let (y, m) = if month < 3 {
            (year - 1, i64::from(month) + 12)
        } else {
            (year, i64::from(month))
        };
        let k = y % 100;
        let j = y / 100;
        let h = (i64::from(day) + 13 * (m + 1) / 5 + k + k / 4 + j / 4 + 5 * j) % 7;
        h as usize
    }

    #[test]
    fn calendar_matches_known_dates_and_zeller() {
        let known = [
            (1900, 1, 1, "Monday"),
            (1969, 7, 20, "Sunday"),
            (1970, 1, 1, "Thursday"),
            (2000, 1, 1, "Saturday"),
            (2000, 2, 29, "Tuesday"),
            (2024, 12, 25, "Wednesday"),
            (2099, 12, 31, "Thursday"),
        ];
        for (year, month, day, name) in known {
            let date = Date { year, month, day };
            assert_eq!(WEEKDAYS[date.weekday()], name, "{}", date.written());
        }
        assert_eq!(date_count(), 73_049);
        let mut previous: Option<Date> = None;
        for i in 0..date_count() {
            let date = nth_date(i);
            assert_eq!(Date::from_days(date.days()), date);
            // Zeller counts from Saturday; ours from Monday.
            assert_eq!(
                (zeller(date.year, date.month, date.day) + 5) % 7,
                date.weekday()
            );
            if let Some(p) = previous {
                let next_day = date.day == p.day + 1 && date.month == p.month;
                let next_month = date.day == 1 && date.month == p.month + 1;
                let next_year = (date.day, date.month, date.year) == (1, 1, p.year + 1);
                assert!(next_day || next_month || next_year, "{p:?} -> {date:?}");
            }
            previous = Some(date);
        }
        assert_eq!(previous.unwrap(), last_date());
        assert_eq!(
            nth_date(59).written(),
            "1 March 1900",
            "1900 is no leap year"
        );
    }

    #[test]
    fn small_helpers() {
        let primes: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert_eq!((0..1000).filter(|&n| is_prime(n)).count(), 168);
        assert_eq!(choose(5, 2), 10);
        assert_eq!(choose(118, 4), 7_673_835);
        assert_eq!(choose(2, 3), 0);
        assert_eq!(
            [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 101, 111].map(ordinal),
            [
                "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                "101st", "111th"
            ]
        );
    }
}
