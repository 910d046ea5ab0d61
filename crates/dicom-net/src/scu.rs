//! The C-STORE SCU (DICOM PS3.4 Annex B, SCU role): delivers objects to a
//! remote AE, e.g. a project's de-identified objects to a research PACS.
//!
//! One association per batch of at most 128 presentation contexts (PS3.8
//! §9.3.2.2: odd context ids 1–255). Each distinct (SOP Class, Transfer
//! Syntax) of the objects gets a context proposing the object's own transfer
//! syntax; a native one also offers Explicit and Implicit VR Little Endian,
//! which the object is then written in if the peer prefers it. Encapsulated
//! (compressed) objects are sent as they are, never transcoded.

use dicom_core::Tag;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::{FileDicomObject, InMemDicomObject};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::client::{ClientAssociation, ClientAssociationOptions};
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu, PresentationContextResultReason};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use crate::dimse::{self, Command, field, status};
use crate::scp::check_ae_title;
use crate::syntax;

/// The remote AE to deliver to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `host:port` of the remote SCP.
    pub address: String,
    /// The remote AE title (Called AE Title).
    pub called_ae: String,
}

/// Settings of the sending side.
#[derive(Debug, Clone)]
pub struct StoreScu {
    /// Our AE title (Calling AE Title); the remote must know it.
    pub calling_ae: String,
    /// The largest PDU we receive (responses are small).
    pub max_pdu_length: u32,
    /// Connection, read and write timeout.
    pub timeout: Duration,
}

impl Default for StoreScu {
    fn default() -> Self {
        StoreScu {
            calling_ae: "ONCOFED".into(),
            max_pdu_length: 65_536,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why a delivery could not be made at all (per-object failures, an abort
/// during one object included, are in the [`SendReport`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ScuError {
    /// An AE title is not valid.
    #[error("invalid AE title: {0}")]
    AeTitle(String),
    /// The association could not be established (refused, unreachable).
    #[error("no association with {called_ae} at {address}: {reason}")]
    Associate {
        /// The remote address.
        address: String,
        /// The remote AE title.
        called_ae: String,
        /// What dicom-ul reported.
        reason: String,
    },
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The peer answered success or a warning (the status).
    Stored(u16),
    /// The peer answered a failure status.
    Failed(u16),
    /// The object was not sent: no presentation context accepted for it, or
    /// it could not be encoded (the reason).
    NotSent(String),
    /// The association broke while this object was sent or answered (the
    /// peer aborted, e.g. on a data set it cannot parse, or the connection
    /// failed); the remaining objects went over a new association.
    Aborted(String),
}

/// The outcome of each object, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendReport {
    /// (SOP Instance UID of the data set, outcome) per object.
    pub outcomes: Vec<(String, Outcome)>,
}

impl SendReport {
    /// How many objects the peer stored (success or warning).
    pub fn stored(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Stored(_)))
            .count()
    }

    /// The objects not stored, with their outcome.
    pub fn failures(&self) -> impl Iterator<Item = &(String, Outcome)> {
        self.outcomes
            .iter()
            .filter(|(_, o)| !matches!(o, Outcome::Stored(_)))
    }
}

/// The transfer syntaxes proposed for objects in `ts`, own first.
fn proposal(ts: &str) -> Vec<String> {
    let mut out = vec![ts.to_owned()];
    if syntax::is_native(ts) {
        for alt in [syntax::EXPLICIT_VR_LE, syntax::IMPLICIT_VR_LE] {
            if alt != ts {
                out.push(alt.to_owned());
            }
        }
    }
    out
}

fn trim(uid: &str) -> &str {
    uid.trim_end_matches(['\0', ' '])
}

/// The object's SOP Class and Instance UIDs as its data set holds them
/// (what a receiving SCP checks the command against), else (absent or not
/// a valid UID, e.g. read as bytes of VR UN) its meta group's.
fn sop_uids(object: &FileDicomObject<InMemDicomObject>) -> (String, String) {
    let of = |tag: Tag, fallback: &str| {
        object
            .get(tag)
            .and_then(|e| e.value().to_str().ok())
            .map(|s| trim(&s).to_owned())
            .filter(|s| valid_uid(s))
            .unwrap_or_else(|| trim(fallback).to_owned())
    };
    let meta = object.meta();
    (
        of(Tag(0x0008, 0x0016), &meta.media_storage_sop_class_uid),
        of(Tag(0x0008, 0x0018), &meta.media_storage_sop_instance_uid),
    )
}

