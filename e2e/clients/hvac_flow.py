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

# The sys and token calls an operator's hvac scripts make.
check(root.sys.read_health_status(method="GET")["initialized"], "read_health_status")
check(root.sys.read_seal_status()["sealed"] is False, "read_seal_status")
check(root.sys.read_leader_status()["ha_enabled"] is False, "read_leader_status")
check(root.sys.read_auth_method_tuning(path="jwt")["data"]["token_type"] == "default-service", "read_auth_method_tuning")
root.sys.tune_auth_method(path="jwt", default_lease_ttl="30m")
check(root.sys.read_auth_method_tuning(path="jwt")["data"]["default_lease_ttl"] == 1800, "tune_auth_method")
# The legacy sys/policy endpoints that hvac's older helpers use.
root.sys.create_or_update_policy(name="legacy", policy=policy)
check(root.sys.read_policy(name="legacy")["rules"] == policy, "read_policy (legacy)")
check("legacy" in root.sys.list_policies()["policies"], "list_policies (legacy)")
root.sys.delete_policy(name="legacy")
# The token hierarchy: a child dies with its parent, an orphan does not.
root.sys.create_or_update_acl_policy(name="maker", policy='path "auth/token/create*" {\n  capabilities = ["update"]\n}\n')
parent = root.auth.token.create(policies=["maker"], ttl="1h")["auth"]
maker = hvac.Client(url=addr, token=parent["client_token"])
child = maker.auth.token.create(policies=["maker"], ttl="10m")["auth"]
check(child["orphan"] is False, f"a created token is its creator's child: {child}")
orphan = root.auth.token.create_orphan(policies=["maker"], ttl="10m")["auth"]
caps = root.sys.get_capabilities(paths=["auth/token/create"], token=parent["client_token"])
check(caps["data"]["capabilities"] == ["update"], f"get_capabilities: {caps}")
root.auth.token.revoke_accessor(parent["accessor"])
for token, alive in [(child["client_token"], False), (orphan["client_token"], True)]:
    try:
        root.auth.token.lookup(token)
        check(alive, "a child outlived its revoked parent")
    except hvac.exceptions.Forbidden:
        check(not alive, "an orphan was revoked with another token")
# Response wrapping: a wrapped create answers a wrapping token, which unwraps once.
wrapped = root.auth.token.create(policies=["default"], wrap_ttl="5m")
check(wrapped["auth"] is None and wrapped["wrap_info"]["ttl"] == 300, f"wrapped create: {wrapped}")
unwrapped = hvac.Client(url=addr, token=wrapped["wrap_info"]["token"]).sys.unwrap()
check(unwrapped["auth"]["accessor"] == wrapped["wrap_info"]["wrapped_accessor"], f"unwrap: {unwrapped}")
secret = root.sys.wrap(payload={"password": "hunter2"}, ttl=60)["wrap_info"]["token"]
check(root.sys.unwrap(token=secret)["data"] == {"password": "hunter2"}, "sys.wrap then sys.unwrap")
try:
    root.sys.unwrap(token=secret)
    check(False, "a wrapping token unwrapped twice")
except hvac.exceptions.InvalidRequest as error:
    check("not valid" in str(error), f"second unwrap: {error}")
print("hvac flow: ok")
