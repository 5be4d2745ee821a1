//! Loading worlds: the seed as it is, and bad manifests that must be
//! reported with file, line, column and field, loading nothing.

use std::path::{Path, PathBuf};

use mcsdns::model::{Kind, ObjectKey, World, WorldError, parse_manifests};

fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seed")
}

#[test]
fn the_seed_world_loads_with_unused_kinds_listed() {
    let world = World::load(&seed()).unwrap();
    assert_eq!(
        world.clusters.keys().collect::<Vec<_>>(),
        ["member1", "member2"]
    );
    let m1 = &world.clusters["member1"];
    let others: Vec<&str> = m1.others.iter().map(|(o, _)| o.kind.as_str()).collect();
    assert!(
        others.contains(&"Deployment")
            && others.contains(&"PropagationPolicy")
            && others.contains(&"ClusterPropagationPolicy")
    );
    // The seed's ServiceExport has no spec and no namespace: loaded into default.
    assert!(
        m1.objects
            .contains_key(&ObjectKey::new(Kind::ServiceExport, "default", "serve"))
    );
    let import = &world.clusters["member2"].objects
        [&ObjectKey::new(Kind::ServiceImport, "default", "serve")];
    assert_eq!(import.origin.as_ref().unwrap().line, 3);
}

struct Bad {
    text: &'static str,
    line: usize,
    column: usize,
    message: &'static str,
}

#[test]
fn bad_manifests_name_file_line_column_and_field() {
    let cases = [
        Bad {
            text: "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n  - port: eighty\n",
            line: 6,
            column: 11,
            message: "Service a: field spec.ports[0].port: invalid",
        },
        Bad {
            text: "apiVersion: v2\nkind: Service\nmetadata: {name: a}\n",
            line: 1,
            column: 1,
            message: "Service a: unknown apiVersion \"v2\"",
        },
        Bad {
            text: "apiVersion: discovery.k8s.io/v1beta1\nkind: EndpointSlice\nmetadata: {name: a}\n",
            line: 1,
            column: 1,
            message: "unknown apiVersion",
        },
        Bad {
            text: "kind: Service\nmetadata: {name: a}\n",
            line: 1,
            column: 1,
            message: "no apiVersion or kind",
        },
        Bad {
            text: "apiVersion: v1\nkind: Service\nmetadata:\n  labels: {}\n",
            line: 1,
            column: 1,
            message: "metadata.name is required",
        },
        Bad {
            text: "apiVersion: v1\nkind: Service\nmetadata: {name: [\n",
            line: 3,
            column: 18,
            message: "invalid YAML",
        },
        Bad {
            text: "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n- just\n- a list\n",
            line: 6,
            column: 1,
            message: "must be a mapping",
        },
        Bad {
            text: "apiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata: {name: s}\nspec:\n  ips: 10.0.0.1\n",
            line: 5,
            column: 8,
            message: "ServiceImport s: field spec.ips",
        },
        Bad {
            text: "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nmetadata: {name: b}\n",
            line: 4,
            column: 1,
            message: "duplicate mapping key",
        },
    ];
    for case in cases {
        let e = parse_manifests(Path::new("bad.yaml"), case.text, 1).expect_err(case.text);
        assert_eq!(
            (e.line, e.column),
            (case.line, case.column),
            "{}\n=> {e}",
            case.text
        );
        assert!(e.message.contains(case.message), "{}\n=> {e}", case.text);
        assert!(
            e.to_string()
                .starts_with(&format!("bad.yaml:{}:{}: ", case.line, case.column))
        );
    }
}

#[test]
fn embedded_manifests_report_lines_of_the_enclosing_file() {
    let e = parse_manifests(
        Path::new("scenario.yaml"),
        "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec:\n  ports:\n  - port: x\n",
        20,
    )
    .unwrap_err();
    assert_eq!(e.line, 25);
}

#[test]
fn duplicate_objects_across_files_load_nothing() {
    let dir = tempdir("dup");
    let c = dir.join("c1");
    std::fs::create_dir_all(&c).unwrap();
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: a, namespace: x}\n";
    std::fs::write(c.join("a.yaml"), svc).unwrap();
    std::fs::write(
        c.join("b.yaml"),
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: x}}\n---\n{svc}"),
    )
    .unwrap();
    match World::load(&dir) {
        Err(WorldError::Manifests { errors, .. }) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].line, 5);
            assert!(
                errors[0].message.contains("duplicate Service x/a"),
                "{}",
                errors[0]
            );
            assert!(errors[0].hint.as_deref().unwrap().contains("a.yaml:1"));
        }
        other => panic!("expected a duplicate error, got {other:?}"),
    }
}

