//! The transitions of the workflow, each accepted one and the refusals around it.

use super::*;
use oncofed_model::{DataCategory, Purpose};
use oncofed_protocol::application::{AnalysisPlan, RuleOutcome};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-04T20:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn user(id: &str, role: Role) -> Actor {
    Actor {
        id: id.into(),
        role,
        site: None,
    }
}

fn site_admin(id: &str, site: &str) -> Actor {
    Actor {
        id: id.into(),
        role: Role::SiteAdmin,
        site: Some(site.into()),
    }
}

fn alice() -> Actor {
    user("alice", Role::Researcher)
}
fn office() -> Actor {
    user("office", Role::Admin)
}
fn c1() -> Actor {
    user("c1", Role::Committee)
}
fn c2() -> Actor {
    user("c2", Role::Committee)
}

fn content() -> ApplicationContent {
    ApplicationContent {
        title: "Survival in NSCLC".into(),
        purpose: Purpose::Research,
        summary: "Does age change survival?".into(),
        categories: BTreeSet::from([DataCategory::Clinical]),
        sites: BTreeSet::from(["site-a".to_string(), "site-b".to_string()]),
        plan: AnalysisPlan {
            kinds: vec!["km".into()],
            variables: None,
            max_horizon_days: 1825,
            description: String::new(),
        },
        duration_days: 365,
        epsilon: 1.0,
        researchers: BTreeSet::from(["bob".to_string()]),
        ethics: Some(EthicsVote {
            sha256: "00".repeat(32),
            bytes: 10,
            filename: "vote.pdf".into(),
        }),
    }
}

fn step(app: &Application, actor: &Actor, action: Action) -> Application {
    act(app, actor, action, now())
        .unwrap_or_else(|e| panic!("{e}"))
        .application
}

fn refused(app: &Application, actor: &Actor, action: Action) -> Refusal {
    match act(app, actor, action, now()) {
        Ok(t) => panic!("accepted: now at {:?}", t.application.stage),
        Err(r) => r,
    }
}

fn submitted() -> Application {
    let app = create("app-1", &alice(), content(), now()).unwrap();
    step(&app, &alice(), Action::Submit)
}

fn at_site_check() -> Application {
    step(
        &submitted(),
        &office(),
        Action::FormalCheck {
            pass: true,
            reasons: String::new(),
        },
    )
}

fn decide(site: &str, decision: SiteDecision) -> Action {
    Action::SiteDecide {
        site: site.into(),
        decision,
    }
}

fn at_vote() -> Application {
    let app = step(
        &at_site_check(),
        &site_admin("sa", "site-a"),
        decide("site-a", SiteDecision::Accept),
    );
    step(
        &app,
        &site_admin("sb", "site-b"),
        decide(
            "site-b",
            SiteDecision::AcceptWithConditions {
                conditions: "cite the registry".into(),
            },
        ),
    )
}

fn at_acknowledgement() -> Application {
    let app = step(&at_vote(), &c1(), Action::Vote(Vote::Approve));
    step(
        &app,
        &c2(),
        Action::Vote(Vote::ApproveWithConditions {
            conditions: "publish open access".into(),
        }),
    )
}

#[test]
fn only_researchers_create_applications() {
    assert!(matches!(
        create("app-1", &office(), content(), now()),
        Err(Refusal::Forbidden(_))
    ));
    let app = create("app-1", &alice(), content(), now()).unwrap();
    assert_eq!(app.stage, Stage::Draft);
    assert!(app.versions.is_empty());
}

#[test]
fn submit_freezes_a_version_and_goes_to_the_formal_check() {
    let app = submitted();
    assert_eq!(app.stage, Stage::FormalCheck);
    assert_eq!(app.versions.len(), 1);
    assert_eq!(app.versions[0].number, 1);
    assert_eq!(app.versions[0].sha256, content_digest(&content()));
    assert!(app.draft.is_none());
    assert!(matches!(
        app.history[0].event,
        Event::Submitted { version: 1 }
    ));
}

