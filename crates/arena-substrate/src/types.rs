//! The SCALE types the embedded chain shows to Substrate clients, with Subtensor's field names,
//! field order, integer widths and compact markers. One Rust type per registry type: the same
//! definitions encode the values served, decode the extrinsics received and describe both in
//! the metadata ([`crate::metadata`] gives each type Subtensor's path, which the Python codec
//! matches on).

use parity_scale_codec::{Compact, Decode, Encode, Error as CodecError, Input, Output};
use scale_info::{build::Fields, build::Variants, Path, Type, TypeInfo};

/// `sp_core::crypto::AccountId32`: a 32-byte public key. Registered first, so its type id is
/// 0 (the Python SDK decodes `scale_info::0` as an account).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, TypeInfo,
)]
pub struct AccountId32(pub [u8; 32]);

/// `primitive_types::H256`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct H256(pub [u8; 32]);

/// `sp_runtime::multiaddress::MultiAddress<AccountId, AccountIndex>`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum MultiAddress<AccountId, AccountIndex: parity_scale_codec::HasCompact> {
    /// An account id.
    #[codec(index = 0)]
    Id(AccountId),
    /// An account index (not used by Subtensor).
    #[codec(index = 1)]
    Index(#[codec(compact)] AccountIndex),
    /// Raw bytes.
    #[codec(index = 2)]
    Raw(Vec<u8>),
    /// A 32-byte address.
    #[codec(index = 3)]
    Address32([u8; 32]),
    /// A 20-byte address.
    #[codec(index = 4)]
    Address20([u8; 20]),
}

/// Subtensor's address type (its `AccountIndex` is `()`: `Index` carries no bytes).
pub type Address = MultiAddress<AccountId32, ()>;

/// `sp_runtime::MultiSignature`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum MultiSignature {
    /// ed25519 (refused here: Bittensor keys are sr25519).
    #[codec(index = 0)]
    Ed25519([u8; 64]),
    /// sr25519.
    #[codec(index = 1)]
    Sr25519([u8; 64]),
    /// ecdsa (refused here).
    #[codec(index = 2)]
    Ecdsa([u8; 65]),
}

/// `sp_runtime::generic::era::Era`: immortal (one zero byte) or mortal (two bytes: the period's
/// power of two and the quantized phase). Described in the metadata as Substrate does, with
/// the variants `Immortal`, `Mortal1` … `Mortal255`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Era {
    /// Valid forever (the birth block is genesis).
    Immortal,
    /// Valid for `period` blocks from the block whose number is `phase` modulo `period`.
    Mortal {
        /// A power of two in 4..=65536.
        period: u64,
        /// Below `period`.
        phase: u64,
    },
}

impl Era {
    /// The block an era was created at, seen from block `current` (Substrate's `birth`).
    pub fn birth(&self, current: u64) -> u64 {
        match *self {
            Era::Immortal => 0,
            Era::Mortal { period, phase } => (current.max(phase) - phase) / period * period + phase,
        }
    }

    /// The first block at which it is no longer valid, seen from `current`.
    pub fn death(&self, current: u64) -> u64 {
        match *self {
            Era::Immortal => u64::MAX,
            Era::Mortal { period, .. } => self.birth(current) + period,
        }
    }
}

impl Encode for Era {
    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        match *self {
            Era::Immortal => dest.push_byte(0),
            Era::Mortal { period, phase } => {
                let quantize_factor = (period >> 12).max(1);
                let encoded = (period.trailing_zeros().saturating_sub(1).clamp(1, 15) as u16)
                    | (((phase / quantize_factor) << 4) as u16);
                encoded.encode_to(dest);
            }
        }
    }
}

impl Decode for Era {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        let first = input.read_byte()?;
        if first == 0 {
            return Ok(Era::Immortal);
        }
        let encoded = first as u64 + ((input.read_byte()? as u64) << 8);
        let period = 2u64 << (encoded % (1 << 4));
        let quantize_factor = (period >> 12).max(1);
        let phase = (encoded >> 4) * quantize_factor;
        if period >= 4 && phase < period {
            Ok(Era::Mortal { period, phase })
        } else {
            Err("invalid mortal era".into())
        }
    }
}

impl TypeInfo for Era {
    type Identity = Self;
    fn type_info() -> Type {
        let mut variants = Variants::new().variant("Immortal", |v| v.index(0));
        for i in 1..=255u8 {
            let name: &'static str = Box::leak(format!("Mortal{i}").into_boxed_str());
            variants = variants.variant(name, |v| {
                v.index(i).fields(Fields::unnamed().field(|f| f.ty::<u8>()))
            });
        }
        Type::builder()
            .path(Path::new("Era", "sp_runtime::generic::era"))
            .variant(variants)
    }
}

