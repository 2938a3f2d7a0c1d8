//! The replay ABI's result format: the wasm module encodes a run with [`encode`], the
//! host decodes it with [`decode`]. Both sides link this one module, so the format
//! cannot drift between them.
//!
//! Layout, little-endian: `u32` total length (these 4 bytes included, so a host can
//! read the length first), the magic `VSR1`, `u8` exit status, `u8` 1 when a digest
//! follows, `u64` digest, `u64` violations, `u64` events, `u64` messages delivered,
//! `u32` line count, then each output line as `u32` length and UTF-8 bytes.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use viewstamp_core::scenario::run::{run_text, RunOptions};
use viewstamp_core::sim::archive::SharedArchive;

/// `replay` flag bit: print a line for every simulated event (off: `--quiet`).
pub const FLAG_TRACE: u32 = 1;

const MAGIC: &[u8; 4] = b"VSR1";
const FIXED_LEN: usize = 4 + 4 + 1 + 1 + 8 * 4 + 4;

/// Everything a replay prints and returns, the same from either engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    pub exit_status: u8,
    /// `None` when nothing was simulated (the script did not parse).
    pub digest: Option<u64>,
    pub violations: u64,
    pub events: u64,
    pub messages_delivered: u64,
    /// The output lines in order: trace, failures, and last the digest line.
    pub lines: Vec<String>,
}

/// Run a script's bytes as `viewstamp replay` does, with archived releases running in
/// `archive` (the wasm export passes its host's, reached through imports).
pub fn replay(script: &[u8], flags: u32, archive: Option<SharedArchive>) -> ReplayReport {
    let mut lines = Vec::new();
    let Ok(text) = core::str::from_utf8(script) else {
        lines.push(String::from("the script is not UTF-8 text"));
        return ReplayReport { exit_status: 2, digest: None, violations: 0, events: 0, messages_delivered: 0, lines };
    };
    let options = RunOptions { archive, ..RunOptions::new(flags & FLAG_TRACE != 0, true) };
    let outcome = run_text(text, options, &mut |line: &str| lines.push(line.to_string()));
    ReplayReport {
        exit_status: outcome.exit_status,
        digest: outcome.digest,
        violations: outcome.violations,
        events: outcome.events,
        messages_delivered: outcome.messages_delivered,
        lines,
    }
}

/// Lengths are `u32` on the wire: a line or a buffer past 4 GiB cannot occur in a
/// 32-bit memory, so saturating is only a guard.
fn len_u32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

pub fn encode(report: &ReplayReport) -> Vec<u8> {
    let total = FIXED_LEN + report.lines.iter().map(|line| 4 + line.len()).sum::<usize>();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&len_u32(total).to_le_bytes());
    out.extend_from_slice(MAGIC);
    out.push(report.exit_status);
    out.push(u8::from(report.digest.is_some()));
    for value in [report.digest.unwrap_or(0), report.violations, report.events, report.messages_delivered] {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&len_u32(report.lines.len()).to_le_bytes());
    for line in &report.lines {
        out.extend_from_slice(&len_u32(line.len()).to_le_bytes());
        out.extend_from_slice(line.as_bytes());
    }
    out
}

/// A result buffer that is not what [`encode`] writes: a module from another build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed replay result: {}", self.0)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < len {
            return Err(DecodeError("it ends early"));
        }
        let (head, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut word = [0; 4];
        word.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(word))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut word = [0; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(word))
    }
}

/// The total length a result buffer announces in its first 4 bytes.
pub fn announced_len(prefix: [u8; 4]) -> usize {
    u32::from_le_bytes(prefix) as usize
}

pub fn decode(bytes: &[u8]) -> Result<ReplayReport, DecodeError> {
    let mut reader = Reader { bytes };
    if reader.u32()? as usize != bytes.len() {
        return Err(DecodeError("its length prefix does not match its size"));
    }
    if reader.take(4)? != MAGIC {
        return Err(DecodeError("it does not start with VSR1 (a module from another build?)"));
    }
    let exit_status = reader.u8()?;
    let has_digest = reader.u8()? != 0;
    let digest = reader.u64()?;
    let (violations, events, messages_delivered) = (reader.u64()?, reader.u64()?, reader.u64()?);
    let count = reader.u32()? as usize;
    // Each line takes at least 4 bytes: a count beyond that is a lie, not an allocation.
    let mut lines = Vec::with_capacity(count.min(reader.bytes.len() / 4));
    for _ in 0..count {
        let len = reader.u32()? as usize;
        let text = core::str::from_utf8(reader.take(len)?).map_err(|_| DecodeError("a line is not UTF-8"))?;
        lines.push(text.to_string());
    }
    if !reader.bytes.is_empty() {
        return Err(DecodeError("bytes follow the last line"));
    }
    Ok(ReplayReport {
        exit_status,
        digest: has_digest.then_some(digest),
        violations,
        events,
        messages_delivered,
        lines,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "cluster replicas=3 seed=2\nput a 1\nuntil reply[1] = ok within 500\nexpect violations = 0\n";

    #[test]
    fn a_report_round_trips() {
        let report = replay(SCRIPT.as_bytes(), FLAG_TRACE, None);
        assert_eq!(report.exit_status, 0, "{:?}", report.lines);
        assert!(report.lines.len() > 3 && report.lines.last().unwrap().starts_with("digest="));
        assert_eq!(decode(&encode(&report)).unwrap(), report);
    }

    #[test]
    fn quiet_runs_print_only_the_digest_and_keep_it() {
        let loud = replay(SCRIPT.as_bytes(), FLAG_TRACE, None);
        let quiet = replay(SCRIPT.as_bytes(), 0, None);
        assert_eq!(quiet.lines, [loud.lines.last().unwrap().clone()]);
        assert_eq!((quiet.digest, quiet.events), (loud.digest, loud.events));
    }

    #[test]
    fn bad_scripts_exit_2_without_a_digest() {
        let report = replay(b"cluster replicas=3\nfly away\n", FLAG_TRACE, None);
        assert_eq!((report.exit_status, report.digest), (2, None));
        assert!(report.lines[0].starts_with("line 2:"), "{:?}", report.lines);
        let report = replay(&[0xff, 0xfe], FLAG_TRACE, None);
        assert_eq!(report.exit_status, 2);
        assert_eq!(decode(&encode(&report)).unwrap(), report);
    }

    #[test]
    fn damaged_buffers_are_refused() {
        let bytes = encode(&replay(SCRIPT.as_bytes(), 0, None));
        assert_eq!(announced_len(bytes[..4].try_into().unwrap()), bytes.len());
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut wrong_magic = bytes.clone();
        wrong_magic[4] = b'X';
        assert_eq!(
            decode(&wrong_magic),
            Err(DecodeError("it does not start with VSR1 (a module from another build?)"))
        );
        // A huge line count must fail cleanly, not allocate.
        let mut lying = bytes;
        let count_at = FIXED_LEN - 4;
        lying[count_at..count_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode(&lying).is_err());
    }
}
