//! `kube-sim`: one simulated cluster on HTTPS. Prints one JSON line when it serves, writes
//! its kubeconfig when asked, and stops on SIGTERM or SIGINT.

use jwtgate_kube_sim::{ClusterCa, ClusterSpec, KeyType, SigningKey, Sim, SimConfig};
use std::process::ExitCode;

const USAGE: &str = "\
usage: kube-sim [options]
  --name NAME                    cluster name (kubeconfig context, node name)   [kube-sim]
  --listen ADDR                  listen address                                  [127.0.0.1:0]
  --external-url URL             the URL others reach it at (jwks_uri, default issuer)
  --issuer URL                   --service-account-issuer                        [external URL]
  --api-audiences A,B            --api-audiences                                 [issuer]
  --version 1.N                  Kubernetes version emulated, 1.21 to 1.33       [1.33]
  --key TYPE                     rsa, rsa3072, rsa4096, p256, p384, p521         [rsa]
  --signing-key FILE             a PEM private key to sign with instead
  --max-token-expiration SECS    --service-account-max-token-expiration          [0: none]
  --no-extend-token-expiration   --service-account-extend-token-expiration=false
  --san NAME                     extra name or address on the serving certificate (repeatable)
  --ca-cert FILE --ca-key FILE   the cluster CA to use                           [generated]
  --admin-token TOKEN            the kubeconfig user's bearer token              [random]
  --kubeconfig FILE              write the kubeconfig here
";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("kube-sim: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut config = SimConfig { spec: ClusterSpec::default(), ..SimConfig::default() };
    let (mut ca_cert, mut ca_key, mut kubeconfig) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            print!("{USAGE}");
            return Ok(());
        }
        if flag == "--no-extend-token-expiration" {
            config.spec.extend_token_expiration = false;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let read = |path: &str| std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"));
        match flag.as_str() {
            "--name" => config.spec.name = value,
            "--listen" => config.listen = value,
            "--external-url" => config.external_url = value,
            "--issuer" => config.spec.issuer = value,
            "--api-audiences" => config.spec.api_audiences = value.split(',').map(str::to_owned).collect(),
            "--version" => config.spec.minor = parse_version(&value)?,
            "--key" => config.spec.key_type = value.parse::<KeyType>()?,
            "--signing-key" => config.signing_key = Some(SigningKey::from_pem(&read(&value)?)?),
            "--max-token-expiration" => {
                config.spec.max_token_expiration = value.parse().map_err(|_| format!("bad seconds {value:?}"))?
            }
            "--san" => config.extra_sans.push(value),
            "--ca-cert" => ca_cert = Some(read(&value)?),
            "--ca-key" => ca_key = Some(read(&value)?),
            "--admin-token" => config.admin_token = value,
            "--kubeconfig" => kubeconfig = Some(value),
            other => return Err(format!("unknown flag {other}\n{USAGE}")),
        }
    }
    config.ca = match (ca_cert, ca_key) {
        (Some(cert), Some(key)) => Some(ClusterCa::from_pem(&cert, &key)?),
        (None, None) => None,
        _ => return Err("--ca-cert and --ca-key go together".into()),
    };
    actix_web::rt::System::new().block_on(async move {
        let (server, sim) = Sim::bind(config)?;
        if let Some(path) = &kubeconfig {
            std::fs::write(path, sim.kubeconfig()).map_err(|e| format!("cannot write {path}: {e}"))?;
        }
        let issuer = sim.cluster().spec().issuer.clone();
        println!("{}", serde_json::json!({"server": sim.url, "issuer": issuer, "kubeconfig": kubeconfig}));
        let handle = server.handle();
        actix_web::rt::spawn(async move {
            wait_for_signal().await;
            handle.stop(true).await;
        });
        server.await.map_err(|e| e.to_string())
    })
}

fn parse_version(value: &str) -> Result<u32, String> {
    let minor = value.trim_start_matches('v').strip_prefix("1.").and_then(|m| m.split('.').next()?.parse().ok());
    match minor {
        Some(minor @ 21..=33) => Ok(minor),
        _ => Err(format!("--version must be 1.21 to 1.33, not {value:?}")),
    }
}

async fn wait_for_signal() {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    std::future::poll_fn(|cx| match (term.poll_recv(cx), int.poll_recv(cx)) {
        (std::task::Poll::Pending, std::task::Poll::Pending) => std::task::Poll::Pending,
        _ => std::task::Poll::Ready(()),
    })
    .await
}
