//! An HTTP client for the trust-centre API.

use crate::*;
use std::time::Duration;

/// Why a call to the trust centre failed.
#[derive(Debug, thiserror::Error)]
pub enum TrusteeError {
    /// The trust centre could not be reached (down, wrong address, timeout).
    #[error(
        "trust centre at {url} is unreachable ({reason}); check that it runs and that --trustee points to it"
    )]
    Unreachable {
        /// The base URL tried.
        url: String,
        /// The transport error, without request data.
        reason: String,
    },
    /// The trust centre answered with an error.
    #[error("trust centre refused the request: {code}: {message} (HTTP {status})")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// Stable error code from the trust centre.
        code: String,
        /// Its message.
        message: String,
    },
    /// The TLS configuration is unusable, or the URL would send identifying data
    /// in the clear beyond loopback.
    #[error(transparent)]
    Tls(#[from] oncofed_tls::TlsError),
    /// The answer did not match the request (wrong length or unreadable body).
    #[error("trust centre answered with an unexpected body: {0}")]
    Protocol(String),
}

/// A client for one site's calls to the trust centre.
///
/// Cheap to clone; it keeps a connection pool.
#[derive(Clone)]
pub struct TrusteeClient {
    json: oncofed_http::JsonClient,
}

impl std::fmt::Debug for TrusteeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrusteeClient")
            .field("base", &self.json.base_url())
            .field("token", &"<redacted>")
            .finish()
    }
}

impl From<oncofed_http::CallError> for TrusteeError {
    fn from(e: oncofed_http::CallError) -> Self {
        use oncofed_http::CallError;
        match e {
            CallError::Unreachable { url, reason } => Self::Unreachable { url, reason },
            CallError::Rejected {
                status,
                code,
                message,
                request_id,
            } => Self::Rejected {
                status,
                code,
                message: oncofed_http::quoting_request_id(message, request_id),
            },
            CallError::Protocol(m) => Self::Protocol(m),
        }
    }
}

impl TrusteeClient {
    /// Builds a client for the trust centre at `base_url` (e.g. `https://tc.example.org`,
    /// or `http://127.0.0.1:8710` on loopback), authenticating with the site's bearer
    /// `token`, trusting the system's roots. Plain HTTP to another host is refused:
    /// identifying data never crosses a network in the clear.
    pub fn new(base_url: &str, token: &str) -> Result<Self, TrusteeError> {
        Self::with_tls(base_url, token, &oncofed_tls::ClientTls::default())
    }

