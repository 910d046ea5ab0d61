//! A private Orthanc for one test (or one benchmark run): Debian's
//! `/usr/sbin/Orthanc` started with a JSON configuration written to a
//! temporary directory (configuration, storage, index and log there), its HTTP
//! and DICOM ports free on loopback, no remote HTTP access, no plugins, and no
//! DICOM association from an AE it does not list in `DicomModalities`; ready
//! once `/system` answers, killed on drop.
//!
//! The HTTP client is `ureq` 3 without default features (no TLS, no async
//! runtime, ~10 small crates). The workspace's `reqwest` is built with
//! `rustls-no-provider`: a client needs a crypto provider (aws-lc-rs or ring,
//! a C/assembly build of a minute or more here) even for plain HTTP, and pulls
//! hyper and tokio into crates whose tests need none of them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian's `orthanc` package installs the server.
pub const ORTHANC: &str = "/usr/sbin/Orthanc";

/// A DICOM peer Orthanc knows (one entry of its `DicomModalities`): it accepts
/// associations from this AE and can send to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modality {
    /// Orthanc's name for it, as in `/modalities/{name}/store`.
    pub name: String,
    /// Its AE title.
    pub ae: String,
    /// Its host.
    pub host: String,
    /// Its DICOM port.
    pub port: u16,
}

/// How to start an [`Orthanc`]: binary, own AE title, known modalities.
#[derive(Debug, Clone)]
pub struct OrthancBuilder {
    binary: PathBuf,
    aet: String,
    modalities: Vec<Modality>,
}

impl Default for OrthancBuilder {
    fn default() -> Self {
        Self {
            binary: PathBuf::from(ORTHANC),
            aet: "ORTHANC".into(),
            modalities: Vec::new(),
        }
    }
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

impl std::fmt::Display for OrthancError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrthancError::Missing(why) => write!(f, "Orthanc missing: {why}"),
            OrthancError::Failed(why) => write!(f, "Orthanc failed: {why}"),
        }
    }
}

impl OrthancBuilder {
    /// The server binary (default [`ORTHANC`]).
    pub fn binary(mut self, binary: impl Into<PathBuf>) -> Self {
        self.binary = binary.into();
        self
    }

    /// Orthanc's own AE title (default `ORTHANC`); it answers only associations
    /// called to it.
    pub fn aet(mut self, aet: &str) -> Self {
        self.aet = aet.into();
        self
    }

    /// Adds a DICOM modality on loopback: `name` (for `/modalities/{name}`),
    /// its AE title and port.
    pub fn modality(mut self, name: &str, ae: &str, port: u16) -> Self {
        self.modalities.push(Modality {
            name: name.into(),
            ae: ae.into(),
            host: "127.0.0.1".into(),
            port,
        });
        self
    }

    /// Starts Orthanc, or says why not. A missing binary is `Missing` unless
    /// `ONCOFED_REQUIRE_PEERS` is set, in which case it panics (a run with the
    /// peers installed must not skip silently). A port picked free may be
    /// taken before Orthanc binds it: three attempts.
    pub fn start(self) -> Result<Orthanc, OrthancError> {
        if !self.binary.is_file() {
            let why = format!(
                "{} not installed (scripts/setup-peers installs `orthanc`)",
                self.binary.display()
            );
            assert!(
                !crate::peers_required(),
                "ONCOFED_REQUIRE_PEERS is set: {why}"
            );
            return Err(OrthancError::Missing(why));
        }
        let mut last = String::new();
        for _ in 0..3 {
            match self.try_start() {
                Ok(o) => return Ok(o),
                Err(e) => last = e,
            }
        }
        Err(OrthancError::Failed(last))
    }

    /// [`OrthancBuilder::start`] for a test: `None` (skip reason printed)
    /// when Orthanc is missing and not required; panics when it fails to start.
    pub fn start_or_skip(self) -> Option<Orthanc> {
        match self.start() {
            Ok(o) => Some(o),
            Err(OrthancError::Missing(why)) => {
                println!("skipped: {why}");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn try_start(&self) -> Result<Orthanc, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let (http_port, dicom_port) = (crate::free_port(), crate::free_port());
        let storage = dir.path().join("storage");
        let modalities: serde_json::Map<String, serde_json::Value> = self
            .modalities
            .iter()
            .map(|m| (m.name.clone(), serde_json::json!([m.ae, m.host, m.port])))
            .collect();
        let config = serde_json::json!({
            "Name": "oncofed-peer-test",
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "StorageCompression": false,
            "HttpServerEnabled": true,
            "HttpPort": http_port,
            "HttpTimeout": 30,
            "DicomServerEnabled": true,
            "DicomPort": dicom_port,
            "DicomAet": self.aet,
            "DicomScuTimeout": 10,
            // Orthanc 1.10 binds its DICOM port on every interface (and its
            // HTTP port too, refusing other hosts by `RemoteAccessAllowed`):
            // accept no association from peers it does not know.
            "DicomCheckCalledAet": true,
            "DicomAlwaysAllowEcho": false,
            "DicomAlwaysAllowStore": false,
            "DicomAlwaysAllowFind": false,
            "DicomAlwaysAllowGet": false,
            "DicomAlwaysAllowMove": false,
            "DicomModalities": modalities,
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
        let child = Command::new(&self.binary)
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("{}: {e}", self.binary.display()))?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(300)))
            .build()
            .into();
        let mut orthanc = Orthanc {
            child,
            url: format!("http://127.0.0.1:{http_port}"),
            http_port,
            dicom_port,
            aet: self.aet.clone(),
            agent,
            dir,
        };
        orthanc.wait_ready()?;
        Ok(orthanc)
    }
}

/// A running Orthanc, killed and its temporary directory removed on drop.
pub struct Orthanc {
    child: Child,
    /// `http://127.0.0.1:PORT` of its REST API.
    pub url: String,
    /// Its REST API port.
    pub http_port: u16,
    /// Its DICOM port (on every interface; it admits only listed AEs).
    pub dicom_port: u16,
    /// Its AE title.
    pub aet: String,
    agent: ureq::Agent,
    dir: tempfile::TempDir,
}

impl Orthanc {
    /// A builder: [`ORTHANC`], AE title `ORTHANC`, no modalities.
    pub fn builder() -> OrthancBuilder {
        OrthancBuilder::default()
    }

