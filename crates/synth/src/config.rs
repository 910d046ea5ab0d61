//! Generator parameters: what to generate, how much of it, and how messy.
//!
//! Every knob that changes the output lives here, so that the manifest can record the
//! full parameter set next to the seed and a run can be reproduced byte for byte.

use crate::SynthError;
use oncofed_model::SiteId;
use serde::{Deserialize, Serialize};

/// How the per-site FHIR output is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// FHIR Bulk Data style: one transaction Bundle per patient per line,
    /// `site-k/bundles-NNNNN.ndjson`, a new file every [`NDJSON_PATIENTS_PER_FILE`] patients.
    #[default]
    Ndjson,
    /// One transaction Bundle per file, `site-k/bundle-NNNNN.json`, each holding up to
    /// [`SynthConfig::bundle_size`] patients (what a FHIR server's transaction endpoint takes).
    Json,
}

/// Patients per NDJSON file before the writer rotates to the next file; keeps files
/// small enough to inspect and to ingest in parallel.
pub const NDJSON_PATIENTS_PER_FILE: u64 = 10_000;

/// How many persons are treated at more than one site (probabilities per person).
///
/// Multi-site persons are what record linkage at the trust centre has to find.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MultiSiteRates {
    /// Share of persons seen at exactly two sites.
    pub two_sites: f64,
    /// Share of persons seen at exactly three sites.
    pub three_sites: f64,
}

impl Default for MultiSiteRates {
    fn default() -> Self {
        Self {
            two_sites: 0.12,
            three_sites: 0.03,
        }
    }
}

/// How often a site's copy of the identifying data deviates from the truth
/// (probabilities per person per site, drawn independently).
///
/// These are the errors that defeat naive exact-match linkage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VariationRates {
    /// A one-character typo in the family name or first given name.
    pub name_typo: f64,
    /// Surname changed by marriage: the site holds the new surname with the old one as
    /// birth name (or, for someone already married, the record from before the marriage).
    pub surname_change: f64,
    /// Day and month of birth swapped (only possible when the day is at most 12).
    pub day_month_swap: f64,
    /// The insurance number (KVNR) is missing at that site.
    pub missing_kvnr: f64,
}

impl Default for VariationRates {
    fn default() -> Self {
        Self {
            name_typo: 0.05,
            surname_change: 0.03,
            day_month_swap: 0.02,
            missing_kvnr: 0.05,
        }
    }
}

/// Consent shares (probabilities per person, drawn independently).
///
/// Downstream consent filtering is tested against these, via the cohort truth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsentRates {
    /// Signed the MII broad consent.
    pub broad_consent: f64,
    /// Objected to research use under the GDNG opt-out (§ 363 SGB V).
    pub gdng_objection: f64,
    /// Opted in to research on genetic data.
    pub genetic_opt_in: f64,
    /// Withdrew all consents.
    pub withdrawal: f64,
}

impl Default for ConsentRates {
    fn default() -> Self {
        Self {
            broad_consent: 0.75,
            gdng_objection: 0.05,
            genetic_opt_in: 0.55,
            withdrawal: 0.01,
        }
    }
}

/// Everything that determines a generated cohort. Same config → same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthConfig {
    /// Master seed; each person's random stream is derived from (seed, person index).
    pub seed: u64,
    /// Number of sites K; sites are named `site-1` … `site-K`.
    pub sites: u32,
    /// Number of persons N (a person treated at two sites is one person, two patients).
    pub persons: u64,
    /// File layout of the FHIR output.
    pub format: OutputFormat,
    /// Patients per Bundle file in [`OutputFormat::Json`] (ignored for NDJSON).
    pub bundle_size: usize,
    /// Shares of persons treated at two or three sites.
    pub multi_site: MultiSiteRates,
    /// Rates of deviations in each site's copy of the identifying data.
    pub variation: VariationRates,
    /// Consent shares.
    pub consent: ConsentRates,
    /// Sequencing output (per-site VCF batches) written beside the FHIR data;
    /// `None` (the default) writes none and leaves the manifest unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub genomics: Option<crate::genomics::GenomicsConfig>,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            sites: 3,
            persons: 1000,
            format: OutputFormat::Ndjson,
            bundle_size: 100,
            multi_site: MultiSiteRates::default(),
            variation: VariationRates::default(),
            consent: ConsentRates::default(),
            genomics: None,
        }
    }
}

/// Largest supported number of sites (site ids stay short and valid).
pub const MAX_SITES: u32 = 999;

impl SynthConfig {
    /// Checks the parameters before anything is written, so a typo in a rate fails
    /// fast with a message instead of producing a silently odd cohort.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |msg: String| Err(SynthError::InvalidConfig(msg));
        if self.sites == 0 || self.sites > MAX_SITES {
            return bad(format!("sites must be 1..={MAX_SITES}, got {}", self.sites));
        }
        if self.bundle_size == 0 {
            return bad("bundle_size must be at least 1".into());
        }
        let rates = [
            ("multi_site.two_sites", self.multi_site.two_sites),
            ("multi_site.three_sites", self.multi_site.three_sites),
            ("variation.name_typo", self.variation.name_typo),
            ("variation.surname_change", self.variation.surname_change),
            ("variation.day_month_swap", self.variation.day_month_swap),
            ("variation.missing_kvnr", self.variation.missing_kvnr),
            ("consent.broad_consent", self.consent.broad_consent),
            ("consent.gdng_objection", self.consent.gdng_objection),
            ("consent.genetic_opt_in", self.consent.genetic_opt_in),
            ("consent.withdrawal", self.consent.withdrawal),
        ];
        for (name, r) in rates {
            if !(0.0..=1.0).contains(&r) {
                return bad(format!("{name} must be a probability in [0, 1], got {r}"));
            }
        }
        if self.multi_site.two_sites + self.multi_site.three_sites > 1.0 {
            return bad("multi_site.two_sites + multi_site.three_sites must not exceed 1".into());
        }
        if let Some(g) = &self.genomics {
            g.validate()?;
        }
        Ok(())
    }

    /// The id of site number `k` (1-based): `site-k`.
    pub fn site_id(k: u32) -> SiteId {
        SiteId::new(format!("site-{k}")).expect("site-<number> is a valid site id")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_rates_fail() {
        assert!(SynthConfig::default().validate().is_ok());
        let mut c = SynthConfig::default();
        c.consent.withdrawal = 1.5;
        assert!(c.validate().is_err());
        let c = SynthConfig {
            sites: 0,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        assert_eq!(SynthConfig::site_id(7).as_str(), "site-7");
    }
}
