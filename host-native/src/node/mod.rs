//! A production node: the core's replica driven by tokio, with durable storage, peers
//! over TCP, and a client port that speaks RESP.
// The pieces land one by one before the node loop wires them together.
#![allow(dead_code)]

pub mod config;
pub mod resp;
pub mod snapshot;
pub mod storage;
pub mod transport;
