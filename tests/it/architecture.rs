//! The module graph of `src/`, read from the code's own imports, pinned:
//! no import cycle between top-level modules, the domain never reaching into
//! delivery or the doors, delivery seeing only the outbox's event type of the
//! domain, the transport holding no application state, and every conversion
//! into the wire's `Problem` in one module. A module imports another when any
//! of its files names `crate::<other>` (in a `use`, a path or a doc link)
//! outside its `#[cfg(test)]` part. docs/architecture.md draws the same graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → (imported module → files that import it).
type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The domain: state machines, rules and their storage; no transport, no delivery.
const DOMAIN: &[&str] = &[
    "machtiging",
    "beoordeling",
    "optin",
    "catalog",
    "registry",
    "beheer",
    "audit",
    "identity",
    "outbox",
];

/// What the domain must not import.
const NOT_FROM_DOMAIN: &[&str] = &[
    "dispatch", "http", "rest", "soap", "ops", "app", "state", "contract", "cli", "portal",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn top_level_modules() -> BTreeSet<String> {
    std::fs::read_dir(src())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            (p.is_dir() || p.extension().is_some_and(|e| e == "rs")).then_some(name)
        })
        .filter(|m| m != "main" && m != "lib")
        .collect()
}

/// The part of a file that is not its test module.
fn non_test(text: &str) -> &str {
    match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    }
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every module named after `crate::`, including `use crate::{a, b::c}`.
fn imported(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // One level of grouping is all rustfmt leaves at the top.
            let mut depth = 1;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if c.is_whitespace() => {}
                    _ if depth == 1 && item_start => {
                        found.insert(ident_at(&group[j..]).to_owned());
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            found.insert(ident_at(rest).to_owned());
        }
    }
    found
}

fn graph() -> Graph {
    let modules = top_level_modules();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: Graph = modules
        .iter()
        .map(|m| (m.clone(), BTreeMap::new()))
        .collect();
    for file in files {
        let rel = file.strip_prefix(src()).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        let from = first.trim_end_matches(".rs").to_owned();
        if !modules.contains(&from) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for to in imported(non_test(&text)) {
            if to != from && modules.contains(&to) {
                graph
                    .get_mut(&from)
                    .unwrap()
                    .entry(to)
                    .or_default()
                    .insert(rel.display().to_string());
            }
        }
    }
    graph
}

/// Strongly connected components with more than one module (Tarjan).
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph[v].keys() {
            let w = w.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.found.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.found
}

fn edges_within(graph: &Graph, component: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for from in component {
        for (to, files) in &graph[from] {
            if component.contains(to) {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                out.push(format!("{from} -> {to} ({})", files.join(", ")));
            }
        }
    }
    out
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let graph = graph();
    let found = cycles(&graph);
    let report: Vec<String> = found
        .iter()
        .map(|c| format!("{c:?}:\n  {}", edges_within(&graph, c).join("\n  ")))
        .collect();
    assert!(found.is_empty(), "import cycles:\n{}", report.join("\n"));
}

#[test]
fn the_domain_imports_neither_delivery_nor_the_doors() {
    let graph = graph();
    let mut wrong = Vec::new();
    for from in DOMAIN {
        for (to, files) in &graph[*from] {
            if NOT_FROM_DOMAIN.contains(&to.as_str()) {
                wrong.push(format!("{from} -> {to} ({files:?})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn delivery_sees_the_domain_only_through_the_outbox_event() {
    let graph = graph();
    let wrong: Vec<String> = ["dispatch", "email"]
        .iter()
        .flat_map(|from| {
            graph[*from]
                .iter()
                .map(move |(to, files)| (from, to, files))
        })
        .filter(|(_, to, _)| {
            ["machtiging", "beoordeling", "optin", "catalog", "beheer"].contains(&to.as_str())
        })
        .map(|(from, to, files)| format!("{from} -> {to} ({files:?})"))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_transport_holds_no_application_state() {
    let mut files = Vec::new();
    rust_files(&src().join("http"), &mut files);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(
            !text.contains("struct AppState"),
            "{} defines AppState; it belongs in src/state.rs",
            file.display()
        );
        assert!(
            !text.contains(".configure(crate::rest") && !text.contains(".configure(crate::soap"),
            "{} mounts a door; src/app.rs does",
            file.display()
        );
    }
}

#[test]
fn every_conversion_into_problem_lives_in_one_module() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let holders: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            non_test(&text)
                .lines()
                .any(|l| l.contains("impl From<") && l.contains("> for Problem"))
        })
        .map(|f| f.strip_prefix(src()).unwrap().display().to_string())
        .collect();
    assert!(
        !holders.is_empty() && holders.iter().all(|h| h.starts_with("problem/")),
        "conversions into Problem outside src/problem: {holders:?}"
    );
}

#[test]
fn the_reader_understands_grouped_imports() {
    let found =
        imported("use crate::{config::Config, db::{Db, DbError}};\nlet x = crate::ids::new();");
    assert_eq!(
        found,
        ["config", "db", "ids"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
}

#[test]
fn only_the_doors_speak_the_wire_error() {
    let doors = [
        "rest", "soap", "http", "contract", "ops", "app", "cli", "portal",
    ];
    let graph = graph();
    let wrong: Vec<String> = graph
        .iter()
        .filter(|(from, _)| !doors.contains(&from.as_str()))
        .filter_map(|(from, to)| {
            to.get("problem")
                .map(|files| format!("{from} -> problem ({files:?})"))
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "only the doors map errors onto the wire:\n{}",
        wrong.join("\n")
    );
}