/// The signed part of every extrinsic that carries data, in the order of the metadata's
/// transaction extensions (`CheckMortality`, `CheckNonce`, `ChargeTransactionPayment`,
/// `CheckMetadataHash`; the others are empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Extra {
    /// `CheckMortality`.
    pub era: Era,
    /// `CheckNonce`.
    pub nonce: Compact<u32>,
    /// `ChargeTransactionPayment` (the tip).
    pub tip: Compact<u64>,
    /// `CheckMetadataHash` mode: 0 disabled, 1 enabled.
    pub metadata_hash_mode: u8,
}

/// One empty transaction extension (`CheckNonZeroSender`, `CheckWeight`, …): the type is a
/// unit struct with its Subtensor path.
macro_rules! empty_extension {
    ($name:ident) => {
        #[doc = concat!("The `", stringify!($name), "` transaction extension (no data).")]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
        pub struct $name;
    };
}
empty_extension!(CheckNonZeroSender);
empty_extension!(CheckSpecVersion);
empty_extension!(CheckTxVersion);
empty_extension!(CheckGenesis);
empty_extension!(CheckWeight);
empty_extension!(SubtensorTransactionExtension);
empty_extension!(DrandPriority);

/// `CheckMortality(Era)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct CheckMortality(pub Era);

/// `CheckNonce(Compact<u32>)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct CheckNonce(#[codec(compact)] pub u32);

/// `ChargeTransactionPayment(Compact<u64>)`: the tip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ChargeTransactionPayment(#[codec(compact)] pub u64);

/// `frame_metadata_hash_extension::Mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Mode {
    /// No metadata hash in the signed payload.
    #[codec(index = 0)]
    Disabled,
    /// The payload carries the metadata hash (refused here: arena does not compute it).
    #[codec(index = 1)]
    Enabled,
}

/// `CheckMetadataHash { mode }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct CheckMetadataHash {
    /// The mode byte.
    pub mode: Mode,
}

/// The tuple of every transaction extension, in order (the metadata's `extra_ty`).
pub type ExtraTuple = (
    CheckNonZeroSender,
    CheckSpecVersion,
    CheckTxVersion,
    CheckGenesis,
    CheckMortality,
    CheckNonce,
    CheckWeight,
    ChargeTransactionPayment,
    SubtensorTransactionExtension,
    DrandPriority,
    CheckMetadataHash,
);

/// `sp_runtime::generic::unchecked_extrinsic::UncheckedExtrinsic<Address, Call, Signature,
/// Extra>`: only its description (the Python codec finds the address and signature types
/// through its parameter names); extrinsics are decoded by [`crate::extrinsic`].
pub struct UncheckedExtrinsic;

impl TypeInfo for UncheckedExtrinsic {
    type Identity = Self;
    fn type_info() -> Type {
        Type::builder()
            .path(Path::new(
                "UncheckedExtrinsic",
                "sp_runtime::generic::unchecked_extrinsic",
            ))
            .type_params(vec![
                scale_info::TypeParameter::new("Address", Some(scale_info::meta_type::<Address>())),
                scale_info::TypeParameter::new(
                    "Call",
                    Some(scale_info::meta_type::<RuntimeCall>()),
                ),
                scale_info::TypeParameter::new(
                    "Signature",
                    Some(scale_info::meta_type::<MultiSignature>()),
                ),
                scale_info::TypeParameter::new(
                    "Extra",
                    Some(scale_info::meta_type::<ExtraTuple>()),
                ),
            ])
            .composite(Fields::unnamed().field(|f| f.ty::<Vec<u8>>()))
    }
}

// ---- System and Balances -------------------------------------------------------------------

/// `pallet_balances::types::ExtraFlags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ExtraFlags(pub u128);

/// `pallet_balances::types::AccountData<u64>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AccountData {
    /// Spendable balance, in rao.
    pub free: u64,
    /// Reserved balance.
    pub reserved: u64,
    /// Frozen balance.
    pub frozen: u64,
    /// Flags.
    pub flags: ExtraFlags,
}

/// `frame_system::AccountInfo<u32, AccountData>`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AccountInfo {
    /// Next nonce.
    pub nonce: u32,
    /// Consumers.
    pub consumers: u32,
    /// Providers.
    pub providers: u32,
    /// Sufficients.
    pub sufficients: u32,
    /// Balances.
    pub data: AccountData,
}

/// `sp_weights::weight_v2::Weight`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Weight {
    /// Computation time.
    #[codec(compact)]
    pub ref_time: u64,
    /// Proof size.
    #[codec(compact)]
    pub proof_size: u64,
}

/// `frame_support::dispatch::DispatchClass`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum DispatchClass {
    /// A normal transaction.
    #[codec(index = 0)]
    Normal,
    /// Operational.
    #[codec(index = 1)]
    Operational,
    /// Mandatory (inherents).
    #[codec(index = 2)]
    Mandatory,
}

/// `frame_support::dispatch::Pays`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Pays {
    /// The sender pays a fee.
    #[codec(index = 0)]
    Yes,
    /// No fee.
    #[codec(index = 1)]
    No,
}

