//! A failed dispatch in crafted `System.Events` bytes becomes the typed error named by the
//! metadata; a successful one yields the extrinsic's events.

use arena_subtensor::events::{
    dispatch_error, extrinsic_outcome, registered_uid, watch_status, ExtrinsicOutcome,
};
use arena_subtensor::{encode_as, Error, Runtime, Value};
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};
use serde_json::json;

fn runtime() -> Runtime {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/metadata-finney-spec343-v15.scale");
    Runtime::from_bytes(&std::fs::read(path).unwrap(), 343, 1).unwrap()
}

/// The zero value of a type: zero integers, empty sequences, the first variant.
fn zero(types: &PortableRegistry, id: u32) -> Value {
    let ty = types.resolve(id).unwrap();
    match &ty.type_def {
        TypeDef::Composite(c) => Value::Composite(
            c.fields
                .iter()
                .map(|f| (f.name.clone(), zero(types, f.ty.id)))
                .collect(),
        ),
        TypeDef::Tuple(t) => Value::tuple(t.fields.iter().map(|f| zero(types, f.id)).collect()),
        TypeDef::Variant(v) => {
            let first = &v.variants[0];
            Value::Variant {
                name: first.name.clone(),
                fields: first
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), zero(types, f.ty.id)))
                    .collect(),
            }
        }
        TypeDef::Sequence(_) => Value::Seq(vec![]),
        TypeDef::Array(a) => Value::Seq((0..a.len).map(|_| zero(types, a.type_param.id)).collect()),
        TypeDef::Primitive(TypeDefPrimitive::Bool) => Value::Bool(false),
        TypeDef::Primitive(TypeDefPrimitive::Str) => Value::Str(String::new()),
        TypeDef::Primitive(
            TypeDefPrimitive::I8
            | TypeDefPrimitive::I16
            | TypeDefPrimitive::I32
            | TypeDefPrimitive::I64
            | TypeDefPrimitive::I128,
        ) => Value::I(0),
        TypeDef::Primitive(TypeDefPrimitive::U256 | TypeDefPrimitive::I256) => {
            Value::Bytes(vec![0; 32])
        }
        _ => Value::U(0),
    }
}

/// The type of `ExtrinsicFailed`'s `dispatch_info` field.
fn system_event_field(rt: &Runtime, event: &str, field: &str) -> u32 {
    let sys = rt.metadata().pallet_by_name("System").unwrap();
    let v = sys
        .event_variants()
        .unwrap()
        .iter()
        .find(|v| v.name == event)
        .unwrap();
    v.fields
        .iter()
        .find(|f| f.name.as_deref() == Some(field))
        .unwrap()
        .ty
        .id
}

fn record(_rt: &Runtime, index: u32, event: Value) -> Value {
    Value::Composite(vec![
        (
            Some("phase".into()),
            Value::variant("ApplyExtrinsic", vec![Value::U(index.into())]),
        ),
        (Some("event".into()), event),
        (Some("topics".into()), Value::Seq(vec![])),
    ])
}

fn events_bytes(rt: &Runtime, records: Vec<Value>) -> Vec<u8> {
    let sys = rt.metadata().pallet_by_name("System").unwrap();
    let events_ty = sys
        .storage()
        .unwrap()
        .entry_by_name("Events")
        .unwrap()
        .value_ty();
    let mut out = Vec::new();
    encode_as(rt.types(), events_ty, &Value::Seq(records), &mut out).unwrap();
    out
}

fn module_error(rt: &Runtime, pallet: &str, error: &str) -> Value {
    let p = rt.metadata().pallet_by_name(pallet).unwrap();
    let idx = p
        .error_variants()
        .unwrap()
        .iter()
        .find(|v| v.name == error)
        .unwrap()
        .index;
    Value::variant(
        "Module",
        vec![Value::Composite(vec![
            (Some("index".into()), Value::U(p.error_index().into())),
            (Some("error".into()), Value::Bytes(vec![idx, 0, 0, 0])),
        ])],
    )
}

fn failed(rt: &Runtime, dispatch_error: Value) -> Value {
    let info = zero(
        rt.types(),
        system_event_field(rt, "ExtrinsicFailed", "dispatch_info"),
    );
    Value::variant(
        "System",
        vec![Value::Variant {
            name: "ExtrinsicFailed".into(),
            fields: vec![
                (Some("dispatch_error".into()), dispatch_error),
                (Some("dispatch_info".into()), info),
            ],
        }],
    )
}

