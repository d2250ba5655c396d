//! Durability and on-disk hygiene: reopening, absolute TTLs, no token in clear on disk, file
//! permissions, schema checks, corruption reports, group commit, the fsync option.

use crate::*;
use jwtgate_store::StoreError;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

fn all_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(all_files(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// sled itself, waiting for the lock a just-dropped store releases in the background.
fn open_raw(path: &Path) -> sled::Db {
    for _ in 0..250 {
        match sled::open(path) {
            Ok(db) => return db,
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    panic!("sled never released {}", path.display());
}

#[test]
fn a_second_process_is_refused_while_the_store_is_open() {
    let (dir, _store) = temp_store();
    // sled's lock is per process (flock); the crash child is another process.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_store-crash-child"))
        .arg(dir.path().join("db"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is in use by another process"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn a_clean_reopen_keeps_everything_and_ttls_stay_absolute() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::new(dir.path().join("db"));
    {
        let store = Store::open(&options).unwrap();
        store.create_token("hvs.keep", &record("acc-keep", 600)).unwrap();
        store.create_token("hvs.gone", &record("acc-gone", 600)).unwrap();
        store.revoke_token("hvs.gone").unwrap();
        store.put_policy(&jwtgate_store::Policy { name: "p".into(), policy: "path \"*\" {}".into() }).unwrap();
    }
    let store = Store::open(&options).unwrap();
    let kept = store.lookup_token("hvs.keep", NOW + 10).unwrap().unwrap();
    assert_eq!(kept, record("acc-keep", 600));
    // The expiry is an absolute time: after a restart the token still dies at NOW + 600.
    assert!(store.lookup_token("hvs.keep", NOW + 599).unwrap().is_some());
    assert_eq!(store.lookup_token("hvs.keep", NOW + 600).unwrap(), None);
    assert_eq!(store.lookup_token("hvs.gone", NOW).unwrap(), None);
    assert!(store.get_policy("p").unwrap().is_some());
}

#[test]
fn tokens_never_reach_the_disk_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::new(dir.path().join("db"));
    let tokens: Vec<String> = (0..200).map(|i| format!("hvs.SECRET{i:04}TOKENVALUE")).collect();
    {
        let store = Store::open(&options).unwrap();
        for (i, token) in tokens.iter().enumerate() {
            // The accessor is kept in the record (lookups return it), as Vault does.
            store.create_token(token, &record(&format!("accessor-{i:04}"), 3600)).unwrap();
        }
    }
    let mut scanned = 0;
    for file in all_files(&dir.path().join("db")) {
        let bytes = std::fs::read(&file).unwrap();
        scanned += bytes.len();
        for needle in ["SECRET", "TOKENVALUE"] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} found in {}",
                file.display()
            );
        }
    }
    assert!(scanned > 0, "the database files were read");
}

#[test]
fn files_are_private() {
    let (dir, store) = temp_store();
    store.create_token("hvs.x", &record("acc-x", 60)).unwrap();
    let root = dir.path().join("db");
    assert_eq!(std::fs::metadata(&root).unwrap().permissions().mode() & 0o777, 0o700);
    let files = all_files(&root);
    assert!(!files.is_empty());
    for file in files {
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600, "{}", file.display());
    }
}

#[test]
fn a_newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(Store::open(&Options::new(&path)).unwrap());
    {
        let db = open_raw(&path);
        db.insert("meta/schema", "2").unwrap();
        db.flush().unwrap();
    }
    match Store::open(&Options::new(&path)) {
        Err(error @ StoreError::UnsupportedSchema { found: 2, supported: 1, .. }) => {
            let text = error.to_string();
            assert!(text.contains(&path.display().to_string()) && text.contains("upgrade jwtgate"), "{text}");
        }
        other => panic!("expected UnsupportedSchema, got {other:?}"),
    }
}

#[test]
fn data_without_a_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let db = open_raw(&path);
        db.insert("something", "else").unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(Store::open(&Options::new(&path)), Err(StoreError::Corrupt { .. })));
}

#[test]
fn a_corrupt_database_fails_loudly_with_the_path_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    {
        let store = Store::open(&Options::new(&path)).unwrap();
        for i in 0..500 {
            store.create_token(&format!("hvs.c{i}"), &record(&format!("a{i}"), 60)).unwrap();
        }
    }
    // Overwrite the whole data file with garbage of the same length.
    let data = path.join("db");
    let length = std::fs::metadata(&data).unwrap().len() as usize;
    std::fs::write(&data, vec![0xA5; length]).unwrap();
    match Store::open(&Options::new(&path)) {
        Err(error @ StoreError::Corrupt { .. }) => {
            let text = error.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains("restore it from a backup"), "{text}");
        }
        Err(other) => panic!("expected Corrupt, got {other}"),
        Ok(store) => panic!("a garbage data file opened; {} tokens visible", store.token_count().unwrap()),
    }
}

#[test]
fn concurrent_writers_share_flushes() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let before = store.flush_count();
    create_concurrently(&store, 16, 50);
    let flushes = store.flush_count() - before;
    assert_eq!(store.token_count().unwrap(), 800);
    assert!(flushes < 800, "800 durable writes took {flushes} flushes");
    // Batches applied together by the flusher are each whole: every token and its accessor.
    for (t, i) in (0..16).flat_map(|t| (0..50).map(move |i| (t, i))) {
        assert!(store.lookup_token(&format!("hvs.{t}-{i}"), NOW).unwrap().is_some(), "hvs.{t}-{i}");
        assert!(store.lookup_accessor(&format!("a{t}-{i}"), NOW).unwrap().is_some(), "a{t}-{i}");
    }
}

#[test]
fn the_fsync_option_syncs_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { fsync: true, ..Options::new(dir.path().join("db")) };
    {
        let store = Store::open(&options).unwrap();
        store.create_token("hvs.synced", &record("acc-synced", 60)).unwrap();
    }
    assert!(Store::open(&options).unwrap().lookup_token("hvs.synced", NOW).unwrap().is_some());
}

#[test]
fn a_first_open_killed_before_the_schema_was_written_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    // What a kill during the very first open leaves: sled's files, the marker, no schema.
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join(".creating"), b"").unwrap();
    drop(open_raw(&path));
    let store = Store::open(&Options::new(&path)).unwrap();
    assert!(!path.join(".creating").exists());
    store.create_token("hvs.after", &record("acc-after", 60)).unwrap();
}
