//! Orders the trust centre gives sites after a decision about a person: deletion
//! after a withdrawal (R6) and re-contact after two staff approvals (R5).
//!
//! Sites poll for them (`GET /v1/deletions`, `GET /v1/recontacts`); nothing is
//! pushed into a site, which keeps the site's outbound-only network policy.

use oncofed_model::Pseudonym;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Answer to `GET /v1/deletions`: the calling site's open deletion orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletionOrders {
    /// Open orders, oldest first.
    pub orders: Vec<DeletionOrder>,
}

/// Delete every record of one person from the site's research store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionOrder {
    /// The order's id, to confirm it with `POST /v1/deletions/{id}/done`.
    pub id: i64,
    /// The person's pseudonym in the calling site's domain.
    pub pseudonym: Pseudonym,
    /// Why (`withdrawal`).
    pub reason: String,
    /// When the trust centre issued it (seconds since the Unix epoch).
    pub ordered_at: i64,
}

/// Body of `POST /v1/deletions/{id}/done`: what the site deleted.
///
/// The digest binds the counts to the order and the pseudonym; it is a commitment
/// the trust centre records in its audit trail, not a cryptographic proof that the
/// bytes are gone (the site's store guarantees that with secure delete).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionReceipt {
    /// Patient rows deleted (0 when the site never held the person's data).
    pub patients_deleted: u64,
    /// Fact rows deleted.
    pub facts_deleted: u64,
    /// De-identified image objects deleted from the site's archive (with their
    /// rows); 0 at a site without images.
    #[serde(default)]
    pub images_deleted: u64,
    /// Patient rows with the pseudonym found after the deletion (must be 0).
    pub remaining: u64,
    /// When the site deleted (RFC 3339).
    pub deleted_at: String,
    /// [`DeletionReceipt::compute_digest`] of the fields above, hex.
    pub digest: String,
}

impl DeletionReceipt {
    /// Builds a receipt for `order`, computing its digest.
    pub fn new(
        order: &DeletionOrder,
        patients_deleted: u64,
        facts_deleted: u64,
        remaining: u64,
        deleted_at: String,
    ) -> Self {
        let mut r = Self {
            patients_deleted,
            facts_deleted,
            images_deleted: 0,
            remaining,
            deleted_at,
            digest: String::new(),
        };
        r.digest = r.compute_digest(order.id, &order.pseudonym);
        r
    }

    /// The receipt with the count of image objects deleted, its digest recomputed.
    pub fn with_images_deleted(mut self, order: &DeletionOrder, images_deleted: u64) -> Self {
        self.images_deleted = images_deleted;
        self.digest = self.compute_digest(order.id, &order.pseudonym);
        self
    }

    /// SHA-256 over a domain-separation tag, the order id, the pseudonym and every
    /// count, NUL-separated, as lowercase hex.
    pub fn compute_digest(&self, order_id: i64, pseudonym: &Pseudonym) -> String {
        let text = format!(
            "oncofed deletion receipt v2\0{order_id}\0{}\0{}\0{}\0{}\0{}\0{}",
            pseudonym.as_str(),
            self.patients_deleted,
            self.facts_deleted,
            self.images_deleted,
            self.remaining,
            self.deleted_at
        );
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}

/// Answer to `POST /v1/deletions/{id}/done`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletionConfirmed {
    /// `false` when the order had been confirmed before (the first receipt stays).
    pub recorded: bool,
}

/// Why a person is to be re-contacted; each maps to the consent provision that must
/// permit it (see the trust centre's re-contact rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecontactReason {
    /// An incidental finding of significant relevance to the person's health
    /// (MII `Rekontaktierung_Zusatzbefund`).
    IncidentalFinding,
    /// Invitation to further studies (MII `Rekontaktierung_weitere_Studien`).
    FurtherStudies,
    /// Collection of further data (MII `Rekontaktierung_weitere_Erhebung`).
    FurtherSurvey,
    /// Linking the person's data with other databases
    /// (MII `Rekontaktierung_Verknuepfung_Datenbanken`).
    LinkDatabases,
    /// Questionnaire (PROM) studies (MII add-on module Z3).
    Questionnaires,
}

/// Answer to `GET /v1/recontacts`: approved re-contact requests for the calling
/// (treating) site.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecontactNotices {
    /// Approved requests, oldest first.
    pub items: Vec<RecontactNotice>,
}

/// One approved re-contact request, as the treating site sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecontactNotice {
    /// The request's id.
    pub id: i64,
    /// The person's pseudonym in the site's domain (the site resolves it locally).
    pub pseudonym: Pseudonym,
    /// The kind of reason.
    pub reason_code: RecontactReason,
    /// The stated reason, as the requester wrote it.
    pub reason: String,
    /// When the second approval released it (seconds since the Unix epoch).
    pub released_at: i64,
    /// The site's own local patient ids of the person (as the site registered
    /// them), so the treating physician finds the patient; they go to no one else.
    #[serde(default)]
    pub local_ids: Vec<String>,
}

/// Body of `POST /v1/admin/recontact` (staff): ask the treating site to re-contact
/// a person. The caller's staff name is recorded as the requester.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecontactRequest {
    /// The person's pseudonym in the treating site's domain; the site it belongs to
    /// is the only one that will see the request.
    pub pseudonym: Pseudonym,
    /// The kind of reason; decides which consent provision must permit it.
    pub reason_code: RecontactReason,
    /// The stated reason (1–2,000 characters), for the treating physician.
    pub reason: String,
}

/// Where a re-contact request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecontactState {
    /// Waiting for a second, distinct staff member's approval.
    Pending,
    /// Approved by two distinct people and visible to the treating site.
    Released,
    /// Refused because the person's consent does not permit re-contact.
    RefusedByConsent,
}

/// Answer to the staff re-contact endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecontactStatus {
    /// The request's id.
    pub id: i64,
    /// Where it stands.
    pub state: RecontactState,
    /// Staff names that approved it so far (the requester first).
    pub approvals: Vec<String>,
}

/// One sample-destruction order for the biobank, as staff list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SampleDestruction {
    /// The order's id.
    pub id: i64,
    /// The person's site pseudonyms (site id, pseudonym): the keys under which the
    /// sites' biobanks hold the samples.
    pub pseudonyms: Vec<(String, Pseudonym)>,
    /// When it was ordered (seconds since the Unix epoch).
    pub ordered_at: i64,
    /// When staff confirmed the destruction, if they did.
    pub confirmed_at: Option<i64>,
    /// Who confirmed it.
    pub confirmed_by: Option<String>,
}

/// Answer to `GET /v1/admin/sample-destructions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleDestructions {
    /// Every order, oldest first.
    pub items: Vec<SampleDestruction>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_digest_binds_every_field() {
        let order = DeletionOrder {
            id: 7,
            pseudonym: Pseudonym::from_digest(&[1; 10]),
            reason: "withdrawal".into(),
            ordered_at: 0,
        };
        let r = DeletionReceipt::new(&order, 1, 12, 0, "2026-11-28T22:00:00Z".into());
        assert_eq!(r.digest, r.compute_digest(7, &order.pseudonym));
        assert_ne!(r.digest, r.compute_digest(8, &order.pseudonym));
        let mut tampered = r.clone();
        tampered.facts_deleted = 11;
        assert_ne!(tampered.compute_digest(7, &order.pseudonym), r.digest);
        assert_eq!(r.digest.len(), 64);
    }
}
