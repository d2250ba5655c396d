//! The end-to-end scenarios. Each runs unchanged on kind and on kube-sim clusters: the
//! seed's commands through real `kubectl`, the jwtgate CLI and `curl`.

use crate::cluster::{path, Cluster};
use crate::jwtgate::Jwtgate;
use crate::run::{Cmd, Runner};
use crate::Env;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::Value;
use std::path::Path;

pub type Scenario = fn(&mut Env) -> Result<(), String>;

pub const SCENARIOS: &[(&str, Scenario)] = &[
    ("issuer_discovery", issuer_discovery),
    ("pubkey_chaining", pubkey_chaining),
    ("projected_audience_and_ttl", projected_audience_and_ttl),
    ("revocation_gap", revocation_gap),
];

const SIGNATURE_REFUSED: &str = "no known key successfully validated the token signature";
const AUDIENCE_REFUSED: &str = "invalid audience (aud) claim: audience claim does not match any expected audience";

/// The seed's issuer-discovery procedure, step by step, on cluster `a`.
fn issuer_discovery(env: &mut Env) -> Result<(), String> {
    let a = &env.clusters[0];
    let ca = env.work.join("a-ca.crt");
    let ca_pem = cluster_ca(&mut env.runner, a)?;
    env.runner.write(&ca, &ca_pem)?;
    let discovery = a.kubectl(&["get", "--raw", "/.well-known/openid-configuration"]);
    let issuer = match env.runner.ok(&discovery)? {
        _ if env.runner.dry_run => "$ISSUER".to_string(),
        document => json_field(&document, "/issuer"),
    };
    // Discovery is closed to anonymous clients until the seed's binding opens it.
    let anonymous = Cmd::new("curl", &["--silent", "--output", "/dev/null", "--write-out", "%{http_code}", "--cacert"])
        .arg(path(&ca))
        .arg(format!("{issuer}/.well-known/openid-configuration"));
    let before = env.runner.ok(&anonymous)?;
    env.runner
        .check(before == "403", || format!("anonymous discovery before the binding answered {before}, not 403"))?;
    env.runner.ok(&a.kubectl(&[
        "create",
        "clusterrolebinding",
        "oidc-reviewer",
        "--clusterrole=system:service-account-issuer-discovery",
        "--group=system:unauthenticated",
    ]))?;
    let after = poll(&mut env.runner, &anonymous, "200")?;
    env.runner.check(after == "200", || format!("anonymous discovery after the binding answered {after}"))?;

    let server = Jwtgate::start(&mut env.runner, &env.work, "issuer-discovery")?;
    env.runner.ok(&server.cli(&["auth", "enable", "jwt"]))?;
    env.runner.ok(&server.cli(&[
        "write",
        "auth/jwt/config",
        &format!("oidc_discovery_url={issuer}"),
        &format!("oidc_discovery_ca_pem=@{}", path(&ca)),
    ]))?;
    seed_role(&mut env.runner, &server, &issuer, "1h")?;
    let token = env.runner.ok(&a.kubectl(&["create", "token", "default"]))?;
    let token_file = env.work.join("a-default.token");
    env.runner.write(&token_file, &token)?;
    cli_login(&mut env.runner, &server, &token_file)?;
    curl_login(&mut env.runner, &server, &token)?;
    no_secrets_logged(&mut env.runner, &server, &token)
}

/// Two clusters with the same issuer string chained by their converted keys; a third
/// refused; a rotation refused until the conversion runs again, as the seed warns.
fn pubkey_chaining(env: &mut Env) -> Result<(), String> {
    let server = Jwtgate::start(&mut env.runner, &env.work, "pubkey-chaining")?;
    env.runner.ok(&server.cli(&["auth", "enable", "jwt"]))?;
    let configure = |env: &mut Env| -> Result<(), String> {
        let mut write = server.cli(&["write", "auth/jwt/config"]);
        for cluster in &env.clusters[1..] {
            let jwks = env.work.join(format!("{}-jwks.json", cluster.name));
            let pem = env.work.join(format!("{}-keys.pem", cluster.name));
            let document = env.runner.ok(&cluster.kubectl(&["get", "--raw", "/openid/v1/jwks"]))?;
            env.runner.write(&jwks, &document)?;
            let pems = env.runner.ok(&server.cli(&["jwks", "to-pem", &path(&jwks)]))?;
            env.runner.write(&pem, &pems)?;
            write = write.arg(format!("jwt_validation_pubkeys=@{}", path(&pem)));
        }
        env.runner.ok(&write).map(drop)
    };
    configure(env)?;
    seed_role(&mut env.runner, &server, "vault", "1h")?;
    for cluster in &env.clusters[1..] {
        let token = env.runner.ok(&cluster.kubectl(&["create", "token", "default", "--audience", "vault"]))?;
        login_succeeds(&mut env.runner, &server, &token)?;
    }
    let foreign = env.runner.ok(&env.clusters[0].kubectl(&["create", "token", "default", "--audience", "vault"]))?;
    login_fails(&mut env.runner, &server, &foreign, SIGNATURE_REFUSED)?;

    let c = &env.clusters[2];
    c.rotate_signing_key(&mut env.runner, &env.work)?;
    let rotated = env.runner.ok(&c.kubectl(&["create", "token", "default", "--audience", "vault"]))?;
    login_fails(&mut env.runner, &server, &rotated, SIGNATURE_REFUSED)?;
    configure(env)?;
    login_succeeds(&mut env.runner, &server, &rotated)?;
    no_secrets_logged(&mut env.runner, &server, &rotated)
}

