//! Element-wise and per-channel work on both cores.
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
/// (2·10⁵ to 8·10⁵ entries) gain. All on the Intel Xeon model 106, 2026-12-02. (An optimiser's
/// update, heavier per entry, splits from 2¹⁶: `optim::update_entries`.)
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

/// Runs `first` and `second` at once, one on each core, and returns when both are done.
///
/// Every layer shape's forward and backward hand their halves to this one function. It turns
/// them into trait objects before they reach `rayon::join`, so that rayon's machinery is compiled
/// once, not once per pair of closures: monomorphised for every layer of every network, it was
/// 30% of the LLVM IR of `mnist_mlp` (`cargo llvm-lines --release -p minitorch-examples
/// --example mnist_mlp`). The virtual call per half did not show in the timings: `latency`'s
/// medians and criterion's `train_step_resnet` were the same within noise either way, in
/// alternated runs (Intel Xeon model 106, 2026-12-02).
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

fn join_objects(first: &mut (dyn FnMut() + Send), second: &mut (dyn FnMut() + Send)) {
    rayon::join(first, second);
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
    use std::sync::Mutex;

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
