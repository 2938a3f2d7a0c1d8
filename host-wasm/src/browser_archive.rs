//! The browser's archive: members of archived releases run in WebAssembly instances
//! that JS creates from the modules in `releases/` (web-visualizer/js/archive.js), so
//! a page steps the real 1.3.0 code next to the current core. The simulator reaches
//! them through [`ArchiveHost`], as it reaches wasmtime's natively.

use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use viewstamp_core::release::Release;
use viewstamp_core::sim::archive::{ArchiveHost, SharedArchive};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const ARCHIVE_HOST_TS: &str = r#"
/** Runs members of archived releases behind the member ABI (docs/member-abi.md);
 * web-visualizer/js/archive.js builds one from the modules in releases/. Each call
 * throws an Error when it cannot do what it is asked. */
export interface ArchiveHost {
  /** The releases it runs the real code of, as `X.Y.Z`. */
  releases(): string[];
  /** A member of `release`'s module from `config` (`member_create`'s argument); its handle. */
  create(release: string, config: Uint8Array): number;
  /** One `Input` to member `handle`; its `InputReply`. */
  input(handle: number, input: Uint8Array): Uint8Array;
  /** An independent copy of member `handle` as it is now; the copy's handle. */
  duplicate(handle: number): number;
  forget(handle: number): void;
}"#;

#[wasm_bindgen]
extern "C" {
    /// A JS object with the methods of the `ArchiveHost` interface above.
    #[wasm_bindgen(typescript_type = "ArchiveHost")]
    pub type JsArchiveHost;

    #[wasm_bindgen(method, catch)]
    fn releases(this: &JsArchiveHost) -> Result<Vec<String>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn create(this: &JsArchiveHost, release: &str, config: &[u8]) -> Result<u32, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn input(this: &JsArchiveHost, handle: u32, input: &[u8]) -> Result<Vec<u8>, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn duplicate(this: &JsArchiveHost, handle: u32) -> Result<u32, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn forget(this: &JsArchiveHost, handle: u32) -> Result<(), JsValue>;

    /// JS's `String(value)`: `Error: why` for a thrown Error.
    #[wasm_bindgen(js_name = String)]
    fn js_string(value: &JsValue) -> String;
}

/// A JS archive host, with the releases it named when it was handed over.
struct JsArchive {
    host: JsArchiveHost,
    releases: Vec<Release>,
}

/// The archive a session runs with: `host`'s releases checked once, up front, so a
/// host that names no real release is refused before anything runs.
pub fn shared(host: JsArchiveHost) -> Result<SharedArchive, String> {
    let names = host.releases().map_err(|error| format!("the archive's releases() failed: {}", js_string(&error)))?;
    let mut releases = Vec::new();
    for name in names {
        let release: Release = name
            .parse()
            .map_err(|error| format!("the archive names release '{name}', which is no release: {error:?}"))?;
        if !viewstamp_core::release::is_known_release(release) {
            return Err(format!("the archive names release {release}, which this build does not know"));
        }
        releases.push(release);
    }
    releases.sort();
    Ok(Rc::new(RefCell::new(JsArchive { host, releases })))
}

fn failed(call: &str, error: &JsValue) -> String {
    format!("the browser archive's {call} failed: {}", js_string(error))
}

impl ArchiveHost for JsArchive {
    fn releases(&mut self) -> Vec<Release> {
        self.releases.clone()
    }

    fn create(&mut self, release: Release, config: &[u8]) -> Result<u32, String> {
        self.host.create(&release.to_string(), config).map_err(|error| failed("create", &error))
    }

    fn input(&mut self, handle: u32, input: &[u8]) -> Result<Vec<u8>, String> {
        self.host.input(handle, input).map_err(|error| failed("input", &error))
    }

    fn duplicate(&mut self, handle: u32) -> Result<u32, String> {
        self.host.duplicate(handle).map_err(|error| failed("duplicate", &error))
    }

    fn forget(&mut self, handle: u32) {
        // Nothing to do about a host that cannot forget: the member is gone for us.
        let _ = self.host.forget(handle);
    }
}
