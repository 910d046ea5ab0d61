//! The walk over an input's structure that runs before dicom-object parses
//! it: every declared value length must fit in the bytes that are left, and
//! binary values have a whole number of numbers; sequences may nest only
//! [`MAX_SEQUENCE_DEPTH`] deep; and no item tag stands where a data element
//! belongs.
//!
//! dicom-rs 0.10 allocates and zero-fills a value's declared length before it
//! reads the value (`StatefulDecoder::read_value_*`, the file meta reader's
//! `read_str_body`), so a 674-byte file that declares a 4 GiB value costs a
//! 4 GiB allocation and its memset before the read fails; and the object
//! builder recurses once per nested sequence, so deep nesting overflows the
//! stack. This walk uses the same token reader logic (dicom-parser's
//! `LazyDataSetReader`, which skips values instead of reading them) and the
//! same header decoder as the file meta reader, so it sees the lengths the
//! parser will act on.

use super::ReadError;
use dicom_core::{Tag, VR};
use dicom_encoding::decode::Decode;
use dicom_encoding::decode::explicit_le::ExplicitVRLittleEndianDecoder;
use dicom_encoding::{Codec, TransferSyntax};
use dicom_parser::StatefulDecode;
use dicom_parser::dataset::LazyDataToken;
use dicom_parser::dataset::lazy_read::LazyDataSetReader;
use std::io::{Cursor, Read};

/// Deepest nesting of sequences (and encapsulated pixel data) a data set may
/// have; real objects stay below ten (a structured report's content tree is
/// the deepest). dicom-object builds one stack frame per level.
pub const MAX_SEQUENCE_DEPTH: usize = 32;

/// Largest data set a deflated transfer syntax may inflate to (a deflate
/// bomb is refused at this size).
pub const MAX_INFLATED_BYTES: u64 = 1 << 30;

fn refuse(what: impl std::fmt::Display) -> ReadError {
    ReadError::NotDicom(what.to_string())
}

/// Checks the file meta group (PS3.10 7.1) of `part10`, which starts at the
/// `DICM` magic, the way dicom-object's meta reader walks it: explicit VR
/// little endian elements until File Meta Information Group Length is used up.
pub(super) fn check_meta(part10: &[u8]) -> Result<(), ReadError> {
    let mut src = part10
        .get(4..)
        .ok_or_else(|| refuse("no file meta group"))?;
    let decoder = ExplicitVRLittleEndianDecoder::default();
    let header = |src: &mut &[u8]| decoder.decode_header(src).map_err(refuse);
    let (first, _) = header(&mut src)?;
    if first.tag != Tag(0x0002, 0x0000) || first.len.0 != 4 || src.len() < 4 {
        return Ok(()); // the meta reader refuses it before any allocation
    }
    let group_length = u32::from_le_bytes([src[0], src[1], src[2], src[3]]);
    src = &src[4..];
    let mut total: u32 = 0;
    while total < group_length {
        let (element, header_len) = header(&mut src)?;
        let Some(len) = element.len.get() else {
            return Ok(()); // undefined length: the meta reader refuses it
        };
        if len as usize > src.len() {
            return Err(too_long(element.tag, len, src.len() as u64));
        }
        src = &src[len as usize..];
        total = total.saturating_add(header_len as u32).saturating_add(len);
    }
    Ok(())
}

/// Checks the data set `bytes` encoded in `ts` (a deflated one is inflated,
/// up to [`MAX_INFLATED_BYTES`], and its inflated form checked).
pub(super) fn check_dataset(bytes: &[u8], ts: &TransferSyntax) -> Result<(), ReadError> {
    match ts.codec() {
        Codec::Dataset(Some(adapter)) => {
            let mut inflated = Vec::new();
            adapter
                .adapt_reader(Box::new(bytes))
                .take(MAX_INFLATED_BYTES + 1)
                .read_to_end(&mut inflated)
                .map_err(|e| refuse(format!("cannot inflate the data set: {e}")))?;
            if inflated.len() as u64 > MAX_INFLATED_BYTES {
                return Err(refuse(format!(
                    "the deflated data set inflates to more than {MAX_INFLATED_BYTES} bytes"
                )));
            }
            walk(&inflated, ts)
        }
        _ => walk(bytes, ts),
    }
}

