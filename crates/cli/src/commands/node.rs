//! `oncofed node ...`: the site node.

use crate::output::{print_json, read_secret};
use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use oncofed_model::{CodeSystem, DataCategory, FactKind, Purpose};
use oncofed_node::FactFilter;
use oncofed_node::{ConsentGate, FactQuery, QueryService};
use oncofed_trustee_api::TrusteeClient;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

// Parsed once per process; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// Ingest FHIR R4 bundles (.json), NDJSON of bundles, Bulk NDJSON folders, and
    /// DICOM files (Part 10 or bare data sets) from the same files or folders.
    ///
    /// Each bundle lands atomically: a bundle with an error lands nothing, and the
    /// error names the file, line, entry and field. Identifying data goes to the
    /// trust centre and is not stored. Re-ingesting the same data adds nothing.
    /// DICOM objects are linked to the patient through the trust centre,
    /// de-identified (PS3.15 with modified dates, keyed UIDs) and kept in the
    /// image archive; one that cannot be read, linked or cleaned is quarantined
    /// with its reason. Exits with status 2 when any bundle was rejected or any
    /// object quarantined, 3 when SIGTERM or Ctrl-C stopped it (the chunk under
    /// way is committed; run it again to finish).
    Ingest(Box<super::node_ingest::IngestArgs>),
    /// Print the data-quality report: completeness per field, invalid codes, implausible values.
    Quality(QualityArgs),
    /// Query the local research store; only rows whose patients' consent permits
    /// the purpose come back (checked against a consent snapshot synced from the
    /// trust centre's signed feed; a snapshot it cannot renew within
    /// --consent-max-staleness means no rows).
    Query(QueryArgs),
    /// Serve the consent-filtered local query API (loopback by default).
    Serve(ServeArgs),
    /// Create the site's Ed25519 key pair (the private key stays in --key-file) and
    /// print the public key to register at the hub.
    Keygen(KeygenArgs),
    /// Connect to the research hub (outbound only) and answer its tasks: long-polls
    /// for tasks sealed by the pinned hub key, refuses forged, expired, misaddressed
    /// or replayed ones, answers feasibility with consent and disclosure control.
    /// Syncs the consent snapshot from the trust centre's signed feed every 2 s
    /// (with the deletion orders); past --consent-max-staleness nothing is released.
    /// Keeps the hub's newest signed audit checkpoint in DATA_DIR/audit-witness.json
    /// for `oncofed audit verify --witness`.
    Agent(Box<AgentArgs>),
    /// Receive DICOM objects by C-STORE (an SCP for modalities and PACS): each is
    /// linked through the trust centre, de-identified and stored like an ingested
    /// file; one that cannot be is quarantined and refused with a failure status,
    /// so the sender keeps it. Only the calling AE titles given are let in.
    DicomScp(Box<super::node_imaging::ScpArgs>),
    /// Deliver an approved project's images: the de-identified objects of the
    /// site's patients matching the project's criteria, whose consent permits
    /// imaging for research today, under project pseudonyms and UIDs, to a
    /// folder or a research PACS (C-STORE). Head/neck CT/MR volumes stay at the
    /// site (no defacing).
    DeliverImages(Box<super::node_imaging::DeliverArgs>),
    /// Import an expert panel's validated cell labels (`oncofed labels
    /// validate`): each becomes the cell's label for training and evaluation,
    /// the smears' counts and blast percentages are recomputed; all in one
    /// transaction, refused whole if a row names a cell this site lacks.
    ImportLabels(Box<super::node_cells::ImportLabelsArgs>),
    /// Run a released cell classifier on every cell whose person's consent
    /// permits research use, and store its predictions (label role `model`):
    /// smears without expert labels get their blast percentage from it.
    ClassifyCells(Box<super::node_cells::ClassifyCellsArgs>),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where the private key lives (created with mode 0600 if missing).
    #[arg(long)]
    key_file: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    trustee: TrusteeArgs,
    #[command(flatten)]
    imaging: super::node_imaging::ImagingArgs,
    /// This site's id, as registered at the hub.
    #[arg(long)]
    site: oncofed_model::SiteId,
    /// Base URL of the hub.
    #[arg(long, env = "ONCOFED_HUB_URL", default_value = "http://127.0.0.1:8730")]
    hub: String,
    /// The site's private key (from `oncofed node keygen`).
    #[arg(long)]
    key_file: PathBuf,
    /// The hub's public key (pinned; printed by `oncofed hub serve`).
    #[arg(long)]
    hub_key: oncofed_crypto::PublicKey,
    /// Seconds each poll waits at the hub.
    #[arg(long, default_value_t = 25)]
    poll_wait: u64,
    /// The federation's roster: one `site-id public-key` line per site (this
    /// site included), distributed like the hub key, never fetched from the hub.
    /// Secure aggregation counts only peers signed by a key on it; without it
    /// the site takes part in no analysis.
    #[arg(long)]
    roster: Option<PathBuf>,
    /// Fewest sites this site aggregates with (`n_min`; the Shamir threshold is
    /// `max(n_min, floor(2n/3) + 1)`).
    #[arg(long, default_value_t = oncofed_secagg::SitePolicy::DEFAULT_MIN_SITES)]
    secagg_min_sites: usize,
    /// Longest survival horizon (days) this site computes, whatever the hub's
    /// signed run plan allows.
    #[arg(long, default_value_t = oncofed_node::agent::SiteBounds::DEFAULT.max_horizon_days)]
    max_horizon_days: u32,
    /// Most time-grid points or histogram edges this site accepts.
    #[arg(long, default_value_t = oncofed_node::agent::SiteBounds::DEFAULT.max_grid_points)]
    max_grid_points: usize,
    /// Longest vector this site computes and masks for one round.
    #[arg(long, default_value_t = oncofed_node::agent::SiteBounds::DEFAULT.max_vector_len)]
    max_vector_len: usize,
    /// Most aggregation rounds this site keys for one run.
    #[arg(long, default_value_t = oncofed_node::agent::SiteBounds::DEFAULT.max_rounds)]
    max_rounds: usize,
    /// Let survival analyses sum over exact event days when their project's
    /// approval allows it. Off by default: this site then sums only over time
    /// bins that hold at least the minimum cell of exits and deaths, so that
    /// no sum reaching the hub covers fewer persons.
    #[arg(long)]
    allow_exact_times: bool,
    /// This site's lifetime privacy budget (ε) for feasibility counts, whatever
    /// the hub allows: every distinct query costs the ε of its noise (0.1 at
    /// levels 1-3, 0.05 at level 4), a repeat or recognised rewording nothing;
    /// past the budget the site refuses. Kept in the store (basic composition).
    #[arg(long, default_value_t = oncofed_node::agent::DEFAULT_LIFETIME_EPSILON, value_parser = positive_epsilon)]
    lifetime_epsilon: f64,
    /// Population allele frequencies for pricing Beacon answers: a TSV
    /// `chrom pos ref alt af` on GRCh38 (e.g. cut from gnomAD), loaded at start.
    /// Without it the site prices with the frequency it observes among its
    /// consented carriers.
    #[arg(long)]
    beacon_frequencies: Option<PathBuf>,
}

