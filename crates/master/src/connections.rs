//! The master's two ports under load: how many connections each holds at once, how long a
//! client may stay silent, and the web port served one connection at a time by hyper, so a
//! client that never finishes its request headers, or idles on a kept-alive connection, is
//! closed instead of holding a file descriptor forever.
//!
//! The file descriptors of the process are shared out so that no port can starve the other
//! or the store:
//!
//! ```text
//! limit = reserved (store, logs, uploads, stdio) + worker logins + 2 × configured workers + web
//! ```
//!
//! A worker connection counts against "worker logins" until it has passed its password check;
//! logged-in connections are bounded by the configuration (a name's holder and at most one
//! login waiting for it, see `logins.rs`). A web connection counts for its whole life, live
//! log streams included: they send, so hyper's timeouts, which only run while the connection
//! waits for a request, leave them alone.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

/// File descriptors kept for everything but connections: the store's pool, step logs and
/// uploads being written, stdio, the runtime's own.
pub const RESERVED_FDS: u64 = 256;

/// Web connections at most, however high the file-descriptor limit: browsers open six per
/// page at most, and each connection costs a read buffer.
pub const MAX_WEB_CONNECTIONS: usize = 2048;

/// Unauthenticated worker connections at most.
pub const MAX_WORKER_LOGINS: usize = 256;

/// How many connections each port takes at once, and how long a client may take.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionLimits {
    /// Web connections open at once (pages, API, live logs); more are answered 503 and closed.
    pub web: usize,
    /// Worker connections that have not passed their password check yet; more are closed at
    /// once.
    pub worker_logins: usize,
    /// How long a web client may take to send a request's headers, from the moment the
    /// connection waits for one: on a fresh connection and between requests of a kept-alive
    /// one (the idle timeout).
    pub header_timeout: Duration,
    /// How long a worker may take from connecting to the end of its WebSocket upgrade.
    pub handshake_timeout: Duration,
    /// How long a worker that passed its password check may take to be attached: the login
    /// decided, its information asked and its settings sent.
    pub login_timeout: Duration,
}

impl ConnectionLimits {
    /// Limits for a process that may open `fd_limit` files, with `workers` configured workers.
    pub fn for_fd_limit(fd_limit: u64, workers: usize) -> ConnectionLimits {
        let usable = fd_limit.saturating_sub(RESERVED_FDS);
        let worker_logins = clamp(usable / 8, 16, MAX_WORKER_LOGINS);
        let logged_in = 2 * workers as u64;
        let web = usable.saturating_sub(worker_logins as u64 + logged_in);
        ConnectionLimits {
            web: clamp(web, 16, MAX_WEB_CONNECTIONS),
            worker_logins,
            header_timeout: Duration::from_secs(10),
            handshake_timeout: oebb_protocol::HANDSHAKE_TIMEOUT,
            login_timeout: Duration::from_secs(30),
        }
    }

    /// Limits sized from this process's file-descriptor limit (the soft one, which `oebb`
    /// raises to the hard one at start).
    pub fn for_this_process(workers: usize) -> ConnectionLimits {
        let fd_limit = match rlimit::Resource::NOFILE.get() {
            Ok((soft, _)) => soft,
            Err(e) => {
                tracing::warn!("cannot read the file-descriptor limit ({e}); assuming 1024");
                1024
            }
        };
        Self::for_fd_limit(fd_limit, workers)
    }
}

fn clamp(n: u64, low: usize, high: usize) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX).clamp(low, high)
}

/// A listener's budget of connections; a connection holds its permit until it ends.
#[derive(Clone, Debug)]
pub struct Budget {
    what: &'static str,
    permits: Arc<Semaphore>,
    refused: Arc<std::sync::atomic::AtomicU64>,
}

impl Budget {
    /// A budget of `size` connections for the port named `what` in logs.
    pub fn new(what: &'static str, size: usize) -> Budget {
        Budget {
            what,
            permits: Arc::new(Semaphore::new(size)),
            refused: Arc::default(),
        }
    }

    /// A permit for a connection from `peer`, or `None` when the budget is spent. The first
    /// refusal of a run is logged, and how many there were once a connection gets in again,
    /// so a flood costs two lines.
    pub fn admit(&self, peer: SocketAddr) -> Option<OwnedSemaphorePermit> {
        use std::sync::atomic::Ordering::Relaxed;
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let refused = self.refused.swap(0, Relaxed);
                if refused > 0 {
                    tracing::info!(
                        "{} connections accepted again after {refused} refused",
                        self.what
                    );
                }
                Some(permit)
            }
            Err(_) => {
                if self.refused.fetch_add(1, Relaxed) == 0 {
                    tracing::warn!(%peer, "too many {} connections open: new ones are refused until some close", self.what);
                }
                None
            }
        }
    }
}

