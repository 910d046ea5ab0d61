//! [`VcfReader`]: a header, then one record at a time into [`Call`]s or [`Site`]s.

use std::collections::VecDeque;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::annotation::{self, Annotation, AnnotationSource};
use crate::chrom::{Chrom, GenomeBuild};
use crate::error::{FieldError, VcfError};
use crate::header::Header;
use crate::input::{self, Encoding, Lines};
use crate::origin::{self, Mode};
use crate::record::{self, AltKind, Record};
use crate::{Call, Origin, ReadOptions, SampleColumn, SampleRole, SkipCounts, Variant, Zygosity};

/// One alternate allele of a record, without a person: what sites-only files
/// (annotation sources such as VEP's output) hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// 1-based line (record number in a BCF).
    pub line: u64,
    /// The allele, split from its record and trimmed.
    pub variant: Variant,
    /// Its annotation (CSQ, ANN, else the gene table).
    pub annotation: Option<Annotation>,
}

/// A streaming reader of one VCF/BCF file.
///
/// [`VcfReader::open`] reads the header and decides the build and each sample
/// column's role; [`VcfReader::calls`] and [`VcfReader::sites`] then read one
/// record at a time. An error on one line is yielded and reading continues
/// with the next line (the caller decides whether one bad line voids the
/// file); an I/O error ends the stream.
pub struct VcfReader {
    path: PathBuf,
    opts: ReadOptions,
    encoding: Encoding,
    lines: Lines,
    pub(crate) header: Header,
    build: GenomeBuild,
    samples: Vec<SampleColumn>,
    mode: Mode,
    line_no: u64,
    buf: Vec<u8>,
    skips: SkipCounts,
    calls: VecDeque<Call>,
    sites: VecDeque<Site>,
    done: bool,
}

impl std::fmt::Debug for VcfReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Sample names are the lab's identifiers: not printed.
        f.debug_struct("VcfReader")
            .field("path", &self.path)
            .field("encoding", &self.encoding)
            .field("build", &self.build)
            .field("samples", &self.samples.len())
            .field("line", &self.line_no)
            .finish_non_exhaustive()
    }
}

/// What a record is read for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    Calls,
    Sites,
    Nothing,
}

