//! Parsing a FHIR R4 Consent resource (JSON) into a [`Consent`].
//!
//! Only the elements the decision needs are read (FHIR R4 `Consent`):
//! `resourceType`, `id`, `status`, `dateTime`, `policy[].uri`, gICS's template
//! type in `category`, and the `provision` tree with `type`, `period`,
//! `dataPeriod` and `code` at every level. A resource carrying
//! `implicitRules` or a `modifierExtension` anywhere is refused: FHIR requires
//! a reader that does not understand a modifier to refuse the resource, and
//! OncoFed understands none. Errors name the element by its path
//! (`provision.provision[1].period.end`) and never quote its value, because a
//! Consent may carry personal data.

use crate::model::{
    Consent, ConsentStatus, DocumentKind, FhirDateTime, Period, PolicyCode, Provision,
    ProvisionType,
};
use chrono::{DateTime, Datelike, NaiveDate};
use serde_json::{Map, Value};

/// Deepest `provision` nesting accepted (the MII broad consent uses two levels).
const MAX_DEPTH: usize = 8;

/// Why a Consent resource was refused: the element's path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ConsentParseError {
    /// Path of the offending element, e.g. `provision.provision[0].type`.
    pub field: String,
    /// What is wrong, without the element's value.
    pub problem: &'static str,
}

fn err(field: impl Into<String>, problem: &'static str) -> ConsentParseError {
    ConsentParseError {
        field: field.into(),
        problem,
    }
}

/// Parses the FHIR `dateTime` forms: `YYYY`, `YYYY-MM`, `YYYY-MM-DD` and
/// `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm)`.
pub fn parse_fhir_datetime(s: &str) -> Option<FhirDateTime> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
    };
    match b.len() {
        4 if digits(0..4) => {
            let year = s.parse().ok()?;
            let first = NaiveDate::from_ymd_opt(year, 1, 1)?;
            Some(day_range(first, NaiveDate::from_ymd_opt(year, 12, 31)?))
        }
        7 if digits(0..4) && b[4] == b'-' && digits(5..7) => {
            let first = NaiveDate::from_ymd_opt(s[..4].parse().ok()?, s[5..7].parse().ok()?, 1)?;
            let next = if first.month() == 12 {
                NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)?
            };
            Some(day_range(first, next.pred_opt()?))
        }
        10 if digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10) => {
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            Some(day_range(d, d))
        }
        n if n > 10 && digits(0..4) && b[10] == b'T' => {
            let t = DateTime::parse_from_rfc3339(s).ok()?;
            let local = t.date_naive();
            Some(FhirDateTime {
                instant: t.naive_utc(),
                first_day: local,
                last_day: local,
                precise: true,
            })
        }
        _ => None,
    }
}

fn day_range(first: NaiveDate, last: NaiveDate) -> FhirDateTime {
    FhirDateTime {
        instant: first.and_time(chrono::NaiveTime::MIN),
        first_day: first,
        last_day: last,
        precise: false,
    }
}

/// The FHIR id rule: 1–64 of `A-Z a-z 0-9 - .`.
fn is_fhir_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
}

