//! [`Subtensor`]: a connection to a Subtensor node, its reads and signed writes, and the
//! [`Chain`] implementation that lets miners, validators, the data feed and the leaderboard
//! run on it unchanged.

use std::sync::Arc;
use std::time::Duration;

use arena_chain::{
    BlockHash, BlockInfo, BlockNumber, Call, Chain, ChainError, ChainResult, Commitment,
    Hyperparameters, Metagraph, NetUid, NeuronInfo, Receipt, SubnetInfo, WeightRow,
};
use arena_keys::{Keypair, PublicKey};
use serde_json::{json, Value as Json};
use tokio::sync::Mutex;

use crate::calls::SubtensorCall;
use crate::error::{Error, Result};
use crate::events::{self, ExtrinsicOutcome};
use crate::meta::{decode_metadata, Runtime};
use crate::rpc::Rpc;
use crate::tx::{self, Era, TxParams};
use crate::value::{decode_all, Value};
use crate::weights::{reveal_round, DrandQuicknet, WeightsSealer};

/// finney's public entrypoint.
pub const FINNEY: &str = "wss://entrypoint-finney.opentensor.ai:443";
/// The public testnet.
pub const TESTNET: &str = "wss://test.finney.opentensor.ai:443";

/// How a [`Subtensor`] client behaves.
#[derive(Clone)]
pub struct Options {
    /// Limit on every JSON-RPC request.
    pub request_timeout: Duration,
    /// How long to wait for a submitted extrinsic to be included (or finalized).
    pub inclusion_timeout: Duration,
    /// Wait for finality instead of inclusion.
    pub wait_for_finality: bool,
    /// Era period of signed transactions; 0 = immortal.
    pub mortal_period: u64,
    /// Timelock encryption of weights for subnets with commit-reveal on (default: drand
    /// quicknet, [`DrandQuicknet`]; `None` refuses to set weights on such subnets).
    pub sealer: Option<Arc<dyn WeightsSealer>>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            request_timeout: Duration::from_secs(30),
            inclusion_timeout: Duration::from_secs(120),
            wait_for_finality: false,
            mortal_period: 64,
            sealer: Some(Arc::new(DrandQuicknet)),
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("request_timeout", &self.request_timeout)
            .field("inclusion_timeout", &self.inclusion_timeout)
            .field("wait_for_finality", &self.wait_for_finality)
            .field("mortal_period", &self.mortal_period)
            .field("sealer", &self.sealer.is_some())
            .finish()
    }
}

/// A client of one Subtensor node.
pub struct Subtensor {
    rpc: Rpc,
    runtime: Mutex<Option<Runtime>>,
    genesis: Mutex<Option<[u8; 32]>>,
    options: Options,
}

impl std::fmt::Debug for Subtensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subtensor")
            .field("url", &self.rpc.url())
            .finish()
    }
}

fn parse_hash(method: &str, v: &Json) -> Result<[u8; 32]> {
    let text = v.as_str().ok_or_else(|| Error::Response {
        method: method.into(),
        reason: format!("expected a hash string, got {}", short(v)),
    })?;
    let bytes = parse_hex(method, text)?;
    bytes.try_into().map_err(|_| Error::Response {
        method: method.into(),
        reason: "a hash is 32 bytes".into(),
    })
}

fn parse_hex(method: &str, text: &str) -> Result<Vec<u8>> {
    let raw = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(raw).map_err(|e| Error::Response {
        method: method.into(),
        reason: format!("bad hex: {e}"),
    })
}

fn short(v: &Json) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        format!("{}…", &s[..s.floor_char_boundary_compat(80)])
    } else {
        s
    }
}

trait FloorCharBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorCharBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn parse_number(method: &str, v: &Json) -> Result<u64> {
    match v {
        Json::Number(n) => n.as_u64().ok_or_else(|| Error::Response {
            method: method.into(),
            reason: format!("bad number {n}"),
        }),
        Json::String(s) => {
            let raw = s.strip_prefix("0x").ok_or_else(|| Error::Response {
                method: method.into(),
                reason: format!("expected 0x-hex number, got {s:?}"),
            })?;
            u64::from_str_radix(raw, 16).map_err(|e| Error::Response {
                method: method.into(),
                reason: format!("bad number {s:?}: {e}"),
            })
        }
        other => Err(Error::Response {
            method: method.into(),
            reason: format!("expected a number, got {}", short(other)),
        }),
    }
}

fn field<'a>(v: &'a Value, name: &str, what: &str) -> Result<&'a Value> {
    let f = v
        .field(name)
        .ok_or_else(|| Error::Decode(format!("{what}: no field {name}")))?;
    // Selective metagraph fields are `Option<T>`.
    Ok(match f.as_option() {
        Some(Some(inner)) => inner,
        _ => f,
    })
}

fn uint(v: &Value, name: &str, what: &str) -> Result<u128> {
    field(v, name, what)?
        .as_u128()
        .ok_or_else(|| Error::Decode(format!("{what}.{name}: not an unsigned integer")))
}

