//! The HTTP/1.1 server loop: every connection under a header-read timeout
//! (which also closes idle keep-alive connections), every request body under
//! a deadline, and a cap on open connections that makes room by closing the
//! oldest idle one, or else the slowest body.
//!
//! axum's own `serve` gives hyper no timer, so its header-read timeout never
//! fires: idle and slowloris connections stay open forever, and enough of
//! them lock every client out before authentication. Here a connection that
//! has no request in flight (idle, or still sending its headers) is what the
//! cap evicts, so a flood of them cannot starve clients that send requests.
//!
//! A request whose headers have arrived is in flight, but one whose body is
//! still arriving is not yet work worth protecting: a client dripping its
//! body holds a connection like a slowloris one. So each body must be whole
//! within `--body-timeout` (counted from its request's headers; 408 after
//! it), and a connection that has been receiving its body for longer than
//! [`BODY_EVICTION_GRACE`] is evictable too, after every idle one: its
//! request is answered 408 at once and the connection closed. The grace
//! keeps a flood of new connections from cutting the ordinary uploads that
//! arrive a moment after their headers; the wait for the body is all that is
//! cut, never a request being worked on (a whole body, a call upstream).
//!
//! With `--ssl-certfile`/`--ssl-keyfile` each connection first completes a
//! TLS handshake inside its own task, within the header-read timeout and
//! evictable like an idle connection, so clients that never finish one hold
//! no slot for long and never delay the accept loop.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
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
use crate::error::ApiError;

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
    /// A request's body must have arrived whole within this long, counted
    /// from the moment its headers did (408 after it).
    pub body_timeout: Duration,
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

/// How long a connection may have been receiving its request's body before
/// the cap may evict it (see the module's documentation).
const BODY_EVICTION_GRACE: Duration = Duration::from_secs(1);

/// Milliseconds since the first call, plus one: 0 is never a time, so it
/// means "not receiving" in [`Tracked::receiving_since`].
fn now_millis() -> u64 {
    static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
    u64::try_from(EPOCH.elapsed().as_millis())
        .unwrap_or(u64::MAX - 1)
        .saturating_add(1)
}

/// One open connection, as the accept loop sees it.
struct Tracked {
    /// Requests being handled on it right now.
    in_flight: Arc<AtomicU64>,
    /// When its request's body started arriving ([`now_millis`]), while it is
    /// still arriving; 0 otherwise.
    receiving_since: Arc<AtomicU64>,
    /// Set to close it (gracefully: a request in flight is finished first,
    /// but a body still arriving is cut with a 408).
    evict: watch::Sender<bool>,
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
        let admitted = make_room(&registry, limits.max_connections, now_millis());
        if !admitted || last_cap_log.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
            let open = lock(&registry).open.len();
            if open >= limits.max_connections {
                last_cap_log = Some(Instant::now());
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "connection limit reached: {}",
                    if admitted {
                        "closing the oldest idle connections (or the slowest bodies) to make room"
                    } else {
                        "every connection has a request at work (or a body in its first \
                         second); refusing new ones"
                    }
                );
            }
        }
        if !admitted {
            drop(stream);
            continue;
        }
        let (evict_sender, evict) = watch::channel(false);
        let tracked = Tracked {
            in_flight: Arc::new(AtomicU64::new(0)),
            receiving_since: Arc::new(AtomicU64::new(0)),
            evict: evict_sender,
            closing: Arc::new(AtomicBool::new(false)),
        };
        let (in_flight, receiving_since, closing) = (
            Arc::clone(&tracked.in_flight),
            Arc::clone(&tracked.receiving_since),
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
        let body_timeout = limits.body_timeout;
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = CountInFlight {
                inner: TowerToHyperService::new(router),
                in_flight,
                receiving_since,
                body_timeout,
                evict: evict.clone(),
            };
            let mut connection = Connection {
                service,
                header_read_timeout,
                evict,
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
                        _ = connection.evict.wait_for(|evict| *evict) => None,
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
    evict: watch::Receiver<bool>,
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
                _ = self.evict.wait_for(|evict| *evict), if !closing_now => {
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

/// Below the cap: admit. At the cap: ask connections to close, enough to
/// make room, and admit; with none that may be closed, refuse. The oldest
/// idle connections go first (no request in flight: idle keep-alive, or
/// still sending headers), then those whose request's body has been
/// arriving for longer than [`BODY_EVICTION_GRACE`], the longest first
/// (their request is answered 408). A request being worked on is never cut.
fn make_room(registry: &Mutex<Registry>, max_connections: usize, now: u64) -> bool {
    let registry = lock(registry);
    let open: Vec<&Tracked> = registry
        .open
        .values()
        .filter(|tracked| !tracked.closing.load(Ordering::SeqCst))
        .collect();
    if open.len() < max_connections {
        return true;
    }
    let excess = open.len() + 1 - max_connections;
    let grace = u64::try_from(BODY_EVICTION_GRACE.as_millis()).unwrap_or(u64::MAX);
    let idle = open
        .iter()
        .filter(|tracked| tracked.in_flight.load(Ordering::SeqCst) == 0);
    let mut slow_bodies: Vec<(u64, &&Tracked)> = open
        .iter()
        .filter(|tracked| tracked.in_flight.load(Ordering::SeqCst) > 0)
        .filter_map(|tracked| {
            let since = tracked.receiving_since.load(Ordering::SeqCst);
            (since != 0 && now.saturating_sub(since) > grace).then_some((since, tracked))
        })
        .collect();
    slow_bodies.sort_by_key(|(since, _)| *since);
    let chosen: Vec<&&Tracked> = idle
        .chain(slow_bodies.into_iter().map(|(_, tracked)| tracked))
        .take(excess)
        .collect();
    if chosen.is_empty() {
        return false;
    }
    for tracked in chosen {
        tracked.closing.store(true, Ordering::SeqCst);
        let _ = tracked.evict.send(true);
    }
    true
}

fn lock(registry: &Mutex<Registry>) -> std::sync::MutexGuard<'_, Registry> {
    registry
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Counts the requests in flight on one connection, and puts each request's
/// body under the body deadline (see [`TimedBody`]).
#[derive(Clone)]
struct CountInFlight<S> {
    inner: S,
    in_flight: Arc<AtomicU64>,
    receiving_since: Arc<AtomicU64>,
    body_timeout: Duration,
    evict: watch::Receiver<bool>,
}

impl<S> hyper::service::Service<hyper::Request<Incoming>> for CountInFlight<S>
where
    S: hyper::service::Service<hyper::Request<TimedBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let guard = InFlight::enter(Arc::clone(&self.in_flight));
        let request = request.map(|body| {
            TimedBody::new(
                body,
                self.body_timeout,
                self.evict.clone(),
                Arc::clone(&self.receiving_since),
            )
        });
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            drop(guard);
            response
        })
    }
}

