//! The VCF header (VCF 4.3 §1.4): the meta lines this crate acts on, read
//! from the text every encoding yields (a BCF's header is VCF text too).

use crate::chrom::{BuildEvidence, Chrom};

/// What the reader needs from the meta-information lines and the `#CHROM` line.
#[derive(Debug, Default)]
pub(crate) struct Header {
    /// Every `##` line as written, without the line end (for extracts).
    pub meta: Vec<String>,
    /// Sample column names in order.
    pub samples: Vec<String>,
    /// Mutect2 `##tumor_sample=`.
    pub tumor_sample: Option<String>,
    /// Mutect2 `##normal_sample=`.
    pub normal_sample: Option<String>,
    /// VCF 4.3 `##SAMPLE=<ID=..,Genomes=..>`: (ID, Genomes).
    pub sample_genomes: Vec<(String, String)>,
    /// VCF 4.3 `##PEDIGREE=<Derived=..,Original=..>`: (derived, original).
    pub pedigree: Vec<(String, String)>,
    /// VEP's CSQ sub-field names, from the INFO/CSQ Description's `Format: `.
    pub csq_format: Option<Vec<String>>,
    /// Whether INFO/ANN (SnpEff) is declared.
    pub has_ann: bool,
    /// Whether INFO/SOMATIC is declared.
    pub somatic_declared: bool,
    /// Build evidence from `##reference`, `##assembly` and `##contig`.
    pub build: BuildEvidence,
}

/// Splits the inside of `<...>` into key/value pairs, honouring double quotes
/// and backslash escapes inside them.
pub(crate) fn attributes(inner: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut key = String::new();
    let mut value = String::new();
    let mut in_value = false;
    let mut quoted = false;
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some(n) = chars.next() {
                    value.push(n);
                }
            }
            '"' => quoted = !quoted,
            '=' if !in_value && !quoted => in_value = true,
            ',' if !quoted => {
                out.push((std::mem::take(&mut key), std::mem::take(&mut value)));
                in_value = false;
            }
            _ if in_value => value.push(c),
            _ => key.push(c),
        }
    }
    if !key.is_empty() || !value.is_empty() {
        out.push((key, value));
    }
    out
}

fn get<'a>(attrs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

impl Header {
    /// Takes one `##` line (without the line end).
    pub(crate) fn push_meta(&mut self, line: &str) {
        self.meta.push(line.to_string());
        let Some(body) = line.strip_prefix("##") else {
            return;
        };
        let Some((key, value)) = body.split_once('=') else {
            return;
        };
        let structured = value
            .strip_prefix('<')
            .and_then(|v| v.strip_suffix('>'))
            .map(attributes);
        match (key, structured) {
            ("tumor_sample", None) => self.tumor_sample = Some(value.trim().to_string()),
            ("normal_sample", None) => self.normal_sample = Some(value.trim().to_string()),
            ("reference" | "assembly", None) => {
                if let Some(b) = crate::chrom::build_from_name(value) {
                    self.build.named.push(b);
                }
            }
            ("reference" | "assembly", Some(a)) => {
                let id = get(&a, "ID").unwrap_or("");
                let src = get(&a, "Source").unwrap_or("");
                if let Some(b) = crate::chrom::build_from_name(&format!("{id} {src}")) {
                    self.build.named.push(b);
                }
            }
            ("contig", Some(a)) => {
                let id = get(&a, "ID").unwrap_or("");
                if let Some((c, build)) = Chrom::parse_with_build(id) {
                    if let Some(b) = build {
                        self.build.refseq.push(b);
                    }
                    if let Some(len) = get(&a, "length").and_then(|l| l.parse::<u64>().ok()) {
                        self.build.lengths.push((c, len));
                    }
                }
                if let Some(b) = get(&a, "assembly").and_then(crate::chrom::build_from_name) {
                    self.build.named.push(b);
                }
            }
            ("SAMPLE", Some(a)) => {
                if let (Some(id), Some(g)) = (get(&a, "ID"), get(&a, "Genomes")) {
                    self.sample_genomes.push((id.to_string(), g.to_string()));
                }
            }
            ("PEDIGREE", Some(a)) => {
                if let (Some(d), Some(o)) = (get(&a, "Derived"), get(&a, "Original")) {
                    self.pedigree.push((d.to_string(), o.to_string()));
                }
            }
            ("INFO", Some(a)) => match get(&a, "ID") {
                Some("CSQ") => {
                    let desc = get(&a, "Description").unwrap_or("");
                    if let Some(i) = desc.find("Format: ") {
                        let f = desc[i + 8..].trim().trim_end_matches('"');
                        self.csq_format =
                            Some(f.split('|').map(|s| s.trim().to_string()).collect());
                    }
                }
                Some("ANN") => self.has_ann = true,
                Some("SOMATIC") => self.somatic_declared = true,
                _ => {}
            },
            _ => {}
        }
    }

    /// Takes the `#CHROM` line: the sample names after FORMAT.
    pub(crate) fn set_columns(&mut self, line: &str) -> Result<(), String> {
        let cols: Vec<&str> = line.split('\t').collect();
        const FIXED: [&str; 8] = [
            "#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
        ];
        if cols.len() < 8 || cols[..8] != FIXED {
            return Err(
                "the #CHROM line must list CHROM POS ID REF ALT QUAL FILTER INFO, tab-separated"
                    .into(),
            );
        }
        if cols.len() > 8 && cols[8] != "FORMAT" {
            return Err("the ninth column of the #CHROM line must be FORMAT".into());
        }
        self.samples = cols.iter().skip(9).map(|s| s.to_string()).collect();
        let mut seen: Vec<&str> = self.samples.iter().map(String::as_str).collect();
        seen.sort_unstable();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err("two sample columns have the same name".into());
        }
        Ok(())
    }
}
