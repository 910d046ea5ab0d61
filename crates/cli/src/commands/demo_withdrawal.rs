//! The demo's withdrawal (R6, issue 5 item 4) and its tombstone (issue 18): one
//! patient of site 1 withdraws; the site registers the withdrawal Consent at the
//! trust centre, which orders deletion at every site holding the person and
//! erases their identity; the sites' pollers delete and confirm. Then site 1
//! loads the person's record from its export again, and another site tries to
//! register the same person under its own id: the trust centre refuses both, per
//! record, and nothing of the person comes back. Last, a namesake at site 2 (the
//! same names and birth date, no insurance number) is refused too; the trust
//! centre's staff admit that one record, and site 2 loads it again.

use anyhow::Context;
use oncofed_node::{IngestOptions, QueryService};
use oncofed_testkit::LocalFederation;
use oncofed_trustee_api::ConsentItem;
use oncofed_trustee_api::linkage::api::AdmissionRequest;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long the demo waits for the sites to carry out the deletion.
const DEADLINE: Duration = Duration::from_secs(30);

/// What the withdrawal step showed.
#[derive(Debug, Serialize)]
pub struct DemoWithdrawal {
    /// Time from registering the withdrawal to the person's data being gone
    /// from site 1's store, in milliseconds.
    pub deleted_after_ms: u64,
    /// Site 1's second load of the person's record: refused by the trust centre.
    pub reload_refused: bool,
    /// Another site registering the same person under its own id: refused.
    pub other_site_refused: bool,
    /// The node's error line for the refused reload (no personal data in it).
    pub reason: String,
    /// A namesake at site 2, refused by the tombstone's resemblance.
    pub namesake_refused: bool,
    /// The same record loaded again after staff admitted it: registered.
    pub namesake_admitted: bool,
}

/// Runs the step on site 1 (index 0) and, for the second attempt, the last site.
pub async fn run(
    fed: &LocalFederation,
    services: &[QueryService],
    cohort: &Path,
    work: &Path,
) -> anyhow::Result<DemoWithdrawal> {
    let site_dir = cohort.join(
        fed.sites
            .first()
            .context("the federation has no site")?
            .as_str(),
    );
    let (local_id, line) = first_patient(&site_dir)?;
    let client = fed.trustee_client(0)?;
    let pair = client
        .resolve(vec![local_id.clone()])
        .await?
        .pop()
        .flatten()
        .context("site 1's first patient is not registered at the trust centre")?;

    let withdrawal = serde_json::json!({
        "resourceType": "Consent", "id": format!("withdrawal-{local_id}"), "status": "active",
        "dateTime": chrono::Utc::now().date_naive().to_string(),
        "provision": {"type": "deny", "code": [{"coding": [
            {"system": oncofed_synth::ONCOFED_CONSENT_SYSTEM, "code": "withdrawal"}]}]}
    });
    let started = Instant::now();
    client
        .submit_consents(vec![ConsentItem {
            local_id: local_id.clone(),
            consent: withdrawal,
        }])
        .await?;
    let store = services[0].store();
    loop {
        let wanted = vec![pair.site.clone()];
        let held = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                let guard = store.lock().unwrap_or_else(|p| p.into_inner());
                guard.existing_patients(&wanted)
            })
            .await??
        };
        if held.is_empty() {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < DEADLINE,
            "site 1 still holds the withdrawn patient after {} s",
            DEADLINE.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deleted_after_ms = started.elapsed().as_millis() as u64;

    // The same record again: at site 1, and at the last site under its own id.
    std::fs::create_dir_all(work).with_context(|| format!("cannot create {}", work.display()))?;
    let record = work.join("withdrawn-patient.ndjson");
    std::fs::write(&record, format!("{line}\n"))
        .with_context(|| format!("cannot write {}", record.display()))?;
    let reload = oncofed_node::ingest(
        &store,
        &client,
        std::slice::from_ref(&record),
        &IngestOptions::default(),
        &|_, _| {},
    )
    .await?;
    let last = services.len() - 1;
    let other = oncofed_node::ingest(
        &services[last].store(),
        &fed.trustee_client(last)?,
        std::slice::from_ref(&record),
        &IngestOptions::default(),
        &|_, _| {},
    )
    .await?;
    let refused = |r: &oncofed_node::IngestReport| {
        r.units_ok == 0 && r.errors.iter().any(|e| e.contains("withdrawn"))
    };
    let (namesake_refused, namesake_admitted) =
        namesake(fed, services, &line, &local_id, work).await?;
    Ok(DemoWithdrawal {
        deleted_after_ms,
        reload_refused: refused(&reload),
        other_site_refused: refused(&other),
        reason: reload.errors.first().cloned().unwrap_or_default(),
        namesake_refused,
        namesake_admitted,
    })
}

