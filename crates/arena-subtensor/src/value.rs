//! Dynamic SCALE values: encode and decode any type of the metadata's type registry.
//!
//! Decoding is bounded: a sequence may not claim more elements than bytes remain, nesting is
//! limited to [`MAX_DEPTH`], and every read checks the remaining input first, so a hostile
//! response is an error, never a panic or a large allocation.

use parity_scale_codec::{Compact, Decode, Encode};
use scale_info::form::PortableForm;
use scale_info::{PortableRegistry, Type, TypeDef, TypeDefPrimitive};

use crate::error::{Error, Result};

/// Deepest type nesting accepted while encoding or decoding.
pub const MAX_DEPTH: usize = 64;

/// Most values one decoding may produce (a 1024-uid metagraph is under 100,000): past it the
/// input is refused, so memory stays bounded whatever length prefixes claim.
pub const MAX_VALUES: usize = 1 << 20;

/// A SCALE value of any registry type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `bool`.
    Bool(bool),
    /// `char`.
    Char(char),
    /// `str` / `String`.
    Str(String),
    /// Any unsigned integer, plain or compact.
    U(u128),
    /// Any signed integer.
    I(i128),
    /// A sequence or array of `u8` (also 256-bit integers, as little-endian bytes).
    Bytes(Vec<u8>),
    /// A sequence or array of other elements.
    Seq(Vec<Value>),
    /// A struct or tuple: fields in order, named where the type names them.
    Composite(Vec<(Option<String>, Value)>),
    /// An enum value.
    Variant {
        /// The variant's name.
        name: String,
        /// Its fields.
        fields: Vec<(Option<String>, Value)>,
    },
}

impl Value {
    /// A struct with unnamed fields.
    pub fn tuple(values: Vec<Value>) -> Value {
        Value::Composite(values.into_iter().map(|v| (None, v)).collect())
    }

    /// An enum value with unnamed fields.
    pub fn variant(name: &str, values: Vec<Value>) -> Value {
        Value::Variant {
            name: name.to_string(),
            fields: values.into_iter().map(|v| (None, v)).collect(),
        }
    }

    /// Field `name` of a composite (or of a variant), looking through single-field wrappers.
    pub fn field(&self, name: &str) -> Option<&Value> {
        let fields = match self {
            Value::Composite(f) => f,
            Value::Variant { fields, .. } => fields,
            _ => return None,
        };
        if let Some((_, v)) = fields.iter().find(|(n, _)| n.as_deref() == Some(name)) {
            return Some(v);
        }
        match fields.as_slice() {
            [(_, inner)] => inner.field(name),
            _ => None,
        }
    }

    /// The unsigned integer inside (through single-field wrappers such as `NetUid(u16)`).
    pub fn as_u128(&self) -> Option<u128> {
        match self {
            Value::U(v) => Some(*v),
            Value::Composite(f) if f.len() == 1 => f[0].1.as_u128(),
            _ => None,
        }
    }

    /// The bool inside (through single-field wrappers).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Composite(f) if f.len() == 1 => f[0].1.as_bool(),
            _ => None,
        }
    }

    /// The bytes inside (through single-field wrappers such as `AccountId32([u8; 32])`).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            Value::Composite(f) if f.len() == 1 => f[0].1.as_bytes(),
            _ => None,
        }
    }

    /// The elements of a sequence (through single-field wrappers such as `BoundedVec`).
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::Seq(s) => Some(s),
            Value::Composite(f) if f.len() == 1 => f[0].1.as_seq(),
            _ => None,
        }
    }

    /// `Option<T>`: `Some(Some(inner))` for `Some`, `Some(None)` for `None`, `None` otherwise.
    pub fn as_option(&self) -> Option<Option<&Value>> {
        match self {
            Value::Variant { name, fields } if name == "None" && fields.is_empty() => Some(None),
            Value::Variant { name, fields } if name == "Some" && fields.len() == 1 => {
                Some(Some(&fields[0].1))
            }
            _ => None,
        }
    }
}

