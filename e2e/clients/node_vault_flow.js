// node-vault against a running jwtgate: jwtLogin, write, read, list.
// Environment: VAULT_ADDR, ROOT_TOKEN, PUBKEY_FILE, JWT_FILE. Exits non-zero on the first mismatch.
const fs = require("fs");
const assert = require("assert");
const vault = require("node-vault");

async function main() {
  const endpoint = process.env.VAULT_ADDR;
  const root = vault({ endpoint, token: process.env.ROOT_TOKEN });
  await root.write("sys/auth/k8s", { type: "jwt" });
  await root.write("auth/k8s/config", { jwt_validation_pubkeys: [fs.readFileSync(process.env.PUBKEY_FILE, "utf8")] });
  await root.write("auth/k8s/role/app", {
    role_type: "jwt", bound_audiences: "vault", user_claim: "sub",
    bound_subject: "system:serviceaccount:default:default", policies: "default", ttl: "1h",
  });
  const role = await root.read("auth/k8s/role/app");
  assert.strictEqual(role.data.token_ttl, 3600);
  const list = await root.list("auth/k8s/role");
  assert.deepStrictEqual(list.data.keys, ["app"]);

  const workload = vault({ endpoint });
  const login = await workload.jwtLogin({ mount_point: "k8s", role: "app", jwt: fs.readFileSync(process.env.JWT_FILE, "utf8") });
  assert.deepStrictEqual(login.auth.policies, ["default"]);
  assert.strictEqual(workload.token, login.auth.client_token);
  const me = await workload.tokenLookupSelf();
  assert.strictEqual(me.data.meta.role, "app");
  await assert.rejects(workload.jwtLogin({ mount_point: "k8s", role: "nope", jwt: "x.y.z" }), (error) => {
    assert.strictEqual(error.response.statusCode, 400);
    return true;
  });
  console.log("node-vault flow: ok");
}

main().catch((error) => {
  console.error("node-vault flow:", error.message || error);
  process.exit(1);
});
