//! Work on both cores: [`join`], the fork every split goes through, and element-wise and
//! per-channel passes split with it.
//!
//! The convolutions, the products and pooling split each batch between the two cores, but the
//! passes between them — batch normalisation, activations — ran on one while the other waited:
//! in a resnet training step they took about 15% of the CPU time (perf, Intel Xeon model 106,
//! 2026-12-02). Here such a pass is split in two halves, each core taking one; the resnet's step
//! went from 94–108 ms to 83–90 ms (criterion's `train_step_resnet`, the two builds alternated,
//! same CPU and day). The split never changes a result: each half is either element-wise work,
//! or sums that are each taken whole, in the same order, by one core (batch normalisation splits
//! its channels, not its samples).

/// A pass over fewer entries than this stays on one core: waking the second costs more than it
/// saves. A ReLU's forward and backward over 2¹⁶ entries took 36 µs on one core and 46–58 µs
/// split (criterion's `relu_512` at batch 128, called from outside the thread pool); at 2¹⁷ (the
/// mlp's first ReLU at batch 256) the training step was the same either way; the resnet's passes
/// (2·10⁵ to 8·10⁵ entries) gain. All on the Intel Xeon model 106, 2026-12-02, through rayon's
/// fork. With [`join`]'s own, cheaper, 2¹⁴ and 2¹⁷ gave the same batch-64 mlp epochs within this
/// machine's noise (1.65–1.90 s against 1.47–2.03 s, four alternated pairs of `mnist_mlp --epochs
/// 1`, AMD EPYC family 25 model 1, 2026-12-03), so it stays. (An optimiser's update, heavier per
/// entry, splits from 2¹⁶: `optim::update_entries`.)
pub(crate) const PARALLEL_MIN_ENTRIES: usize = 1 << 17;

/// Runs `work` on both parts: at once on the two cores when the pass touches at least
/// [`PARALLEL_MIN_ENTRIES`] entries, one after the other otherwise.
pub(crate) fn on_both_cores<P: Send>(entries: usize, [first, second]: [P; 2], work: impl Fn(P) + Sync) {
    if entries < PARALLEL_MIN_ENTRIES {
        work(first);
        work(second);
    } else {
        join(|| work(first), || work(second));
    }
}

/// Runs `first` and `second` at once, `first` on this thread and `second` on the helper thread,
/// and returns when both are done. When the helper is busy (a `join` inside a `join`, or another
/// thread's), or the process may use only one core, it runs them one after the other here.
///
/// Every layer shape's forward and backward hand their halves to this one function. It turns
/// them into trait objects first, so that what follows is compiled once, not once per pair of
/// closures.
///
/// A panic in either half is raised again here, once both halves have stopped (one after the
/// other, a panic in `first` means `second` does not run).
pub(crate) fn join(first: impl FnOnce() + Send, second: impl FnOnce() + Send) {
    // A trait object can be called through `&mut` only as `FnMut`: each runs its work once.
    let (mut first, mut second) = (Some(first), Some(second));
    join_objects(
        &mut || {
            if let Some(work) = first.take() {
                work()
            }
        },
        &mut || {
            if let Some(work) = second.take() {
                work()
            }
        },
    );
}

fn join_objects(first: &mut dyn FnMut(), second: &mut (dyn FnMut() + Send)) {
    match helper::claim() {
        Some(helper) => helper.run(first, second),
        None => {
            first();
            second();
        }
    }
}

