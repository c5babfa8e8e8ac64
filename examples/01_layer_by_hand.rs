//! Step 1 of the learning path: one layer's forward and backward pass, by hand.
//!
//! A `Linear<3, 2>` computes `Y = W·X + b`. Its backward pass, given `G = ∂L/∂Y`, returns
//! `∂L/∂X = Wᵀ·G` and accumulates `∂L/∂W = G·Xᵀ` and `∂L/∂b = Σ G`. This example does the same
//! arithmetic with plain loops and compares, then checks one derivative the way the workshop did:
//! nudge a weight, see how the loss moves.
//!
//! Run: `cargo run --example 01_layer_by_hand`. Next: `02_net_macro`.

use minitorch::prelude::*;
use minitorch::rand::{SeedableRng, rngs::StdRng};

fn main() {
    let mut layer = Linear::<3, 2>::new(&mut StdRng::seed_from_u64(0));
    // Two samples, one per column: (1, 2, 3) and (−1, 0, 0.5).
    let x = Batch::<3>::from_column_slice(&[1.0, 2.0, 3.0, -1.0, 0.0, 0.5]);

    // Forward: y[o][s] = Σ_i W[o][i]·x[i][s] + b[o]. The caller owns the output (a network keeps
    // one per layer), and the layer sizes it to the batch.
    let mut y = Batch::<2>::zeros(0);
    layer.forward(&x, &mut y, Mode::Train);
    for sample in 0..2 {
        for out in 0..2 {
            let by_hand: f32 =
                (0..3).map(|i| layer.weight[(out, i)] * x[(i, sample)]).sum::<f32>() + layer.bias[out];
            println!("y[{out}] of sample {sample}: layer {:+.5}, by hand {by_hand:+.5}", y[(out, sample)]);
        }
    }

    // Take the loss L = Σ y (so ∂L/∂Y is all ones) and run backward.
    let ones = Batch::<2>::from_element(2, 1.0);
    layer.zero_grad();
    let mut grad_input = Batch::<3>::zeros(0);
    layer.backward(&x, &y, &ones, &mut grad_input);
    // ∂L/∂W[o][i] = Σ_s G[o][s]·x[i][s] = x[i][0] + x[i][1];   ∂L/∂x[i][s] = Σ_o W[o][i].
    println!(
        "∂L/∂W[0][2]: layer {:+.5}, by hand {:+.5}",
        layer.weight.gradient[(0, 2)],
        x[(2, 0)] + x[(2, 1)]
    );
    let by_hand = layer.weight[(0, 1)] + layer.weight[(1, 1)];
    println!("∂L/∂x[1] of sample 0: layer {:+.5}, by hand {by_hand:+.5}", grad_input[(1, 0)]);

    // The workshop's check: a central difference (L(w + ε) − L(w − ε)) / 2ε.
    let epsilon = 1e-3;
    let loss_with = |delta: f32| {
        let mut nudged = layer.clone();
        nudged.weight[(0, 2)] += delta;
        let mut y = Batch::<2>::zeros(0);
        nudged.forward(&x, &mut y, Mode::Train);
        y.sum()
    };
    let numeric = (loss_with(epsilon) - loss_with(-epsilon)) / (2.0 * epsilon);
    println!("∂L/∂W[0][2] by finite differences: {numeric:+.5}");
}
