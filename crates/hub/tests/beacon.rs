//! The federated Beacon v2 end to end (issue 16): three sites with the
//! synthetic cohort's FHIR data and sequencing batches, the hub's
//! `/beacon/v2/` routes, the sites' consent filter and risk budgets.

mod beacon_support;

use beacon_support::*;
use oncofed_node::agent::SiteSecret;
use oncofed_node::agent::beacon::individual_key;
use oncofed_protocol::beacon::defence::{DefenceConfig, RatePolicy};
use oncofed_testkit::beacon::{egfr_l858r, three_roles};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Persons in the cohort: enough lung cancers for a handful of consented
/// EGFR L858R carriers.
const PERSONS: u64 = 3_000;
/// Queries of the membership attack.
const ATTACK: usize = 200;
/// The rate limit of these tests: room for the attack, then a 429.
const RATE: RatePolicy = RatePolicy {
    per_minute: 260,
    per_window: 260,
    window_secs: 30 * 24 * 3600,
};

/// The consented member carrying the most alleles with fewer than k = 5
/// consented carriers in the whole beacon (the attack's best target):
/// (person, site, local id) and their `ATTACK` rarest alleles by population
/// frequency, rarest first.
fn target(
    cohort: &oncofed_testkit::Cohort,
    carriers: &HashMap<Allele, usize>,
    members: &[Member],
    skip: &[String],
) -> ((String, String, String), Vec<Allele>) {
    let rare = |alleles: &[Allele]| {
        alleles
            .iter()
            .filter(|a| carriers.get(*a).copied().unwrap_or(0) < 5)
            .count()
    };
    let (who, alleles) = members
        .iter()
        .filter(|((p, _, _), _)| !skip.contains(p))
        .max_by_key(|(_, alleles)| rare(alleles))
        .expect("a consented member with germline alleles");
    let af = panel(cohort);
    let mut alleles = alleles.clone();
    alleles.sort_by(|a, b| {
        let (fa, fb) = (
            af.get(a).copied().unwrap_or(0.0),
            af.get(b).copied().unwrap_or(0.0),
        );
        fa.total_cmp(&fb)
    });
    alleles.truncate(ATTACK);
    (who.clone(), alleles)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_beacon_with_default_defences() {
    let cohort = cohort(PERSONS);
    let truth = cohort.truth();
    let persons = truth.by_person();
    let calls = truth_calls(&cohort);
    let defences = DefenceConfig {
        rate: RATE,
        ..DefenceConfig::default()
    };
    let run = start(&cohort, defences).await;
    let fed = &run.fed;
    let anonymous = fed.anonymous().unwrap();
    let researcher = fed.researcher();
    let mut documents: Vec<(String, &str, Value)> = Vec::new();
    let mut queries = 0; // g_variants queries that reached the rate limit

    // Informational endpoints, anonymously.
    for (endpoint, schema) in [
        ("info", "beaconInfoResponse.json"),
        ("configuration", "beaconConfigurationResponse.json"),
        ("map", "beaconMapResponse.json"),
        ("entry_types", "beaconEntryTypesResponse.json"),
        ("filtering_terms", "beaconFilteringTermsResponse.json"),
    ] {
        let r = anonymous.beacon_get(endpoint).await.unwrap();
        assert_eq!(r.status, 200, "{endpoint}: {}", r.body);
        documents.push((endpoint.into(), schema, r.body));
    }

    // EGFR L858R: present in the cohort; counted only with the genetic opt-in.
    let all = carriers(&calls, "7", 55_191_822, "T", "G");
    let with_consent = all.iter().filter(|(_, p)| consented(&persons, p)).count() as i64;
    assert!(
        with_consent >= 5 && (all.len() as i64) > with_consent,
        "the cohort needs ≥ 5 consented L858R carriers and some without consent: {with_consent} of {}",
        all.len()
    );
    let public = ask(&anonymous, egfr_l858r(), None).await;
    queries += 1;
    assert_eq!(public.status, 200, "{}", public.body);
    assert_eq!(public.granularity(), Some("boolean"));
    assert_eq!(public.exists(), Some(true), "{}", public.body);
    assert_eq!(public.count(), None, "the public gets no count");
    documents.push((
        "public boolean".into(),
        "beaconBooleanResponse.json",
        public.body.clone(),
    ));

    let answers = three_roles(fed, egfr_l858r()).await.unwrap();
    queries += 3;
    for a in &answers {
        assert_eq!(a.reply.status, 200, "{}: {}", a.role, a.reply.body);
        let schema = if a.reply.granularity() == Some("count") {
            "beaconCountResponse.json"
        } else {
            "beaconBooleanResponse.json"
        };
        documents.push((format!("{} L858R", a.role), schema, a.reply.body.clone()));
    }
    assert_eq!(answers[0].reply.granularity(), Some("boolean"));
    for a in &answers[1..] {
        assert_eq!(a.reply.granularity(), Some("count"), "{}", a.role);
        let count = a.reply.count().unwrap() as i64;
        // Noise scale 10, rounded to 10, reported as 0 below 20.
        assert!(
            (count - with_consent).abs() <= 50,
            "{}: released {count}, consented carriers {with_consent}",
            a.role
        );
        assert_eq!(count % 10, 0);
    }

    // Errors are Beacon documents with the right status.
    let mut bad = egfr_l858r();
    bad.insert("referenceBases".into(), json!("R"));
    let r = ask(&researcher, bad, None).await;
    assert_eq!(r.status, 400, "{}", r.body);
    documents.push(("bad bases".into(), "beaconErrorResponse.json", r.body));
    let r = ask(&researcher, egfr_l858r(), Some("no-such-project")).await;
    assert_eq!(r.status, 403, "{}", r.body);
    documents.push(("unknown project".into(), "beaconErrorResponse.json", r.body));
    let r = anonymous
        .beacon_get("g_variants?assemblyId=GRCh38&referenceName=7&start=55191821&referenceBases=T&alternateBases=G&requestedGranularity=count")
        .await
        .unwrap();
    queries += 1;
    assert_eq!(
        (r.status, r.granularity()),
        (200, Some("boolean")),
        "{}",
        r.body
    );
    documents.push(("GET public".into(), "beaconBooleanResponse.json", r.body));

    // The membership attack: a registered researcher asks for a member's
    // rarest panel alleles. The rare-allele rule says "no" under 5 carriers,
    // and the sites stop counting the member once the budget is spent.
    let (in_beacon, members) = germline_truth(&cohort);
    let ((person, site, local_id), alleles) = target(&cohort, &in_beacon, &members, &[]);
    let (mut yes, mut identifying) = (0, 0);
    for (chrom, pos, r, a) in &alleles {
        let key = (chrom.clone(), *pos, r.clone(), a.clone());
        let reply = ask(&researcher, allele(chrom, *pos, r, a), None).await;
        queries += 1;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let exists = reply.exists() == Some(true);
        yes += usize::from(exists);
        // Alleles with fewer than k = 5 consented carriers in the whole
        // beacon (the target among them) are the identifying ones: never "yes".
        if in_beacon.get(&key).copied().unwrap_or(0) < 5 {
            identifying += 1;
            assert!(
                !exists,
                "a rare allele of the target was confirmed: {key:?}"
            );
        }
    }
    assert!(
        identifying > 0,
        "the attack met no rare allele of the target"
    );
    // The target's account at its site: charged, and never past the budget
    // (a "yes" from then on is the other carriers' doing).
    let budget = DefenceConfig::default().budget.unwrap().budget;
    let i: usize = site.trim_start_matches("site-").parse::<usize>().unwrap() - 1;
    let psn = fed
        .trustee_client(i)
        .unwrap()
        .resolve(vec![local_id.clone()])
        .await
        .unwrap()[0]
        .clone()
        .unwrap()
        .site;
    let secret = SiteSecret::load_or_create(&fed.node_dir(i).join("noise.secret")).unwrap();
    let key = individual_key(&secret, psn.as_str()).as_str().to_owned();
    let store = run.services[i].store();
    let target_spent = tokio::task::spawn_blocking(move || {
        store
            .lock()
            .unwrap()
            .beacon_spent("researcher", &[key])
            .unwrap()[0]
    })
    .await
    .unwrap();
    println!(
        "defended: {yes} of {} of {person}'s rarest alleles answered yes, none of the {identifying} with < 5 consented carriers; the target's spent budget {target_spent:.4} of {budget:.3} nats",
        alleles.len()
    );
    assert!(
        target_spent > 0.0 && target_spent <= budget + 1e-9,
        "{target_spent}"
    );
    // No individual at any site is over the researcher's budget.
    let mut charged = 0;
    for (i, service) in run.services.iter().enumerate() {
        let secret = SiteSecret::load_or_create(&fed.node_dir(i).join("noise.secret")).unwrap();
        let store = service.store();
        let spent = tokio::task::spawn_blocking(move || {
            let s = store.lock().unwrap();
            let mut psns = Vec::new();
            s.for_each_patient(&mut |p| psns.push(p.pseudonym.as_str().to_owned()))
                .unwrap();
            let keys: Vec<String> = psns
                .iter()
                .map(|p| individual_key(&secret, p).as_str().to_owned())
                .collect();
            s.beacon_spent("researcher", &keys).unwrap()
        })
        .await
        .unwrap();
        assert!(
            spent.iter().all(|s| *s <= budget + 1e-9),
            "a budget overrun at site {i}"
        );
        charged += spent.iter().filter(|s| **s > 0.0).count();
    }
    assert!(charged > 0, "the budgets were charged");

    // The rate limit: past it, 429 (a Beacon error document).
    let refused = loop {
        let r = ask(&researcher, egfr_l858r(), None).await;
        queries += 1;
        if r.status == 429 {
            break r;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            queries <= 2 * RATE.per_window as usize,
            "no 429 after {queries} queries"
        );
    };
    documents.push(("429".into(), "beaconErrorResponse.json", refused.body));

    // One audit entry per query, none with a site's count.
    let audit = fed.audit().await.unwrap();
    let entries: Vec<_> = audit
        .entries
        .iter()
        .filter(|e| e.action == "beacon.query" || e.action == "beacon.refused")
        .collect();
    assert_eq!(entries.len(), queries, "one audit entry per query");
    assert!(
        audit
            .actions("result.received")
            .all(|e| e.details["count"].is_null())
    );
    let public_entry = entries.iter().find(|e| e.actor == "public").unwrap();
    assert_eq!(public_entry.details["granularity"], "boolean");
    assert!(entries.iter().any(|e| e.details["role"] == "CONTROLLED"));

    if let Some(py) = python() {
        let failed = invalid(&py, &documents);
        assert!(failed.is_empty(), "invalid Beacon documents: {failed:#?}");
    }
    run.fed.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_defences_counts_are_exact_follow_consent_and_betray_members() {
    let cohort = cohort(PERSONS);
    let truth = cohort.truth();
    let persons = truth.by_person();
    let calls = truth_calls(&cohort);
    let defences = DefenceConfig {
        rate: RatePolicy {
            per_minute: 100_000,
            per_window: 100_000,
            window_secs: 30 * 24 * 3600,
        },
        ..DefenceConfig::none()
    };
    let run = start(&cohort, defences).await;
    let fed = &run.fed;
    let researcher = fed.researcher();

    // Exact counts: the consented carriers, never all carriers.
    let all = carriers(&calls, "7", 55_191_822, "T", "G");
    let consenting: Vec<_> = all.iter().filter(|(_, p)| consented(&persons, p)).collect();
    let r = ask(&researcher, egfr_l858r(), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let flags: Vec<String> = all
        .iter()
        .map(|(site, p)| {
            let f = &persons[p];
            format!(
                "{p}@{site}: broad {} opt-in {} objection {} withdrawn {}",
                f["broad_consent"], f["genetic_opt_in"], f["gdng_objection"], f["withdrawn"]
            )
        })
        .collect();
    assert_eq!(
        r.count(),
        Some(consenting.len() as u64),
        "released vs consented carriers: {flags:#?}"
    );

    // A carrier withdraws the genetic opt-in: they stop counting.
    let (site, person) = consenting[0].clone();
    let local_id = truth
        .records
        .iter()
        .find(|r| r.person_id == *person && r.site == *site)
        .unwrap()
        .local_id
        .clone();
    let today = chrono::Utc::now().date_naive().to_string();
    let deny = json!({
        "resourceType": "Consent", "id": "genetic-deny-1", "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": format!("Patient/{local_id}")},
        "dateTime": today,
        "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "genetic-research"}]}]}
    });
    let i: usize = site.trim_start_matches("site-").parse::<usize>().unwrap() - 1;
    fed.trustee_client(i)
        .unwrap()
        .submit_consents(vec![oncofed_trustee_api::ConsentItem {
            local_id,
            consent: deny,
        }])
        .await
        .unwrap();
    let expected = consenting.len() as u64 - 1;
    let researcher2 = researcher.clone();
    oncofed_testkit::wait_until(
        || {
            let r = researcher2.clone();
            async move {
                let reply = ask(&r, egfr_l858r(), None).await;
                (reply.count() == Some(expected)).then_some(())
            }
        },
        Duration::from_secs(30),
    )
    .await
    .expect("the withdrawn carrier stops counting");

    // Undefended, every query of a member's allele says yes.
    let (in_beacon, members) = germline_truth(&cohort);
    let (_, alleles) = target(&cohort, &in_beacon, &members, std::slice::from_ref(&person));
    let (mut yes, mut identifying) = (0, 0);
    for (chrom, pos, r, a) in &alleles {
        let reply = ask(&researcher, allele(chrom, *pos, r, a), None).await;
        yes += usize::from(reply.exists() == Some(true));
        let key = (chrom.clone(), *pos, r.clone(), a.clone());
        identifying += usize::from(in_beacon.get(&key).copied().unwrap_or(0) < 5);
    }
    println!(
        "undefended: {yes} of {} rarest alleles answered yes, {identifying} of them with < 5 consented carriers",
        alleles.len()
    );
    assert_eq!(yes, alleles.len());
    run.fed.shutdown().await.unwrap();
}
