//! Secrets stay out of logs and errors: a dispatcher and a worker given credentials
//! for a broker and a database they cannot reach (the failures that print URLs) never
//! print the passwords, only the masked URLs.

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use drawpipe_tests::{EnvOptions, TestEnv};

const BROKER_SECRET: &str = "hunter2-broker-secret";
const DB_SECRET: &str = "hunter2-db-secret";

/// Starts `cmd` with its stderr captured.
fn start(mut cmd: std::process::Command) -> std::process::Child {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the process")
}

/// Waits until `child` exits or `secs` seconds have passed, kills it, returns its stderr.
fn stderr_after(mut child: std::process::Child, secs: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while std::time::Instant::now() < deadline {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_reach_the_logs() {
    let env = TestEnv::start(EnvOptions::default()).await.unwrap();
    // Nothing listens on port 1: every connection attempt fails and is logged.
    let bad_amqp = format!("amqp://guest:{BROKER_SECRET}@127.0.0.1:1/%2f");
    let bad_db = format!("postgres://drawpipe:{DB_SECRET}@127.0.0.1:1/drawpipe");

    // All four at once: the database failures take the pool's 30 s timeout.
    let mut dispatcher = env.dispatcher_cmd();
    dispatcher
        .env("DRAWPIPE_AMQP_URL", &bad_amqp)
        .env("DRAWPIPE_LISTEN", "127.0.0.1:0")
        .env("DRAWPIPE_NO_AUTH", "true");
    let broker_down = start(dispatcher);
    let mut dispatcher = env.dispatcher_cmd();
    dispatcher.env("DRAWPIPE_DATABASE_URL", &bad_db);
    let db_down = start(dispatcher);
    let worker = |db: &str, amqp: &str| {
        let mut w = std::process::Command::new(drawpipe_tests::bin_dir().join("drawpipe"));
        w.args(["worker", "--stages", "preprocess"])
            .env("DRAWPIPE_DATABASE_URL", db)
            .env("DRAWPIPE_AMQP_URL", amqp)
            .env("DRAWPIPE_LOG", "warn");
        start(w)
    };
    let worker_broker_down = worker(&env.database_url, &bad_amqp);
    let worker_db_down = worker(&bad_db, &env.amqp_url);
    // The broker-down processes keep retrying (and logging) until killed.
    let broker_log = stderr_after(broker_down, 5);
    let worker_log = stderr_after(worker_broker_down, 1);
    let db_log = stderr_after(db_down, 60);
    let worker_db_log = stderr_after(worker_db_down, 60);

    for (what, log) in [
        ("dispatcher, broker down", &broker_log),
        ("dispatcher, database down", &db_log),
        ("worker, broker down", &worker_log),
        ("worker, database down", &worker_db_log),
    ] {
        println!("{what}: {} bytes of log", log.len());
        assert!(!log.is_empty(), "{what}: the failure was logged");
        assert!(
            !log.contains(BROKER_SECRET) && !log.contains(DB_SECRET),
            "{what}: a password reached the log:\n{log}"
        );
        assert!(
            log.contains("***"),
            "{what}: the URL is shown masked:\n{log}"
        );
    }
}
