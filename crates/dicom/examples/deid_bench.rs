//! De-identification throughput, side by side in one run: OncoFed (read →
//! de-identify → write, on one thread and on all cores), pydicom `deid` with
//! its default recipe (`scripts/peers/dicom/deid_bench.py`), Orthanc's
//! `/instances/{id}/anonymize` over REST, and a plain disk copy of the same
//! bytes as the baseline.
//!
//! Inputs: the DICOM files of the pydicom wheel, repeated `--repeat` times,
//! and one large multi-frame object (`--large-mb`, default 128 MB of 16-bit
//! frames) made at run time in a temp directory.
//!
//! Run: `cargo run --release -p oncofed-dicom --example deid_bench -- [--json] [--repeat N] [--large-mb M] [--ours-only] [--dir PATH]`
//! (`--dir /dev/shm`: all tools read and write in memory, which takes the
//! shared disk's file-creation cost out of the figures).
//! with the peers of `scripts/setup-peers` (Python with `pydicom` and
//! `deid` at `ONCOFED_PYTHON` or `.venv/bin/python`; Debian `orthanc`).
//! A missing peer is reported in its row, not fatal.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use oncofed_dicom::{Deidentifier, ProfileOption, Subject};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One measured row.
#[derive(serde::Serialize)]
struct Row {
    tool: String,
    set: &'static str,
    files: usize,
    bytes: u64,
    seconds: f64,
    note: String,
}

impl Row {
    fn files_per_s(&self) -> f64 {
        self.files as f64 / self.seconds
    }
    fn mb_per_s(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.seconds
    }
}

struct Args {
    json: bool,
    /// Only OncoFed and the disk copy (for profiling).
    ours_only: bool,
    /// Where the temp directory goes (default: the system's temp dir).
    dir: Option<PathBuf>,
    repeat: usize,
    large_mb: usize,
}

fn args() -> Args {
    let mut a = Args {
        json: false,
        ours_only: false,
        dir: None,
        repeat: 20,
        large_mb: 128,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} takes a number"))
        };
        match arg.as_str() {
            "--json" => a.json = true,
            "--ours-only" => a.ours_only = true,
            "--dir" => a.dir = Some(it.next().expect("--dir takes a path").into()),
            "--repeat" => a.repeat = num("--repeat").max(1),
            "--large-mb" => a.large_mb = num("--large-mb").max(1),
            other => panic!(
                "unknown argument {other}; use [--json] [--repeat N] [--large-mb M] [--ours-only] [--dir PATH]"
            ),
        }
    }
    a
}

fn python() -> PathBuf {
    std::env::var_os("ONCOFED_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"),
        PathBuf::from,
    )
}

fn main() {
    let args = args();
    let work = match &args.dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let wheel = wheel_files();
    // The small set: the wheel's files dicom-rs reads (all but a few), each
    // `repeat` times under another name.
    let small_in = work.path().join("small");
    std::fs::create_dir(&small_in).unwrap();
    let distinct: Vec<PathBuf> = wheel
        .into_iter()
        .filter(|p| oncofed_dicom::read::open(p).is_ok())
        .collect();
    for r in 0..args.repeat {
        for p in &distinct {
            let name = p.file_name().unwrap().to_string_lossy();
            std::fs::copy(p, small_in.join(format!("{r:03}_{name}"))).unwrap();
        }
    }
    let small = list(&small_in);
    let large_in = work.path().join("large");
    std::fs::create_dir(&large_in).unwrap();
    let large_path = large_in.join("large.dcm");
    make_large(&distinct, &large_path, args.large_mb);
    let large = vec![large_path];

    let mut rows = Vec::new();
    for (set, files) in [("small", &small), ("large", &large)] {
        rows.push(disk_copy(
            set,
            files,
            &work.path().join(format!("copy-{set}")),
        ));
        rows.push(ours(
            set,
            files,
            &work.path().join(format!("ours1-{set}")),
            1,
        ));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores > 1 {
            rows.push(ours(
                set,
                files,
                &work.path().join(format!("oursN-{set}")),
                cores,
            ));
        }
    }
    // Peers: deid on the distinct files once (it is ~100× slower), Orthanc
    // on each distinct instance `repeat` times (it would store repeats as
    // one instance: same SOP Instance UID).
    if args.ours_only {
        print_table(&rows, args.repeat);
        return;
    }
    let deid_in = work.path().join("deid-in");
    std::fs::create_dir(&deid_in).unwrap();
    for p in &distinct {
        std::fs::copy(p, deid_in.join(p.file_name().unwrap())).unwrap();
    }
    rows.push(deid("small", &deid_in, &work.path().join("deid-small")));
    rows.push(deid("large", &large_in, &work.path().join("deid-large")));
    rows.extend(orthanc_rows(&distinct, args.repeat, &large));

    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows).unwrap());
        return;
    }
    print_table(&rows, args.repeat);
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn size(files: &[PathBuf]) -> u64 {
    files.iter().map(|f| f.metadata().unwrap().len()).sum()
}

