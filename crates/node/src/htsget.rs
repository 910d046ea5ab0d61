//! The site's htsget endpoint for controlled access to sequences (issue 16,
//! item 5; GA4GH htsget 1.3, variants): an approved project's researcher asks
//! for a region of one person's VCF and gets a ticket whose one URL is a
//! `data:` URI holding the region as a BGZF-compressed VCF, Crypt4GH-encrypted
//! to the researcher's public key ([`crate::genomics::deliver_region`]:
//! consent-checked per person, audited, sample columns renamed to the project
//! pseudonym). The site keeps nothing for the ticket, and no byte of the data
//! is readable on its way or by whoever stores the download.
//!
//! | method and path | answer |
//! |---|---|
//! | `GET /htsget/variants/{id}?format=VCF&referenceName=chr7&start=55019016&end=55211628` | ticket |
//!
//! `id` is `<project pseudonym>.<somatic|germline>`; `start` is 0-based and
//! `end` exclusive (htsget's convention; the VCF region is `start+1..=end`).
//! Only `format=VCF` is served. Every call needs the researcher's bearer
//! token of the project's grant ([`HtsgetGrant`]). Errors follow the protocol:
//! `{"htsget": {"error": "NotFound", "message": ...}}`.
//!
//! Served beside the node's local API by `oncofed node serve --htsget-grant
//! FILE`; bind it where the project's researchers can reach it (through the
//! site's reverse proxy with TLS), not on the open internet.

use crate::genomics::{DeliveryError, GenomicsSetup, SequenceRequest, deliver_region};
use crate::imaging::deliver::{DeliveryAudit, ProjectKey};
use crate::{ConsentGate, SharedStore};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use oncofed_crypt4gh::PublicKey;
use oncofed_model::VariantOrigin;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Largest encrypted region inlined in a ticket: 64 MiB.
pub const MAX_REGION_BYTES: usize = 64 << 20;

/// One approved project's access to the site's sequences: its key (the site
/// gets it with the approval), the researcher's token and Crypt4GH public key.
#[derive(Clone)]
pub struct HtsgetGrant {
    /// The project.
    pub project: String,
    /// The project's key (its pseudonyms).
    pub key: ProjectKey,
    /// Digest of the researcher's bearer token.
    pub token: oncofed_service::tokens::TokenDigest,
    /// The researcher's Crypt4GH public key: every delivery is encrypted to it.
    pub recipient: PublicKey,
}

/// What the endpoint needs.
#[derive(Clone)]
pub struct HtsgetState {
    /// The research store.
    pub store: SharedStore,
    /// Consent per person.
    pub gate: Arc<ConsentGate>,
    /// The site's sequencing setup (archive, site key).
    pub setup: GenomicsSetup,
    /// The site's delivery audit trail.
    pub audit: Arc<DeliveryAudit>,
    /// The grants served.
    pub grants: Arc<Vec<HtsgetGrant>>,
}

/// The htsget router.
pub fn router(state: HtsgetState) -> Router {
    Router::new()
        .route("/htsget/variants/{id}", get(ticket))
        .with_state(state)
}

/// The query parameters htsget defines for variants.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TicketQuery {
    format: Option<String>,
    reference_name: Option<String>,
    start: Option<u64>,
    end: Option<u64>,
    class: Option<String>,
    #[serde(flatten)]
    other: HashMap<String, String>,
}

/// An htsget error: its status, the protocol's error type, a message.
struct HtsgetError(StatusCode, &'static str, String);

impl IntoResponse for HtsgetError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"htsget": {"error": self.1, "message": self.2}});
        (self.0, Json(body)).into_response()
    }
}

fn invalid(message: impl Into<String>) -> HtsgetError {
    HtsgetError(StatusCode::BAD_REQUEST, "InvalidInput", message.into())
}

