"""The scoring engine: decode frames in a thread pool (one batch ahead, two on a GPU; predictions in worker processes
on GPU hosts), score batches with every scorer on the chosen device, and account for every expected frame (scored, or
failed with a reason).

One sequence is scored in these steps (:meth:`Engine.score`):

1. :meth:`~Engine._expect`: a result per (method, scorer); predictions that are missing are recorded at once.
2. :meth:`~Engine._open`: where the GT comes from (PNG, the GT cache frame by frame, or the GT cache in whole
   batches) and where predictions are decoded (threads, or worker processes).
3. :meth:`~Engine._load_batch` (read-ahead thread): decode every frame of a batch once (:class:`Frame`), prepare
   it for every scorer, and stack it per (scorer, method) into host tensors (:class:`ScorerBatch`).
4. :meth:`~Engine._score_batch` (scoring thread): copy to the device, ``Scorer.score`` (or a replayed CUDA graph),
   start copying the values back; :meth:`~Engine._record` files them (and the keypoint metrics) one batch later.
"""

from __future__ import annotations

import math
import os
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nesbench.errors import AssetError, NesbenchError
from nesbench.log import get_logger
from nesbench.metrics.engine.batch import Failure, Frame, ScorerBatch
from nesbench.metrics.engine.cuda_graphs import GraphedScoring
from nesbench.metrics.engine.decode_procs import DecodedBatch, ProcessDecoder
from nesbench.metrics.engine.device import resolve_device, usable_cores
from nesbench.metrics.engine.gt_cache import CachedSequence, GtCache
from nesbench.metrics.engine.prepare import channels_first, gt_arrays, pred_arrays, stack
from nesbench.metrics.engine.timing import StageTimer
from nesbench.metrics.frames import GtSequence, RawGt, gt_keypoints, load_gt_sequence, read_gt_frame
from nesbench.metrics.images import FrameError, read_rgb
from nesbench.metrics.keypoints import KeypointDetector, NoFaceDetected, load_detector
from nesbench.metrics.keypoints_dlib import DlibKeypointDetector, load_dlib_detector
from nesbench.metrics.lpips_alex import LpipsAlex
from nesbench.metrics.precision import full_float32
from nesbench.metrics.predictions import PredSource
from nesbench.metrics.psnr import cap_psnr
from nesbench.metrics.scorers import ScoreContext, Scorer

log = get_logger(__name__)

Results = dict[tuple[str, str], "SequenceResult"]  # (method, scorer name) -> result


