//! Model-based test: random operation sequences applied to the store and to a `BTreeMap`
//! model must agree after every step.

use crate::*;
use jwtgate_store::{Policy, UseOutcome};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
enum Op {
    Create { token: u8, ttl: i64, uses: i64 },
    Lookup { token: u8 },
    LookupAccessor { token: u8 },
    Revoke { token: u8 },
    RevokeAccessor { token: u8 },
    Use { token: u8 },
    Renew { token: u8, ttl: i64 },
    Sweep { limit: usize },
    Advance { seconds: i64 },
    PutPolicy { name: u8, body: u8 },
    DeletePolicy { name: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    let token = 0u8..6;
    prop_oneof![
        (token.clone(), 1i64..200, 0i64..4).prop_map(|(token, ttl, uses)| Op::Create { token, ttl, uses }),
        token.clone().prop_map(|token| Op::Lookup { token }),
        token.clone().prop_map(|token| Op::LookupAccessor { token }),
        token.clone().prop_map(|token| Op::Revoke { token }),
        token.clone().prop_map(|token| Op::RevokeAccessor { token }),
        token.clone().prop_map(|token| Op::Use { token }),
        (token, 1i64..200).prop_map(|(token, ttl)| Op::Renew { token, ttl }),
        (1usize..4).prop_map(|limit| Op::Sweep { limit }),
        (0i64..120).prop_map(|seconds| Op::Advance { seconds }),
        (0u8..3, any::<u8>()).prop_map(|(name, body)| Op::PutPolicy { name, body }),
        (0u8..3).prop_map(|name| Op::DeletePolicy { name }),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct ModelToken {
    expire: i64,
    uses: i64,
}

fn name(token: u8) -> String {
    format!("hvs.model-{token}")
}

fn accessor(token: u8) -> String {
    format!("acc-model-{token}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn store_agrees_with_a_btreemap_model(ops in proptest::collection::vec(op(), 1..60)) {
        let (_dir, store) = temp_store();
        agrees_with_the_model(&store, ops)?;
    }

    #[test]
    fn store_on_postgresql_agrees_with_a_btreemap_model(ops in proptest::collection::vec(op(), 1..60)) {
        // Each case on a table of its own, on one server for the whole test.
        if let Some(store) = crate::postgres::fresh_store() {
            agrees_with_the_model(&store, ops)?;
        }
    }
}

fn agrees_with_the_model(store: &Store, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut tokens: BTreeMap<u8, ModelToken> = BTreeMap::new();
    let mut policies: BTreeMap<String, String> = BTreeMap::new();
    let mut now = NOW;
    for op in ops {
        // The model forgets expired tokens the moment they expire; the store refuses them.
        tokens.retain(|_, t| now < t.expire);
        match op {
            Op::Create { token, ttl, uses } => {
                if tokens.contains_key(&token) || store.lookup_token(&name(token), now).unwrap().is_some() {
                    continue;
                }
                // A dead record of the same name is revoked first, as the API would never reuse a token.
                store.revoke_token(&name(token)).unwrap();
                let rec = TokenRecord {
                    num_uses: uses,
                    creation_time: now,
                    expire_time: Some(now + ttl),
                    ..record(&accessor(token), ttl)
                };
                store.create_token(&name(token), &rec).unwrap();
                tokens.insert(token, ModelToken { expire: now + ttl, uses });
            }
            Op::Lookup { token } => {
                let found =
                    store.lookup_token(&name(token), now).unwrap().map(|r| (r.expire_time.unwrap(), r.num_uses));
                prop_assert_eq!(found, tokens.get(&token).map(|t| (t.expire, t.uses)));
            }
            Op::LookupAccessor { token } => {
                let found = store.lookup_accessor(&accessor(token), now).unwrap().map(|r| r.expire_time.unwrap());
                prop_assert_eq!(found, tokens.get(&token).map(|t| t.expire));
            }
            Op::Revoke { token } => {
                store.revoke_token(&name(token)).unwrap();
                tokens.remove(&token);
            }
            Op::RevokeAccessor { token } => {
                store.revoke_accessor(&accessor(token)).unwrap();
                tokens.remove(&token);
            }
            Op::Use { token } => {
                let outcome = store.use_token(&name(token), now).unwrap();
                let expected = match tokens.get_mut(&token) {
                    None => UseOutcome::Refused,
                    Some(t) if t.uses == 0 => UseOutcome::Unlimited,
                    Some(t) if t.uses == 1 => {
                        tokens.remove(&token);
                        UseOutcome::LastUse
                    }
                    Some(t) => {
                        t.uses -= 1;
                        UseOutcome::Remaining(t.uses)
                    }
                };
                prop_assert_eq!(outcome, expected);
            }
            Op::Renew { token, ttl } => {
                let renewed = store
                    .update_token(&name(token), now, |r| {
                        Ok::<_, ()>(TokenRecord { expire_time: Some(now + ttl), ..r.clone() })
                    })
                    .unwrap();
                prop_assert_eq!(renewed.is_some(), tokens.contains_key(&token));
                if let Some(t) = tokens.get_mut(&token) {
                    t.expire = now + ttl;
                }
            }
            Op::Sweep { limit } => {
                store.sweep_expired(now, limit).unwrap();
            }
            Op::Advance { seconds } => now += seconds,
            Op::PutPolicy { name, body } => {
                let policy = Policy { name: format!("p{name}"), policy: format!("# {body}") };
                store.put_policy(&policy).unwrap();
                policies.insert(policy.name, policy.policy);
            }
            Op::DeletePolicy { name } => {
                store.delete_policy(&format!("p{name}")).unwrap();
                policies.remove(&format!("p{name}"));
            }
        }
        prop_assert_eq!(store.list_policies().unwrap(), policies.keys().cloned().collect::<Vec<_>>());
    }
    // Every live model token is found; after a full sweep only live tokens remain stored.
    tokens.retain(|_, t| now < t.expire);
    for (token, t) in &tokens {
        prop_assert_eq!(store.lookup_token(&name(*token), now).unwrap().map(|r| r.expire_time), Some(Some(t.expire)));
    }
    store.sweep_expired(now, usize::MAX).unwrap();
    prop_assert_eq!(store.token_count().unwrap(), tokens.len());
    Ok(())
}
