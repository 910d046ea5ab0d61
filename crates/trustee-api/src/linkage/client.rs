//! An HTTP client for the linkage endpoints: clerical review and admissions
//! past a tombstone (admin token), and PPRL submissions (a site's token). Used
//! by the `oncofed` CLI and the tests.

use super::api::{
    AdmissionRequest, AdmissionResponse, Decision, PprlProjectSettings, PprlRecord,
    PprlSubmitRequest, PprlSubmitResponse, ReviewDecisionRequest, ReviewDecisionResponse,
    ReviewList,
};
use crate::TrusteeError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// A client for one caller (staff or site) of the linkage endpoints. Cheap to clone.
#[derive(Clone)]
pub struct LinkageClient {
    json: oncofed_http::JsonClient,
}

impl std::fmt::Debug for LinkageClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkageClient")
            .field("base", &self.json.base_url())
            .field("token", &"<redacted>")
            .finish()
    }
}

impl LinkageClient {
    /// A client for the trust centre at `base_url` with a bearer `token` (the
    /// admin token for review and project settings, a site token for PPRL).
    pub fn new(base_url: &str, token: &str) -> Result<Self, TrusteeError> {
        Self::with_tls(base_url, token, &oncofed_tls::ClientTls::default())
    }

    /// Like [`LinkageClient::new`], verifying the trust centre against `tls`'s CA
    /// bundle and presenting its client certificate (PPRL calls of a site under
    /// mutual TLS). Plain HTTP beyond loopback is refused unless `tls` allows it.
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
            Duration::from_secs(300),
        )?;
        Ok(Self { json })
    }

    async fn post<Q: Serialize, A: DeserializeOwned>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<A, TrusteeError> {
        Ok(self.json.post(path, body).await?)
    }

    /// Pending review items, oldest first, at most `limit` (admin token).
    pub async fn review_list(&self, limit: u32) -> Result<ReviewList, TrusteeError> {
        Ok(self
            .json
            .get(&format!("/v1/admin/review?limit={limit}"))
            .await?)
    }

    /// Decides a review item (admin token).
    pub async fn review_decide(
        &self,
        id: i64,
        decision: Decision,
        reviewer: &str,
    ) -> Result<ReviewDecisionResponse, TrusteeError> {
        self.post(
            &format!("/v1/admin/review/{id}"),
            &ReviewDecisionRequest {
                decision,
                reviewer: reviewer.to_owned(),
            },
        )
        .await
    }

    /// Admits one record a withdrawn person's tombstone refused, as a
    /// different person (admin token); the site then sends it again.
    pub async fn admit(
        &self,
        request: &AdmissionRequest,
    ) -> Result<AdmissionResponse, TrusteeError> {
        self.post("/v1/admin/admissions", request).await
    }

    /// Sets a PPRL project's Dice threshold (admin token).
    pub async fn pprl_settings(
        &self,
        project: &str,
        settings: PprlProjectSettings,
    ) -> Result<PprlProjectSettings, TrusteeError> {
        let request = self
            .json
            .request(reqwest::Method::PUT, &format!("/v1/admin/pprl/{project}"))
            .json(&settings);
        Ok(self.json.send(request).await?)
    }

    /// Submits a site's encoded records to a PPRL project (site token); one link
    /// per record, in order.
    pub async fn pprl_submit(
        &self,
        project: &str,
        records: Vec<PprlRecord>,
    ) -> Result<PprlSubmitResponse, TrusteeError> {
        let n = records.len();
        let resp: PprlSubmitResponse = self
            .post(
                &format!("/v1/pprl/{project}/records"),
                &PprlSubmitRequest { records },
            )
            .await?;
        if resp.links.len() != n {
            return Err(TrusteeError::Protocol(format!(
                "sent {n} records, got {} links",
                resp.links.len()
            )));
        }
        Ok(resp)
    }
}
