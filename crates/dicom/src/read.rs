//! Reading DICOM files as they arrive at a site: Part 10 files with or
//! without the 128-byte preamble, and bare data sets without a file meta
//! group (older archives and exports), whose transfer syntax is recognised
//! from the first element (implicit VR little endian, the DICOM default, or
//! explicit VR in either byte order).
//!
//! # Bounded work on untrusted input
//!
//! A site's C-STORE SCP and folder ingest read whatever arrives, so reading
//! is bounded by the input's size: before dicom-object parses anything,
//! [`bounds`] walks the file meta group and the data set and refuses a value
//! whose declared length exceeds the bytes left, sequences nested deeper than
//! [`MAX_SEQUENCE_DEPTH`], and a deflated data set that inflates beyond
//! [`MAX_INFLATED_BYTES`]. dicom-rs 0.10 allocates and zero-fills a declared
//! length before reading it (and has no option to limit it), so without the
//! walk a 674-byte file declaring a 4 GiB value cost a 4 GiB allocation.
//!
//! Measured on pydicom's test files (`cargo test [--release] -p oncofed-dicom
//! --test slow_inputs -- --nocapture`, 2 shared cores, 2026-12-03); before:
//! the former `open` in release, dicom-object's `open_file` alone in debug:
//!
//! | file | before, release | before, debug | after, release | after, debug |
//! |---|---:|---:|---:|---:|
//! | `UN_sequence.dcm` (674 B) | 1.93 s | 38.7 s | 0.1 ms (1.8 ms cold) | 0.17 ms |
//! | `SC_rgb_jpeg.dcm` (4.4 KB) | 0.62 s | 12.6 s | 0.02 ms | 0.03 ms |
//!
//! Both were refused before and are refused now (dicom-rs 0.10 cannot read
//! them: the first has a UN sequence of undefined length, which PS3.5 6.2.2
//! encodes in implicit VR inside an explicit VR data set; the second's data
//! set is not in its declared transfer syntax), but before, dicom-parser
//! first zero-filled a buffer of the declared (garbage) length of one
//! element: 3.7 GB and 1.2 GB (callgrind: 99 % of the instructions in
//! `SmallVec::resize` under `read_value_ob`). The former fallback to a bare
//! data set after a failed Part 10 parse was not the cost; it stays.

mod bounds;