fn narrow<T: TryFrom<u128>>(n: u128, what: &str) -> Result<T> {
    T::try_from(n).map_err(|_| Error::Decode(format!("{what}: {n} out of range")))
}

fn account(v: &Value, what: &str) -> Result<PublicKey> {
    let bytes = v
        .as_bytes()
        .ok_or_else(|| Error::Decode(format!("{what}: not an account id")))?;
    let arr: [u8; 32] = bytes
        .try_into()
        .map_err(|_| Error::Decode(format!("{what}: an account id is 32 bytes")))?;
    Ok(PublicKey(arr))
}

/// The elements of field `name` (a sequence) of `v`.
fn seq<'a>(v: &'a Value, name: &str, what: &str) -> Result<&'a [Value]> {
    field(v, name, what)?
        .as_seq()
        .ok_or_else(|| Error::Decode(format!("{what}.{name}: not a sequence")))
}

/// A commitment's first `Raw` field and block, from a decoded `Registration`.
pub(crate) fn commitment_from(hotkey: PublicKey, reg: &Value) -> Result<Option<Commitment>> {
    let block = uint(reg, "block", "Registration")?;
    let info = field(reg, "info", "Registration")?;
    let fields = seq(info, "fields", "CommitmentInfo")?;
    for f in fields {
        if let Value::Variant { name, fields } = f {
            if let Some(n) = name.strip_prefix("Raw") {
                if n.parse::<usize>().is_ok() {
                    let data = fields
                        .first()
                        .and_then(|(_, v)| v.as_bytes())
                        .unwrap_or_default()
                        .to_vec();
                    return Ok(Some(Commitment {
                        hotkey,
                        data,
                        block: narrow(block, "Registration.block")?,
                    }));
                }
            }
        }
    }
    Ok(None)
}

impl Subtensor {
    /// A client of `url` (`ws://`, `wss://`, `http://`, `https://`) that connects and loads
    /// the metadata on first use.
    pub fn new(url: &str, options: Options) -> Result<Subtensor> {
        Ok(Subtensor {
            rpc: Rpc::new(url, options.request_timeout)?,
            runtime: Mutex::new(None),
            genesis: Mutex::new(None),
            options,
        })
    }

    /// Connects to `url` now and loads the runtime's metadata.
    pub async fn connect(url: &str, options: Options) -> Result<Subtensor> {
        let client = Subtensor::new(url, options)?;
        client.runtime().await?;
        Ok(client)
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        self.rpc.url()
    }

    /// Any JSON-RPC request.
    pub async fn request(&self, method: &str, params: Vec<Json>) -> Result<Json> {
        self.rpc.request(method, params).await
    }

    /// The current runtime: the cached one while the node's spec version is unchanged, else
    /// its metadata is downloaded again.
    pub async fn runtime(&self) -> Result<Runtime> {
        let version = self.rpc.request("state_getRuntimeVersion", vec![]).await?;
        let num = |name: &str| -> Result<u32> {
            version
                .get(name)
                .and_then(Json::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| Error::Response {
                    method: "state_getRuntimeVersion".into(),
                    reason: format!("no {name}"),
                })
        };
        let (spec, txv) = (num("specVersion")?, num("transactionVersion")?);
        let mut cached = self.runtime.lock().await;
        if let Some(rt) = cached.as_ref() {
            if rt.spec_version == spec && rt.tx_version == txv {
                return Ok(rt.clone());
            }
            tracing::info!(
                old = rt.spec_version,
                new = spec,
                "runtime upgraded; reloading metadata"
            );
        }
        let bytes = self.metadata_bytes().await?;
        decode_metadata(&bytes)?;
        let rt = Runtime::from_bytes(&bytes, spec, txv)?;
        *cached = Some(rt.clone());
        Ok(rt)
    }

    /// The node's metadata: V15 through `Metadata_metadata_at_version(15)` (what carries the
    /// runtime APIs; a node's `state_getMetadata` answers V14), else `state_getMetadata`.
    async fn metadata_bytes(&self) -> Result<Vec<u8>> {
        let v15 = self
            .rpc
            .request(
                "state_call",
                vec![json!("Metadata_metadata_at_version"), json!("0x0f000000")],
            )
            .await;
        if let Ok(Json::String(text)) = v15 {
            // `Option<OpaqueMetadata>`: 1, then the length-prefixed metadata.
            let bytes = parse_hex("state_call", &text)?;
            if let Some((1, mut opaque)) = bytes.split_first() {
                let len = <parity_scale_codec::Compact<u32> as parity_scale_codec::Decode>::decode(
                    &mut opaque,
                )
                .map_err(|e| Error::Metadata(format!("Metadata_metadata_at_version: {e}")))?;
                if len.0 as usize == opaque.len() {
                    return Ok(opaque.to_vec());
                }
            }
        }
        let meta = self.rpc.request("state_getMetadata", vec![]).await?;
        let text = meta.as_str().ok_or_else(|| Error::Response {
            method: "state_getMetadata".into(),
            reason: "expected a hex string".into(),
        })?;
        parse_hex("state_getMetadata", text)
    }