/// Why a request's body was cut before it had arrived whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyCut {
    /// Not whole within the body timeout.
    Deadline(Duration),
    /// Still arriving when the connection cap needed its connection.
    Evicted,
}

impl BodyCut {
    /// The body cut this error says, if it is one.
    pub(crate) fn of(error: &(dyn std::error::Error + 'static)) -> Option<BodyCut> {
        let mut source = Some(error);
        while let Some(error) = source {
            if let Some(cut) = error.downcast_ref::<BodyCut>() {
                return Some(*cut);
            }
            source = error.source();
        }
        None
    }

    /// 408 `{"detail": ...}`.
    pub(crate) fn api_error(self) -> ApiError {
        match self {
            BodyCut::Deadline(timeout) => ApiError::body_timeout(timeout.as_secs_f64()),
            BodyCut::Evicted => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "The request body was arriving too slowly while the proxy was at its \
                 connection limit (--max-connections); the connection is closed",
            ),
        }
    }
}

impl std::fmt::Display for BodyCut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyCut::Deadline(timeout) => write!(
                f,
                "the request body did not arrive within {}s",
                timeout.as_secs_f64()
            ),
            BodyCut::Evicted => write!(f, "the request body was cut to make room"),
        }
    }
}

impl std::error::Error for BodyCut {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request's body with its deadline: a frame it cannot deliver before the
/// deadline (or once its connection is evicted) is an error, [`BodyCut`],
/// which the tool pipeline answers with 408. While it is arriving, its
/// connection's `receiving_since` says since when.
pub(crate) struct TimedBody {
    inner: Incoming,
    /// Resolves when the body must be cut; `None` once it has ended.
    cut: Option<Pin<Box<dyn Future<Output = BodyCut> + Send>>>,
    receiving_since: Arc<AtomicU64>,
    /// What this body stored in `receiving_since` (0: nothing).
    stamp: u64,
}

impl TimedBody {
    fn new(
        inner: Incoming,
        timeout: Duration,
        mut evict: watch::Receiver<bool>,
        receiving_since: Arc<AtomicU64>,
    ) -> Self {
        if inner.is_end_stream() {
            return TimedBody {
                inner,
                cut: None,
                receiving_since,
                stamp: 0,
            };
        }
        let stamp = now_millis();
        receiving_since.store(stamp, Ordering::SeqCst);
        let cut = async move {
            let evicted = async move {
                let evicted = evict.wait_for(|evict| *evict).await.is_ok();
                if !evicted {
                    // The connection is gone: only the deadline is left.
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = tokio::time::sleep(timeout) => BodyCut::Deadline(timeout),
                () = evicted => BodyCut::Evicted,
            }
        };
        TimedBody {
            inner,
            cut: Some(Box::pin(cut)),
            receiving_since,
            stamp,
        }
    }

    /// The body is over (whole, failed or cut): no longer receiving.
    fn finish(&mut self) {
        self.cut = None;
        if self.stamp != 0 {
            let _ = self.receiving_since.compare_exchange(
                self.stamp,
                0,
                Ordering::SeqCst,
                Ordering::SeqCst,
            );
            self.stamp = 0;
        }
    }
}

impl Drop for TimedBody {
    fn drop(&mut self) {
        self.finish();
    }
}

impl hyper::body::Body for TimedBody {
    type Data = hyper::body::Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => {
                this.finish();
                Poll::Ready(Some(Err(Box::new(error))))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if this.inner.is_end_stream() {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match this.cut.as_mut().map(|cut| cut.as_mut().poll(cx)) {
                Some(Poll::Ready(cut)) => {
                    this.finish();
                    tracing::debug!("{cut}");
                    Poll::Ready(Some(Err(Box::new(cut))))
                }
                _ => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
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
mod tests;
