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
    io: Mutex<Inner<T>>,
}

struct Inner<T: ?Sized> {
    track: Track,
    io: T,
}

/// Splits a byte stream of protocol messages (type byte, 4-byte length, body) and
/// reports each message's type as its header completes.
#[derive(Default)]
struct Framer {
    header: [u8; 5],
    have: usize,
    skip: usize,
}

impl Framer {
    fn feed(&mut self, mut data: &[u8], mut on_type: impl FnMut(u8)) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.have).min(data.len());
            self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == 5 {
                let h = self.header;
                self.have = 0;
                self.skip =
                    (u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize).saturating_sub(4);
                on_type(h[0]);
            }
        }
    }

    fn at_boundary(&self) -> bool {
        self.have == 0 && self.skip == 0
    }
}

/// Whether the connection is idle on the wire: everything it asked for has been
/// answered. tokio-postgres gives a connection back to its client (so to the pool) as
/// soon as the client has what it wanted; the answer to a statement whose stream was
/// dropped early may still be arriving. A borrower must start on a quiet wire, so the
/// connection's traffic is followed here: each Sync or Query it sends earns one
/// ReadyForQuery, except a Sync that the server ignores because it arrived in the
/// middle of a COPY FROM STDIN (tokio-postgres sends Bind, Execute, Sync at once, then
/// the data, then CopyDone or CopyFail and another Sync). Such a Sync is written off
/// only when the server did start the COPY (its CopyInResponse came back); when the
/// Execute failed, the Sync was honoured. Any doubt errs towards owing more, which only
/// keeps the stream from being lent.
#[derive(Default)]
struct Track {
    /// Following starts once the connection is set up (the startup messages have no
    /// type byte; under TLS the socket's own tap sees only ciphertext and never starts).
    armed: bool,
    sent: Framer,
    received: Framer,
    /// ReadyForQuery messages owed and received.
    owed: u64,
    ready: u64,
    /// Syncs sent since the last Execute or Query (ignored if that started a COPY IN).
    syncs_since_execute: u64,
    /// A CopyInResponse came back since the last Execute or Query was sent.
    copy_in_started: bool,
    /// A message was sent after the last Sync or Query: a request is half sent.
    unsynced: bool,
}

impl Track {
    fn sent(&mut self, data: &[u8]) {
        if !self.armed {
            return;
        }
        let (owed, since, unsynced, started) = (
            &mut self.owed,
            &mut self.syncs_since_execute,
            &mut self.unsynced,
            &mut self.copy_in_started,
        );
        self.sent.feed(data, |t| match t {
            b'S' => {
                *owed += 1;
                *since += 1;
                *unsynced = false;
            }
            b'Q' => {
                *owed += 1;
                *since = 0;
                *started = false;
                *unsynced = false;
            }
            b'E' => {
                *since = 0;
                *started = false;
                *unsynced = true;
            }
            // CopyDone / CopyFail: the Syncs sent during a COPY IN that the server
            // started were ignored.
            b'c' | b'f' => {
                if *started {
                    *owed -= (*since).min(*owed);
                }
                *since = 0;
                *started = false;
                *unsynced = true;
            }
            _ => *unsynced = true,
        });
    }

    fn received(&mut self, data: &[u8]) {
        if !self.armed {
            return;
        }
        let (ready, started) = (&mut self.ready, &mut self.copy_in_started);
        self.received.feed(data, |t| match t {
            b'Z' => *ready += 1,
            b'G' => *started = true,
            _ => {}
        });
    }

