//! The federation's HealthDCAT-AP catalogue end to end (issue 17, item 6, R20):
//! a live federation of two sites with synthetic FHIR and sequencing data; the
//! admin refreshes the catalogue; the public reads it as JSON-LD and Turtle.
//!
//! - both serialisations conform to the vendored HealthDCAT-AP shapes
//!   (pyshacl, `crates/dcat/tests/shacl_validate.py`) and are the same graph;
//! - disclosure: a category with fewer persons at a site than its threshold is
//!   not published at all, and every published count is a rounded figure at
//!   or above the threshold;
//! - the catalogue holds no pseudonym, hospital id or person id;
//! - only an admin may refresh, the refresh is audited, and reading needs no sign-in.

#[path = "../../dcat/tests/support/shacl.rs"]
mod shacl;

use oncofed_model::{DataCategory, SiteId, VariantOrigin};
use oncofed_node::QueryService;
use oncofed_privacy::SiteDisclosure;
use oncofed_synth::SynthConfig;
use oncofed_synth::genomics::GenomicsConfig;
use oncofed_testkit::{Cohort, LocalFederation};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

const SITES: usize = 2;

/// Raw (unconsented) persons per category at a site, from its store, and every
/// pseudonym it holds (site and research domain).
fn store_truth(service: &QueryService) -> (BTreeMap<DataCategory, usize>, HashSet<String>) {
    let store = service.store();
    let mut guard = store.lock().unwrap();
    let s = guard.as_mut();
    let mut persons: BTreeMap<DataCategory, HashSet<String>> = BTreeMap::new();
    let mut pseudonyms = HashSet::new();
    let mut all = Vec::new();
    s.for_each_patient(&mut |p| {
        pseudonyms.insert(p.pseudonym.as_str().to_owned());
        pseudonyms.insert(p.research_pseudonym.as_str().to_owned());
        all.push(p.pseudonym);
    })
    .unwrap();
    s.for_each_fact(&mut |f| {
        persons
            .entry(f.fact.category)
            .or_default()
            .insert(f.pseudonym.as_str().to_owned());
    })
    .unwrap();
    for call in s.variants_of(&all).unwrap() {
        let category = match call.variant.origin {
            VariantOrigin::Germline => DataCategory::Germline,
            VariantOrigin::Somatic => DataCategory::Genetic,
        };
        persons
            .entry(category)
            .or_default()
            .insert(call.pseudonym.as_str().to_owned());
    }
    (
        persons.into_iter().map(|(c, p)| (c, p.len())).collect(),
        pseudonyms,
    )
}