async fn ticket(
    State(state): State<HtsgetState>,
    Path(id): Path<String>,
    Query(q): Query<TicketQuery>,
    headers: HeaderMap,
) -> Result<Response, HtsgetError> {
    use oncofed_service::tokens::{TokenDigest, bearer_token};
    let presented = bearer_token(&headers).ok_or(HtsgetError(
        StatusCode::UNAUTHORIZED,
        "InvalidAuthentication",
        "give the project's bearer token".into(),
    ))?;
    let digest = TokenDigest::of(presented);
    let grant = state
        .grants
        .iter()
        .find(|g| digest.matches(&g.token))
        .ok_or(HtsgetError(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthentication",
            "the token belongs to no project served here".into(),
        ))?;
    if let Some(name) = q.other.keys().next() {
        return Err(invalid(format!(
            "parameter '{name}' is not served: use format, referenceName, start, end"
        )));
    }
    if q.format
        .as_deref()
        .is_some_and(|f| !f.eq_ignore_ascii_case("VCF"))
    {
        return Err(HtsgetError(
            StatusCode::BAD_REQUEST,
            "UnsupportedFormat",
            "only format=VCF is served".into(),
        ));
    }
    if q.class.as_deref().is_some_and(|c| c != "body") {
        return Err(invalid(
            "only class=body is served (the header comes with it)",
        ));
    }
    let (pseudonym, origin) = id
        .rsplit_once('.')
        .and_then(|(p, o)| Some((p, o.parse::<VariantOrigin>().ok()?)))
        .ok_or_else(|| {
            invalid("the id is <project pseudonym>.somatic or <project pseudonym>.germline")
        })?;
    let query = crate::genomics::RegionQuery {
        id: pseudonym.to_owned(),
        origin,
        region: region(&q)?,
    };
    let request = SequenceRequest {
        project: grant.project.clone(),
        key: grant.key.clone(),
        recipient: grant.recipient,
        today: chrono::Utc::now().date_naive(),
    };
    let delivered = deliver_region(
        &state.store,
        &state.gate,
        &state.setup,
        &state.audit,
        &request,
        &query,
    )
    .await
    .map_err(|e| match e {
        DeliveryError::NotFound => HtsgetError(StatusCode::NOT_FOUND, "NotFound", e.to_string()),
        DeliveryError::Consent(_) => HtsgetError(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "consent cannot be checked now: try again later".into(),
        ),
        other => {
            tracing::warn!(error = %other, "htsget delivery failed");
            HtsgetError(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "the delivery failed; see the site's log".into(),
            )
        }
    })?;
    if delivered.bytes.len() > MAX_REGION_BYTES {
        return Err(HtsgetError(
            StatusCode::PAYLOAD_TOO_LARGE,
            "InvalidRange",
            format!("the region holds more than {MAX_REGION_BYTES} bytes: ask for a smaller one"),
        ));
    }
    let data = base64::engine::general_purpose::STANDARD.encode(&delivered.bytes);
    let body = serde_json::json!({"htsget": {
        "format": "VCF",
        "urls": [{"url": format!("data:application/vnd.ga4gh.crypt4gh;base64,{data}"), "class": "body"}],
    }});
    Ok(Json(body).into_response())
}

/// The VCF region of the query: `referenceName`, and `start`/`end` converted
/// from htsget's 0-based half-open interval to 1-based inclusive.
fn region(q: &TicketQuery) -> Result<Option<oncofed_vcf::Region>, HtsgetError> {
    let Some(name) = q.reference_name.as_deref() else {
        if q.start.is_some() || q.end.is_some() {
            return Err(invalid("start and end need referenceName"));
        }
        return Ok(None);
    };
    if name == "*" {
        return Err(invalid(
            "unplaced reads do not exist in VCF: name a chromosome",
        ));
    }
    let text = match (q.start, q.end) {
        (Some(s), Some(e)) if s >= e => {
            return Err(HtsgetError(
                StatusCode::BAD_REQUEST,
                "InvalidRange",
                "start must be below end".into(),
            ));
        }
        (Some(s), Some(e)) => format!("{name}:{}-{e}", s + 1),
        (Some(s), None) => format!("{name}:{}", s + 1),
        (None, Some(e)) => format!("{name}:1-{e}"),
        (None, None) => name.to_owned(),
    };
    text.parse().map(Some).map_err(|e: String| invalid(e))
}

/// A grant file (JSON): what a site operator writes when a project is
/// approved for sequence access. Paths are read with the node's secret-file
/// rules (owner-only); the token file holds the researcher's bearer token.
///
/// ```json
/// {"project": "P-7", "project_key_file": "p7.key", "token_file": "p7-researcher.token",
///  "researcher_public_key_file": "researcher.c4gh.pub"}
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantFile {
    project: String,
    project_key_file: std::path::PathBuf,
    token_file: std::path::PathBuf,
    researcher_public_key_file: std::path::PathBuf,
}

impl HtsgetGrant {
    /// Reads a grant file (see [`GrantFile`]'s format in the module source);
    /// relative paths are taken from the grant file's folder.
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the grant {}: {e}", path.display()))?;
        let g: GrantFile = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a grant file: {e}", path.display()))?;
        let base = path.parent().unwrap_or(std::path::Path::new("."));
        let secret = |p: &std::path::Path| {
            crate::files::read_secret_file(&base.join(p)).map_err(|e| e.to_string())
        };
        let key = ProjectKey::from_hex(&secret(&g.project_key_file)?)?;
        let token = oncofed_service::tokens::TokenDigest::of(secret(&g.token_file)?.trim());
        let recipient = PublicKey::from_file(base.join(&g.researcher_public_key_file))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            project: g.project,
            key,
            token,
            recipient,
        })
    }
}
