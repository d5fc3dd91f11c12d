"""policytheme: label the paragraphs of industrial-policy documents by theme."""

__version__ = "0.1.0"
