//! The syntax tree of a scenario script (`shared/spec/scenario.md`).
//!
//! [`crate::scenario::parse::parse_script`] builds it from text and the `Display`
//! impls of [`crate::scenario::format`] print it back as canonical text that parses to
//! an equal tree (line numbers aside).

use alloc::string::String;
use alloc::vec::Vec;

use crate::release::{Feature, Release};

/// A whole script: its `cluster` header and every command after it, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub header: Header,
    pub lines: Vec<Line>,
}

impl Script {
    /// The commands in order, without their line numbers.
    pub fn commands(&self) -> impl Iterator<Item = &Command> + '_ {
        self.lines.iter().map(|line| &line.command)
    }

    /// Whether replaying the script's text runs it all: false when it holds a command
    /// the scenario language cannot say (`LoseDisk`).
    pub fn is_expressible(&self) -> bool {
        !self.commands().any(|command| matches!(command, Command::LoseDisk(_)))
    }
}

/// `cluster replicas=N [standbys=M] [seed=S] [binary=X.Y.Z] [release=X.Y.Z]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The 1-based line of the header in the file.
    pub line: usize,
    /// Active replicas, 1 to 7.
    pub replicas: u8,
    /// Standbys, 0 to 6 (default 0).
    pub standbys: u8,
    /// Fixes every random choice of the simulator (default 0).
    pub seed: u64,
    /// The release every member's binary runs up to; `None`: the newest this build has.
    pub binary: Option<Release>,
    /// The cluster's initial committed release; `None`: the binary's.
    pub release: Option<Release>,
}

/// One command and the 1-based line of the file it is on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub number: usize,
    pub command: Command,
}

/// Every command after the header. Member numbers are not checked against the
/// cluster here: a member that does not exist is a run-time error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `tick [N]`: advance time by N >= 1 ticks.
    Tick(u64),
    /// `step [N]`: process the next N >= 1 events.
    Step(u64),
    /// `until COND within N`.
    Until { condition: Condition, within_ticks: u64 },
    /// `put KEY VALUE [client=C]` (client 1 by default).
    Put { key: String, value: String, client: u64 },
    /// `get KEY [client=C] [at=R]` (client 1 by default; `at`: a standby read).
    Get { key: String, client: u64, at: Option<u8> },
    /// `cmd WORD... [client=C]`: any other key-value command, as a Redis client writes it
    /// (`client=C` may stand anywhere on the line).
    Cmd { words: Vec<String>, client: u64 },
    /// `crash R`.
    Crash(u8),
    /// `restart R [binary=X.Y.Z]`.
    Restart { member: u8, binary: Option<Release> },
    /// `partition A,B | C,D [| ...]`: at least one group, none empty, no member twice.
    Partition(Vec<Vec<u8>>),
    /// `isolate R`.
    Isolate(u8),
    /// `block A->B`.
    Block { from: u8, to: u8 },
    /// `unblock A->B`.
    Unblock { from: u8, to: u8 },
    /// `heal`.
    Heal,
    /// `net [loss=P] [dup=P] [delay=MIN..MAX]`, at least one of them. Probabilities
    /// are in parts per million (0 to 1_000_000); the delay is in ticks, MIN <= MAX.
    Net { loss_ppm: Option<u32>, dup_ppm: Option<u32>, delay_ticks: Option<(u64, u64)> },
    /// `corrupt R op=N`.
    Corrupt { member: u8, op: u64 },
    /// The explorer's disk loss: member R is stopped and its whole data directory is
    /// gone; its next restart recovers through the protocol (`format --recover`). The
    /// scenario language has no command for it, so no script makes one: a schedule
    /// shows it as a comment, and `viewstamp sim` reproduces such a seed by its number.
    LoseDisk(u8),
    /// `upgrade propose to=X.Y.Z`.
    UpgradePropose { to: Release },
    /// `upgrade cancel`.
    UpgradeCancel,
    /// `upgrade auto=on|off`.
    UpgradeAuto(bool),
    /// `promote S [replace=R]`.
    Promote { standby: u8, replace: Option<u8> },
    /// `expect SUBJECT OP VALUE`.
    Expect(Condition),
}

/// `SUBJECT OP VALUE`, as in `expect` and `until`. The value is kept as written:
/// releases compare as releases, numbers as numbers, everything else as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub subject: Subject,
    pub op: CompareOp,
    pub value: String,
}

/// `=`, `!=`, `<`, `<=`, `>`, `>=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    pub const ALL: [CompareOp; 6] =
        [CompareOp::Eq, CompareOp::Ne, CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge];

    /// The operator as written in a script.
    pub const fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    pub fn from_symbol(symbol: &str) -> Option<CompareOp> {
        CompareOp::ALL.into_iter().find(|op| op.symbol() == symbol)
    }
}

/// The index of a member subject: `[3]` or `[*]` (every member that is up).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MemberRef {
    One(u8),
    All,
}

/// What a condition reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// `cluster-release`
    ClusterRelease,
    /// `feature[NAME]`
    Feature(Feature),
    /// `upgrade-target`
    UpgradeTarget,
    /// `primary`
    Primary,
    /// `view`
    View,
    /// `commit[R]`
    Commit(MemberRef),
    /// `status[R]`
    Status(MemberRef),
    /// `role[R]`
    Role(MemberRef),
    /// `binary[R]`
    Binary(MemberRef),
    /// `lag[S]`
    Lag(MemberRef),
    /// `health[S]`
    Health(MemberRef),
    /// `promotable[S]`
    Promotable(MemberRef),
    /// `replicas`
    Replicas,
    /// `standbys`
    Standbys,
    /// `reply[C]`: client C's latest request.
    Reply(u64),
    /// `error`
    Error,
    /// `violations`
    Violations,
}

impl Subject {
    /// The subject's name, without its index: `commit` for `commit[2]`.
    pub const fn name(&self) -> &'static str {
        match self {
            Subject::ClusterRelease => "cluster-release",
            Subject::Feature(_) => "feature",
            Subject::UpgradeTarget => "upgrade-target",
            Subject::Primary => "primary",
            Subject::View => "view",
            Subject::Commit(_) => "commit",
            Subject::Status(_) => "status",
            Subject::Role(_) => "role",
            Subject::Binary(_) => "binary",
            Subject::Lag(_) => "lag",
            Subject::Health(_) => "health",
            Subject::Promotable(_) => "promotable",
            Subject::Replicas => "replicas",
            Subject::Standbys => "standbys",
            Subject::Reply(_) => "reply",
            Subject::Error => "error",
            Subject::Violations => "violations",
        }
    }

    /// The member a per-member subject reads, if it is one.
    pub const fn member(&self) -> Option<MemberRef> {
        match self {
            Subject::Commit(member)
            | Subject::Status(member)
            | Subject::Role(member)
            | Subject::Binary(member)
            | Subject::Lag(member)
            | Subject::Health(member)
            | Subject::Promotable(member) => Some(*member),
            _ => None,
        }
    }
}
