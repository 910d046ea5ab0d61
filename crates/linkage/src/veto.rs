//! Vetoes: disagreements that forbid an automatic link whatever the score.
//!
//! A Fellegi–Sunter score adds evidence field by field, so enough agreement
//! elsewhere (similar given names, a birth name that sounds like the other
//! side's family name, one postal code) can outweigh a sex and a birth date
//! that disagree. That merged two different people at the trust centre
//! (issue 9, defect 1). A false link merges two people's data, deletion orders
//! and re-contacts; a missed one only waits for clerical review. So some
//! disagreements are not weighed at all: they cap the outcome at
//! [`crate::Outcome::PossibleMatch`]. The trust centre applies [`veto`] on
//! every automatic path (insurance number, exact name key, score) against every
//! record of the person a new record would join.
//!
//! What counts as a disagreement:
//! - **sex**: both sides known (`Sex::Unknown` is missing) and different;
//! - **birth date**: any of day, month and year present on both sides and
//!   different. A full date that differs anywhere is a disagreement, one day
//!   off included. A transposed day and month (12.04. vs 04.12.) is a common
//!   keying error, but on names and an address alone it is still two dates:
//!   the pair may go to review (the score tolerates the swap, see
//!   [`crate::compare::birth_date_parts`]), it does not link automatically.
//!   The one exception ([`swap_vouched_for`]): both records carry the same
//!   insurance number and the same given and family names. The number is
//!   lifelong and personal and the trust centre takes only numbers whose check
//!   digit holds, so two people sharing it, their names and a birth date in
//!   two formats would take a card used by someone else *and* that person's
//!   name. Queueing every such swap instead held back 1.1 % of the true
//!   pairs of the 1 M × 1 M synthetic files (BENCHMARKS.md, eighteenth
//!   session). Missing parts are not disagreements.
//!
//! [`crate::link`] and [`crate::dedup`] classify by score alone (they are
//! evaluated against Febrl4, whose generator alters birth dates of true pairs);
//! callers that act on a link apply [`veto`] themselves.

use crate::Record;
use std::fmt;

/// Why two records must not be linked automatically.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Veto {
    /// Both sexes known and different.
    Sex,
    /// A birth-date part present on both sides differs (a day/month swap included).
    BirthDate,
}

impl Veto {
    /// A stable name for logs and figures (no personal data).
    pub fn as_str(self) -> &'static str {
        match self {
            Veto::Sex => "sex",
            Veto::BirthDate => "birth-date",
        }
    }
}

impl fmt::Display for Veto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The first veto between two records, `None` when they may link automatically.
pub fn veto(a: &Record, b: &Record) -> Option<Veto> {
    if let (Some(x), Some(y)) = (a.sex, b.sex)
        && x != y
    {
        return Some(Veto::Sex);
    }
    if birth_date_disagrees(a, b) && !swap_vouched_for(a, b) {
        return Some(Veto::BirthDate);
    }
    None
}

/// Whether two birth dates differ only by a transposed day and month (same
/// year, both full dates, day and month unequal) and the records carry the
/// same non-empty insurance number and the same given and family names: the
/// one birth-date disagreement [`veto`] lets through (module docs say why).
pub fn swap_vouched_for(a: &Record, b: &Record) -> bool {
    let swapped = match (a.birth_day, a.birth_month, b.birth_day, b.birth_month) {
        (Some(d1), Some(m1), Some(d2), Some(m2)) => d1 == m2 && m1 == d2 && d1 != m1,
        _ => false,
    };
    swapped
        && a.birth_year.is_some()
        && a.birth_year == b.birth_year
        && !a.insurance_id.is_empty()
        && a.insurance_id == b.insurance_id
        && !a.given.is_empty()
        && a.given == b.given
        && !a.family.is_empty()
        && a.family == b.family
}

/// Whether a birth-date part present on both sides differs.
pub fn birth_date_disagrees(a: &Record, b: &Record) -> bool {
    fn differs<T: PartialEq>(x: Option<T>, y: Option<T>) -> bool {
        matches!((x, y), (Some(x), Some(y)) if x != y)
    }
    differs(a.birth_day, b.birth_day)
        || differs(a.birth_month, b.birth_month)
        || differs(a.birth_year, b.birth_year)
}

