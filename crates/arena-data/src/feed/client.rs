//! HTTP client of a feed: what producers publish with and validators pull with.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Deserialize;

use crate::batch::Batch;
use crate::error::DataError;
use crate::feed::FeedPage;

/// Default cap on a response body (a page of up to 100 batches).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024 * 1024;

/// A feed at a base URL such as `http://127.0.0.1:8090`.
#[derive(Clone)]
pub struct FeedClient {
    base: String,
    http: reqwest::Client,
    max_response_bytes: usize,
}

/// The server's answer to a publish.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct PublishReceipt {
    /// Where the batch sits in the feed.
    pub cursor: u64,
    /// True when the feed already had it.
    pub duplicate: bool,
}

impl FeedClient {
    /// A client for `base` with a 30 s request timeout.
    pub fn new(base: &str) -> Result<FeedClient, DataError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| DataError::Http {
                url: base.to_string(),
                reason: e.to_string(),
            })?;
        Ok(FeedClient {
            base: base.trim_end_matches('/').to_string(),
            http,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        })
    }

    /// Caps response bodies at `bytes` (checked while reading).
    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The feed's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn http_error(&self, url: &str, reason: impl ToString) -> DataError {
        DataError::Http {
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Publishes a batch.
    pub async fn publish(&self, batch: &Batch) -> Result<PublishReceipt, DataError> {
        let url = format!("{}/v1/batches", self.base);
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(batch.to_json())
            .send()
            .await
            .map_err(|e| self.http_error(&url, e))?;
        let status = response.status();
        let body = self.read_capped(&url, response).await?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            return Err(self.http_error(&url, format!("HTTP {status}: {}", text.trim())));
        }
        serde_json::from_slice(&body)
            .map_err(|e| self.http_error(&url, format!("bad receipt: {e}")))
    }

    /// Batches stored after `cursor`.
    pub async fn since(&self, cursor: u64, limit: usize) -> Result<FeedPage, DataError> {
        self.page(&format!(
            "{}/v1/batches?since={cursor}&limit={limit}",
            self.base
        ))
        .await
    }

    /// Batches created in `[from_ms, to_ms)`.
    pub async fn range(
        &self,
        from_ms: u64,
        to_ms: u64,
        limit: usize,
    ) -> Result<FeedPage, DataError> {
        self.page(&format!(
            "{}/v1/batches?from={from_ms}&to={to_ms}&limit={limit}",
            self.base
        ))
        .await
    }

    async fn page(&self, url: &str) -> Result<FeedPage, DataError> {
        let body = self.get_bytes(url).await?;
        serde_json::from_slice(&body).map_err(|e| self.http_error(url, format!("bad page: {e}")))
    }

    /// GETs `url` (any URL, e.g. a batch file) with the response cap.
    pub async fn get_bytes(&self, url: &str) -> Result<Vec<u8>, DataError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| self.http_error(url, e))?;
        let status = response.status();
        let body = self.read_capped(url, response).await?;
        if !status.is_success() {
            return Err(self.http_error(url, format!("HTTP {status}")));
        }
        Ok(body)
    }

    async fn read_capped(
        &self,
        url: &str,
        response: reqwest::Response,
    ) -> Result<Vec<u8>, DataError> {
        if response
            .content_length()
            .is_some_and(|len| len > self.max_response_bytes as u64)
        {
            return Err(self.http_error(url, "response over the size limit"));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.http_error(url, e))?;
            if body.len() + chunk.len() > self.max_response_bytes {
                return Err(self.http_error(url, "response over the size limit"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
