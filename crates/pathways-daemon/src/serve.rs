//! The accept loop: HTTP/1.1 on hyper with a header-read timeout (a client that trickles its
//! headers is cut off with 408), protocol errors answered in JSON (`protocol`), and graceful shutdown: stop accepting, let requests in flight finish
//! within a bound, then close what is left.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::error::DaemonError;
use crate::layers::ACCEPT_BACKOFF;
use crate::protocol;

/// Serves `router` on `listener` until `shutdown` completes, then drains for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    grace: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                // Small writes go out at once: a server-sent event (a partner's answer while a
                // plan is made) must not wait ~40 ms for Nagle's algorithm and a delayed ACK.
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
                // Every request knows the address it came from (the console limits sign-in
                // attempts per address).
                let service = TowerToHyperService::new(router.clone().map_request(
                    move |mut req: axum::http::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                        req
                    },
                ));
                // hyper answers what it cannot parse itself, without a body: the guard holds
                // that back and the refusal is written here, in the API's JSON shape.
                let (stream, shared) = protocol::Guarded::new(stream);
                let connection = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_read_timeout)
                    .serve_connection(TokioIo::new(stream), service);
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let ended = connection.await;
                    if let Err(e) = &ended {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    let timed_out = ended.as_ref().is_err_and(hyper::Error::is_timeout);
                    protocol::answer_after(&shared, timed_out).await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!("shutting down: no new connections; finishing requests in flight");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all requests finished"),
        () = tokio::time::sleep(grace) => {
            tracing::warn!(grace_ms = grace.as_millis() as u64, "requests still in flight after the grace period are dropped");
        }
    }
    Ok(())
}
