//! The scenario parser: text to [`Script`], or the first malformed line and why.
//!
//! Lexical rules (`shared/spec/scenario.md`): one command per line, blank lines
//! ignored, `#` starts a comment that runs to the end of the line, tokens separated by
//! spaces or tabs, arguments `key=value` in any order. A token holding `=` is an
//! argument, except in `expect`/`until` conditions, whose three tokens are taken by
//! position (so `=` is an operator there, and a value may hold `=`).
//!
//! Member numbers are read as `u8` but not checked against the cluster's size: a
//! member that does not exist is a run-time error (exit 1), not a parse error.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::ast::{Command, CompareOp, Condition, Header, Line, MemberRef, Script, Subject};
use crate::release::{Feature, Release};

/// A malformed script: the 1-based line at fault and what is wrong with it.
/// Displays as `line N: <reason>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ParseError {}

/// What one non-blank line holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParsedLine {
    Header(Header),
    Command(Command),
}

/// Parse a whole script. The header must be its first command and appear once.
pub fn parse_script(text: &str) -> Result<Script, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header: Option<Header> = None;
    let mut lines = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let at = |reason: String| ParseError { line: number, reason };
        let tokens = tokenize(raw);
        let Some(&name) = tokens.first() else {
            continue;
        };
        match &header {
            None if name == "cluster" => header = Some(parse_header(&tokens, number).map_err(at)?),
            None => {
                return Err(at(format!(
                    "the script must start with its header `{HEADER_USAGE}`, found '{name}' before it"
                )))
            }
            Some(first) if name == "cluster" => {
                return Err(at(format!(
                    "a second header: `cluster` appears once, as the first command (it is on line {})",
                    first.line
                )))
            }
            Some(_) => lines.push(Line { number, command: parse_command(&tokens).map_err(at)? }),
        }
    }
    match header {
        Some(header) => Ok(Script { header, lines }),
        None => Err(ParseError {
            line: 1,
            reason: format!("the script has no header: it must start with `{HEADER_USAGE}`"),
        }),
    }
}

/// Parse one line on its own (`number` is only used in errors and the header's
/// `line`): `None` for a blank or comment-only line.
pub fn parse_line(text: &str, number: usize) -> Result<Option<ParsedLine>, ParseError> {
    let tokens = tokenize(text);
    let parsed = match tokens.first() {
        None => return Ok(None),
        Some(&"cluster") => parse_header(&tokens, number).map(ParsedLine::Header),
        Some(_) => parse_command(&tokens).map(ParsedLine::Command),
    };
    parsed.map(Some).map_err(|reason| ParseError { line: number, reason })
}

/// Parse one condition written `SUBJECT OP VALUE`.
pub fn parse_condition_text(text: &str) -> Result<Condition, String> {
    parse_condition(&tokenize(text), "a condition")
}

/// A probability written as a decimal from 0 to 1 (`0.05`, `1`, `.5`), in parts per
/// million; digits past the sixth decimal are dropped.
pub fn parse_probability(text: &str) -> Result<u32, String> {
    let bad = || format!("'{text}' is not a probability: write a decimal from 0 to 1, like 0.05");
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    let whole = match whole.trim_start_matches('0') {
        "" => 0,
        "1" => 1,
        _ => return Err(format!("probability {text} is above 1: write a decimal from 0 to 1, like 0.05")),
    };
    if whole == 1 && fraction.bytes().any(|b| b != b'0') {
        return Err(format!("probability {text} is above 1: write a decimal from 0 to 1, like 0.05"));
    }
    let mut ppm: u32 = whole * 1_000_000;
    let mut scale = 100_000;
    for digit in fraction.bytes().take(6) {
        ppm += u32::from(digit - b'0') * scale;
        scale /= 10;
    }
    Ok(ppm)
}

const HEADER_USAGE: &str = "cluster replicas=N [standbys=M] [seed=S] [binary=X.Y.Z] [release=X.Y.Z]";
const OPERATORS: &str = "=, !=, <, <=, >, >=";
const SUBJECTS: &str = "cluster-release, feature[NAME], upgrade-target, primary, view, commit[R], \
                        status[R], role[R], binary[R], lag[S], health[S], promotable[S], replicas, \
                        standbys, reply[C], error, violations";

