//! `signaling-server`: see `--help`.

use anyhow::Context;
use clap::Parser;
use clinicall_protocol::rest::NewUser;
use clinicall_signaling_server::cli::{Cli, Command, RelationCommand, UserCommand};
use clinicall_signaling_server::{Config, build_state, demo, start_with_state, telemetry};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = Config::load(cli.config.as_deref())?;
    if !matches!(cli.command, Command::Serve(_)) && !config.storage.database.exists() {
        // An admin command run from the wrong directory must not quietly
        // work on a new, empty database.
        anyhow::bail!(
            "database {} does not exist; pass the server's --config (or run `serve` once)",
            config.storage.database.display()
        );
    }
    match cli.command {
        Command::Serve(args) => {
            if let Some(listen) = args.listen {
                config.server.listen = listen;
            }
            if let Some(database) = args.database {
                config.storage.database = database;
            }
            telemetry::init_logging(&config.log);
            let state = build_state(config).await?;
            if args.demo {
                demo::ensure_demo_accounts(&state)
                    .await
                    .map_err(|e| anyhow::anyhow!("creating demo accounts: {}", e.message))?;
            }
            let server = start_with_state(state).await?;
            if args.demo {
                println!("{}", demo::banner(server.addr()));
            }
            server.run_until(shutdown_signal()).await;
            Ok(())
        }
        Command::User(cmd) => {
            // Admin commands print their result; keep logs quiet.
            config.log.filter = "error".into();
            telemetry::init_logging(&config.log);
            let state = build_state(config).await?;
            match cmd {
                UserCommand::Create {
                    email,
                    role,
                    display_name,
                    password,
                } => {
                    let new = NewUser {
                        email,
                        password: password.read()?,
                        display_name,
                        role: None,
                    };
                    let account = state
                        .auth
                        .create_account(new, role)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                    println!(
                        "created {} {} ({})",
                        account.role.as_str(),
                        account.email,
                        account.id
                    );
                }
                UserCommand::ResetPassword { email, password } => {
                    let account = state
                        .auth
                        .reset_password(&email, password.read()?)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
                    println!(
                        "password reset for {}; all of their logins are signed out",
                        account.email
                    );
                }
                UserCommand::List => {
                    for a in state.store.list_accounts().await? {
                        println!(
                            "{}\t{}\t{}\t{}",
                            a.id,
                            a.role.as_str(),
                            a.email,
                            a.display_name
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Relation(RelationCommand::Add { doctor, patient }) => {
            config.log.filter = "error".into();
            telemetry::init_logging(&config.log);
            let state = build_state(config).await?;
            let find = |email: String| {
                let store = state.store.clone();
                async move {
                    store
                        .credentials_by_email(&email.trim().to_lowercase())
                        .await?
                        .map(|c| c.account)
                        .with_context(|| format!("no account {email}"))
                }
            };
            let doctor = find(doctor).await?;
            let patient = find(patient).await?;
            anyhow::ensure!(
                doctor.role == clinicall_protocol::Role::Doctor,
                "{} is not a doctor",
                doctor.email
            );
            anyhow::ensure!(
                patient.role == clinicall_protocol::Role::Patient,
                "{} is not a patient",
                patient.email
            );
            state
                .store
                .add_care_relation(
                    doctor.id,
                    patient.id,
                    clinicall_signaling_server::util_now_ms(),
                )
                .await?;
            println!("{} now looks after {}", doctor.email, patient.email);
            Ok(())
        }
        Command::Backup { to } => {
            config.log.filter = "error".into();
            telemetry::init_logging(&config.log);
            let state = build_state(config).await?;
            state.store.backup(&to).await?;
            println!("backup written to {}", to.display());
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
