//! Runs `mcsdns capture`: writes a live cluster set down as a world folder,
//! its Corefile and a scenario, read-only.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mcsdns::live::capture::{CaptureOptions, capture};
use mcsdns::live::read::Narrow;
use miette::{IntoDiagnostic, Result};

#[derive(Args)]
#[command(
    after_help = "Read-only: capture makes only get and list calls and never reads Secrets.\n\
Then record today's answers with `mcsdns run --record DIR/captured.yaml`, and\n\
`mcsdns bundle` it for a bug report."
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
    /// The folder to write (world/, Corefile, captured.yaml).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
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
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .into_diagnostic()?;
    let scenario = runtime.block_on(capture(&options))?;
    println!("wrote {}", scenario.display());
    Ok(ExitCode::SUCCESS)
}
