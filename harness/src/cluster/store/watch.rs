//! Delivers a store's events to its open watches, as the API server does:
//! from a resourceVersion still in its window of history (or 410 Gone),
//! through label and field selectors, with bookmarks where asked for,
//! counting what each reader has taken. A watch whose reader falls too far
//! behind is closed, as the API server closes a blocked watcher.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{ApiStore, labels};
use crate::cluster::scope::Scope;
use crate::cluster::selector::{Filter, Selector};
use crate::cluster::status::gone;
use crate::model::Kind;
use crate::model::kinds::ApiResource;

/// How many events the store keeps for watches that resume from a
/// resourceVersion; older ones are forgotten and such watches get 410
/// Gone, as from the API server's watch cache after its window moved on.
pub const HISTORY_EVENTS: usize = 1000;

/// The most bytes of objects the history holds, whatever the count.
pub const HISTORY_BYTES: usize = 64 << 20;

/// How many events may wait for one watch's reader; a watch that has this
/// many waiting is closed (its client re-watches from where it was).
pub const WATCH_QUEUE: usize = 256;

/// One recorded change.
#[derive(Clone, Debug)]
pub(super) struct Event {
    rv: u64,
    /// About how many bytes the object holds.
    size: usize,
    res: &'static ApiResource,
    namespace: String,
    name: String,
    kind_of_event: &'static str,
    object: Value,
    /// The object before a modification that changed its labels: watches
    /// it leaves get it as DELETED, as the API server's watch cache sends
    /// the last state they matched.
    before: Option<Value>,
}

impl Event {
    /// What a watch with `selector` sees of this change, as the API server
    /// does: an object that starts matching is ADDED, one that stops is DELETED.
    fn seen_as(&self, selector: &Selector) -> Option<(&'static str, &Value)> {
        let now = selector.matches(labels(&self.object).as_ref());
        match (self.kind_of_event, &self.before) {
            ("MODIFIED", Some(before)) => match (selector.matches(labels(before).as_ref()), now) {
                (true, true) => Some(("MODIFIED", &self.object)),
                (false, true) => Some(("ADDED", &self.object)),
                (true, false) => Some(("DELETED", before)),
                (false, false) => None,
            },
            (kind, _) => now.then_some((kind, &self.object)),
        }
    }

    fn is_for(&self, t: &Scope, filter: &Filter) -> bool {
        std::ptr::eq(self.res, t.res)
            && t.covers(&self.namespace, &self.name)
            && filter.fields.matches(&self.namespace, &self.name)
    }
}

/// How many events a watch was sent and how many its reader has taken.
#[derive(Debug, Default)]
pub struct Delivery {
    sent: AtomicU64,
    taken: AtomicU64,
}

impl Delivery {
    /// Counts one event taken by the reader.
    pub fn take_one(&self) {
        self.taken.fetch_add(1, Ordering::SeqCst);
    }

    fn pending(&self) -> bool {
        self.sent.load(Ordering::SeqCst) != self.taken.load(Ordering::SeqCst)
    }
}

/// One open watch: what it asks for and where its events go.
pub(super) struct Watch {
    /// The newest resourceVersion this watch has delivered.
    last: u64,
    scope: Scope,
    filter: Filter,
    selector_text: String,
    tx: mpsc::Sender<Value>,
    delivery: Arc<Delivery>,
}

impl Watch {
    /// Queues an event; false when the watch is closed or its reader has
    /// fallen [`WATCH_QUEUE`] events behind (the watch is then dropped).
    fn send(&self, v: Value) -> bool {
        match self.tx.try_send(v) {
            Ok(()) => {
                self.delivery.sent.fetch_add(1, Ordering::SeqCst);
                true
            }
            Err(_) => false,
        }
    }
}

/// What a watch asks for beyond its scope.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// The `labelSelector`, as given (to tell watches apart).
    pub label_selector: String,
    /// The label and field selectors.
    pub filter: Filter,
    /// The resourceVersion to start after (0: the current objects first).
    pub from: u64,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `sendInitialEvents`: the current objects first, then a bookmark
    /// that ends them (with `allowWatchBookmarks`).
    pub initial_events: bool,
}

