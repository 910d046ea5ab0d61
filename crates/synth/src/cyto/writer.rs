//! Smear batches on disk: what each site's haematology lab exports, in the
//! shared cell-batch format, with the truth kept apart.
//!
//! For about `share` of the persons whose diagnosis makes a smear plausible
//! (all haematological entities; a solid tumour only rarely, for staging or
//! cytopenia), one or two smears are written: the first at the primary site
//! around diagnosis, a second (35 %) at the person's second site if there is
//! one, otherwise at the same site, 25–200 days later (in AML usually a
//! remission marrow with few blasts). Per site `k`:
//! - `site-<k>/cells/smears.csv`: `smear_id,patient_id,family,given,birth_date,sex,specimen,stain,scanner,magnification,collected`,
//!   identified as the site knows the patient (its local id and its copy of
//!   the identifying data, like the site's FHIR and DICOM data);
//! - `site-<k>/cells/cells.csv`: `smear_id,cell_id,file,label` with an empty
//!   label (the lab has not classified the cells: that is the experts' job);
//! - `site-<k>/cells/<smear_id>/<cell_id>.png`: the 64×64 cell images;
//! - `ground-truth/cells-site-<k>.csv`: `smear_id,cell_id,true_label,person_id,entity`.

use super::mix::ClassMix;
use super::style::SiteStyle;
use crate::draw::{aux_rng, mix64};
use crate::{Entity, SynthConfig, SynthError, io_error, person, site_number};
use oncofed_model::{CellClass, Specimen};
use rand::Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Stream offset of the per-person smear decisions.
const STREAM: u64 = 0xCE11_0000_0000;
/// Stream offset of the per-smear cell drawing.
const CELL_STREAM: u64 = 0xCE12_0000_0000;
/// Largest number of cells per smear.
pub const MAX_CELLS_PER_SMEAR: usize = 10_000;
/// Header of `smears.csv` (shared cell-batch format).
pub const SMEARS_HEADER: &str = "smear_id,patient_id,family,given,birth_date,sex,specimen,stain,scanner,magnification,collected";
/// Header of `cells.csv` (shared cell-batch format).
pub const CELLS_HEADER: &str = "smear_id,cell_id,file,label";
/// Header of `ground-truth/cells-<site>.csv`.
pub const TRUTH_HEADER: &str = "smear_id,cell_id,true_label,person_id,entity";

/// What [`write_cells`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CellsSummary {
    /// Smears written.
    pub smears: u64,
    /// Cell images written.
    pub cells: u64,
    /// Smears per site id.
    pub smears_per_site: BTreeMap<String, u64>,
    /// Cells per true class code.
    pub cells_per_class: BTreeMap<String, u64>,
    /// Mean blast percentage of the smears, per entity (`aml`, `cll`, …).
    pub blast_percent_by_entity: BTreeMap<String, f64>,
    /// The staining and scanner style of each site.
    pub site_styles: BTreeMap<String, SiteStyle>,
}

/// A CSV field, quoted when it holds a separator, quote or line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// One site's open batch files.
struct SiteBatch {
    dir: PathBuf,
    smears_path: PathBuf,
    smears: BufWriter<std::fs::File>,
    cells_path: PathBuf,
    cells: BufWriter<std::fs::File>,
    truth_path: PathBuf,
    truth: BufWriter<std::fs::File>,
    style: SiteStyle,
}

/// Creates `path` with `header` as its first line.
fn create_csv(path: &Path, header: &str) -> Result<BufWriter<std::fs::File>, SynthError> {
    let mut w = BufWriter::new(std::fs::File::create(path).map_err(io_error(path))?);
    writeln!(w, "{header}").map_err(io_error(path))?;
    Ok(w)
}

