//! Running a statement's network I/O on the calling thread.
//!
//! A small query through the async runtime costs two or three thread wake-ups: the
//! caller hands the statement to a runtime worker, the worker's reactor learns from
//! epoll that the answer has arrived, and the worker wakes the caller with the result.
//! On a busy two-core machine each wake-up is tens of microseconds, more than the server
//! needs to answer `SELECT 1`. A caller that is already outside the runtime (the Python
//! bindings, with the GIL released) can instead drive the statement's future itself and
//! wait on the socket with `poll(2)`: the kernel then wakes the one thread that wants
//! the answer.
//!
//! [`HybridStream`] is a TCP stream that is an ordinary tokio stream, except while a
//! caller drives it directly ([`DirectFlags`] on): then its reads and writes are plain
//! non-blocking system calls that report "not ready" without involving the reactor.
//! [`drive`] polls a future on the calling thread, sleeping in `poll(2)` on the socket
//! between polls, and gives up at a deadline or when asked to stop (Ctrl-C).

use std::future::Future;
use std::io;
#[cfg(not(unix))]
use std::io::{Read, Write};
#[cfg(unix)]
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How often a directly driven statement asks whether to stop (Ctrl-C).
pub const SIGNAL_INTERVAL: Duration = Duration::from_millis(50);

/// Paces the reads of a large answer: once `NAP_AFTER` bytes have come, a read that
/// brought less than `NAP_BELOW` bytes is followed by a short sleep before the next.
///
/// The readers decode faster than one database backend sends. Without this they drain
/// the socket after each of the server's small flushes (8 KiB for PostgreSQL, 16 KiB
/// for MariaDB) and sleep in `poll(2)`, and the server's `send` then has to wake them:
/// one wake-up per flush, which costs both sides more CPU than the decoding
/// (benches/NOTES.md, sessions 13 and 17). The nap lets tens of KiB gather instead.
/// Small answers never wait, and the socket's buffer (megabytes) absorbs a fast server.
///
/// The sleep is a plain thread sleep, also on a runtime worker (split ranges, streams),
/// which it holds that long. The runtime's timer, tried instead (session 14), rounds up
/// to a millisecond: a split 10M-row read then made 21–30k context switches instead of
/// 8–10k, and took longer.
#[derive(Debug, Default)]
pub struct ReadPacer {
    /// Bytes of the answer read so far.
    total: usize,
    /// Bytes brought by the last read.
    last: usize,
}

impl ReadPacer {
    pub const NAP_AFTER: usize = 1 << 20;
    pub const NAP_BELOW: usize = 32 * 1024;
    pub const NAP: Duration = Duration::from_micros(300);

    /// Count a read of `n` bytes.
    pub fn record(&mut self, n: usize) {
        self.total += n;
        self.last = n;
    }

    /// Whether the next read should wait: the answer is large and the last read came
    /// back small.
    pub fn wants_nap(&self) -> bool {
        self.total >= Self::NAP_AFTER && self.last < Self::NAP_BELOW
    }

    /// Call before reading more of the answer: naps when [`Self::wants_nap`].
    pub fn pace(&self) {
        if self.wants_nap() {
            std::thread::sleep(Self::NAP);
        }
    }
}

/// The switch between async and direct use of a [`HybridStream`], shared with the
/// code that drives it.
#[derive(Default, Debug)]
pub struct DirectFlags {
    on: AtomicBool,
    /// A direct write found the socket's send buffer full: wait for it to drain.
    want_write: AtomicBool,
}

/// Direct use of a stream for as long as it lives (the stream is async again after).
pub struct DirectGuard<'a>(&'a DirectFlags);

impl DirectFlags {
    pub fn enter(&self) -> DirectGuard<'_> {
        self.want_write.store(false, Ordering::Relaxed);
        self.on.store(true, Ordering::Release);
        DirectGuard(self)
    }
}

impl Drop for DirectGuard<'_> {
    fn drop(&mut self) {
        self.0.on.store(false, Ordering::Release);
    }
}

