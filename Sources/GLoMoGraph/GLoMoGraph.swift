// The GLoMoGraph target: latent relational graphs (Yang et al. 2018, "GLoMo", arXiv 1806.05662).
//
// - `GraphPredictor`: causal key/query convolution stacks over input embeddings, then per graph
//   layer and head a thresholded ReLU² affinity restricted to strictly earlier positions and
//   normalised per row. Output `[L, K, B, T, T]`.
// - `FeaturePredictor`: per layer, mixes the previous layer's features through each head's graph,
//   combines the heads and updates the features with a GRU cell.
// - `GraphKernels`: the per-block affinity → graph kernel (threshold, mask, ReLU², normalisation).
//
// See docs/glomo.md for the math, shapes and parameter names.
import NN