/// A namesake of the withdrawn patient at site 2 (or the only other site): the
/// same bundle under another local id and without identifiers. Refused (the
/// tombstone cannot tell them apart), admitted by staff for that one record,
/// then registered. Returns (refused, registered after the admission).
async fn namesake(
    fed: &LocalFederation,
    services: &[QueryService],
    line: &str,
    local_id: &str,
    work: &Path,
) -> anyhow::Result<(bool, bool)> {
    let site = 1.min(services.len() - 1);
    let namesake_id = format!("{local_id}-namesake");
    let mut bundle: serde_json::Value = serde_json::from_str(line)?;
    for entry in bundle["entry"].as_array_mut().into_iter().flatten() {
        if entry["resource"]["resourceType"] == "Patient"
            && let Some(patient) = entry["resource"].as_object_mut()
        {
            // No insurance number: a different one would tell them apart.
            patient.remove("identifier");
        }
    }
    let text = serde_json::to_string(&bundle)?.replace(local_id, &namesake_id);
    let file = work.join("namesake.ndjson");
    std::fs::write(&file, format!("{text}\n"))
        .with_context(|| format!("cannot write {}", file.display()))?;
    let (store, client) = (services[site].store(), fed.trustee_client(site)?);
    let options = IngestOptions::default();
    let load = || {
        oncofed_node::ingest(
            &store,
            &client,
            std::slice::from_ref(&file),
            &options,
            &|_, _| {},
        )
    };
    let first = load().await?;
    let refused = first.units_ok == 0 && first.errors.iter().any(|e| e.contains("admit"));
    // Staff admit the record with its IDAT as the site sends it.
    let idat = oncofed_fhir::map_ndjson_line(&text, "namesake.ndjson", 1)
        .map_err(|e| anyhow::anyhow!("the namesake's bundle does not map: {e}"))?
        .patients
        .into_iter()
        .next()
        .context("the namesake's bundle has no Patient")?
        .idat;
    fed.trustee_staff()?
        .admit(&AdmissionRequest {
            site: fed.sites[site].to_string(),
            local_id: namesake_id,
            idat,
            reviewer: "demo staff".into(),
            reason: "the site checked the ID card: another person".into(),
        })
        .await?;
    let second = load().await?;
    Ok((refused, second.units_ok == 1 && second.errors.is_empty()))
}

/// The first patient's bundle line of a site's NDJSON export and its local id.
fn first_patient(site_dir: &Path) -> anyhow::Result<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(site_dir)
        .with_context(|| format!("cannot read {}", site_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    files.sort();
    let file = files
        .first()
        .with_context(|| format!("no NDJSON export in {}", site_dir.display()))?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let line = text
        .lines()
        .next()
        .with_context(|| format!("{} is empty", file.display()))?;
    let bundle: serde_json::Value = serde_json::from_str(line)
        .with_context(|| format!("{}: line 1 is not JSON", file.display()))?;
    let id = bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["resource"]["resourceType"] == "Patient")
        .and_then(|e| e["resource"]["id"].as_str())
        .with_context(|| format!("{}: line 1 has no Patient", file.display()))?;
    Ok((id.to_owned(), line.to_owned()))
}

/// The step in words.
pub fn print(w: &DemoWithdrawal) {
    println!(
        "\nwithdrawal: one patient of site 1 withdrew; their data was gone from site 1 after {:.1} s",
        w.deleted_after_ms as f64 / 1000.0
    );
    println!(
        "  site 1 loads the record again: {}; another site registers the same person: {}",
        if w.reload_refused {
            "refused (tombstone)"
        } else {
            "NOT refused"
        },
        if w.other_site_refused {
            "refused"
        } else {
            "NOT refused"
        }
    );
    println!(
        "  a namesake at site 2: {}; admitted by trust-centre staff and loaded again: {}",
        if w.namesake_refused {
            "refused (resembles the withdrawn patient)"
        } else {
            "NOT refused"
        },
        if w.namesake_admitted {
            "registered"
        } else {
            "NOT registered"
        }
    );
}