/// A TCP stream usable from the async runtime and, while [`DirectFlags`] is on, from
/// a thread outside it (see the module documentation).
///
/// In direct use the socket is taken out of tokio's reactor (one `epoll_ctl`), so data
/// arriving for the direct reader does not also wake a runtime worker; the first async
/// use after that registers it again (which needs the runtime's context, present on its
/// workers and inside `Handle::enter`).
#[derive(Debug)]
pub struct HybridStream {
    sock: Sock,
    flags: Arc<DirectFlags>,
}

#[derive(Debug)]
enum Sock {
    Tokio(TcpStream),
    /// Deregistered from the reactor, still non-blocking.
    Plain(std::net::TcpStream),
    /// A Unix-domain socket (a MySQL server's local socket), in either state.
    #[cfg(unix)]
    TokioUnix(tokio::net::UnixStream),
    #[cfg(unix)]
    PlainUnix(std::os::unix::net::UnixStream),
    /// Only while switching (or after a failed switch: every operation then fails).
    Gone,
}

/// A tokio stream of either kind, for the async paths.
trait AsyncStream: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> AsyncStream for T {}

impl Sock {
    /// Take the socket out of the reactor for plain system calls.
    fn make_plain(&mut self) -> io::Result<()> {
        match self {
            Sock::Tokio(_) => {
                let Sock::Tokio(t) = std::mem::replace(self, Sock::Gone) else {
                    unreachable!()
                };
                *self = Sock::Plain(t.into_std()?);
            }
            #[cfg(unix)]
            Sock::TokioUnix(_) => {
                let Sock::TokioUnix(t) = std::mem::replace(self, Sock::Gone) else {
                    unreachable!()
                };
                *self = Sock::PlainUnix(t.into_std()?);
            }
            Sock::Gone => return Err(gone()),
            _ => {}
        }
        Ok(())
    }

    /// The TCP socket for plain system calls, out of the reactor.
    #[cfg(not(unix))]
    fn plain(&mut self) -> io::Result<&std::net::TcpStream> {
        self.make_plain()?;
        match self {
            Sock::Plain(s) => Ok(s),
            _ => Err(gone()),
        }
    }

    /// The socket's descriptor for plain system calls, out of the reactor.
    #[cfg(unix)]
    fn plain_fd(&mut self) -> io::Result<RawFd> {
        self.make_plain()?;
        match self {
            Sock::Plain(s) => Ok(s.as_raw_fd()),
            Sock::PlainUnix(s) => Ok(s.as_raw_fd()),
            _ => Err(gone()),
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the socket was lost switching modes",
    )
}

impl HybridStream {
    pub fn new(tcp: TcpStream) -> Self {
        HybridStream {
            sock: Sock::Tokio(tcp),
            flags: Arc::default(),
        }
    }

    /// A stream over a Unix-domain socket (a server on this machine).
    #[cfg(unix)]
    pub fn new_unix(sock: tokio::net::UnixStream) -> Self {
        HybridStream {
            sock: Sock::TokioUnix(sock),
            flags: Arc::default(),
        }
    }

    pub fn flags(&self) -> Arc<DirectFlags> {
        self.flags.clone()
    }

    #[cfg(unix)]
    pub fn fd(&self) -> RawFd {
        match &self.sock {
            Sock::Tokio(t) => t.as_raw_fd(),
            Sock::Plain(s) => s.as_raw_fd(),
            Sock::TokioUnix(t) => t.as_raw_fd(),
            Sock::PlainUnix(s) => s.as_raw_fd(),
            Sock::Gone => -1,
        }
    }

    /// Direct use needs `poll(2)` (unix); elsewhere the stream is always async.
    fn direct(&self) -> bool {
        cfg!(unix) && self.flags.on.load(Ordering::Acquire)
    }

