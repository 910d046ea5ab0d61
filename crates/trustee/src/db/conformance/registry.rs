//! Consents, pseudonym domains and re-contact on both backends.

use super::{Backend, consent, idat, item, keys, site};
use crate::db::domains::{self, DomainError, NewDomain};
use crate::db::{
    StoreError, check_consents, insert_admin_consent, insert_site_consents, pseudonymise, recontact,
};
use crate::domains::DomainKeys;
use oncofed_model::{DataCategory, Purpose, Sex};
use oncofed_trustee_api::{
    CheckDigit, ConsentDecision, ConsentQuestion, RecontactReason, RecontactState,
};
use serde_json::json;

fn objection(id: &str, status: &str) -> serde_json::Value {
    json!({"resourceType": "Consent", "id": id, "status": status, "dateTime": "2026-03-01",
           "provision": {"type": "deny", "code": [{"coding": [
               {"system": "urn:oncofed:consent-policy", "code": "gdng-objection"}]}]}})
}

/// Consents: stored once per content, a new version with the same id supersedes
/// the old one, an unknown local id fails the whole batch, staff record through a
/// pseudonym, and checks answer per pseudonym of the asking site only.
pub(super) fn consents_are_stored_once_superseded_by_id_and_checked(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let p = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[
            item(
                &k,
                "1",
                &idat("Ida", "Roth", (1950, 1, 1), Sex::Female, Some((b'R', 1))),
            ),
            item(
                &k,
                "2",
                &idat("Emil", "Sand", (1951, 2, 2), Sex::Male, Some((b'S', 2))),
            ),
        ],
    )
    .unwrap();
    let uk_a = site("uk-a");
    let row = || consent(objection("o1", "active"));
    assert_eq!(
        insert_site_consents(&mut conn, &uk_a, &[("1".into(), row())]).unwrap(),
        1
    );
    assert_eq!(
        insert_site_consents(&mut conn, &uk_a, &[("1".into(), row())]).unwrap(),
        0
    );
    let err = insert_site_consents(
        &mut conn,
        &uk_a,
        &[("2".into(), row()), ("nope".into(), row())],
    );
    assert!(
        matches!(err, Err(StoreError::UnknownLocalId { index: 1 })),
        "{err:?}"
    );
    let today = chrono::Utc::now().date_naive();
    let ask = |conn: &mut crate::db::Conn, s: &str, ps: &[&oncofed_model::Pseudonym]| {
        let qs: Vec<ConsentQuestion> = ps
            .iter()
            .map(|p| ConsentQuestion {
                pseudonym: (*p).clone(),
                category: DataCategory::Clinical,
                origin: None,
            })
            .collect();
        check_consents(conn, &site(s), Purpose::Research, today, &qs).unwrap()
    };
    let before = ask(&mut conn, "uk-a", &[&p[0].site, &p[1].site]);
    assert_eq!(before[0], ConsentDecision::DenyObjection);
    assert_ne!(
        before[1],
        ConsentDecision::DenyObjection,
        "the failed batch stored nothing"
    );
    assert_ne!(before[1], ConsentDecision::DenyUnknown);
    // Another site asking about uk-a's pseudonym learns nothing.
    assert_eq!(
        ask(&mut conn, "uk-b", &[&p[0].site]),
        vec![ConsentDecision::DenyUnknown]
    );
    // The objection entered in error: same id, new content, supersedes it.
    let fixed = consent(objection("o1", "entered-in-error"));
    assert_eq!(
        insert_site_consents(&mut conn, &uk_a, &[("1".into(), fixed)]).unwrap(),
        1
    );
    assert_eq!(ask(&mut conn, "uk-a", &[&p[0].site]), vec![before[1]]);
    // Staff record an objection for person 2 through its pseudonym.
    let staff = consent(objection("o2", "active"));
    assert_eq!(
        insert_admin_consent(&mut conn, p[1].site.as_str(), &staff).unwrap(),
        1
    );
    assert_eq!(
        ask(&mut conn, "uk-a", &[&p[1].site]),
        vec![ConsentDecision::DenyObjection]
    );
    assert!(matches!(
        insert_admin_consent(&mut conn, "NOSUCHPSEUDONYM", &staff),
        Err(StoreError::UnknownPseudonym)
    ));
}

fn new_domain(
    name: &str,
    parent: Option<&str>,
    site: Option<&str>,
    length: Option<usize>,
) -> NewDomain {
    NewDomain {
        name: name.into(),
        parent: parent.map(Into::into),
        site: site.map(Into::into),
        alphabet: None,
        length,
        check: None,
    }
}

