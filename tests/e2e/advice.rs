//! Advice you can paste (#31): every command the plugin prints carries the run's `-n`,
//! `--context` and `--kubeconfig`, quoted for the shell, with exact names, and does what it says
//! when pasted as printed. Each test runs the plugin with a kubeconfig of its own, at a path the
//! shell must quote, whose current context `other` is not the test bed (namespace `elsewhere`,
//! on a server where nothing listens) and whose test-bed context has a name the shell must quote
//! too; then runs each printed command through `sh -c` with no `$KUBECONFIG`, an empty `$HOME`
//! and this build of the plugin on `PATH` as `kubectl-stateful` (`support::as_printed`), on a
//! terminal where it asks. A command that lost `-n`, `--context` or `--kubeconfig` fails there.

use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::ResourceExt;
use kube::api::Api;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{Env, JOURNAL, Sts, as_printed, commands, empty_home, partition, sts, wait_until};

/// The test bed's context, renamed: a space and a quote for the shell to keep.
const CONTEXT: &str = "the test bed's";
const V1: &str = "example.invalid/app:v1";

/// `kubectl` on `kubeconfig`; panics unless it succeeds; its stdout.
fn kubectl(kubeconfig: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new("kubectl")
        .env("KUBECONFIG", kubeconfig)
        .args(args)
        .output()
        .expect("kubectl on PATH");
    assert!(output.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A kubeconfig of a test's own: the test bed's, flattened, at a path with a space, its context
/// renamed to [`CONTEXT`], beside a context `other` (the current one) that reaches nothing.
struct Elsewhere {
    kubeconfig: PathBuf,
    ns: String,
}

impl Elsewhere {
    fn of(env: &Env) -> Elsewhere {
        let dir = std::env::temp_dir().join(format!("kubectl-stateful advice {}", env.ns));
        std::fs::create_dir_all(&dir).unwrap();
        let kubeconfig = dir.join("kube config");
        std::fs::write(&kubeconfig, kubectl(&env.kubeconfig, &["config", "view", "--flatten", "--raw"]))
            .unwrap();
        let bed = crate::support::current_context(&kubeconfig);
        kubectl(&kubeconfig, &["config", "rename-context", &bed, CONTEXT]);
        let user = kubectl(
            &kubeconfig,
            &[
                "config",
                "view",
                "-o",
                &format!("jsonpath={{.contexts[?(@.name==\"{CONTEXT}\")].context.user}}"),
            ],
        );
        kubectl(&kubeconfig, &["config", "set-cluster", "nowhere", "--server=https://127.0.0.1:1"]);
        kubectl(
            &kubeconfig,
            &[
                "config",
                "set-context",
                "other",
                "--cluster=nowhere",
                &format!("--user={user}"),
                "--namespace=elsewhere",
            ],
        );
        kubectl(&kubeconfig, &["config", "use-context", "other"]);
        Elsewhere { kubeconfig, ns: env.ns.clone() }
    }

    /// `--kubeconfig K --context C -n NS`, as this test gives them.
    fn flags(&self) -> [String; 6] {
        [
            "--kubeconfig".into(),
            self.kubeconfig.to_string_lossy().into_owned(),
            "--context".into(),
            CONTEXT.into(),
            "-n".into(),
            self.ns.clone(),
        ]
    }

    /// The plugin with this test's flags and nothing else to fall back on.
    fn plugin(&self, args: &[&str]) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-stateful"));
        command.env_remove("KUBECONFIG").env("HOME", empty_home()).env("NO_COLOR", "1");
        command.args(self.flags()).args(args);
        command
    }

    /// Asserts that `command` carries this run's namespace, context and kubeconfig, each quoted
    /// as the shell needs.
    fn carried_by(&self, command: &str) {
        let kubeconfig = format!("--kubeconfig '{}'", self.kubeconfig.display());
        for flag in [format!("-n {}", self.ns), "--context 'the test bed'\\''s'".to_owned(), kubeconfig] {
            assert!(command.contains(&flag), "{flag} missing from `{command}`");
        }
    }
}

/// Runs `command` on a terminal (a pseudo-terminal), answering its prompts in order: once a
/// prompt's text appears, sends its keys. Returns the transcript and the exit code.
pub fn on_terminal(command: std::process::Command, dialogue: &[(&str, &str)]) -> (String, i32) {
    let mut session = rexpect::session::spawn_command(command, Some(120_000)).unwrap();
    let mut transcript = String::new();
    for (prompt, keys) in dialogue {
        let (before, seen) = session.exp_string(prompt).map(|b| (b, prompt.to_string())).unwrap();
        transcript.push_str(&before);
        transcript.push_str(&seen);
        session.send(keys).unwrap();
        session.flush().unwrap();
    }
    transcript.push_str(&session.exp_eof().unwrap());
    let code = match session.process().wait().unwrap() {
        rexpect::process::WaitStatus::Exited(_, code) => code,
        other => panic!("{other:?}: {transcript}"),
    };
    (transcript.replace('\r', ""), code)
}

/// The command printed between backticks right after `lead`.
fn after<'t>(text: &'t str, lead: &str) -> &'t str {
    let at = text.find(lead).unwrap_or_else(|| panic!("no {lead:?} in {text}"));
    text[at + lead.len()..].split('`').nth(1).unwrap_or_else(|| panic!("no command after {lead:?} in {text}"))
}

