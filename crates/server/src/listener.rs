//! The API's TCP listener, with bounds that no client can exhaust: a cap on open connections
//! (at the cap a new connection makes room by closing the connection idle the longest, or
//! else the one whose request has run the longest, so a flood of idle or half-sent
//! connections cannot lock others out), a deadline for a request's headers, an idle timeout,
//! and a handler that panics answers 500 instead of taking anything else down. Every
//! connection closed by a bound is counted ([`ConnectionStats`], in `/metrics`).
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::time::{Duration, Instant};
use tower_service::Service;

/// Bounds on the API's connections.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a connection may stay open with no request.
    pub idle_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Counters of the listener.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    /// Connections open now.
    pub open: AtomicU64,
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections closed to make room at the cap.
    pub evicted: AtomicU64,
    /// Connections closed for sending no complete request headers in time.
    pub header_timeouts: AtomicU64,
    /// Connections closed after the idle timeout.
    pub idle_closed: AtomicU64,
    /// Requests whose handler panicked (answered 500).
    pub handler_panics: AtomicU64,
    /// Failed accepts (out of file descriptors, ...).
    pub accept_errors: AtomicU64,
}

/// One open connection, as the cap sees it.
struct Connection {
    opened: Instant,
    /// Requests being answered.
    busy: AtomicUsize,
    /// Milliseconds after `opened` when the last request ended (or 0).
    last_done_ms: AtomicU64,
    /// Closes the connection at once.
    close: Notify,
}

impl Connection {
    /// When the connection last had something to do.
    fn last_active(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_done_ms.load(Ordering::Relaxed))
    }
}

/// Marks a connection busy while a request is answered.
struct Busy(Arc<Connection>);

impl Busy {
    fn new(c: Arc<Connection>) -> Busy {
        c.busy.fetch_add(1, Ordering::Relaxed);
        Busy(c)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let c = &self.0;
        c.last_done_ms.store(c.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
        c.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The open connections, by number.
#[derive(Default)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<Connection>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes one connection to make room: the one idle the longest, or else the one whose
    /// request has run the longest.
    fn evict_one(&self) -> bool {
        let mut open = self.lock();
        let idle = open
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Relaxed) == 0)
            .min_by_key(|(_, c)| c.last_active())
            .map(|(id, _)| *id);
        let victim = idle.or_else(|| open.iter().min_by_key(|(_, c)| c.last_active()).map(|(id, _)| *id));
        match victim.and_then(|id| open.remove(&id)) {
            Some(c) => {
                c.close.notify_one();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` resolves; then lets the
/// requests being answered finish for up to `grace` and closes everything.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stats: Arc<ConnectionStats>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let registry = Arc::new(Registry::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut next_id = 0u64;
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors (or another transient failure): make room and go on.
                stats.accept_errors.fetch_add(1, Ordering::Relaxed);
                if registry.evict_one() {
                    stats.evicted.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        stats.accepted.fetch_add(1, Ordering::Relaxed);
        while registry.lock().len() >= limits.max_connections.max(1) {
            if !registry.evict_one() {
                break;
            }
            stats.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let _ = stream.set_nodelay(true);
        next_id += 1;
        let conn = Arc::new(Connection {
            opened: Instant::now(),
            busy: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
            close: Notify::new(),
        });
        registry.lock().insert(next_id, conn.clone());
        stats.open.fetch_add(1, Ordering::Relaxed);
        let task = ConnectionTask {
            id: next_id,
            conn,
            registry: registry.clone(),
            stats: stats.clone(),
            limits,
            stop: stop_rx.clone(),
        };
        tokio::spawn(task.run(stream, router.clone()));
    }
    // Stop accepting; ask every connection to finish its request and close.
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + grace;
    while stats.open.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What a connection's task holds.
struct ConnectionTask {
    id: u64,
    conn: Arc<Connection>,
    registry: Arc<Registry>,
    stats: Arc<ConnectionStats>,
    limits: ConnectionLimits,
    stop: watch::Receiver<bool>,
}

impl ConnectionTask {
    async fn run(mut self, stream: tokio::net::TcpStream, router: Router) {
        let (conn, stats) = (self.conn.clone(), self.stats.clone());
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = Busy::new(conn.clone());
            let mut router = router.clone();
            let stats = stats.clone();
            async move {
                // A handler runs in its own task, so that a panic in it is a 500 here.
                let answered = tokio::spawn(async move { router.call(req.map(Body::new)).await }).await;
                drop(busy);
                Ok::<_, std::convert::Infallible>(match answered {
                    Ok(Ok(response)) => response,
                    Ok(Err(never)) => match never {},
                    Err(_) => {
                        stats.handler_panics.fetch_add(1, Ordering::Relaxed);
                        internal_error()
                    }
                })
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(self.limits.header_timeout).keep_alive(true);
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            // An idle connection is checked when its idle time would be up; a busy one (a long
            // poll) again one idle timeout from now.
            let idle_check = if self.conn.busy.load(Ordering::Relaxed) > 0 {
                Instant::now() + self.limits.idle_timeout
            } else {
                self.conn.last_active() + self.limits.idle_timeout
            };
            tokio::select! {
                r = connection.as_mut() => {
                    if r.is_err_and(|e| e.is_timeout()) {
                        self.stats.header_timeouts.fetch_add(1, Ordering::Relaxed);
                    }
                    break;
                }
                () = self.conn.close.notified() => break,
                _ = self.stop.changed(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = tokio::time::sleep_until(idle_check) => {
                    let idle = self.conn.busy.load(Ordering::Relaxed) == 0
                        && self.conn.last_active() + self.limits.idle_timeout <= Instant::now();
                    if idle {
                        self.stats.idle_closed.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        self.registry.lock().remove(&self.id);
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

fn internal_error() -> Response<Body> {
    let mut r = Response::new(Body::from("internal error; it was logged\n"));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}
