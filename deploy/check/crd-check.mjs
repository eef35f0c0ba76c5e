// Validates the custom resources in rendered Kubernetes manifests (multi-document YAML,
// as `kustomize build` prints them) against their CRD schemas, from the
// @kubernetes-models packages of the npm registry: KEDA (ScaledObject,
// TriggerAuthentication), CloudNativePG (Cluster) and the Prometheus operator
// (ServiceMonitor). Types, required fields and enums are checked; the CRD schemas
// allow unknown fields, so a misspelt optional field is not caught here.
// RabbitmqCluster has no such package: tests/tests/deploy.rs checks it.
// Core kinds are left to kubernetes-validate. Exits 1 on the first invalid object.
//
// Usage: node crd-check.mjs FILE.yaml...
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import { ScaledObject, TriggerAuthentication } from "@kubernetes-models/keda/keda.sh/v1alpha1";
import { Cluster } from "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";

const models = {
  "keda.sh/v1alpha1 ScaledObject": ScaledObject,
  "keda.sh/v1alpha1 TriggerAuthentication": TriggerAuthentication,
  "postgresql.cnpg.io/v1 Cluster": Cluster,
  "monitoring.coreos.com/v1 ServiceMonitor": ServiceMonitor,
};
const noSchema = new Set(["rabbitmq.com/v1beta1 RabbitmqCluster"]);
const core = /^(v1|apps\/v1|batch\/v1|policy\/v1|autoscaling\/v2|networking\.k8s\.io\/v1|rbac\.authorization\.k8s\.io\/v1)$/;

function check(obj, where) {
  const key = `${obj.apiVersion} ${obj.kind}`;
  const Model = models[key];
  if (Model) {
    try {
      new Model(obj).validate();
    } catch (e) {
      throw new Error(`${where}: ${key} ${obj.metadata?.name}: ${e.message}`);
    }
    return "schema";
  }
  if (noSchema.has(key)) return "unchecked";
  if (core.test(obj.apiVersion)) return "core";
  throw new Error(`${where}: ${key} ${obj.metadata?.name}: no schema known for this kind`);
}

// The validator must refuse a wrong type: otherwise a broken install would pass all.
const probe = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject", metadata: { name: "probe" },
  spec: { scaleTargetRef: { name: "x" }, minReplicaCount: "one", triggers: [] } };
let refused = false;
try { check(probe, "self-test"); } catch { refused = true; }
if (!refused) { console.error("crd-check: the validator accepted a string replica count"); process.exit(1); }

const counts = { schema: 0, unchecked: 0, core: 0 };
try {
  for (const file of process.argv.slice(2)) {
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      const obj = doc.toJS();
      if (obj) counts[check(obj, file)]++;
    }
  }
} catch (e) {
  console.error(`crd-check: ${e.message}`);
  process.exit(1);
}
console.log(`crd-check: ${counts.schema} custom resources valid against their CRD schemas, ` +
  `${counts.unchecked} without a schema package (RabbitmqCluster), ${counts.core} core objects left to kubernetes-validate`);