/// The tokens of a line: what precedes any `#`, split on spaces and tabs.
fn tokenize(line: &str) -> Vec<&str> {
    let code = match line.find('#') {
        Some(comment) => &line[..comment],
        None => line,
    };
    code.split([' ', '\t']).filter(|token| !token.is_empty()).collect()
}

/// A command's tokens sorted into positional words and `key=value` arguments.
struct Args<'a> {
    positional: Vec<&'a str>,
    named: Vec<(&'a str, &'a str)>,
}

impl<'a> Args<'a> {
    /// Every token with an `=` is an argument, whose key must be one of `allowed`
    /// and appear at most once.
    fn split(tokens: &[&'a str], allowed: &[&str], usage: &str) -> Result<Self, String> {
        let mut args = Args { positional: Vec::new(), named: Vec::new() };
        for &token in tokens {
            let Some((key, value)) = token.split_once('=') else {
                args.positional.push(token);
                continue;
            };
            if allowed.is_empty() {
                return Err(format!("unexpected argument '{token}': {usage}"));
            }
            if key.is_empty() {
                return Err(format!("'{token}' has no argument name before '=': {usage}"));
            }
            if !allowed.contains(&key) {
                return Err(format!("unknown argument '{key}': {usage}"));
            }
            if args.get(key).is_some() {
                return Err(format!("argument '{key}' is given twice"));
            }
            if value.is_empty() {
                return Err(format!("argument '{key}' has no value after '='"));
            }
            args.named.push((key, value));
        }
        Ok(args)
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.named.iter().find(|(name, _)| *name == key).map(|(_, value)| *value)
    }

    /// At most `count` positional words; more is an error naming the first extra.
    fn at_most(&self, count: usize, usage: &str) -> Result<(), String> {
        match self.positional.get(count) {
            Some(extra) => Err(format!("unexpected '{extra}': {usage}")),
            None => Ok(()),
        }
    }
}

fn parse_number(text: &str, what: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be a number, not '{text}'"));
    }
    text.parse().map_err(|_| format!("{what} {text} is too large (at most {})", u64::MAX))
}

fn parse_member(text: &str, what: &str) -> Result<u8, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} must be a member number, not '{text}'"));
    }
    text.parse().map_err(|_| format!("{what} {text} is not a member number (members are numbered 0 to 12)"))
}

fn parse_release(text: &str, what: &str) -> Result<Release, String> {
    text.parse().map_err(|error| format!("{what} '{text}' is not a release: {error}"))
}

/// `MIN..MAX` ticks with MIN <= MAX.
fn parse_delay(text: &str) -> Result<(u64, u64), String> {
    let Some((low, high)) = text.split_once("..") else {
        return Err(format!("delay is MIN..MAX ticks, like delay=1..30, not '{text}'"));
    };
    let low = parse_number(low, "the delay's MIN")?;
    let high = parse_number(high, "the delay's MAX")?;
    if low > high {
        return Err(format!("delay {text} has MIN above MAX: write delay=MIN..MAX with MIN <= MAX"));
    }
    Ok((low, high))
}

fn parse_header(tokens: &[&str], line: usize) -> Result<Header, String> {
    let usage = format!("`{HEADER_USAGE}`");
    let args = Args::split(&tokens[1..], &["replicas", "standbys", "seed", "binary", "release"], &usage)?;
    if let Some(word) = args.positional.first() {
        return Err(format!("unexpected '{word}': the header takes only key=value arguments, {usage}"));
    }
    let replicas = match args.get("replicas") {
        None => return Err(format!("the header needs replicas=N (1 to 7): {usage}")),
        Some(text) => match parse_number(text, "replicas")? {
            count @ 1..=7 => count as u8,
            count => return Err(format!("replicas must be 1 to 7, not {count}")),
        },
    };
    let standbys = match args.get("standbys") {
        None => 0,
        Some(text) => match parse_number(text, "standbys")? {
            count @ 0..=6 => count as u8,
            count => return Err(format!("standbys must be 0 to 6, not {count}")),
        },
    };
    let seed = args.get("seed").map(|text| parse_number(text, "seed")).transpose()?.unwrap_or(0);
    let binary = args.get("binary").map(|text| parse_release(text, "binary")).transpose()?;
    let release = args.get("release").map(|text| parse_release(text, "release")).transpose()?;
    Ok(Header { line, replicas, standbys, seed, binary, release })
}

