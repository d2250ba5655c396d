//! Just enough protobuf to read what client-go sends as `application/vnd.kubernetes.protobuf`:
//! the `k8s\0` envelope (`runtime.Unknown`) and the few objects kubectl creates here.
//! Field numbers are those of k8s.io/api's generated.proto; unknown fields are skipped.

use serde_json::{json, Map, Value};

const MAGIC: &[u8] = b"k8s\0";

/// One field: its number and either a varint or a length-delimited payload.
enum Field<'a> {
    Varint(u32, u64),
    Bytes(u32, &'a [u8]),
}

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long".into())
}

fn fields(bytes: &[u8]) -> Result<Vec<Field<'_>>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let tag = varint(bytes, &mut pos)?;
        let number = u32::try_from(tag >> 3).map_err(|_| "field number too large")?;
        match tag & 7 {
            0 => out.push(Field::Varint(number, varint(bytes, &mut pos)?)),
            2 => {
                let len = usize::try_from(varint(bytes, &mut pos)?).map_err(|_| "length too large")?;
                let end = pos.checked_add(len).filter(|&end| end <= bytes.len()).ok_or("truncated field")?;
                out.push(Field::Bytes(number, &bytes[pos..end]));
                pos = end;
            }
            1 => pos += 8,
            5 => pos += 4,
            wire => return Err(format!("unsupported wire type {wire}")),
        }
    }
    Ok(out)
}

fn string(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "string field is not UTF-8".into())
}

/// Strips the envelope; returns `(apiVersion, kind, object bytes)`.
fn unwrap_envelope(body: &[u8]) -> Result<(String, String, &[u8]), String> {
    let rest = body.strip_prefix(MAGIC).ok_or("missing the k8s protobuf envelope")?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for field in fields(rest)? {
        match field {
            Field::Bytes(1, type_meta) => {
                for f in fields(type_meta)? {
                    match f {
                        Field::Bytes(1, v) => api_version = string(v)?,
                        Field::Bytes(2, v) => kind = string(v)?,
                        _ => {}
                    }
                }
            }
            Field::Bytes(2, bytes) => raw = bytes,
            _ => {}
        }
    }
    Ok((api_version, kind, raw))
}

/// Decodes a message into JSON by a schema: field number → (JSON name, how to decode).
fn message(bytes: &[u8], schema: Schema) -> Result<Value, String> {
    let mut object = Map::new();
    for field in fields(bytes)? {
        let (number, field_value) = match &field {
            Field::Varint(n, _) | Field::Bytes(n, _) => (*n, &field),
        };
        let Some((_, name, kind)) = schema.iter().find(|(n, _, _)| *n == number) else { continue };
        let value = match (kind, field_value) {
            (Kind::String | Kind::Strings, Field::Bytes(_, v)) => Value::String(string(v)?),
            (Kind::Int, Field::Varint(_, v)) => json!(*v as i64),
            (Kind::Message(inner) | Kind::Messages(inner), Field::Bytes(_, v)) => message(v, inner)?,
            _ => return Err(format!("field {name} has the wrong wire type")),
        };
        if let Kind::Strings | Kind::Messages(_) = kind {
            object.entry(name.to_string()).or_insert_with(|| json!([])).as_array_mut().expect("list").push(value);
        } else if value != json!("") {
            object.insert(name.to_string(), value);
        }
    }
    Ok(Value::Object(object))
}

/// Field number, JSON name, how to decode.
type Schema = &'static [(u32, &'static str, Kind)];

enum Kind {
    String,
    Strings,
    Int,
    Message(Schema),
    Messages(Schema),
}

const OBJECT_META: Schema = &[(1, "name", Kind::String), (3, "namespace", Kind::String)];
const BOUND_OBJECT_REF: Schema =
    &[(1, "kind", Kind::String), (2, "apiVersion", Kind::String), (3, "name", Kind::String), (4, "uid", Kind::String)];
const TOKEN_REQUEST_SPEC: Schema = &[
    (1, "audiences", Kind::Strings),
    (3, "boundObjectRef", Kind::Message(BOUND_OBJECT_REF)),
    (4, "expirationSeconds", Kind::Int),
];
const TOKEN_REVIEW_SPEC: Schema = &[(1, "token", Kind::String), (2, "audiences", Kind::Strings)];
const SUBJECT: Schema = &[
    (1, "kind", Kind::String),
    (2, "apiGroup", Kind::String),
    (3, "name", Kind::String),
    (4, "namespace", Kind::String),
];
const ROLE_REF: Schema = &[(1, "apiGroup", Kind::String), (2, "kind", Kind::String), (3, "name", Kind::String)];