/// `frame_system::DispatchEventInfo`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct DispatchEventInfo {
    /// Weight used.
    pub weight: Weight,
    /// Class.
    pub class: DispatchClass,
    /// Whether a fee was paid.
    pub pays_fee: Pays,
}

/// `sp_runtime::ModuleError`: the pallet's index and the error's variant index (first byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ModuleError {
    /// Pallet index.
    pub index: u8,
    /// Error variant index, then three zero bytes.
    pub error: [u8; 4],
}

/// `sp_runtime::DispatchError` (the variants arena raises or a client may match on).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum DispatchError {
    /// Some other error.
    #[codec(index = 0)]
    Other,
    /// Failed to look up an account.
    #[codec(index = 1)]
    CannotLookup,
    /// Wrong origin.
    #[codec(index = 2)]
    BadOrigin,
    /// A pallet's own error.
    #[codec(index = 3)]
    Module(ModuleError),
}

/// `frame_system::pallet::Event` (the two events of an applied extrinsic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum SystemEvent {
    /// The extrinsic succeeded.
    #[codec(index = 0)]
    ExtrinsicSuccess {
        /// Its weight and class.
        dispatch_info: DispatchEventInfo,
    },
    /// The extrinsic failed; it was included and its nonce used.
    #[codec(index = 1)]
    ExtrinsicFailed {
        /// Why.
        dispatch_error: DispatchError,
        /// Its weight and class.
        dispatch_info: DispatchEventInfo,
    },
}

/// `pallet_subtensor::pallet::Event` (the events of the calls arena dispatches).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum SubtensorEvent {
    /// A subnet was added: (netuid, modality).
    #[codec(index = 0)]
    NetworkAdded(u16, u16),
    /// Stake was added: (coldkey, hotkey, tao, alpha, netuid, fee).
    #[codec(index = 2)]
    StakeAdded(AccountId32, AccountId32, u64, u64, u16, u64),
    /// Weights were set: (netuid, uid).
    #[codec(index = 5)]
    WeightsSet(u16, u16),
    /// A neuron was registered: (netuid, uid, hotkey).
    #[codec(index = 6)]
    NeuronRegistered(u16, u16, AccountId32),
}

/// `pallet_commitments::pallet::Event`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum CommitmentsEvent {
    /// A commitment was set.
    #[codec(index = 0)]
    Commitment {
        /// The subnet.
        netuid: u16,
        /// The committing hotkey.
        who: AccountId32,
    },
}

/// `node_subtensor_runtime::RuntimeEvent` (variant index = pallet index).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum RuntimeEvent {
    /// System.
    #[codec(index = 0)]
    System(SystemEvent),
    /// SubtensorModule.
    #[codec(index = 7)]
    SubtensorModule(SubtensorEvent),
    /// Commitments.
    #[codec(index = 18)]
    Commitments(CommitmentsEvent),
}

/// `frame_system::Phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum Phase {
    /// Applying the extrinsic at this index of the block.
    #[codec(index = 0)]
    ApplyExtrinsic(u32),
    /// Finalising the block.
    #[codec(index = 1)]
    Finalization,
    /// Initialising the block.
    #[codec(index = 2)]
    Initialization,
}

/// `frame_system::EventRecord<RuntimeEvent, H256>`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct EventRecord {
    /// When.
    pub phase: Phase,
    /// What.
    pub event: RuntimeEvent,
    /// Topics (always empty here).
    pub topics: Vec<H256>,
}

// ---- Calls ---------------------------------------------------------------------------------

/// `bounded_collections::bounded_vec::BoundedVec<T>`: a vector the runtime bounds.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct BoundedVec<T>(pub Vec<T>);

/// `pallet_subtensor::pallet::Call`: the dispatchables arena implements, at Subtensor's call
/// indices.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[allow(non_camel_case_types)]
pub enum SubtensorCall {
    /// Sets the signing hotkey's weights.
    #[codec(index = 0)]
    set_weights {
        /// Subnet.
        netuid: u16,
        /// Destination uids.
        dests: Vec<u16>,
        /// Weights.
        weights: Vec<u16>,
        /// Version key.
        version_key: u64,
    },
    /// Stakes `amount_staked` rao on a hotkey (signed by a coldkey).
    #[codec(index = 2)]
    add_stake {
        /// The hotkey.
        hotkey: AccountId32,
        /// Subnet.
        netuid: u16,
        /// Rao.
        amount_staked: u64,
    },
    /// Registers `hotkey` on a subnet (signed by its coldkey).
    #[codec(index = 7)]
    burned_register {
        /// Subnet.
        netuid: u16,
        /// The hotkey.
        hotkey: AccountId32,
    },
    /// Registers a new subnet owned by the signing coldkey.
    #[codec(index = 59)]
    register_network {
        /// The owner's hotkey.
        hotkey: AccountId32,
    },
    /// `add_stake` with a price limit (no price on arena's chain: staked at 1:1).
    #[codec(index = 88)]
    add_stake_limit {
        /// The hotkey.
        hotkey: AccountId32,
        /// Subnet.
        netuid: u16,
        /// Rao.
        amount_staked: u64,
        /// Price limit.
        limit_price: u64,
        /// Partial fills allowed.
        allow_partial: bool,
    },
    /// `set_weights` for one mechanism (arena has mechanism 0 only).
    #[codec(index = 119)]
    set_mechanism_weights {
        /// Subnet.
        netuid: u16,
        /// Mechanism id.
        mecid: u8,
        /// Destination uids.
        dests: Vec<u16>,
        /// Weights.
        weights: Vec<u16>,
        /// Version key.
        version_key: u64,
    },
}

