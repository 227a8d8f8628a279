//! The process-wide tokio runtime and the helper that waits on it with the GIL
//! released while polling for Ctrl-C.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use pyo3::prelude::*;
use sqlarrow_core::cancel::CancelSlot;
use tokio::runtime::Runtime;

use crate::errors::to_pyerr;

static RUNTIME: OnceLock<(u32, Runtime)> = OnceLock::new();

/// The shared runtime, built on first use. A forked child cannot use its parent's
/// runtime (its worker threads did not survive the fork), so it gets a clear error.
pub fn runtime() -> PyResult<&'static Runtime> {
    let (pid, rt) = RUNTIME.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("sqlarrow-io")
            .build()
            .expect("failed to start the sqlarrow I/O runtime");
        (std::process::id(), rt)
    });
    if *pid != std::process::id() {
        return Err(to_pyerr(sqlarrow_core::Error::interface(
            "sqlarrow was used before this process forked; create connectors in the child \
             process (or use the 'spawn' start method for multiprocessing)",
        )));
    }
    Ok(rt)
}

/// How long to wait for a cancelled statement to wind down before giving up on it.
const CANCEL_GRACE: Duration = Duration::from_secs(5);
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// Run `fut` to completion with the GIL released. Every 100 ms the GIL is taken briefly
/// to check for signals; on Ctrl-C the statement is cancelled on the server (through
/// `cancel`), given a few seconds to stop so its connection stays usable, and the
/// `KeyboardInterrupt` is raised.
pub fn wait_for<F, T>(py: Python<'_>, cancel: Option<&CancelSlot>, fut: F) -> PyResult<T>
where
    F: Future<Output = sqlarrow_core::Result<T>> + Send,
    T: Send,
{
    let rt = runtime()?;
    let outcome: Result<sqlarrow_core::Result<T>, PyErr> = py.detach(|| {
        rt.block_on(sqlarrow_core::pool::as_caller(async {
            tokio::pin!(fut);
            loop {
                tokio::select! {
                    res = &mut fut => return Ok(res),
                    _ = tokio::time::sleep(SIGNAL_POLL) => {
                        if let Err(interrupt) = Python::attach(|py| py.check_signals()) {
                            if let Some(slot) = cancel {
                                if let Some(c) = slot.cancel() {
                                    let _ = tokio::time::timeout(CANCEL_GRACE, c).await;
                                }
                                let _ = tokio::time::timeout(CANCEL_GRACE, &mut fut).await;
                            }
                            return Err(interrupt);
                        }
                    }
                }
            }
        }))
    });
    match outcome {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_pyerr(e)),
        Err(interrupt) => Err(interrupt),
    }
}

/// Run `work` on the calling thread where the engine can (see
/// `Connector::query_direct`), with the GIL released. Ctrl-C is noticed from inside
/// the statement (the engine asks every 50 ms, taking the GIL briefly) and raised as
/// `KeyboardInterrupt`. `Ok(None)`: the call must go through [`wait_for`].
fn run_direct<T: Send>(
    py: Python<'_>,
    work: impl FnOnce(
            Arc<dyn Fn() -> bool + Send + Sync>,
            &tokio::runtime::Handle,
        ) -> Option<sqlarrow_core::Result<T>>
        + Send,
) -> PyResult<Option<T>> {
    // The same fork guard as the runtime: connections must not cross a fork.
    let rt = runtime()?.handle();
    let signal: Arc<Mutex<Option<PyErr>>> = Arc::default();
    let seen = signal.clone();
    let interrupted: Arc<dyn Fn() -> bool + Send + Sync> = Arc::new(move || {
        Python::attach(|py| match py.check_signals() {
            Ok(()) => false,
            Err(e) => {
                *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                true
            }
        })
    });
    match py.detach(|| sqlarrow_core::pool::as_caller_sync(|| work(interrupted, rt))) {
        None => Ok(None),
        Some(Ok(out)) => Ok(Some(out)),
        Some(Err(e)) => match signal.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(interrupt) => Err(interrupt),
            None => Err(to_pyerr(e)),
        },
    }
}

/// A query on the calling thread (see [`run_direct`]).
pub fn query_direct(
    py: Python<'_>,
    conn: &sqlarrow_core::Connector,
    sql: &str,
    params: &sqlarrow_core::Params,
    opts: sqlarrow_core::QueryOptions,
) -> PyResult<Option<sqlarrow_core::connector::QueryOutput>> {
    run_direct(py, |interrupted, rt| {
        conn.query_direct(sql, params, opts, interrupted, rt)
    })
}

/// A statement without a result on the calling thread (see [`run_direct`]).
pub fn execute_direct(
    py: Python<'_>,
    conn: &sqlarrow_core::Connector,
    sql: &str,
    params: &sqlarrow_core::Params,
    timeout: Option<Duration>,
) -> PyResult<Option<u64>> {
    run_direct(py, |interrupted, rt| {
        conn.execute_direct(sql, params, timeout, interrupted, rt)
    })
}
