//! axum over plain TCP or TLS, with the peer's certificate names for handlers.
//!
//! Handshakes run in their own tasks with a deadline, so a client that opens a
//! connection and stalls cannot hold up the accept loop for everyone else.
//! The listening socket and those tasks belong to the [`ServiceListener`]
//! itself, not to a background task: when axum drops it at shutdown the port
//! closes at once and unfinished handshakes are cancelled, so a service that
//! has returned from `serve` no longer accepts connections.

use crate::TlsAcceptor;
use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;

/// How long a client has to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who is on the other end of a connection; handlers read it as
/// `ConnectInfo<Peer>` (absent when a router is driven without a listener, as in
/// unit tests: treat that as "no certificate").
#[derive(Debug, Clone)]
pub struct Peer {
    /// The remote socket address.
    pub remote: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// URI names of the client certificate the CA vouched for (mutual TLS only).
    pub client_uris: Arc<[String]>,
}

impl Peer {
    /// Whether the verified client certificate names site `site`.
    pub fn is_site(&self, site: &str) -> bool {
        crate::naming::sites_named(&self.client_uris).any(|named| named == site)
    }

    /// Whether the client showed a certificate the CA vouched for.
    pub fn has_client_certificate(&self) -> bool {
        !self.client_uris.is_empty()
    }
}

impl Connected<IncomingStream<'_, ServiceListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, ServiceListener>) -> Self {
        stream.remote_addr().clone()
    }
}

/// A connection accepted by a [`ServiceListener`].
pub enum ServiceStream {
    /// Plain TCP (loopback, or `--insecure-http`).
    Plain(TcpStream),
    /// A completed TLS session.
    Tls(Box<TlsStream<TcpStream>>),
}

/// A listening socket that serves plain TCP or TLS.
pub struct ServiceListener {
    local: SocketAddr,
    mode: Mode,
}

enum Mode {
    Plain(TcpListener),
    Tls {
        listener: TcpListener,
        acceptor: tokio_rustls::TlsAcceptor,
        /// Handshakes in flight; dropping the set aborts them.
        handshakes: JoinSet<Option<(ServiceStream, Peer)>>,
    },
}

impl ServiceListener {
    /// Serves `listener` in the clear. Callers check the address with
    /// [`crate::check_bind`] first.
    pub fn plain(listener: TcpListener) -> io::Result<Self> {
        Ok(Self {
            local: listener.local_addr()?,
            mode: Mode::Plain(listener),
        })
    }

    /// Serves `listener` with TLS; handshakes run as tasks on the runtime
    /// that polls [`axum::serve::Listener::accept`].
    pub fn tls(listener: TcpListener, acceptor: &TlsAcceptor) -> io::Result<Self> {
        Ok(Self {
            local: listener.local_addr()?,
            mode: Mode::Tls {
                listener,
                acceptor: tokio_rustls::TlsAcceptor::from(acceptor.config.clone()),
                handshakes: JoinSet::new(),
            },
        })
    }

    /// Plain or TLS, as `tls` says.
    pub fn new(listener: TcpListener, tls: Option<&TlsAcceptor>) -> io::Result<Self> {
        match tls {
            Some(acceptor) => Self::tls(listener, acceptor),
            None => Self::plain(listener),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.mode, Mode::Tls { .. })
    }
}

/// Accepts the next TCP connection, waiting instead of spinning when accepting
/// fails (out of file descriptors and the like). Cancel-safe, as
/// [`TcpListener::accept`] is.
async fn accept_tcp(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Completes the TLS handshake on `tcp` within [`HANDSHAKE_TIMEOUT`]; `None`
/// (logged) when the client fails it or stalls.
async fn handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    tcp: TcpStream,
    remote: SocketAddr,
) -> Option<(ServiceStream, Peer)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => {
            let peer = Peer {
                remote,
                tls: true,
                client_uris: client_uris(&stream),
            };
            Some((ServiceStream::Tls(Box::new(stream)), peer))
        }
        Ok(Err(e)) => {
            tracing::info!(%remote, error = %e, "TLS handshake refused");
            None
        }
        Err(_) => {
            tracing::info!(%remote, "TLS handshake timed out");
            None
        }
    }
}

/// The URI names of the verified client certificate (rustls only hands out
/// certificates its verifier accepted).
fn client_uris(stream: &TlsStream<TcpStream>) -> Arc<[String]> {
    let Some(leaf) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    else {
        return Arc::from(Vec::new());
    };
    match webpki::EndEntityCert::try_from(leaf) {
        Ok(cert) => cert.valid_uri_names().map(str::to_owned).collect(),
        Err(_) => Arc::from(Vec::new()),
    }
}

impl axum::serve::Listener for ServiceListener {
    type Io = ServiceStream;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match &mut self.mode {
            Mode::Plain(listener) => {
                let (tcp, remote) = accept_tcp(listener).await;
                let peer = Peer {
                    remote,
                    tls: false,
                    client_uris: Arc::from(Vec::new()),
                };
                (ServiceStream::Plain(tcp), peer)
            }
            // Both branches are cancel-safe, as axum's shutdown requires: a
            // connection accepted in one poll is handed to the set in that poll.
            Mode::Tls {
                listener,
                acceptor,
                handshakes,
            } => loop {
                tokio::select! {
                    (tcp, remote) = accept_tcp(listener) => {
                        handshakes.spawn(handshake(acceptor.clone(), tcp, remote));
                    }
                    Some(done) = handshakes.join_next() => {
                        if let Ok(Some(next)) = done {
                            return next;
                        }
                    }
                }
            },
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(Peer {
            remote: self.local,
            tls: self.is_tls(),
            client_uris: Arc::from(Vec::new()),
        })
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests
/// in flight finish. Handlers can extract `ConnectInfo<Peer>`.
pub async fn serve(
    listener: ServiceListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<Peer>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

impl AsyncRead for ServiceStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServiceStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            Self::Tls(s) => s.is_write_vectored(),
        }
    }
}