/// Whether `uid` is a UID a peer accepts (PS3.5 §9.1: at most 64
/// characters, digits and dots).
fn valid_uid(uid: &str) -> bool {
    (1..=64).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

/// The presentation context an object needs, (SOP Class, Transfer Syntax),
/// or why it cannot be sent.
fn pair_of(object: &FileDicomObject<InMemDicomObject>) -> Result<(String, String), String> {
    let (class, instance) = sop_uids(object);
    let ts = trim(&object.meta().transfer_syntax).to_owned();
    for (what, uid) in [
        ("SOP Class", &class),
        ("SOP Instance", &instance),
        ("Transfer Syntax", &ts),
    ] {
        if !valid_uid(uid) {
            return Err(format!("{what} UID is not a valid UID"));
        }
    }
    Ok((class, ts))
}

impl StoreScu {
    /// Sends every object to `destination`; per-object statuses in the
    /// report. Objects whose (SOP Class, Transfer Syntax) pairs exceed one
    /// association's 128 contexts go over further associations.
    pub fn send(
        &self,
        destination: &Destination,
        objects: &[FileDicomObject<InMemDicomObject>],
    ) -> Result<SendReport, ScuError> {
        check_ae_title(&self.calling_ae).map_err(ScuError::AeTitle)?;
        check_ae_title(&destination.called_ae).map_err(ScuError::AeTitle)?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        for object in objects {
            let Ok(pair) = pair_of(object) else {
                continue;
            };
            if !pairs.contains(&pair) {
                pairs.push(pair);
            }
        }
        let mut report = SendReport {
            outcomes: objects
                .iter()
                .map(|o| {
                    let why = pair_of(o).err().unwrap_or_else(|| "not attempted".into());
                    (sop_uids(o).1, Outcome::NotSent(why))
                })
                .collect(),
        };
        for batch in pairs.chunks(128) {
            self.send_batch(destination, objects, batch, &mut report)?;
        }
        Ok(report)
    }

    fn send_batch(
        &self,
        destination: &Destination,
        objects: &[FileDicomObject<InMemDicomObject>],
        batch: &[(String, String)],
        report: &mut SendReport,
    ) -> Result<(), ScuError> {
        let mut options = ClientAssociationOptions::new()
            .calling_ae_title(self.calling_ae.clone())
            .called_ae_title(destination.called_ae.clone())
            .max_pdu_length(self.max_pdu_length)
            .read_timeout(self.timeout)
            .write_timeout(self.timeout)
            .connection_timeout(self.timeout);
        for (class, ts) in batch {
            options = options.with_presentation_context(class.clone(), proposal(ts));
        }
        let associate = || {
            let mut association = options
                .clone()
                .establish_with(&format!(
                    "{}@{}",
                    destination.called_ae, destination.address
                ))
                .map_err(|e| ScuError::Associate {
                    address: destination.address.clone(),
                    called_ae: destination.called_ae.clone(),
                    reason: e.to_string(),
                })?;
            // A command and its data set are separate writes: without this,
            // Nagle's algorithm waits for the peer's delayed ACK (~40 ms).
            let _ = association.inner_stream().set_nodelay(true);
            Ok(association)
        };
        let mut association = Some(associate()?);
        let mut message_id: u16 = 0;
        for (index, object) in objects.iter().enumerate() {
            let Some(pair) = pair_of(object).ok().filter(|p| batch.contains(p)) else {
                continue;
            };
            // After an abort, the rest goes over a new association.
            let current = match association.as_mut() {
                Some(current) => current,
                None => association.insert(associate()?),
            };
            message_id = message_id.wrapping_add(1);
            report.outcomes[index].1 = match self.send_one(current, object, &pair, message_id) {
                Ok(outcome) => outcome,
                Err(reason) => {
                    tracing::warn!(called_ae = %destination.called_ae, %reason, "association broke during a C-STORE");
                    if let Some(broken) = association.take() {
                        let _ = broken.abort();
                    }
                    Outcome::Aborted(reason)
                }
            };
        }
        if let Some(association) = association
            && let Err(e) = association.release()
        {
            tracing::warn!(error = %e, called_ae = %destination.called_ae, "release failed");
        }
        Ok(())
    }

    /// One C-STORE; `Err` when the association can no longer be used.
    fn send_one(
        &self,
        association: &mut ClientAssociation<TcpStream>,
        object: &FileDicomObject<InMemDicomObject>,
        (class, ts): &(String, String),
        message_id: u16,
    ) -> Result<Outcome, String> {
        let contexts = association.presentation_contexts();
        let accepted = |pc: &&dicom_ul::pdu::PresentationContextNegotiated| {
            pc.reason == PresentationContextResultReason::Acceptance
                && trim(&pc.abstract_syntax) == class
        };
        // Prefer the object's own transfer syntax; else a native alternative.
        let chosen = contexts
            .iter()
            .filter(accepted)
            .find(|pc| trim(&pc.transfer_syntax) == ts)
            .or_else(|| {
                contexts.iter().filter(accepted).find(|pc| {
                    syntax::is_native(ts) && syntax::is_native(trim(&pc.transfer_syntax))
                })
            });
        let Some(pc) = chosen else {
            return Ok(Outcome::NotSent(format!(
                "the peer accepted no presentation context for {class} in {ts}"
            )));
        };
        let (pc_id, pc_ts) = (pc.id, trim(&pc.transfer_syntax).to_owned());
        let Some(write_ts) = TransferSyntaxRegistry.get(&pc_ts) else {
            return Ok(Outcome::NotSent(format!("transfer syntax {pc_ts} unknown")));
        };
        let mut data = Vec::new();
        if let Err(e) = object.write_dataset_with_ts(&mut data, write_ts) {
            return Ok(Outcome::NotSent(format!("cannot encode in {pc_ts}: {e}")));
        }
        // A deflated bit stream is padded to even length (PS3.5 A.5); PDVs
        // have even length (PS3.8 E.2), which dcmtk enforces.
        if data.len() % 2 == 1 {
            data.push(0);
        }
        let instance = sop_uids(object).1;
        let command = dimse::store_rq(message_id, class, &instance);
        association
            .send(&Pdu::PData {
                data: vec![PDataValue {
                    presentation_context_id: pc_id,
                    value_type: PDataValueType::Command,
                    is_last: true,
                    data: command,
                }],
            })
            .map_err(|e| format!("cannot send the command: {e}"))?;
        {
            let mut writer = association.send_pdata(pc_id);
            writer
                .write_all(&data)
                .map_err(|e| format!("cannot send the data set: {e}"))?;
            writer
                .finish()
                .map_err(|e| format!("cannot send the data set: {e}"))?;
        }
        let response = receive_command(association)?;
        if response.field != field::C_STORE_RSP || response.message_id != message_id {
            return Err(format!(
                "unexpected response 0x{:04X} to message {message_id}",
                response.field
            ));
        }
        let st = response.status.ok_or("response without status")?;
        Ok(if status::stored(st) {
            Outcome::Stored(st)
        } else {
            Outcome::Failed(st)
        })
    }
}

/// Receives one complete command set (responses carry no data set here).
fn receive_command(association: &mut ClientAssociation<TcpStream>) -> Result<Command, String> {
    let mut bytes = Vec::new();
    loop {
        match association.receive() {
            Ok(Pdu::PData { data }) => {
                for pdv in data {
                    if pdv.value_type != PDataValueType::Command {
                        return Err("data fragment where a response was expected".into());
                    }
                    bytes.extend_from_slice(&pdv.data);
                    if pdv.is_last {
                        return Command::parse(&bytes).map_err(|e| e.to_string());
                    }
                }
            }
            Ok(Pdu::AbortRQ { source }) => return Err(format!("aborted by the peer: {source:?}")),
            Ok(other) => return Err(format!("unexpected PDU {other:?}")),
            Err(e) => return Err(format!("no response: {e}")),
        }
    }
}
