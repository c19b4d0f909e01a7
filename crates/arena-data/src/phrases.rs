//! The undesirable-phrase filter: refusals, assistant boilerplate and control tokens that
//! must not be in evaluation data (Subnet 18/37's UNWANTED_PHRASES idea).

use std::path::Path;

use crate::error::DataError;
use crate::sample::Sample;

/// The shipped list (`data/undesirable_phrases.txt`).
pub const DEFAULT_PHRASES: &str = include_str!("../data/undesirable_phrases.txt");

/// Case-insensitive substring filter over every text of a sample.
#[derive(Debug, Clone)]
pub struct PhraseFilter {
    phrases: Vec<String>,
}

impl Default for PhraseFilter {
    fn default() -> Self {
        PhraseFilter::from_text(DEFAULT_PHRASES)
    }
}

impl PhraseFilter {
    /// One phrase per line; blank lines and lines starting with `#` are ignored.
    pub fn from_text(text: &str) -> PhraseFilter {
        PhraseFilter {
            phrases: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_lowercase)
                .collect(),
        }
    }

    /// Loads a replacement list from a file (the `[data] undesirable_phrases` setting).
    pub fn from_file(path: &Path) -> Result<PhraseFilter, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
            path: path.display().to_string(),
            source: e,
        })?;
        Ok(PhraseFilter::from_text(&text))
    }

    /// Adds phrases to the list.
    pub fn extend<I: IntoIterator<Item = S>, S: AsRef<str>>(&mut self, extra: I) {
        self.phrases
            .extend(extra.into_iter().map(|p| p.as_ref().trim().to_lowercase()));
        self.phrases.retain(|p| !p.is_empty());
    }

    /// The phrases, lowercased.
    pub fn phrases(&self) -> &[String] {
        &self.phrases
    }

    /// The first phrase found in `text`, if any.
    pub fn find_in(&self, text: &str) -> Option<&str> {
        let lower = text.to_lowercase();
        self.phrases
            .iter()
            .find(|p| lower.contains(p.as_str()))
            .map(String::as_str)
    }

    /// The first phrase found in any text of the sample, if any.
    pub fn find_in_sample(&self, sample: &Sample) -> Option<&str> {
        sample.texts().find_map(|t| self.find_in(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_catches_boilerplate() {
        let filter = PhraseFilter::default();
        assert!(filter.phrases().len() > 50);
        assert_eq!(
            filter.find_in("Well, As An AI Language Model I think"),
            Some("as an ai language model")
        );
        assert!(filter.find_in("text<|endoftext|>").is_some());
        assert!(filter.find_in("The capital of France is Paris.").is_none());
        let mut sample = Sample::new("1", "chat", "hi", "fine");
        assert!(filter.find_in_sample(&sample).is_none());
        sample.response = "I'm sorry, but I cannot help with that.".into();
        assert!(filter.find_in_sample(&sample).is_some());
    }
}