/// The `*.dcm` files of the installed pydicom wheel.
fn wheel_files() -> Vec<PathBuf> {
    let out = Command::new(python())
        .args([
            "-c",
            "import os, pydicom; print(os.path.dirname(pydicom.__file__))",
        ])
        .output()
        .expect("python with pydicom: run scripts/setup-peers or set ONCOFED_PYTHON");
    assert!(
        out.status.success(),
        "pydicom missing: run scripts/setup-peers"
    );
    let dir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim()).join("data/test_files");
    list(&dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect()
}

/// A large object: CT_small's header with `mb` MB of 512×512 16-bit frames
/// (Number of Frames set accordingly), explicit VR little endian, Pixel
/// Data last.
fn make_large(distinct: &[PathBuf], out: &Path, mb: usize) {
    let ct = distinct
        .iter()
        .find(|p| p.ends_with("CT_small.dcm"))
        .expect("CT_small.dcm in the wheel");
    let mut obj = oncofed_dicom::read::open(ct).unwrap();
    let frame = 512 * 512;
    let frames = (mb * 1_000_000).div_ceil(frame * 2);
    let pixels: Vec<u16> = (0..frames * frame)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 20) as u16 & 0x0FFF)
        .collect();
    let put = |o: &mut dicom_object::FileDicomObject<dicom_object::InMemDicomObject>,
               tag,
               vr,
               v: PrimitiveValue| {
        o.put(DataElement::new(tag, vr, v));
    };
    put(
        &mut obj,
        Tag(0x0028, 0x0010),
        VR::US,
        PrimitiveValue::from(512u16),
    );
    put(
        &mut obj,
        Tag(0x0028, 0x0011),
        VR::US,
        PrimitiveValue::from(512u16),
    );
    put(
        &mut obj,
        Tag(0x0028, 0x0008),
        VR::IS,
        PrimitiveValue::from(frames.to_string()),
    );
    put(
        &mut obj,
        Tag(0x7FE0, 0x0010),
        VR::OW,
        PrimitiveValue::U16(pixels.into()),
    );
    // CT_small ends with Data Set Trailing Padding (FFFC,FFFC); a scanner's
    // large object ends with Pixel Data.
    obj.remove_element(Tag(0xFFFC, 0xFFFC));
    // A SOP Instance UID of its own: with CT_small's, Orthanc would take it
    // for the CT_small instance already stored.
    let uid = "2.25.313373948012983374691827349912380911";
    put(
        &mut obj,
        Tag(0x0008, 0x0018),
        VR::UI,
        PrimitiveValue::from(uid),
    );
    obj.meta_mut().media_storage_sop_instance_uid = uid.into();
    obj.meta_mut().transfer_syntax = "1.2.840.10008.1.2.1\0".into();
    obj.update_meta(|_| {});
    obj.write_to_file(out).unwrap();
}

fn disk_copy(set: &'static str, files: &[PathBuf], out: &Path) -> Row {
    std::fs::create_dir(out).unwrap();
    let start = Instant::now();
    for (i, f) in files.iter().enumerate() {
        std::fs::copy(f, out.join(i.to_string())).unwrap();
    }
    Row {
        tool: "disk copy (std::fs::copy)".into(),
        set,
        files: files.len(),
        bytes: size(files),
        seconds: start.elapsed().as_secs_f64(),
        note: String::new(),
    }
}

