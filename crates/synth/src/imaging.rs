//! Synthetic DICOM studies for the synthetic cohort: for a share of persons, a
//! staging CT at their primary site, written as the site's modality would
//! (identified: the site's copy of the name, birth date and sex, the site's
//! local id as Patient ID), so that the node's imaging path links them to the
//! same persons as their FHIR data.
//!
//! Each study is 3 slices of 16×16 pixels, 16 bit, uncompressed: small, but a
//! real CT Image Storage object with the attributes the node reads. The body
//! part follows the entity (chest for lung and breast cancer, abdomen for
//! colorectal cancer, whole body for the haematological entities); the study
//! date lies 3–180 days after the diagnosis, so that a criterion such as "a
//! chest CT within 90 days after the diagnosis" holds for some and not for
//! others. `ground-truth/imaging.csv` lists every study for checking counts.

use crate::draw::aux_rng;
use crate::{Entity, SynthConfig, SynthError, io_error, person};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use rand::Rng;
use serde::Serialize;
use std::io::Write;
use std::path::Path;

/// CT Image Storage.
const CT_IMAGE_STORAGE: &str = "1.2.840.10008.5.1.4.1.1.2";
/// Explicit VR Little Endian.
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
/// Stream offset of the imaging draws (apart from the persons' own streams).
const STREAM: u64 = 0x1A6E_0000_0000;
/// Slices per study.
const SLICES: u16 = 3;

/// What [`write_imaging`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImagingSummary {
    /// Studies written.
    pub studies: u64,
    /// Objects (slices) written.
    pub objects: u64,
    /// Studies per site id.
    pub studies_per_site: std::collections::BTreeMap<String, u64>,
    /// Chest CTs dated 0–90 days after their person's diagnosis.
    pub chest_ct_within_90_days: u64,
}

/// The body part a staging CT of `entity` shows (PS3.16 Annex L terms).
fn body_part(entity: Entity) -> &'static str {
    match entity {
        Entity::Nsclc | Entity::Breast => "CHEST",
        Entity::Colorectal => "ABDOMEN",
        _ => "WHOLEBODY",
    }
}

/// Writes a staging CT for about `share` of the persons of `config` into
/// `out_dir/site-<k>/imaging/<local id>/`, and `out_dir/ground-truth/imaging.csv`.
pub fn write_imaging(
    config: &SynthConfig,
    out_dir: &Path,
    share: f64,
) -> Result<ImagingSummary, SynthError> {
    if !(0.0..=1.0).contains(&share) {
        return Err(SynthError::InvalidConfig(format!(
            "the imaging share must lie in 0..=1, not {share}"
        )));
    }
    let truth_dir = out_dir.join("ground-truth");
    std::fs::create_dir_all(&truth_dir).map_err(io_error(&truth_dir))?;
    let csv_path = truth_dir.join("imaging.csv");
    let mut csv = std::fs::File::create(&csv_path).map_err(io_error(&csv_path))?;
    writeln!(
        csv,
        "person_id,site,body_part,study_date,days_after_diagnosis"
    )
    .map_err(io_error(&csv_path))?;
    let mut summary = ImagingSummary::default();
    for index in 0..config.persons {
        let mut rng = aux_rng(config.seed, STREAM + index);
        if rng.random::<f64>() >= share {
            continue;
        }
        let p = person(config, index);
        let Some(record) = p.sites.first() else {
            continue;
        };
        let days: i64 = rng.random_range(3..=180);
        let date = p.truth.diagnosis_date + chrono::Days::new(days as u64);
        let part = body_part(p.truth.entity);
        let dir = out_dir
            .join(record.site.as_str())
            .join("imaging")
            .join(&record.local_id);
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let root = format!(
            "2.25.{}",
            (u128::from(config.seed) << 40) + u128::from(index) + 1
        );
        for slice in 0..SLICES {
            let path = dir.join(format!("ct-{slice}.dcm"));
            study_object(record, &root, slice, date, part)
                .write_to_file(&path)
                .map_err(|e| SynthError::Io {
                    path: path.clone(),
                    source: std::io::Error::other(error_chain(&e)),
                })?;
            summary.objects += 1;
        }
        summary.studies += 1;
        *summary
            .studies_per_site
            .entry(record.site.to_string())
            .or_default() += 1;
        if part == "CHEST" && days <= 90 {
            summary.chest_ct_within_90_days += 1;
        }
        writeln!(csv, "{},{},{part},{date},{days}", p.person_id, record.site)
            .map_err(io_error(&csv_path))?;
    }
    Ok(summary)
}