    /// The best block: number and hash.
    pub async fn head(&self) -> Result<(u64, [u8; 32])> {
        let hash = parse_hash(
            "chain_getHead",
            &self.rpc.request("chain_getHead", vec![]).await?,
        )?;
        let header = self
            .rpc
            .request("chain_getHeader", vec![json!(hex0x(&hash))])
            .await?;
        let number = parse_number(
            "chain_getHeader",
            header.get("number").unwrap_or(&Json::Null),
        )?;
        Ok((number, hash))
    }

    /// The hash of block `number`, `None` if the node has no such block.
    pub async fn block_hash_at(&self, number: u64) -> Result<Option<[u8; 32]>> {
        let v = self
            .rpc
            .request("chain_getBlockHash", vec![json!(number)])
            .await?;
        if v.is_null() {
            return Ok(None);
        }
        parse_hash("chain_getBlockHash", &v).map(Some)
    }

    /// The genesis hash (cached).
    pub async fn genesis(&self) -> Result<[u8; 32]> {
        let mut g = self.genesis.lock().await;
        if let Some(h) = *g {
            return Ok(h);
        }
        let h = self
            .block_hash_at(0)
            .await?
            .ok_or_else(|| Error::Response {
                method: "chain_getBlockHash".into(),
                reason: "no block 0".into(),
            })?;
        *g = Some(h);
        Ok(h)
    }

    /// Raw storage at `key` as of block `at`.
    pub async fn storage_raw(&self, key: &[u8], at: &[u8; 32]) -> Result<Option<Vec<u8>>> {
        let v = self
            .rpc
            .request(
                "state_getStorageAt",
                vec![json!(hex0x(key)), json!(hex0x(at))],
            )
            .await?;
        match v {
            Json::Null => Ok(None),
            Json::String(s) => parse_hex("state_getStorageAt", &s).map(Some),
            other => Err(Error::Response {
                method: "state_getStorageAt".into(),
                reason: format!("expected hex or null, got {}", short(&other)),
            }),
        }
    }

    /// Storage item `pallet.entry` under `keys`, decoded (the metadata's default when absent).
    pub async fn storage(
        &self,
        rt: &Runtime,
        pallet: &str,
        entry: &str,
        keys: &[Value],
        at: &[u8; 32],
    ) -> Result<Value> {
        let key = rt.storage_key(pallet, entry, keys)?;
        let raw = self.storage_raw(&key, at).await?;
        rt.decode_storage(pallet, entry, raw.as_deref())
    }

    /// Runtime API `api.method(args)` as of block `at`, decoded as the metadata's output type.
    pub async fn runtime_api(
        &self,
        rt: &Runtime,
        api: &str,
        method: &str,
        args: &[Value],
        at: &[u8; 32],
    ) -> Result<Value> {
        let (name, bytes, output) = rt.runtime_api_call(api, method, args)?;
        let v = self
            .rpc
            .request(
                "state_call",
                vec![json!(name), json!(hex0x(&bytes)), json!(hex0x(at))],
            )
            .await?;
        let text = v.as_str().ok_or_else(|| Error::Response {
            method: "state_call".into(),
            reason: format!("expected hex, got {}", short(&v)),
        })?;
        decode_all(rt.types(), output, &parse_hex("state_call", text)?)
    }

    /// `Tempo` of a subnet at the best block.
    pub async fn tempo(&self, netuid: NetUid) -> Result<u16> {
        let rt = self.runtime().await?;
        let (_, at) = self.head().await?;
        let v = self
            .storage(
                &rt,
                "SubtensorModule",
                "Tempo",
                &[Value::U(netuid.into())],
                &at,
            )
            .await?;
        narrow(
            v.as_u128()
                .ok_or_else(|| Error::Decode("Tempo: not an integer".into()))?,
            "Tempo",
        )
    }

    /// A subnet's parameters, read from storage at the best block (the fields Subtensor keeps
    /// per subnet; the rest keep arena's defaults).
    pub async fn subnet_hyperparameters(&self, netuid: NetUid) -> Result<Hyperparameters> {
        let rt = self.runtime().await?;
        let (_, at) = self.head().await?;
        let n = [Value::U(netuid.into())];
        let get =
            async |entry: &str| -> Result<u128> { self.storage_uint(&rt, entry, &n, &at).await };
        Ok(Hyperparameters {
            tempo: narrow(get("Tempo").await?, "Tempo")?,
            kappa: narrow(get("Kappa").await?, "Kappa")?,
            activity_cutoff: narrow(get("ActivityCutoff").await?, "ActivityCutoff")?,
            max_allowed_validators: narrow(
                get("MaxAllowedValidators").await?,
                "MaxAllowedValidators",
            )?,
            max_allowed_uids: narrow(get("MaxAllowedUids").await?, "MaxAllowedUids")?,
            min_allowed_weights: narrow(get("MinAllowedWeights").await?, "MinAllowedWeights")?,
            max_weights_limit: narrow(get("MaxWeightsLimit").await?, "MaxWeightsLimit")?,
            weights_rate_limit: narrow(get("WeightsSetRateLimit").await?, "WeightsSetRateLimit")?,
            weights_version_key: narrow(get("WeightsVersionKey").await?, "WeightsVersionKey")?,
            immunity_period: narrow(get("ImmunityPeriod").await?, "ImmunityPeriod")?,
            commit_reveal_weights_enabled: get("CommitRevealWeightsEnabled").await? != 0,
            reveal_period_epochs: narrow(get("RevealPeriodEpochs").await?, "RevealPeriodEpochs")?,
            ..Hyperparameters::default()
        })
    }

