//! The Beacon v2.1.1 wire model for what OncoFed serves: `g_variants` queries
//! (request body and GET parameters), the validated [`VariantQuery`], and the
//! responses (boolean, count, error, info, configuration, map, entry types,
//! filtering terms).
//!
//! The JSON schemas these types follow are vendored in `crates/beacon/schemas/`
//! (ga4gh-beacon/beacon-v2, tag v2.1.1, commit 47af89c8, Apache-2.0);
//! `tests/schemas.rs` validates every response builder's output against them
//! with Python `jsonschema` (Draft 2020-12).
use serde::{Deserialize, Serialize};

pub mod reference;
pub mod request;
pub mod response;
pub mod variant;

pub use request::{
    Coordinates, Filter, Pagination, RequestBody, RequestError, RequestMeta, RequestQuery,
    SchemaPerEntity, VariantParameters,
};
pub use response::{
    BeaconIdentity, BooleanResponse, ConfigurationResponse, CountResponse, EntryTypesResponse,
    Environment, ErrorResponse, FilteringTerm, FilteringTermsResponse, InfoResponse, MapResponse,
    ReceivedRequestSummary, ResponseMeta,
};
pub use variant::{Assembly, Bases, Chromosome, Locus, QueryError, VariantQuery, VariantType};

/// The Beacon API version OncoFed implements and returns in `apiVersion`.
pub const API_VERSION: &str = "v2.1.1";

/// The entry type OncoFed serves (`genomicVariant`, endpoint `g_variants`).
pub const ENTRY_TYPE: &str = "genomicVariant";

/// The default schema of that entry type in the v2.1.1 default model.
pub const VARIANT_SCHEMA: &str = "ga4gh-beacon-variant-v2.1.1";

/// Beacon `Granularity` (`beaconCommonComponents.json#/$defs/Granularity`):
/// how detailed an answer is. Ordered: boolean < count < record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// `exists: true/false` only.
    Boolean,
    /// `exists` and `numTotalResults`.
    Count,
    /// Individual records (never served by OncoFed, see [`crate::granularity`]).
    Record,
}

impl Granularity {
    /// Parses `boolean`, `count`, `record` (the schema's enum, exact case).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "boolean" => Some(Self::Boolean),
            "count" => Some(Self::Count),
            "record" => Some(Self::Record),
            _ => None,
        }
    }

    /// The schema's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Count => "count",
            Self::Record => "record",
        }
    }
}
