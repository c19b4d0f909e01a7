//! Where the hub client finds its token, in huggingface_hub's order: the `HF_TOKEN` variable,
//! then the token file (`$HF_TOKEN_PATH`, else `$HF_HOME/token` with `HF_HOME` defaulting to
//! `$XDG_CACHE_HOME/huggingface`, then `~/.cache/huggingface`), then the configured token.
//!
//! [`resolve_token`] takes the environment as a value ([`TokenSources`]), so it is tested
//! without touching the process environment; [`TokenSources::from_process`] reads the real one.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest token file read (a token is tens of bytes).
const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// The inputs of the token lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenSources {
    /// `HF_TOKEN`.
    pub hf_token: Option<String>,
    /// `HF_TOKEN_PATH`.
    pub hf_token_path: Option<PathBuf>,
    /// `HF_HOME`.
    pub hf_home: Option<PathBuf>,
    /// `XDG_CACHE_HOME`.
    pub xdg_cache_home: Option<PathBuf>,
    /// The user's home directory (`HOME`).
    pub home: Option<PathBuf>,
    /// The token of the configuration (`[hub] token`).
    pub configured: Option<String>,
}

impl TokenSources {
    /// The process environment, with `configured` from the configuration.
    pub fn from_process(configured: Option<String>) -> TokenSources {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        TokenSources {
            hf_token: var("HF_TOKEN"),
            hf_token_path: var("HF_TOKEN_PATH").map(PathBuf::from),
            hf_home: var("HF_HOME").map(PathBuf::from),
            xdg_cache_home: var("XDG_CACHE_HOME").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            configured,
        }
    }

    /// The token file huggingface_hub reads and writes (`hf auth login`).
    pub fn token_file(&self) -> Option<PathBuf> {
        if let Some(path) = &self.hf_token_path {
            return Some(path.clone());
        }
        let hf_home = self.hf_home.clone().or_else(|| {
            self.xdg_cache_home
                .clone()
                .or_else(|| self.home.as_ref().map(|h| h.join(".cache")))
                .map(|cache| cache.join("huggingface"))
        })?;
        Some(hf_home.join("token"))
    }
}

/// Where a token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The `HF_TOKEN` variable.
    EnvVar,
    /// A token file (`HF_TOKEN_PATH` or `$HF_HOME/token`).
    File(PathBuf),
    /// The configuration.
    Configured,
}

/// The token to use and where it came from; `None` when no source has one. Values are trimmed
/// and empty ones skipped; an unreadable, oversized or non-UTF-8 token file counts as absent.
pub fn resolve_token(sources: &TokenSources) -> Option<(String, TokenSource)> {
    let clean = |t: &str| Some(t.trim().to_string()).filter(|t| !t.is_empty());
    if let Some(token) = sources.hf_token.as_deref().and_then(clean) {
        return Some((token, TokenSource::EnvVar));
    }
    if let Some(path) = sources.token_file() {
        if let Some(token) = read_token_file(&path).as_deref().and_then(clean) {
            return Some((token, TokenSource::File(path)));
        }
    }
    sources
        .configured
        .as_deref()
        .and_then(clean)
        .map(|token| (token, TokenSource::Configured))
}

fn read_token_file(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .ok()?;
    (text.len() as u64 <= MAX_TOKEN_FILE_BYTES).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_file_location() {
        let home = TokenSources {
            home: Some("/home/u".into()),
            ..Default::default()
        };
        assert_eq!(
            home.token_file(),
            Some(PathBuf::from("/home/u/.cache/huggingface/token"))
        );
        let xdg = TokenSources {
            xdg_cache_home: Some("/xdg".into()),
            ..home.clone()
        };
        assert_eq!(
            xdg.token_file(),
            Some(PathBuf::from("/xdg/huggingface/token"))
        );
        let hf_home = TokenSources {
            hf_home: Some("/hf".into()),
            ..xdg.clone()
        };
        assert_eq!(hf_home.token_file(), Some(PathBuf::from("/hf/token")));
        let explicit = TokenSources {
            hf_token_path: Some("/t/tok".into()),
            ..hf_home
        };
        assert_eq!(explicit.token_file(), Some(PathBuf::from("/t/tok")));
        assert_eq!(TokenSources::default().token_file(), None);
    }
}
