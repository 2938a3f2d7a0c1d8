//! The archived releases this binary carries (`releases/<version>/`, each a past
//! release's core compiled to wasm), run as simulator members: the [`ArchiveHost`]
//! that `viewstamp replay` and the golden tests hand the simulator, natively and (via
//! the replay module's imports) in wasm alike, so both engines run the same old code.

use std::collections::BTreeMap;

use viewstamp_core::release::Release;
use viewstamp_core::sim::archive::ArchiveHost;

use super::member::{MemberEngine, MemberError, WasmMember};
use super::WasmError;

/// Every archived release whose module this binary embeds, oldest first.
pub const ARCHIVED: &[(Release, &[u8])] =
    &[(Release::new(1, 3, 0), include_bytes!("../../../releases/1.3.0/viewstamp-core-1.3.0.wasm"))];

/// Members of archived releases, each in a wasmtime instance of its own.
#[derive(Default)]
pub struct WasmArchive {
    members: BTreeMap<u32, WasmMember>,
    next_handle: u32,
}

impl WasmArchive {
    pub fn new() -> Self {
        Self::default()
    }

    fn add(&mut self, member: WasmMember) -> u32 {
        self.next_handle += 1;
        self.members.insert(self.next_handle, member);
        self.next_handle
    }

    fn member(&mut self, handle: u32) -> Result<&mut WasmMember, String> {
        self.members.get_mut(&handle).ok_or_else(|| format!("the archive holds no member {handle}"))
    }
}

impl ArchiveHost for WasmArchive {
    fn releases(&mut self) -> Vec<Release> {
        ARCHIVED.iter().map(|(release, _)| *release).collect()
    }

    fn create(&mut self, release: Release, config: &[u8]) -> Result<u32, String> {
        let (_, module) = ARCHIVED
            .iter()
            .find(|(archived, _)| *archived == release)
            .ok_or_else(|| format!("this binary carries no archived release {release}"))?;
        let member = WasmMember::from_module_bytes(module, config).map_err(|error| describe(&error))?;
        Ok(self.add(member))
    }

    fn input(&mut self, handle: u32, input: &[u8]) -> Result<Vec<u8>, String> {
        self.member(handle)?.input_bytes(input).map_err(|error| describe(&error))
    }

    fn duplicate(&mut self, handle: u32) -> Result<u32, String> {
        let copy = self.member(handle)?.duplicate().map_err(|error| describe(&error))?;
        Ok(self.add(copy))
    }

    fn forget(&mut self, handle: u32) {
        self.members.remove(&handle);
    }
}

/// A member error in words, for the simulator's panic message.
pub fn describe(error: &MemberError) -> String {
    match error {
        MemberError::Refused(why) => format!("the module refused the member: {why:?}"),
        MemberError::NoMember { handle } => format!("the module has no member {handle}"),
        MemberError::Malformed(why) => format!("the module could not read an input: {why}"),
        MemberError::Wasm(WasmError::NotBuilt(why)) => format!("no wasm engine: {why}"),
        MemberError::Wasm(WasmError::Broken(why)) => format!("the module broke the ABI: {why}"),
        MemberError::Wasm(WasmError::TimedOut { limit }) => format!("a call ran past {limit:?}"),
        MemberError::Wasm(WasmError::Trapped(why)) => format!("the archived core trapped: {why}"),
    }
}
