"""Library chatter kept out of the terminal: shared by the transformer, its fine-tuning and pretraining, so
that neither imports the other for it."""

from __future__ import annotations

import os


def quiet_libraries() -> None:
    """Keep library chatter (weight-loading reports and bars, advice a user cannot act on) out of the terminal.

    ``POLICYTHEME_VERBOSE=1`` (``policytheme --verbose``) leaves the libraries' own settings alone.
    """
    if os.environ.get("POLICYTHEME_VERBOSE") == "1":
        return
    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    datasets.utils.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def quiet_trainer(trainer, progress: bool) -> None:
    """A Trainer that shows one progress bar and no raw log dicts (``{'loss': ...}``) on the terminal."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    class Progress(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):  # the bar, not the dicts
            return

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if progress and os.environ.get("POLICYTHEME_VERBOSE") != "1":
        trainer.add_callback(Progress())
    elif progress:
        trainer.add_callback(ProgressCallback())
