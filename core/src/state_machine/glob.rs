//! Redis's glob patterns for KEYS and SCAN's MATCH: `*` any run of bytes, `?` one byte,
//! `[abc]`, `[a-z]` and `[^...]` one byte of (or not of) a set, `\x` the byte `x`.
//!
//! Matched with one backtrack point per `*` kept (the last one), so the work is at most
//! the pattern's length times the key's: a hostile pattern cannot stall a member, as a
//! naive recursive matcher can (`a*a*a*...b`).

use alloc::vec::Vec;

#[derive(Debug, PartialEq, Eq)]
enum Token {
    Star,
    AnyByte,
    Byte(u8),
    /// Ranges of bytes, inclusive; `negated` matches every byte outside them.
    Set {
        ranges: Vec<(u8, u8)>,
        negated: bool,
    },
}

fn tokens(pattern: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < pattern.len() {
        let byte = pattern[at];
        at += 1;
        match byte {
            b'*' => {
                if out.last() != Some(&Token::Star) {
                    out.push(Token::Star);
                }
            }
            b'?' => out.push(Token::AnyByte),
            b'\\' if at < pattern.len() => {
                out.push(Token::Byte(pattern[at]));
                at += 1;
            }
            b'[' => {
                let negated = pattern.get(at) == Some(&b'^');
                if negated {
                    at += 1;
                }
                let mut ranges = Vec::new();
                // An unclosed set runs to the pattern's end, as in Redis.
                while at < pattern.len() && pattern[at] != b']' {
                    let mut low = pattern[at];
                    if low == b'\\' && at + 1 < pattern.len() {
                        at += 1;
                        low = pattern[at];
                    }
                    if pattern.get(at + 1) == Some(&b'-') && at + 2 < pattern.len() && pattern[at + 2] != b']' {
                        let high = pattern[at + 2];
                        ranges.push((low.min(high), low.max(high)));
                        at += 3;
                    } else {
                        ranges.push((low, low));
                        at += 1;
                    }
                }
                at += 1;
                out.push(Token::Set { ranges, negated });
            }
            other => out.push(Token::Byte(other)),
        }
    }
    out
}

fn matches_one(token: &Token, byte: u8) -> bool {
    match token {
        Token::Star => true,
        Token::AnyByte => true,
        Token::Byte(expected) => *expected == byte,
        Token::Set { ranges, negated } => ranges.iter().any(|(low, high)| (*low..=*high).contains(&byte)) != *negated,
    }
}

/// Whether `text` matches the glob `pattern`, as Redis decides it.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let tokens = tokens(pattern);
    let (mut token, mut byte) = (0, 0);
    // The last `*` seen, and the text position it was last tried to end at.
    let mut star: Option<(usize, usize)> = None;
    while byte < text.len() {
        match tokens.get(token) {
            Some(Token::Star) => {
                star = Some((token, byte));
                token += 1;
            }
            Some(one) if matches_one(one, text[byte]) => {
                token += 1;
                byte += 1;
            }
            _ => match star {
                // Let the last `*` take one more byte and try again from there.
                Some((star_token, star_byte)) => {
                    star = Some((star_token, star_byte + 1));
                    token = star_token + 1;
                    byte = star_byte + 1;
                }
                None => return false,
            },
        }
    }
    tokens[token..].iter().all(|rest| *rest == Token::Star)
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn matches_as_redis_does() {
        let cases: [(&str, &str, bool); 20] = [
            ("*", "", true),
            ("*", "anything", true),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h*llo", "heeeello", true),
            ("h*llo", "hellox", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[a-b]llo", "hcllo", false),
            ("h[b-a]llo", "hallo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("user:*:name", "user:42:name", true),
            ("user:*:name", "user:42:names", false),
            ("*a*b", "xaxxbxb", true),
            ("a*", "ba", false),
            ("[", "x", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_match(pattern.as_bytes(), text.as_bytes()), expected, "{pattern} on {text}");
        }
    }

    #[test]
    fn a_hostile_pattern_costs_little() {
        let pattern = "a*".repeat(200) + "b";
        let text = "a".repeat(5_000);
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes()));
    }
}
