//! The real-process (chaos) test: `viewstamp start` processes on loopback, clients
//! writing and reading over RESP, a nemesis breaking processes, links and disks on a
//! seeded schedule, and a linearizability checker of its own over what the clients saw.
//!
//! Nothing here uses the node's or the core's code: it talks to the binary as an
//! operator and a Redis client would, so that a bug shared by both cannot hide.

pub mod admin;
pub mod cluster;
pub mod disk;
pub mod fullfs;
pub mod nemesis;
pub mod proxy;
pub mod registers;
pub mod report;
pub mod resp;
pub mod rng;
pub mod run;
pub mod timeline;
pub mod workload;
