"""policytheme: label the paragraphs of industrial-policy documents by theme.

    import policytheme
    model = policytheme.load()          # the default model; or an installed name, a run or model folder
    model.label(["加大研发投入。"])       # a DataFrame: text, labels, one score column per theme

The stages are subpackages: ``policytheme.data`` (reading and the shipped data), ``policytheme.models``,
``policytheme.train``, ``policytheme.eval``, ``policytheme.label`` (batch labeling and annotation).
"""

__version__ = "0.1.0"
__all__ = ["Model", "fit", "label_files", "load"]


def __getattr__(name: str):
    """The API (``policytheme.api``), imported on first use so that the command starts fast."""
    if name in __all__:
        from policytheme import api

        return getattr(api, name)
    raise AttributeError(f"module 'policytheme' has no attribute {name!r}")
