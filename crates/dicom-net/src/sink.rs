//! Where received objects go: the node implements [`StoreSink`] to
//! pseudonymise, de-identify and store each object.
//!
//! Trust boundary: the objects handed to a sink are still **identified**
//! (names, ids, dates as the modality wrote them). A sink must de-identify
//! before anything reaches a disk; this crate itself never writes them.

use dicom_object::{FileDicomObject, InMemDicomObject};
use std::net::SocketAddr;

use crate::dimse::status;

/// Who sent an object: the peer as the association saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The calling AE title of the association (already checked against
    /// the allowed list).
    pub calling_ae: String,
    /// The peer's socket address.
    pub peer_addr: SocketAddr,
}

/// Why a sink did not take an object; chooses the C-STORE-RSP status
/// (PS3.4 Table B.2-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// The node cannot take it now (disk full, store unavailable, quota):
    /// 0xA700 Refused: Out of Resources. The sender may retry later.
    OutOfResources,
    /// The data set does not fit its SOP Class (e.g. required attributes
    /// missing): 0xA900 Error: Data Set Does Not Match SOP Class.
    DataSetMismatch,
    /// The data set cannot be processed as it is (e.g. no patient to
    /// pseudonymise): 0xC000 Error: Cannot Understand.
    CannotUnderstand,
    /// The sender may not store this object (e.g. no consent, unknown
    /// project): 0x0124 Refused: Not Authorized.
    NotAuthorized,
    /// Anything else that went wrong in the sink: 0x0110 Processing Failure.
    ProcessingFailure,
}

impl RefusalKind {
    /// The DIMSE status sent back for this kind.
    pub fn status(self) -> u16 {
        match self {
            RefusalKind::OutOfResources => status::OUT_OF_RESOURCES,
            RefusalKind::DataSetMismatch => status::DATA_SET_MISMATCH,
            RefusalKind::CannotUnderstand => status::CANNOT_UNDERSTAND,
            RefusalKind::NotAuthorized => status::NOT_AUTHORIZED,
            RefusalKind::ProcessingFailure => status::PROCESSING_FAILURE,
        }
    }
}

/// A sink's refusal: the kind decides the status sent to the peer; the
/// reason goes to the log only (it may name what the object holds, so it is
/// never sent back over the network).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}: {reason}")]
pub struct SinkRefusal {
    /// What kind of refusal, and so which status.
    pub kind: RefusalKind,
    /// For the log.
    pub reason: String,
}

impl SinkRefusal {
    /// A refusal of `kind` with a reason for the log.
    pub fn new(kind: RefusalKind, reason: impl Into<String>) -> Self {
        SinkRefusal {
            kind,
            reason: reason.into(),
        }
    }
}

/// Receives every object the SCP accepted, one call per C-STORE.
///
/// Called from the association's thread, possibly from several threads at
/// once (one per concurrent association). A panic inside `store` is caught
/// and answered with 0x0110 Processing Failure; the SCP goes on.
pub trait StoreSink: Send + Sync + 'static {
    /// Takes one object: a Part 10 object whose meta group was rebuilt from
    /// the C-STORE command (Media Storage SOP Class/Instance UID from the
    /// Affected SOP Class/Instance UID) and the presentation context
    /// (Transfer Syntax), with the calling AE as Source Application Entity
    /// Title. `Ok` answers 0x0000 Success.
    fn store(
        &self,
        object: FileDicomObject<InMemDicomObject>,
        origin: &Origin,
    ) -> Result<(), SinkRefusal>;
}

impl<S: StoreSink> StoreSink for std::sync::Arc<S> {
    fn store(
        &self,
        object: FileDicomObject<InMemDicomObject>,
        origin: &Origin,
    ) -> Result<(), SinkRefusal> {
        (**self).store(object, origin)
    }
}
