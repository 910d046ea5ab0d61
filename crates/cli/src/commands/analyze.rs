//! `oncofed analyze ...`: federated analyses through the hub, inside an approved project.

use crate::output::{print_json, read_secret};
use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use oncofed_analysis::AnalysisResult;
use oncofed_protocol::Criteria;
use oncofed_protocol::analysis::{
    Analysis, AnalysisRequest, Family, IndexEvent, Origin, Outcome, RunState, Survival, Ties,
    Variable,
};
use std::path::PathBuf;
use std::process::ExitCode;

/// Variables are named as in the harmonised model: `age` (at the index diagnosis),
/// `female` (0/1), `obs:loinc:<code>` (e.g. `obs:loinc:89247-1`, ECOG), `dx:<ICD-10
/// prefix>` (0/1), `gene:<HGNC symbol>` (0/1, genetic data: needs opt-in and a
/// project approved for it), `tx:atc|ops:<prefix>[@days]` (0/1), and for Cox and
/// GLM covariates `cat:<variable>:<levels>` (categorical, the first level the
/// reference, e.g. `cat:obs:loinc:89247-1:0,1,2,3`).
#[derive(Debug, Subcommand)]
pub enum AnalyzeCommand {
    /// Kaplan–Meier survival from the index diagnosis, optionally by a 0/1 variable,
    /// with log-rank test; writes the curve as SVG with --plot.
    Km(KmArgs),
    /// Cumulative incidence of progression or recurrence (--endpoint pfs or
    /// rfs) with death without it as the competing risk (Aalen–Johansen),
    /// optionally by a variable; the standard error is Gray's (R's cuminc).
    Cif(KmArgs),
    /// Cox proportional hazards (exact federated Newton–Raphson, Efron or Breslow ties).
    Cox(CoxArgs),
    /// Fine–Gray regression of the subdistribution hazard of progression or
    /// recurrence (--endpoint pfs or rfs) with death without it competing,
    /// as R's cmprsk::crr (Breslow ties, crr's sandwich standard errors); on
    /// time bins, without delayed entry.
    Finegray(FineGrayArgs),
    /// Logistic or Poisson regression (federated IRLS, intercept added).
    Glm(GlmArgs),
    /// Counts, mean, SD, histogram and quartiles; optionally with differential privacy (--epsilon).
    Describe(DescribeArgs),
    /// Trains a convolutional cell classifier across the sites on their
    /// validated cell labels (FedAvg; FedProx with --prox-mu; DP-FedAvg with
    /// --dp-clip and --epsilon), stops early on the federated validation
    /// loss, and releases the model with its evaluation on every site's
    /// held-out cells. The project must name `cell-classifier` among its
    /// kinds and be approved for pathology data. Save the model with
    /// --save-model for `oncofed node classify-cells`.
    TrainCells(TrainCellsArgs),
    /// Runs an analysis request written as JSON (the `POST /v1/analyses` body).
    Spec(SpecArgs),
}

/// `oncofed analyze train-cells`.
#[derive(Debug, Args)]
pub struct TrainCellsArgs {
    #[command(flatten)]
    common: Common,
    /// The model's name in the registry (a-z, 0-9, '-').
    #[arg(long, default_value = "cell-differential")]
    name: String,
    /// Most training rounds (each one secure-aggregation round).
    #[arg(long, default_value_t = 12)]
    rounds: u32,
    /// Local epochs per round.
    #[arg(long, default_value_t = 2)]
    epochs: u32,
    /// Stop after this many rounds without a lower validation loss.
    #[arg(long, default_value_t = 3)]
    patience: u32,
    /// FedProx proximal weight (0: FedAvg).
    #[arg(long, default_value_t = 0.0)]
    prox_mu: f32,
    /// Server momentum β (FedAvgM; 0: plain FedAvg). 0.5 reached its best
    /// model in about half of FedAvg's rounds on the synthetic benchmark.
    #[arg(long, default_value_t = 0.0)]
    server_momentum: f64,
    /// Client-level DP: clip each site's update to this L2 norm; needs
    /// --epsilon, which the training then spends (σ from an RDP accountant).
    #[arg(long, requires = "epsilon")]
    dp_clip: Option<f64>,
    /// δ of the DP guarantee.
    #[arg(long, default_value_t = 1e-5)]
    dp_delta: f64,
    /// ε to spend from the project's budget.
    #[arg(long)]
    epsilon: Option<f64>,
    /// Write the released result (model, parameters, registry record) here.
    #[arg(long, value_name = "FILE")]
    save_model: Option<PathBuf>,
}

