//! Writing the per-site genomics batches and their truth (see the module
//! docs of [`crate::genomics`] for the layout).

use super::GenomicsConfig;
use super::panel::{PanelSite, background_panel, person_background_genotypes, person_genome_seed};
use super::reference::{
    GRCH38_CONTIGS, Hotspot, KnownVariant, contig_rank, flt3_itd, flt3_itd_starts,
};
use super::reference::{synthetic_alt, synthetic_base};
use super::vcf::{self, GenomicsSiteStyle};
use crate::draw::{SynthRng, aux_rng, mix64};
use crate::entities::{Entity, Marker};
use crate::output::OutFile;
use crate::person::Person;
use crate::record::SiteRecord;
use crate::{SynthConfig, SynthError, io_error, site_number};
use chrono::NaiveDate;
use rand::Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Header of `site-<k>/genomics/samples.csv`.
pub const SAMPLES_HEADER: &str =
    "file,sample,patient_id,family,given,birth_date,sex,collected,origin";
/// Header of `ground-truth/genomics.csv`.
pub const GENOMICS_TRUTH_HEADER: &str =
    "person_id,site,file,sample,gene,hgvs_p,origin,chrom,pos,ref,alt";
/// Header of `ground-truth/background-panel.tsv`.
pub const PANEL_TRUTH_HEADER: &str = "chrom\tpos\tref\talt\tpopulation_af";

/// Stream offset of the per-person sequencing decisions.
const STREAM: u64 = 0x6E00_0000_0000_0000;
/// Stream offset of the per-file read counts of germline calls.
const FILE_STREAM: u64 = 0x6E01_0000_0000_0000;

/// What the genomics writer wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GenomicsSummary {
    /// Persons sequenced.
    pub persons_sequenced: u64,
    /// Tumour/normal VCFs.
    pub somatic_files: u64,
    /// Germline VCFs.
    pub germline_files: u64,
    /// Rows of all `samples.csv` (sample columns).
    pub samples: u64,
    /// Marker hotspot calls in somatic files.
    pub marker_calls: u64,
    /// Passenger calls in somatic files.
    pub passenger_calls: u64,
    /// Pathogenic BRCA1/2 calls in germline files.
    pub brca_calls: u64,
    /// Background genotype records in germline files.
    pub background_calls: u64,
    /// VCF files per site id.
    pub files_per_site: BTreeMap<String, u64>,
    /// The style of each site's pipeline.
    pub site_styles: BTreeMap<String, GenomicsSiteStyle>,
    /// Sites of the background panel.
    pub panel_sites: u64,
    /// Files written, relative to the output directory (not serialised: the
    /// manifest and [`crate::SynthSummary::files_written`] list them already).
    #[serde(skip_serializing)]
    pub files: Vec<String>,
}

impl GenomicsSummary {
    /// Records written in all VCFs.
    pub fn calls(&self) -> u64 {
        self.marker_calls + self.passenger_calls + self.brca_calls + self.background_calls
    }
}

/// A CSV field, quoted when it holds a separator, quote or line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

struct SiteOut {
    dir: PathBuf,
    rel: String,
    style: GenomicsSiteStyle,
    samples: OutFile,
}

/// Streams one person at a time into the per-site batches.
pub(crate) struct GenomicsWriter {
    seed: u64,
    cfg: GenomicsConfig,
    panel: Vec<PanelSite>,
    sites: Vec<SiteOut>,
    truth: OutFile,
    id_key: u64,
    summary: GenomicsSummary,
}

/// One record of a somatic file before rendering.
struct Call {
    rank: usize,
    chrom: &'static str,
    pos: u32,
    reference: String,
    alternate: String,
    csq: String,
    marker: Option<KnownVariant>,
}

