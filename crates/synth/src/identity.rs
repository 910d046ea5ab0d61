//! Identifying data (IDAT): the true identity of a person and each site's copy of it.
//!
//! Linkage at the trust centre is only worth testing if sites disagree the way real
//! hospital systems do. Each site's copy is drawn independently from the truth with
//! the configured [`VariationRates`]: a typo, a surname changed by marriage (with the
//! old one as birth name), day and month of birth swapped, a missing KVNR. What was
//! done is recorded per site and written to `ground-truth/linkage.csv`.

use crate::config::VariationRates;
use crate::draw::{self, SynthRng};
use crate::names;
use chrono::{Datelike, NaiveDate};
use oncofed_idat::{Address, IdentifyingData, Kvnr};
use oncofed_model::Sex;
use serde::{Deserialize, Serialize};
use std::fmt;

/// One way a site's copy of the identifying data deviates from the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variation {
    /// One-character typo in the family name or first given name.
    NameTypo,
    /// Surname changed by marriage (or the record predates the marriage).
    SurnameChange,
    /// Day and month of birth swapped.
    DayMonthSwap,
    /// No KVNR recorded.
    MissingKvnr,
}

impl Variation {
    /// Stable name used in `linkage.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NameTypo => "name-typo",
            Self::SurnameChange => "surname-change",
            Self::DayMonthSwap => "day-month-swap",
            Self::MissingKvnr => "missing-kvnr",
        }
    }

    /// The `variation` column of `linkage.csv`: names joined by `+`, or `none`.
    pub fn label(variations: &[Variation]) -> String {
        if variations.is_empty() {
            return "none".to_owned();
        }
        variations
            .iter()
            .map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join("+")
    }
}

impl fmt::Display for Variation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Draws a true identity for a person of the given sex and birth date.
pub(crate) fn true_identity(
    rng: &mut SynthRng,
    sex: Sex,
    birth_date: NaiveDate,
) -> IdentifyingData {
    let female = match sex {
        Sex::Female => true,
        Sex::Male => false,
        Sex::Other | Sex::Unknown => draw::chance(rng, 0.5),
    };
    let pool = if female {
        names::GIVEN_FEMALE
    } else {
        names::GIVEN_MALE
    };
    let mut given = vec![(*draw::pick(rng, pool)).to_owned()];
    if draw::chance(rng, 0.2) {
        let second = *draw::pick(rng, pool);
        if second != given[0] {
            given.push(second.to_owned());
        }
    }
    let family = (*draw::pick(rng, names::SURNAMES)).to_owned();
    // Women of these birth cohorts mostly took their husband's name; a few men did.
    let p_birth_name = if female { 0.40 } else { 0.03 };
    let birth_name = draw::chance(rng, p_birth_name).then(|| other_surname(rng, &family));
    let street = *draw::pick(rng, names::STREETS);
    let mut number = draw::int(rng, 1, 150).to_string();
    if draw::chance(rng, 0.08) {
        number.push(*draw::pick(rng, &['a', 'b', 'c']));
    }
    let (plz, city) = *draw::pick(rng, names::CITIES);
    let letter = b'A' + draw::int(rng, 0, 25) as u8;
    let mut digits = [0u8; 8];
    for d in &mut digits {
        *d = draw::int(rng, 0, 9) as u8;
    }
    IdentifyingData {
        given,
        family: Some(family),
        birth_name,
        birth_date: Some(birth_date),
        sex,
        address: Some(Address {
            lines: vec![format!("{street} {number}")],
            postal_code: Some(plz.to_owned()),
            city: Some(city.to_owned()),
            country: Some("DE".to_owned()),
        }),
        kvnr: Kvnr::from_parts(letter, &digits),
    }
}

/// A surname different from `not`.
fn other_surname(rng: &mut SynthRng, not: &str) -> String {
    loop {
        let s = *draw::pick(rng, names::SURNAMES);
        if s != not {
            return s.to_owned();
        }
    }
}