/// `pallet_commitments::types::Data`: `None`, `Raw0`…`Raw128` (byte n + 1, then n bytes, no
/// length prefix), then the hash variants. Only `Raw` fields carry a model pointer; the rest
/// decode so that a client sees a precise error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    /// No data.
    None,
    /// Raw bytes, at most 128.
    Raw(Vec<u8>),
    /// A hash (`BlakeTwo256`, `Sha256`, `Keccak256`, `ShaThree256`: tag 130–133).
    Hash(u8, [u8; 32]),
}

/// Largest `Raw` field.
pub const MAX_RAW: usize = 128;

impl Encode for Data {
    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        match self {
            Data::None => dest.push_byte(0),
            Data::Raw(bytes) => {
                dest.push_byte(bytes.len().min(MAX_RAW) as u8 + 1);
                dest.write(&bytes[..bytes.len().min(MAX_RAW)]);
            }
            Data::Hash(tag, h) => {
                dest.push_byte(*tag);
                dest.write(h);
            }
        }
    }
}

impl Decode for Data {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        match input.read_byte()? {
            0 => Ok(Data::None),
            n @ 1..=129 => {
                let mut bytes = vec![0u8; n as usize - 1];
                input.read(&mut bytes)?;
                Ok(Data::Raw(bytes))
            }
            tag @ 130..=133 => {
                let mut h = [0u8; 32];
                input.read(&mut h)?;
                Ok(Data::Hash(tag, h))
            }
            _ => Err("Data variant not supported on arena's chain (TimelockEncrypted, ResetBondsFlag, BigRaw)".into()),
        }
    }
}

impl TypeInfo for Data {
    type Identity = Self;
    fn type_info() -> Type {
        let mut variants = Variants::new().variant("None", |v| v.index(0));
        for n in 0..=MAX_RAW {
            let name: &'static str = Box::leak(format!("Raw{n}").into_boxed_str());
            variants = variants.variant(name, |v| {
                v.index(n as u8 + 1)
                    .fields(Fields::unnamed().field(|f| raw_array(f, n)))
            });
        }
        for (i, name) in ["BlakeTwo256", "Sha256", "Keccak256", "ShaThree256"]
            .into_iter()
            .enumerate()
        {
            variants = variants.variant(name, |v| {
                v.index(130 + i as u8)
                    .fields(Fields::unnamed().field(|f| f.ty::<[u8; 32]>()))
            });
        }
        Type::builder()
            .path(Path::new("Data", "pallet_commitments::types"))
            .variant(variants)
    }
}

macro_rules! arrays {
    ($f:ident, $n:ident; $($len:literal)*) => {
        match $n { $( $len => $f.ty::<[u8; $len]>(), )* _ => $f.ty::<[u8; 128]>() }
    };
}

/// The field type `[u8; n]` for `n` in 0..=128 (one registry type per length, as in
/// Subtensor's metadata).
fn raw_array(
    f: scale_info::build::FieldBuilder,
    n: usize,
) -> scale_info::build::FieldBuilder<
    scale_info::form::MetaForm,
    scale_info::build::field_state::NameNotAssigned,
    scale_info::build::field_state::TypeAssigned,
> {
    arrays!(f, n; 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
        30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59
        60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83 84 85 86 87 88 89
        90 91 92 93 94 95 96 97 98 99 100 101 102 103 104 105 106 107 108 109 110 111 112 113 114
        115 116 117 118 119 120 121 122 123 124 125 126 127 128)
}

/// `pallet_commitments::types::CommitmentInfo`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct CommitmentInfo {
    /// The fields (arena reads the first `Raw` one).
    pub fields: BoundedVec<Data>,
}

/// `pallet_commitments::types::Registration<u64, u32>`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Registration {
    /// Deposit held.
    pub deposit: u64,
    /// Block of the commitment.
    pub block: u32,
    /// The commitment.
    pub info: CommitmentInfo,
}

/// `pallet_commitments::pallet::Call`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[allow(non_camel_case_types)]
pub enum CommitmentsCall {
    /// Sets the signing hotkey's commitment on a subnet.
    #[codec(index = 0)]
    set_commitment {
        /// Subnet.
        netuid: u16,
        /// The fields.
        info: Box<CommitmentInfo>,
    },
}

