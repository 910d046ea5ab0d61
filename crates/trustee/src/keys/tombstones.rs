//! Tombstone keys: keyed hashes of an erased person's identity, kept when their
//! IDAT is erased on withdrawal (`db::deletions::erase`), so that a site
//! registering the patient again is refused (`db::linkage`,
//! [`crate::db::Refusal::Withdrawn`]) instead of creating a new person without
//! consent.
//!
//! # Variants
//!
//! The identity is given name, family name, birth date, sex and postal code,
//! normalised as for linkage ([`Record`]). One exact hash would miss a
//! re-registration after a move or with a single typo, so each erased record
//! leaves one key per variant, each over the identity with one part left out or
//! blurred:
//!
//! | label | given | family | birth date | postal code | catches |
//! |---|---|---|---|---|---|
//! | `erased` | ✓ | ✓ | ✓ | ✓ (may be empty) | the same identity; stores written before issue 18 hold only this |
//! | `erased/no-postal` | ✓ | ✓ | ✓ | — | a move |
//! | `erased/no-given` | — | ✓ | ✓ | ✓ | another given-name form, or a typo in it |
//! | `erased/no-family` | ✓ | — | ✓ | ✓ | a marriage, or a typo in the family name |
//! | `erased/no-day` | ✓ | ✓ | year, month | ✓ | a wrong day |
//! | `erased/no-month` | ✓ | ✓ | year, day | ✓ | a wrong month |
//! | `erased/no-year` | ✓ | ✓ | month, day | ✓ | a wrong year |
//! | `erased/phonetic` | Kölner Phonetik | Kölner Phonetik | ✓ | ✓ | typos in both names that sound alike (`Meier`/`Mayr`) |
//!
//! Every key keeps sex. The key is the label and a NUL, then the kept parts in
//! the table's order joined by NUL (a date as `YYYY-MM-DD`, a left-out date part
//! empty), under the blocking key. A new record is looked up under its own keys
//! and, where day and month could be swapped, under `erased` and
//! `erased/no-postal` of the swapped date ([`Keys::tombstone_probes`]): the
//! common date error that no single left-out part catches.
//!
//! A variant that leaves out or blurs a name or a date part needs the postal
//! code, and every kept name must be present: names, birth date and sex alone
//! join namesakes (see [`super::BlockingKeys`]). The price of this tolerance is a
//! namesake living under the same postal code who also shares two of the three
//! birth-date parts (or the whole date and names that sound alike): refused
//! like the withdrawn person. Their site gets a clear error, and the trust
//! centre's staff can admit that one record (`POST /v1/admin/admissions`,
//! `db::admissions`), bound to it by [`Keys::admission_key`].
//!
//! Not caught: errors in two parts (unless both are names that sound alike),
//! a wrong sex, and records without birth date, sex or both names (they leave
//! no tombstone). Tombstones written before a variant existed lack it: the IDAT
//! they came from is gone.

use super::{BlockingKey, Keys};
use oncofed_linkage::Record;
use oncofed_linkage::compare::koelner_phonetik;

/// How a variant keeps a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Name {
    Left,
    Exact,
    Phonetic,
}

/// Which birth-date parts a variant keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Date {
    Whole,
    NoDay,
    NoMonth,
    NoYear,
}

/// One tombstone variant (a row of the module's table).
struct Variant {
    label: &'static [u8],
    given: Name,
    family: Name,
    date: Date,
    postal: bool,
}

const fn variant(
    label: &'static [u8],
    given: Name,
    family: Name,
    date: Date,
    postal: bool,
) -> Variant {
    Variant {
        label,
        given,
        family,
        date,
        postal,
    }
}

/// The variants, in the module table's order. The first four are the keys
/// stores written before hold: their derivation must never change.
const VARIANTS: [Variant; 8] = {
    use Date::*;
    use Name::*;
    [
        variant(b"erased\0", Exact, Exact, Whole, true),
        variant(b"erased/no-postal\0", Exact, Exact, Whole, false),
        variant(b"erased/no-given\0", Left, Exact, Whole, true),
        variant(b"erased/no-family\0", Exact, Left, Whole, true),
        variant(b"erased/no-day\0", Exact, Exact, NoDay, true),
        variant(b"erased/no-month\0", Exact, Exact, NoMonth, true),
        variant(b"erased/no-year\0", Exact, Exact, NoYear, true),
        variant(b"erased/phonetic\0", Phonetic, Phonetic, Whole, true),
    ]
};

/// How many of [`VARIANTS`] keep the whole identity but for the postal code
/// (`erased`, `erased/no-postal`): the ones looked up with a swapped date.
const WHOLE_NAMES_AND_DATE: usize = 2;

