//! A minimal JSON tree that keeps object keys in insertion order.
//!
//! `serde_json::Value` sorts keys (the workspace does not enable `preserve_order`, and
//! enabling it here would change every other crate's output through feature
//! unification). FHIR JSON reads best, and diffs best, with `resourceType` first and
//! fields in specification order, so resources are built as [`J`] and serialised
//! directly to the output writer.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::borrow::Cow;

/// A JSON value with ordered object keys; strings borrow from the record being
/// rendered where they can (allocation was the generator's main cost).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum J<'a> {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal number.
    Num(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// An array.
    Arr(Vec<J<'a>>),
    /// An object, keys in insertion order.
    Obj(Vec<(&'static str, J<'a>)>),
}

impl<'a> From<&'a str> for J<'a> {
    fn from(s: &'a str) -> Self {
        J::Str(Cow::Borrowed(s))
    }
}

impl From<String> for J<'_> {
    fn from(s: String) -> Self {
        J::Str(Cow::Owned(s))
    }
}

impl<'a> From<&'a String> for J<'a> {
    fn from(s: &'a String) -> Self {
        J::Str(Cow::Borrowed(s))
    }
}

impl From<f64> for J<'_> {
    fn from(x: f64) -> Self {
        J::Num(x)
    }
}

impl From<i64> for J<'_> {
    fn from(x: i64) -> Self {
        J::Int(x)
    }
}

impl From<bool> for J<'_> {
    fn from(b: bool) -> Self {
        J::Bool(b)
    }
}

impl<'a> From<Vec<J<'a>>> for J<'a> {
    fn from(v: Vec<J<'a>>) -> Self {
        J::Arr(v)
    }
}

impl<'a> J<'a> {
    /// Appends a field to an object (no-op on other values).
    pub(crate) fn push(&mut self, key: &'static str, value: impl Into<J<'a>>) {
        if let J::Obj(fields) = self {
            fields.push((key, value.into()));
        }
    }
}

/// Builds an ordered JSON object: `o! { "a" => 1i64, "b" => "x" }`.
macro_rules! o {
    ($($k:literal => $v:expr),* $(,)?) => {
        $crate::json::J::Obj(vec![$(($k, $crate::json::J::from($v))),*])
    };
}
pub(crate) use o;

impl Serialize for J<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            J::Bool(b) => s.serialize_bool(*b),
            J::Int(i) => s.serialize_i64(*i),
            J::Num(x) => s.serialize_f64(*x),
            J::Str(v) => s.serialize_str(v),
            J::Arr(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            J::Obj(fields) => {
                let mut map = s.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_their_order() {
        let v = o! { "z" => 1i64, "a" => vec![J::from("x"), J::from(1.5)], "m" => true };
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"z":1,"a":["x",1.5],"m":true}"#
        );
    }
}