/// An Ed25519 public key in base64, boxed: the key is large and clap's
/// argument structs travel inside one enum.
fn boxed_public_key(s: &str) -> Result<Box<oncofed_crypto::PublicKey>, String> {
    s.parse().map(Box::new).map_err(|e| format!("{e}"))
}

/// A finite ε greater than zero.
fn positive_epsilon(s: &str) -> Result<f64, String> {
    let e: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if e.is_finite() && e > 0.0 {
        Ok(e)
    } else {
        Err("must be a finite number greater than 0".into())
    }
}

#[derive(Debug, Args)]
pub(super) struct StoreArgs {
    /// The node's data directory (holds research.db, or with --store-url only the
    /// node's secrets and state files).
    #[arg(long, env = "ONCOFED_NODE_DATA_DIR")]
    pub(super) data_dir: PathBuf,
    /// Keep the research store in this PostgreSQL database instead of research.db,
    /// e.g. postgres://oncofed@127.0.0.1:5432/site1 (loopback or a Unix socket:
    /// no TLS to PostgreSQL yet). Give every command of this node the same URL.
    #[arg(long, env = "ONCOFED_NODE_STORE_URL", value_name = "URL")]
    store_url: Option<String>,
}

impl StoreArgs {
    /// Opens the research store these options name.
    pub(super) async fn open(&self) -> anyhow::Result<oncofed_node::SharedStore> {
        let location = match &self.store_url {
            Some(url) => oncofed_node::StoreLocation::Postgres(url.clone()),
            None => oncofed_node::StoreLocation::Embedded(self.data_dir.clone()),
        };
        Ok(oncofed_node::open_store_at(&location).await?)
    }
}