impl Variant {
    /// Whether the variant leaves out or blurs a name or a date part, and so
    /// needs a postal code to keep namesakes apart.
    fn needs_postal(&self) -> bool {
        (self.given, self.family, self.date) != (Name::Exact, Name::Exact, Date::Whole)
    }
}

/// The parts of one record's identity a tombstone is derived from.
#[derive(Clone, Copy)]
struct Identity<'a> {
    given: &'a str,
    family: &'a str,
    year: u16,
    month: u8,
    day: u8,
    sex: &'static str,
    postal: &'a str,
}

impl<'a> Identity<'a> {
    /// `None` when birth date, sex, or both names are missing: such a record
    /// leaves no tombstone.
    fn of(r: &'a Record) -> Option<Self> {
        let (Some(year), Some(month), Some(day)) = (r.birth_year, r.birth_month, r.birth_day)
        else {
            return None;
        };
        if r.sex_code().is_empty() || (r.given.is_empty() && r.family.is_empty()) {
            return None;
        }
        Some(Self {
            given: &r.given,
            family: &r.family,
            year,
            month,
            day,
            sex: r.sex_code(),
            postal: &r.postal_code,
        })
    }

    /// The key of one variant, or `None` where the record lacks a part it needs.
    fn key(&self, keys: &Keys, v: &Variant) -> Option<BlockingKey> {
        if v.needs_postal() && self.postal.is_empty() {
            return None;
        }
        let name = |how: Name, value: &str| -> Option<Option<String>> {
            match how {
                Name::Left => Some(None),
                _ if value.is_empty() => None,
                Name::Exact => Some(Some(value.to_owned())),
                Name::Phonetic => {
                    let code = koelner_phonetik(value);
                    (!code.is_empty()).then_some(Some(code))
                }
            }
        };
        let given = name(v.given, self.given)?;
        let family = name(v.family, self.family)?;
        let (y, m, d) = (self.year, self.month, self.day);
        let date = match v.date {
            Date::Whole => format!("{y:04}-{m:02}-{d:02}"),
            Date::NoDay => format!("{y:04}-{m:02}-"),
            Date::NoMonth => format!("{y:04}--{d:02}"),
            Date::NoYear => format!("-{m:02}-{d:02}"),
        };
        let kept = [
            given.as_deref(),
            family.as_deref(),
            Some(date.as_str()),
            Some(self.sex),
            v.postal.then_some(self.postal),
        ];
        let mut parts: Vec<&[u8]> = vec![v.label];
        for (i, part) in kept.iter().flatten().enumerate() {
            if i > 0 {
                parts.push(b"\0");
            }
            parts.push(part.as_bytes());
        }
        Some(keys.blocking_key(&parts))
    }
}

impl Keys {
    /// The tombstone of one erased record: its key under every variant it has
    /// the parts for (see the module docs). Empty when birth date, sex, or both
    /// names are missing.
    pub(crate) fn tombstone_keys(&self, r: &Record) -> Vec<BlockingKey> {
        let Some(id) = Identity::of(r) else {
            return Vec::new();
        };
        VARIANTS.iter().filter_map(|v| id.key(self, v)).collect()
    }

    /// The keys a new record is looked up under before it is registered: its
    /// tombstone keys, and where day and month could have been swapped (both
    /// up to 12 and unequal), the whole-date variants of the swapped date.
    pub(crate) fn tombstone_probes(&self, r: &Record) -> Vec<BlockingKey> {
        let mut out = self.tombstone_keys(r);
        if let Some(id) = Identity::of(r)
            && id.day != id.month
            && id.day <= 12
        {
            let swapped = Identity {
                month: id.day,
                day: id.month,
                ..id
            };
            let whole = &VARIANTS[..WHOLE_NAMES_AND_DATE];
            out.extend(whole.iter().filter_map(|v| swapped.key(self, v)));
        }
        out
    }

