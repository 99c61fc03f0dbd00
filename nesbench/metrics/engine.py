"""The scoring engine: decode frames in a thread pool (one batch ahead, two on a GPU; predictions in worker processes
on GPU hosts), score batches with every scorer on the chosen device, and account for every expected frame (scored, or
failed with a reason)."""

from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nesbench.errors import AssetError, NesbenchError
from nesbench.metrics.cuda_graphs import GraphedScoring
from nesbench.metrics.decode_procs import DecodedBatch, ProcessDecoder
from nesbench.metrics.frames import GtSequence, RawGt, gt_keypoints, load_gt_sequence, read_gt_frame
from nesbench.metrics.gt_cache import CachedSequence, GtCache
from nesbench.metrics.images import FrameError, read_rgb
from nesbench.metrics.keypoints import KeypointDetector, NoFaceDetected, load_detector
from nesbench.metrics.keypoints_dlib import DlibKeypointDetector, load_dlib_detector
from nesbench.metrics.lpips_alex import LpipsAlex
from nesbench.metrics.precision import full_float32
from nesbench.metrics.psnr import cap_psnr
from nesbench.metrics.scorers import Scorer
from nesbench.metrics.timing import StageTimer

IN_BATCH: dict = {}  # a frame's GT inputs, when they come from the batch read of the GT cache


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask: a container's limit, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' -> the first CUDA device when there is one, else the CPU."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise NesbenchError(f"--device {device!r}: not a device; use cpu, cuda, cuda:N or auto") from None
    if dev.type not in ("cpu", "cuda"):
        raise NesbenchError(f"--device {device}: scoring runs on cpu or cuda; use cpu, cuda, cuda:N or auto")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise NesbenchError(f"--device {device}: no CUDA device is visible here; use --device cpu or auto")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise NesbenchError(
            f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) are visible (cuda:0..); "
            "use another index or auto"
        )
    return dev


def describe_device(dev: torch.device) -> str:
    if dev.type == "cuda":
        return f"{dev} ({torch.cuda.get_device_name(dev)})"
    return f"cpu ({torch.get_num_threads()} threads)"


