//! `LocalChain`: the embedded chain. One SQLite database (WAL) under a directory; one writer
//! connection that always holds the open transaction of the block being built, and one reader
//! connection that sees only produced blocks.
//!
//! An extrinsic is verified (signature, nonce) and dispatched at once inside a savepoint of
//! the open block: on error the savepoint is rolled back and nothing changes; on success it is
//! queued into the block body. [`LocalChain::produce_block`] runs the epochs that are due,
//! seals the block (hash over parent, number and extrinsics) and commits — one transaction
//! per block, so a crash loses at most the block being built and a restart continues from
//! the last produced block.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arena_keys::{Keypair, PublicKey};
use async_trait::async_trait;
use rusqlite::{params, Connection, OpenFlags};

use crate::chain::Chain;
use crate::epoch;
use crate::error::{ChainError, ChainResult};
use crate::extrinsic::{BodyExtrinsic, Call, EncodedExtrinsic, SignedExtrinsic};
use crate::header::Header;
use crate::runtime;
use crate::store::{self, to_i64};
use crate::types::{
    BlockHash, BlockInfo, BlockNumber, Commitment, Hyperparameters, Metagraph, NetUid, NeuronInfo,
    Receipt, SubnetInfo, WeightRow,
};

/// File name of the database inside the chain directory.
pub const DB_FILE: &str = "chain.sqlite";

/// How to open a local chain.
#[derive(Clone, Debug)]
pub struct LocalChainOptions {
    /// Interval of [`LocalChain::spawn_block_producer`] (subtensor: 12 s).
    pub block_time: Duration,
    /// Name hashed into the genesis block; chains with different names reject each other's
    /// signatures. Only read when the database is created.
    pub chain_name: String,
}

impl Default for LocalChainOptions {
    fn default() -> Self {
        LocalChainOptions {
            block_time: Duration::from_secs(12),
            chain_name: "arena-local".to_string(),
        }
    }
}

impl LocalChainOptions {
    /// Options for tests and localnet: a short block time.
    pub fn fast(block_time: Duration) -> Self {
        LocalChainOptions {
            block_time,
            ..Self::default()
        }
    }
}

struct Writer {
    conn: Connection,
    /// Number of the block being built.
    pending_number: BlockNumber,
    /// Extrinsics accepted into it, in order.
    pending: Vec<BodyExtrinsic>,
}

/// The embedded chain. Cheap to share: wrap it in an `Arc`.
pub struct LocalChain {
    dir: PathBuf,
    options: LocalChainOptions,
    genesis: BlockHash,
    writer: Mutex<Writer>,
    reader: Mutex<Connection>,
    /// The last produced block, for subscribers (new-head notifications).
    heads: tokio::sync::watch::Sender<BlockInfo>,
}

fn storage(context: &str, err: impl std::fmt::Display) -> ChainError {
    ChainError::Storage {
        reason: format!("{context}: {err}"),
    }
}

