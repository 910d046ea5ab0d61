//! Registering a chunk's Consent resources at the trust centre, unit by unit when
//! it refuses some.
//!
//! The mapper already refuses what the trust centre's parser refuses
//! (`oncofed-consent`), so a refusal here is rare: a newer trust centre with
//! stricter rules, a body over its size limit, a patient it does not know. The
//! trust centre validates a whole request before it stores any of it, so a refused
//! request stored nothing; sending each unit's consents in a request of their own
//! then finds the units it refuses, which are rejected with its reason while the
//! others register. Failures that are not about the content (unreachable, 5xx,
//! authentication, rate limit) stop the run as before: nothing of the chunk is
//! written, and running the same ingest again finishes the job.

use oncofed_trustee_api::{ConsentItem, MAX_BATCH, TrusteeClient, TrusteeError};

/// What registering a chunk's consents did.
#[derive(Debug, Default)]
pub struct Registered {
    /// Consents the trust centre accepted.
    pub sent: usize,
    /// Units whose consents it refused (index into the chunk's units), with the reason.
    pub refused: Vec<(usize, String)>,
}

/// Whether the trust centre refused a request for what it holds (so another
/// request without that part may succeed), rather than failing as a service.
fn refuses_content(e: &TrusteeError) -> bool {
    matches!(
        e,
        TrusteeError::Rejected {
            status: 400 | 404 | 409 | 413 | 422,
            ..
        }
    )
}

fn reason(e: &TrusteeError) -> String {
    let why = match e {
        TrusteeError::Rejected {
            status,
            code,
            message,
        } => format!("HTTP {status} {code}: {message}"),
        other => other.to_string(),
    };
    format!(
        "the trust centre refused a Consent of this unit ({why}; items[n] counts the unit's Consents from 0); \
         nothing of the unit landed"
    )
}

/// Registers `per_unit[i]`, the consents of unit `i`. Requests carry whole units
/// where they fit in [`MAX_BATCH`]; a unit with more is sent in slices (a refusal
/// of a later slice leaves the earlier ones registered, and the unit is rejected).
pub async fn register(
    trustee: &TrusteeClient,
    per_unit: &[Vec<ConsentItem>],
) -> Result<Registered, TrusteeError> {
    let mut out = Registered::default();
    let mut group: Vec<usize> = Vec::new();
    let mut size = 0;
    for (i, items) in per_unit.iter().enumerate() {
        if items.is_empty() {
            continue;
        }
        if size + items.len() > MAX_BATCH && !group.is_empty() {
            send_group(trustee, per_unit, &group, &mut out).await?;
            group.clear();
            size = 0;
        }
        if items.len() > MAX_BATCH {
            send_unit(trustee, items, i, &mut out).await?;
        } else {
            group.push(i);
            size += items.len();
        }
    }
    if !group.is_empty() {
        send_group(trustee, per_unit, &group, &mut out).await?;
    }
    Ok(out)
}

/// Sends the consents of several units in one request; if it is refused for its
/// content, sends each unit alone.
async fn send_group(
    trustee: &TrusteeClient,
    per_unit: &[Vec<ConsentItem>],
    group: &[usize],
    out: &mut Registered,
) -> Result<(), TrusteeError> {
    if let [only] = group {
        return send_unit(trustee, &per_unit[*only], *only, out).await;
    }
    let items: Vec<ConsentItem> = group
        .iter()
        .flat_map(|&i| per_unit[i].iter().cloned())
        .collect();
    let n = items.len();
    match trustee.submit_consents(items).await {
        Ok(_) => {
            out.sent += n;
            Ok(())
        }
        Err(e) if refuses_content(&e) => {
            tracing::warn!(units = group.len(), error = %e, "trust centre refused a consent batch; sending unit by unit");
            for &i in group {
                send_unit(trustee, &per_unit[i], i, out).await?;
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Sends one unit's consents; a refusal for their content rejects the unit.
async fn send_unit(
    trustee: &TrusteeClient,
    items: &[ConsentItem],
    unit: usize,
    out: &mut Registered,
) -> Result<(), TrusteeError> {
    for slice in items.chunks(MAX_BATCH) {
        match trustee.submit_consents(slice.to_vec()).await {
            Ok(_) => out.sent += slice.len(),
            Err(e) if refuses_content(&e) => {
                out.refused.push((unit, reason(&e)));
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_content_refusals_are_unit_errors() {
        let rejected = |status| TrusteeError::Rejected {
            status,
            code: "invalid".into(),
            message: "items[0].consent.status: required".into(),
        };
        for status in [400, 404, 409, 413, 422] {
            assert!(refuses_content(&rejected(status)), "{status}");
        }
        for status in [401, 403, 429, 500, 503] {
            assert!(!refuses_content(&rejected(status)), "{status}");
        }
        let down = TrusteeError::Unreachable {
            url: "http://127.0.0.1:1".into(),
            reason: "connection refused".into(),
        };
        assert!(!refuses_content(&down));
        assert!(!refuses_content(&TrusteeError::Protocol("x".into())));
        let text = reason(&rejected(400));
        assert!(text.contains("items[0].consent.status: required") && text.contains("HTTP 400"));
    }
}
