//! The Beacon request: POST body (`requests/beaconRequestBody.json`) and the
//! same content as GET query parameters.
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::variant::{QueryError, VariantQuery};
use super::{API_VERSION, Granularity};

/// One or two coordinates: Beacon v2 sends `start`/`end` as arrays (two values
/// form a bracket query), and many clients send a bare integer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Coordinates {
    /// `"start": 123`.
    One(u64),
    /// `"start": [123]` or `[100, 200]`.
    Many(Vec<u64>),
}

impl Coordinates {
    /// The values as a slice.
    pub fn as_slice(&self) -> &[u64] {
        match self {
            Self::One(v) => std::slice::from_ref(v),
            Self::Many(v) => v,
        }
    }
}

/// `query.requestParameters` for `g_variants`
/// (`genomicVariations/requestParameters.json`, v2.1.1). Parameters of the
/// schema that OncoFed does not serve land in `unsupported` and make
/// [`VariantQuery::from_parameters`] refuse the request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantParameters {
    /// `assemblyId`: GRCh37, GRCh38, hg19, hg38.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assembly_id: Option<String>,
    /// `referenceName`: `7`, `chr7`, `NC_000007.14`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_name: Option<String>,
    /// `start`, 0-based inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Coordinates>,
    /// `end`, 0-based exclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<Coordinates>,
    /// `referenceBases`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_bases: Option<String>,
    /// `alternateBases`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alternate_bases: Option<String>,
    /// `variantType`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant_type: Option<String>,
    /// `geneId` (HGNC symbol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gene_id: Option<String>,
    /// `aminoacidChange` (`V600E`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aminoacid_change: Option<String>,
    /// Everything else the client sent (refused, never ignored).
    #[serde(flatten, skip_serializing_if = "BTreeMap::is_empty")]
    pub unsupported: BTreeMap<String, Value>,
}

/// `meta.requestedSchemas` entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaPerEntity {
    /// e.g. `genomicVariant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_type: Option<String>,
    /// e.g. `ga4gh-beacon-variant-v2.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
}

/// `meta` of a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestMeta {
    /// `apiVersion` the client speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// `requestedSchemas`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requested_schemas: Vec<SchemaPerEntity>,
}

/// `query.pagination` (only meaningful for record granularity, which OncoFed
/// never returns; echoed in the response summary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    /// Pages to skip.
    #[serde(default)]
    pub skip: u64,
    /// Page size (Beacon default 10).
    #[serde(default = "default_limit")]
    pub limit: u64,
}

fn default_limit() -> u64 {
    10
}

impl Default for Pagination {
    fn default() -> Self {
        Self { skip: 0, limit: 10 }
    }
}

/// One entry of `query.filters`: any of the schema's ontology, alphanumeric or
/// custom filters, kept as sent (`id` is required by all three).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    /// Term id (CURIE) or field id.
    pub id: String,
    /// The rest of the filter (`operator`, `value`, `scope`, ...).
    #[serde(flatten)]
    pub rest: BTreeMap<String, Value>,
}

/// `query` of a request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestQuery {
    /// `requestParameters` for `g_variants`: read flat (`{"referenceName": ...}`,
    /// as the Beacon FAQ and most clients send it) or wrapped
    /// (`{"g_variant": {...}}`, as `docs/variant-queries.md` and the framework
    /// schema's "dictionary of objects" have it); written wrapped, which is the
    /// form the v2.1.1 schema validates.
    #[serde(
        default,
        deserialize_with = "wrapped_or_flat",
        serialize_with = "wrapped"
    )]
    pub request_parameters: VariantParameters,
    /// `filters`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    /// `includeResultsetResponses` (`ALL`, `HIT`, `MISS`, `NONE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_resultset_responses: Option<String>,
    /// `pagination`.
    #[serde(default)]
    pub pagination: Pagination,
    /// `requestedGranularity`; the beacon may return less.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_granularity: Option<Granularity>,
    /// `testMode`.
    #[serde(default)]
    pub test_mode: bool,
}

/// The key under which the schema nests `g_variants` parameters.
pub const PARAMETER_GROUP: &str = "g_variant";

fn wrapped_or_flat<'de, D: serde::Deserializer<'de>>(d: D) -> Result<VariantParameters, D::Error> {
    let mut v = Value::deserialize(d)?;
    if let Some(obj) = v.as_object_mut()
        && obj.get(PARAMETER_GROUP).is_some_and(Value::is_object)
    {
        let inner = obj.remove(PARAMETER_GROUP).unwrap_or(Value::Null);
        if !obj.is_empty() {
            // Other groups next to g_variant (e.g. "datasets"): keep them so
            // the query is refused naming them.
            let mut merged = inner.as_object().cloned().unwrap_or_default();
            merged.extend(std::mem::take(obj));
            return serde_json::from_value(Value::Object(merged)).map_err(serde::de::Error::custom);
        }
        return serde_json::from_value(inner).map_err(serde::de::Error::custom);
    }
    serde_json::from_value(v).map_err(serde::de::Error::custom)
}

