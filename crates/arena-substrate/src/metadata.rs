//! The chain's own runtime metadata, built with `frame-metadata` from the types of
//! [`crate::types`]: V14 (what the Python SDK's `scalecodec` reads from `state_getMetadata`)
//! and V15 (what its `bt_decode` and arena's client read from `Metadata_metadata_at_version`),
//! over ONE type registry so that a type id means the same in both.
//!
//! It describes exactly what the embedded chain implements, with Subtensor's pallet, call,
//! storage and runtime-API names, pallet and call indices, hashers and value types (the
//! indices of Subtensor spec 343): System, Timestamp and Balances as far as clients read them,
//! SubtensorModule's registration, stake, weights and hyperparameter subset, and Commitments.
//! Every registry type carries Subtensor's path (`sp_core::crypto::AccountId32`, …): the
//! Python codec chooses its decoders by path.

use std::sync::OnceLock;

use frame_metadata::v14::{self, StorageEntryModifier, StorageEntryType, StorageHasher};
use frame_metadata::v15;
use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use parity_scale_codec::Encode;
use scale_info::{meta_type, IntoPortable, MetaType, PortableRegistry, Registry};

use crate::types::*;

/// `specName` of the runtime version.
pub const SPEC_NAME: &str = "arena-subtensor";
/// `specVersion`: signed payloads commit to it.
pub const SPEC_VERSION: u32 = 1;
/// `transactionVersion`: signed payloads commit to it.
pub const TRANSACTION_VERSION: u32 = 1;
/// Extrinsic format version (signed: 0x84, unsigned: 0x04).
pub const EXTRINSIC_VERSION: u8 = 4;
/// `Balances.ExistentialDeposit`, rao (Subtensor's value).
pub const EXISTENTIAL_DEPOSIT: u64 = 500;
/// `System.SS58Prefix`.
pub const SS58_PREFIX: u16 = 42;

/// How one storage key part is hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hasher {
    /// The key's bytes as they are.
    Identity,
    /// xxhash64 of the bytes, then the bytes.
    Twox64Concat,
    /// blake2-128 of the bytes, then the bytes.
    Blake2_128Concat,
}

/// The type of one storage key part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// A `u16` (netuid, uid).
    U16,
    /// An `AccountId32`.
    Account,
}

impl KeyKind {
    /// SCALE size of the key part.
    pub fn size(self) -> usize {
        match self {
            KeyKind::U16 => 2,
            KeyKind::Account => 32,
        }
    }
}

/// Every storage item the chain serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Item {
    SystemAccount,
    SystemEvents,
    SystemNumber,
    TimestampNow,
    TotalNetworks,
    NetworksAdded,
    SubnetworkN,
    SubnetOwner,
    Tempo,
    Rho,
    Kappa,
    ActivityCutoff,
    MaxAllowedValidators,
    MaxAllowedUids,
    MinAllowedWeights,
    MaxWeightsLimit,
    WeightsSetRateLimit,
    WeightsVersionKey,
    ImmunityPeriod,
    CommitRevealWeightsEnabled,
    RevealPeriodEpochs,
    CommitRevealWeightsVersion,
    Burn,
    NetworkRegistrationAllowed,
    BlocksSinceLastStep,
    Active,
    Consensus,
    Incentive,
    Dividends,
    Emission,
    LastUpdate,
    ValidatorTrust,
    ValidatorPermit,
    Uids,
    Keys,
    BlockAtRegistration,
    Weights,
    Bonds,
    IsNetworkMember,
    Owner,
    TotalHotkeyAlpha,
    TokenSymbol,
    CommitmentOf,
}

/// One storage item: where it lives, its keys, its value type and default.
pub struct ItemSpec {
    /// Which item.
    pub item: Item,
    /// Pallet name (the first half of the key prefix).
    pub pallet: &'static str,
    /// Item name (the second half).
    pub name: &'static str,
    /// `Optional` items answer `null` when absent; `Default` items answer their default.
    pub optional: bool,
    /// The key parts, in order.
    pub keys: &'static [(Hasher, KeyKind)],
    /// The value type.
    pub value: fn() -> MetaType,
    /// The SCALE default value.
    pub default: fn() -> Vec<u8>,
    /// One line of documentation.
    pub docs: &'static str,
}

use Hasher::*;
use KeyKind::*;

const NETUID: &[(Hasher, KeyKind)] = &[(Identity, U16)];
const NETUID_UID: &[(Hasher, KeyKind)] = &[(Identity, U16), (Identity, U16)];

