//! Audit devices: Vault's entries for every request and response, secrets HMAC'd, fail
//! closed, the `sys/audit*` endpoints and their refusals, and devices kept across a restart.

use crate::*;
use std::io::{BufRead, BufReader};
use std::path::Path;

fn entries(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect()
}

async fn enable(server: &Server, path: &str, options: Value) -> Reply {
    server
        .call("PUT", &format!("sys/audit/{path}"), Some(ROOT), Some(json!({"type": "file", "options": options})))
        .await
}

async fn hash(server: &Server, device: &str, input: &str) -> String {
    let reply =
        server.call("POST", &format!("sys/audit-hash/{device}"), Some(ROOT), Some(json!({"input": input}))).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["data"]["hash"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn a_login_is_recorded_request_then_response_with_its_secrets_hashed() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    assert_eq!(enable(&server, "file", json!({"file_path": file})).await.status, 204);
    let jwt = token();
    let login = server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "my-role", "jwt": jwt}))).await;
    assert_eq!(login.status, 200, "{}", login.text);
    let (client_token, accessor) =
        (login.body["auth"]["client_token"].as_str().unwrap(), login.body["auth"]["accessor"].as_str().unwrap());

    let text = std::fs::read_to_string(&file).unwrap();
    for secret in [jwt.as_str(), client_token, accessor] {
        assert!(!text.contains(secret), "a secret in clear in the audit log: {text}");
    }
    let logged: Vec<Value> = entries(&file).into_iter().filter(|e| e["request"]["path"] == "auth/jwt/login").collect();
    assert_eq!(logged.iter().map(|e| e["type"].clone()).collect::<Vec<_>>(), [json!("request"), json!("response")]);
    let (request, response) = (&logged[0], &logged[1]);
    assert_eq!(request["request"]["id"], response["request"]["id"]);
    assert_eq!(request["request"]["mount_point"], "auth/jwt/");
    assert_eq!(request["request"]["mount_type"], "jwt");
    assert_eq!(request["request"]["operation"], "update");
    assert_eq!(request["request"]["remote_address"], "127.0.0.1");
    assert_eq!(request["request"]["data"]["jwt"], json!(hash(&server, "file", &jwt).await));
    // Who logged in: the role, the identity (display name) and its metadata, readable.
    let issued = &response["response"]["auth"];
    assert_eq!(issued["display_name"], format!("jwt-{SUBJECT}"));
    assert_eq!(issued["metadata"]["role"], "my-role");
    assert_eq!(issued["policies"], json!(["default"]));
    assert_eq!(issued["token_ttl"], 3600);
    // `sys/audit-hash` finds the token's entries without the token being in the log.
    assert_eq!(issued["client_token"], json!(hash(&server, "file", client_token).await));
    assert_eq!(issued["accessor"], json!(hash(&server, "file", accessor).await));

    // The token's own requests name it by the same hash.
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(client_token), None).await.status, 200);
    let lookup = entries(&file).into_iter().find(|e| e["request"]["path"] == "auth/token/lookup-self").unwrap();
    assert_eq!(lookup["auth"]["client_token"], issued["client_token"]);
    assert_eq!(lookup["auth"]["display_name"], format!("jwt-{SUBJECT}"));
    assert_eq!(lookup["request"]["mount_type"], "token");
}

#[actix_web::test]
async fn refusals_are_recorded_with_their_error() {
    let server = Server::new().with_jwt_mount("jwt").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    assert_eq!(enable(&server, "file", json!({"file_path": file})).await.status, 204);
    let user = server.login("jwt").await;
    type Refusal<'a> = (&'a str, &'a str, Option<&'a str>, Option<Value>, u16);
    let cases: [Refusal; 3] = [
        ("GET", "sys/auth", Some(user.as_str()), None, 403),
        ("PUT", "auth/jwt/login", None, Some(json!({"role": "my-role", "jwt": "not.a.jwt"})), 400),
        ("GET", "auth/token/lookup-self", Some("jgs.unknown"), None, 403),
    ];
    for (method, path, token, body, status) in cases {
        let reply = server.call(method, path, token, body).await;
        assert_eq!(reply.status.as_u16(), status, "{path}: {}", reply.text);
        let logged: Vec<Value> = entries(&file).into_iter().filter(|e| e["request"]["path"] == path).collect();
        let last_two = &logged[logged.len() - 2..];
        assert_eq!((&last_two[0]["type"], &last_two[1]["type"]), (&json!("request"), &json!("response")), "{path}");
        let error = reply.body["errors"][0].as_str().unwrap();
        assert_eq!(last_two[1]["error"], error, "{path}: {}", last_two[1]);
    }
    assert!(!std::fs::read_to_string(&file).unwrap().contains(&user), "a client token in clear");
}

