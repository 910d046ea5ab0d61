//! The node's imaging options and commands: where de-identified objects are
//! kept, the site's UID key, the C-STORE SCP and project deliveries.

use anyhow::Context;
use clap::Args;
use oncofed_node::imaging::{ImagingSetup, ObjectArchive};
use std::path::{Path, PathBuf};

/// Where images go and how they are de-identified.
#[derive(Debug, Args)]
pub struct ImagingArgs {
    /// Keep de-identified DICOM objects here: a folder, or an object-store URL
    /// such as s3://bucket/prefix (S3-compatible; options from the
    /// AWS_* environment variables, e.g. AWS_ENDPOINT, AWS_ALLOW_HTTP).
    /// Default: DATA_DIR/images.
    #[arg(long, env = "ONCOFED_IMAGE_ARCHIVE", value_name = "DIR|URL")]
    image_archive: Option<String>,
    /// The site's secret for DICOM UIDs (64 hex digits); created on first use.
    /// Keep it with the site's other secrets: the same study gets the same UIDs
    /// only under the same key. Default: DATA_DIR/dicom-uid.key.
    #[arg(long, env = "ONCOFED_DICOM_UID_KEY_FILE", value_name = "FILE")]
    dicom_uid_key_file: Option<PathBuf>,
    /// Largest DICOM object taken, in MiB (it is held in memory while it is
    /// de-identified); a larger one is quarantined unread.
    #[arg(long, default_value_t = oncofed_node::imaging::DEFAULT_MAX_OBJECT_BYTES >> 20)]
    max_object_mib: u64,
}

impl ImagingArgs {
    /// The archive these options name.
    pub fn archive(&self, data_dir: &Path) -> anyhow::Result<ObjectArchive> {
        Ok(match &self.image_archive {
            Some(url) if url.contains("://") => {
                let options: Vec<(String, String)> = std::env::vars()
                    .filter(|(k, _)| k.starts_with("AWS_"))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v))
                    .collect();
                ObjectArchive::at_url(url, &options)?
            }
            Some(dir) => ObjectArchive::local(Path::new(dir))?,
            None => ObjectArchive::local(&data_dir.join("images"))?,
        })
    }

    /// The site's imaging setup: archive, UID key, limits.
    pub fn setup(&self, data_dir: &Path) -> anyhow::Result<ImagingSetup> {
        let key_file = self
            .dicom_uid_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("dicom-uid.key"));
        let key = oncofed_node::imaging::load_or_create_uid_key(&key_file)
            .with_context(|| format!("DICOM UID key {}", key_file.display()))?;
        let mut setup = ImagingSetup::new(&key, self.archive(data_dir)?);
        setup.max_object_bytes = self.max_object_mib.saturating_mul(1 << 20);
        Ok(setup)
    }
}

impl ImagingArgs {
    /// The site secret keyed ids are derived with (the DICOM UID key file,
    /// used under a domain label per use), created on first use.
    pub fn uid_key(&self, data_dir: &Path) -> anyhow::Result<[u8; 32]> {
        let key_file = self
            .dicom_uid_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("dicom-uid.key"));
        oncofed_node::imaging::load_or_create_uid_key(&key_file)
            .with_context(|| format!("site key {}", key_file.display()))
    }

    /// Where cell images go (the same archive as DICOM objects) and the site
    /// secret their smear and cell ids are keyed with (the DICOM UID key file,
    /// used under a domain label of its own).
    pub fn cell_setup(&self, data_dir: &Path) -> anyhow::Result<oncofed_node::cells::CellSetup> {
        let key = self.uid_key(data_dir)?;
        Ok(oncofed_node::cells::CellSetup::new(
            self.archive(data_dir)?,
            key,
        ))
    }
}

/// Ingest paths by reader.
#[derive(Debug, Default)]
pub struct SplitPaths {
    /// FHIR files and folders.
    pub fhir: Vec<PathBuf>,
    /// DICOM files and folders.
    pub dicom: Vec<PathBuf>,
    /// Cell-image batches.
    pub cells: Vec<PathBuf>,
    /// Sequencing batches.
    pub sequencing: Vec<PathBuf>,
}

/// Splits ingest paths: files that hold DICOM go to imaging only; folders go
/// to both readers (each takes its own files from them); cell-batch folders
/// (holding `smears.csv` and `cells.csv`) go to the cell ingest only, and
/// sequencing batches (holding `samples.csv`) to the sequencing ingest only.
pub fn split_paths(paths: &[PathBuf]) -> SplitPaths {
    let mut out = SplitPaths::default();
    let (fhir, dicom, cells) = (&mut out.fhir, &mut out.dicom, &mut out.cells);
    for p in paths {
        if oncofed_node::cells::is_cell_batch(p) {
            cells.push(p.clone());
        } else if oncofed_node::genomics::is_sequencing_batch(p) {
            out.sequencing.push(p.clone());
        } else if p.is_dir() {
            fhir.push(p.clone());
            dicom.push(p.clone());
        } else if oncofed_node::imaging::is_dicom_file(p) {
            dicom.push(p.clone());
        } else {
            fhir.push(p.clone());
        }
    }
    out
}

