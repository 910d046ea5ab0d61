//! Response builders (`responses/*.json` of Beacon v2.1.1).
//!
//! Every builder returns a typed struct whose `serde_json` form validates
//! against the vendored schema of the same name (checked by
//! `tests/schemas.rs` with Python `jsonschema`). Only aggregate answers exist:
//! OncoFed never builds a result-set (record-level) response.
use serde::Serialize;
use serde_json::{Value, json};

use super::request::{Pagination, RequestBody, SchemaPerEntity};
use super::{API_VERSION, ENTRY_TYPE, Granularity, VARIANT_SCHEMA};
use crate::granularity::{Role, granularity_table};

/// `environment` of `beaconInfoResults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Production with real data.
    Prod,
    /// Stable service, synthetic data.
    Test,
    /// Development.
    Dev,
    /// Staging.
    Staging,
}

/// Who this beacon is: what every response's `meta` and the info endpoint say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BeaconIdentity {
    /// `beaconId`, a reversed domain (`org.example.oncofed.beacon`).
    pub beacon_id: String,
    /// Human-readable name.
    pub name: String,
    /// Organisation id and name (`BeaconOrganization`).
    pub organization_id: String,
    /// Organisation name.
    pub organization_name: String,
    /// Deployment environment.
    pub environment: Environment,
    /// Implementation version (this crate's).
    pub version: String,
    /// Base URL of the Beacon API (`https://hub.example.org/api/beacon`).
    pub root_url: String,
}

/// `receivedRequestSummary` (`sections/beaconReceivedRequestSummary.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedRequestSummary {
    /// The client's API version.
    pub api_version: String,
    /// The schemas the client asked for.
    pub requested_schemas: Vec<SchemaPerEntity>,
    /// Echoed pagination.
    pub pagination: Pagination,
    /// The granularity the client asked for (boolean when it did not say).
    pub requested_granularity: Granularity,
    /// The request parameters as received, as `{"g_variant": {...}}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_parameters: Option<Value>,
    /// Filter ids as received.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// `includeResultsetResponses` as received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_resultset_responses: Option<String>,
    /// `testMode` as received.
    pub test_mode: bool,
}

impl ReceivedRequestSummary {
    /// The summary of a parsed request.
    pub fn of(request: &RequestBody) -> Self {
        let q = &request.query;
        Self {
            api_version: request.api_version().to_owned(),
            requested_schemas: request.meta.requested_schemas.clone(),
            pagination: q.pagination,
            requested_granularity: q.requested_granularity.unwrap_or(Granularity::Boolean),
            request_parameters: serde_json::to_value(&q.request_parameters)
                .ok()
                .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
                .map(|v| json!({ super::request::PARAMETER_GROUP: v })),
            filters: q.filters.iter().map(|f| f.id.clone()).collect(),
            include_resultset_responses: q.include_resultset_responses.clone(),
            test_mode: q.test_mode,
        }
    }

    /// The summary when the request could not be read at all (for errors).
    pub fn unreadable() -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            requested_schemas: Vec::new(),
            pagination: Pagination::default(),
            requested_granularity: Granularity::Boolean,
            request_parameters: None,
            filters: Vec::new(),
            include_resultset_responses: None,
            test_mode: false,
        }
    }
}

/// `meta` of query and error responses (`sections/beaconResponseMeta.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseMeta {
    /// `beaconId`.
    pub beacon_id: String,
    /// `apiVersion` of this beacon.
    pub api_version: String,
    /// The granularity actually returned (may be below the requested one).
    pub returned_granularity: Granularity,
    /// What was asked.
    pub received_request_summary: ReceivedRequestSummary,
    /// Schemas of the returned entries.
    pub returned_schemas: Vec<SchemaPerEntity>,
    /// Echo of `testMode`.
    pub test_mode: bool,
}

fn variant_schema() -> Vec<SchemaPerEntity> {
    vec![SchemaPerEntity {
        entity_type: Some(ENTRY_TYPE.to_owned()),
        schema: Some(VARIANT_SCHEMA.to_owned()),
    }]
}

