//! Tests of the drawn cells: determinism, every class at every site, site
//! shift, and that the classes are learnable but not trivially separable.

use super::*;
use crate::Entity;
use oncofed_model::Specimen;

/// Colour-histogram features: 4 levels per channel (64 bins), normalised,
/// plus the share of dark (nuclear) pixels in three rings around the centre.
fn features(img: &image::RgbImage) -> Vec<f32> {
    let mut f = vec![0f32; 64 + 3];
    let n = (img.width() * img.height()) as f32;
    let mid = img.width() as f32 / 2.0;
    for (x, y, p) in img.enumerate_pixels() {
        let [r, g, b] = p.0.map(|v| usize::from(v / 64));
        f[r * 16 + g * 4 + b] += 1.0 / n;
        let lum = p.0.iter().map(|v| f32::from(*v)).sum::<f32>() / 3.0;
        if lum < 110.0 {
            let d = ((x as f32 + 0.5 - mid).powi(2) + (y as f32 + 0.5 - mid).powi(2)).sqrt();
            f[64 + ((d / 10.0) as usize).min(2)] += 4.0 / n;
        }
    }
    f
}

/// Accuracy of a nearest-centroid classifier trained on `train`, tested on `test`.
fn nearest_centroid(
    train: &[(image::RgbImage, CellClass)],
    test: &[(image::RgbImage, CellClass)],
) -> f64 {
    let classes = CellClass::DIFFERENTIAL;
    let mut sums = vec![vec![0f32; 67]; classes.len()];
    let mut counts = vec![0f32; classes.len()];
    for (img, c) in train {
        let k = classes.iter().position(|x| x == c).unwrap();
        for (s, v) in sums[k].iter_mut().zip(features(img)) {
            *s += v;
        }
        counts[k] += 1.0;
    }
    for (s, n) in sums.iter_mut().zip(&counts) {
        s.iter_mut().for_each(|v| *v /= n.max(1.0));
    }
    let correct = test
        .iter()
        .filter(|(img, c)| {
            let f = features(img);
            let best = (0..classes.len())
                .min_by(|&a, &b| {
                    let d = |k: usize| -> f32 {
                        sums[k].iter().zip(&f).map(|(x, y)| (x - y).powi(2)).sum()
                    };
                    d(a).total_cmp(&d(b))
                })
                .unwrap();
            classes[best] == *c
        })
        .count();
    correct as f64 / test.len() as f64
}

#[test]
fn samples_are_deterministic_and_independent_of_count() {
    let style = SiteStyle::for_site(1, 3);
    let mix = ClassMix::uniform(&CellClass::DIFFERENTIAL);
    let a = cell_samples(&style, 12, &mix, 99);
    let b = cell_samples(&style, 6, &mix, 99);
    assert_eq!(a.len(), 12);
    assert_eq!(&a[..6], &b[..]);
    let c = cell_samples(&style, 6, &mix, 100);
    assert_ne!(&a[..6], &c[..]);
    assert!(a.iter().all(|(img, _)| img.dimensions() == (64, 64)));
}

#[test]
fn every_class_is_drawable_at_every_site() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for site in 0..12 {
        let style = SiteStyle::for_site(site, 11);
        for class in CellClass::ALL {
            for _ in 0..2 {
                let img = draw_cell(class, &style, &mut rng);
                assert_eq!(img.dimensions(), (CELL_IMAGE_SIZE, CELL_IMAGE_SIZE));
                // Not blank: there is stain in the image.
                let min = img.pixels().map(|p| p.0[1]).min().unwrap();
                let max = img.pixels().map(|p| p.0[1]).max().unwrap();
                assert!(max - min > 40, "{class} at site {site}: flat image");
            }
        }
    }
}

/// The mean colour of `n` cells of `class` at site `index`.
fn mean_colour(index: usize, class: CellClass, n: usize) -> [f64; 3] {
    let style = SiteStyle::for_site(index, 42);
    let mut sum = [0f64; 3];
    let samples = cell_samples(&style, n, &ClassMix::uniform(&[class]), 1);
    for (img, _) in &samples {
        for p in img.pixels() {
            for (s, v) in sum.iter_mut().zip(p.0) {
                *s += f64::from(v);
            }
        }
    }
    sum.map(|s| s / (n * 64 * 64) as f64)
}

#[test]
fn sites_differ_in_colour() {
    for class in [CellClass::Myeloblast, CellClass::SegmentedNeutrophil] {
        let colours: Vec<[f64; 3]> = (0..3).map(|i| mean_colour(i, class, 30)).collect();
        for i in 0..3 {
            for j in 0..i {
                let dist = (0..3)
                    .map(|ch| (colours[i][ch] - colours[j][ch]).powi(2))
                    .sum::<f64>()
                    .sqrt();
                assert!(
                    dist > 8.0,
                    "{class}: sites {i} and {j} differ by only {dist:.1}"
                );
            }
        }
    }
}

