//! System V IPC objects, the kind the IPC namespace isolates: shared-memory
//! segments and message queues live in the namespace and vanish with it.

use crate::{Error, Result};

/// `ipcmk --shmem SIZE` with a fixed key: creates a shared-memory segment.
pub fn create_shm(key: i32, size: usize) -> Result<i32> {
    tracing::info!(target: "explain", "ipcmk --shmem {size}   # shmget(0x{key:08x}, {size}, IPC_CREAT|0600)");
    // SAFETY: shmget only reads its integer arguments.
    let id = unsafe { libc::shmget(key, size, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(Error::sys("shmget", nix::errno::Errno::last()));
    }
    Ok(id)
}

/// `ipcmk --queue` with a fixed key: creates a message queue.
pub fn create_queue(key: i32) -> Result<i32> {
    tracing::info!(target: "explain", "ipcmk --queue   # msgget(0x{key:08x}, IPC_CREAT|0600)");
    // SAFETY: msgget only reads its integer arguments.
    let id = unsafe { libc::msgget(key, libc::IPC_CREAT | 0o600) };
    if id < 0 {
        return Err(Error::sys("msgget", nix::errno::Errno::last()));
    }
    Ok(id)
}
