//! The HTTP/1.1 server loop: every connection under a header-read timeout
//! (which also closes idle keep-alive connections), and a cap on open
//! connections that makes room by closing the oldest idle one.
//!
//! axum's own `serve` gives hyper no timer, so its header-read timeout never
//! fires: idle and slowloris connections stay open forever, and enough of
//! them lock every client out before authentication. Here a connection that
//! has no request in flight (idle, or still sending its headers) is what the
//! cap evicts, so a flood of them cannot starve clients that send requests.
//!
//! With `--ssl-certfile`/`--ssl-keyfile` each connection first completes a
//! TLS handshake inside its own task, within the header-read timeout and
//! evictable like an idle connection, so clients that never finish one hold
//! no slot for long and never delay the accept loop.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{
    self,
    pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
};

use crate::cli::ConfigError;

/// The TLS setup of `--ssl-certfile` and `--ssl-keyfile` (PEM files): a
/// certificate chain, leaf first, and its private key (PKCS#8, PKCS#1 or
/// SEC1). Errors name the file and what to fix.
pub fn tls_acceptor(
    certfile: &std::path::Path,
    keyfile: &std::path::Path,
) -> Result<TlsAcceptor, ConfigError> {
    let read = |flag: &str, path: &std::path::Path| {
        crate::files::read_capped(path, crate::files::SMALL_FILE_LIMIT).map_err(|error| {
            ConfigError(format!(
                "{flag} {}: cannot read it: {error}",
                path.display()
            ))
        })
    };
    let certfile_text = read("--ssl-certfile", certfile)?;
    let chain = CertificateDer::pem_slice_iter(&certfile_text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            ConfigError(format!(
                "--ssl-certfile {}: not a valid PEM file: {error}",
                certfile.display()
            ))
        })?;
    if chain.is_empty() {
        return Err(ConfigError(format!(
            "--ssl-certfile {}: no certificate in it; give a PEM file with \
             -----BEGIN CERTIFICATE----- blocks, the server's certificate first",
            certfile.display()
        )));
    }
    let keyfile_text = read("--ssl-keyfile", keyfile)?;
    let key = PrivateKeyDer::from_pem_slice(&keyfile_text).map_err(|error| {
        let why = match error {
            rustls::pki_types::pem::Error::NoItemsFound => "no private key in it; give a PEM \
                 file with a -----BEGIN PRIVATE KEY----- (or RSA / EC PRIVATE KEY) block"
                .to_string(),
            error => format!("not a valid PEM file: {error}"),
        };
        ConfigError(format!("--ssl-keyfile {}: {why}", keyfile.display()))
    })?;
    // The provider named, not a process-wide default: which providers are
    // compiled in depends on the whole dependency graph.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| ConfigError(format!("cannot set up TLS: {error}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| {
            ConfigError(format!(
                "--ssl-certfile {} / --ssl-keyfile {}: {error} (is the key the \
                 certificate's own?)",
                certfile.display(),
                keyfile.display()
            ))
        })?;
    // Only HTTP/1.1 is served: an HTTP/2 client must not negotiate h2.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// How the server treats connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// A connection must send a request's headers within this long, counted
    /// from the moment it is ready for one (so an idle keep-alive connection
    /// is closed after it too).
    pub header_read_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

/// The default `--max-connections`: what the process's open-file limit
/// leaves after `reserve` descriptors for the upstream, logs and the like.
pub fn default_max_connections(reserve: usize) -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes into the struct it is given.
    let known = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
    let soft = if known {
        usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
    } else {
        1024
    };
    soft.saturating_sub(reserve).clamp(16, 65_536)
}

/// One open connection, as the accept loop sees it.
struct Tracked {
    /// Requests being handled on it right now.
    in_flight: Arc<AtomicU64>,
    /// Set to close it (gracefully: a request in flight is finished first).
    close: Arc<Notify>,
    closing: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    /// By id, so iteration order is age order.
    open: BTreeMap<u64, Tracked>,
}