/// Options every analysis takes.
#[derive(Debug, Args)]
pub struct Common {
    /// Base URL of the hub.
    #[arg(long, env = "ONCOFED_HUB_URL", default_value = "http://127.0.0.1:8730")]
    hub: String,
    /// File with your researcher token.
    #[arg(long, env = "ONCOFED_HUB_TOKEN_FILE")]
    token_file: PathBuf,
    /// TLS towards the hub.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
    /// The approved project the analysis belongs to.
    #[arg(long)]
    project: String,
    /// ICD-10 prefix of the index diagnosis: analysis time starts at the first such diagnosis.
    #[arg(long, default_value = "C")]
    index: String,
    /// Further restriction of the cohort: a feasibility criteria document (JSON file).
    #[arg(long)]
    cohort: Option<PathBuf>,
    /// Print the released result as JSON.
    #[arg(long)]
    json: bool,
}

/// Stopping rule of a regression's Newton–Raphson iteration (Cox, Fine–Gray, GLM).
#[derive(Debug, Args)]
pub struct FitArgs {
    /// Stop when the Newton decrement sqrt(U' I^-1 U), the distance to the
    /// maximum in standard errors, is below this: 1e-12 to 1e-3, default 1e-9
    /// (below about 1e-12 the floating-point rounding of the sums is the floor).
    #[arg(long)]
    tolerance: Option<f64>,
    /// Most Newton iterations: 1 to the hub's limit (25 by default), which is
    /// also the default; each costs one aggregation round, and the run's round
    /// budget (keys set up in advance) follows from it.
    #[arg(long)]
    max_iter: Option<usize>,
}

impl FitArgs {
    fn apply(&self, mut request: AnalysisRequest) -> AnalysisRequest {
        request.tolerance = self.tolerance;
        request.max_iter = self.max_iter;
        request
    }
}

/// Follow-up options every survival analysis (km, cif, cox, finegray) takes.
#[derive(Debug, Args)]
pub struct FollowUp {
    /// Longest follow-up in days (censored there).
    #[arg(long, default_value_t = 3650)]
    horizon: u32,
    /// Sum over exact event days instead of time bins. By default the sites
    /// move each time to the end of a bin that holds at least the minimum cell
    /// of exits and deaths, so no sum reaching the hub covers fewer persons;
    /// exact days need a project approved for them (`plan.exact_times`), data
    /// that is not genetic, and sites started with `--allow-exact-times`.
    #[arg(long)]
    exact_times: bool,
    /// What ends follow-up with an event: os (death), pfs (progression,
    /// recurrence or death), rfs (recurrence or death); progression and
    /// recurrence from the MII onco course observations (oBDS 17).
    #[arg(long, value_enum, default_value = "os")]
    endpoint: EndpointArg,
    /// Where follow-up starts: `index` (the diagnosis); `tx:atc:<prefix>` /
    /// `tx:ops:<prefix>`, the first such treatment on or after the diagnosis
    /// (e.g. tx:atc:L01 for first-line chemotherapy); or `course:<value>`, the
    /// first MII onco course assessment with that value (course:V first
    /// complete remission, course:P post-progression survival). Patients
    /// without the event are left out.
    #[arg(long, default_value = "index")]
    origin: Origin,
    /// Delayed entry (left truncation): a patient counts in the risk sets only
    /// from this event on, e.g. `first-contact` (first record at the site, for
    /// patients referred after their diagnosis) or any --origin form. Patients
    /// without it, or whose follow-up ends before it, are left out. On time
    /// bins only; the bins then also hold 0 or at least the minimum cell of
    /// entries.
    #[arg(long)]
    entry: Option<Origin>,
}

