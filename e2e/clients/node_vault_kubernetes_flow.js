// node-vault's kubernetesLogin against a running jwtgate and a simulated cluster.
// Environment as hvac_kubernetes_flow.py. Exits non-zero on the first mismatch.
// node-vault 0.12 renders its default Kubernetes path from the call's arguments, not from the
// client's `kubernetesPath`, so without `mount_point` it posts to `/v1/auth//login` (403, as
// Vault answers an unknown path): callers pass `mount_point`.
const fs = require("fs");
const assert = require("assert");
const vault = require("node-vault");

const read = (name) => fs.readFileSync(process.env[name], "utf8").trim();
// Names the step that failed.
const step = (name, promise) => promise.catch((error) => {
  throw new Error(`${name}: ${error.message || error}`);
});

async function main() {
  const endpoint = process.env.VAULT_ADDR;
  const root = vault({ endpoint, token: process.env.ROOT_TOKEN });
  await step("enable", root.write("sys/auth/kubernetes", { type: "kubernetes" }));
  await step("config", root.write("auth/kubernetes/config", {
    kubernetes_host: process.env.KUBERNETES_HOST,
    kubernetes_ca_cert: read("KUBERNETES_CA_FILE"),
    token_reviewer_jwt: read("REVIEWER_JWT_FILE"),
  }));
  await step("role", root.write("auth/kubernetes/role/app", {
    bound_service_account_names: "default", bound_service_account_namespaces: "default",
    audience: "vault", token_policies: "default", token_ttl: "1h",
  }));
  const workload = vault({ endpoint });
  const login = await step("login", workload.kubernetesLogin({ mount_point: "kubernetes", role: "app", jwt: read("KUBE_JWT_FILE") }));
  assert.deepStrictEqual(login.auth.policies, ["default"]);
  assert.strictEqual(workload.token, login.auth.client_token);
  const me = await step("lookup-self", workload.tokenLookupSelf());
  assert.strictEqual(me.data.meta.service_account_namespace, "default");
  await assert.rejects(vault({ endpoint }).kubernetesLogin({ mount_point: "kubernetes", role: "app", jwt: read("REVOKED_JWT_FILE") }), (error) => {
    assert.strictEqual(error.response.statusCode, 403);
    return true;
  });
  console.log("node-vault kubernetes flow: ok");
}

main().catch((error) => {
  console.error("node-vault kubernetes flow:", error.message || error);
  process.exit(1);
});
