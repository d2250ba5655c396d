"""hvac's Kubernetes auth method against a running jwtgate and a simulated cluster.

Environment: VAULT_ADDR, ROOT_TOKEN, KUBERNETES_HOST, KUBERNETES_CA_FILE, REVIEWER_JWT_FILE,
KUBE_JWT_FILE (a live pod's token, audience vault), REVOKED_JWT_FILE (a deleted pod's token).
"""
import os
import sys

import hvac


def read(name):
    return open(os.environ[name]).read().strip()


def check(condition, message):
    if not condition:
        print(f"hvac kubernetes flow: {message}", file=sys.stderr)
        sys.exit(1)


addr = os.environ["VAULT_ADDR"]
root = hvac.Client(url=addr, token=os.environ["ROOT_TOKEN"])
root.sys.enable_auth_method(method_type="kubernetes")
root.auth.kubernetes.configure(
    kubernetes_host=os.environ["KUBERNETES_HOST"],
    kubernetes_ca_cert=read("KUBERNETES_CA_FILE"),
    token_reviewer_jwt=read("REVIEWER_JWT_FILE"),
)
config = root.auth.kubernetes.read_config()
check(config["kubernetes_host"] == os.environ["KUBERNETES_HOST"], f"read_config: {config}")
check(config["token_reviewer_jwt_set"] is True and "token_reviewer_jwt" not in config, f"reviewer JWT shown: {config}")
root.auth.kubernetes.create_role(
    name="app",
    bound_service_account_names=["default"],
    bound_service_account_namespaces=["default"],
    policies=["default"],
    ttl="1h",
    audience="vault",
)
role = root.auth.kubernetes.read_role(name="app")
check(role["bound_service_account_names"] == ["default"] and role["token_ttl"] == 3600, f"read_role: {role}")
check(root.auth.kubernetes.list_roles()["keys"] == ["app"], "list_roles")

workload = hvac.Client(url=addr)
login = workload.auth.kubernetes.login(role="app", jwt=read("KUBE_JWT_FILE"))
check(login["auth"]["policies"] == ["default"], f"login: {login}")
check(login["auth"]["metadata"]["service_account_name"] == "default", f"login metadata: {login}")
check(workload.is_authenticated(), "is_authenticated after login")
try:
    hvac.Client(url=addr).auth.kubernetes.login(role="app", jwt=read("REVOKED_JWT_FILE"))
    check(False, "a deleted pod's token logged in")
except hvac.exceptions.Forbidden as error:
    check("service account token has been invalidated" in str(error), f"revoked token error: {error}")
print("hvac kubernetes flow: ok")
