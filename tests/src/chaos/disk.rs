//! Disk faults applied to a stopped member's data directory: a cut log tail, flipped
//! bits in the log, a zeroed log block, a damaged superblock copy.
//!
//! The few facts of the layout used here are restated from host-native's
//! `node/storage/layout.rs` rather than imported, so that a misreading shared with the
//! node cannot hide.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::chaos::rng::Rng;

/// The log's own header (magic, version, generation, nonce, checksum); records follow.
const WAL_HEADER_BYTES: u64 = 32;
const WAL_PREFIX: &str = "wal.";
const TAIL_CUT_MAX_BYTES: u64 = 64 * 1024;
const BIT_FLIPS_MAX: u64 = 8;
const BLOCK_BYTES: u64 = 4096;
const SUPERBLOCK_COPIES: u64 = 3;
/// A copy is one block; the node checks only its record, the rest is zero padding.
const SUPERBLOCK_BLOCK_BYTES: u64 = 512;
/// Magic, version, copy index, then the record's length as a little-endian u32.
const SUPERBLOCK_PREFIX_BYTES: u64 = 16;
const SUPERBLOCK_LENGTH_AT: usize = 12;
const SUPERBLOCK_CHECKSUM_BYTES: u64 = 8;
const SUPERBLOCK_DAMAGED_BYTES: u64 = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DiskFault {
    CutWalTail,
    FlipBits,
    ZeroBlock,
    DamageSuperblock,
}

impl DiskFault {
    pub const ALL: [DiskFault; 4] =
        [DiskFault::CutWalTail, DiskFault::FlipBits, DiskFault::ZeroBlock, DiskFault::DamageSuperblock];

    pub fn name(self) -> &'static str {
        match self {
            DiskFault::CutWalTail => "wal_tail_cut",
            DiskFault::FlipBits => "bits_flipped",
            DiskFault::ZeroBlock => "block_zeroed",
            DiskFault::DamageSuperblock => "superblock_damaged",
        }
    }
}

/// Damages `data_dir` as `fault` describes; returns one line for the nemesis log saying
/// exactly what was done (file, offsets, byte counts), e.g.
/// "cut 1234 of 56789 bytes from the end of wal.3".
pub fn apply(fault: DiskFault, data_dir: &Path, rng: &mut Rng) -> io::Result<String> {
    match fault {
        DiskFault::CutWalTail => cut_wal_tail(data_dir, rng),
        DiskFault::FlipBits => flip_bits(data_dir, rng),
        DiskFault::ZeroBlock => zero_block(data_dir, rng),
        DiskFault::DamageSuperblock => damage_superblock(data_dir, rng),
    }
}

fn cut_wal_tail(data_dir: &Path, rng: &mut Rng) -> io::Result<String> {
    let wal = LiveWal::find(data_dir)?;
    let records_bytes = wal.len_bytes.saturating_sub(WAL_HEADER_BYTES);
    if records_bytes == 0 {
        return Ok(format!("nothing to cut: {} holds {} bytes, no records after its header", wal.name, wal.len_bytes));
    }
    let cut_bytes = rng.between(1, records_bytes.min(TAIL_CUT_MAX_BYTES));
    wal.file.set_len(wal.len_bytes - cut_bytes).map_err(with_path("truncate", &wal.path))?;
    sync(&wal.file, &wal.path)?;
    Ok(format!("cut {cut_bytes} of {} bytes from the end of {}", wal.len_bytes, wal.name))
}

fn flip_bits(data_dir: &Path, rng: &mut Rng) -> io::Result<String> {
    let wal = LiveWal::find(data_dir)?;
    let records_bits = wal.len_bytes.saturating_sub(WAL_HEADER_BYTES) * 8;
    if records_bits == 0 {
        return Ok(format!("nothing to flip: {} holds {} bytes, no records after its header", wal.name, wal.len_bytes));
    }
    // Distinct bits, so that two flips never cancel out.
    let flips = rng.between(1, BIT_FLIPS_MAX).min(records_bits);
    let bits = distinct_below(rng, records_bits, flips);
    let mut flipped = Vec::with_capacity(bits.len());
    for bit in bits {
        let offset = WAL_HEADER_BYTES + bit / 8;
        let mask = 1u8 << (bit % 8);
        let mut byte = [0u8];
        wal.file.read_exact_at(&mut byte, offset).map_err(with_path("read", &wal.path))?;
        byte[0] ^= mask;
        wal.file.write_all_at(&byte, offset).map_err(with_path("write", &wal.path))?;
        flipped.push(format!("{offset}:{}", bit % 8));
    }
    sync(&wal.file, &wal.path)?;
    let noun = if flipped.len() == 1 { "bit" } else { "bits" };
    Ok(format!(
        "flipped {} {noun} of {} ({} bytes) at byte:bit {}",
        flipped.len(),
        wal.name,
        wal.len_bytes,
        flipped.join(" ")
    ))
}

