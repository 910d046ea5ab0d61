//! What carries envelopes between sites: the hub in production
//! (`POST`/`GET /v1/swarm/{run}/messages`), [`MemoryRelay`] in tests.

use crate::Envelope;
use std::sync::Mutex;

/// A store-and-forward channel for envelopes. It sees only headers and
/// ciphertexts; sites never trust it for anything but delivery.
pub trait Relay {
    /// Why a call failed.
    type Error: std::error::Error;

    /// Stores an envelope for its addressee; returns its sequence number.
    fn post(&self, envelope: Envelope) -> Result<u64, Self::Error>;

    /// The envelopes of `run` addressed to `site` with sequence numbers above
    /// `after`, in sequence order. A site persists the highest number it has
    /// handled and passes it as `after` next time.
    fn fetch(&self, run: &str, site: &str, after: u64)
    -> Result<Vec<(u64, Envelope)>, Self::Error>;
}

/// An in-memory [`Relay`] for tests and simulations; keeps every envelope so
/// a test can inspect what a relay would have stored.
#[derive(Debug, Default)]
pub struct MemoryRelay {
    stored: Mutex<Vec<Envelope>>,
}

/// The in-memory relay's lock was poisoned by a panicking thread.
#[derive(Debug, thiserror::Error)]
#[error("the in-memory relay's lock is poisoned")]
pub struct Poisoned;

impl MemoryRelay {
    /// An empty relay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every envelope posted so far, in order (sequence number = index + 1).
    pub fn stored(&self) -> Result<Vec<Envelope>, Poisoned> {
        self.stored.lock().map(|s| s.clone()).map_err(|_| Poisoned)
    }
}

impl Relay for MemoryRelay {
    type Error = Poisoned;

    fn post(&self, envelope: Envelope) -> Result<u64, Poisoned> {
        let mut s = self.stored.lock().map_err(|_| Poisoned)?;
        s.push(envelope);
        Ok(s.len() as u64)
    }

    fn fetch(&self, run: &str, site: &str, after: u64) -> Result<Vec<(u64, Envelope)>, Poisoned> {
        let s = self.stored.lock().map_err(|_| Poisoned)?;
        Ok(s.iter()
            .enumerate()
            .map(|(i, e)| (i as u64 + 1, e))
            .filter(|(seq, e)| *seq > after && e.run == run && e.to == site)
            .map(|(seq, e)| (seq, e.clone()))
            .collect())
    }
}