#[test]
fn only_the_applicant_edits_and_submits_and_only_while_drafting() {
    let app = create("app-1", &alice(), content(), now()).unwrap();
    let bob = user("bob", Role::Researcher);
    assert!(matches!(
        refused(&app, &bob, Action::Submit),
        Refusal::Forbidden(_)
    ));
    assert!(matches!(
        refused(&app, &bob, Action::SaveDraft(Box::new(content()))),
        Refusal::Forbidden(_)
    ));
    assert!(matches!(
        refused(&app, &office(), Action::Submit),
        Refusal::Forbidden(_)
    ));
    let app = step(&app, &alice(), Action::Submit);
    assert!(matches!(
        refused(&app, &alice(), Action::Submit),
        Refusal::Conflict(_)
    ));
    assert!(matches!(
        refused(&app, &alice(), Action::SaveDraft(Box::new(content()))),
        Refusal::Conflict(_)
    ));
}

#[test]
fn submit_needs_valid_content_and_an_ethics_vote() {
    let mut c = content();
    c.ethics = None;
    let app = create("app-1", &alice(), c, now()).unwrap();
    assert!(matches!(
        refused(&app, &alice(), Action::Submit),
        Refusal::Invalid(m) if m.starts_with("ethics")
    ));
    let mut c = content();
    c.sites.clear();
    let app = create("app-1", &alice(), c, now()).unwrap();
    assert!(matches!(
        refused(&app, &alice(), Action::Submit),
        Refusal::Invalid(m) if m.starts_with("sites")
    ));
}

#[test]
fn saving_a_draft_keeps_the_uploaded_ethics_vote() {
    let mut c = content();
    c.ethics = None;
    let app = create("app-1", &alice(), c.clone(), now()).unwrap();
    let vote = content().ethics.unwrap();
    let app = step(&app, &alice(), Action::AttachEthics(vote.clone()));
    let mut forged = c;
    forged.ethics = Some(EthicsVote {
        sha256: "ff".repeat(32),
        bytes: 1,
        filename: "x.pdf".into(),
    });
    let app = step(&app, &alice(), Action::SaveDraft(Box::new(forged)));
    assert_eq!(app.draft.unwrap().ethics, Some(vote));
}

#[test]
fn the_formal_check_is_the_offices_and_back_needs_reasons() {
    let app = submitted();
    for who in [alice(), c1(), site_admin("sa", "site-a")] {
        assert!(matches!(
            refused(
                &app,
                &who,
                Action::FormalCheck {
                    pass: true,
                    reasons: String::new()
                }
            ),
            Refusal::Forbidden(_)
        ));
    }
    assert!(matches!(
        refused(
            &app,
            &office(),
            Action::FormalCheck {
                pass: false,
                reasons: "  ".into()
            }
        ),
        Refusal::Invalid(_)
    ));
    let back = step(
        &app,
        &office(),
        Action::FormalCheck {
            pass: false,
            reasons: "name the ethics committee".into(),
        },
    );
    assert_eq!(back.stage, Stage::Rework);
    assert_eq!(back.last_reasons(), Some("name the ethics committee"));
    // the draft starts from the last version
    assert_eq!(back.draft.as_ref(), Some(&content()));
    let passed = at_site_check();
    assert_eq!(passed.stage, Stage::SiteCheck);
}

#[test]
fn rework_creates_a_new_version_and_keeps_the_old_one() {
    let back = step(
        &submitted(),
        &office(),
        Action::FormalCheck {
            pass: false,
            reasons: "shorter title".into(),
        },
    );
    let mut c = content();
    c.title = "NSCLC".into();
    let edited = step(&back, &alice(), Action::SaveDraft(Box::new(c)));
    let again = step(&edited, &alice(), Action::Submit);
    assert_eq!(again.stage, Stage::FormalCheck);
    assert_eq!(again.versions.len(), 2);
    assert_eq!(again.versions[0].content.title, "Survival in NSCLC");
    assert_eq!(again.versions[1].content.title, "NSCLC");
    assert_ne!(again.versions[0].sha256, again.versions[1].sha256);
}

