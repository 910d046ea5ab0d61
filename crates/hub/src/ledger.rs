//! The contribution ledger (R19, issue 17 item 4): what each site contributed to
//! every result the hub released, recorded at the release points, summed per
//! project and month, exported as CSV and JSON.
//!
//! What the hub can know per site, and so what the ledger holds:
//!
//! - **feasibility**: each site released its own obfuscated count to the hub
//!   (noise, rounding to 10, suppression at the site); the ledger keeps it
//!   coarsened with the hub's per-site rule (`oncofed_privacy::coarsen_contribution`:
//!   suppressed under 20, rounded to 10). Rows: none (a count of persons).
//! - **analysis runs**: securely aggregated, so the hub learns only sums; a
//!   site's persons and rows are in the released total but never split
//!   (`not-split`). The ledger names the site as contributing, with the
//!   released total (coarsened) and the number of sites in it.
//! - **trainings** (cell classifiers): the per-site training cells are released
//!   with the model's evaluation, so the ledger keeps them coarsened as rows;
//!   persons are not split.
//! - **Beacon** answers are not in the ledger: the hub releases them without a
//!   per-site part and neither audits nor logs the sites' counts.
//! - **swarm** runs release nothing at the hub (the model stays with the sites).

use crate::AppState;
use crate::db::contributions::{ContributionRow, Figure, ResultKind};
use crate::db::{QueryRow, TaskRow};
use chrono::{DateTime, Utc};
use oncofed_analysis::AnalysisResult;
use oncofed_privacy::{Released, coarsen_contribution};
use oncofed_protocol::api::{FeasibilityResponse, QueryStatus, TaskState};
use serde::Serialize;
use std::collections::BTreeMap;

fn period(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

/// Records the sites' parts of a feasibility answer the hub released: only a
/// final answer (complete or partial) with figures (not withheld). A failure
/// is logged; it does not hold back the researcher's answer.
pub(crate) fn record_feasibility(
    state: &AppState,
    query: &QueryRow,
    tasks: &[TaskRow],
    response: &FeasibilityResponse,
    now: DateTime<Utc>,
) {
    if response.status == QueryStatus::Running || response.withheld.is_some() {
        return;
    }
    let cfg = &state.inner.config.disclosure;
    let mut answers = Vec::new();
    for task in tasks.iter().filter(|t| t.state == TaskState::Succeeded) {
        let Some(o) = crate::aggregate::outcome(task) else {
            continue;
        };
        let Ok(oncofed_protocol::TaskAnswer::Feasibility(answer)) = o.result else {
            continue;
        };
        answers.push((task.site.clone(), answer.count));
    }
    let sites = answers.len() as u32;
    let rows: Vec<ContributionRow> = answers
        .into_iter()
        .map(|(site, count)| ContributionRow {
            kind: ResultKind::Feasibility,
            result_id: query.query_id.as_str().to_owned(),
            site,
            project: None,
            period: period(now),
            released_at: now,
            persons: Figure::of(coarsen_contribution(count, cfg)),
            rows: Figure::None,
            result_persons: Figure::of(response.total),
            sites_in_result: sites,
        })
        .collect();
    if let Err(e) =
        state
            .inner
            .db
            .record_contributions(ResultKind::Feasibility, query.query_id.as_str(), &rows)
    {
        tracing::warn!(error = %e, "could not record a feasibility release in the contribution ledger");
    }
}

/// Records the sites' parts of a released analysis run or training: `sites`
/// are the sites whose data are in the result.
pub(crate) fn record_analysis(
    state: &AppState,
    run_id: &str,
    project: &str,
    sites: &[String],
    result: &AnalysisResult,
    now: DateTime<Utc>,
) {
    let cfg = &state.inner.config.disclosure;
    let total = Figure::of(coarsen_contribution(
        Released::Count(result.run().rows),
        cfg,
    ));
    let (kind, per_site_rows): (ResultKind, BTreeMap<&str, u64>) = match result {
        AnalysisResult::CellClassifier(r) => (
            ResultKind::Training,
            r.sites
                .iter()
                .map(|s| (s.site.as_str(), s.training_cells))
                .collect(),
        ),
        _ => (ResultKind::Analysis, BTreeMap::new()),
    };
    let rows: Vec<ContributionRow> = sites
        .iter()
        .map(|site| ContributionRow {
            kind,
            result_id: run_id.to_owned(),
            site: site.clone(),
            project: Some(project.to_owned()),
            period: period(now),
            released_at: now,
            persons: Figure::NotSplit,
            rows: match kind {
                ResultKind::Training => per_site_rows
                    .get(site.as_str())
                    .map_or(Figure::Suppressed, |&n| {
                        Figure::of(coarsen_contribution(Released::Count(n), cfg))
                    }),
                _ => Figure::NotSplit,
            },
            result_persons: total,
            sites_in_result: sites.len() as u32,
        })
        .collect();
    if let Err(e) = state.inner.db.record_contributions(kind, run_id, &rows) {
        tracing::warn!(error = %e, "could not record an analysis release in the contribution ledger");
    }
}

/// One site's contributions in one project (or to feasibility answers) in one month.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LedgerSummary {
    /// The site.
    pub site: String,
    /// The project; `None` for feasibility answers.
    pub project: Option<String>,
    /// `YYYY-MM`.
    pub period: String,
    /// Released results the site contributed to.
    pub results: u64,
    /// Of those, feasibility answers.
    pub feasibility: u64,
    /// Of those, analysis runs.
    pub analyses: u64,
    /// Of those, trainings.
    pub trainings: u64,
    /// Sum of the coarsened persons figures (those that are counts).
    pub persons: u64,
    /// Results where the site's persons were suppressed (too few to show).
    pub persons_suppressed: u64,
    /// Results where the site's persons are in a securely aggregated total only.
    pub persons_not_split: u64,
    /// Sum of the coarsened rows figures (those that are counts).
    pub rows: u64,
    /// Results where the site's rows were suppressed.
    pub rows_suppressed: u64,
}

