//! De-identifying a file into a file without holding its pixels in memory.
//!
//! Table E.1-1 retains Pixel Data (7FE0,0010) (burned-in text is the pixel
//! cleaner's, Clean Pixel Data). When native pixel data is the file's last
//! element, only the header is parsed and de-identified; the pixel data
//! element is then copied byte for byte from the input (in the kernel, by
//! `copy_file_range`, where the platform has it). Any other file (compressed
//! or deflated transfer syntaxes, elements after Pixel Data, no meta group,
//! a length that does not match the image) takes the in-memory path.

use crate::deid::{DeidError, DeidReport, Deidentifier, Subject};
use crate::read::ReadError;
use dicom_core::Tag;
use dicom_object::file::ReadPreamble;
use dicom_object::{FileDicomObject, InMemDicomObject, OpenFileOptions};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Why a file could not be de-identified into a file.
#[derive(Debug, thiserror::Error)]
pub enum FileDeidError {
    /// The input could not be read as DICOM.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// De-identification refused the options.
    #[error(transparent)]
    Deid(#[from] DeidError),
    /// Reading the input or writing the output failed.
    #[error("cannot copy to the output: {0}")]
    Io(#[from] std::io::Error),
    /// The de-identified object could not be encoded.
    #[error("cannot write the de-identified object: {0}")]
    Write(String),
}

const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);

/// The native transfer syntaxes (PS3.5 A.1, A.2, A.3): (UID, explicit VR,
/// big endian).
const NATIVE: [(&str, bool, bool); 3] = [
    ("1.2.840.10008.1.2", false, false),
    ("1.2.840.10008.1.2.1", true, false),
    ("1.2.840.10008.1.2.2", true, true),
];

impl Deidentifier {
    /// De-identifies the file `input` into the file `output` (what
    /// [`Deidentifier::deidentify`] does, written as a Part 10 file). Native
    /// pixel data at the end of the file is copied from the input instead of
    /// being read into memory; the `bool` says whether it was.
    pub fn deidentify_file(
        &self,
        input: &Path,
        output: &Path,
        subject: &Subject,
    ) -> Result<(DeidReport, bool), FileDeidError> {
        if let Some((header, offset)) = header_and_pixel_offset(input)? {
            let (out, report) = self.deidentify(header, subject)?;
            let mut writer = BufWriter::new(File::create(output)?);
            out.write_all(&mut writer)
                .map_err(|e| FileDeidError::Write(e.to_string()))?;
            writer.flush()?;
            let mut file = writer.into_inner().map_err(|e| e.into_error())?;
            let mut source = File::open(input)?;
            source.seek(SeekFrom::Start(offset))?;
            std::io::copy(&mut source, &mut file)?;
            return Ok((report, true));
        }
        let (out, report) = self.deidentify(crate::read::open(input)?, subject)?;
        out.write_to_file(output)
            .map_err(|e| FileDeidError::Write(e.to_string()))?;
        Ok((report, false))
    }
}

/// The object without Pixel Data, and the offset of the Pixel Data element
/// in the file, if the file is a Part 10 file in a native transfer syntax
/// whose last element is Pixel Data of exactly the length its image pixel
/// attributes give (PS3.3 C.7.6.3: Rows × Columns × Samples per Pixel ×
/// Number of Frames × Bits Allocated, padded to even length).
fn header_and_pixel_offset(
    path: &Path,
) -> Result<Option<(FileDicomObject<InMemDicomObject>, u64)>, std::io::Error> {
    let Ok(header) = OpenFileOptions::new()
        .read_preamble(ReadPreamble::Auto)
        .read_until(PIXEL_DATA)
        .open_file(path)
    else {
        return Ok(None);
    };
    let ts = header
        .meta()
        .transfer_syntax()
        .trim_end_matches(['\0', ' ']);
    let Some(&(_, explicit, big_endian)) = NATIVE.iter().find(|(uid, _, _)| *uid == ts) else {
        return Ok(None);
    };
    let int = |g: u16, e: u16| -> Option<u64> {
        header
            .get(Tag(g, e))
            .and_then(|e| e.value().to_str().ok())
            .and_then(|s| s.trim_matches(['\0', ' ']).parse().ok())
            .or_else(|| header.get(Tag(g, e))?.to_int::<u64>().ok())
    };
    let (Some(rows), Some(columns), Some(bits)) = (
        int(0x0028, 0x0010),
        int(0x0028, 0x0011),
        int(0x0028, 0x0100),
    ) else {
        return Ok(None);
    };
    let samples = int(0x0028, 0x0002).unwrap_or(1);
    let frames = int(0x0028, 0x0008).unwrap_or(1).max(1);
    let Some(total_bits) = [columns, samples, frames, bits]
        .iter()
        .try_fold(rows, |acc, x| acc.checked_mul(*x))
    else {
        return Ok(None);
    };
    let length = total_bits.div_ceil(8).next_multiple_of(2);
    let Ok(length32) = u32::try_from(length) else {
        return Ok(None);
    };
    let mut expected = Vec::with_capacity(12);
    let (tag, len) = if big_endian {
        ([0x7F, 0xE0, 0x00, 0x10], length32.to_be_bytes())
    } else {
        ([0xE0, 0x7F, 0x10, 0x00], length32.to_le_bytes())
    };
    expected.extend_from_slice(&tag);
    if explicit {
        expected.extend_from_slice(b"O?\0\0"); // OW or OB
    }
    expected.extend_from_slice(&len);
    let file_len = std::fs::metadata(path)?.len();
    let Some(offset) = file_len.checked_sub(length + expected.len() as u64) else {
        return Ok(None);
    };
    let mut found = vec![0u8; expected.len()];
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut found)?;
    let matches = found
        .iter()
        .zip(&expected)
        .enumerate()
        .all(|(i, (f, e))| f == e || (explicit && i == 5 && matches!(f, b'W' | b'B')));
    Ok(matches.then_some((header, offset)))
}