/// Where sequencing files go and the site's Crypt4GH key.
#[derive(Debug, Args)]
pub struct SequencingArgs {
    /// The site's Crypt4GH private key (the c4gh format `crypt4gh-keygen
    /// --nocrypt` writes); sequencing files are kept encrypted to it and can be
    /// read only with it. Created owner-only on first use: keep it with the
    /// site's other secrets. Default: DATA_DIR/sequences.c4gh.sec.
    #[arg(long, env = "ONCOFED_C4GH_KEY_FILE", value_name = "FILE")]
    c4gh_key_file: Option<PathBuf>,
}

impl SequencingArgs {
    /// The site's sequencing setup: the archive of `imaging`, its key file for
    /// keyed ids, the Crypt4GH key.
    pub fn setup(
        &self,
        imaging: &ImagingArgs,
        data_dir: &Path,
    ) -> anyhow::Result<oncofed_node::genomics::GenomicsSetup> {
        let key_file = self
            .c4gh_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("sequences.c4gh.sec"));
        let site_key = oncofed_node::genomics::load_or_create_site_key(&key_file)
            .with_context(|| format!("Crypt4GH key {}", key_file.display()))?;
        let uid_key = imaging.uid_key(data_dir)?;
        Ok(oncofed_node::genomics::GenomicsSetup::new(
            imaging.archive(data_dir)?,
            uid_key,
            site_key,
        ))
    }
}

/// `oncofed node dicom-scp`: receive DICOM objects by C-STORE.
#[derive(Debug, Args)]
pub struct ScpArgs {
    #[command(flatten)]
    pub(super) store: super::node::StoreArgs,
    #[command(flatten)]
    pub(super) trustee: super::node::TrusteeArgs,
    #[command(flatten)]
    imaging: ImagingArgs,
    /// This node's AE title; associations calling another title are rejected.
    #[arg(long, default_value = "ONCOFED")]
    ae_title: String,
    /// Where to listen (loopback by default; a modality network needs its address).
    #[arg(long, default_value = "127.0.0.1:11112")]
    bind: std::net::SocketAddr,
    /// A calling AE title allowed to send (repeat for several). None given:
    /// every association is refused.
    #[arg(long = "allow-calling-ae", value_name = "AE")]
    allowed_calling_aes: Vec<String>,
    /// Associations served at once.
    #[arg(long, default_value_t = 8)]
    max_associations: usize,
    /// Print the report as JSON on stdout when stopped.
    #[arg(long)]
    json: bool,
}

