//! What a plugin host child denies itself before it loads the plugin.
//!
//! On Linux: `PR_SET_NO_NEW_PRIVS` (no set-uid program it runs gains privileges), then a
//! Landlock rule set that handles every filesystem write right and grants none, so no file can
//! be created, written, truncated, renamed or removed anywhere. Reads stay allowed: the loader
//! reads the library and its dependencies, TLS stacks read CA certificates. Files the child
//! had open before (its pipes to the daemon, the inherited stderr) are not affected. Network
//! access is not restricted: a connector's whole job is to call its partner.
//!
//! A kernel without Landlock (before 5.13, or built without it) gets no_new_privs only; the
//! returned description says so and the daemon logs it as a warning. No seccomp filter: no
//! well-kept crate makes a useful one simple, and an allow-list of syscalls for arbitrary
//! plugins (TLS, DNS, a tokio runtime) would be brittle.

/// Puts the child first in line for the out-of-memory killer (`oom_score_adj` 1000: a plugin
/// that eats the machine's memory is what the kernel kills, not the daemon) and, with `limit`,
/// caps its heap (`RLIMIT_DATA`: private writable memory, so an allocation past it fails and
/// the plugin aborts at once). Runs before [`restrict`], which closes `/proc/self` to writes
/// too. Returns what was applied, in words for the log.
#[cfg(target_os = "linux")]
pub(crate) fn contain_memory(limit: Option<u64>) -> String {
    let first = match std::fs::write("/proc/self/oom_score_adj", b"1000") {
        Ok(()) => "killed first when memory runs out".to_string(),
        Err(e) => format!("oom_score_adj could not be set ({e})"),
    };
    let Some(bytes) = limit else { return first };
    let cap = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
    // SAFETY: setrlimit reads the struct it is given, which lives across the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &cap) } == 0 {
        format!("{first}; heap capped at {} MiB", bytes / (1024 * 1024))
    } else {
        format!("{first}; the heap cap failed ({})", std::io::Error::last_os_error())
    }
}

/// Elsewhere memory is not contained, and the description says so.
#[cfg(not(target_os = "linux"))]
pub(crate) fn contain_memory(_limit: Option<u64>) -> String {
    "no memory containment on this platform".into()
}

/// Applies the restrictions; returns what is enforced, in words for the log, and whether the
/// filesystem is really closed to writes.
#[cfg(target_os = "linux")]
pub(crate) fn restrict() -> (String, bool) {
    use landlock::{AccessFs, Ruleset, RulesetAttr, RulesetStatus, ABI};

    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS takes plain integers and touches no memory.
    let nnp = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == 0;
    // ABI v4's write rights: every right that changes the filesystem (v5 adds device ioctls,
    // which are not writes and which some libraries use on inherited terminals).
    let landlock = Ruleset::default()
        .handle_access(AccessFs::from_write(ABI::V4))
        .and_then(|ruleset| ruleset.create())
        .and_then(|ruleset| ruleset.restrict_self());
    let nnp_words = if nnp { "no_new_privs set" } else { "no_new_privs could not be set" };
    match landlock {
        Ok(status) => match status.ruleset {
            RulesetStatus::FullyEnforced => {
                (format!("{nnp_words}; Landlock denies every filesystem write"), true)
            }
            RulesetStatus::PartiallyEnforced => (
                format!(
                    "{nnp_words}; Landlock denies filesystem writes this kernel knows of \
                     (an older Landlock: some rights, e.g. truncate, are not enforced)"
                ),
                true,
            ),
            RulesetStatus::NotEnforced => (
                format!(
                    "{nnp_words}; this kernel has no Landlock, so the plugin can write files \
                     (Linux 5.13 or later with Landlock enabled closes that)"
                ),
                false,
            ),
        },
        Err(e) => {
            (format!("{nnp_words}; Landlock failed ({e}), so the plugin can write files"), false)
        }
    }
}

/// Elsewhere nothing is restricted, and the description says so.
#[cfg(not(target_os = "linux"))]
pub(crate) fn restrict() -> (String, bool) {
    ("no restriction on this platform (Landlock is Linux only)".into(), false)
}
