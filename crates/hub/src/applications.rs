//! Applications for research projects (issue 17, items 1–3): the researcher's
//! application with versions and an ethics vote, the FDPG-style review
//! (office, sites, committee, acknowledgement) and approval by a written
//! policy.
//!
//! - [`workflow`]: the pure state machine (who may do what, when);
//! - [`policy`]: the automatic approval policy and its evaluation;
//! - this module: the service both the JSON API (`routes::applications`) and
//!   the portal pages (`portal::applications`) call. It checks visibility
//!   (a researcher sees only applications they are a researcher of, a site
//!   admin only those that include their site), runs the transition in one
//!   store transaction, stores ethics votes content-addressed, and audits
//!   every action; an approval also writes `project.approved`, as an admin's
//!   direct approval does.

pub(crate) mod policy;
pub(crate) mod workflow;

use crate::routes::audit;
use crate::{ApiError, AppState, Role};
use chrono::Utc;
use oncofed_protocol::application::{
    Application, ApplicationContent, EthicsVote, Event, MAX_ETHICS_BYTES, Stage,
};
use policy::{ApprovalPolicy, PolicyContext};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use workflow::{Action, Actor, Refusal, Transition};

/// Where the hub finds its approval policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PolicySource {
    /// The policy shipped with the hub (`policy/auto-approval-v1.toml`).
    #[default]
    Shipped,
    /// A deployment's own policy file.
    File(PathBuf),
    /// No automatic approval: every application goes the manual way.
    Off,
}

impl PolicySource {
    /// Loads the policy (`None` when off).
    pub(crate) fn load(&self) -> Result<Option<ApprovalPolicy>, String> {
        match self {
            Self::Shipped => Ok(Some(ApprovalPolicy::shipped())),
            Self::File(path) => ApprovalPolicy::load(path).map(Some),
            Self::Off => Ok(None),
        }
    }
}

/// Where the ethics votes are kept (content-addressed) in the data directory.
fn ethics_dir(state: &AppState) -> PathBuf {
    state.inner.config.data_dir.join("ethics")
}

fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::Forbidden(_) => ApiError::Forbidden,
        Refusal::Conflict(m) => ApiError::Refused(m),
        Refusal::Invalid(m) => ApiError::Invalid(m),
    }
}

/// The actor for a hub user (a site admin with their site).
pub(crate) fn actor(state: &AppState, id: &str, role: Role) -> Actor {
    let site = match role {
        Role::SiteAdmin => state.inner.config.users.site_of(id).map(String::from),
        _ => None,
    };
    Actor {
        id: id.to_owned(),
        role,
        site,
    }
}

/// Whether `actor` may see `app`: its researchers always; the office, the
/// committee and auditors once submitted; a site admin once submitted and
/// only if a version includes their site. Nobody else learns it exists.
pub(crate) fn visible(app: &Application, actor: &Actor) -> bool {
    let submitted = !app.versions.is_empty();
    match actor.role {
        Role::Researcher => workflow::is_party_researcher(app, &actor.id),
        Role::Admin | Role::Committee | Role::Auditor => submitted,
        Role::SiteAdmin => {
            submitted
                && actor
                    .site
                    .as_ref()
                    .is_some_and(|site| app.versions.iter().any(|v| v.content.sites.contains(site)))
        }
        #[allow(unreachable_patterns)] // roles added later see nothing
        _ => false,
    }
}

/// The application `id` if `actor` may see it; otherwise not found (a
/// refusal would tell that it exists).
pub(crate) fn get(state: &AppState, actor: &Actor, id: &str) -> Result<Application, ApiError> {
    let app = state
        .inner
        .db
        .application(id)
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound)?;
    if visible(&app, actor) {
        Ok(app)
    } else {
        Err(ApiError::NotFound)
    }
}

/// Every application `actor` may see, newest first.
pub(crate) fn list(state: &AppState, actor: &Actor) -> Result<Vec<Application>, ApiError> {
    Ok(state
        .inner
        .db
        .applications()
        .map_err(ApiError::internal)?
        .into_iter()
        .filter(|a| visible(a, actor))
        .collect())
}

