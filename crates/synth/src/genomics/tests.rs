//! Unit tests of the genomics writer: determinism, consistency with the
//! FHIR markers, the germline model (Hardy–Weinberg, the 1/f spectrum).

use super::*;
use crate::record::{ObsValue, ResourceBody};
use crate::{Entity, Marker, SynthConfig, generate, person};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn config(seed: u64, persons: u64) -> SynthConfig {
    SynthConfig {
        seed,
        persons,
        sites: 3,
        multi_site: crate::MultiSiteRates {
            two_sites: 0.3,
            three_sites: 0.1,
        },
        genomics: Some(GenomicsConfig {
            share: 0.5,
            panel_size: 2_000,
            brca_rate: 0.5,
            ..GenomicsConfig::default()
        }),
        ..SynthConfig::default()
    }
}

fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "{l}");
            header
                .iter()
                .cloned()
                .zip(f.iter().map(|s| s.to_string()))
                .collect()
        })
        .collect()
}

/// The gene of a somatic call by position, as a reader without annotation would map it.
fn gene_at(chrom: &str, pos: u32) -> Option<&'static str> {
    let bare = chrom.trim_start_matches("chr");
    let windows: [(&str, u32, u32, &str); 6] = [
        ("7", 55_019_017, 55_211_628, "EGFR"),
        ("12", 25_205_246, 25_250_936, "KRAS"),
        ("7", 140_719_327, 140_924_929, "BRAF"),
        ("17", 7_668_421, 7_687_490, "TP53"),
        ("5", 171_387_116, 171_411_810, "NPM1"),
        ("13", 28_003_274, 28_100_592, "FLT3"),
    ];
    windows
        .iter()
        .find(|(c, lo, hi, _)| *c == bare && (*lo..=*hi).contains(&pos))
        .map(|w| w.3)
}

#[test]
fn output_is_reproducible_and_leaves_the_fhir_output_unchanged() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let off = tempfile::tempdir().unwrap();
    let cfg = config(11, 120);
    let sa = generate(&cfg, &a.path().join("o"), &mut |_| {}).unwrap();
    let sb = generate(&cfg, &b.path().join("o"), &mut |_| {}).unwrap();
    let ta = read_tree(&a.path().join("o"));
    assert_eq!(ta, read_tree(&b.path().join("o")));
    assert_eq!(sa.genomics, sb.genomics);
    let g = sa.genomics.as_ref().unwrap();
    assert!(
        g.somatic_files > 20 && g.germline_files >= g.somatic_files,
        "{g:?}"
    );
    assert_eq!(
        g.calls(),
        g.marker_calls + g.passenger_calls + g.brca_calls + g.background_calls
    );
    for f in &g.files {
        assert!(ta.contains_key(f), "{f}");
        assert!(sa.files_written.contains(f), "{f}");
    }
    // Without genomics: the same FHIR and truth files, and no trace in the manifest.
    let cfg_off = SynthConfig {
        genomics: None,
        ..cfg.clone()
    };
    let so = generate(&cfg_off, &off.path().join("o"), &mut |_| {}).unwrap();
    assert!(so.genomics.is_none());
    let to = read_tree(&off.path().join("o"));
    for (name, bytes) in &to {
        if name != "manifest.json" {
            assert_eq!(Some(bytes), ta.get(name), "{name}");
        }
    }
    let manifest = String::from_utf8(to["manifest.json"].clone()).unwrap();
    assert!(!manifest.contains("genomics"));
    // The standalone writer gives the same files as generate.
    let w = tempfile::tempdir().unwrap();
    let sw = write_genomics(&cfg, cfg.genomics.as_ref().unwrap(), w.path()).unwrap();
    assert_eq!(&sw, g);
    for (name, bytes) in read_tree(w.path()) {
        assert_eq!(Some(&bytes), ta.get(&name), "{name}");
    }
}

