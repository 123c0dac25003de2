//! How the examples serve an axum app, as a production app should be served: a client gets
//! [`Timeouts::header_read`] to send a request's headers (a half-open or trickling connection
//! is closed, not kept), [`Timeouts::request`] for the whole request, body included (a body
//! sent a byte at a time gets 408), a connection that sends nothing for [`Timeouts::idle`] is
//! closed, at most [`Timeouts::max_connections`] are open at once (the next ones wait to be
//! accepted rather than take the last file descriptors), and on shutdown the server stops
//! accepting and lets the requests in flight finish.
//!
//! `axum::serve` has no timeouts of its own (it is meant to sit behind a proxy that has them),
//! so this is hyper's HTTP/1 connection with its header-read timeout, hyper-util's graceful
//! shutdown, and `tokio-io-timeout` for the idle timeout.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello" }));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! serve::serve(listener, app, serve::Timeouts::default(), serve::shutdown_signal()).await
//! # }
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

/// How long a client may take.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// To send the headers of a request, from the first byte (or from the connection's start).
    pub header_read: Duration,
    /// Without sending or receiving anything, before the connection is closed.
    pub idle: Duration,
    /// For a whole request, from its headers to the handler's answer (body included).
    pub request: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for Timeouts {
    /// 10 seconds to send the headers, 30 for a request, 60 seconds of silence, 1024
    /// connections.
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            request: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then waits for the requests in
/// flight. Handlers see the peer address as `ConnectInfo<SocketAddr>`.
///
/// # Errors
/// The listener's address cannot be read.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let graceful = GracefulShutdown::new();
    let limit = timeouts.request;
    let app = app
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                match tokio::time::timeout(limit, next.run(req)).await {
                    Ok(response) => response,
                    Err(_) => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
                }
            },
        ))
        // Turns every handler into its layered route now, as `axum::serve` does: a router
        // served as it is would rebuild a handler's route, layers included, for every request.
        .with_state(());
    let slots = Arc::new(Semaphore::new(timeouts.max_connections.max(1)));
    tokio::pin!(shutdown);
    tracing::debug!(address = %listener.local_addr()?, "serving");
    loop {
        // A slot first: when every slot is taken, connections wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let mut stream = TimeoutStream::new(stream);
        stream.set_read_timeout(Some(timeouts.idle));
        stream.set_write_timeout(Some(timeouts.idle));
        let io = TokioIo::new(Box::pin(stream));
        let service = app.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                req.map(axum::body::Body::new)
            },
        );
        // No upgrades (WebSockets) in these examples: a plain HTTP/1 connection.
        let connection = builder.serve_connection(io, TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection closed");
            }
            drop(slot);
        });
    }
    graceful.shutdown().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn start(timeouts: Timeouts) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = Router::new()
            .route(
                "/",
                axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                    format!("hello {}", peer.ip())
                }),
            )
            .route(
                "/upload",
                axum::routing::post(|body: axum::body::Bytes| async move {
                    format!("{} bytes", body.len())
                }),
            );
        tokio::spawn(serve(listener, app, timeouts, std::future::pending()));
        address
    }

    /// Reads until the server closes the connection; how long that took.
    async fn closed_after(stream: &mut tokio::net::TcpStream) -> Duration {
        let started = std::time::Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
                Ok(Ok(_)) => {}
                Err(_) => panic!("the connection was kept for 30 s"),
            }
        }
    }

    #[tokio::test]
    async fn answers_and_gives_handlers_the_peer_address() {
        let address = start(Timeouts::default()).await;
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello 127.0.0.1"), "{answer}");
    }

    #[tokio::test]
    async fn half_sent_headers_are_not_waited_for() {
        let timeouts = Timeouts {
            header_read: Duration::from_secs(1),
            idle: Duration::from_secs(20),
            ..Timeouts::default()
        };
        let address = start(timeouts).await;
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        // A byte now and then does not keep it open either.
        let mut trickle = stream;
        let writer = tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                if trickle.write_all(b"X").await.is_err() {
                    break;
                }
            }
            trickle
        });
        let mut stream = writer.await.unwrap();
        let waited = closed_after(&mut stream).await;
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    #[tokio::test]
    async fn a_silent_connection_is_closed() {
        let timeouts = Timeouts {
            header_read: Duration::from_secs(20),
            idle: Duration::from_secs(1),
            ..Timeouts::default()
        };
        let address = start(timeouts).await;
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let waited = closed_after(&mut stream).await;
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }

    #[tokio::test]
    async fn a_body_sent_a_byte_at_a_time_gets_408() {
        let timeouts = Timeouts {
            request: Duration::from_secs(1),
            ..Timeouts::default()
        };
        let address = start(timeouts).await;
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        stream
            .write_all(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nA")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        // Trickle on while reading: the answer still comes within the limit.
        loop {
            tokio::select! {
                read = stream.read(&mut buf) => {
                    let n = read.unwrap_or(0);
                    if n == 0 { break; }
                    answer.extend_from_slice(&buf[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") { break; }
                }
                () = tokio::time::sleep(Duration::from_millis(300)) => {
                    let _ = stream.write_all(b"A").await;
                }
            }
            assert!(started.elapsed() < Duration::from_secs(10), "no answer");
        }
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }

    #[tokio::test]
    async fn connections_beyond_the_limit_wait_to_be_accepted() {
        let timeouts = Timeouts {
            max_connections: 2,
            ..Timeouts::default()
        };
        let address = start(timeouts).await;
        let _a = tokio::net::TcpStream::connect(address).await.unwrap();
        let _b = tokio::net::TcpStream::connect(address).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // The third connects (the kernel's backlog) but is not served while two are open.
        let mut third = tokio::net::TcpStream::connect(address).await.unwrap();
        third
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 64];
        let waited = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
        assert!(waited.is_err(), "served beyond the limit");
        drop(_a);
        let mut answer = String::new();
        tokio::time::timeout(Duration::from_secs(10), third.read_to_string(&mut answer))
            .await
            .expect("served once a slot is free")
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }
}