fn resolve(types: &PortableRegistry, id: u32) -> Result<&Type<PortableForm>> {
    types
        .resolve(id)
        .ok_or_else(|| Error::Metadata(format!("type {id} is not in the registry")))
}

fn type_name(ty: &Type<PortableForm>) -> String {
    ty.path.segments.last().cloned().unwrap_or_default()
}

/// SCALE-encodes `value` as registry type `ty`.
pub fn encode_as(
    types: &PortableRegistry,
    ty: u32,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<()> {
    encode_inner(types, ty, value, out, 0)
}

fn enc_err(ty: &Type<PortableForm>, value: &Value, what: &str) -> Error {
    Error::Encode(format!(
        "cannot encode {value:?} as {} ({what})",
        if ty.path.segments.is_empty() {
            "an unnamed type".to_string()
        } else {
            ty.path.segments.join("::")
        }
    ))
}

fn encode_inner(
    types: &PortableRegistry,
    id: u32,
    value: &Value,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::Encode("types nest too deeply".into()));
    }
    let ty = resolve(types, id)?;
    match &ty.type_def {
        TypeDef::Composite(c) => {
            let fields: Vec<(Option<&str>, u32)> = c
                .fields
                .iter()
                .map(|f| (f.name.as_deref(), f.ty.id))
                .collect();
            encode_fields(types, ty, &fields, value, out, depth)
        }
        TypeDef::Tuple(t) => {
            let fields: Vec<(Option<&str>, u32)> = t.fields.iter().map(|f| (None, f.id)).collect();
            encode_fields(types, ty, &fields, value, out, depth)
        }
        TypeDef::Variant(v) => {
            let Value::Variant { name, fields } = value else {
                return Err(enc_err(ty, value, "expected an enum value"));
            };
            let variant = v
                .variants
                .iter()
                .find(|x| &x.name == name)
                .ok_or_else(|| enc_err(ty, value, "no such variant"))?;
            out.push(variant.index);
            let field_types: Vec<(Option<&str>, u32)> = variant
                .fields
                .iter()
                .map(|f| (f.name.as_deref(), f.ty.id))
                .collect();
            encode_fields(
                types,
                ty,
                &field_types,
                &Value::Composite(fields.clone()),
                out,
                depth,
            )
        }
        TypeDef::Sequence(s) => {
            let elem = s.type_param.id;
            match value {
                Value::Bytes(b) => {
                    Compact(b.len() as u32).encode_to(out);
                    for byte in b {
                        encode_inner(types, elem, &Value::U(u128::from(*byte)), out, depth + 1)?;
                    }
                    Ok(())
                }
                Value::Seq(items) => {
                    Compact(items.len() as u32).encode_to(out);
                    for item in items {
                        encode_inner(types, elem, item, out, depth + 1)?;
                    }
                    Ok(())
                }
                _ => Err(enc_err(ty, value, "expected a sequence")),
            }
        }
        TypeDef::Array(a) => {
            let elem = a.type_param.id;
            let items: Vec<Value> = match value {
                Value::Bytes(b) => b.iter().map(|x| Value::U(u128::from(*x))).collect(),
                Value::Seq(items) => items.clone(),
                _ => return Err(enc_err(ty, value, "expected an array")),
            };
            if items.len() != a.len as usize {
                return Err(enc_err(
                    ty,
                    value,
                    &format!("expected {} elements, got {}", a.len, items.len()),
                ));
            }
            for item in &items {
                encode_inner(types, elem, item, out, depth + 1)?;
            }
            Ok(())
        }
        TypeDef::Primitive(p) => encode_primitive(ty, p, value, out),
        TypeDef::Compact(c) => {
            let n = value
                .as_u128()
                .ok_or_else(|| enc_err(ty, value, "expected an unsigned integer"))?;
            // Compact<T> of a wrapper type encodes the wrapped integer.
            let inner = resolve(types, c.type_param.id)?;
            let max = match &inner.type_def {
                TypeDef::Primitive(TypeDefPrimitive::U8) => u128::from(u8::MAX),
                TypeDef::Primitive(TypeDefPrimitive::U16) => u128::from(u16::MAX),
                TypeDef::Primitive(TypeDefPrimitive::U32) => u128::from(u32::MAX),
                TypeDef::Primitive(TypeDefPrimitive::U64) => u128::from(u64::MAX),
                _ => u128::MAX,
            };
            if n > max {
                return Err(enc_err(ty, value, "out of range"));
            }
            Compact(n).encode_to(out);
            Ok(())
        }
        TypeDef::BitSequence(_) => Err(enc_err(ty, value, "bit sequences are not supported")),
    }
}

