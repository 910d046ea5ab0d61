//! What the SCP negotiates: the abstract syntaxes (every Storage SOP Class
//! plus Verification) and the transfer syntaxes (every one the dicom-rs
//! registry can read a data set in: native, deflated and encapsulated; pixel
//! data is stored as it came, never decoded).

use dicom_encoding::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

mod storage_classes;

/// Verification SOP Class (PS3.4 Annex A), answered with C-ECHO.
pub const VERIFICATION: &str = "1.2.840.10008.1.1";
/// Implicit VR Little Endian, the DICOM default every SCP must accept.
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR Little Endian.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// Every Storage SOP Class UID the SCP accepts (PS3.4 Annex B, as known to
/// dicom-dictionary-std 0.10).
pub fn storage_sop_classes() -> impl Iterator<Item = &'static str> {
    storage_classes::STORAGE_SOP_CLASSES
        .iter()
        .map(|(uid, _)| *uid)
}

/// Whether `uid` is a Storage SOP Class this crate accepts.
pub fn is_storage_sop_class(uid: &str) -> bool {
    storage_classes::STORAGE_SOP_CLASSES
        .iter()
        .any(|(u, _)| *u == uid)
}

/// Every transfer syntax the SCP accepts: those of the dicom-rs registry in
/// which a data set can be read (encapsulated pixel data is kept as
/// fragments, so no codec is needed to store it).
pub fn accepted_transfer_syntaxes() -> Vec<&'static str> {
    TransferSyntaxRegistry
        .iter()
        .filter(|ts| !ts.is_unsupported())
        .map(|ts| ts.uid())
        .collect()
}

/// Whether a data set in `uid` can be read and written here.
pub fn is_accepted_transfer_syntax(uid: &str) -> bool {
    TransferSyntaxRegistry
        .get(uid)
        .is_some_and(|ts| !ts.is_unsupported())
}

/// Whether `uid` is a native (uncompressed, not deflated) transfer syntax,
/// which any other native one can be written in instead.
pub fn is_native(uid: &str) -> bool {
    matches!(uid, IMPLICIT_VR_LE | EXPLICIT_VR_LE | "1.2.840.10008.1.2.2")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::dictionary::{UidDictionary, UidType};
    use dicom_dictionary_std::StandardSopClassDictionary;

    #[test]
    fn known_to_the_dictionary() {
        let mut n = 0;
        for (uid, keyword) in storage_classes::STORAGE_SOP_CLASSES {
            let entry = StandardSopClassDictionary
                .by_uid(uid)
                .unwrap_or_else(|| panic!("{uid} unknown"));
            assert_eq!(entry.alias, *keyword);
            assert_eq!(entry.r#type, UidType::SopClass);
            assert!(entry.name.contains("Storage"), "{}", entry.name);
            n += 1;
        }
        assert!(n > 200, "{n}");
        assert!(is_storage_sop_class("1.2.840.10008.5.1.4.1.1.2")); // CT
        assert!(!is_storage_sop_class("1.2.840.10008.1.20.1")); // commitment
    }

    #[test]
    fn native_deflate_and_encapsulated_are_accepted() {
        let ts = accepted_transfer_syntaxes();
        for uid in [
            IMPLICIT_VR_LE,
            EXPLICIT_VR_LE,
            "1.2.840.10008.1.2.2",    // explicit big endian
            "1.2.840.10008.1.2.1.99", // deflated
            "1.2.840.10008.1.2.4.50", // JPEG baseline
            "1.2.840.10008.1.2.4.90", // JPEG 2000 lossless
            "1.2.840.10008.1.2.5",    // RLE
        ] {
            assert!(ts.contains(&uid), "{uid} missing from {ts:?}");
        }
    }
}
