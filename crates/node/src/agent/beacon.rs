//! Answering a Beacon v2 task at a site (issue 16): variant calls → filters →
//! consent → per-researcher risk budgets (`oncofed_beacon::site_count`) → one
//! count for the hub.
//!
//! **What a Beacon answer covers.** Both origins: somatic tumour calls
//! (category `genetic`) and germline calls (category `germline`), because a
//! researcher asking "is EGFR L858R seen?" or "is BRCA1 c.68_69del seen?"
//! should not need to know how the site sequenced it. A carrier is a person
//! with at least one call matching the query whose caller filters passed
//! (`FILTER=PASS`) and whose consent permits feasibility use of the call's
//! category for the sample's date (`ConsentGate::permitted_facts`, purpose
//! feasibility; both categories need the GDNG genetic opt-in, which the consent
//! engine decides). The data set holds germline data, so its level is
//! [`SecurityLevel::Genetic`] (3); the beacon joins no clinical data, so it is
//! not the linked level 4.
//!
//! **Individuals.** The budget ledger (`beacon_budget` in the research store)
//! is keyed by HMAC-SHA256(site secret, domain ‖ site pseudonym), not by the
//! pseudonym: the table names nobody, and after a withdrawal erased the person
//! its rows point at no one. The same person at two sites has two keys (two
//! budgets), as they have two answers: each site bounds what its own answers
//! disclose.
//!
//! **Defences.** The hub ships its `DefenceConfig`. The site holds its own
//! floor ([`BeaconSite::floor`]): it refuses a task whose rare-allele rule or
//! count disclosure (applied by the hub) is weaker than the floor, and applies
//! the stricter of the two budgets itself. Answers are priced under the hub's
//! rare-allele rule, which the hub applies.
//!
//! **Allele frequency for pricing** (`BudgetPolicy::answer_cost`): for an
//! exact-allele query, the site's population table ([`AlleleFrequencies`],
//! loaded at agent start, e.g. gnomAD or a reference panel); otherwise (an
//! allele not in the table, somatic hotspots, range and gene queries) the
//! site's own observed frequency: the share `q` of its sequenced persons among
//! the *consented* carriers, as an allele frequency `1 − √(1 − q)`
//! (Hardy–Weinberg). Privacy reasoning: a population table is independent of
//! who is in the beacon, so it prices exactly what the attacker's reference
//! tells them; the observed frequency depends on the members, but only on those
//! who consented to being counted (never on persons outside the consent), it
//! is never sent anywhere, and for a rare allele it is at least 1/(2n), which
//! prices a singleton at the plain beacon's ≈ 0.46 nats (so at most one answer
//! within ln 2) and the hub's k-suppression hides it anyway. With neither
//! (nothing sequenced), the frequency is unknown and the answer is priced at
//! `min_frequency`: under the defaults such alleles are never counted.

mod frequencies;

pub use frequencies::{AlleleFrequencies, FrequencyError, MAX_FREQUENCY_LINES, normalise_chrom};

use super::SiteSecret;
use crate::{ConsentGate, GateError, SharedStore, with_store};
use hmac::{Hmac, Mac};
use oncofed_model::variant::normalise_hgvs_p;
use oncofed_model::{DataCategory, GenomeBuild, Purpose, SecurityLevel};
use oncofed_privacy::SiteDisclosure;
use oncofed_protocol::beacon::defence::{
    BudgetLedger, BudgetPolicy, DefenceConfig, IndividualKey, RareMode, ResearcherId, SiteQuery,
    site_count,
};
use oncofed_protocol::beacon::model::{Assembly, VariantQuery};
use oncofed_protocol::{BeaconAnswer, BeaconTask};
use oncofed_store::{VariantLookup, VariantRow};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// The security level of the Beacon data set: somatic and germline calls,
/// not linked to clinical data.
pub fn beacon_level() -> SecurityLevel {
    SecurityLevel::of_dataset([DataCategory::Genetic, DataCategory::Germline])
}

/// A site's Beacon settings: its defence floor and population frequencies.
#[derive(Debug, Clone)]
pub struct BeaconSite {
    /// The weakest defences the site answers under (default: the defaults of
    /// level 3, `DefenceConfig::default()`).
    pub floor: DefenceConfig,
    /// Population allele frequencies for pricing (none: observed frequencies).
    pub frequencies: Option<Arc<AlleleFrequencies>>,
}

