//! The automatic approval policy (issue 17, item 3): a written, versioned
//! file of rules; an application that meets every rule is approved at
//! submission, and the audit record cites the policy's id, version, the
//! SHA-256 of its text and each rule that held.
//!
//! The hub ships `policy/auto-approval-v1.toml` and loads it unless the
//! configuration names another file ([`crate::HubConfig::approval_policy`]).
//! Rules are typed (`kind`), so a policy file can only combine checks the hub
//! knows how to make, each with its own parameters; unknown kinds or fields
//! are refused at start-up.

use oncofed_protocol::application::{ApplicationContent, PolicyVerdict, RuleOutcome};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The policy the hub ships (`crates/hub/policy/auto-approval-v1.toml`).
pub const SHIPPED: &str = include_str!("../../policy/auto-approval-v1.toml");

/// What a rule checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Check {
    /// Every analysis kind releases only aggregates (no trained model).
    AggregateOnly,
    /// The data's security level (R7) is at most `max`.
    MaxSecurityLevel {
        /// Highest level, 1 to 4.
        max: u8,
    },
    /// No category needs the person's explicit opt-in (genetic, germline).
    NoOptInCategories,
    /// The ε asked for is at most `max`.
    MaxEpsilon {
        /// Largest ε.
        max: f64,
    },
    /// The duration asked for is at most `max` days.
    MaxDurationDays {
        /// Longest duration.
        max: u32,
    },
    /// The applicant and every named researcher are members of a registered
    /// institution.
    RegisteredInstitution,
    /// Every included site opted into approval under this policy.
    SitesOptedIn,
    /// An ethics vote is attached.
    EthicsVote,
}

/// One rule: its id, what it checks and its wording.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Stable id, cited in audit records.
    pub id: String,
    /// The check.
    pub check: Check,
    /// The rule in English.
    pub en: String,
    /// The rule in German.
    pub de: String,
}

/// A rule as written: `kind` names the check, `max` its bound where it has one.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    kind: String,
    #[serde(default)]
    max: Option<f64>,
    en: String,
    de: String,
}

impl RuleFile {
    fn check(&self) -> Result<Check, String> {
        let bad = |what: &str| format!("approval policy: rule {}: {what}", self.id);
        let whole = |lo: f64, hi: f64| match self.max {
            Some(m) if m.fract() == 0.0 && (lo..=hi).contains(&m) => Ok(m),
            _ => Err(bad(&format!(
                "max must be a whole number from {lo} to {hi}"
            ))),
        };
        let none = |c: Check| match self.max {
            None => Ok(c),
            Some(_) => Err(bad("this kind takes no max")),
        };
        match self.kind.as_str() {
            "aggregate-only" => none(Check::AggregateOnly),
            "no-opt-in-categories" => none(Check::NoOptInCategories),
            "registered-institution" => none(Check::RegisteredInstitution),
            "sites-opted-in" => none(Check::SitesOptedIn),
            "ethics-vote" => none(Check::EthicsVote),
            "max-security-level" => Ok(Check::MaxSecurityLevel {
                max: whole(1.0, 4.0)? as u8,
            }),
            "max-duration-days" => Ok(Check::MaxDurationDays {
                max: whole(
                    1.0,
                    f64::from(oncofed_protocol::application::MAX_DURATION_DAYS),
                )? as u32,
            }),
            "max-epsilon" => match self.max {
                Some(m) if m.is_finite() && m > 0.0 => Ok(Check::MaxEpsilon { max: m }),
                _ => Err(bad("max must be a number above 0")),
            },
            other => Err(bad(&format!(
                "unknown kind '{other}': use aggregate-only, max-security-level, no-opt-in-categories, max-epsilon, max-duration-days, registered-institution, sites-opted-in or ethics-vote"
            ))),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    id: String,
    version: u32,
    title_en: String,
    title_de: String,
    #[serde(rename = "rule")]
    rules: Vec<RuleFile>,
}

/// A loaded policy with the digest of its text.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalPolicy {
    /// The policy's id.
    pub id: String,
    /// Its version.
    pub version: u32,
    /// Title in English.
    pub title_en: String,
    /// Title in German.
    pub title_de: String,
    /// The rules, in the file's order.
    pub rules: Vec<Rule>,
    /// The file's text, shown on the policy page.
    pub text: String,
    /// SHA-256 of the text, lowercase hex.
    pub sha256: String,
}

/// What the hub knows when it checks an application against the policy.
#[derive(Debug, Clone, Default)]
pub struct PolicyContext {
    /// Registered institution of each member (user id → institution id).
    pub members: BTreeMap<String, String>,
    /// Sites that opted into approval under this policy's id.
    pub opted_in: BTreeSet<String>,
}

impl ApprovalPolicy {
    /// Parses and checks a policy file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| format!("approval policy: {e}"))?;
        if file.id.trim().is_empty() || file.version == 0 {
            return Err("approval policy: an id and a version of at least 1".into());
        }
        if file.rules.is_empty() {
            return Err("approval policy: at least one [[rule]]".into());
        }
        let mut ids = BTreeSet::new();
        let mut rules = Vec::with_capacity(file.rules.len());
        for r in file.rules {
            if r.id.trim().is_empty() || !ids.insert(r.id.clone()) {
                return Err(format!(
                    "approval policy: rule id '{}' empty or repeated",
                    r.id
                ));
            }
            rules.push(Rule {
                check: r.check()?,
                id: r.id,
                en: r.en,
                de: r.de,
            });
        }
        Ok(Self {
            id: file.id,
            version: file.version,
            title_en: file.title_en,
            title_de: file.title_de,
            rules,
            text: text.to_owned(),
            sha256: hex::encode(Sha256::digest(text.as_bytes())),
        })
    }