/// Sums a ledger per site, project and month: sites ascending, months newest
/// first, feasibility before projects, projects ascending.
pub fn summarise(entries: &[ContributionRow]) -> Vec<LedgerSummary> {
    let mut groups: BTreeMap<(String, std::cmp::Reverse<String>, Option<String>), LedgerSummary> =
        BTreeMap::new();
    for e in entries {
        let key = (
            e.site.clone(),
            std::cmp::Reverse(e.period.clone()),
            e.project.clone(),
        );
        let s = groups.entry(key).or_insert_with(|| LedgerSummary {
            site: e.site.clone(),
            project: e.project.clone(),
            period: e.period.clone(),
            ..Default::default()
        });
        s.results += 1;
        match e.kind {
            ResultKind::Feasibility => s.feasibility += 1,
            ResultKind::Analysis => s.analyses += 1,
            ResultKind::Training => s.trainings += 1,
        }
        match e.persons {
            Figure::Count(n) => s.persons += n,
            Figure::Suppressed => s.persons_suppressed += 1,
            Figure::NotSplit => s.persons_not_split += 1,
            Figure::None => {}
        }
        match e.rows {
            Figure::Count(n) => s.rows += n,
            Figure::Suppressed => s.rows_suppressed += 1,
            Figure::NotSplit | Figure::None => {}
        }
    }
    groups.into_values().collect()
}

/// A CSV field: quoted when it holds a separator, quote or line break, and
/// prefixed with `'` when a spreadsheet would read it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn figure_text(f: Figure) -> String {
    match f {
        Figure::Count(n) => n.to_string(),
        other => other.state().to_owned(),
    }
}