#[derive(Debug, Args)]
pub(super) struct TrusteeArgs {
    /// Base URL of the trust centre.
    #[arg(
        long,
        env = "ONCOFED_TRUSTEE_URL",
        default_value = "http://127.0.0.1:8710"
    )]
    trustee: String,
    /// File holding this site's bearer token for the trust centre (from `oncofed trustee add-site`).
    #[arg(long, env = "ONCOFED_TRUSTEE_TOKEN_FILE")]
    token_file: PathBuf,
    /// Seconds the local consent snapshot answers before a query first syncs it
    /// with the trust centre's consent feed (the agent also syncs every 2 s).
    #[arg(long, alias = "consent-ttl", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    consent_sync_interval: u64,
    /// Seconds the consent snapshot may answer while the trust centre cannot be
    /// reached (or its feed is refused); past this every query fails closed and
    /// releases nothing. 10 to 86400.
    #[arg(long, env = "ONCOFED_CONSENT_MAX_STALENESS", default_value_t = oncofed_node::DEFAULT_MAX_STALENESS.as_secs(), value_parser = clap::value_parser!(u64).range(10..=86_400))]
    consent_max_staleness: u64,
    /// The trust centre's signing key (base64; `oncofed trustee serve` prints
    /// it): consent feed pages signed by any other key are refused. Without it
    /// the key is fetched on first contact (trusting that TLS connection) and
    /// pinned in DATA_DIR/trustee-feed-key.pub for every later start.
    #[arg(long, env = "ONCOFED_TRUSTEE_KEY", value_parser = boxed_public_key)]
    trustee_key: Option<Box<oncofed_crypto::PublicKey>>,
    /// TLS towards the trust centre (and, for the agent, the hub).
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
}

impl TrusteeArgs {
    pub(super) fn client(&self) -> anyhow::Result<TrusteeClient> {
        Ok(TrusteeClient::with_tls(
            &self.trustee,
            &read_secret(&self.token_file)?,
            &self.tls.client_tls(),
        )?)
    }

    /// The consent gate; a key pinned on first use is remembered in
    /// `DATA_DIR/trustee-feed-key.pub` when none is configured.
    pub(super) fn gate(&self, data_dir: &std::path::Path) -> anyhow::Result<Arc<ConsentGate>> {
        let mut gate = ConsentGate::new(
            self.client()?,
            Duration::from_secs(self.consent_sync_interval),
        )
        .with_max_staleness(Duration::from_secs(self.consent_max_staleness));
        gate = match &self.trustee_key {
            Some(key) => gate.with_trustee_key(**key),
            None => gate
                .with_key_file(data_dir.join("trustee-feed-key.pub"))
                .context("consent feed key file")?,
        };
        Ok(Arc::new(gate))
    }
}

#[derive(Debug, Args)]
pub struct QualityArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    trustee: TrusteeArgs,
    /// Only facts of this kind: diagnosis, observation, molecular, procedure, medication.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<FactKind>,
    /// Only codes of this system, e.g. icd-10-gm, loinc, hgnc, ops, atc.
    #[arg(long, value_parser = parse_system)]
    system: Option<CodeSystem>,
    /// Only codes starting with this, e.g. C92 (AML and other myeloid leukaemias).
    #[arg(long)]
    code_prefix: Option<String>,
    /// Only this data category: clinical, genetic, imaging, pathology, text.
    #[arg(long)]
    category: Option<DataCategory>,
    /// What the data is for: research or feasibility.
    #[arg(long, default_value = "research")]
    purpose: Purpose,
    /// Date of use, YYYY-MM-DD (default today).
    #[arg(long)]
    date: Option<NaiveDate>,
    /// At most this many rows.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    trustee: TrusteeArgs,
    /// Address to listen on. Keep it on loopback unless a proxy with TLS fronts it.
    #[arg(long, default_value = "127.0.0.1:8720")]
    listen: SocketAddr,
    /// File holding the bearer token callers of this API must present.
    #[arg(long)]
    api_token_file: PathBuf,
    /// HTTPS for this service.
    #[command(flatten)]
    server_tls: super::tls_args::ServerTlsArgs,
    /// Also serve GET /htsget/variants/{id} for an approved project's
    /// researcher (repeat for several projects): a JSON grant file naming the
    /// project, its key file, the researcher's token file and Crypt4GH public
    /// key file ({"project", "project_key_file", "token_file",
    /// "researcher_public_key_file"}). Regions of a person's VCF are delivered
    /// Crypt4GH-encrypted to that key, with the genetic opt-in only, and
    /// recorded in DATA_DIR/delivery-audit.db.
    #[arg(long, value_name = "FILE")]
    htsget_grant: Vec<PathBuf>,
    /// The site's signing key (as for `oncofed node agent`), with
    /// --htsget-grant: it signs the delivery audit trail's checkpoints.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    #[command(flatten)]
    imaging: super::node_imaging::ImagingArgs,
    #[command(flatten)]
    sequencing: super::node_imaging::SequencingArgs,
    /// The hub portal's base URL (e.g. https://hub.example.org), linked from
    /// the site admin's pages (/admin, signed in with the API token) for the
    /// site's projects and contribution ledger.
    #[arg(long, value_name = "URL")]
    hub_portal: Option<String>,
}

