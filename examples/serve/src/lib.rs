//! How the examples serve an axum app, as a production app should be served: a client gets
//! [`Timeouts::header_read`] to send a request's headers (a half-open or trickling connection
//! is closed, not kept), a connection that sends nothing for [`Timeouts::idle`] is closed, and
//! on shutdown the server stops accepting and lets the requests in flight finish.
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
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_io_timeout::TimeoutStream;
use tower::ServiceExt;

/// How long a client may take.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// To send the headers of a request, from the first byte (or from the connection's start).
    pub header_read: Duration,
    /// Without sending or receiving anything, before the connection is closed.
    pub idle: Duration,
}

impl Default for Timeouts {
    /// 10 seconds to send the headers, 60 seconds of silence.
    fn default() -> Self {
        Timeouts {
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
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
    tokio::pin!(shutdown);
    tracing::debug!(address = %listener.local_addr()?, "serving");
    loop {
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
        let app = Router::new().route(
            "/",
            axum::routing::get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move {
                format!("hello {}", peer.ip())
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
        };
        let address = start(timeouts).await;
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let waited = closed_after(&mut stream).await;
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    }
}
