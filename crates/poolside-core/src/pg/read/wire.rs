//! [`Wire`]: one connection's socket framed into PostgreSQL messages, with
//! postgres-protocol's parser and encoders (the ones tokio-postgres frames with).
//! Once the connection is open it splits into a [`WireReader`] and a [`WireWriter`],
//! so that one batch is written while the answers to the last are read.

use std::io;

use bytes::BytesMut;
use postgres_protocol::message::backend::Message;
use tokio::io::{
    AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadHalf, WriteHalf,
};

/// A byte stream a connection runs on: TCP, a Unix socket, or TLS over TCP.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> Transport for T {}

/// Bytes read at a time, at least: a batch's answers usually arrive in one read.
const READ_CHUNK: usize = 64 * 1024;

/// A socket, what was read from it but not yet parsed, and the messages to send next.
pub(crate) struct Wire {
    reader: WireReader<Box<dyn Transport>>,
    /// Messages encoded for the next [`flush`](Self::flush).
    pub(crate) out: BytesMut,
}

/// The reading side: the socket's bytes parsed into messages.
pub(crate) struct WireReader<R> {
    socket: R,
    read: BytesMut,
}

/// The writing side: messages encoded into `out`, then flushed.
pub(crate) struct WireWriter {
    socket: WriteHalf<Box<dyn Transport>>,
    /// Messages encoded for the next [`flush`](Self::flush).
    pub(crate) out: BytesMut,
}

impl Wire {
    pub(crate) fn new(socket: Box<dyn Transport>) -> Self {
        Self {
            reader: WireReader::new(socket),
            out: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// Sends everything in [`out`](Self::out).
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        flush(&mut self.reader.socket, &mut self.out).await
    }

    /// The next message from the server.
    pub(crate) async fn next(&mut self) -> io::Result<Message> {
        self.reader.next().await
    }

    /// The two sides, for the reading and writing halves of the connection's task.
    pub(crate) fn split(self) -> (WireReader<ReadHalf<Box<dyn Transport>>>, WireWriter) {
        let (read, write) = tokio::io::split(self.reader.socket);
        let reader = WireReader {
            socket: read,
            read: self.reader.read,
        };
        let writer = WireWriter {
            socket: write,
            out: self.out,
        };
        (reader, writer)
    }
}

impl WireWriter {
    /// Sends everything in [`out`](Self::out).
    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        flush(&mut self.socket, &mut self.out).await
    }
}

async fn flush<W: AsyncWrite + Unpin>(socket: &mut W, out: &mut BytesMut) -> io::Result<()> {
    socket.write_all(out).await?;
    socket.flush().await?;
    out.clear();
    Ok(())
}

impl<R: AsyncRead + Unpin> WireReader<R> {
    /// Reads `socket`, with nothing read yet.
    pub(crate) fn new(socket: R) -> Self {
        Self {
            socket,
            read: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// The next message from the server. Cancel-safe: a message is taken out of the
    /// buffer only once it is whole.
    pub(crate) async fn next(&mut self) -> io::Result<Message> {
        loop {
            if let Some(message) = self.buffered()? {
                return Ok(message);
            }
            self.fill().await?;
        }
    }

    /// The next message already read whole, if there is one.
    pub(crate) fn buffered(&mut self) -> io::Result<Option<Message>> {
        Message::parse(&mut self.read)
    }

    /// Reads more bytes into the buffer, parsing none. Cancel-safe. The end of the
    /// stream is an error.
    pub(crate) async fn fill(&mut self) -> io::Result<()> {
        if self.read.capacity() - self.read.len() < READ_CHUNK / 4 {
            self.read.reserve(READ_CHUNK);
        }
        if self.socket.read_buf(&mut self.read).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(())
    }
}