impl FollowUp {
    /// The follow-up the options describe.
    fn survival(&self) -> Survival {
        Survival {
            horizon_days: self.horizon,
            exact_times: self.exact_times,
            endpoint: self.endpoint.into(),
            origin: self.origin.clone(),
            entry: self.entry.clone(),
        }
    }
}

/// `oncofed analyze km`.
#[derive(Debug, Args)]
pub struct KmArgs {
    #[command(flatten)]
    common: Common,
    /// A variable to split the curve by, one curve per level: whole values 0
    /// to 15 (e.g. `female`, or ECOG as `obs:loinc:89247-1`); a k-group
    /// log-rank test compares them. A level with fewer rows than the minimum
    /// cell is refused by name.
    #[arg(long)]
    by: Option<Variable>,
    /// Width in days of the released curve's time grid.
    #[arg(long, default_value_t = 30)]
    interval: u32,
    #[command(flatten)]
    follow_up: FollowUp,
    /// Write the curve as SVG to this file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Survival endpoint.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EndpointArg {
    /// Overall survival.
    Os,
    /// Progression-free survival.
    Pfs,
    /// Recurrence-free survival.
    Rfs,
}

impl From<EndpointArg> for oncofed_protocol::analysis::Endpoint {
    fn from(e: EndpointArg) -> Self {
        match e {
            EndpointArg::Os => Self::Overall,
            EndpointArg::Pfs => Self::ProgressionFree,
            EndpointArg::Rfs => Self::RecurrenceFree,
        }
    }
}

/// Tie handling.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TiesArg {
    /// Efron (lifelines' and R's default).
    Efron,
    /// Breslow.
    Breslow,
}

/// `oncofed analyze cox`.
#[derive(Debug, Args)]
pub struct CoxArgs {
    #[command(flatten)]
    common: Common,
    /// A covariate; repeat for several (e.g. --covariate age --covariate female
    /// --covariate tx:atc:L01@90 for an antineoplastic drug up to 90 days after
    /// the index date). Forms: age, female, obs:loinc:<code>[@days], dx:<ICD-10
    /// prefix>, gene:<HGNC symbol>, tx:atc|ops:<prefix>[@days], and
    /// cat:<variable>:<levels> for a categorical covariate, the first level the
    /// reference (--covariate cat:obs:loinc:89247-1:0,1,2,3: ECOG, one term per
    /// grade 1-3 against 0; rows with another value are left out; each level
    /// needs the minimum cell of rows).
    #[arg(long = "covariate", required = true)]
    covariates: Vec<Variable>,
    /// Tie handling.
    #[arg(long, value_enum, default_value = "efron")]
    ties: TiesArg,
    /// Give each site its own baseline hazard.
    #[arg(long)]
    stratify_by_site: bool,
    /// Give each level of this variable its own baseline hazard (whole values
    /// 0 to 15, e.g. --strata obs:loinc:89247-1 for ECOG); each level needs the
    /// minimum cell of rows, and the time bins hold 0 or at least the minimum
    /// cell of exits, deaths and censorings in every stratum.
    #[arg(long)]
    strata: Option<Variable>,
    /// Report robust (Lin-Wei sandwich) standard errors, as R coxph(...,
    /// robust = TRUE): one more aggregation round at the final estimate
    /// (pooled model only: not with --stratify-by-site or --entry).
    #[arg(long)]
    robust: bool,
    #[command(flatten)]
    follow_up: FollowUp,
    #[command(flatten)]
    fit: FitArgs,
}

/// `oncofed analyze finegray`.
#[derive(Debug, Args)]
pub struct FineGrayArgs {
    #[command(flatten)]
    common: Common,
    /// A covariate; repeat for several. Forms as for `cox`, including
    /// cat:<variable>:<levels> (categorical, the first level the reference).
    #[arg(long = "covariate", required = true)]
    covariates: Vec<Variable>,
    #[command(flatten)]
    follow_up: FollowUp,
    #[command(flatten)]
    fit: FitArgs,
}

