//! What a caller may learn: granularity by caller role and data security level.
//!
//! | role \ level of the data set | 1 aggregate | 2 pseudonymised | 3 genetic | 4 genetic linked |
//! |---|---|---|---|---|
//! | [`Role::Public`] (anonymous) | boolean | boolean | boolean | — (refused) |
//! | [`Role::Registered`] (authenticated researcher) | count | count | count | boolean |
//! | [`Role::Controlled`] (approved project covering genetic data) | count | count | count | count |
//!
//! Record level is never returned, to anyone: a Beacon record is one patient's
//! variant, and record-level access goes through a project's approved data
//! release (R7/R11), not through a discovery service. Counts are always noised
//! and rounded ([`crate::defence::hub_release`]), for every role.
//!
//! Reasoning:
//! - **Germline variants identify a person** (Shringarpure & Bustamante 2015:
//!   a few hundred boolean answers suffice for membership in a beacon of
//!   1,000), and membership in an oncology beacon discloses a cancer
//!   diagnosis. So even the anonymous boolean answer is on a budget and behind
//!   the rare-allele rule, and it is withheld completely from level 4 data
//!   sets, where the variants are linked to clinical course.
//! - **Counts carry more** than booleans (a count of 1 vs 2 is the difference
//!   of one patient), so they need an identified caller whose queries can be
//!   rate-limited and budgeted per person (the per-researcher budgets of
//!   [`crate::defence`] only work when the caller is known).
//! - **Level 4 counts** go only to researchers of an approved project covering
//!   genetic data; registered researchers get the boolean answer there.
//!
//! Beacon's own security levels map one to one: `PUBLIC`, `REGISTERED`,
//! `CONTROLLED` (`beaconConfigurationSchema.json`, `securityAttributes`).
use oncofed_model::SecurityLevel;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::model::Granularity;

/// Who is asking, as the hub established it (authentication and project
/// approval are the hub's business; this crate trusts the role it is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Anonymous caller.
    Public,
    /// Authenticated researcher without an approved genetics project.
    Registered,
    /// Researcher of an approved project whose scope covers genetic data.
    Controlled,
}

impl Role {
    /// Beacon `securityLevels` spelling.
    pub fn beacon_security_level(self) -> &'static str {
        match self {
            Self::Public => "PUBLIC",
            Self::Registered => "REGISTERED",
            Self::Controlled => "CONTROLLED",
        }
    }

    /// Every role, for tables.
    pub const ALL: [Role; 3] = [Role::Public, Role::Registered, Role::Controlled];
}

/// The most a `role` may get from a data set at `level`; `None` = nothing.
pub fn max_granularity(level: SecurityLevel, role: Role) -> Option<Granularity> {
    use SecurityLevel::*;
    match (role, level) {
        (Role::Public, GeneticLinked) => None,
        (Role::Public, Aggregate | Pseudonymised | Genetic) => Some(Granularity::Boolean),
        (Role::Registered, GeneticLinked) => Some(Granularity::Boolean),
        (Role::Registered, Aggregate | Pseudonymised | Genetic) => Some(Granularity::Count),
        (Role::Controlled, _) => Some(Granularity::Count),
    }
}

/// The caller may not query this data set at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{} callers may not query data sets of security level {}: sign in, or ask within an approved project covering genetic data",
    role.beacon_security_level(), u8::from(*level)
)]
pub struct NotPermitted {
    /// The caller's role.
    pub role: Role,
    /// The data set's level.
    pub level: SecurityLevel,
}

impl NotPermitted {
    /// The Beacon error code: 401 for anonymous callers (authenticating may
    /// help), 403 otherwise.
    pub fn error_code(&self) -> u16 {
        match self.role {
            Role::Public => 401,
            _ => 403,
        }
    }
}

/// The granularity returned for a request: the requested one (boolean when
/// absent, the Beacon default) capped at [`max_granularity`]. Beacon lets a
/// beacon answer below the requested granularity and say so in
/// `meta.returnedGranularity`, so a request for `record` gets `count` or
/// `boolean`, not an error.
pub fn grant(
    level: SecurityLevel,
    role: Role,
    requested: Option<Granularity>,
) -> Result<Granularity, NotPermitted> {
    let max = max_granularity(level, role).ok_or(NotPermitted { role, level })?;
    Ok(requested.unwrap_or(Granularity::Boolean).min(max))
}

/// The table above as JSON (role → level → granularity or `null`), published
/// in the configuration endpoint.
pub fn granularity_table() -> Value {
    let levels = [
        SecurityLevel::Aggregate,
        SecurityLevel::Pseudonymised,
        SecurityLevel::Genetic,
        SecurityLevel::GeneticLinked,
    ];
    let mut table = serde_json::Map::new();
    for role in Role::ALL {
        let row: serde_json::Map<String, Value> = levels
            .iter()
            .map(|l| {
                (
                    u8::from(*l).to_string(),
                    max_granularity(*l, role).map_or(Value::Null, |g| json!(g.as_str())),
                )
            })
            .collect();
        table.insert(role.beacon_security_level().to_owned(), Value::Object(row));
    }
    Value::Object(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use SecurityLevel::*;

    #[test]
    fn record_level_is_never_granted() {
        for role in Role::ALL {
            for level in [Aggregate, Pseudonymised, Genetic, GeneticLinked] {
                if let Ok(g) = grant(level, role, Some(Granularity::Record)) {
                    assert!(g < Granularity::Record, "{role:?} {level:?}");
                }
            }
        }
    }

    #[test]
    fn public_gets_booleans_up_to_level_3_and_nothing_at_4() {
        assert_eq!(
            grant(Genetic, Role::Public, Some(Granularity::Count)),
            Ok(Granularity::Boolean)
        );
        let refused = grant(GeneticLinked, Role::Public, None).unwrap_err();
        assert_eq!(refused.error_code(), 401);
    }

    #[test]
    fn counts_need_an_identified_caller_and_level_4_an_approved_project() {
        assert_eq!(
            grant(Genetic, Role::Registered, Some(Granularity::Count)),
            Ok(Granularity::Count)
        );
        assert_eq!(
            grant(GeneticLinked, Role::Registered, Some(Granularity::Count)),
            Ok(Granularity::Boolean)
        );
        assert_eq!(
            grant(GeneticLinked, Role::Controlled, Some(Granularity::Record)),
            Ok(Granularity::Count)
        );
        assert_eq!(
            grant(Genetic, Role::Controlled, None),
            Ok(Granularity::Boolean)
        );
    }
}