impl Default for BeaconSite {
    fn default() -> Self {
        Self {
            floor: DefenceConfig::for_level(beacon_level()),
            frequencies: None,
        }
    }
}

/// Why a Beacon task was not answered.
#[derive(Debug, thiserror::Error)]
pub enum BeaconError {
    /// The hub's defences are weaker than the site's floor.
    #[error("defences weaker than this site allows: {0}")]
    Weaker(&'static str),
    /// Consent could not be checked (fail closed).
    #[error(transparent)]
    Consent(#[from] GateError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] oncofed_store::StoreError),
}

impl BeaconError {
    /// What the hub is told.
    pub fn public_reason(&self) -> String {
        match self {
            Self::Weaker(what) => format!("beacon defences weaker than this site allows: {what}"),
            Self::Consent(_) => "consent service unavailable at the site".into(),
            Self::Store(_) => "site store error".into(),
        }
    }
}

/// `a ≥ b`, false when either is NaN (a NaN parameter is never strong enough).
fn at_least(a: f64, b: f64) -> bool {
    matches!(
        a.partial_cmp(&b),
        Some(std::cmp::Ordering::Greater | std::cmp::Ordering::Equal)
    )
}

/// The defences the site answers under: the hub's, with the stricter budget
/// of the two; an error when a hub-applied defence is weaker than the floor.
pub fn effective_defences(
    hub: &DefenceConfig,
    floor: &DefenceConfig,
) -> Result<DefenceConfig, BeaconError> {
    if let Some(f) = floor.rare {
        let Some(h) = hub.rare else {
            return Err(BeaconError::Weaker("no rare-allele rule"));
        };
        if h.k < f.k {
            return Err(BeaconError::Weaker("rare-allele k below the site's"));
        }
        match (f.mode, h.mode) {
            (RareMode::Suppress, RareMode::Randomise { .. }) => {
                return Err(BeaconError::Weaker(
                    "rare alleles randomised where the site suppresses",
                ));
            }
            (RareMode::Randomise { flip: ff }, RareMode::Randomise { flip: hf })
                if !at_least(hf, ff) =>
            {
                return Err(BeaconError::Weaker("rare-allele flip below the site's"));
            }
            _ => {}
        }
    }
    let level = beacon_level();
    let disclosure =
        |c: &DefenceConfig| c.counts.unwrap_or_else(|| SiteDisclosure::for_level(level));
    let (h, f) = (disclosure(hub), disclosure(floor));
    if h.threshold < f.threshold
        || h.rounding < f.rounding
        || !at_least(h.laplace_scale, f.laplace_scale)
    {
        return Err(BeaconError::Weaker("count disclosure below the site's"));
    }
    let budget = match (hub.budget, floor.budget) {
        (None, b) | (b, None) => b,
        (Some(h), Some(f)) => Some(BudgetPolicy {
            budget: h.budget.min(f.budget),
            error_rate: f.error_rate,
            min_frequency: h.min_frequency.min(f.min_frequency),
        }),
    };
    Ok(DefenceConfig {
        budget,
        ..hub.clone()
    })
}

/// The store lookup for a query, and the filter no SQL expresses (amino-acid
/// change, variant type, a gene query's assembly).
fn lookup(query: &VariantQuery) -> VariantLookup {
    let build = |a: Assembly| match a {
        Assembly::Grch37 => GenomeBuild::Grch37,
        Assembly::Grch38 => GenomeBuild::Grch38,
    };
    match query {
        VariantQuery::Sequence {
            locus,
            reference,
            alternate,
            ..
        } => VariantLookup::Allele {
            build: build(locus.assembly),
            chrom: locus.chromosome.to_string(),
            pos: query.vcf_position().unwrap_or(0),
            reference: reference.as_str().to_owned(),
            alternate: alternate.as_str().to_owned(),
        },
        VariantQuery::Range { locus, .. } => {
            let (start, end) = query.vcf_range().unwrap_or((1, 0));
            VariantLookup::Range {
                build: build(locus.assembly),
                chrom: locus.chromosome.to_string(),
                start,
                end,
            }
        }
        VariantQuery::Gene { gene, .. } => VariantLookup::Gene {
            symbol: gene.clone(),
        },
    }
}

/// The variant type of a call (`SNP`, `MNP`, `INS`, `DEL`, `INDEL`), as Beacon names them.
fn variant_type(reference: &str, alternate: &str) -> &'static str {
    match (reference.len(), alternate.len()) {
        (1, 1) => "SNP",
        (r, a) if r == a => "MNP",
        (r, a) if r < a && alternate.starts_with(reference) => "INS",
        (r, a) if r > a && reference.starts_with(alternate) => "DEL",
        _ => "INDEL",
    }
}

/// Whether a call passes the parts of the query SQL did not check.
fn matches(query: &VariantQuery, row: &VariantRow) -> bool {
    let locus = row.variant.locus.as_ref();
    let kind_ok = |t: &Option<oncofed_protocol::beacon::model::VariantType>| {
        t.as_ref().is_none_or(|t| {
            locus.is_some_and(|l| {
                let k = variant_type(&l.reference, &l.alternate);
                t.as_str() == k || (t.as_str() == "INDEL" && matches!(k, "INS" | "DEL"))
            })
        })
    };
    match query {
        VariantQuery::Sequence { .. } => true,
        VariantQuery::Range { variant_type, .. } => kind_ok(variant_type),
        VariantQuery::Gene {
            amino_acid_change,
            variant_type,
            assembly,
            ..
        } => {
            let aa_ok = amino_acid_change.as_ref().is_none_or(|aa| {
                let want = normalise_hgvs_p(&format!("p.{aa}"));
                let have = row.variant.hgvs_p.as_deref().and_then(normalise_hgvs_p);
                want.is_some() && want == have
            });
            let build_ok = assembly.is_none_or(|a| {
                locus.is_some_and(|l| {
                    l.build
                        == match a {
                            Assembly::Grch37 => GenomeBuild::Grch37,
                            Assembly::Grch38 => GenomeBuild::Grch38,
                        }
                })
            });
            aa_ok && build_ok && kind_ok(variant_type)
        }
    }
}

/// HMAC-SHA256(site secret, domain ‖ site pseudonym): the ledger's key of a person.
pub fn individual_key(secret: &SiteSecret, psn: &str) -> IndividualKey {
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(&secret.0).expect("HMAC takes a key of any length");
    mac.update(b"oncofed-beacon-individual\0");
    mac.update(psn.as_bytes());
    IndividualKey::new(hex::encode(&mac.finalize().into_bytes()[..16]))
}

/// [`BudgetLedger`] over the research store's `beacon_budget`: the accounts
/// of the carriers are read before counting and the charges written back in
/// one transaction, inside one exclusive use of the store.
struct StoreLedger {
    spent: HashMap<IndividualKey, f64>,
    charges: Vec<(String, f64)>,
}

impl BudgetLedger for StoreLedger {
    fn spent(&self, _: &ResearcherId, individual: &IndividualKey) -> f64 {
        self.spent.get(individual).copied().unwrap_or(0.0)
    }

