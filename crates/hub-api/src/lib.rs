//! A client for the hub's researcher, admin and audit API, used by the CLI,
//! the demo and the tests.
//!
//! It lives apart from `oncofed-hub` so that a caller of the hub does not
//! compile the service (its store, aggregation and analyses). The wire types
//! themselves are in `oncofed-protocol` (`api`, `analysis`), shared with the
//! sites' agents, which speak the task side of the same API.

use oncofed_crypto::PublicKey;
use oncofed_model::SiteId;
use oncofed_protocol::api::{FeasibilityRequest, FeasibilityResponse, RegisterSite};
use oncofed_protocol::application::{Application, ApplicationContent};
use oncofed_protocol::{Criteria, QueryId};
use std::time::Duration;

/// Why a call to the hub failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub could not be reached.
    #[error(
        "hub at {url} is unreachable ({reason}); check that it runs and that --hub points to it"
    )]
    Unreachable {
        /// The hub's base URL.
        url: String,
        /// The transport error.
        reason: String,
    },
    /// The hub refused the request.
    #[error("hub refused the request: {code}: {message} (HTTP {status})")]
    Refused {
        /// HTTP status.
        status: u16,
        /// Stable code.
        code: String,
        /// Message.
        message: String,
    },
    /// The hub answered with something unreadable.
    #[error("hub answered with an unexpected body: {0}")]
    Protocol(String),
    /// The TLS configuration is unusable, or the URL is plain HTTP beyond loopback.
    #[error(transparent)]
    Tls(std::sync::Arc<oncofed_tls::TlsError>),
}

/// A Beacon answer: the HTTP status and the Beacon document (a boolean,
/// count, informational or error response).
#[derive(Debug, Clone, PartialEq)]
pub struct BeaconReply {
    /// HTTP status.
    pub status: u16,
    /// The document.
    pub body: serde_json::Value,
}

impl BeaconReply {
    /// `responseSummary.exists`, if the answer has one.
    pub fn exists(&self) -> Option<bool> {
        self.body.pointer("/responseSummary/exists")?.as_bool()
    }

    /// `responseSummary.numTotalResults`, if the answer is a count.
    pub fn count(&self) -> Option<u64> {
        self.body
            .pointer("/responseSummary/numTotalResults")?
            .as_u64()
    }

    /// `meta.returnedGranularity`, if the answer has one.
    pub fn granularity(&self) -> Option<&str> {
        self.body.pointer("/meta/returnedGranularity")?.as_str()
    }
}