    /// Like [`TrusteeClient::new`], verifying the trust centre against `tls`'s CA
    /// bundle and presenting its client certificate (mutual TLS).
    pub fn with_tls(
        base_url: &str,
        token: &str,
        tls: &oncofed_tls::ClientTls,
    ) -> Result<Self, TrusteeError> {
        let json = oncofed_http::JsonClient::new(
            base_url,
            token,
            tls,
            Duration::from_secs(5),
            Duration::from_secs(120),
        )?;
        Ok(Self { json })
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &str {
        self.json.base_url()
    }

    async fn post<Q: Serialize, A: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<A, TrusteeError> {
        Ok(self.json.post(path, body).await?)
    }

    async fn get<A: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<A, TrusteeError> {
        Ok(self.json.get(path).await?)
    }

    /// Pseudonymises a batch; the answer has one pair per item, in order.
    ///
    /// If the trust centre refused any item alone (see [`PseudonymiseResponse`]),
    /// this fails with [`TrusteeError::Rejected`] (422) naming the first one; the
    /// accepted items are registered all the same. Use
    /// [`TrusteeClient::pseudonymise_each`] to keep them.
    pub async fn pseudonymise(
        &self,
        items: Vec<PseudonymiseItem>,
    ) -> Result<Vec<PseudonymPair>, TrusteeError> {
        self.pseudonymise_each(items)
            .await?
            .into_iter()
            .map(|r| {
                r.map_err(|e| TrusteeError::Rejected {
                    status: 422,
                    code: e.code,
                    message: e.message,
                })
            })
            .collect()
    }

    /// Pseudonymises a batch; one result per item, in order: the pair, or why
    /// the trust centre refused that item alone.
    pub async fn pseudonymise_each(
        &self,
        items: Vec<PseudonymiseItem>,
    ) -> Result<Vec<Result<PseudonymPair, ItemError>>, TrusteeError> {
        let n = items.len();
        let resp: PseudonymiseResponse = self
            .post("/v1/pseudonyms", &PseudonymiseRequest { items })
            .await?;
        per_item(n, resp)
    }

    /// Resolves local ids registered earlier; `None` for unknown ids.
    pub async fn resolve(
        &self,
        local_ids: Vec<String>,
    ) -> Result<Vec<Option<PseudonymPair>>, TrusteeError> {
        let n = local_ids.len();
        let resp: ResolveResponse = self
            .post("/v1/pseudonyms/resolve", &ResolveRequest { local_ids })
            .await?;
        check_len(n, resp.items.len())?;
        Ok(resp.items)
    }

    /// Registers FHIR Consent resources; returns how many were new.
    pub async fn submit_consents(&self, items: Vec<ConsentItem>) -> Result<usize, TrusteeError> {
        let resp: ConsentSubmissionResponse = self
            .post("/v1/consents", &ConsentSubmission { items })
            .await?;
        Ok(resp.stored)
    }

    /// Asks consent questions; one decision per question, in order.
    pub async fn check_consent(
        &self,
        purpose: Purpose,
        date: NaiveDate,
        items: Vec<ConsentQuestion>,
    ) -> Result<Vec<ConsentDecision>, TrusteeError> {
        let n = items.len();
        let resp: ConsentCheckResponse = self
            .post(
                "/v1/consents/check",
                &ConsentCheckRequest {
                    purpose,
                    date,
                    items,
                },
            )
            .await?;
        check_len(n, resp.decisions.len())?;
        Ok(resp.decisions)
    }
}

/// Withdrawal cascade and re-contact, as a site calls them (site token).
impl TrusteeClient {
    /// Issues a one-time access code to the patients' portal for one of the
    /// calling site's patients, by its local id (`POST /v1/access-codes`).
    pub async fn issue_access_code(&self, local_id: &str) -> Result<AccessCode, TrusteeError> {
        self.post(
            "/v1/access-codes",
            &SiteAccessCodeRequest {
                local_id: local_id.to_owned(),
            },
        )
        .await
    }

    /// Reports that the calling site used these persons' data for a project
    /// (`POST /v1/usage`), so each can read it in the patients' portal.
    pub async fn report_usage(&self, report: &UsageReport) -> Result<UsageRecorded, TrusteeError> {
        self.post("/v1/usage", report).await
    }

    /// The calling site's open deletion orders (`GET /v1/deletions`).
    pub async fn deletion_orders(&self) -> Result<Vec<DeletionOrder>, TrusteeError> {
        let resp: DeletionOrders = self.get("/v1/deletions").await?;
        Ok(resp.orders)
    }

    /// Confirms an executed deletion order with its receipt; returns whether this
    /// receipt was recorded (`false`: the order had been confirmed before).
    pub async fn confirm_deletion(
        &self,
        order_id: i64,
        receipt: &DeletionReceipt,
    ) -> Result<bool, TrusteeError> {
        let resp: DeletionConfirmed = self
            .post(&format!("/v1/deletions/{order_id}/done"), receipt)
            .await?;
        Ok(resp.recorded)
    }

    /// One page of the calling site's consent feed after version `since`
    /// (`GET /v1/consent-feed`), signed; open it with [`FeedPage::verify`]
    /// against the pinned key and the same `nonce`.
    pub async fn consent_feed(
        &self,
        since: u64,
        nonce: &str,
        limit: Option<usize>,
    ) -> Result<SignedFeedPage, TrusteeError> {
        let mut path = format!("/v1/consent-feed?since={since}&nonce={nonce}");
        if let Some(limit) = limit {
            path.push_str(&format!("&limit={limit}"));
        }
        self.get(&path).await
    }