/// The seed's pod spec: a projected token with audience `vault` and 600 s logs in with
/// `bound_audiences=vault`; a token with the cluster's default audience is refused.
fn projected_audience_and_ttl(env: &mut Env) -> Result<(), String> {
    let a = &env.clusters[0];
    a.create_pod(&mut env.runner, &env.repo.join("e2e/manifests/pod.json"))?;
    let token = a.projected_token(&mut env.runner, "test-pod")?;
    if !env.runner.dry_run {
        let claims = payload(&token)?;
        let lifetime = claims["exp"].as_i64().unwrap_or_default() - claims["iat"].as_i64().unwrap_or_default();
        env.runner.check(lifetime == 600, || format!("the projected token lives {lifetime} s, not 600"))?;
        env.runner
            .check(claims["aud"] == serde_json::json!(["vault"]), || format!("projected aud is {}", claims["aud"]))?;
        env.runner.check(claims["kubernetes.io"]["pod"]["name"] == "test-pod", || {
            "the token is not bound to test-pod".into()
        })?;
    }
    let server = Jwtgate::start(&mut env.runner, &env.work, "projected")?;
    projected_token_mount(&mut env.runner, &env.work, &server, &env.clusters[0])?;
    login_succeeds(&mut env.runner, &server, &token)?;
    let default_audience = env.runner.ok(&env.clusters[0].kubectl(&["create", "token", "default"]))?;
    login_fails(&mut env.runner, &server, &default_audience, AUDIENCE_REFUSED)?;
    no_secrets_logged(&mut env.runner, &server, &token)
}

/// JWT auth validates offline: a token whose pod was deleted still logs in until it
/// expires, although the cluster itself (TokenReview) no longer accepts it; the Kubernetes
/// auth method, which asks the cluster at every login, refuses it.
fn revocation_gap(env: &mut Env) -> Result<(), String> {
    let a = &env.clusters[0];
    let manifest = env.work.join("gap-pod.json");
    let pod = std::fs::read_to_string(env.repo.join("e2e/manifests/pod.json")).map_err(|e| e.to_string())?;
    env.runner.write(&manifest, &pod.replace("\"test-pod\"", "\"gap-pod\""))?;
    a.create_pod(&mut env.runner, &manifest)?;
    let token = a.projected_token(&mut env.runner, "gap-pod")?;
    let server = Jwtgate::start(&mut env.runner, &env.work, "revocation-gap")?;
    projected_token_mount(&mut env.runner, &env.work, &server, &env.clusters[0])?;
    kubernetes_mount(&mut env.runner, &env.work, &server, &env.clusters[0])?;
    let a = &env.clusters[0];
    let reviewed = token_review(&mut env.runner, &env.work, a, &token)?;
    env.runner.check(reviewed, || "TokenReview refused the live pod's token".into())?;
    login_succeeds(&mut env.runner, &server, &token)?;
    kubernetes_login(&mut env.runner, &server, &token, None)?;

    a.delete_pod(&mut env.runner, "gap-pod")?;
    // kube-apiserver caches successful reviews for about 10 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while token_review(&mut env.runner, &env.work, a, &token)? && !env.runner.dry_run {
        if std::time::Instant::now() > deadline {
            return Err("TokenReview still accepts the deleted pod's token after 60 s".into());
        }
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    // The documented limitation: JWT auth still accepts it. The Kubernetes method does not.
    login_succeeds(&mut env.runner, &server, &token)?;
    kubernetes_login(&mut env.runner, &server, &token, Some("lookup failed"))?;
    no_secrets_logged(&mut env.runner, &server, &token)
}