/// A new application in draft; with `submit`, submitted at once.
pub(crate) fn create(
    state: &AppState,
    actor: &Actor,
    content: ApplicationContent,
    submit_now: bool,
    via: &str,
) -> Result<Application, ApiError> {
    let id = format!("app-{}", hex::encode(rand::random::<[u8; 6]>()));
    let now = Utc::now();
    let app = workflow::create(&id, actor, content, now).map_err(refusal)?;
    state
        .inner
        .db
        .insert_application(&app, now)
        .map_err(ApiError::internal)?;
    audit(
        state,
        &actor.id,
        "application.created",
        &id,
        serde_json::json!({ "via": via }),
    )?;
    if submit_now {
        submit(state, actor, &id, via)
    } else {
        Ok(app)
    }
}

/// Checks what only the hub knows: the sites are registered, the named
/// researchers are hub users.
fn check_registries(state: &AppState, content: &ApplicationContent) -> Result<(), ApiError> {
    let registered: Vec<String> = state
        .inner
        .db
        .sites()
        .map_err(ApiError::internal)?
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    if let Some(s) = content.sites.iter().find(|s| !registered.contains(s)) {
        return Err(ApiError::Invalid(format!(
            "sites: '{s}' is not a registered site"
        )));
    }
    let users = &state.inner.config.users;
    if content.researchers.iter().any(|r| !users.contains_user(r)) {
        return Err(ApiError::Invalid(
            "researchers: name hub users only (one is unknown)".into(),
        ));
    }
    Ok(())
}

/// Runs `action` on application `id` for a visible actor and audits it.
pub(crate) fn decide(
    state: &AppState,
    actor: &Actor,
    id: &str,
    action: Action,
    via: &str,
) -> Result<Application, ApiError> {
    get(state, actor, id)?;
    let name = match &action {
        Action::SaveDraft(_) => "application.draft-saved",
        Action::AttachEthics(_) => "application.ethics-uploaded",
        Action::Submit => "application.submitted",
        Action::FormalCheck { .. } => "application.formal-check",
        Action::SiteDecide { .. } => "application.site-decision",
        Action::Vote(_) => "application.vote",
        Action::Acknowledge(_) => "application.acknowledged",
    };
    let now = Utc::now();
    let t = state
        .inner
        .db
        .transition(id, &actor.id, now, |app| {
            workflow::act(app, actor, action, now)
        })
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound)?;
    let t = match t {
        Ok(t) => t,
        Err(r) => {
            audit(
                state,
                &actor.id,
                &format!("{name}.refused"),
                id,
                serde_json::json!({ "via": via, "reason": r.to_string() }),
            )?;
            return Err(refusal(r));
        }
    };
    audit_transition(state, &actor.id, name, &t, via)?;
    Ok(t.application)
}

/// Audits what a transition did: the action, then each consequence.
fn audit_transition(
    state: &AppState,
    actor: &str,
    name: &str,
    t: &Transition,
    via: &str,
) -> Result<(), ApiError> {
    let id = t.application.id.as_str();
    let version = t
        .application
        .current()
        .map(|v| (v.number, v.sha256.clone()));
    for event in &t.events {
        let (action, mut details) = match event {
            Event::ReworkRequested { .. } => {
                ("application.rework-requested", serde_json::to_value(event))
            }
            Event::Rejected { .. } => ("application.rejected", serde_json::to_value(event)),
            Event::Approved { .. } => ("application.approved", serde_json::to_value(event)),
            Event::PolicyChecked { .. } => {
                ("application.policy-checked", serde_json::to_value(event))
            }
            _ => (name, serde_json::to_value(event)),
        };
        let details = details.as_mut().map_err(ApiError::internal)?;
        details["via"] = via.into();
        if let Some((number, sha)) = &version {
            details["version"] = (*number).into();
            details["version_sha256"] = sha.clone().into();
        }
        audit(state, actor, action, id, details.clone())?;
    }
    if let Some((project, sites)) = &t.project {
        let mut details = serde_json::to_value(project).map_err(ApiError::internal)?;
        details["application"] = id.into();
        details["sites"] = serde_json::to_value(sites).map_err(ApiError::internal)?;
        if let Some(verdict) = t.application.policy_verdict().filter(|v| v.approves()) {
            details["policy"] = serde_json::json!({
                "id": verdict.policy, "version": verdict.version, "sha256": verdict.sha256,
                "rules_held": verdict.rules.iter().map(|r| r.rule.as_str()).collect::<Vec<_>>(),
            });
        }
        audit(state, actor, "project.approved", &project.id, details)?;
    }
    Ok(())
}

