//! The key-value machine's commands and results, as they cross the wire and sit in
//! the log. Variants are only ever appended: postcard names a variant by its index,
//! and an archived release must keep decoding every command it knows.

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::release::{Feature, Release};

/// What every release answers for an operation it cannot decode (1.3.0 included): a
/// result text, not a code, so that old and new members cache the same reply.
pub const MALFORMED: &str = "malformed key-value command";
/// The code that starts the error of a command the cluster's release lacks.
pub const FEATURE_OFF: &str = "feature-off";
/// The most keys one SCAN visits, whatever its COUNT: a bound on one op's work.
pub const SCAN_COUNT_MAX: u32 = 10_000;
/// The most keys KEYS returns; past it the reply would not fit a message. SCAN has no limit.
pub const KEYS_REPLY_MAX: usize = 10_000;
/// The most commands one pipeline carries: a bound on one op's work.
pub const PIPELINE_COMMANDS_MAX: usize = 256;
/// The variant index of [`KvCommand::Pipeline`].
const PIPELINE_TAG: usize = 15;
/// The feature that brings pipelines: code of an older release cannot decode one.
pub const PIPELINE_FEATURE: Feature = Feature::KvCommands;

/// When `SET` writes (`NX`, `XX`, or always).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetCondition {
    Always,
    /// `NX`: only when the key is absent.
    IfAbsent,
    /// `XX`: only when the key is present.
    IfPresent,
}

/// What each command is, by variant index (`KvCommand::tag`).
struct Variant {
    /// The Redis command a person writes for it.
    name: &'static str,
    read_only: bool,
    /// The feature that brings it, for those after the base protocol.
    feature: Option<Feature>,
}

const fn variant(name: &'static str, read_only: bool, feature: Option<Feature>) -> Variant {
    Variant { name, read_only, feature }
}

const LATER: Option<Feature> = Some(Feature::KvCommands);

const VARIANTS: [Variant; 16] = [
    variant("SET", false, None),
    variant("GET", true, None),
    variant("DEL", false, None),
    variant("EXISTS", true, None),
    variant("INCRBY", false, None),
    variant("MGET", true, None),
    variant("MSET", false, None),
    variant("SET", false, LATER),
    variant("APPEND", false, LATER),
    variant("STRLEN", true, LATER),
    variant("GETDEL", false, LATER),
    variant("SCAN", true, LATER),
    variant("KEYS", true, LATER),
    variant("DBSIZE", true, LATER),
    variant("SETNX", false, LATER),
    // Read-only when every command in it is: see `is_read_only`.
    variant("pipeline", false, Some(PIPELINE_FEATURE)),
];

