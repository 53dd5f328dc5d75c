//! The narrated walks through overlayfs.

use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use narrate::Steps;
use overlay_demo::changes::changes;
use overlay_demo::mount::Overlay;
use overlay_demo::whiteout;

use crate::scratch::Scratch;

/// lower/, upper/, work/, merged/ and the overlay joining them.
fn single_layer(scratch: &Scratch) -> Result<Overlay> {
    let [lower, upper, work, merged]: [PathBuf; 4] = scratch
        .dirs(&["lower", "upper", "work", "merged"])?
        .try_into()
        .map_err(|_| anyhow::anyhow!("four directories"))?;
    Ok(Overlay::new(vec![lower], upper, work, merged))
}

fn upper_of(overlay: &Overlay) -> &Path {
    overlay
        .upper
        .as_ref()
        .map(|(u, _)| u.as_path())
        .unwrap_or(Path::new("/"))
}

pub fn tour(steps: &mut Steps) -> Result<i32> {
    let scratch = Scratch::new()?;
    steps.step("a lower layer (the image) and an empty upper layer (the container)");
    let overlay = single_layer(&scratch)?;
    scratch.write("lower/readme.txt", "from the image\n")?;
    scratch.write("lower/config.txt", "color=blue\n")?;
    scratch.write("lower/keep.txt", "keep me\n")?;
    scratch.write("lower/dir/a.txt", "a\n")?;
    scratch.write("lower/dir/b.txt", "b\n")?;
    scratch.mount(&overlay)?;
    let merged = overlay.merged.clone();
    let upper = upper_of(&overlay).to_path_buf();
    scratch.show(&merged)?;
    scratch.show(&upper)?;

    steps.step("read: cat merged/readme.txt — found in the lower layer, nothing copied");
    println!("   {}", scratch.cat(&merged.join("readme.txt")));
    scratch.show(&upper)?;

    steps.step("create: echo new > merged/new.txt — written to the upper layer only");
    std::fs::write(merged.join("new.txt"), "new\n")?;
    scratch.show(&upper)?;

    steps.step("modify: echo color=red >> merged/config.txt — copy-up, then write");
    std::fs::OpenOptions::new()
        .append(true)
        .open(merged.join("config.txt"))?
        .write_all(b"color=red\n")?;
    scratch.show(&upper)?;
    println!(
        "   upper/config.txt: {}",
        scratch.cat(&upper.join("config.txt")).replace('\n', " | ")
    );
    println!(
        "   lower/config.txt: {} (untouched)",
        scratch.cat(&scratch.root.join("lower/config.txt"))
    );

    steps.step("delete: rm merged/readme.txt — a whiteout hides the lower file");
    std::fs::remove_file(merged.join("readme.txt"))?;
    scratch.show(&upper)?;
    println!(
        "   merged/readme.txt exists: {}",
        merged.join("readme.txt").exists()
    );
    println!(
        "   lower/readme.txt exists: {}",
        scratch.root.join("lower/readme.txt").exists()
    );

    steps
        .step("replace a directory: rm -r merged/dir; mkdir merged/dir; echo c > merged/dir/c.txt");
    std::fs::remove_dir_all(merged.join("dir"))?;
    std::fs::create_dir(merged.join("dir"))?;
    std::fs::write(merged.join("dir/c.txt"), "c\n")?;
    scratch.show(&upper)?;
    scratch.show(&merged.join("dir"))?;

    steps.step("rename: mv merged/keep.txt merged/moved.txt — copy-up plus a whiteout");
    std::fs::rename(merged.join("keep.txt"), merged.join("moved.txt"))?;
    scratch.show(&upper)?;

    steps.step("docker diff: the changes, read from the upper layer alone");
    for change in changes(&upper, &overlay.lowers)? {
        println!("   {change}");
    }

    steps.step("unmount: the lower layer is exactly as it was");
    scratch.unmount(&merged)?;
    scratch.show(&scratch.root.join("lower"))?;
    Ok(0)
}

