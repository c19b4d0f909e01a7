//! Our metadata against Subtensor's (finney, spec 343, V15): every storage entry, call, event,
//! error, constant and runtime-API method we declare is declared by finney with the same
//! indices, hashers, modifier and structurally identical types; the registry layout the
//! Python codec relies on; and storage keys computed by the official Python codec.

use std::collections::{HashMap, HashSet};

use arena_substrate::metadata::{self, Item};
use arena_substrate::storage::{self, KeyPart};
use frame_metadata::v14::{RuntimeMetadataV14, StorageEntryType, StorageHasher};
use frame_metadata::v15::RuntimeMetadataV15;
use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};
use parity_scale_codec::Decode;
use scale_info::form::PortableForm;
use scale_info::{PortableRegistry, TypeDef};

const FINNEY: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../arena-subtensor/tests/data/metadata-finney-spec343-v15.scale"
));
const VECTORS: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../arena-subtensor/tests/data/vectors-spec343.json"
));

/// Arena's own pallet (and its variant of `RuntimeCall`), which Subtensor does not have: it
/// shows the extrinsics signed with arena's own payload inside blocks.
const ARENA_ONLY: &[&str] = &["ArenaChain"];

/// Variant types of which we declare only a subset of Subtensor's variants (each declared
/// variant is still compared: name, index and fields). By path.
const SUBSET_ENUMS: &[(&str, &str)] = &[
    (
        "sp_runtime::DispatchError",
        "arena raises Other and Module only; the rest are never produced",
    ),
    (
        "frame_system::pallet::Event",
        "only ExtrinsicSuccess and ExtrinsicFailed are emitted",
    ),
    (
        "pallet_subtensor::pallet::Event",
        "the events of the calls arena dispatches",
    ),
    (
        "pallet_commitments::pallet::Event",
        "only Commitment is emitted",
    ),
    (
        "pallet_subtensor::pallet::Error",
        "the errors arena's chain raises",
    ),
    (
        "pallet_commitments::pallet::Error",
        "the errors arena's chain raises",
    ),
    (
        "pallet_subtensor::pallet::Call",
        "the dispatchables arena implements",
    ),
    ("pallet_commitments::pallet::Call", "only set_commitment"),
    (
        "node_subtensor_runtime::RuntimeCall",
        "the pallets with calls arena implements",
    ),
    (
        "node_subtensor_runtime::RuntimeEvent",
        "the pallets whose events arena emits",
    ),
    (
        "node_subtensor_runtime::RuntimeError",
        "the pallets whose errors arena raises",
    ),
    (
        "pallet_commitments::types::Data",
        "no TimelockEncrypted, ResetBondsFlag or BigRaw: arena stores Raw fields",
    ),
];

fn decode(bytes: &[u8]) -> RuntimeMetadata {
    RuntimeMetadataPrefixed::decode(&mut &bytes[..])
        .expect("metadata decodes")
        .1
}

fn v15(bytes: &[u8]) -> RuntimeMetadataV15 {
    match decode(bytes) {
        RuntimeMetadata::V15(m) => m,
        _ => panic!("not V15"),
    }
}

fn v14(bytes: &[u8]) -> RuntimeMetadataV14 {
    match decode(bytes) {
        RuntimeMetadata::V14(m) => m,
        _ => panic!("not V14"),
    }
}

fn path_of(reg: &PortableRegistry, id: u32) -> String {
    reg.resolve(id)
        .map(|t| t.path.segments.join("::"))
        .unwrap_or_default()
}

/// Compares the shape of type `a` of registry `ra` (ours) with type `b` of `rb` (finney's).
/// Type ids, `typeName`s, docs and generic parameters are ignored.
struct Shapes<'a> {
    ours: &'a PortableRegistry,
    theirs: &'a PortableRegistry,
    seen: HashSet<(u32, u32)>,
}