fn parse_kind(s: &str) -> Result<FactKind, String> {
    FactKind::from_name(s).ok_or_else(|| {
        format!(
            "unknown kind '{s}': use diagnosis, observation, molecular, procedure, medication or imaging"
        )
    })
}

fn parse_system(s: &str) -> Result<CodeSystem, String> {
    CodeSystem::from_name(s).ok_or_else(|| {
        let names: Vec<_> = CodeSystem::ALL.iter().map(|c| c.as_str()).collect();
        format!("unknown code system '{s}': use one of {}", names.join(", "))
    })
}

pub async fn run(cmd: NodeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        NodeCommand::Ingest(a) => super::node_ingest::ingest(*a).await,
        NodeCommand::Quality(a) => quality(a).await,
        NodeCommand::Query(a) => query(a).await,
        NodeCommand::Serve(a) => serve(a).await,
        NodeCommand::DicomScp(a) => super::node_imaging::scp(*a).await,
        NodeCommand::DeliverImages(a) => super::node_imaging::deliver(*a).await,
        NodeCommand::ImportLabels(a) => super::node_cells::import_labels(*a).await,
        NodeCommand::ClassifyCells(a) => super::node_cells::classify_cells(*a).await,
        NodeCommand::Keygen(a) => {
            let key = oncofed_crypto::SigningKeyPair::load_or_create(&a.key_file)?;
            if a.json {
                print_json(
                    &serde_json::json!({ "public_key": key.public_key(), "key_file": a.key_file }),
                )?;
            } else {
                println!("{}", key.public_key());
            }
            Ok(ExitCode::SUCCESS)
        }
        NodeCommand::Agent(a) => agent(*a).await,
    }
}