impl ResponseMeta {
    /// The meta of an answer to `summary` at `returned` granularity.
    pub fn new(
        id: &BeaconIdentity,
        summary: ReceivedRequestSummary,
        returned: Granularity,
    ) -> Self {
        Self {
            beacon_id: id.beacon_id.clone(),
            api_version: API_VERSION.to_owned(),
            returned_granularity: returned,
            test_mode: summary.test_mode,
            received_request_summary: summary,
            returned_schemas: variant_schema(),
        }
    }
}

/// `meta` of informational responses (`sections/beaconInformationalResponseMeta.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InformationalMeta {
    /// `beaconId`.
    pub beacon_id: String,
    /// `apiVersion`.
    pub api_version: String,
    /// Schemas the response follows.
    pub returned_schemas: Vec<SchemaPerEntity>,
}

impl InformationalMeta {
    fn new(id: &BeaconIdentity) -> Self {
        Self {
            beacon_id: id.beacon_id.clone(),
            api_version: API_VERSION.to_owned(),
            returned_schemas: variant_schema(),
        }
    }
}

/// `responseSummary` of boolean and count responses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Whether a (released) match exists.
    pub exists: bool,
    /// The released count (count granularity only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_total_results: Option<u64>,
}

/// `beaconBooleanResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BooleanResponse {
    /// Response meta with `returnedGranularity: boolean`.
    pub meta: ResponseMeta,
    /// `{ exists }`.
    pub response_summary: Summary,
    /// Disclosure notes (what was suppressed and why), outside the spec's fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
}

impl BooleanResponse {
    /// A boolean answer to `summary`.
    pub fn new(
        id: &BeaconIdentity,
        summary: ReceivedRequestSummary,
        exists: bool,
        info: Option<Value>,
    ) -> Self {
        Self {
            meta: ResponseMeta::new(id, summary, Granularity::Boolean),
            response_summary: Summary {
                exists,
                num_total_results: None,
            },
            info,
        }
    }
}

/// `beaconCountResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountResponse {
    /// Response meta with `returnedGranularity: count`.
    pub meta: ResponseMeta,
    /// `{ exists, numTotalResults }`.
    pub response_summary: Summary,
    /// Disclosure notes (noise, rounding, suppression threshold).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<Value>,
}

impl CountResponse {
    /// A count answer; `exists` is `count > 0` so the two never disagree.
    pub fn new(
        id: &BeaconIdentity,
        summary: ReceivedRequestSummary,
        count: u64,
        info: Option<Value>,
    ) -> Self {
        Self {
            meta: ResponseMeta::new(id, summary, Granularity::Count),
            response_summary: Summary {
                exists: count > 0,
                num_total_results: Some(count),
            },
            info,
        }
    }
}

/// `BeaconError`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeaconError {
    /// HTTP-like status (400 bad request, 401, 403, 429 too many requests).
    pub error_code: u16,
    /// What went wrong and how to fix it (never internal detail).
    pub error_message: String,
}

/// `beaconErrorResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorResponse {
    /// Response meta (granularity boolean: nothing was returned).
    pub meta: ResponseMeta,
    /// The error.
    pub error: BeaconError,
}

impl ErrorResponse {
    /// An error answer to `summary` (use [`ReceivedRequestSummary::unreadable`]
    /// when the request could not be parsed).
    pub fn new(
        id: &BeaconIdentity,
        summary: ReceivedRequestSummary,
        code: u16,
        message: impl Into<String>,
    ) -> Self {
        Self {
            meta: ResponseMeta::new(id, summary, Granularity::Boolean),
            error: BeaconError {
                error_code: code,
                error_message: message.into(),
            },
        }
    }
}

/// `beaconInfoResponse` (the `/` and `/info` endpoints).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InfoResponse {
    /// Informational meta.
    pub meta: InformationalMeta,
    /// `beaconInfoResults`.
    pub response: Value,
}

impl InfoResponse {
    /// The info document of `id`.
    pub fn new(id: &BeaconIdentity, description: &str) -> Self {
        Self {
            meta: InformationalMeta::new(id),
            response: json!({
                "id": id.beacon_id,
                "name": id.name,
                "apiVersion": API_VERSION,
                "environment": id.environment,
                "organization": { "id": id.organization_id, "name": id.organization_name },
                "description": description,
                "version": id.version,
            }),
        }
    }
}

