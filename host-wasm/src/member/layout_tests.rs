//! Member ABI version 1 carries core types as they are (`Durable`, `Persist`, `Applied`,
//! ...), and with them every type inside them (`Entry`, `CheckpointData`, `Release`,
//! ...): their postcard bytes are part of version 1. This pins them, one
//! representative value of each type and each enum variant against golden bytes.
//!
//! IF THIS FAILS, THE CHANGE BROKE MEMBER ABI V1: a module archived from an older
//! release (releases/) and a host built from this commit no longer read each other's
//! bytes. Do not change these golden bytes. Mirror the old type in the ABI instead (as
//! `options.rs` does for `Options` with `MemberOptions`), converting to and from the
//! core type at the boundary, and put the new layout in a new ABI version
//! (docs/member-abi.md, "Core types in the envelope").

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use serde::Serialize;

use viewstamp_core::message::{Body, CheckpointData, Entry, Header, Reconfiguration, Request, Slot};
use viewstamp_core::release::{Release, Stage};
use viewstamp_core::replica::membership::{ConfigChange, ConfigState, Membership, PromotionEvent};
use viewstamp_core::replica::{
    Applied, AppliedRequest, Destination, Durable, Persist, RequestDrop, RequestOutcome, StoredEntry, Superblock, Write,
};
use viewstamp_core::upgrade::{UpgradeCommand, UpgradeEvent, UpgradeEventKind, UpgradeState};

use super::envelope::to_bytes;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| alloc::format!("{byte:02x}")).collect()
}

/// Collects every mismatch, so one run shows them all.
#[derive(Default)]
struct Golden {
    mismatches: Vec<String>,
}

impl Golden {
    fn check<T: Serialize>(&mut self, name: &str, value: &T, golden: &str) {
        let actual = hex(&to_bytes(value));
        if actual != golden {
            self.mismatches.push(alloc::format!("{name}: golden {golden}, now {actual}"));
        }
    }
}

const R1_2_0: Release = Release::new(1, 2, 0);
const RC: Release = Release { major: 1, minor: 4, patch: 0, stage: Stage::Rc, stage_number: 2 };

fn header(op: u64) -> Header {
    Header { op, view: 2, parent: 300, checksum: u64::MAX }
}

fn request() -> Request {
    Request { client: 7, session: 1, request: 3, operation: vec![0xaa, 0xbb] }
}

fn membership() -> Membership {
    Membership::initial(3, 1)
}

fn reconfiguration() -> Reconfiguration {
    Reconfiguration { promoted: 3, replaced: Some(1), membership: membership() }
}

fn superblock() -> Superblock {
    Superblock { view: 4, log_view: 3, log_start: 128, release: R1_2_0 }
}

fn checkpoint() -> CheckpointData {
    let upgrade = UpgradeState {
        release: R1_2_0,
        target: Some(RC),
        auto: false,
        history: vec![
            UpgradeEvent { op: 1, kind: UpgradeEventKind::Proposed(RC) },
            UpgradeEvent { op: 2, kind: UpgradeEventKind::Cancelled(RC) },
            UpgradeEvent { op: 3, kind: UpgradeEventKind::AutoSet(true) },
            UpgradeEvent { op: 4, kind: UpgradeEventKind::Committed(Release::new(1, 1, 0), R1_2_0) },
        ],
    };
    let config = ConfigState {
        membership: membership(),
        last_change: Some(ConfigChange { op: 5, checksum: 6, view: 1, previous: Membership::initial(2, 2) }),
        promotions: vec![PromotionEvent { op: 5, promoted: 3, replaced: None }],
    };
    CheckpointData { op: 8, last_header: header(8), upgrade, config, state: vec![1, 2], sessions: vec![3] }
}

