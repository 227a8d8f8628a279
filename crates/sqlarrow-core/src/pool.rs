//! A small async connection pool shared by the engines.
//!
//! Fixed maximum size (a semaphore), idle connections reused LIFO, a cheap validity
//! check on every checkout and a round-trip health check when a connection has been
//! idle longer than `ping_after`, broken connections discarded instead of returned.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, ErrorKind, Result};

/// How long a caller whose own thread holds every connection waits before it is told
/// so (see [`as_caller`]): long enough for a stream it just dropped to wind down.
const SELF_WAIT_GRACE: Duration = Duration::from_secs(2);

tokio::task_local! {
    /// The thread of the caller on whose behalf a future runs (see [`as_caller`]).
    static CALLER: ThreadId;
}

/// Run `fut` on behalf of the calling thread: connections it checks out are counted as
/// that thread's, so that a checkout which could only be served by a connection the
/// same thread holds (an open transaction or stream, with the pool at its limit) fails
/// after a short grace instead of waiting out `acquire_timeout`. Tasks spawned by `fut` are not
/// covered (task-locals are not inherited): their checkouts wait as usual.
pub async fn as_caller<F: Future>(fut: F) -> F::Output {
    CALLER.scope(std::thread::current().id(), fut).await
}

/// [`as_caller`] for synchronous work on the calling thread.
pub fn as_caller_sync<R>(f: impl FnOnce() -> R) -> R {
    CALLER.sync_scope(std::thread::current().id(), f)
}

/// `fut`, run on behalf of the caller of the current task, if any: for a task spawned
/// to do a caller's work (its connection is the caller's as much as if checked out
/// inline). See [`as_caller`].
pub fn carry_caller<F: Future>(fut: F) -> impl Future<Output = F::Output> {
    let who = caller();
    async move {
        match who {
            Some(id) => CALLER.scope(id, fut).await,
            None => fut.await,
        }
    }
}

fn caller() -> Option<ThreadId> {
    CALLER.try_with(|c| *c).ok()
}

/// What a pool needs from an engine.
pub trait Manager: Send + Sync + 'static {
    type Conn: Send + 'static;
    /// Open a new connection.
    fn connect(&self) -> impl Future<Output = Result<Self::Conn>> + Send;
    /// A cheap local check (no I/O): false when the connection is known to be dead.
    fn is_valid(&self, conn: &Self::Conn) -> bool;
    /// The check before an idle connection is handed out: [`Manager::is_valid`], plus
    /// whatever a connection whose socket nobody watched while idle needs (reading
    /// what the server sent meanwhile, e.g. that it closed the connection). No waiting.
    fn revalidate(&self, conn: &mut Self::Conn) -> bool {
        self.is_valid(conn)
    }
    /// A round-trip check, run before reusing a connection idle for a while.
    fn ping(&self, conn: &mut Self::Conn) -> impl Future<Output = Result<()>> + Send;
}

/// Pool settings.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub max_size: usize,
    pub acquire_timeout: Duration,
    pub ping_after: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_size: 10,
            acquire_timeout: Duration::from_secs(30),
            ping_after: Duration::from_secs(30),
        }
    }
}

/// A snapshot of pool counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub max_size: usize,
    /// Open connections (idle + in use).
    pub size: usize,
    pub idle: usize,
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// Connections opened since the pool was created.
    pub created: u64,
    /// Connections closed (broken, failed health check, or pool closed).
    pub closed: u64,
}

struct Inner<M: Manager> {
    manager: M,
    config: PoolConfig,
    semaphore: Arc<Semaphore>,
    idle: Mutex<Vec<(M::Conn, Instant)>>,
    in_use: AtomicUsize,
    waiting: AtomicUsize,
    created: AtomicU64,
    closed_count: AtomicU64,
    closed: AtomicBool,
    /// Connections checked out per calling thread (see [`as_caller`]).
    held: Mutex<HashMap<ThreadId, usize>>,
}

/// A pool of connections of one engine.
pub struct Pool<M: Manager> {
    inner: Arc<Inner<M>>,
}

impl<M: Manager> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Pool {
            inner: self.inner.clone(),
        }
    }
}

