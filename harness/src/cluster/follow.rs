//! Keeps a DNS server's view current from a real (or emulated) Kubernetes
//! API reached through a kubeconfig: the watchers of [`super::watch`] fill
//! the view, and every change is published to the server's snapshot.
//!
//! Like CoreDNS, serving waits for the first list of every source (bounded):
//! a resolver that answered before it had listed would deny names that exist.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

use super::watch::{Retry, SharedState, WatchState, spawn};
use crate::resolver::server::SharedSnapshot;
use crate::resolver::view::Sync;

/// Why the API could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The kubeconfig could not be read.
    #[error("cannot read the kubeconfig {path}: {source}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// The cause.
        source: kube::config::KubeconfigError,
    },
    /// The client could not be built from it.
    #[error("cannot build a client for context {context:?}: {source}")]
    Client {
        /// The context.
        context: String,
        /// The cause.
        source: Box<dyn std::error::Error + Send + std::marker::Sync>,
    },
}

/// A client for `context` (the kubeconfig's current one when `None`),
/// optionally as another of its users.
pub async fn client(
    path: &Path,
    context: Option<&str>,
    user: Option<&str>,
) -> Result<kube::Client, FollowError> {
    let kc = Kubeconfig::read_from(path).map_err(|source| FollowError::Kubeconfig {
        path: path.display().to_string(),
        source,
    })?;
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        cluster: None,
        user: user.map(str::to_owned),
    };
    let name = context.unwrap_or("(current)").to_owned();
    let mut config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .map_err(|e| FollowError::Client {
            context: name.clone(),
            source: Box::new(e),
        })?;
    // The watchers retry every second themselves (as in process); the
    // client's own exponential retries of 503s would hide an outage's end
    // for up to a minute and its errors from the view's sync state.
    config.default_retry = false;
    kube::Client::try_from(config).map_err(|e| FollowError::Client {
        context: name,
        source: Box::new(e),
    })
}

/// Starts the watchers on `client` and waits until every source has listed
/// or failed once, at most `wait`. Returns the shared state.
pub async fn start(client: &kube::Client, wait: Duration) -> SharedState {
    let state: SharedState = Arc::new(Mutex::new(WatchState::default()));
    // A server retries a lost API more and more slowly, one log line a retry.
    spawn(client, &state, Retry::Growing);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let pending = state
            .lock()
            .map(|s| s.sync.values().any(|v| *v == Sync::Pending))
            .unwrap_or(false);
        if !pending || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    state
}

/// Publishes the view to `snapshot` after every change, and logs each new
/// watch error once, until the runtime stops.
pub fn publish(state: SharedState, snapshot: SharedSnapshot) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let changed = match state.lock() {
            Ok(s) => s.changed.clone(),
            Err(_) => return,
        };
        let mut logged = 0;
        loop {
            let notified = changed.notified();
            let view = match state.lock() {
                Ok(s) => {
                    let (new, total) = s.errors_since(logged);
                    for e in new {
                        tracing::warn!("{e}");
                    }
                    logged = total;
                    s.view.clone()
                }
                Err(_) => return,
            };
            snapshot.store_view(view);
            notified.await;
        }
    })
}
