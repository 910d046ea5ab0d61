//! The federation's catalogue (issue 17, R20): refresh from the sites, the
//! hub's release rule, the published catalogue's IRIs.
//!
//! An admin asks for a refresh (`POST /v1/admin/catalogue/refresh`, or the
//! button on the catalogue page). The hub seals one catalogue task per
//! registered site; each site answers from its research store under its own
//! disclosure control (`oncofed-node`, `agent/catalogue.rs`). The hub then
//! applies its release rule to every entry ([`release`]) and publishes the
//! catalogue: the released figures of the sites that answered, and the
//! previous catalogue's datasets of those that did not (a site offline during a
//! refresh does not vanish from the catalogue). The refresh is audited with its
//! coverage; the catalogue itself holds only released figures.

use crate::db::{QueryRow, TaskRow};
use crate::routes::{audit, blocking};
use crate::{ApiError, AppState};
use chrono::Utc;
use oncofed_crypto::SignedEnvelope;
use oncofed_dcat::{Catalogue, Dataset, Endpoints, YearSpan};
use oncofed_model::SiteId;
use oncofed_privacy::{Released, SiteDisclosure};
use oncofed_protocol::api::TaskState;
use oncofed_protocol::{CatalogueEntry, CatalogueRefreshed, QueryId, Task, TaskId, TaskKind};
use std::time::Duration;

/// The catalogue's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueConfig {
    /// The hub's public base URL (`https://hub.example.org`): every IRI of the
    /// catalogue is minted below it. `None`: taken from each request's `Host`
    /// (with `https` when the hub serves TLS), which suits a test federation
    /// but gives a deployment behind a proxy unstable IRIs.
    pub public_url: Option<String>,
    /// The catalogue's publisher, the federation's name.
    pub publisher: String,
    /// How long a refresh waits for the sites; later answers are refused by the
    /// sites (the tasks expire then) and those sites keep their previous datasets.
    pub deadline: Duration,
}

impl Default for CatalogueConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            publisher: "OncoFed".into(),
            deadline: Duration::from_secs(30),
        }
    }
}

/// The hub's release rule for one site's category entry: the persons figure
/// must be a released count of at least the threshold of the category's own
/// security level and a multiple of its rounding (what the site's rules
/// produce; anything else is a site out of step or a tampered answer and is
/// withheld), and the level must be the category's intrinsic level (a site
/// cannot pick weaker rules). Records are kept only under the same conditions.
/// Returns the dataset, or `None` when the entry is withheld.
pub fn release(site: &SiteId, entry: &CatalogueEntry) -> Option<Dataset> {
    let level = entry.category.intrinsic_level();
    if entry.level != level {
        return None;
    }
    let rules = SiteDisclosure::for_level(level);
    let rounded = |n: u64| rules.rounding > 0 && n.is_multiple_of(rules.rounding);
    let persons = match entry.persons {
        Released::Count(n) if n >= rules.threshold && rounded(n) => n,
        _ => return None,
    };
    let records = match entry.records {
        Released::Count(n) if n >= rules.threshold && rounded(n) => Some(n),
        _ => None,
    };
    Some(Dataset {
        site: site.clone(),
        category: entry.category,
        level,
        persons,
        records,
        coverage: entry.years.and_then(|(a, b)| YearSpan::new(a, b)),
        coding_systems: entry.coding_systems.clone(),
    })
}

/// Where the catalogue's IRIs live: the configured public URL, else the
/// request's `Host` (checked to be a plain host and port).
pub fn endpoints(state: &AppState, headers: &axum::http::HeaderMap) -> Endpoints {
    let cfg = &state.inner.config;
    if let Some(at) = cfg
        .catalogue
        .public_url
        .as_deref()
        .and_then(|u| Endpoints::new(u).ok())
    {
        return at;
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        })
        .unwrap_or("localhost");
    let scheme = if cfg.tls.is_some() { "https" } else { "http" };
    Endpoints::new(&format!("{scheme}://{host}"))
        .unwrap_or_else(|_| Endpoints::new("http://localhost").expect("constant URL"))
}

/// Asks every site, waits up to the deadline, applies the release rule,
/// publishes and audits. `actor` is the admin who asked.
pub async fn refresh(state: &AppState, actor: &str) -> Result<CatalogueRefreshed, ApiError> {
    let who = actor.to_owned();
    let (query_id, sites) = blocking(state, move |s| issue(s, &who)).await?;
    for site in &sites {
        state.wakeup(site).notify_one();
    }
    let deadline = state.inner.config.catalogue.deadline;
    crate::routes::feasibility::wait_for(state, &query_id, deadline).await;
    let who = actor.to_owned();
    blocking(state, move |s| publish(s, &query_id, sites.len(), &who)).await
}

