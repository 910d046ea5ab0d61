//! The site node's DICOM network: a C-STORE SCP that receives objects from
//! modalities and PACS, and a C-STORE SCU that delivers objects onwards.
//!
//! - [`StoreScp`] (DICOM PS3.4 Annex B, Storage SCP; Annex A, Verification)
//!   accepts associations from the calling AE titles listed in
//!   [`ScpConfig`] (none by default), every Storage SOP Class
//!   dicom-dictionary-std knows, and every transfer syntax the dicom-rs
//!   registry can read a data set in (native, deflated, encapsulated: pixel
//!   data is stored as received, never decoded). Each C-STORE becomes a
//!   Part 10 object handed to a [`StoreSink`]; the sink's answer becomes the
//!   C-STORE-RSP status ([`RefusalKind::status`]).
//! - [`StoreScu`] sends objects to a [`Destination`] and reports a status per
//!   object ([`SendReport`]).
//!
//! **Trust boundary.** What the SCP receives is identified data. It is held
//! in memory and passed to the sink; this crate writes nothing to disk. The
//! node's sink must pseudonymise and de-identify (`oncofed-dicom`) before it
//! stores anything.
//!
//! **Why this shape.** dicom-ul 0.10 is the upper layer: PDU encoding,
//! association negotiation (A-ASSOCIATE-RQ/AC/RJ, release, abort) and
//! P-DATA fragmentation on the sending side. dicom-rs has no DIMSE layer or
//! service classes as a library (its `storescp`/`storescu` are programs), so
//! the rest is written here by hand and kept small: the DIMSE command sets
//! for C-STORE and C-ECHO ([`status`], PS3.7), reassembly of P-DATA
//! fragments into messages with a size limit, the access control on AE
//! titles, the limit on concurrent associations (A-ASSOCIATE-RJ "local limit
//! exceeded"), the rebuilding of the file meta group, and the SCU's
//! presentation-context planning. The list of Storage SOP Classes is taken
//! from dicom-dictionary-std (checked against it in a test) because the
//! dictionary cannot be enumerated from outside.
//!
//! Threads, not tokio: dicom-ul's synchronous API is its complete one, and an
//! association is a sequential conversation. The node runs
//! [`StoreScp::spawn`] (or [`StoreScp::serve`] on a blocking thread) and
//! stops it with the [`Shutdown`] handle.
//!
//! Not here: TLS on the DICOM port. dicom-ul 0.10.1's `sync-tls` feature
//! was wired in (configuration from `oncofed-tls`) and dcmtk's `storescu`
//! stored over it, but with the feature on, dicom-ul's plain `establish`
//! probes a failed first PDU for a TLS ClientHello in a loop that never ends
//! on a connection closed early: our garbage-input test
//! (`tests/robustness.rs`) hung, one spinning thread per such connection. So
//! it is left out until dicom-ul fixes that or the handshake is done here.
//! Also not here: C-FIND/C-MOVE/C-GET, Storage Commitment.

mod dimse;
mod scp;
mod scu;
mod sink;
pub mod syntax;

pub use dimse::status;
pub use scp::{RunningScp, ScpConfig, ScpError, Shutdown, StoreScp, check_ae_title};
pub use scu::{Destination, Outcome, ScuError, SendReport, StoreScu};
pub use sink::{Origin, RefusalKind, SinkRefusal, StoreSink};
