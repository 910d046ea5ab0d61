//! Crypt4GH throughput, this crate beside the Python reference implementation.
//!
//! `cargo run --release -p oncofed-crypt4gh --example bench [-- MIB]` (default
//! 256 MiB): encrypts and decrypts the same random plaintext in memory and
//! file to file with this crate, then times `crypt4gh encrypt` / `decrypt`
//! (Python 1.8.6 on libsodium, from `.venv-c4gh` or `ONCOFED_C4GH_PYTHON`) on
//! the same files, checks every output against the plaintext, and prints MB/s
//! (1 MB = 10^6 bytes) of plaintext per wall-clock second and per CPU second
//! (the machine is shared: CPU time is the steadier figure), best of three.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use oncofed_crypt4gh::{SecretKey, decrypt, encrypt, write_public_key_file, write_secret_key_file};
use rand::{RngCore, SeedableRng};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Runs of each operation; the fastest is reported (the machine is shared).
const RUNS: usize = 3;

fn main() -> Result<()> {
    let mib: usize = match std::env::args().nth(1) {
        Some(a) => a
            .parse()
            .map_err(|_| format!("MIB must be a number, not {a:?}"))?,
        None => 256,
    };
    let len = mib << 20;
    let mut plain = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(16).fill_bytes(&mut plain);
    let reader = SecretKey::generate()?;
    let recipients = [reader.public_key()];
    let mb = len as f64 / 1e6;
    println!("Crypt4GH, {mib} MiB of random plaintext, one recipient, best of {RUNS} runs");
    println!("| implementation | operation | wall s | MB/s (wall) | CPU s | MB/s (CPU) |");
    println!("|---|---|---:|---:|---:|---:|");
    let row = |who: &str, what: &str, (wall, cpu): (f64, f64)| {
        println!(
            "| {who} | {what} | {wall:.2} | {:.0} | {cpu:.2} | {:.0} |",
            mb / wall,
            mb / cpu.max(0.01)
        );
    };
    let ours = "oncofed-crypt4gh";
    let python = "Python crypt4gh 1.8.6";

    // In memory.
    let mut file = Vec::with_capacity(len + len / 2000 + 1024);
    let t = best(false, || {
        file.clear();
        encrypt(plain.as_slice(), &mut file, None, &recipients, None)?;
        Ok(())
    })?;
    row(ours, "encrypt (in memory)", t);
    let mut back = Vec::with_capacity(len);
    let t = best(false, || {
        back.clear();
        decrypt(file.as_slice(), &mut back, &reader, None)?;
        Ok(())
    })?;
    row(ours, "decrypt (in memory)", t);
    if back != plain {
        return Err("in-memory round trip differs".into());
    }
    drop((file, back));

    // File to file, as the Python tool works.
    let dir = tempfile::tempdir()?;
    let path = |name: &str| dir.path().join(name);
    std::fs::write(path("plain"), &plain)?;
    write_secret_key_file(path("key.sec"), &reader)?;
    write_public_key_file(path("key.pub"), &reader.public_key())?;
    let t = best(false, || {
        encrypt(
            BufReader::new(File::open(path("plain"))?),
            BufWriter::new(File::create(path("ours.c4gh"))?),
            None,
            &recipients,
            None,
        )?;
        Ok(())
    })?;
    row(ours, "encrypt (file to file)", t);
    let t = best(false, || {
        decrypt(
            BufReader::new(File::open(path("ours.c4gh"))?),
            BufWriter::new(File::create(path("ours.out"))?),
            &reader,
            None,
        )?;
        Ok(())
    })?;
    row(ours, "decrypt (file to file)", t);
    same(&path("ours.out"), &plain, "our file round trip")?;

    let Some(bin) = python_bin() else {
        println!(
            "\nPython crypt4gh not found (scripts/setup-peers installs .venv-c4gh): side-by-side skipped"
        );
        return Ok(());
    };
    let c4gh = bin.join("crypt4gh");
    let key_pub = path("key.pub").to_string_lossy().into_owned();
    let key_sec = path("key.sec").to_string_lossy().into_owned();
    let t = best(true, || {
        run(
            &c4gh,
            &["encrypt", "--recipient_pk", &key_pub],
            &path("plain"),
            &path("py.c4gh"),
        )
    })?;
    row(python, "encrypt (file to file)", t);
    let t = best(true, || {
        run(
            &c4gh,
            &["decrypt", "--sk", &key_sec],
            &path("py.c4gh"),
            &path("py.out"),
        )
    })?;
    row(python, "decrypt (file to file)", t);
    same(&path("py.out"), &plain, "Python's round trip")?;
    // Across: each reads the other's file.
    let t = best(true, || {
        run(
            &c4gh,
            &["decrypt", "--sk", &key_sec],
            &path("ours.c4gh"),
            &path("cross.out"),
        )
    })?;
    row(python, "decrypt our file", t);
    same(&path("cross.out"), &plain, "Python decrypting ours")?;
    let t = best(false, || {
        decrypt(
            BufReader::new(File::open(path("py.c4gh"))?),
            BufWriter::new(File::create(path("cross2.out"))?),
            &reader,
            None,
        )?;
        Ok(())
    })?;
    row(ours, "decrypt Python's file", t);
    same(&path("cross2.out"), &plain, "us decrypting Python's")?;
    Ok(())
}

/// Runs `op` [`RUNS`] times; the fastest run's wall-clock and CPU seconds
/// (this process's, or its waited-for children's when `children`).
fn best(children: bool, mut op: impl FnMut() -> Result<()>) -> Result<(f64, f64)> {
    let mut fastest = (f64::INFINITY, 0.0);
    for _ in 0..RUNS {
        let cpu = cpu_seconds(children);
        let t = Instant::now();
        op()?;
        let wall = t.elapsed().as_secs_f64();
        if wall < fastest.0 {
            fastest = (wall, cpu_seconds(children) - cpu);
        }
    }
    Ok(fastest)
}

/// User + system CPU seconds of this process (or of its waited-for
/// children) from `/proc/self/stat` (Linux, 100 clock ticks per second);
/// 0 elsewhere.
fn cpu_seconds(children: bool) -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    let Some((_, after)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    // Fields from the state (field 3): utime 14, stime 15, cutime 16, cstime 17.
    let fields: Vec<f64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let at = if children { 13 } else { 11 };
    fields
        .get(at..at + 2)
        .map_or(0.0, |f| (f[0] + f[1]) / 100.0)
}

fn python_bin() -> Option<PathBuf> {
    let python = std::env::var_os("ONCOFED_C4GH_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-c4gh/bin/python"),
        PathBuf::from,
    );
    let bin = python.parent()?.to_path_buf();
    bin.join("crypt4gh").is_file().then_some(bin)
}

/// Runs `program args < input > output`.
fn run(program: &Path, args: &[&str], input: &Path, output: &Path) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .stdin(Stdio::from(File::open(input)?))
        .stdout(Stdio::from(File::create(output)?))
        .status()?;
    if !status.success() {
        return Err(format!("{} {args:?} failed: {status}", program.display()).into());
    }
    Ok(())
}

fn same(path: &Path, plain: &[u8], what: &str) -> Result<()> {
    if std::fs::read(path)? != plain {
        return Err(format!("{what}: the output differs from the plaintext").into());
    }
    Ok(())
}
