//! The DIMSE command sets this crate reads and writes (DICOM PS3.7 §9.3.1
//! C-STORE and §9.3.5 C-ECHO, Annex E command dictionary): always encoded in
//! Implicit VR Little Endian, whatever the presentation context says
//! (PS3.7 §6.3.1), with the Command Group Length first.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;

/// (0000,0002) Affected SOP Class UID.
const AFFECTED_SOP_CLASS_UID: Tag = Tag(0x0000, 0x0002);
/// (0000,0100) Command Field.
const COMMAND_FIELD: Tag = Tag(0x0000, 0x0100);
/// (0000,0110) Message ID.
const MESSAGE_ID: Tag = Tag(0x0000, 0x0110);
/// (0000,0120) Message ID Being Responded To.
const MESSAGE_ID_RESPONDED: Tag = Tag(0x0000, 0x0120);
/// (0000,0700) Priority.
const PRIORITY: Tag = Tag(0x0000, 0x0700);
/// (0000,0800) Command Data Set Type.
const DATA_SET_TYPE: Tag = Tag(0x0000, 0x0800);
/// (0000,0900) Status.
const STATUS: Tag = Tag(0x0000, 0x0900);
/// (0000,1000) Affected SOP Instance UID.
const AFFECTED_SOP_INSTANCE_UID: Tag = Tag(0x0000, 0x1000);

/// Command Data Set Type value meaning "no data set follows" (PS3.7 E.1).
const NO_DATA_SET: u16 = 0x0101;

/// Command Field values (PS3.7 Table E.1-1).
pub(crate) mod field {
    /// C-STORE-RQ.
    pub const C_STORE_RQ: u16 = 0x0001;
    /// C-STORE-RSP.
    pub const C_STORE_RSP: u16 = 0x8001;
    /// C-ECHO-RQ.
    pub const C_ECHO_RQ: u16 = 0x0030;
    /// C-ECHO-RSP.
    pub const C_ECHO_RSP: u16 = 0x8030;
}

/// DIMSE status codes this crate sends or interprets (PS3.7 Annex C, and
/// PS3.4 Table B.2-1 for the Storage Service Class).
pub mod status {
    /// Success.
    pub const SUCCESS: u16 = 0x0000;
    /// Refused: Out of Resources (PS3.4 B.2.3).
    pub const OUT_OF_RESOURCES: u16 = 0xA700;
    /// Error: Data Set does not match SOP Class (PS3.4 B.2.3).
    pub const DATA_SET_MISMATCH: u16 = 0xA900;
    /// Error: Cannot understand (PS3.4 B.2.3; 0xC000–0xCFFF).
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
    /// Failure: Processing failure (PS3.7 C.4.2).
    pub const PROCESSING_FAILURE: u16 = 0x0110;
    /// Failure: SOP Class not supported (PS3.7 C.5.4).
    pub const SOP_CLASS_NOT_SUPPORTED: u16 = 0x0122;
    /// Refused: Not Authorized (PS3.7 C.5.21).
    pub const NOT_AUTHORIZED: u16 = 0x0124;

    /// Whether `status` is a success or a warning (PS3.7 C.1: 0x0000,
    /// 0x0001, 0x0107, 0x0116 and 0xBxxx are warnings; the object was stored).
    pub fn stored(status: u16) -> bool {
        matches!(status, 0x0000 | 0x0001 | 0x0107 | 0x0116) || status & 0xF000 == 0xB000
    }
}

/// A command set that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The bytes are not an Implicit VR Little Endian data set.
    #[error("command set cannot be parsed: {0}")]
    Parse(String),
    /// A required command element is missing or of the wrong type.
    #[error("command set lacks {0}")]
    Missing(&'static str),
}

/// The parts of a received command set this crate acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Command {
    /// Command Field.
    pub field: u16,
    /// Message ID (requests) or Message ID Being Responded To (responses).
    pub message_id: u16,
    /// Affected SOP Class UID, trimmed; empty when absent.
    pub sop_class: String,
    /// Affected SOP Instance UID, trimmed; empty when absent.
    pub sop_instance: String,
    /// Whether a data set follows.
    pub has_data_set: bool,
    /// Status (responses only).
    pub status: Option<u16>,
}

