//! `mini-docker-monitor`: the per-container supervisor that `run`/`start`
//! launch (see `mini_docker::container::monitor`). A binary of its own,
//! without the CLI's parser and registry client, because one lives as long
//! as each container: the less it maps and relocates, the smaller it stays.
//!
//! Usage: `mini-docker-monitor --root DIR --runroot DIR [--explain] ID
//! [--attach-fd FD] [--tty-size ROWSxCOLS]` — only `start` runs it.

use std::path::PathBuf;

use mini_docker::container::dir::Containers;
use mini_docker::container::monitor;
use mini_docker::store::Store;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut root, mut runroot, mut explain) = (None, None, false);
    let (mut id, mut attach_fd, mut tty_size) = (None, None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--root" => root = args.next().map(PathBuf::from),
            "--runroot" => runroot = args.next().map(PathBuf::from),
            "--explain" => explain = true,
            "--attach-fd" => attach_fd = args.next().and_then(|fd| fd.parse().ok()),
            "--tty-size" => tty_size = args.next(),
            _ => id = Some(arg),
        }
    }
    let (Some(root), Some(runroot), Some(id)) = (root, runroot, id) else {
        eprintln!("usage: mini-docker-monitor --root DIR --runroot DIR [--explain] ID");
        std::process::exit(2);
    };
    narrate::init(explain);
    // A daemon holds no directory of whoever started it.
    let _ = std::env::set_current_dir("/");
    let global = vec![
        "--root".into(),
        root.clone().into_os_string(),
        "--runroot".into(),
        runroot.clone().into_os_string(),
    ];
    let opened = Store::open(&root)
        .and_then(|store| Ok((store, Containers::open(&root, &runroot.join("containers"))?)));
    let code = match opened {
        Ok((store, containers)) => monitor::main(
            store,
            containers,
            &id,
            attach_fd,
            tty_size.as_deref(),
            global,
        ),
        Err(e) => {
            println!("\u{1}failed 125 {e}");
            1
        }
    };
    std::process::exit(code);
}
