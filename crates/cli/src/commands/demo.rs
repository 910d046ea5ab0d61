//! `oncofed demo`: the whole system on loopback with a synthetic cohort.

use crate::commands::trustee::{new_token, write_secret};
use crate::output::print_json;
use anyhow::Context;
use clap::Args;
use oncofed_model::{DataCategory, FactKind, Purpose, SiteId};
use oncofed_node::{FactFilter, FactQuery, IngestReport, QueryService};
use oncofed_protocol::Criteria;
use oncofed_protocol::api::FeasibilityResponse;
use oncofed_synth::SynthConfig;
use oncofed_testkit::LocalFederation;
use serde::Serialize;
use std::collections::HashSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Run the trust centre and site nodes in one process on loopback, generate a
/// synthetic cohort, ingest it through the trust centre, run consent-filtered
/// queries and print a summary. Nothing leaves the machine; the data lives in a
/// temporary folder unless --dir is given.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of site nodes.
    #[arg(long, default_value_t = 3)]
    sites: u32,
    /// Number of persons in the cohort (some are treated at several sites);
    /// the default gives about 3 × 5,000 patient records.
    #[arg(long, default_value_t = 13_000)]
    patients: u64,
    /// Random seed of the cohort.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the data here instead of a temporary folder (must be empty or missing).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Leave the APIs running and print their addresses (Ctrl-C stops).
    #[arg(long)]
    keep_running: bool,
    /// Run the federation over plain HTTP on loopback instead of TLS (by default a
    /// federation CA is made for the run and sites use mutual TLS).
    #[arg(long)]
    plain_http: bool,
    /// Keep every store with patient data in PostgreSQL instead of SQLite files:
    /// a URL with {site} in the database name, one database per site and one for
    /// the trust centre ({site} = trustee), each created if missing and required
    /// empty, e.g. postgres://postgres@127.0.0.1:5432/oncofed_{site} gives
    /// oncofed_uk_a, … and oncofed_trustee. The hub and the audit trails stay
    /// SQLite. `scripts/postgres start` prints a server's URL to start from.
    #[arg(long, value_name = "URL")]
    store_url: Option<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct QuerySummary {
    query: &'static str,
    released_facts: usize,
    patients: usize,
    withheld_by_consent: usize,
}

#[derive(Debug, Serialize)]
struct SiteSummary {
    site: SiteId,
    ingest: IngestReport,
    quality_issues: u64,
    queries: Vec<QuerySummary>,
}

#[derive(Debug, Serialize)]
struct FederatedQuery {
    /// The answer the researcher sees.
    answer: FeasibilityResponse,
    /// What the generator knows (never available in a real federation): persons
    /// matching the criteria whose consent permits feasibility use.
    ground_truth: u64,
}

#[derive(Debug, Serialize)]
struct DemoSummary {
    transport: super::demo_transport::DemoTransport,
    /// Where the sites' research stores and the trust centre's store are:
    /// `sqlite` or `postgresql`.
    store: &'static str,
    analyses: super::demo_analyses::DemoAnalyses,
    imaging: super::demo_imaging::DemoImaging,
    cells: super::demo_cells::DemoCells,
    genomics: super::demo_genomics::DemoGenomics,
    audit: super::demo_audit::DemoAudit,
    /// What each site contributed to the released results (R19).
    ledger: super::demo_ledger::DemoLedger,
    /// A patient's withdrawal, and the tombstone refusing their data afterwards.
    withdrawal: super::demo_withdrawal::DemoWithdrawal,
    /// The portal's flows: catalogue, an application approved by policy and
    /// its first result, a patient's sign-in (issue 17).
    portal: super::demo_portal::DemoPortal,
    data_dir: PathBuf,
    trustee: String,
    hub: String,
    federated_queries: Vec<FederatedQuery>,
    persons: u64,
    patients: u64,
    distinct_research_pseudonyms: usize,
    sites: Vec<SiteSummary>,
    seconds: f64,
}