    /// The commit-reveal version the chain accepts (`CommitRevealWeightsVersion`, one value
    /// for the whole chain).
    pub async fn commit_reveal_version(&self) -> Result<u16> {
        let rt = self.runtime().await?;
        let (_, at) = self.head().await?;
        narrow(
            self.storage_uint(&rt, "CommitRevealWeightsVersion", &[], &at)
                .await?,
            "CommitRevealWeightsVersion",
        )
    }

    /// A `SubtensorModule` storage item that holds an integer or a bool, as an integer.
    async fn storage_uint(
        &self,
        rt: &Runtime,
        entry: &str,
        keys: &[Value],
        at: &[u8; 32],
    ) -> Result<u128> {
        let v = self.storage(rt, "SubtensorModule", entry, keys, at).await?;
        match (v.as_u128(), v.as_bool()) {
            (Some(x), _) => Ok(x),
            (None, Some(b)) => Ok(u128::from(b)),
            _ => Err(Error::Decode(format!("{entry}: not an integer"))),
        }
    }

    /// The metagraph of `netuid` at block `at` (number `block`), through the runtime API the
    /// node has: `SubnetInfoRuntimeApi.get_selective_mechagraph` (every field, mechanism 0),
    /// else `get_metagraph`.
    pub async fn metagraph_at(
        &self,
        netuid: NetUid,
        block: u64,
        at: &[u8; 32],
    ) -> Result<Metagraph> {
        let rt = self.runtime().await?;
        let api = "SubnetInfoRuntimeApi";
        let n = Value::U(netuid.into());
        let value = if rt.has_runtime_api(api, "get_selective_mechagraph") {
            let (_, _, out) = rt.runtime_api_call(
                api,
                "get_selective_mechagraph",
                &[n.clone(), Value::U(0), Value::Seq(vec![])],
            )?;
            let count = selective_field_count(&rt, out)?;
            let indexes = Value::Seq((0..count as u128).map(Value::U).collect());
            self.runtime_api(
                &rt,
                api,
                "get_selective_mechagraph",
                &[n, Value::U(0), indexes],
                at,
            )
            .await?
        } else {
            self.runtime_api(&rt, api, "get_metagraph", &[n], at)
                .await?
        };
        let inner = match value.as_option() {
            Some(Some(v)) => v.clone(),
            Some(None) => return Err(Error::Invalid(format!("subnet {netuid} does not exist"))),
            None => value,
        };
        metagraph_from(netuid, block, &inner)
    }

    /// The commitment of `hotkey` on `netuid` at block `at`.
    pub async fn commitment_at(
        &self,
        netuid: NetUid,
        hotkey: &PublicKey,
        at: &[u8; 32],
    ) -> Result<Option<Commitment>> {
        let rt = self.runtime().await?;
        let key = rt.storage_key(
            "Commitments",
            "CommitmentOf",
            &[Value::U(netuid.into()), Value::Bytes(hotkey.0.to_vec())],
        )?;
        match self.storage_raw(&key, at).await? {
            None => Ok(None),
            Some(bytes) => {
                let reg = rt.decode_storage("Commitments", "CommitmentOf", Some(&bytes))?;
                commitment_from(*hotkey, &reg)
            }
        }
    }

