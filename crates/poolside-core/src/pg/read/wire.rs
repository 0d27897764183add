//! [`Wire`]: one connection's socket framed into PostgreSQL messages, with
//! postgres-protocol's parser and encoders (the ones tokio-postgres frames with).

use std::io;

use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// A byte stream a connection runs on: TCP, a Unix socket, or TLS over TCP.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// Bytes read at a time, at least: a batch's answers usually arrive in one read.
const READ_CHUNK: usize = 64 * 1024;

/// A socket, what was read from it but not yet parsed, and the messages to send next.
pub(crate) struct Wire {
    socket: Box<dyn Transport>,
    read: BytesMut,
    /// Messages encoded for the next [`flush`](Self::flush).
    pub(crate) out: BytesMut,
}

impl Wire {
    pub(crate) fn new(socket: Box<dyn Transport>) -> Self {
        Self {
            socket,
            read: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// Sends everything in [`out`](Self::out).
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        self.socket.write_all(&self.out).await?;
        self.socket.flush().await?;
        self.out.clear();
        Ok(())
    }

    /// The next message from the server. Cancel-safe: a message is taken out of the
    /// buffer only once it is whole.
    pub(crate) async fn next(&mut self) -> io::Result<Message> {
        loop {
            if let Some(message) = Message::parse(&mut self.read)? {
                return Ok(message);
            }
            if self.read.capacity() - self.read.len() < READ_CHUNK / 4 {
                self.read.reserve(READ_CHUNK);
            }
            if self.socket.read_buf(&mut self.read).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection",
                ));
            }
        }
    }
}
