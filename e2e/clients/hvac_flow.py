"""hvac against a running jwtgate: what a Python workload and its operator do.

Environment: VAULT_ADDR, ROOT_TOKEN, PUBKEY_FILE (PEM), JWT_FILE (a Kubernetes-shaped token).
Exits non-zero with a message on the first mismatch.
"""
import os
import sys

import hvac

addr = os.environ["VAULT_ADDR"]
root = hvac.Client(url=addr, token=os.environ["ROOT_TOKEN"])
jwt = open(os.environ["JWT_FILE"]).read()
pubkey = open(os.environ["PUBKEY_FILE"]).read()


def check(condition, message):
    if not condition:
        print(f"hvac flow: {message}", file=sys.stderr)
        sys.exit(1)


check(root.sys.is_initialized(), "sys.is_initialized")
root.sys.enable_auth_method(method_type="jwt", path="jwt")
check("jwt/" in root.sys.list_auth_methods()["data"], "list_auth_methods")
root.auth.jwt.configure(jwt_validation_pubkeys=[pubkey], path="jwt")
config = root.auth.jwt.read_config(path="jwt")
# Read back trimmed, as Vault (and OpenBao) store them.
check(config["data"]["jwt_validation_pubkeys"] == [pubkey.strip()], "read_config")
root.auth.jwt.create_role(
    name="my-role",
    role_type="jwt",
    bound_audiences=["vault"],
    user_claim="sub",
    bound_subject="system:serviceaccount:default:default",
    token_policies=["default"],
    token_ttl="1h",
    allowed_redirect_uris=[],
    path="jwt",
)
roles = root.auth.jwt.list_roles(path="jwt")
check(roles["data"]["keys"] == ["my-role"], f"list_roles: {roles}")
role = root.auth.jwt.read_role(name="my-role", path="jwt")
check(role["data"]["token_ttl"] == 3600, f"read_role: {role}")

policy = 'path "auth/jwt/role/*" {\n  capabilities = ["read", "list"]\n}\n'
root.sys.create_or_update_acl_policy(name="role-reader", policy=policy)
check(root.sys.read_acl_policy(name="role-reader")["data"]["policy"] == policy, "read_acl_policy")
check("role-reader" in root.sys.list_acl_policies()["data"]["keys"], "list_acl_policies")
reader = hvac.Client(url=addr, token=root.auth.token.create(policies=["role-reader"])["auth"]["client_token"])
check(reader.auth.jwt.read_role(name="my-role", path="jwt")["data"]["user_claim"] == "sub", "policy grants read")
try:
    reader.auth.jwt.delete_role(name="my-role", path="jwt")
    check(False, "policy without delete allowed a delete")
except hvac.exceptions.Forbidden:
    pass
root.sys.delete_acl_policy(name="role-reader")

workload = hvac.Client(url=addr)
login = workload.auth.jwt.jwt_login(role="my-role", jwt=jwt, path="jwt")
check(login["auth"]["policies"] == ["default"], f"jwt_login: {login}")
check(workload.is_authenticated(), "is_authenticated after login")
me = workload.auth.token.lookup_self()
check(me["data"]["meta"] == {"role": "my-role"}, f"lookup_self: {me}")
renewed = workload.auth.token.renew_self(increment="30m")
check(renewed["auth"]["lease_duration"] == 1800, f"renew_self: {renewed}")
workload.auth.token.revoke_self()
try:
    workload.auth.token.lookup_self()
    check(False, "lookup_self after revoke_self succeeded")
except hvac.exceptions.Forbidden:
    pass
try:
    workload.auth.jwt.jwt_login(role="nope", jwt=jwt, path="jwt")
    check(False, "login with an unknown role succeeded")
except hvac.exceptions.InvalidRequest as error:
    check('role "nope" could not be found' in str(error), f"unknown role error: {error}")
print("hvac flow: ok")
