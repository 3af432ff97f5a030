//! A private PostgreSQL server for one test: `initdb` in a temporary directory,
//! its own port, trust auth. The shared server of the suite must not be
//! stopped, so outage tests stop and start this one instead.
//!
//! PostgreSQL refuses to run as root; when the suite runs as root, the server
//! runs as the `postgres` user that Debian's package creates.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct PrivatePg {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    pub port: u16,
}

fn is_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    })
}

/// The newest installed server binaries (`/usr/lib/postgresql/N/bin`), or
/// `PG_BINDIR`.
fn bindir() -> PathBuf {
    if let Ok(d) = std::env::var("PG_BINDIR") {
        return PathBuf::from(d);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries not found (/usr/lib/postgresql; set PG_BINDIR)")
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().expect("no initdb under /usr/lib/postgresql").1
}

impl PrivatePg {
    /// Creates and starts a fresh cluster with a database `test`.
    pub fn start_new() -> Self {
        let dir = tempfile::Builder::new().prefix("mt-pg-").tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown to postgres failed (is the postgres user there?)");
        }
        let pg = Self {
            dir,
            bindir: bindir(),
            port: crate::support::free_port(),
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data().display().to_string(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        pg.start();
        let admin = pg.url("postgres");
        let mut conn = <diesel::PgConnection as diesel::Connection>::establish(&admin).unwrap();
        diesel::RunQueryDsl::execute(diesel::sql_query("CREATE DATABASE test"), &mut conn).unwrap();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// `tool` of the server binaries, as the user the server runs as.
    fn command(&self, tool: &str) -> Command {
        let exe = self.bindir.join(tool);
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.current_dir(Path::new("/"));
        c
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let out = self.command(tool).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data().display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &opts, "-w", "start"],
        );
    }

    /// Stops the server the hard way (`immediate`: no checkpoint, connections
    /// cut, crash recovery at the next start) — as in a real outage.
    pub fn kill(&self) {
        let data = self.data().display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let data = self.data().display().to_string();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .output();
    }
}