#[test]
fn member_abi_v1_core_type_layouts_are_pinned() {
    let mut golden = Golden::default();

    // Release and its stages.
    golden.check("Release 1.2.0", &R1_2_0, "0102000300");
    golden.check("Release 1.4.0-rc.2", &RC, "0104000202");
    for (stage, bytes) in [(Stage::Alpha, "00"), (Stage::Beta, "01"), (Stage::Rc, "02"), (Stage::Stable, "03")] {
        golden.check(&alloc::format!("Stage::{stage:?}"), &stage, bytes);
    }

    // Log entries, as Write::Entry, StoredEntry and Slot carry them.
    golden.check("Header", &header(1), "0102ac02ffffffffffffffffff01");
    golden.check("Request", &request(), "07010302aabb");
    golden.check("Body::Requests", &Body::Requests(vec![request()]), "000107010302aabb");
    golden.check("Body::Upgrade", &Body::Upgrade { release: RC }, "010104000202");
    golden.check("Body::UpgradeControl", &Body::UpgradeControl(UpgradeCommand::Cancel), "0201");
    golden.check("Body::Reconfigure", &Body::Reconfigure(reconfiguration()), "0303010103000102010300");
    golden.check(
        "Entry",
        &Entry { header: header(1), body: Body::Requests(vec![request()]) },
        "0102ac02ffffffffffffffffff01000107010302aabb",
    );
    golden.check(
        "Slot with a body",
        &Slot { header: header(2), body: Some(Body::Upgrade { release: R1_2_0 }) },
        "0202ac02ffffffffffffffffff0101010102000300",
    );
    golden.check("Slot without", &Slot { header: header(2), body: None }, "0202ac02ffffffffffffffffff0100");
    golden.check("Membership", &membership(), "03000102010300");
    golden.check("Reconfiguration", &reconfiguration(), "03010103000102010300");

    // Durable state, as Start::Open carries it.
    golden.check("Superblock", &superblock(), "040380010102000300");
    golden.check("CheckpointData", &checkpoint(), "080802ac02ffffffffffffffffff01010200030001010400020200040100010400020202010104000202030201040301010003000102000300030001020103000105060102000102020300010503000201020103");
    golden.check(
        "StoredEntry::Intact",
        &StoredEntry::Intact(Entry { header: header(9), body: Body::Requests(vec![]) }),
        "000902ac02ffffffffffffffffff010000",
    );
    golden.check("StoredEntry::Damaged", &StoredEntry::Damaged(header(10)), "010a02ac02ffffffffffffffffff01");
    let durable = Durable {
        superblock: Some(superblock()),
        checkpoint: Some(checkpoint()),
        entries: vec![StoredEntry::Damaged(header(9))],
    };
    golden.check("Durable", &durable, "0104038001010200030001080802ac02ffffffffffffffffff0101020003000101040002020004010001040002020201010400020203020104030101000300010200030003000102010300010506010200010202030001050300020102010301010902ac02ffffffffffffffffff01");
    golden.check("Durable, lost", &Durable { superblock: None, checkpoint: None, entries: vec![] }, "000000");

    // Writes, as Output.persists carries them.
    let writes = [
        (
            "Write::Entry",
            Write::Entry(Entry { header: header(1), body: Body::UpgradeControl(UpgradeCommand::Auto(true)) }),
            "000102ac02ffffffffffffffffff01020201",
        ),
        ("Write::Superblock", Write::Superblock(superblock()), "01040380010102000300"),
        (
            "Write::Install",
            Write::Install {
                superblock: superblock(),
                truncate_after: 129,
                slots: vec![Slot { header: header(129), body: None }],
            },
            "02040380010102000300810101810102ac02ffffffffffffffffff0100",
        ),
        (
            "Write::Checkpoint",
            Write::Checkpoint { data: checkpoint(), retain_from: 9 },
            "03080802ac02ffffffffffffffffff0101020003000101040002020004010001040002020201010400020203020104030101000300010200030003000102010300010506010200010202030001050300020102010309",
        ),
        ("Write::Verify", Write::Verify { op: 130, checksum: 1 }, "04820101"),
    ];
    for (name, write, bytes) in writes {
        golden.check(name, &write, bytes);
    }
    golden.check("Persist", &Persist { id: 300, write: Write::Verify { op: 1, checksum: 2 } }, "ac02040102");

    // What Output.applied carries.
    let applied_request =
        AppliedRequest { client: 7, request: 3, operation: vec![0xaa], result: vec![0xbb, 0xcc], fresh: true };
    golden.check("AppliedRequest", &applied_request, "070301aa02bbcc01");
    let applied = Applied {
        op: 5,
        checksum: 6,
        requests: vec![applied_request],
        digest: 1 << 40,
        release: R1_2_0,
        membership_digest: 8,
        reconfiguration: Some(membership()),
    };
    golden.check("Applied", &applied, "050601070301aa02bbcc018080808080200102000300080103000102010300");
    let applied = Applied { requests: vec![], reconfiguration: None, ..applied };
    golden.check("Applied, no requests", &applied, "05060080808080802001020003000800");

    // Outbound.to, Outcome::Request and Event::Upgrade.
    golden.check("Destination::Member", &Destination::Member(2), "0002");
    golden.check("Destination::Client", &Destination::Client(300), "01ac02");
    golden.check("RequestOutcome::Queued", &RequestOutcome::Queued, "00");
    golden.check("RequestOutcome::Answered", &RequestOutcome::Answered, "01");
    golden.check("RequestOutcome::InProgress", &RequestOutcome::InProgress, "02");
    let drops = [
        (RequestDrop::NotPrimary, "0300"),
        (RequestDrop::CatchingUp, "0301"),
        (RequestDrop::Superseded, "0302"),
        (RequestDrop::QueueFull, "0303"),
        (RequestDrop::Halted, "0304"),
    ];
    for (drop, bytes) in drops {
        golden.check(&alloc::format!("RequestOutcome::Dropped({drop:?})"), &RequestOutcome::Dropped(drop), bytes);
    }
    golden.check("UpgradeCommand::Propose", &UpgradeCommand::Propose(RC), "000104000202");
    golden.check("UpgradeCommand::Cancel", &UpgradeCommand::Cancel, "01");
    golden.check("UpgradeCommand::Auto", &UpgradeCommand::Auto(false), "0200");

    assert!(
        golden.mismatches.is_empty(),
        "member ABI v1's bytes changed: mirror the old types in the ABI instead (see this file's header):\n{}",
        golden.mismatches.join("\n")
    );
}
