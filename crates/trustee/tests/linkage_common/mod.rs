//! Shared start-up for the linkage tests: a real trust centre on 127.0.0.1:0.
#![allow(dead_code)]

use oncofed_testkit::service::Running;
use oncofed_trustee::{LaunchError, TrusteeConfig, hash_token};
use oncofed_trustee_api::TrusteeClient;
use oncofed_trustee_api::linkage::client::LinkageClient;
use std::path::Path;

pub const TOKEN_A: &str = "site-a-token-0123456789abcdef";
pub const TOKEN_B: &str = "site-b-token-0123456789abcdef";
pub const ADMIN: &str = "admin-token-0123456789abcdef";

/// The bearer token of `site-{k}` in [`Server::start_sites`].
pub fn token(k: u32) -> String {
    match k {
        1 => TOKEN_A.to_owned(),
        2 => TOKEN_B.to_owned(),
        k => format!("site-{k}-token-0123456789abcdef"),
    }
}

pub struct Server {
    pub url: String,
    running: Running<LaunchError>,
}

impl Server {
    /// Starts a trust centre with sites `site-1` (TOKEN_A) and `site-2` (TOKEN_B).
    pub async fn start(dir: &Path) -> Self {
        Self::start_sites(dir, 2).await
    }

    /// Starts a trust centre with sites `site-1` … `site-{n}`, site `k` using
    /// [`token`]`(k)` (so `site-1` has TOKEN_A and `site-2` TOKEN_B).
    pub async fn start_sites(dir: &Path, n: u32) -> Self {
        Self::start_with(dir, n, None).await
    }

    /// As [`Server::start_sites`], with the store in the PostgreSQL database at
    /// `store_url` when given.
    pub async fn start_with(dir: &Path, n: u32, store_url: Option<&str>) -> Self {
        let sites = dir.join("sites");
        let text: String = (1..=n)
            .map(|k| format!("site-{k} {}\n", hash_token(&token(k))))
            .collect();
        std::fs::write(&sites, text).unwrap();
        let config = TrusteeConfig::from_files(dir.join("data"), &dir.join("key"), &sites)
            .unwrap()
            .with_admin_token_hash(&hash_token(ADMIN))
            .unwrap();
        let config = match store_url {
            Some(url) => config.with_store_url(url),
            None => config,
        };
        let running = oncofed_testkit::service::trustee(config, Default::default())
            .await
            .unwrap();
        Self {
            url: running.url.clone(),
            running,
        }
    }

    pub fn site(&self, token: &str) -> TrusteeClient {
        TrusteeClient::new(&self.url, token).unwrap()
    }

    pub fn linkage(&self, token: &str) -> LinkageClient {
        LinkageClient::new(&self.url, token).unwrap()
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await.unwrap();
    }
}
