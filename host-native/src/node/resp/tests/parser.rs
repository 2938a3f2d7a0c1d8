use super::*;

fn limits() -> ParserLimits {
    ParserLimits::default()
}

fn error_of(bytes: &[u8], limits: ParserLimits) -> String {
    match parse_all(bytes, limits) {
        Err(error) => error.to_string(),
        Ok(parsed) => panic!("expected a protocol error, parsed {parsed:?}"),
    }
}

#[test]
fn an_array_of_bulk_strings_is_one_request() {
    let bytes = request(&[b"SET", b"key", b"value"]);
    let mut parser = RequestParser::new(limits());
    assert_eq!(parser.parse(&bytes).unwrap(), Some((words("SET key value"), bytes.len())));
}

#[test]
fn every_prefix_of_a_request_needs_more_bytes() {
    let bytes = request(&[b"MSET", b"a", b"1", b"b", b"22"]);
    let mut parser = RequestParser::new(limits());
    for end in 0..bytes.len() {
        assert_eq!(parser.parse(&bytes[..end]).unwrap(), None, "prefix of {end} bytes");
    }
    assert_eq!(parser.parse(&bytes).unwrap(), Some((words("MSET a 1 b 22"), bytes.len())));
}

#[test]
fn pipelined_requests_come_out_in_order() {
    let mut bytes = request(&[b"SET", b"k", b"v"]);
    bytes.extend_from_slice(b"PING\r\n");
    bytes.extend(request(&[b"GET", b"k"]));
    bytes.extend_from_slice(b"*2\r\n$3\r\nGET"); // an incomplete fourth
    let (requests, left) = parse_all(&bytes, limits()).unwrap();
    assert_eq!(requests, vec![words("SET k v"), words("PING"), words("GET k")]);
    assert_eq!(left, 11);
}

#[test]
fn requests_split_anywhere_parse_the_same() {
    let mut bytes = request(&[b"SET", b"key:1", b"a\r\nb\0c"]);
    bytes.extend_from_slice(b"set \"x y\" z\r\n");
    bytes.extend(request(&[b"DEL", b"key:1", b"x y"]));
    let whole = parse_all(&bytes, limits()).unwrap();
    assert_eq!(whole.0.len(), 3);
    assert_eq!(whole.0[0][2], b"a\r\nb\0c");
    for sizes in [&[1usize][..], &[2], &[3, 7], &[5, 1, 13], &[64]] {
        assert_eq!(parse_in_chunks(&bytes, sizes, limits()).unwrap(), whole, "chunks {sizes:?}");
    }
}

#[test]
fn inline_requests_split_on_spaces_and_honour_quotes() {
    let (requests, left) = parse_all(b"PING\r\nset  a\tb\nECHO \"x\\ty\\x41\\\"\" 'it\\'s'\r\n", limits()).unwrap();
    assert_eq!(
        requests,
        vec![words("PING"), words("set a b"), vec![b"ECHO".to_vec(), b"x\tyA\"".to_vec(), b"it's".to_vec()]]
    );
    assert_eq!(left, 0);
}

#[test]
fn blank_lines_and_empty_arrays_are_nothing_to_run() {
    let (requests, left) = parse_all(b"\r\n   \n*0\r\n*-1\r\nPING\n", limits()).unwrap();
    assert_eq!(requests, vec![vec![], vec![], vec![], vec![], words("PING")]);
    assert_eq!(left, 0);
}