#[actix_web::test]
async fn with_no_device_able_to_write_requests_are_refused_and_nothing_happens() {
    let server = Server::new().with_jwt_mount("jwt").await;
    assert_eq!(enable(&server, "full", json!({"file_path": "/dev/full"})).await.status, 204);
    let login = server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "my-role", "jwt": token()}))).await;
    assert_error(&login, 500, Some("internal error"));
    let role = json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "other"});
    assert_error(
        &server.call("PUT", "auth/jwt/role/new", Some(ROOT), Some(role.clone())).await,
        500,
        Some("internal error"),
    );
    assert_eq!(server.state.store.token_count().unwrap(), 1, "only the root token exists");
    assert_eq!(server.state.store.get_role("jwt", "new").unwrap(), None, "nothing changed");

    // One working device of two is enough.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    assert_eq!(enable(&server, "file", json!({"file_path": file})).await.status, 204);
    assert_eq!(server.call("PUT", "auth/jwt/role/new", Some(ROOT), Some(role)).await.status, 204);
    assert_eq!(
        server.call("PUT", "auth/jwt/login", None, Some(json!({"role": "my-role", "jwt": token()}))).await.status,
        200
    );
    // Disabling is itself audited, on the devices the request started with.
    assert_eq!(server.call("DELETE", "sys/audit/full", Some(ROOT), None).await.status, 204);
    let disable = entries(&file).into_iter().filter(|e| e["request"]["path"] == "sys/audit/full").count();
    assert_eq!(disable, 2);
}

#[actix_web::test]
async fn bad_devices_are_refused_and_nothing_is_enabled() {
    let server = Server::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    assert_eq!(enable(&server, "file", json!({"file_path": file})).await.status, 204);
    let missing = dir.path().join("missing/audit.log");
    let cases: Vec<(&str, Value, &str)> = vec![
        ("x", json!({"type": "file", "options": {"file_path": missing}}), "sanity check failed; unable to open"),
        ("x", json!({"type": "syslogd"}), "unknown backend type: \"syslogd\""),
        ("x", json!({"options": {"file_path": "stdout"}}), "a type must be specified"),
        (
            "x",
            json!({"type": "file", "options": {"file_path": "stdout", "colour": "red"}}),
            "unknown option \"colour\"",
        ),
        ("x", json!({"type": "file", "options": {}}), "file_path is required"),
        (
            "x",
            json!({"type": "file", "options": {"file_path": "stdout", "format": "xml"}}),
            "unsupported \"format\": xml",
        ),
        (
            "x",
            json!({"type": "file", "options": {"file_path": "stdout", "log_raw": "maybe"}}),
            "unable to parse \"log_raw\"",
        ),
        ("x", json!({"type": "socket", "options": {"address": "127.0.0.1:1"}}), "error connecting to the audit socket"),
        (
            "x",
            json!({"type": "socket", "options": {"address": "127.0.0.1:1", "socket_type": "sctp"}}),
            "unsupported socket_type",
        ),
        ("file", json!({"type": "file", "options": {"file_path": "discard"}}), "path already in use"),
        ("file/nested", json!({"type": "file", "options": {"file_path": "discard"}}), "path already in use"),
    ];
    for (path, body, error) in cases {
        let reply = server.call("PUT", &format!("sys/audit/{path}"), Some(ROOT), Some(body.clone())).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
        assert!(reply.body["errors"][0].as_str().unwrap().starts_with(error), "{body}: {}", reply.text);
    }
    // Enabling is itself audited, refused attempts with their error.
    let recorded: Vec<Value> = entries(&file).into_iter().filter(|e| e["request"]["path"] == "sys/audit/x").collect();
    assert_eq!(recorded.len(), 2 * 9, "request and response of each refused enable at x");
    let responses = recorded.iter().filter(|e| e["type"] == "response");
    assert!(responses.clone().count() == 9 && responses.into_iter().all(|e| e["error"].is_string()));
    let list = server.call("GET", "sys/audit", Some(ROOT), None).await;
    assert_eq!(list.body["data"].as_object().unwrap().keys().collect::<Vec<_>>(), ["file/"], "{}", list.text);
    assert_eq!(list.body["data"]["file/"]["options"]["file_path"], json!(file));
    assert!(!list.text.contains("salt"), "{}", list.text);
    assert!(!missing.parent().unwrap().exists());
    let unknown = server.call("POST", "sys/audit-hash/nothing", Some(ROOT), Some(json!({"input": "x"}))).await;
    assert_eq!(unknown.status, 400);
    // Only root or sudo may see or change devices.
    let user = server.call("POST", "auth/token/create", Some(ROOT), Some(json!({"policies": "default"}))).await;
    let user = user.body["auth"]["client_token"].as_str().unwrap().to_owned();
    for (method, path) in [("GET", "sys/audit"), ("DELETE", "sys/audit/file"), ("POST", "sys/audit-hash/file")] {
        assert_error(
            &server.call(method, path, Some(&user), Some(json!({"input": "x"}))).await,
            403,
            Some("permission denied"),
        );
    }
}

