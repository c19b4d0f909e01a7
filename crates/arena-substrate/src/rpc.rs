//! Substrate's JSON-RPC methods in front of the embedded chain, merged with arena's own
//! (`arena_*`, [`arena_chain::rpc::module`]) and served over HTTP and WebSocket on one port.
//!
//! | method | params | result |
//! |---|---|---|
//! | `rpc_methods` | `[]` | `{"methods": [...]}` |
//! | `system_chain`, `system_name`, `system_version` | `[]` | string |
//! | `system_properties` | `[]` | `{"ss58Format": 42, "tokenDecimals": 9, "tokenSymbol": "TAO"}` |
//! | `system_accountNextIndex` (alias `account_nextIndex`) | `[ss58]` | next nonce |
//! | `chain_getBlockHash` | `[number?]` | hash or null |
//! | `chain_getHead`, `chain_getFinalizedHead` | `[]` | hash (every block is final at once) |
//! | `chain_getHeader` | `[hash?]` | header or null |
//! | `chain_getBlock` | `[hash?]` | `{"block": {"header", "extrinsics"}, "justifications": null}` or null |
//! | `chain_subscribeNewHeads`, `chain_subscribeFinalizedHeads` | `[]` | subscription: headers |
//! | `state_getRuntimeVersion` | `[hash?]` | runtime version |
//! | `state_getMetadata` | `[hash?]` | V14 metadata (V15 through `state_call`) |
//! | `state_call` | `[method, hex, hash?]` | hex |
//! | `state_getStorage`, `state_getStorageAt` | `[key, hash?]` | hex or null |
//! | `state_queryStorageAt` | `[[keys], hash?]` | `[{"block", "changes": [[key, value]]}]` |
//! | `state_getKeysPaged` | `[prefix, count ≤ 1000, start?, hash?]` | keys after `start` |
//! | `author_submitExtrinsic` | `[hex]` | hash |
//! | `author_submitAndWatchExtrinsic` | `[hex]` | subscription: `"ready"`, `{"inBlock"}`, `{"finalized"}` |
//!
//! Any other method is answered with JSON-RPC's "Method not found" (-32601). Errors use
//! Substrate's codes: 1010 invalid transaction (`data` says which: bad signature, outdated,
//! future, exhausts resources), 1002 verification error (undecodable), 4003 unknown block,
//! 4002 state_call failure, -32602 invalid parameters.

use std::net::SocketAddr;
use std::sync::Arc;

use arena_chain::rpc::RpcLimits;
use arena_chain::{BlockHash, BlockInfo, Chain, ChainError, LocalChain};
use jsonrpsee::server::{PendingSubscriptionSink, ServerHandle, SubscriptionMessage};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::RpcModule;
use serde_json::{json, Value};

use crate::extrinsic::{self, TxError};
use crate::metadata::{self, SPEC_NAME, SPEC_VERSION, TRANSACTION_VERSION};
use crate::runtime_api::{self, ApiError};
use crate::storage::{self, Reader};

/// Substrate's code for an invalid transaction.
pub const CODE_INVALID_TX: i32 = 1010;
/// Substrate's code for a transaction that does not decode.
pub const CODE_VERIFICATION: i32 = 1002;
/// Substrate's code for a failed runtime call.
pub const CODE_CALL: i32 = 4002;
/// Substrate's code for an unknown block.
pub const CODE_UNKNOWN_BLOCK: i32 = 4003;
/// Most keys one `state_getKeysPaged` or `state_queryStorageAt` answers (Substrate's cap).
pub const MAX_KEYS: usize = 1000;

type RpcResult = Result<Value, ErrorObjectOwned>;

fn err(code: i32, message: impl Into<String>, data: Option<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), data)
}

fn invalid_params(msg: impl Into<String>) -> ErrorObjectOwned {
    err(jsonrpsee::types::error::INVALID_PARAMS_CODE, msg, None)
}

fn internal(e: impl std::fmt::Display) -> ErrorObjectOwned {
    err(-32603, e.to_string(), None)
}

fn chain_err(e: ChainError) -> ErrorObjectOwned {
    arena_chain::rpc::to_rpc_error(&e)
}

