//! The MII broad-consent policy table: every code of the CodeSystem
//! `urn:oid:2.16.840.1.113883.3.1937.777.24.5.3` ("MII Consent: Policy
//! CodeSystem", `mii-cs-consent-policy`), with what OncoFed makes of it.
//!
//! Source: MII Kerndatensatz-Modul Consent, CodeSystem
//! `2.16.840.1.113883.3.1937.777.24.5.3--20251211153003` (IG 2026.0.0; 124
//! concepts, hierarchy "part-of"; checked against the published file in
//! `tests/codesystem_2026.rs`). The 2027.0.0 ballot respells 19 displays of
//! add-on-module codes: [`MiiPolicy::display`] gives either release's.
//! German displays, the parent (group) of each code, `period-of-validity` and the
//! `deprecated` status are taken from it; the English meanings, the module
//! letters and the [`Scope`] column are OncoFed's reading (see the crate docs for
//! where that reading is unsure).

use crate::RecontactKind;
use oncofed_model::DataCategory::{self, Clinical, Genetic, Germline, Imaging, Pathology, Text};
use serde::{Deserialize, Serialize};

/// Prefix of every code in the table (the code is `prefix + arc`).
pub const MII_CODE_PREFIX: &str = "2.16.840.1.113883.3.1937.777.24.5.3.";

/// A code of the MII policy table, by the last arc of its OID. Only the table
/// constructs it, so every `MiiCode` has a [`MiiPolicy`].
///
/// Deserialising (the consent feed carries parsed consents, `crate::MODEL_VERSION`)
/// goes through [`MiiCode::from_arc`], so an arc missing from the table is refused
/// rather than turned into a code without a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16")]
pub struct MiiCode(u16);

impl TryFrom<u16> for MiiCode {
    type Error = String;

    fn try_from(arc: u16) -> Result<Self, String> {
        Self::from_arc(arc).ok_or_else(|| format!("MII policy code arc {arc} is not in the table"))
    }
}

impl MiiCode {
    /// The code for an OID string such as `2.16.840.1.113883.3.1937.777.24.5.3.8`;
    /// `None` when it is not in the table.
    pub fn from_oid(oid: &str) -> Option<Self> {
        let arc: u16 = oid.strip_prefix(MII_CODE_PREFIX)?.parse().ok()?;
        // `parse` accepts "+8" and "08": only the canonical spelling is a code.
        if arc.to_string() != oid[MII_CODE_PREFIX.len()..] {
            return None;
        }
        Self::from_arc(arc)
    }

    /// The code whose OID ends in `arc`, if the table has it.
    pub fn from_arc(arc: u16) -> Option<Self> {
        policy_index(arc).map(|_| Self(arc))
    }

    /// The last arc of the OID.
    pub fn arc(self) -> u16 {
        self.0
    }

    /// The full OID, as written in `Coding.code`.
    pub fn oid(self) -> String {
        format!("{MII_CODE_PREFIX}{}", self.0)
    }

    /// The table row.
    pub fn policy(self) -> &'static MiiPolicy {
        &MII_POLICIES[policy_index(self.0).expect("MiiCode is only built from the table")]
    }

    /// The group this code belongs to (its parent in the code system), if any.
    pub fn parent(self) -> Option<MiiCode> {
        self.policy().parent.map(Self)
    }
}

impl MiiPolicy {
    /// The code system's `period-of-validity` in whole years (`P5Y` → 5), when
    /// it gives one: how long a permit without `period.end` lasts.
    pub fn validity_years(&self) -> Option<u32> {
        self.validity?
            .strip_prefix('P')?
            .strip_suffix('Y')?
            .parse()
            .ok()
    }
}

fn policy_index(arc: u16) -> Option<usize> {
    MII_POLICIES.iter().position(|p| p.arc == arc)
}

/// The broad-consent module (or add-on module "Zusatzmodul") a code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Module {
    /// Patientendaten: IDAT and MDAT (incl. retrospective and non-EU variants).
    Patdat,
    /// Krankenkassendaten: claims data from the health insurer.
    Kkdat,
    /// Biomaterialien: samples and analysis data derived from them.
    Biomat,
    /// Rekontaktierung: being contacted again.
    Rekontaktierung,
    /// Z1: GECCO83 data set for NUM/CODEX (COVID-19).
    Gecco,
    /// Z2: ACRIBiS (cardiology).
    Acribis,
    /// Z3: Patientenbefragung (PROM).
    Prom,
    /// Z4: Fachnetzwerk Infektion (SNID).
    Snid,
    /// Z5: Deutsches Zentrum für Psychische Gesundheit (DZPG).
    Dzpg,
}

