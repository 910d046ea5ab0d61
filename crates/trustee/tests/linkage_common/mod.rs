//! Shared start-up for the linkage tests: a real trust centre on 127.0.0.1:0.
#![allow(dead_code)]

use oncofed_trustee::linkage::client::LinkageClient;
use oncofed_trustee::{LaunchError, TrusteeConfig, hash_token, launch};
use oncofed_trustee_api::TrusteeClient;
use std::path::Path;
use tokio::sync::oneshot;

pub const TOKEN_A: &str = "site-a-token-0123456789abcdef";
pub const TOKEN_B: &str = "site-b-token-0123456789abcdef";
pub const ADMIN: &str = "admin-token-0123456789abcdef";

pub struct Server {
    pub url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), LaunchError>>,
}

impl Server {
    /// Starts a trust centre with sites `site-1` (TOKEN_A) and `site-2` (TOKEN_B).
    pub async fn start(dir: &Path) -> Self {
        let sites = dir.join("sites");
        let text = format!(
            "site-1 {}\nsite-2 {}\n",
            hash_token(TOKEN_A),
            hash_token(TOKEN_B)
        );
        std::fs::write(&sites, text).unwrap();
        let config = TrusteeConfig::from_files(dir.join("data"), &dir.join("key"), &sites)
            .unwrap()
            .with_admin_token_hash(&hash_token(ADMIN))
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(launch(config, listener, async move {
            let _ = stopped.await;
        }));
        Self { url, stop, task }
    }

    pub fn site(&self, token: &str) -> TrusteeClient {
        TrusteeClient::new(&self.url, token).unwrap()
    }

    pub fn linkage(&self, token: &str) -> LinkageClient {
        LinkageClient::new(&self.url, token).unwrap()
    }

    pub async fn shutdown(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}
