//! Storage keys as Substrate builds them (`twox128(pallet) ‖ twox128(item) ‖ hashed keys`) and
//! their values, read from the embedded chain's state.
//!
//! The chain keeps no history: every read answers from the last produced block, whatever
//! block hash the client names (after checking that the hash is a block of this chain), except
//! `System.Events`, `System.Number` and `Timestamp.Now`, which are read from the named block
//! itself. A key this chain does not serve (an unknown prefix, a wrong hash inside the key, a
//! key of the wrong length) answers `null`, as an absent key does on Substrate.
//!
//! Balances: arena's chain has no token. Every account reads as holding
//! [`DEV_ENDOWMENT`] free, which registration (free on this chain) and staking (minted) never
//! reduce: a development chain where every key is funded, so that the SDK's balance checks
//! pass.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use arena_chain::{BlockInfo, Chain, ChainResult, LocalChain, Metagraph, NetUid};
use arena_keys::PublicKey;
use parity_scale_codec::Encode;
use sp_crypto_hashing::{blake2_128, twox_128, twox_64};

use crate::metadata::{items, spec, Hasher, Item, ItemSpec, KeyKind};
use crate::types::*;

/// The free balance every account reads as holding: 1,000,000 TAO in rao.
pub const DEV_ENDOWMENT: u64 = 1_000_000 * 1_000_000_000;

/// The symbol of every subnet's token (arena's subnets have no token of their own).
pub const TOKEN_SYMBOL: &str = "α";

/// One decoded key part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPart {
    /// A u16 (netuid, uid).
    U16(u16),
    /// An account.
    Account([u8; 32]),
}

impl KeyPart {
    fn encode(&self) -> Vec<u8> {
        match self {
            KeyPart::U16(v) => v.encode(),
            KeyPart::Account(a) => a.to_vec(),
        }
    }
}

/// The 32-byte prefix of an item.
pub fn prefix(spec: &ItemSpec) -> Vec<u8> {
    let mut out = twox_128(spec.pallet.as_bytes()).to_vec();
    out.extend_from_slice(&twox_128(spec.name.as_bytes()));
    out
}

/// The hash a hasher puts before a key part's bytes (empty for `Identity`).
fn digest(hasher: Hasher, bytes: &[u8]) -> Vec<u8> {
    match hasher {
        Hasher::Identity => Vec::new(),
        Hasher::Twox64Concat => twox_64(bytes).to_vec(),
        Hasher::Blake2_128Concat => blake2_128(bytes).to_vec(),
    }
}

/// The key of `spec` with the given leading key parts (all of them for a value's key, fewer
/// for an iteration prefix).
pub fn key(spec: &ItemSpec, parts: &[KeyPart]) -> Vec<u8> {
    let mut out = prefix(spec);
    for ((hasher, _), part) in spec.keys.iter().zip(parts) {
        let bytes = part.encode();
        out.extend_from_slice(&digest(*hasher, &bytes));
        out.extend_from_slice(&bytes);
    }
    out
}

/// Parses a full key: the item and its key parts, or `None` if this chain has no such key
/// (unknown prefix, wrong length, a hash that does not match its key).
pub fn parse(key: &[u8]) -> Option<(&'static ItemSpec, Vec<KeyPart>)> {
    let spec = find(key)?;
    parse_parts(spec.keys, &key[32..]).map(|parts| (spec, parts))
}

/// Parses an iteration prefix: the item and the leading key parts it fixes.
pub fn parse_prefix(bytes: &[u8]) -> Option<(&'static ItemSpec, Vec<KeyPart>)> {
    let spec = find(bytes)?;
    (0..=spec.keys.len())
        .rev()
        .find_map(|n| parse_parts(&spec.keys[..n], &bytes[32..]))
        .map(|parts| (spec, parts))
}

fn find(key: &[u8]) -> Option<&'static ItemSpec> {
    // The prefixes are hashed once, not at every read.
    static PREFIXES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let prefixes = PREFIXES.get_or_init(|| items().iter().map(prefix).collect());
    let head = key.get(..32)?;
    let i = prefixes.iter().position(|p| p == head)?;
    items().get(i)
}

