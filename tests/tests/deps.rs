//! The dispatcher stays free of inference: its dependency tree holds no ONNX
//! Runtime, OpenVINO, OpenCV or XGBoost (read from `cargo tree`).

#[test]
fn dispatcher_links_no_inference_runtime() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .current_dir(drawpipe_tests::workspace())
        .args([
            "tree",
            "--offline",
            "--locked",
            "-p",
            "drawpipe-dispatcher",
            "-e",
            "normal,build",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // The tree is real: the dispatcher's own stack is in it.
    for present in [
        "drawpipe-dispatcher",
        "drawpipe-core",
        "axum",
        "sqlx",
        "lapin",
    ] {
        assert!(crates.contains(&present), "{present} missing from:\n{tree}");
    }
    let banned = [
        "ort",
        "ort-sys",
        "openvino",
        "openvino-sys",
        "opencv",
        "xgb",
        "xgboost-sys",
        "ndarray",
    ];
    let found: Vec<&str> = crates
        .iter()
        .copied()
        .filter(|c| banned.contains(c))
        .collect();
    assert!(found.is_empty(), "the dispatcher depends on {found:?}");
}