pub fn share(steps: &mut Steps) -> Result<i32> {
    let scratch = Scratch::new()?;
    steps.step("one lower layer, two containers with their own upper, work and merged dirs");
    scratch.dirs(&["image"])?;
    scratch.write("image/app.conf", "port=80\n")?;
    let mut containers = Vec::new();
    for name in ["c1", "c2"] {
        let dirs = scratch.dirs(&[
            &format!("{name}/upper"),
            &format!("{name}/work"),
            &format!("{name}/merged"),
        ])?;
        let overlay = Overlay::new(
            vec![scratch.root.join("image")],
            dirs[0].clone(),
            dirs[1].clone(),
            dirs[2].clone(),
        );
        scratch.mount(&overlay)?;
        containers.push(overlay);
    }
    let (c1, c2) = (&containers[0].merged, &containers[1].merged);

    steps.step("c1 writes a file and deletes app.conf");
    std::fs::write(c1.join("hello.txt"), "hi from c1\n")?;
    std::fs::remove_file(c1.join("app.conf"))?;
    scratch.show(c1)?;
    scratch.show(c2)?;
    scratch.show(&scratch.root.join("image"))?;
    println!("   c2 sees neither change, and the shared image is untouched");
    Ok(0)
}

pub fn layers(steps: &mut Steps) -> Result<i32> {
    let scratch = Scratch::new()?;
    steps.step("three lower layers, as three Dockerfile instructions would leave them");
    scratch.write("l1/who.txt", "layer 1\n")?;
    scratch.write("l1/base.txt", "only in layer 1\n")?;
    scratch.write("l1/gone.txt", "deleted by layer 3\n")?;
    scratch.write("l2/who.txt", "layer 2\n")?;
    scratch.write("l2/middle.txt", "only in layer 2\n")?;
    scratch.write("l3/who.txt", "layer 3\n")?;
    whiteout::make_whiteout(&scratch.root.join("l3/gone.txt"))?;
    for layer in ["l1", "l2", "l3"] {
        scratch.show(&scratch.root.join(layer))?;
    }

    steps.step("stack them read-only: lowerdir=l3:l2:l1 — the first is the top");
    let merged = scratch.dirs(&["merged"])?.remove(0);
    let overlay = Overlay {
        lowers: ["l3", "l2", "l1"]
            .iter()
            .map(|l| scratch.root.join(l))
            .collect(),
        upper: None,
        merged: merged.clone(),
    };
    scratch.mount(&overlay)?;
    scratch.show(&merged)?;
    println!(
        "   cat who.txt: {}   (top-down: the first layer that has it wins)",
        scratch.cat(&merged.join("who.txt"))
    );
    println!("   gone.txt: hidden by layer 3's whiteout");
    match std::fs::write(merged.join("new.txt"), "x") {
        Err(e) => println!("   writing: {e} — no upper layer, nothing is writable"),
        Ok(()) => println!("   writing: unexpectedly allowed"),
    }
    Ok(0)
}

pub fn diff(upper: &Path, lowers: &[PathBuf]) -> Result<i32> {
    for change in changes(upper, lowers)? {
        println!("{change}");
    }
    Ok(0)
}

pub fn cow_cost(steps: &mut Steps, size: u64) -> Result<i32> {
    let scratch = Scratch::new()?;
    let overlay = single_layer(&scratch)?;
    let mib = size as f64 / (1 << 20) as f64;
    steps.step(&format!("a {mib:.0} MiB file in the lower layer"));
    write_big(&scratch.root.join("lower/big.bin"), size)?;
    scratch.mount(&overlay)?;
    let big = overlay.merged.join("big.bin");
    let upper_big = upper_of(&overlay).join("big.bin");

    steps.step("read one byte: served from the lower layer");
    let t = Instant::now();
    let mut byte = [0u8; 1];
    std::fs::File::open(&big)?.read_exact(&mut byte)?;
    let read = t.elapsed();
    println!(
        "   took {:.3}ms; upper/big.bin exists: {}",
        read.as_secs_f64() * 1e3,
        upper_big.exists()
    );

    steps.step("write one byte: the whole file is copied up first");
    let first = time_one_byte_write(&big)?;
    let copied = std::fs::metadata(&upper_big).map(|m| m.len()).unwrap_or(0);
    println!(
        "   took {:.1}ms; upper/big.bin is now {:.0} MiB",
        first * 1e3,
        copied as f64 / (1 << 20) as f64
    );

    steps.step("write one byte again: the copy is already in the upper layer");
    let second = time_one_byte_write(&big)?;
    println!("   took {:.3}ms", second * 1e3);
    println!(
        "   the first write cost {:.0}x the second",
        first / second.max(1e-9)
    );
    Ok(0)
}

fn write_big(path: &Path, size: u64) -> Result<()> {
    let mut file = std::fs::File::create(path)?;
    let chunk = vec![0x5Au8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        file.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    file.sync_all().context("syncing the lower file")
}

fn time_one_byte_write(path: &Path) -> Result<f64> {
    let t = Instant::now();
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(b"!")?;
    Ok(t.elapsed().as_secs_f64())
}