#[test]
fn a_site_admin_decides_for_their_site_only_and_once() {
    let app = at_site_check();
    // another site's admin
    assert!(matches!(
        refused(
            &app,
            &site_admin("sb", "site-b"),
            decide("site-a", SiteDecision::Accept)
        ),
        Refusal::Forbidden(_)
    ));
    // a site the application does not include
    assert!(matches!(
        refused(
            &app,
            &site_admin("sc", "site-c"),
            decide("site-c", SiteDecision::Accept)
        ),
        Refusal::Forbidden(_)
    ));
    // not a site admin at all
    assert!(matches!(
        refused(&app, &office(), decide("site-a", SiteDecision::Accept)),
        Refusal::Forbidden(_)
    ));
    let once = step(
        &app,
        &site_admin("sa", "site-a"),
        decide("site-a", SiteDecision::Accept),
    );
    assert_eq!(once.stage, Stage::SiteCheck);
    assert!(matches!(
        refused(
            &once,
            &site_admin("sa2", "site-a"),
            decide(
                "site-a",
                SiteDecision::Decline {
                    reasons: "changed mind".into()
                }
            )
        ),
        Refusal::Conflict(_)
    ));
    // conditions and reasons are required in words
    assert!(matches!(
        refused(
            &once,
            &site_admin("sb", "site-b"),
            decide(
                "site-b",
                SiteDecision::Decline {
                    reasons: String::new()
                }
            )
        ),
        Refusal::Invalid(_)
    ));
}

#[test]
fn a_declining_site_drops_out() {
    let app = step(
        &at_site_check(),
        &site_admin("sa", "site-a"),
        decide("site-a", SiteDecision::Accept),
    );
    let app = step(
        &app,
        &site_admin("sb", "site-b"),
        decide(
            "site-b",
            SiteDecision::Decline {
                reasons: "no capacity".into(),
            },
        ),
    );
    assert_eq!(app.stage, Stage::CommitteeVote);
    assert_eq!(
        app.accepting_sites(),
        BTreeSet::from(["site-a".to_string()])
    );
    assert_eq!(
        app.parties(),
        BTreeSet::from([Party::Applicant, Party::Site("site-a".into())])
    );
}

#[test]
fn all_sites_declining_rejects() {
    let decline = || SiteDecision::Decline {
        reasons: "no capacity".into(),
    };
    let app = step(
        &at_site_check(),
        &site_admin("sa", "site-a"),
        decide("site-a", decline()),
    );
    let app = step(
        &app,
        &site_admin("sb", "site-b"),
        decide("site-b", decline()),
    );
    assert_eq!(app.stage, Stage::Rejected);
    assert!(app.last_reasons().unwrap().contains("every site declined"));
    // rejection is final
    assert!(matches!(
        refused(&app, &alice(), Action::SaveDraft(Box::new(content()))),
        Refusal::Conflict(_)
    ));
    assert!(matches!(
        refused(&app, &alice(), Action::Submit),
        Refusal::Conflict(_)
    ));
}

#[test]
fn four_eyes_two_distinct_members_must_approve() {
    let app = at_vote();
    assert_eq!(app.stage, Stage::CommitteeVote);
    let one = step(&app, &c1(), Action::Vote(Vote::Approve));
    assert_eq!(one.stage, Stage::CommitteeVote);
    // the same member again does not count twice
    assert!(matches!(
        refused(&one, &c1(), Action::Vote(Vote::Approve)),
        Refusal::Conflict(_)
    ));
    assert_eq!(one.stage, Stage::CommitteeVote);
    let two = step(&one, &c2(), Action::Vote(Vote::Approve));
    assert_eq!(two.stage, Stage::Acknowledgement);
}

#[test]
fn the_applicant_and_named_researchers_never_vote_nor_do_other_roles() {
    let app = at_vote();
    assert!(matches!(
        refused(&app, &alice(), Action::Vote(Vote::Approve)),
        Refusal::Forbidden(_)
    ));
    // a committee member who is named as a researcher in the application
    let conflicted = user("bob", Role::Committee);
    assert!(matches!(
        refused(&app, &conflicted, Action::Vote(Vote::Approve)),
        Refusal::Forbidden(_)
    ));
    // even one with the applicant's id
    let same_id = user("alice", Role::Committee);
    assert!(matches!(
        refused(&app, &same_id, Action::Vote(Vote::Approve)),
        Refusal::Forbidden(_)
    ));
    assert!(matches!(
        refused(&app, &office(), Action::Vote(Vote::Approve)),
        Refusal::Forbidden(_)
    ));
}

