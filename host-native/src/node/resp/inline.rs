//! Inline requests' arguments, split the way Redis splits them.

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Split an inline request into arguments like Redis's `sdssplitargs`: words separated
/// by spaces, `"..."` with `\n \r \t \b \a \\ \" \xHH` escapes, and `'...'` with `\'`.
/// `None` when quotes are unbalanced or a closing quote is not followed by a space.
pub fn split_inline(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut arguments = Vec::new();
    let mut at = 0;
    loop {
        while line.get(at).is_some_and(|byte| is_space(*byte)) {
            at += 1;
        }
        if at >= line.len() {
            return Some(arguments);
        }
        let mut current = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let byte = line.get(at).copied();
            if in_double {
                let byte = byte?;
                let next = line.get(at + 1).copied();
                if byte == b'\\' && next == Some(b'x') {
                    let high = line.get(at + 2).and_then(|digit| (*digit as char).to_digit(16));
                    let low = line.get(at + 3).and_then(|digit| (*digit as char).to_digit(16));
                    if let (Some(high), Some(low)) = (high, low) {
                        current.push((high * 16 + low) as u8);
                        at += 4;
                        continue;
                    }
                }
                if byte == b'\\' && next.is_some() {
                    current.push(match next? {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    at += 2;
                } else if byte == b'"' {
                    if next.is_some_and(|next| !is_space(next)) {
                        return None;
                    }
                    at += 1;
                    break;
                } else {
                    current.push(byte);
                    at += 1;
                }
            } else if in_single {
                let byte = byte?;
                let next = line.get(at + 1).copied();
                if byte == b'\\' && next == Some(b'\'') {
                    current.push(b'\'');
                    at += 2;
                } else if byte == b'\'' {
                    if next.is_some_and(|next| !is_space(next)) {
                        return None;
                    }
                    at += 1;
                    break;
                } else {
                    current.push(byte);
                    at += 1;
                }
            } else {
                match byte {
                    None => break,
                    Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => {
                        at += 1;
                        break;
                    }
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(other) => current.push(other),
                }
                at += 1;
            }
        }
        arguments.push(current);
    }
}
