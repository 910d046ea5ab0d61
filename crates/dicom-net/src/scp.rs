//! The C-STORE SCP (DICOM PS3.4 Annex B, Storage Service Class, SCP role;
//! PS3.4 Annex A, Verification): listens, negotiates associations through
//! dicom-ul, and hands each received object to a [`StoreSink`].
//!
//! One thread per association, at most [`ScpConfig::max_associations`] at a
//! time; a further association request is rejected with A-ASSOCIATE-RJ
//! (transient, service provider, "local limit exceeded", PS3.8 §9.3.4).

mod association;

use dicom_ul::association::server::{AccessControl, ServerAssociationOptions};
use dicom_ul::pdu::{
    AssociationRJ, AssociationRJResult, AssociationRJServiceProviderPresentationReason,
    AssociationRJServiceUserReason, AssociationRJSource, Pdu, UserIdentity,
};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::sink::StoreSink;
use crate::syntax;

/// The SCP's settings. [`Default`] is the secure default: loopback only and
/// no calling AE allowed, so nothing is received until callers are listed.
#[derive(Debug, Clone)]
pub struct ScpConfig {
    /// This node's AE title; an association calling another title is
    /// rejected ("called AE title not recognized").
    pub ae_title: String,
    /// Where to listen (default `127.0.0.1:11112`; port 0 picks a free one,
    /// see [`StoreScp::local_addr`]).
    pub bind: SocketAddr,
    /// The calling AE titles allowed to associate. Empty refuses every
    /// association with A-ASSOCIATE-RJ (permanent, service user, "calling AE
    /// title not recognized", PS3.8 Table 9-21).
    pub allowed_calling_aes: Vec<String>,
    /// The largest PDU this SCP receives (PS3.8 D.1 Maximum Length).
    pub max_pdu_length: u32,
    /// How many associations are served at once.
    pub max_associations: usize,
    /// The largest data set accepted, in bytes as received; a larger one is
    /// read to its end without being kept and answered with 0xA700.
    pub max_object_bytes: u64,
    /// Read and write timeout on the connection (ARTIM-like: a silent peer
    /// loses its association after this long).
    pub timeout: Duration,
}

impl Default for ScpConfig {
    fn default() -> Self {
        ScpConfig {
            ae_title: "ONCOFED".into(),
            bind: SocketAddr::from(([127, 0, 0, 1], 11112)),
            allowed_calling_aes: Vec::new(),
            max_pdu_length: 65_536,
            max_associations: 8,
            max_object_bytes: 256 * 1024 * 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

/// Why the SCP could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ScpError {
    /// A setting is out of its range.
    #[error("invalid SCP configuration: {0}")]
    Config(String),
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The configured address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The thread serving the SCP panicked (a bug; associations already
    /// ended).
    #[error("the SCP thread panicked")]
    Panicked,
}

/// Checks an AE title (PS3.5 Table 6.2-1, VR AE: 1–16 characters of the
/// default repertoire without backslash or control characters, not only
/// spaces).
pub fn check_ae_title(title: &str) -> Result<(), String> {
    let ok = !title.trim().is_empty()
        && title.len() <= 16
        && title
            .chars()
            .all(|c| c.is_ascii() && !c.is_ascii_control() && c != '\\');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "AE title {title:?} must be 1 to 16 printable ASCII characters without backslash"
        ))
    }
}

