//! Compiles a feasibility [`Criteria`] tree to one SQL statement over `patient` and
//! `fact`, for either backend ([`Dialect`]): one compiler, so SQLite and PostgreSQL
//! answer a query alike.
//!
//! Shape: `SELECT p.psn, p.research_psn FROM patient p WHERE <expr> ORDER BY p.psn`,
//! where `and`/`or`/`not` become SQL `AND`/`OR`/`NOT` and each leaf becomes either a
//! condition on the patient row (sex, vital status) or an uncorrelated
//! `p.psn IN (SELECT f.psn FROM fact f WHERE f.kind = ? AND ...)` sub-query (age: the
//! same, grouped per patient). SQLite runs each sub-query once through the
//! `fact_kind_code` index and probes its result per patient (PostgreSQL: a hashed
//! sub-plan or semi-join over the same index). One row per patient, so results are
//! distinct.
//!
//! Safety: the SQL text is built only from fixed fragments and column names in this
//! file; every value — codes, units, numbers, dates, and also the fixed kind and
//! system names — is a bound parameter (`?` for SQLite, `$1, $2, …` for PostgreSQL).
//! Prefixes are compared as half-open ranges `col >= ? AND col < ?` (or
//! `substr(col, 1, ?) = ?`), so `%`, `_` and quotes in a code have no special
//! meaning. The ranges are in code-point order: SQLite's binary collation, and the
//! `"C"` collation the PostgreSQL schema declares on every text column.
//!
//! Two-valued logic: every leaf expression is true or false, never NULL (missing
//! data gives false: `IN` over a sub-query of non-NULL ids), so `NOT c` selects
//! exactly the patients `c` does not. The leaf semantics are documented on the
//! criterion types in `oncofed-protocol` and restated at each leaf below.
//!
//! The `imaging` leaf (module `imaging`) is the one sub-query with a correlated
//! part: its series facts are filtered by
//! `EXISTS (SELECT 1 FROM fact d WHERE d.psn = f.psn AND d.kind = ? ... AND
//! <days from d.start_date to f.start_date> BETWEEN ? AND ?)` when it has an
//! `after_diagnosis` window (served by the `fact_kind_psn_start` index).
//!
//! Dialect differences are confined to [`Dialect`]: placeholders, the boolean
//! constants (SQLite: `1`/`0`; PostgreSQL has no integer truth values), the integer
//! type of the age arithmetic (PostgreSQL types a parameter by its context, and the
//! age bounds are 64-bit), the birth year in the age sub-query's `HAVING`
//! (SQLite reads a bare column; PostgreSQL needs it aggregated), and the day
//! difference of two dates (SQLite `julianday(a) - julianday(b)`, PostgreSQL
//! `a::date - b::date`). Each [`Param`] carries the type PostgreSQL infers for
//! its position.

mod cytology;
mod imaging;
mod variant;

use crate::columns;
use chrono::NaiveDate;
use oncofed_criteria::{
    Criteria, DiagnosisCriterion, EcogCriterion, MarkerCriterion, StageCriterion, TnmAxis,
};
use oncofed_model::{CodeSystem, FactKind};

/// The SQL dialect a statement is compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite: `?` placeholders, integers as truth values.
    Sqlite,
    /// PostgreSQL: `$n` placeholders, `TRUE`/`FALSE`.
    Postgres,
}

impl Dialect {
    /// Appends the placeholder of the `n`-th parameter (1-based).
    pub(crate) fn placeholder(self, sql: &mut String, n: usize) {
        match self {
            Self::Sqlite => sql.push('?'),
            Self::Postgres => {
                sql.push('$');
                sql.push_str(&n.to_string());
            }
        }
    }

