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
//! | `chain_getBlockNumber` | `[]` | u64 |
//! | `chain_getBlockHash` | `[number?]` | hex or null |
//! | `chain_getBlock` | `[number?]` | [`crate::BlockInfo`] or null |
//! | `chain_getGenesisHash` | `[]` | hex |
//! | `subnet_list` | `[]` | `[netuid]` |
//! | `subnet_info` | `[netuid]` | [`crate::SubnetInfo`] |
//! | `subnet_hyperparameters` | `[netuid]` | [`crate::Hyperparameters`] |
//! | `subnet_metagraph` | `[netuid]` | [`crate::Metagraph`] |
//! | `subnet_weights` | `[netuid]` | `[WeightRow]` |
//! | `subnet_bonds` | `[netuid]` | `[WeightRow]` (bond rows) |
//! | `commitments_get` | `[netuid, hotkey_ss58]` | [`crate::Commitment`] or null |
//! | `commitments_all` | `[netuid]` | `[Commitment]` |
//! | `system_accountNextIndex` | `[ss58]` | u64 |
//! | `author_submitExtrinsic` | `[SignedExtrinsic]` | [`crate::Receipt`] |

use std::net::SocketAddr;
use std::sync::Arc;

use arena_keys::PublicKey;
use jsonrpsee::server::{Server, ServerHandle};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
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
    text.parse()
        .map_err(|e| invalid_params(format!("account {text:?}: {e}")))
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
    m.register_blocking_method("chain_getBlockNumber", |_, c, _| {
        reply(block_on(c.block_number()))
    })
    .map_err(reg)?;
    m.register_blocking_method("chain_getBlockHash", |p, c, _| {
        let n = optional_number(&p)?;
        reply(block_on(c.block_hash(n)))
    })
    .map_err(reg)?;
    m.register_blocking_method("chain_getBlock", |p, c, _| {
        let n = optional_number(&p)?;
        reply(block_on(c.block(n)))
    })
    .map_err(reg)?;
    m.register_blocking_method("chain_getGenesisHash", |_, c, _| {
        reply(Ok::<_, ChainError>(c.genesis()))
    })
    .map_err(reg)?;
    m.register_blocking_method("subnet_list", |_, c, _| reply(block_on(c.subnets())))
        .map_err(reg)?;
    m.register_blocking_method("subnet_info", |p, c, _| {
        reply(block_on(c.subnet(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("subnet_hyperparameters", |p, c, _| {
        reply(block_on(c.hyperparameters(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("subnet_metagraph", |p, c, _| {
        reply(block_on(c.metagraph(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("subnet_weights", |p, c, _| {
        reply(block_on(c.weights(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("subnet_bonds", |p, c, _| {
        reply(block_on(c.bonds(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("commitments_get", |p, c, _| {
        let (netuid, hotkey): (NetUid, String) = p.parse()?;
        let hotkey = parse_key(&hotkey)?;
        reply(block_on(c.commitment(netuid, &hotkey)))
    })
    .map_err(reg)?;
    m.register_blocking_method("commitments_all", |p, c, _| {
        reply(block_on(c.commitments(one_netuid(&p)?)))
    })
    .map_err(reg)?;
    m.register_blocking_method("system_accountNextIndex", |p, c, _| {
        let (account,): (String,) = p.parse()?;
        let account = parse_key(&account)?;
        reply(block_on(c.account_nonce(&account)))
    })
    .map_err(reg)?;
    m.register_blocking_method("author_submitExtrinsic", |p, c, _| {
        let (ext,): (SignedExtrinsic,) = p.parse()?;
        reply(c.submit(ext))
    })
    .map_err(reg)?;
    Ok(m)
}

/// Serves `chain` on `addr` until the handle is stopped. Returns the bound address (useful
/// with port 0) and the server handle.
pub async fn serve(
    chain: Arc<LocalChain>,
    addr: SocketAddr,
) -> Result<(SocketAddr, ServerHandle), ChainError> {
    let server = Server::builder()
        .http_only()
        .max_request_body_size(1 << 20)
        .build(addr)
        .await
        .map_err(|e| ChainError::Transport {
            reason: format!("binding {addr}: {e}"),
        })?;
    let bound = server.local_addr().map_err(|e| ChainError::Transport {
        reason: format!("local address: {e}"),
    })?;
    let handle = server.start(module(chain)?);
    tracing::info!(%bound, "chain JSON-RPC listening");
    Ok((bound, handle))
}
