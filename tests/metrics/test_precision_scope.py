"""Full-float32 CUDA convolutions are a scoped setting: nothing flips the process-wide TF32 flags for good."""

import torch

from nesbench.metrics.precision import full_float32


def _flags() -> tuple[bool, bool]:
    return torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32


def test_full_float32_holds_only_inside_the_block_and_restores_the_callers_choice():
    saved = _flags()
    try:
        for before in ((True, True), (True, False)):
            torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
            with full_float32(torch.device("cuda")):
                assert _flags() == (False, False)
            assert _flags() == before
            with full_float32("cpu"):  # the CPU has no TF32: nothing to change
                assert _flags() == before
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def test_the_engine_switches_precision_per_score_call_not_in_its_constructor(mx, monkeypatch):
    """Engine.__init__ enters no precision scope; Engine.score runs its whole body inside full_float32(device)."""
    from contextlib import contextmanager

    import nesbench.metrics.engine.core as core
    from nesbench.metrics.registry import get_scorer

    events = []

    @contextmanager
    def recorder(device):
        events.append(("enter", str(device)))
        yield
        events.append(("exit", str(device)))

    monkeypatch.setattr(core, "full_float32", recorder)
    with core.Engine([get_scorer("unified", resolution=64)], device="cpu", lpips_backbone=mx.STUB) as engine:
        assert events == []
        monkeypatch.setattr(engine, "_score", lambda *a, **k: events.append(("body", "")) or {})
        assert engine.score(mx.STUB.parent, {}) == {}
    assert events == [("enter", "cpu"), ("body", ""), ("exit", "cpu")]


# the one explicit opt-in that sets the flags for a whole process: the upstream runners' $NESBENCH_TF32 (issue 18),
# applied by the runner's main in its own process, never by a constructor
OPT_IN = {("nesbench/upstream/speed.py", "configure")}


def test_no_code_of_ours_sets_tf32_flags_outside_a_restoring_scope():
    """Every assignment to a ``torch.backends...allow_tf32`` flag in the package, the overlays and the scripts sits in
    a function that restores the caller's value in a ``finally`` (precision.full_float32, conv2d_split_tf32), or in
    the documented opt-in :data:`OPT_IN`."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = [
        p
        for folder in ("nesbench", "novel_expression_synthesis", "scripts")
        for p in (root / folder).rglob("*.py")
        if "__pycache__" not in p.parts
    ]
    offenders, scoped = [], []
    for path in files:
        tree = ast.parse(path.read_text(), str(path))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else []
            flat = [e for t in targets for e in (t.elts if isinstance(t, ast.Tuple) else [t])]
            if any(isinstance(t, ast.Attribute) and t.attr == "allow_tf32" for t in flat):
                up = node
                while up in parents and not isinstance(up, ast.FunctionDef):
                    up = parents[up]
                fn = up if isinstance(up, ast.FunctionDef) else None
                restores = fn is not None and any(
                    isinstance(t, ast.Try) and t.finalbody for t in ast.walk(fn)
                )
                where = f"{path.relative_to(root)}:{node.lineno}"
                opted_in = fn is not None and (str(path.relative_to(root)), fn.name) in OPT_IN
                (scoped if restores or opted_in else offenders).append(where)
            call = node.func if isinstance(node, ast.Call) else None
            if isinstance(call, ast.Attribute) and call.attr == "set_float32_matmul_precision":
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == [], offenders
    assert any(w.startswith("nesbench/metrics/precision.py") for w in scoped)  # the check sees the real ones
