"""Load Rasa's TensorFlow models (DIET, TED) without tracing a training step.

Runs in Rasa's environment. Rasa 3.6's ``RasaModel.load`` builds each model by
*training it on one example* (``model.fit``) and only then loads the saved weights
over it: TensorFlow traces the whole training graph (loss, gradients, optimizer) just
to create the variables. That was two thirds of Rasa's start-up (about 45 of 68 s on
a loaded 2-core machine), paid on every start, every restart after a crash and by
every extra worker.

The fast path reads the checkpoint first and then runs one inference on the example
Rasa already passes for warming up: TensorFlow restores each variable the moment a
layer creates it (deferred restoration). ``assert_existing_objects_matched`` then
checks that every variable inference created came from the checkpoint; if that or
anything else fails, Rasa's own load runs instead, so the worst case is the old
start-up time, never a model with untrained weights. Fine-tuning (``rasa train
--finetune``) and calls without a warm-up example keep Rasa's path.
tests/rasa/test_model_loading.py checks both paths predict the same.
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)

#: Rasa's own ``RasaModel.load`` while the fast path is installed.
_original: Any = None


def install() -> None:
    """Replace ``RasaModel.load`` with the fast path (idempotent)."""
    global _original
    if _original is not None:
        return
    from rasa.utils.tensorflow.models import RasaModel

    original = RasaModel.load.__func__  # type: ignore[attr-defined]

    def load(
        cls: Any,
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if not finetune_mode and predict_data_example is not None:
            try:
                model = cls(*args, **kwargs)
                status = model.load_weights(model_file_name)
                model.run_inference(predict_data_example)
                status.assert_existing_objects_matched()
                status.expect_partial()  # optimizer state: only training needs it
                return model
            except Exception:  # any surprise: Rasa's own, slower load
                logger.warning("fast model load failed; using Rasa's load", exc_info=True)
        return original(
            cls, model_file_name, model_data_example, predict_data_example, finetune_mode, *args, **kwargs
        )

    RasaModel.load = classmethod(load)  # type: ignore[method-assign, assignment]
    _original = original


def uninstall() -> None:
    """Back to Rasa's own load (the test compares the two)."""
    global _original
    if _original is None:
        return
    from rasa.utils.tensorflow.models import RasaModel

    RasaModel.load = classmethod(_original)  # type: ignore[method-assign, assignment]
    _original = None