/// GLM family.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FamilyArg {
    /// Logistic regression of a 0/1 outcome.
    Binomial,
    /// Poisson regression of a count.
    Poisson,
}

/// `oncofed analyze glm`.
#[derive(Debug, Args)]
pub struct GlmArgs {
    #[command(flatten)]
    common: Common,
    /// The response: `deceased`, or a variable.
    #[arg(long, default_value = "deceased")]
    outcome: String,
    /// A covariate; repeat for several. Forms as for `cox`, including
    /// cat:<variable>:<levels> (categorical, the first level the reference).
    #[arg(long = "covariate")]
    covariates: Vec<Variable>,
    /// The family.
    #[arg(long, value_enum, default_value = "binomial")]
    family: FamilyArg,
    #[command(flatten)]
    fit: FitArgs,
}

/// `oncofed analyze describe`.
#[derive(Debug, Args)]
pub struct DescribeArgs {
    #[command(flatten)]
    common: Common,
    /// A numeric variable; repeat for several.
    #[arg(long = "variable", required = true)]
    variables: Vec<Variable>,
    /// Histogram edges, comma-separated and ascending (e.g. 20,40,60,80).
    #[arg(long, value_delimiter = ',')]
    edges: Vec<f64>,
    /// A 0/1 variable to count the cohort by.
    #[arg(long)]
    strata: Option<Variable>,
    /// Spend this ε of the project's privacy budget: counts get Laplace noise, and
    /// means come from the noised histogram (needs --edges).
    #[arg(long)]
    epsilon: Option<f64>,
}

/// `oncofed analyze spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// Base URL of the hub.
    #[arg(long, env = "ONCOFED_HUB_URL", default_value = "http://127.0.0.1:8730")]
    hub: String,
    /// File with your researcher token.
    #[arg(long, env = "ONCOFED_HUB_TOKEN_FILE")]
    token_file: PathBuf,
    /// TLS towards the hub.
    #[command(flatten)]
    tls: super::tls_args::ClientTlsArgs,
    /// The request (JSON file).
    #[arg(long)]
    file: PathBuf,
    /// Write a Kaplan–Meier result's curve as SVG to this file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print the released result as JSON.
    #[arg(long)]
    json: bool,
}

fn request(
    c: &Common,
    analysis: Analysis,
    epsilon: Option<f64>,
) -> anyhow::Result<AnalysisRequest> {
    let cohort = match &c.cohort {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(
                serde_json::from_str::<Criteria>(&text)
                    .with_context(|| format!("{} is not a criteria document", path.display()))?,
            )
        }
        None => None,
    };
    Ok(AnalysisRequest {
        project: c.project.clone(),
        index: IndexEvent {
            icd10: c.index.clone(),
        },
        cohort,
        analysis,
        epsilon,
        wait_seconds: Some(60),
        tolerance: None,
        max_iter: None,
    })
}

