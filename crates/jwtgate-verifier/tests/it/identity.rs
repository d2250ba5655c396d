//! Identity building: user claim, claim mappings, groups (TestLogin_JWT, TestLogin_NestedGroups,
//! TestExtractMetadata).

use crate::*;

/// (alias name, groups, metadata)
type Expected = (&'static str, Vec<&'static str>, Vec<(&'static str, &'static str)>);

fn identity_of(claims: Value, policy: ClaimPolicy) -> Result<Identity, TokenError> {
    let validator = static_validator(&[rsa()]);
    check(&validator, &rsa().token(&claims), &policy, now())
}

fn base_policy() -> ClaimPolicy {
    ClaimPolicy { user_claim: "https://vault/user".into(), ..ClaimPolicy::default() }
}

fn auth0_claims() -> Value {
    json!({
        "iss": "https://team-vault.auth0.com/", "sub": "r3qXcK2bix9eFECzsU3Sbmh0K16fatW6@clients",
        "iat": NOW, "exp": NOW + 60, "nbf": NOW,
        "https://vault/user": "jeff", "https://vault/groups": ["foo", "bar"],
        "name": "jeff2", "org": {"primary": "engineering"}, "age": 42,
        "https": {"//vault/groups": {"testing": ["foo", "bar"]}}
    })
}

#[test]
fn the_upstream_fixture_role() {
    let policy = ClaimPolicy {
        groups_claim: "https://vault/groups".into(),
        claim_mappings: vec![("name".into(), "first_name".into()), ("/org/primary".into(), "primary_org".into())],
        bound_subject: "r3qXcK2bix9eFECzsU3Sbmh0K16fatW6@clients".into(),
        ..base_policy()
    };
    let identity = identity_of(auth0_claims(), policy).unwrap();
    assert_eq!(identity.alias_name, "jeff");
    assert_eq!(identity.groups, vec!["foo", "bar"]);
    assert_eq!(
        identity.metadata,
        vec![("first_name".to_owned(), "jeff2".to_owned()), ("primary_org".to_owned(), "engineering".to_owned())]
    );
}

#[test]
fn identity_cases() {
    use TokenError::*;
    let cases: Vec<(ClaimPolicy, Result<Expected, TokenError>)> = vec![
        // Nested groups through an escaped JSON pointer.
        (
            ClaimPolicy { groups_claim: "/https/~1~1vault~1groups/testing".into(), ..base_policy() },
            Ok(("jeff", vec!["foo", "bar"], vec![])),
        ),
        // A scalar groups claim becomes one group.
        (ClaimPolicy { groups_claim: "name".into(), ..base_policy() }, Ok(("jeff", vec!["jeff2"], vec![]))),
        (ClaimPolicy { groups_claim: "missing".into(), ..base_policy() }, Err(GroupsMissing("missing".into()))),
        (ClaimPolicy { groups_claim: "org".into(), ..base_policy() }, Err(GroupsNotList("org".into()))),
        (ClaimPolicy { groups_claim: "age".into(), ..base_policy() }, Err(GroupNotString("42".into()))),
        // User claim: a plain key unless user_claim_json_pointer.
        (ClaimPolicy { user_claim: "missing".into(), ..base_policy() }, Err(UserClaimMissing("missing".into()))),
        (ClaimPolicy { user_claim: "age".into(), ..base_policy() }, Err(UserClaimNotString("age".into()))),
        (ClaimPolicy { user_claim: "org".into(), ..base_policy() }, Err(UserClaimNotString("org".into()))),
        (
            ClaimPolicy { user_claim: "/org/primary".into(), ..base_policy() },
            Err(UserClaimMissing("/org/primary".into())),
        ),
        (
            ClaimPolicy { user_claim: "/org/primary".into(), user_claim_json_pointer: true, ..base_policy() },
            Ok(("engineering", vec![], vec![])),
        ),
        // Mappings: absent sources are skipped, non-strings refused.
        (
            ClaimPolicy {
                claim_mappings: vec![("nope".into(), "x".into()), ("name".into(), "n".into())],
                ..base_policy()
            },
            Ok(("jeff", vec![], vec![("n", "jeff2")])),
        ),
        (
            ClaimPolicy { claim_mappings: vec![("age".into(), "a".into())], ..base_policy() },
            Err(MappingNotString("age".into())),
        ),
    ];
    for (policy, expected) in cases {
        let result = identity_of(auth0_claims(), policy.clone());
        match expected {
            Ok((alias, groups, metadata)) => {
                let identity = result.unwrap_or_else(|e| panic!("{policy:?}: {e}"));
                assert_eq!(identity.alias_name, alias);
                assert_eq!(identity.groups, groups);
                let metadata: Vec<(String, String)> =
                    metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                assert_eq!(identity.metadata, metadata);
            }
            Err(error) => assert_eq!(result.map(drop), Err(error), "{policy:?}"),
        }
    }
}

#[test]
fn identity_errors_win_over_bound_claims() {
    let policy = ClaimPolicy {
        user_claim: "missing".into(),
        bound_claims: json!({"name": "someone-else"}).as_object().unwrap().clone(),
        ..base_policy()
    };
    assert_eq!(identity_of(auth0_claims(), policy).map(drop), Err(TokenError::UserClaimMissing("missing".into())));
}

#[test]
fn control_characters_in_identity_values_are_refused() {
    for hostile in ["system:serviceaccount:default:a\u{0}b", "evil\u{202E}txt", "line\nbreak", "esc\u{1b}[31m"] {
        let claims = claims_with(|c| {
            c.insert("sub".into(), json!(hostile));
        });
        let policy = ClaimPolicy {
            bound_subject: String::new(),
            bound_audiences: vec!["vault".into()],
            user_claim: "sub".into(),
            ..ClaimPolicy::default()
        };
        assert_eq!(
            identity_of(claims, policy).map(drop),
            Err(TokenError::ControlCharacter { claim: "sub".into() }),
            "{hostile:?}"
        );
    }
}

#[test]
fn homoglyph_subjects_are_compared_byte_for_byte() {
    // "prоd" with a Cyrillic о must not satisfy a bound subject naming "prod".
    let claims = claims_with(|c| {
        c.insert("sub".into(), json!("system:serviceaccount:pr\u{043e}d:app"));
    });
    let policy = ClaimPolicy { bound_subject: "system:serviceaccount:prod:app".into(), ..k8s_policy() };
    assert_eq!(identity_of(claims, policy).map(drop), Err(TokenError::Subject));
}
