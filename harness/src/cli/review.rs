//! Runs `mcsdns review`: shows each pending snapshot's changed answers and
//! accepts or rejects it, one by one (`cargo insta review` reads the same
//! files).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use mcsdns::run::snapshot;
use mcsdns::run::suite::suite_root;
use miette::{IntoDiagnostic, Result};

#[derive(Args)]
pub struct ReviewArgs {
    /// Scenario files or folders: their suites' pending snapshots are reviewed.
    #[arg(default_value = "scenarios")]
    paths: Vec<PathBuf>,
    /// Accept every pending snapshot without asking.
    #[arg(long, conflicts_with = "reject_all")]
    accept_all: bool,
    /// Reject every pending snapshot without asking.
    #[arg(long)]
    reject_all: bool,
}

/// What to do with one pending snapshot.
enum Choice {
    Accept,
    Reject,
    Skip,
    Quit,
}

/// Reviews every pending snapshot.
pub fn run(args: ReviewArgs) -> Result<ExitCode> {
    let mut roots: Vec<PathBuf> = args.paths.iter().map(|p| suite_root(p)).collect();
    roots.dedup();
    let pending = snapshot::pending(&roots).into_diagnostic()?;
    if pending.is_empty() {
        println!("no pending snapshots");
        return Ok(ExitCode::SUCCESS);
    }
    let stdin = std::io::stdin();
    let mut answers = stdin.lock().lines();
    let (mut accepted, mut rejected, mut left) = (0, 0, 0);
    for (i, p) in pending.iter().enumerate() {
        println!(
            "\n{} ({}/{}): the answers now, against {}",
            p.display(),
            i + 1,
            pending.len(),
            snapshot::accepted_path(p).display()
        );
        print!("{}", snapshot::review_diff(p).into_diagnostic()?);
        let choice = if args.accept_all {
            Choice::Accept
        } else if args.reject_all {
            Choice::Reject
        } else {
            ask(&mut answers)
        };
        match choice {
            Choice::Accept => {
                snapshot::accept(p).into_diagnostic()?;
                println!("accepted");
                accepted += 1;
            }
            Choice::Reject => {
                snapshot::reject(p).into_diagnostic()?;
                println!("rejected");
                rejected += 1;
            }
            Choice::Skip => left += 1,
            Choice::Quit => {
                left += pending.len() - i;
                break;
            }
        }
    }
    println!("{accepted} accepted, {rejected} rejected, {left} left pending");
    Ok(ExitCode::SUCCESS)
}

/// Asks until the answer is one of a, r, s or q; the end of input quits.
fn ask(answers: &mut impl Iterator<Item = std::io::Result<String>>) -> Choice {
    loop {
        print!("accept (a), reject (r), skip (s) or quit (q)? ");
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let Some(Ok(line)) = answers.next() else {
            println!();
            return Choice::Quit;
        };
        match line.trim() {
            "a" | "accept" => return Choice::Accept,
            "r" | "reject" => return Choice::Reject,
            "s" | "skip" => return Choice::Skip,
            "q" | "quit" => return Choice::Quit,
            _ => {}
        }
    }
}
