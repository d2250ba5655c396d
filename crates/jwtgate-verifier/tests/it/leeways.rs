//! Vault's leeway matrix (`TestLogin_Leeways`, cap `jwt.go`): synthesised `exp`/`nbf` and skew.

use crate::*;
use jwtgate_verifier::Leeways;

struct Case {
    iat: Option<i64>,
    nbf: Option<i64>,
    exp: Option<i64>,
    /// (clock_skew, expiration, not_before) as stored on the role.
    leeways: (i64, i64, i64),
    expected: Result<(), TokenError>,
}

const fn case(
    iat: Option<i64>,
    nbf: Option<i64>,
    exp: Option<i64>,
    leeways: (i64, i64, i64),
    expected: Result<(), TokenError>,
) -> Case {
    Case { iat, nbf, exp, leeways, expected }
}

#[test]
fn leeway_matrix() {
    use TokenError::{Expired, IssuedInFuture, NoTimeClaims, NotYetValid};
    let ok = Ok(());
    let cases = [
        // Only iat or only nbf, no exp: exp = that + expiration leeway.
        case(Some(-205), None, None, (0, 0, 0), ok.clone()),
        case(Some(-215), None, None, (0, 0, 0), Err(Expired)),
        case(None, Some(-205), None, (0, 0, 0), ok.clone()),
        case(None, Some(-215), None, (0, 0, 0), Err(Expired)),
        case(Some(-145), None, None, (-1, 0, 0), ok.clone()),
        case(Some(-155), None, None, (-1, 0, 0), Err(Expired)),
        case(Some(-145), None, None, (-100, 0, 0), ok.clone()),
        case(Some(-155), None, None, (-100, 0, 0), Err(Expired)),
        case(Some(-5), None, None, (10, -1, 0), ok.clone()),
        case(Some(-15), None, None, (10, -1, 0), Err(Expired)),
        case(Some(-5), None, None, (10, -100, 0), ok.clone()),
        case(Some(-15), None, None, (10, -100, 0), Err(Expired)),
        case(Some(-15), None, None, (10, 10, 0), ok.clone()),
        case(Some(-25), None, None, (10, 10, 0), Err(Expired)),
        // iat in the future: nbf = iat.
        case(Some(55), None, None, (0, 0, 0), ok.clone()),
        case(Some(65), None, None, (0, 0, 0), Err(NotYetValid)),
        case(Some(5), None, None, (10, 0, 0), ok.clone()),
        case(Some(15), None, None, (10, 0, 0), Err(NotYetValid)),
        case(Some(0), None, None, (-1, 0, 5), ok.clone()),
        case(Some(6), None, None, (-1, 0, 5), Err(NotYetValid)),
        // Only exp: nbf = exp - not_before leeway.
        case(None, None, Some(205), (0, 0, 0), ok.clone()),
        case(None, None, Some(215), (0, 0, 0), Err(NotYetValid)),
        case(None, None, Some(150), (10, 0, 0), ok.clone()),
        case(None, None, Some(165), (10, 0, 0), Err(NotYetValid)),
        case(None, None, Some(145), (-1, 0, 0), ok.clone()),
        case(None, None, Some(152), (-1, 0, 0), Err(NotYetValid)),
        case(None, None, Some(65), (0, 0, 10), ok.clone()),
        case(None, None, Some(75), (0, 0, 10), Err(NotYetValid)),
        case(None, None, Some(15), (10, 0, 10), ok.clone()),
        case(None, None, Some(25), (10, 0, 10), Err(NotYetValid)),
        case(None, None, Some(3), (-1, 0, 5), ok.clone()),
        case(None, None, Some(7), (-1, 0, 5), Err(NotYetValid)),
        case(None, None, Some(3), (-100, 0, 5), ok.clone()),
        case(None, None, Some(7), (-100, 0, 5), Err(NotYetValid)),
        // exp present: only the clock skew applies, never the expiration leeway.
        case(Some(-600), None, Some(-59), (0, 0, 0), ok.clone()),
        case(Some(-600), None, Some(-61), (0, 0, 0), Err(Expired)),
        case(Some(-600), None, Some(-61), (0, 600, 0), Err(Expired)),
        case(Some(-600), None, Some(0), (-1, 0, 0), ok.clone()),
        case(Some(-600), None, Some(-1), (-1, 0, 0), Err(Expired)),
        // nbf present but iat in the future beyond skew.
        case(Some(120), Some(0), Some(600), (0, 0, 0), Err(IssuedInFuture)),
        case(Some(59), Some(0), Some(600), (0, 0, 0), ok.clone()),
        // No time claims at all.
        case(None, None, None, (0, 0, 0), Err(NoTimeClaims)),
    ];
    let validator = static_validator(&[rsa()]);
    for (index, case) in cases.iter().enumerate() {
        let mut claims = json!({"sub": SUBJECT, "iss": ISSUER});
        for (name, offset) in [("iat", case.iat), ("nbf", case.nbf), ("exp", case.exp)] {
            if let Some(offset) = offset {
                claims[name] = json!(NOW + offset);
            }
        }
        let (clock_skew, expiration, not_before) = case.leeways;
        let policy = ClaimPolicy {
            bound_subject: SUBJECT.into(),
            user_claim: "sub".into(),
            leeways: Leeways { clock_skew, expiration, not_before },
            ..ClaimPolicy::default()
        };
        let result = check(&validator, &rsa().token(&claims), &policy, now()).map(drop);
        assert_eq!(result, case.expected, "case {index}: {claims}");
    }
}

#[test]
fn zero_time_claims_count_as_absent() {
    let validator = static_validator(&[rsa()]);
    let claims = json!({"sub": SUBJECT, "iat": 0, "nbf": 0, "exp": 0});
    let policy = ClaimPolicy { bound_subject: SUBJECT.into(), user_claim: "sub".into(), ..ClaimPolicy::default() };
    assert_eq!(check(&validator, &rsa().token(&claims), &policy, now()), Err(TokenError::NoTimeClaims));
}

#[test]
fn fractional_times_are_truncated() {
    let validator = static_validator(&[rsa()]);
    let policy = ClaimPolicy {
        user_claim: "sub".into(),
        leeways: Leeways { clock_skew: -1, ..Leeways::default() },
        ..ClaimPolicy::default()
    };
    for (exp, expected) in
        [(NOW as f64 + 0.4, Ok(())), (NOW as f64 + 600.7, Ok(())), (NOW as f64 - 0.6, Err(TokenError::Expired))]
    {
        let claims = json!({"sub": SUBJECT, "iat": NOW - 10, "exp": exp});
        assert_eq!(check(&validator, &rsa().token(&claims), &policy, now()).map(drop), expected, "exp {exp}");
    }
}