    /// The socket as a tokio stream, registered with the reactor again if needed.
    fn tokio(&mut self) -> io::Result<&mut dyn AsyncStream> {
        // Only a socket out of the reactor is moved (the hot path just matches).
        match &self.sock {
            Sock::Plain(_) => {
                let Sock::Plain(s) = std::mem::replace(&mut self.sock, Sock::Gone) else {
                    unreachable!()
                };
                self.sock = Sock::Tokio(TcpStream::from_std(s)?);
            }
            #[cfg(unix)]
            Sock::PlainUnix(_) => {
                let Sock::PlainUnix(s) = std::mem::replace(&mut self.sock, Sock::Gone) else {
                    unreachable!()
                };
                self.sock = Sock::TokioUnix(tokio::net::UnixStream::from_std(s)?);
            }
            _ => {}
        }
        match &mut self.sock {
            Sock::Tokio(t) => Ok(t),
            #[cfg(unix)]
            Sock::TokioUnix(t) => Ok(t),
            _ => Err(gone()),
        }
    }

    fn read_direct(&mut self, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        #[cfg(unix)]
        {
            let fd = match self.sock.plain_fd() {
                Ok(fd) => fd,
                Err(e) => return Poll::Ready(Err(e)),
            };
            // read(2) straight into the unfilled part: no zeroing of a large spare
            // capacity before every read (what `initialize_unfilled` would cost).
            // SAFETY: read(2) only writes into the slice; the bytes it reports are
            // marked initialized below, and nothing reads the rest.
            let dst = unsafe { buf.unfilled_mut() };
            let read = || {
                // SAFETY: `dst` is valid for writes of `dst.len()` bytes.
                let n = unsafe { libc::read(fd, dst.as_mut_ptr().cast(), dst.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            };
            match direct_io(read, || ()) {
                Poll::Ready(Ok(n)) => {
                    // SAFETY: read(2) initialized the first `n` unfilled bytes.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        }
        #[cfg(not(unix))]
        {
            let sock = match self.sock.plain() {
                Ok(s) => s,
                Err(e) => return Poll::Ready(Err(e)),
            };
            let dst = buf.initialize_unfilled();
            match direct_io(|| (&*sock).read(dst), || ()) {
                Poll::Ready(Ok(n)) => {
                    buf.advance(n);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        }
    }

    fn write_direct(&mut self, data: &[u8]) -> Poll<io::Result<usize>> {
        let flags = &self.flags;
        #[cfg(unix)]
        {
            let fd = match self.sock.plain_fd() {
                Ok(fd) => fd,
                Err(e) => return Poll::Ready(Err(e)),
            };
            let write = || {
                // send(2) with MSG_NOSIGNAL, as std's TcpStream writes: a peer that closed
                // the socket is an EPIPE error, never a SIGPIPE.
                // SAFETY: send(2) only reads `data.len()` bytes from `data`.
                let n = unsafe { libc::send(fd, data.as_ptr().cast(), data.len(), SEND_FLAGS) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            };
            direct_io(write, || flags.want_write.store(true, Ordering::Relaxed))
        }
        #[cfg(not(unix))]
        {
            let sock = match self.sock.plain() {
                Ok(s) => s,
                Err(e) => return Poll::Ready(Err(e)),
            };
            direct_io(
                || (&*sock).write(data),
                || flags.want_write.store(true, Ordering::Relaxed),
            )
        }
    }
}

/// Flags of a direct `send(2)`: no SIGPIPE where the flag exists (elsewhere, as on
/// macOS, the socket library sets `SO_NOSIGPIPE` on the socket instead).
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(all(
    unix,
    not(any(target_os = "linux", target_os = "android", target_os = "freebsd"))
))]
const SEND_FLAGS: libc::c_int = 0;

/// A non-blocking system call: `Pending` (after `on_block`) when it would block.
fn direct_io<T>(
    mut op: impl FnMut() -> io::Result<T>,
    on_block: impl FnOnce(),
) -> Poll<io::Result<T>> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                on_block();
                return Poll::Pending;
            }
            r => return Poll::Ready(r),
        }
    }
}

impl AsyncRead for HybridStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.direct() {
            return this.read_direct(buf);
        }
        match this.tokio() {
            Ok(t) => Pin::new(t).poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for HybridStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.direct() {
            return this.write_direct(data);
        }
        match this.tokio() {
            Ok(t) => Pin::new(t).poll_write(cx, data),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // TCP keeps no user-space buffer to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The peer already closed it: nothing left to shut down.
        let closed = |r: io::Result<()>| match r {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        };
        match &mut self.get_mut().sock {
            Sock::Tokio(t) => Pin::new(t).poll_shutdown(cx),
            Sock::Plain(s) => Poll::Ready(closed(s.shutdown(std::net::Shutdown::Write))),
            #[cfg(unix)]
            Sock::TokioUnix(t) => Pin::new(t).poll_shutdown(cx),
            #[cfg(unix)]
            Sock::PlainUnix(s) => Poll::Ready(closed(s.shutdown(std::net::Shutdown::Write))),
            Sock::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Wait up to `ms` milliseconds for `events` on socket `fd`; whether any came. An
/// error (EINTR) counts as none.
#[cfg(unix)]
fn wait_for(fd: RawFd, events: libc::c_short, ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, ms) > 0 }
}

/// Whether socket `fd` has input waiting (or was closed by the peer), without waiting.
#[cfg(unix)]
pub fn readable(fd: RawFd) -> bool {
    wait_for(fd, libc::POLLIN, 0)
}

/// Why [`drive`] stopped before the future completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The deadline passed.
    Timeout,
    /// `interrupted` said to stop.
    Interrupted,
}

#[cfg(unix)]
impl Stop {
    /// The error of a statement stopped this way (the connector names the time limit
    /// in a timeout's message).
    pub fn error(self) -> crate::error::Error {
        match self {
            Stop::Timeout => crate::error::Error::new(
                crate::error::ErrorKind::Timeout,
                "the statement ran longer than its timeout",
            ),
            Stop::Interrupted => crate::error::Error::cancelled("interrupted"),
        }
    }
}

/// A waker that records that something is ready to make progress. Wakes from other
/// threads (tokio timers or sockets used on a rare path) are noticed at the next
/// `poll(2)` timeout, at most [`SIGNAL_INTERVAL`] later.
#[derive(Default)]
struct Flag(AtomicBool);

#[cfg(unix)]
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
    }
}

/// Poll `fut` on the calling thread until it completes, polling `also` (e.g. the task
/// that owns a connection's socket) before it each round, and sleeping in `poll(2)` on
/// socket `fd` while neither can make progress. The stream of `fd` must be in direct
/// mode (`flags`). Stops at `deadline`, or when `interrupted` (asked every
/// [`SIGNAL_INTERVAL`]) says so; the future is then left unfinished, its statement
/// still running on the server, for the caller to cancel.
#[cfg(unix)]
pub fn drive<F: Future + ?Sized>(
    fd: RawFd,
    flags: &DirectFlags,
    mut fut: Pin<&mut F>,
    mut also: Option<&mut dyn FnMut(&mut Context<'_>)>,
    deadline: Option<Instant>,
    interrupted: &dyn Fn() -> bool,
) -> Result<F::Output, Stop> {
    let flag = Arc::new(Flag::default());
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut last_check = Instant::now();
    loop {
        flag.0.store(false, Ordering::Release);
        flags.want_write.store(false, Ordering::Relaxed);
        // `also` first: the connection task then waits for requests with this thread's
        // waker, so the statement's first request does not wake its runtime task.
        if let Some(a) = also.as_mut() {
            a(&mut cx);
        }
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return Ok(v);
        }
        if flag.0.load(Ordering::Acquire) {
            continue;
        }
        let now = Instant::now();
        if deadline.is_some_and(|d| now >= d) {
            return Err(Stop::Timeout);
        }
        let since = now.duration_since(last_check);
        if since >= SIGNAL_INTERVAL {
            last_check = now;
            if interrupted() {
                return Err(Stop::Interrupted);
            }
        }
        let mut wait = SIGNAL_INTERVAL.saturating_sub(since);
        if let Some(d) = deadline {
            wait = wait.min(d.saturating_duration_since(now));
        }
        let mut events = libc::POLLIN;
        if flags.want_write.load(Ordering::Relaxed) {
            events |= libc::POLLOUT;
        }
        let ms = wait.as_millis().clamp(1, i32::MAX as u128) as i32;
        // Whatever woke it (or EINTR), the next round polls the futures again.
        wait_for(fd, events, ms);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (HybridStream, TcpStream) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let (c, s) = tokio::join!(TcpStream::connect(addr), l.accept());
        (HybridStream::new(c.unwrap()), s.unwrap().0)
    }

    #[test]
    fn direct_reads_and_writes_then_async_again() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (mut h, mut server) = rt.block_on(pair());
        // The peer answers on the runtime while this thread drives the client directly.
        let echo = rt.spawn(async move {
            let mut b = [0u8; 5];
            server.read_exact(&mut b).await.unwrap();
            server.write_all(&b).await.unwrap();
            server
        });
        let (fd, flags) = (h.fd(), h.flags());
        {
            let _g = flags.enter();
            let fut = async {
                h.write_all(b"hello").await?;
                let mut b = [0u8; 5];
                h.read_exact(&mut b).await?;
                io::Result::Ok(b)
            };
            let mut fut = std::pin::pin!(fut);
            let got = drive(fd, &flags, fut.as_mut(), None, None, &|| false).unwrap();
            assert_eq!(&got.unwrap(), b"hello");
        }
        let mut server = rt.block_on(echo).unwrap();
        // Back in async mode, on the runtime.
        rt.block_on(async {
            server.write_all(b"again").await.unwrap();
            let mut b = [0u8; 5];
            h.read_exact(&mut b).await.unwrap();
            assert_eq!(&b, b"again");
        });
    }

