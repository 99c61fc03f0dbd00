from __future__ import annotations

from nesbench.pipeline.executors import load_slurm_profile, visible_gpus, worker_slots


def test_slots_follow_cuda_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert visible_gpus() == ["3", "5"]
    assert worker_slots(None) == ["3", "5"]
    assert worker_slots(1) == ["3"]


def test_cpu_slots_when_no_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert worker_slots(None) == [None]
    assert worker_slots(3) == [None, None, None]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpus() == []


def test_default_slurm_profile():
    prof = load_slurm_profile()
    assert prof["gpus_per_node"] == 1 and prof["timeout_min"] >= 60 and prof["max_num_timeout"] >= 1