fn zero_block(data_dir: &Path, rng: &mut Rng) -> io::Result<String> {
    let wal = LiveWal::find(data_dir)?;
    if wal.len_bytes == 0 {
        return Ok(format!("nothing to zero: {} is empty", wal.name));
    }
    let blocks = wal.len_bytes.div_ceil(BLOCK_BYTES);
    // Block 0 holds the log's header; spare it whenever there is another block to hit.
    let (block, note) = if blocks >= 2 {
        (rng.between(1, blocks - 1), "")
    } else {
        (0, ", its header included: the file is shorter than 2 blocks")
    };
    let start = block * BLOCK_BYTES;
    let zeroed_bytes = BLOCK_BYTES.min(wal.len_bytes - start);
    let zeros = vec![0u8; zeroed_bytes as usize];
    wal.file.write_all_at(&zeros, start).map_err(with_path("write", &wal.path))?;
    sync(&wal.file, &wal.path)?;
    Ok(format!(
        "zeroed bytes {start}..{} ({zeroed_bytes} bytes, block {block}) of {} ({} bytes){note}",
        start + zeroed_bytes,
        wal.name,
        wal.len_bytes
    ))
}

fn damage_superblock(data_dir: &Path, rng: &mut Rng) -> io::Result<String> {
    require_dir(data_dir)?;
    let copy = rng.below(SUPERBLOCK_COPIES);
    let name = format!("superblock.{copy}");
    let path = data_dir.join(&name);
    let file = open_read_write(&path, "superblock copy")?;
    let len_bytes = file_len(&file, &path)?;
    let span_bytes = len_bytes.min(SUPERBLOCK_BLOCK_BYTES);
    if span_bytes == 0 {
        return Ok(format!("nothing to damage: {name} is empty"));
    }
    let mut block = vec![0u8; span_bytes as usize];
    file.read_exact_at(&mut block, 0).map_err(with_path("read", &path))?;
    // Padding after the record is never read: aim inside the checksummed record, so
    // that every such fault is one the member has to notice.
    let record_end = checksummed_end(&block);
    let target_bytes = record_end.unwrap_or(span_bytes);
    let offsets = distinct_below(rng, target_bytes, SUPERBLOCK_DAMAGED_BYTES.min(target_bytes));
    for &offset in &offsets {
        // A non-zero xor: every chosen byte takes a random value other than its own.
        block[offset as usize] ^= rng.between(1, 255) as u8;
    }
    file.write_all_at(&block, 0).map_err(with_path("write", &path))?;
    sync(&file, &path)?;
    let listed: Vec<String> = offsets.iter().map(u64::to_string).collect();
    let reach = match record_end {
        Some(end) => {
            let inside = offsets.iter().filter(|&&offset| offset < end).count();
            format!(" ({inside} of them inside its {end}-byte checksummed record)")
        }
        None => " (its record length was already unreadable)".to_string(),
    };
    Ok(format!("overwrote {} bytes of {name} at offsets {}{reach}", offsets.len(), listed.join(" ")))
}

/// Where the checksummed part of a superblock copy ends, if its length field is plausible.
fn checksummed_end(block: &[u8]) -> Option<u64> {
    let field = block.get(SUPERBLOCK_LENGTH_AT..SUPERBLOCK_LENGTH_AT + 4)?;
    let record_bytes = u32::from_le_bytes(field.try_into().ok()?) as u64;
    let end = SUPERBLOCK_PREFIX_BYTES + record_bytes + SUPERBLOCK_CHECKSUM_BYTES;
    (end <= block.len() as u64).then_some(end)
}

/// `count` distinct numbers below `bound`, ascending; `count` must not exceed `bound`.
fn distinct_below(rng: &mut Rng, bound: u64, count: u64) -> Vec<u64> {
    let mut chosen = Vec::with_capacity(count as usize);
    while (chosen.len() as u64) < count {
        let candidate = rng.below(bound);
        if !chosen.contains(&candidate) {
            chosen.push(candidate);
        }
    }
    chosen.sort_unstable();
    chosen
}

