"""The subcommands of ``policytheme``: a parser builder and a thin function each (see ``policytheme.cli``)."""