impl GenomicsWriter {
    /// Creates the folders, `samples.csv` headers and the truth files.
    pub(crate) fn new(
        config: &SynthConfig,
        cfg: &GenomicsConfig,
        out_dir: &Path,
    ) -> Result<Self, SynthError> {
        cfg.validate()?;
        let truth_dir = out_dir.join("ground-truth");
        std::fs::create_dir_all(&truth_dir).map_err(io_error(&truth_dir))?;
        let mut summary = GenomicsSummary::default();
        let mut sites = Vec::new();
        for k in 1..=config.sites {
            let site = SynthConfig::site_id(k);
            let rel = format!("{site}/genomics");
            let dir = out_dir.join(&rel);
            std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
            let mut samples = OutFile::create(dir.join("samples.csv"))?;
            samples.write(format!("{SAMPLES_HEADER}\n").as_bytes())?;
            let style = GenomicsSiteStyle::for_site(config.seed, k);
            summary.site_styles.insert(site.to_string(), style);
            summary.files_per_site.insert(site.to_string(), 0);
            sites.push(SiteOut {
                dir,
                rel,
                style,
                samples,
            });
        }
        let panel = background_panel(config.seed, cfg.panel_size);
        let mut tsv = OutFile::create(truth_dir.join("background-panel.tsv"))?;
        let mut text = String::with_capacity(32 * panel.len() + 64);
        text.push_str(PANEL_TRUTH_HEADER);
        text.push('\n');
        for s in &panel {
            text.push_str(&format!(
                "{}\t{}\t{}\t{}\t{:.8}\n",
                s.chrom, s.pos, s.reference, s.alternate, s.population_af
            ));
        }
        tsv.write(text.as_bytes())?;
        tsv.finish()?;
        let mut truth = OutFile::create(truth_dir.join("genomics.csv"))?;
        truth.write(format!("{GENOMICS_TRUTH_HEADER}\n").as_bytes())?;
        summary.panel_sites = panel.len() as u64;
        Ok(Self {
            seed: config.seed,
            cfg: cfg.clone(),
            panel,
            sites,
            truth,
            id_key: mix64(config.seed ^ 0x5A3F_1E00_0000_0000),
            summary,
        })
    }

    /// A lab sample id: a bijection of (person, site, kind) under the seed.
    fn sample_id(&self, prefix: char, index: u64, k: u32, kind: u64) -> String {
        let x = (index << 12) | (u64::from(k) << 2) | kind;
        format!("{prefix}-{:016X}", mix64(x ^ self.id_key))
    }

    /// Writes `p`'s sequencing output, if the person is sequenced.
    pub(crate) fn write_person(&mut self, p: &Person) -> Result<(), SynthError> {
        let mut rng = aux_rng(self.seed, STREAM + p.index);
        // Fixed draw order, whatever applies.
        let sequenced = rng.random::<f64>() < self.cfg.share;
        let brca_u: f64 = rng.random();
        let brca2_u: f64 = rng.random();
        let extra_germline: Vec<bool> = (1..p.sites.len())
            .map(|_| rng.random::<f64>() < self.cfg.second_site_germline)
            .collect();
        if !sequenced {
            return Ok(());
        }
        self.summary.persons_sequenced += 1;
        self.write_somatic(p, &mut rng)?;
        let brca = (p.truth.entity == Entity::Breast && brca_u < self.cfg.brca_rate).then(|| {
            if brca2_u < 0.4 {
                Hotspot::Brca2Del6174
            } else {
                Hotspot::Brca1Del185
            }
            .variant()
        });
        let genotypes =
            person_background_genotypes(&self.panel, person_genome_seed(self.seed, p.index));
        for (slot, rec) in p.sites.iter().enumerate() {
            if slot == 0 || extra_germline[slot - 1] {
                self.write_germline(p, rec, slot, &mut rng, brca.as_ref(), &genotypes)?;
            }
        }
        Ok(())
    }

