//! Runs `mcsdns capture`: writes a live cluster set down as a world folder,
//! its Corefile and a scenario with today's answers recorded, read-only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use mcsdns::live::capture::{CaptureOptions, capture, record};
use mcsdns::live::read::Narrow;
use miette::{IntoDiagnostic, Result};

#[derive(Args)]
#[command(
    after_help = "Read-only: capture makes only get and list calls and never reads Secrets.\n\
The scenario's expectations are the reference resolver's answers (profile coredns, the\n\
captured objects and Corefile), recorded as `mcsdns run --record` writes them; then\n\
`mcsdns bundle DIR/captured.yaml` makes a bug report that `mcsdns replay` reproduces.\n\
\n\
--anonymize renames namespaces (ns-N), services (svc-N), EndpointSlices (slice-N),\n\
endpoint hostnames (host-N), label keys and values (label-N, value-N; kubernetes.io and\n\
k8s.io keys kept), RBAC names and subjects (role-N, binding-N, sa-N, user-N, group-N) and\n\
external names (external-N.example), and remaps every address (ClusterIPs, endpoint\n\
addresses, ServiceImport ips, the Corefile's: IPv4 into 10.0.0.0/8, IPv6 into fd00::/8),\n\
the same way in every cluster, the Corefile and the scenario. It drops annotations,\n\
endpoints' nodeName, targetRef and zone, and the Corefile's comment lines. Kept:\n\
kube-system, default, kube-public, kube-node-lease, kube-dns, kubernetes, system: names,\n\
cluster names (as given by --context), zones, port names and numbers, loopback addresses.\n\
The mapping is decided by --seed: the same capture and seed give the same files."
)]
pub struct CaptureArgs {
    /// The kubeconfig holding the contexts.
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: PathBuf,
    /// The consumer's context first, then the others; `CONTEXT:NAME` names the cluster.
    #[arg(long = "context", required = true, value_name = "CONTEXT[:NAME]")]
    contexts: Vec<String>,
    /// Capture only these namespaces.
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    namespaces: Vec<String>,
    /// Capture only objects with these labels.
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    selector: Option<String>,
    /// The folder to write (world/, Corefile, captured.yaml, snapshots/).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    /// Rename namespaces, services and the rest and remap addresses, for a
    /// report that leaves the company (see below for what is kept).
    #[arg(long)]
    anonymize: bool,
    /// The seed of --anonymize's mapping.
    #[arg(long, default_value_t = 0, value_name = "N", requires = "anonymize")]
    seed: u64,
    /// The live cluster DNS: ask it every question too and note, above each
    /// step, where it disagrees with the recorded answer.
    #[arg(long, value_name = "ADDR")]
    dns: Option<SocketAddr>,
    /// How long to wait for each live answer, in seconds.
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    dns_timeout: u64,
}

pub fn run(args: CaptureArgs) -> Result<ExitCode> {
    let contexts = args
        .contexts
        .iter()
        .map(|c| match c.split_once(':') {
            Some((ctx, name)) => (ctx.to_owned(), name.to_owned()),
            None => (c.clone(), c.clone()),
        })
        .collect();
    let options = CaptureOptions {
        kubeconfig: args.kubeconfig,
        contexts,
        narrow: Narrow {
            namespaces: args.namespaces,
            selector: args.selector,
        },
        out: args.out,
        anonymize: args.anonymize.then_some(args.seed),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    let captured = runtime.block_on(capture(&options))?;
    drop(runtime);
    let recorded = record(
        &captured,
        args.dns.map(|a| (a, Duration::from_secs(args.dns_timeout))),
    )?;
    for line in &recorded.written {
        println!("{line}");
    }
    println!(
        "wrote {} ({} question(s), the recorded run {})",
        captured.scenario.display(),
        captured.asked.len(),
        if recorded.passed() { "passes" } else { "fails" }
    );
    if let Some(addr) = args.dns {
        println!(
            "live DNS {addr}: {} of {} question(s) answered otherwise (noted above their steps)",
            recorded.disagreements.len(),
            recorded.asked_live
        );
        for d in &recorded.disagreements {
            println!("  {}: live {}, recorded {}", d.question, d.live, d.recorded);
        }
    }
    Ok(if recorded.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
