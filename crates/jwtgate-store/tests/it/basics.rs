//! Mounts, configs, roles and policies: round trips, listing, nested mounts, deletion cascade.

use crate::*;
use jwtgate_store::{Mount, Policy, Tune};
use serde_json::json;

fn mount(path: &str) -> Mount {
    Mount {
        path: path.into(),
        kind: "jwt".into(),
        accessor: "auth_jwt_1a2b3c4d".into(),
        uuid: "7d2e3179-f69b-450c-7179-ac8ee8bd8ca9".into(),
        description: String::new(),
        tune: Tune { token_type: "default-service".into(), ..Tune::default() },
    }
}

#[test]
fn records_round_trip() {
    let (_dir, store) = temp_store();
    assert_eq!(store.get_mount("jwt").unwrap(), None);
    for path in ["jwt", "jwt/cluster-a", "kubernetes"] {
        store.put_mount(&mount(path)).unwrap();
    }
    assert_eq!(store.get_mount("jwt/cluster-a").unwrap(), Some(mount("jwt/cluster-a")));
    let paths: Vec<String> = store.list_mounts().unwrap().into_iter().map(|m| m.path).collect();
    assert_eq!(paths, vec!["jwt", "jwt/cluster-a", "kubernetes"]);

    let config = json!({"oidc_discovery_url": "https://kubernetes.default.svc.cluster.local", "bound_issuer": ""});
    store.put_config("jwt", &config).unwrap();
    assert_eq!(store.get_config("jwt").unwrap(), Some(config));
    assert_eq!(store.get_config("jwt/cluster-a").unwrap(), None);

    let role =
        json!({"role_type": "jwt", "bound_audiences": ["vault"], "user_claim": "sub", "bound_claims": {"n": 123}});
    for (mount_path, name) in [("jwt", "b"), ("jwt", "a"), ("jwt/cluster-a", "c")] {
        store.put_role(mount_path, name, &role).unwrap();
    }
    assert_eq!(store.get_role("jwt", "a").unwrap(), Some(role.clone()));
    // A mount's roles never include a nested mount's.
    assert_eq!(store.list_roles("jwt").unwrap(), vec!["a", "b"]);
    assert_eq!(store.list_roles("jwt/cluster-a").unwrap(), vec!["c"]);
    store.delete_role("jwt", "a").unwrap();
    store.delete_role("jwt", "never-existed").unwrap();
    assert_eq!(store.list_roles("jwt").unwrap(), vec!["b"]);

    for name in ["k8s-app", "default"] {
        store
            .put_policy(&Policy {
                name: name.into(),
                policy: format!("path \"secret/{name}\" {{ capabilities = [\"read\"] }}"),
            })
            .unwrap();
    }
    assert_eq!(store.list_policies().unwrap(), vec!["default", "k8s-app"]);
    assert!(store.get_policy("k8s-app").unwrap().unwrap().policy.contains("secret/k8s-app"));
    store.delete_policy("k8s-app").unwrap();
    assert_eq!(store.get_policy("k8s-app").unwrap(), None);
}

#[test]
fn deleting_a_mount_removes_its_config_roles_and_tokens() {
    let (_dir, store) = temp_store();
    for path in ["jwt", "jwt/cluster-a"] {
        store.put_mount(&mount(path)).unwrap();
        store.put_config(path, &json!({"jwt_validation_pubkeys": ["pem"]})).unwrap();
        store.put_role(path, "r", &json!({"role_type": "jwt"})).unwrap();
    }
    store.create_token("t-jwt", &record("a-jwt", 3600)).unwrap();
    store.create_token("t-nested", &TokenRecord { mount: "jwt/cluster-a".into(), ..record("a-nested", 3600) }).unwrap();

    assert_eq!(store.delete_mount("jwt").unwrap(), 1);
    assert_eq!(store.get_mount("jwt").unwrap(), None);
    assert_eq!(store.get_config("jwt").unwrap(), None);
    assert!(store.list_roles("jwt").unwrap().is_empty());
    assert_eq!(store.lookup_token("t-jwt", NOW).unwrap(), None);
    assert_eq!(store.lookup_accessor("a-jwt", NOW).unwrap(), None);
    // The nested mount is untouched.
    assert!(store.get_mount("jwt/cluster-a").unwrap().is_some());
    assert_eq!(store.list_roles("jwt/cluster-a").unwrap(), vec!["r"]);
    assert!(store.lookup_token("t-nested", NOW).unwrap().is_some());
}

