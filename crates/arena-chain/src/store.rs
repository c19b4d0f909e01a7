//! SQLite schema and row access. Functions take a `&Connection` so the same code reads the
//! committed state (reader connection) and the block being built (writer transaction).
//!
//! Integers are stored as SQLite INTEGER (i64); amounts above `i64::MAX` rao are refused at
//! dispatch, so every conversion back to u64 is checked and a bad row is a `Storage` error.

use arena_keys::PublicKey;
use rusqlite::{params, Connection, OptionalExtension};

use crate::error::{ChainError, ChainResult};
use crate::types::{
    BlockHash, BlockInfo, BlockNumber, Commitment, Hyperparameters, NetUid, SubnetInfo, Uid,
};

/// Tables of the chain state. `blocks.extrinsics` holds the block body as JSON.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash BLOB NOT NULL, parent BLOB NOT NULL,
    timestamp_ms INTEGER NOT NULL, extrinsic_count INTEGER NOT NULL, extrinsics TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_by_hash ON blocks (hash);
CREATE TABLE IF NOT EXISTS accounts (account BLOB PRIMARY KEY, nonce INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS subnets (
    netuid INTEGER PRIMARY KEY, owner BLOB NOT NULL, created_block INTEGER NOT NULL,
    last_epoch_block INTEGER NOT NULL, epoch_index INTEGER NOT NULL, hyperparameters TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS hotkey_owner (hotkey BLOB PRIMARY KEY, coldkey BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS neurons (
    netuid INTEGER NOT NULL, uid INTEGER NOT NULL, hotkey BLOB NOT NULL,
    registration_block INTEGER NOT NULL, last_update INTEGER NOT NULL DEFAULT 0,
    active INTEGER NOT NULL DEFAULT 1, validator_permit INTEGER NOT NULL DEFAULT 0,
    consensus INTEGER NOT NULL DEFAULT 0, incentive INTEGER NOT NULL DEFAULT 0,
    dividends INTEGER NOT NULL DEFAULT 0, validator_trust INTEGER NOT NULL DEFAULT 0,
    emission INTEGER NOT NULL DEFAULT 0,
    weights TEXT NOT NULL DEFAULT '[]', bonds TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (netuid, uid));
CREATE UNIQUE INDEX IF NOT EXISTS neurons_by_hotkey ON neurons (netuid, hotkey);
CREATE TABLE IF NOT EXISTS stakes (
    netuid INTEGER NOT NULL, hotkey BLOB NOT NULL, amount INTEGER NOT NULL,
    PRIMARY KEY (netuid, hotkey));
CREATE TABLE IF NOT EXISTS commitments (
    netuid INTEGER NOT NULL, hotkey BLOB NOT NULL, data BLOB NOT NULL, block INTEGER NOT NULL,
    PRIMARY KEY (netuid, hotkey));
CREATE TABLE IF NOT EXISTS commitment_space (
    netuid INTEGER NOT NULL, hotkey BLOB NOT NULL, epoch INTEGER NOT NULL, used INTEGER NOT NULL,
    PRIMARY KEY (netuid, hotkey));
";

/// One neuron row with everything the epoch and the metagraph need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeuronRow {
    pub uid: Uid,
    pub hotkey: PublicKey,
    pub registration_block: BlockNumber,
    pub last_update: BlockNumber,
    pub active: bool,
    pub validator_permit: bool,
    pub consensus: u16,
    pub incentive: u16,
    pub dividends: u16,
    pub validator_trust: u16,
    pub emission: u64,
    pub weights: Vec<(Uid, u16)>,
    pub bonds: Vec<(Uid, u16)>,
}

/// i64 → u64, refusing negatives (a corrupted or foreign database).
pub fn to_u64(value: i64, what: &str) -> ChainResult<u64> {
    u64::try_from(value).map_err(|_| ChainError::Storage {
        reason: format!("{what}: negative value {value} in the database"),
    })
}

/// u64 → i64 for storage, refusing values SQLite cannot hold.
pub fn to_i64(value: u64, what: &str) -> ChainResult<i64> {
    i64::try_from(value).map_err(|_| ChainError::InvalidData {
        reason: format!("{what}: {value} exceeds the storable maximum {}", i64::MAX),
    })
}

fn to_u16(value: i64, what: &str) -> ChainResult<u16> {
    u16::try_from(value).map_err(|_| ChainError::Storage {
        reason: format!("{what}: {value} is not a u16"),
    })
}

/// 32 stored bytes → public key.
pub fn key_from_blob(blob: &[u8], what: &str) -> ChainResult<PublicKey> {
    let arr: [u8; 32] = blob.try_into().map_err(|_| ChainError::Storage {
        reason: format!("{what}: expected 32 bytes, found {}", blob.len()),
    })?;
    Ok(PublicKey(arr))
}

fn hash_from_blob(blob: &[u8], what: &str) -> ChainResult<BlockHash> {
    Ok(BlockHash(key_from_blob(blob, what)?.0))
}

fn pairs_from_json(text: &str, what: &str) -> ChainResult<Vec<(Uid, u16)>> {
    serde_json::from_str(text).map_err(|e| ChainError::Storage {
        reason: format!("{what}: {e}"),
    })
}

/// Serialises a sparse row for storage.
pub fn pairs_to_json(pairs: &[(Uid, u16)]) -> String {
    serde_json::to_string(pairs).unwrap_or_else(|_| "[]".to_string())
}

/// Sets a `meta` value.
pub fn meta_set(conn: &Connection, key: &str, value: &str) -> ChainResult<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// A `meta` value, if set.
pub fn meta_get(conn: &Connection, key: &str) -> ChainResult<Option<String>> {
    Ok(rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT value FROM meta WHERE key = ?1",
        [key],
        |r| r.get(0),
    ))?)
}

