//! An Orthanc for one test: its own temporary directory (configuration,
//! storage, index, log), free loopback ports, no remote access, killed on
//! drop. Talks to it over its REST API with ureq (plain HTTP on loopback).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running Orthanc.
pub struct Orthanc {
    child: Child,
    dir: tempfile::TempDir,
    /// Its REST API port.
    pub http_port: u16,
    /// Its DICOM port.
    pub dicom_port: u16,
    /// Its AE title.
    pub aet: &'static str,
}

impl Orthanc {
    /// Starts `binary` knowing one modality, `name` = (`ae`, loopback,
    /// `port`); waits until its REST API answers (30 s at most).
    pub fn start(binary: &Path, name: &str, ae: &str, port: u16) -> Orthanc {
        let dir = tempfile::tempdir().unwrap();
        let http_port = super::free_port();
        let dicom_port = super::free_port();
        let aet = "ORTHANC";
        let config = serde_json::json!({
            "Name": "oncofed-test",
            "StorageDirectory": dir.path().join("storage"),
            "IndexDirectory": dir.path().join("index"),
            "HttpPort": http_port,
            "DicomPort": dicom_port,
            "DicomAet": aet,
            "RemoteAccessAllowed": false,
            "AuthenticationEnabled": false,
            "DicomCheckCalledAet": true,
            "DicomAlwaysAllowStore": false,
            "DicomAlwaysAllowEcho": false,
            "DicomModalities": { name: [ae, "127.0.0.1", port] },
            "Plugins": [],
            "StorageCompression": false,
            "HttpTimeout": 30,
            "DicomScuTimeout": 10,
        });
        let config_path = dir.path().join("orthanc.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        let log = std::fs::File::create(dir.path().join("orthanc.log")).unwrap();
        let child = Command::new(binary)
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut orthanc = Orthanc {
            child,
            dir,
            http_port,
            dicom_port,
            aet,
        };
        let up = super::wait_until(Duration::from_secs(30), || {
            orthanc.child.try_wait().ok().flatten().is_none() && orthanc.get("/system").is_ok()
        });
        assert!(up, "Orthanc did not come up:\n{}", orthanc.log());
        orthanc
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("orthanc.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// GET `path` as JSON.
    pub fn get(&self, path: &str) -> Result<serde_json::Value, String> {
        let mut response = ureq::get(&self.url(path))
            .call()
            .map_err(|e| e.to_string())?;
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// POST `body` to `path`, the answer as JSON.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<serde_json::Value, String> {
        let mut response = ureq::post(&self.url(path))
            .send(body)
            .map_err(|e| format!("{e}\n{}", self.log()))?;
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// The raw bytes of a GET (e.g. `/instances/{id}/file`).
    pub fn get_bytes(&self, path: &str) -> Vec<u8> {
        let mut response = ureq::get(&self.url(path)).call().unwrap();
        response
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_vec()
            .unwrap()
    }

    /// Uploads a DICOM file through the REST API; its Orthanc id.
    pub fn upload(&self, file: &Path) -> String {
        let answer = self
            .post("/instances", &std::fs::read(file).unwrap())
            .unwrap();
        answer["ID"].as_str().unwrap().to_owned()
    }

    /// Ids of every instance Orthanc holds.
    pub fn instances(&self) -> Vec<String> {
        let list = self.get("/instances").unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    /// The directory it writes into.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }
}

impl Drop for Orthanc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