impl LocalChain {
    /// Opens (or creates, with its genesis block) the chain stored in `dir`.
    pub fn open(dir: impl AsRef<Path>, options: LocalChainOptions) -> ChainResult<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| storage(&dir.display().to_string(), e))?;
        let path = dir.join(DB_FILE);
        let ctx = path.display().to_string();
        let conn = Connection::open(&path).map_err(|e| storage(&ctx, e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| storage(&ctx, e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| storage(&ctx, e))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(|e| storage(&ctx, e))?;
        conn.execute_batch(store::SCHEMA)
            .map_err(|e| storage(&ctx, e))?;
        let genesis = match store::block(&conn, Some(0))? {
            Some(b) => b.hash,
            None => {
                let hash = Header::genesis(&options.chain_name).hash();
                conn.execute(
                    "INSERT INTO blocks (number, hash, parent, timestamp_ms, extrinsic_count,
                                         extrinsics) VALUES (0, ?1, ?2, ?3, 0, '[]')",
                    params![&hash.0[..], &[0u8; 32][..], now_ms()],
                )?;
                store::meta_set(&conn, "chain_name", &options.chain_name)?;
                hash
            }
        };
        let head = store::block(&conn, None)?.ok_or_else(|| storage(&ctx, "no blocks"))?;
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| storage(&ctx, e))?;
        reader
            .busy_timeout(Duration::from_secs(5))
            .map_err(|e| storage(&ctx, e))?;
        tracing::info!(dir = %dir.display(), head = head.number, genesis = %genesis, "chain opened");
        let (heads, _) = tokio::sync::watch::channel(head.clone());
        Ok(LocalChain {
            dir,
            options,
            genesis,
            writer: Mutex::new(Writer {
                conn,
                pending_number: head.number + 1,
                pending: Vec::new(),
            }),
            reader: Mutex::new(reader),
            heads,
        })
    }

    /// Directory holding the database.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Options the chain was opened with.
    pub fn options(&self) -> &LocalChainOptions {
        &self.options
    }

    /// Hash of block 0.
    pub fn genesis(&self) -> BlockHash {
        self.genesis
    }

    fn writer(&self) -> ChainResult<MutexGuard<'_, Writer>> {
        self.writer
            .lock()
            .map_err(|_| storage("writer", "lock poisoned by a panic"))
    }

    fn reader(&self) -> ChainResult<MutexGuard<'_, Connection>> {
        self.reader
            .lock()
            .map_err(|_| storage("reader", "lock poisoned by a panic"))
    }

    /// Verifies and applies one extrinsic to the block being built. On any error the state,
    /// the nonce and the block body are exactly as before.
    pub fn submit(&self, ext: SignedExtrinsic) -> ChainResult<Receipt> {
        ext.verify(&self.genesis)?;
        let mut w = self.writer()?;
        let expected = Self::check_nonce(&w.conn, &ext.signer, ext.nonce)?;
        let block = w.pending_number;
        match Self::apply(&w.conn, block, &ext.signer, expected, &ext.call) {
            Ok(assigned) => {
                let index = w.pending.len() as u32;
                tracing::debug!(call = ext.call.name(), signer = %ext.signer, block, "extrinsic accepted");
                w.pending.push(BodyExtrinsic::Arena(ext));
                Ok(Receipt {
                    block,
                    index,
                    assigned,
                })
            }
            Err(err) => {
                tracing::debug!(call = ext.call.name(), signer = %ext.signer, %err, "extrinsic rejected");
                Err(err)
            }
        }
    }

    /// Applies an extrinsic whose signature a front end has verified (the Substrate RPC) to
    /// the block being built. An invalid nonce or a fault of the store is an error and
    /// changes nothing. A failing dispatch is included as on Substrate: the state is as
    /// before, but the nonce is used and the extrinsic is in the block with its error, which
    /// is returned beside the receipt.
    pub fn submit_encoded(
        &self,
        mut ext: EncodedExtrinsic,
    ) -> ChainResult<(Receipt, Option<ChainError>)> {
        let mut w = self.writer()?;
        let expected = Self::check_nonce(&w.conn, &ext.signer, ext.nonce)?;
        let block = w.pending_number;
        let index = w.pending.len() as u32;
        let applied = match (&ext.call, ext.failed.take()) {
            (Some(call), None) => Self::apply(&w.conn, block, &ext.signer, expected, call),
            (_, Some(err)) => Err(err),
            (None, None) => Err(ChainError::InvalidData {
                reason: "an encoded extrinsic without a call must carry its error".into(),
            }),
        };
        let (assigned, failed) = match applied {
            Ok(assigned) => (assigned, None),
            Err(err) if err.is_dispatch() => {
                store::set_nonce(&w.conn, &ext.signer, expected + 1)?;
                (None, Some(err))
            }
            Err(err) => return Err(err),
        };
        let name = ext
            .call
            .as_ref()
            .map_or("(failed before dispatch)", Call::name);
        tracing::debug!(call = name, signer = %ext.signer, block, failed = ?failed, "encoded extrinsic included");
        ext.failed = failed.clone();
        ext.assigned = assigned;
        w.pending.push(BodyExtrinsic::Encoded(ext));
        Ok((
            Receipt {
                block,
                index,
                assigned,
            },
            failed,
        ))
    }

    /// The signer's next nonce if `nonce` is it; `Stale` below, `Future` above.
    fn check_nonce(conn: &Connection, signer: &PublicKey, nonce: u64) -> ChainResult<u64> {
        let expected = store::nonce(conn, signer)?;
        if nonce < expected {
            return Err(ChainError::Stale {
                signer: signer.ss58(),
                nonce,
                expected,
            });
        }
        if nonce > expected {
            return Err(ChainError::Future {
                signer: signer.ss58(),
                nonce,
                expected,
            });
        }
        Ok(expected)
    }

    /// Dispatches `call` in a savepoint and uses the nonce; on error, nothing changes.
    fn apply(
        conn: &Connection,
        block: BlockNumber,
        signer: &PublicKey,
        nonce: u64,
        call: &Call,
    ) -> ChainResult<Option<u16>> {
        conn.execute_batch("SAVEPOINT ext")?;
        let applied = runtime::dispatch(conn, block, signer, call).and_then(|assigned| {
            store::set_nonce(conn, signer, nonce + 1)?;
            Ok(assigned)
        });
        match applied {
            Ok(assigned) => {
                conn.execute_batch("RELEASE ext")?;
                Ok(assigned)
            }
            Err(err) => {
                conn.execute_batch("ROLLBACK TO ext; RELEASE ext")?;
                Err(err)
            }
        }
    }

    /// Signs `call` with the signer's next nonce and submits it.
    pub fn sign_and_submit(&self, keypair: &Keypair, call: Call) -> ChainResult<Receipt> {
        let nonce = store::nonce(&self.writer()?.conn, &keypair.public())?;
        self.submit(SignedExtrinsic::sign(&self.genesis, keypair, nonce, call)?)
    }

    /// Seals the block being built: runs due epochs, hashes, commits. Deterministic: the
    /// hash depends only on the parent, the number and the extrinsics.
    pub fn produce_block(&self) -> ChainResult<BlockInfo> {
        let mut w = self.writer()?;
        let number = w.pending_number;
        let result = Self::seal(&w.conn, number, &w.pending, &self.genesis);
        match result {
            Ok(info) => {
                w.conn.execute_batch("COMMIT; BEGIN IMMEDIATE")?;
                w.pending.clear();
                w.pending_number = number + 1;
                tracing::debug!(number, hash = %info.hash, extrinsics = info.extrinsics, "block produced");
                self.heads.send_replace(info.clone());
                Ok(info)
            }
            Err(err) => {
                tracing::error!(number, %err, "block production failed; block discarded");
                w.conn.execute_batch("ROLLBACK; BEGIN IMMEDIATE")?;
                w.pending.clear();
                Err(err)
            }
        }
    }

    fn seal(
        conn: &Connection,
        number: BlockNumber,
        body: &[BodyExtrinsic],
        genesis: &BlockHash,
    ) -> ChainResult<BlockInfo> {
        for netuid in store::netuids(conn)? {
            let subnet = store::subnet(conn, netuid)?;
            if epoch::is_due(&subnet, number) {
                epoch::run(conn, netuid, number)?;
            }
        }
        let parent = store::block(conn, Some(number - 1))?
            .ok_or(ChainError::BlockNotFound { number: number - 1 })?
            .hash;
        let bytes = body
            .iter()
            .map(|e| e.bytes(genesis))
            .collect::<ChainResult<Vec<_>>>()?;
        let hash = Header::new(parent, number, [0; 32], &bytes)?.hash();
        let json = serde_json::to_string(body).map_err(|e| storage("block body", e))?;
        let timestamp_ms = now_ms();
        conn.execute(
            "INSERT INTO blocks (number, hash, parent, timestamp_ms, extrinsic_count, extrinsics)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                to_i64(number, "block number")?,
                &hash.0[..],
                &parent.0[..],
                timestamp_ms,
                body.len() as i64,
                json
            ],
        )?;
        Ok(BlockInfo {
            number,
            hash,
            parent_hash: parent,
            timestamp_ms: timestamp_ms as u64,
            extrinsics: body.len() as u32,
        })
    }

    /// The extrinsics of a produced block.
    pub fn block_extrinsics(&self, number: BlockNumber) -> ChainResult<Vec<BodyExtrinsic>> {
        let conn = self.reader()?;
        let text: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT extrinsics FROM blocks WHERE number = ?1",
            [to_i64(number, "block number")?],
            |r| r.get(0),
        ))?;
        let text = text.ok_or(ChainError::BlockNotFound { number })?;
        serde_json::from_str(&text).map_err(|e| storage(&format!("body of block {number}"), e))
    }

    /// The Substrate-layout header of a produced block (see [`crate::header`]), or `None` past
    /// the head. Its hash is the block's hash for every block this version produced.
    pub fn header(&self, number: BlockNumber) -> ChainResult<Option<Header>> {
        let Some(info) = self.read(|c| store::block(c, Some(number)))? else {
            return Ok(None);
        };
        if number == 0 {
            return Ok(Some(Header::genesis(&self.chain_name()?)));
        }
        let bytes = self
            .block_extrinsics(number)?
            .iter()
            .map(|e| e.bytes(&self.genesis))
            .collect::<ChainResult<Vec<_>>>()?;
        Header::new(info.parent_hash, number, [0; 32], &bytes).map(Some)
    }

    /// The produced block with this hash, if any.
    pub fn block_by_hash(&self, hash: &BlockHash) -> ChainResult<Option<BlockInfo>> {
        self.read(|c| store::block_by_hash(c, hash))
    }

    /// The name hashed into the genesis block (as stored when the chain was created).
    pub fn chain_name(&self) -> ChainResult<String> {
        self.read(|c| {
            Ok(
                store::meta_get(c, "chain_name")?
                    .unwrap_or_else(|| self.options.chain_name.clone()),
            )
        })
    }

    /// The number of the block being built (the head's number + 1): the block in which an
    /// extrinsic submitted now is included.
    pub fn pending_number(&self) -> ChainResult<BlockNumber> {
        Ok(self.writer()?.pending_number)
    }

    /// Follows the produced blocks: the receiver holds the head and changes with each block.
    pub fn watch_heads(&self) -> tokio::sync::watch::Receiver<BlockInfo> {
        self.heads.subscribe()
    }

    /// Produces a block every `block_time` until the returned task is aborted.
    pub fn spawn_block_producer(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let chain = Arc::clone(self);
        let period = self.options.block_time;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticker.tick().await;
            loop {
                ticker.tick().await;
                if let Err(err) = chain.produce_block() {
                    tracing::error!(%err, "block production failed");
                }
            }
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> ChainResult<T>) -> ChainResult<T> {
        let conn = self.reader()?;
        // One read transaction: every query sees the same produced block.
        let tx = conn.unchecked_transaction()?;
        let out = f(&tx)?;
        tx.finish()?;
        Ok(out)
    }

    fn metagraph_at(conn: &Connection, netuid: NetUid) -> ChainResult<Metagraph> {
        let subnet = store::subnet(conn, netuid)?;
        let head = store::block(conn, None)?.map_or(0, |b| b.number);
        let mut neurons = Vec::new();
        for row in store::neurons(conn, netuid)? {
            let coldkey = store::hotkey_owner(conn, &row.hotkey)?
                .ok_or_else(|| storage("hotkey_owner", format!("no owner for {}", row.hotkey)))?;
            neurons.push(NeuronInfo {
                uid: row.uid,
                stake: store::stake(conn, netuid, &row.hotkey)?,
                hotkey: row.hotkey,
                coldkey,
                validator_permit: row.validator_permit,
                last_update: row.last_update,
                registration_block: row.registration_block,
                active: row.active,
                incentive: row.incentive,
                dividends: row.dividends,
                consensus: row.consensus,
                trust: 0,
                validator_trust: row.validator_trust,
                emission: row.emission,
            });
        }
        Ok(Metagraph {
            netuid,
            block: head,
            hyperparameters: subnet.hyperparameters,
            neurons,
        })
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[async_trait]
impl Chain for LocalChain {
    async fn block_number(&self) -> ChainResult<BlockNumber> {
        self.read(|c| Ok(store::block(c, None)?.map_or(0, |b| b.number)))
    }

    async fn block_hash(&self, number: Option<BlockNumber>) -> ChainResult<Option<BlockHash>> {
        self.read(|c| Ok(store::block(c, number)?.map(|b| b.hash)))
    }

    async fn block(&self, number: Option<BlockNumber>) -> ChainResult<Option<BlockInfo>> {
        self.read(|c| store::block(c, number))
    }

    async fn genesis_hash(&self) -> ChainResult<BlockHash> {
        Ok(self.genesis)
    }

    async fn subnets(&self) -> ChainResult<Vec<NetUid>> {
        self.read(store::netuids)
    }

    async fn subnet(&self, netuid: NetUid) -> ChainResult<SubnetInfo> {
        self.read(|c| store::subnet(c, netuid))
    }

    async fn hyperparameters(&self, netuid: NetUid) -> ChainResult<Hyperparameters> {
        self.read(|c| Ok(store::subnet(c, netuid)?.hyperparameters))
    }

    async fn metagraph(&self, netuid: NetUid) -> ChainResult<Metagraph> {
        self.read(|c| Self::metagraph_at(c, netuid))
    }

    async fn commitment(
        &self,
        netuid: NetUid,
        hotkey: &PublicKey,
    ) -> ChainResult<Option<Commitment>> {
        self.read(|c| {
            store::subnet(c, netuid)?;
            Ok(store::commitments(c, netuid, Some(hotkey))?.pop())
        })
    }

    async fn commitments(&self, netuid: NetUid) -> ChainResult<Vec<Commitment>> {
        self.read(|c| {
            store::subnet(c, netuid)?;
            store::commitments(c, netuid, None)
        })
    }

    async fn weights(&self, netuid: NetUid) -> ChainResult<Vec<WeightRow>> {
        self.read(|c| {
            store::subnet(c, netuid)?;
            Ok(store::neurons(c, netuid)?
                .into_iter()
                .filter(|n| n.last_update != 0)
                .map(|n| WeightRow {
                    uid: n.uid,
                    weights: n.weights,
                })
                .collect())
        })
    }

    async fn bonds(&self, netuid: NetUid) -> ChainResult<Vec<WeightRow>> {
        self.read(|c| {
            store::subnet(c, netuid)?;
            Ok(store::neurons(c, netuid)?
                .into_iter()
                .filter(|n| !n.bonds.is_empty())
                .map(|n| WeightRow {
                    uid: n.uid,
                    weights: n.bonds,
                })
                .collect())
        })
    }

    async fn account_nonce(&self, account: &PublicKey) -> ChainResult<u64> {
        store::nonce(&self.writer()?.conn, account)
    }

    async fn submit_call(&self, signer: &Keypair, call: Call) -> ChainResult<Receipt> {
        self.sign_and_submit(signer, call)
    }
}
