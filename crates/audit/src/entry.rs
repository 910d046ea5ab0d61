//! Audit entries and checkpoints, with their canonical bytes and hashes.

use crate::canonical::{write_str, write_value};
use chrono::{DateTime, SecondsFormat, Timelike as _, Utc};
use oncofed_crypto::{CryptoError, PublicKey, Signature, SigningKeyPair};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Prefix hashed before an entry's canonical bytes (domain separation).
pub const ENTRY_DOMAIN: &[u8] = b"oncofed-audit-entry-v1\0";

/// Prefix signed before a checkpoint's canonical bytes (domain separation).
pub const CHECKPOINT_DOMAIN: &[u8] = b"oncofed-audit-checkpoint-v1\0";

/// `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One event at the research hub: a query, approval, task, result or release
/// (requirement R17). The JSON form is the one in exports.
///
/// # Hash
///
/// ```text
/// hash = lowercase_hex(SHA-256(ENTRY_DOMAIN || canonical_bytes))
/// canonical_bytes =
///   {"seq":<decimal>,"at":"<timestamp>","actor":<string>,"action":<string>,
///    "subject":<string>,"details":<canonical JSON>,"prev_hash":<string>}
/// ```
///
/// on one line, without whitespace, fields in exactly this order; strings and
/// `details` as in [`canonical_json`](crate::canonical_json); `<timestamp>` is
/// RFC 3339 in UTC with exactly six fractional digits and `Z`
/// (`2025-01-31T09:15:00.123456Z`). Audit timestamps have microsecond
/// precision; a timestamp with finer digits cannot be hashed and counts as an
/// edit. `prev_hash` of entry 0 is [`GENESIS_HASH`]. A fixed example with its
/// hash is pinned in this crate's tests (`known_answer`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Position in the chain: 0, 1, 2, ... without gaps.
    pub seq: u64,
    /// When the entry was appended (UTC, microsecond precision).
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
    /// Who acted: a user, site or service identifier.
    pub actor: String,
    /// What happened, dotted lowercase: `query.submitted`, `task.issued`,
    /// `result.received`, `release`.
    pub action: String,
    /// What it happened to, e.g. a query id.
    pub subject: String,
    /// Further facts; hashed in canonical form, so key order does not matter.
    pub details: serde_json::Value,
    /// `hash` of the previous entry; [`GENESIS_HASH`] for entry 0.
    pub prev_hash: String,
    /// Hex SHA-256 over [`ENTRY_DOMAIN`] and [`canonical_bytes`](Self::canonical_bytes).
    pub hash: String,
}

impl AuditEntry {
    /// The canonical serialisation of every field except `hash` (see the
    /// module docs), which the hash covers.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(256);
        out.push_str("{\"seq\":");
        out.push_str(&self.seq.to_string());
        out.push_str(",\"at\":\"");
        out.push_str(&format_timestamp(&self.at));
        out.push_str("\",\"actor\":");
        write_str(&self.actor, &mut out);
        out.push_str(",\"action\":");
        write_str(&self.action, &mut out);
        out.push_str(",\"subject\":");
        write_str(&self.subject, &mut out);
        out.push_str(",\"details\":");
        write_value(&self.details, &mut out);
        out.push_str(",\"prev_hash\":");
        write_str(&self.prev_hash, &mut out);
        out.push('}');
        out.into_bytes()
    }

    /// The hash this entry should carry, from its other fields.
    pub fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(ENTRY_DOMAIN);
        hasher.update(self.canonical_bytes());
        hex::encode(hasher.finalize())
    }

    /// Whether `hash` matches the other fields and `at` is representable in
    /// the canonical form.
    pub fn hash_is_valid(&self) -> bool {
        is_microsecond_precise(&self.at) && self.hash == self.compute_hash()
    }
}

/// A signed statement by the hub that entry `seq` has hash `hash`, which
/// fixes that entry and, through the chain, every entry before it.
///
/// # Signature
///
/// ```text
/// Ed25519(CHECKPOINT_DOMAIN || {"seq":<decimal>,"hash":<string>,"at":"<timestamp>"})
/// ```
///
/// with the same string and timestamp forms as [`AuditEntry`]'s hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The entry covered.
    pub seq: u64,
    /// That entry's hash.
    pub hash: String,
    /// When the checkpoint was made (UTC, microsecond precision).
    #[serde(with = "timestamp")]
    pub at: DateTime<Utc>,
    /// Ed25519 signature over [`signed_bytes`](Self::signed_bytes).
    pub signature: Signature,
}

