//! Copying a block of an operand into panels, the order in which the micro-kernel reads it.
//!
//! A panel of height `h` holds `h` rows of the block: for each step of the depth, the `h`
//! entries of that column together. The block's last panel is filled up with zeros, so that the
//! micro-kernel always computes a whole tile (the rows it adds are never stored). `B` is packed
//! as `Bᵀ`: its panels are `NR` columns wide, each depth step's `NR` entries together.

use super::Operand;

/// Copies `block` (`rows × depth`) into `destination`, panel after panel of `height` rows.
///
/// # Safety
/// `block` describes live memory.
///
/// # Panics
/// If `destination` holds fewer than `rows.div_ceil(height)·height·depth` floats.
#[inline(always)]
pub(super) unsafe fn pack_panels(destination: &mut [f32], block: Operand<'_>, height: usize) {
    let depth = block.columns;
    let panels = destination[..block.rows.div_ceil(height) * height * depth].chunks_exact_mut(height * depth);
    for (index, panel) in panels.enumerate() {
        let first_row = index * height;
        let rows = height.min(block.rows - first_row);
        if block.row_stride == 1 {
            // Each depth step's entries are adjacent in the source: copy them as a run.
            for (p, step) in panel.chunks_exact_mut(height).enumerate() {
                // SAFETY: rows `first_row..first_row + rows` of column `p` are in the block.
                let source = unsafe { std::slice::from_raw_parts(block.at(first_row, p), rows) };
                if rows == height {
                    copy_step(step, source);
                } else {
                    step[..rows].copy_from_slice(source);
                    step[rows..].fill(0.0);
                }
            }
        } else {
            // The rows are apart in the source. Written one step at a time, so that the writes
            // go front to back through the panel: by rows, each write landed on its own cache
            // line and the pack took 7.6% of a resnet step (perf, Intel Xeon model 106); the
            // reads, a few rows side by side, stay in the L1 cache from one step to the next.
            for (p, step) in panel.chunks_exact_mut(height).enumerate() {
                for (i, entry) in step[..rows].iter_mut().enumerate() {
                    // SAFETY: row `first_row + i` and column `p < depth` are in the block.
                    *entry = unsafe { *block.at(first_row + i, p) };
                }
                step[rows..].fill(0.0);
            }
        }
    }
}

/// `destination.copy_from_slice(source)` for a whole panel step: as a copy of a length known
/// when compiling (every tile height is one of these), which compiles to a few vector moves. A
/// length known only at run time became a call to `memcpy` per step, 15% of a batch-64
/// inference (perf, Intel Xeon model 106).
#[inline(always)]
fn copy_step(destination: &mut [f32], source: &[f32]) {
    #[inline(always)]
    fn copy<const N: usize>(destination: &mut [f32], source: &[f32]) {
        let destination: &mut [f32; N] = destination.try_into().expect("a panel step of N floats");
        *destination = source.try_into().expect("a panel step of N floats");
    }
    match destination.len() {
        48 => copy::<48>(destination, source),
        24 => copy::<24>(destination, source),
        8 => copy::<8>(destination, source),
        _ => destination.copy_from_slice(source),
    }
}