    /// Every entry of the storage map `pallet.entry` under the prefix of `first_keys` at block
    /// `at`: (all keys, value), in the node's key order. Keys are listed 500 a page
    /// (`state_getKeysPaged`) and read 500 at a time (`state_queryStorageAt`); more than 2^16
    /// keys is refused.
    async fn map_entries_at(
        &self,
        rt: &Runtime,
        pallet: &str,
        entry: &str,
        first_keys: &[Value],
        at: &[u8; 32],
    ) -> Result<Vec<(Vec<Value>, Value)>> {
        const PAGE: usize = 500;
        const MAX_KEYS: usize = 1 << 16;
        let prefix = rt.storage_key(pallet, entry, first_keys)?;
        let mut keys: Vec<String> = Vec::new();
        loop {
            let mut params = vec![json!(hex0x(&prefix)), json!(PAGE)];
            params.push(keys.last().map_or(Json::Null, |k| json!(k)));
            params.push(json!(hex0x(at)));
            let page = self.rpc.request("state_getKeysPaged", params).await?;
            let page = page.as_array().ok_or_else(|| Error::Response {
                method: "state_getKeysPaged".into(),
                reason: "expected an array".into(),
            })?;
            let before = keys.len();
            for k in page {
                keys.push(
                    k.as_str()
                        .ok_or_else(|| Error::Response {
                            method: "state_getKeysPaged".into(),
                            reason: "expected hex keys".into(),
                        })?
                        .to_string(),
                );
            }
            if page.len() < PAGE || keys.len() == before {
                break;
            }
            if keys.len() > MAX_KEYS {
                return Err(Error::Response {
                    method: "state_getKeysPaged".into(),
                    reason: format!("more than {MAX_KEYS} entries of {pallet}.{entry}"),
                });
            }
        }
        let mut out = Vec::new();
        for chunk in keys.chunks(PAGE) {
            let v = self
                .rpc
                .request("state_queryStorageAt", vec![json!(chunk), json!(hex0x(at))])
                .await?;
            let changes = v
                .as_array()
                .and_then(|a| a.first())
                .and_then(|c| c.get("changes"))
                .and_then(Json::as_array)
                .ok_or_else(|| Error::Response {
                    method: "state_queryStorageAt".into(),
                    reason: "expected [{changes: [[key, value]]}]".into(),
                })?;
            for change in changes {
                let pair = change.as_array().filter(|p| p.len() == 2);
                let (Some(k), Some(v)) = (pair.and_then(|p| p[0].as_str()), pair.map(|p| &p[1]))
                else {
                    return Err(Error::Response {
                        method: "state_queryStorageAt".into(),
                        reason: "a change is not [key, value]".into(),
                    });
                };
                let Some(v) = v.as_str() else { continue };
                let key = parse_hex("state_queryStorageAt", k)?;
                let keys = rt.decode_storage_keys(pallet, entry, &key)?;
                let value =
                    rt.decode_storage(pallet, entry, Some(&parse_hex("state_queryStorageAt", v)?))?;
                out.push((keys, value));
            }
        }
        Ok(out)
    }

    /// Every commitment of `netuid` at block `at` (`CommitmentOf` under the netuid's prefix),
    /// ordered by hotkey.
    pub async fn commitments_at(&self, netuid: NetUid, at: &[u8; 32]) -> Result<Vec<Commitment>> {
        let rt = self.runtime().await?;
        let mut out = Vec::new();
        for (keys, reg) in self
            .map_entries_at(
                &rt,
                "Commitments",
                "CommitmentOf",
                &[Value::U(netuid.into())],
                at,
            )
            .await?
        {
            let hotkey = account(
                keys.get(1).unwrap_or(&Value::Seq(vec![])),
                "CommitmentOf key",
            )?;
            if let Some(c) = commitment_from(hotkey, &reg)? {
                out.push(c);
            }
        }
        out.sort_by_key(|c| c.hotkey.0);
        Ok(out)
    }

    /// The non-empty rows of `SubtensorModule.Weights` or `.Bonds` (`entry`) of `netuid` at
    /// block `at` (mechanism 0: the storage index is the netuid), ordered by uid.
    pub async fn weight_rows_at(
        &self,
        entry: &str,
        netuid: NetUid,
        at: &[u8; 32],
    ) -> Result<Vec<WeightRow>> {
        let rt = self.runtime().await?;
        let what = format!("{entry} row");
        let mut rows = Vec::new();
        for (keys, value) in self
            .map_entries_at(
                &rt,
                "SubtensorModule",
                entry,
                &[Value::U(netuid.into())],
                at,
            )
            .await?
        {
            let uid = keys
                .get(1)
                .and_then(Value::as_u128)
                .ok_or_else(|| Error::Decode(format!("{entry} key: no uid")))?;
            let pairs = value
                .as_seq()
                .ok_or_else(|| Error::Decode(format!("{what}: not a sequence")))?;
            let mut weights = Vec::with_capacity(pairs.len());
            for pair in pairs {
                let Value::Composite(fields) = pair else {
                    return Err(Error::Decode(format!("{what}: not (uid, value) pairs")));
                };
                let [(_, u), (_, w)] = fields.as_slice() else {
                    return Err(Error::Decode(format!("{what}: not (uid, value) pairs")));
                };
                let (Some(u), Some(w)) = (u.as_u128(), w.as_u128()) else {
                    return Err(Error::Decode(format!("{what}: not integers")));
                };
                weights.push((narrow(u, entry)?, narrow(w, entry)?));
            }
            if !weights.is_empty() {
                rows.push(WeightRow {
                    uid: narrow(uid, entry)?,
                    weights,
                });
            }
        }
        rows.sort_by_key(|r| r.uid);
        Ok(rows)
    }

    /// `system_accountNextIndex`: the account's next nonce, counting the pool.
    pub async fn next_nonce(&self, account: &PublicKey) -> Result<u64> {
        let v = self
            .rpc
            .request("system_accountNextIndex", vec![json!(account.ss58())])
            .await?;
        parse_number("system_accountNextIndex", &v)
    }