fn encode_fields(
    types: &PortableRegistry,
    ty: &Type<PortableForm>,
    fields: &[(Option<&str>, u32)],
    value: &Value,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<()> {
    match value {
        Value::Composite(given) if given.len() == fields.len() => {
            for ((name, id), (given_name, v)) in fields.iter().zip(given) {
                if let (Some(want), Some(got)) = (name, given_name) {
                    if want != got {
                        return Err(enc_err(ty, value, &format!("field {want} given as {got}")));
                    }
                }
                encode_inner(types, *id, v, out, depth + 1)?;
            }
            Ok(())
        }
        // A newtype (`NetUid(u16)`, `BoundedVec(Vec<u8>)`, `AccountId32([u8; 32])`) takes the
        // wrapped value directly.
        _ if fields.len() == 1 => encode_inner(types, fields[0].1, value, out, depth + 1),
        _ => Err(enc_err(
            ty,
            value,
            &format!("expected a composite of {} fields", fields.len()),
        )),
    }
}

fn encode_primitive(
    ty: &Type<PortableForm>,
    p: &TypeDefPrimitive,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<()> {
    let unsigned = |max: u128| -> Result<u128> {
        match value.as_u128() {
            Some(n) if n <= max => Ok(n),
            _ => Err(enc_err(ty, value, "expected an unsigned integer in range")),
        }
    };
    match p {
        TypeDefPrimitive::Bool => match value.as_bool() {
            Some(b) => b.encode_to(out),
            None => return Err(enc_err(ty, value, "expected a bool")),
        },
        TypeDefPrimitive::U8 => (unsigned(u8::MAX.into())? as u8).encode_to(out),
        TypeDefPrimitive::U16 => (unsigned(u16::MAX.into())? as u16).encode_to(out),
        TypeDefPrimitive::U32 => (unsigned(u32::MAX.into())? as u32).encode_to(out),
        TypeDefPrimitive::U64 => (unsigned(u64::MAX.into())? as u64).encode_to(out),
        TypeDefPrimitive::U128 => unsigned(u128::MAX)?.encode_to(out),
        TypeDefPrimitive::Str => match value {
            Value::Str(s) => s.encode_to(out),
            _ => return Err(enc_err(ty, value, "expected a string")),
        },
        TypeDefPrimitive::Char => match value {
            Value::Char(c) => u32::from(*c).encode_to(out),
            _ => return Err(enc_err(ty, value, "expected a char")),
        },
        TypeDefPrimitive::I8
        | TypeDefPrimitive::I16
        | TypeDefPrimitive::I32
        | TypeDefPrimitive::I64
        | TypeDefPrimitive::I128 => {
            let Value::I(n) = value else {
                return Err(enc_err(ty, value, "expected a signed integer"));
            };
            let n = *n;
            let fits = |lo: i128, hi: i128| n >= lo && n <= hi;
            match p {
                TypeDefPrimitive::I8 if fits(i8::MIN.into(), i8::MAX.into()) => {
                    (n as i8).encode_to(out)
                }
                TypeDefPrimitive::I16 if fits(i16::MIN.into(), i16::MAX.into()) => {
                    (n as i16).encode_to(out)
                }
                TypeDefPrimitive::I32 if fits(i32::MIN.into(), i32::MAX.into()) => {
                    (n as i32).encode_to(out)
                }
                TypeDefPrimitive::I64 if fits(i64::MIN.into(), i64::MAX.into()) => {
                    (n as i64).encode_to(out)
                }
                TypeDefPrimitive::I128 => n.encode_to(out),
                _ => return Err(enc_err(ty, value, "signed integer out of range")),
            }
        }
        TypeDefPrimitive::U256 | TypeDefPrimitive::I256 => match value {
            Value::Bytes(b) if b.len() == 32 => out.extend_from_slice(b),
            _ => return Err(enc_err(ty, value, "expected 32 bytes")),
        },
    }
    Ok(())
}

/// Decodes registry type `ty` from the front of `input`, advancing it.
pub fn decode_as(types: &PortableRegistry, ty: u32, input: &mut &[u8]) -> Result<Value> {
    let mut budget = MAX_VALUES;
    decode_inner(types, ty, input, 0, &mut budget)
}

/// Decodes registry type `ty` from all of `bytes`; bytes left over are an error.
pub fn decode_all(types: &PortableRegistry, ty: u32, bytes: &[u8]) -> Result<Value> {
    let mut input = bytes;
    let value = decode_as(types, ty, &mut input)?;
    if !input.is_empty() {
        return Err(Error::Decode(format!(
            "{} bytes left over after decoding",
            input.len()
        )));
    }
    Ok(value)
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if input.len() < n {
        return Err(Error::Decode(format!(
            "input ends early: need {n} bytes, {} left",
            input.len()
        )));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn decode_len(input: &mut &[u8]) -> Result<usize> {
    let n = Compact::<u32>::decode(input)
        .map_err(|e| Error::Decode(format!("bad length prefix: {e}")))?
        .0 as usize;
    // Every element takes at least one byte in the types this client reads, so a length
    // above the remaining input is a lie: refuse it before allocating anything.
    if n > input.len() {
        return Err(Error::Decode(format!(
            "length prefix {n} exceeds the {} bytes left",
            input.len()
        )));
    }
    Ok(n)
}

fn decode_inner(
    types: &PortableRegistry,
    id: u32,
    input: &mut &[u8],
    depth: usize,
    budget: &mut usize,
) -> Result<Value> {
    if depth > MAX_DEPTH {
        return Err(Error::Decode("types nest too deeply".into()));
    }
    *budget = budget
        .checked_sub(1)
        .ok_or_else(|| Error::Decode(format!("more than {MAX_VALUES} values")))?;
    let ty = resolve(types, id)?;
    Ok(match &ty.type_def {
        TypeDef::Composite(c) => {
            let mut fields = Vec::with_capacity(c.fields.len());
            for f in &c.fields {
                fields.push((
                    f.name.clone(),
                    decode_inner(types, f.ty.id, input, depth + 1, budget)?,
                ));
            }
            Value::Composite(fields)
        }
        TypeDef::Tuple(t) => {
            let mut fields = Vec::with_capacity(t.fields.len());
            for f in &t.fields {
                fields.push((None, decode_inner(types, f.id, input, depth + 1, budget)?));
            }
            Value::Composite(fields)
        }
        TypeDef::Variant(v) => {
            let index = take(input, 1)?[0];
            let variant = v
                .variants
                .iter()
                .find(|x| x.index == index)
                .ok_or_else(|| {
                    Error::Decode(format!("{}: no variant with index {index}", type_name(ty)))
                })?;
            let mut fields = Vec::with_capacity(variant.fields.len());
            for f in &variant.fields {
                fields.push((
                    f.name.clone(),
                    decode_inner(types, f.ty.id, input, depth + 1, budget)?,
                ));
            }
            Value::Variant {
                name: variant.name.clone(),
                fields,
            }
        }
        TypeDef::Sequence(s) => {
            let n = decode_len(input)?;
            decode_elements(types, s.type_param.id, n, input, depth, budget)?
        }
        TypeDef::Array(a) => {
            let n = a.len as usize;
            if n > input.len() {
                return Err(Error::Decode(format!(
                    "array of {n} exceeds the {} bytes left",
                    input.len()
                )));
            }
            decode_elements(types, a.type_param.id, n, input, depth, budget)?
        }
        TypeDef::Primitive(p) => decode_primitive(p, input)?,
        TypeDef::Compact(_) => {
            let n = Compact::<u128>::decode(input)
                .map_err(|e| Error::Decode(format!("bad compact integer: {e}")))?;
            Value::U(n.0)
        }
        TypeDef::BitSequence(_) => {
            return Err(Error::Decode(format!(
                "{}: bit sequences are not supported",
                type_name(ty)
            )))
        }
    })
}

fn decode_elements(
    types: &PortableRegistry,
    elem: u32,
    n: usize,
    input: &mut &[u8],
    depth: usize,
    budget: &mut usize,
) -> Result<Value> {
    let is_u8 = matches!(
        resolve(types, elem)?.type_def,
        TypeDef::Primitive(TypeDefPrimitive::U8)
    );
    if is_u8 {
        return Ok(Value::Bytes(take(input, n)?.to_vec()));
    }
    // A sequence of zero-sized elements would consume no input: refuse long ones.
    if n > 1024 && is_empty_type(types, elem) {
        return Err(Error::Decode(format!("{n} elements of an empty type")));
    }
    // Grow with what actually decodes rather than trusting the length prefix.
    let mut items = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        items.push(decode_inner(types, elem, input, depth + 1, budget)?);
    }
    Ok(Value::Seq(items))
}

fn decode_primitive(p: &TypeDefPrimitive, input: &mut &[u8]) -> Result<Value> {
    fn le<const N: usize>(input: &mut &[u8]) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(take(input, N)?);
        Ok(a)
    }
    Ok(match p {
        TypeDefPrimitive::Bool => match take(input, 1)?[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(Error::Decode(format!("bad bool byte {b}"))),
        },
        TypeDefPrimitive::Char => {
            let c = u32::from_le_bytes(le::<4>(input)?);
            Value::Char(char::from_u32(c).ok_or_else(|| Error::Decode(format!("bad char {c:#x}")))?)
        }
        TypeDefPrimitive::Str => {
            let n = decode_len(input)?;
            let bytes = take(input, n)?;
            Value::Str(
                std::str::from_utf8(bytes)
                    .map_err(|e| Error::Decode(format!("string is not UTF-8: {e}")))?
                    .to_string(),
            )
        }
        TypeDefPrimitive::U8 => Value::U(take(input, 1)?[0].into()),
        TypeDefPrimitive::U16 => Value::U(u16::from_le_bytes(le(input)?).into()),
        TypeDefPrimitive::U32 => Value::U(u32::from_le_bytes(le(input)?).into()),
        TypeDefPrimitive::U64 => Value::U(u64::from_le_bytes(le(input)?).into()),
        TypeDefPrimitive::U128 => Value::U(u128::from_le_bytes(le(input)?)),
        TypeDefPrimitive::I8 => Value::I(i8::from_le_bytes(le(input)?).into()),
        TypeDefPrimitive::I16 => Value::I(i16::from_le_bytes(le(input)?).into()),
        TypeDefPrimitive::I32 => Value::I(i32::from_le_bytes(le(input)?).into()),
        TypeDefPrimitive::I64 => Value::I(i64::from_le_bytes(le(input)?).into()),
        TypeDefPrimitive::I128 => Value::I(i128::from_le_bytes(le(input)?)),
        TypeDefPrimitive::U256 | TypeDefPrimitive::I256 => Value::Bytes(take(input, 32)?.to_vec()),
    })
}

/// Whether type `ty` always encodes to zero bytes (unit structs and tuples, recursively).
pub fn is_empty_type(types: &PortableRegistry, ty: u32) -> bool {
    fn inner(types: &PortableRegistry, id: u32, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match types.resolve(id).map(|t| &t.type_def) {
            Some(TypeDef::Composite(c)) => {
                c.fields.iter().all(|f| inner(types, f.ty.id, depth + 1))
            }
            Some(TypeDef::Tuple(t)) => t.fields.iter().all(|f| inner(types, f.id, depth + 1)),
            Some(TypeDef::Array(a)) => a.len == 0 || inner(types, a.type_param.id, depth + 1),
            _ => false,
        }
    }
    inner(types, ty, 0)
}