/// Parses a FHIR R4 Consent resource.
///
/// Required: `resourceType` `Consent`, `status` (a FHIR `ConsentState` code),
/// `dateTime` (it orders consents), `provision` (an object). Every provision that
/// carries codes needs a `type`, its own or an enclosing provision's. Refused
/// (fail closed): `implicitRules`, a `modifierExtension` anywhere, an unknown
/// gICS template type. Within one `code` CodeableConcept, codings of other
/// systems are ignored when a coding of the MII, OncoFed or gICS system is
/// read; a concept with codings of other systems only is ignored beside a
/// readable concept of the same provision; otherwise, and for a concept
/// without codings or with a code missing from the tables, it becomes
/// [`PolicyCode::Unrecognised`]. `policy[].uri` naming an MII refusal or
/// withdrawal document (`urn:oid:` or bare OID), or a gICS template type in
/// `category`, sets [`Consent::document`].
pub fn parse_consent(v: &Value) -> Result<Consent, ConsentParseError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err("(resource)", "expected a JSON object"))?;
    match obj.get("resourceType") {
        Some(Value::String(t)) if t == "Consent" => {}
        Some(_) => return Err(err("resourceType", "expected `Consent`")),
        None => return Err(err("resourceType", "required")),
    }
    if obj.contains_key("implicitRules") {
        return Err(err(
            "implicitRules",
            "the resource was written under rules OncoFed does not know: refused (fail closed)",
        ));
    }
    refuse_modifiers(v, "", 0)?;
    let resource_id = match obj.get("id") {
        None => None,
        Some(Value::String(id)) if is_fhir_id(id) => Some(id.clone()),
        Some(_) => {
            return Err(err(
                "id",
                "expected a FHIR id (1-64 of A-Z, a-z, 0-9, '-', '.')",
            ));
        }
    };
    let status = match required_str(obj, "status", "status")? {
        "draft" => ConsentStatus::Draft,
        "proposed" => ConsentStatus::Proposed,
        "active" => ConsentStatus::Active,
        "rejected" => ConsentStatus::Rejected,
        "inactive" => ConsentStatus::Inactive,
        "entered-in-error" => ConsentStatus::EnteredInError,
        _ => {
            return Err(err(
                "status",
                "expected draft, proposed, active, rejected, inactive or entered-in-error",
            ));
        }
    };
    let date_time =
        parse_fhir_datetime(required_str(obj, "dateTime", "dateTime")?).ok_or_else(|| {
            err(
                "dateTime",
                "expected a FHIR dateTime (YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)",
            )
        })?;
    let provision = match obj.get("provision") {
        Some(p) => parse_provision(p, "provision", None, 0)?,
        None => {
            return Err(err(
                "provision",
                "required: a Consent without provisions decides nothing",
            ));
        }
    };
    let document = parse_document(obj)?;
    // gICS marks withdrawals and refusals by its template type (in `category`);
    // the more serious of that and the policy URI counts.
    let document = match crate::gics::template_document(obj)? {
        Some(k) if crate::engine::seriousness(k) > crate::engine::seriousness(document) => k,
        _ => document,
    };
    Ok(Consent {
        resource_id,
        status,
        date_time,
        document,
        provision,
    })
}

fn required_str<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, ConsentParseError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(err(path, "expected a string")),
        None => Err(err(path, "required")),
    }
}

fn parse_provision(
    v: &Value,
    path: &str,
    inherited: Option<ProvisionType>,
    depth: usize,
) -> Result<Provision, ConsentParseError> {
    if depth >= MAX_DEPTH {
        return Err(err(path, "provisions nested too deeply"));
    }
    let obj = v
        .as_object()
        .ok_or_else(|| err(path, "expected an object"))?;
    let kind = match obj.get("type") {
        None => None,
        Some(Value::String(t)) if t == "permit" => Some(ProvisionType::Permit),
        Some(Value::String(t)) if t == "deny" => Some(ProvisionType::Deny),
        Some(_) => return Err(err(format!("{path}.type"), "expected permit or deny")),
    };
    let effective = kind.or(inherited);
    let period = match obj.get("period") {
        None => Period::default(),
        Some(p) => parse_period(p, &format!("{path}.period"))?,
    };
    let data_period = match obj.get("dataPeriod") {
        None => Period::default(),
        Some(p) => parse_period(p, &format!("{path}.dataPeriod"))?,
    };
    let codes = match obj.get("code") {
        None => Vec::new(),
        Some(c) => parse_codes(c, &format!("{path}.code"))?,
    };
    if !codes.is_empty() && effective.is_none() {
        return Err(err(
            format!("{path}.type"),
            "a provision with codes needs a type (permit or deny), its own or an enclosing provision's",
        ));
    }
    let provisions = match obj.get("provision") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, p)| {
                parse_provision(p, &format!("{path}.provision[{i}]"), effective, depth + 1)
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(err(format!("{path}.provision"), "expected an array")),
    };
    Ok(Provision {
        kind: effective,
        period,
        data_period,
        type_inherited: kind.is_none() && effective.is_some(),
        codes,
        provisions,
    })
}

/// Refuses a `modifierExtension` anywhere in the resource (named by its path).
fn refuse_modifiers(v: &Value, path: &str, depth: usize) -> Result<(), ConsentParseError> {
    // serde_json bounds nesting at 128 levels; a Consent this deep is not one.
    if depth > 64 {
        return Err(err(path, "nested too deeply"));
    }
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match v {
        Value::Object(map) => {
            if map.contains_key("modifierExtension") {
                return Err(err(
                    join("modifierExtension"),
                    "a modifier extension may change the meaning of the resource and OncoFed understands none: refused (fail closed)",
                ));
            }
            map.iter()
                .try_for_each(|(k, child)| refuse_modifiers(child, &join(k), depth + 1))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, child)| refuse_modifiers(child, &format!("{path}[{i}]"), depth + 1)),
        _ => Ok(()),
    }
}

