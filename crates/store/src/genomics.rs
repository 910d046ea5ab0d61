//! Rows of the sequencing modality (issue 16): a person's sequencing files
//! (the bytes, Crypt4GH-encrypted to the site key, live in the node's object
//! store) and the variant calls read from them, in the harmonised model's
//! [`GeneticVariant`] form.
//!
//! Keys are digests the node derived under its site secret: a lab's sample id
//! names a person at the lab and never reaches this store. Both backends share
//! the SQL text of this module (placeholders `$n`, rewritten to `?n` for SQLite)
//! and its decoder, so their semantics cannot drift.

use crate::StoreError;
use crate::columns::{self, corrupt};
use chrono::NaiveDate;
use oncofed_model::{
    GeneticVariant, GenomeBuild, Pseudonym, VariantLocus, VariantOrigin, Zygosity,
};
use serde::Serialize;

/// One sequencing file of one person, as the node keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SequenceFileRow {
    /// Content address of the encrypted file in the object store (primary key).
    pub object_key: String,
    /// The person's site pseudonym.
    pub pseudonym: Pseudonym,
    /// The node's keyed digest of the submitted file (idempotency across runs).
    pub file_key: String,
    /// The reference genome.
    pub build: GenomeBuild,
    /// Germline or somatic calls.
    pub origin: VariantOrigin,
    /// Variant calls read from it.
    pub calls: u64,
    /// Size of the encrypted object.
    pub bytes: u64,
    /// When the sample was taken.
    pub collected: Option<NaiveDate>,
    /// Whether the object is the submitted file itself (one person's file) or
    /// the person's columns cut from a multi-person file.
    pub whole: bool,
}

/// One variant call of a person.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantRow {
    /// The node's keyed id of the call (primary key): file, sample, locus.
    pub call_key: String,
    /// The person's site pseudonym.
    pub pseudonym: Pseudonym,
    /// The sequencing file it was read from (a [`SequenceFileRow`]).
    pub object_key: String,
    /// When the sample was taken (the fact's date of origin for consent).
    pub collected: Option<NaiveDate>,
    /// Whether the caller's filters passed.
    pub filter_pass: bool,
    /// The call.
    pub variant: GeneticVariant,
}

/// Which calls a Beacon-style lookup asks for (VCF coordinates: 1-based, inclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariantLookup {
    /// This allele at this position.
    Allele {
        /// Reference genome.
        build: GenomeBuild,
        /// Normalised chromosome (`1`..`22`, `X`, `Y`, `MT`).
        chrom: String,
        /// 1-based position.
        pos: u64,
        /// Reference bases.
        reference: String,
        /// Alternate bases.
        alternate: String,
    },
    /// Any call starting within `start..=end`.
    Range {
        /// Reference genome.
        build: GenomeBuild,
        /// Normalised chromosome.
        chrom: String,
        /// First position (1-based, inclusive).
        start: u64,
        /// Last position (inclusive).
        end: u64,
    },
    /// Any call annotated with this HGNC symbol.
    Gene {
        /// HGNC symbol, e.g. `BRCA1`.
        symbol: String,
    },
}

/// Counts for reports.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct GenomicsStats {
    /// Sequencing files kept.
    pub files: u64,
    /// Their encrypted bytes.
    pub bytes: u64,
    /// Somatic calls.
    pub somatic_calls: u64,
    /// Germline calls.
    pub germline_calls: u64,
    /// Persons with at least one file.
    pub persons: u64,
}

/// Columns of `sequence_file`, in [`SequenceColumns`] order.
pub(crate) const SEQUENCE_COLUMNS: &str =
    "object_key, psn, file_key, build, origin, calls, bytes, collected, whole";
/// Columns of `variant_call`, in [`VariantColumns`] order.
pub(crate) const VARIANT_COLUMNS: &str = "call_key, psn, object_key, collected, filter_pass, origin, \
     build, chrom, pos, ref, alt, gene, hgnc, hgvs_c, hgvs_p, consequence, vaf, depth, zygosity";

/// Upsert of one `sequence_file` row; `$1..$9` in [`SEQUENCE_COLUMNS`] order.
pub(crate) const UPSERT_SEQUENCE: &str = "INSERT INTO sequence_file
     (object_key, psn, file_key, build, origin, calls, bytes, collected, whole)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (object_key) DO UPDATE SET psn = excluded.psn, file_key = excluded.file_key,
       build = excluded.build, origin = excluded.origin, calls = excluded.calls,
       bytes = excluded.bytes, collected = excluded.collected, whole = excluded.whole";