fn tx_err(e: TxError) -> ErrorObjectOwned {
    let data = e.to_string();
    match e {
        TxError::Malformed(_) => err(
            CODE_VERIFICATION,
            "Verification Error: Runtime error: Execution failed: could not decode the extrinsic",
            Some(data),
        ),
        TxError::Oversize(_) => err(
            CODE_INVALID_TX,
            "Invalid Transaction",
            Some(format!(
                "Transaction would exhaust the block limits: {data}"
            )),
        ),
        TxError::BadProof => err(
            CODE_INVALID_TX,
            "Invalid Transaction",
            Some(format!("Transaction has a bad signature: {data}")),
        ),
        TxError::AncientBirthBlock { .. } => err(
            CODE_INVALID_TX,
            "Invalid Transaction",
            Some(format!("Transaction has an ancient birth block: {data}")),
        ),
        TxError::Unsupported(_) => err(CODE_INVALID_TX, "Invalid Transaction", Some(data)),
        TxError::Chain(ChainError::Stale { .. }) => err(
            CODE_INVALID_TX,
            "Invalid Transaction",
            Some(format!("Transaction is outdated: {data}")),
        ),
        TxError::Chain(ChainError::Future { .. }) => err(
            CODE_INVALID_TX,
            "Invalid Transaction",
            Some(format!("Transaction will be valid in the future: {data}")),
        ),
        TxError::Chain(e) => chain_err(e),
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn parse_hex(what: &str, text: &str) -> Result<Vec<u8>, ErrorObjectOwned> {
    let raw = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(raw).map_err(|e| invalid_params(format!("{what}: not hex: {e}")))
}

/// Positional parameters as JSON values (missing ones are `null`).
fn positional(params: &Params<'_>, max: usize) -> Result<Vec<Value>, ErrorObjectOwned> {
    if params.is_object() {
        return Err(invalid_params("expected positional parameters"));
    }
    let values: Vec<Value> = match params.as_str() {
        None => Vec::new(),
        Some(_) => params.parse()?,
    };
    if values.len() > max {
        return Err(invalid_params(format!(
            "at most {max} parameters, got {}",
            values.len()
        )));
    }
    Ok(values)
}

fn arg(values: &[Value], i: usize) -> &Value {
    values.get(i).unwrap_or(&Value::Null)
}

fn string_arg<'a>(values: &'a [Value], i: usize, what: &str) -> Result<&'a str, ErrorObjectOwned> {
    arg(values, i)
        .as_str()
        .ok_or_else(|| invalid_params(format!("{what}: expected a string")))
}

/// The block a `hash?` parameter names: the head for null; an unknown hash is error 4003.
async fn at_block(chain: &LocalChain, value: &Value) -> Result<BlockInfo, ErrorObjectOwned> {
    match value {
        Value::Null => head(chain).await,
        Value::String(text) => {
            let hash = BlockHash::from_hex(text).map_err(invalid_params)?;
            chain
                .block_by_hash(&hash)
                .map_err(chain_err)?
                .ok_or_else(|| {
                    err(
                        CODE_UNKNOWN_BLOCK,
                        format!("Client error: UnknownBlock: {text}"),
                        None,
                    )
                })
        }
        _ => Err(invalid_params("block hash: expected a hex string or null")),
    }
}

async fn head(chain: &LocalChain) -> Result<BlockInfo, ErrorObjectOwned> {
    chain
        .block(None)
        .await
        .map_err(chain_err)?
        .ok_or_else(|| internal("no head block"))
}

async fn block_at(chain: &LocalChain, number: u64) -> Result<Option<BlockInfo>, ErrorObjectOwned> {
    chain.block(Some(number)).await.map_err(chain_err)
}

/// A header as Substrate's JSON-RPC shows it.
fn header_json(chain: &LocalChain, number: u64) -> Result<Option<Value>, ErrorObjectOwned> {
    let Some(h) = chain.header(number).map_err(chain_err)? else {
        return Ok(None);
    };
    Ok(Some(json!({
        "parentHash": h.parent_hash.to_hex(),
        "number": format!("{:#x}", h.number),
        "stateRoot": hex0x(&h.state_root),
        "extrinsicsRoot": hex0x(&h.extrinsics_root),
        "digest": {"logs": []},
    })))
}

/// The runtime APIs in `state_getRuntimeVersion`'s form: `[blake2_64(trait name), version]`.
fn runtime_version() -> Value {
    let mut traits: Vec<String> = metadata::runtime_api_names()
        .into_iter()
        .filter_map(|n| n.split_once('_').map(|(t, _)| t.to_string()))
        .collect();
    traits.dedup();
    // Versions as Substrate numbers them where clients check: `Metadata` 2 has
    // `metadata_at_version`, `TransactionPaymentApi` 4 answers with weight v2.
    let version = |t: &str| match t {
        "Metadata" => 2,
        "TransactionPaymentApi" => 4,
        _ => 1,
    };
    let apis: Vec<Value> = traits
        .iter()
        .map(|t| {
            let id = sp_crypto_hashing::blake2_64(t.as_bytes());
            json!([hex0x(&id), version(t)])
        })
        .collect();
    json!({
        "specName": SPEC_NAME,
        "implName": SPEC_NAME,
        "authoringVersion": 1,
        "specVersion": SPEC_VERSION,
        "implVersion": 1,
        "apis": apis,
        "transactionVersion": TRANSACTION_VERSION,
        "stateVersion": 1,
    })
}