impl Shapes<'_> {
    fn same(&mut self, a: u32, b: u32, at: &str) -> Result<(), String> {
        if !self.seen.insert((a, b)) {
            return Ok(());
        }
        let ta = self
            .ours
            .resolve(a)
            .ok_or_else(|| format!("{at}: our id {a} missing"))?;
        let tb = self
            .theirs
            .resolve(b)
            .ok_or_else(|| format!("{at}: finney id {b} missing"))?;
        let path = ta.path.segments.join("::");
        let at = format!("{at} <{path}>");
        if ta.path.segments != tb.path.segments {
            return Err(format!(
                "{at}: path differs: ours {path:?}, finney {:?}",
                tb.path.segments.join("::")
            ));
        }
        match (&ta.type_def, &tb.type_def) {
            (TypeDef::Composite(ca), TypeDef::Composite(cb)) => {
                self.fields(&ca.fields, &cb.fields, &at)
            }
            (TypeDef::Variant(va), TypeDef::Variant(vb)) => {
                let subset = SUBSET_ENUMS.iter().any(|(p, _)| *p == path);
                if !subset && va.variants.len() != vb.variants.len() {
                    return Err(format!(
                        "{at}: {} variants, finney has {}",
                        va.variants.len(),
                        vb.variants.len()
                    ));
                }
                for v in &va.variants {
                    if ARENA_ONLY.contains(&v.name.as_str()) {
                        continue;
                    }
                    let w = vb
                        .variants
                        .iter()
                        .find(|w| w.name == v.name)
                        .ok_or_else(|| format!("{at}: finney has no variant {}", v.name))?;
                    if v.index != w.index {
                        return Err(format!(
                            "{at}::{}: index {}, finney {}",
                            v.name, v.index, w.index
                        ));
                    }
                    self.fields(&v.fields, &w.fields, &format!("{at}::{}", v.name))?;
                }
                Ok(())
            }
            (TypeDef::Sequence(sa), TypeDef::Sequence(sb)) => {
                self.same(sa.type_param.id, sb.type_param.id, &format!("{at}[]"))
            }
            (TypeDef::Array(aa), TypeDef::Array(ab)) => {
                if aa.len != ab.len {
                    return Err(format!("{at}: array of {}, finney {}", aa.len, ab.len));
                }
                self.same(aa.type_param.id, ab.type_param.id, &format!("{at}[_]"))
            }
            (TypeDef::Tuple(xa), TypeDef::Tuple(xb)) => {
                if xa.fields.len() != xb.fields.len() {
                    return Err(format!(
                        "{at}: tuple of {}, finney {}",
                        xa.fields.len(),
                        xb.fields.len()
                    ));
                }
                for (i, (x, y)) in xa.fields.iter().zip(&xb.fields).enumerate() {
                    self.same(x.id, y.id, &format!("{at}.{i}"))?;
                }
                Ok(())
            }
            (TypeDef::Primitive(pa), TypeDef::Primitive(pb)) => {
                if pa == pb {
                    Ok(())
                } else {
                    Err(format!("{at}: {pa:?}, finney {pb:?}"))
                }
            }
            (TypeDef::Compact(ka), TypeDef::Compact(kb)) => self.same(
                ka.type_param.id,
                kb.type_param.id,
                &format!("{at}(compact)"),
            ),
            (TypeDef::BitSequence(_), TypeDef::BitSequence(_)) => Ok(()),
            (x, y) => Err(format!(
                "{at}: kind differs: ours {}, finney {}",
                kind(x),
                kind(y)
            )),
        }
    }

    fn fields(
        &mut self,
        a: &[scale_info::Field<PortableForm>],
        b: &[scale_info::Field<PortableForm>],
        at: &str,
    ) -> Result<(), String> {
        let names = |f: &[scale_info::Field<PortableForm>]| {
            f.iter().map(|x| x.name.clone()).collect::<Vec<_>>()
        };
        if names(a) != names(b) {
            return Err(format!(
                "{at}: fields {:?}, finney {:?}",
                names(a),
                names(b)
            ));
        }
        for (x, y) in a.iter().zip(b) {
            let name = x.name.clone().unwrap_or_else(|| "_".into());
            self.same(x.ty.id, y.ty.id, &format!("{at}.{name}"))?;
        }
        Ok(())
    }
}

