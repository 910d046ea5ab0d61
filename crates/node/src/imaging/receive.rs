//! The node's side of the C-STORE SCP (`oncofed-dicom-net`): every received
//! object goes through the same pipeline as a file ([`store_objects`]), and
//! one that is quarantined is answered with a failure status, so the sender
//! keeps it and knows.

use super::{ImagingReport, ImagingSetup, Incoming, Outcome, store_objects};
use crate::SharedStore;
use dicom_object::{FileDicomObject, InMemDicomObject};
use oncofed_dicom_net::{Origin, RefusalKind, SinkRefusal, StoreSink};
use oncofed_trustee_api::TrusteeClient;
use std::sync::Mutex;

/// Takes objects from the SCP's association threads into the site's store.
pub struct NodeSink {
    store: SharedStore,
    trustee: TrusteeClient,
    setup: ImagingSetup,
    runtime: tokio::runtime::Handle,
    report: Mutex<ImagingReport>,
}

impl NodeSink {
    /// A sink running the pipeline on `runtime` (the node's tokio runtime; the
    /// SCP's threads are not its workers, so they may block on it).
    pub fn new(
        store: SharedStore,
        trustee: TrusteeClient,
        setup: ImagingSetup,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            store,
            trustee,
            setup,
            runtime,
            report: Mutex::new(ImagingReport::default()),
        }
    }

    /// What the sink has done so far.
    pub fn report(&self) -> ImagingReport {
        self.report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// The C-STORE failure status class for a quarantine reason.
fn refusal_kind(code: &str) -> RefusalKind {
    match code {
        "too-large" => RefusalKind::OutOfResources,
        "missing-uid" => RefusalKind::DataSetMismatch,
        _ => RefusalKind::CannotUnderstand,
    }
}

impl StoreSink for NodeSink {
    fn store(
        &self,
        object: FileDicomObject<InMemDicomObject>,
        origin: &Origin,
    ) -> Result<(), SinkRefusal> {
        let incoming = Incoming {
            source: format!("C-STORE from AE {}", origin.calling_ae),
            object,
        };
        let outcome = self.runtime.block_on(store_objects(
            &self.store,
            &self.trustee,
            &self.setup,
            vec![Ok(incoming)],
        ));
        let outcome = match outcome {
            Ok(mut outcomes) => outcomes.pop().expect("one outcome per object"),
            Err(e) => {
                tracing::warn!(error = %e, "C-STORE not taken: the node cannot store now");
                return Err(SinkRefusal::new(RefusalKind::OutOfResources, e.to_string()));
            }
        };
        let mut report = self.report.lock().unwrap_or_else(|p| p.into_inner());
        report.count(&outcome);
        match outcome {
            Outcome::Stored { .. } => Ok(()),
            Outcome::Quarantined { code, reason, .. } => {
                tracing::warn!(reason = %code, calling_ae = %origin.calling_ae, "C-STORE quarantined");
                Err(SinkRefusal::new(refusal_kind(&code), reason))
            }
        }
    }
}
