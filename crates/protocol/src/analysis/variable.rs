//! The variables of an analysis, named in the harmonised model: what a site
//! reads for each patient (kept apart from `analysis.rs`, which holds the
//! requests and the round messages).

use oncofed_model::{CodeSystem, DataCategory};
use serde::{Deserialize, Serialize};

/// A covariate or descriptive variable in the harmonised model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "var", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Variable {
    /// Age in whole years at the index date (index year − birth year; the research
    /// store holds only the birth year).
    Age,
    /// 1 for female, 0 for male; rows with another or unknown sex are left out.
    Female,
    /// The numeric value of the observation with this code nearest to the index
    /// date (a quantity's value, or an ECOG grade); rows without one are left out.
    /// With `window_days`, only observations at most that many days before or
    /// after the index date count (issue 12: "observation values at the index
    /// date, nearest within a window"), written `obs:loinc:<code>@<days>`.
    Observation {
        /// Code system (`loinc` or `ecog`).
        system: CodeSystem,
        /// The code, e.g. LOINC `89247-1` (ECOG performance status).
        code: String,
        /// Largest distance in days from the index date (none: any distance).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window_days: Option<u32>,
    },
    /// 1 if the patient has a diagnosis whose ICD-10 code starts with `icd10`, else 0.
    Diagnosis {
        /// ICD-10 code prefix.
        icd10: String,
    },
    /// 1 if the patient has a molecular finding on this HGNC gene symbol, else 0.
    /// Genetic data: needs the patient's opt-in.
    Molecular {
        /// HGNC gene symbol, e.g. `EGFR`.
        gene: String,
    },
    /// 1 if the patient has a variant call (from a sequencing file at the site)
    /// in `gene` with the protein change `protein` that passed the caller's
    /// filters, somatic or germline, else 0 (issue 16). Germline data: needs
    /// the patient's genetic opt-in.
    Variant {
        /// HGNC gene symbol, e.g. `EGFR`.
        gene: String,
        /// HGVS protein change in one-letter form, e.g. `p.L858R`.
        protein: String,
    },
    /// The highest variant allele fraction of the patient's passing somatic
    /// calls in `gene`, 0 without one (issue 16): a tumour's clonal share of
    /// the mutation. Genetic data: needs the patient's opt-in.
    Vaf {
        /// HGNC gene symbol, e.g. `EGFR`.
        gene: String,
    },
    /// 1 if the patient was given a drug (ATC) or had a procedure (OPS) whose
    /// code starts with `prefix`, dated before the index date or at most
    /// `window_days` after it, else 0 (issue 12: treatment variables). Undated
    /// facts do not count: when they happened is unknown.
    Treatment {
        /// `atc` (medications) or `ops` (procedures).
        system: CodeSystem,
        /// Code prefix, e.g. ATC `L01` (antineoplastic agents), OPS `5-32`.
        prefix: String,
        /// Days after the index date still counted (default 90).
        window_days: u32,
    },
    /// A categorical covariate (issue 12): `variable`'s value taken as one of
    /// the listed `levels`, the first the reference. A Cox or GLM model gets
    /// one 0/1 column per other level (treatment contrasts, as R's
    /// `factor(x)` with `relevel(ref = …)` or statsmodels'
    /// `C(x, Treatment(reference=…))`), built at the site; a row whose value
    /// is not among the levels is left out like a missing value (complete
    /// cases). Written `cat:<variable>:<levels>`, e.g.
    /// `cat:obs:loinc:89247-1:0,1,2,3` (ECOG, reference 0). Only as a Cox or
    /// GLM covariate.
    Categorical {
        /// The variable whose value is the level (not itself categorical).
        variable: Box<Variable>,
        /// 2 to [`MAX_CATEGORICAL_LEVELS`] distinct finite values, the
        /// reference first.
        levels: Vec<Level>,
    },
}