/// Raw `blocks` columns: number, hash, parent, timestamp, extrinsic count.
type BlockRow = (i64, Vec<u8>, Vec<u8>, i64, i64);

/// Block `number`, or the highest block when `None`.
pub fn block(conn: &Connection, number: Option<BlockNumber>) -> ChainResult<Option<BlockInfo>> {
    let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<BlockRow> {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    };
    let cols = "number, hash, parent, timestamp_ms, extrinsic_count";
    let found = match number {
        Some(n) => conn
            .query_row(
                &format!("SELECT {cols} FROM blocks WHERE number = ?1"),
                [to_i64(n, "block number")?],
                row,
            )
            .optional()?,
        None => conn
            .query_row(
                &format!("SELECT {cols} FROM blocks ORDER BY number DESC LIMIT 1"),
                [],
                row,
            )
            .optional()?,
    };
    block_from_row(found)
}

/// The produced block with this hash, if any.
pub fn block_by_hash(conn: &Connection, hash: &BlockHash) -> ChainResult<Option<BlockInfo>> {
    let found = conn
        .query_row(
            "SELECT number, hash, parent, timestamp_ms, extrinsic_count FROM blocks WHERE hash = ?1",
            [&hash.0[..]],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    block_from_row(found)
}

fn block_from_row(found: Option<BlockRow>) -> ChainResult<Option<BlockInfo>> {
    let Some((num, hash, parent, ts, count)) = found else {
        return Ok(None);
    };
    Ok(Some(BlockInfo {
        number: to_u64(num, "block number")?,
        hash: hash_from_blob(&hash, "block hash")?,
        parent_hash: hash_from_blob(&parent, "parent hash")?,
        timestamp_ms: to_u64(ts, "block timestamp")?,
        extrinsics: u32::try_from(count).unwrap_or(u32::MAX),
    }))
}

/// Next nonce of an account (0 if it never signed).
pub fn nonce(conn: &Connection, account: &PublicKey) -> ChainResult<u64> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT nonce FROM accounts WHERE account = ?1",
            [&account.0[..]],
            |r| r.get(0),
        )
        .optional()?;
    found.map_or(Ok(0), |n| to_u64(n, "nonce"))
}

/// Stores the next nonce of an account. Crate-private: only block production (which applies
/// a signed extrinsic) advances a nonce; nothing else may mutate the database.
pub(crate) fn set_nonce(conn: &Connection, account: &PublicKey, next: u64) -> ChainResult<()> {
    conn.execute(
        "INSERT INTO accounts (account, nonce) VALUES (?1, ?2)
         ON CONFLICT(account) DO UPDATE SET nonce = excluded.nonce",
        params![&account.0[..], to_i64(next, "nonce")?],
    )?;
    Ok(())
}

/// Netuids in ascending order.
pub fn netuids(conn: &Connection) -> ChainResult<Vec<NetUid>> {
    let mut stmt = conn.prepare("SELECT netuid FROM subnets ORDER BY netuid")?;
    let rows = stmt.query_map([], |r| r.get::<_, i64>(0))?;
    rows.map(|r| to_u16(r?, "netuid")).collect()
}

/// A subnet, or `SubnetNotExists`.
pub fn subnet(conn: &Connection, netuid: NetUid) -> ChainResult<SubnetInfo> {
    let found = conn
        .query_row(
            "SELECT owner, created_block, last_epoch_block, epoch_index, hyperparameters,
                    (SELECT COUNT(*) FROM neurons WHERE netuid = ?1)
             FROM subnets WHERE netuid = ?1",
            [netuid],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            },
        )
        .optional()?;
    let Some((owner, created, last_epoch, epoch_index, hp, n)) = found else {
        return Err(ChainError::SubnetNotExists { netuid });
    };
    let hyperparameters: Hyperparameters =
        serde_json::from_str(&hp).map_err(|e| ChainError::Storage {
            reason: format!("hyperparameters of subnet {netuid}: {e}"),
        })?;
    Ok(SubnetInfo {
        netuid,
        owner: key_from_blob(&owner, "subnet owner")?,
        created_block: to_u64(created, "created_block")?,
        last_epoch_block: to_u64(last_epoch, "last_epoch_block")?,
        epoch_index: to_u64(epoch_index, "epoch_index")?,
        n: to_u16(n, "subnet size")?,
        hyperparameters,
    })
}

