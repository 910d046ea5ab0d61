//! One association on the SCP side: P-DATA-TF PDUs are collected into
//! DIMSE messages (PS3.8 §9.3.5, PS3.7 §6.3.1: a command, then its data set
//! when the command says one follows), C-ECHO and C-STORE are answered, and
//! anything else ends the association with an A-ABORT and a log line.

use dicom_core::Tag;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::association::server::ServerAssociation;
use dicom_ul::association::{Association, CloseSocket};
use dicom_ul::pdu::{PDataValue, PDataValueType, Pdu, PresentationContextResultReason};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::Shared;
use crate::dimse::{self, Command, field, status};
use crate::sink::{Origin, StoreSink};
use crate::syntax;

/// A command set is a few hundred bytes; more is not a DICOM peer.
const MAX_COMMAND_BYTES: usize = 64 * 1024;

/// Serves one connection from association request to release or abort.
pub(super) fn run<S: StoreSink>(stream: TcpStream, shared: &Shared<S>) {
    let peer_addr = match stream.peer_addr() {
        Ok(addr) => addr,
        Err(e) => {
            tracing::debug!(error = %e, "connection gone before association");
            return;
        }
    };
    // Responses are small writes after small reads: without this, Nagle's
    // algorithm and the peer's delayed ACK cost ~40 ms per message.
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        match shared.options.establish(stream) {
            Ok(association) => serve(association, peer_addr, shared),
            Err(e) => {
                tracing::warn!(peer = %peer_addr, error = %e, "association not established");
            }
        }
    }));
    if outcome.is_err() {
        tracing::error!(peer = %peer_addr, "association ended by a panic (a bug): connection dropped");
    }
}

/// Where the message being received stands.
enum State {
    /// Between messages.
    Idle,
    /// Command fragments of one presentation context so far.
    Command { pc: u8, bytes: Vec<u8> },
    /// The command is complete and its data set arrives.
    Data(Pending),
}

/// A C-STORE whose data set is arriving.
struct Pending {
    pc: u8,
    command: Command,
    bytes: Vec<u8>,
    /// Bytes received, kept or not.
    received: u64,
    /// Over the size limit: the rest is read and dropped.
    too_large: bool,
}

/// Why an association is aborted (for the log line).
type Abort = String;

fn serve<S, T>(mut association: ServerAssociation<T>, peer_addr: SocketAddr, shared: &Shared<S>)
where
    S: StoreSink,
    T: Read + Write + CloseSocket,
{
    let origin = Origin {
        calling_ae: association.peer_ae_title().trim().to_owned(),
        peer_addr,
    };
    tracing::info!(peer = %peer_addr, calling_ae = %origin.calling_ae, "association accepted");
    let mut state = State::Idle;
    let mut stored = 0u64;
    loop {
        let pdu = match association.receive() {
            Ok(pdu) => pdu,
            Err(e) => {
                tracing::warn!(peer = %peer_addr, error = %e, "association aborted: receive failed");
                let _ = association.abort();
                return;
            }
        };
        match pdu {
            Pdu::PData { data } => {
                for pdv in data {
                    match on_pdv(&mut association, &mut state, pdv, &origin, shared) {
                        Ok(Some(_)) => stored += 1,
                        Ok(None) => {}
                        Err(why) => {
                            tracing::warn!(peer = %peer_addr, reason = %why, "association aborted");
                            let _ = association.abort();
                            return;
                        }
                    }
                }
            }
            Pdu::ReleaseRQ => {
                if !matches!(state, State::Idle) {
                    tracing::warn!(peer = %peer_addr, "released in the middle of a message");
                }
                let _ = association.send(&Pdu::ReleaseRP);
                tracing::info!(peer = %peer_addr, stored, "association released");
                return;
            }
            Pdu::AbortRQ { source } => {
                tracing::info!(peer = %peer_addr, ?source, stored, "association aborted by the peer");
                return;
            }
            other => {
                tracing::warn!(peer = %peer_addr, pdu = pdu_name(&other), "association aborted: unexpected PDU");
                let _ = association.abort();
                return;
            }
        }
    }
}

fn pdu_name(pdu: &Pdu) -> &'static str {
    match pdu {
        Pdu::Unknown { .. } => "unknown",
        Pdu::AssociationRQ(_) => "A-ASSOCIATE-RQ",
        Pdu::AssociationAC(_) => "A-ASSOCIATE-AC",
        Pdu::AssociationRJ(_) => "A-ASSOCIATE-RJ",
        Pdu::PData { .. } => "P-DATA-TF",
        Pdu::ReleaseRQ => "A-RELEASE-RQ",
        Pdu::ReleaseRP => "A-RELEASE-RP",
        Pdu::AbortRQ { .. } => "A-ABORT",
    }
}

