//! Any single-byte change to an export is detected, or leaves the parsed
//! content identical (whitespace, equivalent number or timestamp spellings).

mod common;

use common::{export_lines, hub_key, log_with};
use oncofed_audit::{read_export, verify_export};
use proptest::prelude::*;
use std::sync::LazyLock;

/// Seven entries (with strings, floats and nested details), checkpoints after
/// 2 and 5 and one on demand after 6, plus an unsigned tail entry.
static EXPORT: LazyLock<String> = LazyLock::new(|| {
    let (_dir, log) = log_with(7, 3);
    log.checkpoint().unwrap();
    log.append(
        "site:a\n\"quoted\"",
        "result.received",
        "q-ü",
        serde_json::json!({"nested": {"k": [1, -2.5e-3, "x"]}}),
    )
    .unwrap();
    export_lines(&log).join("\n") + "\n"
});

fn check(index: usize, byte: u8) -> Result<(), TestCaseError> {
    let original = EXPORT.as_bytes();
    prop_assume!(original[index] != byte);
    let mut tampered = original.to_vec();
    tampered[index] = byte;
    let report = verify_export(&tampered[..], &hub_key());
    let unchanged = match read_export(&tampered[..]) {
        Ok(parsed) => parsed == read_export(original).unwrap(),
        Err(_) => false,
    };
    if unchanged {
        prop_assert!(report.ok, "identical content but {report}");
    } else {
        prop_assert!(
            !report.ok,
            "byte {index} -> {byte:#04x} changed content undetected"
        );
    }
    Ok(())
}

#[test]
fn original_verifies() {
    let report = verify_export(EXPORT.as_bytes(), &hub_key());
    assert!(report.ok, "{report}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn any_single_byte_change(index in any::<prop::sample::Index>(), byte in any::<u8>()) {
        check(index.index(EXPORT.len()), byte)?;
    }

    /// Printable replacements are the likelier edits; hit them more often.
    #[test]
    fn any_single_printable_change(index in any::<prop::sample::Index>(), byte in 0x20u8..0x7f) {
        check(index.index(EXPORT.len()), byte)?;
    }
}
