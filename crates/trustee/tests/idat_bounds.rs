//! Red-team defect 4 (issue 9): one long name stalled all trust-centre writes.
//!
//! Every IDAT field has a bound (`oncofed_idat::bounds`); a record over it is
//! refused alone, with an error naming the field and never the value, and the
//! rest of its batch is pseudonymised. Names within the bounds compare in
//! bounded time (Jaro–Winkler on capped input). No timing is asserted; the
//! tests print what they measured (`--nocapture`).

mod common;
mod linkage_common;

use common::{item, resident};
use linkage_common::{Server, TOKEN_A, TOKEN_B};
use oncofed_idat::IdentifyingData;
use oncofed_idat::bounds::{MAX_GIVEN_NAMES, MAX_NAME_CHARS};
use oncofed_model::Sex;
use oncofed_trustee_api::ItemError;
use serde_json::Value;
use std::time::Instant;

fn idat(given: &str, family: &str) -> IdentifyingData {
    resident(given, family, (1961, 4, 12), Sex::Female)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn red_team_long_names_are_refused_per_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let site = server.site(TOKEN_A);
    // The red-team input: two 100,000-character names sharing blocking keys
    // (birth date; postal code and phonetic given name with the first ordinary
    // record), between ordinary records.
    let long = format!("Muster{}", "q".repeat(100_000));
    let longer = format!("Muster{}", "r".repeat(100_000));
    let mut many_given = idat("Erika", "Schmidt");
    many_given.given = vec!["Anna".into(); MAX_GIVEN_NAMES + 1];
    let mut long_street = idat("Erika", "Weber");
    long_street.address.as_mut().unwrap().lines = vec!["s".repeat(100_000)];
    let mut long_city = idat("Erika", "Fischer");
    long_city.address.as_mut().unwrap().city = Some("K".repeat(100_000));
    // Another site's request at the same time (it waited 18 s in the report).
    let other = server.site(TOKEN_B);
    let start = std::time::Instant::now();
    let timed = |f| async move {
        let out = f.await;
        (out, start.elapsed().as_secs_f64() * 1000.0)
    };
    let ((out, ms_a), (other_out, ms_b)) = tokio::join!(
        timed(site.pseudonymise_each(vec![
            item("ok-1", idat("Erika", "Mustermann")),
            item("long-1", idat("Erika", &long)),
            item("long-2", idat(&longer, &longer)),
            item("many-given", many_given),
            item("ok-2", idat("Hans", "Schmidt")),
            item("long-street", long_street),
            item("long-city", long_city),
        ])),
        timed(other.pseudonymise_each(vec![item("b-1", idat("Lena", "Fischer"))])),
    );
    println!(
        "batch with five over-long records: {ms_a:.0} ms; another site's request: {ms_b:.0} ms"
    );
    let out = out.unwrap();
    assert!(other_out.unwrap()[0].is_ok());
    let refused: Vec<(usize, &ItemError)> = out
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().err().map(|e| (i, e)))
        .collect();
    assert_eq!(
        refused.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![1, 2, 3, 5, 6]
    );
    let expect = [
        "items[1].idat.family: the family name is longer than 200 characters",
        "items[2].idat.given[0]: a given name is longer than 200 characters",
        "items[3].idat.given: more than 16 given names",
        "items[5].idat.address.lines[0]: an address line is longer than 200 characters",
        "items[6].idat.address.city: the city is longer than 200 characters",
    ];
    for ((i, e), text) in refused.iter().zip(expect) {
        assert_eq!(e.index, *i);
        assert_eq!(e.code, ItemError::IDAT_TOO_LONG);
        assert_eq!(e.message, text);
    }
    // The good records around them went through.
    let (ok1, ok2) = (out[0].clone().unwrap(), out[4].clone().unwrap());
    assert_ne!(ok1.research, ok2.research);
    let again = site
        .resolve(vec!["ok-1".into(), "long-1".into()])
        .await
        .unwrap();
    assert_eq!(
        again,
        vec![Some(ok1), None],
        "a refused record is not stored"
    );

    // On the wire: 200, `null` in its place, no value echoed.
    let body = serde_json::json!({"items": [
        {"local_id": "w-1", "idat": idat("Erika", &long)},
        {"local_id": "w-2", "idat": idat("Erika", "Mustermann")},
    ]});
    let resp = oncofed_tls::http_client()
        .post(format!("{}/v1/pseudonyms", server.url))
        .bearer_auth(TOKEN_A)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    assert!(!text.contains("qqqq") && !text.contains("Muster"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["items"][0].is_null() && v["items"][1].is_object(), "{v}");
    assert_eq!(v["errors"][0]["index"], 0);
    // The plain client fails loudly rather than hiding a refused record.
    let e = site
        .pseudonymise(vec![item("p-1", idat("Erika", &long))])
        .await
        .unwrap_err();
    assert!(e.to_string().contains("items[0].idat.family"), "{e}");
    assert!(!e.to_string().contains("qqqq"));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_but_legal_names_are_accepted_and_link() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    // The longest legal record: 16 given names and a family name of 200
    // characters each, 50 records sharing two blocking keys at one site, then
    // the same 50 at another site (each compared with the whole block).
    // Family names differ in three letters after the initial (digits would be
    // normalised away; Jaro–Winkler reads the first 64 characters, so names
    // that differ only beyond them would look alike); given names, birth date
    // and address are shared, so all records meet in two blocks.
    let letters = |n: usize| -> String {
        [n / 676, n / 26 % 26, n % 26]
            .iter()
            .map(|&d| char::from(b'a' + d as u8))
            .collect()
    };
    let record = |n: usize| {
        let family = format!("M{}{}", letters(n), "u".repeat(MAX_NAME_CHARS - 4));
        let mut r = idat("Erika", &family);
        r.given = (0..MAX_GIVEN_NAMES)
            .map(|g| format!("E{}{}", "r".repeat(MAX_NAME_CHARS - 4), letters(g)))
            .collect();
        r
    };
    let batch = |prefix: &str| {
        (0..50)
            .map(|n| item(&format!("{prefix}{n}"), record(n)))
            .collect::<Vec<_>>()
    };
    let start = Instant::now();
    let a = server.site(TOKEN_A).pseudonymise(batch("a")).await.unwrap();
    let b = server.site(TOKEN_B).pseudonymise(batch("b")).await.unwrap();
    println!(
        "100 maximal-length records in one block: {:.2} s",
        start.elapsed().as_secs_f64()
    );
    // Behaviour: all accepted; each cross-site copy links to its own record.
    assert_eq!((a.len(), b.len()), (50, 50));
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.research, y.research);
    }
    server.shutdown().await;
}