impl ApiStore {
    /// Logs a change and sends it to the watches that see it; every write
    /// goes through here, so watches and the log agree on the order.
    pub(super) fn record(
        &mut self,
        res: &'static ApiResource,
        namespace: String,
        name: String,
        kind_of_event: &'static str,
        object: Value,
        before: Option<Value>,
    ) {
        let size = serde_json::to_vec(&object).map_or(0, |b| b.len());
        let e = Event {
            rv: self.rv,
            size,
            res,
            namespace,
            name,
            kind_of_event,
            object,
            before,
        };
        self.watches.retain_mut(|w| {
            if !e.is_for(&w.scope, &w.filter) {
                return !w.tx.is_closed();
            }
            match e.seen_as(&w.filter.labels) {
                Some((t, object)) => {
                    w.last = e.rv;
                    w.send(json!({"type": t, "object": object}))
                }
                None => !w.tx.is_closed(),
            }
        });
        self.log_bytes += e.size;
        self.log.push_back(e);
        while self.log.len() > HISTORY_EVENTS || self.log_bytes > HISTORY_BYTES {
            let Some(old) = self.log.pop_front() else {
                break;
            };
            self.log_bytes -= old.size;
            self.oldest = old.rv + 1;
        }
    }

    /// Starts the history afresh at the current version: a watch from any
    /// older version gets 410 Gone (a new API server's watch cache starts
    /// at its first list, too). Open watches go on.
    pub(super) fn start_history(&mut self) {
        self.oldest = self.rv + 1;
        self.log.clear();
        self.log_bytes = 0;
    }

    /// The oldest version watches and exact lists are still served from:
    /// older ones get 410 Gone. (etcd's compaction does not move it: a
    /// real API server serves both from its watch cache's window.)
    pub fn oldest_version(&self) -> u64 {
        self.oldest
    }

    /// Ends every open watch (a dropped connection); clients re-watch.
    pub fn drop_watches(&mut self) {
        self.watches.clear();
    }

    /// Forgets the event history: a watch from any older resourceVersion
    /// gets 410 Gone and the client must list again.
    pub fn expire_history(&mut self) {
        self.start_history();
        for w in self.watches.drain(..) {
            let _ = w.send(json!({"type": "ERROR", "object": gone(w.last, self.oldest).status}));
        }
    }

    /// Opens a watch: the events after `opts.from` (or 410 Gone, or the
    /// current objects first), then every later change, on the returned
    /// channel; the counter tells how many of them the reader has taken.
    pub fn watch(
        &mut self,
        t: Scope,
        opts: &WatchOptions,
    ) -> (mpsc::Receiver<Value>, Arc<Delivery>) {
        let filter = opts.filter.clone();
        let from = opts.from;
        let mut first: Vec<Value> = Vec::new();
        if from != 0 && from.saturating_add(1) < self.oldest {
            first.push(json!({"type": "ERROR", "object": gone(from, self.oldest).status}));
        } else if from == 0 || opts.initial_events {
            // Watching from "any version" starts with the current objects, as ADDED.
            for mut v in self.all_of(t.res) {
                let (ns, name) = (
                    v["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    v["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                );
                if t.covers(&ns, &name) && filter.matches(&v) {
                    v["apiVersion"] = json!(t.res.api_version(t.version));
                    first.push(json!({"type": "ADDED", "object": v}));
                }
            }
        } else {
            for e in self.log.iter().filter(|e| e.rv > from) {
                if e.is_for(&t, &filter)
                    && let Some((kind, object)) = e.seen_as(&filter.labels)
                {
                    first.push(json!({"type": kind, "object": object}));
                }
            }
        }
        // The bookmark that ends a streaming list (client-go's WatchList):
        // only when asked for, as the API server sends it.
        let gone = first.first().is_some_and(|e| e["type"] == "ERROR");
        if opts.initial_events && opts.bookmarks && !gone {
            let meta = json!({"resourceVersion": self.rv.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}});
            first.push(json!({"type": "BOOKMARK", "object": {"kind": t.res.kind, "apiVersion": t.res.api_version(t.version), "metadata": meta}}));
        }
        let (tx, rx) = mpsc::channel(WATCH_QUEUE + first.len());
        let w = Watch {
            last: self.rv,
            scope: t,
            filter,
            selector_text: opts.label_selector.clone(),
            tx,
            delivery: Arc::default(),
        };
        for e in first {
            w.send(e);
        }
        let delivery = w.delivery.clone();
        if !gone {
            self.watches.push(w);
        }
        (rx, delivery)
    }

    /// Whether a watch of `kind` with exactly this selector is open.
    pub fn is_watched(&self, kind: Kind, selector_text: &str) -> bool {
        let res = ApiResource::of(kind);
        self.watches.iter().any(|w| {
            std::ptr::eq(w.scope.res, res) && w.selector_text == selector_text && !w.tx.is_closed()
        })
    }

    /// How many watches are open.
    pub fn open_watches(&self) -> usize {
        self.watches.iter().filter(|w| !w.tx.is_closed()).count()
    }

    /// Whether any open watch holds events its reader has not taken yet.
    pub fn has_undelivered(&self) -> bool {
        self.watches
            .iter()
            .any(|w| !w.tx.is_closed() && w.delivery.pending())
    }
}
