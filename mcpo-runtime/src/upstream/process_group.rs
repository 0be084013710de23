//! A guard that kills a child's whole process group: `npx`/`uvx` start the
//! real server as a grandchild, which killing only the direct child would
//! leave running.

/// Kills a process group (SIGKILL) when dropped.
#[derive(Debug)]
pub struct ProcessGroupGuard {
    pgid: libc::pid_t,
}

impl ProcessGroupGuard {
    /// Guards the group led by `pid` (a child spawned as a group leader);
    /// `None` when the pid does not fit a `pid_t`.
    pub fn for_leader(pid: u32) -> Option<Self> {
        libc::pid_t::try_from(pid)
            .ok()
            .map(|pgid| ProcessGroupGuard { pgid })
    }
}

impl Drop for ProcessGroupGuard {
    fn drop(&mut self) {
        // Never signal "all processes" (0, -1) or init by mistake.
        if self.pgid > 1 {
            // SAFETY: killpg only sends a signal; a group that is already gone
            // gives ESRCH, which is fine.
            unsafe {
                libc::killpg(self.pgid, libc::SIGKILL);
            }
        }
    }
}