impl Command {
    /// Parses a command set (PS3.7 §6.3.1: Implicit VR Little Endian).
    pub fn parse(bytes: &[u8]) -> Result<Self, CommandError> {
        let ts = IMPLICIT_VR_LITTLE_ENDIAN.erased();
        let obj = oncofed_dicom::read::dataset_with_ts(bytes, &ts)
            .map_err(|e| CommandError::Parse(e.to_string()))?;
        let u16_of = |tag: Tag| obj.get(tag).and_then(|e| e.value().to_int::<u16>().ok());
        let uid_of = |tag: Tag| {
            obj.get(tag)
                .and_then(|e| e.value().to_str().ok())
                .map(|s| s.trim_end_matches(['\0', ' ']).to_owned())
                .unwrap_or_default()
        };
        let field = u16_of(COMMAND_FIELD).ok_or(CommandError::Missing("Command Field"))?;
        let message_id = u16_of(MESSAGE_ID)
            .or_else(|| u16_of(MESSAGE_ID_RESPONDED))
            .ok_or(CommandError::Missing("Message ID"))?;
        let data_set_type =
            u16_of(DATA_SET_TYPE).ok_or(CommandError::Missing("Command Data Set Type"))?;
        Ok(Command {
            field,
            message_id,
            sop_class: uid_of(AFFECTED_SOP_CLASS_UID),
            sop_instance: uid_of(AFFECTED_SOP_INSTANCE_UID),
            has_data_set: data_set_type != NO_DATA_SET,
            status: u16_of(STATUS),
        })
    }
}

/// A UID value padded to even length with NUL (PS3.5 §9.1).
fn uid_value(uid: &str) -> PrimitiveValue {
    PrimitiveValue::from(uid.to_owned())
}

/// Encodes `elements` as a command set with its Command Group Length.
fn encode(elements: Vec<DataElement<InMemDicomObject>>) -> Vec<u8> {
    let obj = InMemDicomObject::from_element_iter(elements);
    let mut body = Vec::with_capacity(256);
    // Writing a small in-memory object to a Vec cannot fail for the
    // elements built here (fixed VRs, ASCII values).
    let ts = IMPLICIT_VR_LITTLE_ENDIAN.erased();
    if let Err(e) = obj.write_dataset_with_ts(&mut body, &ts) {
        tracing::error!(error = %e, "command set could not be encoded");
    }
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(body.len() + 12);
    // (0000,0000) UL, implicit VR: tag, 4-byte length, value.
    out.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

fn us(tag: Tag, value: u16) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::US, PrimitiveValue::from(value))
}

fn ui(tag: Tag, uid: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::UI, uid_value(uid))
}

/// A C-STORE-RQ command set (PS3.7 Table 9.3-1), priority medium.
pub(crate) fn store_rq(message_id: u16, sop_class: &str, sop_instance: &str) -> Vec<u8> {
    encode(vec![
        ui(AFFECTED_SOP_CLASS_UID, sop_class),
        us(COMMAND_FIELD, field::C_STORE_RQ),
        us(MESSAGE_ID, message_id),
        us(PRIORITY, 0x0000),
        us(DATA_SET_TYPE, 0x0000),
        ui(AFFECTED_SOP_INSTANCE_UID, sop_instance),
    ])
}

/// A C-STORE-RSP command set (PS3.7 Table 9.3-2).
pub(crate) fn store_rsp(message_id: u16, sop_class: &str, sop_instance: &str, st: u16) -> Vec<u8> {
    encode(vec![
        ui(AFFECTED_SOP_CLASS_UID, sop_class),
        us(COMMAND_FIELD, field::C_STORE_RSP),
        us(MESSAGE_ID_RESPONDED, message_id),
        us(DATA_SET_TYPE, NO_DATA_SET),
        us(STATUS, st),
        ui(AFFECTED_SOP_INSTANCE_UID, sop_instance),
    ])
}

/// A C-ECHO-RSP command set (PS3.7 Table 9.3-13).
pub(crate) fn echo_rsp(message_id: u16, sop_class: &str) -> Vec<u8> {
    encode(vec![
        ui(AFFECTED_SOP_CLASS_UID, sop_class),
        us(COMMAND_FIELD, field::C_ECHO_RSP),
        us(MESSAGE_ID_RESPONDED, message_id),
        us(DATA_SET_TYPE, NO_DATA_SET),
        us(STATUS, status::SUCCESS),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_request_round_trips() {
        let bytes = store_rq(7, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4");
        let cmd = Command::parse(&bytes).unwrap();
        assert_eq!(cmd.field, field::C_STORE_RQ);
        assert_eq!(cmd.message_id, 7);
        assert_eq!(cmd.sop_class, "1.2.840.10008.5.1.4.1.1.2");
        assert_eq!(cmd.sop_instance, "1.2.3.4");
        assert!(cmd.has_data_set);
        // group length counts every byte after its own element
        let len = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 12);
    }

    #[test]
    fn store_response_carries_status() {
        let bytes = store_rsp(9, "1.2", "1.2.3", status::OUT_OF_RESOURCES);
        let cmd = Command::parse(&bytes).unwrap();
        assert_eq!(cmd.field, field::C_STORE_RSP);
        assert_eq!(cmd.message_id, 9);
        assert_eq!(cmd.status, Some(0xA700));
        assert!(!cmd.has_data_set);
        assert!(!status::stored(0xA700));
        assert!(status::stored(0xB000));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"\x00\x00", b"\xff\xff\xff\xff\xff\xff\xff\xff"] {
            assert!(Command::parse(bytes).is_err());
        }
    }
}
