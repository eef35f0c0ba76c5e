//! The web viewer in headless Chromium, driven over WebDriver (chromedriver, from
//! Debian's `chromium-driver`): sign in with a key, upload `Candle_holder.jpg`, wait
//! for it to complete, find `Ø21,5±0,1` in the dimension table and its box in the
//! overlay (and each leads to the other), correct a dimension in the page and see the
//! correction in the JSON report, with who made it and the reading it replaced;
//! then `drawpipe corrections export` writes it as eDOCr2 ground truth that
//! `drawpipe eval` scores, and another tenant's key exports nothing.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drawpipe_tests::{bin_dir, fixture, workspace, EnvOptions, TestEnv};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// chromedriver, killed when the test ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser() -> (Driver, Client) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; scripts/setup.sh installs it)");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(format!("{url}/status")).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1600,1100"]}),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("a headless Chromium session");
    (driver, client)
}

async fn text_of(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Clicks `css` through the page's own handlers (a box in the SVG may lie under
/// another's label, which a pointer click would hit instead).
async fn click_js(c: &Client, css: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    c.execute(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}));",
        vec![serde_json::to_value(e).unwrap()],
    )
    .await
    .unwrap();
}

/// Clicks `css` as a person would.
async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Types `text` into the field `css`, after clearing it.
async fn type_into(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Waits up to `secs` for the text of `css` to satisfy `done`; `what` names it.
async fn wait_text(c: &Client, css: &str, secs: u64, what: &str, done: impl Fn(&str) -> bool) {
    let started = Instant::now();
    loop {
        let text = text_of(c, css).await;
        if done(&text) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "{what}: {css} reads {text:?} after {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The `class` attribute of `css`.
async fn class_of(c: &Client, css: &str) -> String {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .attr("class")
        .await
        .unwrap()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewer_uploads_shows_links_and_corrects_a_drawing() {
    let mut env = TestEnv::start(EnvOptions {
        auth: true,
        ..Default::default()
    })
    .await
    .unwrap();
    env.spawn_worker(&[]).unwrap();
    let key = env.api_key.clone().unwrap();
    let (_driver, c) = browser().await;
    let shots = workspace().join("target/viewer");
    std::fs::create_dir_all(&shots).unwrap();

    // Sign in: a wrong key is refused with a message, the right one opens the app.
    c.goto(&format!("{}/", env.api)).await.unwrap();
    type_into(&c, "#key", "dp_0000000000000000000000000000000000000000").await;
    click(&c, "#sign-in-form button").await;
    wait_text(&c, "#sign-in-error", 20, "the refusal", |t| !t.is_empty()).await;
    type_into(&c, "#key", &key).await;
    click(&c, "#sign-in-form button").await;
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("main#app:not([hidden])"))
        .await
        .expect("signed in");

    // Upload, and watch the stages go by until the job completes.
    let file = fixture("Candle_holder.jpg");
    c.find(Locator::Css("#files"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    let started = Instant::now();
    let mut seen_progress = false;
    loop {
        let state = text_of(&c, "#uploads li .state").await;
        seen_progress |= state.contains("succeeded") || state.contains("running");
        if state.starts_with("completed") {
            break;
        }
        assert!(
            !state.starts_with("failed") && !state.starts_with("partial"),
            "the job ended {state}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "not completed after 15 min: {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        seen_progress,
        "no stage progress was shown before completion"
    );
    let job = c
        .find(Locator::Css("#uploads li"))
        .await
        .unwrap()
        .attr("data-job")
        .await
        .unwrap()
        .expect("the upload row names its job");
    // The jobs list has it, and the file-name search finds it.
    type_into(&c, "#search", "candle").await;
    click(&c, "#filter button").await;
    wait_text(&c, "#job-list tbody", 20, "the search", |t| {
        t.contains("Candle_holder.jpg")
    })
    .await;

    // The job page: the dimension table has Ø21,5±0,1; its box is in the overlay.
    click(&c, "#uploads li a").await;
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#page svg g.mark"))
        .await
        .expect("the overlay is shown");
    let rows = c
        .find_all(Locator::Css("#dimensions tbody tr"))
        .await
        .unwrap();
    assert!(rows.len() >= 10, "{} dimension rows", rows.len());
    let mut index = None;
    for r in &rows {
        if r.text().await.unwrap().contains("Ø21,5±0,1") {
            index = r.attr("data-index").await.unwrap();
        }
    }
    let index = index.expect("a Ø21,5±0,1 row");
    let mark = format!("#page g.mark[data-kind='dimensions'][data-index='{index}']");
    let row = format!("#dimensions tr[data-index='{index}']");
    assert!(
        c.find(Locator::Css(&mark)).await.is_ok(),
        "its box in the overlay"
    );
    // A click on the box selects the row; a click on another row selects its box.
    click_js(&c, &mark).await;
    assert!(class_of(&c, &row).await.contains("selected"));
    click_js(&c, "#dimensions tr[data-index='0']").await;
    let first_mark = "#page g.mark[data-kind='dimensions'][data-index='0']";
    assert!(class_of(&c, first_mark).await.contains("selected"));
    std::fs::write(shots.join("job.png"), c.screenshot().await.unwrap()).unwrap();

    // Correct dimension 0 in the page; the report then holds the correction.
    let (_, before) = env.get(&format!("/v1/jobs/{job}/result")).await;
    let original = before["dimensions"][0]["raw"].as_str().unwrap().to_string();
    click_js(&c, "#dimensions tr[data-index='0'] button.edit").await;
    type_into(&c, "form.correction input[name='raw']", "Ø42,5").await;
    type_into(&c, "form.correction input[name='nominal']", "42.5").await;
    click(&c, "form.correction button[type='submit']").await;
    wait_text(
        &c,
        "#dimensions tr[data-index='0']",
        20,
        "the correction",
        |t| t.contains("Ø42,5"),
    )
    .await;
    let (code, after) = env.get(&format!("/v1/jobs/{job}/result")).await;
    assert_eq!(code, 200);
    let d: &Value = &after["dimensions"][0];
    assert_eq!(d["raw"], "Ø42,5", "{d}");
    assert_eq!(d["nominal"], 42.5);
    assert_eq!(d["correction"]["by"], "tests");
    assert_eq!(d["correction"]["original"]["raw"], original.as_str());
    assert_eq!(
        after["dimensions"].as_array().unwrap().len(),
        before["dimensions"].as_array().unwrap().len()
    );
    std::fs::write(shots.join("corrected.png"), c.screenshot().await.unwrap()).unwrap();
    c.close().await.unwrap();

    export_corrections(&env, &job, &key, &original, &after).await;
}

/// `drawpipe corrections export DIR` through the API with `key`; its stdout.
fn export(env: &TestEnv, key: &str, dir: &std::path::Path, extra: &[&str]) -> String {
    let out = Command::new(bin_dir().join("drawpipe"))
        .args(["corrections", "export"])
        .arg(dir)
        .args(extra)
        .args(["--api", &env.api])
        .env("DRAWPIPE_API_KEY", key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The correction made in the page comes out as ground truth: the page as stored,
/// a CSV row per dimension in its frame (the corrected text for dimension 0), the
/// log of who changed what; `drawpipe eval` reads it back and finds its boxes; a
/// second tenant's key exports nothing.
async fn export_corrections(env: &TestEnv, job: &str, key: &str, original: &str, report: &Value) {
    let root = workspace().join("target/viewer/export");
    let _ = std::fs::remove_dir_all(&root);
    let (all, only) = (root.join("all"), root.join("only"));
    let printed = export(env, key, &all, &[]);
    assert!(
        printed.starts_with("1 corrected dimension(s) from 1 job(s)"),
        "{printed}"
    );
    let name = format!("Candle_holder-{}", &job[..8]);
    let png = std::fs::read(all.join(format!("{name}.png"))).unwrap();
    let page = image_size(&png);
    assert_eq!(
        page,
        (
            report["pages"][0]["width"].as_u64().unwrap() as u32,
            report["pages"][0]["height"].as_u64().unwrap() as u32
        )
    );
    let csv = std::fs::read_to_string(all.join(format!("{name}.csv"))).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    let dims = report["dimensions"].as_array().unwrap();
    assert_eq!(rows.len(), dims.len(), "{csv}");
    let p = &dims[0]["polygon"];
    let corners: Vec<String> = (0..8)
        .map(|k| format!("{:.0}", p[k / 2][k % 2].as_f64().unwrap()))
        .collect();
    assert_eq!(rows[0], format!("{},\"Ø42,5\"", corners.join(",")));
    assert!(csv.contains("\"Ø21,5±0,1\""), "{csv}");
    let log = std::fs::read_to_string(all.join("corrections.csv")).unwrap();
    let line = log.lines().nth(1).expect("a correction row");
    assert!(
        line.starts_with(&format!("{job},Candle_holder.jpg,0,0,")) && line.contains(",tests,"),
        "{log}"
    );
    assert!(
        line.contains("\"Ø42,5\"") && line.contains(original),
        "{line}"
    );

    // Only the corrected row.
    export(env, key, &only, &["--only-corrected"]);
    let one = std::fs::read_to_string(only.join(format!("{name}.csv"))).unwrap();
    assert_eq!(one.lines().collect::<Vec<_>>(), vec![rows[0]]);

    // `drawpipe eval` reads the export: the page's boxes are where the truth says
    // (a wrong frame would match nothing).
    let out = Command::new(bin_dir().join("drawpipe"))
        .arg("eval")
        .arg(&all)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "eval: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The total row: name, truth, pred, match, precision, recall, …
    let recall: f64 = text
        .lines()
        .find(|l| l.starts_with("total "))
        .and_then(|l| l.split_whitespace().nth(5))
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no total recall in {text}"));
    assert!(
        recall >= 0.9,
        "recall {recall} on the exported truth: {text}"
    );

    // Another tenant's key: nothing to export.
    let other = env.create_key("other-tenant", false).unwrap();
    let printed = export(env, &other, &root.join("other"), &[]);
    assert!(
        printed.starts_with("0 corrected dimension(s) from 0 job(s)"),
        "{printed}"
    );
    let (code, list) = env.get("/v1/corrections").await;
    assert_eq!(code, 200);
    assert_eq!(list["jobs"][0]["id"], job, "{list}");
    assert_eq!(list["jobs"][0]["corrected_dimensions"], 1);
}

/// A PNG's width and height, from its header.
fn image_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[1..4], b"PNG");
    let be = |o: usize| u32::from_be_bytes(png[o..o + 4].try_into().unwrap());
    (be(16), be(20))
}