    /// Binds a staff admission past a tombstone to the one record staff checked:
    /// the keyed hash of its whole normalised comparison record, so a site
    /// cannot reuse an admitted local id for other identifying data.
    pub(crate) fn admission_key(&self, r: &Record) -> BlockingKey {
        self.blocking_key(&[b"admitted\0", &r.to_bytes()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PseudonymKey;
    use chrono::NaiveDate;
    use oncofed_idat::{Address, IdentifyingData};
    use oncofed_model::Sex;

    fn keys() -> Keys {
        Keys::new(&PseudonymKey::from_bytes(vec![7; 32]).unwrap())
    }

    fn record(given: &str, family: &str, date: (i32, u32, u32), postal: Option<&str>) -> Record {
        let idat = IdentifyingData {
            given: vec![given.into()],
            family: Some(family.into()),
            birth_name: None,
            birth_date: NaiveDate::from_ymd_opt(date.0, date.1, date.2),
            sex: Sex::Female,
            address: postal.map(|p| Address {
                lines: vec![],
                postal_code: Some(p.into()),
                city: None,
                country: None,
            }),
            kvnr: None,
        };
        Record::from_idat("", &idat)
    }

    fn shares_a_key(k: &Keys, erased: &Record, probe: &Record) -> bool {
        let stored = k.tombstone_keys(erased);
        k.tombstone_probes(probe).iter().any(|p| stored.contains(p))
    }

    #[test]
    fn the_keys_stores_written_before_hold_are_unchanged() {
        let k = keys();
        let r = record("Anna", "Meier", (1950, 3, 7), Some("12345"));
        // HMAC streams its input, so the parts may be given joined (NUL as
        // `\x00`: before a digit `\0` would read like an octal escape).
        let whole = k.blocking_key(&[b"erased\x00anna\x00meier\x001950-03-07\x00f\x0012345"]);
        let no_given = k.blocking_key(&[b"erased/no-given\x00meier\x001950-03-07\x00f\x0012345"]);
        let keys = k.tombstone_keys(&r);
        assert_eq!(keys.len(), VARIANTS.len());
        assert_eq!(keys[0], whole);
        assert_eq!(keys[2], no_given);
    }

    #[test]
    fn one_error_in_any_part_meets_the_tombstone_and_two_do_not() {
        let k = keys();
        let (given, family) = ("Hieronymus", "Zwetschgenbaum");
        let erased = record(given, family, (1937, 11, 9), Some("98765"));
        // (given, family, birth date, postal code, whether it meets the tombstone)
        let cases = [
            ("Hieronimus", family, (1937, 11, 9), Some("98765"), true),
            (given, "Zwetschenbaum", (1937, 11, 9), Some("98765"), true),
            (given, family, (1937, 11, 8), Some("98765"), true),
            (given, family, (1937, 12, 9), Some("98765"), true),
            (given, family, (1973, 11, 9), Some("98765"), true),
            // Day and month swapped.
            (given, family, (1937, 9, 11), Some("98765"), true),
            (given, family, (1937, 11, 9), Some("12345"), true),
            (given, family, (1937, 11, 9), None, true),
            // Two typos that sound alike.
            (
                "Hieronimus",
                "Zwetschgenbaun",
                (1937, 11, 9),
                Some("98765"),
                true,
            ),
            // Moved and a wrong day.
            (given, family, (1937, 11, 8), Some("12345"), false),
            // Another given name and another year.
            ("Anton", family, (1938, 11, 9), Some("98765"), false),
            // Another person altogether.
            ("Anna", "Meier", (1950, 3, 7), Some("98765"), false),
            // A wrong day and no postal code to back the date variant up.
            (given, family, (1937, 11, 8), None, false),
        ];
        for (g, f, date, postal, meets) in cases {
            let sent = record(g, f, date, postal);
            assert_eq!(shares_a_key(&k, &erased, &sent), meets, "{sent:?}");
        }
    }

    #[test]
    fn a_record_without_the_core_leaves_no_tombstone_and_other_keys_never_meet() {
        let k = keys();
        let mut r = record("Anna", "Meier", (1950, 3, 7), Some("12345"));
        r.birth_day = None;
        assert!(k.tombstone_keys(&r).is_empty());
        assert!(k.tombstone_probes(&r).is_empty());
        let whole = record("Anna", "Meier", (1950, 3, 7), Some("12345"));
        let other_key = Keys::new(&PseudonymKey::from_bytes(vec![8; 32]).unwrap());
        let stored = other_key.tombstone_keys(&whole);
        assert!(
            k.tombstone_probes(&whole)
                .iter()
                .all(|p| !stored.contains(p))
        );
        // Without a postal code only the variants that keep names and the
        // whole date remain.
        let no_postal = record("Anna", "Meier", (1950, 3, 7), None);
        assert_eq!(k.tombstone_keys(&no_postal).len(), WHOLE_NAMES_AND_DATE);
    }

    #[test]
    fn an_admission_is_bound_to_the_whole_record() {
        let k = keys();
        let a = record("Anna", "Meier", (1950, 3, 7), Some("12345"));
        let mut b = a.clone();
        b.city = "hamburg".into();
        assert_eq!(k.admission_key(&a), k.admission_key(&a.clone()));
        assert_ne!(k.admission_key(&a), k.admission_key(&b));
    }
}