pub use bounds::{MAX_INFLATED_BYTES, MAX_SEQUENCE_DEPTH};
use dicom_core::Tag;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::{FileMetaTable, FileMetaTableBuilder};
use dicom_object::{FileDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
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
    /// The SOP Class or SOP Instance UID that would go into the file meta
    /// group (of a data set without one, or missing from it) has other
    /// characters than digits and dots (PS3.5 9.1), so a file written with
    /// it could not be read back (found by fuzzing).
    #[error("the data set's {0} is not a valid UID; it cannot be stored")]
    InvalidUid(&'static str),
}

/// Whether `uid` (trailing padding removed) has only the characters of a
/// UID (PS3.5 9.1: digits and dots), which is what dicom-object's file meta
/// reader demands. Lenient on purpose: older archives hold UIDs with leading
/// zeros or over 64 characters, which read and write fine.
fn is_valid_uid(uid: &str) -> bool {
    !uid.is_empty() && uid.bytes().all(|b| b == b'.' || b.is_ascii_digit())
}

/// Parses a data set received without a file (a C-STORE's data, a command
/// set) in the transfer syntax `ts`, after the same bounds check as
/// [`from_bytes`]: dicom-rs allocates an element's declared length before it
/// reads it, so unchecked bytes of a few hundred could claim gigabytes.
pub fn dataset_with_ts(
    bytes: &[u8],
    ts: &dicom_encoding::TransferSyntax,
) -> Result<InMemDicomObject, ReadError> {
    bounds::check_dataset(bytes, ts)?;
    InMemDicomObject::read_dataset_with_ts(bytes, ts)
        .map_err(|e| ReadError::NotDicom(e.to_string()))
}

/// Reads `path`: a Part 10 file (preamble optional), or else a bare data set
/// (see [`from_bytes`]).
pub fn open(path: &Path) -> Result<FileDicomObject<InMemDicomObject>, ReadError> {
    from_bytes(&std::fs::read(path)?)
}

/// Parses `bytes` as a Part 10 file (PS3.10 7.1: 128-byte preamble optional,
/// `DICM`, file meta group, data set), or, when they do not start so or do
/// not parse, as a bare data set ([`from_bare_dataset`]). The error of the
/// Part 10 parse is reported when both fail.
pub fn from_bytes(bytes: &[u8]) -> Result<FileDicomObject<InMemDicomObject>, ReadError> {
    let magic = |at: usize| bytes.get(at..at + 4) == Some(b"DICM".as_slice());
    let start = if magic(128) {
        Some(128)
    } else if magic(0) {
        Some(0)
    } else {
        None
    };
    let Some(start) = start else {
        return from_bare_dataset(bytes);
    };
    match part10(&bytes[start..]) {
        Ok(file) => Ok(file),
        Err(part10_error) => from_bare_dataset(bytes).map_err(|e| match e {
            ReadError::NotDicom(_) => part10_error,
            other => other,
        }),
    }
}

/// Parses `part10`, which starts at the `DICM` magic, after the bounds check.
fn part10(part10: &[u8]) -> Result<FileDicomObject<InMemDicomObject>, ReadError> {
    let not_dicom = |e: &dyn std::fmt::Display| ReadError::NotDicom(e.to_string());
    bounds::check_meta(part10)?;
    let mut dataset = part10;
    let meta = FileMetaTable::from_reader(&mut dataset).map_err(|e| not_dicom(&e))?;
    let ts = TransferSyntaxRegistry
        .get(meta.transfer_syntax())
        .ok_or_else(|| {
            not_dicom(&format!(
                "unknown transfer syntax {}",
                meta.transfer_syntax()
            ))
        })?;
    bounds::check_dataset(dataset, ts)?;
    let file = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Never)
        .from_reader(part10)
        .map_err(|e| not_dicom(&e))?;
    // dicom-object fills a Media Storage SOP Class or Instance UID missing
    // from the meta group from the data set without checking it, and then
    // cannot read the file it writes (found by fuzzing). An empty one reads
    // back, and older files have them.
    let meta_uid_ok = |uid: &str| uid.is_empty() || is_valid_uid(uid);
    if !meta_uid_ok(file.meta().media_storage_sop_class_uid()) {
        return Err(ReadError::InvalidUid("SOP Class UID"));
    }
    if !meta_uid_ok(file.meta().media_storage_sop_instance_uid()) {
        return Err(ReadError::InvalidUid("SOP Instance UID"));
    }
    Ok(file)
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
    bounds::check_dataset(bytes, &ts)?;
    let dataset = InMemDicomObject::read_dataset_with_ts(bytes, &ts)
        .map_err(|e| ReadError::NotDicom(e.to_string()))?;
    let uid = |tag: Tag, what| {
        dataset
            .get(tag)
            .and_then(|e| e.value().to_str().ok())
            .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
            .filter(|s| !s.is_empty())
            .ok_or(ReadError::MissingUid(what))
            .and_then(|s| {
                if is_valid_uid(&s) {
                    Ok(s)
                } else {
                    Err(ReadError::InvalidUid(what))
                }
            })
    };
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(uid(Tag(0x0008, 0x0016), "SOP Class UID")?)
        .media_storage_sop_instance_uid(uid(Tag(0x0008, 0x0018), "SOP Instance UID")?)
        .transfer_syntax(ts.uid())
        .build()
        .map_err(|e| ReadError::NotDicom(e.to_string()))?;
    Ok(dataset.with_exact_meta(meta))
}