macro_rules! spec {
    ($item:ident, $pallet:literal, $opt:literal, $keys:expr, $ty:ty, $default:expr, $docs:literal) => {
        ItemSpec {
            item: Item::$item,
            pallet: $pallet,
            name: stringify!($item),
            optional: $opt,
            keys: $keys,
            value: meta_type::<$ty>,
            default: || {
                let v: $ty = $default;
                v.encode()
            },
            docs: $docs,
        }
    };
}

/// The storage items, in metadata order within each pallet. Defaults are Subtensor's.
pub fn items() -> &'static [ItemSpec] {
    static ITEMS: OnceLock<Vec<ItemSpec>> = OnceLock::new();
    ITEMS.get_or_init(|| {
        let mut v = vec![
            ItemSpec {
                item: Item::SystemAccount,
                pallet: "System",
                name: "Account",
                optional: false,
                keys: &[(Blake2_128Concat, Account)],
                value: meta_type::<AccountInfo>,
                // pallet_balances' default flags carry `IS_NEW_LOGIC` (the top bit).
                default: || {
                    AccountInfo {
                        data: AccountData {
                            flags: ExtraFlags(1 << 127),
                            ..AccountData::default()
                        },
                        ..AccountInfo::default()
                    }
                    .encode()
                },
                docs: "Nonce and balances of an account.",
            },
            ItemSpec {
                item: Item::SystemEvents,
                pallet: "System",
                name: "Events",
                optional: false,
                keys: &[],
                value: meta_type::<Vec<EventRecord>>,
                default: || Vec::<EventRecord>::new().encode(),
                docs: "Events of the block: one ExtrinsicSuccess or ExtrinsicFailed per extrinsic.",
            },
            ItemSpec {
                item: Item::SystemNumber,
                pallet: "System",
                name: "Number",
                optional: false,
                keys: &[],
                value: meta_type::<u32>,
                default: || 0u32.encode(),
                docs: "The block number.",
            },
            ItemSpec {
                item: Item::TimestampNow,
                pallet: "Timestamp",
                name: "Now",
                optional: false,
                keys: &[],
                value: meta_type::<u64>,
                default: || 0u64.encode(),
                docs: "The block's time, in milliseconds since the Unix epoch.",
            },
        ];
        v.extend([
            spec!(
                TotalNetworks,
                "SubtensorModule",
                false,
                &[],
                u16,
                0,
                "Number of subnets."
            ),
            spec!(
                NetworksAdded,
                "SubtensorModule",
                false,
                NETUID,
                bool,
                false,
                "Whether the subnet exists."
            ),
            spec!(
                SubnetworkN,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                0,
                "Number of uids in the subnet."
            ),
            spec!(
                SubnetOwner,
                "SubtensorModule",
                false,
                NETUID,
                AccountId32,
                AccountId32([0; 32]),
                "Coldkey owning the subnet."
            ),
            spec!(
                Tempo,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                360,
                "Blocks between epochs."
            ),
            spec!(Rho, "SubtensorModule", false, NETUID, u16, 10, "Rho."),
            spec!(
                Kappa,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                32767,
                "Kappa."
            ),
            spec!(
                ActivityCutoff,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                5000,
                "Activity cutoff, blocks."
            ),
            spec!(
                MaxAllowedValidators,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                128,
                "Validator permits per subnet."
            ),
            spec!(
                MaxAllowedUids,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                4096,
                "Capacity of the subnet."
            ),
            spec!(
                MinAllowedWeights,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                1024,
                "Fewest weights a validator sets."
            ),
            spec!(
                MaxWeightsLimit,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                u16::MAX,
                "Largest weight, as a u16 fraction."
            ),
            spec!(
                WeightsSetRateLimit,
                "SubtensorModule",
                false,
                NETUID,
                u64,
                100,
                "Blocks between two set_weights of a hotkey."
            ),
            spec!(
                WeightsVersionKey,
                "SubtensorModule",
                false,
                NETUID,
                u64,
                0,
                "Lowest accepted weights version key."
            ),
            spec!(
                ImmunityPeriod,
                "SubtensorModule",
                false,
                NETUID,
                u16,
                4096,
                "Blocks a new uid cannot be pruned."
            ),
            spec!(
                CommitRevealWeightsEnabled,
                "SubtensorModule",
                false,
                NETUID,
                bool,
                true,
                "Whether weights go through commit-reveal (off on arena's chain)."
            ),
            ItemSpec {
                item: Item::RevealPeriodEpochs,
                pallet: "SubtensorModule",
                name: "RevealPeriodEpochs",
                optional: false,
                keys: &[(Twox64Concat, U16)],
                value: meta_type::<u64>,
                default: || 1u64.encode(),
                docs: "Epochs between a weights commit and its reveal.",
            },
            spec!(
                CommitRevealWeightsVersion,
                "SubtensorModule",
                false,
                &[],
                u16,
                4,
                "Commit-reveal version."
            ),
            spec!(
                Burn,
                "SubtensorModule",
                false,
                NETUID,
                u64,
                100_000_000,
                "Registration cost, rao (0 on arena's chain)."
            ),
            spec!(
                NetworkRegistrationAllowed,
                "SubtensorModule",
                false,
                NETUID,
                bool,
                true,
                "Whether registration is open."
            ),
            spec!(
                TokenSymbol,
                "SubtensorModule",
                false,
                NETUID,
                Vec<u8>,
                "\u{1D70F}".as_bytes().to_vec(),
                "The subnet token's symbol (UTF-8)."
            ),
            spec!(
                BlocksSinceLastStep,
                "SubtensorModule",
                false,
                NETUID,
                u64,
                0,
                "Blocks since the last epoch."
            ),
            spec!(
                Active,
                "SubtensorModule",
                false,
                NETUID,
                Vec<bool>,
                vec![],
                "Per uid: active."
            ),
            spec!(
                Consensus,
                "SubtensorModule",
                false,
                NETUID,
                Vec<u16>,
                vec![],
                "Per uid: consensus."
            ),
            spec!(
                Incentive,
                "SubtensorModule",
                false,
                NETUID,
                Vec<u16>,
                vec![],
                "Per uid: incentive."
            ),
            spec!(
                Dividends,
                "SubtensorModule",
                false,
                NETUID,
                Vec<u16>,
                vec![],
                "Per uid: dividends."
            ),
            spec!(
                Emission,
                "SubtensorModule",
                false,
                NETUID,
                Vec<u64>,
                vec![],
                "Per uid: emission, rao."
            ),
            spec!(
                LastUpdate,
                "SubtensorModule",
                false,
                NETUID,
                Vec<u64>,
                vec![],
                "Per uid: block of the last weights."
            ),
            spec!(
                ValidatorTrust,
                "SubtensorModule",
                false,
                NETUID,
                Vec<u16>,
                vec![],
                "Per uid: validator trust."
            ),
            spec!(
                ValidatorPermit,
                "SubtensorModule",
                false,
                NETUID,
                Vec<bool>,
                vec![],
                "Per uid: validator permit."
            ),
            ItemSpec {
                item: Item::Uids,
                pallet: "SubtensorModule",
                name: "Uids",
                optional: true,
                keys: &[(Identity, U16), (Blake2_128Concat, Account)],
                value: meta_type::<u16>,
                default: || vec![0],
                docs: "The uid of a hotkey on a subnet.",
            },
            spec!(
                Keys,
                "SubtensorModule",
                false,
                NETUID_UID,
                AccountId32,
                AccountId32([0; 32]),
                "The hotkey at a uid."
            ),
            spec!(
                BlockAtRegistration,
                "SubtensorModule",
                false,
                NETUID_UID,
                u64,
                0,
                "Block at which a uid was registered."
            ),
            spec!(
                Weights,
                "SubtensorModule",
                false,
                NETUID_UID,
                Vec<(u16, u16)>,
                vec![],
                "A uid's weights: (uid, weight)."
            ),
            spec!(
                Bonds,
                "SubtensorModule",
                false,
                NETUID_UID,
                Vec<(u16, u16)>,
                vec![],
                "A uid's bonds: (uid, bond)."
            ),
            ItemSpec {
                item: Item::IsNetworkMember,
                pallet: "SubtensorModule",
                name: "IsNetworkMember",
                optional: false,
                keys: &[(Blake2_128Concat, Account), (Identity, U16)],
                value: meta_type::<bool>,
                default: || false.encode(),
                docs: "Whether a hotkey is registered on a subnet.",
            },
            ItemSpec {
                item: Item::Owner,
                pallet: "SubtensorModule",
                name: "Owner",
                optional: false,
                keys: &[(Blake2_128Concat, Account)],
                value: meta_type::<AccountId32>,
                default: || AccountId32([0; 32]).encode(),
                docs: "The coldkey owning a hotkey.",
            },
            ItemSpec {
                item: Item::TotalHotkeyAlpha,
                pallet: "SubtensorModule",
                name: "TotalHotkeyAlpha",
                optional: false,
                keys: &[(Blake2_128Concat, Account), (Identity, U16)],
                value: meta_type::<u64>,
                default: || 0u64.encode(),
                docs: "Stake on a hotkey on a subnet, rao.",
            },
            ItemSpec {
                item: Item::CommitmentOf,
                pallet: "Commitments",
                name: "CommitmentOf",
                optional: true,
                keys: &[(Identity, U16), (Twox64Concat, Account)],
                value: meta_type::<Registration>,
                default: || vec![0],
                docs: "A hotkey's commitment on a subnet.",
            },
        ]);
        v
    })
}