    fn write_somatic(&mut self, p: &Person, rng: &mut SynthRng) -> Result<(), SynthError> {
        let rec = &p.sites[0];
        let k = site_number(rec) as u32;
        let tumor = self.sample_id('T', p.index, k, 0);
        let normal = self.sample_id('N', p.index, k, 1);
        let collected = clamp_to(
            rec,
            p.truth.diagnosis_date + chrono::Days::new(rng.random_range(0..=21)),
        );
        let mut calls: Vec<Call> = Vec::new();
        for &(marker, present) in &p.truth.markers {
            if !present {
                continue;
            }
            if let Some(v) = marker_variant(rng, marker, p.truth.entity) {
                calls.push(Call {
                    rank: contig_rank(v.chrom),
                    chrom: v.chrom,
                    pos: v.pos,
                    reference: v.reference.clone(),
                    alternate: v.alternate.clone(),
                    csq: vcf::csq_known(&v),
                    marker: Some(v),
                });
            }
        }
        let target = calls.len() + rng.random_range(2..=6);
        while calls.len() < target {
            let (chrom, pos) = random_autosome_position(rng);
            if calls
                .iter()
                .any(|c| c.chrom == chrom && c.pos.abs_diff(pos) < 1_000)
                || near_hotspot(chrom, pos)
            {
                continue;
            }
            let reference = synthetic_base(chrom, pos);
            let alternate = synthetic_alt(reference, rng.random()).to_string();
            calls.push(Call {
                rank: contig_rank(chrom),
                chrom,
                pos,
                reference: reference.to_string(),
                csq: vcf::csq_intergenic(&alternate),
                alternate,
                marker: None,
            });
        }
        calls.sort_by_key(|c| (c.rank, c.pos));

        let site = &self.sites[k as usize - 1];
        let style = site.style;
        let file = format!("{tumor}_vs_{normal}.somatic.vcf");
        let mut text = vcf::somatic_header(&style, &tumor, &normal);
        let mut truth_rows = String::new();
        for c in &calls {
            let t_dp: u32 = rng.random_range(80..=600);
            let vaf: f64 = rng.random_range(0.05..0.6);
            let t_alt = ((vaf * f64::from(t_dp)).round() as u32).clamp(3, t_dp);
            let n_dp: u32 = rng.random_range(60..=300);
            let n_alt = u32::from(rng.random::<f64>() < 0.05);
            let t_af = f64::from(t_alt) / f64::from(t_dp);
            let n_af = f64::from(n_alt) / f64::from(n_dp);
            let tlod = f64::from(t_alt) * (t_af / 0.001).log10();
            let chrom = style.contig(c.chrom);
            let mut info = format!("DP={};TLOD={tlod:.2}", t_dp + n_dp);
            if style.vep {
                info.push_str(";CSQ=");
                info.push_str(&c.csq);
            }
            text.push_str(&format!(
                "{chrom}\t{}\t.\t{}\t{}\t.\tPASS\t{info}\tGT:AD:AF:DP\t0/1:{},{t_alt}:{t_af:.3}:{t_dp}\t0/0:{},{n_alt}:{n_af:.3}:{n_dp}\n",
                c.pos, c.reference, c.alternate, t_dp - t_alt, n_dp - n_alt
            ));
            match &c.marker {
                Some(v) => {
                    self.summary.marker_calls += 1;
                    truth_rows.push_str(&truth_row(p, rec, &file, &tumor, v, "somatic", &chrom));
                }
                None => self.summary.passenger_calls += 1,
            }
        }
        self.write_file(k, &file, &text)?;
        self.truth.write(truth_rows.as_bytes())?;
        let site = &mut self.sites[k as usize - 1];
        for sample in [&tumor, &normal] {
            site.samples
                .write(sample_row(&file, sample, rec, collected, "somatic").as_bytes())?;
        }
        self.summary.somatic_files += 1;
        self.summary.samples += 2;
        Ok(())
    }