/// Index of arena's own pallet, `ArenaChain` (no Subtensor pallet uses it).
pub const ARENA_PALLET: u8 = 64;

/// `pallet_arena::pallet::Call`: how blocks show the extrinsics signed with arena's own
/// payload (`arena_submitExtrinsic`: arena's miners, validators and feed). They appear as
/// bare extrinsics of this call, so every extrinsic of a block decodes with this metadata.
/// Not dispatchable through Substrate's `author_*` methods.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[allow(non_camel_case_types)]
pub enum ArenaCall {
    /// An arena extrinsic: its payload (domain, genesis, signer, nonce, call) and signature.
    #[codec(index = 0)]
    arena_extrinsic {
        /// The bytes as arena encodes them.
        extrinsic: Vec<u8>,
    },
}

/// `node_subtensor_runtime::RuntimeCall` (variant index = pallet index).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum RuntimeCall {
    /// SubtensorModule.
    #[codec(index = 7)]
    SubtensorModule(SubtensorCall),
    /// Commitments.
    #[codec(index = 18)]
    Commitments(CommitmentsCall),
    /// Arena's own extrinsics, as blocks show them.
    #[codec(index = 64)]
    ArenaChain(ArenaCall),
}

// ---- Errors --------------------------------------------------------------------------------

/// `pallet_subtensor::pallet::Error`: the errors arena raises, at Subtensor's indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum SubtensorError {
    /// The hotkey is not registered on the subnet.
    #[codec(index = 4)]
    HotKeyNotRegisteredInSubNet,
    /// The hotkey has never been registered.
    #[codec(index = 5)]
    HotKeyAccountNotExists,
    /// The hotkey belongs to another coldkey.
    #[codec(index = 7)]
    NonAssociatedColdKey,
    /// Not enough stake to set weights.
    #[codec(index = 10)]
    NotEnoughStakeToSetWeights,
    /// Not enough balance to stake.
    #[codec(index = 12)]
    NotEnoughBalanceToStake,
    /// No validator permit.
    #[codec(index = 15)]
    NeuronNoValidatorPermit,
    /// uids and weights differ in length.
    #[codec(index = 16)]
    WeightVecNotEqualSize,
    /// A uid appears twice.
    #[codec(index = 17)]
    DuplicateUids,
    /// A uid does not exist.
    #[codec(index = 18)]
    UidVecContainInvalidOne,
    /// Too few weights.
    #[codec(index = 19)]
    WeightVecLengthIsLow,
    /// The hotkey is already registered.
    #[codec(index = 21)]
    HotKeyAlreadyRegisteredInSubNet,
    /// A weight exceeds the limit.
    #[codec(index = 26)]
    MaxWeightExceeded,
    /// Weights set too soon after the last.
    #[codec(index = 28)]
    SettingWeightsTooFast,
    /// Version key below the subnet's.
    #[codec(index = 29)]
    IncorrectWeightVersionKey,
    /// More uids than the subnet has.
    #[codec(index = 31)]
    UidsLengthExceedUidsInSubNet,
    /// The subnet has commit-reveal on.
    #[codec(index = 52)]
    CommitRevealEnabled,
    /// The mechanism does not exist.
    #[codec(index = 71)]
    MechanismDoesNotExist,
    /// The subnet does not exist.
    #[codec(index = 73)]
    SubnetNotExists,
    /// Amount too low.
    #[codec(index = 79)]
    AmountTooLow,
}

/// `pallet_commitments::pallet::Error`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum CommitmentsError {
    /// Too many fields.
    #[codec(index = 0)]
    TooManyFieldsInCommitmentInfo,
    /// The hotkey is not registered on the subnet.
    #[codec(index = 1)]
    AccountNotAllowedCommit,
    /// The per-epoch space is used up.
    #[codec(index = 2)]
    SpaceLimitExceeded,
}

/// `node_subtensor_runtime::RuntimeError` (the outer error enum of V15).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub enum RuntimeError {
    /// SubtensorModule.
    #[codec(index = 7)]
    SubtensorModule(SubtensorError),
    /// Commitments.
    #[codec(index = 18)]
    Commitments(CommitmentsError),
}

/// `node_subtensor_runtime::Runtime` (the metadata's runtime type; no fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct Runtime;

// ---- Runtime API types ---------------------------------------------------------------------

/// `pallet_subtensor::pallet::AxonInfo` (always empty on arena's chain: no axons).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AxonInfo {
    /// Block served.
    pub block: u64,
    /// Version.
    pub version: u32,
    /// IP.
    pub ip: u128,
    /// Port.
    pub port: u16,
    /// IP type.
    pub ip_type: u8,
    /// Protocol.
    pub protocol: u8,
    /// Unused.
    pub placeholder1: u8,
    /// Unused.
    pub placeholder2: u8,
}

