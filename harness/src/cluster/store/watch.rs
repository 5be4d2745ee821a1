//! Delivers a store's events to its open watches, as the API server does:
//! from a resourceVersion (or 410 Gone), through label selectors, with
//! bookmarks, counting what each reader has taken.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{ApiStore, labels};
use crate::cluster::scope::{Scope, Selector};
use crate::cluster::status::gone;
use crate::model::Kind;
use crate::model::kinds::ApiResource;

/// One recorded change.
#[derive(Clone, Debug)]
pub(super) struct Event {
    rv: u64,
    res: &'static ApiResource,
    namespace: String,
    name: String,
    kind_of_event: &'static str,
    object: Value,
    /// The labels before a modification, to tell selector transitions.
    old_labels: Option<Option<BTreeMap<String, String>>>,
}

impl Event {
    /// What a watch with `selector` sees of this change, as the API server
    /// does: an object that starts matching is ADDED, one that stops is DELETED.
    fn seen_as(&self, selector: &Selector) -> Option<&'static str> {
        let now = selector.matches(labels(&self.object).as_ref());
        match (self.kind_of_event, &self.old_labels) {
            ("MODIFIED", Some(old)) => match (selector.matches(old.as_ref()), now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
            (kind, _) => now.then_some(kind),
        }
    }

    fn is_for(&self, t: &Scope) -> bool {
        std::ptr::eq(self.res, t.res) && t.covers(&self.namespace, &self.name)
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
    selector: Selector,
    selector_text: String,
    tx: mpsc::UnboundedSender<Value>,
    delivery: Arc<Delivery>,
}

impl Watch {
    fn send(&self, v: Value) -> bool {
        self.delivery.sent.fetch_add(1, Ordering::SeqCst);
        self.tx.send(v).is_ok()
    }
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
        old_labels: Option<Option<BTreeMap<String, String>>>,
    ) {
        let e = Event {
            rv: self.rv,
            res,
            namespace,
            name,
            kind_of_event,
            object,
            old_labels,
        };
        self.watches.retain_mut(|w| {
            if !e.is_for(&w.scope) {
                return !w.tx.is_closed();
            }
            match e.seen_as(&w.selector) {
                Some(t) => {
                    w.last = e.rv;
                    w.send(json!({"type": t, "object": e.object}))
                }
                None => !w.tx.is_closed(),
            }
        });
        self.log.push(e);
    }

    /// Ends every open watch (a dropped connection); clients re-watch.
    pub fn drop_watches(&mut self) {
        self.watches.clear();
    }

    /// Forgets the event history: a watch from any older resourceVersion
    /// gets 410 Gone and the client must list again.
    pub fn expire_history(&mut self) {
        self.oldest = self.rv + 1;
        self.log.clear();
        for w in self.watches.drain(..) {
            let _ = w.send(json!({"type": "ERROR", "object": gone(w.last, self.oldest).status}));
        }
    }

    /// Opens a watch from `from`: the events after it (or 410 Gone), then
    /// every later change, on the returned channel; the counter tells how
    /// many of them the reader has taken.
    pub fn watch(
        &mut self,
        t: Scope,
        selector_text: &str,
        from: u64,
    ) -> (mpsc::UnboundedReceiver<Value>, Arc<Delivery>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let selector = Selector::parse(selector_text);
        let mut w = Watch {
            last: from.max(self.oldest.saturating_sub(1)),
            scope: t,
            selector,
            selector_text: selector_text.to_owned(),
            tx,
            delivery: Arc::default(),
        };
        if from != 0 && from.saturating_add(1) < self.oldest {
            let _ = w.send(json!({"type": "ERROR", "object": gone(from, self.oldest).status}));
            return (rx, w.delivery);
        }
        if from == 0 {
            // Watching from "any version" starts with the current objects, as ADDED.
            for mut v in self.all_of(w.scope.res) {
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
                if w.scope.covers(&ns, &name) && w.selector.matches(labels(&v).as_ref()) {
                    v["apiVersion"] = json!(w.scope.res.api_version(w.scope.version));
                    let _ = w.send(json!({"type": "ADDED", "object": v}));
                }
            }
        } else {
            for e in self.log.iter().filter(|e| e.rv > from) {
                if e.is_for(&w.scope)
                    && let Some(t) = e.seen_as(&w.selector)
                {
                    w.last = e.rv;
                    let _ = w.send(json!({"type": t, "object": e.object}));
                }
            }
        }
        w.last = w.last.max(self.rv);
        // A bookmark tells the client how far it has seen, even with no
        // event. After initial events it carries the annotation that ends a
        // streaming list (client-go's WatchList, `sendInitialEvents=true`).
        let mut meta = json!({"resourceVersion": self.rv.to_string()});
        if from == 0 {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let _ = w.send(json!({"type": "BOOKMARK", "object": {"kind": w.scope.res.kind, "apiVersion": w.scope.res.api_version(w.scope.version), "metadata": meta}}));
        let delivery = w.delivery.clone();
        self.watches.push(w);
        (rx, delivery)
    }

    /// Whether a watch of `kind` with exactly this selector is open.
    pub fn is_watched(&self, kind: Kind, selector_text: &str) -> bool {
        let res = ApiResource::of(kind);
        self.watches.iter().any(|w| {
            std::ptr::eq(w.scope.res, res) && w.selector_text == selector_text && !w.tx.is_closed()
        })
    }

    /// Whether any open watch holds events its reader has not taken yet.
    pub fn has_undelivered(&self) -> bool {
        self.watches
            .iter()
            .any(|w| !w.tx.is_closed() && w.delivery.pending())
    }
}