/// Upsert of one `variant_call` row; `$1..$19` in [`VARIANT_COLUMNS`] order.
pub(crate) const UPSERT_VARIANT: &str = "INSERT INTO variant_call
     (call_key, psn, object_key, collected, filter_pass, origin, build, chrom, pos, ref, alt,
      gene, hgnc, hgvs_c, hgvs_p, consequence, vaf, depth, zygosity)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
     ON CONFLICT (call_key) DO UPDATE SET psn = excluded.psn, object_key = excluded.object_key,
       collected = excluded.collected, filter_pass = excluded.filter_pass,
       origin = excluded.origin, build = excluded.build, chrom = excluded.chrom,
       pos = excluded.pos, ref = excluded.ref, alt = excluded.alt, gene = excluded.gene,
       hgnc = excluded.hgnc, hgvs_c = excluded.hgvs_c, hgvs_p = excluded.hgvs_p,
       consequence = excluded.consequence, vaf = excluded.vaf, depth = excluded.depth,
       zygosity = excluded.zygosity";

/// A bound value of this module's statements.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// TEXT (or NULL).
    Text(Option<String>),
    /// BIGINT (or NULL).
    Int(Option<i64>),
    /// DOUBLE PRECISION (or NULL).
    Real(Option<f64>),
}

fn text(s: impl Into<String>) -> Value {
    Value::Text(Some(s.into()))
}

fn opt_text(s: Option<&str>) -> Value {
    Value::Text(s.map(str::to_owned))
}

