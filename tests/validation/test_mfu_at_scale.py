"""Published MFU at scale (issue 13 item 9): Nemotron-4 340B on up to 6,144 H100 (NVIDIA, arXiv 2406.11704,
Table 2) and PaLM 540B on 6,144 TPU v4 (Chowdhery et al., arXiv 2204.02311, Table 3), each a job file in
examples/jobs/ timed by the job physics and scored in `sim validate` with an absolute tolerance on MFU
(sim.studies.validate.MFU_TOLERANCE)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sim.config.job import load_job
from sim.studies.job import run_job
from sim.studies.validate import CASES, JOBS_DIR, MFU_TOLERANCE, ValidationCase, run_validation

MFU_CASES = {"nemotron4-340b-mfu": 0.410, "nemotron4-340b-mfu-1536": 0.424, "nemotron4-340b-mfu-3072": 0.423,
             "palm-540b-mfu": 0.462}
NEMOTRON = JOBS_DIR / "nemotron4_340b.yaml"
PALM = JOBS_DIR / "palm_540b.yaml"


@pytest.fixture(scope="module")
def rows():
    cases = [c for c in CASES if c.id in MFU_CASES]
    return run_validation(cases).set_index("case")


def test_the_rows_hold_the_published_figures_with_an_absolute_tolerance(rows):
    assert set(rows.index) == set(MFU_CASES)
    for case_id, published in MFU_CASES.items():
        row = rows.loc[case_id]
        assert row["expected"] == published and row["unit"] == "MFU"
        assert row["tolerance"] == f"±{MFU_TOLERANCE:g}"
    assert 0.04 <= MFU_TOLERANCE <= 0.08  # Llama 3's own 38-43% spread plus FLOP-accounting differences


@pytest.mark.parametrize("case_id", sorted(MFU_CASES))
def test_each_row_passes(rows, case_id):
    row = rows.loc[case_id]
    assert row["status"] == "PASS", (f"{case_id}: simulated MFU {row['simulated']:.3f}, published "
                                     f"{row['expected']:.3f} ± {MFU_TOLERANCE}")
    assert 0.0 < row["simulated"] < 1.0


def test_sim_validate_lists_the_rows():
    proc = subprocess.run([sys.executable, "-m", "sim", "validate"], capture_output=True, text=True, timeout=300)
    for case_id in MFU_CASES:
        assert re.search(rf"^{re.escape(case_id)}\s.*\bPASS$", proc.stdout, re.M), case_id


def test_the_rows_are_the_job_physics():
    """A row's MFU is what `sim job` reports for the example file: nothing copied, nothing refitted."""
    by_id = {c.id: c for c in CASES}
    assert by_id["nemotron4-340b-mfu"].compute() == run_job(load_job(NEMOTRON), NEMOTRON)["mfu"]
    assert by_id["palm-540b-mfu"].compute() == run_job(load_job(PALM), PALM)["mfu"]
    ramp = load_job(NEMOTRON, ["gpus=1536", f"batch_tokens={768 * 4096}"])
    assert by_id["nemotron4-340b-mfu-1536"].compute() == run_job(ramp, NEMOTRON)["mfu"]


def test_the_job_files_carry_the_papers_inputs():
    nemotron = load_job(NEMOTRON)
    assert nemotron.gpus == 6144 and nemotron.gpu_type == "H100-SXM5"  # 768 DGX H100 nodes (§2.3)
    assert (nemotron.plan.tp, nemotron.plan.pp) == (8, 12)  # Table 2
    assert nemotron.batch_tokens == 2304 * 4096 and nemotron.sequence_tokens == 4096  # Table 2, Table 1
    assert nemotron.training.kernel_efficiency == 0.5  # the shipped calibration, not refitted
    palm = load_job(PALM)
    assert palm.gpus == 6144 and palm.gpu_types["TPU-v4"].bf16_dense_flop_s == 2.75e14  # §4; Cloud TPU v4
    assert (palm.plan.tp, palm.plan.pp) == (12, 1)  # §4: 12-way model parallelism, no pipeline
    assert palm.batch_tokens == 2048 * 2048 and palm.sequence_tokens == 2048  # §5
    assert palm.fabric["pod_gpus"] == 3072  # two pods
    assert palm.training.kernel_efficiency == 0.5


def test_the_published_plans_run_as_published():
    nemotron = run_job(load_job(NEMOTRON), NEMOTRON)
    assert (nemotron["plan"]["tp"], nemotron["plan"]["pp"]) == (8, 12) and nemotron["gpus_used"] == 6144
    assert nemotron["memory_per_gpu_bytes"] <= 0.75 * nemotron["hbm_bytes"]
    palm = run_job(load_job(PALM), PALM)
    assert (palm["plan"]["tp"], palm["plan"]["pp"], palm["plan"]["dp"]) == (12, 1, 512)
    assert palm["breakdown"]["bubble_s"] == 0.0  # no pipeline, no bubble
    assert palm["hbm_bytes"] is None  # fully sharded weights: the ZeRO-1 memory check does not apply


def test_absolute_tolerance():
    case = ValidationCase("a", "s", "d", 0.40, "MFU", 0.06, "abs", lambda: 0.45)
    assert case.passes(0.459) and case.passes(0.341) and not case.passes(0.461) and not case.passes(0.339)
    assert case.tolerance_label() == "±0.06"
    row = run_validation([case]).iloc[0]
    assert row["status"] == "PASS" and row["rel_error"] == pytest.approx(0.125)