#[test]
fn somatic_calls_match_the_fhir_markers_and_samples_match_the_site_identity() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(5, 300);
    let out = dir.path().join("o");
    generate(&cfg, &out, &mut |_| {}).unwrap();
    // (site, local id) -> person index.
    let mut by_local = BTreeMap::new();
    let persons: Vec<_> = (0..cfg.persons).map(|i| person(&cfg, i)).collect();
    for p in &persons {
        for r in &p.sites {
            by_local.insert((r.site.to_string(), r.local_id.clone()), p.index as usize);
        }
    }
    let mut somatic_checked = 0;
    let mut genes_seen = BTreeSet::new();
    for k in 1..=cfg.sites {
        let site = format!("site-{k}");
        let gdir = out.join(&site).join("genomics");
        let rows = csv(&gdir.join("samples.csv"));
        assert_eq!(
            std::fs::read_to_string(gdir.join("samples.csv"))
                .unwrap()
                .lines()
                .next(),
            Some(SAMPLES_HEADER)
        );
        for row in &rows {
            let idx = by_local[&(site.clone(), row["patient_id"].clone())];
            let p = &persons[idx];
            let rec = p.sites.iter().find(|r| r.site.as_str() == site).unwrap();
            assert_eq!(
                row["family"],
                rec.identity.family.clone().unwrap_or_default()
            );
            assert_eq!(row["given"], rec.identity.given.join(" "));
            assert_eq!(row["sex"], rec.identity.sex.as_fhir());
            assert_eq!(
                row["birth_date"],
                rec.identity.birth_date.unwrap().to_string()
            );
            assert!(!row["sample"].contains(&row["family"]));
            let text = std::fs::read_to_string(gdir.join(&row["file"])).unwrap();
            let columns = text.lines().find(|l| l.starts_with("#CHROM")).unwrap();
            assert!(columns.split('\t').any(|c| c == row["sample"]), "{columns}");
            if row["origin"] == "germline" {
                assert!(text.starts_with("##fileformat=VCFv4.3\n"));
                continue;
            }
            assert_eq!(row["origin"], "somatic");
            assert!(text.starts_with("##fileformat=VCFv4.2\n"));
            if !row["sample"].starts_with("T-") {
                continue;
            }
            assert!(text.contains(&format!("##tumor_sample={}\n", row["sample"])));
            // Markers present in this site's FHIR record.
            let fhir: BTreeSet<&str> = rec
                .resources
                .iter()
                .filter_map(|r| match &r.body {
                    ResourceBody::Observation(o) => match o.value {
                        ObsValue::Marker {
                            marker,
                            present: true,
                        } if marker != Marker::Erbb2 => Some(marker.gene()),
                        _ => None,
                    },
                    _ => None,
                })
                .collect();
            let vcf: BTreeSet<&str> = text
                .lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| {
                    let f: Vec<&str> = l.split('\t').collect();
                    gene_at(f[0], f[1].parse().unwrap())
                })
                .collect();
            assert_eq!(fhir, vcf, "{} at {site}", p.person_id);
            genes_seen.extend(vcf);
            somatic_checked += 1;
        }
    }
    assert!(somatic_checked > 50, "{somatic_checked}");
    assert!(genes_seen.len() >= 5, "{genes_seen:?}");
    // BRCA only in breast-cancer persons, and the truth names real files.
    let truth = csv(&out.join("ground-truth/genomics.csv"));
    let mut brca = 0;
    for row in &truth {
        let idx: usize = row["person_id"][1..].parse::<usize>().unwrap() - 1;
        if row["gene"].starts_with("BRCA") {
            brca += 1;
            assert_eq!(persons[idx].truth.entity, Entity::Breast);
            assert_eq!(row["origin"], "germline");
        }
        let path = out.join(&row["site"]).join("genomics").join(&row["file"]);
        let text = std::fs::read_to_string(path).unwrap();
        let line = format!(
            "{}\t{}\t.\t{}\t{}\t",
            row["chrom"], row["pos"], row["ref"], row["alt"]
        );
        assert!(text.contains(&line), "{line}");
    }
    assert!(brca > 0);
}