#[test]
fn every_bad_file_of_a_world_is_reported() {
    let dir = tempdir("many");
    for c in ["c1", "c2"] {
        std::fs::create_dir_all(dir.join(c)).unwrap();
        std::fs::write(
            dir.join(c).join("x.yaml"),
            "apiVersion: v9\nkind: Service\nmetadata: {name: a}\n",
        )
        .unwrap();
    }
    let Err(WorldError::Manifests { errors, .. }) = World::load(&dir) else {
        panic!("must fail")
    };
    assert_eq!(errors.len(), 2);
}

#[test]
fn a_folder_without_clusters_is_an_error() {
    let dir = tempdir("empty");
    assert!(matches!(
        World::load(&dir),
        Err(WorldError::NoClusters { .. })
    ));
    assert!(matches!(
        World::load(&dir.join("missing")),
        Err(WorldError::Folder { .. })
    ));
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mcsdns-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` ServiceImports in namespaces of 100, as one multi-document file.
fn imports_yaml(n: usize) -> String {
    let mut text = String::with_capacity(n * 320);
    for i in 0..n {
        if i % 100 == 0 {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{}\n",
                i / 100
            ));
        }
        text.push_str(&format!(
            "---\napiVersion: multicluster.x-k8s.io/v1alpha1\nkind: ServiceImport\nmetadata:\n  name: svc-{i}\n  namespace: ns-{}\nspec:\n  type: ClusterSetIP\n  ips: [10.{}.{}.{}]\n  ports:\n  - name: http\n    protocol: TCP\n    port: 80\n",
            i / 100,
            100 + i / 65536,
            (i / 256) % 256,
            i % 256
        ));
    }
    text
}

#[test]
fn a_world_file_of_100000_documents_loads() {
    let dir = tempdir("large");
    std::fs::create_dir_all(dir.join("c1")).unwrap();
    let n = 100_000;
    std::fs::write(dir.join("c1/imports.yaml"), imports_yaml(n)).unwrap();
    let world = World::load(&dir).unwrap_or_else(|e| panic!("{e:?}"));
    let c1 = &world.clusters["c1"];
    let imports = c1
        .objects
        .keys()
        .filter(|k| k.kind == Kind::ServiceImport)
        .count();
    assert_eq!(imports, n);
    // Spans still point into the file.
    let last = &c1.objects[&ObjectKey::new(Kind::ServiceImport, "ns-999", "svc-99999")];
    let origin = last.origin.as_ref().unwrap();
    let text = std::fs::read_to_string(dir.join("c1/imports.yaml")).unwrap();
    let line = text.lines().nth(origin.line - 1).unwrap();
    assert_eq!(line, "apiVersion: multicluster.x-k8s.io/v1alpha1");
    // An error deep in the file names its own line.
    let bad = imports_yaml(3000).replace("name: svc-2999\n", "name: svc-2999\n  labels: [x]\n");
    let e = parse_manifests(Path::new("big.yaml"), &bad, 1).unwrap_err();
    let expected = bad.lines().position(|l| l == "  labels: [x]").unwrap() + 1;
    assert_eq!(e.line, expected, "{e}");
    assert!(e.message.contains("field metadata.labels"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_alias_bomb_is_refused_in_plain_words() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: lol}\ndata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..9 {
        let p = i - 1;
        bomb.push_str(&format!(
            "  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let text = format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: ok}}\n---\n{bomb}");
    let started = std::time::Instant::now();
    let e = parse_manifests(Path::new("bomb.yaml"), &text, 1).unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert!(e.message.contains("billion laughs"), "{e}");
    assert!(!e.message.contains("budget"), "{e}");
    assert!(e.to_string().starts_with("bomb.yaml:"), "{e}");
    assert!(e.line >= 5, "{e}");
}

#[test]
fn a_duplicate_key_is_said_in_plain_words() {
    let e = parse_manifests(
        Path::new("dup.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n",
        1,
    )
    .unwrap_err();
    assert_eq!(e.line, 9, "{e}");
    assert!(e.message.contains("`name` appears twice"), "{e}");
    for library in ["DuplicateKeyPolicy", "Options", "budget", "from_str"] {
        assert!(!e.message.contains(library), "{e}");
    }
}
