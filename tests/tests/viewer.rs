//! The web viewer in headless Chromium, driven over WebDriver (chromedriver, from
//! Debian's `chromium-driver`): sign in with a key, upload `Candle_holder.jpg`, wait
//! for it to complete, find `Ø21,5±0,1` in the dimension table and its box in the
//! overlay (and each leads to the other), correct a dimension in the page and see the
//! correction in the JSON report, with who made it and the reading it replaced.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drawpipe_tests::{fixture, workspace, EnvOptions, TestEnv};
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
}