fn kind(d: &TypeDef<PortableForm>) -> &'static str {
    match d {
        TypeDef::Composite(_) => "composite",
        TypeDef::Variant(_) => "variant",
        TypeDef::Sequence(_) => "sequence",
        TypeDef::Array(_) => "array",
        TypeDef::Tuple(_) => "tuple",
        TypeDef::Primitive(_) => "primitive",
        TypeDef::Compact(_) => "compact",
        TypeDef::BitSequence(_) => "bit sequence",
    }
}

fn hashers(t: &StorageEntryType<PortableForm>) -> Vec<StorageHasher> {
    match t {
        StorageEntryType::Plain(_) => vec![],
        StorageEntryType::Map { hashers, .. } => hashers.clone(),
    }
}

fn entry_types(t: &StorageEntryType<PortableForm>) -> (Option<u32>, u32) {
    match t {
        StorageEntryType::Plain(v) => (None, v.id),
        StorageEntryType::Map { key, value, .. } => (Some(key.id), value.id),
    }
}

/// Runtime-API inputs that finney declares as a newtype around the type we declare: finney's
/// field is compared with ours (the SCALE bytes are the same).
const WRAPPED_INPUTS: &[(&str, &str, &str)] = &[(
    "TransactionPaymentApi_query_info",
    "uxt",
    "Subtensor wraps sp_runtime's UncheckedExtrinsic in Frontier's \
     fp_self_contained::UncheckedExtrinsic (one field); the Python codec reads sp_runtime's",
)];

/// The one field of a single-field composite.
fn unwrap_newtype(reg: &PortableRegistry, id: u32) -> Option<u32> {
    match &reg.resolve(id)?.type_def {
        TypeDef::Composite(c) if c.fields.len() == 1 => Some(c.fields[0].ty.id),
        _ => None,
    }
}

/// Storage items whose default differs from Subtensor's, with the reason (none yet: every
/// default of `metadata::items` is Subtensor's).
const DEFAULT_DIFFERS: &[(&str, &str, &str)] = &[];

