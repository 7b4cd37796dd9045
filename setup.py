"""The compiled parts: the XML walk and the JSON byte scan (decp_monitor/parse/_xmlwalk.c,
_jsonscan.c). Everything else is in pyproject.toml."""
from setuptools import Extension, setup

FLAGS = ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
setup(ext_modules=[Extension(f"decp_monitor.parse.{name}", [f"decp_monitor/parse/{name}.c"], extra_compile_args=FLAGS)
                   for name in ("_xmlwalk", "_jsonscan")])
