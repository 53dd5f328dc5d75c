//! The stack a `clone`d child starts on: mapped, not allocated from the
//! heap, with a page below it that no one may touch, so that a child that
//! overflows its stack dies of SIGSEGV instead of silently writing over
//! whatever the heap had next to it (runc and crun do the same).

use std::num::NonZeroUsize;
use std::ptr::NonNull;

use nix::sys::mman::{mmap_anonymous, mprotect, munmap, MapFlags, ProtFlags};

/// A private anonymous mapping: the guard page, then the usable stack.
#[derive(Debug)]
pub struct Stack {
    base: NonNull<libc::c_void>,
    len: usize,
    guard: usize,
}

impl Stack {
    /// `size` usable bytes (rounded up to whole pages) above a guard page.
    pub fn new(size: usize) -> nix::Result<Stack> {
        let guard = page_size();
        let usable = size.div_ceil(guard) * guard;
        let len = usable + guard;
        let length = NonZeroUsize::new(len).ok_or(nix::errno::Errno::EINVAL)?;
        // SAFETY: a new private mapping that aliases nothing.
        let base = unsafe {
            mmap_anonymous(
                None,
                length,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_STACK,
            )?
        };
        let stack = Stack { base, len, guard };
        // SAFETY: the lowest page of the mapping just made (stacks grow down).
        unsafe { mprotect(base, guard, ProtFlags::PROT_NONE)? };
        Ok(stack)
    }

    /// The usable part, above the guard page.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is ours, readable and writable past the guard
        // page, and lives as long as `self`.
        unsafe {
            std::slice::from_raw_parts_mut(
                self.base.as_ptr().cast::<u8>().add(self.guard),
                self.len - self.guard,
            )
        }
    }

    /// The guard page's address (for tests).
    #[cfg(test)]
    fn guard_page(&self) -> *const u8 {
        self.base.as_ptr().cast()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the whole mapping made in `new`, no longer borrowed.
        let _ = unsafe { munmap(self.base, self.len) };
    }
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .map_or(4096, |n| n as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The protection of the mapping that holds `addr`, from
    /// `/proc/self/maps` (`r`, `w`, or `-` each).
    fn protection(addr: usize) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .find_map(|l| {
                let (range, rest) = l.split_once(' ')?;
                let (from, to) = range.split_once('-')?;
                let (from, to) = (
                    usize::from_str_radix(from, 16).ok()?,
                    usize::from_str_radix(to, 16).ok()?,
                );
                (from..to).contains(&addr).then(|| rest[..3].to_string())
            })
            .unwrap()
    }

    #[test]
    fn the_page_below_the_stack_is_a_guard() {
        let mut stack = Stack::new(64 * 1024 + 1).unwrap();
        let usable = stack.as_mut_slice();
        assert_eq!(usable.len() % page_size(), 0);
        assert!(usable.len() > 64 * 1024);
        usable[0] = 1;
        let last = usable.len() - 1;
        usable[last] = 1;
        let bottom = usable.as_ptr() as usize;
        assert_eq!(protection(bottom), "rw-");
        assert_eq!(protection(stack.guard_page() as usize), "---");
        assert_eq!(stack.guard_page() as usize + page_size(), bottom);
    }
}
