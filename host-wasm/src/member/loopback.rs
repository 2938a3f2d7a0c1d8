//! A tiny deterministic cluster for driving members through the ABI: every frame is
//! delivered and every write completed as soon as it is emitted, in order, and when
//! nothing is queued the earliest timeout fires. The members themselves sit behind a
//! `step` callback, so the same run can go to either engine, or to both at once.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use viewstamp_core::message::{Message, Reply, Request};
use viewstamp_core::replica::Destination;
use viewstamp_core::types::Tick;
use viewstamp_core::wire;

use super::envelope::{from_exact_bytes, to_bytes, Event, Input, InputReply, Outcome, Output, Summary};

/// Hands member `index` one `Input`'s bytes and returns its `InputReply`'s bytes.
pub type Step<'a> = dyn FnMut(usize, &[u8]) -> Vec<u8> + 'a;

/// Past this many inputs a run is taken to be stuck in a loop.
const INPUTS_MAX: u64 = 10_000_000;

pub struct Loopback {
    cluster: u64,
    now: Tick,
    queue: VecDeque<(usize, Event)>,
    timeouts: Vec<Option<Tick>>,
    /// Each member's summary after its latest input.
    pub summaries: Vec<Option<Summary>>,
    /// Every reply sent to a client, in order.
    pub replies: Vec<Reply>,
    /// Every outcome other than `Done`, with its member.
    pub outcomes: Vec<(usize, Outcome)>,
    pub inputs: u64,
}

impl Loopback {
    /// `members` members of `cluster`, each first polled at tick 0.
    pub fn new(cluster: u64, members: usize) -> Self {
        Self {
            cluster,
            now: 0,
            queue: (0..members).map(|member| (member, Event::Poll)).collect(),
            timeouts: alloc::vec![None; members],
            summaries: alloc::vec![None; members],
            replies: Vec::new(),
            outcomes: Vec::new(),
            inputs: 0,
        }
    }

    pub fn now(&self) -> Tick {
        self.now
    }

    /// A client request, handed to `member` by its host.
    pub fn submit(&mut self, member: usize, request: Request) {
        self.queue.push_back((member, Event::Request(wire::encode(self.cluster, &Message::Request(request)))));
    }

    /// Any other input, queued behind what is already queued.
    pub fn push(&mut self, member: usize, event: Event) {
        self.queue.push_back((member, event));
    }

    /// Feed inputs until `done` holds (true) or nothing is left before tick `until`.
    pub fn run(&mut self, until: Tick, step: &mut Step<'_>, done: impl Fn(&Loopback) -> bool) -> bool {
        while !done(self) {
            let Some((member, event)) = self.next(until) else { return false };
            self.inputs += 1;
            assert!(self.inputs < INPUTS_MAX, "the loopback cluster looped for {INPUTS_MAX} inputs");
            let reply = step(member, &to_bytes(&Input { now: self.now, event }));
            match from_exact_bytes::<InputReply>(&reply) {
                Ok(InputReply::Output(output)) => self.take(member, output),
                other => panic!("member {member} did not take its input: {other:?}"),
            }
        }
        true
    }

    fn next(&mut self, until: Tick) -> Option<(usize, Event)> {
        if let Some(queued) = self.queue.pop_front() {
            return Some(queued);
        }
        let (member, at) = (self.timeouts.iter().enumerate())
            .filter_map(|(member, at)| at.map(|at| (member, at)))
            .min_by_key(|&(member, at)| (at, member))?;
        if at > until {
            return None;
        }
        self.now = self.now.max(at);
        self.timeouts[member] = None;
        Some((member, Event::Timeout))
    }

    fn take(&mut self, member: usize, output: Output) {
        assert!(output.unsendable.is_empty(), "member {member} could not send {:?}", output.unsendable);
        if output.outcome != Outcome::Done {
            self.outcomes.push((member, output.outcome));
        }
        for outbound in output.sends {
            match outbound.to {
                Destination::Member(to) => self.queue.push_back((to as usize, Event::Message(outbound.frame))),
                Destination::Client(_) => match wire::decode(self.cluster, &outbound.frame) {
                    Ok((Message::Reply(reply), _)) => self.replies.push(reply),
                    other => panic!("member {member} sent a client something else: {other:?}"),
                },
            }
        }
        for persist in output.persists {
            self.queue.push_back((member, Event::Persisted { id: persist.id }));
        }
        self.timeouts[member] = output.timeout;
        self.summaries[member] = Some(output.summary);
    }
}
