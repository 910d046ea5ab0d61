//! `oncofed trustee ...`: the trust centre.

use crate::output::{print_json, read_secret};
use anyhow::Context;
use clap::{Args, Subcommand};
use oncofed_model::SiteId;
use oncofed_trustee::{SiteRegistry, TrusteeConfig, hash_token};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub use oncofed_service::tokens::{new_token, write_secret};

#[derive(Debug, Subcommand)]
pub enum TrusteeCommand {
    /// Run the trust centre: pseudonyms, linkage and the consent registry over HTTP.
    ///
    /// The pseudonym key is created on first start (mode 0600) and must be backed up
    /// with the data directory: a new key changes every pseudonym. Only sites listed
    /// in the sites file can call it (registration is closed). Prints its signing
    /// key (DATA_DIR/audit.key, created on first start): sites pin it with
    /// `oncofed node ... --trustee-key` to verify the consent feed.
    Serve(ServeArgs),
    /// Register a site: create a random token, write it to --token-out (mode 0600)
    /// and append its hash to the sites file. Restart the trust centre to load it.
    AddSite(AddSiteArgs),
    /// Clerical review of possible matches from probabilistic linkage (admin token).
    ///
    /// A possible match is a record the trust centre could neither link nor separate
    /// with confidence (score between the two thresholds); it was given a new person.
    /// Deciding `match` merges the two persons, so both local ids share one research
    /// pseudonym from then on. Every decision is audited with the reviewer's name.
    /// The output shows identifying data: for trust-centre staff only.
    #[command(subcommand)]
    Review(super::review::ReviewCommand),
    /// Re-key the probabilistic blocking index (stop the service first).
    ///
    /// Every record is re-indexed from its stored comparison record under the key
    /// in --new-key-file (created if missing, mode 0600) in one transaction; the
    /// store then records the new key's fingerprint and refuses the old one.
    /// Start the service again with `--linkage-key-file NEW`. Without
    /// --linkage-key-file the current key is the one derived from the pseudonym
    /// key (the default), so this also moves a store to a key file of its own.
    RotateLinkageKey(RotateLinkageKeyArgs),
    /// One-time access codes to the patients' portal (`/patient` on the trust
    /// centre), issued by staff for the person behind a site pseudonym.
    #[command(subcommand)]
    AccessCode(super::access_code::AccessCodeCommand),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of the trust centre's store (trustee.db), audit trail and keys;
    /// created with mode 0700.
    #[arg(long, env = "ONCOFED_TRUSTEE_DATA_DIR")]
    data_dir: PathBuf,
    /// Keep the store (persons, IDAT, pseudonyms, consents, orders) in this
    /// PostgreSQL database instead of DATA_DIR/trustee.db, e.g.
    /// postgres://oncofed@127.0.0.1:5432/trustee (loopback or a Unix socket: no
    /// TLS to PostgreSQL yet). Use a database of its own, never a site's. The
    /// audit trail and the keys stay in DATA_DIR; back up the pseudonym key with
    /// the database, which refuses any other key.
    #[arg(long, env = "ONCOFED_TRUSTEE_STORE_URL", value_name = "URL")]
    store_url: Option<String>,
    /// Address to listen on. Keep it on loopback unless a TLS proxy fronts it.
    #[arg(long, default_value = "127.0.0.1:8710")]
    listen: SocketAddr,
    /// File of the pseudonym key (default: DATA_DIR/pseudonym.key, created if missing).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// File of registered sites, lines `site-id sha256-of-token` (default: DATA_DIR/sites.txt).
    #[arg(long)]
    sites_file: Option<PathBuf>,
    /// File of the key of the probabilistic blocking index (32 random bytes,
    /// created with mode 0600 if missing; kept out of the database, which holds
    /// only its fingerprint). Default: a key derived from the pseudonym key, which
    /// cannot be rotated on its own; see `rotate-linkage-key`.
    #[arg(long, env = "ONCOFED_TRUSTEE_LINKAGE_KEY_FILE")]
    linkage_key_file: Option<PathBuf>,
    /// File holding the admin token (enables the admin consent endpoint).
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// Name or office of the ombudsperson the patients' portal shows (without
    /// it the portal points to the treating hospital and the supervisory authority).
    #[arg(long, value_name = "NAME")]
    ombudsperson: Option<String>,
    /// The ombudsperson's telephone number.
    #[arg(long, value_name = "PHONE", requires = "ombudsperson")]
    ombudsperson_phone: Option<String>,
    /// The ombudsperson's e-mail address.
    #[arg(long, value_name = "EMAIL", requires = "ombudsperson")]
    ombudsperson_email: Option<String>,
    /// The ombudsperson's postal address, one line.
    #[arg(long, value_name = "ADDRESS", requires = "ombudsperson")]
    ombudsperson_address: Option<String>,
    /// HTTPS for this service.
    #[command(flatten)]
    server_tls: super::tls_args::ServerTlsArgs,
}

#[derive(Debug, Args)]
pub struct RotateLinkageKeyArgs {
    /// Data directory of the trust centre (as for `serve`).
    #[arg(long, env = "ONCOFED_TRUSTEE_DATA_DIR")]
    data_dir: PathBuf,
    /// The PostgreSQL store, if the service uses one (as for `serve`).
    #[arg(long, env = "ONCOFED_TRUSTEE_STORE_URL", value_name = "URL")]
    store_url: Option<String>,
    /// File of the pseudonym key (default: DATA_DIR/pseudonym.key).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// File of registered sites (default: DATA_DIR/sites.txt).
    #[arg(long)]
    sites_file: Option<PathBuf>,
    /// The linkage key file the service uses now (default: derived from the pseudonym key).
    #[arg(long, env = "ONCOFED_TRUSTEE_LINKAGE_KEY_FILE")]
    linkage_key_file: Option<PathBuf>,
    /// The new linkage key file (created with 32 random bytes if missing).
    #[arg(long)]
    new_key_file: PathBuf,
}

