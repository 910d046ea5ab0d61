//! Applications for a research project: what a researcher asks for, in the
//! manner of the MII's FDPG (Forschungsdatenportal für Gesundheit) flow, and
//! how each decision in that flow is written down.
//!
//! An application has versions. The researcher edits a draft
//! ([`ApplicationContent`]); submitting it freezes it as an immutable
//! [`ApplicationVersion`] that every later decision (formal check, site checks,
//! committee votes, acknowledgements, or an automatic approval by policy)
//! refers to by number. A request for rework opens a new draft from the last
//! version; a rejection is final. When the flow ends in approval, the hub
//! creates a [`Project`] from the version ([`ApplicationContent::project`]):
//! its categories, researchers, ε budget and [`PlanLimits`], run on the sites
//! that accepted.
//!
//! The states and who may move them are the hub's (`oncofed-hub`,
//! `applications::workflow`); this module holds only what crosses the wire.

use crate::analysis::{Project, Variable};
use crate::plan::PlanLimits;
use chrono::{DateTime, Utc};
use oncofed_model::{DataCategory, Purpose, SecurityLevel};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest free text (summary, reasons, conditions), in characters.
pub const MAX_TEXT: usize = 8_000;
/// Longest project duration an application may ask for (10 years).
pub const MAX_DURATION_DAYS: u32 = 3_650;
/// Largest ε budget an application may ask for (the dataset budget bounds the
/// sum over projects anyway; a project asking for more is a typing error).
pub const MAX_EPSILON: f64 = 10.0;
/// Largest ethics-vote file the hub stores (a scanned vote of a few pages).
pub const MAX_ETHICS_BYTES: usize = 10 << 20;
/// The analysis kinds that release only aggregates under the hub's disclosure
/// limits. A trained model (`cell-classifier`) is not among them: a model can
/// memorise rare training cases.
pub const AGGREGATE_KINDS: [&str; 6] = ["describe", "km", "cif", "cox", "finegray", "glm"];

/// The stored ethics vote of an application: the file is kept
/// content-addressed by its SHA-256 in the hub's data directory and served
/// back only to those who may see the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EthicsVote {
    /// SHA-256 of the file, lowercase hex: its address in the store.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// The file name the applicant uploaded (shown, never used as a path).
    pub filename: String,
}

/// What the researcher wants to compute: mapped to the project's
/// [`PlanLimits`] on approval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisPlan {
    /// Analysis kinds (`describe`, `km`, `cif`, `cox`, `finegray`, `glm`,
    /// `cell-classifier`).
    pub kinds: Vec<String>,
    /// The variables the analyses may read; absent: any variable of the
    /// approved categories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Vec<Variable>>,
    /// Longest survival horizon in days.
    pub max_horizon_days: u32,
    /// The plan in words: questions, models, expected outputs.
    #[serde(default)]
    pub description: String,
}

impl Default for AnalysisPlan {
    fn default() -> Self {
        let limits = PlanLimits::default();
        Self {
            kinds: limits.kinds,
            variables: None,
            max_horizon_days: limits.max_horizon_days,
            description: String::new(),
        }
    }
}

impl AnalysisPlan {
    /// Whether every analysis of the plan releases only aggregates under
    /// disclosure control (no trained model).
    pub fn aggregate_only(&self) -> bool {
        self.kinds
            .iter()
            .all(|k| AGGREGATE_KINDS.contains(&k.as_str()))
    }

    /// The project's run limits: the kinds, variables and horizon asked for;
    /// β bound and round budget at their defaults; time bins only (exact event
    /// days are never granted through an application).
    pub fn limits(&self) -> PlanLimits {
        PlanLimits {
            kinds: self.kinds.clone(),
            variables: self.variables.clone(),
            max_horizon_days: self.max_horizon_days,
            ..PlanLimits::default()
        }
    }
}

/// One version of an application, as the researcher writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplicationContent {
    /// The project's title.
    pub title: String,
    /// Why the data is used (research for a project).
    pub purpose: Purpose,
    /// The scientific question and public benefit, in words.
    pub summary: String,
    /// Data categories asked for; they imply the security level
    /// ([`ApplicationContent::security_level`]).
    pub categories: BTreeSet<DataCategory>,
    /// The sites whose data the project needs (site ids).
    pub sites: BTreeSet<String>,
    /// What will be computed.
    pub plan: AnalysisPlan,
    /// Days the project runs from approval.
    pub duration_days: u32,
    /// The total ε budget asked for, per researcher.
    pub epsilon: f64,
    /// Further researchers (hub user ids); the applicant is always one.
    #[serde(default)]
    pub researchers: BTreeSet<String>,
    /// The ethics vote, once uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ethics: Option<EthicsVote>,
}