    fn true_(self) -> &'static str {
        match self {
            Self::Sqlite => "1",
            Self::Postgres => "TRUE",
        }
    }

    fn false_(self) -> &'static str {
        match self {
            Self::Sqlite => "0",
            Self::Postgres => "FALSE",
        }
    }

    /// The 64-bit integer type for `CAST`.
    fn int64(self) -> &'static str {
        match self {
            Self::Sqlite => "INTEGER",
            Self::Postgres => "BIGINT",
        }
    }

    /// Appends the number of days from the date column `earlier` to the date
    /// column `later` (both `YYYY-MM-DD` text, never NULL where used): SQLite's
    /// `julianday` difference (a whole number for dates), PostgreSQL's date
    /// subtraction (an integer). Only column names of this module reach it.
    fn day_difference(self, sql: &mut String, earlier: &str, later: &str) {
        match self {
            Self::Sqlite => {
                sql.push_str("(julianday(");
                sql.push_str(later);
                sql.push_str(") - julianday(");
                sql.push_str(earlier);
                sql.push_str("))");
            }
            Self::Postgres => {
                sql.push_str("(CAST(");
                sql.push_str(later);
                sql.push_str(" AS DATE) - CAST(");
                sql.push_str(earlier);
                sql.push_str(" AS DATE))");
            }
        }
    }

    /// The patient's birth year inside the age sub-query's `HAVING` (one per group).
    fn grouped_birth_year(self) -> &'static str {
        match self {
            Self::Sqlite => "b.birth_year",
            Self::Postgres => "MIN(b.birth_year)",
        }
    }
}

/// A bound value, typed as PostgreSQL infers the parameter at its position.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    /// `TEXT`.
    Text(String),
    /// `INTEGER` (int4), e.g. the length argument of `substr`.
    Int32(i32),
    /// `BIGINT` (int8), e.g. `LIMIT` and the age bounds.
    Int64(i64),
    /// `DOUBLE PRECISION`, compared with `value_num`.
    Real(f64),
}

/// ICD-10 editions a diagnosis code prefix is matched in (GM extends WHO; the
/// category and subcategory codes a prefix names are the same in both).
const ICD10_SYSTEMS: [CodeSystem; 2] = [CodeSystem::Icd10Gm, CodeSystem::Icd10Who];

/// The SQL text and its bound arguments, in order.
pub(crate) fn compile(criteria: &Criteria, dialect: Dialect) -> (String, Vec<Param>) {
    let mut q = Query {
        sql: String::from("SELECT p.psn, p.research_psn FROM patient p WHERE "),
        args: Vec::new(),
        dialect,
    };
    q.node(criteria);
    q.sql.push_str(" ORDER BY p.psn");
    (q.sql, q.args)
}

/// A statement under construction. `sql` only ever receives literals from this file.
struct Query {
    sql: String,
    args: Vec<Param>,
    dialect: Dialect,
}

impl Query {
    fn bind(&mut self, v: Param) {
        self.args.push(v);
        self.dialect.placeholder(&mut self.sql, self.args.len());
    }

    fn text(&mut self, s: &str) {
        self.bind(Param::Text(s.to_owned()));
    }

    /// Appends the dialect's `TRUE` or `FALSE`.
    fn truth(&mut self, value: bool) {
        let d = self.dialect;
        self.sql
            .push_str(if value { d.true_() } else { d.false_() });
    }

    /// ` AND {column} = ?`
    fn eq(&mut self, column: &str, value: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(column);
        self.sql.push_str(" = ");
        self.text(value);
    }

    /// `substr({column}, 1, ?) = ?`: a literal prefix (no wildcards), counted in
    /// characters as SQLite's `substr` counts them in text.
    fn prefix(&mut self, column: &str, prefix: &str) {
        // A half-open range [prefix, successor) selects the same strings under
        // SQLite's binary collation (UTF-8 order is code-point order) and lets the
        // index serve the prefix.
        if let Some(upper) = successor(prefix) {
            self.sql.push('(');
            self.sql.push_str(column);
            self.sql.push_str(" >= ");
            self.text(prefix);
            self.sql.push_str(" AND ");
            self.sql.push_str(column);
            self.sql.push_str(" < ");
            self.text(&upper);
            self.sql.push(')');
            return;
        }
        self.sql.push_str("substr(");
        self.sql.push_str(column);
        self.sql.push_str(", 1, ");
        self.bind(Param::Int32(
            i32::try_from(prefix.chars().count()).unwrap_or(i32::MAX),
        ));
        self.sql.push_str(") = ");
        self.text(prefix);
    }

