//! The workspace's shape, checked against its documentation: the crate graph in docs/development.md must be the
//! graph `cargo metadata` reports, role crates never depend on each other, and only the binary (and the holder
//! SDK's optional `embed` feature) may depend on the engine. A dependency added without updating the doc, or a
//! doc that drifts from the code, fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root (this crate lives in `crates/walletd`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One row of the documented crate graph.
#[derive(Debug)]
struct DocumentedCrate {
    kind: String,
    depends_on: BTreeSet<String>,
}

/// Reads the table between the `crate-graph` markers of docs/development.md.
fn documented_graph() -> BTreeMap<String, DocumentedCrate> {
    let doc = std::fs::read_to_string(workspace_root().join("docs/development.md")).expect("read docs/development.md");
    let start = doc
        .find("<!-- crate-graph:start -->")
        .expect("docs/development.md has a crate-graph:start marker");
    let end = doc
        .find("<!-- crate-graph:end -->")
        .expect("docs/development.md has a crate-graph:end marker");
    let mut graph = BTreeMap::new();
    for line in doc[start..end].lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let name = cells[0].trim_matches('`');
        if name == "crate" || name.starts_with("---") {
            continue;
        }
        assert!(
            cells.len() >= 3,
            "crate-graph row needs crate | kind | depends on | why: {line}"
        );
        let depends_on = cells[2]
            .split(',')
            .map(|d| d.trim().trim_matches('`'))
            .filter(|d| !d.is_empty() && *d != "—" && *d != "-")
            .map(|d| format!("walletd-{d}"))
            .collect();
        graph.insert(
            name.to_owned(),
            DocumentedCrate {
                kind: cells[1].to_owned(),
                depends_on,
            },
        );
    }
    assert!(
        !graph.is_empty(),
        "the crate-graph table of docs/development.md is empty"
    );
    graph
}

/// A workspace dependency edge as `cargo metadata` reports it.
#[derive(Debug)]
struct Edge {
    to: String,
    dev: bool,
    optional: bool,
}

/// Every workspace crate and its dependencies on other workspace crates.
fn actual_graph() -> BTreeMap<String, Vec<Edge>> {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
            "--manifest-path",
        ])
        .arg(workspace_root().join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let packages = meta["packages"].as_array().expect("packages");
    let members: BTreeSet<String> = packages
        .iter()
        .map(|p| p["name"].as_str().expect("package name").to_owned())
        .collect();
    packages
        .iter()
        .map(|p| {
            let edges = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| members.contains(d["name"].as_str().unwrap_or_default()))
                .map(|d| Edge {
                    to: d["name"].as_str().unwrap_or_default().to_owned(),
                    dev: d["kind"].as_str() == Some("dev"),
                    optional: d["optional"].as_bool().unwrap_or(false),
                })
                .collect();
            (p["name"].as_str().unwrap_or_default().to_owned(), edges)
        })
        .collect()
}

#[test]
fn documented_crate_graph_is_the_real_one() {
    let documented = documented_graph();
    let actual = actual_graph();
    let documented_names: BTreeSet<&String> = documented.keys().collect();
    let actual_names: BTreeSet<&String> = actual.keys().collect();
    assert_eq!(
        documented_names, actual_names,
        "docs/development.md's crate graph must list every workspace crate"
    );
    for (name, edges) in &actual {
        let real: BTreeSet<String> = edges.iter().filter(|e| !e.dev).map(|e| e.to.clone()).collect();
        assert_eq!(
            real, documented[name].depends_on,
            "{name}: its [dependencies] on workspace crates differ from docs/development.md's crate graph"
        );
    }
}

#[test]
fn role_crates_do_not_depend_on_each_other() {
    let documented = documented_graph();
    let roles: BTreeSet<&String> = documented
        .iter()
        .filter(|(_, c)| c.kind == "role")
        .map(|(n, _)| n)
        .collect();
    assert!(roles.len() >= 5, "the graph names the five roles: {roles:?}");
    for (name, edges) in actual_graph() {
        if !roles.contains(&name) {
            continue;
        }
        for edge in edges {
            assert!(
                !roles.contains(&edge.to),
                "role crate {name} depends on role crate {} (dev: {})",
                edge.to,
                edge.dev
            );
        }
    }
}

#[test]
fn only_the_binary_and_the_embedding_holder_depend_on_the_engine() {
    for (name, edges) in actual_graph() {
        for edge in edges.iter().filter(|e| e.to == "walletd-engine") {
            let allowed = name == "walletd" || (name == "walletd-wallet" && edge.optional && !edge.dev);
            assert!(
                allowed,
                "{name} depends on walletd-engine (dev: {}, optional: {})",
                edge.dev, edge.optional
            );
        }
    }
}
