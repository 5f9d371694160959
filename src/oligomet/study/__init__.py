"""study layer: studies as code (protocol file → cohort → analyses → report).

* :func:`load_protocol` / :class:`Protocol`: TOML or YAML protocol, validated (pydantic v2);
* :func:`run_study`: runs it and optionally writes the report folder;
* :class:`ProtocolError` / :class:`StudyError`: bad protocol / protocol that does not fit the data.
"""
from .cohort import StudyError
from .protocol import Protocol
from .protocol_source import ProtocolError
from .protocol_source import load as load_protocol
from .run import Study, run_study

__all__ = ["Protocol", "ProtocolError", "StudyError", "Study", "load_protocol", "run_study"]