/// `pallet_subtensor::pallet::PrometheusInfo` (always empty here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct PrometheusInfo {
    /// Block served.
    pub block: u64,
    /// Version.
    pub version: u32,
    /// IP.
    pub ip: u128,
    /// Port.
    pub port: u16,
    /// IP type.
    pub ip_type: u8,
}

/// `pallet_subtensor::rpc_info::neuron_info::NeuronInfoLite<AccountId32>`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct NeuronInfoLite {
    /// Hotkey.
    pub hotkey: AccountId32,
    /// Coldkey.
    pub coldkey: AccountId32,
    /// Uid.
    #[codec(compact)]
    pub uid: u16,
    /// Subnet.
    #[codec(compact)]
    pub netuid: u16,
    /// Active.
    pub active: bool,
    /// Axon.
    pub axon_info: AxonInfo,
    /// Prometheus.
    pub prometheus_info: PrometheusInfo,
    /// (coldkey, stake in rao).
    pub stake: Vec<(AccountId32, Compact<u64>)>,
    /// Rank (deprecated on Subtensor: 0).
    #[codec(compact)]
    pub rank: u16,
    /// Emission, rao.
    #[codec(compact)]
    pub emission: u64,
    /// Incentive, u16 fraction.
    #[codec(compact)]
    pub incentive: u16,
    /// Consensus.
    #[codec(compact)]
    pub consensus: u16,
    /// Trust (deprecated: 0).
    #[codec(compact)]
    pub trust: u16,
    /// Validator trust.
    #[codec(compact)]
    pub validator_trust: u16,
    /// Dividends.
    #[codec(compact)]
    pub dividends: u16,
    /// Last weights block.
    #[codec(compact)]
    pub last_update: u64,
    /// Validator permit.
    pub validator_permit: bool,
    /// Pruning score.
    #[codec(compact)]
    pub pruning_score: u16,
}

/// `substrate_fixed::FixedI64<U32>` (I32F32) as its raw bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct FixedI64 {
    /// The raw bits.
    pub bits: i64,
}

/// `pallet_subtensor::rpc_info::subnet_info::SubnetHyperparamsV2`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[allow(missing_docs)]
pub struct SubnetHyperparamsV2 {
    #[codec(compact)]
    pub rho: u16,
    #[codec(compact)]
    pub kappa: u16,
    #[codec(compact)]
    pub immunity_period: u16,
    #[codec(compact)]
    pub min_allowed_weights: u16,
    #[codec(compact)]
    pub max_weights_limit: u16,
    #[codec(compact)]
    pub tempo: u16,
    #[codec(compact)]
    pub min_difficulty: u64,
    #[codec(compact)]
    pub max_difficulty: u64,
    #[codec(compact)]
    pub weights_version: u64,
    #[codec(compact)]
    pub weights_rate_limit: u64,
    #[codec(compact)]
    pub adjustment_interval: u16,
    #[codec(compact)]
    pub activity_cutoff: u16,
    pub registration_allowed: bool,
    #[codec(compact)]
    pub target_regs_per_interval: u16,
    #[codec(compact)]
    pub min_burn: u64,
    #[codec(compact)]
    pub max_burn: u64,
    #[codec(compact)]
    pub bonds_moving_avg: u64,
    #[codec(compact)]
    pub max_regs_per_block: u16,
    #[codec(compact)]
    pub serving_rate_limit: u64,
    #[codec(compact)]
    pub max_validators: u16,
    #[codec(compact)]
    pub adjustment_alpha: u64,
    #[codec(compact)]
    pub difficulty: u64,
    #[codec(compact)]
    pub commit_reveal_period: u64,
    pub commit_reveal_weights_enabled: bool,
    #[codec(compact)]
    pub alpha_high: u16,
    #[codec(compact)]
    pub alpha_low: u16,
    pub liquid_alpha_enabled: bool,
    pub alpha_sigmoid_steepness: FixedI64,
    #[codec(compact)]
    pub yuma_version: u16,
    pub subnet_is_active: bool,
    pub transfers_enabled: bool,
    pub bonds_reset_enabled: bool,
    pub user_liquidity_enabled: bool,
}

/// `pallet_subtensor::rpc_info::stake_info::StakeInfo<AccountId32>`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct StakeInfo {
    /// Hotkey.
    pub hotkey: AccountId32,
    /// Coldkey.
    pub coldkey: AccountId32,
    /// Subnet.
    #[codec(compact)]
    pub netuid: u16,
    /// Stake, rao.
    #[codec(compact)]
    pub stake: u64,
    /// Locked.
    #[codec(compact)]
    pub locked: u64,
    /// Emission.
    #[codec(compact)]
    pub emission: u64,
    /// TAO emission.
    #[codec(compact)]
    pub tao_emission: u64,
    /// Drain.
    #[codec(compact)]
    pub drain: u64,
    /// Whether the hotkey is registered on the subnet.
    pub is_registered: bool,
}

