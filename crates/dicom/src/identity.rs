//! The person an object belongs to, as its header names them: what the
//! node sends to the trust centre (IDAT) so that images and clinical facts
//! meet under one pseudonym, and the site-local identifier it registers.
//!
//! Read before de-identification, in memory only; never stored, never logged.

use dicom_core::Tag;
use dicom_core::value::Value;
use dicom_object::InMemDicomObject;
use oncofed_idat::{IdentifyingData, Kvnr};
use oncofed_model::Sex;

/// The identity in an object's header.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderIdentity {
    /// The site-local patient identifier: Patient ID (0010,0020) alone when
    /// Issuer of Patient ID (0010,0021) is empty, which is the site's own
    /// patient number, the same local id its FHIR data uses (so images and
    /// clinical facts are one patient at the trust centre); `issuer|id` when
    /// an issuer is named (an id from another namespace, e.g. images imported
    /// from another hospital: linked by identity, never by id).
    pub local_id: String,
    /// Names, birth date, sex and an insurance number found in Other
    /// Patient IDs (a valid KVNR, check digit and all).
    pub idat: IdentifyingData,
}

impl std::fmt::Debug for HeaderIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HeaderIdentity(<identifying data>)")
    }
}

impl HeaderIdentity {
    /// The strings Clean Descriptors masks in this person's free text: the
    /// names, the birth date in the usual spellings (`19640812`,
    /// `12.08.1964`, `1964-08-12`), the local id's parts and the insurance
    /// number (for [`crate::Subject::identifiers`]).
    pub fn descriptor_words(&self) -> Vec<String> {
        let idat = &self.idat;
        let mut out: Vec<String> = idat.given.clone();
        out.extend(idat.family.clone());
        out.extend(idat.birth_name.clone());
        if let Some(d) = idat.birth_date {
            out.push(d.format("%Y%m%d").to_string());
            out.push(d.format("%d.%m.%Y").to_string());
            out.push(d.format("%Y-%m-%d").to_string());
        }
        out.extend(
            self.local_id
                .split('|')
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
        out.extend(idat.kvnr.as_ref().map(|k| k.as_str().to_owned()));
        out
    }
}

/// Why an object cannot be linked to a person (it goes to quarantine).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// No Patient ID: the object cannot be linked to anyone.
    #[error("the object has no Patient ID (0010,0020); it cannot be linked to a person")]
    NoPatientId,
    /// Neither a name nor a birth date: too little for the trust centre to link.
    #[error("the object has neither Patient's Name nor Patient's Birth Date; it cannot be linked")]
    TooLittle,
}

fn text(ds: &InMemDicomObject, group: u16, element: u16) -> Option<String> {
    let v = ds.get(Tag(group, element))?.value().to_str().ok()?;
    let v = v.trim_matches(['\0', ' ']);
    (!v.is_empty()).then(|| v.to_owned())
}

/// Reads the identity from `ds`'s patient module.
pub fn read(ds: &InMemDicomObject) -> Result<HeaderIdentity, IdentityError> {
    let id = text(ds, 0x0010, 0x0020).ok_or(IdentityError::NoPatientId)?;
    let issuer = text(ds, 0x0010, 0x0021).unwrap_or_default();
    let (family, given) = text(ds, 0x0010, 0x0010)
        .map(|pn| person_name(&pn))
        .unwrap_or_default();
    let birth_date =
        text(ds, 0x0010, 0x0030).and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y%m%d").ok());
    if family.is_none() && given.is_empty() && birth_date.is_none() {
        return Err(IdentityError::TooLittle);
    }
    let sex = match text(ds, 0x0010, 0x0040).as_deref() {
        Some("F") => Sex::Female,
        Some("M") => Sex::Male,
        Some("O") => Sex::Other,
        _ => Sex::Unknown,
    };
    Ok(HeaderIdentity {
        local_id: if issuer.is_empty() {
            id
        } else {
            format!("{issuer}|{id}")
        },
        idat: IdentifyingData {
            given,
            family,
            birth_date,
            sex,
            birth_name: None,
            address: None,
            kvnr: other_ids(ds).iter().find_map(|v| Kvnr::new(v).ok()),
        },
    })
}