impl ScpConfig {
    fn validate(&self) -> Result<(), ScpError> {
        check_ae_title(&self.ae_title).map_err(ScpError::Config)?;
        for caller in &self.allowed_calling_aes {
            check_ae_title(caller).map_err(ScpError::Config)?;
        }
        if self.max_associations == 0 {
            return Err(ScpError::Config(
                "max_associations must be at least 1".into(),
            ));
        }
        if !(4_096..=16 * 1024 * 1024).contains(&self.max_pdu_length) {
            return Err(ScpError::Config(
                "max_pdu_length must be between 4096 and 16 MiB".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(ScpError::Config("timeout must not be zero".into()));
        }
        Ok(())
    }
}

/// Rejects calling AE titles not in the list and called AE titles other
/// than ours.
#[derive(Debug, Clone)]
struct AllowedCallers(Arc<Vec<String>>);

impl AccessControl for AllowedCallers {
    fn check_access(
        &self,
        this_ae_title: &str,
        calling_ae_title: &str,
        called_ae_title: &str,
        _user_identity: Option<&UserIdentity>,
    ) -> Result<(), AssociationRJServiceUserReason> {
        if called_ae_title.trim() != this_ae_title.trim() {
            return Err(AssociationRJServiceUserReason::CalledAETitleNotRecognized);
        }
        let calling = calling_ae_title.trim();
        if !self.0.iter().any(|allowed| allowed.trim() == calling) {
            return Err(AssociationRJServiceUserReason::CallingAETitleNotRecognized);
        }
        Ok(())
    }
}

type Options = ServerAssociationOptions<
    'static,
    AllowedCallers,
    dicom_ul::association::server::DefaultNegotiation,
>;

/// Stops a running SCP: sets the flag and wakes the accept loop.
#[derive(Debug, Clone)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
    wake: SocketAddr,
}

impl Shutdown {
    /// Asks the SCP to stop accepting; [`StoreScp::serve`] returns once the
    /// associations in progress have ended.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::SeqCst);
        // Wakes the blocking accept; the connection is dropped unread.
        let _ = TcpStream::connect_timeout(&self.wake, Duration::from_secs(1));
    }

    /// Whether [`Shutdown::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

/// A bound C-STORE SCP, ready to [`serve`](StoreScp::serve).
pub struct StoreScp<S: StoreSink> {
    config: ScpConfig,
    listener: TcpListener,
    local_addr: SocketAddr,
    sink: Arc<S>,
    shutdown: Shutdown,
}

impl<S: StoreSink> std::fmt::Debug for StoreScp<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreScp")
            .field("ae_title", &self.config.ae_title)
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// What every association thread shares.
struct Shared<S> {
    options: Options,
    sink: Arc<S>,
    ae_title: String,
    max_object_bytes: u64,
}

impl<S: StoreSink> StoreScp<S> {
    /// Validates `config` and binds its address.
    pub fn bind(config: ScpConfig, sink: S) -> Result<Self, ScpError> {
        config.validate()?;
        let listener = TcpListener::bind(config.bind).map_err(|source| ScpError::Bind {
            addr: config.bind,
            source,
        })?;
        let local_addr = listener.local_addr().map_err(|source| ScpError::Bind {
            addr: config.bind,
            source,
        })?;
        let mut wake = local_addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        Ok(StoreScp {
            config,
            listener,
            local_addr,
            sink: Arc::new(sink),
            shutdown: Shutdown {
                flag: Arc::new(AtomicBool::new(false)),
                wake,
            },
        })
    }

    /// The address actually bound (the port when 0 was configured).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A handle that stops [`serve`](StoreScp::serve) from another thread.
    pub fn shutdown_handle(&self) -> Shutdown {
        self.shutdown.clone()
    }

    fn options(&self) -> Options {
        let mut options = ServerAssociationOptions::new()
            .ae_access_control(AllowedCallers(Arc::new(
                self.config.allowed_calling_aes.clone(),
            )))
            .ae_title(self.config.ae_title.clone())
            .max_pdu_length(self.config.max_pdu_length)
            .read_timeout(self.config.timeout)
            .write_timeout(self.config.timeout)
            .with_abstract_syntax(syntax::VERIFICATION);
        for uid in syntax::storage_sop_classes() {
            options = options.with_abstract_syntax(uid);
        }
        for ts in syntax::accepted_transfer_syntaxes() {
            options = options.with_transfer_syntax(ts);
        }
        options
    }

