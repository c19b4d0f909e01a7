//! [`RowsApi`] over the network: arena-hub's datasets-server client, which talks to
//! `https://datasets-server.huggingface.co` or to the root of any `arena hub serve`.
//!
//! The client retries 429 and 5xx answers itself (SN37's back-off); what still fails is
//! reported here as the loaders expect it: a rate limit as [`HubError::RateLimited`] (the draw
//! stops and its task is skipped), anything else as an error after which the source tries
//! another page.

use arena_hub::datasets_server::{DatasetsServerClient, DatasetsServerError};
use async_trait::async_trait;

use super::{HubError, HubRow, RowsApi, SplitRows};
use crate::error::DataError;

fn hub_error(dataset: &str, err: DatasetsServerError) -> DataError {
    let dataset = dataset.to_string();
    let reason = err.to_string();
    let err = match err {
        DatasetsServerError::RateLimited { .. } => HubError::RateLimited {
            dataset,
            retry_after_secs: None,
        },
        DatasetsServerError::Status { status, .. } if (400..500).contains(&status) => {
            HubError::Unusable { dataset, reason }
        }
        DatasetsServerError::Decode { .. } | DatasetsServerError::TooLarge { .. } => {
            HubError::Malformed { dataset, reason }
        }
        DatasetsServerError::Status { .. }
        | DatasetsServerError::Transport { .. }
        | DatasetsServerError::Client(_) => HubError::Unavailable { dataset, reason },
    };
    err.into()
}

#[async_trait]
impl RowsApi for DatasetsServerClient {
    async fn splits(&self, dataset: &str) -> Result<Vec<SplitRows>, DataError> {
        let size = self
            .size(dataset)
            .await
            .map_err(|e| hub_error(dataset, e))?;
        Ok(size
            .size
            .splits
            .into_iter()
            .map(|s| SplitRows {
                config: s.config,
                split: s.split,
                num_rows: s.num_rows,
            })
            .collect())
    }

    async fn rows(
        &self,
        dataset: &str,
        config: &str,
        split: &str,
        offset: u64,
        length: u32,
    ) -> Result<Vec<HubRow>, DataError> {
        let page = DatasetsServerClient::rows(self, dataset, config, split, offset, length.into())
            .await
            .map_err(|e| hub_error(dataset, e))?;
        Ok(page.rows)
    }
}
