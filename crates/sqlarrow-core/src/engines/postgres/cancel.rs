//! Cancel requests that are known to have reached the server.
//!
//! A PostgreSQL cancel request goes over a new connection: the client sends the
//! backend's key and the server signals that backend, then closes the connection.
//! tokio-postgres's cancel ends as soon as the request is written, so the signal may
//! land after the caller has moved on: a connection that went back to the pool and
//! started its next statement would have that statement cancelled instead. The
//! requests here end only when the server has closed the cancel connection, which it
//! does after it has signalled the backend; a signal reaching an idle backend is
//! ignored by the server, so from then on no later statement can be hit.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long a cancel request may take (connect, send, wait for the server to act).
const CANCEL_LIMIT: Duration = Duration::from_secs(10);

/// Where a backend's cancel request goes.
#[derive(Clone, Debug)]
pub(super) enum CancelTarget {
    /// A TCP server (host, port).
    Tcp(String, u16),
    /// A Unix socket file (`<dir>/.s.PGSQL.<port>`).
    Unix(PathBuf),
    /// A configuration with several hosts: tokio-postgres's token knows which one was
    /// used, but its request does not wait for the server to act.
    Token,
}

/// A cancel request's target: the backend's key and the server it is on.
#[derive(Clone)]
pub(super) struct Canceller {
    pub(super) token: tokio_postgres::CancelToken,
    pub(super) target: CancelTarget,
}

impl Canceller {
    /// A request (on a new connection, within 10 s) that the server cancel whatever the
    /// backend runs. When the future ends the server has acted on it (see the module
    /// documentation), except for [`CancelTarget::Token`].
    pub(super) fn send(
        &self,
        tls: &MakeRustlsConnect,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (token, target, mut tls) = (self.token.clone(), self.target.clone(), tls.clone());
        async move {
            let send = async {
                match target {
                    CancelTarget::Tcp(host, port) => {
                        let Ok(tcp) = tokio::net::TcpStream::connect((host.as_str(), port)).await
                        else {
                            return;
                        };
                        let _ = tcp.set_nodelay(true);
                        let stream = UntilClosed::new(tcp);
                        let Ok(connector) =
                            <MakeRustlsConnect as MakeTlsConnect<
                                UntilClosed<tokio::net::TcpStream>,
                            >>::make_tls_connect(&mut tls, &host);
                        let _ = token.cancel_query_raw(stream, connector).await;
                    }
                    #[cfg(unix)]
                    CancelTarget::Unix(path) => {
                        let Ok(sock) = tokio::net::UnixStream::connect(&path).await else {
                            return;
                        };
                        let _ = token
                            .cancel_query_raw(UntilClosed::new(sock), tokio_postgres::NoTls)
                            .await;
                    }
                    #[cfg(not(unix))]
                    CancelTarget::Unix(_) => {
                        let _ = token.cancel_query(tls).await;
                    }
                    CancelTarget::Token => {
                        let _ = token.cancel_query(tls).await;
                    }
                }
            };
            let _ = tokio::time::timeout(CANCEL_LIMIT, send).await;
        }
    }
}

/// A stream whose shutdown, after closing its write side, waits until the peer closes
/// too (reading and dropping whatever arrives until end of file). tokio-postgres ends a
/// cancel request with a shutdown, so with this stream underneath (below TLS, if any)
/// the request ends when the server has closed the connection.
pub(super) struct UntilClosed<S> {
    inner: S,
    write_closed: bool,
}

impl<S> UntilClosed<S> {
    pub(super) fn new(inner: S) -> Self {
        UntilClosed {
            inner,
            write_closed: false,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for UntilClosed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for UntilClosed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.write_closed {
            // A failed shutdown (the peer already gone) counts as closed.
            if ready!(Pin::new(&mut self.inner).poll_shutdown(cx)).is_err() {
                return Poll::Ready(Ok(()));
            }
            self.write_closed = true;
        }
        let mut scratch = [0u8; 256];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match ready!(Pin::new(&mut self.inner).poll_read(cx, &mut buf)) {
                Ok(()) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Ok(()) => continue,
                // A reset is the peer closing too.
                Err(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn shutdown_waits_for_the_peer_to_close() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            s.read_to_end(&mut got).await.unwrap();
            // Some bytes, a pause, then the close the client must wait for.
            s.write_all(b"noise").await.unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
            let _ = closed_tx.send(());
            drop(s);
            got
        });
        let mut c = UntilClosed::new(tokio::net::TcpStream::connect(addr).await.unwrap());
        c.write_all(b"request").await.unwrap();
        let mut closed_rx = closed_rx;
        c.shutdown().await.unwrap();
        // The server had closed before the shutdown returned.
        assert!(closed_rx.try_recv().is_ok());
        assert_eq!(server.await.unwrap(), b"request");
    }

    #[tokio::test]
    async fn shutdown_treats_a_reset_as_closed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            // Close with unread data pending: the kernel answers with a reset.
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s);
        });
        let mut c = UntilClosed::new(tokio::net::TcpStream::connect(addr).await.unwrap());
        server.await.unwrap();
        let _ = c.write_all(b"x").await;
        c.shutdown().await.unwrap();
    }
}
