//! The store's tests, in one binary: one module per concern.

mod backup;
mod basics;
mod crash;
mod durability;
mod golden;
mod model;
mod postgres;
mod tokens;

use jwtgate_store::{Options, Store, TokenRecord};
use tempfile::TempDir;

pub const NOW: i64 = 1_700_000_000;

/// A store in a fresh temporary directory (removed when the `TempDir` drops).
pub fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Options::new(dir.path().join("db"))).unwrap();
    (dir, store)
}

/// A service token record issued at `NOW` for `ttl` seconds by mount `jwt`.
pub fn record(accessor: &str, ttl: i64) -> TokenRecord {
    TokenRecord {
        accessor: accessor.into(),
        policies: vec!["default".into(), "k8s-app".into()],
        meta: [("role".to_owned(), "my-role".to_owned())].into(),
        display_name: "jwt-system:serviceaccount:default:default".into(),
        path: "auth/jwt/login".into(),
        mount: "jwt".into(),
        role: "my-role".into(),
        creation_time: NOW,
        creation_ttl: ttl,
        expire_time: Some(NOW + ttl),
        renewable: true,
        orphan: true,
        ..TokenRecord::default()
    }
}

/// `threads` threads creating `per_thread` tokens each at once: `hvs.<t>-<i>`, accessor `a<t>-<i>`.
pub fn create_concurrently(store: &std::sync::Arc<Store>, threads: usize, per_thread: usize) {
    let writers: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    store.create_token(&format!("hvs.{t}-{i}"), &record(&format!("a{t}-{i}"), 60)).unwrap();
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|writer| writer.join().unwrap());
}
