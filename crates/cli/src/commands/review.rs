//! `oncofed trustee review ...`: the clerical-review queue of probabilistic linkage.

use crate::output::{print_json, read_secret};
use clap::{Args, Subcommand};
use oncofed_trustee_api::linkage::api::{AdmissionRequest, Decision, ReviewItem};
use oncofed_trustee_api::linkage::client::LinkageClient;
use std::path::PathBuf;
use std::process::ExitCode;

/// The review subcommands (help text on the `Review` variant in `trustee.rs`).
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// List pending possible matches, oldest first, with a field-by-field comparison
    /// (normalised values, similarity, and the field's weight log2(m/u)).
    ///
    /// Example: oncofed trustee review list --admin-token-file admin.token
    List(ListArgs),
    /// Decide one item: `match` (same person: merge) or `non-match` (keep apart).
    ///
    /// Example: oncofed trustee review decide 17 match --reviewer "A. Schmidt" --admin-token-file admin.token
    Decide(DecideArgs),
    /// Admit one record that a withdrawn person's tombstone refused (the site
    /// got error `withdrawn` saying staff can admit it), after checking with
    /// the site that it is a different person. The site then sends it again.
    ///
    /// The IDAT file holds the record's identifying data as JSON, exactly as
    /// the site sends it; the admission holds for that identity, site and
    /// local id only. A record refused because its local id or insurance
    /// number was the withdrawn person's cannot be admitted.
    ///
    /// Example: oncofed trustee review admit --site uk-b --local-id P-4711 --idat-file idat.json --reviewer "A. Schmidt" --reason "ID card checked" --admin-token-file admin.token
    Admit(AdmitArgs),
}

#[derive(Debug, Args)]
pub struct Connection {
    /// Base URL of the trust centre.
    #[arg(
        long,
        env = "ONCOFED_TRUSTEE_URL",
        default_value = "http://127.0.0.1:8710"
    )]
    trustee: String,
    /// File holding the admin token (as given to `oncofed trustee serve --admin-token-file`).
    #[arg(long)]
    admin_token_file: PathBuf,
    /// TLS towards the trust centre.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    conn: Connection,
    /// Show at most this many items (1-1000).
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Print the items as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    #[command(flatten)]
    conn: Connection,
    /// The item's id, as shown by `review list`.
    id: i64,
    /// `match` (the two records are the same person) or `non-match`.
    decision: Decision,
    /// Your name or staff id, recorded in the audit trail.
    #[arg(long)]
    reviewer: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct AdmitArgs {
    #[command(flatten)]
    conn: Connection,
    /// The site that sent the refused record.
    #[arg(long)]
    site: String,
    /// The site's local id of the record.
    #[arg(long)]
    local_id: String,
    /// JSON file with the record's identifying data, as the site sends it.
    #[arg(long)]
    idat_file: PathBuf,
    /// Your name or staff id, recorded in the audit trail.
    #[arg(long)]
    reviewer: String,
    /// Why it is a different person (kept with the admission, not in the audit trail).
    #[arg(long)]
    reason: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn client(c: &Connection) -> anyhow::Result<LinkageClient> {
    Ok(LinkageClient::with_tls(
        &c.trustee,
        &read_secret(&c.admin_token_file)?,
        &c.tls.client_tls(),
    )?)
}

/// Runs a review command.
pub async fn run(cmd: ReviewCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ReviewCommand::List(a) => {
            let list = client(&a.conn)?.review_list(a.limit).await?;
            if a.json {
                print_json(&list)?;
            } else {
                println!(
                    "{} pending possible match(es); showing {}",
                    list.pending,
                    list.items.len()
                );
                for item in &list.items {
                    print_item(item);
                }
                if !list.items.is_empty() {
                    println!(
                        "decide with: oncofed trustee review decide <id> match|non-match --reviewer <name> --admin-token-file ..."
                    );
                }
            }
        }
        ReviewCommand::Decide(a) => {
            let r = client(&a.conn)?
                .review_decide(a.id, a.decision, &a.reviewer)
                .await?;
            if a.json {
                print_json(&r)?;
            } else if r.merged {
                println!(
                    "item {}: match; persons merged, research pseudonym {}",
                    r.id, r.research_pseudonym
                );
            } else {
                println!(
                    "item {}: {}; research pseudonym of the new record {}",
                    r.id,
                    r.decision.as_str(),
                    r.research_pseudonym
                );
            }
        }
        ReviewCommand::Admit(a) => {
            let text = std::fs::read_to_string(&a.idat_file).map_err(|e| {
                anyhow::anyhow!("cannot read the IDAT file {}: {e}", a.idat_file.display())
            })?;
            // The error names the place, never the value (serde's text may quote it).
            let idat = serde_json::from_str(&text).map_err(|e| {
                let what = match e.classify() {
                    serde_json::error::Category::Data => {
                        "JSON that is not identifying data (check the field names and types)"
                    }
                    serde_json::error::Category::Eof => "truncated JSON",
                    _ => "not valid JSON",
                };
                anyhow::anyhow!(
                    "{}: {what}, at line {} column {}",
                    a.idat_file.display(),
                    e.line(),
                    e.column()
                )
            })?;
            let request = AdmissionRequest {
                site: a.site,
                local_id: a.local_id,
                idat,
                reviewer: a.reviewer,
                reason: a.reason,
            };
            let r = client(&a.conn)?.admit(&request).await?;
            if a.json {
                print_json(&r)?;
            } else {
                println!(
                    "admitted {} / {}: the site can send the record again",
                    r.site, r.local_id
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_item(item: &ReviewItem) {
    println!();
    println!(
        "#{}  score {:.3} (queued at {:.3}){}",
        item.id,
        item.score,
        item.queued_score,
        if item.same_person_now {
            "  [already one person]"
        } else {
            ""
        }
    );
    println!(
        "  new:     {} / {}  ({})",
        item.new.site, item.new.local_id, item.new.research_pseudonym
    );
    println!(
        "  earlier: {} / {}  ({})",
        item.earlier.site, item.earlier.local_id, item.earlier.research_pseudonym
    );
    println!(
        "  {:<12} {:<24} {:<24} {:>6} {:>6}",
        "field", "new", "earlier", "sim", "weight"
    );
    for f in &item.fields {
        let sim = f
            .similarity
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.2}"));
        println!(
            "  {:<12} {:<24} {:<24} {:>6} {:>6.2}",
            format!("{:?}", f.field),
            f.new,
            f.earlier,
            sim,
            f.weight
        );
    }
}