/// The second core's thread, and how the two threads hand work to each other.
///
/// A product's halves take tens of microseconds to milliseconds, so the hand-over must cost far
/// less: each side waits for the other's signal by spinning for a moment ([`spin_before_sleep`])
/// before it sleeps, and signals the other with `Thread::unpark`, which makes no system call
/// unless that thread sleeps. The thread that asks for the fork works on its own half meanwhile.
mod helper {
    use std::any::Any;
    use std::cell::UnsafeCell;
    use std::panic::{self, AssertUnwindSafe};
    use std::ptr;
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering};
    use std::thread::{self, Thread};
    use std::time::{Duration, Instant};

    /// How long a thread spins for the other's signal before it sleeps, chosen per CPU kind from
    /// what was measured on it. A thread that has gone to sleep wakes late: with 200 µs, the
    /// helper, asleep whenever its half had ended more than that before the caller's, started the
    /// next fork's half 15–100 µs late on average, and the caller waited for it 8–20% of a resnet
    /// training step; with 2 ms it started within 1–3 µs (a throwaway probe that timed every fork
    /// of 100 batch-64 resnet steps, three runs each). Criterion's `train_step_resnet` was faster
    /// with 2 ms in every set of runs but one (six rounds in rotated order: 59–67 ms against
    /// 65–89 ms); `train_step_mlp/64` was not: slower in most alternated pairs, faster in the
    /// rotated rounds.
    /// `docs/performance.md` ("Spinning longer before sleeping") has every run, and real epochs.
    /// All on the AMD EPYC family 25 model 1 (two cores, one thread each), 2026-12-03. Other CPUs
    /// keep the 200 µs the helper was built with: a longer spin was not measured there. An idle
    /// process still sleeps within the spin (`tests/idle.rs`); what a longer one costs is a core
    /// kept busy that long after a burst of forks ends.
    fn spin_before_sleep() -> Duration {
        static CHOSEN: OnceLock<Duration> = OnceLock::new();
        *CHOSEN
            .get_or_init(|| if made_by_amd() { Duration::from_millis(2) } else { Duration::from_micros(200) })
    }

    /// Whether this CPU is an AMD one, as its `cpuid` says.
    #[cfg(target_arch = "x86_64")]
    pub(super) fn made_by_amd() -> bool {
        // Leaf 0 of `cpuid`, which every x86-64 CPU has, spells the maker in EBX, EDX, ECX.
        let maker = std::arch::x86_64::__cpuid(0);
        [maker.ebx, maker.edx, maker.ecx].map(u32::to_le_bytes).concat() == b"AuthenticAMD"
    }

    #[cfg(not(target_arch = "x86_64"))]
    pub(super) fn made_by_amd() -> bool {
        false
    }

    // The helper's states. Any thread may claim it out of `FREE`; the one that did alone moves
    // it out of `CLAIMED` and `DONE`, and only the helper moves it out of `POSTED`.
    const FREE: u8 = 0;
    const CLAIMED: u8 = 1;
    const POSTED: u8 = 2;
    const DONE: u8 = 3;

    pub(super) struct Helper {
        state: AtomicU8,
        job: AtomicPtr<Job>,
    }

    /// The half the helper runs, on the stack of the thread that asked for it.
    struct Job {
        /// Borrowed from that thread's stack frame, which outlives the job: the thread waits for
        /// `DONE` before it returns, even when its own half panics.
        work: *mut (dyn FnMut() + Send + 'static),
        /// What the work panicked with, if it did; written by the helper before `DONE`.
        panic: UnsafeCell<Option<Box<dyn Any + Send>>>,
        caller: Thread,
    }

    static HELPER: Helper = Helper { state: AtomicU8::new(FREE), job: AtomicPtr::new(ptr::null_mut()) };

    /// The helper thread, started by the first fork; `None` where the process may use one core
    /// only (`available_parallelism`, which counts the cores `taskset` and cgroups allow) or the
    /// thread could not start.
    static HELPER_THREAD: OnceLock<Option<Thread>> = OnceLock::new();

    /// The helper, if it is free; it is then this thread's until [`Helper::run`] returns.
    pub(super) fn claim() -> Option<Claimed> {
        let thread = HELPER_THREAD
            .get_or_init(|| {
                let cores = thread::available_parallelism().map_or(1, |cores| cores.get());
                if cores < 2 {
                    return None;
                }
                let spawned = thread::Builder::new().name("minitorch-helper".into()).spawn(|| HELPER.serve());
                spawned.ok().map(|handle| handle.thread().clone())
            })
            .as_ref()?;
        HELPER.state.compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed).ok()?;
        Some(Claimed { thread })
    }

    pub(super) struct Claimed {
        thread: &'static Thread,
    }

    impl Claimed {
        /// Runs `first` here and `second` on the helper; returns when both are done.
        pub(super) fn run(self, first: &mut dyn FnMut(), second: &mut (dyn FnMut() + Send)) {
            // SAFETY: only the lifetime changes. The helper calls `work` before it sets `DONE`,
            // and this function returns only after it has seen `DONE`.
            let work = unsafe {
                std::mem::transmute::<*mut (dyn FnMut() + Send + '_), *mut (dyn FnMut() + Send + 'static)>(
                    second,
                )
            };
            let job = Job { work, panic: UnsafeCell::new(None), caller: thread::current() };
            HELPER.job.store(ptr::from_ref(&job).cast_mut(), Ordering::Relaxed);
            HELPER.state.store(POSTED, Ordering::Release);
            self.thread.unpark();
            let first_result = panic::catch_unwind(AssertUnwindSafe(first));
            wait_for(|| HELPER.state.load(Ordering::Acquire) == DONE);
            HELPER.state.store(FREE, Ordering::Release);
            if let Some(payload) = job.panic.into_inner() {
                panic::resume_unwind(payload);
            }
            if let Err(payload) = first_result {
                panic::resume_unwind(payload);
            }
        }
    }

    impl Helper {
        fn serve(&self) -> ! {
            loop {
                wait_for(|| self.state.load(Ordering::Acquire) == POSTED);
                // SAFETY: a job is posted, and its caller waits for `DONE` (see `Job::work`).
                let job = unsafe { &*self.job.load(Ordering::Relaxed) };
                let result = panic::catch_unwind(AssertUnwindSafe(|| unsafe { (*job.work)() }));
                if let Err(payload) = result {
                    // SAFETY: the caller reads `panic` only after `DONE`.
                    unsafe { *job.panic.get() = Some(payload) };
                }
                // After `DONE` the job may be gone: keep the caller's handle.
                let caller = job.caller.clone();
                self.state.store(DONE, Ordering::Release);
                caller.unpark();
            }
        }
    }

    /// Returns once `ready()`: spins for [`spin_before_sleep`], then sleeps until woken. The
    /// thread that makes `ready()` true unparks this one afterwards, so no signal is lost (an
    /// `unpark` before the `park` makes the `park` return at once).
    fn wait_for(ready: impl Fn() -> bool) {
        let start = Instant::now();
        let spin_for = spin_before_sleep();
        let mut spins = 0u32;
        while !ready() {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            // The clock costs more than a spin: read it now and then.
            if spins.is_multiple_of(64) && start.elapsed() > spin_for {
                while !ready() {
                    thread::park();
                }
                return;
            }
        }
    }
}

