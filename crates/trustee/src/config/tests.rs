//! Tests of the configuration: keys, registries, and what `Debug` shows.
use super::*;

#[test]
fn debug_names_the_store_without_its_password() {
    let hash = "0".repeat(64);
    let sites = SiteRegistry::from_hashes([(SiteId::new("uk-a").unwrap(), hash.as_str())]).unwrap();
    let key = PseudonymKey::from_bytes(vec![1; 32]).unwrap();
    let config = TrusteeConfig::new("/tmp/tc", key, sites)
        .unwrap()
        .with_store_url("postgres://tc:s3cret@127.0.0.1:5432/trustee");
    let shown = format!("{config:?}");
    assert!(
        shown.contains("postgres://tc@127.0.0.1:5432/trustee"),
        "{shown}"
    );
    assert!(!shown.contains("s3cret"), "{shown}");
    assert_eq!(
        config.store_url(),
        Some("postgres://tc:s3cret@127.0.0.1:5432/trustee")
    );
}

#[test]
fn key_is_created_private_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    let k1 = load_or_create_key(&path).unwrap();
    let k2 = load_or_create_key(&path).unwrap();
    assert_eq!(k1.as_bytes(), k2.as_bytes());
    assert_eq!(k1.as_bytes().len(), MIN_KEY_LEN);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(format!("{k1:?}"), "PseudonymKey(<redacted>)");
}

#[test]
fn short_or_exposed_keys_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    create_private(&path)
        .unwrap()
        .write_all(&[1u8; 16])
        .unwrap();
    assert!(matches!(
        load_or_create_key(&path),
        Err(ConfigError::KeyTooShort { len: 16, .. })
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&path, [7u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load_or_create_key(&path),
            Err(ConfigError::KeyPermissions { .. })
        ));
    }
}

#[test]
fn sites_file_is_validated() {
    let h1 = hash_token("token-one");
    let h2 = hash_token("token-two");
    let p = Path::new("sites");
    let ok = SiteRegistry::parse(
        &format!("# sites\n\nuk-a {h1}\nuk-b  {}\n", h2.to_uppercase()),
        p,
    )
    .unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(
        ok.site_for(&parse_digest(&h2).unwrap()).unwrap().as_str(),
        "uk-b"
    );
    let line_of = |text: String| match SiteRegistry::parse(&text, p) {
        Err(ConfigError::SitesFile { line, .. }) => line,
        other => panic!("expected a sites-file error, got {other:?}"),
    };
    assert_eq!(line_of(format!("uk-a {h1}\nUK-B {h2}")), 2);
    assert_eq!(line_of(format!("uk-a {h1}\nuk-b {h1}")), 2);
    assert_eq!(line_of(format!("uk-a {h1}\nuk-a {h2}")), 2);
    assert_eq!(line_of("uk-a abc".into()), 1);
    assert_eq!(line_of(format!("uk-a {h1} extra")), 1);
    let msg = SiteRegistry::parse("uk-a secret-token-value", p)
        .unwrap_err()
        .to_string();
    assert!(!msg.contains("secret-token-value"));
}

#[test]
fn staff_file_is_validated() {
    let (a, b) = (hash_token("alice-token"), hash_token("bob-token"));
    let p = Path::new("staff");
    let ok = StaffRegistry::parse(
        &format!("# staff\n\nalice:{a}\nbob : {}\n", b.to_uppercase()),
        p,
    )
    .unwrap();
    assert_eq!(ok.len(), 2);
    assert_eq!(ok.name_for(&parse_digest(&b).unwrap()), Some("bob"));
    assert_eq!(ok.name_for(&parse_digest(&hash_token("x")).unwrap()), None);
    let line_of = |text: String| match StaffRegistry::parse(&text, p) {
        Err(ConfigError::StaffFile { line, .. }) => line,
        other => panic!("expected a staff-file error, got {other:?}"),
    };
    assert_eq!(line_of(format!("alice:{a}\nadmin:{b}")), 2);
    assert_eq!(line_of(format!("alice:{a}\nalice:{b}")), 2);
    assert_eq!(line_of(format!("alice:{a}\nbob:{a}")), 2);
    assert_eq!(line_of(format!("Alice:{a}")), 1);
    assert_eq!(line_of(format!("alice {a}")), 1);
    let msg = StaffRegistry::parse("alice:secret-token-value", p)
        .unwrap_err()
        .to_string();
    assert!(!msg.contains("secret-token-value"));
    // A staff token may not be a site's token or the admin token.
    let sites = SiteRegistry::from_hashes([(SiteId::new("uk-a").unwrap(), a.as_str())]).unwrap();
    let cfg = TrusteeConfig::new("d", PseudonymKey::from_bytes(vec![0; 32]).unwrap(), sites)
        .unwrap()
        .with_admin_token_hash(&b)
        .unwrap();
    for reused in [&a, &b] {
        let staff = StaffRegistry::from_hashes([("carol", reused.as_str())]).unwrap();
        assert!(matches!(
            cfg.clone().with_staff(staff),
            Err(ConfigError::StaffTokenReused)
        ));
    }
    assert!(format!("{ok:?}").contains("alice") && !format!("{ok:?}").contains(&a));
}

#[test]
fn config_requires_sites_and_a_distinct_admin_token() {
    let key = PseudonymKey::from_bytes(vec![0; 32]).unwrap();
    let empty = SiteRegistry::parse("", Path::new("s")).unwrap();
    assert!(matches!(
        TrusteeConfig::new("d", key.clone(), empty),
        Err(ConfigError::NoSites)
    ));
    let sites =
        SiteRegistry::from_hashes([(SiteId::new("uk-a").unwrap(), hash_token("t").as_str())])
            .unwrap();
    let cfg = TrusteeConfig::new("d", key, sites).unwrap();
    assert!(matches!(
        cfg.clone().with_admin_token_hash(&hash_token("t")),
        Err(ConfigError::AdminTokenReused)
    ));
    assert!(matches!(
        cfg.clone().with_admin_token_hash("xyz"),
        Err(ConfigError::TokenHash { .. })
    ));
    let cfg = cfg.with_admin_token_hash(&hash_token("admin")).unwrap();
    let dbg = format!("{cfg:?}");
    assert!(dbg.contains("uk-a") && dbg.contains("redacted"));
    assert!(!dbg.contains(&hash_token("admin")) && !dbg.contains(&hash_token("t")));
}