/// Runs the SCP until SIGTERM or Ctrl-C, then prints what it received.
pub async fn scp(a: ScpArgs) -> anyhow::Result<std::process::ExitCode> {
    use oncofed_dicom_net::{ScpConfig, StoreScp};
    let store = a.store.open().await?;
    let client = a.trustee.client()?;
    let setup = a.imaging.setup(&a.store.data_dir)?;
    if a.allowed_calling_aes.is_empty() {
        eprintln!("warning: no --allow-calling-ae given: every association will be refused");
    }
    let config = ScpConfig {
        ae_title: a.ae_title.clone(),
        bind: a.bind,
        allowed_calling_aes: a.allowed_calling_aes.clone(),
        max_associations: a.max_associations,
        max_object_bytes: setup.max_object_bytes,
        ..ScpConfig::default()
    };
    let sink = std::sync::Arc::new(oncofed_node::imaging::NodeSink::new(
        store,
        client,
        setup,
        tokio::runtime::Handle::current(),
    ));
    let scp = StoreScp::bind(config, sink.clone())?;
    eprintln!(
        "C-STORE SCP {} listening on {} (Ctrl-C stops)",
        a.ae_title,
        scp.local_addr()
    );
    let shutdown = scp.shutdown_handle();
    let serving = tokio::task::spawn_blocking(move || scp.serve());
    oncofed_service::shutdown_signal().await;
    shutdown.trigger();
    serving.await??;
    let report = sink.report();
    if a.json {
        crate::output::print_json(&report)?;
    } else {
        println!(
            "received: {} objects stored ({} new), {} quarantined",
            report.objects_stored,
            report.objects_new,
            report.quarantined_total()
        );
        for q in &report.quarantine {
            eprintln!("quarantined: {q}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `oncofed node deliver-images`: a project's images to a folder or a PACS.
#[derive(Debug, Args)]
pub struct DeliverArgs {
    #[command(flatten)]
    pub(super) store: super::node::StoreArgs,
    #[command(flatten)]
    pub(super) trustee: super::node::TrusteeArgs,
    #[command(flatten)]
    imaging: ImagingArgs,
    /// The approved project's id (recorded in the report).
    #[arg(long)]
    project: String,
    /// The project's key (64 hex digits), given to every site of the project
    /// with its approval: project pseudonyms and UIDs derive from it.
    #[arg(long, value_name = "FILE")]
    project_key_file: PathBuf,
    /// The project's cohort definition (feasibility criteria JSON, as approved):
    /// the site's patients matching it are the cohort.
    #[arg(long, value_name = "FILE")]
    criteria: PathBuf,
    /// Deliver into this folder (PROJECT_PSEUDONYM/STUDY_UID/SOP_UID.dcm).
    #[arg(long, value_name = "DIR", conflicts_with = "to_pacs")]
    to_folder: Option<PathBuf>,
    /// Deliver by C-STORE to this research PACS (host:port).
    #[arg(long, value_name = "HOST:PORT", requires = "called_ae")]
    to_pacs: Option<String>,
    /// The research PACS's AE title.
    #[arg(long, value_name = "AE")]
    called_ae: Option<String>,
    /// Our AE title towards the research PACS.
    #[arg(long, default_value = "ONCOFED")]
    calling_ae: String,
    /// The site's signing key (as for `oncofed node agent`): it signs the
    /// checkpoints of the site's delivery audit trail, DATA_DIR/delivery-audit.db
    /// (`oncofed audit verify` checks it).
    #[arg(long, value_name = "FILE")]
    key_file: PathBuf,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Delivers, then prints the report.
pub async fn deliver(a: DeliverArgs) -> anyhow::Result<std::process::ExitCode> {
    use oncofed_node::imaging::deliver::{self, FolderTarget, ProjectKey, ScuTarget};
    let key_text = std::fs::read_to_string(&a.project_key_file)
        .with_context(|| format!("project key {}", a.project_key_file.display()))?;
    let key = ProjectKey::from_hex(&key_text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.project_key_file.display()))?;
    let criteria: oncofed_criteria::Criteria = serde_json::from_slice(
        &std::fs::read(&a.criteria).with_context(|| a.criteria.display().to_string())?,
    )
    .with_context(|| format!("criteria {}", a.criteria.display()))?;
    criteria
        .validate()
        .map_err(|e| anyhow::anyhow!("criteria {}: {e}", a.criteria.display()))?;
    let store = a.store.open().await?;
    let setup = a.imaging.setup(&a.store.data_dir)?;
    let gate = a.trustee.gate(&a.store.data_dir)?;
    let shared = store.clone();
    let cohort: Vec<oncofed_model::Pseudonym> = tokio::task::spawn_blocking(move || {
        let guard = shared.lock().unwrap_or_else(|p| p.into_inner());
        guard.feasibility(&criteria)
    })
    .await??
    .into_iter()
    .map(|(site, _)| site)
    .collect();
    let mut target: Box<dyn deliver::DeliveryTarget> = match (&a.to_folder, &a.to_pacs) {
        (Some(dir), None) => Box::new(FolderTarget(dir.clone())),
        (None, Some(address)) => Box::new(ScuTarget {
            scu: oncofed_dicom_net::StoreScu {
                calling_ae: a.calling_ae.clone(),
                ..Default::default()
            },
            destination: oncofed_dicom_net::Destination {
                address: address.clone(),
                called_ae: a.called_ae.clone().unwrap_or_default(),
            },
        }),
        _ => anyhow::bail!("give --to-folder DIR or --to-pacs HOST:PORT --called-ae AE"),
    };
    let today = chrono::Utc::now().date_naive();
    let request = deliver::DeliveryRequest {
        project: a.project.clone(),
        key,
        cohort,
        today,
    };
    let key = oncofed_crypto::SigningKeyPair::load_or_create(&a.key_file)
        .with_context(|| format!("site key {}", a.key_file.display()))?;
    let audit_file = a.store.data_dir.join("delivery-audit.db");
    let audit =
        deliver::DeliveryAudit::open(&audit_file, key, oncofed_audit::DEFAULT_CHECKPOINT_EVERY)
            .with_context(|| format!("delivery audit trail {}", audit_file.display()))?;
    let report = deliver::deliver(&store, &gate, &setup, &audit, &request, target.as_mut()).await?;
    if a.json {
        crate::output::print_json(&report)?;
    } else {
        println!(
            "{}: {} objects of {} persons delivered to {}; {} withheld by consent, {} head/neck objects kept at the site",
            report.project,
            report.objects_delivered,
            report.persons_delivered,
            report.target,
            report.objects_refused_consent,
            report.objects_withheld_face
        );
        for f in &report.failures {
            eprintln!("not delivered: {f}");
        }
    }
    Ok(if report.failures.is_empty() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(2)
    })
}