/// Parse a command line's tokens (not the header).
fn parse_command(tokens: &[&str]) -> Result<Command, String> {
    let name = tokens[0];
    let rest = &tokens[1..];
    match name {
        "tick" | "step" => {
            let usage = format!("`{name} [N]`");
            let args = Args::split(rest, &[], &usage)?;
            args.at_most(1, &usage)?;
            let count = match args.positional.first() {
                None => 1,
                Some(text) => parse_number(text, &format!("{name}'s N"))?,
            };
            if count == 0 {
                return Err(format!("{name}'s N must be at least 1"));
            }
            Ok(if name == "tick" { Command::Tick(count) } else { Command::Step(count) })
        }
        "until" => parse_until(rest),
        "expect" => Ok(Command::Expect(parse_condition(rest, "expect")?)),
        "put" => {
            let usage = "`put KEY VALUE [client=C]`";
            let args = Args::split(rest, &["client"], usage)?;
            let [key, value, ..] = args.positional[..] else {
                return Err(String::from("put needs KEY and VALUE"));
            };
            args.at_most(2, usage)?;
            let client = args.get("client").map(|text| parse_number(text, "client")).transpose()?.unwrap_or(1);
            Ok(Command::Put { key: String::from(key), value: String::from(value), client })
        }
        "get" => {
            let usage = "`get KEY [client=C] [at=R]`";
            let args = Args::split(rest, &["client", "at"], usage)?;
            let Some(key) = args.positional.first() else {
                return Err(String::from("get needs KEY"));
            };
            args.at_most(1, usage)?;
            let client = args.get("client").map(|text| parse_number(text, "client")).transpose()?.unwrap_or(1);
            let at = args.get("at").map(|text| parse_member(text, "at")).transpose()?;
            Ok(Command::Get { key: String::from(*key), client, at })
        }
        "cmd" => {
            let mut client = 1;
            let mut words = Vec::new();
            for token in rest {
                match token.strip_prefix("client=") {
                    Some(text) => client = parse_number(text, "client")?,
                    None => words.push(String::from(*token)),
                }
            }
            if words.is_empty() {
                return Err(String::from("cmd needs a command: `cmd WORD... [client=C]`"));
            }
            Ok(Command::Cmd { words, client })
        }
        "crash" | "isolate" => {
            let usage = format!("`{name} R`");
            let member = one_member(name, rest, &usage)?;
            Ok(if name == "crash" { Command::Crash(member) } else { Command::Isolate(member) })
        }
        "restart" => {
            let usage = "`restart R [binary=X.Y.Z]`";
            let args = Args::split(rest, &["binary"], usage)?;
            let Some(member) = args.positional.first() else {
                return Err(format!("restart needs a member: {usage}"));
            };
            args.at_most(1, usage)?;
            let member = parse_member(member, "restart's member")?;
            let binary = args.get("binary").map(|text| parse_release(text, "binary")).transpose()?;
            Ok(Command::Restart { member, binary })
        }
        "partition" => parse_partition(rest),
        "block" | "unblock" => {
            let usage = format!("`{name} A->B`, like `{name} 0->2`");
            if let Some(token) = rest.iter().find(|token| token.contains('=')) {
                return Err(format!("unexpected '{token}': {usage}"));
            }
            let joined = rest.join(" ");
            let Some((from, to)) = joined.split_once("->") else {
                return Err(format!("{name} needs {usage}"));
            };
            let from = parse_member(from.trim(), &format!("{name}'s A"))?;
            let to = parse_member(to.trim(), &format!("{name}'s B"))?;
            Ok(if name == "block" { Command::Block { from, to } } else { Command::Unblock { from, to } })
        }
        "heal" => {
            let usage = "`heal` takes no arguments";
            Args::split(rest, &[], usage)?.at_most(0, usage)?;
            Ok(Command::Heal)
        }
        "net" => {
            let usage = "`net [loss=P] [dup=P] [delay=MIN..MAX]`";
            let args = Args::split(rest, &["loss", "dup", "delay"], usage)?;
            args.at_most(0, usage)?;
            if args.named.is_empty() {
                return Err(String::from("net needs at least one of loss=P, dup=P, delay=MIN..MAX"));
            }
            let loss_ppm = args.get("loss").map(parse_probability).transpose()?;
            let dup_ppm = args.get("dup").map(parse_probability).transpose()?;
            let delay_ticks = args.get("delay").map(parse_delay).transpose()?;
            Ok(Command::Net { loss_ppm, dup_ppm, delay_ticks })
        }
        "corrupt" => {
            let usage = "`corrupt R op=N`";
            let args = Args::split(rest, &["op"], usage)?;
            let Some(member) = args.positional.first() else {
                return Err(format!("corrupt needs a member and op=N: {usage}"));
            };
            args.at_most(1, usage)?;
            let member = parse_member(member, "corrupt's member")?;
            let Some(op) = args.get("op") else {
                return Err(format!("corrupt needs op=N, the op to damage: {usage}"));
            };
            Ok(Command::Corrupt { member, op: parse_number(op, "op")? })
        }
        "upgrade" => parse_upgrade(rest),
        "promote" => {
            let usage = "`promote S [replace=R]`";
            let args = Args::split(rest, &["replace"], usage)?;
            let Some(standby) = args.positional.first() else {
                return Err(format!("promote needs a standby: {usage}"));
            };
            args.at_most(1, usage)?;
            let standby = parse_member(standby, "promote's standby")?;
            let replace = args.get("replace").map(|text| parse_member(text, "replace")).transpose()?;
            Ok(Command::Promote { standby, replace })
        }
        _ => Err(format!("unknown command '{name}'")),
    }
}