#[test]
fn every_declared_item_matches_finney() {
    let ours = v15(&metadata::encoded().v15);
    let theirs = v15(FINNEY);
    let mut shapes = Shapes {
        ours: &ours.types,
        theirs: &theirs.types,
        seen: HashSet::new(),
    };
    let mut problems = Vec::new();
    let mut counted = HashMap::<&str, usize>::new();
    for p in &ours.pallets {
        if ARENA_ONLY.contains(&p.name.as_str()) {
            continue;
        }
        let Some(q) = theirs.pallets.iter().find(|q| q.name == p.name) else {
            problems.push(format!("finney has no pallet {}", p.name));
            continue;
        };
        if p.index != q.index {
            problems.push(format!("{}: index {}, finney {}", p.name, p.index, q.index));
        }
        if let Some(storage) = &p.storage {
            let theirs_storage = q.storage.as_ref().expect("finney pallet has storage");
            assert_eq!(storage.prefix, theirs_storage.prefix, "{}", p.name);
            for e in &storage.entries {
                *counted.entry("storage").or_default() += 1;
                let at = format!("{}.{}", p.name, e.name);
                let Some(f) = theirs_storage.entries.iter().find(|f| f.name == e.name) else {
                    problems.push(format!("{at}: finney has no such storage entry"));
                    continue;
                };
                if e.modifier != f.modifier {
                    problems.push(format!(
                        "{at}: modifier {:?}, finney {:?}",
                        e.modifier, f.modifier
                    ));
                }
                if hashers(&e.ty) != hashers(&f.ty) {
                    problems.push(format!(
                        "{at}: hashers {:?}, finney {:?}",
                        hashers(&e.ty),
                        hashers(&f.ty)
                    ));
                }
                let ((ka, va), (kb, vb)) = (entry_types(&e.ty), entry_types(&f.ty));
                match (ka, kb) {
                    (Some(ka), Some(kb)) => {
                        if let Err(m) = shapes.same(ka, kb, &format!("{at} key")) {
                            problems.push(m);
                        }
                    }
                    (None, None) => {}
                    _ => problems.push(format!("{at}: plain vs map")),
                }
                if let Err(m) = shapes.same(va, vb, &format!("{at} value")) {
                    problems.push(m);
                }
                let documented = DEFAULT_DIFFERS
                    .iter()
                    .any(|(pl, n, _)| *pl == p.name && *n == e.name);
                if e.default != f.default && !documented {
                    problems.push(format!(
                        "{at}: default {}, finney {}",
                        hex::encode(&e.default),
                        hex::encode(&f.default)
                    ));
                }
            }
        }
        // Calls, events and errors: each of our variants (compared by the variant walk
        // above, which also checks the index and every field).
        for (what, a, b) in [
            (
                "calls",
                p.calls.as_ref().map(|c| c.ty.id),
                q.calls.as_ref().map(|c| c.ty.id),
            ),
            (
                "event",
                p.event.as_ref().map(|c| c.ty.id),
                q.event.as_ref().map(|c| c.ty.id),
            ),
            (
                "error",
                p.error.as_ref().map(|c| c.ty.id),
                q.error.as_ref().map(|c| c.ty.id),
            ),
        ] {
            match (a, b) {
                (Some(a), Some(b)) => {
                    if let TypeDef::Variant(v) = &ours.types.resolve(a).unwrap().type_def {
                        *counted.entry(what).or_default() += v.variants.len();
                    }
                    if let Err(m) = shapes.same(a, b, &format!("{} {what}", p.name)) {
                        problems.push(m);
                    }
                }
                (Some(_), None) => problems.push(format!("{}: finney has no {what}", p.name)),
                _ => {}
            }
        }
        for c in &p.constants {
            *counted.entry("constants").or_default() += 1;
            let at = format!("{}::{}", p.name, c.name);
            match q.constants.iter().find(|d| d.name == c.name) {
                None => problems.push(format!("{at}: finney has no such constant")),
                Some(d) => {
                    if let Err(m) = shapes.same(c.ty.id, d.ty.id, &at) {
                        problems.push(m);
                    }
                    if c.value != d.value {
                        problems.push(format!(
                            "{at}: value {}, finney {}",
                            hex::encode(&c.value),
                            hex::encode(&d.value)
                        ));
                    }
                }
            }
        }
    }
    for api in &ours.apis {
        let Some(theirs_api) = theirs.apis.iter().find(|a| a.name == api.name) else {
            problems.push(format!("finney has no runtime API {}", api.name));
            continue;
        };
        for m in &api.methods {
            *counted.entry("runtime api").or_default() += 1;
            let at = format!("{}_{}", api.name, m.name);
            let Some(n) = theirs_api.methods.iter().find(|n| n.name == m.name) else {
                problems.push(format!("{at}: finney has no such method"));
                continue;
            };
            let names = |x: &[frame_metadata::v15::RuntimeApiMethodParamMetadata<
                PortableForm,
            >]| { x.iter().map(|i| i.name.clone()).collect::<Vec<_>>() };
            if names(&m.inputs) != names(&n.inputs) {
                problems.push(format!(
                    "{at}: inputs {:?}, finney {:?}",
                    names(&m.inputs),
                    names(&n.inputs)
                ));
                continue;
            }
            for (i, j) in m.inputs.iter().zip(&n.inputs) {
                let mut theirs_ty = j.ty.id;
                if WRAPPED_INPUTS
                    .iter()
                    .any(|(a, p, _)| *a == at && *p == i.name)
                {
                    theirs_ty = unwrap_newtype(&theirs.types, theirs_ty)
                        .unwrap_or_else(|| panic!("{at}({}): finney's is no newtype", i.name));
                }
                if let Err(e) = shapes.same(i.ty.id, theirs_ty, &format!("{at}({})", i.name)) {
                    problems.push(e);
                }
            }
            if let Err(e) = shapes.same(m.output.id, n.output.id, &format!("{at} output")) {
                problems.push(e);
            }
        }
    }
    // The outer enums.
    for (what, a, b) in [
        (
            "call",
            ours.outer_enums.call_enum_ty.id,
            theirs.outer_enums.call_enum_ty.id,
        ),
        (
            "event",
            ours.outer_enums.event_enum_ty.id,
            theirs.outer_enums.event_enum_ty.id,
        ),
        (
            "error",
            ours.outer_enums.error_enum_ty.id,
            theirs.outer_enums.error_enum_ty.id,
        ),
    ] {
        if let Err(e) = shapes.same(a, b, &format!("outer {what} enum")) {
            problems.push(e);
        }
    }
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The walk covered what we serve (a metadata that lost its pallets would pass vacuously).
    assert_eq!(counted["storage"], metadata::items().len());
    assert!(counted["calls"] >= 7, "{counted:?}");
    assert!(counted["event"] >= 6, "{counted:?}");
    assert!(counted["error"] >= 20, "{counted:?}");
    assert_eq!(counted["constants"], 2);
    assert_eq!(counted["runtime api"], metadata::runtime_api_names().len());
}

