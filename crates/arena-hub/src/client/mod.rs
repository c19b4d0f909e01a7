//! Client of the Hub HTTP API: the same code talks to `arena hub serve` and to huggingface.co.
//!
//! Endpoint and token come from the caller (configuration) or from `HF_ENDPOINT` / `HF_TOKEN`.
//! Errors are mapped from `X-Error-Code` first, then from the HTTP status, into [`HubError`].

mod download;
mod pinned;
mod token;
mod upload;

pub use download::{typed_repo_cache_dir, DownloadOptions, Snapshot};
pub use pinned::{find_cached_pinned, Pins, MAX_PINNED_FILE_BYTES};
pub use token::{resolve_token, TokenSource, TokenSources};

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::{Method, RequestBuilder, Response};
use serde::Deserialize;
use serde_json::json;

use crate::error::{HubError, Result};
use crate::paths::{split_repo_id, RepoType};

/// The public Hub, used when neither configuration nor `HF_ENDPOINT` names another.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Characters left as they are in a percent-encoded path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a revision as one path segment (`/` becomes `%2F`).
pub fn encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// Percent-encodes a repository file path, keeping `/` literal.
pub fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Repository information at one revision, as `GET /api/models/{id}/revision/{rev}?blobs=true`
/// returns it.
#[derive(Deserialize, Debug, Clone)]
pub struct RepoInfo {
    /// `namespace/name`.
    pub id: String,
    /// Commit the revision resolved to.
    pub sha: Option<String>,
    /// Visibility (absent on some public answers).
    #[serde(default)]
    pub private: Option<bool>,
    /// Files of the revision.
    #[serde(default)]
    pub siblings: Vec<Sibling>,
}

/// One file of [`RepoInfo`].
#[derive(Deserialize, Debug, Clone)]
pub struct Sibling {
    /// Path in the repository.
    pub rfilename: String,
    /// Size in bytes (only with `blobs=true`).
    pub size: Option<u64>,
    /// Git blob SHA-1 (of the pointer for LFS files).
    #[serde(rename = "blobId")]
    pub blob_id: Option<String>,
    /// LFS metadata when the file is stored in LFS.
    pub lfs: Option<LfsInfo>,
}

/// LFS part of a [`Sibling`].
#[derive(Deserialize, Debug, Clone)]
pub struct LfsInfo {
    /// SHA-256 of the content, hex.
    pub sha256: String,
    /// Size of the content.
    pub size: u64,
}

/// Context of a request, used to turn Hub error codes into precise errors.
#[derive(Default, Clone, Copy)]
struct ErrCtx<'a> {
    repo: &'a str,
    revision: &'a str,
    path: &'a str,
}

/// A connection to one hub.
#[derive(Clone, Debug)]
pub struct HubClient {
    http: reqwest::Client,
    endpoint: String,
    token: Option<String>,
}

impl HubClient {
    /// A client for `endpoint` (no trailing slash needed) with an optional bearer token.
    pub fn new(endpoint: &str, token: Option<String>) -> Result<HubClient> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("arena-hub/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .build()?;
        Ok(HubClient {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// A client configured as the official one: `HF_ENDPOINT` overrides the given endpoint,
    /// which defaults to huggingface.co; the token is found as huggingface_hub finds it
    /// ([`resolve_token`]: `HF_TOKEN`, the `HF_TOKEN_PATH` file, `$HF_HOME/token`), with the
    /// given (configured) token last.
    pub fn from_env(endpoint: Option<&str>, token: Option<String>) -> Result<HubClient> {
        let env_endpoint = std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty());
        let endpoint = env_endpoint
            .as_deref()
            .or(endpoint)
            .unwrap_or(DEFAULT_ENDPOINT);
        let token = resolve_token(&TokenSources::from_process(token)).map(|(token, _)| token);
        HubClient::new(endpoint, token)
    }

    /// The base URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let builder = self.http.request(method, url);
        match &self.token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Passes 2xx answers through and maps the others to typed errors.
    async fn check(response: Response, ctx: ErrCtx<'_>) -> Result<Response> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let code = header("x-error-code");
        let header_message = header("x-error-message");
        let url = response.url().to_string();
        let body = response.text().await.unwrap_or_default();
        let body_message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("error")
                    .map(|e| e.as_str().map(str::to_string).unwrap_or(e.to_string()))
            });
        let message = header_message
            .or(body_message)
            .unwrap_or_else(|| body.chars().take(300).collect());
        Err(match code.as_deref() {
            Some("RepoNotFound") | Some("GatedRepo") => {
                HubError::RepoNotFound(ctx.repo.to_string())
            }
            Some("RevisionNotFound") => HubError::RevisionNotFound {
                repo: ctx.repo.to_string(),
                revision: ctx.revision.to_string(),
            },
            Some("EntryNotFound") => HubError::EntryNotFound {
                repo: ctx.repo.to_string(),
                path: ctx.path.to_string(),
            },
            _ => HubError::Http {
                status: status.as_u16(),
                url,
                message,
            },
        })
    }

    /// Creates a model repo; with `exist_ok` an existing repo is not an error. Returns its URL.
    pub async fn create_repo(
        &self,
        repo_id: &str,
        private: bool,
        exist_ok: bool,
    ) -> Result<String> {
        self.create_repo_typed(RepoType::Model, repo_id, private, exist_ok)
            .await
    }