    /// The call arena's `call` maps to on Subtensor. Weights go through commit-reveal when
    /// the subnet has it on.
    pub async fn subtensor_call(&self, signer: &Keypair, call: &Call) -> Result<SubtensorCall> {
        Ok(match call {
            Call::SetWeights {
                netuid,
                uids,
                weights,
                version_key,
            } => {
                let hp = self.subnet_hyperparameters(*netuid).await?;
                if !hp.commit_reveal_weights_enabled {
                    SubtensorCall::SetWeights {
                        netuid: *netuid,
                        uids: uids.clone(),
                        weights: weights.clone(),
                        version_key: *version_key,
                    }
                } else {
                    let sealer = self
                        .options
                        .sealer
                        .as_ref()
                        .ok_or(Error::NoSealer { netuid: *netuid })?;
                    let (block, _) = self.head().await?;
                    let round = reveal_round(
                        block,
                        *netuid,
                        hp.tempo,
                        hp.reveal_period_epochs,
                        arena_timelock::unix_now(),
                    );
                    let commit =
                        sealer.seal(&signer.public(), uids, weights, *version_key, round)?;
                    let version = self.commit_reveal_version().await?;
                    let rt = self.runtime().await?;
                    if rt.has_call("SubtensorModule", "commit_timelocked_mechanism_weights") {
                        SubtensorCall::CommitTimelockedMechanismWeights {
                            netuid: *netuid,
                            mecid: 0,
                            commit,
                            reveal_round: round,
                            version,
                        }
                    } else {
                        SubtensorCall::CommitTimelockedWeights {
                            netuid: *netuid,
                            commit,
                            reveal_round: round,
                            version,
                        }
                    }
                }
            }
            Call::SetCommitment { netuid, data } => SubtensorCall::SetCommitment {
                netuid: *netuid,
                data: data.clone(),
            },
            Call::BurnedRegister { netuid, hotkey } => SubtensorCall::BurnedRegister {
                netuid: *netuid,
                hotkey: *hotkey,
            },
            Call::CreateSubnet { .. } => {
                return Err(Error::Unsupported(
                    "create_subnet (register a subnet with btcli)".into(),
                ))
            }
            Call::AddStake {
                hotkey,
                netuid,
                amount,
            } => SubtensorCall::AddStake {
                hotkey: *hotkey,
                netuid: *netuid,
                amount: *amount,
            },
        })
    }

    /// Signs `call` (nonce from the node, mortal era unless the period is 0), submits it with
    /// `author_submitAndWatchExtrinsic`, waits for inclusion (or finality) and reads the
    /// block's `System.Events`: a failed dispatch is returned as [`Error::Dispatch`] naming
    /// the pallet's error.
    pub async fn submit(&self, signer: &Keypair, call: &SubtensorCall) -> Result<Receipt> {
        let rt = self.runtime().await?;
        let call_bytes = call.encode(&rt)?;
        let nonce = self.next_nonce(&signer.public()).await?;
        let genesis = self.genesis().await?;
        let era = if self.options.mortal_period == 0 {
            Era::Immortal
        } else {
            let (number, hash) = self.head().await?;
            Era::Mortal {
                period: self.options.mortal_period,
                birth_number: number,
                birth_hash: hash,
            }
        };
        let params = TxParams {
            nonce,
            tip: 0,
            era,
            genesis,
        };
        let xt = tx::sign(&rt, &call_bytes, &params, signer)?;
        let mut sub = self
            .rpc
            .subscribe(
                "author_submitAndWatchExtrinsic",
                vec![json!(hex0x(&xt))],
                "author_unwatchExtrinsic",
            )
            .await?;
        let deadline = tokio::time::Instant::now() + self.options.inclusion_timeout;
        let block_hash = loop {
            let next = tokio::time::timeout_at(deadline, sub.next())
                .await
                .map_err(|_| Error::Timeout {
                    what: format!("{} to be included", call.name().1),
                    secs: self.options.inclusion_timeout.as_secs(),
                })?;
            let status = match next {
                Some(Ok(s)) => s,
                Some(Err(e)) => {
                    return Err(Error::Response {
                        method: "author_submitAndWatchExtrinsic".into(),
                        reason: e.to_string(),
                    })
                }
                None => {
                    return Err(Error::Transport(
                        "the node closed the extrinsic subscription".into(),
                    ))
                }
            };
            match events::watch_status(&status, self.options.wait_for_finality)? {
                Some(hash) => break hash,
                None => continue,
            }
        };
        self.outcome(&rt, &xt, &block_hash, call).await
    }