/// A `kubernetes` mount for `cluster`: a reviewer service account bound to
/// system:auth-delegator, its token, the API server's URL and CA from the kubeconfig.
fn kubernetes_mount(runner: &mut Runner, work: &Path, server: &Jwtgate, cluster: &Cluster) -> Result<(), String> {
    let reviewer = runner.output(&cluster.kubectl(&["create", "serviceaccount", "jwtgate-reviewer"]))?;
    runner.check(reviewer.success || reviewer.stderr.contains("already exists"), || reviewer.stderr.clone())?;
    let binding = runner.output(&cluster.kubectl(&[
        "create",
        "clusterrolebinding",
        "jwtgate-reviewer",
        "--clusterrole=system:auth-delegator",
        "--serviceaccount=default:jwtgate-reviewer",
    ]))?;
    runner.check(binding.success || binding.stderr.contains("already exists"), || binding.stderr.clone())?;
    let token_file = work.join(format!("{}-reviewer.token", cluster.name));
    let reviewer_token = runner.ok(&cluster.kubectl(&["create", "token", "jwtgate-reviewer", "--duration", "1h"]))?;
    runner.write(&token_file, &reviewer_token)?;
    let ca = work.join(format!("{}-api-ca.crt", cluster.name));
    let ca_pem = cluster_ca(runner, cluster)?;
    runner.write(&ca, &ca_pem)?;
    let host =
        runner.ok(&cluster.kubectl(&["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]))?;
    let host = if runner.dry_run { "$KUBERNETES_HOST".to_string() } else { host.trim().to_owned() };
    runner.ok(&server.cli(&["auth", "enable", "kubernetes"]))?;
    runner.ok(&server.cli(&[
        "write",
        "auth/kubernetes/config",
        &format!("kubernetes_host={host}"),
        &format!("kubernetes_ca_cert=@{}", path(&ca)),
        &format!("token_reviewer_jwt=@{}", path(&token_file)),
    ]))?;
    runner
        .ok(&server.cli(&[
            "write",
            "auth/kubernetes/role/my-role",
            "bound_service_account_names=default",
            "bound_service_account_namespaces=default",
            "audience=vault",
            "policies=default",
            "ttl=10m",
        ]))
        .map(drop)
}

/// A login through the Kubernetes method (`jwtgate login -method=kubernetes`): it succeeds,
/// or is refused (403) with `refusal`.
fn kubernetes_login(runner: &mut Runner, server: &Jwtgate, token: &str, refusal: Option<&str>) -> Result<(), String> {
    let cmd = server
        .cli(&["login", "-method=kubernetes", "-no-store", "-format=json", "role=my-role", "jwt=-"])
        .stdin(token.to_owned());
    match refusal {
        Some(want) => runner.fails(&cmd, want).map(drop),
        None => {
            let out = runner.ok(&cmd)?;
            let reply: Value = serde_json::from_str(&out).unwrap_or_default();
            runner.check(reply["auth"]["metadata"]["service_account_name"] == "default", || {
                format!("the Kubernetes login names no service account: {out}")
            })
        }
    }
}

/// The seed's role (`my-role`, subject `default/default`, policy `default`) for `audience`.
fn seed_role(runner: &mut Runner, server: &Jwtgate, audience: &str, ttl: &str) -> Result<(), String> {
    runner
        .ok(&server.cli(&[
            "write",
            "auth/jwt/role/my-role",
            "role_type=jwt",
            &format!("bound_audiences={audience}"),
            "user_claim=sub",
            "bound_subject=system:serviceaccount:default:default",
            "policies=default",
            &format!("ttl={ttl}"),
        ]))
        .map(drop)
}

/// `kubectl get --raw /openid/v1/jwks > jwks.json`, then `jwt_validation_jwks=@jwks.json`,
/// and the role for the projected token (audience `vault`).
fn projected_token_mount(runner: &mut Runner, work: &Path, server: &Jwtgate, cluster: &Cluster) -> Result<(), String> {
    let jwks = work.join(format!("{}-inline-jwks.json", cluster.name));
    let document = runner.ok(&cluster.kubectl(&["get", "--raw", "/openid/v1/jwks"]))?;
    runner.write(&jwks, &document)?;
    runner.ok(&server.cli(&["auth", "enable", "jwt"]))?;
    runner.ok(&server.cli(&["write", "auth/jwt/config", &format!("jwt_validation_jwks=@{}", path(&jwks))]))?;
    seed_role(runner, server, "vault", "10m")
}

/// The seed's CLI login from a token file; the table names the default policy.
fn cli_login(runner: &mut Runner, server: &Jwtgate, token_file: &Path) -> Result<(), String> {
    let out =
        runner.ok(&server.cli(&["write", "auth/jwt/login", "role=my-role", &format!("jwt=@{}", path(token_file))]))?;
    let policies = out.lines().find(|l| l.starts_with("token_policies")).unwrap_or_default();
    runner.check(policies.contains("default"), || format!("the login table has no default policy:\n{out}"))
}

/// The seed's curl line.
fn curl_login(runner: &mut Runner, server: &Jwtgate, token: &str) -> Result<(), String> {
    let body = format!("{{\"jwt\": \"{token}\", \"role\": \"my-role\"}}");
    let out = runner.ok(&Cmd::new("curl", &["--silent", "--request", "POST", "--data", &body])
        .arg(format!("{}/v1/auth/jwt/login", server.url())))?;
    let reply: Value = serde_json::from_str(&out).unwrap_or_default();
    let client_token = reply["auth"]["client_token"].as_str().unwrap_or_default();
    runner.check(!client_token.is_empty() && reply["auth"]["policies"].to_string().contains("default"), || {
        format!("curl login answered {out}")
    })
}

fn login_cmd(server: &Jwtgate, token: &str) -> Cmd {
    server.cli(&["write", "-format=json", "auth/jwt/login", "role=my-role", "jwt=-"]).stdin(token.to_owned())
}

fn login_succeeds(runner: &mut Runner, server: &Jwtgate, token: &str) -> Result<(), String> {
    let out = runner.ok(&login_cmd(server, token))?;
    let reply: Value = serde_json::from_str(&out).unwrap_or_default();
    runner.check(reply["auth"]["client_token"].as_str().is_some_and(|t| !t.is_empty()), || {
        format!("login gave no client token: {out}")
    })
}

fn login_fails(runner: &mut Runner, server: &Jwtgate, token: &str, want: &str) -> Result<(), String> {
    runner.fails(&login_cmd(server, token), want).map(drop)
}

/// Whether the cluster's TokenReview authenticates `token` for audience `vault`.
fn token_review(runner: &mut Runner, work: &Path, cluster: &Cluster, token: &str) -> Result<bool, String> {
    let review = work.join(format!("{}-review.json", cluster.name));
    let body = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token, "audiences": ["vault"]}});
    runner.write(&review, &body.to_string())?;
    let out = runner.ok(&cluster
        .kubectl(&["create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f"])
        .arg(path(&review)))?;
    Ok(json_field(&out, "/status/authenticated") == "true")
}

