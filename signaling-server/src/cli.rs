//! The command line: `serve` and the admin subcommands.

use crate::config::SETTINGS_HELP;
use clap::{Args, Parser, Subcommand};
use clinicall_protocol::Role;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Clinicall signaling server: accounts, presence and call signaling for
/// the Clinicall desktop app. Media never passes through it.
#[derive(Debug, Parser)]
#[command(name = "signaling-server", version, after_long_help = SETTINGS_HELP)]
pub struct Cli {
    /// TOML configuration file. Every setting has a default; see the list
    /// below (`--help`).
    #[arg(long, global = true, env = "CLINICALL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the REST API and the signaling WebSocket.
    Serve(ServeArgs),
    /// Manage accounts directly in the database (works while the server runs).
    #[command(subcommand)]
    User(UserCommand),
    /// Record that a doctor looks after a patient.
    #[command(subcommand)]
    Relation(RelationCommand),
    /// Write a consistent copy of the database (safe while the server runs).
    Backup {
        /// Where to write the copy; must not exist yet.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
}

/// Options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Override `server.listen`.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Override `storage.database`.
    #[arg(long, value_name = "FILE")]
    pub database: Option<PathBuf>,
    /// Create demo accounts (a doctor, a patient and an admin, with known
    /// passwords) if missing, and print how to sign in. Never in production.
    #[arg(long)]
    pub demo: bool,
}

/// `user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account of any role.
    Create {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Role: patient, doctor or admin.
        #[arg(long)]
        role: Role,
        /// Name shown to others.
        #[arg(long)]
        display_name: String,
        /// Where the password comes from.
        #[command(flatten)]
        password: PasswordInput,
    },
    /// Set a new password; signs the user out everywhere.
    ResetPassword {
        /// Login email.
        #[arg(long)]
        email: String,
        /// Where the password comes from.
        #[command(flatten)]
        password: PasswordInput,
    },
    /// List accounts.
    List,
}

/// `relation` subcommands.
#[derive(Debug, Subcommand)]
pub enum RelationCommand {
    /// The doctor looks after the patient: they see each other online and
    /// may call each other.
    Add {
        /// The doctor's email.
        #[arg(long)]
        doctor: String,
        /// The patient's email.
        #[arg(long)]
        patient: String,
    },
}

/// Where a new password comes from. Never a plain argument: those show up
/// in `ps` and shell history.
#[derive(Debug, Args)]
pub struct PasswordInput {
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// The password, from the environment.
    #[arg(
        long = "password-env",
        env = "CLINICALL_NEW_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        hide = true
    )]
    pub from_env: Option<String>,
}

impl PasswordInput {
    /// The password, or a message saying how to give one.
    pub fn read(&self) -> anyhow::Result<String> {
        if self.password_stdin {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            let password = line.trim_end_matches(['\r', '\n']).to_owned();
            anyhow::ensure!(!password.is_empty(), "no password on standard input");
            return Ok(password);
        }
        self.from_env.clone().ok_or_else(|| {
            anyhow::anyhow!("give the password with --password-stdin or in CLINICALL_NEW_PASSWORD")
        })
    }
}