    /// ` AND ({column} starts with any of prefixes)`; matches nothing for an empty list.
    fn any_prefix(&mut self, column: &str, prefixes: &[String]) {
        self.sql.push_str(" AND (");
        self.truth(false);
        for p in prefixes {
            self.sql.push_str(" OR ");
            self.prefix(column, p);
        }
        self.sql.push(')');
    }

    /// ` AND {column} IN (?, ...)`; ` AND FALSE` (nothing) for an empty list.
    fn one_of<'s>(&mut self, column: &str, values: impl IntoIterator<Item = &'s str>) {
        let mut values = values.into_iter().peekable();
        if values.peek().is_none() {
            self.sql.push_str(" AND ");
            self.truth(false);
            return;
        }
        self.sql.push_str(" AND ");
        self.sql.push_str(column);
        self.sql.push_str(" IN (");
        for (i, v) in values.enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.text(v);
        }
        self.sql.push(')');
    }

    /// Inclusive bounds on the fact's date (`start_date`, `YYYY-MM-DD` text, which
    /// orders like the date). A fact without a date fails any bound.
    fn dates(&mut self, from: Option<NaiveDate>, to: Option<NaiveDate>) {
        if let Some(from) = from {
            self.sql.push_str(" AND f.start_date >= ");
            self.bind(Param::Text(columns::date_text(from)));
        }
        if let Some(to) = to {
            self.sql.push_str(" AND f.start_date <= ");
            self.bind(Param::Text(columns::date_text(to)));
        }
    }

    /// `p.psn IN (SELECT f.psn FROM fact f WHERE f.kind = ? <body>)`: the patient has such a fact.
    fn exists(&mut self, kind: FactKind, body: impl FnOnce(&mut Self)) {
        // Uncorrelated: SQLite evaluates the sub-query once (driven by the
        // `fact_kind_code` index) and probes it per patient, instead of seeking every
        // patient's facts. `psn` is never NULL, so `IN` is two-valued like `EXISTS`.
        self.sql
            .push_str("p.psn IN (SELECT f.psn FROM fact f WHERE ");
        self.truth(true);
        self.eq("f.kind", kind.as_str());
        body(self);
        self.sql.push(')');
    }

    /// An observation fact with this LOINC code.
    fn observation(&mut self, loinc: &str, body: impl FnOnce(&mut Self)) {
        self.exists(FactKind::Observation, |q| {
            q.eq("f.system", CodeSystem::Loinc.as_str());
            q.eq("f.code", loinc);
            body(q);
        });
    }

    /// ` AND f.code is an ICD-10 code starting with prefix`.
    fn icd10(&mut self, prefix: &str) {
        self.icd10_of("f", prefix);
    }

    /// ` AND {alias}.code is an ICD-10 code starting with prefix` (`alias` a
    /// table alias of this module: `f` or `d`).
    fn icd10_of(&mut self, alias: &str, prefix: &str) {
        self.one_of(
            &format!("{alias}.system"),
            ICD10_SYSTEMS.map(CodeSystem::as_str),
        );
        self.sql.push_str(" AND ");
        self.prefix(&format!("{alias}.code"), prefix);
    }

    /// `(c1 AND c2 ...)` / `(c1 OR c2 ...)`; the empty list is the operator's identity
    /// (`and` of nothing holds, `or` of nothing does not), which validation rejects.
    fn list(&mut self, children: &[Criteria], op: &str, empty: bool) {
        if children.is_empty() {
            self.truth(empty);
            return;
        }
        self.sql.push('(');
        for (i, child) in children.iter().enumerate() {
            if i > 0 {
                self.sql.push_str(op);
            }
            self.node(child);
        }
        self.sql.push(')');
    }

    fn node(&mut self, c: &Criteria) {
        match c {
            Criteria::And(children) => self.list(children, " AND ", true),
            Criteria::Or(children) => self.list(children, " OR ", false),
            Criteria::Not(child) => {
                self.sql.push_str("(NOT ");
                self.node(child);
                self.sql.push(')');
            }
            Criteria::Diagnosis(d) => self.diagnosis(d),
            Criteria::AgeAtDiagnosis(a) => {
                // Age at the earliest dated diagnosis (optionally of an ICD-10 prefix):
                // diagnosis year − birth year. NULL (no birth year, no dated diagnosis)
                // becomes false: such patients never match, and match `not age`.
                // Grouped per patient once, then probed per patient (see `exists`);
                // a NULL age fails HAVING, so such patients are simply absent.
                self.sql.push_str(
                    "p.psn IN (SELECT f.psn FROM fact f JOIN patient b ON b.psn = f.psn WHERE ",
                );
                self.truth(true);
                self.eq("f.kind", FactKind::Diagnosis.as_str());
                self.sql.push_str(" AND f.start_date IS NOT NULL");
                if let Some(prefix) = &a.icd10 {
                    self.icd10(prefix);
                }
                let d = self.dialect;
                self.sql
                    .push_str(" GROUP BY f.psn HAVING CAST(substr(MIN(f.start_date), 1, 4) AS ");
                self.sql.push_str(d.int64());
                self.sql.push_str(") - ");
                self.sql.push_str(d.grouped_birth_year());
                self.sql.push_str(" BETWEEN ");
                self.bind(Param::Int64(a.min.map_or(i64::MIN, i64::from)));
                self.sql.push_str(" AND ");
                self.bind(Param::Int64(a.max.map_or(i64::MAX, i64::from)));
                self.sql.push(')');
            }
            Criteria::Sex(sex) => {
                // The patient row's sex (FHIR code), never NULL.
                self.sql.push_str("p.sex = ");
                self.text(sex.as_fhir());
            }
            Criteria::VitalStatus(v) => {
                // The patient row's vital status at last contact, never NULL.
                self.sql.push_str("p.vital_status = ");
                self.text(columns::vital_status_name(*v));
            }
            Criteria::Stage(s) => self.stage(s),
            Criteria::Tnm(t) => {
                // Every axis given needs an observation of its LOINC whose TNM code
                // starts with one of the axis's prefixes; no axis: any TNM category.
                let axes: Vec<TnmAxis> = TnmAxis::ALL
                    .into_iter()
                    .filter(|&a| !t.axis(a).is_empty())
                    .collect();
                if axes.is_empty() {
                    self.exists(FactKind::Observation, |q| {
                        q.eq("f.system", CodeSystem::Loinc.as_str());
                        q.one_of("f.code", TnmAxis::ALL.map(TnmAxis::loinc));
                        q.eq("f.value_system", CodeSystem::Tnm.as_str());
                        q.dates(t.from, t.to);
                    });
                    return;
                }
                self.sql.push('(');
                for (i, axis) in axes.into_iter().enumerate() {
                    if i > 0 {
                        self.sql.push_str(" AND ");
                    }
                    self.observation(axis.loinc(), |q| {
                        q.eq("f.value_system", CodeSystem::Tnm.as_str());
                        q.any_prefix("f.value_code", t.axis(axis));
                        q.dates(t.from, t.to);
                    });
                }
                self.sql.push(')');
            }
            Criteria::Ecog(e) => self.ecog(e),
            Criteria::Lab(l) => {
                // An observation of this LOINC in exactly this unit whose number
                // satisfies the comparison (no unit conversion).
                self.observation(&l.loinc, |q| {
                    q.eq("f.value_unit", &l.unit);
                    q.sql.push_str(" AND f.value_num ");
                    q.sql.push_str(l.op.symbol());
                    q.sql.push(' ');
                    q.bind(Param::Real(l.value));
                    q.dates(l.from, l.to);
                });
            }
            Criteria::Marker(m) => self.marker(m),
            Criteria::Therapy(t) => {
                // A medication fact with an ATC code starting with the prefix, started in range.
                self.exists(FactKind::Medication, |q| {
                    q.eq("f.system", CodeSystem::Atc.as_str());
                    q.sql.push_str(" AND ");
                    q.prefix("f.code", &t.atc);
                    q.dates(t.from, t.to);
                });
            }
            Criteria::Imaging(i) => self.imaging(i),
            Criteria::Cytology(c) => self.cytology(c),
            Criteria::Variant(v) => self.variant(v),
            Criteria::Procedure(p) => {
                // A procedure fact with an OPS code starting with the prefix, begun in range.
                self.exists(FactKind::Procedure, |q| {
                    q.eq("f.system", CodeSystem::Ops.as_str());
                    q.sql.push_str(" AND ");
                    q.prefix("f.code", &p.ops);
                    q.dates(p.from, p.to);
                });
            }
        }
    }

    /// A diagnosis fact (ICD-10 prefix if given, date in range) and, if a morphology
    /// is given, a histology observation (LOINC 59847-4, ICD-O-3 value) with that
    /// prefix; the two are not linked to each other (the store has no link).
    fn diagnosis(&mut self, d: &DiagnosisCriterion) {
        self.sql.push('(');
        self.exists(FactKind::Diagnosis, |q| {
            if let Some(prefix) = &d.icd10 {
                q.icd10(prefix);
            }
            q.dates(d.from, d.to);
        });
        if let Some(morphology) = &d.morphology {
            self.sql.push_str(" AND ");
            self.observation(DiagnosisCriterion::HISTOLOGY_LOINC, |q| {
                q.eq("f.value_system", CodeSystem::IcdO3.as_str());
                q.sql.push_str(" AND ");
                q.prefix("f.value_code", morphology);
            });
        }
        self.sql.push(')');
    }

    /// A stage-group observation whose code equals one of the groups exactly.
    fn stage(&mut self, s: &StageCriterion) {
        self.observation(StageCriterion::LOINC, |q| {
            q.eq("f.value_system", CodeSystem::Tnm.as_str());
            q.one_of("f.value_code", s.group.iter().map(String::as_str));
            q.dates(s.from, s.to);
        });
    }

    /// Any ECOG observation in range: a coded grade (system `ecog`, `0`–`5`) or an
    /// integer quantity (`valueInteger` maps to a number).
    fn ecog(&mut self, e: &EcogCriterion) {
        let (min, max) = (
            e.min.unwrap_or(0),
            e.max.unwrap_or(EcogCriterion::MAX_GRADE),
        );
        let grades: Vec<String> = (min..=max.min(EcogCriterion::MAX_GRADE))
            .map(|g| g.to_string())
            .collect();
        self.observation(EcogCriterion::LOINC, |q| {
            q.sql.push_str(" AND ((");
            q.truth(true);
            q.eq("f.value_system", CodeSystem::Ecog.as_str());
            q.one_of("f.value_code", grades.iter().map(String::as_str));
            q.sql.push_str(") OR f.value_num BETWEEN ");
            // As numbers: PostgreSQL types these by `value_num` (DOUBLE PRECISION).
            q.bind(Param::Real(f64::from(min)));
            q.sql.push_str(" AND ");
            q.bind(Param::Real(f64::from(max)));
            q.sql.push(')');
            q.dates(e.from, e.to);
        });
    }

    /// A molecular finding for the gene with the present (LA9633-4) or absent
    /// (LA9634-2) answer. Untested patients match neither.
    fn marker(&mut self, m: &MarkerCriterion) {
        self.exists(FactKind::Molecular, |q| {
            q.eq("f.system", CodeSystem::Hgnc.as_str());
            q.eq("f.code", &m.gene);
            q.eq("f.value_system", CodeSystem::Loinc.as_str());
            q.eq("f.value_code", m.answer());
            q.dates(m.from, m.to);
        });
    }
}

/// The smallest string greater than every string that starts with `prefix`:
/// the prefix with its last character incremented (dropping trailing characters
/// that cannot be). `None` for the empty prefix or when no successor exists.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests;
