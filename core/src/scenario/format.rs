//! Canonical text of a script: every `Display` here prints what
//! [`crate::scenario::parse::parse_script`] reads back as an equal tree.
//!
//! Arguments are printed in a fixed order and only when they differ from their
//! default (`client=1`, `standbys=0`, `seed=0` are left out). Probabilities are printed
//! as the shortest decimal of their parts per million (`50000` -> `0.05`).
//!
//! Round trips hold for every tree the parser can produce. Text the language cannot
//! write is printed as is and does not read back: keys, values and condition values
//! that are empty or hold a space, tab or `#` (or, for `put`/`get` keys and values,
//! an `=`), probabilities above 1_000_000 ppm, an empty partition.

use core::fmt::{self, Display, Formatter};

use super::ast::{Command, CompareOp, Condition, Header, Line, MemberRef, Script, Subject};

/// A probability in parts per million as the shortest decimal: `0`, `1`, `0.05`,
/// `0.000001`.
pub struct Ppm(pub u32);

impl Display for Ppm {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let whole = self.0 / 1_000_000;
        let fraction = self.0 % 1_000_000;
        write!(f, "{whole}")?;
        if fraction == 0 {
            return Ok(());
        }
        let digits = alloc::format!("{fraction:06}");
        write!(f, ".{}", digits.trim_end_matches('0'))
    }
}

impl Display for Script {
    /// The header line, then one line per command, each ending in a newline.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.header)?;
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

impl Display for Header {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "cluster replicas={}", self.replicas)?;
        if self.standbys != 0 {
            write!(f, " standbys={}", self.standbys)?;
        }
        if self.seed != 0 {
            write!(f, " seed={}", self.seed)?;
        }
        if let Some(binary) = self.binary {
            write!(f, " binary={binary}")?;
        }
        if let Some(release) = self.release {
            write!(f, " release={release}")?;
        }
        Ok(())
    }
}

impl Display for Line {
    /// The command alone: line numbers are where a command is, not part of it.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.command.fmt(f)
    }
}

impl Display for Command {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Command::Tick(ticks) => write!(f, "tick {ticks}"),
            Command::Step(events) => write!(f, "step {events}"),
            Command::Until { condition, within_ticks } => {
                write!(f, "until {condition} within {within_ticks}")
            }
            Command::Put { key, value, client } => {
                write!(f, "put {key} {value}")?;
                if *client != 1 {
                    write!(f, " client={client}")?;
                }
                Ok(())
            }
            Command::Get { key, client, at } => {
                write!(f, "get {key}")?;
                if *client != 1 {
                    write!(f, " client={client}")?;
                }
                if let Some(at) = at {
                    write!(f, " at={at}")?;
                }
                Ok(())
            }
            Command::Cmd { words, client } => {
                write!(f, "cmd {}", words.join(" "))?;
                if *client != 1 {
                    write!(f, " client={client}")?;
                }
                Ok(())
            }
            Command::Crash(member) => write!(f, "crash {member}"),
            Command::Restart { member, binary } => {
                write!(f, "restart {member}")?;
                if let Some(binary) = binary {
                    write!(f, " binary={binary}")?;
                }
                Ok(())
            }
            Command::Partition(groups) => {
                f.write_str("partition")?;
                for (index, group) in groups.iter().enumerate() {
                    f.write_str(if index == 0 { " " } else { " | " })?;
                    for (position, member) in group.iter().enumerate() {
                        if position > 0 {
                            f.write_str(",")?;
                        }
                        write!(f, "{member}")?;
                    }
                }
                Ok(())
            }
            Command::Isolate(member) => write!(f, "isolate {member}"),
            Command::Block { from, to } => write!(f, "block {from}->{to}"),
            Command::Unblock { from, to } => write!(f, "unblock {from}->{to}"),
            Command::Heal => f.write_str("heal"),
            Command::Net { loss_ppm, dup_ppm, delay_ticks } => {
                f.write_str("net")?;
                if let Some(loss) = loss_ppm {
                    write!(f, " loss={}", Ppm(*loss))?;
                }
                if let Some(dup) = dup_ppm {
                    write!(f, " dup={}", Ppm(*dup))?;
                }
                if let Some((low, high)) = delay_ticks {
                    write!(f, " delay={low}..{high}")?;
                }
                Ok(())
            }
            Command::Corrupt { member, op } => write!(f, "corrupt {member} op={op}"),
            // A comment keeps every later command on its line number.
            Command::LoseDisk(member) => {
                write!(f, "# lose-disk {member}: the explorer's disk loss, which the scenario language cannot say")
            }
            Command::UpgradePropose { to } => write!(f, "upgrade propose to={to}"),
            Command::UpgradeCancel => f.write_str("upgrade cancel"),
            Command::UpgradeAuto(on) => {
                write!(f, "upgrade auto={}", if *on { "on" } else { "off" })
            }
            Command::Promote { standby, replace } => {
                write!(f, "promote {standby}")?;
                if let Some(replace) = replace {
                    write!(f, " replace={replace}")?;
                }
                Ok(())
            }
            Command::Expect(condition) => write!(f, "expect {condition}"),
        }
    }
}