fn one_member(name: &str, rest: &[&str], usage: &str) -> Result<u8, String> {
    let args = Args::split(rest, &[], usage)?;
    let Some(member) = args.positional.first() else {
        return Err(format!("{name} needs a member: {usage}"));
    };
    args.at_most(1, usage)?;
    parse_member(member, &format!("{name}'s member"))
}

/// `until SUBJECT OP VALUE within N`.
fn parse_until(rest: &[&str]) -> Result<Command, String> {
    let usage = "`until SUBJECT OP VALUE within N`";
    let count = rest.len();
    if count >= 2 && rest[count - 2] == "within" {
        let condition = parse_condition(&rest[..count - 2], "until")?;
        let within_ticks = parse_number(rest[count - 1], "within")?;
        return Ok(Command::Until { condition, within_ticks });
    }
    if rest.last() == Some(&"within") {
        return Err(format!("until needs a number of ticks after within: {usage}"));
    }
    if let Some(token) = rest.iter().find(|token| token.starts_with("within=")) {
        return Err(format!("write `within N` with a space, not '{token}': {usage}"));
    }
    if rest.contains(&"within") {
        let after = rest.iter().skip_while(|token| **token != "within").nth(2).copied().unwrap_or("");
        return Err(format!("unexpected '{after}' after within's number: {usage}"));
    }
    Err(format!("until needs `within N` after its condition: {usage}"))
}

