//! Builds what the function serves into it:
//! - `openapi.yaml`, the contract, as JSON, so the function carries no YAML parser;
//! - the docs page: Swagger UI from the pinned npm package `swagger-ui-dist` (`ui/package.json`,
//!   `ui/package-lock.json`) and the page's own files in `ui/`. Each asset is gzipped and named
//!   by a hash of its content, so a browser may keep it forever; the page names them.
//!
//! When `ui/node_modules` is missing, `npm ci` installs the locked package (no scripts run).

// A build script fails the build by panicking, with the reason.
#![allow(clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// The assets the page loads: (name in the page, file, content type).
const ASSETS: [(&str, &str, &str); 4] = [
    (
        "swagger-ui-bundle.js",
        "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
    ),
    (
        "swagger-ui.css",
        "node_modules/swagger-ui-dist/swagger-ui.css",
        "text/css; charset=utf-8",
    ),
    ("docs.js", "docs.js", "text/javascript; charset=utf-8"),
    ("docs.css", "docs.css", "text/css; charset=utf-8"),
];

fn main() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    contract(&crate_dir.join("../../openapi.yaml"), &out);
    page(&crate_dir.join("ui"), &out);
}

fn contract(source: &Path, out: &Path) {
    println!("cargo::rerun-if-changed={}", source.display());
    let yaml = read_text(source);
    let document: serde_json::Value =
        serde_yaml_ng::from_str(&yaml).unwrap_or_else(|e| panic!("openapi.yaml: {e}"));
    let json = serde_json::to_string(&document).unwrap_or_else(|e| panic!("openapi.json: {e}"));
    write(&out.join("openapi.json"), json.as_bytes());
}

fn page(ui: &Path, out: &Path) {
    for watched in [
        "package.json",
        "package-lock.json",
        "index.html",
        "docs.js",
        "docs.css",
    ] {
        println!("cargo::rerun-if-changed={}", ui.join(watched).display());
    }
    install(ui);

    let mut html = read_text(&ui.join("index.html"));
    let mut table = String::from("pub static ASSETS: &[Asset] = &[\n");
    for (name, file, content_type) in ASSETS {
        let bytes = fs::read(ui.join(file)).unwrap_or_else(|e| panic!("reading {file}: {e}"));
        let digest = Sha256::digest(&bytes);
        let hash: String = digest[..6].iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        let (stem, extension) = name.rsplit_once('.').expect("assets have an extension");
        let versioned = format!("{stem}.{hash}.{extension}");
        html = html.replace(&format!("{{{{{name}}}}}"), &versioned);

        let gzipped = out.join(format!("{versioned}.gz"));
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(&bytes).expect("gzip into memory");
        write(&gzipped, &encoder.finish().expect("gzip into memory"));
        let _ = writeln!(
            table,
            "    Asset {{ name: {versioned:?}, content_type: {content_type:?}, gzip: include_bytes!({:?}) }},",
            gzipped.display().to_string()
        );
    }
    table.push_str("];\n");
    assert!(
        !html.contains("{{"),
        "index.html names an asset build.rs does not know"
    );
    write(&out.join("index.html"), html.as_bytes());
    write(&out.join("assets.rs"), table.as_bytes());
}

/// `npm ci` in `ui/` unless the locked package is already there.
fn install(ui: &Path) {
    let installed = ui.join("node_modules/swagger-ui-dist/package.json");
    if installed.exists() {
        println!("cargo::rerun-if-changed={}", installed.display());
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(ui)
        .status()
        .unwrap_or_else(|e| {
            panic!("the docs page bundles the npm package swagger-ui-dist: running npm: {e}")
        });
    assert!(status.success(), "npm ci in functions/docs/ui: {status}");
    println!("cargo::rerun-if-changed={}", installed.display());
}

fn read_text(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
