// Validate the KEDA objects (ScaledObject, ScaledJob, TriggerAuthentication, ClusterTriggerAuthentication) in
// rendered Kubernetes YAML against the KEDA CRD schemas of @kubernetes-models/keda. kubernetes-validate only warns
// about these kinds (no schema), so this is their check.
//   node tools/check_keda.mjs rendered.yaml [more.yaml ...]   ("-" reads stdin)
// Prints one line per invalid object and exits 1 if there is any (2 on a usage or YAML syntax error).
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import * as keda from "@kubernetes-models/keda/keda.sh/v1alpha1";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tools/check_keda.mjs FILE.yaml [FILE.yaml ...]");
  process.exit(2);
}
let bad = 0;
let checked = 0;
for (const file of files) {
  const text = readFileSync(file === "-" ? 0 : file, "utf8");
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      process.exit(2);
    }
    const obj = doc.toJSON();
    if (!obj || typeof obj.apiVersion !== "string" || !obj.apiVersion.startsWith("keda.sh/")) continue;
    const name = `${file}: ${obj.kind}/${obj.metadata?.name ?? "?"}`;
    if (obj.apiVersion !== "keda.sh/v1alpha1" || typeof keda[obj.kind] !== "function") {
      bad++;
      console.error(`${name}: unknown KEDA kind or version ${obj.apiVersion}`);
      continue;
    }
    try {
      new keda[obj.kind](obj).validate();
      checked++;
    } catch (e) {
      bad++;
      console.error(`${name}: ${e.message}`);
    }
  }
}
console.log(`KEDA objects: ${checked} valid, ${bad} invalid`);
process.exit(bad ? 1 : 0);