/// Decodes exactly `keys` from `rest` (each part's hash checked); `None` on any mismatch.
fn parse_parts(keys: &[(Hasher, KeyKind)], mut rest: &[u8]) -> Option<Vec<KeyPart>> {
    let mut parts = Vec::with_capacity(keys.len());
    for (hasher, kind) in keys {
        let hash_len = digest(*hasher, &[]).len();
        if rest.len() < hash_len + kind.size() {
            return None;
        }
        let (hash, tail) = rest.split_at(hash_len);
        let (raw, tail) = tail.split_at(kind.size());
        if digest(*hasher, raw) != hash {
            return None;
        }
        parts.push(match kind {
            KeyKind::U16 => KeyPart::U16(u16::from_le_bytes([raw[0], raw[1]])),
            KeyKind::Account => {
                let mut a = [0u8; 32];
                a.copy_from_slice(raw);
                KeyPart::Account(a)
            }
        });
        rest = tail;
    }
    rest.is_empty().then_some(parts)
}

/// The block a read names (its events and number), and the chain behind it.
pub struct Reader<'a> {
    /// The chain.
    pub chain: &'a LocalChain,
    /// The named block.
    pub block: BlockInfo,
}

fn netuid_of(parts: &[KeyPart], i: usize) -> Option<NetUid> {
    match parts.get(i) {
        Some(KeyPart::U16(n)) => Some(*n),
        _ => None,
    }
}

fn account_of(parts: &[KeyPart], i: usize) -> Option<PublicKey> {
    match parts.get(i) {
        Some(KeyPart::Account(a)) => Some(PublicKey(*a)),
        _ => None,
    }
}

/// The account of a public key.
pub fn account(key: &PublicKey) -> AccountId32 {
    AccountId32(key.0)
}

