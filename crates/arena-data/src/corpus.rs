//! Real prose for `text_loss`, sampled in pages as Subnet 9 does.
//!
//! The shipped corpus is Jane Austen's *Pride and Prejudice* (1813) and *Persuasion* (1818),
//! public domain, taken from Debian's `r-cran-janeaustenr` package (see `data/README.md`).
//! A document is one paragraph (paragraphs of fewer than five words, such as chapter
//! headings, are left out).
//!
//! Page sampling: with `rows` documents per page, the seed draws one offset in `0..rows`,
//! then distinct page numbers `k` among the `(len − offset) / rows` whole pages; page `k`
//! covers documents `offset + k·rows ..` — so two pages are equal or disjoint, never partly
//! overlapping.

use async_trait::async_trait;

use crate::accept::RejectionStats;
use crate::error::DataError;
use crate::rng::DrawRng;
use crate::sample::Sample;
use crate::source::{DataSource, Draw, DrawRequest};
use arena_core::seed::Seed;

const PRIDE_AND_PREJUDICE: &str = include_str!("../data/corpus/pride_and_prejudice.txt");
const PERSUASION: &str = include_str!("../data/corpus/persuasion.txt");

/// Fewest words a paragraph needs to count as a document.
pub const MIN_DOCUMENT_WORDS: usize = 5;

/// An ordered list of documents.
#[derive(Debug, Clone)]
pub struct Corpus {
    name: String,
    documents: Vec<String>,
}

/// A page: consecutive documents starting at `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Index of the first document.
    pub start: usize,
    /// The documents.
    pub documents: Vec<String>,
}

impl Corpus {
    /// The shipped public-domain corpus (about 2,900 documents, 1.1 MB).
    pub fn shipped() -> Corpus {
        let documents = [PRIDE_AND_PREJUDICE, PERSUASION]
            .iter()
            .flat_map(|text| text.lines())
            .filter(|p| p.split_whitespace().count() >= MIN_DOCUMENT_WORDS)
            .map(str::to_string)
            .collect();
        Corpus {
            name: "austen".into(),
            documents,
        }
    }

    /// A corpus from text with one document per line (blank lines ignored).
    pub fn from_lines(name: &str, text: &str) -> Corpus {
        Corpus {
            name: name.to_string(),
            documents: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// The corpus name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// All documents.
    pub fn documents(&self) -> &[String] {
        &self.documents
    }

    /// Up to `pages` distinct whole pages of `rows` documents, chosen by `seed`.
    pub fn pages(&self, seed: &Seed, rows: usize, pages: usize) -> Vec<Page> {
        let rows = rows.max(1);
        let mut rng = DrawRng::new(seed, "corpus-pages", 0);
        let offset = rng.index(rows);
        let available = self.documents.len().saturating_sub(offset) / rows;
        rng.distinct(available, pages)
            .into_iter()
            .map(|k| {
                let start = offset + k * rows;
                Page {
                    start,
                    documents: self.documents[start..start + rows].to_vec(),
                }
            })
            .collect()
    }
}

/// Text documents from a corpus, drawn a page at a time.
pub struct CorpusSource {
    corpus: Corpus,
    rows_per_page: usize,
}

impl CorpusSource {
    /// Pages of `rows_per_page` documents (Subnet 9 uses 50).
    pub fn new(corpus: Corpus, rows_per_page: usize) -> CorpusSource {
        CorpusSource {
            corpus,
            rows_per_page: rows_per_page.max(1),
        }
    }
}

#[async_trait]
impl DataSource for CorpusSource {
    fn describe(&self) -> String {
        format!(
            "corpus {} ({} per page)",
            self.corpus.name(),
            self.rows_per_page
        )
    }

    async fn draw(&mut self, request: &DrawRequest) -> Result<Draw, DataError> {
        let pages = request.count.div_ceil(self.rows_per_page);
        let mut samples = Vec::new();
        for page in self.corpus.pages(&request.seed, self.rows_per_page, pages) {
            for (i, doc) in page.documents.into_iter().enumerate() {
                let id = format!("{}:{}", self.corpus.name(), page.start + i);
                samples.push(Sample::new(id, "text", "", doc));
            }
        }
        samples.truncate(request.count);
        Ok(Draw {
            samples,
            stats: RejectionStats::default(),
        })
    }
}
