//! Golden records of every stored version: they must keep decoding into the current shapes.

use jwtgate_store::{KeyRing, Mount, Options, Policy, Store, TokenRecord};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/test_data/v1/backup.jsonl");

#[test]
fn version_1_database_opens_and_reads() {
    let dir = tempfile::tempdir().unwrap();
    let backup = std::fs::read(GOLDEN).unwrap();
    let (store, count) = Store::import(&Options::new(dir.path().join("db")), &backup[..]).unwrap();
    assert_eq!(count, 12);
    let mount: Mount = store.get_mount("jwt").unwrap().unwrap();
    assert_eq!((mount.kind.as_str(), mount.accessor.as_str()), ("jwt", "auth_jwt_1a2b3c4d"));
    assert_eq!(mount.tune.token_type, "default-service");
    assert_eq!(
        store.get_config("jwt").unwrap().unwrap()["oidc_discovery_url"],
        "https://kubernetes.default.svc.cluster.local"
    );
    assert_eq!(
        store.get_role("jwt", "my-role").unwrap().unwrap()["bound_subject"],
        "system:serviceaccount:default:default"
    );
    let policy: Policy = store.get_policy("k8s-app").unwrap().unwrap();
    assert!(policy.policy.contains("secret/data/k8s-app"));
    // The golden token was issued with the token string "hvs.golden-token".
    let token: TokenRecord = store.lookup_token("hvs.golden-token", 1_700_000_100).unwrap().unwrap();
    assert_eq!(token.accessor, "Zq1xY8c2VdT4mK0pL3sN7wQe");
    assert_eq!(token.expire_time, Some(1_700_003_600));
    assert_eq!(store.lookup_accessor("Zq1xY8c2VdT4mK0pL3sN7wQe", 1_700_000_100).unwrap(), Some(token));
    let ring: KeyRing = store.key_ring(0).unwrap();
    assert_eq!(ring.keys.len(), 1);
    assert!(store.is_initialized().unwrap());
}

#[test]
fn a_record_from_a_newer_version_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(GOLDEN).unwrap();
    let newer =
        text.replace(r#"{\"v\":1,\"data\":{\"name\":\"k8s-app\""#, r#"{\"v\":9,\"data\":{\"name\":\"k8s-app\""#);
    assert_ne!(newer, text, "the golden policy record was found");
    let (store, _) = Store::import(&Options::new(dir.path().join("db")), newer.as_bytes()).unwrap();
    let error = store.get_policy("k8s-app").unwrap_err().to_string();
    assert!(error.contains("record version 9 is newer than this jwtgate supports (1)"), "{error}");
}