    async fn outcome(
        &self,
        rt: &Runtime,
        xt: &[u8],
        block_hash: &[u8; 32],
        call: &SubtensorCall,
    ) -> Result<Receipt> {
        let block = self
            .rpc
            .request("chain_getBlock", vec![json!(hex0x(block_hash))])
            .await?;
        let extrinsics = block
            .get("block")
            .and_then(|b| b.get("extrinsics"))
            .and_then(Json::as_array)
            .ok_or_else(|| Error::Response {
                method: "chain_getBlock".into(),
                reason: "no block.extrinsics".into(),
            })?;
        let want = hex0x(xt);
        let index = extrinsics
            .iter()
            .position(|e| e.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&want)))
            .ok_or_else(|| Error::Response {
                method: "chain_getBlock".into(),
                reason: "the included block does not hold the extrinsic".into(),
            })? as u32;
        let number = parse_number(
            "chain_getBlock",
            block
                .get("block")
                .and_then(|b| b.get("header"))
                .and_then(|h| h.get("number"))
                .unwrap_or(&Json::Null),
        )?;
        let events_key = rt.storage_key("System", "Events", &[])?;
        let raw = self
            .storage_raw(&events_key, block_hash)
            .await?
            .unwrap_or_default();
        match events::extrinsic_outcome(rt, &raw, index)? {
            ExtrinsicOutcome::Success { events } => {
                let assigned = match call {
                    SubtensorCall::BurnedRegister { .. } => events::registered_uid(&events),
                    _ => None,
                };
                Ok(Receipt {
                    block: number,
                    index,
                    assigned,
                })
            }
            ExtrinsicOutcome::Failed(e) => Err(e),
        }
    }
}

/// Number of fields of the selective metagraph type inside `Option<…>` (`out` is the runtime
/// API's output type).
fn selective_field_count(rt: &Runtime, out: u32) -> Result<usize> {
    use scale_info::TypeDef;
    let types = rt.types();
    let mut id = out;
    for _ in 0..4 {
        let ty = types
            .resolve(id)
            .ok_or_else(|| Error::Metadata(format!("type {id} missing")))?;
        match &ty.type_def {
            TypeDef::Variant(v) => {
                let some = v
                    .variants
                    .iter()
                    .find(|x| x.name == "Some")
                    .and_then(|x| x.fields.first())
                    .ok_or_else(|| {
                        Error::Metadata("selective metagraph: expected Option".into())
                    })?;
                id = some.ty.id;
            }
            TypeDef::Composite(c) => return Ok(c.fields.len()),
            _ => break,
        }
    }
    Err(Error::Metadata(
        "selective metagraph: unexpected output type".into(),
    ))
}

/// arena's [`Metagraph`] from Subtensor's `Metagraph` (or `SelectiveMetagraph`) value.
pub(crate) fn metagraph_from(netuid: NetUid, block: u64, m: &Value) -> Result<Metagraph> {
    let what = "Metagraph";
    let hotkeys = seq(m, "hotkeys", what)?;
    let n = hotkeys.len();
    let column = |name: &str| -> Result<&[Value]> {
        let s = seq(m, name, what)?;
        if s.len() != n {
            return Err(Error::Decode(format!(
                "{what}.{name} has {} entries for {n} hotkeys",
                s.len()
            )));
        }
        Ok(s)
    };
    let int_at = |col: &[Value], i: usize, name: &str| -> Result<u128> {
        col[i]
            .as_u128()
            .ok_or_else(|| Error::Decode(format!("{what}.{name}[{i}]: not an integer")))
    };
    let bool_at = |col: &[Value], i: usize, name: &str| -> Result<bool> {
        col[i]
            .as_bool()
            .ok_or_else(|| Error::Decode(format!("{what}.{name}[{i}]: not a bool")))
    };
    let coldkeys = column("coldkeys")?;
    let active = column("active")?;
    let permit = column("validator_permit")?;
    let last_update = column("last_update")?;
    let emission = column("emission")?;
    let dividends = column("dividends")?;
    let incentives = column("incentives")?;
    let consensus = column("consensus")?;
    let trust = column("trust")?;
    let registered = column("block_at_registration")?;
    let stake = column("total_stake")?;
    let mut neurons = Vec::with_capacity(n);
    for i in 0..n {
        neurons.push(NeuronInfo {
            uid: narrow(i as u128, "uid")?,
            hotkey: account(&hotkeys[i], "hotkey")?,
            coldkey: account(&coldkeys[i], "coldkey")?,
            stake: narrow(int_at(stake, i, "total_stake")?, "total_stake")?,
            validator_permit: bool_at(permit, i, "validator_permit")?,
            last_update: narrow(int_at(last_update, i, "last_update")?, "last_update")?,
            registration_block: narrow(
                int_at(registered, i, "block_at_registration")?,
                "block_at_registration",
            )?,
            active: bool_at(active, i, "active")?,
            incentive: narrow(int_at(incentives, i, "incentives")?, "incentives")?,
            dividends: narrow(int_at(dividends, i, "dividends")?, "dividends")?,
            consensus: narrow(int_at(consensus, i, "consensus")?, "consensus")?,
            trust: narrow(int_at(trust, i, "trust")?, "trust")?,
            validator_trust: 0,
            emission: narrow(int_at(emission, i, "emission")?, "emission")?,
        });
    }
    let hp = Hyperparameters {
        tempo: narrow(uint(m, "tempo", what)?, "tempo")?,
        kappa: narrow(uint(m, "kappa", what)?, "kappa")?,
        activity_cutoff: narrow(uint(m, "activity_cutoff", what)?, "activity_cutoff")?,
        max_allowed_validators: narrow(uint(m, "max_validators", what)?, "max_validators")?,
        max_allowed_uids: narrow(uint(m, "max_uids", what)?, "max_uids")?,
        min_allowed_weights: narrow(uint(m, "min_allowed_weights", what)?, "min_allowed_weights")?,
        max_weights_limit: narrow(uint(m, "max_weights_limit", what)?, "max_weights_limit")?,
        weights_rate_limit: narrow(uint(m, "weights_rate_limit", what)?, "weights_rate_limit")?,
        weights_version_key: narrow(uint(m, "weights_version", what)?, "weights_version")?,
        immunity_period: narrow(uint(m, "immunity_period", what)?, "immunity_period")?,
        ..Hyperparameters::default()
    };
    Ok(Metagraph {
        netuid,
        block,
        hyperparameters: hp,
        neurons,
    })
}