/// The Substrate method table for `chain`, with arena's own (`arena_*`) merged in.
pub fn module(chain: Arc<LocalChain>) -> Result<RpcModule<LocalChain>, ChainError> {
    let reg = |e: jsonrpsee::core::RegisterMethodError| ChainError::InvalidData {
        reason: e.to_string(),
    };
    let mut m = RpcModule::from_arc(chain.clone());

    m.register_method("system_chain", |_, c, _| -> RpcResult {
        Ok(json!(c.chain_name().map_err(chain_err)?))
    })
    .map_err(reg)?;
    m.register_method("system_name", |_, _, _| -> RpcResult { Ok(json!("arena")) })
        .map_err(reg)?;
    m.register_method("system_version", |_, _, _| -> RpcResult {
        Ok(json!(env!("CARGO_PKG_VERSION")))
    })
    .map_err(reg)?;
    m.register_method("system_properties", |_, _, _| -> RpcResult {
        Ok(json!({"ss58Format": metadata::SS58_PREFIX, "tokenDecimals": 9, "tokenSymbol": "TAO"}))
    })
    .map_err(reg)?;
    m.register_async_method("system_accountNextIndex", |p, c, _| async move {
        let values = positional(&p, 1)?;
        let who: arena_keys::PublicKey = string_arg(&values, 0, "account")?
            .parse()
            .map_err(|e| invalid_params(format!("account: {e}")))?;
        c.account_nonce(&who)
            .await
            .map(|n| json!(n))
            .map_err(chain_err)
    })
    .map_err(reg)?;
    m.register_alias("account_nextIndex", "system_accountNextIndex")
        .map_err(reg)?;

    m.register_async_method("chain_getBlockHash", |p, c, _| async move {
        let values = positional(&p, 1)?;
        let number = match arg(&values, 0) {
            Value::Null => return Ok(json!(head(&c).await?.hash)),
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| invalid_params("block number: expected an unsigned integer"))?,
            Value::String(s) => u64::from_str_radix(s.trim_start_matches("0x"), 16)
                .map_err(|e| invalid_params(format!("block number {s:?}: {e}")))?,
            _ => {
                return Err(invalid_params(
                    "block number: expected a number, hex string or null",
                ))
            }
        };
        Ok::<_, ErrorObjectOwned>(json!(block_at(&c, number).await?.map(|b| b.hash)))
    })
    .map_err(reg)?;
    m.register_async_method("chain_getHead", |_, c, _| async move {
        Ok::<_, ErrorObjectOwned>(json!(head(&c).await?.hash))
    })
    .map_err(reg)?;
    m.register_alias("chain_getFinalizedHead", "chain_getHead")
        .map_err(reg)?;
    m.register_async_method("chain_getHeader", |p, c, _| async move {
        let values = positional(&p, 1)?;
        let block = match arg(&values, 0) {
            Value::Null => head(&c).await?,
            v => match at_block(&c, v).await {
                Ok(b) => b,
                Err(e) if e.code() == CODE_UNKNOWN_BLOCK => return Ok(Value::Null),
                Err(e) => return Err(e),
            },
        };
        Ok::<_, ErrorObjectOwned>(header_json(&c, block.number)?.unwrap_or(Value::Null))
    })
    .map_err(reg)?;
    m.register_async_method("chain_getBlock", |p, c, _| async move {
        let values = positional(&p, 1)?;
        let block = match at_block(&c, arg(&values, 0)).await {
            Ok(b) => b,
            Err(e) if e.code() == CODE_UNKNOWN_BLOCK => return Ok(Value::Null),
            Err(e) => return Err(e),
        };
        let extrinsics: Vec<String> = extrinsic::block_bytes(&c, block.number)
            .map_err(chain_err)?
            .iter()
            .map(|b| hex0x(b))
            .collect();
        Ok::<_, ErrorObjectOwned>(json!({
            "block": {"header": header_json(&c, block.number)?, "extrinsics": extrinsics},
            "justifications": null,
        }))
    })
    .map_err(reg)?;
    for (sub, notif, unsub) in [
        (
            "chain_subscribeNewHeads",
            "chain_newHead",
            "chain_unsubscribeNewHeads",
        ),
        (
            "chain_subscribeFinalizedHeads",
            "chain_finalizedHead",
            "chain_unsubscribeFinalizedHeads",
        ),
    ] {
        m.register_subscription(sub, notif, unsub, |_, pending, c, _| async move {
            follow_heads(pending, c).await
        })
        .map_err(reg)?;
    }

    m.register_method("state_getRuntimeVersion", |_, _, _| -> RpcResult {
        Ok(runtime_version())
    })
    .map_err(reg)?;
    m.register_method("state_getMetadata", |_, _, _| -> RpcResult {
        Ok(json!(hex0x(&metadata::encoded().v14)))
    })
    .map_err(reg)?;
    m.register_async_method("state_call", |p, c, _| async move {
        let values = positional(&p, 3)?;
        let method = string_arg(&values, 0, "method")?.to_string();
        let data = match arg(&values, 1) {
            Value::Null => Vec::new(),
            Value::String(s) => parse_hex("call data", s)?,
            _ => return Err(invalid_params("call data: expected hex")),
        };
        at_block(&c, arg(&values, 2)).await?;
        match runtime_api::call(&c, &method, &data).await {
            Ok(bytes) => Ok(json!(hex0x(&bytes))),
            Err(ApiError::Chain(e)) => Err(chain_err(e)),
            Err(e) => Err(err(
                CODE_CALL,
                format!("Client error: Execution failed: {e}"),
                None,
            )),
        }
    })
    .map_err(reg)?;
    m.register_async_method("state_getStorage", |p, c, _| async move {
        let values = positional(&p, 2)?;
        let key = parse_hex("storage key", string_arg(&values, 0, "storage key")?)?;
        let block = at_block(&c, arg(&values, 1)).await?;
        read_value(&c, block, &key)
            .await
            .map(|v| json!(v.map(|b| hex0x(&b))))
    })
    .map_err(reg)?;
    m.register_alias("state_getStorageAt", "state_getStorage")
        .map_err(reg)?;
    m.register_async_method("state_queryStorageAt", |p, c, _| async move {
        let values = positional(&p, 2)?;
        let keys = arg(&values, 0)
            .as_array()
            .ok_or_else(|| invalid_params("keys: expected an array"))?;
        if keys.len() > MAX_KEYS {
            return Err(invalid_params(format!(
                "at most {MAX_KEYS} keys, got {}",
                keys.len()
            )));
        }
        let block = at_block(&c, arg(&values, 1)).await?;
        let mut changes = Vec::with_capacity(keys.len());
        for k in keys {
            let text = k
                .as_str()
                .ok_or_else(|| invalid_params("keys: expected hex strings"))?;
            let key = parse_hex("storage key", text)?;
            let value = read_value(&c, block.clone(), &key).await?;
            changes.push(json!([hex0x(&key), value.map(|b| hex0x(&b))]));
        }
        Ok::<_, ErrorObjectOwned>(json!([{"block": block.hash, "changes": changes}]))
    })
    .map_err(reg)?;
    m.register_async_method("state_getKeysPaged", |p, c, _| async move {
        let values = positional(&p, 4)?;
        let prefix = parse_hex("prefix", string_arg(&values, 0, "prefix")?)?;
        let count = arg(&values, 1)
            .as_u64()
            .ok_or_else(|| invalid_params("count: expected a number"))?
            as usize;
        if count > MAX_KEYS {
            return Err(invalid_params(format!("count {count} is over {MAX_KEYS}")));
        }
        let start = match arg(&values, 2) {
            Value::Null => None,
            Value::String(s) => Some(parse_hex("start key", s)?),
            _ => return Err(invalid_params("start key: expected hex or null")),
        };
        let block = at_block(&c, arg(&values, 3)).await?;
        // A prefix that is not an item's (partial) key lists nothing.
        let keys = match storage::parse_prefix(&prefix) {
            Some((spec, parts)) => Reader { chain: &c, block }
                .keys(spec, &parts)
                .await
                .map_err(chain_err)?,
            None => Vec::new(),
        };
        let page: Vec<String> = keys
            .into_iter()
            .filter(|k| k.starts_with(&prefix))
            .filter(|k| start.as_ref().is_none_or(|s| k > s))
            .take(count)
            .map(|k| hex0x(&k))
            .collect();
        Ok::<_, ErrorObjectOwned>(json!(page))
    })
    .map_err(reg)?;

    m.register_async_method("author_submitExtrinsic", |p, c, _| async move {
        let values = positional(&p, 1)?;
        let bytes = parse_hex("extrinsic", string_arg(&values, 0, "extrinsic")?)?;
        let done = extrinsic::submit(&c, &bytes).await.map_err(tx_err)?;
        Ok::<_, ErrorObjectOwned>(json!(hex0x(&done.hash)))
    })
    .map_err(reg)?;
    m.register_subscription(
        "author_submitAndWatchExtrinsic",
        "author_extrinsicUpdate",
        "author_unwatchExtrinsic",
        |p, pending, c, _| async move { watch_extrinsic(p, pending, c).await },
    )
    .map_err(reg)?;

    m.merge(arena_chain::rpc::module(chain)?).map_err(reg)?;
    let mut names: Vec<String> = m.method_names().map(str::to_string).collect();
    names.push("rpc_methods".to_string());
    names.sort();
    m.register_method("rpc_methods", move |_, _, _| -> RpcResult {
        Ok(json!({"version": 1, "methods": names}))
    })
    .map_err(reg)?;
    Ok(m)
}