fn number(node: &Value, property: &str) -> Option<u64> {
    node[property].as_array()?.first()?["@value"]
        .as_str()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_is_healthdcat_ap_released_under_disclosure_control_and_public() {
    // Few sequenced persons: each site's germline data stay under the threshold of 20.
    let cohort = Cohort::generate_with(SynthConfig {
        seed: 17,
        sites: SITES as u32,
        persons: 400,
        genomics: Some(GenomicsConfig {
            share: 0.06,
            panel_size: 200,
            ..GenomicsConfig::default()
        }),
        ..SynthConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let sites: Vec<SiteId> = (1..=SITES as u32).map(SynthConfig::site_id).collect();
    let mut fed = LocalFederation::builder(dir.path(), sites.clone())
        .tls(false)
        .start()
        .await
        .unwrap();
    let mut truths = Vec::new();
    for (i, site) in sites.iter().enumerate() {
        let site_dir = cohort.site_dir(site.as_str());
        let (service, _) = fed.ingest_site(i, &site_dir).await.unwrap();
        oncofed_testkit::beacon::ingest_genomics(&fed, i, &service, &site_dir.join("genomics"))
            .await
            .unwrap();
        truths.push(store_truth(&service));
        fed.connect_site(i, &service, 1).await.unwrap();
    }

    // Nothing published yet; a researcher may not refresh.
    let public = fed.anonymous().unwrap();
    assert!(
        public.catalogue_jsonld().await.is_err(),
        "a catalogue before any refresh"
    );
    assert!(
        fed.researcher().refresh_catalogue().await.is_err(),
        "a researcher refreshed"
    );

    let started = Instant::now();
    let summary = fed.admin().refresh_catalogue().await.unwrap();
    println!(
        "catalogue refresh over {SITES} sites: {} ms, {summary:?}",
        started.elapsed().as_millis()
    );
    assert_eq!(summary.sites_answered, SITES, "{summary:?}");
    assert!(summary.datasets >= SITES, "{summary:?}");

    let jsonld = public.catalogue_jsonld().await.unwrap();
    let turtle = public.catalogue_turtle().await.unwrap();
    println!(
        "catalogue: {} bytes of Turtle, {} of JSON-LD",
        turtle.len(),
        jsonld.to_string().len()
    );

    // Disclosure control, dataset by dataset.
    let nodes = jsonld["@graph"].as_array().unwrap();
    let datasets: Vec<&Value> = nodes
        .iter()
        .filter(|n| {
            n["@type"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t == "dcat:Dataset"))
        })
        .collect();
    assert_eq!(datasets.len(), summary.datasets);
    let mut published = BTreeSet::new();
    for d in &datasets {
        let id = d["@id"].as_str().unwrap();
        let mut parts = id.rsplit('/');
        let (category, site) = (parts.next().unwrap(), parts.next().unwrap());
        let category = DataCategory::ALL
            .into_iter()
            .find(|c| c.as_str() == category)
            .unwrap();
        let rules = SiteDisclosure::for_level(category.intrinsic_level());
        let persons = number(d, "healthdcatap:numberOfUniqueIndividuals").unwrap();
        assert!(
            persons >= rules.threshold && persons.is_multiple_of(rules.rounding),
            "{id}: {persons}"
        );
        if let Some(records) = number(d, "healthdcatap:numberOfRecords") {
            assert!(
                records >= rules.threshold && records.is_multiple_of(rules.rounding),
                "{id}: {records}"
            );
        }
        published.insert((site.to_owned(), category));
    }
    let mut small = 0;
    for (i, (persons, _)) in truths.iter().enumerate() {
        for (category, n) in persons {
            let k = SiteDisclosure::for_level(category.intrinsic_level()).threshold as usize;
            if *n < k {
                small += 1;
                assert!(
                    !published.contains(&(sites[i].to_string(), *category)),
                    "{} {} has {n} persons (< {k}) and was published",
                    sites[i],
                    category.as_str()
                );
            }
        }
    }
    assert!(
        small > 0,
        "the cohort has no category under its threshold: the test proves nothing"
    );
    assert!(published.iter().any(|(_, c)| *c == DataCategory::Clinical));

    // No pseudonym, hospital id or person id anywhere in either document.
    let text = format!("{turtle}\n{jsonld}");
    let truth = cohort.truth();
    let mut identifiers: HashSet<String> =
        truths.iter().flat_map(|(_, p)| p.iter().cloned()).collect();
    for site in &sites {
        identifiers.extend(truth.local_ids(site.as_str()).into_keys());
        identifiers.extend(truth.local_ids(site.as_str()).into_values());
    }
    identifiers.extend(truth.by_person().into_keys());
    identifiers.retain(|id| id.len() >= 6);
    assert!(identifiers.len() > 100, "{} identifiers", identifiers.len());
    for id in &identifiers {
        assert!(
            !text.contains(id.as_str()),
            "the catalogue contains the identifier {id}"
        );
    }

    // Content negotiation on /catalogue, and the page, without signing in.
    let http = reqwest::Client::new();
    let at = |accept: &str| {
        http.get(format!("{}/catalogue", fed.hub_url()))
            .header("accept", accept)
            .send()
    };
    let negotiated = at("text/turtle").await.unwrap();
    assert_eq!(negotiated.status(), 200);
    assert!(
        negotiated.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/turtle")
    );
    assert_eq!(negotiated.text().await.unwrap(), turtle);
    let negotiated: Value = at("application/ld+json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(negotiated, jsonld);
    let page = at("text/html").await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<table class=\"data\">") && page.contains("scope=\"row\""),
        "{page}"
    );
    assert!(
        !page.contains("/catalogue/refresh"),
        "an anonymous reader sees the refresh form"
    );
    for id in &identifiers {
        assert!(
            !page.contains(id.as_str()),
            "the page contains the identifier {id}"
        );
    }
    // A refresh from a browser needs a signed-in admin: anonymous posts are
    // sent to the sign-in page and change nothing.
    let posted = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/catalogue/refresh", fed.hub_url()))
        .form(&[("csrf", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 303);

    // HealthDCAT-AP conformance of the live catalogue, in both serialisations.
    if let Some(python) = shacl::python() {
        shacl::assert_valid(
            &python,
            &turtle,
            &serde_json::to_string_pretty(&jsonld).unwrap(),
        );
    }

    // A second refresh over unchanged data publishes the same figures (the
    // sites' noise is fixed per stratum) and is audited like the first.
    fed.admin().refresh_catalogue().await.unwrap();
    let again = public.catalogue_jsonld().await.unwrap();
    let figures = |doc: &Value| -> Vec<(String, Option<u64>, Option<u64>)> {
        doc["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n.get("healthdcatap:numberOfUniqueIndividuals").is_some())
            .map(|n| {
                (
                    n["@id"].as_str().unwrap().to_owned(),
                    number(n, "healthdcatap:numberOfUniqueIndividuals"),
                    number(n, "healthdcatap:numberOfRecords"),
                )
            })
            .collect()
    };
    assert_eq!(figures(&jsonld), figures(&again));
    // The refresh button: a signed-in admin with the page's CSRF token
    // refreshes; a wrong token or a researcher's session is refused.
    let admin = sign_in(fed.hub_url(), dir.path(), "admin").await;
    let researcher = sign_in(fed.hub_url(), dir.path(), "researcher").await;
    let page_of = |cookie: String| {
        let url = format!("{}/catalogue", fed.hub_url());
        let http = http.clone();
        async move {
            let page = http.get(url).header("cookie", cookie).send().await.unwrap();
            page.text().await.unwrap()
        }
    };
    let admin_page = page_of(admin.clone()).await;
    assert!(
        admin_page.contains("action=\"/catalogue/refresh\""),
        "no refresh form for the admin"
    );
    let researcher_page = page_of(researcher.clone()).await;
    assert!(
        !researcher_page.contains("action=\"/catalogue/refresh\""),
        "a researcher sees the refresh form"
    );
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |cookie: &str, csrf: &str| {
        no_redirects
            .post(format!("{}/catalogue/refresh", fed.hub_url()))
            .header("cookie", cookie)
            .form(&[("csrf", csrf)])
            .send()
    };
    assert_eq!(post(&admin, "wrong").await.unwrap().status(), 403);
    let researcher_csrf = csrf_of(&researcher_page);
    assert_eq!(
        post(&researcher, &researcher_csrf).await.unwrap().status(),
        403
    );
    let done = post(&admin, &csrf_of(&admin_page)).await.unwrap();
    assert_eq!(done.status(), 303);
    assert_eq!(done.headers()["location"], "/catalogue");

    let audit = fed.audit().await.unwrap();
    assert!(audit.report.ok, "{}", audit.report);
    assert_eq!(audit.actions("catalogue.refreshed").count(), 3);
    assert_eq!(audit.actions("portal.catalogue.refresh").count(), 1);
}

/// The first `csrf` hidden field of a page.
fn csrf_of(page: &str) -> String {
    let at =
        page.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    page[at..].split('"').next().unwrap().to_owned()
}

/// The `Cookie` header a browser would send back: `name=value` of every
/// cookie the response sets (the language cookie and the session's).
fn cookie_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// Signs `user` in through the portal's form with the token the kit wrote
/// (`DIR/tokens/<user>.token`); returns the session cookie.
async fn sign_in(hub: &str, dir: &std::path::Path, user: &str) -> String {
    let token = std::fs::read_to_string(dir.join("tokens").join(format!("{user}.token"))).unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http
        .get(format!("{hub}/portal/login"))
        .send()
        .await
        .unwrap();
    let pre = cookie_of(&form);
    let csrf = csrf_of(&form.text().await.unwrap());
    let signed = http
        .post(format!("{hub}/portal/login"))
        .header("cookie", pre)
        .form(&[
            ("user", user),
            ("token", token.trim()),
            ("csrf", csrf.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303, "sign-in of {user}");
    cookie_of(&signed)
}