fn issue(s: &AppState, actor: &str) -> Result<(QueryId, Vec<String>), ApiError> {
    let cfg = &s.inner.config;
    let now = Utc::now();
    let deadline =
        now + chrono::Duration::from_std(cfg.catalogue.deadline).map_err(ApiError::internal)?;
    let sites: Vec<String> = s
        .inner
        .db
        .sites()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|(site, _)| site)
        .collect();
    let query_id = QueryId::random();
    let mut tasks = Vec::with_capacity(sites.len());
    for site in &sites {
        let task = Task {
            task_id: TaskId::random(),
            query_id: query_id.clone(),
            site: SiteId::new(site.clone()).map_err(ApiError::internal)?,
            kind: TaskKind::Catalogue,
            issued_at: now,
            // Past the deadline nobody waits: a late site refuses the task and
            // charges nothing to its ledger.
            expires_at: deadline,
        };
        let envelope = SignedEnvelope::seal(&task, &cfg.key).map_err(ApiError::internal)?;
        tasks.push(TaskRow {
            task_id: task.task_id,
            query_id: query_id.clone(),
            site: site.clone(),
            state: TaskState::Queued,
            attempts: 0,
            envelope: serde_json::to_string(&envelope).map_err(ApiError::internal)?,
            expires_at: deadline,
            outcome: None,
        });
    }
    let row = QueryRow {
        query_id: query_id.clone(),
        user_id: actor.to_owned(),
        criteria: "catalogue".into(),
        description: "catalogue refresh".into(),
        deadline,
    };
    s.inner
        .db
        .insert_query(&row, now, &tasks)
        .map_err(ApiError::internal)?;
    Ok((query_id, sites))
}

fn publish(
    s: &AppState,
    query_id: &QueryId,
    asked: usize,
    actor: &str,
) -> Result<CatalogueRefreshed, ApiError> {
    let tasks = s.inner.db.tasks(query_id).map_err(ApiError::internal)?;
    let mut datasets = Vec::new();
    let (mut answered, mut missing, mut withheld) = (Vec::new(), Vec::new(), 0usize);
    for task in &tasks {
        let answer = crate::aggregate::outcome(task)
            .and_then(|o| o.result.ok())
            .and_then(|a| a.catalogue().cloned());
        let site = SiteId::new(task.site.clone()).map_err(ApiError::internal)?;
        match answer {
            Some(a) if task.state == TaskState::Succeeded => {
                answered.push(task.site.clone());
                for entry in &a.entries {
                    match release(&site, entry) {
                        Some(d) => datasets.push(d),
                        None => withheld += 1,
                    }
                }
            }
            _ => missing.push(task.site.clone()),
        }
    }
    if answered.is_empty() {
        audit(
            s,
            actor,
            "catalogue.refresh.failed",
            query_id.as_str(),
            serde_json::json!({
                "sites_asked": asked, "sites_missing": missing,
            }),
        )?;
        return Err(ApiError::Refused(
            "no site answered the catalogue refresh in time; the published catalogue is unchanged"
                .into(),
        ));
    }
    // Sites that did not answer keep what was published for them before.
    if let Some(previous) = s.inner.db.latest_catalogue().map_err(ApiError::internal)? {
        datasets.extend(
            previous
                .catalogue
                .datasets
                .into_iter()
                .filter(|d| missing.iter().any(|m| m == d.site.as_str())),
        );
    }
    datasets.sort_by(|a, b| (a.site.as_str(), a.category).cmp(&(b.site.as_str(), b.category)));
    let now = Utc::now();
    let catalogue = Catalogue {
        publisher: s.inner.config.catalogue.publisher.clone(),
        modified: now,
        datasets,
    };
    let summary = CatalogueRefreshed {
        published_at: now.to_rfc3339(),
        sites_asked: asked,
        sites_answered: answered.len(),
        sites_missing: missing,
        datasets: catalogue.datasets.len(),
        withheld,
    };
    let details = serde_json::to_value(&summary).map_err(ApiError::internal)?;
    s.inner
        .db
        .put_catalogue(now, &catalogue, &details)
        .map_err(ApiError::internal)?;
    audit(s, actor, "catalogue.refreshed", query_id.as_str(), details)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncofed_model::{DataCategory, SecurityLevel};
    use std::collections::BTreeSet;

    fn entry(category: DataCategory, persons: Released, records: Released) -> CatalogueEntry {
        CatalogueEntry {
            category,
            level: category.intrinsic_level(),
            persons,
            records,
            years: Some((2012, 2024)),
            coding_systems: BTreeSet::new(),
        }
    }

    #[test]
    fn release_needs_a_rounded_count_at_the_categorys_threshold() {
        let site = SiteId::new("site-a").unwrap();
        let ok = release(
            &site,
            &entry(
                DataCategory::Clinical,
                Released::Count(10),
                Released::Count(120),
            ),
        )
        .unwrap();
        assert_eq!((ok.persons, ok.records), (10, Some(120)));
        assert_eq!(ok.coverage, YearSpan::new(2012, 2024));
        // Suppressed, unrounded, or under the level's threshold (20 for genetic data).
        assert!(
            release(
                &site,
                &entry(
                    DataCategory::Clinical,
                    Released::Suppressed,
                    Released::Count(120)
                )
            )
            .is_none()
        );
        assert!(
            release(
                &site,
                &entry(
                    DataCategory::Clinical,
                    Released::Count(13),
                    Released::Count(120)
                )
            )
            .is_none()
        );
        assert!(
            release(
                &site,
                &entry(
                    DataCategory::Germline,
                    Released::Count(10),
                    Released::Count(120)
                )
            )
            .is_none()
        );
        // An unrounded or suppressed record count is dropped, the dataset kept.
        let partial = release(
            &site,
            &entry(
                DataCategory::Clinical,
                Released::Count(20),
                Released::Count(125),
            ),
        )
        .unwrap();
        assert_eq!(partial.records, None);
        // A site claiming a weaker level for genetic data is withheld.
        let mut weak = entry(
            DataCategory::Genetic,
            Released::Count(10),
            Released::Count(10),
        );
        weak.level = SecurityLevel::Pseudonymised;
        assert!(release(&site, &weak).is_none());
    }
}