impl Checkpoint {
    /// Signs a checkpoint over entry `seq` with hash `hash`.
    pub fn sign(seq: u64, hash: &str, at: DateTime<Utc>, key: &SigningKeyPair) -> Self {
        let at = truncate_to_micros(at);
        let signature = key.sign(&checkpoint_bytes(seq, hash, &at));
        Self {
            seq,
            hash: hash.to_owned(),
            at,
            signature,
        }
    }

    /// The bytes the signature covers (see the module docs).
    pub fn signed_bytes(&self) -> Vec<u8> {
        checkpoint_bytes(self.seq, &self.hash, &self.at)
    }

    /// Checks the signature against the hub's public key.
    pub fn verify(&self, trusted: &PublicKey) -> Result<(), CryptoError> {
        if !is_microsecond_precise(&self.at) {
            return Err(CryptoError::BadSignature);
        }
        trusted.verify(&self.signed_bytes(), &self.signature)
    }
}

fn checkpoint_bytes(seq: u64, hash: &str, at: &DateTime<Utc>) -> Vec<u8> {
    let mut out = String::with_capacity(160);
    out.push_str("{\"seq\":");
    out.push_str(&seq.to_string());
    out.push_str(",\"hash\":");
    write_str(hash, &mut out);
    out.push_str(",\"at\":\"");
    out.push_str(&format_timestamp(at));
    out.push_str("\"}");
    let mut bytes = CHECKPOINT_DOMAIN.to_vec();
    bytes.extend_from_slice(out.as_bytes());
    bytes
}

/// RFC 3339, UTC, six fractional digits, `Z`.
pub(crate) fn format_timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = at.nanosecond();
    at.with_nanosecond(nanos - nanos % 1_000).unwrap_or(at)
}

fn is_microsecond_precise(at: &DateTime<Utc>) -> bool {
    // (Written without `is_multiple_of` to keep the workspace MSRV of 1.85.)
    at.timestamp_subsec_micros() * 1_000 == at.timestamp_subsec_nanos()
}

/// Serde for audit timestamps: written in the canonical form; any RFC 3339
/// offset is accepted on reading, finer than microseconds is refused.
mod timestamp {
    use super::{format_timestamp, is_microsecond_precise};
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(at))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let at = DateTime::parse_from_rfc3339(&text)
            .map_err(|_| D::Error::custom("not an RFC 3339 timestamp"))?
            .with_timezone(&Utc);
        if !is_microsecond_precise(&at) {
            return Err(D::Error::custom("timestamp finer than microseconds"));
        }
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Pins the canonical form: an independent implementation (this value was
    /// computed with Python's hashlib over the documented bytes) must agree.
    #[test]
    fn known_answer() {
        let entry = AuditEntry {
            seq: 7,
            at: DateTime::parse_from_rfc3339("2025-01-31T09:15:00.123456Z")
                .unwrap()
                .to_utc(),
            actor: "researcher:ana".into(),
            action: "query.submitted".into(),
            subject: "q-42".into(),
            details: json!({"purpose": "survival", "cohort": {"icd10": ["C90.0"], "min": 10}}),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        };
        assert_eq!(
            String::from_utf8(entry.canonical_bytes()).unwrap(),
            r#"{"seq":7,"at":"2025-01-31T09:15:00.123456Z","actor":"researcher:ana","action":"query.submitted","subject":"q-42","details":{"cohort":{"icd10":["C90.0"],"min":10},"purpose":"survival"},"prev_hash":"0000000000000000000000000000000000000000000000000000000000000000"}"#
        );
        assert_eq!(entry.compute_hash(), KNOWN_HASH);
    }

    const KNOWN_HASH: &str = "1c0e2b6fe901f2fc08c5a6533a251a89bfec9497888ed35a7c2da1c4d3f2bf21";

    #[test]
    fn sub_microsecond_timestamps_are_refused() {
        let json = r#""2025-01-31T09:15:00.123456789Z""#;
        assert!(serde_json::from_str::<Wrapper>(&format!(r#"{{"at":{json}}}"#)).is_err());
        let ok = r#"{"at":"2025-01-31T10:15:00.123456+01:00"}"#;
        let w: Wrapper = serde_json::from_str(ok).unwrap();
        assert_eq!(format_timestamp(&w.at), "2025-01-31T09:15:00.123456Z");
    }

    #[derive(Deserialize)]
    struct Wrapper {
        #[serde(with = "timestamp")]
        at: DateTime<Utc>,
    }
}