/// The server log names no JWT and no client token.
fn no_secrets_logged(runner: &mut Runner, server: &Jwtgate, token: &str) -> Result<(), String> {
    let log = server.log_text();
    let signature = token.rsplit('.').next().unwrap_or_default();
    runner.check(!log.contains("eyJ") && (signature.is_empty() || !log.contains(signature)), || {
        format!("the jwtgate log contains a JWT: {}", server.log.display())
    })
}

/// Runs `cmd` until it prints `want` (about 30 s at most), returning the last output.
fn poll(runner: &mut Runner, cmd: &Cmd, want: &str) -> Result<String, String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = runner.ok(cmd)?;
        if out == want || runner.dry_run || std::time::Instant::now() > deadline {
            return Ok(out);
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// The cluster CA from the kubeconfig, as `kubectl config view --raw` shows it.
fn cluster_ca(runner: &mut Runner, cluster: &Cluster) -> Result<String, String> {
    let encoded = runner.ok(&cluster.kubectl(&[
        "config",
        "view",
        "--raw",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ]))?;
    if runner.dry_run {
        return Ok(String::new());
    }
    let pem = STANDARD.decode(encoded.trim()).map_err(|e| format!("certificate-authority-data: {e}"))?;
    String::from_utf8(pem).map_err(|e| e.to_string())
}

fn json_field(text: &str, pointer: &str) -> String {
    let value: Value = serde_json::from_str(text).unwrap_or_default();
    match value.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn payload(token: &str) -> Result<Value, String> {
    let part = token.trim().split('.').nth(1).ok_or("the token is not a JWT")?;
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}
