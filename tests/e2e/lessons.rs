//! Every lesson's console transcripts, run as root and compared (see
//! `testkit::transcript`). One test per lesson file; a lesson with blocks
//! marked for a cgroup version has those marks as its kind
//! (`[cgroup-v1,cgroup-v2] 03-cgroups`), so the filter `cgroup-v2` selects
//! the lessons that have v2 blocks (the cgroup v2 lane runs just those).

use libtest_mimic::Arguments;
use testkit::{harness, transcript, TestEnv};

fn main() {
    let args = Arguments::from_args();
    let dir = testkit::workspace_dir().join("lessons");
    let mut lessons: Vec<_> = std::fs::read_dir(&dir)
        .expect("lessons/ directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    lessons.sort();
    assert!(!lessons.is_empty(), "no lessons found in {}", dir.display());
    let trials = lessons
        .into_iter()
        .map(|path| {
            let name = path
                .file_stem()
                .expect("lesson file name")
                .to_string_lossy()
                .into_owned();
            let marks = transcript::lesson_steps(&path)
                .map(|steps| transcript::cgroup_marks(&steps).join(","))
                .unwrap_or_default();
            harness::checked_trial(name.clone(), move || {
                let mut env = TestEnv::root(&format!("lesson-{name}"));
                // A failed step leaves its containers and demos running: the
                // mismatch is the news, the clean-up that follows is not.
                if let Err(mismatch) = transcript::check_lesson(&path, &mut env) {
                    env.drop_default_bridge(&env.path("mini-docker"));
                    let leftovers = env.leaks();
                    drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                        || env.assert_no_leaks(),
                    )));
                    return Err(format!(
                        "{mismatch}\n(cleaned up after the failure: {leftovers:?})"
                    )
                    .into());
                }
                env.assert_no_leaks();
                Ok(())
            })
            .with_kind(marks)
        })
        .collect();
    harness::run_with(&args, trials).exit();
}
