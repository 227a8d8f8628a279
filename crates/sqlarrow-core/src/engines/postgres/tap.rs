//! Borrowing a connection's byte stream from tokio-postgres for a bulk read.
//!
//! tokio-postgres hands every backend message of a COPY to its client through its own
//! parser and a channel: for a binary COPY, where the server sends one CopyData message
//! per row, that per-message work costs more client CPU than decoding the rows. A
//! [`Tapped`] stream sits between tokio-postgres's connection and the socket (above TLS
//! when TLS is in use). While a reader has [`Tap::borrow`]ed it, the connection's reads
//! and writes wait, and the reader talks to the server itself (see
//! [`super::wire::copy_out`]), parsing frames in place from one large buffer. When the
//! reader has read up to ReadyForQuery it hands the stream back
//! ([`Borrowed::give_back`]) and the connection carries on as if it had been idle. A
//! reader that stops anywhere else leaves the protocol out of step: the stream is then
//! abandoned, every later operation on it fails, and the connection ends.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, TlsConnect, TlsStream};

const OPEN: u8 = 0;
const BORROWED: u8 = 1;
const ABANDONED: u8 = 2;

/// The stream and its state, shared by the connection's [`Tapped`] end and the [`Tap`].
struct Shared<T: ?Sized> {
    state: AtomicU8,
    /// The connection's waker while the stream is borrowed.
    parked: Mutex<Option<Waker>>,
    io: Mutex<T>,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves the stream itself usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T: ?Sized> Shared<T> {
    /// What the connection's side may do now: `None` to go ahead, else the answer.
    fn gate<R>(&self, cx: &mut Context<'_>) -> Option<Poll<io::Result<R>>> {
        match self.state.load(Ordering::Acquire) {
            OPEN => None,
            BORROWED => {
                *lock(&self.parked) = Some(cx.waker().clone());
                // Handed back between the load and the parking: go ahead.
                match self.state.load(Ordering::Acquire) {
                    OPEN => None,
                    BORROWED => Some(Poll::Pending),
                    _ => Some(Poll::Ready(Err(abandoned()))),
                }
            }
            _ => Some(Poll::Ready(Err(abandoned()))),
        }
    }

    fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        if let Some(w) = lock(&self.parked).take() {
            w.wake();
        }
    }
}

fn abandoned() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "the connection was abandoned in the middle of a bulk read",
    )
}

/// The stream as tokio-postgres's connection sees it.
pub struct Tapped<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Tapped<T>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    pub fn new(io: T) -> (Self, Tap) {
        let shared = Arc::new(Shared {
            state: AtomicU8::new(OPEN),
            parked: Mutex::new(None),
            io: Mutex::new(io),
        });
        let tap = Tap(shared.clone());
        (Tapped { shared }, tap)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tapped<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(p) = self.shared.gate(cx) {
            return p;
        }
        Pin::new(&mut *lock(&self.shared.io)).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tapped<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(p) = self.shared.gate(cx) {
            return p;
        }
        Pin::new(&mut *lock(&self.shared.io)).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(p) = self.shared.gate(cx) {
            return p;
        }
        Pin::new(&mut *lock(&self.shared.io)).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.shared.gate::<()>(cx) {
            None => Pin::new(&mut *lock(&self.shared.io)).poll_shutdown(cx),
            // Closing an abandoned stream is all that is left to do with it.
            Some(Poll::Ready(Err(_))) => Poll::Ready(Ok(())),
            Some(p) => p,
        }
    }
}

impl<T: TlsStream + Unpin> TlsStream for Tapped<T> {
    fn channel_binding(&self) -> ChannelBinding {
        lock(&self.shared.io).channel_binding()
    }
}

/// The byte stream operations a reader needs, whatever the stream's type.
trait Io: Send + Sync {
    fn state(&self) -> &AtomicU8;
    fn set(&self, state: u8);
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>>;
    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>>;
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

impl<T> Io for Shared<T>
where
    T: AsyncRead + AsyncWrite + Unpin + Send,
{
    fn state(&self) -> &AtomicU8 {
        &self.state
    }
    fn set(&self, state: u8) {
        Shared::set(self, state)
    }
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.io)).poll_read(cx, buf)
    }
    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&self.io)).poll_write(cx, data)
    }
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&self.io)).poll_flush(cx)
    }
}

/// The reader's handle on a [`Tapped`] stream.
#[derive(Clone)]
pub struct Tap(Arc<dyn Io>);