/// Commands of the key-value machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvCommand {
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Get {
        key: Vec<u8>,
    },
    Delete {
        keys: Vec<Vec<u8>>,
    },
    Exists {
        keys: Vec<Vec<u8>>,
    },
    Increment {
        key: Vec<u8>,
        by: i64,
    },
    GetMany {
        keys: Vec<Vec<u8>>,
    },
    PutMany {
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    // ----- 1.4.0, `kv_commands` -----
    /// `SET key value [NX|XX] [GET]`, and `GETSET key value` (`get`, always).
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
        condition: SetCondition,
        /// Answer the value before the command (`GET`), written or not.
        get: bool,
    },
    /// Appends to the value (a missing key counts as empty); answers the new length.
    Append {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// The value's length in bytes, 0 for a missing key.
    StrLen {
        key: Vec<u8>,
    },
    /// Answers the value and deletes the key.
    GetDel {
        key: Vec<u8>,
    },
    /// `SCAN cursor [MATCH pattern] [COUNT n]`: visits up to `count` keys from `cursor`.
    Scan {
        cursor: u64,
        pattern: Option<Vec<u8>>,
        count: u32,
    },
    /// Every key matching the glob `pattern`, in key order.
    Keys {
        pattern: Vec<u8>,
    },
    /// How many keys there are.
    DbSize,
    /// `SETNX key value`: writes only a missing key; answers 1 if it wrote, else 0.
    SetNx {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Commands one client pipelined, each encoded, run in order as one op (answered
    /// by [`KvResult::Results`]): a pipelining connection puts one entry in the log
    /// per batch, not per command. Held encoded so that decoding never recurses; a
    /// pipeline inside a pipeline is malformed. At most `PIPELINE_COMMANDS_MAX`.
    Pipeline {
        commands: Vec<Vec<u8>>,
    },
}

impl KvCommand {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a KvCommand always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Option<KvCommand> {
        postcard::from_bytes(bytes).ok()
    }

    /// Its variant index, which postcard writes first (one byte: there are fewer
    /// than 128), and so its row of `VARIANTS`.
    fn tag(&self) -> usize {
        match self {
            KvCommand::Put { .. } => 0,
            KvCommand::Get { .. } => 1,
            KvCommand::Delete { .. } => 2,
            KvCommand::Exists { .. } => 3,
            KvCommand::Increment { .. } => 4,
            KvCommand::GetMany { .. } => 5,
            KvCommand::PutMany { .. } => 6,
            KvCommand::Set { .. } => 7,
            KvCommand::Append { .. } => 8,
            KvCommand::StrLen { .. } => 9,
            KvCommand::GetDel { .. } => 10,
            KvCommand::Scan { .. } => 11,
            KvCommand::Keys { .. } => 12,
            KvCommand::DbSize => 13,
            KvCommand::SetNx { .. } => 14,
            KvCommand::Pipeline { .. } => PIPELINE_TAG,
        }
    }

    /// The row of an encoded command, read from its first byte without decoding (and
    /// copying) its keys and values: the primary asks this of every request.
    fn variant_of_encoded(operation: &[u8]) -> Option<&'static Variant> {
        VARIANTS.get(*operation.first()? as usize)
    }

    pub fn is_read_only(&self) -> bool {
        match self {
            KvCommand::Pipeline { commands } => Self::all_read_only(commands.iter().map(Vec::as_slice)),
            _ => VARIANTS[self.tag()].read_only,
        }
    }

    /// Whether an encoded operation is a read-only command (false for bytes that are
    /// no command's: those are logged and answered as malformed).
    pub fn is_read_only_encoded(operation: &[u8]) -> bool {
        if Self::is_pipeline(operation) {
            return Self::pipeline_parts(operation).is_some_and(|parts| Self::all_read_only(parts.into_iter()));
        }
        Self::variant_of_encoded(operation).is_some_and(|variant| variant.read_only)
    }

    fn all_read_only<'a>(mut commands: impl Iterator<Item = &'a [u8]>) -> bool {
        commands.all(|command| !Self::is_pipeline(command) && Self::is_read_only_encoded(command))
    }

    /// Whether encoded bytes are a pipeline's (by their first byte, as `variant_of_encoded`).
    pub fn is_pipeline(operation: &[u8]) -> bool {
        operation.first().map(|tag| *tag as usize) == Some(PIPELINE_TAG)
    }

    /// The encoded commands of an encoded pipeline, borrowed: nothing is copied, as
    /// the primary asks this of every pipeline it takes. `None` when the bytes are no
    /// pipeline's, or one past `PIPELINE_COMMANDS_MAX`.
    pub fn pipeline_parts(operation: &[u8]) -> Option<Vec<&[u8]>> {
        if !Self::is_pipeline(operation) {
            return None;
        }
        // `Vec<Vec<u8>>` and `Vec<&[u8]>` have the same postcard encoding.
        let parts: Vec<&[u8]> = postcard::from_bytes(&operation[1..]).ok()?;
        (parts.len() <= PIPELINE_COMMANDS_MAX).then_some(parts)
    }

    /// The feature that brings this command, for those after the base protocol.
    pub fn feature(&self) -> Option<Feature> {
        VARIANTS[self.tag()].feature
    }

    /// The Redis command a person wrote to get this one.
    pub fn name(&self) -> &'static str {
        VARIANTS[self.tag()].name
    }

    /// `Err(text)` when the cluster at `release` lacks this command: the text starts
    /// with the spec's code and names the release that brings it.
    pub fn check_release(&self, release: Release) -> Result<(), String> {
        match self.feature() {
            Some(feature) if !feature.enabled_at(release) => Err(alloc::format!(
                "{FEATURE_OFF}: {} needs release {} ({}); the cluster runs {release}",
                self.name(),
                feature.since(),
                feature.name()
            )),
            // Every command in it must be the cluster's too.
            _ => match self {
                KvCommand::Pipeline { commands } => Self::check_parts(commands.iter().map(Vec::as_slice), release),
                _ => Ok(()),
            },
        }
    }
}

