//! The migrations are compiled into the binaries (`sqlx::migrate!` in `src/db.rs`). Rebuild when
//! any file in `migrations/` changes or is added, so a new migration always changes every binary
//! that embeds it, and with it the `migrate` function's version that re-runs the migrations.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
