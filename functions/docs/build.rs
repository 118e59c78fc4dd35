//! `openapi.yaml`, the contract, as the JSON the function serves: converted when the function is
//! built, so the function carries no YAML parser and does no work at start-up.

// A build script fails the build by panicking, with the reason.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::{env, fs};

fn main() {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi.yaml");
    println!("cargo::rerun-if-changed={}", source.display());
    let yaml =
        fs::read_to_string(&source).unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
    let document: serde_json::Value =
        serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("openapi.yaml: {e}"));
    let json = serde_json::to_string(&document).unwrap_or_else(|e| panic!("openapi.json: {e}"));
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.json");
    fs::write(&out, json).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
