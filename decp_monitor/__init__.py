"""decp-monitor: who publishes the essential data of public contracts on time, buyer by buyer."""

__version__ = "0.1.0"
