//! The README's "Two commands" are what CI runs (issue 21, item 7): every command in
//! that section's code blocks is run by `.ci/run`, and `scripts/dev`, which the two
//! commands call, ends in exactly `cargo run --release -- serve` and
//! `cargo test --locked`. A README edited without CI (or the reverse) fails here.

use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The lines of the ```sh blocks in the README section headed `heading`, without
/// comments and blank lines.
fn section_commands(readme: &str, heading: &str) -> Vec<String> {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no section {heading:?}"));
    let rest = &readme[start + heading.len() + 2..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut commands = Vec::new();
    let mut in_sh = false;
    for line in section.lines() {
        match line.trim() {
            "```sh" => in_sh = true,
            "```" => in_sh = false,
            l if in_sh => {
                let command = l.split(" #").next().unwrap_or("").trim();
                if !command.is_empty() && !command.starts_with('#') {
                    commands.push(command.to_owned());
                }
            }
            _ => {}
        }
    }
    commands
}

/// A shell line without its leading `NAME=value` assignments.
fn without_assignments(line: &str) -> &str {
    let mut rest = line.trim();
    while let Some((word, tail)) = rest.split_once(' ') {
        let is_assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if !is_assignment {
            break;
        }
        rest = tail.trim_start();
    }
    rest
}

/// True when `script` has a line that runs `command`, with arguments or
/// redirections after it allowed.
fn runs(script: &str, command: &str) -> bool {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .map(without_assignments)
        .any(|l| l == command || l.starts_with(&format!("{command} ")))
}

/// The text of one `case` branch (`name)` up to its `;;`) of a shell script.
fn case_branch<'a>(script: &'a str, name: &str) -> &'a str {
    let open = format!("\n    {name})\n");
    let start = script
        .find(&open)
        .unwrap_or_else(|| panic!("scripts/dev has no `{name})` branch"))
        + open.len();
    let len = script[start..]
        .find(";;")
        .unwrap_or_else(|| panic!("`{name})` branch has no ;;"));
    &script[start..start + len]
}

#[test]
fn the_readme_commands_are_the_ones_ci_runs() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    let commands = section_commands(&readme, "## Two commands");
    assert!(
        commands.len() >= 2
            && commands[0] == "scripts/dev serve"
            && commands[1] == "scripts/dev test",
        "the section opens with the two commands: {commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.starts_with("curl ")),
        "the section shows the curl line to try: {commands:?}"
    );
    let missing: Vec<&String> = commands.iter().filter(|c| !runs(&ci, c)).collect();
    assert!(
        missing.is_empty(),
        ".ci/run does not run these README commands: {missing:?}"
    );
}

#[test]
fn scripts_dev_ends_in_the_plain_cargo_commands() {
    let dev = read("scripts/dev");
    let expect = [
        ("serve", r#"exec cargo run --release -- serve "$@""#),
        ("test", r#"exec cargo test --locked "$@""#),
        ("test-pg", r#"exec cargo test --locked "$@""#),
    ];
    for (branch, last) in expect {
        let body = case_branch(&dev, branch);
        let lines: Vec<&str> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        assert_eq!(
            lines.last(),
            Some(&last),
            "scripts/dev {branch} must end in {last}: {body}"
        );
    }
    // Only the PostgreSQL variant chooses the database of the tests.
    assert!(!case_branch(&dev, "test").contains("MACHTIGINGEN_TEST_DATABASE_URL"));
    assert!(case_branch(&dev, "test-pg").contains("MACHTIGINGEN_TEST_DATABASE_URL"));
}

#[test]
fn the_helpers_see_drift() {
    let ci = "set -e\n# scripts/dev serve\nMT_X=1 scripts/dev test --no-fail-fast\n";
    assert!(runs(ci, "scripts/dev test"));
    assert!(!runs(ci, "scripts/dev serve"), "a comment runs nothing");
    assert!(!runs(ci, "scripts/dev te"));
    let readme =
        "x\n## Two commands\n\n```sh\na  # one\n# none\nb\n```\n\n## Next\n```sh\nc\n```\n";
    assert_eq!(section_commands(readme, "## Two commands"), ["a", "b"]);
}
