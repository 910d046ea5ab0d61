//! Interop with the Python reference implementation, crypt4gh 1.8.6 (PyPI),
//! in both directions: keys, multi-recipient files, edit lists, header
//! re-encryption, the sender check and tampering.
//!
//! The peer lives in `.venv-c4gh` (`scripts/setup-peers`); `ONCOFED_C4GH_PYTHON`
//! may name another venv's `python`. Without it the tests print a skip
//! reason, unless `ONCOFED_REQUIRE_PEERS` is set.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use oncofed_crypt4gh::{
    Decryptor, PublicKey, SEGMENT_SIZE, SecretKey, apply_edit_list, decrypt, encrypt, parse_header,
    reencrypt_header, write_public_key_file, write_secret_key_file,
};
use rand::{RngCore, SeedableRng};

/// The venv's `bin` directory, or `None` (skip) when the peer is missing.
fn peer_bin() -> Option<PathBuf> {
    let python = std::env::var_os("ONCOFED_C4GH_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-c4gh/bin/python"),
        PathBuf::from,
    );
    let bin = python.parent()?.to_path_buf();
    oncofed_test_peers::peer(bin.join("crypt4gh").to_str()?)?;
    Some(bin)
}

/// Runs a peer program with `stdin` as its input; its exit status and output.
fn run(
    program: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    stdin: &[u8],
) -> (bool, Vec<u8>, String) {
    let mut child = Command::new(program)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    let mut input = child.stdin.take().expect("stdin");
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        // The peer may exit early (on a tampered file) and close its stdin.
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().expect("peer output");
    writer.join().expect("stdin writer");
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Peer {
    bin: PathBuf,
    dir: tempfile::TempDir,
}

impl Peer {
    fn new() -> Option<Self> {
        Some(Self {
            bin: peer_bin()?,
            dir: tempfile::tempdir().expect("temp dir"),
        })
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// `crypt4gh-keygen --nocrypt`: (secret key path, public key path).
    fn keygen(&self, name: &str) -> (String, String) {
        let (sk, pk) = (
            self.path(&format!("{name}.sec")),
            self.path(&format!("{name}.pub")),
        );
        let (ok, _, err) = run(
            &self.bin.join("crypt4gh-keygen"),
            &["--nocrypt", "--sk", &sk, "--pk", &pk],
            &[],
            b"",
        );
        assert!(ok, "crypt4gh-keygen: {err}");
        (sk, pk)
    }

    /// Our key pair written as files: (secret key, secret path, public path).
    fn our_key(&self, name: &str) -> (SecretKey, String, String) {
        let sk = SecretKey::generate().unwrap();
        let (sk_path, pk_path) = (
            self.path(&format!("{name}.sec")),
            self.path(&format!("{name}.pub")),
        );
        write_secret_key_file(&sk_path, &sk).unwrap();
        write_public_key_file(&pk_path, &sk.public_key()).unwrap();
        (sk, sk_path, pk_path)
    }

    fn crypt4gh(&self, args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>, String) {
        run(&self.bin.join("crypt4gh"), args, &[], stdin)
    }

    fn decrypt_ok(&self, sk: &str, file: &[u8]) -> Vec<u8> {
        let (ok, out, err) = self.crypt4gh(&["decrypt", "--sk", sk], file);
        assert!(ok, "python decrypt: {err}");
        out
    }
}

fn plaintext(len: usize, seed: u64) -> Vec<u8> {
    let mut data = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

fn ours_decrypt(file: &[u8], sk: &SecretKey) -> Vec<u8> {
    let mut out = Vec::new();
    decrypt(file, &mut out, sk, None).unwrap();
    out
}

#[test]
fn keys_files_and_files_both_ways() {
    let Some(peer) = Peer::new() else { return };
    let (py_sk_path, py_pk_path) = peer.keygen("py");
    let (ours, ours_sk_path, ours_pk_path) = peer.our_key("ours");
    // Python's key files read here, ours by Python (below).
    let py_sk = SecretKey::from_file(&py_sk_path, None).unwrap();
    let py_pk = PublicKey::from_file(&py_pk_path).unwrap();
    assert_eq!(
        py_sk.public_key(),
        py_pk,
        "derived public key matches the file"
    );

    for len in [0, 1, SEGMENT_SIZE, 3 * SEGMENT_SIZE + 7] {
        let data = plaintext(len, len as u64);
        // Python encrypts to two recipients; each decrypts here.
        let (ok, py_file, err) = peer.crypt4gh(
            &[
                "encrypt",
                "--recipient_pk",
                &ours_pk_path,
                "--recipient_pk",
                &py_pk_path,
            ],
            &data,
        );
        assert!(ok, "python encrypt: {err}");
        assert_eq!(
            parse_header(&mut py_file.as_slice()).unwrap().packets.len(),
            2
        );
        assert_eq!(
            ours_decrypt(&py_file, &ours),
            data,
            "ours from python, size {len}"
        );
        assert_eq!(
            ours_decrypt(&py_file, &py_sk),
            data,
            "py key from python, size {len}"
        );

        // We encrypt to both; Python decrypts with its key and with ours.
        let mut file = Vec::new();
        encrypt(
            data.as_slice(),
            &mut file,
            None,
            &[ours.public_key(), py_pk],
            None,
        )
        .unwrap();
        assert_eq!(
            peer.decrypt_ok(&py_sk_path, &file),
            data,
            "python, size {len}"
        );
        assert_eq!(
            peer.decrypt_ok(&ours_sk_path, &file),
            data,
            "python with our key file"
        );
    }
}

#[test]
fn sender_check_both_ways() {
    let Some(peer) = Peer::new() else { return };
    let (py_sk_path, py_pk_path) = peer.keygen("py");
    let (ours, _, ours_pk_path) = peer.our_key("ours");
    let (_, _, stranger_pk_path) = peer.our_key("stranger");
    let py_pk = PublicKey::from_file(&py_pk_path).unwrap();
    let data = plaintext(1000, 1);
    let mut file = Vec::new();
    encrypt(data.as_slice(), &mut file, Some(&ours), &[py_pk], None).unwrap();
    let (ok, out, err) = peer.crypt4gh(
        &["decrypt", "--sk", &py_sk_path, "--sender_pk", &ours_pk_path],
        &file,
    );
    assert!(ok && out == data, "python --sender_pk: {err}");
    let (ok, _, _) = peer.crypt4gh(
        &[
            "decrypt",
            "--sk",
            &py_sk_path,
            "--sender_pk",
            &stranger_pk_path,
        ],
        &file,
    );
    assert!(!ok, "python accepted the wrong sender");
    // Python writing with its key as the sender, checked here.
    let (ok, py_file, err) = peer.crypt4gh(
        &[
            "encrypt",
            "--sk",
            &py_sk_path,
            "--recipient_pk",
            &ours_pk_path,
        ],
        &data,
    );
    assert!(ok, "{err}");
    let mut out = Vec::new();
    decrypt(py_file.as_slice(), &mut out, &ours, Some(&py_pk)).unwrap();
    assert_eq!(out, data);
    assert!(
        decrypt(
            py_file.as_slice(),
            Vec::new(),
            &ours,
            Some(&ours.public_key())
        )
        .is_err()
    );
}

#[test]
fn edit_lists_both_ways() {
    let Some(peer) = Peer::new() else { return };
    let (py_sk_path, py_pk_path) = peer.keygen("py");
    let py_sk = SecretKey::from_file(&py_sk_path, None).unwrap();
    let py_pk = PublicKey::from_file(&py_pk_path).unwrap();
    let data = plaintext(3 * SEGMENT_SIZE + 7, 5);
    let s = SEGMENT_SIZE as u64;
    // Ours, read by Python: pairs, an odd list, ranges across segments.
    for edits in [
        vec![10u64, 20],
        vec![100],
        vec![s - 3, 6, s, 10, 5],
        vec![0, 5, 2 * s, 1, 3],
    ] {
        let mut file = Vec::new();
        encrypt(data.as_slice(), &mut file, None, &[py_pk], Some(&edits)).unwrap();
        assert_eq!(
            peer.decrypt_ok(&py_sk_path, &file),
            apply_edit_list(&data, &edits),
            "python with our edit list {edits:?}"
        );
    }
    // Python's: `crypt4gh rearrange --range` writes an edit list into the header.
    let (ok, py_file, err) = peer.crypt4gh(&["encrypt", "--recipient_pk", &py_pk_path], &data);
    assert!(ok, "{err}");
    for range in ["70000-140000", "5-70", "65536-65600"] {
        let (ok, rearranged, err) = peer.crypt4gh(
            &["rearrange", "--sk", &py_sk_path, "--range", range],
            &py_file,
        );
        assert!(ok, "python rearrange {range}: {err}");
        let dec = Decryptor::new(rearranged.as_slice(), &py_sk, None).unwrap();
        let edits = dec
            .edit_list()
            .expect("rearrange writes an edit list")
            .to_vec();
        let ours = ours_decrypt(&rearranged, &py_sk);
        assert_eq!(
            ours,
            peer.decrypt_ok(&py_sk_path, &rearranged),
            "range {range}"
        );
        // Python keeps only the segments the range touches: the edit list is
        // relative to them.
        let first = range.split('-').next().unwrap().parse::<usize>().unwrap() / SEGMENT_SIZE;
        let kept_data = &data[first * SEGMENT_SIZE..];
        let expected = apply_edit_list(kept_data, &edits);
        assert_eq!(ours, expected, "range {range}, edit list {edits:?}");
    }
}

#[test]
fn header_reencryption_both_ways() {
    let Some(peer) = Peer::new() else { return };
    let (py_sk_path, py_pk_path) = peer.keygen("py");
    let (ours, _, ours_pk_path) = peer.our_key("ours");
    let py_pk = PublicKey::from_file(&py_pk_path).unwrap();
    let data = plaintext(2 * SEGMENT_SIZE + 1, 9);
    // Ours at rest, delivered to Python's key.
    let mut file = Vec::new();
    encrypt(
        data.as_slice(),
        &mut file,
        None,
        &[ours.public_key()],
        Some(&[3, 100_000]),
    )
    .unwrap();
    let mut delivered = Vec::new();
    reencrypt_header(file.as_slice(), &mut delivered, &ours, &[py_pk]).unwrap();
    assert_eq!(peer.decrypt_ok(&py_sk_path, &delivered), &data[3..100_003]);
    // Python's at rest (for its key), re-encrypted by Python for ours.
    let (ok, py_file, err) = peer.crypt4gh(&["encrypt", "--recipient_pk", &py_pk_path], &data);
    assert!(ok, "{err}");
    let (ok, py_delivered, err) = peer.crypt4gh(
        &[
            "reencrypt",
            "--sk",
            &py_sk_path,
            "--recipient_pk",
            &ours_pk_path,
            "--trim",
        ],
        &py_file,
    );
    assert!(ok, "{err}");
    assert_eq!(ours_decrypt(&py_delivered, &ours), data);
}

#[test]
fn a_changed_data_byte_is_refused_by_both() {
    let Some(peer) = Peer::new() else { return };
    let (py_sk_path, py_pk_path) = peer.keygen("py");
    let py_sk = SecretKey::from_file(&py_sk_path, None).unwrap();
    let py_pk = PublicKey::from_file(&py_pk_path).unwrap();
    let data = plaintext(2 * SEGMENT_SIZE + 100, 13);
    let mut file = Vec::new();
    encrypt(data.as_slice(), &mut file, None, &[py_pk], None).unwrap();
    let (ok, py_file, err) = peer.crypt4gh(&["encrypt", "--recipient_pk", &py_pk_path], &data);
    assert!(ok, "{err}");
    for (who, original) in [("ours", &file), ("python's", &py_file)] {
        let header = parse_header(&mut original.as_slice())
            .unwrap()
            .encoded_len();
        // A byte in the middle of the second segment.
        let mut bad = original.clone();
        bad[header + SEGMENT_SIZE + 28 + 1000] ^= 0x20;
        let (ok, _, _) = peer.crypt4gh(&["decrypt", "--sk", &py_sk_path], &bad);
        assert!(!ok, "python accepted a changed byte in {who} file");
        let mut out = Vec::new();
        let e = decrypt(bad.as_slice(), &mut out, &py_sk, None).unwrap_err();
        assert!(e.to_string().contains("segment 1"), "{e}");
        assert_eq!(out, data[..SEGMENT_SIZE], "only segment 0 was written");
    }
}

#[test]
fn passphrase_locked_keys_from_python() {
    let Some(peer) = Peer::new() else { return };
    let python = peer.bin.join("python");
    // crypt4gh-keygen asks for the passphrase on a terminal: call its generator.
    for (name, scrypt) in [("scrypt", "True"), ("bcrypt", "False")] {
        let (sk_path, pk_path) = (
            peer.path(&format!("{name}.sec")),
            peer.path(&format!("{name}.pub")),
        );
        let script = format!(
            "from crypt4gh.keys import c4gh\n\
             c4gh.scrypt_supported = {scrypt}\n\
             c4gh.generate({sk_path:?}, {pk_path:?}, b'open sesame', b'a comment')\n"
        );
        let (ok, _, err) = run(&python, &["-c", &script], &[], b"");
        assert!(ok, "python key generation ({name}): {err}");
        let text = std::fs::read_to_string(&sk_path).unwrap();
        assert!(text.starts_with("-----BEGIN CRYPT4GH PRIVATE KEY-----"));
        let sk = SecretKey::from_file(&sk_path, Some("open sesame")).unwrap();
        assert_eq!(
            sk.public_key(),
            PublicKey::from_file(&pk_path).unwrap(),
            "{name}"
        );
        let e = SecretKey::from_file(&sk_path, Some("wrong")).unwrap_err();
        assert!(e.to_string().contains("wrong passphrase"), "{name}: {e}");
        // And the locked key opens what we encrypt for it, in Python.
        let mut file = Vec::new();
        encrypt(&b"locked"[..], &mut file, None, &[sk.public_key()], None).unwrap();
        let (ok, out, err) = run(
            &peer.bin.join("crypt4gh"),
            &["decrypt", "--sk", &sk_path],
            &[("C4GH_PASSPHRASE", "open sesame")],
            &file,
        );
        assert!(ok && out == b"locked", "{name}: {err}");
    }
}