pub async fn run(a: DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let temp = tempfile::tempdir()?;
    let dir = a.dir.clone().unwrap_or_else(|| temp.path().to_owned());
    say(&a, &format!("data in {}", dir.display()));

    let config = SynthConfig {
        seed: a.seed,
        sites: a.sites,
        persons: a.patients,
        ..SynthConfig::default()
    };
    let cohort = dir.join("cohort");
    let synth = {
        let (config, cohort) = (config.clone(), cohort.clone());
        tokio::task::spawn_blocking(move || oncofed_synth::generate(&config, &cohort, &mut |_| {}))
            .await??
    };
    let imaging_generated = {
        let (config, cohort) = (config.clone(), cohort.clone());
        tokio::task::spawn_blocking(move || {
            oncofed_synth::write_imaging(&config, &cohort, super::demo_imaging::SHARE)
        })
        .await??
    };
    let genomics_generated = super::demo_genomics::generate(&config, &cohort).await?;
    say(
        &a,
        &format!(
            "generated {} persons at {} sites, {} staging CTs, {} sequenced persons",
            synth.persons, a.sites, imaging_generated.studies, genomics_generated.persons_sequenced
        ),
    );

    // Trust centre and hub on ephemeral loopback ports; site stores; agents poll outbound only.
    let sites: Vec<SiteId> = (1..=a.sites).map(SynthConfig::site_id).collect();
    let limits = oncofed_privacy::QueryBudget {
        per_minute: 30,
        per_week: 500,
    };
    let mut fed = LocalFederation::builder(&dir, sites.clone())
        .limits(limits)
        .tls(!a.plain_http)
        .store_url(a.store_url.clone())?
        // the demo itself starts ten analysis runs within a minute; the
        // researcher trying commands against --keep-running needs room
        .tune_hub(|h| h.analysis_runs.per_minute = 30)
        .start()
        .await?;
    say(
        &a,
        &format!(
            "trust centre on {}, research hub on {}",
            fed.trustee_url(),
            fed.hub_url()
        ),
    );
    let mut summaries = Vec::new();
    let mut research = HashSet::new();
    let mut services = Vec::new();
    let mut imaging_ingest = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        let (service, report) = fed.ingest_site(i, &cohort.join(site.as_str())).await?;
        let images = super::demo_imaging::ingest_site(&fed, i, &service, &cohort).await?;
        say(
            &a,
            &format!(
                "{site}: ingested {} resources ({:.0}/s) and {} DICOM objects",
                report.resources, report.resources_per_second, images.objects_stored
            ),
        );
        imaging_ingest.push((site.to_string(), images));
        let quality = oncofed_node::quality::report(&service.store()).await?;
        research.extend(oncofed_node::research_pseudonyms(&service.store()).await?);
        let queries = example_queries(&service).await?;
        summaries.push(SiteSummary {
            site: site.clone(),
            ingest: report,
            quality_issues: quality.issues.values().map(|i| i.count).sum(),
            queries,
        });
        fed.connect_site(i, &service, 5).await?;
        services.push(service);
    }
    let truth = Truth::read(&cohort.join("ground-truth/cohort.csv"))?;
    let researcher_client = fed.researcher();
    let mut federated_queries = Vec::new();
    for (criteria, matches) in federated_examples() {
        let answer = researcher_client.feasibility(criteria, 30).await?;
        federated_queries.push(FederatedQuery {
            answer,
            ground_truth: truth.count(matches),
        });
    }

    let delivery = super::demo_imaging::deliver(&fed, &services[0], &dir.join("delivery")).await?;
    let imaging = super::demo_imaging::DemoImaging {
        generated: imaging_generated,
        ingest: imaging_ingest,
        delivery,
    };
    let analyses = super::demo_analyses::run(&fed, &dir).await?;
    say(&a, "federated analyses released");
    let cells = super::demo_cells::run(&fed, &services, &config, &cohort).await?;
    say(
        &a,
        &format!(
            "cell classifier trained across the sites in {:.1} s",
            cells.training_seconds
        ),
    );
    let genomics = super::demo_genomics::run(&fed, &services, &cohort, genomics_generated).await?;
    say(
        &a,
        "sequencing data ingested, encrypted at rest, queried and delivered under consent",
    );
    let portal = super::demo_portal::run(&fed, &cohort).await?;
    say(
        &a,
        &format!(
            "portal: catalogue published, an application approved by policy, its first KM curve {}",
            match portal.first_result_ms {
                Some(ms) => format!("{:.1} s after submission", ms as f64 / 1000.0),
                None => "refused".into(),
            }
        ),
    );
    let audit = super::demo_audit::run(&fed).await?;
    say(
        &a,
        "audit trail exported and verified against the sites' witnesses",
    );

    let ledger = super::demo_ledger::run(&fed).await?;
    say(
        &a,
        "contribution ledger read: what each site contributed, coarsened",
    );
    let withdrawal =
        super::demo_withdrawal::run(&fed, &services, &cohort, &dir.join("withdrawal")).await?;
    say(
        &a,
        "a patient withdrew: deleted at every site, and refused when loaded again",
    );
    let transport = super::demo_transport::run(&fed).await?;
    let summary = DemoSummary {
        transport,
        store: fed.store_kind(),
        analyses,
        imaging,
        cells,
        genomics,
        audit,
        ledger,
        withdrawal,
        portal,
        data_dir: dir.clone(),
        trustee: fed.trustee_url().to_owned(),
        hub: fed.hub_url().to_owned(),
        federated_queries,
        persons: synth.persons,
        patients: synth.patients_per_site.values().sum(),
        distinct_research_pseudonyms: research.len(),
        sites: summaries,
        seconds: started.elapsed().as_secs_f64(),
    };
    if a.json {
        print_json(&summary)?;
    } else {
        print_summary(&summary);
    }

    if a.keep_running {
        println!(
            "  research hub  {}  (researcher token in {}/researcher.token{})",
            fed.hub_url(),
            dir.display(),
            fed.pki
                .as_ref()
                .map(|p| format!("; --ca {}", p.join("ca.pem").display()))
                .unwrap_or_default()
        );
        keep_running(
            &dir,
            fed.trustee_url(),
            fed.pki.as_deref(),
            &sites,
            services,
        )
        .await?;
    }
    fed.shutdown().await?;
    drop(temp);
    Ok(ExitCode::SUCCESS)
}