/// The spec of `item`.
pub fn spec(item: Item) -> &'static ItemSpec {
    items()
        .iter()
        .find(|s| s.item == item)
        .expect("every Item has a spec")
}

fn key_meta(kind: KeyKind) -> MetaType {
    match kind {
        U16 => meta_type::<u16>(),
        Account => meta_type::<AccountId32>(),
    }
}

fn entry(spec: &ItemSpec) -> v14::StorageEntryMetadata {
    let ty = match spec.keys {
        [] => StorageEntryType::Plain((spec.value)()),
        keys => {
            let key = match keys {
                [(_, a)] => key_meta(*a),
                [(_, U16), (_, U16)] => meta_type::<(u16, u16)>(),
                [(_, U16), (_, Account)] => meta_type::<(u16, AccountId32)>(),
                [(_, Account), (_, U16)] => meta_type::<(AccountId32, u16)>(),
                _ => meta_type::<(AccountId32, AccountId32)>(),
            };
            StorageEntryType::Map {
                hashers: keys
                    .iter()
                    .map(|(h, _)| match h {
                        Identity => StorageHasher::Identity,
                        Twox64Concat => StorageHasher::Twox64Concat,
                        Blake2_128Concat => StorageHasher::Blake2_128Concat,
                    })
                    .collect(),
                key,
                value: (spec.value)(),
            }
        }
    };
    v14::StorageEntryMetadata {
        name: spec.name,
        modifier: if spec.optional {
            StorageEntryModifier::Optional
        } else {
            StorageEntryModifier::Default
        },
        ty,
        default: (spec.default)(),
        docs: vec![spec.docs],
    }
}

