//! Parsing a FHIR R4 Consent resource (JSON) into a [`Consent`].
//!
//! Only the elements the decision needs are read (FHIR R4 `Consent`):
//! `resourceType`, `id`, `status`, `dateTime`, `policy[].uri`, and the
//! `provision` tree with `type`, `period` and `code` at every level. Errors name the element by its path
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
            })
        }
        _ => None,
    }
}

fn day_range(first: NaiveDate, last: NaiveDate) -> FhirDateTime {
    FhirDateTime {
        instant: first.and_hms_opt(0, 0, 0).expect("midnight exists"),
        first_day: first,
        last_day: last,
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
/// carries codes needs a `type`, its own or an enclosing provision's. Within one
/// `code` CodeableConcept, codings of other systems are ignored when a coding
/// of the MII or OncoFed system is present; a concept with none of those (or
/// with a code missing from the tables) becomes [`PolicyCode::Unrecognised`].
/// `policy[].uri` naming an MII refusal or withdrawal document sets
/// [`Consent::document`].
pub fn parse_consent(v: &Value) -> Result<Consent, ConsentParseError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err("(resource)", "expected a JSON object"))?;
    match obj.get("resourceType") {
        Some(Value::String(t)) if t == "Consent" => {}
        Some(_) => return Err(err("resourceType", "expected `Consent`")),
        None => return Err(err("resourceType", "required")),
    }
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
        codes,
        provisions,
    })
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