impl<M: Manager> Pool<M> {
    pub fn new(manager: M, config: PoolConfig) -> Self {
        let permits = config.max_size.max(1);
        Pool {
            inner: Arc::new(Inner {
                manager,
                semaphore: Arc::new(Semaphore::new(permits)),
                config,
                idle: Mutex::new(Vec::new()),
                in_use: AtomicUsize::new(0),
                waiting: AtomicUsize::new(0),
                created: AtomicU64::new(0),
                closed_count: AtomicU64::new(0),
                closed: AtomicBool::new(false),
                held: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn manager(&self) -> &M {
        &self.inner.manager
    }

    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::Acquire)
    }

    fn closed_error() -> Error {
        Error::new(ErrorKind::Interface, "the connector is closed").transient(false)
    }

    /// Check out a connection, opening one if none is idle.
    pub async fn get(&self) -> Result<Pooled<M>> {
        if self.is_closed() {
            return Err(Self::closed_error());
        }
        let inner = &self.inner;
        if let Ok(permit) = inner.semaphore.clone().try_acquire_owned() {
            return self.with_permit(permit).await;
        }
        if let Some(me) = caller() {
            let mine = inner
                .held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&me)
                .copied()
                .unwrap_or(0);
            if mine >= inner.config.max_size.max(1) {
                // Nothing but this thread's own work can free a connection. A stream it
                // dropped a moment ago may still be giving its connection back, so
                // wait briefly for that; anything longer is waiting for itself.
                inner.waiting.fetch_add(1, Ordering::Relaxed);
                let grace = SELF_WAIT_GRACE.min(inner.config.acquire_timeout);
                let permit =
                    tokio::time::timeout(grace, inner.semaphore.clone().acquire_owned()).await;
                inner.waiting.fetch_sub(1, Ordering::Relaxed);
                return match permit {
                    Ok(Ok(p)) => self.with_permit(p).await,
                    Ok(Err(_)) => Err(Self::closed_error()),
                    Err(_) => Err(Error::new(
                        ErrorKind::PoolTimeout,
                        format!(
                            "every connection of the pool (pool_size={}) is held by this \
                             thread's open transactions or unfinished streams, so this call \
                             would wait for itself; run it on the transaction (tx.query / \
                             tx.execute), finish or close the stream first, or raise pool_size",
                            inner.config.max_size
                        ),
                    )
                    .transient(false)),
                };
            }
        }
        inner.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = tokio::time::timeout(
            inner.config.acquire_timeout,
            inner.semaphore.clone().acquire_owned(),
        )
        .await;
        inner.waiting.fetch_sub(1, Ordering::Relaxed);
        let permit = match permit {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(Self::closed_error()),
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::PoolTimeout,
                    format!(
                        "no connection became free within pool_timeout={:.1}s (pool_size={}); \
                         raise pool_size or pool_timeout, or close streams you no longer read",
                        inner.config.acquire_timeout.as_secs_f64(),
                        inner.config.max_size
                    ),
                ))
            }
        };
        self.with_permit(permit).await
    }

    /// Check out a connection only if one is free right now (no waiting): `None` when
    /// every connection is in use.
    pub async fn try_get(&self) -> Option<Result<Pooled<M>>> {
        if self.is_closed() {
            return None;
        }
        let permit = self.inner.semaphore.clone().try_acquire_owned().ok()?;
        Some(self.with_permit(permit).await)
    }

    /// Check out an idle connection that can be used right now, without waiting,
    /// connecting or pinging (for callers outside the async runtime): `None` when no
    /// connection is idle, the pool is at its limit, or the idle one is due a ping.
    pub fn try_idle(&self) -> Option<Pooled<M>> {
        if self.is_closed() {
            return None;
        }
        let inner = &self.inner;
        let permit = inner.semaphore.clone().try_acquire_owned().ok()?;
        loop {
            let (mut conn, since) = inner.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()?;
            if !inner.manager.revalidate(&mut conn) {
                inner.closed_count.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if since.elapsed() >= inner.config.ping_after {
                // Leave it to the async path, which pings.
                inner
                    .idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((conn, since));
                return None;
            }
            return Some(self.wrap(conn, permit));
        }
    }

    async fn with_permit(&self, permit: OwnedSemaphorePermit) -> Result<Pooled<M>> {
        let inner = &self.inner;
        loop {
            let candidate = inner.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let Some((mut conn, since)) = candidate else {
                break;
            };
            if !inner.manager.revalidate(&mut conn) {
                inner.closed_count.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            if since.elapsed() >= inner.config.ping_after
                && inner.manager.ping(&mut conn).await.is_err()
            {
                inner.closed_count.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            return Ok(self.wrap(conn, permit));
        }
        let conn = inner.manager.connect().await?;
        inner.created.fetch_add(1, Ordering::Relaxed);
        Ok(self.wrap(conn, permit))
    }

    fn wrap(&self, conn: M::Conn, permit: OwnedSemaphorePermit) -> Pooled<M> {
        self.inner.in_use.fetch_add(1, Ordering::Relaxed);
        let owner = caller();
        if let Some(me) = owner {
            *self
                .inner
                .held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(me)
                .or_insert(0) += 1;
        }
        Pooled {
            conn: Some(conn),
            pool: self.inner.clone(),
            _permit: permit,
            broken: false,
            owner,
        }
    }

    pub fn stats(&self) -> PoolStats {
        let inner = &self.inner;
        let idle = inner.idle.lock().unwrap_or_else(|e| e.into_inner()).len();
        let in_use = inner.in_use.load(Ordering::Relaxed);
        PoolStats {
            max_size: inner.config.max_size,
            size: idle + in_use,
            idle,
            in_use,
            waiting: inner.waiting.load(Ordering::Relaxed),
            created: inner.created.load(Ordering::Relaxed),
            closed: inner.closed_count.load(Ordering::Relaxed),
        }
    }

    /// Close idle connections now and every in-use one when it is returned.
    pub fn close(&self) {
        let inner = &self.inner;
        if inner.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        inner.semaphore.close();
        let drained: Vec<_> =
            std::mem::take(&mut *inner.idle.lock().unwrap_or_else(|e| e.into_inner()));
        inner
            .closed_count
            .fetch_add(drained.len() as u64, Ordering::Relaxed);
        drop(drained);
    }
}

/// A checked-out connection; returns to the pool on drop unless marked broken.
pub struct Pooled<M: Manager> {
    conn: Option<M::Conn>,
    pool: Arc<Inner<M>>,
    _permit: OwnedSemaphorePermit,
    broken: bool,
    /// The calling thread it was checked out for, if any (see [`as_caller`]).
    owner: Option<ThreadId>,
}

impl<M: Manager> Pooled<M> {
    /// Discard this connection instead of returning it (after a connection-level error).
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }
    /// Undo [`Pooled::mark_broken`]: for a connection marked broken while it held state
    /// that must not reach the pool (a table lock), once that state is cleared.
    pub fn clear_broken(&mut self) {
        self.broken = false;
    }
    /// Mark broken when `err` says the connection itself is unusable.
    pub fn observe<T>(&mut self, res: &Result<T>) {
        if let Err(e) = res {
            if matches!(e.kind, ErrorKind::Connection | ErrorKind::Authentication) {
                self.broken = true;
            }
        }
    }
    /// Take the connection out (e.g. to move it onto a blocking thread); put it back with [`Pooled::restore`].
    pub fn take(&mut self) -> M::Conn {
        self.conn.take().expect("pooled connection present")
    }
    pub fn restore(&mut self, conn: M::Conn) {
        self.conn = Some(conn);
    }
}

impl<M: Manager> std::ops::Deref for Pooled<M> {
    type Target = M::Conn;
    fn deref(&self) -> &M::Conn {
        self.conn.as_ref().expect("pooled connection present")
    }
}

impl<M: Manager> std::ops::DerefMut for Pooled<M> {
    fn deref_mut(&mut self) -> &mut M::Conn {
        self.conn.as_mut().expect("pooled connection present")
    }
}

impl<M: Manager> Drop for Pooled<M> {
    fn drop(&mut self) {
        let pool = &self.pool;
        pool.in_use.fetch_sub(1, Ordering::Relaxed);
        if let Some(me) = self.owner {
            let mut held = pool.held.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(n) = held.get_mut(&me) {
                *n -= 1;
                if *n == 0 {
                    held.remove(&me);
                }
            }
        }
        match self.conn.take() {
            Some(conn)
                if !self.broken
                    && !pool.closed.load(Ordering::Acquire)
                    && pool.manager.is_valid(&conn) =>
            {
                pool.idle
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((conn, Instant::now()));
            }
            Some(_) | None => {
                pool.closed_count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counter(AtomicU64);
    impl Manager for Counter {
        type Conn = u64;
        async fn connect(&self) -> Result<u64> {
            Ok(self.0.fetch_add(1, Ordering::Relaxed))
        }
        fn is_valid(&self, conn: &u64) -> bool {
            *conn != 99
        }
        async fn ping(&self, _conn: &mut u64) -> Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn reuses_and_times_out() {
        let pool = Pool::new(
            Counter(AtomicU64::new(0)),
            PoolConfig {
                max_size: 1,
                acquire_timeout: Duration::from_millis(50),
                ping_after: Duration::from_secs(60),
            },
        );
        {
            let c = pool.get().await.unwrap();
            assert_eq!(*c, 0);
            let err = pool.get().await.err().unwrap();
            assert_eq!(err.kind, ErrorKind::PoolTimeout);
            assert!(err.transient);
            assert_eq!(pool.stats().in_use, 1);
        }
        let mut c = pool.get().await.unwrap();
        assert_eq!(*c, 0, "idle connection reused");
        c.mark_broken();
        drop(c);
        let c = pool.get().await.unwrap();
        assert_eq!(*c, 1, "broken connection replaced");
        drop(c);
        let s = pool.stats();
        assert_eq!((s.created, s.closed, s.idle, s.in_use), (2, 1, 1, 0));
        pool.close();
        assert_eq!(pool.get().await.err().unwrap().kind, ErrorKind::Interface);
    }

    #[tokio::test]
    async fn a_caller_waiting_for_itself_fails_after_the_grace() {
        let pool = Pool::new(
            Counter(AtomicU64::new(0)),
            PoolConfig {
                max_size: 2,
                acquire_timeout: Duration::from_secs(30),
                ping_after: Duration::from_secs(60),
            },
        );
        as_caller(async {
            let a = pool.get().await.unwrap();
            let b = pool.get().await.unwrap();
            let started = Instant::now();
            let err = pool.get().await.err().unwrap();
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "waited out the grace only"
            );
            assert_eq!(err.kind, ErrorKind::PoolTimeout);
            assert!(!err.transient, "retrying cannot help: {err}");
            assert!(err.message.contains("this thread"), "{err}");
            // a connection given back during the grace is taken
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                drop(a);
            });
            let c = pool.get().await.unwrap();
            drop((b, c));
        })
        .await;
        assert!(
            pool.inner.held.lock().unwrap().is_empty(),
            "counts returned"
        );
        // A connection held by another caller (here: no caller) is waited for as usual.
        let held = pool.get().await.unwrap();
        let other = pool.get().await.unwrap();
        let pool2 = pool.clone();
        let waiter = tokio::spawn(async move { as_caller(pool2.get()).await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        waiter.await.unwrap().unwrap();
        drop(other);
        // Synchronous checkouts are counted too.
        let a = as_caller_sync(|| pool.try_idle()).unwrap();
        assert_eq!(pool.inner.held.lock().unwrap().len(), 1);
        drop(a);
        assert!(pool.inner.held.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn try_idle_takes_only_ready_connections() {
        let cfg = |ping_after| PoolConfig {
            max_size: 2,
            acquire_timeout: Duration::from_millis(50),
            ping_after,
        };
        let pool = Pool::new(Counter(AtomicU64::new(0)), cfg(Duration::from_secs(60)));
        assert!(
            pool.try_idle().is_none(),
            "nothing idle yet: never connects"
        );
        drop(pool.get().await.unwrap());
        let a = pool.try_idle().expect("the idle connection");
        assert_eq!(*a, 0);
        assert!(pool.try_idle().is_none(), "no second idle connection");
        let b = pool.get().await.unwrap();
        assert!(pool.try_idle().is_none(), "at the pool's limit");
        drop((a, b));
        assert_eq!(pool.stats().idle, 2);
        // Due a ping: left for the async path, still idle.
        let stale = Pool::new(Counter(AtomicU64::new(0)), cfg(Duration::ZERO));
        drop(stale.get().await.unwrap());
        assert!(stale.try_idle().is_none());
        assert_eq!(stale.stats().idle, 1);
        pool.close();
        assert!(pool.try_idle().is_none());
    }
}
