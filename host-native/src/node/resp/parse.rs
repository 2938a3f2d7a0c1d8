//! Incremental parsing of client requests: RESP arrays of bulk strings, and inline
//! commands (a line of words, as telnet and redis-benchmark's PING_INLINE send).
//!
//! The parser keeps its progress between calls, so a request arriving in many small
//! reads is scanned once, not once per read.

use std::fmt;

use super::inline::split_inline;
use super::reply::Reply;

/// Redis's limit on an inline request, and on a request line without a newline.
const MAX_INLINE_BYTES: usize = 64 * 1024;
/// A `*N` or `$N` header longer than this cannot hold a valid 64-bit count.
const MAX_HEADER_BYTES: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParserLimits {
    /// The longest bulk string (key, value, any argument) a request may carry.
    pub max_argument_bytes: usize,
    /// The most arguments, command name included, in one request.
    pub max_arguments: usize,
    /// The longest inline request line, newline excluded.
    pub max_inline_bytes: usize,
    /// The most bytes one request may take on the wire, which bounds a connection's buffer.
    pub max_request_bytes: usize,
}

impl Default for ParserLimits {
    fn default() -> Self {
        Self {
            max_argument_bytes: 1024 * 1024,
            max_arguments: 4096,
            max_inline_bytes: MAX_INLINE_BYTES,
            max_request_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A malformed or oversized request. The node sends it as an error reply and closes
/// the connection, as Redis does, since the stream cannot be resynchronised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(String);

impl ProtocolError {
    fn new(detail: impl fmt::Display) -> Self {
        ProtocolError(format!("Protocol error: {detail}"))
    }

    pub fn to_reply(&self) -> Reply {
        Reply::Error(format!("ERR {}", self.0))
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// One parsed request: its arguments (the command name first) and how many bytes of
/// the buffer it took. Empty arguments mean a blank line or `*0`: nothing to run.
pub type Parsed = (Vec<Vec<u8>>, usize);

/// Parses one request at a time from the front of a connection's buffer.
///
/// Contract: pass the buffer starting at the current request; between calls that
/// return `Ok(None)` only append to it. After `Ok(Some((_, consumed)))` drop `consumed`
/// bytes from its front. After an error, close the connection.
#[derive(Debug)]
pub struct RequestParser {
    limits: ParserLimits,
    /// Bytes of the current request parsed so far (headers and complete arguments).
    parsed_bytes: usize,
    /// Where the search for an inline request's newline resumes.
    inline_scanned_bytes: usize,
    /// The argument count of the current array request, once its header is read.
    expected_arguments: Option<usize>,
    arguments: Vec<Vec<u8>>,
    /// The length of the bulk string whose `$N` header was read and whose data is awaited.
    bulk_bytes: Option<usize>,
}

impl RequestParser {
    pub fn new(limits: ParserLimits) -> Self {
        Self {
            limits,
            parsed_bytes: 0,
            inline_scanned_bytes: 0,
            expected_arguments: None,
            arguments: Vec::new(),
            bulk_bytes: None,
        }
    }

    fn reset(&mut self) {
        self.parsed_bytes = 0;
        self.inline_scanned_bytes = 0;
        self.expected_arguments = None;
        self.arguments = Vec::new();
        self.bulk_bytes = None;
    }

    /// The next complete request at the front of `buffer`, `Ok(None)` when more bytes
    /// are needed, or the reason the stream is malformed.
    pub fn parse(&mut self, buffer: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
        if buffer.len() < self.parsed_bytes.max(self.inline_scanned_bytes) {
            // The caller broke the contract (shrank the buffer): start this request afresh.
            self.reset();
        }
        let result = match buffer.first() {
            None => Ok(None),
            Some(b'*') => self.parse_array(buffer),
            Some(_) => self.parse_inline(buffer),
        };
        if !matches!(result, Ok(None)) {
            self.reset();
        }
        result
    }

    fn parse_array(&mut self, buffer: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
        let expected = match self.expected_arguments {
            Some(expected) => expected,
            None => {
                let Some((header, next)) = header_line(buffer, 1, "mbulk")? else {
                    return Ok(None);
                };
                let count = parse_integer(header).ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
                // Redis skips empty and null arrays; other negative counts are malformed.
                if count == 0 || count == -1 {
                    return Ok(Some((Vec::new(), next)));
                }
                if count < 0 {
                    return Err(ProtocolError::new("invalid multibulk length"));
                }
                let limit = self.limits.max_arguments;
                if count as u64 > limit as u64 {
                    return Err(ProtocolError::new(format_args!(
                        "too many arguments in request ({count}, the limit is {limit})"
                    )));
                }
                let count = count as usize;
                self.arguments = Vec::with_capacity(count.min(64));
                self.expected_arguments = Some(count);
                self.parsed_bytes = next;
                count
            }
        };
        while self.arguments.len() < expected {
            let bulk_bytes = match self.bulk_bytes {
                Some(bulk_bytes) => bulk_bytes,
                None => {
                    let Some(&type_byte) = buffer.get(self.parsed_bytes) else {
                        return Ok(None);
                    };
                    if type_byte != b'$' {
                        return Err(ProtocolError::new(format_args!("expected '$', got '{}'", Shown(type_byte))));
                    }
                    let Some((header, next)) = header_line(buffer, self.parsed_bytes + 1, "bulk")? else {
                        return Ok(None);
                    };
                    let length = parse_integer(header)
                        .filter(|length| *length >= 0)
                        .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
                    let limit = self.limits.max_argument_bytes;
                    if length as u64 > limit as u64 {
                        return Err(ProtocolError::new(format_args!(
                            "bulk length {length} exceeds the limit of {limit} bytes"
                        )));
                    }
                    let length = length as usize;
                    let request_bytes = next as u64 + length as u64 + 2;
                    if request_bytes > self.limits.max_request_bytes as u64 {
                        return Err(ProtocolError::new(format_args!(
                            "request larger than the limit of {} bytes",
                            self.limits.max_request_bytes
                        )));
                    }
                    self.parsed_bytes = next;
                    self.bulk_bytes = Some(length);
                    length
                }
            };
            let start = self.parsed_bytes;
            let Some(data_and_end) = buffer.get(start..start + bulk_bytes + 2) else {
                return Ok(None);
            };
            let (data, end) = data_and_end.split_at(bulk_bytes);
            if end != b"\r\n" {
                return Err(ProtocolError::new("expected CRLF after bulk string data"));
            }
            self.arguments.push(data.to_vec());
            self.parsed_bytes = start + bulk_bytes + 2;
            self.bulk_bytes = None;
        }
        Ok(Some((std::mem::take(&mut self.arguments), self.parsed_bytes)))
    }

    fn parse_inline(&mut self, buffer: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
        let limit = self.limits.max_inline_bytes;
        let scan_from = self.inline_scanned_bytes;
        let Some(offset) = buffer[scan_from..].iter().position(|byte| *byte == b'\n') else {
            self.inline_scanned_bytes = buffer.len();
            if buffer.len() > limit {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        let newline = scan_from + offset;
        let line = buffer[..newline].strip_suffix(b"\r").unwrap_or(&buffer[..newline]);
        if line.len() > limit {
            return Err(ProtocolError::new("too big inline request"));
        }
        let arguments = split_inline(line).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        if arguments.len() > self.limits.max_arguments {
            return Err(ProtocolError::new(format_args!(
                "too many arguments in request ({}, the limit is {})",
                arguments.len(),
                self.limits.max_arguments
            )));
        }
        if arguments.iter().any(|argument| argument.len() > self.limits.max_argument_bytes) {
            return Err(ProtocolError::new(format_args!(
                "inline argument exceeds the limit of {} bytes",
                self.limits.max_argument_bytes
            )));
        }
        Ok(Some((arguments, newline + 1)))
    }
}

/// The text of a `*N`/`$N` header that starts at `start`, and where the next line
/// begins; `Ok(None)` while its CRLF has not arrived.
fn header_line<'a>(buffer: &'a [u8], start: usize, kind: &str) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
    let rest = buffer.get(start..).unwrap_or_default();
    let window = &rest[..rest.len().min(MAX_HEADER_BYTES + 1)];
    let Some(cr) = window.iter().position(|byte| *byte == b'\r') else {
        if rest.len() > MAX_HEADER_BYTES {
            return Err(ProtocolError::new(format_args!("too big {kind} count string")));
        }
        return Ok(None);
    };
    match rest.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((&rest[..cr], start + cr + 2))),
        Some(_) => Err(ProtocolError::new(format_args!("expected CRLF after {kind} count"))),
    }
}

/// A decimal integer as Redis's `string2ll` reads it: an optional `-`, digits, no
/// leading zeros, no spaces or `+`, within i64.
pub(super) fn parse_integer(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let leading_zero = digits.len() > 1 && digits[0] == b'0';
    if digits.is_empty() || leading_zero || !digits.iter().all(u8::is_ascii_digit) || text == b"-0" {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A byte as Redis prints it in `expected '$', got 'x'`, escaped when not printable.
struct Shown(u8);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_ascii_graphic() || self.0 == b' ' {
            write!(f, "{}", self.0 as char)
        } else {
            write!(f, "\\x{:02x}", self.0)
        }
    }
}
