//! Cancellation of a running statement from another thread (Ctrl-C, timeouts, a
//! stream closed early). An operation registers how to cancel it on the server once it
//! holds a connection; whoever wants it stopped calls [`CancelSlot::cancel`].

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// A future that asks the server to cancel the running statement.
pub type CancelFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
type CancelFn = Arc<dyn Fn() -> CancelFuture + Send + Sync>;

#[derive(Default)]
struct State {
    cancelled: bool,
    handle: Option<CancelFn>,
}

/// Shared between a running operation and whoever may cancel it.
#[derive(Clone, Default)]
pub struct CancelSlot(Arc<Mutex<State>>);

impl CancelSlot {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Register how to cancel on the server. If cancellation was already requested,
    /// returns the future to run now.
    pub fn register(
        &self,
        f: impl Fn() -> CancelFuture + Send + Sync + 'static,
    ) -> Option<CancelFuture> {
        let f: CancelFn = Arc::new(f);
        let mut st = self.lock();
        st.handle = Some(f.clone());
        if st.cancelled {
            Some(f())
        } else {
            None
        }
    }

    /// Register how to cancel an operation that has not started yet. True when
    /// cancellation was already requested: then nothing runs to cancel, so `f` is not
    /// called (no request goes to the server), the slot keeps no handle, and the
    /// operation must not start.
    pub fn register_before_start(
        &self,
        f: impl Fn() -> CancelFuture + Send + Sync + 'static,
    ) -> bool {
        let mut st = self.lock();
        if st.cancelled {
            st.handle = None;
            return true;
        }
        st.handle = Some(Arc::new(f));
        false
    }

    /// Forget the handle (the statement finished).
    pub fn clear(&self) {
        self.lock().handle = None;
    }

    /// Request cancellation; returns the server-side cancel future if a statement is running.
    pub fn cancel(&self) -> Option<CancelFuture> {
        let mut st = self.lock();
        st.cancelled = true;
        st.handle.as_ref().map(|f| f())
    }

    pub fn is_cancelled(&self) -> bool {
        self.lock().cancelled
    }

    /// Make cancelling this slot cancel every one of `parts` (the statements of a split
    /// read). True when cancellation was already requested: the parts were cancelled,
    /// this slot is cleared, and the parts must not start.
    pub async fn register_parts(&self, parts: &[CancelSlot]) -> bool {
        let kids = parts.to_vec();
        match self.register(move || {
            let kids = kids.clone();
            Box::pin(async move { cancel_all(&kids).await })
        }) {
            Some(fut) => {
                fut.await;
                self.clear();
                true
            }
            None => false,
        }
    }
}

/// Cancel every slot of `slots` at once (the parts of a split read).
pub async fn cancel_all(slots: &[CancelSlot]) {
    futures_util::future::join_all(slots.iter().filter_map(|k| k.cancel())).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counting(calls: &Arc<AtomicUsize>) -> impl Fn() -> CancelFuture + Send + Sync + 'static {
        let calls = calls.clone();
        move || {
            calls.fetch_add(1, Ordering::SeqCst);
            Box::pin(async {})
        }
    }

    #[test]
    fn register_before_start_after_a_cancel_sends_nothing() {
        let calls = Arc::new(AtomicUsize::new(0));
        let slot = CancelSlot::new();
        assert!(slot.cancel().is_none());
        assert!(slot.register_before_start(counting(&calls)));
        // Nothing was asked of the server, and the slot holds no handle afterwards.
        assert!(slot.cancel().is_none());
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn register_before_start_then_cancel_runs_the_handle() {
        let calls = Arc::new(AtomicUsize::new(0));
        let slot = CancelSlot::new();
        assert!(!slot.register_before_start(counting(&calls)));
        assert!(slot.cancel().is_some());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        slot.clear();
        assert!(slot.cancel().is_none());
    }
}