/// Takes one presentation data value; `Ok(Some(()))` when an object was
/// stored, `Err` when the association must be aborted.
fn on_pdv<S, T>(
    association: &mut ServerAssociation<T>,
    state: &mut State,
    pdv: PDataValue,
    origin: &Origin,
    shared: &Shared<S>,
) -> Result<Option<()>, Abort>
where
    S: StoreSink,
    T: Read + Write + CloseSocket,
{
    let accepted = association.presentation_contexts().iter().any(|pc| {
        pc.id == pdv.presentation_context_id
            && pc.reason == PresentationContextResultReason::Acceptance
    });
    if !accepted {
        return Err(format!(
            "presentation context {} was not accepted",
            pdv.presentation_context_id
        ));
    }
    let pc = pdv.presentation_context_id;
    match (
        std::mem::replace(state, State::Idle),
        pdv.value_type.clone(),
    ) {
        (State::Idle, PDataValueType::Command) => {
            *state = State::Command {
                pc,
                bytes: Vec::new(),
            };
            on_pdv(association, state, pdv, origin, shared)
        }
        (
            State::Command {
                pc: first,
                mut bytes,
            },
            PDataValueType::Command,
        ) if first == pc => {
            if bytes.len() + pdv.data.len() > MAX_COMMAND_BYTES {
                return Err("command set over 64 KiB".into());
            }
            bytes.extend_from_slice(&pdv.data);
            if !pdv.is_last {
                *state = State::Command { pc, bytes };
                return Ok(None);
            }
            let command = Command::parse(&bytes).map_err(|e| e.to_string())?;
            match command.field {
                field::C_ECHO_RQ if !command.has_data_set => {
                    let rsp = dimse::echo_rsp(command.message_id, &command.sop_class);
                    respond(association, pc, rsp)?;
                    Ok(None)
                }
                field::C_STORE_RQ if command.has_data_set => {
                    *state = State::Data(Pending {
                        pc,
                        command,
                        bytes: Vec::new(),
                        received: 0,
                        too_large: false,
                    });
                    Ok(None)
                }
                other => Err(format!("command 0x{other:04X} is not served here")),
            }
        }
        (State::Data(mut pending), PDataValueType::Data) if pending.pc == pc => {
            pending.received += pdv.data.len() as u64;
            if pending.received > shared.max_object_bytes {
                if !pending.too_large {
                    tracing::warn!(
                        limit = shared.max_object_bytes,
                        "data set over the size limit: read and dropped"
                    );
                }
                pending.too_large = true;
                pending.bytes = Vec::new();
            } else {
                pending.bytes.extend_from_slice(&pdv.data);
            }
            if !pdv.is_last {
                *state = State::Data(pending);
                return Ok(None);
            }
            let (pc, message_id) = (pending.pc, pending.command.message_id);
            let (class, instance) = (
                pending.command.sop_class.clone(),
                pending.command.sop_instance.clone(),
            );
            let st = store(association, pending, origin, shared)?;
            respond(
                association,
                pc,
                dimse::store_rsp(message_id, &class, &instance, st),
            )?;
            Ok((st == status::SUCCESS).then_some(()))
        }
        (_, kind) => Err(format!(
            "{kind:?} fragment out of order on presentation context {pc}"
        )),
    }
}

/// Sends a command set as one P-DATA-TF.
fn respond<T>(association: &mut ServerAssociation<T>, pc: u8, bytes: Vec<u8>) -> Result<(), Abort>
where
    T: Read + Write + CloseSocket,
{
    association
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc,
                value_type: PDataValueType::Command,
                is_last: true,
                data: bytes,
            }],
        })
        .map_err(|e| format!("cannot send the response: {e}"))
}

/// Rebuilds the Part 10 object and hands it to the sink; the status to
/// answer, or `Err` (abort) for a data set that cannot be parsed.
fn store<S, T>(
    association: &ServerAssociation<T>,
    pending: Pending,
    origin: &Origin,
    shared: &Shared<S>,
) -> Result<u16, Abort>
where
    S: StoreSink,
    T: Read + Write + CloseSocket,
{
    if pending.too_large {
        return Ok(status::OUT_OF_RESOURCES);
    }
    let Some(context) = association
        .presentation_contexts()
        .iter()
        .find(|c| c.id == pending.pc)
    else {
        return Err("presentation context vanished".into());
    };
    let command = &pending.command;
    if context.abstract_syntax != command.sop_class
        || !syntax::is_storage_sop_class(&command.sop_class)
    {
        tracing::warn!(
            context = %context.abstract_syntax,
            command = %command.sop_class,
            "C-STORE of a SOP class not negotiated on its presentation context"
        );
        return Ok(status::SOP_CLASS_NOT_SUPPORTED);
    }
    let Some(ts) = TransferSyntaxRegistry.get(&context.transfer_syntax) else {
        return Err(format!(
            "transfer syntax {} unknown",
            context.transfer_syntax
        ));
    };
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        InMemDicomObject::read_dataset_with_ts(&pending.bytes[..], ts)
    }));
    let dataset = match parsed {
        Ok(Ok(dataset)) => dataset,
        Ok(Err(e)) => return Err(format!("data set cannot be parsed: {e}")),
        Err(_) => return Err("data set parser panicked".into()),
    };
    drop(pending.bytes);
    let in_data_set = dataset
        .get(Tag(0x0008, 0x0018))
        .and_then(|e| e.value().to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_owned());
    if in_data_set.as_deref() != Some(command.sop_instance.as_str()) {
        tracing::warn!(
            "C-STORE refused: SOP Instance UID of the data set differs from the command"
        );
        return Ok(status::DATA_SET_MISMATCH);
    }
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(command.sop_class.as_str())
        .media_storage_sop_instance_uid(command.sop_instance.as_str())
        .transfer_syntax(context.transfer_syntax.as_str())
        .source_application_entity_title(origin.calling_ae.as_str())
        .build();
    let meta = match meta {
        Ok(meta) => meta,
        Err(e) => {
            tracing::warn!(error = %e, "C-STORE refused: no file meta group can be built");
            return Ok(status::CANNOT_UNDERSTAND);
        }
    };
    let object = dataset.with_exact_meta(meta);
    let outcome = catch_unwind(AssertUnwindSafe(|| shared.sink.store(object, origin)));
    Ok(match outcome {
        Ok(Ok(())) => status::SUCCESS,
        Ok(Err(refusal)) => {
            tracing::warn!(kind = ?refusal.kind, reason = %refusal.reason, ae = %shared.ae_title, "sink refused an object");
            refusal.kind.status()
        }
        Err(_) => {
            tracing::error!("sink panicked; answered Processing Failure");
            status::PROCESSING_FAILURE
        }
    })
}