impl ApplicationContent {
    /// The security level of the data asked for (R7): the highest of the
    /// categories, 4 when genetic data is linked to anything else.
    pub fn security_level(&self) -> SecurityLevel {
        SecurityLevel::of_dataset(self.categories.iter().copied())
    }

    /// Whether any category needs the person's explicit opt-in (genetic or
    /// germline data, R6).
    pub fn needs_opt_in(&self) -> bool {
        self.categories.iter().any(|c| c.is_genetic())
    }

    /// Every researcher of the project: the applicant and those named.
    pub fn all_researchers(&self, applicant: &str) -> BTreeSet<String> {
        let mut all = self.researchers.clone();
        all.insert(applicant.to_owned());
        all
    }

    /// Checks what can be checked without the hub's registries; the message
    /// names the field to fix.
    pub fn validate(&self) -> Result<(), String> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > MAX_TITLE {
            return Err(format!("title: 1 to {MAX_TITLE} characters"));
        }
        if self.summary.chars().count() > MAX_TEXT
            || self.plan.description.chars().count() > MAX_TEXT
        {
            return Err(format!(
                "summary and plan description: at most {MAX_TEXT} characters each"
            ));
        }
        if self.purpose != Purpose::Research {
            return Err(
                "purpose: a project is for research (feasibility needs no application)".into(),
            );
        }
        if self.categories.is_empty() {
            return Err("categories: name at least one data category".into());
        }
        if !self.categories.contains(&DataCategory::Clinical) {
            // every analysis reads clinical data (the index diagnosis)
            return Err("categories: every analysis reads clinical data; include it".into());
        }
        if self.sites.is_empty() {
            return Err("sites: name at least one site".into());
        }
        if self.plan.kinds.is_empty() {
            return Err("plan.kinds: name at least one analysis kind".into());
        }
        if self.duration_days == 0 || self.duration_days > MAX_DURATION_DAYS {
            return Err(format!("duration_days: 1 to {MAX_DURATION_DAYS}"));
        }
        if !(self.epsilon.is_finite() && self.epsilon > 0.0 && self.epsilon <= MAX_EPSILON) {
            return Err(format!(
                "epsilon: a number above 0 and at most {MAX_EPSILON}"
            ));
        }
        if let Some(vars) = &self.plan.variables
            && let Some(v) = vars
                .iter()
                .find(|v| !self.categories.contains(&v.category()))
        {
            return Err(format!(
                "plan.variables: {} reads {} data, which the application does not ask for",
                v.name(),
                v.category()
            ));
        }
        for r in &self.researchers {
            if r.is_empty() || r.len() > 64 || r.chars().any(char::is_whitespace) {
                return Err("researchers: hub user ids without spaces".into());
            }
        }
        self.plan.limits().validate()
    }

    /// The project an approval of this content creates, with id `id`, for
    /// `applicant` and the named researchers, restricted to `categories`.
    pub fn project(&self, id: &str, applicant: &str) -> Project {
        Project {
            id: id.to_owned(),
            title: self.title.trim().to_owned(),
            researchers: self.all_researchers(applicant).into_iter().collect(),
            categories: self.categories.clone(),
            epsilon_budget: self.epsilon,
            plan: self.plan.limits(),
        }
    }
}

/// A submitted version: immutable once stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplicationVersion {
    /// 1, 2, …: a rework opens the next.
    pub number: u32,
    /// What was submitted.
    pub content: ApplicationContent,
    /// SHA-256 of the content's JSON as stored (lowercase hex): decisions cite it.
    pub sha256: String,
    /// When it was submitted.
    pub submitted_at: DateTime<Utc>,
}

/// Where an application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Being written; only the applicant sees it.
    Draft,
    /// Submitted, waiting for the central office's formal check.
    FormalCheck,
    /// Passed the formal check; each included site checks its part.
    SiteCheck,
    /// At least one site accepted; the use-and-access committee votes.
    CommitteeVote,
    /// The committee approved; the applicant and each accepting site
    /// acknowledge the terms.
    Acknowledgement,
    /// Approved; the project exists.
    Approved,
    /// Sent back for rework with reasons; the applicant revises and submits a
    /// new version.
    Rework,
    /// Rejected with reasons; final.
    Rejected,
}

impl Stage {
    /// The stage's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::FormalCheck => "formal-check",
            Self::SiteCheck => "site-check",
            Self::CommitteeVote => "committee-vote",
            Self::Acknowledgement => "acknowledgement",
            Self::Approved => "approved",
            Self::Rework => "rework",
            Self::Rejected => "rejected",
        }
    }

    /// Whether the application can still change (not approved or rejected).
    pub fn is_open(self) -> bool {
        !matches!(self, Self::Approved | Self::Rejected)
    }
}

