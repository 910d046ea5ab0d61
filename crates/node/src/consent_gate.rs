//! Consent at query time, answered locally from a consent snapshot that the
//! trust centre's signed, versioned feed keeps fresh; fail closed when it is not.
//!
//! The snapshot maps each of the site's pseudonyms to the person's current
//! consents in the engine's parsed form. It is filled and updated only from
//! pages of `GET /v1/consent-feed` (`oncofed_trustee_api::consent_feed`) that
//! verify under the pinned trust-centre key, answer this node's own request
//! (nonce), and start exactly at the snapshot's version: a forged, altered,
//! replayed, rolled-back or gapped page changes nothing. Pages are applied in
//! version order; each entry replaces the person's consents as a whole, so a
//! withdrawal takes effect for every later question the moment its page is
//! applied, before the deletion order runs.
//!
//! Questions are answered by [`oncofed_trustee_api::decide`], the function the
//! trust centre's own check uses: the same consents give the same answers. A
//! pseudonym the snapshot does not hold is `DenyUnknown`.
//!
//! Freshness: before answering, a snapshot older than the sync interval is
//! brought up to date (the withdrawal poller also syncs in the background,
//! [`crate::withdrawal`]). When that fails, the snapshot is used only while it
//! is younger than the staleness bound; past it (or before the first sync)
//! every question fails with [`GateError`] and nothing is released. Age counts
//! from the moment this node *sent* the request whose page reached the feed's
//! head, on the node's monotonic clock: no trust-centre clock is involved.
//!
//! The snapshot lives in memory: a restarted node rebuilds it from version 0
//! before it answers anything (fail closed meanwhile), so no file on the site
//! can hold a stale or tampered copy.

use chrono::NaiveDate;
use oncofed_consent::Consent;
use oncofed_crypto::PublicKey;
use oncofed_model::{DataCategory, Pseudonym, Purpose, SiteId};
use oncofed_trustee_api::{FeedError, FeedPage, TrusteeClient, TrusteeError, decide};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// How long a snapshot may answer when the trust centre cannot be reached, by
/// default: a withdrawal recorded meanwhile is honoured at the latest this long
/// after the node last heard from the trust centre.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(300);

/// Why consent could not be established. Every variant means "release nothing".
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The snapshot is missing or older than the bound, and the trust centre
    /// could not be reached to renew it.
    #[error(
        "consent cannot be checked, so no data is released: the consent snapshot is {age} (bound {bound_secs} s) and the trust centre cannot be reached ({source})"
    )]
    TrusteeUnavailable {
        /// How old the snapshot is, in words.
        age: String,
        /// The configured bound, seconds.
        bound_secs: u64,
        /// Why the trust centre could not be asked.
        source: TrusteeError,
    },
    /// The snapshot is missing or older than the bound, and the trust centre's
    /// answer was refused (forged, replayed, rolled back, gapped).
    #[error(
        "consent cannot be checked, so no data is released: the consent snapshot is {age} (bound {bound_secs} s) and {source}"
    )]
    FeedRefused {
        /// How old the snapshot is, in words.
        age: String,
        /// The configured bound, seconds.
        bound_secs: u64,
        /// Why the page was refused.
        source: FeedError,
    },
}

/// Why one sync failed; the snapshot is unchanged by a refused page.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The trust centre could not be asked.
    #[error(transparent)]
    Trustee(#[from] TrusteeError),
    /// A page was refused.
    #[error(transparent)]
    Refused(#[from] FeedError),
}

/// The snapshot's state, for `/metrics` and operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStatus {
    /// The feed version the snapshot holds (0: never synced).
    pub version: u64,
    /// Time since the last sync that reached the feed's head; `None`: never.
    pub age: Option<Duration>,
    /// Pseudonyms held.
    pub pseudonyms: usize,
    /// Feed pages refused so far (signature, replay, rollback, gap).
    pub pages_refused: u64,
}

#[derive(Default)]
struct Snapshot {
    version: u64,
    /// The site the first verified page was issued to; later pages must match.
    site: Option<SiteId>,
    /// When the request of the last sync that reached the head was sent.
    fresh_at: Option<Instant>,
    persons: HashMap<Pseudonym, Arc<[Consent]>>,
}

/// Answers consent questions from the site's consent snapshot.
///
/// Fail closed: when the snapshot is older than the staleness bound and cannot
/// be renewed, every question fails and the caller releases nothing.
pub struct ConsentGate {
    client: TrusteeClient,
    sync_interval: Duration,
    max_staleness: Duration,
    key: OnceLock<PublicKey>,
    /// Where a key pinned on first use is remembered ([`ConsentGate::with_key_file`]).
    key_file: Option<std::path::PathBuf>,
    snapshot: RwLock<Snapshot>,
    /// One sync at a time; questions arriving meanwhile wait for it.
    syncing: tokio::sync::Mutex<()>,
    answered: AtomicU64,
    refused_stale: AtomicU64,
    pages_refused: AtomicU64,
}

