//! Client of the datasets-server API, with a bounded retry policy and size-capped bodies.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde::de::DeserializeOwned;

use super::{RowsResponse, SizeResponse, SplitsResponse, DEFAULT_DATASETS_SERVER};

/// When and how long to retry. The defaults are the public server's etiquette (SN37): up to
/// 10 attempts; a 429 waits `Retry-After` seconds (at most `max_retry_after`) or else the
/// back-off; the back-off doubles from 5 s to at most 60 s; 5xx answers and transport errors
/// are retried the same way; other 4xx answers are not retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait before the second attempt.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Longest wait a `Retry-After` header can ask for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The back-off after failed attempt `attempt` (1-based): `initial * 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.initial_backoff
            .checked_mul(factor)
            .unwrap_or(self.max_backoff)
            .min(self.max_backoff)
    }
}

/// What can go wrong talking to a datasets-server.
#[derive(Debug, thiserror::Error)]
pub enum DatasetsServerError {
    /// Still answered 429 after every attempt.
    #[error("{url}: rate limited (429) on each of {attempts} attempts")]
    RateLimited {
        /// The request.
        url: String,
        /// Attempts made.
        attempts: u32,
    },
    /// An error status (a 4xx at once, a 5xx after every attempt).
    #[error("{url}: status {status} after {attempts} attempt(s): {message}")]
    Status {
        /// The request.
        url: String,
        /// HTTP status.
        status: u16,
        /// The `error` of the answer (or the start of its body).
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The connection failed on each attempt.
    #[error("{url}: network error after {attempts} attempt(s): {message}")]
    Transport {
        /// The request.
        url: String,
        /// The last error.
        message: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The answer was not the expected JSON.
    #[error("{url}: cannot decode the answer: {message}")]
    Decode {
        /// The request.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The answer was larger than the client accepts.
    #[error("{url}: answer larger than {limit} bytes")]
    TooLarge {
        /// The request.
        url: String,
        /// The cap.
        limit: usize,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// A connection to a datasets-server: the public one or the root of an `arena hub serve`.
#[derive(Clone, Debug)]
pub struct DatasetsServerClient {
    http: reqwest::Client,
    base_url: String,
    token: Option<String>,
    retry: RetryPolicy,
    max_body_bytes: usize,
}

/// One attempt's outcome.
enum Attempt {
    Done(Vec<u8>),
    Retry {
        wait: Option<Duration>,
        error: DatasetsServerError,
    },
    Fail(DatasetsServerError),
}

impl DatasetsServerClient {
    /// Default cap on an answer's body (32 MiB).
    pub const DEFAULT_MAX_BODY_BYTES: usize = 32 << 20;

    /// A client for `base_url` (None: [`DEFAULT_DATASETS_SERVER`]) with an optional bearer token,
    /// the default [`RetryPolicy`] and body cap.
    pub fn new(
        base_url: Option<&str>,
        token: Option<String>,
    ) -> Result<DatasetsServerClient, DatasetsServerError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("arena-hub/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(60))
            .timeout(Duration::from_secs(300))
            .build()
            .map_err(|e| DatasetsServerError::Client(e.to_string()))?;
        Ok(DatasetsServerClient {
            http,
            base_url: base_url
                .unwrap_or(DEFAULT_DATASETS_SERVER)
                .trim_end_matches('/')
                .to_string(),
            token: token.filter(|t| !t.is_empty()),
            retry: RetryPolicy::default(),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        })
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> DatasetsServerClient {
        self.retry = retry;
        self
    }

    /// The same client with another cap on answer bodies.
    pub fn with_max_body_bytes(mut self, limit: usize) -> DatasetsServerClient {
        self.max_body_bytes = limit;
        self
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `GET /splits?dataset=`.
    pub async fn splits(&self, dataset: &str) -> Result<SplitsResponse, DatasetsServerError> {
        self.get("splits", &[("dataset", dataset.to_string())])
            .await
    }

    /// `GET /size?dataset=`.
    pub async fn size(&self, dataset: &str) -> Result<SizeResponse, DatasetsServerError> {
        self.get("size", &[("dataset", dataset.to_string())]).await
    }

    /// `GET /rows?dataset&config&split&offset&length` (`length` at most
    /// [`super::MAX_ROWS_PER_PAGE`] on the public server).
    pub async fn rows(
        &self,
        dataset: &str,
        config: &str,
        split: &str,
        offset: u64,
        length: u64,
    ) -> Result<RowsResponse, DatasetsServerError> {
        self.get(
            "rows",
            &[
                ("dataset", dataset.to_string()),
                ("config", config.to_string()),
                ("split", split.to_string()),
                ("offset", offset.to_string()),
                ("length", length.to_string()),
            ],
        )
        .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        route: &str,
        query: &[(&str, String)],
    ) -> Result<T, DatasetsServerError> {
        let url = format!("{}/{route}", self.base_url);
        let attempts = self.retry.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (wait, error) = match self.attempt(&url, query, attempt).await {
                Attempt::Done(body) => {
                    return serde_json::from_slice(&body).map_err(|e| DatasetsServerError::Decode {
                        url: url.clone(),
                        message: e.to_string(),
                    })
                }
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { wait, error } => (wait, error),
            };
            if attempt >= attempts {
                return Err(error);
            }
            let wait = wait.unwrap_or_else(|| self.retry.backoff(attempt));
            tracing::debug!(%url, attempt, ?wait, error = %error, "datasets-server retry");
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(&self, url: &str, query: &[(&str, String)], attempt: u32) -> Attempt {
        let mut request = self.http.get(url).query(query);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let transport = |e: reqwest::Error| Attempt::Retry {
            wait: None,
            error: DatasetsServerError::Transport {
                url: url.to_string(),
                message: e.to_string(),
                attempts: attempt,
            },
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return transport(e),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s).min(self.retry.max_retry_after));
        let too_large = || {
            Attempt::Fail(DatasetsServerError::TooLarge {
                url: url.to_string(),
                limit: self.max_body_bytes,
            })
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.max_body_bytes as u64)
            && status.is_success()
        {
            return too_large();
        }
        // Bodies are read up to the cap (error bodies up to 64 KiB).
        let cap = if status.is_success() {
            self.max_body_bytes
        } else {
            self.max_body_bytes.min(64 << 10)
        };
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        let mut cut = false;
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => return transport(e),
            };
            if body.len() + chunk.len() > cap {
                if status.is_success() {
                    return too_large();
                }
                body.extend_from_slice(&chunk[..cap - body.len()]);
                cut = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            return Attempt::Done(body);
        }
        let message = serde_json::from_slice::<super::ErrorResponse>(&body)
            .ok()
            .filter(|_| !cut)
            .map(|e| e.error)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(300).collect());
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Attempt::Retry {
                wait: retry_after,
                error: DatasetsServerError::RateLimited {
                    url: url.to_string(),
                    attempts: attempt,
                },
            };
        }
        let error = DatasetsServerError::Status {
            url: url.to_string(),
            status: status.as_u16(),
            message,
            attempts: attempt,
        };
        if status.is_server_error() {
            Attempt::Retry { wait: None, error }
        } else {
            Attempt::Fail(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = RetryPolicy::default();
        let secs: Vec<u64> = (1..=6).map(|a| policy.backoff(a).as_secs()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 60, 60]);
        assert_eq!(policy.backoff(40), Duration::from_secs(60));
    }
}
