//! Properties: no input makes the parser panic, and valid input parses the same
//! however it is split.

use proptest::prelude::*;

use super::*;

fn tight() -> ParserLimits {
    ParserLimits { max_argument_bytes: 16, max_arguments: 4, max_inline_bytes: 32, max_request_bytes: 128 }
}

/// Arguments that survive both encodings: non-empty words without spaces or quotes.
fn word() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![b'a'..=b'z', b'0'..=b'9', Just(b':'), Just(b'-')], 1..12)
}

fn command() -> impl Strategy<Value = (Vec<Vec<u8>>, bool)> {
    (proptest::collection::vec(word(), 1..6), any::<bool>())
}

fn encode(commands: &[(Vec<Vec<u8>>, bool)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (arguments, inline) in commands {
        if *inline {
            bytes.extend(arguments.join(&b' '));
            bytes.extend_from_slice(b"\r\n");
        } else {
            let slices: Vec<&[u8]> = arguments.iter().map(Vec::as_slice).collect();
            bytes.extend(request(&slices));
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256),
                                   sizes in proptest::collection::vec(1usize..40, 1..8)) {
        let _ = parse_all(&bytes, ParserLimits::default());
        let _ = parse_all(&bytes, tight());
        let _ = parse_in_chunks(&bytes, &sizes, tight());
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_prefix_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = b"*3\r\n$3\r\nSET\r\n$".to_vec();
        bytes.extend(tail);
        let _ = parse_in_chunks(&bytes, &[1], tight());
    }

    #[test]
    fn valid_requests_parse_the_same_however_split(commands in proptest::collection::vec(command(), 1..6),
                                                   sizes in proptest::collection::vec(1usize..50, 1..8)) {
        let bytes = encode(&commands);
        let expected: Vec<Vec<Vec<u8>>> = commands.iter().map(|(arguments, _)| arguments.clone()).collect();
        prop_assert_eq!(parse_all(&bytes, ParserLimits::default()).unwrap(), (expected.clone(), 0));
        prop_assert_eq!(parse_in_chunks(&bytes, &sizes, ParserLimits::default()).unwrap(), (expected, 0));
    }

    #[test]
    fn binary_arguments_survive_bulk_encoding(arguments in proptest::collection::vec(
            proptest::collection::vec(any::<u8>(), 0..40), 1..5)) {
        let slices: Vec<&[u8]> = arguments.iter().map(Vec::as_slice).collect();
        let bytes = request(&slices);
        prop_assert_eq!(parse_in_chunks(&bytes, &[3], ParserLimits::default()).unwrap(), (vec![arguments], 0));
    }

    #[test]
    fn arbitrary_argument_vectors_never_panic_the_command_parser(arguments in proptest::collection::vec(
            prop_oneof![word(), proptest::collection::vec(any::<u8>(), 0..8),
                        Just(b"client".to_vec()), Just(b"hello".to_vec()), Just(b"set".to_vec()),
                        Just(b"config".to_vec()), Just(b"command".to_vec()), Just(b"3".to_vec())], 0..6)) {
        if let Err(reply) = Command::parse(arguments) {
            let Reply::Error(text) = reply else { panic!("errors are error replies") };
            prop_assert!(text.starts_with("ERR ") || text.starts_with("NOPROTO "), "{}", text);
        }
    }
}
