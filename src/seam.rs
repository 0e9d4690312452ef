//! Test seams, compiled only with the `e2e` feature (the suite's own build; a release has
//! none): `KUBECTL_STATEFUL_E2E_PAUSE=<point>:<file>` stops a run at the named point until
//! `<file>` exists, so that an end-to-end test can change the cluster at the exact moment a
//! race would (docs/testing.md, "Pause points"). Nothing here decides anything.

/// Waits at `point` while the run's pause names it: says `paused at <point>` on stderr, then
/// polls for the file.
#[cfg(feature = "e2e")]
pub async fn pause(point: &str) {
    let Ok(wanted) = std::env::var("KUBECTL_STATEFUL_E2E_PAUSE") else { return };
    let Some((at, file)) = wanted.split_once(':') else { return };
    if at != point {
        return;
    }
    eprintln!("paused at {point}");
    while !std::path::Path::new(file).exists() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// No pause outside the test build.
#[cfg(not(feature = "e2e"))]
pub async fn pause(_point: &str) {}