/// Pallet descriptions shared by V14 and V15 (V15 adds docs).
struct Pallet {
    name: &'static str,
    index: u8,
    calls: Option<MetaType>,
    event: Option<MetaType>,
    error: Option<MetaType>,
    constants: Vec<v14::PalletConstantMetadata>,
}

fn pallets() -> Vec<Pallet> {
    let constant = |name: &'static str, ty: MetaType, value: Vec<u8>, doc: &'static str| {
        v14::PalletConstantMetadata {
            name,
            ty,
            value,
            docs: vec![doc],
        }
    };
    vec![
        Pallet {
            name: "System",
            index: 0,
            calls: None,
            event: Some(meta_type::<SystemEvent>()),
            error: None,
            constants: vec![constant(
                "SS58Prefix",
                meta_type::<u16>(),
                SS58_PREFIX.encode(),
                "The SS58 prefix of addresses.",
            )],
        },
        Pallet {
            name: "Timestamp",
            index: 2,
            calls: None,
            event: None,
            error: None,
            constants: vec![],
        },
        Pallet {
            name: "Balances",
            index: 5,
            calls: None,
            event: None,
            error: None,
            constants: vec![constant(
                "ExistentialDeposit",
                meta_type::<u64>(),
                EXISTENTIAL_DEPOSIT.encode(),
                "Smallest balance an account may hold, rao.",
            )],
        },
        Pallet {
            name: "SubtensorModule",
            index: 7,
            calls: Some(meta_type::<SubtensorCall>()),
            event: Some(meta_type::<SubtensorEvent>()),
            error: Some(meta_type::<SubtensorError>()),
            constants: vec![],
        },
        Pallet {
            name: "Commitments",
            index: 18,
            calls: Some(meta_type::<CommitmentsCall>()),
            event: Some(meta_type::<CommitmentsEvent>()),
            error: Some(meta_type::<CommitmentsError>()),
            constants: vec![],
        },
        Pallet {
            name: "ArenaChain",
            index: ARENA_PALLET,
            calls: Some(meta_type::<ArenaCall>()),
            event: None,
            error: None,
            constants: vec![],
        },
    ]
}

