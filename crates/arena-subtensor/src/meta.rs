//! A runtime's metadata (V14, V15 or V16, decoded by `subxt-metadata`) and what this client
//! derives from it: call bytes, storage keys, runtime-API calls, pallet error names. No
//! pallet, call or storage index is written in this crate; all come from here.

use std::sync::Arc;

use parity_scale_codec::Encode;
use scale_info::PortableRegistry;
use subxt_metadata::{Metadata, StorageHasher};

use crate::error::{Error, Result};
use crate::value::{decode_all, encode_as, Value};

/// The metadata of one runtime version, with that version's numbers.
#[derive(Clone)]
pub struct Runtime {
    metadata: Arc<Metadata>,
    /// `specVersion` of the runtime (signed into every transaction).
    pub spec_version: u32,
    /// `transactionVersion` of the runtime (signed into every transaction).
    pub tx_version: u32,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("spec_version", &self.spec_version)
            .field("tx_version", &self.tx_version)
            .field("pallets", &self.metadata.pallets().len())
            .finish()
    }
}

/// The SCALE bytes of `state_getMetadata` or of a metadata file: `OpaqueMetadata`
/// (length-prefixed) or bare `RuntimeMetadataPrefixed` (`meta` magic), versions 14 to 16.
pub fn decode_metadata(bytes: &[u8]) -> Result<Metadata> {
    // Refuse anything that does not start with the magic (bare or after a compact length)
    // before handing it to the decoder.
    let magic = b"meta";
    let bare = bytes.starts_with(magic);
    let prefixed = bytes.len() > 5 && bytes[1..].windows(4).take(4).any(|w| w == magic);
    if !bare && !prefixed {
        return Err(Error::Metadata(
            "not SCALE metadata (no `meta` magic)".into(),
        ));
    }
    Metadata::decode_from(bytes).map_err(|e| Error::Metadata(format!("cannot decode: {e}")))
}

impl Runtime {
    /// A runtime from metadata bytes and its version numbers.
    pub fn from_bytes(bytes: &[u8], spec_version: u32, tx_version: u32) -> Result<Runtime> {
        Ok(Runtime {
            metadata: Arc::new(decode_metadata(bytes)?),
            spec_version,
            tx_version,
        })
    }

    /// The decoded metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The type registry.
    pub fn types(&self) -> &PortableRegistry {
        self.metadata.types()
    }

    /// Call bytes `pallet index ‖ call index ‖ arguments`, each argument encoded as the type
    /// the metadata gives it. `args` are in the call's order; names are checked.
    pub fn call(&self, pallet: &str, call: &str, args: &[(&str, Value)]) -> Result<Vec<u8>> {
        let p = self
            .metadata
            .pallet_by_name(pallet)
            .ok_or_else(|| Error::Metadata(format!("no pallet {pallet}")))?;
        let variant = p
            .call_variant_by_name(call)
            .ok_or_else(|| Error::Metadata(format!("pallet {pallet} has no call {call}")))?;
        if variant.fields.len() != args.len() {
            return Err(Error::Metadata(format!(
                "{pallet}.{call} takes {} arguments here, {} given",
                variant.fields.len(),
                args.len()
            )));
        }
        let mut out = vec![p.call_index(), variant.index];
        for (field, (name, value)) in variant.fields.iter().zip(args) {
            if let Some(want) = &field.name {
                if want != name {
                    return Err(Error::Metadata(format!(
                        "{pallet}.{call}: argument {want} expected where {name} was given"
                    )));
                }
            }
            encode_as(self.types(), field.ty.id, value, &mut out)?;
        }
        Ok(out)
    }

    /// Whether the runtime has call `pallet.call`.
    pub fn has_call(&self, pallet: &str, call: &str) -> bool {
        self.metadata
            .pallet_by_name(pallet)
            .and_then(|p| p.call_variant_by_name(call))
            .is_some()
    }

    /// The storage key of `pallet.entry` for the first `keys.len()` map keys (fewer keys than
    /// the map has give the prefix for iterating).
    pub fn storage_key(&self, pallet: &str, entry: &str, keys: &[Value]) -> Result<Vec<u8>> {
        let (prefix, e) = self.storage_entry(pallet, entry)?;
        let infos: Vec<_> = e.keys().collect();
        if keys.len() > infos.len() {
            return Err(Error::Metadata(format!(
                "{pallet}.{entry} has {} keys, {} given",
                infos.len(),
                keys.len()
            )));
        }
        let mut out = Vec::with_capacity(32 + keys.len() * 48);
        out.extend_from_slice(&sp_crypto_hashing::twox_128(prefix.as_bytes()));
        out.extend_from_slice(&sp_crypto_hashing::twox_128(entry.as_bytes()));
        for (info, key) in infos.iter().zip(keys) {
            let mut encoded = Vec::new();
            encode_as(self.types(), info.key_id, key, &mut encoded)?;
            hash_key(info.hasher, &encoded, &mut out);
        }
        Ok(out)
    }

    fn storage_entry(
        &self,
        pallet: &str,
        entry: &str,
    ) -> Result<(&str, &subxt_metadata::StorageEntryMetadata)> {
        let storage = self
            .metadata
            .pallet_by_name(pallet)
            .and_then(|p| p.storage())
            .ok_or_else(|| Error::Metadata(format!("no storage of pallet {pallet}")))?;
        let e = storage
            .entry_by_name(entry)
            .ok_or_else(|| Error::Metadata(format!("no storage item {pallet}.{entry}")))?;
        Ok((storage.prefix(), e))
    }

