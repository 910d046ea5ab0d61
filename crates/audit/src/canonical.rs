//! Canonical JSON text for hashing.
//!
//! The form: no whitespace; object members sorted by key, comparing keys by
//! Unicode code point (byte-wise UTF-8); arrays in order; strings escaped as
//! `serde_json` does (`"` `\` and control characters escaped, `\n`-style short
//! escapes where they exist, other characters as raw UTF-8); numbers as
//! `serde_json` prints them (integers in decimal, floats in shortest
//! round-trip form, e.g. `1.0`, `1e300`). This is close to, but not, RFC 8785
//! (which sorts by UTF-16 code units and formats numbers as ECMAScript does).
//!
//! Sorting is done here rather than relying on `serde_json::Map` being a
//! `BTreeMap`, because any crate in the build enabling serde_json's
//! `preserve_order` feature would silently change that.

use serde_json::Value;

/// Returns the canonical text of `value` (see the module docs).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

pub(crate) fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(key, out);
                out.push(':');
                write_value(item, out);
            }
            out.push('}');
        }
    }
}

/// A JSON string literal, escaped as `serde_json` does.
pub(crate) fn write_str(s: &str, out: &mut String) {
    // Serialising a str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::canonical_json;
    use serde_json::json;

    #[test]
    fn sorts_keys_recursively_without_whitespace() {
        let v = json!({"b": [3, {"z": null, "a": true}], "a": 1.5, "é": "x\n\"", "Z": -0});
        assert_eq!(
            canonical_json(&v),
            r#"{"Z":0,"a":1.5,"b":[3,{"a":true,"z":null}],"é":"x\n\""}"#
        );
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let a: serde_json::Value = serde_json::from_str(r#"{"x":1,"y":{"q":2,"p":3}}"#).unwrap();
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "y": {"p":3, "q":2}, "x": 1 }"#).unwrap();
        assert_eq!(canonical_json(&a), canonical_json(&b));
    }

    #[test]
    fn floats_round_trip_exactly() {
        for f in [0.1, 1.0 / 3.0, 1e300, -2.5e-308, 123_456.789_012_345_67] {
            let text = canonical_json(&json!(f));
            let back: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(canonical_json(&back), text);
        }
    }
}