fn chain_err(e: Error) -> ChainError {
    e.into()
}

#[async_trait::async_trait]
impl Chain for Subtensor {
    async fn block_number(&self) -> ChainResult<BlockNumber> {
        Ok(self.head().await.map_err(chain_err)?.0)
    }

    async fn block_hash(&self, number: Option<BlockNumber>) -> ChainResult<Option<BlockHash>> {
        let hash = match number {
            None => Some(self.head().await.map_err(chain_err)?.1),
            Some(n) => self.block_hash_at(n).await.map_err(chain_err)?,
        };
        Ok(hash.map(BlockHash))
    }

    async fn block(&self, number: Option<BlockNumber>) -> ChainResult<Option<BlockInfo>> {
        let Some(hash) = self.block_hash(number).await? else {
            return Ok(None);
        };
        let header = self
            .rpc
            .request("chain_getHeader", vec![json!(hash.to_hex())])
            .await
            .map_err(chain_err)?;
        if header.is_null() {
            return Ok(None);
        }
        let number = parse_number(
            "chain_getHeader",
            header.get("number").unwrap_or(&Json::Null),
        )
        .map_err(chain_err)?;
        let parent = parse_hash(
            "chain_getHeader",
            header.get("parentHash").unwrap_or(&Json::Null),
        )
        .map_err(chain_err)?;
        Ok(Some(BlockInfo {
            number,
            hash,
            parent_hash: BlockHash(parent),
            timestamp_ms: 0,
            extrinsics: 0,
        }))
    }

    async fn genesis_hash(&self) -> ChainResult<BlockHash> {
        Ok(BlockHash(self.genesis().await.map_err(chain_err)?))
    }

    async fn subnets(&self) -> ChainResult<Vec<NetUid>> {
        Err(Error::Unsupported("listing subnets (use btcli subnets list)".into()).into())
    }

    async fn subnet(&self, netuid: NetUid) -> ChainResult<SubnetInfo> {
        let _ = netuid;
        Err(Error::Unsupported("subnet bookkeeping (use btcli subnets show)".into()).into())
    }

    async fn hyperparameters(&self, netuid: NetUid) -> ChainResult<Hyperparameters> {
        Ok(self
            .subnet_hyperparameters(netuid)
            .await
            .map_err(chain_err)?)
    }

    async fn metagraph(&self, netuid: NetUid) -> ChainResult<Metagraph> {
        let (block, at) = self.head().await.map_err(chain_err)?;
        self.metagraph_at(netuid, block, &at)
            .await
            .map_err(chain_err)
    }

    async fn commitment(
        &self,
        netuid: NetUid,
        hotkey: &PublicKey,
    ) -> ChainResult<Option<Commitment>> {
        let (_, at) = self.head().await.map_err(chain_err)?;
        self.commitment_at(netuid, hotkey, &at)
            .await
            .map_err(chain_err)
    }

    async fn commitments(&self, netuid: NetUid) -> ChainResult<Vec<Commitment>> {
        let (_, at) = self.head().await.map_err(chain_err)?;
        self.commitments_at(netuid, &at).await.map_err(chain_err)
    }

    async fn weights(&self, netuid: NetUid) -> ChainResult<Vec<WeightRow>> {
        let (_, at) = self.head().await.map_err(chain_err)?;
        self.weight_rows_at("Weights", netuid, &at)
            .await
            .map_err(chain_err)
    }

    async fn bonds(&self, netuid: NetUid) -> ChainResult<Vec<WeightRow>> {
        let (_, at) = self.head().await.map_err(chain_err)?;
        self.weight_rows_at("Bonds", netuid, &at)
            .await
            .map_err(chain_err)
    }

    async fn account_nonce(&self, account: &PublicKey) -> ChainResult<u64> {
        self.next_nonce(account).await.map_err(chain_err)
    }

    async fn submit_call(&self, signer: &Keypair, call: Call) -> ChainResult<Receipt> {
        let mapped = self
            .subtensor_call(signer, &call)
            .await
            .map_err(chain_err)?;
        self.submit(signer, &mapped).await.map_err(chain_err)
    }
}
