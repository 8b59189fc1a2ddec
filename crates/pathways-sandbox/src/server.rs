//! Running one simulator's HTTP server on a loopback socket, and stopping it promptly.
//!
//! Every simulator gets its own listener, so a connector's `base_url` points at exactly one
//! partner. Stopping signals the simulator's shutdown channel first (which also releases
//! requests held by the `hang` fault), then waits briefly for connections to drain.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::SandboxError;

/// How long shutdown waits for open connections before dropping them.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A simulator's server task and the means to stop it.
#[derive(Debug)]
pub(crate) struct RunningServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Binds `listen` and serves `router` until [`RunningServer::stop`]; `stop` is the sender
    /// of the channel the simulator's fault injector watches.
    pub(crate) async fn start(
        partner: &'static str,
        listen: SocketAddr,
        router: Router,
        stop: watch::Sender<bool>,
    ) -> Result<Self, SandboxError> {
        let listener = TcpListener::bind(listen).await.map_err(|source| SandboxError::Bind {
            partner,
            addr: listen,
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| SandboxError::Bind {
            partner,
            addr: listen,
            source,
        })?;
        let mut stopping = stop.subscribe();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            });
            if let Err(err) = serve.await {
                tracing::warn!(partner, error = %err, "sandbox simulator stopped with an error");
            }
        });
        tracing::info!(partner, %addr, "sandbox simulator listening");
        Ok(Self { addr, stop, task })
    }

    /// The address actually bound (the real port when configured with port 0).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, releases hanging requests, and waits up to two seconds for the rest.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(DRAIN_TIMEOUT, self.task).await.is_err() {
            // A client holding a connection open must not keep the sandbox alive.
            abort.abort();
        }
    }
}