@dataclass
class SequenceResult:
    """Per-frame values and failures of one (method, scorer) on one sequence."""

    expected: list[int]
    frames: dict[int, dict[str, float | None]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    metric_failures: dict[int, dict[str, str]] = field(default_factory=dict)
    # frames a scorer's rule leaves out of every metric (renderme-imavatar: FAN found no face), with the reason
    dropped: dict[int, str] = field(default_factory=dict)


@dataclass
class _Sources:
    """Where one sequence's frames come from: ``cached`` (its GT in the GT cache, or None), ``gt_in_batches``
    (cached GT read in whole batches), ``decoder`` (prediction worker processes, or None: the decode threads)."""

    cached: CachedSequence | None
    gt_in_batches: bool
    decoder: ProcessDecoder | None


class _Dropped(Exception):
    """The frame is dropped from every metric by the scorer's rule (the reason is the message)."""


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
        """``gt_cache``: keep decoded GT frames between runs (:mod:`~nesbench.metrics.engine.gt_cache`);
        ``cuda_graphs``: replay captured graphs for full batches on CUDA (:mod:`~nesbench.metrics.engine.cuda_graphs`);
        ``decode_processes``: decode predictions in that many worker processes
        (:mod:`~nesbench.metrics.engine.decode_procs`); None: see :meth:`_default_decode_processes`.
        ``fan_weights``: folder with face-alignment's weight files (:func:`nesbench.metrics.keypoints.fan_weights_dir`).
        """
        self.scorers = list(scorers)
        self.want_semantic = any(s.needs_semantic for s in self.scorers)
        sizes = {s.resolution for s in self.scorers}
        # the resolution every scorer evaluates at (None when they differ): frames of that size go to batch buffers
        self.resolution: int | None = sizes.pop() if len(sizes) == 1 else None
        self.gt_cache = gt_cache
        self.device = resolve_device(device)
        self.batch_size = batch_size or (32 if self.device.type == "cuda" else 8)
        self.workers = workers or max(2, min(32, usable_cores()))
        # batches decoded ahead of scoring: a GPU scores faster than the threads decode, so keep them all busy
        self.prefetch = prefetch or (2 if self.device.type == "cuda" else 1)
        self.timer = StageTimer(self.device, enabled=profile)
        self.processes_with_gt_cache_only = decode_processes is None
        self.decoder = self._decoder(decode_processes)
        self.unavailable: dict[str, dict[str, str]] = {s.name: {} for s in self.scorers}
        self.lpips = self._load_lpips(lpips_backbone, lpips_linear, missing_lpips)
        # full batches on CUDA: replay a captured graph of each scorer (nesbench.metrics.engine.cuda_graphs)
        self.graphs = GraphedScoring(self.device, self.batch_size, enabled=cuda_graphs)
        # scorer -> whether its face drop rule is applied ('applied' or 'not applied: <why>'); only scorers with one
        self.face_drop_rule: dict[str, str] = {}
        self.detector = self._load_fan(fan_weights)
        # the offline dlib 68-point error: its own metric, never mixed with FAN's (nesbench.metrics.keypoints_dlib)
        self.dlib = self._load_dlib()

    # ---- set-up -------------------------------------------------------------------------------------------------

    def _decoder(self, processes: int | None) -> ProcessDecoder | None:
        """Prediction decode worker processes. None given: one per decode thread for sequences whose GT comes from
        the GT cache, on a GPU with at least 8 cores (faster there; with GT PNGs to decode as well, threads were as
        fast: docs/PERFORMANCE.md), else none. Only when every scorer evaluates at the same resolution."""
        if processes is None:
            processes = self.workers if self.device.type == "cuda" and usable_cores() >= 8 else 0
        if processes < 0:
            raise NesbenchError(f"--decode-processes {processes}: give 0 (decode in threads) or more")
        if processes and self.resolution is not None:
            return ProcessDecoder(processes, pin=self.device.type == "cuda")
        return None

    def _load_lpips(
        self, backbone: str | os.PathLike[str] | None, linear: str | os.PathLike[str] | None, missing: str
    ) -> LpipsAlex | None:
        if not any("lpips" in s.metrics for s in self.scorers):
            return None
        try:
            return LpipsAlex(backbone, self.device, linear)
        except AssetError as exc:
            if missing == "error":
                raise
            self._mark_unavailable("lpips", f"unavailable: {exc}")
            return None

    def _load_fan(self, fan_weights: str | os.PathLike[str] | None) -> KeypointDetector | None:
        if not any(s.needs_keypoints for s in self.scorers):
            return None
        detector, reason = load_detector(str(self.device), fan_weights)
        if reason:
            self._mark_unavailable("keypoint", reason)
        for s in self.scorers:
            if s.drops_frames_without_face:
                self.face_drop_rule[s.name] = (
                    "applied"
                    if detector is not None
                    else "not applied: frames on which FAN finds no face are kept (the benchmark drops them "
                    f"from every metric); keypoints {reason}"
                )
        return detector

    def _load_dlib(self) -> DlibKeypointDetector | None:
        if not any("keypoint_dlib" in s.metrics for s in self.scorers):
            return None
        dlib, reason = load_dlib_detector()
        if reason:
            self._mark_unavailable("keypoint_dlib", reason)
        return dlib

    def _mark_unavailable(self, metric: str, reason: str) -> None:
        for s in self.scorers:
            if (metric == "keypoint" and s.needs_keypoints) or (metric != "keypoint" and metric in s.metrics):
                self.unavailable[s.name][metric] = reason

    def lpips_provenance(self) -> dict[str, Any] | None:
        """Which LPIPS backbone file was used and where its weights came from (None without LPIPS)."""
        if self.lpips is None:
            return None
        info = self.lpips.info
        return {"path": str(info.backbone), "sha256": info.backbone_sha256, **(info.source or {})}

    def close(self) -> None:
        """Stop the decode worker processes and free their shared memory (when used)."""
        if self.decoder is not None:
            self.decoder.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- one sequence ---------------------------------------------------------------------------------------------

    def score(
        self, gt_dir: Path, preds: dict[str, PredSource], progress: Callable[[int], None] | None = None
    ) -> Results:
        """Score every method's predictions of one GT sequence; result keyed by (method, scorer name).
        ``progress``: called with the number of frames of each batch whose values are recorded."""
        with full_float32(
            self.device
        ):  # SSIM and LPIPS convolutions without TF32 on CUDA, for this call only
            return self._score(gt_dir, preds, progress)

    def _score(
        self, gt_dir: Path, preds: dict[str, PredSource], progress: Callable[[int], None] | None = None
    ) -> Results:
        seq = load_gt_sequence(gt_dir)
        results = self._expect(seq, preds)
        live = {m: src for m, src in preds.items() if not src.error}
        batches = [
            seq.expected[i : i + self.batch_size] for i in range(0, len(seq.expected), self.batch_size)
        ]
        with ThreadPoolExecutor(self.workers) as pool, ThreadPoolExecutor(self.prefetch) as ahead:
            src = self._open(seq, live, pool)

            def load(i: int) -> tuple[list[Frame], list[ScorerBatch]]:
                return self._load_batch(seq, batches[i], i, live, src, pool)

            pending: deque[Future] = deque(
                ahead.submit(load, i) for i in range(min(self.prefetch, len(batches)))
            )
            collect_previous: Callable[[], None] | None = None
            previous_size = 0
            for i in range(len(batches)):
                with self.timer("wait"):
                    frames, work = pending.popleft().result()
                if i + self.prefetch < len(batches):
                    pending.append(ahead.submit(load, i + self.prefetch))
                with self.timer("score"):
                    collect = self._score_batch(work, results)  # enqueued; values collected one batch later
                    if collect_previous is not None:
                        collect_previous()
                if progress and collect_previous is not None:
                    progress(previous_size)
                collect_previous, previous_size = collect, len(frames)
            if collect_previous is not None:
                collect_previous()
                if progress:
                    progress(previous_size)
        return results

    def _expect(self, seq: GtSequence, preds: dict[str, PredSource]) -> Results:
        """Empty results per (method, scorer), with every frame that has no prediction already failed."""
        results = {(m, s.name): SequenceResult(seq.expected) for m in preds for s in self.scorers}
        for method, src in preds.items():
            for k in seq.expected:
                reason = src.error or (None if k in src.files else src.missing_reason(k))
                if reason:
                    for s in self.scorers:
                        results[method, s.name].failed[k] = reason
        return results

    def _open(self, seq: GtSequence, live: dict[str, PredSource], pool: ThreadPoolExecutor) -> _Sources:
        """Load (or build) the sequence's GT cache entry and reserve the worker processes' buffers."""
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
        return _Sources(cached, in_batches, decoder)

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
        log.info(f"decoding predictions in threads: {exc}; {fix}")
        self.decoder.close()
        self.decoder = None

    def _reads_gt_in_batches(self, cached: CachedSequence) -> bool:
        """Whether the GT of whole batches can be read from the cache into the batch buffers: the stored frames
        are square at every scorer's resolution, so no scorer resizes (its inputs are :meth:`Scorer.select_gt` of
        the stored arrays) and no frame can fail (a cached sequence has none that fail to decode)."""
        h, w = cached.image.shape[1:3]
        return h == w == self.resolution

    # ---- step 3: decode, prepare, stack (read-ahead thread) -------------------------------------------------------

    def _load_batch(
        self,
        seq: GtSequence,
        ks: list[int],
        i: int,
        live: dict[str, PredSource],
        src: _Sources,
        pool: ThreadPoolExecutor,
    ) -> tuple[list[Frame], list[ScorerBatch]]:
        """Batch number ``i`` (frames ``ks``): every frame decoded in the decode threads, then stacked."""
        gt_reads = self._read_gt_batch(src.cached, ks, pool) if src.gt_in_batches else None
        slots = self._pred_slots(len(ks), live, i, src.decoder)
        hosts = {m: t.numpy() for m, t in slots.items()}
        remote = None
        if src.decoder is not None and hosts:
            remote = src.decoder.submit(hosts, {m: [live[m].files.get(k) for k in ks] for m in live})

        def frame(j: int) -> Frame:
            rows = {m: h[j] for m, h in hosts.items()}
            return self._load_frame(seq, ks[j], live, src.cached, src.gt_in_batches, rows, remote, j)

        frames = list(pool.map(frame, range(len(ks))))
        gt_batch = {n: r() for n, r in gt_reads.items()} if gt_reads else None
        return frames, self._collate(frames, live, gt_batch, slots)

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
    ) -> Frame:
        """Decode GT frame k (or take it from the GT cache, or leave it to the batch read when ``gt_in_batch``)
        and each method's frame k once (into its row of ``pred_rows`` when given and of that size; or take it,
        frame j of the batch, from the worker processes' ``decoded``); prepare them for every scorer."""
        t0 = time.perf_counter()
        frame = Frame(k, gt_in_batch, pred={m: {} for m in preds})
        if gt_in_batch:
            frame.kps = gt_keypoints(seq, k)
        else:
            self._prepare_gt(frame, seq, cached)
        for m, src in preds.items():
            path = src.files.get(k)
            if path is not None:
                self._prepare_pred(frame, m, path, pred_rows.get(m) if pred_rows else None, decoded, j)
        if self.timer.enabled:
            self.timer.add("decode", time.perf_counter() - t0)
        return frame

    def _prepare_gt(self, frame: Frame, seq: GtSequence, cached: CachedSequence | None) -> None:
        raw: RawGt | None = None
        gt_error: Failure | None = None
        try:
            raw = (
                cached.raw(seq, frame.k)
                if cached is not None
                else read_gt_frame(seq, frame.k, self.want_semantic)
            )
            frame.kps = raw.keypoints
        except FrameError as exc:
            gt_error = Failure(f"ground truth: {exc}")
        for s in self.scorers:
            try:
                frame.gt[s.name] = gt_arrays(s, raw) if raw is not None else gt_error
            except FrameError as exc:
                frame.gt[s.name] = Failure(f"ground truth: {exc}")

    def _prepare_pred(
        self,
        frame: Frame,
        method: str,
        path: Path,
        row: np.ndarray | None,
        decoded: DecodedBatch | None,
        j: int,
    ) -> None:
        try:
            rgb = decoded.rgb(method, j, row) if decoded is not None else read_rgb(path, row)
            if rgb is row:
                frame.slot[method] = row
        except FrameError as exc:
            for s in self.scorers:
                frame.pred[method][s.name] = Failure(str(exc))
            return
        frame.rgb[method] = rgb if self.detector is not None or self.dlib is not None else None
        for s in self.scorers:
            try:
                frame.pred[method][s.name] = pred_arrays(s, rgb, path)
            except FrameError as exc:
                frame.pred[method][s.name] = Failure(str(exc))

    def _stack(self, arrays: list[np.ndarray], stacks: dict[tuple[int, ...], torch.Tensor]) -> torch.Tensor:
        """Frames of one component -> one B x ... host tensor (pinned when the device is a GPU, so that the
        host-to-device copy is asynchronous); the same frame arrays (scorers that need no resize share the
        decoded frames) are stacked once per batch: ``stacks``, keyed by the arrays' identities."""
        key = tuple(id(a) for a in arrays)
        if key not in stacks:
            stacks[key] = stack(arrays, pin_memory=self.device.type == "cuda")
        return stacks[key]

    def _collate(
        self,
        frames: list[Frame],
        preds: dict[str, PredSource],
        gt_batch: dict[str, torch.Tensor] | None = None,
        pred_slots: dict[str, torch.Tensor] | None = None,
    ) -> list[ScorerBatch]:
        """Per (scorer, method): the frames that can be scored and their stacked tensors (GT stacked once and
        shared by the methods with the same frames; taken from ``gt_batch``, the batch's cached GT components,
        when given; predictions that were decoded into ``pred_slots`` are taken from there). Runs in the
        read-ahead thread."""
        row_of = {f.k: j for j, f in enumerate(frames)}
        stacks: dict[tuple[int, ...], torch.Tensor] = {}  # one stack of the same frame arrays (see _stack)

        def rows(t: torch.Tensor, key: tuple[int, ...]) -> torch.Tensor:
            """The batch rows of frames ``key`` (B x H x W x C -> B' x C x H x W, channels_last)."""
            t = t if len(key) == len(frames) else t[torch.tensor([row_of[k] for k in key])]
            return t.permute(0, 3, 1, 2)

        work = []
        for s in self.scorers:
            if gt_batch is not None:
                inputs = s.select_gt(gt_batch["image"], gt_batch["mask"], gt_batch.get("semantic"))
            gt_stacks: dict[tuple[int, ...], dict[str, torch.Tensor]] = {}
            for m in preds:
                ok: list[Frame] = []
                failed: list[tuple[int, str]] = []
                for f in frames:
                    if s.name not in f.pred[m]:
                        continue  # no prediction: already recorded as missing
                    why = f.failure(s.name, m)
                    if why is not None:
                        failed.append((f.k, why.reason))
                    else:
                        ok.append(f)
                key = tuple(f.k for f in ok)
                if ok and key not in gt_stacks and gt_batch is not None:
                    gt_stacks[key] = {n: rows(t, key) for n, t in inputs.items()}
                elif ok and key not in gt_stacks:
                    comps = {n: self._stack([f.gt[s.name][n] for f in ok], stacks) for n in ok[0].gt[s.name]}
                    selected = s.select_gt(comps["image"], comps["mask"], comps.get("semantic"))
                    gt_stacks[key] = channels_first(selected)
                pr = {}
                for n in ok[0].pred[m][s.name] if ok else ():
                    arrays = [f.pred[m][s.name][n] for f in ok]
                    in_slot = all(a is f.slot.get(m) for a, f in zip(arrays, ok, strict=True))
                    pr[n] = (
                        rows(pred_slots[m], key)
                        if in_slot
                        else self._stack(arrays, stacks).permute(0, 3, 1, 2)
                    )
                work.append(ScorerBatch(s, m, ok, failed, key, gt_stacks.get(key, {}), pr))
        return work

    # ---- step 4: score and record (scoring thread) ----------------------------------------------------------------

    def _to_device(self, t: torch.Tensor, copies: dict[tuple, torch.Tensor] | None = None) -> torch.Tensor:
        """``t`` on the scoring device; with ``copies``, a view of the same host memory is copied only once."""
        if copies is None:
            return t.to(self.device, non_blocking=True)
        key = (t.data_ptr(), t.dtype, tuple(t.shape), t.stride())
        if key not in copies:
            copies[key] = t.to(self.device, non_blocking=True)
        return copies[key]

    @torch.inference_mode()
    def _score_batch(self, work: list[ScorerBatch], results: Results) -> Callable[[], None]:
        """Enqueue the scoring of every unit of a batch; return the step that collects its values. On a GPU the
        values come back with asynchronous copies, so the caller enqueues the next batch before collecting this
        one: the GPU never waits for the host's bookkeeping, and units of a batch do not wait for each other."""
        gt_dev: dict[tuple[str, tuple[int, ...]], dict[str, torch.Tensor]] = {}
        copies: dict[tuple, torch.Tensor] = {}  # one device copy of a host tensor that scorers share
        memos: dict[tuple[str, tuple[int, ...]], dict] = {}  # per (scorer, GT frames): the ScoreContext memo
        pending: list[tuple[ScorerBatch, dict[str, torch.Tensor]]] = []
        for unit in work:
            s, res = unit.scorer, results[unit.method, unit.scorer.name]
            for k, reason in unit.failed:
                res.failed[k] = reason
            if not unit.ok:
                continue
            ck = (s.name, unit.key)
            values = None if self.timer.enabled else self.graphs.score(s, unit.gt, unit.pred, self.lpips)
            if values is None:
                if ck not in gt_dev:
                    gt_dev[ck] = {n: self._to_device(t, copies) for n, t in unit.gt.items()}
                pr = {n: self._to_device(t) for n, t in unit.pred.items()}
                ctx = ScoreContext(self.lpips, memos.setdefault(ck, {}), self.timer)
                values = s.score(gt_dev[ck], pr, ctx)
            pending.append((unit, {n: v.double().to("cpu", non_blocking=True) for n, v in values.items()}))
        done = torch.cuda.Event() if self.device.type == "cuda" else None
        if done is not None:
            done.record()

        def collect() -> None:
            if done is not None:
                done.synchronize()
            for unit, host in pending:
                self._record(unit, {n: v.tolist() for n, v in host.items()}, results)

        return collect

    def _record(self, unit: ScorerBatch, values: dict[str, list[float]], results: Results) -> None:
        s, res = unit.scorer, results[unit.method, unit.scorer.name]
        for i, f in enumerate(unit.ok):
            row = {n: values[n][i] for n in s.metrics if n in values}
            if "psnr" in row:
                row["psnr"] = cap_psnr(
                    row["psnr"]
                )  # an exact match: docs/METRICS.md "PSNR of an exact match"
            bad = [n for n, v in row.items() if not math.isfinite(v)]
            if bad:
                res.failed[f.k] = f"non-finite {', '.join(bad)} (empty ground-truth mask?)"
                continue
            if s.needs_keypoints and self.detector is not None:
                try:
                    row["keypoint"] = self._keypoint(s, f, unit.method, res, self.detector, "keypoint")
                except _Dropped as exc:
                    res.dropped[f.k] = str(exc)
                    continue
            if "keypoint_dlib" in s.metrics and self.dlib is not None:
                row["keypoint_dlib"] = self._keypoint(s, f, unit.method, res, self.dlib, "keypoint_dlib")
            res.frames[f.k] = row

    def _keypoint(
        self,
        s: Scorer,
        frame: Frame,
        method: str,
        res: SequenceResult,
        detector: KeypointDetector | DlibKeypointDetector,
        metric: str,
    ) -> float | None:
        if frame.kps is None:
            res.metric_failures.setdefault(frame.k, {})[metric] = (
                "no flame_keypoints (68x2) in flame_params.json"
            )
            return None
        try:
            return detector.error(s.keypoint_image(frame.rgb[method]), s.keypoint_targets(frame.kps))
        except NoFaceDetected as exc:
            if metric == "keypoint" and s.drops_frames_without_face:
                # the benchmark's `except: continue` (IMavatar metrics.py:239-242)
                raise _Dropped(f"{exc}: dropped from every metric, as the benchmark's metrics.py") from None
            res.metric_failures.setdefault(frame.k, {})[metric] = str(exc)
            return None


def frame_means(result: SequenceResult, metrics: Sequence[str]) -> dict[str, float | None]:
    """Mean over the scored frames of each metric (None when no frame has a value)."""
    out: dict[str, float | None] = {}
    for n in metrics:
        vals = [r[n] for r in result.frames.values() if r.get(n) is not None]
        out[n] = float(np.mean(vals)) if vals else None
    return out
