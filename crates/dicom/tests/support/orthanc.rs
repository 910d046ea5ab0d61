//! A private Orthanc server for peer tests and the benchmark: Debian's
//! `/usr/sbin/Orthanc` started with a JSON configuration written to a temp
//! directory (HTTP and DICOM ports free on loopback, no remote HTTP access,
//! no DICOM association from unknown peers, no plugins, storage and index in
//! the temp directory), ready once `/system` answers, killed on drop.
//!
//! The HTTP client is `ureq` 3 without default features (no TLS, no async
//! runtime, ~10 small crates). The workspace's `reqwest` is built with
//! `rustls-no-provider`: a client needs a crypto provider (aws-lc-rs or
//! ring, a C/assembly build of a minute or more here) even for plain HTTP,
//! and pulls hyper and tokio into a crate that has none of them.

#![allow(dead_code)] // each test binary uses its own part

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `orthanc` package installs the server.
pub const ORTHANC: &str = "/usr/sbin/Orthanc";

/// A running Orthanc, stopped (killed) and its storage removed on drop.
pub struct Orthanc {
    child: Child,
    /// `http://127.0.0.1:PORT` of its REST API.
    pub url: String,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

/// Why Orthanc could not be used.
#[derive(Debug)]
pub enum OrthancError {
    /// The binary is not installed and `ONCOFED_REQUIRE_PEERS` is unset: the
    /// caller skips with this reason.
    Missing(String),
    /// The server did not start or answered unexpectedly.
    Failed(String),
}

impl Orthanc {
    /// Starts Orthanc, or says why not. A missing binary is `Missing` unless
    /// `ONCOFED_REQUIRE_PEERS` is set, in which case it panics (CI with the
    /// peers installed must not skip silently).
    pub fn start() -> Result<Self, OrthancError> {
        if !Path::new(ORTHANC).exists() {
            let why = format!("{ORTHANC} not installed (scripts/setup-peers installs `orthanc`)");
            assert!(
                std::env::var_os("ONCOFED_REQUIRE_PEERS").is_none(),
                "ONCOFED_REQUIRE_PEERS is set: {why}"
            );
            return Err(OrthancError::Missing(why));
        }
        // A port picked free may be taken again before Orthanc binds it: retry.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(o) => return Ok(o),
                Err(e) => last = e,
            }
        }
        Err(OrthancError::Failed(last))
    }

    fn try_start() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (http, dicom) = (free_port(), free_port());
        let storage = dir.path().join("storage");
        let config = serde_json::json!({
            "Name": "oncofed-peer-test",
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "StorageCompression": false,
            "HttpServerEnabled": true,
            "HttpPort": http,
            "DicomServerEnabled": true,
            "DicomPort": dicom,
            "DicomAet": "ONCOFEDPEER",
            // Orthanc 1.10 binds its DICOM port on every interface (and its
            // HTTP port too, refusing other hosts by `RemoteAccessAllowed`):
            // accept no association from peers it does not know.
            "DicomCheckCalledAet": true,
            "DicomAlwaysAllowEcho": false,
            "DicomAlwaysAllowStore": false,
            "DicomAlwaysAllowFind": false,
            "DicomAlwaysAllowGet": false,
            "DicomAlwaysAllowMove": false,
            "DicomModalities": {},
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false,
            "SslEnabled": false,
            "Plugins": [],
            "HttpCompressionEnabled": false,
            "KeepAlive": true,
            "ConcurrentJobs": 1,
            "StableAge": 3600,
            "LoadPrivateDictionary": true,
        });
        let config_path = dir.path().join("orthanc.json");
        std::fs::write(&config_path, config.to_string()).map_err(|e| e.to_string())?;
        let log =
            std::fs::File::create(dir.path().join("orthanc.log")).map_err(|e| e.to_string())?;
        let child = Command::new(ORTHANC)
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{ORTHANC}: {e}"))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        let mut orthanc = Self {
            child,
            url: format!("http://127.0.0.1:{http}"),
            agent,
            _dir: dir,
        };
        orthanc.wait_ready()?;
        Ok(orthanc)
    }

    /// Polls `/system` until it answers (Orthanc creates its index first;
    /// there is no readiness signal to wait on instead).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self._dir.path().join("orthanc.log"))
                    .unwrap_or_default();
                return Err(format!("Orthanc exited with {status}: {log}"));
            }
            if let Ok(r) = self.agent.get(format!("{}/system", self.url)).call()
                && r.status() == 200
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("Orthanc did not answer /system within 30 s".into())
    }

    /// Orthanc's version, from `/system`.
    pub fn version(&self) -> String {
        let body = self.get(&format!("{}/system", self.url)).expect("/system");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("/system JSON");
        v["Version"].as_str().unwrap_or("?").to_owned()
    }

    /// Uploads a DICOM file (`POST /instances`); its Orthanc id, or the
    /// server's refusal (status and body) for a file Orthanc does not accept.
    pub fn upload(&self, bytes: &[u8]) -> Result<String, String> {
        let mut r = self
            .agent
            .post(format!("{}/instances", self.url))
            .header("Content-Type", "application/dicom")
            .send(bytes)
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let body = read_all(r.body_mut())?;
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if status != 200 {
            return Err(format!(
                "{status}: {}",
                v["Message"].as_str().unwrap_or("?")
            ));
        }
        v["ID"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no ID in {v}"))
    }

    /// `POST /instances/{id}/anonymize` with `body`: the anonymised file
    /// (Orthanc returns it without storing it).
    pub fn anonymize(&self, id: &str, body: &serde_json::Value) -> Result<Vec<u8>, String> {
        let mut r = self
            .agent
            .post(format!("{}/instances/{id}/anonymize", self.url))
            .send_json(body)
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let out = read_all(r.body_mut())?;
        if status != 200 {
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
            return Err(format!(
                "{status}: {}",
                v["Message"].as_str().unwrap_or("?")
            ));
        }
        Ok(out)
    }

    /// `GET /instances/{id}/file`: the stored file as uploaded.
    pub fn download(&self, id: &str) -> Result<Vec<u8>, String> {
        self.get(&format!("{}/instances/{id}/file", self.url))
    }

    /// `DELETE /instances/{id}`.
    pub fn delete(&self, id: &str) -> Result<(), String> {
        let r = self
            .agent
            .delete(format!("{}/instances/{id}", self.url))
            .call()
            .map_err(|e| e.to_string())?;
        (r.status() == 200)
            .then_some(())
            .ok_or_else(|| format!("DELETE {id}: {}", r.status()))
    }

    fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let mut r = self.agent.get(url).call().map_err(|e| e.to_string())?;
        let status = r.status();
        let body = read_all(r.body_mut())?;
        (status == 200)
            .then_some(body)
            .ok_or_else(|| format!("GET {url}: {status}"))
    }

    /// The temp directory holding the configuration, log and storage.
    pub fn dir(&self) -> PathBuf {
        self._dir.path().to_owned()
    }
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A whole body, however large (ureq's default limit is 10 MB).
fn read_all(body: &mut ureq::Body) -> Result<Vec<u8>, String> {
    body.with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(|e| e.to_string())
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