impl Tap {
    /// Take the stream from the connection. `None` when it is already borrowed or was
    /// abandoned. The connection must be idle (no statement in flight).
    pub fn borrow(&self) -> Option<Borrowed> {
        self.0
            .state()
            .compare_exchange(OPEN, BORROWED, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(Borrowed {
            io: self.0.clone(),
            given_back: false,
        })
    }

    /// Whether a reader stopped in the middle of the protocol (the connection is lost).
    pub fn is_abandoned(&self) -> bool {
        self.0.state().load(Ordering::Acquire) == ABANDONED
    }
}

/// A borrowed stream. Dropped without [`Borrowed::give_back`], it is abandoned.
pub struct Borrowed {
    io: Arc<dyn Io>,
    given_back: bool,
}

impl Borrowed {
    /// Read what is available (at least one byte, or 0 at end of stream) into `buf`'s
    /// spare capacity, which must not be empty.
    pub fn read<'a>(
        &'a mut self,
        buf: &'a mut Vec<u8>,
    ) -> impl Future<Output = io::Result<usize>> + 'a {
        futures_util::future::poll_fn(move |cx| {
            let spare = buf.spare_capacity_mut();
            let mut rb = ReadBuf::uninit(spare);
            match self.io.poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    // SAFETY: the read initialized the first `n` spare bytes.
                    unsafe { buf.set_len(buf.len() + n) };
                    Poll::Ready(Ok(n))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        })
    }

    /// Write all of `data` and flush it.
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = futures_util::future::poll_fn(|cx| self.io.poll_write(cx, data)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        futures_util::future::poll_fn(|cx| self.io.poll_flush(cx)).await
    }

    /// Hand the stream back to the connection, with the protocol where the connection
    /// left it (after a ReadyForQuery).
    pub fn give_back(mut self) {
        self.given_back = true;
        self.io.set(OPEN);
    }
}

impl Drop for Borrowed {
    fn drop(&mut self) {
        if !self.given_back {
            self.io.set(ABANDONED);
        }
    }
}

/// A TLS connector whose streams are [`Tapped`]; the tap of the last stream it made
/// goes to `slot`.
pub struct TapConnect<C> {
    pub inner: C,
    pub slot: Arc<Mutex<Option<Tap>>>,
}

impl<S, C> TlsConnect<S> for TapConnect<C>
where
    C: TlsConnect<S>,
    C::Stream: Unpin + Send + 'static,
    C::Future: Send + 'static,
{
    type Stream = Tapped<C::Stream>;
    type Error = C::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Tapped<C::Stream>, C::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        let handshake = self.inner.connect(stream);
        let slot = self.slot;
        Box::pin(async move {
            let (tapped, tap) = Tapped::new(handshake.await?);
            *lock(&slot) = Some(tap);
            Ok(tapped)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    #[test]
    fn a_borrow_pauses_the_owner_and_giving_back_resumes_it() {
        rt().block_on(async {
            let (ours, mut peer) = tokio::io::duplex(64);
            let (mut tapped, tap) = Tapped::new(ours);
            let mut b = tap.borrow().expect("open");
            assert!(tap.borrow().is_none(), "one borrower at a time");
            peer.write_all(b"abc").await.unwrap();
            // The owner waits while the stream is borrowed...
            let mut one = [0u8; 1];
            let owner = tokio::spawn(async move {
                tapped.read_exact(&mut one).await.unwrap();
                (tapped, one)
            });
            tokio::task::yield_now().await;
            let mut buf = Vec::with_capacity(16);
            assert_eq!(b.read(&mut buf).await.unwrap(), 3);
            assert_eq!(buf, b"abc");
            b.write_all(b"xy").await.unwrap();
            let mut two = [0u8; 2];
            peer.read_exact(&mut two).await.unwrap();
            assert_eq!(&two, b"xy");
            b.give_back();
            // ...and reads what comes after it is handed back.
            peer.write_all(b"z").await.unwrap();
            let (_tapped, one) = owner.await.unwrap();
            assert_eq!(&one, b"z");
            assert!(!tap.is_abandoned());
            assert!(tap.borrow().is_some());
        });
    }

    #[test]
    fn a_dropped_borrow_fails_the_owner_instead_of_hanging_it() {
        rt().block_on(async {
            let (ours, _peer) = tokio::io::duplex(64);
            let (mut tapped, tap) = Tapped::new(ours);
            let b = tap.borrow().unwrap();
            let owner = tokio::spawn(async move {
                let mut one = [0u8; 1];
                tapped.read_exact(&mut one).await
            });
            tokio::task::yield_now().await;
            drop(b);
            let err = owner.await.unwrap().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionAborted);
            assert!(tap.is_abandoned());
            assert!(tap.borrow().is_none());
        });
    }
}
