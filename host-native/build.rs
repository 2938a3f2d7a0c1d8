//! Builds the wasm replay module (host-wasm, feature `replay-abi`, for
//! wasm32-unknown-unknown) so that `viewstamp replay --engine wasm` embeds it.
//!
//! A missing wasm32 target or a failed wasm build does not fail this build: the binary
//! then embeds nothing, and `--engine wasm` says why and how to fix it
//! (`VIEWSTAMP_WASM_MISSING`). `VIEWSTAMP_SKIP_WASM=1` skips the wasm build on purpose.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-unknown-unknown";
const MODULE_FILE: &str = "viewstamp_replay.wasm";

/// Variables the outer cargo sets that would point the nested build somewhere else,
/// give it host or instrumentation flags, or run clippy on it.
const INHERITED_TO_CLEAR: &[&str] = &[
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_PRIMARY_PACKAGE",
];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let workspace = manifest_dir.parent().expect("host-native sits in the workspace").to_path_buf();
    for path in ["core/src", "core/Cargo.toml", "host-wasm/src", "host-wasm/Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=VIEWSTAMP_SKIP_WASM");
    println!("cargo::rustc-check-cfg=cfg(viewstamp_wasm_built)");

    let missing = match build_module(&workspace, &out_dir) {
        Ok(()) => {
            println!("cargo:rustc-cfg=viewstamp_wasm_built");
            String::new()
        }
        Err(reason) => {
            println!("cargo:warning=the wasm replay engine is not embedded: {reason}");
            reason
        }
    };
    println!("cargo:rustc-env=VIEWSTAMP_WASM_MISSING={missing}");
}

fn build_module(workspace: &Path, out_dir: &Path) -> Result<(), String> {
    if env::var_os("VIEWSTAMP_SKIP_WASM").is_some_and(|value| !value.is_empty() && value != "0") {
        return Err(String::from("this build was made with VIEWSTAMP_SKIP_WASM set: rebuild without it"));
    }
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    if !target_installed(&rustc) {
        return Err(format!("run `rustup target add {TARGET}` and rebuild"));
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // A target dir of its own: the outer cargo holds a lock on its own target dir.
    let target_dir = out_dir.join("wasm-target");
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("host-wasm/Cargo.toml"))
        .args(["--lib", "--release", "--target", TARGET, "--features", "replay-abi"])
        .arg("--target-dir")
        .arg(&target_dir)
        // Debug info would only bloat the embedded module.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0");
    for name in INHERITED_TO_CLEAR {
        command.env_remove(name);
    }
    let output = command.output().map_err(|error| format!("cannot run cargo for the wasm build: {error}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(12).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("the wasm build failed ({}): {}", output.status, tail.join(" | ")));
    }
    let built = target_dir.join(TARGET).join("release/viewstamp_wasm.wasm");
    fs::copy(&built, out_dir.join(MODULE_FILE))
        .map_err(|error| format!("the wasm build left no module at {}: {error}", built.display()))?;
    Ok(())
}

/// Whether the toolchain has the wasm32 standard library (`rustup target add`).
fn target_installed(rustc: &std::ffi::OsStr) -> bool {
    let Ok(output) = Command::new(rustc).args(["--print", "sysroot"]).output() else { return false };
    let sysroot = String::from_utf8_lossy(&output.stdout).trim().to_string();
    Path::new(&sysroot).join("lib/rustlib").join(TARGET).join("lib").is_dir()
}
