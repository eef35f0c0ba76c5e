//! The deploy files, checked offline (no Docker daemon, no cluster): what an operator
//! would otherwise find out in production. `scripts/deploy-check.sh` adds hadolint on
//! the Dockerfiles and the Kubernetes API schemas; this file checks what those cannot:
//! the compose file's restart policies, health gates and secrets, the manifests'
//! probes, grace periods and GPU requests, and that every stage queue the topology
//! declares is counted by exactly one pool's KEDA ScaledObject.

use std::collections::BTreeSet;
use std::path::PathBuf;

use drawpipe_core::{topology, Stage};
use yaml_rust2::{Yaml, YamlLoader};

fn deploy() -> PathBuf {
    drawpipe_tests::workspace().join("deploy")
}

fn load(path: &PathBuf) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_of(y: &Yaml) -> &str {
    y.as_str().unwrap_or("")
}

fn entries(y: &Yaml) -> Vec<(&str, &Yaml)> {
    y.as_hash()
        .map(|h| h.iter().map(|(k, v)| (str_of(k), v)).collect())
        .unwrap_or_default()
}

fn list(y: &Yaml) -> &[Yaml] {
    y.as_vec().map(Vec::as_slice).unwrap_or(&[])
}

#[test]
fn compose_restarts_health_gates_and_keeps_secrets_out() {
    let doc = load(&deploy().join("compose.yaml")).remove(0);
    let services = entries(&doc["services"]);
    assert!(
        services.len() >= 6,
        "services: {:?}",
        services.iter().map(|s| s.0).collect::<Vec<_>>()
    );
    let one_shot: BTreeSet<&str> = services
        .iter()
        .filter(|(_, s)| str_of(&s["restart"]) == "no")
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(
        one_shot,
        BTreeSet::from(["migrate"]),
        "only the migration runs once"
    );
    for (name, s) in &services {
        let restart = str_of(&s["restart"]);
        assert!(
            ["unless-stopped", "always", "on-failure", "no"].contains(&restart),
            "{name}: no restart policy"
        );
        if !one_shot.contains(name) {
            assert!(
                !list(&s["healthcheck"]["test"]).is_empty(),
                "{name}: no healthcheck"
            );
        }
        // Every drawpipe process starts only once what it needs is healthy (or, for
        // the migration, finished).
        if str_of(&s["image"]).starts_with("drawpipe/") {
            let deps = entries(&s["depends_on"]);
            assert!(
                !deps.is_empty(),
                "{name}: starts without waiting for anything"
            );
            for (dep, cond) in deps {
                let want = if one_shot.contains(dep) {
                    "service_completed_successfully"
                } else {
                    "service_healthy"
                };
                assert_eq!(str_of(&cond["condition"]), want, "{name} -> {dep}");
            }
        }
    }
    assert_eq!(
        str_of(&doc["services"]["dispatcher"]["environment"]["DRAWPIPE_MIGRATE_ON_START"]),
        "false",
        "only `migrate` migrates"
    );
    let dispatcher_deps: BTreeSet<&str> = entries(&doc["services"]["dispatcher"]["depends_on"])
        .into_iter()
        .map(|(d, _)| d)
        .collect();
    assert!(
        dispatcher_deps.contains("migrate"),
        "the dispatcher waits for the migration"
    );
    // Workers get longer than their own shutdown grace (30 s) to stop.
    for w in ["worker-cpu", "worker-gpu"] {
        let grace = str_of(&doc["services"][w]["stop_grace_period"]);
        let secs: u64 = grace.trim_end_matches('s').parse().unwrap_or(0);
        assert!(secs > 30, "{w}: stop_grace_period {grace:?}");
    }
    let devices =
        list(&doc["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]);
    assert!(
        devices
            .iter()
            .any(|d| list(&d["capabilities"]).iter().any(|c| str_of(c) == "gpu")),
        "the GPU worker reserves a GPU"
    );
    // No password in the file: URLs take theirs from the env file, which is an
    // example in git and ignored for real.
    let text = std::fs::read_to_string(deploy().join("compose.yaml")).unwrap();
    for url in regex::Regex::new(r"(postgres|amqp)://[^\s]+")
        .unwrap()
        .find_iter(&text)
    {
        assert!(
            url.as_str().contains("${"),
            "a literal credential: {}",
            url.as_str()
        );
    }
    let example = std::fs::read_to_string(deploy().join(".env.example")).unwrap();
    for var in regex::Regex::new(r"\$\{([A-Z_]+):\?")
        .unwrap()
        .captures_iter(&text)
    {
        assert!(
            example.contains(&format!("{}=", &var[1])),
            "{} missing from .env.example",
            &var[1]
        );
    }
    let ignored = std::process::Command::new("git")
        .args(["check-ignore", "-q", "deploy/.env"])
        .current_dir(drawpipe_tests::workspace())
        .status()
        .unwrap();
    assert!(ignored.success(), "deploy/.env must be git-ignored");
}

/// Every object of the base manifests.
fn manifests() -> Vec<Yaml> {
    let base = deploy().join("k8s/base");
    let kustomization = load(&base.join("kustomization.yaml")).remove(0);
    let listed: BTreeSet<String> = list(&kustomization["resources"])
        .iter()
        .map(|r| str_of(r).to_string())
        .collect();
    let present: BTreeSet<String> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".yaml") && n != "kustomization.yaml")
        .collect();
    assert_eq!(listed, present, "kustomization resources vs files in base/");
    present
        .iter()
        .flat_map(|f| load(&base.join(f)))
        .filter(|d| !d.is_null())
        .collect()
}