/// Family and given names from a PN value: the alphabetic group before any
/// `=` (ideographic and phonetic groups follow it), components `^`-separated
/// (family, given, middle, prefix, suffix); given and middle names are split
/// at spaces.
fn person_name(pn: &str) -> (Option<String>, Vec<String>) {
    let alphabetic = pn.split('=').next().unwrap_or("");
    let mut parts = alphabetic.split('^').map(str::trim);
    let family = parts.next().filter(|f| !f.is_empty()).map(str::to_owned);
    let given = parts
        .take(2)
        .flat_map(|p| p.split_whitespace())
        .map(str::to_owned)
        .collect();
    (family, given)
}

/// Other Patient IDs (0010,1000) and the Patient IDs inside Other Patient
/// IDs Sequence (0010,1002).
fn other_ids(ds: &InMemDicomObject) -> Vec<String> {
    let mut out: Vec<String> = text(ds, 0x0010, 0x1000)
        .map(|v| v.split('\\').map(|s| s.trim().to_owned()).collect())
        .unwrap_or_default();
    if let Some(Value::Sequence(seq)) = ds.get(Tag(0x0010, 0x1002)).map(|e| e.value()) {
        out.extend(seq.items().iter().filter_map(|i| text(i, 0x0010, 0x0020)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::{DataSetSequence, PrimitiveValue};
    use dicom_core::{DataElement, Length, VR};

    fn put(ds: &mut InMemDicomObject, g: u16, e: u16, vr: VR, v: &str) {
        ds.put(DataElement::new(Tag(g, e), vr, PrimitiveValue::from(v)));
    }

    #[test]
    fn names_dates_sex_and_an_insurance_number_are_read() {
        let kvnr = (0..10)
            .map(|d| format!("A12345678{d}"))
            .find(|k| Kvnr::new(k).is_ok())
            .unwrap();
        let mut ds = InMemDicomObject::new_empty();
        put(&mut ds, 0x0010, 0x0020, VR::LO, "4711");
        put(&mut ds, 0x0010, 0x0021, VR::LO, "UKE");
        put(
            &mut ds,
            0x0010,
            0x0010,
            VR::PN,
            "Müller^Anna Maria^^Dr.=ミュラー^アンナ",
        );
        put(&mut ds, 0x0010, 0x0030, VR::DA, "19640812");
        put(&mut ds, 0x0010, 0x0040, VR::CS, "F");
        let item = InMemDicomObject::from_element_iter([DataElement::new(
            Tag(0x0010, 0x0020),
            VR::LO,
            PrimitiveValue::from(kvnr.as_str()),
        )]);
        ds.put(DataElement::new(
            Tag(0x0010, 0x1002),
            VR::SQ,
            DataSetSequence::new(vec![item], Length::UNDEFINED),
        ));
        let id = read(&ds).unwrap();
        assert_eq!(id.local_id, "UKE|4711");
        assert_eq!(id.idat.family.as_deref(), Some("Müller"));
        assert_eq!(id.idat.given, ["Anna", "Maria"]);
        assert_eq!(
            id.idat.birth_date,
            chrono::NaiveDate::from_ymd_opt(1964, 8, 12)
        );
        assert_eq!(id.idat.sex, Sex::Female);
        assert_eq!(id.idat.kvnr.clone().map(String::from), Some(kvnr));
        assert!(!format!("{id:?}").contains("Müller"));
    }

    #[test]
    fn objects_that_cannot_be_linked_are_refused() {
        let mut ds = InMemDicomObject::new_empty();
        assert_eq!(read(&ds), Err(IdentityError::NoPatientId));
        put(&mut ds, 0x0010, 0x0020, VR::LO, "4711");
        assert_eq!(read(&ds), Err(IdentityError::TooLittle));
        put(&mut ds, 0x0010, 0x0030, VR::DA, "19640812");
        assert_eq!(read(&ds).unwrap().local_id, "4711");
    }
}
