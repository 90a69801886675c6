//! glibc's allocator gives each thread that allocates its own arena (up to eight per core)
//! and keeps what a freed arena held. A run's tokio workers and blocking threads allocate
//! in bursts (every node's SSH buffers, the probes' results, then the report), so with the
//! default a 200-node full-mesh run held 163 MiB resident for 71 MiB of live heap, and 135
//! MiB with one arena (benches/RESULTS.md, "Harness memory"). `MALLOC_ARENA_MAX` in the
//! environment still decides when set. Once a phase's bursts are over, [`give_back`]
//! returns their free pages.

/// Arenas for the whole process: enough for the runtime's two kinds of threads.
const ARENAS: i32 = 2;

/// Bounds the allocator's arenas; call first thing, before any thread starts.
pub fn bound() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    set_arena_max(ARENAS);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn set_arena_max(arenas: i32) {
    // SAFETY: mallopt only sets an allocator parameter; glibc accepts M_ARENA_MAX at any
    // time and it takes no pointers. Its result says whether the value was taken, and a
    // refused one leaves glibc's default, which is correct, only larger.
    let _ = unsafe { nix::libc::mallopt(nix::libc::M_ARENA_MAX, arenas) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_arenas: i32) {}

/// Hands the pages of freed memory in every arena back to the system. Called once the
/// mesh's sessions are closed: what they held was freed on the runtime's workers, in an
/// arena the report's allocations (on the main thread) do not reuse, so without this the
/// report's matrix came on top of it (200-node full mesh: 86 → 111 MiB resident).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn give_back() {
    // SAFETY: malloc_trim takes no pointers and only releases memory glibc holds free; it
    // is safe to call from any thread at any time. Its result only says whether anything
    // was released.
    let _ = unsafe { nix::libc::malloc_trim(0) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn give_back() {}