/// A site's decision on its part of an application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "kebab-case", deny_unknown_fields)]
pub enum SiteDecision {
    /// The site takes part.
    Accept,
    /// The site takes part under conditions (they become terms).
    AcceptWithConditions {
        /// The conditions, in words.
        conditions: String,
    },
    /// The site does not take part; it drops out of the project.
    Decline {
        /// Why, in words.
        reasons: String,
    },
}

impl SiteDecision {
    /// Whether the site takes part.
    pub fn accepts(&self) -> bool {
        !matches!(self, Self::Decline { .. })
    }
}

/// A committee member's vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "vote", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Vote {
    /// Approve as submitted.
    Approve,
    /// Approve under conditions (they become terms).
    ApproveWithConditions {
        /// The conditions, in words.
        conditions: String,
    },
    /// Send back for rework.
    Rework {
        /// What to change, in words.
        reasons: String,
    },
    /// Reject.
    Reject {
        /// Why, in words.
        reasons: String,
    },
}

impl Vote {
    /// Whether the vote approves (with or without conditions).
    pub fn approves(&self) -> bool {
        matches!(self, Self::Approve | Self::ApproveWithConditions { .. })
    }
}

/// One party that acknowledges the terms.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "party", content = "id", rename_all = "kebab-case")]
pub enum Party {
    /// The applicant.
    Applicant,
    /// An accepting site (its site admin acknowledges).
    Site(String),
}

/// One rule of an approval policy and whether it held for a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleOutcome {
    /// The rule's id in the policy file.
    pub rule: String,
    /// Whether it held.
    pub held: bool,
    /// What was found, in words (no personal data).
    pub finding: String,
}

/// The evaluation of one version against an approval policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyVerdict {
    /// The policy's id.
    pub policy: String,
    /// The policy's version.
    pub version: u32,
    /// SHA-256 of the policy file's text (lowercase hex).
    pub sha256: String,
    /// Every rule, in the policy's order.
    pub rules: Vec<RuleOutcome>,
}

impl PolicyVerdict {
    /// Whether every rule held.
    pub fn approves(&self) -> bool {
        !self.rules.is_empty() && self.rules.iter().all(|r| r.held)
    }

    /// The ids of the rules that failed.
    pub fn failed(&self) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|r| !r.held)
            .map(|r| r.rule.as_str())
            .collect()
    }
}

/// A decision in an application's history (every one cites its version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The applicant submitted a version.
    Submitted {
        /// The version.
        version: u32,
    },
    /// The version was checked against the approval policy.
    PolicyChecked {
        /// The version.
        version: u32,
        /// The outcome per rule.
        verdict: PolicyVerdict,
    },
    /// The office's formal check.
    FormalCheck {
        /// The version.
        version: u32,
        /// Passed, or sent back.
        passed: bool,
        /// Reasons (required when sent back).
        reasons: String,
    },
    /// A site's decision.
    Site {
        /// The version.
        version: u32,
        /// The site.
        site: String,
        /// Its decision.
        decision: SiteDecision,
    },
    /// A committee member's vote.
    Vote {
        /// The version.
        version: u32,
        /// The vote.
        vote: Vote,
    },
    /// A party acknowledged the terms.
    Acknowledged {
        /// The version.
        version: u32,
        /// Who.
        party: Party,
    },
    /// The application was approved and its project created.
    Approved {
        /// The version.
        version: u32,
        /// The project's id.
        project: String,
        /// By policy (with its id) or by the committee.
        by_policy: bool,
    },
    /// The application went back for rework.
    ReworkRequested {
        /// The version.
        version: u32,
        /// Why, collected from the deciders.
        reasons: String,
    },
    /// The application was rejected.
    Rejected {
        /// The version.
        version: u32,
        /// Why.
        reasons: String,
    },
}

/// One entry of the history: who, when, what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The actor's hub user id (`policy` for automatic decisions).
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// What happened.
    pub event: Event,
}

/// An application as the hub keeps it and shows it to those who may see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Application {
    /// `app-` and 12 hex digits; also the id of the project an approval creates.
    pub id: String,
    /// The researcher who applies (hub user id).
    pub applicant: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Where it stands.
    pub stage: Stage,
    /// The draft being edited (in `draft` and `rework`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<ApplicationContent>,
    /// Submitted versions, oldest first; immutable.
    pub versions: Vec<ApplicationVersion>,
    /// The current version's site decisions.
    pub sites: BTreeMap<String, SiteDecision>,
    /// The current version's committee votes, by member.
    pub votes: BTreeMap<String, Vote>,
    /// Parties that acknowledged the current version's terms.
    pub acknowledged: BTreeSet<Party>,
    /// Every decision, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The project created on approval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
}