impl ConsentGate {
    /// The trust-centre client the gate reads the feed with: the same site
    /// token reports uses of persons' data (`POST /v1/usage`, e.g. by
    /// [`crate::genomics::deliver_region`]).
    pub fn trustee(&self) -> &TrusteeClient {
        &self.client
    }

    /// A gate over the feed `client` reads, syncing before it answers once the
    /// snapshot is older than `sync_interval`; staleness bound
    /// [`DEFAULT_MAX_STALENESS`] (see [`ConsentGate::with_max_staleness`]).
    /// Without [`ConsentGate::with_trustee_key`] the feed key is fetched and
    /// pinned at the first sync (trust on first use, over the authenticated
    /// TLS channel).
    pub fn new(client: TrusteeClient, sync_interval: Duration) -> Self {
        Self {
            client,
            sync_interval,
            max_staleness: DEFAULT_MAX_STALENESS,
            key: OnceLock::new(),
            key_file: None,
            snapshot: RwLock::new(Snapshot::default()),
            syncing: tokio::sync::Mutex::new(()),
            answered: AtomicU64::new(0),
            refused_stale: AtomicU64::new(0),
            pages_refused: AtomicU64::new(0),
        }
    }

    /// Pins the trust centre's feed key (its audit key, `GET
    /// /v1/admin/audit/key`): pages signed by any other key are refused.
    pub fn with_trustee_key(self, key: PublicKey) -> Self {
        let _ = self.key.set(key);
        self
    }