/// All neurons of a subnet ordered by uid.
pub fn neurons(conn: &Connection, netuid: NetUid) -> ChainResult<Vec<NeuronRow>> {
    let mut stmt = conn.prepare(
        "SELECT uid, hotkey, registration_block, last_update, active, validator_permit,
                consensus, incentive, dividends, validator_trust, emission, weights, bonds
         FROM neurons WHERE netuid = ?1 ORDER BY uid",
    )?;
    let mut rows = stmt.query([netuid])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let hotkey: Vec<u8> = r.get(1)?;
        let weights: String = r.get(11)?;
        let bonds: String = r.get(12)?;
        out.push(NeuronRow {
            uid: to_u16(r.get(0)?, "uid")?,
            hotkey: key_from_blob(&hotkey, "neuron hotkey")?,
            registration_block: to_u64(r.get(2)?, "registration_block")?,
            last_update: to_u64(r.get(3)?, "last_update")?,
            active: r.get::<_, i64>(4)? != 0,
            validator_permit: r.get::<_, i64>(5)? != 0,
            consensus: to_u16(r.get(6)?, "consensus")?,
            incentive: to_u16(r.get(7)?, "incentive")?,
            dividends: to_u16(r.get(8)?, "dividends")?,
            validator_trust: to_u16(r.get(9)?, "validator_trust")?,
            emission: to_u64(r.get(10)?, "emission")?,
            weights: pairs_from_json(&weights, "weights")?,
            bonds: pairs_from_json(&bonds, "bonds")?,
        });
    }
    Ok(out)
}

/// Uid of a hotkey on a subnet.
pub fn uid_of(conn: &Connection, netuid: NetUid, hotkey: &PublicKey) -> ChainResult<Option<Uid>> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT uid FROM neurons WHERE netuid = ?1 AND hotkey = ?2",
            params![netuid, &hotkey.0[..]],
            |r| r.get(0),
        )
        .optional()?;
    found.map(|u| to_u16(u, "uid")).transpose()
}

/// Coldkey owning a hotkey (`Owner`), if the hotkey was ever registered.
pub fn hotkey_owner(conn: &Connection, hotkey: &PublicKey) -> ChainResult<Option<PublicKey>> {
    let found: Option<Vec<u8>> = conn
        .query_row(
            "SELECT coldkey FROM hotkey_owner WHERE hotkey = ?1",
            [&hotkey.0[..]],
            |r| r.get(0),
        )
        .optional()?;
    found.map(|b| key_from_blob(&b, "coldkey")).transpose()
}

/// Stake of a hotkey on a subnet, rao.
pub fn stake(conn: &Connection, netuid: NetUid, hotkey: &PublicKey) -> ChainResult<u64> {
    let found: Option<i64> = conn
        .query_row(
            "SELECT amount FROM stakes WHERE netuid = ?1 AND hotkey = ?2",
            params![netuid, &hotkey.0[..]],
            |r| r.get(0),
        )
        .optional()?;
    found.map_or(Ok(0), |a| to_u64(a, "stake"))
}

/// Commitments of a subnet, ordered by hotkey bytes; one hotkey's only when `hotkey` is set.
pub fn commitments(
    conn: &Connection,
    netuid: NetUid,
    hotkey: Option<&PublicKey>,
) -> ChainResult<Vec<Commitment>> {
    let mut stmt = conn.prepare(
        "SELECT hotkey, data, block FROM commitments
         WHERE netuid = ?1 AND (?2 IS NULL OR hotkey = ?2) ORDER BY hotkey",
    )?;
    let key = hotkey.map(|k| k.0.to_vec());
    let mut rows = stmt.query(params![netuid, key])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let hotkey: Vec<u8> = r.get(0)?;
        out.push(Commitment {
            hotkey: key_from_blob(&hotkey, "commitment hotkey")?,
            data: r.get(1)?,
            block: to_u64(r.get(2)?, "commitment block")?,
        });
    }
    Ok(out)
}

/// Space used by a hotkey in epoch `epoch` (0 when its record is from an earlier epoch).
pub fn used_space(
    conn: &Connection,
    netuid: NetUid,
    hotkey: &PublicKey,
    epoch: u64,
) -> ChainResult<u64> {
    let found: Option<(i64, i64)> = conn
        .query_row(
            "SELECT epoch, used FROM commitment_space WHERE netuid = ?1 AND hotkey = ?2",
            params![netuid, &hotkey.0[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match found {
        Some((e, used)) if to_u64(e, "space epoch")? == epoch => to_u64(used, "used space"),
        _ => Ok(0),
    }
}
