//! Lets the worker binaries and tests find XGBoost's C library at run time where
//! `models/fetch.sh` put it (the `xgb` crate links it by name only). Deployments that
//! move the binary set `LD_LIBRARY_PATH` instead (see deploy/).
fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let lib = std::path::Path::new(&manifest).join("../models/runtime/xgboost/xgboost/lib");
    let lib = lib.canonicalize().unwrap_or(lib);
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    println!("cargo:rerun-if-changed=build.rs");
}