#[test]
fn the_subset_enums_are_real_subsets() {
    // Each listed enum exists in both registries, and ours really declares fewer variants
    // (an entry that no longer needs listing is removed from the list).
    let ours = v15(&metadata::encoded().v15);
    let theirs = v15(FINNEY);
    for (path, reason) in SUBSET_ENUMS {
        let count = |reg: &PortableRegistry| {
            let found: Vec<usize> = reg
                .types
                .iter()
                .filter(|t| t.ty.path.segments.join("::") == *path)
                .filter_map(|t| match &t.ty.type_def {
                    TypeDef::Variant(v) => Some(v.variants.len()),
                    _ => None,
                })
                .collect();
            assert_eq!(found.len(), 1, "{path} ({reason}): {found:?}");
            found[0]
        };
        let (a, b) = (count(&ours.types), count(&theirs.types));
        assert!(
            a < b,
            "{path}: ours {a} variants, finney {b}: not a subset ({reason})"
        );
    }
    // Data lacks exactly the variants arena does not store.
    let names = |reg: &PortableRegistry| -> Vec<String> {
        reg.types
            .iter()
            .filter(|t| t.ty.path.segments.join("::") == "pallet_commitments::types::Data")
            .flat_map(|t| match &t.ty.type_def {
                TypeDef::Variant(v) => v.variants.iter().map(|v| v.name.clone()).collect(),
                _ => Vec::new(),
            })
            .collect()
    };
    let ours_data = names(&ours.types);
    let missing: Vec<String> = names(&theirs.types)
        .into_iter()
        .filter(|n| !ours_data.contains(n))
        .collect();
    assert_eq!(missing, ["TimelockEncrypted", "ResetBondsFlag", "BigRaw"]);
}

