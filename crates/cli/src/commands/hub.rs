//! `oncofed hub ...`: the research hub.

use crate::commands::trustee::{new_token, write_secret};
use crate::output::{print_json, read_secret};
use anyhow::Context;
use clap::{Args, Subcommand};
use oncofed_crypto::{PublicKey, SigningKeyPair};
use oncofed_hub::{HubConfig, Role, Users};
use oncofed_model::SiteId;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum HubCommand {
    /// Run the research hub: feasibility queries, tasks for outbound-only sites, audit trail.
    ///
    /// The hub's signing key is created on first start (DATA_DIR/hub.key, mode 0600);
    /// sites pin its public key (printed at start). Users and roles come from the
    /// users file; sites are registered by an admin (`oncofed hub register-site`).
    Serve(ServeArgs),
    /// Add a user with a role: create a token, write it to --token-out (mode 0600),
    /// append its hash to the users file. Restart the hub to load it.
    AddUser(AddUserArgs),
    /// Register a site's public key at a running hub (needs an admin token).
    RegisterSite(RegisterArgs),
    /// Approve a project (needs an admin token): the researchers who may run
    /// analyses in it, the data categories it may read and its privacy budget ε.
    ApproveProject(ApproveProjectArgs),
}

#[derive(Debug, Args)]
pub struct ApproveProjectArgs {
    /// Base URL of the hub.
    #[arg(long, env = "ONCOFED_HUB_URL", default_value = "http://127.0.0.1:8730")]
    hub: String,
    /// File with an admin token.
    #[arg(long)]
    token_file: PathBuf,
    /// TLS towards the hub.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
    /// Project id, a-z, 0-9 and '-'.
    #[arg(long)]
    id: String,
    /// Title, for the audit trail.
    #[arg(long)]
    title: String,
    /// A researcher (hub user id); repeat for several.
    #[arg(long = "researcher", required = true)]
    researchers: Vec<String>,
    /// An approved data category (clinical, genetic, imaging, pathology, text); repeat for several.
    #[arg(long = "category", default_value = "clinical")]
    categories: Vec<String>,
    /// Total differential-privacy budget ε per researcher.
    #[arg(long, default_value_t = 1.0)]
    epsilon_budget: f64,
    /// What runs may compute, as a JSON file of the approval's plan limits
    /// (`{"kinds": ["km", "cox"], "max_horizon_days": 1825, "max_abs_beta":
    /// 20, "max_rounds": 64, "variables": [...]}`; absent keys keep their
    /// defaults: every kind and variable of the categories, 36,500 days).
    #[arg(long, value_name = "FILE")]
    plan: Option<PathBuf>,
    /// Allow survival analyses on exact event days instead of time bins of at
    /// least the minimum cell (never for genetic data; each site must also
    /// allow it). Off by default.
    #[arg(long)]
    exact_times: bool,
    /// Print the approved project as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Directory of hub.db, audit.db and hub.key.
    #[arg(long, env = "ONCOFED_HUB_DATA_DIR")]
    data_dir: PathBuf,
    /// Address to listen on. Keep it on loopback unless a TLS proxy fronts it.
    #[arg(long, default_value = "127.0.0.1:8730")]
    listen: SocketAddr,
    /// Users file, lines `user-id role sha256-of-token` (default DATA_DIR/users.txt).
    #[arg(long)]
    users_file: Option<PathBuf>,
    /// The federation's lifetime ε budget: every release with ε, of every project
    /// and researcher, is charged against it (basic composition) besides its
    /// project's budget, and refused past it.
    #[arg(long, default_value_t = oncofed_hub::DEFAULT_DATASET_EPSILON)]
    dataset_epsilon: f64,
    /// The ε of an analysis release whose request names none: its counts of
    /// people are noised and it is charged to the project's and the dataset's
    /// budget like any other, so no release is free. 0 releases exact counts
    /// under the disclosure limits only (not differentially private).
    #[arg(long, default_value_t = oncofed_hub::DEFAULT_RELEASE_EPSILON)]
    release_epsilon: f64,
    /// HTTPS for this service.
    #[command(flatten)]
    server_tls: super::tls_args::ServerTlsArgs,
    /// Timeouts, quotas and disclosure rules.
    #[command(flatten)]
    tuning: HubTuning,
}