fn success(rt: &Runtime) -> Value {
    let info = zero(
        rt.types(),
        system_event_field(rt, "ExtrinsicSuccess", "dispatch_info"),
    );
    Value::variant(
        "System",
        vec![Value::Variant {
            name: "ExtrinsicSuccess".into(),
            fields: vec![(Some("dispatch_info".into()), info)],
        }],
    )
}

#[test]
fn extrinsic_failed_with_a_module_error_names_subtensors_error() {
    let rt = runtime();
    for name in [
        "SettingWeightsTooFast",
        "CommitRevealEnabled",
        "NotEnoughStakeToSetWeights",
        "IncorrectWeightVersionKey",
        "HotKeyNotRegisteredInSubNet",
    ] {
        let bytes = events_bytes(
            &rt,
            vec![
                record(&rt, 0, success(&rt)),
                record(
                    &rt,
                    1,
                    failed(&rt, module_error(&rt, "SubtensorModule", name)),
                ),
            ],
        );
        match extrinsic_outcome(&rt, &bytes, 1).unwrap() {
            ExtrinsicOutcome::Failed(Error::Dispatch {
                pallet, name: got, ..
            }) => {
                assert_eq!(pallet, "SubtensorModule");
                assert_eq!(got, name);
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(matches!(
            extrinsic_outcome(&rt, &bytes, 0).unwrap(),
            ExtrinsicOutcome::Success { .. }
        ));
        // Through the Chain trait's error type, the name is the pallet's.
        let chain: arena_chain::ChainError = match extrinsic_outcome(&rt, &bytes, 1).unwrap() {
            ExtrinsicOutcome::Failed(e) => e.into(),
            _ => unreachable!(),
        };
        assert_eq!(chain.name(), name);
    }
}

#[test]
fn commitments_pallet_errors_and_other_dispatch_errors() {
    let rt = runtime();
    let err = dispatch_error(
        &rt,
        &module_error(&rt, "Commitments", "TooManyFieldsInCommitmentInfo"),
    )
    .unwrap();
    assert!(
        matches!(&err, Error::Dispatch { pallet, name, .. }
        if pallet == "Commitments" && name == "TooManyFieldsInCommitmentInfo"),
        "{err}"
    );
    let err = dispatch_error(&rt, &Value::variant("BadOrigin", vec![])).unwrap();
    assert!(
        matches!(&err, Error::DispatchOther(d) if d == "BadOrigin"),
        "{err}"
    );
    // A module index the runtime does not have is a metadata error, not a panic.
    let bogus = Value::variant(
        "Module",
        vec![Value::Composite(vec![
            (Some("index".into()), Value::U(250)),
            (Some("error".into()), Value::Bytes(vec![0, 0, 0, 0])),
        ])],
    );
    assert!(matches!(
        dispatch_error(&rt, &bogus),
        Err(Error::Metadata(_))
    ));
}

#[test]
fn neuron_registered_gives_the_uid() {
    let events = vec![(
        "SubtensorModule".to_string(),
        "NeuronRegistered".to_string(),
        Value::tuple(vec![Value::U(37), Value::U(12), Value::Bytes(vec![0; 32])]),
    )];
    assert_eq!(registered_uid(&events), Some(12));
}

#[test]
fn truncated_events_are_an_error() {
    let rt = runtime();
    let bytes = events_bytes(&rt, vec![record(&rt, 0, success(&rt))]);
    for cut in 0..bytes.len() {
        assert!(
            extrinsic_outcome(&rt, &bytes[..cut], 0).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn watch_statuses() {
    let h = format!("0x{}", "ab".repeat(32));
    assert_eq!(watch_status(&json!("ready"), false).unwrap(), None);
    assert_eq!(
        watch_status(&json!({"broadcast": ["peer"]}), false).unwrap(),
        None
    );
    assert_eq!(
        watch_status(&json!({"inBlock": h}), false).unwrap(),
        Some([0xab; 32])
    );
    assert_eq!(watch_status(&json!({"inBlock": h}), true).unwrap(), None);
    assert_eq!(
        watch_status(&json!({"finalized": h}), true).unwrap(),
        Some([0xab; 32])
    );
    assert!(matches!(
        watch_status(&json!("invalid"), false),
        Err(Error::InvalidTransaction { .. })
    ));
    assert!(matches!(
        watch_status(&json!({"usurped": h}), false),
        Err(Error::InvalidTransaction { .. })
    ));
    assert!(watch_status(&json!(5), false).is_err());
    assert!(watch_status(&json!({"inBlock": 5}), false).is_err());
}
