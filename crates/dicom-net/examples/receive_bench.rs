//! Receiving throughput of the C-STORE SCP, side by side with dcmtk's
//! `storescp`, in one run: dcmtk `storescu` sends the same files (the
//! uncompressed pydicom test files it accepts, repeated) over one
//! association to each receiver in turn.
//!
//! ```text
//! cargo run --release -p oncofed-dicom-net --example receive_bench -- [--json] [--repeat N]
//! ```
//!
//! Receivers: our SCP with a sink that counts, our SCP with a sink that
//! writes each object as a Part 10 file into a temporary directory,
//! `storescp --ignore` (receives, stores nothing) and `storescp` writing files.
//! Both dcmtk programs run with `TCP_NODELAY=1` (dcmtk otherwise leaves
//! Nagle's algorithm on, which costs ~40 ms per object against any receiver).
//! Needs `storescu`/`storescp` on the PATH and pydicom (`ONCOFED_PYTHON`, else
//! `<workspace>/.venv/bin/python`).

use dicom_object::{FileDicomObject, InMemDicomObject};
use oncofed_dicom_net::{Origin, ScpConfig, SinkRefusal, StoreScp, StoreSink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Counts objects.
#[derive(Default)]
struct Count(AtomicU64);

impl StoreSink for Count {
    fn store(&self, _: FileDicomObject<InMemDicomObject>, _: &Origin) -> Result<(), SinkRefusal> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Writes each object as a Part 10 file (benchmark only: the node's sink
/// never writes identified objects).
struct Write {
    dir: PathBuf,
    n: AtomicU64,
}

impl StoreSink for Write {
    fn store(
        &self,
        object: FileDicomObject<InMemDicomObject>,
        _: &Origin,
    ) -> Result<(), SinkRefusal> {
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        object
            .write_to_file(self.dir.join(format!("{n}.dcm")))
            .map_err(|e| {
                SinkRefusal::new(
                    oncofed_dicom_net::RefusalKind::OutOfResources,
                    e.to_string(),
                )
            })
    }
}

fn pydicom_files() -> Vec<PathBuf> {
    let dir = oncofed_test_peers::pydicom_test_files();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    files.sort();
    files
}

/// Whether the file's meta group names an uncompressed transfer syntax
/// (storescu proposes those by default).
fn native(path: &Path) -> bool {
    use std::io::{Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    if file.seek(SeekFrom::Start(128)).is_err() {
        return false;
    }
    dicom_object::meta::FileMetaTable::from_reader(file).is_ok_and(|m| {
        oncofed_dicom_net::syntax::is_native(m.transfer_syntax().trim_end_matches('\0'))
    })
}

fn storescu(port: u16, called: &str, files: &[&Path]) -> bool {
    Command::new("storescu")
        // dcmtk leaves Nagle's algorithm on unless told: ~40 ms per object.
        .env("TCP_NODELAY", "1")
        .args(["-R", "-aet", "BENCH", "-aec", called, "127.0.0.1"])
        .arg(port.to_string())
        .args(files)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn config() -> ScpConfig {
    ScpConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        allowed_calling_aes: vec!["BENCH".into()],
        ..ScpConfig::default()
    }
}

struct Row {
    receiver: &'static str,
    objects: u64,
    bytes: u64,
    seconds: f64,
}

/// Sends `files` to our SCP with `sink`; objects the sink saw come from `seen`.
fn ours<S: StoreSink>(
    name: &'static str,
    sink: Arc<S>,
    seen: impl Fn() -> u64,
    files: &[&Path],
    bytes: u64,
) -> Row {
    let scp = StoreScp::bind(config(), sink).unwrap().spawn();
    let port = scp.local_addr().port();
    let started = Instant::now();
    assert!(
        storescu(port, "ONCOFED", files),
        "storescu failed against our SCP"
    );
    let seconds = started.elapsed().as_secs_f64();
    scp.stop().unwrap();
    Row {
        receiver: name,
        objects: seen(),
        bytes,
        seconds,
    }
}

fn dcmtk(name: &'static str, ignore: bool, files: &[&Path], bytes: u64) -> Row {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // +uf: unique file names, so repeated objects are all kept.
    let mut args = vec!["+uf", "-aet", "STORESCP", "-od"];
    if ignore {
        args.insert(0, "--ignore");
    }
    let mut child = Command::new("storescp")
        .env("TCP_NODELAY", "1")
        .args(&args)
        .arg(dir.path())
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("storescp on the PATH");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "storescp did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    let started = Instant::now();
    assert!(
        storescu(port, "STORESCP", files),
        "storescu failed against storescp"
    );
    let seconds = started.elapsed().as_secs_f64();
    let _ = child.kill();
    let _ = child.wait();
    let objects = if ignore {
        files.len() as u64
    } else {
        std::fs::read_dir(dir.path()).unwrap().count() as u64
    };
    Row {
        receiver: name,
        objects,
        bytes,
        seconds,
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let repeat: usize = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1))
        .map_or(100, |n| n.parse().expect("--repeat N"));
    // The uncompressed files storescu sends and our SCP stores: a first
    // pass, one file at a time, decides.
    let count = Arc::new(Count::default());
    let probe = StoreScp::bind(config(), count.clone()).unwrap().spawn();
    let mut files = Vec::new();
    for file in pydicom_files().into_iter().filter(|f| native(f)) {
        let before = count.0.load(Ordering::SeqCst);
        if storescu(probe.local_addr().port(), "ONCOFED", &[&file])
            && count.0.load(Ordering::SeqCst) == before + 1
        {
            files.push(file);
        }
    }
    drop(probe);
    let once: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let batch: Vec<&Path> = (0..repeat)
        .flat_map(|_| files.iter().map(PathBuf::as_path))
        .collect();
    let bytes = once * repeat as u64;

    let count = Arc::new(Count::default());
    let seen = count.clone();
    let mut rows = vec![ours(
        "oncofed SCP, counting sink",
        count,
        move || seen.0.load(Ordering::SeqCst),
        &batch,
        bytes,
    )];
    let dir = tempfile::tempdir().unwrap();
    let write = Arc::new(Write {
        dir: dir.path().to_owned(),
        n: AtomicU64::new(0),
    });
    let seen = write.clone();
    rows.push(ours(
        "oncofed SCP, sink writing files",
        write,
        move || seen.n.load(Ordering::SeqCst),
        &batch,
        bytes,
    ));
    rows.push(dcmtk("dcmtk storescp --ignore", true, &batch, bytes));
    rows.push(dcmtk("dcmtk storescp writing files", false, &batch, bytes));

    if json {
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "receiver": r.receiver,
                    "objects": r.objects,
                    "bytes": r.bytes,
                    "seconds": r.seconds,
                    "objects_per_s": r.objects as f64 / r.seconds,
                    "mb_per_s": r.bytes as f64 / 1e6 / r.seconds,
                })
            })
            .collect();
        let out = serde_json::json!({ "files": files.len(), "repeat": repeat, "rows": rows });
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
        return;
    }
    println!(
        "{} uncompressed pydicom files ({:.2} MB) x {repeat} = {} objects, {:.1} MB, one association each, sender dcmtk storescu",
        files.len(),
        once as f64 / 1e6,
        batch.len(),
        bytes as f64 / 1e6
    );
    println!("| receiver | objects stored | time | objects/s | MB/s |");
    println!("|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.2} s | {:.0} | {:.1} |",
            r.receiver,
            r.objects,
            r.seconds,
            r.objects as f64 / r.seconds,
            r.bytes as f64 / 1e6 / r.seconds
        );
    }
}
