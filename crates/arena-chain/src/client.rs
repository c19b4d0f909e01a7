//! `ChainClient`: the [`Chain`] trait over JSON-RPC, for processes that talk to
//! `arena chain serve`. Extrinsics are signed here, with the server's genesis hash and the
//! account's next nonce, and only the signed extrinsic travels.

use std::time::Duration;

use arena_keys::{Keypair, PublicKey};
use async_trait::async_trait;
use jsonrpsee::core::client::{ClientT, Error as RpcClientError};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee_http_client::{HttpClient, HttpClientBuilder};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;

use crate::chain::Chain;
use crate::error::{ChainError, ChainResult};
use crate::extrinsic::{Call, SignedExtrinsic};
use crate::types::{
    BlockHash, BlockInfo, BlockNumber, Commitment, Hyperparameters, Metagraph, NetUid, Receipt,
    SubnetInfo, WeightRow,
};

/// A JSON-RPC client of a chain service.
pub struct ChainClient {
    url: String,
    http: HttpClient,
    genesis: OnceCell<BlockHash>,
}

impl ChainClient {
    /// A client of the service at `url` (`http://127.0.0.1:9944`). Does not connect yet.
    pub fn new(url: &str) -> ChainResult<Self> {
        let http = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(30))
            .build(url)
            .map_err(|e| ChainError::Transport {
                reason: format!("{url}: {e}"),
            })?;
        Ok(ChainClient {
            url: url.to_string(),
            http,
            genesis: OnceCell::new(),
        })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Calls `method` with positional `params`, mapping errors back to [`ChainError`].
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        params: Vec<serde_json::Value>,
    ) -> ChainResult<T> {
        let mut array = ArrayParams::new();
        for p in params {
            array.insert(p).map_err(|e| ChainError::InvalidData {
                reason: format!("{method} parameters: {e}"),
            })?;
        }
        self.http
            .request(method, array)
            .await
            .map_err(|e| self.map_error(method, e))
    }

    fn map_error(&self, method: &str, err: RpcClientError) -> ChainError {
        match err {
            RpcClientError::Call(obj) => obj
                .data()
                .and_then(|d| serde_json::from_str::<ChainError>(d.get()).ok())
                .unwrap_or_else(|| ChainError::Rpc {
                    code: obj.code(),
                    message: format!("{method}: {}", obj.message()),
                }),
            RpcClientError::ParseError(e) => ChainError::InvalidData {
                reason: format!("{method} response from {}: {e}", self.url),
            },
            other => ChainError::Transport {
                reason: format!("{method} at {}: {other}", self.url),
            },
        }
    }

    /// Submits an already signed extrinsic.
    pub async fn submit(&self, ext: &SignedExtrinsic) -> ChainResult<Receipt> {
        self.call("arena_submitExtrinsic", vec![json(ext)?]).await
    }

    async fn sign_and_submit(&self, keypair: &Keypair, call: Call) -> ChainResult<Receipt> {
        let genesis = self.genesis_hash().await?;
        let nonce = self.account_nonce(&keypair.public()).await?;
        self.submit(&SignedExtrinsic::sign(&genesis, keypair, nonce, call)?)
            .await
    }
}

fn json<T: Serialize>(value: &T) -> ChainResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| ChainError::InvalidData {
        reason: e.to_string(),
    })
}

fn opt_number(number: Option<BlockNumber>) -> Vec<serde_json::Value> {
    number.map(serde_json::Value::from).into_iter().collect()
}

#[async_trait]
impl Chain for ChainClient {
    async fn block_number(&self) -> ChainResult<BlockNumber> {
        self.call("arena_blockNumber", vec![]).await
    }

    async fn block_hash(&self, number: Option<BlockNumber>) -> ChainResult<Option<BlockHash>> {
        self.call("arena_blockHash", opt_number(number)).await
    }

    async fn block(&self, number: Option<BlockNumber>) -> ChainResult<Option<BlockInfo>> {
        self.call("arena_block", opt_number(number)).await
    }

    async fn genesis_hash(&self) -> ChainResult<BlockHash> {
        self.genesis
            .get_or_try_init(|| self.call("arena_genesisHash", vec![]))
            .await
            .copied()
    }

    async fn subnets(&self) -> ChainResult<Vec<NetUid>> {
        self.call("arena_subnets", vec![]).await
    }

    async fn subnet(&self, netuid: NetUid) -> ChainResult<SubnetInfo> {
        self.call("arena_subnetInfo", vec![netuid.into()]).await
    }

    async fn hyperparameters(&self, netuid: NetUid) -> ChainResult<Hyperparameters> {
        self.call("arena_hyperparameters", vec![netuid.into()])
            .await
    }

    async fn metagraph(&self, netuid: NetUid) -> ChainResult<Metagraph> {
        self.call("arena_metagraph", vec![netuid.into()]).await
    }

    async fn commitment(
        &self,
        netuid: NetUid,
        hotkey: &PublicKey,
    ) -> ChainResult<Option<Commitment>> {
        self.call(
            "arena_commitment",
            vec![netuid.into(), hotkey.ss58().into()],
        )
        .await
    }

    async fn commitments(&self, netuid: NetUid) -> ChainResult<Vec<Commitment>> {
        self.call("arena_commitments", vec![netuid.into()]).await
    }

    async fn weights(&self, netuid: NetUid) -> ChainResult<Vec<WeightRow>> {
        self.call("arena_weights", vec![netuid.into()]).await
    }

    async fn bonds(&self, netuid: NetUid) -> ChainResult<Vec<WeightRow>> {
        self.call("arena_bonds", vec![netuid.into()]).await
    }

    async fn account_nonce(&self, account: &PublicKey) -> ChainResult<u64> {
        self.call("arena_accountNextIndex", vec![account.ss58().into()])
            .await
    }

    async fn submit_call(&self, signer: &Keypair, call: Call) -> ChainResult<Receipt> {
        self.sign_and_submit(signer, call).await
    }
}
