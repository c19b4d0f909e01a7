//! What happened to a submitted extrinsic: its watch statuses, and its events in
//! `System.Events` (success, or `ExtrinsicFailed` with a `DispatchError` turned into a
//! typed error named from the metadata).

use serde_json::Value as Json;

use crate::error::{Error, Result};
use crate::meta::Runtime;
use crate::value::Value;

/// The outcome of one extrinsic in a block.
#[derive(Debug)]
pub enum ExtrinsicOutcome {
    /// `System.ExtrinsicSuccess`; the extrinsic's events as `(pallet, event, fields)`.
    Success {
        /// Its events.
        events: Vec<(String, String, Value)>,
    },
    /// `System.ExtrinsicFailed`, as a typed error.
    Failed(Error),
}

/// One status of `author_submitAndWatchExtrinsic`: `Some(block hash)` once the extrinsic is
/// in a block (finalized when `finality`), `None` to keep waiting, an error when the pool
/// dropped or refused it.
pub fn watch_status(status: &Json, finality: bool) -> Result<Option<[u8; 32]>> {
    let hash_of = |v: &Json| -> Result<[u8; 32]> {
        let text = v.as_str().unwrap_or_default();
        let bytes =
            hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|e| Error::Response {
                method: "author_submitAndWatchExtrinsic".into(),
                reason: format!("bad block hash: {e}"),
            })?;
        bytes.try_into().map_err(|_| Error::Response {
            method: "author_submitAndWatchExtrinsic".into(),
            reason: "a block hash is 32 bytes".into(),
        })
    };
    match status {
        Json::String(s) => match s.as_str() {
            "future" | "ready" => Ok(None),
            other => Err(Error::InvalidTransaction {
                status: other.to_string(),
                detail: "the transaction pool refused or dropped the extrinsic".into(),
            }),
        },
        Json::Object(map) => {
            let Some((key, value)) = map.iter().next() else {
                return Ok(None);
            };
            match key.as_str() {
                "inBlock" if !finality => hash_of(value).map(Some),
                "finalized" => hash_of(value).map(Some),
                "broadcast" | "inBlock" | "retracted" => Ok(None),
                other => Err(Error::InvalidTransaction {
                    status: other.to_string(),
                    detail: value.to_string(),
                }),
            }
        }
        other => Err(Error::Response {
            method: "author_submitAndWatchExtrinsic".into(),
            reason: format!("unexpected status {other}"),
        }),
    }
}

/// The events of extrinsic `index` in the SCALE `System.Events` bytes of its block.
pub fn extrinsic_outcome(rt: &Runtime, events: &[u8], index: u32) -> Result<ExtrinsicOutcome> {
    let records = rt.events_value(events)?;
    let records = records
        .as_seq()
        .ok_or_else(|| Error::Decode("System.Events is not a sequence".into()))?;
    let mut mine = Vec::new();
    for record in records {
        let phase = record
            .field("phase")
            .ok_or_else(|| Error::Decode("EventRecord without phase".into()))?;
        let applies = matches!(phase, Value::Variant { name, fields }
            if name == "ApplyExtrinsic" && fields.first().and_then(|f| f.1.as_u128()) == Some(index.into()));
        if !applies {
            continue;
        }
        let event = record
            .field("event")
            .ok_or_else(|| Error::Decode("EventRecord without event".into()))?;
        let Value::Variant {
            name: pallet,
            fields,
        } = event
        else {
            return Err(Error::Decode("RuntimeEvent is not an enum".into()));
        };
        let Some((
            _,
            Value::Variant {
                name,
                fields: inner,
            },
        )) = fields.first()
        else {
            return Err(Error::Decode("pallet event is not an enum".into()));
        };
        if pallet == "System" && name == "ExtrinsicFailed" {
            let err = inner
                .iter()
                .find(|(n, _)| n.as_deref() == Some("dispatch_error"))
                .or(inner.first())
                .map(|(_, v)| v)
                .ok_or_else(|| Error::Decode("ExtrinsicFailed without dispatch_error".into()))?;
            return Ok(ExtrinsicOutcome::Failed(dispatch_error(rt, err)?));
        }
        mine.push((
            pallet.clone(),
            name.clone(),
            Value::Composite(inner.clone()),
        ));
    }
    Ok(ExtrinsicOutcome::Success { events: mine })
}

/// A `DispatchError` value as a typed error: `Module { index, error }` names the pallet's
/// error variant from the metadata.
pub fn dispatch_error(rt: &Runtime, err: &Value) -> Result<Error> {
    let Value::Variant { name, fields } = err else {
        return Err(Error::Decode("DispatchError is not an enum".into()));
    };
    if name != "Module" {
        let detail = match fields.first() {
            Some((_, Value::Variant { name: inner, .. })) => format!("{name}::{inner}"),
            _ => name.clone(),
        };
        return Ok(Error::DispatchOther(detail));
    }
    let module = &fields
        .first()
        .ok_or_else(|| Error::Decode("DispatchError::Module without fields".into()))?
        .1;
    let index = module
        .field("index")
        .and_then(Value::as_u128)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| Error::Decode("ModuleError.index".into()))?;
    let error = module
        .field("error")
        .and_then(Value::as_bytes)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .ok_or_else(|| Error::Decode("ModuleError.error".into()))?;
    let (pallet, name, docs) = rt.module_error(index, error)?;
    Ok(Error::Dispatch { pallet, name, docs })
}

/// The uid of `SubtensorModule.NeuronRegistered(netuid, uid, hotkey)` among `events`.
pub fn registered_uid(events: &[(String, String, Value)]) -> Option<u16> {
    events
        .iter()
        .find(|(p, e, _)| p == "SubtensorModule" && e == "NeuronRegistered")
        .and_then(|(_, _, v)| match v {
            Value::Composite(f) if f.len() >= 2 => f[1].1.as_u128(),
            _ => None,
        })
        .and_then(|u| u16::try_from(u).ok())
}