/// Serves `router` on `listener` until `shutdown` resolves, then closes
/// every connection gracefully and returns when they are all gone.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let registry = Arc::new(Mutex::new(Registry::default()));
    let (stop_sender, stop) = watch::channel(false);
    let all_closed = Arc::new(Notify::new());
    let mut last_cap_log: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, _peer) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                // Out of file descriptors (EMFILE) and the like: give the
                // connections that are closing a moment, then go on.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let admitted = make_room(&registry, limits.max_connections);
        if !admitted || last_cap_log.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
            let open = lock(&registry).open.len();
            if open >= limits.max_connections {
                last_cap_log = Some(Instant::now());
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection limit reached: {}",
                    if admitted {
                        "closing the oldest idle connections to make room"
                    } else {
                        "every connection has a request in flight; refusing new ones"
                    }
                );
            }
        }
        if !admitted {
            drop(stream);
            continue;
        }
        let tracked = Tracked {
            in_flight: Arc::new(AtomicU64::new(0)),
            close: Arc::new(Notify::new()),
            closing: Arc::new(AtomicBool::new(false)),
        };
        let (in_flight, close, closing) = (
            Arc::clone(&tracked.in_flight),
            Arc::clone(&tracked.close),
            Arc::clone(&tracked.closing),
        );
        let id = {
            let mut registry = lock(&registry);
            let id = registry.next_id;
            registry.next_id += 1;
            registry.open.insert(id, tracked);
            id
        };
        let router = router.clone();
        let registry = Arc::clone(&registry);
        let all_closed = Arc::clone(&all_closed);
        let stop = stop.clone();
        let header_read_timeout = limits.header_read_timeout;
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = CountInFlight {
                inner: TowerToHyperService::new(router),
                in_flight,
            };
            let mut connection = Connection {
                service,
                header_read_timeout,
                close,
                closing,
                stop,
            };
            match tls {
                None => connection.serve(stream).await,
                Some(acceptor) => {
                    // Until the handshake is done the connection is idle: it
                    // is closed on eviction, on shutdown, or after the
                    // header-read timeout.
                    let handshake = acceptor.accept(stream);
                    let handshake = tokio::select! {
                        done = tokio::time::timeout(header_read_timeout, handshake) => Some(done),
                        () = connection.close.notified() => None,
                        _ = connection.stop.wait_for(|stop| *stop) => None,
                    };
                    match handshake {
                        Some(Ok(Ok(stream))) => connection.serve(stream).await,
                        Some(Ok(Err(error))) => tracing::debug!(%error, "TLS handshake failed"),
                        Some(Err(_)) => tracing::debug!("TLS handshake not finished in time"),
                        None => {}
                    }
                }
            }
            let mut registry = lock(&registry);
            registry.open.remove(&id);
            if registry.open.is_empty() {
                all_closed.notify_waiters();
            }
        });
    }
    drop(listener);
    let _ = stop_sender.send(true);
    loop {
        let waiting = all_closed.notified();
        if lock(&registry).open.is_empty() {
            return;
        }
        waiting.await;
    }
}

/// One connection's task, once its stream is ready for HTTP.
struct Connection {
    service: CountInFlight<TowerToHyperService<Router>>,
    header_read_timeout: Duration,
    /// Eviction (see [`make_room`]).
    close: Arc<Notify>,
    closing: Arc<AtomicBool>,
    /// The server is draining.
    stop: watch::Receiver<bool>,
}