/// The schemas of the objects accepted in protobuf, by kind.
const OBJECTS: &[(&str, Schema)] = &[
    ("TokenRequest", &[(1, "metadata", Kind::Message(OBJECT_META)), (2, "spec", Kind::Message(TOKEN_REQUEST_SPEC))]),
    ("TokenReview", &[(1, "metadata", Kind::Message(OBJECT_META)), (2, "spec", Kind::Message(TOKEN_REVIEW_SPEC))]),
    ("ServiceAccount", &[(1, "metadata", Kind::Message(OBJECT_META))]),
    (
        "ClusterRoleBinding",
        &[
            (1, "metadata", Kind::Message(OBJECT_META)),
            (2, "subjects", Kind::Messages(SUBJECT)),
            (3, "roleRef", Kind::Message(ROLE_REF)),
        ],
    ),
];

/// Decodes an enveloped object into the JSON the same object would have been sent as.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let (api_version, kind, raw) = unwrap_envelope(body)?;
    let schema = OBJECTS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, schema)| *schema)
        .ok_or_else(|| format!("protobuf decoding of {kind:?} is not supported; send JSON"))?;
    let mut object = message(raw, schema)?;
    object["apiVersion"] = json!(api_version);
    object["kind"] = json!(kind);
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bytes real kubectl 1.32 sent (captured against a logging server).
    const CREATE_TOKEN: &[u8] = b"k8s\x00\n(\n\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x128\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\x1e\n\x05vault\x1a\x15\n\x03Pod\x12\x02v1\x1a\x08test-pod\"\x00\x1a\x04\n\x00\x12\x00\x1a\x00\"\x00";
    const CREATE_TOKEN_DURATION: &[u8] = b"k8s\x00\n(\n\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x12$\n\x10\n\x00\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12\n\n\x05vault \xd8\x04\x1a\x04\n\x00\x12\x00\x1a\x00\"\x00";
    const CREATE_BINDING: &[u8] = b"k8s\x00\n2\n\x1crbac.authorization.k8s.io/v1\x12\x12ClusterRoleBinding\x12\xb0\x01\n\x1d\n\roidc-reviewer\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x12<\n\x05Group\x12\x19rbac.authorization.k8s.io\x1a\x16system:unauthenticated\"\x00\x1aQ\n\x19rbac.authorization.k8s.io\x12\x0bClusterRole\x1a'system:service-account-issuer-discovery\x1a\x00\"\x00";
    const CREATE_SA: &[u8] = b"k8s\x00\n\x14\n\x02v1\x12\x0eServiceAccount\x12\x16\n\x14\n\x04demo\x12\x00\x1a\x00\"\x00*\x002\x008\x00B\x00\x1a\x00\"\x00";

    #[test]
    fn decodes_what_kubectl_sends() {
        let cases: &[(&[u8], Value)] = &[
            (
                CREATE_TOKEN,
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {},
                    "spec": {"audiences": ["vault"], "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "test-pod"}}}),
            ),
            (
                CREATE_TOKEN_DURATION,
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {},
                    "spec": {"audiences": ["vault"], "expirationSeconds": 600}}),
            ),
            (
                CREATE_BINDING,
                json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "oidc-reviewer"},
                    "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:unauthenticated"}],
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:service-account-issuer-discovery"}}),
            ),
            (CREATE_SA, json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "demo"}})),
        ];
        for (bytes, want) in cases {
            assert_eq!(&decode(bytes).unwrap(), want);
        }
    }

    #[test]
    fn refuses_broken_input() {
        let cases: &[(&[u8], &str)] = &[
            (b"{\"kind\":\"TokenRequest\"}", "missing the k8s protobuf envelope"),
            (b"k8s\x00\n\xff", "truncated"),
            (b"k8s\x00\n\x05\n\x02v1", "truncated field"),
            (b"k8s\x00\n\x08\n\x02v1\x12\x02Xy", "not supported"),
            (&CREATE_SA[..CREATE_SA.len() - 10], "truncated field"),
        ];
        for (bytes, want) in cases {
            let error = decode(bytes).unwrap_err();
            assert!(error.contains(want), "{bytes:?}: {error}");
        }
    }
}
