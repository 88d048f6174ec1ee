//! The command line: what a person types.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Innkeeper: hotel reservations, from one laptop to a cluster.
#[derive(Debug, Parser)]
#[command(name = "innkeeper", version, about, propagate_version = true)]
pub struct Cli {
    /// A TOML file overlaying the compiled-in defaults (see `innkeeper config print`).
    #[arg(long, global = true, env = "INNKEEPER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole platform in this process on SQLite, with demo data. The quickest start.
    Up(UpArgs),
    /// Run chosen services (the distributed shape): `--target catalog`, `--target gateway`, ...
    Serve(ServeArgs),
    /// Create or upgrade the databases of the chosen services, then exit.
    Migrate(TargetArgs),
    /// Load demo (or benchmark) data through the catalog's API, then exit.
    Seed(SeedArgs),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administrator accounts (never created through the API).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The identity service's token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The event backbone: dead letters of the consumers (see docs/events.md).
    #[command(subcommand)]
    Events(EventsCommand),
    /// List the targets `serve --target` accepts.
    ListTargets,
}

/// `innkeeper up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// Where the SQLite files live.
    #[arg(long, default_value = "./innkeeper-data")]
    pub data_dir: PathBuf,
    /// Address of the web UI, API and docs.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Delete the data directory first and start over.
    #[arg(long)]
    pub fresh: bool,
}

/// Which services a command is about.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Comma-separated targets (see `innkeeper list-targets`); default from config (`all`).
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
}

/// `innkeeper serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// HTTP address (REST API, docs, metrics, health).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// gRPC address of the services run here.
    #[arg(long)]
    pub grpc_listen: Option<SocketAddr>,
}

/// `innkeeper seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Load the benchmark data set instead of the demo.
    #[arg(long)]
    pub bench: bool,
    /// Benchmark: number of hotels.
    #[arg(long, default_value_t = 1000)]
    pub hotels: usize,
    /// Benchmark: room types per hotel.
    #[arg(long, default_value_t = 5)]
    pub room_types: usize,
    /// Benchmark: nights of allotment from today.
    #[arg(long, default_value_t = 365)]
    pub nights: u32,
}

/// `innkeeper config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the merged configuration (defaults, file, environment).
    Print,
    /// Print the commented defaults.
    Defaults,
}

/// `innkeeper admin ...`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an admin account. The password is read from the terminal (twice), or from the
    /// first line of standard input when it is not a terminal; never from a flag.
    Create(AdminCreateArgs),
}

/// `innkeeper admin create`.
#[derive(Debug, Args)]
pub struct AdminCreateArgs {
    /// The admin's email (their login).
    #[arg(long)]
    pub email: String,
    /// The admin's display name.
    #[arg(long, default_value = "Administrator")]
    pub name: String,
}

/// `innkeeper keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Start signing with a new key. The old key stays published until its tokens expired,
    /// so running processes keep verifying them; no restart is needed.
    Rotate,
    /// List the signing keys: active, retired and still published.
    List,
}

/// `innkeeper events ...`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Events a consumer gave up on after its retries, with the last error.
    #[command(subcommand)]
    DeadLetters(DeadLettersCommand),
}

/// `innkeeper events dead-letters ...`.
#[derive(Debug, Subcommand)]
pub enum DeadLettersCommand {
    /// List the dead letters, oldest first.
    List(DeadLettersListArgs),
    /// Ask the consumer to handle a dead letter again: within a second while it runs, else
    /// when it next starts. Handled, the letter disappears; failing, it stays with the new error.
    Retry(DeadLetterArgs),
    /// Delete a dead letter for good (the event stays marked handled).
    Discard(DeadLetterArgs),
}

/// The database whose dead letters a command reads: the consumers' service.
#[derive(Debug, Args)]
pub struct EventsDatabaseArgs {
    /// The service whose database holds the consumers' dead letters.
    #[arg(long, value_enum, default_value_t = EventService::Catalog)]
    pub service: EventService,
}

/// Services with event tables in their database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EventService {
    /// The catalog's database.
    Catalog,
    /// The booking service's database (`booking.payment_outcomes`, hold expiries and releases).
    Booking,
    /// The payment service's database (`payment.booking_outcomes`).
    Payment,
}

/// `innkeeper events dead-letters list`.
#[derive(Debug, Args)]
pub struct DeadLettersListArgs {
    #[command(flatten)]
    pub database: EventsDatabaseArgs,
    /// Only this consumer's.
    #[arg(long)]
    pub consumer: Option<String>,
}

/// `innkeeper events dead-letters retry|discard`.
#[derive(Debug, Args)]
pub struct DeadLetterArgs {
    #[command(flatten)]
    pub database: EventsDatabaseArgs,
    /// The dead letter's id, as `list` shows it.
    pub id: uuid::Uuid,
}