#[test]
fn moving_a_mount_takes_its_config_and_roles_and_revokes_its_tokens() {
    let (dir, store) = temp_store();
    for path in ["jwt", "jwt/cluster-a"] {
        store.put_mount(&mount(path)).unwrap();
        store.put_config(path, &json!({"jwt_validation_pubkeys": [path]})).unwrap();
        store.put_role(path, "r", &json!({"role_type": path})).unwrap();
    }
    store.create_token("t-jwt", &record("a-jwt", 3600)).unwrap();
    store.create_token("t-nested", &TokenRecord { mount: "jwt/cluster-a".into(), ..record("a-nested", 3600) }).unwrap();
    let moved = Mount { path: "moved".into(), ..store.get_mount("jwt").unwrap().unwrap() };

    assert_eq!(store.move_mount("jwt", &moved).unwrap(), 1);
    drop(store);
    let store = Store::open(&Options::new(dir.path().join("db"))).unwrap();
    assert_eq!(store.get_mount("jwt").unwrap(), None);
    assert_eq!(store.get_mount("moved").unwrap().unwrap().accessor, mount("jwt").accessor);
    assert_eq!(store.get_config("jwt").unwrap(), None);
    assert_eq!(store.get_config("moved").unwrap(), Some(json!({"jwt_validation_pubkeys": ["jwt"]})));
    assert!(store.list_roles("jwt").unwrap().is_empty());
    assert_eq!(store.get_role("moved", "r").unwrap(), Some(json!({"role_type": "jwt"})));
    assert_eq!(store.lookup_token("t-jwt", NOW).unwrap(), None);
    // The nested mount is its own and stays.
    assert_eq!(store.get_role("jwt/cluster-a", "r").unwrap(), Some(json!({"role_type": "jwt/cluster-a"})));
    assert!(store.lookup_token("t-nested", NOW).unwrap().is_some());
}

#[test]
fn init_happens_once_and_the_key_ring_persists() {
    let (dir, store) = temp_store();
    assert!(!store.is_initialized().unwrap());
    assert!(store.mark_initialized().unwrap());
    assert!(!store.mark_initialized().unwrap());
    let ring = store.key_ring(NOW).unwrap();
    assert_eq!(ring.keys.len(), 1);
    let rotated = store.rotate_key_ring(NOW + 10).unwrap();
    assert_eq!(rotated.keys.iter().map(|k| k.id).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(rotated.keys[0], ring.keys[0]);
    assert!(!format!("{:?}", rotated).contains(&rotated.keys[0].secret), "Debug never shows a secret");
    drop(store);
    let reopened = Store::open(&Options::new(dir.path().join("db"))).unwrap();
    assert!(reopened.is_initialized().unwrap());
    assert_eq!(reopened.key_ring(NOW).unwrap(), rotated);
}

#[test]
fn racing_first_uses_of_the_key_ring_agree_on_one_key() {
    for _ in 0..10 {
        let (_dir, store) = temp_store();
        let store = std::sync::Arc::new(store);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
        let racers: Vec<_> = (0..8)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.key_ring(NOW).unwrap()
                })
            })
            .collect();
        let rings: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(rings[0].keys.len(), 1);
        assert!(rings.iter().all(|ring| *ring == rings[0]), "every racer got the stored ring");
        assert_eq!(store.key_ring(NOW).unwrap(), rings[0]);
    }
}