    /// Remembers the key pinned on first use in `path` (as SSH's `known_hosts`
    /// does): if the file exists, its key is pinned now, so after the first
    /// contact a restarted node trusts no key the path serves; otherwise the
    /// key fetched at the first sync is written there (mode 0600). A configured
    /// key ([`ConsentGate::with_trustee_key`]) takes precedence. Blocking: call
    /// it at start-up. Fails on a file that holds no key.
    pub fn with_key_file(mut self, path: std::path::PathBuf) -> std::io::Result<Self> {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key: PublicKey = text.trim().parse().map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{}: not a trust-centre key ({e}); remove it to pin again",
                            path.display()
                        ),
                    )
                })?;
                let _ = self.key.set(key);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        self.key_file = Some(path);
        Ok(self)
    }

    /// Sets how old the snapshot may get before questions fail closed.
    pub fn with_max_staleness(mut self, bound: Duration) -> Self {
        self.max_staleness = bound;
        self
    }

    /// Questions answered from the snapshot, and questions refused because it
    /// was too old (fail closed), for the node's `/metrics`.
    pub fn question_counts(&self) -> (u64, u64) {
        (
            self.answered.load(Relaxed),
            self.refused_stale.load(Relaxed),
        )
    }

    /// The snapshot's version, age and size.
    pub fn status(&self) -> SnapshotStatus {
        let s = self.read();
        SnapshotStatus {
            version: s.version,
            age: s.fresh_at.map(|t| t.elapsed()),
            pseudonyms: s.persons.len(),
            pages_refused: self.pages_refused.load(Relaxed),
        }
    }

    /// The pairs among `items` whose use for `purpose` on `date` is permitted.
    ///
    /// Without a date of origin the data is taken to originate on `date`, so
    /// data a consent's collection window covered may be refused; callers
    /// holding facts should use [`ConsentGate::permitted_facts`].
    pub async fn permitted(
        &self,
        purpose: Purpose,
        date: NaiveDate,
        items: impl IntoIterator<Item = (Pseudonym, DataCategory)>,
    ) -> Result<HashSet<(Pseudonym, DataCategory)>, GateError> {
        let asked = self
            .permitted_facts(purpose, date, items.into_iter().map(|(p, c)| (p, c, None)))
            .await?;
        Ok(asked.into_iter().map(|(p, c, _)| (p, c)).collect())
    }

    /// The (person, category, date of origin) triples among `items` whose use
    /// for `purpose` on `date` is permitted: the date of origin is checked
    /// against the consent's collection windows and `dataPeriod`s (a fact
    /// collected after a broad consent's five-year collection window closed is
    /// refused even while its use window is open).
    pub async fn permitted_facts(
        &self,
        purpose: Purpose,
        date: NaiveDate,
        items: impl IntoIterator<Item = (Pseudonym, DataCategory, Option<NaiveDate>)>,
    ) -> Result<HashSet<(Pseudonym, DataCategory, Option<NaiveDate>)>, GateError> {
        let items: Vec<_> = items.into_iter().collect();
        if let Err(e) = self.ensure_fresh().await {
            self.refused_stale.fetch_add(items.len() as u64, Relaxed);
            return Err(e);
        }
        // One consistent view for the whole batch (cheap Arc clones under the
        // lock), evaluated off the async workers: the engine is CPU work.
        let asked: Vec<_> = {
            let snapshot = self.read();
            items
                .into_iter()
                .map(|item| {
                    let consents = snapshot.persons.get(&item.0).cloned();
                    (item, consents)
                })
                .collect()
        };
        self.answered.fetch_add(asked.len() as u64, Relaxed);
        let permitted = tokio::task::spawn_blocking(move || {
            asked
                .into_iter()
                .filter(|((_, category, origin), consents)| {
                    decide(consents.as_deref(), *category, purpose, date, *origin).permits()
                })
                .map(|(item, _)| item)
                .collect()
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        Ok(permitted)
    }

    /// Makes the next question sync first (e.g. after a notice that consents changed).
    pub fn clear(&self) {
        self.write().fresh_at = None;
    }

    /// Drops one person from the snapshot at once (after their deletion
    /// order): they are `DenyUnknown` until the feed names them again.
    pub fn forget(&self, pseudonym: &Pseudonym) {
        self.write().persons.remove(pseudonym);
    }

    /// Brings the snapshot up to the feed's head, page by page; returns the
    /// number of entries applied. A refused page stops the sync and leaves the
    /// snapshot as the previous page left it. Every verified page advances the
    /// version (a full page ends at its last entry, any other at the head), so
    /// the loop ends once it reaches the head.
    pub async fn sync(&self) -> Result<usize, SyncError> {
        let _one = self.syncing.lock().await;
        self.sync_locked().await
    }

    async fn sync_locked(&self) -> Result<usize, SyncError> {
        let key = self.pinned_key().await?;
        let mut applied = 0;
        loop {
            let (held, site) = {
                let s = self.read();
                (s.version, s.site.clone())
            };
            let nonce = hex::encode(rand::random::<[u8; 16]>());
            let sent = Instant::now();
            let signed = self.client.consent_feed(held, &nonce, None).await?;
            let page = FeedPage::verify(&signed, &key, &nonce, site.as_ref(), held)
                .inspect_err(|e| {
                    self.pages_refused.fetch_add(1, Relaxed);
                    tracing::warn!(error = %e, "refused a consent feed page; the snapshot is unchanged");
                })?;
            applied += page.entries.len();
            let done = page.through == page.head;
            self.apply(page, done.then_some(sent));
            if done {
                return Ok(applied);
            }
        }
    }

    /// Applies a verified page; `fresh` when it reached the head.
    fn apply(&self, page: FeedPage, fresh: Option<Instant>) {
        let mut s = self.write();
        s.site.get_or_insert(page.site);
        for entry in page.entries {
            match entry.consents {
                Some(consents) => {
                    let consents: Arc<[Consent]> = consents.into();
                    for p in entry.pseudonyms {
                        s.persons.insert(p, consents.clone());
                    }
                }
                None => {
                    for p in &entry.pseudonyms {
                        s.persons.remove(p);
                    }
                }
            }
        }
        s.version = page.through;
        if fresh.is_some() {
            s.fresh_at = fresh;
        }
    }

    /// The pinned key, fetched and pinned on first use when none was configured.
    async fn pinned_key(&self) -> Result<PublicKey, TrusteeError> {
        if let Some(key) = self.key.get() {
            return Ok(*key);
        }
        let key = self.client.consent_feed_key().await?;
        tracing::warn!(
            fingerprint = %key.fingerprint(),
            "pinned the trust centre's consent-feed key on first use; configure it (--trustee-key) to rule out a first-contact forgery"
        );
        if let Some(path) = &self.key_file
            && let Err(e) = remember_key(path, &key)
        {
            tracing::warn!(path = %path.display(), error = %e, "could not remember the pinned key; it is pinned until the node stops");
        }
        Ok(*self.key.get_or_init(|| key))
    }

    /// Syncs when the snapshot is older than the sync interval; fails when it
    /// is then still older than the bound.
    async fn ensure_fresh(&self) -> Result<(), GateError> {
        let due = self.sync_interval.min(self.max_staleness);
        if self.age().is_some_and(|a| a < due) {
            return Ok(());
        }
        let _one = self.syncing.lock().await;
        // Another caller may have synced while this one waited.
        if self.age().is_some_and(|a| a < due) {
            return Ok(());
        }
        let Err(e) = self.sync_locked().await else {
            return Ok(());
        };
        let age = self.age();
        if age.is_some_and(|a| a < self.max_staleness) {
            tracing::warn!(error = %e, "consent feed unavailable; answering from the snapshot within its staleness bound");
            return Ok(());
        }
        let age = age.map_or_else(
            || "not yet synced".to_owned(),
            |a| format!("{} s old", a.as_secs()),
        );
        let bound_secs = self.max_staleness.as_secs();
        Err(match e {
            SyncError::Trustee(source) => GateError::TrusteeUnavailable {
                age,
                bound_secs,
                source,
            },
            SyncError::Refused(source) => GateError::FeedRefused {
                age,
                bound_secs,
                source,
            },
        })
    }

    fn age(&self) -> Option<Duration> {
        self.read().fresh_at.map(|t| t.elapsed())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Snapshot> {
        self.snapshot.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Snapshot> {
        self.snapshot.write().unwrap_or_else(|p| p.into_inner())
    }
}

/// Writes a pinned key to a new owner-only file (never over an existing one).
fn remember_key(path: &std::path::Path, key: &PublicKey) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(format!("{key}\n").as_bytes())
}
