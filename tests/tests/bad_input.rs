//! Bad inputs each fail only their own job, with a message naming the problem,
//! while a good job submitted alongside completes.

use std::time::Duration;

use drawpipe_tests::{fixture, many_page_pdf, tiny_png, EnvOptions, TestEnv};

/// Runs `tests/fixtures/hostile/SCRIPT` to write `name` in a temporary folder;
/// returns its path.
fn hostile(script: &str, name: &str) -> std::path::PathBuf {
    let out = std::env::temp_dir().join(format!("drawpipe-hostile-{}-{name}", std::process::id()));
    let made = std::process::Command::new("python3")
        .arg(
            drawpipe_tests::workspace()
                .join("tests/fixtures/hostile")
                .join(script),
        )
        .arg(&out)
        .status()
        .unwrap();
    assert!(made.success(), "{script} failed");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_their_own_job_only() {
    let mut env = TestEnv::start(EnvOptions {
        max_upload_bytes: Some(4 * 1024 * 1024),
        ..Default::default()
    })
    .await
    .unwrap();
    env.spawn_worker(&[]).unwrap();
    let good_before = env
        .submit(
            std::fs::read(fixture("example_dwg.png")).unwrap(),
            "good.png",
            "preprocess",
        )
        .await;

    // Refused at submission: nothing to queue.
    let (code, body) = env.submit_bytes(vec![], "empty.png", None, None).await;
    assert_eq!(code, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("empty"), "{body}");
    let (code, body) = env
        .submit_bytes(b"this is not a drawing\n".to_vec(), "notes.png", None, None)
        .await;
    assert_eq!(code, 415, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unsupported file type"),
        "{body}"
    );
    let (code, body) = env
        .submit_bytes(vec![0x89; 5 * 1024 * 1024], "big.png", None, None)
        .await;
    assert_eq!(code, 413, "{body}");
    let (code, body) = env
        .submit_bytes(
            tiny_png(8, 8, 0),
            "x.png",
            Some("preprocess,warp,ocr"),
            None,
        )
        .await;
    assert_eq!(code, 400, "{body}");
    let msg = body["error"].as_str().unwrap();
    assert!(msg.contains("warp"), "{msg}");
    // An option over this server's limit is refused at submission, naming the
    // option and the limit (a PDF renderer's memory that once could wrap).
    let with_options = |options: &str| {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(tiny_png(8, 8, 0)).file_name("x.png"),
            )
            .text("stages", "preprocess")
            .text("options", options.to_string());
        env.http()
            .post(format!("{}/v1/jobs", env.api))
            .multipart(form)
            .send()
    };
    let resp = with_options(r#"{"preprocess": {"pdf_memory_mib": 18446744073709551615}}"#)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("options.preprocess.pdf_memory_mib") && msg.contains("limit 8192"),
        "{msg}"
    );
    let resp = with_options(r#"{"ocr": {"det_limit_type": "min", "det_limit_side_len": 100000}}"#)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    // An option the stage does not know is accepted by the dispatcher and fails
    // the job at its stage, naming the field.
    let resp = with_options(r#"{"preprocess": {"pdf_dpi_typo": 100}}"#)
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let body: serde_json::Value = resp.json().await.unwrap();
    let unknown_option = body["id"].as_str().unwrap().to_string();

    // Accepted, then failed by preprocess with a precise message.
    let png = tiny_png(64, 64, 1);
    let truncated = png[..png.len() / 2].to_vec();
    let mut huge = tiny_png(16, 16, 2);
    huge[16..20].copy_from_slice(&50_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&50_000u32.to_be_bytes());
    // A 2.6 MB PDF whose content stream inflates to 1 GiB of drawing operators
    // (tests/fixtures/hostile/flate_bomb.py): cut off by the per-page render limit.
    let bomb_path = hostile("flate_bomb.py", "bomb.pdf");
    let bomb = std::fs::read(&bomb_path).unwrap();
    let _ = std::fs::remove_file(&bomb_path);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bomb.pdf", bomb, "may be a PDF bomb"),
        ("truncated.png", truncated, "truncated PNG"),
        ("huge.png", huge, "50000×50000"),
        ("pages.pdf", many_page_pdf(10_000), "10000 pages"),
        (
            "broken.pdf",
            b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\ngarbage".to_vec(),
            "malformed PDF",
        ),
    ];
    let mut failed = vec![];
    for (name, bytes, _) in &cases {
        failed.push(env.submit(bytes.clone(), name, "preprocess").await);
    }
    let good_after = env
        .submit(
            std::fs::read(fixture("Candle_holder.jpg")).unwrap(),
            "good.jpg",
            "preprocess",
        )
        .await;
    for ((name, _, want), id) in cases.iter().zip(&failed) {
        let body = env.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(body["status"], "failed", "{name}: {body}");
        let err = body["error"].as_str().unwrap_or_default();
        assert!(
            err.contains(want),
            "{name}: error {err:?} should mention {want:?}"
        );
        let stage = body["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == "preprocess")
            .unwrap();
        assert_eq!(stage["status"], "failed");
        assert_eq!(stage["attempts"], 1, "{name}: bad input is not retried");
        println!(
            "hostile input {name}: failed after {:.1} s: {err}",
            stage["duration_ms"].as_f64().unwrap_or(f64::NAN) / 1000.0
        );
    }
    let body = env
        .wait_finished(&unknown_option, Duration::from_secs(120))
        .await;
    assert_eq!(body["status"], "failed", "{body}");
    let err = body["error"].as_str().unwrap_or_default();
    assert!(
        err.contains("options.preprocess") && err.contains("pdf_dpi_typo"),
        "{err}"
    );
    for id in [good_before, good_after] {
        assert_eq!(
            env.wait_finished(&id, Duration::from_secs(120)).await["status"],
            "completed"
        );
    }
}

/// The hostile corpus of `tests/fixtures/hostile/corpus.py`: headers claiming
/// billions of pixels (a PNG bomb among them) fail their job naming the size; PNG and
/// TIFF bombs within the pixel limit, image data past its header, a cyclic page tree,
/// the largest PDF page, a PNG/PDF/ZIP polyglot and absurd resolution metadata
/// complete (the resolution taken as absent); a truncated JPEG fails naming it; an
/// empty upload is refused; file names that are paths, not UTF-8, or carry control or
/// bidi characters are stored harmless; the worker keeps serving, under 1.5 GiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_corpus_fails_or_completes_and_the_worker_keeps_serving() {
    let mut env = TestEnv::start(EnvOptions::default()).await.unwrap();
    let worker = env
        .spawn_worker(&["--stages", "preprocess,report"])
        .unwrap();
    let dir = hostile("corpus.py", "corpus");
    // (file, expected status, what the error must say)
    // Nothing to read is refused at the door, naming it.
    let (status, body) = env
        .submit_bytes(
            std::fs::read(dir.join("zero_bytes.png")).unwrap(),
            "zero_bytes.png",
            Some("preprocess,report"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("empty"), "{body}");
    let cases = [
        ("jpeg_65000.jpg", "failed", "65000×65000"),
        ("tiff_60000.tif", "failed", "60000×60000"),
        ("png_bomb_20000.png", "failed", "20000×20000"),
        ("png_idat_overflow.png", "completed", ""),
        ("png_bomb_10000.png", "completed", ""),
        ("tiff_bomb_10000.tif", "completed", ""),
        ("truncated.jpg", "failed", "JPEG"),
        ("cyclic_pages.pdf", "completed", ""),
        ("page_14400pt.pdf", "completed", ""),
        ("polyglot.png", "completed", ""),
        ("dpi_tiny.png", "completed", ""),
        ("dpi_absurd.png", "completed", ""),
    ];
    let mut ids = vec![];
    for (name, _, _) in &cases {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        ids.push(env.submit(bytes, name, "preprocess,report").await);
    }
    let _ = std::fs::remove_dir_all(&dir);
    for ((name, want_status, want_error), id) in cases.iter().zip(&ids) {
        let body = env.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(body["status"], *want_status, "{name}: {body}");
        let err = body["error"].as_str().unwrap_or_default();
        assert!(err.contains(want_error), "{name}: error {err:?}");
        let preprocess_ms = body["stages"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["stage"] == "preprocess"))
            .and_then(|s| s["duration_ms"].as_f64())
            .unwrap_or(f64::NAN);
        println!(
            "hostile corpus {name}: {} after {:.1} s {err}",
            body["status"],
            preprocess_ms / 1000.0
        );
        if name.starts_with("dpi_") {
            let (_, report) = env.get(&format!("/v1/jobs/{id}/result")).await;
            // The page is there, with its resolution taken as absent.
            let page = &report["pages"][0];
            assert_eq!(page["width"], 64, "{report}");
            assert!(page.get("dpi").is_some_and(|d| d.is_null()), "{report}");
        }
    }
    // File names that are paths, not UTF-8, or carry control or bidi characters:
    // accepted, stored as a harmless last component, and the job runs.
    let multipart_names: [&[u8]; 4] = [
        b"../../etc/passwd.png",
        b"/abs/dir/drawing.png",
        b"caf\xe9 \xff\xfe.png",
        "invoice\u{202e}gnp.png".as_bytes(),
    ];
    let mut named = vec![];
    for name in multipart_names {
        let mut body =
            b"--XbX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"".to_vec();
        body.extend_from_slice(name);
        body.extend_from_slice(b"\"\r\nContent-Type: image/png\r\n\r\n");
        body.extend_from_slice(&tiny_png(32, 32, 3));
        body.extend_from_slice(b"\r\n--XbX\r\nContent-Disposition: form-data; name=\"stages\"\r\n\r\npreprocess,report\r\n--XbX--\r\n");
        let resp = env
            .http()
            .post(format!("{}/v1/jobs", env.api))
            .header("content-type", "multipart/form-data; boundary=XbX")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let answer: serde_json::Value = resp.json().await.unwrap_or_default();
        assert_eq!(status, 202, "{:?}: {answer}", String::from_utf8_lossy(name));
        named.push((
            String::from_utf8_lossy(name).into_owned(),
            answer["id"].as_str().unwrap().to_string(),
        ));
    }
    let resp = env
        .http()
        .post(format!(
            "{}/v1/jobs?stages=preprocess,report&filename=a%0d%0aFAKE%20LOG%20LINE.png",
            env.api
        ))
        .header("content-type", "application/octet-stream")
        .body(tiny_png(32, 32, 4))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 202);
    let answer: serde_json::Value = resp.json().await.unwrap();
    named.push((
        "a\r\nFAKE LOG LINE.png".into(),
        answer["id"].as_str().unwrap().to_string(),
    ));
    let mut stored_names = vec![];
    for (sent, id) in &named {
        let body = env.wait_finished(id, Duration::from_secs(120)).await;
        assert_eq!(body["status"], "completed", "{sent:?}: {body}");
        let stored = body["filename"].as_str().unwrap_or_default();
        println!("hostile file name {sent:?}: stored as {stored:?}");
        assert!(
            !stored.contains(['/', '\\', '\u{202e}']) && !stored.chars().any(char::is_control),
            "{sent:?} stored as {stored:?}"
        );
        stored_names.push(stored.to_string());
    }
    assert_eq!(stored_names[0], "passwd.png");
    assert_eq!(stored_names[1], "drawing.png");
    assert_eq!(stored_names[2], "caf\u{fffd} \u{fffd}\u{fffd}.png");
    assert_eq!(stored_names[3], "invoice_gnp.png");
    assert_eq!(stored_names[4], "a__FAKE LOG LINE.png");

    let good = env
        .submit(
            std::fs::read(fixture("Candle_holder.jpg")).unwrap(),
            "good.jpg",
            "preprocess,report",
        )
        .await;
    let body = env.wait_finished(&good, Duration::from_secs(120)).await;
    assert_eq!(body["status"], "completed", "{body}");
    assert!(env.all_running(), "a process died");
    let peak_kib = drawpipe_tests::proc_status_kib(worker, "VmHWM").expect("the worker's VmHWM");
    println!("hostile corpus: worker peak RSS {} MiB", peak_kib / 1024);
    assert!(peak_kib < 1536 * 1024, "worker peak RSS {peak_kib} KiB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_are_required() {
    let env = TestEnv::start(EnvOptions {
        auth: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let key = env.api_key.clone().expect("key created");
    assert!(key.len() >= 20);
    let http = reqwest::Client::new();
    let url = format!("{}/v1/jobs", env.api);
    let form = || {
        reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(tiny_png(8, 8, 0)).file_name("x.png"),
        )
    };
    let missing = http.post(&url).multipart(form()).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 401);
    let wrong = http
        .post(&url)
        .bearer_auth("dp_not_a_real_key")
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let right = http
        .post(&url)
        .bearer_auth(&key)
        .multipart(form())
        .send()
        .await
        .unwrap();
    assert_eq!(right.status().as_u16(), 202);
    let list = http.get(&url).send().await.unwrap();
    assert_eq!(list.status().as_u16(), 401);
    // Health endpoints stay open for probes.
    assert_eq!(
        http.get(format!("{}/healthz", env.api))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
}

/// A broken OpenVINO runtime does not take the OCR stage down: on `auto` the engine
/// falls back to f32 on ONNX Runtime and `drawpipe devices` says why; an explicit
/// bf16 would fail instead (checked in the worker's unit tests). Runs `drawpipe
/// devices` on a copy of the model repository whose OpenVINO library is garbage.
#[test]
fn broken_openvino_falls_back_to_f32() {
    let models = drawpipe_tests::workspace().join("models");
    let copy = std::env::temp_dir().join(format!("drawpipe-ov-broken-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    std::fs::create_dir_all(copy.join("runtime/openvino")).unwrap();
    for entry in std::fs::read_dir(&models).unwrap().flatten() {
        if entry.file_name() != "runtime" {
            std::os::unix::fs::symlink(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    for entry in std::fs::read_dir(models.join("runtime")).unwrap().flatten() {
        if entry.file_name() != "openvino" {
            std::os::unix::fs::symlink(entry.path(), copy.join("runtime").join(entry.file_name()))
                .unwrap();
        }
    }
    std::fs::write(
        copy.join("runtime/openvino/libopenvino_c.so.2641"),
        b"not a library",
    )
    .unwrap();
    let out = std::process::Command::new(drawpipe_tests::bin_dir().join("drawpipe"))
        .arg("devices")
        .env("DRAWPIPE_MODELS", &copy)
        .env("DRAWPIPE_LOG", "error")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&copy);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ocr = text
        .lines()
        .find(|l| l.starts_with("ocr "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(ocr.contains("cpu"), "{ocr}");
    assert!(ocr.contains("all f32 on ONNX Runtime"), "{ocr}");
    // Where the CPU has native bf16, auto tried OpenVINO and says it failed.
    let bf16 = std::fs::read_to_string("/proc/cpuinfo")
        .is_ok_and(|c| c.contains(" avx512_bf16") || c.contains(" amx_bf16"));
    if bf16 {
        assert!(ocr.contains("OpenVINO failed"), "{ocr}");
    }
}
