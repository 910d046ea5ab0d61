//! The application workflow as a pure state machine, after the MII's FDPG
//! flow: draft → submitted → central formal check → per-site check →
//! committee vote (four eyes) → both sides acknowledge the terms → approved;
//! rework (a new version) and rejection (final) with reasons on the way.
//!
//! Nothing here reads a clock, a store or a file: [`act`] takes the
//! application, who acts, what they do and the time, and returns the changed
//! application with what happened, or a [`Refusal`] that leaves it as it
//! was. The hub's service layer (`super::service`) loads, calls, stores and
//! audits. Who may do what:
//!
//! | action | who | stage |
//! |---|---|---|
//! | save draft, attach ethics vote, submit | the applicant (researcher) | draft, rework |
//! | formal check (pass / back with reasons) | an admin (the central office) | formal check |
//! | site decision (accept / with conditions / decline) | the site admin of that site, once per version | site check |
//! | vote (approve / with conditions / rework / reject) | a committee member, once per version, never the applicant or a named researcher | committee vote |
//! | acknowledge the terms | the applicant; the site admin of each accepting site | acknowledgement |
//! | approval by policy | the approval policy, when every rule holds | formal check |
//!
//! Resolution: the site check ends when every included site has decided; a
//! declining site drops out, and if all decline the application is rejected.
//! The committee needs two distinct members voting to approve (four eyes), or
//! two voting to reject; one member's request for rework sends it back at
//! once (it costs a revision, not a decision).

use crate::Role;
use chrono::{DateTime, Utc};
use oncofed_protocol::analysis::Project;
use oncofed_protocol::application::{
    Application, ApplicationContent, ApplicationVersion, EthicsVote, Event, HistoryEntry, Party,
    PolicyVerdict, SiteDecision, Stage, Vote,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};

/// Votes approving (or rejecting) a version needs from distinct members.
pub const FOUR_EYES: usize = 2;

/// The actor id written for decisions of the approval policy.
pub const POLICY_ACTOR: &str = "policy";

/// Who acts: a signed-in hub user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Hub user id.
    pub id: String,
    /// Their role.
    pub role: Role,
    /// The site a site admin acts for.
    pub site: Option<String>,
}

/// What a user does to an application.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Replace the draft (the applicant, while drafting or reworking).
    SaveDraft(Box<ApplicationContent>),
    /// Attach the stored ethics vote to the draft.
    AttachEthics(EthicsVote),
    /// Submit the draft as the next immutable version.
    Submit,
    /// The office's formal check: pass, or back for rework with reasons.
    FormalCheck {
        /// Whether it passed.
        pass: bool,
        /// Reasons (required when it does not pass).
        reasons: String,
    },
    /// A site's decision on its part.
    SiteDecide {
        /// The site decided for.
        site: String,
        /// The decision.
        decision: SiteDecision,
    },
    /// A committee member's vote.
    Vote(Vote),
    /// Acknowledge the terms as this party.
    Acknowledge(Party),
}

/// Why an action was refused; the application is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The actor's role or relation to the application does not allow it.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// Allowed in principle, but not now (stage, a second vote, a decided site).
    #[error("{0}")]
    Conflict(String),
    /// The input is wrong; the message names what to fix.
    #[error("{0}")]
    Invalid(String),
}

/// What an accepted action did.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The application after the action.
    pub application: Application,
    /// The events it added to the history, in order.
    pub events: Vec<Event>,
    /// The project to create, with the sites it runs on, when the
    /// application was approved.
    pub project: Option<(Project, BTreeSet<String>)>,
}