#[test]
fn classes_are_learnable_but_not_trivial() {
    let style = SiteStyle::for_site(0, 42);
    let mix = ClassMix::uniform(&CellClass::DIFFERENTIAL);
    let train = cell_samples(&style, 480, &mix, 1);
    let test = cell_samples(&style, 320, &mix, 2);
    let own = nearest_centroid(&train, &test);
    // Chance is 1/8.
    assert!(own > 0.35, "nearest centroid reaches only {own:.2}");
    assert!(own < 0.97, "nearest centroid reaches {own:.2}: too easy");
    // Trained at one site, it loses accuracy at another (site shift).
    let other = cell_samples(&SiteStyle::for_site(1, 42), 320, &mix, 2);
    let shifted = nearest_centroid(&train, &other);
    assert!(
        shifted < own - 0.1,
        "own site {own:.2}, other site {shifted:.2}"
    );
    eprintln!("nearest centroid: own site {own:.3}, other site {shifted:.3}");
}

#[test]
fn aml_smears_hold_more_blasts() {
    let style = SiteStyle::for_site(0, 1);
    let blasts = |entity: Entity| {
        let mix = ClassMix::for_smear(entity, Specimen::BoneMarrow);
        cell_samples(&style, 200, &mix, 4)
            .iter()
            .filter(|(_, c)| *c == CellClass::Myeloblast)
            .count()
    };
    let aml = blasts(Entity::Aml);
    for other in [Entity::Cll, Entity::Myeloma, Entity::Breast] {
        assert!(aml > 4 * blasts(other).max(5), "{aml} vs {other}");
    }
}

/// Every file under `dir` with its bytes, by relative path.
fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

#[test]
fn smear_batches_are_written_in_the_shared_format_and_reproducibly() {
    let config = crate::SynthConfig {
        persons: 150,
        sites: 2,
        seed: 9,
        ..crate::SynthConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let summary = write_cells(&config, dir.path(), 0.6, 8).unwrap();
    assert!(summary.smears >= 20, "{summary:?}");
    assert_eq!(summary.cells, summary.smears * 8);
    assert_eq!(
        summary.smears_per_site.values().sum::<u64>(),
        summary.smears
    );
    // AML smears are rich in blasts, the others are not.
    let blasts = &summary.blast_percent_by_entity;
    let aml = blasts["aml"];
    assert!(aml > 15.0, "{blasts:?}");
    for (entity, pct) in blasts {
        if entity != "aml" {
            assert!(*pct < aml / 3.0, "{entity}: {pct} vs aml {aml}");
        }
    }
    let mut cells_seen = 0;
    for site in ["site-1", "site-2"] {
        let batch = dir.path().join(site).join("cells");
        let smears = std::fs::read_to_string(batch.join("smears.csv")).unwrap();
        let cells = std::fs::read_to_string(batch.join("cells.csv")).unwrap();
        let truth =
            std::fs::read_to_string(dir.path().join(format!("ground-truth/cells-{site}.csv")))
                .unwrap();
        assert_eq!(smears.lines().next(), Some(SMEARS_HEADER));
        assert_eq!(
            SMEARS_HEADER,
            "smear_id,patient_id,family,given,birth_date,sex,specimen,stain,scanner,magnification,collected"
        );
        assert_eq!(cells.lines().next(), Some("smear_id,cell_id,file,label"));
        assert_eq!(
            truth.lines().next(),
            Some("smear_id,cell_id,true_label,person_id,entity")
        );
        for row in smears.lines().skip(1) {
            let f: Vec<&str> = row.split(',').collect();
            assert_eq!(f.len(), 11, "{row}");
            assert!(!f[1].is_empty(), "no patient id: {row}");
            assert!(
                chrono::NaiveDate::parse_from_str(f[4], "%Y-%m-%d").is_ok(),
                "{row}"
            );
            assert!(f[6].parse::<Specimen>().is_ok(), "{row}");
            assert_eq!(f[9], "100x");
        }
        assert_eq!(cells.lines().count(), truth.lines().count());
        for (row, truth_row) in cells.lines().zip(truth.lines()).skip(1) {
            let f: Vec<&str> = row.split(',').collect();
            assert_eq!(f.len(), 4, "{row}");
            assert_eq!(f[3], "", "the lab's label column must be empty");
            let t: Vec<&str> = truth_row.split(',').collect();
            assert_eq!((t[0], t[1]), (f[0], f[1]));
            assert!(CellClass::DIFFERENTIAL.contains(&t[2].parse().unwrap()));
            if cells_seen % 25 == 0 {
                let img = image::open(batch.join(f[2])).unwrap();
                assert_eq!((img.width(), img.height()), (64, 64));
            }
            cells_seen += 1;
        }
    }
    assert_eq!(cells_seen as u64, summary.cells);
    // The same configuration writes the same bytes.
    let again = tempfile::tempdir().unwrap();
    assert_eq!(write_cells(&config, again.path(), 0.6, 8).unwrap(), summary);
    assert_eq!(tree(dir.path()), tree(again.path()));
    // Bad parameters are refused before anything is written.
    let empty = tempfile::tempdir().unwrap();
    assert!(write_cells(&config, empty.path(), 1.5, 8).is_err());
    assert!(write_cells(&config, empty.path(), 0.5, 0).is_err());
    assert!(tree(empty.path()).is_empty());
}