/// The log file the next start reads. The superblock names it, but reading that means
/// decoding the node's postcard record; the highest generation is the live one except
/// right after a crash in the middle of a switch to a new generation.
struct LiveWal {
    name: String,
    path: PathBuf,
    file: File,
    len_bytes: u64,
}

impl LiveWal {
    fn find(data_dir: &Path) -> io::Result<LiveWal> {
        require_dir(data_dir)?;
        let entries = fs::read_dir(data_dir).map_err(with_path("read the data directory", data_dir))?;
        let mut logs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(with_path("read the data directory", data_dir))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(generation) = wal_generation(&name) {
                logs.push((generation, name));
            }
        }
        let highest = logs.into_iter().max_by_key(|(generation, _)| *generation);
        let Some((_, name)) = highest else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no log file (wal.<generation>) in {}: is it a member's data directory?", data_dir.display()),
            ));
        };
        let path = data_dir.join(&name);
        let file = open_read_write(&path, "log file")?;
        let len_bytes = file_len(&file, &path)?;
        Ok(LiveWal { name, path, file, len_bytes })
    }
}

/// The generation of a log file's name: `wal.<digits>`, so `wal.3.lost`, `wal.3.tmp` and
/// `wal-headers.3` are not taken for the log.
fn wal_generation(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(WAL_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn require_dir(data_dir: &Path) -> io::Result<()> {
    let metadata = fs::metadata(data_dir).map_err(with_path("find the data directory", data_dir))?;
    if !metadata.is_dir() {
        let detail = format!("the data directory {} is not a directory", data_dir.display());
        return Err(io::Error::new(io::ErrorKind::InvalidInput, detail));
    }
    Ok(())
}

fn open_read_write(path: &Path, what: &str) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path).map_err(with_path(&format!("open the {what}"), path))
}

fn file_len(file: &File, path: &Path) -> io::Result<u64> {
    Ok(file.metadata().map_err(with_path("read the size of", path))?.len())
}

/// Synced, so the damage is what the member's next start reads.
fn sync(file: &File, path: &Path) -> io::Result<()> {
    file.sync_all().map_err(with_path("sync", path))
}