impl SiteBatch {
    fn create(out_dir: &Path, k: u32, seed: u64) -> Result<Self, SynthError> {
        let site = SynthConfig::site_id(k);
        let dir = out_dir.join(site.as_str()).join("cells");
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let smears_path = dir.join("smears.csv");
        let cells_path = dir.join("cells.csv");
        let truth_path = out_dir
            .join("ground-truth")
            .join(format!("cells-{site}.csv"));
        Ok(Self {
            smears: create_csv(&smears_path, SMEARS_HEADER)?,
            cells: create_csv(&cells_path, CELLS_HEADER)?,
            truth: create_csv(&truth_path, TRUTH_HEADER)?,
            dir,
            smears_path,
            cells_path,
            truth_path,
            style: SiteStyle::for_site(k as usize - 1, seed),
        })
    }

    fn finish(mut self) -> Result<(), SynthError> {
        self.smears.flush().map_err(io_error(&self.smears_path))?;
        self.cells.flush().map_err(io_error(&self.cells_path))?;
        self.truth.flush().map_err(io_error(&self.truth_path))
    }
}

/// The specimen of smear `j` of a person with `entity`.
fn specimen<R: Rng + ?Sized>(rng: &mut R, entity: Entity, j: usize) -> Specimen {
    let marrow = match entity {
        Entity::Aml if j == 0 => 0.8,
        Entity::Aml => 0.7,
        Entity::Cll => 0.25,
        Entity::Myeloma => 0.9,
        Entity::Dlbcl => 0.6,
        _ => 0.3,
    };
    if rng.random::<f64>() < marrow {
        Specimen::BoneMarrow
    } else {
        Specimen::PeripheralBlood
    }
}

/// The class mix of smear `j` (0 at diagnosis, 1 at follow-up): the
/// entity's typical mix with the patient's own blast or lymphocyte share.
fn smear_mix<R: Rng + ?Sized>(
    rng: &mut R,
    entity: Entity,
    specimen: Specimen,
    j: usize,
) -> ClassMix {
    let base = ClassMix::for_smear(entity, specimen);
    let marrow = specimen == Specimen::BoneMarrow;
    let mut u = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
    match entity {
        Entity::Aml => {
            // After induction most patients are in remission (< 5 % blasts).
            let remission = j > 0 && u(0.0, 1.0) < 0.6;
            let share = match (remission, marrow) {
                (true, _) => u(0.0, 0.05),
                (false, true) => u(0.2, 0.9),
                (false, false) => u(0.1, 0.6),
            };
            base.with_share(CellClass::Myeloblast, share)
        }
        Entity::Cll if marrow => base.with_share(CellClass::Lymphocyte, u(0.4, 0.8)),
        Entity::Cll => base.with_share(CellClass::Lymphocyte, u(0.7, 0.95)),
        _ => base,
    }
}

