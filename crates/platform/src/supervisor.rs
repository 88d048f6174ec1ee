//! Named, supervised tasks: if a critical task fails, the whole node stops and says which.
//! Shutdown (Ctrl-C, SIGTERM or a failure) cancels one token every task watches, then waits
//! for the tasks to drain, up to a grace period.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The tasks of one node.
#[derive(Debug)]
pub struct Supervisor {
    tasks: JoinSet<(String, anyhow::Result<()>)>,
    shutdown: CancellationToken,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// A supervisor with a fresh shutdown token.
    pub fn new() -> Self {
        Self {
            tasks: JoinSet::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// The token tasks watch to stop.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Runs a critical task: when it ends before shutdown (with an error or not), the node stops.
    pub fn spawn<F>(&mut self, name: impl Into<String>, task: F)
    where
        F: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let name = name.into();
        self.tasks.spawn(async move { (name, task.await) });
    }

    /// Waits until a task fails or ends, or `stop` completes; then shuts everything down and
    /// drains for at most `grace`. Returns the first failure.
    pub async fn run_until(
        mut self,
        stop: impl Future<Output = ()>,
        grace: Duration,
    ) -> anyhow::Result<()> {
        let mut failure = None;
        tokio::select! {
            () = stop => tracing::info!("shutdown requested"),
            () = self.shutdown.cancelled() => tracing::info!("shutdown requested"),
            Some(joined) = self.tasks.join_next() => {
                let (name, result) = joined.unwrap_or_else(|e| ("<panicked task>".to_owned(), Err(anyhow::anyhow!("task panicked: {e}"))));
                match result {
                    Ok(()) => tracing::error!(task = %name, "critical task ended; stopping the node"),
                    Err(ref err) => tracing::error!(task = %name, error = format!("{err:#}"), "critical task failed; stopping the node"),
                }
                failure = Some(result.err().unwrap_or_else(|| anyhow::anyhow!("task {name} ended unexpectedly")).context(format!("task {name}")));
            }
        }
        self.shutdown.cancel();
        let drain = async {
            while let Some(joined) = self.tasks.join_next().await {
                if let Ok((name, Err(err))) = joined {
                    tracing::warn!(task = %name, error = format!("{err:#}"), "task failed while stopping");
                }
            }
        };
        if tokio::time::timeout(grace, drain).await.is_err() {
            tracing::warn!(
                grace_seconds = grace.as_secs(),
                "tasks did not drain in time; aborting them"
            );
            self.tasks.abort_all();
        }
        failure.map_or(Ok(()), Err)
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_task_stops_the_node_and_is_named() {
        let mut sup = Supervisor::new();
        let token = sup.shutdown_token();
        sup.spawn("steady", async move {
            token.cancelled().await;
            Ok(())
        });
        sup.spawn("broken", async { Err(anyhow::anyhow!("disk on fire")) });
        let err = sup
            .run_until(std::future::pending(), Duration::from_secs(1))
            .await
            .expect_err("fails");
        let text = format!("{err:#}");
        assert!(
            text.contains("broken") && text.contains("disk on fire"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn stop_drains_tasks() {
        let mut sup = Supervisor::new();
        let token = sup.shutdown_token();
        let (tx, rx) = tokio::sync::oneshot::channel();
        sup.spawn("worker", async move {
            token.cancelled().await;
            let _ = tx.send("drained");
            Ok(())
        });
        sup.run_until(async {}, Duration::from_secs(1))
            .await
            .expect("clean stop");
        assert_eq!(rx.await.ok(), Some("drained"));
    }
}
