//! axum over plain TCP or TLS, with the peer's certificate names for handlers.
//!
//! Handshakes run in their own tasks with a deadline, so a client that opens a
//! connection and stalls cannot hold up the accept loop for everyone else.

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
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

/// How long a client has to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for axum to pick them up.
const PENDING_CONNECTIONS: usize = 256;

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
        ready: mpsc::Receiver<(ServiceStream, Peer)>,
        accept_loop: tokio::task::AbortHandle,
    },
}

impl Drop for ServiceListener {
    fn drop(&mut self) {
        if let Mode::Tls { accept_loop, .. } = &self.mode {
            accept_loop.abort();
        }
    }
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

    /// Serves `listener` with TLS. Must be called inside a tokio runtime.
    pub fn tls(listener: TcpListener, acceptor: &TlsAcceptor) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(PENDING_CONNECTIONS);
        let acceptor = tokio_rustls::TlsAcceptor::from(acceptor.config.clone());
        let accept_loop = tokio::spawn(accept_tls(listener, acceptor, tx)).abort_handle();
        Ok(Self {
            local,
            mode: Mode::Tls { ready, accept_loop },
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

async fn accept_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    ready: mpsc::Sender<(ServiceStream, Peer)>,
) {
    loop {
        let (tcp, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(stream)) => {
                    let client_uris = client_uris(&stream);
                    let peer = Peer {
                        remote,
                        tls: true,
                        client_uris,
                    };
                    let _ = ready
                        .send((ServiceStream::Tls(Box::new(stream)), peer))
                        .await;
                }
                Ok(Err(e)) => tracing::info!(%remote, error = %e, "TLS handshake refused"),
                Err(_) => tracing::info!(%remote, "TLS handshake timed out"),
            }
        });
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
            Mode::Plain(listener) => loop {
                match TcpListener::accept(listener).await {
                    Ok((tcp, remote)) => {
                        let peer = Peer {
                            remote,
                            tls: false,
                            client_uris: Arc::from(Vec::new()),
                        };
                        return (ServiceStream::Plain(tcp), peer);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            },
            Mode::Tls { ready, .. } => match ready.recv().await {
                Some(next) => next,
                // The accept loop only ends when aborted on drop; never return.
                None => std::future::pending().await,
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