    fn write_germline(
        &mut self,
        p: &Person,
        rec: &SiteRecord,
        slot: usize,
        rng: &mut SynthRng,
        brca: Option<&KnownVariant>,
        genotypes: &[(usize, u8)],
    ) -> Result<(), SynthError> {
        let k = site_number(rec) as u32;
        let sample = self.sample_id('G', p.index, k, 2);
        let start = if slot == 0 {
            p.truth.diagnosis_date
        } else {
            rec.first_contact
        };
        let collected = clamp_to(rec, start + chrono::Days::new(rng.random_range(0..=30)));
        let style = self.sites[k as usize - 1].style;
        let file = format!("{sample}.germline.vcf");
        let mut file_rng = aux_rng(self.seed, FILE_STREAM + ((p.index << 10) | u64::from(k)));
        let mut text = vcf::germline_header(&style, &sample);
        text.reserve(48 * (genotypes.len() + 1));
        let mut record =
            |text: &mut String, chrom: &str, pos: u32, r: &str, a: &str, copies: u8| {
                let dp: u32 = file_rng.random_range(20..=80);
                let gq: u32 = if copies == 2 {
                    file_rng.random_range(20..=99)
                } else {
                    file_rng.random_range(40..=99)
                };
                let qual = f64::from(dp) * if copies == 2 { 2.9 } else { 1.45 } + 10.0;
                let gt = if copies == 2 { "1/1" } else { "0/1" };
                text.push_str(&format!(
                    "{}\t{pos}\t.\t{r}\t{a}\t{qual:.2}\tPASS\t.\tGT:DP:GQ\t{gt}:{dp}:{gq}\n",
                    style.contig(chrom)
                ));
            };
        // Panel order is contig then position; the BRCA call goes in its place.
        let brca_key = brca.map(|v| (contig_rank(v.chrom), v.pos));
        let mut brca_done = brca.is_none();
        for &(i, copies) in genotypes {
            let s = &self.panel[i];
            let chrom = GRCH38_CONTIGS[usize::from(s.chrom) - 1].0;
            if let (false, Some(v), Some(key)) = (brca_done, brca, brca_key)
                && key < (usize::from(s.chrom) - 1, s.pos)
            {
                record(&mut text, v.chrom, v.pos, &v.reference, &v.alternate, 1);
                brca_done = true;
            }
            record(
                &mut text,
                chrom,
                s.pos,
                &s.reference.to_string(),
                &s.alternate.to_string(),
                copies,
            );
        }
        if let (false, Some(v)) = (brca_done, brca) {
            record(&mut text, v.chrom, v.pos, &v.reference, &v.alternate, 1);
        }
        self.summary.background_calls += genotypes.len() as u64;
        self.write_file(k, &file, &text)?;
        if let Some(v) = brca {
            self.summary.brca_calls += 1;
            let row = truth_row(
                p,
                rec,
                &file,
                &sample,
                v,
                "germline",
                &style.contig(v.chrom),
            );
            self.truth.write(row.as_bytes())?;
        }
        let site = &mut self.sites[k as usize - 1];
        site.samples
            .write(sample_row(&file, &sample, rec, collected, "germline").as_bytes())?;
        self.summary.germline_files += 1;
        self.summary.samples += 1;
        Ok(())
    }

    fn write_file(&mut self, k: u32, file: &str, text: &str) -> Result<(), SynthError> {
        let site = &self.sites[k as usize - 1];
        let mut f = OutFile::create(site.dir.join(file))?;
        f.write(text.as_bytes())?;
        f.finish()?;
        self.summary.files.push(format!("{}/{file}", site.rel));
        *self
            .summary
            .files_per_site
            .entry(SynthConfig::site_id(k).to_string())
            .or_default() += 1;
        Ok(())
    }

    /// Closes all files and returns the summary.
    pub(crate) fn finish(mut self) -> Result<GenomicsSummary, SynthError> {
        for site in self.sites {
            self.summary.files.push(format!("{}/samples.csv", site.rel));
            site.samples.finish()?;
        }
        self.truth.finish()?;
        self.summary
            .files
            .push("ground-truth/genomics.csv".to_owned());
        self.summary
            .files
            .push("ground-truth/background-panel.tsv".to_owned());
        Ok(self.summary)
    }
}

/// `date` within the person's contacts with the site (no sample after death).
fn clamp_to(rec: &SiteRecord, date: NaiveDate) -> NaiveDate {
    date.max(rec.first_contact)
        .min(rec.last_contact.max(rec.first_contact))
}

