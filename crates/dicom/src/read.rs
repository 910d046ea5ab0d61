//! Reading DICOM files as they arrive at a site: Part 10 files with or
//! without the 128-byte preamble, and bare data sets without a file meta
//! group (older archives and exports), whose transfer syntax is recognised
//! from the first element (implicit VR little endian, the DICOM default, or
//! explicit VR in either byte order).

use dicom_core::Tag;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{FileDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::entries::{
    EXPLICIT_VR_BIG_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN,
};
use std::path::Path;

/// Why a file could not be read as DICOM (the node quarantines it with this).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read at all.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// Neither a Part 10 file nor a data set dicom-rs can parse.
    #[error("not a readable DICOM file: {0}")]
    NotDicom(String),
    /// A data set without meta group lacks SOP Class or SOP Instance UID, so
    /// it cannot be stored or referenced.
    #[error("the data set has no {0}; it cannot be stored")]
    MissingUid(&'static str),
}

/// Reads `path`: a Part 10 file (preamble optional), or else a bare data set.
pub fn open(path: &Path) -> Result<FileDicomObject<InMemDicomObject>, ReadError> {
    let part10 = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .open_file(path);
    match part10 {
        Ok(file) => Ok(file),
        Err(part10_error) => {
            let bytes = std::fs::read(path)?;
            from_bare_dataset(&bytes).map_err(|e| match e {
                ReadError::NotDicom(_) => ReadError::NotDicom(part10_error.to_string()),
                other => other,
            })
        }
    }
}

/// Parses a data set without preamble or meta group and gives it a meta
/// group (the transfer syntax it was read with, its SOP Class/Instance UIDs).
pub fn from_bare_dataset(bytes: &[u8]) -> Result<FileDicomObject<InMemDicomObject>, ReadError> {
    if bytes.len() < 8 {
        return Err(ReadError::NotDicom("too short".into()));
    }
    let vr_letters = bytes[4].is_ascii_uppercase() && bytes[5].is_ascii_uppercase();
    let ts = match (bytes[0], bytes[1], vr_letters) {
        (0x00, g, true) if g != 0 => EXPLICIT_VR_BIG_ENDIAN.erased(),
        (_, _, true) => EXPLICIT_VR_LITTLE_ENDIAN.erased(),
        _ => IMPLICIT_VR_LITTLE_ENDIAN.erased(),
    };
    let dataset = InMemDicomObject::read_dataset_with_ts(bytes, &ts)
        .map_err(|e| ReadError::NotDicom(e.to_string()))?;
    let uid = |tag: Tag, what| {
        dataset
            .get(tag)
            .and_then(|e| e.value().to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
            .filter(|s| !s.is_empty())
            .ok_or(ReadError::MissingUid(what))
    };
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(uid(Tag(0x0008, 0x0016), "SOP Class UID")?)
        .media_storage_sop_instance_uid(uid(Tag(0x0008, 0x0018), "SOP Instance UID")?)
        .transfer_syntax(ts.uid())
        .build()
        .map_err(|e| ReadError::NotDicom(e.to_string()))?;
    Ok(dataset.with_exact_meta(meta))
}
