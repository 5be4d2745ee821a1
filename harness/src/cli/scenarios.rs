//! Chooses the scenarios a command runs: files and folders, filtered by id
//! and tag; a file that does not load stops the command before it runs.

use std::path::PathBuf;

use clap::Args;
use mcsdns::run::suite::{self, LoadError, Loaded, Selection};

/// Which scenarios a command runs.
#[derive(Args)]
pub struct ScenarioArgs {
    /// Scenario files or folders.
    #[arg(default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
    /// Run only scenarios whose id contains this (repeatable).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Run only scenarios with this tag (repeatable).
    #[arg(long)]
    pub tag: Vec<String>,
}

impl ScenarioArgs {
    /// Loads the scenarios under `paths` that pass the filters.
    pub fn load(&self) -> miette::Result<Vec<Loaded>> {
        let selection = Selection {
            filters: self.filter.clone(),
            tags: self.tag.clone(),
        };
        let loaded = load(&self.paths, &selection)?;
        if loaded.is_empty() {
            return Err(miette::miette!("no scenario found under the paths given"));
        }
        Ok(loaded)
    }
}

/// Loads every scenario under `paths` that `selection` keeps; each file that
/// does not load is reported with its line and column.
pub fn load(paths: &[PathBuf], selection: &Selection) -> miette::Result<Vec<Loaded>> {
    suite::load_paths(paths, selection).map_err(|e| {
        if let LoadError::Invalid(errors) = &e {
            for err in errors {
                eprintln!("{:?}", miette::Report::new(err.clone()));
            }
        }
        miette::miette!("{e}")
    })
}
