//! Replies and their encoding in RESP2, or RESP3 after `HELLO 3`.

/// The protocol a connection speaks; `HELLO 2|3` switches it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `+OK`: a line without CR or LF.
    Status(String),
    /// `-ERR ...`: the text starts with the error code (`ERR`, `NOPROTO`, `WRONGPASS`).
    Error(String),
    Integer(i64),
    Bulk(Vec<u8>),
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    Null,
    Array(Vec<Reply>),
    /// A RESP3 map; RESP2 clients get a flat array of keys and values, as Redis sends.
    Map(Vec<(Reply, Reply)>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Status(String::from("OK"))
    }

    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    pub fn optional_bulk(bytes: Option<Vec<u8>>) -> Reply {
        bytes.map_or(Reply::Null, Reply::Bulk)
    }

    #[cfg(test)]
    pub fn to_bytes(&self, protocol: Protocol) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(protocol, &mut out);
        out
    }

    pub fn encode_into(&self, protocol: Protocol, out: &mut Vec<u8>) {
        match self {
            Reply::Status(text) => line(out, b'+', text.as_bytes()),
            Reply::Error(text) => line(out, b'-', text.as_bytes()),
            Reply::Integer(number) => header(out, b':', *number),
            Reply::Bulk(bytes) => {
                header(out, b'$', bytes.len() as i64);
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Null => match protocol {
                Protocol::Resp2 => out.extend_from_slice(b"$-1\r\n"),
                Protocol::Resp3 => out.extend_from_slice(b"_\r\n"),
            },
            Reply::Array(items) => {
                header(out, b'*', items.len() as i64);
                for item in items {
                    item.encode_into(protocol, out);
                }
            }
            Reply::Map(pairs) => {
                match protocol {
                    Protocol::Resp2 => header(out, b'*', 2 * pairs.len() as i64),
                    Protocol::Resp3 => header(out, b'%', pairs.len() as i64),
                }
                for (key, value) in pairs {
                    key.encode_into(protocol, out);
                    value.encode_into(protocol, out);
                }
            }
        }
    }
}

fn header(out: &mut Vec<u8>, type_byte: u8, number: i64) {
    out.push(type_byte);
    out.extend_from_slice(number.to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// A status or error line; CR and LF would end it early, so they become spaces as in Redis.
fn line(out: &mut Vec<u8>, type_byte: u8, text: &[u8]) {
    out.push(type_byte);
    out.extend(text.iter().map(|byte| if matches!(byte, b'\r' | b'\n') { b' ' } else { *byte }));
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(reply: Reply) -> (String, String) {
        let text = |protocol| String::from_utf8(reply.to_bytes(protocol)).unwrap();
        (text(Protocol::Resp2), text(Protocol::Resp3))
    }

    #[test]
    fn scalars_encode_as_redis_does() {
        assert_eq!(both(Reply::ok()).0, "+OK\r\n");
        assert_eq!(both(Reply::error("ERR syntax error")).0, "-ERR syntax error\r\n");
        assert_eq!(both(Reply::Integer(-42)).0, ":-42\r\n");
        assert_eq!(both(Reply::bulk("hello")).0, "$5\r\nhello\r\n");
        assert_eq!(both(Reply::bulk("")).0, "$0\r\n\r\n");
    }

    #[test]
    fn nulls_differ_by_protocol() {
        assert_eq!(both(Reply::Null), ("$-1\r\n".into(), "_\r\n".into()));
    }

    #[test]
    fn arrays_nest_and_maps_flatten_in_resp2() {
        let array = Reply::Array(vec![Reply::bulk("a"), Reply::Null, Reply::Integer(1)]);
        assert_eq!(both(array).0, "*3\r\n$1\r\na\r\n$-1\r\n:1\r\n");
        let map = Reply::Map(vec![(Reply::bulk("proto"), Reply::Integer(3))]);
        assert_eq!(both(map), ("*2\r\n$5\r\nproto\r\n:3\r\n".into(), "%1\r\n$5\r\nproto\r\n:3\r\n".into()));
    }

    #[test]
    fn line_breaks_in_status_and_error_become_spaces() {
        assert_eq!(both(Reply::error("ERR a\r\nb")).0, "-ERR a  b\r\n");
        assert_eq!(both(Reply::Status("x\ny".into())).0, "+x y\r\n");
    }
}
