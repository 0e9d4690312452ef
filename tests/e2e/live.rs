//! The live views on a real terminal (tmux, a pseudo-terminal of 80×24 whose screen a test can
//! read): `status --watch` full screen, and a prompted rollout. And what a watch shows that
//! only Events tell: the controller's failures.

use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Pod, ResourceQuota};
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::support::{Env, Sts};

/// A tmux server of its own (its socket named after the test's namespace) running one command
/// in a window of 80×24; killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `args` (the plugin's, after `-n NAMESPACE`) in the window, then prints its exit code
    /// and the terminal's modes (`stty -a`), and keeps the window open for the test to read.
    fn plugin(env: &Env, args: &[&str]) -> Tmux {
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let script = format!(
            "'{bin}' -n '{ns}' {args}; echo \"exit=$?\"; stty -a | tr ' ' '\\n' | grep -x -- '-\\{{0,1\\}}icanon'; \
             echo end; sleep 600",
            bin = env!("CARGO_BIN_EXE_kubectl-stateful"),
            ns = env.ns,
            args = quoted.join(" ")
        );
        let tmux = Tmux { socket: format!("kubectl-stateful-{}", env.ns) };
        let kubeconfig = format!("KUBECONFIG={}", env.kubeconfig.display());
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "80",
            "-y",
            "24",
            "-s",
            "main",
            "-e",
            &kubeconfig,
            // An empty NO_COLOR counts as unset: the view in colour, as most people see it.
            "-e",
            "NO_COLOR=",
            "sh",
            "-c",
            &script,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux").args(["-L", &self.socket]).args(args).output().expect("tmux runs");
        assert!(output.status.success(), "tmux {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// What the screen shows now, a line per row.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "main"])
    }

    /// Everything written to the window's normal screen, its history included, wrapped lines
    /// joined (a line longer than 80 columns shows as one).
    fn history(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", "main"])
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "main"];
        args.extend(keys);
        self.run(&args);
    }

    /// A tmux format of the window (`#{alternate_on}`, `#{cursor_flag}`).
    fn format(&self, format: &str) -> String {
        self.run(&["display-message", "-p", "-t", "main", format]).trim().to_owned()
    }

    /// Waits until the screen satisfies `check`; returns it.
    fn until(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let screen = self.screen();
            if check(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "no {what} on the screen within 90s:\n{screen}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

/// `status --watch` on a terminal of 80×24: the full-screen view starts with its header and a
/// row per ordinal, each line within 80 columns; it follows a change of the pods; `w` and `/`
/// work; a resize redraws it; `q` quits with exit 0 and leaves the terminal as it was (normal screen, cursor shown,
/// line editing on).
#[tokio::test]
async fn status_watch_is_a_full_screen_view_at_80x24() {
    let env = Env::new("live-watch").await;
    env.statefulset(&Sts::new("web", 2)).await;
    let tmux = Tmux::plugin(&env, &["status", "web", "--watch"]);
    let screen = tmux.until("view", |s| s.contains("q quits") && s.contains("web-1"));
    assert!(screen.contains(&format!("StatefulSet {}/web", env.ns)), "{screen}");
    assert!(screen.contains("ORDINAL") && screen.contains("web-0"), "{screen}");
    assert!(screen.contains("last event"), "{screen}");
    assert_eq!(tmux.format("#{alternate_on}"), "1", "on the alternate screen");
    assert_eq!(screen.lines().count(), 24);

    // A change of the pods shows without a key pressed.
    env.scale("web", 3).await;
    tmux.until("web-2 Ready", |s| s.lines().any(|l| l.contains("web-2") && l.contains(" yes ")));

    tmux.keys(&["w"]);
    let wide = tmux.until("wide view", |s| s.contains("w narrow"));
    assert!(wide.contains("IMAGES") || wide.contains("IP"), "{wide}");
    tmux.keys(&["/", "web-1", "Enter"]);
    let filtered = tmux.until("filter", |s| s.contains("filter \"web-1\""));
    assert!(
        filtered.contains("web-1") && !filtered.contains("web-0 ") && !filtered.contains("web-2 "),
        "{filtered}"
    );

    // A resize draws the view again at the new size.
    tmux.run(&["resize-window", "-t", "main", "-x", "120", "-y", "30"]);
    tmux.until("view at 120x30", |s| {
        s.lines().count() == 30 && s.lines().any(|l| l.contains("No warnings ") && l.chars().count() == 120)
    });

    tmux.keys(&["q"]);
    let after = tmux.until("exit", |s| s.lines().any(|l| l == "end"));
    assert!(after.contains("exit=0"), "{after}");
    assert_eq!(tmux.format("#{alternate_on}"), "0", "back on the normal screen");
    assert_eq!(tmux.format("#{cursor_flag}"), "1", "the cursor shown");
    assert!(after.lines().any(|l| l == "icanon"), "line editing back on: {after}");
    assert!(!after.contains("ORDINAL"), "the view left nothing on the normal screen: {after}");
}

/// Ended by a signal rather than a key, the view exits 130 and still restores the terminal.
#[tokio::test]
async fn status_watch_ended_by_a_signal_exits_130_with_the_terminal_restored() {
    let env = Env::new("live-signal").await;
    env.statefulset(&Sts::new("web", 1)).await;
    let tmux = Tmux::plugin(&env, &["status", "web", "--watch"]);
    tmux.until("view", |s| s.contains("q quits"));
    let pid = tmux.format("#{pane_pid}");
    // The plugin is the pane's shell's child.
    let children = Command::new("pgrep").args(["-P", &pid, "-f", "kubectl-stateful"]).output().unwrap();
    let child = String::from_utf8_lossy(&children.stdout).trim().to_owned();
    assert!(!child.is_empty(), "the plugin runs under the pane's shell {pid}");
    assert!(Command::new("kill").args(["-TERM", &child]).status().unwrap().success());
    let after = tmux.until("exit", |s| s.lines().any(|l| l == "end"));
    assert!(after.contains("exit=130"), "{after}");
    assert!(after.contains("interrupted"), "{after}");
    assert_eq!(tmux.format("#{alternate_on}"), "0");
    assert_eq!(tmux.format("#{cursor_flag}"), "1");
    assert!(after.lines().any(|l| l == "icanon"), "{after}");
}

/// A rollout answered at its prompts on a terminal of 80×24: each prompt fits the width (one
/// row), and once answered, no stale copy of it stays on screen.
#[tokio::test]
async fn a_prompted_rollout_at_80x24_leaves_no_stale_prompt() {
    let env = Env::new("live-rollout").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let tmux = Tmux::plugin(&env, &["rollout", "web", "--image", "app=example.invalid/app:v2"]);
    tmux.until("first prompt", |s| s.contains("Next: step 1/3"));
    tmux.keys(&["Enter"]); // continue
    tmux.until("second prompt", |s| s.contains("Next: step 2/3"));
    tmux.keys(&["Down", "Enter"]); // stop here
    let after = tmux.until("exit", |s| s.lines().any(|l| l == "end"));
    assert!(after.contains("exit=0"), "{after}");
    let history = tmux.history();
    for prompt in ["Next: step 1/3", "Next: step 2/3"] {
        let lines: Vec<&str> = history.lines().filter(|l| l.contains(prompt)).collect();
        assert_eq!(lines.len(), 1, "one copy of {prompt:?}:\n{history}");
        assert!(lines[0].chars().count() <= 80, "{prompt:?} fits 80 columns: {:?}", lines[0]);
    }
    assert!(history.contains("stopped at partition 2"), "{history}");
}

/// `--watch` reads the StatefulSet's Events (again every 10 s): a controller blocked by a full
/// quota after the watch started shows as ControllerFailing in a watch frame, and no frame says
/// that Events are not readable.
#[tokio::test]
async fn a_watch_shows_the_controllers_failures() {
    use tokio::io::AsyncBufReadExt;
    let env = Env::new("live-failing").await;
    env.create::<ResourceQuota>(json!({"metadata": {"name": "pods"}, "spec": {"hard": {"pods": "4"}}})).await;
    env.statefulset(&Sts { parallel: true, ..Sts::new("web", 4) }).await;
    let mut child = env.spawn_plugin(&["status", "web", "--watch", "-o", "json"]).spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["controllerFailures"], json!([]), "Events were read: {first:#}");

    let quotas = env.api::<ResourceQuota>();
    let params = PatchParams::default();
    // Three pods left under a quota of three: the controller cannot create web-1 again, and
    // says so in an Event every retry (a scale-down here raced it: web-3 could go first).
    quotas.patch("pods", &params, &Patch::Merge(json!({"spec": {"hard": {"pods": "3"}}}))).await.unwrap();
    // The quota controller has seen the new limit (the API server's quota admission reads it
    // from a cache as well): a delete before it let web-1 come back under the old one.
    crate::support::wait_until(Duration::from_secs(60), || async {
        let quota = env.api::<ResourceQuota>().get("pods").await.unwrap();
        quota.status.and_then(|s| s.hard).and_then(|h| h.get("pods").cloned()).is_some_and(|q| q.0 == "3")
    })
    .await;
    env.api::<Pod>().delete("web-1", &DeleteParams::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    loop {
        let line =
            tokio::time::timeout_at(deadline, lines.next_line()).await.expect("a ControllerFailing frame");
        let frame: Value = serde_json::from_str(&line.unwrap().unwrap()).unwrap();
        let notes = frame["notes"].as_array().unwrap();
        assert!(notes.iter().all(|n| !n.as_str().unwrap().contains("Events")), "{frame:#}");
        let failing = frame["warnings"].as_array().unwrap().iter().find(|w| w["code"] == "ControllerFailing");
        if let Some(warning) = failing {
            let message = warning["message"].as_str().unwrap();
            assert!(
                message.contains("fails to create Pod web-1") && message.contains("exceeded quota"),
                "{message}"
            );
            assert!(!frame["controllerFailures"].as_array().unwrap().is_empty(), "{frame:#}");
            break;
        }
    }
    child.kill().await.unwrap();
}

/// A rollout on a terminal keeps a line per ordinal's state above its spinner, redrawn in place
/// (here the canary Ready and soaking for --pause: gated), and clears it when it ends.
#[tokio::test]
async fn a_rollout_on_a_terminal_shows_each_ordinal_in_a_strip() {
    let env = Env::new("live-strip").await;
    env.statefulset(&Sts::new("web", 3)).await;
    let tmux = Tmux::plugin(
        &env,
        &["rollout", "web", "--image", "app=example.invalid/app:v2", "--yes", "--pause", "5s"],
    );
    let soaking = tmux.until("strip", |s| s.contains("web-0 old  web-1 old  web-2 gated"));
    assert_eq!(soaking.lines().filter(|l| l.starts_with("web-0 ")).count(), 1, "one strip: {soaking}");
    let after = tmux.until("exit", |s| s.lines().any(|l| l == "end"));
    assert!(after.contains("exit=0"), "{after}");
    assert!(!after.lines().any(|l| l.starts_with("web-0 ")), "the strip is cleared at the end: {after}");
    assert!(after.contains("rolled out to revision"), "{after}");
}
