//! The members one module holds, and the ABI's calls on them, bytes in and bytes out:
//! the raw exports (`member_abi.rs`) and native hosts call exactly these, so the two
//! engines answer the same bytes.

use alloc::string::String;
use alloc::vec::Vec;

use super::envelope::{decode_config, from_exact_bytes, to_bytes, CreateReply, Input, InputReply};
use super::instance::Member;

/// Members by handle: handle `n` is slot `n - 1`. Slots are never reused, so a stale
/// handle finds nothing rather than another member.
#[derive(Default)]
pub struct Members {
    slots: Vec<Option<Member>>,
}

impl Members {
    pub const fn new() -> Self {
        Self { slots: Vec::new() }
    }

    /// `create`: `abi_version` and a `Config` in, a postcard `CreateReply` out.
    pub fn create(&mut self, config: &[u8]) -> Vec<u8> {
        let reply = match decode_config(config).and_then(Member::create) {
            Ok(member) => {
                self.slots.push(Some(member));
                let handle = u32::try_from(self.slots.len()).expect("fewer than 4 billion members");
                CreateReply::Created { handle }
            }
            Err(error) => CreateReply::Refused(error),
        };
        to_bytes(&reply)
    }

    /// `input`: a postcard `Input` in, a postcard `InputReply` out.
    pub fn input(&mut self, handle: u32, input: &[u8]) -> Vec<u8> {
        let reply = match self.slot(handle) {
            None => InputReply::NoMember { handle },
            Some(member) => match from_exact_bytes::<Input>(input) {
                Ok(input) => InputReply::Output(member.input(input)),
                Err(why) => InputReply::Malformed(String::from("not an Input: ") + &why),
            },
        };
        to_bytes(&reply)
    }

    /// `drop`: forget a member; false when there was none.
    pub fn remove(&mut self, handle: u32) -> bool {
        let index = (handle as usize).wrapping_sub(1);
        self.slots.get_mut(index).and_then(Option::take).is_some()
    }

    fn slot(&mut self, handle: u32) -> Option<&mut Member> {
        let index = (handle as usize).checked_sub(1)?;
        self.slots.get_mut(index)?.as_mut()
    }
}