impl Application {
    /// The latest submitted version.
    pub fn current(&self) -> Option<&ApplicationVersion> {
        self.versions.last()
    }

    /// The content shown: the draft while editing, else the latest version.
    pub fn content(&self) -> Option<&ApplicationContent> {
        match self.stage {
            Stage::Draft | Stage::Rework => {
                self.draft.as_ref().or(self.current().map(|v| &v.content))
            }
            _ => self.current().map(|v| &v.content),
        }
    }

    /// The accepting sites of the current version.
    pub fn accepting_sites(&self) -> BTreeSet<String> {
        self.sites
            .iter()
            .filter(|(_, d)| d.accepts())
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// The terms both sides acknowledge: the conditions of accepting sites and
    /// approving committee members.
    pub fn terms(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (site, d) in &self.sites {
            if let SiteDecision::AcceptWithConditions { conditions } = d {
                out.push(format!("{site}: {conditions}"));
            }
        }
        for v in self.votes.values() {
            if let Vote::ApproveWithConditions { conditions } = v {
                out.push(conditions.clone());
            }
        }
        out
    }

    /// The parties that must acknowledge the terms: the applicant and every
    /// accepting site.
    pub fn parties(&self) -> BTreeSet<Party> {
        let mut out: BTreeSet<Party> = self
            .accepting_sites()
            .into_iter()
            .map(Party::Site)
            .collect();
        out.insert(Party::Applicant);
        out
    }

    /// The policy verdict of the current version, if it was checked.
    pub fn policy_verdict(&self) -> Option<&PolicyVerdict> {
        let version = self.current()?.number;
        self.history.iter().rev().find_map(|h| match &h.event {
            Event::PolicyChecked {
                version: v,
                verdict,
            } if *v == version => Some(verdict),
            _ => None,
        })
    }

    /// The reasons of the last rework request or rejection, if any.
    pub fn last_reasons(&self) -> Option<&str> {
        self.history.iter().rev().find_map(|h| match &h.event {
            Event::ReworkRequested { reasons, .. } | Event::Rejected { reasons, .. } => {
                Some(reasons.as_str())
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content() -> ApplicationContent {
        ApplicationContent {
            title: "Survival in NSCLC".into(),
            purpose: Purpose::Research,
            summary: "Does age change survival?".into(),
            categories: BTreeSet::from([DataCategory::Clinical]),
            sites: BTreeSet::from(["site-a".to_string()]),
            plan: AnalysisPlan {
                kinds: vec!["km".into(), "cox".into()],
                variables: None,
                max_horizon_days: 1825,
                description: String::new(),
            },
            duration_days: 365,
            epsilon: 1.0,
            researchers: BTreeSet::new(),
            ethics: None,
        }
    }

    #[test]
    fn clinical_only_is_level_two_and_maps_to_plan_limits() {
        let c = content();
        c.validate().unwrap();
        assert_eq!(c.security_level(), SecurityLevel::Pseudonymised);
        assert!(c.plan.aggregate_only());
        let p = c.project("app-1", "alice");
        assert_eq!(p.researchers, vec!["alice".to_string()]);
        assert_eq!(p.plan.kinds, vec!["km".to_string(), "cox".to_string()]);
        assert_eq!(p.plan.max_horizon_days, 1825);
        assert!(!p.plan.exact_times);
        p.validate().unwrap();
    }

    #[test]
    fn genetic_linked_to_clinical_is_level_four() {
        let mut c = content();
        c.categories.insert(DataCategory::Genetic);
        assert_eq!(c.security_level(), SecurityLevel::GeneticLinked);
        assert!(c.needs_opt_in());
    }

    #[test]
    fn invalid_content_names_the_field() {
        let mut c = content();
        c.epsilon = 0.0;
        assert!(c.validate().unwrap_err().starts_with("epsilon"));
        let mut c = content();
        c.sites.clear();
        assert!(c.validate().unwrap_err().starts_with("sites"));
        let mut c = content();
        c.plan.kinds = vec!["guess".into()];
        assert!(c.validate().unwrap_err().contains("plan.kinds"));
        let mut c = content();
        c.plan.variables = Some(vec!["gene:EGFR".parse().unwrap()]);
        assert!(c.validate().unwrap_err().starts_with("plan.variables"));
    }

    #[test]
    fn a_cell_classifier_is_not_aggregate_only() {
        let mut c = content();
        c.plan.kinds.push("cell-classifier".into());
        assert!(!c.plan.aggregate_only());
    }
}
