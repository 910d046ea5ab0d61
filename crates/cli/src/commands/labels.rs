//! `oncofed labels ...`: expert validation of cell labels (R14) over CSV files.

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};
use oncofed_validation::{
    AnnotationSet, SimulatedExpert, ValidationPolicy, agreement, csv_io, simulate_annotations,
    validate,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum LabelsCommand {
    /// How far the experts agree: Cohen's kappa for every pair (with observed
    /// and chance agreement, n and a 95% CI), Fleiss' kappa for the panel and
    /// per class, and a confusion matrix per pair.
    ///
    /// Fleiss' kappa needs the same number of experts per cell: it is computed
    /// over the cells with the most common number (two or more), and the
    /// output says how many cells were left out.
    Agreement(AgreementArgs),
    /// The cells waiting for an adjudicator, most disputed first, with each
    /// expert's label: cells the experts disagree on (under --rule) and cells
    /// fewer than --min-experts labelled. Adjudicated cells leave the queue.
    Queue(PolicyArgs),
    /// Write the validated label set: consensus, majority (with --rule
    /// majority) or adjudicated labels, with the experts, their agreement, the
    /// adjudicator and when. Queued cells get no label.
    ///
    /// The CSV's header: `cell_id,label,method,experts,agreement,adjudicator,at`
    /// (experts `;`-separated). Training and evaluation read this file.
    Validate(ValidateArgs),
    /// Simulated experts label the cells of a synthetic ground truth
    /// (`oncofed synth`'s ground-truth/cells-<site>.csv), each right with the
    /// given probability and otherwise confusing morphological neighbours
    /// (myeloblast/promyelocyte, myelocyte/segmented neutrophil,
    /// lymphocyte/myeloblast/monocyte/erythroblast). Same seed, same file.
    Simulate(SimulateArgs),
}

#[derive(Debug, Args)]
pub struct AgreementArgs {
    /// The annotations CSV (cell_id,expert,label,at).
    #[arg(long)]
    annotations: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RuleArg {
    /// Every expert gave the same label.
    Unanimous,
    /// More than half of the experts gave the label.
    Majority,
}

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The annotations CSV (cell_id,expert,label,at).
    #[arg(long)]
    annotations: PathBuf,
    /// Adjudications CSV (cell_id,adjudicator,label,at,note). An adjudication
    /// overrides the experts; the adjudicator must not have labelled the cell.
    #[arg(long)]
    adjudications: Option<PathBuf>,
    /// Experts who must have labelled a cell before its label can stand.
    #[arg(long, default_value_t = 2)]
    min_experts: usize,
    /// When the experts' labels stand without adjudication.
    #[arg(long, value_enum, default_value_t = RuleArg::Unanimous)]
    rule: RuleArg,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    policy: PolicyArgs,
    /// Where to write the validated label set (CSV).
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The ground truth CSV (smear_id,cell_id,true_label,person_id,entity);
    /// only cell_id and true_label are read.
    #[arg(long)]
    truth: PathBuf,
    /// The experts and their skill (probability of a correct label), e.g.
    /// `dr-a:0.9,dr-b:0.85,dr-c:0.8`.
    #[arg(long, value_name = "NAME:SKILL,...")]
    experts: String,
    /// Random seed.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// When the experts start labelling (RFC 3339); each label one second
    /// after the expert's previous one.
    #[arg(long, default_value = "2026-12-01T08:00:00Z")]
    start: DateTime<Utc>,
    /// Where to write the annotations CSV.
    #[arg(long)]
    out: PathBuf,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

/// Writes `text` to stdout; a reader that went away (`| head`) ends the
/// output quietly instead of a panic.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    emit(&(serde_json::to_string_pretty(value)? + "\n"))
}

fn annotation_set(path: &Path) -> anyhow::Result<AnnotationSet> {
    let set = AnnotationSet::new(csv_io::read_annotations_file(path)?)
        .with_context(|| format!("in {}", path.display()))?;
    anyhow::ensure!(!set.is_empty(), "{}: no annotations", path.display());
    Ok(set)
}

fn run_policy(a: &PolicyArgs) -> anyhow::Result<oncofed_validation::Validation> {
    let set = annotation_set(&a.annotations)?;
    let adjudications = match &a.adjudications {
        Some(path) => csv_io::read_adjudications_file(path)?,
        None => Vec::new(),
    };
    let policy = ValidationPolicy {
        min_experts: a.min_experts,
        rule: match a.rule {
            RuleArg::Unanimous => oncofed_validation::Rule::Unanimous,
            RuleArg::Majority => oncofed_validation::Rule::Majority,
        },
    };
    Ok(validate(&set, &adjudications, policy)?)
}

pub fn run(cmd: LabelsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        LabelsCommand::Agreement(a) => {
            let report = agreement(&annotation_set(&a.annotations)?);
            if a.json {
                print_json(&report)?;
            } else {
                emit(&report.to_string())?;
            }
        }
        LabelsCommand::Queue(a) => {
            let v = run_policy(&a)?;
            if a.json {
                print_json(&serde_json::json!({
                    "policy": v.policy, "cells": v.summary.cells, "queue": v.queue,
                }))?;
            } else {
                emit(&v.queue_text())?;
            }
        }
        LabelsCommand::Validate(a) => {
            let v = run_policy(&a.policy)?;
            csv_io::write_validated_file(&a.out, &v.labels)?;
            if a.policy.json {
                print_json(&serde_json::json!({
                    "out": a.out, "policy": v.policy, "summary": v.summary,
                }))?;
            } else {
                emit(&format!(
                    "{}validated labels written to {}{}\n",
                    v.summary,
                    a.out.display(),
                    if v.summary.queued > 0 {
                        "; `oncofed labels queue` lists the cells still waiting"
                    } else {
                        ""
                    }
                ))?;
            }
        }
        LabelsCommand::Simulate(a) => {
            let truth = csv_io::read_truth_file(&a.truth)?;
            let experts = SimulatedExpert::parse_list(&a.experts, a.seed)?;
            let annotations = simulate_annotations(&experts, &truth, a.start);
            csv_io::write_annotations_file(&a.out, &annotations)?;
            if a.json {
                print_json(&serde_json::json!({
                    "out": a.out, "cells": truth.len(), "annotations": annotations.len(),
                    "experts": experts.iter().map(|e| serde_json::json!({
                        "name": e.name(), "skill": e.skill(),
                    })).collect::<Vec<_>>(),
                }))?;
            } else {
                emit(&format!(
                    "{} labels of {} cells by {} simulated experts written to {}\n",
                    annotations.len(),
                    truth.len(),
                    experts.len(),
                    a.out.display()
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