/// Default of [`Variable::Treatment::window_days`].
pub const DEFAULT_TREATMENT_WINDOW_DAYS: u32 = 90;

/// Most levels of a categorical covariate (reference included).
pub const MAX_CATEGORICAL_LEVELS: usize = 16;

/// One level of a [`Variable::Categorical`]: a value, compared, hashed and
/// ordered by its bits (so that variables stay `Eq` and `Ord`); a row matches
/// it by numeric equality. Written as Rust prints the `f64` (`1`, `0.5`),
/// which parses back to the same bits.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Level(pub f64);

impl PartialEq for Level {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Level {}
impl std::hash::Hash for Level {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}
impl PartialOrd for Level {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Level {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}
impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Variable {
    /// A short, stable name for tables and plots (`age`, `female`, `obs:loinc:89247-1`).
    pub fn name(&self) -> String {
        match self {
            Variable::Age => "age".into(),
            Variable::Female => "female".into(),
            Variable::Observation {
                system,
                code,
                window_days,
            } => match window_days {
                Some(days) => format!("obs:{}:{code}@{days}", system.as_str()),
                None => format!("obs:{}:{code}", system.as_str()),
            },
            Variable::Diagnosis { icd10 } => format!("dx:{icd10}"),
            Variable::Molecular { gene } => format!("gene:{gene}"),
            Variable::Variant { gene, protein } => format!("variant:{gene}:{protein}"),
            Variable::Vaf { gene } => format!("vaf:{gene}"),
            Variable::Treatment {
                system,
                prefix,
                window_days,
            } => format!("tx:{}:{prefix}@{window_days}", system.as_str()),
            Variable::Categorical { variable, levels } => {
                let levels: Vec<String> = levels.iter().map(Level::to_string).collect();
                format!("cat:{}:{}", variable.name(), levels.join(","))
            }
        }
    }

    /// The data category reading this variable touches (decides consent and level).
    pub fn category(&self) -> DataCategory {
        match self {
            Variable::Molecular { .. } | Variable::Vaf { .. } => DataCategory::Genetic,
            // either origin: germline is the category whose rules bind (the
            // same opt-in as somatic data)
            Variable::Variant { .. } => DataCategory::Germline,
            Variable::Categorical { variable, .. } => variable.category(),
            _ => DataCategory::Clinical,
        }
    }

    /// The variable whose facts are read: a categorical's inner variable,
    /// else the variable itself.
    pub fn base(&self) -> &Variable {
        match self {
            Variable::Categorical { variable, .. } => variable,
            v => v,
        }
    }

    /// The model columns (coefficients) this variable takes as a covariate:
    /// one per non-reference level of a categorical, else one.
    pub fn columns(&self) -> usize {
        match self {
            Variable::Categorical { levels, .. } => levels.len().saturating_sub(1),
            _ => 1,
        }
    }

    /// The names of its columns, in order: `obs:loinc:89247-1=1`, … for a
    /// categorical (`<inner name>=<level>`, the reference left out), else
    /// [`Self::name`].
    pub fn terms(&self) -> Vec<String> {
        match self {
            Variable::Categorical { variable, levels } => levels
                .iter()
                .skip(1)
                .map(|l| format!("{}={l}", variable.name()))
                .collect(),
            v => vec![v.name()],
        }
    }

    /// A categorical's reference level, named as its terms are
    /// (`obs:loinc:89247-1=0`).
    pub fn reference(&self) -> Option<String> {
        match self {
            Variable::Categorical { variable, levels } => {
                levels.first().map(|l| format!("{}={l}", variable.name()))
            }
            _ => None,
        }
    }
}

impl std::str::FromStr for Variable {
    type Err = String;

