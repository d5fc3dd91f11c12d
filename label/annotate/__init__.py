"""Label your own paragraphs with a model in the loop: a local page, active learning, nothing ever lost.

Three parts, the way small-text separates them: the pool and the answers (``session.py``: ``Session``), the
query strategy that picks the next paragraph from the model's scores (``models/active.py``), and the page
with its server (``server.py`` and ``page.html``). The conventions of a session on disk (where retrained
models go, which model suggests) and the retraining itself live at the top, in ``policytheme.annotating``,
since retraining trains.
"""

from policytheme.label.annotate.server import default_port, serve
from policytheme.label.annotate.session import Session, is_heading, readable

__all__ = ["Session", "default_port", "is_heading", "readable", "serve"]
