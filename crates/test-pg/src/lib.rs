//! A real PostgreSQL for the tests, started by the test binary itself (dev-only;
//! the research store's and the trust centre's conformance suites use it, so
//! there is one way to start a test cluster).
//!
//! One private, throw-away cluster per test binary, started on first use:
//! `initdb` (trust auth, no sync) in a temporary directory and `pg_ctl start` on a
//! free 127.0.0.1 port with its socket in that directory and `fsync=off`. As root
//! (PostgreSQL refuses to run as root) the directory is handed to the `postgres`
//! user and the binaries run under `runuser -u postgres`. A watchdog shell, in a
//! process group of its own, waits for the test process to exit and then stops the
//! cluster (`pg_ctl stop -m immediate`) and removes the directory; statics are never
//! dropped, so this is what cleans up, also after a panic or Ctrl-C.
//!
//! Each test gets a fresh database (`CREATE DATABASE`), dropped when its
//! [`TestDb`] is.
//!
//! Environment:
//! - `ONCOFED_TEST_POSTGRES_URL=postgres://user@host:port/db`: use that server
//!   instead (a role that may create databases; URL form only);
//! - `ONCOFED_SKIP_POSTGRES=1`: skip the PostgreSQL tests, saying so.
//!
//! Without either, missing PostgreSQL binaries fail the tests with a message
//! naming `scripts/setup-peers`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The server the tests use.
pub struct Server {
    /// URL of the maintenance database, used for `CREATE DATABASE`.
    admin_url: String,
    admin: Mutex<postgres::Client>,
    next: AtomicUsize,
}

static SERVER: OnceLock<Option<Server>> = OnceLock::new();

/// The server, started on first use; `None` when `ONCOFED_SKIP_POSTGRES=1`.
/// Panics (failing the test) when PostgreSQL cannot be found or started.
pub fn server() -> Option<&'static Server> {
    SERVER
        .get_or_init(|| {
            if std::env::var("ONCOFED_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
                return None;
            }
            let admin_url = match std::env::var("ONCOFED_TEST_POSTGRES_URL") {
                Ok(url) if !url.is_empty() => url,
                _ => start_cluster().unwrap_or_else(|e| panic!("{e}")),
            };
            let admin = postgres::Client::connect(&admin_url, postgres::NoTls)
                .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
            Some(Server {
                admin_url,
                admin: Mutex::new(admin),
                next: AtomicUsize::new(0),
            })
        })
        .as_ref()
}

/// A fresh database for one test, or `None` (after saying so) when skipped.
pub fn database() -> Option<TestDb> {
    let Some(server) = server() else {
        eprintln!("skipped: ONCOFED_SKIP_POSTGRES=1 (PostgreSQL tests not run)");
        return None;
    };
    let n = server.next.fetch_add(1, Ordering::Relaxed);
    let name = format!("oncofed_t{}_{n}", std::process::id());
    server
        .admin
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
    Some(TestDb {
        url: with_database(&server.admin_url, &name),
        name,
        server,
    })
}

/// One test's database, dropped (with its connections) when this is.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    /// Its name.
    pub name: String,
    server: &'static Server,
}

impl TestDb {
    /// A plain client on the database, for looking behind the store's back.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// The server's maintenance connection.
    pub fn admin(&self) -> std::sync::MutexGuard<'static, postgres::Client> {
        self.server.admin.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = self.admin().batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// `url` with its database replaced by `db` (URL form `postgres://…/db?…`).
pub fn with_database(url: &str, db: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, format!("?{q}")),
        None => (url, String::new()),
    };
    let start = main.find("://").map_or(0, |i| i + 3);
    let base = match main[start..].find('/') {
        Some(i) => &main[..start + i],
        None => main,
    };
    format!("{base}/{db}{query}")
}

/// The directory holding `initdb` and `pg_ctl`: `pg_config --bindir`, else the
/// newest `/usr/lib/postgresql/*/bin`.
fn bindir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_tools(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A command running `program` as the cluster's owner.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut cmd: Command, what: &str) -> Result<(), String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Starts the cluster and its watchdog; returns the maintenance database's URL.
fn start_cluster() -> Result<String, String> {
    let bin = bindir().ok_or(
        "PostgreSQL is not installed (no initdb/pg_ctl via pg_config --bindir or in \
         /usr/lib/postgresql/*/bin): run scripts/setup-peers (it installs the Debian package \
         `postgresql`), or set ONCOFED_TEST_POSTGRES_URL=postgres://user@host:port/db to use a \
         running server, or ONCOFED_SKIP_POSTGRES=1 to skip these tests",
    )?;
    let root = is_root();
    let dir = std::env::temp_dir().join(format!(
        "oncofed-pg-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    ));
    let (data, sock, log) = (dir.join("data"), dir.join("sock"), dir.join("log"));
    std::fs::create_dir_all(&sock).map_err(|e| format!("{}: {e}", sock.display()))?;
    if root {
        let mut chown = Command::new("chown");
        chown.args(["-R", "postgres:"]).arg(&dir);
        run(chown, "chown the cluster directory to postgres")?;
    }
    // The watchdog first, so that the directory goes even if starting fails.
    let pg_ctl = bin.join("pg_ctl");
    let owner = if root { "runuser -u postgres -- " } else { "" };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {owner}'{ctl}' -D '{data}' -m immediate stop; rm -rf '{dir}'",
        pid = std::process::id(),
        ctl = pg_ctl.display(),
        data = data.display(),
        dir = dir.display(),
    );
    {
        use std::os::unix::process::CommandExt;
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?;
    }
    let mut initdb = as_owner(root, &bin.join("initdb"));
    initdb
        .current_dir(&dir)
        .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale"])
        .arg("--no-sync")
        .arg("-D")
        .arg(&data);
    run(initdb, "initdb")?;
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let mut start = as_owner(root, &pg_ctl);
        start
            .current_dir(&dir)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                sock.display()
            ))
            .arg("start");
        match run(start, "pg_ctl start") {
            Ok(()) => return Ok(format!("postgres://postgres@127.0.0.1:{port}/postgres")),
            Err(e) => {
                let log = std::fs::read_to_string(&log).unwrap_or_default();
                last = format!("{e}\n{log}");
            }
        }
    }
    Err(last)
}
