//! The scenario language of `../shared/spec/scenario.md`: its syntax tree, parser,
//! formatter, and the runner shared by every host.

pub mod ast;
pub mod commands;
pub mod format;
pub mod parse;
pub mod run;

pub use ast::{Command, CompareOp, Condition, Header, Line, MemberRef, Script, Subject};
pub use parse::{parse_line, parse_script, ParseError, ParsedLine};