fn of_kind<'a>(objs: &'a [Yaml], kind: &str) -> Vec<&'a Yaml> {
    objs.iter().filter(|o| str_of(&o["kind"]) == kind).collect()
}

fn name(o: &Yaml) -> &str {
    str_of(&o["metadata"]["name"])
}

fn env_value<'a>(container: &'a Yaml, var: &str) -> Option<&'a str> {
    list(&container["env"])
        .iter()
        .find(|e| str_of(&e["name"]) == var)
        .map(|e| str_of(&e["value"]))
}

#[test]
fn kubernetes_deployments_have_probes_resources_and_grace() {
    let objs = manifests();
    let deployments = of_kind(&objs, "Deployment");
    assert_eq!(
        deployments.len(),
        3,
        "dispatcher and one worker Deployment per pool"
    );
    for d in &deployments {
        let spec = &d["spec"]["template"]["spec"];
        for c in list(&spec["containers"]) {
            let who = format!("{}/{}", name(d), str_of(&c["name"]));
            let image = str_of(&c["image"]);
            assert!(!image.ends_with(":latest"), "{who}: {image}");
            assert_eq!(
                str_of(&c["readinessProbe"]["httpGet"]["path"]),
                "/readyz",
                "{who}"
            );
            assert_eq!(
                str_of(&c["livenessProbe"]["httpGet"]["path"]),
                "/healthz",
                "{who}"
            );
            assert!(
                !entries(&c["resources"]["requests"]).is_empty(),
                "{who}: no requests"
            );
            assert!(
                list(&c["envFrom"])
                    .iter()
                    .any(|e| str_of(&e["secretRef"]["name"]) == "drawpipe"),
                "{who}: the Secret"
            );
        }
        if name(d).starts_with("drawpipe-worker-") {
            let c = &list(&spec["containers"])[0];
            let grace: i64 = env_value(c, "DRAWPIPE_SHUTDOWN_GRACE_SECS")
                .and_then(|v| v.parse().ok())
                .expect("workers state their shutdown grace");
            let pod = spec["terminationGracePeriodSeconds"].as_i64().unwrap_or(30);
            assert!(
                pod > grace,
                "{}: pod grace {pod} s <= worker grace {grace} s",
                name(d)
            );
            let pool = env_value(c, "DRAWPIPE_POOL").expect("workers name their pool");
            let gpus = &c["resources"]["limits"]["nvidia.com/gpu"];
            assert_eq!(pool == "gpu", !gpus.is_badvalue(), "{}: GPU limit", name(d));
        }
    }
    // The secret's example holds every key the manifests read from it.
    let example = load(&deploy().join("k8s/secret.example.yaml")).remove(0);
    let keys: BTreeSet<&str> = entries(&example["stringData"])
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    for auth in of_kind(&objs, "TriggerAuthentication") {
        for r in list(&auth["spec"]["secretTargetRef"]) {
            assert_eq!(str_of(&r["name"]), "drawpipe");
            assert!(
                keys.contains(str_of(&r["key"])),
                "{} missing from the example",
                str_of(&r["key"])
            );
        }
    }
    assert!(keys.contains("DRAWPIPE_DATABASE_URL") && keys.contains("DRAWPIPE_AMQP_URL"));
    // Migrations run once, in a Job, not in every process.
    let jobs = of_kind(&objs, "Job");
    assert_eq!(jobs.len(), 1);
    let args = list(&jobs[0]["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert_eq!(args.iter().map(str_of).collect::<Vec<_>>(), ["migrate"]);
    assert_eq!(of_kind(&objs, "PodDisruptionBudget").len(), 1);
    assert_eq!(of_kind(&objs, "HorizontalPodAutoscaler").len(), 1);
    let rabbit = of_kind(&objs, "RabbitmqCluster");
    assert!(rabbit.len() == 1 && rabbit[0]["spec"]["replicas"].as_i64() == Some(3));
    assert_eq!(of_kind(&objs, "Cluster").len(), 1, "CloudNativePG");
}

#[test]
fn every_stage_queue_is_counted_by_exactly_one_pools_scaled_object() {
    let objs = manifests();
    let pool_of_deployment = |target: &str| {
        of_kind(&objs, "Deployment")
            .into_iter()
            .find(|d| name(d) == target)
            .and_then(|d| {
                env_value(
                    &d["spec"]["template"]["spec"]["containers"][0],
                    "DRAWPIPE_POOL",
                )
            })
            .unwrap_or_else(|| panic!("ScaledObject target {target}: no Deployment with a pool"))
            .to_string()
    };
    let scaled: Vec<(String, Vec<regex::Regex>)> = of_kind(&objs, "ScaledObject")
        .into_iter()
        .map(|s| {
            let pool = pool_of_deployment(str_of(&s["spec"]["scaleTargetRef"]["name"]));
            let queues = list(&s["spec"]["triggers"])
                .iter()
                .filter(|t| str_of(&t["type"]) == "rabbitmq")
                .map(|t| {
                    let m = &t["metadata"];
                    let q = str_of(&m["queueName"]);
                    if str_of(&m["useRegex"]) == "true" {
                        // KEDA sums the matching queues only with operation: sum.
                        assert_eq!(str_of(&m["operation"]), "sum", "{q}");
                        regex::Regex::new(q).unwrap()
                    } else {
                        regex::Regex::new(&format!("^{}$", regex::escape(q))).unwrap()
                    }
                })
                .collect();
            (pool, queues)
        })
        .collect();
    assert_eq!(scaled.len(), 2, "one ScaledObject per pool");
    for queue in Stage::ALL.into_iter().flat_map(|s| {
        [
            (s, topology::stage_queue(s)),
            (s, topology::interactive_queue(s)),
        ]
    }) {
        let (stage, queue) = queue;
        let counted_by: Vec<&str> = scaled
            .iter()
            .filter(|(_, qs)| qs.iter().any(|q| q.is_match(&queue)))
            .map(|(pool, _)| pool.as_str())
            .collect();
        assert_eq!(
            counted_by,
            [stage.pool().to_string()],
            "{queue} must be counted by exactly the {} pool's ScaledObject",
            stage.pool()
        );
    }
    // The overlays build on the base.
    for overlay in ["dev", "prod"] {
        let k =
            load(&deploy().join(format!("k8s/overlays/{overlay}/kustomization.yaml"))).remove(0);
        assert!(
            list(&k["resources"])
                .iter()
                .any(|r| str_of(r) == "../../base"),
            "{overlay}"
        );
    }
}
