//! A small blocking RESP2 client, as an ordinary Redis client library would behave:
//! one connection, one command at a time, a timeout on every read.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The most a reply may hold before the client calls the server broken.
const MAX_BULK_BYTES: usize = 1 << 20;
const MAX_ARRAY_ITEMS: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Simple(String),
    /// `-CODE text`: the whole line without the `-`.
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

pub struct RespClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl RespClient {
    pub fn connect(address: SocketAddr, connect_timeout: Duration, io_timeout: Duration) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&address, connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(io_timeout))?;
        stream.set_write_timeout(Some(io_timeout))?;
        Ok(Self { reader: BufReader::new(stream.try_clone()?), writer: stream })
    }

    /// Sends one command and waits for its reply. An error here leaves the connection
    /// unusable: drop it.
    pub fn command(&mut self, arguments: &[&[u8]]) -> io::Result<Reply> {
        self.writer.write_all(&encode(arguments))?;
        read_reply(&mut self.reader, 0)
    }
}

pub fn encode(arguments: &[&[u8]]) -> Vec<u8> {
    let mut bytes = format!("*{}\r\n", arguments.len()).into_bytes();
    for argument in arguments {
        bytes.extend_from_slice(format!("${}\r\n", argument.len()).as_bytes());
        bytes.extend_from_slice(argument);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

fn broken(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("the server's reply is not RESP: {}", what.into()))
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.by_ref().take(MAX_BULK_BYTES as u64).read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
    }
    if !line.ends_with(b"\r\n") {
        return Err(broken("a line without CRLF"));
    }
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| broken("a line that is not UTF-8"))
}

fn length(text: &str, limit: usize) -> io::Result<Option<usize>> {
    let number: i64 = text.parse().map_err(|_| broken(format!("length {text:?}")))?;
    match number {
        -1 => Ok(None),
        n if n >= 0 && (n as usize) <= limit => Ok(Some(n as usize)),
        _ => Err(broken(format!("length {number} out of bounds"))),
    }
}

pub fn read_reply(reader: &mut impl BufRead, depth: usize) -> io::Result<Reply> {
    if depth > 4 {
        return Err(broken("arrays nested too deep"));
    }
    let line = read_line(reader)?;
    let (kind, rest) = line.split_at_checked(1).ok_or_else(|| broken("an empty line"))?;
    match kind {
        "+" => Ok(Reply::Simple(rest.to_string())),
        "-" => Ok(Reply::Error(rest.to_string())),
        ":" => rest.parse().map(Reply::Integer).map_err(|_| broken(format!("integer {rest:?}"))),
        "$" => match length(rest, MAX_BULK_BYTES)? {
            None => Ok(Reply::Bulk(None)),
            Some(len) => {
                let mut bytes = vec![0u8; len + 2];
                reader.read_exact(&mut bytes)?;
                if !bytes.ends_with(b"\r\n") {
                    return Err(broken("a bulk string without CRLF"));
                }
                bytes.truncate(len);
                Ok(Reply::Bulk(Some(bytes)))
            }
        },
        "*" => match length(rest, MAX_ARRAY_ITEMS)? {
            None => Ok(Reply::Array(None)),
            Some(count) => (0..count)
                .map(|_| read_reply(reader, depth + 1))
                .collect::<io::Result<_>>()
                .map(|items| Reply::Array(Some(items))),
        },
        other => Err(broken(format!("type byte {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> io::Result<Reply> {
        read_reply(&mut &bytes[..], 0)
    }

    #[test]
    fn replies_parse_and_bad_ones_are_errors() {
        assert_eq!(parse(b"+OK\r\n").unwrap(), Reply::Simple("OK".into()));
        assert_eq!(parse(b"-TRYAGAIN later\r\n").unwrap(), Reply::Error("TRYAGAIN later".into()));
        assert_eq!(parse(b"$3\r\nabc\r\n").unwrap(), Reply::Bulk(Some(b"abc".to_vec())));
        assert_eq!(parse(b"$-1\r\n").unwrap(), Reply::Bulk(None));
        assert_eq!(parse(b":-7\r\n").unwrap(), Reply::Integer(-7));
        assert_eq!(
            parse(b"*2\r\n+a\r\n$1\r\nb\r\n").unwrap(),
            Reply::Array(Some(vec![Reply::Simple("a".into()), Reply::Bulk(Some(b"b".to_vec()))]))
        );
        for bad in [&b"+OK\n"[..], b"$5\r\nab\r\n", b"?x\r\n", b"$99999999\r\n", b""] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(encode(&[b"GET", b"k"]), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
    }
}