/// `pallet_subtensor_swap::pallet::SimSwapResult` (arena's chain has no pool: 1:1, no fee).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct SimSwapResult {
    /// TAO in.
    pub tao_amount: u64,
    /// Alpha out.
    pub alpha_amount: u64,
    /// TAO fee.
    pub tao_fee: u64,
    /// Alpha fee.
    pub alpha_fee: u64,
}

/// `pallet_transaction_payment::types::RuntimeDispatchInfo<u64, Weight>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct RuntimeDispatchInfo {
    /// Weight.
    pub weight: Weight,
    /// Class.
    pub class: DispatchClass,
    /// Fee (arena's chain charges none: 0).
    pub partial_fee: u64,
}

/// `sp_core::OpaqueMetadata`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct OpaqueMetadata(pub Vec<u8>);

/// `substrate_fixed::FixedI128<U32>` (I96F32) as its raw bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct FixedI128 {
    /// The raw bits.
    pub bits: i128,
}

/// `pallet_subtensor::pallet::SubnetIdentityV3` (arena's subnets have none).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[allow(missing_docs)]
pub struct SubnetIdentityV3 {
    pub subnet_name: Vec<u8>,
    pub github_repo: Vec<u8>,
    pub subnet_contact: Vec<u8>,
    pub subnet_url: Vec<u8>,
    pub discord: Vec<u8>,
    pub description: Vec<u8>,
    pub logo_url: Vec<u8>,
    pub additional: Vec<u8>,
}

/// `pallet_subtensor::pallet::ChainIdentityV2` (arena's neurons have none).
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[allow(missing_docs)]
pub struct ChainIdentityV2 {
    pub name: Vec<u8>,
    pub url: Vec<u8>,
    pub github_repo: Vec<u8>,
    pub image: Vec<u8>,
    pub discord: Vec<u8>,
    pub description: Vec<u8>,
    pub additional: Vec<u8>,
}

/// `pallet_subtensor::rpc_info::neuron_info::NeuronInfo<AccountId32>`: [`NeuronInfoLite`]
/// with the neuron's weight and bond rows.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[allow(missing_docs)]
pub struct NeuronInfo {
    pub hotkey: AccountId32,
    pub coldkey: AccountId32,
    #[codec(compact)]
    pub uid: u16,
    #[codec(compact)]
    pub netuid: u16,
    pub active: bool,
    pub axon_info: AxonInfo,
    pub prometheus_info: PrometheusInfo,
    pub stake: Vec<(AccountId32, Compact<u64>)>,
    #[codec(compact)]
    pub rank: u16,
    #[codec(compact)]
    pub emission: u64,
    #[codec(compact)]
    pub incentive: u16,
    #[codec(compact)]
    pub consensus: u16,
    #[codec(compact)]
    pub trust: u16,
    #[codec(compact)]
    pub validator_trust: u16,
    #[codec(compact)]
    pub dividends: u16,
    #[codec(compact)]
    pub last_update: u64,
    pub validator_permit: bool,
    pub weights: Vec<(Compact<u16>, Compact<u16>)>,
    pub bonds: Vec<(Compact<u16>, Compact<u16>)>,
    #[codec(compact)]
    pub pruning_score: u16,
}

/// `pallet_subtensor::rpc_info::show_subnet::SubnetState<AccountId32>`: per-uid vectors.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, TypeInfo)]
#[allow(missing_docs)]
pub struct SubnetState {
    #[codec(compact)]
    pub netuid: u16,
    pub hotkeys: Vec<AccountId32>,
    pub coldkeys: Vec<AccountId32>,
    pub active: Vec<bool>,
    pub validator_permit: Vec<bool>,
    pub pruning_score: Vec<Compact<u16>>,
    pub last_update: Vec<Compact<u64>>,
    pub emission: Vec<Compact<u64>>,
    pub dividends: Vec<Compact<u16>>,
    pub incentives: Vec<Compact<u16>>,
    pub consensus: Vec<Compact<u16>>,
    pub trust: Vec<Compact<u16>>,
    pub rank: Vec<Compact<u16>>,
    pub block_at_registration: Vec<Compact<u64>>,
    pub alpha_stake: Vec<Compact<u64>>,
    pub tao_stake: Vec<Compact<u64>>,
    pub total_stake: Vec<Compact<u64>>,
    pub emission_history: Vec<Vec<Compact<u64>>>,
}