fn int(n: u64) -> Value {
    Value::Int(Some(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// The values of [`UPSERT_SEQUENCE`].
pub(crate) fn sequence_values(r: &SequenceFileRow) -> Vec<Value> {
    vec![
        text(&r.object_key),
        text(r.pseudonym.as_str()),
        text(&r.file_key),
        text(r.build.as_str()),
        text(r.origin.as_str()),
        int(r.calls),
        int(r.bytes),
        Value::Text(r.collected.map(columns::date_text)),
        Value::Int(Some(i64::from(r.whole))),
    ]
}

/// The values of [`UPSERT_VARIANT`].
pub(crate) fn variant_values(r: &VariantRow) -> Vec<Value> {
    let v = &r.variant;
    let l = v.locus.as_ref();
    vec![
        text(&r.call_key),
        text(r.pseudonym.as_str()),
        text(&r.object_key),
        Value::Text(r.collected.map(columns::date_text)),
        Value::Int(Some(i64::from(r.filter_pass))),
        text(v.origin.as_str()),
        opt_text(l.map(|l| l.build.as_str())),
        opt_text(l.map(|l| l.chrom.as_str())),
        Value::Int(l.map(|l| i64::try_from(l.pos).unwrap_or(i64::MAX))),
        opt_text(l.map(|l| l.reference.as_str())),
        opt_text(l.map(|l| l.alternate.as_str())),
        opt_text(v.gene.as_deref()),
        opt_text(v.hgnc.as_deref()),
        opt_text(v.hgvs_c.as_deref()),
        opt_text(v.hgvs_p.as_deref()),
        opt_text(v.consequence.as_deref()),
        Value::Real(v.vaf),
        Value::Int(v.depth.map(i64::from)),
        opt_text(v.zygosity.map(Zygosity::as_str)),
    ]
}

/// The statement and values that select the calls of a lookup, in
/// (psn, call_key) order.
pub(crate) fn lookup_query(lookup: &VariantLookup) -> (String, Vec<Value>) {
    let head = format!("SELECT {VARIANT_COLUMNS} FROM variant_call WHERE ");
    match lookup {
        VariantLookup::Allele {
            build,
            chrom,
            pos,
            reference,
            alternate,
        } => (
            head + "build = $1 AND chrom = $2 AND pos = $3 AND ref = $4 AND alt = $5 \
                    ORDER BY psn, call_key",
            vec![
                text(build.as_str()),
                text(chrom),
                int(*pos),
                text(reference),
                text(alternate),
            ],
        ),
        VariantLookup::Range {
            build,
            chrom,
            start,
            end,
        } => (
            head + "build = $1 AND chrom = $2 AND pos BETWEEN $3 AND $4 ORDER BY psn, call_key",
            vec![text(build.as_str()), text(chrom), int(*start), int(*end)],
        ),
        VariantLookup::Gene { symbol } => (
            head + "gene = $1 ORDER BY psn, call_key",
            vec![text(symbol)],
        ),
    }
}

/// The statement selecting the calls of some persons: `$1` is bound per person.
pub(crate) fn calls_of_query() -> String {
    format!("SELECT {VARIANT_COLUMNS} FROM variant_call WHERE psn = $1 ORDER BY call_key")
}

/// The statement selecting the sequencing files of one person (`$1`).
pub(crate) fn files_of_query() -> String {
    format!("SELECT {SEQUENCE_COLUMNS} FROM sequence_file WHERE psn = $1 ORDER BY object_key")
}

/// The statement counting for [`GenomicsStats`]: one row of five numbers.
pub(crate) const STATS_QUERY: &str = "SELECT
     (SELECT COUNT(*) FROM sequence_file),
     (SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM sequence_file),
     (SELECT COUNT(*) FROM variant_call WHERE origin = 'somatic'),
     (SELECT COUNT(*) FROM variant_call WHERE origin = 'germline'),
     (SELECT COUNT(DISTINCT psn) FROM sequence_file)";

/// A `sequence_file` row as read, in [`SEQUENCE_COLUMNS`] order.
pub(crate) struct SequenceColumns {
    pub object_key: String,
    pub psn: String,
    pub file_key: String,
    pub build: String,
    pub origin: String,
    pub calls: i64,
    pub bytes: i64,
    pub collected: Option<String>,
    pub whole: i64,
}

/// A `variant_call` row as read, in [`VARIANT_COLUMNS`] order.
pub(crate) struct VariantColumns {
    pub call_key: String,
    pub psn: String,
    pub object_key: String,
    pub collected: Option<String>,
    pub filter_pass: i64,
    pub origin: String,
    pub build: Option<String>,
    pub chrom: Option<String>,
    pub pos: Option<i64>,
    pub reference: Option<String>,
    pub alternate: Option<String>,
    pub gene: Option<String>,
    pub hgnc: Option<String>,
    pub hgvs_c: Option<String>,
    pub hgvs_p: Option<String>,
    pub consequence: Option<String>,
    pub vaf: Option<f64>,
    pub depth: Option<i64>,
    pub zygosity: Option<String>,
}

fn date(column: &'static str, text: Option<String>) -> Result<Option<NaiveDate>, StoreError> {
    text.map(|t| {
        NaiveDate::parse_from_str(&t, "%Y-%m-%d").map_err(|e| corrupt(column, e.to_string()))
    })
    .transpose()
}

fn origin(text: &str) -> Result<VariantOrigin, StoreError> {
    text.parse().map_err(|e: String| corrupt("origin", e))
}

fn build(text: &str) -> Result<GenomeBuild, StoreError> {
    text.parse().map_err(|e: String| corrupt("build", e))
}

/// Decodes a `sequence_file` row.
pub(crate) fn decode_sequence(row: SequenceColumns) -> Result<SequenceFileRow, StoreError> {
    Ok(SequenceFileRow {
        pseudonym: columns::pseudonym("psn", &row.psn)?,
        object_key: row.object_key,
        file_key: row.file_key,
        build: build(&row.build)?,
        origin: origin(&row.origin)?,
        calls: columns::count(row.calls),
        bytes: columns::count(row.bytes),
        collected: date("collected", row.collected)?,
        whole: row.whole != 0,
    })
}

/// Decodes a `variant_call` row.
pub(crate) fn decode_variant(row: VariantColumns) -> Result<VariantRow, StoreError> {
    let locus = match (row.build, row.chrom, row.pos, row.reference, row.alternate) {
        (Some(b), Some(chrom), Some(pos), Some(reference), Some(alternate)) => Some(VariantLocus {
            build: build(&b)?,
            chrom,
            pos: u64::try_from(pos).map_err(|_| corrupt("pos", "negative"))?,
            reference,
            alternate,
        }),
        (None, None, None, None, None) => None,
        _ => return Err(corrupt("pos", "a locus with some of its columns NULL")),
    };
    let zygosity = row
        .zygosity
        .map(|z| Zygosity::from_name(&z).ok_or_else(|| corrupt("zygosity", z)))
        .transpose()?;
    let depth = row
        .depth
        .map(|d| u32::try_from(d).map_err(|_| corrupt("depth", d.to_string())))
        .transpose()?;
    Ok(VariantRow {
        pseudonym: columns::pseudonym("psn", &row.psn)?,
        call_key: row.call_key,
        object_key: row.object_key,
        collected: date("collected", row.collected)?,
        filter_pass: row.filter_pass != 0,
        variant: GeneticVariant {
            gene: row.gene,
            hgnc: row.hgnc,
            hgvs_c: row.hgvs_c,
            hgvs_p: row.hgvs_p,
            consequence: row.consequence,
            origin: origin(&row.origin)?,
            vaf: row.vaf,
            depth,
            zygosity,
            locus,
        },
    })
}

/// `$n` placeholders as SQLite's `?n`.
pub(crate) fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}
