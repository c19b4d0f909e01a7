//! The tensor library this engine is built on (candle), re-exported for the trainer.
//!
//! `arena-model` is the only crate of the workspace that declares candle; the trainer
//! (`arena-train`) reaches candle's tensors, variables, dtypes, safetensors I/O and the few
//! differentiable operations it needs through this module instead, so a candle upgrade or a
//! change of backend features happens in one manifest.

pub use candle_core::safetensors;
pub use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Device, Error, InplaceOp2, Layout, Result,
    Shape, Tensor, Var, D,
};

/// The differentiable operations of candle-nn the trainer's forward pass uses (the slow,
/// gradient-recording variants of RMSNorm and rotary embeddings, softmax and log-softmax).
pub mod ops {
    pub use candle_nn::ops::{log_softmax, rms_norm_slow, softmax};
    pub use candle_nn::rotary_emb::rope_slow;
}
