"""The one training loop of resdepth: train specs on a backend, committing each run to the store.

``validate``, ``experiment depth-scaling`` and anything else that trains a list of
:class:`~resdepth.engine.registry.RunSpec` call :func:`train_into_store`. Each run is committed
to ``results.sqlite`` the moment it finishes (a run whose loss went non-finite is stored as
``diverged`` by the train function), so an interrupted sweep loses no finished run; a run whose
training raised is reported on stderr and returned in the errors, never stored.
"""

import sys

from tqdm import tqdm

from resdepth.engine.errors import exception_text
from resdepth.engine.store import DB_NAME, Store
from resdepth.engine.sweep import describe

__all__ = ["train_into_store"]


def train_into_store(todo, backend, device: str, train, store: Store, *, desc: str,
                     progress: bool = True, resume_hint: str = "--resume",
                     errors: dict[str, str] | None = None) -> dict[str, str]:
    """Train ``todo`` on ``backend`` with ``train(spec, device)``, committing each run to ``store``.

    Returns ``errors`` (created when None), which receives ``key -> "Type: message"`` for every
    run whose training raised. On Ctrl-C the backend is closed (what has not started is
    cancelled), the count of saved runs and how to continue (``resume_hint``) are printed, and
    the interrupt propagates.
    """
    errors = {} if errors is None else errors
    if not todo:
        return errors
    bar = tqdm(total=len(todo), desc=desc, unit="run", disable=not progress)
    runs = backend.run(todo, device, train)
    try:
        for spec, outcome in runs:
            if isinstance(outcome, BaseException):
                errors[spec.key()] = exception_text(outcome)
                tqdm.write(f"training {describe(spec)} raised {errors[spec.key()]}", file=sys.stderr)
            else:
                store.save_run(outcome)
            bar.set_postfix_str(describe(spec), refresh=False)
            bar.update(1)
    except KeyboardInterrupt:
        runs.close()  # cancels what has not started, stops the workers
        bar.close()
        done = len(store.finished_keys())
        tqdm.write(f"interrupted: {done} finished training runs are saved in "
                   f"{store.path.parent / DB_NAME}; continue with: {resume_hint}", file=sys.stderr)
        raise
    bar.close()
    return errors