fn parse_codes(v: &Value, path: &str) -> Result<Vec<PolicyCode>, ConsentParseError> {
    let items = v
        .as_array()
        .ok_or_else(|| err(path, "expected an array of CodeableConcept"))?;
    let mut out = Vec::new();
    for (i, cc) in items.iter().enumerate() {
        let cc_path = format!("{path}[{i}]");
        let cc = cc
            .as_object()
            .ok_or_else(|| err(cc_path.as_str(), "expected a CodeableConcept object"))?;
        let mut recognised = Vec::new();
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
                if let (Some(system), Some(code)) = (field("system")?, field("code")?)
                    && let Some(known) = PolicyCode::from_coding(system, code)
                {
                    recognised.push(known);
                }
            }
        }
        // Fail closed: a concept the engine cannot read is about something unknown.
        if recognised.is_empty() {
            recognised.push(PolicyCode::Unrecognised);
        }
        for code in recognised {
            if !out.contains(&code) {
                out.push(code);
            }
        }
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
mod tests {
    use super::*;
    use serde_json::json;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn fhir_datetimes() {
        let y = parse_fhir_datetime("2024").unwrap();
        assert_eq!((y.first_day, y.last_day), (d(2024, 1, 1), d(2024, 12, 31)));
        let m = parse_fhir_datetime("2024-02").unwrap();
        assert_eq!((m.first_day, m.last_day), (d(2024, 2, 1), d(2024, 2, 29)));
        let dec = parse_fhir_datetime("2023-12").unwrap();
        assert_eq!(dec.last_day, d(2023, 12, 31));
        let t = parse_fhir_datetime("2024-03-01T00:30:00+01:00").unwrap();
        assert_eq!(t.first_day, d(2024, 3, 1));
        assert_eq!(t.instant, d(2024, 2, 29).and_hms_opt(23, 30, 0).unwrap());
        assert!(parse_fhir_datetime("2024-03-01T10:00:00.123Z").is_some());
        for bad in [
            "",
            "24",
            "2024-13",
            "2024-02-30",
            "2024-1-01",
            "+024-01-01",
            "2024-03-01T10:00",
            "yesterday",
        ] {
            assert_eq!(parse_fhir_datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn mii_broad_consent_shape() {
        let c = parse_consent(&json!({
            "resourceType": "Consent", "id": "bc-1", "status": "active", "dateTime": "2023-05-01",
            "policy": [{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"}],
            "provision": {"type": "deny", "period": {"start": "2023-05-01", "end": "2028-04-30"},
                "provision": [{"type": "permit", "period": {"start": "2023-05-01", "end": "2028-04-30"},
                    "code": [{"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3",
                        "code": "2.16.840.1.113883.3.1937.777.24.5.3.8", "display": "MDAT wissenschaftlich nutzen"}]},
                        {"coding": [{"system": "urn:oid:2.16.840.1.113883.3.1937.777.24.5.3", "code": "2.16.840.1.113883.3.1937.777.24.5.3.6"}]}]}]}
        }))
        .unwrap();
        assert_eq!(c.resource_id.as_deref(), Some("bc-1"));
        assert_eq!(c.status, ConsentStatus::Active);
        let nested = &c.provision.provisions[0];
        assert_eq!(nested.kind, Some(ProvisionType::Permit));
        let mii = |arc| PolicyCode::Mii(crate::MiiCode::from_arc(arc).unwrap());
        assert_eq!(nested.codes, vec![mii(8), mii(6)]);
        assert_eq!(nested.period.end, Some(d(2028, 4, 30)));
        assert_eq!(c.document, DocumentKind::Consent);
    }

    #[test]
    fn documents_and_unrecognised_concepts() {
        let with = |policy: Value, code: Value| {
            parse_consent(
                &json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
                "policy": policy, "provision": {"type": "deny", "code": code}}),
            )
        };
        let coding =
            |system: &str, code: &str| json!([{"coding": [{"system": system, "code": code}]}]);
        let withdrawal = json!([{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.1791"},
                                {"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2720"}]);
        let c = with(
            withdrawal,
            coding(
                crate::MII_POLICY_SYSTEM,
                "2.16.840.1.113883.3.1937.777.24.5.3.8",
            ),
        )
        .unwrap();
        assert_eq!(c.document, DocumentKind::FullWithdrawal);
        let partial = json!([{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.2723"}]);
        assert_eq!(
            with(partial, json!([])).unwrap().document,
            DocumentKind::PartialWithdrawal
        );
        let refusal = json!([{"uri": "urn:oid:2.16.840.1.113883.3.1937.777.24.2.4054"}]);
        assert_eq!(
            with(refusal, json!([])).unwrap().document,
            DocumentKind::Refusal
        );
        let other = json!([{"uri": "https://example.org/policy"}]);
        assert_eq!(
            with(other.clone(), json!([])).unwrap().document,
            DocumentKind::Consent
        );
        // Unknown MII code, unknown OncoFed code, foreign-only concept, text-only concept.
        for code in [
            coding(
                crate::MII_POLICY_SYSTEM,
                "2.16.840.1.113883.3.1937.777.24.5.3.999",
            ),
            coding(crate::ONCOFED_POLICY_SYSTEM, "everything"),
            coding("http://example.org", "gdng-objection"),
            json!([{"text": "Widerspruch"}]),
        ] {
            assert_eq!(
                with(other.clone(), code).unwrap().provision.codes,
                vec![PolicyCode::Unrecognised]
            );
        }
        // A foreign coding beside a known one is ignored.
        let mixed = json!([{"coding": [{"system": "http://example.org", "code": "x"},
                                       {"system": crate::ONCOFED_POLICY_SYSTEM, "code": "withdrawal"}]}]);
        assert_eq!(
            with(other.clone(), mixed).unwrap().provision.codes,
            vec![PolicyCode::Withdrawal]
        );
        assert_eq!(
            with(json!({"uri": "x"}), json!([])).unwrap_err().field,
            "policy"
        );
        assert_eq!(
            with(json!([{"uri": 5}]), json!([])).unwrap_err().field,
            "policy[0].uri"
        );
    }

    #[test]
    fn errors_name_the_field_not_the_value() {
        let base = || {
            json!({"resourceType": "Consent", "status": "active", "dateTime": "2024-01-01",
                   "patient": {"reference": "Patient/p1", "display": "Erika Mustermann"},
                   "provision": {"type": "deny", "code": [{"coding": [{"system": "urn:oncofed:consent-policy", "code": "withdrawal"}]}]}})
        };
        assert!(parse_consent(&base()).is_ok());
        type Mutation = Box<dyn Fn(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|v| v["resourceType"] = json!("Patient")),
                "resourceType",
            ),
            (
                Box::new(|v| v["status"] = json!("Erika Mustermann")),
                "status",
            ),
            (
                Box::new(|v| _ = v.as_object_mut().unwrap().remove("dateTime")),
                "dateTime",
            ),
            (
                Box::new(|v| v["dateTime"] = json!("12.08.1964")),
                "dateTime",
            ),
            (Box::new(|v| v["id"] = json!("Erika Mustermann")), "id"),
            (
                Box::new(|v| _ = v.as_object_mut().unwrap().remove("provision")),
                "provision",
            ),
            (
                Box::new(|v| v["provision"]["type"] = json!("maybe")),
                "provision.type",
            ),
            (
                Box::new(|v| _ = v["provision"].as_object_mut().unwrap().remove("type")),
                "provision.type",
            ),
            (
                Box::new(|v| v["provision"]["period"] = json!({"end": "Mustermann"})),
                "provision.period.end",
            ),
            (
                Box::new(|v| {
                    v["provision"]["period"] = json!({"start": "2025-01-01", "end": "2024-01-01"})
                }),
                "provision.period",
            ),
            (
                Box::new(|v| v["provision"]["code"] = json!("withdrawal")),
                "provision.code",
            ),
            (
                Box::new(|v| {
                    v["provision"]["provision"] = json!([{}, {"code": [{"coding": [{"code": 5}]}]}])
                }),
                "provision.provision[1].code[0].coding[0].code",
            ),
        ];
        for (mutate, field) in cases {
            let mut v = base();
            mutate(&mut v);
            let e = parse_consent(&v).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            let msg = e.to_string();
            assert!(
                !msg.contains("Erika") && !msg.contains("Mustermann") && !msg.contains("1964"),
                "{msg}"
            );
        }
    }

    #[test]
    fn nested_provisions_inherit_type_and_depth_is_bounded() {
        let c = parse_consent(
            &json!({"resourceType": "Consent", "status": "active", "dateTime": "2024",
            "provision": {"type": "permit", "provision": [{"code": [{"coding": [
                {"system": "urn:oncofed:consent-policy", "code": "genetic-research"}]}]}]}}),
        )
        .unwrap();
        assert_eq!(c.provision.provisions[0].kind, Some(ProvisionType::Permit));
        let mut deep = json!({"type": "deny"});
        for _ in 0..MAX_DEPTH {
            deep = json!({"provision": [deep]});
        }
        let v = json!({"resourceType": "Consent", "status": "active", "dateTime": "2024", "provision": deep});
        assert_eq!(
            parse_consent(&v).unwrap_err().problem,
            "provisions nested too deeply"
        );
    }
}