#[test]
fn registry_layout_is_what_the_python_codec_reads() {
    let m15 = v15(&metadata::encoded().v15);
    let m14 = v14(&metadata::encoded().v14);
    // Id 0 is the account.
    assert_eq!(path_of(&m14.types, 0), "sp_core::crypto::AccountId32");
    assert_eq!(m14.types, m15.types, "V14 and V15 share one registry");
    // Same ids for every storage type in both versions.
    let mut entries = 0;
    for (p14, p15) in m14.pallets.iter().zip(&m15.pallets) {
        assert_eq!((&p14.name, p14.index), (&p15.name, p15.index));
        let (Some(s14), Some(s15)) = (&p14.storage, &p15.storage) else {
            assert!(p14.storage.is_none() && p15.storage.is_none());
            continue;
        };
        assert_eq!(s14.entries.len(), s15.entries.len());
        for (a, b) in s14.entries.iter().zip(&s15.entries) {
            assert_eq!(a.name, b.name);
            assert_eq!(entry_types(&a.ty), entry_types(&b.ty), "{}", a.name);
            entries += 1;
        }
    }
    assert_eq!(entries, metadata::items().len());
    // V14's extrinsic type: UncheckedExtrinsic whose parameters name the address and
    // signature types.
    let ext = m14.types.resolve(m14.extrinsic.ty.id).unwrap();
    assert_eq!(
        ext.path.segments.join("::"),
        "sp_runtime::generic::unchecked_extrinsic::UncheckedExtrinsic"
    );
    let param = |name: &str| {
        let p = ext
            .type_params
            .iter()
            .find(|p| p.name == name)
            .unwrap_or_else(|| panic!("no type param {name}"));
        path_of(&m14.types, p.ty.expect("concrete").id)
    };
    assert_eq!(param("Address"), "sp_runtime::multiaddress::MultiAddress");
    assert_eq!(param("Signature"), "sp_runtime::MultiSignature");
    assert_eq!(param("Call"), "node_subtensor_runtime::RuntimeCall");
    assert_eq!(m14.extrinsic.version, 4);
    // V15's extrinsic types are the same ids.
    assert_eq!(
        path_of(&m15.types, m15.extrinsic.address_ty.id),
        "sp_runtime::multiaddress::MultiAddress"
    );
    assert_eq!(
        path_of(&m15.types, m15.extrinsic.signature_ty.id),
        "sp_runtime::MultiSignature"
    );
}

#[test]
fn signed_extensions_equal_finneys() {
    let ours = v15(&metadata::encoded().v15);
    let m14 = v14(&metadata::encoded().v14);
    let theirs = v15(FINNEY);
    let ids = |x: &[frame_metadata::v15::SignedExtensionMetadata<PortableForm>]| {
        x.iter().map(|e| e.identifier.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&ours.extrinsic.signed_extensions),
        ids(&theirs.extrinsic.signed_extensions)
    );
    let v14_ids: Vec<_> = m14
        .extrinsic
        .signed_extensions
        .iter()
        .map(|e| e.identifier.clone())
        .collect();
    assert_eq!(v14_ids, ids(&ours.extrinsic.signed_extensions));
    let mut shapes = Shapes {
        ours: &ours.types,
        theirs: &theirs.types,
        seen: HashSet::new(),
    };
    for (a, b) in ours
        .extrinsic
        .signed_extensions
        .iter()
        .zip(&theirs.extrinsic.signed_extensions)
    {
        shapes
            .same(a.ty.id, b.ty.id, &format!("{} ty", a.identifier))
            .unwrap();
        shapes
            .same(
                a.additional_signed.id,
                b.additional_signed.id,
                &format!("{} additional_signed", a.identifier),
            )
            .unwrap();
    }
    for (what, a, b) in [
        (
            "address",
            ours.extrinsic.address_ty.id,
            theirs.extrinsic.address_ty.id,
        ),
        (
            "call",
            ours.extrinsic.call_ty.id,
            theirs.extrinsic.call_ty.id,
        ),
        (
            "signature",
            ours.extrinsic.signature_ty.id,
            theirs.extrinsic.signature_ty.id,
        ),
    ] {
        shapes.same(a, b, what).unwrap();
    }
    // extra_ty: the tuple of the extensions' types, element by element.
    let tuple = |reg: &PortableRegistry, id: u32| match &reg.resolve(id).unwrap().type_def {
        TypeDef::Tuple(t) => t.fields.iter().map(|f| f.id).collect::<Vec<_>>(),
        other => panic!("extra_ty is a {}", kind(other)),
    };
    let ours_extra = tuple(&ours.types, ours.extrinsic.extra_ty.id);
    let theirs_extra = tuple(&theirs.types, theirs.extrinsic.extra_ty.id);
    assert_eq!(ours_extra.len(), theirs_extra.len());
    for (i, (a, b)) in ours_extra.into_iter().zip(theirs_extra).enumerate() {
        let name = &ours.extrinsic.signed_extensions[i].identifier;
        let b = if name == WRAPPED_EXTENSION.0 {
            let inner = unwrap_newtype(&theirs.types, b).expect("finney wraps it in a newtype");
            assert_eq!(path_of(&theirs.types, b), WRAPPED_EXTENSION.1);
            inner
        } else {
            b
        };
        shapes.same(a, b, &format!("extra.{i} ({name})")).unwrap();
    }
}

