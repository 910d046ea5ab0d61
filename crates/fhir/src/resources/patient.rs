//! FHIR R4 `Patient` (MII module Person) → identifying data for the trust centre plus
//! coarse demographics for the research store.
//!
//! Identifiers other than the KVNR (`http://fhir.de/sid/gkv/kvid-10`) are not read
//! at all: MRNs, social security and passport numbers never leave this function.

use crate::datatypes::{
    Address, HumanName, Identifier, Precision, Text, date, date_with_precision, text,
};
use crate::error::{FieldError, MapErrorKind};
use crate::resources::Cx;
use crate::{Batch, PatientRecord, bundle};
use oncofed_idat::{BoundedField, BoundedList, IdentifyingData, Kvnr};
use oncofed_model::{Demographics, Sex, VitalStatus};
use serde::Deserialize;

/// The KVNR identifier system before the 2020 renaming, still found in older data.
const OLD_KVNR_SYSTEM: &str = "http://fhir.de/NamingSystem/gkv/kvid-10";

/// The mapped elements of FHIR R4 `Patient`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Patient<'a> {
    #[serde(borrow, default)]
    id: Option<Text<'a>>,
    #[serde(borrow, default)]
    identifier: Vec<Identifier<'a>>,
    #[serde(borrow, default)]
    name: Vec<HumanName<'a>>,
    #[serde(borrow, default)]
    gender: Option<Text<'a>>,
    #[serde(borrow, default)]
    birth_date: Option<Text<'a>>,
    #[serde(borrow, default)]
    address: Vec<Address<'a>>,
    #[serde(borrow, default)]
    deceased_date_time: Option<Text<'a>>,
    #[serde(default)]
    deceased_boolean: Option<bool>,
}

/// The local id of a Patient: `Patient.id`, else the uuid of a `urn:uuid:` fullUrl.
pub(crate) fn local_id(id: Option<&str>, full_url: Option<&str>) -> Result<String, FieldError> {
    match (id, full_url.and_then(|u| u.strip_prefix("urn:uuid:"))) {
        (Some(id), _) => bundle::check_id(id, "id"),
        (None, Some(uuid)) => bundle::check_id(uuid, "id"),
        (None, None) => Err(FieldError::new(
            "id",
            MapErrorKind::Missing {
                hint: "a Patient needs an id (or, in a Bundle, a urn:uuid fullUrl)",
            },
        )),
    }
}