impl Reader<'_> {
    async fn metagraph(&self, netuid: NetUid) -> ChainResult<Option<Metagraph>> {
        if !self.chain.subnets().await?.contains(&netuid) {
            return Ok(None);
        }
        self.chain.metagraph(netuid).await.map(Some)
    }

    /// The SCALE value under a parsed key, or `None` when absent.
    pub async fn value(&self, spec: &ItemSpec, parts: &[KeyPart]) -> ChainResult<Option<Vec<u8>>> {
        let chain = self.chain;
        Ok(match spec.item {
            Item::SystemAccount => {
                let Some(a) = account_of(parts, 0) else {
                    return Ok(None);
                };
                Some(account_info(chain.account_nonce(&a).await?).encode())
            }
            Item::SystemEvents => {
                Some(crate::extrinsic::events(chain, self.block.number)?.encode())
            }
            Item::SystemNumber => Some((self.block.number as u32).encode()),
            Item::TimestampNow => Some(self.block.timestamp_ms.encode()),
            Item::TotalNetworks => Some((chain.subnets().await?.len() as u16).encode()),
            Item::CommitRevealWeightsVersion => Some(4u16.encode()),
            Item::Owner => {
                let Some(hotkey) = account_of(parts, 0) else {
                    return Ok(None);
                };
                let mut owner = None;
                for netuid in chain.subnets().await? {
                    let m = chain.metagraph(netuid).await?;
                    if let Some(n) = m.neurons.iter().find(|n| n.hotkey == hotkey) {
                        owner = Some(account(&n.coldkey).encode());
                        break;
                    }
                }
                owner
            }
            Item::IsNetworkMember | Item::TotalHotkeyAlpha => {
                let (Some(hotkey), Some(netuid)) = (account_of(parts, 0), netuid_of(parts, 1))
                else {
                    return Ok(None);
                };
                let Some(m) = self.metagraph(netuid).await? else {
                    return Ok(None);
                };
                let neuron = m.neurons.iter().find(|n| n.hotkey == hotkey);
                match (spec.item, neuron) {
                    (Item::IsNetworkMember, Some(_)) => Some(true.encode()),
                    (Item::TotalHotkeyAlpha, Some(n)) => Some(n.stake.encode()),
                    _ => None,
                }
            }
            Item::CommitmentOf => {
                let (Some(netuid), Some(hotkey)) = (netuid_of(parts, 0), account_of(parts, 1))
                else {
                    return Ok(None);
                };
                if !chain.subnets().await?.contains(&netuid) {
                    return Ok(None);
                }
                chain
                    .commitment(netuid, &hotkey)
                    .await?
                    .map(|c| registration(&c).encode())
            }
            Item::Uids => {
                let (Some(netuid), Some(hotkey)) = (netuid_of(parts, 0), account_of(parts, 1))
                else {
                    return Ok(None);
                };
                let m = self.metagraph(netuid).await?;
                m.and_then(|m| {
                    m.neurons
                        .iter()
                        .find(|n| n.hotkey == hotkey)
                        .map(|n| n.uid.encode())
                })
            }
            Item::Keys | Item::BlockAtRegistration => {
                let (Some(netuid), Some(uid)) = (netuid_of(parts, 0), netuid_of(parts, 1)) else {
                    return Ok(None);
                };
                let m = self.metagraph(netuid).await?;
                m.and_then(|m| {
                    m.neurons
                        .iter()
                        .find(|n| n.uid == uid)
                        .map(|n| match spec.item {
                            Item::Keys => account(&n.hotkey).encode(),
                            _ => n.registration_block.encode(),
                        })
                })
            }
            Item::Weights | Item::Bonds => {
                let (Some(netuid), Some(uid)) = (netuid_of(parts, 0), netuid_of(parts, 1)) else {
                    return Ok(None);
                };
                if !chain.subnets().await?.contains(&netuid) {
                    return Ok(None);
                }
                let rows = if spec.item == Item::Weights {
                    chain.weights(netuid).await?
                } else {
                    chain.bonds(netuid).await?
                };
                rows.into_iter()
                    .find(|r| r.uid == uid && !r.weights.is_empty())
                    .map(|r| r.weights.encode())
            }
            Item::RevealPeriodEpochs => {
                let Some(netuid) = netuid_of(parts, 0) else {
                    return Ok(None);
                };
                self.metagraph(netuid)
                    .await?
                    .map(|m| m.hyperparameters.reveal_period_epochs.encode())
            }
            _ => {
                let Some(netuid) = netuid_of(parts, 0) else {
                    return Ok(None);
                };
                let m = self.metagraph(netuid).await?;
                let subnet = match &m {
                    Some(_) => Some(chain.subnet(netuid).await?),
                    None => None,
                };
                m.map(|m| subnet_value(spec.item, &m, subnet.as_ref(), self.block.number))
            }
        })
    }

    /// Every full key of `spec` starting with `prefix_parts`, sorted as bytes (what
    /// `state_getKeysPaged` pages through). System.Account lists the accounts of registered
    /// keys (hotkeys and their coldkeys).
    pub async fn keys(
        &self,
        spec: &ItemSpec,
        prefix_parts: &[KeyPart],
    ) -> ChainResult<Vec<Vec<u8>>> {
        let chain = self.chain;
        let mut out = BTreeSet::new();
        if spec.keys.is_empty() {
            if prefix_parts.is_empty() {
                out.insert(key(spec, &[]));
            }
            return Ok(out.into_iter().collect());
        }
        let subnets = chain.subnets().await?;
        for netuid in subnets {
            let m = chain.metagraph(netuid).await?;
            let candidates: Vec<Vec<KeyPart>> = match spec.item {
                Item::SystemAccount => m
                    .neurons
                    .iter()
                    .flat_map(|n| [n.hotkey, n.coldkey])
                    .map(|k| vec![KeyPart::Account(k.0)])
                    .collect(),
                Item::Owner => m
                    .neurons
                    .iter()
                    .map(|n| vec![KeyPart::Account(n.hotkey.0)])
                    .collect(),
                Item::IsNetworkMember | Item::TotalHotkeyAlpha => m
                    .neurons
                    .iter()
                    .map(|n| vec![KeyPart::Account(n.hotkey.0), KeyPart::U16(netuid)])
                    .collect(),
                Item::Uids => m
                    .neurons
                    .iter()
                    .map(|n| vec![KeyPart::U16(netuid), KeyPart::Account(n.hotkey.0)])
                    .collect(),
                Item::Keys | Item::BlockAtRegistration => m
                    .neurons
                    .iter()
                    .map(|n| vec![KeyPart::U16(netuid), KeyPart::U16(n.uid)])
                    .collect(),
                Item::Weights | Item::Bonds => {
                    let rows = if spec.item == Item::Weights {
                        chain.weights(netuid).await?
                    } else {
                        chain.bonds(netuid).await?
                    };
                    rows.iter()
                        .filter(|r| !r.weights.is_empty())
                        .map(|r| vec![KeyPart::U16(netuid), KeyPart::U16(r.uid)])
                        .collect()
                }
                Item::CommitmentOf => chain
                    .commitments(netuid)
                    .await?
                    .iter()
                    .map(|c| vec![KeyPart::U16(netuid), KeyPart::Account(c.hotkey.0)])
                    .collect(),
                _ => vec![vec![KeyPart::U16(netuid)]],
            };
            for parts in candidates {
                let matches = prefix_parts
                    .iter()
                    .enumerate()
                    .all(|(i, p)| parts.get(i) == Some(p));
                if matches {
                    out.insert(key(spec, &parts));
                }
            }
        }
        Ok(out.into_iter().collect())
    }
}