/// Submits the draft of application `id` as its next version, then checks it
/// against the approval policy: approved at once if every rule holds.
pub(crate) fn submit(
    state: &AppState,
    actor: &Actor,
    id: &str,
    via: &str,
) -> Result<Application, ApiError> {
    let app = get(state, actor, id)?;
    if let Some(draft) = &app.draft
        && app.applicant == actor.id
    {
        check_registries(state, draft)?;
    }
    let app = decide(state, actor, id, Action::Submit, via)?;
    let Some(policy) = &state.inner.approval_policy else {
        return Ok(app);
    };
    let Some(version) = app.current() else {
        return Ok(app);
    };
    let ctx = PolicyContext {
        members: state
            .inner
            .db
            .institution_members()
            .map_err(ApiError::internal)?,
        opted_in: state
            .inner
            .db
            .policy_opt_ins(&policy.id)
            .map_err(ApiError::internal)?,
    };
    let verdict = policy.evaluate(&app.applicant, &version.content, &ctx);
    let now = Utc::now();
    let t = state
        .inner
        .db
        .transition(id, workflow::POLICY_ACTOR, now, |a| {
            workflow::apply_policy(a, verdict, now)
        })
        .map_err(ApiError::internal)?
        .ok_or(ApiError::NotFound)?
        .map_err(refusal)?;
    audit_transition(
        state,
        workflow::POLICY_ACTOR,
        "application.policy-checked",
        &t,
        via,
    )?;
    Ok(t.application)
}

/// Stores an uploaded ethics vote (a PDF of at most [`MAX_ETHICS_BYTES`])
/// under its SHA-256 and attaches it to the draft of application `id`.
pub(crate) fn upload_ethics(
    state: &AppState,
    actor: &Actor,
    id: &str,
    filename: &str,
    bytes: &[u8],
    via: &str,
) -> Result<Application, ApiError> {
    let app = get(state, actor, id)?;
    if app.applicant != actor.id || actor.role != Role::Researcher {
        return Err(ApiError::Forbidden);
    }
    if !matches!(app.stage, Stage::Draft | Stage::Rework) {
        return Err(ApiError::Refused(
            "the ethics vote can change only while drafting or reworking".into(),
        ));
    }
    if bytes.len() > MAX_ETHICS_BYTES {
        return Err(ApiError::PayloadTooLarge(format!(
            "the ethics vote may have at most {} MiB",
            MAX_ETHICS_BYTES >> 20
        )));
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(ApiError::Invalid(
            "the ethics vote must be a PDF file".into(),
        ));
    }
    let sha256 = hex::encode(Sha256::digest(bytes));
    let dir = ethics_dir(state);
    crate::private_fs::create_private_dir(&dir).map_err(ApiError::internal)?;
    let path = dir.join(format!("{sha256}.pdf"));
    if !path.exists() {
        let tmp = dir.join(format!(".{sha256}.tmp"));
        crate::private_fs::create_private_file(&tmp).map_err(ApiError::internal)?;
        std::fs::write(&tmp, bytes).map_err(ApiError::internal)?;
        std::fs::rename(&tmp, &path).map_err(ApiError::internal)?;
    }
    // a name to show, never a path
    let filename: String = filename
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(120)
        .collect();
    let vote = EthicsVote {
        sha256,
        bytes: bytes.len() as u64,
        filename: if filename.is_empty() {
            "ethics-vote.pdf".into()
        } else {
            filename
        },
    };
    decide(state, actor, id, Action::AttachEthics(vote), via)
}