/// OncoFed: `Deidentifier::deidentify_file` (read → de-identify under the
/// Basic Profile and the research options → write; native pixel data at the
/// end of a file copied from the input), on `threads` threads each taking
/// every `threads`-th file.
fn ours(set: &'static str, files: &[PathBuf], out: &Path, threads: usize) -> Row {
    std::fs::create_dir(out).unwrap();
    let de = Deidentifier::new(
        [
            ProfileOption::RetainLongitudinalModifiedDates,
            ProfileOption::RetainPatientCharacteristics,
            ProfileOption::CleanDescriptors,
        ],
        &[3; 32],
    )
    .unwrap();
    let subject = Subject {
        pseudonym: "PSN-BENCH".into(),
        date_offset_days: -100,
        identifiers: vec!["Smith^John".into()],
    };
    let start = Instant::now();
    let copied = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (de, subject, copied) = (&de, &subject, &copied);
            s.spawn(move || {
                for (i, f) in files.iter().enumerate().skip(t).step_by(threads) {
                    let out = out.join(format!("{i}.dcm"));
                    let (_, c) = de.deidentify_file(f, &out, subject).unwrap();
                    copied.fetch_add(usize::from(c), std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    let copied = copied.into_inner();
    Row {
        tool: format!(
            "OncoFed ({threads} thread{})",
            if threads == 1 { "" } else { "s" }
        ),
        set,
        files: files.len(),
        bytes: size(files),
        seconds: start.elapsed().as_secs_f64(),
        note: format!(
            "deidentify_file; pixel data copied from the input file in {copied} of {}",
            files.len()
        ),
    }
}

/// pydicom `deid` through `scripts/peers/dicom/deid_bench.py`.
fn deid(set: &'static str, input: &Path, out: &Path) -> Row {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/peers/dicom/deid_bench.py");
    let mut row = Row {
        tool: "pydicom deid (default recipe)".into(),
        set,
        files: 0,
        bytes: 0,
        seconds: f64::NAN,
        note: String::new(),
    };
    let result = Command::new(python())
        .arg(&script)
        .arg(input)
        .arg(out)
        .output();
    match result {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or(""))
                .unwrap_or_else(|e| panic!("deid_bench.py output {text:?}: {e}"));
            row.files = v["files"].as_u64().unwrap_or(0) as usize;
            row.bytes = v["bytes"].as_u64().unwrap_or(0);
            row.seconds = v["seconds"].as_f64().unwrap_or(f64::NAN);
            row.tool = format!(
                "pydicom deid {} (default recipe)",
                v["version"].as_str().unwrap_or("?")
            );
            row.note = format!("1 thread; {} file(s) failed", v["failed"]);
        }
        Ok(o) => {
            row.note = format!(
                "not run: {}",
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            )
        }
        Err(e) => row.note = format!("not run: {e}"),
    }
    row
}

/// Orthanc: each distinct file uploaded once (not timed), then
/// `/anonymize` (2021b, Basic Profile) timed `repeat` times per instance,
/// the anonymised file read back in each response.
fn orthanc_rows(distinct: &[PathBuf], repeat: usize, large: &[PathBuf]) -> Vec<Row> {
    let server = match oncofed_test_peers::Orthanc::start() {
        Ok(s) => s,
        Err(e) => {
            return vec![Row {
                tool: "Orthanc /anonymize".into(),
                set: "small",
                files: 0,
                bytes: 0,
                seconds: f64::NAN,
                note: format!("not run: {e:?}"),
            }];
        }
    };
    let tool = format!("Orthanc {} /anonymize (REST)", server.version());
    let body =
        serde_json::json!({"Force": true, "DicomVersion": "2021b", "KeepPrivateTags": false});
    let mut rows = Vec::new();
    for (set, files, times) in [("small", distinct, repeat), ("large", large, 1)] {
        let mut ids = Vec::new();
        let mut bytes_one = 0;
        for f in files {
            let data = std::fs::read(f).unwrap();
            if let Ok(id) = server.upload(&data)
                && !ids.contains(&id)
            {
                ids.push(id);
                bytes_one += data.len() as u64;
            }
        }
        let start = Instant::now();
        let mut done = 0;
        // Orthanc dedupes by SOP Instance UID: each id is one file.
        for _ in 0..times {
            for id in &ids {
                if server.anonymize(id, &body).is_ok() {
                    done += 1;
                }
            }
        }
        rows.push(Row {
            tool: tool.clone(),
            set,
            files: done,
            bytes: bytes_one * times as u64,
            seconds: start.elapsed().as_secs_f64(),
            note: format!(
                "1 client; {} distinct instances among {} files (one per SOP Instance UID); upload untimed; response = anonymised file",
                ids.len(),
                files.len()
            ),
        });
    }
    rows
}

fn print_table(rows: &[Row], repeat: usize) {
    println!("small = pydicom wheel files ×{repeat} (deid: ×1), large = one multi-frame object");
    println!(
        "| tool | set | files | MB | s | files/s | MB/s | note |\n|---|---|---|---|---|---|---|---|"
    );
    for r in rows {
        println!(
            "| {} | {} | {} | {:.1} | {:.2} | {:.1} | {:.1} | {} |",
            r.tool,
            r.set,
            r.files,
            r.bytes as f64 / 1e6,
            r.seconds,
            r.files_per_s(),
            r.mb_per_s(),
            r.note
        );
    }
    let rate = |tool: &str, set: &str, f: fn(&Row) -> f64| {
        rows.iter()
            .find(|r| r.tool.starts_with(tool) && r.set == set)
            .map(f)
            .unwrap_or(f64::NAN)
    };
    let ours_small = rate("OncoFed (1 thread)", "small", Row::files_per_s);
    let deid_small = rate("pydicom deid", "small", Row::files_per_s);
    let ours_large = rate("OncoFed (1 thread)", "large", Row::mb_per_s);
    let copy_large = rate("disk copy", "large", Row::mb_per_s);
    println!(
        "\naim 1: files/s ≥ 100× deid: {:.0}× ({})",
        ours_small / deid_small,
        if ours_small >= 100.0 * deid_small {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "aim 2: large-object MB/s ≥ disk copy / 3: {:.0} vs {:.0} / 3 = {:.0} ({})",
        ours_large,
        copy_large,
        copy_large / 3.0,
        if ours_large >= copy_large / 3.0 {
            "met"
        } else {
            "MISSED"
        }
    );
}
