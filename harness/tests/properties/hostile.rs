//! Hostile input for the scenario loader and the bundle reader: arbitrary
//! and mutated bytes never panic and never hang, and what a bundle unpacks
//! stays in its folder. (Memory is held to a limit by `hostile_files.rs`,
//! which runs the worst inputs in a child process under `ulimit -v`.)

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use mcsdns::run::bundle::{self, Bundle, BundleError};
use mcsdns::scenario::ProjectRoot;
use mcsdns::scenario::load::{load_scenario_in, parse_scenario};
use proptest::prelude::*;

use super::worlds::cases;

/// The longest one input may take: far more than any real scenario needs.
const PATIENCE: Duration = Duration::from_secs(20);

/// Runs `f` on its own thread: a panic fails the case, and so does not
/// finishing within [`PATIENCE`].
fn within_patience<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let why = worker.join().err().and_then(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            });
            panic!("{what} panicked: {why:?}")
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} hangs (over {PATIENCE:?})"),
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built-in scenarios' texts, the seeds of mutation.
fn seeds() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["seed", "spec", "coredns", "faults"] {
        let Ok(entries) = std::fs::read_dir(repo().join("scenarios").join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                out.push(text);
            }
        }
    }
    out.sort();
    out
}

/// One edit of a text's bytes.
#[derive(Clone, Debug)]
enum Edit {
    Flip(prop::sample::Index, u8),
    Insert(prop::sample::Index, Vec<u8>),
    Delete(prop::sample::Index, usize),
    Repeat(prop::sample::Index, usize, usize),
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    let yamlish = prop::collection::vec(
        prop::sample::select(b"\n\t :-[]{}&*!|>'\"#%@`,?0123456789abcdefxyz\\\x00\xff".to_vec()),
        1..12,
    );
    prop_oneof![
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<prop::sample::Index>(), yamlish).prop_map(|(i, v)| Edit::Insert(i, v)),
        (any::<prop::sample::Index>(), 1usize..64).prop_map(|(i, n)| Edit::Delete(i, n)),
        (any::<prop::sample::Index>(), 1usize..40, 2usize..200)
            .prop_map(|(i, n, times)| Edit::Repeat(i, n, times)),
    ]
}