impl Display for Condition {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.subject, self.op, self.value)
    }
}

impl Display for CompareOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

impl Display for MemberRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MemberRef::One(member) => write!(f, "{member}"),
            MemberRef::All => f.write_str("*"),
        }
    }
}

impl Display for Subject {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Subject::Feature(feature) => write!(f, "[{}]", feature.name()),
            Subject::Reply(client) => write!(f, "[{client}]"),
            _ => match self.member() {
                Some(member) => write!(f, "[{member}]"),
                None => Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Feature, Release};
    use crate::scenario::parse::parse_script;
    use alloc::string::{String, ToString};
    use alloc::vec;
    use alloc::vec::Vec;

    fn parse_commands(text: &str) -> Vec<Command> {
        parse_script(text).unwrap_or_else(|error| panic!("{error}\n{text}")).commands().cloned().collect()
    }

    /// Parse, print, parse again: the commands and header must not change.
    fn assert_round_trip(text: &str) -> Script {
        let script = parse_script(text).unwrap_or_else(|error| panic!("{error}\n{text}"));
        let printed = script.to_string();
        let again = parse_script(&printed).unwrap_or_else(|error| panic!("{error}\n{printed}"));
        assert_eq!(script.commands().collect::<Vec<_>>(), again.commands().collect::<Vec<_>>(), "{printed}");
        let mut header = again.header.clone();
        header.line = script.header.line;
        assert_eq!(script.header, header);
        // Canonical text is a fixed point.
        assert_eq!(again.to_string(), printed);
        script
    }

    #[test]
    fn ppm_prints_the_shortest_decimal() {
        for (ppm, text) in [
            (0, "0"),
            (1_000_000, "1"),
            (50_000, "0.05"),
            (500_000, "0.5"),
            (200_000, "0.2"),
            (1, "0.000001"),
            (10, "0.00001"),
            (123_456, "0.123456"),
            (999_999, "0.999999"),
            (100_100, "0.1001"),
        ] {
            assert_eq!(Ppm(ppm).to_string(), text);
        }
    }

    #[test]
    fn every_ppm_reads_back() {
        for ppm in 0..=1_000_000u32 {
            let text = Ppm(ppm).to_string();
            assert_eq!(crate::scenario::parse::parse_probability(&text), Ok(ppm), "{text}");
        }
    }