    /// The policy the hub ships.
    pub fn shipped() -> Self {
        Self::parse(SHIPPED).expect("the shipped approval policy parses (tested)")
    }

    /// Reads a policy file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("approval policy {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// Checks `content` (applied for by `applicant`) against every rule.
    pub fn evaluate(
        &self,
        applicant: &str,
        content: &ApplicationContent,
        ctx: &PolicyContext,
    ) -> PolicyVerdict {
        let rules = self
            .rules
            .iter()
            .map(|r| {
                let (held, finding) = check(&r.check, applicant, content, ctx);
                RuleOutcome {
                    rule: r.id.clone(),
                    held,
                    finding,
                }
            })
            .collect();
        PolicyVerdict {
            policy: self.id.clone(),
            version: self.version,
            sha256: self.sha256.clone(),
            rules,
        }
    }
}

fn check(
    check: &Check,
    applicant: &str,
    c: &ApplicationContent,
    ctx: &PolicyContext,
) -> (bool, String) {
    match check {
        Check::AggregateOnly => {
            let other: Vec<&str> = c
                .plan
                .kinds
                .iter()
                .map(String::as_str)
                .filter(|k| !oncofed_protocol::application::AGGREGATE_KINDS.contains(k))
                .collect();
            if other.is_empty() {
                (true, format!("kinds {}", c.plan.kinds.join(", ")))
            } else {
                (false, format!("not aggregate-only: {}", other.join(", ")))
            }
        }
        Check::MaxSecurityLevel { max } => {
            let level = u8::from(c.security_level());
            (
                level <= *max,
                format!("security level {level} (at most {max})"),
            )
        }
        Check::NoOptInCategories => {
            let opt_in: Vec<&str> = c
                .categories
                .iter()
                .filter(|x| x.is_genetic())
                .map(|x| x.as_str())
                .collect();
            if opt_in.is_empty() {
                (true, "no category needs an opt-in".into())
            } else {
                (false, format!("needs an opt-in: {}", opt_in.join(", ")))
            }
        }
        Check::MaxEpsilon { max } => (
            c.epsilon <= *max,
            format!("ε = {} (at most {max})", c.epsilon),
        ),
        Check::MaxDurationDays { max } => (
            c.duration_days <= *max,
            format!("{} days (at most {max})", c.duration_days),
        ),
        Check::RegisteredInstitution => {
            let people = c.all_researchers(applicant);
            let missing = people
                .iter()
                .filter(|p| !ctx.members.contains_key(*p))
                .count();
            if missing == 0 {
                let institutions: BTreeSet<&str> = people
                    .iter()
                    .filter_map(|p| ctx.members.get(p).map(String::as_str))
                    .collect();
                let names: Vec<&str> = institutions.into_iter().collect();
                (true, format!("institutions {}", names.join(", ")))
            } else {
                // a count, not the names: the finding is shown and audited
                (
                    false,
                    format!("{missing} researcher(s) without a registered institution"),
                )
            }
        }
        Check::SitesOptedIn => {
            let missing: Vec<&str> = c
                .sites
                .iter()
                .filter(|s| !ctx.opted_in.contains(*s))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                (true, "every site opted in".into())
            } else {
                (false, format!("not opted in: {}", missing.join(", ")))
            }
        }
        Check::EthicsVote => match &c.ethics {
            Some(v) => (true, format!("vote sha256 {}", &v.sha256)),
            None => (false, "no ethics vote attached".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncofed_model::{DataCategory, Purpose};
    use oncofed_protocol::application::{AnalysisPlan, EthicsVote};

    fn content() -> ApplicationContent {
        ApplicationContent {
            title: "KM in NSCLC".into(),
            purpose: Purpose::Research,
            summary: String::new(),
            categories: BTreeSet::from([DataCategory::Clinical]),
            sites: BTreeSet::from(["site-a".to_string()]),
            plan: AnalysisPlan {
                kinds: vec!["km".into()],
                variables: None,
                max_horizon_days: 1825,
                description: String::new(),
            },
            duration_days: 180,
            epsilon: 0.5,
            researchers: BTreeSet::new(),
            ethics: Some(EthicsVote {
                sha256: "00".repeat(32),
                bytes: 5,
                filename: "v.pdf".into(),
            }),
        }
    }

    fn ctx() -> PolicyContext {
        PolicyContext {
            members: BTreeMap::from([("alice".to_string(), "uk-x".to_string())]),
            opted_in: BTreeSet::from(["site-a".to_string()]),
        }
    }

    #[test]
    fn the_shipped_policy_parses_and_digests_its_text() {
        let p = ApprovalPolicy::shipped();
        assert_eq!((p.id.as_str(), p.version), ("oncofed-auto-approval", 1));
        assert_eq!(p.sha256, hex::encode(Sha256::digest(SHIPPED.as_bytes())));
        assert_eq!(p.rules.len(), 8);
    }

    #[test]
    fn a_low_risk_application_meets_every_rule() {
        let v = ApprovalPolicy::shipped().evaluate("alice", &content(), &ctx());
        assert!(v.approves(), "{:?}", v.failed());
    }

    #[test]
    fn each_rule_fails_on_its_own() {
        let p = ApprovalPolicy::shipped();
        let fails = |c: ApplicationContent, ctx: PolicyContext| {
            p.evaluate("alice", &c, &ctx)
                .failed()
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        let mut c = content();
        c.plan.kinds.push("cell-classifier".into());
        assert_eq!(fails(c, ctx()), ["aggregate-only"]);
        let mut c = content();
        c.categories.insert(DataCategory::Genetic);
        assert_eq!(fails(c, ctx()), ["security-level", "no-opt-in-categories"]);
        let mut c = content();
        c.epsilon = 1.5;
        assert_eq!(fails(c, ctx()), ["epsilon-cap"]);
        let mut c = content();
        c.duration_days = 400;
        assert_eq!(fails(c, ctx()), ["duration-cap"]);
        let mut c = content();
        c.researchers.insert("mallory".into());
        assert_eq!(fails(c, ctx()), ["registered-institution"]);
        let mut c = content();
        c.sites.insert("site-b".into());
        assert_eq!(fails(c, ctx()), ["sites-opted-in"]);
        let mut c = content();
        c.ethics = None;
        assert_eq!(fails(c, ctx()), ["ethics-vote"]);
        assert_eq!(
            fails(content(), PolicyContext::default()),
            ["registered-institution", "sites-opted-in"]
        );
    }

    #[test]
    fn bad_policy_files_are_refused() {
        assert!(
            ApprovalPolicy::parse(
                "id = \"x\"\nversion = 1\ntitle_en = \"\"\ntitle_de = \"\"\nrule = []"
            )
            .is_err()
        );
        let unknown = SHIPPED.replace("kind = \"ethics-vote\"", "kind = \"always\"");
        assert!(ApprovalPolicy::parse(&unknown).is_err());
        let repeated = SHIPPED.replace("id = \"duration-cap\"", "id = \"epsilon-cap\"");
        assert!(
            ApprovalPolicy::parse(&repeated)
                .unwrap_err()
                .contains("repeated")
        );
        let level = SHIPPED.replace("max = 2", "max = 7");
        assert!(ApprovalPolicy::parse(&level).is_err());
    }
}