#[derive(Debug, Args)]
pub struct AddSiteArgs {
    /// The sites file to append to (created if missing).
    #[arg(long)]
    sites_file: PathBuf,
    /// The site's id, e.g. uk-essen (a-z, 0-9, '-').
    #[arg(long)]
    site: SiteId,
    /// Where to write the new token; give this file to the site node (--token-file).
    #[arg(long)]
    token_out: PathBuf,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: TrusteeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TrusteeCommand::Serve(a) => serve(a).await,
        TrusteeCommand::AddSite(a) => add_site(a),
        TrusteeCommand::RotateLinkageKey(a) => rotate_linkage_key(a).await,
        TrusteeCommand::Review(cmd) => super::review::run(cmd).await,
        TrusteeCommand::AccessCode(cmd) => super::access_code::run(cmd).await,
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let key_file = a
        .key_file
        .unwrap_or_else(|| a.data_dir.join("pseudonym.key"));
    let sites_file = a.sites_file.unwrap_or_else(|| a.data_dir.join("sites.txt"));
    if let Some(dir) = key_file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut config = TrusteeConfig::from_files(&a.data_dir, &key_file, &sites_file)
        .context("register a site first: oncofed trustee add-site --sites-file ... --site ... --token-out ...")?;
    if let Some(f) = &a.admin_token_file {
        config = config.with_admin_token_hash(&hash_token(&read_secret(f)?))?;
    }
    if let Some(url) = a.store_url {
        config = config.with_store_url(url);
    }
    if let Some(f) = &a.linkage_key_file {
        config = config.with_linkage_key_file(f)?;
    }
    if let Some(name) = a.ombudsperson {
        config = config.with_ombudsperson(oncofed_trustee::Ombudsperson {
            name,
            phone: a.ombudsperson_phone,
            email: a.ombudsperson_email,
            address: a.ombudsperson_address,
        });
    }
    let tls = a.server_tls.acceptor()?;
    // Checked before binding, so a refused address is never even opened.
    oncofed_tls::check_bind(a.listen, tls.is_some(), a.server_tls.insecure_http())?;
    if let Some(tls) = tls {
        config = config.with_tls(tls);
    }
    config = config.with_insecure_http(a.server_tls.insecure_http());
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let shutdown = oncofed_service::shutdown_signal();
    let signing = signing_key(&a.data_dir)?;
    eprintln!(
        "trust centre listening on {}://{}\nsigning key (consent feed, audit trail; pin it at sites with --trustee-key): {signing}",
        a.server_tls.scheme(),
        listener.local_addr()?
    );
    oncofed_trustee::launch(config, listener, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

async fn rotate_linkage_key(a: RotateLinkageKeyArgs) -> anyhow::Result<ExitCode> {
    let key_file = a
        .key_file
        .unwrap_or_else(|| a.data_dir.join("pseudonym.key"));
    let sites_file = a.sites_file.unwrap_or_else(|| a.data_dir.join("sites.txt"));
    let mut config = TrusteeConfig::from_files(&a.data_dir, &key_file, &sites_file)?;
    if let Some(url) = a.store_url {
        config = config.with_store_url(url);
    }
    if let Some(f) = &a.linkage_key_file {
        config = config.with_linkage_key_file(f)?;
    }
    let new_key_file = a.new_key_file;
    // The PostgreSQL client blocks: off the async runtime.
    let records = tokio::task::spawn_blocking(move || {
        oncofed_trustee::rotate_linkage_key(&config, &new_key_file)
    })
    .await??;
    eprintln!(
        "re-indexed {records} records under the new linkage key; start the trust centre with \
         --linkage-key-file pointing to it"
    );
    Ok(ExitCode::SUCCESS)
}

/// The public half of the trust centre's signing key (`DATA_DIR/audit.key`,
/// created with the data directory, both owner-only, if missing), printed so
/// operators can pin it at the sites.
fn signing_key(data_dir: &Path) -> anyhow::Result<oncofed_crypto::PublicKey> {
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
    dir.create(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let key = oncofed_crypto::SigningKeyPair::load_or_create(data_dir.join("audit.key"))
        .context("trust-centre signing key")?;
    Ok(key.public_key())
}

fn add_site(a: AddSiteArgs) -> anyhow::Result<ExitCode> {
    // The file is read with the trust centre's own parser, so a file it would
    // refuse at start is reported now, with its line, and a site or token
    // already present is refused the way the service would.
    let existing = match std::fs::read_to_string(&a.sites_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", a.sites_file.display())),
    };
    let registry = SiteRegistry::parse(&existing, &a.sites_file)?;
    anyhow::ensure!(
        !registry.contains_site(a.site.as_str()),
        "site {} is already registered in {}",
        a.site,
        a.sites_file.display()
    );
    let token = new_token();
    write_secret(&a.token_out, &token)?;
    let mut sites = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.sites_file)
        .with_context(|| format!("cannot open {}", a.sites_file.display()))?;
    writeln!(sites, "{} {}", a.site, hash_token(&token))?;
    if a.json {
        print_json(
            &serde_json::json!({"site": a.site, "token_file": a.token_out, "sites_file": a.sites_file}),
        )?;
    } else {
        println!(
            "registered {} in {}; its token is in {}",
            a.site,
            a.sites_file.display(),
            a.token_out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