fn wrapped<S: serde::Serializer>(p: &VariantParameters, s: S) -> Result<S::Ok, S::Error> {
    let mut m = serde_json::Map::new();
    m.insert(
        PARAMETER_GROUP.to_owned(),
        serde_json::to_value(p).map_err(serde::ser::Error::custom)?,
    );
    m.serialize(s)
}

/// A whole Beacon request (POST body).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestBody {
    /// `meta` (required by the schema; an absent one is treated as empty).
    #[serde(default)]
    pub meta: RequestMeta,
    /// `query`.
    #[serde(default)]
    pub query: RequestQuery,
}

/// A request that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The POST body is not a Beacon request.
    #[error("request body: {0}")]
    Json(String),
    /// A GET parameter is malformed, unknown or repeated.
    #[error("query parameter {name}: {reason}")]
    Parameter {
        /// The parameter name.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// The parameters do not form a served variant query.
    #[error(transparent)]
    Query(#[from] QueryError),
}

/// Largest request body read (a variant query is a few hundred bytes).
pub const MAX_BODY: usize = 64 * 1024;

impl RequestBody {
    /// Parses a POST body (at most [`MAX_BODY`] bytes).
    pub fn from_json(body: &[u8]) -> Result<Self, RequestError> {
        if body.len() > MAX_BODY {
            return Err(RequestError::Json(format!(
                "{} bytes, more than the {MAX_BODY} accepted",
                body.len()
            )));
        }
        serde_json::from_slice(body).map_err(|e| RequestError::Json(e.to_string()))
    }

    /// Builds the request from GET query parameters (already percent-decoded):
    /// the `requestParameters` names plus `requestedGranularity`, `filters`
    /// (comma-separated ids), `skip`, `limit`, `testMode`,
    /// `includeResultsetResponses`, `apiVersion`, `requestedSchema`. `start`
    /// and `end` take one value or two separated by a comma. Unknown and
    /// repeated parameters are refused.
    pub fn from_query_pairs<I, K, V>(pairs: I) -> Result<Self, RequestError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut body = Self::default();
        let mut seen = std::collections::BTreeSet::new();
        for (k, v) in pairs {
            let (name, value) = (k.as_ref(), v.as_ref());
            let err = |reason: &str| RequestError::Parameter {
                name: name.to_owned(),
                reason: reason.to_owned(),
            };
            if !seen.insert(name.to_owned()) {
                return Err(err("given more than once"));
            }
            let p = &mut body.query.request_parameters;
            let text = || Some(value.to_owned());
            match name {
                "assemblyId" => p.assembly_id = text(),
                "referenceName" => p.reference_name = text(),
                "referenceBases" => p.reference_bases = text(),
                "alternateBases" => p.alternate_bases = text(),
                "variantType" => p.variant_type = text(),
                "geneId" => p.gene_id = text(),
                "aminoacidChange" => p.aminoacid_change = text(),
                "start" | "end" => {
                    let values = value
                        .split(',')
                        .map(|s| s.trim().parse::<u64>())
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| {
                            err("expected one or two non-negative integers separated by ','")
                        })?;
                    let c = Some(Coordinates::Many(values));
                    if name == "start" {
                        p.start = c;
                    } else {
                        p.end = c;
                    }
                }
                "requestedGranularity" => {
                    body.query.requested_granularity = Some(
                        Granularity::parse(value)
                            .ok_or_else(|| err("expected boolean, count or record"))?,
                    );
                }
                "filters" => {
                    body.query.filters = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|id| Filter {
                            id: id.to_owned(),
                            rest: BTreeMap::new(),
                        })
                        .collect();
                }
                "skip" | "limit" => {
                    let n: u64 = value
                        .parse()
                        .map_err(|_| err("expected a non-negative integer"))?;
                    if name == "skip" {
                        body.query.pagination.skip = n;
                    } else {
                        body.query.pagination.limit = n;
                    }
                }
                "testMode" => {
                    body.query.test_mode = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(err("expected true or false")),
                    };
                }
                "includeResultsetResponses" => {
                    if !["ALL", "HIT", "MISS", "NONE"].contains(&value) {
                        return Err(err("expected ALL, HIT, MISS or NONE"));
                    }
                    body.query.include_resultset_responses = text();
                }
                "apiVersion" => body.meta.api_version = text(),
                "requestedSchema" => body.meta.requested_schemas.push(SchemaPerEntity {
                    entity_type: Some("genomicVariant".to_owned()),
                    schema: text(),
                }),
                _ => return Err(err("not a Beacon parameter served by this endpoint")),
            }
        }
        Ok(body)
    }

    /// The validated variant query of this request.
    pub fn variant_query(&self) -> Result<VariantQuery, QueryError> {
        VariantQuery::from_parameters(&self.query.request_parameters)
    }

    /// The API version to echo: the client's, or this crate's.
    pub fn api_version(&self) -> &str {
        self.meta.api_version.as_deref().unwrap_or(API_VERSION)
    }
}
