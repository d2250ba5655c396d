//! `bound_audiences` (TestLoginBoundAudiences, CVE-2024-5798): every case in both `aud` shapes.

use crate::*;

/// (token `aud`, role `bound_audiences`, expected outcome)
type Case = (Option<Value>, Vec<&'static str>, Result<(), TokenError>);

#[test]
fn bound_audiences_matrix() {
    use TokenError::{Audience, AudienceWithoutBound, ClaimType};
    let type_error = ClaimType { claim: "audience (aud)", problem: "expected a string or an array of strings" };
    let cases: Vec<Case> = vec![
        (Some(json!("vault")), vec![], Err(AudienceWithoutBound)),
        (Some(json!(["vault"])), vec![], Err(AudienceWithoutBound)),
        (Some(json!(["a", "b", "c"])), vec![], Err(AudienceWithoutBound)),
        (Some(json!(["other", "vault"])), vec!["vault"], Ok(())),
        (Some(json!("vault")), vec!["vault"], Ok(())),
        (Some(json!("vault")), vec!["other", "vault"], Ok(())),
        (Some(json!("other")), vec!["vault"], Err(Audience)),
        (Some(json!(["other"])), vec!["vault"], Err(Audience)),
        (None, vec![], Ok(())),
        (None, vec!["vault"], Err(Audience)),
        // Exact and case-sensitive: no normalisation.
        (Some(json!("VAULT")), vec!["vault"], Err(Audience)),
        (Some(json!(["vault/"])), vec!["vault"], Err(Audience)),
        (Some(json!("")), vec!["vault"], Err(Audience)),
        (Some(json!([])), vec!["vault"], Err(Audience)),
        // An empty aud is no audience.
        (Some(json!("")), vec![], Ok(())),
        (Some(json!([])), vec![], Ok(())),
        // Type confusion the JWT libraries accept.
        (Some(json!(123)), vec!["vault"], Err(type_error.clone())),
        (Some(json!(["vault", 123])), vec!["vault"], Err(type_error.clone())),
        (Some(json!({"vault": true})), vec!["vault"], Err(type_error)),
    ];
    let validator = static_validator(&[rsa()]);
    for (aud, bound, expected) in cases {
        let claims = claims_with(|c| match &aud {
            Some(aud) => {
                c.insert("aud".into(), aud.clone());
            }
            None => {
                c.remove("aud");
            }
        });
        let policy = ClaimPolicy { bound_audiences: bound.iter().map(|s| s.to_string()).collect(), ..k8s_policy() };
        let result = check(&validator, &rsa().token(&claims), &policy, now()).map(drop);
        assert_eq!(result, expected, "aud {aud:?} bound {bound:?}");
    }
}
