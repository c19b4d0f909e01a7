//! Serde helpers for `f64` values that may be infinite or NaN.
//!
//! A failed evaluation scores `+inf`, and JSON has no infinity: `serde_json` writes non-finite
//! floats as `null` and then refuses to read them back, so a stored step result with a failed
//! model would be unreadable. With `#[serde(with = "arena_core::serde_float")]` finite values
//! stay plain JSON numbers and the others become the strings `"inf"`, `"-inf"` and `"nan"`.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
//! struct Row {
//!     #[serde(with = "arena_core::serde_float")]
//!     score: f64,
//! }
//! let json = serde_json::to_string(&Row { score: f64::INFINITY }).unwrap();
//! assert_eq!(json, r#"{"score":"inf"}"#);
//! assert_eq!(serde_json::from_str::<Row>(&json).unwrap(), Row { score: f64::INFINITY });
//! ```

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;

/// Writes finite values as numbers and the others as `"inf"`, `"-inf"` or `"nan"`.
pub fn serialize<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    if value.is_finite() {
        serializer.serialize_f64(*value)
    } else if value.is_nan() {
        serializer.serialize_str("nan")
    } else if *value > 0.0 {
        serializer.serialize_str("inf")
    } else {
        serializer.serialize_str("-inf")
    }
}

/// Reads a number (integer or float) or one of the strings `"inf"`, `"-inf"`, `"nan"`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    deserializer.deserialize_any(FloatVisitor)
}

struct FloatVisitor;

impl Visitor<'_> for FloatVisitor {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number or one of \"inf\", \"-inf\", \"nan\"")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" => Ok(f64::NAN),
            other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
        }
    }
}

/// The same encoding for every element of a `Vec<f64>`.
pub mod vec {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(serde::Serialize, Deserialize)]
    #[serde(transparent)]
    struct Float(#[serde(with = "super")] f64);

    /// Serialises each element as [`super::serialize`] does.
    pub fn serialize<S: Serializer>(values: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(values.len()))?;
        for v in values {
            seq.serialize_element(&Float(*v))?;
        }
        seq.end()
    }

    /// Deserialises each element as [`super::deserialize`] does.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f64>, D::Error> {
        let floats = Vec::<Float>::deserialize(deserializer)?;
        Ok(floats.into_iter().map(|f| f.0).collect())
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize, Deserialize)]
    struct Row {
        #[serde(with = "super")]
        x: f64,
        #[serde(with = "super::vec")]
        v: Vec<f64>,
    }

    #[test]
    fn round_trips_every_kind_of_value() {
        let row = Row {
            x: f64::NEG_INFINITY,
            v: vec![1.5, f64::INFINITY, f64::NAN, -0.0, 3.0],
        };
        let json = serde_json::to_string(&row).unwrap();
        assert_eq!(json, r#"{"x":"-inf","v":[1.5,"inf","nan",-0.0,3.0]}"#);
        let back: Row = serde_json::from_str(&json).unwrap();
        assert_eq!(back.x, f64::NEG_INFINITY);
        assert_eq!(back.v[..2], [1.5, f64::INFINITY]);
        assert!(back.v[2].is_nan());
        assert_eq!(back.v[4], 3.0);
    }

    #[test]
    fn integers_and_bad_strings() {
        let back: Row = serde_json::from_str(r#"{"x":2,"v":[-1]}"#).unwrap();
        assert_eq!((back.x, back.v), (2.0, vec![-1.0]));
        let err = serde_json::from_str::<Row>(r#"{"x":"infinity","v":[]}"#).unwrap_err();
        assert!(
            err.to_string().contains("\"inf\", \"-inf\", \"nan\""),
            "{err}"
        );
    }
}
