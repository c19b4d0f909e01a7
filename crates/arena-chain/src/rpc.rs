//! JSON-RPC 2.0 over HTTP (jsonrpsee) in front of a [`LocalChain`].
//!
//! Parameters are positional arrays. Malformed requests get the standard codes: -32700 parse
//! error, -32600 invalid request, -32601 unknown method, -32602 wrong parameters. Chain
//! errors carry the serialised [`ChainError`] in `data` (its `error` field is the subtensor
//! error name) with code 1010 for transaction-validity errors (Substrate's "Invalid
//! Transaction" code), 1011 for dispatch errors, 1012 for missing items and -32603 for
//! storage faults.
//!
//! | method | params | result |
//! |---|---|---|
//! | `arena_blockNumber` | `[]` | u64 |
//! | `arena_blockHash` | `[number?]` | hex or null |
//! | `arena_block` | `[number?]` | [`crate::BlockInfo`] or null |
//! | `arena_genesisHash` | `[]` | hex |
//! | `arena_subnets` | `[]` | `[netuid]` |
//! | `arena_subnetInfo` | `[netuid]` | [`crate::SubnetInfo`] |
//! | `arena_hyperparameters` | `[netuid]` | [`crate::Hyperparameters`] |
//! | `arena_metagraph` | `[netuid]` | [`crate::Metagraph`] |
//! | `arena_weights` | `[netuid]` | `[WeightRow]` |
//! | `arena_bonds` | `[netuid]` | `[WeightRow]` (bond rows) |
//! | `arena_commitment` | `[netuid, hotkey_ss58]` | [`crate::Commitment`] or null |
//! | `arena_commitments` | `[netuid]` | `[Commitment]` |
//! | `arena_accountNextIndex` | `[ss58]` | u64 |
//! | `arena_submitExtrinsic` | `[SignedExtrinsic]` | [`crate::Receipt`] |

use std::net::SocketAddr;
use std::sync::Arc;

use arena_keys::PublicKey;
use jsonrpsee::server::{
    stop_channel, BatchRequestConfig, RandomStringIdProvider, Server, ServerHandle,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{Methods, RpcModule};
use serde::Serialize;
use serde_json::Value;

use crate::chain::Chain;
use crate::error::ChainError;
use crate::extrinsic::SignedExtrinsic;
use crate::local::LocalChain;
use crate::types::{BlockNumber, NetUid};

/// JSON-RPC code for transaction-validity errors (bad signature, nonce).
pub const CODE_INVALID_TRANSACTION: i32 = 1010;
/// JSON-RPC code for dispatch errors (the call's own checks).
pub const CODE_DISPATCH: i32 = 1011;
/// JSON-RPC code for a missing subnet or block.
pub const CODE_NOT_FOUND: i32 = 1012;
/// JSON-RPC code for internal faults.
pub const CODE_INTERNAL: i32 = -32603;

/// Maps a chain error to a JSON-RPC error object carrying the error itself in `data`.
pub fn to_rpc_error(err: &ChainError) -> ErrorObjectOwned {
    let code = match err {
        ChainError::BadProof { .. } | ChainError::Stale { .. } | ChainError::Future { .. } => {
            CODE_INVALID_TRANSACTION
        }
        ChainError::SubnetNotExists { .. } | ChainError::BlockNotFound { .. } => CODE_NOT_FOUND,
        ChainError::Storage { .. }
        | ChainError::Transport { .. }
        | ChainError::Rpc { .. }
        | ChainError::InvalidData { .. } => CODE_INTERNAL,
        _ => CODE_DISPATCH,
    };
    ErrorObjectOwned::owned(code, err.to_string(), serde_json::to_value(err).ok())
}

type RpcResult = Result<Value, ErrorObjectOwned>;

fn reply<T: Serialize>(value: Result<T, ChainError>) -> RpcResult {
    let value = value.map_err(|e| to_rpc_error(&e))?;
    serde_json::to_value(value).map_err(|e| {
        to_rpc_error(&ChainError::InvalidData {
            reason: e.to_string(),
        })
    })
}

fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        jsonrpsee::types::error::INVALID_PARAMS_CODE,
        msg.into(),
        None::<()>,
    )
}

fn parse_key(text: &str) -> Result<PublicKey, ErrorObjectOwned> {
    // The key's own error names the (shortened) text.
    text.parse()
        .map_err(|e| invalid_params(format!("account: {e}")))
}

fn one_netuid(params: &Params<'_>) -> Result<NetUid, ErrorObjectOwned> {
    let (netuid,): (NetUid,) = params.parse()?;
    Ok(netuid)
}

fn optional_number(params: &Params<'_>) -> Result<Option<BlockNumber>, ErrorObjectOwned> {
    if params.is_object() {
        return Err(invalid_params("expected positional parameters"));
    }
    let mut seq = params.sequence();
    let number: Option<BlockNumber> = seq.optional_next()?;
    Ok(number)
}

/// Runs an async chain call to completion on the blocking thread the method runs on.
fn block_on<T>(fut: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Handle::current().block_on(fut)
}