/// Writes smears for about `share` of the persons of `config` (those with a
/// haematological diagnosis; solid tumours at a twentieth of that rate),
/// `cells_per_smear` cells each, into `out_dir/site-<k>/cells/`, with the
/// truth in `out_dir/ground-truth/cells-site-<k>.csv`. Same arguments, same bytes.
pub fn write_cells(
    config: &SynthConfig,
    out_dir: &Path,
    share: f64,
    cells_per_smear: usize,
) -> Result<CellsSummary, SynthError> {
    config.validate()?;
    if !(0.0..=1.0).contains(&share) {
        return Err(SynthError::InvalidConfig(format!(
            "the cell-image share must lie in 0..=1, not {share}"
        )));
    }
    if !(1..=MAX_CELLS_PER_SMEAR).contains(&cells_per_smear) {
        return Err(SynthError::InvalidConfig(format!(
            "cells per smear must lie in 1..={MAX_CELLS_PER_SMEAR}, not {cells_per_smear}"
        )));
    }
    let truth_dir = out_dir.join("ground-truth");
    std::fs::create_dir_all(&truth_dir).map_err(io_error(&truth_dir))?;
    let mut sites = (1..=config.sites)
        .map(|k| SiteBatch::create(out_dir, k, config.seed))
        .collect::<Result<Vec<_>, _>>()?;
    let mut summary = CellsSummary::default();
    let mut blasts: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    let id_key = mix64(config.seed ^ 0x5EA5_0000_0000_0000);
    for index in 0..config.persons {
        let mut rng = aux_rng(config.seed, STREAM + index);
        let draw: f64 = rng.random();
        let p = person(config, index);
        let entity = p.truth.entity;
        let rate = if entity.is_solid() {
            share / 20.0
        } else {
            share
        };
        if draw >= rate {
            continue;
        }
        // A person who withdrew has no smears in the lab's export: their samples
        // were destroyed (the biobank's destruction order), and the trust centre
        // would refuse them (issue 18's tombstone).
        if p.truth.withdrawn {
            continue;
        }
        let smears = if rng.random::<f64>() < 0.35 { 2 } else { 1 };
        for j in 0..smears {
            let Some(record) = p.sites.get(j.min(p.sites.len().saturating_sub(1))) else {
                continue;
            };
            let specimen = specimen(&mut rng, entity, j);
            let mix = smear_mix(&mut rng, entity, specimen, j);
            let days = if j == 0 {
                rng.random_range(0..=10)
            } else {
                rng.random_range(25..=200)
            };
            // Within the person's contacts with that site (no smear after death).
            let collected = (p.truth.diagnosis_date + chrono::Days::new(days))
                .max(record.first_contact)
                .min(record.last_contact.max(record.first_contact));
            // A bijection of (person, smear) under the seed: unique, and
            // without the person's index in the clear.
            let smear_id = format!("SM{:016X}", mix64(((index << 1) | j as u64) ^ id_key));
            let site = &mut sites[site_number(record) - 1];
            let idat = &record.identity;
            writeln!(
                site.smears,
                "{smear_id},{},{},{},{},{},{specimen},{},{},{},{collected}",
                field(&record.local_id),
                field(idat.family.as_deref().unwrap_or("")),
                field(&idat.given.join(" ")),
                idat.birth_date.map(|d| d.to_string()).unwrap_or_default(),
                idat.sex.as_fhir(),
                field(&site.style.stain),
                field(&site.style.scanner),
                field(&site.style.magnification),
            )
            .map_err(io_error(&site.smears_path))?;
            let smear_dir = site.dir.join(&smear_id);
            std::fs::create_dir_all(&smear_dir).map_err(io_error(&smear_dir))?;
            let mut cell_rng = aux_rng(config.seed, CELL_STREAM + ((index << 1) | j as u64));
            let mut smear_blasts = 0u64;
            for n in 0..cells_per_smear {
                let class = mix.sample(&mut cell_rng);
                let img = super::draw_cell(class, &site.style, &mut cell_rng);
                let cell_id = format!("{smear_id}-{:03}", n + 1);
                let path = smear_dir.join(format!("{cell_id}.png"));
                img.save_with_format(&path, image::ImageFormat::Png)
                    .map_err(|e| SynthError::Io {
                        path: path.clone(),
                        source: std::io::Error::other(e.to_string()),
                    })?;
                writeln!(site.cells, "{smear_id},{cell_id},{smear_id}/{cell_id}.png,")
                    .map_err(io_error(&site.cells_path))?;
                writeln!(
                    site.truth,
                    "{smear_id},{cell_id},{class},{},{entity}",
                    p.person_id
                )
                .map_err(io_error(&site.truth_path))?;
                *summary
                    .cells_per_class
                    .entry(class.code().to_owned())
                    .or_default() += 1;
                smear_blasts += u64::from(class.is_blast());
            }
            let entry = blasts.entry(entity.as_str().to_owned()).or_default();
            entry.0 += 100.0 * smear_blasts as f64 / cells_per_smear as f64;
            entry.1 += 1;
            summary.smears += 1;
            summary.cells += cells_per_smear as u64;
            *summary
                .smears_per_site
                .entry(record.site.to_string())
                .or_default() += 1;
        }
    }
    for (k, site) in sites.into_iter().enumerate() {
        summary
            .site_styles
            .insert(format!("site-{}", k + 1), site.style.clone());
        site.finish()?;
    }
    summary.blast_percent_by_entity = blasts
        .into_iter()
        .map(|(e, (sum, n))| (e, sum / n.max(1) as f64))
        .collect();
    Ok(summary)
}