    /// Accepts associations until the [`Shutdown`] handle is triggered, then
    /// waits for the associations in progress (each bounded by the timeout).
    pub fn serve(self) -> Result<(), ScpError> {
        let shared = Arc::new(Shared {
            options: self.options(),
            sink: self.sink.clone(),
            ae_title: self.config.ae_title.clone(),
            max_object_bytes: self.config.max_object_bytes,
        });
        let active = Arc::new(AtomicUsize::new(0));
        let rejecting = Arc::new(AtomicUsize::new(0));
        let mut workers: Vec<JoinHandle<()>> = Vec::new();
        tracing::info!(addr = %self.local_addr, ae = %self.config.ae_title, "DICOM SCP listening");
        for stream in self.listener.incoming() {
            if self.shutdown.is_triggered() {
                break;
            }
            let stream = match stream {
                Ok(stream) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            };
            workers.retain(|w| !w.is_finished());
            if active.load(Ordering::SeqCst) >= self.config.max_associations {
                // Rejections get threads of their own too, as many at most.
                if rejecting.load(Ordering::SeqCst) < self.config.max_associations {
                    let guard = Counted::enter(&rejecting);
                    let timeout = self.config.timeout.min(Duration::from_secs(5));
                    std::thread::spawn(move || {
                        let _guard = guard;
                        reject_busy(stream, timeout);
                    });
                } else {
                    tracing::warn!("connection dropped: association limit reached");
                }
                continue;
            }
            let guard = Counted::enter(&active);
            let shared = shared.clone();
            let spawned = std::thread::Builder::new()
                .name("dicom-association".into())
                .spawn(move || {
                    let _guard = guard;
                    association::run(stream, &shared);
                });
            match spawned {
                Ok(worker) => workers.push(worker),
                Err(e) => tracing::error!(error = %e, "cannot start an association thread"),
            }
        }
        for worker in workers {
            let _ = worker.join();
        }
        tracing::info!(addr = %self.local_addr, "DICOM SCP stopped");
        Ok(())
    }

    /// Runs [`serve`](StoreScp::serve) on a thread of its own; the returned
    /// handle stops it when dropped.
    pub fn spawn(self) -> RunningScp {
        let addr = self.local_addr;
        let shutdown = self.shutdown.clone();
        let thread = std::thread::Builder::new()
            .name("dicom-scp".into())
            .spawn(move || self.serve())
            .ok();
        if thread.is_none() {
            tracing::error!("cannot start the SCP thread");
        }
        RunningScp {
            addr,
            shutdown,
            thread,
        }
    }
}

/// An SCP serving on its own thread; stops (and waits) on drop.
#[derive(Debug)]
pub struct RunningScp {
    addr: SocketAddr,
    shutdown: Shutdown,
    thread: Option<JoinHandle<Result<(), ScpError>>>,
}

impl RunningScp {
    /// The address the SCP listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the associations in progress.
    pub fn stop(mut self) -> Result<(), ScpError> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), ScpError> {
        self.shutdown.trigger();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ScpError::Panicked),
            None => Ok(()),
        }
    }
}

impl Drop for RunningScp {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Counts a running thread; decrements when dropped, also on a panic.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn enter(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(counter.clone())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Reads the A-ASSOCIATE-RQ (so the peer reads our answer rather than a
/// reset) and answers A-ASSOCIATE-RJ: transient, service provider
/// (presentation), local limit exceeded (PS3.8 Table 9-21).
fn reject_busy(mut stream: TcpStream, timeout: Duration) {
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    let mut header = [0u8; 6];
    if stream.read_exact(&mut header).is_ok() && header[0] == 0x01 {
        let len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
        // An A-ASSOCIATE-RQ is small; never read more than 64 KiB of it.
        let mut rest = (&mut stream).take(u64::from(len.min(65_536)));
        let _ = std::io::copy(&mut rest, &mut std::io::sink());
    }
    let rj = Pdu::AssociationRJ(AssociationRJ {
        result: AssociationRJResult::Transient,
        source: AssociationRJSource::ServiceProviderPresentation(
            AssociationRJServiceProviderPresentationReason::LocalLimitExceeded,
        ),
    });
    let mut bytes = Vec::new();
    if dicom_ul::pdu::write_pdu(&mut bytes, &rj).is_ok() {
        let _ = stream.write_all(&bytes);
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    tracing::warn!("association rejected: limit of concurrent associations reached");
}