/// The size of one binary value of `vr` (1 for text and bytes).
///
/// dicom-parser 0.10 reads `len / unit` numbers but advances its position by
/// `len`, so a UL of 2 bytes leaves the reader 2 bytes behind the position it
/// believes in; from there dicom-object parses other headers than this walk
/// checked, and one declared 1.3 GB where the walk saw none (found by
/// fuzzing). Such a length breaks PS3.5 6.2 anyway.
fn unit(vr: VR) -> u32 {
    match vr {
        VR::US | VR::SS | VR::OW => 2,
        VR::UL | VR::SL | VR::FL | VR::OF | VR::OL | VR::AT => 4,
        VR::FD | VR::OD | VR::SV | VR::UV | VR::OV => 8,
        _ => 1,
    }
}

fn too_long(tag: Tag, len: u32, left: u64) -> ReadError {
    refuse(format!(
        "element {tag} declares {len} bytes where {left} are left"
    ))
}

/// What a sequence token opened.
#[derive(PartialEq)]
enum Open {
    Sequence,
    Item,
}

fn walk(bytes: &[u8], ts: &TransferSyntax) -> Result<(), ReadError> {
    let total = bytes.len() as u64;
    let mut reader = LazyDataSetReader::new_with_ts(Cursor::new(bytes), ts).map_err(refuse)?;
    let mut open: Vec<Open> = Vec::new();
    while let Some(token) = reader.advance() {
        let token = token.map_err(refuse)?;
        let (tag, len, at) = match &token {
            LazyDataToken::SequenceStart { .. } | LazyDataToken::PixelSequenceStart => {
                open.push(Open::Sequence);
                if open.iter().filter(|o| **o == Open::Sequence).count() > MAX_SEQUENCE_DEPTH {
                    return Err(refuse(format!(
                        "sequences nested deeper than {MAX_SEQUENCE_DEPTH} levels"
                    )));
                }
                continue;
            }
            LazyDataToken::ItemStart { .. } => {
                // Only inside a sequence (the token reader guarantees it; kept
                // so that our stack cannot drift from the reader's).
                if open.last() != Some(&Open::Sequence) {
                    return Err(refuse("an item outside a sequence"));
                }
                open.push(Open::Item);
                continue;
            }
            LazyDataToken::ItemEnd => {
                // Also a stray item delimiter outside any item: dicom-object's
                // reader skips one at the top level, but after one the token
                // reader believes it is in a sequence with none open and panics
                // on the next item (dicom-parser 0.10 `lazy_read.rs`), so such
                // an input is refused.
                if open.pop() != Some(Open::Item) {
                    return Err(refuse("an item delimiter outside an item"));
                }
                continue;
            }
            LazyDataToken::SequenceEnd => {
                if open.pop() != Some(Open::Sequence) {
                    return Err(refuse("a sequence delimiter outside a sequence"));
                }
                continue;
            }
            LazyDataToken::ElementHeader(_) => continue,
            // An item tag where a data element belongs (PS3.5 7.5): dicom-object
            // keeps it as an element, writes it back as an item header, and
            // cannot read what it wrote (found by fuzzing).
            LazyDataToken::LazyValue { header, .. } if header.tag.group() == 0xFFFE => {
                return Err(refuse(format!(
                    "the item tag {} where a data element belongs",
                    header.tag
                )));
            }
            LazyDataToken::LazyValue { header, decoder } => {
                let unit = unit(header.vr);
                if header.len.0 % unit != 0 {
                    return Err(refuse(format!(
                        "element {} of VR {} has {} bytes, not a multiple of {unit} (PS3.5 6.2)",
                        header.tag,
                        header.vr.to_string(),
                        header.len.0
                    )));
                }
                (header.tag, header.len.0, decoder.position())
            }
            LazyDataToken::LazyItemValue { len, decoder } => {
                (Tag(0xFFFE, 0xE000), *len, decoder.position())
            }
            // The enum is non-exhaustive: a token this walk does not know is
            // one it cannot vouch for.
            _ => return Err(refuse("an unknown data set token")),
        };
        let left = total.saturating_sub(at);
        if u64::from(len) > left {
            return Err(too_long(tag, len, left));
        }
        token.skip().map_err(refuse)?;
    }
    Ok(())
}