/// `SUBJECT OP VALUE`, three tokens. `command` names the caller in errors.
fn parse_condition(tokens: &[&str], command: &str) -> Result<Condition, String> {
    let is_op_char = |c: char| matches!(c, '=' | '!' | '<' | '>');
    let glued = tokens.len() != 3 || tokens[0].contains(is_op_char);
    if glued {
        if let Some(spaced) = respace_condition(tokens) {
            return Err(format!("put spaces around the operator: `{spaced}`"));
        }
        return Err(match tokens.get(3) {
            None => format!("{command} needs SUBJECT OP VALUE, like `commit[0] >= 1`"),
            Some(extra) => {
                format!("unexpected '{extra}': a condition is SUBJECT OP VALUE, each one token")
            }
        });
    }
    let subject = parse_subject(tokens[0])?;
    let Some(op) = CompareOp::from_symbol(tokens[1]) else {
        if let Some(spaced) = respace_condition(tokens) {
            return Err(format!("put spaces around the operator: `{spaced}`"));
        }
        if tokens[1] == "==" {
            return Err(format!("unknown compare operator '==': write '=' (operators: {OPERATORS})"));
        }
        return Err(format!("unknown compare operator '{}' (operators: {OPERATORS})", tokens[1]));
    };
    Ok(Condition { subject, op, value: String::from(tokens[2]) })
}

/// For a condition written without spaces around its operator (`commit[0]>=1`),
/// the same condition with them, if that reads as one.
fn respace_condition(tokens: &[&str]) -> Option<String> {
    let joined = tokens.join(" ");
    let is_op_char = |c: char| matches!(c, '=' | '!' | '<' | '>');
    let start = joined.find(is_op_char)?;
    let end = joined[start..].find(|c: char| !is_op_char(c)).map_or(joined.len(), |len| start + len);
    let (subject, op, value) = (joined[..start].trim(), &joined[start..end], joined[end..].trim());
    let one_token = |text: &str| !text.is_empty() && !text.contains(' ');
    if CompareOp::from_symbol(op).is_none() || !one_token(subject) || !one_token(value) {
        return None;
    }
    let spaced = format!("{subject} {op} {value}");
    // Only a suggestion that differs from what was written.
    (spaced != joined).then_some(spaced)
}

fn parse_member_ref(index: &str, name: &str) -> Result<MemberRef, String> {
    if index == "*" {
        return Ok(MemberRef::All);
    }
    parse_member(index, &format!("{name}[R]'s R")).map(MemberRef::One)
}

/// `cluster-release`, `commit[2]`, `commit[*]`, `feature[standby_reads]`, ...
pub fn parse_subject(token: &str) -> Result<Subject, String> {
    let (name, index) = match token.find('[') {
        None => (token, None),
        Some(open) => {
            let Some(index) = token[open + 1..].strip_suffix(']') else {
                return Err(format!("subject '{token}' lacks its closing ']'"));
            };
            (&token[..open], Some(index).filter(|index| !index.is_empty()))
        }
    };
    let per_member: Option<fn(MemberRef) -> Subject> = match name {
        "commit" => Some(Subject::Commit),
        "status" => Some(Subject::Status),
        "role" => Some(Subject::Role),
        "binary" => Some(Subject::Binary),
        "lag" => Some(Subject::Lag),
        "health" => Some(Subject::Health),
        "promotable" => Some(Subject::Promotable),
        _ => None,
    };
    if let Some(subject) = per_member {
        let Some(index) = index else {
            return Err(format!("{name} needs a member: {name}[R], or {name}[*] for every member up"));
        };
        return parse_member_ref(index, name).map(subject);
    }
    let plain = match name {
        "cluster-release" => Some(Subject::ClusterRelease),
        "upgrade-target" => Some(Subject::UpgradeTarget),
        "primary" => Some(Subject::Primary),
        "view" => Some(Subject::View),
        "replicas" => Some(Subject::Replicas),
        "standbys" => Some(Subject::Standbys),
        "error" => Some(Subject::Error),
        "violations" => Some(Subject::Violations),
        _ => None,
    };
    if let Some(subject) = plain {
        return match index {
            None if token.len() == name.len() => Ok(subject),
            _ => Err(format!("subject {name} takes no [index]: write '{name}'")),
        };
    }
    match name {
        "feature" => {
            let features = || Feature::ALL.map(Feature::name).join(", ");
            let Some(index) = index else {
                return Err(format!("feature needs a name: feature[NAME], NAME one of {}", features()));
            };
            Feature::from_name(index)
                .map(Subject::Feature)
                .ok_or_else(|| format!("unknown feature '{index}' (features: {})", features()))
        }
        "reply" => match index {
            None => Err(String::from("reply needs a client number: reply[C], like reply[1]")),
            Some("*") => Err(String::from("reply takes one client number, like reply[1], not [*]")),
            Some(index) => parse_number(index, "reply[C]'s C").map(Subject::Reply),
        },
        _ => Err(format!("unknown subject '{token}' (subjects: {SUBJECTS})")),
    }
}