    /// The key the trust centre signs feed pages with (`GET /v1/consent-feed/key`),
    /// for first-use pinning when none is configured.
    pub async fn consent_feed_key(&self) -> Result<oncofed_crypto::PublicKey, TrusteeError> {
        let resp: FeedKey = self.get("/v1/consent-feed/key").await?;
        Ok(resp.public_key)
    }

    /// Approved re-contact requests for the calling site (`GET /v1/recontacts`).
    pub async fn recontacts(&self) -> Result<Vec<RecontactNotice>, TrusteeError> {
        let resp: RecontactNotices = self.get("/v1/recontacts").await?;
        Ok(resp.items)
    }

    /// Pseudonymises `values` in domain `domain` (site token of the domain's
    /// site, or a staff token); one pseudonym per value, in order.
    pub async fn domain_pseudonyms(
        &self,
        domain: &str,
        values: Vec<String>,
    ) -> Result<Vec<String>, TrusteeError> {
        let n = values.len();
        let resp: DomainPseudonyms = self
            .post(
                &format!("/v1/domains/{domain}/pseudonyms"),
                &DomainPseudonymise { values },
            )
            .await?;
        check_len(n, resp.pseudonyms.len())?;
        Ok(resp.pseudonyms)
    }
}

/// Staff calls (a staff or the admin token): withdrawal follow-up, re-contact,
/// pseudonym domains.
impl TrusteeClient {
    /// Issues a one-time access code to the patients' portal for the person
    /// behind any site's pseudonym (`POST /v1/admin/access-codes`). The code is
    /// in this answer only.
    pub async fn issue_access_code_as_staff(
        &self,
        pseudonym: &Pseudonym,
    ) -> Result<AccessCode, TrusteeError> {
        self.post(
            "/v1/admin/access-codes",
            &StaffAccessCodeRequest {
                pseudonym: pseudonym.clone(),
            },
        )
        .await
    }

    /// Records a FHIR Consent (e.g. a withdrawal the person sent to the trust
    /// centre) for the person behind any site's pseudonym (`POST /v1/admin/consents`).
    pub async fn record_consent_as_staff(
        &self,
        pseudonym: &Pseudonym,
        consent: serde_json::Value,
    ) -> Result<usize, TrusteeError> {
        let resp: ConsentSubmissionResponse = self
            .post(
                "/v1/admin/consents",
                &serde_json::json!({ "pseudonym": pseudonym, "consent": consent }),
            )
            .await?;
        Ok(resp.stored)
    }

    /// The audit trail as JSON Lines (`GET /v1/admin/audit/export`, admin token).
    pub async fn audit_export(&self) -> Result<String, TrusteeError> {
        let request = self
            .json
            .request(reqwest::Method::GET, "/v1/admin/audit/export");
        Ok(self.json.send_text(request).await?)
    }

    /// Every sample-destruction order (`GET /v1/admin/sample-destructions`).
    pub async fn sample_destructions(&self) -> Result<Vec<SampleDestruction>, TrusteeError> {
        let resp: SampleDestructions = self.get("/v1/admin/sample-destructions").await?;
        Ok(resp.items)
    }

    /// Records that the biobank destroyed the samples of order `id`.
    pub async fn confirm_sample_destruction(&self, id: i64) -> Result<bool, TrusteeError> {
        let resp: DeletionConfirmed = self
            .post(&format!("/v1/admin/sample-destructions/{id}/done"), &())
            .await?;
        Ok(resp.recorded)
    }

    /// Files a re-contact request; the caller is recorded as requester and first approver.
    pub async fn request_recontact(
        &self,
        request: &RecontactRequest,
    ) -> Result<RecontactStatus, TrusteeError> {
        self.post("/v1/admin/recontact", request).await
    }