fn say(a: &DemoArgs, line: &str) {
    if !a.json {
        eprintln!("· {line}");
    }
}

async fn example_queries(service: &QueryService) -> anyhow::Result<Vec<QuerySummary>> {
    let examples: [(&'static str, FactFilter); 3] = [
        (
            "AML diagnoses (ICD-10-GM C92.0), research",
            FactFilter {
                kind: Some(FactKind::Diagnosis),
                code_prefix: Some("C92.0".into()),
                ..Default::default()
            },
        ),
        (
            "molecular markers (genetic, opt-in required), research",
            FactFilter {
                category: Some(DataCategory::Genetic),
                ..Default::default()
            },
        ),
        (
            "all clinical facts, research",
            FactFilter {
                category: Some(DataCategory::Clinical),
                ..Default::default()
            },
        ),
    ];
    let mut out = Vec::new();
    for (name, filter) in examples {
        let answer = service
            .facts(&FactQuery {
                filter,
                purpose: Purpose::Research,
                date: None,
            })
            .await?;
        out.push(QuerySummary {
            query: name,
            released_facts: answer.facts.len(),
            patients: answer.patients,
            withheld_by_consent: answer.withheld,
        });
    }
    Ok(out)
}

fn print_summary(s: &DemoSummary) {
    println!(
        "\nOncoFed demo: {} persons → {} patient records at {} sites (research stores: {}), {:.1} s",
        s.persons,
        s.patients,
        s.sites.len(),
        s.store,
        s.seconds
    );
    println!(
        "\nfederated feasibility through the hub (noised, rounded, de-duplicated; truth shown for the demo only):"
    );
    for q in &s.federated_queries {
        print!("{}", super::query::render(&q.answer));
        println!("  ground truth: {}\n", q.ground_truth);
    }
    super::demo_analyses::print(&s.analyses);
    super::demo_imaging::print(&s.imaging);
    super::demo_cells::print(&s.cells);
    super::demo_genomics::print(&s.genomics);
    super::demo_audit::print(&s.audit);
    super::demo_ledger::print(&s.ledger);
    super::demo_withdrawal::print(&s.withdrawal);
    super::demo_portal::print(&s.portal);
    super::demo_transport::print(&s.transport);
    println!(
        "\nlinkage at the trust centre: {} distinct research pseudonyms for {} persons",
        s.distinct_research_pseudonyms, s.persons
    );
    for site in &s.sites {
        let r = &site.ingest;
        println!(
            "\n{}: {} resources ingested at {:.0}/s, {} patients, {} consents to the trust centre, {} rejected, {} quality issues",
            site.site,
            r.resources,
            r.resources_per_second,
            r.patients,
            r.consents,
            r.units_failed,
            site.quality_issues
        );
        for q in &site.queries {
            println!(
                "  {:<58} {:>7} facts of {:>5} patients released, {:>6} withheld by consent",
                q.query, q.released_facts, q.patients, q.withheld_by_consent
            );
        }
    }
}

async fn keep_running(
    dir: &std::path::Path,
    trustee_url: &str,
    pki: Option<&std::path::Path>,
    sites: &[SiteId],
    services: Vec<QueryService>,
) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    println!(
        "\nAPIs (Ctrl-C stops):\n  trust centre  {trustee_url}  (site tokens in {}/trustee/*.token)",
        dir.display()
    );
    for (site, service) in sites.iter().zip(services) {
        let token = new_token();
        let token_file = dir.join(format!("node-{site}.api-token"));
        write_secret(&token_file, &token)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let tls = pki
            .map(|pki| oncofed_testkit::pki::server_tls(pki, "node"))
            .transpose()?;
        println!(
            "  {site:<12}  {}://{}  (POST /v1/query, bearer token in {})",
            if tls.is_some() { "https" } else { "http" },
            listener.local_addr()?,
            token_file.display()
        );
        let state = oncofed_node::serve::ApiState::new(service, &token);
        let tls_task = tls.clone();
        tasks.push(tokio::spawn(async move {
            oncofed_node::serve::launch(
                state,
                listener,
                tls_task.as_ref(),
                false,
                oncofed_service::shutdown_signal(),
            )
            .await
        }));
    }
    oncofed_service::shutdown_signal().await;
    for t in tasks {
        let _ = t.await;
    }
    Ok(())
}