/// `Patient.identifier`: the KVNR, validated with its check digit.
fn kvnr(identifiers: &[Identifier<'_>]) -> Result<Option<Kvnr>, FieldError> {
    let mut found = None;
    for (i, ident) in identifiers.iter().enumerate() {
        let system = text(&ident.system);
        if system != Some(Kvnr::SYSTEM) && system != Some(OLD_KVNR_SYSTEM) {
            continue;
        }
        let field = format!("identifier[{i}].value");
        let value = text(&ident.value).ok_or_else(|| {
            FieldError::new(
                &*field,
                MapErrorKind::Missing {
                    hint: "a KVNR identifier needs its value",
                },
            )
        })?;
        let k =
            Kvnr::new(value.trim()).map_err(|e| FieldError::new(field, MapErrorKind::Kvnr(e)))?;
        found.get_or_insert(k);
    }
    Ok(found)
}

/// `Patient.name`: the official name (else usual, else one without `use`) gives family and
/// given names; a `maiden` name gives the birth name.
fn names(names: &[HumanName<'_>], idat: &mut IdentifyingData) {
    let by_use = |u: Option<&str>| names.iter().find(|n| text(&n.use_) == u);
    let current = by_use(Some("official"))
        .or_else(|| by_use(Some("usual")))
        .or_else(|| by_use(None))
        .or_else(|| {
            names.iter().find(|n| {
                !matches!(
                    text(&n.use_),
                    Some("maiden" | "old" | "anonymous" | "nickname")
                )
            })
        });
    if let Some(n) = current {
        idat.family = text(&n.family).map(str::to_owned);
        idat.given = n
            .given
            .iter()
            .filter(|g| !g.is_empty())
            .map(|g| g.to_string())
            .collect();
    }
    if let Some(m) = by_use(Some("maiden")) {
        idat.birth_name = text(&m.family)
            .map(str::to_owned)
            .filter(|b| Some(b) != idat.family.as_ref());
    }
}

/// `Patient.address`: the home address, else the first one not marked old.
fn address(addresses: &[Address<'_>]) -> Option<oncofed_idat::Address> {
    let a = addresses
        .iter()
        .find(|a| text(&a.use_) == Some("home"))
        .or_else(|| addresses.iter().find(|a| text(&a.use_) != Some("old")))?;
    let own = |t: &Option<Text<'_>>| text(t).map(str::to_owned);
    Some(oncofed_idat::Address {
        lines: a
            .line
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| l.to_string())
            .collect(),
        postal_code: own(&a.postal_code),
        city: own(&a.city),
        country: own(&a.country),
    })
}

/// Checks every name and address element this mapper reads against the IDAT
/// bounds shared with the trust centre (`oncofed_idat::bounds`), in all names
/// and addresses (not only the ones picked), so an absurd value anywhere is
/// refused with its path. Cost is bounded by the limits, not the input.
fn check_bounds(names: &[HumanName<'_>], addresses: &[Address<'_>]) -> Result<(), FieldError> {
    let err = |field: String| move |e| FieldError::new(field, MapErrorKind::IdatBound(e));
    for (i, n) in names.iter().enumerate() {
        if let Some(f) = n.family.as_deref() {
            BoundedField::Family
                .check(f)
                .map_err(err(format!("name[{i}].family")))?;
        }
        BoundedList::GivenNames
            .check(n.given.len())
            .map_err(err(format!("name[{i}].given")))?;
        for (j, g) in n.given.iter().enumerate() {
            BoundedField::Given
                .check(g)
                .map_err(err(format!("name[{i}].given[{j}]")))?;
        }
    }
    for (i, a) in addresses.iter().enumerate() {
        BoundedList::AddressLines
            .check(a.line.len())
            .map_err(err(format!("address[{i}].line")))?;
        for (j, l) in a.line.iter().enumerate() {
            BoundedField::AddressLine
                .check(l)
                .map_err(err(format!("address[{i}].line[{j}]")))?;
        }
        let parts = [
            (BoundedField::PostalCode, &a.postal_code, "postalCode"),
            (BoundedField::City, &a.city, "city"),
            (BoundedField::Country, &a.country, "country"),
        ];
        for (field, value, name) in parts {
            if let Some(v) = value.as_deref() {
                field
                    .check(v)
                    .map_err(err(format!("address[{i}].{name}")))?;
            }
        }
    }
    Ok(())
}

/// Maps one Patient into a [`PatientRecord`].
///
/// Names and addresses over the IDAT bounds are refused ([`MapErrorKind::IdatBound`]).
/// `gender` absent → unknown; `birthDate` may be partial (`YYYY`, `YYYY-MM`: the first
/// day is used as the date, the year is kept); `deceasedDateTime` gives the death date,
/// `deceasedBoolean: true` the status deceased, `false` alive.
pub(crate) fn map(p: Patient<'_>, cx: &Cx<'_>, batch: &mut Batch) -> Result<(), FieldError> {
    let local_id = local_id(text(&p.id), cx.full_url)?;
    check_bounds(&p.name, &p.address)?;
    let sex = match text(&p.gender) {
        None => Sex::Unknown,
        Some(g) => Sex::from_fhir(g)
            .ok_or_else(|| FieldError::new("gender", MapErrorKind::InvalidGender))?,
    };
    let birth = date_with_precision(&p.birth_date, "birthDate")?;
    let death_date = date(&p.deceased_date_time, "deceasedDateTime")?;
    let resource_vital_status = match (death_date, p.deceased_boolean) {
        (Some(_), _) | (None, Some(true)) => VitalStatus::Deceased,
        (None, Some(false)) => VitalStatus::Alive,
        (None, None) => VitalStatus::Unknown,
    };
    let mut idat = IdentifyingData {
        given: Vec::new(),
        family: None,
        birth_name: None,
        birth_date: birth.map(|(d, _)| d),
        sex,
        address: address(&p.address),
        kvnr: kvnr(&p.identifier)?,
    };
    names(&p.name, &mut idat);
    let demographics = Demographics {
        sex,
        birth_year: birth.map(|(d, _): (chrono::NaiveDate, Precision)| chrono::Datelike::year(&d)),
        vital_status: resource_vital_status,
        death_date,
        last_contact: None,
    };
    batch.add_patient(PatientRecord {
        local_id,
        idat,
        demographics,
        resource_vital_status,
    });
    Ok(())
}