    fn charge(&mut self, _: &ResearcherId, individual: &IndividualKey, cost: f64) {
        if cost.is_finite() && cost > 0.0 {
            *self.spent.entry(individual.clone()).or_insert(0.0) += cost;
            self.charges.push((individual.as_str().to_owned(), cost));
        }
    }
}

/// Answers one Beacon task (see the module docs).
pub async fn answer_beacon(
    store: &SharedStore,
    gate: &ConsentGate,
    secret: &SiteSecret,
    site: &BeaconSite,
    task: &BeaconTask,
) -> Result<BeaconAnswer, BeaconError> {
    let defences = effective_defences(&task.defences, &site.floor)?;
    let query = task.query.clone();
    let look = lookup(&query);
    let (rows, sequenced) = with_store(store, move |s| {
        Ok((s.variant_lookup(&look)?, s.genomics_stats()?.persons))
    })
    .await?;
    let rows: Vec<VariantRow> = rows
        .into_iter()
        .filter(|r| r.filter_pass && matches(&query, r))
        .collect();
    let today = chrono::Utc::now().date_naive();
    let asked: BTreeSet<_> = rows
        .iter()
        .map(|r| {
            (
                r.pseudonym.clone(),
                r.variant.origin.category(),
                r.collected,
            )
        })
        .collect();
    let permitted = if asked.is_empty() {
        Default::default()
    } else {
        gate.permitted_facts(Purpose::Feasibility, today, asked)
            .await?
    };
    let carriers: BTreeSet<&str> = rows
        .iter()
        .filter(|r| {
            permitted.contains(&(
                r.pseudonym.clone(),
                r.variant.origin.category(),
                r.collected,
            ))
        })
        .map(|r| r.pseudonym.as_str())
        .collect();
    let keys: Vec<IndividualKey> = carriers
        .iter()
        .map(|psn| individual_key(secret, psn))
        .collect();
    let table = match &task.query {
        VariantQuery::Sequence {
            locus,
            reference,
            alternate,
            ..
        } => site.frequencies.as_ref().and_then(|t| {
            t.get(
                match locus.assembly {
                    Assembly::Grch37 => GenomeBuild::Grch37,
                    Assembly::Grch38 => GenomeBuild::Grch38,
                },
                &locus.chromosome.to_string(),
                task.query.vcf_position().unwrap_or(0),
                reference.as_str(),
                alternate.as_str(),
            )
        }),
        _ => None,
    };
    let observed = (sequenced > 0).then(|| {
        let q = (keys.len() as f64 / sequenced as f64).clamp(0.0, 1.0);
        1.0 - (1.0 - q).sqrt()
    });
    let site_query = SiteQuery {
        researcher: ResearcherId::new(task.researcher.clone()),
        beacon_size: task.beacon_size.unwrap_or(0).max(sequenced),
        allele_frequency: table.or(observed).filter(|f| *f > 0.0),
    };
    let researcher = task.researcher.clone();
    let outcome = with_store(store, move |s| {
        let ids: Vec<String> = keys.iter().map(|k| k.as_str().to_owned()).collect();
        let spent = s.beacon_spent(&researcher, &ids)?;
        let mut ledger = StoreLedger {
            spent: keys.iter().cloned().zip(spent).collect(),
            charges: Vec::new(),
        };
        let outcome = site_count(&keys, &site_query, &defences, &mut ledger);
        s.beacon_charge(&researcher, &ledger.charges)?;
        Ok(outcome)
    })
    .await?;
    tracing::debug!(
        calls = rows.len(),
        counted = outcome.count,
        withheld = outcome.withheld,
        "beacon answered"
    );
    Ok(BeaconAnswer {
        count: outcome.count,
        sequenced: sequenced / 10 * 10,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncofed_protocol::beacon::defence::RareAllelePolicy;

    #[test]
    fn the_site_refuses_weaker_hub_defences_and_keeps_the_stricter_budget() {
        let floor = DefenceConfig::for_level(beacon_level());
        assert!(effective_defences(&floor, &floor).is_ok());
        assert!(matches!(
            effective_defences(&DefenceConfig::none(), &floor),
            Err(BeaconError::Weaker(_))
        ));
        let mut small_k = floor.clone();
        small_k.rare = Some(RareAllelePolicy {
            k: 2,
            mode: RareMode::Suppress,
        });
        assert!(effective_defences(&small_k, &floor).is_err());
        let mut randomised = floor.clone();
        randomised.rare = Some(RareAllelePolicy {
            k: 5,
            mode: RareMode::Randomise { flip: 0.5 },
        });
        assert!(effective_defences(&randomised, &floor).is_err());
        // A hub without a budget: the site applies its own.
        let mut no_budget = floor.clone();
        no_budget.budget = None;
        let eff = effective_defences(&no_budget, &floor).unwrap();
        assert_eq!(eff.budget, floor.budget);
        // A larger hub budget: the site's smaller one wins.
        let mut generous = floor.clone();
        generous.budget = Some(BudgetPolicy {
            budget: 10.0,
            ..BudgetPolicy::default()
        });
        let eff = effective_defences(&generous, &floor).unwrap();
        assert_eq!(eff.budget.map(|b| b.budget), Some(std::f64::consts::LN_2));
        // A site without a floor answers whatever the hub ships.
        assert_eq!(
            effective_defences(&DefenceConfig::none(), &DefenceConfig::none()).unwrap(),
            DefenceConfig::none()
        );
    }

    #[test]
    fn variant_types_follow_ref_and_alt() {
        assert_eq!(variant_type("T", "G"), "SNP");
        assert_eq!(variant_type("AG", "CT"), "MNP");
        assert_eq!(variant_type("A", "ATTT"), "INS");
        assert_eq!(variant_type("AGGAATT", "A"), "DEL");
        assert_eq!(variant_type("AG", "T"), "INDEL");
    }
}