impl KvCommand {
    /// `check_release` of an encoded command, without decoding it (bytes that are no
    /// command's pass: they are logged and answered as malformed, as before).
    pub fn check_release_encoded(operation: &[u8], release: Release) -> Result<(), String> {
        let feature = Self::variant_of_encoded(operation).and_then(|variant| variant.feature);
        match feature {
            Some(feature) if !feature.enabled_at(release) => match Self::decode(operation) {
                Some(command) => command.check_release(release),
                None => Ok(()),
            },
            _ => match Self::pipeline_parts(operation) {
                Some(parts) => Self::check_parts(parts.into_iter(), release),
                None => Ok(()),
            },
        }
    }

    /// `check_release_encoded` of a pipeline's commands (one inside is malformed,
    /// whatever the release, and not looked into).
    fn check_parts<'a>(mut parts: impl Iterator<Item = &'a [u8]>, release: Release) -> Result<(), String> {
        parts.try_for_each(
            |part| if Self::is_pipeline(part) { Ok(()) } else { Self::check_release_encoded(part, release) },
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvResult {
    Ok,
    Value(Option<Vec<u8>>),
    Values(Vec<Option<Vec<u8>>>),
    Integer(i64),
    Error(String),
    // ----- 1.4.0 -----
    /// SCAN's page: the cursor to continue from (0 once every key was visited) and the
    /// matching keys of the page.
    Scan {
        cursor: u64,
        keys: Vec<Vec<u8>>,
    },
    /// A pipeline's results, each encoded, one per command in its order.
    Results(Vec<Vec<u8>>),
}

impl KvResult {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("a KvResult always encodes")
    }

    pub fn decode(bytes: &[u8]) -> Option<KvResult> {
        postcard::from_bytes(bytes).ok()
    }

    /// The spec's code of an error result, if it has one (`feature-off: ...` has).
    pub fn error_code(&self) -> Option<&str> {
        let KvResult::Error(text) = self else { return None };
        Some(text.split_once(':').map_or(text.as_str(), |(code, _)| code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_commands_keep_their_encoding() {
        // The indexes 1.3.0 knows: appending variants must not move them.
        assert_eq!(KvCommand::Put { key: b"k".to_vec(), value: b"v".to_vec() }.encode(), [0, 1, b'k', 1, b'v']);
        assert_eq!(KvCommand::PutMany { pairs: Vec::new() }.encode(), [6, 0]);
        assert_eq!(KvCommand::DbSize.encode(), [13]);
        assert_eq!(KvResult::Error(String::from("x")).encode(), [4, 1, b'x']);
    }

    fn one_of_each() -> [KvCommand; 14] {
        let key = || b"k".to_vec();
        [
            KvCommand::Put { key: key(), value: key() },
            KvCommand::Get { key: key() },
            KvCommand::Delete { keys: alloc::vec![key()] },
            KvCommand::Exists { keys: alloc::vec![key()] },
            KvCommand::Increment { key: key(), by: -1 },
            KvCommand::GetMany { keys: alloc::vec![key()] },
            KvCommand::PutMany { pairs: alloc::vec![(key(), key())] },
            KvCommand::Set { key: key(), value: key(), condition: SetCondition::IfAbsent, get: true },
            KvCommand::Append { key: key(), value: key() },
            KvCommand::StrLen { key: key() },
            KvCommand::GetDel { key: key() },
            KvCommand::Scan { cursor: 300, pattern: Some(key()), count: 10 },
            KvCommand::Keys { pattern: key() },
            KvCommand::DbSize,
        ]
    }

    #[test]
    fn the_encoded_form_tells_its_row_without_decoding() {
        let release_1_3 = Release::new(1, 3, 0);
        for command in one_of_each() {
            let bytes = command.encode();
            assert_eq!(bytes[0] as usize, command.tag(), "{command:?}");
            assert_eq!(KvCommand::is_read_only_encoded(&bytes), command.is_read_only(), "{command:?}");
            assert_eq!(KvCommand::check_release_encoded(&bytes, release_1_3), command.check_release(release_1_3));
        }
        assert!(!KvCommand::is_read_only_encoded(&[]));
        assert!(!KvCommand::is_read_only_encoded(&[99]));
        assert_eq!(KvCommand::check_release_encoded(&[99, 1, 2], release_1_3), Ok(()));
    }

    fn pipeline(commands: &[KvCommand]) -> KvCommand {
        KvCommand::Pipeline { commands: commands.iter().map(KvCommand::encode).collect() }
    }

    #[test]
    fn a_pipeline_is_read_only_when_all_it_holds_is_and_needs_every_release_it_holds() {
        let get = KvCommand::Get { key: b"k".to_vec() };
        let strlen = KvCommand::StrLen { key: b"k".to_vec() };
        let put = KvCommand::Put { key: b"k".to_vec(), value: b"v".to_vec() };
        let reads = pipeline(&[get.clone(), strlen.clone()]);
        assert!(reads.is_read_only() && KvCommand::is_read_only_encoded(&reads.encode()));
        let mixed = pipeline(&[get.clone(), put.clone()]);
        assert!(!mixed.is_read_only() && !KvCommand::is_read_only_encoded(&mixed.encode()));
        let nested = pipeline(core::slice::from_ref(&reads));
        assert!(!nested.is_read_only(), "a pipeline in a pipeline is malformed, not a read");
        let encoded = pipeline(&[reads.clone(), get.clone()]).encode();
        let parts = KvCommand::pipeline_parts(&encoded).expect("a pipeline");
        assert_eq!(parts, [reads.encode().as_slice(), get.encode().as_slice()], "borrowed, as encoded");
        assert_eq!(KvCommand::pipeline_parts(&get.encode()), None);

        let (at_1_3, at_1_4) = (Release::new(1, 3, 0), Release::new(1, 4, 0));
        assert!(pipeline(core::slice::from_ref(&put)).check_release(at_1_3).is_err(), "pipelines come with 1.4.0");
        assert_eq!(KvCommand::check_release_encoded(&mixed.encode(), at_1_4), Ok(()));
        assert_eq!(KvCommand::check_release_encoded(&pipeline(&[strlen]).encode(), at_1_4), Ok(()));
        let too_many = KvCommand::Pipeline { commands: alloc::vec![put.encode(); PIPELINE_COMMANDS_MAX + 1] };
        assert_eq!(KvCommand::pipeline_parts(&too_many.encode()), None);
        let later = KvCommand::Scan { cursor: 0, pattern: None, count: 1 };
        let refused = KvCommand::check_release_encoded(&pipeline(&[get.clone(), later]).encode(), at_1_3);
        assert!(refused.is_err(), "pipelines and SCAN both need 1.4.0: {refused:?}");
    }

    #[test]
    fn a_later_command_names_its_release() {
        let append = KvCommand::Append { key: b"k".to_vec(), value: b"x".to_vec() };
        let refusal = append.check_release(Release::new(1, 3, 0)).unwrap_err();
        assert_eq!(refusal, "feature-off: APPEND needs release 1.4.0 (kv_commands); the cluster runs 1.3.0");
        assert_eq!(KvResult::Error(refusal).error_code(), Some(FEATURE_OFF));
        assert_eq!(append.check_release(Release::new(1, 4, 0)), Ok(()));
        assert_eq!(KvCommand::Get { key: Vec::new() }.check_release(Release::new(1, 0, 0)), Ok(()));
    }
}