/// The extension that finney's `extra_ty` holds inside a wrapper (its signed extension `ty`
/// is the unwrapped type, as ours): (identifier, finney's wrapper path, reason).
const WRAPPED_EXTENSION: (&str, &str, &str) = (
    "ChargeTransactionPayment",
    "node_subtensor_runtime::transaction_payment_wrapper::ChargeTransactionPaymentWrapper",
    "Subtensor's runtime wraps the payment extension; the bytes are the tip either way",
);

fn item_named(pallet: &str, name: &str) -> Option<Item> {
    metadata::items()
        .iter()
        .find(|s| s.pallet == pallet && s.name == name)
        .map(|s| s.item)
}

#[test]
fn storage_keys_equal_the_python_codecs() {
    let vectors: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
    let keys = vectors["storage_keys"].as_object().expect("storage_keys");
    // The vectors' arguments: netuid 37, uid 0 (Keys) and the hotkey //Alice.
    let alice = arena_keys::Keypair::from_uri("//Alice").unwrap().public().0;
    let mut checked = 0;
    for (name, hex_key) in keys {
        let (pallet, entry) = name.split_once('.').unwrap();
        // `…_prefix37` is an iteration prefix (the netuid only).
        let (entry, is_prefix) = match entry.split_once("_prefix") {
            Some((entry, _)) => (entry, true),
            None => (entry, false),
        };
        let Some(item) = item_named(pallet, entry) else {
            continue;
        };
        let bytes = hex::decode(hex_key.as_str().unwrap().trim_start_matches("0x")).unwrap();
        let parsed = if is_prefix {
            storage::parse_prefix(&bytes)
        } else {
            storage::parse(&bytes)
        };
        let (spec, parts) = parsed.unwrap_or_else(|| panic!("{name}: parse refused {hex_key}"));
        if is_prefix {
            assert_eq!(parts, [KeyPart::U16(37)], "{name}");
            assert!(
                storage::parse(&bytes).is_none(),
                "{name}: a prefix is no full key"
            );
        }
        assert_eq!(spec.item, item, "{name}");
        // Rebuilt from the parsed parts: the same bytes.
        assert_eq!(storage::item_key(item, &parts), bytes, "{name}");
        // And the parts are the vectors' arguments.
        for part in &parts {
            match part {
                KeyPart::U16(n) => assert!([37, 0].contains(n), "{name}: {n}"),
                KeyPart::Account(a) => assert_eq!(*a, alice, "{name}"),
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "{checked} vectors name an item we serve");
    // Built from scratch, not only round-tripped: Tempo(37) and Uids(37, //Alice).
    let tempo = hex::decode(
        keys["SubtensorModule.Tempo"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    assert_eq!(storage::item_key(Item::Tempo, &[KeyPart::U16(37)]), tempo);
    let uids = hex::decode(
        keys["SubtensorModule.Uids"]
            .as_str()
            .unwrap()
            .trim_start_matches("0x"),
    )
    .unwrap();
    assert_eq!(
        storage::item_key(Item::Uids, &[KeyPart::U16(37), KeyPart::Account(alice)]),
        uids
    );
    // A wrong hash inside a key is no key of ours.
    let mut bad = uids.clone();
    bad[34] ^= 1;
    assert!(storage::parse(&bad).is_none());
}
