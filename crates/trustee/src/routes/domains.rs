//! Pseudonym domains over HTTP (table in `oncofed_trustee_api::domains`).
//!
//! Creating a domain and resolving pseudonyms back to values are staff actions and
//! audited; batch pseudonymisation is open to staff and to the site a domain (or an
//! ancestor) is bound to, and is not audited per call (it reveals nothing the
//! caller did not send; gPAS does the same).

use crate::AppState;
use crate::auth::{SiteOrStaff, StaffCaller};
use crate::db::domains::{self, Domain, DomainError, NewDomain};
use crate::error::ApiError;
use crate::extract::ApiPath;
use crate::json::ApiJson;
use crate::routes::{audit, blocking};
use axum::extract::{DefaultBodyLimit, State};
use axum::routing::post;
use axum::{Json, Router};
use oncofed_trustee_api::{
    DomainInfo, DomainList, DomainPseudonymise, DomainPseudonyms, DomainResolve, DomainResolved,
    DomainSpec, MAX_DOMAIN_BATCH,
};
use serde_json::json;

/// Longest value accepted, in bytes.
const MAX_VALUE_LEN: usize = 256;
/// Body limit of a batch: 10,000 values of up to 256 bytes, JSON-quoted.
const BATCH_BODY_LIMIT: usize = MAX_DOMAIN_BATCH * (MAX_VALUE_LEN + 8) + 1024;

/// The domain routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/admin/domains", post(create).get(list))
        .route(
            "/v1/domains/{name}/pseudonyms",
            post(pseudonymise).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
        .route(
            "/v1/domains/{name}/resolve",
            post(resolve).layer(DefaultBodyLimit::max(BATCH_BODY_LIMIT)),
        )
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'_')
        })
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Exists => ApiError::invalid("name", "a domain of this name exists"),
            DomainError::Invalid(field, problem) => ApiError::invalid(field, problem),
            DomainError::Full => ApiError::invalid(
                "values",
                "the domain's pseudonym space is exhausted; use a longer length",
            ),
            DomainError::Store(s) => s.into(),
        }
    }
}

async fn create(
    State(state): State<AppState>,
    StaffCaller(staff): StaffCaller,
    ApiJson(spec): ApiJson<DomainSpec>,
) -> Result<Json<DomainInfo>, ApiError> {
    if !valid_name(&spec.name) || spec.parent.as_deref().is_some_and(|p| !valid_name(p)) {
        return Err(ApiError::invalid("name", "1-64 of a-z, 0-9, '-', '.', '_'"));
    }
    if let Some(site) = &spec.site
        && !state.inner.sites.contains_site(site)
    {
        return Err(ApiError::invalid("site", "not a registered site"));
    }
    let new = NewDomain {
        name: spec.name,
        parent: spec.parent,
        site: spec.site,
        alphabet: spec.alphabet,
        length: spec.length,
        check: spec.check,
    };
    let info = state
        .inner
        .db
        .write(move |conn| Ok(domains::create(conn, new)))
        .await??;
    let (audit_state, logged) = (state.clone(), info.clone());
    blocking(move || {
        audit::record(
            &audit_state,
            &staff,
            "domain.created",
            &format!("domain/{}", logged.name),
            serde_json::to_value(&logged).unwrap_or_default(),
        )
    })
    .await??;
    Ok(Json(info))
}

async fn list(
    State(state): State<AppState>,
    _staff: StaffCaller,
) -> Result<Json<DomainList>, ApiError> {
    let domains = state.inner.db.read(domains::list).await?;
    Ok(Json(DomainList { domains }))
}

/// The domain `name`, if the caller may use it for batches.
async fn domain_for(
    state: &AppState,
    caller: &SiteOrStaff,
    name: String,
) -> Result<Domain, ApiError> {
    let domain = state
        .inner
        .db
        .read(move |conn| domains::get(conn, &name))
        .await?
        .ok_or(ApiError::NotFound)?;
    match caller {
        SiteOrStaff::Staff => Ok(domain),
        SiteOrStaff::Site(site) if domain.info.site.as_deref() == Some(site.as_str()) => Ok(domain),
        // Another site's domain looks like no domain at all.
        SiteOrStaff::Site(_) => Err(ApiError::NotFound),
    }
}

async fn pseudonymise(
    State(state): State<AppState>,
    caller: SiteOrStaff,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<DomainPseudonymise>,
) -> Result<Json<DomainPseudonyms>, ApiError> {
    if req.values.len() > MAX_DOMAIN_BATCH {
        return Err(ApiError::invalid(
            "body",
            "at most 10,000 items per call; split the batch",
        ));
    }
    if let Some(i) = req
        .values
        .iter()
        .position(|v| v.is_empty() || v.len() > MAX_VALUE_LEN || v.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            format_args!("values[{i}]"),
            "must be 1-256 bytes without control characters",
        ));
    }
    let domain = domain_for(&state, &caller, name).await?;
    let deriver = state.inner.domain_keys.domain(&domain.info.name);
    let (values, first, domain, deriver) = blocking(move || {
        let first: Vec<String> = req
            .values
            .iter()
            .map(|v| deriver.candidate(&domain.settings, v, 0))
            .collect();
        (req.values, first, domain, deriver)
    })
    .await?;
    let (pseudonyms, created) = state
        .inner
        .db
        .write(move |conn| {
            Ok(domains::pseudonymise(
                conn, &domain, &deriver, &values, first,
            ))
        })
        .await??;
    tracing::debug!(
        items = pseudonyms.len(),
        created,
        "domain batch pseudonymised"
    );
    Ok(Json(DomainPseudonyms { pseudonyms }))
}

async fn resolve(
    State(state): State<AppState>,
    StaffCaller(staff): StaffCaller,
    ApiPath(name): ApiPath<String>,
    ApiJson(req): ApiJson<DomainResolve>,
) -> Result<Json<DomainResolved>, ApiError> {
    if req.pseudonyms.len() > MAX_DOMAIN_BATCH {
        return Err(ApiError::invalid(
            "body",
            "at most 10,000 items per call; split the batch",
        ));
    }
    let domain = domain_for(&state, &SiteOrStaff::Staff, name).await?;
    let domain_name = domain.info.name.clone();
    let values = state
        .inner
        .db
        .read(move |conn| domains::resolve(conn, &domain, &req.pseudonyms))
        .await?;
    let (audit_state, asked, found) = (
        state.clone(),
        values.len(),
        values.iter().filter(|v| v.is_some()).count(),
    );
    blocking(move || {
        audit::record(
            &audit_state,
            &staff,
            "domain.resolved",
            &format!("domain/{domain_name}"),
            json!({"asked": asked, "found": found}),
        )
    })
    .await??;
    Ok(Json(DomainResolved { values }))
}