/// Example feasibility questions, each with the ground-truth predicate over `cohort.csv`.
/// A predicate over the ground truth that mirrors one example's criteria.
type TruthPredicate = fn(&TruthRow) -> bool;

fn federated_examples() -> Vec<(Criteria, TruthPredicate)> {
    let parse = |v: serde_json::Value| {
        serde_json::from_value::<Criteria>(v).expect("static example criteria")
    };
    vec![
        (
            parse(serde_json::json!({"diagnosis": {"icd10": "C92.0"}})),
            |r| r.icd10.starts_with("C92.0"),
        ),
        (
            parse(
                serde_json::json!({"and": [{"diagnosis": {"icd10": "C50"}}, {"age_at_diagnosis": {"max": 50}}]}),
            ),
            |r| r.icd10.starts_with("C50") && r.age_at_diagnosis <= 50,
        ),
        (
            parse(
                serde_json::json!({"and": [{"diagnosis": {"icd10": "C34"}}, {"marker": {"gene": "HGNC:3236", "present": true}}]}),
            ),
            |r| r.icd10.starts_with("C34") && r.egfr && r.genetic_opt_in,
        ),
        (parse(super::demo_imaging::chest_ct_criteria()), |r| {
            r.icd10.starts_with("C34") && r.chest_ct_days.is_some_and(|d| d <= 90)
        }),
    ]
}

/// One person of the generator's ground truth (only the columns the demo compares).
struct TruthRow {
    icd10: String,
    /// Days from diagnosis to the person's synthetic chest CT, if any.
    chest_ct_days: Option<i64>,
    age_at_diagnosis: i64,
    egfr: bool,
    genetic_opt_in: bool,
    excluded: bool,
}

/// The generator's `cohort.csv`, for showing how close the released figures are.
struct Truth(Vec<TruthRow>);

impl Truth {
    fn read(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .with_context(|| format!("{name} missing in cohort.csv"))
        };
        let person = col("person_id")?;
        let chest_ct = chest_ct_days(&path.with_file_name("imaging.csv"))?;
        let (icd, age, egfr, opt_in, objection, withdrawn) = (
            col("icd10")?,
            col("age_at_diagnosis")?,
            col("egfr")?,
            col("genetic_opt_in")?,
            col("gdng_objection")?,
            col("withdrawn")?,
        );
        let rows = lines
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                TruthRow {
                    icd10: f[icd].to_owned(),
                    chest_ct_days: chest_ct.get(f[person]).copied(),
                    age_at_diagnosis: f[age].parse().unwrap_or(0),
                    egfr: f[egfr] == "1",
                    genetic_opt_in: f[opt_in] == "1",
                    excluded: f[objection] == "1" || f[withdrawn] == "1",
                }
            })
            .collect();
        Ok(Self(rows))
    }

    /// Persons matching `pred` whose consent permits feasibility use (feasibility
    /// counts are opt-out: genetic data and images alike need no opt-in for it).
    fn count(&self, pred: TruthPredicate) -> u64 {
        self.0.iter().filter(|r| !r.excluded && pred(r)).count() as u64
    }
}

/// `imaging.csv` of the generator: person → days from diagnosis to a chest CT
/// (absent file: no images).
fn chest_ct_days(path: &std::path::Path) -> anyhow::Result<std::collections::HashMap<String, i64>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Default::default());
    };
    let mut out = std::collections::HashMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(f.len() == 5, "{}: malformed line {line}", path.display());
        if f[2] == "CHEST" {
            let days: i64 = f[4].parse()?;
            let e = out.entry(f[0].to_owned()).or_insert(days);
            *e = (*e).min(days);
        }
    }
    Ok(out)
}