    fn idle(&self) -> bool {
        self.armed
            && !self.unsynced
            && self.owed == self.ready
            && self.sent.at_boundary()
            && self.received.at_boundary()
    }
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
            io: Mutex::new(Inner {
                track: Track::default(),
                io,
            }),
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
        // The state is read under the stream's lock, which a borrow also takes.
        let mut inner = lock(&self.shared.io);
        if let Some(p) = self.shared.gate(cx) {
            return p;
        }
        let before = buf.filled().len();
        let res = Pin::new(&mut inner.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            inner.track.received(&buf.filled()[before..]);
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tapped<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut inner = lock(&self.shared.io);
        if let Some(p) = self.shared.gate(cx) {
            return p;
        }
        let res = Pin::new(&mut inner.io).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = res {
            inner.track.sent(&data[..n]);
        }
        res
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = lock(&self.shared.io);
        if let Some(p) = self.shared.gate(cx) {
            return p;
        }
        Pin::new(&mut inner.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = lock(&self.shared.io);
        match self.shared.gate::<()>(cx) {
            None => Pin::new(&mut inner.io).poll_shutdown(cx),
            // Closing an abandoned stream is all that is left to do with it.
            Some(Poll::Ready(Err(_))) => Poll::Ready(Ok(())),
            Some(p) => p,
        }
    }
}

impl<T: TlsStream + Unpin> TlsStream for Tapped<T> {
    fn channel_binding(&self) -> ChannelBinding {
        lock(&self.shared.io).io.channel_binding()
    }
}

/// The byte stream operations a reader needs, whatever the stream's type.
trait Io: Send + Sync {
    fn state(&self) -> &AtomicU8;
    fn set(&self, state: u8);
    fn arm(&self);
    /// Open and idle on the wire: now borrowed.
    fn try_borrow(&self) -> bool;
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
    fn arm(&self) {
        lock(&self.io).track.armed = true;
    }
    fn try_borrow(&self) -> bool {
        let inner = lock(&self.io);
        if self.state.load(Ordering::Acquire) == OPEN && inner.track.idle() {
            self.state.store(BORROWED, Ordering::Release);
            true
        } else {
            false
        }
    }
    // The borrower's own traffic is not followed: it starts and ends on a quiet wire.
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.io).io).poll_read(cx, buf)
    }
    fn poll_write(&self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut lock(&self.io).io).poll_write(cx, data)
    }
    fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut lock(&self.io).io).poll_flush(cx)
    }
}

/// The reader's handle on a [`Tapped`] stream.
#[derive(Clone)]
pub struct Tap(Arc<dyn Io>);

impl Tap {
    /// Start following the connection's traffic: call once the connection is set up
    /// and idle (after the startup's ReadyForQuery).
    pub fn arm(&self) {
        self.0.arm();
    }

    /// Take the stream from the connection. `None` when the wire is not idle (an
    /// answer is still arriving or a request is half sent), or the stream is already
    /// borrowed or was abandoned.
    pub fn borrow(&self) -> Option<Borrowed> {
        self.0.try_borrow().then(|| Borrowed {
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
            assert!(tap.borrow().is_none(), "not armed yet");
            tap.arm();
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
            // The owner has read a byte that starts a message: not idle now.
            assert!(tap.borrow().is_none());
        });
    }