    /// Parses the names [`Variable::name`] prints: `age`, `female`,
    /// `obs:<system>:<code>[@<days>]` (e.g. `obs:loinc:89247-1`, or `@30` for
    /// the nearest within 30 days of the index date), `dx:<icd10 prefix>`, `gene:<symbol>`,
    /// `variant:<symbol>:<protein change>` (e.g. `variant:EGFR:p.L858R`), `vaf:<symbol>`,
    /// `tx:atc:<prefix>[@<days>]` or `tx:ops:<prefix>[@<days>]` (a treatment
    /// given before the index date or within `days` after it, default 90),
    /// `cat:<variable>:<level>,<level>,...` (a categorical covariate, the first
    /// level the reference, e.g. `cat:obs:loinc:89247-1:0,1,2,3`).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "unknown variable '{s}': use age, female, obs:loinc:<code>, dx:<ICD-10 prefix>, gene:<HGNC symbol>, variant:<HGNC symbol>:<p. change>, vaf:<HGNC symbol>, tx:atc:<prefix>[@days], tx:ops:<prefix>[@days] or cat:<variable>:<reference level>,<level>,..."
            )
        };
        match s {
            "age" => return Ok(Variable::Age),
            "female" => return Ok(Variable::Female),
            _ => {}
        }
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        if rest.is_empty() {
            return Err(bad());
        }
        match kind {
            "obs" => {
                let (system, code) = rest.split_once(':').ok_or_else(bad)?;
                let system = CodeSystem::from_name(system).ok_or_else(bad)?;
                let (code, window_days) = match code.split_once('@') {
                    Some((c, d)) => (c, Some(d.parse().map_err(|_| bad())?)),
                    None => (code, None),
                };
                if code.is_empty() {
                    return Err(bad());
                }
                Ok(Variable::Observation {
                    system,
                    code: code.to_owned(),
                    window_days,
                })
            }
            "dx" => Ok(Variable::Diagnosis {
                icd10: rest.to_owned(),
            }),
            "gene" => Ok(Variable::Molecular {
                gene: rest.to_owned(),
            }),
            "variant" => {
                let (gene, protein) = rest.split_once(':').ok_or_else(bad)?;
                let protein = oncofed_model::variant::normalise_hgvs_p(protein).ok_or_else(bad)?;
                if gene.is_empty() {
                    return Err(bad());
                }
                Ok(Variable::Variant {
                    gene: gene.to_owned(),
                    protein,
                })
            }
            "vaf" => Ok(Variable::Vaf {
                gene: rest.to_owned(),
            }),
            "tx" => {
                let (system, code) = rest.split_once(':').ok_or_else(bad)?;
                let system = match system {
                    "atc" => CodeSystem::Atc,
                    "ops" => CodeSystem::Ops,
                    _ => return Err(bad()),
                };
                let (prefix, window_days) = match code.split_once('@') {
                    Some((p, d)) => (p, d.parse().map_err(|_| bad())?),
                    None => (code, DEFAULT_TREATMENT_WINDOW_DAYS),
                };
                if prefix.is_empty() {
                    return Err(bad());
                }
                Ok(Variable::Treatment {
                    system,
                    prefix: prefix.to_owned(),
                    window_days,
                })
            }
            "cat" => {
                let (inner, levels) = rest.rsplit_once(':').ok_or_else(bad)?;
                let variable: Variable = inner.parse()?;
                if matches!(variable, Variable::Categorical { .. }) {
                    return Err(format!(
                        "'{s}': a categorical variable's inner variable cannot be categorical"
                    ));
                }
                let levels = levels
                    .split(',')
                    .map(|l| l.trim().parse::<f64>().map(Level))
                    .collect::<Result<Vec<Level>, _>>()
                    .map_err(|_| {
                        format!(
                            "'{s}': the levels of cat:<variable>:<levels> are numbers separated by commas, the reference first (e.g. cat:obs:loinc:89247-1:0,1,2,3)"
                        )
                    })?;
                Ok(Variable::Categorical {
                    variable: Box::new(variable),
                    levels,
                })
            }
            _ => Err(bad()),
        }
    }
}