#[cfg(test)]
mod tests {
    use super::*;
    use oncofed_model::Sex;

    fn rec(sex: Option<Sex>, date: (Option<u8>, Option<u8>, Option<u16>)) -> Record {
        Record {
            given: "erika".into(),
            family: "mustermann".into(),
            sex,
            birth_day: date.0,
            birth_month: date.1,
            birth_year: date.2,
            ..Default::default()
        }
    }

    #[test]
    fn sex_and_birth_date_veto_missing_values_do_not() {
        let full = (Some(12), Some(4), Some(1961));
        let f = rec(Some(Sex::Female), full);
        assert_eq!(veto(&f, &f), None);
        assert_eq!(veto(&f, &rec(Some(Sex::Male), full)), Some(Veto::Sex));
        assert_eq!(veto(&f, &rec(Some(Sex::Other), full)), Some(Veto::Sex));
        assert_eq!(veto(&f, &rec(None, full)), None);
        for other in [
            (Some(13), Some(4), Some(1961)),
            (Some(12), Some(5), Some(1961)),
            (Some(12), Some(4), Some(1962)),
            (Some(4), Some(12), Some(1961)), // day/month swap
        ] {
            assert_eq!(
                veto(&f, &rec(Some(Sex::Female), other)),
                Some(Veto::BirthDate)
            );
        }
        assert_eq!(veto(&f, &rec(Some(Sex::Female), (None, None, None))), None);
        assert_eq!(
            veto(&f, &rec(Some(Sex::Female), (None, Some(4), Some(1961)))),
            None
        );
        assert_eq!(
            veto(&f, &rec(Some(Sex::Female), (None, Some(5), Some(1961)))),
            Some(Veto::BirthDate)
        );
        assert_eq!(Veto::BirthDate.to_string(), "birth-date");
    }

    #[test]
    fn a_swap_links_only_where_number_and_names_vouch_for_it() {
        let numbered = |sex, date, number: &str| Record {
            insurance_id: number.into(),
            ..rec(sex, date)
        };
        let f = numbered(
            Some(Sex::Female),
            (Some(12), Some(4), Some(1961)),
            "A123456780",
        );
        let swapped = numbered(
            Some(Sex::Female),
            (Some(4), Some(12), Some(1961)),
            "A123456780",
        );
        assert_eq!(veto(&f, &swapped), None);
        assert_eq!(veto(&swapped, &f), None);
        // Without the number on either side, or with another number.
        for number in ["", "B987654321"] {
            let other = numbered(Some(Sex::Female), (Some(4), Some(12), Some(1961)), number);
            assert_eq!(veto(&f, &other), Some(Veto::BirthDate), "{number:?}");
            assert_eq!(veto(&other, &f), Some(Veto::BirthDate), "{number:?}");
        }
        let no_number = numbered(Some(Sex::Female), (Some(12), Some(4), Some(1961)), "");
        let both_empty = numbered(Some(Sex::Female), (Some(4), Some(12), Some(1961)), "");
        assert_eq!(veto(&no_number, &both_empty), Some(Veto::BirthDate));
        // Other given or family name: the number alone does not vouch.
        let mut other_given = swapped.clone();
        other_given.given = "erik".into();
        let mut other_family = swapped.clone();
        other_family.family = "musterfrau".into();
        for other in [&other_given, &other_family] {
            assert_eq!(veto(&f, other), Some(Veto::BirthDate));
        }
        // Not a swap: one day off, another year, a partial date.
        for date in [
            (Some(13), Some(4), Some(1961)),
            (Some(4), Some(12), Some(1962)),
            (Some(4), Some(12), None),
        ] {
            let other = numbered(Some(Sex::Female), date, "A123456780");
            assert_eq!(veto(&f, &other), Some(Veto::BirthDate), "{date:?}");
        }
        // The number never outweighs a sex that disagrees.
        let male = numbered(
            Some(Sex::Male),
            (Some(4), Some(12), Some(1961)),
            "A123456780",
        );
        assert_eq!(veto(&f, &male), Some(Veto::Sex));
    }
}