/// An error and its causes, `: `-separated (dicom-object's top error alone
/// says only "Could not print data set").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// One slice of a person's staging CT, identified as the site's modality writes it.
fn study_object(
    record: &crate::SiteRecord,
    root: &str,
    slice: u16,
    date: chrono::NaiveDate,
    part: &str,
) -> dicom_object::FileDicomObject<InMemDicomObject> {
    let idat = &record.identity;
    let name = format!(
        "{}^{}",
        idat.family.as_deref().unwrap_or(""),
        idat.given.join(" ")
    );
    let sex = match idat.sex {
        oncofed_model::Sex::Female => "F",
        oncofed_model::Sex::Male => "M",
        _ => "O",
    };
    let birth = idat
        .birth_date
        .map(|d| d.format("%Y%m%d").to_string())
        .unwrap_or_default();
    let instance = format!("{root}.{}", slice + 3);
    let text = |tag: Tag, vr: VR, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let mut ds = InMemDicomObject::from_element_iter([
        // Names with umlauts and beyond: UTF-8.
        text(Tag(0x0008, 0x0005), VR::CS, "ISO_IR 192"),
        text(Tag(0x0008, 0x0016), VR::UI, CT_IMAGE_STORAGE),
        text(Tag(0x0008, 0x0018), VR::UI, &instance),
        text(
            Tag(0x0008, 0x0020),
            VR::DA,
            &date.format("%Y%m%d").to_string(),
        ),
        text(Tag(0x0008, 0x0060), VR::CS, "CT"),
        text(Tag(0x0008, 0x0070), VR::LO, "OncoFed Synthetic"),
        text(Tag(0x0008, 0x0080), VR::LO, "Synthetic Hospital"),
        text(Tag(0x0008, 0x1030), VR::LO, "Staging CT"),
        text(Tag(0x0010, 0x0010), VR::PN, &name),
        text(Tag(0x0010, 0x0020), VR::LO, &record.local_id),
        text(Tag(0x0010, 0x0030), VR::DA, &birth),
        text(Tag(0x0010, 0x0040), VR::CS, sex),
        text(Tag(0x0018, 0x0015), VR::CS, part),
        text(Tag(0x0018, 0x0050), VR::DS, "5"),
        text(Tag(0x0020, 0x000D), VR::UI, &format!("{root}.1")),
        text(Tag(0x0020, 0x000E), VR::UI, &format!("{root}.2")),
        text(Tag(0x0020, 0x0013), VR::IS, &(slice + 1).to_string()),
        text(Tag(0x0028, 0x0004), VR::CS, "MONOCHROME2"),
    ]);
    for (element, value) in [
        (0x0002, 1u16),
        (0x0010, 16),
        (0x0011, 16),
        (0x0100, 16),
        (0x0101, 12),
        (0x0102, 11),
        (0x0103, 0),
    ] {
        ds.put(DataElement::new(
            Tag(0x0028, element),
            VR::US,
            PrimitiveValue::from(value),
        ));
    }
    let pixels: Vec<u16> = (0..256u16)
        .map(|i| (i * 16 + slice * 100) & 0x0FFF)
        .collect();
    ds.put(DataElement::new(
        Tag(0x7FE0, 0x0010),
        VR::OW,
        PrimitiveValue::U16(pixels.into()),
    ));
    ds.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(EXPLICIT_LE)
            .media_storage_sop_class_uid(CT_IMAGE_STORAGE)
            .media_storage_sop_instance_uid(&instance),
    )
    .expect("the meta group has every required field")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn studies_are_written_readable_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let config = SynthConfig {
            persons: 300,
            sites: 2,
            ..SynthConfig::default()
        };
        let summary = write_imaging(&config, dir.path(), 0.5).unwrap();
        assert!(summary.studies > 10, "{summary:?}");
        assert_eq!(summary.objects, summary.studies * u64::from(SLICES));
        let csv = std::fs::read_to_string(dir.path().join("ground-truth/imaging.csv")).unwrap();
        assert_eq!(csv.lines().count() as u64, summary.studies + 1);
        // Every object reads back with the site's identity in its header.
        let site1 = dir.path().join("site-1/imaging");
        let patient = std::fs::read_dir(&site1)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let object = dicom_object::open_file(patient.join("ct-0.dcm")).unwrap();
        let id = object
            .element(Tag(0x0010, 0x0020))
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(id.trim(), patient.file_name().unwrap().to_str().unwrap());
        // Names beyond ASCII (umlauts) are among them and were written: the
        // character set is declared (without it dicom-rs refused to encode).
        let mut non_ascii = 0;
        for site in ["site-1", "site-2"] {
            for patient in std::fs::read_dir(dir.path().join(site).join("imaging")).unwrap() {
                let object =
                    dicom_object::open_file(patient.unwrap().path().join("ct-0.dcm")).unwrap();
                let name = object
                    .element(Tag(0x0010, 0x0010))
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .into_owned();
                non_ascii += usize::from(!name.is_ascii());
            }
        }
        assert!(non_ascii > 0, "no non-ASCII name among the studies");
        // The same configuration writes the same studies.
        let again = tempfile::tempdir().unwrap();
        assert_eq!(write_imaging(&config, again.path(), 0.5).unwrap(), summary);
    }
}
