//! Runs `mcsdns doctor`: explains what is wrong with a live multi-cluster
//! DNS set-up, read-only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use hickory_proto::rr::Name;
use mcsdns::live::doctor::{DoctorOptions, FailOn, doctor, human, json};
use mcsdns::live::read::Narrow;
use miette::{IntoDiagnostic, Result};

/// What `mcsdns doctor --help` promises about access.
pub const READ_ONLY: &str = "\
Read-only: doctor never writes to a cluster. Every API call it makes is a get,
a list, or a SubjectAccessReview (to ask whether CoreDNS's service account may
list and watch what its Corefile needs). It never reads Secrets. The fixes it
prints are commands for you to review and run.

Exit codes: 0 healthy (no finding), 1 findings (at or above --fail-on),
2 could not check (no access, no Corefile, a context that does not answer).";

#[derive(Args)]
#[command(after_help = READ_ONLY)]
pub struct DoctorArgs {
    /// The kubeconfig holding the contexts.
    #[arg(long, env = "KUBECONFIG", value_name = "FILE")]
    kubeconfig: PathBuf,
    /// The consumer's context first (whose cluster DNS is checked), then
    /// the exporting clusters' contexts.
    #[arg(long = "context", required = true, value_name = "CONTEXT")]
    contexts: Vec<String>,
    /// The namespace of the cluster DNS.
    #[arg(long, default_value = "kube-system", value_name = "NS")]
    dns_namespace: String,
    /// The ConfigMap holding the Corefile [default: the CoreDNS Deployment's, else coredns].
    #[arg(long, value_name = "NAME")]
    corefile_configmap: Option<String>,
    /// The multi-cluster zone.
    #[arg(long, default_value = "clusterset.local", value_name = "ZONE")]
    zone: String,
    /// Ask this DNS server (the cluster DNS, reachable from here, e.g.
    /// through `kubectl -n kube-system port-forward svc/kube-dns 5353:53`)
    /// for every imported name and compare with the reference resolver.
    #[arg(long, value_name = "ADDR")]
    dns: Option<SocketAddr>,
    /// The clients' search list [default: a ClusterFirst Pod's in the import's namespace].
    #[arg(long, value_delimiter = ',', value_name = "DOMAIN,...")]
    search: Option<Vec<String>>,
    /// Check only these namespaces.
    #[arg(long = "namespace", short = 'n', value_name = "NS")]
    namespaces: Vec<String>,
    /// Check only objects with these labels (`app=web`).
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    selector: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// The least severity that fails.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    fail_on: FailOn,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

fn name(s: &str) -> Result<Name> {
    let fq = if s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    };
    Name::from_ascii(&fq).into_diagnostic()
}

pub fn run(args: DoctorArgs) -> Result<ExitCode> {
    let mut options = DoctorOptions::new(args.kubeconfig, args.contexts[0].clone());
    options.others = args.contexts[1..].to_vec();
    options.dns_namespace = args.dns_namespace;
    options.corefile_configmap = args.corefile_configmap;
    options.zone = name(&args.zone)?;
    options.dns = args.dns;
    options.search = args
        .search
        .map(|s| s.iter().map(|d| name(d)).collect::<Result<Vec<_>>>())
        .transpose()?;
    options.narrow = Narrow {
        namespaces: args.namespaces,
        selector: args.selector,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    let report = runtime.block_on(doctor(&options))?;
    match args.format {
        Format::Human => print!("{}", human(&report)),
        Format::Json => println!("{}", json(&report)),
    }
    Ok(ExitCode::from(report.exit_code(args.fail_on)))
}