/// `slice`, made of items of `width` numbers (a batch's samples, or channels with `width` 1), cut
/// between two items: the first half has the extra item of an odd count.
pub(crate) fn halves<T>(slice: &[T], width: usize) -> [&[T]; 2] {
    let (first, second) = slice.split_at(split_point(slice.len(), width));
    [first, second]
}

/// [`halves`] of a mutable slice.
pub(crate) fn halves_mut<T>(slice: &mut [T], width: usize) -> [&mut [T]; 2] {
    let (first, second) = slice.split_at_mut(split_point(slice.len(), width));
    [first, second]
}

fn split_point(length: usize, width: usize) -> usize {
    (length / width).div_ceil(2) * width
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::AssertUnwindSafe;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn halves_cut_between_items_with_the_extra_one_first() {
        let numbers: Vec<u32> = (0..15).collect();
        assert_eq!(halves(&numbers, 3), [&numbers[..9], &numbers[9..]]);
        assert_eq!(halves(&numbers[..12], 3), [&numbers[..6], &numbers[6..12]]);
        assert_eq!(halves(&numbers[..1], 1), [&numbers[..1], &numbers[1..1]]);
        let mut copy = numbers.clone();
        let [first, second] = halves_mut(&mut copy, 5);
        assert_eq!((first.len(), second.len()), (10, 5));
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn the_cpu_maker_is_read_as_linux_reads_it() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").expect("Linux's /proc");
        let vendor =
            cpuinfo.lines().find_map(|line| line.strip_prefix("vendor_id")).expect("a vendor_id line");
        let vendor = vendor.trim_start_matches(|c: char| c.is_whitespace() || c == ':');
        assert_eq!(helper::made_by_amd(), vendor == "AuthenticAMD", "vendor_id is {vendor:?}");
    }

    #[test]
    fn the_second_half_runs_on_the_helper_when_it_is_free() {
        if std::thread::available_parallelism().map_or(1, |cores| cores.get()) < 2 {
            return;
        }
        let here = std::thread::current().id();
        // Other tests of this binary may hold the helper for a while: ask until it is free.
        let on_helper = (0..10_000).any(|_| {
            let there = Mutex::new(here);
            join(|| {}, || *there.lock().unwrap() = std::thread::current().id());
            let there = there.into_inner().unwrap();
            if there == here {
                std::thread::sleep(std::time::Duration::from_micros(100));
            }
            there != here
        });
        assert!(on_helper, "the second half never ran on another thread");
    }

    #[test]
    fn a_panic_in_either_half_is_raised_once_neither_runs() {
        for panicking_half in [0, 1] {
            let finished = AtomicUsize::new(0);
            let half = |index: usize| {
                if index == panicking_half {
                    panic!("half {index}");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
                finished.fetch_add(1, Ordering::SeqCst);
            };
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| join(|| half(0), || half(1))));
            let message = result.expect_err("the panic reaches the caller");
            assert_eq!(message.downcast_ref::<String>(), Some(&format!("half {panicking_half}")));
            // The other half, if it started (on one thread it does not after a panic in the
            // first), finished before `join` returned: nothing of it still runs.
            let finished_at_return = finished.load(Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            assert_eq!(finished.load(Ordering::SeqCst), finished_at_return);
        }
        // The helper serves again after a panic.
        let count = AtomicUsize::new(0);
        join(|| _ = count.fetch_add(1, Ordering::SeqCst), || _ = count.fetch_add(1, Ordering::SeqCst));
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn joins_inside_joins_and_from_many_threads_all_run() {
        let count = AtomicUsize::new(0);
        let add = || _ = count.fetch_add(1, Ordering::Relaxed);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    for _ in 0..2_000 {
                        join(|| join(add, add), || join(add, add));
                    }
                });
            }
        });
        assert_eq!(count.load(Ordering::Relaxed), 4 * 2_000 * 4);
    }

    #[test]
    fn both_parts_are_worked_on_small_or_large() {
        for entries in [1, PARALLEL_MIN_ENTRIES] {
            let done = Mutex::new(Vec::new());
            on_both_cores(entries, [1, 2], |part| done.lock().unwrap().push(part));
            let mut done = done.into_inner().unwrap();
            done.sort();
            assert_eq!(done, [1, 2]);
        }
    }
}