/// An account's `AccountInfo`: its nonce and the development endowment.
pub fn account_info(nonce: u64) -> AccountInfo {
    AccountInfo {
        nonce: nonce.min(u32::MAX as u64) as u32,
        consumers: 0,
        providers: 1,
        sufficients: 0,
        data: AccountData {
            free: DEV_ENDOWMENT,
            ..AccountData::default()
        },
    }
}

/// A commitment as the Commitments pallet stores it: one `Raw` field.
pub fn registration(c: &arena_chain::Commitment) -> Registration {
    Registration {
        deposit: 0,
        block: c.block.min(u32::MAX as u64) as u32,
        info: CommitmentInfo {
            fields: BoundedVec(vec![Data::Raw(c.data.clone())]),
        },
    }
}

fn subnet_value(
    item: Item,
    m: &Metagraph,
    subnet: Option<&arena_chain::SubnetInfo>,
    head: u64,
) -> Vec<u8> {
    let hp = &m.hyperparameters;
    let n = &m.neurons;
    match item {
        Item::NetworksAdded => true.encode(),
        Item::SubnetworkN => (n.len() as u16).encode(),
        Item::SubnetOwner => subnet
            .map(|s| account(&s.owner))
            .unwrap_or(AccountId32([0; 32]))
            .encode(),
        Item::Tempo => hp.tempo.encode(),
        Item::Rho => 10u16.encode(),
        Item::Kappa => hp.kappa.encode(),
        Item::ActivityCutoff => (hp.activity_cutoff.min(u16::MAX as u64) as u16).encode(),
        Item::MaxAllowedValidators => hp.max_allowed_validators.encode(),
        Item::MaxAllowedUids => hp.max_allowed_uids.encode(),
        Item::MinAllowedWeights => hp.min_allowed_weights.encode(),
        Item::MaxWeightsLimit => hp.max_weights_limit.encode(),
        Item::WeightsSetRateLimit => hp.weights_rate_limit.encode(),
        Item::WeightsVersionKey => hp.weights_version_key.encode(),
        Item::ImmunityPeriod => (hp.immunity_period.min(u16::MAX as u64) as u16).encode(),
        Item::CommitRevealWeightsEnabled => hp.commit_reveal_weights_enabled.encode(),
        Item::Burn => 0u64.encode(),
        Item::NetworkRegistrationAllowed => true.encode(),
        Item::TokenSymbol => TOKEN_SYMBOL.as_bytes().to_vec().encode(),
        Item::BlocksSinceLastStep => subnet
            .map_or(0, |s| head.saturating_sub(s.last_epoch_block))
            .encode(),
        Item::Active => n.iter().map(|x| x.active).collect::<Vec<_>>().encode(),
        Item::Consensus => n.iter().map(|x| x.consensus).collect::<Vec<_>>().encode(),
        Item::Incentive => n.iter().map(|x| x.incentive).collect::<Vec<_>>().encode(),
        Item::Dividends => n.iter().map(|x| x.dividends).collect::<Vec<_>>().encode(),
        Item::Emission => n.iter().map(|x| x.emission).collect::<Vec<_>>().encode(),
        Item::LastUpdate => n.iter().map(|x| x.last_update).collect::<Vec<_>>().encode(),
        Item::ValidatorTrust => n
            .iter()
            .map(|x| x.validator_trust)
            .collect::<Vec<_>>()
            .encode(),
        Item::ValidatorPermit => n
            .iter()
            .map(|x| x.validator_permit)
            .collect::<Vec<_>>()
            .encode(),
        _ => Vec::new(),
    }
}

/// The key of `item` with `parts` (for tests and the client side).
pub fn item_key(item: Item, parts: &[KeyPart]) -> Vec<u8> {
    key(spec(item), parts)
}