/// Domains: a tree whose children inherit settings and site; values get stable,
/// well-formed pseudonyms that resolve back; invalid settings are refused.
pub(super) fn domains_form_a_tree_and_pseudonymise_reversibly(b: &dyn Backend) {
    let mut conn = b.conn();
    let root = domains::create(&mut conn, new_domain("root", None, None, Some(8))).unwrap();
    assert_eq!(root.depth, 0);
    let s = domains::create(
        &mut conn,
        new_domain("uk-a", Some("root"), Some("uk-a"), None),
    )
    .unwrap();
    assert_eq!((s.depth, s.length, s.site.as_deref()), (1, 8, Some("uk-a")));
    let p = domains::create(
        &mut conn,
        new_domain("uk-a-study", Some("uk-a"), None, None),
    )
    .unwrap();
    assert_eq!(
        (p.depth, p.site.as_deref(), p.check),
        (2, Some("uk-a"), CheckDigit::LuhnModN)
    );
    assert!(matches!(
        domains::create(&mut conn, new_domain("uk-a", None, None, None)),
        Err(DomainError::Exists)
    ));
    assert!(matches!(
        domains::create(
            &mut conn,
            new_domain("deep", Some("uk-a-study"), None, None)
        ),
        Err(DomainError::Invalid("parent", _))
    ));
    assert!(matches!(
        domains::create(&mut conn, new_domain("x", Some("uk-a"), Some("uk-b"), None)),
        Err(DomainError::Invalid("site", _))
    ));
    let names: Vec<String> = domains::list(&mut conn)
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, ["root", "uk-a", "uk-a-study"]);

    let domain = domains::get(&mut conn, "uk-a-study").unwrap().unwrap();
    let deriver = DomainKeys::new(&super::key()).domain("uk-a-study");
    let values: Vec<String> = vec!["lab-1".into(), "lab-2".into(), "lab-1".into()];
    let first = values
        .iter()
        .map(|v| deriver.candidate(&domain.settings, v, 0))
        .collect();
    let (ps, created) =
        domains::pseudonymise(&mut conn, &domain, &deriver, &values, first).unwrap();
    assert_eq!(created, 2);
    assert_eq!(ps[0], ps[2]);
    assert!(ps.iter().all(|p| domain.settings.is_well_formed(p)));
    let first = values
        .iter()
        .map(|v| deriver.candidate(&domain.settings, v, 0))
        .collect();
    let (again, created) =
        domains::pseudonymise(&mut conn, &domain, &deriver, &values, first).unwrap();
    assert_eq!((again, created), (ps.clone(), 0));
    let back = domains::resolve(&mut conn, &domain, &[ps[1].clone(), "bogus".into()]).unwrap();
    assert_eq!(back, vec![Some("lab-2".to_owned()), None]);
    assert!(domains::get(&mut conn, "nope").unwrap().is_none());

    // Settings are validated before anything is stored.
    assert!(matches!(
        domains::create(&mut conn, new_domain("short", None, None, Some(3))),
        Err(DomainError::Invalid("settings", _))
    ));
    assert!(domains::get(&mut conn, "short").unwrap().is_none());
}

fn recontact_consent() -> serde_json::Value {
    json!({"resourceType": "Consent", "status": "active", "dateTime": "2025-01-01",
           "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2079"}],
           "provision": {"type": "deny", "period": {"start": "2025-01-01"}, "provision": [
               {"type": "permit", "period": {"start": "2025-01-01"},
                "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3",
                                      "code": "2.16.840.1.113883.3.1937.777.24.5.3.31"}]}]}]}})
}

/// Re-contact: filed by one, released by a second distinct staff member if the
/// consent permits it, delivered to the treating site only, with its local ids.
pub(super) fn recontact_needs_two_staff_and_a_permitting_consent(b: &dyn Backend) {
    let k = keys();
    let mut conn = b.conn();
    let p = pseudonymise(
        &mut conn,
        &k,
        &site("uk-a"),
        &[
            item(
                &k,
                "1",
                &idat("Lea", "Fuchs", (1990, 6, 7), Sex::Female, Some((b'F', 1))),
            ),
            item(
                &k,
                "2",
                &idat("Tom", "Falk", (1991, 7, 8), Sex::Male, Some((b'F', 2))),
            ),
        ],
    )
    .unwrap();
    insert_site_consents(
        &mut conn,
        &site("uk-a"),
        &[("1".into(), consent(recontact_consent()))],
    )
    .unwrap();
    let finding = RecontactReason::IncidentalFinding;
    let r = recontact::create(&mut conn, &p[0].site, finding, "a finding", "alice").unwrap();
    assert_eq!(r.status.state, RecontactState::Pending);
    assert_eq!(r.site, "uk-a");
    let id = r.status.id;
    let same = recontact::approve(&mut conn, id, "alice").unwrap().unwrap();
    assert!(!same.changed);
    assert_eq!(same.status.state, RecontactState::Pending);
    assert!(
        recontact::released_for(&mut conn, &site("uk-a"))
            .unwrap()
            .0
            .is_empty()
    );
    let done = recontact::approve(&mut conn, id, "bob").unwrap().unwrap();
    assert_eq!(done.status.state, RecontactState::Released);
    assert_eq!(done.status.approvals, ["alice", "bob"]);
    let (notices, first) = recontact::released_for(&mut conn, &site("uk-a")).unwrap();
    assert_eq!(first, [id]);
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].local_ids, ["1"]);
    let (again, first) = recontact::released_for(&mut conn, &site("uk-a")).unwrap();
    assert_eq!((again.len(), first.len()), (1, 0), "redelivered, not new");
    assert!(
        recontact::released_for(&mut conn, &site("uk-b"))
            .unwrap()
            .0
            .is_empty()
    );
    // No permitting consent: refused at once; unknown request and pseudonym.
    let other = RecontactReason::FurtherStudies;
    let refused = recontact::create(&mut conn, &p[1].site, other, "a study", "alice").unwrap();
    assert_eq!(refused.status.state, RecontactState::RefusedByConsent);
    assert!(
        recontact::approve(&mut conn, 9999, "bob")
            .unwrap()
            .is_none()
    );
    let unknown = oncofed_model::Pseudonym::new("AAAAAAAAAAAAAAAAA");
    if let Ok(unknown) = unknown {
        assert!(matches!(
            recontact::create(&mut conn, &unknown, finding, "x", "alice"),
            Err(StoreError::UnknownPseudonym)
        ));
    }
}
