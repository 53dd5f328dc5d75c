//! Every lesson's console transcripts, run as root and compared (see
//! `testkit::transcript`). One test per lesson file.

use libtest_mimic::{Arguments, Trial};
use testkit::{transcript, TestEnv};

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
            Trial::test(name.clone(), move || {
                let Some(mut env) = TestEnv::root(&format!("lesson-{name}")) else {
                    return Ok(());
                };
                transcript::check_lesson(&path, &mut env)?;
                Ok(())
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