    #[test]
    fn a_dropped_borrow_fails_the_owner_instead_of_hanging_it() {
        rt().block_on(async {
            let (ours, _peer) = tokio::io::duplex(64);
            let (mut tapped, tap) = Tapped::new(ours);
            tap.arm();
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

    fn z6() -> [u8; 6] {
        [0u8; 6]
    }

    fn msg(t: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![t];
        m.extend(((body.len() + 4) as u32).to_be_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn borrows_wait_for_every_answer_the_connection_is_owed() {
        rt().block_on(async {
            let (ours, mut peer) = tokio::io::duplex(1 << 16);
            let (mut tapped, tap) = Tapped::new(ours);
            tap.arm();
            assert!(tap.borrow().map(Borrowed::give_back).is_some());
            // Bind, Execute, Sync: one ReadyForQuery owed.
            let mut req = msg(b'B', b"xyz");
            req.extend(msg(b'E', b"\0\0\0\0\0"));
            // Half a request on the wire: not idle.
            tapped.write_all(&req).await.unwrap();
            assert!(tap.borrow().is_none());
            tapped.write_all(&msg(b'S', b"")).await.unwrap();
            assert!(tap.borrow().is_none());
            // The answer arrives in pieces; only its ReadyForQuery settles it.
            let mut answer = msg(b'2', b"");
            answer.extend(msg(b'D', &[7; 300]));
            answer.extend(msg(b'C', b"SELECT 1\0"));
            answer.extend(msg(b'Z', b"I"));
            let mut got = vec![0u8; answer.len()];
            let (head, tail) = answer.split_at(answer.len() - 3);
            peer.write_all(head).await.unwrap();
            tapped.read_exact(&mut got[..head.len()]).await.unwrap();
            assert!(tap.borrow().is_none());
            peer.write_all(tail).await.unwrap();
            tapped.read_exact(&mut got[head.len()..]).await.unwrap();
            assert!(tap.borrow().map(Borrowed::give_back).is_some());
            // COPY FROM STDIN (as tokio-postgres runs it: the data only after the
            // CopyInResponse): the Sync sent with the Execute is ignored by the server,
            // so the whole exchange owes one ReadyForQuery, not two.
            let mut req = msg(b'B', b"");
            req.extend(msg(b'E', b"\0\0\0\0\0"));
            req.extend(msg(b'S', b""));
            tapped.write_all(&req).await.unwrap();
            let mut answer = msg(b'2', b"");
            answer.extend(msg(b'G', b"\0\0\0"));
            peer.write_all(&answer).await.unwrap();
            let mut got = vec![0u8; answer.len()];
            tapped.read_exact(&mut got).await.unwrap();
            assert!(tap.borrow().is_none());
            let mut req = msg(b'd', b"1\t2\n");
            req.extend(msg(b'c', b""));
            req.extend(msg(b'S', b""));
            tapped.write_all(&req).await.unwrap();
            let mut answer = msg(b'C', b"COPY 1\0");
            answer.extend(msg(b'Z', b"I"));
            peer.write_all(&answer).await.unwrap();
            let mut got = vec![0u8; answer.len()];
            tapped.read_exact(&mut got).await.unwrap();
            assert!(tap.borrow().map(Borrowed::give_back).is_some());
            // A COPY FROM STDIN whose Execute fails: the server honours the first Sync
            // (ReadyForQuery), ignores the CopyFail outside a COPY, answers the second
            // Sync too. Two are owed; the stream is not lent between them.
            let mut req = msg(b'B', b"");
            req.extend(msg(b'E', b"\0\0\0\0\0"));
            req.extend(msg(b'S', b""));
            tapped.write_all(&req).await.unwrap();
            let mut answer = msg(b'E', b"SERROR\0C25006\0Mread-only\0\0");
            answer.extend(msg(b'Z', b"I"));
            peer.write_all(&answer).await.unwrap();
            let mut got = vec![0u8; answer.len()];
            tapped.read_exact(&mut got).await.unwrap();
            let mut req = msg(b'f', b"\0");
            req.extend(msg(b'S', b""));
            tapped.write_all(&req).await.unwrap();
            assert!(tap.borrow().is_none());
            peer.write_all(&msg(b'Z', b"I")).await.unwrap();
            tapped.read_exact(&mut z6()).await.unwrap();
            assert!(tap.borrow().map(Borrowed::give_back).is_some());
            // Two pipelined simple queries owe two.
            let mut req = msg(b'Q', b"select 1\0");
            req.extend(msg(b'Q', b"select 2\0"));
            tapped.write_all(&req).await.unwrap();
            peer.write_all(&msg(b'Z', b"I")).await.unwrap();
            let mut z = [0u8; 6];
            tapped.read_exact(&mut z).await.unwrap();
            assert!(tap.borrow().is_none());
            peer.write_all(&msg(b'Z', b"I")).await.unwrap();
            tapped.read_exact(&mut z).await.unwrap();
            assert!(tap.borrow().is_some());
        });
    }
}
