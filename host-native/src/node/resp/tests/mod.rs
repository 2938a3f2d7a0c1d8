//! Tests of the client protocol: parsing, commands and their Redis error texts, the
//! session's answers, and a miniature server that runs requests against a real KvStore.

mod commands;
mod parser;
mod props;
mod server;

use super::*;

/// Parsed requests, each an argument vector.
pub type Requests = Vec<Vec<Vec<u8>>>;

/// Encode arguments as redis-cli sends them: an array of bulk strings.
pub fn request(arguments: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", arguments.len()).into_bytes();
    for argument in arguments {
        out.extend_from_slice(format!("${}\r\n", argument.len()).as_bytes());
        out.extend_from_slice(argument);
        out.extend_from_slice(b"\r\n");
    }
    out
}

pub fn words(text: &str) -> Vec<Vec<u8>> {
    text.split(' ').map(|word| word.as_bytes().to_vec()).collect()
}

/// Every request in `bytes`, and the bytes left over, parsing as a connection would.
pub fn parse_all(bytes: &[u8], limits: ParserLimits) -> Result<(Requests, usize), ProtocolError> {
    let mut parser = RequestParser::new(limits);
    let mut requests = Vec::new();
    let mut start = 0;
    while let Some((arguments, consumed)) = parser.parse(&bytes[start..])? {
        assert!(consumed > 0, "a parsed request consumes bytes");
        requests.push(arguments);
        start += consumed;
    }
    Ok((requests, bytes.len() - start))
}

/// The same, but with the bytes arriving in the given chunk sizes (cycled).
pub fn parse_in_chunks(
    bytes: &[u8],
    chunk_sizes: &[usize],
    limits: ParserLimits,
) -> Result<(Requests, usize), ProtocolError> {
    let mut parser = RequestParser::new(limits);
    let mut buffer: Vec<u8> = Vec::new();
    let mut requests = Vec::new();
    let mut fed = 0;
    let mut sizes = chunk_sizes.iter().cycle();
    while fed < bytes.len() {
        let size = (*sizes.next().unwrap_or(&1)).max(1).min(bytes.len() - fed);
        buffer.extend_from_slice(&bytes[fed..fed + size]);
        fed += size;
        while let Some((arguments, consumed)) = parser.parse(&buffer)? {
            requests.push(arguments);
            buffer.drain(..consumed);
        }
    }
    Ok((requests, buffer.len()))
}