impl VcfReader {
    /// Opens a VCF (plain, gzip or BGZF) or BCF file, reading its header.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<VcfReader, VcfError> {
        let file = std::fs::File::open(path)
            .map_err(|e| VcfError::file(path, format!("cannot open: {e}")))?;
        Self::from_reader(Box::new(file), path, opts)
    }

    /// Reads a whole file held in memory (`<memory>` names it in errors).
    pub fn from_bytes(bytes: Vec<u8>, opts: &ReadOptions) -> Result<VcfReader, VcfError> {
        Self::from_reader(
            Box::new(std::io::Cursor::new(bytes)),
            Path::new("<memory>"),
            opts,
        )
    }

    /// Reads from any byte stream; `name` stands for it in errors.
    pub fn from_reader(
        read: Box<dyn Read + Send>,
        name: &Path,
        opts: &ReadOptions,
    ) -> Result<VcfReader, VcfError> {
        let path = name.to_path_buf();
        let (encoding, mut lines, bcf_header) = input::open(read)
            .map_err(|e| VcfError::file(&path, format!("cannot read the header: {e}")))?;
        let mut header = Header::default();
        let mut line_no = 0;
        let mut columns = false;
        let mut first = true;
        let mut take = |text: &str, n: u64, first: &mut bool| -> Result<bool, VcfError> {
            if *first {
                *first = false;
                if !text.starts_with("##fileformat=VCFv4") {
                    return Err(VcfError::at(
                        &path,
                        n,
                        "header",
                        "not a VCF 4.x file: the first line must be ##fileformat=VCFv4.x",
                    ));
                }
            }
            if text.starts_with("##") {
                header.push_meta(text);
                Ok(false)
            } else if text.starts_with("#CHROM") {
                header
                    .set_columns(text)
                    .map_err(|m| VcfError::at(&path, n, "header", m))?;
                Ok(true)
            } else {
                Err(VcfError::at(
                    &path,
                    n,
                    "header",
                    "expected a ## meta line or the #CHROM line",
                ))
            }
        };
        if let Some(text) = bcf_header {
            for l in text.lines() {
                if take(l, 0, &mut first)? {
                    columns = true;
                    break;
                }
            }
            line_no = 0;
        } else {
            let mut buf = Vec::new();
            while lines
                .next(&mut buf, opts.max_line_bytes, true)
                .map_err(|e| VcfError::file(&path, format!("cannot read the header: {e}")))?
            {
                line_no += 1;
                let text = std::str::from_utf8(&buf)
                    .map_err(|_| VcfError::at(&path, line_no, "header", "line is not UTF-8"))?;
                if take(text, line_no, &mut first)? {
                    columns = true;
                    break;
                }
            }
        }
        if !columns {
            return Err(VcfError::file(&path, "the header has no #CHROM line"));
        }
        let build = header.build.decide(opts.build).map_err(|m| VcfError {
            file: path.clone(),
            line: None,
            field: Some("header".into()),
            message: m,
        })?;
        let (roles, mode) =
            origin::decide(&header, opts.declared_origin).map_err(|m| VcfError {
                file: path.clone(),
                line: None,
                field: Some("header".into()),
                message: m,
            })?;
        let samples = header
            .samples
            .iter()
            .zip(roles)
            .map(|(name, role)| SampleColumn {
                name: name.clone(),
                role,
            })
            .collect();
        Ok(VcfReader {
            path,
            opts: opts.clone(),
            encoding,
            lines,
            header,
            build,
            samples,
            mode,
            line_no,
            buf: Vec::new(),
            skips: SkipCounts::default(),
            calls: VecDeque::new(),
            sites: VecDeque::new(),
            done: false,
        })
    }

    /// The genome build of the file's coordinates.
    pub fn build(&self) -> GenomeBuild {
        self.build
    }

    /// The sample columns in file order, with their roles.
    pub fn samples(&self) -> &[SampleColumn] {
        &self.samples
    }

    /// The encoding found from the magic bytes.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// What was skipped so far, by reason.
    pub fn skip_counts(&self) -> &SkipCounts {
        &self.skips
    }

    /// The file's name as errors give it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The calls of every record, in file order, one record read at a time.
    pub fn calls(&mut self) -> impl Iterator<Item = Result<Call, VcfError>> + '_ {
        std::iter::from_fn(move || {
            loop {
                if let Some(c) = self.calls.pop_front() {
                    return Some(Ok(c));
                }
                if let Err(e) = self.advance(Want::Calls)? {
                    return Some(Err(e));
                }
            }
        })
    }

    /// The calls of the next record (possibly none); `None` at the end.
    pub fn next_record(&mut self) -> Option<Result<Vec<Call>, VcfError>> {
        match self.advance(Want::Calls)? {
            Ok(()) => Some(Ok(self.calls.drain(..).collect())),
            Err(e) => Some(Err(e)),
        }
    }

    /// Every alternate allele of every record, with its annotation, whether
    /// or not a sample carries it (for sites-only files).
    pub fn sites(&mut self) -> impl Iterator<Item = Result<Site, VcfError>> + '_ {
        std::iter::from_fn(move || {
            loop {
                if let Some(s) = self.sites.pop_front() {
                    return Some(Ok(s));
                }
                if let Err(e) = self.advance(Want::Sites)? {
                    return Some(Err(e));
                }
            }
        })
    }

    /// Reads the next data line and hands its text to `f` (for extracts);
    /// `None` at the end.
    pub(crate) fn next_raw<T>(
        &mut self,
        f: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<Result<T, VcfError>> {
        if let Err(e) = self.advance(Want::Nothing)? {
            return Some(Err(e));
        }
        let text = std::str::from_utf8(&self.buf).unwrap_or("");
        Some(f(text).map_err(|e| e.locate(&self.path, self.line_no)))
    }

    /// Reads one data line and queues what `want` asks for.
    fn advance(&mut self, want: Want) -> Option<Result<(), VcfError>> {
        if self.done {
            return None;
        }
        let mut buf = std::mem::take(&mut self.buf);
        loop {
            match self
                .lines
                .next(&mut buf, self.opts.max_line_bytes, want == Want::Nothing)
            {
                Ok(false) => {
                    self.done = true;
                    self.buf = buf;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    self.line_no += 1;
                    self.buf = buf;
                    return Some(Err(VcfError {
                        file: self.path.clone(),
                        line: Some(self.line_no),
                        field: None,
                        message: format!("cannot read: {e}"),
                    }));
                }
                Ok(true) => {
                    self.line_no += 1;
                    if !buf.is_empty() {
                        break;
                    }
                }
            }
        }
        let result = match std::str::from_utf8(&buf) {
            Err(_) => Err(FieldError::new("line", "not UTF-8")),
            Ok(text) if text.starts_with('#') => Err(FieldError::new(
                "line",
                "a header line after the #CHROM line",
            )),
            // Extracts parse the line themselves (`next_raw`).
            Ok(_) if want == Want::Nothing => Ok(()),
            Ok(text) => self.process(text, want),
        };
        self.buf = buf;
        Some(result.map_err(|e| e.locate(&self.path, self.line_no)))
    }

    fn process(&mut self, text: &str, want: Want) -> Result<(), FieldError> {
        let rec = record::parse_line(text, self.samples.len())?;
        let Some(chrom) = rec.chrom() else {
            self.skips.unknown_contig += 1;
            return Ok(());
        };
        let n_alleles = rec.alts.len() + 1;
        if n_alleles > self.opts.max_alleles {
            self.skips.too_many_alleles += 1;
            return Ok(());
        }
        let filter_pass = matches!(rec.filter, "PASS" | ".");
        if self.opts.pass_only && !filter_pass {
            self.skips.filtered += 1;
            return Ok(());
        }
        let mut kinds = Vec::with_capacity(rec.alts.len());
        for a in &rec.alts {
            let k = record::classify_alt(a)?;
            if k == AltKind::Sequence && a.eq_ignore_ascii_case(rec.reference) {
                return Err(FieldError::new(
                    "ALT",
                    "an alternate allele equals the reference allele",
                ));
            }
            match k {
                AltKind::Sequence => {}
                AltKind::Unobserved => self.skips.reference_block += 1,
                AltKind::Symbolic => self.skips.symbolic += 1,
                AltKind::SpanningDeletion => self.skips.spanning_deletion += 1,
            }
            kinds.push(k);
        }
        if rec.alts.is_empty() {
            self.skips.reference_block += 1;
        }
        let mut annotations: Vec<Option<Option<Annotation>>> = vec![None; rec.alts.len()];
        let line = self.line_no;
        if want == Want::Sites {
            for (i, k) in kinds.iter().enumerate() {
                if *k == AltKind::Sequence {
                    let variant = self.variant(chrom, &rec, i);
                    let annotation = self.annotate(&rec, i, &variant);
                    self.sites.push_back(Site {
                        line,
                        variant,
                        annotation,
                    });
                }
            }
            return Ok(());
        }
        let somatic_flag = rec.info("SOMATIC").is_some();
        if self.mode == Mode::SomaticFlagOnly && !somatic_flag && kinds.contains(&AltKind::Sequence)
        {
            return Err(FieldError::new(
                "INFO/SOMATIC",
                "record not flagged SOMATIC in a file whose origin was not declared; declare it",
            ));
        }
        let gt = rec.format_index("GT");
        // Genotypes of every column (checked, so that a bad GT is found in any column).
        let mut gts: Vec<Option<Vec<Option<usize>>>> = Vec::with_capacity(rec.samples.len());
        for s in 0..rec.samples.len() {
            let g = match gt.and_then(|i| rec.sample_value(s, i)) {
                None => None,
                Some(v) => Some(record::parse_gt(v, n_alleles)?),
            };
            gts.push(g);
        }
        for (s, column) in self.samples.iter().enumerate() {
            if column.role == SampleRole::Normal {
                continue;
            }
            let carried: Vec<usize> = match &gts[s] {
                Some(g) => {
                    let mut c: Vec<usize> =
                        g.iter().flatten().copied().filter(|&a| a > 0).collect();
                    c.sort_unstable();
                    c.dedup();
                    c
                }
                // No GT: a somatic caller's tumour column (Strelka) carries every ALT.
                None if column.role == SampleRole::Tumor => (1..n_alleles).collect(),
                None => {
                    self.skips.no_genotype += 1;
                    continue;
                }
            };
            for a in carried {
                if kinds[a - 1] != AltKind::Sequence {
                    continue;
                }
                let origin = match self.mode {
                    Mode::Germline if !somatic_flag => Origin::Germline,
                    Mode::Tumour
                        if !somatic_flag
                            && self.opts.declared_origin == Some(Origin::Germline)
                            && self.normal_carries(&gts, a) =>
                    {
                        Origin::Germline
                    }
                    _ => Origin::Somatic,
                };
                let zygosity = gts[s].as_deref().and_then(|g| zygosity(g, a));
                let (vaf, depth) = self.vaf_depth(&rec, s, a)?;
                let variant = self.variant(chrom, &rec, a - 1);
                let annotation = match &annotations[a - 1] {
                    Some(x) => x.clone(),
                    None => {
                        let x = self.annotate(&rec, a - 1, &variant);
                        annotations[a - 1] = Some(x.clone());
                        x
                    }
                };
                self.calls.push_back(Call {
                    line,
                    sample: s,
                    origin,
                    variant,
                    zygosity,
                    vaf,
                    depth,
                    filter_pass,
                    annotation,
                });
            }
        }
        Ok(())
    }

    fn normal_carries(&self, gts: &[Option<Vec<Option<usize>>>], allele: usize) -> bool {
        self.samples.iter().zip(gts).any(|(c, g)| {
            c.role == SampleRole::Normal && g.as_ref().is_some_and(|g| g.contains(&Some(allele)))
        })
    }

    fn variant(&self, chrom: Chrom, rec: &Record<'_>, i: usize) -> Variant {
        let (pos, reference, alternate) = record::trim(rec.pos, rec.reference, rec.alts[i]);
        Variant {
            chrom,
            pos,
            reference,
            alternate,
        }
    }

    fn annotate(&self, rec: &Record<'_>, i: usize, variant: &Variant) -> Option<Annotation> {
        if let (Some(format), Some(csq)) = (&self.header.csq_format, rec.info("CSQ")) {
            let allele = annotation::vep_allele(rec.reference, &rec.alts, i);
            if let Some(a) = annotation::from_csq(csq, format, i, &allele, rec.alts[i]) {
                return Some(a);
            }
        }
        if let Some(ann) = rec.info("ANN")
            && let Some(a) = annotation::from_ann(ann, rec.alts[i])
        {
            return Some(a);
        }
        crate::genes::at(self.build, &variant.chrom, variant.pos).map(|g| Annotation {
            gene: Some(g.symbol.to_string()),
            hgvs_c: None,
            hgvs_p: None,
            consequence: Vec::new(),
            impact: None,
            source: AnnotationSource::GeneTable,
        })
    }

    /// VAF and depth of allele `a` (1-based) in sample `s`.
    fn vaf_depth(
        &self,
        rec: &Record<'_>,
        s: usize,
        a: usize,
    ) -> Result<(Option<f64>, Option<u32>), FieldError> {
        let n_alts = rec.alts.len();
        let value = |key: &str| rec.format_index(key).and_then(|i| rec.sample_value(s, i));
        let ad = match value("AD") {
            Some(v) => record::parse_numbers(v, n_alts + 1, "FORMAT/AD", "one per allele")?,
            None => None,
        };
        let depth = match value("DP") {
            Some(".") | Some("") | None => None,
            Some(v) => Some(
                v.parse::<u32>()
                    .map_err(|_| FieldError::new("FORMAT/DP", "depth must be a whole number"))?,
            ),
        };
        let ad_sum = ad
            .as_ref()
            .and_then(|v| v.iter().try_fold(0f64, |acc, x| x.map(|x| acc + x)));
        let depth = depth.or_else(|| ad_sum.map(|s| s.min(u32::MAX as f64) as u32));
        let mut vaf = match value("AF") {
            Some(v) => {
                record::parse_numbers(v, n_alts, "FORMAT/AF", "one per ALT")?.and_then(|v| v[a - 1])
            }
            None => None,
        };
        if vaf.is_some_and(|f| f > 1.0) {
            return Err(FieldError::new("FORMAT/AF", "allele fraction above 1"));
        }
        if vaf.is_none()
            && let (Some(ad), Some(sum)) = (&ad, ad_sum)
        {
            vaf = ad[a].filter(|_| sum > 0.0).map(|x| x / sum);
        }
        if vaf.is_none() {
            vaf = self.strelka_vaf(rec, s, a)?;
        }
        Ok((vaf, depth))
    }

    /// Strelka2's tier-1 counts: `{REF}U`/`{ALT}U` for SNVs, `TAR`/`TIR` for indels.
    fn strelka_vaf(&self, rec: &Record<'_>, s: usize, a: usize) -> Result<Option<f64>, FieldError> {
        let tier1 = |key: &str| -> Result<Option<f64>, FieldError> {
            let Some(v) = rec.format_index(key).and_then(|i| rec.sample_value(s, i)) else {
                return Ok(None);
            };
            Ok(
                record::parse_numbers(v, 2, &format!("FORMAT/{key}"), "tier 1 and tier 2")?
                    .and_then(|v| v[0]),
            )
        };
        let alt = rec.alts[a - 1];
        let (r, x) = if rec.reference.len() == 1 && alt.len() == 1 {
            let key = |b: &str| format!("{}U", b.to_ascii_uppercase());
            (tier1(&key(rec.reference))?, tier1(&key(alt))?)
        } else {
            (tier1("TAR")?, tier1("TIR")?)
        };
        Ok(match (r, x) {
            (Some(r), Some(x)) if r + x > 0.0 => Some(x / (r + x)),
            _ => None,
        })
    }
}

/// Zygosity of allele `a` in a genotype.
fn zygosity(gt: &[Option<usize>], a: usize) -> Option<Zygosity> {
    if gt.len() == 1 {
        return Some(Zygosity::Hemizygous);
    }
    if gt.iter().all(|x| *x == Some(a)) {
        Some(Zygosity::Homozygous)
    } else if gt.iter().any(Option::is_none) {
        None
    } else {
        Some(Zygosity::Heterozygous)
    }
}