/// Declares `Metagraph` and `SelectiveMetagraph` from one field list: the selective form has
/// every field but `netuid` as an `Option`, present when its index was asked for.
macro_rules! metagraphs {
    ($( $idx:literal $field:ident : $ty:ty ),* $(,)?) => {
        /// `pallet_subtensor::rpc_info::metagraph::Metagraph<AccountId32>`: a subnet's
        /// parameters and per-uid vectors in one value. Amounts are rao; arena's chain has no
        /// pools, so pool fields are zero, the price is 1.0 and alpha stake is TAO stake.
        #[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
        #[allow(missing_docs)]
        pub struct Metagraph {
            pub netuid: Compact<u16>,
            $( pub $field: $ty, )*
        }

        /// `pallet_subtensor::rpc_info::metagraph::SelectiveMetagraph<AccountId32>`: the
        /// fields of [`Metagraph`] whose index was asked for, then the validators' uids (72)
        /// and the commitments (73).
        #[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
        #[allow(missing_docs)]
        pub struct SelectiveMetagraph {
            pub netuid: Compact<u16>,
            $( pub $field: Option<$ty>, )*
            pub validators: Option<Vec<Compact<u16>>>,
            pub commitments: Option<Vec<(AccountId32, Vec<Compact<u8>>)>>,
        }

        impl Metagraph {
            /// The fields of `indexes` (`netuid` always).
            pub fn select(
                &self,
                indexes: &[u16],
                validators: Vec<Compact<u16>>,
                commitments: Vec<(AccountId32, Vec<Compact<u8>>)>,
            ) -> SelectiveMetagraph {
                SelectiveMetagraph {
                    netuid: self.netuid,
                    $( $field: indexes.contains(&$idx).then(|| self.$field.clone()), )*
                    validators: indexes.contains(&72).then_some(validators),
                    commitments: indexes.contains(&73).then_some(commitments),
                }
            }
        }
    };
}

metagraphs! {
    1 name: Vec<Compact<u8>>,
    2 symbol: Vec<Compact<u8>>,
    3 identity: Option<SubnetIdentityV3>,
    4 network_registered_at: Compact<u64>,
    5 owner_hotkey: AccountId32,
    6 owner_coldkey: AccountId32,
    7 block: Compact<u64>,
    8 tempo: Compact<u16>,
    9 last_step: Compact<u64>,
    10 blocks_since_last_step: Compact<u64>,
    11 subnet_emission: Compact<u64>,
    12 alpha_in: Compact<u64>,
    13 alpha_out: Compact<u64>,
    14 tao_in: Compact<u64>,
    15 alpha_out_emission: Compact<u64>,
    16 alpha_in_emission: Compact<u64>,
    17 tao_in_emission: Compact<u64>,
    18 pending_alpha_emission: Compact<u64>,
    19 pending_root_emission: Compact<u64>,
    20 subnet_volume: Compact<u128>,
    21 moving_price: FixedI128,
    22 rho: Compact<u16>,
    23 kappa: Compact<u16>,
    24 min_allowed_weights: Compact<u16>,
    25 max_weights_limit: Compact<u16>,
    26 weights_version: Compact<u64>,
    27 weights_rate_limit: Compact<u64>,
    28 activity_cutoff: Compact<u16>,
    29 max_validators: Compact<u16>,
    30 num_uids: Compact<u16>,
    31 max_uids: Compact<u16>,
    32 burn: Compact<u64>,
    33 difficulty: Compact<u64>,
    34 registration_allowed: bool,
    35 pow_registration_allowed: bool,
    36 immunity_period: Compact<u16>,
    37 min_difficulty: Compact<u64>,
    38 max_difficulty: Compact<u64>,
    39 min_burn: Compact<u64>,
    40 max_burn: Compact<u64>,
    41 adjustment_alpha: Compact<u64>,
    42 adjustment_interval: Compact<u16>,
    43 target_regs_per_interval: Compact<u16>,
    44 max_regs_per_block: Compact<u16>,
    45 serving_rate_limit: Compact<u64>,
    46 commit_reveal_weights_enabled: bool,
    47 commit_reveal_period: Compact<u64>,
    48 liquid_alpha_enabled: bool,
    49 alpha_high: Compact<u16>,
    50 alpha_low: Compact<u16>,
    51 bonds_moving_avg: Compact<u64>,
    52 hotkeys: Vec<AccountId32>,
    53 coldkeys: Vec<AccountId32>,
    54 identities: Vec<Option<ChainIdentityV2>>,
    55 axons: Vec<AxonInfo>,
    56 active: Vec<bool>,
    57 validator_permit: Vec<bool>,
    58 pruning_score: Vec<Compact<u16>>,
    59 last_update: Vec<Compact<u64>>,
    60 emission: Vec<Compact<u64>>,
    61 dividends: Vec<Compact<u16>>,
    62 incentives: Vec<Compact<u16>>,
    63 consensus: Vec<Compact<u16>>,
    64 trust: Vec<Compact<u16>>,
    65 rank: Vec<Compact<u16>>,
    66 block_at_registration: Vec<Compact<u64>>,
    67 alpha_stake: Vec<Compact<u64>>,
    68 tao_stake: Vec<Compact<u64>>,
    69 total_stake: Vec<Compact<u64>>,
    70 tao_dividends_per_hotkey: Vec<(AccountId32, Compact<u64>)>,
    71 alpha_dividends_per_hotkey: Vec<(AccountId32, Compact<u64>)>,
}