    /// Decodes a storage value of `pallet.entry`; `None` (absent) gives the metadata's default.
    pub fn decode_storage(&self, pallet: &str, entry: &str, bytes: Option<&[u8]>) -> Result<Value> {
        let (_, e) = self.storage_entry(pallet, entry)?;
        let bytes = match bytes {
            Some(b) => b,
            None => e
                .default_value()
                .ok_or_else(|| Error::Metadata(format!("{pallet}.{entry} has no default value")))?,
        };
        decode_all(self.types(), e.value_ty(), bytes)
    }

    /// Decodes the map keys at the end of a full storage key of `pallet.entry`, for the
    /// hashers that keep the key (`Identity`, `Twox64Concat`, `Blake2_128Concat`).
    pub fn decode_storage_keys(&self, pallet: &str, entry: &str, key: &[u8]) -> Result<Vec<Value>> {
        let (_, e) = self.storage_entry(pallet, entry)?;
        let mut rest = key
            .get(32..)
            .ok_or_else(|| Error::Decode("storage key shorter than its prefix".into()))?;
        let mut values = Vec::new();
        for info in e.keys() {
            let skip = match info.hasher {
                StorageHasher::Identity => 0,
                StorageHasher::Twox64Concat => 8,
                StorageHasher::Blake2_128Concat => 16,
                other => {
                    return Err(Error::Decode(format!(
                        "{pallet}.{entry}: a {other:?} key cannot be read back"
                    )))
                }
            };
            rest = rest
                .get(skip..)
                .ok_or_else(|| Error::Decode("storage key ends early".into()))?;
            values.push(crate::value::decode_as(
                self.types(),
                info.key_id,
                &mut rest,
            )?);
        }
        if !rest.is_empty() {
            return Err(Error::Decode("storage key has bytes left over".into()));
        }
        Ok(values)
    }

    /// The `state_call` method name and argument bytes of runtime API `api.method`.
    pub fn runtime_api_call(
        &self,
        api: &str,
        method: &str,
        args: &[Value],
    ) -> Result<(String, Vec<u8>, u32)> {
        let t = self
            .metadata
            .runtime_api_trait_by_name(api)
            .ok_or_else(|| Error::Metadata(format!("no runtime API {api}")))?;
        let m = t
            .method_by_name(method)
            .ok_or_else(|| Error::Metadata(format!("runtime API {api} has no method {method}")))?;
        let inputs: Vec<_> = m.inputs().collect();
        if inputs.len() != args.len() {
            return Err(Error::Metadata(format!(
                "{api}_{method} takes {} arguments here, {} given",
                inputs.len(),
                args.len()
            )));
        }
        let mut bytes = Vec::new();
        for (input, arg) in inputs.iter().zip(args) {
            encode_as(self.types(), input.id, arg, &mut bytes)?;
        }
        Ok((format!("{api}_{method}"), bytes, m.output_ty()))
    }

    /// Whether the runtime has runtime API method `api.method`.
    pub fn has_runtime_api(&self, api: &str, method: &str) -> bool {
        self.metadata
            .runtime_api_trait_by_name(api)
            .and_then(|t| t.method_by_name(method))
            .is_some()
    }

    /// The name and docs of error `index` of the pallet with error index `pallet_index`
    /// (`DispatchError::Module`).
    pub fn module_error(
        &self,
        pallet_index: u8,
        error: [u8; 4],
    ) -> Result<(String, String, String)> {
        let p = self
            .metadata
            .pallet_by_error_index(pallet_index)
            .ok_or_else(|| Error::Metadata(format!("no pallet with error index {pallet_index}")))?;
        let v = p.error_variant_by_index(error[0]).ok_or_else(|| {
            Error::Metadata(format!("pallet {} has no error {}", p.name(), error[0]))
        })?;
        Ok((
            p.name().to_string(),
            v.name.clone(),
            v.docs.join(" ").trim().to_string(),
        ))
    }

    /// The type id of the outer event enum's records (`System.Events`' element).
    pub fn events_value(&self, bytes: &[u8]) -> Result<Value> {
        self.decode_storage("System", "Events", Some(bytes))
    }
}

fn hash_key(hasher: StorageHasher, encoded: &[u8], out: &mut Vec<u8>) {
    use sp_crypto_hashing as h;
    match hasher {
        StorageHasher::Blake2_128 => out.extend_from_slice(&h::blake2_128(encoded)),
        StorageHasher::Blake2_256 => out.extend_from_slice(&h::blake2_256(encoded)),
        StorageHasher::Blake2_128Concat => {
            out.extend_from_slice(&h::blake2_128(encoded));
            out.extend_from_slice(encoded);
        }
        StorageHasher::Twox128 => out.extend_from_slice(&h::twox_128(encoded)),
        StorageHasher::Twox256 => out.extend_from_slice(&h::twox_256(encoded)),
        StorageHasher::Twox64Concat => {
            out.extend_from_slice(&h::twox_64(encoded));
            out.extend_from_slice(encoded);
        }
        StorageHasher::Identity => out.extend_from_slice(encoded),
    }
}

/// SCALE compact encoding of `n`.
pub fn compact(n: u128) -> Vec<u8> {
    parity_scale_codec::Compact(n).encode()
}