/// The two families of data the broad consent's use codes speak about. Each
/// has a code to collect (a collection window, checked at the data's date of
/// origin), codes to store and use (a use window, checked at the date of use)
/// and retrospective codes (data that existed before the consent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Family {
    /// Medical data (MDAT): every category. Collect `.6`, use `.7`/`.8`,
    /// retrospective `.45` (and the deprecated `.46`).
    Mdat,
    /// Analysis data of biomaterial: genetic data. Collect `.19`, use `.22`
    /// (a permit is the genetic opt-in), retrospective `.52`. Pathology is
    /// routine medical data and is decided by the MDAT family alone.
    Biomat,
}

impl Family {
    /// The categories the family's codes decide.
    pub fn categories(self) -> &'static [DataCategory] {
        match self {
            Self::Mdat => MDAT,
            Self::Biomat => &[Genetic, Germline],
        }
    }
}

/// What a code decides in OncoFed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Scope {
    /// A group of codes: a statement about it is a statement about each child.
    Group,
    /// Storing, processing or scientific use of the family's data: checked on
    /// the date of use. A deny covers both purposes (feasibility counts are
    /// use too).
    Use(Family),
    /// Collecting the family's data: a permit opens a collection window (5
    /// years by the code system's `period-of-validity`), checked on the date
    /// the data originated.
    Collect(Family),
    /// Storing and using the family's data that existed before the consent: a
    /// permit extends the collection window backwards to data older than the
    /// provision's start (within its `dataPeriod`).
    Retrospective(Family),
    /// Merging these categories with data of third parties: a deny stops onward
    /// sharing ([`crate::duo_codes`] returns nothing), not use inside OncoFed.
    ThirdPartyMerge(&'static [DataCategory]),
    /// Use outside the EU GDPR level: a permit lifts the geographical restriction
    /// in [`crate::duo_codes`]; a deny changes nothing else.
    NonEuUse(&'static [DataCategory]),
    /// Being re-contacted ([`crate::may_recontact`]).
    Recontact(RecontactKind),
    /// Identifying data (IDAT): the trust centre's business, not decided here.
    Identity,
    /// Data OncoFed does not hold or decide (claims data, the samples
    /// themselves, other projects' add-on modules): recorded, no effect.
    NotApplicable,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MiiPolicy {
    /// Last arc of the OID.
    pub arc: u16,
    /// The group it belongs to (arc), per the code system's hierarchy.
    pub parent: Option<u16>,
    /// Its module.
    pub module: Module,
    /// The code system's display (German), as IG 2026.0.0 spells it (see
    /// [`MiiPolicy::display`] for the later ballot).
    pub de: &'static str,
    /// OncoFed's English rendering.
    pub en: &'static str,
    /// What it decides here.
    pub scope: Scope,
    /// The code system's `period-of-validity` (ISO 8601 duration), when given.
    pub validity: Option<&'static str>,
    /// Marked deprecated/inactive in IG 2026.0.0; old consents still carry it.
    pub deprecated: bool,
}

/// All medical data (MDAT): every category.
const MDAT: &[DataCategory] = &[Clinical, Genetic, Germline, Imaging, Pathology, Text];
/// Data derived from biomaterial, for onward-sharing codes: molecular analyses
/// and tissue images (the stricter reading for what may leave OncoFed).
const BIODAT: &[DataCategory] = &[Genetic, Germline, Pathology];

const fn row(
    arc: u16,
    parent: u16,
    module: Module,
    de: &'static str,
    en: &'static str,
    scope: Scope,
    validity: Option<&'static str>,
) -> MiiPolicy {
    MiiPolicy {
        arc,
        parent: if parent == 0 { None } else { Some(parent) },
        module,
        de,
        en,
        scope,
        validity,
        deprecated: false,
    }
}

const fn deprecated(p: MiiPolicy) -> MiiPolicy {
    MiiPolicy {
        deprecated: true,
        ..p
    }
}

const Y30: Option<&str> = Some("P30Y");
const Y5: Option<&str> = Some("P5Y");

use Module::{Acribis, Biomat, Dzpg, Gecco, Kkdat, Patdat, Prom, Rekontaktierung, Snid};
use Scope::{Group, Identity, NonEuUse, NotApplicable as Na, Recontact, ThirdPartyMerge};

const MDAT_USE: Scope = Scope::Use(Family::Mdat);
const MDAT_COLLECT: Scope = Scope::Collect(Family::Mdat);
const MDAT_RETRO: Scope = Scope::Retrospective(Family::Mdat);

/// Releases of the MII policy CodeSystem whose display names OncoFed knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Release {
    /// IG 2026.0.0 (CodeSystem version 1.1.0, `…--20251211153003`): the
    /// displays in [`MiiPolicy::de`], as the published CodeSystem spells them.
    Ig2026,
    /// The later ballot (2027.0.0-ballot.rc1) the table was first read from:
    /// 19 displays differ ([`LATER_BALLOT_DISPLAYS`]), codes and meanings do not.
    LaterBallot,
}

/// The displays of the later ballot where they differ from IG 2026.0.0, by arc.
pub const LATER_BALLOT_DISPLAYS: [(u16, &str); 19] = [
    (5, "IDAT bereitstellen"),
    (57, "Z2 PATDAT erheben nutzen kontakt (ACRIBIS)"),
    (58, "PATDAT erheben nutzen kontakt (ACRIBIS)"),
    (
        59,
        "Z2 IDAT Melderegister abfragen speichern verarbeiten (ACRIBIS)",
    ),
    (
        60,
        "IDAT Melderegister abfragen speichern verarbeiten (ACRIBIS)",
    ),
    (
        61,
        "Z2 MDAT Hausarzt erheben speichern verarbeiten nutzen (ACRIBIS)",
    ),
    (
        62,
        "MDAT Hausarzt erheben speichern verarbeiten nutzen (ACRIBIS)",
    ),
    (63, "Z3 PROMDAT Patientenbefragung (PROM)"),
    (64, "PROMDAT Patientenbefragung erheben (PROM)"),
    (65, "PROMDAT wissenschaftlich nutzen (PROM)"),
    (66, "Rekontaktierung PROM Studien (PROM)"),
    (68, "IDAT speichern, verarbeiten (SNID)"),
    (75, "BIOMAT Eigentum übertragen NUM (SNID)"),
    (92, "MDAT SNID bereitstellen Dritte (SNID)"),
    (93, "BIOMAT SNID bereitstellen Dritte (SNID)"),
    (94, "Z4 Rekontaktierung Patient NU (SNID)"),
    (96, "Z4 Rekontaktierung Patient weitere Studien (SNID)"),
    (97, "Rekontaktierung Patient weitere Studien (SNID)"),
    (98, "IDAT SNID bereitstellen OE (SNID)"),
];

impl MiiPolicy {
    /// The German display of this code in `release`: user-facing text should
    /// name the release the consent was written under, and the two differ for
    /// 19 add-on-module codes.
    pub fn display(&self, release: Release) -> &'static str {
        match release {
            Release::Ig2026 => self.de,
            Release::LaterBallot => LATER_BALLOT_DISPLAYS
                .iter()
                .find(|(arc, _)| *arc == self.arc)
                .map_or(self.de, |(_, d)| d),
        }
    }
}