/// Runs `command` as printed, not on a terminal; its output.
fn run(command: &str) -> std::process::Output {
    as_printed(command).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A rollout stopped at its gate prints the command that resumes it; a new rollout refused
/// while that journal stands prints the same, and the abort; each, pasted, does what it says.
#[tokio::test]
async fn a_rollouts_advice_runs_as_printed() {
    let env = Env::new("advice-rollout").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let here = Elsewhere::of(&env);

    // Stopped at the gate of step 2: where it stands, and the command that resumes.
    let started = here.plugin(&["rollout", "web", "--image", "app=example.invalid/app:v2"]);
    let (transcript, code) = tokio::task::spawn_blocking(move || {
        on_terminal(started, &[("Next: step 1/3", "\n"), ("Next: step 2/3", "\x1b[B\n")])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{transcript}");
    let resume = after(&transcript, "stopped at partition 2:").to_owned();
    here.carried_by(&resume);
    assert_eq!(partition(&sts(&env, "web").await), 2);

    // Another rollout is refused while that one stands: resume it, or roll it back.
    let refused =
        here.plugin(&["rollout", "web", "--image", "app=example.invalid/app:v3", "--yes"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let error = text(&refused.stderr);
    assert!(error.contains("is in progress"), "{error}");
    let printed = commands(&error);
    assert_eq!(printed.len(), 2, "{error}");
    assert_eq!(printed[0], resume, "the same resume");
    let abort = printed[1].to_owned();
    here.carried_by(&abort);
    assert!(abort.starts_with("kubectl stateful rollout web --abort "), "{abort}");

    // The resume, as printed: it picks the journaled rollout up at the gate it stopped at.
    let pasted = as_printed(&resume);
    let (transcript, code) =
        tokio::task::spawn_blocking(move || on_terminal(pasted, &[("Next: step 2/3", "\x1b[B\n")]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{transcript}");
    assert!(transcript.contains("stopped at partition 2"), "{transcript}");

    // The abort, as printed: the pods back on v1, the journal gone.
    let pasted = as_printed(&abort);
    let (transcript, code) =
        tokio::task::spawn_blocking(move || on_terminal(pasted, &[("back to revision", "y")])).await.unwrap();
    assert_eq!(code, 0, "{transcript}");
    let web = sts(&env, "web").await;
    assert!(!web.annotations().contains_key(JOURNAL), "{transcript}");
    assert_eq!(partition(&web), 0);
    assert!(env.all_pods_run(V1).await, "{transcript}");
}

/// Status names the prune of orphaned claims; the prune warns that their data goes with them and
/// names the prune that keeps it; that prune names the command that reuses each kept volume;
/// each, pasted, does what it says, until the old data is back in its ordinal.
#[tokio::test]
async fn prune_advice_runs_as_printed_until_the_kept_volume_is_back() {
    let env = Env::new("advice-prune").await;
    env.statefulset(&Sts::new("web", 3)).await;
    env.scale("web", 1).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let here = Elsewhere::of(&env);
    let claims: Api<PersistentVolumeClaim> = env.api();
    let volume = claims.get("data-web-1").await.unwrap().spec.unwrap().volume_name.unwrap();

    let status = here.plugin(&["status", "web"]).output().unwrap();
    assert!(status.status.success(), "{}", text(&status.stderr));
    let table = text(&status.stdout);
    let prune = after(&table, "a scale-up re-attaches them with their old data;").to_owned();
    here.carried_by(&prune);

    // Pasted, not on a terminal: the plan (a dry run), and the warning with the prune that keeps
    // the data.
    let planned = run(&prune);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    let plan = text(&planned.stdout);
    assert!(plan.lines().any(|l| l.contains("data-web-1") && l.contains(" prune ")), "{plan}");
    let warning = text(&planned.stderr);
    let keeping = after(&warning, "to keep it as Released PVs, prune with").to_owned();
    here.carried_by(&keeping);
    assert!(keeping.contains("--retain-volumes"), "{keeping}");

    // That prune, pasted on a terminal and confirmed: the volumes kept, each with its command.
    let pasted = as_printed(&keeping);
    let (transcript, code) =
        tokio::task::spawn_blocking(move || on_terminal(pasted, &[("Type web to confirm", "web\n")]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{transcript}");
    assert!(!transcript.contains("<PV>"), "{transcript}");
    let reuse: Vec<&str> = transcript
        .lines()
        .skip_while(|l| !l.starts_with("To reuse one for its ordinal"))
        .skip(1)
        .take_while(|l| l.starts_with("  kubectl "))
        .map(str::trim)
        .collect();
    assert_eq!(reuse.len(), 2, "{transcript}");
    let unbind = reuse.iter().find(|c| c.contains(&volume)).unwrap_or_else(|| panic!("{transcript}"));
    assert!(
        unbind.contains("--context 'the test bed'\\''s'") && unbind.contains("--kubeconfig '"),
        "{unbind}"
    );
    let volumes: Api<PersistentVolume> = Api::all(env.client.clone());
    wait_until(Duration::from_secs(30), || async {
        volumes.get(&volume).await.unwrap().status.and_then(|s| s.phase).as_deref() == Some("Released")
    })
    .await;
    let unbound = run(unbind);
    assert!(unbound.status.success(), "{unbind}: {}", text(&unbound.stderr));
    env.scale("web", 2).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let claim = claims.get("data-web-1").await.unwrap();
    assert_eq!(claim.spec.unwrap().volume_name.as_deref(), Some(volume.as_str()), "the old data is back");
}

/// A prune with snapshots of a set with two claim templates prints one exact restore per
/// snapshot (`--template` included), `status -o wide` prints the restore of each deleted claim,
/// and a restore prints the scale-up that adopts it: pasted, they bring both claims back into
/// their ordinal.
#[tokio::test]
async fn restore_advice_runs_as_printed_for_a_set_with_two_templates() {
    let env = Env::new("advice-restore").await;
    let two = Sts { templates: vec!["data".to_owned(), "logs".to_owned()], ..Sts::new("web", 2) };
    env.statefulset(&two).await;
    env.scale("web", 1).await;
    env.wait_ready("web", Duration::from_secs(60)).await;
    let here = Elsewhere::of(&env);

    let pruned = here.plugin(&["pvc", "prune", "web", "--snapshot", "--yes"]).output().unwrap();
    assert!(pruned.status.success(), "{}", text(&pruned.stderr));
    let result = text(&pruned.stdout);
    assert!(!result.contains("<STATEFULSET>") && !result.contains("<SNAPSHOT>"), "{result}");
    let restores: Vec<&str> = result
        .lines()
        .skip_while(|l| !l.starts_with("To bring one back into its ordinal"))
        .skip(1)
        .map(str::trim)
        .collect();
    assert_eq!(restores.len(), 2, "{result}");
    for restore in &restores {
        here.carried_by(restore);
    }
    let data = restores.iter().find(|r| r.contains("--template data")).unwrap_or_else(|| panic!("{result}"));
    assert!(data.starts_with("kubectl stateful pvc restore web --ordinal 1 --from data-web-1-"), "{data}");
    // A restore refuses a name a claim still holds: the pruned claims must be gone first.
    wait_until(Duration::from_secs(60), || async { env.pvc_names().await == ["data-web-0", "logs-web-0"] })
        .await;

    let restored = run(data);
    assert!(restored.status.success(), "{data}: {}", text(&restored.stderr));
    let said = text(&restored.stdout);
    let scale_up = said.split("adopts it: ").nth(1).unwrap_or_else(|| panic!("{said}")).trim().to_owned();
    here.carried_by(&scale_up);

    // The other claim's restore, from `status -o wide`: its newest snapshot, its template.
    let wide = here.plugin(&["status", "web", "-o", "wide"]).output().unwrap();
    let wide = text(&wide.stdout);
    let newest: Vec<&str> = wide
        .lines()
        .skip_while(|l| !l.starts_with("To bring the newest back into its ordinal"))
        .skip(1)
        .take_while(|l| l.starts_with("  kubectl "))
        .map(str::trim)
        .collect();
    assert_eq!(newest.len(), 1, "data-web-1 is back, only logs-web-1 is gone: {wide}");
    assert!(newest[0].contains("--template logs"), "{wide}");
    here.carried_by(newest[0]);
    let restored = run(newest[0]);
    assert!(restored.status.success(), "{}: {}", newest[0], text(&restored.stderr));

    let scaled = run(&scale_up);
    assert!(scaled.status.success(), "{scale_up}: {}", text(&scaled.stderr));
    env.wait_ready("web", Duration::from_secs(60)).await;
    let claims: Api<PersistentVolumeClaim> = env.api();
    for claim in ["data-web-1", "logs-web-1"] {
        let source = claims.get(claim).await.unwrap().spec.unwrap().data_source_ref.unwrap();
        assert!(source.name.starts_with(&format!("{claim}-")), "{claim} is restored from its own snapshot");
    }
    let pods: Api<Pod> = env.api();
    assert!(pods.get_opt("web-1").await.unwrap().is_some());
}

/// An interrupted restart prints the command that resumes it; another restart refused while its
/// journal stands prints the same, and the one that gives it up; the resume, pasted, finishes it.
#[tokio::test]
async fn an_interrupted_restart_resumes_as_printed() {
    let env = Env::new("advice-restart").await;
    env.statefulset(&Sts { min_ready_seconds: Some(3), ..Sts::new("web", 3) }).await;
    let here = Elsewhere::of(&env);
    let mut spawned =
        tokio::process::Command::from(here.plugin(&["restart", "web", "2", "1", "--yes", "-o", "json"]));
    spawned.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).kill_on_drop(true);
    let mut child = spawned.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        if line.contains("\"event\":\"evicted\"") {
            break;
        }
    }
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let output =
        tokio::time::timeout(Duration::from_secs(10), child.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    let resume = commands(&stderr)
        .into_iter()
        .find(|c| c.starts_with("kubectl stateful restart web "))
        .unwrap_or_else(|| panic!("{stderr}"))
        .to_owned();
    here.carried_by(&resume);

    let refused = here.plugin(&["restart", "web", "0", "--yes"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let error = text(&refused.stderr);
    let printed = commands(&error);
    assert_eq!(printed.len(), 2, "{error}");
    assert_eq!(printed[0], resume, "the same resume");
    here.carried_by(printed[1]);
    assert!(printed[1].starts_with("kubectl stateful restart web --discard-journal "), "{error}");

    let pasted = as_printed(&resume);
    let (transcript, code) =
        tokio::task::spawn_blocking(move || on_terminal(pasted, &[("one at a time?", "y")])).await.unwrap();
    assert_eq!(code, 0, "{transcript}");
    assert!(
        !sts(&env, "web").await.annotations().contains_key("kubectl-stateful.dev/restart"),
        "{transcript}"
    );
}