fn entry_type_definition() -> Value {
    json!({
        "id": ENTRY_TYPE,
        "name": "Genomic Variants",
        "description": "Germline and somatic small variants of consented patients, answered in aggregate only.",
        "partOfSpecification": format!("Beacon {API_VERSION}"),
        "defaultSchema": {
            "id": VARIANT_SCHEMA,
            "name": "Default schema for a genomic variation",
            "referenceToSchemaDefinition": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/v2.1.1/models/json/beacon-v2-default-model/genomicVariations/defaultSchema.json",
            "schemaVersion": API_VERSION,
        },
        "ontologyTermForThisType": { "id": "ENSGLOSSARY:0000092", "label": "Variant" },
        "nonFilteredQueriesAllowed": false,
        "oncofedGranularity": granularity_table(),
    })
}

/// `beaconConfigurationResponse`: security levels and granularity per entry
/// type (the OncoFed table of [`crate::granularity`] under `oncofedGranularity`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigurationResponse {
    /// Informational meta.
    pub meta: InformationalMeta,
    /// `beaconConfigurationSchema`.
    pub response: Value,
}

impl ConfigurationResponse {
    /// The configuration of `id`; `roles` are the roles this deployment admits.
    pub fn new(id: &BeaconIdentity, roles: &[Role]) -> Self {
        let status = match id.environment {
            Environment::Prod => "PROD",
            Environment::Test | Environment::Staging => "TEST",
            Environment::Dev => "DEV",
        };
        let levels: Vec<&str> = roles.iter().map(|r| r.beacon_security_level()).collect();
        Self {
            meta: InformationalMeta::new(id),
            response: json!({
                "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/v2.1.1/framework/json/configuration/beaconConfigurationSchema.json",
                "maturityAttributes": { "productionStatus": status },
                "securityAttributes": { "defaultGranularity": "boolean", "securityLevels": levels },
                "entryTypes": { ENTRY_TYPE: entry_type_definition() },
            }),
        }
    }
}

/// `beaconMapResponse`: the endpoints of the entry type.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapResponse {
    /// Informational meta.
    pub meta: InformationalMeta,
    /// `beaconMapSchema`.
    pub response: Value,
}

impl MapResponse {
    /// The map of `id` (endpoints under its `root_url`).
    pub fn new(id: &BeaconIdentity) -> Self {
        let root = id.root_url.trim_end_matches('/');
        Self {
            meta: InformationalMeta::new(id),
            response: json!({
                "$schema": "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/v2.1.1/framework/json/configuration/beaconMapSchema.json",
                "endpointSets": {
                    ENTRY_TYPE: {
                        "entryType": ENTRY_TYPE,
                        "rootUrl": format!("{root}/g_variants"),
                    }
                }
            }),
        }
    }
}

/// `beaconEntryTypesResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryTypesResponse {
    /// Informational meta.
    pub meta: InformationalMeta,
    /// `entryTypesSchema`.
    pub response: Value,
}

impl EntryTypesResponse {
    /// The entry types of `id` (only `genomicVariant`).
    pub fn new(id: &BeaconIdentity) -> Self {
        Self {
            meta: InformationalMeta::new(id),
            response: json!({ "entryTypes": { ENTRY_TYPE: entry_type_definition() } }),
        }
    }
}

/// One filtering term offered (`FilteringTerm` of `beaconFilteringTermsResults`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FilteringTerm {
    /// `ontology term`, `alphanumeric` or `custom`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Term id (CURIE).
    pub id: String,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Entry types the term applies to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// `beaconFilteringTermsResponse`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FilteringTermsResponse {
    /// Informational meta.
    pub meta: InformationalMeta,
    /// `beaconFilteringTermsResults`.
    pub response: Value,
}

impl FilteringTermsResponse {
    /// The filtering terms and the ontologies (`resources`: id, name, url) they come from.
    pub fn new(
        id: &BeaconIdentity,
        terms: &[FilteringTerm],
        resources: &[(&str, &str, &str)],
    ) -> Self {
        let resources: Vec<Value> = resources
            .iter()
            .map(|(rid, name, url)| json!({ "id": rid, "name": name, "url": url }))
            .collect();
        Self {
            meta: InformationalMeta::new(id),
            response: json!({ "filteringTerms": terms, "resources": resources }),
        }
    }
}