/// A Beacon v2.1.1 `g_variants` request body: `parameters` are the
/// `requestParameters` (e.g. `assemblyId`, `referenceName`, `start`,
/// `referenceBases`, `alternateBases`, `end`, `geneId`), `granularity` the
/// requested granularity (`boolean`, `count`).
pub fn beacon_request(
    parameters: serde_json::Map<String, serde_json::Value>,
    granularity: Option<&str>,
) -> serde_json::Value {
    let mut query = serde_json::json!({ "requestParameters": { "g_variant": parameters } });
    if let Some(g) = granularity {
        query["requestedGranularity"] = serde_json::Value::String(g.to_owned());
    }
    serde_json::json!({ "meta": { "apiVersion": "v2.1.1" }, "query": query })
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
fn form_escape(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A user's client for the hub, authenticated with their bearer token.
#[derive(Clone)]
pub struct HubClient {
    base: String,
    /// The plumbing, or why this client may not call its URL (set by
    /// [`HubClient::new`], which cannot fail; every call returns it).
    json: Result<oncofed_http::JsonClient, std::sync::Arc<oncofed_tls::TlsError>>,
}

impl From<oncofed_http::CallError> for ClientError {
    fn from(e: oncofed_http::CallError) -> Self {
        use oncofed_http::CallError;
        match e {
            CallError::Unreachable { url, reason } => Self::Unreachable { url, reason },
            CallError::Rejected {
                status,
                code,
                message,
                request_id,
            } => Self::Refused {
                status,
                code,
                message: oncofed_http::quoting_request_id(message, request_id),
            },
            CallError::Protocol(m) => Self::Protocol(m),
        }
    }
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HubClient {
    /// A client for the hub at `base_url` using `token`, trusting the system's
    /// roots. A plain-HTTP URL on another host is refused at the first call
    /// (tokens and results never cross a network in the clear).
    pub fn new(base_url: &str, token: &str) -> Self {
        match Self::with_tls(base_url, token, &oncofed_tls::ClientTls::default()) {
            Ok(client) => client,
            Err(ClientError::Tls(refused)) => Self {
                base: base_url.trim_end_matches('/').to_owned(),
                json: Err(refused),
            },
            Err(other) => unreachable!("with_tls only fails with Tls: {other}"),
        }
    }

    /// A client for the hub at `base_url` using `token`, verifying the hub
    /// against `tls`'s CA bundle and presenting its client certificate if any.
    pub fn with_tls(
        base_url: &str,
        token: &str,
        tls: &oncofed_tls::ClientTls,
    ) -> Result<Self, ClientError> {
        let json = oncofed_http::JsonClient::new(
            base_url,
            token,
            tls,
            Duration::from_secs(5),
            Duration::from_secs(90),
        )
        .map_err(|e| ClientError::Tls(std::sync::Arc::new(e)))?;
        Ok(Self {
            base: json.base_url().to_owned(),
            json: Ok(json),
        })
    }

    /// An anonymous client (no token), for the public Beacon: the hub answers
    /// it as role `Public`.
    pub fn anonymous(base_url: &str, tls: &oncofed_tls::ClientTls) -> Result<Self, ClientError> {
        Self::with_tls(base_url, "", tls)
    }

    /// `POST /beacon/v2/g_variants` with a Beacon v2 request body (see
    /// [`beacon_request`]), as a controlled-access query of `project` if given.
    /// Beacon errors (400, 401, 403, 429, 503) are Beacon documents too, so
    /// the answer is the status and the document either way.
    pub async fn beacon_g_variants(
        &self,
        request: &serde_json::Value,
        project: Option<&str>,
    ) -> Result<BeaconReply, ClientError> {
        let path = match project {
            Some(p) => format!("/beacon/v2/g_variants?project={}", form_escape(p)),
            None => "/beacon/v2/g_variants".to_owned(),
        };
        let json = self.json()?;
        self.beacon_exchange(json.request(reqwest::Method::POST, &path).json(request))
            .await
    }

    /// `GET /beacon/v2/{endpoint}` (`info`, `configuration`, `map`,
    /// `entry_types`, `filtering_terms`, or `g_variants?…` with GET parameters).
    pub async fn beacon_get(&self, endpoint: &str) -> Result<BeaconReply, ClientError> {
        let path = format!("/beacon/v2/{}", endpoint.trim_start_matches('/'));
        let json = self.json()?;
        self.beacon_exchange(json.request(reqwest::Method::GET, &path))
            .await
    }

    async fn beacon_exchange(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<BeaconReply, ClientError> {
        let unreachable = |e: reqwest::Error| ClientError::Unreachable {
            url: self.base.clone(),
            reason: e.to_string(),
        };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(unreachable)?;
        let body = serde_json::from_slice(&bytes).map_err(|e| {
            ClientError::Protocol(format!("Beacon answer (HTTP {status}) is not JSON: {e}"))
        })?;
        Ok(BeaconReply { status, body })
    }

    fn json(&self) -> Result<&oncofed_http::JsonClient, ClientError> {
        self.json
            .as_ref()
            .map_err(|refused| ClientError::Tls(refused.clone()))
    }

    async fn post<Q: serde::Serialize + ?Sized, T: for<'de> serde::Deserialize<'de>>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<T, ClientError> {
        Ok(self.json()?.post(path, body).await?)
    }

    async fn get<T: for<'de> serde::Deserialize<'de>>(&self, path: &str) -> Result<T, ClientError> {
        Ok(self.json()?.get(path).await?)
    }

    /// Runs a feasibility query, waiting up to `wait_seconds` for the sites.
    pub async fn feasibility(
        &self,
        criteria: Criteria,
        wait_seconds: u64,
    ) -> Result<FeasibilityResponse, ClientError> {
        let body = FeasibilityRequest {
            criteria,
            wait_seconds: Some(wait_seconds),
        };
        self.post("/v1/feasibility", &body).await
    }

    /// Approves (creates or replaces) a project: admin token.
    pub async fn approve_project(
        &self,
        project: &oncofed_protocol::analysis::Project,
    ) -> Result<oncofed_protocol::analysis::Project, ClientError> {
        self.post("/v1/admin/projects", project).await
    }

    /// Creates an application for a project (researcher token) in draft:
    /// upload the ethics vote with [`HubClient::upload_ethics`], then
    /// [`HubClient::submit_application`].
    pub async fn create_application(
        &self,
        content: &ApplicationContent,
    ) -> Result<Application, ClientError> {
        let body = serde_json::json!({ "content": content, "submit": false });
        self.post("/v1/applications", &body).await
    }

    /// Uploads the ethics vote (a PDF) of application `id` (applicant's token).
    pub async fn upload_ethics(
        &self,
        id: &str,
        filename: &str,
        pdf: Vec<u8>,
    ) -> Result<Application, ClientError> {
        let path = format!(
            "/v1/applications/{}/ethics?filename={}",
            form_escape(id),
            form_escape(filename)
        );
        let json = self.json()?;
        let request = json
            .request(reqwest::Method::PUT, &path)
            .header(reqwest::header::CONTENT_TYPE, "application/pdf")
            .body(pdf);
        Ok(json.send(request).await?)
    }

    /// Submits the draft of application `id` (applicant's token). If the
    /// hub's approval policy holds for it, the answer is already `approved`
    /// with its project; otherwise it waits at the formal check and
    /// [`Application::policy_verdict`] names the rules that failed.
    pub async fn submit_application(&self, id: &str) -> Result<Application, ClientError> {
        let path = format!("/v1/applications/{}/submit", form_escape(id));
        self.post(&path, &serde_json::json!({})).await
    }

    /// Creates, uploads the ethics vote for and submits an application in
    /// one go; see [`HubClient::submit_application`] for the answer.
    pub async fn apply(
        &self,
        content: &ApplicationContent,
        ethics_pdf: Vec<u8>,
    ) -> Result<Application, ClientError> {
        let app = self.create_application(content).await?;
        self.upload_ethics(&app.id, "ethics-vote.pdf", ethics_pdf)
            .await?;
        self.submit_application(&app.id).await
    }

    /// Application `id` with its stage, versions, per-site decisions, votes
    /// and history, if the caller may see it.
    pub async fn application(&self, id: &str) -> Result<Application, ClientError> {
        self.get(&format!("/v1/applications/{}", form_escape(id)))
            .await
    }

    /// The applications the caller may see.
    pub async fn applications(&self) -> Result<Vec<Application>, ClientError> {
        self.get("/v1/applications").await
    }

    /// The central office's formal check (admin token): pass, or back for
    /// rework with `reasons`.
    pub async fn formal_check(
        &self,
        id: &str,
        pass: bool,
        reasons: &str,
    ) -> Result<Application, ClientError> {
        let path = format!("/v1/applications/{}/formal-check", form_escape(id));
        self.post(
            &path,
            &serde_json::json!({ "pass": pass, "reasons": reasons }),
        )
        .await
    }

    /// A site's decision on application `id` (that site's site-admin token).
    pub async fn site_decision(
        &self,
        id: &str,
        site: &str,
        decision: &oncofed_protocol::application::SiteDecision,
    ) -> Result<Application, ClientError> {
        let path = format!(
            "/v1/applications/{}/sites/{}",
            form_escape(id),
            form_escape(site)
        );
        self.post(&path, decision).await
    }

    /// A committee member's vote on application `id` (committee token).
    pub async fn vote(
        &self,
        id: &str,
        vote: &oncofed_protocol::application::Vote,
    ) -> Result<Application, ClientError> {
        let path = format!("/v1/applications/{}/votes", form_escape(id));
        self.post(&path, vote).await
    }

    /// Acknowledges the terms of application `id` as the applicant or as an
    /// accepting site's admin (the caller's role decides which).
    pub async fn acknowledge(&self, id: &str) -> Result<Application, ClientError> {
        let path = format!("/v1/applications/{}/acknowledge", form_escape(id));
        self.post(&path, &serde_json::json!({})).await
    }

    /// Registers an institution and its members (admin token): the approval
    /// policy's `registered-institution` rule reads them.
    pub async fn register_institution(
        &self,
        id: &str,
        name: &str,
        members: &[&str],
    ) -> Result<serde_json::Value, ClientError> {
        let body = serde_json::json!({ "id": id, "name": name, "members": members });
        self.post("/v1/admin/institutions", &body).await
    }

    /// Opts the caller's site into (or out of) approval under the hub's
    /// policy (site-admin token).
    pub async fn policy_opt_in(&self, opt_in: bool) -> Result<serde_json::Value, ClientError> {
        self.post(
            "/v1/applications/policy/opt-in",
            &serde_json::json!({ "opt_in": opt_in }),
        )
        .await
    }

    /// The caller's projects with the ε spent in each: researcher token.
    pub async fn projects(
        &self,
    ) -> Result<Vec<oncofed_protocol::analysis::ProjectStatus>, ClientError> {
        self.get("/v1/projects").await
    }

    /// Starts an analysis run; waits up to `request.wait_seconds` for its result.
    pub async fn analyze(
        &self,
        request: &oncofed_protocol::analysis::AnalysisRequest,
    ) -> Result<oncofed_protocol::analysis::AnalysisResponse, ClientError> {
        self.post("/v1/analyses", request).await
    }

    /// A run's state, waiting up to `wait_seconds` (at most 120) for it to end.
    pub async fn analysis(
        &self,
        run_id: &QueryId,
        wait_seconds: u64,
    ) -> Result<oncofed_protocol::analysis::AnalysisResponse, ClientError> {
        self.get(&format!("/v1/analyses/{run_id}?wait={wait_seconds}"))
            .await
    }

    /// Runs an analysis to its end (polling while it runs) and returns the final state.
    pub async fn analyze_to_end(
        &self,
        request: &oncofed_protocol::analysis::AnalysisRequest,
    ) -> Result<oncofed_protocol::analysis::AnalysisResponse, ClientError> {
        let mut request = request.clone();
        request.wait_seconds = Some(request.wait_seconds.unwrap_or(60).min(60));
        let mut response = self.analyze(&request).await?;
        while response.state == oncofed_protocol::analysis::RunState::Running {
            response = self.analysis(&response.run_id, 60).await?;
        }
        Ok(response)
    }

    /// The current figures of an earlier query.
    pub async fn feasibility_result(
        &self,
        query_id: &QueryId,
    ) -> Result<FeasibilityResponse, ClientError> {
        self.get(&format!("/v1/feasibility/{query_id}")).await
    }

    /// Registers a site's public key (admins only).
    pub async fn register_site(
        &self,
        site: SiteId,
        public_key: PublicKey,
    ) -> Result<serde_json::Value, ClientError> {
        self.post("/v1/admin/sites", &RegisterSite { site, public_key })
            .await
    }

    /// The hub's public key (to pin at the sites and to verify the audit trail).
    pub async fn public_key(&self) -> Result<PublicKey, ClientError> {
        let v: serde_json::Value = self.get("/v1/hub/key").await?;
        serde_json::from_value(v["public_key"].clone())
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Starts a swarm run inside an approved project (`POST /v1/swarm/runs`):
    /// the hub's signed grant, which every participating site fetches and
    /// verifies before it trains.
    pub async fn start_swarm_run(
        &self,
        request: &oncofed_protocol::swarm_grant::SwarmRunRequest,
    ) -> Result<oncofed_protocol::swarm_grant::SignedSwarmGrant, ClientError> {
        self.post("/v1/swarm/runs", request).await
    }

    /// The model registry as the caller may see it (`GET /v1/models`): one
    /// JSON object per released cell classifier (id, name, algorithm,
    /// project, run, accuracy).
    pub async fn models(&self) -> Result<Vec<serde_json::Value>, ClientError> {
        self.get("/v1/models").await
    }

    /// A registered model's card (Markdown).
    pub async fn model_card(&self, id: &str) -> Result<String, ClientError> {
        let json = self.json()?;
        let request = json.request(reqwest::Method::GET, &format!("/v1/models/{id}/card"));
        Ok(json.send_text(request).await?)
    }

    /// The contribution ledger (`GET /v1/ledger`, R19) as JSON: `site`,
    /// `disclosure`, `summary` (per site, project and month) and `entries`
    /// (per site and released result, coarsened). A site admin gets their own
    /// site's (naming another is refused); admins and auditors the `site`
    /// named, or every site's with `None`.
    pub async fn contribution_ledger(
        &self,
        site: Option<&str>,
    ) -> Result<serde_json::Value, ClientError> {
        match site {
            Some(site) => self.get(&format!("/v1/ledger?site={site}")).await,
            None => self.get("/v1/ledger").await,
        }
    }

    /// Refreshes the federation's HealthDCAT-AP catalogue (admin token): the
    /// hub asks every site, waits up to its catalogue deadline, applies its
    /// release rule and publishes; the answer says who answered and how many
    /// datasets were published or withheld.
    pub async fn refresh_catalogue(
        &self,
    ) -> Result<oncofed_protocol::CatalogueRefreshed, ClientError> {
        self.post("/v1/admin/catalogue/refresh", &serde_json::json!({}))
            .await
    }

    /// The published catalogue as JSON-LD (public; any token or none).
    pub async fn catalogue_jsonld(&self) -> Result<serde_json::Value, ClientError> {
        self.get("/catalogue.jsonld").await
    }

    /// The published catalogue as Turtle (public; any token or none).
    pub async fn catalogue_turtle(&self) -> Result<String, ClientError> {
        let json = self.json()?;
        let request = json.request(reqwest::Method::GET, "/catalogue.ttl");
        Ok(json.send_text(request).await?)
    }

    /// The audit trail as JSON Lines (auditors only).
    pub async fn audit_export(&self) -> Result<String, ClientError> {
        let json = self.json()?;
        let request = json.request(reqwest::Method::GET, "/v1/audit/export");
        Ok(json.send_text(request).await?)
    }
}
