//! `oncofed node import-labels` and `oncofed node classify-cells`: an expert
//! panel's validated labels into the site's store, and a registered cell
//! classifier run on the site's cells (issue 15).

use crate::output::print_json;
use anyhow::Context;
use clap::Args;
use oncofed_analysis::AnalysisResult;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `oncofed node import-labels`.
#[derive(Debug, Args)]
pub struct ImportLabelsArgs {
    #[command(flatten)]
    store: super::node::StoreArgs,
    #[command(flatten)]
    imaging: super::node_imaging::ImagingArgs,
    /// The validated label set (`oncofed labels validate --out`): CSV
    /// `cell_id,label,method,experts,agreement,adjudicator,at`, with the lab's
    /// cell ids as in the batch's cells.csv (keyed here like at ingest).
    #[arg(long, value_name = "FILE")]
    validated: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Imports a validated label set in one transaction.
pub async fn import_labels(a: ImportLabelsArgs) -> anyhow::Result<ExitCode> {
    let labels = oncofed_validation::csv_io::read_validated_file(&a.validated)
        .with_context(|| format!("validated set {}", a.validated.display()))?;
    let store = a.store.open().await?;
    let setup = a.imaging.cell_setup(&a.store.data_dir)?;
    let report = oncofed_node::cells::import_validated(&store, &setup.keys, &labels)
        .await
        .with_context(|| a.validated.display().to_string())?;
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "imported {} validated labels; {} smear facts recomputed",
            report.labels, report.facts
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `oncofed node classify-cells`.
#[derive(Debug, Args)]
pub struct ClassifyCellsArgs {
    #[command(flatten)]
    store: super::node::StoreArgs,
    #[command(flatten)]
    trustee: super::node::TrusteeArgs,
    #[command(flatten)]
    imaging: super::node_imaging::ImagingArgs,
    /// The released cell classifier: the JSON result of a `cell-classifier`
    /// analysis (`oncofed analyze --json`, or the hub's `GET /v1/analyses/ID`
    /// `result`), holding the model's registry record and parameters.
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Reads a model file: a released result, or a whole analysis response.
fn read_model(
    path: &PathBuf,
) -> anyhow::Result<oncofed_analysis::driver::cells::CellClassifierResult> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    if value.get("result").is_some() {
        value = value["result"].take();
    }
    match serde_json::from_value::<AnalysisResult>(value)
        .with_context(|| format!("{}: not an analysis result", path.display()))?
    {
        AnalysisResult::CellClassifier(r) => Ok(*r),
        _ => anyhow::bail!(
            "{}: the result is not a cell classifier's (run a cell-classifier analysis and save its JSON result)",
            path.display()
        ),
    }
}

/// Runs the model on every consented cell and stores its predictions.
pub async fn classify_cells(a: ClassifyCellsArgs) -> anyhow::Result<ExitCode> {
    let model = read_model(&a.model)?;
    model
        .model
        .spec
        .check_params("model parameters", &model.params)
        .map_err(|e| anyhow::anyhow!("{}: {e}", a.model.display()))?;
    anyhow::ensure!(
        oncofed_learn::params_hash(&model.params) == model.model.params_hash,
        "{}: the parameters do not match the registry record's hash",
        a.model.display()
    );
    let store = a.store.open().await?;
    let gate = a.trustee.gate(&a.store.data_dir)?;
    let archive = a.imaging.archive(&a.store.data_dir)?;
    let report = oncofed_node::cells::classify_cells(
        &store,
        &archive,
        &gate,
        &model.model.id,
        &model.model.spec,
        &model.params,
    )
    .await?;
    if a.json {
        print_json(&report)?;
    } else {
        println!(
            "classified {} cells with model {}; {} smear facts recomputed",
            report.labels, model.model.id, report.facts
        );
    }
    Ok(ExitCode::SUCCESS)
}
