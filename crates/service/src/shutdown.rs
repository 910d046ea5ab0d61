//! Graceful stop on SIGINT and SIGTERM.

/// Completes on Ctrl-C (SIGINT) or SIGTERM (`systemctl stop`, `kill`): services then
/// stop accepting, finish the requests in flight and exit 0 instead of being killed.
///
/// The handlers are registered when this is called, not when the future is first
/// polled: call it before announcing that a service listens, so a signal sent
/// right after the announcement is not lost to the default action. Must be called
/// inside a tokio runtime.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt());
        let terminate = signal(SignalKind::terminate());
        async move {
            match (interrupt, terminate) {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
                        _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
