"""Haven: a case registry and alert network for transnational repression."""

__version__ = "0.1.0"
