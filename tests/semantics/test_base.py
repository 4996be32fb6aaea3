"""The encoder interface every semantic encoder keeps: the run context (seed, device, progress),
save / load of learned state, no library warnings reaching the user."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kgzsl.context import RunContext
from kgzsl.knowledge.store import KnowledgeGraph
from kgzsl.registry import SEMANTICS
from kgzsl.testing import toy_dataset, write_toy_kg

#: small settings of the encoders that learn (none sets seed or device: the context's apply)
TRAINABLE = {
    "kge": {"dim": 8, "epochs": 6, "eval_every": 3},
    "rgcn": {"hidden": 8, "epochs": 4, "eval_every": 2},
    "ontozsl": {"dim": 8, "mapping": 4, "kge_epochs": 4, "epochs": 3},
}


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> tuple[KnowledgeGraph, object]:
    return KnowledgeGraph.from_files(write_toy_kg(tmp_path_factory.mktemp("kg") / "toy.ttl")), toy_dataset()


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_the_context_seed_reaches_the_encoder_and_its_own_seed_wins(name, toy):
    kg, ds = toy
    quiet = RunContext(seed=0, device="cpu", progress=False)

    def encode(ctx: RunContext, **own) -> np.ndarray:
        return SEMANTICS.build(name, **TRAINABLE[name], **own).encode(kg, ds, context=ctx).matrix

    a, b = encode(quiet), encode(quiet)
    np.testing.assert_array_equal(a, b)  # same seed, same numbers
    other = encode(quiet.with_(seed=1))
    assert not np.allclose(a, other)  # the run's seed changes the embeddings
    np.testing.assert_array_equal(encode(quiet.with_(seed=1), seed=0), a)  # an explicit seed wins


@pytest.mark.parametrize("name", sorted(TRAINABLE) + ["sentence"])
def test_a_cpu_context_keeps_the_work_on_the_cpu(name, toy, monkeypatch):
    import kgzsl.context
    import kgzsl.utils

    kg, ds = toy
    resolved: list[str] = []
    real = kgzsl.context._resolve

    def as_if_cuda(device: str = "auto") -> torch.device:
        # "auto" picks CUDA, as on a GPU machine (this one has none: using it raises)
        out = torch.device("cuda") if device == "auto" else real(device)
        resolved.append(out.type)
        return out

    monkeypatch.setattr(kgzsl.context, "_resolve", as_if_cuda)
    monkeypatch.setattr(kgzsl.utils, "resolve_device", as_if_cuda)
    params = TRAINABLE.get(name, {})
    emb = SEMANTICS.build(name, **params).encode(kg, ds, context=RunContext(device="cpu", progress=False))
    assert np.isfinite(emb.matrix).all()
    assert resolved and set(resolved) == {"cpu"}
    if not torch.cuda.is_available():
        # the check can fail: the same encoder under an "auto" context does reach for CUDA
        with pytest.raises((RuntimeError, AssertionError)):
            SEMANTICS.build(name, **params).encode(kg, ds, context=RunContext(device="auto", progress=False))
        assert "cuda" in resolved


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_progress_off_silences_every_bar(name, toy, capsys):
    kg, ds = toy
    capsys.readouterr()
    SEMANTICS.build(name, **TRAINABLE[name]).encode(kg, ds, context=RunContext(device="cpu", progress=False))
    assert capsys.readouterr().err == ""
    # with progress on, the same encoder draws bars (on stderr)
    SEMANTICS.build(name, **TRAINABLE[name]).encode(kg, ds, context=RunContext(device="cpu", progress=True))
    assert "epoch" in capsys.readouterr().err


def test_the_active_context_applies_when_none_is_passed(toy, capsys):
    kg, ds = toy
    enc = SEMANTICS.build("kge", **TRAINABLE["kge"])
    with RunContext(seed=3, device="cpu", progress=False).activate():
        a = enc.encode(kg, ds).matrix
    assert capsys.readouterr().err == ""
    b = SEMANTICS.build("kge", **TRAINABLE["kge"]).encode(
        kg, ds, context=RunContext(seed=3, device="cpu", progress=False)
    )
    np.testing.assert_array_equal(a, b.matrix)


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_a_trained_encoder_saves_and_loads(name, toy, tmp_path: Path):
    kg, ds = toy
    enc = SEMANTICS.build(name, **TRAINABLE[name])
    enc.encode(kg, ds, context=RunContext(device="cpu", progress=False))
    enc.save(tmp_path / "encoder.pt", class_ids=list(ds.class_ids))
    loaded = SEMANTICS.get(name).load(tmp_path / "encoder.pt")
    assert type(loaded) is type(enc) and loaded.get_params() == enc.get_params()
    state, again = enc.state_dict(), loaded.state_dict()
    assert set(state) == set(again) and "metrics_" in state
    for key, value in state.items():
        if isinstance(value, torch.nn.Module):
            mine, theirs = value.state_dict(), again[key].state_dict()
            assert set(mine) == set(theirs)
            for k in mine:
                torch.testing.assert_close(theirs[k].cpu(), mine[k].cpu(), rtol=0, atol=0)
        elif isinstance(value, (np.ndarray, torch.Tensor)):
            np.testing.assert_array_equal(np.asarray(again[key]), np.asarray(value))
        else:
            assert again[key] == value, key


def test_no_torch_jit_warning_reaches_the_user(toy_kg_file: Path):
    # a fresh interpreter, FutureWarnings as errors: the torch_geometric import the encoders
    # trigger must not leak its torch.jit deprecation warning
    code = (
        "import sys; from kgzsl.knowledge.store import KnowledgeGraph; from kgzsl.testing import toy_dataset;"
        "from kgzsl.context import RunContext;"
        "from kgzsl.semantics.kge import KGEmbedding; from kgzsl.semantics.rgcn import build_rgcn_model;"
        f"kg = KnowledgeGraph.from_files({str(toy_kg_file)!r});"
        "KGEmbedding(dim=4, epochs=1).encode(kg, toy_dataset(), context=RunContext(device='cpu', progress=False));"
        "build_rgcn_model(5, 2, hidden=4)"
    )
    env = {**os.environ, "PYTHONWARNINGS": "error::FutureWarning"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "FutureWarning" not in done.stderr