fn sample_row(
    file: &str,
    sample: &str,
    rec: &SiteRecord,
    collected: NaiveDate,
    origin: &str,
) -> String {
    let idat = &rec.identity;
    format!(
        "{},{sample},{},{},{},{},{},{collected},{origin}\n",
        field(file),
        field(&rec.local_id),
        field(idat.family.as_deref().unwrap_or("")),
        field(&idat.given.join(" ")),
        idat.birth_date.map(|d| d.to_string()).unwrap_or_default(),
        idat.sex.as_fhir(),
    )
}

fn truth_row(
    p: &Person,
    rec: &SiteRecord,
    file: &str,
    sample: &str,
    v: &KnownVariant,
    origin: &str,
    chrom: &str,
) -> String {
    format!(
        "{},{},{},{sample},{},{},{origin},{chrom},{},{},{}\n",
        p.person_id,
        rec.site,
        field(file),
        v.gene.symbol,
        v.hgvs_p,
        v.pos,
        v.reference,
        v.alternate
    )
}

/// The concrete variant behind a present marker; `None` for ERBB2
/// (amplification: a copy-number change, no small-variant record).
fn marker_variant(rng: &mut SynthRng, marker: Marker, entity: Entity) -> Option<KnownVariant> {
    let u: f64 = rng.random();
    let h = match marker {
        Marker::Npm1 => Hotspot::Npm1TypeA,
        Marker::Flt3Itd => {
            let codons = rng.random_range(7..=20);
            let first = rng.random_range(flt3_itd_starts(codons));
            return flt3_itd(first, codons);
        }
        Marker::Tp53 if u < 0.6 => Hotspot::Tp53R175h,
        Marker::Tp53 => Hotspot::Tp53R248q,
        Marker::Egfr if u < 0.45 => Hotspot::EgfrL858r,
        Marker::Egfr => Hotspot::EgfrExon19Del,
        // G12C dominates in (smokers') lung cancer, G12D/V in colorectal.
        Marker::Kras => {
            let (c, d) = if entity == Entity::Nsclc {
                (0.45, 0.65)
            } else {
                (0.15, 0.6)
            };
            if u < c {
                Hotspot::KrasG12c
            } else if u < d {
                Hotspot::KrasG12d
            } else {
                Hotspot::KrasG12v
            }
        }
        Marker::Braf => Hotspot::BrafV600e,
        Marker::Erbb2 => return None,
    };
    Some(h.variant())
}

fn near_hotspot(chrom: &str, pos: u32) -> bool {
    Hotspot::ALL
        .iter()
        .map(|h| h.variant())
        .chain(flt3_itd(584, 7))
        .any(|v| v.chrom == chrom && v.pos.abs_diff(pos) < 1_000)
}

/// A uniform position on the autosomes (by length), away from contig ends.
fn random_autosome_position(rng: &mut SynthRng) -> (&'static str, u32) {
    let total: u64 = GRCH38_CONTIGS[..22]
        .iter()
        .map(|(_, l)| u64::from(*l))
        .sum();
    let mut x = rng.random_range(0..total);
    for (name, len) in &GRCH38_CONTIGS[..22] {
        if x < u64::from(*len) {
            let pos = (x as u32).clamp(100_000, len - 100_000);
            return (name, pos);
        }
        x -= u64::from(*len);
    }
    ("1", 1_000_000)
}

/// Writes sequencing output for the persons of `config` into
/// `out_dir/site-<k>/genomics/` with the truth in `out_dir/ground-truth/`,
/// as [`crate::generate`] does when [`SynthConfig::genomics`] is set; for an
/// existing cohort directory (like [`crate::write_cells`]). Same arguments, same bytes.
pub fn write_genomics(
    config: &SynthConfig,
    genomics: &GenomicsConfig,
    out_dir: &Path,
) -> Result<GenomicsSummary, SynthError> {
    config.validate()?;
    let mut w = GenomicsWriter::new(config, genomics, out_dir)?;
    for index in 0..config.persons {
        w.write_person(&crate::person(config, index))?;
    }
    w.finish()
}