async fn read_value(
    chain: &LocalChain,
    block: BlockInfo,
    key: &[u8],
) -> Result<Option<Vec<u8>>, ErrorObjectOwned> {
    let Some((spec, parts)) = storage::parse(key) else {
        return Ok(None);
    };
    Reader { chain, block }
        .value(spec, &parts)
        .await
        .map_err(chain_err)
}

/// Sends the head, then every produced block's header, until the client unsubscribes.
async fn follow_heads(
    pending: PendingSubscriptionSink,
    chain: Arc<LocalChain>,
) -> jsonrpsee::core::SubscriptionResult {
    let mut heads = chain.watch_heads();
    let sink = pending.accept().await?;
    let mut last = None;
    loop {
        let number = heads.borrow_and_update().number;
        // Blocks produced between two wake-ups are each sent, in order.
        let from = last.map_or(number, |l: u64| l + 1);
        for n in from..=number {
            let header = header_json(&chain, n).map_err(|e| e.message().to_string())?;
            if let Some(h) = header {
                sink.send(SubscriptionMessage::from_json(&h)?).await?;
            }
        }
        last = Some(number);
        tokio::select! {
            changed = heads.changed() => if changed.is_err() { return Ok(()) },
            _ = sink.closed() => return Ok(()),
        }
    }
}