/// A connection taken from a listener: inside its budget, holding a permit for its life, or
/// over it.
pub enum Accepted {
    /// The connection, its peer and the permit it holds until it ends.
    Admitted(TcpStream, SocketAddr, OwnedSemaphorePermit),
    /// The budget is spent: the caller answers, or just drops the connection.
    OverBudget(TcpStream),
}

/// Accepts the next connection on `listener`, reaping the ended tasks of `connections`
/// meanwhile so their results do not pile up.
pub async fn accept_next(
    listener: &TcpListener,
    budget: &Budget,
    connections: &mut JoinSet<()>,
) -> Accepted {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        match accepted {
            Ok((stream, peer)) => {
                return match budget.admit(peer) {
                    Some(permit) => Accepted::Admitted(stream, peer, permit),
                    None => Accepted::OverBudget(stream),
                }
            }
            Err(e) => accept_failed(budget.what, e).await,
        }
    }
}

/// Waits after a failed `accept`: at once for errors of the one connection, a moment when
/// the process is out of file descriptors (or memory), so the loop does not spin.
async fn accept_failed(what: &str, e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!("accepting a {what} connection failed: {e}");
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// Serves `app` on `listener` until the task is aborted, which ends every connection too.
pub async fn serve_web(listener: TcpListener, app: Router, limits: ConnectionLimits) {
    let budget = Budget::new("web", limits.web);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer, permit) = match accept_next(&listener, &budget, &mut connections).await {
            Accepted::Admitted(stream, peer, permit) => (stream, peer, permit),
            Accepted::OverBudget(stream) => {
                busy(stream);
                continue;
            }
        };
        let service = TowerToHyperService::new(app.clone());
        let connection = http.serve_connection(TokioIo::new(stream), service);
        connections.spawn(async move {
            let _permit = permit;
            if let Err(e) = connection.await {
                tracing::debug!(%peer, "web connection ended: {e}");
            }
        });
    }
}

/// What a web client gets when the budget is spent: an answer at once, not a wait.
const BUSY: &str = "HTTP/1.1 503 Service Unavailable\r\n\
    content-type: text/plain; charset=utf-8\r\n\
    content-length: 61\r\n\
    retry-after: 5\r\n\
    connection: close\r\n\
    x-content-type-options: nosniff\r\n\
    \r\n\
    the master has too many web connections open; try again soon\n";

/// Answers 503 without waiting for anything and closes. Whatever the client already sent is
/// read first, so closing does not reset the connection before the answer arrives. Plain
/// non-blocking calls: the runtime has not polled the new socket, so its `try_` calls would
/// not even try.
fn busy(stream: TcpStream) {
    use std::io::{Read, Write};
    let Ok(mut stream) = stream.into_std() else {
        return;
    };
    let _ = stream.read(&mut [0u8; 4096]);
    let _ = stream.write(BUSY.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_stay_below_the_descriptor_limit_with_room_for_workers() {
        for (fd_limit, workers) in [(1024, 0), (1024, 50), (4096, 10), (20_000, 3)] {
            let l = ConnectionLimits::for_fd_limit(fd_limit, workers);
            let used = RESERVED_FDS as usize + l.web + l.worker_logins + 2 * workers;
            assert!(used <= fd_limit as usize, "{fd_limit}, {workers}: {l:?}");
            assert!(l.worker_logins >= 16, "{l:?}");
        }
        let big = ConnectionLimits::for_fd_limit(1 << 20, 10);
        assert_eq!(big.web, MAX_WEB_CONNECTIONS);
        assert_eq!(big.worker_logins, MAX_WORKER_LOGINS);
        // An absurd limit (RLIM_INFINITY) does not overflow.
        assert_eq!(
            ConnectionLimits::for_fd_limit(u64::MAX, 1).web,
            MAX_WEB_CONNECTIONS
        );
    }

    #[test]
    fn the_busy_answer_is_well_formed() {
        let (head, body) = BUSY.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        assert!(head.starts_with("HTTP/1.1 503 "));
    }

    #[tokio::test]
    async fn a_spent_budget_refuses_until_a_permit_comes_back() {
        let budget = Budget::new("test", 1);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let first = budget.admit(peer).expect("room for one");
        assert!(budget.admit(peer).is_none());
        drop(first);
        assert!(budget.admit(peer).is_some());
    }
}