#[actix_web::test]
async fn a_device_is_in_force_after_a_restart() {
    let server = Server::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("audit.log");
    assert_eq!(enable(&server, "file", json!({"file_path": file, "prefix": "jwtgate: "})).await.status, 204);
    let before = hash(&server, "file", "jgs.something").await;
    let restarted = Server::over(server._dir, server.state.store.clone(), |_| {});
    assert_eq!(hash(&restarted, "file", "jgs.something").await, before, "the device keeps its key");
    assert_eq!(restarted.call("GET", "auth/token/lookup-self", Some(ROOT), None).await.status, 200);
    let text = std::fs::read_to_string(&file).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("jwtgate: {"), "{last}");
    assert!(last.contains("\"path\":\"auth/token/lookup-self\""), "{last}");
}

#[actix_web::test]
async fn a_socket_device_writes_to_its_listener_and_fails_closed_without_it() {
    let server = Server::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = std::thread::spawn(move || listener.accept().unwrap().0);
    let body = json!({"type": "socket", "options": {"address": address, "socket_type": "tcp", "write_timeout": "1s"}});
    assert_eq!(server.call("PUT", "sys/audit/socket", Some(ROOT), Some(body)).await.status, 204);
    let stream = accepted.join().unwrap();
    assert_eq!(server.call("GET", "auth/token/lookup-self", Some(ROOT), None).await.status, 200);
    let mut lines = BufReader::new(stream.try_clone().unwrap()).lines();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let entry: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        seen.push((entry["type"].as_str().unwrap().to_owned(), entry["request"]["path"].as_str().unwrap().to_owned()));
    }
    let lookups: Vec<&(String, String)> = seen.iter().filter(|(_, path)| path == "auth/token/lookup-self").collect();
    assert_eq!(lookups.len(), 2, "{seen:?}");
    // The listener goes away: the next request cannot be recorded, so it is refused.
    drop(lines);
    drop(stream);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let refused = server.call("GET", "auth/token/lookup-self", Some(ROOT), None).await;
    assert_error(&refused, 500, Some("internal error"));
}

#[actix_web::test]
async fn unix_and_udp_socket_devices_write_one_entry_per_line_or_datagram() {
    let server = Server::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.sock");
    let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let devices = [
        ("unix", json!({"address": path, "socket_type": "unix"})),
        ("udp", json!({"address": udp.local_addr().unwrap().to_string(), "socket_type": "udp"})),
    ];
    for (name, options) in devices {
        let body = json!({"type": "socket", "options": options});
        assert_eq!(server.call("PUT", &format!("sys/audit/{name}"), Some(ROOT), Some(body)).await.status, 204);
    }
    let (stream, _) = unix.accept().unwrap();
    assert_eq!(server.call("GET", "sys/health", None, None).await.status, 200);
    let mut lines = BufReader::new(stream).lines();
    let mut datagram = [0u8; 65_536];
    // The udp device was enabled after the unix one, so the unix one also saw that request.
    let mut from_unix = Vec::new();
    while from_unix.len() < 4 {
        from_unix.push(serde_json::from_str::<Value>(&lines.next().unwrap().unwrap()).unwrap());
    }
    assert_eq!(from_unix[2]["request"]["path"], "sys/health");
    assert_eq!(from_unix[3]["type"], "response");
    for kind in ["request", "response"] {
        let size = udp.recv(&mut datagram).unwrap();
        let entry: Value = serde_json::from_slice(&datagram[..size]).unwrap();
        assert_eq!((entry["type"].as_str(), entry["request"]["path"].as_str()), (Some(kind), Some("sys/health")));
    }
}