/// The table, in the code system's order.
#[rustfmt::skip]
pub const MII_POLICIES: [MiiPolicy; 124] = [
    row(1, 0, Patdat, "Patientendaten erheben, speichern, nutzen", "patient data: collect, store, use (module)", Group, None),
    row(2, 1, Patdat, "IDAT erheben", "collect identifying data", Identity, Y30),
    row(3, 1, Patdat, "IDAT speichern, verarbeiten", "store and process identifying data", Identity, Y30),
    row(4, 1, Patdat, "IDAT zusammenfuehren Dritte", "merge identifying data with third parties", Identity, Y30),
    row(5, 1, Patdat, "IDAT bereitstellen ", "provide identifying data (EU GDPR level)", Identity, Y30),
    row(6, 1, Patdat, "MDAT erheben", "collect medical data", MDAT_COLLECT, Y5),
    row(7, 1, Patdat, "MDAT speichern, verarbeiten", "store and process medical data", MDAT_USE, Y30),
    row(8, 1, Patdat, "MDAT wissenschaftlich nutzen", "scientific use of medical data (EU GDPR level)", MDAT_USE, Y30),
    row(9, 1, Patdat, "MDAT zusammenfuehren Dritte", "merge medical data with third-party data", ThirdPartyMerge(MDAT), Y30),
    row(37, 1, Patdat, "Rekontaktierung Ergebnisse erheblicher Bedeutung", "re-contact about results of significant importance for health", Recontact(RecontactKind::SignificantResults), Y30),
    row(44, 0, Patdat, "Patientendaten retrospektiv verarbeiten, nutzen", "retrospective patient data: process, use (module)", Group, None),
    row(45, 44, Patdat, "MDAT retrospektiv speichern verarbeiten", "store and process retrospective medical data", MDAT_RETRO, Y30),
    deprecated(row(46, 44, Patdat, "MDAT retrospektiv wissenschaftlich nutzen", "scientific use of retrospective medical data", MDAT_RETRO, Y30)),
    deprecated(row(47, 44, Patdat, "MDAT retrospektiv zusammenfuehren Dritte", "merge retrospective medical data with third-party data", ThirdPartyMerge(MDAT), Y30)),
    row(48, 0, Patdat, "Patientendaten Weitergabe non DSGVO NIVEAU", "patient data: transfer below EU GDPR level (module)", Group, None),
    row(49, 48, Patdat, "MDAT wissenschaftlich nutzen ohne EU DSGVO NIVEAU", "scientific use of medical data outside the EU GDPR level", NonEuUse(MDAT), Y30),
    row(10, 0, Kkdat, "Krankenkassendaten retrospektiv uebertragen, speichern, nutzen", "retrospective insurance data: transfer, store, use (module)", Group, None),
    row(11, 10, Kkdat, "KKDAT 5J retrospektiv uebertragen", "transfer 5 years of past insurance data", Na, None),
    row(12, 10, Kkdat, "KKDAT 5J retrospektiv speichern verarbeiten", "store and process 5 years of past insurance data", Na, Y30),
    row(13, 10, Kkdat, "KKDAT 5J retrospektiv wissenschaftlich nutzen", "scientific use of 5 years of past insurance data", Na, Y30),
    row(38, 10, Kkdat, "KKDAT 5J retrospektiv uebertragen KVNR", "transfer the insurance number to obtain past insurance data", Na, None),
    row(14, 0, Kkdat, "KKDAT prospektiv uebertragen speichern nutzen", "prospective insurance data: transfer, store, use (module)", Group, None),
    row(15, 14, Kkdat, "KKDAT 5J prospektiv uebertragen", "transfer 5 years of future insurance data", Na, Y5),
    deprecated(row(16, 14, Kkdat, "KKDAT 5J prospektiv speichern verarbeiten", "store and process 5 years of future insurance data", Na, Y30)),
    deprecated(row(17, 14, Kkdat, "KKDAT 5J prospektiv wissenschaftlich nutzen", "scientific use of 5 years of future insurance data", Na, Y30)),
    row(39, 14, Kkdat, "KKDAT 5J prospektiv uebertragen KVNR", "transfer the insurance number to obtain future insurance data", Na, Y5),
    row(18, 0, Biomat, "Biomaterial erheben, lagern, nutzen", "biomaterial: collect, store, use (module)", Group, None),
    row(19, 18, Biomat, "BIOMAT erheben", "collect biomaterial", Scope::Collect(Family::Biomat), Y5),
    row(20, 18, Biomat, "BIOMAT lagern verarbeiten", "store and process biomaterial", Na, Y30),
    row(21, 18, Biomat, "BIOMAT Eigentum übertragen", "transfer ownership of biomaterial", Na, Y5),
    row(22, 18, Biomat, "BIOMAT wissenschaftlich nutzen", "scientific use of biomaterial and its analysis data (EU GDPR level)", Scope::Use(Family::Biomat), Y30),
    row(23, 18, Biomat, "BIOMAT Analysedaten zusammenfuehren Dritte", "merge biomaterial analysis data with third-party data", ThirdPartyMerge(BIODAT), Y30),
    row(24, 0, Biomat, "Biomaterial Zusatzentnahme", "additional sampling (module)", Group, None),
    row(25, 24, Biomat, "BIOMAT Zusatzmengen entnehmen", "take additional amounts of biomaterial", Na, Y5),
    row(50, 0, Biomat, "Biomaterial retrospektiv speichern, nutzen", "retrospective biomaterial: store, use (module)", Group, None),
    row(51, 50, Biomat, "BIOMAT retrospektiv lagern verarbeiten", "store and process retrospective biomaterial", Na, Y30),
    row(52, 50, Biomat, "BIOMAT retrospektiv wissenschaftlich nutzen", "scientific use of retrospective biomaterial and its analysis data", Scope::Retrospective(Family::Biomat), Y30),
    row(53, 50, Biomat, "BIOMAT retrospektiv Analysedaten zusammenfuehren Dritte", "merge analysis data of retrospective biomaterial with third-party data", ThirdPartyMerge(BIODAT), Y30),
    row(54, 0, Biomat, "Biomaterial Weitergabe non EU DSGVO NIVEAU", "biomaterial: transfer below EU GDPR level (module)", Group, None),
    row(55, 54, Biomat, "BIOMAT bereitstellen ohne EU DSGVO NIVEAU", "provide biomaterial outside the EU GDPR level", NonEuUse(BIODAT), Y30),
    row(26, 0, Rekontaktierung, "Rekontaktierung Ergänzungen", "re-contact for additions (module)", Group, None),
    row(27, 26, Rekontaktierung, "Rekontaktierung Verknüpfung Datenbanken", "re-contact to link with other databases", Recontact(RecontactKind::LinkDatabases), Y30),
    row(28, 26, Rekontaktierung, "Rekontaktierung weitere Erhebung", "re-contact to collect further information", Recontact(RecontactKind::FurtherData), Y30),
    row(29, 26, Rekontaktierung, "Rekontaktierung weitere Studien", "re-contact about further studies", Recontact(RecontactKind::FurtherStudies), Y30),
    row(30, 0, Rekontaktierung, "Rekontaktierung Zusatzbefund", "re-contact about additional findings (module)", Group, None),
    row(31, 30, Rekontaktierung, "Rekontaktierung Zusatzbefund", "re-contact about additional findings relevant to health", Recontact(RecontactKind::AdditionalFindings), Y30),
    row(32, 0, Gecco, "Z1 GECCO83 Nutzung NUM/CODEX", "Z1: GECCO83 use in NUM/CODEX (module)", Group, None),
    row(40, 32, Gecco, "MDAT GECCO83 komplettieren einmalig", "complete the GECCO83 data set once", Na, None),
    row(43, 32, Gecco, "MDAT GECCO83 erheben", "collect GECCO83 data", Na, Y30),
    row(33, 32, Gecco, "MDAT GECCO83 bereitstellen NUM/CODEX", "provide GECCO83 data to NUM/CODEX", Na, None),
    row(34, 32, Gecco, "MDAT GECCO83 speichern verarbeiten NUM/CODEX", "store and process GECCO83 data in NUM/CODEX", Na, Y30),
    deprecated(row(41, 32, Gecco, "MDAT GECCO83 wissenschaftlich nutzen COVID 19 Forschung", "scientific use of GECCO83 data for COVID-19 research", Na, Y30)),
    deprecated(row(42, 32, Gecco, "MDAT GECCO83 wissenschaftlich nutzen Pandemie Forschung", "scientific use of GECCO83 data for pandemic research", Na, Y30)),
    row(56, 32, Gecco, "MDAT GECCO83 wissenschaftlich nutzen NUM/CODEX", "scientific use of GECCO83 data in NUM/CODEX", Na, Y30),
    row(35, 0, Gecco, "Z1 GECCO83 Weitergabe NUM/CODEX non EU DSGVO NIVEAU", "Z1: GECCO83 transfer below EU GDPR level (module)", Group, None),
    row(36, 35, Gecco, "MDAT GECCO83 bereitstellen NUM/CODEX ohne EU DSGVO NIVEAU", "provide GECCO83 data outside the EU GDPR level", Na, Y30),
    row(57, 0, Acribis, "Z2 Patientendaten erheben, nutzen, Kontaktierung im acribis-Projekt", "Z2 ACRIBiS: patient data and contact (module)", Group, None),
    row(58, 57, Acribis, "PATDAT erheben, nutzen, Kontaktierung im acribis-Projekt", "ACRIBiS: collect and use patient data, contact", Na, Y5),
    row(59, 0, Acribis, "Z2 IDAT Melderegister abfragen, speichern, verarbeiten im acribis-Projekt", "Z2 ACRIBiS: registration office query (module)", Group, None),
    row(60, 59, Acribis, "Anschrift und Vitalstatus Melderegister abfragen, speichern, verarbeiten im acribis-Projekt", "ACRIBiS: query, store, process registration office data", Na, Y5),
    row(61, 0, Acribis, "Z2 MDAT Hausarzt erheben, speichern, verarbeiten, nutzen im acribis-Projekt", "Z2 ACRIBiS: family doctor's data (module)", Group, None),
    row(62, 61, Acribis, "MDAT Hausarzt erheben, speichern, verarbeiten, nutzen im acribis-Projekt", "ACRIBiS: collect, store, process, use family doctor's data", Na, Y5),
    row(63, 0, Prom, "Z3 PROMDAT Patientenbefragung", "Z3: patient questionnaires (module)", Group, None),
    row(64, 63, Prom, "PROMDAT Patientenbefragung erheben", "collect patient-reported outcomes", Na, Y5),
    row(65, 63, Prom, "PROMDAT wissenschaftlich nutzen", "scientific use of patient-reported outcomes", Na, Y30),
    row(66, 63, Prom, "Rekontaktierung PROM Studien", "re-contact for questionnaire studies", Recontact(RecontactKind::Questionnaires), Y30),
    row(67, 0, Snid, "Z4 Datenschutzerklärung (SNID)", "Z4 SNID: data protection declaration (module)", Group, None),
    row(68, 67, Snid, "IDAT speichern, verabeiten (SNID)", "SNID: store and process identifying data", Na, Y30),
    row(69, 67, Snid, "CONSENT speichern, verarbeiten (SNID)", "SNID: store and process the consent", Na, Y30),
    row(70, 67, Snid, "IDAT Einsicht Monitoring (SNID)", "SNID: monitoring access to identifying data", Na, Y30),
    row(71, 67, Snid, "MDAT erheben (SNID)", "SNID: collect medical data", Na, Y5),
    row(72, 67, Snid, "MDAT speichern, verarbeiten (SNID)", "SNID: store and process medical data", Na, Y30),
    row(73, 67, Snid, "MDAT bereitstellen (SNID)", "SNID: provide medical data", Na, Y30),
    row(74, 67, Snid, "MDAT Einsicht Monitoring (SNID)", "SNID: monitoring access to medical data", Na, Y30),
    row(75, 67, Snid, "BIOMAT Eigentum übertragen_NUM (SNID)", "SNID: transfer biomaterial ownership to NUM", Na, Y30),
    row(76, 67, Snid, "CONSENT BC bereitstellen (SNID)", "SNID: provide the broad consent", Na, Y30),
    row(77, 67, Snid, "CONSENT BC speichern, verarbeiten (SNID)", "SNID: store and process the broad consent", Na, Y30),
    row(78, 0, Snid, "Z4 Einsicht ePa (SNID)", "Z4 SNID: electronic patient record (module)", Group, None),
    row(79, 78, Snid, "IDAT ePA bereitstellen (SNID)", "SNID: provide identifying data for the ePA", Na, Y5),
    row(80, 78, Snid, "MDAT ePA erheben (SNID)", "SNID: collect medical data from the ePA", Na, Y5),
    row(81, 78, Snid, "MDAT ePA speichern, verarbeiten (SNID)", "SNID: store and process ePA medical data", Na, Y30),
    row(82, 0, Snid, "Z4 Krebsregister (SNID)", "Z4 SNID: cancer registry (module)", Group, None),
    row(83, 82, Snid, "MDAT KReg speichern, verarbeiten (SNID)", "SNID: store and process cancer registry data", Na, Y30),
    row(84, 82, Snid, "IDAT KReg KVNR speichern, verarbeiten (SNID)", "SNID: store and process the insurance number for the cancer registry", Na, Y30),
    row(85, 0, Snid, "Z4 KRegDAT retrospektiv (SNID)", "Z4 SNID: retrospective cancer registry data (module)", Group, None),
    row(86, 85, Snid, "IDAT KVNR KReg bereitstellen retrospektiv (SNID)", "SNID: provide the insurance number to the cancer registry (retrospective)", Na, None),
    row(87, 85, Snid, "MDAT KReg erheben retrospektiv (SNID)", "SNID: collect past cancer registry data", Na, None),
    row(88, 0, Snid, "Z4 KRegDAT (SNID)", "Z4 SNID: prospective cancer registry data (module)", Group, None),
    row(89, 88, Snid, "IDAT KVNR KReg bereitstellen prospektiv (SNID)", "SNID: provide the insurance number to the cancer registry (prospective)", Na, Y5),
    row(90, 88, Snid, "MDAT KReg erheben prospektiv (SNID)", "SNID: collect future cancer registry data", Na, Y5),
    row(91, 0, Snid, "Z4 Weitergabe Dritte (SNID)", "Z4 SNID: transfer to third parties (module)", Group, None),
    row(92, 91, Snid, "MDAT SNID bereitstellen Dritte", "SNID: provide medical data to third parties", Na, Y30),
    row(93, 91, Snid, "BIOMAT SNID bereitstellen Dritte", "SNID: provide biomaterial to third parties", Na, Y30),
    row(94, 0, Snid, "Z4 Rekontaktierung Patient (SNID)", "Z4 SNID: follow-up re-contact (module)", Group, None),
    row(95, 94, Snid, "Rekontaktierung Gesundheitszustand nach Studienabschluss (SNID)", "SNID: re-contact about health after the study", Na, Y30),
    row(96, 0, Snid, "Z4_Rekontaktierung_FU", "Z4 SNID: re-contact for further studies (module)", Group, None),
    row(97, 96, Snid, "Rekontaktierung weitere Studien (SNID)", "SNID: re-contact for further studies", Na, Y30),
    row(98, 96, Snid, "IDAT SNID bereitstellen OE", "SNID: provide identifying data to the study unit", Na, Y30),
    row(99, 0, Snid, "Z4 Erhebung Hausarzt (SNID)", "Z4 SNID: family doctor's data (module)", Group, None),
    row(100, 99, Snid, "MDAT Hausarzt erheben, speichern, verarbeiten, nutzen (SNID)", "SNID: collect, store, process, use family doctor's data", Na, Y30),
    row(101, 99, Snid, "IDAT bereitstellen Hausarzt (SNID)", "SNID: provide identifying data to the family doctor", Na, Y30),
    row(102, 0, Dzpg, "Z5 PATDAT, BIOMAT, PHENO erheben, speichern, gewinnen, lagern, zusätzlich nutzen (DZPG)", "Z5 DZPG: additional patient data, biomaterial, phenotypes (module)", Group, None),
    row(103, 102, Dzpg, "MDAT Zusatzdaten PHAENO erheben (DZPG)", "DZPG: collect additional phenotype data", Na, Y5),
    row(104, 102, Dzpg, "MDAT speichern verarbeiten (DZPG)", "DZPG: store and process medical data", Na, Y30),
    row(105, 102, Dzpg, "MDAT wissenschaftlich nutzen (DZPG)", "DZPG: scientific use of medical data", Na, Y30),
    row(106, 102, Dzpg, "MDAT zusammenführen mit Dritten (DZPG)", "DZPG: merge medical data with third parties", Na, Y30),
    row(107, 102, Dzpg, "BIOMAT Zusatzmaterial entnehmen (DZPG)", "DZPG: take additional biomaterial", Na, Y5),
    row(108, 102, Dzpg, "BIOMAT Zusatzmaterial lagern verarbeiten (DZPG)", "DZPG: store and process additional biomaterial", Na, Y30),
    row(109, 102, Dzpg, "BIOMAT wissenschaftlich nutzen (DZPG)", "DZPG: scientific use of biomaterial", Na, Y30),
    row(110, 102, Dzpg, "BIOMAT zusammenführen mit Dritten (DZPG)", "DZPG: merge biomaterial data with third parties", Na, Y30),
    row(111, 0, Dzpg, "Z5 NEURODAT, IMGDAT erheben, speichern, zusätzlich nutzen (DZPG)", "Z5 DZPG: neuro and imaging data (module)", Group, None),
    row(112, 111, Dzpg, "IMGDAT erheben (DZPG)", "DZPG: collect imaging data", Na, Y5),
    row(113, 111, Dzpg, "IMGDAT speichern, verarbeiten (DZPG)", "DZPG: store and process imaging data", Na, Y30),
    row(114, 111, Dzpg, "IMGDAT wissenschaftlich nutzen (DZPG)", "DZPG: scientific use of imaging data", Na, Y30),
    row(115, 111, Dzpg, "IMGDAT zusammenführen mit Dritten (DZPG)", "DZPG: merge imaging data with third parties", Na, Y30),
    row(116, 111, Dzpg, "NEURODAT erheben (DZPG)", "DZPG: collect neuro data", Na, Y5),
    row(117, 111, Dzpg, "NEURODAT speichern, verarbeiten (DZPG)", "DZPG: store and process neuro data", Na, Y30),
    row(118, 111, Dzpg, "NEURODAT wissenschaftlich nutzen (DZPG)", "DZPG: scientific use of neuro data", Na, Y30),
    row(119, 111, Dzpg, "NEURODAT zusammenführen mit Dritten (DZPG)", "DZPG: merge neuro data with third parties", Na, Y30),
    row(120, 0, Dzpg, "Z5 IPSC Verbunddaten gewinnen, speichern, nutzen (DZPG)", "Z5 DZPG: iPSC network data (module)", Group, None),
    row(121, 120, Dzpg, "IPSC Verbunddaten gewinnen (DZPG)", "DZPG: derive iPSC network data", Na, Y5),
    row(122, 120, Dzpg, "IPSC Verbunddaten speichern, verarbeiten (DZPG)", "DZPG: store and process iPSC network data", Na, Y30),
    row(123, 120, Dzpg, "IPSC Verbunddaten wissenschaftlich nutzen (DZPG)", "DZPG: scientific use of iPSC network data", Na, Y30),
    row(124, 120, Dzpg, "IPSC Verbunddaten zusammenführen mit Dritten (DZPG)", "DZPG: merge iPSC network data with third parties", Na, Y30),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_consistent() {
        let mut arcs: Vec<u16> = MII_POLICIES.iter().map(|p| p.arc).collect();
        arcs.sort_unstable();
        assert_eq!(
            arcs,
            (1..=124).collect::<Vec<u16>>(),
            "every code .1 to .124 exactly once"
        );
        for p in &MII_POLICIES {
            if let Some(parent) = p.parent {
                let g = MiiCode::from_arc(parent).expect("parent in table").policy();
                assert_eq!(g.scope, Scope::Group, "parent of .{} is a group", p.arc);
                assert_eq!(g.module, p.module, "module of .{}", p.arc);
                assert_eq!(g.parent, None, "groups are roots");
            } else {
                assert_eq!(
                    p.scope,
                    Scope::Group,
                    ".{} without parent is a group",
                    p.arc
                );
            }
        }
        let deprecated: Vec<u16> = MII_POLICIES
            .iter()
            .filter(|p| p.deprecated)
            .map(|p| p.arc)
            .collect();
        assert_eq!(deprecated, vec![46, 47, 16, 17, 41, 42]);
    }

    #[test]
    fn oid_spelling() {
        assert_eq!(
            MiiCode::from_oid("2.16.840.1.113883.3.1937.777.24.5.3.8").map(MiiCode::arc),
            Some(8)
        );
        for bad in [
            "2.16.840.1.113883.3.1937.777.24.5.3.08",
            "2.16.840.1.113883.3.1937.777.24.5.3.+8",
            "2.16.840.1.113883.3.1937.777.24.5.3.0",
            "2.16.840.1.113883.3.1937.777.24.5.3.125",
            "2.16.840.1.113883.3.1937.777.24.5.3",
            "8",
        ] {
            assert_eq!(MiiCode::from_oid(bad), None, "{bad}");
        }
        assert_eq!(
            MiiCode::from_arc(22).unwrap().oid(),
            "2.16.840.1.113883.3.1937.777.24.5.3.22"
        );
    }
}
