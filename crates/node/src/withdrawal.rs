//! The site's half of the withdrawal cascade (R6): poll the trust centre for
//! deletion orders, erase the person from the research store, confirm with a receipt.
//!
//! The node only ever calls out (`GET /v1/deletions`, `POST /v1/deletions/{id}/done`),
//! like the hub agent. Erasure is the store's `delete_patient`; the SQLite store runs
//! with `secure_delete` (freed cells and pages are zeroed) and truncates its WAL after
//! the deletion, so no byte of the person's rows stays in the files.
//!
//! Each round first syncs the consent snapshot ([`ConsentGate::sync`]): this is
//! the node's background poll of the consent feed, and it means a withdrawal
//! already denies every question when its deletion order runs. The order then
//! drops the person from the snapshot too ([`ConsentGate::forget`]).
//!
//! A site with images ([`WithdrawalPoller::with_archive`]) deletes the person's
//! de-identified objects and cell images from its archive first, then their rows: a crash in
//! between leaves rows whose objects are gone, and the order's next run deletes
//! them; the other order could leave objects nobody can find again.

use crate::imaging::{ArchiveError, ObjectArchive};
use crate::{ConsentGate, SharedStore, with_store};
use oncofed_store::StoreError;
use oncofed_trustee_api::{DeletionOrder, DeletionReceipt, TrusteeClient, TrusteeError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How often the poller asks by default: a withdrawal is executed within about this long.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

/// Why a round of deletions failed; the poller logs it and tries again next round.
#[derive(Debug, thiserror::Error)]
pub enum WithdrawalError {
    /// The trust centre could not be asked or refused the receipt.
    #[error(transparent)]
    Trustee(#[from] TrusteeError),
    /// The store failed to delete.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The image archive failed to delete; the rows were kept for the next run.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

/// Polls the trust centre: syncs the consent snapshot, then executes deletion orders.
pub struct WithdrawalPoller {
    client: TrusteeClient,
    store: SharedStore,
    gate: Arc<ConsentGate>,
    interval: Duration,
    archive: Option<ObjectArchive>,
}

impl WithdrawalPoller {
    /// A poller for the site whose token `client` holds, over its store and gate.
    pub fn new(client: TrusteeClient, store: SharedStore, gate: Arc<ConsentGate>) -> Self {
        Self {
            client,
            store,
            gate,
            interval: DEFAULT_INTERVAL,
            archive: None,
        }
    }

    /// Also deletes the person's image objects from `archive`.
    pub fn with_archive(mut self, archive: ObjectArchive) -> Self {
        self.archive = Some(archive);
        self
    }

    /// Sets the polling interval (default [`DEFAULT_INTERVAL`]).
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Fetches the open orders once, executes and confirms each; returns how many
    /// were confirmed. An order whose receipt was lost is executed again next time
    /// (deleting an absent person is a no-op with a zero-count receipt).
    pub async fn run_once(&self) -> Result<usize, WithdrawalError> {
        // Consent first: a failed sync is logged, not fatal (deletions still run;
        // the gate fails closed on its own once its snapshot is too old).
        if let Err(e) = self.gate.sync().await {
            tracing::warn!(error = %e, "consent feed sync failed; retrying next round");
        }
        let orders = self.client.deletion_orders().await?;
        let mut done = 0;
        for order in orders {
            let receipt = execute(&self.store, self.archive.as_ref(), &order).await?;
            // The site log keeps the order id and the receipt's counts, never the
            // pseudonym: first as executed, then as confirmed.
            let mut logged = log_row(&order, &receipt);
            crate::site_log::record_withdrawal(&self.store, logged.clone()).await;
            // Forget before confirming: once confirmed, nothing may still permit them.
            self.gate.forget(&order.pseudonym);
            self.client.confirm_deletion(order.id, &receipt).await?;
            logged.confirmed_at = Some(chrono::Utc::now());
            crate::site_log::record_withdrawal(&self.store, logged).await;
            tracing::info!(
                order = order.id,
                facts = receipt.facts_deleted,
                images = receipt.images_deleted,
                "executed a deletion order (withdrawal)"
            );
            done += 1;
        }
        Ok(done)
    }

    /// Polls every interval until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = tick.tick() => {
                    if let Err(e) = self.run_once().await {
                        tracing::warn!(error = %e, "withdrawal poll failed; retrying");
                    }
                }
            }
        }
    }
}

/// The site-log row of an executed order: ids, times and counts only.
fn log_row(order: &DeletionOrder, receipt: &DeletionReceipt) -> oncofed_store::WithdrawalRow {
    use chrono::{DateTime, Utc};
    let now = Utc::now();
    oncofed_store::WithdrawalRow {
        order_id: order.id,
        reason: order.reason.clone(),
        ordered_at: DateTime::<Utc>::from_timestamp(order.ordered_at, 0).unwrap_or(now),
        executed_at: DateTime::parse_from_rfc3339(&receipt.deleted_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now),
        patients_deleted: receipt.patients_deleted,
        facts_deleted: receipt.facts_deleted,
        objects_deleted: receipt.images_deleted,
        remaining: receipt.remaining,
        receipt_digest: receipt.digest.clone(),
        confirmed_at: None,
    }
}

/// Deletes the order's person and measures what went: their image objects
/// first, then their rows in one hold of the store lock.
async fn execute(
    store: &SharedStore,
    archive: Option<&ObjectArchive>,
    order: &DeletionOrder,
) -> Result<DeletionReceipt, WithdrawalError> {
    if let Some(archive) = archive {
        let pseudonym = order.pseudonym.clone();
        // DICOM objects, cell images and sequencing files of the person.
        let keys: Vec<String> = with_store(store, move |s| {
            let persons = [pseudonym];
            let mut keys: Vec<String> = s
                .images_of(&persons)?
                .into_iter()
                .map(|r| r.object_key)
                .collect();
            let smears: Vec<String> = s
                .smears_of(&persons)?
                .into_iter()
                .map(|r| r.smear_key)
                .collect();
            keys.extend(s.cells_of(&smears)?.into_iter().map(|c| c.object_key));
            keys.extend(
                s.sequence_files_of(&persons)?
                    .into_iter()
                    .map(|f| f.object_key),
            );
            Ok(keys)
        })
        .await?;
        archive.delete(&keys).await?;
    }
    let pseudonym = order.pseudonym.clone();
    let (patients, facts, images_deleted, remaining) = with_store(store, move |s| {
        let deleted = s.delete_patient(&pseudonym)?;
        let remaining = s.existing_patients(std::slice::from_ref(&pseudonym))?.len() as u64;
        // The receipt's object count covers DICOM objects, cell images and
        // sequencing files.
        let images = (deleted.images.len() + deleted.cells.len() + deleted.sequences.len()) as u64;
        Ok((u64::from(deleted.patient), deleted.facts, images, remaining))
    })
    .await?;
    Ok(DeletionReceipt::new(
        order,
        patients,
        facts,
        remaining,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
    .with_images_deleted(order, images_deleted))
}