#[test]
fn genotypes_follow_hardy_weinberg() {
    let panel = background_panel(3, 300);
    let n = 2_000usize;
    let mut counts = vec![[0u32; 3]; panel.len()];
    for i in 0..n {
        let mut g = vec![0u8; panel.len()];
        for (site, copies) in person_background_genotypes(&panel, person_genome_seed(3, i as u64)) {
            g[site] = copies;
        }
        for (c, x) in counts.iter_mut().zip(g) {
            c[usize::from(x)] += 1;
        }
    }
    let mut common = 0;
    for (site, c) in panel.iter().zip(&counts) {
        let p = site.population_af;
        if p < 0.05 {
            continue;
        }
        common += 1;
        for (observed, expected) in [(c[1], 2.0 * p * (1.0 - p)), (c[2], p * p)] {
            let sd = (expected * (1.0 - expected) / n as f64).sqrt();
            let got = f64::from(observed) / n as f64;
            assert!(
                (got - expected).abs() < 5.0 * sd + 1e-3,
                "{site:?}: {got} vs {expected}"
            );
        }
    }
    assert!(common > 30, "{common}");
    // Same person, same genome.
    assert_eq!(
        person_background_genotypes(&panel, person_genome_seed(3, 7)),
        person_background_genotypes(&panel, person_genome_seed(3, 7))
    );
}

#[test]
fn panel_follows_the_neutral_spectrum() {
    let panel = background_panel(9, 20_000);
    assert_eq!(panel.len(), 20_000);
    assert_eq!(panel, background_panel(9, 20_000));
    let rare = panel.iter().filter(|s| s.population_af < 0.01).count() as f64 / 20_000.0;
    let expected = expected_share_below(0.01);
    assert!((expected - 0.575).abs() < 0.01, "{expected}");
    assert!((rare - expected).abs() < 0.015, "{rare} vs {expected}");
    let mut sorted = panel.clone();
    sorted.sort_by_key(|s| (s.chrom, s.pos));
    assert_eq!(sorted, panel);
    assert!(
        panel
            .windows(2)
            .all(|w| (w[0].chrom, w[0].pos) < (w[1].chrom, w[1].pos))
    );
    assert!(
        panel
            .iter()
            .all(|s| s.population_af >= min_panel_af() && s.population_af <= 0.5)
    );
    assert!(panel.iter().all(|s| s.reference != s.alternate));
}

#[test]
fn bad_parameters_are_refused() {
    let mut cfg = config(1, 1);
    cfg.genomics.as_mut().unwrap().share = 1.5;
    assert!(cfg.validate().is_err());
    let g = GenomicsConfig {
        panel_size: MAX_PANEL_SIZE + 1,
        ..GenomicsConfig::default()
    };
    assert!(g.validate().is_err());
}

#[test]
fn released_pool_frequencies_reveal_members() {
    // Homer et al. (2008): a person's genotypes are closer to the frequencies
    // of a pool they belong to than to the reference frequencies. The panel
    // must carry that signal, or membership-attack tests prove nothing.
    let panel = background_panel(4, 10_000);
    let genome = |i: u64| {
        let mut g = vec![0u8; panel.len()];
        for (site, copies) in person_background_genotypes(&panel, person_genome_seed(4, i)) {
            g[site] = copies;
        }
        g
    };
    let members: Vec<Vec<u8>> = (0..100).map(genome).collect();
    let outsiders: Vec<Vec<u8>> = (100..200).map(genome).collect();
    let pool: Vec<f64> = (0..panel.len())
        .map(|j| members.iter().map(|g| f64::from(g[j])).sum::<f64>() / 200.0)
        .collect();
    let statistic = |g: &Vec<u8>| -> f64 {
        panel
            .iter()
            .enumerate()
            .map(|(j, s)| {
                let y = f64::from(g[j]) / 2.0;
                (y - s.population_af).abs() - (y - pool[j]).abs()
            })
            .sum()
    };
    let dm: Vec<f64> = members.iter().map(statistic).collect();
    let dn: Vec<f64> = outsiders.iter().map(statistic).collect();
    let max_outsider = dn.iter().copied().fold(f64::MIN, f64::max);
    let detected = dm.iter().filter(|&&d| d > max_outsider).count();
    assert!(
        detected >= 95,
        "{detected} of 100 members above every outsider"
    );
}
