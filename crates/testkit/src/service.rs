//! A service launched on `127.0.0.1:0` that stops when dropped.

use std::future::Future;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A stop switch shared by every task of a federation: flipping it once tells
/// all of them to shut down.
#[derive(Clone)]
pub struct StopSwitch(watch::Sender<bool>);

impl Default for StopSwitch {
    fn default() -> Self {
        Self(watch::channel(false).0)
    }
}

impl StopSwitch {
    /// Tells every listener to stop (idempotent).
    pub fn stop(&self) {
        let _ = self.0.send(true);
    }

    /// A future that completes once [`StopSwitch::stop`] was called (or the
    /// switch was dropped): what `launch(…, shutdown)` and `Agent::run` take.
    pub fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }
}

/// A running service task: its base URL, and its `launch` result on
/// [`Running::shutdown`]. Dropped without `shutdown`, it is told to stop and
/// finishes in the background.
pub struct Running<E> {
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub url: String,
    stop: StopSwitch,
    task: Option<JoinHandle<Result<(), E>>>,
}

impl<E: Send + 'static> Running<E> {
    /// Runs `serve` (a service's `launch(config, listener, stop.stopped())`) as
    /// a task reachable at `url`; `stop` stops it.
    pub fn spawn(
        url: String,
        stop: StopSwitch,
        serve: impl Future<Output = Result<(), E>> + Send + 'static,
    ) -> Self {
        Self {
            url,
            stop,
            task: Some(tokio::spawn(serve)),
        }
    }

    /// Lets the service run until the test's runtime ends (for helpers that
    /// hand out only its URL); returns the URL.
    pub fn detach(mut self) -> String {
        self.task.take();
        // Keep a sender of the switch alive: once the last one is gone the
        // service's shutdown future completes.
        std::mem::forget(self.stop.clone());
        std::mem::take(&mut self.url)
    }

    /// Stops the service and waits until it has closed its port; returns what
    /// its `launch` returned.
    pub async fn shutdown(mut self) -> Result<(), E> {
        self.stop.stop();
        match self.task.take() {
            Some(task) => task.await.expect("service task panicked"),
            None => Ok(()),
        }
    }
}

impl<E> Drop for Running<E> {
    fn drop(&mut self) {
        // A detached service (no task handle left) keeps running.
        if self.task.is_some() {
            self.stop.stop();
        }
    }
}

/// Binds `127.0.0.1:0` and returns the listener and its URL under `scheme`.
pub async fn loopback(scheme: &str) -> std::io::Result<(tokio::net::TcpListener, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("{scheme}://{}", listener.local_addr()?);
    Ok((listener, url))
}

/// A trust centre launched with `config` on `127.0.0.1:0` (HTTPS if the config
/// has a certificate), stopped by `stop` or on drop.
pub async fn trustee(
    config: oncofed_trustee::TrusteeConfig,
    stop: StopSwitch,
) -> std::io::Result<Running<oncofed_trustee::LaunchError>> {
    let scheme = if config.serves_tls() { "https" } else { "http" };
    let (listener, url) = loopback(scheme).await?;
    let shutdown = stop.stopped();
    Ok(Running::spawn(
        url,
        stop,
        oncofed_trustee::launch(config, listener, shutdown),
    ))
}

/// A hub launched with `config` on `127.0.0.1:0` (HTTPS if `config.tls`),
/// stopped by `stop` or on drop.
pub async fn hub(
    config: oncofed_hub::HubConfig,
    stop: StopSwitch,
) -> std::io::Result<Running<oncofed_hub::LaunchError>> {
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let (listener, url) = loopback(scheme).await?;
    let shutdown = stop.stopped();
    Ok(Running::spawn(
        url,
        stop,
        oncofed_hub::launch(config, listener, shutdown),
    ))
}