fn storage_of(pallet: &str) -> Option<v14::PalletStorageMetadata> {
    let entries: Vec<_> = items()
        .iter()
        .filter(|s| s.pallet == pallet)
        .map(entry)
        .collect();
    (!entries.is_empty()).then(|| v14::PalletStorageMetadata {
        prefix: items()
            .iter()
            .find(|s| s.pallet == pallet)
            .map_or("", |s| s.pallet),
        entries,
    })
}

/// One runtime API method: (trait, method, inputs, output, docs).
struct Method {
    api: &'static str,
    name: &'static str,
    inputs: Vec<(&'static str, MetaType)>,
    output: MetaType,
}

fn methods() -> Vec<Method> {
    let m = |api, name, inputs, output| Method {
        api,
        name,
        inputs,
        output,
    };
    vec![
        m(
            "Metadata",
            "metadata",
            vec![],
            meta_type::<OpaqueMetadata>(),
        ),
        m(
            "Metadata",
            "metadata_at_version",
            vec![("version", meta_type::<u32>())],
            meta_type::<Option<OpaqueMetadata>>(),
        ),
        m(
            "Metadata",
            "metadata_versions",
            vec![],
            meta_type::<Vec<u32>>(),
        ),
        m(
            "AccountNonceApi",
            "account_nonce",
            vec![("account", meta_type::<AccountId32>())],
            meta_type::<u32>(),
        ),
        m(
            "TransactionPaymentApi",
            "query_info",
            vec![
                ("uxt", meta_type::<UncheckedExtrinsic>()),
                ("len", meta_type::<u32>()),
            ],
            meta_type::<RuntimeDispatchInfo>(),
        ),
        m(
            "NeuronInfoRuntimeApi",
            "get_neurons_lite",
            vec![("netuid", meta_type::<u16>())],
            meta_type::<Vec<NeuronInfoLite>>(),
        ),
        m(
            "NeuronInfoRuntimeApi",
            "get_neuron_lite",
            vec![("netuid", meta_type::<u16>()), ("uid", meta_type::<u16>())],
            meta_type::<Option<NeuronInfoLite>>(),
        ),
        m(
            "NeuronInfoRuntimeApi",
            "get_neuron",
            vec![("netuid", meta_type::<u16>()), ("uid", meta_type::<u16>())],
            meta_type::<Option<NeuronInfo>>(),
        ),
        m(
            "SubnetInfoRuntimeApi",
            "get_subnet_hyperparams_v2",
            vec![("netuid", meta_type::<u16>())],
            meta_type::<Option<SubnetHyperparamsV2>>(),
        ),
        m(
            "SubnetInfoRuntimeApi",
            "get_metagraph",
            vec![("netuid", meta_type::<u16>())],
            meta_type::<Option<Metagraph>>(),
        ),
        m(
            "SubnetInfoRuntimeApi",
            "get_selective_mechagraph",
            vec![
                ("netuid", meta_type::<u16>()),
                ("subid", meta_type::<u8>()),
                ("metagraph_indexes", meta_type::<Vec<u16>>()),
            ],
            meta_type::<Option<SelectiveMetagraph>>(),
        ),
        m(
            "SubnetInfoRuntimeApi",
            "get_subnet_state",
            vec![("netuid", meta_type::<u16>())],
            meta_type::<Option<SubnetState>>(),
        ),
        m(
            "StakeInfoRuntimeApi",
            "get_stake_info_for_hotkey_coldkey_netuid",
            vec![
                ("hotkey_account", meta_type::<AccountId32>()),
                ("coldkey_account", meta_type::<AccountId32>()),
                ("netuid", meta_type::<u16>()),
            ],
            meta_type::<Option<StakeInfo>>(),
        ),
        m(
            "SubnetRegistrationRuntimeApi",
            "get_network_registration_cost",
            vec![],
            meta_type::<u64>(),
        ),
        m(
            "SwapRuntimeApi",
            "sim_swap_tao_for_alpha",
            vec![("netuid", meta_type::<u16>()), ("tao", meta_type::<u64>())],
            meta_type::<SimSwapResult>(),
        ),
    ]
}

/// The runtime-API methods served, as `Trait_method` (the `state_call` names).
pub fn runtime_api_names() -> Vec<String> {
    methods()
        .iter()
        .map(|m| format!("{}_{}", m.api, m.name))
        .collect()
}

/// Subtensor's path for each registry type this crate defines (by the Rust type's name).
fn subtensor_path(ident: &str) -> Option<&'static str> {
    Some(match ident {
        "AccountId32" => "sp_core::crypto::AccountId32",
        "H256" => "primitive_types::H256",
        "MultiAddress" => "sp_runtime::multiaddress::MultiAddress",
        "MultiSignature" => "sp_runtime::MultiSignature",
        "CheckNonZeroSender" => {
            "frame_system::extensions::check_non_zero_sender::CheckNonZeroSender"
        }
        "CheckSpecVersion" => "frame_system::extensions::check_spec_version::CheckSpecVersion",
        "CheckTxVersion" => "frame_system::extensions::check_tx_version::CheckTxVersion",
        "CheckGenesis" => "frame_system::extensions::check_genesis::CheckGenesis",
        "CheckMortality" => "frame_system::extensions::check_mortality::CheckMortality",
        "CheckNonce" => "node_subtensor_runtime::check_nonce::CheckNonce",
        "CheckWeight" => "frame_system::extensions::check_weight::CheckWeight",
        "ChargeTransactionPayment" => "pallet_transaction_payment::ChargeTransactionPayment",
        "SubtensorTransactionExtension" => {
            "pallet_subtensor::transaction_extension::SubtensorTransactionExtension"
        }
        "DrandPriority" => "pallet_drand::drand_priority::DrandPriority",
        "Mode" => "frame_metadata_hash_extension::Mode",
        "CheckMetadataHash" => "frame_metadata_hash_extension::CheckMetadataHash",
        "ExtraFlags" => "pallet_balances::types::ExtraFlags",
        "AccountData" => "pallet_balances::types::AccountData",
        "AccountInfo" => "frame_system::AccountInfo",
        "Weight" => "sp_weights::weight_v2::Weight",
        "DispatchClass" => "frame_support::dispatch::DispatchClass",
        "Pays" => "frame_support::dispatch::Pays",
        "DispatchEventInfo" => "frame_system::DispatchEventInfo",
        "ModuleError" => "sp_runtime::ModuleError",
        "DispatchError" => "sp_runtime::DispatchError",
        "SystemEvent" => "frame_system::pallet::Event",
        "SubtensorEvent" => "pallet_subtensor::pallet::Event",
        "CommitmentsEvent" => "pallet_commitments::pallet::Event",
        "RuntimeEvent" => "node_subtensor_runtime::RuntimeEvent",
        "Phase" => "frame_system::Phase",
        "EventRecord" => "frame_system::EventRecord",
        "BoundedVec" => "bounded_collections::bounded_vec::BoundedVec",
        "SubtensorCall" => "pallet_subtensor::pallet::Call",
        "CommitmentInfo" => "pallet_commitments::types::CommitmentInfo",
        "Registration" => "pallet_commitments::types::Registration",
        "CommitmentsCall" => "pallet_commitments::pallet::Call",
        "ArenaCall" => "pallet_arena::pallet::Call",
        "RuntimeCall" => "node_subtensor_runtime::RuntimeCall",
        "SubtensorError" => "pallet_subtensor::pallet::Error",
        "CommitmentsError" => "pallet_commitments::pallet::Error",
        "RuntimeError" => "node_subtensor_runtime::RuntimeError",
        "Runtime" => "node_subtensor_runtime::Runtime",
        "AxonInfo" => "pallet_subtensor::pallet::AxonInfo",
        "PrometheusInfo" => "pallet_subtensor::pallet::PrometheusInfo",
        "NeuronInfoLite" => "pallet_subtensor::rpc_info::neuron_info::NeuronInfoLite",
        "NeuronInfo" => "pallet_subtensor::rpc_info::neuron_info::NeuronInfo",
        "FixedI64" => "substrate_fixed::FixedI64",
        "FixedI128" => "substrate_fixed::FixedI128",
        "SubnetIdentityV3" => "pallet_subtensor::pallet::SubnetIdentityV3",
        "ChainIdentityV2" => "pallet_subtensor::pallet::ChainIdentityV2",
        "SubnetHyperparamsV2" => "pallet_subtensor::rpc_info::subnet_info::SubnetHyperparamsV2",
        "SubnetState" => "pallet_subtensor::rpc_info::show_subnet::SubnetState",
        "Metagraph" => "pallet_subtensor::rpc_info::metagraph::Metagraph",
        "SelectiveMetagraph" => "pallet_subtensor::rpc_info::metagraph::SelectiveMetagraph",
        "StakeInfo" => "pallet_subtensor::rpc_info::stake_info::StakeInfo",
        "SimSwapResult" => "pallet_subtensor_swap_runtime_api::SimSwapResult",
        "RuntimeDispatchInfo" => "pallet_transaction_payment::types::RuntimeDispatchInfo",
        "OpaqueMetadata" => "sp_core::OpaqueMetadata",
        _ => return None,
    })
}

