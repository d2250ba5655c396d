//! The store's errors. Absence is `Ok(None)`, never an error.

use std::path::PathBuf;

/// A storage failure: the caller answers 5xx (503 for health), never "not found".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("storage engine error: {0}")]
    Engine(String),
    /// The engine cannot be reached now (a database server down or unreachable); a retry may
    /// succeed without anything being done here.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error(
        "the database at {path} is corrupt ({detail}); restore it from a backup (`jwtgate operator import -to sled:PATH < backup.jsonl`) or move it aside to start empty"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("the database at {path} has schema version {found}, but this jwtgate supports up to {supported}; upgrade jwtgate")]
    UnsupportedSchema { path: PathBuf, found: u32, supported: u32 },
    #[error("cannot decode the record at {key}: {detail}")]
    Decode { key: String, detail: String },
    #[error("the database at {path} is in use by another process")]
    Locked { path: PathBuf },
    #[error("io error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("backup line {line}: {detail}")]
    Import { line: usize, detail: String },
}

impl StoreError {
    /// The same kind of failure, as text (for every writer a failed group commit covered).
    pub(crate) fn retold(&self) -> StoreError {
        match self {
            StoreError::Unavailable(detail) => StoreError::Unavailable(detail.clone()),
            StoreError::Engine(detail) => StoreError::Engine(detail.clone()),
            other => StoreError::Engine(other.to_string()),
        }
    }
}

impl From<sled::Error> for StoreError {
    fn from(error: sled::Error) -> Self {
        StoreError::Engine(error.to_string())
    }
}