/// A new application in draft for `actor` (a researcher).
pub fn create(
    id: &str,
    actor: &Actor,
    content: ApplicationContent,
    now: DateTime<Utc>,
) -> Result<Application, Refusal> {
    if actor.role != Role::Researcher {
        return Err(Refusal::Forbidden("only researchers apply".into()));
    }
    Ok(Application {
        id: id.to_owned(),
        applicant: actor.id.clone(),
        created_at: now,
        stage: Stage::Draft,
        draft: Some(content),
        versions: Vec::new(),
        sites: BTreeMap::new(),
        votes: BTreeMap::new(),
        acknowledged: BTreeSet::new(),
        history: Vec::new(),
        project: None,
    })
}

/// SHA-256 of a version's content as JSON (what decisions cite).
pub fn content_digest(content: &ApplicationContent) -> String {
    let json = serde_json::to_vec(content).unwrap_or_default();
    hex::encode(Sha256::digest(json))
}

fn non_empty(text: &str, what: &str) -> Result<String, Refusal> {
    let t = text.trim();
    if t.is_empty() {
        return Err(Refusal::Invalid(format!("{what}: give them in words")));
    }
    if t.chars().count() > oncofed_protocol::application::MAX_TEXT {
        return Err(Refusal::Invalid(format!(
            "{what}: at most {} characters",
            oncofed_protocol::application::MAX_TEXT
        )));
    }
    Ok(t.to_owned())
}

fn stage_is(app: &Application, stages: &[Stage], what: &str) -> Result<(), Refusal> {
    if stages.contains(&app.stage) {
        Ok(())
    } else {
        Err(Refusal::Conflict(format!(
            "{what} is not possible while the application is at stage {}",
            app.stage.as_str()
        )))
    }
}

/// Whether `actor` is a researcher of the application (the applicant or one
/// named in a draft or version): they may never decide on it.
pub fn is_party_researcher(app: &Application, actor: &str) -> bool {
    app.applicant == actor
        || app
            .versions
            .iter()
            .any(|v| v.content.researchers.contains(actor))
        || app
            .draft
            .as_ref()
            .is_some_and(|d| d.researchers.contains(actor))
}