    /// Starts the default Orthanc (see [`OrthancBuilder::start`]).
    pub fn start() -> Result<Orthanc, OrthancError> {
        Self::builder().start()
    }

    /// Polls `/system` until it answers (Orthanc creates its index first;
    /// there is no readiness signal to wait on instead).
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("Orthanc exited with {status}: {}", self.log()));
            }
            if let Ok(r) = self.agent.get(format!("{}/system", self.url)).call()
                && r.status() == 200
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "Orthanc did not answer /system within 30 s: {}",
            self.log()
        ))
    }

    /// Orthanc's version, from `/system`.
    pub fn version(&self) -> String {
        let v = self.get_json("/system").expect("/system");
        v["Version"].as_str().unwrap_or("?").to_owned()
    }

    /// Uploads a DICOM file's bytes (`POST /instances`); its Orthanc id, or
    /// the server's refusal (status and message) for a file it does not accept.
    pub fn upload(&self, bytes: &[u8]) -> Result<String, String> {
        let mut r = self
            .agent
            .post(format!("{}/instances", self.url))
            .header("Content-Type", "application/dicom")
            .send(bytes)
            .map_err(|e| e.to_string())?;
        let (status, body) = (r.status(), read_all(r.body_mut())?);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if status != 200 {
            return Err(refusal(status, &v));
        }
        v["ID"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("no ID in {v}"))
    }

    /// [`Orthanc::upload`] of the file at `path`.
    pub fn upload_file(&self, path: &Path) -> Result<String, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        self.upload(&bytes)
    }

    /// `POST /instances/{id}/anonymize` with `body`: the anonymised file
    /// (Orthanc returns it without storing it).
    pub fn anonymize(&self, id: &str, body: &serde_json::Value) -> Result<Vec<u8>, String> {
        let mut r = self
            .agent
            .post(format!("{}/instances/{id}/anonymize", self.url))
            .send_json(body)
            .map_err(|e| e.to_string())?;
        let (status, out) = (r.status(), read_all(r.body_mut())?);
        if status != 200 {
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
            return Err(refusal(status, &v));
        }
        Ok(out)
    }

    /// `GET /instances/{id}/file`: the stored file as received.
    pub fn download(&self, id: &str) -> Result<Vec<u8>, String> {
        self.get_bytes(&format!("/instances/{id}/file"))
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

    /// Ids of every instance Orthanc holds (`GET /instances`).
    pub fn instances(&self) -> Result<Vec<String>, String> {
        let list = self.get_json("/instances")?;
        list.as_array()
            .ok_or_else(|| format!("/instances: not a list: {list}"))?
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("/instances: not an id: {v}"))
            })
            .collect()
    }

    /// `POST /modalities/{modality}/store` of the resource `id` (instance,
    /// series, study or patient): Orthanc sends it by C-STORE to that
    /// modality and answers when done; its answer, or the failure with the
    /// status, message and Orthanc's log.
    pub fn store_to(&self, modality: &str, id: &str) -> Result<serde_json::Value, String> {
        let mut r = self
            .agent
            .post(format!("{}/modalities/{modality}/store", self.url))
            .send(id.as_bytes())
            .map_err(|e| e.to_string())?;
        let (status, body) = (r.status(), read_all(r.body_mut())?);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
        if status != 200 {
            return Err(format!("{}\n{}", refusal(status, &v), self.log()));
        }
        Ok(v)
    }

    /// GET `path` (e.g. `/instances/{id}/simplified-tags`) as JSON.
    pub fn get_json(&self, path: &str) -> Result<serde_json::Value, String> {
        let body = self.get_bytes(path)?;
        serde_json::from_slice(&body).map_err(|e| format!("GET {path}: {e}"))
    }

    /// The raw body of a GET of `path`, however large; an error unless 200.
    pub fn get_bytes(&self, path: &str) -> Result<Vec<u8>, String> {
        let mut r = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .map_err(|e| e.to_string())?;
        let (status, body) = (r.status(), read_all(r.body_mut())?);
        (status == 200)
            .then_some(body)
            .ok_or_else(|| format!("GET {path}: {status}"))
    }

    /// Its log so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("orthanc.log")).unwrap_or_default()
    }

    /// The temporary directory holding its configuration, log and storage.
    pub fn dir(&self) -> &Path {
        self.dir.path()
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

/// A refused request: its status and Orthanc's message.
fn refusal(status: ureq::http::StatusCode, answer: &serde_json::Value) -> String {
    format!("{status}: {}", answer["Message"].as_str().unwrap_or("?"))
}
