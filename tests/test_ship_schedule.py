"""The model cards' learning-rate schedule, read from the training scripts by scripts/ship_weights.py ``_schedule``:
each ``train --steps N --milestones …`` line resumes the run, and a second ``OUT=`` line starts a new run."""

from pathlib import Path

from tests.conftest import load_script

ROOT = Path(__file__).resolve().parents[1]


def schedule(script: Path) -> str:
    return load_script("ship_weights")._schedule(1e-4, 0.1, str(script))


def schedule_of(tmp_path: Path, text: str) -> str:
    """The schedule of a training script with these lines."""
    script = tmp_path / "train.sh"
    script.write_text(text)
    return schedule(script)


def test_stages_of_one_run(tmp_path: Path) -> None:
    text = ("train --steps 100 --milestones 80\ntrain --steps 150 --milestones 80\n"
            "train --steps 300 --milestones 250 --precision fp32\n")
    assert schedule_of(tmp_path, text) == (
        "steps 0–100: lr 0.0001 × 0.1 at 80; then steps 100–150: lr 1e-05; "
        "then (restart) steps 150–300: lr 0.0001 × 0.1 at 250")


def test_a_second_out_line_starts_a_new_run_from_step_zero(tmp_path: Path) -> None:
    text = ('OUT=$RUN SEED=5\ntrain --steps 100 --milestones 80\n'
            'OUT=${RUN}_b INIT=$RUN/generator.safetensors\ntrain --steps 50 --milestones 30\n'
            'train --steps 90 --milestones 70\n')
    assert schedule_of(tmp_path, text) == (
        "steps 0–100: lr 0.0001 × 0.1 at 80; then a new run from that generator (its own Adam state): steps 0–50: "
        "lr 0.0001 × 0.1 at 30; then (restart) steps 50–90: lr 0.0001 × 0.1 at 70")


def test_the_shipped_real_x4_script_ends_with_its_new_runs() -> None:
    text = schedule(ROOT / "scripts" / "train_shipped_real.sh")
    first, second, third = text.split("; then a new run from that generator (its own Adam state): ")
    assert first.startswith("steps 0–11355:") and first.endswith("steps 22699–28380: lr 0.0001 × 0.1 at 27200")
    assert second.startswith("steps 0–5000:") and second.endswith("steps 5000–7600: lr 0.0001 × 0.1 at 6600")
    assert third == "steps 0–1975: lr 1e-05"


def test_a_stage_with_its_own_lr_starts_from_it(tmp_path: Path) -> None:
    text = ('OUT=$RUN\ntrain --steps 100 --milestones 80\n'
            'OUT=${RUN}_b INIT=$RUN/generator.safetensors\ntrain --steps 40 --milestones 100000 --lr 1e-5\n')
    assert schedule_of(tmp_path, text) == (
        "steps 0–100: lr 0.0001 × 0.1 at 80; then a new run from that generator (its own Adam state): steps 0–40: "
        "lr 1e-05")