/// Applies `action` by `actor` at `now`.
pub fn act(
    app: &Application,
    actor: &Actor,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    let mut next = app.clone();
    let mut events = Vec::new();
    let mut project = None;
    let version = app.current().map_or(0, |v| v.number);
    let is_applicant = actor.role == Role::Researcher && actor.id == app.applicant;
    match action {
        Action::SaveDraft(content) => {
            if !is_applicant {
                return Err(Refusal::Forbidden(
                    "only the applicant edits the draft".into(),
                ));
            }
            stage_is(app, &[Stage::Draft, Stage::Rework], "editing")?;
            let ethics = next.draft.as_ref().and_then(|d| d.ethics.clone());
            let mut content = *content;
            // the ethics vote is attached by upload only
            content.ethics = ethics;
            next.draft = Some(content);
        }
        Action::AttachEthics(vote) => {
            if !is_applicant {
                return Err(Refusal::Forbidden(
                    "only the applicant uploads the ethics vote".into(),
                ));
            }
            stage_is(
                app,
                &[Stage::Draft, Stage::Rework],
                "uploading an ethics vote",
            )?;
            let draft = next
                .draft
                .as_mut()
                .ok_or_else(|| Refusal::Conflict("there is no draft".into()))?;
            draft.ethics = Some(vote);
        }
        Action::Submit => {
            if !is_applicant {
                return Err(Refusal::Forbidden("only the applicant submits".into()));
            }
            stage_is(app, &[Stage::Draft, Stage::Rework], "submitting")?;
            let content = next
                .draft
                .take()
                .ok_or_else(|| Refusal::Conflict("there is no draft".into()))?;
            content.validate().map_err(Refusal::Invalid)?;
            if content.ethics.is_none() {
                return Err(Refusal::Invalid(
                    "ethics: upload the ethics committee's vote (PDF) before submitting".into(),
                ));
            }
            let number = version + 1;
            next.versions.push(ApplicationVersion {
                number,
                sha256: content_digest(&content),
                content,
                submitted_at: now,
            });
            next.sites.clear();
            next.votes.clear();
            next.acknowledged.clear();
            next.stage = Stage::FormalCheck;
            events.push(Event::Submitted { version: number });
        }
        Action::FormalCheck { pass, reasons } => {
            if actor.role != Role::Admin {
                return Err(Refusal::Forbidden(
                    "the central office (admin) checks".into(),
                ));
            }
            stage_is(app, &[Stage::FormalCheck], "a formal check")?;
            let reasons = if pass {
                reasons.trim().to_owned()
            } else {
                non_empty(&reasons, "reasons for rework")?
            };
            events.push(Event::FormalCheck {
                version,
                passed: pass,
                reasons: reasons.clone(),
            });
            if pass {
                next.stage = Stage::SiteCheck;
            } else {
                send_back(&mut next, version, reasons, &mut events);
            }
        }
        Action::SiteDecide { site, decision } => {
            if actor.role != Role::SiteAdmin || actor.site.as_deref() != Some(site.as_str()) {
                return Err(Refusal::Forbidden(
                    "a site admin decides for their own site only".into(),
                ));
            }
            stage_is(app, &[Stage::SiteCheck], "a site decision")?;
            let included = app
                .current()
                .is_some_and(|v| v.content.sites.contains(&site));
            if !included {
                return Err(Refusal::Forbidden(
                    "the application does not include this site".into(),
                ));
            }
            if app.sites.contains_key(&site) {
                return Err(Refusal::Conflict(
                    "this site has decided on this version already".into(),
                ));
            }
            let decision = match decision {
                SiteDecision::Accept => SiteDecision::Accept,
                SiteDecision::AcceptWithConditions { conditions } => {
                    SiteDecision::AcceptWithConditions {
                        conditions: non_empty(&conditions, "conditions")?,
                    }
                }
                SiteDecision::Decline { reasons } => SiteDecision::Decline {
                    reasons: non_empty(&reasons, "reasons")?,
                },
            };
            next.sites.insert(site.clone(), decision.clone());
            events.push(Event::Site {
                version,
                site,
                decision,
            });
            let all = app.current().map(|v| v.content.sites.len()).unwrap_or(0);
            if next.sites.len() == all {
                if next.accepting_sites().is_empty() {
                    let reasons = next
                        .sites
                        .iter()
                        .filter_map(|(s, d)| match d {
                            SiteDecision::Decline { reasons } => Some(format!("{s}: {reasons}")),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join("; ");
                    let reasons = format!("every site declined ({reasons})");
                    next.stage = Stage::Rejected;
                    events.push(Event::Rejected { version, reasons });
                } else {
                    next.stage = Stage::CommitteeVote;
                }
            }
        }
        Action::Vote(vote) => {
            if actor.role != Role::Committee {
                return Err(Refusal::Forbidden("committee members vote".into()));
            }
            if is_party_researcher(app, &actor.id) {
                return Err(Refusal::Forbidden(
                    "a researcher of the application never votes on it".into(),
                ));
            }
            stage_is(app, &[Stage::CommitteeVote], "a vote")?;
            if app.votes.contains_key(&actor.id) {
                return Err(Refusal::Conflict(
                    "you have voted on this version already; a member counts once".into(),
                ));
            }
            let vote = match vote {
                Vote::Approve => Vote::Approve,
                Vote::ApproveWithConditions { conditions } => Vote::ApproveWithConditions {
                    conditions: non_empty(&conditions, "conditions")?,
                },
                Vote::Rework { reasons } => Vote::Rework {
                    reasons: non_empty(&reasons, "reasons for rework")?,
                },
                Vote::Reject { reasons } => Vote::Reject {
                    reasons: non_empty(&reasons, "reasons for rejection")?,
                },
            };
            next.votes.insert(actor.id.clone(), vote.clone());
            events.push(Event::Vote {
                version,
                vote: vote.clone(),
            });
            let approvals = next.votes.values().filter(|v| v.approves()).count();
            let rejections: Vec<&str> = next
                .votes
                .values()
                .filter_map(|v| match v {
                    Vote::Reject { reasons } => Some(reasons.as_str()),
                    _ => None,
                })
                .collect();
            if let Vote::Rework { reasons } = vote {
                send_back(&mut next, version, reasons, &mut events);
            } else if rejections.len() >= FOUR_EYES {
                let reasons = rejections.join("; ");
                next.stage = Stage::Rejected;
                events.push(Event::Rejected { version, reasons });
            } else if approvals >= FOUR_EYES {
                next.stage = Stage::Acknowledgement;
            }
        }
        Action::Acknowledge(party) => {
            stage_is(app, &[Stage::Acknowledgement], "acknowledging the terms")?;
            let allowed = match &party {
                Party::Applicant => is_applicant,
                Party::Site(s) => {
                    actor.role == Role::SiteAdmin
                        && actor.site.as_deref() == Some(s.as_str())
                        && app.accepting_sites().contains(s)
                }
            };
            if !allowed {
                return Err(Refusal::Forbidden(
                    "the applicant and the admins of accepting sites acknowledge, each for themselves"
                        .into(),
                ));
            }
            if app.acknowledged.contains(&party) {
                return Err(Refusal::Conflict("acknowledged already".into()));
            }
            next.acknowledged.insert(party.clone());
            events.push(Event::Acknowledged { version, party });
            if next.acknowledged == next.parties() {
                project = Some(approve(&mut next, version, false, &mut events)?);
            }
        }
    }
    for event in &events {
        next.history.push(HistoryEntry {
            actor: actor.id.clone(),
            at: now,
            event: event.clone(),
        });
    }
    Ok(Transition {
        application: next,
        events,
        project,
    })
}

/// Records the policy's verdict on the current version; if every rule held,
/// approves it at once (formal check, site checks and votes are replaced by
/// the policy; every included site opted into policy approval).
pub fn apply_policy(
    app: &Application,
    verdict: PolicyVerdict,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    stage_is(app, &[Stage::FormalCheck], "approval by policy")?;
    let version = app.current().map_or(0, |v| v.number);
    let mut next = app.clone();
    let approves = verdict.approves();
    let mut events = vec![Event::PolicyChecked { version, verdict }];
    let mut project = None;
    if approves {
        let sites = app
            .current()
            .map(|v| v.content.sites.clone())
            .unwrap_or_default();
        for site in sites {
            next.sites.insert(site, SiteDecision::Accept);
        }
        project = Some(approve(&mut next, version, true, &mut events)?);
    }
    for event in &events {
        next.history.push(HistoryEntry {
            actor: POLICY_ACTOR.into(),
            at: now,
            event: event.clone(),
        });
    }
    Ok(Transition {
        application: next,
        events,
        project,
    })
}

fn send_back(next: &mut Application, version: u32, reasons: String, events: &mut Vec<Event>) {
    next.stage = Stage::Rework;
    next.draft = next.current().map(|v| v.content.clone());
    events.push(Event::ReworkRequested { version, reasons });
}

fn approve(
    next: &mut Application,
    version: u32,
    by_policy: bool,
    events: &mut Vec<Event>,
) -> Result<(Project, BTreeSet<String>), Refusal> {
    let current = next
        .current()
        .ok_or_else(|| Refusal::Conflict("nothing was submitted".into()))?;
    let project = current.content.project(&next.id, &next.applicant);
    project.validate().map_err(Refusal::Invalid)?;
    let sites = next.accepting_sites();
    next.stage = Stage::Approved;
    next.project = Some(project.id.clone());
    events.push(Event::Approved {
        version,
        project: project.id.clone(),
        by_policy,
    });
    Ok((project, sites))
}

#[cfg(test)]
#[path = "workflow_tests.rs"]
mod tests;
