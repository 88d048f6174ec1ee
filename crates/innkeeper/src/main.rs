//! The `innkeeper` executable. All behaviour lives in the libraries; this file maps commands
//! to them.

mod cli;

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser as _;
use innkeeper_catalog::api::{CatalogClient, HotelQuery};
use innkeeper_identity::demo::{DEMO_PASSWORD, DEMO_USERS};
use innkeeper_kernel::{Clock as _, Principal, SystemClock};
use innkeeper_platform::telemetry::{self, TelemetrySettings};
use innkeeper_runtime::{Config, Node, NodeOptions, Target};
use serde_json::json;

/// mimalloc instead of glibc malloc: see the dependency's comment in Cargo.toml.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::cli::{
    AdminCommand, Cli, Command, ConfigCommand, DeadLettersCommand, EventService, EventsCommand,
    KeysCommand, TargetArgs,
};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::ListTargets => {
            for (target, what) in Target::DESCRIBED {
                println!("{:<10} {what}", target.as_str());
            }
            Ok(())
        }
        Command::Config(ConfigCommand::Defaults) => {
            print!("{}", innkeeper_runtime::config::DEFAULTS);
            Ok(())
        }
        Command::Config(ConfigCommand::Print) => {
            let config = Config::load(file, &[])?;
            print!(
                "{}",
                toml::to_string_pretty(&config).context("rendering the configuration")?
            );
            Ok(())
        }
        Command::Admin(AdminCommand::Create(args)) => {
            let config = Config::load(file, &[])?;
            let password = read_password()?;
            let identity = open_identity(&config).await?;
            let user = identity
                .create_admin(&args.email, password, &args.name)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created admin {} ({})", user.email, user.id);
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate) => {
            let config = Config::load(file, &[])?;
            let identity = open_identity(&config).await?;
            let key = identity
                .rotate_keys()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "signing with key {} from now on; earlier keys stay published until their tokens expired",
                key.kid
            );
            Ok(())
        }
        Command::Keys(KeysCommand::List) => {
            let config = Config::load(file, &[])?;
            let identity = open_identity(&config).await?;
            for key in identity
                .signing_keys()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                let state = match key.retired_at {
                    None => "active".to_owned(),
                    Some(at) => format!("retired {at}"),
                };
                println!(
                    "{}  {}  created {}  {state}",
                    key.kid, key.algorithm, key.created_at
                );
            }
            Ok(())
        }
        Command::Events(EventsCommand::DeadLetters(command)) => {
            let config = Config::load(file, &[])?;
            dead_letters(&config, command).await
        }
        Command::Up(args) => {
            if args.fresh && args.data_dir.exists() {
                std::fs::remove_dir_all(&args.data_dir).with_context(|| {
                    format!("--fresh: cannot delete {}", args.data_dir.display())
                })?;
            }
            let overrides = [
                ("node.targets", json!(["all"])),
                ("node.grpc_listen", json!("")),
                ("node.data_dir", json!(args.data_dir)),
                ("node.listen", json!(args.listen.to_string())),
                // The issuer is the URL people reach, so discovery documents point here.
                ("auth.issuer", json!(format!("http://{}", args.listen))),
                // The card processor imitation is mounted here too: its checkout links and
                // its webhooks point at this listener.
                (
                    "payment_provider.public_url",
                    json!(format!("http://{}/provider", args.listen)),
                ),
                (
                    "payment_provider.webhook_url",
                    json!(format!("http://{}/api/v1/payments/webhook", args.listen)),
                ),
                (
                    "payment.provider_url",
                    json!(format!("http://{}/provider", args.listen)),
                ),
                // After paying, the checkout sends the guest back here.
                (
                    "booking.payment_return_url",
                    json!(format!("http://{}/bookings/{{id}}", args.listen)),
                ),
            ];
            let config = Config::load(file, &overrides)?;
            up(config).await
        }
        Command::Serve(args) => {
            let mut overrides = target_overrides(&args.targets)?;
            if let Some(listen) = args.listen {
                overrides.push(("node.listen", json!(listen.to_string())));
            }
            if let Some(grpc) = args.grpc_listen {
                overrides.push(("node.grpc_listen", json!(grpc.to_string())));
            }
            let config = Config::load(file, &overrides)?;
            let _telemetry = init_telemetry(&config)?;
            let node = Node::build(&config, NodeOptions::default()).await?;
            tracing::info!(http = %node.http_addr(), grpc = ?node.grpc_addr(), targets = ?config.node.targets, "node ready");
            node.run_until_stopped(innkeeper_platform::supervisor::shutdown_signal())
                .await
        }
        Command::Migrate(targets) => {
            let mut overrides = target_overrides(&targets)?;
            overrides.push(("node.listen", json!("127.0.0.1:0")));
            overrides.push(("node.grpc_listen", json!("")));
            let config = Config::load(file, &overrides)?;
            let _telemetry = init_telemetry(&config)?;
            // Building a node opens and migrates the databases of its local services.
            let one_shot = NodeOptions {
                one_shot: true,
                ..NodeOptions::default()
            };
            let node = Node::build(&config, one_shot).await?;
            tracing::info!(catalog = node.runs_catalog(), "migrations applied");
            Ok(())
        }
        Command::Seed(args) => {
            let mut overrides = target_overrides(&args.targets)?;
            overrides.push(("node.listen", json!("127.0.0.1:0")));
            overrides.push(("node.grpc_listen", json!("")));
            let config = Config::load(file, &overrides)?;
            let _telemetry = init_telemetry(&config)?;
            let one_shot = NodeOptions {
                one_shot: true,
                ..NodeOptions::default()
            };
            let node = Node::build(&config, one_shot).await?;
            let catalog = node.catalog();
            let started = Instant::now();
            let today = SystemClock.today();
            let summary = if args.bench {
                innkeeper_catalog::demo::seed_bench(
                    &catalog,
                    &Principal::DEVELOPMENT,
                    today,
                    args.hotels,
                    args.room_types,
                    args.nights,
                )
                .await?
            } else {
                innkeeper_catalog::demo::seed_demo(&catalog, &Principal::DEVELOPMENT, today).await?
            };
            if let Some(identity) = node.local_identity() {
                let created = innkeeper_identity::demo::seed_demo(&identity.service)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("demo accounts created: {}", created.len());
            }
            println!(
                "seeded {} hotels, {} room types, {} rooms in {} cities in {:.1} s",
                summary.hotels,
                summary.room_types,
                summary.rooms,
                summary.cities.len(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

fn target_overrides(args: &TargetArgs) -> anyhow::Result<Vec<(&'static str, serde_json::Value)>> {
    if args.target.is_empty() {
        return Ok(Vec::new());
    }
    let targets = args
        .target
        .iter()
        .map(|t| Target::parse(t))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(vec![("node.targets", json!(targets))])
}

fn init_telemetry(config: &Config) -> anyhow::Result<telemetry::TelemetryGuard> {
    telemetry::init(&TelemetrySettings {
        log_format: config.telemetry.log_format,
        log_filter: std::env::var("RUST_LOG")
            .unwrap_or_else(|_| config.telemetry.log_filter.clone()),
        otlp_endpoint: Some(config.telemetry.otlp_endpoint.clone()).filter(|e| !e.is_empty()),
        service_name: config.telemetry.service_name.clone(),
    })
}

async fn up(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let _telemetry = init_telemetry(&config)?;
    let node = Node::build(
        &config,
        NodeOptions {
            clock: Arc::new(SystemClock),
            one_shot: false,
        },
    )
    .await?;
    let catalog = node.catalog();
    let seeded = seed_if_empty(&catalog).await?;
    if let Some(identity) = node.local_identity() {
        innkeeper_identity::demo::seed_demo(&identity.service)
            .await
            .map_err(|e| anyhow::anyhow!("demo accounts: {e}"))?;
    }
    let addr = node.http_addr();
    let ready_ms = started.elapsed().as_millis();
    tracing::info!(%addr, ready_ms, seeded, "innkeeper is up");
    let today = SystemClock.today();
    let check_in = today + time::Duration::days(14);
    let check_out = check_in + time::Duration::days(3);
    println!();
    println!(
        "  Innkeeper is running (embedded: every service in this process, SQLite in {})",
        config.node.data_dir.display()
    );
    println!();
    println!("  API        http://{addr}/api/v1");
    println!("  API docs   http://{addr}/docs");
    println!("  Metrics    http://{addr}/metrics     Health  http://{addr}/health/ready");
    println!(
        "  Try        curl 'http://{addr}/api/v1/availability?city=Lisbon&check_in={check_in}&check_out={check_out}&guests=2'"
    );
    println!();
    println!("  Demo logins (POST /api/v1/auth/login), password {DEMO_PASSWORD}:");
    for user in DEMO_USERS {
        println!("    {:<26} {}", user.email, user.name);
    }
    println!("  Admins: innkeeper admin create --email you@example.com");
    println!(
        "  Ready in {ready_ms} ms{}. Ctrl-C stops.",
        if seeded { " (demo data seeded)" } else { "" }
    );
    println!();
    node.run_until_stopped(innkeeper_platform::supervisor::shutdown_signal())
        .await
}

/// Seeds the demo the first time (when the catalog has no hotel).
async fn seed_if_empty(catalog: &CatalogClient) -> anyhow::Result<bool> {
    let page = catalog
        .list_hotels(HotelQuery {
            limit: Some(1),
            ..HotelQuery::default()
        })
        .await?;
    if !page.items.is_empty() {
        return Ok(false);
    }
    innkeeper_catalog::demo::seed_demo(catalog, &Principal::DEVELOPMENT, SystemClock.today())
        .await?;
    Ok(true)
}

/// `innkeeper events dead-letters ...`: reads and changes the dead letters in a service's
/// database directly (the running consumers pick up retries).
async fn dead_letters(config: &Config, command: DeadLettersCommand) -> anyhow::Result<()> {
    let service = match &command {
        DeadLettersCommand::List(args) => args.database.service,
        DeadLettersCommand::Retry(args) | DeadLettersCommand::Discard(args) => {
            args.database.service
        }
    };
    let (url, key) = match service {
        EventService::Catalog => (config.catalog_database_url(), "catalog.database_url"),
        EventService::Booking => (config.booking_database_url(), "booking.database_url"),
        EventService::Payment => (config.payment_database_url(), "payment.database_url"),
    };
    let db = innkeeper_runtime::connect(config, &url, 2, key).await?;
    let letters = innkeeper_events::DeadLetters::new(db.clone());
    let hint = "reading the dead letters (has `innkeeper migrate` run on this database?)";
    let result = match command {
        DeadLettersCommand::List(args) => {
            let listed = letters.list(args.consumer.as_deref()).await.context(hint)?;
            for letter in &listed {
                println!(
                    "{}  {}  {}  subject {}  event {}  {} attempt(s)  failed {}{}",
                    letter.id,
                    letter.consumer,
                    letter.event.event_type,
                    letter.event.subject,
                    letter.event.id,
                    letter.attempts,
                    letter.failed_at,
                    if letter.retry_requested {
                        "  retry requested"
                    } else {
                        ""
                    }
                );
                println!("    error: {}", letter.error);
            }
            println!("{} dead letter(s)", listed.len());
            Ok(())
        }
        DeadLettersCommand::Retry(args) => {
            anyhow::ensure!(
                letters.retry(args.id).await.context(hint)?,
                "no dead letter {}",
                args.id
            );
            println!(
                "retry of {} requested; its consumer runs it within a second",
                args.id
            );
            Ok(())
        }
        DeadLettersCommand::Discard(args) => {
            anyhow::ensure!(
                letters.discard(args.id).await.context(hint)?,
                "no dead letter {}",
                args.id
            );
            println!("discarded {}", args.id);
            Ok(())
        }
    };
    db.close().await;
    result
}

/// The identity service on its configured database, in this process (for the CLI).
async fn open_identity(
    config: &Config,
) -> anyhow::Result<Arc<innkeeper_identity::IdentityService>> {
    let db = innkeeper_runtime::connect(
        config,
        &config.identity_database_url(),
        config.identity.max_connections,
        "identity.database_url",
    )
    .await?;
    let module = innkeeper_identity::module::IdentityModule::start(
        &db,
        Arc::new(SystemClock),
        config.identity_settings(),
    )
    .await
    .context("starting identity")?;
    Ok(module.service)
}

/// A new password: from the terminal (asked twice), or the first line of standard input when
/// it is not a terminal (scripts). Never from a flag, so it stays out of shell history and `ps`.
fn read_password() -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("reading the password")?;
        let second = rpassword::prompt_password("Again: ").context("reading the password")?;
        anyhow::ensure!(first == second, "the two passwords differ");
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let password = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        Ok(password)
    }
}
