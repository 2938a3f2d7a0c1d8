//! Just enough HTTP/1.1 for an admin port: one request per connection, a bounded head,
//! an optional small body that is read and discarded, and answers that close the
//! connection. Everything malformed becomes an error answer, never a panic.

use std::fmt::Write as _;

/// The request line and headers together may not exceed this.
pub const HEAD_MAX_BYTES: usize = 8 * 1024;
/// Bodies are not used by any route; a small one is read and discarded.
pub const BODY_MAX_BYTES: usize = 8 * 1024;
pub const HEADERS_MAX: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    /// Any other well-formed method: answered 405.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    /// The path as sent, still percent-encoded.
    pub path: String,
    /// The query after `?`, still percent-encoded; empty when absent.
    pub query: String,
    /// Body bytes still to be read after the head.
    pub content_length: usize,
}

/// Why a request cannot be served; each maps to one answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The head is not HTTP/1.x: 400.
    Malformed(String),
    /// The head or body is over its bound: 413.
    TooLarge(String),
}

impl RequestError {
    pub fn response(&self) -> Response {
        match self {
            RequestError::Malformed(message) => Response::error(400, "bad-request", message),
            RequestError::TooLarge(message) => Response::error(413, "too-large", message),
        }
    }
}

/// Where the head ends (the index just past its blank line), if it is complete.
pub fn head_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(4).position(|window| window == b"\r\n\r\n").map(|at| at + 4)
}

fn malformed(message: impl Into<String>) -> RequestError {
    RequestError::Malformed(message.into())
}

fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// Parse a complete head (request line, headers, the blank line).
pub fn parse_head(head: &[u8]) -> Result<Request, RequestError> {
    let text = std::str::from_utf8(head).map_err(|_| malformed("the request head is not UTF-8 text"))?;
    let text =
        text.strip_suffix("\r\n\r\n").ok_or_else(|| malformed("the request head does not end in a blank line"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("the request line is not `METHOD /path HTTP/1.1`"));
    };
    if !is_token(method) {
        return Err(malformed("the request method is not a token"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(malformed(format!("{version:?} is not HTTP/1.0 or HTTP/1.1")));
    }
    if !target.starts_with('/') || target.bytes().any(|byte| byte <= b' ' || byte == 0x7f) {
        return Err(malformed("the request target is not a path starting with /"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut content_length: Option<usize> = None;
    let mut header_count = 0;
    for line in lines {
        header_count += 1;
        if header_count > HEADERS_MAX {
            return Err(RequestError::TooLarge(format!("more than {HEADERS_MAX} headers")));
        }
        let (name, value) = line.split_once(':').ok_or_else(|| malformed("a header line has no colon"))?;
        if !is_token(name) {
            return Err(malformed("a header name is not a token (folded headers are not accepted)"));
        }
        let value = value.trim_matches([' ', '\t']);
        if name.eq_ignore_ascii_case("content-length") {
            let length: usize = value
                .parse()
                .ok()
                .filter(|_| value.bytes().all(|byte| byte.is_ascii_digit()))
                .ok_or_else(|| malformed("Content-Length is not a number"))?;
            if content_length.is_some_and(|seen| seen != length) {
                return Err(malformed("two different Content-Length headers"));
            }
            content_length = Some(length);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(malformed("Transfer-Encoding is not accepted; send no body"));
        }
    }
    let content_length = content_length.unwrap_or(0);
    if content_length > BODY_MAX_BYTES {
        return Err(RequestError::TooLarge(format!("a body of {content_length} bytes; at most {BODY_MAX_BYTES}")));
    }
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        _ => Method::Other,
    };
    Ok(Request { method, path: path.to_string(), query: query.to_string(), content_length })
}

/// Decode `%XX` escapes (and `+` as a space in queries); `None` for a bad escape or
/// bytes that are not UTF-8.
pub fn percent_decode(text: &str, plus_is_space: bool) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                decoded.push(u8::from_str_radix(hex, 16).ok()?);
                index += 3;
            }
            b'+' if plus_is_space => {
                decoded.push(b' ');
                index += 1;
            }
            byte => {
                decoded.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(decoded).ok()
}

/// `a=1&b=2` as decoded pairs; a name given twice or a bad escape is an error naming it.
pub fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in query.split('&').filter(|part| !part.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let name = percent_decode(name, true).ok_or_else(|| format!("the parameter name {name:?} is badly encoded"))?;
        let value =
            percent_decode(value, true).ok_or_else(|| format!("the value of parameter {name:?} is badly encoded"))?;
        if pairs.iter().any(|(seen, _)| *seen == name) {
            return Err(format!("parameter {name:?} is given twice"));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra header lines, such as `Allow`.
    pub headers: Vec<(&'static str, String)>,
}

pub const JSON: &str = "application/json";

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, body: body.into(), headers: Vec::new() }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        let mut body = serde_json::to_vec_pretty(value).unwrap_or_default();
        body.push(b'\n');
        Response::new(status, JSON, body)
    }

    /// `{"outcome": kind, "message": ...}`: every answer that is not the node's.
    pub fn error(status: u16, kind: &str, message: &str) -> Response {
        Response::json(status, &serde_json::json!({ "outcome": kind, "message": message }))
    }

    pub fn method_not_allowed(allowed: &'static str) -> Response {
        let mut response = Response::error(405, "method-not-allowed", &format!("this path takes {allowed} only"));
        response.headers.push(("Allow", allowed.to_string()));
        response
    }

    /// Status line, headers and (unless `head_only`) the body.
    pub fn to_bytes(&self, head_only: bool) -> Vec<u8> {
        let mut head = String::new();
        let _ = write!(head, "HTTP/1.1 {} {}\r\n", self.status, reason(self.status));
        let _ = write!(head, "Content-Type: {}\r\n", self.content_type);
        let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
        head.push_str("Connection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if !head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Request, RequestError> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn a_plain_request_parses() {
        let request = parse("POST /upgrade/propose?release=1.3.0 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(
            request,
            Ok(Request {
                method: Method::Post,
                path: "/upgrade/propose".into(),
                query: "release=1.3.0".into(),
                content_length: 3
            })
        );
        let request = parse("GET /status HTTP/1.0\r\n\r\n").unwrap();
        assert_eq!((request.method, request.path.as_str(), request.query.as_str()), (Method::Get, "/status", ""));
        assert_eq!(parse("DELETE /x HTTP/1.1\r\n\r\n").unwrap().method, Method::Other);
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let garbage = [
            "\r\n\r\n",
            "GET\r\n\r\n",
            "GET /status\r\n\r\n",
            "GET /status HTTP/2\r\n\r\n",
            "GET status HTTP/1.1\r\n\r\n",
            "GET  /status HTTP/1.1\r\n\r\n",
            "G(T /status HTTP/1.1\r\n\r\n",
            "GET /status HTTP/1.1 extra\r\n\r\n",
            "GET /status HTTP/1.1\r\nno colon here\r\n\r\n",
            "GET /status HTTP/1.1\r\n folded: header\r\n\r\n",
            "GET /status HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "GET /status HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            "GET /status HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET /status HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /status HTTP/1.1\r\n",
        ];
        for text in garbage {
            assert!(matches!(parse(text), Err(RequestError::Malformed(_))), "{text:?}");
        }
        assert!(matches!(parse_head(b"GET /\xff HTTP/1.1\r\n\r\n"), Err(RequestError::Malformed(_))));
        for length in 0..64 {
            let bytes: Vec<u8> = (0..length).map(|index| (index * 37 % 256) as u8).collect();
            let _ = parse_head(&bytes);
        }
    }

    #[test]
    fn oversized_parts_are_too_large() {
        let body = format!("POST /x HTTP/1.1\r\nContent-Length: {}\r\n\r\n", BODY_MAX_BYTES + 1);
        assert!(matches!(parse(&body), Err(RequestError::TooLarge(_))));
        let many: String = (0..=HEADERS_MAX).map(|index| format!("H{index}: v\r\n")).collect();
        assert!(matches!(parse(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Err(RequestError::TooLarge(_))));
        assert_eq!(
            parse(&format!("GET / HTTP/1.1\r\nContent-Length: {BODY_MAX_BYTES}\r\n\r\n")).unwrap().content_length,
            BODY_MAX_BYTES
        );
    }

    #[test]
    fn the_head_ends_at_the_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(head_end(b""), None);
    }

    #[test]
    fn queries_decode_and_name_their_problems() {
        assert_eq!(
            parse_query("release=1.3.0&on=tr%75e&x+y=a+b"),
            Ok(vec![("release".into(), "1.3.0".into()), ("on".into(), "true".into()), ("x y".into(), "a b".into())])
        );
        assert_eq!(parse_query(""), Ok(vec![]));
        assert_eq!(parse_query("flag"), Ok(vec![("flag".into(), String::new())]));
        assert_eq!(parse_query("a=1&a=2"), Err("parameter \"a\" is given twice".into()));
        assert!(parse_query("standby=%zz").unwrap_err().contains("standby"));
        assert!(parse_query("standby=%2").unwrap_err().contains("standby"));
        assert_eq!(percent_decode("%2e%2E/a+b", false).as_deref(), Some("../a+b"));
        assert_eq!(percent_decode("%ff", false), None);
    }

    #[test]
    fn responses_carry_length_type_and_close() {
        let response = Response::new(202, JSON, "{}");
        let text = String::from_utf8(response.to_bytes(false)).unwrap();
        assert!(text.starts_with("HTTP/1.1 202 Accepted\r\n"));
        assert!(text.contains("Content-Type: application/json\r\n"));
        assert!(text.contains("Content-Length: 2\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n{}"));
        let head_only = String::from_utf8(response.to_bytes(true)).unwrap();
        assert!(head_only.ends_with("\r\n\r\n") && head_only.contains("Content-Length: 2\r\n"));
        let refused = Response::method_not_allowed("POST");
        assert_eq!(refused.status, 405);
        assert!(String::from_utf8(refused.to_bytes(false)).unwrap().contains("Allow: POST\r\n"));
    }
}
