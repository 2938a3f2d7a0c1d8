//! The blocking client side of the admin API, for the operator commands: one request
//! per connection, bounded in time and in the size of the answer.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The node loop may take up to its 5 s reply deadline; the read waits longer.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const IO_TIMEOUT: Duration = Duration::from_secs(8);
pub const ANSWER_MAX_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    pub io: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { connect: CONNECT_TIMEOUT, io: IO_TIMEOUT }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// No connection, or no answer in time.
    Unreachable(String),
    /// Something answered, but not the admin API's HTTP.
    Garbled(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Unreachable(message) => f.write_str(message),
            CallError::Garbled(message) => write!(f, "not an admin endpoint's answer: {message}"),
        }
    }
}

fn io_problem(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => String::from("connection refused (is the node running?)"),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => String::from("no answer in time"),
        _ => error.to_string(),
    }
}

/// `method target` against `address` (`host:port`), with no body.
pub fn call(address: &str, method: &str, target: &str, timeouts: Timeouts) -> Result<Answer, CallError> {
    let socket_addresses: Vec<_> = address
        .to_socket_addrs()
        .map_err(|error| CallError::Unreachable(format!("cannot resolve {address}: {error}")))?
        .collect();
    let mut last_error = CallError::Unreachable(format!("{address} resolves to no address"));
    let mut stream = None;
    for socket_address in socket_addresses {
        match TcpStream::connect_timeout(&socket_address, timeouts.connect) {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(error) => last_error = CallError::Unreachable(io_problem(&error)),
        }
    }
    let mut stream = stream.ok_or(last_error)?;
    let unreachable = |error: io::Error| CallError::Unreachable(io_problem(&error));
    stream.set_read_timeout(Some(timeouts.io)).map_err(unreachable)?;
    stream.set_write_timeout(Some(timeouts.io)).map_err(unreachable)?;
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {address}\r\nUser-Agent: viewstamp\r\nContent-Length: 0\r\n\
         Connection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(unreachable)?;
    let mut answer = Vec::new();
    let read = (&mut stream).take(ANSWER_MAX_BYTES as u64 + 1).read_to_end(&mut answer);
    match read {
        Ok(_) => {}
        // A reset after a complete answer is still an answer.
        Err(error) if answer.is_empty() => return Err(unreachable(error)),
        Err(_) => {}
    }
    if answer.len() > ANSWER_MAX_BYTES {
        return Err(CallError::Garbled(format!("the answer is over {ANSWER_MAX_BYTES} bytes")));
    }
    parse_answer(&answer)
}

/// Status line, headers, and a body as long as Content-Length says (or to the end).
pub fn parse_answer(bytes: &[u8]) -> Result<Answer, CallError> {
    let garbled = |message: &str| CallError::Garbled(message.to_string());
    if bytes.is_empty() {
        return Err(garbled("the connection closed without an answer"));
    }
    let head_end =
        bytes.windows(4).position(|window| window == b"\r\n\r\n").ok_or_else(|| garbled("no end of the HTTP head"))?;
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| garbled("the HTTP head is not text"))?;
    let body = &bytes[head_end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let (Some(version), Some(code)) = (parts.next(), parts.next()) else {
        return Err(garbled("no HTTP status line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(garbled("no HTTP status line"));
    }
    let status: u16 = code
        .parse()
        .ok()
        .filter(|status| (100..600).contains(status))
        .ok_or_else(|| garbled("the HTTP status is not a number"))?;
    let mut content_length = None;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or_else(|| garbled("a header line has no colon"))?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            let length: usize = value.trim().parse().map_err(|_| garbled("Content-Length is not a number"))?;
            content_length = Some(length);
        }
    }
    let body = match content_length {
        Some(length) if body.len() < length => return Err(garbled("the answer ended early")),
        Some(length) => &body[..length],
        None => body,
    };
    let body = String::from_utf8(body.to_vec()).map_err(|_| garbled("the body is not UTF-8 text"))?;
    Ok(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_garbage_is_named() {
        let answer = parse_answer(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!(answer, Answer { status: 202, body: "{}".into() });
        let answer = parse_answer(b"HTTP/1.0 200 OK\r\n\r\nall of it").unwrap();
        assert_eq!(answer.body, "all of it");
        for garbage in [
            &b""[..],
            b"SSH-2.0-OpenSSH\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 999 What\r\n\r\n",
            b"+PONG\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n\xff\xfe",
        ] {
            assert!(matches!(parse_answer(garbage), Err(CallError::Garbled(_))), "{garbage:?}");
        }
    }

    #[test]
    fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        drop(listener);
        let error = call(&address, "GET", "/status", Timeouts::default()).unwrap_err();
        assert!(matches!(error, CallError::Unreachable(ref message) if message.contains("refused")), "{error:?}");
    }
}