#[test]
fn malformed_input_gets_redis_protocol_errors() {
    let cases: &[(&[u8], &str)] = &[
        (b"*1\r\nx", "Protocol error: expected '$', got 'x'"),
        (b"*1\r\n\x01", "Protocol error: expected '$', got '\\x01'"),
        (b"*a\r\n", "Protocol error: invalid multibulk length"),
        (b"*-2\r\n", "Protocol error: invalid multibulk length"),
        (b"*01\r\n", "Protocol error: invalid multibulk length"),
        (b"*+1\r\n", "Protocol error: invalid multibulk length"),
        (b"*99999999999999999999\r\n", "Protocol error: invalid multibulk length"),
        (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$x\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$\r\n", "Protocol error: invalid bulk length"),
        (b"*1\r\n$1\r\nab\r\n", "Protocol error: expected CRLF after bulk string data"),
        (b"*1\rx", "Protocol error: expected CRLF after mbulk count"),
        (b"*1\r\n$1\rx", "Protocol error: expected CRLF after bulk count"),
        (b"*1111111111111111111111111111111111", "Protocol error: too big mbulk count string"),
        (b"*1\r\n$1111111111111111111111111111111111", "Protocol error: too big bulk count string"),
        (b"SET \"a b\"c\r\n", "Protocol error: unbalanced quotes in request"),
        (b"SET 'a\r\n", "Protocol error: unbalanced quotes in request"),
    ];
    for (bytes, expected) in cases {
        assert_eq!(error_of(bytes, limits()), *expected, "input {:?}", String::from_utf8_lossy(bytes));
    }
}

#[test]
fn protocol_errors_become_err_replies() {
    let error = parse_all(b"*a\r\n", limits()).unwrap_err();
    assert_eq!(error.to_reply().to_bytes(Protocol::Resp2), b"-ERR Protocol error: invalid multibulk length\r\n");
}

#[test]
fn limits_are_enforced_with_their_numbers() {
    let tight = ParserLimits { max_argument_bytes: 4, max_arguments: 3, max_inline_bytes: 16, max_request_bytes: 64 };
    assert_eq!(error_of(b"*4\r\n", tight), "Protocol error: too many arguments in request (4, the limit is 3)");
    assert_eq!(error_of(b"a b c d\r\n", tight), "Protocol error: too many arguments in request (4, the limit is 3)");
    assert_eq!(error_of(b"*1\r\n$5\r\n", tight), "Protocol error: bulk length 5 exceeds the limit of 4 bytes");
    assert_eq!(error_of(b"GET abcde\r\n", tight), "Protocol error: inline argument exceeds the limit of 4 bytes");
    assert_eq!(error_of(&[b'x'; 17], tight), "Protocol error: too big inline request");
    assert_eq!(error_of(b"12345678901234567\n", tight), "Protocol error: too big inline request");
    assert!(parse_all(&[b'x'; 16], tight).unwrap().0.is_empty(), "16 bytes may still become a request");
    let roomy = ParserLimits { max_request_bytes: 20, ..ParserLimits::default() };
    let bytes = request(&[b"GET", b"0123456789"]);
    assert_eq!(error_of(&bytes, roomy), "Protocol error: request larger than the limit of 20 bytes");
    let exact = request(&[b"GET", b"k"]);
    let fits = ParserLimits { max_request_bytes: exact.len(), ..ParserLimits::default() };
    assert_eq!(parse_all(&exact, fits).unwrap().0, vec![words("GET k")]);
}

#[test]
fn a_large_value_arriving_slowly_parses_once_complete() {
    let value = vec![b'v'; 300_000];
    let bytes = request(&[b"SET", b"big", &value]);
    let (requests, left) = parse_in_chunks(&bytes, &[4096, 1, 65536], limits()).unwrap();
    assert_eq!(left, 0);
    assert_eq!(requests[0][2], value);
}

#[test]
fn a_shrunk_buffer_restarts_the_request_instead_of_panicking() {
    let bytes = request(&[b"GET", b"key"]);
    let mut parser = RequestParser::new(limits());
    assert_eq!(parser.parse(&bytes[..12]).unwrap(), None);
    assert_eq!(parser.parse(&bytes[..3]).unwrap(), None);
    assert_eq!(parser.parse(&bytes).unwrap(), Some((words("GET key"), bytes.len())));
}