async fn quality(a: QualityArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open().await?;
    // Recorded for the site admin's quality trend (`oncofed node serve`, /admin/quality).
    let report = oncofed_node::quality::report_and_record(&store).await?;
    if a.json {
        print_json(&report)?;
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn query(a: QueryArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open().await?;
    let service = QueryService::new(store, a.trustee.gate(&a.store.data_dir)?);
    let filter = FactFilter {
        kind: a.kind,
        system: a.system,
        code_prefix: a.code_prefix,
        category: a.category,
        limit: Some(a.limit),
    };
    let answer = service
        .facts(&FactQuery {
            filter,
            purpose: a.purpose,
            date: a.date,
        })
        .await?;
    if a.json {
        print_json(&answer)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} facts of {} patients released; {} withheld by consent",
        answer.facts.len(),
        answer.patients,
        answer.withheld
    );
    for f in &answer.facts {
        let value = match &f.fact.value {
            oncofed_model::FactValue::None => String::new(),
            oncofed_model::FactValue::Quantity { value, unit } => format!("{value} {unit}"),
            oncofed_model::FactValue::Code(c) => format!("{}|{}", c.system, c.code),
        };
        let date = f.fact.start.map(|d| d.to_string()).unwrap_or_default();
        println!(
            "{}  {:<11} {:<10} {:<12} {:<20} {}",
            f.pseudonym,
            f.fact.kind.as_str(),
            f.fact.code.system,
            f.fact.code.code,
            value,
            date
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = a.store.open().await?;
    let gate = a.trustee.gate(&a.store.data_dir)?;
    let service = QueryService::new(store.clone(), gate.clone());
    let token = read_secret(&a.api_token_file)?;
    let tls = a.server_tls.acceptor()?;
    // The site admin's pages (/admin), signed in with the same token.
    let pages = oncofed_node::admin_pages::AdminPages::new(
        store.clone(),
        &token,
        tls.is_some(),
        a.hub_portal.clone(),
    );
    let mut state = oncofed_node::serve::ApiState::new(service, &token).with_admin_pages(pages);
    if !a.htsget_grant.is_empty() {
        let grants = a
            .htsget_grant
            .iter()
            .map(|p| oncofed_node::htsget::HtsgetGrant::from_file(p).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let key_file = a
            .key_file
            .as_ref()
            .context("--htsget-grant needs --key-file (the site's signing key, for the delivery audit trail)")?;
        let key = oncofed_crypto::SigningKeyPair::load_or_create(key_file)
            .with_context(|| format!("site key {}", key_file.display()))?;
        let audit_file = a.store.data_dir.join("delivery-audit.db");
        let audit = oncofed_node::imaging::deliver::DeliveryAudit::open(
            &audit_file,
            key,
            oncofed_audit::DEFAULT_CHECKPOINT_EVERY,
        )
        .with_context(|| format!("delivery audit trail {}", audit_file.display()))?;
        state = state.with_htsget(oncofed_node::htsget::HtsgetState {
            store,
            gate,
            setup: a.sequencing.setup(&a.imaging, &a.store.data_dir)?,
            audit: std::sync::Arc::new(audit),
            grants: std::sync::Arc::new(grants),
        });
    }
    let insecure = a.server_tls.insecure_http();
    oncofed_tls::check_bind(a.listen, tls.is_some(), insecure)?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let shutdown = oncofed_service::shutdown_signal();
    eprintln!(
        "node API listening on {}://{}",
        a.server_tls.scheme(),
        listener.local_addr()?
    );
    oncofed_node::serve::launch(state, listener, tls.as_ref(), insecure, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn agent(a: AgentArgs) -> anyhow::Result<ExitCode> {
    use oncofed_node::agent::{Agent, AgentConfig, SiteSecret};
    let store = a.store.open().await?;
    let secret = SiteSecret::load_or_create(&a.store.data_dir.join("noise.secret"))
        .context("cannot read or create the noise secret")?;
    let config = AgentConfig {
        site: a.site,
        hub_url: a.hub,
        key: oncofed_crypto::SigningKeyPair::load_or_create(&a.key_file)?,
        hub_key: a.hub_key,
        secret,
        poll_wait: a.poll_wait,
        roster: match &a.roster {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the roster {}", path.display()))?;
                oncofed_secagg::Roster::parse(&text)
                    .with_context(|| format!("roster {}", path.display()))?
            }
            None => oncofed_secagg::Roster::new(),
        },
        secagg: oncofed_secagg::SitePolicy {
            min_sites: a.secagg_min_sites,
        },
        bounds: oncofed_node::agent::SiteBounds {
            max_horizon_days: a.max_horizon_days,
            max_grid_points: a.max_grid_points,
            max_vector_len: a.max_vector_len,
            max_rounds: a.max_rounds,
            allow_exact_times: a.allow_exact_times,
            ..oncofed_node::agent::SiteBounds::DEFAULT
        },
        lifetime_epsilon: a.lifetime_epsilon,
    };
    eprintln!("agent for {} polling {}", config.site, config.hub_url);
    if config.roster.key(config.site.as_str()) != Some(&config.key.public_key()) {
        eprintln!(
            "warning: this site's key is not on its roster (--roster); it will refuse every analysis"
        );
    }
    let gate = a.trustee.gate(&a.store.data_dir)?;
    // Withdrawals: deletion orders from the trust centre, polled alongside hub
    // tasks; they delete the person's image objects too.
    let withdrawals = tokio::spawn(
        oncofed_node::withdrawal::WithdrawalPoller::new(
            a.trustee.client()?,
            store.clone(),
            gate.clone(),
        )
        .with_archive(a.imaging.archive(&a.store.data_dir)?)
        .run(oncofed_service::shutdown_signal()),
    );
    let witness_file = a.store.data_dir.join(oncofed_node::agent::WITNESS_FILE);
    let witness = oncofed_node::agent::AuditWitness::open(&witness_file, config.hub_key)
        .with_context(|| format!("audit witness {}", witness_file.display()))?;
    let mut beacon = oncofed_node::agent::BeaconSite::default();
    if let Some(path) = &a.beacon_frequencies {
        let table = oncofed_node::agent::beacon::AlleleFrequencies::read(
            path,
            oncofed_model::GenomeBuild::Grch38,
        )?;
        eprintln!(
            "beacon: {} allele frequencies from {}",
            table.len(),
            path.display()
        );
        beacon.frequencies = Some(std::sync::Arc::new(table));
    }
    Agent::new(config, store, gate)
        .with_tls(&a.trustee.tls.client_tls())?
        .with_audit_witness(witness)
        .with_beacon(beacon)
        .with_cell_archive(a.imaging.archive(&a.store.data_dir)?)
        .run(oncofed_service::shutdown_signal())
        .await;
    withdrawals.abort();
    Ok(ExitCode::SUCCESS)
}
