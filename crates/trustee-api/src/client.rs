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
    /// The answer did not match the request (wrong length or unreadable body).
    #[error("trust centre answered with an unexpected body: {0}")]
    Protocol(String),
}

/// A client for one site's calls to the trust centre.
///
/// Cheap to clone; it keeps a connection pool.
#[derive(Clone)]
pub struct TrusteeClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for TrusteeClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrusteeClient")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl TrusteeClient {
    /// Builds a client for the trust centre at `base_url` (e.g. `http://127.0.0.1:8710`),
    /// authenticating with the site's bearer `token`.
    pub fn new(base_url: &str, token: &str) -> Result<Self, TrusteeError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| TrusteeError::Protocol(e.to_string()))?;
        Ok(Self {
            base: base_url.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            http,
        })
    }

    /// The base URL this client talks to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    async fn post<Q: Serialize, A: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<A, TrusteeError> {
        let url = format!("{}{}", self.base, path);
        let unreachable = |e: reqwest::Error| TrusteeError::Unreachable {
            url: self.base.clone(),
            reason: if e.is_timeout() {
                "timed out".into()
            } else if e.is_connect() {
                "connection refused".into()
            } else {
                "transport error".into()
            },
        };
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let body: ApiErrorBody = serde_json::from_slice(&bytes).unwrap_or(ApiErrorBody {
                code: "http_error".into(),
                message: status.canonical_reason().unwrap_or("error").into(),
            });
            return Err(TrusteeError::Rejected {
                status: status.as_u16(),
                code: body.code,
                message: body.message,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| TrusteeError::Protocol(e.to_string()))
    }

    /// Pseudonymises a batch; the answer has one pair per item, in order.
    pub async fn pseudonymise(
        &self,
        items: Vec<PseudonymiseItem>,
    ) -> Result<Vec<PseudonymPair>, TrusteeError> {
        let n = items.len();
        let resp: PseudonymiseResponse = self
            .post("/v1/pseudonyms", &PseudonymiseRequest { items })
            .await?;
        check_len(n, resp.items.len())?;
        Ok(resp.items)
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

fn check_len(asked: usize, got: usize) -> Result<(), TrusteeError> {
    if asked == got {
        Ok(())
    } else {
        Err(TrusteeError::Protocol(format!(
            "asked {asked} items, got {got} answers"
        )))
    }
}