    #[test]
    fn commands_print_canonically() {
        let cases: &[(&str, &str)] = &[
            ("tick", "tick 1"),
            ("step\t3", "step 3"),
            ("put a 1 client=1", "put a 1"),
            ("put  a 1  client=02", "put a 1 client=2"),
            ("get a at=3 client=4", "get a client=4 at=3"),
            ("partition 0,1|2", "partition 0,1 | 2"),
            ("partition 0 | 1,2,3 | 4", "partition 0 | 1,2,3 | 4"),
            ("block 0->2", "block 0->2"),
            ("net delay=1..30 dup=.2 loss=0.20", "net loss=0.2 dup=0.2 delay=1..30"),
            ("net loss=1.0", "net loss=1"),
            ("upgrade auto=off", "upgrade auto=off"),
            ("upgrade propose to=1.3.0-rc.1", "upgrade propose to=1.3.0-rc.1"),
            ("promote 3 replace=0", "promote 3 replace=0"),
            ("until commit[*] >= 3 within 500", "until commit[*] >= 3 within 500"),
            ("expect feature[standby_reads] != on", "expect feature[standby_reads] != on"),
            ("restart 1 binary=1.1.0 # roll", "restart 1 binary=1.1.0"),
        ];
        for (input, canonical) in cases {
            let text = alloc::format!("cluster replicas=3\n{input}\n");
            let commands = parse_commands(&text);
            assert_eq!(commands.len(), 1, "{input}");
            assert_eq!(commands[0].to_string(), *canonical, "{input}");
        }
    }

    #[test]
    fn header_prints_only_what_differs_from_defaults() {
        let script = parse_script("cluster replicas=3 standbys=0 seed=0").unwrap();
        assert_eq!(script.header.to_string(), "cluster replicas=3");
        let script = parse_script("cluster release=1.0.0 binary=1.1.0 seed=7 standbys=1 replicas=3").unwrap();
        assert_eq!(script.header.to_string(), "cluster replicas=3 standbys=1 seed=7 binary=1.1.0 release=1.0.0");
    }

    #[test]
    fn script_prints_header_then_commands() {
        let text = "# comment\n\ncluster replicas=1\n  tick 5 # wait\n\nheal\n";
        let script = parse_script(text).unwrap();
        assert_eq!(script.to_string(), "cluster replicas=1\ntick 5\nheal\n");
    }

    #[test]
    fn subjects_print_as_written() {
        let subjects = [
            (Subject::ClusterRelease, "cluster-release"),
            (Subject::Feature(Feature::LogScrubbing), "feature[log_scrubbing]"),
            (Subject::UpgradeTarget, "upgrade-target"),
            (Subject::Primary, "primary"),
            (Subject::View, "view"),
            (Subject::Commit(MemberRef::All), "commit[*]"),
            (Subject::Status(MemberRef::One(2)), "status[2]"),
            (Subject::Role(MemberRef::One(0)), "role[0]"),
            (Subject::Binary(MemberRef::All), "binary[*]"),
            (Subject::Lag(MemberRef::One(3)), "lag[3]"),
            (Subject::Health(MemberRef::One(4)), "health[4]"),
            (Subject::Promotable(MemberRef::All), "promotable[*]"),
            (Subject::Replicas, "replicas"),
            (Subject::Standbys, "standbys"),
            (Subject::Reply(12), "reply[12]"),
            (Subject::Error, "error"),
            (Subject::Violations, "violations"),
        ];
        for (subject, text) in subjects {
            assert_eq!(subject.to_string(), text);
            let condition = Condition { subject, op: CompareOp::Le, value: String::from("x") };
            let script = alloc::format!("cluster replicas=1\nexpect {condition}\n");
            assert_eq!(parse_commands(&script), vec![Command::Expect(condition)]);
        }
    }

    const LARGE: &str = "\
# A large hand-written script touching every command and subject.
cluster replicas=5 standbys=2 seed=18446744073709551615 binary=1.3.0 release=1.1.0

tick
tick 10
step
step 4
put a 1
put key-with-dashes value_with_underscores client=7
put ключ значение
get a
get a client=3
get a at=5
get a client=0 at=6
crash 0
restart 0
restart 1 binary=1.2.0
restart 2 binary=1.3.0-beta.2
partition 0,1,2 | 3,4
partition 0|1|2|3,4,5,6
partition 4
isolate 3
block 0->1
unblock 0->1
heal
net loss=0.05
net dup=1
net delay=0..0
net loss=0 dup=0.000001 delay=3..300
corrupt 1 op=2
upgrade propose to=1.2.0
upgrade propose to=2.0.0-alpha
upgrade cancel
upgrade auto=on
upgrade auto=off
promote 5
promote 6 replace=1
expect cluster-release = 1.1.0
expect feature[standby_replicas] = on
expect feature[log_scrubbing] = off
expect feature[cluster_reconfig] != on
expect feature[batched_prepares] = off
expect feature[standby_reads] = off
expect upgrade-target = none
expect primary != none
expect view >= 1
expect commit[0] > 0
expect commit[*] >= 3
expect status[1] = view-change
expect status[*] = normal
expect role[5] = standby
expect role[*] != removed
expect binary[2] >= 1.2.0
expect binary[*] < 2.0.0
expect lag[5] <= 4
expect lag[*] = 0
expect health[6] = healthy
expect health[*] = healthy
expect promotable[5] = yes
expect promotable[*] = no
expect replicas = 5
expect standbys = 2
expect reply[1] = ok
expect reply[2] = error:feature-off
expect reply[3] = nil
expect error = none
expect error = in-progress
expect violations = 0
until primary = 1 within 2000
until reply[7] != pending within 0
until cluster-release >= 1.2.0 within 3000
";

