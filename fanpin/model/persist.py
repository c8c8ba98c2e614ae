"""Saving and loading the trained model, tied to its database."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy.engine import Engine

from fanpin import store
from fanpin.model.features import FEATURES, ModelError
from fanpin.model.train import RiskModel
from fanpin.store.engine import PROJECT_ROOT

MODEL_FILE = "risk_model.joblib"


# --------------------------------------------------------------------------- persistence
def model_dir() -> Path:
    """``FANPIN_MODEL_DIR`` or data/models (git-ignored with the rest of data/)."""
    return Path(os.environ.get("FANPIN_MODEL_DIR") or PROJECT_ROOT / "data" / "models")


def save_model(model: RiskModel, directory: Path | str | None = None) -> Path:
    """Write the model and a readable copy of its metadata next to it."""
    import joblib

    d = Path(directory) if directory else model_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / MODEL_FILE
    tmp = path.with_suffix(".tmp")
    blob = {"meta": model.meta, "hgb": model.hgb, "logit": model.logit, "evaluation": model.evaluation, "importance": model.importance, "backtest": model.backtest}
    joblib.dump(blob, tmp)
    tmp.replace(path)
    (d / "risk_model.json").write_text(json.dumps(model.meta, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return path


def load_model(engine: Engine | None = None, directory: Path | str | None = None) -> RiskModel:
    """Reload the saved model; refuse one built for another schema or feature list, or (given the
    engine) trained on another database: its probabilities would describe other households."""
    import joblib

    path = (Path(directory) if directory else model_dir()) / MODEL_FILE
    if not path.exists():
        raise ModelError(f"no trained model at {path}: train one on the model page or with `fanpin train`", "no_model")
    blob = joblib.load(path)
    meta = blob["meta"]
    if list(meta.get("features", [])) != list(FEATURES):
        raise ModelError("the saved model was trained on a different feature list than this version of fanpin computes; retrain it", "features")
    head = store.head_revision()
    if meta.get("schema_head") != head:
        raise ModelError(f"the saved model was trained on database schema {meta.get('schema_head')!r}, this version expects {head!r}; retrain it", "schema")
    if engine is not None and meta.get("database_id") != store.database_id(engine):
        raise ModelError(
            f"the saved model was trained on another database ({meta.get('database', '?')}), not this one; retrain it here "
            "(the model page or `fanpin train`)",
            "other_database",
        )
    if "backtest" not in blob:
        raise ModelError("the saved model has no backtest (it was trained by an older version of fanpin); retrain it", "old")
    return RiskModel(blob["hgb"], blob["logit"], meta, blob["evaluation"], blob["importance"], blob["backtest"])


def is_stale(model: RiskModel, engine: Engine) -> bool:
    """Whether the data changed since training (the model still loads; the page says so)."""
    return model.meta.get("data_version") != store.data_version(engine)
