//! A TCP stream that acknowledges what it reads at once.
//!
//! The stock worker writes an `update` and the `complete` of a command back to back. With
//! Linux's delayed acknowledgements the second write waited for our ACK up to 40 ms, which was
//! most of a one-step build's time (p50 50 ms, 11 ms without the delay). TCP_QUICKACK is not
//! permanent, so it is set again after every read. It is Linux's own option: elsewhere (macOS,
//! the BSDs) the stream reads as a plain one.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

#[cfg(target_os = "linux")]
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A [`TcpStream`] in quick-ack mode after each read.
#[derive(Debug)]
pub struct QuickAck(TcpStream);

impl QuickAck {
    /// Wraps `stream`.
    pub fn new(stream: TcpStream) -> QuickAck {
        QuickAck(stream)
    }
}

impl AsyncRead for QuickAck {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            quick_ack(&self.0);
        }
        polled
    }
}

/// Best effort: a failure only brings the delayed ACKs back.
#[cfg(target_os = "linux")]
fn quick_ack(stream: &TcpStream) {
    let _ = SockRef::from(stream).set_tcp_quickack(true);
}

#[cfg(not(target_os = "linux"))]
fn quick_ack(_: &TcpStream) {}

impl AsyncWrite for QuickAck {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