    /// Approves re-contact request `id` as the calling staff member.
    pub async fn approve_recontact(&self, id: i64) -> Result<RecontactStatus, TrusteeError> {
        self.post(&format!("/v1/admin/recontact/{id}/approve"), &())
            .await
    }

    /// Creates a pseudonym domain.
    pub async fn create_domain(&self, spec: &DomainSpec) -> Result<DomainInfo, TrusteeError> {
        self.post("/v1/admin/domains", spec).await
    }

    /// Every pseudonym domain, parents first.
    pub async fn domains(&self) -> Result<Vec<DomainInfo>, TrusteeError> {
        let resp: DomainList = self.get("/v1/admin/domains").await?;
        Ok(resp.domains)
    }

    /// Resolves domain pseudonyms back to their values (staff only).
    pub async fn domain_resolve(
        &self,
        domain: &str,
        pseudonyms: Vec<String>,
    ) -> Result<Vec<Option<String>>, TrusteeError> {
        let n = pseudonyms.len();
        let resp: DomainResolved = self
            .post(
                &format!("/v1/domains/{domain}/resolve"),
                &DomainResolve { pseudonyms },
            )
            .await?;
        check_len(n, resp.values.len())?;
        Ok(resp.values)
    }
}

/// Pairs each answer with its refusal, checking that the two agree.
fn per_item(
    asked: usize,
    resp: PseudonymiseResponse,
) -> Result<Vec<Result<PseudonymPair, ItemError>>, TrusteeError> {
    check_len(asked, resp.items.len())?;
    let mut errors: Vec<Option<ItemError>> = vec![None; asked];
    for e in resp.errors {
        match errors.get_mut(e.index) {
            Some(slot @ None) => *slot = Some(e),
            _ => {
                return Err(TrusteeError::Protocol(format!(
                    "item error for position {} out of range or repeated",
                    e.index
                )));
            }
        }
    }
    resp.items
        .into_iter()
        .zip(errors)
        .enumerate()
        .map(|(i, pair)| match pair {
            (Some(p), None) => Ok(Ok(p)),
            (None, Some(e)) => Ok(Err(e)),
            _ => Err(TrusteeError::Protocol(format!(
                "item {i}: expected either a pair or an error"
            ))),
        })
        .collect()
}

fn check_len(asked: usize, got: usize) -> Result<(), TrusteeError> {
    if asked == got {
        Ok(())
    } else {
        Err(TrusteeError::Protocol(format!(
            "asked {asked} items, got {got} answers"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(b: u8) -> PseudonymPair {
        PseudonymPair {
            site: Pseudonym::from_digest(&[b; 10]),
            research: Pseudonym::from_digest(&[b + 1; 10]),
            date_offset_days: -i32::from(b) - 1,
        }
    }

    fn error(index: usize) -> ItemError {
        ItemError {
            index,
            code: ItemError::IDAT_TOO_LONG.into(),
            message: format!(
                "items[{index}].idat.family: the family name is longer than 200 characters"
            ),
        }
    }

    #[test]
    fn per_item_pairs_answers_with_refusals() {
        let resp = PseudonymiseResponse {
            items: vec![Some(pair(1)), None, Some(pair(3))],
            errors: vec![error(1)],
        };
        let out = per_item(3, resp).unwrap();
        assert_eq!(out[0], Ok(pair(1)));
        assert_eq!(out[1], Err(error(1)));
        assert_eq!(out[2], Ok(pair(3)));
        // Inconsistent answers are protocol errors, not panics.
        for (items, errors) in [
            (vec![Some(pair(1)), None], vec![]),
            (vec![Some(pair(1)), Some(pair(2))], vec![error(1)]),
            (vec![None, None], vec![error(0), error(0)]),
            (vec![None, None], vec![error(0), error(7)]),
        ] {
            let resp = PseudonymiseResponse { items, errors };
            assert!(matches!(per_item(2, resp), Err(TrusteeError::Protocol(_))));
        }
        let short = PseudonymiseResponse {
            items: vec![Some(pair(1))],
            errors: vec![],
        };
        assert!(per_item(2, short).is_err());
    }
}
