//! `oncofed pki`: a federation CA and certificates for a pilot.

use crate::output::print_json;
use clap::{Args, Subcommand};
use oncofed_model::SiteId;
use oncofed_tls::pki::{CertificateAuthority, write_issued};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum PkiCommand {
    /// Create a federation CA with certificates for the trust centre, hub and node
    /// API and one client certificate per site.
    ///
    /// Example: oncofed pki init --dir pki --host tc.example.org --host 10.0.0.5 --site uk-essen --site uk-koeln
    ///
    /// Then: oncofed trustee serve --tls-cert pki/trustee.pem --tls-key pki/trustee.key
    /// --tls-client-ca pki/ca.pem ..., and on each site --ca pki/ca.pem
    /// --client-cert pki/site-<id>.pem --client-key pki/site-<id>.key. Keep ca.key
    /// offline once the pilot's certificates are issued.
    Init(InitArgs),
    /// Issue a client certificate for a site that joins later (urn:oncofed:site:<id>).
    Site(SiteArgs),
    /// Issue a server certificate for a service on further host names.
    Service(ServiceArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to create the CA and certificates in (refused if it already holds a CA).
    #[arg(long)]
    dir: PathBuf,
    /// The CA's common name.
    #[arg(long, default_value = "OncoFed pilot federation CA")]
    name: String,
    /// Host names and IP addresses the services' certificates are valid for (repeatable).
    #[arg(long = "host", default_values_t = ["localhost".to_owned(), "127.0.0.1".to_owned()])]
    hosts: Vec<String>,
    /// A site to issue a client certificate for (repeatable).
    #[arg(long = "site")]
    sites: Vec<SiteId>,
    /// Validity in days of every certificate (the CA's too).
    #[arg(long, default_value_t = 397)]
    days: u32,
    /// Print the files written as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SiteArgs {
    /// The PKI directory of `oncofed pki init`.
    #[arg(long)]
    dir: PathBuf,
    /// The site's id, as registered at the trust centre and hub.
    #[arg(long)]
    site: SiteId,
    /// Validity in days.
    #[arg(long, default_value_t = 397)]
    days: u32,
    /// Print the files written as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The PKI directory of `oncofed pki init`.
    #[arg(long)]
    dir: PathBuf,
    /// The service: trustee, hub or node.
    #[arg(long, value_parser = ["trustee", "hub", "node"])]
    role: String,
    /// Host names and IP addresses the certificate is valid for (repeatable).
    #[arg(long = "host", required = true)]
    hosts: Vec<String>,
    /// File stem of the certificate in DIR (default: the role).
    #[arg(long)]
    name: Option<String>,
    /// Validity in days.
    #[arg(long, default_value_t = 397)]
    days: u32,
    /// Print the files written as JSON.
    #[arg(long)]
    json: bool,
}

/// One certificate written.
#[derive(Debug, Serialize)]
struct Written {
    /// What it is for.
    kind: String,
    /// The certificate file.
    cert: PathBuf,
    /// Its key file (mode 0600).
    key: PathBuf,
}

/// What a `pki` command wrote.
#[derive(Debug, Serialize)]
struct Report {
    ca: PathBuf,
    certificates: Vec<Written>,
}

/// Runs a `pki` command.
pub fn run(cmd: PkiCommand) -> anyhow::Result<ExitCode> {
    let (report, json) = match cmd {
        PkiCommand::Init(a) => (init(&a)?, a.json),
        PkiCommand::Site(a) => {
            let ca = CertificateAuthority::load(&a.dir)?;
            let issued = ca.issue_site(a.site.as_str(), a.days)?;
            let stem = format!("site-{}", a.site);
            let (cert, key) = write_issued(&a.dir, &stem, &issued)?;
            let kind = format!("client certificate of site {}", a.site);
            (report(&a.dir, vec![Written { kind, cert, key }]), a.json)
        }
        PkiCommand::Service(a) => {
            let ca = CertificateAuthority::load(&a.dir)?;
            let issued = ca.issue_service(&a.role, &a.hosts, a.days)?;
            let stem = a.name.clone().unwrap_or_else(|| a.role.clone());
            let (cert, key) = write_issued(&a.dir, &stem, &issued)?;
            let kind = format!(
                "server certificate of the {} for {}",
                a.role,
                a.hosts.join(", ")
            );
            (report(&a.dir, vec![Written { kind, cert, key }]), a.json)
        }
    };
    if json {
        print_json(&report)?;
    } else {
        println!(
            "CA certificate (give it to every service and site): {}",
            report.ca.display()
        );
        for w in &report.certificates {
            println!("{}: {} (key {})", w.kind, w.cert.display(), w.key.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report(dir: &Path, certificates: Vec<Written>) -> Report {
    Report {
        ca: dir.join("ca.pem"),
        certificates,
    }
}

fn init(a: &InitArgs) -> anyhow::Result<Report> {
    let sites: Vec<&str> = a.sites.iter().map(SiteId::as_str).collect();
    let written = oncofed_tls::pki::init_dir(&a.dir, &a.name, &a.hosts, &sites, a.days)?;
    let certificates = written
        .into_iter()
        .map(|w| Written {
            kind: w.kind,
            cert: w.cert,
            key: w.key,
        })
        .collect();
    Ok(report(&a.dir, certificates))
}
