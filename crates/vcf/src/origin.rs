//! Germline or somatic: which sample columns are tumours, and what a call
//! from each is (the precedence is documented at the crate root).

use crate::header::Header;
use crate::{Origin, SampleRole};

/// How a file's calls get their origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A tumour/normal (or tumour-only, declared) file: tumour columns give
    /// somatic calls; with a germline declaration, an allele the normal also
    /// carries is germline.
    Tumour,
    /// A germline call set (declared): every column gives germline calls,
    /// except records flagged INFO/SOMATIC.
    Germline,
    /// Nothing declared, INFO/SOMATIC defined: flagged records are somatic,
    /// unflagged ones an error.
    SomaticFlagOnly,
}

fn is_tumour_genome(g: &str) -> bool {
    g.split(';').any(|p| {
        let p = p.trim().to_ascii_lowercase();
        p.starts_with("tumo") || p == "cancer" || p == "somatic" || p == "metastasis"
    })
}

/// Sample roles and the origin mode, or why none can be decided.
pub(crate) fn decide(
    header: &Header,
    declared: Option<Origin>,
) -> Result<(Vec<SampleRole>, Mode), String> {
    let names = &header.samples;
    let index = |n: &str| names.iter().position(|s| s == n);
    let mut roles: Vec<Option<SampleRole>> = vec![None; names.len()];
    // 1. Mutect2's header lines.
    for (name, role, what) in [
        (&header.tumor_sample, SampleRole::Tumor, "##tumor_sample"),
        (&header.normal_sample, SampleRole::Normal, "##normal_sample"),
    ] {
        if let Some(n) = name {
            let i = index(n).ok_or_else(|| format!("{what} names no sample column"))?;
            roles[i] = Some(role);
        }
    }
    // 2. Strelka's fixed column names.
    if roles.iter().all(Option::is_none)
        && let (Some(t), Some(n)) = (index("TUMOR"), index("NORMAL"))
    {
        roles[t] = Some(SampleRole::Tumor);
        roles[n] = Some(SampleRole::Normal);
    }
    // 3. VCF 4.3 ##PEDIGREE (Derived = tumour) and ##SAMPLE Genomes.
    if roles.iter().all(Option::is_none) {
        for (derived, original) in &header.pedigree {
            if let Some(i) = index(derived) {
                roles[i] = Some(SampleRole::Tumor);
            }
            if let Some(i) = index(original) {
                roles[i].get_or_insert(SampleRole::Normal);
            }
        }
        for (id, genomes) in &header.sample_genomes {
            if let Some(i) = index(id) {
                if is_tumour_genome(genomes) {
                    roles[i] = Some(SampleRole::Tumor);
                } else {
                    roles[i].get_or_insert(SampleRole::Normal);
                }
            }
        }
    }
    if roles.contains(&Some(SampleRole::Tumor)) {
        let roles = roles
            .into_iter()
            .map(|r| r.unwrap_or(SampleRole::Normal))
            .collect();
        return Ok((roles, Mode::Tumour));
    }
    match declared {
        Some(Origin::Somatic) => Ok((vec![SampleRole::Tumor; names.len()], Mode::Tumour)),
        Some(Origin::Germline) => Ok((vec![SampleRole::Germline; names.len()], Mode::Germline)),
        None if header.somatic_declared => {
            Ok((vec![SampleRole::Tumor; names.len()], Mode::SomaticFlagOnly))
        }
        None if names.is_empty() => Ok((Vec::new(), Mode::Germline)),
        None => Err(
            "cannot tell germline from somatic calls: no tumour/normal sample in the header \
             (##tumor_sample, TUMOR/NORMAL columns, ##PEDIGREE, ##SAMPLE Genomes) and no \
             INFO/SOMATIC; declare the origin of the file's calls"
                .into(),
        ),
    }
}
