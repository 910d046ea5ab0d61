//! Where a site keeps its de-identified DICOM objects (and its cleaned cell
//! images, under `cells/`, see [`crate::cells`]): content-addressed, through
//! the `object_store` crate (a local folder by default, S3-compatible storage
//! when configured).
//!
//! An object's key is `dicom/sha256/<first two hex>/<hex>` of its de-identified
//! Part 10 bytes, so the same object written twice is one file, and a key says
//! nothing about the person. Identified originals never come here: the node
//! de-identifies in memory before it writes.

use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Why the archive failed.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// The location could not be opened or parsed.
    #[error("cannot open the image archive at {location}: {message}")]
    Open {
        /// The folder or URL given.
        location: String,
        /// What went wrong.
        message: String,
    },
    /// A read, write or delete failed.
    #[error("image archive: {0}")]
    Store(#[from] object_store::Error),
}

/// The site's archive of de-identified objects.
#[derive(Clone)]
pub struct ObjectArchive {
    store: Arc<dyn ObjectStore>,
    location: String,
}

impl std::fmt::Debug for ObjectArchive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectArchive")
            .field("location", &self.location)
            .finish()
    }
}

impl ObjectArchive {
    /// An archive in a local folder (created 0700 when missing).
    pub fn local(dir: &std::path::Path) -> Result<Self, ArchiveError> {
        let open = |message: String| ArchiveError::Open {
            location: dir.display().to_string(),
            message,
        };
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| open(e.to_string()))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .map_err(|e| open(e.to_string()))?;
            }
        }
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| open(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            location: dir.display().to_string(),
        })
    }

    /// An archive at a URL `object_store` understands (`s3://bucket/prefix`,
    /// `file:///path`), with options such as `aws_endpoint`, `aws_region`,
    /// `aws_access_key_id`, `aws_secret_access_key` and `aws_allow_http`
    /// (for an S3-compatible server on the site's network).
    pub fn at_url(url: &str, options: &[(String, String)]) -> Result<Self, ArchiveError> {
        let open = |message: String| ArchiveError::Open {
            // A URL can carry credentials: name only its scheme.
            location: url.split("://").next().unwrap_or("?").to_owned() + "://…",
            message,
        };
        // object_store's HTTP client (reqwest on rustls) looks the crypto
        // provider up at run time, also for plain-HTTP endpoints.
        oncofed_tls::install_crypto_provider();
        let parsed = url::Url::parse(url).map_err(|e| open(e.to_string()))?;
        let (store, prefix) = object_store::parse_url_opts(&parsed, options.iter().cloned())
            .map_err(|e| open(e.to_string()))?;
        let store: Arc<dyn ObjectStore> = if prefix.as_ref().is_empty() {
            Arc::from(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self {
            store,
            location: parsed.scheme().to_owned() + "://…",
        })
    }

    /// The content address of `bytes`.
    pub fn key_of(bytes: &[u8]) -> String {
        Self::key_under("dicom", bytes)
    }

    /// The content address of `bytes` under another modality's prefix
    /// (`cells/sha256/<first two hex>/<hex>` for cell images).
    pub fn key_under(prefix: &str, bytes: &[u8]) -> String {
        let hex = hex::encode(Sha256::digest(bytes));
        format!("{prefix}/sha256/{}/{hex}", &hex[..2])
    }

    /// Stores `bytes` under their content address below `prefix` and returns it.
    pub async fn put_under(&self, prefix: &str, bytes: Vec<u8>) -> Result<String, ArchiveError> {
        let key = Self::key_under(prefix, &bytes);
        self.store
            .put(&StorePath::from(key.as_str()), PutPayload::from(bytes))
            .await?;
        Ok(key)
    }

    /// Stores `bytes` under their content address and returns it.
    pub async fn put(&self, bytes: Vec<u8>) -> Result<String, ArchiveError> {
        let key = Self::key_of(&bytes);
        self.store
            .put(&StorePath::from(key.as_str()), PutPayload::from(bytes))
            .await?;
        Ok(key)
    }

    /// The object stored under `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, ArchiveError> {
        let got = self.store.get(&StorePath::from(key)).await?;
        Ok(got.bytes().await?.to_vec())
    }

    /// Whether an object is stored under `key`.
    pub async fn contains(&self, key: &str) -> Result<bool, ArchiveError> {
        match self.store.head(&StorePath::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the objects under `keys`; an absent one counts as deleted (a
    /// withdrawal that is run again finds them gone). Returns how many existed.
    pub async fn delete(&self, keys: &[String]) -> Result<u64, ArchiveError> {
        let mut existed = 0;
        for key in keys {
            let path = StorePath::from(key.as_str());
            match self.store.head(&path).await {
                Ok(_) => existed += 1,
                Err(object_store::Error::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(existed)
    }
}