fn apply(text: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = text.to_vec();
    for e in edits {
        let at = |i: &prop::sample::Index| if b.is_empty() { 0 } else { i.index(b.len()) };
        match e {
            Edit::Flip(i, v) if !b.is_empty() => {
                let i = at(i);
                b[i] = *v;
            }
            Edit::Flip(..) => {}
            Edit::Insert(i, v) => {
                let i = at(i);
                b.splice(i..i, v.iter().copied());
            }
            Edit::Delete(i, n) => {
                let i = at(i);
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Edit::Repeat(i, n, times) => {
                let i = at(i);
                let piece: Vec<u8> = b[i..(i + n).min(b.len())].to_vec();
                let copies: Vec<u8> = piece.repeat(*times);
                b.splice(i..i, copies);
            }
        }
    }
    b
}

/// Loads `bytes` as a scenario of the built-in suite (so that its fixture
/// paths resolve), as the loader reads a file: lossy UTF-8 never reaches
/// it, a file that is not UTF-8 is an error.
fn load_bytes(bytes: Vec<u8>) -> Result<(), String> {
    within_patience("the scenario loader", move || {
        let root = repo().join("scenarios");
        let text = match String::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        parse_scenario(&root.join("fuzz/case.yaml"), &root, &text)
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

/// Reads `bytes` as a bundle file; if it is one, unpacks and loads it
/// (without running it). Whatever is unpacked stays in its folder.
fn read_bundle_bytes(bytes: Vec<u8>) -> Result<(), String> {
    within_patience("the bundle reader", move || {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let file = dir.path().join("bundle.json");
        std::fs::write(&file, &bytes).map_err(|e| e.to_string())?;
        let b = bundle::read(&file).map_err(|e| e.to_string())?;
        unpack_and_load(&b)
    })
}

fn unpack_and_load(b: &Bundle) -> Result<(), String> {
    let unpacked = match bundle::unpack(b) {
        Ok(u) => u,
        Err(e @ (BundleError::Escapes(_) | BundleError::Io { .. })) => return Err(e.to_string()),
        Err(e) => panic!("unpacking can only refuse a path or fail to write: {e}"),
    };
    let dir = unpacked.dir().canonicalize().unwrap();
    let mut stack = vec![dir.clone()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let t = e.file_type().unwrap();
            assert!(
                !t.is_symlink(),
                "unpacking made a link: {}",
                e.path().display()
            );
            assert!(e.path().canonicalize().unwrap().starts_with(&dir));
            if t.is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
            }
        }
    }
    assert!(files <= b.files.len() + 1);
    let root = ProjectRoot::at(unpacked.dir());
    load_scenario_in(&unpacked.scenario, unpacked.dir(), &root)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A built-in scenario with a few edits.
fn arb_text() -> impl Strategy<Value = String> {
    (
        prop::sample::select(seeds()),
        prop::collection::vec(arb_edit(), 0..4),
    )
        .prop_map(|(s, e)| String::from_utf8_lossy(&apply(s.as_bytes(), &e)).into_owned())
}

/// A bundle whose file names and texts are generated: names with `..`,
/// `/`, `.` and empty parts, texts mutated from real fixtures.
fn arb_bundle() -> impl Strategy<Value = Bundle> {
    let part = prop::sample::select(vec![
        "fixtures", "c1", "..", ".", "", "a.yaml", "s.yaml", "/", "x",
    ]);
    let name = prop::collection::vec(part, 1..5).prop_map(|p| p.join("/"));
    (
        prop::collection::btree_map(name, arb_text(), 0..4),
        arb_text(),
        prop::sample::select(vec!["s.yaml", "../s.yaml", "", "a/s.yaml", "."]),
    )
        .prop_map(|(files, scenario, scenario_name)| Bundle {
            format: bundle::FORMAT.into(),
            mcsdns_version: "0".into(),
            target: "reference".into(),
            profile: "kep1645".into(),
            scenario_name: scenario_name.into(),
            scenario,
            files,
            status: "passed".into(),
            transcript: String::new(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Any bytes: the loader answers (a scenario or an error), never panics
    /// or hangs.
    #[test]
    fn arbitrary_bytes_never_break_the_scenario_loader(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = load_bytes(bytes);
    }

    /// Real scenarios with a few edits: close enough to the format to reach
    /// deep into the loader.
    #[test]
    fn mutated_scenarios_never_break_the_loader(seed in prop::sample::select(seeds()), edits in prop::collection::vec(arb_edit(), 1..6)) {
        let _ = load_bytes(apply(seed.as_bytes(), &edits));
    }

    /// Any bytes as a bundle file: read, unpacked and loaded or refused,
    /// never a panic or a hang.
    #[test]
    fn arbitrary_bytes_never_break_the_bundle_reader(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_bundle_bytes(bytes);
    }

    /// Generated bundles with hostile names: what unpacks stays in the
    /// replay folder, as plain files; everything else is refused.
    #[test]
    fn a_bundle_unpacks_only_inside_its_folder(b in arb_bundle()) {
        let text = serde_json::to_vec(&b).unwrap();
        let _ = read_bundle_bytes(text);
    }
}

/// The shapes that break YAML readers: deep nesting, alias expansion,
/// enormous scalars, tags and anchors everywhere. Each is answered in time.
#[test]
fn pathological_yaml_is_answered_in_time() {
    let mut cases: Vec<(&str, String)> = vec![
        (
            "deep flow nesting",
            format!("world: {}{}", "[".repeat(100_000), "]".repeat(100_000)),
        ),
        (
            "deep block nesting",
            (0..2_000)
                .map(|i| format!("{}a:\n", " ".repeat(i)))
                .collect(),
        ),
        (
            "deep maps",
            format!("world: {}1{}", "{a: ".repeat(50_000), "}".repeat(50_000)),
        ),
        (
            "a long plain scalar",
            format!("name: {}\n", "x".repeat(5_000_000)),
        ),
        ("many documents", "---\n".repeat(200_000)),
        (
            "unclosed quote",
            format!("name: \"{}", "y".repeat(1_000_000)),
        ),
    ];
    // Billion laughs: each level refers to the one before ten times.
    let mut laughs = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        laughs.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    laughs
        .push_str("world: {c1: [{inline: *a9}]}\nresolver: {cluster: c1}\nsteps: [{query: a A}]\n");
    cases.push(("alias expansion", laughs));
    for (what, text) in cases {
        let r = load_bytes(text.into_bytes());
        assert!(r.is_err(), "{what}: loaded");
    }
}

/// The seeds of mutation load as they are, so the mutations start from
/// inputs that reach every part of the loader.
#[test]
fn the_seeds_load_unchanged() {
    let seeds = seeds();
    assert!(seeds.len() > 40, "{} seeds", seeds.len());
    for s in seeds {
        load_bytes(s.into_bytes()).unwrap();
    }
}