/// Submits, then reports `ready`, `inBlock` and `finalized` (the same block: finality is
/// instant on this chain). A refused extrinsic is refused in the subscription call itself.
async fn watch_extrinsic(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    chain: Arc<LocalChain>,
) -> jsonrpsee::core::SubscriptionResult {
    let values = match positional(&params, 1) {
        Ok(v) => v,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let bytes = match string_arg(&values, 0, "extrinsic").and_then(|s| parse_hex("extrinsic", s)) {
        Ok(b) => b,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let mut heads = chain.watch_heads();
    let done = match extrinsic::submit(&chain, &bytes).await {
        Ok(d) => d,
        Err(e) => {
            pending.reject(tx_err(e)).await;
            return Ok(());
        }
    };
    let sink = pending.accept().await?;
    sink.send(SubscriptionMessage::from_json(&"ready")?).await?;
    let hash = loop {
        let head = heads.borrow_and_update().clone();
        if head.number >= done.block {
            let block = block_at(&chain, done.block)
                .await
                .map_err(|e| e.message().to_string())?;
            // A block whose production failed was discarded with its extrinsics: then the
            // block of that number does not hold this one, and it is reported dropped.
            let holds = extrinsic::block_bytes(&chain, done.block)
                .map_err(|e| e.to_string())?
                .get(done.index as usize)
                .is_some_and(|b| arena_chain::extrinsic::blake2_256(&[b]) == done.hash);
            break block.filter(|_| holds).map(|b| b.hash);
        }
        tokio::select! {
            changed = heads.changed() => if changed.is_err() { return Ok(()) },
            _ = sink.closed() => return Ok(()),
        }
    };
    let Some(hash) = hash else {
        sink.send(SubscriptionMessage::from_json(&json!({"dropped": null}))?)
            .await?;
        return Ok(());
    };
    sink.send(SubscriptionMessage::from_json(&json!({"inBlock": hash}))?)
        .await?;
    sink.send(SubscriptionMessage::from_json(&json!({"finalized": hash}))?)
        .await?;
    Ok(())
}

/// Serves `chain` on `addr`: Substrate's methods and arena's own, HTTP and WebSocket, within
/// the chain server's default limits.
pub async fn serve(
    chain: Arc<LocalChain>,
    addr: SocketAddr,
) -> Result<(SocketAddr, ServerHandle), ChainError> {
    arena_chain::rpc::serve_methods(module(chain)?, addr, RpcLimits::default()).await
}
