//! Token operations: create, lookup by token and accessor, renew, revoke, use counts, mount
//! revocation and the expiry sweep.

use crate::*;
use jwtgate_store::UseOutcome;
use std::sync::Arc;

#[test]
fn token_lifecycle() {
    let (_dir, store) = temp_store();
    let token = "hvs.lifecycle";
    store.create_token(token, &record("acc-1", 3600)).unwrap();
    assert_eq!(store.lookup_token(token, NOW).unwrap().unwrap().accessor, "acc-1");
    assert_eq!(store.lookup_accessor("acc-1", NOW).unwrap().unwrap().policies, vec!["default", "k8s-app"]);
    assert_eq!(store.lookup_token("hvs.other", NOW).unwrap(), None);

    // Expiry is checked on every lookup, whatever the sweeper has done.
    assert!(store.lookup_token(token, NOW + 3599).unwrap().is_some());
    assert_eq!(store.lookup_token(token, NOW + 3600).unwrap(), None);

    // Renewal moves the expiry.
    let renewed = store
        .update_token(token, NOW + 100, |r| {
            Ok::<_, ()>(TokenRecord { expire_time: Some(NOW + 7200), last_renewal_time: Some(NOW + 100), ..r.clone() })
        })
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(renewed.expire_time, Some(NOW + 7200));
    assert!(store.lookup_token(token, NOW + 5000).unwrap().is_some());
    // An update that refuses leaves the record as it was.
    let refused =
        store.update_token(token, NOW + 100, |_| Err::<TokenRecord, _>("past the max TTL, cannot renew")).unwrap();
    assert_eq!(refused, Some(Err("past the max TTL, cannot renew")));
    assert_eq!(store.update_token("hvs.unknown", NOW, |r| Ok::<_, ()>(r.clone())).unwrap(), None);

    assert!(store.revoke_token(token).unwrap());
    assert!(!store.revoke_token(token).unwrap());
    assert_eq!(store.lookup_token(token, NOW).unwrap(), None);
    assert_eq!(store.lookup_accessor("acc-1", NOW).unwrap(), None);
    assert_eq!(store.token_count().unwrap(), 0);
}

#[test]
fn revoke_by_accessor() {
    let (_dir, store) = temp_store();
    store.create_token("hvs.a", &record("acc-a", 3600)).unwrap();
    assert!(store.revoke_accessor("acc-a").unwrap());
    assert!(!store.revoke_accessor("acc-a").unwrap());
    assert_eq!(store.lookup_token("hvs.a", NOW).unwrap(), None);
}

#[test]
fn tokens_without_expiry_never_expire() {
    let (_dir, store) = temp_store();
    store
        .create_token(
            "hvs.root",
            &TokenRecord { expire_time: None, policies: vec!["root".into()], ..record("acc-root", 0) },
        )
        .unwrap();
    assert!(store.lookup_token("hvs.root", i64::MAX - 1).unwrap().is_some());
    assert_eq!(store.sweep_expired(i64::MAX - 1, 100).unwrap(), 0);
}

#[test]
fn use_counts() {
    let (_dir, store) = temp_store();
    store.create_token("hvs.three", &TokenRecord { num_uses: 3, ..record("acc-3", 3600) }).unwrap();
    let outcomes: Vec<UseOutcome> = (0..4).map(|_| store.use_token("hvs.three", NOW).unwrap()).collect();
    assert_eq!(
        outcomes,
        vec![UseOutcome::Remaining(2), UseOutcome::Remaining(1), UseOutcome::LastUse, UseOutcome::Refused]
    );
    assert_eq!(store.lookup_token("hvs.three", NOW).unwrap(), None);
    store.create_token("hvs.unlimited", &record("acc-u", 3600)).unwrap();
    assert_eq!(store.use_token("hvs.unlimited", NOW).unwrap(), UseOutcome::Unlimited);
    assert_eq!(store.use_token("hvs.unknown", NOW).unwrap(), UseOutcome::Refused);
    assert_eq!(store.use_token("hvs.unlimited", NOW + 3600).unwrap(), UseOutcome::Refused, "expired");
}