/// The encoded metadata of both versions (`RuntimeMetadataPrefixed`: `meta` magic, version
/// byte, body). Built once.
pub struct Encoded {
    /// V14.
    pub v14: Vec<u8>,
    /// V15.
    pub v15: Vec<u8>,
}

/// The chain's metadata, encoded.
pub fn encoded() -> &'static Encoded {
    static META: OnceLock<Encoded> = OnceLock::new();
    META.get_or_init(build)
}

fn build() -> Encoded {
    let mut reg = Registry::new();
    // Id 0 is the account type: the Python SDK decodes `scale_info::0` as an account.
    reg.register_type(&meta_type::<AccountId32>());
    let pallets = pallets();
    let pallets14: Vec<v14::PalletMetadata<_>> = pallets
        .iter()
        .map(|p| {
            v14::PalletMetadata {
                name: p.name,
                storage: storage_of(p.name),
                calls: p.calls.map(|ty| v14::PalletCallMetadata { ty }),
                event: p.event.map(|ty| v14::PalletEventMetadata { ty }),
                constants: p.constants.clone(),
                error: p.error.map(|ty| v14::PalletErrorMetadata { ty }),
                index: p.index,
            }
            .into_portable(&mut reg)
        })
        .collect();
    let pallets15: Vec<v15::PalletMetadata<_>> = pallets
        .iter()
        .map(|p| {
            v15::PalletMetadata {
                name: p.name,
                storage: storage_of(p.name),
                calls: p.calls.map(|ty| v14::PalletCallMetadata { ty }),
                event: p.event.map(|ty| v14::PalletEventMetadata { ty }),
                constants: p.constants.clone(),
                error: p.error.map(|ty| v14::PalletErrorMetadata { ty }),
                index: p.index,
                docs: vec![],
            }
            .into_portable(&mut reg)
        })
        .collect();
    let extensions = || {
        let ext = |identifier, ty: MetaType, additional_signed: MetaType| {
            (identifier, ty, additional_signed)
        };
        vec![
            ext(
                "CheckNonZeroSender",
                meta_type::<CheckNonZeroSender>(),
                meta_type::<()>(),
            ),
            ext(
                "CheckSpecVersion",
                meta_type::<CheckSpecVersion>(),
                meta_type::<u32>(),
            ),
            ext(
                "CheckTxVersion",
                meta_type::<CheckTxVersion>(),
                meta_type::<u32>(),
            ),
            ext(
                "CheckGenesis",
                meta_type::<CheckGenesis>(),
                meta_type::<H256>(),
            ),
            ext(
                "CheckMortality",
                meta_type::<CheckMortality>(),
                meta_type::<H256>(),
            ),
            ext("CheckNonce", meta_type::<CheckNonce>(), meta_type::<()>()),
            ext("CheckWeight", meta_type::<CheckWeight>(), meta_type::<()>()),
            ext(
                "ChargeTransactionPayment",
                meta_type::<ChargeTransactionPayment>(),
                meta_type::<()>(),
            ),
            ext(
                "SubtensorTransactionExtension",
                meta_type::<SubtensorTransactionExtension>(),
                meta_type::<()>(),
            ),
            ext(
                "DrandPriority",
                meta_type::<DrandPriority>(),
                meta_type::<()>(),
            ),
            ext(
                "CheckMetadataHash",
                meta_type::<CheckMetadataHash>(),
                meta_type::<Option<[u8; 32]>>(),
            ),
        ]
    };
    let extrinsic14 = v14::ExtrinsicMetadata {
        ty: meta_type::<UncheckedExtrinsic>(),
        version: EXTRINSIC_VERSION,
        signed_extensions: extensions()
            .into_iter()
            .map(
                |(identifier, ty, additional_signed)| v14::SignedExtensionMetadata {
                    identifier,
                    ty,
                    additional_signed,
                },
            )
            .collect(),
    }
    .into_portable(&mut reg);
    let extrinsic15 = v15::ExtrinsicMetadata {
        version: EXTRINSIC_VERSION,
        address_ty: meta_type::<Address>(),
        call_ty: meta_type::<RuntimeCall>(),
        signature_ty: meta_type::<MultiSignature>(),
        extra_ty: meta_type::<ExtraTuple>(),
        signed_extensions: extensions()
            .into_iter()
            .map(
                |(identifier, ty, additional_signed)| v15::SignedExtensionMetadata {
                    identifier,
                    ty,
                    additional_signed,
                },
            )
            .collect(),
    }
    .into_portable(&mut reg);
    let mut apis: Vec<v15::RuntimeApiMetadata> = Vec::new();
    for m in methods() {
        let method = v15::RuntimeApiMethodMetadata {
            name: m.name,
            inputs: m
                .inputs
                .into_iter()
                .map(|(name, ty)| v15::RuntimeApiMethodParamMetadata { name, ty })
                .collect(),
            output: m.output,
            docs: vec![],
        };
        match apis.iter_mut().find(|a| a.name == m.api) {
            Some(api) => api.methods.push(method),
            None => apis.push(v15::RuntimeApiMetadata {
                name: m.api,
                methods: vec![method],
                docs: vec![],
            }),
        }
    }
    let apis: Vec<_> = apis
        .into_iter()
        .map(|a| a.into_portable(&mut reg))
        .collect();
    let outer = v15::OuterEnums {
        call_enum_ty: meta_type::<RuntimeCall>(),
        event_enum_ty: meta_type::<RuntimeEvent>(),
        error_enum_ty: meta_type::<RuntimeError>(),
    }
    .into_portable(&mut reg);
    let runtime_ty = reg.register_type(&meta_type::<Runtime>());
    let mut types: PortableRegistry = reg.into();
    for t in types.types.iter_mut() {
        let segments = &t.ty.path.segments;
        if segments.first().map(String::as_str) == Some("arena_substrate") {
            if let Some(path) = segments.last().and_then(|ident| subtensor_path(ident)) {
                t.ty.path.segments = path.split("::").map(str::to_string).collect();
            }
        }
    }
    let v14 = RuntimeMetadataPrefixed(
        frame_metadata::META_RESERVED,
        RuntimeMetadata::V14(v14::RuntimeMetadataV14 {
            types: types.clone(),
            pallets: pallets14,
            extrinsic: extrinsic14,
            ty: runtime_ty,
        }),
    );
    let v15 = RuntimeMetadataPrefixed(
        frame_metadata::META_RESERVED,
        RuntimeMetadata::V15(v15::RuntimeMetadataV15 {
            types,
            pallets: pallets15,
            extrinsic: extrinsic15,
            ty: runtime_ty,
            apis,
            outer_enums: outer,
            custom: v15::CustomMetadata {
                map: Default::default(),
            },
        }),
    );
    Encoded {
        v14: v14.encode(),
        v15: v15.encode(),
    }
}