/// The ethics vote of application `id` (of `version`, or of the content
/// shown) with its bytes, for an actor who may see the application; audited.
pub(crate) fn ethics_file(
    state: &AppState,
    actor: &Actor,
    id: &str,
    version: Option<u32>,
) -> Result<(EthicsVote, Vec<u8>), ApiError> {
    let app = get(state, actor, id)?;
    let content = match version {
        Some(n) => app
            .versions
            .iter()
            .find(|v| v.number == n)
            .map(|v| &v.content),
        None => app.content(),
    };
    let vote = content
        .and_then(|c| c.ethics.clone())
        .ok_or(ApiError::NotFound)?;
    // the digest is ours (hex), never the caller's text
    if vote.sha256.len() != 64 || !vote.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::internal("stored ethics digest is malformed"));
    }
    let bytes = std::fs::read(ethics_dir(state).join(format!("{}.pdf", vote.sha256)))
        .map_err(ApiError::internal)?;
    audit(
        state,
        &actor.id,
        "application.ethics-read",
        id,
        serde_json::json!({ "sha256": vote.sha256 }),
    )?;
    Ok((vote, bytes))
}

/// The approval policy in force, if any.
pub(crate) fn policy(state: &AppState) -> Option<&ApprovalPolicy> {
    state.inner.approval_policy.as_ref()
}

/// Records a site admin's opt-in (or opt-out) of approval under the policy
/// in force, for their own site.
pub(crate) fn set_opt_in(
    state: &AppState,
    actor: &Actor,
    opt_in: bool,
    via: &str,
) -> Result<(), ApiError> {
    if actor.role != Role::SiteAdmin {
        return Err(ApiError::Forbidden);
    }
    let site = actor.site.as_deref().ok_or(ApiError::Forbidden)?;
    let policy = policy(state)
        .ok_or_else(|| ApiError::Refused("this hub approves nothing by policy".into()))?;
    state
        .inner
        .db
        .set_policy_opt_in(site, &policy.id, opt_in, &actor.id, Utc::now())
        .map_err(ApiError::internal)?;
    audit(
        state,
        &actor.id,
        "site.policy-opt-in",
        site,
        serde_json::json!({ "policy": policy.id, "version": policy.version, "sha256": policy.sha256, "opt_in": opt_in, "via": via }),
    )
}

/// Whether `site` opted into approval under the policy in force.
pub(crate) fn opted_in(state: &AppState, site: &str) -> Result<bool, ApiError> {
    let Some(policy) = policy(state) else {
        return Ok(false);
    };
    Ok(state
        .inner
        .db
        .policy_opt_ins(&policy.id)
        .map_err(ApiError::internal)?
        .contains(site))
}

/// Registers an institution with its members (admins only).
pub(crate) fn register_institution(
    state: &AppState,
    actor: &Actor,
    institution: crate::db::Institution,
    via: &str,
) -> Result<(), ApiError> {
    if actor.role != Role::Admin {
        return Err(ApiError::Forbidden);
    }
    let ok_id = !institution.id.is_empty()
        && institution.id.len() <= 64
        && institution
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok_id {
        return Err(ApiError::Invalid(
            "institution id: 1-64 characters of a-z, 0-9 and '-'".into(),
        ));
    }
    if institution.name.trim().is_empty() || institution.name.len() > 200 {
        return Err(ApiError::Invalid(
            "institution name: 1 to 200 characters".into(),
        ));
    }
    let users = &state.inner.config.users;
    if institution.members.iter().any(|m| !users.contains_user(m)) {
        return Err(ApiError::Invalid("members: name hub users only".into()));
    }
    state
        .inner
        .db
        .put_institution(&institution, &actor.id, Utc::now())
        .map_err(ApiError::internal)?;
    audit(
        state,
        &actor.id,
        "institution.registered",
        &institution.id,
        serde_json::json!({ "name": institution.name, "members": institution.members.len(), "via": via }),
    )
}