/// Runs `work` on 50 threads released at once; their results.
fn fifty_at_once<T: Send + 'static>(
    store: &Arc<jwtgate_store::Store>,
    work: impl Fn(&jwtgate_store::Store) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let (barrier, work) = (Arc::new(std::sync::Barrier::new(50)), Arc::new(work));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (store, barrier, work) = (store.clone(), barrier.clone(), work.clone());
            std::thread::spawn(move || {
                barrier.wait();
                work(&store)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn one_use_under_fifty_concurrent_uses_succeeds_once() {
    for num_uses in [1, 5] {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        store.create_token("hvs.once", &TokenRecord { num_uses, ..record("acc-once", 3600) }).unwrap();
        let outcomes = fifty_at_once(&store, |store| store.use_token("hvs.once", NOW).unwrap());
        let allowed = outcomes.iter().filter(|o| !matches!(o, UseOutcome::Refused)).count();
        assert_eq!(allowed, num_uses as usize, "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| **o == UseOutcome::LastUse).count(), 1);
        assert_eq!(store.lookup_token("hvs.once", NOW).unwrap(), None);
    }
}

#[test]
fn a_wrapped_answer_is_taken_once_under_fifty_concurrent_takers_and_other_tokens_are_left() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    let wrapping = TokenRecord { num_uses: 1, wrapped: "c2VhbGVk".into(), ..record("acc-wrap", 3600) };
    store.create_token("hvs.wrap", &wrapping).unwrap();
    store.create_token("hvs.plain", &record("acc-plain", 3600)).unwrap();
    let taken: Vec<TokenRecord> =
        fifty_at_once(&store, |store| store.take_wrapped("hvs.wrap", NOW).unwrap()).into_iter().flatten().collect();
    assert_eq!(taken, vec![wrapping.clone()]);
    assert_eq!(store.lookup_token("hvs.wrap", NOW).unwrap(), None);
    // Not a wrapping token, expired, or unknown: nothing taken, nothing changed.
    assert_eq!(store.take_wrapped("hvs.plain", NOW).unwrap(), None);
    assert!(store.lookup_token("hvs.plain", NOW).unwrap().is_some());
    store.create_token("hvs.late", &TokenRecord { wrapped: "eA==".into(), ..record("acc-late", 10) }).unwrap();
    assert_eq!(store.take_wrapped("hvs.late", NOW + 10).unwrap(), None);
    assert_eq!(store.take_wrapped("hvs.unknown", NOW).unwrap(), None);
}

#[test]
fn revoking_a_mount_revokes_only_its_tokens() {
    let (_dir, store) = temp_store();
    for i in 0..2500 {
        store.create_token(&format!("hvs.jwt-{i}"), &record(&format!("a-jwt-{i}"), 3600)).unwrap();
    }
    store.create_token("hvs.k8s", &TokenRecord { mount: "kubernetes".into(), ..record("a-k8s", 3600) }).unwrap();
    assert_eq!(store.revoke_mount_tokens("jwt").unwrap(), 2500);
    assert_eq!(store.token_count().unwrap(), 1);
    assert!(store.lookup_token("hvs.k8s", NOW).unwrap().is_some());
    assert_eq!(store.lookup_accessor("a-jwt-7", NOW).unwrap(), None);
}

#[test]
fn the_sweep_is_bounded_and_skips_renewed_tokens() {
    let (_dir, store) = temp_store();
    for i in 0..10 {
        store.create_token(&format!("hvs.short-{i}"), &record(&format!("a-short-{i}"), 60)).unwrap();
    }
    store.create_token("hvs.long", &record("a-long", 86_400)).unwrap();
    store.create_token("hvs.renewed", &record("a-renewed", 60)).unwrap();
    store
        .update_token("hvs.renewed", NOW, |r| Ok::<_, ()>(TokenRecord { expire_time: Some(NOW + 86_400), ..r.clone() }))
        .unwrap();

    assert_eq!(store.sweep_expired(NOW + 59, 100).unwrap(), 0, "nothing has expired yet");
    assert_eq!(store.sweep_expired(NOW + 60, 4).unwrap(), 4, "bounded by the limit");
    assert_eq!(store.sweep_expired(NOW + 60, 100).unwrap(), 6);
    assert_eq!(store.sweep_expired(NOW + 60, 100).unwrap(), 0);
    assert_eq!(store.token_count().unwrap(), 2);
    assert!(store.lookup_token("hvs.renewed", NOW + 1000).unwrap().is_some());
}

#[test]
fn the_token_gauge_follows_every_write_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options::new(dir.path().join("db"));
    let store = Store::open(&options).unwrap();
    for i in 0..10 {
        store.create_token(&format!("hvs.g{i}"), &record(&format!("a-g{i}"), 60 + i)).unwrap();
    }
    store.create_token("hvs.once", &TokenRecord { num_uses: 1, ..record("a-once", 3600) }).unwrap();
    assert_eq!(store.token_records(), 11);
    store.revoke_token("hvs.g0").unwrap();
    store.revoke_accessor("a-g1").unwrap();
    store.use_token("hvs.once", NOW).unwrap();
    assert_eq!(store.token_records(), 8);
    assert_eq!(store.sweep_expired(NOW + 64, 100).unwrap(), 3);
    assert_eq!(store.token_records(), 5);
    assert_eq!(store.token_records() as usize, store.token_count().unwrap());
    drop(store);
    assert_eq!(Store::open(&options).unwrap().token_records(), 5);
}

#[test]
fn renewals_racing_uses_never_give_back_a_spent_use() {
    const USES: i64 = 20;
    for _ in 0..5 {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        store.create_token("hvs.raced", &TokenRecord { num_uses: USES, ..record("acc-raced", 3600) }).unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(8));
        let users: Vec<_> = (0..6)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..USES).filter(|_| store.use_token("hvs.raced", NOW).unwrap() != UseOutcome::Refused).count()
                })
            })
            .collect();
        let renewers: Vec<_> = (0..2)
            .map(|i| {
                let (store, barrier) = (store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for n in 0..40 {
                        let _ = store
                            .update_token("hvs.raced", NOW, |r| {
                                Ok::<_, ()>(TokenRecord { expire_time: Some(NOW + 3600 + i * 100 + n), ..r.clone() })
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        renewers.into_iter().for_each(|t| t.join().unwrap());
        let allowed: usize = users.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, USES as usize, "exactly num_uses uses succeed, renewals or not");
        assert_eq!(store.lookup_token("hvs.raced", NOW).unwrap(), None);
        assert_eq!(store.token_count().unwrap(), 0);
        assert_eq!(store.token_records(), 0);
        // No expiry entry outlives the token: a sweep far in the future removes nothing live.
        assert_eq!(store.sweep_expired(NOW + 100_000, 1000).unwrap(), 0);
    }
}

#[test]
fn concurrent_revocations_count_the_token_once() {
    let (_dir, store) = temp_store();
    let store = Arc::new(store);
    store.create_token("hvs.gone", &record("acc-gone", 3600)).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            std::thread::spawn(move || {
                if i % 2 == 0 {
                    store.revoke_token("hvs.gone").unwrap()
                } else {
                    store.revoke_accessor("acc-gone").unwrap()
                }
            })
        })
        .collect();
    let revoked = threads.into_iter().map(|t| t.join().unwrap()).filter(|r| *r).count();
    assert_eq!(revoked, 1);
    assert_eq!(store.token_records(), 0);
}

/// A parent `p` with children `c1`, `c2` and a grandchild `g` (under `c1`).
fn family(store: &jwtgate_store::Store) {
    store.create_token("hvs.p", &record("acc-p", 3600)).unwrap();
    for (token, accessor, parent) in
        [("hvs.c1", "acc-c1", "hvs.p"), ("hvs.c2", "acc-c2", "hvs.p"), ("hvs.g", "acc-g", "hvs.c1")]
    {
        assert!(store.create_child_token(token, &record(accessor, 3600), parent, NOW).unwrap());
    }
}

fn live(store: &jwtgate_store::Store, tokens: &[&str], at: i64) -> Vec<bool> {
    tokens.iter().map(|t| store.lookup_token(t, at).unwrap().is_some()).collect()
}

#[test]
fn revoking_a_parent_revokes_its_descendants() {
    let all = ["hvs.p", "hvs.c1", "hvs.c2", "hvs.g"];
    // By token, by accessor, and with the mount.
    for revoke in 0..3 {
        let (_dir, store) = temp_store();
        family(&store);
        assert_eq!(live(&store, &all, NOW), [true; 4]);
        let child = store.lookup_token("hvs.g", NOW).unwrap().unwrap();
        assert!(!child.orphan && !child.parent.is_empty(), "{child:?}");
        match revoke {
            0 => assert!(store.revoke_token("hvs.p").unwrap()),
            1 => assert!(store.revoke_accessor("acc-p").unwrap()),
            _ => assert!(store.revoke_mount_tokens("jwt").unwrap() >= 1),
        }
        assert_eq!(live(&store, &all, NOW), [false; 4], "revocation {revoke}");
        assert_eq!(store.token_count().unwrap(), 0, "every record is gone, not just refused");
    }
    // Revoking a child leaves its parent and sibling.
    let (_dir, store) = temp_store();
    family(&store);
    assert!(store.revoke_token("hvs.c1").unwrap());
    assert_eq!(live(&store, &all, NOW), [true, false, true, false]);
}

#[test]
fn revoke_orphan_keeps_the_children_as_orphans() {
    let (_dir, store) = temp_store();
    family(&store);
    assert!(store.revoke_orphan("hvs.p").unwrap());
    assert_eq!(live(&store, &["hvs.p", "hvs.c1", "hvs.c2", "hvs.g"], NOW), [false, true, true, true]);
    let child = store.lookup_token("hvs.c1", NOW).unwrap().unwrap();
    assert!(child.orphan && child.parent.is_empty(), "{child:?}");
    // The grandchild is still c1's child.
    assert!(store.revoke_token("hvs.c1").unwrap());
    assert_eq!(live(&store, &["hvs.c2", "hvs.g"], NOW), [true, false]);
    assert!(!store.revoke_orphan("hvs.p").unwrap());
}

#[test]
fn a_child_dies_with_an_expired_parent_and_none_is_made_under_a_dead_one() {
    let (_dir, store) = temp_store();
    store.create_token("hvs.short", &record("acc-s", 60)).unwrap();
    assert!(store.create_child_token("hvs.kid", &record("acc-k", 3600), "hvs.short", NOW).unwrap());
    // Refused as soon as the parent expires, before any sweep.
    assert_eq!(live(&store, &["hvs.short", "hvs.kid"], NOW + 61), [false, false]);
    assert!(store.sweep_expired(NOW + 61, 100).unwrap() >= 1);
    assert_eq!(store.token_count().unwrap(), 0, "the sweep took the child with its parent");
    assert!(!store.create_child_token("hvs.late", &record("acc-l", 3600), "hvs.short", NOW + 61).unwrap());
    assert!(!store.create_child_token("hvs.late", &record("acc-l", 3600), "hvs.never", NOW).unwrap());
    assert_eq!(store.token_count().unwrap(), 0);
}

#[test]
fn the_hierarchy_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = jwtgate_store::Store::open(&jwtgate_store::Options::new(dir.path())).unwrap();
        family(&store);
    }
    let store = jwtgate_store::Store::open(&jwtgate_store::Options::new(dir.path())).unwrap();
    assert!(store.revoke_token("hvs.p").unwrap());
    assert_eq!(live(&store, &["hvs.p", "hvs.c1", "hvs.c2", "hvs.g"], NOW), [false; 4]);
}
