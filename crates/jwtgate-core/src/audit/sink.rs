//! Where a device's lines go: a file (appended with one `write` per line, so concurrent
//! requests never wait on each other for it), stdout, nowhere, or a socket.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

pub trait Sink: Send + Sync {
    /// Writes one whole line.
    fn write(&self, line: &[u8]) -> io::Result<()>;
    /// Reopens after log rotation (SIGHUP); a no-op where that means nothing.
    fn reopen(&self) -> io::Result<()> {
        Ok(())
    }
}

/// A file opened for appending. Lines are written with one `write(2)` each on an `O_APPEND`
/// descriptor, which the kernel appends whole, so writers share the file without a lock.
pub struct FileSink {
    path: PathBuf,
    /// `None`: do not change the file's mode (`mode = "0000"`).
    mode: Option<u32>,
    file: RwLock<Arc<File>>,
}

impl FileSink {
    pub fn open(path: PathBuf, mode: Option<u32>) -> io::Result<FileSink> {
        let file = open_append(&path, mode)?;
        Ok(FileSink { path, mode, file: RwLock::new(Arc::new(file)) })
    }
}

fn open_append(path: &PathBuf, mode: Option<u32>) -> io::Result<File> {
    let file = OpenOptions::new().create(true).append(true).mode(mode.unwrap_or(0o600)).open(path)?;
    if let Some(mode) = mode {
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    Ok(file)
}

impl Sink for FileSink {
    fn write(&self, line: &[u8]) -> io::Result<()> {
        let file = self.file.read().unwrap_or_else(PoisonError::into_inner).clone();
        let written = (&*file).write(line)?;
        if written != line.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, "short write to the audit file"));
        }
        Ok(())
    }

    fn reopen(&self) -> io::Result<()> {
        let file = open_append(&self.path, self.mode)?;
        *self.file.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(file);
        Ok(())
    }
}

pub struct Stdout;

impl Sink for Stdout {
    fn write(&self, line: &[u8]) -> io::Result<()> {
        io::stdout().lock().write_all(line)
    }
}

pub struct Discard;

impl Sink for Discard {
    fn write(&self, _: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

/// `socket_type` `tcp`, `udp` or `unix`. One connection, made at enable and again after a
/// failed write; a write that cannot finish within `write_timeout` fails.
pub struct SocketSink {
    kind: SocketKind,
    address: String,
    timeout: Duration,
    connection: Mutex<Option<Connection>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    Tcp,
    Udp,
    Unix,
}

impl SocketKind {
    pub fn parse(name: &str) -> Option<SocketKind> {
        Some(match name {
            "tcp" => SocketKind::Tcp,
            "udp" => SocketKind::Udp,
            "unix" => SocketKind::Unix,
            _ => return None,
        })
    }
}

enum Connection {
    Tcp(TcpStream),
    Udp(UdpSocket),
    Unix(UnixStream),
}

impl SocketSink {
    pub fn connect(kind: SocketKind, address: String, timeout: Duration) -> io::Result<SocketSink> {
        let connection = connect(kind, &address, timeout)?;
        Ok(SocketSink { kind, address, timeout, connection: Mutex::new(Some(connection)) })
    }
}

fn connect(kind: SocketKind, address: &str, timeout: Duration) -> io::Result<Connection> {
    let resolve =
        || address.to_socket_addrs()?.next().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"));
    Ok(match kind {
        SocketKind::Tcp => {
            let stream = TcpStream::connect_timeout(&resolve()?, timeout)?;
            stream.set_write_timeout(Some(timeout))?;
            stream.set_nonblocking(true)?;
            Connection::Tcp(stream)
        }
        SocketKind::Udp => {
            let target = resolve()?;
            let socket = UdpSocket::bind(if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" })?;
            socket.connect(target)?;
            socket.set_write_timeout(Some(timeout))?;
            Connection::Udp(socket)
        }
        SocketKind::Unix => {
            let stream = UnixStream::connect(address)?;
            stream.set_write_timeout(Some(timeout))?;
            stream.set_nonblocking(true)?;
            Connection::Unix(stream)
        }
    })
}

impl Connection {
    fn send(&mut self, line: &[u8]) -> io::Result<()> {
        match self {
            Connection::Tcp(stream) => {
                let mut probe = [0u8; 1];
                send_on_stream(stream.peek(&mut probe), stream, line, |s, on| s.set_nonblocking(on))
            }
            Connection::Udp(socket) => socket.send(line).map(drop),
            Connection::Unix(stream) => {
                // Listeners send nothing, so reading what they might have sent loses nothing.
                let mut probe = [0u8; 1];
                send_on_stream(std::io::Read::read(stream, &mut probe), stream, line, |s, on| s.set_nonblocking(on))
            }
        }
    }
}

/// Streams stay non-blocking so that a peek can tell a listener that went away (end of stream)
/// before the line is written into a dead connection's buffer; the write itself blocks, up to
/// the write timeout.
fn send_on_stream<S: Write>(
    peeked: io::Result<usize>,
    stream: &mut S,
    line: &[u8],
    blocking: impl Fn(&S, bool) -> io::Result<()>,
) -> io::Result<()> {
    match peeked {
        Ok(0) => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "the audit listener closed")),
        Err(error) if error.kind() != io::ErrorKind::WouldBlock => return Err(error),
        _ => {}
    }
    blocking(stream, false)?;
    let written = stream.write_all(line);
    blocking(stream, true)?;
    written
}

impl Sink for SocketSink {
    fn write(&self, line: &[u8]) -> io::Result<()> {
        let mut connection = self.connection.lock().unwrap_or_else(PoisonError::into_inner);
        // A stream that broke since the last line is reconnected once, then the line is lost
        // (and the request refused when no other device took it).
        if let Some(open) = connection.as_mut() {
            if open.send(line).is_ok() {
                return Ok(());
            }
        }
        *connection = None;
        let mut fresh = connect(self.kind, &self.address, self.timeout)?;
        fresh.send(line)?;
        *connection = Some(fresh);
        Ok(())
    }
}
