//! Backup: export to JSON lines and import into an empty database.

use crate::*;
use jwtgate_store::StoreError;

#[test]
fn export_then_import_keeps_tokens_usable() {
    let (_dir, store) = temp_store();
    store.put_role("jwt", "r", &serde_json::json!({"role_type": "jwt"})).unwrap();
    for i in 0..50 {
        store.create_token(&format!("hvs.b{i}"), &record(&format!("acc-b{i}"), 3600)).unwrap();
    }
    let mut exported = Vec::new();
    let count = store.export(&mut exported).unwrap();
    let text = String::from_utf8(exported.clone()).unwrap();
    assert!(!text.contains("hvs.b1"), "tokens stay hashed in a backup");

    let target = tempfile::tempdir().unwrap();
    let (imported, imported_count) = Store::import(&Options::new(target.path().join("db")), &exported[..]).unwrap();
    assert_eq!(imported_count, count);
    assert_eq!(imported.lookup_token("hvs.b7", NOW).unwrap().unwrap().accessor, "acc-b7");
    assert!(imported.lookup_accessor("acc-b9", NOW).unwrap().is_some());
    assert_eq!(imported.list_roles("jwt").unwrap(), vec!["r"]);
}

#[test]
fn import_refuses_a_non_empty_database_and_bad_input() {
    let (dir, store) = temp_store();
    store.create_token("hvs.x", &record("acc-x", 60)).unwrap();
    let mut exported = Vec::new();
    store.export(&mut exported).unwrap();
    drop(store);
    let existing = Options::new(dir.path().join("db"));
    assert!(matches!(Store::import(&existing, &exported[..]), Err(StoreError::Import { line: 0, .. })));

    let cases: [(&str, usize); 3] = [
        ("not json\n", 1),
        ("{\"jwtgate_backup\":7,\"schema\":1}\n", 1),
        ("{\"jwtgate_backup\":1,\"schema\":1}\n{\"key\":\"a\",\"value\":\"b\"}\n{\"oops\":1}\n", 3),
    ];
    for (input, line) in cases {
        let target = tempfile::tempdir().unwrap();
        let options = Options::new(target.path().join("db"));
        match Store::import(&options, input.as_bytes()) {
            Err(StoreError::Import { line: found, .. }) => assert_eq!(found, line, "{input:?}"),
            other => panic!("{input:?}: {other:?}"),
        }
        // Nothing was written: the database is still empty.
        assert_eq!(Store::open(&options).unwrap().token_count().unwrap(), 0);
    }
}

#[test]
fn the_token_gauge_survives_import_and_both_kinds_of_stop() {
    let (_dir, store) = temp_store();
    for i in 0..7 {
        store.create_token(&format!("hvs.i{i}"), &record(&format!("acc-i{i}"), 3600)).unwrap();
    }
    let mut exported = Vec::new();
    store.export(&mut exported).unwrap();
    let target = tempfile::tempdir().unwrap();
    let options = Options::new(target.path().join("db"));
    let (imported, _) = Store::import(&options, &exported[..]).unwrap();
    assert_eq!(imported.token_records(), 7);
    imported.revoke_token("hvs.i0").unwrap();
    drop(imported);
    // A clean stop saved the count; the next open uses it and removes it.
    let reopened = Store::open(&options).unwrap();
    assert_eq!(reopened.token_records(), 6);
    let mut backup = Vec::new();
    reopened.export(&mut backup).unwrap();
    assert!(!String::from_utf8(backup).unwrap().contains("meta/token_count"), "the saved count is consumed at open");
    assert_eq!(reopened.token_records() as usize, reopened.token_count().unwrap());
}