fn with_path<'a>(action: &'a str, path: &'a Path) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |error| io::Error::new(error.kind(), format!("cannot {action} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    const LIVE_WAL: &str = "wal.10";
    /// Prefix, a 100-byte record and its checksum, as a real copy lays them out.
    const SUPERBLOCK_RECORD_END: u64 = 16 + 100 + 8;

    /// A directory of its own under the system's temp dir, removed when dropped.
    struct ScratchDir(PathBuf);

    impl ScratchDir {
        fn new() -> ScratchDir {
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let unique = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("viewstamp-disk-{}-{unique}", std::process::id()));
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            ScratchDir(path)
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Bytes that are never zero and differ from file to file.
    fn pattern(len_bytes: usize, salt: u8) -> Vec<u8> {
        (0..len_bytes).map(|index| ((index * 7 + salt as usize) % 251) as u8 + 1).collect()
    }

    fn superblock_copy(copy: u32) -> Vec<u8> {
        let mut block = b"VSSB".to_vec();
        block.extend_from_slice(&1u32.to_le_bytes());
        block.extend_from_slice(&copy.to_le_bytes());
        block.extend_from_slice(&100u32.to_le_bytes());
        block.extend_from_slice(&pattern(108, copy as u8));
        block.resize(SUPERBLOCK_BLOCK_BYTES as usize, 0);
        block
    }

    /// A data directory whose live log `wal.10` holds `live_wal_bytes`, beside older
    /// generations and names that only look like logs.
    fn fake_data_dir(live_wal_bytes: usize) -> ScratchDir {
        let scratch = ScratchDir::new();
        let files: [(&str, Vec<u8>); 11] = [
            ("identity", b"viewstamp data directory\nformat 1\ncluster 7\nmember 1\n".to_vec()),
            ("superblock.0", superblock_copy(0)),
            ("superblock.1", superblock_copy(1)),
            ("superblock.2", superblock_copy(2)),
            ("wal.2", pattern(40_000, 2)),
            ("wal.9", pattern(50_000, 9)),
            (LIVE_WAL, pattern(live_wal_bytes, 10)),
            ("wal-headers.10", pattern(6_000, 11)),
            ("wal-headers.11", pattern(6_000, 12)),
            ("wal.12.lost", pattern(3_000, 13)),
            ("checkpoint", pattern(2_000, 14)),
        ];
        for (name, bytes) in files {
            fs::write(scratch.0.join(name), bytes).unwrap();
        }
        scratch
    }

    fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                (entry.file_name().to_string_lossy().into_owned(), fs::read(entry.path()).unwrap())
            })
            .collect()
    }

    fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
        assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "files came or went");
        before.iter().filter(|(name, bytes)| after[*name] != **bytes).map(|(name, _)| name.clone()).collect()
    }

    fn differing_offsets(before: &[u8], after: &[u8]) -> Vec<usize> {
        assert_eq!(before.len(), after.len());
        (0..before.len()).filter(|&at| before[at] != after[at]).collect()
    }

    /// Applies `fault` to a fresh fake directory: (line, files before, files after).
    #[allow(clippy::type_complexity)]
    fn damage(
        fault: DiskFault,
        live_wal_bytes: usize,
        seed: u64,
    ) -> (String, BTreeMap<String, Vec<u8>>, BTreeMap<String, Vec<u8>>) {
        let dir = fake_data_dir(live_wal_bytes);
        let before = snapshot(&dir.0);
        let line = apply(fault, &dir.0, &mut Rng::new(seed)).unwrap();
        (line, before, snapshot(&dir.0))
    }

    #[test]
    fn every_fault_has_its_name() {
        let names: Vec<&str> = DiskFault::ALL.iter().map(|fault| fault.name()).collect();
        assert_eq!(names, ["wal_tail_cut", "bits_flipped", "block_zeroed", "superblock_damaged"]);
    }

    #[test]
    fn a_tail_cut_shortens_the_live_log_by_what_it_reports_and_keeps_the_prefix() {
        for (live_wal_bytes, seeds) in [(100_000, 0..16), (32 + 100, 0..16), (33, 0..2)] {
            for seed in seeds {
                let (line, before, after) = damage(DiskFault::CutWalTail, live_wal_bytes, seed);
                assert_eq!(changed(&before, &after), [LIVE_WAL]);
                let cut_bytes: usize = line.split(' ').nth(1).unwrap().parse().unwrap();
                assert_eq!(line, format!("cut {cut_bytes} of {live_wal_bytes} bytes from the end of {LIVE_WAL}"));
                assert!((1..=(live_wal_bytes - 32).min(64 * 1024)).contains(&cut_bytes), "{line}");
                let (whole, cut) = (&before[LIVE_WAL], &after[LIVE_WAL]);
                assert_eq!(cut.len(), live_wal_bytes - cut_bytes);
                assert_eq!(cut[..], whole[..cut.len()]);
            }
        }
    }

    #[test]
    fn a_log_of_only_its_header_has_no_tail_or_bits_to_damage() {
        for fault in [DiskFault::CutWalTail, DiskFault::FlipBits] {
            let (line, before, after) = damage(fault, 32, 1);
            assert!(line.starts_with("nothing to "), "{line}");
            assert!(line.contains(LIVE_WAL), "{line}");
            assert_eq!(before, after);
        }
    }

    #[test]
    fn flips_change_one_to_eight_bits_after_the_header() {
        for (live_wal_bytes, seed) in (0..24).map(|seed| (100_000, seed)).chain([(33, 1), (33, 2)]) {
            let (line, before, after) = damage(DiskFault::FlipBits, live_wal_bytes, seed);
            assert_eq!(changed(&before, &after), [LIVE_WAL]);
            let (whole, flipped) = (&before[LIVE_WAL], &after[LIVE_WAL]);
            let offsets = differing_offsets(whole, flipped);
            assert!(offsets.iter().all(|&at| at >= 32), "{line}: {offsets:?}");
            let bits: u32 = offsets.iter().map(|&at| (whole[at] ^ flipped[at]).count_ones()).sum();
            assert!((1..=8).contains(&bits), "{line}");
            assert!(line.starts_with(&format!("flipped {bits} bit")), "{line}");
        }
    }

    #[test]
    fn a_zeroed_block_is_4_kib_of_zeros_at_an_aligned_offset_after_the_header_block() {
        for (live_wal_bytes, seed) in (0..24).map(|seed| (100_000, seed)).chain([(5_000, 1), (8_192, 2)]) {
            let (line, before, after) = damage(DiskFault::ZeroBlock, live_wal_bytes, seed);
            assert_eq!(changed(&before, &after), [LIVE_WAL]);
            let offsets = differing_offsets(&before[LIVE_WAL], &after[LIVE_WAL]);
            let start = offsets[0] / 4096 * 4096;
            let end = (start + 4096).min(live_wal_bytes);
            // The pattern has no zero byte, so every zeroed byte differs.
            assert_eq!(offsets, (start..end).collect::<Vec<_>>(), "{line}");
            assert!(start >= 4096, "{line}");
            assert!(after[LIVE_WAL][start..end].iter().all(|&byte| byte == 0));
            assert!(line.starts_with(&format!("zeroed bytes {start}..{end} ({} bytes", end - start)), "{line}");
            assert!(!line.contains("header"), "{line}");
        }
    }

    #[test]
    fn a_log_shorter_than_two_blocks_is_zeroed_header_and_all_and_the_line_says_so() {
        let (line, before, after) = damage(DiskFault::ZeroBlock, 1_000, 3);
        assert_eq!(changed(&before, &after), [LIVE_WAL]);
        assert_eq!(after[LIVE_WAL], vec![0u8; 1_000]);
        assert!(line.starts_with("zeroed bytes 0..1000 (1000 bytes, block 0)"), "{line}");
        assert!(line.contains("header included"), "{line}");
    }

    #[test]
    fn superblock_damage_changes_sixteen_bytes_of_exactly_one_copy() {
        let mut copies_hit = std::collections::BTreeSet::new();
        for seed in 0..24 {
            let (line, before, after) = damage(DiskFault::DamageSuperblock, 10_000, seed);
            let changed = changed(&before, &after);
            assert_eq!(changed.len(), 1, "{line}");
            let copy = &changed[0];
            assert!(copy.starts_with("superblock."), "{line}");
            let offsets = differing_offsets(&before[copy], &after[copy]);
            assert_eq!(offsets.len(), 16, "{line}");
            assert!(offsets.iter().all(|&at| at < 512));
            let inside = offsets.iter().filter(|&&at| at < SUPERBLOCK_RECORD_END as usize).count();
            assert!(line.starts_with(&format!("overwrote 16 bytes of {copy} at offsets ")), "{line}");
            let reach = format!("({inside} of them inside its {SUPERBLOCK_RECORD_END}-byte checksummed record)");
            assert!(line.ends_with(&reach), "{line}");
            copies_hit.insert(copy.clone());
        }
        assert_eq!(copies_hit.len(), 3, "every copy is a target");
    }

    #[test]
    fn the_same_seed_does_the_same_damage() {
        for fault in DiskFault::ALL {
            let (line, _, after) = damage(fault, 100_000, 42);
            let (line_again, _, after_again) = damage(fault, 100_000, 42);
            assert_eq!(line, line_again);
            assert_eq!(after, after_again, "{}", fault.name());
            let (other_line, _, _) = damage(fault, 100_000, 43);
            assert_ne!(line, other_line, "{}", fault.name());
        }
    }

    #[test]
    fn the_highest_log_generation_is_the_one_damaged() {
        for fault in [DiskFault::CutWalTail, DiskFault::FlipBits, DiskFault::ZeroBlock] {
            let (line, before, after) = damage(fault, 100_000, 5);
            assert_eq!(changed(&before, &after), [LIVE_WAL], "{line}");
            assert!(line.contains(LIVE_WAL), "{line}");
        }
        assert_eq!(wal_generation("wal.10"), Some(10));
        for not_a_log in ["wal.", "wal.3.lost", "wal.3.tmp", "wal-headers.3", "wal.x", "wal.+3"] {
            assert_eq!(wal_generation(not_a_log), None, "{not_a_log}");
        }
    }

    #[test]
    fn a_missing_directory_or_log_is_an_error_naming_the_path() {
        let scratch = ScratchDir::new();
        let missing = scratch.0.join("no-such-member");
        for fault in DiskFault::ALL {
            let error = apply(fault, &missing, &mut Rng::new(1)).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::NotFound);
            assert!(error.to_string().contains(&missing.display().to_string()), "{error}");
        }
        fs::write(scratch.0.join("wal-headers.4"), pattern(100, 1)).unwrap();
        fs::write(scratch.0.join("superblock.0"), superblock_copy(0)).unwrap();
        for fault in [DiskFault::CutWalTail, DiskFault::FlipBits, DiskFault::ZeroBlock] {
            let error = apply(fault, &scratch.0, &mut Rng::new(1)).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::NotFound);
            assert!(error.to_string().contains(&scratch.0.display().to_string()), "{error}");
        }
        // Copies 1 and 2 are missing: some seed picks one of them.
        let error = (0..16).find_map(|seed| apply(DiskFault::DamageSuperblock, &scratch.0, &mut Rng::new(seed)).err());
        let error = error.expect("no seed picked a missing superblock copy");
        assert!(error.to_string().contains(&scratch.0.display().to_string()), "{error}");
    }
}
