//! The data files shipped with the crate (see `data/README.md` for sources and licences),
//! embedded at compile time and parsed once.

use std::sync::OnceLock;

/// Ogden's Basic English word list (850 words, public domain), one per line.
const BASIC_ENGLISH: &str = include_str!("../data/basic_english_words.txt");
/// Sovereign states: `country<TAB>capital<TAB>continent`.
const COUNTRIES: &str = include_str!("../data/countries.tsv");
/// Chemical elements: `atomic_number<TAB>symbol<TAB>name`.
const ELEMENTS: &str = include_str!("../data/elements.tsv");

/// A country row of the fact table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Country {
    /// Common English short name.
    pub name: &'static str,
    /// Capital (seat of government where the two differ, as most references list it).
    pub capital: &'static str,
    /// Continent in the seven-continent model (Oceania for the Pacific states).
    pub continent: &'static str,
}

/// A chemical element row of the fact table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Atomic number (1–118).
    pub number: u32,
    /// IUPAC symbol.
    pub symbol: &'static str,
    /// IUPAC English name (British spelling: aluminium, caesium).
    pub name: &'static str,
}

fn data_lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

/// All 850 Basic English words, in Ogden's order.
pub fn basic_english() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| data_lines(BASIC_ENGLISH).map(str::trim).collect())
}

/// The words Subnet 37 sorts: Basic English words of three letters or more.
pub fn sortable_words() -> &'static [&'static str] {
    static WORDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| {
        basic_english()
            .iter()
            .copied()
            .filter(|w| w.len() >= 3)
            .collect()
    })
}

/// The country table (rows with a wrong column count are skipped; a test pins the count).
pub fn countries() -> &'static [Country] {
    static ROWS: OnceLock<Vec<Country>> = OnceLock::new();
    ROWS.get_or_init(|| {
        data_lines(COUNTRIES)
            .filter_map(|line| {
                let mut cols = line.split('\t');
                let row = Country {
                    name: cols.next()?,
                    capital: cols.next()?,
                    continent: cols.next()?,
                };
                cols.next().is_none().then_some(row)
            })
            .collect()
    })
}

/// The element table.
pub fn elements() -> &'static [Element] {
    static ROWS: OnceLock<Vec<Element>> = OnceLock::new();
    ROWS.get_or_init(|| {
        data_lines(ELEMENTS)
            .filter_map(|line| {
                let mut cols = line.split('\t');
                let row = Element {
                    number: cols.next()?.parse().ok()?,
                    symbol: cols.next()?,
                    name: cols.next()?,
                };
                cols.next().is_none().then_some(row)
            })
            .collect()
    })
}

/// Countries whose territory is commonly counted on more than one continent (transcontinental
/// states, and states with integral parts on another continent: Sinai, the Canary Islands,
/// Madeira, Greenland, Hawaii, Easter Island, Socotra, New Guinea, …), or that are placed on a
/// different continent by common conventions (Cyprus, Armenia, Malta, Iceland). Questions whose
/// answer is a continent leave them out, so every such answer is unambiguous.
pub const MANY_CONTINENTS: [&str; 29] = [
    "Armenia",
    "Australia",
    "Azerbaijan",
    "Chile",
    "Colombia",
    "Cyprus",
    "Denmark",
    "East Timor",
    "Ecuador",
    "Egypt",
    "France",
    "Georgia",
    "Greece",
    "Iceland",
    "Indonesia",
    "Italy",
    "Kazakhstan",
    "Malta",
    "Netherlands",
    "Panama",
    "Papua New Guinea",
    "Portugal",
    "Russia",
    "Spain",
    "Trinidad and Tobago",
    "Turkey",
    "United States",
    "Venezuela",
    "Yemen",
];

/// The countries that lie on one continent only (the table less [`MANY_CONTINENTS`]), in
/// table order: the ones continent questions ask about.
pub fn one_continent_countries() -> &'static [Country] {
    static ROWS: OnceLock<Vec<Country>> = OnceLock::new();
    ROWS.get_or_init(|| {
        countries()
            .iter()
            .filter(|c| !MANY_CONTINENTS.contains(&c.name))
            .cloned()
            .collect()
    })
}

/// The distinct continents of the country table, sorted.
pub fn continents() -> &'static [&'static str] {
    static ROWS: OnceLock<Vec<&'static str>> = OnceLock::new();
    ROWS.get_or_init(|| {
        let mut all: Vec<&'static str> = countries().iter().map(|c| c.continent).collect();
        all.sort_unstable();
        all.dedup();
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tables_are_complete_and_unique() {
        assert_eq!(basic_english().len(), 850);
        assert!(sortable_words().len() >= 800, "{}", sortable_words().len());
        let words: HashSet<_> = basic_english().iter().collect();
        assert_eq!(words.len(), 850);
        assert!(basic_english()
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_lowercase())));
        assert_eq!(countries().len(), 194);
        let names: HashSet<_> = countries().iter().map(|c| c.name).collect();
        let capitals: HashSet<_> = countries().iter().map(|c| c.capital).collect();
        assert_eq!(names.len(), 194);
        assert_eq!(capitals.len(), 194, "capitals must be unique for questions");
        for name in MANY_CONTINENTS {
            assert!(names.contains(name), "{name} is not in the table");
        }
        assert_eq!(one_continent_countries().len(), 194 - MANY_CONTINENTS.len());
        assert_eq!(continents().len(), 6);
        assert_eq!(elements().len(), 118);
        for (i, e) in elements().iter().enumerate() {
            assert_eq!(e.number as usize, i + 1);
        }
        let symbols: HashSet<_> = elements().iter().map(|e| e.symbol).collect();
        assert_eq!(symbols.len(), 118);
        assert!(countries()
            .iter()
            .all(|c| !c.name.contains(',') && !c.capital.contains(',')));
    }
}