/// The hub's timeouts, quotas and disclosure rules; each unset option keeps the
/// default. The hub checks them together at start and names every
/// contradiction (e.g. a query deadline past the tasks' lifetime).
#[derive(Debug, Args)]
pub struct HubTuning {
    /// Seconds a feasibility task stays valid (default 120).
    #[arg(long, value_name = "SECONDS")]
    task_ttl: Option<u64>,
    /// Seconds before a task a site fetched but did not answer is handed out again (default 30).
    #[arg(long, value_name = "SECONDS")]
    claim_timeout: Option<u64>,
    /// Seconds a feasibility query waits for the sites before its answer is partial (default 20).
    #[arg(long, value_name = "SECONDS")]
    query_deadline: Option<u64>,
    /// Longest long poll a site may ask for, in seconds (default 25).
    #[arg(long, value_name = "SECONDS")]
    max_poll: Option<u64>,
    /// Seconds one analysis step waits for the sites (default 60). A site
    /// that misses a round's mask step before any sum was revealed leaves the
    /// run, which finishes on the others if enough remain and names it in the
    /// result; any other miss stops the run.
    #[arg(long, value_name = "SECONDS")]
    analysis_step_timeout: Option<u64>,
    /// Seconds the sites have to select their rows for an analysis (default 600).
    #[arg(long, value_name = "SECONDS")]
    analysis_admission_timeout: Option<u64>,
    /// Feasibility queries per researcher and minute (default 3).
    #[arg(long)]
    queries_per_minute: Option<u32>,
    /// Feasibility queries per researcher and rolling 7 days (default 50).
    #[arg(long)]
    queries_per_week: Option<u32>,
    /// Analysis runs per researcher and minute (default 10).
    #[arg(long)]
    analyses_per_minute: Option<u32>,
    /// Analysis runs per researcher and rolling 7 days (default 100).
    #[arg(long)]
    analyses_per_week: Option<u32>,
    /// Federated totals below this are suppressed (default 20).
    #[arg(long)]
    min_total: Option<u64>,
    /// Federated totals are rounded to a multiple of this (default 10).
    #[arg(long)]
    total_rounding: Option<u64>,
    /// Per-site figures only when at least this many sites qualify (default 3).
    #[arg(long)]
    min_sites_for_breakdown: Option<usize>,
}

impl HubTuning {
    /// Sets what was given on `config`.
    fn apply(&self, config: &mut HubConfig) {
        let secs = std::time::Duration::from_secs;
        if let Some(v) = self.task_ttl {
            config.task_ttl = secs(v);
        }
        if let Some(v) = self.claim_timeout {
            config.claim_timeout = secs(v);
        }
        if let Some(v) = self.query_deadline {
            config.query_deadline = secs(v);
        }
        if let Some(v) = self.max_poll {
            config.max_poll = secs(v);
        }
        if let Some(v) = self.analysis_step_timeout {
            config.analysis_step_timeout = secs(v);
        }
        if let Some(v) = self.analysis_admission_timeout {
            config.analysis_admission_timeout = secs(v);
        }
        let budgets = [
            (
                &mut config.limits,
                self.queries_per_minute,
                self.queries_per_week,
            ),
            (
                &mut config.analysis_runs,
                self.analyses_per_minute,
                self.analyses_per_week,
            ),
        ];
        for (budget, minute, week) in budgets {
            if let Some(v) = minute {
                budget.per_minute = v;
            }
            if let Some(v) = week {
                budget.per_week = v;
            }
        }
        if let Some(v) = self.min_total {
            config.disclosure.min_total = v;
        }
        if let Some(v) = self.total_rounding {
            config.disclosure.total_rounding = v;
        }
        if let Some(v) = self.min_sites_for_breakdown {
            config.disclosure.min_sites_for_breakdown = v;
        }
    }
}