/// Draws one site's copy of `truth`, varied independently with `rates`.
pub(crate) fn site_copy(
    rng: &mut SynthRng,
    truth: &IdentifyingData,
    rates: &VariationRates,
) -> (IdentifyingData, Vec<Variation>) {
    let mut copy = truth.clone();
    let mut done = Vec::new();
    // Draw all four decisions up front so that the stream consumption does not depend
    // on which ones apply.
    let surname = draw::chance(rng, rates.surname_change);
    let typo = draw::chance(rng, rates.name_typo);
    let swap = draw::chance(rng, rates.day_month_swap);
    let missing = draw::chance(rng, rates.missing_kvnr);

    if surname {
        let family = copy.family.clone().unwrap_or_default();
        match copy.birth_name.take() {
            // Already married: this site still holds the record from before.
            Some(old) => copy.family = Some(old),
            None => {
                copy.family = Some(other_surname(rng, &family));
                copy.birth_name = Some(family);
            }
        }
        done.push(Variation::SurnameChange);
    }
    if typo {
        let target = if draw::chance(rng, 0.7) {
            copy.family.as_mut()
        } else {
            copy.given.first_mut()
        };
        if let Some(name) = target {
            *name = typo_of(rng, name);
            done.push(Variation::NameTypo);
        }
    }
    let swappable = copy
        .birth_date
        .filter(|d| d.day() <= 12 && d.day() != d.month());
    if let (true, Some(d)) = (swap, swappable) {
        copy.birth_date = NaiveDate::from_ymd_opt(d.year(), d.day(), d.month());
        done.push(Variation::DayMonthSwap);
    }
    if missing && copy.kvnr.is_some() {
        copy.kvnr = None;
        done.push(Variation::MissingKvnr);
    }
    (copy, done)
}

/// Neighbouring keys on a German QWERTZ keyboard, for realistic substitutions.
fn neighbour(c: char) -> char {
    const ROWS: [&str; 3] = ["qwertzuiopü", "asdfghjklöä", "yxcvbnm"];
    for row in ROWS {
        let chars: Vec<char> = row.chars().collect();
        if let Some(i) = chars.iter().position(|&x| x == c) {
            return if i + 1 < chars.len() {
                chars[i + 1]
            } else {
                chars[i - 1]
            };
        }
    }
    'e'
}

/// A copy of `name` with one typing error (substitution, deletion, transposition or
/// doubling) after the first letter; always different from `name`.
fn typo_of(rng: &mut SynthRng, name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    if chars.len() < 3 {
        return format!("{name}{}", chars.last().copied().unwrap_or('e'));
    }
    let pos = draw::int(rng, 1, chars.len() as i64 - 1) as usize;
    let mut out = chars.clone();
    match draw::int(rng, 0, 3) {
        0 => {
            let c = out[pos].to_lowercase().next().unwrap_or('e');
            out[pos] = neighbour(c);
        }
        1 => {
            out.remove(pos);
        }
        2 if pos + 1 < out.len() && out[pos] != out[pos + 1] => out.swap(pos, pos + 1),
        _ => out.insert(pos, out[pos]),
    }
    let s: String = out.into_iter().collect();
    if s == name {
        format!("{name}{}", chars[chars.len() - 1])
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::draw::person_rng;

    #[test]
    fn typos_always_change_the_name() {
        let mut rng = person_rng(3, 3);
        for name in names::SURNAMES.iter().chain(names::GIVEN_FEMALE) {
            for _ in 0..5 {
                let t = typo_of(&mut rng, name);
                assert_ne!(&t, name);
                assert_eq!(t.chars().next(), name.chars().next());
            }
        }
    }

    #[test]
    fn full_variation_changes_what_it_says() {
        let mut rng = person_rng(1, 1);
        let birth = NaiveDate::from_ymd_opt(1950, 3, 7).unwrap();
        let truth = true_identity(&mut rng, Sex::Female, birth);
        let all = VariationRates {
            name_typo: 1.0,
            surname_change: 1.0,
            day_month_swap: 1.0,
            missing_kvnr: 1.0,
        };
        let (copy, done) = site_copy(&mut rng, &truth, &all);
        assert_eq!(done.len(), 4);
        assert_eq!(copy.birth_date, NaiveDate::from_ymd_opt(1950, 7, 3));
        assert!(copy.kvnr.is_none());
        assert_ne!(copy.family, truth.family);
        let none = VariationRates {
            name_typo: 0.0,
            surname_change: 0.0,
            day_month_swap: 0.0,
            missing_kvnr: 0.0,
        };
        let (copy, done) = site_copy(&mut rng, &truth, &none);
        assert!(done.is_empty() && copy == truth);
        assert_eq!(Variation::label(&[]), "none");
        assert_eq!(
            Variation::label(&[Variation::NameTypo, Variation::MissingKvnr]),
            "name-typo+missing-kvnr"
        );
    }
}