    #[test]
    fn large_script_round_trips() {
        let script = assert_round_trip(LARGE);
        assert_eq!(script.header.line, 2);
        assert_eq!(script.lines.len(), 68);
        assert_eq!(script.header.seed, u64::MAX);
        assert_eq!(script.header.release, Some(Release::new(1, 1, 0)));
    }

    /// A tiny deterministic generator for randomized round trips.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn member(&mut self) -> u8 {
            let range = if self.below(10) == 0 { 256 } else { 13 };
            self.below(range) as u8
        }

        fn member_ref(&mut self) -> MemberRef {
            if self.below(4) == 0 {
                MemberRef::All
            } else {
                MemberRef::One(self.member())
            }
        }

        fn number(&mut self) -> u64 {
            match self.below(4) {
                0 => self.below(10),
                1 => self.below(100_000),
                2 => u64::MAX - self.below(3),
                _ => self.next() * self.next(),
            }
        }

        fn ppm(&mut self) -> Option<u32> {
            match self.below(5) {
                0 => None,
                1 => Some(0),
                2 => Some(1_000_000),
                _ => Some(self.below(1_000_001) as u32),
            }
        }

        fn release(&mut self) -> Release {
            let text = match self.below(6) {
                0 => alloc::format!("{}.{}.{}", self.below(3), self.below(20), self.below(5)),
                1 => alloc::format!("1.{}.0-rc.{}", self.below(5), self.below(4)),
                2 => alloc::format!("1.{}.0-alpha", self.below(5)),
                3 => alloc::format!("1.{}.1-beta.{}", self.below(5), 1 + self.below(9)),
                _ => alloc::format!("1.{}.0", self.below(4)),
            };
            text.parse().unwrap()
        }

        /// A token the language can write: no space, tab, `#` or `=`.
        fn word(&mut self) -> String {
            const CHARS: &[char] =
                &['a', 'b', 'z', 'K', '0', '9', '-', '_', '.', ':', ',', '|', '/', 'é', '→', '[', ']', '*'];
            let len = 1 + self.below(6) as usize;
            (0..len).map(|_| CHARS[self.below(CHARS.len() as u64) as usize]).collect()
        }

        /// A condition value may also hold `=` and operators.
        fn value(&mut self) -> String {
            match self.below(6) {
                0 => String::from("none"),
                1 => self.number().to_string(),
                2 => self.release().to_string(),
                3 => String::from("a=b<=c"),
                _ => self.word(),
            }
        }

        fn subject(&mut self) -> Subject {
            match self.below(17) {
                0 => Subject::ClusterRelease,
                1 => Subject::Feature(Feature::ALL[self.below(5) as usize]),
                2 => Subject::UpgradeTarget,
                3 => Subject::Primary,
                4 => Subject::View,
                5 => Subject::Commit(self.member_ref()),
                6 => Subject::Status(self.member_ref()),
                7 => Subject::Role(self.member_ref()),
                8 => Subject::Binary(self.member_ref()),
                9 => Subject::Lag(self.member_ref()),
                10 => Subject::Health(self.member_ref()),
                11 => Subject::Promotable(self.member_ref()),
                12 => Subject::Replicas,
                13 => Subject::Standbys,
                14 => Subject::Reply(self.number()),
                15 => Subject::Error,
                _ => Subject::Violations,
            }
        }

        fn condition(&mut self) -> Condition {
            let subject = self.subject();
            let op = CompareOp::ALL[self.below(6) as usize];
            Condition { subject, op, value: self.value() }
        }

        fn command(&mut self) -> Command {
            match self.below(21) {
                0 => Command::Tick(1 + self.number() % (u64::MAX - 1)),
                1 => Command::Step(1 + self.below(1000)),
                2 => Command::Until { condition: self.condition(), within_ticks: self.number() },
                3 => Command::Put { key: self.word(), value: self.word(), client: self.number() },
                4 => {
                    let at = if self.below(2) == 0 { None } else { Some(self.member()) };
                    Command::Get { key: self.word(), client: self.number(), at }
                }
                5 => Command::Crash(self.member()),
                6 => {
                    let binary = if self.below(2) == 0 { None } else { Some(self.release()) };
                    Command::Restart { member: self.member(), binary }
                }
                7 => {
                    let mut members: Vec<u8> = (0..13).collect();
                    // Shuffle, then cut into groups.
                    for i in (1..members.len()).rev() {
                        members.swap(i, self.below(i as u64 + 1) as usize);
                    }
                    members.truncate(1 + self.below(13) as usize);
                    let mut groups = Vec::new();
                    let mut rest = &members[..];
                    while !rest.is_empty() {
                        let take = 1 + self.below(rest.len() as u64) as usize;
                        groups.push(rest[..take].to_vec());
                        rest = &rest[take..];
                    }
                    Command::Partition(groups)
                }
                8 => Command::Isolate(self.member()),
                9 => Command::Block { from: self.member(), to: self.member() },
                10 => Command::Unblock { from: self.member(), to: self.member() },
                11 => Command::Heal,
                12 => loop {
                    let low = self.number();
                    let delay_ticks = match self.below(3) {
                        0 => None,
                        _ => Some((low, low.saturating_add(self.below(100)))),
                    };
                    let (loss_ppm, dup_ppm) = (self.ppm(), self.ppm());
                    if loss_ppm.is_some() || dup_ppm.is_some() || delay_ticks.is_some() {
                        break Command::Net { loss_ppm, dup_ppm, delay_ticks };
                    }
                },
                13 => Command::Corrupt { member: self.member(), op: self.number() },
                14 => Command::UpgradePropose { to: self.release() },
                15 => Command::UpgradeCancel,
                16 => Command::UpgradeAuto(self.below(2) == 0),
                17 => {
                    let replace = if self.below(2) == 0 { None } else { Some(self.member()) };
                    Command::Promote { standby: self.member(), replace }
                }
                _ => Command::Expect(self.condition()),
            }
        }

        fn header(&mut self) -> Header {
            Header {
                line: 1,
                replicas: 1 + self.below(7) as u8,
                standbys: self.below(7) as u8,
                seed: self.number(),
                binary: if self.below(2) == 0 { None } else { Some(self.release()) },
                release: if self.below(2) == 0 { None } else { Some(self.release()) },
            }
        }
    }

    #[test]
    fn random_scripts_round_trip() {
        let mut lcg = Lcg(0x5eed);
        for _ in 0..300 {
            let lines: Vec<Line> = (0..40).map(|index| Line { number: index + 2, command: lcg.command() }).collect();
            let script = Script { header: lcg.header(), lines };
            let text = script.to_string();
            let parsed = parse_script(&text).unwrap_or_else(|error| panic!("{error}\n{text}"));
            // A canonical script has no comments or blank lines: the line numbers agree too.
            assert_eq!(parsed, script, "{text}");
        }
    }

    #[test]
    fn random_commands_round_trip_alone() {
        let mut lcg = Lcg(42);
        for _ in 0..5000 {
            let command = lcg.command();
            let text = alloc::format!("cluster replicas=1\n{command}");
            assert_eq!(parse_commands(&text), vec![command], "{text}");
        }
    }
}