    #[test]
    fn deadline_and_interruption_stop_a_silent_wait() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (mut h, _server) = rt.block_on(pair());
        let (fd, flags) = (h.fd(), h.flags());
        let _g = flags.enter();
        let start = Instant::now();
        let deadline = Some(start + Duration::from_millis(120));
        {
            let mut b = [0u8; 1];
            let mut fut = std::pin::pin!(h.read_exact(&mut b));
            let r = drive(fd, &flags, fut.as_mut(), None, deadline, &|| false);
            assert_eq!(r.unwrap_err(), Stop::Timeout);
        }
        assert!(start.elapsed() >= Duration::from_millis(120));
        let asked = std::sync::atomic::AtomicU32::new(0);
        let mut b = [0u8; 1];
        let mut fut = std::pin::pin!(h.read_exact(&mut b));
        let r = drive(fd, &flags, fut.as_mut(), None, None, &|| {
            asked.fetch_add(1, Ordering::Relaxed) >= 1
        });
        assert_eq!(r.unwrap_err(), Stop::Interrupted);
        assert_eq!(asked.load(Ordering::Relaxed), 2);
    }
}

#[cfg(test)]
mod pacer_tests {
    use super::ReadPacer;

    #[test]
    fn pacer_naps_only_on_a_large_answer_that_trickles_in() {
        let mut p = ReadPacer::default();
        assert!(!p.wants_nap(), "nothing read yet");
        // Small reads of a small answer never wait.
        for _ in 0..63 {
            p.record(16 * 1024);
        }
        assert!(!p.wants_nap(), "under 1 MiB so far");
        p.record(16 * 1024);
        assert!(p.wants_nap(), "1 MiB read, the last read small");
        // A read that filled a good part of the buffer: the server is ahead, read on.
        p.record(ReadPacer::NAP_BELOW);
        assert!(!p.wants_nap());
        p.record(ReadPacer::NAP_BELOW - 1);
        assert!(p.wants_nap());
        // One large read of a large answer does not wait either.
        let mut q = ReadPacer::default();
        q.record(4 << 20);
        assert!(!q.wants_nap());
    }
}
