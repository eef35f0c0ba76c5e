//! `drawpipe-dispatcher [serve|migrate|keys ...]`: parses the command line, sets up
//! logging (stderr, `DRAWPIPE_LOG`, default `info`; `--log-format json`) and signal handling, and hands over
//! to the library.

use clap::Parser;
use drawpipe_dispatcher::{keys, open_database, serve, Cli, Command};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let _telemetry = drawpipe_core::logging::init(cli.log_format, "info", "drawpipe-dispatcher");
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let shutdown = CancellationToken::new();
            tokio::spawn(cancel_on_signal(shutdown.clone()));
            serve(cli.config, shutdown, None).await
        }
        Command::Migrate => open_database(&cli.config)
            .await
            .map(|_| tracing::info!("database is migrated")),
        Command::Keys(cmd) => match open_database(&cli.config).await {
            Ok(pool) => keys::run_command(&pool, cmd).await,
            Err(e) => Err(e),
        },
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// Cancels `token` on SIGINT or SIGTERM.
async fn cancel_on_signal(token: CancellationToken) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutdown requested");
    token.cancel();
}