/// `Option<OpaqueMetadata>` of a version, as `Metadata_metadata_at_version` answers.
pub fn at_version(version: u32) -> Vec<u8> {
    let bytes = match version {
        14 => Some(OpaqueMetadata(encoded().v14.clone())),
        15 => Some(OpaqueMetadata(encoded().v15.clone())),
        _ => None,
    };
    bytes.encode()
}

/// The versions served by `Metadata_metadata_versions`.
pub const VERSIONS: [u32; 2] = [14, 15];

#[cfg(test)]
mod tests {
    use super::*;

    /// Clients cache metadata by genesis and spec version (bittensor 11 on disk, arena's
    /// client in memory): a metadata change without a new `SPEC_VERSION` would leave them
    /// decoding with stale types. When this fails, raise `SPEC_VERSION` and record the hash.
    #[test]
    fn the_spec_version_names_one_metadata() {
        let hash = hex::encode(sp_crypto_hashing::blake2_256(&encoded().v15));
        assert_eq!(
            (SPEC_VERSION, hash.as_str()),
            (
                1,
                "977bff37b3cf69300ffaa1150d2e0a54df76579b4a1c698a9d52df231c6f33b0"
            ),
            "the metadata changed: raise SPEC_VERSION and record the new hash"
        );
    }
}