impl Connection {
    /// Serves HTTP/1.1 until the client closes, or gracefully (requests in
    /// flight finished) on eviction or shutdown.
    async fn serve(mut self, stream: impl AsyncRead + AsyncWrite + Send + Unpin + 'static) {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        let connection = builder
            .serve_connection(TokioIo::new(stream), self.service)
            .with_upgrades();
        tokio::pin!(connection);
        let mut closing_now = false;
        loop {
            tokio::select! {
                _ = connection.as_mut() => break,
                () = self.close.notified(), if !closing_now => {
                    closing_now = true;
                    connection.as_mut().graceful_shutdown();
                }
                _ = self.stop.wait_for(|stop| *stop), if !closing_now => {
                    closing_now = true;
                    self.closing.store(true, Ordering::SeqCst);
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Below the cap: admit. At the cap: ask the oldest idle connections (no
/// request in flight: idle keep-alive, or still sending headers) to close,
/// enough to make room, and admit; with none idle, refuse.
fn make_room(registry: &Mutex<Registry>, max_connections: usize) -> bool {
    let registry = lock(registry);
    let open = registry
        .open
        .values()
        .filter(|tracked| !tracked.closing.load(Ordering::SeqCst))
        .count();
    if open < max_connections {
        return true;
    }
    let excess = open + 1 - max_connections;
    let idle: Vec<&Tracked> = registry
        .open
        .values()
        .filter(|tracked| {
            !tracked.closing.load(Ordering::SeqCst) && tracked.in_flight.load(Ordering::SeqCst) == 0
        })
        .take(excess)
        .collect();
    if idle.is_empty() {
        return false;
    }
    for tracked in idle {
        tracked.closing.store(true, Ordering::SeqCst);
        tracked.close.notify_one();
    }
    true
}

fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts the requests in flight on one connection.
#[derive(Clone)]
struct CountInFlight<S> {
    inner: S,
    in_flight: Arc<AtomicU64>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for CountInFlight<S>
where
    S: hyper::service::Service<hyper::Request<Incoming>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let guard = InFlight::enter(Arc::clone(&self.in_flight));
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(guard);
            response
        })
    }
}

/// Decrements the count when the request is done, or dropped.
struct InFlight(Arc<AtomicU64>);

impl InFlight {
    fn enter(counter: Arc<AtomicU64>) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        InFlight(counter)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracked(in_flight: u64) -> Tracked {
        Tracked {
            in_flight: Arc::new(AtomicU64::new(in_flight)),
            close: Arc::new(Notify::new()),
            closing: Arc::new(AtomicBool::new(false)),
        }
    }

    #[test]
    fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let registry = Mutex::new(Registry::default());
        {
            let mut registry = lock(&registry);
            registry.open.insert(0, tracked(1));
            registry.open.insert(1, tracked(0));
            registry.open.insert(2, tracked(0));
        }
        assert!(make_room(&registry, 4), "below the cap");
        assert!(make_room(&registry, 3), "one idle is closed");
        let registry_now = lock(&registry);
        let closing: Vec<u64> = registry_now
            .open
            .iter()
            .filter(|(_, tracked)| tracked.closing.load(Ordering::SeqCst))
            .map(|(id, _)| *id)
            .collect();
        assert_eq!(closing, vec![1], "the oldest idle one, not the busy one");
    }

    #[test]
    fn with_every_connection_busy_a_new_one_is_refused() {
        let registry = Mutex::new(Registry::default());
        lock(&registry).open.insert(0, tracked(1));
        assert!(!make_room(&registry, 1));
    }

    #[test]
    fn tls_files_that_cannot_serve_are_named_in_the_error() {
        let dir = std::env::temp_dir().join(format!("mcpo-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not PEM\n").unwrap();
        let missing = dir.join("missing.pem");
        let error = |cert: &std::path::Path, key: &std::path::Path| {
            tls_acceptor(cert, key)
                .err()
                .map(|error| error.0)
                .unwrap_or_default()
        };
        let text = error(&missing, &garbage);
        assert!(
            text.starts_with(&format!(
                "--ssl-certfile {}: cannot read it",
                missing.display()
            )),
            "{text}"
        );
        let text = error(&garbage, &garbage);
        assert!(
            text.starts_with(&format!(
                "--ssl-certfile {}: no certificate in it",
                garbage.display()
            )),
            "{text}"
        );
        // A certificate block that is not base64 at all.
        let broken = dir.join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let text = error(&broken, &garbage);
        assert!(
            text.starts_with(&format!(
                "--ssl-certfile {}: not a valid PEM file",
                broken.display()
            )),
            "{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_default_cap_leaves_room_for_the_upstream() {
        let cap = default_max_connections(64);
        assert!((16..=65_536).contains(&cap), "{cap}");
    }
}
