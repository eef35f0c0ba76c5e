// `sqlx::migrate!` embeds migrations/ at compile time: rebuild when a migration is
// added or changed (as sqlx's documentation asks), or a new one would be missing from
// an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
