//! `--upstream-pool N`: N supervised upstreams of one stateless server, each
//! call sent to the least busy one that is connected.
//!
//! Only for servers that keep no state between calls: a pool of a server
//! that remembers (server-memory, a browser session, a database
//! transaction) would answer each call from whichever process got it. With
//! the default of 1 the pool is the single supervised upstream.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::FutureExt as _;

use crate::error::ApiError;
use crate::supervisor::{Connection, Settings, Upstream};

/// The pool a server's calls go to now. A hot reload that changes how the
/// server is reached puts a new pool in; calls already holding the old one
/// finish on it.
pub struct PoolSlot(std::sync::RwLock<Arc<Pool>>);

impl PoolSlot {
    /// A slot holding `pool`.
    pub fn new(pool: Arc<Pool>) -> Self {
        PoolSlot(std::sync::RwLock::new(pool))
    }

    /// The pool new calls go to.
    pub fn current(&self) -> Arc<Pool> {
        Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Puts `pool` in for new calls and returns the one it replaces.
    pub fn replace(&self, pool: Arc<Pool>) -> Arc<Pool> {
        std::mem::replace(
            &mut self
                .0
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            pool,
        )
    }
}

/// The supervised upstreams and how many calls each has in flight.
pub struct Pool {
    members: Vec<Member>,
}

struct Member {
    upstream: Arc<Upstream>,
    busy: AtomicUsize,
}

/// A call's hold on one member's connection; the member's count of calls
/// in flight drops when it is dropped.
pub struct Lease<'a> {
    /// The connection to call on.
    pub connection: Arc<Connection>,
    member: &'a Member,
    index: usize,
}

impl Lease<'_> {
    /// The member's number, 0-based (a metrics label).
    pub fn index(&self) -> usize {
        self.index
    }

    /// See [`Upstream::report_timeout`].
    pub fn report_timeout(&self) {
        self.member.upstream.report_timeout(&self.connection);
    }

    /// See [`Upstream::report_connection_lost`].
    pub fn report_connection_lost(&self) {
        self.member
            .upstream
            .report_connection_lost(&self.connection);
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.member.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pool {
    /// Starts `size` (at least 1) supervisors; each runs until
    /// [`Pool::shutdown`]. Await every task to know they are done.
    pub fn start(settings: Settings, size: usize) -> (Arc<Pool>, Vec<tokio::task::JoinHandle<()>>) {
        let size = size.max(1);
        let mut members = Vec::with_capacity(size);
        let mut tasks = Vec::with_capacity(size);
        for index in 0..size {
            let mut member_settings = settings.clone();
            member_settings.member = index;
            member_settings.pool_size = size;
            let (upstream, task) = Upstream::start(member_settings);
            members.push(Member {
                upstream,
                busy: AtomicUsize::new(0),
            });
            tasks.push(task);
        }
        (Arc::new(Pool { members }), tasks)
    }

    /// A connection for one call: the least busy connected member at once;
    /// with none connected, the first member whose connection attempt
    /// succeeds within `wait`, else the 503 of the last one to fail.
    pub async fn connection(&self, wait: Duration) -> Result<Lease<'_>, ApiError> {
        let least_busy = self
            .members
            .iter()
            .enumerate()
            .filter_map(|(index, member)| {
                member
                    .upstream
                    .usable_now()
                    .map(|connection| (index, member, connection))
            })
            .min_by_key(|(_, member, _)| member.busy.load(Ordering::SeqCst));
        if let Some((index, member, connection)) = least_busy {
            return Ok(self.lease(index, member, connection));
        }
        let (index, connection) = if let [only] = self.members.as_slice() {
            (0, only.upstream.connection(wait).await?)
        } else {
            let attempts = self.members.iter().enumerate().map(|(index, member)| {
                member
                    .upstream
                    .connection(wait)
                    .map(move |outcome| outcome.map(|connection| (index, connection)))
                    .boxed()
            });
            futures::future::select_ok(attempts).await?.0
        };
        let member = &self.members[index];
        Ok(self.lease(index, member, connection))
    }

    fn lease<'a>(
        &'a self,
        index: usize,
        member: &'a Member,
        connection: Arc<Connection>,
    ) -> Lease<'a> {
        member.busy.fetch_add(1, Ordering::SeqCst);
        Lease {
            connection,
            member,
            index,
        }
    }

    /// `Ok(server)` when calls can be served (by at least one member), else
    /// why not (for `/readyz`).
    pub fn readiness(&self) -> Result<String, String> {
        let mut first_failure = None;
        let mut ready = 0;
        let mut server = None;
        for member in &self.members {
            match member.upstream.readiness() {
                Ok(name) => {
                    ready += 1;
                    server.get_or_insert(name);
                }
                Err(reason) => {
                    first_failure.get_or_insert(reason);
                }
            }
        }
        match server {
            Some(server) if self.members.len() == 1 => Ok(server),
            Some(server) => Ok(format!(
                "{server} ({ready} of {} pool members connected)",
                self.members.len()
            )),
            None => Err(first_failure.unwrap_or_else(|| "no upstream".into())),
        }
    }

    /// Whether no call is using any member.
    pub fn is_idle(&self) -> bool {
        self.members
            .iter()
            .all(|member| member.busy.load(Ordering::SeqCst) == 0)
    }

    /// Asks every supervisor to close its session and stop its server.
    pub fn shutdown(&self) {
        for member in &self.members {
            member.upstream.shutdown();
        }
    }
}