/// Runs the command.
pub async fn run(cmd: AnalyzeCommand) -> anyhow::Result<ExitCode> {
    let mut save_model: Option<PathBuf> = None;
    let (hub, token_file, tls, req, plot, json) = match cmd {
        AnalyzeCommand::Km(a) => {
            let analysis = Analysis::KaplanMeier {
                survival: a.follow_up.survival(),
                groups: a.by,
                interval_days: a.interval,
            };
            let req = request(&a.common, analysis, None)?;
            (
                a.common.hub,
                a.common.token_file,
                a.common.tls,
                req,
                a.plot,
                a.common.json,
            )
        }
        AnalyzeCommand::Cif(a) => {
            let analysis = Analysis::CumulativeIncidence {
                survival: a.follow_up.survival(),
                groups: a.by,
                interval_days: a.interval,
            };
            let req = request(&a.common, analysis, None)?;
            (
                a.common.hub,
                a.common.token_file,
                a.common.tls,
                req,
                None,
                a.common.json,
            )
        }
        AnalyzeCommand::Cox(a) => {
            let ties = match a.ties {
                TiesArg::Efron => Ties::Efron,
                TiesArg::Breslow => Ties::Breslow,
            };
            let analysis = Analysis::Cox {
                survival: a.follow_up.survival(),
                covariates: a.covariates,
                ties,
                stratify_by_site: a.stratify_by_site,
                strata: a.strata,
                robust: a.robust,
            };
            let req = a.fit.apply(request(&a.common, analysis, None)?);
            (
                a.common.hub,
                a.common.token_file,
                a.common.tls,
                req,
                None,
                a.common.json,
            )
        }
        AnalyzeCommand::Finegray(a) => {
            let analysis = Analysis::FineGray {
                survival: a.follow_up.survival(),
                covariates: a.covariates,
            };
            let req = a.fit.apply(request(&a.common, analysis, None)?);
            (
                a.common.hub,
                a.common.token_file,
                a.common.tls,
                req,
                None,
                a.common.json,
            )
        }
        AnalyzeCommand::Glm(a) => {
            let outcome = match a.outcome.as_str() {
                "deceased" => Outcome::Deceased,
                other => Outcome::Variable {
                    variable: other.parse().map_err(anyhow::Error::msg)?,
                },
            };
            let family = match a.family {
                FamilyArg::Binomial => Family::Binomial,
                FamilyArg::Poisson => Family::Poisson,
            };
            let analysis = Analysis::Glm {
                outcome,
                covariates: a.covariates,
                family,
            };
            let req = a.fit.apply(request(&a.common, analysis, None)?);
            (
                a.common.hub,
                a.common.token_file,
                a.common.tls,
                req,
                None,
                a.common.json,
            )
        }
        AnalyzeCommand::Describe(a) => {
            let analysis = Analysis::Describe {
                variables: a.variables,
                edges: a.edges,
                strata: a.strata,
            };
            let req = request(&a.common, analysis, a.epsilon)?;
            (
                a.common.hub,
                a.common.token_file,
                a.common.tls,
                req,
                None,
                a.common.json,
            )
        }
        AnalyzeCommand::TrainCells(a) => {
            let mut training = oncofed_protocol::analysis::CellTraining::small(&a.name);
            training.rounds = a.rounds;
            training.local.epochs = a.epochs;
            training.local.prox_mu = a.prox_mu;
            training.server = oncofed_learn::ServerOptimizer::fedavgm(a.server_momentum, 1.0);
            training.patience = Some(a.patience);
            training.dp = a
                .dp_clip
                .map(|clip_norm| oncofed_protocol::analysis::CellDp {
                    clip_norm,
                    delta: a.dp_delta,
                });
            let req = request(&a.common, Analysis::CellClassifier { training }, a.epsilon)?;
            save_model = a.save_model;
            (
                a.common.hub,
                a.common.token_file,
                a.common.tls,
                req,
                None,
                a.common.json,
            )
        }
        AnalyzeCommand::Spec(a) => {
            let text = std::fs::read_to_string(&a.file)
                .with_context(|| format!("cannot read {}", a.file.display()))?;
            let req: AnalysisRequest = serde_json::from_str(&text)
                .with_context(|| format!("{} is not an analysis request", a.file.display()))?;
            (a.hub, a.token_file, a.tls, req, a.plot, a.json)
        }
    };
    let client = tls.hub_client(&hub, &read_secret(&token_file)?)?;
    let response = client.analyze_to_end(&req).await?;
    if response.state != RunState::Done {
        bail!(
            "the analysis was not released: {}",
            response.error.unwrap_or_else(|| "no reason given".into())
        );
    }
    let value = response.result.context("the hub released no result")?;
    if let Some(path) = &save_model {
        std::fs::write(path, serde_json::to_vec_pretty(&value)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("model written to {}", path.display());
    }
    let result: AnalysisResult =
        serde_json::from_value(value).context("the hub's result is not readable")?;
    if let (Some(path), AnalysisResult::Km(km)) = (&plot, &result) {
        let title = format!("Kaplan–Meier, project {}", req.project);
        std::fs::write(path, oncofed_analysis::plot::km_svg(km, &title))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("plot written to {}", path.display());
    }
    if json {
        print_json(&result)?;
    } else {
        print!("{}", render(&result));
    }
    Ok(ExitCode::SUCCESS)
}

pub use super::analyze_render::render;
