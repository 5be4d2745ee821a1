//! Simulates the controllers that write what DNS reads: Karmada 1.6's MCS
//! controllers (with placement by policy), the mcs-api reference controller
//! and Submariner's lighthouse-agent.
//!
//! Each model reads and writes the clusters' objects through the
//! Kubernetes API (`cluster::rest`, the code the mock and the emulator
//! serve), one API per cluster of the world, and writes what the real
//! controller writes: the same names, fields, labels and conditions, and
//! the same bugs (`docs/controllers.md`, from the reference's reading of
//! each controller's source). A pass runs every reconciler once; the
//! models run pass after pass until nothing changes, and the journal of
//! writes is what the runner shows and forwards to the target.

pub mod api;
pub mod karmada;
pub mod mcsapi;
pub mod submariner;

use std::time::{Duration, Instant};

pub use api::{Apis, Verb, Write};

use crate::model::World;

/// A controller a scenario can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ControllerKind {
    /// Karmada v1.6.1: propagation and `pkg/controllers/mcs/`.
    Karmada16,
    /// The kubernetes-sigs/mcs-api reference controller.
    McsApi,
    /// Submariner's lighthouse-agent.
    Submariner,
}

impl ControllerKind {
    /// Every controller, as the docs list them.
    pub const ALL: [ControllerKind; 3] = [
        ControllerKind::Karmada16,
        ControllerKind::McsApi,
        ControllerKind::Submariner,
    ];

    /// The name scenario files use.
    pub fn as_str(self) -> &'static str {
        match self {
            ControllerKind::Karmada16 => "karmada-1.6",
            ControllerKind::McsApi => "mcs-api",
            ControllerKind::Submariner => "submariner",
        }
    }

    /// The controller a scenario file names.
    pub fn parse(name: &str) -> Option<ControllerKind> {
        ControllerKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The cluster the world must hold for it, if any (the Karmada control
    /// plane, the Submariner broker).
    pub fn needs_cluster(self) -> Option<&'static str> {
        match self {
            ControllerKind::Karmada16 => Some(karmada::CONTROL_PLANE),
            ControllerKind::McsApi => None,
            ControllerKind::Submariner => Some(submariner::BROKER),
        }
    }
}

impl std::fmt::Display for ControllerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many passes a reaction may take before the models are said not to settle.
pub const MAX_PASSES: usize = 16;

/// What one reaction did.
#[derive(Clone, Debug, Default)]
pub struct Reaction {
    /// Every object written, changed, deleted or refused, in order.
    pub writes: Vec<Write>,
    /// Passes run.
    pub passes: usize,
    /// Whether the models stopped writing (false: cut at [`MAX_PASSES`]).
    pub settled: bool,
    /// Wall-clock time the reaction took.
    pub took: Duration,
}

/// The controllers of a scenario, over their own view of every cluster.
pub struct Controllers {
    kinds: Vec<ControllerKind>,
    apis: Apis,
    mcs_api: mcsapi::Memory,
    submariner: submariner::Memory,
}

impl Controllers {
    /// The controllers `kinds`, over an API per cluster of `world`.
    pub fn new(world: &World, kinds: &[ControllerKind]) -> Controllers {
        Controllers {
            kinds: kinds.to_vec(),
            apis: Apis::of(world),
            mcs_api: mcsapi::Memory::default(),
            submariner: submariner::Memory::default(),
        }
    }

    /// The controllers that run.
    pub fn kinds(&self) -> &[ControllerKind] {
        &self.kinds
    }

    /// The API of one cluster, to mirror a scenario's change into.
    pub fn api(&self, cluster: &str) -> Option<&crate::cluster::store::SharedApi> {
        self.apis.api(cluster)
    }

    /// The hand-set ips the mcs-api controller replaced so far.
    pub fn overwritten(&self) -> &[mcsapi::Overwrite] {
        &self.mcs_api.overwritten
    }

    /// Runs every controller, pass after pass, until a pass writes nothing.
    pub fn react(&mut self) -> Reaction {
        let started = Instant::now();
        let mut reaction = Reaction::default();
        while reaction.passes < MAX_PASSES {
            reaction.passes += 1;
            for kind in &self.kinds {
                match kind {
                    ControllerKind::Karmada16 => karmada::reconcile(&mut self.apis),
                    ControllerKind::McsApi => mcsapi::reconcile(&mut self.apis, &mut self.mcs_api),
                    ControllerKind::Submariner => {
                        submariner::reconcile(&mut self.apis, &mut self.submariner)
                    }
                }
            }
            let pass = self.apis.take_journal();
            let changed = pass.iter().any(|w| w.verb != Verb::Refused);
            reaction.writes.extend(pass);
            if !changed {
                reaction.settled = true;
                break;
            }
        }
        reaction.took = started.elapsed();
        reaction
    }
}
