//! The demo's contribution ledger (R19, issue 17 item 4): what each site
//! contributed to the results the demo released, as the hub recorded them at
//! release (coarsened under disclosure control), read as the auditor.

use oncofed_testkit::LocalFederation;
use serde::Serialize;

/// One site's line of the demo's ledger.
#[derive(Debug, Serialize)]
pub struct SiteLine {
    /// The site.
    pub site: String,
    /// Released results it contributed to.
    pub results: u64,
    /// Of those, feasibility answers, analysis runs, trainings.
    pub feasibility: u64,
    /// Analysis runs.
    pub analyses: u64,
    /// Trainings.
    pub trainings: u64,
    /// Sum of its coarsened persons figures (feasibility answers).
    pub persons: u64,
    /// Results where its persons were suppressed (too few to show).
    pub persons_suppressed: u64,
    /// Results where its persons are only in a securely aggregated total.
    pub persons_not_split: u64,
    /// Sum of its coarsened rows (training cells).
    pub rows: u64,
}

/// The ledger as the demo shows it: one line per site, summed over projects
/// and months, and the rule the figures were coarsened with.
#[derive(Debug, Serialize)]
pub struct DemoLedger {
    /// How the figures were coarsened.
    pub disclosure: String,
    /// Per site.
    pub sites: Vec<SiteLine>,
    /// Ledger entries (site × released result).
    pub entries: usize,
}

/// Reads the ledger of every site as the auditor (`GET /v1/ledger`).
pub async fn run(fed: &LocalFederation) -> anyhow::Result<DemoLedger> {
    let ledger = fed.auditor().contribution_ledger(None).await?;
    let mut sites: std::collections::BTreeMap<String, SiteLine> = Default::default();
    for s in ledger["summary"].as_array().into_iter().flatten() {
        let site = s["site"].as_str().unwrap_or_default().to_owned();
        let n = |k: &str| s[k].as_u64().unwrap_or(0);
        let line = sites.entry(site.clone()).or_insert_with(|| SiteLine {
            site,
            results: 0,
            feasibility: 0,
            analyses: 0,
            trainings: 0,
            persons: 0,
            persons_suppressed: 0,
            persons_not_split: 0,
            rows: 0,
        });
        line.results += n("results");
        line.feasibility += n("feasibility");
        line.analyses += n("analyses");
        line.trainings += n("trainings");
        line.persons += n("persons");
        line.persons_suppressed += n("persons_suppressed");
        line.persons_not_split += n("persons_not_split");
        line.rows += n("rows");
    }
    Ok(DemoLedger {
        disclosure: ledger["disclosure"].as_str().unwrap_or_default().to_owned(),
        entries: ledger["entries"].as_array().map_or(0, Vec::len),
        sites: sites.into_values().collect(),
    })
}

/// The ledger in words, one line per site.
pub fn print(ledger: &DemoLedger) {
    println!(
        "\ncontribution ledger ({} entries; {}):",
        ledger.entries, ledger.disclosure
    );
    for s in &ledger.sites {
        println!(
            "  {}: {} released results ({} feasibility, {} analyses, {} trainings); {} persons in feasibility answers ({} suppressed), in {} securely aggregated totals; {} training cells",
            s.site,
            s.results,
            s.feasibility,
            s.analyses,
            s.trainings,
            s.persons,
            s.persons_suppressed,
            s.persons_not_split,
            s.rows
        );
    }
}