#[test]
fn votes_only_at_the_vote_stage() {
    assert!(matches!(
        refused(&at_site_check(), &c1(), Action::Vote(Vote::Approve)),
        Refusal::Conflict(_)
    ));
    assert!(matches!(
        refused(&submitted(), &c1(), Action::Vote(Vote::Approve)),
        Refusal::Conflict(_)
    ));
}

#[test]
fn one_rework_vote_sends_it_back_with_reasons() {
    let app = step(&at_vote(), &c1(), Action::Vote(Vote::Approve));
    let back = step(
        &app,
        &c2(),
        Action::Vote(Vote::Rework {
            reasons: "narrow the cohort".into(),
        }),
    );
    assert_eq!(back.stage, Stage::Rework);
    assert_eq!(back.last_reasons(), Some("narrow the cohort"));
    // the next version starts afresh: sites and votes again
    let again = step(&back, &alice(), Action::Submit);
    assert!(again.votes.is_empty() && again.sites.is_empty());
    assert_eq!(again.current().unwrap().number, 2);
}

#[test]
fn rejection_needs_two_members_and_is_final() {
    let reject = || {
        Action::Vote(Vote::Reject {
            reasons: "no public benefit".into(),
        })
    };
    let one = step(&at_vote(), &c1(), reject());
    assert_eq!(one.stage, Stage::CommitteeVote);
    let two = step(&one, &c2(), reject());
    assert_eq!(two.stage, Stage::Rejected);
    assert!(matches!(
        refused(
            &two,
            &user("c3", Role::Committee),
            Action::Vote(Vote::Approve)
        ),
        Refusal::Conflict(_)
    ));
    // reasons are required
    assert!(matches!(
        refused(
            &at_vote(),
            &c1(),
            Action::Vote(Vote::Reject {
                reasons: String::new()
            })
        ),
        Refusal::Invalid(_)
    ));
}

#[test]
fn a_split_committee_waits_for_a_third_member() {
    let app = step(&at_vote(), &c1(), Action::Vote(Vote::Approve));
    let app = step(
        &app,
        &c2(),
        Action::Vote(Vote::Reject {
            reasons: "too broad".into(),
        }),
    );
    assert_eq!(app.stage, Stage::CommitteeVote);
    let app = step(
        &app,
        &user("c3", Role::Committee),
        Action::Vote(Vote::Approve),
    );
    assert_eq!(app.stage, Stage::Acknowledgement);
}

#[test]
fn both_sides_acknowledge_then_the_project_is_created() {
    let app = at_acknowledgement();
    assert_eq!(app.stage, Stage::Acknowledgement);
    let terms = app.terms();
    assert!(terms.iter().any(|t| t.contains("cite the registry")));
    assert!(terms.iter().any(|t| t.contains("publish open access")));
    // nobody acknowledges for another
    assert!(matches!(
        refused(
            &app,
            &user("bob", Role::Researcher),
            Action::Acknowledge(Party::Applicant)
        ),
        Refusal::Forbidden(_)
    ));
    assert!(matches!(
        refused(
            &app,
            &site_admin("sa", "site-a"),
            Action::Acknowledge(Party::Site("site-b".into()))
        ),
        Refusal::Forbidden(_)
    ));
    assert!(matches!(
        refused(
            &app,
            &site_admin("sa", "site-a"),
            Action::Acknowledge(Party::Applicant)
        ),
        Refusal::Forbidden(_)
    ));
    let t = act(&app, &alice(), Action::Acknowledge(Party::Applicant), now()).unwrap();
    assert!(t.project.is_none());
    assert!(matches!(
        refused(
            &t.application,
            &alice(),
            Action::Acknowledge(Party::Applicant)
        ),
        Refusal::Conflict(_)
    ));
    let t = act(
        &t.application,
        &site_admin("sa", "site-a"),
        Action::Acknowledge(Party::Site("site-a".into())),
        now(),
    )
    .unwrap();
    assert!(t.project.is_none());
    let t = act(
        &t.application,
        &site_admin("sb", "site-b"),
        Action::Acknowledge(Party::Site("site-b".into())),
        now(),
    )
    .unwrap();
    assert_eq!(t.application.stage, Stage::Approved);
    let (project, sites) = t.project.expect("a project");
    assert_eq!(project.id, "app-1");
    assert_eq!(
        project.researchers,
        vec!["alice".to_string(), "bob".to_string()]
    );
    assert_eq!(project.epsilon_budget, 1.0);
    assert_eq!(project.categories, content().categories);
    assert_eq!(project.plan.kinds, vec!["km".to_string()]);
    assert_eq!(sites.len(), 2);
    assert_eq!(t.application.project.as_deref(), Some("app-1"));
    assert!(matches!(
        t.events.last(),
        Some(Event::Approved {
            by_policy: false,
            ..
        })
    ));
}