    /// [`HubClient::create_repo`] for a repo of either kind.
    pub async fn create_repo_typed(
        &self,
        repo_type: RepoType,
        repo_id: &str,
        private: bool,
        exist_ok: bool,
    ) -> Result<String> {
        let (namespace, name) = split_repo_id(repo_id)?;
        let body = json!({"name": name, "organization": namespace, "type": repo_type.as_str(),
                          "visibility": if private { "private" } else { "public" }});
        let url = format!("{}/api/repos/create", self.endpoint);
        let response = self.request(Method::POST, &url).json(&body).send().await?;
        let fallback = format!("{}/{}{repo_id}", self.endpoint, repo_type.url_prefix());
        if response.status() == reqwest::StatusCode::CONFLICT && exist_ok {
            return Ok(fallback);
        }
        let ctx = ErrCtx {
            repo: repo_id,
            ..Default::default()
        };
        let answer: serde_json::Value = Self::check(response, ctx).await?.json().await?;
        let repo_url = answer.get("url").and_then(|u| u.as_str());
        Ok(repo_url.map(str::to_string).unwrap_or(fallback))
    }

    /// Deletes a model repo and every revision of it.
    pub async fn delete_repo(&self, repo_id: &str) -> Result<()> {
        self.delete_repo_typed(RepoType::Model, repo_id).await
    }

    /// [`HubClient::delete_repo`] for a repo of either kind.
    pub async fn delete_repo_typed(&self, repo_type: RepoType, repo_id: &str) -> Result<()> {
        let (namespace, name) = split_repo_id(repo_id)?;
        let url = format!("{}/api/repos/delete", self.endpoint);
        let body = json!({"name": name, "organization": namespace, "type": repo_type.as_str()});
        let response = self
            .request(Method::DELETE, &url)
            .json(&body)
            .send()
            .await?;
        Self::check(
            response,
            ErrCtx {
                repo: repo_id,
                ..Default::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Makes a repo private or public.
    pub async fn set_visibility(&self, repo_id: &str, private: bool) -> Result<()> {
        split_repo_id(repo_id)?;
        let url = format!("{}/api/models/{repo_id}/settings", self.endpoint);
        let body = json!({"visibility": if private { "private" } else { "public" }});
        let response = self.request(Method::PUT, &url).json(&body).send().await?;
        Self::check(
            response,
            ErrCtx {
                repo: repo_id,
                ..Default::default()
            },
        )
        .await?;
        Ok(())
    }

    /// Repo info at `revision` (a branch or a commit id) with file sizes and digests.
    pub async fn repo_info(&self, repo_id: &str, revision: &str) -> Result<RepoInfo> {
        self.repo_info_typed(RepoType::Model, repo_id, revision)
            .await
    }

    /// [`HubClient::repo_info`] for a repo of either kind.
    pub async fn repo_info_typed(
        &self,
        repo_type: RepoType,
        repo_id: &str,
        revision: &str,
    ) -> Result<RepoInfo> {
        split_repo_id(repo_id)?;
        let url = format!(
            "{}/api/{}/{repo_id}/revision/{}?blobs=true",
            self.endpoint,
            repo_type.api_segment(),
            encode_segment(revision)
        );
        let response = self.request(Method::GET, &url).send().await?;
        let ctx = ErrCtx {
            repo: repo_id,
            revision,
            path: "",
        };
        let info: RepoInfo = Self::check(response, ctx)
            .await?
            .json()
            .await
            .map_err(|e| HubError::Protocol(format!("repo info of {repo_id}: {e}")))?;
        Ok(info)
    }

    /// Every file path of a revision, following the tree listing's `Link` pagination.
    pub async fn list_files(&self, repo_id: &str, revision: &str) -> Result<Vec<String>> {
        self.list_files_typed(RepoType::Model, repo_id, revision)
            .await
    }

    /// [`HubClient::list_files`] for a repo of either kind.
    pub async fn list_files_typed(
        &self,
        repo_type: RepoType,
        repo_id: &str,
        revision: &str,
    ) -> Result<Vec<String>> {
        split_repo_id(repo_id)?;
        let mut url = Some(format!(
            "{}/api/{}/{repo_id}/tree/{}?recursive=true&expand=false",
            self.endpoint,
            repo_type.api_segment(),
            encode_segment(revision)
        ));
        let mut files = Vec::new();
        let ctx = ErrCtx {
            repo: repo_id,
            revision,
            path: "",
        };
        while let Some(page_url) = url.take() {
            let response =
                Self::check(self.request(Method::GET, &page_url).send().await?, ctx).await?;
            url = response
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let entries: Vec<serde_json::Value> = response.json().await?;
            for entry in entries {
                if entry.get("type").and_then(|t| t.as_str()) == Some("file") {
                    if let Some(path) = entry.get("path").and_then(|p| p.as_str()) {
                        files.push(path.to_string());
                    }
                }
            }
        }
        Ok(files)
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_links() {
        assert_eq!(encode_segment("refs/pr/1"), "refs%2Fpr%2F1");
        assert_eq!(encode_path("sub dir/a+b.bin"), "sub%20dir/a%2Bb.bin");
        let link = "<http://h/api/models/a/b/tree/main?cursor=2>; rel=\"next\"";
        assert_eq!(
            next_link(link).as_deref(),
            Some("http://h/api/models/a/b/tree/main?cursor=2")
        );
        assert_eq!(next_link("<http://x>; rel=\"prev\""), None);
    }
}