/// `upgrade propose to=X.Y.Z`, `upgrade cancel`, `upgrade auto=on|off`.
fn parse_upgrade(rest: &[&str]) -> Result<Command, String> {
    let usage = "upgrade takes `propose to=X.Y.Z`, `cancel` or `auto=on|off`";
    let Some(&first) = rest.first() else {
        return Err(format!("upgrade needs what to do: {usage}"));
    };
    match first {
        "propose" => {
            let usage = "`upgrade propose to=X.Y.Z`";
            let args = Args::split(&rest[1..], &["to"], usage)?;
            if let Some(word) = args.positional.first() {
                return Err(format!("unexpected '{word}': {usage}"));
            }
            let Some(to) = args.get("to") else {
                return Err(format!("upgrade propose needs to=X.Y.Z: {usage}"));
            };
            Ok(Command::UpgradePropose { to: parse_release(to, "to")? })
        }
        "cancel" => match rest.get(1) {
            Some(extra) => Err(format!("unexpected '{extra}': `upgrade cancel` takes no arguments")),
            None => Ok(Command::UpgradeCancel),
        },
        "auto" => Err(String::from("write `upgrade auto=on` or `upgrade auto=off`")),
        _ => match first.strip_prefix("auto=") {
            Some(setting) => {
                if let Some(extra) = rest.get(1) {
                    return Err(format!("unexpected '{extra}': `upgrade auto=on|off` takes nothing more"));
                }
                match setting {
                    "on" => Ok(Command::UpgradeAuto(true)),
                    "off" => Ok(Command::UpgradeAuto(false)),
                    _ => Err(format!("upgrade auto is on or off, not '{setting}'")),
                }
            }
            None => Err(format!("unknown upgrade action '{first}': {usage}")),
        },
    }
}

/// `partition A,B | C,D [| ...]`: groups separated by `|` (spaces around it
/// optional), members within a group by commas.
fn parse_partition(rest: &[&str]) -> Result<Command, String> {
    let usage = "`partition A,B | C,D [| ...]`, like `partition 0,1 | 2`";
    if rest.is_empty() {
        return Err(format!("partition needs groups: {usage}"));
    }
    if let Some(token) = rest.iter().find(|token| token.contains('=')) {
        return Err(format!("unexpected '{token}': {usage}"));
    }
    let joined = rest.join(" ");
    let mut groups: Vec<Vec<u8>> = Vec::new();
    let mut seen = [false; 256];
    for group_text in joined.split('|') {
        let group_text = group_text.trim();
        if group_text.is_empty() {
            return Err(format!("partition has an empty group: {usage}"));
        }
        let mut group = Vec::new();
        for member_text in group_text.split(',') {
            let member_text = member_text.trim();
            if member_text.is_empty() {
                return Err(format!("partition group '{group_text}' has an empty member: {usage}"));
            }
            if member_text.contains([' ', '\t']) {
                return Err(format!(
                    "partition group '{group_text}': members of a group are separated by commas, groups by '|': {usage}"
                ));
            }
            let member = parse_member(member_text, "a partition's member")?;
            if core::mem::replace(&mut seen[usize::from(member)], true) {
                return Err(format!("partition names member {member} twice: each member is in one group at most"));
            }
            group.push(member);
        }
        groups.push(group);
    }
    Ok(Command::Partition(groups))
}

#[cfg(test)]
mod tests;