#[test]
fn a_declined_site_neither_acknowledges_nor_joins_the_project() {
    let app = step(
        &at_site_check(),
        &site_admin("sa", "site-a"),
        decide("site-a", SiteDecision::Accept),
    );
    let app = step(
        &app,
        &site_admin("sb", "site-b"),
        decide(
            "site-b",
            SiteDecision::Decline {
                reasons: "no".into(),
            },
        ),
    );
    let app = step(&app, &c1(), Action::Vote(Vote::Approve));
    let app = step(&app, &c2(), Action::Vote(Vote::Approve));
    assert!(matches!(
        refused(
            &app,
            &site_admin("sb", "site-b"),
            Action::Acknowledge(Party::Site("site-b".into()))
        ),
        Refusal::Forbidden(_)
    ));
    let app = step(&app, &alice(), Action::Acknowledge(Party::Applicant));
    let t = act(
        &app,
        &site_admin("sa", "site-a"),
        Action::Acknowledge(Party::Site("site-a".into())),
        now(),
    )
    .unwrap();
    let (_, sites) = t.project.unwrap();
    assert_eq!(sites, BTreeSet::from(["site-a".to_string()]));
}

fn verdict(held: bool) -> PolicyVerdict {
    PolicyVerdict {
        policy: "oncofed-auto-approval".into(),
        version: 1,
        sha256: "ab".repeat(32),
        rules: vec![
            RuleOutcome {
                rule: "aggregate-only".into(),
                held: true,
                finding: "km".into(),
            },
            RuleOutcome {
                rule: "epsilon-cap".into(),
                held,
                finding: "1.0".into(),
            },
        ],
    }
}

#[test]
fn a_passing_policy_approves_at_once_with_every_site() {
    let t = apply_policy(&submitted(), verdict(true), now()).unwrap();
    assert_eq!(t.application.stage, Stage::Approved);
    let (project, sites) = t.project.unwrap();
    assert_eq!(project.id, "app-1");
    assert_eq!(sites.len(), 2);
    assert!(matches!(
        &t.events[..],
        [
            Event::PolicyChecked { .. },
            Event::Approved {
                by_policy: true,
                ..
            }
        ]
    ));
    assert_eq!(t.application.history.last().unwrap().actor, POLICY_ACTOR);
}

#[test]
fn a_failing_policy_leaves_it_to_the_manual_way() {
    let t = apply_policy(&submitted(), verdict(false), now()).unwrap();
    assert_eq!(t.application.stage, Stage::FormalCheck);
    assert!(t.project.is_none());
    assert_eq!(
        t.application.policy_verdict().unwrap().failed(),
        vec!["epsilon-cap"]
    );
    // an empty policy approves nothing
    let mut empty = verdict(true);
    empty.rules.clear();
    let t = apply_policy(&submitted(), empty, now()).unwrap();
    assert_eq!(t.application.stage, Stage::FormalCheck);
}

#[test]
fn the_policy_acts_only_on_a_fresh_submission() {
    assert!(matches!(
        apply_policy(&at_site_check(), verdict(true), now()),
        Err(Refusal::Conflict(_))
    ));
    let draft = create("app-1", &alice(), content(), now()).unwrap();
    assert!(apply_policy(&draft, verdict(true), now()).is_err());
}