@dataclass
class SequenceResult:
    """Per-frame values and failures of one (method, scorer) on one sequence."""

    expected: list[int]
    frames: dict[int, dict[str, float | None]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    metric_failures: dict[int, dict[str, str]] = field(default_factory=dict)
    # frames a scorer's rule leaves out of every metric (renderme-imavatar: FAN found no face), with the reason
    dropped: dict[int, str] = field(default_factory=dict)


class _Dropped(Exception):
    """The frame is dropped from every metric by the scorer's rule (the reason is the message)."""


@dataclass
class _Job:
    """One scorer x one method on one batch: the frames to score, the failures, the stacked CPU tensors."""

    scorer: Scorer
    method: str
    ok: list[dict]
    failed: list[tuple[int, str]]
    key: tuple[int, ...]
    gt: dict[str, torch.Tensor]
    pred: dict[str, torch.Tensor]


@dataclass
class PredSource:
    """A method's predictions for one sequence: frame number -> PNG, or the reason there are none."""

    files: dict[int, Path]
    error: str | None = None
    misnamed: dict[int, str] = field(
        default_factory=dict
    )  # frame -> a file that looks like it, wrongly named

    def missing_reason(self, k: int) -> str:
        """Why expected frame k has no prediction: missing, or present under a name the scorers do not read."""
        if k in self.misnamed:
            return (
                f"missing prediction {k}.png (found {self.misnamed[k]}: name predictions <k>.png, k unpadded)"
            )
        return f"missing prediction {k}.png"


class Engine:
    """Scores sequences with a fixed set of scorers, one LPIPS network and one keypoint detector."""

    def __init__(
        self,
        scorers: Sequence[Scorer],
        *,
        device: str = "auto",
        lpips_backbone: str | os.PathLike[str] | None = None,
        lpips_linear: str | os.PathLike[str] | None = None,
        missing_lpips: str = "error",
        batch_size: int | None = None,
        workers: int | None = None,
        prefetch: int | None = None,
        profile: bool = False,
        gt_cache: GtCache | None = None,
        cuda_graphs: bool = True,
        decode_processes: int | None = None,
        fan_weights: str | os.PathLike[str] | None = None,
    ):
        """``gt_cache``: keep decoded GT frames between runs (:mod:`nesbench.metrics.gt_cache`); ``cuda_graphs``:
        score full batches on CUDA by replaying captured graphs (:mod:`nesbench.metrics.cuda_graphs`);
        ``decode_processes``: decode predictions in that many worker processes instead of the decode threads
        (:mod:`nesbench.metrics.decode_procs`; only when every scorer evaluates at the same resolution); None:
        one per decode thread for sequences whose GT comes from the GT cache, on a GPU with at least 8 cores
        (faster there; with GT PNGs to decode as well, threads were as fast: docs/PERFORMANCE.md), else 0.
        ``fan_weights``: folder with face-alignment's weight files (:func:`nesbench.metrics.keypoints.fan_weights_dir`).
        """
        self.scorers = list(scorers)
        self.want_semantic = any(s.needs_semantic for s in self.scorers)
        sizes = {s.resolution for s in self.scorers}
        # the resolution every scorer evaluates at (None when they differ): frames of that size go to batch buffers
        self.resolution: int | None = sizes.pop() if len(sizes) == 1 else None
        self.gt_cache = gt_cache
        self.device = resolve_device(device)
        full_float32(self.device)  # SSIM and LPIPS convolutions without TF32 on CUDA
        self.batch_size = batch_size or (32 if self.device.type == "cuda" else 8)
        self.workers = workers or max(2, min(32, usable_cores()))
        # batches decoded ahead of scoring: a GPU scores faster than the threads decode, so keep them all busy
        self.prefetch = prefetch or (2 if self.device.type == "cuda" else 1)
        self.timer = StageTimer(self.device, enabled=profile)
        # None: processes only where measured faster (see the docstring)
        self.processes_with_gt_cache_only = decode_processes is None
        if decode_processes is None:
            decode_processes = self.workers if self.device.type == "cuda" and usable_cores() >= 8 else 0
        if decode_processes < 0:
            raise NesbenchError(f"--decode-processes {decode_processes}: give 0 (decode in threads) or more")
        self.decoder: ProcessDecoder | None = None
        if decode_processes and self.resolution is not None:
            self.decoder = ProcessDecoder(decode_processes, pin=self.device.type == "cuda")
        self.unavailable: dict[str, dict[str, str]] = {s.name: {} for s in self.scorers}
        self.lpips: LpipsAlex | None = None
        if any("lpips" in s.metrics for s in self.scorers):
            try:
                self.lpips = LpipsAlex(lpips_backbone, self.device, lpips_linear)
            except AssetError as exc:
                if missing_lpips == "error":
                    raise
                for s in self.scorers:
                    if "lpips" in s.metrics:
                        self.unavailable[s.name]["lpips"] = f"unavailable: {exc}"
        # full batches on CUDA: replay a captured graph of each scorer (nesbench.metrics.cuda_graphs)
        self.graphs = GraphedScoring(self.device, self.batch_size, enabled=cuda_graphs)
        self.detector: KeypointDetector | None = None
        # scorer -> whether its face drop rule is applied ('applied' or 'not applied: <why>'); only scorers with one
        self.face_drop_rule: dict[str, str] = {}
        if any(s.needs_keypoints for s in self.scorers):
            self.detector, reason = load_detector(str(self.device), fan_weights)
            if reason:
                for s in self.scorers:
                    if s.needs_keypoints:
                        self.unavailable[s.name]["keypoint"] = reason
            for s in self.scorers:
                if s.drops_frames_without_face:
                    self.face_drop_rule[s.name] = (
                        "applied"
                        if self.detector is not None
                        else "not applied: frames on which FAN finds no face are kept (the benchmark drops them "
                        f"from every metric); keypoints {reason}"
                    )

        # the offline dlib 68-point error: its own metric, never mixed with FAN's (nesbench.metrics.keypoints_dlib)
        self.dlib: DlibKeypointDetector | None = None
        if any("keypoint_dlib" in s.metrics for s in self.scorers):
            self.dlib, reason = load_dlib_detector()
            if reason:
                for s in self.scorers:
                    if "keypoint_dlib" in s.metrics:
                        self.unavailable[s.name]["keypoint_dlib"] = reason

    def lpips_provenance(self) -> dict[str, Any] | None:
        """Which LPIPS backbone file was used and where its weights came from (None without LPIPS)."""
        if self.lpips is None:
            return None
        info = self.lpips.info
        return {"path": str(info.backbone), "sha256": info.backbone_sha256, **(info.source or {})}

    def score(
        self, gt_dir: Path, preds: dict[str, PredSource], progress: Callable[[int], None] | None = None
    ) -> dict[tuple[str, str], SequenceResult]:
        """Score every method's predictions of one GT sequence; result keyed by (method, scorer name)."""
        seq = load_gt_sequence(gt_dir)
        expected = seq.expected
        results = {(m, s.name): SequenceResult(expected) for m in preds for s in self.scorers}
        for method, src in preds.items():
            for k in expected:
                reason = src.error or (None if k in src.files else src.missing_reason(k))
                if reason:
                    for s in self.scorers:
                        results[method, s.name].failed[k] = reason
        live = {m: src for m, src in preds.items() if not src.error}
        batches = [expected[i : i + self.batch_size] for i in range(0, len(expected), self.batch_size)]
        with ThreadPoolExecutor(self.workers) as pool, ThreadPoolExecutor(self.prefetch) as ahead:
            cached = None
            if self.gt_cache is not None and live:
                cached = self.gt_cache.load(seq, self.want_semantic, pool.map)
                self.gt_cache.flush_notes()
            in_batches = cached is not None and self._reads_gt_in_batches(cached)
            decoder = self.decoder if self.decode_processes_for(in_batches) else None
            if decoder is not None and live:
                # batch buffers in flight: those decoded ahead, the one scored, the one whose values are collected
                try:
                    decoder.reserve(self.prefetch + 2, self.batch_size * len(live), self.resolution)
                except OSError as exc:
                    decoder = self._decode_in_threads(exc)

            def load(i: int) -> tuple[list[dict], list[_Job]]:
                ks = batches[i]
                gt_reads = self._read_gt_batch(cached, ks, pool) if in_batches else None
                slots = self._pred_slots(len(ks), live, i, decoder)
                hosts = {m: t.numpy() for m, t in slots.items()}
                remote = None
                if decoder is not None and hosts:
                    remote = decoder.submit(hosts, {m: [live[m].files.get(k) for k in ks] for m in live})

                def frame(j: int) -> dict:
                    rows = {m: h[j] for m, h in hosts.items()}
                    return self._load_frame(seq, ks[j], live, cached, in_batches, rows, remote, j)

                bundles = list(pool.map(frame, range(len(ks))))
                gt_batch = {n: r() for n, r in gt_reads.items()} if gt_reads else None
                return bundles, self._collate(bundles, live, gt_batch, slots)

            pending = deque(ahead.submit(load, i) for i in range(min(self.prefetch, len(batches))))
            collect_previous: Callable[[], None] | None = None
            previous_size = 0
            for i in range(len(batches)):
                with self.timer("wait"):
                    bundles, jobs = pending.popleft().result()
                if i + self.prefetch < len(batches):
                    pending.append(ahead.submit(load, i + self.prefetch))
                with self.timer("score"):
                    collect = self._score_batch(jobs, results)
                    if collect_previous is not None:
                        collect_previous()
                if progress and collect_previous is not None:
                    progress(previous_size)
                collect_previous, previous_size = collect, len(bundles)
            if collect_previous is not None:
                collect_previous()
                if progress:
                    progress(previous_size)
        return results

    def decode_processes_for(self, gt_in_batches: bool) -> int:
        """Worker processes that decode a sequence's predictions (0: the decode threads); ``gt_in_batches``: its GT
        is read from the GT cache in batches."""
        if self.decoder is None or (self.processes_with_gt_cache_only and not gt_in_batches):
            return 0
        return self.decoder.processes

    def _decode_in_threads(self, exc: OSError) -> None:
        """The worker processes' shared memory cannot be had: an error when they were asked for, else a note and
        the decode threads from now on."""
        assert self.decoder is not None
        fix = "give the container more (docker run --shm-size=...)"
        if not self.processes_with_gt_cache_only:
            raise NesbenchError(
                f"--decode-processes {self.decoder.processes}: {exc}; {fix} or pass --decode-processes 0"
            ) from None
        print(f"note: decoding predictions in threads: {exc}; {fix}", file=sys.stderr)
        self.decoder.close()
        self.decoder = None

    def close(self) -> None:
        """Stop the decode worker processes and free their shared memory (when used)."""
        if self.decoder is not None:
            self.decoder.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _reads_gt_in_batches(self, cached: CachedSequence) -> bool:
        """Whether the GT of whole batches can be read from the cache into the batch buffers: the stored frames
        are square at every scorer's resolution, so no scorer resizes (its inputs are :meth:`Scorer.select_gt` of
        the stored arrays) and no frame can fail (a cached sequence has none that fail to decode)."""
        h, w = cached.image.shape[1:3]
        return h == w == self.resolution

    def _read_gt_batch(
        self, cached: CachedSequence, ks: list[int], pool: ThreadPoolExecutor
    ) -> dict[str, Callable[[], torch.Tensor]]:
        """Start reading the cached GT of frames ``ks`` straight into (pinned) batch tensors, frame by frame in
        the decode threads; per component, the call that waits for its tensor (B x H x W x C)."""
        out = {}
        for name, frames in cached.components.items():
            batch = self._host_batch(
                (len(ks), *frames.shape[1:]), torch.from_numpy(np.empty(0, frames.dtype)).dtype
            )
            host = batch.numpy()
            reads = [pool.submit(frames.read_into, cached.rows[k], host[j]) for j, k in enumerate(ks)]

            def wait(batch: torch.Tensor = batch, reads: list = reads) -> torch.Tensor:
                for r in reads:
                    r.result()  # re-raises a failed read
                return batch

            out[name] = wait
        return out

    def _pred_slots(
        self, n: int, preds: dict[str, PredSource], batch: int, decoder: ProcessDecoder | None
    ) -> dict[str, torch.Tensor]:
        """Per method, a (pinned) n x res x res x 3 uint8 batch buffer that the decode threads (or processes:
        the ``decoder``'s ring buffer of batch number ``batch``) write predictions into, when every scorer evaluates
        at the same resolution res (frames of another size are decoded into arrays of their own and stacked)."""
        if self.resolution is None:
            return {}
        if decoder is not None:
            ring = torch.from_numpy(decoder.buffer(batch))
            b = self.batch_size
            return {m: ring[i * b : i * b + n] for i, m in enumerate(preds)}
        res = self.resolution
        return {m: self._host_batch((n, res, res, 3), torch.uint8) for m in preds}

    def _host_batch(self, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """An uninitialised host tensor for a batch: pinned when the device is a GPU, so that the host-to-device
        copy is asynchronous."""
        return torch.empty(shape, dtype=dtype, pin_memory=self.device.type == "cuda")

    def _load_frame(
        self,
        seq: GtSequence,
        k: int,
        preds: dict[str, PredSource],
        cached: CachedSequence | None = None,
        gt_in_batch: bool = False,
        pred_rows: dict[str, np.ndarray] | None = None,
        decoded: DecodedBatch | None = None,
        j: int = 0,
    ) -> dict:
        """Decode GT frame k (or take it from the GT cache, or leave it to the batch read when ``gt_in_batch``)
        and each method's frame k once (into its row of ``pred_rows`` when given and of that size; or take it,
        frame j of the batch, from the worker processes' ``decoded``); prepare them for every scorer."""
        t0 = time.perf_counter()
        bundle: dict = {"k": k, "gt": {}, "pred": {m: {} for m in preds}, "rgb": {}, "kps": None, "slot": {}}
        raw: RawGt | None = None
        if gt_in_batch:
            bundle["kps"] = gt_keypoints(seq, k)
            bundle["gt"] = {s.name: IN_BATCH for s in self.scorers}
        else:
            try:
                raw = cached.raw(seq, k) if cached is not None else read_gt_frame(seq, k, self.want_semantic)
                bundle["kps"] = raw.keypoints
            except FrameError as exc:
                gt_error = f"ground truth: {exc}"
            for s in self.scorers:
                try:
                    bundle["gt"][s.name] = s.prepare_gt(raw) if raw is not None else gt_error
                except FrameError as exc:
                    bundle["gt"][s.name] = f"ground truth: {exc}"
        for m, src in preds.items():
            path = src.files.get(k)
            if path is None:
                continue
            row = pred_rows.get(m) if pred_rows else None
            try:
                rgb = decoded.rgb(m, j, row) if decoded is not None else read_rgb(path, row)
                if rgb is row:
                    bundle["slot"][m] = row
            except FrameError as exc:
                for s in self.scorers:
                    bundle["pred"][m][s.name] = str(exc)
                continue
            bundle["rgb"][m] = rgb if self.detector is not None or self.dlib is not None else None
            for s in self.scorers:
                try:
                    bundle["pred"][m][s.name] = s.prepare_pred(rgb, path)
                except FrameError as exc:
                    bundle["pred"][m][s.name] = str(exc)
        if self.timer.enabled:
            self.timer.add("decode", time.perf_counter() - t0)
        return bundle

    def _stack(self, arrays: list[np.ndarray]) -> torch.Tensor:
        """HxWxC frames -> one B x C x H x W tensor in channels_last layout: a single copy, no transposition
        (pinned when the device is a GPU, so the host-to-device copy is asynchronous)."""
        # uint8 (0..255) unless a frame was resized (float32 on the same 0..255 scale): np.stack casts exactly
        dtype = torch.uint8 if all(a.dtype == np.uint8 for a in arrays) else torch.float32
        shape = (len(arrays), *arrays[0].shape)
        out = self._host_batch(shape, dtype)
        np.stack(arrays, out=out.numpy())
        return out.permute(0, 3, 1, 2)

    def _collate(
        self,
        bundles: list[dict],
        preds: dict[str, PredSource],
        gt_batch: dict[str, torch.Tensor] | None = None,
        pred_slots: dict[str, torch.Tensor] | None = None,
    ) -> list[_Job]:
        """Per (scorer, method): the frames that can be scored and their stacked tensors (GT stacked once and
        shared by the methods with the same frames; taken from ``gt_batch``, the batch's cached GT components,
        when given; predictions that were decoded into ``pred_slots`` are taken from there). Runs in the
        read-ahead thread."""
        row_of = {b["k"]: j for j, b in enumerate(bundles)}

        def rows(t: torch.Tensor, key: tuple[int, ...]) -> torch.Tensor:
            """The batch rows of frames ``key`` (B x H x W x C -> B' x C x H x W, channels_last)."""
            t = t if len(key) == len(bundles) else t[torch.tensor([row_of[k] for k in key])]
            return t.permute(0, 3, 1, 2)

        jobs = []
        for s in self.scorers:
            if gt_batch is not None:
                inputs = s.select_gt(gt_batch["image"], gt_batch["mask"], gt_batch.get("semantic"))
            gt_stacks: dict[tuple[int, ...], dict[str, torch.Tensor]] = {}
            for m in preds:
                ok, failed = [], []
                for b in bundles:
                    k, g, p = b["k"], b["gt"][s.name], b["pred"][m].get(s.name)
                    if p is None:
                        continue  # already recorded as missing
                    if isinstance(g, str) or isinstance(p, str):
                        failed.append((k, g if isinstance(g, str) else p))
                    else:
                        ok.append(b)
                key = tuple(b["k"] for b in ok)
                if ok and key not in gt_stacks and gt_batch is not None:
                    gt_stacks[key] = {n: rows(t, key) for n, t in inputs.items()}
                elif ok and key not in gt_stacks:
                    gt_stacks[key] = {
                        n: self._stack([b["gt"][s.name][n] for b in ok]) for n in ok[0]["gt"][s.name]
                    }
                pr = {}
                for n in ok[0]["pred"][m][s.name] if ok else ():
                    arrays = [b["pred"][m][s.name][n] for b in ok]
                    in_slot = all(a is b["slot"].get(m) for a, b in zip(arrays, ok, strict=True))
                    pr[n] = rows(pred_slots[m], key) if in_slot else self._stack(arrays)
                jobs.append(_Job(s, m, ok, failed, key, gt_stacks.get(key, {}), pr))
        return jobs

    def _to_device(self, t: torch.Tensor, copies: dict[tuple, torch.Tensor] | None = None) -> torch.Tensor:
        """``t`` on the scoring device; with ``copies``, a view of the same host memory is copied only once."""
        if copies is None:
            return t.to(self.device, non_blocking=True)
        key = (t.data_ptr(), t.dtype, tuple(t.shape), t.stride())
        if key not in copies:
            copies[key] = t.to(self.device, non_blocking=True)
        return copies[key]

    @torch.inference_mode()
    def _score_batch(self, jobs: list[_Job], results: dict) -> Callable[[], None]:
        """Enqueue the scoring of every job of a batch; return the step that collects its values. On a GPU the
        values come back with asynchronous copies, so the caller enqueues the next batch before collecting this
        one: the GPU never waits for the host's bookkeeping, and jobs of a batch do not wait for each other."""
        gt_dev: dict[tuple[str, tuple[int, ...]], dict[str, torch.Tensor]] = {}
        copies: dict[tuple, torch.Tensor] = {}  # one device copy of a host tensor that scorers share
        gt_cache: dict[tuple[str, tuple[int, ...]], dict] = {}
        pending: list[tuple[_Job, dict[str, torch.Tensor]]] = []
        for job in jobs:
            s, res = job.scorer, results[job.method, job.scorer.name]
            for k, reason in job.failed:
                res.failed[k] = reason
            if not job.ok:
                continue
            ck = (s.name, job.key)
            values = None if self.timer.enabled else self.graphs.score(s, job.gt, job.pred, self.lpips)
            if values is None:
                if ck not in gt_dev:
                    gt_dev[ck] = {n: self._to_device(t, copies) for n, t in job.gt.items()}
                pr = {n: self._to_device(t) for n, t in job.pred.items()}
                values = s.score(gt_dev[ck], pr, self.lpips, gt_cache.setdefault(ck, {}), self.timer)
            pending.append((job, {n: v.double().to("cpu", non_blocking=True) for n, v in values.items()}))
        done = torch.cuda.Event() if self.device.type == "cuda" else None
        if done is not None:
            done.record()

        def collect() -> None:
            if done is not None:
                done.synchronize()
            for job, host in pending:
                self._record(job, {n: v.tolist() for n, v in host.items()}, results)

        return collect

    def _record(self, job: _Job, values: dict[str, list[float]], results: dict) -> None:
        s, res = job.scorer, results[job.method, job.scorer.name]
        for i, b in enumerate(job.ok):
            row = {n: values[n][i] for n in s.metrics if n in values}
            if "psnr" in row:
                row["psnr"] = cap_psnr(
                    row["psnr"]
                )  # an exact match: docs/METRICS.md "PSNR of an exact match"
            bad = [n for n, v in row.items() if not math.isfinite(v)]
            if bad:
                res.failed[b["k"]] = f"non-finite {', '.join(bad)} (empty ground-truth mask?)"
                continue
            if s.needs_keypoints and self.detector is not None:
                try:
                    row["keypoint"] = self._keypoint(s, b, job.method, res, self.detector, "keypoint")
                except _Dropped as exc:
                    res.dropped[b["k"]] = str(exc)
                    continue
            if "keypoint_dlib" in s.metrics and self.dlib is not None:
                row["keypoint_dlib"] = self._keypoint(s, b, job.method, res, self.dlib, "keypoint_dlib")
            res.frames[b["k"]] = row

    def _keypoint(
        self,
        s: Scorer,
        bundle: dict,
        method: str,
        res: SequenceResult,
        detector: KeypointDetector | DlibKeypointDetector,
        metric: str,
    ) -> float | None:
        k = bundle["k"]
        if bundle["kps"] is None:
            res.metric_failures.setdefault(k, {})[metric] = "no flame_keypoints (68x2) in flame_params.json"
            return None
        try:
            return detector.error(s.keypoint_image(bundle["rgb"][method]), s.keypoint_targets(bundle["kps"]))
        except NoFaceDetected as exc:
            if metric == "keypoint" and s.drops_frames_without_face:
                # the benchmark's `except: continue` (IMavatar metrics.py:239-242)
                raise _Dropped(f"{exc}: dropped from every metric, as the benchmark's metrics.py") from None
            res.metric_failures.setdefault(k, {})[metric] = str(exc)
            return None


def frame_means(result: SequenceResult, metrics: Sequence[str]) -> dict[str, float | None]:
    """Mean over the scored frames of each metric (None when no frame has a value)."""
    out: dict[str, float | None] = {}
    for n in metrics:
        vals = [r[n] for r in result.frames.values() if r.get(n) is not None]
        out[n] = float(np.mean(vals)) if vals else None
    return out