/// The ledger's entries as CSV (RFC 4180, CRLF line ends), one line per site
/// and released result.
pub fn entries_csv(entries: &[ContributionRow]) -> String {
    let mut out = String::from(
        "kind,result_id,site,project,period,released_at,persons,rows,result_persons,sites_in_result\r\n",
    );
    for e in entries {
        let fields = [
            e.kind.as_str().to_owned(),
            e.result_id.clone(),
            e.site.clone(),
            e.project.clone().unwrap_or_default(),
            e.period.clone(),
            e.released_at.to_rfc3339(),
            figure_text(e.persons),
            figure_text(e.rows),
            figure_text(e.result_persons),
            e.sites_in_result.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The summary as CSV, one line per site, project and month.
pub fn summary_csv(summary: &[LedgerSummary]) -> String {
    let mut out = String::from(
        "site,project,period,results,feasibility,analyses,trainings,persons,persons_suppressed,persons_not_split,rows,rows_suppressed\r\n",
    );
    for s in summary {
        let fields = [
            s.site.clone(),
            s.project.clone().unwrap_or_default(),
            s.period.clone(),
            s.results.to_string(),
            s.feasibility.to_string(),
            s.analyses.to_string(),
            s.trainings.to_string(),
            s.persons.to_string(),
            s.persons_suppressed.to_string(),
            s.persons_not_split.to_string(),
            s.rows.to_string(),
            s.rows_suppressed.to_string(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A ledger for export: whose it is, the summary and the entries.
#[derive(Debug, Serialize)]
pub struct LedgerExport {
    /// The site, or `None` for every site (admins and auditors).
    pub site: Option<String>,
    /// When the export was made.
    pub exported_at: DateTime<Utc>,
    /// How the figures were coarsened.
    pub disclosure: String,
    /// Per site, project and month.
    pub summary: Vec<LedgerSummary>,
    /// Per site and released result, newest first.
    pub entries: Vec<ContributionRow>,
}

impl LedgerExport {
    /// The ledger of `site` (or every site) as stored now.
    pub(crate) fn load(state: &AppState, site: Option<&str>) -> Result<Self, crate::db::DbError> {
        let entries = state.inner.db.contributions(site)?;
        let cfg = &state.inner.config.disclosure;
        Ok(Self {
            site: site.map(str::to_owned),
            exported_at: Utc::now(),
            disclosure: format!(
                "per-site figures below {} suppressed, the rest rounded to {}; analysis runs are securely aggregated, so a site's persons there are not split from the total",
                cfg.min_site_count_for_breakdown, cfg.total_rounding
            ),
            summary: summarise(&entries),
            entries,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(
        site: &str,
        kind: ResultKind,
        project: Option<&str>,
        period: &str,
        persons: Figure,
        rows: Figure,
    ) -> ContributionRow {
        ContributionRow {
            kind,
            result_id: format!("r-{site}-{period}"),
            site: site.into(),
            project: project.map(str::to_owned),
            period: period.into(),
            released_at: Utc::now(),
            persons,
            rows,
            result_persons: Figure::Count(100),
            sites_in_result: 3,
        }
    }

    #[test]
    fn summaries_add_coarsened_figures_per_site_project_and_month() {
        let e = [
            entry(
                "site-1",
                ResultKind::Feasibility,
                None,
                "2026-12",
                Figure::Count(40),
                Figure::None,
            ),
            entry(
                "site-1",
                ResultKind::Feasibility,
                None,
                "2026-12",
                Figure::Suppressed,
                Figure::None,
            ),
            entry(
                "site-1",
                ResultKind::Analysis,
                Some("p1"),
                "2026-12",
                Figure::NotSplit,
                Figure::NotSplit,
            ),
            entry(
                "site-1",
                ResultKind::Training,
                Some("p1"),
                "2026-12",
                Figure::NotSplit,
                Figure::Count(300),
            ),
            entry(
                "site-1",
                ResultKind::Feasibility,
                None,
                "2026-11",
                Figure::Count(20),
                Figure::None,
            ),
            entry(
                "site-2",
                ResultKind::Feasibility,
                None,
                "2026-12",
                Figure::Count(50),
                Figure::None,
            ),
        ];
        let s = summarise(&e);
        assert_eq!(s.len(), 4);
        assert_eq!(
            (
                s[0].site.as_str(),
                s[0].period.as_str(),
                s[0].project.as_deref()
            ),
            ("site-1", "2026-12", None)
        );
        assert_eq!(
            (s[0].results, s[0].persons, s[0].persons_suppressed),
            (2, 40, 1)
        );
        assert_eq!(s[1].project.as_deref(), Some("p1"));
        assert_eq!(
            (
                s[1].analyses,
                s[1].trainings,
                s[1].persons_not_split,
                s[1].rows
            ),
            (1, 1, 2, 300)
        );
        assert_eq!((s[2].period.as_str(), s[2].persons), ("2026-11", 20));
        assert_eq!((s[3].site.as_str(), s[3].persons), ("site-2", 50));
    }

    #[test]
    fn csv_quotes_separators_and_defuses_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("site-1"), "site-1");
        let csv = entries_csv(&[entry(
            "site-1",
            ResultKind::Feasibility,
            None,
            "2026-12",
            Figure::Suppressed,
            Figure::None,
        )]);
        let line = csv.lines().nth(1).unwrap();
        assert!(
            line.starts_with("feasibility,r-site-1-2026-12,site-1,,2026-12,"),
            "{line}"
        );
        assert!(line.ends_with(",suppressed,none,100,3"), "{line}");
    }
}
