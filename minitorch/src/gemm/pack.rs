//! Copying a block of an operand into panels, the order in which the micro-kernel reads it.
//!
//! A panel of height `h` holds `h` rows of the block: for each step of the depth, the `h`
//! entries of that column together. The block's last panel is filled up with zeros, so that the
//! micro-kernel always computes a whole tile (the rows it adds are never stored). `B` is packed
//! as `Bᵀ`: its panels are `NR` columns wide, each depth step's `NR` entries together.

use super::Operand;

/// Copies `block` (`rows × depth`) into `destination`, panel after panel of `height` rows, where
/// `height` is an instruction set's tile height `MR` or width `NR`.
///
/// Each height gets its own copy of the loop, whose whole steps are copies of a length known
/// when compiling, so they compile to a few vector moves. With one loop for every height the
/// steps' lengths were known only at run time, and each step became a call to `memcpy`: 15% of
/// a batch-64 inference (perf, Intel Xeon model 106) and 17% of a one-core 2048³ product (perf,
/// AMD EPYC family 25 model 1, `RAYON_NUM_THREADS=1 cargo run --release --example latency`),
/// where the compiler had merged the steps of a `match` on the length back into one call.
///
/// # Safety
/// `block` describes live memory.
///
/// # Panics
/// If `height` is neither `MR` nor `NR`, or `destination` holds fewer than
/// `rows.div_ceil(height)·height·depth` floats.
#[inline(always)]
pub(super) unsafe fn pack_panels<const MR: usize, const NR: usize>(
    destination: &mut [f32],
    block: Operand<'_>,
    height: usize,
) {
    assert!(height == MR || height == NR, "a panel is a tile high or a tile wide");
    // SAFETY (both): as the caller promised.
    if height == MR {
        unsafe { pack_panels_of_height::<MR>(destination, block) }
    } else {
        unsafe { pack_panels_of_height::<NR>(destination, block) }
    }
}

/// [`pack_panels`] with `HEIGHT` rows to a panel.
///
/// # Safety
/// As [`pack_panels`].
#[inline(always)]
unsafe fn pack_panels_of_height<const HEIGHT: usize>(destination: &mut [f32], block: Operand<'_>) {
    let depth = block.columns;
    let panels = destination[..block.rows.div_ceil(HEIGHT) * HEIGHT * depth].chunks_exact_mut(HEIGHT * depth);
    for (index, panel) in panels.enumerate() {
        let first_row = index * HEIGHT;
        let rows = HEIGHT.min(block.rows - first_row);
        if block.row_stride == 1 {
            // Each depth step's entries are adjacent in the source: copy them as a run.
            for (p, step) in panel.chunks_exact_mut(HEIGHT).enumerate() {
                // SAFETY: rows `first_row..first_row + rows` of column `p` are in the block.
                let source = unsafe { std::slice::from_raw_parts(block.at(first_row, p), rows) };
                if let (Ok(step), Ok(source)) =
                    (<&mut [f32; HEIGHT]>::try_from(&mut *step), <&[f32; HEIGHT]>::try_from(source))
                {
                    *step = *source;
                } else {
                    // The last panel, entry by entry: a copy and a fill of run-time lengths were
                    // two calls (`memcpy`, `memset`) per step, 1.2% of an MNIST cnn epoch, whose
                    // 32 and 64 channels end inside the AVX2 tile's 6 (perf, AMD EPYC family 25
                    // model 1).
                    for (i, entry) in step.iter_mut().enumerate() {
                        *entry = source.get(i).copied().unwrap_or(0.0);
                    }
                }
            }
        } else {
            // The rows are apart in the source. Written one step at a time, so that the writes
            // go front to back through the panel: by rows, each write landed on its own cache
            // line and the pack took 7.6% of a resnet step (perf, Intel Xeon model 106); the
            // reads, a few rows side by side, stay in the L1 cache from one step to the next.
            for (p, step) in panel.chunks_exact_mut(HEIGHT).enumerate() {
                for (i, entry) in step.iter_mut().enumerate() {
                    // SAFETY: row `first_row + i` and column `p < depth` are in the block.
                    *entry = if i < rows { unsafe { *block.at(first_row + i, p) } } else { 0.0 };
                }
            }
        }
    }
}
