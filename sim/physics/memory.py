"""What a GPU must hold of a model: its share of weights, gradients and optimizer state under a
parallel plan, and how a mixture-of-experts model splits into shared and expert parameters.

Pure functions of numbers (sources: Rajbhandari et al. 2020, ZeRO; Shazeer et al. 2017 and Fedus et al.
2021 for experts; docs/sources.md). sim.physics.step_time keeps only the plans that fit.
"""
from __future__ import annotations


HBM_SHARE_FOR_MODEL_STATE = 0.75  # the rest of HBM is left to activations and buffers (assumption)


def moe_split(params: float, active_params: float | None, experts: int = 1, top_k: int = 2) -> tuple[float, float]:
    """(dense parameters, all experts' parameters) of a model: a dense model is all dense.

    A mixture-of-experts model of N parameters, A active per token, E experts of which top_k route each
    token (Shazeer et al. 2017, arXiv 1701.06538; Fedus et al. 2021, arXiv 2101.03961): each expert
    holds e = (N - A) / (E - k), the shared part A - k e. Mixtral 8x7B (46.7B, 12.9B active, 8
    experts, top 2): e = 5.6B, shared 1.6B (Jiang et al. 2024, arXiv 2401.04088).
    """
    if active_params is None or experts <= 1 or active_params >= params:
        return params, 0.0
    if top_k >= experts:
        raise ValueError(f"top_k ({top_k}) must be fewer than the experts ({experts})")
    per_expert = (params - active_params) / (experts - top_k)
    shared = active_params - top_k * per_expert
    if shared < 0:
        raise ValueError(f"{active_params:.3g} active parameters cannot hold {top_k} experts of {per_expert:.3g}")
    return shared, per_expert * experts


def model_state_bytes(params: float, tp: int, pp: int, dp: int, cp: int = 1, ep: int = 1,
                      expert_params: float = 0.0) -> float:
    """Model state per GPU: bf16 weights and gradients (4 bytes per parameter) of the GPU's shard, plus
    fp32 master weights and Adam moments (12 bytes per parameter) sharded over the data- and
    context-parallel ranks too (ZeRO-1, Rajbhandari et al., "ZeRO: Memory Optimizations Toward
    Training Trillion Parameter Models", SC 2020; Megatron's distributed optimizer shards over DP x CP).
    The GPU's shard is 1/(tp pp) of the shared parameters and 1/(tp pp ep) of the experts' (expert
    parallelism places E/ep experts on each rank)."""
    shard = (params - expert_params + expert_params / ep) / (tp * pp)
    return shard * 4.0 + params / (tp * pp * dp * cp) * 12.0


def fits_memory(params: float, tp: int, pp: int, dp: int, hbm_bytes: float, cp: int = 1, ep: int = 1,
                 expert_params: float = 0.0) -> bool:
    """Model state fits in HBM_SHARE_FOR_MODEL_STATE of HBM."""
    return model_state_bytes(params, tp, pp, dp, cp, ep, expert_params) <= HBM_SHARE_FOR_MODEL_STATE * hbm_bytes