/// Builds the method table for `chain`.
pub fn module(chain: Arc<LocalChain>) -> Result<RpcModule<LocalChain>, ChainError> {
    let mut m = RpcModule::from_arc(chain);
    let reg = |e: jsonrpsee::core::RegisterMethodError| ChainError::InvalidData {
        reason: e.to_string(),
    };
    m.register_blocking_method("arena_blockNumber", |_, c, _| {
        reply(block_on(c.block_number()))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_blockHash", |p, c, _| {
        let n = optional_number(&p)?;
        reply(block_on(c.block_hash(n)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_block", |p, c, _| {
        let n = optional_number(&p)?;
        reply(block_on(c.block(n)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_genesisHash", |_, c, _| {
        reply(Ok::<_, ChainError>(c.genesis()))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_subnets", |_, c, _| reply(block_on(c.subnets())))
        .map_err(reg)?;
    m.register_blocking_method("arena_subnetInfo", |p, c, _| {
        reply(block_on(c.subnet(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_hyperparameters", |p, c, _| {
        reply(block_on(c.hyperparameters(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_metagraph", |p, c, _| {
        reply(block_on(c.metagraph(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_weights", |p, c, _| {
        reply(block_on(c.weights(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_bonds", |p, c, _| {
        reply(block_on(c.bonds(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_commitment", |p, c, _| {
        let (netuid, hotkey): (NetUid, String) = p.parse()?;
        let hotkey = parse_key(&hotkey)?;
        reply(block_on(c.commitment(netuid, &hotkey)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_commitments", |p, c, _| {
        reply(block_on(c.commitments(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_accountNextIndex", |p, c, _| {
        let (account,): (String,) = p.parse()?;
        let account = parse_key(&account)?;
        reply(block_on(c.account_nonce(&account)))
    })
    .map_err(reg)?;
    m.register_blocking_method("arena_submitExtrinsic", |p, c, _| {
        let (ext,): (SignedExtrinsic,) = p.parse()?;
        reply(c.submit(ext))
    })
    .map_err(reg)?;
    Ok(m)
}

/// Limits of the JSON-RPC server: the connection limits shared by every server of the
/// workspace, and jsonrpsee's own request, response and batch bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RpcLimits {
    /// Timeouts, connection limit and request size ([`arena_net::Limits`]).
    pub net: arena_net::Limits,
    /// Most calls in one batch (a larger batch is answered with one error).
    pub max_batch: u32,
    /// Largest answer, in bytes (a single call or a whole batch).
    pub max_response_bytes: u32,
    /// Most open subscriptions (new heads, watched extrinsics) on one WebSocket connection.
    pub max_subscriptions: u32,
}

impl Default for RpcLimits {
    /// 1 MiB requests answered within 30 s, batches of up to 64 calls, 16 MiB answers, 64
    /// subscriptions per WebSocket connection, and
    /// [`arena_net::Limits`]' connection limit and timeouts.
    fn default() -> Self {
        RpcLimits {
            net: arena_net::Limits {
                max_body_bytes: Some(1 << 20),
                request_timeout: Some(std::time::Duration::from_secs(30)),
                ..arena_net::Limits::default()
            },
            max_batch: 64,
            max_response_bytes: 16 << 20,
            max_subscriptions: 64,
        }
    }
}

/// Serves `chain` on `addr` until the handle is stopped (or dropped). Returns the bound
/// address (useful with port 0) and the server handle.
pub async fn serve(
    chain: Arc<LocalChain>,
    addr: SocketAddr,
) -> Result<(SocketAddr, ServerHandle), ChainError> {
    serve_with(chain, addr, RpcLimits::default()).await
}

/// [`serve`] within `limits`.
pub async fn serve_with(
    chain: Arc<LocalChain>,
    addr: SocketAddr,
    limits: RpcLimits,
) -> Result<(SocketAddr, ServerHandle), ChainError> {
    serve_methods(module(chain)?, addr, limits).await
}

/// Serves any method table (arena's own, merged with another front end's) on `addr` within
/// `limits`: JSON-RPC over HTTP POST and over WebSocket on the same port, as a Substrate node
/// serves its 9944. Returns the bound address and the server handle.
pub async fn serve_methods(
    methods: impl Into<Methods>,
    addr: SocketAddr,
    limits: RpcLimits,
) -> Result<(SocketAddr, ServerHandle), ChainError> {
    let transport = |what: &str, e: std::io::Error| ChainError::Transport {
        reason: format!("{what} {addr}: {e}"),
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| transport("binding", e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| transport("local address of", e))?;
    let body_cap = limits.net.max_body_bytes.unwrap_or(1 << 20);
    let (stop, handle) = stop_channel();
    let service = Server::builder()
        // Subscription ids as Substrate nodes give them (random strings).
        .set_id_provider(RandomStringIdProvider::new(16))
        .max_request_body_size(u32::try_from(body_cap).unwrap_or(u32::MAX))
        .max_response_body_size(limits.max_response_bytes)
        .max_connections(u32::try_from(limits.net.max_connections).unwrap_or(u32::MAX))
        .max_subscriptions_per_connection(limits.max_subscriptions)
        .set_batch_request_config(BatchRequestConfig::Limit(limits.max_batch))
        .to_service_builder()
        .build(methods, stop.clone());
    tokio::spawn(async move {
        let shutdown = stop.shutdown();
        if let Err(err) = arena_net::serve_service(listener, service, limits.net, shutdown).await {
            tracing::error!(%err, "chain JSON-RPC server failed");
        }
    });
    tracing::info!(%bound, "chain JSON-RPC listening (HTTP and WebSocket)");
    Ok((bound, handle))
}