fn parse_period(v: &Value, path: &str) -> Result<Period, ConsentParseError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err(path, "expected an object"))?;
    let bound = |key: &str| -> Result<Option<FhirDateTime>, ConsentParseError> {
        match obj.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => parse_fhir_datetime(s)
                .map(Some)
                .ok_or_else(|| err(format!("{path}.{key}"), "expected a FHIR dateTime")),
            Some(_) => Err(err(format!("{path}.{key}"), "expected a string")),
        }
    };
    let (start, end) = (bound("start")?, bound("end")?);
    if let (Some(s), Some(e)) = (start, end)
        && s.first_day > e.last_day
    {
        return Err(err(path, "start is after end"));
    }
    Ok(Period {
        start: start.map(|s| s.first_day),
        end: end.map(|e| e.last_day),
    })
}

/// The codes of a provision. A concept of a known system (MII, OncoFed, gICS)
/// whose code is not in the tables is [`PolicyCode::Unrecognised`]; so is a
/// concept without codings. A concept whose codings are all of other systems
/// is ignored when another concept of the same provision is read (gICS sends
/// its own code as a separate concept beside the MII one), else unrecognised.
fn parse_codes(v: &Value, path: &str) -> Result<Vec<PolicyCode>, ConsentParseError> {
    let items = v
        .as_array()
        .ok_or_else(|| err(path, "expected an array of CodeableConcept"))?;
    let mut out = Vec::new();
    let mut foreign = false;
    for (i, cc) in items.iter().enumerate() {
        let cc_path = format!("{path}[{i}]");
        let cc = cc
            .as_object()
            .ok_or_else(|| err(cc_path.as_str(), "expected a CodeableConcept object"))?;
        let mut recognised = Vec::new();
        let mut any_coding = false;
        if let Some(codings) = cc.get("coding") {
            let codings = codings
                .as_array()
                .ok_or_else(|| err(format!("{cc_path}.coding"), "expected an array"))?;
            for (j, coding) in codings.iter().enumerate() {
                let c_path = format!("{cc_path}.coding[{j}]");
                let coding = coding
                    .as_object()
                    .ok_or_else(|| err(c_path.as_str(), "expected a Coding object"))?;
                let field = |key: &str| match coding.get(key) {
                    None => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.as_str())),
                    Some(_) => Err(err(format!("{c_path}.{key}"), "expected a string")),
                };
                if let (Some(system), Some(code)) = (field("system")?, field("code")?) {
                    any_coding = true;
                    let known = PolicyCode::from_coding(system, code)
                        .or_else(|| crate::gics::policy_code(system, code));
                    recognised.extend(known);
                }
            }
        }
        // A concept with a known code of a known system: the MII/OncoFed code
        // wins over a gICS one in the same concept when both are read.
        if recognised.len() > 1 && recognised.iter().any(|c| *c != PolicyCode::Unrecognised) {
            recognised.retain(|c| *c != PolicyCode::Unrecognised);
        }
        if recognised.is_empty() {
            if any_coding {
                foreign = true;
                continue;
            }
            // Fail closed: a concept without codings is about something unknown.
            recognised.push(PolicyCode::Unrecognised);
        }
        for code in recognised {
            if !out.contains(&code) {
                out.push(code);
            }
        }
    }
    if foreign && out.is_empty() {
        out.push(PolicyCode::Unrecognised);
    }
    Ok(out)
}

/// The document kind from `policy[].uri`: the most restrictive MII document named.
fn parse_document(obj: &Map<String, Value>) -> Result<DocumentKind, ConsentParseError> {
    let rank = crate::engine::seriousness;
    let mut kind = DocumentKind::Consent;
    let Some(policies) = obj.get("policy") else {
        return Ok(kind);
    };
    let policies = policies
        .as_array()
        .ok_or_else(|| err("policy", "expected an array"))?;
    for (i, p) in policies.iter().enumerate() {
        let p = p
            .as_object()
            .ok_or_else(|| err(format!("policy[{i}]"), "expected an object"))?;
        match p.get("uri") {
            None => {}
            Some(Value::String(uri)) => {
                if let Some(k) = DocumentKind::from_policy_uri(uri)
                    && rank(k) > rank(kind)
                {
                    kind = k;
                }
            }
            Some(_) => return Err(err(format!("policy[{i}].uri"), "expected a string")),
        }
    }
    Ok(kind)
}

#[cfg(test)]
#[path = "fhir_tests.rs"]
mod tests;