#[derive(Debug, Args)]
pub struct AddUserArgs {
    /// The users file to append to (created if missing).
    #[arg(long)]
    users_file: PathBuf,
    /// The user's id, e.g. alice.
    #[arg(long)]
    user: String,
    /// researcher, admin (also the central office's formal check of
    /// applications), auditor, committee (use-and-access committee member) or
    /// site-admin (give --site).
    #[arg(long)]
    role: Role,
    /// The site a site-admin administers (its registered site id).
    #[arg(long, required_if_eq("role", "site-admin"))]
    site: Option<String>,
    /// Where to write the new token.
    #[arg(long)]
    token_out: PathBuf,
    /// Print what was done as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Base URL of the hub.
    #[arg(long, env = "ONCOFED_HUB_URL", default_value = "http://127.0.0.1:8730")]
    hub: String,
    /// File with an admin's token.
    #[arg(long)]
    token_file: PathBuf,
    /// TLS towards the hub.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
    /// The site's id.
    #[arg(long)]
    site: SiteId,
    /// The site's public key (from `oncofed node keygen`).
    #[arg(long)]
    public_key: PublicKey,
    /// Print the answer as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(cmd: HubCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        HubCommand::Serve(a) => serve(a).await,
        HubCommand::AddUser(a) => add_user(a),
        HubCommand::ApproveProject(a) => {
            let categories = a
                .categories
                .iter()
                .map(|c| {
                    serde_json::from_value(serde_json::Value::String(c.to_lowercase()))
                        .map_err(|_| anyhow::anyhow!("unknown data category '{c}': use clinical, genetic, imaging, pathology or text"))
                })
                .collect::<anyhow::Result<_>>()?;
            let project = oncofed_protocol::analysis::Project {
                id: a.id,
                title: a.title,
                researchers: a.researchers,
                categories,
                epsilon_budget: a.epsilon_budget,
                plan: {
                    let mut plan: oncofed_protocol::plan::PlanLimits = match &a.plan {
                        Some(path) => serde_json::from_str(
                            &std::fs::read_to_string(path)
                                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                        )
                        .map_err(|e| {
                            anyhow::anyhow!("{}: not a plan-limits JSON: {e}", path.display())
                        })?,
                        None => Default::default(),
                    };
                    plan.exact_times |= a.exact_times;
                    plan.validate().map_err(anyhow::Error::msg)?;
                    plan
                },
            };
            project.validate().map_err(anyhow::Error::msg)?;
            let client = a.tls.hub_client(&a.hub, &read_secret(&a.token_file)?)?;
            let approved = client.approve_project(&project).await?;
            if a.json {
                print_json(&approved)?;
            } else {
                println!(
                    "approved project {} for {} (ε budget {})",
                    approved.id,
                    approved.researchers.join(", "),
                    approved.epsilon_budget
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        HubCommand::RegisterSite(a) => {
            let client = a.tls.hub_client(&a.hub, &read_secret(&a.token_file)?)?;
            let answer = client.register_site(a.site.clone(), a.public_key).await?;
            if a.json {
                print_json(&answer)?;
            } else {
                println!(
                    "registered {} (key fingerprint {})",
                    a.site,
                    answer["fingerprint"].as_str().unwrap_or("?")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    oncofed_hub::create_data_dir(&a.data_dir)
        .with_context(|| format!("cannot create {}", a.data_dir.display()))?;
    let key = SigningKeyPair::load_or_create(a.data_dir.join("hub.key"))?;
    let users_file = a.users_file.unwrap_or_else(|| a.data_dir.join("users.txt"));
    let users = Users::load(&users_file)
        .context("add users first: oncofed hub add-user --users-file ... --user ... --role ...")?;
    if !(a.dataset_epsilon.is_finite() && a.dataset_epsilon >= 0.0) {
        anyhow::bail!("--dataset-epsilon must be a finite number >= 0");
    }
    let mut config = HubConfig::new(&a.data_dir, key.clone(), users);
    config.dataset_epsilon_budget = a.dataset_epsilon;
    if !(a.release_epsilon.is_finite() && a.release_epsilon >= 0.0) {
        anyhow::bail!("--release-epsilon must be a finite number >= 0 (0: exact counts, no DP)");
    }
    config.default_release_epsilon = (a.release_epsilon > 0.0).then_some(a.release_epsilon);
    a.tuning.apply(&mut config);
    config.validate().map_err(|problems| {
        anyhow::anyhow!("the hub's configuration does not hold together:\n{problems}")
    })?;
    config.tls = a.server_tls.acceptor()?;
    config.insecure_http = a.server_tls.insecure_http();
    oncofed_tls::check_bind(a.listen, config.tls.is_some(), config.insecure_http)?;
    let listener = tokio::net::TcpListener::bind(a.listen)
        .await
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let shutdown = oncofed_service::shutdown_signal();
    eprintln!(
        "hub listening on {}://{} (public key {})",
        a.server_tls.scheme(),
        listener.local_addr()?,
        key.public_key()
    );
    oncofed_hub::launch(config, listener, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

fn add_user(a: AddUserArgs) -> anyhow::Result<ExitCode> {
    // Read with the hub's own parser: a file the hub would refuse at start is
    // reported now, with its line, and a user id already present is refused.
    if a.users_file.exists() {
        let users = Users::load(&a.users_file)?;
        anyhow::ensure!(
            !users.contains_user(&a.user),
            "user {} is already in {}; give the new user another id",
            a.user,
            a.users_file.display()
        );
    }
    let token = new_token();
    write_secret(&a.token_out, &token)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&a.users_file)
        .with_context(|| format!("cannot open {}", a.users_file.display()))?;
    anyhow::ensure!(
        a.site.is_none() || a.role == Role::SiteAdmin,
        "--site is only for --role site-admin"
    );
    let role = serde_json::to_value(a.role)?;
    let role_field = match &a.site {
        Some(site) => format!("site-admin:{site}"),
        None => role.as_str().unwrap_or("researcher").to_owned(),
    };
    writeln!(
        file,
        "{} {} {}",
        a.user,
        role_field,
        oncofed_service::tokens::TokenDigest::of(&token).to_hex()
    )?;
    if a.json {
        print_json(&serde_json::json!({
            "user": a.user, "role": role, "users_file": a.users_file, "token_file": a.token_out,
        }))?;
    } else {
        println!(
            "added {} to {}; token in {}",
            a.user,
            a.users_file.display(),
            a.token_out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
